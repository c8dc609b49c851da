// test_top_v2 -- a whole network runs on bqa_top built for ISA v2 (WindowBytes, BlockChannels > 0) from
// ONE start (docs/whole_network.md §4.5, §12): the program of hw_model/hwsched_v2 (bq_v2_net_build) is
// pushed into the three queues, the memory holds the network input as HWC codes, the packed weights
// (bq_v2_pack_weights) and requant records of every layer (tests/unit/hw_model/v2_ref.c, the same naive
// network test_v2_exec checks the C executor against), all else garbage. Checks per run:
//   (a) every layer's output tensor in memory (each real byte of each HWC pixel; the RAW32 logits in v1's
//       tile layout) == the naive integer network;
//   (b) CYCLES == the latency model's dry run of the same program (bq_latency_program, the memory
//       latencies of this run);
//   (c) per layer: the cycle of the layer's last write completion (its result's wdone, where WRITTEN is
//       pushed) == the model's cumulative stand-alone layer cycles - 1, so a timing error names a layer;
//   (d) busy / idle / stall of each stage, E_BEATS, MEM_RD_BEATS, MEM_WR_BEATS == the model.
// Memory latencies (read/write latency, read/write bytes per cycle) are random per run, fixed within it
// (except the +full runs of fres20 / mbv2t at the config's own timing).
// Usage: test_top_v2 [+full]
//   default: the 9-layer chain of v2_ref (every layer kind of §5) on a small image, unsigned + signed
//   +full:   also larger chains, and fres20 (23 layers) and mbv2t (27 layers) with random weights at the
//            config's own memory timing, then fres20 with random timing
// Shape: the config of TB_CFG_YAML (tiny / edge) with window_bytes TB_WINB and block_channels TB_BC, the
// same values the RTL is built with (-GWindowBytes / -GBlockChannels, hw/hw.mk).
#include <array>
#include <ctime>
#include <memory>
#include <string>
#include <vector>
#include "Vbqa_top.h"
#include "bqa_prog.h"
#include "bqa_v2_net.h"
#include "hw_params.h"

template <typename T> static void set_instr(T &sig, const Instr &i) {
    for (int w = 0; w < 4; w++) sig[w] = i.w[w];
}

struct Regs {
    uint32_t cycles, e_beats, rd_beats, wr_beats, cls[3][3];   // cls[stage][busy, idle, stall]
};

struct RunOut {
    bool finished; long cyc; double secs;
    Regs regs;
    std::vector<long> last_wdone;   // per layer: cycle of the last write completion into its output
};

static uint32_t reg(Vbqa_top *m, uint8_t a) { m->reg_addr_i = a; m->eval(); return m->reg_rdata_o; }

// Pushes the program, starts once, runs to done. The queues are prefilled while run_i = 0 (as test_top).
static RunOut run(Vbqa_top *m, const V2Prep &p, std::vector<uint8_t> &mem, long max_cycles) {
    RunOut o{};
    const bq_hwcfg &c = p.c;
    const std::vector<Instr> *q = p.q;
    o.last_wdone.assign(p.out_end.size(), -1);
    m->rst_ni = 0; m->run_i = 0;
    m->fq_valid_i = m->eq_valid_i = m->rq_valid_i = 0;
    m->mem_req_ready_i = 0; m->mem_rvalid_i = 0; m->mem_wready_i = 0; m->mem_wdone_i = 0;
    tb_tick(m); tb_tick(m);
    m->rst_ni = 1;
    const int IQ = (int)reg(m, 0x28), W = c.mem_width_bits, Wb = W / 8;
    size_t pc[3] = {0, 0, 0};
    auto drive_queues = [&]() {
        m->fq_valid_i = pc[0] < q[0].size(); if (m->fq_valid_i) set_instr(m->fq_data_i, q[0][pc[0]]);
        m->eq_valid_i = pc[1] < q[1].size(); if (m->eq_valid_i) set_instr(m->eq_data_i, q[1][pc[1]]);
        m->rq_valid_i = pc[2] < q[2].size(); if (m->rq_valid_i) set_instr(m->rq_data_i, q[2][pc[2]]);
    };
    auto pushed = [&]() {
        bool f = m->fq_valid_i && m->fq_ready_o, e = m->eq_valid_i && m->eq_ready_o, r = m->rq_valid_i && m->rq_ready_o;
        return std::array<bool, 3>{f, e, r};
    };
    for (int k = 0; k < IQ; k++) {
        drive_queues();
        m->clk_i = 0; m->eval();
        auto took = pushed();
        m->clk_i = 1; m->eval();
        for (int s = 0; s < 3; s++) pc[s] += took[s];
    }
    const int Rr = (Wb + c.read_bytes_per_cycle - 1) / c.read_bytes_per_cycle;
    const int Rw = (Wb + c.write_bytes_per_cycle - 1) / c.write_bytes_per_cycle;
    RefMem rm{&mem, W, c.read_latency, c.write_latency, Rr, Rw};
    uint8_t rdata[64], wdata[64];
    int wr_layer = -1;
    std::clock_t t0 = std::clock();
    long cyc = 0;
    m->run_i = 1;
    for (; cyc < max_cycles; cyc++) {
        drive_queues();
        bool req_ready, rvalid, wready, wdone;
        rm.drive(cyc, req_ready, rvalid, rdata, wready, wdone);
        m->mem_req_ready_i = req_ready; m->mem_rvalid_i = rvalid; m->mem_wready_i = wready; m->mem_wdone_i = wdone;
        if (rvalid) for (int w = 0; w < W / 32; w++) { uint32_t v; memcpy(&v, rdata + 4 * w, 4); tb_set_bits(m->mem_rdata_i, 32 * w, 32, v); }
        m->clk_i = 0; m->eval();
        if (m->done_o && pc[0] == q[0].size() && pc[1] == q[1].size() && pc[2] == q[2].size() && !rm.busy) break;
        bool req_fire = m->mem_req_valid_o && req_ready;
        bool req_write = m->mem_req_write_o; uint32_t req_addr = m->mem_req_addr_o; int req_beats = m->mem_req_beats_o;
        if (req_fire && req_write) wr_layer = v2_out_layer(p, req_addr);
        if (wdone && wr_layer >= 0) o.last_wdone[wr_layer] = cyc;
        bool wfire = m->mem_wvalid_o && wready;
        if (wfire) for (int w = 0; w < W / 32; w++) { uint32_t v = (uint32_t)tb_get_bits(m->mem_wdata_o, 32 * w, 32); memcpy(wdata + 4 * w, &v, 4); }
        auto took = pushed();
        m->clk_i = 1; m->eval();
        for (int s = 0; s < 3; s++) pc[s] += took[s];
        rm.update(cyc, req_fire, req_write, req_addr, req_beats, rvalid, wfire, wdata, wdone);
    }
    o.secs = (double)(std::clock() - t0) / CLOCKS_PER_SEC;   // CPU time: the machine is shared
    o.finished = cyc < max_cycles;
    o.cyc = cyc;
    o.regs.cycles = reg(m, 0x40); o.regs.e_beats = reg(m, 0x68); o.regs.rd_beats = reg(m, 0x6C); o.regs.wr_beats = reg(m, 0x70);
    for (int k = 0; k < 3; k++) {
        o.regs.cls[0][k] = reg(m, 0x44 + 4 * k); o.regs.cls[1][k] = reg(m, 0x50 + 4 * k); o.regs.cls[2][k] = reg(m, 0x5C + 4 * k);
    }
    return o;
}

struct Totals { long nets = 0, codes = 0, sim_cycles = 0; double secs = 0; };

// One network on the RTL: plan, data, program, run, the four checks.
// random_mem: random latencies and beat rates for this run (fixed within it); else the config's own.
static void run_net(Vbqa_top *m, TbReport &rep, const bq_hwcfg &base, v2_net *nt, const char *name, v2_rng *rng,
                    bool random_mem, Totals &tot) {
    bq_hwcfg c = base;
    const int Wb = c.mem_width_bits / 8;
    if (random_mem) {
        c.read_latency = v2_rnd_in(rng, 1, 40);
        c.write_latency = v2_rnd_in(rng, 1, 40);
        c.read_bytes_per_cycle = v2_rnd_in(rng, 0, 2) ? Wb : Wb / 2;
        c.write_bytes_per_cycle = v2_rnd_in(rng, 0, 2) ? Wb : Wb / 2;
    }
    char tag[200];
    snprintf(tag, sizeof tag, "%s on %s (Lr %d Lw %d Rr %d Rw %d)", name, c.name, c.read_latency, c.write_latency,
             Wb / c.read_bytes_per_cycle, Wb / c.write_bytes_per_cycle);
    static V2Prep p;
    if (!v2_prepare(rep, c, nt, rng, tag, p)) return;
    const bq_latency &whole = p.whole;
    const std::vector<long> &cum = p.cum;
    std::vector<uint8_t> mem = p.mem;
    RunOut o = run(m, p, mem, 4 * whole.cycles + 100000);
    if (!rep.check(o.finished, "%s: time-out after %ld cycles (model %lld)", tag, o.cyc, (long long)whole.cycles)) return;
    // (a) every layer's output
    long codes = v2_check_outputs(rep, p, nt, mem);
    // (b) CYCLES
    rep.check(o.regs.cycles == (uint32_t)o.cyc, "%s: CYCLES %u vs %ld cycles with run_i", tag, o.regs.cycles, o.cyc);
    rep.check((long long)o.regs.cycles == (long long)whole.cycles, "%s: CYCLES %u, latency model %lld", tag,
              o.regs.cycles, (long long)whole.cycles);
    // (c) per layer: the last write completion == the model's cumulative layer cycles - 1
    for (int i = 0; i < nt->n; i++)
        rep.check(o.last_wdone[i] == cum[i] - 1, "%s: layer %d %s: last write completed in cycle %ld, model %ld "
                  "(cumulative layer cycles - 1)", tag, i, nt->ls[i].hw.name, o.last_wdone[i], cum[i] - 1);
    // (d) counters
    static const char *stage[3] = {"fetch", "exec", "result"};
    for (int s = 0; s < 3; s++) {
        const long want[3] = {(long)whole.busy[s], (long)whole.idle[s], (long)whole.stall[s]};
        static const char *cls[3] = {"busy", "idle", "stall"};
        for (int k = 0; k < 3; k++)
            rep.check((long)o.regs.cls[s][k] == want[k], "%s: %s %s %u, model %ld", tag, stage[s], cls[k],
                      o.regs.cls[s][k], want[k]);
    }
    rep.check((long long)o.regs.e_beats == (long long)whole.e_beats, "%s: E_BEATS %u, model %lld", tag, o.regs.e_beats,
              (long long)whole.e_beats);
    rep.check((long long)o.regs.rd_beats == (long long)whole.rd_beats, "%s: MEM_RD_BEATS %u, model %lld", tag,
              o.regs.rd_beats, (long long)whole.rd_beats);
    rep.check((long long)o.regs.wr_beats == (long long)whole.wr_beats, "%s: MEM_WR_BEATS %u, model %lld", tag,
              o.regs.wr_beats, (long long)whole.wr_beats);
    printf("  %s: %d layers, %zu/%zu/%zu instructions, %u cycles (model %lld), %ld values compared, %.2f s CPU\n", tag,
           nt->n, p.q[0].size(), p.q[1].size(), p.q[2].size(), o.regs.cycles, (long long)whole.cycles, codes, o.secs);
    fflush(stdout);
    tot.nets++; tot.codes += codes; tot.sim_cycles += o.cyc; tot.secs += o.secs;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vbqa_top>(ctx.get());
    TbReport rep("test_top_v2");
    const bool full = tb_has_arg(argc, argv, "+full");
    bq_hwcfg cfg;
    char err[256] = "";
    if (bq_hwcfg_load(&cfg, TB_CFG_YAML, err, sizeof err)) { fprintf(stderr, "test_top_v2: %s\n", err); return 1; }
    cfg.window_bytes = TB_WINB;
    cfg.block_channels = TB_BC;
    if (bq_hwcfg_validate(&cfg, err, sizeof err)) { fprintf(stderr, "test_top_v2: %s\n", err); return 1; }
    top->rst_ni = 0; tb_tick(top.get()); top->rst_ni = 1;
    rep.check(reg(top.get(), 0x08) == (uint32_t)cfg.dm && reg(top.get(), 0x0C) == (uint32_t)cfg.dn &&
              reg(top.get(), 0x10) == (uint32_t)cfg.dk && reg(top.get(), 0x24) == (uint32_t)cfg.mem_width_bits,
              "config registers vs %s", TB_CFG_YAML);
    rep.check(reg(top.get(), 0x04) == (uint32_t)bq_hwcfg_isa_version(&cfg) && bq_hwcfg_isa_version(&cfg) == 2,
              "VERSION %u on a build with the v2 units, want 2", reg(top.get(), 0x04));
    printf("test_top_v2: %s (Dm %d Dn %d Dk %d W %d), window_bytes %d, block_channels %d%s\n", cfg.name, cfg.dm, cfg.dn,
           cfg.dk, cfg.mem_width_bits, cfg.window_bytes, cfg.block_channels, full ? ", +full" : "");
    v2_rng rng{0x5eed2026ull + (uint64_t)cfg.dm};
    static v2_net nt;
    Totals tot;
    const bool tiny = cfg.dn <= 2;
    std::vector<int> sizes = tiny ? std::vector<int>{6, 7} : std::vector<int>{9, 11};
    if (full) for (int h : (tiny ? std::vector<int>{10, 13} : std::vector<int>{16, 19})) sizes.push_back(h);
    for (size_t k = 0; k < sizes.size(); k++) {
        memset(&nt, 0, sizeof nt);
        int wsigned = (int)(k & 1);
        if (!rep.check(v2_ref_chain(&nt, sizes[k], wsigned, &rng, err, sizeof err) == 0, "chain: %s", err)) continue;
        char name[64];
        snprintf(name, sizeof name, "chain %dx%d %s", sizes[k], sizes[k], wsigned ? "signed" : "unsigned");
        run_net(top.get(), rep, cfg, &nt, name, &rng, true, tot);
        v2_ref_free(&nt);
    }
    // fres20 and mbv2t with the config's own memory timing (the cycles of docs/whole_network.md §11's
    // table), then fres20 again with random timing
    if (full)
        for (int a = 0; a < 3; a++) {
            memset(&nt, 0, sizeof nt);
            int r = a == 1 ? v2_ref_mbv2t(&nt, err, sizeof err) : v2_ref_fres20(&nt, err, sizeof err);
            if (!rep.check(r == 0, "%s: %s", a == 1 ? "mbv2t" : "fres20", err)) continue;
            v2_ref_quant_params(&nt, &rng);
            run_net(top.get(), rep, cfg, &nt, a == 1 ? "mbv2t" : "fres20", &rng, a == 2, tot);
            v2_ref_free(&nt);
        }
    printf("test_top_v2: %ld networks, %ld output values compared, %ld simulated cycles, %.2f s CPU\n", tot.nets,
           tot.codes, tot.sim_cycles, tot.secs);
    top->final();
    return rep.finish();
}
