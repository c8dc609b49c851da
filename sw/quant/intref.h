/*
 * intref.h — the integer-only reference inference of a bq_qmodel (docs/numerics.md).
 *
 * After the input is quantized (the one float step, numerics §5) everything is integer:
 *   per layer and group, with im2col codes col[K][N] (out-of-image taps = z_a):
 *     acc[c,p]  = sum_k q_w[c,k] * col[k,p]          int32 (what the bit-serial array computes)
 *     asum[p]   = sum_k col[k,p]                     int32
 *     acc0[c,p] = acc - z_w[c]*asum + bias_eff[c]    int32
 *     output stage: t = acc0*m_acc[c] + (q_r - z_r)*m_res[c] (int64), y = (t + 2^(sh-1)) >> sh,
 *                   q = clamp(y + z_o, lo, hi)
 *   the classifier writes acc0 (RAW32); GAP = floor((2*sum + HW) / (2*HW)); max pool = max of codes.
 * The host turns logits into a class by argmax of acc0[c] * s_w[c] * s_a (numerics §4).
 *
 * bq_intnet_init derives every integer parameter once (bias_eff, requant multipliers, clamps) and
 * checks the int32 bounds of numerics §2; the export package (export.h) writes exactly these.
 *
 * Example:
 *   bq_intnet net; char err[256];
 *   if (bq_intnet_init(&net, &q, 64, err, sizeof err)) die(err);
 *   bq_intnet_forward(&net, x, n);              // x: normalised float images (n, 1, 28, 28)
 *   bq_intnet_predict(&net, n, preds);
 *   const uint8_t *codes = net.codes[node];     // (n, c, h, w) codes of any quantized node
 *   bq_intnet_free(&net);
 */
#ifndef BQ_INTREF_H
#define BQ_INTREF_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops.h"
#include "quant/qmodel.h"
#include "quant/quant.h"

/* Integer parameters of one layer (one output stage per channel). */
typedef struct {
    int layer, node;       /* qmodel layer index, conv/linear node */
    int in_node;           /* the quantized tensor it reads */
    int out_node;          /* the node whose codes its output stage writes */
    int res_node;          /* shortcut operand node, -1 */
    int groups, M, K, N;   /* per group GEMM per image: W (M x K) * A (K x N) */
    bq_conv_shape cs;      /* geometry with n = 1 (linear: 1x1 conv over (K, 1, 1)) */
    int cout;
    int wbits, abits;      /* weight bits, input quantizer bits */
    int obits;             /* output quantizer bits (0 for raw32) */
    int rbits;             /* shortcut operand bits (0 without) */
    int32_t z_a, z_o, z_r; /* input, output, shortcut zero points */
    int32_t lo, hi;        /* output clamp in codes */
    int raw32;
    const uint8_t *codes;  /* (cout, K) weight codes (the qmodel's) */
    const int32_t *z_w;    /* [cout] (the qmodel's) */
    int32_t *b_q;          /* [cout] round_half_even(b / (s_w s_a)) */
    int32_t *wsum;         /* [cout] sum_k q_w[c,k] */
    int32_t *bias_eff;     /* [cout] b_q - z_a*wsum + K*z_w*z_a */
    bq_requant *rq;        /* [cout] */
    float *logit_scale;    /* [cout] s_w[c]*s_a, raw32 only (host argmax) */
    int kp;                /* K rounded up to BQ_INTREF_KALIGN (int16 kernel) */
    int16_t *w16;          /* (cout, kp) weight codes as int16, zero padded (int16 kernel) */
    int fp32_exact;        /* 1: every partial sum of sum_k (q_w - z_w)(q_a - z_a) is below 2^24
                              in magnitude, so the float convolution computes it exactly */
    float *wf;             /* (cout, K) q_w - z_w as floats (float kernel), NULL unless fp32_exact */
    int i8;                /* 1: every |q_w - z_w| and |q_a - z_a| <= 127 (int8 kernel) */
    int8_t *w8;            /* (cout, K) q_w - z_w as int8 (int8 kernel), NULL unless i8 */
    int rq_period;         /* lcm(cout, 32), or 0 when too large (int8 kernel output stage) */
    int64_t *rq64;         /* (5, rq_period) b_q, m_acc, m_res, 2^(sh-1), sh of channel j % cout,
                              widened to int64: the int8 kernel's output stage runs vectorised over
                              consecutive NHWC outputs; NULL unless i8 and rq_period */
} bq_ilayer;

#define BQ_INTREF_KALIGN 32

typedef struct {
    const bq_qmodel *q;
    int n_layers;
    bq_ilayer *L;
    int max_batch;
    uint8_t **codes;       /* [n_nodes] (max_batch, c, h, w) for quantized nodes, else NULL */
    int *out_layer;        /* [n_nodes] layer whose output stage writes this node, else -1
                              (layers run at their out_node: the shortcut exists by then) */
    int32_t *logits;       /* (max_batch, num_classes) acc0 of the classifier */
    int32_t *col, *acc, *asum;   /* scratch of the largest layer */
    int16_t *colt;               /* (N, kp) transposed im2col scratch of the int16 kernel */
    size_t colt_count;
    size_t col_count, acc_count, asum_count;
    int use_fp32;                /* run fp32_exact layers on the float convolution (default 1) */
    float *xf, *yf, *fscratch;   /* float kernel: centred input codes, conv output, conv scratch */
    size_t xf_count, yf_count, fscratch_count;
    struct bq_dnnl_ctx *dnnl;    /* the float kernel's oneDNN primitives (BQ_CONV=dnnl), owned */
    int use_i8;                  /* run i8 layers on the int8 kernel (default 1) */
    struct bq_i8ctx *i8;         /* the int8 kernel's oneDNN primitives, owned (NULL: no i8 layer) */
    int8_t *x8;                  /* int8 kernel: centred input codes, NHWC (max_batch * largest input) */
    int32_t *acc32;              /* int8 kernel: conv sums, NHWC (max_batch * largest output) */
    uint8_t **hwc;               /* [n_nodes] NHWC copy of codes[i] for the nodes an int8 layer reads
                                    or writes (max_batch, h, w, c), else NULL */
    int *hwc_ok;                 /* [n_nodes] 1 when hwc[i] holds the current batch's codes */
    size_t x8_count, acc32_count;
    int i8_fallbacks;            /* int8 calls oneDNN refused (each ran on another kernel instead) */
    char i8_error[256];          /* the first refusal's message */
} bq_intnet;

/* BQ_INTREF_KERNEL=int8 (default) | fp32 | int16 picks the fastest kernel a layer may use
 * (each falls back to the next: int8 -> fp32 -> int16); the bits are the same for all three.
 * The int8 kernel is used only on CPUs where oneDNN's int8 is exact (bq_i8_exact_on_cpu). */
/* Derive the integer parameters and check them (every quantizer on and initialised, b_q, acc,
 * asum, bias_eff and acc0 within int32 for every possible input code, multipliers exist).
 * Returns 0, or -1 with "layer 'x': what is wrong; fix". q must outlive net. */
int  bq_intnet_init(bq_intnet *net, const bq_qmodel *q, int max_batch, char *err, size_t errlen);
void bq_intnet_free(bq_intnet *net);

/* Quantize the normalised input images x (n, c, h, w), n <= max_batch, and run every layer,
 * bit-identical to bq_intref_layer (tested), on one of three fast kernels:
 *   - int8 kernel (layers with i8, when net->use_i8): oneDNN s8 x s8 -> s32 convolutions of
 *     centred codes (intref_i8.h): acc0 = conv(q_w - z_w, q_a - z_a) + b_q, exact in int32
 *     (numerics §2). Activations stay NHWC (oneDNN's layout) from one int8 layer to the next
 *     beside the NCHW codes; each pool thread runs one block of images through centring,
 *     convolution and output stage. If oneDNN refuses a primitive, that layer runs on the next
 *     kernel (the same bits) and net->i8_fallbacks / i8_error record it.
 *   - float kernel (layers with fp32_exact, when net->use_fp32): the whole batch through the float
 *     engine's convolution (sw/nn/ops.h, threaded) on centred codes: acc0 = conv(q_w - z_w,
 *     q_a - z_a) + b_q, with zero padding (an out-of-image tap is q_a = z_a). Exact because every
 *     term and every partial sum, in any summation order, is an integer of magnitude at most
 *     sum_k |q_w - z_w| * max|q_a - z_a| < 2^24, which float32 represents exactly.
 *   - int16 kernel (every other layer): per image, int16 codes, int32 dot products. */
void bq_intnet_forward(bq_intnet *net, const float *x, int n);
/* Argmax of acc0 * s_w * s_a per image (ties: lowest class). */
void bq_intnet_predict(const bq_intnet *net, int n, int *preds);
/* The class of one image's classifier outputs acc0[cout] (e.g. read from the accelerator): the
 * first c maximising float32(acc0[c]) * logit_scale[c] (numerics §4), as bq_intnet_predict. */
int bq_intnet_argmax(const bq_intnet *net, const int32_t *acc0);

/* im2col of one group of one image's input codes img (cin, h, w) into col (K, N) (int32),
 * out-of-image taps = z_a. */
void bq_intref_im2col(int32_t *col, const uint8_t *img, const bq_ilayer *L, int g);
/* One layer on one image: in (cin, h, w) codes, res (cout, hout, wout) shortcut codes or NULL,
 * writes out (cout, hout, wout) codes, or raw (cout*N) acc0 when raw32. Scratch: col (K*N),
 * acc (M*N), asum (N) int32. */
void bq_intref_layer(const bq_ilayer *L, const uint8_t *in, const uint8_t *res, uint8_t *out,
                     int32_t *raw, int32_t *col, int32_t *acc, int32_t *asum);
/* GAP of codes: in (c, hw) -> out (c): floor((2*sum + hw) / (2*hw)). */
void bq_intref_gap(uint8_t *out, const uint8_t *in, int c, int hw);
/* Max pool of one image's codes (numerics §5: same scale and zero point; out-of-image taps never
 * win). nd is the pool node, pin its input node: out (nd->c, nd->h, nd->w) from in (pin->c, h, w). */
void bq_intref_maxpool(uint8_t *out, const uint8_t *in, const bq_node *nd, const bq_node *pin);

#endif
