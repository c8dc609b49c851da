/* cosim_board.c — the co-simulation host program on a board: the same driver and checks as the
 * simulator (bq_cosim_main), against the real accelerator through the board backend (registers
 * and memory mapped by bq_acc_uio.h, driven by the protocol of bq_acc_mmio.h).
 * usage: cosim_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES
 *                    <cosim options>
 * Real DRAM is not the ideal memory model, so the default is --bits-only (the stage counters are
 * reported against the model as information); --strict makes them a check (docs/bringup.md).
 * Compiled here, not run (no board in CI); its argument checks and device errors are tested. */
#include <stdio.h>
#include <string.h>

#include "bq_acc_mmio.h"
#include "bq_acc_uio.h"

static const char *usage =
    "usage: cosim_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES\n"
    "                   --hw CONFIG.yaml --qmodel Q.bqq [cosim options, see cosim --help]\n";

int main(int argc, char **argv) {
    char err[512];
    bq_uio_args a;
    if (argc < 2) { fputs(usage, stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { fputs(usage, stdout); return 0; }
    if (bq_uio_parse_args(&a, &argc, argv, 0, err, sizeof err)) {
        fprintf(stderr, "cosim_board: %s\n", err);
        return 2;
    }
    bq_uio_map w;
    if (bq_uio_map_open(&w, &a, err, sizeof err)) {
        fprintf(stderr, "cosim_board: %s\n", err);
        return 2;
    }
    bq_acc acc;
    bq_acc_mmio m;
    bq_acc_mmio_init(&m, &acc, w.regs, w.mem, w.mem_size);
    int rc = bq_cosim_main(argc, argv, &acc);
    bq_acc_mmio_free(&m);
    bq_uio_map_close(&w);
    return rc;
}
