/*
 * intref.c — integer-only reference inference (see intref.h and docs/numerics.md).
 */
#include "core/errmsg.h"
#include "core/parallel.h"
#include "nn/conv_dnnl.h"
#include "quant/intref_i8.h"
#include "quant/intref.h"
#include "lower/lower.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_layer(bq_ilayer *L) {
    bq_lower_layer_free(L);
    free(L->w16); free(L->wf); free(L->w8); free(L->rq64);
}

void bq_intnet_free(bq_intnet *net) {
    if (!net) return;
    for (int l = 0; l < net->n_layers; l++) free_layer(&net->L[l]);
    free(net->L);
    if (net->codes && net->q)
        for (int i = 0; i < net->q->model.n_nodes; i++) free(net->codes[i]);
    free(net->codes);
    free(net->out_layer);
    free(net->logits);
    free(net->col); free(net->acc); free(net->asum); free(net->colt);
    free(net->xf); free(net->yf); free(net->fscratch);
    bq_dnnl_ctx_free(net->dnnl);
    bq_i8ctx_free(net->i8);
    free(net->x8); free(net->acc32);
    if (net->hwc && net->q)
        for (int i = 0; i < net->q->model.n_nodes; i++) free(net->hwc[i]);
    free(net->hwc); free(net->hwc_ok);
    memset(net, 0, sizeof(*net));
}


/* Loops over a fixed OUT_BLK elements: gcc -O2 (its "very cheap" vectoriser cost model) only
 * vectorises loops whose trip count needs no scalar epilogue, so every elementwise pass below runs
 * whole blocks through a fixed-count loop and the few leftover elements otherwise. */
#define OUT_BLK 32

/* The int8 kernel's per-lane output-stage operands (intref.h, rq64): the channel pattern of an
 * NHWC run repeats every lcm(cout, OUT_BLK) outputs. Layers with an lcm above 64 * OUT_BLK (odd
 * wide layers) keep rq_period 0 and take the scalar form. Returns -1 only when out of memory. */
static int make_rq64(bq_ilayer *L) {
    int a = L->cout, b = OUT_BLK;
    while (b) { int t = a % b; a = b; b = t; }   /* a = gcd(cout, OUT_BLK) */
    L->rq_period = L->raw32 || L->cout / a > 64 ? 0 : L->cout / a * OUT_BLK;
    const int P = L->rq_period;
    if (!P) return 0;
    L->rq64 = malloc(sizeof(int64_t) * 5 * (size_t)P);
    if (!L->rq64) return -1;
    for (int j = 0; j < P; j++) {
        const int c = j % L->cout;
        const bq_requant *rq = &L->rq[c];
        L->rq64[j] = L->b_q[c];
        L->rq64[P + j] = rq->m_acc;
        L->rq64[2 * P + j] = rq->m_res;
        L->rq64[3 * P + j] = (int64_t)1 << (rq->sh - 1);
        L->rq64[4 * P + j] = rq->sh;
    }
    return 0;
}

/* The int8 kernel's weights, when every centred code of the layer fits int8: |q_w - z_w| <= 127
 * and da = max |q_a - z_a| <= 127. Returns -1 only when out of memory. */
static int make_w8(bq_ilayer *L, long long da) {
    size_t n = (size_t)L->cout * L->K;
    if (da > 127) return 0;
    for (size_t i = 0; i < n; i++) {
        int d = (int)L->codes[i] - L->z_w[i / (size_t)L->K];
        if (d > 127 || d < -127) return 0;
    }
    L->w8 = malloc(n);
    if (!L->w8) return -1;
    for (size_t i = 0; i < n; i++) L->w8[i] = (int8_t)((int)L->codes[i] - L->z_w[i / (size_t)L->K]);
    L->i8 = 1;
    return make_rq64(L);
}

/* One layer: the lowering's integer parameters (sw/lower/lower.h), then the kernels' copies of
 * the weights (int16, and float / int8 when exact for the layer). */
static int build_layer(bq_ilayer *L, const bq_qmodel *q, int l, char *err, size_t errlen) {
    if (bq_lower_layer(L, q, l, BQ_LOWER_INT, err, errlen)) return -1;
    int C = L->cout;
    L->kp = (L->K + BQ_INTREF_KALIGN - 1) / BQ_INTREF_KALIGN * BQ_INTREF_KALIGN;
    L->w16 = calloc((size_t)C * L->kp, sizeof(int16_t));
    if (!L->w16) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int c = 0; c < C; c++)
        for (int k = 0; k < L->K; k++) L->w16[(size_t)c * L->kp + k] = L->codes[(size_t)c * L->K + k];
    long long qa_max = bq_qmax(L->abits);
    long long da = L->z_a > qa_max - L->z_a ? L->z_a : qa_max - L->z_a;   /* max |q_a - z_a| */
    long long max_abs_sum = 0;   /* max over channels of sum_k |q_w - z_w| * max|q_a - z_a| */
    for (int c = 0; c < C; c++) {
        long long wabs = 0;
        for (int k = 0; k < L->K; k++) {
            long long d = (long long)L->codes[(size_t)c * L->K + k] - L->z_w[c];
            wabs += d < 0 ? -d : d;
        }
        if (wabs * da > max_abs_sum) max_abs_sum = wabs * da;
    }
    L->fp32_exact = max_abs_sum < (1LL << 24);
    if (make_w8(L, da)) { bq_seterr(err, errlen, "out of memory"); return -1; }
    if (L->fp32_exact) {
        L->wf = malloc(sizeof(float) * (size_t)C * L->K);
        if (!L->wf) { bq_seterr(err, errlen, "out of memory"); return -1; }
        for (int c = 0; c < C; c++)
            for (int k = 0; k < L->K; k++)
                L->wf[(size_t)c * L->K + k] = (float)((int)L->codes[(size_t)c * L->K + k] - L->z_w[c]);
    }
    return 0;
}

/* BQ_INTREF_KERNEL: the fastest kernel layers may use (intref.h). */
static int kernel_from_env(bq_intnet *net, char *err, size_t errlen) {
    const char *k = getenv("BQ_INTREF_KERNEL");
    net->use_i8 = net->use_fp32 = 1;
    if (!k || !*k || !strcmp(k, "int8")) return 0;
    if (!strcmp(k, "fp32")) { net->use_i8 = 0; return 0; }
    if (!strcmp(k, "int16")) { net->use_i8 = net->use_fp32 = 0; return 0; }
    bq_seterr(err, errlen, "BQ_INTREF_KERNEL='%s': unknown kernel; use int8, fp32 or int16", k);
    return -1;
}

int bq_intnet_init(bq_intnet *net, const bq_qmodel *q, int max_batch, char *err, size_t errlen) {
    memset(net, 0, sizeof(*net));
    net->q = q;
    net->max_batch = max_batch;
    const bq_model *m = &q->model;
    const bq_aquant *in = &q->aq[0];
    if (in->bits <= 0 || !in->initialized) {
        bq_seterr(err, errlen, "input quantizer is %s; the integer path needs quantized activations",
               in->bits <= 0 ? "off (float activations)" : "not initialised");
        return -1;
    }
    net->L = calloc((size_t)q->n_layers, sizeof(bq_ilayer));
    net->codes = calloc((size_t)m->n_nodes, sizeof(uint8_t *));
    net->out_layer = malloc(sizeof(int) * (size_t)m->n_nodes);
    if (!net->L || !net->codes || !net->out_layer) goto oom;
    for (int i = 0; i < m->n_nodes; i++) net->out_layer[i] = -1;
    for (int l = 0; l < q->n_layers; l++) net->out_layer[q->layers[l].out_node] = l;
    net->n_layers = q->n_layers;
    for (int l = 0; l < q->n_layers; l++) {
        if (build_layer(&net->L[l], q, l, err, errlen)) { bq_intnet_free(net); return -1; }
        const bq_ilayer *L = &net->L[l];
        size_t col = (size_t)L->K * L->N, acc = (size_t)L->M * L->N;
        if (col > net->col_count) net->col_count = col;
        if (acc > net->acc_count) net->acc_count = acc;
        if ((size_t)L->N > net->asum_count) net->asum_count = (size_t)L->N;
        if ((size_t)L->N * L->kp > net->colt_count) net->colt_count = (size_t)L->N * L->kp;
        if (L->i8) {
            size_t x8 = (size_t)max_batch * L->cs.cin * L->cs.h * L->cs.w;
            size_t a32 = (size_t)max_batch * L->cout * L->N;
            if (x8 > net->x8_count) net->x8_count = x8;
            if (a32 > net->acc32_count) net->acc32_count = a32;
        }
        if (!L->fp32_exact) continue;
        bq_conv_shape cs = L->cs;
        cs.n = max_batch;
        size_t xf = (size_t)max_batch * cs.cin * cs.h * cs.w, yf = (size_t)max_batch * L->cout * L->N;
        size_t sc = bq_conv2d_scratch_floats(&cs);
        if (xf > net->xf_count) net->xf_count = xf;
        if (yf > net->yf_count) net->yf_count = yf;
        if (sc > net->fscratch_count) net->fscratch_count = sc;
    }
    if (kernel_from_env(net, err, errlen)) { bq_intnet_free(net); return -1; }
    if (!bq_i8_exact_on_cpu()) net->use_i8 = 0;   /* int8 layers run on the float kernel */
    bq_conv_impl impl = bq_conv_impl_from_env();
    for (int l = 0; l < net->n_layers; l++) net->L[l].cs.impl = (int)impl;
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *nd = &m->nodes[i];
        if (q->node_aq[i] < 0) continue;
        if (nd->kind == BQ_OP_AVGPOOL) {
            bq_seterr(err, errlen, "node '%s': average pooling has no integer definition in the "
                   "numerics contract", nd->name);
            bq_intnet_free(net);
            return -1;
        }
        net->codes[i] = malloc((size_t)max_batch * bq_node_size(nd));
        if (!net->codes[i]) goto oom;
    }
    net->logits = malloc(sizeof(int32_t) * (size_t)max_batch * (size_t)m->nodes[m->n_nodes - 1].c);
    net->col = malloc(sizeof(int32_t) * net->col_count);
    net->acc = malloc(sizeof(int32_t) * net->acc_count);
    net->asum = malloc(sizeof(int32_t) * net->asum_count);
    net->colt = calloc(net->colt_count, sizeof(int16_t));
    if (!net->logits || !net->col || !net->acc || !net->asum || !net->colt) goto oom;
    if (net->xf_count) {
        net->xf = malloc(sizeof(float) * net->xf_count);
        net->yf = malloc(sizeof(float) * net->yf_count);
        net->fscratch = malloc(sizeof(float) * (net->fscratch_count ? net->fscratch_count : 1));
        net->dnnl = bq_dnnl_ctx_new();   /* empty until a BQ_CONV_DNNL conv runs */
        if (!net->xf || !net->yf || !net->fscratch || !net->dnnl) goto oom;
    }
    if (net->x8_count && net->use_i8) {
        net->x8 = malloc(net->x8_count);
        net->acc32 = malloc(sizeof(int32_t) * net->acc32_count);
        net->i8 = bq_i8ctx_new(net->n_layers);   /* engine and primitives on first use */
        net->hwc = calloc((size_t)m->n_nodes, sizeof(uint8_t *));
        net->hwc_ok = calloc((size_t)m->n_nodes, sizeof(int));
        if (!net->x8 || !net->acc32 || !net->i8 || !net->hwc || !net->hwc_ok) goto oom;
        for (int l = 0; l < net->n_layers; l++) {
            const bq_ilayer *L = &net->L[l];
            int nodes[3] = {L->in_node, L->res_node, L->raw32 ? -1 : L->out_node};
            for (int j = 0; j < 3 && L->i8; j++)
                if (nodes[j] >= 0 && !net->hwc[nodes[j]] &&
                    !(net->hwc[nodes[j]] = malloc((size_t)max_batch * bq_node_size(&m->nodes[nodes[j]]))))
                    goto oom;
        }
    }
    return 0;
oom:
    bq_intnet_free(net);
    bq_seterr(err, errlen, "out of memory");
    return -1;
}

void bq_intref_im2col(int32_t *col, const uint8_t *img, const bq_ilayer *L, int g) {
    const bq_conv_shape *cs = &L->cs;
    int cin_g = cs->cin / L->groups;
    const uint8_t *base = img + (size_t)g * cin_g * cs->h * cs->w;
    for (int ci = 0; ci < cin_g; ci++)
        for (int ky = 0; ky < cs->kh; ky++)
            for (int kx = 0; kx < cs->kw; kx++) {
                int32_t *row = col + (size_t)((ci * cs->kh + ky) * cs->kw + kx) * L->N;
                const uint8_t *plane = base + (size_t)ci * cs->h * cs->w;
                for (int oy = 0; oy < cs->hout; oy++) {
                    int iy = oy * cs->stride_h - cs->pad_t + ky;
                    for (int ox = 0; ox < cs->wout; ox++) {
                        int ix = ox * cs->stride_w - cs->pad_l + kx;
                        int inside = iy >= 0 && iy < cs->h && ix >= 0 && ix < cs->w;
                        row[oy * cs->wout + ox] = inside ? plane[iy * cs->w + ix] : L->z_a;
                    }
                }
            }
}

/* acc (M, N) = W (M, K) * col (K, N), asum (N) = column sums of col: int32, wrapping. */
static void gemm_i32(int32_t *acc, int32_t *asum, const uint8_t *w, const int32_t *col, int M, int K,
                     int N) {
    for (int n = 0; n < N; n++) asum[n] = 0;
    for (int k = 0; k < K; k++) {
        const int32_t *cr = col + (size_t)k * N;
        for (int n = 0; n < N; n++) asum[n] += cr[n];
    }
    for (int mi = 0; mi < M; mi++) {
        int32_t *ar = acc + (size_t)mi * N;
        for (int n = 0; n < N; n++) ar[n] = 0;
        const uint8_t *wr = w + (size_t)mi * K;
        for (int k = 0; k < K; k++) {
            int32_t wv = wr[k];
            if (!wv) continue;
            const int32_t *cr = col + (size_t)k * N;
            for (int n = 0; n < N; n++) ar[n] += wv * cr[n];
        }
    }
}

void bq_intref_layer(const bq_ilayer *L, const uint8_t *in, const uint8_t *res, uint8_t *out,
                     int32_t *raw, int32_t *col, int32_t *acc, int32_t *asum) {
    for (int g = 0; g < L->groups; g++) {
        bq_intref_im2col(col, in, L, g);
        gemm_i32(acc, asum, L->codes + (size_t)g * L->M * L->K, col, L->M, L->K, L->N);
        for (int mi = 0; mi < L->M; mi++) {
            int c = g * L->M + mi;
            for (int p = 0; p < L->N; p++) {
                /* acc0 = acc - z_w*asum + bias_eff, modulo 2^32 like the hardware */
                uint32_t a0u = (uint32_t)acc[(size_t)mi * L->N + p] -
                               (uint32_t)L->z_w[c] * (uint32_t)asum[p] + (uint32_t)L->bias_eff[c];
                int32_t a0 = (int32_t)a0u;
                size_t o = (size_t)c * L->N + p;
                if (L->raw32) { raw[o] = a0; continue; }
                int32_t r = res ? (int32_t)res[o] - L->z_r : 0;
                out[o] = (uint8_t)bq_requant_apply(a0, r, &L->rq[c], L->z_o, L->lo, L->hi);
            }
        }
    }
}

/* Transposed im2col: colt (N, kp) int16, taps k >= K are 0. */
static void im2col_t(int16_t *colt, const uint8_t *img, const bq_ilayer *L, int g) {
    const bq_conv_shape *cs = &L->cs;
    int cin_g = cs->cin / L->groups;
    const uint8_t *base = img + (size_t)g * cin_g * cs->h * cs->w;
    for (int oy = 0; oy < cs->hout; oy++)
        for (int ox = 0; ox < cs->wout; ox++) {
            int16_t *row = colt + (size_t)(oy * cs->wout + ox) * L->kp;
            int k = 0;
            for (int ci = 0; ci < cin_g; ci++) {
                const uint8_t *plane = base + (size_t)ci * cs->h * cs->w;
                for (int ky = 0; ky < cs->kh; ky++) {
                    int iy = oy * cs->stride_h - cs->pad_t + ky;
                    for (int kx = 0; kx < cs->kw; kx++, k++) {
                        int ix = ox * cs->stride_w - cs->pad_l + kx;
                        int inside = iy >= 0 && iy < cs->h && ix >= 0 && ix < cs->w;
                        row[k] = (int16_t)(inside ? plane[iy * cs->w + ix] : L->z_a);
                    }
                }
            }
            for (; k < L->kp; k++) row[k] = 0;
        }
}

/* Dot product of two int16 rows of length kp (a multiple of BQ_INTREF_KALIGN), int32 sum. The
 * fixed-size inner block lets the compiler vectorise it (pmaddwd); products of codes <= 255 and
 * the checked int32 bounds keep it exact. */
static int32_t dot_i16(const int16_t *a, const int16_t *b, int kp) {
    int32_t s = 0;
    for (int k = 0; k < kp; k += BQ_INTREF_KALIGN) {
        int32_t blk = 0;
        for (int j = 0; j < BQ_INTREF_KALIGN; j++) blk += (int32_t)a[k + j] * (int32_t)b[k + j];
        s += blk;
    }
    return s;
}

/* Fast version of bq_intref_layer (same arithmetic, transposed operands). */
static void layer_fast(const bq_ilayer *L, const uint8_t *in, const uint8_t *res, uint8_t *out,
                       int32_t *raw, int16_t *colt) {
    for (int g = 0; g < L->groups; g++) {
        im2col_t(colt, in, L, g);
        for (int p = 0; p < L->N; p++) {
            const int16_t *cp = colt + (size_t)p * L->kp;
            int32_t asum = 0;
            for (int k = 0; k < L->kp; k++) asum += cp[k];
            for (int mi = 0; mi < L->M; mi++) {
                int c = g * L->M + mi;
                int32_t acc = dot_i16(L->w16 + (size_t)c * L->kp, cp, L->kp);
                uint32_t a0u = (uint32_t)acc - (uint32_t)L->z_w[c] * (uint32_t)asum +
                               (uint32_t)L->bias_eff[c];
                int32_t a0 = (int32_t)a0u;
                size_t o = (size_t)c * L->N + p;
                if (L->raw32) { raw[o] = a0; continue; }
                int32_t r = res ? (int32_t)res[o] - L->z_r : 0;
                out[o] = (uint8_t)bq_requant_apply(a0, r, &L->rq[c], L->z_o, L->lo, L->hi);
            }
        }
    }
}

/* The float batch kernel: one layer on a batch of n images. in (n, cin, h, w) codes, res (n, cout,
 * N) shortcut codes or NULL; writes out (n, cout, N) codes, or raw (n, cout) acc0 when raw32.
 * acc0 = conv(q_w - z_w, q_a - z_a) + b_q, the convolution in float (exact below 2^24, intref.h).
 * The two elementwise passes around the convolution run on the thread pool; integer work, so the
 * result does not depend on the thread count. */
typedef struct {
    const bq_ilayer *L;
    const uint8_t *in, *res;
    uint8_t *out;
    int32_t *raw;
    float *xf;                 /* centred codes in */
    const float *yf;           /* conv sums out */
} batch_pass;

/* x = in - z_a over OUT_BLK codes (restrict parameters: gcc honours them, not restrict locals) */
static void centre_blk_i8(int8_t *restrict x, const uint8_t *restrict in, int z_a) {
    for (int j = 0; j < OUT_BLK; j++) x[j] = (int8_t)((int)in[j] - z_a);
}
static void centre_blk_f(float *restrict x, const uint8_t *restrict in, int z_a) {
    for (int j = 0; j < OUT_BLK; j++) x[j] = (float)((int)in[j] - z_a);
}

static void centre_range(void *ctx, int idx, size_t lo, size_t hi) {
    const batch_pass *P = ctx;
    const int z_a = P->L->z_a;
    (void)idx;
    size_t i = lo;
    for (; i + OUT_BLK <= hi; i += OUT_BLK) centre_blk_f(P->xf + i, P->in + i, z_a);
    for (; i < hi; i++) P->xf[i] = (float)((int)P->in[i] - z_a);
}

/* One output channel's output stage (bq_requant_apply's operands, widened once). */
typedef struct {
    int64_t m_acc, m_res, half, z_o, z_r, lo, hi;
    int sh;
    uint32_t bq;
} chan_rq;

static chan_rq chan_rq_of(const bq_ilayer *L, int c) {
    const bq_requant *rq = &L->rq[c];
    /* a raw32 layer has no output stage (sh = 0): only bq is used */
    chan_rq k = {rq->m_acc, rq->m_res, rq->sh > 0 ? (int64_t)1 << (rq->sh - 1) : 0, L->z_o, L->z_r,
                 L->lo, L->hi, rq->sh, (uint32_t)L->b_q[c]};
    return k;
}

/* acc0 of OUT_BLK consecutive outputs: the conv sum (an exact integer) + b_q, modulo 2^32 */
static void acc0_blk(int32_t *restrict a0, const float *restrict yf, uint32_t bq) {
    for (int p = 0; p < OUT_BLK; p++) a0[p] = (int32_t)((uint32_t)(int32_t)yf[p] + bq);
}

/* bq_requant_apply's arithmetic, step for step, over OUT_BLK outputs; branch-free so the int64
 * multiply, shift and clamp vectorise (AVX-512: 8 lanes of int64). */
static void requant_blk(uint8_t *restrict out, const int32_t *restrict a0, const uint8_t *restrict res,
                        const chan_rq *k) {
    const int64_t m_acc = k->m_acc, m_res = k->m_res, half = k->half, z_o = k->z_o, z_r = k->z_r;
    const int64_t qlo = k->lo, qhi = k->hi;
    const int sh = k->sh;
    if (res) {
        for (int p = 0; p < OUT_BLK; p++) {
            int64_t t = (int64_t)a0[p] * m_acc + ((int64_t)res[p] - z_r) * m_res;
            int64_t q = ((t + half) >> sh) + z_o;
            q = q < qlo ? qlo : q;
            out[p] = (uint8_t)(q > qhi ? qhi : q);
        }
    } else {
        for (int p = 0; p < OUT_BLK; p++) {
            int64_t q = (((int64_t)a0[p] * m_acc + half) >> sh) + z_o;
            q = q < qlo ? qlo : q;
            out[p] = (uint8_t)(q > qhi ? qhi : q);
        }
    }
}

/* rows r = b * cout + c of (n * cout, N), in blocks of OUT_BLK outputs; a row's last partial
 * block goes through the same code on a zero-padded copy */
static void output_stage_range(void *ctx, int idx, size_t lo, size_t hi) {
    const batch_pass *P = ctx;
    const bq_ilayer *L = P->L;
    const int N = L->N;
    int32_t a0[OUT_BLK];
    float yt[OUT_BLK];
    uint8_t rt[OUT_BLK], qt[OUT_BLK];
    (void)idx;
    for (size_t r = lo; r < hi; r++) {
        int c = (int)(r % (size_t)L->cout);
        const chan_rq k = chan_rq_of(L, c);
        for (size_t o = r * (size_t)N, end = o + (size_t)N; o < end; o += OUT_BLK) {
            size_t len = end - o < OUT_BLK ? end - o : OUT_BLK;
            const float *y = P->yf + o;
            const uint8_t *res = P->res ? P->res + o : NULL;
            uint8_t *q = L->raw32 ? NULL : P->out + o;
            if (len < OUT_BLK) {
                memset(yt, 0, sizeof yt);
                memcpy(yt, y, sizeof(float) * len);
                if (res) { memset(rt, 0, sizeof rt); memcpy(rt, res, len); res = rt; }
                y = yt;
                q = qt;
            }
            acc0_blk(a0, y, k.bq);
            if (L->raw32) { memcpy(P->raw + o, a0, sizeof(int32_t) * len); continue; }
            requant_blk(q, a0, res, &k);
            if (len < OUT_BLK) memcpy(P->out + o, qt, len);
        }
    }
}

static void layer_batch_fp32(bq_intnet *net, const bq_ilayer *L, const uint8_t *in,
                             const uint8_t *res, uint8_t *out, int32_t *raw, int n) {
    bq_conv_shape cs = L->cs;
    cs.n = n;
    cs.dnnl = net->dnnl;
    batch_pass P = {L, in, res, out, raw, net->xf, net->yf};
    bq_parallel_for((size_t)n * cs.cin * cs.h * cs.w, 1 << 14, centre_range, &P);
    bq_conv2d_forward(net->yf, net->xf, L->wf, NULL, &cs, net->fscratch);
    bq_parallel_for((size_t)n * L->cout, 1 + (1 << 14) / (size_t)L->N, output_stage_range, &P);
}

/* ---- the int8 kernel: NHWC from the convolution to the output stage, one thread per block of
 * images (each runs its images' centring, oneDNN convolution and output stage in a row) ---- */

/* Swap the bytes of a selected by mask m (after shifting a right by sh) with those of b. */
static inline void swap_bits(uint64_t *a, uint64_t *b, int sh, uint64_t m) {
    uint64_t t = ((*a >> sh) ^ *b) & m;
    *a ^= t << sh;
    *b ^= t;
}

/* src rows i (8 bytes at src + i*ss, byte j = column j) -> dst rows j (8 bytes at dst + j*ds):
 * three rounds swap 4x4, 2x2 and 1x1 sub-blocks across the diagonal, in 64-bit registers
 * (about 8x fewer operations than a byte-by-byte copy). */
static void transpose8x8(uint8_t *dst, size_t ds, const uint8_t *src, size_t ss) {
    uint64_t r0, r1, r2, r3, r4, r5, r6, r7;
    memcpy(&r0, src, 8); memcpy(&r1, src + ss, 8); memcpy(&r2, src + 2 * ss, 8);
    memcpy(&r3, src + 3 * ss, 8); memcpy(&r4, src + 4 * ss, 8); memcpy(&r5, src + 5 * ss, 8);
    memcpy(&r6, src + 6 * ss, 8); memcpy(&r7, src + 7 * ss, 8);
    const uint64_t m4 = 0x00000000FFFFFFFFull, m2 = 0x0000FFFF0000FFFFull, m1 = 0x00FF00FF00FF00FFull;
    swap_bits(&r0, &r4, 32, m4); swap_bits(&r1, &r5, 32, m4);
    swap_bits(&r2, &r6, 32, m4); swap_bits(&r3, &r7, 32, m4);
    swap_bits(&r0, &r2, 16, m2); swap_bits(&r1, &r3, 16, m2);
    swap_bits(&r4, &r6, 16, m2); swap_bits(&r5, &r7, 16, m2);
    swap_bits(&r0, &r1, 8, m1); swap_bits(&r2, &r3, 8, m1);
    swap_bits(&r4, &r5, 8, m1); swap_bits(&r6, &r7, 8, m1);
    memcpy(dst, &r0, 8); memcpy(dst + ds, &r1, 8); memcpy(dst + 2 * ds, &r2, 8);
    memcpy(dst + 3 * ds, &r3, 8); memcpy(dst + 4 * ds, &r4, 8); memcpy(dst + 5 * ds, &r5, 8);
    memcpy(dst + 6 * ds, &r6, 8); memcpy(dst + 7 * ds, &r7, 8);
}

/* dst[j*ds + i] = src[i*ss + j] for i < rows, j < cols (bytes): 8x8 blocks, then the edges */
static void transpose_u8(uint8_t *restrict dst, size_t ds, const uint8_t *restrict src, size_t ss,
                         int rows, int cols) {
    int i0 = 0;
    for (; i0 + 8 <= rows; i0 += 8) {
        int j0 = 0;
        for (; j0 + 8 <= cols; j0 += 8)
            transpose8x8(dst + (size_t)j0 * ds + i0, ds, src + (size_t)i0 * ss + j0, ss);
        for (; j0 < cols; j0++)
            for (int i = i0; i < i0 + 8; i++) dst[(size_t)j0 * ds + i] = src[(size_t)i * ss + j0];
    }
    for (; i0 < rows; i0++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * ds + i0] = src[(size_t)i0 * ss + j];
}

/* dst (N, C) = src (C, N) for one image (N = h*w pixels) */
static void nchw_to_nhwc(uint8_t *dst, const uint8_t *src, int C, int N) {
    transpose_u8(dst, (size_t)C, src, (size_t)N, C, N);
}

/* OUT_BLK consecutive NHWC outputs (channels j % cout in the lanes): bq_requant_apply's
 * arithmetic with per-lane operands k (rows of rq64, offset to the block), vectorised. */
static void requant_lanes(uint8_t *restrict q, const int32_t *restrict a, const uint8_t *restrict r,
                          const int64_t *restrict k, int P, int64_t z_o, int64_t z_r, int64_t qlo,
                          int64_t qhi) {
    const int64_t *restrict bq = k, *restrict m_acc = k + P, *restrict m_res = k + 2 * (size_t)P;
    const int64_t *restrict half = k + 3 * (size_t)P, *restrict sh = k + 4 * (size_t)P;
    if (r) {
        for (int j = 0; j < OUT_BLK; j++) {
            int64_t a0 = (int32_t)((uint32_t)a[j] + (uint32_t)bq[j]);
            int64_t t = a0 * m_acc[j] + ((int64_t)r[j] - z_r) * m_res[j];
            int64_t v = ((t + half[j]) >> sh[j]) + z_o;
            v = v < qlo ? qlo : v;
            q[j] = (uint8_t)(v > qhi ? qhi : v);
        }
    } else {
        for (int j = 0; j < OUT_BLK; j++) {
            int64_t a0 = (int32_t)((uint32_t)a[j] + (uint32_t)bq[j]);
            int64_t v = ((a0 * m_acc[j] + half[j]) >> sh[j]) + z_o;
            v = v < qlo ? qlo : v;
            q[j] = (uint8_t)(v > qhi ? qhi : v);
        }
    }
}

/* Output stage of image b: acc (N, C) conv sums -> hwc (N, C) codes and out (C, N) codes, or raw
 * (C, N) acc0 when raw32. res: the shortcut's (N, C) codes or NULL. The N*C outputs are one run
 * whose channel pattern repeats every rq_period outputs (a multiple of OUT_BLK): whole periods
 * go through requant_lanes, the rest through the scalar form. */
static void output_stage_nhwc(const bq_ilayer *L, const int32_t *acc, const uint8_t *res, uint8_t *hwc,
                              uint8_t *out, int32_t *raw) {
    const int C = L->cout, N = L->N, P = L->rq_period;
    if (L->raw32) {
        for (int p = 0; p < N; p++)
            for (int c = 0; c < C; c++)
                raw[(size_t)c * N + p] = (int32_t)((uint32_t)acc[(size_t)p * C + c] + (uint32_t)L->b_q[c]);
        return;
    }
    const size_t total = (size_t)N * C;
    size_t o = 0;
    for (; P && o + (size_t)P <= total; o += (size_t)P)
        for (int j = 0; j < P; j += OUT_BLK)
            requant_lanes(hwc + o + j, acc + o + j, res ? res + o + j : NULL, L->rq64 + j, P, L->z_o,
                          L->z_r, L->lo, L->hi);
    for (; o < total; o++) {
        int c = (int)(o % (size_t)C);
        int32_t a0 = (int32_t)((uint32_t)acc[o] + (uint32_t)L->b_q[c]);
        hwc[o] = (uint8_t)bq_requant_apply(a0, res ? (int32_t)res[o] - L->z_r : 0, &L->rq[c], L->z_o,
                                           L->lo, L->hi);
    }
    transpose_u8(out, (size_t)N, hwc, (size_t)C, N, C);
}

typedef struct {
    bq_intnet *net;
    const bq_ilayer *L;
    int n, threads;
    int in_ready, res_ready;   /* hwc copies of the input / shortcut already hold this batch */
    int failed[BQ_MAX_THREADS];
    char err[BQ_MAX_THREADS][256];
} i8_pass;

/* images [t*n/T, (t+1)*n/T): the same split in bq_i8_prepare's batch sizes and here */
static int i8_first(int t, int n, int T) { return (int)((long long)n * t / T); }

static void i8_range(void *ctx, int idx, size_t lo, size_t hi) {
    i8_pass *P = ctx;
    bq_intnet *net = P->net;
    const bq_ilayer *L = P->L;
    const bq_model *m = &net->q->model;
    (void)hi;
    const int t = (int)lo, b0 = i8_first(t, P->n, P->threads), b1 = i8_first(t + 1, P->n, P->threads);
    const size_t isz = bq_node_size(&m->nodes[L->in_node]), osz = (size_t)L->cout * L->N;
    const int cin = L->cs.cin, hw_in = L->cs.h * L->cs.w;
    (void)idx;
    for (int b = b0; b < b1; b++) {
        if (!P->in_ready)
            nchw_to_nhwc(net->hwc[L->in_node] + b * isz, net->codes[L->in_node] + b * isz, cin, hw_in);
        if (L->res_node >= 0 && !P->res_ready)
            nchw_to_nhwc(net->hwc[L->res_node] + b * osz, net->codes[L->res_node] + b * osz, L->cout, L->N);
    }
    /* centre the block's input codes: x8 = q_a - z_a */
    const uint8_t *hin = net->hwc[L->in_node];
    size_t i = (size_t)b0 * isz, end = (size_t)b1 * isz;
    for (; i + OUT_BLK <= end; i += OUT_BLK) centre_blk_i8(net->x8 + i, hin + i, L->z_a);
    for (; i < end; i++) net->x8[i] = (int8_t)((int)hin[i] - L->z_a);
    bq_conv_shape cs = L->cs;
    cs.n = b1 - b0;
    if (bq_i8_conv(net->i8, L->layer, &cs, net->acc32 + (size_t)b0 * osz, net->x8 + (size_t)b0 * isz, t,
                   P->err[t], sizeof P->err[t])) {
        P->failed[t] = 1;
        return;
    }
    int ncls = L->raw32 ? L->cout * L->N : 0;
    for (int b = b0; b < b1; b++)
        output_stage_nhwc(L, net->acc32 + b * osz, L->res_node >= 0 ? net->hwc[L->res_node] + b * osz : NULL,
                          L->raw32 ? NULL : net->hwc[L->out_node] + b * osz,
                          L->raw32 ? NULL : net->codes[L->out_node] + b * osz,
                          L->raw32 ? net->logits + (size_t)b * ncls : NULL);
}

/* Returns -1 (and records why) when oneDNN refused: the caller runs another kernel. */
static int layer_batch_i8(bq_intnet *net, const bq_ilayer *L, int n) {
    i8_pass P = {.net = net, .L = L, .n = n, .threads = bq_parallel_ranges((size_t)n, 1),
                 .in_ready = net->hwc_ok[L->in_node], .res_ready = L->res_node >= 0 && net->hwc_ok[L->res_node]};
    int rc = 0;
    for (int t = 0; t < P.threads && !rc; t++) {
        bq_conv_shape cs = L->cs;
        cs.n = i8_first(t + 1, n, P.threads) - i8_first(t, n, P.threads);
        rc = bq_i8_prepare(net->i8, L->layer, &cs, L->w8, P.threads, P.err[0], sizeof P.err[0]);
    }
    if (!rc) bq_parallel_for((size_t)P.threads, 1, i8_range, &P);
    for (int t = 0; t < P.threads && !rc; t++)
        if (P.failed[t]) { rc = -1; if (t) memcpy(P.err[0], P.err[t], sizeof P.err[0]); }
    if (rc) {
        if (!net->i8_fallbacks++) snprintf(net->i8_error, sizeof net->i8_error, "%s", P.err[0]);
        return -1;
    }
    net->hwc_ok[L->in_node] = 1;
    if (L->res_node >= 0) net->hwc_ok[L->res_node] = 1;
    if (!L->raw32) net->hwc_ok[L->out_node] = 1;
    return 0;
}

void bq_intref_gap(uint8_t *out, const uint8_t *in, int c, int hw) {
    for (int ch = 0; ch < c; ch++) {
        int64_t s = 0;
        for (int p = 0; p < hw; p++) s += in[(size_t)ch * hw + p];
        out[ch] = (uint8_t)((2 * s + hw) / (2 * (int64_t)hw));   /* non-negative: floor */
    }
}

void bq_intref_maxpool(uint8_t *out, const uint8_t *in, const bq_node *nd, const bq_node *pin) {
    for (int ch = 0; ch < nd->c; ch++)
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++) {
                int best = -1;
                for (int ky = 0; ky < nd->kh; ky++)
                    for (int kx = 0; kx < nd->kw; kx++) {
                        int iy = oy * nd->stride_h - nd->pad_t + ky, ix = ox * nd->stride_w - nd->pad_l + kx;
                        if (iy < 0 || iy >= pin->h || ix < 0 || ix >= pin->w) continue;
                        int v = in[((size_t)ch * pin->h + iy) * pin->w + ix];
                        if (v > best) best = v;
                    }
                out[((size_t)ch * nd->h + oy) * nd->w + ox] = (uint8_t)(best < 0 ? 0 : best);
            }
}

void bq_intnet_forward(bq_intnet *net, const float *x, int n) {
    const bq_qmodel *q = net->q;
    const bq_model *m = &q->model;
    const bq_aquant *A0 = &q->aq[0];
    size_t in_sz = bq_node_size(&m->nodes[0]);
    int ncls = m->nodes[m->n_nodes - 1].c;
    for (size_t i = 0; i < (size_t)n * in_sz; i++)
        net->codes[0][i] = (uint8_t)bq_aq_code(x[i], A0->scale, A0->zero, A0->bits);
    if (net->hwc_ok) memset(net->hwc_ok, 0, sizeof(int) * (size_t)m->n_nodes);
    for (int i = 1; i < m->n_nodes; i++) {
        const bq_node *nd = &m->nodes[i];
        int l = net->out_layer[i];
        if (l >= 0) {
            const bq_ilayer *L = &net->L[l];
            size_t isz = bq_node_size(&m->nodes[L->in_node]);
            size_t osz = (size_t)L->cout * L->N;
            const uint8_t *bin = net->codes[L->in_node];
            const uint8_t *bres = L->res_node >= 0 ? net->codes[L->res_node] : NULL;
            uint8_t *bout = L->raw32 ? NULL : net->codes[L->out_node];
            int32_t *braw = L->raw32 ? net->logits : NULL;
            if (L->i8 && net->use_i8 && net->i8 && !layer_batch_i8(net, L, n))
                continue;
            if (L->fp32_exact && net->use_fp32) {
                layer_batch_fp32(net, L, bin, bres, bout, braw, n);
                continue;
            }
            for (int b = 0; b < n; b++) {
                const uint8_t *res = L->res_node >= 0 ? net->codes[L->res_node] + (size_t)b * osz : NULL;
                uint8_t *out = L->raw32 ? NULL : net->codes[L->out_node] + (size_t)b * osz;
                int32_t *raw = L->raw32 ? net->logits + (size_t)b * ncls : NULL;
                layer_fast(L, net->codes[L->in_node] + (size_t)b * isz, res, out, raw, net->colt);
            }
            continue;
        }
        if (!net->codes[i]) continue;   /* not a quantized tensor (e.g. a branch-ending conv) */
        const bq_node *pin = &m->nodes[nd->in[0]];
        size_t isz = bq_node_size(pin), osz = bq_node_size(nd);
        for (int b = 0; b < n; b++) {
            const uint8_t *src = net->codes[nd->in[0]] + (size_t)b * isz;
            uint8_t *dst = net->codes[i] + (size_t)b * osz;
            if (nd->kind == BQ_OP_GAP) bq_intref_gap(dst, src, pin->c, pin->h * pin->w);
            else if (nd->kind == BQ_OP_MAXPOOL) bq_intref_maxpool(dst, src, nd, pin);
            else memcpy(dst, src, osz);   /* flatten */
        }
    }
}

int bq_intnet_argmax(const bq_intnet *net, const int32_t *acc0) {
    const bq_ilayer *L = &net->L[net->n_layers - 1];
    int best = 0;
    float bv = (float)acc0[0] * L->logit_scale[0];   /* float32 products, ties to the lowest class */
    for (int c = 1; c < L->cout; c++) {
        float v = (float)acc0[c] * L->logit_scale[c];
        if (v > bv) { bv = v; best = c; }
    }
    return best;
}

void bq_intnet_predict(const bq_intnet *net, int n, int *preds) {
    int ncls = net->L[net->n_layers - 1].cout;
    for (int b = 0; b < n; b++) preds[b] = bq_intnet_argmax(net, net->logits + (size_t)b * ncls);
}
