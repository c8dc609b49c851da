/* bq_acc_mmio.c — register protocol of the board backend (bq_acc_mmio.h). On a board: compiled,
 * not run; over a bus: the AXI shell co-simulation (sim/cosim_axi_main.cpp) runs it. */
#include "bq_acc_mmio.h"

#include <stdlib.h>
#include <string.h>

#include "hw_params.h"

/* the mapped window as a bus */
static uint32_t win_rd(void *ctx, uint32_t off) { return ((bq_acc_mmio *)ctx)->regs[off / 4]; }
static void win_wr(void *ctx, uint32_t off, uint32_t v) { ((bq_acc_mmio *)ctx)->regs[off / 4] = v; }

static uint32_t rd(const bq_acc_mmio *m, uint32_t off) { return m->bus.rd(m->bus.ctx, off); }
static void wr(const bq_acc_mmio *m, uint32_t off, uint32_t v) { m->bus.wr(m->bus.ctx, off, v); }

static uint32_t mm_reg_read(void *ctx, uint32_t addr) { return rd(ctx, addr); }

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

/* Push what QSTATUS has room for; returns the instructions pushed, *left = 1 if some remain. */
static size_t push_room(const bq_acc_mmio *m, size_t sent[3], int *left) {
    uint32_t qs = rd(m, BQ_MMIO_REG_QSTATUS);
    size_t pushed = 0;
    *left = 0;
    for (int s = 0; s < 3; s++) {
        uint32_t space = (qs >> (8 * s)) & 0xffu;
        for (; space > 0 && sent[s] < m->npending[s]; space--, pushed++) {
            const uint32_t *w = m->pending[s] + 4 * sent[s]++;
            for (int k = 0; k < 4; k++) wr(m, BQ_MMIO_REG_QUEUE(s) + 4u * (uint32_t)k, w[k]);
        }
        *left |= sent[s] < m->npending[s];
    }
    return pushed;
}

static int mm_run(void *ctx, int64_t max_cycles) {
    bq_acc_mmio *m = ctx;
    size_t sent[3] = {0, 0, 0};
    wr(m, BQ_MMIO_REG_CTRL, BQ_MMIO_CTRL_RESET);   /* reset: counters to 0 */
    wr(m, BQ_MMIO_REG_CTRL, 0u);
    if (m->write_base) {
        wr(m, BQ_MMIO_REG_BASE_LO, (uint32_t)m->base);
        wr(m, BQ_MMIO_REG_BASE_HI, (uint32_t)(m->base >> 32));
    }
    /* preload until the FIFOs are full or the program is in: a program that fits starts whole
     * (QSTATUS saturates at 255, so one look is not enough for deep FIFOs) */
    int left = 1;
    while (push_room(m, sent, &left) > 0 && left) {}
    wr(m, BQ_MMIO_REG_CTRL, BQ_MMIO_CTRL_RUN);
    long polls = 0;
    for (;;) {
        push_room(m, sent, &left);
        if (!left && (rd(m, BQ_HW_REG_STATUS) & 1u)) break;
        if ((int64_t)rd(m, BQ_HW_REG_CYCLES) > max_cycles || ++polls > m->timeout_polls) {
            wr(m, BQ_MMIO_REG_CTRL, 0u);
            m->npending[0] = m->npending[1] = m->npending[2] = 0;
            return -1;
        }
    }
    wr(m, BQ_MMIO_REG_CTRL, 0u);
    m->npending[0] = m->npending[1] = m->npending[2] = 0;
    return 0;
}

static const bq_acc_ops mm_ops = {mm_reg_read, mm_mem_write, mm_mem_read, mm_push, mm_run, NULL};

void bq_acc_mmio_init_bus(bq_acc_mmio *m, bq_acc *acc, const bq_mmio_bus *bus, volatile uint8_t *mem,
                          size_t mem_size) {
    memset(m, 0, sizeof *m);
    m->bus = *bus;
    m->mem = mem;
    m->mem_size = mem_size;
    m->timeout_polls = 1L << 30;
    acc->ops = &mm_ops;
    acc->ctx = m;
    acc->backend = "mmio";
    acc->ideal_memory = 0;   /* real DRAM: the counters are information, not a check */
    acc->idle_after_done = 0;
}

void bq_acc_mmio_init(bq_acc_mmio *m, bq_acc *acc, volatile uint32_t *regs, volatile uint8_t *mem,
                      size_t mem_size) {
    bq_mmio_bus bus = {win_rd, win_wr, m};
    bq_acc_mmio_init_bus(m, acc, &bus, mem, mem_size);
    m->regs = regs;
}

void bq_acc_mmio_free(bq_acc_mmio *m) {
    for (int s = 0; s < 3; s++) { free(m->pending[s]); m->pending[s] = NULL; m->cap[s] = m->npending[s] = 0; }
}
