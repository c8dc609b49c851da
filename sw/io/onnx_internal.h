/*
 * onnx_internal.h — shared between the ONNX importer's files (not a public header): the
 * generated protobuf-c types, ONNX data-type codes and the importer's size limits.
 */
#ifndef BQ_ONNX_INTERNAL_H
#define BQ_ONNX_INTERNAL_H
#include <stddef.h>
#include "onnx/onnx.pb-c.h"   /* generated at build time by sw/io/onnx.mk from Debian's onnx.proto */
#include "io/onnx_import.h"

/* TensorProto.DataType values used here (onnx.proto). */
enum {
    BQ_ONNX_FLOAT = 1, BQ_ONNX_UINT8 = 2, BQ_ONNX_INT8 = 3, BQ_ONNX_UINT16 = 4, BQ_ONNX_INT16 = 5,
    BQ_ONNX_INT32 = 6, BQ_ONNX_INT64 = 7, BQ_ONNX_STRING = 8, BQ_ONNX_BOOL = 9,
    BQ_ONNX_FLOAT16 = 10, BQ_ONNX_DOUBLE = 11, BQ_ONNX_UINT32 = 12, BQ_ONNX_UINT64 = 13,
};

/* Limits that keep every size computation inside int and memory bounded for hostile files. */
#define BQ_ONNX_MAX_ELEMS (1 << 28)   /* elements of one tensor / one image's activation */
#define BQ_ONNX_MAX_DIM   (1 << 16)   /* one channel / spatial dimension, kernel, pad, stride */
#define BQ_ONNX_MAX_NODES 100000

/* Decode a TensorProto already unpacked by protobuf-c (see bq_onnx_tensor_parse). */
int bq_onnx_tensor_from_proto(bq_onnx_tensor *t, const Onnx__TensorProto *tp, char *err,
                              size_t errlen);
#endif
