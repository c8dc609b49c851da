/*
 * adaround.h — AdaRound soft rounding of weights (Nagel et al. 2020), as used inside BRECQ.
 *
 * A weight w of output channel c with frozen scale s[c] and zero point z[c] (from the MSE range
 * init of quant.h) is written as floor(w/s) + h(alpha), where h is the rectified sigmoid
 *     h(a) = clamp(sigmoid(a) * (zeta - gamma) + gamma, 0, 1),   zeta = 1.1, gamma = -0.1,
 * and alpha is learned. The soft (differentiable) dequantized weight is
 *     w_soft = (clamp(wf + h(alpha) + z, 0, qmax) - z) * s,      wf = floor(w/s)
 * and at the end the rounding is hardened: q = clamp(wf + [alpha >= 0] + z, 0, qmax).
 * The regulariser lambda * sum(1 - |2h - 1|^beta) pushes every h to 0 or 1; beta anneals linearly
 * from beta_start to beta_end after a warm-up fraction of the iterations, during which the
 * regulariser is off.
 *
 * Layout: weights are (cout, per_out) row-major (conv: per_out = Cin/g*Kh*Kw), one scale and one
 * zero point per output channel. wf is precomputed once (bq_adaround_init) so the per-iteration
 * forward is one pass of sigmoid + clamp. Backward ADDS into dalpha.
 *
 * Example:
 *   bq_adaround_init(wf, alpha, w, s, cout, per_out);            // h(alpha) = frac(w/s)
 *   for (t...) {
 *       bq_adaround_forward(wsoft, alpha, wf, s, z, qmax, cout, per_out);
 *       ... forward/backward with wsoft, get dwsoft ...
 *       bq_adaround_backward(dalpha, dwsoft, alpha, wf, s, z, qmax, cout, per_out);
 *       float beta; int on = bq_adaround_beta(t, T, 0.2f, 20, 2, &beta);
 *       if (on) reg = bq_adaround_reg(dalpha, alpha, n, lambda, beta);
 *   }
 *   bq_adaround_harden(codes, alpha, wf, z, qmax, cout, per_out);
 */
#ifndef BQ_ADAROUND_H
#define BQ_ADAROUND_H
#include <stddef.h>
#include <stdint.h>

#define BQ_ADA_ZETA 1.1f
#define BQ_ADA_GAMMA (-0.1f)

/* Rectified sigmoid h(a) and its derivative dh/da (0 where the clamp is active). */
float bq_ada_h(float a);
float bq_ada_dh(float a);

/* wf (cout, per_out) = floor(w / s[c]); alpha = the value with h(alpha) = w/s - floor(w/s)
 * (the fractional part, clipped into (0,1) by a tiny margin so alpha stays finite).
 * A channel with s[c] <= 0 (all-zero channel) gets wf = 0 and alpha = -big (hard 0). */
void bq_adaround_init(float *wf, float *alpha, const float *w, const float *s, int cout,
                      int per_out);

/* wsoft (cout, per_out) = (clamp(wf + h(alpha) + z, 0, qmax) - z) * s. */
void bq_adaround_forward(float *wsoft, const float *alpha, const float *wf, const float *s,
                         const int32_t *z, int qmax, int cout, int per_out);
/* dalpha += dwsoft * s * h'(alpha) where the integer clamp is inactive (0 elsewhere). */
void bq_adaround_backward(float *dalpha, const float *dwsoft, const float *alpha, const float *wf,
                          const float *s, const int32_t *z, int qmax, int cout, int per_out);

/* Regulariser lambda * sum_i (1 - |2 h(alpha_i) - 1|^beta) over n values; its gradient is ADDED
 * into dalpha (dalpha may be NULL for the value only). Returns the regulariser (double sum). */
double bq_adaround_reg(float *dalpha, const float *alpha, size_t n, float lambda, float beta);

/* The beta schedule for iteration t of T (0-based): returns 0 (regulariser off) while
 * t < warmup * T, else 1 with *beta = end + (start - end) * (1 - (t - warmup*T) / ((1-warmup)*T)). */
int bq_adaround_beta(int t, int total, float warmup, float beta_start, float beta_end,
                     float *beta);

/* Hard rounding: codes (cout, per_out) = clamp(wf + [alpha >= 0] + z, 0, qmax). */
void bq_adaround_harden(int32_t *codes, const float *alpha, const float *wf, const int32_t *z,
                        int qmax, int cout, int per_out);

/* The fused per-iteration pair used by the reconstruction loop (one sigmoid per weight per
 * iteration instead of five, vectorised gradient, channels on the threads of parallel.h):
 * bq_adaround_forward_sg is bq_adaround_forward that also stores sg = sigmoid(alpha);
 * bq_adaround_grad WRITES dalpha = the bq_adaround_backward term + (reg_on ? the regulariser
 * gradient : 0) from that sg, bit for bit as the separate calls compute them, and returns the
 * regulariser (0 when off; summed per channel into reg_scratch[cout], then in channel order). */
void bq_adaround_forward_sg(float *wsoft, float *sg, const float *alpha, const float *wf,
                            const float *s, const int32_t *z, int qmax, int cout, int per_out);
double bq_adaround_grad(float *dalpha, const float *dwsoft, const float *sg, const float *wf,
                        const float *s, const int32_t *z, int qmax, int cout, int per_out,
                        int reg_on, float lambda, float beta, double *reg_scratch);

/* Fraction of values whose soft rounding h(alpha) is not yet within eps of 0 or 1 (a progress
 * indicator: it should fall to ~0 by the end of the schedule). */
double bq_adaround_undecided(const float *alpha, size_t n, float eps);

#endif
