// bqa_v2_net.h -- a whole ISA v2 network prepared for an RTL run (docs/whole_network.md §12), shared by
// tests/hw/test_top_v2.cpp (bqa_top's native port) and tests/hw/test_axi_top_v2.cpp (the AXI shell):
//   * the plan and memory plan of hw_model/hwsched_v2, the naive network's data and outputs
//     (tests/unit/hw_model/v2_ref.[ch]), the memory image (input as HWC codes, packed weights, requant
//     records, garbage elsewhere), the whole-network program encoded for the three queues;
//   * the latency model's dry run of that program and each layer's stand-alone cycles (cumulative);
//   * the check of every layer's output tensor in a memory image against the naive outputs.
// Needs bqa_prog.h (Instr) and bqa_tb.h (TbReport) before it.
#pragma once
#include <cstdio>
#include <vector>
extern "C" {
#include "hwcfg.h"
#include "hwsched_v2.h"
#include "isa.h"
#include "latency.h"
#include "v2_ref.h"
}

struct V2Prep {
    bq_hwcfg c;                          // the config the program is built and timed for
    std::vector<bq_v2_plan> plans;
    bq_v2_memplan mp;
    std::vector<uint8_t> mem;            // the memory image before the run
    std::vector<Instr> q[3];             // fetch, execute, result queues
    bq_latency whole;                    // dry run of the whole program
    std::vector<long> cum;               // per layer: sum of the stand-alone cycles of layers 0..i
    std::vector<uint64_t> out_end;       // per layer: first byte past its output tensor
    char tag[200];
};

// The layer whose output tensor holds byte address a, or -1.
static inline int v2_out_layer(const V2Prep &p, uint32_t a) {
    for (size_t i = 0; i < p.out_end.size(); i++) if (a >= p.mp.out[i] && a < p.out_end[i]) return (int)i;
    return -1;
}

// Plans, makes the data and the reference, the memory image, the program and the model's timing.
// false (with failed checks in rep) when any step refuses.
static bool v2_prepare(TbReport &rep, const bq_hwcfg &c, v2_net *nt, v2_rng *rng, const char *tag, V2Prep &p) {
    char err[256] = "";
    p.c = c;
    snprintf(p.tag, sizeof p.tag, "%s", tag);
    p.plans.assign(nt->n, bq_v2_plan{});
    if (!rep.check(bq_v2_net_plan(p.plans.data(), &p.mp, &c, nt->ls, nt->n, err, sizeof err) == 0, "%s: plan: %s", tag, err))
        return false;
    const int Wb = c.mem_width_bits / 8;
    const bq_v2_layer *l0 = &nt->ls[0];
    const int cs0 = (l0->cin + Wb - 1) / Wb * Wb, amax = (1 << l0->hw.abits) - 1;
    std::vector<uint8_t> input((size_t)l0->hi * l0->wi * cs0);
    // bytes of channels >= C are garbage: every reader must mask them
    for (size_t i = 0; i < input.size(); i++)
        input[i] = (uint8_t)((int)(i % cs0) < l0->cin ? v2_rnd_in(rng, 0, amax) : v2_rnd_in(rng, 0, 255));
    if (!rep.check(v2_ref_net(nt, p.plans.data(), input.data(), cs0, rng, err, sizeof err) == 0, "%s: %s", tag, err))
        return false;
    p.mem.assign((size_t)p.mp.end + 64, 0);
    for (auto &b : p.mem) b = (uint8_t)v2_rnd(rng);   // unwritten memory = garbage
    memcpy(&p.mem[p.mp.input], input.data(), input.size());
    v2_ref_load(nt, p.plans.data(), &p.mp, &c, p.mem.data());
    p.out_end.assign(nt->n, 0);
    for (int i = 0; i < nt->n; i++) {
        const bq_v2_layer &l = nt->ls[i];
        const bq_v2_plan &pl = p.plans[i];
        p.out_end[i] = p.mp.out[i] + (l.hw.raw32 ? (uint64_t)pl.base.mt * pl.base.nt * c.dm * c.dn * 4
                                                 : (uint64_t)l.ho * l.wo * pl.cs_out);
    }
    // the whole-network program, encoded
    bq_program pr;
    bq_program_init(&pr);
    bool ok = rep.check(bq_v2_net_build(&pr, p.plans.data(), &p.mp, &c, nt->n, err, sizeof err) == 0, "%s: build: %s",
                        tag, err);
    long unencodable = 0;
    for (int s = 0; ok && s < 3; s++) {
        p.q[s].clear();
        for (int i = 0; i < pr.len[s]; i++) {
            Instr in{};
            unencodable += bq_isa_encode(&pr.ins[s][i], in.w) != 0;
            p.q[s].push_back(in);
        }
    }
    ok = ok && rep.check(unencodable == 0, "%s: %ld instructions do not encode", tag, unencodable);
    // the model: the whole program, and each layer stand-alone (summed = the network's, §11)
    p.whole = bq_latency{};
    ok = ok && rep.check(bq_latency_program(&p.whole, &pr, &p.plans[0].base, &c, 1, err, sizeof err) == 0,
                         "%s: dry run: %s", tag, err);
    bq_program_free(&pr);
    p.cum.assign(nt->n, 0);
    long sum = 0;
    for (int i = 0; ok && i < nt->n; i++) {
        bq_program lp;
        bq_program_init(&lp);
        bq_latency r{};
        ok = rep.check(bq_v2_build(&lp, &p.plans[i], &c, &p.mp.addr[i], 0, 0, err, sizeof err) == 0 &&
                       bq_latency_program(&r, &lp, &p.plans[i].base, &c, 1, err, sizeof err) == 0,
                       "%s: layer %d stand-alone: %s", tag, i, err);
        bq_program_free(&lp);
        sum += r.cycles;
        p.cum[i] = sum;
    }
    return ok && rep.check(sum == p.whole.cycles, "%s: model: whole program %lld cycles, sum of layers %ld", tag,
                           (long long)p.whole.cycles, sum);
}

// Every layer's output tensor in mem against the naive network; returns the values compared.
static long v2_check_outputs(TbReport &rep, const V2Prep &p, const v2_net *nt, const std::vector<uint8_t> &mem) {
    long codes = 0;
    for (int i = 0; i < nt->n; i++) {
        long n = 0, inside = 0;
        char first[256] = "";
        long bad = v2_ref_check_layer(nt, p.plans.data(), &p.mp, &p.c, i, mem.data(), &n, &inside, first, sizeof first);
        rep.check(bad == 0, "%s: layer %d: %ld of %ld output values wrong, first: %s", p.tag, i, bad, n, first);
        rep.check(inside * 2 >= n, "%s: layer %d %s: only %ld of %ld codes inside (lo, hi): the clamp could hide sums",
                  p.tag, i, nt->ls[i].hw.name, inside, n);
        codes += n;
    }
    return codes;
}
