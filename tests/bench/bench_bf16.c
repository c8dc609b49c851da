/*
 * bench_bf16 — the BRECQ reconstruction loop on fres20 with three conv arithmetics side by side
 * (make bench-bf16): direct FP32 (BQ_CONV=direct, the default), oneDNN FP32 (BQ_CONV=dnnl) and
 * oneDNN BF16 (`compute: bf16`). For every reconstruction unit of fres20 at W2A4 (the setting of
 * the accuracy comparison in docs/onednn.md) and both stages (A: AdaRound weights, B: activation
 * steps): milliseconds of one production iteration (reconstruct.c run_unit on random caches, batch
 * 32), the three arithmetics interleaved within each of REPEATS repeats, medians (and minima in
 * the JSON). The load average before and after is printed and recorded: a number measured beside
 * other jobs says so. oneDNN's threads: run with OMP_WAIT_POLICY=passive (the make target sets it
 * unless the caller did; docs/onednn.md, Threads).
 *
 *   usage: bench_bf16 [out.json] [model.bqm]   (default configs/models/fres20.bqm, else random)
 */
#include "bench_util.h"
#include "core/fileio.h"
#include "core/parallel.h"
#include "io/model_io.h"
#include "nn/conv_dnnl.h"
#include "nn/graph.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"
#include "quant/reconstruct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ITERS 20
#define REPEATS 5
#define NMODES 3

static const char *const kMode[NMODES] = {"direct", "dnnl", "dnnl_bf16"};

/* One timed run of unit u, stage st, in mode k: ms per iteration, or -1 with err. The executor
 * reads BQ_CONV when it is created (exec.c), so the FP32 modes are chosen through it. */
static double time_mode(bq_qmodel *q, int u, int st, int k, char *err, size_t errlen) {
    setenv("BQ_CONV", k == 0 ? "direct" : "dnnl", 1);
    bq_recon_bench res;
    return bq_recon_bench_unit_ex(q, u, 32, ITERS, st, k == 2 ? BQ_COMPUTE_BF16 : BQ_COMPUTE_FP32,
                                  &res, err, errlen);
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "build/bench/bf16.json";
    const char *mpath = argc > 2 ? argv[2] : "configs/models/fres20.bqm";
    char err[512], isa[64], line[128];
    if (!bq_dnnl_bf16_available(isa, sizeof isa)) {
        fprintf(stderr, "bench_bf16: this CPU has no native bf16 (oneDNN reports %s)\n", isa);
        return 1;
    }
    bq_model fp;
    int trained = access(mpath, R_OK) == 0 && bq_model_load(&fp, mpath, err, sizeof err) == 0;
    if (!trained && bq_arch_build(&fp, "fres20", 0)) { fprintf(stderr, "bench_bf16: no fres20\n"); return 1; }
    bq_qmodel q;
    bq_qmodel_opts o = {2, 4, 1};
    if (bq_qmodel_init(&q, &fp, &o, err, sizeof err)) { fprintf(stderr, "bench_bf16: %s\n", err); return 1; }
    bq_qmodel_init_weights(&q, 2.4f);
    for (int a = 0; a < q.n_aq; a++)   /* stage B needs steps: a grid for the [0, 1) bench data */
        if (q.aq[a].bits > 0 && !(q.aq[a].scale > 0.0f)) { q.aq[a].scale = 0.05f; q.aq[a].zero = 0; }
    const char *wait = getenv("OMP_WAIT_POLICY");
    double load0 = bench_load1();
    int nu = bq_recon_num_units(&q, BQ_METHOD_BRECQ);
    bq_dnnl_describe(line, sizeof line);
    printf("bench_bf16: fres20 (%s) W2A4, batch 32, %d units, %d threads; %s; OMP_WAIT_POLICY %s; "
           "%d it x median of %d; load average %.2f at start\n", trained ? mpath : "random init",
           nu, bq_num_threads(), line, wait ? wait : "(unset)", ITERS, REPEATS, load0);
    printf("ms per iteration (medians): direct FP32 / oneDNN FP32 / oneDNN BF16\n");
    printf("%-5s | %-26s | %-26s\n", "unit", "stage A", "stage B");
    bq_buf b = {0};
    bq_buf_printf(&b, "{\"bench\": \"bf16\", \"model\": \"%s\", \"setting\": \"W2A4\", \"batch\": 32, "
                  "\"threads\": %d, \"dnnl\": \"%s\", \"omp_wait_policy\": \"%s\", \"iters\": %d, "
                  "\"repeats\": %d, \"load_avg_start\": %.2f, \"units\": [",
                  trained ? mpath : "fres20-random", bq_num_threads(), line, wait ? wait : "",
                  ITERS, REPEATS, load0);
    double sum[2][NMODES] = {{0}};
    for (int u = 0; u < nu; u++) {
        double med[2][NMODES], mn[2][NMODES];
        for (int st = 0; st < 2; st++) {
            double t[NMODES][REPEATS];
            for (int r = 0; r < REPEATS; r++)
                for (int k = 0; k < NMODES; k++)
                    if ((t[k][r] = time_mode(&q, u, st, k, err, sizeof err)) < 0) {
                        fprintf(stderr, "bench_bf16: unit %d %s: %s\n", u, kMode[k], err);
                        return 1;
                    }
            for (int k = 0; k < NMODES; k++) {
                med[st][k] = bench_median(t[k], REPEATS);   /* sorts: t[k][0] is the minimum */
                mn[st][k] = t[k][0];
                sum[st][k] += med[st][k];
            }
        }
        printf("%-5d | %7.2f %7.2f %7.2f    | %7.2f %7.2f %7.2f\n", u, med[0][0], med[0][1],
               med[0][2], med[1][0], med[1][1], med[1][2]);
        bq_buf_printf(&b, "%s{\"unit\": %d", u ? ", " : "", u);
        for (int st = 0; st < 2; st++)
            for (int k = 0; k < NMODES; k++)
                bq_buf_printf(&b, ", \"%s_%s_ms\": %.4f, \"%s_%s_min_ms\": %.4f", st ? "b" : "a",
                              kMode[k], med[st][k], st ? "b" : "a", kMode[k], mn[st][k]);
        bq_buf_printf(&b, "}");
    }
    double load1 = bench_load1();
    printf("%-5s | %7.2f %7.2f %7.2f    | %7.2f %7.2f %7.2f\n", "sum", sum[0][0], sum[0][1],
           sum[0][2], sum[1][0], sum[1][1], sum[1][2]);
    printf("load average %.2f at the end\n", load1);
    bq_buf_printf(&b, "], \"sum_ms\": {");
    for (int st = 0; st < 2; st++)
        for (int k = 0; k < NMODES; k++)
            bq_buf_printf(&b, "%s\"%s_%s\": %.3f", st || k ? ", " : "", st ? "b" : "a", kMode[k],
                          sum[st][k]);
    bq_buf_printf(&b, "}, \"load_avg_end\": %.2f}\n", load1);
    if (b.oom || bq_write_file_atomic(out, b.data, b.len, err, sizeof err)) {
        fprintf(stderr, "bench_bf16: %s\n", b.oom ? "out of memory" : err);
        return 1;
    }
    printf("wrote %s\n", out);
    bq_buf_free(&b);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
    return 0;
}
