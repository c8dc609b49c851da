/* test_sched.c — layer description, scheduler and latency model: hand-computed cycle counts,
 * program invariants, loop-order rule, errors, encoding, monotonicity, exact skipping. */
#include "testutil.h"
#include <string.h>
#include "hwcfg.h"
#include "hwlayer.h"
#include "costtab.h"
#include "isa.h"
#include "latency.h"
#include "hwsched.h"

/* tiny from the shared contract, inline so the hand computations below cannot drift */
static const char *kTiny =
    "name: t\nclock_mhz: 50\n"
    "array: {dm: 4, dn: 4, dk: 32, acc_bits: 32}\n"
    "buffers: {weight_depth: 512, act_depth: 512, regions: 2, requant_depth: 256}\n"
    "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8,\n"
    "         read_latency: 12, write_latency: 12}\n";

static void load(bq_hwcfg *c, const char *text) {
    char err[256] = "";
    if (bq_hwcfg_parse(c, text, strlen(text), "cfg", err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
}
/* kTiny with one substring replaced */
static void load_edit(bq_hwcfg *c, const char *from, const char *to) {
    char buf[1024];
    const char *p = strstr(kTiny, from);
    assert_non_null(p);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - kTiny), kTiny, to, p + strlen(from));
    load(c, buf);
}

static bq_hw_layer conv(int cin, int cout, int k, int h, int w, int g, int wb, int ab, int ob) {
    bq_hw_layer l;
    char err[256];
    assert_int_equal(bq_hw_layer_conv(&l, "L", cin, cout, k, k, h, w, g, err, sizeof err), 0);
    l.wbits = wb;
    l.abits = ab;
    l.obits = ob;
    return l;
}

static bq_latency run(const bq_hwcfg *c, const bq_hw_layer *l, int skip) {
    bq_sched_plan p;
    bq_program pr;
    bq_latency r;
    char err[256] = "";
    bq_program_init(&pr);
    if (bq_sched_plan_layer(&p, c, l, err, sizeof err) ||
        bq_sched_build(&pr, &p, c, NULL, err, sizeof err) ||
        bq_latency_program(&r, &pr, &p, c, skip, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    bq_program_free(&pr);
    return r;
}

/* ---- layer description ---- */
static void test_layer_ctor(void **st) {
    (void)st;
    bq_hw_layer l;
    char err[256];
    assert_int_equal(bq_hw_layer_conv(&l, "c", 16, 32, 3, 3, 14, 14, 1, err, sizeof err), 0);
    assert_int_equal(l.m, 32);
    assert_int_equal(l.k, 144);
    assert_int_equal(l.n, 196);
    assert_int_equal(l.groups, 1);
    /* depthwise: one GEMM per channel, M = multiplier, K = Kh*Kw */
    assert_int_equal(bq_hw_layer_conv(&l, "dw", 96, 96, 3, 3, 7, 7, 96, err, sizeof err), 0);
    assert_int_equal(l.groups, 96);
    assert_int_equal(l.m, 1);
    assert_int_equal(l.k, 9);
    assert_int_equal(l.n, 49);
    assert_int_equal(bq_hw_layer_conv(&l, "dw2", 8, 16, 3, 3, 7, 7, 8, err, sizeof err), 0);
    assert_int_equal(l.m, 2);
    assert_int_equal(bq_hw_layer_linear(&l, "fc", 64, 10, err, sizeof err), 0);
    assert_int_equal(l.m, 10);
    assert_int_equal(l.k, 64);
    assert_int_equal(l.n, 1);
    assert_int_equal(bq_hw_layer_conv(&l, "bad", 6, 16, 3, 3, 7, 7, 4, err, sizeof err), -1);
    assert_non_null(strstr(err, "divisible by groups"));
    assert_int_equal(bq_hw_layer_conv(&l, "bad", 6, 16, 0, 3, 7, 7, 1, err, sizeof err), -1);
    l = conv(16, 16, 3, 8, 8, 1, 9, 4, 4);
    assert_int_equal(bq_hw_layer_check(&l, err, sizeof err), -1);
    assert_non_null(strstr(err, "bit-widths"));
}

/* ---- hand-computed cycle counts (derivations in comments; docs/hw_isa.md section 4) ---- */

/* One tile: M=4, K=32, N=4 on tiny at W2A2, O2 (Lr = Lw = 12, one beat per cycle, C = 96).
 * fetch: RQ 64 B = 8 beats, dispatch 0, accepted 1, last beat 1+12+7 = 20.
 *        W 2 planes x 2 beats: planes end 21+12+1 = 34 and 35+13 = 48.
 *        A 2 planes x 2 beats: 62 and 76; FILLED pushed 76, visible 77.
 * exec:  one RUN of 2x2x1 = 4 beats: dispatch 77, beats 78..81 (no RESFREE needed for the
 *        first tile), FREED visible 82, RESRDY pushed 83 (visible 84).
 * fetch: drain SYNC of the FREED token: dispatch 82, done 83.
 * result: dispatch 84, compute 85..180, write of 2 beats requested 181, wdone 181+1+1+12 = 195.
 * CYCLES = 1 + max(83, 81+2, 195) = 196. */
static void test_single_tile(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTiny);
    bq_hw_layer l = conv(32, 4, 1, 2, 2, 1, 2, 2, 2);
    bq_sched_plan p;
    char err[256];
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    assert_int_equal(p.mt, 1);
    assert_int_equal(p.kc, 1);
    assert_int_equal(p.nt, 1);
    bq_latency r = run(&c, &l, 1);
    assert_int_equal(r.cycles, 196);
    assert_int_equal(r.e_beats, 4);
    assert_int_equal(r.rd_beats, 8 + 4 + 4);
    assert_int_equal(r.wr_beats, 2);
    assert_int_equal(r.bytes_out, 16);
    assert_int_equal(r.instrs[BQ_STAGE_EXEC], 1);
    assert_string_equal(r.bound, "output");
}

/* Two tiles (M=8, K=32, N=4) at W1A1O1: the second commit's last beat is held for RESFREE.
 * fetch: RQ 2 entries x 4 banks x 16 B = 16 beats, last beat 1+12+15 = 28; W stripe 0 (2 beats)
 *        ends 42; A (2 beats) ends 56 (FILLED @57); W stripe 1 ends 70 (FILLED @71).
 * exec:  tile 0: dispatch 57, beat 58, RESRDY @61. tile 1: dispatch 71 (W stripe 1), its only
 *        beat is the last one: held until RESFREE is visible (158), FREED @159, RESRDY @161.
 * result: tile 0 dispatch 61, compute 62..157 (RESFREE pushed 157), write 158, wdone 158+1+12 = 171;
 *        tile 1 dispatch 171, compute 172..267, write 268, wdone 281.
 * fetch: drain SYNC 159..160. CYCLES = 1 + max(160, 158+2, 281) = 282.
 * exec stall = 57 (before the first dispatch) + 12 (71 - 59) + 86 (hold 72..157) = 155. */
static void test_two_tiles_hold(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTiny);
    bq_hw_layer l = conv(32, 8, 1, 2, 2, 1, 1, 1, 1);
    bq_latency r = run(&c, &l, 1);
    assert_int_equal(r.order, BQ_ORDER_W_RESIDENT);
    assert_int_equal(r.cycles, 282);
    assert_int_equal(r.stall[BQ_STAGE_EXEC], 155);
    assert_int_equal(r.e_beats, 2);
    assert_int_equal(r.idle[BQ_STAGE_EXEC], 282 - 1 - 158);
}

/* K split: weight/activation regions of 4 rows, K = 96 (3 words) at W2A2 -> chunks of 2 and 1
 * words (a chunk of 2 words x 2 planes fills a region).
 * fetch: RQ ends 20; W chunk 0: 2 planes x 4 beats end 36, 52; A chunk 0: 68, 84 (FILLED @85);
 *        W chunk 1: 2 planes x 2 beats end 98, 112; A chunk 1: 126, 140 (FILLED @141).
 * exec:  chunk 0 (8 beats, one RUN): dispatch 85, ends 93, FREED visible 94;
 *        chunk 1 (4 beats, commits): dispatch 141, beats 142..145 (FREED visible 146, RESRDY
 *        visible 148).
 * fetch: two drain SYNCs: 140..141 and 146..147.
 * result: dispatch 148, compute 149..244, write requested 245, wdone 245+1+1+12 = 259.
 * CYCLES = 260. */
static void test_k_split(void **st) {
    (void)st;
    bq_hwcfg c;
    load_edit(&c, "weight_depth: 512, act_depth: 512", "weight_depth: 8, act_depth: 8");
    bq_hw_layer l = conv(96, 4, 1, 2, 2, 1, 2, 2, 2);
    bq_sched_plan p;
    char err[256];
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    assert_int_equal(p.order, BQ_ORDER_K_SPLIT);
    assert_int_equal(p.kcw, 2);
    assert_int_equal(p.kch, 2);
    bq_latency r = run(&c, &l, 1);
    assert_int_equal(r.cycles, 260);
    assert_int_equal(r.e_beats, 2 * 2 * 3);
    assert_int_equal(r.rd_beats, 8 + 8 + 8 + 4 + 4);   /* RQ, W0, A0, W1, A1 */
}

/* Padding: M=5, K=40, N=5 on tiny -> 2 x 2 words x 2 tiles; everything padded is moved and
 * executed, and the efficiency shows it. */
static void test_padding(void **st) {
    (void)st;
    bq_hwcfg c;
    load(&c, kTiny);
    for (int wb = 1; wb <= 8; wb += 3) {
        bq_hw_layer l = conv(40, 5, 1, 1, 5, 1, wb, 3, 4);
        bq_sched_plan p;
        char err[256];
        assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
        assert_int_equal(p.m_pad, 8);
        assert_int_equal(p.k_pad, 64);
        assert_int_equal(p.n_pad, 8);
        bq_latency r = run(&c, &l, 1);
        assert_int_equal(r.e_beats, wb * 3 * 2 * 2 * 2);            /* w*a*KC*MT*NT */
        assert_int_equal(r.bytes_w, wb * 8 * 2 * 4);                /* planes*M_pad*KC*Dk/8 */
        assert_int_equal(r.bytes_a, 3 * 8 * 2 * 4);                 /* once: w-resident */
        assert_int_equal(r.bytes_out, 4 * 4 * 8);                   /* tiles*obits*TPB */
        assert_int_equal(r.bytes_rq, 8 * 16);                       /* M_pad records */
        double useful = 2.0 * 5 * 40 * 5 * wb * 3, peak = 2.0 * 4 * 4 * 32;
        assert_true(fabs(r.exec_eff - useful / (r.e_beats * peak)) < 1e-12);
        assert_true(r.exec_eff < 0.25);
    }
}

/* Memory-bound versus compute-bound. */
static void test_bound(void **st) {
    (void)st;
    bq_hwcfg c, slow;
    load(&c, kTiny);
    load_edit(&slow, "read_bytes_per_cycle: 8", "read_bytes_per_cycle: 1");
    /* 3x3, 64 -> 64 channels on 8x8 pixels at 8/8: 8*8*18 beats per tile hide every fetch */
    bq_hw_layer big = conv(64, 64, 3, 8, 8, 1, 8, 8, 8);
    bq_latency r = run(&c, &big, 1);
    assert_string_equal(r.bound, "compute");
    assert_true(r.cycles >= r.e_beats);
    assert_true(r.e_beats == 8 * 8 * 18 * 16 * 16);
    assert_true(r.eff > 0.95 && r.eff <= 1.0);
    /* the same with K = 1152 needs K chunks (36 words x 8 planes > 256 rows): both operands are
     * re-read for every tile (W NT times, A MT times), yet two balanced chunks of 18 words keep
     * 8*8*18 beats per chunk in front of every fetch: still compute-bound */
    big = conv(128, 64, 3, 4, 4, 1, 8, 8, 8);
    r = run(&c, &big, 1);
    assert_int_equal(r.order, BQ_ORDER_K_SPLIT);
    assert_int_equal(r.bytes_w, 4 * (8 * 64 * 36 * 4));
    assert_int_equal(r.bytes_a, 16 * (8 * 16 * 36 * 4));
    assert_string_equal(r.bound, "compute");
    /* depthwise 3x3 at 8/8 on a port with one byte per cycle: many small bursts */
    bq_hw_layer dw = conv(32, 32, 3, 7, 7, 32, 8, 8, 8);
    r = run(&slow, &dw, 1);
    assert_string_equal(r.bound, "memory");
    assert_true(r.port_busy > r.e_beats);
    /* the same layer runs faster on the faster port */
    bq_latency r2 = run(&c, &dw, 1);
    assert_true(r2.cycles < r.cycles);
}

/* Program invariants: token balance, one commit and one clear per tile, asum coverage, beats. */
static void check_program(const bq_hwcfg *c, const bq_hw_layer *l) {
    bq_sched_plan p;
    bq_program pr;
    char err[256] = "";
    bq_program_init(&pr);
    assert_int_equal(bq_sched_plan_layer(&p, c, l, err, sizeof err), 0);
    assert_int_equal(bq_sched_build(&pr, &p, c, NULL, err, sizeof err), 0);
    long sig[BQ_NTOK] = {0}, wait[BQ_NTOK] = {0}, commits = 0, clears = 0, asum_beats = 0, beats = 0;
    for (int s = 0; s < BQ_NSTAGES; s++)
        for (int i = 0; i < pr.len[s]; i++) {
            const bq_instr *in = &pr.ins[s][i];
            uint32_t w[4];
            bq_instr d;
            assert_int_equal(bq_isa_encode(in, w), 0);
            assert_int_equal(bq_isa_decode(s, w, &d), 0);
            assert_int_equal(d.op, in->op);
            assert_int_equal(d.wait0 + 2 * d.wait1 + 4 * d.sig0 + 8 * d.sig1,
                             in->wait0 + 2 * in->wait1 + 4 * in->sig0 + 8 * in->sig1);
            if (s == BQ_STAGE_FETCH) {
                sig[BQ_TOK_FILLED] += in->sig0;
                wait[BQ_TOK_FREED] += in->wait0;
                if (in->op == BQ_OP_RUN) {
                    assert_int_equal(d.dram_addr, in->dram_addr);
                    assert_int_equal(d.t, in->t);
                    assert_int_equal(d.buf_base, in->buf_base);
                    assert_int_equal(d.nplanes, in->nplanes);
                    int depth = in->target == BQ_TGT_W ? c->weight_depth : c->act_depth;
                    if (in->target != BQ_TGT_RQ)
                        assert_true(in->buf_base + in->nplanes * in->t <= depth);
                }
            } else if (s == BQ_STAGE_EXEC) {
                wait[BQ_TOK_FILLED] += in->wait0;
                wait[BQ_TOK_RESFREE] += in->wait1;
                sig[BQ_TOK_FREED] += in->sig0;
                sig[BQ_TOK_RESRDY] += in->sig1;
                commits += in->commit;
                clears += in->clear;
                beats += (long)in->wn * in->an * in->nk;
                if (in->asum) asum_beats += (long)in->an * in->nk;
                assert_int_equal(d.wbase, in->wbase);
                assert_int_equal(d.nk, in->nk);
                assert_int_equal(d.w0 * 16 + d.wn, in->w0 * 16 + in->wn);
                assert_int_equal(d.a0 * 16 + d.an, in->a0 * 16 + in->an);
                assert_true(in->w0 + in->wn <= l->wbits && in->a0 + in->an <= l->abits);
            } else {
                wait[BQ_TOK_RESRDY] += in->wait0;
                sig[BQ_TOK_RESFREE] += in->sig0;
                assert_int_equal(d.out_addr, in->out_addr);
                assert_int_equal(d.rq_entry, in->rq_entry);
                assert_int_equal(d.obits, in->obits);
            }
        }
    long tiles = (long)l->groups * p.mt * p.nt;
    for (int t = 0; t < BQ_NTOK; t++) assert_int_equal(sig[t], wait[t]);
    assert_int_equal(commits, tiles);
    assert_int_equal(clears, tiles);
    assert_int_equal(pr.len[BQ_STAGE_RESULT], tiles);
    assert_int_equal(beats, tiles * l->wbits * l->abits * p.kc);
    assert_int_equal(asum_beats, tiles * l->abits * p.kc);   /* every (plane, word) once */
    bq_program_free(&pr);
}

static void test_program_invariants(void **st) {
    (void)st;
    bq_hwcfg c, small;
    load(&c, kTiny);
    load_edit(&small, "weight_depth: 512, act_depth: 512, regions: 2, requant_depth: 256",
              "weight_depth: 16, act_depth: 16, regions: 2, requant_depth: 16");
    const int shapes[][5] = {{16, 16, 3, 28, 1}, {64, 64, 3, 7, 1}, {32, 32, 3, 7, 32},
                             {40, 5, 1, 5, 1},   {96, 4, 1, 2, 1},  {256, 256, 3, 7, 256}};
    const int bits[][3] = {{1, 1, 1}, {2, 3, 4}, {8, 8, 8}, {1, 8, 2}, {8, 1, 5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
            bq_hw_layer l = conv(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                                 shapes[s][3], shapes[s][4], bits[b][0], bits[b][1], bits[b][2]);
            check_program(&c, &l);
            bq_sched_plan p;
            char err[256];
            if (bq_sched_plan_layer(&p, &small, &l, err, sizeof err) == 0) check_program(&small, &l);
        }
}

/* Cycles of layer l with the plan's order forced to `order` (-1 if that order is not feasible). */
static int64_t forced(const bq_hwcfg *c, const bq_hw_layer *l, int order) {
    bq_sched_plan p;
    bq_program pr;
    bq_latency r;
    char err[256];
    assert_int_equal(bq_sched_plan_layer(&p, c, l, err, sizeof err), 0);
    if ((order == BQ_ORDER_K_SPLIT) != (p.order == BQ_ORDER_K_SPLIT)) return -1;
    if (order == BQ_ORDER_W_RESIDENT && !p.w_fits) return -1;
    p.order = order;
    bq_program_init(&pr);
    assert_int_equal(bq_latency_plan(&r, &p, c, &pr, err, sizeof err), 0);
    bq_program_free(&pr);
    return r.cycles;
}

/* The loop-order rule of docs/latency_model.md: the feasible order with the fewest cycles,
 * w-resident < m-outer < n-outer on ties; w-resident only when a group's weights fit a region;
 * k-split exactly when K must be chunked. */
static void test_loop_order(void **st) {
    (void)st;
    bq_hwcfg c, e;
    char err[256];
    load(&c, kTiny);
    assert_int_equal(bq_hwcfg_load(&e, "configs/hw/edge.yaml", err, sizeof err), 0);
    const int shapes[][6] = {
        {16, 16, 3, 28, 1, 8},   /* all weights fit (4 stripes x 8 planes x 5 words = 160) */
        {32, 32, 3, 14, 1, 3},   /* W3: 8*3*9 = 216 rows fit, W4: 288 do not */
        {32, 32, 3, 14, 1, 4},
        {64, 256, 3, 2, 1, 8},   /* one column tile, 64 row tiles */
        {256, 64, 3, 7, 1, 8},   /* K = 72 words x 8 planes > 256 rows: K chunks */
        {96, 96, 3, 7, 96, 4},   /* depthwise */
        {128, 10, 1, 1, 1, 8},
    };
    int orders_seen[4] = {0, 0, 0, 0};
    for (int ci = 0; ci < 2; ci++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const bq_hwcfg *cfg = ci ? &e : &c;
            bq_hw_layer l = conv(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                                 shapes[s][3], shapes[s][4], shapes[s][5], 4, 4);
            bq_sched_plan p;
            assert_int_equal(bq_sched_plan_layer(&p, cfg, &l, err, sizeof err), 0);
            int64_t cyc[4];
            for (int o = 0; o < 4; o++) cyc[o] = forced(cfg, &l, o);
            assert_true(cyc[p.order] > 0);
            orders_seen[p.order]++;
            for (int o = 0; o < 4; o++) {
                if (cyc[o] < 0) continue;
                assert_true(cyc[p.order] <= cyc[o]);
                if (o < p.order) assert_true(cyc[o] > cyc[p.order]);   /* tie preference */
            }
            bq_latency r;
            bq_program scratch;
            bq_program_init(&scratch);
            assert_int_equal(bq_latency_layer(&r, cfg, &l, &scratch, err, sizeof err), 0);
            bq_program_free(&scratch);
            assert_int_equal(r.cycles, cyc[p.order]);
            assert_int_equal(r.order, p.order);
        }
    /* feasibility by hand: W3 fits, W4 does not; K = 2304 at 8 bits needs 3 chunks of 24 words */
    bq_sched_plan p;
    bq_hw_layer l = conv(32, 32, 3, 14, 14, 1, 3, 4, 4);
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    assert_true(p.w_fits);
    l.wbits = 4;
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    assert_true(!p.w_fits && p.order != BQ_ORDER_W_RESIDENT);
    l = conv(256, 64, 3, 7, 7, 1, 8, 8, 8);
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    assert_int_equal(p.order, BQ_ORDER_K_SPLIT);
    assert_int_equal(p.kch, 3);
    assert_int_equal(p.kcw, 24);   /* balanced: 72 = 3 x 24 (a region holds 32) */
    assert_true(orders_seen[BQ_ORDER_W_RESIDENT] > 0 && orders_seen[BQ_ORDER_K_SPLIT] > 0 &&
                orders_seen[BQ_ORDER_M_OUTER] + orders_seen[BQ_ORDER_N_OUTER] > 0);
}

static void test_errors(void **st) {
    (void)st;
    bq_hwcfg c, small;
    load(&c, kTiny);
    bq_sched_plan p;
    char err[256];
    /* accumulator: K = 2^20 at W8A8 reaches 2^20 * 255 * 255 > 2^31 */
    bq_hw_layer l = conv(1 << 20, 4, 1, 1, 1, 1, 8, 8, 8);
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "accumulator could overflow"));
    l.wbits = l.abits = 2;   /* 2^20 * 3 * 3 fits */
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    assert_true(bq_sched_acc_worst(576, 8, 8, 0, 0) == 576LL * 255 * 255);
    assert_true(bq_sched_acc_worst(10, 4, 4, 1, 0) == 10LL * 15 * 15);   /* |q_w - z_w| <= 15 */
    /* a region smaller than one K word at 8 bits */
    load_edit(&small, "weight_depth: 512", "weight_depth: 8");
    l = conv(16, 16, 3, 8, 8, 1, 8, 4, 4);
    assert_int_equal(bq_sched_plan_layer(&p, &small, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "weight region holds 4 words per bank"));
    load_edit(&small, "act_depth: 512", "act_depth: 4");
    assert_int_equal(bq_sched_plan_layer(&p, &small, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "activation region holds 2 words"));
    /* requant RAM of 8 channels (the smallest legal: 2 per bank) cannot hold 16 output channels */
    load_edit(&small, "requant_depth: 256", "requant_depth: 8");
    l = conv(16, 16, 1, 4, 4, 1, 4, 4, 4);
    assert_int_equal(bq_sched_plan_layer(&p, &small, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "requant RAM holds 8 channels"));
    /* misaligned operand address */
    bq_program pr;
    bq_program_init(&pr);
    l = conv(16, 8, 1, 4, 4, 1, 4, 4, 4);
    assert_int_equal(bq_sched_plan_layer(&p, &c, &l, err, sizeof err), 0);
    bq_sched_addr ad = {0x1000, 0x2004, 0, 0x4000, 0};
    assert_int_equal(bq_sched_build(&pr, &p, &c, &ad, err, sizeof err), -1);
    assert_non_null(strstr(err, "8-byte aligned"));
    bq_program_free(&pr);
}

/* Fewer bits never cost more cycles: all 64 (w, a) pairs, several shapes, tiny and edge. */
static void test_monotonic(void **st) {
    (void)st;
    bq_hwcfg cfgs[2];
    char err[256];
    load(&cfgs[0], kTiny);
    assert_int_equal(bq_hwcfg_load(&cfgs[1], "configs/hw/edge.yaml", err, sizeof err), 0);
    const int shapes[][6] = {{1, 16, 3, 28, 1, 0},  {16, 16, 3, 28, 1, 0}, {16, 32, 1, 14, 1, 0},
                             {32, 32, 3, 14, 1, 0}, {64, 64, 3, 7, 1, 0},  {96, 96, 3, 7, 96, 0},
                             {16, 64, 1, 28, 1, 0}, {64, 10, 1, 1, 1, 1}};
    bq_program pr;
    bq_program_init(&pr);
    int checked = 0;
    for (int ci = 0; ci < 2; ci++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int ob = 2; ob <= 8; ob += 6) {
                int64_t cyc[9][9];
                for (int w = 1; w <= 8; w++)
                    for (int a = 1; a <= 8; a++) {
                        bq_hw_layer l = conv(shapes[s][0], shapes[s][1], shapes[s][2],
                                             shapes[s][3], shapes[s][3], shapes[s][4], w, a, ob);
                        l.raw32 = shapes[s][5];
                        bq_latency r;
                        if (bq_latency_layer(&r, &cfgs[ci], &l, &pr, err, sizeof err) != 0) {
                            print_error("%s\n", err);
                            fail();
                        }
                        cyc[w][a] = r.cycles;
                    }
                for (int w = 1; w <= 8; w++)
                    for (int a = 1; a <= 8; a++) {
                        if ((w < 8 && cyc[w][a] > cyc[w + 1][a]) ||
                            (a < 8 && cyc[w][a] > cyc[w][a + 1])) {
                            print_error("cfg %d shape %zu o%d: W%dA%d = %lld is slower than a "
                                        "wider neighbour\n", ci, s, ob, w, a, (long long)cyc[w][a]);
                            fail();
                        }
                        checked++;
                    }
                assert_true(cyc[1][1] <= cyc[8][8]);
            }
    assert_int_equal(checked, 2 * 8 * 2 * 64);
    bq_program_free(&pr);
}

/* Skipping identical steady-state iterations is exact: every counter equal. */
/* Every counter of two dry runs of the same layer. */
static void expect_same_latency(const bq_latency *a, const bq_latency *z) {
    assert_int_equal(a->cycles, z->cycles);
    for (int x = 0; x < BQ_NSTAGES; x++) {
        assert_int_equal(a->busy[x], z->busy[x]);
        assert_int_equal(a->stall[x], z->stall[x]);
        assert_int_equal(a->idle[x], z->idle[x]);
        assert_int_equal(a->instrs[x], z->instrs[x]);
    }
    assert_int_equal(a->e_beats, z->e_beats);
    assert_int_equal(a->rd_beats, z->rd_beats);
    assert_int_equal(a->wr_beats, z->wr_beats);
    assert_int_equal(a->port_busy, z->port_busy);
    assert_int_equal(a->bytes_w, z->bytes_w);
    assert_int_equal(a->bytes_a, z->bytes_a);
    assert_int_equal(a->bytes_rq, z->bytes_rq);
    assert_int_equal(a->bytes_res, z->bytes_res);
    assert_int_equal(a->bytes_out, z->bytes_out);
}

/* Jumps over states that repeat every p > 1 iterations (latency.c, SNAP_RING): near the balance
 * of fetch and execute time the port's reads and writes interleave with a period of several
 * tiles. mbv2t-like layers, all 64 (wbits, abits) pairs, two output widths, tiny and edge: the
 * lazy path equals the plain simulation of the whole program in every counter and, on the
 * shipped tiny, simulates under 2 % of its events. */
static void test_skip_periodic(void **st) {
    (void)st;
    bq_hwcfg cfgs[3];
    char err[256];
    assert_int_equal(bq_hwcfg_load(&cfgs[0], "configs/hw/tiny.yaml", err, sizeof err), 0);
    assert_int_equal(bq_hwcfg_load(&cfgs[1], "configs/hw/edge.yaml", err, sizeof err), 0);
    load(&cfgs[2], kTiny);
    const int shapes[][5] = {   /* cin cout k hw groups */
        {16, 16, 3, 28, 16}, {96, 96, 3, 14, 96}, {256, 256, 3, 7, 256}, {16, 64, 1, 28, 1},
        {16, 16, 3, 28, 1}};
    bq_program scratch;
    bq_program_init(&scratch);
    for (int ci = 0; ci < 3; ci++)
        for (int sh = 0; sh < 5; sh++) {
            const int *p = shapes[sh];
            int64_t lazy_events = 0, full_events = 0;
            for (int ob = 4; ob <= 8; ob += 4)
                for (int wb = 1; wb <= 8; wb++)
                    for (int ab = 1; ab <= 8; ab++) {
                        bq_hw_layer l = conv(p[0], p[1], p[2], p[3], p[3], p[4], wb, ab, ob);
                        bq_latency a = run(&cfgs[ci], &l, 0), z;
                        assert_int_equal(bq_latency_layer(&z, &cfgs[ci], &l, &scratch, err, sizeof err), 0);
                        expect_same_latency(&a, &z);
                        lazy_events += z.sim_events;
                        full_events += a.sim_events;
                    }
            /* shipped tiny, depthwise 16 @ 28x28 and pointwise 16 -> 64 @ 28x28: 7.6 M / 10.9 M
             * events in full; lazy with period-1 jumps only 428,601 / 355,587, now 28,979 /
             * 74,045 */
            if (ci == 0 && (sh == 0 || sh == 3)) assert_true(lazy_events * 50 < full_events);
        }
    bq_program_free(&scratch);
}

static void test_skip_exact(void **st) {
    (void)st;
    bq_hwcfg cfgs[3];
    char err[256];
    load(&cfgs[0], kTiny);
    assert_int_equal(bq_hwcfg_load(&cfgs[1], "configs/hw/edge.yaml", err, sizeof err), 0);
    load_edit(&cfgs[2], "weight_depth: 512, act_depth: 512, regions: 2, requant_depth: 256",
              "weight_depth: 16, act_depth: 32, regions: 2, requant_depth: 16");
    uint64_t s = 12345;
    int skipped_some = 0, lazy_some = 0;
    for (int it = 0; it < 150; it++) {
        int ci = it % 3;
        int g = (tu_randf(&s) > 0.6f) ? (tu_randf(&s) > 0 ? 8 : 40) : 1;
        int cin = g * (1 + (int)((tu_randf(&s) + 1) * 12));
        int cout = g * (1 + (int)((tu_randf(&s) + 1) * 20));
        int k = tu_randf(&s) > 0 ? 3 : 1;
        int hw = 1 + (int)((tu_randf(&s) + 1) * 10);
        int wb = 1 + (int)((tu_randf(&s) + 1) * 3.99f), ab = 1 + (int)((tu_randf(&s) + 1) * 3.99f);
        bq_hw_layer l = conv(cin, cout, k, hw, hw, g, wb, ab, 1 + it % 8);
        l.has_residual = it % 4 == 0;
        l.rbits = 1 + it % 8;
        bq_sched_plan p;
        if (bq_sched_plan_layer(&p, &cfgs[ci], &l, err, sizeof err) != 0) continue;
        bq_latency a = run(&cfgs[ci], &l, 0), b = run(&cfgs[ci], &l, 1), z;
        if (b.sim_events < a.sim_events) skipped_some++;
        /* the latency model's own path: lazy emission, jumping over steady iterations */
        bq_program scratch;
        bq_program_init(&scratch);
        assert_int_equal(bq_latency_layer(&z, &cfgs[ci], &l, &scratch, err, sizeof err), 0);
        bq_program_free(&scratch);
        if (z.sim_events < a.sim_events) lazy_some++;
        expect_same_latency(&a, &z);
        assert_int_equal(a.cycles, b.cycles);
        for (int x = 0; x < BQ_NSTAGES; x++) {
            assert_int_equal(a.busy[x], b.busy[x]);
            assert_int_equal(a.stall[x], b.stall[x]);
            assert_int_equal(a.idle[x], b.idle[x]);
        }
        assert_int_equal(a.e_beats, b.e_beats);
        assert_int_equal(a.rd_beats, b.rd_beats);
        assert_int_equal(a.wr_beats, b.wr_beats);
        assert_int_equal(a.port_busy, b.port_busy);
        assert_int_equal(a.bytes_a + a.bytes_w + a.bytes_res, b.bytes_a + b.bytes_w + b.bytes_res);
    }
    assert_true(skipped_some > 10);
    assert_true(lazy_some > 10);
}

/* Cost table: W8A8 is exact, every other allocation is T + O + R of the table, corrections never
 * make fewer bits cost more, and the scorer agrees with the per-layer lookups. */
static void test_costtab(void **st) {
    (void)st;
    bq_hwcfg c;
    char err[256];
    load(&c, kTiny);
    bq_hw_net net;
    assert_int_equal(bq_hw_net_init(&net, 2), 0);
    bq_hw_layer a = conv(1, 16, 3, 14, 14, 1, 8, 8, 8), b = conv(16, 16, 3, 14, 14, 1, 8, 8, 8);
    bq_hw_layer d = conv(16, 16, 3, 14, 14, 16, 8, 8, 8), f;
    assert_int_equal(bq_hw_layer_linear(&f, "fc", 16, 10, err, sizeof err), 0);
    f.raw32 = 1;
    assert_int_equal(bq_hw_net_add(&net, &a, -1, 0, -1), 0);
    assert_int_equal(bq_hw_net_add(&net, &b, 0, 1, 0), 1);   /* residual: block input q0 */
    assert_int_equal(bq_hw_net_add(&net, &d, 1, 2, -1), 2);
    assert_int_equal(bq_hw_net_add(&net, &f, 2, -1, -1), 3);
    assert_int_equal(net.nq, 3);
    bq_costtab t;
    assert_int_equal(bq_costtab_build(&t, &c, &net, err, sizeof err), 0);
    uint8_t wb[4] = {8, 8, 8, 8}, qb[3] = {8, 8, 8};
    bq_hw_net_apply(&net, wb, qb);
    int64_t exact = bq_hw_net_latency(&net, &c, NULL, err, sizeof err);
    assert_true(exact > 0);
    assert_int_equal(bq_costtab_score(&t, wb, qb), exact);
    for (int l = 0; l < 4; l++)
        for (int o = 1; o <= 8; o++) {
            assert_true(t.o[l * 8 + o - 1] <= 0);
            assert_true(t.r[l * 8 + o - 1] <= 0);
            if (o > 1) assert_true(t.o[l * 8 + o - 2] <= t.o[l * 8 + o - 1]);
        }
    assert_int_equal(t.o[3 * 8 + 0], 0);   /* RAW32: no output-bits term */
    assert_int_equal(t.r[0 * 8 + 0], 0);   /* no residual */
    uint64_t s = 7;
    for (int it = 0; it < 50; it++) {
        for (int l = 0; l < 4; l++) wb[l] = (uint8_t)(1 + (int)((tu_randf(&s) + 1) * 3.99f));
        for (int q = 0; q < 3; q++) qb[q] = (uint8_t)(1 + (int)((tu_randf(&s) + 1) * 3.99f));
        int64_t want = bq_costtab_layer(&t, 0, wb[0], 8, qb[0], 8) +
                       bq_costtab_layer(&t, 1, wb[1], qb[0], qb[1], qb[0]) +
                       bq_costtab_layer(&t, 2, wb[2], qb[1], qb[2], 8) +
                       bq_costtab_layer(&t, 3, wb[3], qb[2], 8, 8);
        assert_int_equal(bq_costtab_score(&t, wb, qb), want);
        /* the fold stays close to the exact dry run (it is an approximation: see docs) */
        bq_hw_net_apply(&net, wb, qb);
        int64_t ex = bq_hw_net_latency(&net, &c, NULL, err, sizeof err);
        assert_true(llabs(want - ex) * 10 < ex);
    }
    bq_costtab_free(&t);
    bq_hw_net_free(&net);
}

/* Layers with equal timing inputs share their rows (only the first is dry-run): every entry of
 * every layer equals its own dry run, whatever the name and output-stage scalars, and a layer that
 * differs only in has_residual or signedness gets rows of its own. */
static void test_costtab_shared_rows(void **st) {
    (void)st;
    bq_hwcfg c;
    char err[256];
    load(&c, kTiny);
    bq_hw_net net;
    assert_int_equal(bq_hw_net_init(&net, 2), 0);
    bq_hw_layer l[5];
    for (int i = 0; i < 5; i++) l[i] = conv(16, 16, 3, 7, 7, 1, 8, 8, 8);
    l[1].z_o = 3; l[1].lo = 2; l[1].hi = 100;          /* timing-neutral differences */
    snprintf(l[1].name, sizeof l[1].name, "twin");
    l[3].w_signed = 1;                                  /* a different kind */
    const int res_q[5] = {-1, -1, 0, -1, 0};            /* l[2], l[4]: residual kind */
    for (int i = 0; i < 5; i++)
        assert_int_equal(bq_hw_net_add(&net, &l[i], i, i + 1, res_q[i]), i);
    bq_costtab t;
    assert_int_equal(bq_costtab_build(&t, &c, &net, err, sizeof err), 0);
    bq_program pr;
    bq_program_init(&pr);
    for (int i = 0; i < 5; i++) {
        bq_hw_layer x = net.layers[i];
        x.hi = -1;
        for (int w = 1; w <= 8; w++)
            for (int a = 1; a <= 8; a++) {
                x.wbits = w; x.abits = a; x.obits = 8; x.rbits = 8;
                bq_latency r;
                assert_int_equal(bq_latency_layer(&r, &c, &x, &pr, err, sizeof err), 0);
                assert_int_equal(t.t[i * 64 + (w - 1) * 8 + a - 1], r.cycles);
            }
        for (int o = 1; o <= 8; o++) {
            x.wbits = 8; x.abits = 8; x.obits = o; x.rbits = 8;
            bq_latency r;
            assert_int_equal(bq_latency_layer(&r, &c, &x, &pr, err, sizeof err), 0);
            assert_int_equal(t.o[i * 8 + o - 1], r.cycles - t.t[i * 64 + 63]);
            if (!x.has_residual) continue;
            x.obits = 8; x.rbits = o;
            assert_int_equal(bq_latency_layer(&r, &c, &x, &pr, err, sizeof err), 0);
            assert_int_equal(t.r[i * 8 + o - 1], r.cycles - t.t[i * 64 + 63]);
        }
    }
    /* the residual kind pays for its shortcut read */
    assert_true(t.t[2 * 64 + 63] != t.t[0 * 64 + 63] || t.r[2 * 8 + 0] != 0);
    bq_program_free(&pr);
    bq_costtab_free(&t);
    bq_hw_net_free(&net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_ctor),   cmocka_unit_test(test_single_tile),
        cmocka_unit_test(test_two_tiles_hold),
        cmocka_unit_test(test_k_split),      cmocka_unit_test(test_padding),
        cmocka_unit_test(test_bound),        cmocka_unit_test(test_program_invariants),
        cmocka_unit_test(test_loop_order),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_monotonic),    cmocka_unit_test(test_skip_exact),
        cmocka_unit_test(test_skip_periodic),
        cmocka_unit_test(test_costtab),     cmocka_unit_test(test_costtab_shared_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
