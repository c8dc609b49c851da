/*
 * sensitivity.h — the BRECQ mixed-precision sensitivity of every search group (docs/flow.md §1):
 * for each candidate bit assignment of a group (a residual block, or a layer outside blocks), the
 * Fisher-weighted reconstruction error of the group output, measured JOINTLY inside the group
 * (groups independent: the block-diagonal Hessian assumption of the BRECQ paper).
 *
 * What one candidate costs (fixed choices, documented in docs/flow.md):
 *   - weights of the group's layers: per-channel Lp(2.4) range init + round-to-nearest at the
 *     candidate's weight bits (no AdaRound: the error ranks allocations, reconstruction comes after);
 *   - activation quantizers of the group (its input quantizer and the ones inside it): range init
 *     (Lp 2.4) at the candidate's bits on the FP network's activations of the calibration images;
 *     fixed quantizers (8-bit shortcut) at 8 bits; the group's OUTPUT quantizer is off (it belongs
 *     to the consumer group, whose input error accounts for it);
 *   - input of the group: the FP network's tensor, quantized by the group's input quantizer;
 *   - error: sens = 1/N sum_{n, elements} F[n, e] * (yhat - y)^2 on the group output node, y the FP
 *     output, where F = E_{c ~ p(c|x)} (dCE_c / dz)^2 is the exact (not empirical) Fisher diagonal
 *     of the FP network at that node: for each of the K classes one backward pass seeded with
 *     sqrt(p_c) (p - e_c), summed squares. Unnormalised on purpose: sens ~ 2 x the KL increase to
 *     second order, so values of different groups add up (the search's objective is their sum).
 * The block forward is the BRECQ engine's unit runner (reconstruct.h, bit-identical to fakequant).
 *
 * Cache: with opts.cache_path, results are stored in one text file keyed by a hash of the model,
 * the calibration images, the range-search norm, the measurement version and each group's
 * quantizers and candidate sets; it is rewritten atomically after every group (a killed pass
 * resumes at the first unmeasured group); a file with another key is ignored (and replaced).
 *
 * Example:
 *   bq_sens_opts so; bq_sens_opts_default(&so); so.cache_path = "run/sens.cache";
 *   bq_search_from_qmodel(&p, &q, &tab, clk, &space, err, n);
 *   bq_search_finalize(&p, err, n);
 *   if (bq_sensitivity_fill(&p, &fp, &train, &so, &st, err, n)) die(err);
 *   bq_search_exact(&p, &budget, NULL, 0, &r, err, n);
 */
#ifndef BQ_SENSITIVITY_H
#define BQ_SENSITIVITY_H

#include <stddef.h>
#include <stdint.h>

#include "nn/data.h"
#include "nn/graph.h"
#include "search/search.h"

#define BQ_SENS_VERSION 1   /* bump when the measurement changes: invalidates caches */

typedef struct {
    int n_images;            /* calibration images measured (default 64) */
    uint64_t calib_seed;     /* bq_calib_indices seed (default 0: the recipes' default) */
    float p;                 /* range-search norm (default BQ_RANGE_P = 2.4) */
    int first_last_8bit;     /* the qmodel rule the problem was built with (default 1) */
    const char *cache_path;  /* cache file, NULL = none */
    int progress;            /* progress lines on stderr (default 1) */
} bq_sens_opts;

typedef struct {
    double seconds;          /* wall time of the call */
    double fisher_seconds;   /* FP activations + Fisher passes */
    int measured;            /* candidates measured by this call */
    int cached;              /* candidates taken from the cache */
    uint64_t key;            /* the cache key */
} bq_sens_stats;

void bq_sens_opts_default(bq_sens_opts *o);

/* Fill the sensitivity of every candidate of p (finalized, built by bq_search_from_qmodel from a
 * qmodel of fp with first_last_8bit = o->first_last_8bit) whose sens is NaN. fp: the float model
 * (unfolded; folded internally); train: the training split (calibration images, never test).
 * Groups without free quantizers get 0. Returns 0, or -1 with a one-line message (model does not
 * match the problem, OOM, cache I/O). st may be NULL. */
int bq_sensitivity_fill(bq_search_problem *p, const bq_model *fp, const bq_dataset *train,
                        const bq_sens_opts *o, bq_sens_stats *st, char *err, size_t errlen);

/* The cache key of (p, fp, opts) without measuring anything (same as st->key). */
uint64_t bq_sensitivity_key(const bq_search_problem *p, const bq_model *fp, const bq_sens_opts *o,
                            const int *calib_idx);

#endif
