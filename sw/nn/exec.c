/* exec.c — forward/backward of a model over a batch (see exec.h). */
#include "nn/exec.h"
#include "nn/conv_dnnl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void conv_shape_of(bq_conv_shape *cs, const bq_model *m, const bq_node *nd, int n,
                          bq_conv_impl impl) {
    const bq_node *in = &m->nodes[nd->in[0]];
    bq_conv2d_shape(cs, n, in->c, in->h, in->w, nd->c, nd->kh, nd->kw, nd->stride_h, nd->stride_w,
                    nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups);
    cs->impl = impl;
}

int bq_exec_init(bq_exec *ex, const bq_model *m, int max_batch, int train) {
    memset(ex, 0, sizeof(*ex));
    ex->max_batch = max_batch;
    ex->train = train;
    ex->bn_momentum = 0.1f;
    ex->conv_impl = bq_conv_impl_from_env();
    int nn = m->n_nodes;
    ex->n_nodes = nn;
    ex->act = calloc((size_t)nn, sizeof(float *));
    ex->grad = calloc((size_t)nn, sizeof(float *));
    ex->bn_mean = calloc((size_t)nn, sizeof(float *));
    ex->bn_rstd = calloc((size_t)nn, sizeof(float *));
    ex->argmax = calloc((size_t)nn, sizeof(int32_t *));
    ex->weight_override = calloc((size_t)nn, sizeof(float *));
    if (!ex->act || !ex->grad || !ex->bn_mean || !ex->bn_rstd || !ex->argmax || !ex->weight_override)
        goto oom;
    for (int i = 0; i < nn; i++) {
        const bq_node *nd = &m->nodes[i];
        size_t sz = (size_t)max_batch * bq_node_size(nd);
        ex->act[i] = malloc(sizeof(float) * sz);
        if (!ex->act[i]) goto oom;
        if (train) {
            ex->grad[i] = calloc(sz, sizeof(float));
            if (!ex->grad[i]) goto oom;
            if (nd->kind == BQ_OP_BN) {
                ex->bn_mean[i] = malloc(sizeof(float) * (size_t)nd->c);
                ex->bn_rstd[i] = malloc(sizeof(float) * (size_t)nd->c);
                if (!ex->bn_mean[i] || !ex->bn_rstd[i]) goto oom;
            }
        }
        /* max pool records its argmax in every mode (the forward kernel always writes it) */
        if (nd->kind == BQ_OP_MAXPOOL) {
            ex->argmax[i] = malloc(sizeof(int32_t) * sz);
            if (!ex->argmax[i]) goto oom;
        }
        if (nd->kind == BQ_OP_CONV) {
            bq_conv_shape cs;
            conv_shape_of(&cs, m, nd, max_batch, ex->conv_impl);
            size_t s = bq_conv2d_scratch_floats(&cs);
            if (s > ex->scratch_floats) ex->scratch_floats = s;
        }
    }
    ex->scratch = malloc(sizeof(float) * (ex->scratch_floats ? ex->scratch_floats : 1));
    ex->dnnl = bq_dnnl_ctx_new();   /* empty until a BQ_CONV_DNNL conv runs */
    if (!ex->scratch || !ex->dnnl) goto oom;
    if (train) {
        ex->param_grad = calloc(m->arena_count ? m->arena_count : 1, sizeof(float));
        if (!ex->param_grad) goto oom;
    }
    return 0;
oom:
    bq_exec_free(ex);
    return -1;
}

void bq_exec_free(bq_exec *ex) {
    for (int i = 0; i < ex->n_nodes; i++) {
        if (ex->act) free(ex->act[i]);
        if (ex->grad) free(ex->grad[i]);
        if (ex->bn_mean) free(ex->bn_mean[i]);
        if (ex->bn_rstd) free(ex->bn_rstd[i]);
        if (ex->argmax) free(ex->argmax[i]);
    }
    free(ex->act); free(ex->grad); free(ex->bn_mean); free(ex->bn_rstd); free(ex->argmax);
    free(ex->scratch);
    bq_dnnl_ctx_free(ex->dnnl);
    free(ex->param_grad);
    free(ex->weight_override);
    memset(ex, 0, sizeof(*ex));
}

static const float *weights_of(const bq_exec *ex, const bq_model *m, int i) {
    return ex->weight_override[i] ? ex->weight_override[i] : bq_param_data(m, m->nodes[i].p_weight);
}

void bq_exec_forward_range(bq_exec *ex, const bq_model *m, const float *input, int n, int first,
                           int last, int bn_train) {
    ex->n = n;
    for (int i = first; i <= last; i++) {
        const bq_node *nd = &m->nodes[i];
        float *out = ex->act[i];
        const float *a = nd->in[0] >= 0 ? ex->act[nd->in[0]] : NULL;
        const bq_node *pin = nd->in[0] >= 0 ? &m->nodes[nd->in[0]] : NULL;
        size_t count = (size_t)n * bq_node_size(nd);
        switch (nd->kind) {
        case BQ_OP_INPUT:
            if (input) memcpy(out, input, sizeof(float) * count);
            break;
        case BQ_OP_CONV: {
            bq_conv_shape cs;
            conv_shape_of(&cs, m, nd, n, ex->conv_impl);
            cs.dnnl = ex->dnnl;
            bq_conv2d_forward(out, a, weights_of(ex, m, i), bq_param_data(m, nd->p_bias), &cs,
                              ex->scratch);
            break;
        }
        case BQ_OP_LINEAR:
            bq_linear_forward(out, a, weights_of(ex, m, i), bq_param_data(m, nd->p_bias), n,
                              (int)bq_node_size(pin), nd->c);
            break;
        case BQ_OP_BN:
            if (bn_train)
                bq_batchnorm_train_forward(out, ex->bn_mean[i], ex->bn_rstd[i],
                                           (float *)bq_param_data(m, nd->p_rmean),
                                           (float *)bq_param_data(m, nd->p_rvar), a,
                                           bq_param_data(m, nd->p_gamma),
                                           bq_param_data(m, nd->p_beta), n, nd->c,
                                           nd->h * nd->w, nd->bn_eps, ex->bn_momentum);
            else
                bq_batchnorm_eval_forward(out, a, bq_param_data(m, nd->p_gamma),
                                          bq_param_data(m, nd->p_beta),
                                          bq_param_data(m, nd->p_rmean),
                                          bq_param_data(m, nd->p_rvar), n, nd->c, nd->h * nd->w,
                                          nd->bn_eps);
            break;
        case BQ_OP_RELU: bq_relu_forward(out, a, count); break;
        case BQ_OP_RELU6: bq_relu6_forward(out, a, count); break;
        case BQ_OP_CLAMP: bq_clamp_forward(out, a, count, nd->lo, nd->hi); break;
        case BQ_OP_ADD: bq_add_forward(out, a, ex->act[nd->in[1]], count); break;
        case BQ_OP_MAXPOOL:
            bq_maxpool_forward(out, ex->argmax[i], a, n, pin->c, pin->h, pin->w, nd->kh, nd->kw,
                               nd->stride_h, nd->stride_w, nd->pad_t, nd->pad_l, nd->h, nd->w);
            break;
        case BQ_OP_AVGPOOL:
            bq_avgpool_forward(out, a, n, pin->c, pin->h, pin->w, nd->kh, nd->kw, nd->stride_h,
                               nd->stride_w, nd->pad_t, nd->pad_l, nd->h, nd->w,
                               nd->count_include_pad);
            break;
        case BQ_OP_GAP: bq_gap_forward(out, a, n, pin->c, pin->h * pin->w); break;
        case BQ_OP_FLATTEN: memcpy(out, a, sizeof(float) * count); break;
        default: break;
        }
        if (ex->post_hook) ex->post_hook(ex->hook_ctx, ex, i, out, n);
    }
}

void bq_exec_zero_grad(bq_exec *ex, const bq_model *m, int first, int last, int params) {
    if (!ex->train) return;
    for (int i = first; i <= last; i++)
        memset(ex->grad[i], 0, sizeof(float) * (size_t)ex->max_batch * bq_node_size(&m->nodes[i]));
    /* producers outside the range receive input gradients too */
    for (int i = first; i <= last; i++)
        for (int j = 0; j < 2; j++) {
            int p = m->nodes[i].in[j];
            if (p >= 0 && p < first)
                memset(ex->grad[p], 0, sizeof(float) * (size_t)ex->max_batch *
                                           bq_node_size(&m->nodes[p]));
        }
    if (params) memset(ex->param_grad, 0, sizeof(float) * m->arena_count);
}

static float *pgrad(bq_exec *ex, const bq_model *m, int p, int params) {
    return (params && p >= 0) ? ex->param_grad + m->params[p].offset : NULL;
}

void bq_exec_backward_range(bq_exec *ex, const bq_model *m, int first, int last, int params) {
    int n = ex->n;
    for (int i = last; i >= first; i--) {
        const bq_node *nd = &m->nodes[i];
        if (nd->kind == BQ_OP_INPUT) continue;
        float *dout = ex->grad[i];
        if (ex->grad_hook) ex->grad_hook(ex->hook_ctx, ex, i, dout, n);
        const float *a = ex->act[nd->in[0]];
        const bq_node *pin = &m->nodes[nd->in[0]];
        /* the input gradient is only needed when the producer is not the network input */
        float *da = nd->in[0] > 0 ? ex->grad[nd->in[0]] : NULL;
        size_t count = (size_t)n * bq_node_size(nd);
        switch (nd->kind) {
        case BQ_OP_CONV: {
            bq_conv_shape cs;
            conv_shape_of(&cs, m, nd, n, ex->conv_impl);
            cs.dnnl = ex->dnnl;
            bq_conv2d_backward(da, pgrad(ex, m, nd->p_weight, params),
                               pgrad(ex, m, nd->p_bias, params), dout, a, weights_of(ex, m, i),
                               &cs, ex->scratch);
            break;
        }
        case BQ_OP_LINEAR:
            bq_linear_backward(da, pgrad(ex, m, nd->p_weight, params),
                               pgrad(ex, m, nd->p_bias, params), dout, a, weights_of(ex, m, i), n,
                               (int)bq_node_size(pin), nd->c);
            break;
        case BQ_OP_BN:
            if (ex->bn_mean[i])
                bq_batchnorm_train_backward(da, pgrad(ex, m, nd->p_gamma, params),
                                            pgrad(ex, m, nd->p_beta, params), dout, a,
                                            ex->bn_mean[i], ex->bn_rstd[i],
                                            bq_param_data(m, nd->p_gamma), n, nd->c,
                                            nd->h * nd->w);
            break;
        case BQ_OP_RELU: if (da) bq_relu_backward(da, dout, a, count); break;
        case BQ_OP_RELU6: if (da) bq_relu6_backward(da, dout, a, count); break;
        case BQ_OP_CLAMP: if (da) bq_clamp_backward(da, dout, a, count, nd->lo, nd->hi); break;
        case BQ_OP_ADD: {
            float *db = nd->in[1] > 0 ? ex->grad[nd->in[1]] : NULL;
            if (da && db) bq_add_backward(da, db, dout, count);
            else {
                float *d = da ? da : db;
                if (d) for (size_t k = 0; k < count; k++) d[k] += dout[k];
            }
            break;
        }
        case BQ_OP_MAXPOOL:
            if (da) bq_maxpool_backward(da, dout, ex->argmax[i], n, pin->c, pin->h, pin->w, nd->h,
                                        nd->w);
            break;
        case BQ_OP_AVGPOOL:
            if (da) bq_avgpool_backward(da, dout, n, pin->c, pin->h, pin->w, nd->kh, nd->kw,
                                        nd->stride_h, nd->stride_w, nd->pad_t, nd->pad_l, nd->h,
                                        nd->w, nd->count_include_pad);
            break;
        case BQ_OP_GAP: if (da) bq_gap_backward(da, dout, n, pin->c, pin->h * pin->w); break;
        case BQ_OP_FLATTEN: if (da) for (size_t k = 0; k < count; k++) da[k] += dout[k]; break;
        default: break;
        }
    }
}
