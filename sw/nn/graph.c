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
    memcpy(dst->nodes, src->nodes, sizeof(bq_node) * (size_t)src->n_nodes);
    memcpy(dst->params, src->params, sizeof(bq_param) * (size_t)src->n_params);
    memcpy(dst->blocks, src->blocks, sizeof(bq_block) * (size_t)src->n_blocks);
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
    if (grow((void **)&m->params, &m->cap_params, m->n_params, sizeof(bq_param))) return -1;
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
    if (grow((void **)&m->blocks, &m->cap_blocks, m->n_blocks, sizeof(bq_block))) return;
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

int bq_model_validate(const bq_model *m, char *err, size_t errlen) {
    if (m->n_nodes < 2 || m->nodes[0].kind != BQ_OP_INPUT) {
        bq_seterr(err, errlen, "model has no input node or no layers");
        return -1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *n = &m->nodes[i];
        if (n->kind < 0 || n->kind >= BQ_OP_COUNT) {
            bq_seterr(err, errlen, "node %d: unknown op kind %d", i, (int)n->kind);
            return -1;
        }
        for (int j = 0; j < 2; j++)
            if (n->in[j] >= i || n->in[j] < -1) {
                bq_seterr(err, errlen, "node '%s': input %d does not precede it", n->name, n->in[j]);
                return -1;
            }
        if (n->kind != BQ_OP_INPUT && n->in[0] < 0) {
            bq_seterr(err, errlen, "node '%s': missing input", n->name);
            return -1;
        }
        if (n->kind == BQ_OP_ADD && n->in[1] < 0) {
            bq_seterr(err, errlen, "node '%s': add needs two inputs", n->name);
            return -1;
        }
        if (n->c <= 0 || n->h <= 0 || n->w <= 0) {
            bq_seterr(err, errlen, "node '%s': non-positive output shape", n->name);
            return -1;
        }
        int pidx[6] = {n->p_weight, n->p_bias, n->p_gamma, n->p_beta, n->p_rmean, n->p_rvar};
        for (int j = 0; j < 6; j++) {
            if (pidx[j] < -1 || pidx[j] >= m->n_params) {
                bq_seterr(err, errlen, "node '%s': parameter index out of range", n->name);
                return -1;
            }
            if (pidx[j] >= 0 && m->params[pidx[j]].offset + m->params[pidx[j]].count > m->arena_count) {
                bq_seterr(err, errlen, "node '%s': parameter outside the parameter data", n->name);
                return -1;
            }
        }
        if ((n->kind == BQ_OP_CONV || n->kind == BQ_OP_LINEAR) && n->p_weight < 0) {
            bq_seterr(err, errlen, "node '%s': %s without weight", n->name, bq_op_name(n->kind));
            return -1;
        }
        if (n->kind == BQ_OP_BN && (n->p_gamma < 0 || n->p_beta < 0 || n->p_rmean < 0 || n->p_rvar < 0)) {
            bq_seterr(err, errlen, "node '%s': bn without its four parameters", n->name);
            return -1;
        }
    }
    for (int b = 0; b < m->n_blocks; b++) {
        const bq_block *bl = &m->blocks[b];
        if (bl->first < 1 || bl->last < bl->first || bl->last >= m->n_nodes || bl->input < 0 ||
            bl->input >= bl->first) {
            bq_seterr(err, errlen, "block '%s': bad node range", bl->name);
            return -1;
        }
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
