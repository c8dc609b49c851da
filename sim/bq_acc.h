/*
 * bq_acc.h — the register/memory access layer between the host driver (bq_cosim.h) and one
 * accelerator (docs/cosim.md, "Access layer"). The driver reaches the accelerator ONLY through
 * these six calls, so the same driver runs against
 *   - the simulation backend (sim/cosim_main.cpp: the verilated bqa_top inside a SystemC system,
 *     memory model with the YAML's bandwidth/latency; registers read through reg_addr_i), and
 *   - the memory-mapped backend (sim/bq_acc_mmio.c: the register protocol of the board bring-up
 *     wrapper, docs/bringup.md; sim/bq_acc_uio.c maps it from /dev/uioN or /dev/mem; compiled
 *     here, not run).
 *
 * Semantics (both backends):
 *   reg_read   32-bit read-only register at a byte address (docs/hw_isa.md §5).
 *   mem_write / mem_read   bytes of accelerator-visible memory (a DMA buffer on a board).
 *   push       one 128-bit instruction (w[0] = bits 31:0) appended to queue `stage`
 *              (0 fetch, 1 execute, 2 result). The backend keeps every queue fed while it has
 *              instructions left (docs/hw_isa.md §4 assumes the stages never wait for the host).
 *   run        reset the accelerator (counters to 0), pre-fill the queues with run_i = 0, raise
 *              run_i and wait until the accelerator reports done with every pushed instruction
 *              consumed; then lower run_i. Returns 0, or -1 on a time-out after max_cycles.
 *   trace      optional (may be NULL): write a waveform (FST) of the NEXT run to `path`, only of
 *              its cycles [from, to) counted from the rise of run_i (the CYCLES time base);
 *              to < 0: the whole run, reset and queue pre-fill included. path NULL: stop and
 *              flush. One waveform per process (Verilator registers the model once). Returns 0,
 *              or -1 if tracing is unavailable or already used.
 *
 * Example:
 *   bq_acc acc = {&my_ops, my_ctx};
 *   uint32_t id = acc.ops->reg_read(acc.ctx, 0x00);     // 0x42514131 "BQA1"
 */
#ifndef BQ_ACC_H
#define BQ_ACC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bq_acc_ops {
    uint32_t (*reg_read)(void *ctx, uint32_t addr);
    int (*mem_write)(void *ctx, uint64_t addr, const void *src, size_t n);
    int (*mem_read)(void *ctx, uint64_t addr, void *dst, size_t n);
    int (*push)(void *ctx, int stage, const uint32_t w[4]);
    int (*run)(void *ctx, int64_t max_cycles);
    int (*trace)(void *ctx, const char *path, int64_t from, int64_t to);
} bq_acc_ops;

typedef struct {
    const bq_acc_ops *ops;
    void *ctx;
    const char *backend;   /* "systemc", "mmio" (reports) */
    int ideal_memory;      /* 1: the memory is the ideal model of docs/hw_isa.md §4.1 (the
                              counters must equal the latency model); 0: a board's memory */
    int idle_after_done;   /* 1: run_i stays set while the host polls STATUS over a bus (the AXI
                              shell co-simulation): the three stage-idle counters may exceed the
                              model by one equal amount, every other counter is exact */
} bq_acc;

/* The whole host program (argument parsing, loading, layer-by-layer runs, reports) on accelerator
 * `acc`. Implemented in C (sim/cosim_cli.c); a backend's main() calls it. argv as for main().
 * Returns the process exit status: 0 all layers bit-exact and cycle-exact, 1 mismatch, 2 usage or
 * input error. */
int bq_cosim_main(int argc, char **argv, const bq_acc *acc);
/* What a simulator's main() calls (sim/bq_host_main.c): with --selftest in argv the package
 * self-test driver (bq_selftest_main, sim/bq_selftest.h: no .bqq, no model code), otherwise
 * bq_cosim_main. */
int bq_host_main(int argc, char **argv, const bq_acc *acc);

#ifdef __cplusplus
}
#endif

#endif
