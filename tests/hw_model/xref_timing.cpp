// xref_timing -- the latency model (event simulation, lazy emission, steady-state jumps) against
// the RTL helper's cycle-by-cycle executable reading of docs/hw_isa.md section 4
// (tests/hw/bqa_timing_ref.h, itself checked against the RTL's counters): random layers on every
// config given, the scheduler's real programs encoded with bq_isa_encode; CYCLES, E_BEATS and the
// busy/idle/stall counters of every stage must be equal. Prints "N layers, M mismatches".
//   build/xref_timing configs/hw/tiny.yaml configs/hw/edge.yaml
#include <cstdio>
#include <cstdlib>
#include <vector>
extern "C" {
#include "hwcfg.h"
#include "hwlayer.h"
#include "hwsched.h"
#include "latency.h"
#include "isa.h"
}
#include "bqa_timing_ref.h"
static uint64_t rs = 99;
static int rnd(int lo, int hi) { rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27; return lo + (int)(((rs * 2685821657736338717ULL) >> 33) % (uint64_t)(hi - lo + 1)); }
int main(int argc, char **argv) {
    int bad = 0, n = 0;
    for (int ci = 1; ci < argc; ci++) {
        bq_hwcfg cfg; char err[256];
        if (bq_hwcfg_load(&cfg, argv[ci], err, sizeof err)) { puts(err); return 1; }
        HwCfg hc{cfg.dm, cfg.dn, cfg.dk, cfg.weight_depth, cfg.act_depth, cfg.requant_depth, cfg.mem_width_bits, 32, cfg.res_lanes,
                 cfg.read_latency, cfg.write_latency, (cfg.mem_width_bits/8 + cfg.read_bytes_per_cycle - 1)/cfg.read_bytes_per_cycle,
                 (cfg.mem_width_bits/8 + cfg.write_bytes_per_cycle - 1)/cfg.write_bytes_per_cycle};
        for (int it = 0; it < 60; it++) {
            int g = rnd(0, 3) == 0 ? rnd(2, 20) : 1;
            int cin = g * rnd(1, 40), cout = g * rnd(1, 24), k = rnd(0, 1) ? 3 : 1, hw = rnd(1, 12);
            bq_hw_layer l; bq_hw_layer_conv(&l, "x", cin, cout, k, k, hw, hw, g, err, sizeof err);
            l.wbits = rnd(1, 8); l.abits = rnd(1, 8); l.obits = rnd(1, 8);
            if (rnd(0, 3) == 0) { l.has_residual = 1; l.rbits = rnd(1, 8); }
            else if (rnd(0, 5) == 0) l.raw32 = 1;
            bq_sched_plan p; bq_program pr; bq_program_init(&pr);
            if (bq_sched_plan_layer(&p, &cfg, &l, err, sizeof err)) { continue; }
            if (bq_sched_build(&pr, &p, &cfg, NULL, err, sizeof err)) { puts(err); return 1; }
            Program P;
            for (int s = 0; s < 3; s++) for (int i = 0; i < pr.len[s]; i++) {
                Instr in; bq_isa_encode(&pr.ins[s][i], in.w);
                (s == 0 ? P.f : s == 1 ? P.e : P.r).push_back(in);
            }
            TimingRef ref = timing_ref(hc, P, 100000000);
            bq_latency lat; bq_program scratch; bq_program_init(&scratch);
            if (bq_latency_layer(&lat, &cfg, &l, &scratch, err, sizeof err)) { puts(err); return 1; }
            n++;
            // ref order busy, idle, stall
            bool ok = ref.cycles == lat.cycles && ref.e_beats == lat.e_beats;
            long rb[3][3] = {{ref.f[0], ref.f[1], ref.f[2]}, {ref.e[0], ref.e[1], ref.e[2]}, {ref.r[0], ref.r[1], ref.r[2]}};
            bool cnt_ok = true;
            for (int s = 0; s < 3; s++) if (rb[s][0] != lat.busy[s] || rb[s][1] != lat.idle[s] || rb[s][2] != lat.stall[s]) cnt_ok = false;
            if (!ok || !cnt_ok) {
                bad++;
                if (bad < 6 || !ok) printf("%s: %s M%d K%d N%d g%d W%dA%dO%d res%d raw%d: ref %ld model %lld | ", argv[ci], bq_loop_order_name(p.order), l.m, l.k, l.n, l.groups, l.wbits, l.abits, l.obits, l.has_residual, l.raw32, ref.cycles, (long long)lat.cycles);
                if (!cnt_ok) for (int s = 0; s < 3; s++) printf("s%d ref b%ld i%ld s%ld / m b%lld i%lld s%lld  ", s, rb[s][0], rb[s][1], rb[s][2], (long long)lat.busy[s], (long long)lat.idle[s], (long long)lat.stall[s]);
                printf("\n");
            }
            bq_program_free(&pr); bq_program_free(&scratch);
        }
    }
    printf("xref_timing: %d layers, %d mismatches (cycles or stage counters)\n", n, bad);
    return bad != 0;
}
