/* costtab.c — hardware view of a network, exact network latency, cost table. See costtab.h. */
#include "core/errmsg.h"
#include "costtab.h"
#include "core/parallel.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bq_hw_net_init(bq_hw_net *net, int cap) {
    memset(net, 0, sizeof *net);
    if (cap < 1) cap = 1;
    net->layers = calloc((size_t)cap, sizeof *net->layers);
    net->in_q = calloc((size_t)cap, sizeof(int));
    net->out_q = calloc((size_t)cap, sizeof(int));
    net->res_q = calloc((size_t)cap, sizeof(int));
    if (!net->layers || !net->in_q || !net->out_q || !net->res_q) {
        bq_hw_net_free(net);
        return -1;
    }
    net->cap_ = cap;
    return 0;
}

void bq_hw_net_free(bq_hw_net *net) {
    free(net->v2);
    free(net->v2_layer);
    free(net->v2_in_q);
    free(net->v2_out_q);
    free(net->layers);
    free(net->in_q);
    free(net->out_q);
    free(net->res_q);
    memset(net, 0, sizeof *net);
}

int bq_hw_net_add(bq_hw_net *net, const bq_hw_layer *l, int in_q, int out_q, int res_q) {
    if (net->n == net->cap_) {
        int nc = net->cap_ * 2;
        bq_hw_layer *nl = realloc(net->layers, sizeof *nl * (size_t)nc);
        if (!nl) return -1;
        net->layers = nl;
        int **arrs[3] = {&net->in_q, &net->out_q, &net->res_q};
        for (int i = 0; i < 3; i++) {
            int *na = realloc(*arrs[i], sizeof(int) * (size_t)nc);
            if (!na) return -1;
            *arrs[i] = na;
        }
        net->cap_ = nc;
    }
    int i = net->n++;
    net->layers[i] = *l;
    net->layers[i].has_residual = res_q >= 0 || l->has_residual;
    net->in_q[i] = in_q;
    net->out_q[i] = out_q;
    net->res_q[i] = net->layers[i].has_residual ? res_q : -1;
    int m = in_q > out_q ? in_q : out_q;
    if (res_q > m) m = res_q;
    if (m + 1 > net->nq) net->nq = m + 1;
    return i;
}

int bq_hw_net_set_v2(bq_hw_net *net, const bq_v2_layer *ls, const int *layer_of, int n_v2,
                     char *err, size_t errlen) {
    free(net->v2);
    free(net->v2_layer);
    free(net->v2_in_q);
    free(net->v2_out_q);
    net->n_v2 = 0;
    size_t nn = (size_t)(n_v2 > 0 ? n_v2 : 1);
    net->v2 = malloc(sizeof *net->v2 * nn);
    net->v2_layer = malloc(sizeof(int) * nn);
    net->v2_in_q = malloc(sizeof(int) * nn);
    net->v2_out_q = malloc(sizeof(int) * nn);
    int *seen = calloc((size_t)(net->n > 0 ? net->n : 1), sizeof(int));
    int rc = -1;
    if (!net->v2 || !net->v2_layer || !net->v2_in_q || !net->v2_out_q || !seen) {
        bq_seterr(err, errlen, "out of memory");
        goto done;
    }
    for (int j = 0; j < n_v2; j++) {
        const int l = layer_of[j];
        if (l < -1 || l >= net->n || (l >= 0 && seen[l]++)) {
            bq_seterr(err, errlen, "v2 layer '%s': maps to layer %d of a %d-layer net (twice or out of "
                      "range); build both views from the same model", ls[j].hw.name, l, net->n);
            goto done;
        }
        net->v2[j] = ls[j];
        net->v2_layer[j] = l;
        net->v2_in_q[j] = l >= 0 ? net->in_q[l] : -1;
        net->v2_out_q[j] = l >= 0 ? net->out_q[l] : -1;
    }
    for (int l = 0; l < net->n; l++)
        if (!seen[l]) {
            bq_seterr(err, errlen, "layer '%s': missing from the v2 layer list; build both views from "
                      "the same model", net->layers[l].name);
            goto done;
        }
    /* a fixed layer reads its producer's output codes and writes its consumer's input codes */
    for (int j = 0; j < n_v2; j++) {
        if (layer_of[j] >= 0) continue;
        const int src = ls[j].in_from;
        net->v2_in_q[j] = src >= 0 && src < n_v2 ? net->v2_out_q[src] : -1;
        for (int k = j + 1; k < n_v2; k++)
            if (ls[k].in_from == j) {
                net->v2_out_q[j] = net->v2_in_q[k];
                break;
            }
    }
    net->n_v2 = n_v2;
    rc = 0;
done:
    free(seen);
    if (rc) {
        free(net->v2);
        free(net->v2_layer);
        free(net->v2_in_q);
        free(net->v2_out_q);
        net->v2 = NULL;
        net->v2_layer = net->v2_in_q = net->v2_out_q = NULL;
    }
    return rc;
}

int bq_hw_net_is_v2(const bq_hw_net *net, const bq_hwcfg *cfg) {
    return cfg->window_bytes > 0 && net->v2 != NULL;
}

void bq_hw_net_apply(bq_hw_net *net, const uint8_t *wbits, const uint8_t *qbits) {
    for (int i = 0; i < net->n; i++) {
        bq_hw_layer *l = &net->layers[i];
        l->wbits = wbits[i];
        l->abits = net->in_q[i] >= 0 ? qbits[net->in_q[i]] : 8;
        l->obits = net->out_q[i] >= 0 ? qbits[net->out_q[i]] : 8;
        l->rbits = net->res_q[i] >= 0 ? qbits[net->res_q[i]] : 8;
        if (l->hi >= (1 << l->obits)) l->hi = -1;
    }
    for (int j = 0; j < net->n_v2; j++) {
        bq_hw_layer *v = &net->v2[j].hw;
        const int l = net->v2_layer[j];
        if (l >= 0) {
            v->wbits = net->layers[l].wbits;
            v->rbits = net->layers[l].rbits;
        }
        v->abits = net->v2_in_q[j] >= 0 ? qbits[net->v2_in_q[j]] : 8;
        v->obits = net->v2_out_q[j] >= 0 ? qbits[net->v2_out_q[j]] : 8;
        if (v->hi >= (1 << v->obits)) v->hi = -1;
    }
}

/* Stand-alone cycles of v2 layer v at its bits (bq_v2_plan_layer + bq_v2_build + dry run):
 * 0 with *cycles, -1 refused (message), -2 the dry run failed (out of memory). */
static int v2_cycles(const bq_hwcfg *cfg, const bq_v2_layer *v, bq_program *pr, int64_t *cycles,
                     char *err, size_t errlen) {
    bq_v2_plan plan;
    if (bq_v2_plan_layer(&plan, cfg, v, err, errlen)) return -1;
    bq_program_reset(pr);
    if (bq_v2_build(pr, &plan, cfg, NULL, 0, 0, err, errlen)) return -1;
    bq_latency r;
    int rc = bq_latency_program(&r, pr, &plan.base, cfg, 1, err, errlen);
    if (rc) return rc == -2 ? -2 : -1;
    *cycles = r.cycles;
    return 0;
}

static int64_t v2_net_latency(const bq_hw_net *net, const bq_hwcfg *cfg, bq_latency *per_layer,
                              char *err, size_t errlen) {
    bq_program pr;
    bq_program_init(&pr);
    int64_t total = 0;
    if (per_layer) memset(per_layer, 0, sizeof *per_layer * (size_t)net->n);
    for (int j = 0; j < net->n_v2 && total >= 0; j++) {
        int64_t c;
        if (v2_cycles(cfg, &net->v2[j], &pr, &c, err, errlen)) {
            total = -1;
            break;
        }
        total += c;
        if (!per_layer) continue;
        int l = net->v2_layer[j];
        for (int k = j + 1; l < 0 && k < net->n_v2; k++)   /* a fixed layer: its consumer */
            if (net->v2[k].in_from == j) l = net->v2_layer[k];
        if (l >= 0) per_layer[l].cycles += c;
    }
    bq_program_free(&pr);
    return total;
}

int64_t bq_hw_net_latency(const bq_hw_net *net, const bq_hwcfg *cfg, bq_latency *per_layer,
                          char *err, size_t errlen) {
    if (bq_hw_net_is_v2(net, cfg)) return v2_net_latency(net, cfg, per_layer, err, errlen);
    bq_program pr;
    bq_program_init(&pr);
    int64_t total = 0;
    for (int i = 0; i < net->n; i++) {
        bq_latency r;
        if (bq_latency_layer(&r, cfg, &net->layers[i], &pr, err, errlen) != 0) {
            total = -1;
            break;
        }
        if (per_layer) per_layer[i] = r;
        total += r.cycles;
    }
    bq_program_free(&pr);
    return total;
}

void bq_costtab_free(bq_costtab *t) {
    free(t->t);
    free(t->o);
    free(t->r);
    free(t->in_q);
    free(t->out_q);
    free(t->res_q);
    free(t->qidx);
    memset(t, 0, sizeof *t);
}

/* cycles of layer l at the given bits, or -1 if the scheduler rejects it, -2 if the dry run
 * failed (out of memory: an error, never "infeasible", or the table would be wrong with exit 0);
 * message in err. v2 = the layer's v2 geometry (NULL: v1). */
static int64_t cycles_at(const bq_hwcfg *cfg, const bq_hw_layer *l0, const bq_v2_layer *v2, int w,
                         int a, int o, int r, bq_program *pr, char *err, size_t errlen) {
    if (v2) {
        bq_v2_layer v = *v2;
        v.hw.wbits = w;
        v.hw.abits = a;
        v.hw.obits = o;
        v.hw.rbits = r;
        v.hw.hi = -1;
        int64_t c = 0;
        int rc = v2_cycles(cfg, &v, pr, &c, err, errlen);
        return rc ? rc : c;
    }
    bq_hw_layer l = *l0;
    l.wbits = w;
    l.abits = a;
    l.obits = o;
    l.rbits = r;
    l.hi = -1;
    bq_latency res;
    int rc = bq_latency_layer(&res, cfg, &l, pr, err, errlen);
    if (rc != 0) return rc == -2 ? -2 : -1;
    return res.cycles;
}

/* Layers whose timing inputs are equal have equal rows (fres20: 12 kinds in 22 layers, mbv2t: 21
 * in 26), so only the first layer of each kind is dry-run and the others copy its rows. The
 * output-stage scalars (z_o, z_r, lo, hi) and the name do not change timing (hwlayer.h); the bits
 * are set per entry. */
static int same_timing(const bq_hw_layer *a, const bq_hw_layer *b) {
    return a->m == b->m && a->k == b->k && a->n == b->n && a->groups == b->groups &&
           a->w_signed == b->w_signed && a->a_signed == b->a_signed &&
           a->has_residual == b->has_residual && a->raw32 == b->raw32;
}

/* v2: the conv geometry decides the window and the tiling as well (z_a only fills pixels) */
static int same_v2_timing(const bq_v2_layer *a, const bq_v2_layer *b) {
    return same_timing(&a->hw, &b->hw) && a->cin == b->cin && a->cout == b->cout &&
           a->hi == b->hi && a->wi == b->wi && a->ho == b->ho && a->wo == b->wo &&
           a->kh == b->kh && a->kw == b->kw && a->stride == b->stride && a->pad_t == b->pad_t &&
           a->pad_l == b->pad_l && a->depthwise == b->depthwise;
}

/* The table is 64 + 16 dry runs per distinct layer, all independent: tasks (layer, w) fill the 8 (w, a)
 * entries of one weight width, then tasks (layer, o or r) the corrections against the layer's
 * W8A8 entry. Threads take tasks from a shared counter (a few layers dominate, so static ranges
 * would leave a core idle); every task writes only its own entries and keeps its own message, and
 * the first failing layer in network order is reported: the result never depends on the thread
 * count. */
typedef struct {
    bq_costtab *t;
    const bq_hwcfg *cfg;
    const bq_hw_net *net;
    const int *uniq;           /* the layers that are dry-run (first of each kind) */
    const int *v2_of;          /* [n] v2 layer of each layer (v2 tables), or NULL (v1) */
    int phase;                 /* 1: (layer, w) entries, 2: (layer, o|r) corrections */
    int ntasks;
    atomic_int next;           /* next task to take */
    int *task_rc;              /* [ntasks] 0, or -1 (message in task_err) */
    char (*task_err)[256];     /* [ntasks] */
} build_job;

/* Phase 1 task k: layer uniq[k / 8], weight width k % 8 + 1. */
static int run_entries(build_job *J, int k, bq_program *pr, char *err, size_t errlen) {
    const int i = J->uniq[k / 8], w = k % 8 + 1;
    const bq_hw_layer *l = &J->net->layers[i];
    const bq_v2_layer *v2 = J->v2_of ? &J->net->v2[J->v2_of[i]] : NULL;
    for (int a = 1; a <= 8; a++) {
        int64_t c = cycles_at(J->cfg, l, v2, w, a, 8, 8, pr, err, errlen);
        if (c == -2) return -2;
        if (c > INT32_MAX) {
            bq_seterr(err, errlen, "layer '%s': %lld cycles do not fit the table's 32-bit entries",
                      l->name, (long long)c);
            return -1;
        }
        J->t->t[i * 64 + (w - 1) * 8 + (a - 1)] = c < 0 ? INT32_MAX : (int32_t)c;
    }
    return 0;
}

/* Phase 2 task k: layer uniq[k / 16]; k % 16 < 8: output width o, else residual width r. */
static int run_correction(build_job *J, int k, bq_program *pr, char *err, size_t errlen) {
    const int i = J->uniq[k / 16], j = k % 16;
    const bq_hw_layer *l = &J->net->layers[i];
    const bq_v2_layer *v2 = J->v2_of ? &J->net->v2[J->v2_of[i]] : NULL;
    const int64_t ref = J->t->t[i * 64 + 63];
    if (ref == INT32_MAX) return 0;   /* 8/8 infeasible: keep zero corrections */
    if (j == 7 || j == 15) return 0;   /* o = 8 or r = 8 is the reference itself: 0 */
    int64_t c = 0;
    if (j < 8 && !l->raw32) {
        c = cycles_at(J->cfg, l, v2, 8, 8, j + 1, 8, pr, err, errlen);
        J->t->o[i * 8 + j] = c < 0 ? 0 : (int32_t)(c - ref);
    } else if (j >= 8 && l->has_residual) {
        c = cycles_at(J->cfg, l, v2, 8, 8, 8, j - 7, pr, err, errlen);
        J->t->r[i * 8 + j - 8] = c < 0 ? 0 : (int32_t)(c - ref);
    }
    return c == -2 ? -1 : 0;
}

static void build_lane(void *ctx, int idx, size_t lo, size_t hi) {
    (void)idx; (void)lo; (void)hi;
    build_job *J = ctx;
    bq_program pr;
    bq_program_init(&pr);
    for (int k; (k = atomic_fetch_add(&J->next, 1)) < J->ntasks;) {
        if (J->phase == 1)
            J->task_rc[k] = run_entries(J, k, &pr, J->task_err[k], sizeof J->task_err[k]);
        else
            J->task_rc[k] = run_correction(J, k, &pr, J->task_err[k], sizeof J->task_err[k]);
    }
    bq_program_free(&pr);
}

static void run_phase(build_job *J, int phase, int ntasks) {
    J->phase = phase;
    J->ntasks = ntasks;
    atomic_store(&J->next, 0);
    int lanes = bq_parallel_ranges((size_t)ntasks, 8);
    bq_parallel_for((size_t)lanes, 1, build_lane, J);
}

/* v2: each fixed layer (no bit choice: a GAP) dry-run at its weight bits for every input width
 * a, writing a-bit codes too (it reads and writes its consumer's input quantizer, checked), and
 * added to the consumer's T column a: the score stays the exact sum of the stand-alone layers. */
static int add_fixed_layers(bq_costtab *t, const bq_hwcfg *cfg, const bq_hw_net *net, char *err,
                            size_t errlen) {
    bq_program pr;
    bq_program_init(&pr);
    int rc = 0;
    for (int j = 0; j < net->n_v2 && rc == 0; j++) {
        if (net->v2_layer[j] >= 0) continue;
        const bq_v2_layer *f = &net->v2[j];
        int c = -1;   /* the consuming layer's row */
        for (int k = j + 1; k < net->n_v2 && c < 0; k++)
            if (net->v2[k].in_from == j) c = net->v2_layer[k];
        if (c < 0 || net->v2_in_q[j] != net->v2_out_q[j] || net->v2_out_q[j] != net->in_q[c]) {
            bq_seterr(err, errlen, "layer '%s': a fixed v2 layer the cost table cannot charge (it "
                      "must feed a searched layer and read and write that layer's input "
                      "quantizer); run the model per layer (v1)", f->hw.name);
            rc = -1;
            break;
        }
        int feasible = 0;
        for (int a = 1; a <= 8 && rc == 0; a++) {
            int64_t cyc = cycles_at(cfg, NULL, f, f->hw.wbits, a, a, 8, &pr, err, errlen);
            if (cyc == -2) rc = -2;
            feasible += cyc >= 0;
            for (int w = 0; w < 8 && rc == 0; w++) {
                int32_t *e = &t->t[c * 64 + w * 8 + (a - 1)];
                if (*e == INT32_MAX) continue;
                if (cyc < 0 || (int64_t)*e + cyc >= INT32_MAX) *e = INT32_MAX;
                else *e += (int32_t)cyc;
            }
        }
        if (rc == 0 && !feasible) {   /* the planner's reason (W?A8), as for a searched layer */
            size_t len = strlen(err);
            snprintf(err + len, errlen > len ? errlen - len : 0, " (at every bit-width)");
            rc = -1;
        }
    }
    bq_program_free(&pr);
    return rc;
}

int bq_costtab_build(bq_costtab *t, const bq_hwcfg *cfg, const bq_hw_net *net, char *err,
                     size_t errlen) {
    memset(t, 0, sizeof *t);
    int n = net->n;
    t->n = n;
    t->nq = net->nq;
    t->cfg_hash = cfg->hash;
    size_t nn = (size_t)(n ? n : 1);
    t->t = malloc(sizeof(int32_t) * 64 * nn);
    t->o = calloc(8 * nn, sizeof(int32_t));
    t->r = calloc(8 * nn, sizeof(int32_t));
    t->in_q = malloc(sizeof(int) * nn);
    t->out_q = malloc(sizeof(int) * nn);
    t->res_q = malloc(sizeof(int) * nn);
    t->qidx = malloc(sizeof(uint16_t) * 3 * nn);
    int *task_rc = calloc(16 * nn, sizeof(int));
    char (*task_err)[256] = calloc(16 * nn, sizeof *task_err);
    int *uniq = malloc(sizeof(int) * nn), *rep = malloc(sizeof(int) * nn);
    const int v2 = bq_hw_net_is_v2(net, cfg);
    int *v2_of = v2 ? malloc(sizeof(int) * nn) : NULL;
    int rc = -1;
    if (!t->t || !t->o || !t->r || !t->in_q || !t->out_q || !t->res_q || !t->qidx || !task_rc ||
        !task_err || !uniq || !rep || (v2 && !v2_of) || net->nq > 65534) {
        bq_seterr(err, errlen, "out of memory building the cost table");
        rc = -2;
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        int qs[3] = {net->in_q[i], net->out_q[i], net->res_q[i]};
        for (int k = 0; k < 3; k++) t->qidx[3 * i + k] = (uint16_t)(qs[k] >= 0 ? qs[k] : net->nq);
    }
    memcpy(t->in_q, net->in_q, sizeof(int) * (size_t)n);
    memcpy(t->out_q, net->out_q, sizeof(int) * (size_t)n);
    memcpy(t->res_q, net->res_q, sizeof(int) * (size_t)n);
    for (int j = 0; v2 && j < net->n_v2; j++)
        if (net->v2_layer[j] >= 0) v2_of[net->v2_layer[j]] = j;
    int nu = 0;   /* rep[i]: index into uniq of layer i's kind */
    for (int i = 0; i < n; i++) {
        int u = 0;
        while (u < nu && !(v2 ? same_v2_timing(&net->v2[v2_of[uniq[u]]], &net->v2[v2_of[i]])
                              : same_timing(&net->layers[uniq[u]], &net->layers[i])))
            u++;
        if (u == nu) uniq[nu++] = i;
        rep[i] = u;
    }
    build_job job = {.t = t, .cfg = cfg, .net = net, .uniq = uniq, .v2_of = v2_of, .task_rc = task_rc,
                     .task_err = task_err};
    run_phase(&job, 1, 8 * nu);
    /* errors in network order: the first layer of a kind is also the first to fail */
    for (int u = 0; u < nu; u++) {
        const int i = uniq[u];
        int feasible = 0;
        for (int w = 0; w < 8; w++) {
            if (task_rc[8 * u + w]) {
                bq_seterr(err, errlen, "%s", task_err[8 * u + w]);
                rc = task_rc[8 * u + w];
                goto cleanup;
            }
            for (int a = 0; a < 8; a++) feasible += t->t[i * 64 + w * 8 + a] != INT32_MAX;
        }
        if (!feasible) {   /* the scheduler's reason for the last pair tried (W8A8) */
            bq_seterr(err, errlen, "%s (at every bit-width)", task_err[8 * u + 7]);
            goto cleanup;
        }
    }
    memset(task_rc, 0, sizeof(int) * 16 * nn);
    run_phase(&job, 2, 16 * nu);
    for (int k = 0; k < 16 * nu; k++)   /* a failed dry run (out of memory): in network order */
        if (task_rc[k]) {
            bq_seterr(err, errlen, "%s", task_err[k]);
            rc = -2;
            goto cleanup;
        }
    for (int i = 0; i < n; i++) {
        const int src = uniq[rep[i]];
        if (src == i) continue;
        memcpy(t->t + (size_t)i * 64, t->t + (size_t)src * 64, sizeof(int32_t) * 64);
        memcpy(t->o + (size_t)i * 8, t->o + (size_t)src * 8, sizeof(int32_t) * 8);
        memcpy(t->r + (size_t)i * 8, t->r + (size_t)src * 8, sizeof(int32_t) * 8);
    }
    if (v2 && (rc = add_fixed_layers(t, cfg, net, err, errlen)) != 0) goto cleanup;
    rc = 0;
cleanup:
    free(v2_of);
    free(task_rc);
    free(task_err);
    free(uniq);
    free(rep);
    if (rc != 0) bq_costtab_free(t);
    return rc;
}

int64_t bq_costtab_score(const bq_costtab *t, const uint8_t *wbits, const uint8_t *qbits) {
    uint8_t qb[257];
    const uint8_t *q = qb;
    if (t->nq <= 256) {
        memcpy(qb, qbits, (size_t)t->nq);
        qb[t->nq] = 8;   /* fixed 8-bit quantizers and "none" */
    } else {
        int64_t sum = 0;   /* rare: very many quantizers, branchy path */
        for (int l = 0; l < t->n; l++) {
            int a = t->in_q[l] >= 0 ? qbits[t->in_q[l]] : 8;
            int o = t->out_q[l] >= 0 ? qbits[t->out_q[l]] : 8;
            int r = t->res_q[l] >= 0 ? qbits[t->res_q[l]] : 8;
            sum += bq_costtab_layer(t, l, wbits[l], a, o, r);
        }
        return sum;
    }
    int64_t sum = 0;
    const int32_t *tt = t->t, *to = t->o, *tr = t->r;
    const uint16_t *qi = t->qidx;
    for (int l = 0; l < t->n; l++, tt += 64, to += 8, tr += 8, qi += 3)
        sum += (int64_t)tt[wbits[l] * 8 + q[qi[0]] - 9] + to[q[qi[1]] - 1] + tr[q[qi[2]] - 1];
    return sum;
}
