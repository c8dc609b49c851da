/*
 * ops.h — the floating-point operators of the engine, each a forward/backward pair.
 *
 * Conventions (llm.c style):
 *   - Tensors are float32, NCHW, contiguous. N = batch, C = channels, H/W = spatial.
 *   - Argument order everywhere: outputs, saved statistics, inputs, weights, then shape integers.
 *   - Backward functions ADD into the gradients they produce (dinp, dweight, dbias); the caller
 *     zeroes them once per step. A NULL gradient pointer means "not needed": skip that work.
 *   - Scratch memory is passed in by the caller (no allocation in the hot path); each op that
 *     needs scratch has a *_scratch_floats() helper telling how many floats it needs.
 *
 * Example (one conv layer, forward then backward):
 *   bq_conv2d_shape(&cs, N, Cin, H, W, Cout, 3, 3, 1, 1, 1, 1, 1, 1, 1);
 *   float *scratch = malloc(sizeof(float) * bq_conv2d_scratch_floats(&cs));
 *   bq_conv2d_forward(out, inp, weight, bias, &cs, scratch);
 *   bq_conv2d_backward(dinp, dweight, dbias, dout, inp, weight, &cs, scratch);
 */
#ifndef BQ_OPS_H
#define BQ_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Geometry of one 2-D convolution. Output size follows the usual floor rule:
 * Hout = (H + pad_t + pad_b - Kh) / stride_h + 1 (same for W). */
typedef struct {
    int n, cin, h, w;          /* input  (N, Cin, H, W) */
    int cout, kh, kw;          /* weight (Cout, Cin/groups, Kh, Kw) */
    int stride_h, stride_w;
    int pad_t, pad_l, pad_b, pad_r;
    int groups;                /* 1 = dense, Cin = depthwise (when Cout = Cin * multiplier) */
    int hout, wout;            /* derived by bq_conv2d_shape */
    int impl;                  /* bq_conv_impl; bq_conv2d_shape sets BQ_CONV_DIRECT */
    struct bq_dnnl_ctx *dnnl;  /* BQ_CONV_DNNL: primitive cache (conv_dnnl.h); NULL = a temporary
                                  one per call (slow); bq_conv2d_shape sets NULL */
} bq_conv_shape;

/* Three implementations of the same conv contract (tests check them against the scalar _ref):
 *   BQ_CONV_DIRECT  shifted-GEMM with register-blocked micro-kernels over a polyphase copy of the
 *                   input (no Kh*Kw im2col blow-up); threads over images (sw/nn/conv.c). Default:
 *                   2-3x faster than im2col+sgemm on the 16..64-channel layers of the shipped nets.
 *   BQ_CONV_IM2COL  im2col per image and group + cblas_sgemm (sw/nn/conv_im2col.c); the textbook
 *                   path, kept selectable and benchmarked side by side (make bench).
 *   BQ_CONV_DNNL    oneDNN 2.6 primitives (sw/nn/conv_dnnl.c), cached per shape in cs->dnnl;
 *                   NCHW at this boundary, oneDNN's blocked layouts inside (docs/onednn.md).
 * bq_conv_impl_from_env() reads BQ_CONV=direct|im2col|dnnl (default direct). */
typedef enum { BQ_CONV_DIRECT = 0, BQ_CONV_IM2COL = 1, BQ_CONV_DNNL = 2 } bq_conv_impl;
bq_conv_impl bq_conv_impl_from_env(void);

/* Fill derived fields; returns 0, or -1 when the geometry is impossible (Cin or Cout not divisible
 * by groups, kernel larger than the padded input, non-positive sizes). */
int bq_conv2d_shape(bq_conv_shape *cs, int n, int cin, int h, int w, int cout, int kh, int kw,
                    int stride_h, int stride_w, int pad_t, int pad_l, int pad_b, int pad_r,
                    int groups);
/* Floats of scratch the conv forward/backward need (im2col buffer and friends). */
size_t bq_conv2d_scratch_floats(const bq_conv_shape *cs);

/* im2col for one image and one group: col is (Cin_g*Kh*Kw, Hout*Wout), row index
 * k = (ci*Kh + ky)*Kw + kx (the same K order as the weight's (Cin_g, Kh, Kw) layout);
 * out-of-image taps get pad_value. img points at the group's first channel of one image. */
void bq_im2col(float *col, const float *img, const bq_conv_shape *cs, float pad_value);
/* col2im: the adjoint of im2col (adds into img). */
void bq_col2im(float *img, const float *col, const bq_conv_shape *cs);

/* conv2d: out (N,Cout,Hout,Wout) = conv(inp (N,Cin,H,W), weight (Cout,Cin/g,Kh,Kw)) + bias (Cout).
 * bias may be NULL. cs->impl picks the implementation (see bq_conv_impl). */
void bq_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       const bq_conv_shape *cs, float *scratch);
void bq_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, const bq_conv_shape *cs,
                        float *scratch);

/* linear: out (N,OC) = inp (N,IC) @ weight(OC,IC)^T + bias (OC); bias may be NULL. */
void bq_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int n, int ic, int oc);
void bq_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int n, int ic, int oc);

/* batch norm, train mode: statistics over (N,H,W) per channel, biased variance for
 * normalisation. out = gamma * (x - mean) * rstd + beta, rstd = 1/sqrt(var + eps).
 * mean_out/rstd_out (C) are saved for backward. running_mean/var (C) are updated with
 * momentum (r = (1-m) r + m * batch; running var uses the unbiased batch variance) when not NULL. */
void bq_batchnorm_train_forward(float *out, float *mean_out, float *rstd_out,
                                float *running_mean, float *running_var, const float *inp,
                                const float *gamma, const float *beta, int n, int c, int hw,
                                float eps, float momentum);
void bq_batchnorm_train_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 const float *gamma, int n, int c, int hw);
/* batch norm, eval mode with running statistics (no backward needed beyond the affine one). */
void bq_batchnorm_eval_forward(float *out, const float *inp, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, int n, int c, int hw, float eps);
/* Fold eval-mode BN into the preceding conv/linear: weight (Cout, per_out) and bias (Cout) are
 * rewritten in place so conv+BN == folded conv. bias must be a valid array (zeros if the conv had
 * none). */
void bq_batchnorm_fold(float *weight, float *bias, const float *gamma, const float *beta,
                       const float *running_mean, const float *running_var, int cout,
                       int per_out, float eps);

/* elementwise activations over count elements. backward uses the forward INPUT. */
void bq_relu_forward(float *out, const float *inp, size_t count);
void bq_relu_backward(float *dinp, const float *dout, const float *inp, size_t count);
void bq_relu6_forward(float *out, const float *inp, size_t count);
void bq_relu6_backward(float *dinp, const float *dout, const float *inp, size_t count);
/* general clamp to [lo, hi] (ONNX Clip); gradient passes where lo < x < hi. */
void bq_clamp_forward(float *out, const float *inp, size_t count, float lo, float hi);
void bq_clamp_backward(float *dinp, const float *dout, const float *inp, size_t count, float lo,
                       float hi);

/* residual add: out = a + b; backward adds dout into da and db. */
void bq_add_forward(float *out, const float *a, const float *b, size_t count);
void bq_add_backward(float *da, float *db, const float *dout, size_t count);

/* max pool: out (N,C,Hout,Wout); argmax (same size, int32 flat index into the input plane) is
 * saved for backward. Padding never wins (treated as -inf). */
void bq_maxpool_forward(float *out, int32_t *argmax, const float *inp, int n, int c, int h, int w,
                        int kh, int kw, int stride_h, int stride_w, int pad_t, int pad_l,
                        int hout, int wout);
void bq_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, int n, int c,
                         int h, int w, int hout, int wout);
/* average pool (ONNX AveragePool): count_include_pad selects the divisor at borders. */
void bq_avgpool_forward(float *out, const float *inp, int n, int c, int h, int w, int kh, int kw,
                        int stride_h, int stride_w, int pad_t, int pad_l, int hout, int wout,
                        int count_include_pad);
void bq_avgpool_backward(float *dinp, const float *dout, int n, int c, int h, int w, int kh,
                         int kw, int stride_h, int stride_w, int pad_t, int pad_l, int hout,
                         int wout, int count_include_pad);
/* global average pool: out (N,C) = mean over (H,W) of inp (N,C,H,W). */
void bq_gap_forward(float *out, const float *inp, int n, int c, int hw);
void bq_gap_backward(float *dinp, const float *dout, int n, int c, int hw);

/* softmax cross-entropy, mean over the batch. logits (N,K), labels (N).
 * Returns the mean loss; probs (N,K) is saved for backward. dlogits = (probs - onehot)/N * dloss,
 * ADDED into dlogits. */
float bq_softmax_xent_forward(float *probs, const float *logits, const int *labels, int n, int k);
void bq_softmax_xent_backward(float *dlogits, const float *probs, const int *labels, int n, int k,
                              float dloss);

/* Plain, obviously-correct scalar reference of conv2d forward (direct loops), for tests. */
void bq_conv2d_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           const bq_conv_shape *cs);
/* ... and of its backward (ADDS dX, dW, db; NULL skips), double accumulation, for tests. */
void bq_conv2d_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const bq_conv_shape *cs);

#endif
