// test_axil_regs -- bqa_axil_regs alone against a plain model of its register map: a seeded stream
// of AXI4-Lite reads and writes with AW and W presented independently and BREADY / RREADY dropped
// at random; bqa_top's registers (0x00..0x7C) answered by the harness; CTRL, BASE (reset value
// TB_BASE), instruction pushes (word 3 pushes words 0..3; a full FIFO drops it and sets ERR.2), ERR
// (sticky, write 1 to clear), QSTATUS, AXI_CFG, unmapped offsets (read 0) and the 4 KiB window.
// Also: one write per cycle while BREADY stays high.
#include <memory>
#include "Vbqa_axil_regs.h"
#include "bqa_tb.h"

static uint32_t top_reg(uint32_t a) { return 0xA5000000u ^ (a * 0x01010101u); }   // bqa_top stand-in

struct Model {
    uint32_t ctrl = 0, base_lo = (uint32_t)TB_BASE, base_hi = (uint32_t)(TB_BASE >> 32), err = 0;
    uint32_t stage[3][3] = {{0}};
    uint32_t read(uint32_t a, uint32_t qfree) const {
        if (a >= 0x100) return 0;
        if (a < 0x80) return top_reg(a);
        switch (a) {
        case 0x80: return ctrl; case 0x84: return qfree; case 0x88: return base_lo; case 0x8C: return base_hi;
        case 0xC0: return err; case 0xC4: return 32u << 24 | 1u << 16 | 256u;
        default: break;
        }
        for (int s = 0; s < 3; s++) for (int k = 0; k < 3; k++) if (a == 0x90u + 16u * s + 4u * k) return stage[s][k];
        return 0;
    }
};

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto dut = std::make_unique<Vbqa_axil_regs>(ctx.get());
    Vbqa_axil_regs *m = dut.get();
    TbReport rep("test_axil_regs");
    TbRng rng(4242);
    Model md;
    uint32_t qfree = 0x000305;   // fetch 5, execute 3, result 0 free entries
    long cyc = 0, pushes = 0;

    // one cycle; returns what handshook. The harness answers bqa_top's register port combinationally.
    struct Seen { bool w, ar, b, r; uint32_t rdata; int push; uint32_t pdata[4]; };
    auto tick = [&](bool rd_err, bool wr_err) {
        Seen s{};
        m->q_free_i = qfree; m->rd_err_i = rd_err; m->wr_err_i = wr_err;
        m->clk_i = 0; m->eval();
        m->reg_rdata_i = top_reg(m->reg_addr_o); m->eval();
        s.w = m->s_axil_awvalid_i && m->s_axil_awready_o;
        rep.check(s.w == (m->s_axil_wvalid_i && m->s_axil_wready_o), "AW and W taken together");
        s.ar = m->s_axil_arvalid_i && m->s_axil_arready_o;
        s.b = m->s_axil_bvalid_o && m->s_axil_bready_i;
        s.r = m->s_axil_rvalid_o && m->s_axil_rready_i; s.rdata = m->s_axil_rdata_o;
        rep.check(m->s_axil_bresp_o == 0 && m->s_axil_rresp_o == 0, "responses OKAY");
        s.push = m->push_o;
        for (int w = 0; w < 4; w++) s.pdata[w] = m->push_data_o[w];
        m->clk_i = 1; m->eval();
        cyc++;
        return s;
    };

    m->rst_ni = 0; m->s_axil_awvalid_i = m->s_axil_wvalid_i = m->s_axil_arvalid_i = 0;
    m->s_axil_bready_i = m->s_axil_rready_i = 0; m->s_axil_wstrb_i = 0xf;
    tick(0, 0); tick(0, 0);
    m->rst_ni = 1;
    rep.check(m->base_o == TB_BASE && !m->run_o && !m->reset_o, "reset values (BASE = parameter)");

    // ---- a random stream: writes and reads, independent AW/W timing, random back-pressure ----
    static const uint32_t offs[] = {0x00, 0x08, 0x40, 0x7C, 0x80, 0x84, 0x88, 0x8C, 0x90, 0x94, 0x98, 0x9C, 0xA0,
                                    0xA4, 0xA8, 0xAC, 0xB0, 0xB4, 0xB8, 0xBC, 0xC0, 0xC4, 0xC8, 0xFC, 0x100, 0x890};
    const int nops = 4000;
    int pending_b = 0;
    for (int op = 0; op < nops; op++) {
        uint32_t a = offs[rng.range(0, (int)(sizeof offs / sizeof offs[0]) - 1)];
        if (rng.range(0, 1)) {   // write
            uint32_t d = rng.u32();
            if (a == 0xC0) d = rng.u32() & 7u;
            if (a == 0x80) d &= 1u;        // keep reset low (it would not matter here; CTRL is plain)
            int aw_delay = rng.range(0, 2), w_delay = rng.range(0, 2);
            bool aw_done = false, err_pulse = rng.range(0, 7) == 0;
            Seen s{};
            for (int g = 0; !aw_done && g < 100; g++) {
                m->s_axil_awvalid_i = g >= aw_delay; m->s_axil_awaddr_i = a;
                m->s_axil_wvalid_i = g >= w_delay; m->s_axil_wdata_i = d;
                m->s_axil_bready_i = rng.range(0, 2) != 0;
                bool e = err_pulse && g == 0;
                s = tick(e && a != 0xC0, false);
                if (e && a != 0xC0) md.err |= 1u;
                pending_b -= s.b;
                aw_done = s.w;
            }
            m->s_axil_awvalid_i = m->s_axil_wvalid_i = 0;
            rep.check(aw_done, "write 0x%02x never taken", a);
            pending_b++;
            // model the write
            int sq = -1;
            for (int q = 0; q < 3; q++) if (a == 0x9Cu + 16u * q) sq = q;
            if (sq >= 0) {
                bool room = ((qfree >> (8 * sq)) & 0xffu) != 0;
                rep.check(s.push == (room ? 1 << sq : 0), "push of queue %d: push_o %d (room %d)", sq, s.push, room);
                if (room) {
                    pushes++;
                    rep.check(s.pdata[0] == md.stage[sq][0] && s.pdata[1] == md.stage[sq][1] &&
                              s.pdata[2] == md.stage[sq][2] && s.pdata[3] == d, "push data of queue %d", sq);
                } else md.err |= 4u;
            } else {
                rep.check(s.push == 0, "push_o %d on a write to 0x%02x", s.push, a);
                if (a == 0x80) md.ctrl = d & 3u;
                if (a == 0x88) md.base_lo = d;
                if (a == 0x8C) md.base_hi = d;
                if (a == 0xC0) md.err &= ~d;
                for (int q = 0; q < 3; q++) for (int k = 0; k < 3; k++) if (a == 0x90u + 16u * q + 4u * k) md.stage[q][k] = d;
            }
        } else {                 // read
            uint32_t want = md.read(a, qfree);
            Seen s{};
            bool ar_done = false, got = false;
            for (int g = 0; !got && g < 100; g++) {
                m->s_axil_arvalid_i = !ar_done && g >= rng.range(0, 1); m->s_axil_araddr_i = a;
                m->s_axil_rready_i = rng.range(0, 2) != 0;
                m->s_axil_bready_i = 1;
                s = tick(false, false);
                pending_b -= s.b;
                ar_done |= s.ar;
                if (s.r) { got = true; rep.check(s.rdata == want, "read 0x%03x = 0x%08x, want 0x%08x", a, s.rdata, want); }
            }
            m->s_axil_arvalid_i = 0;
            rep.check(got, "read 0x%03x never answered", a);
        }
        rep.check(m->run_o == (md.ctrl & 1u) && m->reset_o == ((md.ctrl >> 1) & 1u), "run/reset outputs vs CTRL");
        rep.check(m->base_o == ((uint64_t)md.base_hi << 32 | md.base_lo), "base_o vs BASE");
        if (op % 500 == 499) qfree = rng.u32() & 0x030303u;   // now and then a full FIFO
    }
    m->s_axil_bready_i = 1; m->s_axil_rready_i = 1;
    for (int g = 0; g < 4; g++) pending_b -= tick(false, false).b;
    rep.check(pending_b == 0, "write responses: %d missing", pending_b);

    // ---- a write error pulse sets ERR.1; W1C clears only the bits written ----
    tick(false, true); md.err |= 2u;
    // ---- throughput: 8 back-to-back writes with BREADY high take 8 cycles ----
    m->s_axil_awvalid_i = m->s_axil_wvalid_i = 1; m->s_axil_awaddr_i = 0x88; m->s_axil_bready_i = 1;
    int taken = 0;
    for (int g = 0; g < 8; g++) { m->s_axil_wdata_i = 0x1000u + g; taken += tick(false, false).w; }
    m->s_axil_awvalid_i = m->s_axil_wvalid_i = 0;
    tick(false, false);
    md.base_lo = 0x1007u;
    rep.check(taken == 8, "one write per cycle: %d of 8 taken", taken);
    rep.check(m->base_o == ((uint64_t)md.base_hi << 32 | md.base_lo), "BASE after the burst of writes");
    printf("test_axil_regs: %d operations, %ld pushes, %ld cycles, ERR model 0x%x\n", nops, pushes, cyc, md.err);
    dut->final();
    return rep.finish();
}
