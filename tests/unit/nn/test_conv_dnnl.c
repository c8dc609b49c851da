/* test_conv_dnnl.c — the oneDNN conv (BQ_CONV_DNNL, sw/nn/conv_dnnl.c) against the plain double
 * references bq_conv2d_forward_ref / bq_conv2d_backward_ref on every geometry kind the engine has
 * (dense, strided, asymmetric pads, 1x1, grouped, depthwise, channel counts that are not a
 * multiple of oneDNN's block of 16); the cache (a second call reuses the primitive, a new batch
 * builds a new one, the LRU evicts); bytes equal run to run; errors are one line, no crash; and
 * the void ops.h dispatch (cache in cs->dnnl, or none). The same in BF16 mode (bq_dnnl_ctx_set_bf16)
 * within a bf16 tolerance, on oneDNN's native bf16 kernels, with no fallback to FP32. */
#include "testutil.h"
#include "nn/conv_dnnl.h"
#include "nn/ops.h"

#include <string.h>

/* FP32 sums in another order than the double reference: |got - ref| <= TOL * (the same sum over
 * absolute values) + a floor for exact zeros. The worst case is (terms - 1) * 2^-24 of that
 * magnitude; the typical error is ~sqrt(terms) * 2^-24, far below. */
#define TOL 1e-5
/* BF16 mode rounds x, w and dy to bf16 (8 significant bits: relative error <= 2^-9 each), so a
 * product carries <= 2 * 2^-9 + 2^-18 ~ 3.9e-3 of its magnitude; the f32 accumulation adds the
 * FP32 error above. 1e-2 of the absolute sum bounds the worst case with a 2.5x margin; the
 * typical error (random signs) is ~sqrt(terms) * 2^-10 of that, far below. */
#define TOL_BF16 1e-2

typedef struct { int n, cin, h, w, cout, k, s, pt, pl, pb, pr, g; } shape;

static const shape SHAPES[] = {
    {3, 4, 9, 9, 8, 3, 1, 1, 1, 1, 1, 1},     /* dense 3x3 same */
    {2, 6, 11, 10, 5, 3, 2, 1, 1, 1, 1, 1},   /* stride 2, odd sizes, Cout not a block multiple */
    {2, 4, 8, 8, 6, 3, 1, 0, 2, 1, 0, 2},     /* asymmetric pads, groups 2 */
    {2, 8, 7, 7, 8, 3, 1, 1, 1, 1, 1, 8},     /* depthwise */
    {2, 8, 7, 7, 16, 3, 2, 1, 1, 1, 1, 8},    /* depthwise multiplier 2, stride 2 */
    {2, 32, 6, 6, 32, 3, 1, 1, 1, 1, 1, 32},  /* depthwise, 32 channels (blocked dw kernels) */
    {4, 16, 5, 5, 12, 1, 1, 0, 0, 0, 0, 1},   /* 1x1 */
    {3, 16, 8, 8, 32, 1, 2, 0, 0, 0, 0, 1},   /* 1x1 stride 2 (ResNet shortcut) */
    {1, 3, 6, 6, 4, 5, 1, 2, 2, 2, 2, 1},     /* 5x5 */
    {2, 1, 12, 12, 16, 3, 1, 1, 1, 1, 1, 1},  /* stem: one input channel */
    {2, 16, 10, 10, 32, 3, 2, 1, 1, 1, 1, 1}, /* ResNet downsample 16 -> 32 */
    {2, 32, 6, 6, 32, 3, 1, 1, 1, 1, 1, 4},   /* grouped, 8 channels per group */
};
#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

typedef struct {
    bq_conv_shape cs;
    size_t ni, no, nw;
    float *x, *w, *b, *dy;     /* inputs */
    float *ax, *aw, *ady;      /* their absolute values (tolerance magnitudes) */
} problem;

static void make(problem *p, const shape *sh, uint64_t seed) {
    memset(p, 0, sizeof(*p));
    assert_int_equal(bq_conv2d_shape(&p->cs, sh->n, sh->cin, sh->h, sh->w, sh->cout, sh->k, sh->k,
                                     sh->s, sh->s, sh->pt, sh->pl, sh->pb, sh->pr, sh->g), 0);
    p->ni = (size_t)sh->n * sh->cin * sh->h * sh->w;
    p->no = (size_t)sh->n * sh->cout * p->cs.hout * p->cs.wout;
    p->nw = (size_t)sh->cout * (sh->cin / sh->g) * sh->k * sh->k;
    p->x = malloc(p->ni * 4); p->w = malloc(p->nw * 4); p->b = malloc((size_t)sh->cout * 4);
    p->dy = malloc(p->no * 4);
    p->ax = malloc(p->ni * 4); p->aw = malloc(p->nw * 4); p->ady = malloc(p->no * 4);
    tu_fill(p->x, p->ni, seed + 1, 1.0f); tu_fill(p->w, p->nw, seed + 2, 0.5f);
    tu_fill(p->b, (size_t)sh->cout, seed + 3, 0.5f); tu_fill(p->dy, p->no, seed + 4, 1.0f);
    for (size_t i = 0; i < p->ni; i++) p->ax[i] = fabsf(p->x[i]);
    for (size_t i = 0; i < p->nw; i++) p->aw[i] = fabsf(p->w[i]);
    for (size_t i = 0; i < p->no; i++) p->ady[i] = fabsf(p->dy[i]);
}

static void unmake(problem *p) {
    free(p->x); free(p->w); free(p->b); free(p->dy); free(p->ax); free(p->aw); free(p->ady);
}

/* Checks |got - ref| <= tol * mag + floor per element; returns the largest |got - ref| / mag
 * (how far from exact the result is: bf16 tests check it is not FP32-exact). */
static double expect_close_tol(const float *got, const float *ref, const float *mag, size_t n,
                               const char *what, int shape_idx, double rel) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double tol = rel * (double)mag[i] + 1e-7;
        double d = fabs((double)got[i] - (double)ref[i]);
        if (mag[i] > 0 && d / mag[i] > worst) worst = d / mag[i];
        if (fabs((double)got[i] - (double)ref[i]) > tol)
            fail_msg("shape %d %s[%zu]: dnnl %.9g, reference %.9g (|diff| %.3g > tol %.3g)",
                     shape_idx, what, i, got[i], ref[i], fabs((double)got[i] - ref[i]), tol);
    }
    return worst;
}

static void expect_close(const float *got, const float *ref, const float *mag, size_t n,
                         const char *what, int shape_idx) {
    expect_close_tol(got, ref, mag, n, what, shape_idx, TOL);
}

/* forward, dX, dW, db of one shape against the references (outputs start nonzero: backward adds)
 * within rel of the absolute sums; returns the largest relative error seen. */
static double check_shape(bq_dnnl_ctx *ctx, int si, double rel) {
    double worst = 0.0, w;
    problem p;
    make(&p, &SHAPES[si], 10 * (uint64_t)si);
    const bq_conv_shape *cs = &p.cs;
    const int co = cs->cout;
    char err[256] = "";
    float *y = malloc(p.no * 4), *yr = malloc(p.no * 4), *ym = malloc(p.no * 4);
    float *ab = malloc((size_t)co * 4);
    for (int i = 0; i < co; i++) ab[i] = fabsf(p.b[i]);
    /* forward, with and without bias */
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        memset(y, 0xff, p.no * 4);     /* NaN: every element must be written */
        if (bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, with_bias ? p.b : NULL, cs, err, sizeof err))
            fail_msg("shape %d: %s", si, err);
        bq_conv2d_forward_ref(yr, p.x, p.w, with_bias ? p.b : NULL, cs);
        bq_conv2d_forward_ref(ym, p.ax, p.aw, with_bias ? ab : NULL, cs);
        w = expect_close_tol(y, yr, ym, p.no, with_bias ? "y" : "y(no bias)", si, rel);
        if (w > worst) worst = w;
    }
    /* backward: all three, then each alone */
    float *dx = malloc(p.ni * 4), *dxr = malloc(p.ni * 4), *dxm = malloc(p.ni * 4);
    float *dw = malloc(p.nw * 4), *dwr = malloc(p.nw * 4), *dwm = malloc(p.nw * 4);
    float *db = malloc((size_t)co * 4), *dbr = malloc((size_t)co * 4), *dbm = malloc((size_t)co * 4);
    for (int mode = 0; mode < 4; mode++) {
        const int want_x = mode == 0 || mode == 1, want_w = mode == 0 || mode == 2;
        const int want_b = mode == 0 || mode == 3;
        for (size_t i = 0; i < p.ni; i++) dx[i] = dxr[i] = 0.25f, dxm[i] = 0.25f;
        for (size_t i = 0; i < p.nw; i++) dw[i] = dwr[i] = -0.5f, dwm[i] = 0.5f;
        for (int i = 0; i < co; i++) db[i] = dbr[i] = 1.0f, dbm[i] = 1.0f;
        if (bq_conv2d_dnnl_backward(ctx, want_x ? dx : NULL, want_w ? dw : NULL,
                                    want_b ? db : NULL, p.dy, p.x, p.w, cs, err, sizeof err))
            fail_msg("shape %d backward: %s", si, err);
        bq_conv2d_backward_ref(want_x ? dxr : NULL, want_w ? dwr : NULL, want_b ? dbr : NULL, p.dy,
                               p.x, p.w, cs);
        bq_conv2d_backward_ref(want_x ? dxm : NULL, want_w ? dwm : NULL, want_b ? dbm : NULL,
                               p.ady, p.ax, p.aw, cs);
        const double wx = expect_close_tol(dx, dxr, dxm, p.ni, "dX", si, rel);
        const double ww = expect_close_tol(dw, dwr, dwm, p.nw, "dW", si, rel);
        const double wb = expect_close_tol(db, dbr, dbm, (size_t)co, "db", si, rel);
        if (wx > worst) worst = wx;
        if (ww > worst) worst = ww;
        if (wb > worst) worst = wb;
    }
    free(y); free(yr); free(ym); free(ab);
    free(dx); free(dxr); free(dxm); free(dw); free(dwr); free(dwm); free(db); free(dbr); free(dbm);
    unmake(&p);
    return worst;
}

static void test_dnnl_matches_reference(void **state) {
    (void)state;
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    assert_non_null(ctx);
    for (int si = 0; si < NSHAPES; si++) check_shape(ctx, si, TOL);
    assert_int_equal(bq_dnnl_ctx_stats(ctx)->fallbacks, 0);
    bq_dnnl_ctx_free(ctx);
}

/* A second call with the same geometry finds the primitive; a new batch or bias flag builds one. */
static void test_dnnl_cache_reuse(void **state) {
    (void)state;
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    problem p;
    make(&p, &SHAPES[1], 7);
    char err[256];
    float *y = malloc(p.no * 4), *dx = calloc(p.ni, 4), *dw = calloc(p.nw, 4);
    const bq_dnnl_stats *st = bq_dnnl_ctx_stats(ctx);
    assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, p.b, &p.cs, err, sizeof err), 0);
    assert_int_equal(st->misses, 1);
    assert_int_equal(st->hits, 0);
    assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, p.b, &p.cs, err, sizeof err), 0);
    assert_int_equal(st->misses, 1);
    assert_int_equal(st->hits, 1);
    assert_int_equal(st->calls, 2);
    /* backward builds its data and weights primitives once each */
    for (int r = 0; r < 3; r++)
        assert_int_equal(bq_conv2d_dnnl_backward(ctx, dx, dw, NULL, p.dy, p.x, p.w, &p.cs, err,
                                                 sizeof err), 0);
    assert_int_equal(st->misses, 3);
    assert_int_equal(st->hits, 5);
    const size_t ws = st->ws_bytes;
    assert_true(ws > 0);
    /* no bias: another forward primitive */
    assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, NULL, &p.cs, err, sizeof err), 0);
    assert_int_equal(st->misses, 4);
    /* a smaller batch: another entry; the workspace does not grow */
    bq_conv_shape half = p.cs;
    half.n = 1;
    assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, p.b, &half, err, sizeof err), 0);
    assert_int_equal(st->misses, 5);
    assert_int_equal(st->ws_bytes, ws);
    assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, p.b, &half, err, sizeof err), 0);
    assert_int_equal(st->misses, 5);
    /* the implementation name of a cached entry, without building anything new */
    const char *impl = bq_conv2d_dnnl_impl(ctx, &p.cs, BQ_DNNL_FWD, 1, err, sizeof err);
    assert_non_null(impl);
    assert_true(strlen(impl) > 0);
    assert_int_equal(st->misses, 5);
    assert_int_equal(st->evicted, 0);
    free(y); free(dx); free(dw);
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

/* More geometries than cache slots: the least recently used entries go, results stay right. */
static void test_dnnl_cache_evicts(void **state) {
    (void)state;
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    char err[256];
    float x[4 * 12 * 12], w[4 * 4 * 9], y[4 * 12 * 12], yr[4 * 12 * 12];
    tu_fill(x, sizeof x / 4, 1, 1.0f);
    tu_fill(w, sizeof w / 4, 2, 1.0f);
    const int sizes = 70;      /* > CACHE_SLOTS (64) */
    for (int pass = 0; pass < 2; pass++)
        for (int s = 0; s < sizes; s++) {
            bq_conv_shape cs;
            /* H = 3 + s/10, W = 3 + s%10: 70 geometries within a 12x12 buffer */
            assert_int_equal(bq_conv2d_shape(&cs, 1, 4, 3 + s / 10, 3 + s % 10, 4, 3, 3, 1, 1, 1, 1,
                                             1, 1, 1), 0);
            assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, x, w, NULL, &cs, err, sizeof err), 0);
            bq_conv2d_forward_ref(yr, x, w, NULL, &cs);
            for (int i = 0; i < 4 * cs.hout * cs.wout; i++) assert_true(fabsf(y[i] - yr[i]) < 1e-4f);
        }
    const bq_dnnl_stats *st = bq_dnnl_ctx_stats(ctx);
    assert_int_equal(st->misses, 2 * sizes);   /* LRU over a cycle longer than the cache */
    assert_int_equal(st->evicted, 2 * sizes - 64);
    bq_dnnl_ctx_free(ctx);
}

/* Same input twice -> the same bytes (same thread count), for all three directions. */
static void test_dnnl_deterministic(void **state) {
    (void)state;
    const shape sh = {8, 16, 16, 16, 32, 3, 1, 1, 1, 1, 1, 1};
    problem p;
    make(&p, &sh, 3);
    char err[256];
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int r = 0; r < 2; r++) {
        y[r] = malloc(p.no * 4); dx[r] = calloc(p.ni, 4); dw[r] = calloc(p.nw, 4);
        db[r] = calloc((size_t)sh.cout, 4);
        assert_int_equal(bq_conv2d_dnnl_forward(ctx, y[r], p.x, p.w, p.b, &p.cs, err, sizeof err), 0);
        assert_int_equal(bq_conv2d_dnnl_backward(ctx, dx[r], dw[r], db[r], p.dy, p.x, p.w, &p.cs,
                                                 err, sizeof err), 0);
    }
    assert_memory_equal(y[0], y[1], p.no * 4);
    assert_memory_equal(dx[0], dx[1], p.ni * 4);
    assert_memory_equal(dw[0], dw[1], p.nw * 4);
    assert_memory_equal(db[0], db[1], (size_t)sh.cout * 4);
    for (int r = 0; r < 2; r++) { free(y[r]); free(dx[r]); free(dw[r]); free(db[r]); }
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

/* The thread count is part of the key (a primitive keeps the split it was built for); measured
 * behaviour of oneDNN 2.6 (docs/onednn.md): forward and dX are the same bytes on 1 and 2 threads,
 * dW may differ (its reduction is split between threads) but stays within the tolerance. */
static void test_dnnl_thread_count(void **state) {
    (void)state;
    const shape sh = {8, 16, 12, 12, 32, 3, 1, 1, 1, 1, 1, 1};
    problem p;
    make(&p, &sh, 11);
    char err[256];
    const char *saved = getenv("BQ_NUM_THREADS");
    char keep[32] = "";
    if (saved) snprintf(keep, sizeof keep, "%s", saved);
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    const bq_dnnl_stats *st = bq_dnnl_ctx_stats(ctx);
    float *y[2], *dx[2], *dw[2];
    for (int t = 0; t < 2; t++) {
        setenv("BQ_NUM_THREADS", t ? "2" : "1", 1);
        y[t] = malloc(p.no * 4); dx[t] = calloc(p.ni, 4); dw[t] = calloc(p.nw, 4);
        assert_int_equal(bq_conv2d_dnnl_forward(ctx, y[t], p.x, p.w, p.b, &p.cs, err, sizeof err), 0);
        assert_int_equal(bq_conv2d_dnnl_backward(ctx, dx[t], dw[t], NULL, p.dy, p.x, p.w, &p.cs, err,
                                                 sizeof err), 0);
        assert_int_equal(st->misses, 3 * (t + 1));   /* new primitives for the new count */
    }
    if (saved) setenv("BQ_NUM_THREADS", keep, 1); else unsetenv("BQ_NUM_THREADS");
    assert_memory_equal(y[0], y[1], p.no * 4);
    assert_memory_equal(dx[0], dx[1], p.ni * 4);
    float *dwr = calloc(p.nw, 4), *dwm = calloc(p.nw, 4);
    bq_conv2d_backward_ref(NULL, dwr, NULL, p.dy, p.x, p.w, &p.cs);
    bq_conv2d_backward_ref(NULL, dwm, NULL, p.ady, p.ax, p.aw, &p.cs);
    expect_close(dw[0], dwr, dwm, p.nw, "dW 1 thread", -1);
    expect_close(dw[1], dwr, dwm, p.nw, "dW 2 threads", -1);
    for (int t = 0; t < 2; t++) { free(y[t]); free(dx[t]); free(dw[t]); }
    free(dwr); free(dwm);
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

/* A geometry oneDNN refuses (an output size that does not follow from the input) -> -1 and one
 * line naming the shape; no context -> -1; the void ops.h call falls back to the direct kernel
 * and keeps the error in the context. */
static void test_dnnl_errors(void **state) {
    (void)state;
    problem p;
    make(&p, &SHAPES[0], 5);
    char err[256] = "";
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    float *y = malloc(p.no * 4), *yr = malloc(p.no * 4);
    assert_int_equal(bq_conv2d_dnnl_forward(NULL, y, p.x, p.w, p.b, &p.cs, err, sizeof err), -1);
    assert_non_null(strstr(err, "no context"));
    bq_conv_shape bad = p.cs;
    bad.hout -= 1;             /* inconsistent with H, pads, kernel and stride */
    err[0] = 0;
    assert_int_equal(bq_conv2d_dnnl_forward(ctx, y, p.x, p.w, p.b, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "conv_dnnl: forward"));
    assert_non_null(strstr(err, "BQ_CONV=direct"));
    assert_null(strchr(err, '\n'));
    err[0] = 0;
    assert_int_equal(bq_conv2d_dnnl_backward(ctx, y, y, NULL, y, p.x, p.w, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "conv_dnnl: backward-data"));
    /* the void API: the direct kernel runs instead, the error is kept */
    bq_conv_shape cs = p.cs;
    float *scratch = malloc(sizeof(float) * bq_conv2d_scratch_floats(&cs));
    cs.impl = BQ_CONV_DNNL;
    cs.dnnl = ctx;
    bq_conv2d_forward(y, p.x, p.w, p.b, &cs, scratch);     /* fine: no fallback */
    assert_int_equal(bq_dnnl_ctx_stats(ctx)->fallbacks, 0);
    bq_conv2d_forward_ref(yr, p.x, p.w, p.b, &cs);
    for (size_t i = 0; i < p.no; i++) assert_true(fabsf(y[i] - yr[i]) < 1e-4f);
    bad.impl = BQ_CONV_DNNL;   /* refused: the direct kernel computes the same (short) output */
    bad.dnnl = ctx;
    bq_conv2d_forward(y, p.x, p.w, p.b, &bad, scratch);
    assert_int_equal(bq_dnnl_ctx_stats(ctx)->fallbacks, 1);
    assert_non_null(strstr(bq_dnnl_ctx_stats(ctx)->first_error, "conv_dnnl: forward"));
    bq_conv2d_forward_ref(yr, p.x, p.w, p.b, &bad);
    for (size_t i = 0; i < (size_t)bad.n * bad.cout * bad.hout * bad.wout; i++)
        assert_true(fabsf(y[i] - yr[i]) < 1e-4f);
    free(y); free(yr); free(scratch);
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

/* The ops.h entry points with impl = BQ_CONV_DNNL: through a context, and without one. */
static void test_dnnl_dispatch(void **state) {
    (void)state;
    problem p;
    make(&p, &SHAPES[4], 9);
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    float *scratch = malloc(sizeof(float) * bq_conv2d_scratch_floats(&p.cs));
    float *y = malloc(p.no * 4), *yr = malloc(p.no * 4);
    float *dx = calloc(p.ni, 4), *dxr = calloc(p.ni, 4), *dw = calloc(p.nw, 4), *dwr = calloc(p.nw, 4);
    bq_conv2d_forward_ref(yr, p.x, p.w, p.b, &p.cs);
    bq_conv2d_backward_ref(dxr, dwr, NULL, p.dy, p.x, p.w, &p.cs);
    for (int with_ctx = 0; with_ctx < 2; with_ctx++) {
        bq_conv_shape cs = p.cs;
        cs.impl = BQ_CONV_DNNL;
        cs.dnnl = with_ctx ? ctx : NULL;
        memset(dx, 0, p.ni * 4); memset(dw, 0, p.nw * 4);
        bq_conv2d_forward(y, p.x, p.w, p.b, &cs, scratch);
        bq_conv2d_backward(dx, dw, NULL, p.dy, p.x, p.w, &cs, scratch);
        for (size_t i = 0; i < p.no; i++) assert_true(fabsf(y[i] - yr[i]) < 1e-4f);
        for (size_t i = 0; i < p.ni; i++) assert_true(fabsf(dx[i] - dxr[i]) < 1e-4f);
        for (size_t i = 0; i < p.nw; i++) assert_true(fabsf(dw[i] - dwr[i]) < 1e-4f);
    }
    const bq_dnnl_stats *st = bq_dnnl_ctx_stats(ctx);
    assert_int_equal(st->calls, 3);   /* forward, backward-data, backward-weights */
    assert_int_equal(st->fallbacks, 0);
    char line[128];
    bq_dnnl_describe(line, sizeof line);
    assert_non_null(strstr(line, "oneDNN"));
    free(y); free(yr); free(dx); free(dxr); free(dw); free(dwr); free(scratch);
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- BF16 mode */

/* The tests below need native bf16; on a CPU without it they check only that the mode is refused
 * by bq_dnnl_bf16_available (the recipe check, tests/unit/quant/test_recon_bf16.c). */
static int have_bf16(void) {
    char isa[64];
    int ok = bq_dnnl_bf16_available(isa, sizeof isa);
    if (!ok) printf("no native bf16 (%s): bf16 conv checks skipped\n", isa);
    return ok;
}

/* Every geometry of the FP32 test, in bf16 mode, against the double reference within TOL_BF16;
 * and not FP32-exact somewhere (the bf16 rounding really happens). */
static void test_dnnl_bf16_matches_reference(void **state) {
    (void)state;
    if (!have_bf16()) return;
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    bq_dnnl_ctx_set_bf16(ctx, 1);
    assert_int_equal(bq_dnnl_ctx_bf16(ctx), 1);
    double worst = 0.0;
    for (int si = 0; si < NSHAPES; si++) {
        double w = check_shape(ctx, si, TOL_BF16);
        if (w > worst) worst = w;
    }
    printf("bf16: largest error %.3g of the absolute sum (tolerance %.3g)\n", worst, TOL_BF16);
    assert_true(worst > 10 * TOL);   /* FP32 would stay below TOL */
    assert_int_equal(bq_dnnl_ctx_stats(ctx)->fallbacks, 0);
    assert_int_equal(bq_dnnl_ctx_stats(ctx)->errors, 0);
    bq_dnnl_ctx_free(ctx);
}

/* oneDNN runs the shipped models' geometries on its native bf16 kernels (not ref, not an
 * emulation): batch 32, every direction. */
static void test_dnnl_bf16_impl(void **state) {
    (void)state;
    if (!have_bf16()) return;
    static const shape geo[] = {
        {32, 1, 28, 28, 16, 3, 1, 1, 1, 1, 1, 1},     /* fres20 stem */
        {32, 16, 28, 28, 16, 3, 1, 1, 1, 1, 1, 1},    /* fres20 3x3 */
        {32, 16, 28, 28, 32, 3, 2, 1, 1, 1, 1, 1},    /* fres20 3x3 stride 2 */
        {32, 16, 28, 28, 32, 1, 2, 0, 0, 0, 0, 1},    /* fres20 1x1 shortcut */
        {32, 64, 7, 7, 64, 3, 1, 1, 1, 1, 1, 1},      /* fres20 stage 3 */
        {32, 16, 28, 28, 16, 3, 1, 1, 1, 1, 1, 16},   /* mbv2t depthwise */
        {32, 64, 28, 28, 64, 3, 2, 1, 1, 1, 1, 64},   /* mbv2t depthwise stride 2 */
        {32, 24, 14, 14, 96, 1, 1, 0, 0, 0, 0, 1},    /* mbv2t 1x1 */
    };
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    bq_dnnl_ctx_set_bf16(ctx, 1);
    char err[256];
    for (size_t g = 0; g < sizeof geo / sizeof geo[0]; g++) {
        const shape *sh = &geo[g];
        bq_conv_shape cs;
        assert_int_equal(bq_conv2d_shape(&cs, sh->n, sh->cin, sh->h, sh->w, sh->cout, sh->k, sh->k,
                                         sh->s, sh->s, sh->pt, sh->pl, sh->pb, sh->pr, sh->g), 0);
        for (int d = 0; d < 3; d++) {
            const char *impl = bq_conv2d_dnnl_impl(ctx, &cs, (bq_dnnl_dir)d, d != 1, err, sizeof err);
            if (!impl) fail_msg("geometry %zu direction %d: %s", g, d, err);
            if (!strstr(impl, "avx512_core_bf16"))
                fail_msg("geometry %zu direction %d: implementation %s", g, d, impl);
        }
    }
    bq_dnnl_ctx_free(ctx);
}

/* Same input twice in bf16 mode, same thread count: the same bytes in all three directions. */
static void test_dnnl_bf16_deterministic(void **state) {
    (void)state;
    if (!have_bf16()) return;
    const shape sh = {8, 16, 16, 16, 32, 3, 1, 1, 1, 1, 1, 1};
    problem p;
    make(&p, &sh, 4);
    char err[256];
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    bq_dnnl_ctx_set_bf16(ctx, 1);
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int r = 0; r < 2; r++) {
        y[r] = malloc(p.no * 4); dx[r] = calloc(p.ni, 4); dw[r] = calloc(p.nw, 4);
        db[r] = calloc((size_t)sh.cout, 4);
        assert_int_equal(bq_conv2d_dnnl_forward(ctx, y[r], p.x, p.w, p.b, &p.cs, err, sizeof err), 0);
        assert_int_equal(bq_conv2d_dnnl_backward(ctx, dx[r], dw[r], db[r], p.dy, p.x, p.w, &p.cs,
                                                 err, sizeof err), 0);
    }
    assert_memory_equal(y[0], y[1], p.no * 4);
    assert_memory_equal(dx[0], dx[1], p.ni * 4);
    assert_memory_equal(dw[0], dw[1], p.nw * 4);
    assert_memory_equal(db[0], db[1], (size_t)sh.cout * 4);
    for (int r = 0; r < 2; r++) { free(y[r]); free(dx[r]); free(dw[r]); free(db[r]); }
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

/* BF16 mode, a refused shape through the void ops.h call: no fallback to the FP32 direct kernel
 * (the output is left as it was), counted in errors with the line in first_error; FP32 mode
 * falls back (fallbacks, and one warning on stderr). The test-only BQ_FAKE_NO_BF16 switch. */
static void test_dnnl_bf16_no_fallback(void **state) {
    (void)state;
    problem p;
    make(&p, &SHAPES[0], 6);
    bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
    float *y = malloc(p.no * 4), *scratch = malloc(sizeof(float) * bq_conv2d_scratch_floats(&p.cs));
    bq_conv_shape bad = p.cs;
    bad.hout -= 1;
    bad.impl = BQ_CONV_DNNL;
    bad.dnnl = ctx;
    bq_dnnl_ctx_set_bf16(ctx, 1);
    for (size_t i = 0; i < p.no; i++) y[i] = 7.0f;
    bq_conv2d_forward(y, p.x, p.w, p.b, &bad, scratch);
    const bq_dnnl_stats *st = bq_dnnl_ctx_stats(ctx);
    assert_int_equal(st->errors, 1);
    assert_int_equal(st->fallbacks, 0);
    assert_non_null(strstr(st->first_error, "conv_dnnl: bf16 forward"));
    assert_non_null(strstr(st->first_error, "use 'compute: fp32'"));
    for (size_t i = 0; i < p.no; i++) assert_true(y[i] == 7.0f);
    bq_dnnl_ctx_set_bf16(ctx, 0);
    bq_conv2d_forward(y, p.x, p.w, p.b, &bad, scratch);
    assert_int_equal(st->errors, 1);
    assert_int_equal(st->fallbacks, 1);
    assert_true(y[0] != 7.0f);
    /* the test-only switch */
    char isa[64];
    const char *saved = getenv("BQ_FAKE_NO_BF16");
    setenv("BQ_FAKE_NO_BF16", "1", 1);
    assert_int_equal(bq_dnnl_bf16_available(isa, sizeof isa), 0);
    assert_non_null(strstr(isa, "BQ_FAKE_NO_BF16"));
    if (saved) setenv("BQ_FAKE_NO_BF16", saved, 1); else unsetenv("BQ_FAKE_NO_BF16");
    free(y); free(scratch);
    unmake(&p);
    bq_dnnl_ctx_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dnnl_matches_reference),
        cmocka_unit_test(test_dnnl_cache_reuse),
        cmocka_unit_test(test_dnnl_cache_evicts),
        cmocka_unit_test(test_dnnl_deterministic),
        cmocka_unit_test(test_dnnl_thread_count),
        cmocka_unit_test(test_dnnl_errors),
        cmocka_unit_test(test_dnnl_dispatch),
        cmocka_unit_test(test_dnnl_bf16_matches_reference),
        cmocka_unit_test(test_dnnl_bf16_impl),
        cmocka_unit_test(test_dnnl_bf16_deterministic),
        cmocka_unit_test(test_dnnl_bf16_no_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
