/*
 * bq_acc_mmio.h — the memory-mapped backend of the access layer (bq_acc.h) for board bring-up:
 * the accelerator's register window through a UIO device (/dev/uioN, map 0) or /dev/mem at a
 * physical address, and its DMA memory through /dev/mem at a physical address (a reserved,
 * physically contiguous buffer). Compiled and linked here (build/sim/<cfg>/cosim_board), NOT run:
 * there is no board in this project's CI.
 *
 * Register window of the bring-up wrapper (docs/cosim.md "Board bring-up"; the RTL's bqa_top has
 * the read-only registers of docs/hw_isa.md §5 at 0x00..0x70, the wrapper adds):
 *   0x80 CTRL      write: bit0 run_i, bit1 reset (held while 1); read: bit0 run_i
 *   0x84 QSTATUS   read: bits 7:0 / 15:8 / 23:16 free entries of the fetch / execute / result
 *                  instruction FIFOs of the wrapper (an instruction is pushed to bqa_top when ready)
 *   0x90 + 16*s .. 0x9C + 16*s   instruction words 0..3 of queue s; writing word 3 pushes it
 * The driver waits for QSTATUS space before each push, so programs longer than the FIFOs stream.
 *
 * Example:
 *   bq_acc acc; bq_acc_mmio m;
 *   if (bq_acc_mmio_open(&m, &acc, "/dev/uio0", 0, 0x38000000, 64 << 20, err, n)) ...
 *   bq_cosim_main(argc, argv, &acc);
 *   bq_acc_mmio_close(&m);
 */
#ifndef BQ_ACC_MMIO_H
#define BQ_ACC_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "bq_acc.h"

#define BQ_MMIO_REG_CTRL 0x80u
#define BQ_MMIO_REG_QSTATUS 0x84u
#define BQ_MMIO_REG_QUEUE(s) (0x90u + 16u * (uint32_t)(s))
#define BQ_MMIO_WINDOW 0x1000u

typedef struct {
    int reg_fd, mem_fd;
    volatile uint32_t *regs;   /* BQ_MMIO_WINDOW bytes */
    volatile uint8_t *mem;     /* mem_size bytes of DMA memory (accelerator address 0) */
    size_t mem_size;
    long timeout_polls;        /* run(): polls of STATUS before giving up */
    uint32_t *pending[3];      /* pushed instructions, 4 words each, streamed by run() */
    size_t npending[3], cap[3];
} bq_acc_mmio;

/* Map the register window (`dev` = "/dev/uioN", or "/dev/mem" with reg_phys its physical base)
 * and the DMA memory (/dev/mem at mem_phys, mem_size bytes), and fill *acc. Returns 0, or -1 with
 * "dev: what failed; fix" in err. */
int bq_acc_mmio_open(bq_acc_mmio *m, bq_acc *acc, const char *dev, uint64_t reg_phys,
                     uint64_t mem_phys, size_t mem_size, char *err, size_t errlen);
void bq_acc_mmio_close(bq_acc_mmio *m);

#endif
