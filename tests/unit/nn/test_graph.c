/* test_graph.c — graph building, BN folding, model file round trip and corruption handling,
 * executor forward/backward against finite differences on a whole small model, the node-range
 * executor against the whole-model one. */
#include "testutil.h"
#include "nn/exec.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "io/model_io.h"

#include <string.h>
#include <unistd.h>

/* Tolerance of whole-network finite-difference checks (float32 forward, central differences). */
#define NET_GRAD_RTOL 3e-2

static void test_arch_shapes(void **state) {
    (void)state;
    bq_model m;
    assert_int_equal(bq_arch_build(&m, "fres20", 1), 0);
    char err[256];
    assert_int_equal(bq_model_validate(&m, err, sizeof err), 0);
    assert_int_equal(m.n_blocks, 9);
    const bq_node *out = &m.nodes[bq_model_output(&m)];
    assert_int_equal(out->c, 10);
    /* stage 3 output is 64 x 7 x 7 */
    const bq_node *last = &m.nodes[m.blocks[8].last];
    assert_int_equal(last->c, 64);
    assert_int_equal(last->h, 7);
    size_t np = bq_model_num_params(&m);
    assert_true(np > 250000 && np < 300000);
    bq_model_free(&m);

    assert_int_equal(bq_arch_build(&m, "mbv2t", 1), 0);
    assert_int_equal(bq_model_validate(&m, err, sizeof err), 0);
    np = bq_model_num_params(&m);
    assert_true(np >= 100000 && np <= 400000);
    assert_true(m.n_blocks >= 6);
    int residual = 0;
    for (int b = 0; b < m.n_blocks; b++) residual += m.blocks[b].has_residual;
    assert_true(residual >= 3);
    bq_model_free(&m);
    assert_int_equal(bq_arch_build(&m, "nope", 1), -1);
}

/* A model with nontrivial BN statistics gives the same eval output before and after folding. */
static void test_fold_bn(void **state) {
    (void)state;
    bq_model m, f;
    assert_int_equal(bq_arch_build(&m, "fres20", 3), 0);
    for (int i = 0; i < m.n_params; i++) {
        bq_param *p = &m.params[i];
        float *d = m.arena + p->offset;
        if (strstr(p->name, "running_var")) for (size_t k = 0; k < p->count; k++) d[k] = 0.5f + 0.01f * (float)(k % 7);
        else if (strstr(p->name, "running_mean") || strstr(p->name, "beta"))
            tu_fill(d, p->count, (uint64_t)i, 0.2f);
        else if (strstr(p->name, "gamma")) for (size_t k = 0; k < p->count; k++) d[k] = 0.8f + 0.05f * (float)(k % 5);
    }
    char err[256];
    assert_int_equal(bq_model_fold_bn(&f, &m, err, sizeof err), 0);
    for (int i = 0; i < f.n_nodes; i++) assert_int_not_equal(f.nodes[i].kind, BQ_OP_BN);
    assert_int_equal(f.n_blocks, m.n_blocks);
    assert_int_equal(bq_model_validate(&f, err, sizeof err), 0);
    float x[2 * 784];
    tu_fill(x, 2 * 784, 9, 1.0f);
    bq_exec a, b;
    assert_int_equal(bq_exec_init(&a, &m, 2, 0), 0);
    assert_int_equal(bq_exec_init(&b, &f, 2, 0), 0);
    bq_exec_forward(&a, &m, x, 2, 0);
    bq_exec_forward(&b, &f, x, 2, 0);
    const float *la = a.act[bq_model_output(&m)], *lb = b.act[bq_model_output(&f)];
    for (int k = 0; k < 20; k++) assert_true(fabsf(la[k] - lb[k]) <= 1e-3f * (1.0f + fabsf(la[k])));
    /* block outputs map to the same tensors */
    for (int bl = 0; bl < m.n_blocks; bl++) {
        const float *ya = a.act[m.blocks[bl].last], *yb = b.act[f.blocks[bl].last];
        size_t n = 2 * bq_node_size(&m.nodes[m.blocks[bl].last]);
        for (size_t k = 0; k < n; k += 97) assert_true(fabsf(ya[k] - yb[k]) <= 1e-3f * (1.0f + fabsf(ya[k])));
    }
    bq_exec_free(&a); bq_exec_free(&b);
    bq_model_free(&m); bq_model_free(&f);
}

static void test_model_roundtrip_and_corruption(void **state) {
    (void)state;
    bq_model m, r;
    assert_int_equal(bq_arch_build(&m, "mbv2t", 5), 0);
    unsigned char *data;
    size_t len;
    assert_int_equal(bq_model_serialize(&m, &data, &len), 0);
    char err[512];
    assert_int_equal(bq_model_parse(&r, data, len, "m.bqm", err, sizeof err), 0);
    assert_int_equal(r.n_nodes, m.n_nodes);
    assert_int_equal(memcmp(r.arena, m.arena, sizeof(float) * m.arena_count), 0);
    assert_true(bq_model_hash(&r) == bq_model_hash(&m));
    bq_model_free(&r);
    /* truncated */
    assert_int_equal(bq_model_parse(&r, data, len / 2, "m.bqm", err, sizeof err), -1);
    assert_non_null(strstr(err, "m.bqm"));
    assert_non_null(strstr(err, "checksum"));
    /* one flipped byte in the parameters */
    data[len - 100] ^= 0x10;
    assert_int_equal(bq_model_parse(&r, data, len, "m.bqm", err, sizeof err), -1);
    assert_non_null(strstr(err, "checksum"));
    data[len - 100] ^= 0x10;
    /* wrong magic */
    data[0] = 'X';
    assert_int_equal(bq_model_parse(&r, data, len, "m.bqm", err, sizeof err), -1);
    assert_non_null(strstr(err, "magic"));
    free(data);
    /* atomic save + load through a file */
    char path[] = "/tmp/bq_test_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(bq_model_save(&m, path, err, sizeof err), 0);
    assert_int_equal(bq_model_load(&r, path, err, sizeof err), 0);
    assert_true(bq_model_hash(&r) == bq_model_hash(&m));
    bq_model_free(&r);
    unlink(path);
    bq_model_free(&m);
}

/* A toy model with every node kind the executor wires (conv with padding and groups, BN in train
 * mode, relu, relu6, maxpool, a residual block with a downsample conv, gap, linear). */
static void build_toy(bq_model *m) {
    bq_model_init(m, "toy", 2, 8, 8, 3);
    int x = bq_add_input(m);
    x = bq_add_conv(m, "c0", x, 4, 3, 1, 1, 1, 1);
    x = bq_add_bn(m, "c0_bn", x);
    x = bq_add_act(m, "c0_relu", BQ_OP_RELU, x);
    x = bq_add_maxpool(m, "pool", x, 2, 2, 2, 2, 0, 0, 0, 0);
    bq_block_begin(m, "blk", x);
    int y = bq_add_conv(m, "b_c1", x, 6, 3, 1, 1, 1, 0);
    y = bq_add_bn(m, "b_c1_bn", y);
    y = bq_add_act(m, "b_relu6", BQ_OP_RELU6, y);
    y = bq_add_conv(m, "b_c2", y, 6, 3, 1, 1, 2, 1);
    int sc = bq_add_conv(m, "b_down", x, 6, 1, 1, 0, 1, 0);
    y = bq_add_add(m, "b_add", y, sc);
    x = bq_add_act(m, "b_relu", BQ_OP_RELU, y);
    bq_block_end(m);
    x = bq_add_gap(m, "gap", x);
    x = bq_add_linear(m, "fc", x, 3, 1);
    assert_true(x > 0);
    assert_int_equal(bq_model_finalize(m, 7), 0);
}

static double net_loss(bq_exec *ex, const bq_model *m, const float *x, const float *probe, int n) {
    bq_exec_forward(ex, m, x, n, 1);
    const float *o = ex->act[bq_model_output(m)];
    double s = 0;
    for (int k = 0; k < n * m->num_classes; k++) s += (double)o[k] * probe[k];
    return s;
}

/* Gradient of L = sum(out * probe) w.r.t. EVERY trainable parameter of the toy model, against
 * central differences. A parameter whose +-h perturbation crosses a ReLU/max kink is skipped
 * (detected by the two one-sided differences disagreeing), and at most a few may be. */
static void test_exec_backward(void **state) {
    (void)state;
    bq_model m;
    build_toy(&m);
    const int n = 4;
    float x[4 * 2 * 64], probe[12];
    tu_fill(x, sizeof x / sizeof x[0], 1, 1.0f);
    tu_fill(probe, 12, 2, 1.0f);
    bq_exec ex;
    assert_int_equal(bq_exec_init(&ex, &m, n, 1), 0);
    ex.bn_momentum = 0.0f;   /* running stats must not drift between evaluations */
    double l0 = net_loss(&ex, &m, x, probe, n);
    int out = bq_model_output(&m);
    bq_exec_zero_grad(&ex, &m, 0, out, 1);
    memcpy(ex.grad[out], probe, sizeof(float) * (size_t)n * m.num_classes);
    bq_exec_backward_range(&ex, &m, 1, out, 1);
    int checked = 0, bad = 0, kinks = 0;
    for (int p = 0; p < m.n_params; p++) {
        if (m.params[p].is_buffer) continue;
        for (size_t k = 0; k < m.params[p].count; k++) {
            float *w = m.arena + m.params[p].offset + k;
            float save = *w, h = 3e-4f;
            *w = save + h; double lp = net_loss(&ex, &m, x, probe, n);
            *w = save - h; double lm = net_loss(&ex, &m, x, probe, n);
            *w = save;
            double fwd = (lp - l0) / h, bwd = (l0 - lm) / h;
            if (tu_relerr(fwd, bwd, 1e-1) > 0.1) { kinks++; continue; }
            double num = (lp - lm) / (2 * h), ana = ex.param_grad[m.params[p].offset + k];
            if (tu_relerr(num, ana, 5e-2) > NET_GRAD_RTOL) {
                bad++;
                print_message("%s[%zu]: numeric %g analytic %g\n", m.params[p].name, k, num, ana);
            }
            checked++;
        }
    }
    assert_true(checked > 200);
    assert_true(kinks < checked / 20);
    assert_int_equal(bad, 0);
    bq_exec_free(&ex);
    bq_model_free(&m);
}

/* Eval mode (no gradients) must run every node kind, max pool included, and agree with train-mode
 * forward when BN uses running statistics in both. */
static void test_exec_eval_mode(void **state) {
    (void)state;
    bq_model m;
    build_toy(&m);
    float x[2 * 2 * 64];
    tu_fill(x, sizeof x / sizeof x[0], 3, 1.0f);
    bq_exec ev, tr;
    assert_int_equal(bq_exec_init(&ev, &m, 2, 0), 0);
    assert_int_equal(bq_exec_init(&tr, &m, 2, 1), 0);
    bq_exec_forward(&ev, &m, x, 2, 0);
    bq_exec_forward(&tr, &m, x, 2, 0);
    int out = bq_model_output(&m);
    for (int k = 0; k < 2 * m.num_classes; k++) assert_true(ev.act[out][k] == tr.act[out][k]);
    bq_exec_free(&ev); bq_exec_free(&tr);
    bq_model_free(&m);
}

/* A node-range executor (as reconstruction uses it) computes what the whole-model executor
 * computes over the same nodes, bit for bit, with buffers only for the range and its producers and
 * gradients only where something learned lies upstream. Range: the toy block's b_c2 .. b_relu
 * (two producers outside it: b_relu6 and the pool), learning b_c2's weights only. */
static void test_exec_range(void **state) {
    (void)state;
    bq_model m;
    build_toy(&m);
    const int n = 2;
    int lo = bq_find_node(&m, "b_c2"), hi = bq_find_node(&m, "b_relu");
    int p6 = bq_find_node(&m, "b_relu6"), pool = bq_find_node(&m, "pool");
    int down = bq_find_node(&m, "b_down"), out = bq_model_output(&m);
    assert_true(lo > 0 && hi > lo && p6 >= 0 && pool >= 0 && down > lo && down < hi);
    float x[2 * 2 * 64];
    tu_fill(x, sizeof x / sizeof x[0], 5, 1.0f);
    size_t hsz = (size_t)n * bq_node_size(&m.nodes[hi]);
    float *probe = malloc(sizeof(float) * hsz);
    assert_non_null(probe);
    tu_fill(probe, hsz, 6, 1.0f);

    bq_exec whole, r;
    assert_int_equal(bq_exec_init(&whole, &m, n, 1), 0);
    bq_exec_forward(&whole, &m, x, n, 0);
    bq_exec_zero_grad(&whole, &m, 0, out, 1);
    memcpy(whole.grad[hi], probe, sizeof(float) * hsz);
    bq_exec_backward_range(&whole, &m, lo, hi, 1);

    assert_int_equal(bq_exec_init_range(&r, &m, lo, hi, n, 1), 0);
    assert_non_null(r.act[p6]);
    assert_non_null(r.act[pool]);
    assert_null(r.act[0]);
    assert_null(r.act[out]);
    unsigned char *learn_w = calloc((size_t)m.n_nodes, 1);
    assert_non_null(learn_w);
    learn_w[lo] = 1;
    assert_int_equal(bq_exec_plan_grads(&r, &m, learn_w, NULL), 0);
    assert_non_null(r.weight_grad[lo]);
    assert_null(r.weight_grad[down]);
    assert_null(r.grad[down]);      /* nothing learned upstream of the downsample conv */
    assert_null(r.grad[p6]);        /* producers outside the range get none */
    assert_non_null(r.grad[hi]);
    memcpy(r.act[p6], whole.act[p6], sizeof(float) * n * bq_node_size(&m.nodes[p6]));
    memcpy(r.act[pool], whole.act[pool], sizeof(float) * n * bq_node_size(&m.nodes[pool]));
    bq_exec_forward_range(&r, &m, NULL, n, lo, hi, 0);
    assert_memory_equal(r.act[hi], whole.act[hi], sizeof(float) * hsz);
    bq_exec_zero_grad(&r, &m, lo, hi, 1);
    memcpy(r.grad[hi], probe, sizeof(float) * hsz);
    bq_exec_backward_range(&r, &m, lo, hi, 1);
    const bq_param *pw = &m.params[m.nodes[lo].p_weight];
    assert_memory_equal(r.weight_grad[lo], whole.param_grad + pw->offset, sizeof(float) * pw->count);

    /* flops: forward of both convs, dW of b_c2, no dX (its input has no gradient) */
    double f_c2 = bq_exec_gemm_flops(&r, &m, lo, lo, n);
    double f_down = bq_exec_gemm_flops(&r, &m, down, down, n);
    assert_true(f_c2 > 0 && f_down > 0);
    assert_true(bq_exec_gemm_flops(&r, &m, lo, hi, n) == f_c2 + f_down);
    free(learn_w);
    free(probe);
    bq_exec_free(&r);
    bq_exec_free(&whole);
    bq_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_shapes),
        cmocka_unit_test(test_fold_bn),
        cmocka_unit_test(test_model_roundtrip_and_corruption),
        cmocka_unit_test(test_exec_backward),
        cmocka_unit_test(test_exec_eval_mode),
        cmocka_unit_test(test_exec_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
