/* adaround.c — AdaRound soft rounding (see adaround.h for the math). */
#include "quant/adaround.h"

#include <math.h>

#include "core/fastmath.h"
#include "quant/fisher.h"   /* bq_fast_pow */
#include "core/parallel.h"

#if defined(__GNUC__) && !defined(__clang__)
/* vectorise the fused gradient loop (see lsq.c; values are unchanged) */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif

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

/* ---- the fused per-iteration pair (same values as forward + backward + reg above) ---- */

typedef struct {
    float *wsoft, *sg, *dalpha;
    const float *alpha, *wf, *dwsoft, *s;
    const int32_t *z;
    float qm, lambda, beta;
    int per_out, reg_on;
    double *reg;               /* per-channel regulariser sums */
} ada_job;

static void fwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ada_job *j = ctx;
    (void)idx;
    for (size_t c = lo; c < hi; c++) {
        const float sc = j->s[c], zc = (float)j->z[c], qm = j->qm;
        const size_t o = c * (size_t)j->per_out;
        for (int k = 0; k < j->per_out; k++) {
            const float sg = sigm(j->alpha[o + k]);
            float v = sg * (BQ_ADA_ZETA - BQ_ADA_GAMMA) + BQ_ADA_GAMMA;
            v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            float q = j->wf[o + k] + v + zc;
            q = q < 0.0f ? 0.0f : (q > qm ? qm : q);
            j->wsoft[o + k] = (q - zc) * sc;
            j->sg[o + k] = sg;
        }
    }
}

void bq_adaround_forward_sg(float *wsoft, float *sg, const float *alpha, const float *wf,
                            const float *s, const int32_t *z, int qmax, int cout, int per_out) {
    ada_job j = {.wsoft = wsoft, .sg = sg, .alpha = alpha, .wf = wf, .s = s, .z = z,
                 .qm = (float)qmax, .per_out = per_out};
    bq_parallel_for((size_t)cout, (size_t)(8192 / (per_out > 0 ? per_out : 1)) + 1, fwd_range, &j);
}

static void grad_range(void *ctx, int idx, size_t lo, size_t hi) {
    const ada_job *j = ctx;
    const float zg = BQ_ADA_ZETA - BQ_ADA_GAMMA, lambda = j->lambda, beta = j->beta;
    (void)idx;
    for (size_t c = lo; c < hi; c++) {
        const float sc = j->s[c], zc = (float)j->z[c], qm = j->qm;
        const size_t o = c * (size_t)j->per_out;
        const float *sgp = j->sg + o, *wf = j->wf + o, *dw = j->dwsoft + o;
        float *da = j->dalpha + o;
        double sum = 0.0;
        for (int k = 0; k < j->per_out; k++) {
            const float sg = sgp[k];
            const float v = sg * zg + BQ_ADA_GAMMA;
            const float h = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            const float dh = ((v <= 0.0f) | (v >= 1.0f)) ? 0.0f : sg * (1.0f - sg) * zg;
            const float q = wf[k] + h + zc;
            const int inside = !((q < 0.0f) | (q > qm));
            float d = 0.0f + (inside ? dw[k] * sc * dh : 0.0f);
            da[k] = d;
        }
        /* regulariser in tiles: a vectorised pass (p kept in ptile), then the double sum */
        float ptile[512];
        for (int k0 = 0; j->reg_on && k0 < j->per_out; k0 += 512) {
            const int kn = j->per_out - k0 < 512 ? j->per_out - k0 : 512;
            for (int t = 0; t < kn; t++) {
                const int k = k0 + t;
                const float sg = sgp[k];
                const float v = sg * zg + BQ_ADA_GAMMA;
                const float dh = (v <= 0.0f) ? 0.0f : ((v >= 1.0f) ? 0.0f : sg * (1.0f - sg) * zg);
                /* u = 2h - 1 with h = clamp(v, 0, 1), written without the clamp (GCC did not
                 * vectorise it): same sign, and |u| = 1 exactly where the clamp acts, where
                 * |u|^beta = 1 and dh = 0 */
                const float u = 2.0f * v - 1.0f, au = fabsf(u);
                const float p0 = bq_fast_pow_inline(au, beta);   /* 0 at au = 0, as above */
                const float p = au > 1.0f ? 1.0f : p0;
                ptile[t] = p;
                const float g = -beta * (p / au) * (u > 0.0f ? 1.0f : -1.0f) * 2.0f * dh;
                /* da[k] is never -0 (0.0f + ... above), so adding +0 where the term is off keeps
                 * it bit-identical to skipping the add; au = 0 (0/0 above) is masked here */
                const float add = (dh != 0.0f) ? lambda * g : 0.0f;
                da[k] += (au > 0.0f) ? add : 0.0f;
            }
            for (int t = 0; t < kn; t++) sum += 1.0 - ptile[t];
        }
        j->reg[c] = sum;
    }
}

double bq_adaround_grad(float *dalpha, const float *dwsoft, const float *sg, const float *wf,
                        const float *s, const int32_t *z, int qmax, int cout, int per_out,
                        int reg_on, float lambda, float beta, double *reg_scratch) {
    ada_job j = {.dalpha = dalpha, .sg = (float *)(uintptr_t)sg, .wf = wf, .dwsoft = dwsoft,
                 .s = s, .z = z, .qm = (float)qmax, .lambda = lambda, .beta = beta,
                 .per_out = per_out, .reg_on = reg_on, .reg = reg_scratch};
    bq_parallel_for((size_t)cout, (size_t)(8192 / (per_out > 0 ? per_out : 1)) + 1, grad_range, &j);
    if (!reg_on) return 0.0;
    double sum = 0.0;
    for (int c = 0; c < cout; c++) sum += reg_scratch[c];
    return (double)lambda * sum;
}
