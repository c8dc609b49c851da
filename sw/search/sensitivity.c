/*
 * sensitivity.c — per-group Fisher-weighted reconstruction error of candidate bit assignments
 * (see sensitivity.h and docs/flow.md §1).
 */
#include "core/progress.h"
#include "core/errmsg.h"
#include "search/sensitivity.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/exec.h"
#include "core/fileio.h"
#include "io/model_io.h"
#include "quant/qmodel.h"
#include "quant/quant.h"
#include "quant/reconstruct.h"

#define BQ_SENS_INIT_IMAGES 16   /* images of the activation range init */

void bq_sens_opts_default(bq_sens_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_images = 64;
    o->calib_seed = 0;
    o->p = BQ_RANGE_P;
    o->first_last_8bit = 1;
    o->cache_path = NULL;
    o->progress = 1;
}

uint64_t bq_sensitivity_key(const bq_search_problem *p, const bq_model *fp, const bq_sens_opts *o,
                            const int *calib_idx) {
    uint64_t h = BQ_FNV_INIT;
    int v = BQ_SENS_VERSION;
    uint64_t mh = bq_model_hash(fp);
    h = bq_fnv1a64(&v, sizeof v, h);
    h = bq_fnv1a64(&mh, sizeof mh, h);
    h = bq_fnv1a64(&o->n_images, sizeof o->n_images, h);
    h = bq_fnv1a64(calib_idx, sizeof(int) * (size_t)o->n_images, h);
    h = bq_fnv1a64(&o->p, sizeof o->p, h);
    h = bq_fnv1a64(&o->first_last_8bit, sizeof o->first_last_8bit, h);
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_group *G = &p->groups[g];
        h = bq_fnv1a64(G->name, strlen(G->name) + 1, h);
        for (int k = 0; k < G->n_q; k++) {
            const bq_search_quant *Q = &p->quants[G->q[k]];
            h = bq_fnv1a64(Q->name, strlen(Q->name) + 1, h);
            h = bq_fnv1a64(&Q->kind, sizeof Q->kind, h);
            h = bq_fnv1a64(Q->bits, sizeof(int) * (size_t)Q->n_bits, h);
        }
    }
    return h;
}

/* ---- units (the same split as the BRECQ engine's block methods, reconstruct.c) ---- */

typedef struct {
    int in, hi;          /* unit input node, output node */
    char name[BQ_NAME_LEN];
} sunit;

static int list_units(const bq_qmodel *q, sunit *u, int cap) {
    const bq_model *m = &q->model;
    int nu = 0;
    for (int i = 0; i < m->n_nodes && nu < cap; i++) {
        const bq_node *nd = &m->nodes[i];
        if (nd->block >= 0) {
            const bq_block *b = &m->blocks[nd->block];
            if (i != b->first) continue;
            u[nu].in = b->input;
            u[nu].hi = b->last;
            snprintf(u[nu].name, sizeof u[nu].name, "%s", b->name);
            nu++;
            continue;
        }
        int l = q->node_layer[i];
        if (l < 0 || q->layers[l].first) continue;
        u[nu].in = nd->in[0];
        u[nu].hi = i;
        int cons = 0, only = -1;
        for (int j = i + 1; j < m->n_nodes; j++)
            for (int k = 0; k < 2; k++)
                if (m->nodes[j].in[k] == i) { cons++; only = j; }
        if (cons == 1) {
            bq_op_kind k = m->nodes[only].kind;
            if (k == BQ_OP_RELU || k == BQ_OP_RELU6 || k == BQ_OP_CLAMP) u[nu].hi = only;
        }
        snprintf(u[nu].name, sizeof u[nu].name, "%s", nd->name);
        nu++;
    }
    return nu;
}

/* ---- cache file ----
 *   brecq-sensitivity <version> <key hex>
 *   group <name> <n>
 *   <b0>,<b1>,... <sens %.17g>        (n lines; bits in the order of groups[g].q; "-" if none)
 */

static void cand_bits_str(const bq_search_problem *p, const bq_search_cand *c, char *s, size_t n) {
    const bq_search_group *G = &p->groups[c->group];
    size_t o = 0;
    s[0] = 0;
    if (G->n_q == 0) { snprintf(s, n, "-"); return; }
    for (int k = 0; k < G->n_q && o + 4 < n; k++)
        o += (size_t)snprintf(s + o, n - o, "%s%d", k ? "," : "", c->bits[k]);
}

static int cache_write(const char *path, const bq_search_problem *p, uint64_t key,
                       const unsigned char *done, char *err, size_t errlen) {
    bq_buf b = {0};
    bq_buf_printf(&b, "brecq-sensitivity %d %016llx\n", BQ_SENS_VERSION, (unsigned long long)key);
    for (int g = 0; g < p->n_groups; g++) {
        if (!done[g]) continue;
        const bq_search_group *G = &p->groups[g];
        bq_buf_printf(&b, "group %s %d\n", G->name, G->n_cand);
        for (int c = 0; c < G->n_cand; c++) {
            const bq_search_cand *C = bq_search_cand_of(p, g, c);
            char bs[64];
            cand_bits_str(p, C, bs, sizeof bs);
            bq_buf_printf(&b, "%s %.17g\n", bs, C->sens);
        }
    }
    int rc;
    if (b.oom) rc = (bq_seterr(err, errlen, "sensitivity cache: out of memory"), -1);
    else if (bq_mkdirs_parent(path))   /* a cache in its own folder (build/cache/) may be new */
        rc = (bq_seterr(err, errlen, "%s: cannot create its folder: %s", path, strerror(errno)), -1);
    else rc = bq_write_file_atomic(path, b.data, b.len, err, errlen);
    bq_buf_free(&b);
    return rc;
}

/* Fill NaN sensitivities from the cache when its key matches. Marks groups fully filled. */
static int cache_read(const char *path, bq_search_problem *p, uint64_t key, int *n_filled) {
    unsigned char *data = NULL;
    size_t len = 0;
    char e[256];
    *n_filled = 0;
    if (bq_read_file(path, &data, &len, e, sizeof e)) return 0;   /* no cache yet */
    char *text = malloc(len + 1);
    if (!text) { free(data); return -1; }
    memcpy(text, data, len);
    text[len] = 0;
    free(data);
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    int ver = 0;
    unsigned long long k = 0;
    if (!line || sscanf(line, "brecq-sensitivity %d %llx", &ver, &k) != 2 ||
        ver != BQ_SENS_VERSION || (uint64_t)k != key) {
        free(text);
        return 0;   /* stale: ignored, replaced by the next write */
    }
    int g = -1;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char name[BQ_SEARCH_NAME_MAX + 8];
        int n;
        if (strncmp(line, "group ", 6) == 0) {
            g = -1;
            if (sscanf(line, "group %55s %d", name, &n) != 2) continue;
            for (int i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].name, name) == 0) g = i;
            continue;
        }
        if (g < 0) continue;
        char bs[64];
        double s;
        if (sscanf(line, "%63s %lg", bs, &s) != 2 || !isfinite(s)) continue;
        const bq_search_group *G = &p->groups[g];
        for (int c = 0; c < G->n_cand; c++) {
            bq_search_cand *C = &p->cands[G->cand_off + c];
            char cb[64];
            cand_bits_str(p, C, cb, sizeof cb);
            if (strcmp(cb, bs) == 0 && isnan(C->sens)) {
                C->sens = s;
                (*n_filled)++;
                break;
            }
        }
    }
    free(text);
    return 0;
}

/* ---- measurement context ---- */

typedef struct {
    bq_qmodel q;
    int N;
    int nb;                              /* bit-widths tabulated: 1..8 */
    /* per layer l and bits b: scale/zero/codes of the RTN weights */
    float **wscale;                      /* [l*9 + b] */
    int32_t **wzero;
    uint8_t **wcodes;
    float *ascale;                       /* [a*9 + b] */
    int32_t *azero;
    bq_exec ex;                          /* FP activations of the calibration images */
    sunit units[256];
    int nu;
    float **fisher;                      /* [unit] (N, size of out node) */
    float *xin, *yout;                   /* scratch */
} sctx;

static void sctx_free(sctx *c) {
    int L = c->q.n_layers;
    /* the three tables are allocated one after the other: any of them may be missing after an
     * allocation failure */
    for (int i = 0; i < L * 9; i++) {
        if (c->wscale) free(c->wscale[i]);
        if (c->wzero) free(c->wzero[i]);
        if (c->wcodes) free(c->wcodes[i]);
    }
    free(c->wscale); free(c->wzero); free(c->wcodes);
    free(c->ascale); free(c->azero);
    if (c->fisher)
        for (int u = 0; u < c->nu; u++) free(c->fisher[u]);
    free(c->fisher);
    free(c->xin); free(c->yout);
    bq_exec_free(&c->ex);
    bq_qmodel_free(&c->q);
}

/* Put layer l at weight bits b (tabulated RTN weights). */
static void set_w(sctx *c, int l, int b) {
    bq_qlayer *L = &c->q.layers[l];
    size_t nw = (size_t)L->cout * L->per_out;
    L->wbits = b;
    memcpy(L->scale, c->wscale[l * 9 + b], sizeof(float) * (size_t)L->cout);
    memcpy(L->zero, c->wzero[l * 9 + b], sizeof(int32_t) * (size_t)L->cout);
    memcpy(L->codes, c->wcodes[l * 9 + b], nw);
}

static void set_a(sctx *c, int a, int b) {
    bq_aquant *A = &c->q.aq[a];
    A->bits = b;
    if (b > 0) {
        A->scale = c->ascale[a * 9 + b];
        A->zero = c->azero[a * 9 + b];
        A->initialized = 1;
    }
}

static int prepare(sctx *c, const bq_search_problem *p,
                   const bq_dataset *train, const bq_sens_opts *o, const int *idx, char *err,
                   size_t errlen) {
    bq_qmodel *q = &c->q;
    const bq_model *m = &q->model;
    int N = c->N = o->n_images;
    int need[9] = {0};
    need[8] = 1;
    for (int i = 0; i < p->n_quants; i++)
        for (int k = 0; k < p->quants[i].n_bits; k++) {
            int b = p->quants[i].bits[k];
            if (b < BQ_QBITS_MIN) {
                bq_seterr(err, errlen, "sensitivity: quantizer '%s' allows %d bits; the quantizers "
                       "take %d..%d bits", p->quants[i].name, b, BQ_QBITS_MIN, BQ_QBITS_MAX);
                return -1;
            }
            need[b] = 1;
        }
    /* weights: RTN at every needed bit-width */
    int L = q->n_layers;
    c->wscale = calloc((size_t)L * 9, sizeof(float *));
    c->wzero = calloc((size_t)L * 9, sizeof(int32_t *));
    c->wcodes = calloc((size_t)L * 9, sizeof(uint8_t *));
    c->ascale = calloc((size_t)q->n_aq * 9, sizeof(float));
    c->azero = calloc((size_t)q->n_aq * 9, sizeof(int32_t));
    if (!c->wscale || !c->wzero || !c->wcodes || !c->ascale || !c->azero) goto oom;
    int save_bits[1024];
    if (L > 1024) { bq_seterr(err, errlen, "sensitivity: more than 1024 layers"); return -1; }
    for (int l = 0; l < L; l++) save_bits[l] = q->layers[l].wbits;
    for (int b = 2; b <= 8; b++) {
        if (!need[b]) continue;
        for (int l = 0; l < L; l++) q->layers[l].wbits = b;
        bq_qmodel_init_weights(q, o->p);
        for (int l = 0; l < L; l++) {
            bq_qlayer *Q = &q->layers[l];
            size_t nw = (size_t)Q->cout * Q->per_out;
            int i = l * 9 + b;
            c->wscale[i] = malloc(sizeof(float) * (size_t)Q->cout);
            c->wzero[i] = malloc(sizeof(int32_t) * (size_t)Q->cout);
            c->wcodes[i] = malloc(nw);
            if (!c->wscale[i] || !c->wzero[i] || !c->wcodes[i]) goto oom;
            memcpy(c->wscale[i], Q->scale, sizeof(float) * (size_t)Q->cout);
            memcpy(c->wzero[i], Q->zero, sizeof(int32_t) * (size_t)Q->cout);
            memcpy(c->wcodes[i], Q->codes, nw);
        }
    }
    for (int l = 0; l < L; l++) set_w(c, l, save_bits[l]);

    if (o->progress) fprintf(stderr, "sensitivity: RTN weights ready\n");
    /* FP forward of the calibration images (train mode: we need node gradients) */
    size_t in_sz = (size_t)train->c * train->h * train->w;
    float *x = malloc(sizeof(float) * (size_t)N * in_sz);
    if (!x) goto oom;
    bq_dataset_batch(train, idx, N, x, NULL, m->in_mean, m->in_std, NULL);
    if (bq_exec_init(&c->ex, m, N, 1)) { free(x); goto oom; }
    bq_exec_forward(&c->ex, m, x, N, 0);
    free(x);
    /* activation steps: range init on the FP activations of each quantizer's node, on the first
     * BQ_SENS_INIT_IMAGES images (the 80-candidate Lp search is the cost here) */
    int ni = N < BQ_SENS_INIT_IMAGES ? N : BQ_SENS_INIT_IMAGES;
    for (int a = 0; a < q->n_aq; a++) {
        const bq_aquant *A = &q->aq[a];
        size_t cnt = (size_t)ni * bq_node_size(&m->nodes[A->node]);
        for (int b = 2; b <= 8; b++)
            if (need[b])
                bq_aq_init_mse(&c->ascale[a * 9 + b], &c->azero[a * 9 + b], c->ex.act[A->node], cnt,
                               b, o->p);
    }
    for (int a = 0; a < q->n_aq; a++) set_a(c, a, q->aq[a].bits ? q->aq[a].bits : 8);

    if (o->progress) fprintf(stderr, "sensitivity: activation ranges ready\n");
    /* units and the Fisher diagonal at each unit output */
    c->nu = list_units(q, c->units, 256);
    c->fisher = calloc((size_t)(c->nu ? c->nu : 1), sizeof(float *));
    if (!c->fisher) goto oom;
    int first = m->n_nodes;
    size_t maxio = 0;
    for (int u = 0; u < c->nu; u++) {
        size_t sz = (size_t)N * bq_node_size(&m->nodes[c->units[u].hi]);
        size_t si = (size_t)N * bq_node_size(&m->nodes[c->units[u].in]);
        if (sz > maxio) maxio = sz;
        if (si > maxio) maxio = si;
        if (!(c->fisher[u] = calloc(sz, sizeof(float)))) goto oom;
        if (c->units[u].hi + 1 < first) first = c->units[u].hi + 1;
    }
    c->xin = malloc(sizeof(float) * (maxio ? maxio : 1));
    c->yout = malloc(sizeof(float) * (maxio ? maxio : 1));
    if (!c->xin || !c->yout) goto oom;
    if (c->nu == 0) return 0;
    int out = bq_model_output(m);
    int K = m->nodes[out].c;
    float *prob = malloc(sizeof(float) * (size_t)N * K);
    if (!prob) goto oom;
    for (int n = 0; n < N; n++) {
        const float *z = c->ex.act[out] + (size_t)n * K;
        float mx = z[0];
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)(z[k] - mx));
        for (int k = 0; k < K; k++) prob[n * K + k] = (float)(exp((double)(z[k] - mx)) / s);
    }
    for (int cls = 0; cls < K; cls++) {
        bq_exec_zero_grad(&c->ex, m, 0, out, 0);
        float *g = c->ex.grad[out];
        for (int n = 0; n < N; n++) {
            float w = sqrtf(prob[n * K + cls]);
            for (int k = 0; k < K; k++)
                g[n * K + k] = w * (prob[n * K + k] - (k == cls ? 1.0f : 0.0f));
        }
        bq_exec_backward_range(&c->ex, m, first, out, 0);
        for (int u = 0; u < c->nu; u++) {
            const float *gu = c->ex.grad[c->units[u].hi];
            size_t sz = (size_t)N * bq_node_size(&m->nodes[c->units[u].hi]);
            for (size_t i = 0; i < sz; i++) c->fisher[u][i] += gu[i] * gu[i];
        }
    }
    free(prob);
    return 0;
oom:
    bq_seterr(err, errlen, "sensitivity: out of memory");
    return -1;
}

typedef struct {
    sctx *c;
    const bq_search_problem *p;
    double t0;
    int total, done_count;
    int progress;
} fill_ctx;

static int measure_group(void *vctx, const bq_search_problem *p, int g, int n,
                         const bq_search_cand *const *cands, double *sens, char *err,
                         size_t errlen) {
    fill_ctx *F = vctx;
    sctx *c = F->c;
    bq_qmodel *q = &c->q;
    const bq_model *m = &q->model;
    const bq_search_group *G = &p->groups[g];
    if (G->n_q == 0) {
        for (int i = 0; i < n; i++) sens[i] = 0.0;
        return 0;
    }
    int u = -1;
    for (int i = 0; i < c->nu; i++)
        if (strcmp(c->units[i].name, G->name) == 0) u = i;
    if (u < 0) {
        bq_seterr(err, errlen, "sensitivity: group '%s' has free quantizers but is not a "
               "reconstruction unit (the first layer?); keep it fixed (first_last_8bit: true)",
               G->name);
        return -1;
    }
    const sunit *U = &c->units[u];
    int N = c->N;
    size_t in_sz = (size_t)N * bq_node_size(&m->nodes[U->in]);
    size_t out_sz = (size_t)N * bq_node_size(&m->nodes[U->hi]);
    const float *y = c->ex.act[U->hi];
    const float *fw = c->fisher[u];
    int a_out = m->nodes[U->hi].kind != BQ_OP_INPUT ? q->node_aq[U->hi] : -1;
    if (a_out >= 0 && q->aq[a_out].node != U->hi) a_out = -1;
    int a_out_bits = a_out >= 0 ? q->aq[a_out].bits : 0;
    int save[BQ_SEARCH_GROUP_MAXQ];
    for (int k = 0; k < G->n_q; k++) {
        int qi = G->q[k];
        save[k] = qi < q->n_layers ? q->layers[qi].wbits : q->aq[qi - q->n_layers].bits;
    }
    int rc = 0;
    double tg = bq_now();
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < G->n_q; k++) {
            int qi = G->q[k];
            if (qi < q->n_layers) set_w(c, qi, cands[i]->bits[k]);
            else set_a(c, qi - q->n_layers, cands[i]->bits[k]);
        }
        if (a_out >= 0) q->aq[a_out].bits = 0;   /* the consumer's quantizer: not ours */
        int a_in = q->node_aq[U->in];
        if (a_in >= 0 && q->aq[a_in].bits > 0)
            bq_aq_fake(c->xin, c->ex.act[U->in], in_sz, q->aq[a_in].scale, q->aq[a_in].zero,
                       q->aq[a_in].bits);
        else
            memcpy(c->xin, c->ex.act[U->in], sizeof(float) * in_sz);
        int in_node = -1, out_node = -1;
        rc = bq_recon_unit_forward(q, u, 1, c->xin, N, c->yout, &in_node, &out_node, err, errlen);
        if (a_out >= 0) q->aq[a_out].bits = a_out_bits;
        if (rc) break;
        if (in_node != U->in || out_node != U->hi) {
            bq_seterr(err, errlen, "sensitivity: internal error: unit %d of the engine is nodes "
                   "%d..%d, expected %d..%d", u, in_node, out_node, U->in, U->hi);
            rc = -1;
            break;
        }
        double s = 0;
        for (size_t e = 0; e < out_sz; e++) {
            double d = (double)c->yout[e] - (double)y[e];
            s += (double)fw[e] * d * d;
        }
        sens[i] = s / N;
        F->done_count++;
        if (F->progress && ((i + 1) % 64 == 0 || i + 1 == n)) {
            double el = bq_now() - F->t0;
            double eta = F->done_count ? el / F->done_count * (F->total - F->done_count) : 0;
            fprintf(stderr, "\rsensitivity: group %d/%d %-12s %4d/%-4d  total %d/%d  %.0f s, "
                    "ETA %.0f s   ", g + 1, p->n_groups, G->name, i + 1, n, F->done_count,
                    F->total, el, eta);
            fflush(stderr);
        }
    }
    for (int k = 0; k < G->n_q; k++) {
        int qi = G->q[k];
        if (qi < q->n_layers) set_w(c, qi, save[k]);
        else set_a(c, qi - q->n_layers, save[k]);
    }
    (void)tg;
    return rc;
}

int bq_sensitivity_fill(bq_search_problem *p, const bq_model *fp, const bq_dataset *train,
                        const bq_sens_opts *o, bq_sens_stats *st, char *err, size_t errlen) {
    double t0 = bq_now();
    bq_sens_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (!p->finalized) { bq_seterr(err, errlen, "sensitivity: problem not finalized"); return -1; }
    if (o->n_images < 1 || o->n_images > train->n) {
        bq_seterr(err, errlen, "sensitivity: n_images %d out of range 1..%d", o->n_images, train->n);
        return -1;
    }
    int *idx = malloc(sizeof(int) * (size_t)o->n_images);
    if (!idx) { bq_seterr(err, errlen, "sensitivity: out of memory"); return -1; }
    if (bq_calib_indices(idx, o->n_images, train->n, o->calib_seed)) {
        bq_seterr(err, errlen, "sensitivity: cannot draw %d calibration images", o->n_images);
        free(idx);
        return -1;
    }
    uint64_t key = st->key = bq_sensitivity_key(p, fp, o, idx);
    int filled = 0;
    if (o->cache_path && cache_read(o->cache_path, p, key, &filled)) {
        bq_seterr(err, errlen, "sensitivity: out of memory reading the cache");
        free(idx);
        return -1;
    }
    st->cached = filled;
    int todo = 0;
    unsigned char done[BQ_SEARCH_MAX_GROUPS] = {0};
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_group *G = &p->groups[g];
        int nan = 0;
        for (int k = 0; k < G->n_cand; k++) nan += isnan(p->cands[G->cand_off + k].sens) != 0;
        done[g] = nan == 0;
        if (G->n_q > 0) todo += nan;
    }
    if (o->progress && filled)
        fprintf(stderr, "sensitivity: %d candidates from the cache %s (key %016llx)\n", filled,
                o->cache_path, (unsigned long long)key);
    int rc = 0;
    int any_nan = 0;
    for (int g = 0; g < p->n_groups; g++) any_nan |= !done[g];
    if (any_nan) {
        sctx c;
        memset(&c, 0, sizeof c);
        bq_qmodel_opts qo = {.wbits = 8, .abits = 8, .first_last_8bit = o->first_last_8bit};
        if (bq_qmodel_init(&c.q, fp, &qo, err, errlen)) { free(idx); return -1; }
        if (p->n_layers != c.q.n_layers || p->n_quants != c.q.n_layers + c.q.n_aq) {
            bq_seterr(err, errlen, "sensitivity: the problem (%d layers, %d quantizers) is not the "
                   "model's (%d layers, %d quantizers); build it with bq_search_from_qmodel",
                   p->n_layers, p->n_quants, c.q.n_layers, c.q.n_layers + c.q.n_aq);
            bq_qmodel_free(&c.q);
            free(idx);
            return -1;
        }
        if (o->progress)
            fprintf(stderr, "sensitivity: %d candidates to measure on %d calibration images "
                    "(Fisher passes first)\n", todo, o->n_images);
        double tf = bq_now();
        rc = prepare(&c, p, train, o, idx, err, errlen);
        st->fisher_seconds = bq_now() - tf;
        fill_ctx F = {&c, p, bq_now(), todo, 0, o->progress};
        for (int g = 0; g < p->n_groups && rc == 0; g++) {
            if (done[g]) continue;
            const bq_search_group *G = &p->groups[g];
            int n = 0;
            const bq_search_cand **cl = malloc(sizeof(*cl) * (size_t)G->n_cand);
            double *sv = malloc(sizeof(double) * (size_t)G->n_cand);
            int *ix = malloc(sizeof(int) * (size_t)G->n_cand);
            if (!cl || !sv || !ix) {
                bq_seterr(err, errlen, "sensitivity: out of memory");
                rc = -1;
            } else {
                for (int k = 0; k < G->n_cand; k++)
                    if (isnan(p->cands[G->cand_off + k].sens)) {
                        ix[n] = G->cand_off + k;
                        cl[n++] = &p->cands[G->cand_off + k];
                    }
                rc = measure_group(&F, p, g, n, cl, sv, err, errlen);
                for (int k = 0; k < n && rc == 0; k++) {
                    if (!isfinite(sv[k])) {
                        bq_seterr(err, errlen, "sensitivity: group '%s': non-finite error (NaN/Inf "
                               "in the model?)", G->name);
                        rc = -1;
                        break;
                    }
                    p->cands[ix[k]].sens = sv[k];
                }
                if (rc == 0) {
                    done[g] = 1;
                    st->measured += G->n_q > 0 ? n : 0;
                    if (o->cache_path && cache_write(o->cache_path, p, key, done, err, errlen))
                        rc = -1;
                }
            }
            free(cl); free(sv); free(ix);
        }
        if (o->progress && todo) fprintf(stderr, "\n");
        sctx_free(&c);
    } else if (o->cache_path) {
        /* nothing measured; keep the file as is */
    }
    free(idx);
    st->seconds = bq_now() - t0;
    if (rc == 0 && o->progress)
        fprintf(stderr, "sensitivity: %d measured, %d cached, %.1f s (Fisher %.1f s)\n",
                st->measured, st->cached, st->seconds, st->fisher_seconds);
    return rc;
}
