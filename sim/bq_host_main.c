/* bq_host_main.c — which host program a simulator runs (bq_acc.h, bq_host_main): the package
 * self-test driver (bq_selftest.h) with --selftest, else the co-simulation driver (bq_cosim_main).
 * One dispatcher for both verilated binaries (cosim, cosim_axi), so neither harness duplicates it. */
#include <string.h>

#include "bq_acc.h"
#include "bq_selftest.h"

int bq_host_main(int argc, char **argv, const bq_acc *acc) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--selftest")) return bq_selftest_main(argc, argv, acc);
    return bq_cosim_main(argc, argv, acc);
}
