/*
 * activation.c — elementwise ReLU, ReLU6, clamp and the residual add (see ops.h).
 * Backward passes use the forward INPUT, and add into dinp. At the kinks (x == lo or x == hi)
 * the gradient is 0, matching the "lo < x < hi" rule of ops.h (PyTorch does the same for ReLU).
 * Large tensors are split over threads (parallel.h); each element is computed the same way
 * whatever the split.
 */
#include "nn/ops.h"
#include "core/parallel.h"

#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 cost model leaves loops with unknown trip counts scalar; these are worth it. */
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

/* Below this many elements per thread, starting a thread costs more than it saves. */
#define EW_MIN_CHUNK ((size_t)1 << 16)

typedef struct {
    float *out;                /* forward output, or the gradient added into */
    float *out2;               /* add backward: second gradient (may be NULL) */
    const float *a, *b;        /* inputs: x (or a), and b / dout */
    float lo, hi;
} ew_args;

static void relu_fwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ew_args *e = ctx;
    (void)idx;
    for (size_t i = lo; i < hi; i++) e->out[i] = e->a[i] > 0.0f ? e->a[i] : 0.0f;
}

static void relu_bwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ew_args *e = ctx;
    (void)idx;
    /* dout is loaded unconditionally so the select vectorises (a conditional load does not) */
    for (size_t i = lo; i < hi; i++) {
        const float g = e->b[i];
        e->out[i] += e->a[i] > 0.0f ? g : 0.0f;
    }
}

static void clamp_fwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ew_args *e = ctx;
    (void)idx;
    for (size_t i = lo; i < hi; i++) {
        float x = e->a[i];
        e->out[i] = x < e->lo ? e->lo : (x > e->hi ? e->hi : x);
    }
}

static void clamp_bwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ew_args *e = ctx;
    (void)idx;
    for (size_t i = lo; i < hi; i++) {
        const float x = e->a[i], g = e->b[i];
        e->out[i] += (x > e->lo && x < e->hi) ? g : 0.0f;
    }
}

static void add_fwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ew_args *e = ctx;
    (void)idx;
    for (size_t i = lo; i < hi; i++) e->out[i] = e->a[i] + e->b[i];
}

static void add_bwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ew_args *e = ctx;
    (void)idx;
    if (e->out)
        for (size_t i = lo; i < hi; i++) e->out[i] += e->b[i];
    if (e->out2)
        for (size_t i = lo; i < hi; i++) e->out2[i] += e->b[i];
}

void bq_clamp_forward(float *out, const float *inp, size_t count, float lo, float hi) {
    ew_args e = {.out = out, .a = inp, .lo = lo, .hi = hi};
    bq_parallel_for(count, EW_MIN_CHUNK, clamp_fwd_range, &e);
}

void bq_clamp_backward(float *dinp, const float *dout, const float *inp, size_t count, float lo,
                       float hi) {
    ew_args e = {.out = dinp, .a = inp, .b = dout, .lo = lo, .hi = hi};
    bq_parallel_for(count, EW_MIN_CHUNK, clamp_bwd_range, &e);
}

void bq_relu_forward(float *out, const float *inp, size_t count) {
    ew_args e = {.out = out, .a = inp};
    bq_parallel_for(count, EW_MIN_CHUNK, relu_fwd_range, &e);
}

void bq_relu_backward(float *dinp, const float *dout, const float *inp, size_t count) {
    ew_args e = {.out = dinp, .a = inp, .b = dout};
    bq_parallel_for(count, EW_MIN_CHUNK, relu_bwd_range, &e);
}

void bq_relu6_forward(float *out, const float *inp, size_t count) {
    bq_clamp_forward(out, inp, count, 0.0f, 6.0f);
}

void bq_relu6_backward(float *dinp, const float *dout, const float *inp, size_t count) {
    bq_clamp_backward(dinp, dout, inp, count, 0.0f, 6.0f);
}

void bq_add_forward(float *out, const float *a, const float *b, size_t count) {
    ew_args e = {.out = out, .a = a, .b = b};
    bq_parallel_for(count, EW_MIN_CHUNK, add_fwd_range, &e);
}

void bq_add_backward(float *da, float *db, const float *dout, size_t count) {
    ew_args e = {.out = da, .out2 = db, .b = dout};
    bq_parallel_for(count, EW_MIN_CHUNK, add_bwd_range, &e);
}
