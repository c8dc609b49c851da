// test_axi_top -- the AXI shell (bqa_axi_top) runs the layers of test_top.cpp as a host would: over
// AXI4-Lite it sets BASE, pushes every instruction (QSTATUS-paced, as sim/bq_acc_mmio.c does),
// sets CTRL.run, polls STATUS and reads the counters; memory is the AXI slave model of
// bqa_axi_mem.h at a base address with a page offset (so bursts split at 4 KiB boundaries).
//   fixed latency:  every output bit exact; CYCLES, E_BEATS and every stage's busy and stall
//                   counts exact against docs/hw_isa.md §4 (bqa_timing_ref.h, checked against the
//                   latency model by xref_timing) with the shell's term: read latency + the
//                   config's BQ_HW_AXI_READ_CYCLES;
//   random latency: seeded READY/VALID drops on every slave channel and per-burst jitter: every
//                   output bit exact; CYCLES between the fixed-latency prediction and the
//                   prediction with the worst-case latencies (docs/hw_rtl.md "AXI shell", bound).
// Usage: test_axi_top [+full]   (+full: the 256 + 8 layers of test_top +full, and more seeds)
#include <memory>
#include <string>
#include "Vbqa_axi_top.h"
#include "bqa_axi_mem.h"
#include "bqa_axi_shell.h"
#include "bqa_prog.h"
#include "bqa_timing_ref.h"
#include "hw_params.h"

#ifndef BQ_HW_AXI_READ_CYCLES
#error "hw_params.h lacks BQ_HW_AXI_READ_CYCLES: rebuild build/gen with the current hwgen"
#endif
// the build may override the config's burst length and address width (-G); the test is told with -D
#ifndef TB_MAX_BURST
#define TB_MAX_BURST BQ_HW_AXI_MAX_BURST
#endif
#ifndef TB_ADDR_BITS
#define TB_ADDR_BITS BQ_HW_AXI_ADDR_BITS
#endif

struct AxiRun { uint32_t CYCLES, e_beats, f[3], e[3], r[3], err; bool ok; };

// Pushes the program over AXI-Lite (paced by QSTATUS), runs it, reads the counters.
static AxiRun run_program(Shell &s, const Program &pr, uint64_t base, long max_cycles) {
    AxiRun st{};
    s.write(R_CTRL, 2); s.write(R_CTRL, 0);                 // reset the accelerator and the FIFOs
    s.write(R_BASE_LO, (uint32_t)base); s.write(R_BASE_HI, (uint32_t)(base >> 32));
    const std::vector<Instr> *q[3] = {&pr.f, &pr.e, &pr.r};
    size_t sent[3] = {0, 0, 0};
    bool started = false;
    long t0 = s.cyc;
    for (;;) {
        uint32_t qs = s.read(R_QSTATUS);
        bool left = false;
        for (int k = 0; k < 3; k++) {
            uint32_t space = (qs >> (8 * k)) & 0xffu;
            for (; space > 0 && sent[k] < q[k]->size(); space--, sent[k]++)
                for (int w = 0; w < 4; w++) s.write(R_QUEUE + 16 * k + 4 * w, (*q[k])[sent[k]].w[w]);
            left |= sent[k] < q[k]->size();
        }
        if (!started) { s.write(R_CTRL, 1); started = true; }
        if (!left && (s.read(R_STATUS) & 1u) && s.m->irq_o) break;
        if (s.cyc - t0 > max_cycles) return st;
    }
    st.CYCLES = s.read(R_CYCLES); st.e_beats = s.read(R_EBEATS);
    for (int k = 0; k < 3; k++) {
        st.f[k] = s.read(0x44 + 4 * k); st.e[k] = s.read(0x50 + 4 * k); st.r[k] = s.read(0x5C + 4 * k);
    }
    st.err = s.read(R_ERR);
    s.write(R_CTRL, 0);
    st.ok = true;
    return st;
}

// ---- the layers of test_top.cpp (same generator, same RNG sequence) ----
static Layer make_layer(TbRng &rng, int M, int K, int N, int wbits, int abits, bool ws, bool as,
                        bool raw, int obits, bool res, int extreme) {
    Layer L{};
    L.M = M; L.K = K; L.N = N; L.wbits = wbits; L.abits = abits; L.ws = ws; L.as = as;
    L.raw = raw; L.obits = obits; L.res = res; L.rbits = rng.range(1, 8);
    L.z_r = (uint8_t)rng.range(0, (1 << L.rbits) - 1);
    L.z_o = (uint8_t)rng.range(0, (1 << obits) - 1);
    L.lo = (uint8_t)(rng.range(0, 1) ? 0 : L.z_o);
    L.hi = (uint8_t)((1 << obits) - 1);
    L.Wc.resize((size_t)M * K); L.Ac.resize((size_t)K * N); L.Rc.resize((size_t)M * N); L.rec.resize(M);
    for (auto &w : L.Wc) w = extreme ? (ws ? 1u << (wbits - 1) : (1u << wbits) - 1) : rng.u32() & ((1u << wbits) - 1);
    for (auto &a : L.Ac) a = extreme ? (as ? (1u << (abits - 1)) - 1 : (1u << abits) - 1) : rng.u32() & ((1u << abits) - 1);
    for (auto &r : L.Rc) r = rng.u32() & ((1u << L.rbits) - 1);
    for (int m = 0; m < M; m++) {
        GRec &g = L.rec[m];
        g.z_w = ws ? 0 : (uint8_t)rng.range(0, (1 << wbits) - 1);
        g.bias = rng.range(-100000, 100000);
        double accmag = (double)K * (1 << (wbits + abits)) / 4 + 1;
        g.sh = (uint8_t)rng.range(20, 40);
        double m_acc = (double)(1 << obits) / accmag * (double)(1ull << g.sh) * (0.5 + (rng.u32() % 1000) / 1000.0);
        if (m_acc > 2147483647.0) m_acc = 2147483647.0;
        g.m_acc = (uint32_t)m_acc;
        g.m_res = res ? (uint32_t)((1ull << g.sh) >> rng.range(0, 3)) : 0;
        if (g.m_res > 0x7fffffffu) g.m_res = 0x7fffffff;
    }
    return L;
}

// Every padded output element of the layer against the golden model; returns the mismatches.
static long check_layer(const HwCfg &c, const Layer &L, const Placement &p, const std::vector<uint8_t> &mem,
                        TbReport &rep, const char *tag) {
    long bad = 0;
    for (int mt = 0; mt < p.MT; mt++) for (int nt = 0; nt < p.NT; nt++)
    for (int mi = 0; mi < c.Dm; mi++) for (int ni = 0; ni < c.Dn; ni++) {
        int m = mt * c.Dm + mi, n = nt * c.Dn + ni;
        int64_t acc = 0, asum = 0;
        for (int k = 0; k < L.K; k++) {
            int64_t a = (n < L.N) ? g_code_value(L.Ac[(size_t)k * L.N + n], L.abits, L.as) : 0;
            int64_t w = (m < L.M) ? g_code_value(L.Wc[(size_t)m * L.K + k], L.wbits, L.ws) : 0;
            acc += w * a; asum += a;
        }
        GRec g = m < L.M ? L.rec[m] : GRec{0, 0, 0, 0, 0};
        uint8_t qr = (m < L.M && n < L.N && L.res) ? (uint8_t)L.Rc[(size_t)m * L.N + n] : 0;
        int32_t acc0;
        int64_t q = g_requant((int32_t)acc, (int32_t)asum, g, L.res, qr, L.z_r, L.z_o, L.lo, L.hi, &acc0);
        uint64_t tile = p.out + (uint64_t)(nt * p.MT + mt) * p.tile_bytes;
        int e = ni * c.Dm + mi;
        int64_t got = 0, want;
        if (L.raw) {
            int32_t v; memcpy(&v, &mem[tile + 4 * e], 4); got = v; want = acc0;
        } else {
            for (int b = 0; b < L.obits; b++) got |= (int64_t)get_bit(mem, tile + (uint64_t)b * c.TPB(), e) << b;
            want = q & ((1 << L.obits) - 1);
        }
        if (!rep.check(got == want, "%s: out[%d][%d] = %lld, want %lld", tag, m, n, (long long)got, (long long)want)) bad++;
    }
    return bad;
}

struct Case { int M, K, N, wb, ab; bool ws, as, raw; int ob; bool res; int extreme, tk; };

static std::vector<Case> top_cases(const HwCfg &c, TbRng &rng, bool full) {
    std::vector<Case> cases;
    cases.push_back({8, 100, 12, 4, 4, false, false, false, 4, true, 0, 0});
    cases.push_back({5, 3 * c.Dk + 7, 7, 8, 8, true, false, true, 8, false, 0, 1});
    cases.push_back({6, 2 * c.Dk + 1, 9, 2, 3, false, true, false, 2, false, 0, 0});
    cases.push_back({4, 200, 5, 8, 8, true, false, true, 8, false, 1, 2});
    cases.push_back({c.Dm + 1, 64, 2 * c.Dn + 1, 3, 5, true, true, false, 6, true, 0, 1});
    if (full) {
        for (int wb = 1; wb <= 8; wb++) for (int ab = 1; ab <= 8; ab++) for (int sg = 0; sg < 4; sg++)
            cases.push_back({rng.range(1, 2 * c.Dm + 1), rng.range(1, 3 * c.Dk + 3), rng.range(1, 2 * c.Dn + 1),
                             wb, ab, (sg & 1) != 0, (sg & 2) != 0, rng.range(0, 3) == 0, rng.range(1, 8),
                             rng.range(0, 2) == 0, rng.range(0, 7) == 0, rng.range(0, 2)});
        for (int i = 0; i < 8; i++)
            cases.push_back({rng.range(1, 40), rng.range(1, 700), rng.range(1, 40), rng.range(1, 8), rng.range(1, 8),
                             false, false, false, rng.range(1, 8), true, 0, rng.range(0, 3)});
    }
    return cases;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vbqa_axi_top>(ctx.get());
    Shell s{top.get()};
    TbReport rep("test_axi_top");
    const bool full = tb_has_arg(argc, argv, "+full");
    TbRng rng(2026);

    s.hard_reset();
    HwCfg c{};
    c.Dm = s.read(0x08); c.Dn = s.read(0x0C); c.Dk = s.read(0x10); c.WD = s.read(0x18); c.AD = s.read(0x1C);
    c.RQD = s.read(0x20); c.W = s.read(0x24); c.IQ = s.read(0x28); c.L = s.read(0x2C);
    rep.check(s.read(0x00) == 0x42514131u, "ID register through AXI-Lite");
    rep.check(c.Dm == BQ_HW_DM && c.Dn == BQ_HW_DN && c.Dk == BQ_HW_DK && c.W == BQ_HW_MEM_WIDTH_BITS,
              "config registers vs hw_params.h");
    uint32_t axicfg = s.read(R_AXI_CFG);
    rep.check(axicfg == ((uint32_t)TB_ADDR_BITS << 24 | (uint32_t)BQ_HW_AXI_ID_BITS << 16 | TB_MAX_BURST),
              "AXI_CFG 0x%08x vs hw_params.h", axicfg);
    rep.check(s.read(R_BASE_LO) == (uint32_t)BQ_HW_AXI_BASE && s.read(R_BASE_HI) == (uint32_t)((uint64_t)BQ_HW_AXI_BASE >> 32),
              "BASE after reset vs hw_params.h");
    s.write(R_BASE_LO, 0x12345678u); s.write(R_BASE_HI, 0x9abcdef0u);
    rep.check(s.read(R_BASE_LO) == 0x12345678u && s.read(R_BASE_HI) == 0x9abcdef0u, "BASE read back");
    // memory timing at the AXI port: the config's latencies and bandwidths
    AxiMemCfg fixed;
    fixed.Wb = c.W / 8; fixed.Lr = BQ_HW_READ_LATENCY; fixed.Lw = BQ_HW_WRITE_LATENCY;
    fixed.Rr = std::max(1, (c.W / 8 + BQ_HW_READ_BYTES_PER_CYCLE - 1) / BQ_HW_READ_BYTES_PER_CYCLE);
    fixed.Rw = std::max(1, (c.W / 8 + BQ_HW_WRITE_BYTES_PER_CYCLE - 1) / BQ_HW_WRITE_BYTES_PER_CYCLE);
    // the latency model's view of the shell: bqa_top's port sees the read latency + the shell's term
    HwCfg cm = c;
    cm.Lr = fixed.Lr + BQ_HW_AXI_READ_CYCLES; cm.Lw = fixed.Lw + BQ_HW_AXI_WRITE_CYCLES;
    cm.Rr = fixed.Rr; cm.Rw = fixed.Rw;
    // random mode and its documented worst case (docs/hw_rtl.md "AXI shell")
    const int jitter = 8, max_run = 3;
    HwCfg cw = cm;
    cw.Lr = cm.Lr + jitter + 2 * max_run; cw.Lw = cm.Lw + jitter + 2 * max_run;
    cw.Rr = fixed.Rr + max_run; cw.Rw = fixed.Rw + max_run;
    printf("test_axi_top: Dm %d Dn %d Dk %d W %d, AXI: addr %u id %u burst %u, Lr %d Lw %d (+%d/+%d shell)\n",
           c.Dm, c.Dn, c.Dk, c.W, (unsigned)TB_ADDR_BITS, (unsigned)BQ_HW_AXI_ID_BITS,
           (unsigned)TB_MAX_BURST, fixed.Lr, fixed.Lw, BQ_HW_AXI_READ_CYCLES, BQ_HW_AXI_WRITE_CYCLES);

    std::vector<Case> cases = top_cases(c, rng, full);
    const int nseeds = full ? 3 : 2;
    double worst_ratio = 0, worst_to_bound = 0;
    for (size_t ci = 0; ci < cases.size(); ci++) {
        const Case &t = cases[ci];
        Layer L = make_layer(rng, t.M, t.K, t.N, t.wb, t.ab, t.ws, t.as, t.raw, t.ob, t.res, t.extreme);
        std::vector<uint8_t> mem0(64, 0);
        Placement p = place_layer(c, L, mem0, 64);
        Program pr = schedule_layer(c, L, p, t.tk);
        TimingRef tr = timing_ref(cm, pr, 50000000), tw = timing_ref(cw, pr, 50000000);
        // a base with a page offset: transactions cross 4 KiB boundaries at varying beats
        // (above 4 GiB when the AXI address is wider than 32 bits)
        const uint64_t base = (TB_ADDR_BITS > 32 ? 0x800000000ull : 0) + 0x40000000ull + 4096ull * (ci % 5) +
                              (uint64_t)(ci % 7) * 8 * c.W;
        for (int mode = 0; mode <= nseeds; mode++) {
            AxiMemCfg mc = fixed;
            if (mode > 0) { mc.jitter = jitter; mc.p_stall = 0.25; mc.max_run = max_run; mc.seed = 1000 * ci + mode; }
            std::vector<uint8_t> mem = mem0;
            AxiMem am(mc, &mem, base);
            s.mem = &am;
            char tag[160];
            snprintf(tag, sizeof tag, "case %zu M%d K%d N%d w%d a%d %s%d%s tk%d %s", ci, t.M, t.K, t.N, t.wb, t.ab,
                     t.raw ? "raw" : "o", t.ob, t.res ? " res" : "", t.tk, mode ? "random" : "fixed");
            AxiRun st = run_program(s, pr, base, 50000000);
            s.mem = nullptr;
            if (!rep.check(st.ok, "%s: time-out", tag)) continue;
            rep.check(am.errors == 0, "%s: AXI protocol: %ld errors, first: %s", tag, am.errors, am.first_error.c_str());
            rep.check(am.idle(), "%s: memory transactions left open", tag);
            rep.check(st.err == 0, "%s: ERR register 0x%x", tag, st.err);
            check_layer(c, L, p, mem, rep, tag);
            rep.check(st.e_beats == (uint32_t)tr.e_beats, "%s: E_BEATS %u, model %ld", tag, st.e_beats, tr.e_beats);
            if (mode == 0) {
                rep.check(st.CYCLES == (uint32_t)tr.cycles, "%s: CYCLES %u, latency model %ld", tag, st.CYCLES, tr.cycles);
                for (int k = 0; k < 3; k += 2) {   // busy and stall (idle grows while the host polls)
                    rep.check(st.f[k] == (uint32_t)tr.f[k] && st.e[k] == (uint32_t)tr.e[k] && st.r[k] == (uint32_t)tr.r[k],
                              "%s: stage %s f %u/%ld e %u/%ld r %u/%ld", tag, k ? "stall" : "busy", st.f[k], tr.f[k],
                              st.e[k], tr.e[k], st.r[k], tr.r[k]);
                }
                if (!full) printf("  %s: %u cycles (model %ld), %ld read / %ld write bursts\n", tag, st.CYCLES,
                                  tr.cycles, am.rd_bursts, am.wr_bursts);
            } else {
                double ratio = (double)st.CYCLES / (double)tr.cycles;
                double to_bound = (double)(st.CYCLES - tr.cycles) / (double)(tw.cycles - tr.cycles);
                worst_ratio = std::max(worst_ratio, ratio);
                worst_to_bound = std::max(worst_to_bound, to_bound);
                rep.check(st.CYCLES >= (uint32_t)tr.cycles && st.CYCLES <= (uint32_t)tw.cycles,
                          "%s: CYCLES %u outside [%ld, %ld] (fixed-latency model, worst-case model)", tag, st.CYCLES,
                          tr.cycles, tw.cycles);
                if (!full) printf("  %s seed %llu: %u cycles (%.3f x fixed; %.2f of the way to the worst case %ld)\n",
                                  tag, (unsigned long long)mc.seed, st.CYCLES, ratio, to_bound, tw.cycles);
            }
        }
    }
    printf("test_axi_top: %zu layers x (fixed + %d random seeds); random: at most %.3f x the fixed-latency cycles, "
           "%.2f of the way to the worst-case bound\n", cases.size(), nseeds, worst_ratio, worst_to_bound);
    top->final();
    return rep.finish();
}
