/*
 * dse_synth.c — the synthesis phase of a sweep (docs/dse.md "Synthesis phase"): yosys synth_xilinx
 * of the configs of the chosen rows, beside the resource model's estimate. See dse.h.
 *
 * The synthesis itself is a script (hw/dse_synth.sh: hwgen + the `make synth` yosys flow), run as
 * a child on a YAML file of the config: a grid config exists only in memory, and the script keeps
 * the yosys invocation in one place with `make synth`. BQ_DSE_SYNTH_SCRIPT names another script
 * with the same interface (SCRIPT CONFIG.yaml RESULT), which is how the tests stand in for a
 * multi-minute yosys run. A job is finished when its .syn file exists (the script renames it into
 * place last), so a killed run is redone and a finished one never.
 */
#include "core/errmsg.h"
#include "core/fileio.h"
#include "dse/dse_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int bq_dse_synth_plan(const bq_dse *d, const bq_dse_row *rows, int n, bq_dse_synth *sy,
                      char *err, size_t errlen) {
    memset(sy, 0, sizeof *sy);
    if (d->spec.synth_rows == BQ_DSE_ROWS_NONE) return 0;
    const char *env = getenv("BQ_DSE_SYNTH_SCRIPT");
    snprintf(sy->script, sizeof sy->script, "%s", env && env[0] ? env : "hw/dse_synth.sh");
    uint64_t h = BQ_FNV_INIT;
    char e2[512];
    if (bq_fnv1a64_file(sy->script, &h, e2, sizeof e2)) {
        bq_seterr(err, errlen, "%s: 'synth_rows': the synthesis script %s cannot be read; run from "
                  "the project folder or set BQ_DSE_SYNTH_SCRIPT", d->spec.path, sy->script);
        return -1;
    }
    snprintf(sy->key, sizeof sy->key, "%016llx", (unsigned long long)h);
    int *sel = calloc((size_t)(n ? n : 1), sizeof *sel);
    int *want = calloc((size_t)d->n_cfg, sizeof *want);
    sy->cfg = malloc(sizeof(int) * (size_t)d->n_cfg);
    sy->res = calloc((size_t)d->n_cfg, sizeof *sy->res);
    if (!sel || !want || !sy->cfg || !sy->res) {
        free(sel); free(want);
        bq_dse_synth_free(sy);
        bq_seterr(err, errlen, "dse: out of memory");
        return -1;
    }
    bq_dse_select_rows(d, rows, n, d->spec.synth_rows, sel);
    for (int i = 0; i < n; i++)
        if (sel[i] && rows[i].feasible) want[rows[i].config] = 1;
    for (int c = 0; c < d->n_cfg; c++)   /* one job per config, whatever rows chose it */
        if (want[c]) sy->cfg[sy->n++] = c;
    free(sel); free(want);
    return 0;
}

void bq_dse_synth_free(bq_dse_synth *sy) {
    free(sy->cfg);
    free(sy->res);
    memset(sy, 0, sizeof *sy);
}

/* <out>/synth/<config key>-<script key><ext> */
static void job_path(const bq_dse *d, const bq_dse_synth *sy, int j, const char *ext, char *p,
                     size_t n) {
    snprintf(p, n, "%s/synth/%s-%s%s", d->spec.out, d->cfgs[sy->cfg[j]].key, sy->key, ext);
}

int bq_dse_synth_done(const bq_dse *d, const bq_dse_synth *sy, int j) {
    char p[BQ_DSE_PATH + 96];
    struct stat st;
    job_path(d, sy, j, ".syn", p, sizeof p);
    return stat(p, &st) == 0;
}

int bq_dse_synth_run(const bq_dse *d, const bq_dse_synth *sy, int j, double *seconds, char *err,
                     size_t errlen) {
    double t0 = now_s();
    const bq_hwcfg *cfg = &d->cfgs[sy->cfg[j]].cfg;
    char yaml[BQ_DSE_PATH + 96], syn[BQ_DSE_PATH + 96], log[BQ_DSE_PATH + 96],
        what[BQ_DSE_PATH + 96];
    job_path(d, sy, j, ".yaml", yaml, sizeof yaml);
    job_path(d, sy, j, ".syn", syn, sizeof syn);
    job_path(d, sy, j, ".log", log, sizeof log);
    char text[4096];
    int len = bq_hwcfg_yaml(cfg, text, sizeof text);
    if (len <= 0 || len >= (int)sizeof text) {
        bq_seterr(err, errlen, "dse: %s: config text too long", cfg->name);
        return -1;
    }
    if (bq_write_file_atomic(yaml, text, (size_t)len, err, errlen)) return -1;
    char *argv[] = {(char *)sy->script, yaml, syn, NULL};
    snprintf(what, sizeof what, "synthesis of %s (%s)", cfg->name, sy->script);
    if (bq_dse_spawn(argv, log, what, err, errlen)) return -1;
    *seconds = now_s() - t0;
    if (!bq_dse_synth_done(d, sy, j)) {
        bq_seterr(err, errlen, "dse: %s exited 0 without writing %s; see %s", what, syn, log);
        return -1;
    }
    return 0;
}

/* "lut N\nff N\nbram18 N\ndsp N\n" -> r. */
static int read_syn(const char *path, bq_resources *r, char *err, size_t errlen) {
    char text[256];
    if (bq_dse_read_result(path, text, sizeof text, err, errlen)) return -1;
    memset(r, 0, sizeof *r);
    if (sscanf(text, "lut %ld ff %ld bram18 %ld dsp %ld", &r->lut, &r->ff, &r->bram18, &r->dsp) != 4) {
        bq_seterr(err, errlen, "%s: not 'lut N / ff N / bram18 N / dsp N' (the synthesis script's "
                  "result); delete it and rerun", path);
        return -1;
    }
    return 0;
}

int bq_dse_synth_attach(const bq_dse *d, bq_dse_synth *sy, char *err, size_t errlen) {
    for (int j = 0; j < sy->n; j++) {
        char p[BQ_DSE_PATH + 96];
        job_path(d, sy, j, ".syn", p, sizeof p);
        if (read_syn(p, &sy->res[j], err, errlen)) return -1;
    }
    return 0;
}

const bq_resources *bq_dse_synth_of(const bq_dse_synth *sy, int c) {
    for (int j = 0; j < sy->n; j++)
        if (sy->cfg[j] == c) return &sy->res[j];
    return NULL;
}

int bq_dse_synth_serial(const bq_dse *d, char *err, size_t errlen) {
    if (d->spec.synth_rows == BQ_DSE_ROWS_NONE) return 0;
    bq_dse_row *rows;
    int n;
    if (bq_dse_collect(d, &rows, &n, err, errlen)) return -1;
    bq_dse_synth sy;
    int rc = bq_dse_synth_plan(d, rows, n, &sy, err, errlen);
    free(rows);
    if (rc) return -1;
    int pending = 0, done = 0;
    for (int j = 0; j < sy.n; j++) pending += !bq_dse_synth_done(d, &sy, j);
    fprintf(stderr, "dse: synthesis: %d configs, %d to run, %d finished earlier\n", sy.n, pending,
            sy.n - pending);
    for (int j = 0; j < sy.n && rc == 0; j++) {
        if (bq_dse_synth_done(d, &sy, j)) continue;
        double s = 0;
        rc = bq_dse_synth_run(d, &sy, j, &s, err, errlen);
        if (rc == 0)
            fprintf(stderr, "dse: synthesis %d/%d %s: %.1f s\n", ++done, pending,
                    d->cfgs[sy.cfg[j]].cfg.name, s);
    }
    bq_dse_synth_free(&sy);
    return rc;
}
