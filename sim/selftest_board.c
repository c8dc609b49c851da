/* selftest_board.c — the package self-test on a board: the driver of bq_selftest.h against the
 * real accelerator through the board backend (registers and memory mapped by bq_acc_uio.h, driven
 * by the register protocol of bq_acc_mmio.h).
 * usage: selftest_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES
 *                       --package DIR [--out DIR] [--images N] [--layer NAME] [-v]
 * Linked from sim/ sources, sw/core/errmsg.c (the one-line error formatter), libc and zlib only,
 * WITHOUT libbrecq.a (sim/sim.mk): that this links is the proof that replaying a package needs no
 * scheduler, lowering, integer reference or latency model (tests/cosim/test_selftest.sh checks
 * the binary has none of their symbols). Real DRAM is not the ideal memory model, so CYCLES is
 * reported as information, not compared. Compiled here, not run (no board in CI). */
#include "bq_board_main.h"
#include "bq_selftest.h"

static const char *usage =
    "usage: selftest_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES\n"
    "                      --package DIR [--out DIR] [--images N] [--layer NAME] [--max-cycles C] [-v]\n";

int main(int argc, char **argv) {
    return bq_board_main("selftest_board", usage, argc, argv, bq_selftest_main);
}
