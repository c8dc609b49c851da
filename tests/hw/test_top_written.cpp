// test_top_written -- the WRITTEN token FIFO of bqa_top with ISA v2 (WindowBytes, BlockChannels > 0;
// docs/whole_network.md §4.5, §10): a result RUNC with `flush` and `sig1` pushes WRITTEN at its wdone;
// a fetch SETUP with `wait1` must not dispatch before it. Checked at the memory port against the
// reference memory of docs/hw_isa.md §4.1: the fetch's read after the SETUP is requested exactly 3
// cycles after the result's wdone (token visible X+1, SETUP dispatched X+1 and complete X+2, RUN
// dispatched X+2, request X+3), no fetch read before; the written pixel block holds the codes of
// hw_model/codes.c's output stage for the array's result slot after reset (all zero sums). Scenario
// 2: the same without sig1: the fetch stays blocked (no read request, done never rises).
// Shape: tiny's parameters from hw_params.svh, -GWindowBytes / -GBlockChannels at build time.
#include <memory>
#include "Vbqa_top.h"
#include "bqa_prog.h"
#include "hw_params.h"
extern "C" {
#include "codes.h"
}

template <typename T> static void set_instr(T &sig, const Instr &i) {
    for (int w = 0; w < 4; w++) sig[w] = i.w[w];
}

static const uint32_t kRq = 0x100, kOut = 0x1000, kAct = 0x2000;

// one scenario; returns the number of failed checks reported into rep
static void scenario(TbReport &rep, bool sig1) {
    auto ctx = std::make_unique<VerilatedContext>();
    auto m = std::make_unique<Vbqa_top>(ctx.get());
    const int Dm = BQ_HW_DM, Dn = BQ_HW_DN, W = BQ_HW_MEM_WIDTH_BITS, Wb = W / 8;
    std::vector<uint8_t> mem(1 << 16, 0);
    // requant records of entry 0 (bank mi at kRq + mi*16): bias, m_acc, m_res, z_w | sh << 8
    std::vector<bq_codes_rq> rq(Dm);
    for (int mi = 0; mi < Dm; mi++) {
        rq[mi] = bq_codes_rq{1000 + 77 * mi, 1u << 20, 0, (uint8_t)(3 + mi), (uint8_t)(14 + mi)};
        uint32_t w[4] = {(uint32_t)rq[mi].bias_eff, rq[mi].m_acc, rq[mi].m_res, (uint32_t)rq[mi].z_w | (uint32_t)rq[mi].sh << 8};
        memcpy(&mem[kRq + 16 * mi], w, 16);
    }
    for (int i = 0; i < 256; i++) mem[kAct + i] = (uint8_t)(i * 7);
    // fetch: requant records, then the next layer's SETUP (wait1) and an activation fetch
    std::vector<Instr> f, r;
    f.push_back(enc_fetch(true, false, false, 2, 1, kRq, 0, 0, 1));
    Instr fs{};   // fetch SETUP: a 1x1 image, 1x1 kernel, 8-byte pixels, channel 0 (legal geometry)
    fs.w[0] = 2u | 1u << 9 | 1u << 16 | 1u << 20;
    fs.w[1] = 1u | 1u << 10 | 1u << 20;
    fs.w[2] = (uint32_t)Wb | 1u << 24;
    fs.w[3] = 0u | 1u << 12;
    f.push_back(fs);
    f.push_back(enc_fetch(true, false, false, 1, 1, kAct, 0, 0, 1));
    // result: SETUP (out_base, cs_out = Wb), RUNC of the whole block with first and flush (and sig1)
    Instr rs{};
    rs.w[0] = 2u; rs.w[1] = kOut; rs.w[2] = 0; rs.w[3] = (uint32_t)Wb;
    Instr rc{};
    rc.w[0] = 3u | (sig1 ? 1u << 13 : 0);
    rc.w[1] = 0;
    rc.w[2] = 0u | (uint32_t)(Dn - 1) << 12 | (uint32_t)(Dm - 1) << 19 | 1u << 26 | 1u << 27;
    rc.w[3] = 5u | 0u << 8 | 255u << 16 | 0u << 24;
    r.push_back(rs); r.push_back(rc);

    m->rst_ni = 0; m->run_i = 0; m->fq_valid_i = m->eq_valid_i = m->rq_valid_i = 0;
    m->mem_req_ready_i = 0; m->mem_rvalid_i = 0; m->mem_wready_i = 0; m->mem_wdone_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    RefMem rm{&mem, W, 12, 12, 1, 1};
    uint8_t rdata[16] = {0}, wdata[16] = {0};
    size_t fi = 0, ri = 0;
    long wdone_c = -1, rq_read_c = -1, act_read_c = -1, n_reads = 0, cyc = 0;
    bool done_seen = false;
    m->run_i = 1;
    const long max_c = 3000;
    for (; cyc < max_c; cyc++) {
        m->fq_valid_i = fi < f.size(); if (m->fq_valid_i) set_instr(m->fq_data_i, f[fi]);
        // the result program is pushed once the requant records are in (RUNC reads them at dispatch)
        m->rq_valid_i = ri < r.size() && cyc >= 200; if (m->rq_valid_i) set_instr(m->rq_data_i, r[ri]);
        bool req_ready, rvalid, wready, wdone;
        rm.drive(cyc, req_ready, rvalid, rdata, wready, wdone);
        m->mem_req_ready_i = req_ready; m->mem_rvalid_i = rvalid; m->mem_wready_i = wready; m->mem_wdone_i = wdone;
        if (rvalid) for (int w = 0; w < W / 32; w++) { uint32_t v; memcpy(&v, rdata + 4 * w, 4); tb_set_bits(m->mem_rdata_i, 32 * w, 32, v); }
        m->clk_i = 0; m->eval();
        if (m->done_o && fi == f.size() && ri == r.size() && !rm.busy) { done_seen = true; break; }
        bool req_fire = m->mem_req_valid_o && req_ready;
        if (req_fire && !m->mem_req_write_o) {
            n_reads++;
            if (m->mem_req_addr_o == kRq) rq_read_c = cyc;
            if (m->mem_req_addr_o == kAct) act_read_c = cyc;
        }
        if (m->mem_req_valid_o && !m->mem_req_write_o && m->mem_req_addr_o == kAct && act_read_c < 0) act_read_c = cyc;
        if (wdone) wdone_c = cyc;
        bool req_write = m->mem_req_write_o; uint32_t req_addr = m->mem_req_addr_o; int req_beats = m->mem_req_beats_o;
        bool wfire = m->mem_wvalid_o && wready;
        if (wfire) for (int w = 0; w < W / 32; w++) { uint32_t v = (uint32_t)tb_get_bits(m->mem_wdata_o, 32 * w, 32); memcpy(wdata + 4 * w, &v, 4); }
        bool fp = m->fq_valid_i && m->fq_ready_o, rp = m->rq_valid_i && m->rq_ready_o;
        m->clk_i = 1; m->eval();
        fi += fp; ri += rp;
        rm.update(cyc, req_fire, req_write, req_addr, req_beats, rvalid, wfire, wdata, wdone);
    }
    rep.check(rq_read_c >= 0 && rq_read_c < 200, "sig1 %d: requant fetch requested in cycle %ld", sig1, rq_read_c);
    rep.check(wdone_c > 200, "sig1 %d: the RUNC's write completed in cycle %ld", sig1, wdone_c);
    if (sig1) {
        rep.check(act_read_c == wdone_c + 3, "sig1 1: fetch read after WRITTEN requested in cycle %ld, want wdone %ld + 3",
                  act_read_c, wdone_c);
        rep.check(n_reads == 2, "sig1 1: %ld reads, want 2 (requant records, activations)", n_reads);
        rep.check(done_seen, "sig1 1: the accelerator did not finish (done_o)");
    } else {
        rep.check(act_read_c < 0 && n_reads == 1, "sig1 0: fetch passed its wait1 without a WRITTEN token (read in %ld)",
                  act_read_c);
        rep.check(!done_seen, "sig1 0: done_o rose with the fetch SETUP still waiting for WRITTEN");
    }
    // the written block: codes of the output stage for zero sums (the slot after reset), bytes [0, Dm)
    for (int ni = 0; ni < Dn; ni++)
        for (int mi = 0; mi < Dm; mi++) {
            uint8_t want = bq_codes_requant(0, 0, &rq[mi], 0, 0, 0, 5, 0, 255);
            rep.check(mem[kOut + ni * Wb + mi] == want, "sig1 %d: output pixel %d channel %d = %d want %d", sig1, ni, mi,
                      mem[kOut + ni * Wb + mi], want);
        }
    printf("test_top_written: sig1 %d: requant read %ld, RUNC wdone %ld, activation read %ld, %ld cycles%s\n", sig1,
           rq_read_c, wdone_c, act_read_c, cyc, done_seen ? ", done" : " (blocked)");
    m->final();
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    TbReport rep("test_top_written");
    scenario(rep, true);
    scenario(rep, false);
    return rep.finish();
}
