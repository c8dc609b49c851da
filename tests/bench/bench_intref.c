/*
 * bench_intref.c — integer-reference speed beside the float evaluation, side by side in one run
 * (make bench-intref, part of make bench; issue 19).
 *
 *   bench_intref MODEL.bqm Q1.bqq [Q2.bqq ...] --json OUT.json [--images N] [--reps R]
 *                [--threads 1,2]
 *
 * For each thread count (BQ_NUM_THREADS, set here between runs) and each quantized model, on the
 * first N test images (batches of 100): the float model's forward (what `brecq eval` runs), the
 * fake-quant forward, and the integer network with each of its three kernels (int8 where the
 * centred codes fit int8, the float kernel on exact layers, the int16 kernel everywhere). Median
 * of R repeats of each, images/s; the int16 kernel, ~10x slower than the others, runs once. The
 * integer kernels must agree on every logit (checked here too: the bench fails otherwise). The
 * load average before and after is recorded: ratios measured in one run are what to compare on a
 * shared machine.
 */
#include "bench_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "io/model_io.h"
#include "nn/data.h"
#include "nn/exec.h"
#include "quant/fakequant.h"
#include "quant/intref.h"
#include "quant/qmodel.h"

#define B 100

typedef enum { RUN_FLOAT, RUN_FAKEQ, RUN_INT_INT8K, RUN_INT_FLOATK, RUN_INT_INT16K, RUN_KINDS } run_kind;
static const char *const kRunName[RUN_KINDS] = {"float eval", "fake-quant", "integer, int8 kernel",
                                                "integer, float kernel", "integer, int16 kernel"};
#define N_INT_RUNS (RUN_KINDS - RUN_INT_INT8K)

/* One pass over n images; returns seconds. Integer runs keep their logits and last-layer codes
 * in keep (n * ncls) for the agreement check. */
static double one_pass(run_kind k, bq_exec *ex, const bq_model *net, bq_intnet *in, const bq_dataset *te,
                       const bq_model *norm, int n, float *x, int *idx, int *y, int32_t *keep, int ncls) {
    double t0 = bq_now();
    for (int s = 0; s < n; s += B) {
        int nb = n - s < B ? n - s : B;
        for (int i = 0; i < nb; i++) idx[i] = s + i;
        bq_dataset_batch(te, idx, nb, x, y, norm->in_mean, norm->in_std, NULL);
        if (k == RUN_FLOAT || k == RUN_FAKEQ) { bq_exec_forward(ex, net, x, nb, 0); continue; }
        in->use_i8 = k == RUN_INT_INT8K;
        in->use_fp32 = k == RUN_INT_INT8K || k == RUN_INT_FLOATK;
        bq_intnet_forward(in, x, nb);
        memcpy(keep + (size_t)s * ncls, in->logits, sizeof(int32_t) * (size_t)nb * ncls);
    }
    return bq_now() - t0;
}

int main(int argc, char **argv) {
    const char *json = NULL, *mpath = NULL, *tlist = "1,2";
    const char *qpaths[16];
    int nq = 0, n_img = 2000, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) tlist = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) n_img = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!mpath) mpath = argv[i];
        else if (nq < 16) qpaths[nq++] = argv[i];
    }
    int threads[8], nt = 0;
    for (const char *t = tlist; *t && nt < 8;) {
        char *end;
        long v = strtol(t, &end, 10);
        if (end == t || v < 1 || v > 8 || (*end && *end != ',')) { nt = 0; break; }
        threads[nt++] = (int)v;
        t = *end ? end + 1 : end;
    }
    if (!mpath || !nq || !json || n_img < 1 || reps < 1 || reps > 31 || !nt) {
        fprintf(stderr, "usage: bench_intref MODEL.bqm Q.bqq [Q2.bqq ...] --json OUT [--images N] [--reps R] "
                "[--threads 1,2 (each 1..8)]\n");
        return 2;
    }
    char err[512];
    bq_model fp;
    bq_dataset te;
    if (bq_model_load(&fp, mpath, err, sizeof err) || bq_dataset_load(&te, NULL, "test", err, sizeof err)) {
        fprintf(stderr, "bench_intref: %s\n", err);
        return 1;
    }
    if (n_img > te.n) n_img = te.n;
    FILE *jf = fopen(json, "w");
    if (!jf) { perror(json); return 1; }
    double la0 = bench_load1();
    printf("integer reference vs float eval, %d test images, batch %d, median of %d, load %.2f before\n",
           n_img, B, reps, la0);
    printf("%-40s %7s %-24s %10s %8s\n", "quantized model", "threads", "run", "img/s", "vs float");
    fprintf(jf, "{\"images\": %d, \"batch\": %d, \"reps\": %d, \"load_before\": %.2f, \"runs\": [", n_img, B,
            reps, la0);
    float *x = malloc(sizeof(float) * B * te.c * te.h * te.w);
    int *idx = malloc(sizeof(int) * B), *y = malloc(sizeof(int) * B);
    int rc = 0;
    int first = 1;
    for (int ti = 0; ti < nt; ti++)
    for (int qi = 0; qi < nq; qi++) {
        char tv[8];
        snprintf(tv, sizeof tv, "%d", threads[ti]);
        setenv("BQ_NUM_THREADS", tv, 1);   /* read by every parallel call */
        bq_qmodel q;
        bq_fq fq;
        bq_exec exf, exq;
        bq_intnet in;
        if (bq_qmodel_load(&q, qpaths[qi], err, sizeof err) || bq_intnet_init(&in, &q, B, err, sizeof err)) {
            fprintf(stderr, "bench_intref: %s: %s\n", qpaths[qi], err);
            return 1;
        }
        if (bq_fq_init(&fq, &q, B, 0) || bq_exec_init(&exq, &fq.net, B, 0) || bq_exec_init(&exf, &fp, B, 0)) {
            fprintf(stderr, "bench_intref: out of memory\n");
            return 1;
        }
        bq_fq_bind(&fq, &exq);
        int ncls = fp.nodes[fp.n_nodes - 1].c, n_exact = 0, n_i8 = 0;
        for (int l = 0; l < in.n_layers; l++) n_exact += in.L[l].fp32_exact, n_i8 += in.L[l].i8;
        int32_t *keep[N_INT_RUNS];
        for (int k = 0; k < N_INT_RUNS; k++) keep[k] = malloc(sizeof(int32_t) * (size_t)n_img * ncls);
        double med[RUN_KINDS];
        for (int k = 0; k < RUN_KINDS; k++) {
            double t[31];
            int kreps = k == RUN_INT_INT16K ? 1 : reps;
            for (int r = 0; r < kreps; r++)
                t[r] = one_pass((run_kind)k, k == RUN_FLOAT ? &exf : &exq, k == RUN_FLOAT ? &fp : &fq.net, &in,
                                &te, &fp, n_img, x, idx, y, k >= RUN_INT_INT8K ? keep[k - RUN_INT_INT8K] : NULL,
                                ncls);
            med[k] = bench_median(t, kreps);
        }
        int same = 1;
        for (int k = 1; k < N_INT_RUNS; k++)
            same &= !memcmp(keep[0], keep[k], sizeof(int32_t) * (size_t)n_img * ncls);
        if (!same) { fprintf(stderr, "bench_intref: %s: the integer kernels disagree\n", qpaths[qi]); rc = 1; }
        if (in.i8_fallbacks) { fprintf(stderr, "bench_intref: %s: %s\n", qpaths[qi], in.i8_error); rc = 1; }
        for (int k = 0; k < RUN_KINDS; k++) {
            printf("%-40s %7d %-24s %10.0f %7.2fx\n", qpaths[qi], threads[ti], kRunName[k], n_img / med[k],
                   med[RUN_FLOAT] / med[k]);
            fprintf(jf, "%s\n  {\"qmodel\": \"%s\", \"threads\": %d, \"run\": \"%s\", \"img_per_s\": %.1f, "
                    "\"vs_float\": %.3f, \"exact_layers\": %d, \"int8_layers\": %d, \"layers\": %d, "
                    "\"kernels_agree\": %s}", first ? "" : ",", qpaths[qi], threads[ti], kRunName[k], n_img / med[k],
                    med[RUN_FLOAT] / med[k], n_exact, n_i8, in.n_layers, same ? "true" : "false");
            first = 0;
        }
        printf("%-48s int8 kernel on %d%s, float kernel on %d of %d layers; the integer kernels agree on "
               "every logit: %s\n", "", n_i8, n_i8 && !in.i8 ? " (not used: no VNNI, see intref_i8.h)" : "", n_exact,
               in.n_layers, same ? "yes" : "NO");
        for (int k = 0; k < N_INT_RUNS; k++) free(keep[k]);
        bq_exec_free(&exf); bq_exec_free(&exq); bq_fq_free(&fq); bq_intnet_free(&in); bq_qmodel_free(&q);
    }
    double la1 = bench_load1();
    printf("load %.2f after\n", la1);
    fprintf(jf, "\n], \"load_after\": %.2f}\n", la1);
    fclose(jf);
    free(x); free(idx); free(y);
    bq_dataset_free(&te);
    bq_model_free(&fp);
    return rc;
}
