/*
 * intref_i8.h — the integer reference's exact int8 convolutions on oneDNN (issue 19, item 2).
 *
 * A layer whose centred codes fit in int8 (every |q_w - z_w| <= 127 and every |q_a - z_a| <= 127:
 * weights and input activations of at most 7 bits, or 8 bits with a zero point that keeps them
 * in range) computes
 *     acc[n, c, p] = sum_k (q_w[c,k] - z_w[c]) * (q_a[k,p] - z_a)
 * as one oneDNN s8 x s8 -> s32 convolution (AVX512-VNNI on this machine). The integers are the
 * ones the int16 and float kernels compute (numerics §2 bounds every partial sum inside int32,
 * checked by bq_intnet_init), and oneDNN's zero padding is the centred code of an out-of-image tap
 * (q_a = z_a): so the result is bit-identical in any summation order and for any thread count.
 * The 2-4 bit codes ride in 8-bit containers; the contract does not change.
 *
 * One context per integer network: the oneDNN engine and stream, and per layer up to two
 * primitives (keyed by batch size: the full batch and the last, smaller one) with their
 * weights reordered once into oneDNN's blocked layout. User tensors are NCHW / (G)OIHW.
 *
 *   bq_i8ctx *ctx = bq_i8ctx_new(n_layers);
 *   if (bq_i8_conv(ctx, l, &cs, w8, acc, x8, err, sizeof err)) ...   // cs.n = batch
 *   bq_i8ctx_free(ctx);
 */
#ifndef BQ_INTREF_I8_H
#define BQ_INTREF_I8_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops.h"

typedef struct bq_i8ctx bq_i8ctx;

/* NULL when out of memory; the engine is created on the first convolution. */
bq_i8ctx *bq_i8ctx_new(int n_layers);
void bq_i8ctx_free(bq_i8ctx *ctx);

/* acc (n, cout, hout, wout) int32 = conv(x (n, cin, h, w) int8, w8 (cout, cin/groups, kh, kw)
 * int8), zero padding, no bias; cs->n is the batch. w8 must stay the same buffer and contents for
 * a given layer (its blocked copy is made when the layer's primitive is created). Returns 0, or
 * -1 with one line ("intref int8: ... for layer L ...") when oneDNN refuses or runs out of memory;
 * nothing is written then. */
int bq_i8_conv(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, const int8_t *w8, int32_t *acc,
               const int8_t *x, char *err, size_t errlen);

#endif
