/*
 * dse_acc.c — the accuracy phase of a sweep (docs/dse.md "Accuracy phase"): BRECQ with the
 * sweep's recipe and a row's allocation as --bits, then the integer-only top-1 on the test set, for
 * every distinct (model, allocation) of the chosen rows. See dse.h.
 *
 * Each job runs `brecq quantize` and `brecq eval --int` as child processes of this binary rather
 * than in-process: quantize already checkpoints into its run folder (OUT.run, resumed by a rerun)
 * and writes its .bqq atomically, and a child's memory and threads are gone when it ends, so a
 * long sweep (or an MPI worker) does not accumulate them. A job is finished when its .top1 file
 * exists; that file is written atomically last, so a killed job is redone from its checkpoints.
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

/* The key of every job's files: the recipe's bytes, test_images and the data set, so a changed
 * recipe (or test set) gives new files and old results are never mixed in. */
static int acc_key(const bq_dse_spec *s, char key[17], char *err, size_t errlen) {
    uint64_t h = BQ_FNV_INIT;   /* bq_fnv1a64_file hashes into h */
    char e2[512];
    if (bq_fnv1a64_file(s->brecq_recipe, &h, e2, sizeof e2)) {
        bq_seterr(err, errlen, "%s: 'brecq_recipe' %s: cannot read it; give an existing recipe "
                  "(configs/quant/*.yaml)", s->path, s->brecq_recipe);
        return -1;
    }
    int64_t v[2] = {BQ_DSE_VERSION, s->test_images};
    h = bq_fnv1a64(v, sizeof v, h);
    h = bq_fnv1a64(s->data, strlen(s->data), h);
    snprintf(key, 17, "%016llx", (unsigned long long)h);
    return 0;
}

static int job_cmp(const void *a, const void *b) {
    const bq_dse_acc_job *x = a, *y = b;
    return x->model != y->model ? x->model - y->model : strcmp(x->alloc, y->alloc);
}

int bq_dse_acc_plan(const bq_dse *d, const bq_dse_row *rows, int n, bq_dse_acc *a, char *err,
                    size_t errlen) {
    memset(a, 0, sizeof *a);
    if (!d->spec.brecq_recipe[0] || d->spec.brecq_rows == BQ_DSE_ROWS_NONE) return 0;
    if (acc_key(&d->spec, a->key, err, errlen)) return -1;
    int *sel = calloc((size_t)(n ? n : 1), sizeof *sel);
    a->jobs = malloc(sizeof *a->jobs * (size_t)(n ? n : 1));
    if (!sel || !a->jobs) {
        free(sel);
        bq_dse_acc_free(a);
        bq_seterr(err, errlen, "dse: out of memory");
        return -1;
    }
    bq_dse_select_rows(d, rows, n, d->spec.brecq_rows, sel);
    for (int i = 0; i < n; i++)
        if (sel[i] && rows[i].feasible) {
            a->jobs[a->n].model = rows[i].model;
            memcpy(a->jobs[a->n++].alloc, rows[i].alloc, 17);
        }
    free(sel);
    /* identical allocations (W8A8 on many configs and budgets) run once */
    qsort(a->jobs, (size_t)a->n, sizeof *a->jobs, job_cmp);
    int k = 0;
    for (int i = 0; i < a->n; i++)
        if (k == 0 || job_cmp(&a->jobs[k - 1], &a->jobs[i])) a->jobs[k++] = a->jobs[i];
    a->n = k;
    return 0;
}

void bq_dse_acc_free(bq_dse_acc *a) {
    free(a->jobs);
    memset(a, 0, sizeof *a);
}

/* <out>/brecq/<model>-<alloc>-<key><ext> */
static void job_path(const bq_dse *d, const bq_dse_acc *a, int j, const char *ext, char *p, size_t n) {
    snprintf(p, n, "%s/brecq/%s-%s-%s%s", d->spec.out, d->models[a->jobs[j].model].label,
             a->jobs[j].alloc, a->key, ext);
}

int bq_dse_acc_done(const bq_dse *d, const bq_dse_acc *a, int j) {
    char p[BQ_DSE_PATH + 96];
    struct stat st;
    job_path(d, a, j, ".top1", p, sizeof p);
    return stat(p, &st) == 0;
}

/* A number after "key": in the eval report (flat JSON written by brecq eval). */
static int json_num(const char *text, const char *key, double *v) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(text, pat);
    return p && sscanf(p + strlen(pat), "%lf", v) == 1 ? 0 : -1;
}

/* eval report -> .top1 ("top1_pct P\ncorrect C\nimages N\n"), written atomically. */
static int write_top1(const char *report, const char *top1, char *err, size_t errlen) {
    unsigned char *b = NULL;
    size_t len = 0;
    if (bq_read_file(report, &b, &len, err, errlen)) return -1;
    char *t = realloc(b, len + 1);
    if (!t) { free(b); bq_seterr(err, errlen, "dse: out of memory"); return -1; }
    t[len] = 0;
    b = (unsigned char *)t;
    double corr, imgs;
    int ok = json_num(t, "correct_int", &corr) == 0 && json_num(t, "images", &imgs) == 0 && imgs > 0;
    free(b);
    if (!ok) {
        bq_seterr(err, errlen, "dse: %s: no integer top-1 in brecq eval's report", report);
        return -1;
    }
    char out[128];
    int n = snprintf(out, sizeof out, "top1_pct %.2f\ncorrect %.0f\nimages %.0f\n",
                     100.0 * corr / imgs, corr, imgs);
    return bq_write_file_atomic(top1, out, (size_t)n, err, errlen);
}

int bq_dse_acc_run(const bq_dse *d, const bq_dse_acc *a, int j, double *seconds, char *err,
                   size_t errlen) {
    double t0 = now_s();
    const bq_dse_model *M = &d->models[a->jobs[j].model];
    char self[BQ_DSE_PATH], bits[BQ_DSE_PATH + 96], q[BQ_DSE_PATH + 96], log[BQ_DSE_PATH + 96],
        rep[BQ_DSE_PATH + 96], top1[BQ_DSE_PATH + 96], what[160], limit[16];
    if (bq_dse_self_exe(self, sizeof self)) {
        bq_seterr(err, errlen, "dse: cannot find this program's path (/proc/self/exe)");
        return -1;
    }
    snprintf(bits, sizeof bits, "%s/bits/%s-%s.yaml", d->spec.out, M->label, a->jobs[j].alloc);
    job_path(d, a, j, ".bqq", q, sizeof q);
    job_path(d, a, j, ".log", log, sizeof log);
    job_path(d, a, j, ".eval.json", rep, sizeof rep);
    job_path(d, a, j, ".top1", top1, sizeof top1);
    snprintf(limit, sizeof limit, "%d", d->spec.test_images);
    /* no data set given: "--data" is NULL and ends argv there */
    const char *data = d->spec.data[0] ? "--data" : NULL;
    struct stat st;
    if (stat(q, &st) != 0) {   /* the .bqq is written atomically: present = quantized */
        char *argv[] = {self, "quantize", "--model", (char *)M->path, "--recipe",
                        (char *)d->spec.brecq_recipe, "--bits", bits, "--out", q, (char *)data,
                        (char *)d->spec.data, NULL};
        snprintf(what, sizeof what, "brecq quantize of %s allocation %s", M->label, a->jobs[j].alloc);
        if (bq_dse_spawn(argv, log, what, err, errlen)) return -1;
    }
    job_path(d, a, j, ".eval.log", log, sizeof log);
    char *argv[] = {self, "eval", "--model", (char *)M->path, "--quant", q, "--int", "--limit",
                    limit, "--report", rep, (char *)data, (char *)d->spec.data, NULL};
    snprintf(what, sizeof what, "brecq eval --int of %s allocation %s", M->label, a->jobs[j].alloc);
    if (bq_dse_spawn(argv, log, what, err, errlen)) return -1;
    int rc = write_top1(rep, top1, err, errlen);
    *seconds = now_s() - t0;
    return rc;
}

static int read_top1(const char *path, double *pct, char *err, size_t errlen) {
    char text[64];
    if (bq_dse_read_result(path, text, sizeof text, err, errlen)) return -1;
    if (sscanf(text, "top1_pct %lf", pct) != 1) {
        bq_seterr(err, errlen, "%s: damaged result; delete it and rerun to recompute it", path);
        return -1;
    }
    return 0;
}

int bq_dse_acc_attach(const bq_dse *d, const bq_dse_acc *a, bq_dse_row *rows, int n, char *err,
                      size_t errlen) {
    for (int j = 0; j < a->n; j++) {
        char p[BQ_DSE_PATH + 96];
        double pct;
        job_path(d, a, j, ".top1", p, sizeof p);
        if (read_top1(p, &pct, err, errlen)) return -1;
        for (int i = 0; i < n; i++)
            if (rows[i].feasible && rows[i].model == a->jobs[j].model &&
                strcmp(rows[i].alloc, a->jobs[j].alloc) == 0)
                rows[i].top1 = pct;
    }
    return 0;
}

int bq_dse_acc_serial(const bq_dse *d, char *err, size_t errlen) {
    bq_dse_row *rows;
    int n;
    if (!d->spec.brecq_recipe[0]) return 0;
    if (bq_dse_collect(d, &rows, &n, err, errlen)) return -1;
    bq_dse_acc a;
    int rc = bq_dse_acc_plan(d, rows, n, &a, err, errlen);
    free(rows);
    if (rc) return -1;
    int pending = 0, done = 0;
    for (int j = 0; j < a.n; j++) pending += !bq_dse_acc_done(d, &a, j);
    fprintf(stderr, "dse: accuracy: %d distinct allocations, %d to run, %d finished earlier\n", a.n,
            pending, a.n - pending);
    for (int j = 0; j < a.n && rc == 0; j++) {
        if (bq_dse_acc_done(d, &a, j)) continue;
        double s = 0;
        rc = bq_dse_acc_run(d, &a, j, &s, err, errlen);
        if (rc == 0)
            fprintf(stderr, "dse: accuracy %d/%d %s %s: %.1f s\n", ++done, pending,
                    d->models[a.jobs[j].model].label, a.jobs[j].alloc, s);
    }
    bq_dse_acc_free(&a);
    return rc;
}
