/* brecq info — print a model's layers, blocks and parameter count. */
#include "cli.h"

#include <stdio.h>

int bq_cmd_info(int argc, char **argv) {
    const char *model = NULL;
    bq_cli_opt opts[] = {{"model", 1, &model, "model file (.bqm or .onnx)"}};
    /* `brecq info FILE` is accepted as well as `--model FILE` */
    if (argc == 2 && argv[1][0] != '-') { model = argv[1]; argc = 1; }
    int rc = bq_cli_parse(argc, argv, opts, 1, "usage: brecq info FILE");
    if (rc) return rc == 1 ? 0 : 2;
    if (!model) { bq_cli_error("info", "give a model file: brecq info FILE"); return 2; }
    bq_model m;
    if (bq_cli_load_model("info", model, &m)) return 1;
    bq_model_print(&m, stdout);
    bq_model_free(&m);
    return 0;
}
