/*
 * quant.c — quantizer math (see quant.h and docs/numerics.md).
 */
#include "quant/quant.h"

#if defined(__GNUC__) && !defined(__clang__)
/* lets the candidate-score loop vectorise (floor/nearbyint, see fastmath.h); before the includes,
 * so that the inline helpers get the same options and really inline */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif
#include "core/fastmath.h"

#include <assert.h>
#include <float.h>
#include <math.h>


/* Mean |x - x_hat|^p of one candidate grid (s, z). This is the whole cost of the range search (80
 * candidates x every calibration value), so it runs in chunks: a branch-free, vectorised pass
 * computes each element's error (codes in double: the rounding rule must be exact; |d|^p by the
 * fastmath approximation, relative error < 2e-5, far below the score differences that pick a
 * grid), then a plain double sum keeps the total independent of the vector width. */
static double candidate_score(const float *x, size_t count, double s, int32_t z, int bits, double p,
                              int half_up) {
    enum { CHUNK = 1024 };
    float err[CHUNK];
    const double hi = (double)bq_qmax(bits), zd = (double)z;
    const float pf = (float)p;
    const int square = p == 2.0;
    double acc = 0.0;
    for (size_t c0 = 0; c0 < count; c0 += CHUNK) {
        const size_t n = count - c0 < CHUNK ? count - c0 : CHUNK;
        const float *xc = x + c0;
        for (size_t i = 0; i < n; i++) {   /* |x - x_hat| */
            const double v = (double)xc[i] / s;
            const double r_up = floor(v + 0.5), r_even = nearbyint(v);   /* both: no branch */
            double q = (half_up ? r_up : r_even) + zd;
            q = q < 0.0 ? 0.0 : (q > hi ? hi : q);
            err[i] = (float)fabs((double)xc[i] - (q - zd) * s);
        }
        if (square)
            for (size_t i = 0; i < n; i++) err[i] *= err[i];
        else
            for (size_t i = 0; i < n; i++) err[i] = bq_fast_pow_inline(err[i], pf);
        for (size_t i = 0; i < n; i++) acc += (double)err[i];
    }
    return acc / (double)(count ? count : 1);
}

/* The grid of one candidate range [lo, hi]: s = (hi-lo)/(2^b-1), z = clamp(round(-lo/s)). Scales
 * are stored as float; the candidate is scored with the float-rounded scale it would store. */
static void candidate_grid(double lo, double hi, int bits, float *s, int32_t *z, int half_up) {
    float sf = (float)((hi - lo) / (double)bq_qmax(bits));
    double zz = (double)(-lo) / (double)sf;
    zz = half_up ? floor(zz + 0.5) : nearbyint(zz);
    double qm = (double)bq_qmax(bits);
    *s = sf;
    *z = (int32_t)(zz < 0.0 ? 0.0 : (zz > qm ? qm : zz));
}

void bq_range_search(float *scale, int32_t *zero, const float *x, size_t count, int bits, float p,
                     int half_up) {
    assert(bits >= 1 && bits <= 16);   /* callers' contract: every bits value is range-checked */
    double xmin = DBL_MAX, xmax = -DBL_MAX;
    size_t nonfinite = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(x[i])) { nonfinite++; continue; }
        if (x[i] < xmin) xmin = x[i];
        if (x[i] > xmax) xmax = x[i];
    }
    if (nonfinite == count || (xmin == 0.0 && xmax == 0.0)) {   /* all-zero: any grid is exact */
        *scale = 1.0f;
        *zero = 0;
        return;
    }
    if (nonfinite) {
        /* Loaders refuse non-finite weights, but finite weights near FLT_MAX can still overflow an
         * activation to inf. The scores would all be NaN: take the plain min/max grid instead of
         * asserting (a deterministic, if poor, answer; docs/reliability.md). */
        float s;
        int32_t z;
        candidate_grid(xmin < 0.0 ? xmin : 0.0, xmax > 0.0 ? xmax : 0.0, bits, &s, &z, half_up);
        *scale = s > 0.0f && isfinite(s) ? s : 1.0f;
        *zero = z;
        return;
    }
    if (!(xmax - xmin > 0.0) || (float)((xmax - xmin) / (double)bq_qmax(bits)) <= FLT_MIN) {
        /* constant (or denormal-range) data: widen to include 0 so the value itself is on the grid */
        if (xmin > 0.0) xmin = 0.0;
        if (xmax < 0.0) xmax = 0.0;
    }
    double best = INFINITY;
    float bs = 1.0f;
    int32_t bz = 0;
    for (int i = 0; i < BQ_RANGE_CANDIDATES; i++) {
        double f = 1.0 - BQ_RANGE_STEP * i;
        double lo = xmin * f, hi = xmax * f;
        float s;
        int32_t z;
        candidate_grid(lo, hi, bits, &s, &z, half_up);
        if (!(s > 0.0f) || !isfinite(s)) continue;
        double sc = candidate_score(x, count, (double)s, z, bits, (double)p, half_up);
        if (sc < best) { best = sc; bs = s; bz = z; }   /* strict: first best wins (reference) */
    }
    *scale = bs;
    *zero = bz;
}

void bq_wq_init_mse(float *scale, int32_t *zero, const float *w, int cout, int per_out, int bits,
                    float p) {
    for (int c = 0; c < cout; c++)
        bq_range_search(&scale[c], &zero[c], w + (size_t)c * per_out, (size_t)per_out, bits, p, 0);
}

void bq_wq_quantize(uint8_t *codes, const float *w, const float *scale, const int32_t *zero,
                    int cout, int per_out, int bits) {
    for (int c = 0; c < cout; c++)
        for (int k = 0; k < per_out; k++) {
            size_t i = (size_t)c * per_out + k;
            codes[i] = (uint8_t)bq_wq_code(w[i], scale[c], zero[c], bits);
        }
}

void bq_wq_dequantize(float *w_hat, const uint8_t *codes, const float *scale, const int32_t *zero,
                      int cout, int per_out) {
    for (int c = 0; c < cout; c++)
        for (int k = 0; k < per_out; k++) {
            size_t i = (size_t)c * per_out + k;
            w_hat[i] = (float)((int32_t)codes[i] - zero[c]) * scale[c];
        }
}

void bq_aq_init_mse(float *scale, int32_t *zero, const float *x, size_t count, int bits, float p) {
    bq_range_search(scale, zero, x, count, bits, p, 1);
}

void bq_aq_fake(float *out, const float *in, size_t count, float s, int32_t z, int bits) {
    for (size_t i = 0; i < count; i++)
        out[i] = (float)(bq_aq_code(in[i], s, z, bits) - z) * s;
}

int bq_requant_make(bq_requant *rq, double ratio_acc, double ratio_res) {
    if (!(ratio_acc >= 0.0) || !(ratio_res >= 0.0) || !isfinite(ratio_acc) || !isfinite(ratio_res))
        return -1;
    const double lim = 2147483648.0;   /* 2^31 */
    for (int sh = 62; sh >= 1; sh--) {
        double ma = bq_round_half_even(ldexp(ratio_acc, sh));
        double mr = bq_round_half_even(ldexp(ratio_res, sh));
        if (ma < lim && mr < lim) {
            rq->m_acc = (uint32_t)ma;
            rq->m_res = (uint32_t)mr;
            rq->sh = sh;
            return 0;
        }
    }
    return -1;
}

void bq_out_clamp(int32_t *lo, int32_t *hi, int act_kind, float clo, float chi, float s_o,
                  int32_t z_o, int bits) {
    int32_t l = 0, h = bq_qmax(bits);
    double a = -INFINITY, b = INFINITY;
    if (act_kind == BQ_OUTACT_RELU) a = 0.0;
    else if (act_kind == BQ_OUTACT_RELU6) { a = 0.0; b = 6.0; }
    else if (act_kind == BQ_OUTACT_CLAMP) { a = clo; b = chi; }
    if (isfinite(a)) {
        double v = (double)z_o + bq_round_half_up(a / (double)s_o);
        if (v > l) l = v > h ? h : (int32_t)v;
    }
    if (isfinite(b)) {
        double v = (double)z_o + bq_round_half_up(b / (double)s_o);
        if (v < h) h = v < l ? l : (int32_t)v;
    }
    *lo = l;
    *hi = h;
}
