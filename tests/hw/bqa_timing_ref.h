// bqa_timing_ref.h -- an executable reading of docs/hw_isa.md §4 (cycle timing), written from the
// document, not from the RTL: three stage state machines, four token counters, the memory port with
// result-before-fetch arbitration and the reference memory. test_top compares its CYCLES, per-stage
// busy/idle/stall counts and E_BEATS with the RTL's registers, so the document stays exact.
// (hw_model/ implements the same rules in C for the latency model.)
#pragma once
#include <cstdint>
#include <vector>
#include "bqa_prog.h"

struct TimingRef {
    long cycles = 0, e_beats = 0;
    long f[3] = {0, 0, 0}, e[3] = {0, 0, 0}, r[3] = {0, 0, 0};   // busy, idle, stall
};

static inline TimingRef timing_ref(const HwCfg &c, const Program &pr, long max_cycles) {
    TimingRef out;
    const int Wb = c.W / 8, E = c.Dm * c.Dn, TpbW = (E + c.W - 1) / c.W;
    long tok_filled = 0, tok_freed = 0, tok_resrdy = 0, tok_resfree = 0;
    // memory port
    bool port_busy = false; long port_done = -1;      // busy through cycle port_done
    auto read_done = [&](long a, long n) { return a + c.Lr + (n - 1) * c.Rr; };
    auto write_done = [&](long a, long n) { return a + 1 + (n - 1) * c.Rw + c.Lw; };
    // fetch
    enum { FI, FREQ, FDATA, FSYNC } fst = FI;
    size_t fi = 0; int f_planes_left = 0; long f_n = 0, f_done = 0; bool f_sig = false;
    // execute
    bool e_active = false; size_t ei = 0; long e_N = 0, e_b = 0; bool e_run = false, e_w1 = false,
         e_s0 = false, e_s1 = false;
    std::vector<long> resrdy_at;        // cycles in which RESRDY is pushed
    long e_last_beat = -10;
    // result
    enum { RI, RRREQ, RRDATA, RCOMP, RWREQ, RWWAIT, RSYNC } rst = RI;
    size_t ri = 0; long r_done = 0, r_comp_end = 0, r_nr = 0, r_nw = 0; bool r_sig = false;
    const long C = 6L * E / c.L;

    for (long cyc = 0; cyc < max_cycles; cyc++) {
        // ---- done? (state at the start of the cycle) ----
        bool done = fi == pr.f.size() && ei == pr.e.size() && ri == pr.r.size() && fst == FI &&
                    !e_active && cyc - e_last_beat > 2 && rst == RI && !port_busy;
        if (done) { out.cycles = cyc; return out; }
        long d_filled = 0, d_freed = 0, d_resrdy = 0, d_resfree = 0;
        for (long t : resrdy_at) if (t == cyc) d_resrdy++;
        // ---- port arbitration ----
        bool r_req = (rst == RRREQ || rst == RWREQ), f_req = (fst == FREQ);
        bool r_grant = false, f_grant = false;
        if (!port_busy) {
            if (r_req) r_grant = true; else if (f_req) f_grant = true;
        }
        // ---- fetch ----
        {
            bool complete = false, waiting_port = false, was_active = fst != FI;
            auto fnext = fst;
            if (fst == FREQ) {
                if (f_grant) { fnext = FDATA; f_done = read_done(cyc, f_n); port_busy = true; port_done = f_done; }
                else waiting_port = true;
            } else if (fst == FDATA) {
                if (cyc == f_done) {
                    if (f_planes_left > 1) { f_planes_left--; fnext = FREQ; }
                    else { complete = true; fnext = FI; }
                }
            } else if (fst == FSYNC) { complete = true; fnext = FI; }
            if (complete && f_sig) d_filled++;
            bool free = fst == FI || complete, dispatch = false;
            if (free && fi < pr.f.size()) {
                const Instr &in = pr.f[fi];
                bool w0 = (in.w[0] >> 8) & 1;
                if (!w0 || tok_freed > 0) {
                    dispatch = true; fi++;
                    if (w0) d_freed--;
                    f_sig = (in.w[0] >> 12) & 1;
                    if ((in.w[0] & 15) == 1) {
                        int tgt = (in.w[0] >> 16) & 3; long T = in.w[3] >> 16;
                        long unit_bytes = tgt == 2 ? 16 : c.Dk / 8, D = tgt == 1 ? c.Dn : c.Dm;
                        f_n = T * D * unit_bytes / Wb;
                        f_planes_left = ((in.w[0] >> 18) & 7) + 1;
                        fnext = FREQ;
                    } else fnext = FSYNC;
                }
            }
            bool busy = (was_active && !waiting_port) || dispatch;
            bool stall = waiting_port || (!was_active && fi < pr.f.size() && !dispatch);
            out.f[busy ? 0 : stall ? 2 : 1]++;
            fst = fnext;
        }
        // ---- execute ----
        {
            bool beat = false, hold = false, complete = false, dispatch = false;
            if (e_active) {
                bool at_last = e_b == e_N - 1;
                if (at_last && e_w1 && tok_resfree == 0) hold = true;
                else {
                    beat = true; e_last_beat = cyc;
                    if (e_run) out.e_beats++;
                    if (at_last) {
                        complete = true;
                        if (e_w1) d_resfree--;
                        if (e_s0) d_freed++;
                        if (e_s1) resrdy_at.push_back(cyc + 2);
                    }
                    e_b++;
                }
            }
            bool free = !e_active || complete;
            if (complete) e_active = false;
            if (free && ei < pr.e.size()) {
                const Instr &in = pr.e[ei];
                bool w0 = (in.w[0] >> 8) & 1;
                if (!w0 || tok_filled > 0) {
                    dispatch = true; ei++;
                    if (w0) d_filled--;
                    e_run = (in.w[0] & 15) == 1;
                    e_w1 = (in.w[0] >> 9) & 1; e_s0 = (in.w[0] >> 12) & 1; e_s1 = (in.w[0] >> 13) & 1;
                    long nk = in.w[3] & 0xffff, wn = ((in.w[3] >> 20) & 7) + 1, an = ((in.w[3] >> 28) & 7) + 1;
                    e_N = e_run ? nk * wn * an : 1; e_b = 0; e_active = true;
                }
            }
            bool busy = beat || dispatch;
            bool stall = !busy && (hold || ei < pr.e.size());
            out.e[busy ? 0 : stall ? 2 : 1]++;
        }
        // ---- result ----
        {
            bool complete = false, waiting_port = false, was_active = rst != RI;
            auto rnext = rst;
            switch (rst) {
            case RSYNC: complete = true; rnext = RI; if (r_sig) d_resfree++; break;
            case RRREQ:
                if (r_grant) { rnext = RRDATA; r_done = read_done(cyc, r_nr); port_busy = true; port_done = r_done; }
                else waiting_port = true;
                break;
            case RRDATA: if (cyc == r_done) { rnext = RCOMP; r_comp_end = cyc + C; } break;
            case RCOMP: if (cyc == r_comp_end) { rnext = RWREQ; if (r_sig) d_resfree++; } break;
            case RWREQ:
                if (r_grant) { rnext = RWWAIT; r_done = write_done(cyc, r_nw); port_busy = true; port_done = r_done; }
                else waiting_port = true;
                break;
            case RWWAIT: if (cyc == r_done) { complete = true; rnext = RI; } break;
            default: break;
            }
            bool free = rst == RI || complete, dispatch = false;
            if (free && ri < pr.r.size()) {
                const Instr &in = pr.r[ri];
                bool w0 = (in.w[0] >> 8) & 1;
                if (!w0 || tok_resrdy > 0) {
                    dispatch = true; ri++;
                    if (w0) d_resrdy--;
                    r_sig = (in.w[0] >> 12) & 1;
                    if ((in.w[0] & 15) == 1) {
                        bool raw = (in.w[0] >> 16) & 1, res = (in.w[0] >> 20) & 1;
                        long ob = ((in.w[0] >> 17) & 7) + 1, rb = ((in.w[0] >> 21) & 7) + 1;
                        r_nr = rb * TpbW; r_nw = raw ? (long)E * 32 / c.W : ob * TpbW;
                        if (res) rnext = RRREQ; else { rnext = RCOMP; r_comp_end = cyc + C; }
                    } else rnext = RSYNC;
                }
            }
            bool busy = (was_active && !waiting_port) || dispatch;
            bool stall = waiting_port || (!was_active && ri < pr.r.size() && !dispatch);
            out.r[busy ? 0 : stall ? 2 : 1]++;
            rst = rnext;
        }
        // ---- end of cycle ----
        if (port_busy && cyc == port_done) port_busy = false;
        tok_filled += d_filled; tok_freed += d_freed; tok_resrdy += d_resrdy; tok_resfree += d_resfree;
    }
    out.cycles = -1;
    return out;
}
