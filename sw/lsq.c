/* lsq.c — activation fake-quantizer with learnable step and QDrop mask (see lsq.h). */
#include "lsq.h"

#include <math.h>

/* The code is computed in double exactly as quant.h's bq_aq_code (the one definition), so the
 * reconstruction optimises bit for bit what the fake-quant evaluation computes. */
static inline float code_of(float x, float s, float zf) {
    return (float)(floor((double)x / (double)s + 0.5)) + zf;
}

float bq_lsq_ref(float x, float s, int32_t z, int qmax) {
    float q = code_of(x, s, (float)z);
    q = q < 0.0f ? 0.0f : (q > (float)qmax ? (float)qmax : q);
    return (q - (float)z) * s;
}

void bq_lsq_forward(float *out, const float *x, size_t n, float s, int32_t z, int qmax) {
    const float zf = (float)z, qm = (float)qmax;
    for (size_t i = 0; i < n; i++) {
        float q = code_of(x[i], s, zf);
        q = q < 0.0f ? 0.0f : (q > qm ? qm : q);
        out[i] = (q - zf) * s;
    }
}

void bq_lsq_drop_mask(uint8_t *mask, size_t n, float p_drop, bq_rng *rng) {
    int thr = (int)lrintf(p_drop * 256.0f);
    if (thr < 0) thr = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t r = bq_rng_u64(rng);
        for (int b = 0; b < 8 && i < n; b++, i++) mask[i] = (int)((r >> (8 * b)) & 0xff) < thr;
    }
}

void bq_lsq_forward_mask(float *out, const float *x, const uint8_t *mask, size_t n, float s,
                         int32_t z, int qmax) {
    const float zf = (float)z, qm = (float)qmax;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float q = code_of(v, s, zf);
        q = q < 0.0f ? 0.0f : (q > qm ? qm : q);
        out[i] = mask[i] ? v : (q - zf) * s;
    }
}

double bq_lsq_backward(float *dx, const float *dout, const float *x, const uint8_t *mask, size_t n,
                       float s, int32_t z, int qmax) {
    const float zf = (float)z, qm = (float)qmax;
    double ds = 0.0;
    for (size_t i = 0; i < n; i++) {
        float g = dout[i];
        if (mask && mask[i]) {
            if (dx) dx[i] = g;
            continue;
        }
        float v = x[i] / s;
        float q = code_of(x[i], s, zf);
        float d;
        if (q < 0.0f) {
            d = -zf;
            if (dx) dx[i] = 0.0f;
        } else if (q > qm) {
            d = qm - zf;
            if (dx) dx[i] = 0.0f;
        } else {
            d = (q - zf) - v;
            if (dx) dx[i] = g;
        }
        ds += (double)(g * d);
    }
    return ds;
}
