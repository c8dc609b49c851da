/* test_acc_mmio.c — the register protocol of sim/bq_acc_mmio.c (board backend and AXI shell
 * co-simulation) against a fake register bus: a model of the shell's CTRL / QSTATUS / BASE /
 * queue registers and host FIFOs (QSTATUS saturating at 255, FIFOs drained one instruction per
 * QSTATUS poll while run is set). Checks the preload before run (a program that fits the FIFOs is
 * all pushed before CTRL.run, even past the 255 that QSTATUS can show), streaming of a longer
 * program in order, the BASE writes after reset, and the time-out. Built and run under
 * ASan+UBSan by `make test-cosim-axi` (sim/sim.mk). */
#include "testutil.h"
#include "bq_acc_mmio.h"
#include "hw_params.h"

#include <string.h>

#define NQ 3
#define MAXI 2048

typedef struct {
    uint32_t ctrl, base_lo, base_hi, stage[NQ][3];
    int cap;                       /* FIFO entries per queue */
    int fill[NQ];                  /* entries in each FIFO */
    int pushed[NQ];                /* instructions pushed so far */
    uint32_t words[NQ][MAXI][4];   /* what arrived, in order */
    int pushed_at_run[NQ];         /* pushed when CTRL.run was first set (-1: never) */
    int base_writes, base_before_reset;
    int never_done;
} fake;

static uint32_t fk_rd(void *ctx, uint32_t off) {
    fake *f = ctx;
    if (off == BQ_MMIO_REG_QSTATUS) {   /* a poll: the accelerator takes one instruction per queue */
        uint32_t v = 0;
        for (int s = 0; s < NQ; s++) {
            if ((f->ctrl & BQ_MMIO_CTRL_RUN) && f->fill[s] > 0) f->fill[s]--;
            int free = f->cap - f->fill[s];
            v |= (uint32_t)(free > 255 ? 255 : free) << (8 * s);
        }
        return v;
    }
    if (off == BQ_HW_REG_STATUS) {
        int empty = 1;
        for (int s = 0; s < NQ; s++) empty &= f->fill[s] == 0;
        return (uint32_t)(empty && !f->never_done && (f->ctrl & BQ_MMIO_CTRL_RUN));
    }
    if (off == BQ_MMIO_REG_CTRL) return f->ctrl;
    return 0;   /* CYCLES and the rest */
}

static void fk_wr(void *ctx, uint32_t off, uint32_t v) {
    fake *f = ctx;
    if (off == BQ_MMIO_REG_CTRL) {
        if (v & BQ_MMIO_CTRL_RESET) { memset(f->fill, 0, sizeof f->fill); f->base_writes = 0; }
        if ((v & BQ_MMIO_CTRL_RUN) && !(f->ctrl & BQ_MMIO_CTRL_RUN) && f->pushed_at_run[0] < 0)
            memcpy(f->pushed_at_run, f->pushed, sizeof f->pushed);
        f->ctrl = v;
    } else if (off == BQ_MMIO_REG_BASE_LO) { f->base_lo = v; f->base_writes++; }
    else if (off == BQ_MMIO_REG_BASE_HI) { f->base_hi = v; f->base_writes++; }
    else if (off >= BQ_MMIO_REG_QUEUE(0) && off < BQ_MMIO_REG_QUEUE(NQ)) {
        int s = (int)((off - BQ_MMIO_REG_QUEUE(0)) / 16), k = (int)((off % 16) / 4);
        if (k < 3) { f->stage[s][k] = v; return; }
        assert_true(f->fill[s] < f->cap);       /* never a push into a full FIFO */
        assert_true(f->pushed[s] < MAXI);
        uint32_t *w = f->words[s][f->pushed[s]++];
        memcpy(w, f->stage[s], 12);
        w[3] = v;
        f->fill[s]++;
    }
}

/* Push n instructions per queue (word k of instruction i of queue s = s << 24 | i << 4 | k) and run. */
static int run_prog(fake *f, int cap, int n, int write_base, uint64_t base) {
    memset(f, 0, sizeof *f);
    f->cap = cap;
    for (int s = 0; s < NQ; s++) f->pushed_at_run[s] = -1;
    bq_acc acc;
    bq_acc_mmio m;
    bq_mmio_bus bus = {fk_rd, fk_wr, f};
    static uint8_t mem[64];
    bq_acc_mmio_init_bus(&m, &acc, &bus, mem, sizeof mem);
    m.write_base = write_base;
    m.base = base;
    m.timeout_polls = 100000;
    for (int s = 0; s < NQ; s++)
        for (int i = 0; i < n; i++) {
            uint32_t w[4];
            for (int k = 0; k < 4; k++) w[k] = (uint32_t)s << 24 | (uint32_t)i << 4 | (uint32_t)k;
            assert_int_equal(acc.ops->push(acc.ctx, s, w), 0);
        }
    int rc = acc.ops->run(acc.ctx, 1000000);
    bq_acc_mmio_free(&m);
    return rc;
}

static void check_order(const fake *f, int n) {
    for (int s = 0; s < NQ; s++) {
        assert_int_equal(f->pushed[s], n);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 4; k++)
                assert_int_equal(f->words[s][i][k], (uint32_t)s << 24 | (uint32_t)i << 4 | (uint32_t)k);
    }
}

/* 600 instructions into 1000-entry FIFOs: QSTATUS shows 255, yet all 600 are in before run. */
static void test_preload_past_qstatus(void **state) {
    (void)state;
    static fake f;
    assert_int_equal(run_prog(&f, 1000, 600, 0, 0), 0);
    for (int s = 0; s < NQ; s++) assert_int_equal(f.pushed_at_run[s], 600);
    check_order(&f, 600);
    assert_int_equal(f.ctrl, 0u);   /* run dropped at the end */
}

/* 40 instructions into 16-entry FIFOs: 16 before run, the rest streamed, in order. */
static void test_stream(void **state) {
    (void)state;
    static fake f;
    assert_int_equal(run_prog(&f, 16, 40, 0, 0), 0);
    for (int s = 0; s < NQ; s++) assert_int_equal(f.pushed_at_run[s], 16);
    check_order(&f, 40);
}

static void test_base(void **state) {
    (void)state;
    static fake f;
    assert_int_equal(run_prog(&f, 16, 3, 1, 0x123456789abcdef0ull), 0);
    assert_int_equal(f.base_writes, 2);   /* after the reset (a reset clears the count) */
    assert_int_equal(f.base_lo, 0x9abcdef0u);
    assert_int_equal(f.base_hi, 0x12345678u);
    assert_int_equal(run_prog(&f, 16, 3, 0, 0x1000), 0);
    assert_int_equal(f.base_writes, 0);   /* the board program leaves BASE at its reset value */
}

static void test_timeout(void **state) {
    (void)state;
    static fake f;
    memset(&f, 0, sizeof f);
    f.cap = 16;
    f.never_done = 1;
    f.pushed_at_run[0] = -1;
    bq_acc acc;
    bq_acc_mmio m;
    bq_mmio_bus bus = {fk_rd, fk_wr, &f};
    static uint8_t mem[64];
    bq_acc_mmio_init_bus(&m, &acc, &bus, mem, sizeof mem);
    m.timeout_polls = 50;
    uint32_t w[4] = {1, 2, 3, 4};
    assert_int_equal(acc.ops->push(acc.ctx, 0, w), 0);
    assert_int_equal(acc.ops->run(acc.ctx, 1000000), -1);
    assert_int_equal(f.ctrl, 0u);
    assert_int_equal(acc.idle_after_done, 0);
    bq_acc_mmio_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preload_past_qstatus),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_base),
        cmocka_unit_test(test_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
