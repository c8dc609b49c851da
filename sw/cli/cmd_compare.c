/* brecq compare — are two quantized (or float) models' top-1 really different? McNemar's paired
 * test on the per-image predictions that `brecq eval --preds` writes for the 10k test set.
 *
 * Two accuracies on the same 10k images differ by less than their binomial standard errors
 * suggest (the images are shared, so most of the noise cancels); McNemar's test uses only the
 * images on which the two models disagree about correctness (sw/search/mcnemar.h). */
#include "cli.h"
#include "cli_data.h"
#include "nn/data.h"
#include "core/fileio.h"
#include "search/mcnemar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read a .preds file of exactly n int32 class indices in [0, n_classes). */
static int32_t *load_preds(const char *path, int n, int n_classes) {
    char err[512];
    unsigned char *data = NULL;
    size_t len = 0;
    if (bq_read_file(path, &data, &len, err, sizeof(err))) { bq_cli_error("compare", "%s", err); return NULL; }
    if (len != sizeof(int32_t) * (size_t)n) {
        bq_cli_error("compare", "%s: %zu bytes, expected %zu (one int32 per test image, %d images); "
                     "write it with `brecq eval ... --preds` on the full test set (no --limit)",
                     path, len, sizeof(int32_t) * (size_t)n, n);
        free(data);
        return NULL;
    }
    int32_t *p = malloc(len);
    if (!p) { bq_cli_error("compare", "out of memory"); free(data); return NULL; }
    memcpy(p, data, len);
    free(data);
    for (int i = 0; i < n; i++)
        if (p[i] < 0 || p[i] >= n_classes) {
            bq_cli_error("compare", "%s: image %d: class %d is outside 0..%d; not a predictions file "
                         "of `brecq eval --preds`", path, i, p[i], n_classes - 1);
            free(p);
            return NULL;
        }
    return p;
}

int bq_cmd_compare(int argc, char **argv) {
    const char *path_a = NULL, *path_b = NULL, *data = NULL, *report = NULL;
    bq_cli_opt opts[] = {
        {"a", 1, &path_a, "predictions of model A (brecq eval --preds)"},
        {"b", 1, &path_b, "predictions of model B"},
        {"report", 1, &report, "write a JSON report {a_correct, b_correct, b, c, p_value, ...}"},
        {"data", 1, &data, BQ_CLI_DATA_HELP " (the test labels)"},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq compare --a A.preds --b B.preds [--report R.json]");
    if (rc) return rc == 1 ? 0 : 2;
    if (!path_a || !path_b) { bq_cli_error("compare", "--a and --b are required; see --help"); return 2; }
    if (bq_cli_check_outputs("compare", opts, (int)(sizeof(opts) / sizeof(opts[0])), "report", NULL)) return 2;
    char err[512];
    bq_dataset te;
    if (bq_cli_data_load("compare", data, "test", NULL, 0, &te)) return 1;
    if (!te.labels) {
        bq_cli_error("compare", "%s: the evaluation split has no labels; add 'eval_labels:' to the "
                     "dataset YAML (docs/data.md)", te.source);
        bq_dataset_free(&te);
        return 1;
    }
    int n_classes = 0;
    for (int i = 0; i < te.n; i++) if (te.labels[i] + 1 > n_classes) n_classes = te.labels[i] + 1;
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)te.n);
    int32_t *pa = NULL, *pb = NULL;
    rc = 1;
    if (!labels) { bq_cli_error("compare", "out of memory"); goto out; }
    for (int i = 0; i < te.n; i++) labels[i] = te.labels[i];
    if (!(pa = load_preds(path_a, te.n, n_classes)) || !(pb = load_preds(path_b, te.n, n_classes))) {
        rc = 2;
        goto out;
    }
    bq_mcnemar m;
    bq_mcnemar_test(&m, labels, pa, pb, te.n);
    printf("A %s: %d/%d correct (%.2f %%)\n", path_a, m.a_correct, m.n, 100.0 * m.a_correct / m.n);
    printf("B %s: %d/%d correct (%.2f %%)\n", path_b, m.b_correct, m.n, 100.0 * m.b_correct / m.n);
    printf("A-B %+.2f pt; only A right on %d images, only B right on %d; McNemar p = %.3g (%s)\n",
           100.0 * (m.a_correct - m.b_correct) / m.n, m.b, m.c, m.p_value,
           m.exact ? "exact binomial" : "chi2, continuity-corrected");
    rc = 0;
    if (report) {
        bq_buf b = {0};
        bq_buf_printf(&b, "{\"a\": \"%s\", \"b\": \"%s\", \"images\": %d, \"a_correct\": %d, "
                      "\"b_correct\": %d, \"only_a\": %d, \"only_b\": %d, \"p_value\": %.6g, "
                      "\"exact\": %s}\n", path_a, path_b, m.n, m.a_correct, m.b_correct, m.b, m.c,
                      m.p_value, m.exact ? "true" : "false");
        if (b.oom || bq_write_file_atomic(report, b.data, b.len, err, sizeof(err))) {
            bq_cli_error("compare", "%s", b.oom ? "out of memory" : err);
            rc = 1;
        }
        bq_buf_free(&b);
    }
out:
    free(labels); free(pa); free(pb);
    bq_dataset_free(&te);
    return rc;
}
