/*
 * dse_spec.c — the DSE.yaml schema (one bq_ykey table) and the grid expansion. See dse.h.
 */
#include "core/errmsg.h"
#include "core/fileio.h"
#include "core/yamldoc.h"
#include "dse/dse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each axis: its YAML key under `grid:`, the bq_hwcfg field it sets, its type. */
typedef struct {
    const char *key;
    size_t off;
    int is_double;
    const char *what;
} axis_def;
static const axis_def kAxes[BQ_DSE_N_AXES] = {
    [BQ_AX_DM] = {"dm", offsetof(bq_hwcfg, dm), 0, "array rows (array.dm)"},
    [BQ_AX_DN] = {"dn", offsetof(bq_hwcfg, dn), 0, "array columns (array.dn)"},
    [BQ_AX_DK] = {"dk", offsetof(bq_hwcfg, dk), 0, "bits per bit-plane word (array.dk)"},
    [BQ_AX_RES_LANES] = {"res_lanes", offsetof(bq_hwcfg, res_lanes), 0, "output lanes"},
    [BQ_AX_WEIGHT_DEPTH] = {"weight_depth", offsetof(bq_hwcfg, weight_depth), 0, "words/bank"},
    [BQ_AX_ACT_DEPTH] = {"act_depth", offsetof(bq_hwcfg, act_depth), 0, "words/bank"},
    [BQ_AX_REGIONS] = {"regions", offsetof(bq_hwcfg, regions), 0, "regions per buffer"},
    [BQ_AX_REQUANT_DEPTH] = {"requant_depth", offsetof(bq_hwcfg, requant_depth), 0, "channels"},
    [BQ_AX_WIDTH_BITS] = {"width_bits", offsetof(bq_hwcfg, mem_width_bits), 0, "port bits"},
    [BQ_AX_READ_BPC] = {"read_bytes_per_cycle", offsetof(bq_hwcfg, read_bytes_per_cycle), 0,
                        "bytes/cycle"},
    [BQ_AX_WRITE_BPC] = {"write_bytes_per_cycle", offsetof(bq_hwcfg, write_bytes_per_cycle), 0,
                         "bytes/cycle"},
    [BQ_AX_READ_LATENCY] = {"read_latency", offsetof(bq_hwcfg, read_latency), 0, "cycles"},
    [BQ_AX_WRITE_LATENCY] = {"write_latency", offsetof(bq_hwcfg, write_latency), 0, "cycles"},
    [BQ_AX_CLOCK_MHZ] = {"clock_mhz", offsetof(bq_hwcfg, clock_mhz), 1, "clock, whole MHz"},
};

const char *bq_dse_axis_name(int ax) { return ax >= 0 && ax < BQ_DSE_N_AXES ? kAxes[ax].key : "?"; }

/* A grid axis: a list of whole numbers (the hardware schema checks each value per config). */
#define AXIS(k, ax, w)                                                                        \
    {k, BQ_Y_INT_LIST, BQ_Y_NONEMPTY, 1, 1000000, offsetof(bq_dse_spec, axis[BQ_AX_##ax]),   \
     .cap = BQ_DSE_MAX_VALUES, .count_off = offsetof(bq_dse_spec, n_axis[BQ_AX_##ax]), .what = w}
static const bq_ykey kGrid[] = {
    AXIS("dm", DM, "array rows"),
    AXIS("dn", DN, "array columns"),
    AXIS("dk", DK, "bits per bit-plane word"),
    AXIS("res_lanes", RES_LANES, "output-stage lanes"),
    AXIS("weight_depth", WEIGHT_DEPTH, "words per weight bank"),
    AXIS("act_depth", ACT_DEPTH, "words per activation bank"),
    AXIS("regions", REGIONS, "regions per buffer"),
    AXIS("requant_depth", REQUANT_DEPTH, "channels of the requant RAM"),
    AXIS("width_bits", WIDTH_BITS, "memory port bits"),
    AXIS("read_bytes_per_cycle", READ_BPC, "read bytes per cycle"),
    AXIS("write_bytes_per_cycle", WRITE_BPC, "write bytes per cycle"),
    AXIS("read_latency", READ_LATENCY, "read latency, cycles"),
    AXIS("write_latency", WRITE_LATENCY, "write latency, cycles"),
    AXIS("clock_mhz", CLOCK_MHZ, "clock in whole MHz"),
};
#undef AXIS

static const char *const kRows[] = {"none", "best", "front", "all", NULL};

#define PATHKEY(k, fl, field, w) \
    {k, BQ_Y_STR, fl, 1, BQ_DSE_PATH - 1, offsetof(bq_dse_spec, field), .size = BQ_DSE_PATH, .what = w}
static const bq_ykey kSpec[] = {
    {"name", BQ_Y_STR, BQ_Y_REQUIRED | BQ_Y_WORD, 1, 63, offsetof(bq_dse_spec, name), .size = 64,
     .what = "sweep name [A-Za-z0-9_-]"},
    PATHKEY("base", BQ_Y_REQUIRED, base, "base accelerator config (a configs/hw/ file)"),
    PATHKEY("out", BQ_Y_REQUIRED, out, "run folder (point files, report)"),
    PATHKEY("data", 0, data, "data set of the sensitivity pass (default: Fashion-MNIST)"),
    {"models", BQ_Y_STR_LIST, BQ_Y_REQUIRED | BQ_Y_NONEMPTY, 1, BQ_DSE_PATH - 1,
     offsetof(bq_dse_spec, models), .size = BQ_DSE_PATH, .cap = BQ_DSE_MAX_MODELS,
     .count_off = offsetof(bq_dse_spec, n_models), .what = "float models (.bqm / .onnx)"},
    {"budgets", BQ_Y_STR_LIST, BQ_Y_REQUIRED | BQ_Y_NONEMPTY, 1, 31,
     offsetof(bq_dse_spec, budgets), .size = 32, .cap = BQ_DSE_MAX_BUDGETS,
     .count_off = offsetof(bq_dse_spec, n_budgets),
     .what = "latency budgets: '400000cyc', '85us', '1.5ms', or '0.5x' of W8A8 on the base"},
    {"configs", BQ_Y_STR_LIST, 0, 1, BQ_DSE_PATH - 1, offsetof(bq_dse_spec, configs),
     .size = BQ_DSE_PATH, .cap = BQ_DSE_MAX_LIST, .count_off = offsetof(bq_dse_spec, n_configs),
     .what = "explicit accelerator configs, swept besides the grid"},
    {"grid", BQ_Y_SECTION, 0, 0, 0, 0, .sub = kGrid, .nsub = (int)(sizeof kGrid / sizeof kGrid[0]),
     .what = "accelerator parameters: a list of values each"},
    {"wbits", BQ_Y_INT_LIST, BQ_Y_NONEMPTY, 2, 8, offsetof(bq_dse_spec, space.wbits),
     .cap = BQ_SEARCH_MAX_BITS, .count_off = offsetof(bq_dse_spec, space.n_wbits),
     .what = "candidate weight bit-widths"},
    {"abits", BQ_Y_INT_LIST, BQ_Y_NONEMPTY, 2, 8, offsetof(bq_dse_spec, space.abits),
     .cap = BQ_SEARCH_MAX_BITS, .count_off = offsetof(bq_dse_spec, space.n_abits),
     .what = "candidate activation bit-widths"},
    {"sens_images", BQ_Y_INT, 0, 1, 60000, offsetof(bq_dse_spec, sens_images), .def = 64,
     .what = "calibration images of the sensitivity pass"},
    PATHKEY("brecq_recipe", 0, brecq_recipe, "quantization recipe of the accuracy phase "
            "(BRECQ + integer top-1 per chosen row; absent: no accuracy phase)"),
    {"brecq_rows", BQ_Y_ENUM, 0, 0, 0, offsetof(bq_dse_spec, brecq_rows), .names = kRows,
     .def = BQ_DSE_ROWS_BEST, .what = "rows that get BRECQ: best (per model and budget), front, all"},
    {"test_images", BQ_Y_INT, 0, 1, 1000000, offsetof(bq_dse_spec, test_images), .def = 10000,
     .what = "test images of the accuracy phase's integer top-1"},
    {"synth_rows", BQ_Y_ENUM, 0, 0, 0, offsetof(bq_dse_spec, synth_rows), .names = kRows,
     .def = BQ_DSE_ROWS_NONE, .what = "rows whose configs yosys synthesises: none, best, front, all"},
    {"plots", BQ_Y_BOOL, 0, 0, 1, offsetof(bq_dse_spec, plots), .def = 1,
     .what = "gnuplot SVG plots of the Pareto fronts"},
};
#undef PATHKEY
enum { NKEYS = (int)(sizeof kSpec / sizeof kSpec[0]) };

void bq_dse_spec_default(bq_dse_spec *s) {
    memset(s, 0, sizeof *s);
    bq_yschema_defaults(kSpec, NKEYS, s);
    bq_search_space_default(&s->space);
}

/* Sort a bit list ascending and drop repeats (the search wants them so). */
static void sort_unique(int *v, int *n) {
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) { int t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
    int m = 0;
    for (int i = 0; i < *n; i++)
        if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
    *n = m;
}

int bq_dse_load(bq_dse_spec *s, const char *path, char *err, size_t errlen) {
    unsigned char *text = NULL;
    size_t len = 0;
    bq_dse_spec_default(s);
    if (bq_read_file(path, &text, &len, err, errlen)) return -1;
    int rc = bq_yschema_parse(kSpec, NKEYS, text, len, path, s, NULL, err, errlen);
    free(text);
    if (rc) return -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    sort_unique(s->space.wbits, &s->space.n_wbits);
    sort_unique(s->space.abits, &s->space.n_abits);
    return 0;
}

long bq_dse_grid_size(const bq_dse_spec *s) {
    long n = 1;
    for (int a = 0; a < BQ_DSE_N_AXES; a++) {
        if (s->n_axis[a]) n *= s->n_axis[a];
        if (n > BQ_DSE_MAX_CONFIGS) return BQ_DSE_MAX_CONFIGS + 1;
    }
    return n + s->n_configs;
}

/* Set one axis value in cfg. */
static void set_axis(bq_hwcfg *c, int ax, int v) {
    if (kAxes[ax].is_double) *(double *)((char *)c + kAxes[ax].off) = v;
    else *(int *)((char *)c + kAxes[ax].off) = v;
}

/* Fill one expanded config: validate (the rules RTL generation applies), name, key, resources. */
static void finish_config(bq_dse_config *dc, const char *name) {
    bq_hwcfg *c = &dc->cfg;
    c->hash = bq_hwcfg_hash(c);
    snprintf(dc->key, sizeof dc->key, "%016llx", (unsigned long long)c->hash);
    if (name) snprintf(c->name, sizeof c->name, "%s", name);
    else snprintf(c->name, sizeof c->name, "d%dx%dx%d-%.8s", c->dm, c->dn, c->dk, dc->key);
    dc->valid = bq_hwcfg_validate(c, dc->why, sizeof dc->why) == 0;
    if (dc->valid && bq_resources_estimate(c, &dc->res, dc->why, sizeof dc->why)) dc->valid = 0;
}

/* Grid config number i: axes in enum order, the last varying fastest. */
static void grid_config(const bq_dse_spec *s, const bq_hwcfg *base, long i, bq_dse_config *dc) {
    memset(dc, 0, sizeof *dc);
    dc->cfg = *base;
    /* a swept port width without swept bandwidths runs the port at full width (docs/dse.md) */
    int full_port = s->n_axis[BQ_AX_WIDTH_BITS] > 0;
    for (int a = BQ_DSE_N_AXES - 1; a >= 0; a--) {
        if (!s->n_axis[a]) continue;
        set_axis(&dc->cfg, a, s->axis[a][i % s->n_axis[a]]);
        i /= s->n_axis[a];
    }
    if (full_port && !s->n_axis[BQ_AX_READ_BPC]) dc->cfg.read_bytes_per_cycle = dc->cfg.mem_width_bits / 8;
    if (full_port && !s->n_axis[BQ_AX_WRITE_BPC]) dc->cfg.write_bytes_per_cycle = dc->cfg.mem_width_bits / 8;
    /* the base itself keeps its name (the others: shape + key) */
    finish_config(dc, bq_hwcfg_hash(&dc->cfg) == base->hash ? base->name : NULL);
}

int bq_dse_expand(const bq_dse_spec *s, const bq_hwcfg *base, bq_dse_config **cfgs, int *n,
                  char *err, size_t errlen) {
    long total = bq_dse_grid_size(s);
    *cfgs = NULL;
    *n = 0;
    if (total > BQ_DSE_MAX_CONFIGS) {
        bq_seterr(err, errlen, "%s: 'grid' expands to more than %d configs; sweep fewer values",
                  s->path, BQ_DSE_MAX_CONFIGS);
        return -1;
    }
    long n_grid = total - s->n_configs;
    bq_dse_config *c = calloc((size_t)total, sizeof *c);
    if (!c) { bq_seterr(err, errlen, "%s: out of memory expanding the grid", s->path); return -1; }
    for (long i = 0; i < n_grid; i++) grid_config(s, base, i, &c[i]);
    for (int j = 0; j < s->n_configs; j++) {
        bq_dse_config *dc = &c[n_grid + j];
        char e2[768];
        if (bq_hwcfg_load(&dc->cfg, s->configs[j], e2, sizeof e2)) {
            bq_seterr(err, errlen, "%s: 'configs' entry %d: %s", s->path, j + 1, e2);
            free(c);
            return -1;
        }
        finish_config(dc, dc->cfg.name);
    }
    int n_valid = 0;
    for (long i = 0; i < total; i++) n_valid += c[i].valid;
    if (n_valid == 0) {
        bq_seterr(err, errlen, "%s: no config of the grid is valid (all %ld fail the accelerator "
                  "rules); the first: %s", s->path, total, c[0].why);
        free(c);
        return -1;
    }
    *cfgs = c;
    *n = (int)total;
    return 0;
}
