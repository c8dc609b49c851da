/*
 * cli_data.h — the `--data` flag of every command that reads data: a Fashion-MNIST IDX folder or a
 * dataset YAML (docs/data.md), checked against the model before any work.
 */
#ifndef BQ_CLI_DATA_H
#define BQ_CLI_DATA_H
#include "nn/data.h"
#include "core/fileio.h"

#define BQ_CLI_DATA_HELP "data: Fashion-MNIST IDX folder or dataset YAML (docs/data.md)"

/* Open split of spec (reads shapes and labels, not pixels). Prints the one line; 0 or -1. */
int bq_cli_data_open(const char *cmd, const char *spec, const char *split, bq_dataset *d);
/* The model-vs-data check, then the pixels. Prints the one line and frees d on failure. */
int bq_cli_data_ready(const char *cmd, bq_dataset *d, const bq_model *m, int need_labels);
/* open + ready. */
int bq_cli_data_load(const char *cmd, const char *spec, const char *split, const bq_model *m,
                     int need_labels, bq_dataset *d);
/* `, "classes": ["a", "b", ...]` for a data set with class folder names (the label map), else
 * nothing: for JSON reports. */
void bq_cli_data_classes_json(bq_buf *b, const bq_dataset *d);
#endif
