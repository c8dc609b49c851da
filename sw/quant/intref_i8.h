/*
 * intref_i8.h — the integer reference's exact int8 convolutions on oneDNN (issue 19, item 2).
 *
 * A layer whose centred codes fit in int8 (every |q_w - z_w| <= 127 and every |q_a - z_a| <= 127:
 * weights and input activations of at most 7 bits, or 8 bits with a zero point that keeps them
 * in range) computes
 *     acc[n, p, c] = sum_k (q_w[c,k] - z_w[c]) * (q_a[k,p] - z_a)
 * as one oneDNN s8 x s8 -> s32 convolution (AVX512-VNNI on this machine). The integers are the
 * ones the int16 and float kernels compute (numerics §2 bounds every partial sum inside int32,
 * checked by bq_intnet_init), and oneDNN's zero padding is the centred code of an out-of-image tap
 * (q_a = z_a): so the result is bit-identical in any summation order and for any thread count.
 * The 2-4 bit codes ride in 8-bit containers; the contract does not change.
 *
 * Tensors are NHWC (oneDNN's own layout for int8 here: no reorder runs per call), weights
 * (G)OIHW, reordered once per layer into oneDNN's blocked layout. Each call is single-threaded
 * (its primitive is created for one thread): the caller runs several calls side by side on its
 * own thread pool, one per block of images, so that the elementwise passes around the convolution
 * stay on the same thread as the convolution (no hand-off between oneDNN's OpenMP team and the
 * pool). Calls with different `slot` arguments may run concurrently: each thread slot has its own
 * stream and scratchpad.
 *
 *   bq_i8ctx *ctx = bq_i8ctx_new(n_layers);
 *   if (bq_i8_prepare(ctx, l, &cs, w8, threads, err, sizeof err)) ...   // cs.n = images per call
 *   ... on thread t: bq_i8_conv(ctx, l, &cs, acc, x8, t, err, sizeof err)
 *   bq_i8ctx_free(ctx);
 */
#ifndef BQ_INTREF_I8_H
#define BQ_INTREF_I8_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops.h"

typedef struct bq_i8ctx bq_i8ctx;

/* 1 when oneDNN's int8 convolutions are exact on this CPU: it has VNNI (AVX512-VNNI or
 * AVX-VNNI, as oneDNN's effective ISA says, ONEDNN_MAX_CPU_ISA included). Without VNNI oneDNN
 * multiplies through 16-bit pairs (vpmaddubsw) and halves s8 weights to avoid their saturation,
 * which rounds: the integer reference must not use it there. */
int bq_i8_exact_on_cpu(void);

/* NULL when out of memory; the engine is created on the first bq_i8_prepare. */
bq_i8ctx *bq_i8ctx_new(int n_layers);
void bq_i8ctx_free(bq_i8ctx *ctx);

/* Make sure layer's primitive for batch cs->n exists (created on the calling thread, single-
 * threaded; up to 4 batch sizes per layer are kept, the least recently used is replaced) and that
 * thread slots 0..threads-1 have a stream and a scratchpad large enough. w8 (cout, cin/groups, kh,
 * kw) must stay the same buffer and contents for a given layer. Not thread-safe: call it before
 * starting the concurrent bq_i8_conv calls. Returns 0, or -1 with one line ("intref int8: ... for
 * layer L ...") when oneDNN refuses or runs out of memory. */
int bq_i8_prepare(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, const int8_t *w8, int threads,
                  char *err, size_t errlen);

/* acc (n, hout, wout, cout) int32 = conv(x (n, h, w, cin) int8, the layer's weights), zero padding,
 * no bias; cs->n is the batch, whose primitive bq_i8_prepare made. Runs on the calling thread
 * only, with thread slot `slot` (< the threads given to bq_i8_prepare). Returns 0, or -1 with one
 * line when oneDNN fails; acc is unspecified then. */
int bq_i8_conv(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, int32_t *acc, const int8_t *x,
               int slot, char *err, size_t errlen);

#endif
