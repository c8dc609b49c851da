/*
 * flow.c — `brecq run FLOW.yaml` (see flow.h and docs/flow.md).
 */
#include "core/yamldoc.h"
#include "core/progress.h"
#include "core/errmsg.h"
#include "flow/flow.h"

#include <dirent.h>
#include <errno.h>
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
    S("data", data, "Fashion-MNIST IDX folder or dataset YAML, docs/data.md (default: the Debian path)"),
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

/* One budget: its search and, for the main budgets, the mixed and best-uniform models. */
typedef struct {
    char label[64];
    int64_t budget;
    bq_search_result ga, ex;
    int *qb;                 /* allocation (search quantizer bits) */
    int uw, ua;              /* best uniform that fits (-1 none) */
    double mixed_top1, uni_top1, mixed_rtn;
    int64_t mixed_cyc, uni_cyc;
    double p_value;
    double recon_s_mixed, recon_s_uni;
    char mixed_name[96], uni_name[32];
    int n_ucand, ucw[8], uca[8];     /* maximal fitting uniform settings (all reconstructed) */
    double uc_top1[8];
} budget_run;

/* The RTN front of step 8: mixed points (one per budget, sorted by cycles) and uniform points. */
typedef struct {
    int nm, nu;
    double mx[2 * BQ_FLOW_MAX_BUDGETS], my[2 * BQ_FLOW_MAX_BUDGETS];
    double ux[64], uy[64];
    char ulab_s[64][16];
    const char *ulab[64];
} rtn_front;

/* Everything one `brecq run` holds: inputs, the search problem, and each step's results, which
 * later steps and the report read. */
typedef struct {
    const bq_flow_cfg *c;
    bq_flow_result *res;
    char dir[BQ_FLOW_PATH];
    double t0;             /* start of this invocation */
    bq_model fp;
    bq_dataset train, test;
    bq_recipe recipe;
    bq_hwcfg hw;
    bq_qmodel q8;          /* W8A8 placement (problem construction, latency) */
    bq_hw_net net;
    bq_costtab tab;
    bq_search_problem p;
    int have_fp, have_train, have_test, have_q8, have_net, have_tab, have_p;
    uint64_t model_hash, base_key;
    budget_run *B;         /* nb main budgets, then np budgets of the RTN front only */
    int nb, np;
    bq_sens_stats sst;     /* step 1 */
    double search_s_max;   /* step 2: longest GA + exact */
    int32_t *pm, *pu;      /* steps 3-4: test predictions of a budget's mixed and best uniform */
    bq_qmodel qmain;       /* the first budget's mixed model (latency, export, cosim, plots) */
    int have_main;
    int64_t *per_m, *per_u, *per_8;   /* per-layer cycles: qmain, its uniform, W8A8 */
    int64_t w8_cyc;
    char export_status[256], cosim_status[512], plot_status[600];
    int cosim_failed;      /* the report is still written; the flow then fails */
    rtn_front front;
    bq_buf md;             /* report.md */
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
    /* the .bqq and its step marker are the resume state from here on: no checkpoints left over */
    bq_remove_tree(run);
    pathf(run, sizeof run, F, "runs");
    rmdir(run);   /* only once empty: another model's checkpoints may still be there */
    *secs = bq_now() - t0;
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
        bq_seterr(e->err, sizeof e->err, "out of memory");
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
    if (F->test.key) key = hmix(key, &F->test.key, sizeof F->test.key);
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
        else { e->rc = -1; bq_seterr(e->err, sizeof e->err, "cannot start a thread"); break; }
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
    if (bq_search_hw_net(&net, q, F->hw.window_bytes > 0, err, errlen)) return -1;
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
    if (F->B)
        for (int i = 0; i < BQ_FLOW_MAX_BUDGETS * 2; i++) free(F->B[i].qb);
    free(F->B);
    free(F->pm); free(F->pu);
    free(F->per_m); free(F->per_u); free(F->per_8);
    if (F->have_main) bq_qmodel_free(&F->qmain);
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

/* ---- setup: report folders, inputs, search problem, budgets, simulator ---- */

/* Entries of a folder other than . and .. (0 when it does not exist). */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int open_folders(flow_t *F, char *err, size_t errlen) {
    /* no "runs": reconstruction creates its checkpoint folder and removes it when done */
    static const char *const subdirs[] = {"", "steps", "models", "eval", "rtn", "plots",
                                          "search", "latency"};
    char tmp[BQ_FLOW_PATH + 128];
    pathf(tmp, sizeof tmp, F, "steps");
    int n_done = count_entries(tmp);
    if (n_done > 0)
        fprintf(stderr, "flow: resuming from %s (%d finished steps are kept; changed ones rerun)\n",
                F->c->out, n_done);
    F->B = calloc(BQ_FLOW_MAX_BUDGETS * 2, sizeof *F->B);
    if (!F->B) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
        pathf(tmp, sizeof tmp, F, "%s", subdirs[i]);
        if (bq_mkdirs(tmp)) { bq_seterr(err, errlen, "%s: cannot create directory", tmp); return -1; }
    }
    return 0;
}

/* Float model, recipe (with the flow's overrides), hw config, training and test sets. */
static int load_inputs(flow_t *F, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    if (load_model(&F->fp, c->model, err, errlen)) return -1;
    F->have_fp = 1;
    if (bq_recipe_load(&F->recipe, c->recipe, err, errlen)) return -1;
    if (c->iters > 0) F->recipe.iters = c->iters;
    if (c->act_iters > 0) F->recipe.act_iters = c->act_iters;
    if (c->qdrop_iters > 0) F->recipe.qdrop_iters = c->qdrop_iters;
    if (c->calib > 0) F->recipe.calib = c->calib;
    if (F->recipe.abits == BQ_ABITS_FLOAT) {
        bq_seterr(err, errlen, "%s: the recipe has float activations (abits: 32); the flow "
               "quantizes activations (use a recipe with abits 2..8)", c->recipe);
        return -1;
    }
    if (bq_hwcfg_load(&F->hw, c->hw, err, errlen)) return -1;
    const char *data = c->data[0] ? c->data : NULL;
    if (bq_dataset_load_for(&F->train, data, "train", &F->fp, 0, err, errlen)) return -1;
    F->have_train = 1;
    if (bq_dataset_load_for(&F->test, data, "test", &F->fp, 1, err, errlen)) return -1;
    F->have_test = 1;
    return 0;
}

/* W8A8 placement -> accelerator view -> cost table -> search problem; the keys of every step
 * start from the model and hw hashes. */
static int build_problem(flow_t *F, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    F->model_hash = bq_model_hash(&F->fp);
    F->base_key = hmix(BQ_FNV_INIT, &F->model_hash, sizeof F->model_hash);
    F->base_key = hmix(F->base_key, &F->hw.hash, sizeof F->hw.hash);
    if (F->train.key || F->test.key) {   /* a dataset YAML: its identity (IDX keys unchanged) */
        F->base_key = hmix(F->base_key, &F->train.key, sizeof F->train.key);
        F->base_key = hmix(F->base_key, &F->test.key, sizeof F->test.key);
    }
    bq_qmodel_opts qo = {8, 8, F->recipe.first_last_8bit};
    if (bq_qmodel_init(&F->q8, &F->fp, &qo, err, errlen)) return -1;
    F->have_q8 = 1;
    if (bq_search_hw_net(&F->net, &F->q8, F->hw.window_bytes > 0, err, errlen)) return -1;
    F->have_net = 1;
    if (bq_costtab_build(&F->tab, &F->hw, &F->net, err, errlen)) return -1;
    F->have_tab = 1;
    if (bq_search_from_qmodel(&F->p, &F->q8, &F->tab, F->hw.clock_mhz, &c->space, err, errlen))
        return -1;
    F->have_p = 1;
    if (bq_search_finalize(&F->p, err, errlen)) return -1;
    fprintf(stderr, "flow: %s: %s (%s) on %s, %d groups, %d candidates, report in %s\n", c->name,
            c->model, F->fp.arch, F->hw.name, F->p.n_groups, F->p.n_cands, c->out);
    return 0;
}

/* Budgets first: an infeasible one fails before any expensive step. */
static int resolve_budgets(flow_t *F, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    F->nb = c->n_budgets;
    F->np = c->rtn_pareto ? c->n_pareto : 0;
    for (int i = 0; i < F->nb + F->np; i++) {
        budget_run *b = &F->B[i];
        const char *e = i < F->nb ? c->budgets[i] : c->pareto[i - F->nb];
        snprintf(b->label, sizeof b->label, "%s", e);
        if (bq_flow_budget(&F->p, e, &b->budget, err, errlen)) return -1;
        bq_search_budget bb = {b->budget, -1};
        if (bq_search_check_budget(&F->p, &bb, err, errlen)) return -1;
        b->uw = b->ua = -1;
    }
    return 0;
}

/* The simulator of step 7 must exist before any expensive step. */
static int check_simulator(flow_t *F, char *err, size_t errlen) {
    char bin[256];
    if (F->c->cosim_images <= 0 || cosim_binary(&F->hw, bin, sizeof bin)) return 0;
    bq_seterr(err, errlen, "%s: cosim needs the simulator %s, which is not built; `make "
              "sim-build SIM_HW=%s` builds it (`make demo` does), or set `cosim_images: 0` "
              "to run the flow without cosim", F->c->path, bin, F->hw.name);
    return -1;
}

/* ---- step 1: sensitivity of every candidate (cached per group) ---- */

static int sensitivity_json(flow_t *F, char *err, size_t errlen) {
    const bq_search_problem *p = &F->p;
    const bq_sens_stats *s = &F->sst;
    char tmp[BQ_FLOW_PATH + 128];
    bq_buf j = {0};
    bq_buf_printf(&j, "{\"key\": \"%016llx\", \"images\": %d, \"candidates\": %d, "
                  "\"measured_now\": %d, \"cached\": %d, \"seconds\": %.2f, "
                  "\"fisher_seconds\": %.2f, \"groups\": [", (unsigned long long)s->key,
                  F->c->sens_images, p->n_cands, s->measured, s->cached, s->seconds,
                  s->fisher_seconds);
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_group *G = &p->groups[g];
        double mn = INFINITY, mx = 0;
        for (int k = 0; k < G->n_cand; k++) {
            double v = bq_search_cand_of(p, g, k)->sens;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        bq_buf_printf(&j, "%s\n  {\"group\": \"%s\", \"quantizers\": %d, \"candidates\": %d, "
                      "\"min\": %.6g, \"max\": %.6g}", g ? "," : "", G->name, G->n_q,
                      G->n_cand, mn, mx);
    }
    bq_buf_printf(&j, "\n]}\n");
    pathf(tmp, sizeof tmp, F, "sensitivity.json");
    int e = write_buf(tmp, &j, err, errlen);
    bq_buf_free(&j);
    return e;
}

static int step_sensitivity(flow_t *F, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    bq_sens_opts so;
    bq_sens_opts_default(&so);
    so.n_images = c->sens_images;
    so.calib_seed = F->recipe.calib_seed;
    so.p = F->recipe.p;
    so.first_last_8bit = F->recipe.first_last_8bit;
    char cache[BQ_FLOW_PATH + 32];
    if (c->sens_cache[0]) snprintf(cache, sizeof cache, "%s", c->sens_cache);
    else pathf(cache, sizeof cache, F, "sensitivity.cache");
    so.cache_path = cache;
    if (bq_sensitivity_fill(&F->p, &F->fp, &F->train, &so, &F->sst, err, errlen)) return -1;
    return sensitivity_json(F, err, errlen);
}

/* ---- step 2: search per budget (GA, then the exact solver from the GA's allocation) ---- */

/* Uniform settings that fit budget b, keeping only the maximal ones (no other fitting setting has
 * >= bits on both weights and activations: more bits everywhere is assumed no worse); step 3
 * reconstructs each and the best by integer top-1 is the baseline. */
static int fitting_uniforms(flow_t *F, budget_run *b, char *err, size_t errlen) {
    const bq_search_space *sp = &F->c->space;
    int *ub = malloc(sizeof(int) * (size_t)F->p.n_quants);
    if (!ub) { bq_seterr(err, errlen, "out of memory"); return -1; }
    int fits[BQ_SEARCH_MAX_BITS][BQ_SEARCH_MAX_BITS];
    for (int wi = 0; wi < sp->n_wbits; wi++)
        for (int ai = 0; ai < sp->n_abits; ai++) {
            bq_search_uniform_bits(&F->p, sp->wbits[wi], sp->abits[ai], ub);
            fits[wi][ai] = bq_search_total_cycles(&F->p, ub) <= b->budget;
        }
    free(ub);
    b->n_ucand = 0;
    for (int wi = 0; wi < sp->n_wbits; wi++)
        for (int ai = 0; ai < sp->n_abits; ai++) {
            if (!fits[wi][ai]) continue;
            int dominated = 0;
            for (int w2 = wi; w2 < sp->n_wbits; w2++)
                for (int a2 = ai; a2 < sp->n_abits; a2++)
                    if ((w2 != wi || a2 != ai) && fits[w2][a2]) dominated = 1;
            if (dominated || b->n_ucand >= 8) continue;
            b->ucw[b->n_ucand] = sp->wbits[wi];
            b->uca[b->n_ucand++] = sp->abits[ai];
        }
    if (b->n_ucand) { b->uw = b->ucw[0]; b->ua = b->uca[0]; }
    return 0;
}

/* search/<mixed_name>.json (the search report) and search/<mixed_name>_bits.yaml. */
static int write_search(flow_t *F, const budget_run *b, const bq_search_budget *bb, char *err,
                        size_t errlen) {
    char tmp[BQ_FLOW_PATH + 128], cm[320];
    bq_buf j = {0}, y = {0};
    bq_search_report_json(&F->p, bb, &b->ga, &b->ex, &b->ex, &j);
    snprintf(cm, sizeof cm, "brecq run %s: budget %s = %lld cycles, exact solver, %lld cycles",
             F->c->name, b->label, (long long)b->budget, (long long)b->ex.cycles);
    alloc_yaml(&F->p, b->qb, cm, &y);
    pathf(tmp, sizeof tmp, F, "search/%s.json", b->mixed_name);
    int e = write_buf(tmp, &j, err, errlen);
    pathf(tmp, sizeof tmp, F, "search/%s_bits.yaml", b->mixed_name);
    if (!e) e = write_buf(tmp, &y, err, errlen);
    bq_buf_free(&j);
    bq_buf_free(&y);
    return e;
}

static int search_budget(flow_t *F, int i, char *err, size_t errlen) {
    const bq_search_problem *p = &F->p;
    budget_run *b = &F->B[i];
    bq_search_budget bb = {b->budget, -1};
    bq_ga_params gp;
    bq_ga_params_default(&gp);
    gp.seed = (uint64_t)F->c->seed;
    double t0 = bq_now();
    if (bq_search_ga(p, &bb, &gp, &b->ga, err, errlen)) return -1;
    if (bq_search_exact(p, &bb, b->ga.choice, 0, &b->ex, err, errlen)) return -1;
    double ts = bq_now() - t0;
    F->search_s_max = ts > F->search_s_max ? ts : F->search_s_max;
    if (b->ex.objective > b->ga.objective + 1e-9 * fabs(b->ga.objective)) {
        bq_seterr(err, errlen, "internal error: exact objective %.17g worse than the GA's %.17g",
               b->ex.objective, b->ga.objective);
        return -1;
    }
    b->qb = malloc(sizeof(int) * (size_t)p->n_quants);
    if (!b->qb) { bq_seterr(err, errlen, "out of memory"); return -1; }
    bq_search_choice_bits(p, b->ex.choice, b->qb);
    if (fitting_uniforms(F, b, err, errlen)) return -1;
    snprintf(b->mixed_name, sizeof b->mixed_name, "mixed_%d", i);
    if (b->uw > 0) snprintf(b->uni_name, sizeof b->uni_name, "uniform_W%dA%d", b->uw, b->ua);
    if (write_search(F, b, &bb, err, errlen)) return -1;
    fprintf(stderr, "flow: search %s (%lld cycles): GA %.6g in %.2f s, exact %.6g in %.3f s, "
            "%lld cycles; %d maximal fitting uniform setting(s), first W%dA%d\n", b->label,
            (long long)b->budget, b->ga.objective, b->ga.seconds, b->ex.objective,
            b->ex.seconds, (long long)b->ex.cycles, b->n_ucand, b->uw, b->ua);
    return 0;
}

static int step_search(flow_t *F, char *err, size_t errlen) {
    for (int i = 0; i < F->nb + F->np; i++)
        if (search_budget(F, i, err, errlen)) return -1;
    return 0;
}

/* ---- steps 3-4: reconstruction + integer evaluation of mixed and best uniform ---- */

/* Budget i's mixed model: predictions in F->pm; budget 0's is kept as F->qmain. */
static int recon_mixed(flow_t *F, int i, char *err, size_t errlen) {
    budget_run *b = &F->B[i];
    bq_qmodel qm;
    if (step_reconstruct(F, b->mixed_name, b->qb, &qm, &b->recon_s_mixed, err, errlen))
        return -1;
    if (step_eval(F, b->mixed_name, &qm, F->pm, &b->mixed_top1, err, errlen)) {
        bq_qmodel_free(&qm);
        return -1;
    }
    b->mixed_cyc = exact_latency(F, &qm, i == 0 ? F->per_m : NULL, err, errlen);
    if (b->mixed_cyc < 0) { bq_qmodel_free(&qm); return -1; }
    if (i == 0) { F->qmain = qm; F->have_main = 1; } else bq_qmodel_free(&qm);
    return 0;
}

/* Every maximal fitting uniform setting of budget i; the best by top-1 is the baseline
 * (predictions in F->pu). */
static int recon_uniforms(flow_t *F, int i, char *err, size_t errlen) {
    budget_run *b = &F->B[i];
    int N = F->test.n, rc = -1;
    int *ub = malloc(sizeof(int) * (size_t)F->p.n_quants);
    int32_t *pt = malloc(sizeof(int32_t) * (size_t)N);
    if (!ub || !pt) { bq_seterr(err, errlen, "out of memory"); goto out; }
    double best = -1;
    for (int k = 0; k < b->n_ucand; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "uniform_W%dA%d", b->ucw[k], b->uca[k]);
        bq_search_uniform_bits(&F->p, b->ucw[k], b->uca[k], ub);
        bq_qmodel qu;
        double rs = 0, t1 = 0;
        if (step_reconstruct(F, nm, ub, &qu, &rs, err, errlen)) goto out;
        if (step_eval(F, nm, &qu, pt, &t1, err, errlen)) { bq_qmodel_free(&qu); goto out; }
        b->uc_top1[k] = t1;
        if (t1 > best) {
            best = t1;
            b->uw = b->ucw[k];
            b->ua = b->uca[k];
            b->uni_top1 = t1;
            b->recon_s_uni = rs;
            snprintf(b->uni_name, sizeof b->uni_name, "%s", nm);
            memcpy(F->pu, pt, sizeof(int32_t) * (size_t)N);
            b->uni_cyc = exact_latency(F, &qu, i == 0 ? F->per_u : NULL, err, errlen);
        }
        bq_qmodel_free(&qu);
        if (b->uni_cyc < 0) goto out;
    }
    rc = 0;
out:
    free(ub);
    free(pt);
    return rc;
}

/* Budget i's row of mixed_vs_uniform.json (paired McNemar on the test set). The rows so far are
 * written at once: a long acceptance run reports finished budgets as it goes. */
static int compare_budget(flow_t *F, int i, char *err, size_t errlen) {
    budget_run *b = &F->B[i];
    bq_flow_result *res = F->res;
    int N = F->test.n;
    bq_mp_row *r = &res->rows[res->n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->model, sizeof r->model, "%s", F->fp.arch);
    r->budget_cycles = b->budget;
    r->mixed_cycles = b->mixed_cyc;
    snprintf(r->uniform_setting, sizeof r->uniform_setting, "W%dA%d", b->uw, b->ua);
    r->uniform_cycles = b->uni_cyc;
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)N);
    if (!lab) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int k = 0; k < N; k++) lab[k] = F->test.labels[k];
    bq_mcnemar m;
    bq_mp_row_compare(r, lab, F->pm, F->pu, N, &m);
    free(lab);
    b->p_value = r->p_value;
    char tmp[BQ_FLOW_PATH + 128];
    bq_buf j = {0};
    bq_mp_rows_json(res->rows, res->n_rows, &j);
    pathf(tmp, sizeof tmp, F, "mixed_vs_uniform.json");
    int e = write_buf(tmp, &j, err, errlen);
    bq_buf_free(&j);
    if (e) return -1;
    fprintf(stderr, "flow: budget %s: mixed %.2f %% (%lld cyc) vs uniform W%dA%d %.2f %% "
            "(%lld cyc), McNemar b=%d c=%d p=%.4g\n", b->label, b->mixed_top1,
            (long long)b->mixed_cyc, b->uw, b->ua, b->uni_top1, (long long)b->uni_cyc,
            m.b, m.c, m.p_value);
    return 0;
}

static int step_recon_eval(flow_t *F, char *err, size_t errlen) {
    size_t N = (size_t)F->test.n, nl = (size_t)F->p.n_layers;
    F->pm = malloc(sizeof(int32_t) * N);
    F->pu = malloc(sizeof(int32_t) * N);
    if (!F->pm || !F->pu) { bq_seterr(err, errlen, "out of memory"); return -1; }
    F->per_m = calloc(nl, sizeof(int64_t));
    F->per_u = calloc(nl, sizeof(int64_t));
    F->per_8 = calloc(nl, sizeof(int64_t));
    if (!F->per_m || !F->per_u || !F->per_8) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int i = 0; i < F->nb; i++) {
        if (recon_mixed(F, i, err, errlen)) return -1;
        if (!F->c->uniform_baseline || F->B[i].n_ucand == 0) continue;
        if (recon_uniforms(F, i, err, errlen) || compare_budget(F, i, err, errlen)) return -1;
    }
    return 0;
}

/* ---- step 5: latency table (exact dry run) of W8A8, the main mixed and its uniform ---- */

static int w8a8_cycles(flow_t *F, char *err, size_t errlen) {
    int *ub = malloc(sizeof(int) * (size_t)F->p.n_quants);
    if (!ub) { bq_seterr(err, errlen, "out of memory"); return -1; }
    bq_search_uniform_bits(&F->p, 8, 8, ub);
    F->w8_cyc = alloc_latency(F, ub, F->per_8, err, errlen);
    free(ub);
    return F->w8_cyc < 0 ? -1 : 0;
}

static int step_latency(flow_t *F, char *err, size_t errlen) {
    if (w8a8_cycles(F, err, errlen)) return -1;
    const bq_qmodel *q = &F->qmain;
    const budget_run *b = &F->B[0];
    char tmp[BQ_FLOW_PATH + 128];
    bq_buf j = {0};
    bq_buf_printf(&j, "{\"hw\": \"%s\", \"clock_mhz\": %g, \"w8a8_cycles\": %lld, "
                  "\"mixed_cycles\": %lld, \"uniform\": \"%s\", \"uniform_cycles\": %lld, "
                  "\"layers\": [", F->hw.name, F->hw.clock_mhz, (long long)F->w8_cyc,
                  (long long)b->mixed_cyc, b->uni_name, (long long)b->uni_cyc);
    for (int l = 0; l < F->p.n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        bq_buf_printf(&j, "%s\n  {\"name\": \"%s\", \"wbits\": %d, \"abits\": %d, "
                      "\"w8a8\": %lld, \"mixed\": %lld, \"uniform\": %lld}", l ? "," : "",
                      q->model.nodes[L->node].name, L->wbits, q->aq[L->aq_in].bits,
                      (long long)F->per_8[l], (long long)F->per_m[l], (long long)F->per_u[l]);
    }
    bq_buf_printf(&j, "\n]}\n");
    pathf(tmp, sizeof tmp, F, "latency/latency.json");
    int e = write_buf(tmp, &j, err, errlen);
    bq_buf_free(&j);
    return e;
}

/* ---- step 6: export package of the main mixed model + its check ---- */

static int step_export(flow_t *F, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    char tmp[BQ_FLOW_PATH + 128];
    uint64_t key = hmix(bq_qmodel_hash(&F->qmain), &F->hw.hash, sizeof F->hw.hash);
    key = hmix(key, &c->export_tests, sizeof c->export_tests);
    pathf(tmp, sizeof tmp, F, "export");
    if (step_done(F, "export", key) && file_exists(tmp)) {
        snprintf(F->export_status, sizeof F->export_status, "package `export/` (cached), check "
                 "passed");
        return 0;
    }
    fprintf(stderr, "flow: export package -> %s\n", tmp);
    if (bq_export(&F->qmain, &F->hw, &F->test, c->export_tests, tmp, err, errlen) ||
        bq_export_check(tmp, NULL, NULL, err, errlen) || step_mark(F, "export", key, err, errlen))
        return -1;
    snprintf(F->export_status, sizeof F->export_status, "package `export/` written, check "
             "passed (%d test images, bit-exact layer recompute)", c->export_tests);
    return 0;
}

/* ---- step 7: cosim of the main mixed model (its simulator was checked before step 1) ---- */

static int step_cosim(flow_t *F, char *err, size_t errlen) {
    const bq_flow_cfg *c = F->c;
    if (c->cosim_images == 0) {
        snprintf(F->cosim_status, sizeof F->cosim_status, "off (`cosim_images: 0` in the flow)");
        return 0;
    }
    uint64_t key = hmix(bq_qmodel_hash(&F->qmain), &F->hw.hash, sizeof F->hw.hash);
    key = hmix(key, &c->cosim_images, sizeof c->cosim_images);
    key = hmix(key, &c->export_tests, sizeof c->export_tests);   /* the package it runs */
    if (step_done(F, "cosim", key)) {
        snprintf(F->cosim_status, sizeof F->cosim_status, "passed (cached; `cosim/`)");
        return 0;
    }
    char bin[256], cdir[BQ_FLOW_PATH + 32], qpath[BQ_FLOW_PATH + 128], pdir[BQ_FLOW_PATH + 32],
        cmd[8 * BQ_FLOW_PATH];
    cosim_binary(&F->hw, bin, sizeof bin);
    pathf(cdir, sizeof cdir, F, "cosim");
    pathf(pdir, sizeof pdir, F, "export");
    pathf(qpath, sizeof qpath, F, "models/%s.bqq", F->B[0].mixed_name);
    /* as a board: the accelerator runs step 6's package; the driver checks it against the
     * integer reference of the .bqq (independent of the export code) and its self-test vectors */
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && %s --hw '%s' --qmodel '%s' --package '%s' --images %d "
             "--out '%s' --name '%s' > '%s/cosim.log' 2>&1", cdir, bin, c->hw, qpath, pdir,
             c->cosim_images, cdir, c->name, cdir);
    fprintf(stderr, "flow: cosim: %s\n", cmd);
    int st = system(cmd);
    if (st != 0) {
        F->cosim_failed = 1;
        snprintf(F->cosim_status, sizeof F->cosim_status, "FAILED (exit %d; see "
                 "`cosim/cosim.log`)", st);
        return 0;
    }
    snprintf(F->cosim_status, sizeof F->cosim_status, "passed on %d images from the package "
             "`export/` (`cosim/`)", c->cosim_images);
    return step_mark(F, "cosim", key, err, errlen);
}

/* ---- step 8: RTN front (mixed at every budget vs every uniform setting) ---- */

/* Uniform points up to 5 % above the largest budget (the plot's range). */
static int rtn_uniform_points(flow_t *F, char *err, size_t errlen) {
    const bq_search_space *sp = &F->c->space;
    rtn_front *R = &F->front;
    int *ub = malloc(sizeof(int) * (size_t)F->p.n_quants);
    if (!ub) { bq_seterr(err, errlen, "out of memory"); return -1; }
    int64_t maxb = 0;
    for (int i = 0; i < F->nb + F->np; i++) maxb = F->B[i].budget > maxb ? F->B[i].budget : maxb;
    for (int wi = 0; wi < sp->n_wbits; wi++)
        for (int ai = 0; ai < sp->n_abits && R->nu < 64; ai++) {
            int w = sp->wbits[wi], a = sp->abits[ai];
            bq_search_uniform_bits(&F->p, w, a, ub);
            if ((double)bq_search_total_cycles(&F->p, ub) > 1.05 * (double)maxb) continue;
            double t;
            fprintf(stderr, "flow: RTN front: uniform W%dA%d\n", w, a);
            if (rtn_top1(F, ub, &t, err, errlen)) { free(ub); return -1; }
            R->ux[R->nu] = (double)bq_search_total_cycles(&F->p, ub);
            R->uy[R->nu] = t;
            snprintf(R->ulab_s[R->nu], sizeof R->ulab_s[R->nu], "W%dA%d", w, a);
            R->ulab[R->nu] = R->ulab_s[R->nu];
            R->nu++;
        }
    free(ub);
    return 0;
}

/* Sort points (x[i], y[i]) by x, for a front drawn as a line. */
static void sort_by_x(double *x, double *y, int n) {
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            if (x[k] < x[i]) {
                double t = x[i]; x[i] = x[k]; x[k] = t;
                t = y[i]; y[i] = y[k]; y[k] = t;
            }
}

static int step_rtn_front(flow_t *F, char *err, size_t errlen) {
    if (!F->c->rtn_pareto) return 0;
    rtn_front *R = &F->front;
    for (int i = 0; i < F->nb + F->np; i++) {
        double t;
        fprintf(stderr, "flow: RTN front: mixed %s\n", F->B[i].label);
        if (rtn_top1(F, F->B[i].qb, &t, err, errlen)) return -1;
        F->B[i].mixed_rtn = t;
        R->mx[R->nm] = (double)F->B[i].ex.cycles;
        R->my[R->nm++] = t;
    }
    if (rtn_uniform_points(F, err, errlen)) return -1;
    sort_by_x(R->mx, R->my, R->nm);
    return 0;
}

/* ---- step 9: plots (gnuplot SVGs; a failed plot is noted in the report, not an error) ---- */

/* Accuracy vs cycles: BRECQ mixed vs best uniform at the main budgets; the RTN front. */
static int plot_fronts(flow_t *F, char *e2, size_t n) {
    const bq_flow_cfg *c = F->c;
    char title[400], tmp[BQ_FLOW_PATH + 128];
    int perr = 0;
    double bmx[BQ_FLOW_MAX_BUDGETS], bmy[BQ_FLOW_MAX_BUDGETS], bux[BQ_FLOW_MAX_BUDGETS],
        buy[BQ_FLOW_MAX_BUDGETS];
    const char *bul[BQ_FLOW_MAX_BUDGETS];
    int nbm = 0, nbu = 0;
    for (int i = 0; i < F->nb; i++) {
        const budget_run *b = &F->B[i];
        bmx[nbm] = (double)b->mixed_cyc;
        bmy[nbm++] = b->mixed_top1;
        if (b->uw > 0 && c->uniform_baseline) {
            bux[nbu] = (double)b->uni_cyc;
            buy[nbu] = b->uni_top1;
            bul[nbu++] = b->uni_name + 8;   /* "W2A3" of "uniform_W2A3" */
        }
    }
    sort_by_x(bmx, bmy, nbm);
    bq_plot_series sm = {"mixed (searched, BRECQ)", nbm, bmx, bmy, NULL};
    bq_plot_series su = {"best uniform that fits (BRECQ)", nbu, bux, buy, bul};
    snprintf(title, sizeof title, "%s on %s: BRECQ-reconstructed, integer top-1 on %d test "
             "images", F->fp.arch, F->hw.name, F->test.n);
    pathf(tmp, sizeof tmp, F, "plots/pareto_brecq.svg");
    if (bq_plot_pareto(tmp, title, &sm, &su, e2, n)) perr = 1;
    if (c->rtn_pareto) {
        rtn_front *R = &F->front;
        bq_plot_series rm = {"mixed (searched), RTN", R->nm, R->mx, R->my, NULL};
        bq_plot_series ru = {"uniform, RTN", R->nu, R->ux, R->uy, R->ulab};
        snprintf(title, sizeof title, "%s on %s: round-to-nearest, fake-quant top-1 on %d test "
                 "images", F->fp.arch, F->hw.name, c->rtn_images);
        pathf(tmp, sizeof tmp, F, "plots/pareto_rtn.svg");
        if (bq_plot_pareto(tmp, title, &rm, &ru, e2, n)) perr = 1;
    }
    return perr;
}

/* Per-layer bits and cycles of the main mixed allocation (skipped when out of memory). */
static int plot_layers(flow_t *F, char *e2, size_t n) {
    const bq_qmodel *q = &F->qmain;
    const budget_run *b = &F->B[0];
    int nl = F->p.n_layers, perr = 0;
    char title[400], tmp[BQ_FLOW_PATH + 128];
    const char **names = calloc((size_t)nl, sizeof(char *));
    int *wb = calloc((size_t)nl, sizeof(int)), *ab = calloc((size_t)nl, sizeof(int));
    double *cy = calloc((size_t)nl * 3, sizeof(double));
    if (names && wb && ab && cy) {
        for (int l = 0; l < nl; l++) {
            const bq_qlayer *L = &q->layers[l];
            names[l] = q->model.nodes[L->node].name;
            wb[l] = L->wbits;
            ab[l] = q->aq[L->aq_in].bits;
            cy[l] = (double)F->per_8[l];
            cy[nl + l] = (double)F->per_u[l];
            cy[2 * nl + l] = (double)F->per_m[l];
        }
        snprintf(title, sizeof title, "%s on %s: searched allocation at %s (%lld cycles)",
                 F->fp.arch, F->hw.name, b->label, (long long)b->mixed_cyc);
        pathf(tmp, sizeof tmp, F, "plots/bitmap.svg");
        if (bq_plot_bitmap(tmp, title, nl, names, wb, ab, e2, n)) perr = 1;
        const char *sn[3] = {"W8A8", b->uni_name[0] ? b->uni_name : "uniform (none)",
                             "mixed (searched)"};
        snprintf(title, sizeof title, "%s on %s: cycles per layer (exact dry run)", F->fp.arch,
                 F->hw.name);
        pathf(tmp, sizeof tmp, F, "plots/cycles.svg");
        if (bq_plot_cycles(tmp, title, nl, names, 3, sn, cy, e2, n)) perr = 1;
    }
    free(names); free(wb); free(ab); free(cy);
    return perr;
}

static int step_plots(flow_t *F, char *err, size_t errlen) {
    (void)err; (void)errlen;
    if (!bq_plot_available()) {
        snprintf(F->plot_status, sizeof F->plot_status, "gnuplot not on PATH: no plots");
        return 0;
    }
    char e2[512] = "";   /* the last plot error */
    int perr = plot_fronts(F, e2, sizeof e2);
    perr |= plot_layers(F, e2, sizeof e2);
    snprintf(F->plot_status, sizeof F->plot_status, "%s%s", perr ? "some plots failed: " : "",
             perr ? e2 : "");
    return 0;
}

/* ---- step 10: report.md + mixed_vs_uniform.json ---- */

/* Title and inputs; el: wall time of this invocation so far. */
static void report_header(flow_t *F, double el) {
    const bq_flow_cfg *c = F->c;
    bq_buf *m = &F->md;
    bq_buf_printf(m, "# %s: mixed-precision BRECQ flow\n\n", c->name);
    bq_buf_printf(m, "- flow: `%s`\n- model: `%s` (%s, hash %016llx)\n- accelerator: `%s` "
                  "(%s, %g MHz)\n- recipe: `%s` (method %s, loss %s, iters %d, act_iters %d, "
                  "calib %d)\n- candidates: wbits {", c->path, c->model, F->fp.arch,
                  (unsigned long long)F->model_hash, c->hw, F->hw.name, F->hw.clock_mhz,
                  c->recipe, bq_method_name(F->recipe.method), bq_loss_name(F->recipe.loss),
                  F->recipe.iters, F->recipe.act_iters, F->recipe.calib);
    for (int i = 0; i < c->space.n_wbits; i++)
        bq_buf_printf(m, "%s%d", i ? "," : "", c->space.wbits[i]);
    bq_buf_printf(m, "}, abits {");
    for (int i = 0; i < c->space.n_abits; i++)
        bq_buf_printf(m, "%s%d", i ? "," : "", c->space.abits[i]);
    bq_buf_printf(m, "}; first/last layers 8-bit: %s\n- wall time of this invocation: %.1f s "
                  "(steps found finished were skipped)\n",
                  F->recipe.first_last_8bit ? "yes" : "no", el);
    if (F->test.key) {   /* a dataset YAML (docs/data.md): the data and its label map */
        bq_buf_printf(m, "- data: `%s` (%d calibration, %d evaluation images, %dx%dx%d)",
                      c->data, F->train.n, F->test.n, F->test.c, F->test.h, F->test.w);
        for (int k = 0; F->test.class_names && k < F->test.num_classes; k++)
            bq_buf_printf(m, "%s%d=%s", k ? ", " : "; labels: ", k, F->test.class_names[k]);
        bq_buf_printf(m, "\n");
    }
    bq_buf_printf(m, "\n");
}

/* Sections 1 (sensitivity) and 2 (search). */
static void report_search(flow_t *F) {
    const bq_search_problem *p = &F->p;
    const bq_sens_stats *s = &F->sst;
    bq_buf *m = &F->md;
    bq_buf_printf(m, "## 1. Sensitivity\n\n%d candidates over %d groups, Fisher-weighted "
                  "block-output error on %d calibration images; this run measured %d, took %d "
                  "from the cache (`sensitivity.cache`, key %016llx), %.1f s. "
                  "Details: `sensitivity.json`.\n\n", p->n_cands, p->n_groups, F->c->sens_images,
                  s->measured, s->cached, (unsigned long long)s->key, s->seconds);
    bq_buf_printf(m, "## 2. Search (cost-table latency; exact solver's allocation is used)\n\n"
                  "| budget | cycles | GA objective | GA s | exact objective | exact s | "
                  "allocation cycles | slack | best uniform that fits |\n"
                  "|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < F->nb + F->np; i++) {
        const budget_run *b = &F->B[i];
        bq_buf_printf(m, "| %s%s | %lld | %.6g | %.2f | %.6g | %.3f | %lld | %lld | W%dA%d |\n",
                      b->label, i >= F->nb ? " (front)" : "", (long long)b->budget,
                      b->ga.objective, b->ga.seconds, b->ex.objective, b->ex.seconds,
                      (long long)b->ex.cycles, (long long)b->ex.slack_cycles, b->uw, b->ua);
    }
    bq_buf_printf(m, "\nLongest search (GA + exact) %.2f s. Allocations: "
                  "`search/mixed_*_bits.yaml`, reports `search/mixed_*.json`.\n\n",
                  F->search_s_max);
}

/* Sections 3-4: accuracy of mixed vs best uniform per main budget, and every uniform tried. */
static void report_recon(flow_t *F) {
    bq_buf *m = &F->md;
    int N = F->test.n;
    bq_buf_printf(m, "## 3-4. BRECQ reconstruction and integer evaluation (%d test images)\n\n"
                  "| budget | mixed cycles (dry run) | mixed top-1 | uniform | uniform cycles "
                  "| uniform top-1 | McNemar p | recon s (mixed / uniform, this run) |\n"
                  "|---|---|---|---|---|---|---|---|\n", N);
    for (int i = 0; i < F->nb; i++) {
        const budget_run *b = &F->B[i];
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
    for (int i = 0; i < F->nb; i++) {
        const budget_run *b = &F->B[i];
        bq_buf_printf(m, " %s:", b->label);
        for (int k = 0; k < b->n_ucand; k++)
            bq_buf_printf(m, " W%dA%d %.2f %%%s", b->ucw[k], b->uca[k], b->uc_top1[k],
                          k + 1 < b->n_ucand ? "," : ";");
    }
    bq_buf_printf(m, " McNemar: paired, two-sided, on the same %d images "
                  "(`eval/*.preds`).\n\n", N);
}

/* Section 5: per-layer cycles of W8A8, the main budget's uniform and mixed. */
static void report_latency(flow_t *F) {
    const bq_qmodel *q = &F->qmain;
    const budget_run *b = &F->B[0];
    bq_buf *m = &F->md;
    bq_buf_printf(m, "## 5. Latency (exact dry run, `latency/latency.json`)\n\nW8A8 %lld "
                  "cycles; mixed %lld cycles (%.3fx W8A8, %.1f us at %g MHz).\n\n",
                  (long long)F->w8_cyc, (long long)b->mixed_cyc,
                  (double)b->mixed_cyc / (double)F->w8_cyc,
                  (double)b->mixed_cyc / F->hw.clock_mhz, F->hw.clock_mhz);
    bq_buf_printf(m, "| layer | W | A | W8A8 | %s | mixed |\n|---|---|---|---|---|---|\n",
                  b->uni_name[0] ? b->uni_name : "uniform");
    for (int l = 0; l < F->p.n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        bq_buf_printf(m, "| %s | %d | %d | %lld | %lld | %lld |\n",
                      q->model.nodes[L->node].name, L->wbits, q->aq[L->aq_in].bits,
                      (long long)F->per_8[l], (long long)F->per_u[l], (long long)F->per_m[l]);
    }
}

/* Sections 6-8 (export, cosim, RTN front) and the plots. */
static void report_rest(flow_t *F) {
    const bq_flow_cfg *c = F->c;
    const rtn_front *R = &F->front;
    bq_buf *m = &F->md;
    bq_buf_printf(m, "\n## 6. Export\n\n%s\n\n## 7. Co-simulation\n\ncosim: %s\n\n",
                  F->export_status, F->cosim_status);
    if (c->rtn_pareto) {
        bq_buf_printf(m, "## 8. Round-to-nearest front (no reconstruction; fake-quant top-1 "
                      "on the first %d test images; uniform settings up to 1.05x the largest "
                      "budget)\n\n| allocation | cycles (table) | top-1 "
                      "|\n|---|---|---|\n", c->rtn_images);
        for (int i = 0; i < F->nb + F->np; i++)
            bq_buf_printf(m, "| mixed @ %s | %lld | %.2f %% |\n", F->B[i].label,
                          (long long)F->B[i].ex.cycles, F->B[i].mixed_rtn);
        for (int i = 0; i < R->nu; i++)
            bq_buf_printf(m, "| uniform %s | %.0f | %.2f %% |\n", R->ulab[i], R->ux[i], R->uy[i]);
        bq_buf_printf(m, "\n");
    }
    bq_buf_printf(m, "## Plots\n\n");
    if (F->plot_status[0]) bq_buf_printf(m, "%s\n\n", F->plot_status);
    bq_buf_printf(m, "![accuracy vs cycles, BRECQ](plots/pareto_brecq.svg)\n\n");
    if (c->rtn_pareto) bq_buf_printf(m, "![accuracy vs cycles, RTN](plots/pareto_rtn.svg)\n\n");
    bq_buf_printf(m, "![per-layer bits](plots/bitmap.svg)\n\n![per-layer cycles]"
                  "(plots/cycles.svg)\n");
}

static int write_report(flow_t *F, char *err, size_t errlen) {
    double el = bq_now() - F->t0;
    char tmp[BQ_FLOW_PATH + 128];
    report_header(F, el);
    report_search(F);
    report_recon(F);
    report_latency(F);
    report_rest(F);
    /* report.md last (an older one removed first): it exists only when the whole flow
     * succeeded, so a failure here (out of memory) never leaves a report without its JSON */
    pathf(tmp, sizeof tmp, F, "report.md");
    if (unlink(tmp) && errno != ENOENT) {
        bq_seterr(err, errlen, "%s: cannot remove the old report: %s", tmp, strerror(errno));
        return -1;
    }
    bq_buf j = {0};
    bq_mp_rows_json(F->res->rows, F->res->n_rows, &j);
    pathf(tmp, sizeof tmp, F, "mixed_vs_uniform.json");
    int e = write_buf(tmp, &j, err, errlen);
    bq_buf_free(&j);
    if (e) return -1;
    pathf(tmp, sizeof tmp, F, "report.md");
    if (write_buf(tmp, &F->md, err, errlen)) return -1;
    fprintf(stderr, "flow: done in %.1f s: %s/report.md\n", el, F->c->out);
    return 0;
}

/* ======================================================================= 4. run */

typedef int (*flow_step)(flow_t *F, char *err, size_t errlen);

/* In order; the first failing step ends the run. */
static const flow_step kSteps[] = {
    open_folders, load_inputs, build_problem, resolve_budgets, check_simulator,
    step_sensitivity, step_search, step_recon_eval, step_latency, step_export, step_cosim,
    step_rtn_front, step_plots, write_report,
};

int bq_flow_run(const bq_flow_cfg *c, bq_flow_result *res, char *err, size_t errlen) {
    flow_t F;
    memset(&F, 0, sizeof F);
    F.t0 = bq_now();
    F.c = c;
    F.res = res;
    memset(res, 0, sizeof *res);
    snprintf(F.dir, sizeof F.dir, "%s", c->out);
    int rc = 0;
    for (size_t i = 0; i < sizeof kSteps / sizeof kSteps[0] && rc == 0; i++)
        rc = kSteps[i](&F, err, errlen) ? -1 : 0;
    if (rc == 0) {
        res->seconds = bq_now() - F.t0;
        if (F.cosim_failed) {
            bq_seterr(err, errlen, "%s: cosim FAILED: the RTL disagrees with the integer reference "
                      "or the latency model; see %s/cosim/cosim.log (report: %s/report.md)",
                      c->path, c->out, c->out);
            rc = -1;
        }
    }
    flow_free(&F);
    return rc;
}
