/*
 * lower_v2.c — qmodel -> v2 layer list (see lower_v2.h). Producers are found through the graph:
 * a layer's input node is a layer's out_node (the codes its output stage writes), the network
 * input, or a GAP (inserted as a depthwise layer) / FLATTEN in front of one of those.
 */
#include "core/errmsg.h"
#include "lower/lower.h"
#include "lower/lower_v2.h"
#include "nn/graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    bq_v2_layer *ls;
    int n, max;
    int *node_layer;   /* [n_nodes]: v2 layer writing the node's codes, -1 input, -2 unknown */
    int *node_of;      /* [max] or NULL: the graph node each v2 layer computes */
    int *qlayer_of;    /* [max] or NULL: the qmodel layer of each v2 layer, -1 for a GAP */
    const bq_qmodel *q;
    char *err;
    size_t errlen;
} conv_t;

static int add_layer(conv_t *c, const char *who) {
    if (c->n < c->max) return c->n++;
    bq_seterr(c->err, c->errlen, "layer '%s': the network has more than %d layers, the most a "
              "whole-network program takes", who, c->max);
    return -1;
}

/* The v2 layer (or -1 = network input) whose output is node `nd`; GAPs on the way become layers.
 * `abits`: the consumer's input bits (a GAP's output bits; its zero point is 0: it keeps its input's
 * grid). -2 on error. */
static int producer(conv_t *c, int nd, int abits, const char *who) {
    const bq_model *m = &c->q->model;
    if (c->node_layer[nd] != -2) return c->node_layer[nd];
    const bq_node *x = &m->nodes[nd];
    if (x->kind == BQ_OP_INPUT) return -1;
    if (x->kind == BQ_OP_FLATTEN) return producer(c, x->in[0], abits, who);
    if (x->kind == BQ_OP_GAP) {
        int src = producer(c, x->in[0], abits, who);
        if (src < -1) return -2;
        const bq_node *in = &m->nodes[x->in[0]];
        int i = add_layer(c, x->name);
        if (i < 0) return -2;
        bq_v2_layer *g = &c->ls[i];
        if (bq_v2_layer_conv(g, x->name, in->c, in->c, in->h, in->w, in->h, in->w, 1, 0, 1, c->err,
                             c->errlen))
            return -2;
        g->in_from = src;
        g->hw.wbits = 1;   /* weights 1, unsigned, z_w 0 (§5) */
        g->hw.abits = src >= 0 ? c->ls[src].hw.obits : abits;
        g->z_a = src >= 0 ? c->ls[src].hw.z_o : 0;
        g->hw.obits = abits;
        g->hw.z_o = 0;   /* a GAP keeps its input's grid (numerics §5): codes in, codes out */
        g->hw.lo = 0;
        g->hw.hi = (1 << abits) - 1;
        c->node_layer[nd] = i;
        if (c->node_of) c->node_of[i] = nd;
        if (c->qlayer_of) c->qlayer_of[i] = -1;
        return i;
    }
    bq_seterr(c->err, c->errlen, "layer '%s': its input passes through node '%s' (a %s), which runs "
              "on the host: this model has no whole-network (v2) program; run it per layer (v1)",
              who, x->name, x->kind == BQ_OP_MAXPOOL ? "max pool" :
              x->kind == BQ_OP_AVGPOOL ? "average pool" : "non-layer op");
    return -2;
}

static int lower_one(conv_t *c, int l) {
    const bq_qmodel *q = c->q;
    const bq_model *m = &q->model;
    const bq_qlayer *Q = &q->layers[l];
    const bq_node *nd = &m->nodes[Q->node];
    bq_ilayer L;
    if (bq_lower_layer(&L, q, l, BQ_LOWER_GEOM, c->err, c->errlen)) return -1;
    int src = producer(c, L.in_node, L.abits, nd->name);
    if (src < -1) return -1;
    int res = L.res_node >= 0 ? producer(c, L.res_node, L.rbits, nd->name) : -1;
    if (res < -1) return -1;
    int i = add_layer(c, nd->name);
    if (i < 0) return -1;
    bq_v2_layer *v = &c->ls[i];
    const bq_node *in = &m->nodes[L.in_node];
    int cin = in->c, hi = in->h, wi = in->w;
    if (nd->kind == BQ_OP_CONV) {
        int dw = nd->groups > 1 && nd->groups == cin && nd->groups == nd->c;
        if (nd->stride_h != nd->stride_w) {
            bq_seterr(c->err, c->errlen, "layer '%s': stride %d x %d; the window unit has one stride",
                      nd->name, nd->stride_h, nd->stride_w);
            return -1;
        }
        if (bq_v2_layer_conv(v, nd->name, cin, nd->c, hi, wi, nd->kh, nd->kw, nd->stride_h,
                             nd->pad_t, dw, c->err, c->errlen))
            return -1;
        v->pad_l = nd->pad_l;
        v->ho = nd->h;
        v->wo = nd->w;
    } else {   /* linear over a (C, H, W) input: a conv with the kernel = the image, RAW32 or not */
        if (bq_v2_layer_conv(v, nd->name, cin, nd->c, hi, wi, hi, wi, 1, 0, 0, c->err, c->errlen))
            return -1;
    }
    bq_lower_hw_layer(&v->hw, &L, nd->name);   /* bits, residual, output scalars, M K N groups */
    v->hw.n = v->ho * v->wo;
    v->z_a = L.z_a;
    v->in_from = src;
    v->res_from = res;
    c->node_layer[L.out_node] = i;
    if (c->node_of) c->node_of[i] = Q->node;
    if (c->qlayer_of) c->qlayer_of[i] = l;
    return 0;
}

/* bq_lower_v2_net, also naming each layer's graph node and qmodel layer (node_of / qlayer_of
 * [max] or NULL). */
static int lower_v2_net(bq_v2_layer *ls, int *node_of, int *qlayer_of, int max,
                        const bq_qmodel *q, char *err, size_t errlen) {
    conv_t c = {.ls = ls, .max = max, .q = q, .err = err, .errlen = errlen, .node_of = node_of,
                .qlayer_of = qlayer_of};
    c.node_layer = malloc(sizeof *c.node_layer * (size_t)(q->model.n_nodes ? q->model.n_nodes : 1));
    if (!c.node_layer) {
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < q->model.n_nodes; i++) c.node_layer[i] = -2;
    /* execution order = out_node order (as bq_lower_net's steps): a shortcut conv (fres20's
     * 'down') comes after conv2 in the graph but its output is conv2's residual operand */
    int *order = malloc(sizeof *order * (size_t)(q->n_layers ? q->n_layers : 1));
    if (!order) {
        free(c.node_layer);
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int l = 0; l < q->n_layers; l++) {
        int j = l;
        while (j > 0 && q->layers[order[j - 1]].out_node > q->layers[l].out_node) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = l;
    }
    int rc = 0;
    for (int k = 0; k < q->n_layers && rc == 0; k++) rc = lower_one(&c, order[k]);
    free(order);
    free(c.node_layer);
    return rc ? -1 : c.n;
}

int bq_lower_v2_net(bq_v2_layer *ls, int max, const bq_qmodel *q, char *err, size_t errlen) {
    return lower_v2_net(ls, NULL, NULL, max, q, err, errlen);
}

int bq_lower_hw_net_v2(bq_hw_net *net, const bq_qmodel *q, char *err, size_t errlen) {
    bq_v2_layer *ls = malloc(sizeof *ls * BQ_V2_MAX_LAYERS);
    int *layer_of = malloc(sizeof *layer_of * BQ_V2_MAX_LAYERS);
    int rc = -1;
    if (!ls || !layer_of) {
        bq_seterr(err, errlen, "out of memory");
        goto done;
    }
    /* net has one layer per qmodel layer, in qmodel order: layer_of = the qmodel layer (-1: a GAP) */
    int n = lower_v2_net(ls, NULL, layer_of, BQ_V2_MAX_LAYERS, q, err, errlen);
    if (n < 0) goto done;
    rc = bq_hw_net_set_v2(net, ls, layer_of, n, err, errlen);
done:
    free(ls);
    free(layer_of);
    return rc;
}

/* ---- a whole model with its data (bq_lower_v2_full) ---- */

void bq_lowered_v2_free(bq_lowered_v2 *lw) {
    if (lw->w)
        for (int i = 0; i < lw->n; i++) free(lw->w[i]);
    if (lw->rq)
        for (int i = 0; i < lw->n; i++) free(lw->rq[i]);
    free(lw->layers);
    free(lw->plans);
    free(lw->qlayer);
    free(lw->node);
    free(lw->node_out);
    free(lw->node_in);
    free(lw->node_res);
    free(lw->w);
    free(lw->w_bytes);
    free(lw->rq);
    free(lw->rq_bytes);
    free(lw->gap_m);
    free(lw->gap_sh);
    free(lw->cycles);
    bq_program_free(&lw->prog);
    memset(lw, 0, sizeof *lw);
    bq_program_init(&lw->prog);
}

/* The GAP's multiplier: the least sh with 2^sh > 510 HW^2 (then floor((acc0 m + 2^(sh-1)) / 2^sh)
 * = floor((2 sum + HW) / (2 HW)) for every sum of 8-bit codes, docs/numerics.md §5), m = ceil(2^sh
 * / HW) < 2^31. -1 with the message when no sh works. */
static int gap_multiplier(const bq_v2_layer *g, uint32_t *m, int *sh, char *err, size_t errlen) {
    const uint64_t hw = (uint64_t)g->hi * (uint64_t)g->wi, lim = (uint64_t)1 << 31;
    if (255 * hw < lim) {   /* acc0 = the code sum fits; then 510 HW^2 < 2^56: no overflow below */
        int s = 1;
        while (s < 62 && ((uint64_t)1 << s) <= 510 * hw * hw) s++;
        const uint64_t p = (uint64_t)1 << s, mm = (p + hw - 1) / hw;
        if (p > 510 * hw * hw && mm < lim) {
            *m = (uint32_t)mm;
            *sh = s;
            return 0;
        }
    }
    bq_seterr(err, errlen, "layer '%s': global average pool over %llu pixels has no exact on-chip "
              "requant (needs 2^sh > 510 HW^2 with m = ceil(2^sh/HW) < 2^31 and sh <= 62); pool "
              "a smaller map (add a stride-2 layer before it)", g->hw.name, (unsigned long long)hw);
    return -1;
}

/* Weights and records of layer i: a qmodel layer's from net, a GAP's weights 1 and its record. */
static int layer_data(bq_lowered_v2 *lw, const bq_intnet *net, const bq_hwcfg *cfg, int i,
                      char *err, size_t errlen) {
    const bq_v2_plan *p = &lw->plans[i];
    const bq_v2_layer *v = &lw->layers[i];
    const int groups = p->base.layer.groups, m_pad = p->base.m_pad;
    const size_t nw = (size_t)v->cout * (size_t)(v->depthwise ? 1 : v->cin) * (size_t)(v->kh * v->kw);
    lw->w_bytes[i] = (uint64_t)groups * p->base.w_group_bytes;
    lw->rq_bytes[i] = (uint64_t)groups * (uint64_t)m_pad * BQ_LOWER_REC_BYTES;
    lw->w[i] = calloc(lw->w_bytes[i] ? lw->w_bytes[i] : 1, 1);
    lw->rq[i] = calloc(lw->rq_bytes[i], 1);
    int *codes = malloc(sizeof *codes * nw);
    if (!lw->w[i] || !lw->rq[i] || !codes) {
        free(codes);
        bq_seterr(err, errlen, "layer '%s': out of memory for its weights", v->hw.name);
        return -1;
    }
    const int l = lw->qlayer[i];
    if (l >= 0) {
        const bq_ilayer *L = &net->L[l];
        if ((size_t)L->cout * (size_t)L->K != nw) {
            free(codes);
            bq_seterr(err, errlen, "layer '%s': %d x %d weight codes, the v2 layer has %zu; "
                      "bq_lower_v2_full and bq_lower_layer disagree", v->hw.name, L->cout, L->K, nw);
            return -1;
        }
        for (size_t k = 0; k < nw; k++) codes[k] = L->codes[k];
        for (int g = 0; g < groups; g++)
            bq_lower_pack_requant(lw->rq[i] + (size_t)g * m_pad * BQ_LOWER_REC_BYTES, L, g, m_pad);
    } else {   /* GAP: weights 1, z_w 0, bias_eff 0, m_res 0 (§5) */
        if (gap_multiplier(v, &lw->gap_m[i], &lw->gap_sh[i], err, errlen)) {
            free(codes);
            return -1;
        }
        for (size_t k = 0; k < nw; k++) codes[k] = 1;
        for (int g = 0; g < groups; g++) {   /* channel g: group g's tile row 0 */
            uint8_t *rec = lw->rq[i] + (size_t)g * m_pad * BQ_LOWER_REC_BYTES;
            for (int k = 0; k < 4; k++) rec[4 + k] = (uint8_t)(lw->gap_m[i] >> (8 * k));
            rec[13] = (uint8_t)lw->gap_sh[i];
        }
    }
    bq_v2_pack_weights(p, cfg, codes, lw->w[i]);
    free(codes);
    return 0;
}

/* The integer layer's bits and output-stage scalars (those bq_lower_v2_net took in geometry
 * mode), the GAP's grid check, and the intnet nodes of every tensor. */
static int take_net(bq_lowered_v2 *lw, const bq_intnet *net, char *err, size_t errlen) {
    for (int i = 0; i < lw->n; i++) {
        bq_v2_layer *v = &lw->layers[i];
        const int l = lw->qlayer[i];
        if (l >= 0) {
            const bq_ilayer *L = &net->L[l];
            char name[sizeof v->hw.name];
            memcpy(name, v->hw.name, sizeof name);
            bq_lower_hw_layer(&v->hw, L, name);
            v->hw.n = v->ho * v->wo;
            v->z_a = L->z_a;
            lw->node_out[i] = L->raw32 ? L->node : L->out_node;
        } else {
            if (v->hw.abits != v->hw.obits) {
                bq_seterr(err, errlen, "layer '%s': a global average pool from %d-bit to %d-bit "
                          "codes; it must keep its input's grid (numerics §5)", v->hw.name,
                          v->hw.abits, v->hw.obits);
                return -1;
            }
            lw->node_out[i] = lw->node[i];
        }
        lw->node_in[i] = v->in_from < 0 ? lw->input_node : lw->node_out[v->in_from];
        lw->node_res[i] = !v->hw.has_residual ? -1
                          : v->res_from < 0   ? lw->input_node
                                              : lw->node_out[v->res_from];
    }
    return 0;
}

/* Every layer stand-alone (sum) and the whole program (one dry run); they must agree (§4.5). */
static int time_program(bq_lowered_v2 *lw, const bq_hwcfg *cfg, char *err, size_t errlen) {
    bq_program one;
    bq_program_init(&one);
    int64_t sum = 0;
    int rc = 0;
    for (int i = 0; i < lw->n && !rc; i++) {
        bq_latency r;
        bq_program_reset(&one);
        rc = bq_v2_build(&one, &lw->plans[i], cfg, &lw->mp.addr[i], 0, 0, err, errlen) ||
             bq_latency_program(&r, &one, &lw->plans[i].base, cfg, 1, err, errlen);
        lw->cycles[i] = rc ? 0 : r.cycles;
        sum += lw->cycles[i];
    }
    bq_program_free(&one);
    if (rc) return -1;
    if (bq_v2_net_build(&lw->prog, lw->plans, &lw->mp, cfg, lw->n, err, errlen) ||
        bq_latency_program(&lw->lat, &lw->prog, &lw->plans[0].base, cfg, 1, err, errlen))
        return -1;
    if (lw->lat.cycles != sum) {
        bq_seterr(err, errlen, "whole-network program: %lld cycles, its layers stand-alone %lld; "
                  "the layer boundaries of docs/whole_network.md §4.5 are broken (a scheduler bug)",
                  (long long)lw->lat.cycles, (long long)sum);
        return -1;
    }
    return 0;
}

static int alloc_all(bq_lowered_v2 *lw) {
    const size_t n = BQ_V2_MAX_LAYERS;
    lw->layers = calloc(n, sizeof *lw->layers);
    lw->plans = calloc(n, sizeof *lw->plans);
    lw->qlayer = calloc(n, sizeof(int));
    lw->node = calloc(n, sizeof(int));
    lw->node_out = calloc(n, sizeof(int));
    lw->node_in = calloc(n, sizeof(int));
    lw->node_res = calloc(n, sizeof(int));
    lw->w = calloc(n, sizeof *lw->w);
    lw->w_bytes = calloc(n, sizeof *lw->w_bytes);
    lw->rq = calloc(n, sizeof *lw->rq);
    lw->rq_bytes = calloc(n, sizeof *lw->rq_bytes);
    lw->gap_m = calloc(n, sizeof *lw->gap_m);
    lw->gap_sh = calloc(n, sizeof *lw->gap_sh);
    lw->cycles = calloc(n, sizeof *lw->cycles);
    return lw->layers && lw->plans && lw->qlayer && lw->node && lw->node_out && lw->node_in &&
                   lw->node_res && lw->w && lw->w_bytes && lw->rq && lw->rq_bytes && lw->gap_m &&
                   lw->gap_sh && lw->cycles
               ? 0
               : -1;
}

int bq_lower_v2_full(bq_lowered_v2 *lw, const bq_intnet *net, const bq_hwcfg *cfg, char *err,
                     size_t errlen) {
    memset(lw, 0, sizeof *lw);
    bq_program_init(&lw->prog);
    if (alloc_all(lw)) {
        bq_lowered_v2_free(lw);
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    int n = lower_v2_net(lw->layers, lw->node, lw->qlayer, BQ_V2_MAX_LAYERS, net->q, err, errlen);
    if (n < 0) goto fail;
    lw->n = n;
    lw->input_node = 0;
    if (take_net(lw, net, err, errlen) ||
        bq_v2_net_plan(lw->plans, &lw->mp, cfg, lw->layers, n, err, errlen))
        goto fail;
    lw->mem_bytes = lw->mp.end;
    lw->cs_input = 0;
    for (int i = 0; i < n && !lw->cs_input; i++)
        if (lw->layers[i].in_from < 0) lw->cs_input = lw->plans[i].cs_in;
    for (int i = 0; i < n; i++)
        if (layer_data(lw, net, cfg, i, err, errlen)) goto fail;
    if (time_program(lw, cfg, err, errlen)) goto fail;
    return 0;
fail:
    bq_lowered_v2_free(lw);
    return -1;
}

void bq_lowered_v2_load(const bq_lowered_v2 *lw, uint8_t *mem) {
    for (int i = 0; i < lw->n; i++) {
        memcpy(mem + lw->mp.w[i], lw->w[i], lw->w_bytes[i]);
        memcpy(mem + lw->mp.rq[i], lw->rq[i], lw->rq_bytes[i]);
    }
}

void bq_lowered_v2_input_tensor(const bq_lowered_v2 *lw, const bq_intnet *net, int b, uint8_t *dst) {
    const bq_node *in = &net->q->model.nodes[lw->input_node];
    const size_t hw = (size_t)in->h * in->w;
    const uint8_t *src = net->codes[lw->input_node] + (size_t)b * in->c * hw;
    for (size_t px = 0; px < hw; px++)
        for (int c = 0; c < in->c; c++) dst[px * (size_t)lw->cs_input + (size_t)c] = src[(size_t)c * hw + px];
}

void bq_lowered_v2_write_input(const bq_lowered_v2 *lw, const bq_intnet *net, int b, uint8_t *mem) {
    bq_lowered_v2_input_tensor(lw, net, b, mem + lw->mp.input);
}

/* Byte offset of class c, pixel px in a RAW32 output (v1's tile layout, docs/hw_isa.md §2.3: tile
 * (pixel tile, channel tile) of Dm x Dn words, element [pixel in tile][channel in tile]). */
static size_t raw32_offset(const bq_v2_plan *p, size_t c, size_t px) {
    const size_t dm = (size_t)(p->base.m_pad / p->base.mt), dn = (size_t)(p->base.n_pad / p->base.nt);
    return ((px / dn * (size_t)p->base.mt + c / dm) * dm * dn + px % dn * dm + c % dm) * 4;
}

void bq_lowered_v2_output_tensor(const bq_lowered_v2 *lw, int i, const bq_intnet *net, int b,
                                 uint8_t *dst) {
    const bq_v2_layer *v = &lw->layers[i];
    const bq_v2_plan *p = &lw->plans[i];
    const size_t npix = (size_t)v->ho * v->wo;
    if (!v->hw.raw32) {
        const uint8_t *src = net->codes[lw->node_out[i]] + (size_t)b * v->cout * npix;
        for (size_t px = 0; px < npix; px++)
            for (int c = 0; c < v->cout; c++) dst[px * (size_t)p->cs_out + (size_t)c] = src[(size_t)c * npix + px];
        return;
    }
    const int32_t *acc0 = net->logits + (size_t)b * v->cout * npix;
    for (size_t px = 0; px < npix; px++)
        for (int c = 0; c < v->cout; c++) {   /* little-endian words, as the accelerator writes */
            const uint32_t u = (uint32_t)acc0[(size_t)c * npix + px];
            uint8_t *w = dst + raw32_offset(p, (size_t)c, px);
            for (int k = 0; k < 4; k++) w[k] = (uint8_t)(u >> (8 * k));
        }
}

size_t bq_lowered_v2_out_size(const bq_lowered_v2 *lw, int i) {
    const bq_v2_layer *v = &lw->layers[i];
    return (size_t)v->cout * v->ho * v->wo * (v->hw.raw32 ? 4 : 1);
}

void bq_lowered_v2_read_output(const bq_lowered_v2 *lw, int i, const uint8_t *mem, uint8_t *out) {
    const bq_v2_layer *v = &lw->layers[i];
    const bq_v2_plan *p = &lw->plans[i];
    const size_t npix = (size_t)v->ho * v->wo;
    for (size_t px = 0; px < npix; px++)
        for (int c = 0; c < v->cout; c++) {
            if (!v->hw.raw32) {
                out[(size_t)c * npix + px] = mem[lw->mp.out[i] + px * (size_t)p->cs_out + (size_t)c];
                continue;
            }
            memcpy(out + ((size_t)c * npix + px) * 4, mem + lw->mp.out[i] + raw32_offset(p, (size_t)c, px), 4);
        }
}
