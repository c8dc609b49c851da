/*
 * activation.c — elementwise ReLU, ReLU6, clamp and the residual add (see ops.h).
 * Backward passes use the forward INPUT, and add into dinp. At the kinks (x == lo or x == hi)
 * the gradient is 0, matching the "lo < x < hi" rule of ops.h (PyTorch does the same for ReLU).
 */
#include "ops.h"

#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 cost model leaves loops with unknown trip counts scalar; these are worth it. */
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

void bq_clamp_forward(float *out, const float *inp, size_t count, float lo, float hi) {
    for (size_t i = 0; i < count; i++) {
        float x = inp[i];
        out[i] = x < lo ? lo : (x > hi ? hi : x);
    }
}

void bq_clamp_backward(float *dinp, const float *dout, const float *inp, size_t count, float lo,
                       float hi) {
    for (size_t i = 0; i < count; i++) {
        float x = inp[i];
        dinp[i] += (x > lo && x < hi) ? dout[i] : 0.0f;
    }
}

void bq_relu_forward(float *out, const float *inp, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void bq_relu_backward(float *dinp, const float *dout, const float *inp, size_t count) {
    for (size_t i = 0; i < count; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void bq_relu6_forward(float *out, const float *inp, size_t count) {
    bq_clamp_forward(out, inp, count, 0.0f, 6.0f);
}

void bq_relu6_backward(float *dinp, const float *dout, const float *inp, size_t count) {
    bq_clamp_backward(dinp, dout, inp, count, 0.0f, 6.0f);
}

void bq_add_forward(float *out, const float *a, const float *b, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = a[i] + b[i];
}

void bq_add_backward(float *da, float *db, const float *dout, size_t count) {
    if (da)
        for (size_t i = 0; i < count; i++) da[i] += dout[i];
    if (db)
        for (size_t i = 0; i < count; i++) db[i] += dout[i];
}
