/*
 * bench_engine — forward and forward+backward throughput of the built-in models, against the
 * cblas_sgemm GFLOP/s of the same machine measured in the same run.
 *
 * Prints a table (median of R runs) and writes JSON to argv[1] (default build/bench/engine.json).
 * FLOPs per image are counted from the graph (2*MACs of conv/linear; backward = 2x forward for
 * layers that need both input and weight gradients).
 */
#include "bench_util.h"
#include "nn/exec.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "nn/ops.h"
#include "core/progress.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS 5


static double model_fwd_flops(const bq_model *m) {
    double f = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *n = &m->nodes[i];
        if (n->kind == BQ_OP_CONV || n->kind == BQ_OP_LINEAR) {
            size_t wcount = m->params[n->p_weight].count;
            f += 2.0 * (double)wcount * n->h * n->w;
        }
    }
    return f;
}

static double sgemm_gflops(int M, int N, int K) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N),
          *c = malloc(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = bq_now();
        for (int k = 0; k < 5; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        t[r] = (bq_now() - t0) / 5;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / bench_median(t, RUNS) / 1e9;
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "build/bench/engine.json";
    const char *core = openblas_get_corename();
    int threads = openblas_get_num_threads();
    double peak = sgemm_gflops(1024, 1024, 1024);
    double small = sgemm_gflops(64, 6272, 576);   /* a fres20 stage-3 conv at batch 128 */
    printf("OpenBLAS core %s, %d threads: sgemm 1024^3 %.1f GFLOP/s, 64x6272x576 %.1f GFLOP/s\n",
           core, threads, peak, small);
    printf("%-7s %-7s %5s %12s %14s %10s %10s\n", "model", "conv", "batch", "fwd img/s",
           "fwd+bwd img/s", "fwd GF/s", "train GF/s");
    bq_buf js = {0};
    bq_buf_printf(&js, "{\"openblas_core\": \"%s\", \"threads\": %d, \"sgemm_gflops_1024\": %.2f, "
                  "\"sgemm_gflops_conv\": %.2f, \"runs\": %d, \"rows\": [", core, threads, peak, small, RUNS);
    const char *archs[2] = {"fres20", "mbv2t"};
    const int batches[2] = {32, 256};   /* each model: direct conv at both, then im2col at both */
    int first = 1;
    for (int a = 0; a < 2; a++) {
        bq_model m;
        if (bq_arch_build(&m, archs[a], 1)) return 1;
        double ff = model_fwd_flops(&m);
        for (int ci = 0; ci < 4; ci++) {
            int B = batches[ci % 2];
            bq_conv_impl impl = ci < 2 ? BQ_CONV_DIRECT : BQ_CONV_IM2COL;
            const char *iname = impl == BQ_CONV_DIRECT ? "direct" : "im2col";
            bq_exec ex;
            if (bq_exec_init(&ex, &m, B, 1)) return 1;
            ex.conv_impl = impl;
            float *x = malloc(sizeof(float) * (size_t)B * 784);
            for (int i = 0; i < B * 784; i++) x[i] = (float)((i * 37) % 255) / 255.0f - 0.5f;
            int out = bq_model_output(&m);
            double tf[RUNS], tb[RUNS];
            bq_exec_forward(&ex, &m, x, B, 1);   /* warm-up */
            for (int r = 0; r < RUNS; r++) {
                double t0 = bq_now();
                bq_exec_forward(&ex, &m, x, B, 0);
                tf[r] = bq_now() - t0;
                t0 = bq_now();
                bq_exec_forward(&ex, &m, x, B, 1);
                bq_exec_zero_grad(&ex, &m, 0, out, 1);
                for (int k = 0; k < B * m.num_classes; k++) ex.grad[out][k] = 1e-3f;
                bq_exec_backward_range(&ex, &m, 1, out, 1);
                tb[r] = bq_now() - t0;
            }
            double mf = bench_median(tf, RUNS), mb = bench_median(tb, RUNS);
            double gf = ff * B / mf / 1e9, gb = 3 * ff * B / mb / 1e9;
            printf("%-7s %-7s %5d %12.0f %14.0f %10.1f %10.1f\n", archs[a], iname, B, B / mf, B / mb,
                   gf, gb);
            bq_buf_printf(&js, "%s{\"model\": \"%s\", \"conv\": \"%s\", \"batch\": %d, \"fwd_img_s\": %.1f, "
                          "\"train_img_s\": %.1f, \"fwd_gflops\": %.2f, \"train_gflops\": %.2f}",
                          first ? "" : ", ", archs[a], iname, B, B / mf, B / mb, gf, gb);
            first = 0;
            free(x);
            bq_exec_free(&ex);
        }
        bq_model_free(&m);
    }
    bq_buf_printf(&js, "]}\n");
    char err[256];
    bq_mkdirs("build/bench");
    if (bq_write_file_atomic(out, js.data, js.len, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    bq_buf_free(&js);
    printf("wrote %s\n", out);
    return 0;
}
