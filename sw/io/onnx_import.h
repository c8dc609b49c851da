/*
 * onnx_import.h — builds a bq_model from an ONNX file (opsets 11-17; see docs/onnx.md).
 *
 * The file is parsed with protobuf-c code generated at build time from Debian's onnx.proto
 * (sw/io/onnx.mk). The graph is sorted topologically (a cycle is an error), every shape is checked
 * to be static (only the batch dimension may be symbolic), constants (initializers, Constant
 * nodes) are folded into the layers that use them, and residual blocks are recovered: an Add
 * whose two operands are a branch containing a conv and a shortcut from the same block input
 * (the Add's immediate dominator), plus a following ReLU/ReLU6/Clip, becomes one bq_block with
 * the same structure as the built-in fres20. BatchNormalization stays a BN node
 * (bq_model_fold_bn folds it later).
 *
 * Supported operators: Conv (groups, depthwise, strides, pads, auto_pad), BatchNormalization,
 * Relu, Clip, Add, GlobalAveragePool, AveragePool, MaxPool, Flatten, Reshape (to 2-D), Gemm,
 * MatMul (constant weight), Identity, Constant. Anything else is a one-line error naming the op
 * type, the node name and the opset.
 *
 * Input preprocessing (bq_model in_mean/in_std): options > "<model>.yaml" next to the file
 * (e.g. resnet.onnx.yaml: `mean: 0.2860`, `std: 0.3530`, `layout: NCHW`) > the Fashion-MNIST
 * default (0.2860, 0.3530).
 *
 * Example:
 *   bq_model m;
 *   char err[512];
 *   if (bq_onnx_load(&m, "tests/onnx/models/resnet8.onnx", NULL, err, sizeof err))
 *       fprintf(stderr, "%s\n", err);        // one line, e.g. "x.onnx: node 'n3' (Sigmoid, ..."
 */
#ifndef BQ_ONNX_IMPORT_H
#define BQ_ONNX_IMPORT_H
#include <stddef.h>
#include <stdint.h>
#include "nn/graph.h"

/* A dense tensor decoded from an ONNX TensorProto. FLOAT, DOUBLE, FLOAT16 are converted to
 * float32 in f; INT64/INT32/INT8/UINT8/BOOL-like integer types to int64 in i and float in f.
 * Both arrays hold `count` elements (count = product of dims; 1 for a scalar). */
typedef struct {
    int ndim;
    int64_t dims[8];
    size_t count;
    int dtype;          /* ONNX TensorProto.DataType */
    float *f;           /* count floats (always set) */
    int64_t *i;         /* count int64 (set for integer types, NULL otherwise) */
} bq_onnx_tensor;

/* Decode a serialized TensorProto (e.g. a backend test's input_0.pb). Returns 0, or -1 with a
 * one-line reason. The caller frees with bq_onnx_tensor_free. */
int  bq_onnx_tensor_parse(bq_onnx_tensor *t, const uint8_t *data, size_t len, char *err,
                          size_t errlen);
void bq_onnx_tensor_free(bq_onnx_tensor *t);

/* Import options; pass NULL for the defaults. */
typedef struct {
    int has_mean, has_std;         /* set by --mean/--std: take precedence over the YAML */
    float mean, std;
    int no_yaml;                   /* do not look for "<path>.yaml" */
    /* Extra constants by name: graph inputs listed here are treated as initializers (the
     * backend node tests feed weights as graph inputs). The data input is the first graph input
     * that is neither an initializer nor listed here. Borrowed, not copied. */
    int n_consts;
    const char *const *const_names;
    const bq_onnx_tensor *consts;
} bq_onnx_options;

/* Build m from ONNX bytes. name labels error messages (the file name). On success m is a
 * finalized model with arch "onnx" (the caller frees it with bq_model_free); on failure m is
 * left freed and err holds one line "name: what is wrong; how to fix". Never aborts on bad
 * input. Options' mean/std apply (no YAML lookup: there is no file). */
int bq_onnx_import(bq_model *m, const uint8_t *data, size_t len, const char *name,
                   const bq_onnx_options *opt, char *err, size_t errlen);

/* Read path and import it; then apply "<path>.yaml" when it exists (unless opt->no_yaml), then
 * opt->mean/std. Returns 0 or -1 with a one-line error. */
int bq_onnx_load(bq_model *m, const char *path, const bq_onnx_options *opt, char *err,
                 size_t errlen);

/* Parse the preprocessing YAML (keys: mean, std, layout = NCHW). Keys absent from the file keep
 * their values in *mean / *std. Returns 0, or -1 with "file:line:col: what; how to fix". */
int bq_onnx_read_yaml(const char *path, float *mean, float *std, char *err, size_t errlen);

#endif
