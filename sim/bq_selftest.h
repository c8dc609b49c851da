/*
 * bq_selftest.h — the package self-test driver (docs/bringup.md "The self-test driver"): a plain C
 * host program that needs only an export package (docs/formats.md "Export package") and one
 * accelerator reached through the six calls of the access layer (bq_acc.h). No .bqq, no scheduler,
 * no lowering, no integer reference, no latency model: it replays the package's self-test vectors.
 *
 *   1. reads and checks the package (bq_selftest_pkg.h: every CRC-32 it uses; a corrupted part is
 *      one line naming the file and the part, exit 2);
 *   2. identifies the accelerator: ID, VERSION, DM, DN, DK, MEM_WIDTH_BITS against the manifest's
 *      hw, CONFIG_HASH against hw.hash ("rebuild for this config", exit 2);
 *   3. writes every layer's weights and requant records at the manifest's addresses once;
 *   4. per test image and per {"op": "layer"} step in steps order: writes `act` (and `res`), fills
 *      the output region with 0xA5, pushes the layer's three programs from programs.bin, runs,
 *      reads the output region back and compares it with `out` on the real M x N elements of every
 *      group (padding holds requant results of padding on the hardware, 0 in the vector); on the
 *      ideal memory (acc->ideal_memory) CYCLES must equal the layer's `cycles`, otherwise CYCLES is
 *      reported as information;
 *   4'. a version 3 package (the whole network, one program): per test image writes the input
 *      tensor (HWC codes), fills every output tensor with 0xA5, pushes the whole program, starts
 *      once, reads every layer's output tensor back and compares its real bytes (channels < c of
 *      each pixel; the classifier's real RAW32 words); CYCLES must equal the package's `cycles`
 *      on the ideal memory;
 *   5. for the RAW32 classifier also the argmax rule of `output` on the accelerator's int32 values
 *      (first c maximising float32(acc0[c]) * logit_scale[c]) must give tests[t].pred, and the
 *      values must equal tests[t].logits.
 *
 * Options: --package DIR (required), --out DIR (writes DIR/selftest.json atomically), --images N
 * (the first N test images of the package; default all), --layer NAME (only that layer),
 * --max-cycles C (time-out per layer run; default 4x the layer's cycles + 100,000 on the ideal
 * memory, 64x + 1,000,000 otherwise), -v / --verbose (one line per layer run), --selftest (ignored:
 * how a simulator selects this driver, bq_host_main), +plusargs (ignored: the simulator's).
 * Exit: 0 pass, 1 a mismatch (output element, prediction, cycles on the ideal memory, time-out),
 * 2 an input or setup error.
 *
 * Example (a backend's main, sim/selftest_board.c):
 *   bq_acc acc; bq_acc_mmio m; bq_acc_mmio_init(&m, &acc, regs, mem, mem_size);
 *   return bq_selftest_main(argc, argv, &acc);
 */
#ifndef BQ_SELFTEST_H
#define BQ_SELFTEST_H

#include "bq_acc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The whole self-test on accelerator `acc`; argv as for main(). Returns the exit status. */
int bq_selftest_main(int argc, char **argv, const bq_acc *acc);

#ifdef __cplusplus
}
#endif

#endif
