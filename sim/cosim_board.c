/* cosim_board.c — the co-simulation host program on a board (memory-mapped backend,
 * bq_acc_mmio.h): the same driver and checks as the simulator, against the real accelerator.
 * usage: cosim_board DEV REG_PHYS MEM_PHYS MEM_BYTES -- <cosim options>
 * Compiled here, not run (no board in CI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bq_acc_mmio.h"

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[5], "--")) {
        fprintf(stderr, "usage: cosim_board DEV REG_PHYS MEM_PHYS MEM_BYTES -- <cosim options>\n");
        return 2;
    }
    bq_acc acc;
    bq_acc_mmio m;
    char err[256];
    if (bq_acc_mmio_open(&m, &acc, argv[1], strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0),
                         (size_t)strtoull(argv[4], NULL, 0), err, sizeof err)) {
        fprintf(stderr, "cosim_board: %s\n", err);
        return 2;
    }
    argv[5] = argv[0];
    int rc = bq_cosim_main(argc - 5, argv + 5, &acc);
    bq_acc_mmio_close(&m);
    return rc;
}
