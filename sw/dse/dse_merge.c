/*
 * dse_merge.c — reading the point files of a finished sweep into one table, its Pareto fronts and
 * best configs, and writing dse.json, report.md, timing.json and the plots. See dse.h.
 *
 * Order independence: rows are read in expansion order and sorted by (model, budget, config key),
 * and nothing that depends on when or where a unit ran (wall times) enters dse.json or report.md;
 * those go to timing.json alone.
 */
#include "core/errmsg.h"
#include "core/fileio.h"
#include "dse/dse_merge.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse one point file into the rows of its unit (n_budgets rows at rows[0..)). */
static int read_point(const bq_dse *d, int u, bq_dse_row *rows, char *err, size_t errlen) {
    char path[BQ_DSE_PATH + 64], key[17], hdr[64];
    bq_dse_unit_path(d, u, path, sizeof path);
    bq_dse_unit_key(d, u, key);
    unsigned char *data = NULL;
    size_t len = 0;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    char *text = realloc(data, len + 1);
    if (!text) { free(data); bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    text[len] = 0;
    snprintf(hdr, sizeof hdr, "brecq-dse-point %d %s\n", BQ_DSE_VERSION, key);
    int ok = strncmp(text, hdr, strlen(hdr)) == 0, seen = 0;
    for (int j = 0; j < d->n_budgets; j++) {
        rows[j].model = u / d->n_cfg;
        rows[j].config = u % d->n_cfg;
        rows[j].budget = j;
        rows[j].status = 1;
    }
    int64_t w8a8 = 0, mn = 0;
    double secs = 0;
    for (char *line = strtok(text, "\n"); ok && line; line = strtok(NULL, "\n")) {
        int j, feas;
        long long bc, cyc, size;
        double obj;
        char alloc[17];
        if (strcmp(line, "status ok") == 0) { for (j = 0; j < d->n_budgets; j++) rows[j].status = 0; }
        else if (sscanf(line, "w8a8 %" SCNd64, &w8a8) == 1 || sscanf(line, "min %" SCNd64, &mn) == 1 ||
                 sscanf(line, "seconds %lf", &secs) == 1) continue;
        else if (sscanf(line, "budget %d %lld %d %lf %lld %lld %16s", &j, &bc, &feas, &obj, &cyc,
                        &size, alloc) == 7) {
            if (j < 0 || j >= d->n_budgets) { ok = 0; break; }
            bq_dse_row *r = &rows[j];
            r->budget_cycles = bc;
            r->feasible = feas;
            r->objective = obj;
            r->cycles = cyc;
            r->size_bits = size;
            memcpy(r->alloc, feas ? alloc : "", feas ? 17 : 1);
            seen++;
        }
    }
    free(text);
    if (!ok || (rows[0].status == 0 && seen != d->n_budgets)) {
        bq_seterr(err, errlen, "%s: damaged point file; delete it and rerun to recompute it", path);
        return -1;
    }
    double clk = d->cfgs[u % d->n_cfg].cfg.clock_mhz;
    for (int j = 0; j < d->n_budgets; j++) {
        rows[j].w8a8_cycles = w8a8;
        rows[j].min_cycles = mn;
        rows[j].us = (double)rows[j].cycles / clk;
        rows[j].min_us = (double)mn / clk;
        rows[j].seconds = secs;
        rows[j].cfg_hash = d->cfgs[u % d->n_cfg].cfg.hash;
    }
    return 0;
}

static int row_cmp(const void *a, const void *b) {
    const bq_dse_row *x = a, *y = b;
    if (x->model != y->model) return x->model - y->model;
    if (x->budget != y->budget) return x->budget - y->budget;
    if (x->cfg_hash != y->cfg_hash) return x->cfg_hash < y->cfg_hash ? -1 : 1;
    return x->config - y->config;   /* two listed files of the same hardware */
}

/* Mark the (objective, latency, LUT) and (objective, latency, BRAM) fronts of each model. */
static int mark_fronts(const bq_dse *d, bq_dse_row *rows, int n, char *err, size_t errlen) {
    double *x = malloc(sizeof(double) * 3 * (size_t)n);
    int *idx = malloc(sizeof(int) * (size_t)n), *fr = malloc(sizeof(int) * (size_t)n);
    if (!x || !idx || !fr) {
        free(x); free(idx); free(fr);
        bq_seterr(err, errlen, "dse: out of memory");
        return -1;
    }
    for (int m = 0; m < d->n_models; m++)
        for (int which = 0; which < 2; which++) {
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (rows[i].model != m || !rows[i].feasible) continue;
                const bq_resources *R = &d->cfgs[rows[i].config].res;
                x[3 * k] = rows[i].objective;
                x[3 * k + 1] = rows[i].us;
                x[3 * k + 2] = (double)(which ? R->bram18 : R->lut);
                idx[k++] = i;
            }
            bq_dse_pareto(k, 3, x, fr);
            for (int i = 0; i < k; i++) *(which ? &rows[idx[i]].front_bram : &rows[idx[i]].front_lut) = fr[i];
        }
    free(x); free(idx); free(fr);
    return 0;
}

int bq_dse_best(const bq_dse *d, const bq_dse_row *rows, int n, int m, int j) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        const bq_dse_row *r = &rows[i];
        if (r->model != m || r->budget != j || !r->feasible) continue;
        if (best < 0) { best = i; continue; }
        const bq_dse_row *b = &rows[best];
        const bq_resources *R = &d->cfgs[r->config].res, *B = &d->cfgs[b->config].res;
        /* the lowest predicted loss; among equal ones the smallest, then the fastest (rows are in
         * key order, so a full tie keeps the smaller key) */
        if (r->objective != b->objective ? r->objective < b->objective
            : R->lut != B->lut ? R->lut < B->lut
            : R->bram18 != B->bram18 ? R->bram18 < B->bram18 : r->cycles < b->cycles)
            best = i;
    }
    return best;
}

/* Budgets no valid config meets: -1 with the first, naming the fastest config. */
static int check_budgets(const bq_dse *d, const bq_dse_row *rows, int n, char *err, size_t errlen) {
    for (int m = 0; m < d->n_models; m++)
        for (int j = 0; j < d->n_budgets; j++) {
            if (bq_dse_best(d, rows, n, m, j) >= 0) continue;
            int fast = -1;
            for (int i = 0; i < n; i++)
                if (rows[i].model == m && rows[i].budget == j && rows[i].status == 0 &&
                    (fast < 0 || rows[i].min_us < rows[fast].min_us)) fast = i;
            if (fast < 0)
                bq_seterr(err, errlen, "%s: no valid config runs %s (the scheduler rejects it on "
                          "every config; see %s/report.md)", d->spec.path, d->models[m].label,
                          d->spec.out);
            else
                bq_seterr(err, errlen, "%s: budget '%s' for %s: no config meets it; the fastest, "
                          "%s, needs %.2f us (%lld cycles) at all-minimum bits; raise the budget "
                          "or sweep faster configs", d->spec.path, d->spec.budgets[j],
                          d->models[m].label, d->cfgs[rows[fast].config].cfg.name,
                          rows[fast].min_us, (long long)rows[fast].min_cycles);
            return -1;
        }
    return 0;
}

static int write_buf(const char *out, const char *name, bq_buf *b, char *err, size_t errlen) {
    char path[BQ_DSE_PATH + 64];
    snprintf(path, sizeof path, "%s/%s", out, name);
    if (b->oom) { bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    return bq_write_file_atomic(path, b->data, b->len, err, errlen);
}

int bq_dse_collect(const bq_dse *d, bq_dse_row **out, int *nout, char *err, size_t errlen) {
    int n = d->n_models * d->n_valid * d->n_budgets, k = 0;
    bq_dse_row *rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    *out = NULL;
    *nout = 0;
    if (!rows) { bq_seterr(err, errlen, "dse: out of memory"); return -1; }
    int rc = 0;
    for (int u = 0; u < d->n_units && rc == 0; u++) {
        if (!d->cfgs[u % d->n_cfg].valid) continue;
        rc = read_point(d, u, rows + k, err, errlen);
        k += d->n_budgets;
    }
    for (int i = 0; i < n; i++) rows[i].top1 = -1;
    if (rc == 0) {
        qsort(rows, (size_t)n, sizeof *rows, row_cmp);
        rc = mark_fronts(d, rows, n, err, errlen);
    }
    if (rc) { free(rows); return -1; }
    *out = rows;
    *nout = n;
    return 0;
}

void bq_dse_select_rows(const bq_dse *d, const bq_dse_row *rows, int n, int which, int *sel) {
    for (int i = 0; i < n; i++)
        sel[i] = which == BQ_DSE_ROWS_ALL ? rows[i].feasible
               : which == BQ_DSE_ROWS_FRONT ? rows[i].front_lut || rows[i].front_bram : 0;
    if (which != BQ_DSE_ROWS_BEST) return;
    for (int m = 0; m < d->n_models; m++)
        for (int j = 0; j < d->n_budgets; j++) {
            int i = bq_dse_best(d, rows, n, m, j);
            if (i >= 0) sel[i] = 1;
        }
}

int bq_dse_merge(const bq_dse *d, char *err, size_t errlen) {
    bq_dse_row *rows;
    int n;
    if (bq_dse_collect(d, &rows, &n, err, errlen)) return -1;
    bq_dse_acc acc;
    int rc = bq_dse_acc_plan(d, rows, n, &acc, err, errlen);
    if (rc == 0) rc = bq_dse_acc_attach(d, &acc, rows, n, err, errlen);
    bq_dse_acc_free(&acc);
    bq_dse_synth sy = {0};
    if (rc == 0) rc = bq_dse_synth_plan(d, rows, n, &sy, err, errlen);
    if (rc == 0) rc = bq_dse_synth_attach(d, &sy, err, errlen);
    bq_buf js = {0}, md = {0}, tj = {0};
    if (rc == 0) {
        bq_dse_json(d, rows, n, &sy, &js);
        bq_dse_report_md(d, rows, n, &sy, &md);
        bq_dse_timing_json(d, rows, n, &tj);
        /* dse.json last, and an older one removed first: it exists only when the whole merge
         * (plots, report) succeeded, so a failure (say, out of memory in a plot) never leaves a
         * dse.json that the report and plots beside it disagree with */
        char old[BQ_DSE_PATH + 16];
        snprintf(old, sizeof old, "%s/dse.json", d->spec.out);
        if (unlink(old) && errno != ENOENT) {
            bq_seterr(err, errlen, "%s: cannot remove the old result: %s", old, strerror(errno));
            rc = -1;
        }
        if (rc == 0 && d->spec.plots) rc = bq_dse_plots(d, rows, n, err, errlen);
        if (rc == 0) rc = write_buf(d->spec.out, "report.md", &md, err, errlen);
        if (rc == 0) rc = write_buf(d->spec.out, "timing.json", &tj, err, errlen);
        if (rc == 0) rc = write_buf(d->spec.out, "dse.json", &js, err, errlen);
        if (rc == 0) rc = check_budgets(d, rows, n, err, errlen);
    }
    bq_buf_free(&js); bq_buf_free(&md); bq_buf_free(&tj);
    bq_dse_synth_free(&sy);
    free(rows);
    return rc;
}
