/* test_conv_impl.c — the two conv implementations (direct shifted-GEMM and im2col + sgemm) agree
 * with the scalar reference forward, and with each other backward, on dense, strided, padded,
 * asymmetric, grouped and depthwise shapes, one GEMM over several images or several chunks. */
#include "testutil.h"
#include "nn/ops.h"

#include <string.h>

/* float32 sums of up to a few hundred products in different orders */
#define CONV_IMPL_TOL 2e-4f

typedef struct { int n, cin, h, w, cout, k, s, pt, pl, pb, pr, g; } shape;

static void check_shape(const shape *sh) {
    bq_conv_shape cs;
    assert_int_equal(bq_conv2d_shape(&cs, sh->n, sh->cin, sh->h, sh->w, sh->cout, sh->k, sh->k,
                                     sh->s, sh->s, sh->pt, sh->pl, sh->pb, sh->pr, sh->g), 0);
    size_t ni = (size_t)sh->n * sh->cin * sh->h * sh->w, no = (size_t)sh->n * sh->cout * cs.hout * cs.wout;
    size_t nw = (size_t)sh->cout * (sh->cin / sh->g) * sh->k * sh->k;
    float *x = malloc(ni * 4), *w = malloc(nw * 4), *b = malloc((size_t)sh->cout * 4), *dy = malloc(no * 4);
    float *y[3], *dx[2], *dw[2], *db[2];
    tu_fill(x, ni, 1, 1.0f); tu_fill(w, nw, 2, 0.5f); tu_fill(b, (size_t)sh->cout, 3, 0.5f);
    tu_fill(dy, no, 4, 1.0f);
    float *scratch = malloc(sizeof(float) * bq_conv2d_scratch_floats(&cs));
    for (int i = 0; i < 3; i++) y[i] = malloc(no * 4);
    bq_conv2d_forward_ref(y[2], x, w, b, &cs);
    for (int impl = 0; impl < 2; impl++) {
        cs.impl = impl;
        bq_conv2d_forward(y[impl], x, w, b, &cs, scratch);
        for (size_t i = 0; i < no; i++) assert_true(fabsf(y[impl][i] - y[2][i]) <= CONV_IMPL_TOL * (1 + fabsf(y[2][i])));
        dx[impl] = calloc(ni, 4); dw[impl] = calloc(nw, 4); db[impl] = calloc((size_t)sh->cout, 4);
        /* backward ADDS: start from a nonzero value in one slot to check accumulation */
        dx[impl][0] = 1.0f; dw[impl][0] = 1.0f; db[impl][0] = 1.0f;
        bq_conv2d_backward(dx[impl], dw[impl], db[impl], dy, x, w, &cs, scratch);
    }
    for (size_t i = 0; i < ni; i++) assert_true(fabsf(dx[0][i] - dx[1][i]) <= CONV_IMPL_TOL * (1 + fabsf(dx[1][i])));
    for (size_t i = 0; i < nw; i++) assert_true(fabsf(dw[0][i] - dw[1][i]) <= CONV_IMPL_TOL * (1 + fabsf(dw[1][i])));
    for (int i = 0; i < sh->cout; i++) assert_true(fabsf(db[0][i] - db[1][i]) <= CONV_IMPL_TOL * (1 + fabsf(db[1][i])));
    for (int i = 0; i < 3; i++) free(y[i]);
    for (int i = 0; i < 2; i++) { free(dx[i]); free(dw[i]); free(db[i]); }
    free(x); free(w); free(b); free(dy); free(scratch);
}

static void test_impls_agree(void **state) {
    (void)state;
    const shape shapes[] = {
        {3, 4, 9, 9, 8, 3, 1, 1, 1, 1, 1, 1},    /* dense 3x3 same */
        {2, 6, 11, 10, 5, 3, 2, 1, 1, 1, 1, 1},  /* stride 2, odd sizes */
        {2, 4, 8, 8, 6, 3, 1, 0, 2, 1, 0, 2},    /* asymmetric pads, groups 2 */
        {2, 8, 7, 7, 8, 3, 1, 1, 1, 1, 1, 8},    /* depthwise */
        {2, 8, 7, 7, 16, 3, 2, 1, 1, 1, 1, 8},   /* depthwise multiplier 2, stride 2 */
        {4, 16, 5, 5, 12, 1, 1, 0, 0, 0, 0, 1},  /* 1x1 */
        {1, 3, 6, 6, 4, 5, 1, 2, 2, 2, 2, 1},    /* 5x5 */
        {3, 16, 64, 64, 8, 3, 1, 1, 1, 1, 1, 1}, /* im2col: one image per GEMM chunk (4 MB cap) */
        {5, 8, 7, 7, 16, 3, 2, 1, 1, 1, 1, 1},   /* im2col: 5 images in one GEMM, stride 2 */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_shape(&shapes[i]);
}

static void test_impl_from_env(void **state) {
    (void)state;
    setenv("BQ_CONV", "im2col", 1);
    assert_int_equal(bq_conv_impl_from_env(), BQ_CONV_IM2COL);
    setenv("BQ_CONV", "dnnl", 1);
    assert_int_equal(bq_conv_impl_from_env(), BQ_CONV_DNNL);
    setenv("BQ_CONV", "direct", 1);
    assert_int_equal(bq_conv_impl_from_env(), BQ_CONV_DIRECT);
    unsetenv("BQ_CONV");
    assert_int_equal(bq_conv_impl_from_env(), BQ_CONV_DIRECT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impls_agree),
        cmocka_unit_test(test_impl_from_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
