/* costtab.c — hardware view of a network, exact network latency, cost table. See costtab.h. */
#include "errmsg.h"
#include "costtab.h"

#include <stdarg.h>
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

/* cycles of layer l at the given bits, or -1 if the scheduler rejects it (message in err) */
static int64_t cycles_at(const bq_hwcfg *cfg, const bq_hw_layer *l0, int w, int a, int o, int r,
                         bq_program *pr, char *err, size_t errlen) {
    bq_hw_layer l = *l0;
    l.wbits = w;
    l.abits = a;
    l.obits = o;
    l.rbits = r;
    l.hi = -1;
    bq_latency res;
    if (bq_latency_layer(&res, cfg, &l, pr, err, errlen) != 0) return -1;
    return res.cycles;
}

int bq_costtab_build(bq_costtab *t, const bq_hwcfg *cfg, const bq_hw_net *net, char *err,
                     size_t errlen) {
    memset(t, 0, sizeof *t);
    int n = net->n;
    t->n = n;
    t->nq = net->nq;
    t->cfg_hash = cfg->hash;
    t->t = malloc(sizeof(int32_t) * 64 * (size_t)(n ? n : 1));
    t->o = calloc(8 * (size_t)(n ? n : 1), sizeof(int32_t));
    t->r = calloc(8 * (size_t)(n ? n : 1), sizeof(int32_t));
    t->in_q = malloc(sizeof(int) * (size_t)(n ? n : 1));
    t->out_q = malloc(sizeof(int) * (size_t)(n ? n : 1));
    t->res_q = malloc(sizeof(int) * (size_t)(n ? n : 1));
    bq_program pr;
    bq_program_init(&pr);
    char lerr[256];
    int rc = -1;
    if (!t->t || !t->o || !t->r || !t->in_q || !t->out_q || !t->res_q) {
        bq_seterr(err, errlen, "out of memory building the cost table");
        goto cleanup;
    }
    t->qidx = malloc(sizeof(uint16_t) * 3 * (size_t)(n ? n : 1));
    if (!t->qidx || net->nq > 65534) {
        bq_seterr(err, errlen, "out of memory building the cost table");
        goto cleanup;
    }
    for (int i = 0; i < n; i++) {
        int qs[3] = {net->in_q[i], net->out_q[i], net->res_q[i]};
        for (int k = 0; k < 3; k++) t->qidx[3 * i + k] = (uint16_t)(qs[k] >= 0 ? qs[k] : net->nq);
    }
    memcpy(t->in_q, net->in_q, sizeof(int) * (size_t)n);
    memcpy(t->out_q, net->out_q, sizeof(int) * (size_t)n);
    memcpy(t->res_q, net->res_q, sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        const bq_hw_layer *l = &net->layers[i];
        int feasible = 0;
        for (int w = 1; w <= 8; w++)
            for (int a = 1; a <= 8; a++) {
                int64_t c = cycles_at(cfg, l, w, a, 8, 8, &pr, lerr, sizeof lerr);
                if (c > INT32_MAX) {
                    bq_seterr(err, errlen, "layer '%s': %lld cycles do not fit the table's 32-bit "
                           "entries", l->name, (long long)c);
                    goto cleanup;
                }
                t->t[i * 64 + (w - 1) * 8 + (a - 1)] = c < 0 ? INT32_MAX : (int32_t)c;
                feasible += c >= 0;
            }
        if (!feasible) {
            bq_seterr(err, errlen, "%s (at every bit-width)", lerr);
            goto cleanup;
        }
        int64_t ref = t->t[i * 64 + 63];
        if (ref == INT32_MAX) continue;   /* 8/8 infeasible: keep zero corrections */
        if (!l->raw32)
            for (int o = 1; o <= 8; o++) {
                int64_t c = cycles_at(cfg, l, 8, 8, o, 8, &pr, lerr, sizeof lerr);
                t->o[i * 8 + o - 1] = c < 0 ? 0 : (int32_t)(c - ref);
            }
        if (l->has_residual)
            for (int r = 1; r <= 8; r++) {
                int64_t c = cycles_at(cfg, l, 8, 8, 8, r, &pr, lerr, sizeof lerr);
                t->r[i * 8 + r - 1] = c < 0 ? 0 : (int32_t)(c - ref);
            }
    }
    rc = 0;
cleanup:
    bq_program_free(&pr);
    if (rc != 0) {
        bq_costtab_free(t);
    }
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
