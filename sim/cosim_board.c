/* cosim_board.c — the co-simulation host program on a board: the same driver and checks as the
 * simulator (bq_cosim_main), against the real accelerator through the board backend (registers
 * and memory mapped by bq_acc_uio.h, driven by the protocol of bq_acc_mmio.h).
 * usage: cosim_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES
 *                    <cosim options>
 * Real DRAM is not the ideal memory model, so the default is --bits-only (the stage counters are
 * reported against the model as information); --strict makes them a check (docs/bringup.md).
 * Compiled here, not run (no board in CI); its argument checks and device errors are tested. */
#include "bq_board_main.h"

static const char *usage =
    "usage: cosim_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES\n"
    "                   --hw CONFIG.yaml --qmodel Q.bqq [cosim options, see cosim --help]\n";

int main(int argc, char **argv) {
    return bq_board_main("cosim_board", usage, argc, argv, bq_cosim_main);
}
