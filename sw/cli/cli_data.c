/* cli_data.c — `--data` for every command (see cli_data.h). */
#include "cli/cli_data.h"
#include "cli/cli.h"

int bq_cli_data_open(const char *cmd, const char *spec, const char *split, bq_dataset *d) {
    char err[1024];
    if (bq_dataset_open(d, spec, split, err, sizeof err)) { bq_cli_error(cmd, "%s", err); return -1; }
    return 0;
}

int bq_cli_data_ready(const char *cmd, bq_dataset *d, const bq_model *m, int need_labels) {
    char err[1024];
    if ((m && bq_dataset_check_model(d, m, need_labels, err, sizeof err)) ||
        bq_dataset_read(d, err, sizeof err)) {
        bq_cli_error(cmd, "%s", err);
        bq_dataset_free(d);
        return -1;
    }
    return 0;
}

int bq_cli_data_load(const char *cmd, const char *spec, const char *split, const bq_model *m,
                     int need_labels, bq_dataset *d) {
    if (bq_cli_data_open(cmd, spec, split, d)) return -1;
    return bq_cli_data_ready(cmd, d, m, need_labels);
}

void bq_cli_data_classes_json(bq_buf *b, const bq_dataset *d) {
    if (!d->class_names) return;
    bq_buf_printf(b, ", \"classes\": [");
    for (int k = 0; k < d->num_classes; k++) {
        bq_buf_printf(b, "%s\"", k ? ", " : "");
        for (const char *p = d->class_names[k]; *p; p++) {   /* JSON string escapes */
            if (*p == '"' || *p == '\\') bq_buf_printf(b, "\\%c", *p);
            else bq_buf_printf(b, "%c", (unsigned char)*p < 0x20 ? '?' : *p);
        }
        bq_buf_printf(b, "\"");
    }
    bq_buf_printf(b, "]");
}
