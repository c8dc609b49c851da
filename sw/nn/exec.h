/*
 * exec.h — runs a bq_model forward (and backward) on a batch.
 *
 * One bq_exec holds every buffer a batch of up to `max_batch` images needs: one activation tensor
 * per node, one gradient tensor per node (train mode), BN statistics, max-pool indices, conv
 * scratch, and parameter gradients laid out like the model's parameter arena. Nothing is
 * allocated after bq_exec_init.
 *
 * Hooks let the quantization code change what a node computes without a second executor:
 *   - weight_override[i] (NULL by default): use these weights instead of the model's for node i.
 *   - post_hook: called after node i's forward with its output (e.g. a fake-quant of the
 *     activations), and grad_hook before node i's backward with its output gradient (the
 *     straight-through estimator of that fake-quant).
 *
 * Example (evaluation):
 *   bq_exec ex; bq_exec_init(&ex, &model, 256, 0);
 *   bq_exec_forward(&ex, &model, images, n, 0);
 *   const float *logits = ex.act[bq_model_output(&model)];
 *   bq_exec_free(&ex);
 */
#ifndef BQ_EXEC_H
#define BQ_EXEC_H

#include "nn/graph.h"
#include "nn/ops.h"

typedef struct bq_exec bq_exec;
typedef void (*bq_node_hook)(void *ctx, bq_exec *ex, int node, float *data, int n);

struct bq_exec {
    int max_batch, train;
    int n_nodes;
    int n;                       /* batch size of the last forward */
    float **act;                 /* [node] (max_batch, c, h, w) */
    float **grad;                /* [node] same shape; NULL unless train */
    float **bn_mean, **bn_rstd;  /* [node] (c) for BN nodes in train mode */
    int32_t **argmax;            /* [node] for max-pool nodes in train mode */
    float *scratch;              /* conv scratch, sized for the largest conv */
    size_t scratch_floats;
    float *param_grad;           /* same layout as the model's arena; NULL unless train */
    const float **weight_override;  /* [node] */
    bq_node_hook post_hook, grad_hook;
    void *hook_ctx;
    float bn_momentum;           /* running-statistics momentum in train mode (0.1) */
    bq_conv_impl conv_impl;      /* from $BQ_CONV at init (ops.h); may be changed any time */
    struct bq_dnnl_ctx *dnnl;    /* BQ_CONV_DNNL's primitive cache (conv_dnnl.h), owned */
};

/* Allocate buffers for a model and batch size. train != 0 adds gradients and BN statistics.
 * Returns 0 or -1 on OOM. */
int  bq_exec_init(bq_exec *ex, const bq_model *m, int max_batch, int train);
void bq_exec_free(bq_exec *ex);

/* Forward nodes [first, last] for a batch of n images. Node 0 (input) is filled from `input`
 * (n, in_c, in_h, in_w) when first == 0 (input may be NULL when act[0] was filled by hand).
 * bn_train != 0 uses batch statistics and updates running ones. */
void bq_exec_forward_range(bq_exec *ex, const bq_model *m, const float *input, int n, int first,
                           int last, int bn_train);
static inline void bq_exec_forward(bq_exec *ex, const bq_model *m, const float *input, int n,
                                   int bn_train) {
    bq_exec_forward_range(ex, m, input, n, 0, m->n_nodes - 1, bn_train);
}

/* Zero node gradients of [first, last] and (when params != 0) the parameter gradients. */
void bq_exec_zero_grad(bq_exec *ex, const bq_model *m, int first, int last, int params);
/* Backward through nodes last..first (reverse order); the caller has put dL/d(out) into
 * grad[last] (and any other node outputs it wants to seed). Parameter gradients accumulate
 * into param_grad when params != 0; input gradients of node `first`'s producers accumulate
 * into their grad buffers (so grad[block input] holds dL/d(block input) afterwards). */
void bq_exec_backward_range(bq_exec *ex, const bq_model *m, int first, int last, int params);

#endif
