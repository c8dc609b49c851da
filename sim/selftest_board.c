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
#include <stdio.h>
#include <string.h>

#include "bq_acc_mmio.h"
#include "bq_acc_uio.h"
#include "bq_selftest.h"

static const char *usage =
    "usage: selftest_board --dev /dev/uioN|/dev/mem [--reg-base ADDR] --mem-base ADDR --mem-size BYTES\n"
    "                      --package DIR [--out DIR] [--images N] [--layer NAME] [--max-cycles C] [-v]\n";

int main(int argc, char **argv) {
    char err[512];
    bq_uio_args a;
    if (argc < 2) { fputs(usage, stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { fputs(usage, stdout); return 0; }
    if (bq_uio_parse_args(&a, &argc, argv, 0, err, sizeof err)) {
        fprintf(stderr, "selftest_board: %s\n", err);
        return 2;
    }
    bq_uio_map w;
    if (bq_uio_map_open(&w, &a, err, sizeof err)) {
        fprintf(stderr, "selftest_board: %s\n", err);
        return 2;
    }
    bq_acc acc;
    bq_acc_mmio m;
    bq_acc_mmio_init(&m, &acc, w.regs, w.mem, w.mem_size);
    int rc = bq_selftest_main(argc, argv, &acc);
    bq_acc_mmio_free(&m);
    bq_uio_map_close(&w);
    return rc;
}
