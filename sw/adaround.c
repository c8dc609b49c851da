/* adaround.c — AdaRound soft rounding (see adaround.h for the math). */
#include "adaround.h"

#include <math.h>

#include "fisher.h"   /* bq_fast_pow */

static inline float sigm(float a) { return 1.0f / (1.0f + expf(-a)); }

float bq_ada_h(float a) {
    float v = sigm(a) * (BQ_ADA_ZETA - BQ_ADA_GAMMA) + BQ_ADA_GAMMA;
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

float bq_ada_dh(float a) {
    float sg = sigm(a);
    float v = sg * (BQ_ADA_ZETA - BQ_ADA_GAMMA) + BQ_ADA_GAMMA;
    if (v <= 0.0f || v >= 1.0f) return 0.0f;
    return sg * (1.0f - sg) * (BQ_ADA_ZETA - BQ_ADA_GAMMA);
}

void bq_adaround_init(float *wf, float *alpha, const float *w, const float *s, int cout,
                      int per_out) {
    /* h(a) = r  <=>  a = -log((zeta - gamma) / (r - gamma) - 1); r in [0, 1) keeps it finite. */
    const float a_zero = -logf((BQ_ADA_ZETA - BQ_ADA_GAMMA) / (0.0f - BQ_ADA_GAMMA) - 1.0f);
    for (int c = 0; c < cout; c++) {
        for (int k = 0; k < per_out; k++) {
            size_t i = (size_t)c * per_out + k;
            if (!(s[c] > 0.0f)) {
                wf[i] = 0.0f;
                alpha[i] = a_zero;
                continue;
            }
            float v = w[i] / s[c];
            float f = floorf(v);
            float r = v - f;
            if (r < 0.0f) r = 0.0f;
            if (r >= 1.0f) r = 0.99999f;
            wf[i] = f;
            alpha[i] = -logf((BQ_ADA_ZETA - BQ_ADA_GAMMA) / (r - BQ_ADA_GAMMA) - 1.0f);
        }
    }
}

void bq_adaround_forward(float *wsoft, const float *alpha, const float *wf, const float *s,
                         const int32_t *z, int qmax, int cout, int per_out) {
    for (int c = 0; c < cout; c++) {
        const float sc = s[c], zc = (float)z[c], qm = (float)qmax;
        const size_t o = (size_t)c * per_out;
        for (int k = 0; k < per_out; k++) {
            float q = wf[o + k] + bq_ada_h(alpha[o + k]) + zc;
            q = q < 0.0f ? 0.0f : (q > qm ? qm : q);
            wsoft[o + k] = (q - zc) * sc;
        }
    }
}

void bq_adaround_backward(float *dalpha, const float *dwsoft, const float *alpha, const float *wf,
                          const float *s, const int32_t *z, int qmax, int cout, int per_out) {
    for (int c = 0; c < cout; c++) {
        const float sc = s[c], zc = (float)z[c], qm = (float)qmax;
        const size_t o = (size_t)c * per_out;
        for (int k = 0; k < per_out; k++) {
            float q = wf[o + k] + bq_ada_h(alpha[o + k]) + zc;
            if (q < 0.0f || q > qm) continue;
            dalpha[o + k] += dwsoft[o + k] * sc * bq_ada_dh(alpha[o + k]);
        }
    }
}

double bq_adaround_reg(float *dalpha, const float *alpha, size_t n, float lambda, float beta) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float h = bq_ada_h(alpha[i]);
        float u = 2.0f * h - 1.0f, au = fabsf(u);
        float p = au > 0.0f ? bq_fast_pow(au, beta) : 0.0f;   /* rel. error < 2e-5 */
        sum += 1.0 - p;
        if (dalpha && au > 0.0f) {
            /* d/da (1 - |u|^beta) = -beta |u|^(beta-1) sign(u) * 2 h'(a) */
            float dh = bq_ada_dh(alpha[i]);
            if (dh != 0.0f) {
                float g = -beta * (p / au) * (u > 0.0f ? 1.0f : -1.0f) * 2.0f * dh;
                dalpha[i] += lambda * g;
            }
        }
    }
    return (double)lambda * sum;
}

int bq_adaround_beta(int t, int total, float warmup, float beta_start, float beta_end,
                     float *beta) {
    /* warm-up length in whole iterations (rounded, so 0.2f * 20000 is 4000, not 4000.00006) */
    double w = (double)(long)((double)warmup * total + 0.5);
    if ((double)t < w) {
        *beta = beta_start;
        return 0;
    }
    double span = (double)total - w;
    double f = span > 0 ? ((double)t - w) / span : 1.0;
    *beta = (float)(beta_end + (beta_start - beta_end) * (1.0 - f));
    return 1;
}

void bq_adaround_harden(int32_t *codes, const float *alpha, const float *wf, const int32_t *z,
                        int qmax, int cout, int per_out) {
    for (int c = 0; c < cout; c++) {
        const size_t o = (size_t)c * per_out;
        for (int k = 0; k < per_out; k++) {
            long q = (long)wf[o + k] + (alpha[o + k] >= 0.0f ? 1 : 0) + z[c];
            codes[o + k] = (int32_t)(q < 0 ? 0 : (q > qmax ? qmax : q));
        }
    }
}

double bq_adaround_undecided(const float *alpha, size_t n, float eps) {
    if (n == 0) return 0.0;
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        float h = bq_ada_h(alpha[i]);
        if (h > eps && h < 1.0f - eps) u++;
    }
    return (double)u / (double)n;
}
