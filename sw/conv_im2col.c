/*
 * conv_im2col.c — the im2col + cblas_sgemm implementation of conv2d (BQ_CONV_IM2COL).
 *
 * Per image and group: col (Kg, P) = im2col(image), Kg = Cin/g*Kh*Kw, P = Hout*Wout;
 *   forward : out_g (Cout_g, P) = W_g (Cout_g, Kg) @ col (+ bias)
 *   backward: dW_g += dout_g (Cout_g, P) @ col^T;  dcol = W_g^T @ dout_g;  dinp_g += col2im(dcol)
 * Scratch: col and dcol, Kg*P floats each. Simple and obviously correct; sw/conv.c holds the
 * faster default (see ops.h).
 */
#include "ops.h"

#include <cblas.h>
#include <string.h>

size_t bq_conv2d_im2col_scratch_floats(const bq_conv_shape *cs);
void bq_conv2d_im2col_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const bq_conv_shape *cs, float *scratch);
void bq_conv2d_im2col_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const bq_conv_shape *cs,
                               float *scratch);

size_t bq_conv2d_im2col_scratch_floats(const bq_conv_shape *cs) {
    size_t kg = (size_t)(cs->cin / cs->groups) * cs->kh * cs->kw;
    return 2 * kg * (size_t)cs->hout * cs->wout;
}

void bq_conv2d_im2col_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const bq_conv_shape *cs, float *scratch) {
    const int g = cs->groups, cin_g = cs->cin / g, cout_g = cs->cout / g;
    const int kg = cin_g * cs->kh * cs->kw, p = cs->hout * cs->wout;
    const size_t in_img = (size_t)cs->cin * cs->h * cs->w, out_img = (size_t)cs->cout * p;
    for (int n = 0; n < cs->n; n++)
        for (int gi = 0; gi < g; gi++) {
            bq_im2col(scratch, inp + n * in_img + (size_t)gi * cin_g * cs->h * cs->w, cs, 0.0f);
            float *o = out + n * out_img + (size_t)gi * cout_g * p;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, p, kg, 1.0f,
                        weight + (size_t)gi * cout_g * kg, kg, scratch, p, 0.0f, o, p);
            if (bias)
                for (int c = 0; c < cout_g; c++)
                    for (int i = 0; i < p; i++) o[(size_t)c * p + i] += bias[gi * cout_g + c];
        }
}

void bq_conv2d_im2col_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const bq_conv_shape *cs,
                               float *scratch) {
    const int g = cs->groups, cin_g = cs->cin / g, cout_g = cs->cout / g;
    const int kg = cin_g * cs->kh * cs->kw, p = cs->hout * cs->wout;
    const size_t in_img = (size_t)cs->cin * cs->h * cs->w, out_img = (size_t)cs->cout * p;
    float *col = scratch, *dcol = scratch + (size_t)kg * p;
    for (int n = 0; n < cs->n; n++)
        for (int gi = 0; gi < g; gi++) {
            const float *dq = dout + n * out_img + (size_t)gi * cout_g * p;
            const float *wg = weight + (size_t)gi * cout_g * kg;
            if (dbias)
                for (int c = 0; c < cout_g; c++) {
                    float s = 0.0f;
                    for (int i = 0; i < p; i++) s += dq[(size_t)c * p + i];
                    dbias[gi * cout_g + c] += s;
                }
            if (dweight) {
                bq_im2col(col, inp + n * in_img + (size_t)gi * cin_g * cs->h * cs->w, cs, 0.0f);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout_g, kg, p, 1.0f, dq, p,
                            col, p, 1.0f, dweight + (size_t)gi * cout_g * kg, kg);
            }
            if (dinp) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, p, cout_g, 1.0f, wg, kg,
                            dq, p, 0.0f, dcol, p);
                bq_col2im(dinp + n * in_img + (size_t)gi * cin_g * cs->h * cs->w, dcol, cs);
            }
        }
}
