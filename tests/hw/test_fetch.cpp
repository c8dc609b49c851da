// test_fetch -- bqa_fetch (fetch-stage controller + its three unpackers) against a plain model of
// docs/hw_isa.md §3.1 and §4.2, cycle by cycle: dispatch (queue head, FREED token, free stage), one
// read request per plane from d+1 / from the cycle after the previous plane's last beat, held until
// granted, request address dram + p*stride and n = T*D*unit_bytes/Wb beats, completion and FILLED in
// the last beat's cycle (next dispatch in the same cycle), SYNC completing in d+1, bank writes of
// every beat (unit u -> bank u % D, row base + u / D, rows counting across planes, UB/W beats per
// unit or W/UB units per beat), and busy/idle/stall/active. Grants come at random (port contention),
// read beats with random gaps. Shape fixed at build time (-DTB_DM/DN/DK/W/WAB/AAB/QAB).
// Usage: test_fetch [+full] [+v2=setup|+v2=win]
#include <memory>
#include "Vbqa_fetch.h"
#include "bqa_stage_env.h"

struct FetchArgs { bool run, wait0, sig0; int tgt, planes; uint32_t dram, stride, base, T; };

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_fetch>(ctx.get());
    TbReport rep("test_fetch");
    const bool full = tb_has_arg(argc, argv, "+full");
    const int Dm = TB_DM, Dn = TB_DN, Dk = TB_DK, W = TB_W;
    const int AB[3] = {TB_WAB, TB_AAB, TB_QAB};
    const int D[3] = {Dm, Dn, Dm}, UB[3] = {Dk, Dk, 128};
    TbRng rng(99 + Dm * 7 + Dk);
    const int n_ins = full ? 6000 : 600;

    TbQueue q;
    std::vector<FetchArgs> args;
    for (int k = 0; k < n_ins; k++) {
        FetchArgs f;
        f.run = rng.range(0, 4) != 0; f.wait0 = rng.range(0, 2) == 0; f.sig0 = rng.range(0, 1);
        f.tgt = rng.range(0, 2); f.planes = f.tgt == 2 ? 1 : rng.range(1, 8);
        f.dram = rng.u32(); f.stride = rng.u32(); f.base = rng.u32() & 0xffff;
        f.T = rng.range(0, 7) == 0 ? (uint32_t)rng.range(1, 40) : (uint32_t)rng.range(1, 3);
        Instr in = enc_fetch(f.run, f.wait0, f.sig0, f.tgt, f.planes, f.dram, f.stride, f.base, f.T);
        if (!f.run) { in.w[0] |= (uint32_t)rng.range(0, 3) << 16 | (uint32_t)rng.range(0, 7) << 18; in.w[1] = rng.u32();
                      in.w[2] = rng.u32(); in.w[3] = rng.u32(); }   // SYNC: other fields are junk
        q.ins.push_back(in); args.push_back(f);
    }
    tb_v2_first(argc, argv, q);   // +v2=...: the RTL must refuse it (its assertion stops the run)
    TbTokens freed(8, 2);

    m->rst_ni = 0; m->run_i = 0; m->head_valid_i = 0; m->freed_avail_i = 0; m->req_grant_i = 0; m->rvalid_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    // model state
    enum { FI, FREQ, FDATA, FSYNC } st = FI;
    FetchArgs cur{};
    int plane = 0; long n = 0, beat = 0, unit_beat = 0;   // beat: within the plane; unit_beat: whole run
    long gap = 0;                                         // env: cycles until the next read beat
    std::vector<uint64_t> pend;                           // bits of the unit being assembled (UB > W)
    long c = 0, grants = 0, beats_total = 0, b2b = 0, waits = 0, last_complete = -5;
    const long max_c = 2000L * n_ins;
    for (; c < max_c && !(q.done() && st == FI); c++) {
        bool hv = q.valid(c);
        bool grant = st == FREQ && rng.range(0, 99) < 45;
        bool rvalid = st == FDATA && gap == 0;
        std::vector<uint64_t> rd((W + 63) / 64);
        for (auto &x : rd) x = rng.next();
        m->run_i = c >= 4; m->head_valid_i = hv;
        tb_set_instr(m->head_i, hv ? q.front() : Instr{{rng.u32(), rng.u32(), rng.u32(), rng.u32()}});
        m->freed_avail_i = freed.avail(); m->req_grant_i = grant; m->rvalid_i = rvalid;
        for (int i = 0; i < W; i += 64) tb_set_bits(m->rdata_i, i, W - i < 64 ? W - i : 64, rd[i / 64]);
        m->clk_i = 0; m->eval();
        // ---- model: this cycle ----
        bool last_beat = rvalid && beat == n - 1;
        bool complete = (last_beat && plane == cur.planes - 1) || st == FSYNC;
        bool free = st == FI || complete;
        const FetchArgs *h = hv ? &args[q.head] : nullptr;
        bool dispatch = c >= 4 && hv && free && (!h->wait0 || freed.avail());
        bool waiting = st == FREQ && !grant;
        rep.check(m->pop_o == dispatch, "cycle %ld: pop %d want %d", c, m->pop_o, dispatch);
        rep.check(m->freed_pop_o == (dispatch && h->wait0), "cycle %ld: freed_pop %d", c, m->freed_pop_o);
        rep.check(m->filled_push_o == (complete && cur.sig0), "cycle %ld: filled_push %d", c, m->filled_push_o);
        rep.check(m->req_valid_o == (st == FREQ), "cycle %ld: req_valid %d", c, m->req_valid_o);
        if (st == FREQ) {
            uint32_t addr = cur.dram + (uint32_t)plane * cur.stride;
            rep.check(m->req_addr_o == addr, "cycle %ld: req_addr %08x want %08x", c, m->req_addr_o, addr);
            rep.check(m->req_beats_o == n, "cycle %ld: req_beats %d want %ld", c, m->req_beats_o, n);
        }
        // bank writes
        uint64_t we_want[3] = {0, 0, 0};
        if (rvalid) {
            int t = cur.tgt, ub = UB[t], d = D[t];
            long first_unit = -1, n_units = 0;
            if (ub <= W) { first_unit = unit_beat * (W / ub); n_units = W / ub; }
            else if (unit_beat % (ub / W) == ub / W - 1) { first_unit = unit_beat / (ub / W); n_units = 1; }
            for (long u = first_unit; u < first_unit + n_units; u++) {
                int bank = (int)(u % d);
                uint32_t row = (cur.base + (uint32_t)(u / d)) & ((1u << AB[t]) - 1);
                we_want[t] |= 1ull << bank;
                uint32_t got_row = t == 0 ? m->w_row_o : t == 1 ? m->a_row_o : m->q_row_o;
                rep.check(got_row == row, "cycle %ld: target %d unit %ld row %u want %u", c, t, u, got_row, row);
                bool ok = true;
                for (int bit = 0; bit < ub; bit++) {
                    uint64_t want;
                    if (ub <= W) { int o = (int)(u - first_unit) * ub + bit; want = (rd[o / 64] >> (o % 64)) & 1; }
                    else {
                        int o = bit - (ub - W);   // the last beat holds the top W bits
                        want = o >= 0 ? (rd[o / 64] >> (o % 64)) & 1 : (pend[bit / 64] >> (bit % 64)) & 1;
                    }
                    uint64_t got = t == 0 ? tb_get_bits(m->w_wdata_o, bank * ub + bit, 1)
                                 : t == 1 ? tb_get_bits(m->a_wdata_o, bank * ub + bit, 1)
                                          : tb_get_bits(m->q_wdata_o, bank * ub + bit, 1);
                    ok &= got == want;
                }
                rep.check(ok, "cycle %ld: target %d unit %ld bank %d: data mismatch", c, t, u, bank);
            }
        }
        rep.check(m->w_we_o == we_want[0] && m->a_we_o == we_want[1] && m->q_we_o == we_want[2],
                  "cycle %ld: we w/a/q %lx %lx %lx want %lx %lx %lx", c, (unsigned long)m->w_we_o, (unsigned long)m->a_we_o,
                  (unsigned long)m->q_we_o, (unsigned long)we_want[0], (unsigned long)we_want[1], (unsigned long)we_want[2]);
        if (c >= 4) {
            bool busy = (st != FI && !waiting) || dispatch, stall = waiting || (st == FI && hv && !dispatch);
            rep.check(m->busy_o == busy && m->stall_o == stall && m->idle_o == (!busy && !stall),
                      "cycle %ld: class busy/stall/idle %d%d%d want %d%d", c, m->busy_o, m->stall_o, m->idle_o, busy, stall);
        }
        rep.check(m->active_o == (st != FI), "cycle %ld: active %d", c, m->active_o);
        m->clk_i = 1; m->eval();
        // ---- model: end of cycle ----
        if (rvalid) {
            int ub = UB[cur.tgt];
            if (ub > W) {   // keep the partial unit (low beats first)
                int k = (int)(unit_beat % (ub / W));
                if (k == 0) std::fill(pend.begin(), pend.end(), 0);
                for (int b = 0; b < W; b++) { int o = k * W + b; pend[o / 64] |= ((rd[b / 64] >> (b % 64)) & 1) << (o % 64); }
            }
            beat++; unit_beat++; beats_total++;
            gap = rng.range(0, 3) == 0 ? rng.range(1, 5) : 0;
            if (last_beat) {
                if (plane == cur.planes - 1) { st = FI; last_complete = c; }
                else { plane++; st = FREQ; }
            }
        } else if (st == FDATA) gap--;
        if (st == FSYNC) { st = FI; last_complete = c; }
        if (grant) { st = FDATA; beat = 0; grants++; gap = rng.range(0, 2) == 0 ? rng.range(1, 12) : 1; gap--; }
        waits += waiting;
        bool fpop = dispatch && h->wait0;
        if (dispatch) {
            if (last_complete == c) b2b++;
            cur = *h; plane = 0; unit_beat = 0;
            int t = cur.tgt;
            n = (long)cur.T * D[t] * (UB[t] / 8) / (W / 8);
            pend.assign((UB[t] + 63) / 64, 0);
            st = cur.run ? FREQ : FSYNC;
            q.pop(c, rng);
        }
        freed.step(fpop, rng);
    }
    rep.check(q.done() && st == FI, "time-out after %ld cycles (%zu of %zu instructions)", c, q.head, q.ins.size());
    rep.check(b2b > 10 && waits > 10, "corners not reached: back-to-back %ld, port waits %ld", b2b, waits);
    printf("test_fetch: Dm %d Dn %d Dk %d W %d: %d instructions, %ld cycles, %ld grants, %ld beats, %ld back-to-back\n",
           Dm, Dn, Dk, W, n_ins, c, grants, beats_total, b2b);
    m->final();
    return rep.finish();
}
