/* brecq eval — top-1 of a model on the full 10k Fashion-MNIST test set. */
#include "cli.h"
#include "data.h"
#include "fileio.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>

int bq_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *report = NULL, *threads = NULL, *data = NULL;
    bq_cli_opt opts[] = {
        {"model", 1, &model, "model file (.bqm or .onnx)"},
        {"report", 1, &report, "write a JSON report {top1, images, correct, model}"},
        {"threads", 1, &threads, "OpenBLAS threads (default: number of cores)"},
        {"data", 1, &data, "Fashion-MNIST directory"},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq eval --model FILE [--report R.json]");
    if (rc) return rc == 1 ? 0 : 2;
    if (!model) { bq_cli_error("eval", "--model is required; see --help"); return 2; }
    if (bq_cli_threads("eval", threads)) return 2;
    bq_model m;
    if (bq_cli_load_model("eval", model, &m)) return 1;
    char err[512];
    bq_dataset te;
    if (bq_dataset_load(&te, data, "test", err, sizeof(err))) {
        bq_cli_error("eval", "%s", err);
        bq_model_free(&m);
        return 1;
    }
    double top1 = bq_evaluate(&m, &te, 256, NULL);
    long correct = (long)(top1 * te.n + 0.5);
    printf("%s: top-1 %.4f (%ld/%d test images)\n", model, top1, correct, te.n);
    rc = 0;
    if (report) {
        bq_buf b = {0};
        bq_buf_printf(&b, "{\"model\": \"%s\", \"top1\": %.6f, \"correct\": %ld, \"images\": %d}\n",
                      model, top1, correct, te.n);
        if (b.oom || bq_write_file_atomic(report, b.data, b.len, err, sizeof(err))) {
            bq_cli_error("eval", "%s", b.oom ? "out of memory" : err);
            rc = 1;
        }
        bq_buf_free(&b);
    }
    bq_dataset_free(&te);
    bq_model_free(&m);
    return rc;
}
