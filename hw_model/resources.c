/* resources.c — see resources.h; the formula and its calibration: docs/resource_model.md. */
#include "resources.h"

#include "core/errmsg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static long clog2(long v) {   /* ceil(log2(v)), v >= 1 */
    long b = 0;
    while ((1L << b) < v) b++;
    return b;
}
static long cdiv(long a, long b) { return (a + b - 1) / b; }

/* ---- memories: yosys 0.23 memory_libmap with +/xilinx/brams_xc4v.txt and lutrams_xc5v.txt ----
 * Every option the libraries offer a 1-write / 1-registered-read RAM, with its cost per instance;
 * libmap takes the cheapest count x cost. Block RAM "HALF" is a RAMB18 (cost 129), "FULL" a RAMB36
 * (257); the TDP widths include the parity bits (9, 18, 36), SDP gives 36 / 72 bits at 512 rows.
 * LUTRAM: SDP RAM32M (6 bits x 32) / RAM64M (3 bits x 64) and DP RAM128X1D (1 bit x 128), cost 8
 * each, deeper memories as several of them side by side in depth; its read register is FFs. */
typedef struct { int width, depth, cost, kind; } ram_opt;
enum { RAM_B18, RAM_B36, RAM_LUT };
static const ram_opt kRamOpts[] = {
    {1, 16384, 129, RAM_B18}, {2, 8192, 129, RAM_B18}, {4, 4096, 129, RAM_B18},
    {9, 2048, 129, RAM_B18},  {18, 1024, 129, RAM_B18}, {36, 512, 129, RAM_B18},
    {1, 32768, 257, RAM_B36}, {2, 16384, 257, RAM_B36}, {4, 8192, 257, RAM_B36},
    {9, 4096, 257, RAM_B36},  {18, 2048, 257, RAM_B36}, {36, 1024, 257, RAM_B36},
    {72, 512, 257, RAM_B36},
    {6, 32, 8, RAM_LUT},      {3, 64, 8, RAM_LUT},      {1, 128, 8, RAM_LUT},
};

void bq_resources_ram(long width, long depth, bq_resources *r) {
    const ram_opt *best = NULL;
    long best_n = 0;
    for (size_t i = 0; i < sizeof kRamOpts / sizeof kRamOpts[0]; i++) {
        const ram_opt *o = &kRamOpts[i];
        long n = cdiv(width, o->width) * cdiv(depth, o->depth);
        if (!best || n * o->cost < best_n * best->cost) best = o, best_n = n;
    }
    if (best->kind == RAM_B18) r->bram18 += best_n;
    if (best->kind == RAM_B36) r->bram18 += 2 * best_n, r->ramb36 += best_n;
    if (best->kind == RAM_LUT) r->lutram += best_n, r->ff += width;
}

/* ---- logic modules: own LUTs and FFs as linear terms in a few features of their parameters ----
 * features() fills x[0..NFEAT) (x[0] = 1) for a module; lut = sum c_lut[i] x[i] and ff = ff_exact +
 * sum c_ff[i] x[i], where ff_exact counts the registers the RTL declares (when it is that simple).
 * The coefficients come from the calibration runs (kCoef below). */
enum { NFEAT = 4 };
typedef struct {
    const char *name;
    const char *params[10];        /* its RTL parameters, in the order of vals[] below */
    long defaults[10];             /* the RTL's defaults */
} module_def;
typedef struct {
    const char *name;
    double c_lut[NFEAT], c_ff[NFEAT];
} module_coef;

/* The modules of bqa_top with their RTL parameters (names and defaults as in hw/bqa_*.sv). */
static const module_def kModules[] = {
    {"bqa_dpu", {"Dk", "AccBits"}, {32, 32}},
    {"bqa_array", {"Dm", "Dn", "Dk"}, {4, 4, 32}},
    {"bqa_ram_1r1w", {"Width", "Depth"}, {32, 512}},
    {"bqa_fifo", {"Width", "Depth"}, {128, 16}},
    {"bqa_token", {"Bits"}, {8}},
    {"bqa_mem_arb", {NULL}, {0}},
    {"bqa_exec", {"WAddrBits", "AAddrBits"}, {9, 9}},
    {"bqa_fetch", {"Dm", "Dn", "Dk", "W", "WAddrBits", "AAddrBits", "QAddrBits"},
     {4, 4, 32, 64, 9, 9, 6}},
    {"bqa_unpack", {"UB", "D", "W", "RowBits"}, {32, 4, 64, 9}},
    {"bqa_result", {"Dm", "Dn", "W", "Lanes", "QAddrBits"}, {4, 4, 64, 1, 6}},
    {"bqa_rq_lane", {NULL}, {0}},
    {"bqa_regs", {"Dm", "Dn", "Dk", "WDepth", "ADepth", "RqDepth", "MemWidth", "IqDepth", "Lanes"},
     {4, 4, 32, 512, 512, 256, 64, 16, 1}},
    {"bqa_top", {NULL}, {0}},   /* its own glue, from tiny's whole-config run */
};

enum { NMOD = (int)(sizeof kModules / sizeof kModules[0]) };

/* Least-squares fit on the "calib" runs of docs/resource_calib.json, written between the markers
 * by hw_model/tools/fit_resources.py --patch (feature order: see features()). */
static const module_coef kCoef[] = {
    /* fit:begin */
    {"bqa_array", {32, 0, 0, 0}, {30, 0, 0, 0}},
    {"bqa_dpu", {130.718, 4.184, -2.084, 0}, {0, 0, 0, 0}},
    {"bqa_exec", {132, 7, 0, 0}, {67, 2.5, 0, 0}},
    {"bqa_fetch", {234, 3, 0, 0}, {104, 0, 0, 0}},
    {"bqa_fifo", {38, 0, 0, 0}, {17, 0, 0, 0}},
    {"bqa_mem_arb", {113, 0, 0, 0}, {19, 0, 0, 0}},
    {"bqa_regs", {645, 0, 0, 0}, {416, 0, 0, 0}},
    {"bqa_result", {302.811, 56.912, -5.973, 36.216}, {187.777, -5.742, 1.714, 0}},
    {"bqa_rq_lane", {865, 0, 0, 0}, {96, 0, 0, 0}},
    {"bqa_token", {17, 0, 0, 0}, {8, 0, 0, 0}},
    {"bqa_top", {9, 0, 0, 0}, {0, 0, 0, 0}},
    {"bqa_unpack", {4.774, 9.571, 0.737, 0}, {1.75, 0, 0, 0}},
    /* fit:end */
};

static const module_coef *coef_of(const char *name) {
    for (size_t i = 0; i < sizeof kCoef / sizeof kCoef[0]; i++)
        if (!strcmp(kCoef[i].name, name)) return &kCoef[i];
    return NULL;
}

/* The features of module m for parameter values v (in its params[] order), and its exact FFs. */
static void features(const char *name, const long *v, double x[NFEAT], double *ff_exact) {
    for (int i = 0; i < NFEAT; i++) x[i] = 0;
    x[0] = 1;
    *ff_exact = 0;
    if (!strcmp(name, "bqa_dpu")) {                   /* Dk */
        long pcb = clog2(v[0] + 1);
        x[1] = (double)v[0], x[2] = (double)pcb;
        *ff_exact = 64 + pcb;                         /* acc + result slot + registered popcount */
    } else if (!strcmp(name, "bqa_unpack")) {         /* UB D W RowBits */
        long ub = v[0], d = v[1], w = v[2], rb = v[3];  /* row bits above RowBits are dead */
        x[1] = (double)d;                             /* bank write-enable decode */
        if (ub <= w) {                                /* wide: whole units per beat */
            long grps = d / (w / ub);                 /* ... decodes beat groups, not banks */
            x[1] = (double)grps;
            *ff_exact = (double)(rb + (grps > 1 ? clog2(grps) : 1));
        } else {                                      /* narrow: UB/W beats form a unit */
            x[2] = (double)(ub - w);
            *ff_exact = (double)(rb + clog2(ub / w) + (d > 1 ? clog2(d) : 1) + (ub - w));
        }
    } else if (!strcmp(name, "bqa_exec")) {           /* WAddrBits AAddrBits */
        x[1] = (double)(v[0] + v[1]);
    } else if (!strcmp(name, "bqa_array")) {          /* Dm Dn Dk */
        x[1] = (double)(v[0] * v[1] + v[1]);
    } else if (!strcmp(name, "bqa_result")) {         /* Dm Dn W Lanes QAddrBits: E, E*L, RawW */
        long e = v[0] * v[1];                         /* E elements per tile */
        x[1] = (double)e, x[2] = (double)(e * v[3]), x[3] = (double)(32 * e / v[2]);
        /* the bits of the residual (8 planes) and output (RAW32) buffers that hold an element;
         * the rest of the beat-padded buffers is never read and yosys removes it */
        *ff_exact = (double)(40 * e);
    } else if (!strcmp(name, "bqa_fetch")) {          /* Dm Dn Dk W WAddrBits AAddrBits QAddrBits */
        x[1] = (double)(v[0] + v[1]);                 /* bank write enables, beat counts */
    }
}

static int find_module(const char *name) {
    for (int m = 0; m < NMOD; m++)
        if (!strcmp(kModules[m].name, name)) return m;
    return -1;
}

/* Own cells of module m with parameter values v (params[] order) added to *r, times `count`. */
static void add_module(int m, const long *v, long count, bq_resources *r) {
    const module_def *d = &kModules[m];
    bq_resources one = {0};
    if (!strcmp(d->name, "bqa_ram_1r1w")) {
        bq_resources_ram(v[0], v[1], &one);
    } else {
        double x[NFEAT], ffx, lut = 0, ff = 0;
        const module_coef *c = coef_of(d->name);
        features(d->name, v, x, &ffx);
        for (int i = 0; c && i < NFEAT; i++) lut += c->c_lut[i] * x[i], ff += c->c_ff[i] * x[i];
        one.lut = lround(lut);
        one.ff = lround(ffx + ff);
        if (!strcmp(d->name, "bqa_rq_lane")) one.dsp = 3;   /* 32x9 product: 2 DSP48, 8x9: 1 */
        if (!strcmp(d->name, "bqa_fifo")) {                 /* its storage: LUTRAM */
            bq_resources mem = {0};
            bq_resources_ram(v[0], v[1], &mem);
            one.lutram = mem.lutram;
        }
    }
    r->lut += count * one.lut, r->ff += count * one.ff, r->bram18 += count * one.bram18;
    r->ramb36 += count * one.ramb36, r->lutram += count * one.lutram, r->dsp += count * one.dsp;
}

int bq_resources_module(const char *module, const char *const *names, const long *values, int n,
                        bq_resources *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    int m = module ? find_module(module) : -1;
    if (m < 0) {
        bq_seterr(err, errlen, "resource model: no module '%s' (the modules of hw/bqa_top.sv)",
                  module ? module : "(null)");
        return -1;
    }
    const module_def *d = &kModules[m];
    long v[10];
    memcpy(v, d->defaults, sizeof v);
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < 10 && d->params[k] && strcmp(d->params[k], names[i])) k++;
        if (k == 10 || !d->params[k]) {
            bq_seterr(err, errlen, "resource model: module %s has no parameter '%s'", module,
                      names[i]);
            return -1;
        }
        if (values[i] < 1) {   /* widths, depths, counts: all >= 1 in the RTL */
            bq_seterr(err, errlen, "resource model: %s.%s must be >= 1, got %ld", module, names[i],
                      values[i]);
            return -1;
        }
        v[k] = values[i];
    }
    add_module(m, v, 1, r);
    return 0;
}

/* bqa_top's instances (hw/bqa_top.sv): module, parameter values in its params[] order, count. */
int bq_resources_estimate(const bq_hwcfg *cfg, bq_resources *r, char *err, size_t errlen) {
    char why[200];
    if (!cfg || !r) {
        bq_seterr(err, errlen, "bq_resources_estimate: no config or no result");
        return -1;
    }
    memset(r, 0, sizeof *r);
    if (bq_hwcfg_validate(cfg, why, sizeof why)) {
        bq_seterr(err, errlen, "%s: no resource estimate for an invalid config: %s", cfg->name, why);
        return -1;
    }
    if (cfg->window_bytes > 0) {   /* never a v1 figure for a v2 build: it would be 5-51 % low */
        bq_seterr(err, errlen, "%s: no resource estimate for an ISA v2 build (buffers.window_bytes / "
                  "block_channels): the model is calibrated on the v1 modules only (yosys: the v2 units "
                  "add 51 %% LUTs on tiny_v2, 5.8 %% on edge_v2, docs/whole_network.md §17); synthesise "
                  "it with `make synth HW_SYNTH_CFGS=%s`", cfg->name, cfg->name);
        return -1;
    }
    long dm = cfg->dm, dn = cfg->dn, dk = cfg->dk, w = cfg->mem_width_bits, l = cfg->res_lanes;
    long wab = clog2(cfg->weight_depth), aab = clog2(cfg->act_depth);
    long qdepth = cfg->requant_depth / dm, qab = qdepth > 1 ? clog2(qdepth) : 1;
    const struct { const char *mod; long v[10]; long count; } inst[] = {
        {"bqa_dpu", {dk, 32}, dm * dn + dn},          /* Dm x Dn DPUs + Dn asum units */
        {"bqa_array", {dm, dn, dk}, 1},
        {"bqa_ram_1r1w", {dk, cfg->weight_depth}, dm},
        {"bqa_ram_1r1w", {dk, cfg->act_depth}, dn},
        {"bqa_ram_1r1w", {128, qdepth}, dm},          /* requant records */
        {"bqa_fifo", {128, 16}, 3},                   /* instruction queues (IqDepth 16) */
        {"bqa_token", {8}, 4},
        {"bqa_mem_arb", {0}, 1},
        {"bqa_exec", {wab, aab}, 1},
        {"bqa_fetch", {dm, dn, dk, w, wab, aab, qab}, 1},
        {"bqa_unpack", {dk, dm, w, wab}, 1},
        {"bqa_unpack", {dk, dn, w, aab}, 1},
        {"bqa_unpack", {128, dm, w, qab}, 1},
        {"bqa_result", {dm, dn, w, l, qab}, 1},
        {"bqa_rq_lane", {0}, l},
        {"bqa_regs", {0}, 1},
        {"bqa_top", {0}, 1},
    };
    for (size_t i = 0; i < sizeof inst / sizeof inst[0]; i++) {
        int m = find_module(inst[i].mod);
        if (m < 0) {   /* kModules lacks a module of bqa_top: a broken build, not user data */
            bq_seterr(err, errlen, "resource model: internal error: no terms for %s", inst[i].mod);
            return -1;
        }
        add_module(m, inst[i].v, inst[i].count, r);
    }
    return 0;
}
