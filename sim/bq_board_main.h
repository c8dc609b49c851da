/*
 * bq_board_main.h — the body every board program shares (cosim_board, selftest_board): parse the
 * board backend's arguments (bq_acc_uio.h), map the register and memory windows, run the host
 * program `host` on the memory-mapped accelerator (bq_acc_mmio.h), unmap. Errors of the backend
 * are one line "PROG: ..." and exit 2.
 *
 * Example (a board program's whole main):
 *   return bq_board_main("selftest_board", usage, argc, argv, bq_selftest_main);
 */
#ifndef BQ_BOARD_MAIN_H
#define BQ_BOARD_MAIN_H

#include "bq_acc.h"

typedef int (*bq_host_fn)(int argc, char **argv, const bq_acc *acc);

/* Returns the process exit status: host's, or 2 on a usage or device error (0 for --help). */
int bq_board_main(const char *prog, const char *usage, int argc, char **argv, bq_host_fn host);

#endif
