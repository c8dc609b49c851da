/*
 * linear.c — fully connected layer (see ops.h): out (N,OC) = inp (N,IC) @ W (OC,IC)^T + b (OC).
 */
#include "nn/ops.h"

#include <cblas.h>

void bq_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int n, int ic, int oc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, oc, ic, 1.0f, inp, ic, weight, ic,
                0.0f, out, oc);
    if (bias)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < oc; o++) out[(size_t)i * oc + o] += bias[o];
}

void bq_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int n, int ic, int oc) {
    /* dinp (N,IC) += dout (N,OC) @ W (OC,IC) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, ic, oc, 1.0f, dout, oc, weight,
                    ic, 1.0f, dinp, ic);
    /* dW (OC,IC) += dout^T (OC,N) @ inp (N,IC) */
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, oc, ic, n, 1.0f, dout, oc, inp, ic,
                    1.0f, dweight, ic);
    if (dbias)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < oc; o++) dbias[o] += dout[(size_t)i * oc + o];
}
