/* bq_acc_mmio.c — register protocol of the board backend (bq_acc_mmio.h). Compiled, not run. */
#include "bq_acc_mmio.h"

#include <stdlib.h>
#include <string.h>

#include "hw_params.h"

static uint32_t mm_reg_read(void *ctx, uint32_t addr) {
    bq_acc_mmio *m = ctx;
    return m->regs[addr / 4];
}

static int mm_mem_write(void *ctx, uint64_t addr, const void *src, size_t n) {
    bq_acc_mmio *m = ctx;
    if (addr + n > m->mem_size) return -1;
    const uint8_t *s = src;
    for (size_t i = 0; i < n; i++) m->mem[addr + i] = s[i];
    __sync_synchronize();
    return 0;
}

static int mm_mem_read(void *ctx, uint64_t addr, void *dst, size_t n) {
    bq_acc_mmio *m = ctx;
    if (addr + n > m->mem_size) return -1;
    __sync_synchronize();
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = m->mem[addr + i];
    return 0;
}

/* The wrapper's FIFOs are drained by the accelerator only while run_i = 1, so pushes are buffered
 * here and streamed in run(). */
static int mm_push(void *ctx, int stage, const uint32_t w[4]) {
    bq_acc_mmio *m = ctx;
    if (stage < 0 || stage > 2) return -1;
    if (m->npending[stage] == m->cap[stage]) {
        size_t nc = m->cap[stage] ? 2 * m->cap[stage] : 1024;
        uint32_t *p = realloc(m->pending[stage], nc * 16);
        if (!p) return -1;
        m->pending[stage] = p;
        m->cap[stage] = nc;
    }
    memcpy(m->pending[stage] + 4 * m->npending[stage]++, w, 16);
    return 0;
}

static int mm_run(void *ctx, int64_t max_cycles) {
    bq_acc_mmio *m = ctx;
    size_t sent[3] = {0, 0, 0};
    m->regs[BQ_MMIO_REG_CTRL / 4] = BQ_MMIO_CTRL_RESET;   /* reset: counters to 0 */
    m->regs[BQ_MMIO_REG_CTRL / 4] = 0u;
    int started = 0;
    long polls = 0;
    for (;;) {
        int left = 0;
        uint32_t qs = m->regs[BQ_MMIO_REG_QSTATUS / 4];
        for (int s = 0; s < 3; s++) {
            uint32_t space = (qs >> (8 * s)) & 0xffu;
            while (space > 0 && sent[s] < m->npending[s]) {
                const uint32_t *w = m->pending[s] + 4 * sent[s]++;
                for (int k = 0; k < 4; k++) m->regs[(BQ_MMIO_REG_QUEUE(s) + 4u * (uint32_t)k) / 4] = w[k];
                space--;
            }
            left |= sent[s] < m->npending[s];
        }
        if (!started) { m->regs[BQ_MMIO_REG_CTRL / 4] = BQ_MMIO_CTRL_RUN; started = 1; }
        if (!left && (m->regs[BQ_HW_REG_STATUS / 4] & 1u)) break;
        if ((int64_t)m->regs[BQ_HW_REG_CYCLES / 4] > max_cycles || ++polls > m->timeout_polls) {
            m->regs[BQ_MMIO_REG_CTRL / 4] = 0u;
            m->npending[0] = m->npending[1] = m->npending[2] = 0;
            return -1;
        }
    }
    m->regs[BQ_MMIO_REG_CTRL / 4] = 0u;
    m->npending[0] = m->npending[1] = m->npending[2] = 0;
    return 0;
}

static const bq_acc_ops mm_ops = {mm_reg_read, mm_mem_write, mm_mem_read, mm_push, mm_run, NULL};

void bq_acc_mmio_init(bq_acc_mmio *m, bq_acc *acc, volatile uint32_t *regs, volatile uint8_t *mem,
                      size_t mem_size) {
    memset(m, 0, sizeof *m);
    m->regs = regs;
    m->mem = mem;
    m->mem_size = mem_size;
    m->timeout_polls = 1L << 30;
    acc->ops = &mm_ops;
    acc->ctx = m;
    acc->backend = "mmio";
    acc->ideal_memory = 0;   /* real DRAM: the counters are information, not a check */
}

void bq_acc_mmio_free(bq_acc_mmio *m) {
    for (int s = 0; s < 3; s++) { free(m->pending[s]); m->pending[s] = NULL; m->cap[s] = m->npending[s] = 0; }
}
