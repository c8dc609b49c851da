/*
 * pool.c — max pool, average pool (ONNX semantics) and global average pool (see ops.h).
 * Windows start at o*stride - pad; taps outside the image never take part in a max and, for the
 * average, count in the divisor only when count_include_pad is set. With count_include_pad the
 * divisor is Kh*Kw (the floor output rule keeps every window inside the padded image).
 * A max-pool window with no in-image tap (only possible with pads >= kernel) outputs 0 and saves
 * argmax -1; its gradient goes nowhere.
 */
#include "nn/ops.h"

#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 cost model leaves loops with unknown trip counts scalar; these are worth it. */
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

#include <math.h>
#include <string.h>

/* The in-image part [lo, hi) of the window of output index o along one axis (taps outside the image
 * never take part; see the header comment). */
static inline void window_1d(int o, int stride, int pad, int k, int size, int *lo, int *hi) {
    *lo = o * stride - pad;
    *hi = *lo + k;
    if (*lo < 0) *lo = 0;
    if (*hi > size) *hi = size;
}

void bq_maxpool_forward(float *out, int32_t *argmax, const float *inp, int n, int c, int h, int w,
                        int kh, int kw, int stride_h, int stride_w, int pad_t, int pad_l,
                        int hout, int wout) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *x = inp + pl * h * w;
        float *o = out + pl * hout * wout;
        int32_t *am = argmax + pl * hout * wout;
        for (int oy = 0; oy < hout; oy++) {
            int y0, y1;
            window_1d(oy, stride_h, pad_t, kh, h, &y0, &y1);
            for (int ox = 0; ox < wout; ox++) {
                int x0, x1;
                window_1d(ox, stride_w, pad_l, kw, w, &x0, &x1);
                float best = -INFINITY;
                int32_t bi = -1;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        float v = x[iy * w + ix];
                        /* strict '>' keeps the first maximum; a NaN wins and sticks (as in
                         * PyTorch) so a diverged net shows NaN instead of hiding it. */
                        if (bi < 0 || v > best || isnan(v)) {
                            if (isnan(best)) continue;
                            best = v; bi = iy * w + ix;
                        }
                    }
                o[oy * wout + ox] = bi < 0 ? 0.0f : best;
                am[oy * wout + ox] = bi;
            }
        }
    }
}

void bq_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, int n, int c,
                         int h, int w, int hout, int wout) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        float *d = dinp + pl * h * w;
        const float *g = dout + pl * hout * wout;
        const int32_t *am = argmax + pl * hout * wout;
        for (int i = 0; i < hout * wout; i++)
            if (am[i] >= 0) d[am[i]] += g[i];
    }
}

/* Divisor of one average-pool window. */
static float avg_div(int y0, int y1, int x0, int x1, int kh, int kw, int count_include_pad) {
    return count_include_pad ? (float)(kh * kw) : (float)((y1 - y0) * (x1 - x0));
}

void bq_avgpool_forward(float *out, const float *inp, int n, int c, int h, int w, int kh, int kw,
                        int stride_h, int stride_w, int pad_t, int pad_l, int hout, int wout,
                        int count_include_pad) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *x = inp + pl * h * w;
        float *o = out + pl * hout * wout;
        for (int oy = 0; oy < hout; oy++) {
            int y0, y1;
            window_1d(oy, stride_h, pad_t, kh, h, &y0, &y1);
            for (int ox = 0; ox < wout; ox++) {
                int x0, x1;
                window_1d(ox, stride_w, pad_l, kw, w, &x0, &x1);
                float s = 0.0f;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) s += x[iy * w + ix];
                float dv = avg_div(y0, y1, x0, x1, kh, kw, count_include_pad);
                o[oy * wout + ox] = dv > 0.0f ? s / dv : 0.0f;
            }
        }
    }
}

void bq_avgpool_backward(float *dinp, const float *dout, int n, int c, int h, int w, int kh,
                         int kw, int stride_h, int stride_w, int pad_t, int pad_l, int hout,
                         int wout, int count_include_pad) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        float *d = dinp + pl * h * w;
        const float *g = dout + pl * hout * wout;
        for (int oy = 0; oy < hout; oy++) {
            int y0, y1;
            window_1d(oy, stride_h, pad_t, kh, h, &y0, &y1);
            for (int ox = 0; ox < wout; ox++) {
                int x0, x1;
                window_1d(ox, stride_w, pad_l, kw, w, &x0, &x1);
                float dv = avg_div(y0, y1, x0, x1, kh, kw, count_include_pad);
                if (dv <= 0.0f) continue;
                float gv = g[oy * wout + ox] / dv;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) d[iy * w + ix] += gv;
            }
        }
    }
}

void bq_gap_forward(float *out, const float *inp, int n, int c, int hw) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *x = inp + pl * hw;
        float s = 0.0f;
        for (int j = 0; j < hw; j++) s += x[j];
        out[pl] = s / (float)hw;
    }
}

void bq_gap_backward(float *dinp, const float *dout, int n, int c, int hw) {
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        float *d = dinp + pl * hw;
        const float gv = dout[pl] / (float)hw;
        for (int j = 0; j < hw; j++) d[j] += gv;
    }
}
