/*
 * exec.h — the one executor: runs a bq_model forward (and backward) on a batch.
 *
 * Two shapes of the same executor:
 *   - whole model (bq_exec_init): one activation tensor per node, one gradient tensor per node but
 *     the network input (train mode), BN statistics, max-pool indices, conv scratch, and parameter
 *     gradients laid out like the model's parameter arena (training, Fisher, sensitivity);
 *   - node range (bq_exec_init_range): buffers only for nodes [first, last] and the activations of
 *     their producers outside the range (filled by the caller). In train mode, gradients exist only
 *     where something learned lies at or upstream of a node (bq_exec_plan_grads), and weight
 *     gradients only for the layers marked learned, in buffers of their own (BRECQ's block
 *     reconstruction runs each unit on one of these, reconstruct.c).
 * Nothing is allocated after init (and bq_exec_plan_grads, for a range).
 *
 * Hooks let the quantization code change what a node computes without a second executor:
 *   - weight_override[i] / bias_override[i] (NULL by default): use these weights / biases
 *     instead of the model's for node i (conv, linear);
 *   - post_hook: called after node i's forward with its output (e.g. a fake-quant of the
 *     activations), and grad_hook before node i's backward with its output gradient (the
 *     straight-through estimator of that fake-quant; only nodes that have a gradient).
 *
 * Example (evaluation):
 *   bq_exec ex; bq_exec_init(&ex, &model, 256, 0);
 *   bq_exec_forward(&ex, &model, images, n, 0);
 *   const float *logits = ex.act[bq_model_output(&model)];
 *   bq_exec_free(&ex);
 * Example (learn the weights of layer node L inside nodes [lo, hi], whose input is node p):
 *   bq_exec_init_range(&ex, &m, lo, hi, B, 1);
 *   learn_w[L] = 1;  bq_exec_plan_grads(&ex, &m, learn_w, NULL);
 *   fill ex.act[p];  bq_exec_forward_range(&ex, &m, NULL, B, lo, hi, 0);
 *   bq_exec_zero_grad(&ex, &m, lo, hi, 1);  put dL/d(out) into ex.grad[hi];
 *   bq_exec_backward_range(&ex, &m, lo, hi, 1);  -> ex.weight_grad[L]
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
    int first, last;             /* the nodes it was built for ([0, n_nodes - 1]: whole model) */
    int n;                       /* batch size of the last forward */
    float **act;                 /* [node] (max_batch, c, h, w); NULL outside the range and its
                                    producers */
    float **grad;                /* [node] same shape; NULL where no gradient is computed (eval
                                    mode, the network input, a range's producers and the nodes
                                    bq_exec_plan_grads leaves out) */
    float **bn_mean, **bn_rstd;  /* [node] (c) for BN nodes in train mode */
    int32_t **argmax;            /* [node] for max-pool nodes */
    float *scratch;              /* conv scratch, sized for the largest conv */
    size_t scratch_floats;
    float *param_grad;           /* whole model, train: the arena's layout; NULL otherwise */
    float **weight_grad;         /* [node] range: dL/dW of the learned layers, else NULL */
    const float **weight_override;  /* [node] */
    const float **bias_override;    /* [node] */
    bq_node_hook post_hook, grad_hook;
    void *hook_ctx;
    float bn_momentum;           /* running-statistics momentum in train mode (0.1) */
    bq_conv_impl conv_impl;      /* from $BQ_CONV at init (ops.h); may be changed any time */
    struct bq_dnnl_ctx *dnnl;    /* BQ_CONV_DNNL's primitive cache (conv_dnnl.h), owned */
};

/* The batch an inference pass should use: `want`, or fewer so that the activations of every node
 * (what bq_exec_init allocates per image) stay within budget_bytes; at least 1. A 28x28 model keeps
 * its batch; a 224x224 MobileNetV2 (~50 MB of activations per image) gets ~20 for 1 GiB. */
#define BQ_EVAL_ACT_BYTES ((size_t)1 << 30)
int  bq_exec_batch_for(const bq_model *m, int want, size_t budget_bytes);

/* Allocate buffers for a model and batch size. train != 0 adds gradients and BN statistics.
 * Returns 0 or -1 on OOM. */
int  bq_exec_init(bq_exec *ex, const bq_model *m, int max_batch, int train);
/* Allocate the activations of nodes [first, last] and of their producers outside the range (the
 * caller fills those before a forward), conv scratch for the range, BN statistics and max-pool
 * indices; no gradients yet (bq_exec_plan_grads). Returns 0 or -1 on OOM. */
int  bq_exec_init_range(bq_exec *ex, const bq_model *m, int first, int last, int max_batch,
                        int train);
/* Range executor in train mode: what is learned. learn_w[i] != 0: layer i's weight gradient is
 * wanted (weight_grad[i] is allocated); learn_out[i] != 0: node i's output gradient is wanted for
 * its own sake (e.g. by grad_hook for a learned activation step). A node of the range gets a
 * gradient buffer when it or an in-range producer upstream of it is learned; backward skips the
 * others. Either array may be NULL (nothing). Returns 0 or -1 on OOM. */
int  bq_exec_plan_grads(bq_exec *ex, const bq_model *m, const unsigned char *learn_w,
                        const unsigned char *learn_out);
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

/* Zero the node gradients of [first, last] and of their producers, and (when params != 0) the
 * parameter gradients (the arena, or a range's weight_grad buffers). */
void bq_exec_zero_grad(bq_exec *ex, const bq_model *m, int first, int last, int params);
/* Backward through nodes last..first (reverse order); the caller has put dL/d(out) into
 * grad[last] (and any other node outputs it wants to seed). Parameter gradients accumulate
 * into param_grad / weight_grad when params != 0; input gradients of node `first`'s producers
 * accumulate into their grad buffers (so grad[block input] holds dL/d(block input) afterwards). */
void bq_exec_backward_range(bq_exec *ex, const bq_model *m, int first, int last, int params);

/* Conv/linear GEMM flops of one forward + backward of nodes [first, last] at batch n: the
 * forward of every layer, dW where a weight gradient is kept, dX where the layer's input has a
 * gradient (what backward computes). */
double bq_exec_gemm_flops(const bq_exec *ex, const bq_model *m, int first, int last, int n);

/* Build (in a context of its own, then freed) every oneDNN conv primitive a forward and backward
 * of nodes [first, last] at batch n may ask for, FP32 or bf16: a shape oneDNN refuses shows
 * here, before any work, instead of mid-run. 0, or -1 with one line naming the layer. */
int  bq_exec_dnnl_preflight(const bq_model *m, int first, int last, int n, int bf16, char *err,
                            size_t errlen);

#endif
