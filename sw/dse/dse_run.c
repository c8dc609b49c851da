/*
 * dse_run.c — preparing a sweep (grid, models, sensitivities, budgets) and running one unit
 * (config x model: cost table, exact search per budget) into its point file. See dse.h.
 */
#include "core/errmsg.h"
#include "core/fileio.h"
#include "dse/dse.h"
#include "io/model_io.h"
#include "io/onnx_import.h"
#include "nn/data.h"
#include "quant/recipe.h"
#include "search/sensitivity.h"

#include <math.h>
#include <signal.h>
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

/* strncpy that always terminates (the source may alias the same struct, so no snprintf). */
static void copy_str(char *dst, size_t n, const char *src) {
    size_t l = strnlen(src, n - 1);
    memmove(dst, src, l);
    dst[l] = 0;
}

static int load_float_model(bq_model *m, const char *path, char *err, size_t errlen) {
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".onnx") == 0) return bq_onnx_load(m, path, NULL, err, errlen);
    return bq_model_load(m, path, err, errlen);
}

/* "configs/models/fres20.bqm" -> "fres20" */
static void model_label(const char *path, char *dst, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t l = strcspn(b, ".");
    snprintf(dst, n, "%.*s", (int)(l < n - 1 ? l : n - 1), b);
}

/* The search problem of model M on accelerator cfg (sensitivities NaN, finalized). 0; -1 when
 * the config cannot run the model (the scheduler rejects a layer: a unit's result); -2 on any
 * other failure (out of memory: an error; the model's problem was built once on the base). */
static int build_problem(const bq_dse_spec *s, const bq_dse_model *M, const bq_hwcfg *cfg,
                         bq_costtab *tab, bq_search_problem *p, char *err, size_t errlen) {
    int rc = bq_costtab_build(tab, cfg, &M->net, err, errlen);
    if (rc) return rc == -1 ? -1 : -2;
    if (bq_search_from_qmodel(p, &M->q, tab, cfg->clock_mhz, &s->space, err, errlen)) {
        bq_costtab_free(tab);
        return -2;
    }
    if (bq_search_finalize(p, err, errlen)) {
        bq_search_free(p);
        bq_costtab_free(tab);
        return -2;
    }
    return 0;
}

/* Resolve budget j of M: cycle budgets stay cycles; time budgets ("us", "ms", and "x" of the
 * base's W8A8 latency) become microseconds, so a swept clock changes the cycles they allow. */
static int resolve_budget(bq_dse *d, bq_dse_model *M, int j, char *err, size_t errlen) {
    const char *e = d->spec.budgets[j];
    bq_dse_budget *b = &M->budgets[j];
    int64_t cyc;
    char e2[512];
    if (bq_budget_parse(e, d->base.clock_mhz, M->base_w8a8, &cyc, e2, sizeof e2)) {
        bq_seterr(err, errlen, "%s: 'budgets' entry %d: %s", d->spec.path, j + 1, e2);
        return -1;
    }
    copy_str(b->expr, sizeof b->expr, e);
    char *end;
    double v = strtod(e, &end);
    while (*end == ' ') end++;
    if (*end == 0 || strncmp(end, "cyc", 3) == 0) { b->is_cycles = 1; b->cycles = cyc; }
    else if (strcmp(end, "x") == 0) b->us = v * (double)M->base_w8a8 / d->base.clock_mhz;
    else if (strcmp(end, "ms") == 0) b->us = v * 1000.0;
    else b->us = v;
    return 0;
}

/* The sensitivity cache's text format is matched candidate by candidate on reading (quadratic in
 * a group's candidates: ~100 s for mbv2t's 19536 here), which every rerun and every MPI rank would
 * pay. So the filled array is also kept as <cache>.v: "BQDSESV1", n_cands, the FNV-1a hash of the
 * cache file's bytes (its header holds the sensitivity key: model, calibration, candidate sets),
 * then the doubles. It is used only while that cache file is unchanged and complete. */
static uint64_t file_hash(const char *path) {
    unsigned char *b = NULL;
    size_t n = 0;
    char e[256];
    if (bq_read_file(path, &b, &n, e, sizeof e)) return 0;
    uint64_t h = bq_fnv1a64(b, n, BQ_FNV_INIT);
    free(b);
    return h;
}

static int sens_fast_read(const char *cache, double *sens, int n) {
    char path[BQ_DSE_PATH + 128];
    snprintf(path, sizeof path, "%s.v", cache);
    unsigned char *b = NULL;
    size_t len = 0;
    char e[256];
    if (bq_read_file(path, &b, &len, e, sizeof e)) return -1;
    int ok = len == 24 + sizeof(double) * (size_t)n && memcmp(b, "BQDSESV1", 8) == 0;
    uint64_t h = 0, nn = 0;
    if (ok) { memcpy(&nn, b + 8, 8); memcpy(&h, b + 16, 8); }
    ok = ok && nn == (uint64_t)n && h != 0 && h == file_hash(cache);
    if (ok) memcpy(sens, b + 24, sizeof(double) * (size_t)n);
    free(b);
    return ok ? 0 : -1;
}

static int sens_fast_write(const char *cache, const double *sens, int n, char *err, size_t errlen) {
    char path[BQ_DSE_PATH + 128];
    snprintf(path, sizeof path, "%s.v", cache);
    uint64_t h = file_hash(cache), nn = (uint64_t)n;
    if (h == 0) return 0;   /* no cache file (nothing to key by): no fast copy */
    bq_buf b = {0};
    bq_buf_put(&b, "BQDSESV1", 8);
    bq_buf_put(&b, &nn, 8);
    bq_buf_put(&b, &h, 8);
    bq_buf_put(&b, sens, sizeof(double) * (size_t)n);
    int rc = b.oom ? (bq_seterr(err, errlen, "dse: out of memory"), -1)
                   : bq_write_file_atomic(path, b.data, b.len, err, errlen);
    bq_buf_free(&b);
    return rc;
}

/* Sensitivities of model m, measured once on the base config's problem (they depend on the
 * quantizer placement and candidate sets only, not on the accelerator), cached in <out>/sens/.
 * train == NULL: only from the fast copy; returns 1 when they must be measured (pixels needed). */
static int measure_model(bq_dse *d, int m, const bq_dataset *train, char *err, size_t errlen) {
    bq_dse_model *M = &d->models[m];
    bq_costtab tab;
    bq_search_problem p;
    if (build_problem(&d->spec, M, &d->base, &tab, &p, err, errlen)) return -1;
    int rc = -1;
    int *qb = malloc(sizeof(int) * (size_t)p.n_quants);
    free(M->sens);   /* a second call (after the pixels were read) */
    M->sens = malloc(sizeof(double) * (size_t)p.n_cands);
    if (!qb || !M->sens) { bq_seterr(err, errlen, "dse: out of memory"); goto done; }
    bq_search_uniform_bits(&p, 8, 8, qb);
    M->base_w8a8 = bq_search_total_cycles(&p, qb);
    char cache[BQ_DSE_PATH + 96];
    snprintf(cache, sizeof cache, "%s/sens/%s-%016llx.cache", d->spec.out, M->label,
             (unsigned long long)M->hash);
    bq_sens_opts so;
    bq_sens_opts_default(&so);
    so.n_images = d->spec.sens_images;
    so.cache_path = cache;
    M->n_cands = p.n_cands;
    if (sens_fast_read(cache, M->sens, p.n_cands)) {
        if (!train) { rc = 1; goto done; }
        if (bq_sensitivity_fill(&p, &M->fp, train, &so, NULL, err, errlen)) goto done;
        for (int c = 0; c < p.n_cands; c++) M->sens[c] = p.cands[c].sens;
        if (sens_fast_write(cache, M->sens, p.n_cands, err, errlen)) goto done;
    }
    M->sens_hash = bq_fnv1a64(M->sens, sizeof(double) * (size_t)p.n_cands, BQ_FNV_INIT);
    rc = 0;
    for (int j = 0; j < d->n_budgets && rc == 0; j++) rc = resolve_budget(d, M, j, err, errlen);
done:
    free(qb);
    bq_search_free(&p);
    bq_costtab_free(&tab);
    return rc;
}

static int load_model(bq_dse *d, int m, char *err, size_t errlen) {
    bq_dse_model *M = &d->models[m];
    copy_str(M->path, sizeof M->path, d->spec.models[m]);
    model_label(M->path, M->label, sizeof M->label);
    for (int k = 0; k < m; k++)
        if (strcmp(d->models[k].label, M->label) == 0) {
            bq_seterr(err, errlen, "%s: 'models' entries %d and %d are both named '%s'; give the "
                      "files different names", d->spec.path, k + 1, m + 1, M->label);
            return -1;
        }
    if (load_float_model(&M->fp, M->path, err, errlen)) return -1;
    bq_qmodel_opts qo = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    if (bq_qmodel_init(&M->q, &M->fp, &qo, err, errlen)) { bq_model_free(&M->fp); return -1; }
    if (bq_search_hw_net(&M->net, &M->q, d->base.window_bytes > 0, err, errlen)) {
        bq_qmodel_free(&M->q);
        bq_model_free(&M->fp);
        return -1;
    }
    M->loaded = 1;
    M->hash = bq_model_hash(&M->fp);
    return 0;
}

static int make_folders(const bq_dse_spec *s, char *err, size_t errlen) {
    static const char *const sub[] = {"", "/points", "/sens", "/bits", "/brecq", "/synth"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        char p[BQ_DSE_PATH + 16];
        snprintf(p, sizeof p, "%s%s", s->out, sub[i]);
        if (bq_mkdirs(p)) {
            bq_seterr(err, errlen, "%s: 'out' %s: cannot create the run folder; pick a writable "
                      "path", s->path, p);
            return -1;
        }
    }
    return 0;
}

int bq_dse_prepare(bq_dse *d, const bq_dse_spec *s, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->spec = *s;
    d->n_budgets = s->n_budgets;
    char e2[768];
    if (bq_hwcfg_load(&d->base, s->base, e2, sizeof e2)) {
        bq_seterr(err, errlen, "%s: 'base': %s", s->path, e2);
        return -1;
    }
    if (s->brecq_recipe[0]) {   /* a bad recipe is found now, not after every unit has run */
        bq_recipe r;
        if (bq_recipe_load(&r, s->brecq_recipe, e2, sizeof e2)) {
            bq_seterr(err, errlen, "%s: 'brecq_recipe': %s", s->path, e2);
            return -1;
        }
    }
    if (bq_dse_expand(s, &d->base, &d->cfgs, &d->n_cfg, err, errlen)) return -1;
    for (int c = 0; c < d->n_cfg; c++) d->n_valid += d->cfgs[c].valid;
    if (make_folders(s, err, errlen)) return -1;
    for (int m = 0; m < s->n_models; m++) {
        if (load_model(d, m, err, errlen)) return -1;
        d->n_models = m + 1;
    }
    d->n_units = d->n_models * d->n_cfg;
    bq_dataset train;
    if (bq_dataset_open(&train, s->data[0] ? s->data : NULL, "train", err, errlen)) return -1;
    int rc = 0, need[BQ_DSE_MAX_MODELS] = {0}, any = 0;
    for (int m = 0; m < d->n_models && rc == 0; m++)
        rc = bq_dataset_check_model(&train, &d->models[m].fp, 0, err, errlen);
    /* the pixels (60k images decoded) only when some model must be measured */
    for (int m = 0; m < d->n_models && rc == 0; m++) {
        need[m] = measure_model(d, m, NULL, err, errlen);
        if (need[m] < 0) rc = -1;
        any |= need[m] > 0;
    }
    if (rc == 0 && any) rc = bq_dataset_read(&train, err, errlen);
    for (int m = 0; m < d->n_models && rc == 0; m++)
        if (need[m] > 0) rc = measure_model(d, m, &train, err, errlen);
    bq_dataset_free(&train);
    return rc;
}

void bq_dse_free(bq_dse *d) {
    for (int m = 0; m < d->n_models; m++) {
        bq_dse_model *M = &d->models[m];
        free(M->sens);
        if (!M->loaded) continue;
        bq_hw_net_free(&M->net);
        bq_qmodel_free(&M->q);
        bq_model_free(&M->fp);
    }
    free(d->cfgs);
    memset(d, 0, sizeof *d);
}

/* Budget j of model M in cycles on cfg (time budgets rounded down: an upper bound). */
static int64_t budget_cycles(const bq_dse_model *M, int j, const bq_hwcfg *cfg) {
    const bq_dse_budget *b = &M->budgets[j];
    return b->is_cycles ? b->cycles : (int64_t)floor(b->us * cfg->clock_mhz + 1e-9);
}

void bq_dse_unit_key(const bq_dse *d, int u, char key[17]) {
    const bq_dse_model *M = &d->models[u / d->n_cfg];
    const bq_hwcfg *cfg = &d->cfgs[u % d->n_cfg].cfg;
    char text[2048];
    int n = bq_hwcfg_canonical(cfg, text, sizeof text);
    uint64_t h = bq_fnv1a64(text, (size_t)(n < (int)sizeof text ? n : (int)sizeof text - 1), BQ_FNV_INIT);
    int64_t v[4 + BQ_DSE_MAX_BUDGETS] = {BQ_DSE_VERSION, (int64_t)M->hash, (int64_t)M->sens_hash,
                                         d->n_budgets};
    for (int j = 0; j < d->n_budgets; j++) v[4 + j] = budget_cycles(M, j, cfg);
    h = bq_fnv1a64(v, sizeof v, h);
    h = bq_fnv1a64(&d->spec.space, sizeof d->spec.space, h);
    snprintf(key, 17, "%016llx", (unsigned long long)h);
}

void bq_dse_unit_path(const bq_dse *d, int u, char *path, size_t n) {
    char key[17];
    bq_dse_unit_key(d, u, key);
    snprintf(path, n, "%s/points/%s.pt", d->spec.out, key);
}

int bq_dse_unit_done(const bq_dse *d, int u) {
    if (!d->cfgs[u % d->n_cfg].valid) return 1;
    char path[BQ_DSE_PATH + 64];
    struct stat st;
    bq_dse_unit_path(d, u, path, sizeof path);
    return stat(path, &st) == 0;
}

/* The exact search under budget j; appends its "budget" line to the point file and writes the
 * allocation as a bits.yaml named by (model, allocation hash): identical allocations share one
 * file, which is also the key a BRECQ run of that allocation is cached by (docs/dse.md). */
static int search_budget(const bq_dse *d, const bq_dse_model *M, const bq_search_problem *p,
                         int j, int64_t bc, int64_t min_cyc, int *qb, bq_buf *pt, char *err,
                         size_t errlen) {
    if (bc < min_cyc) {
        bq_buf_printf(pt, "budget %d %lld 0 0 0 0 -\n", j, (long long)bc);
        return 0;
    }
    bq_search_budget b = {bc, -1};
    bq_search_result r;
    if (bq_search_exact(p, &b, NULL, 0, &r, err, errlen)) return -1;
    bq_search_choice_bits(p, r.choice, qb);
    uint64_t ah = bq_fnv1a64(qb, sizeof(int) * (size_t)p->n_quants, M->hash);
    bq_buf_printf(pt, "budget %d %lld 1 %.17g %lld %lld %016llx\n", j, (long long)bc, r.objective,
                  (long long)r.cycles, (long long)r.size_bits, (unsigned long long)ah);
    char path[BQ_DSE_PATH + 128];
    snprintf(path, sizeof path, "%s/bits/%s-%016llx.yaml", d->spec.out, M->label,
             (unsigned long long)ah);
    struct stat st;
    if (stat(path, &st) == 0) return 0;
    bq_buf y = {0};
    char comment[160];
    snprintf(comment, sizeof comment, "brecq dse: %s, exact search, %lld cycles", M->label,
             (long long)r.cycles);
    bq_search_bits_yaml(p, qb, comment, &y);
    int rc = y.oom ? (bq_seterr(err, errlen, "dse: out of memory"), -1)
                   : bq_write_file_atomic(path, y.data, y.len, err, errlen);
    bq_buf_free(&y);
    return rc;
}

/* Body of a unit's point file after its header: the table, then one line per budget. A cost
 * table the scheduler rejects is a finished result ("status error"), not a failure; running out
 * of memory is a failure (no point file: a rerun computes the unit). */
static int unit_body(const bq_dse *d, int u, bq_buf *pt, char *err, size_t errlen) {
    const bq_dse_model *M = &d->models[u / d->n_cfg];
    const bq_hwcfg *cfg = &d->cfgs[u % d->n_cfg].cfg;
    bq_costtab tab;
    bq_search_problem p;
    char why[512];
    int b = build_problem(&d->spec, M, cfg, &tab, &p, why, sizeof why);
    if (b == -2) {
        bq_seterr(err, errlen, "dse: %s on %s: %s", M->label, cfg->name, why);
        return -1;
    }
    if (b) {
        why[strcspn(why, "\n")] = 0;
        bq_buf_printf(pt, "status error\nerror %s\n", why);
        return 0;
    }
    int rc = -1;
    int *qb = malloc(sizeof(int) * (size_t)p.n_quants);
    if (!qb) { bq_seterr(err, errlen, "dse: out of memory"); goto done; }
    if (p.n_cands != M->n_cands) {
        bq_seterr(err, errlen, "dse: internal error: %s has %d candidates on %s, %d on the base",
                  M->label, p.n_cands, cfg->name, M->n_cands);
        goto done;
    }
    for (int c = 0; c < p.n_cands; c++) p.cands[c].sens = M->sens[c];
    bq_search_uniform_bits(&p, 8, 8, qb);
    int64_t w8a8 = bq_search_total_cycles(&p, qb), min_cyc = bq_search_min_cycles(&p);
    bq_buf_printf(pt, "status ok\nw8a8 %lld\nmin %lld\n", (long long)w8a8, (long long)min_cyc);
    rc = 0;
    for (int j = 0; j < d->n_budgets && rc == 0; j++)
        rc = search_budget(d, M, &p, j, budget_cycles(M, j, cfg), min_cyc, qb, pt, err, errlen);
done:
    free(qb);
    bq_search_free(&p);
    bq_costtab_free(&tab);
    return rc;
}

int bq_dse_run_unit(const bq_dse *d, int u, double *seconds, char *err, size_t errlen) {
    double t0 = now_s();
    char key[17], path[BQ_DSE_PATH + 64];
    bq_dse_unit_key(d, u, key);
    bq_dse_unit_path(d, u, path, sizeof path);
    bq_buf body = {0}, pt = {0};
    int rc = unit_body(d, u, &body, err, errlen);
    *seconds = now_s() - t0;
    if (rc == 0) {
        bq_buf_printf(&pt, "brecq-dse-point %d %s\nunit %s %s\nseconds %.3f\n", BQ_DSE_VERSION, key,
                      d->models[u / d->n_cfg].label, d->cfgs[u % d->n_cfg].cfg.name, *seconds);
        bq_buf_put(&pt, body.data, body.len);
        rc = pt.oom || body.oom ? (bq_seterr(err, errlen, "dse: out of memory"), -1)
                                : bq_write_file_atomic(path, pt.data, pt.len, err, errlen);
    }
    bq_buf_free(&body);
    bq_buf_free(&pt);
    return rc;
}

int bq_dse_run_serial(bq_dse *d, char *err, size_t errlen) {
    int pending = 0, done = 0, total = d->n_models * d->n_valid;
    for (int u = 0; u < d->n_units; u++) pending += !bq_dse_unit_done(d, u);
    fprintf(stderr, "dse: %d configs (%d valid) x %d model(s): %d units, %d to run, %d finished "
            "earlier\n", d->n_cfg, d->n_valid, d->n_models, total, pending, total - pending);
    /* test hook (tests/dse/test_dse.sh): SIGKILL after this many units, exactly as a kill between
     * two point files; a kill timed from outside races the sweep on a loaded machine */
    const char *kill_after = getenv("BQ_DSE_KILL_AFTER");
    int kill_at = kill_after ? atoi(kill_after) : 0;
    for (int u = 0; u < d->n_units; u++) {
        if (bq_dse_unit_done(d, u)) continue;
        double s;
        if (bq_dse_run_unit(d, u, &s, err, errlen)) return -1;
        fprintf(stderr, "dse: unit %d/%d %s on %s: %.2f s\n", ++done, pending,
                d->models[u / d->n_cfg].label, d->cfgs[u % d->n_cfg].cfg.name, s);
        if (kill_at > 0 && done == kill_at) raise(SIGKILL);
    }
    if (bq_dse_acc_serial(d, err, errlen)) return -1;
    if (bq_dse_synth_serial(d, err, errlen)) return -1;
    return bq_dse_merge(d, err, errlen);
}
