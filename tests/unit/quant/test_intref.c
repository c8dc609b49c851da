/* test_intref — the integer-only reference: fast kernel == plain reference layer, acc0 equals the
 * direct sum (q_w - z_w)(q_a - z_a) + b_q, agreement with fake-quant, GAP rounding, the int32
 * overflow and readiness checks. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "io/model_io.h"
#include "nn/exec.h"
#include "quant/fakequant.h"
#include "nn/graph.h"
#include "quant/intref.h"
#include "quant/qmodel.h"
#include "quant/quant.h"

/* input 1x10x10 -> stem conv3x3(6)+bn+relu -> block A (stride 2, 1x1 down) -> block B (identity)
 * -> gap -> linear(5). BN statistics randomised so the folded biases are non-trivial. */
static void build_tiny(bq_model *m, uint64_t seed) {
    bq_model_init(m, "tiny", 1, 10, 10, 5);
    int x = bq_add_input(m);
    int c = bq_add_conv(m, "stem", x, 6, 3, 1, 1, 1, 0);
    c = bq_add_bn(m, "stem_bn", c);
    x = bq_add_act(m, "stem_relu", BQ_OP_RELU, c);
    bq_block_begin(m, "a", x);
    int y = bq_add_conv(m, "a_conv1", x, 8, 3, 2, 1, 1, 0);
    y = bq_add_bn(m, "a_conv1_bn", y);
    y = bq_add_act(m, "a_conv1_relu", BQ_OP_RELU, y);
    y = bq_add_conv(m, "a_conv2", y, 8, 3, 1, 1, 1, 0);
    y = bq_add_bn(m, "a_conv2_bn", y);
    int s = bq_add_conv(m, "a_down", x, 8, 1, 2, 0, 1, 0);
    s = bq_add_bn(m, "a_down_bn", s);
    y = bq_add_add(m, "a_add", y, s);
    x = bq_add_act(m, "a_relu", BQ_OP_RELU, y);
    bq_block_end(m);
    bq_block_begin(m, "b", x);
    y = bq_add_conv(m, "b_conv1", x, 8, 3, 1, 1, 1, 0);
    y = bq_add_bn(m, "b_conv1_bn", y);
    y = bq_add_act(m, "b_conv1_relu", BQ_OP_RELU, y);
    y = bq_add_conv(m, "b_conv2", y, 8, 3, 1, 1, 1, 0);
    y = bq_add_bn(m, "b_conv2_bn", y);
    y = bq_add_add(m, "b_add", y, x);
    x = bq_add_act(m, "b_relu", BQ_OP_RELU, y);
    bq_block_end(m);
    x = bq_add_gap(m, "gap", x);
    bq_add_linear(m, "fc", x, 5, 1);
    assert_int_equal(bq_model_finalize(m, seed), 0);
    uint64_t st = seed + 77;
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *nd = &m->nodes[i];
        if (nd->kind != BQ_OP_BN) continue;
        float *beta = bq_param_data(m, nd->p_beta), *mean = bq_param_data(m, nd->p_rmean);
        float *var = bq_param_data(m, nd->p_rvar), *gam = bq_param_data(m, nd->p_gamma);
        for (int k = 0; k < nd->c; k++) {
            beta[k] = 0.3f * tu_randf(&st);
            mean[k] = 0.2f * tu_randf(&st);
            var[k] = 1.0f + 0.5f * tu_randf(&st);
            gam[k] = 1.0f + 0.3f * tu_randf(&st);
        }
    }
}

/* Quantize tiny at wbits/abits and calibrate on x (n images). */
static void make_q(bq_qmodel *q, bq_model *m, int wbits, int abits, const float *x, int n) {
    char err[256];
    bq_qmodel_opts o = {wbits, abits, 1};
    assert_int_equal(bq_qmodel_init(q, m, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(q, 2.4f);
    bq_fq fq;
    bq_exec ex;
    assert_int_equal(bq_fq_init(&fq, q, n, 0), 0);
    assert_int_equal(bq_exec_init(&ex, &fq.net, n, 0), 0);
    bq_fq_bind(&fq, &ex);
    assert_int_equal(bq_fq_calibrate(&fq, &ex, x, n), 0);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
}

enum { NB = 24 };

static void test_fast_kernel_matches_reference(void **state) {
    (void)state;
    bq_model m;
    build_tiny(&m, 5);
    float x[NB * 100];
    tu_fill(x, NB * 100, 9, 1.5f);
    bq_qmodel q;
    make_q(&q, &m, 4, 4, x, NB);
    bq_intnet net;
    char err[256];
    assert_int_equal(bq_intnet_init(&net, &q, NB, err, sizeof err), 0);
    bq_intnet_forward(&net, x, NB);
    for (int l = 0; l < net.n_layers; l++) {
        const bq_ilayer *L = &net.L[l];
        size_t isz = bq_node_size(&q.model.nodes[L->in_node]), osz = (size_t)L->cout * L->N;
        uint8_t *out = malloc(osz);
        int32_t *raw = malloc(sizeof(int32_t) * osz);
        int32_t *col = malloc(sizeof(int32_t) * (size_t)L->K * L->N), *acc = malloc(sizeof(int32_t) * osz),
                *asum = malloc(sizeof(int32_t) * (size_t)L->N);
        for (int b = 0; b < NB; b++) {
            const uint8_t *res = L->res_node >= 0 ? net.codes[L->res_node] + (size_t)b * osz : NULL;
            bq_intref_layer(L, net.codes[L->in_node] + (size_t)b * isz, res, out, raw, col, acc, asum);
            if (L->raw32) assert_memory_equal(raw, net.logits + (size_t)b * osz, sizeof(int32_t) * osz);
            else assert_memory_equal(out, net.codes[L->out_node] + (size_t)b * osz, osz);
            /* acc0 = sum (q_w - z_w)(q_a - z_a) + b_q, directly, int64 (classifier: raw output) */
            if (L->raw32) {
                const uint8_t *in = net.codes[L->in_node] + (size_t)b * isz;
                for (int c = 0; c < L->cout; c++) {
                    int64_t s = L->b_q[c];
                    for (int k = 0; k < L->K; k++)
                        s += (int64_t)((int)L->codes[(size_t)c * L->K + k] - L->z_w[c]) * ((int)in[k] - L->z_a);
                    assert_true(s == raw[c]);
                }
            }
        }
        free(out); free(raw); free(col); free(acc); free(asum);
    }
    /* the residual layers read the right operands */
    int la = bq_qmodel_find_layer(&q, "a_conv2"), lb = bq_qmodel_find_layer(&q, "b_conv2");
    assert_int_equal(net.L[la].res_node, bq_find_node(&q.model, "a_down"));
    assert_int_equal(net.L[la].rbits, 8);
    assert_int_equal(net.L[lb].res_node, bq_find_node(&q.model, "a_relu"));
    bq_intnet_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

/* The float kernel (fp32_exact layers on the float convolution) and the int16 kernel give the same
 * codes and logits, bit for bit, at 4 and 8 bits, on every conv implementation; the exactness
 * bound selects the float kernel where it holds and never where it does not. */
/* The three kernels (int8 on oneDNN, float, int16) give the same codes and logits: a runs the
 * default (int8 where the centred codes fit int8, else float), b the float kernel, c int16 only. */
static void test_batch_kernels_equal_int16_kernel(void **state) {
    (void)state;
    static const int bits[2] = {4, 8};
    for (int bi = 0; bi < 2; bi++)
        for (int impl = 0; impl < 2; impl++) {
            bq_model m;
            build_tiny(&m, 11 + bi);
            float x[NB * 100];
            tu_fill(x, NB * 100, 21 + bi, 1.5f);
            bq_qmodel q;
            make_q(&q, &m, bits[bi], bits[bi], x, NB);
            bq_intnet a, b, c;
            char err[256];
            assert_int_equal(bq_intnet_init(&a, &q, NB, err, sizeof err), 0);
            assert_int_equal(bq_intnet_init(&b, &q, NB, err, sizeof err), 0);
            assert_int_equal(bq_intnet_init(&c, &q, NB, err, sizeof err), 0);
            int n_exact = 0, n_i8 = 0;
            for (int l = 0; l < a.n_layers; l++) {
                bq_ilayer *L = &a.L[l];
                L->cs.impl = impl;   /* BQ_CONV_DIRECT, BQ_CONV_IM2COL */
                long long bound = 0, dmax = 0;
                for (int c = 0; c < L->cout; c++) {
                    long long wabs = 0, da = L->z_a > bq_qmax(L->abits) - L->z_a ? L->z_a : bq_qmax(L->abits) - L->z_a;
                    for (int k = 0; k < L->K; k++) {
                        long long d = (long long)L->codes[(size_t)c * L->K + k] - L->z_w[c];
                        wabs += d < 0 ? -d : d;
                        if (d > dmax || -d > dmax) dmax = d < 0 ? -d : d;
                    }
                    if (wabs * da > bound) bound = wabs * da;
                    if (da > dmax) dmax = da;
                }
                assert_int_equal(L->i8, dmax <= 127);
                assert_int_equal(L->fp32_exact, bound < (1LL << 24));
                n_exact += L->fp32_exact;
                n_i8 += L->i8;
            }
            assert_true(n_exact == a.n_layers);   /* tiny's layers are all small enough */
            /* 4-bit: the inner layers fit int8 (not the 8-bit first/last ones); 8-bit: none */
            if (bits[bi] == 4) assert_true(n_i8 > 0); else assert_int_equal(n_i8, 0);
            b.use_i8 = 0;
            c.use_i8 = c.use_fp32 = 0;
            bq_intnet_forward(&a, x, NB);
            bq_intnet_forward(&b, x, NB);
            bq_intnet_forward(&c, x, NB);
            assert_int_equal(a.i8_fallbacks, 0);
            for (int i = 0; i < q.model.n_nodes; i++)
                if (a.codes[i]) {
                    assert_memory_equal(a.codes[i], c.codes[i], NB * bq_node_size(&q.model.nodes[i]));
                    assert_memory_equal(b.codes[i], c.codes[i], NB * bq_node_size(&q.model.nodes[i]));
                }
            assert_memory_equal(a.logits, c.logits, sizeof(int32_t) * NB * 5);
            assert_memory_equal(b.logits, c.logits, sizeof(int32_t) * NB * 5);
            bq_intnet_free(&a);
            bq_intnet_free(&b);
            bq_intnet_free(&c);
            bq_qmodel_free(&q);
            bq_model_free(&m);
        }
}

/* Integer and fake-quant paths agree: at most a rare 1-LSB difference (float rounding near
 * ties), and the same argmax. */
static void test_agrees_with_fakequant(void **state) {
    (void)state;
    const int settings[3][2] = {{8, 8}, {4, 4}, {2, 4}};
    for (int s = 0; s < 3; s++) {
        bq_model m;
        build_tiny(&m, 11 + (uint64_t)s);
        float x[NB * 100];
        tu_fill(x, NB * 100, 21 + (uint64_t)s, 1.5f);
        bq_qmodel q;
        make_q(&q, &m, settings[s][0], settings[s][1], x, NB);
        bq_intnet net;
        char err[256];
        assert_int_equal(bq_intnet_init(&net, &q, NB, err, sizeof err), 0);
        bq_intnet_forward(&net, x, NB);
        bq_fq fq;
        bq_exec ex;
        assert_int_equal(bq_fq_init(&fq, &q, NB, 0), 0);
        assert_int_equal(bq_exec_init(&ex, &fq.net, NB, 0), 0);
        bq_fq_bind(&fq, &ex);
        bq_exec_forward(&ex, &fq.net, x, NB, 0);
        long tot = 0, diff = 0;
        int32_t *codes = malloc(sizeof(int32_t) * NB * 600);
        for (int i = 0; i < q.model.n_nodes; i++) {
            if (!net.codes[i]) continue;
            size_t cnt = (size_t)NB * bq_node_size(&q.model.nodes[i]);
            bq_fq_codes(codes, &fq, i, ex.act[i], cnt);
            for (size_t k = 0; k < cnt; k++) {
                tot++;
                diff += codes[k] != net.codes[i][k];
            }
            if (i == 0) for (size_t k = 0; k < cnt; k++) assert_int_equal(codes[k], net.codes[0][k]);
        }
        assert_true(diff * 1000 <= tot);   /* <= 0.1% of all codes */
        int preds[NB], agree = 0;
        bq_intnet_predict(&net, NB, preds);
        int out = bq_model_output(&q.model);
        for (int b = 0; b < NB; b++) {
            const float *lg = ex.act[out] + (size_t)b * 5;
            int best = 0;
            for (int c = 1; c < 5; c++) if (lg[c] > lg[best]) best = c;
            agree += best == preds[b];
        }
        assert_true(agree >= NB - 1);
        free(codes);
        bq_exec_free(&ex);
        bq_fq_free(&fq);
        bq_intnet_free(&net);
        bq_qmodel_free(&q);
        bq_model_free(&m);
    }
}

/* The shipped networks (fres20: basic blocks with 8-bit shortcut quantizers; mbv2t: depthwise,
 * ReLU6, projection adds) at W2A4, W4A4 and W8A8 (first/last layer 8-bit), activations
 * calibrated on noise images: every layer of the default integer network (int8 kernel where the
 * centred codes fit int8, else the float kernel) writes exactly what the plain reference layer
 * (bq_intref_layer) computes from the same input codes, on every image, and one thread gives the
 * same bits as the default thread count. NS images (also the calibration set) keep it quick under
 * ASan; their 28x28 planes run the fast kernels' whole blocks and their tails. */
enum { NS = 2 };
/* Per-channel min-max weight grids (the Lp range search of bq_qmodel_init_weights takes most
 * of a minute on these nets under ASan; any valid grid serves this test). */
static void minmax_weights(bq_qmodel *q) {
    for (int l = 0; l < q->n_layers; l++) {
        bq_qlayer *L = &q->layers[l];
        const float *w = bq_param_data(&q->model, q->model.nodes[L->node].p_weight);
        for (int c = 0; c < L->cout; c++) {
            float lo = 0.0f, hi = 0.0f;
            for (int k = 0; k < L->per_out; k++) {
                float v = w[(size_t)c * L->per_out + k];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            L->scale[c] = hi > lo ? (hi - lo) / (float)bq_qmax(L->wbits) : 1.0f;
            L->zero[c] = (int32_t)lrintf(-lo / L->scale[c]);
        }
        bq_qmodel_quantize_layer(q, l);
    }
}

static void check_net_equals_plain(const char *path, int wbits, int abits) {
    char err[256];
    bq_model fp;
    assert_int_equal(bq_model_load(&fp, path, err, sizeof err), 0);
    size_t in_sz = (size_t)fp.nodes[0].c * fp.nodes[0].h * fp.nodes[0].w;
    float *x = malloc(sizeof(float) * NS * in_sz);
    tu_fill(x, NS * in_sz, 40 + (uint64_t)wbits, 1.5f);
    bq_qmodel q;
    bq_qmodel_opts o = {wbits, abits, 1};
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, sizeof err), 0);
    minmax_weights(&q);
    bq_fq fq;
    bq_exec ex;
    assert_int_equal(bq_fq_init(&fq, &q, NS, 0), 0);
    assert_int_equal(bq_exec_init(&ex, &fq.net, NS, 0), 0);
    bq_fq_bind(&fq, &ex);
    fq.init_p = 2.0f;   /* the squared-error range search: the cheap one under ASan */
    assert_int_equal(bq_fq_calibrate(&fq, &ex, x, NS), 0);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
    bq_intnet net, one;
    assert_int_equal(bq_intnet_init(&net, &q, NS, err, sizeof err), 0);
    assert_int_equal(bq_intnet_init(&one, &q, NS, err, sizeof err), 0);
    bq_intnet_forward(&net, x, NS);
    assert_int_equal(net.i8_fallbacks, 0);
    /* one thread (one block of images per oneDNN call) gives the same bits as the default */
    const char *env = getenv("BQ_NUM_THREADS");
    char saved[16] = "";
    if (env) snprintf(saved, sizeof saved, "%s", env);
    setenv("BQ_NUM_THREADS", "1", 1);
    bq_intnet_forward(&one, x, NS);
    if (env) setenv("BQ_NUM_THREADS", saved, 1); else unsetenv("BQ_NUM_THREADS");
    for (int i = 0; i < q.model.n_nodes; i++)
        if (net.codes[i]) assert_memory_equal(one.codes[i], net.codes[i], NS * bq_node_size(&q.model.nodes[i]));
    assert_memory_equal(one.logits, net.logits, sizeof(int32_t) * NS * (size_t)net.L[net.n_layers - 1].cout);
    bq_intnet_free(&one);
    int n_i8 = 0;
    for (int l = 0; l < net.n_layers; l++) {
        const bq_ilayer *L = &net.L[l];
        n_i8 += L->i8;
        size_t isz = bq_node_size(&q.model.nodes[L->in_node]), osz = (size_t)L->cout * L->N;
        uint8_t *out = malloc(osz);
        int32_t *raw = malloc(sizeof(int32_t) * osz), *acc = malloc(sizeof(int32_t) * osz);
        int32_t *col = malloc(sizeof(int32_t) * (size_t)L->K * L->N), *asum = malloc(sizeof(int32_t) * (size_t)L->N);
        for (int b = 0; b < NS; b++) {
            const uint8_t *res = L->res_node >= 0 ? net.codes[L->res_node] + (size_t)b * osz : NULL;
            bq_intref_layer(L, net.codes[L->in_node] + (size_t)b * isz, res, out, raw, col, acc, asum);
            if (L->raw32) assert_memory_equal(raw, net.logits + (size_t)b * osz, sizeof(int32_t) * osz);
            else assert_memory_equal(out, net.codes[L->out_node] + (size_t)b * osz, osz);
        }
        free(out); free(raw); free(acc); free(col); free(asum);
    }
    if (abits <= 4) assert_true(n_i8 > net.n_layers / 2);   /* the inner layers run on int8 */
    bq_intnet_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
    free(x);
}

static void test_shipped_nets_equal_plain_reference(void **state) {
    (void)state;
    static const char *const paths[2] = {"configs/models/fres20.bqm", "configs/models/mbv2t.bqm"};
    static const int wa[3][2] = {{2, 4}, {4, 4}, {8, 8}};
    for (int mi = 0; mi < 2; mi++)
        for (int s = 0; s < 3; s++) check_net_equals_plain(paths[mi], wa[s][0], wa[s][1]);
}

static void test_gap_rounding(void **state) {
    (void)state;
    uint8_t in[] = {1, 2, 1, 1, 2, 0, 1, 255, 254};
    uint8_t out[3];
    bq_intref_gap(out, in, 1, 2);            /* 1.5 -> 2 (half up) */
    assert_int_equal(out[0], 2);
    bq_intref_gap(out, in + 2, 1, 3);        /* 4/3 -> 1 */
    assert_int_equal(out[0], 1);
    bq_intref_gap(out, in + 5, 1, 2);        /* 0.5 -> 1 */
    assert_int_equal(out[0], 1);
    bq_intref_gap(out, in + 7, 1, 2);        /* 254.5 -> 255 */
    assert_int_equal(out[0], 255);
}

static void test_integer_checks(void **state) {
    (void)state;
    char err[512];
    /* acc overflow: linear with K = 40000 at 8x8 bits: 40000*255*255 > 2^31 */
    bq_model m;
    bq_model_init(&m, "wide", 1, 200, 200, 2);
    int x = bq_add_input(&m);
    bq_add_linear(&m, "fc", x, 2, 1);
    assert_int_equal(bq_model_finalize(&m, 1), 0);
    bq_qmodel q;
    bq_qmodel_opts o = {8, 8, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(&q, 2.4f);
    assert_int_equal(bq_qmodel_check_integer(&q, err, sizeof err), -1);
    assert_non_null(strstr(err, "not initialised"));
    q.aq[0].initialized = 1;
    q.aq[0].scale = 0.01f;
    assert_int_equal(bq_qmodel_check_integer(&q, err, sizeof err), -1);
    assert_non_null(strstr(err, "layer 'fc': acc = sum q_w*q_a can reach"));
    bq_qmodel_free(&q);
    bq_model_free(&m);
    /* bias overflow and float activations on the tiny model */
    build_tiny(&m, 3);
    float xi[NB * 100];
    tu_fill(xi, NB * 100, 4, 1.0f);
    make_q(&q, &m, 4, 4, xi, NB);
    assert_int_equal(bq_qmodel_check_integer(&q, err, sizeof err), 0);
    int l = bq_qmodel_find_layer(&q, "b_conv1");
    bq_param_data(&q.model, q.model.nodes[q.layers[l].node].p_bias)[2] = 1e12f;
    assert_int_equal(bq_qmodel_check_integer(&q, err, sizeof err), -1);
    assert_non_null(strstr(err, "layer 'b_conv1' channel 2: quantized bias"));
    bq_qmodel_free(&q);
    bq_qmodel_opts o32 = {4, 32, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o32, err, sizeof err), 0);
    assert_int_equal(bq_qmodel_check_integer(&q, err, sizeof err), -1);
    assert_non_null(strstr(err, "off (float activations)"));
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_kernel_matches_reference),
        cmocka_unit_test(test_batch_kernels_equal_int16_kernel),
        cmocka_unit_test(test_agrees_with_fakequant),
        cmocka_unit_test(test_shipped_nets_equal_plain_reference),
        cmocka_unit_test(test_gap_rounding),
        cmocka_unit_test(test_integer_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
