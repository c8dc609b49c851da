/*
 * reconstruct.c — the BRECQ engine (see reconstruct.h and docs/brecq.md).
 *
 * Layout of this file:
 *   1. the unit runner: a small forward/backward executor over one node range of the folded
 *      model, with the fake-quant of docs/numerics.md, soft weights, learnable steps and QDrop
 *      masks, computing only the gradients that lead to something trained;
 *   2. units (which node ranges are reconstructed together);
 *   3. caches (unit inputs, FP targets and Fisher weights for all calibration images), computed by
 *      whole-network passes on bq_exec + bq_fq (the shared fake-quant of fakequant.h);
 *   4. the reconstruction of one unit (stage A / stage B / joint QDrop stage);
 *   5. checkpoints, the driver and the benchmark helper.
 */
#include "quant/reconstruct.h"

#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/adaround.h"
#include "nn/exec.h"
#include "quant/fakequant.h"
#include "core/fileio.h"
#include "quant/fisher.h"
#include "quant/lsq.h"
#include "nn/ops.h"
#include "nn/optim.h"
#include "core/progress.h"
#include "quant/quant.h"
#include "nn/zrows.h"

#define CHUNK 4             /* images per whole-network pass when building caches (small: the
                               train-mode whole-network executor is part of the peak memory) */
#define STEP_MIN 1e-8f      /* learned steps are kept above this */
#define CKPT_MAGIC "BQRCKPT1"

#define ERR(...) do { snprintf(err, errlen, __VA_ARGS__); } while (0)

/* ======================================================================= 1. the unit runner */

typedef struct runner_s {
    const bq_qmodel *q;
    const bq_model *m;         /* &q->model (folded) */
    int lo, hi;                /* node range run by the runner */
    int ext;                   /* the one producer outside [lo, hi] (filled by the caller), -1 */
    int B;                     /* max batch */
    int train;
    float **act;               /* [n_nodes] (B, size) for ext and [lo, hi] */
    float **pre;               /* [n_nodes] pre-quant values of quantized nodes (train) */
    float **grad;              /* [n_nodes] (train) */
    uint8_t **mask;            /* [n_nodes] QDrop masks of quantized nodes (train) */
    const float **w;           /* [n_nodes] weights in use for conv/linear nodes */
    float **wq;                /* [n_nodes] hard dequantized weights (owned) */
    float **bias;              /* [n_nodes] effective biases (owned) */
    float **dw;                /* [n_nodes] weight gradients of trained layers (owned) */
    unsigned char *up;         /* [n_nodes] something trained at or above this node */
    unsigned char *learn_aq;   /* [n_aq] step learned in this unit */
    float *scratch;
    int act_on;
    float qdrop;               /* p_drop (0 = no QDrop) */
    bq_rng *rng;
    float *s;                  /* [n_aq] live steps */
    double *ds;                /* [n_aq] step gradients */
    double flops;              /* GEMM flops of one forward + backward at batch B */
    bq_conv_impl impl;         /* conv implementation (BQ_CONV=direct|im2col, ops.h; direct is
                                  faster on every fres20/mbv2t layer, docs/brecq.md) */
} runner;

static int conv_shape(bq_conv_shape *cs, const bq_model *m, int i, int n) {
    const bq_node *nd = &m->nodes[i], *in = &m->nodes[nd->in[0]];
    return bq_conv2d_shape(cs, n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw, nd->stride_h,
                           nd->stride_w, nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups);
}

/* The conv geometry of node i at batch n with the runner's implementation. */
static int rn_conv_shape(const runner *r, bq_conv_shape *cs, int i, int n) {
    int bad = conv_shape(cs, r->m, i, n);
    cs->impl = r->impl;
    return bad;
}

static int is_layer(const bq_node *nd) {
    return nd->kind == BQ_OP_CONV || nd->kind == BQ_OP_LINEAR;
}

/* Quantizer applied at node i's output inside the runner, or -1. */
static int rn_aq(const runner *r, int i) {
    if (!r->act_on) return -1;
    int a = r->q->node_aq[i];
    if (a < 0 || r->q->aq[a].bits <= 0 || r->q->aq[a].node != i) return -1;
    return a;
}

static void rn_free(runner *r) {
    int nn = r->m ? r->m->n_nodes : 0;
    for (int i = 0; i < nn; i++) {
        if (r->act) free(r->act[i]);
        if (r->pre) free(r->pre[i]);
        if (r->grad) free(r->grad[i]);
        if (r->mask) free(r->mask[i]);
        if (r->wq) free(r->wq[i]);
        if (r->bias) free(r->bias[i]);
        if (r->dw) free(r->dw[i]);
    }
    free(r->act); free(r->pre); free(r->grad); free(r->mask); free(r->w); free(r->wq);
    free(r->bias); free(r->dw); free(r->up); free(r->learn_aq); free(r->scratch); free(r->s);
    free(r->ds);
    memset(r, 0, sizeof(*r));
}

/* Allocate a runner for nodes [lo, hi] of q->model (ext: the external producer). Weights start as
 * the hard dequantized codes, steps as q's. Returns 0 or -1 (OOM / unsupported op). */
static int rn_init(runner *r, const bq_qmodel *q, int lo, int hi, int ext, int B, int train,
                   char *err, size_t errlen) {
    memset(r, 0, sizeof(*r));
    r->q = q;
    r->m = &q->model;
    r->lo = lo; r->hi = hi; r->ext = ext; r->B = B; r->train = train;
    r->impl = bq_conv_impl_from_env();
    const bq_model *m = r->m;
    int nn = m->n_nodes;
    r->act = calloc((size_t)nn, sizeof(float *));
    r->pre = calloc((size_t)nn, sizeof(float *));
    r->grad = calloc((size_t)nn, sizeof(float *));
    r->mask = calloc((size_t)nn, sizeof(uint8_t *));
    r->w = calloc((size_t)nn, sizeof(float *));
    r->wq = calloc((size_t)nn, sizeof(float *));
    r->bias = calloc((size_t)nn, sizeof(float *));
    r->dw = calloc((size_t)nn, sizeof(float *));
    r->up = calloc((size_t)nn, 1);
    r->learn_aq = calloc((size_t)(q->n_aq + 1), 1);
    r->s = calloc((size_t)(q->n_aq + 1), sizeof(float));
    r->ds = calloc((size_t)(q->n_aq + 1), sizeof(double));
    if (!r->act || !r->pre || !r->grad || !r->mask || !r->w || !r->wq || !r->bias || !r->dw ||
        !r->up || !r->learn_aq || !r->s || !r->ds)
        goto oom;
    for (int a = 0; a < q->n_aq; a++) r->s[a] = q->aq[a].scale;
    size_t scratch = 1;
    for (int i = (ext >= 0 ? ext : lo); i <= hi; i++) {
        if (i != ext && i < lo) continue;
        const bq_node *nd = &m->nodes[i];
        size_t sz = (size_t)B * bq_node_size(nd);
        if (i >= lo) {
            switch (nd->kind) {
            case BQ_OP_INPUT: case BQ_OP_CONV: case BQ_OP_LINEAR: case BQ_OP_RELU:
            case BQ_OP_RELU6: case BQ_OP_CLAMP: case BQ_OP_ADD: case BQ_OP_FLATTEN:
                break;
            default:
                ERR("reconstruct: node '%s' (%s) inside a reconstruction unit is not supported; "
                    "units may hold conv, linear, relu, relu6, clamp, add and flatten",
                    nd->name, bq_op_name(nd->kind));
                rn_free(r);
                return -1;
            }
        }
        r->act[i] = malloc(sizeof(float) * sz);
        if (!r->act[i]) goto oom;
        /* gradients, pre-quant copies and QDrop masks are allocated by rn_plan, only where
         * something flows */
        if (i >= lo && is_layer(nd)) {
            int l = q->node_layer[i];
            const bq_qlayer *L = &q->layers[l];
            size_t nw = (size_t)L->cout * L->per_out;
            r->wq[i] = malloc(sizeof(float) * nw);
            r->bias[i] = calloc((size_t)L->cout, sizeof(float));
            if (!r->wq[i] || !r->bias[i]) goto oom;
            bq_wq_dequantize(r->wq[i], L->codes, L->scale, L->zero, L->cout, L->per_out);
            r->w[i] = r->wq[i];
            if (nd->kind == BQ_OP_CONV) {
                bq_conv_shape cs;
                if (rn_conv_shape(r, &cs, i, B)) {
                    ERR("reconstruct: bad conv geometry at '%s'", nd->name);
                    rn_free(r);
                    return -1;
                }
                size_t s = bq_conv2d_scratch_floats(&cs);
                if (s > scratch) scratch = s;
                r->flops += 2.0 * B * cs.hout * cs.wout * (double)nd->c * (nd->kh * nd->kw) *
                            (double)(cs.cin / cs.groups);
            } else {
                r->flops += 2.0 * B * (double)nd->c * bq_node_size(&m->nodes[nd->in[0]]);
            }
        }
    }
    r->scratch = malloc(sizeof(float) * scratch);
    if (!r->scratch) goto oom;
    return 0;
oom:
    ERR("reconstruct: out of memory (runner for nodes %d..%d, batch %d)", lo, hi, B);
    rn_free(r);
    return -1;
}

/* Mark layer node i as trained (allocates its weight gradient). */
static int rn_train_layer(runner *r, int i) {
    const bq_qlayer *L = &r->q->layers[r->q->node_layer[i]];
    if (!r->dw[i]) {
        r->dw[i] = calloc((size_t)L->cout * L->per_out, sizeof(float));
        if (!r->dw[i]) return -1;
    }
    return 0;
}

/* Which nodes carry a gradient: up[i] = something trained at i or upstream of i (in range);
 * allocates the gradient buffers of those nodes, and the pre-quant copies (and QDrop masks when
 * r->qdrop > 0) of their quantized outputs. Call after setting dw / learn_aq / act_on / qdrop.
 * Returns 0 or -1 (OOM). */
static int rn_plan(runner *r) {
    const bq_model *m = r->m;
    if (r->ext >= 0) r->up[r->ext] = 0;
    for (int i = r->lo; i <= r->hi; i++) {
        const bq_node *nd = &m->nodes[i];
        int u = r->dw[i] != NULL;
        int a = r->q->node_aq[i];
        if (a >= 0 && r->learn_aq[a] && r->q->aq[a].node == i) u = 1;
        for (int j = 0; j < 2; j++)
            if (nd->in[j] >= 0 && r->up[nd->in[j]]) u = 1;
        r->up[i] = (unsigned char)u;
        if (!r->train) continue;
        size_t sz = (size_t)r->B * bq_node_size(nd);
        if (u && !r->grad[i] && !(r->grad[i] = calloc(sz, sizeof(float)))) return -1;
        if (rn_aq(r, i) >= 0) {
            /* QDrop masks every quantized node (also those without a gradient) */
            if ((u || r->qdrop > 0.0f) && !r->pre[i] && !(r->pre[i] = malloc(sizeof(float) * sz)))
                return -1;
            if (r->qdrop > 0.0f && !r->mask[i] && !(r->mask[i] = calloc(sz, 1))) return -1;
        }
    }
    return 0;
}

/* Effective biases of the layers in range: b_q * s_w * s_a with the live input step when the
 * input quantizer is on (numerics §1), else the float bias. */
static void rn_sync_bias(runner *r) {
    const bq_qmodel *q = r->q;
    for (int i = r->lo; i <= r->hi; i++) {
        if (!r->bias[i]) continue;
        const bq_node *nd = &r->m->nodes[i];
        const bq_qlayer *L = &q->layers[q->node_layer[i]];
        const float *b = bq_param_data(r->m, nd->p_bias);
        int a = L->aq_in;
        int quant = r->act_on && a >= 0 && q->aq[a].bits > 0;
        for (int c = 0; c < L->cout; c++) {
            float bc = b ? b[c] : 0.0f;
            if (!quant) { r->bias[i][c] = bc; continue; }
            float sa = r->s[a];
            double sws = (double)L->scale[c] * (double)sa;
            r->bias[i][c] = (float)((double)bq_bias_code(bc, L->scale[c], sa) * sws);
        }
    }
}

static void rn_forward(runner *r, int n) {
    const bq_model *m = r->m;
    for (int i = r->lo; i <= r->hi; i++) {
        const bq_node *nd = &m->nodes[i];
        float *out = r->act[i];
        const float *a = nd->in[0] >= 0 ? r->act[nd->in[0]] : NULL;
        size_t count = (size_t)n * bq_node_size(nd);
        switch (nd->kind) {
        case BQ_OP_CONV: {
            bq_conv_shape cs;
            rn_conv_shape(r, &cs, i, n);
            bq_conv2d_forward(out, a, r->w[i], r->bias[i], &cs, r->scratch);
            break;
        }
        case BQ_OP_LINEAR:
            bq_linear_forward(out, a, r->w[i], r->bias[i], n,
                              (int)bq_node_size(&m->nodes[nd->in[0]]), nd->c);
            break;
        case BQ_OP_RELU: bq_relu_forward(out, a, count); break;
        case BQ_OP_RELU6: bq_relu6_forward(out, a, count); break;
        case BQ_OP_CLAMP: bq_clamp_forward(out, a, count, nd->lo, nd->hi); break;
        case BQ_OP_ADD: bq_add_forward(out, a, r->act[nd->in[1]], count); break;
        case BQ_OP_FLATTEN: memcpy(out, a, sizeof(float) * count); break;
        default: break;   /* INPUT: filled by the caller */
        }
        int q = rn_aq(r, i);
        if (q < 0) continue;
        const bq_aquant *A = &r->q->aq[q];
        int qmax = (int)bq_qmax(A->bits);
        if (r->train && r->pre[i]) {
            memcpy(r->pre[i], out, sizeof(float) * count);
            if (r->qdrop > 0.0f && r->mask[i]) {
                bq_lsq_drop_mask(r->mask[i], count, r->qdrop, r->rng);
                bq_lsq_forward_mask(out, r->pre[i], r->mask[i], count, r->s[q], A->zero, qmax);
                continue;
            }
        }
        bq_lsq_forward(out, out, count, r->s[q], A->zero, qmax);
    }
}

/* Zero the gradients that backward accumulates into (nodes that carry one). */
static void rn_zero_grad(runner *r, int n) {
    for (int i = r->lo; i <= r->hi; i++)
        if (r->up[i]) memset(r->grad[i], 0, sizeof(float) * (size_t)n * bq_node_size(&r->m->nodes[i]));
    if (r->ext >= 0 && r->up[r->ext])
        memset(r->grad[r->ext], 0, sizeof(float) * (size_t)n * bq_node_size(&r->m->nodes[r->ext]));
    for (int i = r->lo; i <= r->hi; i++)
        if (r->dw[i]) {
            const bq_qlayer *L = &r->q->layers[r->q->node_layer[i]];
            memset(r->dw[i], 0, sizeof(float) * (size_t)L->cout * L->per_out);
        }
}

/* Backward from grad[hi] (set by the caller after rn_zero_grad) down to lo. */
static void rn_backward(runner *r, int n) {
    const bq_model *m = r->m;
    for (int i = r->hi; i >= r->lo; i--) {
        if (!r->up[i]) continue;
        const bq_node *nd = &m->nodes[i];
        float *dout = r->grad[i];
        size_t count = (size_t)n * bq_node_size(nd);
        int q = rn_aq(r, i);
        if (q >= 0) {
            const bq_aquant *A = &r->q->aq[q];
            double ds = bq_lsq_backward(dout, dout, r->pre[i], r->qdrop > 0.0f ? r->mask[i] : NULL,
                                        count, r->s[q], A->zero, (int)bq_qmax(A->bits));
            r->ds[q] += ds;
        }
        int p = nd->in[0];
        float *da = (p >= 0 && r->up[p]) ? r->grad[p] : NULL;
        const float *a = p >= 0 ? r->act[p] : NULL;
        switch (nd->kind) {
        case BQ_OP_CONV:
            if (da || r->dw[i]) {
                bq_conv_shape cs;
                rn_conv_shape(r, &cs, i, n);
                bq_conv2d_backward(da, r->dw[i], NULL, dout, a, r->w[i], &cs, r->scratch);
            }
            break;
        case BQ_OP_LINEAR:
            if (da || r->dw[i])
                bq_linear_backward(da, r->dw[i], NULL, dout, a, r->w[i], n,
                                   (int)bq_node_size(&m->nodes[p]), nd->c);
            break;
        case BQ_OP_RELU: if (da) bq_relu_backward(da, dout, a, count); break;
        case BQ_OP_RELU6: if (da) bq_relu6_backward(da, dout, a, count); break;
        case BQ_OP_CLAMP: if (da) bq_clamp_backward(da, dout, a, count, nd->lo, nd->hi); break;
        case BQ_OP_FLATTEN: if (da) for (size_t k = 0; k < count; k++) da[k] += dout[k]; break;
        case BQ_OP_ADD: {
            int p2 = nd->in[1];
            float *db = r->up[p2] ? r->grad[p2] : NULL;
            for (size_t k = 0; k < count; k++) {
                if (da) da[k] += dout[k];
                if (db) db[k] += dout[k];
            }
            break;
        }
        default: break;
        }
    }
}

/* GEMM flops of one iteration at batch n: forward of every layer, dW of trained layers, dX where
 * the layer's input carries a gradient (what rn_backward computes). */
static double rn_gemm_flops(const runner *r, int n) {
    const bq_model *m = r->m;
    double f = 0;
    for (int i = r->lo; i <= r->hi; i++) {
        const bq_node *nd = &m->nodes[i];
        if (!is_layer(nd)) continue;
        double one;
        if (nd->kind == BQ_OP_CONV) {
            bq_conv_shape cs;
            conv_shape(&cs, m, i, n);
            one = 2.0 * n * cs.hout * cs.wout * (double)nd->c * nd->kh * nd->kw * (cs.cin / cs.groups);
        } else {
            one = 2.0 * n * (double)nd->c * bq_node_size(&m->nodes[nd->in[0]]);
        }
        f += one;
        if (r->dw[i]) f += one;
        if (nd->in[0] >= 0 && r->up[nd->in[0]]) f += one;
    }
    return f;
}

/* ======================================================================= 2. units */

typedef struct {
    int lo, hi, in;            /* node range, external input node */
    int layers[16];            /* trained layer indices (conv/linear in range, not the first) */
    int n_layers;
    char name[BQ_NAME_LEN];
} unit;

static int n_consumers(const bq_model *m, int node, int *only) {
    int c = 0;
    for (int i = node + 1; i < m->n_nodes; i++)
        for (int j = 0; j < 2; j++)
            if (m->nodes[i].in[j] == node) { c++; *only = i; }
    return c;
}

/* Layer unit: the layer and the one activation that alone consumes it. */
static void layer_unit(const bq_qmodel *q, int l, unit *u) {
    const bq_model *m = &q->model;
    int node = q->layers[l].node, only = -1;
    memset(u, 0, sizeof(*u));
    u->lo = u->hi = node;
    u->in = m->nodes[node].in[0];
    if (n_consumers(m, node, &only) == 1) {
        bq_op_kind k = m->nodes[only].kind;
        if (k == BQ_OP_RELU || k == BQ_OP_RELU6 || k == BQ_OP_CLAMP) u->hi = only;
    }
    u->layers[u->n_layers++] = l;
    snprintf(u->name, sizeof(u->name), "%s", m->nodes[node].name);
}

/* Units of a method (block = 1: blocks + outside layers; 0: layer-wise). Returns the count;
 * units may be NULL to count only. The first layer is never a unit. */
static int make_units(const bq_qmodel *q, int block, unit *units) {
    const bq_model *m = &q->model;
    int nu = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *nd = &m->nodes[i];
        if (block && nd->block >= 0) {
            const bq_block *b = &m->blocks[nd->block];
            if (i != b->first) continue;
            if (units) {
                unit *u = &units[nu];
                memset(u, 0, sizeof(*u));
                u->lo = b->first; u->hi = b->last; u->in = b->input;
                for (int k = b->first; k <= b->last; k++) {
                    int l = q->node_layer[k];
                    if (l >= 0 && !q->layers[l].first && u->n_layers < 16)
                        u->layers[u->n_layers++] = l;
                }
                snprintf(u->name, sizeof(u->name), "%s", b->name);
            }
            nu++;
            continue;
        }
        int l = q->node_layer[i];
        if (l < 0 || q->layers[l].first) continue;
        if (units) layer_unit(q, l, &units[nu]);
        nu++;
    }
    return nu;
}

int bq_recon_num_units(const bq_qmodel *q, bq_method method) {
    return make_units(q, method != BQ_METHOD_ADAROUND, NULL);
}

/* ======================================================================= 3. caches */

typedef struct {
    int N;                     /* calibration images */
    float *x;                  /* (N, in_c, in_h, in_w) normalised calibration images */
    /* per unit */
    size_t in_sz, out_sz;      /* floats per image at the unit input / output */
    bq_zrows xin_q;            /* (N, in_sz) input from the quantized network (floats) */
    uint8_t *xin_qc;           /* the same as codes, when it is quantized (in_s, in_z): exact and
                                  a quarter of the memory (the joint QDrop stage caches 3 tensors) */
    float in_s;
    int32_t in_z;
    bq_zrows xin_fp;           /* (N, in_sz) input from the FP network */
    bq_zrows y_fp;             /* (N, out_sz) FP target */
    /* the float caches are post-ReLU activations, stored without their zeros (zrows.h: 2/3
     * of the memory on fres20, bit-exact) */
    uint8_t *fw;               /* (N, out_sz) Fisher weights (log-coded, fisher.h) */
    float *g;                  /* (CHUNK, out_sz) scratch for gradients */
    float *fp_logits;          /* (CHUNK, classes) */
} caches;

typedef struct {
    bq_qmodel *q;
    bq_fq fq;                  /* shared fake-quant (weights from q's codes) */
    bq_exec ex;                /* train-mode executor on fq.net, batch CHUNK */
    caches c;
    const bq_recipe *r;
    bq_progress prog;
    double done_iters, total_iters;
    bq_recon_stats *stats;
    bq_recon_bench *bench;     /* benchmark mode: random caches, phase timers, no progress */
} ctx_t;

/* Give freed heap pages back to the system. The caches are tens of MB per unit and the
 * whole-network executor lives only while they are built: without this, glibc keeps the freed
 * blocks (its mmap threshold rises to the size of the largest freed block), and peak RSS crept up
 * by ~45 MB over the first units (measured; docs/brecq.md "Speed and memory"). */
static void release_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void free_caches(caches *c) {
    bq_zrows_free(&c->xin_q); bq_zrows_free(&c->xin_fp); bq_zrows_free(&c->y_fp);
    free(c->xin_qc); free(c->fw); free(c->g); free(c->fp_logits);
    c->g = c->fp_logits = NULL;
    c->xin_qc = c->fw = NULL;
    release_memory();
}

static void set_fq_mode(ctx_t *X, int weights_quant, int act_on) {
    X->fq.weight_on = weights_quant;
    X->fq.act_on = act_on;
    bq_fq_sync(&X->fq);
}

/* Forward the first n images (from image s0) to node `last` in the current fq mode. */
static void net_forward(ctx_t *X, int s0, int n, int last) {
    const bq_model *m = &X->fq.net;
    size_t isz = (size_t)m->in_c * m->in_h * m->in_w;
    bq_exec_forward_range(&X->ex, m, X->c.x + (size_t)s0 * isz, n, 0, last, 0);
}

/* (Re)allocate the per-unit caches; returns 0 or -1 (OOM, err set). */
static int alloc_caches(ctx_t *X, const unit *u, int need_q, int q_act, int need_fp, int fisher,
                        char *err, size_t errlen) {
    caches *c = &X->c;
    const bq_model *m = &X->q->model;
    int N = c->N, out = bq_model_output(m), ncls = m->nodes[out].c;
    c->in_sz = bq_node_size(&m->nodes[u->in]);
    c->out_sz = bq_node_size(&m->nodes[u->hi]);
    free_caches(c);
    int ina = X->q->node_aq[u->in];
    int codes = need_q && q_act && ina >= 0 && X->q->aq[ina].bits > 0;
    if (codes) { c->in_s = X->q->aq[ina].scale; c->in_z = X->q->aq[ina].zero; }
    int bad = bq_zrows_init(&c->y_fp, N, c->out_sz);
    if (need_q && codes) c->xin_qc = malloc((size_t)N * c->in_sz);
    else if (need_q) bad |= bq_zrows_init(&c->xin_q, N, c->in_sz);
    if (need_fp) bad |= bq_zrows_init(&c->xin_fp, N, c->in_sz);
    if (fisher) {
        c->fw = malloc((size_t)N * c->out_sz);
        c->g = malloc(sizeof(float) * CHUNK * c->out_sz);
        c->fp_logits = malloc(sizeof(float) * (size_t)CHUNK * ncls);
    }
    if (bad || (need_q && codes && !c->xin_qc) ||
        (fisher && (!c->fw || !c->g || !c->fp_logits))) {
        ERR("reconstruct: out of memory caching unit '%s' (%d images)", u->name, N);
        return -1;
    }
    return 0;
}

static int build_caches_in(ctx_t *X, const unit *u, int need_q, int q_act, int need_fp,
                           int fisher, bq_fisher_mode fmode, float damping, char *err,
                           size_t errlen) {
    caches *c = &X->c;
    const bq_model *m = &X->q->model;
    int N = c->N, out = bq_model_output(m), ncls = m->nodes[out].c;
    double t0 = bq_now();
    if (alloc_caches(X, u, need_q, q_act, need_fp, fisher, err, errlen)) return -1;
    /* FP pass: targets (and FP inputs) */
    set_fq_mode(X, 0, 0);
    for (int s = 0; s < N; s += CHUNK) {
        int n = N - s < CHUNK ? N - s : CHUNK;
        net_forward(X, s, n, u->hi);
        for (int i = 0; i < n; i++) {
            if (bq_zrows_put(&c->y_fp, X->ex.act[u->hi] + (size_t)i * c->out_sz) ||
                (need_fp && bq_zrows_put(&c->xin_fp, X->ex.act[u->in] + (size_t)i * c->in_sz))) {
                ERR("reconstruct: out of memory caching unit '%s' (%d images)", u->name, N);
                return -1;
            }
        }
    }
    /* quantized pass: inputs from the already quantized preceding network */
    if (need_q) {
        set_fq_mode(X, 1, q_act);
        for (int s = 0; s < N; s += CHUNK) {
            int n = N - s < CHUNK ? N - s : CHUNK;
            net_forward(X, s, n, u->in);
            const float *a = X->ex.act[u->in];
            if (c->xin_qc) {   /* on the grid: x = (code - z) * s exactly, as bq_aq_fake made it */
                uint8_t *dst = c->xin_qc + (size_t)s * c->in_sz;
                for (size_t k = 0; k < (size_t)n * c->in_sz; k++)
                    dst[k] = (uint8_t)(nearbyint((double)a[k] / (double)c->in_s) + c->in_z);
            } else {
                for (int i = 0; i < n; i++)
                    if (bq_zrows_put(&c->xin_q, a + (size_t)i * c->in_sz)) {
                        ERR("reconstruct: out of memory caching unit '%s' (%d images)", u->name, N);
                        return -1;
                    }
            }
        }
    }
    /* Fisher: g = dKL(fp || q)/d(unit output) by a real backward pass through the rest of the
     * quantized network (its activation quantizers as in this stage), per sample */
    if (fisher) {
        /* pass 1 stores g^2 / ref log-coded (ref = mean g^2 of the first chunk, so the 2^+-10.6
         * code range sits around the data), pass 2 recodes into the weights */
        double sum2 = 0.0, ref = 0.0;
        size_t cnt = (size_t)N * c->out_sz;
        for (int s = 0; s < N; s += CHUNK) {
            int n = N - s < CHUNK ? N - s : CHUNK;
            set_fq_mode(X, 0, 0);
            net_forward(X, s, n, out);
            memcpy(c->fp_logits, X->ex.act[out], sizeof(float) * (size_t)n * ncls);
            set_fq_mode(X, 1, q_act);
            const bq_model *net = &X->fq.net;
            size_t isz = (size_t)net->in_c * net->in_h * net->in_w;
            bq_fisher_output_grad(c->g, &X->ex, net, c->x + (size_t)s * isz, c->fp_logits, n,
                                  u->hi);
            size_t cn = (size_t)n * c->out_sz;
            if (s == 0) {
                for (size_t k = 0; k < cn; k++) ref += (double)c->g[k] * c->g[k];
                ref = ref > 0.0 ? ref / (double)cn : 1.0;
            }
            for (size_t k = 0; k < cn; k++) {
                float gk = c->g[k];
                sum2 += (double)gk * gk;
                c->fw[(size_t)s * c->out_sz + k] = bq_logcode((float)((double)gk * gk / ref));
            }
        }
        /* g -> weight, normalised over the whole calibration set (fisher.h) */
        double mean = sum2 / (double)cnt;
        float lut[256];
        bq_logcode_table(lut);
        for (size_t k = 0; k < cnt; k++) {
            double g2 = (double)lut[c->fw[k]] * ref;
            float wk;
            if (fmode == BQ_FISHER_REF) wk = (float)((sqrt(g2) + 1.0) * (sqrt(g2) + 1.0));
            else if (fmode == BQ_FISHER_NORM && mean > 0.0)
                wk = (float)((1.0 - damping) * g2 / mean + damping);
            else wk = 1.0f;
            c->fw[k] = bq_logcode(wk);
        }
    }
    set_fq_mode(X, 1, 1);
    if (X->stats) X->stats->stage_seconds[2] += bq_now() - t0;
    return 0;
}

/* The whole-network executor (train mode, for the Fisher backward) exists only while caches are
 * built: during the iterations its memory goes to the unit runner instead (peak RSS). */
static int build_caches(ctx_t *X, const unit *u, int need_q, int q_act, int need_fp, int fisher,
                        bq_fisher_mode fmode, float damping, char *err, size_t errlen) {
    if (bq_fq_init(&X->fq, X->q, CHUNK, 1)) { ERR("reconstruct: out of memory"); return -1; }
    if (bq_exec_init(&X->ex, &X->fq.net, CHUNK, 1)) {
        bq_fq_free(&X->fq);
        ERR("reconstruct: out of memory");
        return -1;
    }
    bq_fq_bind(&X->fq, &X->ex);
    X->fq.init_p = X->r->p;
    int rc = build_caches_in(X, u, need_q, q_act, need_fp, fisher, fmode, damping, err, errlen);
    bq_exec_free(&X->ex);
    bq_fq_free(&X->fq);
    release_memory();
    return rc;
}

/* Benchmark caches: the same buffers as build_caches, filled with fixed pseudo-random values in
 * [0, 1) (inputs, targets) and unit Fisher weights, without the whole-network passes. */
static int bench_caches(ctx_t *X, const unit *u, int need_q, int q_act, int need_fp, int fisher,
                        char *err, size_t errlen) {
    caches *c = &X->c;
    if (alloc_caches(X, u, need_q, q_act, need_fp, fisher, err, errlen)) return -1;
    uint64_t seed = 1;
    size_t big = c->in_sz > c->out_sz ? c->in_sz : c->out_sz;
    float *row = malloc(sizeof(float) * big);
    if (!row) { ERR("bench: out of memory"); return -1; }
    /* ReLU-like rows: 40% zeros (fres20's caches hold 34-59%) */
#define RELU_LIKE() fmaxf(0.0f, ((float)(bq_splitmix64(&seed) >> 40) / 16777216.0f - 0.4f) / 0.6f)
    int bad = 0;
    for (int n = 0; n < c->N; n++) {
        for (size_t k = 0; k < c->in_sz; k++) row[k] = RELU_LIKE();
        if (c->xin_q.n) bad |= bq_zrows_put(&c->xin_q, row);
        if (c->xin_fp.n) bad |= bq_zrows_put(&c->xin_fp, row);
        if (c->xin_qc)
            for (size_t k = 0; k < c->in_sz; k++)
                c->xin_qc[(size_t)n * c->in_sz + k] = (uint8_t)(row[k] * 15.0f);
        for (size_t k = 0; k < c->out_sz; k++) row[k] = RELU_LIKE();
        bad |= bq_zrows_put(&c->y_fp, row);
    }
#undef RELU_LIKE
    if (c->fw) memset(c->fw, bq_logcode(1.0f), (size_t)c->N * c->out_sz);
    free(row);
    if (bad) { ERR("bench: out of memory"); return -1; }
    return 0;
}

/* ======================================================================= 4. one unit */

enum { ST_A = 0, ST_B = 1, ST_JOINT = 2 };
static const char *stage_name[3] = {"A weights", "B act-steps", "QDrop joint"};

/* Seed of the random stream of (stage, unit): independent of resume. */
static uint64_t unit_seed(uint64_t seed, int stage, int u) {
    uint64_t x = seed ^ 0x5851F42D4C957F2DULL;
    x ^= (uint64_t)(stage + 1) * 0x9E3779B97F4A7C15ULL;
    x ^= (uint64_t)(u + 1) * 0xD1B54A32D192ED03ULL;
    bq_splitmix64(&x);
    return x;
}

static int run_unit(ctx_t *X, const unit *u, int ui, int nu, int stage, char *err,
                    size_t errlen) {
    const bq_recipe *R = X->r;
    bq_qmodel *q = X->q;
    const bq_model *m = &q->model;
    int weights = stage != ST_B, acts = stage != ST_A;
    int act_on = acts;
    int fisher = weights && R->loss == BQ_LOSS_FISHER;
    bq_fisher_mode fmode = R->fisher_norm == BQ_FISHER_ABS_PLUS_ONE ? BQ_FISHER_REF : BQ_FISHER_NORM;
    int iters = stage == ST_A ? R->iters : (stage == ST_B ? R->act_iters : R->qdrop_iters);
    int B = R->batch, N = X->c.N;
    float pw = stage == ST_B ? R->p : R->rec_p_weight;
    if (fisher) pw = 2.0f;

    /* which steps are learned here */
    runner rn;
    if (rn_init(&rn, q, u->lo, u->hi, u->in, B, 1, err, errlen)) return -1;
    rn.act_on = act_on;
    int n_learn_aq = 0;
    if (acts)
        for (int i = u->lo; i <= u->hi; i++) {
            int a = q->node_aq[i];
            if (a >= 0 && q->aq[a].bits > 0 && q->aq[a].node == i && !rn.learn_aq[a]) {
                rn.learn_aq[a] = 1;
                n_learn_aq++;
            }
        }
    if (!weights && n_learn_aq == 0) {   /* nothing to learn */
        rn_free(&rn);
        X->done_iters += iters;
        return 0;
    }

    int rc = -1;
    bq_optim opt_w, opt_a;
    memset(&opt_w, 0, sizeof opt_w);
    memset(&opt_a, 0, sizeof opt_a);
    float *alpha[16] = {0}, *wf[16] = {0}, *ws[16] = {0}, *da[16] = {0}, *sg[16] = {0};
    double *reg_ch[16] = {0};
    float *s_learn = NULL, *ds_learn = NULL;
    int *aq_of = NULL;
    float *xb, *yb = NULL;
    uint8_t *fb = NULL;
    uint8_t *in_mask = NULL;
    float *frow = NULL;        /* one decoded FP input row (QDrop mix) */
    int *idx = NULL;
    size_t nalpha = 0;

    if (X->bench ? bench_caches(X, u, stage != ST_B, act_on, stage != ST_A, fisher, err, errlen)
                 : build_caches(X, u, stage != ST_B, act_on, stage != ST_A, fisher, fmode,
                                R->fisher_damping, err, errlen))
        goto out;

    bq_optim_config ac = bq_optim_adam_defaults();
    ac.beta1 = R->adam_beta1; ac.beta2 = R->adam_beta2; ac.eps = R->adam_eps;
    if (weights) {
        bq_param_entry ent[16];
        for (int k = 0; k < u->n_layers; k++) {
            const bq_qlayer *L = &q->layers[u->layers[k]];
            size_t nw = (size_t)L->cout * L->per_out;
            alpha[k] = malloc(sizeof(float) * nw);
            wf[k] = malloc(sizeof(float) * nw);
            ws[k] = malloc(sizeof(float) * nw);
            da[k] = malloc(sizeof(float) * nw);
            sg[k] = malloc(sizeof(float) * nw);
            reg_ch[k] = malloc(sizeof(double) * (size_t)L->cout);
            if (!alpha[k] || !wf[k] || !ws[k] || !da[k] || !sg[k] || !reg_ch[k] ||
                rn_train_layer(&rn, L->node)) {
                ERR("reconstruct: out of memory");
                goto out;
            }
            bq_adaround_init(wf[k], alpha[k], bq_param_data(m, m->nodes[L->node].p_weight),
                             L->scale, L->cout, L->per_out);
            rn.w[L->node] = ws[k];
            ent[k] = (bq_param_entry){alpha[k], da[k], nw, 1};
            nalpha += nw;
        }
        if (bq_optim_init(&opt_w, &ac, ent, u->n_layers, err, errlen)) goto out;
    }
    if (n_learn_aq) {
        s_learn = calloc((size_t)n_learn_aq, sizeof(float));
        ds_learn = calloc((size_t)n_learn_aq, sizeof(float));
        aq_of = calloc((size_t)n_learn_aq, sizeof(int));
        if (!s_learn || !ds_learn || !aq_of) { ERR("reconstruct: out of memory"); goto out; }
        bq_param_entry ent[64];
        int k = 0;
        for (int a = 0; a < q->n_aq && k < 64; a++)
            if (rn.learn_aq[a]) {
                aq_of[k] = a;
                s_learn[k] = q->aq[a].scale;
                ent[k] = (bq_param_entry){&s_learn[k], &ds_learn[k], 1, 1};
                k++;
            }
        if (bq_optim_init(&opt_a, &ac, ent, n_learn_aq, err, errlen)) goto out;
    }
    rn.qdrop = stage == ST_JOINT ? R->qdrop_prob : 0.0f;
    if (rn_plan(&rn)) { ERR("reconstruct: out of memory"); goto out; }

    size_t in_sz = X->c.in_sz, out_sz = X->c.out_sz;
    xb = rn.act[u->in];   /* the batch is gathered straight into the runner's input */
    yb = malloc(sizeof(float) * B * out_sz);
    idx = malloc(sizeof(int) * B);
    if (fisher) fb = malloc((size_t)B * out_sz);
    if (stage == ST_JOINT) {
        in_mask = malloc((size_t)B * in_sz);
        frow = malloc(sizeof(float) * in_sz);
    }
    if (!yb || !idx || (fisher && !fb) || (stage == ST_JOINT && (!in_mask || !frow))) {
        ERR("reconstruct: out of memory");
        goto out;
    }
    bq_rng rng;
    bq_rng_seed(&rng, unit_seed(R->seed, stage, ui));
    rn.rng = &rng;
    int ina = q->node_aq[u->in];   /* quantizer of the unit input (fixed here) */
    int in_quant = act_on && ina >= 0 && q->aq[ina].bits > 0;
    const bq_node *on = &m->nodes[u->hi];
    int oc = on->c, ohw = on->h * on->w;
    /* LSQ gradient scale (QDrop): 1 / sqrt(numel * Qmax) */
    float gscale[64];
    for (int k = 0; k < n_learn_aq; k++) {
        const bq_aquant *A = &q->aq[aq_of[k]];
        double numel = (double)B * bq_node_size(&m->nodes[A->node]);
        gscale[k] = stage == ST_JOINT ? (float)(1.0 / sqrt(numel * bq_qmax(A->bits))) : 1.0f;
    }
    double loss = 0.0, reg = 0.0;
    float beta = R->beta_start;
    char what[96];
    snprintf(what, sizeof what, "%s", stage_name[stage]);
    bq_recon_bench *bn = X->bench;
    if (bn) bn->flops = rn_gemm_flops(&rn, B);
    double tp[BQ_BENCH_PHASES + 1];
#define PHASE(k) do { if (bn) tp[k] = bq_now(); } while (0)
    for (int t = 0; t < iters; t++) {
        PHASE(0);
        for (int b = 0; b < B; b++) idx[b] = (int)bq_rng_below(&rng, (uint32_t)N);
        const bq_zrows *src = stage == ST_B ? &X->c.xin_fp : &X->c.xin_q;
        if (stage != ST_B && X->c.xin_qc) {
            const float cs = X->c.in_s;
            const int32_t cz = X->c.in_z;
            for (int b = 0; b < B; b++) {
                const uint8_t *qc = X->c.xin_qc + (size_t)idx[b] * in_sz;
                float *d = xb + b * in_sz;
                for (size_t k = 0; k < in_sz; k++) d[k] = (float)((int32_t)qc[k] - cz) * cs;
            }
        } else {
            for (int b = 0; b < B; b++) bq_zrows_get(src, idx[b], xb + b * in_sz);
        }
        if (stage == ST_B && in_quant)
            bq_lsq_forward(xb, xb, B * in_sz, q->aq[ina].scale, q->aq[ina].zero,
                           (int)bq_qmax(q->aq[ina].bits));
        if (stage == ST_JOINT) {   /* QDrop: the unit input mixes quantized and FP inputs */
            bq_lsq_drop_mask(in_mask, B * in_sz, R->qdrop_prob, &rng);
            for (int b = 0; b < B; b++) {
                bq_zrows_get(&X->c.xin_fp, idx[b], frow);
                for (size_t k = 0; k < in_sz; k++)
                    if (in_mask[b * in_sz + k]) xb[b * in_sz + k] = frow[k];
            }
        }
        for (int b = 0; b < B; b++) {
            bq_zrows_get(&X->c.y_fp, idx[b], yb + b * out_sz);
            if (fisher)
                memcpy(fb + b * out_sz, X->c.fw + (size_t)idx[b] * out_sz, out_sz);
        }
        PHASE(1);
        for (int k = 0; k < n_learn_aq; k++) rn.s[aq_of[k]] = s_learn[k];
        for (int k = 0; k < u->n_layers && weights; k++) {
            const bq_qlayer *L = &q->layers[u->layers[k]];
            bq_adaround_forward_sg(ws[k], sg[k], alpha[k], wf[k], L->scale, L->zero,
                                   (int)bq_qmax(L->wbits), L->cout, L->per_out);
        }
        rn_sync_bias(&rn);
        PHASE(2);
        rn_forward(&rn, B);
        PHASE(3);
        rn_zero_grad(&rn, B);
        for (int k = 0; k < n_learn_aq; k++) rn.ds[aq_of[k]] = 0.0;
        loss = bq_recon_loss(rn.grad[u->hi], rn.act[u->hi], yb, fisher ? fb : NULL, B, oc, ohw, pw);
        PHASE(4);
        rn_backward(&rn, B);
        PHASE(5);
        reg = 0.0;
        if (weights) {
            int on_reg = bq_adaround_beta(t, iters, R->warmup, R->beta_start, R->beta_end, &beta);
            for (int k = 0; k < u->n_layers; k++) {
                const bq_qlayer *L = &q->layers[u->layers[k]];
                reg += bq_adaround_grad(da[k], rn.dw[L->node], sg[k], wf[k], L->scale, L->zero,
                                        (int)bq_qmax(L->wbits), L->cout, L->per_out, on_reg,
                                        R->weight_lambda, beta, reg_ch[k]);
            }
            bq_optim_step(&opt_w, R->lr_round);
        }
        if (n_learn_aq) {
            for (int k = 0; k < n_learn_aq; k++) ds_learn[k] = (float)rn.ds[aq_of[k]] * gscale[k];
            float lr0 = stage == ST_JOINT ? R->lr_act_qdrop : R->lr_act;
            bq_optim_step(&opt_a, bq_lr_cosine(lr0, t, iters, 0));
            for (int k = 0; k < n_learn_aq; k++)
                if (!(s_learn[k] > STEP_MIN)) s_learn[k] = STEP_MIN;
        }
        X->done_iters += 1;
        if (bn) {
            PHASE(6);
            if (t >= bn->warmup)
                for (int k = 0; k < BQ_BENCH_PHASES; k++) bn->phase_ms[k] += (tp[k + 1] - tp[k]) * 1e3;
            continue;
        }
        if ((t & 63) == 0 || t == iters - 1)
            bq_progress_update(&X->prog, X->done_iters, X->total_iters,
                               "%s unit %d/%d %s it %d/%d loss %.5g reg %.4g beta %.2f", what,
                               ui + 1, nu, u->name, t + 1, iters, loss, reg, beta);
    }
    /* finish: hard rounding, learned steps */
    for (int k = 0; k < u->n_layers && weights; k++) {
        bq_qlayer *L = &q->layers[u->layers[k]];
        size_t nw = (size_t)L->cout * L->per_out;
        int32_t *codes = malloc(sizeof(int32_t) * nw);
        if (!codes) { ERR("reconstruct: out of memory"); goto out; }
        bq_adaround_harden(codes, alpha[k], wf[k], L->zero, (int)bq_qmax(L->wbits), L->cout,
                           L->per_out);
        for (size_t i = 0; i < nw; i++) L->codes[i] = (uint8_t)codes[i];
        free(codes);
    }
#undef PHASE
    for (int k = 0; k < n_learn_aq; k++) q->aq[aq_of[k]].scale = s_learn[k];
    if (X->stats) { X->stats->iterations += iters; X->stats->last_loss = loss; }
    rc = 0;
out:
    for (int k = 0; k < 16; k++) {
        free(alpha[k]); free(wf[k]); free(ws[k]); free(da[k]); free(sg[k]); free(reg_ch[k]);
    }
    free(s_learn); free(ds_learn); free(aq_of); free(yb); free(fb); free(in_mask); free(frow);
    free(idx);
    bq_optim_free(&opt_w);
    bq_optim_free(&opt_a);
    rn_free(&rn);
    free_caches(&X->c);   /* a unit's caches die with it (peak RSS) */
    (void)nalpha;
    return rc;
}

/* ======================================================================= 5. driver */

/* Initialise every activation quantizer (from scratch) on the first act_init_batch calibration
 * images, with the current weight codes (bq_fq_calibrate: network order, each on quantized
 * inputs). */
static int init_acts(ctx_t *X, char *err, size_t errlen) {
    bq_qmodel *q = X->q;
    if (!bq_qmodel_act_enabled(q)) return 0;
    int n = X->r->act_init_batch < X->c.N ? X->r->act_init_batch : X->c.N;
    bq_fq fq;
    bq_exec ex;
    if (bq_fq_init(&fq, q, n, 0)) { ERR("reconstruct: out of memory"); return -1; }
    if (bq_exec_init(&ex, &fq.net, n, 0)) { bq_fq_free(&fq); ERR("reconstruct: out of memory"); return -1; }
    bq_fq_bind(&fq, &ex);
    fq.init_p = X->r->p;
    for (int a = 0; a < q->n_aq; a++) q->aq[a].initialized = 0;
    int rc = bq_fq_calibrate(&fq, &ex, X->c.x, n);
    if (rc) ERR("reconstruct: activation range init: %s", fq.err);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
    return rc;
}

/* ---- checkpoint: key, step reached, codes and quantizers ---- */

static uint64_t run_key(const bq_qmodel *q, const bq_recipe *r) {
    uint64_t h = bq_qmodel_hash(q);
    h = bq_fnv1a64(&r->text_hash, sizeof r->text_hash, h);
    const uint64_t f[] = {(uint64_t)r->method, (uint64_t)r->loss, (uint64_t)r->calib, r->calib_seed,
                          r->seed, (uint64_t)r->iters, (uint64_t)r->act_iters,
                          (uint64_t)r->qdrop_iters, (uint64_t)r->batch, (uint64_t)r->fisher_norm};
    return bq_fnv1a64(f, sizeof f, h);
}

static int ckpt_save(const char *dir, uint64_t key, int step, const bq_qmodel *q, char *err,
                     size_t errlen) {
    bq_buf b = {0};
    bq_buf_put(&b, CKPT_MAGIC, 8);
    bq_buf_u64(&b, key);
    bq_buf_u32(&b, (uint32_t)step);
    bq_buf_u32(&b, (uint32_t)q->n_layers);
    bq_buf_u32(&b, (uint32_t)q->n_aq);
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        bq_buf_put(&b, L->codes, (size_t)L->cout * L->per_out);
    }
    for (int a = 0; a < q->n_aq; a++) {
        bq_buf_f32(&b, q->aq[a].scale);
        bq_buf_i32(&b, q->aq[a].zero);
        bq_buf_u32(&b, (uint32_t)q->aq[a].initialized);
    }
    uint64_t h = bq_fnv1a64(b.data, b.len, BQ_FNV_INIT);
    bq_buf_u64(&b, h);
    char path[1024];
    snprintf(path, sizeof path, "%s/state.ckpt", dir);
    int rc = 0;
    if (b.oom) { ERR("reconstruct: out of memory writing %s", path); rc = -1; }
    else if (bq_write_file_atomic(path, b.data, b.len, err, errlen)) rc = -1;
    bq_buf_free(&b);
    return rc;
}

/* Returns the step reached (>= 0) and restores q, or -1 when there is no usable checkpoint. */
static int ckpt_load(const char *dir, uint64_t key, bq_qmodel *q) {
    char path[1024], e[256];
    snprintf(path, sizeof path, "%s/state.ckpt", dir);
    unsigned char *data = NULL;
    size_t len = 0;
    if (bq_read_file(path, &data, &len, e, sizeof e)) return -1;
    int step = -1;
    if (len < 8 + 8 + 12 + 8 || memcmp(data, CKPT_MAGIC, 8) != 0) goto out;
    uint64_t h = bq_fnv1a64(data, len - 8, BQ_FNV_INIT), hs;
    memcpy(&hs, data + len - 8, 8);
    if (h != hs) goto out;
    bq_rd rd = {data, len - 8, 8, 0};
    uint64_t k;
    uint32_t st, nl, na;
    bq_rd_u64(&rd, &k);
    bq_rd_u32(&rd, &st);
    bq_rd_u32(&rd, &nl);
    bq_rd_u32(&rd, &na);
    if (rd.bad || k != key || (int)nl != q->n_layers || (int)na != q->n_aq) goto out;
    for (int l = 0; l < q->n_layers; l++) {
        bq_qlayer *L = &q->layers[l];
        if (bq_rd_bytes(&rd, L->codes, (size_t)L->cout * L->per_out)) goto out;
    }
    for (int a = 0; a < q->n_aq; a++) {
        uint32_t init;
        bq_rd_f32(&rd, &q->aq[a].scale);
        bq_rd_i32(&rd, &q->aq[a].zero);
        bq_rd_u32(&rd, &init);
        q->aq[a].initialized = (int)init;
    }
    if (!rd.bad) step = (int)st;
out:
    free(data);
    return step;
}

/* Wall seconds spent on this run directory by earlier processes, up to their last checkpoint, and
 * the largest peak RSS (MB) of those processes: "seconds peak_rss_mb rss_unknown" in a text file
 * next to the checkpoint (not inside it: state.ckpt stays a function of the seed), so that a resumed
 * run can report the time and memory of the whole job (the time of a step that was killed half-way
 * is not counted: that work is redone here). rss_unknown = 1 once any process of the job ran before
 * the RSS was recorded (files of that version hold only the seconds), so the peak is a lower bound;
 * the flag is carried through later resumes. */
static double elapsed_load(const char *dir, double *rss_mb, int *rss_unknown) {
    char path[1024];
    snprintf(path, sizeof path, "%s/elapsed_s", dir);
    *rss_mb = 0.0;
    *rss_unknown = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0.0;
    double s = 0.0, r = 0.0;
    int u = 0;
    int got = fscanf(f, "%lf %lf %d", &s, &r, &u);
    fclose(f);
    if (got < 1 || !(s >= 0.0)) return 0.0;
    if (got < 2 || !(r >= 0.0)) { *rss_unknown = 1; return s; }
    *rss_mb = r;
    *rss_unknown = got == 3 && u != 0;
    return s;
}

static int elapsed_save(const char *dir, double seconds, double rss_mb, int rss_unknown, char *err,
                        size_t errlen) {
    char path[1024], text[96];
    snprintf(path, sizeof path, "%s/elapsed_s", dir);
    /* microseconds: at milliseconds, rounding up could credit a resumed run with more time than
     * its killed predecessor had spent when it stopped right after this checkpoint */
    int n = snprintf(text, sizeof text, "%.6f %.1f %d\n", seconds, rss_mb, rss_unknown);
    return bq_write_file_atomic(path, text, (size_t)n, err, errlen);
}

/* The plan: a list of steps (stage, unit) plus the activation init as a step of its own. */
typedef struct { int stage, unit; } step_t;
#define STEP_ACTINIT (-1)

static int validate(const bq_qmodel *q, const bq_recipe *r, const bq_dataset *train, char *err,
                    size_t errlen) {
    if (r->method == BQ_METHOD_RTN) return 0;
    if (r->batch < 1) { ERR("recipe: 'batch' must be >= 1"); return -1; }
    if (r->calib < r->batch) {
        ERR("recipe: 'calib' (%d images) must be >= 'batch' (%d); raise calib or lower batch",
            r->calib, r->batch);
        return -1;
    }
    if (r->calib > train->n) {
        ERR("recipe: 'calib' (%d) exceeds the training set (%d images)", r->calib, train->n);
        return -1;
    }
    if (fabsf(r->zeta - BQ_ADA_ZETA) > 1e-6f || fabsf(r->gamma - BQ_ADA_GAMMA) > 1e-6f) {
        ERR("recipe: this engine implements the rectified sigmoid with zeta = 1.1, gamma = -0.1 "
            "only; remove 'zeta'/'gamma' from the recipe");
        return -1;
    }
    if (!(r->rec_p_weight >= 1.0f) || !(r->p >= 1.0f)) {
        ERR("recipe: 'rec_p_weight' and 'p' must be >= 1");
        return -1;
    }
    if (train->c != q->model.in_c || train->h != q->model.in_h || train->w != q->model.in_w) {
        ERR("reconstruct: training images are %dx%dx%d but the model expects %dx%dx%d", train->c,
            train->h, train->w, q->model.in_c, q->model.in_h, q->model.in_w);
        return -1;
    }
    for (int l = 0; l < q->n_layers; l++)
        if (q->layers[l].wbits < BQ_QBITS_MIN || q->layers[l].wbits > BQ_QBITS_MAX) {
            ERR("reconstruct: layer '%s' has %d weight bits; must be %d..%d",
                q->model.nodes[q->layers[l].node].name, q->layers[l].wbits, BQ_QBITS_MIN,
                BQ_QBITS_MAX);
            return -1;
        }
    return 0;
}

int bq_reconstruct_ex(bq_qmodel *q, const bq_model *fp, const bq_recipe *r,
                      const bq_dataset *train, const char *run_dir, int max_units,
                      bq_recon_stats *stats, char *err, size_t errlen) {
    double t_start = bq_now();
    double prior_seconds = 0.0;   /* earlier runs of run_dir (elapsed_load) */
    double prior_rss_mb = 0.0;    /* their largest peak RSS */
    int prior_rss_unknown = 0;    /* 1: some earlier process did not record it (a lower bound) */
    if (stats) memset(stats, 0, sizeof(*stats));
    if (validate(q, r, train, err, errlen)) return -1;
    if (fp && (fp->in_c != q->model.in_c || fp->num_classes != q->model.num_classes)) {
        ERR("reconstruct: the float model does not match the quantized model");
        return -1;
    }
    ctx_t X;
    memset(&X, 0, sizeof X);
    X.q = q;
    X.r = r;
    X.stats = stats;
    int rc = -1;
    unit *units = NULL;
    step_t *steps = NULL;
    int *cidx = NULL;
    uint64_t key = run_key(q, r);

    /* calibration images */
    int N = r->calib;
    X.c.N = N;
    size_t isz = (size_t)q->model.in_c * q->model.in_h * q->model.in_w;
    cidx = malloc(sizeof(int) * N);
    X.c.x = malloc(sizeof(float) * N * isz);
    if (!cidx || !X.c.x) { ERR("reconstruct: out of memory"); goto out; }
    if (bq_calib_indices(cidx, N, train->n, r->calib_seed)) {
        ERR("reconstruct: calibration size %d out of range", N);
        goto out;
    }
    bq_dataset_batch(train, cidx, N, X.c.x, NULL, q->model.in_mean, q->model.in_std, NULL);

    if (r->method == BQ_METHOD_RTN) {   /* only the activation ranges */
        rc = init_acts(&X, err, errlen);
        goto out;
    }

    /* plan */
    int block = r->method != BQ_METHOD_ADAROUND;
    int nA = make_units(q, block, NULL), nB = make_units(q, 1, NULL);
    units = calloc((size_t)(nA + nB + 1), sizeof(unit));
    steps = calloc((size_t)(nA + nB + 2), sizeof(step_t));
    if (!units || !steps) { ERR("reconstruct: out of memory"); goto out; }
    make_units(q, block, units);
    make_units(q, 1, units + nA);
    int ns = 0, acts = bq_qmodel_act_enabled(q) > 0;
    double total = 0;
    if (r->method == BQ_METHOD_BRECQ_QDROP) {
        steps[ns++] = (step_t){ST_JOINT, STEP_ACTINIT};
        for (int u = 0; u < nB; u++) { steps[ns++] = (step_t){ST_JOINT, nA + u}; total += r->qdrop_iters; }
    } else {
        for (int u = 0; u < nA; u++) { steps[ns++] = (step_t){ST_A, u}; total += r->iters; }
        steps[ns++] = (step_t){ST_B, STEP_ACTINIT};
        if (acts)
            for (int u = 0; u < nB; u++) { steps[ns++] = (step_t){ST_B, nA + u}; total += r->act_iters; }
    }
    X.total_iters = total;

    /* resume */
    int first_step = 0;
    if (run_dir) {
        if (bq_mkdirs(run_dir)) { ERR("%s: cannot create the run directory", run_dir); goto out; }
        int st = ckpt_load(run_dir, key, q);
        if (st >= 0) {
            first_step = st + 1;
            prior_seconds = elapsed_load(run_dir, &prior_rss_mb, &prior_rss_unknown);
            for (int k = 0; k < first_step && k < ns; k++) {
                if (steps[k].unit == STEP_ACTINIT) continue;
                int s = steps[k].stage;
                X.done_iters += s == ST_A ? r->iters : (s == ST_B ? r->act_iters : r->qdrop_iters);
            }
            fprintf(stderr, "[reconstruct] resuming %s at step %d/%d\n", run_dir, first_step, ns);
        }
    }

    bq_progress_start(&X.prog, "reconstruct");
    int units_run = 0;
    for (int k = first_step; k < ns; k++) {
        if (max_units > 0 && units_run >= max_units) { rc = 1; goto out; }
        double t0 = bq_now();
        if (steps[k].unit == STEP_ACTINIT) {
            if (init_acts(&X, err, errlen)) goto out;
        } else {
            int s = steps[k].stage, u = steps[k].unit;
            int ui = s == ST_A ? u : u - nA, nu = s == ST_A ? nA : nB;
            if (run_unit(&X, &units[u], ui, nu, s, err, errlen)) goto out;
            units_run++;
            if (stats) stats->stage_seconds[s == ST_B ? 1 : 0] += bq_now() - t0;
        }
        if (run_dir && r->checkpoint &&
            (ckpt_save(run_dir, key, k, q, err, errlen) ||
             elapsed_save(run_dir, prior_seconds + bq_now() - t_start,
                          fmax(prior_rss_mb, bq_peak_rss_mb()), prior_rss_unknown, err, errlen)))
            goto out;
    }
    bq_progress_end(&X.prog, "%s: %d steps done", bq_method_name(r->method), ns);
    rc = 0;
out:
    free(X.c.x);
    free_caches(&X.c);
    free(units); free(steps); free(cidx);
    if (stats) {
        stats->seconds = bq_now() - t_start;
        stats->prior_seconds = prior_seconds;
        stats->prior_rss_mb = prior_rss_mb;
        stats->prior_rss_unknown = prior_rss_unknown;
    }
    return rc;
}

int bq_reconstruct(bq_qmodel *q, const bq_model *fp, const bq_recipe *r, const bq_dataset *train,
                   const char *run_dir, char *err, size_t errlen) {
    int rc = bq_reconstruct_ex(q, fp, r, train, run_dir, 0, NULL, err, errlen);
    return rc == 0 ? 0 : -1;
}

int bq_recon_unit_forward(const bq_qmodel *q, int u, int act_on, const float *in, int n, float *out,
                          int *in_node, int *out_node, char *err, size_t errlen) {
    int nu = make_units(q, 1, NULL);
    if (u < 0 || u >= nu) { ERR("unit %d out of range (0..%d)", u, nu - 1); return -1; }
    unit *units = calloc((size_t)nu, sizeof(unit));
    if (!units) { ERR("out of memory"); return -1; }
    make_units(q, 1, units);
    const unit *un = &units[u];
    runner rn;
    int rc = -1;
    if (rn_init(&rn, q, un->lo, un->hi, un->in, n, 0, err, errlen)) goto out;
    rn.act_on = act_on;
    rn_sync_bias(&rn);
    memcpy(rn.act[un->in], in, sizeof(float) * n * bq_node_size(&q->model.nodes[un->in]));
    rn_forward(&rn, n);
    memcpy(out, rn.act[un->hi], sizeof(float) * n * bq_node_size(&q->model.nodes[un->hi]));
    if (in_node) *in_node = un->in;
    if (out_node) *out_node = un->hi;
    rn_free(&rn);
    rc = 0;
out:
    free(units);
    return rc;
}

double bq_recon_bench_unit(bq_qmodel *q, int u, int batch, int iters, int stage,
                           bq_recon_bench *res, char *err, size_t errlen) {
    memset(res, 0, sizeof(*res));
    int nu = make_units(q, 1, NULL);
    if (u < 0 || u >= nu) { ERR("bench: unit %d out of range (0..%d)", u, nu - 1); return -1; }
    unit *units = calloc((size_t)nu, sizeof(unit));
    if (!units) { ERR("bench: out of memory"); return -1; }
    make_units(q, 1, units);
    bq_recipe r;
    bq_recipe_default(&r);
    r.method = BQ_METHOD_BRECQ;
    r.batch = batch;
    r.warmup = 0.0f;   /* the rounding regulariser on in every timed iteration (80% of a run) */
    res->warmup = 3;
    r.iters = r.act_iters = iters + res->warmup;
    ctx_t X;
    memset(&X, 0, sizeof X);
    X.q = q;
    X.r = &r;
    X.bench = res;
    X.c.N = 8 * batch;
    double ms = -1;
    if (run_unit(&X, &units[u], u, nu, stage ? ST_B : ST_A, err, errlen) == 0) {
        for (int k = 0; k < BQ_BENCH_PHASES; k++) {
            res->phase_ms[k] /= iters;
            res->ms += res->phase_ms[k];
        }
        ms = res->ms;
    }
    free_caches(&X.c);
    free(units);
    return ms;
}
