/*
 * reconstruct.h — the BRECQ engine: layer-wise AdaRound, block reconstruction (stage A: AdaRound
 * weights, stage B: activation steps) with an MSE or Fisher-diagonal loss, and BRECQ + QDrop (one
 * joint stage). docs/brecq.md describes the method and every deviation from the reference.
 *
 * Units. A unit is a node range of the BN-folded model reconstructed as a whole, with exactly one
 * input tensor coming from outside it:
 *   - block methods (brecq, brecq_qdrop): every residual block (graph.h blocks), plus every conv /
 *     linear outside blocks (with the ReLU/ReLU6 that alone consumes it), except the first layer,
 *     which keeps round-to-nearest 8-bit weights;
 *   - adaround (layer-wise): every conv / linear except the first, with its own activation; the
 *     branch-ending conv is matched before the residual add (its own output).
 * The fake-quant graph executed inside a unit is docs/numerics.md exactly: dequantized weights
 * (soft AdaRound weights while learning), quantized biases b_q * s_w * s_a, activation quantizers
 * where qmodel.h places them (round half up, the branch-ending conv unquantized, the add in float
 * before the block-output quantizer's single rounding, the 8-bit shortcut quantizer on the
 * downsample conv, GAP rounding onto its input's grid).
 *
 * Data. Calibration = recipe.calib training images chosen by bq_calib_indices(calib_seed), never
 * the test set. For each unit its input (from the already quantized preceding network, or the FP
 * network, per stage) and its FP target output are computed once for all calibration images and
 * cached; the iterations draw batches of recipe.batch from the cache (seeded per unit).
 *
 * Checkpoints and resume. With run_dir != NULL, after every finished unit the mutable state (all
 * weight codes and activation quantizers) is written atomically to run_dir/state.ckpt together
 * with the stage and unit reached and a key (hash of model, recipe, calibration, bits). A later
 * call with the same run_dir and key resumes at the first unfinished unit; since every unit's
 * random stream is seeded from (seed, stage, unit) and its caches are recomputed from the saved
 * state, the result is byte-identical to an uninterrupted run. A different key starts afresh.
 *
 * Execution. Each unit runs on the one executor (nn/exec.h) in its node-range form: buffers for
 * the unit's nodes only, gradients only where something learned lies upstream, the fake-quant
 * (soft weights, effective biases, activation quantizers, QDrop masks) in its overrides and hooks.
 *
 * Progress on stderr: stage, unit i/N, iteration, loss terms, beta, ETA.
 *
 * Example (what `brecq quantize` does for methods other than rtn):
 *   bq_qmodel q;  bq_qmodel_init(&q, &fp, &opts, err, n);  bq_qmodel_init_weights(&q, r.p);
 *   if (bq_reconstruct(&q, &fp, &r, &train, "runs/x", err, sizeof err)) die(err);
 *   bq_qmodel_save(&q, "x.bqq", err, sizeof err);
 */
#ifndef BQ_RECONSTRUCT_H
#define BQ_RECONSTRUCT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/data.h"
#include "nn/graph.h"
#include "quant/dp_reduce.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"

/* Run the recipe's method on q. q: initialised by bq_qmodel_init (BN folded, quantizers placed,
 * bits applied) with weight ranges and RTN codes set (bq_qmodel_init_weights); activation
 * quantizers may be uninitialised (they are initialised here on calibration data). fp: the float
 * model, folded or not (only used to check it matches q; q->model holds the folded weights).
 * train: the training split (calibration images are drawn from it). run_dir: directory for
 * checkpoints (created), or NULL for none. Returns 0 with q's codes and activation scales final,
 * or -1 with a one-line err (bad recipe values, calibration smaller than the batch, OOM, I/O). */
int bq_reconstruct(bq_qmodel *q, const bq_model *fp, const bq_recipe *r, const bq_dataset *train,
                   const char *run_dir, char *err, size_t errlen);

/* ---- lower-level pieces, exposed for tests and the benchmark ---- */

typedef struct {
    double seconds;          /* wall time of the whole call */
    double prior_seconds;    /* wall time of earlier runs of the same run_dir up to their last
                              * checkpoint (a killed run resumed here; run_dir/elapsed_s) */
    double prior_rss_mb;     /* the largest peak RSS (MB) of those runs (0: none) */
    int prior_rss_unknown;   /* 1: one of them ran before the RSS was recorded in elapsed_s, so
                              * prior_rss_mb is a lower bound */
    double stage_seconds[3]; /* stage A (or joint), stage B, caches+fisher */
    long iterations;         /* reconstruction iterations run */
    double last_loss;        /* reconstruction loss of the last iteration of the last unit */
} bq_recon_stats;

/* As bq_reconstruct, with stats (may be NULL) and a limit on the units run (max_units <= 0: all;
 * a run stopped by the limit returns 1 after checkpointing — a simulated kill for tests). */
int bq_reconstruct_ex(bq_qmodel *q, const bq_model *fp, const bq_recipe *r,
                      const bq_dataset *train, const char *run_dir, int max_units,
                      bq_recon_stats *stats, char *err, size_t errlen);

/* As bq_reconstruct_ex, data-parallel over the ranks of dp (docs/mpi_recon.md; NULL or one rank:
 * this process computes every shard). Every rank calls it with the same inputs and ends with the
 * same q, byte for byte, whatever dp->size; only rank 0 writes checkpoints into run_dir (the other
 * ranks read it to resume, so it must be on a file system every rank sees). The recipe's dp_shards
 * must be a multiple of dp->size. A failing exchange returns -1 on the rank that saw it; the caller
 * aborts the job (the other ranks wait in the exchange). */
int bq_reconstruct_dp(bq_qmodel *q, const bq_model *fp, const bq_recipe *r,
                      const bq_dataset *train, const char *run_dir, int max_units,
                      bq_recon_stats *stats, const bq_dp_comm *dp, char *err, size_t errlen);

/* Number of units the method splits q into (for progress and benchmarks). */
int bq_recon_num_units(const bq_qmodel *q, bq_method method);

/* The forward of unit u (block units) with the current hard weights, as the iterations run it (a
 * range executor over the unit's nodes, nn/exec.h, with the unit's fake-quant hooks): in (n, size
 * of the unit input) -> out (n, size of the unit output), activation quantizers on or off. Exposed
 * so tests can check it against the shared fake-quant (fakequant.h): both implement numerics.md.
 * Returns 0 or -1 with err. */
int bq_recon_unit_forward(const bq_qmodel *q, int u, int act_on, const float *in, int n, float *out,
                          int *in_node, int *out_node, char *err, size_t errlen);

/* Benchmark of the production iteration loop (run_unit) on unit u of q (block units) at batch
 * `batch`, with random caches of 8 batches and Fisher weights 1: `iters` timed iterations after
 * 3 warm-up ones, stage 0 = A (AdaRound weights, activations off, regulariser on) or 1 = B
 * (learned activation steps; q's activation quantizers must be set). Fills res (ms per iteration
 * split into phases, GEMM flops of one iteration) and returns res->ms, or -1 with err. Changes q
 * (codes or steps) like a real unit. */
#define BQ_BENCH_PHASES 6
typedef struct {
    double ms;                          /* per iteration */
    double phase_ms[BQ_BENCH_PHASES];   /* batch gather, soft weights + biases, forward,
                                           loss (+ zeroing grads), backward, updates (AdaRound
                                           grad + regulariser + Adam, LSQ) */
    double flops;                       /* conv/linear GEMM flops of one iteration */
    int warmup;
} bq_recon_bench;
double bq_recon_bench_unit(bq_qmodel *q, int u, int batch, int iters, int stage,
                           bq_recon_bench *res, char *err, size_t errlen);
/* The same with the recipe's `compute` (BQ_COMPUTE_BF16: the unit's convs on oneDNN bf16;
 * FP32: $BQ_CONV's implementation). */
double bq_recon_bench_unit_ex(bq_qmodel *q, int u, int batch, int iters, int stage,
                              bq_compute compute, bq_recon_bench *res, char *err, size_t errlen);

#endif
