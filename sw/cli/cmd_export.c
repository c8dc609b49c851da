/* brecq export — write the accelerator package of a quantized model, or check one. */
#include "cli.h"
#include "cli_data.h"
#include "nn/data.h"
#include "io/export.h"
#include "hwcfg.h"
#include "quant/qmodel.h"

#include <stdio.h>

int bq_cmd_export(int argc, char **argv) {
    const char *quant = NULL, *hwp = NULL, *out = NULL, *check = NULL, *tests = NULL, *data = NULL;
    const char *layer = NULL;
    bq_cli_opt opts[] = {
        {"quant", 1, &quant, "quantized model (.bqq)"},
        {"hw", 1, &hwp, "accelerator config (configs/hw/NAME.yaml)"},
        {"out", 1, &out, "package directory (replaced atomically)"},
        {"tests", 1, &tests, "test images with expected per-layer outputs (default 2)"},
        {"check", 1, &check, "validate the package in this directory instead of writing one"},
        {"layer", 1, &layer, "with --check: recompute only this layer (default: all of test 0)"},
        {"data", 1, &data, BQ_CLI_DATA_HELP},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq export --quant Q.bqq --hw configs/hw/H.yaml --out DIR [--tests N]\n"
                          "       brecq export --check DIR [--layer NAME]");
    if (rc) return rc == 1 ? 0 : 2;
    char err[1024];
    if (check) {
        if (quant || hwp || out) { bq_cli_error("export", "--check takes only the package directory"); return 2; }
        if (bq_export_check(check, layer, stdout, err, sizeof(err))) {
            bq_cli_error("export", "check failed: %s", err);
            return 1;
        }
        return 0;
    }
    if (!quant || !hwp || !out) { bq_cli_error("export", "--quant, --hw and --out are required; see --help"); return 2; }
    if (bq_cli_check_outputs("export", opts, (int)(sizeof(opts) / sizeof(opts[0])), NULL, "out")) return 2;
    long nt = 2;
    if (tests && bq_cli_int("export", "tests", tests, 0, 10000, &nt)) return 2;
    bq_hwcfg hw;
    if (bq_hwcfg_load(&hw, hwp, err, sizeof(err))) { bq_cli_error("export", "%s", err); return 2; }
    bq_qmodel q;
    if (bq_cli_load_qmodel("export", quant, &q)) return 1;
    bq_dataset te;
    int have_te = 0;
    rc = 1;
    if (nt > 0) {
        if (bq_cli_data_load("export", data, "test", &q.model, 0, &te)) goto out;
        have_te = 1;
    }
    int e = bq_export(&q, &hw, have_te ? &te : NULL, (int)nt, out, err, sizeof(err));
    if (e) {   /* -2: writing the package failed; the message names --out, not the model */
        if (e == -2) bq_cli_error("export", "--out %s", err);
        else bq_cli_error("export", "%s: %s", quant, err);
        goto out;
    }
    printf("export: %s for %s (%dx%dx%d, %d-bit memory) -> %s (%ld test images, format version %d%s)\n",
           quant, hw.name, hw.dm, hw.dn, hw.dk, hw.mem_width_bits, out, nt,
           hw.window_bytes > 0 ? BQ_EXPORT_VERSION_WHOLE : BQ_EXPORT_VERSION,
           hw.window_bytes > 0 ? ": the whole network as one program" : ": per layer");
    rc = 0;
out:
    if (have_te) bq_dataset_free(&te);
    bq_qmodel_free(&q);
    return rc;
}
