/*
 * conv_dnnl.h — the third conv implementation (BQ_CONV_DNNL, BQ_CONV=dnnl): oneDNN 2.6 (Debian's
 * libdnnl, v2 C API) FP32 convolution forward, backward-data and backward-weights (+ bias), for
 * every geometry bq_conv2d_shape accepts (dense, strided, asymmetric pads, 1x1, grouped,
 * depthwise). Same contract as ops.h: NCHW float at the boundary, backward ADDS into dinp,
 * dweight and dbias, a NULL gradient is skipped. Inside, oneDNN picks its own (blocked) layouts
 * and reorders convert at the boundary; outputs that are added into go through a reorder with a
 * sum post-op, so no separate add pass.
 *
 * The context: primitives are built once per (geometry, batch, direction, bias, thread count) and
 * kept in a small LRU cache owned by a bq_dnnl_ctx, together with the oneDNN engine and stream and
 * one workspace (blocked copies + oneDNN scratchpad, grown on first use of a bigger shape, never
 * in the steady state). No hidden globals. A context is used by one thread at a time (like the
 * conv scratch). How it reaches the ops: bq_conv_shape.dnnl (ops.h); bq_exec owns one (exec.h).
 * A conv called with impl = BQ_CONV_DNNL and dnnl = NULL builds a temporary context for that call
 * (correct, slow: a new engine, primitives and workspace every call).
 *
 * Threads: Debian builds oneDNN on OpenMP (libgomp). Every call sets the calling thread's OpenMP
 * team size to bq_num_threads() (parallel.h: $BQ_NUM_THREADS or the online CPUs) before creating
 * or running a primitive, and the thread count is part of the cache key (a primitive keeps the
 * thread count it was created for). Determinism: see docs/onednn.md (measured there).
 *
 * Example:
 *   char err[256];
 *   bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
 *   if (bq_conv2d_dnnl_forward(ctx, out, inp, weight, bias, &cs, err, sizeof err)) ... err ...
 *   bq_dnnl_ctx_free(ctx);
 */
#ifndef BQ_CONV_DNNL_H
#define BQ_CONV_DNNL_H

#include "nn/ops.h"

#include <stddef.h>

typedef struct bq_dnnl_ctx bq_dnnl_ctx;

/* Counters of one context (bq_dnnl_ctx_stats). Times are only collected while
 * bq_dnnl_ctx_set_timing(ctx, 1) is on (two clock reads around every reorder and primitive). */
typedef struct {
    long calls;                /* forward + backward-data + backward-weights executions */
    long hits, misses;         /* cache look-ups that found / built a primitive */
    long evicted;              /* entries dropped by the LRU */
    long fallbacks;            /* FP32 void ops.h calls that failed here and ran the direct kernel
                                  (the first one also prints a warning on stderr) */
    long errors;               /* BF16 void ops.h calls that failed: nothing computed, no
                                  fallback; the caller must check (first_error has the line) */
    size_t ws_bytes;           /* workspace size */
    double t_conv, t_reorder;  /* seconds in convolution primitives / in reorders (timing on) */
    char first_error[256];     /* first error of a void ops.h call ("" = none) */
} bq_dnnl_stats;

/* A context with an empty cache; the engine and stream are created on first use. NULL on OOM. */
bq_dnnl_ctx *bq_dnnl_ctx_new(void);
void bq_dnnl_ctx_free(bq_dnnl_ctx *ctx);
const bq_dnnl_stats *bq_dnnl_ctx_stats(const bq_dnnl_ctx *ctx);
void bq_dnnl_ctx_set_timing(bq_dnnl_ctx *ctx, int on);
/* Compute mode of the calls that follow (part of the cache key, so switching is cheap):
 * 0 = FP32 (default); 1 = BF16: src, weights and diff_dst are rounded to bf16 on their way into
 * oneDNN (in the reorders), accumulation and every output (dst, diff_src, diff_weights,
 * diff_bias) stay f32, the caller's buffers stay f32 NCHW. Needs AVX512-BF16
 * (bq_dnnl_bf16_available). In this mode a refused shape is an error: the ops.h dispatch does
 * not fall back to the FP32 direct kernel (see bq_conv2d_dnnl_op_forward). */
void bq_dnnl_ctx_set_bf16(bq_dnnl_ctx *ctx, int on);
int bq_dnnl_ctx_bf16(const bq_dnnl_ctx *ctx);
/* 1 when oneDNN's effective ISA has native bf16 (avx512_core_bf16 or AMX); writes that ISA's
 * name into isa. ONEDNN_MAX_CPU_ISA lowers it (oneDNN reads that once per process);
 * BQ_FAKE_NO_BF16=1 makes it 0 (test-only: the error paths on a CPU without bf16). */
int bq_dnnl_bf16_available(char *isa, size_t len);

/* forward: out (N,Cout,Hout,Wout) = conv(inp (N,Cin,H,W), weight (Cout,Cin/g,Kh,Kw)) + bias (Cout,
 * may be NULL). Returns 0, or -1 with one line in err (oneDNN refused the shape, OOM). */
int bq_conv2d_dnnl_forward(bq_dnnl_ctx *ctx, float *out, const float *inp, const float *weight,
                           const float *bias, const bq_conv_shape *cs, char *err, size_t errlen);
/* backward: dinp (N,Cin,H,W) += dX, dweight (Cout,Cin/g,Kh,Kw) += dW, dbias (Cout) += sum of dout
 * over (N,Hout,Wout), from dout (N,Cout,Hout,Wout), inp and weight; NULL outputs are skipped.
 * Returns 0 or -1 with one line in err. */
int bq_conv2d_dnnl_backward(bq_dnnl_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const bq_conv_shape *cs, char *err, size_t errlen);

/* The directions a primitive is built for (cache key part). */
typedef enum { BQ_DNNL_FWD = 0, BQ_DNNL_BWD_DATA = 1, BQ_DNNL_BWD_WEIGHTS = 2 } bq_dnnl_dir;
/* oneDNN's implementation name for a direction of cs (builds the primitive if needed), e.g.
 * "jit:avx512_core"; NULL with err set on failure. Valid until the entry is evicted. */
const char *bq_conv2d_dnnl_impl(bq_dnnl_ctx *ctx, const bq_conv_shape *cs, bq_dnnl_dir dir,
                                int with_bias, char *err, size_t errlen);
/* The void ops.h calls with cs->impl == BQ_CONV_DNNL land here (sw/nn/conv.c): cs->dnnl's cache,
 * or a temporary context when it is NULL. 0 = done; -1 = FP32 and oneDNN refused before writing
 * anything: the error line is kept in the context's stats (first_error, fallbacks), printed once
 * per context as a warning on stderr, and the caller runs the direct kernel, so results stay
 * correct. In BF16 mode a failure returns 0 without computing anything and counts in
 * stats.errors: the caller checks (no silent change of precision). */
int bq_conv2d_dnnl_op_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const bq_conv_shape *cs);
int bq_conv2d_dnnl_op_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const bq_conv_shape *cs);
/* "oneDNN 2.6.3 (OpenMP), ISA avx512_core_bf16"-style line, for logs and benchmarks. */
void bq_dnnl_describe(char *buf, size_t len);

#endif
