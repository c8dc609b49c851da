/*
 * conv.c — 2-D convolution forward/backward (see ops.h for the contract).
 *
 * Why not im2col + sgemm: the channel counts of the small CNNs this project trains are 16..64, so
 * the GEMMs are thin (M = Cout = 16) and OpenBLAS runs them at a fraction of its peak, while
 * im2col writes and re-reads Kh*Kw copies of every activation. Measured on the target machine
 * (ResNet-20 layer 16->16 3x3 on 28x28, batch 128, one core) im2col + sgemm reached ~40 GFLOP/s;
 * this file reaches ~75. bq_im2col/bq_col2im stay available for callers that need explicit
 * columns (the integer reference pads with the zero point).
 *
 * The method ("shifted GEMM"): pad the input once and split it into Sh*Sw polyphase components
 * (component (py,px) holds padded pixels (py + Sh*i, px + Sw*j)). Output pixel (oy,ox) is indexed
 * q = oy*Wc + ox in "q-space", whose rows are Wc = ceil(Wpad/Sw) wide (the columns ox >= Wout are
 * junk and dropped). Then tap (ci,ky,kx) of every output pixel is one contiguous slice:
 *   B_k[q] = comp[ci][ky % Sh][kx % Sw][q + (ky / Sh) * Wc + kx / Sw]
 * so out[c][q] = sum_k W[c][k] * B_k[q] is a GEMM whose B rows are plain pointers into a buffer
 * of the input's size; no Kh*Kw blow-up. A register-blocked micro-kernel (MR channels x NR
 * q-positions) does the FMAs. Several small images share one q-space block (nb, chosen to waste
 * the fewest positions within a ~512 KB per-thread workspace).
 * Backward uses the same layout, with dq = dout in q-space (junk positions zero):
 *   dW[c][k]  = sum_q B_k[q] * dq[c][q]   (taps broadcast, channels in vector lanes: dw_tile)
 *   dcomp[p]  = sum_{c,k} W[c][k] * dq[c][p - off_k]   (the adjoint gather, per component:
 *               bwd_tile, each dcomp position written once), then un-padded into dinp.
 *
 * Images are split over threads (parallel.h: one per online CPU or $BQ_NUM_THREADS, at most one
 * per image); each thread has its own slice of scratch. dW is summed per backward block of images
 * (nb_backward: fixed by the shape, not the thread count), the blocks' partials in block order, so
 * the result is the same bits on any number of cores. The thread count is read at each call, and
 * bq_conv2d_scratch_floats depends on it: size the scratch with the same setting the ops run with.
 * Depthwise convs (groups == Cin > 1) use the same layout with per-tap vector loops instead of
 * the micro-kernels (see the depthwise section).
 */
#include "nn/conv_internal.h"
#include "nn/conv_dnnl.h"
#include "core/parallel.h"

#include <stdlib.h>
#include <string.h>

/* -std=c11 turns off FMA contraction (ISO mode); the micro-kernels need a*b+c fused to reach
 * the FMA units' throughput. Only this file is affected. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
/* GCC's -O2 cost model ("very cheap") leaves loops with unknown trip counts scalar; the packing
 * and copy loops here are worth vectorizing. */
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
/* Vector values are passed between static (inlined) helpers only, so the psABI note GCC and
 * clang give for 64-byte vectors on targets without AVX-512 (the sanitizer build) does not
 * apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define VL 16                  /* floats per vector (one AVX-512 register; GCC splits it on AVX2) */
#define MR 8                   /* micro-tile rows (output channels, or taps in dinp) */
#define NR (2 * VL)            /* micro-tile columns (q-space positions): MR*2 accumulators */
#define MW 8                   /* dW micro-tile: MW taps x (1 or 2) x VL channels */

typedef float vf __attribute__((vector_size(VL * sizeof(float))));

/* memcpy loads/stores compile to single unaligned vector moves and do not break aliasing rules. */
static inline vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float *p, const vf *v) { memcpy(p, v, sizeof *v); }

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

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

/* ---------------------------------------------------------------- q-space geometry */

/* Per-thread workspace target: comps + dq of one image block should stay in the L2 cache. */
#ifndef WS_BYTES
#define WS_BYTES (512u << 10)
#endif

typedef struct {
    int cin_g, cout_g, kg;     /* per group: channels, reduction length Cin_g*Kh*Kw */
    int sh, sw;                /* strides = polyphase components per axis */
    int hc, wc;                /* component height and width (Wc is the row stride of q-space) */
    int nb;                    /* images per block, laid side by side in q-space */
    size_t img;                /* q-space stride between the images of a block: Hc*Wc */
    size_t cstride;            /* floats per component buffer: nb*img + read slack */
    int coutr, cinr;           /* cout_g and cin_g rounded up to MR */
    size_t lead;               /* zeros in front of each dq row: the largest tap offset */
    size_t ldq;                /* dq row stride: lead + nb*img + NR (a tile's overrun) */
    int coutv;                 /* cout_g rounded up to 2*VL: row stride of dq transposed */
    size_t qlen_max;           /* block_qlen of a full block */
    size_t ws_floats;          /* per-thread workspace */
    size_t shared_floats;      /* packed weights, shared by the threads */
    int threads;
} qgeom;

/* q positions computed for a block of cnt images: the last image's outputs end at
 * (cnt-1)*img + Hout*Wc; tiles cover that rounded up to NR. */
static size_t block_qlen(const qgeom *g, const bq_conv_shape *cs, int cnt) {
    return round_up((size_t)(cnt - 1) * g->img + (size_t)cs->hout * g->wc, NR);
}

static void qgeom_init(qgeom *g, const bq_conv_shape *cs, int nb) {
    g->cin_g = cs->cin / cs->groups;
    g->cout_g = cs->cout / cs->groups;
    g->kg = g->cin_g * cs->kh * cs->kw;
    g->sh = cs->stride_h;
    g->sw = cs->stride_w;
    g->hc = (cs->h + cs->pad_t + cs->pad_b + g->sh - 1) / g->sh;
    g->wc = (cs->w + cs->pad_l + cs->pad_r + g->sw - 1) / g->sw;
    g->img = (size_t)g->hc * g->wc;
    g->nb = nb;
    g->coutr = (int)round_up((size_t)g->cout_g, MR);
    g->cinr = (int)round_up((size_t)g->cin_g, MR);
    g->threads = bq_parallel_ranges((size_t)cs->n, 1);   /* one range of images per thread */
    /* A tile starting below qlen reads up to NR - 1 + the largest tap offset beyond it. */
    size_t max_off = (size_t)((cs->kh - 1) / g->sh) * g->wc + (size_t)((cs->kw - 1) / g->sw);
    g->cstride = round_up((size_t)nb * g->img + NR + max_off, VL);
    g->coutv = (int)round_up((size_t)g->cout_g, 2 * VL);
    g->qlen_max = block_qlen(g, cs, nb);
    g->lead = round_up(max_off, VL);
    g->ldq = g->lead + round_up((size_t)nb * g->img + NR, VL);
    size_t comps = (size_t)g->cin_g * g->sh * g->sw * g->cstride;
    size_t dcomps = (size_t)g->cinr * g->sh * g->sw * g->cstride;
    size_t qout = (size_t)g->coutr * g->qlen_max, dq = (size_t)g->cout_g * g->ldq;
    /* comps | dcomp | q-space out or dq | dq^T (qlen x coutv) */
    g->ws_floats = comps + dcomps + (qout > dq ? qout : dq) + g->qlen_max * (size_t)g->coutv;
    /* forward pack (groups x coutr x kg) | dinp pack (groups x cinr x cout_g*kh*kw) */
    g->shared_floats = (size_t)cs->groups * ((size_t)g->coutr * g->kg +
                                             (size_t)g->cinr * g->cout_g * cs->kh * cs->kw);
}

/* Images per block that fit WS_BYTES (at least 1); *threads = the ops' thread count for cs. */
static size_t nb_fit(const bq_conv_shape *cs, int *threads) {
    qgeom g;
    qgeom_init(&g, cs, 1);
    size_t per = ((size_t)(g.cin_g + g.cinr) * g.sh * g.sw + (size_t)g.coutr + g.coutv) * g.img;
    size_t nb = WS_BYTES / sizeof(float) / (per ? per : 1);
    if (threads) *threads = g.threads;
    return nb < 1 ? 1 : nb;
}

/* Largest block that fits WS_BYTES (at least 1, at most one thread's share of the batch). */
static int nb_max(const bq_conv_shape *cs) {
    int threads;
    size_t nb = nb_fit(cs, &threads);
    size_t share = ((size_t)cs->n + threads - 1) / threads;
    if (nb > share) nb = share;
    return nb < 1 ? 1 : (int)nb;
}

/* Backward block = the unit of the dW sum: each block of images sums its own partial dW, and the
 * partials are added in block order. The block size must therefore not depend on the thread
 * count (the forward's may): the largest that fits WS_BYTES, at most BWD_BLOCK_MAX images so a
 * batch of 32 still gives every core blocks to work on. Same seed, same bytes on any machine. */
#define BWD_BLOCK_MAX 8
static int nb_backward(const bq_conv_shape *cs) {
    size_t nb = nb_fit(cs, NULL);
    if (nb > BWD_BLOCK_MAX) nb = BWD_BLOCK_MAX;
    if (nb > (size_t)cs->n) nb = (size_t)cs->n;
    return nb < 1 ? 1 : (int)nb;
}

/* Floats of the backward's per-block partial dW (one per block of nb_backward images). */
static size_t dw_parts_floats(const bq_conv_shape *cs, int nb) {
    const size_t nw = (size_t)cs->cout * (cs->cin / cs->groups) * cs->kh * cs->kw;
    return (size_t)((cs->n + nb - 1) / nb) * nw;
}

/* Forward block size: the one wasting the fewest q positions (junk columns/rows and the
 * rounding to NR); large planes get 1, tiny planes several images per block. */
static int nb_forward(const bq_conv_shape *cs) {
    qgeom g;
    qgeom_init(&g, cs, 1);
    int best = 1, top = nb_max(cs);
    double best_cost = 1e300;
    for (int nb = 1; nb <= top; nb++) {
        double cost = (double)block_qlen(&g, cs, nb) / nb;   /* q positions per image */
        if (cost < best_cost * 0.999) { best_cost = cost; best = nb; }
    }
    return best;
}

bq_conv_impl bq_conv_impl_from_env(void) {
    const char *v = getenv("BQ_CONV");
    if (v && strcmp(v, "im2col") == 0) return BQ_CONV_IM2COL;
    return (v && strcmp(v, "dnnl") == 0) ? BQ_CONV_DNNL : BQ_CONV_DIRECT;
}

/* Enough scratch for either implementation, so callers may switch cs->impl freely. */
size_t bq_conv2d_scratch_floats(const bq_conv_shape *cs) {
    size_t s_im2col = bq_conv2d_im2col_scratch_floats(cs);
    qgeom f, b;
    qgeom_init(&f, cs, nb_forward(cs));
    qgeom_init(&b, cs, nb_backward(cs));
    size_t sf = f.shared_floats + (size_t)f.threads * f.ws_floats;
    size_t sb = b.shared_floats + (size_t)b.threads * b.ws_floats + dw_parts_floats(cs, b.nb);
    size_t s = sf > sb ? sf : sb;
    return s > s_im2col ? s : s_im2col;
}

/* Offset of tap k = (ci*Kh + ky)*Kw + kx inside the component buffers of one block. */
static size_t tap_off(const qgeom *g, const bq_conv_shape *cs, int k) {
    int kx = k % cs->kw, ky = (k / cs->kw) % cs->kh, ci = k / (cs->kw * cs->kh);
    return ((size_t)(ci * g->sh + ky % g->sh) * g->sw + (size_t)(kx % g->sw)) * g->cstride +
           (size_t)(ky / g->sh) * g->wc + (size_t)(kx / g->sw);
}

/* Zero-padded polyphase copy of cnt images of one group (img: first image's group, images
 * cs->cin*H*W apart); image i lands at q-offset i*g->img of every component. Component (py,px)
 * row r holds input row y with y + pad_t = r*Sh + py, and in it the x with
 * (x + pad_l) % Sw == px, consecutively; the loops walk those with counters, not divisions. */
static void build_comps(float *comp, const float *img, int cnt, const bq_conv_shape *cs,
                        const qgeom *g) {
    memset(comp, 0, sizeof(float) * (size_t)g->cin_g * g->sh * g->sw * g->cstride);
    for (int i = 0; i < cnt; i++)
        for (int ci = 0; ci < g->cin_g; ci++) {
            const float *plane = img + ((size_t)i * cs->cin + ci) * cs->h * cs->w;
            float *cbase = comp + (size_t)ci * g->sh * g->sw * g->cstride + (size_t)i * g->img;
            for (int px = 0; px < g->sw; px++) {
                const int x0 = ((px - cs->pad_l) % g->sw + g->sw) % g->sw;
                const size_t j0 = (size_t)(x0 + cs->pad_l) / g->sw;
                int py = cs->pad_t % g->sh;
                size_t yoff = (size_t)(cs->pad_t / g->sh) * g->wc;
                for (int y = 0; y < cs->h; y++) {
                    const float *src = plane + (size_t)y * cs->w;
                    float *dst = cbase + (size_t)(py * g->sw + px) * g->cstride + yoff + j0;
                    if (g->sw == 1)    /* the common case, as one contiguous copy */
                        memcpy(dst, src, sizeof(float) * (size_t)cs->w);
                    else
                        for (int x = x0, j = 0; x < cs->w; x += g->sw, j++) dst[j] = src[x];
                    if (++py == g->sh) { py = 0; yoff += (size_t)g->wc; }
                }
            }
        }
}

/* Adjoint of build_comps: dimg += the in-image part of dcomp. */
static void unbuild_comps(float *dimg, const float *dcomp, int cnt, const bq_conv_shape *cs,
                          const qgeom *g) {
    for (int i = 0; i < cnt; i++)
        for (int ci = 0; ci < g->cin_g; ci++) {
            float *plane = dimg + ((size_t)i * cs->cin + ci) * cs->h * cs->w;
            const float *cbase = dcomp + (size_t)ci * g->sh * g->sw * g->cstride +
                                 (size_t)i * g->img;
            for (int px = 0; px < g->sw; px++) {
                const int x0 = ((px - cs->pad_l) % g->sw + g->sw) % g->sw;
                const size_t j0 = (size_t)(x0 + cs->pad_l) / g->sw;
                int py = cs->pad_t % g->sh;
                size_t yoff = (size_t)(cs->pad_t / g->sh) * g->wc;
                for (int y = 0; y < cs->h; y++) {
                    float *dst = plane + (size_t)y * cs->w;
                    const float *src = cbase + (size_t)(py * g->sw + px) * g->cstride + yoff + j0;
                    if (g->sw == 1)    /* unit stride: a loop the compiler vectorises */
                        for (int x = 0; x < cs->w; x++) dst[x] += src[x];
                    else
                        for (int x = x0, j = 0; x < cs->w; x += g->sw, j++) dst[x] += src[j];
                    if (++py == g->sh) { py = 0; yoff += (size_t)g->wc; }
                }
            }
        }
}

/* ---------------------------------------------------------------- micro-kernels */

/* acc[r] += a[r] * b[0..NR) for the MR rows: MR*2 vector FMAs, a broadcast per row. */
static inline void fma_step(vf acc[MR][2], const float *a, const float *b) {
    const vf b0 = vload(b), b1 = vload(b + VL);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        acc[r][0] += a[r] * b0;
        acc[r][1] += a[r] * b1;
    }
}

static inline void tile_store(float *c, size_t ldc, vf acc[MR][2]) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        vstore(c + r * ldc, &acc[r][0]);
        vstore(c + r * ldc + VL, &acc[r][1]);
    }
}

/* Forward tile: c[r][0..NR) = sum_k ap[k][r] * B_k[q0..q0+NR), the taps walked in k order with
 * running counters instead of divisions. ap is (Kg x MR), the group's packed weights. */
static void fwd_tile(float *c, size_t ldc, const float *ap, const float *comp, size_t q0,
                     const bq_conv_shape *cs, const qgeom *g) {
    vf acc[MR][2];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = (vf){0};
    const size_t comp_stride = g->cstride;
    if (cs->kh == 1 && cs->kw == 1) {
        /* 1x1: one tap per channel, at offset 0 of component (0,0); no tap walk overhead. */
        const size_t cstep = (size_t)g->sh * g->sw * comp_stride;
        for (int ci = 0; ci < g->cin_g; ci++, ap += MR)
            fma_step(acc, ap, comp + (size_t)ci * cstep + q0);
        tile_store(c, ldc, acc);
        return;
    }
    for (int ci = 0; ci < g->cin_g; ci++) {
        const float *bci = comp + (size_t)ci * g->sh * g->sw * comp_stride + q0;
        int py = 0;
        size_t yoff = 0;
        for (int ky = 0; ky < cs->kh; ky++) {
            const float *by = bci + (size_t)py * g->sw * comp_stride + yoff;
            int px = 0;
            size_t xoff = 0;
            for (int kx = 0; kx < cs->kw; kx++) {
                fma_step(acc, ap, by + (size_t)px * comp_stride + xoff);
                ap += MR;
                if (++px == g->sw) { px = 0; xoff++; }
            }
            if (++py == g->sh) { py = 0; yoff += (size_t)g->wc; }
        }
    }
    tile_store(c, ldc, acc);
}

/* dW tile: c[r][v*VL + l] = sum_q brow[r][q] * dqt[q*ldq + v*VL + l] for MW taps r and nv
 * vectors of channels, q over the output rows of each image of the block ([i*img, i*img + run),
 * skipping the rows that are only padding). The taps are broadcast scalars and the channels sit
 * in the lanes, so the long sum stays in registers and needs no horizontal reduction. MW = 8
 * keeps the tap pointers in general registers; nv is a literal at each call. */
static inline __attribute__((always_inline)) void
dw_tile_n(float *c, const float *const brow[MW], const float *dqt, size_t ldq, int cnt,
          size_t img, size_t run, const int nv) {
    vf acc[MW][2];
#pragma GCC unroll 16
    for (int r = 0; r < MW; r++) acc[r][0] = acc[r][1] = (vf){0};
    for (int i = 0; i < cnt; i++)
        for (size_t q = (size_t)i * img; q < (size_t)i * img + run; q++) {
            const vf d0 = vload(dqt + q * ldq);
            const vf d1 = nv > 1 ? vload(dqt + q * ldq + VL) : d0;
#pragma GCC unroll 16
            for (int r = 0; r < MW; r++) {
                const float a = brow[r][q];
                acc[r][0] += a * d0;
                if (nv > 1) acc[r][1] += a * d1;
            }
        }
#pragma GCC unroll 16
    for (int r = 0; r < MW; r++) {
        vstore(c + r * 2 * VL, &acc[r][0]);
        if (nv > 1) vstore(c + r * 2 * VL + VL, &acc[r][1]);
    }
}

/* noinline: inlined into the big worker, the tap pointers got spilled to vector registers. */
static __attribute__((noinline)) void dw_tile1(float *c, const float *const brow[MW],
                                               const float *dqt, size_t ldq, int cnt,
                                               size_t img, size_t run) {
    dw_tile_n(c, brow, dqt, ldq, cnt, img, run, 1);
}

static __attribute__((noinline)) void dw_tile2(float *c, const float *const brow[MW],
                                               const float *dqt, size_t ldq, int cnt,
                                               size_t img, size_t run) {
    dw_tile_n(c, brow, dqt, ldq, cnt, img, run, 2);
}

/* ---------------------------------------------------------------- weight packing */

/* Forward: for each group and block of MR channels, (Kg x MR) with zero rows past Cout_g. */
static void pack_fwd(float *ap, const float *weight, const bq_conv_shape *cs, const qgeom *g) {
    for (int gr = 0; gr < cs->groups; gr++)
        for (int c0 = 0; c0 < g->coutr; c0 += MR) {
            float *dst = ap + ((size_t)gr * g->coutr + c0) * g->kg;
            for (int k = 0; k < g->kg; k++)
                for (int r = 0; r < MR; r++) {
                    int c = c0 + r;
                    dst[(size_t)k * MR + r] =
                        c < g->cout_g ? weight[((size_t)gr * g->cout_g + c) * g->kg + k] : 0.0f;
                }
        }
}

/* Backward (dinp) as a forward-style kernel: for each group, component (py,px) and block of MR
 * input channels, rows (c, ky, kx) over the taps with ky % Sh == py, kx % Sw == px, each MR
 * wide (zero past Cin_g). The blocks of one group follow each other in component order. */
static void pack_bwd(float *ap, const float *weight, const bq_conv_shape *cs, const qgeom *g) {
    for (int gr = 0; gr < cs->groups; gr++) {
        float *dst = ap + (size_t)gr * g->cinr * g->cout_g * cs->kh * cs->kw;
        for (int py = 0; py < g->sh; py++)
            for (int px = 0; px < g->sw; px++)
                for (int ci0 = 0; ci0 < g->cinr; ci0 += MR)
                    for (int c = 0; c < g->cout_g; c++)
                        for (int ky = py; ky < cs->kh; ky += g->sh)
                            for (int kx = px; kx < cs->kw; kx += g->sw)
                                for (int r = 0; r < MR; r++, dst++) {
                                    int ci = ci0 + r;
                                    *dst = ci < g->cin_g
                                               ? weight[((((size_t)gr * g->cout_g + c) * g->cin_g
                                                          + ci) * cs->kh + ky) * cs->kw + kx]
                                               : 0.0f;
                                }
    }
}

/* dinp tile, the adjoint of fwd_tile: for component (py,px) and MR input channels,
 * c[r][p] = sum_{c, ky, kx} W[c][ci0+r][ky][kx] * dq[c][p - ((ky/Sh)*Wc + kx/Sw)] over the
 * component's taps. dq rows have `lead` zeros in front, so p - offset never goes below 0.
 * Every dcomp position is written once: no read-modify-write of overlapping slices. */
static void bwd_tile(float *c, size_t ldc, const float *ap, const float *dq, size_t p0, int py,
                     int px, const bq_conv_shape *cs, const qgeom *g) {
    vf acc[MR][2];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = (vf){0};
    if (cs->kh == 1 && cs->kw == 1) {
        /* 1x1: only component (0,0) has a tap, at offset 0 (other components get zeros). */
        if (py == 0 && px == 0)
            for (int co = 0; co < g->cout_g; co++, ap += MR)
                fma_step(acc, ap, dq + (size_t)co * g->ldq + g->lead + p0);
        tile_store(c, ldc, acc);
        return;
    }
    for (int co = 0; co < g->cout_g; co++) {
        const float *brow = dq + (size_t)co * g->ldq + g->lead + p0;
        size_t yoff = 0;
        for (int ky = py; ky < cs->kh; ky += g->sh, yoff += (size_t)g->wc) {
            size_t xoff = 0;
            for (int kx = px; kx < cs->kw; kx += g->sw, xoff++) {
                fma_step(acc, ap, brow - yoff - xoff);
                ap += MR;
            }
        }
    }
    tile_store(c, ldc, acc);
}

/* ---------------------------------------------------------------- per-thread work */

typedef struct {
    const bq_conv_shape *cs;
    const qgeom *g;
    float *out, *dinp;
    float *dw_parts;           /* backward: one partial dW per block (block index = image / nb) */
    const float *inp, *bias, *dout, *ap_fwd, *ap_bwd;
    float *ws;                 /* this range's workspace (g->ws_floats) */
    int n0, n1;                /* images [n0, n1) */
} conv_task;

/* One output plane from q-space (rows Wc apart, junk columns dropped) plus the channel's bias. */
static inline void store_plane(float *dst, const float *src, float bias, const bq_conv_shape *cs,
                               const qgeom *g) {
    for (int oy = 0; oy < cs->hout; oy++)
        for (int ox = 0; ox < cs->wout; ox++)
            dst[oy * cs->wout + ox] = src[(size_t)oy * g->wc + ox] + bias;
}

static int fwd_worker(void *arg) {
    const conv_task *t = arg;
    const bq_conv_shape *cs = t->cs;
    const qgeom *g = t->g;
    float *comp = t->ws;
    float *qout = comp + (size_t)(g->cin_g + g->cinr) * g->sh * g->sw * g->cstride;
    const size_t plane = (size_t)cs->hout * cs->wout;
    for (int n = t->n0; n < t->n1; n += g->nb) {
        const int cnt = t->n1 - n < g->nb ? t->n1 - n : g->nb;
        const size_t qlen = block_qlen(g, cs, cnt);
        for (int gr = 0; gr < cs->groups; gr++) {
            build_comps(comp, t->inp + ((size_t)n * cs->cin + (size_t)gr * g->cin_g) * cs->h * cs->w,
                        cnt, cs, g);
            for (int c0 = 0; c0 < g->coutr; c0 += MR) {
                const float *ap = t->ap_fwd + ((size_t)gr * g->coutr + c0) * g->kg;
                for (size_t q0 = 0; q0 < qlen; q0 += NR)
                    fwd_tile(qout + (size_t)c0 * qlen + q0, qlen, ap, comp, q0, cs, g);
            }
            /* q-space -> NCHW, dropping the junk positions; the bias add rides along. */
            for (int i = 0; i < cnt; i++)
                for (int c = 0; c < g->cout_g; c++) {
                    const int co = gr * g->cout_g + c;
                    store_plane(t->out + ((size_t)(n + i) * cs->cout + co) * plane,
                                qout + (size_t)c * qlen + (size_t)i * g->img,
                                t->bias ? t->bias[co] : 0.0f, cs, g);
                }
        }
    }
    return 0;
}

static int bwd_worker(void *arg) {
    const conv_task *t = arg;
    const bq_conv_shape *cs = t->cs;
    const qgeom *g = t->g;
    const size_t ncomp = (size_t)g->cin_g * g->sh * g->sw * g->cstride;
    float *comp = t->ws, *dcomp = comp + ncomp;
    float *dq = dcomp + (size_t)g->cinr * g->sh * g->sw * g->cstride;
    const size_t qout = (size_t)g->coutr * g->qlen_max, dqn = (size_t)g->cout_g * g->ldq;
    float *dqt = dq + (qout > dqn ? qout : dqn);
    const size_t plane = (size_t)cs->hout * cs->wout, ldq = (size_t)g->coutv;
    float tile[MW * 2 * VL];
    const size_t nw = (size_t)cs->cout * g->kg;
    for (int n = t->n0; n < t->n1; n += g->nb) {
        const int cnt = t->n1 - n < g->nb ? t->n1 - n : g->nb;
        const size_t qlen = block_qlen(g, cs, cnt);
        /* this block's partial dW (ranges start on block boundaries: n / nb is the block) */
        float *dw_blk = t->dw_parts ? t->dw_parts + (size_t)(n / g->nb) * nw : NULL;
        if (dw_blk) memset(dw_blk, 0, sizeof(float) * nw);
        for (int gr = 0; gr < cs->groups; gr++) {
            const size_t in_off = ((size_t)n * cs->cin + (size_t)gr * g->cin_g) * cs->h * cs->w;
            /* dout in q-space (dq: channel rows, for dinp; dqt: position rows, for dW). Junk
             * positions and channels past Cout_g stay zero, so they add nothing. */
            if (t->dinp) memset(dq, 0, sizeof(float) * (size_t)g->cout_g * g->ldq);
            if (dw_blk) memset(dqt, 0, sizeof(float) * qlen * ldq);
            for (int i = 0; i < cnt; i++)
                for (int c = 0; c < g->cout_g; c++) {
                    const float *src =
                        t->dout + ((size_t)(n + i) * cs->cout + gr * g->cout_g + c) * plane;
                    const size_t q_img = (size_t)i * g->img;
                    for (int oy = 0; oy < cs->hout; oy++) {
                        const size_t q_row = q_img + (size_t)oy * g->wc;
                        if (t->dinp)
                            memcpy(dq + (size_t)c * g->ldq + g->lead + q_row, src + oy * cs->wout,
                                   sizeof(float) * (size_t)cs->wout);
                        if (dw_blk)
                            for (int ox = 0; ox < cs->wout; ox++)
                                dqt[(q_row + ox) * ldq + c] = src[oy * cs->wout + ox];
                    }
                }
            if (dw_blk) {
                /* dW[c][k] += sum_q B_k[q] * dq[c][q], MW taps x VL channels per tile. */
                build_comps(comp, t->inp + in_off, cnt, cs, g);
                float *dwg = dw_blk + (size_t)gr * g->cout_g * g->kg;
                for (int k0 = 0; k0 < g->kg; k0 += MW) {
                    const float *brow[MW];
                    for (int r = 0; r < MW; r++)
                        brow[r] = comp + tap_off(g, cs, k0 + r < g->kg ? k0 + r : k0);
                    const int rows = g->kg - k0 < MW ? g->kg - k0 : MW;
                    for (int c0 = 0; c0 < g->cout_g; c0 += 2 * VL) {
                        const int cols = g->cout_g - c0 < 2 * VL ? g->cout_g - c0 : 2 * VL;
                        const size_t run = (size_t)cs->hout * g->wc;
                        if (cols > VL) dw_tile2(tile, brow, dqt + c0, ldq, cnt, g->img, run);
                        else dw_tile1(tile, brow, dqt + c0, ldq, cnt, g->img, run);
                        for (int r = 0; r < rows; r++)
                            for (int l = 0; l < cols; l++)
                                dwg[(size_t)(c0 + l) * g->kg + k0 + r] += tile[r * 2 * VL + l];
                    }
                }
            }
            if (t->dinp) {
                /* dcomp = the adjoint of the forward gather, component by component. */
                const float *ap = t->ap_bwd + (size_t)gr * g->cinr * g->cout_g * cs->kh * cs->kw;
                /* component rows holding real input rows; the others are pure padding */
                const size_t p_lo = (size_t)(cs->pad_t / g->sh) * g->wc;
                const size_t p_hi = (size_t)((cs->pad_t + cs->h - 1) / g->sh + 1) * g->wc;
                for (int py = 0; py < g->sh; py++)
                    for (int px = 0; px < g->sw; px++) {
                        const int taps = ((cs->kh - py + g->sh - 1) / g->sh) *
                                         ((cs->kw - px + g->sw - 1) / g->sw);
                        for (int ci0 = 0; ci0 < g->cinr; ci0 += MR) {
                            float *dc = dcomp + ((size_t)ci0 * g->sh * g->sw +
                                                 (size_t)py * g->sw + px) * g->cstride;
                            /* a tile running past an image's range recomputes the same values
                                 * the next range writes, so overlaps are harmless */
                            for (int i = 0; i < cnt; i++)
                                for (size_t p0 = i * g->img + p_lo; p0 < i * g->img + p_hi;
                                     p0 += NR)
                                    bwd_tile(dc + p0, (size_t)g->sh * g->sw * g->cstride, ap, dq,
                                             p0, py, px, cs, g);
                            ap += (size_t)g->cout_g * taps * MR;
                        }
                    }
                unbuild_comps(t->dinp + in_off, dcomp, cnt, cs, g);
            }
        }
    }
    return 0;
}

/* One range of units per thread (bq_parallel_for); range idx owns workspace idx. A unit is
 * `unit` consecutive images: 1 in the forward, the backward's dW block (ranges then start on
 * block boundaries). */
typedef struct {
    int (*worker)(void *);
    conv_task *tasks;
    int unit, n;
} conv_call;

static void conv_range(void *ctx, int idx, size_t lo, size_t hi) {
    const conv_call *c = ctx;
    conv_task *t = &c->tasks[idx];
    t->n0 = (int)lo * c->unit;
    t->n1 = (int)hi * c->unit < c->n ? (int)hi * c->unit : c->n;
    c->worker(t);
}

static void run_tasks(int (*worker)(void *), conv_task *tasks, const bq_conv_shape *cs, int unit) {
    conv_call call = {worker, tasks, unit, cs->n};
    bq_parallel_for((size_t)((cs->n + unit - 1) / unit), 1, conv_range, &call);
}

static void split_tasks(conv_task *tasks, const conv_task *proto, const qgeom *g, float *ws0) {
    for (int i = 0; i < g->threads; i++) {
        tasks[i] = *proto;
        tasks[i].ws = ws0 + (size_t)i * g->ws_floats;
    }
}

/* ---------------------------------------------------------------- depthwise */

/* Depthwise (groups == Cin > 1): every input channel is a group with Cin_g = 1 feeding
 * `mult` output channels. The same q-space layout applies, but a GEMM with M = mult would waste
 * most of a micro-tile, so each tap is a plain vector loop over q (no bounds checks: padding
 * lives in the components). */

static float dot_f(const float *a, const float *b, size_t n) {
    vf acc = {0};
    size_t i = 0;
    for (; i + VL <= n; i += VL) acc += vload(a + i) * vload(b + i);
    float s = 0.0f;
    for (int l = 0; l < VL; l++) s += acc[l];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static int dw_fwd_worker(void *arg) {
    const conv_task *t = arg;
    const bq_conv_shape *cs = t->cs;
    const qgeom *g = t->g;
    const float *weight = t->ap_fwd;           /* raw (Cout, 1, Kh, Kw) weights */
    const int taps = cs->kh * cs->kw, mult = g->cout_g;
    float *comp = t->ws;
    float *qout = comp + (size_t)(g->cin_g + g->cinr) * g->sh * g->sw * g->cstride;
    const size_t plane = (size_t)cs->hout * cs->wout;
    for (int n = t->n0; n < t->n1; n += g->nb) {
        const int cnt = t->n1 - n < g->nb ? t->n1 - n : g->nb;
        const size_t qlen = block_qlen(g, cs, cnt);
        for (int ci = 0; ci < cs->cin; ci++) {
            build_comps(comp, t->inp + ((size_t)n * cs->cin + ci) * cs->h * cs->w, cnt, cs, g);
            for (int m = 0; m < mult; m++) {
                const int co = ci * mult + m;
                memset(qout, 0, sizeof(float) * qlen);
                for (int k = 0; k < taps; k++) {
                    const float wv = weight[(size_t)co * taps + k];
                    const float *b = comp + tap_off(g, cs, k);
                    for (size_t q = 0; q < qlen; q++) qout[q] += wv * b[q];
                }
                const float bv = t->bias ? t->bias[co] : 0.0f;
                for (int i = 0; i < cnt; i++)
                    store_plane(t->out + ((size_t)(n + i) * cs->cout + co) * plane,
                                qout + (size_t)i * g->img, bv, cs, g);
            }
        }
    }
    return 0;
}

static int dw_bwd_worker(void *arg) {
    const conv_task *t = arg;
    const bq_conv_shape *cs = t->cs;
    const qgeom *g = t->g;
    const float *weight = t->ap_fwd;
    const int taps = cs->kh * cs->kw, mult = g->cout_g;
    const size_t ncomp = (size_t)g->sh * g->sw * g->cstride;
    float *comp = t->ws, *dcomp = comp + ncomp;
    float *dq = comp + (size_t)(g->cin_g + g->cinr) * ncomp;
    const size_t plane = (size_t)cs->hout * cs->wout, nw = (size_t)cs->cout * taps;
    for (int n = t->n0; n < t->n1; n += g->nb) {
        const int cnt = t->n1 - n < g->nb ? t->n1 - n : g->nb;
        const size_t qlen = block_qlen(g, cs, cnt);
        float *dw_blk = t->dw_parts ? t->dw_parts + (size_t)(n / g->nb) * nw : NULL;
        if (dw_blk) memset(dw_blk, 0, sizeof(float) * nw);
        for (int ci = 0; ci < cs->cin; ci++) {
            const size_t in_off = ((size_t)n * cs->cin + ci) * cs->h * cs->w;
            if (dw_blk) build_comps(comp, t->inp + in_off, cnt, cs, g);
            if (t->dinp) memset(dcomp, 0, sizeof(float) * ncomp);
            for (int m = 0; m < mult; m++) {
                const int co = ci * mult + m;
                /* dout of this channel in q-space, zero at the junk positions */
                memset(dq, 0, sizeof(float) * qlen);
                for (int i = 0; i < cnt; i++) {
                    const float *src = t->dout + ((size_t)(n + i) * cs->cout + co) * plane;
                    for (int oy = 0; oy < cs->hout; oy++)
                        memcpy(dq + (size_t)i * g->img + (size_t)oy * g->wc, src + oy * cs->wout,
                               sizeof(float) * (size_t)cs->wout);
                }
                for (int k = 0; k < taps; k++) {
                    const size_t off = tap_off(g, cs, k);
                    if (dw_blk) dw_blk[(size_t)co * taps + k] += dot_f(dq, comp + off, qlen);
                    if (t->dinp) {
                        const float wv = weight[(size_t)co * taps + k];
                        float *dc = dcomp + off;
                        for (size_t q = 0; q < qlen; q++) dc[q] += wv * dq[q];
                    }
                }
            }
            if (t->dinp) unbuild_comps(t->dinp + in_off, dcomp, cnt, cs, g);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- explicit columns */

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

/* ---------------------------------------------------------------- public entry points */

void bq_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       const bq_conv_shape *cs, float *scratch) {
    if (cs->impl == BQ_CONV_IM2COL) {
        bq_conv2d_im2col_forward(out, inp, weight, bias, cs, scratch);
        return;
    }
    /* oneDNN; in FP32 a shape it refuses falls back to the direct kernel with a one-time warning
     * (error kept in cs->dnnl); bf16 never falls back (conv_dnnl.h, docs/onednn.md "BF16") */
    if (cs->impl == BQ_CONV_DNNL && bq_conv2d_dnnl_op_forward(out, inp, weight, bias, cs) == 0)
        return;
    conv_task tasks[BQ_MAX_THREADS];
    conv_task proto = {.cs = cs, .out = out, .inp = inp, .bias = bias};
    qgeom g;
    qgeom_init(&g, cs, nb_forward(cs));
    proto.g = &g;
    if (is_depthwise(cs)) {
        proto.ap_fwd = weight;
    } else {
        pack_fwd(scratch, weight, cs, &g);
        proto.ap_fwd = scratch;
    }
    split_tasks(tasks, &proto, &g, scratch + g.shared_floats);
    run_tasks(is_depthwise(cs) ? dw_fwd_worker : fwd_worker, tasks, cs, 1);
}

void bq_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const bq_conv_shape *cs,
                        float *scratch) {
    if (cs->impl == BQ_CONV_IM2COL) {
        bq_conv2d_im2col_backward(dinp, dweight, dbias, dout, inp, weight, cs, scratch);
        return;
    }
    if (cs->impl == BQ_CONV_DNNL &&
        bq_conv2d_dnnl_op_backward(dinp, dweight, dbias, dout, inp, weight, cs) == 0)
        return;
    const size_t plane = (size_t)cs->hout * cs->wout;
    if (dbias) {
        /* Vector partial sums: a scalar float sum is one 4-cycle add chain per element. */
        for (int n = 0; n < cs->n; n++)
            for (int c = 0; c < cs->cout; c++) {
                const float *g = dout + ((size_t)n * cs->cout + c) * plane;
                vf acc = {0};
                size_t i = 0;
                for (; i + VL <= plane; i += VL) acc += vload(g + i);
                float s = 0.0f;
                for (int l = 0; l < VL; l++) s += acc[l];
                for (; i < plane; i++) s += g[i];
                dbias[c] += s;
            }
    }
    if (!dinp && !dweight) return;
    conv_task tasks[BQ_MAX_THREADS];
    conv_task proto = {.cs = cs, .dinp = dinp, .inp = inp, .dout = dout};
    const size_t nw = (size_t)cs->cout * (cs->cin / cs->groups) * cs->kh * cs->kw;
    qgeom g;
    qgeom_init(&g, cs, nb_backward(cs));
    proto.g = &g;
    if (is_depthwise(cs)) {
        proto.ap_fwd = weight;
    } else {
        proto.ap_bwd = scratch + (size_t)cs->groups * g.coutr * g.kg;
        if (dinp) pack_bwd(scratch + (size_t)cs->groups * g.coutr * g.kg, weight, cs, &g);
    }
    split_tasks(tasks, &proto, &g, scratch + g.shared_floats);
    /* Threads take whole blocks; every block sums its own partial dW (no locks), and the
     * partials are added in block order: the same sums whatever the thread count. */
    const int nblocks = (cs->n + g.nb - 1) / g.nb;
    float *parts = scratch + g.shared_floats + (size_t)g.threads * g.ws_floats;
    if (dweight)
        for (int i = 0; i < g.threads; i++) tasks[i].dw_parts = parts;
    run_tasks(is_depthwise(cs) ? dw_bwd_worker : bwd_worker, tasks, cs, g.nb);
    if (dweight)
        for (int b = 0; b < nblocks; b++) {
            const float *pb = parts + (size_t)b * nw;
            for (size_t j = 0; j < nw; j++) dweight[j] += pb[j];
        }
}

void bq_im2col_ld(float *col, size_t ld, const float *img, const bq_conv_shape *cs,
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
                    const float *src = plane + (size_t)(oy * sh + ky - cs->pad_t) * w;
                    const int dx = kx - cs->pad_l;
                    for (int ox = 0; ox < ox_lo; ox++) dst[ox] = pad_value;
                    for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox] = src[ox * sw + dx];
                    for (int ox = ox_hi; ox < wo; ox++) dst[ox] = pad_value;
                }
            }
        }
    }
}

void bq_im2col(float *col, const float *img, const bq_conv_shape *cs, float pad_value) {
    bq_im2col_ld(col, (size_t)cs->hout * cs->wout, img, cs, pad_value);
}

void bq_col2im(float *img, const float *col, const bq_conv_shape *cs) {
    bq_col2im_ld(img, col, (size_t)cs->hout * cs->wout, cs);
}

void bq_col2im_ld(float *img, const float *col, size_t ld, const bq_conv_shape *cs) {
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
                    float *dst = plane + (size_t)(oy * sh + ky - cs->pad_t) * w;
                    const int dx = kx - cs->pad_l;
                    for (int ox = ox_lo; ox < ox_hi; ox++) dst[ox * sw + dx] += src[ox];
                }
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

