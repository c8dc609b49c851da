/*
 * dse_merge.h — the writers of a merged sweep (internal to sw/dse/): rows are bq_dse_row[n] sorted
 * by (model, budget, config key) with their fronts marked (dse_merge.c).
 */
#ifndef BQ_DSE_MERGE_H
#define BQ_DSE_MERGE_H

#include "core/fileio.h"
#include "dse/dse.h"

/* Row index of the best config of model m at budget j (lowest objective, then fewest LUTs, BRAM,
 * cycles), or -1 when no config meets the budget. */
int bq_dse_best(const bq_dse *d, const bq_dse_row *rows, int n, int m, int j);
/* dse.json: the sweep, every config (valid or with its reason; "synth" when sy measured it), every
 * row, the best per budget. */
void bq_dse_json(const bq_dse *d, const bq_dse_row *rows, int n, const bq_dse_synth *sy, bq_buf *b);
/* report.md: summary, best config per budget, fronts, synthesis vs estimate, invalid configs,
 * plots. */
void bq_dse_report_md(const bq_dse *d, const bq_dse_row *rows, int n, const bq_dse_synth *sy,
                      bq_buf *b);
/* timing.json: wall time of every unit (what the wall-time model of docs/dse.md reads). */
void bq_dse_timing_json(const bq_dse *d, const bq_dse_row *rows, int n, bq_buf *b);
/* <label>_latency.svg, <label>_lut.svg, <label>_bram.svg per model (gnuplot). 0 or -1 + err. */
int bq_dse_plots(const bq_dse *d, const bq_dse_row *rows, int n, char *err, size_t errlen);

/* Run argv (argv[0] searched in PATH when it has no '/') with stdin /dev/null and stdout + stderr
 * to log (created or truncated), what names it in messages. 0 when it ran and exited 0; -1 + err (what, its status, the log) otherwise (dse_spawn.c). */
/* The first cap-1 bytes of a child's small result file as a NUL-terminated string in text. */
int bq_dse_read_result(const char *path, char *text, size_t cap, char *err, size_t errlen);
int bq_dse_spawn(char *const argv[], const char *log, const char *what, char *err, size_t errlen);
/* This executable's path (/proc/self/exe), to run its other commands as children. 0 or -1. */
int bq_dse_self_exe(char *path, size_t n);

#endif
