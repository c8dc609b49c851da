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
 * `abits`, `z_a`: the consumer's input quantizer (a GAP's output). -2 on error. */
static int producer(conv_t *c, int nd, int abits, int z_a, const char *who) {
    const bq_model *m = &c->q->model;
    if (c->node_layer[nd] != -2) return c->node_layer[nd];
    const bq_node *x = &m->nodes[nd];
    if (x->kind == BQ_OP_INPUT) return -1;
    if (x->kind == BQ_OP_FLATTEN) return producer(c, x->in[0], abits, z_a, who);
    if (x->kind == BQ_OP_GAP) {
        int src = producer(c, x->in[0], abits, z_a, who);
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
        g->hw.z_o = z_a;
        g->hw.lo = 0;
        g->hw.hi = (1 << abits) - 1;
        c->node_layer[nd] = i;
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
    int src = producer(c, L.in_node, L.abits, L.z_a, nd->name);
    if (src < -1) return -1;
    int res = L.res_node >= 0 ? producer(c, L.res_node, L.rbits, L.z_r, nd->name) : -1;
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
    return 0;
}

int bq_lower_v2_net(bq_v2_layer *ls, int max, const bq_qmodel *q, char *err, size_t errlen) {
    conv_t c = {.ls = ls, .max = max, .q = q, .err = err, .errlen = errlen};
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

int bq_lower_hw_net_v2(bq_hw_net *net, const bq_qmodel *q, char *err, size_t errlen) {
    bq_v2_layer *ls = malloc(sizeof *ls * BQ_V2_MAX_LAYERS);
    int *layer_of = malloc(sizeof *layer_of * BQ_V2_MAX_LAYERS);
    int rc = -1;
    if (!ls || !layer_of) {
        bq_seterr(err, errlen, "out of memory");
        goto done;
    }
    int n = bq_lower_v2_net(ls, BQ_V2_MAX_LAYERS, q, err, errlen);
    if (n < 0) goto done;
    for (int j = 0; j < n; j++) {   /* the net's layer of the same name; -1: a GAP */
        layer_of[j] = -1;
        for (int l = 0; l < net->n && layer_of[j] < 0; l++)
            if (!strcmp(net->layers[l].name, ls[j].hw.name)) layer_of[j] = l;
    }
    rc = bq_hw_net_set_v2(net, ls, layer_of, n, err, errlen);
done:
    free(ls);
    free(layer_of);
    return rc;
}
