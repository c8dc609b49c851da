// test_axi_top_v2 -- a whole ISA v2 network through the AXI shell (bqa_axi_top with WindowBytes /
// BlockChannels > 0; docs/whole_network.md §12): over AXI4-Lite the host sets BASE, pushes the whole
// program of hw_model/hwsched_v2 (QSTATUS-paced, all of it before the start: the host FIFOs are deep
// enough), sets CTRL.run ONCE, polls STATUS and reads the counters; memory is the AXI slave model of
// bqa_axi_mem.h at a base address with a page offset (bursts split at 4 KiB boundaries).
//   fixed latency:  every layer's output tensor against the naive network (tests/hw/bqa_v2_net.h);
//                   CYCLES, E_BEATS, MEM_RD/WR_BEATS and every stage's busy and stall exact against the
//                   latency model's dry run with the config's AXI interface (read latency + the shell's
//                   BQ_AXI_READ_CYCLES), as test_axi_top does for v1 (idle grows while the host polls);
//   random latency: READY/VALID drops on every slave channel and per-burst jitter (seeded): every
//                   output bit exact; E_BEATS and the memory beats exact; CYCLES >= the fixed prediction.
// Usage: test_axi_top_v2 [+full]   (+full: a larger chain, fres20 and mbv2t on top of the default chains)
#include <memory>
#include <string>
#include "Vbqa_axi_top.h"
#include "bqa_axi_mem.h"
#include "bqa_axi_shell.h"
#include "bqa_prog.h"
#include "bqa_v2_net.h"
#include "hw_params.h"

struct AxiRun { uint32_t CYCLES, e_beats, rd_beats, wr_beats, f[3], e[3], r[3], err; bool ok; long push_cycles; };

// Pushes the whole program over AXI-Lite (paced by QSTATUS), then starts once and waits for the end.
static AxiRun run_program(Shell &s, const std::vector<Instr> q[3], uint64_t base, long max_cycles) {
    AxiRun st{};
    s.write(R_CTRL, 2); s.write(R_CTRL, 0);                 // reset the accelerator and the FIFOs
    s.write(R_BASE_LO, (uint32_t)base); s.write(R_BASE_HI, (uint32_t)(base >> 32));
    size_t sent[3] = {0, 0, 0};
    long t0 = s.cyc;
    for (bool left = true; left;) {
        uint32_t qs = s.read(R_QSTATUS);
        left = false;
        bool progress = false;
        for (int k = 0; k < 3; k++) {
            uint32_t space = (qs >> (8 * k)) & 0xffu;
            for (; space > 0 && sent[k] < q[k].size(); space--, sent[k]++, progress = true)
                for (int w = 0; w < 4; w++) s.write(R_QUEUE + 16 * k + 4 * w, q[k][sent[k]].w[w]);
            left |= sent[k] < q[k].size();
        }
        if (left && !progress) return st;                    // the FIFOs are full before the start
    }
    st.push_cycles = s.cyc - t0;
    s.write(R_CTRL, 1);
    t0 = s.cyc;
    for (;;) {
        if ((s.read(R_STATUS) & 1u) && s.m->irq_o) break;
        if (s.cyc - t0 > max_cycles) return st;
    }
    st.CYCLES = s.read(R_CYCLES); st.e_beats = s.read(R_EBEATS); st.rd_beats = s.read(0x6C); st.wr_beats = s.read(0x70);
    for (int k = 0; k < 3; k++) {
        st.f[k] = s.read(0x44 + 4 * k); st.e[k] = s.read(0x50 + 4 * k); st.r[k] = s.read(0x5C + 4 * k);
    }
    st.err = s.read(R_ERR);
    s.write(R_CTRL, 0);
    st.ok = true;
    return st;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vbqa_axi_top>(ctx.get());
    Shell s{top.get()};
    TbReport rep("test_axi_top_v2");
    const bool full = tb_has_arg(argc, argv, "+full");
    bq_hwcfg cfg;
    char err[256] = "";
    if (bq_hwcfg_load(&cfg, TB_CFG_YAML, err, sizeof err)) { fprintf(stderr, "test_axi_top_v2: %s\n", err); return 1; }
    cfg.window_bytes = TB_WINB;
    cfg.block_channels = TB_BC;
    cfg.mem_interface = BQ_MEM_AXI;      // the model adds the shell's cycles to the slave's latencies
    if (bq_hwcfg_validate(&cfg, err, sizeof err)) { fprintf(stderr, "test_axi_top_v2: %s\n", err); return 1; }
    s.hard_reset();
    rep.check(s.read(0x08) == (uint32_t)cfg.dm && s.read(0x0C) == (uint32_t)cfg.dn && s.read(0x10) == (uint32_t)cfg.dk &&
              s.read(0x24) == (uint32_t)cfg.mem_width_bits, "config registers through AXI-Lite vs %s", TB_CFG_YAML);
    printf("test_axi_top_v2: %s (Dm %d Dn %d Dk %d W %d), window_bytes %d, block_channels %d, AXI burst %d, "
           "shell +%d/+%d cycles%s\n", cfg.name, cfg.dm, cfg.dn, cfg.dk, cfg.mem_width_bits, cfg.window_bytes,
           cfg.block_channels, (int)BQ_HW_AXI_MAX_BURST, BQ_AXI_READ_CYCLES, BQ_AXI_WRITE_CYCLES, full ? ", +full" : "");
    v2_rng rng{0xa11c0de5ull + (uint64_t)cfg.dm};
    static v2_net nt;
    static V2Prep p;
    const bool tiny = cfg.dn <= 2;
    struct Net { int kind, h; };   // kind 0: chain (h x h), 1: fres20, 2: mbv2t
    std::vector<Net> nets = tiny ? std::vector<Net>{{0, 6}, {0, 7}} : std::vector<Net>{{0, 9}};
    if (full) { nets.push_back({0, tiny ? 10 : 13}); nets.push_back({1, 28}); nets.push_back({2, 28}); }
    const int nseeds = full ? 2 : 1, jitter = 8, max_run = 3;
    long compared = 0;
    for (size_t k = 0; k < nets.size(); k++) {
        memset(&nt, 0, sizeof nt);
        char name[64];
        int r;
        if (nets[k].kind == 0) {
            r = v2_ref_chain(&nt, nets[k].h, (int)(k & 1), &rng, err, sizeof err);
            snprintf(name, sizeof name, "chain %dx%d %s", nets[k].h, nets[k].h, (k & 1) ? "signed" : "unsigned");
        } else {
            r = nets[k].kind == 1 ? v2_ref_fres20(&nt, err, sizeof err) : v2_ref_mbv2t(&nt, err, sizeof err);
            v2_ref_quant_params(&nt, &rng);
            snprintf(name, sizeof name, "%s", nets[k].kind == 1 ? "fres20" : "mbv2t");
        }
        if (!rep.check(r == 0, "%s: %s", name, err)) continue;
        // this network's slave: random latencies and beat rates (fixed mode: exact timing)
        bq_hwcfg c = cfg;
        const int Wb = c.mem_width_bits / 8;
        c.read_latency = v2_rnd_in(&rng, 1, 40);
        c.write_latency = v2_rnd_in(&rng, 1, 40);
        c.read_bytes_per_cycle = v2_rnd_in(&rng, 0, 2) ? Wb : Wb / 2;
        c.write_bytes_per_cycle = v2_rnd_in(&rng, 0, 2) ? Wb : Wb / 2;
        char tag[200];
        snprintf(tag, sizeof tag, "%s on %s via AXI (Lr %d Lw %d Rr %d Rw %d)", name, c.name, c.read_latency,
                 c.write_latency, Wb / c.read_bytes_per_cycle, Wb / c.write_bytes_per_cycle);
        if (!v2_prepare(rep, c, &nt, &rng, tag, p)) { v2_ref_free(&nt); continue; }
        AxiMemCfg fixed;
        fixed.Wb = Wb; fixed.Lr = c.read_latency; fixed.Lw = c.write_latency;
        fixed.Rr = Wb / c.read_bytes_per_cycle; fixed.Rw = Wb / c.write_bytes_per_cycle;
        // a base with a page offset: transactions cross 4 KiB boundaries at varying beats
        const uint64_t base = 0x40000000ull + 4096ull * (k % 5) + (uint64_t)(k % 7 + 1) * 8 * c.mem_width_bits;
        const int seeds = nets[k].kind == 2 ? 0 : nseeds;   // mbv2t: the fixed run only (time)
        for (int mode = 0; mode <= seeds; mode++) {
            AxiMemCfg mc = fixed;
            if (mode > 0) { mc.jitter = jitter; mc.p_stall = 0.25; mc.max_run = max_run; mc.seed = 7000 * k + mode; }
            std::vector<uint8_t> mem = p.mem;
            AxiMem am(mc, &mem, base);
            s.mem = &am;
            char mtag[240];
            snprintf(mtag, sizeof mtag, "%s %s", tag, mode ? "random" : "fixed");
            snprintf(p.tag, sizeof p.tag, "%s", mtag);
            AxiRun st = run_program(s, p.q, base, 8 * p.whole.cycles + 100000);
            s.mem = nullptr;
            if (!rep.check(st.ok, "%s: time-out (or the host FIFOs cannot hold the program)", mtag)) continue;
            rep.check(am.errors == 0, "%s: AXI protocol: %ld errors, first: %s", mtag, am.errors, am.first_error.c_str());
            rep.check(am.idle(), "%s: memory transactions left open", mtag);
            rep.check(st.err == 0, "%s: ERR register 0x%x", mtag, st.err);
            compared += v2_check_outputs(rep, p, &nt, mem);
            const bq_latency &w = p.whole;
            rep.check(st.e_beats == (uint32_t)w.e_beats, "%s: E_BEATS %u, model %lld", mtag, st.e_beats, (long long)w.e_beats);
            rep.check(st.rd_beats == (uint32_t)w.rd_beats && st.wr_beats == (uint32_t)w.wr_beats,
                      "%s: MEM_RD/WR_BEATS %u/%u, model %lld/%lld", mtag, st.rd_beats, st.wr_beats,
                      (long long)w.rd_beats, (long long)w.wr_beats);
            if (mode == 0) {
                rep.check(st.CYCLES == (uint32_t)w.cycles, "%s: CYCLES %u, latency model %lld", mtag, st.CYCLES,
                          (long long)w.cycles);
                // busy (index 0) and stall (index 2); idle grows while the host polls
                const int cls_reg[2] = {0, 2};
                const int64_t *model_cls[2][3] = {{&w.busy[0], &w.busy[1], &w.busy[2]}, {&w.stall[0], &w.stall[1], &w.stall[2]}};
                for (int k2 = 0; k2 < 2; k2++) {
                    int ix = cls_reg[k2];
                    rep.check(st.f[ix] == (uint32_t)*model_cls[k2][0] && st.e[ix] == (uint32_t)*model_cls[k2][1] &&
                              st.r[ix] == (uint32_t)*model_cls[k2][2], "%s: %s f %u/%lld e %u/%lld r %u/%lld", mtag,
                              k2 ? "stall" : "busy", st.f[ix], (long long)*model_cls[k2][0], st.e[ix],
                              (long long)*model_cls[k2][1], st.r[ix], (long long)*model_cls[k2][2]);
                }
                printf("  %s: %d layers, %u cycles (model %lld), %ld read / %ld write bursts, program pushed in %ld cycles\n",
                       mtag, nt.n, st.CYCLES, (long long)w.cycles, am.rd_bursts, am.wr_bursts, st.push_cycles);
            } else {
                rep.check(st.CYCLES >= (uint32_t)w.cycles, "%s: CYCLES %u below the fixed-latency model %lld", mtag,
                          st.CYCLES, (long long)w.cycles);
                printf("  %s seed %llu: %u cycles (%.3f x fixed)\n", mtag, (unsigned long long)mc.seed, st.CYCLES,
                       (double)st.CYCLES / (double)w.cycles);
            }
            fflush(stdout);
        }
        v2_ref_free(&nt);
    }
    printf("test_axi_top_v2: %zu networks x (fixed + %d random seeds), %ld output values compared\n", nets.size(), nseeds,
           compared);
    top->final();
    return rep.finish();
}
