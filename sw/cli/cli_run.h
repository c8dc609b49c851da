/*
 * cli_run.h — the run folder of a long command (quantize with reconstruction, search, train):
 * its key from the command's inputs and options, and the "resuming from" / "starting over" lines
 * (docs/reliability.md "Kill and resume"; the folder itself: bq_run_open in core/fileio.h).
 */
#ifndef BQ_CLI_RUN_H
#define BQ_CLI_RUN_H
#include <stdint.h>
#include "core/fileio.h"
#include "nn/data.h"

/* Key of a run: the command name, then the files, data and option strings added below. */
uint64_t bq_cli_run_key(const char *cmd);
/* Add the bytes of each file (NULL entries add a marker). Prints the one line; 0 or -1. */
int bq_cli_run_key_files(const char *cmd, uint64_t *h, const char *const *paths, int n);
/* Add a data set's pixels, labels and shape (the images a run learns or calibrates from). */
uint64_t bq_cli_run_key_data(uint64_t h, const bq_dataset *d);
/* Add option values (NULL entries add a marker), and $BQ_CONV (it changes the bytes). */
uint64_t bq_cli_run_key_opts(uint64_t h, const char *const *vals, int n);
/* bq_run_open + one line on stderr when resuming or starting over. Prints errors; 0 or -1. */
int bq_cli_run_open(const char *cmd, const char *given, const char *out, uint64_t key,
                    bq_run_dir *r);
#endif
