/* test_quant — quantizer grids and rounding, range search, requantisation (ties, bounds), recipe
 * loader, quantizer placement and bit rules, bits.yaml, the .bqq file. */
#include "testutil.h"

#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/fileio.h"
#include "nn/graph.h"
#include "quant/qmodel.h"
#include "quant/quant.h"
#include "quant/recipe.h"

/* ---- rounding ---- */

static void test_weight_rounding_half_even(void **state) {
    (void)state;
    /* w/s exactly on .5: half to even */
    assert_int_equal(bq_wq_code(2.5f, 1.0f, 0, 8), 2);
    assert_int_equal(bq_wq_code(3.5f, 1.0f, 0, 8), 4);
    assert_int_equal(bq_wq_code(-0.5f, 1.0f, 5, 8), 5);   /* -0 + 5 */
    assert_int_equal(bq_wq_code(-1.5f, 1.0f, 5, 8), 3);   /* -2 + 5 */
    /* clamps */
    assert_int_equal(bq_wq_code(100.0f, 1.0f, 0, 4), 15);
    assert_int_equal(bq_wq_code(-100.0f, 1.0f, 3, 4), 0);
}

static void test_act_rounding_half_up(void **state) {
    (void)state;
    assert_int_equal(bq_aq_code(2.5f, 1.0f, 0, 8), 3);
    assert_int_equal(bq_aq_code(3.5f, 1.0f, 0, 8), 4);
    assert_int_equal(bq_aq_code(-2.5f, 1.0f, 10, 8), 8);  /* floor(-2.5 + .5) = -2 */
    assert_int_equal(bq_aq_code(-0.5f, 0.5f, 10, 8), 9);  /* -1 exactly */
    assert_int_equal(bq_aq_code(1e9f, 0.1f, 0, 2), 3);
    /* fake quant = (code - z) * s */
    float x[3] = {0.26f, -0.74f, 10.0f}, y[3];
    bq_aq_fake(y, x, 3, 0.5f, 2, 3);
    assert_true(y[0] == 0.5f && y[1] == -0.5f && y[2] == 2.5f);
}

/* ---- range search ---- */

/* Independent re-implementation of the score for the reference check. */
static double ref_score(const float *x, int n, float s, int z, int bits, int half_up) {
    double acc = 0;
    for (int i = 0; i < n; i++) {
        int32_t q = half_up ? bq_aq_code(x[i], s, z, bits) : bq_wq_code(x[i], s, z, bits);
        acc += pow(fabs((double)x[i] - (double)(q - z) * s), 2.4);
    }
    return acc / n;
}

static void test_range_search(void **state) {
    (void)state;
    float x[257];
    tu_fill(x, 257, 7, 1.0f);
    x[3] = 6.0f;   /* an outlier: the search must clip it */
    for (int bits = 2; bits <= 8; bits++) {
        float s; int32_t z;
        bq_range_search(&s, &z, x, 257, bits, 2.4f, 0);
        assert_true(s > 0.0f);
        assert_true(z >= 0 && z <= bq_qmax(bits));
        double best = ref_score(x, 257, s, z, bits, 0);
        /* no candidate of the grid is better */
        double xmin = x[0], xmax = 6;
        for (int i = 0; i < 257; i++) { if (x[i] < xmin) xmin = x[i]; }
        for (int i = 0; i < 80; i++) {
            double f = 1.0 - 0.01 * i;
            float cs = (float)((xmax * f - xmin * f) / bq_qmax(bits));
            double cz = nearbyint(-xmin * f / cs);
            int zz = cz < 0 ? 0 : (cz > bq_qmax(bits) ? bq_qmax(bits) : (int)cz);
            assert_true(best <= ref_score(x, 257, cs, zz, bits, 0) * (1.0 + 1e-5) + 1e-12);
        }
        /* clipping the outlier beats min/max at low bits */
        if (bits <= 4) assert_true(s < (float)((6.0 - xmin) / bq_qmax(bits)));
    }
}

static void test_range_guards(void **state) {
    (void)state;
    float zero[9] = {0};
    float s; int32_t z;
    bq_range_search(&s, &z, zero, 9, 4, 2.4f, 0);
    assert_true(s == 1.0f && z == 0);
    float cst[5] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
    bq_range_search(&s, &z, cst, 5, 4, 2.4f, 0);
    assert_true(s > 0 && isfinite(s) && z >= 0 && z <= 15);
    float neg[4] = {-0.2f, -0.2f, -0.2f, -0.2f};
    bq_range_search(&s, &z, neg, 4, 2, 2.4f, 1);
    assert_true(s > 0 && z >= 0 && z <= 3);
    /* the candidate i=0 of a constant channel represents the value exactly */
    assert_true(fabs((bq_aq_code(-0.2f, s, z, 2) - z) * s + 0.2) < 0.11);
    /* one-signed data: z is clamped into the code range (documented deviation) */
    float pos[6] = {1.0f, 1.5f, 2.0f, 2.5f, 3.0f, 3.5f};
    bq_range_search(&s, &z, pos, 6, 3, 2.4f, 0);
    assert_int_equal(z, 0);
}

static void test_weight_per_channel(void **state) {
    (void)state;
    enum { C = 5, K = 37 };
    float w[C * K], wh[C * K], s[C];
    int32_t z[C];
    uint8_t q[C * K];
    tu_fill(w, C * K, 3, 0.5f);
    for (int k = 0; k < K; k++) w[2 * K + k] = 0.0f;   /* all-zero channel */
    for (int k = 0; k < K; k++) w[4 * K + k] *= 100.0f; /* very different range */
    bq_wq_init_mse(s, z, w, C, K, 3, 2.4f);
    bq_wq_quantize(q, w, s, z, C, K, 3);
    bq_wq_dequantize(wh, q, s, z, C, K);
    for (int c = 0; c < C; c++) {
        double maxerr = 0;
        for (int k = 0; k < K; k++) {
            assert_true(q[c * K + k] <= 7);
            double e = fabs(wh[c * K + k] - w[c * K + k]);
            if (e > maxerr) maxerr = e;
        }
        if (c == 2) assert_true(maxerr == 0.0);
        else assert_true(maxerr < 0.5 * s[c] * 7);   /* well inside the range */
    }
    assert_true(s[4] > 50.0f * s[0]);
}

/* ---- requantisation ---- */

static void test_requant_make(void **state) {
    (void)state;
    bq_requant rq;
    assert_int_equal(bq_requant_make(&rq, 0.5, 0.0), 0);
    assert_int_equal(rq.sh, 31);
    assert_true(rq.m_acc == (1u << 30) && rq.m_res == 0);
    /* the larger ratio decides the shift */
    assert_int_equal(bq_requant_make(&rq, 0.001, 3.0), 0);
    assert_true(rq.m_res < (1u << 31) && rq.m_acc < (1u << 31));
    assert_true(rq.m_res >= (1u << 30));   /* largest shift: the top multiplier uses bit 30 */
    /* tiny ratios take sh = 62 */
    assert_int_equal(bq_requant_make(&rq, 1e-12, 0.0), 0);
    assert_int_equal(rq.sh, 62);
    /* impossible */
    assert_int_equal(bq_requant_make(&rq, 2e9, 0.0), -1);
    assert_int_equal(bq_requant_make(&rq, -1.0, 0.0), -1);
    assert_int_equal(bq_requant_make(&rq, NAN, 0.0), -1);
}

static void test_requant_ties(void **state) {
    (void)state;
    /* m_acc = 2^30, sh = 31: y = acc0 / 2, ties at odd acc0 round half UP (toward +inf) */
    bq_requant rq = {1u << 30, 0, 31};
    assert_int_equal(bq_requant_apply(5, 0, &rq, 0, -1000, 1000), 3);    /* 2.5 -> 3 */
    assert_int_equal(bq_requant_apply(-5, 0, &rq, 0, -1000, 1000), -2);  /* -2.5 -> -2 */
    assert_int_equal(bq_requant_apply(7, 0, &rq, 0, -1000, 1000), 4);
    assert_int_equal(bq_requant_apply(-7, 0, &rq, 0, -1000, 1000), -3);
    assert_int_equal(bq_requant_apply(4, 0, &rq, 0, -1000, 1000), 2);
    /* residual term: (acc0*m + r*m_res) then one rounding: 1*2^30 + 1*2^30 = 2^31 -> exactly 1 */
    bq_requant rr = {1u << 30, 1u << 30, 31};
    assert_int_equal(bq_requant_apply(1, 1, &rr, 0, -9, 9), 1);
    assert_int_equal(bq_requant_apply(1, 0, &rr, 0, -9, 9), 1);   /* 0.5 -> 1 */
    assert_int_equal(bq_requant_apply(-1, 0, &rr, 0, -9, 9), 0);  /* -0.5 -> 0 */
    /* zero point and clamp */
    assert_int_equal(bq_requant_apply(5, 0, &rq, 10, 0, 15), 13);
    assert_int_equal(bq_requant_apply(100, 0, &rq, 10, 0, 15), 15);
    assert_int_equal(bq_requant_apply(-100, 0, &rq, 10, 10, 15), 10);
}

static void test_requant_matches_rational(void **state) {
    (void)state;
    uint64_t seed = 99;
    int far = 0;
    for (int t = 0; t < 20000; t++) {
        double ratio = pow(10.0, -6.0 + 6.0 * (0.5 + 0.5 * tu_randf(&seed)));
        int32_t acc0 = (int32_t)(tu_randf(&seed) * 2e6);
        bq_requant rq;
        assert_int_equal(bq_requant_make(&rq, ratio, 0.0), 0);
        int32_t y = bq_requant_apply(acc0, 0, &rq, 0, INT32_MIN, INT32_MAX);
        double exact = (double)acc0 * ratio + 0.5, fl = floor(exact);
        /* the multiplier's relative error is < 2^-31: only results within that of a tie move */
        if (fabs(exact - fl) > 1e-6 && fabs(exact - fl - 1) > 1e-6) {
            assert_int_equal(y, (int32_t)fl);
            far++;
        } else {
            assert_true(llabs((long long)y - (long long)fl) <= 1);
        }
    }
    assert_true(far > 19000);
}

static void test_requant_overflow_bounds(void **state) {
    (void)state;
    /* extreme operands: everything stays inside int64 (UBSan would abort otherwise) */
    bq_requant rq = {0x7fffffffu, 0x7fffffffu, 1};
    int32_t a[2] = {INT32_MIN, INT32_MAX};
    int32_t r[2] = {-255, 255};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            __int128 t = (__int128)a[i] * 0x7fffffff + (__int128)r[j] * 0x7fffffff;
            __int128 y = (t + 1) >> 1;
            int32_t got = bq_requant_apply(a[i], r[j], &rq, 0, INT32_MIN, INT32_MAX);
            __int128 want = y < INT32_MIN ? INT32_MIN : (y > INT32_MAX ? INT32_MAX : y);
            assert_true((__int128)got == want);
        }
    bq_requant r62 = {0x7fffffffu, 0x7fffffffu, 62};
    assert_int_equal(bq_requant_apply(INT32_MAX, 255, &r62, 0, -5, 5), 1);   /* ~ 2^62 / 2^62 */
    assert_int_equal(bq_requant_apply(INT32_MIN, -255, &r62, 0, -5, 5), -1);
}

static void test_out_clamp(void **state) {
    (void)state;
    int32_t lo, hi;
    bq_out_clamp(&lo, &hi, BQ_OUTACT_NONE, 0, 0, 0.1f, 3, 4);
    assert_true(lo == 0 && hi == 15);
    bq_out_clamp(&lo, &hi, BQ_OUTACT_RELU, 0, 0, 0.1f, 3, 4);
    assert_true(lo == 3 && hi == 15);
    bq_out_clamp(&lo, &hi, BQ_OUTACT_RELU6, 0, 6, 1.0f, 2, 4);
    assert_true(lo == 2 && hi == 8);
    bq_out_clamp(&lo, &hi, BQ_OUTACT_RELU6, 0, 6, 0.1f, 0, 4);
    assert_true(lo == 0 && hi == 15);
}

/* ---- recipe ---- */

static void test_recipe(void **state) {
    (void)state;
    bq_recipe r;
    char err[512];
    assert_int_equal(bq_recipe_parse(&r, "", 0, "e.yaml", err, sizeof err), 0);
    assert_int_equal(r.method, BQ_METHOD_RTN);
    assert_int_equal(r.iters, 20000);
    assert_int_equal(r.batch, 32);
    assert_int_equal(r.calib, 1024);
    assert_true(fabsf(r.weight_lambda - 0.01f) < 1e-9f);
    assert_true(r.beta_start == 20.0f && r.beta_end == 2.0f && fabsf(r.warmup - 0.2f) < 1e-7f);
    assert_int_equal(r.act_iters, 5000);
    assert_true(fabsf(r.p - 2.4f) < 1e-7f && r.first_last_8bit == 1 && r.act_init_batch == 64);
    const char *t = "method: brecq_qdrop\nloss: mse\nwbits: 2\nabits: 32\nqdrop_prob: 0.25\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "a.yaml", err, sizeof err), 0);
    assert_true(r.method == BQ_METHOD_BRECQ_QDROP && r.loss == BQ_LOSS_MSE && r.wbits == 2 &&
                r.abits == 32 && r.qdrop_prob == 0.25f);
    t = "wbits: 4\nlerning_rate: 3\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "b.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "b.yaml:2:1: unknown key 'lerning_rate'"));
    t = "wbits: 9\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "c.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "c.yaml:1:8: 'wbits' must be an integer in 2..8"));
    t = "abits: 16\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "c.yaml", err, sizeof err), -1);
    t = "method: gptq\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "d.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "d.yaml:1:9: 'method' must be one of rtn, adaround, brecq"));
    t = "lr_round: fast\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "e.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "e.yaml:1:11:"));
    t = "method: brecq\nbatch: 64\ncalib: 32\nact_init_batch: 16\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "f.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "'batch' (64) must not exceed 'calib' (32)"));
    t = "wbits: [4\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "g.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "g.yaml:"));
}

/* ---- qmodel placement ---- */

static void test_placement_fres20(void **state) {
    (void)state;
    bq_model m;
    assert_int_equal(bq_arch_build(&m, "fres20", 1), 0);
    bq_qmodel q;
    char err[256];
    bq_qmodel_opts o = {4, 4, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
    assert_int_equal(q.n_layers, 22);   /* stem, 18 block convs, 2 downsample, fc */
    /* input, stem out, 9 conv1 outs, 9 block outs, 2 shortcut */
    assert_int_equal(q.n_aq, 22);
    assert_int_equal(q.aq[0].node, 0);
    assert_int_equal(q.aq[0].bits, 8);
    int n_branch = 0, n_short = 0;
    for (int l = 0; l < q.n_layers; l++) {
        const bq_qlayer *L = &q.layers[l];
        const char *name = q.model.nodes[L->node].name;
        if (strstr(name, "conv2")) {
            n_branch++;
            assert_true(L->add_node >= 0 && L->res_node >= 0 && L->out_act == BQ_OUTACT_RELU);
            assert_int_equal(q.node_aq[L->node], -1);   /* not quantized before the add */
            assert_int_equal(q.aq[L->aq_out].role == BQ_AQ_BLOCK_OUT || q.aq[L->aq_out].role == BQ_AQ_LAST_IN, 1);
        }
        if (strstr(name, "down")) {
            n_short++;
            assert_int_equal(q.aq[L->aq_out].role, BQ_AQ_SHORTCUT);
            assert_int_equal(q.aq[L->aq_out].bits, 8);
            assert_int_equal(L->wbits, 4);
        }
        if (strstr(name, "conv1")) assert_int_equal(q.aq[L->aq_out].bits, 4);
    }
    assert_int_equal(n_branch, 9);
    assert_int_equal(n_short, 2);
    /* the down layers' blocks: the branch's shortcut is the down conv */
    int l = bq_qmodel_find_layer(&q, "s2b1_conv2");
    assert_true(l >= 0);
    assert_string_equal(q.model.nodes[q.layers[l].res_node].name, "s2b1_down");
    l = bq_qmodel_find_layer(&q, "s1b2_conv2");
    assert_string_equal(q.model.nodes[q.layers[l].res_node].name, "s1b1_relu");
    /* first / last 8-bit */
    assert_int_equal(q.layers[0].wbits, 8);
    assert_int_equal(q.aq[q.layers[0].aq_out].bits, 8);
    const bq_qlayer *fc = &q.layers[q.n_layers - 1];
    assert_true(fc->raw32 && fc->wbits == 8 && q.aq[fc->aq_in].bits == 8);
    assert_string_equal(q.model.nodes[q.aq[fc->aq_in].node].name, "s3b3_relu");
    int gap = bq_find_node(&q.model, "gap");
    assert_int_equal(q.node_aq[gap], fc->aq_in);
    bq_qmodel_free(&q);
    /* float activations */
    bq_qmodel_opts o32 = {2, 32, 0};
    assert_int_equal(bq_qmodel_init(&q, &m, &o32, err, sizeof err), 0);
    assert_int_equal(bq_qmodel_act_enabled(&q), 0);
    assert_int_equal(q.layers[0].wbits, 2);
    bq_qmodel_free(&q);
    bq_qmodel_opts bad = {9, 4, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &bad, err, sizeof err), -1);
    bq_model_free(&m);
}

static void test_placement_mbv2t(void **state) {
    (void)state;
    bq_model m;
    assert_int_equal(bq_arch_build(&m, "mbv2t", 1), 0);
    bq_qmodel q;
    char err[256];
    bq_qmodel_opts o = {4, 4, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
    int with_add = 0;
    for (int l = 0; l < q.n_layers; l++) {
        const bq_qlayer *L = &q.layers[l];
        if (L->add_node >= 0) {
            with_add++;
            assert_true(strstr(q.model.nodes[L->node].name, "project") != NULL);
            assert_int_equal(L->out_act, BQ_OUTACT_NONE);
            assert_true(q.node_aq[L->res_node] >= 0);
        }
        if (strstr(q.model.nodes[L->node].name, "dw")) assert_int_equal(L->out_act, BQ_OUTACT_RELU6);
    }
    assert_true(with_add >= 3);
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

/* torchvision MobileNetV2 order: add(shortcut, branch) where the shortcut is the previous block's
 * projection conv (read by the expand conv too). With swap, the same graph with add(branch,
 * shortcut), the mbv2t order: both must place the add on the branch's projection conv. */
static void build_proj_shortcut(bq_model *m, int swap) {
    assert_int_equal(bq_model_init(m, "projsc", 1, 8, 8, 10), 0);
    int x = bq_add_input(m);
    x = bq_add_act(m, "stem_relu", BQ_OP_RELU, bq_add_conv(m, "stem", x, 4, 3, 1, 1, 1, 1));
    int p = bq_add_conv(m, "prev_project", x, 4, 1, 1, 0, 1, 1);
    bq_block_begin(m, "b1", p);
    int y = bq_add_act(m, "expand_relu", BQ_OP_RELU, bq_add_conv(m, "expand", p, 8, 1, 1, 0, 1, 1));
    y = bq_add_conv(m, "project", y, 4, 1, 1, 0, 1, 1);
    y = swap ? bq_add_add(m, "add", y, p) : bq_add_add(m, "add", p, y);
    bq_block_end(m);
    y = bq_add_gap(m, "gap", y);
    assert_true(bq_add_linear(m, "fc", y, 10, 1) >= 0);
    assert_int_equal(bq_model_finalize(m, 1), 0);
}

static void test_placement_projection_shortcut(void **state) {
    (void)state;
    for (int swap = 0; swap < 2; swap++) {
        bq_model m;
        build_proj_shortcut(&m, swap);
        bq_qmodel q;
        char err[256];
        bq_qmodel_opts o = {4, 4, 1};
        assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
        const bq_qlayer *L = &q.layers[bq_qmodel_find_layer(&q, "project")];
        assert_int_equal(L->add_node, bq_find_node(&q.model, "add"));
        assert_int_equal(L->res_node, bq_find_node(&q.model, "prev_project"));
        assert_int_equal(q.aq[L->aq_res].bits, 8);           /* the 8-bit shortcut quantizer */
        assert_int_equal(q.layers[bq_qmodel_find_layer(&q, "expand")].aq_in, L->aq_res);
        assert_int_equal(q.node_aq[bq_find_node(&q.model, "add")], L->aq_out);
        bq_qmodel_free(&q);
        bq_model_free(&m);
    }
}

/* relu(a) + relu(b): no operand is a conv output, so no layer can end the branch: one-line error
 * naming the add. */
static void test_placement_unabsorbable_add(void **state) {
    (void)state;
    bq_model m;
    assert_int_equal(bq_model_init(&m, "twoacts", 1, 8, 8, 10), 0);
    int x = bq_add_input(&m);
    int a = bq_add_act(&m, "a_relu", BQ_OP_RELU, bq_add_conv(&m, "a", x, 4, 3, 1, 1, 1, 1));
    int b = bq_add_act(&m, "b_relu", BQ_OP_RELU, bq_add_conv(&m, "b", x, 4, 3, 1, 1, 1, 1));
    int y = bq_add_gap(&m, "gap", bq_add_add(&m, "sum", a, b));
    assert_true(bq_add_linear(&m, "fc", y, 10, 1) >= 0);
    assert_int_equal(bq_model_finalize(&m, 1), 0);
    bq_qmodel q;
    char err[256];
    bq_qmodel_opts o = {4, 4, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "add 'sum'"));
    assert_non_null(strstr(err, "no layer can compute it"));
    assert_null(strchr(err, '\n'));
    bq_model_free(&m);
}

static void test_bits_yaml(void **state) {
    (void)state;
    bq_model m;
    assert_int_equal(bq_arch_build(&m, "fres20", 1), 0);
    bq_qmodel q;
    char err[512];
    bq_qmodel_opts o = {4, 4, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
    const char *t = "s1b1_conv1: {wbits: 2, abits: 3}\ns1b1_conv2:\n  wbits: 3\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "b.yaml", err, sizeof err), 0);
    int l1 = bq_qmodel_find_layer(&q, "s1b1_conv1"), l2 = bq_qmodel_find_layer(&q, "s1b1_conv2");
    assert_int_equal(q.layers[l1].wbits, 2);
    assert_int_equal(q.aq[q.layers[l1].aq_in].bits, 3);   /* the stem output quantizer */
    assert_int_equal(q.layers[l2].wbits, 3);
    t = "s1b1_conv1: {wbits: 2}\nnot_a_layer: {wbits: 2}\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "b.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "b.yaml:2:1: unknown layer 'not_a_layer'"));
    /* s2b1_conv1 and s2b1_down read the same tensor (s1b3_relu) */
    t = "s2b1_conv1: {abits: 4}\ns2b1_down: {abits: 2}\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "c.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "c.yaml:2:20:"));
    assert_non_null(strstr(err, "conflicts"));
    t = "s2b1_conv1: {wbits: 1}\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "d.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "d.yaml:1:21: 's2b1_conv1.wbits' must be an integer in 2..8"));
    t = "s2b1_conv1: {bits: 3}\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "e.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown key 's2b1_conv1.bits'"));
    /* a layer, or a key of one layer, given twice (YAML allows it; the loader does not) */
    t = "s2b1_conv1: {wbits: 2}\ns1b1_conv1: {wbits: 3}\ns2b1_conv1: {wbits: 4}\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "f.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "f.yaml:3:1: layer 's2b1_conv1' given twice (first at line 1)"));
    t = "s2b1_conv1: {wbits: 2, wbits: 3}\n";
    assert_int_equal(bq_qmodel_apply_bits_text(&q, t, strlen(t), "g.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "g.yaml:1:24: key 's2b1_conv1.wbits' given twice"));
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

static void test_qmodel_file(void **state) {
    (void)state;
    bq_model m;
    assert_int_equal(bq_arch_build(&m, "fres20", 3), 0);
    bq_qmodel q, r;
    char err[512];
    bq_qmodel_opts o = {3, 4, 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(&q, 2.4f);
    for (int a = 0; a < q.n_aq; a++) { q.aq[a].scale = 0.01f * (a + 1); q.aq[a].zero = a % 3; q.aq[a].initialized = 1; }
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_quant_%d.bqq", (int)getpid());
    assert_int_equal(bq_qmodel_save(&q, path, err, sizeof err), 0);
    assert_int_equal(bq_qmodel_load(&r, path, err, sizeof err), 0);
    assert_true(bq_qmodel_hash(&q) == bq_qmodel_hash(&r));
    assert_true(r.src_hash == q.src_hash);
    assert_int_equal(r.layers[3].wbits, 3);
    assert_memory_equal(r.layers[5].codes, q.layers[5].codes, (size_t)q.layers[5].cout * q.layers[5].per_out);
    bq_qmodel_free(&r);
    /* corrupt: a flipped byte, a truncation, a wrong version */
    unsigned char *d;
    size_t len;
    assert_int_equal(bq_read_file(path, &d, &len, err, sizeof err), 0);
    d[len / 2] ^= 0x10;
    assert_int_equal(bq_write_file_atomic(path, d, len, err, sizeof err), 0);
    assert_int_equal(bq_qmodel_load(&r, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, path));
    d[len / 2] ^= 0x10;
    assert_int_equal(bq_write_file_atomic(path, d, len - 100, err, sizeof err), 0);
    assert_int_equal(bq_qmodel_load(&r, path, err, sizeof err), -1);
    d[8] = 9;   /* version field, then fix the CRC so only the version is wrong */
    uint32_t crc = (uint32_t)crc32(0L, d, (uInt)(len - 4));
    memcpy(d + len - 4, &crc, 4);
    assert_int_equal(bq_write_file_atomic(path, d, len, err, sizeof err), 0);
    assert_int_equal(bq_qmodel_load(&r, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "'version' is 9"));
    free(d);
    unlink(path);
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight_rounding_half_even),
        cmocka_unit_test(test_act_rounding_half_up),
        cmocka_unit_test(test_range_search),
        cmocka_unit_test(test_range_guards),
        cmocka_unit_test(test_weight_per_channel),
        cmocka_unit_test(test_requant_make),
        cmocka_unit_test(test_requant_ties),
        cmocka_unit_test(test_requant_matches_rational),
        cmocka_unit_test(test_requant_overflow_bounds),
        cmocka_unit_test(test_out_clamp),
        cmocka_unit_test(test_recipe),
        cmocka_unit_test(test_placement_fres20),
        cmocka_unit_test(test_placement_mbv2t),
        cmocka_unit_test(test_placement_projection_shortcut),
        cmocka_unit_test(test_placement_unabsorbable_add),
        cmocka_unit_test(test_bits_yaml),
        cmocka_unit_test(test_qmodel_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
