/*
 * reconstruct.c — the BRECQ engine (see reconstruct.h and docs/brecq.md).
 *
 * Layout of this file:
 *   1. a unit on the executor: a range executor (nn/exec.h) over one node range of the folded
 *      model, with the fake-quant of docs/numerics.md in its overrides and hooks (soft weights,
 *      learnable steps, QDrop masks), computing only the gradients that lead to something
 *      trained;
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
#include "quant/dp_reduce.h"
#include "core/errmsg.h"
#include "nn/conv_dnnl.h"
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

#define ERR(...) bq_seterr(err, errlen, __VA_ARGS__)

/* ======================================================================= 1. a unit on the executor */

/* A unit runs on a range executor (exec.h) over its nodes [lo, hi]. This is the fake-quant of
 * docs/numerics.md that the executor's overrides and hooks apply inside it: hard dequantized or
 * soft AdaRound weights (weight_override), effective biases b_q * s_w * s_a (bias_override), the
 * activation quantizers with live (learnable) steps and QDrop masks (post_hook, and their LSQ
 * backward in grad_hook). The executor computes only the gradients that lead to something
 * learned (bq_exec_plan_grads). */
typedef struct {
    const bq_qmodel *q;
    const bq_model *m;         /* &q->model (folded) */
    bq_exec ex;                /* range executor over [lo, hi]; the caller fills the activation
                                  of the one producer outside it (the unit input) */
    int lo, hi;
    int B;                     /* max batch */
    int train;
    int act_on;
    float qdrop;               /* p_drop (0 = no QDrop) */
    bq_rng *rng;
    float **pre;               /* [n_nodes] pre-quant values of quantized nodes (train) */
    uint8_t **mask;            /* [n_nodes] QDrop masks of quantized nodes (train) */
    float **wq;                /* [n_nodes] hard dequantized weights (owned) */
    float **bias;              /* [n_nodes] effective biases (owned) */
    unsigned char *learn_w;    /* [n_nodes] layer weights learned in this unit */
    unsigned char *learn_aq;   /* [n_aq] step learned in this unit */
    float *s;                  /* [n_aq] live steps */
    double *ds;                /* [n_aq] step gradients */
} uexec;

static int conv_shape(bq_conv_shape *cs, const bq_model *m, int i, int n) {
    const bq_node *nd = &m->nodes[i], *in = &m->nodes[nd->in[0]];
    return bq_conv2d_shape(cs, n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw, nd->stride_h,
                           nd->stride_w, nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups);
}

static int is_layer(const bq_node *nd) {
    return nd->kind == BQ_OP_CONV || nd->kind == BQ_OP_LINEAR;
}

/* Ops a unit may hold: those the fake-quant of numerics.md defines inside a block of the folded
 * model. */
static int unit_op_ok(bq_op_kind k) {
    switch (k) {
    case BQ_OP_INPUT: case BQ_OP_CONV: case BQ_OP_LINEAR: case BQ_OP_RELU: case BQ_OP_RELU6:
    case BQ_OP_CLAMP: case BQ_OP_ADD: case BQ_OP_FLATTEN:
        return 1;
    case BQ_OP_BN: case BQ_OP_MAXPOOL: case BQ_OP_AVGPOOL: case BQ_OP_GAP: case BQ_OP_COUNT:
        return 0;
    }
    return 0;   /* not an op kind at all */
}

/* Quantizer applied at node i's output inside the unit, or -1. */
static int ux_aq(const uexec *U, int i) {
    if (!U->act_on) return -1;
    int a = U->q->node_aq[i];
    if (a < 0 || U->q->aq[a].bits <= 0 || U->q->aq[a].node != i) return -1;
    return a;
}

/* post_hook: quantize node i's output with the live step (keeping the pre-quant values and
 * drawing the QDrop mask when training needs them). */
static void ux_post_hook(void *ctx, bq_exec *ex, int i, float *out, int n) {
    (void)ex;
    uexec *U = ctx;
    int q = ux_aq(U, i);
    if (q < 0) return;
    const bq_aquant *A = &U->q->aq[q];
    int qmax = (int)bq_qmax(A->bits);
    size_t count = (size_t)n * bq_node_size(&U->m->nodes[i]);
    if (U->train && U->pre[i]) {
        memcpy(U->pre[i], out, sizeof(float) * count);
        if (U->qdrop > 0.0f && U->mask[i]) {
            bq_lsq_drop_mask(U->mask[i], count, U->qdrop, U->rng);
            bq_lsq_forward_mask(out, U->pre[i], U->mask[i], count, U->s[q], A->zero, qmax);
            return;
        }
    }
    bq_lsq_forward(out, out, count, U->s[q], A->zero, qmax);
}

/* grad_hook: LSQ backward of node i's quantizer, in place on dout; the step gradient
 * accumulates into ds. */
static void ux_grad_hook(void *ctx, bq_exec *ex, int i, float *dout, int n) {
    (void)ex;
    uexec *U = ctx;
    int q = ux_aq(U, i);
    if (q < 0) return;
    const bq_aquant *A = &U->q->aq[q];
    size_t count = (size_t)n * bq_node_size(&U->m->nodes[i]);
    U->ds[q] += bq_lsq_backward(dout, dout, U->pre[i], U->qdrop > 0.0f ? U->mask[i] : NULL, count,
                                U->s[q], A->zero, (int)bq_qmax(A->bits));
}

static void ux_free(uexec *U) {
    int nn = U->m ? U->m->n_nodes : 0;
    for (int i = 0; i < nn; i++) {
        if (U->pre) free(U->pre[i]);
        if (U->mask) free(U->mask[i]);
        if (U->wq) free(U->wq[i]);
        if (U->bias) free(U->bias[i]);
    }
    free(U->pre); free(U->mask); free(U->wq); free(U->bias); free(U->learn_w);
    free(U->learn_aq); free(U->s); free(U->ds);
    bq_exec_free(&U->ex);
    memset(U, 0, sizeof(*U));
}

/* Check the ops and conv geometry of nodes [lo, hi]; 0 or -1 with err. */
static int ux_check(const bq_model *m, int lo, int hi, int B, char *err, size_t errlen) {
    for (int i = lo; i <= hi; i++) {
        const bq_node *nd = &m->nodes[i];
        if (!unit_op_ok(nd->kind)) {
            ERR("reconstruct: node '%s' (%s) inside a reconstruction unit is not supported; "
                "units may hold conv, linear, relu, relu6, clamp, add and flatten",
                nd->name, bq_op_name(nd->kind));
            return -1;
        }
        bq_conv_shape cs;
        if (nd->kind == BQ_OP_CONV && conv_shape(&cs, m, i, B)) {
            ERR("reconstruct: bad conv geometry at '%s'", nd->name);
            return -1;
        }
    }
    return 0;
}

/* Set up the executor for nodes [lo, hi] of q->model at batch B.
 * Weights start as the hard dequantized codes, steps as q's. Returns 0 or -1 with err (OOM /
 * unsupported op). */
static int ux_init(uexec *U, const bq_qmodel *q, int lo, int hi, int B, int train, char *err,
                   size_t errlen) {
    memset(U, 0, sizeof(*U));
    U->q = q;
    U->m = &q->model;
    U->lo = lo; U->hi = hi; U->B = B; U->train = train;
    const bq_model *m = U->m;
    if (ux_check(m, lo, hi, B, err, errlen)) return -1;
    size_t nn = (size_t)m->n_nodes;
    U->pre = calloc(nn, sizeof(float *));
    U->mask = calloc(nn, sizeof(uint8_t *));
    U->wq = calloc(nn, sizeof(float *));
    U->bias = calloc(nn, sizeof(float *));
    U->learn_w = calloc(nn, 1);
    U->learn_aq = calloc((size_t)(q->n_aq + 1), 1);
    U->s = calloc((size_t)(q->n_aq + 1), sizeof(float));
    U->ds = calloc((size_t)(q->n_aq + 1), sizeof(double));
    if (!U->pre || !U->mask || !U->wq || !U->bias || !U->learn_w || !U->learn_aq || !U->s ||
        !U->ds || bq_exec_init_range(&U->ex, m, lo, hi, B, train))
        goto oom;
    U->ex.post_hook = ux_post_hook;
    U->ex.grad_hook = ux_grad_hook;
    U->ex.hook_ctx = U;
    for (int a = 0; a < q->n_aq; a++) U->s[a] = q->aq[a].scale;
    for (int i = lo; i <= hi; i++) {
        if (!is_layer(&m->nodes[i])) continue;
        const bq_qlayer *L = &q->layers[q->node_layer[i]];
        size_t nw = (size_t)L->cout * L->per_out;
        U->wq[i] = malloc(sizeof(float) * nw);
        U->bias[i] = calloc((size_t)L->cout, sizeof(float));
        if (!U->wq[i] || !U->bias[i]) goto oom;
        bq_wq_dequantize(U->wq[i], L->codes, L->scale, L->zero, L->cout, L->per_out);
        U->ex.weight_override[i] = U->wq[i];
        U->ex.bias_override[i] = U->bias[i];
    }
    return 0;
oom:
    ERR("reconstruct: out of memory (executor for nodes %d..%d, batch %d)", lo, hi, B);
    ux_free(U);
    return -1;
}

/* Allocate the gradients: the weight gradients of the layers in learn_w, node gradients where
 * something learned lies at or upstream, and the pre-quant copies (and QDrop masks when
 * U->qdrop > 0) of quantized outputs that need them. Call after setting learn_w / learn_aq /
 * act_on / qdrop. Returns 0 or -1 (OOM). */
static int ux_plan(uexec *U) {
    const bq_qmodel *q = U->q;
    unsigned char *learn_out = calloc((size_t)U->m->n_nodes, 1);
    if (!learn_out) return -1;
    for (int i = U->lo; i <= U->hi; i++) {
        int a = q->node_aq[i];
        learn_out[i] = a >= 0 && U->learn_aq[a] && q->aq[a].node == i;
    }
    int bad = bq_exec_plan_grads(&U->ex, U->m, U->learn_w, learn_out);
    free(learn_out);
    if (bad) return -1;
    for (int i = U->lo; i <= U->hi && U->train; i++) {
        if (ux_aq(U, i) < 0) continue;
        size_t sz = (size_t)U->B * bq_node_size(&U->m->nodes[i]);
        /* QDrop masks every quantized node (also those without a gradient) */
        if ((U->ex.grad[i] || U->qdrop > 0.0f) && !U->pre[i] &&
            !(U->pre[i] = malloc(sizeof(float) * sz)))
            return -1;
        if (U->qdrop > 0.0f && !U->mask[i] && !(U->mask[i] = calloc(sz, 1))) return -1;
    }
    return 0;
}

/* Effective biases of the layers in range: b_q * s_w * s_a with the live input step when the
 * input quantizer is on (numerics §1), else the float bias. */
static void ux_sync_bias(uexec *U) {
    const bq_qmodel *q = U->q;
    for (int i = U->lo; i <= U->hi; i++) {
        if (!U->bias[i]) continue;
        const bq_node *nd = &U->m->nodes[i];
        const bq_qlayer *L = &q->layers[q->node_layer[i]];
        const float *b = bq_param_data(U->m, nd->p_bias);
        int a = L->aq_in;
        int quant = U->act_on && a >= 0 && q->aq[a].bits > 0;
        for (int c = 0; c < L->cout; c++) {
            float bc = b ? b[c] : 0.0f;
            if (!quant) { U->bias[i][c] = bc; continue; }
            float sa = U->s[a];
            double sws = (double)L->scale[c] * (double)sa;
            U->bias[i][c] = (float)((double)bq_bias_code(bc, L->scale[c], sa) * sws);
        }
    }
}

/* Forward of the unit's nodes for n images from the unit input's activation. */
static void ux_forward(uexec *U, int n) {
    bq_exec_forward_range(&U->ex, U->m, NULL, n, U->lo, U->hi, 0);
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
    const bq_dp_comm *dp;      /* data-parallel ranks (NULL: one process) */
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
 * built: during the iterations its memory goes to the unit's range executor instead (peak RSS). */
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

/* One unit's reconstruction in one stage: what its iterations share. */
typedef struct {
    ctx_t *X;
    const unit *u;
    int ui, nu, stage;
    int weights, acts;         /* learned here: AdaRound weights (A, joint), steps (B, joint) */
    int fisher;                /* Fisher-weighted loss (weights learned with loss: fisher) */
    int iters, B;
    float pw;                  /* loss exponent */
    uexec U;                   /* the executor over the unit's nodes + its fake-quant */
    bq_rng rng;                /* the (seed, stage, unit) stream: batches and QDrop masks */
    /* AdaRound, per trained layer k of the unit */
    bq_optim opt_w;
    float *alpha[16], *wf[16], *ws[16], *da[16], *sg[16];
    double *reg_ch[16];
    /* learned activation steps k = 0..n_learn_aq-1 (quantizer aq_of[k]) */
    bq_optim opt_a;
    int n_learn_aq;
    int *aq_of;
    float *s_learn, *ds_learn;
    float gscale[64];          /* LSQ gradient scale (QDrop: 1 / sqrt(numel * Qmax)) */
    /* the batch: indices, FP targets (B, out_sz), Fisher weights, QDrop input mask, one FP row */
    int *idx;
    float *yb;
    uint8_t *fb, *in_mask;
    float *frow;
    int ina, in_quant;         /* quantizer of the unit input (fixed here), on in this stage */
    double loss, reg;
    float beta;
    /* dp_shards > 1 (docs/mpi_recon.md): the minibatch in `shards` shards of B / shards images;
     * this process computes shards [sh_lo, sh_hi), each into a gradient record (dp_reduce.h) */
    int shards, sh_lo, sh_hi;
    bq_dp_layout lay;
    unsigned char *mine, *recs;   /* this process's records, all S records (shard order) */
    double *dsum;                 /* summed step gradients + loss */
    float *fsum;                  /* summed weight gradients */
    bq_rng shard_rng;             /* the stream of one shard: its QDrop masks */
} ustate;

static void unit_teardown(ustate *S) {
    for (int k = 0; k < 16; k++) {
        free(S->alpha[k]); free(S->wf[k]); free(S->ws[k]); free(S->da[k]); free(S->sg[k]);
        free(S->reg_ch[k]);
    }
    free(S->s_learn); free(S->ds_learn); free(S->aq_of);
    free(S->yb); free(S->fb); free(S->in_mask); free(S->frow); free(S->idx);
    free(S->mine); free(S->recs); free(S->dsum); free(S->fsum);
    bq_optim_free(&S->opt_w);
    bq_optim_free(&S->opt_a);
    ux_free(&S->U);
    free_caches(&S->X->c);   /* a unit's caches die with it (peak RSS) */
}

/* AdaRound state of every trained layer (soft weights become the executor's weights, their
 * gradients are kept) and its Adam. */
static int setup_adaround(ustate *S, const bq_optim_config *ac, char *err, size_t errlen) {
    const bq_qmodel *q = S->X->q;
    const bq_model *m = &q->model;
    const unit *u = S->u;
    bq_param_entry ent[16];
    for (int k = 0; k < u->n_layers; k++) {
        const bq_qlayer *L = &q->layers[u->layers[k]];
        size_t nw = (size_t)L->cout * L->per_out;
        S->alpha[k] = malloc(sizeof(float) * nw);
        S->wf[k] = malloc(sizeof(float) * nw);
        S->ws[k] = malloc(sizeof(float) * nw);
        S->da[k] = malloc(sizeof(float) * nw);
        S->sg[k] = malloc(sizeof(float) * nw);
        S->reg_ch[k] = malloc(sizeof(double) * (size_t)L->cout);
        if (!S->alpha[k] || !S->wf[k] || !S->ws[k] || !S->da[k] || !S->sg[k] || !S->reg_ch[k]) {
            ERR("reconstruct: out of memory");
            return -1;
        }
        bq_adaround_init(S->wf[k], S->alpha[k], bq_param_data(m, m->nodes[L->node].p_weight),
                         L->scale, L->cout, L->per_out);
        S->U.learn_w[L->node] = 1;
        S->U.ex.weight_override[L->node] = S->ws[k];
        ent[k] = (bq_param_entry){S->alpha[k], S->da[k], nw, 1};
    }
    return bq_optim_init(&S->opt_w, ac, ent, u->n_layers, err, errlen);
}

/* The learned steps (copies in s_learn, in quantizer order), their Adam and gradient scales. */
static int setup_steps(ustate *S, const bq_optim_config *ac, char *err, size_t errlen) {
    const bq_qmodel *q = S->X->q;
    int n = S->n_learn_aq;
    S->s_learn = calloc((size_t)n, sizeof(float));
    S->ds_learn = calloc((size_t)n, sizeof(float));
    S->aq_of = calloc((size_t)n, sizeof(int));
    if (!S->s_learn || !S->ds_learn || !S->aq_of) { ERR("reconstruct: out of memory"); return -1; }
    bq_param_entry ent[64];
    int k = 0;
    for (int a = 0; a < q->n_aq && k < 64; a++)
        if (S->U.learn_aq[a]) {
            S->aq_of[k] = a;
            S->s_learn[k] = q->aq[a].scale;
            ent[k] = (bq_param_entry){&S->s_learn[k], &S->ds_learn[k], 1, 1};
            k++;
        }
    if (bq_optim_init(&S->opt_a, ac, ent, n, err, errlen)) return -1;
    for (k = 0; k < n; k++) {
        const bq_aquant *A = &q->aq[S->aq_of[k]];
        double numel = (double)S->B * bq_node_size(&q->model.nodes[A->node]);
        S->gscale[k] = S->stage == ST_JOINT ? (float)(1.0 / sqrt(numel * bq_qmax(A->bits))) : 1.0f;
    }
    return 0;
}

/* The gradient records of dp_shards > 1: one per shard this process computes, all S of them
 * after the exchange, and the sums. A record holds the step gradients and the loss (doubles)
 * and the trained layers' weight gradients (floats). */
static int setup_shards(ustate *S, char *err, size_t errlen) {
    const bq_qmodel *q = S->X->q;
    const bq_dp_comm *dp = S->X->dp;
    S->shards = S->X->r->dp_shards > 1 ? S->X->r->dp_shards : 1;
    if (S->shards == 1) return 0;
    int R = dp ? dp->size : 1, rank = dp ? dp->rank : 0;
    if (bq_dp_shard_range(S->shards, R, rank, &S->sh_lo, &S->sh_hi)) {
        ERR("reconstruct: %d ranks do not divide dp_shards %d; run mpirun -np with a divisor "
            "of dp_shards", R, S->shards);
        return -1;
    }
    S->lay.nd = (size_t)S->n_learn_aq + 1;
    for (int k = 0; k < S->u->n_layers && S->weights; k++) {
        const bq_qlayer *L = &q->layers[S->u->layers[k]];
        S->lay.nf += (size_t)L->cout * L->per_out;
    }
    size_t rb = bq_dp_record_bytes(&S->lay);
    S->mine = calloc((size_t)(S->sh_hi - S->sh_lo), rb);
    S->recs = calloc((size_t)S->shards, rb);
    S->dsum = calloc(S->lay.nd, sizeof(double));
    S->fsum = calloc(S->lay.nf + 1, sizeof(float));
    if (!S->mine || !S->recs || !S->dsum || !S->fsum) {
        ERR("reconstruct: out of memory (gradient records of %d shards)", S->shards);
        return -1;
    }
    return 0;
}

/* Set up unit u for a stage: the executor and what is learned on it, the caches, the optimisers,
 * the batch buffers and the random stream. S must be zeroed. Returns 0, 1 when the unit has
 * nothing to learn in this stage (nothing built), or -1 with err. */
static int unit_setup(ustate *S, ctx_t *X, const unit *u, int ui, int nu, int stage, char *err,
                      size_t errlen) {
    const bq_recipe *R = X->r;
    const bq_qmodel *q = X->q;
    S->X = X; S->u = u; S->ui = ui; S->nu = nu; S->stage = stage;
    S->weights = stage != ST_B;
    S->acts = stage != ST_A;
    S->fisher = S->weights && R->loss == BQ_LOSS_FISHER;
    S->iters = stage == ST_A ? R->iters : (stage == ST_B ? R->act_iters : R->qdrop_iters);
    S->B = R->batch;
    S->pw = S->fisher ? 2.0f : (stage == ST_B ? R->p : R->rec_p_weight);
    S->beta = R->beta_start;

    /* which steps are learned here */
    if (ux_init(&S->U, q, u->lo, u->hi, S->B, 1, err, errlen)) return -1;
    if (R->compute == BQ_COMPUTE_BF16) {   /* the unit's convs on oneDNN in bf16 (docs/onednn.md) */
        S->U.ex.conv_impl = BQ_CONV_DNNL;
        bq_dnnl_ctx_set_bf16(S->U.ex.dnnl, 1);
    }
    S->U.act_on = S->acts;
    for (int i = u->lo; i <= u->hi && S->acts; i++) {
        int a = q->node_aq[i];
        if (a >= 0 && q->aq[a].bits > 0 && q->aq[a].node == i && !S->U.learn_aq[a]) {
            S->U.learn_aq[a] = 1;
            S->n_learn_aq++;
        }
    }
    if (!S->weights && S->n_learn_aq == 0) return 1;

    bq_fisher_mode fmode = R->fisher_norm == BQ_FISHER_ABS_PLUS_ONE ? BQ_FISHER_REF : BQ_FISHER_NORM;
    if (X->bench ? bench_caches(X, u, stage != ST_B, S->acts, stage != ST_A, S->fisher, err,
                                errlen)
                 : build_caches(X, u, stage != ST_B, S->acts, stage != ST_A, S->fisher, fmode,
                                R->fisher_damping, err, errlen))
        return -1;

    bq_optim_config ac = bq_optim_adam_defaults();
    ac.beta1 = R->adam_beta1; ac.beta2 = R->adam_beta2; ac.eps = R->adam_eps;
    if (S->weights && setup_adaround(S, &ac, err, errlen)) return -1;
    if (S->n_learn_aq && setup_steps(S, &ac, err, errlen)) return -1;
    S->U.qdrop = stage == ST_JOINT ? R->qdrop_prob : 0.0f;
    if (ux_plan(&S->U)) { ERR("reconstruct: out of memory"); return -1; }

    size_t in_sz = X->c.in_sz, out_sz = X->c.out_sz;
    int B = S->B;
    S->yb = malloc(sizeof(float) * B * out_sz);
    S->idx = malloc(sizeof(int) * B);
    if (S->fisher) S->fb = malloc((size_t)B * out_sz);
    if (stage == ST_JOINT) {
        S->in_mask = malloc((size_t)B * in_sz);
        S->frow = malloc(sizeof(float) * in_sz);
    }
    if (!S->yb || !S->idx || (S->fisher && !S->fb) ||
        (stage == ST_JOINT && (!S->in_mask || !S->frow))) {
        ERR("reconstruct: out of memory");
        return -1;
    }
    bq_rng_seed(&S->rng, unit_seed(R->seed, stage, ui));
    S->U.rng = &S->rng;
    S->ina = q->node_aq[u->in];
    S->in_quant = S->acts && S->ina >= 0 && q->aq[S->ina].bits > 0;
    return setup_shards(S, err, errlen);
}

/* Draw a batch from the caches: B calibration indices (draw_batch), then (gather_rows) the unit inputs, gathered straight into
 * the executor's act[in] (stage A, joint: from the quantized network; B: FP inputs through the
 * input quantizer; joint: QDrop swaps in FP values where its mask says); the FP targets and the
 * Fisher weights. */
static void draw_batch(ustate *S) {
    for (int b = 0; b < S->B; b++) S->idx[b] = (int)bq_rng_below(&S->rng, (uint32_t)S->X->c.N);
}

/* Rows b0 .. b0+B-1 of the drawn batch into rows 0 .. B-1 of the executor's input, the targets
 * and the Fisher weights (B: the whole batch, or one shard); rng draws the QDrop input mask. */
static void gather_rows(ustate *S, int b0, int B, bq_rng *rng) {
    const caches *c = &S->X->c;
    const bq_qmodel *q = S->X->q;
    int stage = S->stage;
    size_t in_sz = c->in_sz, out_sz = c->out_sz;
    float *xb = S->U.ex.act[S->u->in];
    const int *idx = S->idx + b0;
    const bq_zrows *src = stage == ST_B ? &c->xin_fp : &c->xin_q;
    if (stage != ST_B && c->xin_qc) {
        const float cs = c->in_s;
        const int32_t cz = c->in_z;
        for (int b = 0; b < B; b++) {
            const uint8_t *qc = c->xin_qc + (size_t)idx[b] * in_sz;
            float *d = xb + b * in_sz;
            for (size_t k = 0; k < in_sz; k++) d[k] = (float)((int32_t)qc[k] - cz) * cs;
        }
    } else {
        for (int b = 0; b < B; b++) bq_zrows_get(src, idx[b], xb + b * in_sz);
    }
    if (stage == ST_B && S->in_quant)
        bq_lsq_forward(xb, xb, B * in_sz, q->aq[S->ina].scale, q->aq[S->ina].zero,
                       (int)bq_qmax(q->aq[S->ina].bits));
    if (stage == ST_JOINT) {   /* QDrop: the unit input mixes quantized and FP inputs */
        bq_lsq_drop_mask(S->in_mask, B * in_sz, S->X->r->qdrop_prob, rng);
        for (int b = 0; b < B; b++) {
            bq_zrows_get(&c->xin_fp, idx[b], S->frow);
            for (size_t k = 0; k < in_sz; k++)
                if (S->in_mask[b * in_sz + k]) xb[b * in_sz + k] = S->frow[k];
        }
    }
    for (int b = 0; b < B; b++) {
        bq_zrows_get(&c->y_fp, idx[b], S->yb + b * out_sz);
        if (S->fisher) memcpy(S->fb + b * out_sz, c->fw + (size_t)idx[b] * out_sz, out_sz);
    }
}

/* The live parameters into the executor: learned steps, soft AdaRound weights (and the factor
 * sg of their gradient), effective biases. */
static void load_params(ustate *S) {
    const bq_qmodel *q = S->X->q;
    for (int k = 0; k < S->n_learn_aq; k++) S->U.s[S->aq_of[k]] = S->s_learn[k];
    for (int k = 0; k < S->u->n_layers && S->weights; k++) {
        const bq_qlayer *L = &q->layers[S->u->layers[k]];
        bq_adaround_forward_sg(S->ws[k], S->sg[k], S->alpha[k], S->wf[k], L->scale, L->zero,
                               (int)bq_qmax(L->wbits), L->cout, L->per_out);
    }
    ux_sync_bias(&S->U);
}

/* Zero the gradients, compute the reconstruction loss of the unit output against the FP
 * targets and seed grad[hi] with its gradient. */
static double loss_and_seed(ustate *S, int n) {
    uexec *U = &S->U;
    const bq_node *on = &U->m->nodes[U->hi];
    bq_exec_zero_grad(&U->ex, U->m, U->lo, U->hi, 1);
    for (int k = 0; k < S->n_learn_aq; k++) U->ds[S->aq_of[k]] = 0.0;
    return bq_recon_loss_shard(U->ex.grad[U->hi], U->ex.act[U->hi], S->yb,
                               S->fisher ? S->fb : NULL, n, S->B, on->c, on->h * on->w, S->pw);
}

/* AdaRound gradient + rounding regulariser (beta annealed) + Adam on the weights; LSQ step
 * gradients + Adam (cosine learning rate) on the steps, kept above STEP_MIN. */
static void update_params(ustate *S, int t) {
    const bq_recipe *R = S->X->r;
    const bq_qmodel *q = S->X->q;
    S->reg = 0.0;
    if (S->weights) {
        int on_reg = bq_adaround_beta(t, S->iters, R->warmup, R->beta_start, R->beta_end, &S->beta);
        for (int k = 0; k < S->u->n_layers; k++) {
            const bq_qlayer *L = &q->layers[S->u->layers[k]];
            S->reg += bq_adaround_grad(S->da[k], S->U.ex.weight_grad[L->node], S->sg[k], S->wf[k],
                                       L->scale, L->zero, (int)bq_qmax(L->wbits), L->cout,
                                       L->per_out, on_reg, R->weight_lambda, S->beta, S->reg_ch[k]);
        }
        bq_optim_step(&S->opt_w, R->lr_round);
    }
    if (S->n_learn_aq) {
        for (int k = 0; k < S->n_learn_aq; k++)
            S->ds_learn[k] = (float)S->U.ds[S->aq_of[k]] * S->gscale[k];
        float lr0 = S->stage == ST_JOINT ? R->lr_act_qdrop : R->lr_act;
        bq_optim_step(&S->opt_a, bq_lr_cosine(lr0, t, S->iters, 0));
        for (int k = 0; k < S->n_learn_aq; k++)
            if (!(S->s_learn[k] > STEP_MIN)) S->s_learn[k] = STEP_MIN;
    }
}

/* Iteration t: batch, parameters, forward, loss, backward, updates. tp (benchmark, or NULL)
 * receives the time at each of the BQ_BENCH_PHASES + 1 phase boundaries. */
static void unit_iteration(ustate *S, int t, double *tp) {
#define PHASE(k) do { if (tp) tp[k] = bq_now(); } while (0)
    PHASE(0);
    draw_batch(S);
    gather_rows(S, 0, S->B, &S->rng);
    PHASE(1);
    load_params(S);
    PHASE(2);
    ux_forward(&S->U, S->B);
    PHASE(3);
    S->loss = loss_and_seed(S, S->B);
    PHASE(4);
    bq_exec_backward_range(&S->U.ex, S->U.m, S->U.lo, S->U.hi, 1);
    PHASE(5);
    update_params(S, t);
    PHASE(6);
#undef PHASE
}

/* Shard k's gradients (what backward left in the executor) and loss into record slot. */
static void pack_record(ustate *S, unsigned char *recs, int slot, double loss) {
    const bq_qmodel *q = S->X->q;
    double *d = bq_dp_rec_d(recs, &S->lay, slot);
    float *f = bq_dp_rec_f(recs, &S->lay, slot);
    for (int k = 0; k < S->n_learn_aq; k++) d[k] = S->U.ds[S->aq_of[k]];
    d[S->n_learn_aq] = loss;
    for (int k = 0; k < S->u->n_layers && S->weights; k++) {
        const bq_qlayer *L = &q->layers[S->u->layers[k]];
        size_t nw = (size_t)L->cout * L->per_out;
        memcpy(f, S->U.ex.weight_grad[L->node], sizeof(float) * nw);
        f += nw;
    }
}

/* The summed gradients back where update_params reads them; the summed loss. */
static void unpack_sums(ustate *S) {
    const bq_qmodel *q = S->X->q;
    const float *f = S->fsum;
    for (int k = 0; k < S->n_learn_aq; k++) S->U.ds[S->aq_of[k]] = S->dsum[k];
    S->loss = S->dsum[S->n_learn_aq];
    for (int k = 0; k < S->u->n_layers && S->weights; k++) {
        const bq_qlayer *L = &q->layers[S->u->layers[k]];
        size_t nw = (size_t)L->cout * L->per_out;
        memcpy(S->U.ex.weight_grad[L->node], f, sizeof(float) * nw);
        f += nw;
    }
}

/* Iteration t with dp_shards > 1 (docs/mpi_recon.md): every process draws the same batch
 * indices and one seed from the unit's stream; shard k's QDrop masks come from a stream seeded
 * by (that seed, k), so a shard's numbers do not depend on which process computes it. This
 * process runs forward, loss and backward of its shards, one record each; the records of all
 * ranks are exchanged and summed in shard order, so every rank updates with the same bytes. */
static int unit_iteration_dp(ustate *S, int t, char *err, size_t errlen) {
    const bq_dp_comm *dp = S->X->dp;
    int n = S->B / S->shards;
    draw_batch(S);
    uint64_t iter_seed = bq_rng_u64(&S->rng);
    load_params(S);
    S->U.rng = &S->shard_rng;
    for (int k = S->sh_lo; k < S->sh_hi; k++) {
        uint64_t x = iter_seed ^ (uint64_t)(k + 1) * 0x9E3779B97F4A7C15ULL;
        bq_rng_seed(&S->shard_rng, bq_splitmix64(&x));
        gather_rows(S, k * n, n, &S->shard_rng);
        ux_forward(&S->U, n);
        double loss = loss_and_seed(S, n);
        bq_exec_backward_range(&S->U.ex, S->U.m, S->U.lo, S->U.hi, 1);
        pack_record(S, S->mine, k - S->sh_lo, loss);
    }
    S->U.rng = &S->rng;
    size_t bytes = (size_t)(S->sh_hi - S->sh_lo) * bq_dp_record_bytes(&S->lay);
    if (dp && dp->size > 1) {
        if (dp->allgather(dp->ctx, S->mine, bytes, S->recs, err, errlen)) return -1;
    } else {
        memcpy(S->recs, S->mine, bytes);
    }
    bq_dp_sum(&S->lay, S->recs, S->shards, S->dsum, S->fsum);
    unpack_sums(S);
    update_params(S, t);
    return 0;
}

/* After iteration t: the iteration count, and the benchmark's phase times or the progress line. */
static void unit_bookkeeping(ustate *S, int t, const double *tp) {
    ctx_t *X = S->X;
    X->done_iters += 1;
    bq_recon_bench *bn = X->bench;
    if (bn) {
        if (t >= bn->warmup)
            for (int k = 0; k < BQ_BENCH_PHASES; k++) bn->phase_ms[k] += (tp[k + 1] - tp[k]) * 1e3;
        return;
    }
    if ((t & 63) == 0 || t == S->iters - 1)
        bq_progress_update(&X->prog, X->done_iters, X->total_iters,
                           "%s unit %d/%d %s it %d/%d loss %.5g reg %.4g beta %.2f",
                           stage_name[S->stage], S->ui + 1, S->nu, S->u->name, t + 1, S->iters,
                           S->loss, S->reg, S->beta);
}

/* The unit's result into q: hard rounding of the AdaRound weights, the learned steps. */
static int unit_finish(ustate *S, char *err, size_t errlen) {
    bq_qmodel *q = S->X->q;
    for (int k = 0; k < S->u->n_layers && S->weights; k++) {
        bq_qlayer *L = &q->layers[S->u->layers[k]];
        size_t nw = (size_t)L->cout * L->per_out;
        int32_t *codes = malloc(sizeof(int32_t) * nw);
        if (!codes) { ERR("reconstruct: out of memory"); return -1; }
        bq_adaround_harden(codes, S->alpha[k], S->wf[k], L->zero, (int)bq_qmax(L->wbits), L->cout,
                           L->per_out);
        for (size_t i = 0; i < nw; i++) L->codes[i] = (uint8_t)codes[i];
        free(codes);
    }
    for (int k = 0; k < S->n_learn_aq; k++) q->aq[S->aq_of[k]].scale = S->s_learn[k];
    if (S->X->stats) { S->X->stats->iterations += S->iters; S->X->stats->last_loss = S->loss; }
    return 0;
}

/* Reconstruct unit u (number ui of nu in its stage): set up, iterate, write the result. */
static int run_unit(ctx_t *X, const unit *u, int ui, int nu, int stage, char *err,
                    size_t errlen) {
    ustate S;
    memset(&S, 0, sizeof S);
    int rc = unit_setup(&S, X, u, ui, nu, stage, err, errlen);
    if (rc == 1) {   /* nothing to learn */
        ux_free(&S.U);
        X->done_iters += S.iters;
        return 0;
    }
    if (rc == 0) {
        double tp[BQ_BENCH_PHASES + 1];
        if (X->bench) X->bench->flops = bq_exec_gemm_flops(&S.U.ex, S.U.m, u->lo, u->hi, S.B);
        for (int t = 0; t < S.iters && rc == 0; t++) {
            if (S.shards > 1) rc = unit_iteration_dp(&S, t, err, errlen);
            else unit_iteration(&S, t, X->bench ? tp : NULL);
            unit_bookkeeping(&S, t, tp);
        }
        const bq_dnnl_stats *ds = bq_dnnl_ctx_stats(S.U.ex.dnnl);
        if (rc) {
            /* the exchange failed: err says why; q stays as it was */
        } else if (ds->errors) {   /* bf16: a conv failed mid-run (no fallback); keep q as it was */
            ERR("reconstruct: unit %d: %s", ui + 1, ds->first_error);
            rc = -1;
        } else {
            rc = unit_finish(&S, err, errlen);
        }
    }
    unit_teardown(&S);
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

/* compute: bf16, before any work: the CPU has native bf16 (bq_recipe_load checked it already
 * for recipe files) and oneDNN builds every conv primitive of the model in bf16. */
static int check_bf16(const bq_qmodel *q, const bq_recipe *r, char *err, size_t errlen) {
    char e[384];
    if (!bq_dnnl_bf16_available(e, sizeof e)) {
        ERR("recipe: 'compute: bf16' needs a CPU with AVX512-BF16 (oneDNN reports %s); use "
            "'compute: fp32'", e);
        return -1;
    }
    if (bq_exec_dnnl_preflight(&q->model, 0, q->model.n_nodes - 1, r->batch, 1, e, sizeof e)) {
        ERR("reconstruct: compute: bf16: %s", e);
        return -1;
    }
    return 0;
}

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
    if (r->compute == BQ_COMPUTE_BF16 && check_bf16(q, r, err, errlen)) return -1;
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
    return bq_reconstruct_dp(q, fp, r, train, run_dir, max_units, stats, NULL, err, errlen);
}

/* Data-parallel runs: R ranks must split dp_shards evenly (every rank the same count, so the
 * records gathered in rank order are in shard order). */
static int validate_dp(const bq_recipe *r, const bq_dp_comm *dp, char *err, size_t errlen) {
    int R = dp ? dp->size : 1;
    if (R <= 1) return 0;
    if (r->method == BQ_METHOD_RTN) {
        ERR("reconstruct: method rtn has no reconstruction to split over %d ranks; run it "
            "without mpirun", R);
        return -1;
    }
    if (r->dp_shards % R != 0) {
        ERR("reconstruct: mpirun -np %d does not divide the recipe's dp_shards (%d); use -np %s "
            "or set dp_shards to a multiple of %d", R, r->dp_shards,
            r->dp_shards > 1 ? "a divisor of dp_shards" : "1", R);
        return -1;
    }
    return 0;
}

int bq_reconstruct_dp(bq_qmodel *q, const bq_model *fp, const bq_recipe *r,
                      const bq_dataset *train, const char *run_dir, int max_units,
                      bq_recon_stats *stats, const bq_dp_comm *dp, char *err, size_t errlen) {
    double t_start = bq_now();
    double prior_seconds = 0.0;   /* earlier runs of run_dir (elapsed_load) */
    double prior_rss_mb = 0.0;    /* their largest peak RSS */
    int prior_rss_unknown = 0;    /* 1: some earlier process did not record it (a lower bound) */
    if (stats) memset(stats, 0, sizeof(*stats));
    if (validate(q, r, train, err, errlen) || validate_dp(r, dp, err, errlen)) return -1;
    int root = !dp || dp->rank == 0;   /* only rank 0 writes checkpoints */
    if (fp && (fp->in_c != q->model.in_c || fp->num_classes != q->model.num_classes)) {
        ERR("reconstruct: the float model does not match the quantized model");
        return -1;
    }
    ctx_t X;
    memset(&X, 0, sizeof X);
    X.q = q;
    X.r = r;
    X.stats = stats;
    X.dp = dp;
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
            if (root)
                fprintf(stderr, "[reconstruct] resuming %s at step %d/%d\n", run_dir, first_step,
                        ns);
        }
    }
    /* every rank read the same checkpoint (and rank 0 writes none before this barrier) */
    int agree = bq_dp_agree(dp, first_step, err, errlen);
    if (agree == 0)
        ERR("reconstruct: the ranks found different checkpoints in %s; the run folder must be on "
            "a file system every rank sees (or give --run-dir on one)", run_dir ? run_dir : "-");
    if (agree != 1) goto out;

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
        if (run_dir && r->checkpoint && root &&
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
    uexec U;
    int rc = -1;
    if (ux_init(&U, q, un->lo, un->hi, n, 0, err, errlen)) goto out;
    U.act_on = act_on;
    ux_sync_bias(&U);
    memcpy(U.ex.act[un->in], in, sizeof(float) * n * bq_node_size(&q->model.nodes[un->in]));
    ux_forward(&U, n);
    memcpy(out, U.ex.act[un->hi], sizeof(float) * n * bq_node_size(&q->model.nodes[un->hi]));
    if (in_node) *in_node = un->in;
    if (out_node) *out_node = un->hi;
    ux_free(&U);
    rc = 0;
out:
    free(units);
    return rc;
}

double bq_recon_bench_unit(bq_qmodel *q, int u, int batch, int iters, int stage,
                           bq_recon_bench *res, char *err, size_t errlen) {
    return bq_recon_bench_unit_ex(q, u, batch, iters, stage, BQ_COMPUTE_FP32, res, err, errlen);
}

double bq_recon_bench_unit_ex(bq_qmodel *q, int u, int batch, int iters, int stage,
                              bq_compute compute, bq_recon_bench *res, char *err, size_t errlen) {
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
    r.compute = compute;
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
