// test_top -- the whole accelerator (bqa_top) runs GEMM layers from instruction streams against the
// reference memory of docs/hw_isa.md §4.1; outputs are compared bit-exactly with the golden model
// (int64), and the run's cycle counters are checked for consistency.
// Usage: test_top [+full] [+bench] [+trace]
//   default: a handful of layers (shapes not multiples of Dm/Dk/Dn, K split over buffer refills,
//            residual, RAW32, signed operands, extremes)
//   +full:   all 64 (wbits, abits) pairs x 4 signedness combinations on small layers, plus more
//   +bench:  M=64, K=576, N=256 at 4/4 bits; prints execute efficiency and simulated cycles/s
#include <ctime>
#include <memory>
#include <string>
#include "Vbqa_top.h"
#include "bqa_prog.h"
#include "bqa_timing_ref.h"
#include "hw_params.h"

struct Sim {
    Vbqa_top *m; long cyc = 0;
    uint32_t reg(uint8_t a) { m->reg_addr_i = a; m->eval(); return m->reg_rdata_o; }
};

template <typename T> static void set_instr(T &sig, const Instr &i) {
    for (int w = 0; w < 4; w++) sig[w] = i.w[w];
}

struct RunStats { long cycles_wall; uint32_t CYCLES, e_beats, f[3], e[3], r[3]; double secs; };

// Runs one program to completion. Returns false on a time-out.
static bool run_program(Sim &s, const HwCfg &c, const Program &pr, std::vector<uint8_t> &mem,
                        RunStats &st, long max_cycles) {
    Vbqa_top *m = s.m;
    m->rst_ni = 0; m->run_i = 0;
    m->fq_valid_i = m->eq_valid_i = m->rq_valid_i = 0;
    m->mem_req_ready_i = 0; m->mem_rvalid_i = 0; m->mem_wready_i = 0; m->mem_wdone_i = 0;
    tb_tick(m); tb_tick(m);
    m->rst_ni = 1;
    size_t fi = 0, ei = 0, ri = 0;
    // prefill the queues while run_i = 0
    for (int k = 0; k < c.IQ; k++) {
        m->fq_valid_i = fi < pr.f.size(); if (m->fq_valid_i) set_instr(m->fq_data_i, pr.f[fi]);
        m->eq_valid_i = ei < pr.e.size(); if (m->eq_valid_i) set_instr(m->eq_data_i, pr.e[ei]);
        m->rq_valid_i = ri < pr.r.size(); if (m->rq_valid_i) set_instr(m->rq_data_i, pr.r[ri]);
        m->clk_i = 0; m->eval();
        bool fp = m->fq_valid_i && m->fq_ready_o, ep = m->eq_valid_i && m->eq_ready_o, rp = m->rq_valid_i && m->rq_ready_o;
        m->clk_i = 1; m->eval();
        fi += fp; ei += ep; ri += rp;
    }
    RefMem rm{&mem, c.W, c.Lr, c.Lw, c.Rr, c.Rw};
    uint8_t rdata[16], wdata[16];
    std::clock_t t0 = std::clock();
    long cyc = 0;
    m->run_i = 1;
    for (; cyc < max_cycles; cyc++) {
        m->fq_valid_i = fi < pr.f.size(); if (m->fq_valid_i) set_instr(m->fq_data_i, pr.f[fi]);
        m->eq_valid_i = ei < pr.e.size(); if (m->eq_valid_i) set_instr(m->eq_data_i, pr.e[ei]);
        m->rq_valid_i = ri < pr.r.size(); if (m->rq_valid_i) set_instr(m->rq_data_i, pr.r[ri]);
        bool req_ready, rvalid, wready, wdone;
        rm.drive(cyc, req_ready, rvalid, rdata, wready, wdone);
        m->mem_req_ready_i = req_ready; m->mem_rvalid_i = rvalid; m->mem_wready_i = wready;
        m->mem_wdone_i = wdone;
        if (rvalid) for (int w = 0; w < c.W / 32; w++) {
            uint32_t v; memcpy(&v, rdata + 4 * w, 4);
            tb_set_bits(m->mem_rdata_i, 32 * w, 32, v);
        }
        m->clk_i = 0; m->eval();
        if (m->done_o && fi == pr.f.size() && ei == pr.e.size() && ri == pr.r.size() && !rm.busy) break;
        bool req_fire = m->mem_req_valid_o && req_ready;
        bool req_write = m->mem_req_write_o; uint32_t req_addr = m->mem_req_addr_o; int req_beats = m->mem_req_beats_o;
        bool wfire = m->mem_wvalid_o && wready;
        if (wfire) for (int w = 0; w < c.W / 32; w++) {
            uint32_t v = (uint32_t)tb_get_bits(m->mem_wdata_o, 32 * w, 32);
            memcpy(wdata + 4 * w, &v, 4);
        }
        bool fp = m->fq_valid_i && m->fq_ready_o, ep = m->eq_valid_i && m->eq_ready_o, rp = m->rq_valid_i && m->rq_ready_o;
        m->clk_i = 1; m->eval();
        fi += fp; ei += ep; ri += rp;
        rm.update(cyc, req_fire, req_write, req_addr, req_beats, rvalid, wfire, wdata, wdone);
    }
    st.secs = (double)(std::clock() - t0) / CLOCKS_PER_SEC;   // CPU time: the machine is shared
    st.cycles_wall = cyc;
    st.CYCLES = s.reg(0x40); st.e_beats = s.reg(0x68);
    for (int k = 0; k < 3; k++) { st.f[k] = s.reg(0x44 + 4 * k); st.e[k] = s.reg(0x50 + 4 * k); st.r[k] = s.reg(0x5C + 4 * k); }
    return cyc < max_cycles;
}

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
        // scale so that outputs spread over the output range: |acc| ~ K * 2^(w+a-2)
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

// Compares every padded output element of the layer with the golden model.
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
        bool ok;
        int64_t got = 0, want;
        if (L.raw) {
            int32_t v; memcpy(&v, &mem[tile + 4 * e], 4); got = v; want = acc0;
        } else {
            for (int b = 0; b < L.obits; b++) got |= (int64_t)get_bit(mem, tile + (uint64_t)b * c.TPB(), e) << b;
            want = q & ((1 << L.obits) - 1);
        }
        ok = got == want;
        if (!rep.check(ok, "%s: out[%d][%d] = %lld, want %lld", tag, m, n, (long long)got, (long long)want)) bad++;
    }
    return bad;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vbqa_top>(ctx.get());
    Sim s{top.get()};
    TbReport rep("test_top");
    const bool full = tb_has_arg(argc, argv, "+full"), bench = tb_has_arg(argc, argv, "+bench");
    TbRng rng(2026);

    // configuration from the registers, checked against the generated C header
    top->rst_ni = 0; tb_tick(top.get()); top->rst_ni = 1;
    HwCfg c{};
    c.Dm = s.reg(0x08); c.Dn = s.reg(0x0C); c.Dk = s.reg(0x10); c.WD = s.reg(0x18); c.AD = s.reg(0x1C);
    c.RQD = s.reg(0x20); c.W = s.reg(0x24); c.IQ = s.reg(0x28); c.L = s.reg(0x2C);
    rep.check(s.reg(0x00) == 0x42514131u, "ID register");
    rep.check(c.Dm == BQ_HW_DM && c.Dn == BQ_HW_DN && c.Dk == BQ_HW_DK && c.WD == BQ_HW_WEIGHT_DEPTH &&
              c.AD == BQ_HW_ACT_DEPTH && c.W == BQ_HW_MEM_WIDTH_BITS, "config registers vs hw_params.h");
    rep.check(s.reg(0x30) == (uint32_t)BQ_HW_CONFIG_HASH && s.reg(0x34) == (uint32_t)(BQ_HW_CONFIG_HASH >> 32),
              "config hash registers vs hw_params.h");
    c.Lr = BQ_HW_READ_LATENCY; c.Lw = BQ_HW_WRITE_LATENCY;
    c.Rr = std::max(1, (c.W / 8 + BQ_HW_READ_BYTES_PER_CYCLE - 1) / BQ_HW_READ_BYTES_PER_CYCLE);
    c.Rw = std::max(1, (c.W / 8 + BQ_HW_WRITE_BYTES_PER_CYCLE - 1) / BQ_HW_WRITE_BYTES_PER_CYCLE);
    printf("test_top: Dm %d Dn %d Dk %d W %d WD %d AD %d RQD %d L %d Lr %d Lw %d\n",
           c.Dm, c.Dn, c.Dk, c.W, c.WD, c.AD, c.RQD, c.L, c.Lr, c.Lw);

    struct T { int M, K, N, wb, ab; bool ws, as, raw; int ob; bool res; int extreme, tk; };
    std::vector<T> cases;
    if (bench) {
        cases.push_back({64, 576, 256, 4, 4, false, false, false, 4, false, 0, 0});
    } else {
        cases.push_back({8, 100, 12, 4, 4, false, false, false, 4, true, 0, 0});
        cases.push_back({5, 3 * c.Dk + 7, 7, 8, 8, true, false, true, 8, false, 0, 1});   // K split, RAW32
        cases.push_back({6, 2 * c.Dk + 1, 9, 2, 3, false, true, false, 2, false, 0, 0});
        cases.push_back({4, 200, 5, 8, 8, true, false, true, 8, false, 1, 2});            // extremes, K split
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
    }
    long total_cycles = 0; double total_secs = 0;
    for (size_t ci = 0; ci < cases.size(); ci++) {
        const T &t = cases[ci];
        Layer L = make_layer(rng, t.M, t.K, t.N, t.wb, t.ab, t.ws, t.as, t.raw, t.ob, t.res, t.extreme);
        std::vector<uint8_t> mem(64, 0);
        Placement p = place_layer(c, L, mem, 64);
        Program pr = schedule_layer(c, L, p, t.tk);
        RunStats st{};
        char tag[160];
        snprintf(tag, sizeof tag, "case %zu M%d K%d N%d w%d%s a%d%s %s%d%s tk%d", ci, t.M, t.K, t.N, t.wb,
                 t.ws ? "s" : "u", t.ab, t.as ? "s" : "u", t.raw ? "raw" : "o", t.ob, t.res ? " res" : "", t.tk);
        bool ok = run_program(s, c, pr, mem, st, 50000000);
        rep.check(ok, "%s: time-out", tag);
        if (!ok) continue;
        check_layer(c, L, p, mem, rep, tag);
        // counter consistency: each stage's classes add up to the cycles with run_i = 1
        rep.check(st.CYCLES == (uint32_t)st.cycles_wall, "%s: CYCLES %u vs %ld", tag, st.CYCLES, st.cycles_wall);
        for (int k = 0; k < 1; k++) {
            rep.check(st.f[0] + st.f[1] + st.f[2] == st.CYCLES && st.e[0] + st.e[1] + st.e[2] == st.CYCLES &&
                      st.r[0] + st.r[1] + st.r[2] == st.CYCLES, "%s: busy+idle+stall != CYCLES", tag);
        }
        // cycle timing: the executable reading of docs/hw_isa.md §4 must match the RTL exactly
        TimingRef tr = timing_ref(c, pr, 50000000);
        rep.check(tr.cycles == (long)st.CYCLES, "%s: CYCLES %u, docs/hw_isa.md timing model says %ld", tag,
                  st.CYCLES, tr.cycles);
        rep.check(tr.e_beats == (long)st.e_beats, "%s: E_BEATS %u, timing model %ld", tag, st.e_beats, tr.e_beats);
        for (int k = 0; k < 3; k++) {
            static const char *cls[3] = {"busy", "idle", "stall"};
            rep.check(tr.f[k] == (long)st.f[k], "%s: fetch %s %u, timing model %ld", tag, cls[k], st.f[k], tr.f[k]);
            rep.check(tr.e[k] == (long)st.e[k], "%s: exec %s %u, timing model %ld", tag, cls[k], st.e[k], tr.e[k]);
            rep.check(tr.r[k] == (long)st.r[k], "%s: result %s %u, timing model %ld", tag, cls[k], st.r[k], tr.r[k]);
        }
        int MT = p.MT, NT = p.NT;
        uint32_t want_beats = (uint32_t)MT * NT * t.wb * t.ab * p.KC;
        rep.check(st.e_beats == want_beats, "%s: E_BEATS %u want %u", tag, st.e_beats, want_beats);
        total_cycles += st.cycles_wall; total_secs += st.secs;
        if (bench || !full)
            printf("  %s: %u cycles, exec busy %u stall %u idle %u, beats %u (%.1f%% of cycles)\n", tag, st.CYCLES,
                   st.e[0], st.e[2], st.e[1], st.e_beats, 100.0 * st.e_beats / st.CYCLES);
        if (bench) {
            double useful = 2.0 * t.M * t.K * t.N * t.wb * t.ab;          // binary ops on the real shape
            double peak = 2.0 * c.Dm * c.Dn * c.Dk * st.CYCLES;
            printf("bench-hw: M=%d K=%d N=%d w%d a%d: %u cycles, execute efficiency %.2f%% "
                   "(useful binary ops / (cycles x peak)), padded-array utilisation %.2f%%, "
                   "simulated %.2f Mcycles/s (CPU time)\n", t.M, t.K, t.N, t.wb, t.ab, st.CYCLES, 100.0 * useful / peak,
                   100.0 * st.e_beats / st.CYCLES, st.cycles_wall / st.secs / 1e6);
            FILE *js = fopen("build/bench/hw.json", "w");
            if (js) {
                fprintf(js, "{\"config\": \"%s\", \"M\": %d, \"K\": %d, \"N\": %d, \"wbits\": %d, \"abits\": %d, "
                        "\"cycles\": %u, \"exec_beats\": %u, \"efficiency\": %.4f, \"sim_cycles_per_s\": %.0f}\n",
                        BQ_HW_NAME, t.M, t.K, t.N, t.wb, t.ab, st.CYCLES, st.e_beats, useful / peak,
                        st.cycles_wall / st.secs);
                fclose(js);
            }
        }
    }
    printf("test_top: %zu layers, %ld simulated cycles, %.2f Mcycles/s\n", cases.size(), total_cycles,
           total_secs > 0 ? total_cycles / total_secs / 1e6 : 0.0);
    top->final();
    return rep.finish();
}
