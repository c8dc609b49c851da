/*
 * flow.c — `brecq run FLOW.yaml` (see flow.h and docs/flow.md).
 */
#include "core/yamldoc.h"
#include "core/progress.h"
#include "core/errmsg.h"
#include "flow/flow.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "costtab.h"
#include "nn/data.h"
#include "io/export.h"
#include "quant/fakequant.h"
#include "core/fileio.h"
#include "hwcfg.h"
#include "quant/intref.h"
#include "io/model_io.h"
#include "io/onnx_import.h"
#include "flow/plot.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"
#include "quant/reconstruct.h"
#include "search/sensitivity.h"

/* ======================================================================= 1. config */

/* The schema (the loader is sw/core/yamldoc.h); defaults are set by bq_flow_default. */
#define S(k, f, h) {k, BQ_Y_STR, 0, 1, sizeof(((bq_flow_cfg *)0)->f) - 1, offsetof(bq_flow_cfg, f), \
                    .size = sizeof(((bq_flow_cfg *)0)->f), .what = h}
#define I(k, t, lo, hi, f, h) {k, t, 0, lo, hi, offsetof(bq_flow_cfg, f), .what = h}
#define L(k, f, n, h) {k, BQ_Y_STR_LIST, 0, 0, 0, offsetof(bq_flow_cfg, f), .size = 64,  \
                       .cap = BQ_FLOW_MAX_BUDGETS, .count_off = offsetof(bq_flow_cfg, n), .what = h}
#define B(k, f, n, h) {k, BQ_Y_INT_LIST, BQ_Y_NONEMPTY, 2, BQ_SEARCH_MAX_BITS,              \
                       offsetof(bq_flow_cfg, space.f), .cap = BQ_SEARCH_MAX_BITS,              \
                       .count_off = offsetof(bq_flow_cfg, space.n), .what = h}
static const bq_ykey kFlowKeys[] = {
    S("name", name, "report title"),
    S("model", model, "float model (.bqm / .onnx)"),
    S("hw", hw, "accelerator config YAML"),
    S("out", out, "report folder"),
    S("recipe", recipe, "quantization recipe (method, hyper-parameters)"),
    S("data", data, "Fashion-MNIST directory (default: the Debian path)"),
    S("sens_cache", sens_cache, "sensitivity cache file (default <out>/sensitivity.cache)"),
    L("budgets", budgets, n_budgets, "latency budgets: W3A3, mid(W2A2,W2A3), 400000cyc, 85us, 0.5x"),
    L("pareto_budgets", pareto, n_pareto, "extra budgets for the RTN accuracy/latency front"),
    B("wbits", wbits, n_wbits, "candidate weight bit-widths"),
    B("abits", abits, n_abits, "candidate activation bit-widths"),
    I("iters", BQ_Y_INT, 1, 1000000, iters, "stage A iterations per unit (recipe override)"),
    I("act_iters", BQ_Y_INT, 1, 1000000, act_iters, "stage B iterations per unit (recipe override)"),
    I("qdrop_iters", BQ_Y_INT, 1, 1000000, qdrop_iters, "QDrop iterations per unit (recipe override)"),
    I("calib", BQ_Y_INT, 32, 60000, calib, "calibration images (recipe override)"),
    I("sens_images", BQ_Y_INT, 1, 60000, sens_images, "sensitivity calibration images"),
    I("uniform_baseline", BQ_Y_BOOL, 0, 1, uniform_baseline,
      "reconstruct the best uniform allocation that fits"),
    I("rtn_pareto", BQ_Y_BOOL, 0, 1, rtn_pareto, "RTN accuracy/latency front of mixed vs uniform"),
    I("rtn_images", BQ_Y_INT, 100, 10000, rtn_images, "test images of the RTN front"),
    I("export_tests", BQ_Y_INT, 0, 64, export_tests, "test images in the export package"),
    I("cosim_images", BQ_Y_INT, 0, 10000, cosim_images, "images for cosim (0 turns cosim off)"),
    I("seed", BQ_Y_INT, 0, 2147483647.0, seed, "GA seed"),
};
#undef S
#undef I
#undef L
#undef B
#define NKEYS ((int)(sizeof kFlowKeys / sizeof kFlowKeys[0]))

void bq_flow_default(bq_flow_cfg *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "flow");
    snprintf(c->hw, sizeof c->hw, "configs/hw/edge.yaml");
    snprintf(c->out, sizeof c->out, "runs/flow");
    snprintf(c->recipe, sizeof c->recipe, "configs/quant/brecq_w2a4.yaml");
    bq_search_space_default(&c->space);
    c->iters = c->act_iters = c->qdrop_iters = c->calib = -1;
    c->sens_images = 64;
    c->uniform_baseline = 1;
    c->rtn_pareto = 1;
    c->rtn_images = 2000;
    c->export_tests = 2;
    c->cosim_images = 2;
    c->seed = 1;
}

/* A candidate set: ascending, each bit-width once. */
static void bits_set(int *bits, int *n) {
    int seen[BQ_SEARCH_MAX_BITS + 1] = {0};
    for (int i = 0; i < *n; i++) seen[bits[i]] = 1;
    *n = 0;
    for (int b = 1; b <= BQ_SEARCH_MAX_BITS; b++)
        if (seen[b]) bits[(*n)++] = b;
}

int bq_flow_load(bq_flow_cfg *c, const char *path, char *err, size_t errlen) {
    bq_flow_default(c);
    snprintf(c->path, sizeof c->path, "%s", path);
    unsigned char *text = NULL;
    size_t len = 0;
    if (bq_read_file(path, &text, &len, err, errlen)) return -1;
    int rc = bq_yschema_parse(kFlowKeys, NKEYS, text, len, path, c, NULL, err, errlen);
    free(text);
    if (rc) return -1;
    bits_set(c->space.wbits, &c->space.n_wbits);
    bits_set(c->space.abits, &c->space.n_abits);
    /* given but empty counts as missing too (budgets: []) */
    if (!c->model[0]) {
        bq_seterr(err, errlen, "%s:1:1: 'model' is required (a float model, e.g. "
               "configs/models/fres20.bqm)", path);
        return -1;
    }
    if (c->n_budgets == 0) {
        bq_seterr(err, errlen, "%s:1:1: 'budgets' is required, e.g. budgets: [W2A3]", path);
        return -1;
    }
    return 0;
}

/* ======================================================================= 2. budgets */

static int parse_wa(const char *s, int *w, int *a) {
    char tail;
    return sscanf(s, "W%dA%d%c", w, a, &tail) == 2 && *w >= 1 && *w <= 8 && *a >= 1 && *a <= 8;
}

static int64_t uniform_cycles(const bq_search_problem *p, int w, int a) {
    int *qb = malloc(sizeof(int) * (size_t)p->n_quants);
    if (!qb) return -1;
    bq_search_uniform_bits(p, w, a, qb);
    int64_t c = bq_search_total_cycles(p, qb);
    free(qb);
    return c;
}

int bq_flow_budget(const bq_search_problem *p, const char *expr, int64_t *cycles, char *err,
                   size_t errlen) {
    int w, a, w2, a2;
    char s1[16], s2[16], tail;
    if (parse_wa(expr, &w, &a)) {
        *cycles = uniform_cycles(p, w, a);
        return *cycles < 0 ? (bq_seterr(err, errlen, "out of memory"), -1) : 0;
    }
    if (sscanf(expr, "mid(%15[^,],%15[^)])%c", s1, s2, &tail) == 2 && parse_wa(s1, &w, &a) &&
        parse_wa(s2, &w2, &a2)) {
        int64_t c1 = uniform_cycles(p, w, a), c2 = uniform_cycles(p, w2, a2);
        *cycles = (c1 + c2) / 2;
        return 0;
    }
    int *qb = malloc(sizeof(int) * (size_t)p->n_quants);
    if (!qb) { bq_seterr(err, errlen, "out of memory"); return -1; }
    bq_search_uniform_bits(p, 8, 8, qb);
    int64_t w8 = bq_search_total_cycles(p, qb);
    free(qb);
    return bq_budget_parse(expr, p->clock_mhz, w8, cycles, err, errlen);
}

/* ======================================================================= 3. steps */

typedef struct {
    const bq_flow_cfg *c;
    char dir[BQ_FLOW_PATH];
    bq_model fp;
    bq_dataset train, test;
    bq_recipe recipe;
    bq_hwcfg hw;
    bq_qmodel q8;          /* W8A8 placement (problem construction, latency) */
    bq_hw_net net;
    bq_costtab tab;
    bq_search_problem p;
    int have_fp, have_train, have_test, have_q8, have_net, have_tab, have_p;
    bq_buf md;             /* report.md */
    uint64_t base_key;
} flow_t;

static void pathf(char *dst, size_t n, const flow_t *F, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void pathf(char *dst, size_t n, const flow_t *F, const char *fmt, ...) {
    int k = snprintf(dst, n, "%s/", F->dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + k, n - (size_t)k, fmt, ap);
    va_end(ap);
}

static int file_exists(const char *p) { return access(p, F_OK) == 0; }

/* Marker: <dir>/steps/<step>.key holds the 16-hex key. */
static int step_done(const flow_t *F, const char *step, uint64_t key) {
    char p[BQ_FLOW_PATH + 64];
    pathf(p, sizeof p, F, "steps/%s.key", step);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    unsigned long long k = 0;
    int ok = fscanf(f, "%llx", &k) == 1 && (uint64_t)k == key;
    fclose(f);
    return ok;
}

static int step_mark(const flow_t *F, const char *step, uint64_t key, char *err, size_t errlen) {
    char p[BQ_FLOW_PATH + 64], s[32];
    pathf(p, sizeof p, F, "steps/%s.key", step);
    snprintf(s, sizeof s, "%016llx\n", (unsigned long long)key);
    return bq_write_file_atomic(p, s, strlen(s), err, errlen);
}

static uint64_t hmix(uint64_t h, const void *d, size_t n) { return bq_fnv1a64(d, n, h); }
static uint64_t hstr(uint64_t h, const char *s) { return bq_fnv1a64(s, strlen(s) + 1, h); }

static int write_buf(const char *path, bq_buf *b, char *err, size_t errlen) {
    if (b->oom) { bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    return bq_write_file_atomic(path, b->data, b->len, err, errlen);
}

static int load_model(bq_model *m, const char *path, char *err, size_t errlen) {
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".onnx")) {
        bq_onnx_options opt;
        memset(&opt, 0, sizeof opt);
        return bq_onnx_load(m, path, &opt, err, errlen);
    }
    return bq_model_load(m, path, err, errlen);
}

/* A search allocation (per search quantizer bits) as bits.yaml text. */
static void alloc_yaml(const bq_search_problem *p, const int *qb, const char *comment, bq_buf *b) {
    bq_search_bits_yaml(p, qb, comment, b);
}

/* ---- reconstruction: float model + allocation -> .bqq (resumable) ---- */
static int step_reconstruct(flow_t *F, const char *name, const int *qb, bq_qmodel *out,
                            double *secs, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    bq_buf y = {0};
    alloc_yaml(&F->p, qb, name, &y);
    if (y.oom) { bq_seterr(err, errlen, "out of memory"); return -1; }
    uint64_t key = hmix(F->base_key, y.data, y.len);
    key = hmix(key, &F->recipe, sizeof F->recipe);
    char step[96], bqq[BQ_FLOW_PATH + 96], run[BQ_FLOW_PATH + 96], byml[BQ_FLOW_PATH + 96];
    snprintf(step, sizeof step, "recon_%s", name);
    pathf(bqq, sizeof bqq, F, "models/%s.bqq", name);
    pathf(run, sizeof run, F, "runs/%s", name);
    pathf(byml, sizeof byml, F, "bits_%s.yaml", name);
    *secs = 0;
    if (bq_write_file_atomic(byml, y.data, y.len, err, errlen)) { bq_buf_free(&y); return -1; }
    if (step_done(F, step, key) && file_exists(bqq) && bq_qmodel_load(out, bqq, err, errlen) == 0) {
        fprintf(stderr, "flow: %s: reconstructed model exists (key matches), skipped\n", name);
        bq_buf_free(&y);
        return 0;
    }
    double t0 = bq_now();
    const bq_recipe *r = &F->recipe;
    bq_qmodel_opts qo = {r->wbits, r->abits == BQ_ABITS_FLOAT ? 8 : r->abits, r->first_last_8bit};
    if (bq_qmodel_init(out, &F->fp, &qo, err, errlen)) { bq_buf_free(&y); return -1; }
    out->recipe_hash = r->text_hash;
    snprintf(out->method, sizeof out->method, "%s", bq_method_name(r->method));
    if (bq_qmodel_apply_bits_text(out, (const char *)y.data, y.len, byml, err, errlen)) {
        bq_buf_free(&y);
        bq_qmodel_free(out);
        return -1;
    }
    bq_buf_free(&y);
    bq_qmodel_init_weights(out, r->p);
    fprintf(stderr, "flow: %s: BRECQ reconstruction (%s, iters %d, act_iters %d)\n", name,
            bq_method_name(r->method), r->iters, r->act_iters);
    if (bq_reconstruct(out, &F->fp, r, &F->train, run, err, errlen) ||
        bq_qmodel_save(out, bqq, err, errlen) || step_mark(F, step, key, err, errlen)) {
        bq_qmodel_free(out);
        return -1;
    }
    *secs = bq_now() - t0;
    (void)c;
    return 0;
}

/* ---- integer evaluation on the test set: top-1 and per-image predictions (cached) ---- */
#define FLOW_EVAL_THREADS 2   /* the integer reference is single-threaded: one net per thread */

typedef struct {
    const bq_qmodel *q;
    const bq_dataset *d;
    int lo, hi;              /* images [lo, hi) */
    int32_t *preds;          /* shared, each thread writes its range */
    const char *name;
    double t0;
    int report;              /* print progress */
    int correct, rc;
    char err[256];
} eval_part;

static void *eval_thread(void *arg) {
    eval_part *e = arg;
    const int B = 100;
    bq_intnet net;
    if (bq_intnet_init(&net, e->q, B, e->err, sizeof e->err)) { e->rc = -1; return NULL; }
    size_t isz = (size_t)e->d->c * e->d->h * e->d->w;
    float *x = malloc(sizeof(float) * B * isz);
    int *idx = malloc(sizeof(int) * B), *pr = malloc(sizeof(int) * B);
    if (!x || !idx || !pr) {
        snprintf(e->err, sizeof e->err, "out of memory");
        e->rc = -1;
    } else {
        for (int s = e->lo; s < e->hi; s += B) {
            int n = e->hi - s < B ? e->hi - s : B;
            for (int i = 0; i < n; i++) idx[i] = s + i;
            bq_dataset_batch(e->d, idx, n, x, NULL, e->q->model.in_mean, e->q->model.in_std, NULL);
            bq_intnet_forward(&net, x, n);
            bq_intnet_predict(&net, n, pr);
            for (int i = 0; i < n; i++) {
                e->preds[s + i] = pr[i];
                e->correct += pr[i] == e->d->labels[s + i];
            }
            if (e->report && ((s - e->lo) / B) % 10 == 9) {
                fprintf(stderr, "\rflow: %s: integer evaluation %d/%d (thread 1 of %d)  %.0f s   ",
                        e->name, s + n - e->lo, e->hi - e->lo, FLOW_EVAL_THREADS, bq_now() - e->t0);
                fflush(stderr);
            }
        }
    }
    free(x); free(idx); free(pr);
    bq_intnet_free(&net);
    return NULL;
}

static int step_eval(flow_t *F, const char *name, const bq_qmodel *q, int32_t *preds,
                     double *top1, char *err, size_t errlen) {
    int N = F->test.n;
    uint64_t key = bq_qmodel_hash(q);
    key = hmix(key, &N, sizeof N);
    char step[96], pf[BQ_FLOW_PATH + 96], jf[BQ_FLOW_PATH + 96];
    snprintf(step, sizeof step, "eval_%s", name);
    pathf(pf, sizeof pf, F, "eval/%s.preds", name);
    pathf(jf, sizeof jf, F, "eval/%s.json", name);
    if (step_done(F, step, key) && file_exists(pf)) {
        unsigned char *d = NULL;
        size_t len = 0;
        if (bq_read_file(pf, &d, &len, err, errlen) == 0 && len == sizeof(int32_t) * (size_t)N) {
            memcpy(preds, d, len);
            free(d);
            int ok = 0;
            for (int i = 0; i < N; i++) ok += preds[i] == F->test.labels[i];
            *top1 = 100.0 * ok / N;
            fprintf(stderr, "flow: %s: integer evaluation cached: top-1 %.2f %%\n", name, *top1);
            return 0;
        }
        free(d);
    }
    double t0 = bq_now();
    eval_part parts[FLOW_EVAL_THREADS];
    pthread_t th[FLOW_EVAL_THREADS];
    int started = 0, ok = 0, failed = 0;
    for (int t = 0; t < FLOW_EVAL_THREADS; t++) {
        eval_part *e = &parts[t];
        memset(e, 0, sizeof *e);
        e->q = q;
        e->d = &F->test;
        e->lo = (int)((long)N * t / FLOW_EVAL_THREADS);
        e->hi = (int)((long)N * (t + 1) / FLOW_EVAL_THREADS);
        e->preds = preds;
        e->name = name;
        e->t0 = t0;
        e->report = t == 0;
        if (pthread_create(&th[t], NULL, eval_thread, e) == 0) started++;
        else { e->rc = -1; snprintf(e->err, sizeof e->err, "cannot start a thread"); break; }
    }
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    fprintf(stderr, "\n");
    for (int t = 0; t < FLOW_EVAL_THREADS; t++) {
        if (t >= started || parts[t].rc) {
            if (!failed) bq_seterr(err, errlen, "%s", parts[t].err[0] ? parts[t].err : "evaluation failed");
            failed = 1;
        }
        ok += parts[t].correct;
    }
    if (failed) return -1;
    *top1 = 100.0 * ok / N;
    bq_buf j = {0};
    bq_buf_printf(&j, "{\"name\": \"%s\", \"images\": %d, \"correct\": %d, \"top1\": %.4f, "
                  "\"qmodel_hash\": \"%016llx\", \"path\": \"integer (intref)\", "
                  "\"seconds\": %.2f}\n", name, N, ok, *top1,
                  (unsigned long long)bq_qmodel_hash(q), bq_now() - t0);
    int rc = bq_write_file_atomic(pf, preds, sizeof(int32_t) * (size_t)N, err, errlen) ||
             write_buf(jf, &j, err, errlen) || step_mark(F, step, key, err, errlen);
    bq_buf_free(&j);
    return rc ? -1 : 0;
}

/* ---- RTN (fake-quant, first rtn_images test images) top-1 of an allocation ---- */
static int rtn_top1(flow_t *F, const int *qb, double *top1, char *err, size_t errlen) {
    bq_buf y = {0};
    alloc_yaml(&F->p, qb, NULL, &y);
    uint64_t key = hmix(F->base_key, y.data, y.len);
    key = hstr(key, "rtn");
    key = hmix(key, &F->c->rtn_images, sizeof F->c->rtn_images);
    char step[64], jf[BQ_FLOW_PATH + 64];
    snprintf(step, sizeof step, "rtn_%016llx", (unsigned long long)key);
    pathf(jf, sizeof jf, F, "rtn/%016llx.txt", (unsigned long long)key);
    if (step_done(F, step, key)) {
        FILE *f = fopen(jf, "r");
        if (f) {
            int ok = fscanf(f, "%lf", top1) == 1;
            fclose(f);
            if (ok) { bq_buf_free(&y); return 0; }
        }
    }
    const bq_recipe *r = &F->recipe;
    bq_qmodel q;
    bq_qmodel_opts qo = {8, 8, r->first_last_8bit};
    int rc = -1;
    if (bq_qmodel_init(&q, &F->fp, &qo, err, errlen)) { bq_buf_free(&y); return -1; }
    if (bq_qmodel_apply_bits_text(&q, (const char *)y.data, y.len, "allocation", err, errlen))
        goto out;
    bq_qmodel_init_weights(&q, r->p);
    /* activation range init on act_init_batch calibration images (as `brecq quantize` rtn) */
    {
        int n = r->act_init_batch;
        int *idx = malloc(sizeof(int) * (size_t)r->calib);
        float *x = malloc(sizeof(float) * (size_t)n * F->train.c * F->train.h * F->train.w);
        bq_fq fq;
        bq_exec ex;
        int e = !idx || !x || bq_calib_indices(idx, r->calib, F->train.n, r->calib_seed);
        if (!e) {
            bq_dataset_batch(&F->train, idx, n, x, NULL, q.model.in_mean, q.model.in_std, NULL);
            e = bq_fq_init(&fq, &q, n, 0);
            if (!e) {
                fq.init_p = r->p;
                e = bq_exec_init(&ex, &fq.net, n, 0);
                if (!e) {
                    bq_fq_bind(&fq, &ex);
                    e = bq_fq_calibrate(&fq, &ex, x, n);
                    bq_exec_free(&ex);
                }
                bq_fq_free(&fq);
            }
        }
        free(idx); free(x);
        if (e) { bq_seterr(err, errlen, "RTN activation calibration failed"); goto out; }
    }
    {
        bq_dataset sub = F->test;
        sub.n = F->c->rtn_images < F->test.n ? F->c->rtn_images : F->test.n;
        *top1 = 100.0 * bq_fq_evaluate(&q, &sub, 100, NULL);
        if (*top1 < 0) { bq_seterr(err, errlen, "out of memory"); goto out; }
    }
    {
        char s[64];
        snprintf(s, sizeof s, "%.4f\n", *top1);
        if (bq_write_file_atomic(jf, s, strlen(s), err, errlen) ||
            step_mark(F, step, key, err, errlen))
            goto out;
    }
    rc = 0;
out:
    bq_buf_free(&y);
    bq_qmodel_free(&q);
    return rc;
}

/* Per-layer exact latency (dry run) of a qmodel's bits. per[n_layers] receives cycles. */
static int64_t exact_latency(flow_t *F, const bq_qmodel *q, int64_t *per, char *err,
                             size_t errlen) {
    bq_hw_net net;
    if (bq_search_hw_net(&net, q, err, errlen)) return -1;
    bq_latency *r = calloc((size_t)net.n, sizeof *r);
    if (!r) { bq_hw_net_free(&net); bq_seterr(err, errlen, "out of memory"); return -1; }
    int64_t tot = bq_hw_net_latency(&net, &F->hw, r, err, errlen);
    for (int i = 0; i < net.n && per; i++) per[i] = r[i].cycles;
    free(r);
    bq_hw_net_free(&net);
    return tot;
}

/* Latency of a search allocation via a W8A8 qmodel with the bits applied (exact dry run). */
static int64_t alloc_latency(flow_t *F, const int *qb, int64_t *per, char *err, size_t errlen) {
    bq_buf y = {0};
    alloc_yaml(&F->p, qb, NULL, &y);
    bq_qmodel q;
    bq_qmodel_opts qo = {8, 8, F->recipe.first_last_8bit};
    int64_t t = -1;
    if (bq_qmodel_init(&q, &F->fp, &qo, err, errlen) == 0) {
        if (bq_qmodel_apply_bits_text(&q, (const char *)y.data, y.len, "allocation", err,
                                      errlen) == 0)
            t = exact_latency(F, &q, per, err, errlen);
        bq_qmodel_free(&q);
    }
    bq_buf_free(&y);
    return t;
}

static void flow_free(flow_t *F) {
    if (F->have_p) bq_search_free(&F->p);
    if (F->have_tab) bq_costtab_free(&F->tab);
    if (F->have_net) bq_hw_net_free(&F->net);
    if (F->have_q8) bq_qmodel_free(&F->q8);
    if (F->have_test) bq_dataset_free(&F->test);
    if (F->have_train) bq_dataset_free(&F->train);
    if (F->have_fp) bq_model_free(&F->fp);
    bq_buf_free(&F->md);
}

/* Which cosim binary runs this hw config; 1 when it is built. */
static int cosim_binary(const bq_hwcfg *hw, char *path, size_t n) {
    snprintf(path, n, "build/sim/%s/cosim", hw->name);
    return access(path, X_OK) == 0;
}

typedef struct {
    char label[64];
    int64_t budget;
    bq_search_result ga, ex;
    int *qb;                 /* allocation (search quantizer bits) */
    int uw, ua;              /* best uniform that fits (-1 none) */
    double mixed_top1, uni_top1, mixed_rtn, uni_rtn;
    int64_t mixed_cyc, uni_cyc;
    double p_value;
    double recon_s_mixed, recon_s_uni;
    char mixed_name[96], uni_name[32];
    int n_ucand, ucw[8], uca[8];     /* maximal fitting uniform settings (all reconstructed) */
    double uc_top1[8];
} budget_run;

int bq_flow_run(const bq_flow_cfg *c, bq_flow_result *res, char *err, size_t errlen) {
    double T0 = bq_now();
    flow_t F;
    memset(&F, 0, sizeof F);
    F.c = c;
    memset(res, 0, sizeof *res);
    snprintf(F.dir, sizeof F.dir, "%s", c->out);
    char tmp[BQ_FLOW_PATH + 128];
    int rc = -1;
    budget_run *B = calloc(BQ_FLOW_MAX_BUDGETS * 2, sizeof *B);
    int32_t *pm = NULL, *pu = NULL;
    if (!B) { bq_seterr(err, errlen, "out of memory"); return -1; }
    const char *subdirs[] = {"", "steps", "models", "runs", "eval", "rtn", "plots", "search",
                             "latency"};
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
        pathf(tmp, sizeof tmp, &F, "%s", subdirs[i]);
        if (bq_mkdirs(tmp)) { bq_seterr(err, errlen, "%s: cannot create directory", tmp); goto out; }
    }
    /* inputs */
    if (load_model(&F.fp, c->model, err, errlen)) goto out;
    F.have_fp = 1;
    if (bq_recipe_load(&F.recipe, c->recipe, err, errlen)) goto out;
    if (c->iters > 0) F.recipe.iters = c->iters;
    if (c->act_iters > 0) F.recipe.act_iters = c->act_iters;
    if (c->qdrop_iters > 0) F.recipe.qdrop_iters = c->qdrop_iters;
    if (c->calib > 0) F.recipe.calib = c->calib;
    if (F.recipe.abits == BQ_ABITS_FLOAT) {
        bq_seterr(err, errlen, "%s: the recipe has float activations (abits: 32); the flow "
               "quantizes activations (use a recipe with abits 2..8)", c->recipe);
        goto out;
    }
    if (bq_hwcfg_load(&F.hw, c->hw, err, errlen)) goto out;
    const char *data = c->data[0] ? c->data : NULL;
    if (bq_dataset_load(&F.train, data, "train", err, errlen)) goto out;
    F.have_train = 1;
    if (bq_dataset_load(&F.test, data, "test", err, errlen)) goto out;
    F.have_test = 1;
    uint64_t mh = bq_model_hash(&F.fp);
    F.base_key = hmix(BQ_FNV_INIT, &mh, sizeof mh);
    F.base_key = hmix(F.base_key, &F.hw.hash, sizeof F.hw.hash);
    bq_qmodel_opts qo = {8, 8, F.recipe.first_last_8bit};
    if (bq_qmodel_init(&F.q8, &F.fp, &qo, err, errlen)) goto out;
    F.have_q8 = 1;
    if (bq_search_hw_net(&F.net, &F.q8, err, errlen)) goto out;
    F.have_net = 1;
    if (bq_costtab_build(&F.tab, &F.hw, &F.net, err, errlen)) goto out;
    F.have_tab = 1;
    if (bq_search_from_qmodel(&F.p, &F.q8, &F.tab, F.hw.clock_mhz, &c->space, err, errlen))
        goto out;
    F.have_p = 1;
    if (bq_search_finalize(&F.p, err, errlen)) goto out;
    bq_search_problem *p = &F.p;
    fprintf(stderr, "flow: %s: %s (%s) on %s, %d groups, %d candidates, report in %s\n", c->name,
            c->model, F.fp.arch, F.hw.name, p->n_groups, p->n_cands, c->out);

    /* budgets first: an infeasible one fails before any expensive step */
    int nb = c->n_budgets, np = c->rtn_pareto ? c->n_pareto : 0;
    for (int i = 0; i < nb + np; i++) {
        budget_run *b = &B[i];
        const char *e = i < nb ? c->budgets[i] : c->pareto[i - nb];
        snprintf(b->label, sizeof b->label, "%s", e);
        if (bq_flow_budget(p, e, &b->budget, err, errlen)) goto out;
        bq_search_budget bb = {b->budget, -1};
        if (bq_search_check_budget(p, &bb, err, errlen)) goto out;
        b->uw = b->ua = -1;
    }

    /* the simulator of step 7 must exist before any expensive step */
    if (c->cosim_images > 0) {
        char bin[256];
        if (!cosim_binary(&F.hw, bin, sizeof bin)) {
            bq_seterr(err, errlen, "%s: cosim needs the simulator %s, which is not built; `make "
                      "sim-build SIM_HW=%s` builds it (`make demo` does), or set `cosim_images: 0` "
                      "to run the flow without cosim", c->path, bin, F.hw.name);
            goto out;
        }
    }

    /* ---- step 1: sensitivity ---- */
    bq_sens_opts so;
    bq_sens_opts_default(&so);
    so.n_images = c->sens_images;
    so.calib_seed = F.recipe.calib_seed;
    so.p = F.recipe.p;
    so.first_last_8bit = F.recipe.first_last_8bit;
    char cache[BQ_FLOW_PATH + 32];
    if (c->sens_cache[0]) snprintf(cache, sizeof cache, "%s", c->sens_cache);
    else pathf(cache, sizeof cache, &F, "sensitivity.cache");
    so.cache_path = cache;
    bq_sens_stats sst;
    if (bq_sensitivity_fill(p, &F.fp, &F.train, &so, &sst, err, errlen)) goto out;
    {
        bq_buf j = {0};
        bq_buf_printf(&j, "{\"key\": \"%016llx\", \"images\": %d, \"candidates\": %d, "
                      "\"measured_now\": %d, \"cached\": %d, \"seconds\": %.2f, "
                      "\"fisher_seconds\": %.2f, \"groups\": [", (unsigned long long)sst.key,
                      so.n_images, p->n_cands, sst.measured, sst.cached, sst.seconds,
                      sst.fisher_seconds);
        for (int g = 0; g < p->n_groups; g++) {
            const bq_search_group *G = &p->groups[g];
            double mn = INFINITY, mx = 0;
            for (int k = 0; k < G->n_cand; k++) {
                double s = bq_search_cand_of(p, g, k)->sens;
                mn = s < mn ? s : mn;
                mx = s > mx ? s : mx;
            }
            bq_buf_printf(&j, "%s\n  {\"group\": \"%s\", \"quantizers\": %d, \"candidates\": %d, "
                          "\"min\": %.6g, \"max\": %.6g}", g ? "," : "", G->name, G->n_q,
                          G->n_cand, mn, mx);
        }
        bq_buf_printf(&j, "\n]}\n");
        pathf(tmp, sizeof tmp, &F, "sensitivity.json");
        int e = write_buf(tmp, &j, err, errlen);
        bq_buf_free(&j);
        if (e) goto out;
    }
    uint64_t skey = sst.key;

    /* ---- step 2: search per budget (GA + exact) ---- */
    double search_s_max = 0;
    for (int i = 0; i < nb + np; i++) {
        budget_run *b = &B[i];
        bq_search_budget bb = {b->budget, -1};
        bq_ga_params gp;
        bq_ga_params_default(&gp);
        gp.seed = (uint64_t)c->seed;
        double t0 = bq_now();
        if (bq_search_ga(p, &bb, &gp, &b->ga, err, errlen)) goto out;
        if (bq_search_exact(p, &bb, b->ga.choice, 0, &b->ex, err, errlen)) goto out;
        double ts = bq_now() - t0;
        search_s_max = ts > search_s_max ? ts : search_s_max;
        if (b->ex.objective > b->ga.objective + 1e-9 * fabs(b->ga.objective)) {
            bq_seterr(err, errlen, "internal error: exact objective %.17g worse than the GA's %.17g",
                   b->ex.objective, b->ga.objective);
            goto out;
        }
        b->qb = malloc(sizeof(int) * (size_t)p->n_quants);
        if (!b->qb) { bq_seterr(err, errlen, "out of memory"); goto out; }
        bq_search_choice_bits(p, b->ex.choice, b->qb);
        /* uniform settings that fit, keeping only the maximal ones (no other fitting setting has
         * >= bits on both weights and activations: more bits everywhere is assumed no worse);
         * each is reconstructed and the best by integer top-1 is the baseline */
        int *ub = malloc(sizeof(int) * (size_t)p->n_quants);
        if (!ub) { bq_seterr(err, errlen, "out of memory"); goto out; }
        int fits[BQ_SEARCH_MAX_BITS][BQ_SEARCH_MAX_BITS];
        for (int wi = 0; wi < c->space.n_wbits; wi++)
            for (int ai = 0; ai < c->space.n_abits; ai++) {
                bq_search_uniform_bits(p, c->space.wbits[wi], c->space.abits[ai], ub);
                fits[wi][ai] = bq_search_total_cycles(p, ub) <= b->budget;
            }
        free(ub);
        b->n_ucand = 0;
        for (int wi = 0; wi < c->space.n_wbits; wi++)
            for (int ai = 0; ai < c->space.n_abits; ai++) {
                if (!fits[wi][ai]) continue;
                int dominated = 0;
                for (int w2 = wi; w2 < c->space.n_wbits; w2++)
                    for (int a2 = ai; a2 < c->space.n_abits; a2++)
                        if ((w2 != wi || a2 != ai) && fits[w2][a2]) dominated = 1;
                if (dominated || b->n_ucand >= 8) continue;
                b->ucw[b->n_ucand] = c->space.wbits[wi];
                b->uca[b->n_ucand++] = c->space.abits[ai];
            }
        if (b->n_ucand) { b->uw = b->ucw[0]; b->ua = b->uca[0]; }
        snprintf(b->mixed_name, sizeof b->mixed_name, "mixed_%d", i);
        if (b->uw > 0) snprintf(b->uni_name, sizeof b->uni_name, "uniform_W%dA%d", b->uw, b->ua);
        bq_buf j = {0}, y = {0};
        bq_search_report_json(p, &bb, &b->ga, &b->ex, &b->ex, &j);
        char cm[320];
        snprintf(cm, sizeof cm, "brecq run %s: budget %s = %lld cycles, exact solver, %lld cycles",
                 c->name, b->label, (long long)b->budget, (long long)b->ex.cycles);
        alloc_yaml(p, b->qb, cm, &y);
        pathf(tmp, sizeof tmp, &F, "search/%s.json", b->mixed_name);
        int e = write_buf(tmp, &j, err, errlen);
        pathf(tmp, sizeof tmp, &F, "search/%s_bits.yaml", b->mixed_name);
        if (!e) e = write_buf(tmp, &y, err, errlen);
        bq_buf_free(&j);
        bq_buf_free(&y);
        if (e) goto out;
        fprintf(stderr, "flow: search %s (%lld cycles): GA %.6g in %.2f s, exact %.6g in %.3f s, "
                "%lld cycles; %d maximal fitting uniform setting(s), first W%dA%d\n", b->label,
                (long long)b->budget, b->ga.objective, b->ga.seconds, b->ex.objective,
                b->ex.seconds, (long long)b->ex.cycles, b->n_ucand, b->uw, b->ua);
    }
    (void)skey;

    /* ---- steps 3-4: reconstruction + integer evaluation of mixed and best uniform ---- */
    int N = F.test.n;
    pm = malloc(sizeof(int32_t) * (size_t)N);
    pu = malloc(sizeof(int32_t) * (size_t)N);
    if (!pm || !pu) { bq_seterr(err, errlen, "out of memory"); goto out; }
    bq_qmodel qmain;
    int have_main = 0;
    int64_t *per_m = calloc((size_t)p->n_layers, sizeof(int64_t));
    int64_t *per_u = calloc((size_t)p->n_layers, sizeof(int64_t));
    int64_t *per_8 = calloc((size_t)p->n_layers, sizeof(int64_t));
    if (!per_m || !per_u || !per_8) {
        free(per_m); free(per_u); free(per_8);
        bq_seterr(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < nb; i++) {
        budget_run *b = &B[i];
        bq_qmodel qm, qu;
        if (step_reconstruct(&F, b->mixed_name, b->qb, &qm, &b->recon_s_mixed, err, errlen))
            goto out2;
        if (step_eval(&F, b->mixed_name, &qm, pm, &b->mixed_top1, err, errlen)) {
            bq_qmodel_free(&qm);
            goto out2;
        }
        b->mixed_cyc = exact_latency(&F, &qm, i == 0 ? per_m : NULL, err, errlen);
        if (b->mixed_cyc < 0) { bq_qmodel_free(&qm); goto out2; }
        if (i == 0) { qmain = qm; have_main = 1; } else bq_qmodel_free(&qm);
        if (c->uniform_baseline && b->n_ucand > 0) {
            int *ub = malloc(sizeof(int) * (size_t)p->n_quants);
            int32_t *pt = malloc(sizeof(int32_t) * (size_t)N);
            if (!ub || !pt) { free(ub); free(pt); bq_seterr(err, errlen, "out of memory"); goto out2; }
            double best = -1;
            for (int k = 0; k < b->n_ucand; k++) {
                char nm[32];
                snprintf(nm, sizeof nm, "uniform_W%dA%d", b->ucw[k], b->uca[k]);
                bq_search_uniform_bits(p, b->ucw[k], b->uca[k], ub);
                double rs = 0, t1 = 0;
                int e = step_reconstruct(&F, nm, ub, &qu, &rs, err, errlen);
                if (e) { free(ub); free(pt); goto out2; }
                if (step_eval(&F, nm, &qu, pt, &t1, err, errlen)) {
                    bq_qmodel_free(&qu);
                    free(ub); free(pt);
                    goto out2;
                }
                b->uc_top1[k] = t1;
                if (t1 > best) {
                    best = t1;
                    b->uw = b->ucw[k];
                    b->ua = b->uca[k];
                    b->uni_top1 = t1;
                    b->recon_s_uni = rs;
                    snprintf(b->uni_name, sizeof b->uni_name, "%s", nm);
                    memcpy(pu, pt, sizeof(int32_t) * (size_t)N);
                    b->uni_cyc = exact_latency(&F, &qu, i == 0 ? per_u : NULL, err, errlen);
                }
                bq_qmodel_free(&qu);
                if (b->uni_cyc < 0) { free(ub); free(pt); goto out2; }
            }
            free(ub);
            free(pt);
            bq_mp_row *r = &res->rows[res->n_rows++];
            memset(r, 0, sizeof *r);
            snprintf(r->model, sizeof r->model, "%s", F.fp.arch);
            r->budget_cycles = b->budget;
            r->mixed_cycles = b->mixed_cyc;
            snprintf(r->uniform_setting, sizeof r->uniform_setting, "W%dA%d", b->uw, b->ua);
            r->uniform_cycles = b->uni_cyc;
            bq_mcnemar m;
            {
                int32_t *lab = malloc(sizeof(int32_t) * (size_t)N);
                if (!lab) { bq_seterr(err, errlen, "out of memory"); goto out2; }
                for (int k = 0; k < N; k++) lab[k] = F.test.labels[k];
                bq_mp_row_compare(r, lab, pm, pu, N, &m);
                free(lab);
            }
            r->budget_cycles = b->budget;
            r->mixed_cycles = b->mixed_cyc;
            r->uniform_cycles = b->uni_cyc;
            b->p_value = r->p_value;
            {   /* rows so far (a long acceptance run reports finished budgets as it goes) */
                bq_buf j = {0};
                bq_mp_rows_json(res->rows, res->n_rows, &j);
                pathf(tmp, sizeof tmp, &F, "mixed_vs_uniform.json");
                int e = write_buf(tmp, &j, err, errlen);
                bq_buf_free(&j);
                if (e) goto out2;
            }
            fprintf(stderr, "flow: budget %s: mixed %.2f %% (%lld cyc) vs uniform W%dA%d %.2f %% "
                    "(%lld cyc), McNemar b=%d c=%d p=%.4g\n", b->label, b->mixed_top1,
                    (long long)b->mixed_cyc, b->uw, b->ua, b->uni_top1, (long long)b->uni_cyc,
                    m.b, m.c, m.p_value);
        }
    }
    /* W8A8 per-layer cycles for the breakdown */
    int64_t w8_cyc;
    {
        int *ub = malloc(sizeof(int) * (size_t)p->n_quants);
        if (!ub) { bq_seterr(err, errlen, "out of memory"); goto out2; }
        bq_search_uniform_bits(p, 8, 8, ub);
        w8_cyc = alloc_latency(&F, ub, per_8, err, errlen);
        free(ub);
        if (w8_cyc < 0) goto out2;
    }

    /* ---- step 5: latency table (exact dry run) ---- */
    {
        bq_buf j = {0};
        bq_buf_printf(&j, "{\"hw\": \"%s\", \"clock_mhz\": %g, \"w8a8_cycles\": %lld, "
                      "\"mixed_cycles\": %lld, \"uniform\": \"%s\", \"uniform_cycles\": %lld, "
                      "\"layers\": [", F.hw.name, F.hw.clock_mhz, (long long)w8_cyc,
                      (long long)B[0].mixed_cyc, B[0].uni_name, (long long)B[0].uni_cyc);
        for (int l = 0; l < p->n_layers; l++) {
            const bq_qlayer *L = &qmain.layers[l];
            bq_buf_printf(&j, "%s\n  {\"name\": \"%s\", \"wbits\": %d, \"abits\": %d, "
                          "\"w8a8\": %lld, \"mixed\": %lld, \"uniform\": %lld}", l ? "," : "",
                          qmain.model.nodes[L->node].name, L->wbits, qmain.aq[L->aq_in].bits,
                          (long long)per_8[l], (long long)per_m[l], (long long)per_u[l]);
        }
        bq_buf_printf(&j, "\n]}\n");
        pathf(tmp, sizeof tmp, &F, "latency/latency.json");
        int e = write_buf(tmp, &j, err, errlen);
        bq_buf_free(&j);
        if (e) goto out2;
    }

    /* ---- step 6: export package + check ---- */
    char export_status[256] = "";
    {
        uint64_t key = hmix(bq_qmodel_hash(&qmain), &F.hw.hash, sizeof F.hw.hash);
        key = hmix(key, &c->export_tests, sizeof c->export_tests);
        pathf(tmp, sizeof tmp, &F, "export");
        if (step_done(&F, "export", key) && file_exists(tmp)) {
            snprintf(export_status, sizeof export_status, "package `export/` (cached), check "
                     "passed");
        } else {
            fprintf(stderr, "flow: export package -> %s\n", tmp);
            if (bq_export(&qmain, &F.hw, &F.test, c->export_tests, tmp, err, errlen) ||
                bq_export_check(tmp, NULL, NULL, err, errlen) ||
                step_mark(&F, "export", key, err, errlen))
                goto out2;
            snprintf(export_status, sizeof export_status, "package `export/` written, check "
                     "passed (%d test images, bit-exact layer recompute)", c->export_tests);
        }
    }

    /* ---- step 7: cosim (its simulator was checked before step 1) ---- */
    char cosim_status[512];
    int cosim_failed = 0;
    if (c->cosim_images == 0) {
        snprintf(cosim_status, sizeof cosim_status, "off (`cosim_images: 0` in the flow)");
    } else {
        char bin[256];
        cosim_binary(&F.hw, bin, sizeof bin);
        uint64_t key = hmix(bq_qmodel_hash(&qmain), &F.hw.hash, sizeof F.hw.hash);
        key = hmix(key, &c->cosim_images, sizeof c->cosim_images);
        char cdir[BQ_FLOW_PATH + 32], qpath[BQ_FLOW_PATH + 128], cmd[8 * BQ_FLOW_PATH];
        pathf(cdir, sizeof cdir, &F, "cosim");
        pathf(qpath, sizeof qpath, &F, "models/%s.bqq", B[0].mixed_name);
        if (step_done(&F, "cosim", key)) {
            snprintf(cosim_status, sizeof cosim_status, "passed (cached; `cosim/`)");
        } else {
            snprintf(cmd, sizeof cmd, "mkdir -p '%s' && %s --hw '%s' --qmodel '%s' --images %d "
                     "--out '%s' --name '%s' > '%s/cosim.log' 2>&1", cdir, bin, c->hw, qpath,
                     c->cosim_images, cdir, c->name, cdir);
            fprintf(stderr, "flow: cosim: %s\n", cmd);
            int st = system(cmd);
            if (st == 0) {
                snprintf(cosim_status, sizeof cosim_status, "passed on %d images (`cosim/`)",
                         c->cosim_images);
                if (step_mark(&F, "cosim", key, err, errlen)) goto out2;
            } else {
                cosim_failed = 1;   /* the report is still written; the flow then fails */
                snprintf(cosim_status, sizeof cosim_status, "FAILED (exit %d; see "
                         "`cosim/cosim.log`)", st);
            }
        }
    }

    /* ---- step 8: RTN front (mixed at every budget vs every uniform setting) ---- */
    int nu_pts = 0, nm_pts = 0;
    double ux[64], uy[64], mx[16], my[16];
    char ulab_s[64][16];
    const char *ulab[64];
    if (c->rtn_pareto) {
        for (int i = 0; i < nb + np; i++) {
            double t;
            fprintf(stderr, "flow: RTN front: mixed %s\n", B[i].label);
            if (rtn_top1(&F, B[i].qb, &t, err, errlen)) goto out2;
            B[i].mixed_rtn = t;
            mx[nm_pts] = (double)B[i].ex.cycles;
            my[nm_pts++] = t;
        }
        int *ub = malloc(sizeof(int) * (size_t)p->n_quants);
        if (!ub) { bq_seterr(err, errlen, "out of memory"); goto out2; }
        int64_t maxb = 0;   /* uniform points up to 5 % above the largest budget (plot range) */
        for (int i = 0; i < nb + np; i++) maxb = B[i].budget > maxb ? B[i].budget : maxb;
        for (int wi = 0; wi < c->space.n_wbits; wi++)
            for (int ai = 0; ai < c->space.n_abits && nu_pts < 64; ai++) {
                int w = c->space.wbits[wi], a = c->space.abits[ai];
                bq_search_uniform_bits(p, w, a, ub);
                if ((double)bq_search_total_cycles(p, ub) > 1.05 * (double)maxb) continue;
                double t;
                fprintf(stderr, "flow: RTN front: uniform W%dA%d\n", w, a);
                if (rtn_top1(&F, ub, &t, err, errlen)) { free(ub); goto out2; }
                ux[nu_pts] = (double)bq_search_total_cycles(p, ub);
                uy[nu_pts] = t;
                snprintf(ulab_s[nu_pts], 16, "W%dA%d", w, a);
                ulab[nu_pts] = ulab_s[nu_pts];
                nu_pts++;
            }
        free(ub);
        /* sort the mixed points by cycles for the front line */
        for (int i = 0; i < nm_pts; i++)
            for (int k = i + 1; k < nm_pts; k++)
                if (mx[k] < mx[i]) {
                    double t = mx[i]; mx[i] = mx[k]; mx[k] = t;
                    t = my[i]; my[i] = my[k]; my[k] = t;
                }
    }

    /* ---- step 9: plots ---- */
    char plot_status[600] = "";
    if (bq_plot_available()) {
        char title[400];
        int perr = 0;
        char e2[512] = "";
        /* BRECQ points: mixed vs uniform at the main budgets */
        double bmx[BQ_FLOW_MAX_BUDGETS], bmy[BQ_FLOW_MAX_BUDGETS], bux[BQ_FLOW_MAX_BUDGETS],
            buy[BQ_FLOW_MAX_BUDGETS];
        const char *bul[BQ_FLOW_MAX_BUDGETS];
        int nbm = 0, nbu = 0;
        for (int i = 0; i < nb; i++) {
            bmx[nbm] = (double)B[i].mixed_cyc;
            bmy[nbm++] = B[i].mixed_top1;
            if (B[i].uw > 0 && c->uniform_baseline) {
                bux[nbu] = (double)B[i].uni_cyc;
                buy[nbu] = B[i].uni_top1;
                bul[nbu++] = B[i].uni_name + 8;
            }
        }
        for (int i = 0; i < nbm; i++)
            for (int k = i + 1; k < nbm; k++)
                if (bmx[k] < bmx[i]) {
                    double t = bmx[i]; bmx[i] = bmx[k]; bmx[k] = t;
                    t = bmy[i]; bmy[i] = bmy[k]; bmy[k] = t;
                }
        bq_plot_series sm = {"mixed (searched, BRECQ)", nbm, bmx, bmy, NULL};
        bq_plot_series su = {"best uniform that fits (BRECQ)", nbu, bux, buy, bul};
        snprintf(title, sizeof title, "%s on %s: BRECQ-reconstructed, integer top-1 on %d test "
                 "images", F.fp.arch, F.hw.name, N);
        pathf(tmp, sizeof tmp, &F, "plots/pareto_brecq.svg");
        if (bq_plot_pareto(tmp, title, &sm, &su, e2, sizeof e2)) perr = 1;
        if (c->rtn_pareto) {
            bq_plot_series rm = {"mixed (searched), RTN", nm_pts, mx, my, NULL};
            bq_plot_series ru = {"uniform, RTN", nu_pts, ux, uy, ulab};
            snprintf(title, sizeof title, "%s on %s: round-to-nearest, fake-quant top-1 on %d test "
                     "images", F.fp.arch, F.hw.name, c->rtn_images);
            pathf(tmp, sizeof tmp, &F, "plots/pareto_rtn.svg");
            if (bq_plot_pareto(tmp, title, &rm, &ru, e2, sizeof e2)) perr = 1;
        }
        const char **names = calloc((size_t)p->n_layers, sizeof(char *));
        int *wb = calloc((size_t)p->n_layers, sizeof(int)), *ab = calloc((size_t)p->n_layers,
                                                                             sizeof(int));
        double *cy = calloc((size_t)p->n_layers * 3, sizeof(double));
        if (names && wb && ab && cy) {
            for (int l = 0; l < p->n_layers; l++) {
                const bq_qlayer *L = &qmain.layers[l];
                names[l] = qmain.model.nodes[L->node].name;
                wb[l] = L->wbits;
                ab[l] = qmain.aq[L->aq_in].bits;
                cy[l] = (double)per_8[l];
                cy[p->n_layers + l] = (double)per_u[l];
                cy[2 * p->n_layers + l] = (double)per_m[l];
            }
            snprintf(title, sizeof title, "%s on %s: searched allocation at %s (%lld cycles)",
                     F.fp.arch, F.hw.name, B[0].label, (long long)B[0].mixed_cyc);
            pathf(tmp, sizeof tmp, &F, "plots/bitmap.svg");
            if (bq_plot_bitmap(tmp, title, p->n_layers, names, wb, ab, e2, sizeof e2)) perr = 1;
            const char *sn[3] = {"W8A8", B[0].uni_name[0] ? B[0].uni_name : "uniform (none)",
                                 "mixed (searched)"};
            snprintf(title, sizeof title, "%s on %s: cycles per layer (exact dry run)", F.fp.arch,
                     F.hw.name);
            pathf(tmp, sizeof tmp, &F, "plots/cycles.svg");
            if (bq_plot_cycles(tmp, title, p->n_layers, names, 3, sn, cy, e2, sizeof e2))
                perr = 1;
        }
        free(names); free(wb); free(ab); free(cy);
        snprintf(plot_status, sizeof plot_status, "%s%s", perr ? "some plots failed: " : "",
                 perr ? e2 : "");
    } else {
        snprintf(plot_status, sizeof plot_status, "gnuplot not on PATH: no plots");
    }

    /* ---- step 10: report.md + flow.json ---- */
    {
        bq_buf *m = &F.md;
        double el = bq_now() - T0;
        bq_buf_printf(m, "# %s: mixed-precision BRECQ flow\n\n", c->name);
        bq_buf_printf(m, "- flow: `%s`\n- model: `%s` (%s, hash %016llx)\n- accelerator: `%s` "
                      "(%s, %g MHz)\n- recipe: `%s` (method %s, loss %s, iters %d, act_iters %d, "
                      "calib %d)\n- candidates: wbits {", c->path, c->model, F.fp.arch,
                      (unsigned long long)mh, c->hw, F.hw.name, F.hw.clock_mhz, c->recipe,
                      bq_method_name(F.recipe.method), bq_loss_name(F.recipe.loss),
                      F.recipe.iters, F.recipe.act_iters, F.recipe.calib);
        for (int i = 0; i < c->space.n_wbits; i++)
            bq_buf_printf(m, "%s%d", i ? "," : "", c->space.wbits[i]);
        bq_buf_printf(m, "}, abits {");
        for (int i = 0; i < c->space.n_abits; i++)
            bq_buf_printf(m, "%s%d", i ? "," : "", c->space.abits[i]);
        bq_buf_printf(m, "}; first/last layers 8-bit: %s\n- wall time of this invocation: %.1f s "
                      "(steps found finished were skipped)\n\n",
                      F.recipe.first_last_8bit ? "yes" : "no", el);
        bq_buf_printf(m, "## 1. Sensitivity\n\n%d candidates over %d groups, Fisher-weighted "
                      "block-output error on %d calibration images; this run measured %d, took %d "
                      "from the cache (`sensitivity.cache`, key %016llx), %.1f s. "
                      "Details: `sensitivity.json`.\n\n", p->n_cands, p->n_groups, so.n_images,
                      sst.measured, sst.cached, (unsigned long long)sst.key, sst.seconds);
        bq_buf_printf(m, "## 2. Search (cost-table latency; exact solver's allocation is used)\n\n"
                      "| budget | cycles | GA objective | GA s | exact objective | exact s | "
                      "allocation cycles | slack | best uniform that fits |\n"
                      "|---|---|---|---|---|---|---|---|---|\n");
        for (int i = 0; i < nb + np; i++) {
            budget_run *b = &B[i];
            bq_buf_printf(m, "| %s%s | %lld | %.6g | %.2f | %.6g | %.3f | %lld | %lld | W%dA%d |\n",
                          b->label, i >= nb ? " (front)" : "", (long long)b->budget,
                          b->ga.objective, b->ga.seconds, b->ex.objective, b->ex.seconds,
                          (long long)b->ex.cycles, (long long)b->ex.slack_cycles, b->uw, b->ua);
        }
        bq_buf_printf(m, "\nLongest search (GA + exact) %.2f s. Allocations: "
                      "`search/mixed_*_bits.yaml`, reports `search/mixed_*.json`.\n\n",
                      search_s_max);
        bq_buf_printf(m, "## 3-4. BRECQ reconstruction and integer evaluation (%d test images)\n\n"
                      "| budget | mixed cycles (dry run) | mixed top-1 | uniform | uniform cycles "
                      "| uniform top-1 | McNemar p | recon s (mixed / uniform, this run) |\n"
                      "|---|---|---|---|---|---|---|---|\n", N);
        for (int i = 0; i < nb; i++) {
            budget_run *b = &B[i];
            bq_buf_printf(m, "| %s (%lld) | %lld | %.2f %% | %s | %lld | %.2f %% | %.4g | "
                          "%.0f / %.0f |\n", b->label, (long long)b->budget,
                          (long long)b->mixed_cyc, b->mixed_top1, b->uw > 0 ? b->uni_name + 8 : "-",
                          (long long)b->uni_cyc, b->uni_top1, b->p_value, b->recon_s_mixed,
                          b->recon_s_uni);
        }
        bq_buf_printf(m, "\nUniform baseline: every *maximal* uniform setting that fits the budget "
                      "(first/last 8-bit; no other fitting setting has at least as many weight and "
                      "activation bits) is reconstructed with the same recipe and evaluated; the "
                      "best by top-1 is compared. Tried:");
        for (int i = 0; i < nb; i++) {
            bq_buf_printf(m, " %s:", B[i].label);
            for (int k = 0; k < B[i].n_ucand; k++)
                bq_buf_printf(m, " W%dA%d %.2f %%%s", B[i].ucw[k], B[i].uca[k], B[i].uc_top1[k],
                              k + 1 < B[i].n_ucand ? "," : ";");
        }
        bq_buf_printf(m, " McNemar: paired, two-sided, on the same %d images "
                      "(`eval/*.preds`).\n\n", N);
        bq_buf_printf(m, "## 5. Latency (exact dry run, `latency/latency.json`)\n\nW8A8 %lld "
                      "cycles; mixed %lld cycles (%.3fx W8A8, %.1f us at %g MHz).\n\n",
                      (long long)w8_cyc, (long long)B[0].mixed_cyc,
                      (double)B[0].mixed_cyc / (double)w8_cyc,
                      (double)B[0].mixed_cyc / F.hw.clock_mhz, F.hw.clock_mhz);
        bq_buf_printf(m, "| layer | W | A | W8A8 | %s | mixed |\n|---|---|---|---|---|---|\n",
                      B[0].uni_name[0] ? B[0].uni_name : "uniform");
        for (int l = 0; l < p->n_layers; l++) {
            const bq_qlayer *L = &qmain.layers[l];
            bq_buf_printf(m, "| %s | %d | %d | %lld | %lld | %lld |\n",
                          qmain.model.nodes[L->node].name, L->wbits, qmain.aq[L->aq_in].bits,
                          (long long)per_8[l], (long long)per_u[l], (long long)per_m[l]);
        }
        bq_buf_printf(m, "\n## 6. Export\n\n%s\n\n## 7. Co-simulation\n\ncosim: %s\n\n",
                      export_status, cosim_status);
        if (c->rtn_pareto) {
            bq_buf_printf(m, "## 8. Round-to-nearest front (no reconstruction; fake-quant top-1 "
                          "on the first %d test images; uniform settings up to 1.05x the largest "
                          "budget)\n\n| allocation | cycles (table) | top-1 "
                          "|\n|---|---|---|\n", c->rtn_images);
            for (int i = 0; i < nb + np; i++)
                bq_buf_printf(m, "| mixed @ %s | %lld | %.2f %% |\n", B[i].label,
                              (long long)B[i].ex.cycles, B[i].mixed_rtn);
            for (int i = 0; i < nu_pts; i++)
                bq_buf_printf(m, "| uniform %s | %.0f | %.2f %% |\n", ulab[i], ux[i], uy[i]);
            bq_buf_printf(m, "\n");
        }
        bq_buf_printf(m, "## Plots\n\n");
        if (plot_status[0]) bq_buf_printf(m, "%s\n\n", plot_status);
        bq_buf_printf(m, "![accuracy vs cycles, BRECQ](plots/pareto_brecq.svg)\n\n");
        if (c->rtn_pareto) bq_buf_printf(m, "![accuracy vs cycles, RTN](plots/pareto_rtn.svg)\n\n");
        bq_buf_printf(m, "![per-layer bits](plots/bitmap.svg)\n\n![per-layer cycles]"
                      "(plots/cycles.svg)\n");
        pathf(tmp, sizeof tmp, &F, "report.md");
        if (write_buf(tmp, m, err, errlen)) goto out2;
        bq_buf j = {0};
        bq_mp_rows_json(res->rows, res->n_rows, &j);
        pathf(tmp, sizeof tmp, &F, "mixed_vs_uniform.json");
        int e = write_buf(tmp, &j, err, errlen);
        bq_buf_free(&j);
        if (e) goto out2;
        fprintf(stderr, "flow: done in %.1f s: %s/report.md\n", el, c->out);
    }
    res->seconds = bq_now() - T0;
    if (cosim_failed) {
        bq_seterr(err, errlen, "%s: cosim FAILED: the RTL disagrees with the integer reference or "
                  "the latency model; see %s/cosim/cosim.log (report: %s/report.md)", c->path,
                  c->out, c->out);
        goto out2;
    }
    rc = 0;
out2:
    free(per_m); free(per_u); free(per_8);
    if (have_main) bq_qmodel_free(&qmain);
out:
    for (int i = 0; i < BQ_FLOW_MAX_BUDGETS * 2; i++) free(B[i].qb);
    free(B);
    free(pm);
    free(pu);
    flow_free(&F);
    return rc;
}
