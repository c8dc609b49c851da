/* test_axi_cfg.c — the AXI shell's config keys (memory.interface, memory.axi_*) and the latency
 * model's shell term: defaults keep every hash and every prediction; interface: axi predicts
 * exactly what the native port predicts with read_latency + BQ_AXI_READ_CYCLES (and write_latency
 * + BQ_AXI_WRITE_CYCLES), the timing the AXI harness (tests/hw/test_axi_top.cpp) checks the RTL
 * against; bad values are rejected at their position. */
#include "testutil.h"
#include <stdio.h>
#include <string.h>
#include "hwcfg.h"
#include "hwlayer.h"
#include "latency.h"
#include "hwsched.h"

static const char *kBase =
    "name: t\nclock_mhz: 50\n"
    "array: {dm: 4, dn: 4, dk: 32, acc_bits: 32}\n"
    "buffers: {weight_depth: 512, act_depth: 512, regions: 2, requant_depth: 256}\n"
    "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8,\n"
    "         read_latency: %d, write_latency: 12%s}\n";

static int parse(bq_hwcfg *c, int lr, const char *extra, char *err, size_t errlen) {
    char buf[1024];
    snprintf(buf, sizeof buf, kBase, lr, extra);
    return bq_hwcfg_parse(c, buf, strlen(buf), "cfg.yaml", err, errlen);
}

static void load(bq_hwcfg *c, int lr, const char *extra) {
    char err[256] = "";
    if (parse(c, lr, extra, err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
}

static void test_defaults_keep_hash(void **st) {
    (void)st;
    bq_hwcfg a, b, c;
    load(&a, 12, "");
    load(&b, 12, ", interface: native, axi_addr_bits: 32, axi_id_bits: 1, axi_max_burst: 256, axi_base: 0");
    assert_int_equal(a.mem_interface, BQ_MEM_NATIVE);
    assert_int_equal(a.axi_max_burst, 256);
    assert_true(a.hash == b.hash);
    char canon[1024];
    bq_hwcfg_canonical(&a, canon, sizeof canon);
    assert_null(strstr(canon, "interface"));
    assert_null(strstr(canon, "axi_"));
    /* every non-default value is part of the identity */
    const char *edits[] = {", interface: axi", ", axi_addr_bits: 40", ", axi_id_bits: 4",
                           ", axi_max_burst: 16", ", axi_base: 4096"};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        load(&c, 12, edits[i]);
        assert_true(c.hash != a.hash);
    }
    load(&c, 12, ", interface: axi");
    char err[256] = "";
    assert_int_equal(bq_hwcfg_validate(&c, err, sizeof err), 0);
}

static void test_port_latency(void **st) {
    (void)st;
    bq_hwcfg n, x;
    load(&n, 12, "");
    load(&x, 12, ", interface: axi");
    assert_int_equal(bq_hwcfg_port_read_latency(&n), 12);
    assert_int_equal(bq_hwcfg_port_write_latency(&n), 12);
    assert_int_equal(bq_hwcfg_port_read_latency(&x), 12 + BQ_AXI_READ_CYCLES);
    assert_int_equal(bq_hwcfg_port_write_latency(&x), 12 + BQ_AXI_WRITE_CYCLES);
}

static bq_latency lat(const bq_hwcfg *c, const bq_hw_layer *l) {
    bq_program scratch;
    bq_latency r;
    char err[256] = "";
    bq_program_init(&scratch);
    if (bq_latency_layer(&r, c, l, &scratch, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    bq_program_free(&scratch);
    return r;
}

/* interface: axi with read latency L == native with L + BQ_AXI_READ_CYCLES, every counter */
static void test_latency_axi_term(void **st) {
    (void)st;
    static const int shapes[][9] = {   /* cin cout k h w groups wbits abits obits */
        {16, 32, 3, 8, 8, 1, 4, 4, 4}, {64, 64, 1, 7, 7, 1, 2, 2, 2}, {32, 32, 3, 6, 6, 32, 3, 5, 6},
        {3, 16, 3, 16, 16, 1, 8, 8, 8}};
    bq_hwcfg n, x, n0;
    load(&x, 12, ", interface: axi");
    load(&n, 12 + BQ_AXI_READ_CYCLES, "");
    load(&n0, 12, "");
    assert_int_equal(BQ_AXI_WRITE_CYCLES, 0);   /* else n's write_latency must move too */
    int differs = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *s = shapes[i];
        bq_hw_layer l;
        char err[256];
        assert_int_equal(bq_hw_layer_conv(&l, "L", s[0], s[1], s[2], s[2], s[3], s[4], s[5], err,
                                          sizeof err), 0);
        l.wbits = s[6];
        l.abits = s[7];
        l.obits = s[8];
        bq_latency a = lat(&x, &l), b = lat(&n, &l), c = lat(&n0, &l);
        assert_int_equal(a.cycles, b.cycles);
        for (int k = 0; k < BQ_NSTAGES; k++) {
            assert_int_equal(a.busy[k], b.busy[k]);
            assert_int_equal(a.stall[k], b.stall[k]);
            assert_int_equal(a.idle[k], b.idle[k]);
        }
        assert_int_equal(a.port_busy, b.port_busy);
        assert_int_equal(a.rd_beats, b.rd_beats);
        differs += a.cycles != c.cycles;   /* the term is not a no-op */
    }
    assert_true(differs > 0);
}

static void test_errors(void **st) {
    (void)st;
    bq_hwcfg c;
    char err[256] = "";
    assert_int_equal(parse(&c, 12, ", interface: pcie", err, sizeof err), -1);
    assert_non_null(strstr(err, "cfg.yaml:6:"));
    assert_non_null(strstr(err, "memory.interface"));
    assert_int_equal(parse(&c, 12, ", axi_max_burst: 24", err, sizeof err), -1);
    assert_non_null(strstr(err, "axi_max_burst"));
    assert_int_equal(parse(&c, 12, ", axi_id_bits: 0", err, sizeof err), -1);
    assert_non_null(strstr(err, "axi_id_bits"));
    assert_int_equal(parse(&c, 12, ", axi_base: 4", err, sizeof err), -1);
    assert_non_null(strstr(err, "cfg.yaml:6:"));
    assert_non_null(strstr(err, "multiple of memory.width_bits/8"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_keep_hash), cmocka_unit_test(test_port_latency),
        cmocka_unit_test(test_latency_axi_term), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
