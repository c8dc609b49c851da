/*
 * tiny_model.h — the small model the fuzz seeds, the bits harness and the export and lowering
 * unit tests (tests/unit/io/test_export.c, tests/unit/lower/test_lower.c) use: input 1x9x9 -> stem conv3x3(5)+relu -> residual block (stride 2,
 * 1x1 downsample) -> depthwise 3x3 + relu6 -> gap -> linear(3). Every layer kind the quantized path
 * handles, in 1.3 KB of parameters, so seeds stay small and mutations reach every field quickly.
 */
#ifndef BQ_FUZZ_TINY_MODEL_H
#define BQ_FUZZ_TINY_MODEL_H
#include "nn/graph.h"

/* `name` is the model's name (it goes into the files written from it). 0, or bq_model_finalize's
 * error. */
static inline int tiny_model_build_named(bq_model *m, const char *name) {
    bq_model_init(m, name, 1, 9, 9, 3);
    int x = bq_add_input(m);
    int c = bq_add_conv(m, "stem", x, 5, 3, 1, 1, 1, 1);
    x = bq_add_act(m, "stem_relu", BQ_OP_RELU, c);
    bq_block_begin(m, "a", x);
    int y = bq_add_conv(m, "a_conv1", x, 6, 3, 2, 1, 1, 1);
    y = bq_add_act(m, "a_conv1_relu", BQ_OP_RELU, y);
    y = bq_add_conv(m, "a_conv2", y, 6, 3, 1, 1, 1, 1);
    int s = bq_add_conv(m, "a_down", x, 6, 1, 2, 0, 1, 1);
    y = bq_add_add(m, "a_add", y, s);
    x = bq_add_act(m, "a_relu", BQ_OP_RELU, y);
    bq_block_end(m);
    y = bq_add_conv(m, "dw", x, 6, 3, 1, 1, 6, 1);
    x = bq_add_act(m, "dw_relu6", BQ_OP_RELU6, y);
    x = bq_add_gap(m, "gap", x);
    bq_add_linear(m, "fc", x, 3, 1);
    return bq_model_finalize(m, 42);
}

static inline int tiny_model_build(bq_model *m) { return tiny_model_build_named(m, "tiny"); }
#endif
