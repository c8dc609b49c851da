/* test_v2_exec.c — functional check of whole-network v2 programs before the RTL exists: a small
 * executor (v2_exec.[ch], shared with tests/unit/lower/test_lower_v2_exec.c) runs the program's instructions (fetch W/RQ as docs/hw_isa.md §3.1, WIN through win.c,
 * execute by the bit-serial arithmetic of hw_isa.md §1 on the bank words, results through codes.c
 * or as RAW32) under two token-respecting interleavings, and every layer's output tensor is
 * compared with a naive integer conv / depthwise / residual / linear written here from the
 * definitions (HWC codes, z_a outside the image, requant with floor division): v2_ref.[ch], shared
 * with the RTL harness tests/hw/test_top_v2.cpp. */
#include "testutil.h"
#include <stdlib.h>
#include <string.h>
#include "hwcfg.h"
#include "hwsched_v2.h"
#include "win.h"
#include "codes.h"
#include "v2_ref.h"
#include "v2_exec.h"

static const char *kTinyV2 =
    "name: t2\nclock_mhz: 15\n"
    "array: {dm: 2, dn: 2, dk: 64, acc_bits: 32}\n"
    "buffers: {weight_depth: 256, act_depth: 256, regions: 2, requant_depth: 512,\n"
    "          window_bytes: 2048, block_channels: 256}\n"
    "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8,\n"
    "         read_latency: 12, write_latency: 12}\n";
static const char *kEdgeV2 =
    "name: e2\nclock_mhz: 150\n"
    "array: {dm: 8, dn: 8, dk: 256, acc_bits: 32, res_lanes: 8}\n"
    "buffers: {weight_depth: 1024, act_depth: 1024, regions: 2, requant_depth: 512,\n"
    "          window_bytes: 16384, block_channels: 512}\n"
    "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8,\n"
    "         read_latency: 32, write_latency: 24}\n";

static v2_rng rng = {88172645463325252ull};
static long g_profiles_checked;   /* WIN fill profiles checked against win.c, over the tests */
static uint32_t rnd(void) { return v2_rnd(&rng); }

static void load(bq_hwcfg *c, const char *text) {
    char err[256] = "";
    if (bq_hwcfg_parse(c, text, strlen(text), "cfg", err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
}

/* Build, run under both policies, compare every layer's output. Returns the codes compared. */
static long check_net(const bq_hwcfg *c, v2_net *nt) {
    static bq_v2_plan plans[V2_REF_MAX_LAYERS];
    static bq_v2_memplan mp;
    char err[256] = "";
    if (bq_v2_net_plan(plans, &mp, c, nt->ls, nt->n, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    const int Wb = c->mem_width_bits / 8;
    const bq_v2_layer *l0 = &nt->ls[0];
    int cs0 = (l0->cin + Wb - 1) / Wb * Wb;
    uint8_t *input = malloc((size_t)l0->hi * l0->wi * cs0);
    assert_non_null(input);
    /* bytes of channels >= C are garbage: every reader must mask them */
    int amax = (1 << l0->hw.abits) - 1;
    for (int i = 0; i < l0->hi * l0->wi * cs0; i++)
        input[i] = (uint8_t)(i % cs0 < l0->cin ? v2_rnd_in(&rng, 0, amax) : v2_rnd_in(&rng, 0, 255));
    if (v2_ref_net(nt, plans, input, cs0, &rng, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    bq_program pr;
    bq_program_init(&pr);
    if (bq_v2_net_build(&pr, plans, &mp, c, nt->n, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    long compared = 0;
    for (int policy = 0; policy < 2; policy++) {
        static v2_machine x;   /* big (the accumulators): not on the stack */
        size_t mem_len = (size_t)mp.end + 64;
        uint8_t *mem = malloc(mem_len);
        assert_non_null(mem);
        for (size_t i = 0; i < mem_len; i++) mem[i] = (uint8_t)rnd();   /* unwritten = garbage */
        memcpy(mem + mp.input, input, (size_t)l0->hi * l0->wi * cs0);
        v2_ref_load(nt, plans, &mp, c, mem);
        if (v2_exec_init(&x, c, mem, mem_len, err, sizeof err) ||
            v2_exec_run(&x, &pr, policy, err, sizeof err)) {
            print_error("%s policy %d: %s\n", c->name, policy, err);
            fail();
        }
        g_profiles_checked += x.profiles_checked;
        for (int i = 0; i < nt->n; i++) {
            const bq_v2_layer *l = &nt->ls[i];
            long inside = 0, n = 0;
            char first[256] = "";
            long bad = v2_ref_check_layer(nt, plans, &mp, c, i, x.mem, &n, &inside, first, sizeof first);
            if (bad) print_error("policy %d: %ld mismatches, first %s\n", policy, bad, first);
            assert_int_equal(bad, 0);
            if (inside * 2 < n) {   /* the clamp must not hide the sums */
                print_error("%s %s: only %ld of %ld codes inside (lo, hi)\n", c->name, l->hw.name, inside, n);
                fail();
            }
            compared += n;
        }
        v2_exec_free(&x);
        free(mem);
    }
    bq_program_free(&pr);
    free(input);
    v2_ref_free(nt);
    return compared;
}

static void chain(v2_net *nt, int h, int wsigned) {
    char err[256] = "";
    if (v2_ref_chain(nt, h, wsigned, &rng, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
}

static bq_v2_layer conv(const char *name, int cin, int cout, int h, int k, int s, int pad, int dw,
                        int wb, int ab, int ob) {
    bq_v2_layer l;
    char err[256] = "";
    if (v2_ref_conv(&l, name, cin, cout, h, k, s, pad, dw, wb, ab, ob, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    return l;
}

static void test_chain_tiny(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTinyV2);
    static v2_net nt;
    for (int s = 0; s < 2; s++) {
        memset(&nt, 0, sizeof nt);
        chain(&nt, 6 + s, s);
        print_message("    tiny-like, %s weights, %d x %d input: %ld codes compared\n",
                      s ? "signed" : "unsigned", 6 + s, 6 + s, check_net(&c, &nt));
    }
    print_message("    WIN fill profiles checked against win.c so far: %ld\n", g_profiles_checked);
}

static void test_chain_edge(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kEdgeV2);
    static v2_net nt;
    for (int s = 0; s < 2; s++) {
        memset(&nt, 0, sizeof nt);
        chain(&nt, 9 + 2 * s, s);
        print_message("    edge-like, %s weights, %d x %d input: %ld codes compared\n",
                      s ? "signed" : "unsigned", 9 + 2 * s, 9 + 2 * s, check_net(&c, &nt));
    }
}

/* Weights too big for one region (N_OUTER with a residual read once per pixel block, depthwise
 * reloaded per tile) on a small-buffer config. */
static void test_reloaded_weights(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTinyV2);
    c.weight_depth = 64;
    static v2_net nt;
    memset(&nt, 0, sizeof nt);
    bq_v2_layer *ls = nt.ls;
    ls[0] = conv("big", 24, 24, 5, 3, 1, 1, 0, 4, 4, 4);   /* + the network input as residual */
    ls[0].hw.has_residual = 1;
    ls[0].hw.rbits = 4;
    ls[0].hw.z_r = 3;
    ls[0].res_from = -1;
    ls[1] = conv("dwbig", 24, 24, 5, 3, 1, 1, 1, 4, 4, 4);
    ls[1].in_from = 0;
    for (int i = 0; i < 2; i++) {
        ls[i].hw.z_o = 1;
        ls[i].hw.hi = -1;
        ls[i].z_a = 2;
    }
    nt.n = 2;
    char err[256] = "";
    bq_v2_plan p;
    assert_int_equal(bq_v2_plan_layer(&p, &c, &ls[0], err, sizeof err), 0);
    assert_int_equal(p.w_resident, 0);
    assert_int_equal(bq_v2_plan_layer(&p, &c, &ls[1], err, sizeof err), 0);
    assert_int_equal(p.w_resident, 0);
    print_message("    reloaded weights: %ld codes compared\n", check_net(&c, &nt));
}

/* Depthwise channels beyond the requant RAM: each channel's record reloaded into a ring of 2
 * entries (requant_depth 4 on Dm 2) before its tile. With a ring no longer than the activation
 * ring (regions 2) the ring's own FREED wait is the one that protects the record in use. */
static void test_requant_ring(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTinyV2);
    c.requant_depth = 4;
    static v2_net nt;
    memset(&nt, 0, sizeof nt);
    nt.ls[0] = conv("dwring", 20, 20, 5, 3, 1, 1, 1, 4, 4, 4);
    nt.ls[1] = conv("dwring2", 20, 20, 5, 3, 2, 1, 1, 3, 4, 4);
    nt.ls[1].in_from = 0;
    for (int i = 0; i < 2; i++) {
        nt.ls[i].hw.z_o = 1;
        nt.ls[i].hw.hi = -1;
        nt.ls[i].z_a = 2;
    }
    nt.n = 2;
    char err[256] = "";
    bq_v2_plan p;
    assert_int_equal(bq_v2_plan_layer(&p, &c, &nt.ls[0], err, sizeof err), 0);
    assert_int_equal(p.base.rq_all, 0);
    assert_int_equal(p.base.rq_slots, 2);
    print_message("    requant ring: %ld codes compared\n", check_net(&c, &nt));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_tiny),
        cmocka_unit_test(test_chain_edge),
        cmocka_unit_test(test_reloaded_weights),
        cmocka_unit_test(test_requant_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
