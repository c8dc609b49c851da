/*
 * search_model.c — search problem of a bq_qmodel on an accelerator (see search_model.h).
 */
#include "core/errmsg.h"
#include "search/search_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower/lower.h"
#include "lower/lower_v2.h"
#include "nn/graph.h"

void bq_search_space_default(bq_search_space *sp) {
    static const int d[4] = {2, 3, 4, 8};
    sp->n_wbits = sp->n_abits = 4;
    memcpy(sp->wbits, d, sizeof d);
    memcpy(sp->abits, d, sizeof d);
}

int bq_search_parse_bits(const char *s, int *bits, int *n, char *err, size_t errlen) {
    int seen[BQ_SEARCH_MAX_BITS + 1] = {0};
    const char *p = s;
    int any = 0;
    while (p && *p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > BQ_SEARCH_MAX_BITS || (*end && *end != ',')) {
            bq_seterr(err, errlen, "bit-width list '%s': expected comma-separated integers in 1..8, "
                   "e.g. '2,3,4,8'", s);
            return -1;
        }
        seen[v] = 1;
        any = 1;
        p = *end ? end + 1 : end;
    }
    if (!any) {
        bq_seterr(err, errlen, "bit-width list '%s' is empty; e.g. '2,3,4,8'", s ? s : "");
        return -1;
    }
    *n = 0;
    for (int b = 1; b <= BQ_SEARCH_MAX_BITS; b++)
        if (seen[b]) bits[(*n)++] = b;
    return 0;
}

int bq_search_hw_net(bq_hw_net *net, const bq_qmodel *q, int whole_network, char *err,
                     size_t errlen) {
    if (bq_lower_hw_net(net, q, err, errlen)) return -1;   /* the one lowering (sw/lower/lower.h) */
    if (whole_network && bq_lower_hw_net_v2(net, q, err, errlen)) {
        bq_hw_net_free(net);
        return -1;
    }
    return 0;
}

static int aq_fixed(const bq_qmodel *q, int a) {
    switch (q->aq[a].role) {
    case BQ_AQ_INPUT:
    case BQ_AQ_SHORTCUT: return 1;
    case BQ_AQ_FIRST_OUT:
    case BQ_AQ_LAST_IN: return q->opts.first_last_8bit;
    default: return 0;
    }
}

int bq_search_from_qmodel(bq_search_problem *p, const bq_qmodel *q, const bq_costtab *t,
                          double clock_mhz, const bq_search_space *sp, char *err, size_t errlen) {
    const bq_model *m = &q->model;
    const int nl = q->n_layers, na = q->n_aq;
    static const int k8[1] = {8};
    int *lgroup = malloc(sizeof(int) * (size_t)(nl + 1));
    int *agroup = malloc(sizeof(int) * (size_t)(na + 1));
    int64_t *exec = calloc(BQ_SEARCH_TB * BQ_SEARCH_TB, sizeof(int64_t));
    bq_search_init(p, clock_mhz);
    int rc = -1;
    if (!lgroup || !agroup || !exec) {
        bq_seterr(err, errlen, "out of memory");
        goto done;
    }
    if (t->n != nl || t->nq > na) {
        bq_seterr(err, errlen, "search: the cost table has %d layers and %d quantizers, the model %d and "
               "%d; build the table from this model (bq_search_hw_net)", t->n, t->nq, nl, na);
        goto done;
    }
    /* groups: blocks, then layers outside blocks */
    for (int b = 0; b < m->n_blocks; b++)
        if (bq_search_add_group(p, m->blocks[b].name) < 0) goto oom;
    for (int l = 0; l < nl; l++) {
        int blk = m->nodes[q->layers[l].node].block;
        lgroup[l] = blk >= 0 ? blk : bq_search_add_group(p, m->nodes[q->layers[l].node].name);
        if (lgroup[l] < 0) goto oom;
    }
    /* owner of an activation quantizer: the group of the layers that read it (input or shortcut) */
    for (int a = 0; a < na; a++) agroup[a] = -1;
    for (int l = 0; l < nl; l++) {
        const bq_qlayer *L = &q->layers[l];
        int reads[2] = {L->aq_in, L->aq_res};
        for (int k = 0; k < 2; k++) {
            int a = reads[k];
            if (a < 0 || aq_fixed(q, a)) continue;
            if (agroup[a] >= 0 && agroup[a] != lgroup[l]) {
                bq_seterr(err, errlen, "search: activation quantizer at '%s' is read by groups '%s' and "
                       "'%s'; the search needs one deciding group per quantizer (make the consumers "
                       "one block in the model)", m->nodes[q->aq[a].node].name,
                       p->groups[agroup[a]].name, p->groups[lgroup[l]].name);
                goto done;
            }
            agroup[a] = lgroup[l];
        }
    }
    /* quantizers: weights (index l), then activations (index nl + a) */
    for (int l = 0; l < nl; l++) {
        const bq_qlayer *L = &q->layers[l];
        char nm[BQ_SEARCH_NAME_MAX];
        snprintf(nm, sizeof nm, "%.40s.w", m->nodes[L->node].name);
        int fixed = (L->first || L->last) && q->opts.first_last_8bit;
        int64_t nel = (int64_t)L->cout * L->per_out;
        int r = fixed ? bq_search_add_quant(p, nm, BQ_SQ_WEIGHT, -1, 1, k8, nel)
                      : bq_search_add_quant(p, nm, BQ_SQ_WEIGHT, lgroup[l], sp->n_wbits, sp->wbits,
                                            nel);
        if (r != l) goto bad_quant;
    }
    for (int a = 0; a < na; a++) {
        char nm[BQ_SEARCH_NAME_MAX];
        snprintf(nm, sizeof nm, "%.40s.out", m->nodes[q->aq[a].node].name);
        /* a quantizer nobody reads (cannot happen in qmodel's placement) stays at its bits */
        int fixed = aq_fixed(q, a) || agroup[a] < 0;
        int fb = q->aq[a].bits >= 1 && q->aq[a].bits <= 8 ? q->aq[a].bits : 8;
        int r = fixed ? bq_search_add_quant(p, nm, BQ_SQ_ACT, -1, 1, aq_fixed(q, a) ? k8 : &fb, 0)
                      : bq_search_add_quant(p, nm, BQ_SQ_ACT, agroup[a], sp->n_abits, sp->abits, 0);
        if (r != nl + a) goto bad_quant;
    }
    /* layers with the table's rows */
    for (int l = 0; l < nl; l++) {
        const bq_qlayer *L = &q->layers[l];
        int64_t wr[BQ_SEARCH_TB] = {0}, rs[BQ_SEARCH_TB] = {0};
        for (int w = 1; w <= 8; w++)
            for (int a = 1; a <= 8; a++)
                exec[w * BQ_SEARCH_TB + a] = t->t[l * 64 + (w - 1) * 8 + (a - 1)];
        for (int b = 1; b <= 8; b++) {
            wr[b] = t->o[l * 8 + (b - 1)];
            rs[b] = t->r[l * 8 + (b - 1)];
        }
        if (t->in_q[l] != L->aq_in || t->out_q[l] != L->aq_out || t->res_q[l] != L->aq_res) {
            bq_seterr(err, errlen, "search: cost table layer %d ('%s') is wired to other quantizers than "
                   "the model; build the table from this model", l, m->nodes[L->node].name);
            goto done;
        }
        if (bq_search_add_layer(p, m->nodes[L->node].name, l, nl + L->aq_in,
                                L->aq_out >= 0 ? nl + L->aq_out : -1,
                                L->aq_res >= 0 ? nl + L->aq_res : -1, exec, wr, rs) != l)
            goto oom;
    }
    for (int g = 0; g < p->n_groups; g++)
        if (p->groups[g].n_q > 0 && bq_search_enumerate(p, g) < 0) {
            bq_seterr(err, errlen, "search: group '%s' has too many candidate configurations (%d "
                   "quantizers); use fewer candidate bit-widths", p->groups[g].name,
                   p->groups[g].n_q);
            goto done;
        }
    rc = 0;
    goto done;
bad_quant:
    bq_seterr(err, errlen, "search: cannot add a quantizer (more than %d free quantizers in one group, "
           "or a bad bit-width list)", BQ_SEARCH_GROUP_MAXQ);
    goto done;
oom:
    bq_seterr(err, errlen, "out of memory");
done:
    if (rc) bq_search_free(p);
    free(lgroup);
    free(agroup);
    free(exec);
    return rc;
}
