/*
 * lower.c — quantized model -> accelerator layers -> schedule -> programs (see lower.h).
 */
#include "core/errmsg.h"
#include "lower/lower.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"

#define I32_LIM 2147483647LL

void bq_lower_layer_free(bq_ilayer *L) {
    free(L->b_q); free(L->wsum); free(L->bias_eff); free(L->rq); free(L->logit_scale);
    L->b_q = L->wsum = L->bias_eff = NULL;
    L->rq = NULL;
    L->logit_scale = NULL;
}

/* Geometry of the layer's GEMM: conv shape with n = 1 (linear: 1x1 conv over (K, 1, 1)). */
static int lower_geometry(bq_ilayer *L, const bq_qmodel *q, const bq_qlayer *Q, char *err,
                          size_t errlen) {
    const bq_model *m = &q->model;
    const bq_node *nd = &m->nodes[Q->node];
    const bq_node *pin = &m->nodes[nd->in[0]];
    if (nd->kind == BQ_OP_CONV) {
        if (bq_conv2d_shape(&L->cs, 1, pin->c, pin->h, pin->w, nd->c, nd->kh, nd->kw, nd->stride_h,
                            nd->stride_w, nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups)) {
            bq_seterr(err, errlen, "layer '%s': impossible conv geometry", nd->name);
            return -1;
        }
        L->groups = nd->groups;
    } else {
        bq_conv2d_shape(&L->cs, 1, (int)bq_node_size(pin), 1, 1, nd->c, 1, 1, 1, 1, 0, 0, 0, 0, 1);
        L->groups = 1;
    }
    L->M = nd->c / L->groups;
    L->K = Q->per_out;
    L->N = L->cs.hout * L->cs.wout;
    if (L->K != L->cs.cin / L->groups * L->cs.kh * L->cs.kw) {
        bq_seterr(err, errlen, "layer '%s': weight has %d values per channel, geometry needs %d",
                  nd->name, L->K, L->cs.cin / L->groups * L->cs.kh * L->cs.kw);
        return -1;
    }
    return 0;
}

/* An activation quantizer the layer touches: it must be on (GEOM) and calibrated (INT). */
static const bq_aquant *need_aq(const bq_qmodel *q, int a, int mode, const char *layer,
                                const char *role, char *err, size_t errlen) {
    const bq_aquant *A = a >= 0 ? &q->aq[a] : NULL;
    if (A && A->bits > 0 && (mode == BQ_LOWER_GEOM || A->initialized)) return A;
    bq_seterr(err, errlen, "layer '%s': its %s quantizer%s%s%s is %s; the accelerator needs "
              "integer codes (a recipe with abits 2..8, calibrated)", layer, role, A ? " at '" : "",
              A ? q->model.nodes[A->node].name : "", A ? "'" : "",
              !A ? "missing" : A->bits <= 0 ? "off (float activations)" : "not initialised");
    return NULL;
}

/* Links, bits, zero points, clamp. */
static int lower_operands(bq_ilayer *L, const bq_qmodel *q, const bq_qlayer *Q, int mode,
                          char *err, size_t errlen) {
    const char *name = q->model.nodes[Q->node].name;
    const bq_aquant *A = need_aq(q, Q->aq_in, mode, name, "input", err, errlen);
    if (!A) return -1;
    L->wbits = Q->wbits;
    L->abits = A->bits;
    L->z_a = A->zero;
    if (!L->raw32) {
        const bq_aquant *O = need_aq(q, Q->aq_out, mode, name, "output", err, errlen);
        if (!O) return -1;
        L->obits = O->bits;
        L->z_o = O->zero;
        L->hi = -1;   /* geometry mode: the hw layer's "2^obits - 1" */
        if (mode == BQ_LOWER_INT)
            bq_out_clamp(&L->lo, &L->hi, Q->out_act, Q->act_lo, Q->act_hi, O->scale, O->zero, O->bits);
    }
    if (Q->res_node >= 0) {
        const bq_aquant *R = need_aq(q, Q->aq_res, mode, name, "shortcut", err, errlen);
        if (!R) return -1;
        if (L->raw32) {
            bq_seterr(err, errlen, "layer '%s': a RAW32 layer cannot add a shortcut", name);
            return -1;
        }
        L->rbits = R->bits;
        L->z_r = R->zero;
    }
    return 0;
}

/* b_q, wsum, bias_eff, requant multipliers, logit scales of channel c (numerics §2-§4), with
 * the int32 bound checks. */
static int lower_channel(bq_ilayer *L, const bq_qmodel *q, const bq_qlayer *Q, int c,
                         const float *bias, char *err, size_t errlen) {
    const char *name = q->model.nodes[Q->node].name;
    const bq_aquant *A = &q->aq[Q->aq_in];
    long long qa_max = bq_qmax(L->abits), K = L->K;
    long long da = L->z_a > qa_max - L->z_a ? L->z_a : qa_max - L->z_a;   /* max |q_a - z_a| */
    float s_w = Q->scale[c], s_a = A->scale;
    int64_t bq = bias ? bq_bias_code(bias[c], s_w, s_a) : 0;
    if (bq > I32_LIM || bq < -I32_LIM) {
        bq_seterr(err, errlen, "layer '%s' channel %d: quantized bias %lld does not fit int32 "
                  "(bias %g, s_w*s_a %g); the weight or input scale is too small", name, c,
                  (long long)bq, bias ? bias[c] : 0.0f, (double)s_w * s_a);
        return -1;
    }
    L->b_q[c] = (int32_t)bq;
    const uint8_t *w = L->codes + (size_t)c * L->K;
    long long ws = 0, wabs = 0;
    for (int k = 0; k < L->K; k++) {
        ws += w[k];
        long long d = (long long)w[k] - L->z_w[c];
        wabs += d < 0 ? -d : d;
    }
    L->wsum[c] = (int32_t)ws;
    long long be = bq - (long long)L->z_a * ws + K * (long long)L->z_w[c] * L->z_a;
    long long a0 = wabs * da + (bq < 0 ? -bq : bq);
    long long zs = (long long)L->z_w[c] * K * qa_max;
    if (be > I32_LIM || be < -I32_LIM || a0 > I32_LIM || zs > I32_LIM) {
        bq_seterr(err, errlen, "layer '%s' channel %d: int32 overflow possible (bias_eff %lld, "
                  "|acc0| bound %lld, z_w*asum bound %lld); use fewer bits", name, c, be, a0, zs);
        return -1;
    }
    L->bias_eff[c] = (int32_t)be;
    L->logit_scale[c] = s_w * s_a;   /* float32 product: the host's argmax (numerics §4) */
    if (L->raw32) return 0;
    const bq_aquant *O = &q->aq[Q->aq_out];
    const bq_aquant *R = Q->aq_res >= 0 && Q->res_node >= 0 ? &q->aq[Q->aq_res] : NULL;
    double ra = (double)s_w * (double)s_a / (double)O->scale;
    double rr = R ? (double)R->scale / (double)O->scale : 0.0;
    if (bq_requant_make(&L->rq[c], ra, rr)) {
        bq_seterr(err, errlen, "layer '%s' channel %d: requant ratios %g / %g cannot be an "
                  "integer multiplier < 2^31 with shift >= 1", name, c, ra, rr);
        return -1;
    }
    return 0;
}

static int lower_integers(bq_ilayer *L, const bq_qmodel *q, const bq_qlayer *Q, char *err,
                          size_t errlen) {
    const bq_model *m = &q->model;
    const char *name = m->nodes[Q->node].name;
    size_t C = (size_t)L->cout;
    L->b_q = calloc(C, sizeof(int32_t));
    L->wsum = calloc(C, sizeof(int32_t));
    L->bias_eff = calloc(C, sizeof(int32_t));
    L->rq = calloc(C, sizeof(bq_requant));
    L->logit_scale = calloc(C, sizeof(float));
    if (!L->b_q || !L->wsum || !L->bias_eff || !L->rq || !L->logit_scale) {
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    long long qa_max = bq_qmax(L->abits), qw_max = bq_qmax(L->wbits), K = L->K;
    if (K * qw_max * qa_max > I32_LIM || K * qa_max * qw_max < 0) {
        bq_seterr(err, errlen, "layer '%s': acc = sum q_w*q_a can reach %lld (K=%lld, %d-bit "
                  "weights, %d-bit activations) > 2^31-1; use fewer bits or split the layer", name,
                  K * qw_max * qa_max, K, L->wbits, L->abits);
        return -1;
    }
    const float *bias = bq_param_data(m, m->nodes[Q->node].p_bias);
    for (int c = 0; c < L->cout; c++)
        if (lower_channel(L, q, Q, c, bias, err, errlen)) return -1;
    return 0;
}

int bq_lower_layer(bq_ilayer *L, const bq_qmodel *q, int l, int mode, char *err, size_t errlen) {
    const bq_qlayer *Q = &q->layers[l];
    const bq_node *nd = &q->model.nodes[Q->node];
    memset(L, 0, sizeof(*L));
    L->layer = l;
    L->node = Q->node;
    L->in_node = nd->in[0];
    L->out_node = Q->out_node;
    L->res_node = Q->res_node;
    L->cout = Q->cout;
    L->raw32 = Q->raw32;
    L->codes = Q->codes;
    L->z_w = Q->zero;
    if (lower_geometry(L, q, Q, err, errlen) || lower_operands(L, q, Q, mode, err, errlen))
        return -1;
    return mode == BQ_LOWER_INT ? lower_integers(L, q, Q, err, errlen) : 0;
}

void bq_lower_hw_layer(bq_hw_layer *hl, const bq_ilayer *L, const char *name) {
    memset(hl, 0, sizeof *hl);
    snprintf(hl->name, sizeof hl->name, "%s", name);
    hl->m = L->M;
    hl->k = L->K;
    hl->n = L->N;
    hl->groups = L->groups;
    hl->wbits = L->wbits;
    hl->abits = L->abits;
    hl->obits = L->raw32 ? 8 : L->obits;
    hl->raw32 = L->raw32;
    hl->has_residual = L->res_node >= 0;
    hl->rbits = L->res_node >= 0 ? L->rbits : 8;
    hl->z_o = L->raw32 ? 0 : L->z_o;
    hl->z_r = L->res_node >= 0 ? L->z_r : 0;
    hl->lo = L->raw32 ? 0 : L->lo;
    hl->hi = L->raw32 ? -1 : L->hi;
}

int bq_lower_hw_net(bq_hw_net *net, const bq_qmodel *q, char *err, size_t errlen) {
    if (bq_hw_net_init(net, q->n_layers)) {
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *Q = &q->layers[l];
        bq_ilayer L;
        bq_hw_layer hl;
        if (bq_lower_layer(&L, q, l, BQ_LOWER_GEOM, err, errlen)) {
            bq_hw_net_free(net);
            return -1;
        }
        bq_lower_hw_layer(&hl, &L, q->model.nodes[Q->node].name);
        if (bq_hw_layer_check(&hl, err, errlen)) {
            bq_hw_net_free(net);
            return -1;
        }
        if (bq_hw_net_add(net, &hl, Q->aq_in, Q->raw32 ? -1 : Q->aq_out,
                          Q->res_node >= 0 ? Q->aq_res : -1) < 0) {
            bq_hw_net_free(net);
            bq_seterr(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

void bq_lower_pack_requant(uint8_t *dst, const bq_ilayer *L, int g, int m_pad) {
    memset(dst, 0, (size_t)BQ_LOWER_REC_BYTES * m_pad);
    for (int mi = 0; mi < L->M; mi++) {
        int c = g * L->M + mi;
        uint8_t *rec = dst + (size_t)BQ_LOWER_REC_BYTES * mi;
        uint32_t v[3] = {(uint32_t)L->bias_eff[c], L->raw32 ? 0u : L->rq[c].m_acc,
                         L->raw32 ? 0u : L->rq[c].m_res};
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 4; k++) rec[4 * i + k] = (uint8_t)(v[i] >> (8 * k));
        rec[12] = (uint8_t)L->z_w[c];
        rec[13] = (uint8_t)(L->raw32 ? 1 : L->rq[c].sh);
    }
}

static uint64_t align_up(uint64_t v) {
    return (v + BQ_LOWER_ALIGN - 1) / BQ_LOWER_ALIGN * BQ_LOWER_ALIGN;
}

/* Plan the layer and place its five regions at *base (advanced past them). */
static int plan_and_place(bq_lower_acc *A, const bq_ilayer *L, const bq_hwcfg *cfg,
                          const char *name, uint64_t *base, char *err, size_t errlen) {
    bq_lower_hw_layer(&A->hl, L, name);
    if (bq_sched_plan_layer(&A->plan, cfg, &A->hl, err, errlen)) return -1;
    if (bq_pack_geom_init(&A->geom, L->M, L->K, L->N, cfg->dm, cfg->dn, cfg->dk,
                          cfg->mem_width_bits)) {
        bq_seterr(err, errlen, "layer '%s': cannot tile M=%d K=%d N=%d on %dx%dx%d", name, L->M,
                  L->K, L->N, cfg->dm, cfg->dn, cfg->dk);
        return -1;
    }
    const bq_sched_plan *p = &A->plan;
    const uint64_t G = (uint64_t)L->groups, tiles = (uint64_t)p->mt * p->nt;
    A->w_bytes = p->w_group_bytes * G;
    A->a_bytes = p->a_group_bytes * G;
    A->rq_bytes = (uint64_t)BQ_LOWER_REC_BYTES * p->m_pad * G;
    A->r_bytes = L->res_node >= 0 ? tiles * p->r_tile_bytes * G : 0;
    A->o_bytes = tiles * p->o_tile_bytes * G;
    uint64_t b = align_up(*base);
    A->ad.w = (uint32_t)b;   b = align_up(b + A->w_bytes);
    A->ad.a = (uint32_t)b;   b = align_up(b + A->a_bytes);
    A->ad.rq = (uint32_t)b;  b = align_up(b + A->rq_bytes);
    A->ad.res = (uint32_t)b; b = align_up(b + A->r_bytes);
    A->ad.out = (uint32_t)b; b = align_up(b + A->o_bytes);
    if (b > 0xffffffffull) {
        bq_seterr(err, errlen, "layer '%s': the network's operands exceed the 32-bit address "
                  "space; use a smaller model", name);
        return -1;
    }
    *base = b;
    return 0;
}

/* Build the programs at the layer's addresses, dry-run them, encode them. */
static int build_programs(bq_lower_acc *A, const bq_hwcfg *cfg, const char *name, char *err,
                          size_t errlen) {
    bq_program prog;
    bq_program_init(&prog);
    int rc = -1;
    if (bq_sched_build(&prog, &A->plan, cfg, &A->ad, err, errlen) ||
        bq_latency_program(&A->lat, &prog, &A->plan, cfg, 1, err, errlen))
        goto out;
    for (int s = 0; s < BQ_NSTAGES; s++) {
        A->len[s] = prog.len[s];
        A->words[s] = malloc(sizeof(uint32_t) * 4 * (size_t)(prog.len[s] ? prog.len[s] : 1));
        if (!A->words[s]) { bq_seterr(err, errlen, "out of memory"); goto out; }
        for (int i = 0; i < prog.len[s]; i++)
            if (bq_isa_encode(&prog.ins[s][i], A->words[s] + 4 * (size_t)i)) {
                bq_seterr(err, errlen, "layer '%s': instruction %d of stage %d does not fit its "
                          "encoding (scheduler bug)", name, i, s);
                goto out;
            }
    }
    rc = 0;
out:
    bq_program_free(&prog);
    return rc;
}

/* Execution order: node order; layers at their out_node, host steps at their node. */
static int order_steps(bq_lowered *lw, const bq_intnet *net, char *err, size_t errlen) {
    const bq_model *m = &net->q->model;
    lw->steps = calloc((size_t)m->n_nodes, sizeof *lw->steps);
    if (!lw->steps) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int i = 1; i < m->n_nodes; i++) {
        const bq_node *nd = &m->nodes[i];
        int l = net->out_layer[i];
        if (l < 0 && !net->codes[i]) continue;   /* not a tensor anyone reads as codes */
        bq_lower_step *S = &lw->steps[lw->n_steps++];
        S->node = i;
        S->layer = l;
        if (l >= 0) {
            S->kind = BQ_STEP_LAYER;
            S->in_node = net->L[l].in_node;
            if (net->L[l].raw32) S->node = net->L[l].node;
            continue;
        }
        S->in_node = nd->in[0];
        S->kind = nd->kind == BQ_OP_GAP ? BQ_STEP_GAP
                  : nd->kind == BQ_OP_MAXPOOL ? BQ_STEP_MAXPOOL : BQ_STEP_FLATTEN;
    }
    return 0;
}

int bq_lower_net(bq_lowered *lw, const bq_intnet *net, const bq_hwcfg *cfg, char *err,
                 size_t errlen) {
    const bq_model *m = &net->q->model;
    memset(lw, 0, sizeof *lw);
    lw->acc = calloc((size_t)net->n_layers, sizeof *lw->acc);
    if (!lw->acc) { bq_seterr(err, errlen, "out of memory"); return -1; }
    lw->n_layers = net->n_layers;
    uint64_t base = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const bq_ilayer *L = &net->L[l];
        const char *name = m->nodes[L->node].name;
        lw->acc[l].layer = l;
        if (plan_and_place(&lw->acc[l], L, cfg, name, &base, err, errlen) ||
            build_programs(&lw->acc[l], cfg, name, err, errlen)) {
            bq_lowered_free(lw);
            return -1;
        }
    }
    lw->mem_bytes = base;
    if (order_steps(lw, net, err, errlen)) { bq_lowered_free(lw); return -1; }
    return 0;
}

void bq_lowered_free(bq_lowered *lw) {
    if (!lw) return;
    for (int l = 0; lw->acc && l < lw->n_layers; l++)
        for (int s = 0; s < BQ_NSTAGES; s++) free(lw->acc[l].words[s]);
    free(lw->acc);
    free(lw->steps);
    memset(lw, 0, sizeof *lw);
}

const char *bq_step_name(int kind) {
    static const char *const names[] = {"layer", "gap", "maxpool", "flatten"};
    return kind >= 0 && kind <= BQ_STEP_FLATTEN ? names[kind] : "?";
}
