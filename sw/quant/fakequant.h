/*
 * fakequant.h — the fake-quant forward of a bq_qmodel: float arithmetic on the integer grids of
 * docs/numerics.md, built on bq_exec (no second executor).
 *
 * What it computes (numerics §1-§5):
 *   - every conv/linear uses dequantized weights (q_w - z_w) * s_w   (ex->weight_override)
 *     and the quantized bias b_q * s_w * s_a, b_q = round_half_even(b / (s_w s_a)), when its input
 *     quantizer is on (fq->net holds these biases; fq->net is a private copy of q->model);
 *   - at every node with a quantizer (qmodel.node_aq) the post-hook replaces the output by
 *     (clamp(floor(x/s + 0.5) + z, 0, 2^b-1) - z) * s; a branch-ending conv is NOT quantized, the
 *     ADD and its activation run in float and the block-output quantizer rounds once (the integer
 *     output stage adds the shortcut before its one rounding);
 *   - a GAP output is rounded half up onto its input's grid (integer mean, numerics §5);
 *   - the classifier's output (logits) is not quantized.
 * It differs from the integer path (intref.h) only by float rounding (sgemm accumulation order,
 * the float scale products) near rounding ties: numerics.md §7 gives the measured LSB differences.
 *
 * Reuse for reconstruction (the BRECQ engine):
 *   bq_fq fq; bq_fq_init(&fq, &q, 32, 1);           // save_pre = 1 keeps pre-quant inputs for STE
 *   bq_exec ex; bq_exec_init(&ex, &fq.net, 32, 1);  // the executor runs on fq.net (quantized biases)
 *   bq_fq_bind(&fq, &ex);                           // weight_override + post/grad hooks
 *   - soft weights (AdaRound): point ex.weight_override[node] at your own buffer (or write
 *     fq.wdq_node[node]); bq_fq_sync() rewrites fq.wdq from the integer codes.
 *   - learnable steps: write q->aq[i].scale, then bq_fq_sync_bias() (biases depend on s_a).
 *     bq_fq_grad_hook applies the straight-through estimator: d x_hat/dx = 1 inside the clamp
 *     range, 0 outside; when fq.dscale != NULL it ADDS dL/ds of each quantizer into dscale[aq]
 *     (LSQ: round(x/s) - x/s inside, (lo_code - z) or (hi_code - z) when clipped), unscaled.
 *   - turn activation quantization off/on: fq.act_on (stage A: 0). Per quantizer: fq.aq_on[i].
 *   - QDrop: set fq.user_post to your hook; bq_fq_post_hook calls it after quantizing a node, with
 *     fq.pre[node] (the pre-quant values, save_pre = 1) available to mix x_q and x.
 *   - activation range init: quantizers with initialized == 0 are initialised on the first batch
 *     that reaches them (in network order, so each sees already-quantized inputs), by the p-norm
 *     search with fq.init_p. bq_fq_calibrate() does that pass.
 */
#ifndef BQ_FAKEQUANT_H
#define BQ_FAKEQUANT_H

#include "nn/data.h"
#include "nn/exec.h"
#include "quant/qmodel.h"

typedef struct {
    bq_qmodel *q;          /* quantizers and codes (not owned) */
    bq_model net;          /* copy of q->model with quantized biases (owned) */
    float *wdq;            /* dequantized weights of all layers (owned, one allocation) */
    float **wdq_node;      /* [n_nodes] pointer into wdq for conv/linear nodes, else NULL */
    int max_batch;
    int act_on;            /* 1: apply activation quantizers (default 1) */
    int weight_on;         /* 1: quantized weights and biases (default 1); 0: float ones */
    unsigned char *aq_on;  /* [n_aq] per-quantizer switch (default 1) */
    int save_pre;          /* keep pre-quant outputs in pre[node] */
    float **pre;           /* [n_nodes] (max_batch, c, h, w) for quantized nodes when save_pre */
    double *dscale;        /* [n_aq] accumulated dL/ds (NULL: not computed) */
    float init_p;          /* range-init norm (BQ_RANGE_P) */
    bq_node_hook user_post;/* optional: called after quantizing a node (QDrop mixing) */
    void *user_ctx;
    char err[256];         /* set when a range init failed (e.g. NaN input) */
} bq_fq;

/* Allocate for batches of up to max_batch; save_pre != 0 allocates pre[] (training). Calls
 * bq_fq_sync. Returns 0 or -1 (OOM). */
int  bq_fq_init(bq_fq *fq, bq_qmodel *q, int max_batch, int save_pre);
void bq_fq_free(bq_fq *fq);
/* Recompute dequantized weights from the codes and the quantized biases from the scales. */
void bq_fq_sync(bq_fq *fq);
/* Only the biases (after changing activation or weight scales). */
void bq_fq_sync_bias(bq_fq *fq);
/* Point ex (initialised on fq->net) at the dequantized weights and install the hooks. */
void bq_fq_bind(bq_fq *fq, bq_exec *ex);

/* The hooks (ctx = bq_fq*). post: quantize node's output in place (saving pre when asked);
 * grad: straight-through estimator of that quantizer, plus dscale accumulation. */
void bq_fq_post_hook(void *ctx, bq_exec *ex, int node, float *data, int n);
void bq_fq_grad_hook(void *ctx, bq_exec *ex, int node, float *dout, int n);

/* Initialise every quantizer that is not yet initialised, from the first `n` images of x
 * (n, in_c, in_h, in_w), n <= ex's max_batch: one forward with init-on-first-use. Returns 0 or -1
 * with fq->err. */
int  bq_fq_calibrate(bq_fq *fq, bq_exec *ex, const float *x, int n);

/* Codes of a quantized node's output as the fake-quant path holds them:
 * out[i] = rint(x_hat[i] / s) + z, for count values (GAP and pools use their input's grid). */
void bq_fq_codes(int32_t *out, const bq_fq *fq, int node, const float *x_hat, size_t count);

/* Top-1 of the fake-quant model on a dataset (batch images at a time, normalised with the
 * model's in_mean/in_std). preds (d->n) may be NULL. Returns -1.0 on OOM. */
double bq_fq_evaluate(bq_qmodel *q, const bq_dataset *d, int batch, int *preds);

#endif
