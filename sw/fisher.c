/* fisher.c — reconstruction loss and Fisher weights (see fisher.h). */
#include "fisher.h"

#include <math.h>
#include <string.h>

uint16_t bq_bf16_from_float(float x) {
    union { uint32_t u; float f; } v;
    v.f = x;
    if ((v.u & 0x7f800000u) == 0x7f800000u) return (uint16_t)(v.u >> 16);   /* inf / nan */
    uint32_t lsb = (v.u >> 16) & 1u;
    v.u += 0x7fffu + lsb;
    return (uint16_t)(v.u >> 16);
}

uint8_t bq_logcode(float v) {
    if (!(v > 0.0f)) return 0;
    float l = 12.0f * log2f(v);
    if (l < -127.5f) return 0;
    long c = lrintf(l) + 128;
    return (uint8_t)(c < 1 ? 1 : (c > 255 ? 255 : c));
}

float bq_logdecode(uint8_t c) { return c ? exp2f(((float)c - 128.0f) / 12.0f) : 0.0f; }

void bq_logcode_table(float *lut) {
    for (int c = 0; c < 256; c++) lut[c] = bq_logdecode((uint8_t)c);
}

double bq_kl_logits_grad(float *dq, const float *fp_logits, const float *q_logits, int n, int k) {
    double kl = 0.0;
    for (int i = 0; i < n; i++) {
        const float *a = fp_logits + (size_t)i * k, *b = q_logits + (size_t)i * k;
        double ma = a[0], mb = b[0];
        for (int j = 1; j < k; j++) {
            if (a[j] > ma) ma = a[j];
            if (b[j] > mb) mb = b[j];
        }
        double sa = 0.0, sb = 0.0;
        for (int j = 0; j < k; j++) {
            sa += exp(a[j] - ma);
            sb += exp(b[j] - mb);
        }
        double lsa = log(sa), lsb = log(sb);
        for (int j = 0; j < k; j++) {
            double la = a[j] - ma - lsa, lb = b[j] - mb - lsb;   /* log-probabilities */
            double pa = exp(la), pb = exp(lb);
            kl += pa * (la - lb);
            dq[(size_t)i * k + j] = (float)(pb - pa);
        }
    }
    return n > 0 ? kl / n : 0.0;
}

double bq_fisher_output_grad(float *g, bq_exec *ex, const bq_model *m, const float *x,
                             const float *fp_logits, int n, int node) {
    int out = bq_model_output(m);
    bq_exec_forward(ex, m, x, n, 0);
    bq_exec_zero_grad(ex, m, node + 1, out, 0);
    int k = m->nodes[out].c;
    double kl = bq_kl_logits_grad(ex->grad[out], fp_logits, ex->act[out], n, k);
    if (node < out) bq_exec_backward_range(ex, m, node + 1, out, 0);
    memcpy(g, ex->grad[node], sizeof(float) * (size_t)n * bq_node_size(&m->nodes[node]));
    return kl;
}

void bq_fisher_weights(uint8_t *w, const float *g, size_t count, bq_fisher_mode mode,
                       float damping) {
    if (mode == BQ_FISHER_NONE) {
        for (size_t i = 0; i < count; i++) w[i] = bq_logcode(1.0f);
        return;
    }
    if (mode == BQ_FISHER_REF) {
        for (size_t i = 0; i < count; i++) {
            float a = fabsf(g[i]) + 1.0f;
            w[i] = bq_logcode(a * a);
        }
        return;
    }
    double mean = 0.0;
    for (size_t i = 0; i < count; i++) mean += (double)g[i] * g[i];
    mean = count ? mean / (double)count : 0.0;
    if (!(mean > 0.0)) {   /* no signal at all: fall back to plain MSE */
        for (size_t i = 0; i < count; i++) w[i] = bq_logcode(1.0f);
        return;
    }
    double a = (1.0 - damping) / mean;
    for (size_t i = 0; i < count; i++)
        w[i] = bq_logcode((float)(a * (double)g[i] * g[i] + damping));
}

/* 2^y for |y| < 126: split y = i + f with f in [-0.5, 0.5], 2^f by its Taylor polynomial. */
static inline float fast_exp2(float y) {
    float fi = floorf(y + 0.5f);
    float f = (y - fi) * 0.69314718f;
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 +
                                                                     f * (1.0f / 720))))));
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)((int32_t)fi + 127) << 23;
    return p * v.f;
}

/* log2(x) for normal x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m by the atanh series. */
static inline float fast_log2(float x) {
    union { uint32_t u; float f; } v;
    v.f = x;
    int e = (int)((v.u >> 23) & 0xff) - 127;
    v.u = (v.u & 0x007fffffu) | 0x3f800000u;   /* m in [1, 2) */
    float m = v.f;
    if (m > 1.41421356f) { m *= 0.5f; e += 1; }
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float ln = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 / 9))));
    return (float)e + ln * 1.44269504f;
}

float bq_fast_pow(float x, float e) {
    if (!(x > 1e-30f)) return 0.0f;
    float y = e * fast_log2(x);
    if (y < -125.0f) return 0.0f;
    if (y > 125.0f) return INFINITY;
    return fast_exp2(y);
}

double bq_recon_loss(float *dyhat, const float *yhat, const float *y, const uint8_t *w, int n,
                     int c, int hw, float pw) {
    size_t count = (size_t)n * c * hw;
    float lut[256];
    if (w) bq_logcode_table(lut);
    const float inv = 1.0f / (float)((size_t)n * hw);
    double sum = 0.0;
    if (pw == 2.0f) {
        for (size_t i = 0; i < count; i++) {
            float d = yhat[i] - y[i];
            float wi = w ? lut[w[i]] : 1.0f;
            sum += (double)(wi * d * d);
            if (dyhat) dyhat[i] = 2.0f * wi * d * inv;
        }
    } else {
        const float e = pw - 2.0f;
        for (size_t i = 0; i < count; i++) {
            float d = yhat[i] - y[i];
            float wi = w ? lut[w[i]] : 1.0f;
            float t = bq_fast_pow(fabsf(d), e);   /* |d|^(pw-2) */
            sum += (double)(wi * d * d * t);
            if (dyhat) dyhat[i] = pw * wi * d * t * inv;
        }
    }
    return sum * (double)inv;
}
