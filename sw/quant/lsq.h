/*
 * lsq.h — the per-tensor activation fake-quantizer with a learnable step (LSQ-style straight-
 * through gradients) and the QDrop random mix.
 *
 * Forward (docs/numerics.md section 1, activations round half up):
 *     q = clamp(floor(x / s + 0.5) + z, 0, qmax),   x_hat = (q - z) * s
 * Straight-through gradients (z is fixed, s is learned):
 *     inside the range  (0 <= floor(x/s + 0.5) + z <= qmax):  dx_hat/dx = 1, dx_hat/ds = (q - z) - x/s
 *     clipped low:                                            dx_hat/dx = 0, dx_hat/ds = -z
 *     clipped high:                                           dx_hat/dx = 0, dx_hat/ds = qmax - z
 * QDrop (Wei et al. 2022): during reconstruction each element independently keeps its FP value
 * with probability p_drop, else it is quantized: out = mask ? x : x_hat. Dropped elements pass
 * the gradient unchanged and contribute nothing to ds. The mask draws one byte per element from a
 * bq_rng (p_drop is resolved to 1/256: element dropped when byte < round(256 * p_drop)).
 *
 * Example (one reconstruction step):
 *   bq_lsq_forward(y, x, n, s, z, qmax);                  // y may alias x only if x is not
 *                                                        // needed in backward
 *   ... loss, dy ...
 *   double ds = bq_lsq_backward(dx, dy, x, NULL, n, s, z, qmax);   // dx may alias dy
 */
#ifndef BQ_LSQ_H
#define BQ_LSQ_H
#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"

/* out (n) = x_hat(x). out may alias x. s > 0. */
void bq_lsq_forward(float *out, const float *x, size_t n, float s, int32_t z, int qmax);

/* mask (n) = 1 where the element keeps its FP value (QDrop), 0 where it is quantized. */
void bq_lsq_drop_mask(uint8_t *mask, size_t n, float p_drop, bq_rng *rng);

/* out = mask ? x : x_hat(x). out may alias x. */
void bq_lsq_forward_mask(float *out, const float *x, const uint8_t *mask, size_t n, float s,
                         int32_t z, int qmax);

/* Straight-through backward. dx (n) is WRITTEN (not accumulated) with the gradient w.r.t. the
 * quantizer input; dx may alias dout; dx may be NULL when only the step gradient is wanted.
 * x is the quantizer INPUT of the forward pass. mask (may be NULL = all quantized) as in forward.
 * Returns dL/ds = sum_i dout_i * dx_hat_i/ds (double). */
double bq_lsq_backward(float *dx, const float *dout, const float *x, const uint8_t *mask, size_t n,
                       float s, int32_t z, int qmax);

/* Scalar reference of forward (one value), used by tests and by code that needs one element. */
float bq_lsq_ref(float x, float s, int32_t z, int qmax);

#endif
