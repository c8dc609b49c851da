/*
 * fisher.h — the reconstruction loss of BRECQ (plain Lp or Fisher-diagonal weighted) and the
 * per-sample Fisher information at a block output.
 *
 * Loss over a block output of shape (N, C, HW) (a linear layer is C features, HW = 1):
 *     L = 1/(N*HW) * sum_{n,c,p} w[n,c,p] * |yhat - y|^pw
 * with w = 1 (MSE / Lp, pw = 2 or 2.4) or w = the Fisher weight of that element (pw = 2).
 *
 * The Fisher weight comes from g = dKL(softmax(fp_logits) || softmax(q_logits)) / d(block output),
 * per sample, computed by a real backward pass through the rest of the (fake-quantized) network
 * (bq_fisher_output_grad). How g becomes a weight is the only free choice; three modes:
 *   BQ_FISHER_NORM  (ours, default)  w = (1 - d) * g^2 / mean(g^2) + d
 *       mean over every element of the calibration set at this block output, damping d in [0, 1]
 *       (default 0.1). Dividing by the mean makes the weight scale-free: the raw g^2 shrinks as
 *       the quantized network approaches the FP one (KL gradients vanish at q = fp), so without
 *       normalisation the balance against the AdaRound regulariser (lambda) would depend on how
 *       good the preceding blocks already are. The mean weight is 1, i.e. the loss has the scale of
 *       the MSE loss the lambda default was tuned for; d is a Levenberg-Marquardt style floor so
 *       that elements where this calibration sample happens to have g = 0 are still reconstructed.
 *   BQ_FISHER_REF   the reference implementation's w = (|g| + 1)^2 (hard-coded damping 1: since
 *       |g| << 1 on small nets, this is almost MSE).
 *   BQ_FISHER_NONE  w = 1 (plain MSE).
 * Weights are stored as one byte each, log-coded (bq_logcode: 12 codes per octave, +-2.9%
 * relative precision, range 2^-10.6 .. 2^10.6, 0 = exactly 0): a weight needs no precision, and the
 * cache is a quarter of a float one (calibration-set caches dominate the peak memory).
 */
#ifndef BQ_FISHER_H
#define BQ_FISHER_H
#include <stddef.h>
#include <stdint.h>
#include "nn/exec.h"

typedef enum { BQ_FISHER_NONE = 0, BQ_FISHER_NORM = 1, BQ_FISHER_REF = 2 } bq_fisher_mode;

/* Log code of a value v >= 0: 0 for v <= 2^-10.6 (and v = 0), else round(12 log2 v) + 128
 * clamped to [1, 255]. bq_logdecode inverts it (2^((c - 128) / 12), 0 for c = 0). */
uint8_t bq_logcode(float v);
float bq_logdecode(uint8_t c);
/* A decode table (256 floats) for hot loops. */
void bq_logcode_table(float *lut);

/* bfloat16 -> float (exact). */
static inline float bq_bf16_to_float(uint16_t h) {
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}

/* Per-sample KL gradient w.r.t. the quantized logits: dq (n, k) = softmax(q) - softmax(fp)
 * (WRITTEN). Returns the mean over the n samples of KL(softmax(fp) || softmax(q)). */
double bq_kl_logits_grad(float *dq, const float *fp_logits, const float *q_logits, int n, int k);

/* g (n, size of node) = dKL/d(output of `node`) for the batch of n images x (n, in_c, in_h, in_w).
 * ex must be a train-mode executor of m (max_batch >= n) with whatever weight_override / post_hook
 * / grad_hook the caller wants (the fake-quant of the quantized path); fp_logits (n, classes) are
 * the FP model's logits for the same images. Runs the forward of the whole network, the KL
 * gradient at the logits, and the backward from the logits down to node + 1 (no parameter
 * gradients). Returns the mean KL of the batch. */
double bq_fisher_output_grad(float *g, bq_exec *ex, const bq_model *m, const float *x,
                             const float *fp_logits, int n, int node);

/* Turn raw gradients g (count) into weights (count, log-coded) by `mode` (see above). */
void bq_fisher_weights(uint8_t *w, const float *g, size_t count, bq_fisher_mode mode,
                       float damping);

/* Reconstruction loss L (see above) of yhat vs y, both (n, c, hw); w (n, c, hw, log-coded) or NULL for
 * 1; pw > 0. When dyhat != NULL, dL/dyhat is WRITTEN into it. Returns L. |d|^pw for pw != 2 uses
 * a fast exp2/log2 approximation (relative error < 1e-5). */
double bq_recon_loss(float *dyhat, const float *yhat, const float *y, const uint8_t *w, int n,
                     int c, int hw, float pw);
/* The same on n images that are one shard of a minibatch of n_norm images (dp_shards,
 * docs/mpi_recon.md): the mean (and its gradient) is over n_norm images, so the shards' losses
 * and gradients add up to the minibatch's. n_norm = n is bq_recon_loss. */
double bq_recon_loss_shard(float *dyhat, const float *yhat, const float *y, const uint8_t *w,
                           int n, int n_norm, int c, int hw, float pw);

/* |x|^e for x >= 0 with the same approximation (exposed for tests). */
float bq_fast_pow(float x, float e);

#endif
