/*
 * test_adaround.c — AdaRound soft quantizer (sw/quant/adaround.h): init reproduces the weights, the
 * forward/backward pair and the regulariser pass finite-difference gradient checks, the beta
 * schedule follows the reference's formula, hardening rounds by the sign of alpha, and the fused
 * forward/gradient pair of the reconstruction loop equals the separate calls bit for bit.
 *
 * Gradient checks use L = sum(r * wsoft(alpha)) (r random, double accumulation): dL/dwsoft = r, so
 * backward(dwsoft = r) must match the central differences of L in every alpha.
 */
#include "testutil.h"

#include <string.h>

#include "quant/adaround.h"

#define GRAD_TOL    2e-3   /* worst relative error of a gradient check */
#define GRAD_FLOOR  1e-4   /* absolute floor of the relative-error denominator */
#define H_ALPHA     1e-3f  /* finite-difference step in alpha (h is smooth inside the clamp) */
#define INIT_TOL    1e-5   /* soft weight at init vs the original weight, relative to s */

enum { COUT = 5, PER = 17, N = COUT * PER, QMAX = 15 };

static void setup(float *w, float *s, int32_t *z) {
    tu_fill(w, N, 11, 0.5f);
    for (int c = 0; c < COUT; c++) {
        s[c] = 0.05f + 0.02f * c;
        z[c] = 7 + (c % 2);
    }
}

static void test_h_values(void **st) {
    (void)st;
    assert_true(fabsf(bq_ada_h(0.0f) - 0.5f) < 1e-6f);
    assert_true(bq_ada_h(-20.0f) == 0.0f);
    assert_true(bq_ada_h(20.0f) == 1.0f);
    assert_true(bq_ada_dh(20.0f) == 0.0f);   /* clamped: no gradient */
    assert_true(bq_ada_dh(0.0f) > 0.29f && bq_ada_dh(0.0f) < 0.31f);   /* 0.25 * 1.2 */
}

static void test_init_reproduces_weights(void **st) {
    (void)st;
    float w[N], s[COUT], wf[N], al[N], ws[N];
    int32_t z[COUT];
    setup(w, s, z);
    bq_adaround_init(wf, al, w, s, COUT, PER);
    bq_adaround_forward(ws, al, wf, s, z, 1000000, COUT, PER);   /* no integer clamp */
    for (int i = 0; i < N; i++) {
        float sc = s[i / PER];
        assert_true(fabs(ws[i] - w[i]) <= INIT_TOL * sc + 1e-6);
        assert_true(wf[i] == floorf(w[i] / sc));
    }
    /* all-zero channel: hard zero, no NaN */
    float s0[COUT];
    memcpy(s0, s, sizeof s0);
    s0[2] = 0.0f;
    bq_adaround_init(wf, al, w, s0, COUT, PER);
    bq_adaround_forward(ws, al, wf, s0, z, QMAX, COUT, PER);
    for (int k = 0; k < PER; k++) assert_true(ws[2 * PER + k] == 0.0f);
}

static double lin_loss(const float *al, const float *wf, const float *s, const int32_t *z,
                       const float *r) {
    float ws[N];
    bq_adaround_forward(ws, al, wf, s, z, QMAX, COUT, PER);
    double l = 0.0;
    for (int i = 0; i < N; i++) l += (double)r[i] * ws[i];
    return l;
}

static void test_soft_grad_check(void **st) {
    (void)st;
    float w[N], s[COUT], wf[N], al[N], r[N], da[N];
    int32_t z[COUT];
    setup(w, s, z);
    bq_adaround_init(wf, al, w, s, COUT, PER);
    tu_fill(r, N, 5, 1.0f);
    memset(da, 0, sizeof da);
    bq_adaround_backward(da, r, al, wf, s, z, QMAX, COUT, PER);
    double worst = 0.0;
    int nonzero = 0;
    for (int i = 0; i < N; i++) {
        float a0 = al[i];
        al[i] = a0 + H_ALPHA;
        double lp = lin_loss(al, wf, s, z, r);
        al[i] = a0 - H_ALPHA;
        double lm = lin_loss(al, wf, s, z, r);
        al[i] = a0;
        double num = (lp - lm) / (2.0 * H_ALPHA);
        /* skip coordinates whose +-h straddles a clamp corner (kinks are not differentiable) */
        float qp = wf[i] + bq_ada_h(a0 + H_ALPHA) + z[i / PER], qm = wf[i] + bq_ada_h(a0 - H_ALPHA) + z[i / PER];
        if ((qp > QMAX) != (qm > QMAX) || (qp < 0) != (qm < 0)) continue;
        double e = tu_relerr(da[i], num, GRAD_FLOOR);
        if (e > worst) worst = e;
        if (da[i] != 0.0f) nonzero++;
    }
    printf("adaround soft grad: worst rel err %.2e (%d nonzero)\n", worst, nonzero);
    assert_true(worst < GRAD_TOL);
    assert_true(nonzero > N / 2);   /* the check is not vacuous */
}

static void test_integer_clamp_blocks_gradient(void **st) {
    (void)st;
    /* a weight far outside the grid: clamp active, no gradient */
    float w[1] = {10.0f}, s[1] = {0.1f}, wf[1], al[1], ws[1], r[1] = {1.0f}, da[1] = {0.0f};
    int32_t z[1] = {2};
    bq_adaround_init(wf, al, w, s, 1, 1);
    bq_adaround_forward(ws, al, wf, s, z, 3, 1, 1);
    assert_true(fabsf(ws[0] - (3 - 2) * 0.1f) < 1e-6f);
    bq_adaround_backward(da, r, al, wf, s, z, 3, 1, 1);
    assert_true(da[0] == 0.0f);
}

static void test_reg_grad_check(void **st) {
    (void)st;
    float al[N], da[N];
    tu_fill(al, N, 9, 2.0f);
    const float lambda = 0.01f, beta = 7.5f;
    memset(da, 0, sizeof da);
    double r0 = bq_adaround_reg(da, al, N, lambda, beta);
    assert_true(r0 > 0.0 && r0 <= lambda * N);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        float a0 = al[i];
        al[i] = a0 + H_ALPHA;
        double lp = bq_adaround_reg(NULL, al, N, lambda, beta);
        al[i] = a0 - H_ALPHA;
        double lm = bq_adaround_reg(NULL, al, N, lambda, beta);
        al[i] = a0;
        double e = tu_relerr(da[i], (lp - lm) / (2.0 * H_ALPHA), GRAD_FLOOR * lambda);
        if (e > worst) worst = e;
    }
    printf("adaround reg grad: worst rel err %.2e\n", worst);
    assert_true(worst < 2e-2);   /* float sums of N terms: a looser tolerance than GRAD_TOL */
    /* decided values (h = 0 or 1) cost nothing */
    float dec[2] = {-30.0f, 30.0f};
    assert_true(bq_adaround_reg(NULL, dec, 2, lambda, beta) == 0.0);
}

/* The fused pair of the reconstruction loop (forward_sg + grad) gives bit for bit the soft
 * weights and the alpha gradient of forward + backward + reg, with the regulariser on and off,
 * and the same regulariser value up to summation order. Some alphas sit in the clamped tails of
 * h and some weights at the integer clamp, so every branch is taken. */
static void test_fused_matches_separate(void **st) {
    (void)st;
    float w[N], s[COUT], wf[N], al[N], r[N], ws1[N], ws2[N], sg[N], d1[N], d2[N];
    int32_t z[COUT];
    double regc[COUT];
    setup(w, s, z);
    bq_adaround_init(wf, al, w, s, COUT, PER);
    tu_fill(r, N, 7, 1.0f);
    for (int i = 0; i < N; i += 7) al[i] = (i % 2) ? 9.0f : -9.0f;   /* h clamped to 0 / 1 */
    for (int i = 3; i < N; i += 11) wf[i] = (i % 2) ? 20.0f : -20.0f;   /* integer clamp */
    for (int on = 0; on < 2; on++) {
        bq_adaround_forward(ws1, al, wf, s, z, QMAX, COUT, PER);
        bq_adaround_forward_sg(ws2, sg, al, wf, s, z, QMAX, COUT, PER);
        assert_memory_equal(ws1, ws2, sizeof ws1);
        memset(d1, 0, sizeof d1);
        bq_adaround_backward(d1, r, al, wf, s, z, QMAX, COUT, PER);
        double reg1 = on ? bq_adaround_reg(d1, al, N, 0.01f, 7.5f) : 0.0;
        double reg2 = bq_adaround_grad(d2, r, sg, wf, s, z, QMAX, COUT, PER, on, 0.01f, 7.5f, regc);
        assert_memory_equal(d1, d2, sizeof d1);
        assert_true(fabs(reg1 - reg2) <= 1e-9 * (1.0 + fabs(reg1)));
    }
}

static void test_beta_schedule(void **st) {
    (void)st;
    float b;
    assert_int_equal(bq_adaround_beta(0, 20000, 0.2f, 20.0f, 2.0f, &b), 0);
    assert_int_equal(bq_adaround_beta(3999, 20000, 0.2f, 20.0f, 2.0f, &b), 0);
    assert_int_equal(bq_adaround_beta(4000, 20000, 0.2f, 20.0f, 2.0f, &b), 1);
    assert_true(fabsf(b - 20.0f) < 1e-5f);
    bq_adaround_beta(12000, 20000, 0.2f, 20.0f, 2.0f, &b);
    assert_true(fabsf(b - 11.0f) < 1e-4f);   /* half way: 2 + 18 * 0.5 */
    bq_adaround_beta(20000, 20000, 0.2f, 20.0f, 2.0f, &b);
    assert_true(fabsf(b - 2.0f) < 1e-5f);
}

static void test_harden(void **st) {
    (void)st;
    float al[4] = {-1.0f, 0.0f, 2.0f, 3.0f}, wf[4] = {1, 1, 1, 5};
    int32_t z[1] = {1}, q[4];
    bq_adaround_harden(q, al, wf, z, 7, 1, 4);
    assert_int_equal(q[0], 2);
    assert_int_equal(q[1], 3);   /* alpha >= 0 rounds up */
    assert_int_equal(q[2], 3);
    assert_int_equal(q[3], 7);   /* 5 + 1 + 1 = 7 */
    al[3] = 5.0f; wf[3] = 6;
    bq_adaround_harden(q, al, wf, z, 7, 1, 4);
    assert_int_equal(q[3], 7);   /* clamped to qmax */
    assert_true(bq_adaround_undecided(al, 4, 0.01f) > 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h_values),
        cmocka_unit_test(test_init_reproduces_weights),
        cmocka_unit_test(test_soft_grad_check),
        cmocka_unit_test(test_integer_clamp_blocks_gradient),
        cmocka_unit_test(test_reg_grad_check),
        cmocka_unit_test(test_fused_matches_separate),
        cmocka_unit_test(test_beta_schedule),
        cmocka_unit_test(test_harden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
