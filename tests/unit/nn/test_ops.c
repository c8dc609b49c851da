/*
 * test_ops.c — unit tests of the floating-point operators (sw/nn/ops.h) and optimizers (sw/nn/optim.h).
 *
 * Gradient checks: the scalar L = sum(out * r) (r random, accumulated in double) has dL/dout = r,
 * so backward(dout = r) must match the central differences (L(x+h) - L(x-h)) / 2h of every input.
 * Ops that are linear in the checked input have no truncation error, so a larger step h keeps
 * float rounding small; nonlinear ones (BN, softmax) use a smaller h.
 * Every check reports the worst relative error |a - n| / max(|a| + |n|, GRAD_FLOOR).
 */
#include "testutil.h"

#include <string.h>

#include "nn/ops.h"
#include "nn/optim.h"

/* Named tolerances. */
#define GRAD_TOL        5e-3   /* gradient check, worst relative error */
#define GRAD_FLOOR      1e-2   /* absolute floor of the relative-error denominator */
#define H_LINEAR        1e-2f  /* finite-difference step for ops linear in the input */
#define H_NONLINEAR     1e-3f  /* step for smooth nonlinear ops (BN) */
#define H_XENT          1e-2f  /* softmax-xent returns its loss as a float: a larger step keeps
                                  that rounding below the O(h^2) truncation error */
#define CONV_REF_TOL    1e-4   /* fast conv vs scalar reference, relative to max(|ref|, 1) */
#define EXACT_TOL       1e-5   /* results that differ from hand values only by float rounding */
#define MAX_CHECKS      400    /* at most this many coordinates per tensor get a numeric check */

typedef double (*loss_fn)(void *ctx);

static double dot_d(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

/* Worst relative error between analytic gradient g and central differences of f w.r.t. x. */
static double gradcheck(loss_fn f, void *ctx, float *x, const float *g, size_t n, float h) {
    size_t step = n > MAX_CHECKS ? n / MAX_CHECKS : 1;
    double worst = 0.0;
    for (size_t i = 0; i < n; i += step) {
        const float x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        double num = (lp - lm) / (2.0 * (double)h);
        double e = tu_relerr(g[i], num, GRAD_FLOOR);
        if (e > worst) worst = e;
    }
    return worst;
}

/* Backward ADDS: running it a second time into the same buffer must double the gradient. */
static void check_doubled(const char *what, const float *twice, const float *once, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabs((double)twice[i] - 2.0 * once[i]) > 1e-5 * fmax(1.0, fabs(2.0 * once[i])))
            fail_msg("%s: backward does not accumulate at %zu (%g vs 2 * %g)", what, i,
                     (double)twice[i], (double)once[i]);
}

static float *fdup(const float *x, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(p);
    memcpy(p, x, sizeof(float) * n);
    return p;
}

static void check_grad(const char *what, loss_fn f, void *ctx, float *x, const float *g, size_t n,
                       float h) {
    double e = gradcheck(f, ctx, x, g, n, h);
    if (!(e <= GRAD_TOL)) fail_msg("%s: gradient check worst rel err %.3g > %.3g", what, e,
                                   GRAD_TOL);
}

/* ===================================================================== conv */

typedef struct {
    bq_conv_shape cs;
    float *inp, *w, *b, *out, *r, *scratch;
    float *dinp, *dw, *db;
    size_t n_in, n_w, n_out;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    bq_conv2d_forward(c->out, c->inp, c->w, c->b, &c->cs, c->scratch);
    return dot_d(c->out, c->r, c->n_out);
}

static void conv_setup(conv_ctx *c, int n, int cin, int h, int w, int cout, int kh, int kw,
                       int sh, int sw, int pt, int pl, int pb, int pr, int groups, uint64_t seed) {
    memset(c, 0, sizeof(*c));
    assert_int_equal(bq_conv2d_shape(&c->cs, n, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr,
                                     groups), 0);
    c->n_in = (size_t)n * cin * h * w;
    c->n_w = (size_t)cout * (cin / groups) * kh * kw;
    c->n_out = (size_t)n * cout * c->cs.hout * c->cs.wout;
    c->inp = falloc(c->n_in); c->dinp = falloc(c->n_in);
    c->w = falloc(c->n_w); c->dw = falloc(c->n_w);
    c->b = falloc(cout); c->db = falloc(cout);
    c->out = falloc(c->n_out); c->r = falloc(c->n_out);
    c->scratch = falloc(bq_conv2d_scratch_floats(&c->cs));
    tu_fill(c->inp, c->n_in, seed, 1.0f);
    tu_fill(c->w, c->n_w, seed + 1, 0.5f);
    tu_fill(c->b, cout, seed + 2, 0.5f);
    tu_fill(c->r, c->n_out, seed + 3, 1.0f);
}

static void conv_teardown(conv_ctx *c) {
    free(c->inp); free(c->dinp); free(c->w); free(c->dw); free(c->b); free(c->db);
    free(c->out); free(c->r); free(c->scratch);
}

static void conv_backward_all(conv_ctx *c) {
    memset(c->dinp, 0, sizeof(float) * c->n_in);
    memset(c->dw, 0, sizeof(float) * c->n_w);
    memset(c->db, 0, sizeof(float) * c->cs.cout);
    bq_conv2d_backward(c->dinp, c->dw, c->db, c->r, c->inp, c->w, &c->cs, c->scratch);
}

static void conv_gradcheck_case(const char *name, int n, int cin, int h, int w, int cout, int kh,
                                int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                                int groups) {
    conv_ctx c;
    conv_setup(&c, n, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr, groups, 42);
    conv_backward_all(&c);
    char what[128];
    snprintf(what, sizeof what, "conv %s dinp", name);
    check_grad(what, conv_loss, &c, c.inp, c.dinp, c.n_in, H_LINEAR);
    snprintf(what, sizeof what, "conv %s dweight", name);
    check_grad(what, conv_loss, &c, c.w, c.dw, c.n_w, H_LINEAR);
    snprintf(what, sizeof what, "conv %s dbias", name);
    check_grad(what, conv_loss, &c, c.b, c.db, c.cs.cout, H_LINEAR);
    conv_teardown(&c);
}

static void test_conv_grad_dense(void **st) {
    (void)st;
    conv_gradcheck_case("dense 3x3", 2, 3, 6, 5, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1);
    conv_gradcheck_case("dense 3x3 pad1", 2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
}
static void test_conv_grad_strided(void **st) {
    (void)st;
    conv_gradcheck_case("stride2 pad1", 2, 3, 7, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1);
    conv_gradcheck_case("stride (3,2)", 1, 2, 9, 7, 3, 3, 2, 3, 2, 0, 0, 0, 0, 1);
}
static void test_conv_grad_padded(void **st) {
    (void)st;
    conv_gradcheck_case("pad2 5x5", 2, 2, 5, 6, 3, 5, 5, 1, 1, 2, 2, 2, 2, 1);
}
static void test_conv_grad_asym(void **st) {
    (void)st;
    conv_gradcheck_case("asym pads 2x3", 2, 3, 6, 7, 4, 2, 3, 2, 1, 0, 1, 2, 0, 1);
    conv_gradcheck_case("asym pads 3x1", 1, 2, 5, 4, 3, 3, 1, 1, 1, 2, 0, 0, 1, 1);
}
static void test_conv_grad_grouped(void **st) {
    (void)st;
    conv_gradcheck_case("groups 2", 2, 4, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2);
    conv_gradcheck_case("groups 3 strided", 1, 6, 7, 7, 3, 3, 3, 2, 2, 1, 0, 1, 0, 3);
}
static void test_conv_grad_depthwise(void **st) {
    (void)st;
    conv_gradcheck_case("depthwise", 2, 4, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4);
    conv_gradcheck_case("depthwise x2 stride2", 2, 3, 7, 6, 6, 3, 3, 2, 2, 1, 1, 0, 1, 3);
    conv_gradcheck_case("depthwise 5x5 asym", 1, 2, 6, 6, 2, 5, 5, 1, 2, 2, 1, 2, 3, 2);
}
static void test_conv_grad_pointwise(void **st) {
    (void)st;
    conv_gradcheck_case("1x1", 2, 4, 5, 3, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1);
    conv_gradcheck_case("1x1 grouped", 2, 4, 5, 3, 6, 1, 1, 1, 1, 0, 0, 0, 0, 2);
    conv_gradcheck_case("1x1 stride2", 2, 4, 5, 6, 6, 1, 1, 2, 2, 0, 0, 0, 0, 1);
}

/* The checker itself must trip on a wrong backward: flip the sign of dweight, and (separately)
 * drop the contribution of one input channel. */
static void test_gradcheck_detects_errors(void **st) {
    (void)st;
    conv_ctx c;
    conv_setup(&c, 2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 7);
    conv_backward_all(&c);
    for (size_t i = 0; i < c.n_w; i++) c.dw[i] = -c.dw[i];
    assert_true(gradcheck(conv_loss, &c, c.w, c.dw, c.n_w, H_LINEAR) > GRAD_TOL);
    conv_backward_all(&c);
    c.dinp[5] *= 0.9f;
    assert_true(gradcheck(conv_loss, &c, c.inp, c.dinp, c.n_in, H_LINEAR) > GRAD_TOL);
    conv_teardown(&c);
}

static void conv_ref_case(const char *name, int n, int cin, int h, int w, int cout, int kh, int kw,
                          int sh, int sw, int pt, int pl, int pb, int pr, int groups,
                          int with_bias) {
    conv_ctx c;
    conv_setup(&c, n, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr, groups, 99);
    float *ref = falloc(c.n_out);
    bq_conv2d_forward(c.out, c.inp, c.w, with_bias ? c.b : NULL, &c.cs, c.scratch);
    bq_conv2d_forward_ref(ref, c.inp, c.w, with_bias ? c.b : NULL, &c.cs);
    for (size_t i = 0; i < c.n_out; i++) {
        double d = fabs((double)c.out[i] - ref[i]) / fmax(fabs(ref[i]), 1.0);
        if (d > CONV_REF_TOL)
            fail_msg("conv %s: out[%zu] = %g, ref %g", name, i, (double)c.out[i], (double)ref[i]);
    }
    free(ref);
    conv_teardown(&c);
}

static void test_conv_fast_vs_ref(void **st) {
    (void)st;
    conv_ref_case("resnet 3x3", 3, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    conv_ref_case("resnet down", 3, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0);
    conv_ref_case("asym", 2, 3, 11, 9, 5, 2, 3, 2, 1, 0, 1, 2, 0, 1, 1);
    conv_ref_case("grouped", 2, 8, 9, 9, 12, 3, 3, 1, 1, 1, 1, 1, 1, 4, 1);
    conv_ref_case("depthwise", 2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, 1);
    conv_ref_case("depthwise x3 s2", 2, 4, 10, 9, 12, 3, 3, 2, 2, 1, 1, 1, 1, 4, 0);
    conv_ref_case("pointwise", 2, 8, 6, 6, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1);
    conv_ref_case("first layer", 4, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    conv_ref_case("kernel = image", 2, 3, 4, 4, 2, 4, 4, 1, 1, 0, 0, 0, 0, 1, 1);
}

/* A batch (split over threads, several small images sharing one q-space block, private dW
 * accumulators) must give the same forward and backward as running the images one at a time. */
static void batch_vs_single_case(const char *name, int n, int cin, int h, int w, int cout, int kh,
                                 int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                                 int groups) {
    conv_ctx c;
    conv_setup(&c, n, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr, groups, 5);
    conv_backward_all(&c);
    bq_conv2d_forward(c.out, c.inp, c.w, c.b, &c.cs, c.scratch);
    bq_conv_shape one;
    assert_int_equal(bq_conv2d_shape(&one, 1, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr,
                                     groups), 0);
    float *s1 = falloc(bq_conv2d_scratch_floats(&one));
    size_t in1 = (size_t)cin * h * w, out1 = (size_t)cout * one.hout * one.wout;
    float *o1 = falloc(out1), *di1 = falloc(in1), *dw1 = falloc(c.n_w), *db1 = falloc(cout);
    for (int i = 0; i < n; i++) {
        bq_conv2d_forward(o1, c.inp + i * in1, c.w, c.b, &one, s1);
        for (size_t j = 0; j < out1; j++)
            if (fabsf(o1[j] - c.out[i * out1 + j]) > 1e-5f)
                fail_msg("%s: out[%d][%zu] single %g batch %g", name, i, j, (double)o1[j],
                         (double)c.out[i * out1 + j]);
        memset(di1, 0, sizeof(float) * in1);
        bq_conv2d_backward(di1, dw1, db1, c.r + i * out1, c.inp + i * in1, c.w, &one, s1);
        for (size_t j = 0; j < in1; j++)
            if (fabsf(di1[j] - c.dinp[i * in1 + j]) > 1e-5f)
                fail_msg("%s: dinp[%d][%zu] single %g batch %g", name, i, j, (double)di1[j],
                         (double)c.dinp[i * in1 + j]);
    }
    for (size_t j = 0; j < c.n_w; j++)
        if (tu_relerr(dw1[j], c.dw[j], 1.0) > 1e-4) fail_msg("%s: dW[%zu]", name, j);
    for (int j = 0; j < cout; j++)
        if (tu_relerr(db1[j], c.db[j], 1.0) > 1e-4) fail_msg("%s: db[%d]", name, j);
    free(s1); free(o1); free(di1); free(dw1); free(db1);
    conv_teardown(&c);
}

static void test_conv_batch_vs_single(void **st) {
    (void)st;
    batch_vs_single_case("resnet 28x28", 21, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    batch_vs_single_case("strided asym", 9, 4, 7, 6, 6, 3, 2, 2, 1, 1, 0, 2, 1, 1);
    batch_vs_single_case("grouped", 9, 6, 5, 5, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3);
    batch_vs_single_case("depthwise x2", 9, 4, 6, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 4);
    batch_vs_single_case("1x1 stride 2", 9, 5, 6, 6, 7, 1, 1, 2, 2, 0, 0, 0, 0, 1);
    batch_vs_single_case("first layer", 9, 1, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
}

/* NULL gradients are skipped; the others are the same as with all requested, and ADDED. */
static void test_conv_backward_null_and_accumulate(void **st) {
    (void)st;
    const int groups_list[3] = {1, 2, 4};
    for (int gi = 0; gi < 3; gi++) {
        conv_ctx c;
        conv_setup(&c, 2, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, groups_list[gi], 11);
        conv_backward_all(&c);
        float *d2 = falloc(c.n_in), *w2 = falloc(c.n_w), *b2 = falloc(4);
        tu_fill(d2, c.n_in, 3, 1.0f);
        tu_fill(w2, c.n_w, 4, 1.0f);
        tu_fill(b2, 4, 5, 1.0f);
        float *d0 = falloc(c.n_in), *w0 = falloc(c.n_w), *b0 = falloc(4);
        memcpy(d0, d2, sizeof(float) * c.n_in);
        memcpy(w0, w2, sizeof(float) * c.n_w);
        memcpy(b0, b2, sizeof(float) * 4);
        bq_conv2d_backward(d2, NULL, NULL, c.r, c.inp, c.w, &c.cs, c.scratch);
        bq_conv2d_backward(NULL, w2, NULL, c.r, c.inp, c.w, &c.cs, c.scratch);
        bq_conv2d_backward(NULL, NULL, b2, c.r, c.inp, c.w, &c.cs, c.scratch);
        for (size_t i = 0; i < c.n_in; i++) assert_float_equal(d2[i], d0[i] + c.dinp[i], 1e-5);
        for (size_t i = 0; i < c.n_w; i++) assert_float_equal(w2[i], w0[i] + c.dw[i], 1e-4);
        for (int i = 0; i < 4; i++) assert_float_equal(b2[i], b0[i] + c.db[i], 1e-4);
        free(d2); free(w2); free(b2); free(d0); free(w0); free(b0);
        conv_teardown(&c);
    }
}

/* col2im is the adjoint of im2col: <col2im(c), x> == <c, im2col(x)>. */
static void test_im2col_adjoint(void **st) {
    (void)st;
    bq_conv_shape cs;
    assert_int_equal(bq_conv2d_shape(&cs, 1, 3, 7, 6, 2, 3, 2, 2, 1, 1, 0, 2, 1, 1), 0);
    size_t k = (size_t)3 * 3 * 2, p = (size_t)cs.hout * cs.wout, ni = (size_t)3 * 7 * 6;
    float *x = falloc(ni), *col = falloc(k * p), *c2 = falloc(k * p), *img = falloc(ni);
    tu_fill(x, ni, 1, 1.0f);
    tu_fill(c2, k * p, 2, 1.0f);
    bq_im2col(col, x, &cs, 0.0f);
    bq_col2im(img, c2, &cs);
    assert_true(tu_relerr(dot_d(col, c2, k * p), dot_d(img, x, ni), 1e-6) < EXACT_TOL);
    /* pad_value reaches exactly the out-of-image taps: row (ci=0,ky=0,kx=0), output (0,0)
     * reads input row -1. */
    bq_im2col(col, x, &cs, 7.5f);
    assert_float_equal(col[0], 7.5f, 0.0);
    free(x); free(col); free(c2); free(img);
}

static void test_conv_shape(void **st) {
    (void)st;
    bq_conv_shape cs;
    assert_int_equal(bq_conv2d_shape(&cs, 1, 3, 28, 28, 16, 3, 3, 2, 2, 0, 0, 0, 0, 1), 0);
    assert_int_equal(cs.hout, 13);
    assert_int_equal(cs.wout, 13);
    assert_int_equal(bq_conv2d_shape(&cs, 1, 3, 28, 27, 16, 3, 3, 2, 2, 1, 0, 0, 0, 1), 0);
    assert_int_equal(cs.hout, 14);
    assert_int_equal(cs.wout, 13);
    assert_int_equal(bq_conv2d_shape(&cs, 1, 3, 28, 28, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1), 0);
    assert_int_equal(cs.hout, 14);
    assert_int_equal(bq_conv2d_shape(&cs, 1, 3, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 2), -1);
    assert_int_equal(bq_conv2d_shape(&cs, 1, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 4), -1);
    assert_int_equal(bq_conv2d_shape(&cs, 1, 4, 2, 2, 6, 5, 5, 1, 1, 1, 1, 1, 1, 1), -1);
    assert_int_equal(bq_conv2d_shape(&cs, 0, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1), -1);
    assert_int_equal(bq_conv2d_shape(&cs, 1, 4, 8, 8, 6, 3, 3, 0, 1, 1, 1, 1, 1, 1), -1);
}

/* ===================================================================== linear */

typedef struct {
    int n, ic, oc;
    float *inp, *w, *b, *out, *r;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    bq_linear_forward(c->out, c->inp, c->w, c->b, c->n, c->ic, c->oc);
    return dot_d(c->out, c->r, (size_t)c->n * c->oc);
}

static void test_linear_grad(void **st) {
    (void)st;
    lin_ctx c = {.n = 3, .ic = 7, .oc = 5};
    size_t ni = 21, nw = 35, no = 15;
    c.inp = falloc(ni); c.w = falloc(nw); c.b = falloc(5); c.out = falloc(no); c.r = falloc(no);
    float *di = falloc(ni), *dw = falloc(nw), *db = falloc(5);
    tu_fill(c.inp, ni, 1, 1.0f); tu_fill(c.w, nw, 2, 1.0f); tu_fill(c.b, 5, 3, 1.0f);
    tu_fill(c.r, no, 4, 1.0f);
    /* forward value against the definition */
    lin_loss(&c);
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 5; o++) {
            double s = c.b[o];
            for (int k = 0; k < 7; k++) s += (double)c.inp[i * 7 + k] * c.w[o * 7 + k];
            assert_float_equal(c.out[i * 5 + o], s, 1e-5);
        }
    bq_linear_backward(di, dw, db, c.r, c.inp, c.w, 3, 7, 5);
    check_grad("linear dinp", lin_loss, &c, c.inp, di, ni, H_LINEAR);
    check_grad("linear dweight", lin_loss, &c, c.w, dw, nw, H_LINEAR);
    check_grad("linear dbias", lin_loss, &c, c.b, db, 5, H_LINEAR);
    float *di1 = fdup(di, ni), *dw1 = fdup(dw, nw), *db1 = fdup(db, 5);
    bq_linear_backward(di, dw, db, c.r, c.inp, c.w, 3, 7, 5);
    check_doubled("linear dinp", di, di1, ni);
    check_doubled("linear dweight", dw, dw1, nw);
    check_doubled("linear dbias", db, db1, 5);
    free(di1); free(dw1); free(db1);
    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r); free(di); free(dw); free(db);
}

/* ===================================================================== batch norm */

typedef struct {
    int n, c, hw;
    float *inp, *gamma, *beta, *out, *r, *mean, *rstd;
} bn_ctx;

#define BN_EPS 1e-5f

static double bn_loss(void *p) {
    bn_ctx *c = p;
    bq_batchnorm_train_forward(c->out, c->mean, c->rstd, NULL, NULL, c->inp, c->gamma, c->beta,
                               c->n, c->c, c->hw, BN_EPS, 0.1f);
    return dot_d(c->out, c->r, (size_t)c->n * c->c * c->hw);
}

static void test_batchnorm_train_grad(void **st) {
    (void)st;
    bn_ctx c = {.n = 3, .c = 4, .hw = 5};
    size_t cnt = 60;
    c.inp = falloc(cnt); c.out = falloc(cnt); c.r = falloc(cnt);
    c.gamma = falloc(4); c.beta = falloc(4); c.mean = falloc(4); c.rstd = falloc(4);
    float *di = falloc(cnt), *dg = falloc(4), *dbe = falloc(4);
    tu_fill(c.inp, cnt, 1, 2.0f);
    for (size_t i = 0; i < cnt; i++) c.inp[i] += 0.5f;   /* non-zero mean */
    tu_fill(c.gamma, 4, 2, 1.0f); tu_fill(c.beta, 4, 3, 1.0f); tu_fill(c.r, cnt, 4, 1.0f);
    bn_loss(&c);
    /* normalised output has per-channel mean beta and (biased) variance gamma^2 */
    for (int ch = 0; ch < 4; ch++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                double y = c.out[(i * 4 + ch) * 5 + j];
                s += y; s2 += y * y;
            }
        double m = s / 15, v = s2 / 15 - m * m;
        assert_float_equal(m, c.beta[ch], 1e-5);
        assert_true(tu_relerr(v, (double)c.gamma[ch] * c.gamma[ch], 1e-3) < 1e-3);
    }
    bq_batchnorm_train_backward(di, dg, dbe, c.r, c.inp, c.mean, c.rstd, c.gamma, 3, 4, 5);
    check_grad("bn dinp", bn_loss, &c, c.inp, di, cnt, H_NONLINEAR);
    check_grad("bn dgamma", bn_loss, &c, c.gamma, dg, 4, H_NONLINEAR);
    check_grad("bn dbeta", bn_loss, &c, c.beta, dbe, 4, H_NONLINEAR);
    /* dinp alone (NULL dgamma/dbeta) gives the same dinp */
    bn_loss(&c);     /* the gradient check left mean/rstd of a perturbed input behind */
    float *di2 = falloc(cnt);
    bq_batchnorm_train_backward(di2, NULL, NULL, c.r, c.inp, c.mean, c.rstd, c.gamma, 3, 4, 5);
    for (size_t i = 0; i < cnt; i++) assert_float_equal(di2[i], di[i], 1e-6);
    free(di2);
    memset(di, 0, sizeof(float) * cnt);
    memset(dg, 0, sizeof(float) * 4);
    memset(dbe, 0, sizeof(float) * 4);
    bq_batchnorm_train_backward(di, dg, dbe, c.r, c.inp, c.mean, c.rstd, c.gamma, 3, 4, 5);
    float *dg1 = fdup(dg, 4), *dbe1 = fdup(dbe, 4), *di1 = fdup(di, cnt);
    bq_batchnorm_train_backward(di, dg, dbe, c.r, c.inp, c.mean, c.rstd, c.gamma, 3, 4, 5);
    check_doubled("bn dinp", di, di1, cnt);
    check_doubled("bn dgamma", dg, dg1, 4);
    check_doubled("bn dbeta", dbe, dbe1, 4);
    free(dg1); free(dbe1); free(di1);
    free(c.inp); free(c.out); free(c.r); free(c.gamma); free(c.beta); free(c.mean); free(c.rstd);
    free(di); free(dg); free(dbe);
}

static void test_batchnorm_running_stats(void **st) {
    (void)st;
    /* one channel, values 1..4 over (N=2, HW=2): mean 2.5, biased var 1.25, unbiased 5/3 */
    float x[4] = {1, 2, 3, 4}, y[4], g = 2.0f, b = 0.5f, mean, rstd;
    float rm = 1.0f, rv = 2.0f;
    bq_batchnorm_train_forward(y, &mean, &rstd, &rm, &rv, x, &g, &b, 2, 1, 2, 0.0f, 0.1f);
    assert_float_equal(mean, 2.5f, EXACT_TOL);
    assert_float_equal(rstd, 1.0 / sqrt(1.25), EXACT_TOL);
    assert_float_equal(rm, 0.9 * 1.0 + 0.1 * 2.5, EXACT_TOL);
    assert_float_equal(rv, 0.9 * 2.0 + 0.1 * (5.0 / 3.0), EXACT_TOL);
    assert_float_equal(y[0], 2.0 * (1 - 2.5) / sqrt(1.25) + 0.5, EXACT_TOL);
    /* eval mode uses the running statistics */
    float ye[4];
    bq_batchnorm_eval_forward(ye, x, &g, &b, &rm, &rv, 2, 1, 2, 1e-5f);
    for (int i = 0; i < 4; i++)
        assert_float_equal(ye[i], 2.0 * (x[i] - rm) / sqrt(rv + 1e-5) + 0.5, EXACT_TOL);
}

/* conv (with or without bias) followed by eval BN equals the folded conv. */
static void test_batchnorm_fold(void **st) {
    (void)st;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        conv_ctx c;
        conv_setup(&c, 2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 21);
        float gamma[5], beta[5], rm[5], rv[5];
        tu_fill(gamma, 5, 1, 1.0f); tu_fill(beta, 5, 2, 1.0f); tu_fill(rm, 5, 3, 1.0f);
        tu_fill(rv, 5, 4, 0.5f);
        for (int i = 0; i < 5; i++) rv[i] += 0.6f;
        float *y = falloc(c.n_out), *yf = falloc(c.n_out);
        bq_conv2d_forward(c.out, c.inp, c.w, with_bias ? c.b : NULL, &c.cs, c.scratch);
        bq_batchnorm_eval_forward(y, c.out, gamma, beta, rm, rv, 2, 5, 49, 1e-5f);
        float bias[5] = {0};
        if (with_bias) memcpy(bias, c.b, sizeof bias);
        bq_batchnorm_fold(c.w, bias, gamma, beta, rm, rv, 5, 27, 1e-5f);
        bq_conv2d_forward(yf, c.inp, c.w, bias, &c.cs, c.scratch);
        for (size_t i = 0; i < c.n_out; i++) assert_float_equal(yf[i], y[i], 1e-4);
        free(y); free(yf);
        conv_teardown(&c);
    }
}

/* ===================================================================== elementwise */

typedef struct {
    int kind;                  /* 0 relu, 1 relu6, 2 clamp, 3 add (wrt a), 4 add (wrt b) */
    size_t n;
    float *a, *b, *out, *r;
    float lo, hi;
} ew_ctx;

static double ew_loss(void *p) {
    ew_ctx *c = p;
    switch (c->kind) {
    case 0: bq_relu_forward(c->out, c->a, c->n); break;
    case 1: bq_relu6_forward(c->out, c->a, c->n); break;
    case 2: bq_clamp_forward(c->out, c->a, c->n, c->lo, c->hi); break;
    default: bq_add_forward(c->out, c->a, c->b, c->n); break;
    }
    return dot_d(c->out, c->r, c->n);
}

/* Inputs spread over [-8, 8] but kept at least 2h from the kinks at 0, 6, lo and hi, where the
 * central difference is not the one-sided derivative. */
static void fill_away_from_kinks(float *x, size_t n, uint64_t seed, const float *kinks, int nk) {
    tu_fill(x, n, seed, 8.0f);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < nk; k++)
            if (fabsf(x[i] - kinks[k]) < 4 * H_LINEAR) x[i] = kinks[k] + 0.25f;
}

static void test_elementwise_grad(void **st) {
    (void)st;
    const size_t n = 200;
    ew_ctx c = {.n = n, .lo = -1.5f, .hi = 2.5f};
    c.a = falloc(n); c.b = falloc(n); c.out = falloc(n); c.r = falloc(n);
    float *da = falloc(n), *db = falloc(n);
    const float kinks[4] = {0.0f, 6.0f, -1.5f, 2.5f};
    fill_away_from_kinks(c.a, n, 1, kinks, 4);
    tu_fill(c.b, n, 2, 3.0f);
    tu_fill(c.r, n, 3, 1.0f);
    const char *names[3] = {"relu", "relu6", "clamp"};
    for (int k = 0; k < 3; k++) {
        c.kind = k;
        memset(da, 0, sizeof(float) * n);
        if (k == 0) bq_relu_backward(da, c.r, c.a, n);
        if (k == 1) bq_relu6_backward(da, c.r, c.a, n);
        if (k == 2) bq_clamp_backward(da, c.r, c.a, n, c.lo, c.hi);
        check_grad(names[k], ew_loss, &c, c.a, da, n, H_LINEAR);
        float *da1 = fdup(da, n);
        if (k == 0) bq_relu_backward(da, c.r, c.a, n);
        if (k == 1) bq_relu6_backward(da, c.r, c.a, n);
        if (k == 2) bq_clamp_backward(da, c.r, c.a, n, c.lo, c.hi);
        check_doubled(names[k], da, da1, n);
        free(da1);
    }
    /* forward values at the boundaries */
    float x[5] = {-7.0f, -0.0f, 3.0f, 6.0f, 9.0f}, y[5];
    bq_relu6_forward(y, x, 5);
    assert_float_equal(y[0], 0.0f, 0.0); assert_float_equal(y[2], 3.0f, 0.0);
    assert_float_equal(y[3], 6.0f, 0.0); assert_float_equal(y[4], 6.0f, 0.0);
    bq_relu_forward(y, x, 5);
    assert_float_equal(y[0], 0.0f, 0.0); assert_float_equal(y[4], 9.0f, 0.0);

    memset(da, 0, sizeof(float) * n);
    memset(db, 0, sizeof(float) * n);
    bq_add_backward(da, db, c.r, n);
    c.kind = 3;
    check_grad("add da", ew_loss, &c, c.a, da, n, H_LINEAR);
    check_grad("add db", ew_loss, &c, c.b, db, n, H_LINEAR);
    bq_add_backward(NULL, db, c.r, n);   /* NULL da is skipped, db accumulates */
    for (size_t i = 0; i < n; i++) assert_float_equal(db[i], 2.0f * c.r[i], 1e-6);
    free(c.a); free(c.b); free(c.out); free(c.r); free(da); free(db);
}

/* ===================================================================== pooling */

typedef struct {
    int kind;                  /* 0 max, 1 avg, 2 gap */
    int n, c, h, w, kh, kw, sh, sw, pt, pl, ho, wo, include_pad;
    float *inp, *out, *r;
    int32_t *am;
} pool_ctx;

static size_t pool_nout(const pool_ctx *c) {
    return c->kind == 2 ? (size_t)c->n * c->c : (size_t)c->n * c->c * c->ho * c->wo;
}

static double pool_loss(void *p) {
    pool_ctx *c = p;
    if (c->kind == 0)
        bq_maxpool_forward(c->out, c->am, c->inp, c->n, c->c, c->h, c->w, c->kh, c->kw, c->sh,
                           c->sw, c->pt, c->pl, c->ho, c->wo);
    else if (c->kind == 1)
        bq_avgpool_forward(c->out, c->inp, c->n, c->c, c->h, c->w, c->kh, c->kw, c->sh, c->sw,
                           c->pt, c->pl, c->ho, c->wo, c->include_pad);
    else
        bq_gap_forward(c->out, c->inp, c->n, c->c, c->h * c->w);
    return dot_d(c->out, c->r, pool_nout(c));
}

static void pool_case(const char *name, int kind, int include_pad, int kh, int kw, int sh, int sw,
                      int pt, int pl, int pb, int pr) {
    pool_ctx c = {.kind = kind, .n = 2, .c = 3, .h = 7, .w = 6, .kh = kh, .kw = kw, .sh = sh,
                  .sw = sw, .pt = pt, .pl = pl, .include_pad = include_pad};
    c.ho = (c.h + pt + pb - kh) / sh + 1;
    c.wo = (c.w + pl + pr - kw) / sw + 1;
    size_t ni = (size_t)c.n * c.c * c.h * c.w, no = pool_nout(&c);
    c.inp = falloc(ni); c.out = falloc(no); c.r = falloc(no);
    c.am = calloc(no, sizeof(int32_t));
    float *di = falloc(ni);
    /* distinct values at least 0.05 apart (> 2h), so no max changes under the perturbation */
    for (size_t i = 0; i < ni; i++) c.inp[i] = (float)((i * 37) % ni) * 0.05f - 3.0f;
    tu_fill(c.r, no, 9, 1.0f);
    pool_loss(&c);
    float *di1 = NULL;
    for (int rep = 0; rep < 2; rep++) {
        if (kind == 0)
            bq_maxpool_backward(di, c.r, c.am, c.n, c.c, c.h, c.w, c.ho, c.wo);
        else if (kind == 1)
            bq_avgpool_backward(di, c.r, c.n, c.c, c.h, c.w, kh, kw, sh, sw, pt, pl, c.ho, c.wo,
                                include_pad);
        else
            bq_gap_backward(di, c.r, c.n, c.c, c.h * c.w);
        if (rep == 0) {
            check_grad(name, pool_loss, &c, c.inp, di, ni, H_LINEAR);
            di1 = fdup(di, ni);
        }
    }
    check_doubled(name, di, di1, ni);
    free(di1);
    free(c.inp); free(c.out); free(c.r); free(c.am); free(di);
}

static void test_pool_grad(void **st) {
    (void)st;
    pool_case("maxpool 2x2 s2", 0, 0, 2, 2, 2, 2, 0, 0, 0, 0);
    pool_case("maxpool 3x3 s2 pad1", 0, 0, 3, 3, 2, 2, 1, 1, 1, 1);
    pool_case("maxpool 3x2 s1 asym", 0, 0, 3, 2, 1, 1, 2, 0, 0, 1);
    pool_case("avgpool 2x2 s2", 1, 0, 2, 2, 2, 2, 0, 0, 0, 0);
    pool_case("avgpool 3x3 pad1 include", 1, 1, 3, 3, 2, 2, 1, 1, 1, 1);
    pool_case("avgpool 3x3 pad1 exclude", 1, 0, 3, 3, 2, 2, 1, 1, 1, 1);
    pool_case("avgpool 3x2 asym exclude", 1, 0, 3, 2, 1, 2, 2, 1, 0, 1);
    pool_case("gap", 2, 0, 1, 1, 1, 1, 0, 0, 0, 0);
}

static void test_pool_values(void **st) {
    (void)st;
    /* 3x3 input 1..9, 2x2 window stride 1, pad 1 (top/left) */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[9];
    int32_t am[9];
    bq_maxpool_forward(y, am, x, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 3, 3);
    assert_float_equal(y[0], 1.0f, 0.0);  /* window {pad, pad, pad, 1}: padding never wins */
    assert_int_equal(am[0], 0);
    assert_float_equal(y[8], 9.0f, 0.0);
    assert_int_equal(am[8], 8);
    float ya[9];
    bq_avgpool_forward(ya, x, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 3, 3, 1);
    assert_float_equal(ya[0], 1.0f / 4.0f, EXACT_TOL);         /* include pad: /4 */
    assert_float_equal(ya[1], (1.0f + 2.0f) / 4.0f, EXACT_TOL);
    bq_avgpool_forward(ya, x, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 3, 3, 0);
    assert_float_equal(ya[0], 1.0f, EXACT_TOL);                /* exclude pad: /1 */
    assert_float_equal(ya[1], 1.5f, EXACT_TOL);
    assert_float_equal(ya[4], (1 + 2 + 4 + 5) / 4.0f, EXACT_TOL);
    float g[1];
    bq_gap_forward(g, x, 1, 1, 9);
    assert_float_equal(g[0], 5.0f, EXACT_TOL);
}

/* ===================================================================== softmax xent */

typedef struct {
    int n, k;
    float *logits, *probs;
    int *labels;
} xent_ctx;

static double xent_loss(void *p) {
    xent_ctx *c = p;
    return bq_softmax_xent_forward(c->probs, c->logits, c->labels, c->n, c->k);
}

static void test_softmax_xent(void **st) {
    (void)st;
    xent_ctx c = {.n = 4, .k = 6};
    int labels[4] = {0, 5, 2, 2};
    c.labels = labels;
    c.logits = falloc(24); c.probs = falloc(24);
    float *dl = falloc(24);
    tu_fill(c.logits, 24, 1, 3.0f);
    xent_loss(&c);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 6; j++) s += c.probs[i * 6 + j];
        assert_float_equal(s, 1.0, 1e-6);
    }
    const float dloss = 1.7f;  /* chain-rule factor must scale the gradient */
    bq_softmax_xent_backward(dl, c.probs, labels, 4, 6, dloss);
    for (int i = 0; i < 24; i++) dl[i] /= dloss;
    check_grad("softmax xent", xent_loss, &c, c.logits, dl, 24, H_XENT);
    float *dl1 = fdup(dl, 24);
    xent_loss(&c);   /* the gradient check left probs of a perturbed input behind */
    bq_softmax_xent_backward(dl, c.probs, labels, 4, 6, 1.0f);
    check_doubled("softmax xent", dl, dl1, 24);
    free(dl1);

    /* stability: huge logits give a finite, exact loss. Row 0: (1000, 0) label 1 -> loss 1000;
     * row 1: (-1000, -1000) label 0 -> log 2. */
    float big[4] = {1000.0f, 0.0f, -1000.0f, -1000.0f}, pb[4];
    int lb[2] = {1, 0};
    float loss = bq_softmax_xent_forward(pb, big, lb, 2, 2);
    assert_true(isfinite(loss));
    assert_float_equal(loss, (1000.0 + log(2.0)) / 2.0, 1e-3);
    assert_float_equal(pb[2], 0.5f, EXACT_TOL);
    free(c.logits); free(c.probs); free(dl);
}

/* ===================================================================== threading */

/* The ops split large tensors over threads (BQ_NUM_THREADS, else the online CPUs). Results must
 * not depend on the split: identical for per-element / per-channel work, and within float
 * rounding where partial sums are combined (conv dW). Sizes are above the per-thread minimums,
 * 3 threads give uneven ranges. */
static void run_ops_with_threads(const char *threads, float *bn_out, float *relu_out,
                                 float *add_da, float *conv_out, float *conv_dw,
                                 float *conv_dinp) {
    assert_int_equal(setenv("BQ_NUM_THREADS", threads, 1), 0);
    enum { BN_N = 8, BN_C = 16, BN_HW = 1024, EW = 300000 };
    const size_t bn_cnt = (size_t)BN_N * BN_C * BN_HW;
    float *x = falloc(bn_cnt), *g = falloc(BN_C), *b = falloc(BN_C), *mu = falloc(BN_C),
          *rs = falloc(BN_C);
    tu_fill(x, bn_cnt, 1, 2.0f);
    tu_fill(g, BN_C, 2, 1.0f);
    tu_fill(b, BN_C, 3, 1.0f);
    bq_batchnorm_train_forward(bn_out, mu, rs, NULL, NULL, x, g, b, BN_N, BN_C, BN_HW, 1e-5f,
                               0.1f);
    float *e = falloc(EW), *d = falloc(EW);
    tu_fill(e, EW, 4, 1.0f);
    tu_fill(d, EW, 5, 1.0f);
    bq_relu_forward(relu_out, e, EW);
    bq_relu_backward(relu_out, d, e, EW);          /* adds into the forward output */
    bq_add_backward(add_da, NULL, d, EW);
    conv_ctx c;
    conv_setup(&c, 5, 8, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 77);
    bq_conv2d_forward(conv_out, c.inp, c.w, c.b, &c.cs, c.scratch);
    bq_conv2d_backward(conv_dinp, conv_dw, NULL, c.r, c.inp, c.w, &c.cs, c.scratch);
    conv_teardown(&c);
    free(x); free(g); free(b); free(mu); free(rs); free(e); free(d);
    unsetenv("BQ_NUM_THREADS");
}

static void test_thread_count_invariance(void **st) {
    (void)st;
    const size_t bn_cnt = (size_t)8 * 16 * 1024, ew = 300000;
    const size_t co = (size_t)5 * 8 * 12 * 12, cw = (size_t)8 * 8 * 9, ci = (size_t)5 * 8 * 144;
    float *r[2][6];
    const size_t sz[6] = {bn_cnt, ew, ew, co, cw, ci};
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 6; j++) r[k][j] = falloc(sz[j]);
    run_ops_with_threads("1", r[0][0], r[0][1], r[0][2], r[0][3], r[0][4], r[0][5]);
    run_ops_with_threads("3", r[1][0], r[1][1], r[1][2], r[1][3], r[1][4], r[1][5]);
    const char *names[6] = {"bn", "relu", "add", "conv out", "conv dW", "conv dinp"};
    for (int j = 0; j < 6; j++) {
        for (size_t i = 0; i < sz[j]; i++)
            if (memcmp(&r[0][j][i], &r[1][j][i], sizeof(float)) != 0)
                fail_msg("%s[%zu]: 1 thread %g, 3 threads %g", names[j], i, (double)r[0][j][i],
                         (double)r[1][j][i]);
    }
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 6; j++) free(r[k][j]);
}

/* Conv dW and dinp bit for bit under 1..4 threads, on batches that split into several backward
 * blocks (conv.c: every block of images sums its own partial dW, added in block order): dense 3x3,
 * strided, 1x1 and depthwise, batch sizes that do not divide evenly. Before, each thread summed
 * its share of the batch, so dW (and so a long reconstruction's output) changed with the number
 * of cores. */
static void test_conv_dw_thread_invariance(void **st) {
    (void)st;
    const int shapes[][7] = {   /* n cin hw cout k stride groups */
        {13, 16, 28, 16, 3, 1, 1}, {21, 32, 14, 64, 3, 2, 1}, {11, 24, 14, 40, 1, 1, 1},
        {13, 24, 14, 24, 3, 2, 24}, {32, 64, 7, 64, 3, 1, 1}};
    const char *threads[4] = {"1", "2", "3", "4"};
    for (int sh = 0; sh < 5; sh++) {
        const int *p = shapes[sh];
        float *ref_dw = NULL, *ref_dinp = NULL;
        for (int t = 0; t < 4; t++) {
            assert_int_equal(setenv("BQ_NUM_THREADS", threads[t], 1), 0);
            conv_ctx c;
            const int pad = p[4] / 2;
            conv_setup(&c, p[0], p[1], p[2], p[2], p[3], p[4], p[4], p[5], p[5], pad, pad, pad,
                       pad, p[6], 100 + sh);
            conv_backward_all(&c);
            if (t == 0) {
                ref_dw = falloc(c.n_w);
                ref_dinp = falloc(c.n_in);
                memcpy(ref_dw, c.dw, sizeof(float) * c.n_w);
                memcpy(ref_dinp, c.dinp, sizeof(float) * c.n_in);
            } else {
                if (memcmp(ref_dw, c.dw, sizeof(float) * c.n_w) != 0)
                    fail_msg("shape %d: conv dW with %s threads differs from 1 thread", sh,
                             threads[t]);
                if (memcmp(ref_dinp, c.dinp, sizeof(float) * c.n_in) != 0)
                    fail_msg("shape %d: conv dinp with %s threads differs from 1 thread", sh,
                             threads[t]);
            }
            conv_teardown(&c);
        }
        free(ref_dw);
        free(ref_dinp);
    }
    unsetenv("BQ_NUM_THREADS");
}

/* ===================================================================== optimizers */

static void test_sgd_steps(void **st) {
    (void)st;
    char err[256];
    /* entry 0 decays, entry 1 (a "bias") does not; lr 0.1, momentum 0.9, wd 0.01 */
    float p0[2] = {1.0f, -2.0f}, g0[2] = {0.5f, 0.25f};
    float p1[1] = {3.0f}, g1[1] = {-1.0f};
    bq_param_entry e[2] = {{p0, g0, 2, 0}, {p1, g1, 1, 1}};
    bq_optim_config cfg = bq_optim_sgd_defaults();
    cfg.momentum = 0.9f;
    cfg.weight_decay = 0.01f;
    bq_optim opt;
    assert_int_equal(bq_optim_init(&opt, &cfg, e, 2, err, sizeof err), 0);
    /* step 1: g = 0.5 + 0.01*1 = 0.51, buf = 0.51, p = 1 - 0.051 = 0.949
     *         bias: g = -1, buf = -1, p = 3 + 0.1 = 3.1 */
    bq_optim_step(&opt, 0.1f);
    assert_float_equal(p0[0], 0.949f, EXACT_TOL);
    assert_float_equal(p0[1], -2.0 - 0.1 * (0.25 - 0.02), EXACT_TOL);
    assert_float_equal(p1[0], 3.1f, EXACT_TOL);
    /* step 2: g = 0.5 + 0.00949 = 0.50949, buf = 0.9*0.51 + 0.50949 = 0.96849,
     *         p = 0.949 - 0.096849 = 0.852151;  bias: buf = -1.9, p = 3.1 + 0.19 = 3.29 */
    bq_optim_step(&opt, 0.1f);
    assert_float_equal(p0[0], 0.852151f, EXACT_TOL);
    assert_float_equal(p1[0], 3.29f, EXACT_TOL);
    bq_optim_free(&opt);

    /* Nesterov, no decay: update = g + m * buf. step1: buf = 1, upd = 1.9 -> p = 1 - 0.19 = 0.81
     * step2: buf = 1.9, upd = 1 + 1.71 = 2.71 -> p = 0.81 - 0.271 = 0.539 */
    float q[1] = {1.0f}, gq[1] = {1.0f};
    bq_param_entry eq = {q, gq, 1, 0};
    cfg = bq_optim_sgd_defaults();
    cfg.momentum = 0.9f;
    cfg.nesterov = 1;
    assert_int_equal(bq_optim_init(&opt, &cfg, &eq, 1, err, sizeof err), 0);
    bq_optim_step(&opt, 0.1f);
    assert_float_equal(q[0], 0.81f, EXACT_TOL);
    bq_optim_step(&opt, 0.1f);
    assert_float_equal(q[0], 0.539f, EXACT_TOL);
    bq_optim_free(&opt);

    /* plain SGD (momentum 0): p -= lr * g */
    q[0] = 1.0f;
    cfg = bq_optim_sgd_defaults();
    cfg.momentum = 0.0f;
    assert_int_equal(bq_optim_init(&opt, &cfg, &eq, 1, err, sizeof err), 0);
    bq_optim_step(&opt, 0.5f);
    bq_optim_step(&opt, 0.5f);
    assert_float_equal(q[0], 0.0f, EXACT_TOL);
    bq_optim_free(&opt);

    /* bad hyper-parameters are reported, not crashed on */
    cfg = bq_optim_sgd_defaults();
    cfg.momentum = 0.0f;
    cfg.nesterov = 1;
    assert_int_equal(bq_optim_init(&opt, &cfg, &eq, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "Nesterov"));
    bq_optim_free(&opt);
}

static void test_adam_steps(void **st) {
    (void)st;
    char err[256];
    float p[2] = {1.0f, -1.0f}, g[2] = {0.5f, -2.0f};
    bq_param_entry e = {p, g, 2, 0};
    bq_optim_config cfg = bq_optim_adam_defaults();
    bq_optim opt;
    assert_int_equal(bq_optim_init(&opt, &cfg, &e, 1, err, sizeof err), 0);
    /* Step 1: m^ = g, v^ = g^2, so the update is lr * g / (|g| + eps) = lr * sign(g). */
    bq_optim_step(&opt, 0.01f);
    assert_float_equal(p[0], 0.99f, EXACT_TOL);
    assert_float_equal(p[1], -0.99f, EXACT_TOL);
    /* Step 2 with a new gradient g2 = 1.5 (entry 0), -2 (entry 1):
     * m = 0.9*0.05 + 0.1*1.5 = 0.195, m^ = 0.195/0.19 ; v = 0.999*0.00025 + 0.001*2.25
     * = 0.00249975, v^ = v / (1 - 0.998001); update = lr * m^ / (sqrt(v^) + eps). */
    g[0] = 1.5f;
    bq_optim_step(&opt, 0.01f);
    double mh = 0.195 / 0.19, vh = 0.00249975 / (1.0 - 0.999 * 0.999);
    assert_float_equal(p[0], 0.99 - 0.01 * mh / (sqrt(vh) + 1e-8), EXACT_TOL);
    assert_float_equal(p[1], -0.98f, EXACT_TOL);  /* constant gradient: always lr * sign */
    bq_optim_free(&opt);

    /* L2 weight decay enters the gradient: p = 2, g = 0, wd = 0.5 -> g_eff = 1 -> p -= lr. */
    float q[1] = {2.0f}, gq[1] = {0.0f};
    bq_param_entry eq = {q, gq, 1, 0};
    cfg.weight_decay = 0.5f;
    assert_int_equal(bq_optim_init(&opt, &cfg, &eq, 1, err, sizeof err), 0);
    bq_optim_step(&opt, 0.1f);
    assert_float_equal(q[0], 1.9f, EXACT_TOL);
    bq_optim_free(&opt);
    /* ... unless the entry opts out */
    eq.no_decay = 1;
    q[0] = 2.0f;
    assert_int_equal(bq_optim_init(&opt, &cfg, &eq, 1, err, sizeof err), 0);
    bq_optim_step(&opt, 0.1f);
    assert_float_equal(q[0], 2.0f, EXACT_TOL);
    bq_optim_free(&opt);
}

/* ===================================================================== LR schedules */

static void test_lr_schedules(void **st) {
    (void)st;
    const double pi = 3.14159265358979323846;
    /* cosine without warmup: base at 0, base/2 halfway, 0 at the end */
    assert_float_equal(bq_lr_cosine(0.1f, 0, 100, 0), 0.1f, EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 50, 100, 0), 0.05f, EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 25, 100, 0), 0.05 * (1 + cos(pi / 4)), EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 100, 100, 0), 0.0f, EXACT_TOL);
    /* warmup 10: linear (step+1)/10, then cosine over the remaining 90 steps */
    assert_float_equal(bq_lr_cosine(0.1f, 0, 100, 10), 0.01f, EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 4, 100, 10), 0.05f, EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 9, 100, 10), 0.1f, EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 10, 100, 10), 0.1f, EXACT_TOL);
    assert_float_equal(bq_lr_cosine(0.1f, 55, 100, 10), 0.05f, EXACT_TOL);
    /* one-cycle: total 101, 30% up (30 steps) from 1/25 to 1, cosine down to 1/(25*1e4) */
    const float mx = 1.0f;
    assert_float_equal(bq_lr_onecycle(mx, 0, 101, 0.3f, 25.0f, 1e4f), 0.04f, EXACT_TOL);
    assert_float_equal(bq_lr_onecycle(mx, 15, 101, 0.3f, 25.0f, 1e4f), 0.52f, EXACT_TOL);
    assert_float_equal(bq_lr_onecycle(mx, 30, 101, 0.3f, 25.0f, 1e4f), 1.0f, EXACT_TOL);
    /* halfway down (step 65 of 30..100): midpoint of max and final */
    assert_float_equal(bq_lr_onecycle(mx, 65, 101, 0.3f, 25.0f, 1e4f), 0.5 * (1.0 + 4e-6),
                       EXACT_TOL);
    assert_float_equal(bq_lr_onecycle(mx, 100, 101, 0.3f, 25.0f, 1e4f), 4e-6, 1e-9);
    assert_float_equal(bq_lr_onecycle(mx, 500, 101, 0.3f, 25.0f, 1e4f), 4e-6, 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_shape),
        cmocka_unit_test(test_im2col_adjoint),
        cmocka_unit_test(test_conv_fast_vs_ref),
        cmocka_unit_test(test_conv_batch_vs_single),
        cmocka_unit_test(test_conv_backward_null_and_accumulate),
        cmocka_unit_test(test_conv_grad_dense),
        cmocka_unit_test(test_conv_grad_strided),
        cmocka_unit_test(test_conv_grad_padded),
        cmocka_unit_test(test_conv_grad_asym),
        cmocka_unit_test(test_conv_grad_grouped),
        cmocka_unit_test(test_conv_grad_depthwise),
        cmocka_unit_test(test_conv_grad_pointwise),
        cmocka_unit_test(test_gradcheck_detects_errors),
        cmocka_unit_test(test_linear_grad),
        cmocka_unit_test(test_batchnorm_train_grad),
        cmocka_unit_test(test_batchnorm_running_stats),
        cmocka_unit_test(test_batchnorm_fold),
        cmocka_unit_test(test_elementwise_grad),
        cmocka_unit_test(test_pool_grad),
        cmocka_unit_test(test_pool_values),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_thread_count_invariance),
        cmocka_unit_test(test_conv_dw_thread_invariance),
        cmocka_unit_test(test_sgd_steps),
        cmocka_unit_test(test_adam_steps),
        cmocka_unit_test(test_lr_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
