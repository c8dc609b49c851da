/*
 * dse.h — design-space exploration (`brecq dse DSE.yaml`, docs/dse.md): accelerator configs x
 * models x latency budgets. Each (config, model) UNIT builds the latency table of the model on the
 * config (hw_model costtab), runs the exact mixed-precision search under every budget (sw/search)
 * and estimates the config's resources (hw_model/resources.h).
 *
 * Resumable: a finished unit is one file <out>/points/<key>.pt, written atomically, keyed by a hash
 * of everything the unit depends on (config canonical text, model content, budgets in cycles,
 * candidate bit-widths, sensitivity settings, this code's version). A rerun skips units whose
 * file exists; the merge reads the files in expansion order and sorts rows by their keys, so the
 * outputs do not depend on the order the units ran in (nor on how many MPI ranks ran them).
 *
 * Flow of one sweep (serial; dse_mpi.c spreads step 3 over ranks):
 *   1. bq_dse_load       the YAML (one bq_ykey schema) -> bq_dse_spec
 *   2. bq_dse_prepare    expand the grid (invalid configs kept with their one-line reason), load the
 *                        models, measure each model's sensitivities once (cached in <out>/sens/),
 *                        resolve budgets to microseconds / cycles
 *   3. bq_dse_run_unit   for every pending unit (bq_dse_unit_done says which are finished)
 *   4. bq_dse_merge      read all point files -> dse.json, report.md, SVG plots in <out>/
 */
#ifndef BQ_DSE_H
#define BQ_DSE_H

#include <stddef.h>
#include <stdint.h>

#include "hwcfg.h"
#include "costtab.h"
#include "nn/graph.h"
#include "quant/qmodel.h"
#include "resources.h"
#include "search/search.h"
#include "search/search_model.h"

#define BQ_DSE_VERSION 1        /* bump when a unit's result changes: invalidates point files */
#define BQ_DSE_PATH 512
#define BQ_DSE_MAX_MODELS 8
#define BQ_DSE_MAX_BUDGETS 8
#define BQ_DSE_MAX_LIST 32      /* explicit config files */
#define BQ_DSE_MAX_VALUES 16    /* values of one grid axis */
#define BQ_DSE_MAX_CONFIGS 100000

/* Grid axes: each is one bq_hwcfg field (docs/dse.md lists them with their YAML key). */
enum {
    BQ_AX_DM, BQ_AX_DN, BQ_AX_DK, BQ_AX_RES_LANES, BQ_AX_WEIGHT_DEPTH, BQ_AX_ACT_DEPTH,
    BQ_AX_REGIONS, BQ_AX_REQUANT_DEPTH, BQ_AX_WIDTH_BITS, BQ_AX_READ_BPC, BQ_AX_WRITE_BPC,
    BQ_AX_READ_LATENCY, BQ_AX_WRITE_LATENCY, BQ_AX_CLOCK_MHZ, BQ_DSE_N_AXES
};

/* The YAML, as loaded (docs/dse.md "Schema"). */
typedef struct {
    char path[BQ_DSE_PATH];                   /* the YAML file itself */
    char name[64];
    char base[BQ_DSE_PATH];                   /* base accelerator config (a configs/hw file) */
    char out[BQ_DSE_PATH];                    /* run folder */
    char data[BQ_DSE_PATH];                   /* "" = default data set (calibration: train split) */
    int n_models;
    char models[BQ_DSE_MAX_MODELS][BQ_DSE_PATH];
    int n_budgets;
    char budgets[BQ_DSE_MAX_BUDGETS][32];     /* "400000cyc", "85us", "1.5ms", "0.5x" */
    int n_configs;
    char configs[BQ_DSE_MAX_LIST][BQ_DSE_PATH];   /* explicit configs, besides the grid */
    int n_axis[BQ_DSE_N_AXES];                /* 0: the axis keeps the base's value */
    int axis[BQ_DSE_N_AXES][BQ_DSE_MAX_VALUES];
    bq_search_space space;                    /* candidate bit-widths */
    int sens_images;                          /* calibration images of the sensitivity pass */
    int plots;                                /* 1: gnuplot SVGs (needs gnuplot) */
    char brecq_recipe[BQ_DSE_PATH];           /* "" = no accuracy phase (dse_acc.c) */
    int brecq_rows;                           /* BQ_DSE_ROWS_*: which rows get BRECQ + top-1 */
    int test_images;                          /* test images of the integer top-1 */
    int synth_rows;                           /* BQ_DSE_ROWS_*: whose configs yosys synthesises */
} bq_dse_spec;

/* Which rows a later phase (accuracy, synthesis) runs on: none, the best row per (model, budget),
 * the rows on the LUT or BRAM front, or every feasible row. */
enum { BQ_DSE_ROWS_NONE, BQ_DSE_ROWS_BEST, BQ_DSE_ROWS_FRONT, BQ_DSE_ROWS_ALL };

/* One accelerator config of the sweep. */
typedef struct {
    bq_hwcfg cfg;                             /* name "d<dm>x<dn>x<dk>-<hash8>" or the file's */
    int valid;                                /* 0: the RTL cannot be generated (why says which key) */
    char why[256];
    char key[17];                             /* hex of cfg.hash */
    bq_resources res;                         /* valid configs only */
} bq_dse_config;

/* One latency budget of one model, resolved. */
typedef struct {
    char expr[32];
    int is_cycles;                            /* "cyc": the same cycle count on every clock */
    double us;                                /* time budgets: microseconds */
    int64_t cycles;                           /* cycle budgets */
} bq_dse_budget;

/* A model with what every unit of it shares. */
typedef struct {
    char path[BQ_DSE_PATH];
    char label[64];                           /* file name without folder and extension */
    bq_model fp;                              /* the float model as loaded */
    bq_qmodel q;                              /* W8A8 qmodel: quantizer placement for the search */
    bq_hw_net net;                            /* the accelerator's view of q */
    int loaded;                               /* fp, q, net held (bq_dse_free frees them) */
    uint64_t hash;                            /* bq_model_hash */
    uint64_t sens_hash;                       /* hash of sens[]: keys the units */
    double *sens;                             /* [n_cands] measured once, in problem order */
    int n_cands;
    bq_dse_budget budgets[BQ_DSE_MAX_BUDGETS];
    int64_t base_w8a8;                        /* W8A8 cycles on the base config (for "x") */
} bq_dse_model;

/* The expanded sweep. Units are (model m, valid config c), index u = m * n_cfg + c. */
typedef struct {
    bq_dse_spec spec;
    bq_hwcfg base;
    int n_cfg, n_valid;
    bq_dse_config *cfgs;
    int n_models;
    bq_dse_model models[BQ_DSE_MAX_MODELS];
    int n_budgets;
    int n_units;                              /* n_models * n_cfg (invalid configs included) */
} bq_dse;

/* ---- spec and grid (dse_spec.c) ---- */
void bq_dse_spec_default(bq_dse_spec *s);
/* Load DSE.yaml over the defaults. 0, or -1 with `file:line:col: what; fix`. */
int bq_dse_load(bq_dse_spec *s, const char *path, char *err, size_t errlen);
/* Number of grid configs (product of the axes' sizes) plus explicit configs. */
long bq_dse_grid_size(const bq_dse_spec *s);
/* Expand the grid over base (axes in enum order, the last fastest), then the explicit configs.
 * cfgs[n] malloc'ed; invalid configs are kept with valid = 0 and the reason. -1 + err when the
 * grid is too large, a listed file does not load, or NO config is valid (the message gives the
 * first reason). */
int bq_dse_expand(const bq_dse_spec *s, const bq_hwcfg *base, bq_dse_config **cfgs, int *n,
                  char *err, size_t errlen);
/* Key names of the axes ("dm", "clock_mhz", ...). */
const char *bq_dse_axis_name(int ax);

/* ---- the sweep (dse_run.c) ---- */
/* Expand, load models, measure sensitivities (progress on stderr), resolve budgets. Creates the
 * run folder. 0 or -1 + err. bq_dse_free after either. */
int bq_dse_prepare(bq_dse *d, const bq_dse_spec *s, char *err, size_t errlen);
void bq_dse_free(bq_dse *d);
/* Point key of unit u (hex, 16 digits + NUL) and its file path. */
void bq_dse_unit_key(const bq_dse *d, int u, char key[17]);
void bq_dse_unit_path(const bq_dse *d, int u, char *path, size_t n);
/* 1 when unit u needs no run: an invalid config, or its point file exists. */
int bq_dse_unit_done(const bq_dse *d, int u);
/* Run unit u and write its point file. *seconds = its wall time. A config the scheduler rejects
 * is a finished point with status "error" (0 returned); -1 only for I/O and OOM. */
int bq_dse_run_unit(const bq_dse *d, int u, double *seconds, char *err, size_t errlen);

/* Run every pending unit in order (progress on stderr), then bq_dse_merge. 0 or -1 + err. */
int bq_dse_run_serial(bq_dse *d, char *err, size_t errlen);

/* ---- results (dse_merge.c) ---- */
/* One row of the merged table: (model, budget, config). */
typedef struct {
    int model, budget, config;
    uint64_t cfg_hash;                        /* the config's key: rows sort by it */
    int status;                               /* 0 ok, 1 scheduler error (no table) */
    int feasible;                             /* the budget can be met on this config */
    double objective;                         /* search objective (predicted loss; lower better) */
    int64_t cycles, size_bits, budget_cycles, min_cycles, w8a8_cycles;
    double us, min_us;
    char alloc[17];                           /* hash of the bit allocation ("" if infeasible) */
    int front_lut, front_bram;                /* on the (objective, us, LUT|BRAM) Pareto front */
    double seconds;                           /* the unit's wall time (timing.json only) */
    double top1;                              /* integer top-1 % after BRECQ; < 0: not measured */
} bq_dse_row;

/* Read every point file (all units must be done) into rows sorted by (model, budget, config key)
 * with their fronts marked; *rows malloc'ed (top1 = -1). 0 or -1 + err. */
int bq_dse_collect(const bq_dse *d, bq_dse_row **rows, int *n, char *err, size_t errlen);
/* Collect, attach the accuracy phase's results (all its jobs must be done) and write dse.json,
 * report.md, timing.json and the plots in spec.out. 0, or -1 + err; a budget no valid config meets
 * for a model is -1 after the outputs are written (the message names the budget and the fastest
 * config). */
int bq_dse_merge(const bq_dse *d, char *err, size_t errlen);
/* Rows selected by which (BQ_DSE_ROWS_*): sel[i] = 1. */
void bq_dse_select_rows(const bq_dse *d, const bq_dse_row *rows, int n, int which, int *sel);

/* ---- accuracy phase (dse_acc.c) ---- */
/* One job: BRECQ (spec.brecq_recipe, the allocation as --bits) + integer top-1 on test_images
 * test images of one distinct (model, allocation). Files <out>/brecq/<model>-<alloc>-<key>.bqq
 * and .top1, key = hash of the recipe's bytes, test_images and the data set. */
typedef struct {
    int model;
    char alloc[17];
} bq_dse_acc_job;
typedef struct {
    char key[17];
    int n;
    bq_dse_acc_job *jobs;                     /* sorted by (model, alloc): the same on every rank */
} bq_dse_acc;
/* The jobs of the chosen rows (none when spec.brecq_recipe is ""). 0 or -1 + err. */
int bq_dse_acc_plan(const bq_dse *d, const bq_dse_row *rows, int n, bq_dse_acc *a, char *err,
                    size_t errlen);
void bq_dse_acc_free(bq_dse_acc *a);
/* 1 when job j's .top1 file exists (it is never recomputed). */
int bq_dse_acc_done(const bq_dse *d, const bq_dse_acc *a, int j);
/* Run job j (brecq quantize, then brecq eval --int, as child processes of this binary; their
 * output goes to a .log beside). *seconds = wall time. 0 or -1 + err naming the log. */
int bq_dse_acc_run(const bq_dse *d, const bq_dse_acc *a, int j, double *seconds, char *err,
                   size_t errlen);
/* Set rows[i].top1 from the jobs' .top1 files (rows of a job's (model, alloc)). 0 or -1 + err. */
int bq_dse_acc_attach(const bq_dse *d, const bq_dse_acc *a, bq_dse_row *rows, int n, char *err,
                      size_t errlen);
/* Serial: collect, plan, run every pending job (progress on stderr). 0 or -1 + err. */
int bq_dse_acc_serial(const bq_dse *d, char *err, size_t errlen);

/* ---- synthesis phase (dse_synth.c) ---- */
/* One job per distinct config of the rows chosen by spec.synth_rows: the config written as YAML
 * (bq_hwcfg_yaml), the synthesis script (hw/dse_synth.sh, or $BQ_DSE_SYNTH_SCRIPT) run on it,
 * its LUT / FF / BRAM18 / DSP read back. Files <out>/synth/<config key>-<key>.{yaml,syn,log},
 * key = hash of the script's bytes (a stand-in and the real script never share results). */
typedef struct {
    char script[BQ_DSE_PATH];
    char key[17];
    int n;
    int *cfg;                                 /* config indices, ascending */
    bq_resources *res;                        /* measured, after bq_dse_synth_attach */
} bq_dse_synth;
int bq_dse_synth_plan(const bq_dse *d, const bq_dse_row *rows, int n, bq_dse_synth *sy,
                      char *err, size_t errlen);
void bq_dse_synth_free(bq_dse_synth *sy);
int bq_dse_synth_done(const bq_dse *d, const bq_dse_synth *sy, int j);
int bq_dse_synth_run(const bq_dse *d, const bq_dse_synth *sy, int j, double *seconds, char *err,
                     size_t errlen);
/* Read every job's result into sy->res. 0 or -1 + err. */
int bq_dse_synth_attach(const bq_dse *d, bq_dse_synth *sy, char *err, size_t errlen);
/* Measured resources of config c, or NULL when it was not synthesised. */
const bq_resources *bq_dse_synth_of(const bq_dse_synth *sy, int c);
int bq_dse_synth_serial(const bq_dse *d, char *err, size_t errlen);

/* ---- Pareto (dse_pareto.c) ---- */
/* front[i] = 1 when point i (objectives x[i*k .. i*k+k), all minimised) is not dominated by any
 * other point (<= in every objective, < in one); duplicates are all on the front. O(n^2 k). */
void bq_dse_pareto(int n, int k, const double *x, int *front);

/* ---- MPI (dse_mpi.c) ---- */
/* 1 when this process was launched by mpirun / srun (environment), so MPI must be used. */
int bq_dse_mpi_launched(void);
/* The sweep over MPI ranks (MPI_Init .. MPI_Finalize inside): rank 0 prepares first (measuring
 * the sensitivities into the cache the others then read), hands out units on request (dynamic
 * load balancing) and merges; ranks >= 1 run the units. One rank: the serial run. *is_root = 1 on
 * rank 0. 0, or -1 with err on rank 0 (other ranks return -1 with err empty). */
int bq_dse_mpi_run(bq_dse *d, const bq_dse_spec *s, int *is_root, char *err, size_t errlen);

#endif
