/*
 * fakequant.c — fake-quant forward on bq_exec (see fakequant.h and docs/numerics.md).
 */
#include "quant/fakequant.h"
#include "core/errmsg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

void bq_fq_free(bq_fq *fq) {
    if (!fq) return;
    if (fq->pre)
        for (int i = 0; i < fq->net.n_nodes; i++) free(fq->pre[i]);
    free(fq->pre);
    free(fq->wdq);
    free(fq->wdq_node);
    free(fq->aq_on);
    bq_model_free(&fq->net);
    memset(fq, 0, sizeof(*fq));
}

int bq_fq_init(bq_fq *fq, bq_qmodel *q, int max_batch, int save_pre) {
    memset(fq, 0, sizeof(*fq));
    fq->q = q;
    fq->max_batch = max_batch;
    fq->act_on = 1;
    fq->weight_on = 1;
    fq->save_pre = save_pre;
    fq->init_p = BQ_RANGE_P;
    if (bq_model_clone(&fq->net, &q->model)) return -1;
    int nn = q->model.n_nodes;
    size_t total = 0;
    for (int l = 0; l < q->n_layers; l++) total += (size_t)q->layers[l].cout * q->layers[l].per_out;
    fq->wdq = malloc(sizeof(float) * (total ? total : 1));
    fq->wdq_node = calloc((size_t)nn, sizeof(float *));
    fq->aq_on = malloc((size_t)(q->n_aq ? q->n_aq : 1));
    if (!fq->wdq || !fq->wdq_node || !fq->aq_on) goto oom;
    memset(fq->aq_on, 1, (size_t)(q->n_aq ? q->n_aq : 1));
    size_t off = 0;
    for (int l = 0; l < q->n_layers; l++) {
        fq->wdq_node[q->layers[l].node] = fq->wdq + off;
        off += (size_t)q->layers[l].cout * q->layers[l].per_out;
    }
    if (save_pre) {
        fq->pre = calloc((size_t)nn, sizeof(float *));
        if (!fq->pre) goto oom;
        for (int a = 0; a < q->n_aq; a++) {
            int node = q->aq[a].node;
            fq->pre[node] = malloc(sizeof(float) * (size_t)max_batch * bq_node_size(&q->model.nodes[node]));
            if (!fq->pre[node]) goto oom;
        }
    }
    bq_fq_sync(fq);
    return 0;
oom:
    bq_fq_free(fq);
    return -1;
}

void bq_fq_sync_bias(bq_fq *fq) {
    const bq_qmodel *q = fq->q;
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        const bq_node *nd = &q->model.nodes[L->node];
        if (nd->p_bias < 0) continue;
        const float *b = bq_param_data(&q->model, nd->p_bias);
        float *bo = bq_param_data(&fq->net, fq->net.nodes[L->node].p_bias);
        const bq_aquant *A = L->aq_in >= 0 ? &q->aq[L->aq_in] : NULL;
        int quant = fq->weight_on && fq->act_on && A && A->bits > 0 && fq->aq_on[L->aq_in];
        for (int c = 0; c < L->cout; c++) {
            if (!quant) { bo[c] = b[c]; continue; }
            double sws = (double)L->scale[c] * (double)A->scale;
            bo[c] = (float)((double)bq_bias_code(b[c], L->scale[c], A->scale) * sws);
        }
    }
}

void bq_fq_sync(bq_fq *fq) {
    const bq_qmodel *q = fq->q;
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        float *w = fq->wdq_node[L->node];
        if (fq->weight_on)
            bq_wq_dequantize(w, L->codes, L->scale, L->zero, L->cout, L->per_out);
        else
            memcpy(w, bq_param_data(&q->model, q->model.nodes[L->node].p_weight),
                   sizeof(float) * (size_t)L->cout * L->per_out);
    }
    bq_fq_sync_bias(fq);
}

void bq_fq_bind(bq_fq *fq, bq_exec *ex) {
    for (int l = 0; l < fq->q->n_layers; l++) {
        int node = fq->q->layers[l].node;
        ex->weight_override[node] = fq->wdq_node[node];
    }
    ex->post_hook = bq_fq_post_hook;
    ex->grad_hook = bq_fq_grad_hook;
    ex->hook_ctx = fq;
}

/* Is node's quantizer active (and the data at node its own output, not a tied GAP)? */
static const bq_aquant *active_aq(const bq_fq *fq, int node, int *tied) {
    if (!fq->act_on) return NULL;
    int a = fq->q->node_aq[node];
    if (a < 0 || !fq->aq_on[a]) return NULL;
    const bq_aquant *A = &fq->q->aq[a];
    if (A->bits <= 0) return NULL;
    *tied = A->node != node;
    return A;
}

void bq_fq_post_hook(void *ctx, bq_exec *ex, int node, float *data, int n) {
    bq_fq *fq = ctx;
    int tied = 0;
    const bq_aquant *Ac = active_aq(fq, node, &tied);
    if (!Ac) { if (fq->user_post) fq->user_post(fq->user_ctx, ex, node, data, n); return; }
    bq_aquant *A = &fq->q->aq[fq->q->node_aq[node]];
    const bq_node *nd = &fq->q->model.nodes[node];
    size_t count = (size_t)n * bq_node_size(nd);
    if (tied) {
        if (nd->kind == BQ_OP_GAP && A->initialized) {
            /* integer mean of the input codes, rounded half up (numerics §5): recover the code sum
             * exactly from the float mean (|error| << 1/2), then floor((2*sum + hw) / (2*hw)) */
            const bq_node *pin = &fq->q->model.nodes[nd->in[0]];
            int64_t hw = (int64_t)pin->h * pin->w;
            for (size_t i = 0; i < count; i++) {
                double mean_code = (double)data[i] / (double)A->scale + (double)A->zero;
                int64_t sum = (int64_t)llround(mean_code * (double)hw);
                int64_t qv = (2 * sum + hw) / (2 * hw);
                data[i] = (float)(qv - A->zero) * A->scale;
            }
        }
        /* max pool / flatten: already on the grid */
        if (fq->user_post) fq->user_post(fq->user_ctx, ex, node, data, n);
        return;
    }
    if (fq->save_pre && fq->pre && fq->pre[node]) memcpy(fq->pre[node], data, sizeof(float) * count);
    if (!A->initialized) {
        bq_aq_init_mse(&A->scale, &A->zero, data, count, A->bits, fq->init_p);
        A->initialized = 1;
    }
    bq_aq_fake(data, data, count, A->scale, A->zero, A->bits);
    if (fq->user_post) fq->user_post(fq->user_ctx, ex, node, data, n);
}

void bq_fq_grad_hook(void *ctx, bq_exec *ex, int node, float *dout, int n) {
    (void)ex;
    bq_fq *fq = ctx;
    int tied = 0;
    const bq_aquant *A = active_aq(fq, node, &tied);
    if (!A || tied || !fq->pre || !fq->pre[node]) return;   /* GAP: identity STE */
    const float *x = fq->pre[node];
    size_t count = (size_t)n * bq_node_size(&fq->q->model.nodes[node]);
    double s = A->scale, ds = 0.0;
    double qlo = -(double)A->zero, qhi = (double)(bq_qmax(A->bits) - A->zero);
    for (size_t i = 0; i < count; i++) {
        double v = (double)x[i] / s, r = floor(v + 0.5);
        if (r < qlo) { ds += dout[i] * qlo; dout[i] = 0.0f; }
        else if (r > qhi) { ds += dout[i] * qhi; dout[i] = 0.0f; }
        else ds += dout[i] * (r - v);
    }
    if (fq->dscale) fq->dscale[fq->q->node_aq[node]] += ds;
}

int bq_fq_calibrate(bq_fq *fq, bq_exec *ex, const float *x, int n) {
    int act = fq->act_on;
    fq->act_on = 1;
    bq_fq_sync(fq);   /* biases of layers whose input quantizer gets initialised are refreshed below */
    /* Quantizers initialise on first use in network order; biases depend on input scales, so run
     * node by node: after each quantizer is initialised, refresh the biases before the next layer
     * consumes it. A full forward with a bias refresh per initialised quantizer does exactly that. */
    const bq_model *m = &fq->net;
    for (int i = 0; i < m->n_nodes; i++) {
        bq_exec_forward_range(ex, m, i == 0 ? x : NULL, n, i, i, 0);
        int a = fq->q->node_aq[i];
        if (a >= 0 && fq->q->aq[a].node == i) bq_fq_sync_bias(fq);
    }
    fq->act_on = act;
    bq_fq_sync_bias(fq);
    for (int a = 0; a < fq->q->n_aq; a++) {
        const bq_aquant *A = &fq->q->aq[a];
        if (A->bits > 0 && (!A->initialized || !(A->scale > 0.0f) || !isfinite(A->scale))) {
            bq_seterr(fq->err, sizeof(fq->err), "quantizer at '%s' could not be initialised",
                      fq->q->model.nodes[A->node].name);
            return -1;
        }
    }
    return 0;
}

void bq_fq_codes(int32_t *out, const bq_fq *fq, int node, const float *x_hat, size_t count) {
    int a = fq->q->node_aq[node];
    const bq_aquant *A = &fq->q->aq[a];
    for (size_t i = 0; i < count; i++)
        out[i] = (int32_t)nearbyint((double)x_hat[i] / (double)A->scale) + A->zero;
}

double bq_fq_evaluate(bq_qmodel *q, const bq_dataset *d, int batch, int *preds) {
    bq_fq fq;
    bq_exec ex;
    if (bq_fq_init(&fq, q, batch, 0)) return -1.0;
    if (bq_exec_init(&ex, &fq.net, batch, 0)) { bq_fq_free(&fq); return -1.0; }
    bq_fq_bind(&fq, &ex);
    float *x = malloc(sizeof(float) * (size_t)batch * d->c * d->h * d->w);
    int *idx = malloc(sizeof(int) * (size_t)batch), *y = malloc(sizeof(int) * (size_t)batch);
    double top1 = -1.0;
    if (!x || !idx || !y) goto out;
    long correct = 0;
    int out_node = bq_model_output(&fq.net), ncls = fq.net.nodes[out_node].c;
    for (int s = 0; s < d->n; s += batch) {
        int nb = d->n - s < batch ? d->n - s : batch;
        for (int i = 0; i < nb; i++) idx[i] = s + i;
        bq_dataset_batch(d, idx, nb, x, y, q->model.in_mean, q->model.in_std, NULL);
        bq_exec_forward(&ex, &fq.net, x, nb, 0);
        for (int i = 0; i < nb; i++) {
            const float *lg = ex.act[out_node] + (size_t)i * ncls;
            int best = 0;
            for (int c = 1; c < ncls; c++) if (lg[c] > lg[best]) best = c;
            if (preds) preds[s + i] = best;
            correct += best == y[i];
        }
    }
    top1 = (double)correct / (double)d->n;
out:
    free(x); free(idx); free(y);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
    return top1;
}
