/*
 * onnx_import.c — ONNX -> bq_model (see onnx_import.h, docs/onnx.md).
 *
 * Pipeline:
 *   1. protobuf-c unpacks the ModelProto (corrupt or truncated bytes -> one-line error);
 *   2. every value name (initializers, extra constants, graph inputs, node outputs) gets a slot
 *      in a hash table; the nodes are sorted topologically with Kahn's algorithm (a cycle or an
 *      input nobody produces is an error);
 *   3. nodes are converted in that order into an intermediate list of engine ops (IR): constants
 *      are folded into the ops that read them (weights, biases, Clip bounds, Reshape shapes),
 *      Identity/Flatten-of-1x1/Reshape-of-1x1 become aliases, shapes are computed and checked;
 *   4. the IR ops that the graph output does not need are dropped; residual blocks are found
 *      with dominators (see find_blocks) and the ops are ordered so each block is contiguous;
 *   5. the bq_model is built with the graph.h builders, finalized, and the weights copied in.
 */
#include "io/onnx_import.h"
#include "core/errmsg.h"
#include "io/onnx_internal.h"
#include "core/fileio.h"
#include "core/yamldoc.h"
#include "nn/ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPSET_MAX 17

typedef enum { V_NONE = 0, V_CONST, V_DATA } vkind;

/* One named ONNX value. */
typedef struct {
    const char *name;          /* borrowed from the protobuf or the options */
    vkind kind;
    bq_onnx_tensor t;          /* V_CONST */
    int owned;                 /* t's arrays are ours to free */
    int ir;                    /* V_DATA: producing IR op */
    int rank;                  /* V_DATA: ONNX rank of the tensor (2..4); batch is dim 0 */
    int64_t batch;             /* V_DATA: declared batch size, -1 when symbolic */
    int uses;                  /* node inputs + graph outputs naming this value */
    int producer;              /* ONNX node index producing it, -1 for inputs/initializers */
} value;

/* One engine op before emission. nd holds kind, name, in[] (IR indices), shape and geometry. */
typedef struct {
    bq_node nd;
    float *w;                  /* conv (Cout, Cin/g, Kh, Kw) / linear (Cout, Cin) */
    float *b;                  /* (Cout) or NULL */
    float *bn[4];              /* gamma, beta, running mean, running var (C) */
    int reads;                 /* consumers through any alias (for bias folding) */
    int users;                 /* live IR consumers (after liveness) */
    int live, block, out;      /* out: index in the bq_model */
    int block_in;              /* on a block's output op: the block's input op */
} irop;

typedef struct {
    const char *src;           /* file name for messages */
    char *err; size_t errlen;
    int opset;
    const Onnx__GraphProto *g;
    value *vals; int nvals, capvals;
    int *hash; size_t hcap;
    irop *ops; int nops, capops;
    const Onnx__NodeProto *cur;
} ctx;

/* ------------------------------------------------------------------ messages */

static int fail(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ctx *c, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->cur) {
        const Onnx__NodeProto *n = c->cur;
        const char *dom = n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") ? n->domain : "";
        bq_seterr(c->err, c->errlen, "%s: node '%s' (%s%s%s, opset %d): %s", c->src,
                  n->name && n->name[0] ? n->name : "(unnamed)", dom, dom[0] ? "." : "",
                  n->op_type ? n->op_type : "?", c->opset, msg);
    } else {
        bq_seterr(c->err, c->errlen, "%s: %s", c->src, msg);
    }
    /* messages are one line: a name with a newline in it must not break that */
    for (char *p = c->err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return -1;
}

/* ------------------------------------------------------------------ values */

static uint64_t hash_str(const char *s) {
    return bq_fnv1a64(s, strlen(s), BQ_FNV_INIT);
}

static value *find_val(ctx *c, const char *name) {
    if (!name || !c->hcap) return NULL;
    size_t h = (size_t)hash_str(name) & (c->hcap - 1);
    while (c->hash[h] >= 0) {
        if (strcmp(c->vals[c->hash[h]].name, name) == 0) return &c->vals[c->hash[h]];
        h = (h + 1) & (c->hcap - 1);
    }
    return NULL;
}

/* Add a value; -1 with an error when the name exists already. */
static value *add_val(ctx *c, const char *name) {
    if (find_val(c, name)) {
        fail(c, "value '%s' is defined twice; every ONNX value must have one producer", name);
        return NULL;
    }
    if (c->nvals >= c->capvals) { fail(c, "internal: value table full"); return NULL; }
    value *v = &c->vals[c->nvals];
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->ir = -1;
    v->producer = -1;
    size_t h = (size_t)hash_str(name) & (c->hcap - 1);
    while (c->hash[h] >= 0) h = (h + 1) & (c->hcap - 1);
    c->hash[h] = c->nvals++;
    return v;
}

/* ------------------------------------------------------------------ attributes */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t k = 0; k < n->n_attribute; k++)
        if (n->attribute[k]->name && strcmp(n->attribute[k]->name, name) == 0)
            return n->attribute[k];
    return NULL;
}

static int attr_type_ok(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t,
                        int has) {
    return a->has_type ? a->type == t : has;
}

static int attr_int(ctx *c, const char *name, int64_t def, int64_t *out) {
    const Onnx__AttributeProto *a = attr(c->cur, name);
    *out = def;
    if (!a) return 0;
    if (!attr_type_ok(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
        return fail(c, "attribute '%s' must be an integer", name);
    *out = a->i;
    return 0;
}

static int attr_float(ctx *c, const char *name, float def, float *out) {
    const Onnx__AttributeProto *a = attr(c->cur, name);
    *out = def;
    if (!a) return 0;
    if (!attr_type_ok(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f))
        return fail(c, "attribute '%s' must be a float", name);
    *out = a->f;
    return 0;
}

/* Integer list attribute into out[0..want-1]; absent -> defaults kept, *present = 0. A list of
 * another length is an error. */
static int attr_ints(ctx *c, const char *name, int64_t *out, size_t want, int *present) {
    const Onnx__AttributeProto *a = attr(c->cur, name);
    if (present) *present = 0;
    if (!a) return 0;
    if (!attr_type_ok(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, a->n_ints > 0))
        return fail(c, "attribute '%s' must be a list of integers", name);
    if (a->n_ints != want)
        return fail(c, "attribute '%s' has %zu values; expected %zu", name, a->n_ints, want);
    for (size_t k = 0; k < want; k++) out[k] = a->ints[k];
    if (present) *present = 1;
    return 0;
}

static void attr_str(const Onnx__NodeProto *n, const char *name, char *buf, size_t cap,
                     const char *def) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) { snprintf(buf, cap, "%s", def); return; }
    size_t len = a->s.len < cap - 1 ? a->s.len : cap - 1;
    memcpy(buf, a->s.data, len);
    buf[len] = 0;
}

/* ------------------------------------------------------------------ node inputs */

static value *input_val(ctx *c, int k) {
    if ((size_t)k >= c->cur->n_input || !c->cur->input[k] || !c->cur->input[k][0]) return NULL;
    return find_val(c, c->cur->input[k]);
}

/* Runtime (non-constant) input k; NULL with an error otherwise. */
static value *data_in(ctx *c, int k) {
    value *v = input_val(c, k);
    if (!v) { fail(c, "input %d is missing", k); return NULL; }
    if (v->kind != V_DATA) {
        fail(c, "input %d ('%s') must be a runtime tensor computed from the graph input, not %s",
             k, v->name, v->kind == V_CONST ? "a constant" : "an unsupported secondary output");
        return NULL;
    }
    return v;
}

/* Constant input k; NULL (and an error when required) otherwise. */
static value *const_in(ctx *c, int k, int required) {
    value *v = input_val(c, k);
    if (!v) {
        if (required) fail(c, "input %d is missing", k);
        return NULL;
    }
    if (v->kind != V_CONST) {
        fail(c, "input %d ('%s') must be a constant (initializer or Constant node); weights "
             "computed at run time are not supported", k, v->name);
        return NULL;
    }
    return v;
}

/* ------------------------------------------------------------------ IR ops */

static int new_op(ctx *c, bq_op_kind kind, int in0, int in1) {
    if (c->nops >= c->capops) {
        int nc = c->capops ? 2 * c->capops : 64;
        irop *p = realloc(c->ops, sizeof(irop) * (size_t)nc);
        if (!p) return fail(c, "out of memory");
        c->ops = p; c->capops = nc;
    }
    irop *o = &c->ops[c->nops];
    memset(o, 0, sizeof(*o));
    o->nd.kind = kind;
    o->nd.in[0] = in0; o->nd.in[1] = in1;
    o->nd.groups = 1; o->nd.stride_h = o->nd.stride_w = 1;
    o->nd.block = -1;
    o->block = -1; o->out = -1;
    if (in0 >= 0) { o->nd.c = c->ops[in0].nd.c; o->nd.h = c->ops[in0].nd.h; o->nd.w = c->ops[in0].nd.w; }
    const Onnx__NodeProto *n = c->cur;
    const char *nm = n && n->name && n->name[0] ? n->name
                     : (n && n->n_output && n->output[0] && n->output[0][0] ? n->output[0] : NULL);
    while (nm && *nm == '/') nm++;   /* torch >= 2 names nodes "/layer1/layer1.0/conv1/Conv" */
    if (nm && *nm) {
        size_t len = strlen(nm), keep = BQ_NAME_LEN - 1;
        /* keep the tail of long names: it is the distinctive part of exporter paths */
        snprintf(o->nd.name, sizeof(o->nd.name), "%s", len > keep ? nm + len - keep : nm);
    } else {
        snprintf(o->nd.name, sizeof(o->nd.name), "%s_%d", bq_op_name(kind), c->nops);
    }
    return c->nops++;
}

/* Make output 0 of the current node a runtime value produced by IR op `ir`. */
static int set_out(ctx *c, int ir, int rank, int64_t batch) {
    value *v = find_val(c, c->cur->output[0]);
    v->kind = V_DATA;
    v->ir = ir;
    v->rank = rank;
    v->batch = batch;
    c->ops[ir].reads += v->uses;
    const bq_node *nd = &c->ops[ir].nd;
    if ((size_t)nd->c * nd->h * nd->w > BQ_ONNX_MAX_ELEMS)
        return fail(c, "output of %dx%dx%d is too large", nd->c, nd->h, nd->w);
    return 0;
}

/* Output 0 = the same tensor as runtime input `in` (Identity, flatten of a 1x1 map...). */
static int alias_out(ctx *c, const value *in, int rank) {
    c->ops[in->ir].reads--;   /* this node's read is forwarded to the alias' readers */
    return set_out(c, in->ir, rank, in->batch);
}

static float *copy_floats(ctx *c, const float *src, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) { fail(c, "out of memory"); return NULL; }
    if (n) memcpy(p, src, sizeof(float) * n);
    return p;
}

static int check_dim(ctx *c, const char *what, int64_t v, int64_t lo) {
    if (v < lo || v > BQ_ONNX_MAX_DIM)
        return fail(c, "%s is %lld; expected %lld..%d", what, (long long)v, (long long)lo,
                    BQ_ONNX_MAX_DIM);
    return 0;
}

/* ------------------------------------------------------------------ operators */

/* Common geometry of Conv/MaxPool/AveragePool for a window (kh, kw) over (h, w): strides,
 * pads (ONNX order t, l, b, r), auto_pad, dilations (must be 1), ceil_mode (pools). nd is the
 * number of spatial dimensions of the ONNX op: 2, or 1 for (N, C, L) tensors, which run as
 * (C, L, 1) images with a (k, 1) window. */
static int window_geometry(ctx *c, int nd, int h, int w, int kh, int kw, int *sh, int *sw,
                           int pads[4], int ceil_ok, int *extra) {
    int64_t st[2] = {1, 1}, pd[4] = {0, 0, 0, 0}, dl[2] = {1, 1}, ceil_mode = 0, p1[2] = {0, 0};
    int have_pads = 0;
    if (attr_ints(c, "strides", st, (size_t)nd, NULL) || attr_ints(c, "dilations", dl, (size_t)nd, NULL))
        return -1;
    if (nd == 2 ? attr_ints(c, "pads", pd, 4, &have_pads) : attr_ints(c, "pads", p1, 2, &have_pads))
        return -1;
    if (nd == 1) { pd[0] = p1[0]; pd[2] = p1[1]; }
    if (dl[0] != 1 || dl[1] != 1)
        return fail(c, "dilations %lldx%lld are not supported (only 1)", (long long)dl[0],
                    (long long)dl[1]);
    if (check_dim(c, "stride", st[0], 1) || check_dim(c, "stride", st[1], 1)) return -1;
    for (int k = 0; k < 4; k++)
        if (check_dim(c, "pad", pd[k], 0)) return -1;
    char ap[32];
    attr_str(c->cur, "auto_pad", ap, sizeof(ap), "NOTSET");
    *sh = (int)st[0]; *sw = (int)st[1];
    if (strcmp(ap, "NOTSET") == 0) {
        for (int k = 0; k < 4; k++) pads[k] = (int)pd[k];
    } else if (strcmp(ap, "VALID") == 0) {
        for (int k = 0; k < 4; k++) pads[k] = 0;
    } else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
        int dims[2] = {h, w}, ks[2] = {kh, kw}, s[2] = {*sh, *sw};
        for (int d = 0; d < 2; d++) {
            int out = (dims[d] + s[d] - 1) / s[d];
            int total = (out - 1) * s[d] + ks[d] - dims[d];
            if (total < 0) total = 0;
            int small = total / 2, big = total - small;
            pads[d] = ap[5] == 'U' ? small : big;        /* begin */
            pads[d + 2] = ap[5] == 'U' ? big : small;    /* end */
        }
    } else {
        return fail(c, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
    }
    *extra = 0;
    if (attr_int(c, "ceil_mode", 0, &ceil_mode)) return -1;
    if (ceil_mode && !ceil_ok) return fail(c, "ceil_mode is only valid on pools");
    if (ceil_mode) {
        /* ceil output size; the last window must start inside the image or the begin pad */
        int dims[2] = {h, w}, ks[2] = {kh, kw}, s[2] = {*sh, *sw};
        for (int d = 0; d < 2; d++) {
            int span = dims[d] + pads[d] + pads[d + 2] - ks[d];
            if (span < 0) continue;
            int out = (span + s[d] - 1) / s[d] + 1;
            if ((out - 1) * s[d] >= dims[d] + pads[d]) out--;
            int need = (out - 1) * s[d] + ks[d] - (dims[d] + pads[d] + pads[d + 2]);
            if (need > 0) { pads[d + 2] += need; *extra = 1; }
        }
    }
    return 0;
}

static int op_conv(ctx *c) {
    value *x = data_in(c, 0), *wv, *bv = NULL;
    if (!x || !(wv = const_in(c, 1, 1))) return -1;
    if (c->cur->n_input > 2 && c->cur->input[2][0] && !(bv = const_in(c, 2, 1))) return -1;
    if (x->rank != 4 && x->rank != 3)
        return fail(c, "input is %d-D; only 1-D and 2-D convolutions (NCL, NCHW) are supported",
                    x->rank);
    int nd = x->rank - 2;
    const bq_onnx_tensor *W = &wv->t;
    if (W->ndim != x->rank)
        return fail(c, "weight '%s' is %d-D; expected (Cout, Cin/group, kernel...) of rank %d",
                    wv->name, W->ndim, x->rank);
    for (int k = 0; k < W->ndim; k++)
        if (check_dim(c, "weight dimension", W->dims[k], 1)) return -1;
    int64_t wk[2] = {W->dims[2], nd == 2 ? W->dims[3] : 1}, group, ks[2] = {wk[0], wk[1]};
    int have_ks;
    if (attr_int(c, "group", 1, &group) || attr_ints(c, "kernel_shape", ks, (size_t)nd, &have_ks))
        return -1;
    if (ks[0] != wk[0] || ks[1] != wk[1])
        return fail(c, "kernel_shape %lldx%lld does not match the weight's %lldx%lld",
                    (long long)ks[0], (long long)ks[1], (long long)wk[0], (long long)wk[1]);
    const bq_node *in = &c->ops[x->ir].nd;
    int cout = (int)W->dims[0], kh = (int)wk[0], kw = (int)wk[1];
    if (group < 1 || group > in->c || W->dims[1] * group != in->c || cout % group != 0)
        return fail(c, "weight (%d, %lld, %d, %d) with group %lld does not fit %d input channels",
                    cout, (long long)W->dims[1], kh, kw, (long long)group, in->c);
    if (bv && (bv->t.count != (size_t)cout))
        return fail(c, "bias '%s' has %zu values for %d output channels", bv->name, bv->t.count,
                    cout);
    int sh, sw, pads[4], extra;
    if (window_geometry(c, nd, in->h, in->w, kh, kw, &sh, &sw, pads, 0, &extra)) return -1;
    bq_conv_shape cs;
    if (bq_conv2d_shape(&cs, 1, in->c, in->h, in->w, cout, kh, kw, sh, sw, pads[0], pads[1],
                        pads[2], pads[3], (int)group))
        return fail(c, "kernel %dx%d with pads (%d,%d,%d,%d) does not fit the %dx%d input", kh,
                    kw, pads[0], pads[1], pads[2], pads[3], in->h, in->w);
    int o = new_op(c, BQ_OP_CONV, x->ir, -1);
    if (o < 0) return -1;
    irop *op = &c->ops[o];
    op->nd.c = cout; op->nd.h = cs.hout; op->nd.w = cs.wout;
    op->nd.kh = kh; op->nd.kw = kw; op->nd.stride_h = sh; op->nd.stride_w = sw;
    op->nd.pad_t = pads[0]; op->nd.pad_l = pads[1]; op->nd.pad_b = pads[2]; op->nd.pad_r = pads[3];
    op->nd.groups = (int)group;
    if (!(op->w = copy_floats(c, W->f, W->count))) return -1;
    if (bv && !(op->b = copy_floats(c, bv->t.f, bv->t.count))) return -1;
    return set_out(c, o, x->rank, x->batch);
}

static int op_pool(ctx *c, bq_op_kind kind) {
    value *x = data_in(c, 0);
    if (!x) return -1;
    if (x->rank != 4 && x->rank != 3)
        return fail(c, "input is %d-D; only 1-D and 2-D pooling (NCL, NCHW) is supported", x->rank);
    int sp = x->rank - 2;   /* spatial dimensions */
    for (size_t k = 1; k < c->cur->n_output; k++) {
        value *o = find_val(c, c->cur->output[k]);
        if (o && o->uses) return fail(c, "output %zu (indices) is used; not supported", k);
    }
    int64_t ks[2] = {0, 1}, cip = 0;
    int have;
    if (attr_ints(c, "kernel_shape", ks, (size_t)sp, &have)) return -1;
    if (!have) return fail(c, "attribute 'kernel_shape' is required");
    if (check_dim(c, "kernel size", ks[0], 1) || check_dim(c, "kernel size", ks[1], 1)) return -1;
    if (kind == BQ_OP_AVGPOOL && attr_int(c, "count_include_pad", 0, &cip)) return -1;
    const bq_node *in = &c->ops[x->ir].nd;
    int sh, sw, pads[4], extra;
    if (window_geometry(c, sp, in->h, in->w, (int)ks[0], (int)ks[1], &sh, &sw, pads, 1, &extra))
        return -1;
    if (extra && cip)
        return fail(c, "ceil_mode together with count_include_pad=1 is not supported");
    int hout = (in->h + pads[0] + pads[2] - (int)ks[0]) / sh + 1;
    int wout = (in->w + pads[1] + pads[3] - (int)ks[1]) / sw + 1;
    if (in->h + pads[0] + pads[2] < ks[0] || in->w + pads[1] + pads[3] < ks[1] || hout < 1 ||
        wout < 1)
        return fail(c, "window %lldx%lld does not fit the %dx%d input", (long long)ks[0],
                    (long long)ks[1], in->h, in->w);
    int o = new_op(c, kind, x->ir, -1);
    if (o < 0) return -1;
    bq_node *nd = &c->ops[o].nd;
    nd->kh = (int)ks[0]; nd->kw = (int)ks[1]; nd->stride_h = sh; nd->stride_w = sw;
    nd->pad_t = pads[0]; nd->pad_l = pads[1]; nd->pad_b = pads[2]; nd->pad_r = pads[3];
    nd->count_include_pad = cip != 0;
    nd->h = hout; nd->w = wout;
    return set_out(c, o, x->rank, x->batch);
}

static int op_gap(ctx *c) {
    value *x = data_in(c, 0);
    if (!x) return -1;
    if (x->rank < 3) return fail(c, "input is %d-D; GlobalAveragePool needs (N, C, ...)", x->rank);
    int o = new_op(c, BQ_OP_GAP, x->ir, -1);
    if (o < 0) return -1;
    c->ops[o].nd.h = c->ops[o].nd.w = 1;
    return set_out(c, o, x->rank, x->batch);
}

static int op_bn(ctx *c) {
    value *x = data_in(c, 0);
    if (!x) return -1;
    int64_t training = 0, spatial = 1;
    float eps;
    if (attr_int(c, "training_mode", 0, &training) || attr_int(c, "spatial", 1, &spatial) ||
        attr_float(c, "epsilon", 1e-5f, &eps))
        return -1;
    if (training) return fail(c, "training_mode=1 is not supported; export in eval mode");
    if (!spatial) return fail(c, "spatial=0 is not supported");
    for (size_t k = 1; k < c->cur->n_output; k++) {
        value *o = find_val(c, c->cur->output[k]);
        if (o && o->uses) return fail(c, "training outputs (running statistics) are used; export "
                                      "in eval mode");
    }
    if (!(eps >= 0.0f) || !isfinite(eps)) return fail(c, "epsilon %g is invalid", eps);
    int ch = c->ops[x->ir].nd.c;
    value *p[4];
    for (int k = 0; k < 4; k++) {
        if (!(p[k] = const_in(c, k + 1, 1))) return -1;
        if (p[k]->t.count != (size_t)ch)
            return fail(c, "parameter '%s' has %zu values for %d channels", p[k]->name,
                        p[k]->t.count, ch);
    }
    int o = new_op(c, BQ_OP_BN, x->ir, -1);
    if (o < 0) return -1;
    c->ops[o].nd.bn_eps = eps;
    for (int k = 0; k < 4; k++)
        if (!(c->ops[o].bn[k] = copy_floats(c, p[k]->t.f, (size_t)ch))) return -1;
    return set_out(c, o, x->rank, x->batch);
}

static int act_op(ctx *c, value *x, float lo, float hi) {
    irop *p = &c->ops[x->ir];
    if (p->nd.kind == BQ_OP_RELU && p->reads == 1 && hi >= 0.0f && hi != INFINITY) {
        /* Clip(Relu(x), lo, hi) == clamp(x, max(lo, 0), hi): torch exports relu6 this way */
        float l = lo > 0.0f ? lo : 0.0f;
        p->nd.kind = l == 0.0f && hi == 6.0f ? BQ_OP_RELU6 : BQ_OP_CLAMP;
        p->nd.lo = l;
        p->nd.hi = hi;
        return alias_out(c, x, x->rank);
    }
    bq_op_kind k = BQ_OP_CLAMP;
    if (lo == 0.0f && hi == 6.0f) k = BQ_OP_RELU6;
    else if (lo == 0.0f && hi == INFINITY) k = BQ_OP_RELU;
    int o = new_op(c, k, x->ir, -1);
    if (o < 0) return -1;
    c->ops[o].nd.lo = lo;
    c->ops[o].nd.hi = hi;
    return set_out(c, o, x->rank, x->batch);
}

static int op_relu(ctx *c) {
    value *x = data_in(c, 0);
    return x ? act_op(c, x, 0.0f, INFINITY) : -1;
}

static int op_clip(ctx *c) {
    value *x = data_in(c, 0);
    if (!x) return -1;
    float lo = -INFINITY, hi = INFINITY;
    if (c->opset < 11) {
        if (attr_float(c, "min", -INFINITY, &lo) || attr_float(c, "max", INFINITY, &hi)) return -1;
    } else {
        float *b[2] = {&lo, &hi};
        for (int k = 1; k <= 2; k++) {
            if (!input_val(c, k)) {
                if ((size_t)k < c->cur->n_input && c->cur->input[k][0])
                    return fail(c, "input %d ('%s') is not defined", k, c->cur->input[k]);
                continue;
            }
            value *v = const_in(c, k, 1);
            if (!v) return -1;
            if (v->t.count != 1) return fail(c, "bound '%s' must be a scalar", v->name);
            *b[k - 1] = v->t.f[0];
        }
    }
    if (isnan(lo) || isnan(hi)) return fail(c, "a clip bound is NaN");
    return act_op(c, x, lo, hi);
}

/* Fold constant addend `k` into the bias of the conv/linear producing x (x read only here). */
static int fold_bias(ctx *c, value *x, const value *k) {
    irop *p = &c->ops[x->ir];
    if ((p->nd.kind != BQ_OP_CONV && p->nd.kind != BQ_OP_LINEAR) || p->reads != 1)
        return fail(c, "adding constant '%s' is only supported as the bias of a Conv/Gemm/MatMul "
                    "whose output nothing else reads", k->name);
    int ch = p->nd.c;
    const bq_onnx_tensor *t = &k->t;
    if (t->ndim > x->rank) goto bad;
    for (int j = 0; j < t->ndim; j++) {
        int axis = x->rank - t->ndim + j;
        if (t->dims[j] != 1 && !(axis == 1 && t->dims[j] == ch)) goto bad;
    }
    if (t->count != 1 && t->count != (size_t)ch) goto bad;
    if (!p->b) {
        p->b = calloc((size_t)ch, sizeof(float));
        if (!p->b) return fail(c, "out of memory");
    }
    for (int i = 0; i < ch; i++) p->b[i] += t->f[t->count == 1 ? 0 : i];
    return alias_out(c, x, x->rank);
bad:
    return fail(c, "constant '%s' does not broadcast as a per-channel bias of %d channels",
                k->name, ch);
}

static int op_add(ctx *c) {
    value *a = input_val(c, 0), *b = input_val(c, 1);
    if (!a || !b) return fail(c, "Add needs two inputs");
    if (a->kind == V_CONST && b->kind == V_CONST)
        return fail(c, "adding two constants is not supported; fold it before export");
    if (a->kind == V_CONST) { value *t = a; a = b; b = t; }
    if (b->kind == V_CONST) return fold_bias(c, a, b);
    const bq_node *na = &c->ops[a->ir].nd, *nb = &c->ops[b->ir].nd;
    if (a->rank != b->rank || na->c != nb->c || na->h != nb->h || na->w != nb->w)
        return fail(c, "operand shapes differ (%dx%dx%d vs %dx%dx%d); broadcasting between "
                    "runtime tensors is not supported", na->c, na->h, na->w, nb->c, nb->h, nb->w);
    int o = new_op(c, BQ_OP_ADD, a->ir, b->ir);
    if (o < 0) return -1;
    return set_out(c, o, a->rank, a->batch >= 0 ? a->batch : b->batch);
}

/* (N, C, H, W) -> (N, C*H*W): an engine flatten, or an alias when H = W = 1. */
static int flatten_to_2d(ctx *c, value *x) {
    const bq_node *in = &c->ops[x->ir].nd;
    if (in->h == 1 && in->w == 1) return alias_out(c, x, 2);
    int o = new_op(c, BQ_OP_FLATTEN, x->ir, -1);
    if (o < 0) return -1;
    bq_node *nd = &c->ops[o].nd;
    nd->c = in->c * in->h * in->w; nd->h = nd->w = 1;
    return set_out(c, o, 2, x->batch);
}

static int op_flatten(ctx *c) {
    value *x = data_in(c, 0);
    if (!x) return -1;
    int64_t axis;
    if (attr_int(c, "axis", 1, &axis)) return -1;
    if (axis < 0) axis += x->rank;
    if (axis != 1)
        return fail(c, "axis %lld would merge or split the batch dimension; only axis=1 is "
                    "supported", (long long)axis);
    return flatten_to_2d(c, x);
}

static int op_reshape(ctx *c) {
    value *x = data_in(c, 0), *s;
    if (!x || !(s = const_in(c, 1, 1))) return -1;
    int64_t allowzero;
    if (attr_int(c, "allowzero", 0, &allowzero)) return -1;
    const bq_node *in = &c->ops[x->ir].nd;
    int64_t chw = (int64_t)in->c * in->h * in->w;
    if (!s->t.i || s->t.count != 2)
        return fail(c, "target shape '%s' must be 2 integers (N, C*H*W); only reshapes to 2-D "
                    "that keep the batch are supported", s->name);
    int64_t d0 = s->t.i[0], d1 = s->t.i[1];
    if (!allowzero && d1 == 0) d1 = in->c;            /* 0 copies the input's dimension */
    int batch_ok = (d0 == 0 && !allowzero) || (x->batch > 0 && d0 == x->batch) ||
                   (d0 == -1 && d1 == chw);
    if (d1 == -1 && d0 != -1) d1 = chw;
    if (!batch_ok || d1 != chw)
        return fail(c, "reshape to (%lld, %lld) is not (N, C*H*W) = (N, %lld); only reshapes to "
                    "2-D that keep the batch are supported", (long long)s->t.i[0],
                    (long long)s->t.i[1], (long long)chw);
    return flatten_to_2d(c, x);
}

/* Linear layer from a constant matrix: W (N, K) = alpha * op(B), bias (N) = beta * C. */
static int linear_op(ctx *c, value *a, const value *bv, int trans_b, float alpha,
                     const value *cv, float beta) {
    if (a->rank != 2) return fail(c, "input A is %d-D; only 2-D (N, K) inputs are supported "
                                  "(insert a Flatten)", a->rank);
    const bq_onnx_tensor *B = &bv->t;
    if (B->ndim != 2) return fail(c, "weight '%s' is %d-D; expected 2-D", bv->name, B->ndim);
    int64_t K = trans_b ? B->dims[1] : B->dims[0], N = trans_b ? B->dims[0] : B->dims[1];
    int kin = c->ops[a->ir].nd.c;
    if (K != kin)
        return fail(c, "weight '%s' expects %lld input features, the input has %d", bv->name,
                    (long long)K, kin);
    if (check_dim(c, "output features", N, 1)) return -1;
    if (cv) {
        const bq_onnx_tensor *C = &cv->t;
        int per_col = C->count == (size_t)N && (C->ndim == 1 || (C->ndim == 2 && C->dims[0] == 1));
        if (C->count != 1 && !per_col)
            return fail(c, "bias '%s' of %d-D shape is not a scalar or (N) vector; a per-row "
                        "bias depends on the batch and is not supported", cv->name, C->ndim);
    }
    int o = new_op(c, BQ_OP_LINEAR, a->ir, -1);
    if (o < 0) return -1;
    irop *op = &c->ops[o];
    op->nd.c = (int)N; op->nd.h = op->nd.w = 1;
    op->w = malloc(sizeof(float) * (size_t)(N * K));
    if (!op->w) return fail(c, "out of memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            op->w[n * K + k] = alpha * (trans_b ? B->f[n * K + k] : B->f[k * N + n]);
    if (cv && beta != 0.0f) {
        op->b = malloc(sizeof(float) * (size_t)N);
        if (!op->b) return fail(c, "out of memory");
        for (int64_t n = 0; n < N; n++)
            op->b[n] = beta * cv->t.f[cv->t.count == 1 ? 0 : n];
    }
    return set_out(c, o, 2, a->batch);
}

static int op_gemm(ctx *c) {
    value *a = data_in(c, 0), *b, *cv = NULL;
    if (!a || !(b = const_in(c, 1, 1))) return -1;
    if (input_val(c, 2) && !(cv = const_in(c, 2, 1))) return -1;
    int64_t ta, tb;
    float alpha, beta;
    if (attr_int(c, "transA", 0, &ta) || attr_int(c, "transB", 0, &tb) ||
        attr_float(c, "alpha", 1.0f, &alpha) || attr_float(c, "beta", 1.0f, &beta))
        return -1;
    if (ta) return fail(c, "transA=1 on the runtime input would transpose the batch; not supported");
    if (!isfinite(alpha) || !isfinite(beta)) return fail(c, "alpha/beta must be finite");
    return linear_op(c, a, b, tb != 0, alpha, cv, beta);
}

static int op_matmul(ctx *c) {
    value *a = data_in(c, 0), *b;
    if (!a || !(b = const_in(c, 1, 1))) return -1;
    return linear_op(c, a, b, 0, 1.0f, NULL, 0.0f);
}

static int op_identity(ctx *c) {
    value *x = input_val(c, 0);
    if (!x) return fail(c, "input 0 is missing");
    if (x->kind == V_DATA) return alias_out(c, x, x->rank);
    value *v = find_val(c, c->cur->output[0]);
    v->kind = V_CONST;
    v->t = x->t;
    v->owned = 0;
    return 0;
}

static int op_constant(ctx *c) {
    value *v = find_val(c, c->cur->output[0]);
    const Onnx__AttributeProto *a;
    if ((a = attr(c->cur, "value")) && a->t) {
        char msg[256];
        if (bq_onnx_tensor_from_proto(&v->t, a->t, msg, sizeof(msg))) return fail(c, "%s", msg);
    } else if ((a = attr(c->cur, "value_float")) || (a = attr(c->cur, "value_int"))) {
        v->t.ndim = 0; v->t.count = 1;
        v->t.f = malloc(sizeof(float));
        v->t.i = malloc(sizeof(int64_t));
        if (!v->t.f || !v->t.i) { free(v->t.f); free(v->t.i); return fail(c, "out of memory"); }
        if (strcmp(a->name, "value_int") == 0) { v->t.i[0] = a->i; v->t.f[0] = (float)a->i; v->t.dtype = BQ_ONNX_INT64; }
        else { free(v->t.i); v->t.i = NULL; v->t.f[0] = a->f; v->t.dtype = BQ_ONNX_FLOAT; }
    } else if ((a = attr(c->cur, "value_floats")) || (a = attr(c->cur, "value_ints"))) {
        int is_int = strcmp(a->name, "value_ints") == 0;
        size_t n = is_int ? a->n_ints : a->n_floats;
        v->t.ndim = 1; v->t.dims[0] = (int64_t)n; v->t.count = n;
        v->t.dtype = is_int ? BQ_ONNX_INT64 : BQ_ONNX_FLOAT;
        v->t.f = malloc(sizeof(float) * (n ? n : 1));
        v->t.i = is_int ? malloc(sizeof(int64_t) * (n ? n : 1)) : NULL;
        if (!v->t.f || (is_int && !v->t.i)) { free(v->t.f); free(v->t.i); return fail(c, "out of memory"); }
        for (size_t k = 0; k < n; k++) {
            if (is_int) { v->t.i[k] = a->ints[k]; v->t.f[k] = (float)a->ints[k]; }
            else v->t.f[k] = a->floats[k];
        }
    } else {
        return fail(c, "only tensor, float(s) and int(s) constants are supported");
    }
    v->kind = V_CONST;
    v->owned = 1;
    return 0;
}

typedef struct { const char *name; int min_opset; int (*fn)(ctx *); } op_entry;
static int op_maxpool(ctx *c) { return op_pool(c, BQ_OP_MAXPOOL); }
static int op_avgpool(ctx *c) { return op_pool(c, BQ_OP_AVGPOOL); }
/* The oldest opset whose semantics match what the converter implements. */
static const op_entry OPS[] = {
    {"Conv", 1, op_conv}, {"BatchNormalization", 7, op_bn}, {"Relu", 6, op_relu},
    {"Clip", 6, op_clip}, {"Add", 7, op_add}, {"GlobalAveragePool", 1, op_gap},
    {"AveragePool", 7, op_avgpool}, {"MaxPool", 8, op_maxpool}, {"Flatten", 1, op_flatten},
    {"Reshape", 5, op_reshape}, {"Gemm", 7, op_gemm}, {"MatMul", 1, op_matmul},
    {"Identity", 1, op_identity}, {"Constant", 9, op_constant},
};
#define SUPPORTED_LIST "Conv, BatchNormalization, Relu, Clip, Add, GlobalAveragePool, " \
    "AveragePool, MaxPool, Flatten, Reshape, Gemm, MatMul, Identity, Constant"

static int convert_node(ctx *c) {
    const Onnx__NodeProto *n = c->cur;
    int default_domain = !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
    for (size_t k = 0; default_domain && k < sizeof(OPS) / sizeof(OPS[0]); k++) {
        if (strcmp(n->op_type, OPS[k].name) != 0) continue;
        if (c->opset < OPS[k].min_opset)
            return fail(c, "this operator version (opset < %d) is not supported; re-export with "
                        "opset 11-17", OPS[k].min_opset);
        if (n->n_output < 1 || !n->output[0][0]) return fail(c, "node has no output");
        return OPS[k].fn(c);
    }
    return fail(c, "operator not supported; supported: " SUPPORTED_LIST);
}

/* ------------------------------------------------------------------ graph input */

static int add_graph_input(ctx *c, const Onnx__ValueInfoProto *vi) {
    value *v = find_val(c, vi->name);
    if (!v) return fail(c, "internal: graph input '%s' not registered", vi->name);
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return fail(c, "graph input '%s' is not a tensor", vi->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || tt->elem_type != BQ_ONNX_FLOAT)
        return fail(c, "graph input '%s' has element type %d; only float32 inputs are supported",
                    vi->name, tt->has_elem_type ? tt->elem_type : 0);
    if (!tt->shape)
        return fail(c, "graph input '%s' has no shape; the engine needs a static C/H/W: export "
                    "with a fixed input size", vi->name);
    size_t r = tt->shape->n_dim;
    if (r < 1 || r > 4)
        return fail(c, "graph input '%s' is %zu-D; (N[, C[, H[, W]]]) inputs are supported",
                    vi->name, r);
    int d[4] = {1, 1, 1, 1};
    int64_t batch = -1;
    for (size_t k = 0; k < r; k++) {
        const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[k];
        int is_val = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (k == 0) { if (is_val && dm->dim_value > 0) batch = dm->dim_value; continue; }
        if (!is_val) {
            int named = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                        dm->dim_param;
            return fail(c, "graph input '%s' has a dynamic dimension %zu%s%s%s; the engine needs "
                        "a static C/H/W: export with a fixed input size", vi->name, k,
                        named ? " ('" : "", named ? dm->dim_param : "", named ? "')" : "");
        }
        if (dm->dim_value < 1 || dm->dim_value > BQ_ONNX_MAX_DIM)
            return fail(c, "graph input '%s' dimension %zu is %lld; expected 1..%d", vi->name, k,
                        (long long)dm->dim_value, BQ_ONNX_MAX_DIM);
        d[k] = (int)dm->dim_value;
    }
    if ((int64_t)d[1] * d[2] * d[3] > BQ_ONNX_MAX_ELEMS)
        return fail(c, "graph input '%s' is too large", vi->name);
    int o = new_op(c, BQ_OP_INPUT, -1, -1);
    if (o < 0) return -1;
    snprintf(c->ops[o].nd.name, BQ_NAME_LEN, "input");
    c->ops[o].nd.c = d[1]; c->ops[o].nd.h = d[2]; c->ops[o].nd.w = d[3];
    v->kind = V_DATA; v->ir = o; v->rank = (int)r; v->batch = batch;
    c->ops[o].reads += v->uses;
    return 0;
}

/* ------------------------------------------------------------------ blocks */

/* Nearest common dominator of a and b given idom[] (inputs precede consumers). */
static int intersect(const int *idom, int a, int b) {
    while (a != b) {
        while (a > b) a = idom[a];
        while (b > a) b = idom[b];
    }
    return a;
}

/* Recover residual blocks over the live IR ops (indices in topological order, op 0 = input).
 * For each Add with two distinct runtime operands, its immediate dominator d is the block input;
 * the block is every ancestor of the Add after d, plus the activation that alone consumes the
 * Add. It becomes a block when one operand path holds a conv, no member but the output is read
 * outside the block, and it does not overlap an earlier block. Returns the number of blocks. */
static int find_blocks(ctx *c, int *idom, char *mark) {
    int nb = 0;
    irop *ops = c->ops;
    for (int i = 0; i < c->nops; i++) {
        if (!ops[i].live) continue;
        const int *in = ops[i].nd.in;
        if (i == 0) idom[i] = 0;
        else if (in[1] >= 0) idom[i] = intersect(idom, in[0], in[1]);
        else idom[i] = in[0];
    }
    for (int a = 1; a < c->nops; a++) {
        irop *add = &ops[a];
        if (!add->live || add->nd.kind != BQ_OP_ADD || add->nd.in[0] == add->nd.in[1]) continue;
        int d = idom[a];
        /* ancestors of a in (d, a] */
        memset(mark, 0, (size_t)c->nops);
        mark[a] = 1;
        int has_conv = 0, ok = 1;
        for (int v = a; v > d; v--) {
            if (!mark[v]) continue;
            if (ops[v].block >= 0) { ok = 0; break; }
            if (ops[v].nd.kind == BQ_OP_CONV) has_conv = 1;
            for (int j = 0; j < 2; j++) {
                int u = ops[v].nd.in[j];
                if (u > d) mark[u] = 1;
            }
        }
        if (!ok || !has_conv) continue;
        /* trailing activation */
        int last = a;
        for (int t = a + 1; t < c->nops && add->users == 1; t++) {
            if (!ops[t].live || ops[t].nd.in[0] != a) continue;
            bq_op_kind k = ops[t].nd.kind;
            if (k == BQ_OP_RELU || k == BQ_OP_RELU6 || k == BQ_OP_CLAMP) { mark[t] = 1; last = t; }
            break;
        }
        /* single exit: members other than the output are only read inside the block */
        for (int v = d + 1; v < c->nops && ok; v++) {
            if (!ops[v].live || mark[v]) continue;
            for (int j = 0; j < 2; j++) {
                int u = ops[v].nd.in[j];
                if (u >= 0 && mark[u] && u != last) ok = 0;
            }
        }
        if (!ok) continue;
        for (int v = d + 1; v <= last; v++)
            if (mark[v]) ops[v].block = nb;
        ops[last].block_in = d;
        nb++;
    }
    return nb;
}

/* ------------------------------------------------------------------ emission */

static void unique_name(bq_model *m, char *name) {
    if (bq_find_node(m, name) < 0) return;
    char base[BQ_NAME_LEN - 8];
    size_t len = strnlen(name, sizeof(base) - 1);
    memcpy(base, name, len);
    base[len] = 0;
    for (int k = 2; k < 1000000; k++) {
        char suf[16];
        int sl = snprintf(suf, sizeof(suf), "_%d", k);
        memcpy(name, base, len);
        memcpy(name + len, suf, (size_t)sl + 1);
        if (bq_find_node(m, name) < 0) return;
    }
}

static int emit_op(ctx *c, bq_model *m, int i) {
    irop *op = &c->ops[i];
    bq_node *nd = &op->nd;
    char name[BQ_NAME_LEN];
    snprintf(name, sizeof(name), "%s", nd->name);
    unique_name(m, name);
    int a = nd->in[0] >= 0 ? c->ops[nd->in[0]].out : -1;
    int b = nd->in[1] >= 0 ? c->ops[nd->in[1]].out : -1;
    int r = -2;   /* -2: a kind no case below handles */
    switch (nd->kind) {   /* every op listed, no default: -Wswitch flags a new one */
    case BQ_OP_INPUT: r = bq_add_input(m); break;
    case BQ_OP_CONV:
        r = bq_add_conv_full(m, name, a, nd->c, nd->kh, nd->kw, nd->stride_h, nd->stride_w,
                             nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups, op->b != NULL);
        break;
    case BQ_OP_LINEAR: r = bq_add_linear(m, name, a, nd->c, op->b != NULL); break;
    case BQ_OP_BN:
        r = bq_add_bn(m, name, a);
        if (r >= 0) m->nodes[r].bn_eps = nd->bn_eps;
        break;
    case BQ_OP_RELU: case BQ_OP_RELU6: r = bq_add_act(m, name, nd->kind, a); break;
    case BQ_OP_CLAMP: r = bq_add_clamp(m, name, a, nd->lo, nd->hi); break;
    case BQ_OP_ADD: r = bq_add_add(m, name, a, b); break;
    case BQ_OP_MAXPOOL:
        r = bq_add_maxpool(m, name, a, nd->kh, nd->kw, nd->stride_h, nd->stride_w, nd->pad_t,
                           nd->pad_l, nd->pad_b, nd->pad_r);
        break;
    case BQ_OP_AVGPOOL:
        r = bq_add_avgpool(m, name, a, nd->kh, nd->kw, nd->stride_h, nd->stride_w, nd->pad_t,
                           nd->pad_l, nd->pad_b, nd->pad_r, nd->count_include_pad);
        break;
    case BQ_OP_GAP: r = bq_add_gap(m, name, a); break;
    case BQ_OP_FLATTEN: r = bq_add_flatten(m, name, a); break;
    case BQ_OP_COUNT: break;   /* not an op */
    }
    if (r == -2) {
        r = -1;
        bq_seterr(m->err, sizeof(m->err), "internal error: op kind %d has no builder",
                  (int)nd->kind);
    }
    if (r < 0) return fail(c, "building '%s': %s", name, m->err);
    const bq_node *got = &m->nodes[r];
    if (got->c != nd->c || got->h != nd->h || got->w != nd->w)
        return fail(c, "internal: '%s' shape %dx%dx%d, expected %dx%dx%d", name, got->c, got->h,
                    got->w, nd->c, nd->h, nd->w);
    op->out = r;
    return 0;
}

static int build_model(ctx *c, bq_model *m, int out_ir) {
    int n = c->nops, rc = -1;
    int *idom = malloc(sizeof(int) * (size_t)n);
    char *mark = malloc((size_t)n);
    if (!idom || !mark) { free(idom); free(mark); return fail(c, "out of memory"); }
    /* liveness: ancestors of the output */
    c->ops[out_ir].live = 1;
    for (int i = out_ir; i >= 0; i--) {
        if (!c->ops[i].live) continue;
        for (int j = 0; j < 2; j++)
            if (c->ops[i].nd.in[j] >= 0) {
                c->ops[c->ops[i].nd.in[j]].live = 1;
                c->ops[c->ops[i].nd.in[j]].users++;
            }
    }
    c->ops[0].live = 1;
    int nblocks = find_blocks(c, idom, mark);
    const bq_node *on = &c->ops[out_ir].nd;
    bq_model_init(m, "onnx", c->ops[0].nd.c, c->ops[0].nd.h, c->ops[0].nd.w, on->c * on->h * on->w);
    char *block_done = calloc((size_t)nblocks + 1, 1);
    if (!block_done) { fail(c, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        irop *op = &c->ops[i];
        if (!op->live || op->out >= 0) continue;
        if (op->block < 0) {
            if (emit_op(c, m, i)) goto done;
            continue;
        }
        /* first member of a block: emit the whole block contiguously */
        int b = op->block, last = -1;
        for (int j = i; j < n; j++)
            if (c->ops[j].live && c->ops[j].block == b) last = j;
        char bname[BQ_NAME_LEN];
        snprintf(bname, sizeof(bname), "res%d", b + 1);
        bq_block_begin(m, bname, c->ops[c->ops[last].block_in].out);
        if (m->open_block < 0) { fail(c, "out of memory"); goto done; }
        for (int j = i; j <= last; j++)
            if (c->ops[j].live && c->ops[j].block == b && emit_op(c, m, j)) goto done;
        bq_block_end(m);
        block_done[b] = 1;
    }
    if (m->n_nodes < 2 || c->ops[out_ir].out != m->n_nodes - 1) {
        fail(c, "the graph output is the graph input; there is no layer to run");
        goto done;
    }
    if (bq_model_finalize(m, 0)) { fail(c, "out of memory"); goto done; }
    for (int i = 0; i < n; i++) {
        const irop *op = &c->ops[i];
        if (!op->live || op->out < 0) continue;
        const bq_node *d = &m->nodes[op->out];
        if (op->w) memcpy(bq_param_data(m, d->p_weight), op->w,
                          sizeof(float) * m->params[d->p_weight].count);
        if (op->b) memcpy(bq_param_data(m, d->p_bias), op->b, sizeof(float) * (size_t)d->c);
        if (d->kind == BQ_OP_BN) {
            int p[4] = {d->p_gamma, d->p_beta, d->p_rmean, d->p_rvar};
            for (int k = 0; k < 4; k++)
                memcpy(bq_param_data(m, p[k]), op->bn[k], sizeof(float) * (size_t)d->c);
        }
    }
    char verr[256];
    /* the same checks as a loaded .bqm; mostly the file's own data (NaN weights), not a bug here */
    if (bq_model_validate(m, verr, sizeof(verr))) { fail(c, "%s", verr); goto done; }
    rc = 0;
done:
    free(block_done); free(idom); free(mark);
    if (rc) bq_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------ top level */

/* Topological order of the graph's nodes (Kahn). Fills order[0..n-1]; -1 + error on a cycle. */
static int topo_sort(ctx *c, int *order) {
    const Onnx__GraphProto *g = c->g;
    size_t n = g->n_node;
    int *indeg = calloc(n ? n : 1, sizeof(int));
    int *start = calloc(n + 1, sizeof(int));
    size_t nedges = 0;
    for (size_t i = 0; i < n; i++) nedges += g->node[i]->n_input;
    int *adj = malloc(sizeof(int) * (nedges ? nedges : 1));
    int rc = -1;
    if (!indeg || !start || !adj) { fail(c, "out of memory"); goto done; }
    /* edges producer -> consumer, CSR by producer */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++) {
            value *v = find_val(c, g->node[i]->input[k]);
            if (v && v->producer >= 0) { start[v->producer + 1]++; indeg[i]++; }
        }
    for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
    int *fill = calloc(n ? n : 1, sizeof(int));
    if (!fill) { fail(c, "out of memory"); goto done; }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++) {
            value *v = find_val(c, g->node[i]->input[k]);
            if (v && v->producer >= 0) adj[start[v->producer] + fill[v->producer]++] = (int)i;
        }
    free(fill);
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0) order[tail++] = (int)i;
    while (head < tail) {
        int u = order[head++];
        for (int e = start[u]; e < start[u + 1]; e++)
            if (--indeg[adj[e]] == 0) order[tail++] = adj[e];
    }
    if (tail < n) {
        for (size_t i = 0; i < n; i++)
            if (indeg[i] > 0) {
                c->cur = g->node[i];
                fail(c, "the graph has a cycle through this node; ONNX graphs must be acyclic");
                c->cur = NULL;
                break;
            }
        goto done;
    }
    rc = 0;
done:
    free(indeg); free(start); free(adj);
    return rc;
}

static int import_graph(ctx *c, const Onnx__ModelProto *mp, const bq_onnx_options *opt,
                        bq_model *m) {
    const Onnx__GraphProto *g = mp->graph;
    if (!g) return fail(c, "the model has no graph");
    c->g = g;
    c->opset = -1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *os = mp->opset_import[k];
        if (!os->domain || !os->domain[0] || strcmp(os->domain, "ai.onnx") == 0)
            c->opset = os->has_version ? (int)(os->version > 1000 ? 1000 : os->version) : 1;
    }
    if (c->opset < 0) return fail(c, "no opset_import for the default ONNX domain");
    if (c->opset > OPSET_MAX)
        return fail(c, "opset %d is newer than %d; re-export with opset_version 11-17", c->opset,
                    OPSET_MAX);
    if (g->n_node > BQ_ONNX_MAX_NODES) return fail(c, "more than %d nodes", BQ_ONNX_MAX_NODES);
    if (g->n_sparse_initializer) return fail(c, "sparse initializers are not supported");
    /* value table */
    size_t total = g->n_initializer + g->n_input + (opt ? (size_t)opt->n_consts : 0);
    for (size_t i = 0; i < g->n_node; i++) total += g->node[i]->n_output;
    c->capvals = (int)total;
    c->hcap = 16;
    while (c->hcap < 2 * total + 2) c->hcap *= 2;
    c->vals = calloc(total ? total : 1, sizeof(value));
    c->hash = malloc(sizeof(int) * c->hcap);
    if (!c->vals || !c->hash) return fail(c, "out of memory");
    memset(c->hash, 0xff, sizeof(int) * c->hcap);
    for (size_t k = 0; k < g->n_initializer; k++) {
        const Onnx__TensorProto *tp = g->initializer[k];
        if (!tp->name || !tp->name[0]) return fail(c, "initializer %zu has no name", k);
        value *v = add_val(c, tp->name);
        if (!v) return -1;
        char msg[256];
        if (bq_onnx_tensor_from_proto(&v->t, tp, msg, sizeof(msg)))
            return fail(c, "initializer: %s", msg);
        v->kind = V_CONST; v->owned = 1;
    }
    for (int k = 0; opt && k < opt->n_consts; k++) {
        if (find_val(c, opt->const_names[k])) continue;
        value *v = add_val(c, opt->const_names[k]);
        if (!v) return -1;
        v->kind = V_CONST; v->t = opt->consts[k]; v->owned = 0;
    }
    const Onnx__ValueInfoProto *data_input = NULL;
    for (size_t k = 0; k < g->n_input; k++) {
        const Onnx__ValueInfoProto *vi = g->input[k];
        if (!vi->name || !vi->name[0]) return fail(c, "graph input %zu has no name", k);
        if (find_val(c, vi->name)) continue;          /* an initializer listed as input */
        if (data_input)
            return fail(c, "the graph has more than one runtime input ('%s', '%s'); engine models "
                        "have one image input", data_input->name, vi->name);
        data_input = vi;
        if (!add_val(c, vi->name)) return -1;
    }
    if (!data_input) return fail(c, "the graph has no runtime input (every input is a constant)");
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        c->cur = nd;
        if (!nd->op_type) return fail(c, "node without op_type");
        for (size_t k = 0; k < nd->n_output; k++) {
            if (!nd->output[k][0]) continue;
            value *v = add_val(c, nd->output[k]);
            if (!v) return -1;
            v->producer = (int)i;
        }
    }
    /* every input must exist; count uses */
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *nd = g->node[i];
        c->cur = nd;
        for (size_t k = 0; k < nd->n_input; k++) {
            if (!nd->input[k][0]) continue;
            value *v = find_val(c, nd->input[k]);
            if (!v)
                return fail(c, "input '%s' is neither produced by a node nor an initializer or "
                            "graph input (missing initializer?)", nd->input[k]);
            v->uses++;
        }
    }
    c->cur = NULL;
    if (g->n_output != 1)
        return fail(c, "the graph has %zu outputs; exactly one (the logits) is supported",
                    g->n_output);
    value *outv = g->output[0]->name ? find_val(c, g->output[0]->name) : NULL;
    if (!outv) return fail(c, "graph output '%s' is not produced by any node",
                           g->output[0]->name ? g->output[0]->name : "");
    outv->uses++;
    if (add_graph_input(c, data_input)) return -1;
    int *order = malloc(sizeof(int) * (g->n_node ? g->n_node : 1));
    if (!order) return fail(c, "out of memory");
    if (topo_sort(c, order)) { free(order); return -1; }
    for (size_t i = 0; i < g->n_node; i++) {
        c->cur = g->node[order[i]];
        if (convert_node(c)) { free(order); return -1; }
    }
    free(order);
    c->cur = NULL;
    if (outv->kind != V_DATA)
        return fail(c, "graph output '%s' is a constant; nothing depends on the input",
                    outv->name);
    return build_model(c, m, outv->ir);
}

static void ctx_free(ctx *c) {
    for (int i = 0; i < c->nvals; i++)
        if (c->vals[i].owned) bq_onnx_tensor_free(&c->vals[i].t);
    for (int i = 0; i < c->nops; i++) {
        free(c->ops[i].w); free(c->ops[i].b);
        for (int k = 0; k < 4; k++) free(c->ops[i].bn[k]);
    }
    free(c->vals); free(c->hash); free(c->ops);
}

int bq_onnx_import(bq_model *m, const uint8_t *data, size_t len, const char *name,
                   const bq_onnx_options *opt, char *err, size_t errlen) {
    ctx c;
    memset(&c, 0, sizeof(c));
    c.src = name ? name : "onnx";
    c.err = err; c.errlen = errlen;
    memset(m, 0, sizeof(*m));
    Onnx__ModelProto *mp = len ? onnx__model_proto__unpack(NULL, len, data) : NULL;
    if (!mp) {
        fail(&c, "not a valid ONNX model (empty, truncated or corrupt protobuf); export it again "
             "with torch.onnx.export");
        return -1;
    }
    int rc = import_graph(&c, mp, opt, m);
    ctx_free(&c);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc) { if (m->nodes || m->arena) bq_model_free(m); memset(m, 0, sizeof(*m)); return -1; }
    if (opt && opt->has_mean) m->in_mean = opt->mean;
    if (opt && opt->has_std) m->in_std = opt->std;
    return 0;
}

/* ------------------------------------------------------------------ YAML + file */

/* The preprocessing file <model>.onnx.yaml (the loader is sw/core/yamldoc.h). */
typedef struct { float mean, std; int layout; } onnx_prep;
static const char *const kLayouts[] = {"NCHW", NULL};
static const bq_ykey kPrepKeys[] = {
    {"mean", BQ_Y_FLOAT, 0, -1e6, 1e6, offsetof(onnx_prep, mean), .what = "subtracted from the input"},
    {"std", BQ_Y_FLOAT, 0, 1e-6, 1e6, offsetof(onnx_prep, std), .what = "the input is divided by it"},
    {"layout", BQ_Y_ENUM, 0, 0, 0, offsetof(onnx_prep, layout), .names = kLayouts,
     .what = "input tensor layout; only NCHW"},
};

int bq_onnx_read_yaml(const char *path, float *mean, float *std, char *err, size_t errlen) {
    unsigned char *text;
    size_t len;
    if (bq_read_file(path, &text, &len, err, errlen)) return -1;
    onnx_prep p = {*mean, *std, 0};
    int rc = bq_yschema_parse(kPrepKeys, (int)(sizeof kPrepKeys / sizeof kPrepKeys[0]), text, len,
                              path, &p, NULL, err, errlen);
    free(text);
    if (rc) return -1;
    *mean = p.mean;
    *std = p.std;
    return 0;
}

int bq_onnx_load(bq_model *m, const char *path, const bq_onnx_options *opt, char *err,
                 size_t errlen) {
    unsigned char *data = NULL;
    size_t len = 0;
    memset(m, 0, sizeof(*m));
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    int rc = bq_onnx_import(m, data, len, path, opt, err, errlen);
    free(data);
    if (rc) return -1;
    if (!opt || !opt->no_yaml) {
        char ypath[4096];
        snprintf(ypath, sizeof(ypath), "%s.yaml", path);
        if (access(ypath, F_OK) == 0 &&
            bq_onnx_read_yaml(ypath, &m->in_mean, &m->in_std, err, errlen)) {
            bq_model_free(m);
            return -1;
        }
    }
    if (opt && opt->has_mean) m->in_mean = opt->mean;
    if (opt && opt->has_std) m->in_std = opt->std;
    return 0;
}
