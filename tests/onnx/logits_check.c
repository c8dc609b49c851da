/*
 * logits_check.c — the engine's float forward of an imported ONNX model against PyTorch's logits.
 *
 *   logits_check MODEL.onnx INPUT.txt LOGITS.txt [TOL]
 *
 * INPUT.txt holds a batch (n, C, H, W) and LOGITS.txt PyTorch's (n, classes), one float per line, as
 * written by tests/onnx/make_torchvision.py. Prints the largest |engine - PyTorch| and the largest
 * |PyTorch logit|; exits 0 when every logit is within TOL (default 1e-4) + 1e-4 * |want|, 1 otherwise
 * (and on any load error). Used by `make onnx-tv-test` on the committed fixtures and by hand on the
 * 224x224 networks (docs/onnx.md "Real-size networks").
 */
#include "io/onnx_import.h"
#include "nn/exec.h"
#include "nn/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* All floats of a text file, one per line. NULL on error (message printed). */
static float *read_floats(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "logits_check: %s: cannot open\n", path); return NULL; }
    size_t cap = 1024, k = 0;
    float *v = malloc(sizeof(float) * cap);
    double x;
    while (v && fscanf(f, "%lf", &x) == 1) {
        if (k == cap) {
            float *nv = realloc(v, sizeof(float) * (cap *= 2));
            if (!nv) { free(v); v = NULL; break; }
            v = nv;
        }
        v[k++] = (float)x;
    }
    fclose(f);
    if (!v) fprintf(stderr, "logits_check: %s: out of memory\n", path);
    *n = k;
    return v;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: logits_check MODEL.onnx INPUT.txt LOGITS.txt [TOL]\n");
        return 2;
    }
    double tol = argc == 5 ? atof(argv[4]) : 1e-4;
    char err[512];
    bq_model m;
    if (bq_onnx_load(&m, argv[1], NULL, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    size_t nin, nout;
    float *x = read_floats(argv[2], &nin), *y = read_floats(argv[3], &nout);
    int rc = 1;
    size_t per = (size_t)m.in_c * m.in_h * m.in_w;
    int n = (int)(nin / per);
    if (!x || !y || n < 1 || (size_t)n * per != nin || nout != (size_t)n * m.num_classes) {
        fprintf(stderr, "logits_check: %s / %s: %zu inputs, %zu logits do not fit a batch of "
                "%dx%dx%d images with %d classes\n", argv[2], argv[3], nin, nout, m.in_c, m.in_h,
                m.in_w, m.num_classes);
        goto out;
    }
    bq_exec ex;
    if (bq_exec_init(&ex, &m, n, 0)) { fprintf(stderr, "logits_check: out of memory\n"); goto out; }
    bq_exec_forward(&ex, &m, x, n, 0);
    const float *got = ex.act[bq_model_output(&m)];
    double worst = 0.0, big = 0.0;
    int bad = 0;
    for (size_t i = 0; i < nout; i++) {
        double d = fabs((double)got[i] - y[i]);
        if (!(d <= tol + 1e-4 * fabs(y[i]))) bad++;
        if (!(d <= worst)) worst = d;
        if (fabs(y[i]) > big) big = fabs(y[i]);
    }
    printf("logits_check: %s: %d images, max |engine - PyTorch| %.3g (max |logit| %.3g), %d of %zu "
           "beyond %.3g + 1e-4|want|\n", argv[1], n, worst, big, bad, nout, tol);
    rc = bad ? 1 : 0;
    bq_exec_free(&ex);
out:
    free(x); free(y);
    bq_model_free(&m);
    return rc;
}
