/*
 * conv_im2col.c — the im2col + cblas_sgemm implementation of conv2d (BQ_CONV_IM2COL).
 *
 * Images are processed in chunks of c images whose columns sit side by side, so each group is
 * one large GEMM per chunk instead of one thin GEMM per image (Kg = Cin/g*Kh*Kw, P = Hout*Wout):
 *   forward : out_g (Cout_g, c*P) = W_g (Cout_g, Kg) @ col (Kg, c*P) (+ bias), scattered to NCHW
 *   backward: dq = dout gathered to (Cout_g, c*P);  dW_g += dq @ col^T;
 *             dcol = W_g^T @ dq;  dinp += col2im(dcol)
 * On the 64-channel 7x7 layers of fres20 at batch 32 this is one (64 x 1568 x 576) GEMM, which
 * OpenBLAS runs at ~3x the direct kernel's rate (docs/brecq.md). The chunk is capped so the
 * columns stay a few MB (COL_FLOATS) whatever the batch. im2col, col2im and the scatter/gather
 * run over images on the threads of parallel.h; the GEMMs use OpenBLAS's threads.
 * Scratch: col or dcol (Kg x c*P) + the GEMM output or dq (Cout_g x c*P).
 */
#include "nn/conv_internal.h"
#include "core/parallel.h"

#include <cblas.h>
#include <string.h>

#define COL_FLOATS (1u << 20)  /* cap of one chunk's col matrix (4 MB) */

static int chunk_images(const bq_conv_shape *cs) {
    size_t per = (size_t)(cs->cin / cs->groups) * cs->kh * cs->kw * cs->hout * cs->wout;
    size_t c = COL_FLOATS / (per ? per : 1);
    if (c < 1) c = 1;
    if (c > (size_t)cs->n) c = (size_t)cs->n;
    return (int)c;
}

size_t bq_conv2d_im2col_scratch_floats(const bq_conv_shape *cs) {
    const size_t kg = (size_t)(cs->cin / cs->groups) * cs->kh * cs->kw;
    const size_t cout_g = (size_t)(cs->cout / cs->groups);
    const size_t cp = (size_t)chunk_images(cs) * cs->hout * cs->wout;
    return (kg + cout_g) * cp;
}

/* One chunk of one group, split over images [lo, hi) of the chunk by bq_parallel_for. */
typedef struct {
    const bq_conv_shape *cs;
    const float *inp, *dout, *bias;
    float *out, *dinp, *col, *buf;
    int n0, gi;                /* first image of the chunk, group */
    size_t ld;                 /* c * P */
} chunk_job;

static void im2col_range(void *ctx, int idx, size_t lo, size_t hi) {
    const chunk_job *j = ctx;
    const bq_conv_shape *cs = j->cs;
    const size_t p = (size_t)cs->hout * cs->wout, in_img = (size_t)cs->cin * cs->h * cs->w;
    const size_t g_off = (size_t)j->gi * (cs->cin / cs->groups) * cs->h * cs->w;
    (void)idx;
    for (size_t i = lo; i < hi; i++)
        bq_im2col_ld(j->col + i * p, j->ld, j->inp + (j->n0 + i) * in_img + g_off, cs, 0.0f);
}

static void scatter_range(void *ctx, int idx, size_t lo, size_t hi) {
    const chunk_job *j = ctx;
    const bq_conv_shape *cs = j->cs;
    const int cout_g = cs->cout / cs->groups;
    const size_t p = (size_t)cs->hout * cs->wout, out_img = (size_t)cs->cout * p;
    (void)idx;
    for (size_t i = lo; i < hi; i++)
        for (int c = 0; c < cout_g; c++) {
            const int co = j->gi * cout_g + c;
            const float bv = j->bias ? j->bias[co] : 0.0f;
            const float *src = j->buf + (size_t)c * j->ld + i * p;
            float *dst = j->out + (j->n0 + i) * out_img + (size_t)co * p;
            for (size_t k = 0; k < p; k++) dst[k] = src[k] + bv;
        }
}

static void gather_range(void *ctx, int idx, size_t lo, size_t hi) {
    const chunk_job *j = ctx;
    const bq_conv_shape *cs = j->cs;
    const int cout_g = cs->cout / cs->groups;
    const size_t p = (size_t)cs->hout * cs->wout, out_img = (size_t)cs->cout * p;
    (void)idx;
    for (size_t i = lo; i < hi; i++)
        for (int c = 0; c < cout_g; c++)
            memcpy(j->buf + (size_t)c * j->ld + i * p,
                   j->dout + (j->n0 + i) * out_img + (size_t)(j->gi * cout_g + c) * p,
                   sizeof(float) * p);
}

static void col2im_range(void *ctx, int idx, size_t lo, size_t hi) {
    const chunk_job *j = ctx;
    const bq_conv_shape *cs = j->cs;
    const size_t p = (size_t)cs->hout * cs->wout, in_img = (size_t)cs->cin * cs->h * cs->w;
    const size_t g_off = (size_t)j->gi * (cs->cin / cs->groups) * cs->h * cs->w;
    (void)idx;
    for (size_t i = lo; i < hi; i++)
        bq_col2im_ld(j->dinp + (j->n0 + i) * in_img + g_off, j->col + i * p, j->ld, cs);
}

void bq_conv2d_im2col_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const bq_conv_shape *cs, float *scratch) {
    const int g = cs->groups, cout_g = cs->cout / g;
    const int kg = (cs->cin / g) * cs->kh * cs->kw, p = cs->hout * cs->wout;
    const int chunk = chunk_images(cs);
    chunk_job j = {.cs = cs, .inp = inp, .bias = bias, .out = out, .col = scratch};
    for (int n0 = 0; n0 < cs->n; n0 += chunk) {
        const int c = cs->n - n0 < chunk ? cs->n - n0 : chunk;
        j.n0 = n0;
        j.ld = (size_t)c * p;
        j.buf = scratch + (size_t)kg * j.ld;
        for (int gi = 0; gi < g; gi++) {
            j.gi = gi;
            bq_parallel_for((size_t)c, 1, im2col_range, &j);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, (int)j.ld, kg, 1.0f,
                        weight + (size_t)gi * cout_g * kg, kg, j.col, (int)j.ld, 0.0f, j.buf,
                        (int)j.ld);
            bq_parallel_for((size_t)c, 1, scatter_range, &j);
        }
    }
}

void bq_conv2d_im2col_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const bq_conv_shape *cs,
                               float *scratch) {
    const int g = cs->groups, cout_g = cs->cout / g;
    const int kg = (cs->cin / g) * cs->kh * cs->kw, p = cs->hout * cs->wout;
    const size_t out_img = (size_t)cs->cout * p;
    if (dbias)
        for (int n = 0; n < cs->n; n++)
            for (int c = 0; c < cs->cout; c++) {
                const float *dq = dout + n * out_img + (size_t)c * p;
                float s = 0.0f;
                for (int i = 0; i < p; i++) s += dq[i];
                dbias[c] += s;
            }
    if (!dinp && !dweight) return;
    const int chunk = chunk_images(cs);
    chunk_job j = {.cs = cs, .inp = inp, .dout = dout, .dinp = dinp};
    for (int n0 = 0; n0 < cs->n; n0 += chunk) {
        const int c = cs->n - n0 < chunk ? cs->n - n0 : chunk;
        j.n0 = n0;
        j.ld = (size_t)c * p;
        /* dq in the second buffer, col / dcol (one at a time) in the first */
        j.buf = scratch + (size_t)kg * j.ld;
        j.col = scratch;
        for (int gi = 0; gi < g; gi++) {
            j.gi = gi;
            bq_parallel_for((size_t)c, 1, gather_range, &j);
            if (dweight) {
                bq_parallel_for((size_t)c, 1, im2col_range, &j);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout_g, kg, (int)j.ld, 1.0f,
                            j.buf, (int)j.ld, j.col, (int)j.ld, 1.0f,
                            dweight + (size_t)gi * cout_g * kg, kg);
            }
            if (dinp) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, (int)j.ld, cout_g, 1.0f,
                            weight + (size_t)gi * cout_g * kg, kg, j.buf, (int)j.ld, 0.0f, j.col,
                            (int)j.ld);
                bq_parallel_for((size_t)c, 1, col2im_range, &j);
            }
        }
    }
}
