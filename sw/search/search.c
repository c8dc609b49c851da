/*
 * search.c — mixed-precision search problem, GA and exact solvers (see search.h, docs/search.md).
 */
#include "core/progress.h"
#include "core/errmsg.h"
#include "search/search.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fileio.h"
#include "core/rng.h"

#define TB BQ_SEARCH_TB

static void copy_name(char *dst, const char *src) {
    snprintf(dst, BQ_SEARCH_NAME_MAX, "%s", src ? src : "");
}

/* Grow an array to hold at least n+1 elements. Returns 0 or -1. */
static int grow(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    void *q = realloc(*arr, (size_t)nc * elem);
    if (!q) return -1;
    *arr = q;
    *cap = nc;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* building                                                                                        */

void bq_search_init(bq_search_problem *p, double clock_mhz) {
    memset(p, 0, sizeof *p);
    p->clock_mhz = clock_mhz;
}

void bq_search_free(bq_search_problem *p) {
    free(p->groups);
    free(p->quants);
    free(p->layers);
    free(p->exec);
    free(p->write);
    free(p->res);
    free(p->cands);
    memset(p, 0, sizeof *p);
}

int bq_search_add_group(bq_search_problem *p, const char *name) {
    if (p->finalized || p->n_groups >= BQ_SEARCH_MAX_GROUPS) return -1;
    if (grow((void **)&p->groups, &p->cap_groups, p->n_groups, sizeof *p->groups)) return -1;
    bq_search_group *g = &p->groups[p->n_groups];
    memset(g, 0, sizeof *g);
    copy_name(g->name, name);
    return p->n_groups++;
}

static int is_free(const bq_search_problem *p, int q) {
    return q >= 0 && p->quants[q].n_bits > 1;
}
/* Bits of a fixed quantizer. */
static int fixed_bits(const bq_search_problem *p, int q) { return p->quants[q].bits[0]; }

int bq_search_add_quant(bq_search_problem *p, const char *name, bq_sq_kind kind, int group,
                        int n_bits, const int *bits, int64_t n_elems) {
    if (p->finalized || n_bits < 1 || n_bits > BQ_SEARCH_MAX_BITS || !bits) return -1;
    if (kind != BQ_SQ_WEIGHT && kind != BQ_SQ_ACT) return -1;
    if (n_elems < 0) return -1;
    for (int i = 0; i < n_bits; i++) {
        if (bits[i] < 1 || bits[i] > BQ_SEARCH_MAX_BITS) return -1;
        if (i > 0 && bits[i] <= bits[i - 1]) return -1;
    }
    if (n_bits > 1) {
        if (group < 0 || group >= p->n_groups) return -1;
        if (p->groups[group].n_q >= BQ_SEARCH_GROUP_MAXQ) return -1;
    }
    if (grow((void **)&p->quants, &p->cap_quants, p->n_quants, sizeof *p->quants)) return -1;
    bq_search_quant *q = &p->quants[p->n_quants];
    memset(q, 0, sizeof *q);
    copy_name(q->name, name);
    q->kind = kind;
    q->group = n_bits > 1 ? group : -1;
    q->n_bits = n_bits;
    memcpy(q->bits, bits, (size_t)n_bits * sizeof(int));
    q->n_elems = n_elems;
    if (n_bits > 1) {
        bq_search_group *g = &p->groups[group];
        g->q[g->n_q++] = p->n_quants;
    }
    return p->n_quants++;
}

int bq_search_add_layer(bq_search_problem *p, const char *name, int wq, int aq_in, int aq_out,
                        int aq_res, const int64_t *exec, const int64_t *write, const int64_t *res) {
    if (p->finalized || !exec) return -1;
    if (wq < 0 || wq >= p->n_quants || p->quants[wq].kind != BQ_SQ_WEIGHT) return -1;
    if (aq_in < 0 || aq_in >= p->n_quants || p->quants[aq_in].kind != BQ_SQ_ACT) return -1;
    if (aq_out >= p->n_quants || (aq_out >= 0 && p->quants[aq_out].kind != BQ_SQ_ACT)) return -1;
    if (aq_res >= p->n_quants || (aq_res >= 0 && p->quants[aq_res].kind != BQ_SQ_ACT)) return -1;
    int cap = p->cap_layers;
    if (grow((void **)&p->layers, &cap, p->n_layers, sizeof *p->layers)) return -1;
    if (cap != p->cap_layers) {
        int64_t *e = realloc(p->exec, (size_t)cap * TB * TB * sizeof(int64_t));
        if (!e) return -1;
        p->exec = e;
        int64_t *w = realloc(p->write, (size_t)cap * TB * sizeof(int64_t));
        if (!w) return -1;
        p->write = w;
        int64_t *r = realloc(p->res, (size_t)cap * TB * sizeof(int64_t));
        if (!r) return -1;
        p->res = r;
        p->cap_layers = cap;
    }
    int l = p->n_layers;
    bq_search_layer *L = &p->layers[l];
    copy_name(L->name, name);
    L->wq = wq;
    L->aq_in = aq_in;
    L->aq_out = aq_out;
    L->aq_res = aq_res;
    memcpy(p->exec + (size_t)l * TB * TB, exec, TB * TB * sizeof(int64_t));
    for (int b = 0; b < TB; b++) {
        p->write[(size_t)l * TB + b] = write ? write[b] : 0;
        p->res[(size_t)l * TB + b] = res ? res[b] : 0;
    }
    return p->n_layers++;
}

static int allowed(const bq_search_quant *q, int b) {
    for (int i = 0; i < q->n_bits; i++)
        if (q->bits[i] == b) return 1;
    return 0;
}

int bq_search_add_cand(bq_search_problem *p, int g, const int *bits, double sens) {
    if (p->finalized || g < 0 || g >= p->n_groups) return -1;
    const bq_search_group *G = &p->groups[g];
    for (int i = 0; i < G->n_q; i++)
        if (!allowed(&p->quants[G->q[i]], bits[i])) return -1;
    if (grow((void **)&p->cands, &p->cap_cands, p->n_cands, sizeof *p->cands)) return -1;
    bq_search_cand *c = &p->cands[p->n_cands];
    memset(c, 0, sizeof *c);
    c->group = g;
    for (int i = 0; i < G->n_q; i++) c->bits[i] = (uint8_t)bits[i];
    c->sens = sens;
    p->groups[g].n_cand++;
    return p->n_cands++;
}

int bq_search_enumerate(bq_search_problem *p, int g) {
    if (p->finalized || g < 0 || g >= p->n_groups) return -1;
    const bq_search_group *G = &p->groups[g];
    long total = 1;
    for (int i = 0; i < G->n_q; i++) {
        total *= p->quants[G->q[i]].n_bits;
        if (total > (1L << 20)) return -1;
    }
    int idx[BQ_SEARCH_GROUP_MAXQ] = {0}, bits[BQ_SEARCH_GROUP_MAXQ];
    for (long t = 0; t < total; t++) {
        for (int i = 0; i < G->n_q; i++) bits[i] = p->quants[G->q[i]].bits[idx[i]];
        if (bq_search_add_cand(p, g, bits, NAN) < 0) return -1;
        /* mixed-radix increment, last quantizer fastest */
        for (int i = G->n_q - 1; i >= 0; i--) {
            if (++idx[i] < p->quants[G->q[i]].n_bits) break;
            idx[i] = 0;
        }
    }
    return (int)total;
}

int bq_search_fill_sens(bq_search_problem *p, bq_search_sens_fn fn, void *ctx, char *err,
                        size_t errlen) {
    const bq_search_cand **list = malloc((size_t)(p->n_cands + 1) * sizeof *list);
    int *idx = malloc((size_t)(p->n_cands + 1) * sizeof *idx);
    double *out = malloc((size_t)(p->n_cands + 1) * sizeof *out);
    int rc = -1;
    if (!list || !idx || !out) {
        bq_seterr(err, errlen, "search: out of memory filling sensitivities");
        goto cleanup;
    }
    for (int g = 0; g < p->n_groups; g++) {
        int n = 0;
        for (int i = 0; i < p->n_cands; i++)
            if (p->cands[i].group == g && isnan(p->cands[i].sens)) {
                list[n] = &p->cands[i];
                idx[n++] = i;
            }
        if (n == 0) continue;
        if (fn(ctx, p, g, n, list, out, err, errlen)) goto cleanup;
        for (int i = 0; i < n; i++) {
            if (!isfinite(out[i])) {
                bq_seterr(err, errlen,
                       "search: sensitivity of group '%s' candidate %d is not finite; check the "
                       "sensitivity measurement", p->groups[g].name, i);
                goto cleanup;
            }
            p->cands[idx[i]].sens = out[i];
        }
    }
    rc = 0;
cleanup:
    free(list);
    free(idx);
    free(out);
    return rc;
}

/* Group a latency term is charged to, given the quantizers it depends on; -1 constant, -2 coupled. */
static int term_group(const bq_search_problem *p, int qa, int qb) {
    int ga = is_free(p, qa) ? p->quants[qa].group : -1;
    int gb = is_free(p, qb) ? p->quants[qb].group : -1;
    if (ga >= 0 && gb >= 0 && ga != gb) return -2;
    return ga >= 0 ? ga : gb;
}

int bq_search_finalize(bq_search_problem *p, char *err, size_t errlen) {
    if (p->finalized) return 0;
    if (!(p->clock_mhz > 0)) {
        bq_seterr(err, errlen, "search: clock %g MHz must be > 0; pass the accelerator config's clock",
               p->clock_mhz);
        return -1;
    }
    /* groups without free quantizers get their single (empty) configuration */
    for (int g = 0; g < p->n_groups; g++) {
        if (p->groups[g].n_q == 0 && p->groups[g].n_cand == 0 &&
            bq_search_add_cand(p, g, NULL, 0.0) < 0) {
            bq_seterr(err, errlen, "search: out of memory");
            return -1;
        }
        if (p->groups[g].n_cand == 0) {
            bq_seterr(err, errlen, "search: group '%s' has no candidate configuration; call "
                   "bq_search_enumerate or bq_search_add_cand for it", p->groups[g].name);
            return -1;
        }
    }
    /* every latency term on the free quantizers of one group at most */
    for (int l = 0; l < p->n_layers; l++) {
        const bq_search_layer *L = &p->layers[l];
        if (term_group(p, L->wq, L->aq_in) == -2) {
            bq_seterr(err, errlen, "search: layer '%s': weight quantizer '%s' is decided by group '%s' "
                   "but input quantizer '%s' by group '%s'; the cost table couples them: let the "
                   "group that consumes '%s' own the layer, or merge the two groups",
                   L->name, p->quants[L->wq].name, p->groups[p->quants[L->wq].group].name,
                   p->quants[L->aq_in].name, p->groups[p->quants[L->aq_in].group].name,
                   p->quants[L->aq_in].name);
            return -1;
        }
    }
    /* check the tables at every reachable bit-width */
    for (int l = 0; l < p->n_layers; l++) {
        const bq_search_layer *L = &p->layers[l];
        const bq_search_quant *W = &p->quants[L->wq], *A = &p->quants[L->aq_in];
        for (int i = 0; i < W->n_bits; i++)
            for (int j = 0; j < A->n_bits; j++)
                if (p->exec[((size_t)l * TB + W->bits[i]) * TB + A->bits[j]] < 0) {
                    bq_seterr(err, errlen, "search: layer '%s': negative cycles at W%dA%d in the cost "
                           "table", L->name, W->bits[i], A->bits[j]);
                    return -1;
                }
    }
    /* stable bucket sort by group: candidates keep the order they were added in */
    bq_search_cand *sorted = malloc((size_t)(p->n_cands + 1) * sizeof *sorted);
    if (!sorted) {
        bq_seterr(err, errlen, "search: out of memory");
        return -1;
    }
    int off = 0;
    for (int g = 0; g < p->n_groups; g++) {
        p->groups[g].cand_off = off;
        off += p->groups[g].n_cand;
    }
    int *fill = calloc((size_t)p->n_groups + 1, sizeof(int));
    if (!fill) {
        free(sorted);
        bq_seterr(err, errlen, "search: out of memory");
        return -1;
    }
    for (int i = 0; i < p->n_cands; i++) {
        int g = p->cands[i].group;
        sorted[p->groups[g].cand_off + fill[g]++] = p->cands[i];
    }
    free(fill);
    free(p->cands);
    p->cands = sorted;
    p->cap_cands = p->n_cands + 1;
    int *qbits = malloc((size_t)(p->n_quants + 1) * sizeof(int));
    if (!qbits) {
        bq_seterr(err, errlen, "search: out of memory");
        return -1;
    }
    for (int q = 0; q < p->n_quants; q++) qbits[q] = fixed_bits(p, q);
    /* base: constant terms and fixed weights */
    p->base_cycles = 0;
    p->base_size_bits = 0;
    for (int l = 0; l < p->n_layers; l++) {
        const bq_search_layer *L = &p->layers[l];
        if (term_group(p, L->wq, L->aq_in) == -1)
            p->base_cycles += p->exec[((size_t)l * TB + qbits[L->wq]) * TB + qbits[L->aq_in]];
        if (L->aq_out >= 0 && !is_free(p, L->aq_out))
            p->base_cycles += p->write[(size_t)l * TB + qbits[L->aq_out]];
        if (L->aq_res >= 0 && !is_free(p, L->aq_res))
            p->base_cycles += p->res[(size_t)l * TB + qbits[L->aq_res]];
    }
    for (int q = 0; q < p->n_quants; q++)
        if (!is_free(p, q) && p->quants[q].kind == BQ_SQ_WEIGHT)
            p->base_size_bits += p->quants[q].n_elems * qbits[q];
    /* price every candidate with the terms charged to its group */
    for (int i = 0; i < p->n_cands; i++) {
        bq_search_cand *c = &p->cands[i];
        const bq_search_group *G = &p->groups[c->group];
        for (int k = 0; k < G->n_q; k++) qbits[G->q[k]] = c->bits[k];
        int64_t cyc = 0, sz = 0;
        for (int l = 0; l < p->n_layers; l++) {
            const bq_search_layer *L = &p->layers[l];
            if (term_group(p, L->wq, L->aq_in) == c->group)
                cyc += p->exec[((size_t)l * TB + qbits[L->wq]) * TB + qbits[L->aq_in]];
            if (L->aq_out >= 0 && is_free(p, L->aq_out) && p->quants[L->aq_out].group == c->group)
                cyc += p->write[(size_t)l * TB + qbits[L->aq_out]];
            if (L->aq_res >= 0 && is_free(p, L->aq_res) && p->quants[L->aq_res].group == c->group)
                cyc += p->res[(size_t)l * TB + qbits[L->aq_res]];
        }
        for (int k = 0; k < G->n_q; k++)
            if (p->quants[G->q[k]].kind == BQ_SQ_WEIGHT) sz += p->quants[G->q[k]].n_elems * c->bits[k];
        c->cycles = cyc;
        c->size_bits = sz;
        for (int k = 0; k < G->n_q; k++) qbits[G->q[k]] = fixed_bits(p, G->q[k]);
    }
    free(qbits);
    p->finalized = 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* evaluating                                                                                      */

void bq_search_eval(const bq_search_problem *p, const int *choice, double *objective,
                    int64_t *cycles, int64_t *size_bits) {
    double s = 0;
    int64_t c = p->base_cycles, z = p->base_size_bits;
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_cand *k = bq_search_cand_of(p, g, choice[g]);
        s += k->sens;
        c += k->cycles;
        z += k->size_bits;
    }
    if (objective) *objective = s;
    if (cycles) *cycles = c;
    if (size_bits) *size_bits = z;
}

void bq_search_choice_bits(const bq_search_problem *p, const int *choice, int *qbits) {
    for (int q = 0; q < p->n_quants; q++) qbits[q] = fixed_bits(p, q);
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_cand *k = bq_search_cand_of(p, g, choice[g]);
        for (int i = 0; i < p->groups[g].n_q; i++) qbits[p->groups[g].q[i]] = k->bits[i];
    }
}

int64_t bq_search_layer_cycles(const bq_search_problem *p, int l, const int *qbits) {
    const bq_search_layer *L = &p->layers[l];
    int64_t c = p->exec[((size_t)l * TB + qbits[L->wq]) * TB + qbits[L->aq_in]];
    if (L->aq_out >= 0) c += p->write[(size_t)l * TB + qbits[L->aq_out]];
    if (L->aq_res >= 0) c += p->res[(size_t)l * TB + qbits[L->aq_res]];
    return c;
}

int64_t bq_search_total_cycles(const bq_search_problem *p, const int *qbits) {
    int64_t c = 0;
    for (int l = 0; l < p->n_layers; l++) c += bq_search_layer_cycles(p, l, qbits);
    return c;
}

int64_t bq_search_total_size(const bq_search_problem *p, const int *qbits) {
    int64_t z = 0;
    for (int q = 0; q < p->n_quants; q++)
        if (p->quants[q].kind == BQ_SQ_WEIGHT) z += p->quants[q].n_elems * qbits[q];
    return z;
}

void bq_search_uniform_bits(const bq_search_problem *p, int wbits, int abits, int *qbits) {
    for (int q = 0; q < p->n_quants; q++)
        qbits[q] = !is_free(p, q) ? fixed_bits(p, q)
                   : p->quants[q].kind == BQ_SQ_WEIGHT ? wbits : abits;
}

int bq_search_choice_from_bits(const bq_search_problem *p, const int *qbits, int *choice) {
    int rc = 0;
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_group *G = &p->groups[g];
        choice[g] = -1;
        for (int c = 0; c < G->n_cand && choice[g] < 0; c++) {
            const bq_search_cand *k = bq_search_cand_of(p, g, c);
            int ok = 1;
            for (int i = 0; i < G->n_q && ok; i++) ok = k->bits[i] == qbits[G->q[i]];
            if (ok) choice[g] = c;
        }
        if (choice[g] < 0) rc = -1;
    }
    return rc;
}

int64_t bq_search_min_cycles(const bq_search_problem *p) {
    int64_t c = p->base_cycles;
    for (int g = 0; g < p->n_groups; g++) {
        int64_t m = INT64_MAX;
        for (int i = 0; i < p->groups[g].n_cand; i++)
            if (bq_search_cand_of(p, g, i)->cycles < m) m = bq_search_cand_of(p, g, i)->cycles;
        c += m;
    }
    return c;
}

int64_t bq_search_min_size(const bq_search_problem *p) {
    int64_t z = p->base_size_bits;
    for (int g = 0; g < p->n_groups; g++) {
        int64_t m = INT64_MAX;
        for (int i = 0; i < p->groups[g].n_cand; i++)
            if (bq_search_cand_of(p, g, i)->size_bits < m) m = bq_search_cand_of(p, g, i)->size_bits;
        z += m;
    }
    return z;
}

/* ---------------------------------------------------------------------------------------------- */
/* budgets                                                                                         */

int bq_budget_parse(const char *s, double clock_mhz, int64_t w8a8_cycles, int64_t *cycles,
                    char *err, size_t errlen) {
    if (!s || !*s) {
        bq_seterr(err, errlen, "budget '': empty; give cycles ('12000cyc'), microseconds ('85us') or "
               "a fraction of uniform W8A8 latency ('0.35x')");
        return -1;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v)) {
        bq_seterr(err, errlen, "budget '%s': no number at the start; write e.g. '12000cyc', '85us' or "
               "'0.35x'", s);
        return -1;
    }
    while (*end && isspace((unsigned char)*end)) end++;
    double cyc;
    if (*end == 0 || strcmp(end, "cyc") == 0 || strcmp(end, "cycles") == 0) {
        cyc = v;
    } else if (strcmp(end, "us") == 0 || strcmp(end, "ms") == 0) {
        if (!(clock_mhz > 0)) {
            bq_seterr(err, errlen, "budget '%s': a time needs the accelerator clock; load the hw "
                   "config first", s);
            return -1;
        }
        cyc = v * clock_mhz * (end[0] == 'm' ? 1000.0 : 1.0);
    } else if (strcmp(end, "x") == 0) {
        if (w8a8_cycles <= 0) {
            bq_seterr(err, errlen, "budget '%s': a fraction needs the uniform W8A8 latency, which is "
                   "not known here; give cycles or us instead", s);
            return -1;
        }
        cyc = v * (double)w8a8_cycles;
    } else {
        bq_seterr(err, errlen, "budget '%s': unknown unit '%s'; use 'cyc', 'us', 'ms' or 'x' (fraction "
               "of uniform W8A8 latency)", s, end);
        return -1;
    }
    if (v < 0 || cyc > 9.0e18) {
        bq_seterr(err, errlen, "budget '%s': must be a non-negative latency below 9e18 cycles", s);
        return -1;
    }
    /* round down, but forgive binary-fraction noise (0.35 * 20000 = 7000.000000000001) */
    double f = floor(cyc + 1e-9 * (cyc > 1 ? cyc : 1));
    *cycles = (int64_t)f;
    return 0;
}

int bq_search_check_budget(const bq_search_problem *p, const bq_search_budget *b, char *err,
                           size_t errlen) {
    int64_t mc = bq_search_min_cycles(p);
    if (b->max_cycles < mc) {
        bq_seterr(err, errlen, "search: latency budget %lld cycles (%.2f us) is below the all-minimum-"
               "bits latency; the smallest feasible budget is %lld cycles (%.2f us)",
               (long long)b->max_cycles, (double)b->max_cycles / p->clock_mhz, (long long)mc,
               (double)mc / p->clock_mhz);
        return -1;
    }
    if (b->max_size_bits >= 0) {
        int64_t mz = bq_search_min_size(p);
        if (b->max_size_bits < mz) {
            bq_seterr(err, errlen, "search: size budget %lld bits (%.1f KiB) is below the all-minimum-"
                   "bits model size; the smallest feasible size budget is %lld bits (%.1f KiB)",
                   (long long)b->max_size_bits, (double)b->max_size_bits / 8192.0, (long long)mz,
                   (double)mz / 8192.0);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* shared by both solvers: per-group non-dominated candidate lists and greedy repair               */

typedef struct {
    int64_t cyc, sz;
    double sens;
    int32_t parent;   /* state index in the previous stage */
    int32_t cand;     /* frontier position in this stage's group */
} dp_state;

static int cmp_state(const void *a, const void *b) {
    const dp_state *x = a, *y = b;
    if (x->cyc != y->cyc) return x->cyc < y->cyc ? -1 : 1;
    if (x->sz != y->sz) return x->sz < y->sz ? -1 : 1;
    if (x->sens != y->sens) return x->sens < y->sens ? -1 : 1;
    if (x->parent != y->parent) return x->parent < y->parent ? -1 : 1;
    return (x->cand > y->cand) - (x->cand < y->cand);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Keep the Pareto-optimal entries of st[0..n): sort by (cycles, size, sensitivity, parent, cand)
 * and drop an entry when an earlier one has <= size and <= sensitivity (identical entries: the
 * first is kept). Without use_size, size is ignored: a running minimum. With it, a Fenwick tree
 * over size ranks holds the minimum sensitivity seen at size <= rank: an exact 3-D filter in
 * O(n log n). Returns the number kept (compacted to the front, sorted by cycles), or -1 on OOM. */
static long pareto_filter(dp_state *st, long n, int use_size) {
    qsort(st, (size_t)n, sizeof *st, cmp_state);
    long m = 0;
    if (!use_size) {
        double bs = INFINITY;
        for (long i = 0; i < n; i++)
            if (st[i].sens < bs) {
                bs = st[i].sens;
                st[m++] = st[i];
            }
        return m;
    }
    int64_t *szs = malloc((size_t)(n + 1) * sizeof *szs);
    double *fen = malloc((size_t)(n + 2) * sizeof *fen);
    if (!szs || !fen) {
        free(szs);
        free(fen);
        return -1;
    }
    for (long i = 0; i < n; i++) szs[i] = st[i].sz;
    qsort(szs, (size_t)n, sizeof *szs, cmp_i64);
    long u = 0;
    for (long i = 0; i < n; i++)
        if (u == 0 || szs[i] != szs[u - 1]) szs[u++] = szs[i];
    for (long i = 0; i <= u; i++) fen[i] = INFINITY;
    for (long i = 0; i < n; i++) {
        long lo = 0, hi = u - 1;   /* rank of st[i].sz */
        while (lo < hi) {
            long mid = (lo + hi) / 2;
            if (szs[mid] < st[i].sz) lo = mid + 1;
            else hi = mid;
        }
        double q = INFINITY;
        for (long x = lo + 1; x > 0; x -= x & -x)
            if (fen[x] < q) q = fen[x];
        if (q <= st[i].sens) continue;
        for (long x = lo + 1; x <= u; x += x & -x)
            if (st[i].sens < fen[x]) fen[x] = st[i].sens;
        st[m++] = st[i];
    }
    free(szs);
    free(fen);
    return m;
}

/* Candidates of every group with dominated ones removed (another candidate no worse in cycles,
 * size (only when the size is budgeted) and sensitivity, and better in one, or identical with a
 * lower index). A dominated candidate is never needed for an optimum, so both solvers use these. */
typedef struct {
    int *idx;        /* flat, group by group: candidate index within the group */
    int *off;        /* [G+1] */
} frontier;

static void frontier_free(frontier *f) {
    free(f->idx);
    free(f->off);
}

static int frontier_build(frontier *f, const bq_search_problem *p, int use_size) {
    f->idx = malloc((size_t)(p->n_cands + 1) * sizeof(int));
    f->off = malloc((size_t)(p->n_groups + 1) * sizeof(int));
    int maxc = 1;
    for (int g = 0; g < p->n_groups; g++)
        if (p->groups[g].n_cand > maxc) maxc = p->groups[g].n_cand;
    dp_state *st = malloc((size_t)maxc * sizeof *st);
    if (!f->idx || !f->off || !st) {
        free(st);
        return -1;
    }
    int n = 0;
    for (int g = 0; g < p->n_groups; g++) {
        f->off[g] = n;
        int nc = p->groups[g].n_cand;
        for (int i = 0; i < nc; i++) {
            const bq_search_cand *c = bq_search_cand_of(p, g, i);
            st[i] = (dp_state){c->cycles, use_size ? c->size_bits : 0, c->sens, -1, i};
        }
        long m = pareto_filter(st, nc, use_size);
        if (m < 0) {
            free(st);
            return -1;
        }
        for (long i = 0; i < m; i++) f->idx[n++] = st[i].cand;
    }
    f->off[p->n_groups] = n;
    free(st);
    return 0;
}

/* Scaled constraint violation of totals (cycles, size). 0 when feasible. */
static double violation(const bq_search_budget *b, int64_t cyc, int64_t sz) {
    double v = 0;
    if (cyc > b->max_cycles) v += (double)(cyc - b->max_cycles) / (double)(b->max_cycles + 1);
    if (b->max_size_bits >= 0 && sz > b->max_size_bits)
        v += (double)(sz - b->max_size_bits) / (double)(b->max_size_bits + 1);
    return v;
}

/* Greedy repair: while the choice (frontier positions pos[g]) violates a budget, move one group
 * to the frontier candidate with the smallest sensitivity increase per unit of violation removed.
 * Returns 0 when feasible, -1 when no move reduces the violation. */
static int repair(const bq_search_problem *p, const frontier *f, const bq_search_budget *b,
                  int *pos) {
    int64_t cyc = p->base_cycles, sz = p->base_size_bits;
    for (int g = 0; g < p->n_groups; g++) {
        const bq_search_cand *k = bq_search_cand_of(p, g, f->idx[f->off[g] + pos[g]]);
        cyc += k->cycles;
        sz += k->size_bits;
    }
    double v = violation(b, cyc, sz);
    while (v > 0) {
        int bg = -1, bj = -1;
        double best = INFINITY;
        for (int g = 0; g < p->n_groups; g++) {
            const bq_search_cand *cur = bq_search_cand_of(p, g, f->idx[f->off[g] + pos[g]]);
            for (int j = 0; j < f->off[g + 1] - f->off[g]; j++) {
                if (j == pos[g]) continue;
                const bq_search_cand *k = bq_search_cand_of(p, g, f->idx[f->off[g] + j]);
                double nv = violation(b, cyc - cur->cycles + k->cycles,
                                      sz - cur->size_bits + k->size_bits);
                if (!(nv < v)) continue;
                double score = (k->sens - cur->sens) / (v - nv);
                if (score < best) {
                    best = score;
                    bg = g;
                    bj = j;
                }
            }
        }
        if (bg < 0) return -1;
        const bq_search_cand *cur = bq_search_cand_of(p, bg, f->idx[f->off[bg] + pos[bg]]);
        const bq_search_cand *k = bq_search_cand_of(p, bg, f->idx[f->off[bg] + bj]);
        cyc += k->cycles - cur->cycles;
        sz += k->size_bits - cur->size_bits;
        pos[bg] = bj;
        v = violation(b, cyc, sz);
    }
    return 0;
}

static double pos_objective(const bq_search_problem *p, const frontier *f, const int *pos) {
    double s = 0;
    for (int g = 0; g < p->n_groups; g++) s += bq_search_cand_of(p, g, f->idx[f->off[g] + pos[g]])->sens;
    return s;
}

static void fill_result(const bq_search_problem *p, const bq_search_budget *b, bq_search_result *r) {
    bq_search_eval(p, r->choice, &r->objective, &r->cycles, &r->size_bits);
    r->slack_cycles = b->max_cycles - r->cycles;
    r->slack_size_bits = b->max_size_bits >= 0 ? b->max_size_bits - r->size_bits : -1;
}

static int precheck(const bq_search_problem *p, const bq_search_budget *b, char *err,
                    size_t errlen) {
    if (!p->finalized) {
        bq_seterr(err, errlen, "search: problem not finalized; call bq_search_finalize first");
        return -1;
    }
    if (p->n_groups > BQ_SEARCH_MAX_GROUPS) {
        bq_seterr(err, errlen, "search: %d groups exceed the limit %d", p->n_groups,
               BQ_SEARCH_MAX_GROUPS);
        return -1;
    }
    for (int i = 0; i < p->n_cands; i++)
        if (!isfinite(p->cands[i].sens)) {
            bq_seterr(err, errlen, "search: group '%s' has a candidate without a finite sensitivity; "
                   "run the sensitivity pass (bq_search_fill_sens) first",
                   p->groups[p->cands[i].group].name);
            return -1;
        }
    return bq_search_check_budget(p, b, err, errlen);
}

/* ---------------------------------------------------------------------------------------------- */
/* genetic algorithm                                                                               */

void bq_ga_params_default(bq_ga_params *gp) {
    gp->population = 64;
    gp->generations = 300;
    gp->tournament = 3;
    gp->elite = 2;
    gp->p_crossover = 0.9;
    gp->p_mutation = -1;
    gp->seed = 1;
}

typedef struct {
    double fit;
    int id;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->fit < y->fit) return -1;
    if (x->fit > y->fit) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

int bq_search_ga(const bq_search_problem *p, const bq_search_budget *b, const bq_ga_params *gp,
                 bq_search_result *r, char *err, size_t errlen) {
    double t0 = bq_now();
    memset(r, 0, sizeof *r);
    if (precheck(p, b, err, errlen)) return -1;
    if (gp->population < 4 || gp->tournament < 2 || gp->elite < 0 || gp->elite >= gp->population ||
        gp->generations < 0) {
        bq_seterr(err, errlen, "search: GA parameters: population >= 4, tournament >= 2, 0 <= elite < "
               "population, generations >= 0");
        return -1;
    }
    const int G = p->n_groups, P = gp->population;
    const double pm = gp->p_mutation >= 0 ? gp->p_mutation : 1.0 / (G > 0 ? G : 1);
    frontier f = {0};
    int *pop = malloc((size_t)P * (G + 1) * sizeof(int));
    int *nxt = malloc((size_t)P * (G + 1) * sizeof(int));
    double *fit = malloc((size_t)P * sizeof(double));
    ranked *rk = malloc((size_t)P * sizeof(ranked));
    int *best = malloc((size_t)(G + 1) * sizeof(int));
    int rc = -1;
    if (!pop || !nxt || !fit || !rk || !best || frontier_build(&f, p, b->max_size_bits >= 0)) {
        bq_seterr(err, errlen, "search: out of memory in the GA");
        goto cleanup;
    }
    bq_rng rng;
    bq_rng_seed(&rng, gp->seed);
    double best_fit = INFINITY;
    long evals = 0;
#define NG(g) (f.off[(g) + 1] - f.off[(g)])
    /* initial population: the cheapest allocation, the most accurate one (repaired), random ones */
    for (int i = 0; i < P; i++) {
        int *ind = pop + (size_t)i * G;
        for (int g = 0; g < G; g++) {
            if (i == 0 || i == 1) {
                int bj = 0;
                for (int j = 1; j < NG(g); j++) {
                    const bq_search_cand *a = bq_search_cand_of(p, g, f.idx[f.off[g] + j]);
                    const bq_search_cand *c = bq_search_cand_of(p, g, f.idx[f.off[g] + bj]);
                    if (i == 0 ? a->cycles < c->cycles : a->sens < c->sens) bj = j;
                }
                ind[g] = bj;
            } else {
                ind[g] = (int)bq_rng_below(&rng, (uint32_t)NG(g));
            }
        }
        fit[i] = repair(p, &f, b, ind) ? INFINITY : pos_objective(p, &f, ind);
        evals++;
        if (fit[i] < best_fit) {
            best_fit = fit[i];
            memcpy(best, ind, (size_t)G * sizeof(int));
        }
    }
    for (int gen = 0; gen < gp->generations; gen++) {
        for (int i = 0; i < P; i++) rk[i] = (ranked){fit[i], i};
        qsort(rk, (size_t)P, sizeof *rk, cmp_ranked);
        double *nfit = malloc((size_t)P * sizeof(double));
        if (!nfit) {
            bq_seterr(err, errlen, "search: out of memory in the GA");
            goto cleanup;
        }
        for (int e = 0; e < gp->elite; e++) {
            memcpy(nxt + (size_t)e * G, pop + (size_t)rk[e].id * G, (size_t)G * sizeof(int));
            nfit[e] = rk[e].fit;
        }
        for (int i = gp->elite; i < P; i++) {
            int *child = nxt + (size_t)i * G;
            int pa = -1, pb = -1;
            /* tournament: the best of `tournament` random individuals (ties: lower index) */
            for (int t = 0; t < gp->tournament; t++) {
                int c = (int)bq_rng_below(&rng, (uint32_t)P);
                if (pa < 0 || fit[c] < fit[pa] || (fit[c] == fit[pa] && c < pa)) pa = c;
            }
            memcpy(child, pop + (size_t)pa * G, (size_t)G * sizeof(int));
            if (bq_rng_uniform(&rng) < gp->p_crossover) {
                for (int t = 0; t < gp->tournament; t++) {
                    int c = (int)bq_rng_below(&rng, (uint32_t)P);
                    if (pb < 0 || fit[c] < fit[pb] || (fit[c] == fit[pb] && c < pb)) pb = c;
                }
                for (int g = 0; g < G; g++)   /* uniform crossover */
                    if (bq_rng_u64(&rng) >> 63) child[g] = pop[(size_t)pb * G + g];
            }
            for (int g = 0; g < G; g++)
                if (bq_rng_uniform(&rng) < pm) child[g] = (int)bq_rng_below(&rng, (uint32_t)NG(g));
            nfit[i] = repair(p, &f, b, child) ? INFINITY : pos_objective(p, &f, child);
            evals++;
            if (nfit[i] < best_fit) {
                best_fit = nfit[i];
                memcpy(best, child, (size_t)G * sizeof(int));
            }
        }
        int *t = pop;
        pop = nxt;
        nxt = t;
        memcpy(fit, nfit, (size_t)P * sizeof(double));
        free(nfit);
    }
#undef NG
    if (!isfinite(best_fit)) {
        bq_seterr(err, errlen, "search: the GA found no allocation meeting both the latency and the "
               "size budget; relax the size budget or try the exact solver");
        goto cleanup;
    }
    for (int g = 0; g < G; g++) r->choice[g] = f.idx[f.off[g] + best[g]];
    fill_result(p, b, r);
    r->work = evals;
    r->seconds = bq_now() - t0;
    rc = 0;
cleanup:
    frontier_free(&f);
    free(pop);
    free(nxt);
    free(fit);
    free(rk);
    free(best);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* exact solver: DP over Pareto-optimal partial solutions                                          */

/* Lagrangian dual of the cycle (which = 0) or size (which = 1) constraint over groups g..G-1:
 * returns the multiplier maximising  sum_g min_c (s + lam*cost) - lam*cap  by ternary search (the
 * function is concave in lam; any lam >= 0 gives a valid bound, so precision only affects speed). */
static double lagrange_value(const bq_search_problem *p, const frontier *f, int which, double lam,
                             double cap) {
    double v = -lam * cap;
    for (int g = 0; g < p->n_groups; g++) {
        double m = INFINITY;
        for (int j = f->off[g]; j < f->off[g + 1]; j++) {
            const bq_search_cand *k = bq_search_cand_of(p, g, f->idx[j]);
            double t = k->sens + lam * (double)(which ? k->size_bits : k->cycles);
            if (t < m) m = t;
        }
        v += m;
    }
    return v;
}

static double lagrange_best(const bq_search_problem *p, const frontier *f, int which, double cap) {
    double smin = INFINITY, smax = -INFINITY;
    for (int i = 0; i < p->n_cands; i++) {
        if (p->cands[i].sens < smin) smin = p->cands[i].sens;
        if (p->cands[i].sens > smax) smax = p->cands[i].sens;
    }
    /* beyond lam = (total sensitivity range)/1 every group takes its cheapest candidate */
    double lo = 0, hi = (smax - smin) * p->n_groups + 1.0;
    for (int it = 0; it < 200; it++) {
        double a = lo + (hi - lo) / 3, c = hi - (hi - lo) / 3;
        if (lagrange_value(p, f, which, a, cap) < lagrange_value(p, f, which, c, cap)) lo = a;
        else hi = c;
    }
    return 0.5 * (lo + hi);
}

int bq_search_exact(const bq_search_problem *p, const bq_search_budget *b, const int *incumbent,
                    long max_states, bq_search_result *r, char *err, size_t errlen) {
    double t0 = bq_now();
    memset(r, 0, sizeof *r);
    if (precheck(p, b, err, errlen)) return -1;
    if (max_states <= 0) max_states = 4L << 20;
    const int G = p->n_groups;
    const int use_size = b->max_size_bits >= 0;
    const int64_t B = b->max_cycles, S = use_size ? b->max_size_bits : INT64_MAX;
    frontier f = {0};
    dp_state **hist = calloc((size_t)G + 1, sizeof *hist);
    long *nhist = calloc((size_t)G + 1, sizeof *nhist);
    int64_t *rc_min = calloc((size_t)G + 1, sizeof *rc_min), *rz_min = calloc((size_t)G + 1, sizeof *rz_min);
    double *rs_min = calloc((size_t)G + 1, sizeof *rs_min);
    double *lc_rest = calloc((size_t)G + 1, sizeof *lc_rest), *lz_rest = calloc((size_t)G + 1, sizeof *lz_rest);
    int *pos = malloc((size_t)(G + 1) * sizeof(int));
    dp_state *buf = NULL;
    long cap = 0;
    int rc = -1;
    if (!hist || !nhist || !rc_min || !rz_min || !rs_min || !lc_rest || !lz_rest || !pos ||
        frontier_build(&f, p, use_size)) {
        bq_seterr(err, errlen, "search: out of memory in the exact solver");
        goto cleanup;
    }
    /* suffix bounds over groups g..G-1 */
    double lam = lagrange_best(p, &f, 0, (double)(B - p->base_cycles));
    double mu = use_size ? lagrange_best(p, &f, 1, (double)(S - p->base_size_bits)) : 0;
    for (int g = G - 1; g >= 0; g--) {
        int64_t mc = INT64_MAX, mz = INT64_MAX;
        double ms = INFINITY, lc = INFINITY, lz = INFINITY;
        for (int j = f.off[g]; j < f.off[g + 1]; j++) {
            const bq_search_cand *k = bq_search_cand_of(p, g, f.idx[j]);
            if (k->cycles < mc) mc = k->cycles;
            if (k->size_bits < mz) mz = k->size_bits;
            if (k->sens < ms) ms = k->sens;
            if (k->sens + lam * (double)k->cycles < lc) lc = k->sens + lam * (double)k->cycles;
            if (k->sens + mu * (double)k->size_bits < lz) lz = k->sens + mu * (double)k->size_bits;
        }
        rc_min[g] = rc_min[g + 1] + mc;
        rz_min[g] = rz_min[g + 1] + mz;
        rs_min[g] = rs_min[g + 1] + ms;
        lc_rest[g] = lc_rest[g + 1] + lc;
        lz_rest[g] = lz_rest[g + 1] + lz;
    }
    /* upper bound: a caller's feasible incumbent, and our own greedy one (min-sensitivity choice,
     * repaired). Pruning keeps states whose bound ties the upper bound, so the optimum survives. */
    double ub = INFINITY;
    if (incumbent) {
        double s;
        int64_t c, z;
        bq_search_eval(p, incumbent, &s, &c, &z);
        if (c <= B && (!use_size || z <= S)) ub = s;
    }
    for (int g = 0; g < G; g++) {
        int bj = 0;
        for (int j = 1; j < f.off[g + 1] - f.off[g]; j++)
            if (bq_search_cand_of(p, g, f.idx[f.off[g] + j])->sens <
                bq_search_cand_of(p, g, f.idx[f.off[g] + bj])->sens) bj = j;
        pos[g] = bj;
    }
    if (repair(p, &f, b, pos) == 0) {
        double s = pos_objective(p, &f, pos);
        if (s < ub) ub = s;
    }
    const double tol = 1e-9 * (fabs(ub) + 1.0);

    hist[0] = malloc(sizeof(dp_state));
    if (!hist[0]) {
        bq_seterr(err, errlen, "search: out of memory in the exact solver");
        goto cleanup;
    }
    hist[0][0] = (dp_state){p->base_cycles, use_size ? p->base_size_bits : 0, 0.0, -1, -1};
    nhist[0] = 1;
    long kept_total = 1;
    for (int g = 0; g < G; g++) {
        const dp_state *cur = hist[g];
        long n = 0;
        for (long i = 0; i < nhist[g]; i++) {
            for (int j = 0; j < f.off[g + 1] - f.off[g]; j++) {
                const bq_search_cand *k = bq_search_cand_of(p, g, f.idx[f.off[g] + j]);
                int64_t nc = cur[i].cyc + k->cycles;
                int64_t nz = use_size ? cur[i].sz + k->size_bits : 0;
                double ns = cur[i].sens + k->sens;
                if (nc + rc_min[g + 1] > B) continue;
                if (use_size && nz + rz_min[g + 1] > S) continue;
                double lb = ns + rs_min[g + 1];
                double l1 = ns + lc_rest[g + 1] - lam * (double)(B - nc);
                if (l1 > lb) lb = l1;
                if (use_size) {
                    double l2 = ns + lz_rest[g + 1] - mu * (double)(S - nz);
                    if (l2 > lb) lb = l2;
                }
                if (lb > ub + tol) continue;
                if (n >= max_states) {
                    bq_seterr(err, errlen, "search: exact solver exceeded %ld partial solutions at "
                           "group '%s' (%d of %d); give fewer candidates per group, raise the limit, "
                           "or use the GA alone", max_states, p->groups[g].name, g + 1, G);
                    goto cleanup;
                }
                if (n >= cap) {
                    long nc2 = cap ? cap * 2 : 1024;
                    if (nc2 > max_states) nc2 = max_states;
                    dp_state *q = realloc(buf, (size_t)nc2 * sizeof *q);
                    if (!q) {
                        bq_seterr(err, errlen, "search: out of memory in the exact solver");
                        goto cleanup;
                    }
                    buf = q;
                    cap = nc2;
                }
                buf[n++] = (dp_state){nc, nz, ns, (int32_t)i, (int32_t)j};
            }
        }
        if (n == 0) {
            bq_seterr(err, errlen, "search: no allocation meets the latency budget %lld cycles%s; "
                   "relax the budget(s)", (long long)B,
                   use_size ? " together with the size budget" : "");
            goto cleanup;
        }
        /* keep the Pareto-optimal states */
        long m = pareto_filter(buf, n, use_size);
        if (m < 0) {
            bq_seterr(err, errlen, "search: out of memory in the exact solver");
            goto cleanup;
        }
        hist[g + 1] = malloc((size_t)m * sizeof(dp_state));
        if (!hist[g + 1]) {
            bq_seterr(err, errlen, "search: out of memory in the exact solver");
            goto cleanup;
        }
        memcpy(hist[g + 1], buf, (size_t)m * sizeof(dp_state));
        nhist[g + 1] = m;
        kept_total += m;
    }
    /* the best final state; all are feasible */
    long bi = 0;
    for (long i = 1; i < nhist[G]; i++)
        if (hist[G][i].sens < hist[G][bi].sens) bi = i;
    for (int g = G; g > 0; g--) {
        const dp_state *s = &hist[g][bi];
        r->choice[g - 1] = f.idx[f.off[g - 1] + s->cand];
        bi = s->parent;
    }
    fill_result(p, b, r);
    r->work = kept_total;
    r->seconds = bq_now() - t0;
    rc = 0;
cleanup:
    if (hist)
        for (int g = 0; g <= G; g++) free(hist[g]);
    free(hist);
    free(nhist);
    free(rc_min);
    free(rz_min);
    free(rs_min);
    free(lc_rest);
    free(lz_rest);
    free(pos);
    free(buf);
    frontier_free(&f);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* outputs                                                                                         */

/* A JSON string literal (names are identifiers in practice; escape what JSON requires). */
static void json_str(bq_buf *b, const char *s) {
    bq_buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') bq_buf_printf(b, "\\%c", ch);
        else if (ch < 32) bq_buf_printf(b, "\\u%04x", ch);
        else bq_buf_put(b, s, 1);
    }
    bq_buf_put(b, "\"", 1);
}

void bq_search_bits_yaml(const bq_search_problem *p, const int *qbits, const char *comment,
                         bq_buf *out) {
    if (comment) bq_buf_printf(out, "# %s\n", comment);
    for (int l = 0; l < p->n_layers; l++) {
        const bq_search_layer *L = &p->layers[l];
        json_str(out, L->name);   /* a JSON string is a valid YAML double-quoted scalar */
        bq_buf_printf(out, ": {wbits: %d, abits: %d}\n", qbits[L->wq], qbits[L->aq_in]);
    }
}

static void json_result(bq_buf *o, const char *name, const bq_search_result *r) {
    bq_buf_printf(o, "\"%s\": {\"objective\": %.17g, \"cycles\": %lld, \"slack_cycles\": %lld, "
                  "\"size_bits\": %lld, \"slack_size_bits\": %lld, \"seconds\": %.6f, \"work\": %ld}",
                  name, r->objective, (long long)r->cycles, (long long)r->slack_cycles,
                  (long long)r->size_bits, (long long)r->slack_size_bits, r->seconds, r->work);
}

void bq_search_report_json(const bq_search_problem *p, const bq_search_budget *b,
                           const bq_search_result *ga, const bq_search_result *exact,
                           const bq_search_result *chosen, bq_buf *o) {
    int64_t mc = bq_search_min_cycles(p);
    bq_buf_printf(o, "{\"budget_cycles\": %lld, \"budget_us\": %.6g, \"size_budget_bits\": %lld, "
                  "\"clock_mhz\": %.17g, \"min_cycles\": %lld, \"groups\": %d, \"candidates\": %d",
                  (long long)b->max_cycles, (double)b->max_cycles / p->clock_mhz,
                  (long long)b->max_size_bits, p->clock_mhz, (long long)mc, p->n_groups,
                  p->n_cands);
    if (ga) {
        bq_buf_printf(o, ", ");
        json_result(o, "ga", ga);
    }
    if (exact) {
        bq_buf_printf(o, ", ");
        json_result(o, "exact", exact);
    }
    if (chosen) {
        int *qb = malloc((size_t)(p->n_quants + 1) * sizeof(int));
        if (!qb) {
            o->oom = 1;
            return;
        }
        bq_search_choice_bits(p, chosen->choice, qb);
        bq_buf_printf(o, ", \"solver\": \"%s\", \"layers\": [",
                      chosen == exact ? "exact" : chosen == ga ? "ga" : "other");
        for (int l = 0; l < p->n_layers; l++) {
            const bq_search_layer *L = &p->layers[l];
            bq_buf_printf(o, "%s{\"name\": ", l ? ", " : "");
            json_str(o, L->name);
            bq_buf_printf(o, ", \"wbits\": %d, \"abits\": %d, \"obits\": %d, \"cycles\": %lld}",
                          qb[L->wq], qb[L->aq_in], L->aq_out >= 0 ? qb[L->aq_out] : 0,
                          (long long)bq_search_layer_cycles(p, l, qb));
        }
        bq_buf_printf(o, "], \"choice\": [");
        for (int g = 0; g < p->n_groups; g++) {
            const bq_search_group *G = &p->groups[g];
            const bq_search_cand *c = bq_search_cand_of(p, g, chosen->choice[g]);
            bq_buf_printf(o, "%s{\"group\": ", g ? ", " : "");
            json_str(o, G->name);
            bq_buf_printf(o, ", \"sensitivity\": %.17g, \"cycles\": %lld, \"bits\": {",
                          c->sens, (long long)c->cycles);
            for (int k = 0; k < G->n_q; k++) {
                if (k) bq_buf_printf(o, ", ");
                json_str(o, p->quants[G->q[k]].name);
                bq_buf_printf(o, ": %d", c->bits[k]);
            }
            bq_buf_printf(o, "}}");
        }
        bq_buf_printf(o, "]");
        free(qb);
    }
    bq_buf_printf(o, "}\n");
}
