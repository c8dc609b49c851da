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

void bq_hw_net_apply(bq_hw_net *net, const uint8_t *wbits, const uint8_t *qbits) {
    for (int i = 0; i < net->n; i++) {
        bq_hw_layer *l = &net->layers[i];
        l->wbits = wbits[i];
        l->abits = net->in_q[i] >= 0 ? qbits[net->in_q[i]] : 8;
        l->obits = net->out_q[i] >= 0 ? qbits[net->out_q[i]] : 8;
        l->rbits = net->res_q[i] >= 0 ? qbits[net->res_q[i]] : 8;
        if (l->hi >= (1 << l->obits)) l->hi = -1;
    }
}

int64_t bq_hw_net_latency(const bq_hw_net *net, const bq_hwcfg *cfg, bq_latency *per_layer,
                          char *err, size_t errlen) {
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
 * message in err */
static int64_t cycles_at(const bq_hwcfg *cfg, const bq_hw_layer *l0, int w, int a, int o, int r,
                         bq_program *pr, char *err, size_t errlen) {
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
    for (int a = 1; a <= 8; a++) {
        int64_t c = cycles_at(J->cfg, l, w, a, 8, 8, pr, err, errlen);
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
    const int64_t ref = J->t->t[i * 64 + 63];
    if (ref == INT32_MAX) return 0;   /* 8/8 infeasible: keep zero corrections */
    if (j == 7 || j == 15) return 0;   /* o = 8 or r = 8 is the reference itself: 0 */
    int64_t c = 0;
    if (j < 8 && !l->raw32) {
        c = cycles_at(J->cfg, l, 8, 8, j + 1, 8, pr, err, errlen);
        J->t->o[i * 8 + j] = c < 0 ? 0 : (int32_t)(c - ref);
    } else if (j >= 8 && l->has_residual) {
        c = cycles_at(J->cfg, l, 8, 8, 8, j - 7, pr, err, errlen);
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
    int rc = -1;
    if (!t->t || !t->o || !t->r || !t->in_q || !t->out_q || !t->res_q || !t->qidx || !task_rc ||
        !task_err || !uniq || !rep || net->nq > 65534) {
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
    int nu = 0;   /* rep[i]: index into uniq of layer i's kind */
    for (int i = 0; i < n; i++) {
        int u = 0;
        while (u < nu && !same_timing(&net->layers[uniq[u]], &net->layers[i])) u++;
        if (u == nu) uniq[nu++] = i;
        rep[i] = u;
    }
    build_job job = {.t = t, .cfg = cfg, .net = net, .uniq = uniq, .task_rc = task_rc,
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
    rc = 0;
cleanup:
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
