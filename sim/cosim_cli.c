/* cosim_cli.c — the host program of a co-simulation (bq_cosim_main in bq_acc.h): arguments,
 * loading (hw YAML, quantized model, test images), the register check, the run and the reports.
 *
 * usage: cosim --hw configs/hw/tiny.yaml --qmodel q.bqq [--images N] [--first I] [--out DIR]
 *              [--name NAME] [--data DIR] [--fault weight|requant|instr:LAYER:BIT]
 *              [--stop-on-mismatch] [--no-trace] [--max-cycles C] [--until LAYER]
 *              [--package DIR] [--bits-only | --strict] [--trace LAYER[:FROM:TO]] [--per-layer]
 * On a v2 build (window_bytes > 0) the network runs as one whole-network program per image
 * (sim/bq_cosim_v2.h); --per-layer runs the per-layer programs instead, as does a model without a
 * whole-network program (the report's program_note says why). --package there is a whole-network
 * package (format version 3).
 * Writes DIR/cosim_report.json and DIR/cosim_report.md (DIR defaults to "."), on the first
 * mismatch DIR/mismatch.fst, and with --trace DIR/trace_<LAYER>.fst (that layer on the first
 * image, cycles [FROM, TO) after run_i rises, or the whole run). Exit 0: every layer bit-exact
 * and (strict, the simulator's default) counter-exact; 1: mismatch (outputs or a time-out; in
 * strict mode also cycles or counters); 2: usage / input error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bq_cosim.h"
#include "hw_params.h"
#include "nn/data.h"

static const char *usage =
    "usage: cosim --hw CONFIG.yaml --qmodel Q.bqq [--images N] [--first I] [--out DIR] [--name NAME]\n"
    "             [--data DIR] [--fault weight|requant|instr:LAYER:BIT] [--stop-on-mismatch]\n"
    "             [--no-trace] [--max-cycles C] [--until LAYER] [--package DIR]\n"
    "             [--bits-only | --strict] [--trace LAYER[:FROM:TO]] [--per-layer]\n"
    "       cosim --selftest --package DIR [...]: the package self-test instead (--selftest --help)\n";

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "cosim: %s '%s': must be an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_fault(const char *s, bq_cosim_opts *o) {
    char kind[16];
    const char *c1 = strchr(s, ':'), *c2 = c1 ? strrchr(s, ':') : NULL;
    if (!c1 || c2 == c1 || (size_t)(c1 - s) >= sizeof kind || (size_t)(c2 - c1 - 1) >= sizeof o->fault_layer) {
        fprintf(stderr, "cosim: --fault '%s': expected KIND:LAYER:BIT (KIND weight, requant or instr)\n", s);
        return -1;
    }
    memcpy(kind, s, (size_t)(c1 - s));
    kind[c1 - s] = 0;
    memcpy(o->fault_layer, c1 + 1, (size_t)(c2 - c1 - 1));
    o->fault_layer[c2 - c1 - 1] = 0;
    if (!strcmp(kind, "weight")) o->fault = BQ_FAULT_WEIGHT;
    else if (!strcmp(kind, "requant")) o->fault = BQ_FAULT_REQUANT;
    else if (!strcmp(kind, "instr")) o->fault = BQ_FAULT_INSTR;
    else {
        fprintf(stderr, "cosim: --fault '%s': unknown kind '%s'; use weight, requant or instr\n", s, kind);
        return -1;
    }
    return parse_long("--fault", c2 + 1, 0, 1L << 40, &o->fault_bit);
}

/* --trace LAYER or LAYER:FROM:TO (cycles after run_i rises, FROM < TO). */
static int parse_trace(const char *s, bq_cosim_opts *o) {
    const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    size_t nl = c1 ? (size_t)(c1 - s) : strlen(s);
    if (!nl || nl >= sizeof o->trace_layer || (c1 && (!c2 || strchr(c2 + 1, ':')))) {
        fprintf(stderr, "cosim: --trace '%s': expected LAYER or LAYER:FROM:TO (cycles)\n", s);
        return -1;
    }
    memcpy(o->trace_layer, s, nl);
    o->trace_layer[nl] = 0;
    o->trace_from = 0;
    o->trace_to = -1;
    if (!c1) return 0;
    char from[24];
    long f, t;
    if ((size_t)(c2 - c1 - 1) >= sizeof from) { fprintf(stderr, "cosim: --trace '%s': FROM too long\n", s); return -1; }
    memcpy(from, c1 + 1, (size_t)(c2 - c1 - 1));
    from[c2 - c1 - 1] = 0;
    if (parse_long("--trace FROM", from, 0, 2000000000L, &f) || parse_long("--trace TO", c2 + 1, 1, 2000000000L, &t))
        return -1;
    if (t <= f) { fprintf(stderr, "cosim: --trace '%s': TO (%ld) must be larger than FROM (%ld)\n", s, t, f); return -1; }
    o->trace_from = f;
    o->trace_to = t;
    return 0;
}

/* The last lines of a run: the verdict and the first mismatch. */
static void print_summary(const bq_cosim_result *r, int ok) {
    printf("cosim: %s on %s: %d images, %ld output mismatches, %ld cycle mismatches (worst error %lld), "
           "%ld counter mismatches%s, %ld time-outs, %lld simulated cycles in %.1f s (%.0f cycles/s, %.2f s/image) "
           "-> %s%s\n", r->model, r->hw, r->images, r->mismatches, r->cycle_mismatches, (long long)r->worst_cycle_err,
           r->counter_mismatches, r->bits_only ? " (information)" : "", r->timeouts, (long long)r->sim_cycles, r->wall_s,
           r->wall_s > 0 ? (double)r->sim_cycles / r->wall_s : 0.0, r->images ? r->wall_s / r->images : 0.0,
           ok ? "PASS" : "FAIL", r->bits_only ? " (bits-only)" : "");
    if (r->package[0])
        printf("cosim: package %s: %ld layers differ from the driver's lowering; self-test vectors: %d "
               "image(s), %ld layer runs, %ld elements differ from tests.bin\n", r->package, r->package_diffs,
               r->selftest_images, r->selftest_layers, r->selftest_mismatches);
    if (r->first.valid)
        printf("cosim: first mismatch: image %d, layer '%s', channel %d, pixel (y %d, x %d), expected %ld, got %ld%s%s\n",
               r->first.image, r->first.layer, r->first.channel, r->first.y, r->first.x, r->first.expected,
               r->first.got, r->first.trace[0] ? ", waveform " : "", r->first.trace);
}

/* The command line of a run (the usage above). */
typedef struct {
    const char *hw_path, *q_path, *out_dir, *name, *data_dir, *pkg_dir;
    long n_images, first, max_cycles;
    int trace;   /* the mismatch waveform (--no-trace: off) */
} cli_args;

/* Fill *a and *o from argv. Returns 0, 1 after --help, or 2 with the error printed. */
static int parse_args(int argc, char **argv, cli_args *a, bq_cosim_opts *o) {
    memset(a, 0, sizeof *a);
    a->out_dir = ".";
    a->n_images = 2;
    a->trace = 1;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(k, "--stop-on-mismatch")) { o->stop_on_mismatch = 1; takes = 0; }
        else if (!strcmp(k, "--no-trace")) { a->trace = 0; takes = 0; }
        else if (!strcmp(k, "--bits-only")) { o->bits_only = 1; takes = 0; }
        else if (!strcmp(k, "--strict")) { o->bits_only = 0; takes = 0; }
        else if (!strcmp(k, "--per-layer")) { o->per_layer = 1; takes = 0; }
        else if (!strcmp(k, "--help") || !strcmp(k, "-h")) { fputs(usage, stdout); return 1; }
        else if (k[0] == '+') { takes = 0; }   /* simulator plusargs (may come last) */
        else if (!v) { fprintf(stderr, "cosim: %s needs a value\n%s", k, usage); return 2; }
        else if (!strcmp(k, "--hw")) a->hw_path = v;
        else if (!strcmp(k, "--qmodel")) a->q_path = v;
        else if (!strcmp(k, "--out")) a->out_dir = v;
        else if (!strcmp(k, "--name")) a->name = v;
        else if (!strcmp(k, "--data")) a->data_dir = v;
        else if (!strcmp(k, "--images")) { if (parse_long(k, v, 1, 10000, &a->n_images)) return 2; }
        else if (!strcmp(k, "--first")) { if (parse_long(k, v, 0, 9999, &a->first)) return 2; }
        else if (!strcmp(k, "--max-cycles")) { if (parse_long(k, v, 0, 2000000000L, &a->max_cycles)) return 2; }
        else if (!strcmp(k, "--fault")) { if (parse_fault(v, o)) return 2; }
        else if (!strcmp(k, "--package")) a->pkg_dir = v;
        else if (!strcmp(k, "--trace")) { if (parse_trace(v, o)) return 2; }
        else if (!strcmp(k, "--until")) snprintf(o->until, sizeof o->until, "%s", v);
        else { fprintf(stderr, "cosim: unknown option '%s'\n%s", k, usage); return 2; }
        i += takes;
    }
    if (!a->hw_path || !a->q_path) { fprintf(stderr, "cosim: --hw and --qmodel are required\n%s", usage); return 2; }
    o->first_image = (int)a->first;
    o->max_cycles = a->max_cycles;
    return 0;
}

int bq_cosim_main(int argc, char **argv, const bq_acc *acc) {
    setvbuf(stdout, NULL, _IOLBF, 0);   /* progress lines reach a redirected log at once */
    bq_cosim_opts o;
    bq_cosim_opts_default(&o);
    o.bits_only = !acc->ideal_memory;   /* a board's memory is not the ideal model */
    cli_args A;
    int prc = parse_args(argc, argv, &A, &o);
    if (prc) return prc == 1 ? 0 : 2;

    char err[512], path[1024], fst[1024], tfile[1024];
    int rc = 2;
    bq_hwcfg cfg;
    bq_qmodel q;
    bq_dataset te;
    int have_q = 0, have_d = 0, have_pkg = 0, have_pkg3 = 0;
    bq_pkg pkg;
    bq_st_pkg pkg3;
    float *x = NULL;
    int *labels = NULL, *idx = NULL;
    bq_cosim_result r;
    memset(&r, 0, sizeof r);
    if (bq_hwcfg_load(&cfg, A.hw_path, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
    if (bq_cosim_check_regs(acc, &cfg, A.hw_path, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
    /* bring-up step 1 (docs/bringup.md): what the accelerator says it is, as read */
    printf("cosim: accelerator ID 0x%08X, version %u, config hash %08x%08x = %s (%s), %s backend, %s mode\n",
           acc->ops->reg_read(acc->ctx, BQ_HW_REG_ID), acc->ops->reg_read(acc->ctx, BQ_HW_REG_VERSION),
           acc->ops->reg_read(acc->ctx, BQ_HW_REG_CONFIG_HASH_HI), acc->ops->reg_read(acc->ctx, BQ_HW_REG_CONFIG_HASH_LO),
           A.hw_path, cfg.name, acc->backend, o.bits_only ? "bits-only" : "strict");
    if (bq_qmodel_load(&q, A.q_path, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
    have_q = 1;
    if (bq_dataset_load(&te, A.data_dir, "test", err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
    have_d = 1;
    if (A.first + A.n_images > te.n) {
        fprintf(stderr, "cosim: --first %ld + --images %ld exceeds the %d test images\n", A.first, A.n_images, te.n);
        goto out;
    }
    size_t isz = (size_t)te.c * te.h * te.w;
    x = malloc(sizeof(float) * isz * (size_t)A.n_images);
    labels = malloc(sizeof(int) * (size_t)A.n_images);
    idx = malloc(sizeof(int) * (size_t)A.n_images);
    if (!x || !labels || !idx) { fprintf(stderr, "cosim: out of memory\n"); goto out; }
    for (long i = 0; i < A.n_images; i++) idx[i] = (int)(A.first + i);
    bq_dataset_batch(&te, idx, (int)A.n_images, x, labels, q.model.in_mean, q.model.in_std, NULL);
    if (A.pkg_dir && cfg.window_bytes > 0 && !o.per_layer) {   /* a whole-network package */
        if (bq_st_pkg_load(&pkg3, A.pkg_dir, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
        have_pkg3 = 1;
        if (pkg3.version != 3) {
            fprintf(stderr, "cosim: --package %s: format version %d (per layer); a v2 build runs the "
                    "whole-network package (version 3): export it for %s, or add --per-layer\n",
                    A.pkg_dir, pkg3.version, A.hw_path);
            goto out;
        }
        o.pkg3 = &pkg3;
    } else if (A.pkg_dir) {
        if (bq_pkg_load(&pkg, A.pkg_dir, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
        have_pkg = 1;
        o.pkg = &pkg;
    }
    if (o.trace_layer[0]) {   /* one waveform per process: the requested one */
        snprintf(tfile, sizeof tfile, "%s/trace_%s.fst", A.out_dir, o.trace_layer);
        o.trace_file = tfile;
    } else if (A.trace) {
        snprintf(fst, sizeof fst, "%s/mismatch.fst", A.out_dir);
        o.trace_path = fst;
    }
    if (bq_cosim_run(&r, acc, &q, &cfg, x, labels, (int)A.n_images, &o, stdout, err, sizeof err)) {
        fprintf(stderr, "cosim: %s\n", err);
        goto out;
    }
    {
        const char *base = strrchr(A.q_path, '/');
        snprintf(r.model, sizeof r.model, "%s", A.name ? A.name : base ? base + 1 : A.q_path);
    }
    snprintf(path, sizeof path, "%s/cosim_report.json", A.out_dir);
    if (bq_cosim_write_json(&r, path, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
    snprintf(path, sizeof path, "%s/cosim_report.md", A.out_dir);
    if (bq_cosim_write_md(&r, path, err, sizeof err)) { fprintf(stderr, "cosim: %s\n", err); goto out; }
    int ok = bq_cosim_passed(&r);
    print_summary(&r, ok);
    rc = ok ? 0 : 1;
out:
    bq_cosim_result_free(&r);
    free(x); free(labels); free(idx);
    if (have_d) bq_dataset_free(&te);
    if (have_q) bq_qmodel_free(&q);
    if (have_pkg) bq_pkg_free(&pkg);
    if (have_pkg3) bq_st_pkg_free(&pkg3);
    return rc;
}
