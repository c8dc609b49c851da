/*
 * bq_acc_mmio.h — the register protocol of the board backend of the access layer (bq_acc.h):
 * how the host drives the bring-up wrapper around bqa_top through its register window, given the
 * mapped register and memory windows (bq_acc_uio.h maps them from /dev/uioN or /dev/mem).
 * Compiled and linked here (build/sim/<cfg>/cosim_board), NOT run: there is no board in CI.
 *
 * Register window (docs/bringup.md "Register map"): bqa_top's read-only registers of
 * docs/hw_isa.md §5 at 0x00..0x70 (ID, config hash, STATUS, counters), and the wrapper's:
 *   0x80 CTRL      write: bit0 run_i, bit1 reset (held while 1); read: bit0 run_i, bit1 reset
 *   0x84 QSTATUS   read: bits 7:0 / 15:8 / 23:16 free entries of the fetch / execute / result
 *                  instruction FIFOs of the wrapper (an instruction is pushed to bqa_top when ready)
 *   0x90 + 16*s .. 0x9C + 16*s   instruction words 0..3 of queue s (s = 0, 1, 2); writing word 3
 *                  pushes the instruction
 *   0x88 / 0x8C BASE_LO / BASE_HI   AXI shell (docs/hw_rtl.md "AXI shell"): AXI address of
 *                  accelerator address 0; written after each reset when `write_base` is set
 * The driver pushes while QSTATUS shows room, sets run only then (a program that fits the FIFOs
 * starts whole), and streams the rest during the run.
 *
 * The registers are reached through a bus (bq_mmio_bus): a mapped window (bq_acc_mmio_init), or
 * the AXI4-Lite transactions of the simulated AXI shell (sim/cosim_axi_main.cpp,
 * bq_acc_mmio_init_bus), so the board and the AXI co-simulation run the same protocol code.
 *
 * Example:
 *   bq_uio_map w; ... bq_uio_map_open(&w, &args, err, n) ...
 *   bq_acc acc; bq_acc_mmio m;
 *   bq_acc_mmio_init(&m, &acc, w.regs, w.mem, w.mem_size);
 *   bq_cosim_main(argc, argv, &acc);
 *   bq_acc_mmio_free(&m);
 */
#ifndef BQ_ACC_MMIO_H
#define BQ_ACC_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "bq_acc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BQ_MMIO_REG_CTRL 0x80u
#define BQ_MMIO_REG_QSTATUS 0x84u
#define BQ_MMIO_REG_BASE_LO 0x88u
#define BQ_MMIO_REG_BASE_HI 0x8Cu
#define BQ_MMIO_REG_QUEUE(s) (0x90u + 16u * (uint32_t)(s))
#define BQ_MMIO_CTRL_RUN 1u
#define BQ_MMIO_CTRL_RESET 2u

/* 32-bit register accesses at byte offsets of the window. */
typedef struct {
    uint32_t (*rd)(void *ctx, uint32_t off);
    void (*wr)(void *ctx, uint32_t off, uint32_t v);
    void *ctx;
} bq_mmio_bus;

typedef struct {
    bq_mmio_bus bus;
    volatile uint32_t *regs;   /* the mapped register window (at least 0xC0 bytes), or NULL */
    volatile uint8_t *mem;     /* mem_size bytes of accelerator memory (its address 0) */
    size_t mem_size;
    long timeout_polls;        /* run(): polls of STATUS before giving up */
    int write_base;            /* 1: write `base` to BASE_LO/HI after each reset (AXI shell) */
    uint64_t base;
    uint32_t *pending[3];      /* pushed instructions, 4 words each, streamed by run() */
    size_t npending[3], cap[3];
} bq_acc_mmio;

/* Fill *m and *acc (backend "mmio", not the ideal memory: bits-only by default). */
void bq_acc_mmio_init(bq_acc_mmio *m, bq_acc *acc, volatile uint32_t *regs, volatile uint8_t *mem,
                      size_t mem_size);
/* The same over a register bus (the simulated AXI shell). */
void bq_acc_mmio_init_bus(bq_acc_mmio *m, bq_acc *acc, const bq_mmio_bus *bus, volatile uint8_t *mem,
                          size_t mem_size);
void bq_acc_mmio_free(bq_acc_mmio *m);

#ifdef __cplusplus
}
#endif

#endif
