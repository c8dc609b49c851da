/*
 * batchnorm.c — batch normalisation over (N,H,W) per channel (see ops.h).
 * Tensors are (N, C, HW); one channel's data is N strided planes of HW floats.
 * Sums are accumulated in double: with N*HW in the 10^5 range a float sum loses ~3 digits,
 * and the variance is a difference of nearly equal quantities.
 */
#include "ops.h"

#include <math.h>

void bq_batchnorm_train_forward(float *out, float *mean_out, float *rstd_out,
                                float *running_mean, float *running_var, const float *inp,
                                const float *gamma, const float *beta, int n, int c, int hw,
                                float eps, float momentum) {
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) {
            const float *x = inp + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) s += x[j];
        }
        const double mean = s / m;
        /* Two-pass variance: no catastrophic cancellation when |mean| >> std. */
        double v = 0.0;
        for (int i = 0; i < n; i++) {
            const float *x = inp + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                double d = x[j] - mean;
                v += d * d;
            }
        }
        const double var = v / m;
        const float rstd = (float)(1.0 / sqrt(var + eps));
        const float scale = gamma[ch] * rstd;
        const float shift = beta[ch] - (float)mean * scale;
        for (int i = 0; i < n; i++) {
            const float *x = inp + ((size_t)i * c + ch) * hw;
            float *y = out + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) y[j] = x[j] * scale + shift;
        }
        if (mean_out) mean_out[ch] = (float)mean;
        if (rstd_out) rstd_out[ch] = rstd;
        if (running_mean)
            running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * (float)mean;
        if (running_var) {
            double unbiased = m > 1.0 ? v / (m - 1.0) : var;
            running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (float)unbiased;
        }
    }
}

/* With xhat = (x - mean) * rstd and M = N*HW:
 *   dbeta  = sum dout,  dgamma = sum dout * xhat,
 *   dinp  += gamma * rstd * (dout - dbeta / M - xhat * dgamma / M). */
void bq_batchnorm_train_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int n, int c, int hw) {
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        const float mu = mean[ch], rs = rstd[ch];
        double sg = 0.0, sgx = 0.0;
        for (int i = 0; i < n; i++) {
            const float *x = inp + ((size_t)i * c + ch) * hw;
            const float *g = dout + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                sg += g[j];
                sgx += g[j] * ((x[j] - mu) * rs);
            }
        }
        if (dbeta) dbeta[ch] += (float)sg;
        if (dgamma) dgamma[ch] += (float)sgx;
        if (!dinp) continue;
        const float k = gamma[ch] * rs;
        const float mg = (float)(sg / m), mgx = (float)(sgx / m);
        for (int i = 0; i < n; i++) {
            const float *x = inp + ((size_t)i * c + ch) * hw;
            const float *g = dout + ((size_t)i * c + ch) * hw;
            float *d = dinp + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) d[j] += k * (g[j] - mg - (x[j] - mu) * rs * mgx);
        }
    }
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
