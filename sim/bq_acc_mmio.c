/* bq_acc_mmio.c — memory-mapped backend of the access layer (bq_acc_mmio.h). Compiled, not run. */
#include "bq_acc_mmio.h"
#include "core/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
    m->regs[BQ_MMIO_REG_CTRL / 4] = 2u;   /* reset: counters to 0 */
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
        if (!started) { m->regs[BQ_MMIO_REG_CTRL / 4] = 1u; started = 1; }
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

int bq_acc_mmio_open(bq_acc_mmio *m, bq_acc *acc, const char *dev, uint64_t reg_phys,
                     uint64_t mem_phys, size_t mem_size, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->reg_fd = m->mem_fd = -1;
    m->timeout_polls = 1L << 30;
    int uio = strncmp(dev, "/dev/uio", 8) == 0;
    m->reg_fd = open(dev, O_RDWR | O_SYNC);
    if (m->reg_fd < 0) {
        bq_seterr(err, errlen, "%s: %s; load the UIO driver of the accelerator or run as root", dev, strerror(errno));
        return -1;
    }
    /* UIO: map N is selected by offset N * page size */
    void *r = mmap(NULL, BQ_MMIO_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, m->reg_fd,
                   uio ? 0 : (off_t)reg_phys);
    if (r == MAP_FAILED) {
        bq_seterr(err, errlen, "%s: mmap of the register window: %s", dev, strerror(errno));
        bq_acc_mmio_close(m);
        return -1;
    }
    m->regs = r;
    m->mem_fd = open("/dev/mem", O_RDWR | O_SYNC);
    if (m->mem_fd < 0) {
        bq_seterr(err, errlen, "/dev/mem: %s; run as root", strerror(errno));
        bq_acc_mmio_close(m);
        return -1;
    }
    void *d = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->mem_fd, (off_t)mem_phys);
    if (d == MAP_FAILED) {
        bq_seterr(err, errlen, "/dev/mem: mmap of %zu bytes at 0x%llx: %s; reserve the buffer (e.g. "
               "mem= or a reserved-memory node)", mem_size, (unsigned long long)mem_phys, strerror(errno));
        bq_acc_mmio_close(m);
        return -1;
    }
    m->mem = d;
    m->mem_size = mem_size;
    acc->ops = &mm_ops;
    acc->ctx = m;
    acc->backend = "mmio";
    return 0;
}

void bq_acc_mmio_close(bq_acc_mmio *m) {
    if (m->regs) munmap((void *)m->regs, BQ_MMIO_WINDOW);
    if (m->mem) munmap((void *)m->mem, m->mem_size);
    if (m->reg_fd >= 0) close(m->reg_fd);
    if (m->mem_fd >= 0) close(m->mem_fd);
    for (int s = 0; s < 3; s++) { free(m->pending[s]); m->pending[s] = NULL; m->cap[s] = m->npending[s] = 0; }
    m->regs = NULL; m->mem = NULL; m->reg_fd = m->mem_fd = -1;
}
