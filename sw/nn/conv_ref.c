/*
 * conv_ref.c — the plain scalar reference of the conv backward (dX, dW, db), the counterpart of
 * bq_conv2d_forward_ref in conv.c, for tests of the fast kernels (tests/unit/nn/test_conv_dnnl.c).
 * Kept out of conv.c so the reference and the kernels do not share edits.
 */
#include "nn/ops.h"

#include <stddef.h>

/* Backward of bq_conv2d_forward_ref as plain loops in double (one output element at a time):
 * ADDS dX, dW and db into dinp (N,Cin,H,W), dweight (Cout,Cin/g,Kh,Kw), dbias (Cout); NULL
 * skips. Shapes: dout (N,Cout,Hout,Wout), inp (N,Cin,H,W), weight (Cout,Cin/g,Kh,Kw). */
void bq_conv2d_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const bq_conv_shape *cs) {
    const int cin_g = cs->cin / cs->groups, cout_g = cs->cout / cs->groups;
    const size_t plane = (size_t)cs->hout * cs->wout;
    if (dbias)
        for (int co = 0; co < cs->cout; co++) {
            double acc = 0.0;
            for (int n = 0; n < cs->n; n++)
                for (size_t p = 0; p < plane; p++) acc += dout[((size_t)n * cs->cout + co) * plane + p];
            dbias[co] += (float)acc;
        }
    if (dweight)
        for (int co = 0; co < cs->cout; co++)
            for (int ci = 0; ci < cin_g; ci++)
                for (int ky = 0; ky < cs->kh; ky++)
                    for (int kx = 0; kx < cs->kw; kx++) {
                        const int c = (co / cout_g) * cin_g + ci;
                        double acc = 0.0;
                        for (int n = 0; n < cs->n; n++)
                            for (int oy = 0; oy < cs->hout; oy++)
                                for (int ox = 0; ox < cs->wout; ox++) {
                                    int iy = oy * cs->stride_h + ky - cs->pad_t;
                                    int ix = ox * cs->stride_w + kx - cs->pad_l;
                                    if (iy < 0 || iy >= cs->h || ix < 0 || ix >= cs->w) continue;
                                    acc += (double)dout[((size_t)n * cs->cout + co) * plane +
                                                        (size_t)oy * cs->wout + ox] *
                                           inp[(((size_t)n * cs->cin + c) * cs->h + iy) * cs->w + ix];
                                }
                        dweight[(((size_t)co * cin_g + ci) * cs->kh + ky) * cs->kw + kx] +=
                            (float)acc;
                    }
    if (dinp)
        for (int n = 0; n < cs->n; n++)
            for (int c = 0; c < cs->cin; c++) {
                const int g = c / cin_g, ci = c % cin_g;
                for (int iy = 0; iy < cs->h; iy++)
                    for (int ix = 0; ix < cs->w; ix++) {
                        double acc = 0.0;
                        for (int co = g * cout_g; co < (g + 1) * cout_g; co++)
                            for (int ky = 0; ky < cs->kh; ky++)
                                for (int kx = 0; kx < cs->kw; kx++) {
                                    int ty = iy + cs->pad_t - ky, tx = ix + cs->pad_l - kx;
                                    if (ty < 0 || tx < 0 || ty % cs->stride_h || tx % cs->stride_w)
                                        continue;
                                    int oy = ty / cs->stride_h, ox = tx / cs->stride_w;
                                    if (oy >= cs->hout || ox >= cs->wout) continue;
                                    acc += (double)dout[((size_t)n * cs->cout + co) * plane +
                                                        (size_t)oy * cs->wout + ox] *
                                           weight[(((size_t)co * cin_g + ci) * cs->kh + ky) *
                                                  cs->kw + kx];
                                }
                        dinp[(((size_t)n * cs->cin + c) * cs->h + iy) * cs->w + ix] += (float)acc;
                    }
            }
}
