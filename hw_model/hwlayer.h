/*
 * hwlayer.h — a network-independent description of one accelerator layer (a batch of GEMMs).
 *
 * The accelerator computes, per group g, one GEMM  O_g (M x N) = W_g (M x K) * A_g (K x N)  on
 * bit-serial codes. Everything the scheduler and the latency model need about a layer is here;
 * who builds it (the model graph, the ONNX importer, a bench) does not matter.
 *
 *   conv (Cin, Cout, Kh, Kw, groups g, output Hout x Wout):
 *        groups = g, M = Cout/g, K = Cin/g*Kh*Kw (im2col order (ci, ky, kx)), N = Hout*Wout
 *        (per image); dense conv: g = 1; depthwise: g = Cin, M = multiplier (usually 1).
 *   linear (in -> out):   groups = 1, M = out, K = in, N = 1 (per image).
 *
 * Bits: wbits = the layer's weight quantizer, abits = its input activation quantizer, obits = the
 * activation quantizer of the CONSUMER of its output (the output stage writes that many bit-planes);
 * raw32 layers (the classifier) write acc0 as int32 words and ignore obits. A layer that ends a
 * residual branch reads the shortcut operand (M x N codes of rbits bits, one tensor per group
 * slice) in its output stage.
 *
 * Example:
 *   bq_hw_layer l;
 *   bq_hw_layer_conv(&l, "s1.b0.conv1", 16, 16, 3, 3, 28, 28, 1);  // M=16, K=144, N=784
 *   l.wbits = 4; l.abits = 4; l.obits = 4;
 */
#ifndef BQ_HWLAYER_H
#define BQ_HWLAYER_H

#include <stddef.h>

#define BQ_HW_LAYER_NAME_MAX 48
#define BQ_HW_MAX_BITS 8

typedef struct {
    char name[BQ_HW_LAYER_NAME_MAX];
    int m, k, n;         /* one GEMM: W (m x k) * A (k x n); per image */
    int groups;          /* independent GEMMs of this shape run back to back (depthwise: Cin) */
    int wbits, abits;    /* 1..8: weight and input-activation bit-widths */
    int obits;           /* 1..8: output bit-planes written (consumer's activation bits) */
    int w_signed;        /* weights are two's complement (1) or unsigned codes (0, numerics §1) */
    int a_signed;        /* activations are two's complement (1) or unsigned codes (0) */
    int has_residual;    /* output stage adds a shortcut operand read from memory */
    int rbits;           /* bits of the shortcut operand codes (1..8), when has_residual */
    int raw32;           /* write acc0 as int32 words (classifier), obits unused */
    /* output-stage scalars (numerics §3), only encoded into the result instructions; they do not
     * change timing. hi < 0 means 2^obits - 1. */
    int z_o, z_r, lo, hi;
} bq_hw_layer;

/* A conv layer: groups = g, M = cout/g, K = cin/g*kh*kw, N = hout*wout. Bits default to 8/8/8,
 * unsigned operands, no residual, not raw32. Returns 0, or -1 with a message in err when the
 * geometry is impossible (non-positive sizes, cin or cout not divisible by groups). */
int bq_hw_layer_conv(bq_hw_layer *l, const char *name, int cin, int cout, int kh, int kw,
                     int hout, int wout, int groups, char *err, size_t errlen);

/* A linear layer in -> out for one image: M = out, K = in, N = 1. Same defaults as conv. */
int bq_hw_layer_linear(bq_hw_layer *l, const char *name, int in, int out, char *err,
                       size_t errlen);

/* Check field ranges (sizes > 0, bits in 1..8, rbits when has_residual). 0 or -1 + message. */
int bq_hw_layer_check(const bq_hw_layer *l, char *err, size_t errlen);

/* Useful multiply-accumulates of the layer: groups * M * K * N. */
double bq_hw_layer_macs(const bq_hw_layer *l);

#endif
