/*
 * batchnorm.c — batch normalisation over (N,H,W) per channel (see ops.h).
 * Tensors are (N, C, HW); one channel's data is N strided planes of HW floats.
 * Per plane, sums run in 16 float lanes (a scalar sum is one 4-cycle add chain per element and
 * the loops are memory-light otherwise); the planes are then summed in double, since with N*HW
 * in the 10^5 range a float total would lose ~3 digits and the variance is a difference of
 * nearly equal quantities. Channels are independent, so large tensors split them over threads
 * (parallel.h); every channel's arithmetic is the same whatever the split.
 */
#include "nn/ops.h"
#include "core/parallel.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 cost model leaves loops with unknown trip counts scalar; these are worth it. */
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
/* Vectors only pass between static helpers here: the psABI note (GCC, clang) does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define VL 16
typedef float vf __attribute__((vector_size(VL * sizeof(float))));

static inline vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline float lanes_sum(const vf *v) {
    float s = 0.0f;
    for (int l = 0; l < VL; l++) s += (*v)[l];
    return s;
}

/* sum_j (x[j] - shift) */
static double plane_sum(const float *x, int n, float shift) {
    vf acc = {0};
    int j = 0;
    for (; j + VL <= n; j += VL) acc += vload(x + j) - shift;
    double s = lanes_sum(&acc);
    for (; j < n; j++) s += x[j] - shift;
    return s;
}

/* sum_j (x[j] - shift)^2 */
static double plane_sumsq(const float *x, int n, float shift) {
    vf acc = {0};
    int j = 0;
    for (; j + VL <= n; j += VL) {
        vf d = vload(x + j) - shift;
        acc += d * d;
    }
    double s = lanes_sum(&acc);
    for (; j < n; j++) s += (double)(x[j] - shift) * (x[j] - shift);
    return s;
}

/* sum_j g[j] and sum_j g[j] * (x[j] - mu) */
static void plane_dot(const float *g, const float *x, int n, float mu, double *sg, double *sgx) {
    vf a = {0}, b = {0};
    int j = 0;
    for (; j + VL <= n; j += VL) {
        vf gv = vload(g + j);
        a += gv;
        b += gv * (vload(x + j) - mu);
    }
    double s0 = lanes_sum(&a), s1 = lanes_sum(&b);
    for (; j < n; j++) {
        s0 += g[j];
        s1 += (double)g[j] * (x[j] - mu);
    }
    *sg += s0;
    *sgx += s1;
}

/* Below this many elements per thread, starting a thread costs more than it saves. */
#define BN_MIN_ELEMS ((size_t)1 << 15)

/* Channels per thread so each gets at least BN_MIN_ELEMS elements. */
static size_t bn_min_channels(int n, int hw) {
    size_t per = (size_t)n * (size_t)hw;
    return per >= BN_MIN_ELEMS ? 1 : (BN_MIN_ELEMS + per - 1) / per;
}

typedef struct {
    float *out, *mean_out, *rstd_out, *running_mean, *running_var;
    const float *inp, *gamma, *beta;
    int n, c, hw;
    float eps, momentum;
} bn_fwd_args;

static void bn_fwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const bn_fwd_args *a = ctx;
    (void)idx;
    const int n = a->n, c = a->c, hw = a->hw;
    const double m = (double)n * hw;
    for (int ch = (int)lo; ch < (int)hi; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += plane_sum(a->inp + ((size_t)i * c + ch) * hw, hw, 0.0f);
        const double mean = s / m;
        /* Two-pass variance: no catastrophic cancellation when |mean| >> std. */
        double v = 0.0;
        for (int i = 0; i < n; i++)
            v += plane_sumsq(a->inp + ((size_t)i * c + ch) * hw, hw, (float)mean);
        const double var = v / m;
        const float rstd = (float)(1.0 / sqrt(var + a->eps));
        const float scale = a->gamma[ch] * rstd;
        const float shift = a->beta[ch] - (float)mean * scale;
        for (int i = 0; i < n; i++) {
            const float *x = a->inp + ((size_t)i * c + ch) * hw;
            float *y = a->out + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) y[j] = x[j] * scale + shift;
        }
        if (a->mean_out) a->mean_out[ch] = (float)mean;
        if (a->rstd_out) a->rstd_out[ch] = rstd;
        if (a->running_mean)
            a->running_mean[ch] = (1.0f - a->momentum) * a->running_mean[ch] +
                                  a->momentum * (float)mean;
        if (a->running_var) {
            double unbiased = m > 1.0 ? v / (m - 1.0) : var;
            a->running_var[ch] = (1.0f - a->momentum) * a->running_var[ch] +
                                 a->momentum * (float)unbiased;
        }
    }
}

void bq_batchnorm_train_forward(float *out, float *mean_out, float *rstd_out,
                                float *running_mean, float *running_var, const float *inp,
                                const float *gamma, const float *beta, int n, int c, int hw,
                                float eps, float momentum) {
    bn_fwd_args a = {out, mean_out, rstd_out, running_mean, running_var, inp, gamma, beta,
                     n, c, hw, eps, momentum};
    bq_parallel_for((size_t)c, bn_min_channels(n, hw), bn_fwd_range, &a);
}

typedef struct {
    float *dinp, *dgamma, *dbeta;
    const float *dout, *inp, *mean, *rstd, *gamma;
    int n, c, hw;
} bn_bwd_args;

static void bn_bwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const bn_bwd_args *a = ctx;
    (void)idx;
    const int n = a->n, c = a->c, hw = a->hw;
    const double m = (double)n * hw;
    for (int ch = (int)lo; ch < (int)hi; ch++) {
        const float mu = a->mean[ch], rs = a->rstd[ch];
        double sg = 0.0, sgx = 0.0;   /* sgx accumulates dout * (x - mu); times rs below */
        for (int i = 0; i < n; i++)
            plane_dot(a->dout + ((size_t)i * c + ch) * hw, a->inp + ((size_t)i * c + ch) * hw,
                      hw, mu, &sg, &sgx);
        sgx *= rs;
        if (a->dbeta) a->dbeta[ch] += (float)sg;
        if (a->dgamma) a->dgamma[ch] += (float)sgx;
        if (!a->dinp) continue;
        const float k = a->gamma[ch] * rs;
        const float mg = (float)(sg / m), mgx = (float)(sgx / m) * rs;
        for (int i = 0; i < n; i++) {
            const float *x = a->inp + ((size_t)i * c + ch) * hw;
            const float *g = a->dout + ((size_t)i * c + ch) * hw;
            float *d = a->dinp + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) d[j] += k * (g[j] - mg - (x[j] - mu) * mgx);
        }
    }
}

/* With xhat = (x - mean) * rstd and M = N*HW:
 *   dbeta  = sum dout,  dgamma = sum dout * xhat,
 *   dinp  += gamma * rstd * (dout - dbeta / M - xhat * dgamma / M). */
void bq_batchnorm_train_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int n, int c, int hw) {
    bn_bwd_args a = {dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, n, c, hw};
    bq_parallel_for((size_t)c, bn_min_channels(n, hw), bn_bwd_range, &a);
}

void bq_batchnorm_eval_forward(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, int n, int c, int hw, float eps) {
    for (int ch = 0; ch < c; ch++) {
        const float scale = gamma[ch] / sqrtf(running_var[ch] + eps);
        const float shift = beta[ch] - running_mean[ch] * scale;
        for (int i = 0; i < n; i++) {
            const float *x = inp + ((size_t)i * c + ch) * hw;
            float *y = out + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) y[j] = x[j] * scale + shift;
        }
    }
}

/* BN(conv(x)) = scale * (W x + b - mean) + beta with scale = gamma / sqrt(var + eps), so
 * W' = scale * W and b' = scale * (b - mean) + beta. */
void bq_batchnorm_fold(float *weight, float *bias, const float *gamma, const float *beta,
                       const float *running_mean, const float *running_var, int cout,
                       int per_out, float eps) {
    for (int c = 0; c < cout; c++) {
        const float scale = gamma[c] / sqrtf(running_var[c] + eps);
        float *w = weight + (size_t)c * per_out;
        for (int j = 0; j < per_out; j++) w[j] *= scale;
        bias[c] = scale * (bias[c] - running_mean[c]) + beta[c];
    }
}
