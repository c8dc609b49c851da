/*
 * bench_conv — forward, backward-data (dX) and backward-weights (dW) of every distinct conv
 * geometry of the shipped models (fres20, mbv2t, from the arch builders), for the three
 * implementations (direct, im2col, dnnl) side by side in one process, at batch 32 (as in
 * reconstruction) and 128, on 1 and 2 threads. Each cell is the median of $BENCH_CONV_RUNS
 * (default 7) repeats (the JSON also has the minimum); within a repeat the implementations run one
 * after another, so drifting load hits them alike.
 *
 * Also measured: the share of oneDNN's time spent in the NCHW <-> blocked reorders, the first
 * call of a shape (primitive creation), and oneDNN's determinism: the same input twice on the
 * same thread count, and 1 thread against 2 (bytes equal or the largest relative difference).
 *
 * Prints a table and writes JSON to argv[1] (default build/bench/conv.json) with the load
 * average before and after. BENCH_CONV_QUICK=1: batch 32 only, 3 repeats (a smoke run).
 */
#include "bench_util.h"
#include "core/fileio.h"
#include "core/progress.h"
#include "nn/conv_dnnl.h"
#include "nn/graph.h"
#include "nn/ops.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHAPES 64
#define MAX_RUNS 9

typedef struct {
    const char *model;
    bq_conv_shape cs;          /* n is set per batch */
    int layers, bias;          /* layers of the model with this geometry; conv has a bias */
} geo;

static void set_threads(int t) {
    char v[8];
    snprintf(v, sizeof v, "%d", t);
    setenv("BQ_NUM_THREADS", v, 1);
    openblas_set_num_threads(t);
}

static int same_geo(const bq_conv_shape *a, const bq_conv_shape *b) {
    return a->cin == b->cin && a->h == b->h && a->w == b->w && a->cout == b->cout &&
           a->kh == b->kh && a->kw == b->kw && a->stride_h == b->stride_h &&
           a->stride_w == b->stride_w && a->pad_t == b->pad_t && a->pad_l == b->pad_l &&
           a->pad_b == b->pad_b && a->pad_r == b->pad_r && a->groups == b->groups;
}

static int collect(geo *g, int ng, const char *arch) {
    bq_model m;
    if (bq_arch_build(&m, arch, 1)) return -1;
    for (int i = 0; i < m.n_nodes; i++) {
        const bq_node *nd = &m.nodes[i];
        if (nd->kind != BQ_OP_CONV) continue;
        const bq_node *in = &m.nodes[nd->in[0]];
        bq_conv_shape cs;
        if (bq_conv2d_shape(&cs, 1, in->c, in->h, in->w, nd->c, nd->kh, nd->kw, nd->stride_h,
                            nd->stride_w, nd->pad_t, nd->pad_l, nd->pad_b, nd->pad_r, nd->groups))
            continue;
        int k = 0;
        while (k < ng && !(strcmp(g[k].model, arch) == 0 && same_geo(&g[k].cs, &cs))) k++;
        if (k == ng) {
            if (ng == MAX_SHAPES) break;
            g[ng].model = arch;
            g[ng].cs = cs;
            g[ng].layers = 0;
            g[ng].bias = nd->p_bias >= 0;
            ng++;
        }
        g[k].layers++;
    }
    bq_model_free(&m);
    return ng;
}

/* buffers of one geometry at one batch */
typedef struct {
    size_t ni, no, nw;
    float *x, *w, *b, *dy, *y, *dx, *dw, *scratch;
} bufs;

static void fill(float *p, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static int bufs_init(bufs *B, const bq_conv_shape *cs) {
    memset(B, 0, sizeof(*B));
    B->ni = (size_t)cs->n * cs->cin * cs->h * cs->w;
    B->no = (size_t)cs->n * cs->cout * cs->hout * cs->wout;
    B->nw = (size_t)cs->cout * (cs->cin / cs->groups) * cs->kh * cs->kw;
    size_t sc = 0;
    for (int t = 1; t <= 2; t++) {   /* the direct kernel's scratch depends on the thread count */
        set_threads(t);
        size_t s = bq_conv2d_scratch_floats(cs);
        if (s > sc) sc = s;
    }
    B->x = malloc(B->ni * 4); B->dx = malloc(B->ni * 4);
    B->y = malloc(B->no * 4); B->dy = malloc(B->no * 4);
    B->w = malloc(B->nw * 4); B->dw = malloc(B->nw * 4);
    B->b = malloc((size_t)cs->cout * 4);
    B->scratch = malloc(sc * 4);
    if (!B->x || !B->dx || !B->y || !B->dy || !B->w || !B->dw || !B->b || !B->scratch) return -1;
    fill(B->x, B->ni, 1); fill(B->dy, B->no, 2); fill(B->w, B->nw, 3); fill(B->b, (size_t)cs->cout, 4);
    return 0;
}

static void bufs_free(bufs *B) {
    free(B->x); free(B->dx); free(B->y); free(B->dy); free(B->w); free(B->dw); free(B->b);
    free(B->scratch);
}

/* one direction (0 fwd, 1 dX, 2 dW) of one implementation; returns seconds */
static double run_once(const bq_conv_shape *cs0, int impl, bq_dnnl_ctx *ctx, int dir, bufs *B,
                       int bias) {
    bq_conv_shape cs = *cs0;
    cs.impl = impl;
    cs.dnnl = ctx;
    double t0 = bq_now();
    if (dir == 0)
        bq_conv2d_forward(B->y, B->x, B->w, bias ? B->b : NULL, &cs, B->scratch);
    else if (dir == 1)
        bq_conv2d_backward(B->dx, NULL, NULL, B->dy, B->x, B->w, &cs, B->scratch);
    else
        bq_conv2d_backward(NULL, B->dw, NULL, B->dy, B->x, B->w, &cs, B->scratch);
    return bq_now() - t0;
}

/* largest |a-b| / max(|a|,|b|, 1e-3) */
static double max_rel(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), s = fmax(fmax(fabs(a[i]), fabs(b[i])), 1e-3);
        if (d / s > m) m = d / s;
    }
    return m;
}

/* oneDNN's three outputs for cs at t threads (fresh outputs, zeroed gradients) */
static void dnnl_outputs(bq_dnnl_ctx *ctx, const bq_conv_shape *cs, bufs *B, int t, int bias,
                         float *y, float *dx, float *dw) {
    set_threads(t);
    bq_conv_shape c = *cs;
    c.impl = BQ_CONV_DNNL;
    c.dnnl = ctx;
    memset(dx, 0, B->ni * 4);
    memset(dw, 0, B->nw * 4);
    bq_conv2d_forward(y, B->x, B->w, bias ? B->b : NULL, &c, B->scratch);
    bq_conv2d_backward(dx, dw, NULL, B->dy, B->x, B->w, &c, B->scratch);
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "build/bench/conv.json";
    const int quick = getenv("BENCH_CONV_QUICK") && atoi(getenv("BENCH_CONV_QUICK")) > 0;
    const char *rv = getenv("BENCH_CONV_RUNS");
    int runs = quick ? 3 : rv && atoi(rv) >= 1 ? atoi(rv) : 7;
    if (runs > MAX_RUNS) runs = MAX_RUNS;
    const int batches[2] = {32, 128};
    const int nbatch = quick ? 1 : 2;
    const char *iname[3] = {"direct", "im2col", "dnnl"};
    const char *dname[3] = {"fwd", "dX", "dW"};
    geo g[MAX_SHAPES];
    int ng = collect(g, 0, "fres20");
    if (ng >= 0) ng = collect(g, ng, "mbv2t");
    if (ng < 0) { fprintf(stderr, "bench_conv: cannot build the models\n"); return 1; }
    char desc[128];
    bq_dnnl_describe(desc, sizeof desc);
    const double load0 = bench_load1();
    const char *wait = getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "(unset: spin)";
    printf("%s, OMP_WAIT_POLICY %s; OpenBLAS %s; %d geometries; median of %d; load average %.2f "
           "at start\n", desc, wait, openblas_get_corename(), ng, runs, load0);
    printf("times in ms (medians): direct / im2col / dnnl; reo%% = median share of dnnl's "
           "time in NCHW<->blocked reorders\n");
    printf("%-6s %-28s %2s %4s %2s | %-22s | %-22s | %-22s | %s\n", "model", "geometry", "L",
           "N", "T", "fwd", "dX", "dW", "dnnl reo% f/dX/dW");
    bq_buf js = {0};
    bq_buf_printf(&js, "{\"dnnl\": \"%s\", \"omp_wait_policy\": \"%s\", \"openblas_core\": "
                  "\"%s\", \"runs\": %d, \"loadavg_before\": %.2f, \"rows\": [", desc, wait,
                  openblas_get_corename(), runs, load0);
    int first = 1;
    /* determinism tallies (batch 32): bytes equal twice on 2 threads / on 1 vs 2 threads */
    int det_same2[3] = {0}, det_same12[3] = {0}, det_n = 0;
    double det_rel12[3] = {0};
    int direct_same12 = 0;
    double total[2][2][2][3][3] = {{{{{0}}}}};   /* [model][batch][threads][impl][dir] x layers */
    for (int bi = 0; bi < nbatch; bi++)
        for (int s = 0; s < ng; s++) {
            bq_conv_shape cs = g[s].cs;
            cs.n = batches[bi];
            bufs B;
            if (bufs_init(&B, &cs)) { fprintf(stderr, "bench_conv: out of memory\n"); return 1; }
            snprintf(desc, sizeof desc, "%dx%dx%d>%d k%d s%d%s", cs.cin, cs.h, cs.w, cs.cout, cs.kh,
                     cs.stride_h, cs.groups == 1 ? "" : cs.groups == cs.cin ? " dw" : " grp");
            for (int t = 1; t <= 2; t++) {
                set_threads(t);
                bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
                bq_dnnl_ctx_set_timing(ctx, 1);
                const bq_dnnl_stats *st = bq_dnnl_ctx_stats(ctx);
                double tm[3][3][MAX_RUNS], create_ms[3] = {0}, share[3][MAX_RUNS], reo[3];
                /* warm-up: first call of each direction (dnnl: primitive creation) */
                for (int d = 0; d < 3; d++) {
                    for (int im = 0; im < 2; im++) run_once(&cs, im, ctx, d, &B, g[s].bias);
                    create_ms[d] = 1e3 * run_once(&cs, BQ_CONV_DNNL, ctx, d, &B, g[s].bias);
                }
                for (int r = 0; r < runs; r++)
                    for (int d = 0; d < 3; d++)
                        for (int im = 0; im < 3; im++) {
                            double r0 = st->t_reorder, c0 = st->t_conv;
                            tm[im][d][r] = run_once(&cs, im, ctx, d, &B, g[s].bias);
                            if (im == BQ_CONV_DNNL) {
                                double rr = st->t_reorder - r0, cc = st->t_conv - c0;
                                share[d][r] = rr + cc > 0 ? rr / (rr + cc) : 0.0;
                            }
                        }
                double med[3][3], mn[3][3];
                for (int d = 0; d < 3; d++) reo[d] = bench_median(share[d], runs);
                for (int im = 0; im < 3; im++)
                    for (int d = 0; d < 3; d++) {
                        med[im][d] = 1e3 * bench_median(tm[im][d], runs);   /* sorts tm */
                        mn[im][d] = 1e3 * tm[im][d][0];
                        total[strcmp(g[s].model, "fres20") != 0][bi][t - 1][im][d] +=
                            med[im][d] * g[s].layers;
                    }
                if (st->fallbacks)
                    fprintf(stderr, "bench_conv: dnnl fell back to direct: %s\n", st->first_error);
                printf("%-6s %-28s %2d %4d %2d | %6.2f %6.2f %6.2f | %6.2f %6.2f %6.2f | %6.2f %6.2f "
                       "%6.2f | %3.0f %3.0f %3.0f\n", g[s].model, desc, g[s].layers, cs.n, t,
                       med[0][0], med[1][0], med[2][0], med[0][1], med[1][1], med[2][1], med[0][2],
                       med[1][2], med[2][2], 100 * reo[0], 100 * reo[1], 100 * reo[2]);
                fflush(stdout);
                bq_buf_printf(&js, "%s{\"model\": \"%s\", \"cin\": %d, \"h\": %d, \"w\": %d, "
                              "\"cout\": %d, \"k\": %d, \"stride\": %d, \"groups\": %d, "
                              "\"layers\": %d, \"batch\": %d, \"threads\": %d",
                              first ? "" : ", ", g[s].model, cs.cin, cs.h, cs.w, cs.cout, cs.kh,
                              cs.stride_h, cs.groups, g[s].layers, cs.n, t);
                first = 0;
                for (int im = 0; im < 3; im++)
                    for (int d = 0; d < 3; d++)
                        bq_buf_printf(&js, ", \"%s_%s_ms\": %.4f, \"%s_%s_min_ms\": %.4f", iname[im],
                                      dname[d], med[im][d], iname[im], dname[d], mn[im][d]);
                for (int d = 0; d < 3; d++) {
                    char dn_impl[128] = "", err[256];
                    const char *nm = bq_conv2d_dnnl_impl(ctx, &cs, (bq_dnnl_dir)d,
                                                         d == 0 && g[s].bias, err, sizeof err);
                    snprintf(dn_impl, sizeof dn_impl, "%s", nm ? nm : "?");
                    bq_buf_printf(&js, ", \"dnnl_%s_reorder_share\": %.3f, \"dnnl_%s_first_ms\": "
                                  "%.3f, \"dnnl_%s_impl\": \"%s\"", dname[d],
                                  reo[d], dname[d], create_ms[d], dname[d],
                                  dn_impl);
                }
                bq_buf_printf(&js, "}");
                bq_dnnl_ctx_free(ctx);
            }
            if (bi == 0) {
                /* determinism: dnnl twice on 2 threads, and 1 thread against 2; direct 1 vs 2 */
                float *y[3], *dx[3], *dw[3];
                for (int k = 0; k < 3; k++) {
                    y[k] = malloc(B.no * 4); dx[k] = malloc(B.ni * 4); dw[k] = malloc(B.nw * 4);
                }
                bq_dnnl_ctx *ctx = bq_dnnl_ctx_new();
                dnnl_outputs(ctx, &cs, &B, 2, g[s].bias, y[0], dx[0], dw[0]);
                dnnl_outputs(ctx, &cs, &B, 2, g[s].bias, y[1], dx[1], dw[1]);
                dnnl_outputs(ctx, &cs, &B, 1, g[s].bias, y[2], dx[2], dw[2]);
                det_same2[0] += !memcmp(y[0], y[1], B.no * 4);
                det_same2[1] += !memcmp(dx[0], dx[1], B.ni * 4);
                det_same2[2] += !memcmp(dw[0], dw[1], B.nw * 4);
                det_same12[0] += !memcmp(y[0], y[2], B.no * 4);
                det_same12[1] += !memcmp(dx[0], dx[2], B.ni * 4);
                det_same12[2] += !memcmp(dw[0], dw[2], B.nw * 4);
                det_rel12[0] = fmax(det_rel12[0], max_rel(y[0], y[2], B.no));
                det_rel12[1] = fmax(det_rel12[1], max_rel(dx[0], dx[2], B.ni));
                det_rel12[2] = fmax(det_rel12[2], max_rel(dw[0], dw[2], B.nw));
                det_n++;
                bq_dnnl_ctx_free(ctx);
                /* the direct kernel's dW, 1 vs 2 threads (designed to be equal) */
                bq_conv_shape c = cs;
                set_threads(1);
                memset(dw[1], 0, B.nw * 4);
                bq_conv2d_backward(NULL, dw[1], NULL, B.dy, B.x, B.w, &c, B.scratch);
                set_threads(2);
                memset(dw[2], 0, B.nw * 4);
                bq_conv2d_backward(NULL, dw[2], NULL, B.dy, B.x, B.w, &c, B.scratch);
                direct_same12 += !memcmp(dw[1], dw[2], B.nw * 4);
                for (int k = 0; k < 3; k++) { free(y[k]); free(dx[k]); free(dw[k]); }
            }
            bufs_free(&B);
        }
    const double load1 = bench_load1();
    const char *mname[2] = {"fres20", "mbv2t"};
    printf("\nall conv layers of a model (median x layers, ms): fwd / dX / dW\n");
    for (int mi = 0; mi < 2; mi++)
        for (int bi = 0; bi < nbatch; bi++)
            for (int t = 0; t < 2; t++)
                for (int im = 0; im < 3; im++)
                    printf("  %-6s N=%-3d T=%d %-6s %8.2f %8.2f %8.2f\n", mname[mi], batches[bi],
                           t + 1, iname[im], total[mi][bi][t][im][0], total[mi][bi][t][im][1],
                           total[mi][bi][t][im][2]);
    printf("\ndeterminism at N=32 over %d geometries (bytes equal / largest relative difference):\n",
           det_n);
    for (int d = 0; d < 3; d++)
        printf("  dnnl %-3s twice on 2 threads: %d/%d equal; 1 vs 2 threads: %d/%d equal, max rel "
               "diff %.2g\n", dname[d], det_same2[d], det_n, det_same12[d], det_n, det_rel12[d]);
    printf("  direct dW 1 vs 2 threads: %d/%d equal\n", direct_same12, det_n);
    printf("load average %.2f at start, %.2f at end\n", load0, load1);
    bq_buf_printf(&js, "], \"determinism\": {\"geometries\": %d", det_n);
    for (int d = 0; d < 3; d++)
        bq_buf_printf(&js, ", \"dnnl_%s_same_2thr_twice\": %d, \"dnnl_%s_same_1vs2thr\": %d, "
                      "\"dnnl_%s_maxrel_1vs2thr\": %.3g", dname[d], det_same2[d], dname[d],
                      det_same12[d], dname[d], det_rel12[d]);
    bq_buf_printf(&js, ", \"direct_dW_same_1vs2thr\": %d}, \"totals\": [", direct_same12);
    first = 1;
    for (int mi = 0; mi < 2; mi++)
        for (int bi = 0; bi < nbatch; bi++)
            for (int t = 0; t < 2; t++)
                for (int im = 0; im < 3; im++) {
                    bq_buf_printf(&js, "%s{\"model\": \"%s\", \"batch\": %d, \"threads\": %d, "
                                  "\"impl\": \"%s\", \"fwd_ms\": %.3f, \"dX_ms\": %.3f, "
                                  "\"dW_ms\": %.3f}", first ? "" : ", ", mname[mi], batches[bi],
                                  t + 1, iname[im], total[mi][bi][t][im][0],
                                  total[mi][bi][t][im][1], total[mi][bi][t][im][2]);
                    first = 0;
                }
    bq_buf_printf(&js, "], \"loadavg_after\": %.2f}\n", load1);
    char err[256];
    bq_mkdirs("build/bench");
    if (bq_write_file_atomic(out, js.data, js.len, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bq_buf_free(&js);
    printf("wrote %s\n", out);
    return 0;
}
