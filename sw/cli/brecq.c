/*
 * brecq — the command-line tool. `brecq <command> [options]`, `brecq <command> --help`.
 * Each command is a function in cmd_<name>.c; this file only dispatches.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bq_cmd_train(int argc, char **argv);
int bq_cmd_eval(int argc, char **argv);
int bq_cmd_compare(int argc, char **argv);
int bq_cmd_info(int argc, char **argv);
int bq_cmd_quantize(int argc, char **argv);
int bq_cmd_export(int argc, char **argv);
int bq_cmd_latency(int argc, char **argv);
int bq_cmd_search(int argc, char **argv);
int bq_cmd_run(int argc, char **argv);
int bq_cmd_dse(int argc, char **argv);

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command COMMANDS[] = {
    {"train", bq_cmd_train, "train a built-in architecture on Fashion-MNIST"},
    {"eval", bq_cmd_eval, "top-1 of a model on the 10k Fashion-MNIST test set"},
    {"compare", bq_cmd_compare, "McNemar's paired test of two models' test-set predictions"},
    {"info", bq_cmd_info, "print a model's layers, blocks and parameter count"},
    {"quantize", bq_cmd_quantize, "quantize a model with a recipe (rtn, brecq, ...) into a .bqq"},
    {"export", bq_cmd_export, "write (or --check) the accelerator package of a quantized model"},
    {"latency", bq_cmd_latency, "per-layer cycles of a model on an accelerator config (hw_model)"},
    {"search", bq_cmd_search, "bit-widths that maximise accuracy under a latency budget"},
    {"run", bq_cmd_run, "the whole flow from a FLOW.yaml: search, BRECQ, eval, export, report"},
    {"dse", bq_cmd_dse, "design-space exploration: accelerator configs x budgets x models"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: brecq <command> [options]   (brecq <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

/* oneDNN runs on OpenMP (Debian's libgomp), whose idle threads spin by default and take the cores
 * the engine's own thread pool needs between two oneDNN calls (docs/onednn.md: the integer
 * reference's int8 kernel ran 4x slower on 2 cores). libgomp reads OMP_WAIT_POLICY once, when it
 * is loaded, so the tool sets "passive" and executes itself again, once; a value the user set is
 * kept. If the re-execution fails, the tool runs on with the spinning default (slower, same bits). */
static void omp_passive_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
    omp_passive_wait(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* OpenBLAS single-threaded for every command (cli.c: its sums can change with its thread
     * count); train / eval / quantize may raise it with --threads. */
    bq_cli_threads(argv[1], NULL);
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "brecq: unknown command '%s'; run `brecq --help` for the list\n", argv[1]);
    return 2;
}
