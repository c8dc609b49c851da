// bqa_prog.h -- test-side helpers for whole-accelerator runs (docs/hw_isa.md):
//   * instruction encoders for the three queues (§3)
//   * packers for weights, activations, requant records, residual tile planes (§2)
//   * a small scheduler for one GEMM layer (the hw_model scheduler is the real one)
//   * the reference memory of §4.1, cycle by cycle
#pragma once
#include <cstdint>
#include <vector>
#include <deque>
#include "bqa_tb.h"

struct Instr { uint32_t w[4]; };

// ---- encoders ----
static inline Instr enc_fetch(bool run, bool wait_freed, bool sig_filled, int target, int planes,
                              uint32_t dram, uint32_t stride, uint32_t buf_base, uint32_t T) {
    Instr i{};
    i.w[0] = (run ? 1u : 0u) | (wait_freed ? 1u << 8 : 0) | (sig_filled ? 1u << 12 : 0) |
             ((uint32_t)target << 16) | ((uint32_t)(planes - 1) << 18);
    i.w[1] = dram; i.w[2] = stride; i.w[3] = (buf_base & 0xffff) | (T << 16);
    return i;
}
struct ExecArgs {
    bool run = true, wait_filled = false, wait_resfree = false, sig_freed = false, sig_resrdy = false;
    bool clear = false, commit = false, asum = true;
    int wbits = 1, abits = 1; bool ws = false, as = false;
    uint32_t wbase = 0, abase = 0, wstride = 0, astride = 0, nk = 1;
    int w0 = 0, wn = 1, a0 = 0, an = 1;
};
static inline Instr enc_exec(const ExecArgs &e) {
    Instr i{};
    i.w[0] = (e.run ? 1u : 0u) | (e.wait_filled ? 1u << 8 : 0) | (e.wait_resfree ? 1u << 9 : 0) |
             (e.sig_freed ? 1u << 12 : 0) | (e.sig_resrdy ? 1u << 13 : 0) | (e.clear ? 1u << 16 : 0) |
             (e.commit ? 1u << 17 : 0) | (e.asum ? 1u << 18 : 0) | ((uint32_t)(e.wbits - 1) << 20) |
             ((uint32_t)(e.abits - 1) << 24) | (e.ws ? 1u << 28 : 0) | (e.as ? 1u << 29 : 0);
    i.w[1] = (e.wbase & 0xffff) | (e.abase << 16);
    i.w[2] = (e.wstride & 0xffff) | (e.astride << 16);
    i.w[3] = (e.nk & 0xffff) | ((uint32_t)e.w0 << 16) | ((uint32_t)(e.wn - 1) << 20) |
             ((uint32_t)e.a0 << 24) | ((uint32_t)(e.an - 1) << 28);
    return i;
}
struct ResArgs {
    bool run = true, wait_resrdy = false, sig_resfree = false;
    bool raw = false; int obits = 8; bool res = false; int rbits = 8; uint8_t z_r = 0;
    uint32_t out_addr = 0, res_addr = 0; uint8_t z_o = 0, lo = 0, hi = 255, rq_entry = 0;
};
static inline Instr enc_result(const ResArgs &r) {
    Instr i{};
    i.w[0] = (r.run ? 1u : 0u) | (r.wait_resrdy ? 1u << 8 : 0) | (r.sig_resfree ? 1u << 12 : 0) |
             (r.raw ? 1u << 16 : 0) | ((uint32_t)(r.obits - 1) << 17) | (r.res ? 1u << 20 : 0) |
             ((uint32_t)(r.rbits - 1) << 21) | ((uint32_t)r.z_r << 24);
    i.w[1] = r.out_addr; i.w[2] = r.res_addr;
    i.w[3] = r.z_o | ((uint32_t)r.lo << 8) | ((uint32_t)r.hi << 16) | ((uint32_t)r.rq_entry << 24);
    return i;
}

// ---- configuration as read from the registers ----
struct HwCfg {
    int Dm, Dn, Dk, WD, AD, RQD, W, IQ, L;
    int Lr, Lw, Rr, Rw;
    int Wb() const { return W / 8; }
    int TPB() const { return (Dm * Dn + W - 1) / W * Wb(); }
};

// ---- one GEMM layer ----
struct Layer {
    int M, K, N, wbits, abits; bool ws, as;
    bool raw; int obits; bool res; int rbits; uint8_t z_r, z_o, lo, hi;
    std::vector<uint32_t> Wc;   // M x K codes
    std::vector<uint32_t> Ac;   // K x N codes
    std::vector<GRec> rec;      // M records
    std::vector<uint32_t> Rc;   // M x N residual codes (if res)
};

struct Placement { uint32_t w, a, rq, res, out; int MT, NT, KC; uint32_t tile_bytes; };

static inline void put_bit(std::vector<uint8_t> &mem, uint64_t byte_off, int bit, int v) {
    if (v) mem[byte_off + bit / 8] |= (uint8_t)(1u << (bit % 8));
    else   mem[byte_off + bit / 8] &= (uint8_t)~(1u << (bit % 8));
}
static inline int get_bit(const std::vector<uint8_t> &mem, uint64_t byte_off, int bit) {
    return (mem[byte_off + bit / 8] >> (bit % 8)) & 1;
}

// Writes the layer's tensors into mem (§2) at increasing addresses from `base`; returns placement.
static inline Placement place_layer(const HwCfg &c, const Layer &L, std::vector<uint8_t> &mem,
                                    uint32_t base) {
    Placement p{};
    p.MT = (L.M + c.Dm - 1) / c.Dm; p.NT = (L.N + c.Dn - 1) / c.Dn; p.KC = (L.K + c.Dk - 1) / c.Dk;
    const uint32_t wb = c.Dk / 8;
    auto align = [&](uint32_t x) { return (x + 63u) & ~63u; };
    p.w = align(base);
    uint32_t wsize = (uint32_t)L.wbits * p.MT * p.KC * c.Dm * wb;
    p.a = align(p.w + wsize);
    uint32_t asize = (uint32_t)L.abits * p.NT * p.KC * c.Dn * wb;
    p.rq = align(p.a + asize);
    uint32_t rqsize = (uint32_t)p.MT * c.Dm * 16;
    p.res = align(p.rq + rqsize);
    uint32_t rsize = L.res ? (uint32_t)(p.MT * p.NT) * L.rbits * c.TPB() : 0;
    p.out = align(p.res + rsize);
    p.tile_bytes = L.raw ? (uint32_t)(c.Dm * c.Dn * 4) : (uint32_t)(L.obits * c.TPB());
    uint32_t osize = (uint32_t)(p.MT * p.NT) * p.tile_bytes;
    if (mem.size() < p.out + osize + 64) mem.resize(p.out + osize + 64, 0);
    for (int b = 0; b < L.wbits; b++)
        for (int mt = 0; mt < p.MT; mt++) for (int kc = 0; kc < p.KC; kc++) for (int mi = 0; mi < c.Dm; mi++) {
            uint64_t off = p.w + ((((uint64_t)b * p.MT + mt) * p.KC + kc) * c.Dm + mi) * wb;
            for (int t = 0; t < c.Dk; t++) {
                int m = mt * c.Dm + mi, k = kc * c.Dk + t;
                uint32_t code = (m < L.M && k < L.K) ? L.Wc[(size_t)m * L.K + k] : 0;
                put_bit(mem, off, t, (code >> b) & 1);
            }
        }
    for (int b = 0; b < L.abits; b++)
        for (int nt = 0; nt < p.NT; nt++) for (int kc = 0; kc < p.KC; kc++) for (int ni = 0; ni < c.Dn; ni++) {
            uint64_t off = p.a + ((((uint64_t)b * p.NT + nt) * p.KC + kc) * c.Dn + ni) * wb;
            for (int t = 0; t < c.Dk; t++) {
                int n = nt * c.Dn + ni, k = kc * c.Dk + t;
                uint32_t code = (n < L.N && k < L.K) ? L.Ac[(size_t)k * L.N + n] : 0;
                put_bit(mem, off, t, (code >> b) & 1);
            }
        }
    for (int m = 0; m < p.MT * c.Dm; m++) {
        uint8_t *r = &mem[p.rq + 16 * m];
        GRec g = m < L.M ? L.rec[m] : GRec{0, 0, 0, 0, 0};
        memcpy(r, &g.bias, 4); memcpy(r + 4, &g.m_acc, 4); memcpy(r + 8, &g.m_res, 4);
        r[12] = g.z_w; r[13] = g.sh; r[14] = 0; r[15] = 0;
    }
    if (L.res)
        for (int mt = 0; mt < p.MT; mt++) for (int nt = 0; nt < p.NT; nt++) {
            uint64_t toff = p.res + (uint64_t)(nt * p.MT + mt) * L.rbits * c.TPB();
            for (int b = 0; b < L.rbits; b++)
                for (int ni = 0; ni < c.Dn; ni++) for (int mi = 0; mi < c.Dm; mi++) {
                    int m = mt * c.Dm + mi, n = nt * c.Dn + ni;
                    uint32_t code = (m < L.M && n < L.N) ? L.Rc[(size_t)m * L.N + n] : 0;
                    put_bit(mem, toff + (uint64_t)b * c.TPB(), ni * c.Dm + mi, (code >> b) & 1);
                }
        }
    return p;
}

struct Program { std::vector<Instr> f, e, r; };

// Scheduler: loop mt (outer), nt, kt (K split in chunks of at most `tk` K-chunks that fit a region).
// Weights stay in their region across nt when the whole K fits (KT == 1). Regions: 2 per buffer.
static inline Program schedule_layer(const HwCfg &c, const Layer &L, const Placement &p, int tk_max) {
    Program pr;
    const int wreg = c.WD / 2, areg = c.AD / 2;
    int tk = std::min(p.KC, std::min(wreg / L.wbits, areg / L.abits));
    if (tk_max > 0) tk = std::min(tk, tk_max);
    const int KT = (p.KC + tk - 1) / tk;
    const uint32_t wb = c.Dk / 8;
    const uint32_t wplane = (uint32_t)p.MT * p.KC * c.Dm * wb, aplane = (uint32_t)p.NT * p.KC * c.Dn * wb;
    // requant records of all channels: entries 0..MT-1 (must fit)
    pr.f.push_back(enc_fetch(true, false, false, 2, 1, p.rq, 0, 0, (uint32_t)p.MT));
    int step = 0, commits = 0;
    for (int mt = 0; mt < p.MT; mt++) for (int nt = 0; nt < p.NT; nt++) for (int kt = 0; kt < KT; kt++) {
        const int k0 = kt * tk, T = std::min(tk, p.KC - k0);
        const bool wfetch = (KT > 1) || nt == 0;
        const uint32_t wr = (uint32_t)((KT > 1 ? step : mt) % 2) * wreg, ar = (uint32_t)(step % 2) * areg;
        bool first = true;
        if (wfetch) {
            pr.f.push_back(enc_fetch(true, step >= 2, false, 0, L.wbits,
                                     p.w + (uint32_t)((mt * p.KC + k0) * c.Dm) * wb, wplane, wr, T));
            first = false;
        }
        pr.f.push_back(enc_fetch(true, first && step >= 2, true, 1, L.abits,
                                 p.a + (uint32_t)((nt * p.KC + k0) * c.Dn) * wb, aplane, ar, T));
        ExecArgs e;
        e.wait_filled = true; e.sig_freed = true;
        e.clear = kt == 0; e.commit = kt == KT - 1;
        e.wait_resfree = e.commit && commits >= 1; e.sig_resrdy = e.commit;
        e.wbits = L.wbits; e.abits = L.abits; e.ws = L.ws; e.as = L.as;
        e.wbase = wr; e.abase = ar; e.wstride = T; e.astride = T; e.nk = T;
        e.w0 = 0; e.wn = L.wbits; e.a0 = 0; e.an = L.abits; e.asum = true;
        pr.e.push_back(enc_exec(e));
        if (e.commit) {
            ResArgs r;
            r.wait_resrdy = true; r.sig_resfree = true; r.raw = L.raw; r.obits = L.obits;
            r.res = L.res; r.rbits = L.rbits; r.z_r = L.z_r; r.z_o = L.z_o; r.lo = L.lo; r.hi = L.hi;
            r.out_addr = p.out + (uint32_t)(nt * p.MT + mt) * p.tile_bytes;
            r.res_addr = p.res + (uint32_t)(nt * p.MT + mt) * (uint32_t)(L.rbits * c.TPB());
            r.rq_entry = (uint8_t)mt;
            pr.r.push_back(enc_result(r));
            commits++;
        }
        step++;
    }
    return pr;
}

// ---- reference memory (§4.1) ----
struct RefMem {
    std::vector<uint8_t> *mem; int W, Lr, Lw, Rr, Rw;
    bool busy = false, wr = false; long acc_cycle = 0; int n = 0, k = 0; uint32_t addr = 0;
    // Outputs for the current cycle, computed from state before the edge.
    void drive(long cyc, bool &req_ready, bool &rvalid, uint8_t *rdata, bool &wready, bool &wdone) const {
        req_ready = !busy; rvalid = false; wready = false; wdone = false;
        if (!busy) return;
        const int Wb = W / 8;
        if (!wr) {
            if (k < n && cyc == acc_cycle + Lr + (long)k * Rr) {
                rvalid = true;
                memcpy(rdata, &(*mem)[addr + (uint64_t)k * Wb], Wb);
            }
        } else {
            if (k < n && cyc == acc_cycle + 1 + (long)k * Rw) wready = true;
            if (k == n && cyc == acc_cycle + 1 + (long)(n - 1) * Rw + Lw) wdone = true;
        }
    }
    // Called after the edge of cycle cyc with what happened in it.
    void update(long cyc, bool req_fire, bool req_write, uint32_t req_addr, int req_beats,
                bool rvalid, bool wfire, const uint8_t *wdata, bool wdone) {
        const int Wb = W / 8;
        if (req_fire) { busy = true; wr = req_write; acc_cycle = cyc; n = req_beats; k = 0; addr = req_addr; return; }
        if (!busy) return;
        if (!wr && rvalid) { k++; if (k == n) busy = false; }
        if (wr && wfire) { memcpy(&(*mem)[addr + (uint64_t)k * Wb], wdata, Wb); k++; }
        if (wr && wdone) busy = false;
    }
};
