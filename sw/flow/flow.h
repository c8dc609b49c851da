/*
 * flow.h — `brecq run FLOW.yaml`: the whole mixed-precision flow in one resumable command
 * (docs/flow.md): sensitivity -> search (per budget) -> BRECQ reconstruction of the searched
 * allocation and of the best uniform allocation that fits -> integer evaluation on the 10k test
 * set (paired McNemar) -> exact latency table -> export package (+ check) -> cosim (its simulator
 * must be built, checked before any work; `cosim_images: 0` turns it off) -> RTN front -> report
 * folder (report.md, one JSON per step, gnuplot SVG plots).
 *
 * Resume: every step writes its outputs atomically and then a marker `<out>/steps/<step>.key`
 * holding a key (hash of everything the step depends on). A rerun skips a step whose marker
 * matches and whose outputs exist; a changed input changes the key and the step reruns. The
 * reconstruction additionally checkpoints per unit (reconstruct.h run_dir), and the sensitivity
 * pass per group (sensitivity.h cache), so a kill loses at most one unit / one group.
 *
 * FLOW.yaml (flat mapping; every key in kFlowKeys of flow.c; unknown keys are errors
 * `file:line:col: ...`):
 *   name: fres20-edge
 *   model: configs/models/fres20.bqm     # float model (.bqm / .onnx)
 *   hw: configs/hw/edge.yaml
 *   out: runs/demo                       # report folder
 *   recipe: configs/quant/brecq_w2a4.yaml   # method + hyper-parameters (its wbits/abits unused)
 *   budgets: [W2A3]                      # W<w>A<a> = latency of that uniform setting,
 *                                        # mid(W2A2,W2A3), 400000cyc, 85us, 0.5x
 *   iters: 2000                          # overrides of the recipe (optional)
 *
 * Example:
 *   bq_flow_cfg c; bq_flow_result r;
 *   if (bq_flow_load(&c, "configs/flows/default.yaml", err, n)) die(err);
 *   if (bq_flow_run(&c, &r, err, n)) die(err);
 */
#ifndef BQ_FLOW_H
#define BQ_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "search/mcnemar.h"
#include "search/search_model.h"

#define BQ_FLOW_MAX_BUDGETS 8
#define BQ_FLOW_PATH 512

typedef struct {
    char path[BQ_FLOW_PATH];           /* the YAML file itself */
    char name[64];
    char model[BQ_FLOW_PATH], hw[BQ_FLOW_PATH], out[BQ_FLOW_PATH], recipe[BQ_FLOW_PATH];
    char data[BQ_FLOW_PATH];           /* "" = default dataset directory */
    char sens_cache[BQ_FLOW_PATH];     /* "" = <out>/sensitivity.cache */
    int n_budgets;
    char budgets[BQ_FLOW_MAX_BUDGETS][64];
    int n_pareto;                      /* extra budgets: searched, evaluated with RTN (Pareto) */
    char pareto[BQ_FLOW_MAX_BUDGETS][64];
    bq_search_space space;             /* wbits, abits candidate sets */
    int iters, act_iters, qdrop_iters, calib;   /* recipe overrides, -1 = the recipe's */
    int sens_images;                   /* sensitivity calibration images */
    int uniform_baseline;              /* 1: reconstruct the best uniform allocation that fits */
    int rtn_pareto;                    /* 1: RTN front (mixed at all budgets + every uniform) */
    int rtn_images;                    /* test images of the RTN front (<= 10000) */
    int export_tests;                  /* test images in the export package */
    int cosim_images;                  /* images for cosim (0: off; else the simulator must exist) */
    int seed;                          /* GA seed */
} bq_flow_cfg;

typedef struct {
    int n_rows;
    bq_mp_row rows[BQ_FLOW_MAX_BUDGETS];   /* mixed vs best uniform per budget */
    double seconds;
} bq_flow_result;

/* Defaults of every key (see kFlowKeys in flow.c). */
void bq_flow_default(bq_flow_cfg *c);
/* Load FLOW.yaml over the defaults. 0, or -1 with `file:line:col: what; fix`. */
int bq_flow_load(bq_flow_cfg *c, const char *path, char *err, size_t errlen);
/* Run (or resume) the flow. Progress on stderr, report in c->out. 0 or -1 + message. */
int bq_flow_run(const bq_flow_cfg *c, bq_flow_result *res, char *err, size_t errlen);

/* Resolve a budget expression to cycles on problem p: "W3A3" (uniform latency), "mid(W2A2,W2A3)"
 * (floor of the mean of two uniform latencies), or anything bq_budget_parse takes. 0 or -1. */
int bq_flow_budget(const bq_search_problem *p, const char *expr, int64_t *cycles, char *err,
                   size_t errlen);

#endif
