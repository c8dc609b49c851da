// bqa_axi_mem.h -- an AXI4 memory slave model for the AXI shell's harnesses (test_axi_master,
// test_axi_top). Byte memory at AXI address `base`; INCR bursts; in-order (one ID).
//
// Fixed mode (jitter = 0, p_stall = 0) has the timing the latency model assumes for the shell
// (docs/hw_rtl.md "AXI shell"): ARREADY / AWREADY always 1; the first R beat of a burst Lr cycles
// after its AR handshake, the next beats Rr cycles apart (a burst starts no earlier than Rr after
// the previous burst's last beat); a W beat accepted at most every Rw cycles; B Lw cycles after the
// burst's last W beat (and after its AW).
// Random mode (seeded, deterministic): every READY / VALID the slave drives (ARREADY, AWREADY,
// WREADY, RVALID, BVALID) is dropped with probability p_stall in each cycle, at most max_run cycles
// in a row; every burst's latency (AR -> first R, last W -> B) gets 0..jitter extra cycles.
// Protocol checks (WLAST position, addresses inside memory, 4 KiB crossing, burst type) count as
// errors in `errors` with the first message in `first_error`.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <vector>
#include "bqa_tb.h"

struct AxiMemCfg {
    int Wb = 8;                // bytes per beat
    int Lr = 12, Lw = 12, Rr = 1, Rw = 1;
    int jitter = 0;            // extra latency per burst: 0..jitter cycles
    double p_stall = 0.0;      // probability of a dropped READY/VALID in a cycle, per channel
    int max_run = 3;           // at most this many dropped cycles in a row per channel
    uint64_t seed = 1;
};

// The slave's outputs for one cycle (computed before the edge from state).
struct AxiSlaveOut {
    bool arready = false, awready = false, wready = false;
    bool rvalid = false, rlast = false; uint8_t rdata[16] = {0};
    bool bvalid = false;
};
// The master's outputs sampled in the same cycle.
struct AxiMasterOut {
    bool arvalid = false; uint64_t araddr = 0; int arlen = 0, arsize = 0, arburst = 0;
    bool awvalid = false; uint64_t awaddr = 0; int awlen = 0, awsize = 0, awburst = 0;
    bool wvalid = false, wlast = false; uint8_t wdata[16] = {0}; uint32_t wstrb = 0;
    bool rready = false, bready = false;
};

// The two ends of one cycle on a verilated AXI4 master port (any model with the m_axi_* ports of
// bqa_axi_master / bqa_axi_top), data_bits wide: the slave's outputs onto the port's inputs with
// the given response codes, and the port's outputs as the slave's input.
template <class V> void axi_drive_master_port(V *m, const AxiSlaveOut &so, int data_bits, int rresp,
                                              int bresp) {
    m->m_axi_arready_i = so.arready; m->m_axi_awready_i = so.awready; m->m_axi_wready_i = so.wready;
    m->m_axi_rvalid_i = so.rvalid; m->m_axi_rlast_i = so.rlast; m->m_axi_rresp_i = rresp; m->m_axi_rid_i = 0;
    m->m_axi_bvalid_i = so.bvalid; m->m_axi_bresp_i = bresp; m->m_axi_bid_i = 0;
    for (int w = 0; w < data_bits / 32; w++) {
        uint32_t v; memcpy(&v, so.rdata + 4 * w, 4);
        tb_set_bits(m->m_axi_rdata_i, 32 * w, 32, v);
    }
}
template <class V> AxiMasterOut axi_sample_master_port(V *m, int data_bits) {
    AxiMasterOut mo;
    mo.arvalid = m->m_axi_arvalid_o; mo.araddr = m->m_axi_araddr_o; mo.arlen = m->m_axi_arlen_o;
    mo.arsize = m->m_axi_arsize_o; mo.arburst = m->m_axi_arburst_o;
    mo.awvalid = m->m_axi_awvalid_o; mo.awaddr = m->m_axi_awaddr_o; mo.awlen = m->m_axi_awlen_o;
    mo.awsize = m->m_axi_awsize_o; mo.awburst = m->m_axi_awburst_o;
    mo.wvalid = m->m_axi_wvalid_o; mo.wlast = m->m_axi_wlast_o; mo.wstrb = (uint32_t)m->m_axi_wstrb_o;
    for (int w = 0; w < data_bits / 32; w++) {
        uint32_t v = (uint32_t)tb_get_bits(m->m_axi_wdata_o, 32 * w, 32);
        memcpy(mo.wdata + 4 * w, &v, 4);
    }
    mo.rready = m->m_axi_rready_o; mo.bready = m->m_axi_bready_o;
    return mo;
}

struct AxiMem {
    struct Burst { uint64_t addr; int len; long t; int jit; };
    AxiMemCfg cfg;
    uint8_t *mem; size_t mem_size; uint64_t base;   // mem_size bytes at AXI address base
    TbRng rng;
    std::deque<Burst> ar, aw;          // accepted address requests not yet finished
    std::deque<Burst> wq;              // W side: bursts whose data is being accepted (from aw)
    int r_k = 0;                       // beats sent of ar.front()
    long r_next = 0, w_next = 0;       // earliest cycle of the next R beat / accepted W beat
    int w_k = 0;                       // W beats accepted of the current W burst
    std::deque<std::vector<uint8_t>> wdata_wait;   // W beats that ran ahead of their AW
    std::deque<bool> wlast_wait;
    std::deque<long> b_at;             // cycles from which each pending B may be sent
    int run[5] = {0, 0, 0, 0, 0};      // dropped cycles in a row: AR, AW, W, R, B
    bool drop[5] = {false, false, false, false, false};
    long errors = 0; std::string first_error;
    long rd_bursts = 0, wr_bursts = 0, rd_beats = 0, wr_beats = 0;

    AxiMem(const AxiMemCfg &c, std::vector<uint8_t> *m, uint64_t b) : AxiMem(c, m->data(), m->size(), b) {}
    AxiMem(const AxiMemCfg &c, uint8_t *m, size_t n, uint64_t b) : cfg(c), mem(m), mem_size(n), base(b), rng(c.seed) {}

    void fail(const char *what, uint64_t addr) {
        if (!errors++) {
            char b[200]; snprintf(b, sizeof b, "%s (address 0x%llx)", what, (unsigned long long)addr);
            first_error = b;
        }
    }
    uint8_t *at(uint64_t addr) {
        if (addr < base || addr - base + cfg.Wb > mem_size) { fail("access outside memory", addr); return nullptr; }
        return mem + (addr - base);
    }
    // Draw this cycle's dropped channels (once per cycle, before drive()).
    void draw() {
        for (int ch = 0; ch < 5; ch++) {
            bool d = cfg.p_stall > 0 && run[ch] < cfg.max_run && (rng.next() % 1000000) < cfg.p_stall * 1e6;
            drop[ch] = d;
            run[ch] = d ? run[ch] + 1 : 0;
        }
    }
    int jit() { return cfg.jitter ? (int)(rng.next() % (uint64_t)(cfg.jitter + 1)) : 0; }

    AxiSlaveOut drive(long cyc) {
        AxiSlaveOut o;
        o.arready = !drop[0];
        o.awready = !drop[1];
        o.wready = !drop[2] && cyc >= w_next;
        if (!ar.empty() && !drop[3]) {
            const Burst &b = ar.front();
            long first = b.t + cfg.Lr + b.jit;
            if (cyc >= r_next && (r_k > 0 || cyc >= first)) {
                uint8_t *p = at(b.addr + (uint64_t)r_k * cfg.Wb);
                o.rvalid = true;
                o.rlast = r_k == b.len - 1;
                if (p) memcpy(o.rdata, p, cfg.Wb);
            }
        }
        o.bvalid = !b_at.empty() && cyc >= b_at.front() && !drop[4];
        return o;
    }
    // Checks an address request: INCR, full-width beats, inside one 4 KiB page.
    void check_burst(uint64_t addr, int len, int size, int burst) {
        if (burst != 1) fail("burst type not INCR", addr);
        if ((1 << size) != cfg.Wb) fail("AxSIZE is not the data width", addr);
        if (addr % cfg.Wb) fail("unaligned burst", addr);
        if ((addr & 4095) + (uint64_t)(len + 1) * cfg.Wb > 4096) fail("burst crosses a 4 KiB boundary", addr);
    }
    // Commits W beats whose AW is known; schedules B after a burst's last beat (accepted in cyc).
    void drain_w(long cyc) {
        while (!wq.empty() && !wdata_wait.empty()) {
            Burst &b = wq.front();
            uint8_t *p = at(b.addr + (uint64_t)w_k * cfg.Wb);
            if (p) memcpy(p, wdata_wait.front().data(), cfg.Wb);
            bool last = wlast_wait.front();
            wdata_wait.pop_front(); wlast_wait.pop_front();
            if (last != (w_k == b.len - 1)) fail("WLAST not on the burst's last beat", b.addr);
            if (++w_k == b.len) {
                long t = cyc + cfg.Lw + jit();
                if (t < b.t + 1) t = b.t + 1;
                b_at.push_back(t);
                wq.pop_front(); w_k = 0;
            }
        }
    }
    // After the edge of cycle cyc: what was exchanged in it.
    void update(long cyc, const AxiSlaveOut &s, const AxiMasterOut &m) {
        if (m.arvalid && s.arready) {
            check_burst(m.araddr, m.arlen, m.arsize, m.arburst);
            ar.push_back({m.araddr, m.arlen + 1, cyc, jit()}); rd_bursts++;
        }
        if (s.rvalid && m.rready) {
            r_next = cyc + cfg.Rr; rd_beats++;
            if (++r_k == ar.front().len) { ar.pop_front(); r_k = 0; }
        }
        if (m.awvalid && s.awready) {
            check_burst(m.awaddr, m.awlen, m.awsize, m.awburst);
            wq.push_back({m.awaddr, m.awlen + 1, cyc, 0}); wr_bursts++;
        }
        if (m.wvalid && s.wready) {
            if (m.wstrb != (cfg.Wb == 16 ? 0xffffu : (1u << cfg.Wb) - 1)) fail("partial WSTRB", 0);
            wdata_wait.emplace_back(m.wdata, m.wdata + cfg.Wb);
            wlast_wait.push_back(m.wlast);
            w_next = cyc + cfg.Rw; wr_beats++;
        }
        drain_w(cyc);
        if (s.bvalid && m.bready) b_at.pop_front();
    }
    bool idle() const { return ar.empty() && wq.empty() && wdata_wait.empty() && b_at.empty(); }
};
