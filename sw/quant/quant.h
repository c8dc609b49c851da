/*
 * quant.h — the quantizers of the project: one definition of the grids, the rounding rules, the
 * range search and the integer requantisation, exactly as docs/numerics.md states them.
 *
 *   weights      per output channel c: unsigned codes q in [0, 2^b-1], scale s[c] > 0, integer
 *                zero point z[c] in [0, 2^b-1]; x_hat = (q - z) * s.  Rounding: half to even.
 *   activations  per tensor: same grid with one (s, z).  Rounding: half UP, floor(v + 0.5), because
 *                that is what the hardware's "add half, shift right" requantiser computes.
 *   range init   80-candidate Lp(2.4) search (BRECQ/AdaRound): shrink [min, max] by (1 - 0.01 i),
 *                i = 0..79, s = (max'-min')/(2^b-1), z = clamp(round(-min'/s), 0, 2^b-1), keep the
 *                candidate with the smallest mean |x - x_hat|^p.  Deviation from the reference:
 *                z is clamped into the code range (so the real value 0 is always on the grid, which
 *                padding and the uint8 record fields need); this only matters for one-signed data.
 *                A constant channel is widened to include 0; an all-zero channel gets s = 1, z = 0.
 *   requant      m = round_half_even(ratio * 2^sh), sh = the largest shift in [1, 62] keeping every
 *                multiplier < 2^31;  y = (acc0*m_acc + r*m_res + 2^(sh-1)) >> sh  (int64).
 *
 * Example (weights of one conv, 4 bits, then fake-quantized copy):
 *   float s[16]; int32_t z[16]; uint8_t q[16*144]; float w_hat[16*144];
 *   bq_wq_init_mse(s, z, w, 16, 144, 4, BQ_RANGE_P);
 *   bq_wq_quantize(q, w, s, z, 16, 144, 4);
 *   bq_wq_dequantize(w_hat, q, s, z, 16, 144);
 *
 * Every function here is a plain scalar reference; nothing allocates except the range searches
 * (which allocate nothing either: they stream over the data 80 times).
 */
#ifndef BQ_QUANT_H
#define BQ_QUANT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define BQ_QBITS_MIN 2          /* smallest bit width a quantizer accepts (recipes, bits.yaml) */
#define BQ_QBITS_MAX 8          /* largest (codes are stored as uint8) */
#define BQ_ABITS_FLOAT 32       /* "activation bits" meaning: activation quantization off (W?A32) */
#define BQ_RANGE_CANDIDATES 80  /* range search: number of shrink factors */
#define BQ_RANGE_STEP 0.01      /* range search: shrink step */
#define BQ_RANGE_P 2.4f         /* range search: the Lp norm of the score */

/* Largest code of a b-bit grid. */
static inline int32_t bq_qmax(int bits) { return (int32_t)((1u << bits) - 1u); }

/* Round half to even in double (rint under the default rounding mode). */
static inline double bq_round_half_even(double v) { return nearbyint(v); }
/* Round half up: floor(v + 0.5). */
static inline double bq_round_half_up(double v) { return floor(v + 0.5); }

/* ---- weights (per output channel) ---- */

/* Code of one weight: clamp(round_half_even(w / s) + z, 0, 2^bits-1). Division in double. */
static inline int32_t bq_wq_code(float w, float s, int32_t z, int bits) {
    double v = bq_round_half_even((double)w / (double)s) + (double)z;
    double hi = (double)bq_qmax(bits);
    return (int32_t)(v < 0.0 ? 0.0 : (v > hi ? hi : v));
}

/* Range search of one channel: x (count values), bits, Lp exponent p. Writes *scale > 0 and
 * *zero in [0, 2^bits-1]. NaN/Inf in x are skipped (then the plain min/max grid of the finite values). */
void bq_range_search(float *scale, int32_t *zero, const float *x, size_t count, int bits,
                     float p, int half_up);

/* Per-channel MSE init of a weight tensor w (cout, per_out): scale[c], zero[c] for every channel
 * (bq_range_search with half-even rounding, p = BQ_RANGE_P normally). */
void bq_wq_init_mse(float *scale, int32_t *zero, const float *w, int cout, int per_out, int bits,
                    float p);

/* codes (cout, per_out) = per-channel round-half-even codes of w (cout, per_out). */
void bq_wq_quantize(uint8_t *codes, const float *w, const float *scale, const int32_t *zero,
                    int cout, int per_out, int bits);

/* w_hat (cout, per_out) = (codes - zero[c]) * scale[c]. */
void bq_wq_dequantize(float *w_hat, const uint8_t *codes, const float *scale, const int32_t *zero,
                      int cout, int per_out);

/* ---- activations (per tensor) ---- */

/* Code of one activation: clamp(floor(x / s + 0.5) + z, 0, 2^bits-1), computed in double so that
 * the fake-quant path and the integer path's input quantisation agree bit for bit. */
static inline int32_t bq_aq_code(float x, float s, int32_t z, int bits) {
    double v = bq_round_half_up((double)x / (double)s) + (double)z;
    double hi = (double)bq_qmax(bits);
    return (int32_t)(v < 0.0 ? 0.0 : (v > hi ? hi : v));
}

/* Range search of an activation tensor (calibration data): bq_range_search with half-up
 * rounding. */
void bq_aq_init_mse(float *scale, int32_t *zero, const float *x, size_t count, int bits, float p);

/* out[i] = (code(in[i]) - z) * s  (fake quantisation, in place allowed). */
void bq_aq_fake(float *out, const float *in, size_t count, float s, int32_t z, int bits);

/* ---- bias ---- */

/* b_q = round_half_even(b / (s_w * s_a)) as int64 (the caller checks it fits int32), saturated at
 * +-2^62 (NaN: +2^62): scales read from a file can put the ratio past int64, where the conversion
 * itself would be undefined. */
static inline int64_t bq_bias_code(float b, float s_w, float s_a) {
    const double lim = 4611686018427387904.0;   /* 2^62 */
    double v = bq_round_half_even((double)b / ((double)s_w * (double)s_a));
    return (int64_t)(!(v <= lim) ? lim : v < -lim ? -lim : v);
}

/* ---- requantisation (numerics.md §3) ---- */

typedef struct {
    uint32_t m_acc;   /* < 2^31 */
    uint32_t m_res;   /* < 2^31; 0 without a residual */
    int sh;           /* 1..62 */
} bq_requant;

/* Multipliers for ratio_acc = s_w*s_a/s_o and ratio_res = s_r/s_o (0 when no residual), both >= 0
 * and finite. Returns 0, or -1 when a ratio is negative/non-finite or >= 2^30 (no shift >= 1 can
 * keep the multiplier below 2^31). */
int bq_requant_make(bq_requant *rq, double ratio_acc, double ratio_res);

/* The output stage for one element: t = acc0*m_acc + r*m_res (int64), y = (t + 2^(sh-1)) >> sh
 * (arithmetic: round half up), return clamp(y + z_o, lo, hi). r = q_r - z_r (0 without residual). */
static inline int32_t bq_requant_apply(int32_t acc0, int32_t r, const bq_requant *rq, int32_t z_o,
                                       int32_t lo, int32_t hi) {
    int64_t t = (int64_t)acc0 * (int64_t)rq->m_acc + (int64_t)r * (int64_t)rq->m_res;
    int64_t y = (t + ((int64_t)1 << (rq->sh - 1))) >> rq->sh;   /* gcc: arithmetic shift */
    int64_t q = y + z_o;
    return (int32_t)(q < lo ? lo : (q > hi ? hi : q));
}

/* Output clamp of a layer whose output goes through activation `act_kind` (0 = none,
 * 1 = ReLU, 2 = ReLU6, 3 = clamp [clo, chi]) into a quantizer (s_o, z_o, bits):
 * lo = max(0, z_o + round_half_up(clo / s_o)), hi = min(2^bits-1, z_o + round_half_up(chi / s_o)).
 * ReLU: clo = 0, chi = +inf; ReLU6: [0, 6]. */
enum { BQ_OUTACT_NONE = 0, BQ_OUTACT_RELU = 1, BQ_OUTACT_RELU6 = 2, BQ_OUTACT_CLAMP = 3 };
void bq_out_clamp(int32_t *lo, int32_t *hi, int act_kind, float clo, float chi, float s_o,
                  int32_t z_o, int bits);

#endif
