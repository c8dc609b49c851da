/*
 * test_lsq.c — learnable-step activation quantizer (sw/quant/lsq.h).
 *
 * The step gradient is a straight-through estimate, not the derivative of the staircase, so it is
 * checked against finite differences of the LSQ surrogate it is defined from: the rounding offset
 * r0 = round(x/s0) - x/s0 and the clip state are frozen at s0, then
 *     inside:  x_hat(s) = x + s * r0          (d/ds = r0 = (q - z) - x/s0)
 *     clipped: x_hat(s) = (q0 - z) * s        (d/ds = q0 - z)
 * written here independently of sw/quant/lsq.c. A behavioural test then checks that descending the step
 * gradient of the quantization MSE actually reduces the MSE from a bad initial step.
 */
#include "testutil.h"

#include <string.h>

#include "quant/lsq.h"

#define GRAD_TOL    1e-3   /* relative error of the step gradient vs the surrogate's differences */
#define H_STEP      1e-4f  /* finite-difference step in s */
#define MASK_TOL    0.01   /* QDrop drop fraction vs p over 100k draws */

enum { N = 4096 };

static double surrogate(const float *x, const float *dout, int n, float s, float s0, int32_t z,
                        int qmax) {
    double l = 0.0;
    for (int i = 0; i < n; i++) {
        float v0 = x[i] / s0;
        float q0 = floorf(v0 + 0.5f) + (float)z;
        double xh;
        if (q0 < 0) xh = (0.0 - z) * s;
        else if (q0 > qmax) xh = ((double)qmax - z) * s;
        else xh = x[i] + (double)s * (q0 - z - v0);
        l += dout[i] * xh;
    }
    return l;
}

static void test_forward_matches_ref_and_ties(void **st) {
    (void)st;
    float x[N], y[N];
    tu_fill(x, N, 3, 3.0f);
    bq_lsq_forward(y, x, N, 0.25f, 3, 15);
    for (int i = 0; i < N; i++) assert_true(y[i] == bq_lsq_ref(x[i], 0.25f, 3, 15));
    /* ties round half up: 0.5 LSB -> 1, -0.5 LSB -> 0 */
    assert_true(bq_lsq_ref(0.125f, 0.25f, 3, 15) == 0.25f);
    assert_true(bq_lsq_ref(-0.125f, 0.25f, 3, 15) == 0.0f);
    /* clamps: [(0 - z) s, (qmax - z) s] */
    assert_true(bq_lsq_ref(100.0f, 0.25f, 3, 15) == 3.0f);
    assert_true(bq_lsq_ref(-100.0f, 0.25f, 3, 15) == -0.75f);
}

static void test_step_grad_check(void **st) {
    (void)st;
    float x[N], dout[N], dx[N];
    tu_fill(x, N, 7, 2.5f);
    tu_fill(dout, N, 8, 1.0f);
    const float s = 0.21f;
    const int32_t z = 4;
    const int qmax = 15;   /* range [-0.84, 2.31]: both clips occur */
    double ds = bq_lsq_backward(dx, dout, x, NULL, N, s, z, qmax);
    double num = (surrogate(x, dout, N, s + H_STEP, s, z, qmax) -
                  surrogate(x, dout, N, s - H_STEP, s, z, qmax)) / (2.0 * H_STEP);
    double e = tu_relerr(ds, num, 1e-3);
    printf("lsq step grad: %.6f vs %.6f (rel %.2e)\n", ds, num, e);
    assert_true(e < GRAD_TOL);
    /* input gradient: 1 inside, 0 where clipped */
    int inside = 0, clipped = 0;
    for (int i = 0; i < N; i++) {
        float q = floorf(x[i] / s + 0.5f) + z;
        if (q < 0 || q > qmax) { assert_true(dx[i] == 0.0f); clipped++; }
        else { assert_true(dx[i] == dout[i]); inside++; }
    }
    assert_true(inside > 100 && clipped > 100);
}

/* Gradient descent on s of mean((x_hat - x)^2) from a 3x too large step must lower the MSE. */
static void test_step_learning_reduces_mse(void **st) {
    (void)st;
    float x[N], y[N], d[N];
    uint64_t seed = 99;
    for (int i = 0; i < N; i++) {
        float u = tu_randf(&seed);
        x[i] = u * u * 3.0f;   /* post-ReLU-like, skewed to 0 */
    }
    float s = 3.0f * 3.0f / 15.0f;
    double mse0 = 0.0, mse = 0.0;
    for (int it = 0; it < 300; it++) {
        bq_lsq_forward(y, x, N, s, 0, 15);
        double m = 0.0;
        for (int i = 0; i < N; i++) {
            d[i] = 2.0f * (y[i] - x[i]) / N;
            m += (double)(y[i] - x[i]) * (y[i] - x[i]);
        }
        m /= N;
        if (it == 0) mse0 = m;
        mse = m;
        double g = bq_lsq_backward(NULL, d, x, NULL, N, s, 0, 15);
        s -= 0.01f * (float)(g > 0 ? 1 : (g < 0 ? -1 : 0)) * s;   /* sign descent */
    }
    printf("lsq step learning: mse %.5f -> %.5f, s = %.4f\n", mse0, mse, s);
    assert_true(mse < 0.5 * mse0);
}

static void test_qdrop_mask(void **st) {
    (void)st;
    enum { M = 100000 };
    uint8_t *m1 = malloc(M), *m2 = malloc(M);
    assert_non_null(m1); assert_non_null(m2);
    bq_rng r1, r2;
    bq_rng_seed(&r1, 5); bq_rng_seed(&r2, 5);
    bq_lsq_drop_mask(m1, M, 0.5f, &r1);
    bq_lsq_drop_mask(m2, M, 0.5f, &r2);
    assert_memory_equal(m1, m2, M);   /* same seed, same mask */
    long k = 0;
    for (int i = 0; i < M; i++) k += m1[i];
    assert_true(fabs((double)k / M - 0.5) < MASK_TOL);
    bq_lsq_drop_mask(m1, M, 0.0f, &r1);
    for (int i = 0; i < M; i++) assert_int_equal(m1[i], 0);
    bq_lsq_drop_mask(m1, M, 1.0f, &r1);
    for (int i = 0; i < M; i++) assert_int_equal(m1[i], 1);
    /* dropped elements pass through unchanged, with full gradient and no step gradient */
    float x[4] = {0.33f, 0.9f, 5.0f, -1.0f}, y[4], g[4] = {1, 1, 1, 1}, dx[4];
    uint8_t mk[4] = {1, 0, 1, 0};
    bq_lsq_forward_mask(y, x, mk, 4, 0.25f, 0, 3);
    assert_true(y[0] == 0.33f && y[2] == 5.0f);
    assert_true(y[1] == 0.75f && y[3] == 0.0f);
    double ds = bq_lsq_backward(dx, g, x, mk, 4, 0.25f, 0, 3);
    assert_true(dx[0] == 1.0f && dx[1] == 0.0f && dx[2] == 1.0f && dx[3] == 0.0f);
    /* only x[1] (inside: q=4 -> clipped high to 3: d = 3) and x[3] (clipped low: d = -z = 0) */
    assert_true(fabs(ds - 3.0) < 1e-6);
    free(m1); free(m2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_ref_and_ties),
        cmocka_unit_test(test_step_grad_check),
        cmocka_unit_test(test_step_learning_reduces_mse),
        cmocka_unit_test(test_qdrop_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
