/*
 * test_fisher.c — reconstruction loss and Fisher weighting (sw/quant/fisher.h).
 *
 *  - the KL(fp || q) logit gradient and the per-sample block-output gradient obtained by the real
 *    backward pass through the rest of a small network match central differences of the summed
 *    per-sample KL (the network after the checked node is smooth: conv -> GAP -> linear);
 *  - the weighted Lp loss gradient (pw = 2 and 2.4) matches central differences;
 *  - the weight modes: normalised weights have mean 1 and floor `damping`, the reference mode is
 *    (|g| + 1)^2, and the Fisher-weighted loss ranks errors by g^2 where MSE cannot tell them apart.
 */
#include "testutil.h"

#include <string.h>

#include "nn/exec.h"
#include "quant/fisher.h"
#include "nn/graph.h"

#define GRAD_TOL    5e-3   /* worst relative error of a gradient check */
#define GRAD_FLOOR  1e-4   /* absolute floor of the relative-error denominator */
#define H_ACT       1e-1f  /* step on activations: the net after the node is linear up to the
                              softmax, so truncation is small and float noise of the KL sum is not */
#define POW_TOL     2e-5   /* fast pow vs powf, relative */
#define CODE_TOL    3e-2   /* relative precision of a log-coded weight (12 codes per octave) */

static void test_fast_pow(void **st) {
    (void)st;
    double worst = 0.0;
    for (float x = 1e-6f; x < 1e4f; x *= 1.037f) {
        for (int k = 0; k < 3; k++) {
            float e = k == 0 ? 0.4f : (k == 1 ? 1.4f : 2.4f);
            double r = pow(x, e), a = bq_fast_pow(x, e);
            double rel = fabs(a - r) / r;
            if (rel > worst) worst = rel;
        }
    }
    printf("fast pow worst rel err %.2e\n", worst);
    assert_true(worst < POW_TOL);
    assert_true(bq_fast_pow(0.0f, 0.4f) == 0.0f);
}

static void test_kl_grad(void **st) {
    (void)st;
    enum { NS = 3, K = 10 };
    float a[NS * K], b[NS * K], g[NS * K], tmp[NS * K];
    tu_fill(a, NS * K, 1, 3.0f);
    tu_fill(b, NS * K, 2, 3.0f);
    double kl = bq_kl_logits_grad(g, a, b, NS, K);
    assert_true(kl > 0.0);
    double same = bq_kl_logits_grad(tmp, a, a, NS, K);
    assert_true(fabs(same) < 1e-9);
    double worst = 0.0;
    for (int i = 0; i < NS * K; i++) {
        float b0 = b[i];
        b[i] = b0 + 1e-3f;
        double lp = bq_kl_logits_grad(tmp, a, b, NS, K) * NS;
        b[i] = b0 - 1e-3f;
        double lm = bq_kl_logits_grad(tmp, a, b, NS, K) * NS;
        b[i] = b0;
        double e = tu_relerr(g[i], (lp - lm) / 2e-3, GRAD_FLOOR);
        if (e > worst) worst = e;
    }
    printf("kl grad worst rel err %.2e\n", worst);
    assert_true(worst < GRAD_TOL);
}

/* input (1,8,8) -> conv 3x3 (4) -> relu [checked node] -> conv 3x3 (6) -> gap -> linear 5 */
static void build_tiny(bq_model *m, int *node) {
    bq_model_init(m, "tiny", 1, 8, 8, 5);
    int x = bq_add_input(m);
    int c = bq_add_conv(m, "c1", x, 4, 3, 1, 1, 1, 1);
    *node = bq_add_act(m, "r1", BQ_OP_RELU, c);
    int c2 = bq_add_conv(m, "c2", *node, 6, 3, 1, 1, 1, 1);
    int gp = bq_add_gap(m, "gap", c2);
    int fc = bq_add_linear(m, "fc", gp, 5, 1);
    assert_true(fc > 0);
    assert_int_equal(bq_model_finalize(m, 3), 0);
}

static double kl_sum_from(bq_exec *ex, const bq_model *m, const float *fp, int n, int node,
                          float *tmp) {
    bq_exec_forward_range(ex, m, NULL, n, node + 1, m->n_nodes - 1, 0);
    return bq_kl_logits_grad(tmp, fp, ex->act[bq_model_output(m)], n, m->num_classes) * n;
}

static void test_block_output_grad(void **st) {
    (void)st;
    enum { NS = 2 };
    bq_model m;
    int node;
    build_tiny(&m, &node);
    bq_exec ex;
    assert_int_equal(bq_exec_init(&ex, &m, NS, 1), 0);
    float x[NS * 64], fp[NS * 5], tmp[NS * 5];
    tu_fill(x, NS * 64, 4, 1.0f);
    tu_fill(fp, NS * 5, 6, 2.0f);   /* any target distribution */
    size_t sz = (size_t)NS * bq_node_size(&m.nodes[node]);
    float *g = malloc(sizeof(float) * sz);
    assert_non_null(g);
    bq_fisher_output_grad(g, &ex, &m, x, fp, NS, node);
    double worst = 0.0, gmax = 0.0;
    int nonzero = 0;
    float *act = ex.act[node];
    for (size_t i = 0; i < sz; i++) if (fabs(g[i]) > gmax) gmax = fabs(g[i]);
    /* float forward passes: differences of the summed KL carry ~1e-7 relative noise, so tiny
     * gradients are judged against a floor of 1% of the largest one */
    for (size_t i = 0; i < sz; i += 3) {
        float a0 = act[i];
        act[i] = a0 + H_ACT;
        double lp = kl_sum_from(&ex, &m, fp, NS, node, tmp);
        act[i] = a0 - H_ACT;
        double lm = kl_sum_from(&ex, &m, fp, NS, node, tmp);
        act[i] = a0;
        double e = tu_relerr(g[i], (lp - lm) / (2.0 * H_ACT), 1e-2 * gmax);
        if (e > worst) worst = e;
        if (fabsf(g[i]) > 1e-6f) nonzero++;
    }
    printf("block-output KL grad worst rel err %.2e (%d nonzero)\n", worst, nonzero);
    assert_true(worst < GRAD_TOL);
    assert_true(nonzero > 20);
    free(g);
    bq_exec_free(&ex);
    bq_model_free(&m);
}

static void test_recon_loss_grad(void **st) {
    (void)st;
    enum { NS = 2, C = 3, HW = 5, CNT = NS * C * HW };
    float yh[CNT], y[CNT], g[CNT], d[CNT];
    uint8_t w[CNT];
    tu_fill(yh, CNT, 1, 1.0f);
    tu_fill(y, CNT, 2, 1.0f);
    tu_fill(g, CNT, 3, 1.0f);
    bq_fisher_weights(w, g, CNT, BQ_FISHER_NORM, 0.1f);
    for (int k = 0; k < 2; k++) {
        float pw = k == 0 ? 2.0f : 2.4f;
        bq_recon_loss(d, yh, y, w, NS, C, HW, pw);
        double worst = 0.0;
        for (int i = 0; i < CNT; i++) {
            float v = yh[i];
            yh[i] = v + 1e-3f;
            double lp = bq_recon_loss(NULL, yh, y, w, NS, C, HW, pw);
            yh[i] = v - 1e-3f;
            double lm = bq_recon_loss(NULL, yh, y, w, NS, C, HW, pw);
            yh[i] = v;
            double e = tu_relerr(d[i], (lp - lm) / 2e-3, GRAD_FLOOR);
            if (e > worst) worst = e;
        }
        printf("recon loss p=%.1f grad worst rel err %.2e\n", pw, worst);
        assert_true(worst < GRAD_TOL);
    }
    /* MSE by hand: mean over (n, hw) of the sum over c */
    double ref = 0.0;
    for (int i = 0; i < CNT; i++) ref += (double)(yh[i] - y[i]) * (yh[i] - y[i]);
    ref /= NS * HW;
    assert_true(fabs(bq_recon_loss(NULL, yh, y, NULL, NS, C, HW, 2.0f) - ref) < 1e-5 * ref);
}

static void test_weight_modes(void **st) {
    (void)st;
    enum { CNT = 1000 };
    float g[CNT];
    uint8_t w[CNT];
    tu_fill(g, CNT, 10, 1e-4f);   /* tiny raw gradients, as on a nearly exact network */
    bq_fisher_weights(w, g, CNT, BQ_FISHER_NORM, 0.1f);
    double mean = 0.0;
    float lo = 1e30f;
    for (int i = 0; i < CNT; i++) {
        float v = bq_logdecode(w[i]);
        mean += v;
        if (v < lo) lo = v;
    }
    mean /= CNT;
    assert_true(fabs(mean - 1.0) < CODE_TOL);
    assert_true(lo >= 0.1f * (1 - CODE_TOL));
    /* proportional to g^2 above the floor */
    /* proportional to g^2 above the floor (checked on two large weights, where the floor and
     * the code step matter least) */
    int i = -1, j = -1;
    for (int k = 0; k < CNT; k++) {
        float v = bq_logdecode(w[k]);
        if (v > 2.0f && i < 0) i = k;
        else if (v > 2.0f && j < 0 && fabsf(g[k]) != fabsf(g[i])) j = k;
    }
    assert_true(i >= 0 && j >= 0);
    double r = (bq_logdecode(w[i]) - 0.1) / (bq_logdecode(w[j]) - 0.1);
    assert_true(tu_relerr(r, ((double)g[i] * g[i]) / ((double)g[j] * g[j]), 1e-6) < 2 * CODE_TOL);
    bq_fisher_weights(w, g, CNT, BQ_FISHER_REF, 0.0f);
    for (int k = 0; k < CNT; k++) {
        double e = (fabs(g[k]) + 1) * (fabs(g[k]) + 1);
        assert_true(fabs(bq_logdecode(w[k]) - e) <= CODE_TOL * e);
    }
    /* Fisher weighting separates two equal-MSE errors by their sensitivity; MSE cannot */
    float y[2] = {0, 0}, ya[2] = {1, 0}, yb[2] = {0, 1}, gg[2] = {1.0f, 0.1f};
    uint8_t ww[2];
    bq_fisher_weights(ww, gg, 2, BQ_FISHER_NORM, 0.1f);
    double la = bq_recon_loss(NULL, ya, y, ww, 1, 2, 1, 2.0f);
    double lb = bq_recon_loss(NULL, yb, y, ww, 1, 2, 1, 2.0f);
    assert_true(la > 10 * lb);
    assert_true(bq_recon_loss(NULL, ya, y, NULL, 1, 2, 1, 2.0f) ==
                bq_recon_loss(NULL, yb, y, NULL, 1, 2, 1, 2.0f));
}

/* dp_shards (docs/mpi_recon.md): the loss of a minibatch split into shards, each normalised by
 * the whole minibatch, adds up to the minibatch's loss, and the shards' output gradients are the
 * minibatch's, bit for bit (the gradient is per element). With and without Fisher weights, p = 2
 * and p = 2.4. */
static void test_recon_loss_shards(void **st) {
    (void)st;
    enum { NB = 8, C = 3, HW = 5, SZ = C * HW, SH = 4 };
    float yh[NB * SZ], y[NB * SZ], g_full[NB * SZ], g_sh[NB * SZ];
    uint8_t w[NB * SZ];
    for (int i = 0; i < NB * SZ; i++) {
        yh[i] = sinf(0.37f * (float)i);
        y[i] = cosf(0.11f * (float)i);
        w[i] = (uint8_t)(100 + i % 50);
    }
    const float pws[2] = {2.0f, 2.4f};
    for (int k = 0; k < 4; k++) {
        float pw = pws[k & 1];
        const uint8_t *wk = k < 2 ? NULL : w;
        double full = bq_recon_loss(g_full, yh, y, wk, NB, C, HW, pw), sum = 0.0;
        int n = NB / SH;
        for (int s = 0; s < SH; s++)
            sum += bq_recon_loss_shard(g_sh + s * n * SZ, yh + s * n * SZ, y + s * n * SZ,
                                       wk ? wk + s * n * SZ : NULL, n, NB, C, HW, pw);
        assert_true(fabs(sum - full) <= 1e-6 * fabs(full));
        assert_memory_equal(g_full, g_sh, sizeof g_full);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_pow),
        cmocka_unit_test(test_kl_grad),
        cmocka_unit_test(test_block_output_grad),
        cmocka_unit_test(test_recon_loss_grad),
        cmocka_unit_test(test_recon_loss_shards),
        cmocka_unit_test(test_weight_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
