/* exec.c — forward/backward of a model, or of a node range of it, over a batch (see exec.h).
 *
 * Layout: allocation (whole model / node range / gradient plan), then forward_node and
 * backward_node (one case per op, shapes in comments), then the range loops around them. */
#include "nn/exec.h"
#include "nn/conv_dnnl.h"
#include "core/errmsg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void conv_shape_of(bq_conv_shape *cs, const bq_model *m, const bq_node *nd, int n,
                          bq_conv_impl impl) {
    const bq_node *in = &m->nodes[nd->in[0]];
    bq_conv2d_shape(cs, n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw, nd->stride_h, nd->stride_w,
                    nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups);
    cs->impl = impl;
}

/* An op kind no case handles: a new op was added to graph.h without its forward/backward here
 * (-Wswitch names it at compile time), or the node is corrupt. */
static void bad_op(const bq_node *nd, const char *where) {
    fprintf(stderr, "exec: %s of node '%s': op %d (%s) is not implemented\n", where, nd->name,
            (int)nd->kind, bq_op_name(nd->kind));
    abort();
}

/* ---------------------------------------------------------------------------- allocation */

static size_t floats_of(const bq_exec *ex, const bq_model *m, int i) {
    return (size_t)ex->max_batch * bq_node_size(&m->nodes[i]);
}

/* The per-node pointer tables (all NULL) and the settings every executor starts with. */
static int init_tables(bq_exec *ex, const bq_model *m, int first, int last, int max_batch,
                       int train) {
    memset(ex, 0, sizeof(*ex));
    ex->max_batch = max_batch;
    ex->train = train;
    ex->first = first;
    ex->last = last;
    ex->bn_momentum = 0.1f;
    ex->conv_impl = bq_conv_impl_from_env();
    size_t nn = (size_t)m->n_nodes;
    ex->n_nodes = m->n_nodes;
    ex->act = calloc(nn, sizeof(float *));
    ex->grad = calloc(nn, sizeof(float *));
    ex->bn_mean = calloc(nn, sizeof(float *));
    ex->bn_rstd = calloc(nn, sizeof(float *));
    ex->argmax = calloc(nn, sizeof(int32_t *));
    ex->weight_grad = calloc(nn, sizeof(float *));
    ex->weight_override = calloc(nn, sizeof(float *));
    ex->bias_override = calloc(nn, sizeof(float *));
    return (ex->act && ex->grad && ex->bn_mean && ex->bn_rstd && ex->argmax && ex->weight_grad &&
            ex->weight_override && ex->bias_override) ? 0 : -1;
}

/* Buffers node i needs to run (not its gradient): activation, BN statistics (train), max-pool
 * indices (every mode: the forward kernel always writes them), and a large enough conv scratch
 * (ex->scratch_floats; allocated by finish_scratch). */
static int alloc_node(bq_exec *ex, const bq_model *m, int i) {
    const bq_node *nd = &m->nodes[i];
    size_t sz = floats_of(ex, m, i);
    if (!(ex->act[i] = malloc(sizeof(float) * sz))) return -1;
    if (ex->train && nd->kind == BQ_OP_BN) {
        ex->bn_mean[i] = malloc(sizeof(float) * (size_t)nd->c);
        ex->bn_rstd[i] = malloc(sizeof(float) * (size_t)nd->c);
        if (!ex->bn_mean[i] || !ex->bn_rstd[i]) return -1;
    }
    if (nd->kind == BQ_OP_MAXPOOL && !(ex->argmax[i] = malloc(sizeof(int32_t) * sz))) return -1;
    if (nd->kind == BQ_OP_CONV) {
        bq_conv_shape cs;
        conv_shape_of(&cs, m, nd, ex->max_batch, ex->conv_impl);
        size_t s = bq_conv2d_scratch_floats(&cs);
        if (s > ex->scratch_floats) ex->scratch_floats = s;
    }
    return 0;
}

static int finish_scratch(bq_exec *ex) {
    ex->scratch = malloc(sizeof(float) * (ex->scratch_floats ? ex->scratch_floats : 1));
    ex->dnnl = bq_dnnl_ctx_new();   /* empty until a BQ_CONV_DNNL conv runs */
    return ex->scratch && ex->dnnl ? 0 : -1;
}

int bq_exec_batch_for(const bq_model *m, int want, size_t budget_bytes) {
    size_t per_image = 0;
    for (int i = 0; i < m->n_nodes; i++) per_image += sizeof(float) * bq_node_size(&m->nodes[i]);
    size_t fit = per_image ? budget_bytes / per_image : (size_t)want;
    if (fit < 1) fit = 1;
    return (size_t)want < fit ? want : (int)fit;
}

int bq_exec_init(bq_exec *ex, const bq_model *m, int max_batch, int train) {
    if (init_tables(ex, m, 0, m->n_nodes - 1, max_batch, train)) goto oom;
    for (int i = 0; i < m->n_nodes; i++) {
        if (alloc_node(ex, m, i)) goto oom;
        /* every gradient but the network input's (nothing learns from it) */
        if (train && m->nodes[i].kind != BQ_OP_INPUT &&
            !(ex->grad[i] = calloc(floats_of(ex, m, i), sizeof(float))))
            goto oom;
    }
    if (finish_scratch(ex)) goto oom;
    if (train && !(ex->param_grad = calloc(m->arena_count ? m->arena_count : 1, sizeof(float))))
        goto oom;
    return 0;
oom:
    bq_exec_free(ex);
    return -1;
}

int bq_exec_init_range(bq_exec *ex, const bq_model *m, int first, int last, int max_batch,
                       int train) {
    if (init_tables(ex, m, first, last, max_batch, train)) goto oom;
    for (int i = first; i <= last; i++) {
        if (alloc_node(ex, m, i)) goto oom;
        for (int j = 0; j < 2; j++) {   /* producers outside the range: their activation only */
            int p = m->nodes[i].in[j];
            if (p >= 0 && p < first && !ex->act[p] &&
                !(ex->act[p] = malloc(sizeof(float) * floats_of(ex, m, p))))
                goto oom;
        }
    }
    if (finish_scratch(ex)) goto oom;
    return 0;
oom:
    bq_exec_free(ex);
    return -1;
}

int bq_exec_plan_grads(bq_exec *ex, const bq_model *m, const unsigned char *learn_w,
                       const unsigned char *learn_out) {
    for (int i = ex->first; i <= ex->last; i++) {
        const bq_node *nd = &m->nodes[i];
        int lw = learn_w && learn_w[i] && (nd->kind == BQ_OP_CONV || nd->kind == BQ_OP_LINEAR);
        int need = lw || (learn_out && learn_out[i]);
        for (int j = 0; j < 2; j++) {
            int p = nd->in[j];
            if (p >= ex->first && ex->grad[p]) need = 1;
        }
        if (lw && !ex->weight_grad[i]) {
            size_t nw = m->params[nd->p_weight].count;
            if (!(ex->weight_grad[i] = calloc(nw, sizeof(float)))) return -1;
        }
        if (need && !ex->grad[i] && !(ex->grad[i] = calloc(floats_of(ex, m, i), sizeof(float))))
            return -1;
    }
    return 0;
}

void bq_exec_free(bq_exec *ex) {
    for (int i = 0; i < ex->n_nodes; i++) {
        if (ex->act) free(ex->act[i]);
        if (ex->grad) free(ex->grad[i]);
        if (ex->bn_mean) free(ex->bn_mean[i]);
        if (ex->bn_rstd) free(ex->bn_rstd[i]);
        if (ex->argmax) free(ex->argmax[i]);
        if (ex->weight_grad) free(ex->weight_grad[i]);
    }
    free(ex->act); free(ex->grad); free(ex->bn_mean); free(ex->bn_rstd); free(ex->argmax);
    free(ex->weight_grad);
    free(ex->scratch);
    bq_dnnl_ctx_free(ex->dnnl);
    free(ex->param_grad);
    free(ex->weight_override);
    free(ex->bias_override);
    memset(ex, 0, sizeof(*ex));
}

/* ---------------------------------------------------------------------------- forward */

static const float *weights_of(const bq_exec *ex, const bq_model *m, int i) {
    return ex->weight_override[i] ? ex->weight_override[i] : bq_param_data(m, m->nodes[i].p_weight);
}

static const float *bias_of(const bq_exec *ex, const bq_model *m, int i) {
    return ex->bias_override[i] ? ex->bias_override[i] : bq_param_data(m, m->nodes[i].p_bias);
}

/* out = node i of (n images) from its inputs' activations. a: input 0 (n, pin c, h, w). */
static void forward_node(bq_exec *ex, const bq_model *m, int i, const float *input, int n,
                         int bn_train) {
    const bq_node *nd = &m->nodes[i];
    float *out = ex->act[i];
    const float *a = nd->in[0] >= 0 ? ex->act[nd->in[0]] : NULL;
    const bq_node *pin = nd->in[0] >= 0 ? &m->nodes[nd->in[0]] : NULL;
    size_t count = (size_t)n * bq_node_size(nd);
    switch (nd->kind) {
    case BQ_OP_INPUT:   /* (n, in_c, in_h, in_w), or filled by the caller */
        if (input) memcpy(out, input, sizeof(float) * count);
        return;
    case BQ_OP_CONV: {  /* (n, cin, h, w) * W (c, cin/g, kh, kw) + b (c) -> (n, c, h', w') */
        bq_conv_shape cs;
        conv_shape_of(&cs, m, nd, n, ex->conv_impl);
        cs.dnnl = ex->dnnl;
        bq_conv2d_forward(out, a, weights_of(ex, m, i), bias_of(ex, m, i), &cs, ex->scratch);
        return;
    }
    case BQ_OP_LINEAR:  /* (n, in) @ W^T (c, in) + b (c) -> (n, c) */
        bq_linear_forward(out, a, weights_of(ex, m, i), bias_of(ex, m, i), n,
                          (int)bq_node_size(pin), nd->c);
        return;
    case BQ_OP_BN:      /* (n, c, h, w) per channel */
        if (bn_train)
            bq_batchnorm_train_forward(out, ex->bn_mean[i], ex->bn_rstd[i],
                                       (float *)bq_param_data(m, nd->p_rmean),
                                       (float *)bq_param_data(m, nd->p_rvar), a,
                                       bq_param_data(m, nd->p_gamma), bq_param_data(m, nd->p_beta),
                                       n, nd->c, nd->h * nd->w, nd->bn_eps, ex->bn_momentum);
        else
            bq_batchnorm_eval_forward(out, a, bq_param_data(m, nd->p_gamma),
                                      bq_param_data(m, nd->p_beta), bq_param_data(m, nd->p_rmean),
                                      bq_param_data(m, nd->p_rvar), n, nd->c, nd->h * nd->w,
                                      nd->bn_eps);
        return;
    /* element-wise: (count) -> (count) */
    case BQ_OP_RELU: bq_relu_forward(out, a, count); return;
    case BQ_OP_RELU6: bq_relu6_forward(out, a, count); return;
    case BQ_OP_CLAMP: bq_clamp_forward(out, a, count, nd->lo, nd->hi); return;
    case BQ_OP_ADD: bq_add_forward(out, a, ex->act[nd->in[1]], count); return;
    case BQ_OP_MAXPOOL: /* (n, c, h, w) -> (n, c, h', w'), argmax recorded */
        bq_maxpool_forward(out, ex->argmax[i], a, n, pin->c, pin->h, pin->w, nd->kh, nd->kw,
                           nd->stride_h, nd->stride_w, nd->pad_t, nd->pad_l, nd->h, nd->w);
        return;
    case BQ_OP_AVGPOOL: /* (n, c, h, w) -> (n, c, h', w') */
        bq_avgpool_forward(out, a, n, pin->c, pin->h, pin->w, nd->kh, nd->kw, nd->stride_h,
                           nd->stride_w, nd->pad_t, nd->pad_l, nd->h, nd->w,
                           nd->count_include_pad);
        return;
    case BQ_OP_GAP: bq_gap_forward(out, a, n, pin->c, pin->h * pin->w); return;  /* -> (n, c) */
    case BQ_OP_FLATTEN: memcpy(out, a, sizeof(float) * count); return;   /* same bytes */
    case BQ_OP_COUNT: break;
    }
    bad_op(nd, "forward");
}

void bq_exec_forward_range(bq_exec *ex, const bq_model *m, const float *input, int n, int first,
                           int last, int bn_train) {
    ex->n = n;
    for (int i = first; i <= last; i++) {
        forward_node(ex, m, i, input, n, bn_train);
        if (ex->post_hook) ex->post_hook(ex->hook_ctx, ex, i, ex->act[i], n);
    }
}

/* ---------------------------------------------------------------------------- backward */

void bq_exec_zero_grad(bq_exec *ex, const bq_model *m, int first, int last, int params) {
    if (!ex->train) return;
    for (int i = first; i <= last; i++) {
        if (ex->grad[i]) memset(ex->grad[i], 0, sizeof(float) * floats_of(ex, m, i));
        /* producers outside the range receive input gradients too */
        for (int j = 0; j < 2; j++) {
            int p = m->nodes[i].in[j];
            if (p >= 0 && p < first && ex->grad[p])
                memset(ex->grad[p], 0, sizeof(float) * floats_of(ex, m, p));
        }
    }
    if (!params) return;
    if (ex->param_grad) memset(ex->param_grad, 0, sizeof(float) * m->arena_count);
    for (int i = first; i <= last; i++)
        if (ex->weight_grad[i])
            memset(ex->weight_grad[i], 0,
                   sizeof(float) * m->params[m->nodes[i].p_weight].count);
}

/* Where the gradient of parameter p accumulates (NULL: not wanted). */
static float *pgrad(bq_exec *ex, const bq_model *m, int p, int params) {
    return (params && p >= 0 && ex->param_grad) ? ex->param_grad + m->params[p].offset : NULL;
}

/* dL/dW of layer i: its own buffer (range executor), else its place in the arena. */
static float *wgrad(bq_exec *ex, const bq_model *m, int i, int params) {
    if (params && ex->weight_grad[i]) return ex->weight_grad[i];
    return pgrad(ex, m, m->nodes[i].p_weight, params);
}

/* Node i's backward from dout = grad[i]: accumulates into its producers' gradients (where they
 * have one) and its parameter gradients. a: input 0's activation (n, pin c, h, w). */
static void backward_node(bq_exec *ex, const bq_model *m, int i, int n, int params) {
    const bq_node *nd = &m->nodes[i];
    const float *dout = ex->grad[i];
    const float *a = nd->in[0] >= 0 ? ex->act[nd->in[0]] : NULL;
    const bq_node *pin = nd->in[0] >= 0 ? &m->nodes[nd->in[0]] : NULL;
    float *da = nd->in[0] >= 0 ? ex->grad[nd->in[0]] : NULL;
    size_t count = (size_t)n * bq_node_size(nd);
    switch (nd->kind) {
    case BQ_OP_INPUT: return;   /* nothing upstream */
    case BQ_OP_CONV: {  /* dX (n, cin, h, w), dW (c, cin/g, kh, kw), db (c) */
        float *dw = wgrad(ex, m, i, params), *db = pgrad(ex, m, nd->p_bias, params);
        if (!da && !dw && !db) return;
        bq_conv_shape cs;
        conv_shape_of(&cs, m, nd, n, ex->conv_impl);
        cs.dnnl = ex->dnnl;
        bq_conv2d_backward(da, dw, db, dout, a, weights_of(ex, m, i), &cs, ex->scratch);
        return;
    }
    case BQ_OP_LINEAR: {  /* dX (n, in), dW (c, in), db (c) */
        float *dw = wgrad(ex, m, i, params), *db = pgrad(ex, m, nd->p_bias, params);
        if (!da && !dw && !db) return;
        bq_linear_backward(da, dw, db, dout, a, weights_of(ex, m, i), n, (int)bq_node_size(pin),
                           nd->c);
        return;
    }
    case BQ_OP_BN:      /* batch statistics only (eval-mode BN has no backward here) */
        if (ex->bn_mean[i])
            bq_batchnorm_train_backward(da, pgrad(ex, m, nd->p_gamma, params),
                                        pgrad(ex, m, nd->p_beta, params), dout, a, ex->bn_mean[i],
                                        ex->bn_rstd[i], bq_param_data(m, nd->p_gamma), n, nd->c,
                                        nd->h * nd->w);
        return;
    /* element-wise: (count) -> (count) */
    case BQ_OP_RELU: if (da) bq_relu_backward(da, dout, a, count); return;
    case BQ_OP_RELU6: if (da) bq_relu6_backward(da, dout, a, count); return;
    case BQ_OP_CLAMP: if (da) bq_clamp_backward(da, dout, a, count, nd->lo, nd->hi); return;
    case BQ_OP_ADD: {
        float *db = ex->grad[nd->in[1]];
        if (da || db) bq_add_backward(da, db, dout, count);
        return;
    }
    case BQ_OP_MAXPOOL: /* (n, c, h', w') -> (n, c, h, w) through argmax */
        if (da) bq_maxpool_backward(da, dout, ex->argmax[i], n, pin->c, pin->h, pin->w, nd->h,
                                    nd->w);
        return;
    case BQ_OP_AVGPOOL:
        if (da) bq_avgpool_backward(da, dout, n, pin->c, pin->h, pin->w, nd->kh, nd->kw,
                                    nd->stride_h, nd->stride_w, nd->pad_t, nd->pad_l, nd->h,
                                    nd->w, nd->count_include_pad);
        return;
    case BQ_OP_GAP: if (da) bq_gap_backward(da, dout, n, pin->c, pin->h * pin->w); return;
    case BQ_OP_FLATTEN: if (da) for (size_t k = 0; k < count; k++) da[k] += dout[k]; return;
    case BQ_OP_COUNT: break;
    }
    bad_op(nd, "backward");
}

void bq_exec_backward_range(bq_exec *ex, const bq_model *m, int first, int last, int params) {
    for (int i = last; i >= first; i--) {
        if (!ex->grad[i]) continue;   /* nothing learned at or upstream of i */
        if (ex->grad_hook) ex->grad_hook(ex->hook_ctx, ex, i, ex->grad[i], ex->n);
        backward_node(ex, m, i, ex->n, params);
    }
}

double bq_exec_gemm_flops(const bq_exec *ex, const bq_model *m, int first, int last, int n) {
    double f = 0;
    for (int i = first; i <= last; i++) {
        const bq_node *nd = &m->nodes[i];
        double one;
        if (nd->kind == BQ_OP_CONV) {
            bq_conv_shape cs;
            conv_shape_of(&cs, m, nd, n, ex->conv_impl);
            one = 2.0 * n * cs.hout * cs.wout * (double)nd->c * nd->kh * nd->kw *
                  (cs.cin / cs.groups);
        } else if (nd->kind == BQ_OP_LINEAR) {
            one = 2.0 * n * (double)nd->c * bq_node_size(&m->nodes[nd->in[0]]);
        } else {
            continue;
        }
        f += one;
        if (ex->weight_grad[i] || ex->param_grad) f += one;
        if (ex->grad[nd->in[0]]) f += one;
    }
    return f;
}

int bq_exec_dnnl_preflight(const bq_model *m, int first, int last, int n, int bf16, char *err,
                           size_t errlen) {
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    if (!ctx) { bq_seterr(err, errlen, "exec: out of memory"); return -1; }
    bq_dnnl_ctx_set_bf16(ctx, bf16);
    int rc = 0;
    for (int i = first; i <= last && rc == 0; i++) {
        const bq_node *nd = &m->nodes[i];
        if (nd->kind != BQ_OP_CONV) continue;
        bq_conv_shape cs;
        conv_shape_of(&cs, m, nd, n, BQ_CONV_DNNL);
        /* every direction, with and without bias: what forward / backward may ask for */
        for (int k = 0; k < 6 && rc == 0; k++) {
            char e[256];
            if (!bq_conv2d_dnnl_impl(ctx, &cs, (bq_dnnl_dir)(k % 3), k / 3, e, sizeof e)) {
                bq_seterr(err, errlen, "layer '%s': %s", nd->name, e);
                rc = -1;
            }
        }
    }
    bq_dnnl_ctx_free(ctx);
    return rc;
}
