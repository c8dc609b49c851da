/*
 * conv.c — 2-D convolution forward/backward (see ops.h for the contract).
 *
 * Dense and grouped convs go through im2col + cblas_sgemm. To give OpenBLAS a wide GEMM (the
 * channel counts of small CNNs are tiny, 16..64), the columns of several images are laid side by
 * side: col is (Kg, B*P) with P = Hout*Wout, so one GEMM covers B images. B is chosen so the
 * scratch stays under BQ_CONV_SCRATCH_BYTES. Depthwise convs (groups == Cin) use direct loops:
 * a GEMM with M = multiplier and K = Kh*Kw would waste most of the work on packing.
 *
 * Scratch layout (floats), the same in forward and backward:
 *   [ col : Kg * B * P ][ tmp : Cout_g * B * P ]
 * forward : col = im2col of B images, tmp = W_g @ col, scattered into NCHW out (+ bias).
 * backward: tmp = dout of B images gathered into (Cout_g, B*P); dW_g += tmp @ col^T;
 *           then col is reused for dcol = W_g^T @ tmp, scattered back by col2im.
 */
#include "ops.h"

#include <cblas.h>
#include <string.h>

/* Upper bound for the scratch the batched path asks for. Beyond a few MB a larger B no longer
 * makes the GEMM faster, it only pushes im2col output out of cache. */
#define BQ_CONV_SCRATCH_BYTES (8u << 20)

int bq_conv2d_shape(bq_conv_shape *cs, int n, int cin, int h, int w, int cout, int kh, int kw,
                    int stride_h, int stride_w, int pad_t, int pad_l, int pad_b, int pad_r,
                    int groups) {
    memset(cs, 0, sizeof(*cs));
    if (n <= 0 || cin <= 0 || h <= 0 || w <= 0 || cout <= 0 || kh <= 0 || kw <= 0 ||
        stride_h <= 0 || stride_w <= 0 || groups <= 0)
        return -1;
    if (pad_t < 0 || pad_l < 0 || pad_b < 0 || pad_r < 0) return -1;
    if (cin % groups != 0 || cout % groups != 0) return -1;
    if (h + pad_t + pad_b < kh || w + pad_l + pad_r < kw) return -1;
    cs->n = n; cs->cin = cin; cs->h = h; cs->w = w;
    cs->cout = cout; cs->kh = kh; cs->kw = kw;
    cs->stride_h = stride_h; cs->stride_w = stride_w;
    cs->pad_t = pad_t; cs->pad_l = pad_l; cs->pad_b = pad_b; cs->pad_r = pad_r;
    cs->groups = groups;
    cs->hout = (h + pad_t + pad_b - kh) / stride_h + 1;
    cs->wout = (w + pad_l + pad_r - kw) / stride_w + 1;
    return 0;
}

static int is_depthwise(const bq_conv_shape *cs) {
    return cs->groups > 1 && cs->groups == cs->cin;
}

/* 1x1, stride 1, no padding: the input plane already is the column matrix, no im2col needed. */
static int is_pointwise(const bq_conv_shape *cs) {
    return cs->kh == 1 && cs->kw == 1 && cs->stride_h == 1 && cs->stride_w == 1 &&
           cs->pad_t == 0 && cs->pad_l == 0 && cs->pad_b == 0 && cs->pad_r == 0;
}

/* Images per GEMM for the im2col path (>= 1, <= N). */
static int conv_batch(const bq_conv_shape *cs) {
    size_t p = (size_t)cs->hout * cs->wout;
    size_t kg = (size_t)(cs->cin / cs->groups) * cs->kh * cs->kw;
    size_t per_image = (kg + (size_t)(cs->cout / cs->groups)) * p;
    size_t b = (BQ_CONV_SCRATCH_BYTES / sizeof(float)) / per_image;
    if (b < 1) b = 1;
    if (b > (size_t)cs->n) b = (size_t)cs->n;
    return (int)b;
}

size_t bq_conv2d_scratch_floats(const bq_conv_shape *cs) {
    if (is_depthwise(cs) || is_pointwise(cs)) return 1;
    size_t p = (size_t)cs->hout * cs->wout;
    size_t kg = (size_t)(cs->cin / cs->groups) * cs->kh * cs->kw;
    return (kg + (size_t)(cs->cout / cs->groups)) * p * (size_t)conv_batch(cs);
}

/* Range of output positions o in [0, nout) whose input tap i = o*stride + k - pad lies in
 * [0, n): o in [*lo, *hi). Lets the inner loops run without per-element bounds checks. */
static void valid_range(int n, int nout, int stride, int k, int pad, int *lo, int *hi) {
    int off = k - pad;                         /* i = o*stride + off */
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = n - 1 - off < 0 ? 0 : (n - 1 - off) / stride + 1;
    if (h > nout) h = nout;
    if (l > h) l = h;
    *lo = l; *hi = h;
}

/* im2col with an explicit row stride ld (>= P), so several images can share one col matrix. */
static void im2col_ld(float *col, size_t ld, const float *img, const bq_conv_shape *cs,
                      float pad_value) {
    const int cin_g = cs->cin / cs->groups, kh = cs->kh, kw = cs->kw;
    const int h = cs->h, w = cs->w, ho = cs->hout, wo = cs->wout;
    const int sh = cs->stride_h, sw = cs->stride_w;
    for (int ci = 0; ci < cin_g; ci++) {
        const float *plane = img + (size_t)ci * h * w;
        for (int ky = 0; ky < kh; ky++) {
            int oy_lo, oy_hi;
            valid_range(h, ho, sh, ky, cs->pad_t, &oy_lo, &oy_hi);
            for (int kx = 0; kx < kw; kx++) {
                int ox_lo, ox_hi;
                valid_range(w, wo, sw, kx, cs->pad_l, &ox_lo, &ox_hi);
                float *row = col + ((size_t)(ci * kh + ky) * kw + kx) * ld;
                for (int oy = 0; oy < ho; oy++) {
                    float *dst = row + (size_t)oy * wo;
                    if (oy < oy_lo || oy >= oy_hi) {
                        for (int ox = 0; ox < wo; ox++) dst[ox] = pad_value;
                        continue;
                    }
                    const float *src = plane + (size_t)(oy * sh + ky - cs->pad_t) * w
                                       + kx - cs->pad_l;
                    for (int ox = 0; ox < ox_lo; ox++) dst[ox] = pad_value;
                    if (sw == 1) {
                        memcpy(dst + ox_lo, src + ox_lo, sizeof(float) * (size_t)(ox_hi - ox_lo));
                    } else {
                        for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox] = src[ox * sw];
                    }
                    for (int ox = ox_hi; ox < wo; ox++) dst[ox] = pad_value;
                }
            }
        }
    }
}

/* col2im with row stride ld: the exact adjoint of im2col_ld (padding taps are dropped). */
static void col2im_ld(float *img, const float *col, size_t ld, const bq_conv_shape *cs) {
    const int cin_g = cs->cin / cs->groups, kh = cs->kh, kw = cs->kw;
    const int h = cs->h, w = cs->w, wo = cs->wout, ho = cs->hout;
    const int sh = cs->stride_h, sw = cs->stride_w;
    for (int ci = 0; ci < cin_g; ci++) {
        float *plane = img + (size_t)ci * h * w;
        for (int ky = 0; ky < kh; ky++) {
            int oy_lo, oy_hi;
            valid_range(h, ho, sh, ky, cs->pad_t, &oy_lo, &oy_hi);
            for (int kx = 0; kx < kw; kx++) {
                int ox_lo, ox_hi;
                valid_range(w, wo, sw, kx, cs->pad_l, &ox_lo, &ox_hi);
                const float *row = col + ((size_t)(ci * kh + ky) * kw + kx) * ld;
                for (int oy = oy_lo; oy < oy_hi; oy++) {
                    const float *src = row + (size_t)oy * wo;
                    float *dst = plane + (size_t)(oy * sh + ky - cs->pad_t) * w + kx - cs->pad_l;
                    if (sw == 1) {
                        for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox] += src[ox];
                    } else {
                        for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox * sw] += src[ox];
                    }
                }
            }
        }
    }
}

void bq_im2col(float *col, const float *img, const bq_conv_shape *cs, float pad_value) {
    im2col_ld(col, (size_t)cs->hout * cs->wout, img, cs, pad_value);
}

void bq_col2im(float *img, const float *col, const bq_conv_shape *cs) {
    col2im_ld(img, col, (size_t)cs->hout * cs->wout, cs);
}

/* ---------------------------------------------------------------- depthwise, direct loops */

/* out[n, co] = bias + sum_{ky,kx} w[co, ky, kx] * in[n, co / mult, ...]. For each tap the valid
 * output range is computed once, so the innermost loop is a bounds-free axpy over a row. */
static void dw_forward(float *out, const float *inp, const float *weight, const float *bias,
                       const bq_conv_shape *cs) {
    const int mult = cs->cout / cs->cin, kh = cs->kh, kw = cs->kw;
    const int h = cs->h, w = cs->w, ho = cs->hout, wo = cs->wout;
    const int sh = cs->stride_h, sw = cs->stride_w;
    for (int n = 0; n < cs->n; n++) {
        for (int co = 0; co < cs->cout; co++) {
            const float *plane = inp + ((size_t)n * cs->cin + co / mult) * h * w;
            const float *wk = weight + (size_t)co * kh * kw;
            float *o = out + ((size_t)n * cs->cout + co) * ho * wo;
            float b = bias ? bias[co] : 0.0f;
            for (size_t i = 0; i < (size_t)ho * wo; i++) o[i] = b;
            for (int ky = 0; ky < kh; ky++) {
                int oy_lo, oy_hi;
                valid_range(h, ho, sh, ky, cs->pad_t, &oy_lo, &oy_hi);
                for (int kx = 0; kx < kw; kx++) {
                    int ox_lo, ox_hi;
                    valid_range(w, wo, sw, kx, cs->pad_l, &ox_lo, &ox_hi);
                    const float wv = wk[ky * kw + kx];
                    for (int oy = oy_lo; oy < oy_hi; oy++) {
                        const float *src = plane + (size_t)(oy * sh + ky - cs->pad_t) * w
                                           + kx - cs->pad_l;
                        float *dst = o + (size_t)oy * wo;
                        if (sw == 1) {
                            for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox] += wv * src[ox];
                        } else {
                            for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox] += wv * src[ox * sw];
                        }
                    }
                }
            }
        }
    }
}

static void dw_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                        const float *weight, const bq_conv_shape *cs) {
    const int mult = cs->cout / cs->cin, kh = cs->kh, kw = cs->kw;
    const int h = cs->h, w = cs->w, ho = cs->hout, wo = cs->wout;
    const int sh = cs->stride_h, sw = cs->stride_w;
    for (int n = 0; n < cs->n; n++) {
        for (int co = 0; co < cs->cout; co++) {
            size_t in_off = ((size_t)n * cs->cin + co / mult) * h * w;
            const float *g = dout + ((size_t)n * cs->cout + co) * ho * wo;
            for (int ky = 0; ky < kh; ky++) {
                int oy_lo, oy_hi;
                valid_range(h, ho, sh, ky, cs->pad_t, &oy_lo, &oy_hi);
                for (int kx = 0; kx < kw; kx++) {
                    int ox_lo, ox_hi;
                    valid_range(w, wo, sw, kx, cs->pad_l, &ox_lo, &ox_hi);
                    const size_t tap = (size_t)co * kh * kw + (size_t)ky * kw + kx;
                    const float wv = weight[tap];
                    float acc = 0.0f;
                    for (int oy = oy_lo; oy < oy_hi; oy++) {
                        size_t ioff = in_off + (size_t)(oy * sh + ky - cs->pad_t) * w
                                      + kx - cs->pad_l;
                        const float *gr = g + (size_t)oy * wo;
                        if (dweight) {
                            const float *src = inp + ioff;
                            for (int ox = ox_lo; ox < ox_hi; ox++) acc += gr[ox] * src[ox * sw];
                        }
                        if (dinp) {
                            float *dst = dinp + ioff;
                            for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox * sw] += wv * gr[ox];
                        }
                    }
                    if (dweight) dweight[tap] += acc;
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- GEMM paths */

void bq_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       const bq_conv_shape *cs, float *scratch) {
    if (is_depthwise(cs)) {
        dw_forward(out, inp, weight, bias, cs);
        return;
    }
    const int g_n = cs->groups, cin_g = cs->cin / g_n, cout_g = cs->cout / g_n;
    const size_t p = (size_t)cs->hout * cs->wout;
    const size_t in_img = (size_t)cs->cin * cs->h * cs->w, out_img = (size_t)cs->cout * p;
    const int kg = cin_g * cs->kh * cs->kw;

    if (is_pointwise(cs)) {
        /* out_n,g (Cout_g, P) = W_g (Cout_g, Cin_g) @ in_n,g (Cin_g, P), straight into out. */
        for (int n = 0; n < cs->n; n++)
            for (int g = 0; g < g_n; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, (int)p, kg, 1.0f,
                            weight + (size_t)g * cout_g * kg, kg,
                            inp + n * in_img + (size_t)g * cin_g * p, (int)p, 0.0f,
                            out + n * out_img + (size_t)g * cout_g * p, (int)p);
        if (bias)
            for (int n = 0; n < cs->n; n++)
                for (int c = 0; c < cs->cout; c++) {
                    float *o = out + n * out_img + (size_t)c * p;
                    for (size_t i = 0; i < p; i++) o[i] += bias[c];
                }
        return;
    }

    const int bmax = conv_batch(cs);
    float *col = scratch;
    float *tmp = scratch + (size_t)kg * bmax * p;
    for (int n0 = 0; n0 < cs->n; n0 += bmax) {
        const int b = cs->n - n0 < bmax ? cs->n - n0 : bmax;
        const size_t ld = (size_t)b * p;
        for (int g = 0; g < g_n; g++) {
            for (int i = 0; i < b; i++)
                im2col_ld(col + (size_t)i * p, ld,
                          inp + (size_t)(n0 + i) * in_img + (size_t)g * cin_g * cs->h * cs->w,
                          cs, 0.0f);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, (int)ld, kg, 1.0f,
                        weight + (size_t)g * cout_g * kg, kg, col, (int)ld, 0.0f, tmp, (int)ld);
            /* Scatter (Cout_g, B*P) back to NCHW; the bias add rides along for free. */
            for (int i = 0; i < b; i++)
                for (int c = 0; c < cout_g; c++) {
                    const float *src = tmp + (size_t)c * ld + (size_t)i * p;
                    float *dst = out + (size_t)(n0 + i) * out_img + (size_t)(g * cout_g + c) * p;
                    const float bv = bias ? bias[g * cout_g + c] : 0.0f;
                    for (size_t j = 0; j < p; j++) dst[j] = src[j] + bv;
                }
        }
    }
}

void bq_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const bq_conv_shape *cs,
                        float *scratch) {
    const size_t p = (size_t)cs->hout * cs->wout;
    const size_t in_img = (size_t)cs->cin * cs->h * cs->w, out_img = (size_t)cs->cout * p;
    if (dbias) {
        for (int n = 0; n < cs->n; n++)
            for (int c = 0; c < cs->cout; c++) {
                const float *g = dout + n * out_img + (size_t)c * p;
                float s = 0.0f;
                for (size_t i = 0; i < p; i++) s += g[i];
                dbias[c] += s;
            }
    }
    if (!dinp && !dweight) return;
    if (is_depthwise(cs)) {
        dw_backward(dinp, dweight, dout, inp, weight, cs);
        return;
    }
    const int g_n = cs->groups, cin_g = cs->cin / g_n, cout_g = cs->cout / g_n;
    const int kg = cin_g * cs->kh * cs->kw;

    if (is_pointwise(cs)) {
        for (int n = 0; n < cs->n; n++)
            for (int g = 0; g < g_n; g++) {
                const float *go = dout + n * out_img + (size_t)g * cout_g * p;
                const size_t in_off = n * in_img + (size_t)g * cin_g * p;
                const float *wg = weight + (size_t)g * cout_g * kg;
                /* dW_g (Cout_g, Cin_g) += dout (Cout_g, P) @ in^T (P, Cin_g) */
                if (dweight)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout_g, kg, (int)p,
                                1.0f, go, (int)p, inp + in_off, (int)p, 1.0f,
                                dweight + (size_t)g * cout_g * kg, kg);
                /* din (Cin_g, P) += W_g^T (Cin_g, Cout_g) @ dout (Cout_g, P) */
                if (dinp)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, (int)p, cout_g,
                                1.0f, wg, kg, go, (int)p, 1.0f, dinp + in_off, (int)p);
            }
        return;
    }

    const int bmax = conv_batch(cs);
    float *col = scratch;
    float *tmp = scratch + (size_t)kg * bmax * p;
    for (int n0 = 0; n0 < cs->n; n0 += bmax) {
        const int b = cs->n - n0 < bmax ? cs->n - n0 : bmax;
        const size_t ld = (size_t)b * p;
        for (int g = 0; g < g_n; g++) {
            const size_t in_goff = (size_t)g * cin_g * cs->h * cs->w;
            /* Gather dout of B images into (Cout_g, B*P) so both GEMMs see B*P columns. */
            for (int i = 0; i < b; i++)
                for (int c = 0; c < cout_g; c++)
                    memcpy(tmp + (size_t)c * ld + (size_t)i * p,
                           dout + (size_t)(n0 + i) * out_img + (size_t)(g * cout_g + c) * p,
                           sizeof(float) * p);
            if (dweight) {
                for (int i = 0; i < b; i++)
                    im2col_ld(col + (size_t)i * p, ld, inp + (size_t)(n0 + i) * in_img + in_goff,
                              cs, 0.0f);
                /* dW_g (Cout_g, Kg) += dout (Cout_g, B*P) @ col^T (B*P, Kg) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout_g, kg, (int)ld, 1.0f,
                            tmp, (int)ld, col, (int)ld, 1.0f,
                            dweight + (size_t)g * cout_g * kg, kg);
            }
            if (dinp) {
                /* dcol (Kg, B*P) = W_g^T (Kg, Cout_g) @ dout (Cout_g, B*P); col is free now. */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kg, (int)ld, cout_g, 1.0f,
                            weight + (size_t)g * cout_g * kg, kg, tmp, (int)ld, 0.0f, col,
                            (int)ld);
                for (int i = 0; i < b; i++)
                    col2im_ld(dinp + (size_t)(n0 + i) * in_img + in_goff, col + (size_t)i * p,
                              ld, cs);
            }
        }
    }
}

/* ---------------------------------------------------------------- scalar reference */

void bq_conv2d_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           const bq_conv_shape *cs) {
    const int cin_g = cs->cin / cs->groups, cout_g = cs->cout / cs->groups;
    for (int n = 0; n < cs->n; n++)
        for (int co = 0; co < cs->cout; co++) {
            const int g = co / cout_g;
            for (int oy = 0; oy < cs->hout; oy++)
                for (int ox = 0; ox < cs->wout; ox++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int ky = 0; ky < cs->kh; ky++)
                            for (int kx = 0; kx < cs->kw; kx++) {
                                int iy = oy * cs->stride_h + ky - cs->pad_t;
                                int ix = ox * cs->stride_w + kx - cs->pad_l;
                                if (iy < 0 || iy >= cs->h || ix < 0 || ix >= cs->w) continue;
                                double x = inp[(((size_t)n * cs->cin + g * cin_g + ci) * cs->h
                                                + iy) * cs->w + ix];
                                double wv = weight[(((size_t)co * cin_g + ci) * cs->kh + ky)
                                                   * cs->kw + kx];
                                acc += x * wv;
                            }
                    out[(((size_t)n * cs->cout + co) * cs->hout + oy) * cs->wout + ox] =
                        (float)acc;
                }
        }
}
