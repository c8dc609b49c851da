/*
 * graph.h — a model is a topologically ordered list of named nodes with named parameters, in which
 * residual blocks are explicit.
 *
 * Every node produces one tensor of shape (N, c, h, w) per batch (linear/flatten/gap: h = w = 1).
 * Node inputs always refer to earlier nodes, so running the list in order is a valid schedule.
 * A block is a contiguous node range [first, last] whose input is node `input` and whose output is
 * node `last`: the reconstruction works block by block (BRECQ). Layers outside blocks (stem, head,
 * classifier) have block = -1.
 *
 * Example: building conv -> bn -> relu by hand
 *   bq_model m; bq_model_init(&m, "toy", 1, 28, 28, 10);
 *   int x = bq_add_input(&m);
 *   int c = bq_add_conv(&m, "conv", x, 16, 3, 1, 1, 1, 0);
 *   int b = bq_add_bn(&m, "bn", c);
 *   bq_add_act(&m, "relu", BQ_OP_RELU, b);
 *   bq_model_finalize(&m);   // allocates the parameter arena and initialises parameters
 */
#ifndef BQ_GRAPH_H
#define BQ_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define BQ_NAME_LEN 48

typedef enum {
    BQ_OP_INPUT = 0,
    BQ_OP_CONV,      /* weight (Cout, Cin/g, Kh, Kw), optional bias (Cout) */
    BQ_OP_LINEAR,    /* weight (Cout, Cin), optional bias (Cout); input flattened */
    BQ_OP_BN,        /* gamma, beta, running mean, running var (C) */
    BQ_OP_RELU,
    BQ_OP_RELU6,
    BQ_OP_CLAMP,     /* [lo, hi] */
    BQ_OP_ADD,       /* in[0] + in[1] */
    BQ_OP_MAXPOOL,
    BQ_OP_AVGPOOL,
    BQ_OP_GAP,       /* global average pool -> (C, 1, 1) */
    BQ_OP_FLATTEN,   /* (C,H,W) -> (C*H*W, 1, 1) */
    BQ_OP_COUNT
} bq_op_kind;

const char *bq_op_name(bq_op_kind k);

typedef struct {
    char name[BQ_NAME_LEN];
    bq_op_kind kind;
    int in[2];                 /* producer node indices; -1 when unused */
    int block;                 /* residual block index, -1 outside blocks */
    int c, h, w;               /* output shape of one image */
    /* conv / pool geometry (kh, kw also used by pools) */
    int kh, kw, stride_h, stride_w, pad_t, pad_l, pad_b, pad_r, groups;
    int count_include_pad;     /* avgpool */
    float lo, hi;              /* clamp bounds (relu6: 0, 6) */
    float bn_eps;
    /* parameter indices into bq_model.params; -1 when absent */
    int p_weight, p_bias, p_gamma, p_beta, p_rmean, p_rvar;
} bq_node;

typedef struct {
    char name[BQ_NAME_LEN];
    int ndim;
    int shape[4];
    size_t count;
    size_t offset;             /* float offset into the parameter arena */
    int no_decay;              /* biases and BN affine parameters are not weight-decayed */
    int is_buffer;             /* running statistics: saved, but not trained */
} bq_param;

typedef struct {
    char name[BQ_NAME_LEN];
    int input;                 /* node feeding the block */
    int first, last;           /* node range; `last` is the block output */
    int has_residual;          /* contains an ADD of the branch and the shortcut */
} bq_block;

typedef struct {
    char arch[32];             /* "fres20", "mbv2t", "onnx", ... */
    int in_c, in_h, in_w;
    int num_classes;
    float in_mean, in_std;     /* input normalisation: x = (pixel/255 - mean) / std */
    bq_node *nodes;   int n_nodes,  cap_nodes;
    bq_param *params; int n_params, cap_params;
    bq_block *blocks; int n_blocks, cap_blocks;
    float *arena;     size_t arena_count;   /* all parameters, one allocation */
    int open_block;            /* block being built, -1 when none */
    int oom;                   /* a parameter or block could not be added (out of memory): the
                                  builders that cannot report it mark it, finalize fails */
    char err[256];             /* last builder error (builders return -1) */
} bq_model;

/* Lifecycle. init never fails except on OOM (returns -1). free releases everything. */
int  bq_model_init(bq_model *m, const char *arch, int in_c, int in_h, int in_w, int num_classes);
void bq_model_free(bq_model *m);
/* Deep copy (parameters included). */
int  bq_model_clone(bq_model *dst, const bq_model *src);

/* Builders: return the new node index, or -1 with a message in m->err when shapes do not fit. */
int bq_add_input(bq_model *m);
int bq_add_conv(bq_model *m, const char *name, int in, int cout, int k, int stride, int pad,
                int groups, int bias);
int bq_add_conv_full(bq_model *m, const char *name, int in, int cout, int kh, int kw,
                     int stride_h, int stride_w, int pad_t, int pad_l, int pad_b, int pad_r,
                     int groups, int bias);
int bq_add_linear(bq_model *m, const char *name, int in, int cout, int bias);
int bq_add_bn(bq_model *m, const char *name, int in);
int bq_add_act(bq_model *m, const char *name, bq_op_kind kind, int in); /* RELU / RELU6 */
int bq_add_clamp(bq_model *m, const char *name, int in, float lo, float hi);
int bq_add_add(bq_model *m, const char *name, int a, int b);
int bq_add_maxpool(bq_model *m, const char *name, int in, int kh, int kw, int stride_h,
                   int stride_w, int pad_t, int pad_l, int pad_b, int pad_r);
int bq_add_avgpool(bq_model *m, const char *name, int in, int kh, int kw, int stride_h,
                   int stride_w, int pad_t, int pad_l, int pad_b, int pad_r,
                   int count_include_pad);
int bq_add_gap(bq_model *m, const char *name, int in);
int bq_add_flatten(bq_model *m, const char *name, int in);

/* Blocks: nodes added between begin and end belong to the block (out of memory: m->oom). */
void bq_block_begin(bq_model *m, const char *name, int input);
void bq_block_end(bq_model *m);

/* Allocate the arena for all declared parameters and initialise them deterministically from
 * seed (Kaiming-normal conv/linear weights, zero biases, BN gamma 1 / beta 0, running var 1).
 * Returns 0, -1 on OOM (also an earlier one in a builder, m->oom). */
int bq_model_finalize(bq_model *m, uint64_t seed);

static inline float *bq_param_data(const bq_model *m, int p) {
    return p < 0 ? NULL : m->arena + m->params[p].offset;
}
/* Index of a node by name, or -1. */
int bq_find_node(const bq_model *m, const char *name);
/* Number of trainable parameters (buffers excluded). */
size_t bq_model_num_params(const bq_model *m);
/* Floats of one image's output of node i. */
static inline size_t bq_node_size(const bq_node *n) { return (size_t)n->c * n->h * n->w; }
/* Output node (the logits) = the last node. */
static inline int bq_model_output(const bq_model *m) { return m->n_nodes - 1; }

/* Fold every BN into the conv/linear that feeds it (eval-mode statistics) and remove the BN
 * nodes; conv/linear gain a bias. Block ranges and input indices are renumbered. The result is
 * what quantization works on. Returns 0, or -1 if a BN does not follow a conv/linear that only
 * it consumes (err says which). */
int bq_model_fold_bn(bq_model *dst, const bq_model *src, char *err, size_t errlen);

/* Hard caps of a model the loaders accept (docs/reliability.md): far above every model this
 * project runs, small enough that no size computed from them overflows. */
#define BQ_MAX_IN_C        1024
#define BQ_MAX_IN_HW       4096
#define BQ_MAX_CLASSES     65536       /* imported ONNX node tests have up to 3072 outputs */
#define BQ_MAX_CHANNELS    65536
#define BQ_MAX_NODE_FLOATS (1 << 24)   /* values of one node's output for one image */

/* Validate everything consumers rely on: input shape and class count within the caps, finite
 * normalisation with std > 0, node kinds, inputs precede consumers, every node's shape recomputed
 * from its input and geometry (groups divide channels, strides >= 1, 1 <= kernel <= padded input,
 * 0 <= pad < kernel), parameters present exactly where needed and of the needed size, blocks in
 * range and agreeing with node.block, output size = class count, all parameter data finite.
 * 0 or -1 + one-line err (without a file name: the caller adds it). */
int bq_model_validate(const bq_model *m, char *err, size_t errlen);

/* Print layers, blocks and the parameter count (for `brecq info`). */
void bq_model_print(const bq_model *m, void *file /* FILE* */);

/* Built-in architectures: "fres20", "mbv2t". Returns 0, -1 when the name is unknown, -2 out of
 * memory. */
int bq_arch_build(bq_model *m, const char *arch, uint64_t seed);
/* Comma-separated list of built-in architecture names, for messages. */
const char *bq_arch_list(void);

#endif
