/*
 * qmodel.h — a quantized model: the BN-folded float model plus every quantizer of the numerics
 * contract (docs/numerics.md), the integer weight codes, and its file format (.bqq, documented in
 * docs/formats.md).
 *
 * Structure (fres20 after BN folding; every conv/linear is a "layer", every activation quantizer an
 * "aq" attached to the node whose output it quantizes):
 *
 *   input ─aq0(8b)─ stem ─ stem_relu ─aq1(8b)─┬─ conv1 ─ conv1_relu ─aq─ conv2 ──┐
 *                                             └─ (down ─aq(8b, shortcut)) ───────add ─ relu ─aq─ ...
 *   ... last block relu ─aq(8b: it is the classifier's input)─ gap (same grid) ─ fc (RAW32 logits)
 *
 *   - a layer's output is quantized by exactly one aq, at the END of its output chain: the layer
 *     itself, or the ReLU/ReLU6/clamp that alone consumes it, or — for the conv that ends a residual
 *     branch — the ADD (and the activation after it). The branch-ending conv has no quantizer of its
 *     own: the add happens before the one rounding (numerics §3). Its `res_node` is the shortcut.
 *   - the branch of an ADD is the operand that is a conv/linear; when both are, the one that is NOT
 *     the block input, then the one NOT reading the block input directly (the downsample conv reads
 *     it), then the one that has no other consumer, else in[0] (numerics §7). An ADD that no layer
 *     can absorb is an error: the accelerator has no stand-alone add.
 *   - GAP / max pool / flatten keep the grid of their input: node_aq[] of such a node is the aq of
 *     its input (the GAP rounds its mean half up onto that grid, numerics §5).
 *   - the last layer (the classifier) has no output quantizer: RAW32 int32 accumulators.
 *   - "activation bit-widths belong to activation quantizers": a layer's abits IS the bits of its
 *     input quantizer (layers[l].aq_in). A bits.yaml entry `name: {wbits: W, abits: A}` sets the
 *     layer's weight bits and its input quantizer's bits; two consumers of one quantizer that ask for
 *     different abits are an error.
 *   - an aq with bits == 0 is off (float activations, the W?A32 settings); the integer path and the
 *     export refuse such models.
 *
 * Example:
 *   bq_qmodel q; char err[256];
 *   bq_qmodel_init(&q, &fp_model, &opts, err, sizeof err);  // folds BN, places quantizers, sets bits
 *   bq_qmodel_init_weights(&q, BQ_RANGE_P);                 // MSE range search + RTN codes
 *   ... run calibration through bq_fq (fakequant.h) and bq_qmodel_init_act() ...
 *   bq_qmodel_save(&q, "out.bqq", err, sizeof err);
 */
#ifndef BQ_QMODEL_H
#define BQ_QMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/graph.h"

#define BQ_QMODEL_MAGIC "BQQUANT"   /* 8 bytes with the NUL */
#define BQ_QMODEL_VERSION 1u

/* Role of an activation quantizer (reports, bit rules). */
typedef enum {
    BQ_AQ_INPUT = 0,     /* the network input (8-bit) */
    BQ_AQ_ACT,           /* output of a conv (+activation) inside the network */
    BQ_AQ_BLOCK_OUT,     /* output of a residual block (after the add / its activation) */
    BQ_AQ_SHORTCUT,      /* output of a downsample (projection shortcut) conv: 8-bit */
    BQ_AQ_FIRST_OUT,     /* output of the first layer: 8-bit when first_last_8bit */
    BQ_AQ_LAST_IN        /* feeds the classifier (through GAP): 8-bit when first_last_8bit */
} bq_aq_role;

/* One per-tensor activation quantizer. */
typedef struct {
    int node;            /* node whose (post-activation) output it quantizes */
    int bits;            /* 2..8, or 0 = off (float) */
    float scale;         /* s > 0 */
    int32_t zero;        /* z in [0, 2^bits-1] */
    bq_aq_role role;
    int initialized;     /* range set (by calibration or loaded) */
} bq_aquant;

/* One quantized conv / linear layer. */
typedef struct {
    int node;            /* the conv/linear node in qmodel.model */
    int cout, per_out;   /* weight tensor viewed as (cout, per_out = Cin/g*Kh*Kw) */
    int wbits;           /* 2..8 */
    float *scale;        /* [cout] s_w[c] > 0 */
    int32_t *zero;       /* [cout] z_w[c] in [0, 2^wbits-1] */
    uint8_t *codes;      /* [cout*per_out] q_w, same element order as the float weight */
    int aq_in;           /* quantizer of its input (its abits); index into qmodel.aq */
    int out_node;        /* the end of its output chain (where its output stage writes) */
    int aq_out;          /* quantizer of its output, -1 for RAW32 */
    int out_act;         /* BQ_OUTACT_* applied in the output stage (quant.h) */
    float act_lo, act_hi;/* clamp bounds of BQ_OUTACT_CLAMP (ReLU: 0,+inf; ReLU6: 0,6) */
    int res_node;        /* shortcut operand node of a branch-ending layer, -1 otherwise */
    int aq_res;          /* quantizer of the shortcut operand, -1 */
    int add_node;        /* the ADD node absorbed into the output stage, -1 */
    int raw32;           /* classifier: writes acc0 as int32 */
    int first, last;     /* first / last layer of the network (8-bit rules) */
} bq_qlayer;

/* How the bit allocation is made (from a recipe). */
typedef struct {
    int wbits;           /* default weight bits, 2..8 */
    int abits;           /* default activation bits, 2..8, or BQ_ABITS_FLOAT (32) = all off */
    int first_last_8bit; /* first layer weights+output, last layer weights+input at 8 bits */
} bq_qmodel_opts;

typedef struct {
    bq_model model;      /* BN-folded float model (biases, float weights, graph) */
    uint64_t src_hash;   /* bq_model_hash() of the unfolded source model */
    int n_layers;
    bq_qlayer *layers;   /* in node order */
    int n_aq;
    bq_aquant *aq;       /* in node order; aq[0] is the network input */
    int *node_aq;        /* [n_nodes] quantizer applied at this node's output (GAP/pool/flatten:
                            the one of their input), -1 none */
    int *node_layer;     /* [n_nodes] layer index of a conv/linear node, -1 */
    bq_qmodel_opts opts;
    char method[16];     /* "rtn", "brecq", ... (informational) */
    uint64_t recipe_hash;/* hash of the recipe text that produced it (0 if unknown) */
} bq_qmodel;

/* Fold BN of `fp` (bq_model_fold_bn), find layers and quantizer placements, set bits from opts.
 * Scales are not initialised yet (weights: bq_qmodel_init_weights; activations: calibration).
 * Returns 0, or -1 with err (unsupported structure, bits out of range). */
int  bq_qmodel_init(bq_qmodel *q, const bq_model *fp, const bq_qmodel_opts *opts, char *err,
                    size_t errlen);
void bq_qmodel_free(bq_qmodel *q);

/* Per-channel MSE range search (Lp p) for every layer's weights, then round-to-nearest codes.
 * Call again after changing a layer's wbits. */
void bq_qmodel_init_weights(bq_qmodel *q, float p);
/* Re-derive the RTN codes of layer l from its float weights and current scale/zero. */
void bq_qmodel_quantize_layer(bq_qmodel *q, int l);

/* Apply a bits.yaml file (mapping layer name -> {wbits: W, abits: A}, both optional). Errors
 * `file:line:col: ...` for unknown layer names, bits outside 2..8, conflicting abits of one shared
 * quantizer. Call before initialising scales (changed weight bits need bq_qmodel_init_weights). */
int  bq_qmodel_apply_bits(bq_qmodel *q, const char *path, char *err, size_t errlen);
/* Same on in-memory YAML text (fname only names it in messages). */
int  bq_qmodel_apply_bits_text(bq_qmodel *q, const char *text, size_t len, const char *fname,
                               char *err, size_t errlen);

/* Number of enabled activation quantizers (bits > 0). 0 = float activations. */
int  bq_qmodel_act_enabled(const bq_qmodel *q);
/* Layer index by node name, or -1. */
int  bq_qmodel_find_layer(const bq_qmodel *q, const char *name);
/* Check everything the integer path needs: all quantizers on and initialised, scales > 0,
 * zero points in range, biases and accumulators fit int32 for every input (numerics §2) and the
 * requant multipliers exist. Returns 0 or -1 with "layer 'x': what; fix". */
int  bq_qmodel_check_integer(const bq_qmodel *q, char *err, size_t errlen);

/* Stable content hash (bits, scales, zero points, codes, folded model). */
uint64_t bq_qmodel_hash(const bq_qmodel *q);

/* .bqq file: magic, version, folded model (model_io serialisation), source hash, layers (bits,
 * scales, zero points, codes), quantizers, CRC-32 trailer. Atomic write. Load checks everything
 * and names the file and the field on error. */
int bq_qmodel_save(const bq_qmodel *q, const char *path, char *err, size_t errlen);
int bq_qmodel_load(bq_qmodel *q, const char *path, char *err, size_t errlen);

/* Print layers (bits, in/out quantizers) and quantizers (bits, s, z) to a FILE*. */
void bq_qmodel_print(const bq_qmodel *q, void *file);

#endif
