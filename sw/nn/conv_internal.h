/*
 * conv_internal.h — helpers shared by the two conv implementations (sw/nn/conv.c, sw/nn/conv_im2col.c)
 * Not part of the public ops.h contract.
 */
#ifndef BQ_CONV_INTERNAL_H
#define BQ_CONV_INTERNAL_H

#include "nn/ops.h"

/* im2col / col2im of one image and group with an explicit column-row stride ld (>= Hout*Wout):
 * several images side by side in one col matrix make one large GEMM. */
void bq_im2col_ld(float *col, size_t ld, const float *img, const bq_conv_shape *cs,
                  float pad_value);
void bq_col2im_ld(float *img, const float *col, size_t ld, const bq_conv_shape *cs);

/* The im2col + sgemm implementation (sw/nn/conv_im2col.c). */
size_t bq_conv2d_im2col_scratch_floats(const bq_conv_shape *cs);
void bq_conv2d_im2col_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const bq_conv_shape *cs, float *scratch);
void bq_conv2d_im2col_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const bq_conv_shape *cs,
                               float *scratch);

#endif
