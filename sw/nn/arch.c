/*
 * arch.c — the built-in architectures for 1x28x28 inputs (Fashion-MNIST).
 *
 * fres20: CIFAR-style ResNet-20. stem conv3x3(1->16)+BN+ReLU; stages of 3 basic blocks with 16, 32,
 *         64 channels (the first block of stages 2 and 3 has stride 2 and a 1x1 conv+BN shortcut);
 *         global average pool; linear 64->10. Basic block: conv3x3-BN-ReLU-conv3x3-BN, add, ReLU.
 * mbv2t:  a small MobileNetV2. stem conv3x3(1->16)+BN+ReLU6; 8 inverted-residual blocks
 *         (1x1 expand + BN + ReLU6, 3x3 depthwise + BN + ReLU6, 1x1 projection + BN, add when the
 *         stride is 1 and the channel counts match); 1x1 conv 96->256 + BN + ReLU6; GAP; linear.
 */
#include "nn/graph.h"

#include <stdio.h>
#include <string.h>

#define CHECK(x) do { if ((x) < 0) return -1; } while (0)

/* conv + bn (+ activation when act != BQ_OP_INPUT). Returns the last node. */
static int conv_bn(bq_model *m, const char *name, int in, int cout, int k, int stride, int groups,
                   bq_op_kind act) {
    char nm[BQ_NAME_LEN];
    int c = bq_add_conv(m, name, in, cout, k, stride, k / 2, groups, 0);
    CHECK(c);
    snprintf(nm, sizeof(nm), "%.*s_bn", BQ_NAME_LEN - 8, name);
    int b = bq_add_bn(m, nm, c);
    CHECK(b);
    if (act == BQ_OP_INPUT) return b;
    snprintf(nm, sizeof(nm), "%.*s_%s", BQ_NAME_LEN - 8, name, act == BQ_OP_RELU6 ? "relu6" : "relu");
    return bq_add_act(m, nm, act, b);
}

static int build_fres20(bq_model *m) {
    int x = bq_add_input(m);
    CHECK(x);
    x = conv_bn(m, "stem", x, 16, 3, 1, 1, BQ_OP_RELU);
    CHECK(x);
    const int widths[3] = {16, 32, 64};
    int cin = 16;
    for (int s = 0; s < 3; s++) {
        for (int b = 0; b < 3; b++) {
            char blk[24], nm[BQ_NAME_LEN];
            snprintf(blk, sizeof(blk), "s%db%d", (s + 1) % 10, (b + 1) % 10);
            int stride = (s > 0 && b == 0) ? 2 : 1;
            int cout = widths[s];
            bq_block_begin(m, blk, x);
            snprintf(nm, sizeof(nm), "%s_conv1", blk);
            int y = conv_bn(m, nm, x, cout, 3, stride, 1, BQ_OP_RELU);
            CHECK(y);
            snprintf(nm, sizeof(nm), "%s_conv2", blk);
            y = conv_bn(m, nm, y, cout, 3, 1, 1, BQ_OP_INPUT);
            CHECK(y);
            int sc = x;
            if (stride != 1 || cin != cout) {
                snprintf(nm, sizeof(nm), "%s_down", blk);
                sc = conv_bn(m, nm, x, cout, 1, stride, 1, BQ_OP_INPUT);
                CHECK(sc);
            }
            snprintf(nm, sizeof(nm), "%s_add", blk);
            y = bq_add_add(m, nm, y, sc);
            CHECK(y);
            snprintf(nm, sizeof(nm), "%s_relu", blk);
            x = bq_add_act(m, nm, BQ_OP_RELU, y);
            CHECK(x);
            bq_block_end(m);
            cin = cout;
        }
    }
    x = bq_add_gap(m, "gap", x);
    CHECK(x);
    x = bq_add_linear(m, "fc", x, m->num_classes, 1);
    return x < 0 ? -1 : 0;
}

static int build_mbv2t(bq_model *m) {
    /* (expansion t, output channels, stride) per block */
    static const int cfg[8][3] = {
        {1, 16, 1}, {4, 24, 2}, {4, 24, 1}, {4, 32, 2},
        {4, 32, 1}, {4, 64, 1}, {4, 64, 1}, {4, 96, 1},
    };
    int x = bq_add_input(m);
    CHECK(x);
    x = conv_bn(m, "stem", x, 16, 3, 1, 1, BQ_OP_RELU6);
    CHECK(x);
    int cin = 16;
    for (int b = 0; b < 8; b++) {
        int t = cfg[b][0], cout = cfg[b][1], stride = cfg[b][2];
        char blk[24], nm[BQ_NAME_LEN];
        snprintf(blk, sizeof(blk), "b%d", (b + 1) % 100);
        bq_block_begin(m, blk, x);
        int y = x, hidden = cin * t;
        if (t != 1) {
            snprintf(nm, sizeof(nm), "%s_expand", blk);
            y = conv_bn(m, nm, y, hidden, 1, 1, 1, BQ_OP_RELU6);
            CHECK(y);
        }
        snprintf(nm, sizeof(nm), "%s_dw", blk);
        y = conv_bn(m, nm, y, hidden, 3, stride, hidden, BQ_OP_RELU6);
        CHECK(y);
        snprintf(nm, sizeof(nm), "%s_project", blk);
        y = conv_bn(m, nm, y, cout, 1, 1, 1, BQ_OP_INPUT);
        CHECK(y);
        if (stride == 1 && cin == cout) {
            snprintf(nm, sizeof(nm), "%s_add", blk);
            y = bq_add_add(m, nm, y, x);
            CHECK(y);
        }
        x = y;
        bq_block_end(m);
        cin = cout;
    }
    x = conv_bn(m, "head", x, 256, 1, 1, 1, BQ_OP_RELU6);
    CHECK(x);
    x = bq_add_gap(m, "gap", x);
    CHECK(x);
    x = bq_add_linear(m, "fc", x, m->num_classes, 1);
    return x < 0 ? -1 : 0;
}

const char *bq_arch_list(void) { return "fres20, mbv2t"; }

int bq_arch_build(bq_model *m, const char *arch, uint64_t seed) {
    int (*build)(bq_model *) = NULL;
    if (strcmp(arch, "fres20") == 0) build = build_fres20;
    else if (strcmp(arch, "mbv2t") == 0) build = build_mbv2t;
    else return -1;
    bq_model_init(m, arch, 1, 28, 28, 10);
    /* the layers are fixed: a builder can only fail for want of memory */
    if (build(m) != 0 || bq_model_finalize(m, seed) != 0) {
        bq_model_free(m);
        return -2;
    }
    return 0;
}
