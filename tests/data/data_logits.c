/*
 * data_logits.c — test helper: the engine's float logits of an ONNX model on the evaluation split
 * of a data set, through the same path `brecq eval` takes (bq_dataset_load_for: decode, model
 * check; bq_dataset_batch: per-channel normalisation; bq_exec_forward), against a reference.
 *
 *   data_logits MODEL.onnx DATA.yaml WANT.txt [TOL]
 *
 * WANT.txt holds the reference logits (one image per line, num_classes floats, in the data set's
 * order), as tests/data/realdata.py writes PyTorch's. Prints the largest |engine - want| and the
 * number of images whose argmax differs; exits 0 when every logit is within TOL (default 1e-4)
 * and every argmax is equal, 1 otherwise (and on any load error).
 */
#include "io/onnx_import.h"
#include "nn/data.h"
#include "nn/exec.h"
#include "nn/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int argmax(const float *v, int k) {
    int best = 0;
    for (int i = 1; i < k; i++) if (v[i] > v[best]) best = i;
    return best;
}

/* n * k floats of a text file into want (allocated). 0, or -1 with a message. */
static int read_want(const char *path, int n, int k, float **want) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "data_logits: %s: cannot open\n", path); return -1; }
    float *v = malloc(sizeof(float) * (size_t)n * (size_t)k);
    int got = 0;
    double x;
    while (v && got < n * k && fscanf(f, "%lf", &x) == 1) v[got++] = (float)x;
    int extra = fscanf(f, "%lf", &x) == 1;
    fclose(f);
    if (!v || got != n * k || extra) {
        fprintf(stderr, "data_logits: %s: expected %d x %d logits (images x classes)\n", path, n, k);
        free(v);
        return -1;
    }
    *want = v;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: data_logits MODEL.onnx DATA.yaml WANT.txt [TOL]\n");
        return 2;
    }
    const double tol = argc == 5 ? atof(argv[4]) : 1e-4;
    char err[1024];
    bq_model m;
    bq_onnx_options opt = {0};
    if (bq_onnx_load(&m, argv[1], &opt, err, sizeof err)) { fprintf(stderr, "data_logits: %s\n", err); return 1; }
    bq_dataset d;
    if (bq_dataset_load_for(&d, argv[2], "test", &m, 1, err, sizeof err)) {
        fprintf(stderr, "data_logits: %s\n", err);
        bq_model_free(&m);
        return 1;
    }
    const int n = d.n, K = m.num_classes, in_sz = m.in_c * m.in_h * m.in_w;
    float *want = NULL, *x = malloc(sizeof(float) * (size_t)n * (size_t)in_sz);
    int *idx = malloc(sizeof(int) * (size_t)n);
    bq_exec ex;
    int rc = 1;
    if (!x || !idx || read_want(argv[3], n, K, &want) || bq_exec_init(&ex, &m, n, 0)) goto out;
    for (int i = 0; i < n; i++) idx[i] = i;
    bq_dataset_batch(&d, idx, n, x, NULL, m.in_mean, m.in_std, NULL);
    bq_exec_forward(&ex, &m, x, n, 0);
    const float *got = ex.act[bq_model_output(&m)];   /* (n, K) */
    double maxd = 0.0;
    int differ = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < K; k++) maxd = fmax(maxd, fabs((double)got[i * K + k] - want[i * K + k]));
        differ += argmax(got + i * K, K) != argmax(want + i * K, K);
    }
    printf("data_logits: %d images: max |engine - reference| = %.3g (tolerance %.3g), "
           "%d argmax differ\n", n, maxd, tol, differ);
    rc = maxd <= tol && differ == 0 ? 0 : 1;
    bq_exec_free(&ex);
out:
    free(x); free(idx); free(want);
    bq_dataset_free(&d);
    bq_model_free(&m);
    return rc;
}
