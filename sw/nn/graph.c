/* graph.c — building, validating, cloning and BN-folding models (see graph.h). */
#include "nn/graph.h"
#include "core/errmsg.h"
#include "nn/ops.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OP_NAMES[] = {
    "input", "conv", "linear", "bn", "relu", "relu6", "clamp", "add",
    "maxpool", "avgpool", "gap", "flatten",
};
_Static_assert(sizeof OP_NAMES / sizeof OP_NAMES[0] == BQ_OP_COUNT,
               "OP_NAMES needs one name per bq_op_kind: update this table");

const char *bq_op_name(bq_op_kind k) {
    return (k >= 0 && k < BQ_OP_COUNT) ? OP_NAMES[k] : "?";
}

int bq_model_init(bq_model *m, const char *arch, int in_c, int in_h, int in_w, int num_classes) {
    memset(m, 0, sizeof(*m));
    snprintf(m->arch, sizeof(m->arch), "%s", arch);
    m->in_c = in_c; m->in_h = in_h; m->in_w = in_w;
    m->num_classes = num_classes;
    m->in_mean = 0.2860f;   /* Fashion-MNIST normalisation (docs/formats.md) */
    m->in_std = 0.3530f;
    m->open_block = -1;
    return 0;
}

void bq_model_free(bq_model *m) {
    free(m->nodes); free(m->params); free(m->blocks); free(m->arena);
    memset(m, 0, sizeof(*m));
}

int bq_model_clone(bq_model *dst, const bq_model *src) {
    *dst = *src;
    dst->nodes = malloc(sizeof(bq_node) * (size_t)(src->n_nodes ? src->n_nodes : 1));
    dst->params = malloc(sizeof(bq_param) * (size_t)(src->n_params ? src->n_params : 1));
    dst->blocks = malloc(sizeof(bq_block) * (size_t)(src->n_blocks ? src->n_blocks : 1));
    dst->arena = malloc(sizeof(float) * (src->arena_count ? src->arena_count : 1));
    if (!dst->nodes || !dst->params || !dst->blocks || !dst->arena) {
        free(dst->nodes); free(dst->params); free(dst->blocks); free(dst->arena);
        memset(dst, 0, sizeof(*dst));
        return -1;
    }
    dst->cap_nodes = src->n_nodes; dst->cap_params = src->n_params; dst->cap_blocks = src->n_blocks;
    /* memcpy from NULL is undefined even for 0 bytes: a model without blocks has blocks == NULL */
    if (src->n_nodes) memcpy(dst->nodes, src->nodes, sizeof(bq_node) * (size_t)src->n_nodes);
    if (src->n_params) memcpy(dst->params, src->params, sizeof(bq_param) * (size_t)src->n_params);
    if (src->n_blocks) memcpy(dst->blocks, src->blocks, sizeof(bq_block) * (size_t)src->n_blocks);
    if (src->arena_count) memcpy(dst->arena, src->arena, sizeof(float) * src->arena_count);
    return 0;
}

/* Grow an array to hold one more element. */
static int grow(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, elem * (size_t)nc);
    if (!p) return -1;
    *arr = p; *cap = nc;
    return 0;
}

static int new_node(bq_model *m, const char *name, bq_op_kind kind, int in0, int in1) {
    if (grow((void **)&m->nodes, &m->cap_nodes, m->n_nodes, sizeof(bq_node))) {
        bq_seterr(m->err, sizeof(m->err), "out of memory");
        return -1;
    }
    if (in0 >= m->n_nodes || in1 >= m->n_nodes || (kind != BQ_OP_INPUT && in0 < 0)) {
        bq_seterr(m->err, sizeof(m->err), "node '%s': input refers to a node not yet defined", name);
        return -1;
    }
    bq_node *n = &m->nodes[m->n_nodes];
    memset(n, 0, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->kind = kind;
    n->in[0] = in0; n->in[1] = in1;
    n->block = m->open_block;
    n->p_weight = n->p_bias = n->p_gamma = n->p_beta = n->p_rmean = n->p_rvar = -1;
    n->groups = 1;
    n->stride_h = n->stride_w = 1;
    if (in0 >= 0) { n->c = m->nodes[in0].c; n->h = m->nodes[in0].h; n->w = m->nodes[in0].w; }
    return m->n_nodes++;
}

static int new_param(bq_model *m, const char *node, const char *suffix, int ndim, const int *shape,
                     int no_decay, int is_buffer) {
    /* callers store the index unchecked (p_weight, ...): the failure is kept for finalize */
    if (grow((void **)&m->params, &m->cap_params, m->n_params, sizeof(bq_param))) {
        m->oom = 1;
        return -1;
    }
    bq_param *p = &m->params[m->n_params];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%.*s.%s", BQ_NAME_LEN - 10, node, suffix);
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < 4; i++) p->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++) p->count *= (size_t)shape[i];
    p->no_decay = no_decay;
    p->is_buffer = is_buffer;
    p->offset = m->arena_count;
    m->arena_count += p->count;
    return m->n_params++;
}

int bq_add_input(bq_model *m) {
    int i = new_node(m, "input", BQ_OP_INPUT, -1, -1);
    if (i < 0) return -1;
    m->nodes[i].c = m->in_c; m->nodes[i].h = m->in_h; m->nodes[i].w = m->in_w;
    return i;
}

int bq_add_conv_full(bq_model *m, const char *name, int in, int cout, int kh, int kw,
                     int stride_h, int stride_w, int pad_t, int pad_l, int pad_b, int pad_r,
                     int groups, int bias) {
    int i = new_node(m, name, BQ_OP_CONV, in, -1);
    if (i < 0) return -1;
    bq_node *n = &m->nodes[i];
    bq_conv_shape cs;
    if (bq_conv2d_shape(&cs, 1, n->c, n->h, n->w, cout, kh, kw, stride_h, stride_w, pad_t, pad_l,
                        pad_b, pad_r, groups) != 0) {
        bq_seterr(m->err, sizeof(m->err),
                  "conv '%s': impossible geometry (in %dx%dx%d, out %d, kernel %dx%d, groups %d)",
                  name, n->c, n->h, n->w, cout, kh, kw, groups);
        m->n_nodes--;
        return -1;
    }
    int cin = n->c;
    n->kh = kh; n->kw = kw; n->stride_h = stride_h; n->stride_w = stride_w;
    n->pad_t = pad_t; n->pad_l = pad_l; n->pad_b = pad_b; n->pad_r = pad_r; n->groups = groups;
    n->c = cout; n->h = cs.hout; n->w = cs.wout;
    int ws[4] = {cout, cin / groups, kh, kw};
    n->p_weight = new_param(m, name, "weight", 4, ws, 0, 0);
    if (bias) { int bs[1] = {cout}; m->nodes[i].p_bias = new_param(m, name, "bias", 1, bs, 1, 0); }
    return i;
}

int bq_add_conv(bq_model *m, const char *name, int in, int cout, int k, int stride, int pad,
                int groups, int bias) {
    return bq_add_conv_full(m, name, in, cout, k, k, stride, stride, pad, pad, pad, pad, groups,
                            bias);
}

int bq_add_linear(bq_model *m, const char *name, int in, int cout, int bias) {
    int i = new_node(m, name, BQ_OP_LINEAR, in, -1);
    if (i < 0) return -1;
    bq_node *n = &m->nodes[i];
    int cin = n->c * n->h * n->w;
    n->c = cout; n->h = 1; n->w = 1;
    int ws[2] = {cout, cin};
    n->p_weight = new_param(m, name, "weight", 2, ws, 0, 0);
    if (bias) { int bs[1] = {cout}; m->nodes[i].p_bias = new_param(m, name, "bias", 1, bs, 1, 0); }
    return i;
}

int bq_add_bn(bq_model *m, const char *name, int in) {
    int i = new_node(m, name, BQ_OP_BN, in, -1);
    if (i < 0) return -1;
    int cs[1] = {m->nodes[i].c};
    m->nodes[i].bn_eps = 1e-5f;
    m->nodes[i].p_gamma = new_param(m, name, "gamma", 1, cs, 1, 0);
    m->nodes[i].p_beta = new_param(m, name, "beta", 1, cs, 1, 0);
    m->nodes[i].p_rmean = new_param(m, name, "running_mean", 1, cs, 1, 1);
    m->nodes[i].p_rvar = new_param(m, name, "running_var", 1, cs, 1, 1);
    return i;
}

int bq_add_act(bq_model *m, const char *name, bq_op_kind kind, int in) {
    int i = new_node(m, name, kind, in, -1);
    if (i < 0) return -1;
    m->nodes[i].lo = 0.0f;
    m->nodes[i].hi = kind == BQ_OP_RELU6 ? 6.0f : INFINITY;
    return i;
}

int bq_add_clamp(bq_model *m, const char *name, int in, float lo, float hi) {
    int i = new_node(m, name, BQ_OP_CLAMP, in, -1);
    if (i < 0) return -1;
    m->nodes[i].lo = lo; m->nodes[i].hi = hi;
    return i;
}

int bq_add_add(bq_model *m, const char *name, int a, int b) {
    int i = new_node(m, name, BQ_OP_ADD, a, b);
    if (i < 0) return -1;
    const bq_node *na = &m->nodes[a], *nb = &m->nodes[b];
    if (na->c != nb->c || na->h != nb->h || na->w != nb->w) {
        bq_seterr(m->err, sizeof(m->err), "add '%s': operand shapes differ (%dx%dx%d vs %dx%dx%d)",
                  name, na->c, na->h, na->w, nb->c, nb->h, nb->w);
        m->n_nodes--;
        return -1;
    }
    return i;
}

static int add_pool(bq_model *m, const char *name, bq_op_kind kind, int in, int kh, int kw,
                    int sh, int sw, int pt, int pl, int pb, int pr) {
    int i = new_node(m, name, kind, in, -1);
    if (i < 0) return -1;
    bq_node *n = &m->nodes[i];
    int hout = (n->h + pt + pb - kh) / sh + 1, wout = (n->w + pl + pr - kw) / sw + 1;
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || hout <= 0 || wout <= 0) {
        bq_seterr(m->err, sizeof(m->err), "pool '%s': impossible geometry", name);
        m->n_nodes--;
        return -1;
    }
    n->kh = kh; n->kw = kw; n->stride_h = sh; n->stride_w = sw;
    n->pad_t = pt; n->pad_l = pl; n->pad_b = pb; n->pad_r = pr;
    n->h = hout; n->w = wout;
    return i;
}

int bq_add_maxpool(bq_model *m, const char *name, int in, int kh, int kw, int stride_h,
                   int stride_w, int pad_t, int pad_l, int pad_b, int pad_r) {
    return add_pool(m, name, BQ_OP_MAXPOOL, in, kh, kw, stride_h, stride_w, pad_t, pad_l, pad_b,
                    pad_r);
}

int bq_add_avgpool(bq_model *m, const char *name, int in, int kh, int kw, int stride_h,
                   int stride_w, int pad_t, int pad_l, int pad_b, int pad_r,
                   int count_include_pad) {
    int i = add_pool(m, name, BQ_OP_AVGPOOL, in, kh, kw, stride_h, stride_w, pad_t, pad_l, pad_b,
                     pad_r);
    if (i >= 0) m->nodes[i].count_include_pad = count_include_pad;
    return i;
}

int bq_add_gap(bq_model *m, const char *name, int in) {
    int i = new_node(m, name, BQ_OP_GAP, in, -1);
    if (i < 0) return -1;
    m->nodes[i].h = 1; m->nodes[i].w = 1;
    return i;
}

int bq_add_flatten(bq_model *m, const char *name, int in) {
    int i = new_node(m, name, BQ_OP_FLATTEN, in, -1);
    if (i < 0) return -1;
    bq_node *n = &m->nodes[i];
    n->c = n->c * n->h * n->w; n->h = 1; n->w = 1;
    return i;
}

void bq_block_begin(bq_model *m, const char *name, int input) {
    if (grow((void **)&m->blocks, &m->cap_blocks, m->n_blocks, sizeof(bq_block))) {
        m->oom = 1;   /* void: finalize reports it */
        return;
    }
    bq_block *b = &m->blocks[m->n_blocks];
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->input = input;
    b->first = m->n_nodes;
    m->open_block = m->n_blocks++;
}

void bq_block_end(bq_model *m) {
    if (m->open_block < 0) return;
    bq_block *b = &m->blocks[m->open_block];
    b->last = m->n_nodes - 1;
    b->has_residual = 0;
    for (int i = b->first; i <= b->last; i++)
        if (m->nodes[i].kind == BQ_OP_ADD) b->has_residual = 1;
    m->open_block = -1;
}

int bq_model_finalize(bq_model *m, uint64_t seed) {
    if (m->oom) { bq_seterr(m->err, sizeof(m->err), "out of memory"); return -1; }
    free(m->arena);
    m->arena = calloc(m->arena_count ? m->arena_count : 1, sizeof(float));
    if (!m->arena) return -1;
    bq_rng rng;
    bq_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *n = &m->nodes[i];
        if (n->p_weight >= 0) {
            /* Kaiming-normal for ReLU networks: std = sqrt(2 / fan_in). */
            const bq_param *p = &m->params[n->p_weight];
            size_t fan_in = p->count / (size_t)p->shape[0];
            float std = sqrtf(2.0f / (float)fan_in);
            float *w = bq_param_data(m, n->p_weight);
            for (size_t k = 0; k < p->count; k++) w[k] = std * bq_rng_normal(&rng);
        }
        if (n->p_gamma >= 0) {
            float *g = bq_param_data(m, n->p_gamma), *v = bq_param_data(m, n->p_rvar);
            for (int c = 0; c < n->c; c++) { g[c] = 1.0f; v[c] = 1.0f; }
        }
    }
    return 0;
}

int bq_find_node(const bq_model *m, const char *name) {
    for (int i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0) return i;
    return -1;
}

size_t bq_model_num_params(const bq_model *m) {
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        if (!m->params[i].is_buffer) n += m->params[i].count;
    return n;
}

/* ---------------------------------------------------------------- validation
 * Everything a loaded model's consumers index or divide by is checked here, once, so that the
 * executor, the quantizer and the printers can trust the structure (docs/reliability.md). */

/* Expected element count of a parameter slot of node n (with input shape in), 0 = slot unused. */
static size_t param_need(const bq_node *n, const bq_node *in, int slot) {
    switch (n->kind) {
    case BQ_OP_CONV:
        if (slot == 0) return (size_t)n->c * (size_t)(in->c / n->groups) * (size_t)n->kh * (size_t)n->kw;
        return slot == 1 ? (size_t)n->c : 0;
    case BQ_OP_LINEAR:
        if (slot == 0) return (size_t)n->c * bq_node_size(in);
        return slot == 1 ? (size_t)n->c : 0;
    case BQ_OP_BN: return slot >= 2 ? (size_t)n->c : 0;
    default: return 0;
    }
}

/* Parameter table: shapes positive, count = product, inside the arena. */
static int validate_params(const bq_model *m, char *err, size_t errlen) {
    for (int p = 0; p < m->n_params; p++) {
        const bq_param *pr = &m->params[p];
        size_t prod = 1;
        if (pr->ndim < 1 || pr->ndim > 4) {
            bq_seterr(err, errlen, "parameter '%s': %d dimensions, expected 1..4", pr->name, pr->ndim);
            return -1;
        }
        for (int k = 0; k < pr->ndim; k++) {
            if (pr->shape[k] < 1 || pr->shape[k] > BQ_MAX_CHANNELS * 16) {
                bq_seterr(err, errlen, "parameter '%s': dimension %d is %d, expected 1..%d",
                          pr->name, k, pr->shape[k], BQ_MAX_CHANNELS * 16);
                return -1;
            }
            prod *= (size_t)pr->shape[k];
        }
        if (prod != pr->count || pr->count > m->arena_count || pr->offset > m->arena_count - pr->count) {
            bq_seterr(err, errlen, "parameter '%s': %zu values at offset %zu do not fit its shape or "
                      "the %zu values of parameter data", pr->name, pr->count, pr->offset,
                      m->arena_count);
            return -1;
        }
    }
    return 0;
}

/* Input shape, class count and normalisation constants (graph.h caps). */
static int validate_header(const bq_model *m, char *err, size_t errlen) {
    if (m->in_c < 1 || m->in_c > BQ_MAX_IN_C || m->in_h < 1 || m->in_h > BQ_MAX_IN_HW ||
        m->in_w < 1 || m->in_w > BQ_MAX_IN_HW) {
        bq_seterr(err, errlen, "input shape %dx%dx%d is outside 1..%d channels x 1..%d x 1..%d pixels",
                  m->in_c, m->in_h, m->in_w, BQ_MAX_IN_C, BQ_MAX_IN_HW, BQ_MAX_IN_HW);
        return -1;
    }
    if (m->num_classes < 1 || m->num_classes > BQ_MAX_CLASSES) {
        bq_seterr(err, errlen, "%d classes, expected 1..%d", m->num_classes, BQ_MAX_CLASSES);
        return -1;
    }
    if (!isfinite(m->in_mean) || !isfinite(m->in_std) || !(m->in_std > 0.0f)) {
        bq_seterr(err, errlen, "input normalisation mean %g std %g: both must be finite and std > 0",
                  (double)m->in_mean, (double)m->in_std);
        return -1;
    }
    if (m->n_nodes < 2 || m->nodes[0].kind != BQ_OP_INPUT) {
        bq_seterr(err, errlen, "model has no input node or no layers");
        return -1;
    }
    return 0;
}

/* Kind, input indices and the block index of node i. */
static int validate_links(const bq_model *m, int i, char *err, size_t errlen) {
    const bq_node *n = &m->nodes[i];
    if (n->kind < 0 || n->kind >= BQ_OP_COUNT || (n->kind == BQ_OP_INPUT) != (i == 0)) {
        bq_seterr(err, errlen, "node %d '%s': op kind %d is not allowed here (0 = input only at "
                  "node 0, 1..%d layers)", i, n->name, (int)n->kind, BQ_OP_COUNT - 1);
        return -1;
    }
    int need = i == 0 ? 0 : n->kind == BQ_OP_ADD ? 2 : 1;
    for (int j = 0; j < 2; j++) {
        int ok = j < need ? n->in[j] >= 0 && n->in[j] < i : n->in[j] == -1;
        if (!ok) {
            bq_seterr(err, errlen, "node %d '%s': input %d is %d, expected %s", i, n->name, j,
                      n->in[j], j < need ? "an earlier node" : "-1 (unused)");
            return -1;
        }
    }
    if (n->block < -1 || n->block >= m->n_blocks) {
        bq_seterr(err, errlen, "node %d '%s': block index %d is outside -1..%d", i, n->name, n->block,
                  m->n_blocks - 1);
        return -1;
    }
    return 0;
}

/* Geometry of a conv / pool node against its input; sets *h, *w to the output size. */
static int window_ok(const bq_node *n, const bq_node *in, int *h, int *w) {
    /* kernel <= BQ_MAX_IN_HW and pad < kernel first: then no sum below overflows an int */
    if (n->kh > BQ_MAX_IN_HW || n->kw > BQ_MAX_IN_HW) return 0;
    int pads[4] = {n->pad_t, n->pad_l, n->pad_b, n->pad_r};
    for (int k = 0; k < 4; k++)
        if (pads[k] < 0 || pads[k] >= (k % 2 ? n->kw : n->kh)) return 0;   /* pad < kernel */
    if (n->kh < 1 || n->kw < 1 || n->stride_h < 1 || n->stride_w < 1 ||
        n->kh > in->h + n->pad_t + n->pad_b || n->kw > in->w + n->pad_l + n->pad_r)
        return 0;
    *h = (in->h + n->pad_t + n->pad_b - n->kh) / n->stride_h + 1;
    *w = (in->w + n->pad_l + n->pad_r - n->kw) / n->stride_w + 1;
    return 1;
}

/* Output shape of node i recomputed from its input (c, h, w); 0, or -1 + err. */
static int validate_shape(const bq_model *m, int i, char *err, size_t errlen) {
    const bq_node *n = &m->nodes[i], *in = i ? &m->nodes[n->in[0]] : NULL;
    int c = n->c, h = n->h, w = n->w, geo = 1;
    switch (n->kind) {
    case BQ_OP_INPUT: c = m->in_c; h = m->in_h; w = m->in_w; break;
    case BQ_OP_CONV:
        geo = n->groups >= 1 && in->c % n->groups == 0 && n->c % n->groups == 0 &&
              window_ok(n, in, &h, &w);
        break;
    case BQ_OP_MAXPOOL: case BQ_OP_AVGPOOL:
        c = in->c;
        geo = (unsigned)n->count_include_pad <= 1 && window_ok(n, in, &h, &w);
        break;
    case BQ_OP_LINEAR: h = w = 1; break;
    case BQ_OP_GAP: c = in->c; h = w = 1; break;
    case BQ_OP_FLATTEN: c = (int)bq_node_size(in); h = w = 1; break;
    case BQ_OP_ADD: {
        const bq_node *b = &m->nodes[n->in[1]];
        geo = b->c == in->c && b->h == in->h && b->w == in->w;
        c = in->c; h = in->h; w = in->w;
        break;
    }
    default: c = in->c; h = in->h; w = in->w; break;   /* bn and activations keep the shape */
    }
    if (!geo) {
        bq_seterr(err, errlen, "node %d '%s' (%s): impossible geometry for input %dx%dx%d (kernel "
                  "%dx%d, stride %dx%d, pads %d,%d,%d,%d, groups %d, out channels %d)", i, n->name,
                  bq_op_name(n->kind), in ? in->c : 0, in ? in->h : 0, in ? in->w : 0, n->kh, n->kw,
                  n->stride_h, n->stride_w, n->pad_t, n->pad_l, n->pad_b, n->pad_r, n->groups, n->c);
        return -1;
    }
    if (n->c != c || n->h != h || n->w != w || c < 1 || c > BQ_MAX_CHANNELS ||
        bq_node_size(n) > BQ_MAX_NODE_FLOATS) {
        bq_seterr(err, errlen, "node %d '%s' (%s): output shape %dx%dx%d, expected %dx%dx%d "
                  "(at most %d channels, %d values)", i, n->name, bq_op_name(n->kind), n->c, n->h,
                  n->w, c, h, w, BQ_MAX_CHANNELS, BQ_MAX_NODE_FLOATS);
        return -1;
    }
    return 0;
}

/* Parameter slots of node i: present exactly where the op needs them, with the size it needs;
 * BN constants usable (eps > 0, running variance >= 0), clamp bounds ordered. */
static int validate_node_params(const bq_model *m, int i, char *err, size_t errlen) {
    const bq_node *n = &m->nodes[i], *in = i ? &m->nodes[n->in[0]] : n;
    static const char *const SLOT[6] = {"weight", "bias", "gamma", "beta", "running_mean", "running_var"};
    const int pidx[6] = {n->p_weight, n->p_bias, n->p_gamma, n->p_beta, n->p_rmean, n->p_rvar};
    for (int j = 0; j < 6; j++) {
        size_t need = param_need(n, in, j);
        int optional = j == 1;   /* conv/linear bias */
        int p = pidx[j];
        if (p < -1 || p >= m->n_params || (p < 0 && need && !optional) || (p >= 0 && !need) ||
            (p >= 0 && m->params[p].count != need)) {
            bq_seterr(err, errlen, "node %d '%s' (%s): %s parameter (index %d, %zu values) does not "
                      "match the layer (needs %zu values)", i, n->name, bq_op_name(n->kind), SLOT[j],
                      p, p >= 0 && p < m->n_params ? m->params[p].count : (size_t)0, need);
            return -1;
        }
    }
    if (n->kind == BQ_OP_BN) {
        const float *var = bq_param_data(m, n->p_rvar);
        int bad = !(n->bn_eps > 0.0f) || !isfinite(n->bn_eps);
        for (int k = 0; k < n->c && !bad; k++) bad = !(var[k] >= 0.0f);
        if (bad) {
            bq_seterr(err, errlen, "node %d '%s' (bn): eps %g must be finite > 0 and the running "
                      "variance >= 0", i, n->name, (double)n->bn_eps);
            return -1;
        }
    }
    if ((n->kind == BQ_OP_CLAMP || n->kind == BQ_OP_RELU || n->kind == BQ_OP_RELU6) &&
        (isnan(n->lo) || isnan(n->hi) || n->lo > n->hi)) {
        bq_seterr(err, errlen, "node %d '%s' (%s): bounds [%g, %g] are not an interval", i, n->name,
                  bq_op_name(n->kind), (double)n->lo, (double)n->hi);
        return -1;
    }
    return 0;
}

/* Blocks: node ranges inside the graph, fed by an earlier node, and agreeing with node.block. */
static int validate_blocks(const bq_model *m, char *err, size_t errlen) {
    for (int b = 0; b < m->n_blocks; b++) {
        const bq_block *bl = &m->blocks[b];
        if (bl->first < 1 || bl->last < bl->first || bl->last >= m->n_nodes || bl->input < 0 ||
            bl->input >= bl->first || (unsigned)bl->has_residual > 1) {
            bq_seterr(err, errlen, "block %d '%s': node range %d..%d fed by %d is not inside the "
                      "%d nodes", b, bl->name, bl->first, bl->last, bl->input, m->n_nodes);
            return -1;
        }
    }
    for (int i = 0; i < m->n_nodes; i++) {
        int b = m->nodes[i].block;
        int inside = b >= 0 && i >= m->blocks[b].first && i <= m->blocks[b].last;
        if (b >= 0 && !inside) {
            bq_seterr(err, errlen, "node %d '%s': says block %d, outside that block's nodes %d..%d",
                      i, m->nodes[i].name, b, m->blocks[b].first, m->blocks[b].last);
            return -1;
        }
    }
    for (int b = 0; b < m->n_blocks; b++)
        for (int i = m->blocks[b].first; i <= m->blocks[b].last; i++)
            if (m->nodes[i].block != b) {
                bq_seterr(err, errlen, "block %d '%s': node %d inside its range says block %d", b,
                          m->blocks[b].name, i, m->nodes[i].block);
                return -1;
            }
    return 0;
}

int bq_model_validate(const bq_model *m, char *err, size_t errlen) {
    if (validate_header(m, err, errlen) || validate_params(m, err, errlen)) return -1;
    for (int i = 0; i < m->n_nodes; i++)
        if (validate_links(m, i, err, errlen) || validate_shape(m, i, err, errlen) ||
            validate_node_params(m, i, err, errlen))
            return -1;
    if (validate_blocks(m, err, errlen)) return -1;
    const bq_node *out = &m->nodes[bq_model_output(m)];
    if (bq_node_size(out) != (size_t)m->num_classes) {
        bq_seterr(err, errlen, "the output node '%s' gives %dx%dx%d values, the model declares %d "
                  "classes", out->name, out->c, out->h, out->w, m->num_classes);
        return -1;
    }
    for (size_t k = 0; k < m->arena_count; k++)
        if (!isfinite(m->arena[k])) {
            const char *owner = "(no parameter)";
            for (int p = 0; p < m->n_params; p++)
                if (k >= m->params[p].offset && k - m->params[p].offset < m->params[p].count)
                    owner = m->params[p].name;
            bq_seterr(err, errlen, "parameter data value %zu (in '%s') is %s; weights and statistics "
                      "must be finite", k, owner,
                      isnan(m->arena[k]) ? "NaN" : "infinite");
            return -1;
        }
    return 0;
}

/* Remap node indices after deleting nodes: map[i] is the new index of old node i. */
static int remap(const int *map, int i) { return i < 0 ? -1 : map[i]; }

int bq_model_fold_bn(bq_model *dst, const bq_model *src, char *err, size_t errlen) {
    /* Count the consumers of each node: folding is only valid when the BN is the conv's sole user. */
    int *users = calloc((size_t)src->n_nodes, sizeof(int));
    int *map = malloc(sizeof(int) * (size_t)src->n_nodes);
    if (!users || !map) { free(users); free(map); bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int i = 0; i < src->n_nodes; i++)
        for (int j = 0; j < 2; j++)
            if (src->nodes[i].in[j] >= 0) users[src->nodes[i].in[j]]++;

    bq_model_init(dst, src->arch, src->in_c, src->in_h, src->in_w, src->num_classes);
    dst->in_mean = src->in_mean; dst->in_std = src->in_std;
    int rc = -1;
    for (int i = 0; i < src->n_nodes; i++) {
        const bq_node *n = &src->nodes[i];
        if (n->kind == BQ_OP_BN) {
            const bq_node *p = &src->nodes[n->in[0]];
            if ((p->kind != BQ_OP_CONV && p->kind != BQ_OP_LINEAR) || users[n->in[0]] != 1) {
                bq_seterr(err, errlen, "bn '%s' does not directly follow a conv/linear it alone uses",
                          n->name);
                goto done;
            }
            map[i] = map[n->in[0]];   /* consumers of the BN now read the folded conv */
            continue;
        }
        int in0 = remap(map, n->in[0]), in1 = remap(map, n->in[1]);
        if (grow((void **)&dst->nodes, &dst->cap_nodes, dst->n_nodes, sizeof(bq_node))) goto oom;
        bq_node *d = &dst->nodes[dst->n_nodes];
        *d = *n;
        d->in[0] = in0; d->in[1] = in1;
        d->p_weight = d->p_bias = d->p_gamma = d->p_beta = d->p_rmean = d->p_rvar = -1;
        if (n->kind == BQ_OP_CONV || n->kind == BQ_OP_LINEAR) {
            const bq_param *wp = &src->params[n->p_weight];
            d->p_weight = new_param(dst, n->name, "weight", wp->ndim, wp->shape, 0, 0);
            int bs[1] = {n->c};
            d->p_bias = new_param(dst, n->name, "bias", 1, bs, 1, 0);
            if (d->p_weight < 0 || d->p_bias < 0) goto oom;
        }
        map[i] = dst->n_nodes++;
    }
    dst->arena = calloc(dst->arena_count ? dst->arena_count : 1, sizeof(float));
    if (!dst->arena) goto oom;
    /* Copy weights, then fold each BN into its producer. */
    for (int i = 0; i < src->n_nodes; i++) {
        const bq_node *n = &src->nodes[i];
        if (n->kind != BQ_OP_CONV && n->kind != BQ_OP_LINEAR) continue;
        const bq_node *d = &dst->nodes[map[i]];
        const bq_param *wp = &src->params[n->p_weight];
        memcpy(bq_param_data(dst, d->p_weight), bq_param_data(src, n->p_weight),
               sizeof(float) * wp->count);
        if (n->p_bias >= 0)
            memcpy(bq_param_data(dst, d->p_bias), bq_param_data(src, n->p_bias),
                   sizeof(float) * (size_t)n->c);
    }
    for (int i = 0; i < src->n_nodes; i++) {
        const bq_node *n = &src->nodes[i];
        if (n->kind != BQ_OP_BN) continue;
        const bq_node *d = &dst->nodes[map[i]];
        const bq_param *wp = &dst->params[d->p_weight];
        bq_batchnorm_fold(bq_param_data(dst, d->p_weight), bq_param_data(dst, d->p_bias),
                          bq_param_data(src, n->p_gamma), bq_param_data(src, n->p_beta),
                          bq_param_data(src, n->p_rmean), bq_param_data(src, n->p_rvar), d->c,
                          (int)(wp->count / (size_t)d->c), n->bn_eps);
    }
    for (int b = 0; b < src->n_blocks; b++) {
        if (grow((void **)&dst->blocks, &dst->cap_blocks, dst->n_blocks, sizeof(bq_block))) goto oom;
        bq_block bl = src->blocks[b];
        bl.input = map[bl.input];
        /* first: the first surviving node at or after the old first (BN never starts a block) */
        bl.first = map[bl.first];
        bl.last = map[bl.last];
        dst->blocks[dst->n_blocks++] = bl;
    }
    rc = 0;
    goto done;
oom:
    bq_seterr(err, errlen, "out of memory");
done:
    if (rc) bq_model_free(dst);
    free(users); free(map);
    return rc;
}

void bq_model_print(const bq_model *m, void *file) {
    FILE *f = file;
    fprintf(f, "model: arch %s, input %dx%dx%d, %d classes, normalisation mean %.4f std %.4f\n",
            m->arch, m->in_c, m->in_h, m->in_w, m->num_classes, m->in_mean, m->in_std);
    fprintf(f, "%-4s %-28s %-8s %-10s %-16s %s\n", "#", "node", "op", "block", "output", "inputs");
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *n = &m->nodes[i];
        char shape[32], ins[32], geo[48] = "";
        snprintf(shape, sizeof(shape), "%dx%dx%d", n->c, n->h, n->w);
        if (n->in[1] >= 0) snprintf(ins, sizeof(ins), "%d,%d", n->in[0], n->in[1]);
        else snprintf(ins, sizeof(ins), "%d", n->in[0]);
        if (n->kind == BQ_OP_CONV)
            snprintf(geo, sizeof(geo), "  k%dx%d s%d p%d g%d", n->kh, n->kw, n->stride_h, n->pad_t,
                     n->groups);
        fprintf(f, "%-4d %-28s %-8s %-10s %-16s %s%s\n", i, n->name, bq_op_name(n->kind),
                n->block >= 0 ? m->blocks[n->block].name : "-", shape, ins, geo);
    }
    fprintf(f, "blocks: %d\n", m->n_blocks);
    for (int b = 0; b < m->n_blocks; b++)
        fprintf(f, "  %-10s input %d, nodes %d..%d%s\n", m->blocks[b].name, m->blocks[b].input,
                m->blocks[b].first, m->blocks[b].last,
                m->blocks[b].has_residual ? ", residual" : "");
    fprintf(f, "parameters: %zu\n", bq_model_num_params(m));
}
