/*
 * cli.h — shared helpers of the `brecq` command-line tool: option parsing, model loading,
 * one-line errors, JSON reports. Each sub-command lives in its own cmd_<name>.c and exposes
 * `int bq_cmd_<name>(int argc, char **argv)` (argv[0] is the sub-command name), registered in
 * brecq.c.
 */
#ifndef BQ_CLI_H
#define BQ_CLI_H
#include <stddef.h>
#include "nn/graph.h"

/* Option table entry: name without dashes, whether it takes a value, where to store it. Flags
 * store "1". help is one line. */
typedef struct {
    const char *name;
    int takes_value;
    const char **value;
    const char *help;
} bq_cli_opt;

/* Parse --name value / --name=value / --flag. Returns 0; on an unknown option or a missing value
 * prints a one-line error and returns 2. `--help` prints usage and returns 1. */
int bq_cli_parse(int argc, char **argv, bq_cli_opt *opts, int n_opts, const char *usage);
/* Integer / float option values with range checks; print "brecq CMD: --opt ..." and return -1. */
int bq_cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int bq_cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* Set the OpenBLAS thread count from --threads (NULL = 1, see cli.c). Returns 0 or -1. */
int bq_cli_threads(const char *cmd, const char *s);
/* Load a model by file name: .onnx through the ONNX importer (when built), else the native
 * format. Prints the one-line error itself; returns 0 or -1. */
int bq_cli_load_model(const char *cmd, const char *path, bq_model *m);
/* Check the output options (comma-separated names, e.g. "out,report"; dir_outs: those that are
 * folders) before any work: each through bq_check_output (fileio.h) against the values of all
 * the other options as possible inputs (and so against each other). Prints the one-line error
 * itself; returns 0 or -1. */
int bq_cli_check_outputs(const char *cmd, const bq_cli_opt *opts, int n_opts, const char *outs,
                         const char *dir_outs);
/* bq_qmodel_load + bq_qmodel_validate (quant/qmodel_check.h). Prints the one-line error itself;
 * returns 0 or -1 (nothing to free). q is a bq_qmodel *. */
int bq_cli_load_qmodel(const char *cmd, const char *path, void *q);
/* Print "brecq CMD: message" to stderr. */
void bq_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
