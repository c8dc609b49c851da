/* test_sched_v2.c — the v2 scheduler (hwsched_v2.h) and the latency model's v2 timing: program
 * invariants (encodings, tokens, window/codes checks), WIN and RUNC timing against win.c / codes.c,
 * skip == no skip, whole-network programs = sum of the layers, refusals. */
#include "testutil.h"
#include <string.h>
#include "hwcfg.h"
#include "hwsched_v2.h"
#include "isa.h"
#include "latency.h"
#include "win.h"
#include "codes.h"
#include "v2_ref.h"

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

static void load(bq_hwcfg *c, const char *text) {
    char err[256] = "";
    if (bq_hwcfg_parse(c, text, strlen(text), "cfg", err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
}

static bq_v2_layer conv(const char *name, int cin, int cout, int h, int k, int s, int pad, int dw,
                        int wb, int ab, int ob) {
    bq_v2_layer l;
    char err[256] = "";
    if (bq_v2_layer_conv(&l, name, cin, cout, h, h, k, k, s, pad, dw, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    l.hw.wbits = wb;
    l.hw.abits = ab;
    l.hw.obits = ob;
    l.z_a = 3;
    return l;
}

/* Invariants of a built program: every instruction encodes and decodes to the same fields, the
 * token FIFOs balance (WRITTEN included), one commit and one result per tile. */
static void check_invariants(const bq_program *pr, long tiles, int wait_prev, int signal_next) {
    long sig[BQ_NTOK] = {0}, wait[BQ_NTOK] = {0}, results = 0, commits = 0;
    for (int s = 0; s < BQ_NSTAGES; s++)
        for (int i = 0; i < pr->len[s]; i++) {
            const bq_instr *in = &pr->ins[s][i];
            uint32_t w[4], w2[4];
            bq_instr d;
            assert_int_equal(bq_isa_encode(in, w), 0);
            assert_int_equal(bq_isa_decode(s, w, &d), 0);
            assert_int_equal(bq_isa_encode(&d, w2), 0);
            assert_memory_equal(w, w2, sizeof w);
            if (s == BQ_STAGE_FETCH) {
                sig[BQ_TOK_FILLED] += in->sig0;
                wait[BQ_TOK_FREED] += in->wait0;
                wait[BQ_TOK_WRITTEN] += in->wait1;
                if (i == 0) assert_int_equal(in->wait1, wait_prev);
                else assert_int_equal(in->wait1, 0);
            } else if (s == BQ_STAGE_EXEC) {
                wait[BQ_TOK_FILLED] += in->wait0;
                wait[BQ_TOK_RESFREE] += in->wait1;
                sig[BQ_TOK_FREED] += in->sig0;
                sig[BQ_TOK_RESRDY] += in->sig1;
                commits += in->commit;
            } else {
                wait[BQ_TOK_RESRDY] += in->wait0;
                sig[BQ_TOK_RESFREE] += in->sig0;
                sig[BQ_TOK_WRITTEN] += in->sig1;
                results += in->op == BQ_OP_RUNC || in->op == BQ_OP_RUN;
            }
        }
    for (int t = 0; t < BQ_TOK_WRITTEN; t++) assert_int_equal(sig[t], wait[t]);
    assert_int_equal(sig[BQ_TOK_WRITTEN], signal_next);
    assert_int_equal(wait[BQ_TOK_WRITTEN], wait_prev);
    assert_int_equal(commits, tiles);
    assert_int_equal(results, tiles);
}

static void same_latency(const bq_latency *a, const bq_latency *b) {
    assert_int_equal(a->cycles, b->cycles);
    for (int s = 0; s < BQ_NSTAGES; s++) {
        assert_int_equal(a->busy[s], b->busy[s]);
        assert_int_equal(a->stall[s], b->stall[s]);
        assert_int_equal(a->idle[s], b->idle[s]);
        assert_int_equal(a->instrs[s], b->instrs[s]);
    }
    assert_int_equal(a->e_beats, b->e_beats);
    assert_int_equal(a->rd_beats, b->rd_beats);
    assert_int_equal(a->wr_beats, b->wr_beats);
    assert_int_equal(a->port_busy, b->port_busy);
    assert_int_equal(a->bytes_a, b->bytes_a);
    assert_int_equal(a->bytes_out, b->bytes_out);
    assert_int_equal(a->bytes_res, b->bytes_res);
}

/* Plan, build with invariants, dry-run with and without skipping; returns the cycles. */
static int64_t layer_cycles(const bq_hwcfg *c, const bq_v2_layer *l, bq_latency *out) {
    bq_v2_plan p;
    bq_program pr;
    bq_latency r0, r1;
    char err[256] = "";
    bq_program_init(&pr);
    bq_v2_addr ad = {.in = 0, .w = 0x100000, .rq = 0x200000, .out = 0x300000, .res = 0x400000};
    if (bq_v2_plan_layer(&p, c, l, err, sizeof err) ||
        bq_v2_build(&pr, &p, c, &ad, 0, 0, err, sizeof err) ||
        bq_latency_program(&r0, &pr, &p.base, c, 0, err, sizeof err) ||
        bq_latency_program(&r1, &pr, &p.base, c, 1, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    check_invariants(&pr, (long)p.base.layer.groups * p.base.mt * p.base.nt, 0, 0);
    same_latency(&r0, &r1);
    assert_true(r0.cycles > 0);
    if (out) *out = r0;
    bq_program_free(&pr);
    return r0.cycles;
}

static void layer_set(const bq_hwcfg *c, int big) {
    int h = big ? 16 : 6;
    bq_v2_layer ls[8];
    int n = 0;
    ls[n++] = conv("first", 1, 8, h, 3, 1, 1, 0, 4, 8, 4);        /* first layer C = 1 */
    ls[n++] = conv("c3s1", 16, 24, h, 3, 1, 1, 0, 4, 4, 4);
    ls[n++] = conv("c3s2", 16, 32, h, 3, 2, 1, 0, 3, 4, 4);
    ls[n++] = conv("pw", 24, 40, h, 1, 1, 0, 0, 4, 4, 4);
    ls[n++] = conv("dw", 24, 24, h, 3, 1, 1, 1, 4, 4, 4);
    ls[n++] = conv("dw2", 12, 12, h, 3, 2, 1, 1, 4, 4, 4);
    ls[n] = conv("res", 16, 16, h, 3, 1, 1, 0, 4, 4, 4);
    ls[n].hw.has_residual = 1;
    ls[n++].hw.rbits = 4;
    char err[256];
    assert_int_equal(bq_v2_layer_linear(&ls[n], "fc", 40, 10, err, sizeof err), 0);
    ls[n].hw.wbits = ls[n].hw.abits = 4;
    n++;
    for (int i = 0; i < n; i++) layer_cycles(c, &ls[i], NULL);
}

static void test_layers(void **st) {
    (void)st;
    bq_hwcfg t, e;
    load(&t, kTinyV2);
    load(&e, kEdgeV2);
    layer_set(&t, 0);
    layer_set(&e, 0);
    layer_set(&e, 1);
}

/* The dry run times a lone WIN as bq_win_exec does (SETUP in cycle 0, WIN dispatched in 1) and a
 * lone RUNC as bq_codes_run (RESRDY from an execute SYNC, visible from cycle 4). */
static void test_win_runc_timing(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTinyV2);
    bq_v2_layer l = conv("w", 16, 2, 6, 3, 1, 1, 0, 2, 4, 4);
    bq_v2_plan p;
    char err[256] = "";
    assert_int_equal(bq_v2_plan_layer(&p, &c, &l, err, sizeof err), 0);
    for (int pix = 0; pix < 36; pix += 5)
        for (int keep = 0; keep < 2; keep++) {
            bq_program pr;
            bq_program_init(&pr);
            bq_win_cfg wc = {.dn = 2, .dk = 64, .w_bits = 64, .lr = 12, .rr = 1, .window_bytes = 2048};
            bq_win_setup ws = {.hi = 6, .wi = 6, .wo = 6, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1,
                               .pad_l = 1, .cs = 16, .ch_lo = 0, .ch_hi = 16, .z_a = 3};
            bq_win_run r = {.pix0 = (uint32_t)pix, .t = 3, .nplanes = 4, .keep = keep};
            static uint8_t mem[4096];
            bq_win_result wr;
            assert_int_equal(bq_win_exec(&wc, &ws, &r, mem, sizeof mem, NULL, &wr, err, sizeof err), 0);
            bq_instr su = {.op = BQ_OP_SETUP};
            bq_instr win = {.op = BQ_OP_RUN, .target = BQ_TGT_WIN, .nplanes = 4};
            bq_win_burst b[64];
            uint32_t beats[64];
            int nb = bq_win_fill_bursts(&wc, &ws, &r, b);
            assert_int_equal(nb, wr.nbursts);
            for (int i = 0; i < nb; i++) beats[i] = b[i].beats;
            win.beats = (uint32_t)bq_program_win_profile(&pr, beats, nb, bq_win_assemble_cycles(&wc, 3, 4));
            assert_int_equal(bq_program_append(&pr, BQ_STAGE_FETCH, &su, bq_tkey(&su), -1, -1), 0);
            assert_int_equal(bq_program_append(&pr, BQ_STAGE_FETCH, &win, bq_tkey(&win), -1, -1), 0);
            bq_latency lr;
            assert_int_equal(bq_latency_program(&lr, &pr, &p.base, &c, 0, err, sizeof err), 0);
            assert_int_equal(lr.cycles, 1 + 1 + wr.complete);
            int64_t sum = 0;
            for (int i = 0; i < nb; i++) sum += beats[i];
            assert_int_equal(lr.rd_beats, sum);
            assert_true(keep ? nb == 0 : nb > 0);
            bq_win_result_free(&wr);
            bq_program_free(&pr);
        }
}

static void test_runc_timing_case(const bq_hwcfg *c, int first, int flush, int res) {
    char err[256] = "";
    bq_codes_cfg cc = {.dm = c->dm, .dn = c->dn, .lanes = c->res_lanes, .w_bits = 64,
                       .lr = c->read_latency, .rr = 1, .lw = c->write_latency, .rw = 1,
                       .block_channels = c->block_channels};
    bq_codes_state cs;
    assert_int_equal(bq_codes_init(&cs, &cc, err, sizeof err), 0);
    bq_codes_setup_regs su = {.out_base = 0, .res_base = 512, .cs_out = 16, .cs_res = 16};
    assert_int_equal(bq_codes_setup(&cs, &su, err, sizeof err), 0);
    if (res && !first) {   /* a block read earlier */
        cs.res_loaded = 1;
        cs.res_n0 = 4;
        cs.res_npix = c->dn;
    }
    bq_codes_run_f r = {.n0 = 4, .ch0 = 2, .npix = c->dn, .mrows = 1, .first = first, .flush = flush,
                        .res = res, .hi = 15, .sig1 = 1};
    int32_t acc[64 * 64] = {0}, asum[128] = {0};
    bq_codes_rq rq[128];
    for (int i = 0; i < 128; i++) rq[i] = (bq_codes_rq){.m_acc = 1, .sh = 1};
    static uint8_t mem[8192];
    bq_codes_timing t;
    assert_int_equal(bq_codes_run(&cs, &r, acc, asum, rq, mem, sizeof mem, NULL, &t, err, sizeof err), 0);
    bq_codes_free(&cs);
    /* the same RUNC in a program: execute SYNC (RESRDY visible from 4), result SETUP, RUNC */
    bq_program pr;
    bq_program_init(&pr);
    bq_instr es = {.op = BQ_OP_SYNC, .sig1 = 1};
    bq_instr rs = {.op = BQ_OP_SETUP, .cs_out = 16};
    bq_instr rc = {.op = BQ_OP_RUNC, .wait0 = 1, .first = (uint8_t)first, .flush = (uint8_t)flush,
                   .res = (uint8_t)res, .npix = (uint8_t)c->dn, .mrows = 1};
    rc.beats = flush ? (uint32_t)(c->dn * 16 / 8) : 0;
    rc.beats2 = first && res ? (uint32_t)(c->dn * 16 / 8) : 0;
    assert_int_equal(bq_program_append(&pr, BQ_STAGE_EXEC, &es, bq_tkey(&es), -1, -1), 0);
    assert_int_equal(bq_program_append(&pr, BQ_STAGE_RESULT, &rs, bq_tkey(&rs), -1, -1), 0);
    assert_int_equal(bq_program_append(&pr, BQ_STAGE_RESULT, &rc, bq_tkey(&rc), -1, -1), 0);
    bq_v2_plan p;
    bq_v2_layer l = conv("r", 8, 8, 4, 1, 1, 0, 0, 2, 2, 2);
    assert_int_equal(bq_v2_plan_layer(&p, c, &l, err, sizeof err), 0);
    bq_latency lr;
    assert_int_equal(bq_latency_program(&lr, &pr, &p.base, c, 0, err, sizeof err), 0);
    assert_int_equal(lr.cycles, 1 + 4 + t.complete);
    assert_int_equal(lr.wr_beats, flush ? rc.beats : 0);
    assert_int_equal(lr.rd_beats, rc.beats2);
    bq_program_free(&pr);
}

static void test_runc_timing(void **st) {
    (void)st;
    bq_hwcfg t, e;
    load(&t, kTinyV2);
    load(&e, kEdgeV2);
    for (int k = 0; k < 8; k++) {
        test_runc_timing_case(&t, k & 1, k >> 1 & 1, k >> 2 & 1);
        test_runc_timing_case(&e, k & 1, k >> 1 & 1, k >> 2 & 1);
    }
}

/* A ResNet-like and a MobileNetV2-like network (small images): whole-network dry run against the
 * per-layer stand-alone cycles. */
static int resnet_like(bq_v2_layer *ls, int h) {
    int n = 0;
    ls[n++] = conv("stem", 1, 16, h, 3, 1, 1, 0, 4, 8, 4);
    ls[n++] = conv("b1.c1", 16, 16, h, 3, 1, 1, 0, 4, 4, 4);
    ls[n] = conv("b1.c2", 16, 16, h, 3, 1, 1, 0, 4, 4, 4);
    ls[n].hw.has_residual = 1;
    ls[n].hw.rbits = 4;
    ls[n].res_from = 0;
    n++;
    ls[n++] = conv("b2.c1", 16, 32, h, 3, 2, 1, 0, 4, 4, 4);
    int h2 = ls[n - 1].ho;
    ls[n] = conv("b2.c2", 32, 32, h2, 3, 1, 1, 0, 4, 4, 4);
    n++;
    ls[n++] = conv("gap", 32, 32, h2, h2, 1, 0, 1, 1, 4, 8);   /* GAP as a depthwise conv */
    char err[256];
    assert_int_equal(bq_v2_layer_linear(&ls[n], "fc", 32, 10, err, sizeof err), 0);
    ls[n].hw.wbits = 4;
    ls[n].hw.abits = 8;
    n++;
    for (int i = 0; i < n; i++)
        if (i > 0) ls[i].in_from = i - 1;
    return n;
}

static int mbv2_like(bq_v2_layer *ls, int h) {
    int n = 0;
    ls[n++] = conv("stem", 1, 8, h, 3, 2, 1, 0, 4, 8, 4);
    int h1 = ls[0].ho;
    ls[n++] = conv("e1", 8, 24, h1, 1, 1, 0, 0, 4, 4, 4);
    ls[n++] = conv("d1", 24, 24, h1, 3, 1, 1, 1, 4, 4, 4);
    ls[n] = conv("p1", 24, 8, h1, 1, 1, 0, 0, 4, 4, 4);
    ls[n].hw.has_residual = 1;
    ls[n].hw.rbits = 4;
    ls[n].res_from = 0;
    n++;
    ls[n++] = conv("e2", 8, 24, h1, 1, 1, 0, 0, 4, 4, 4);
    ls[n++] = conv("d2", 24, 24, h1, 3, 2, 1, 1, 4, 4, 4);
    for (int i = 1; i < n; i++) ls[i].in_from = i - 1;
    return n;
}

static void whole(const bq_hwcfg *c, bq_v2_layer *ls, int n) {
    static bq_v2_plan plans[64];
    static bq_v2_memplan mp;
    char err[256] = "";
    if (bq_v2_net_plan(plans, &mp, c, ls, n, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    int64_t sum = 0;
    for (int i = 0; i < n; i++) sum += layer_cycles(c, &ls[i], NULL);
    bq_program pr;
    bq_program_init(&pr);
    bq_latency r0, r1;
    if (bq_v2_net_build(&pr, plans, &mp, c, n, err, sizeof err) ||
        bq_latency_program(&r0, &pr, &plans[0].base, c, 0, err, sizeof err) ||
        bq_latency_program(&r1, &pr, &plans[0].base, c, 1, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    same_latency(&r0, &r1);
    print_message("    %s %d layers: whole %lld, sum of layers %lld\n", c->name, n,
                  (long long)r0.cycles, (long long)sum);
    assert_int_equal(r0.cycles, sum);
    /* the memory plan: beat-aligned, disjoint, chained */
    const uint32_t Wb = (uint32_t)c->mem_width_bits / 8;
    for (int i = 0; i < n; i++) {
        assert_int_equal(mp.out[i] % Wb, 0);
        assert_int_equal(mp.w[i] % Wb, 0);
        assert_int_equal(mp.rq[i] % Wb, 0);
        if (i) assert_true(mp.out[i] > mp.out[i - 1]);
        assert_int_equal(mp.addr[i].in, ls[i].in_from < 0 ? mp.input : mp.out[ls[i].in_from]);
    }
    bq_program_free(&pr);
}

static void test_whole_network(void **st) {
    (void)st;
    bq_hwcfg t, e;
    load(&t, kTinyV2);
    load(&e, kEdgeV2);
    bq_v2_layer ls[16];
    int n = resnet_like(ls, 8);
    whole(&t, ls, n);
    whole(&e, ls, n);
    n = mbv2_like(ls, 12);
    whole(&t, ls, n);
    whole(&e, ls, n);
    n = resnet_like(ls, 16);
    whole(&e, ls, n);
}

/* fres20 and mbv2t as sw/nn/arch.c builds them, with the bits of a W4A4 run (v2_ref.h: the same
 * layer lists the whole-network RTL harnesses and test_v2_exec use). */
static void test_fres20_mbv2t(void **st) {
    (void)st;
    bq_hwcfg t, e;
    load(&t, kTinyV2);
    load(&e, kEdgeV2);
    /* edge's 64 requant entries per bank: mbv2t's depthwise layers (up to 256 channels) reload
     * their records per tile in a ring (§11) */
    static v2_net net;
    bq_v2_layer *ls = net.ls;
    for (int a = 0; a < 2; a++) {
        char lerr[256] = "";
        if ((a ? v2_ref_mbv2t(&net, lerr, sizeof lerr) : v2_ref_fres20(&net, lerr, sizeof lerr))) {
            print_error("%s\n", lerr);
            fail();
        }
        const int n = net.n;
        for (int c = 0; c < 2; c++) {
            bq_hwcfg cf = c ? e : t;
            const bq_hwcfg *cfg = &cf;
            /* the window the network needs (GAP: the whole image, twice the rows: the columns
             * past its one pixel fill a second segment, §4.2); the config gets exactly that */
            long need = 0, need_conv = 0;
            cf.window_bytes = 1 << 20;
            for (int i = 0; i < n; i++) {
                bq_v2_plan p;
                char err[256] = "";
                if (bq_v2_plan_layer(&p, cfg, &ls[i], err, sizeof err)) {
                    print_error("%s\n", err);
                    fail();
                }
                if (p.window_max > need) need = p.window_max;
                if (strcmp(ls[i].hw.name, "gap") && p.window_max > need_conv) need_conv = p.window_max;
            }
            cf.window_bytes = (int)need;
            print_message("    %s on %s: window needed %ld bytes (%ld without GAP)\n",
                          a ? "mbv2t" : "fres20", cfg->name, need, need_conv);
            whole(cfg, ls, n);
            int64_t v1 = 0;   /* v1 per layer (host im2col between layers, not counted) */
            bq_program scr;
            bq_program_init(&scr);
            for (int i = 0; i < n; i++) {
                bq_latency r;
                char err[256];
                if (strcmp(ls[i].hw.name, "gap") && bq_latency_layer(&r, cfg, &ls[i].hw, &scr, err, sizeof err) == 0)
                    v1 += r.cycles;
            }
            bq_program_free(&scr);
            print_message("    %s on %s: v1 layers without GAP (host im2col not counted) %lld cycles\n",
                          a ? "mbv2t" : "fres20", cfg->name, (long long)v1);
        }
    }
}

static void expect_refusal(const bq_hwcfg *c, const bq_v2_layer *l, const char *needle) {
    bq_v2_plan p;
    char err[512] = "";
    assert_int_equal(bq_v2_plan_layer(&p, c, l, err, sizeof err), -1);
    if (!strstr(err, needle) || !strstr(err, l->hw.name) || strchr(err, '\n')) {
        print_error("refusal '%s' does not say '%s'\n", err, needle);
        fail();
    }
}

static void test_refusals(void **st) {
    (void)st;
    bq_hwcfg t, v1;
    load(&t, kTinyV2);
    v1 = t;
    v1.window_bytes = v1.block_channels = 0;
    bq_v2_layer l = conv("wide", 64, 16, 32, 3, 1, 1, 0, 4, 4, 4);
    expect_refusal(&v1, &l, "window_bytes");
    bq_hwcfg small = t;
    small.window_bytes = 512;
    expect_refusal(&small, &l, "needs 768 window-buffer bytes");
    l = conv("many", 16, 300, 4, 1, 1, 0, 0, 2, 2, 2);
    expect_refusal(&t, &l, "block_channels");
    bq_v2_layer g;
    char err[256];
    assert_int_equal(bq_v2_layer_conv(&g, "grp", 16, 16, 8, 8, 3, 3, 1, 1, 0, err, sizeof err), 0);
    g.hw.groups = 4;
    expect_refusal(&t, &g, "grouped");
    l = conv("big", 8, 8, 1100, 1, 1, 0, 0, 2, 2, 2);   /* hi > 1023: the SETUP field */
    expect_refusal(&t, &l, "hi");
    l = conv("deepk", 256, 8, 4, 3, 1, 1, 0, 8, 8, 4);  /* K needs more than a region */
    expect_refusal(&t, &l, "K split");
    /* the hwcfg keys: multiples of Wb, both or neither */
    bq_hwcfg x;
    char e2[256] = "";
    const char *bad = "name: b\nclock_mhz: 1\narray: {dm: 2, dn: 2, dk: 64, acc_bits: 32}\n"
                      "buffers: {weight_depth: 256, act_depth: 256, regions: 2, requant_depth: 512,"
                      " window_bytes: 100, block_channels: 256}\n"
                      "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8,"
                      " read_latency: 12, write_latency: 12}\n";
    assert_int_equal(bq_hwcfg_parse(&x, bad, strlen(bad), "b.yaml", e2, sizeof e2), -1);
    assert_non_null(strstr(e2, "window_bytes"));
    const char *half = "name: b\nclock_mhz: 1\narray: {dm: 2, dn: 2, dk: 64, acc_bits: 32}\n"
                       "buffers: {weight_depth: 256, act_depth: 256, regions: 2, requant_depth: 512,"
                       " window_bytes: 1024}\n"
                       "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8,"
                       " read_latency: 12, write_latency: 12}\n";
    assert_int_equal(bq_hwcfg_parse(&x, half, strlen(half), "b.yaml", e2, sizeof e2), -1);
    assert_non_null(strstr(e2, "both or neither"));
    /* the new keys stay out of the hash at 0, and change it when set */
    bq_hwcfg a = t;
    a.window_bytes = a.block_channels = 0;
    bq_hwcfg b2 = a;
    assert_true(bq_hwcfg_hash(&t) != bq_hwcfg_hash(&a));
    char canon[1024];
    bq_hwcfg_canonical(&b2, canon, sizeof canon);
    assert_null(strstr(canon, "window_bytes"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers),        cmocka_unit_test(test_win_runc_timing),
        cmocka_unit_test(test_runc_timing),   cmocka_unit_test(test_whole_network),
        cmocka_unit_test(test_refusals),      cmocka_unit_test(test_fres20_mbv2t),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
