/* test_v2_exec.c — functional check of whole-network v2 programs before the RTL exists: a small
 * executor runs the program's instructions (fetch W/RQ as docs/hw_isa.md §3.1, WIN through win.c,
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
static uint32_t rnd(void) { return v2_rnd(&rng); }

static void load(bq_hwcfg *c, const char *text) {
    char err[256] = "";
    if (bq_hwcfg_parse(c, text, strlen(text), "cfg", err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
}

/* ---- the executor ---- */
typedef struct {
    const bq_hwcfg *cfg;
    uint8_t *mem;
    size_t mem_len;
    uint8_t *wbank, *abank;   /* [bank][row][Dk/8] */
    bq_codes_rq *rqram;       /* [bank][entry] */
    int rq_entries;
    int32_t acc[128 * 128], asum[128], slot[128 * 128], slot_asum[128];
    bq_win_cfg wc;
    bq_win_setup ws;
    bq_codes_state cs;
    int tok[BQ_NTOK];
} machine;

static uint8_t *wrow(machine *x, int bank, long row) {
    return x->wbank + ((size_t)bank * x->cfg->weight_depth + (size_t)(row % x->cfg->weight_depth)) *
                          (size_t)(x->cfg->dk / 8);
}
static uint8_t *arow(machine *x, int bank, long row) {
    return x->abank + ((size_t)bank * x->cfg->act_depth + (size_t)(row % x->cfg->act_depth)) *
                          (size_t)(x->cfg->dk / 8);
}

/* The timing view of a WIN (its fill profile in the program's table) must list exactly the
 * bursts win.c made, so the latency model times what the window unit does. */
static long g_profiles_checked;
static void check_profile(const bq_program *pr, uint64_t key, const bq_win_result *wr) {
    int prof = (int)BQ_T_BEATS(key);
    assert_true(prof >= 0 && prof < pr->nwp);
    assert_int_equal(pr->wp_n[prof], wr->nbursts);
    for (int b = 0; b < wr->nbursts; b++)
        assert_int_equal(pr->wp_beats[pr->wp_off[prof] + b], wr->bursts[b].beats);
    /* completion = (last beat + 1, or dispatch + 1) + assembly - 1, win.c's own cycle count */
    assert_true(pr->wp_asm[prof] >= 1 && pr->wp_asm[prof] <= wr->complete);
    g_profiles_checked++;
}

static void do_fetch(machine *x, const bq_instr *in, const bq_program *pr, uint64_t key) {
    const bq_hwcfg *c = x->cfg;
    char err[256] = "";
    if (in->op == BQ_OP_SETUP) {
        x->ws = (bq_win_setup){.hi = in->in_h, .wi = in->in_w, .wo = in->out_w, .kh = in->kh,
                               .kw = in->kw, .stride = in->stride, .pad_t = in->pad_t,
                               .pad_l = in->pad_l, .cs = in->cs, .ch_base = in->ch_base,
                               .ch_lo = in->ch_lo, .ch_hi = in->ch_hi, .z_a = in->z_a};
        return;
    }
    if (in->op != BQ_OP_RUN) return;
    if (in->target == BQ_TGT_WIN) {
        bq_win_run r = {.dram_addr = in->dram_addr, .pix0 = in->pix0, .kc0 = in->kc0, .t = in->t,
                        .nplanes = in->nplanes, .buf_base = in->buf_base, .keep = in->keep};
        bq_win_result wr;
        if (bq_win_exec(&x->wc, &x->ws, &r, x->mem, x->mem_len, NULL, &wr, err, sizeof err)) {
            print_error("WIN: %s\n", err);
            fail();
        }
        check_profile(pr, key, &wr);
        for (long i = 0; i < wr.nwrites; i++)
            memcpy(arow(x, wr.writes[i].bank, wr.writes[i].row), wr.wdata + i * (c->dk / 8),
                   (size_t)c->dk / 8);
        bq_win_result_free(&wr);
        return;
    }
    int D = in->target == BQ_TGT_A ? c->dn : c->dm;
    int unit = in->target == BQ_TGT_RQ ? 16 : c->dk / 8;
    for (int p = 0; p < in->nplanes; p++) {
        size_t base = in->dram_addr + (size_t)p * in->plane_stride;
        assert_true(base + (size_t)in->t * D * unit <= x->mem_len);
        for (long u = 0; u < (long)in->t * D; u++) {
            const uint8_t *src = x->mem + base + (size_t)u * unit;
            int bank = (int)(u % D);
            long row = in->buf_base + (long)p * in->t + u / D;
            if (in->target == BQ_TGT_W) memcpy(wrow(x, bank, row), src, (size_t)unit);
            else if (in->target == BQ_TGT_A) memcpy(arow(x, bank, row), src, (size_t)unit);
            else {
                assert_true(row < x->rq_entries);
                bq_codes_rq *r = &x->rqram[bank * x->rq_entries + row];
                memcpy(&r->bias_eff, src, 4);
                memcpy(&r->m_acc, src + 4, 4);
                memcpy(&r->m_res, src + 8, 4);
                r->z_w = src[12];
                r->sh = src[13];
            }
        }
    }
}

static int popc(const uint8_t *a, const uint8_t *b, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += __builtin_popcount((unsigned)(a[i] & b[i]));
    return s;
}

/* hw_isa.md §1: the beats of one execute RUN. */
static void do_exec(machine *x, const bq_instr *in) {
    const bq_hwcfg *c = x->cfg;
    const int dm = c->dm, dn = c->dn, wordb = c->dk / 8;
    if (in->op != BQ_OP_RUN) return;
    if (in->clear) {
        memset(x->acc, 0, sizeof x->acc);
        memset(x->asum, 0, sizeof x->asum);
    }
    uint8_t ones[512];
    memset(ones, 0xff, sizeof ones);
    for (int ii = 0; ii < in->wn; ii++)
        for (int jj = 0; jj < in->an; jj++)
            for (int kc = 0; kc < in->nk; kc++) {
                int i = in->w0 + ii, j = in->a0 + jj;
                long wa = in->wbase + (long)ii * in->wstride + kc, aa = in->abase + (long)jj * in->astride + kc;
                int neg = (i == in->wbits - 1 && in->wsigned) ^ (j == in->abits - 1 && in->asigned);
                for (int ni = 0; ni < dn; ni++) {
                    const uint8_t *av = arow(x, ni, aa);
                    for (int mi = 0; mi < dm; mi++) {
                        uint32_t term = (uint32_t)popc(wrow(x, mi, wa), av, wordb) << (i + j);
                        x->acc[ni * dm + mi] = (int32_t)((uint32_t)x->acc[ni * dm + mi] + (neg ? -term : term));
                    }
                    if (in->asum && ii == 0) {
                        uint32_t term = (uint32_t)popc(ones, av, wordb) << j;
                        int sneg = j == in->abits - 1 && in->asigned;
                        x->asum[ni] = (int32_t)((uint32_t)x->asum[ni] + (sneg ? -term : term));
                    }
                }
            }
    if (in->commit) {
        memcpy(x->slot, x->acc, sizeof x->slot);
        memcpy(x->slot_asum, x->asum, sizeof x->slot_asum);
    }
}

static void do_result(machine *x, const bq_instr *in) {
    const bq_hwcfg *c = x->cfg;
    char err[256] = "";
    const int dm = c->dm;
    if (in->op == BQ_OP_SETUP) {
        bq_codes_setup_regs s = {.out_base = in->out_base, .res_base = in->res_base,
                                 .cs_out = in->cs_out, .cs_res = in->cs_res, .z_r = in->z_r};
        if (bq_codes_setup(&x->cs, &s, err, sizeof err)) {
            print_error("result SETUP: %s\n", err);
            fail();
        }
        return;
    }
    bq_codes_rq rq[128];
    for (int mi = 0; mi < dm; mi++) rq[mi] = x->rqram[mi * x->rq_entries + in->rq_entry];
    if (in->op == BQ_OP_RUNC) {
        bq_codes_run_f r = {.n0 = in->n0, .ch0 = in->ch0, .npix = in->npix, .mrows = in->mrows,
                            .first = in->first, .flush = in->flush, .res = in->res, .z_o = in->z_o,
                            .lo = in->lo, .hi = in->hi, .rq_entry = in->rq_entry, .sig0 = in->sig0,
                            .sig1 = in->sig1};
        bq_codes_timing t;
        if (bq_codes_run(&x->cs, &r, x->slot, x->slot_asum, rq, x->mem, x->mem_len, NULL, &t, err,
                         sizeof err)) {
            print_error("RUNC: %s\n", err);
            fail();
        }
        return;
    }
    if (in->op == BQ_OP_RUN) {   /* RAW32: acc0 per element */
        assert_int_equal(in->mode, 1);
        for (int e = 0; e < dm * c->dn; e++) {
            const bq_codes_rq *r = &rq[e % dm];
            int32_t acc0 = (int32_t)((uint32_t)x->slot[e] - (uint32_t)r->z_w * (uint32_t)x->slot_asum[e / dm] +
                                     (uint32_t)r->bias_eff);
            assert_true(in->out_addr + 4u * (uint32_t)e + 4 <= x->mem_len);
            memcpy(x->mem + in->out_addr + 4 * e, &acc0, 4);
        }
    }
}

/* Token rules of docs/hw_isa.md §3 / whole_network.md §4.5, functionally: can the head dispatch? */
static int ready(const machine *x, int st, const bq_instr *in) {
    if (st == BQ_STAGE_FETCH)
        return (!in->wait0 || x->tok[BQ_TOK_FREED]) && (!in->wait1 || x->tok[BQ_TOK_WRITTEN]);
    if (st == BQ_STAGE_EXEC)
        return (!in->wait0 || x->tok[BQ_TOK_FILLED]) && (!in->wait1 || x->tok[BQ_TOK_RESFREE]);
    return !in->wait0 || x->tok[BQ_TOK_RESRDY];
}

static void dispatch(machine *x, int st, const bq_instr *in, const bq_program *pr, uint64_t key) {
    static const int waits[3][2] = {{BQ_TOK_FREED, BQ_TOK_WRITTEN}, {BQ_TOK_FILLED, BQ_TOK_RESFREE},
                                    {BQ_TOK_RESRDY, -1}};
    static const int sigs[3][2] = {{BQ_TOK_FILLED, -1}, {BQ_TOK_FREED, BQ_TOK_RESRDY},
                                   {BQ_TOK_RESFREE, BQ_TOK_WRITTEN}};
    if (in->wait0) x->tok[waits[st][0]]--;
    if (in->wait1 && waits[st][1] >= 0) x->tok[waits[st][1]]--;
    if (st == BQ_STAGE_FETCH) do_fetch(x, in, pr, key);
    else if (st == BQ_STAGE_EXEC) do_exec(x, in);
    else do_result(x, in);
    if (in->sig0) x->tok[sigs[st][0]]++;
    if (in->sig1 && sigs[st][1] >= 0) x->tok[sigs[st][1]]++;
}

/* Run the program to the end. policy 0: fetch runs ahead as far as its tokens allow (a missing
 * FREED wait overwrites a region still in use); policy 1: result, then execute first (a missing
 * FILLED / RESRDY wait reads stale data). */
static void run_program(machine *x, const bq_program *pr, int policy) {
    int pc[3] = {0, 0, 0};
    static const int order[2][3] = {{BQ_STAGE_FETCH, BQ_STAGE_EXEC, BQ_STAGE_RESULT},
                                    {BQ_STAGE_RESULT, BQ_STAGE_EXEC, BQ_STAGE_FETCH}};
    for (;;) {
        int moved = 0;
        for (int k = 0; k < 3 && !moved; k++) {
            int st = order[policy][k];
            if (pc[st] < pr->len[st] && ready(x, st, &pr->ins[st][pc[st]])) {
                dispatch(x, st, &pr->ins[st][pc[st]], pr, pr->tins[st][pc[st]].key);
                pc[st]++;
                moved = 1;
            }
        }
        if (!moved) break;
    }
    for (int st = 0; st < 3; st++) assert_int_equal(pc[st], pr->len[st]);
    for (int t = 0; t < BQ_NTOK; t++) assert_int_equal(x->tok[t], 0);
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
        machine x;
        memset(&x, 0, sizeof x);
        x.cfg = c;
        x.mem_len = (size_t)mp.end + 64;
        x.mem = malloc(x.mem_len);
        x.wbank = calloc((size_t)c->dm * c->weight_depth, (size_t)c->dk / 8);
        x.abank = calloc((size_t)c->dn * c->act_depth, (size_t)c->dk / 8);
        x.rq_entries = c->requant_depth / c->dm;
        x.rqram = calloc((size_t)c->requant_depth, sizeof *x.rqram);
        assert_true(x.mem && x.wbank && x.abank && x.rqram);
        for (size_t i = 0; i < x.mem_len; i++) x.mem[i] = (uint8_t)rnd();   /* unwritten = garbage */
        memcpy(x.mem + mp.input, input, (size_t)l0->hi * l0->wi * cs0);
        v2_ref_load(nt, plans, &mp, c, x.mem);
        bq_codes_cfg cc = {.dm = c->dm, .dn = c->dn, .lanes = c->res_lanes, .w_bits = c->mem_width_bits,
                           .lr = 1, .rr = 1, .lw = 1, .rw = 1, .block_channels = c->block_channels};
        assert_int_equal(bq_codes_init(&x.cs, &cc, err, sizeof err), 0);
        x.wc = (bq_win_cfg){.dn = c->dn, .dk = c->dk, .w_bits = c->mem_width_bits, .lr = 1, .rr = 1,
                            .window_bytes = c->window_bytes};
        run_program(&x, &pr, policy);
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
        bq_codes_free(&x.cs);
        free(x.mem);
        free(x.wbank);
        free(x.abank);
        free(x.rqram);
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
