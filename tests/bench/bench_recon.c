/*
 * bench_recon — the BRECQ reconstruction hot path on fres20 (make bench).
 *
 * For every reconstruction unit of fres20 at W4A4 (9 residual blocks + the classifier): the
 * milliseconds of one iteration of the production loop (reconstruct.c run_unit, on random caches)
 * at batch 32 for stage A (soft weights, forward, Fisher-weighted loss, backward with only the
 * needed gradients, rounding regulariser, Adam) and stage B (learned activation steps: no dW),
 * split into phases, the GFLOP/s that represents (conv/linear GEMM work actually done: forward,
 * dW of trained layers, dX where a gradient flows), and cblas_sgemm GFLOP/s measured in the same
 * run. From these: the estimated wall time of a full default run (20000 stage-A + 5000 stage-B
 * iterations per unit) and its FLOP floor (all its GEMM flops at the measured 1024^3 sgemm rate).
 * With BENCH_FULL=1 (the default of `make bench`) it also runs the full default W4A4
 * reconstruction (1024 calibration images, Fisher loss, all threads) and reports its measured wall
 * time and peak RSS (about 25 minutes on the idle 2-core machine). The load average before and
 * after is printed and recorded: a number measured beside other jobs says so.
 *
 *   usage: bench_recon [out.json] [model.bqm]   (default model: configs/models/fres20.bqm if
 *                                                 present, else a randomly initialised fres20)
 */
#include "bench_util.h"
#include "nn/data.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "io/model_io.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"
#include "quant/reconstruct.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ITERS 40

static double sgemm_gflops(int M, int N, int K) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N),
          *c = malloc(sizeof(float) * (size_t)M * N);
    if (!a || !b || !c) { free(a); free(b); free(c); return 0; }
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = bq_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        double t = bq_now() - t0;
        if (t < best) best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / best / 1e9;
}


int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "build/bench/recon.json";
    const char *mpath = argc > 2 ? argv[2] : "configs/models/fres20.bqm";
    char err[512];
    bq_model fp;
    int trained = 0;
    if (access(mpath, R_OK) == 0 && bq_model_load(&fp, mpath, err, sizeof err) == 0) trained = 1;
    else if (bq_arch_build(&fp, "fres20", 0)) { fprintf(stderr, "bench_recon: cannot build fres20\n"); return 1; }
    bq_recipe r;
    bq_recipe_default(&r);
    r.method = BQ_METHOD_BRECQ;
    bq_qmodel q;
    bq_qmodel_opts o = {4, 4, 1};
    if (bq_qmodel_init(&q, &fp, &o, err, sizeof err)) { fprintf(stderr, "bench_recon: %s\n", err); return 1; }
    bq_qmodel_init_weights(&q, r.p);

    double load_start = bench_load1();
    const char *core = openblas_get_corename();
    const char *env_core = getenv("OPENBLAS_CORETYPE");
    double sg_square = sgemm_gflops(1024, 1024, 1024);
    double sg_block = sgemm_gflops(32, 32 * 784, 288);   /* a block-shaped GEMM: Cout x (N*HW) x K */
    int nu = bq_recon_num_units(&q, BQ_METHOD_BRECQ);
    printf("bench_recon: fres20 (%s), W4A4, batch 32, %d units; OpenBLAS core %s%s%s, %d threads\n",
           trained ? mpath : "random init", nu, core, env_core ? ", OPENBLAS_CORETYPE=" : "",
           env_core ? env_core : "", openblas_get_num_threads());
    printf("cblas_sgemm: %.1f GFLOP/s (1024^3), %.1f GFLOP/s (32 x 25088 x 288); load average %.2f\n",
           sg_square, sg_block, load_start);
    /* stage B needs activation steps: the grid a calibration would give the [0, 1) bench data */
    for (int a = 0; a < q.n_aq; a++)
        if (q.aq[a].bits > 0 && !(q.aq[a].scale > 0.0f)) { q.aq[a].scale = 0.05f; q.aq[a].zero = 0; }
    static const char *phase[BQ_BENCH_PHASES] = {"batch", "soft-w", "fwd", "loss", "bwd", "update"};
    printf("%-5s %-3s %9s %11s %8s   ms per phase:", "unit", "stg", "ms/iter", "MFLOP/iter", "GFLOP/s");
    for (int k = 0; k < BQ_BENCH_PHASES; k++) printf(" %s", phase[k]);
    printf("\n");
    bq_buf b = {0};
    bq_buf_printf(&b, "{\"bench\": \"recon\", \"model\": \"%s\", \"setting\": \"W4A4\", \"batch\": 32, "
                  "\"threads\": %d, \"openblas_core\": \"%s\", \"sgemm_gflops_1024\": %.2f, "
                  "\"sgemm_gflops_block\": %.2f, \"load_avg_start\": %.2f, \"units\": [",
                  trained ? mpath : "fres20-random", bq_num_threads(), core, sg_square, sg_block,
                  load_start);
    double est = 0, flop_total = 0;
    for (int u = 0; u < nu; u++) {
        bq_buf_printf(&b, "%s{\"unit\": %d", u ? ", " : "", u);
        for (int st = 0; st < 2; st++) {
            bq_recon_bench res;
            double ms = bq_recon_bench_unit(&q, u, 32, ITERS, st, &res, err, sizeof err);
            if (ms < 0) { fprintf(stderr, "bench_recon: %s\n", err); return 1; }
            double gf = ms > 0 ? res.flops / (ms * 1e-3) / 1e9 : 0.0;
            printf("%-5d %-3s %9.3f %11.1f %8.1f   ", u, st ? "B" : "A", ms, res.flops / 1e6, gf);
            for (int k = 0; k < BQ_BENCH_PHASES; k++) printf(" %.3f", res.phase_ms[k]);
            printf("\n");
            const char *sn = st ? "b" : "a";
            bq_buf_printf(&b, ", \"%s_ms_per_iter\": %.4f, \"%s_mflop_per_iter\": %.2f, \"%s_gflops\": %.2f, "
                          "\"%s_phase_ms\": {", sn, ms, sn, res.flops / 1e6, sn, gf, sn);
            for (int k = 0; k < BQ_BENCH_PHASES; k++)
                bq_buf_printf(&b, "%s\"%s\": %.4f", k ? ", " : "", phase[k], res.phase_ms[k]);
            bq_buf_printf(&b, "}");
            int n_it = st ? r.act_iters : r.iters;
            est += ms * 1e-3 * n_it;
            flop_total += res.flops * n_it;
        }
        bq_buf_printf(&b, "}");
    }
    /* the floor: every GEMM flop of the run at the square-sgemm rate measured above */
    double floor_s = sg_square > 0 ? flop_total / (sg_square * 1e9) : 0.0;
    printf("estimated full default W4A4 run (%d stage-A + %d stage-B it/unit, loop only): %.0f s "
           "(%.1f min)\n", r.iters, r.act_iters, est, est / 60);
    printf("FLOP floor of that run: %.1f TFLOP at the measured sgemm peak %.1f GFLOP/s = %.0f s "
           "(%.1f min); loop at %.0f%% of the floor rate\n", flop_total / 1e12, sg_square, floor_s,
           floor_s / 60, est > 0 ? 100.0 * floor_s / est : 0.0);
    bq_buf_printf(&b, "], \"estimated_full_seconds\": %.1f, \"full_run_tflop\": %.3f, "
                  "\"flop_floor_seconds\": %.1f", est, flop_total / 1e12, floor_s);
    if (getenv("BENCH_FULL") && atoi(getenv("BENCH_FULL")) > 0) {
        bq_dataset train;
        if (bq_dataset_load(&train, NULL, "train", err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
        /* a fresh RTN start: the per-unit benchmarks above changed q's codes and steps */
        bq_qmodel_free(&q);
        if (bq_qmodel_init(&q, &fp, &o, err, sizeof err)) { fprintf(stderr, "bench_recon: %s\n", err); return 1; }
        bq_qmodel_init_weights(&q, r.p);
        bq_recon_stats st;
        double load_full = bench_load1();
        /* peak RSS of the full run alone, not of the per-unit benchmarks above: "5" resets the
         * process's VmHWM (Linux >= 4.0; where it fails the number includes them) */
        FILE *cr = fopen("/proc/self/clear_refs", "w");
        if (cr) { fputs("5", cr); fclose(cr); }
        if (bq_reconstruct_ex(&q, &fp, &r, &train, NULL, 0, &st, err, sizeof err)) {
            fprintf(stderr, "bench_recon: %s\n", err);
            return 1;
        }
        double rss_mb = bq_peak_rss_mb(), load_after = bench_load1();
        printf("full default W4A4 run (%d threads): %.1f s = %.1f min (stage A %.1f s, stage B %.1f s, "
               "both including their cache building, %.1f s), peak RSS %.0f MB; load average %.2f "
               "before, %.2f after\n",
               bq_num_threads(), st.seconds, st.seconds / 60, st.stage_seconds[0],
               st.stage_seconds[1], st.stage_seconds[2], rss_mb, load_full, load_after);
        /* full_stage_seconds: stage A, stage B (each including its caches), the caches alone */
        bq_buf_printf(&b, ", \"full_seconds\": %.1f, \"full_stage_seconds\": [%.1f, %.1f, %.1f], "
                      "\"full_peak_rss_mb\": %.1f, \"full_load_avg_before\": %.2f, "
                      "\"full_load_avg_after\": %.2f", st.seconds, st.stage_seconds[0],
                      st.stage_seconds[1], st.stage_seconds[2], rss_mb, load_full, load_after);
        bq_dataset_free(&train);
    }
    bq_buf_printf(&b, "}\n");
    if (b.oom || bq_write_file_atomic(out, b.data, b.len, err, sizeof err)) {
        fprintf(stderr, "bench_recon: %s\n", b.oom ? "out of memory" : err);
        return 1;
    }
    printf("wrote %s\n", out);
    bq_buf_free(&b);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
    return 0;
}
