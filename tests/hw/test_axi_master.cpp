// test_axi_master -- bqa_axi_master alone: random read and write transactions (1..600 beats, start
// addresses near 4 KiB boundaries, random 64-bit base) from a driver that behaves like bqa_top's
// port (docs/hw_isa.md §4.1) against the AXI memory model of bqa_axi_mem.h.
//   fixed latency:  every beat at the cycle the latency model assumes for the shell: read beat k
//                   of a transaction accepted in a at a + 1 + Lr + k*Rr; write beat k accepted at
//                   a + 1 + k*Rw; wdone at a + 1 + (n-1)*Rw + Lw; bursts as split by the rules
//                   (MaxBurst, 4 KiB); data exact, no other byte written.
//   random latency: READY/VALID drops on every slave channel, per-burst jitter, gaps in the
//                   driver's write data: data exact, protocol checks clean, every transaction ends.
//   error responses: an RRESP / BRESP of SLVERR raises rd_err_o / wr_err_o once.
// Parameters: TB_W (data bits), TB_AB (address bits), TB_ID, TB_MB (MaxBurst).
#include <memory>
#include "Vbqa_axi_master.h"
#include "bqa_axi_mem.h"

struct Bench {
    Vbqa_axi_master *m; AxiMem *mem; long cyc = 0;
    int force_rresp = 0, force_bresp = 0;   // next R beat / B response gets this response code
    bool rd_err = false, wr_err = false;
    // outputs of the master sampled in the last tick
    bool rvalid = false, wready = false, wdone = false, req_ready = false; uint8_t rdata[16] = {0};

    void tick() {
        mem->draw();
        AxiSlaveOut so = mem->drive(cyc);
        axi_drive_master_port(m, so, TB_W, so.rvalid ? force_rresp : 0, so.bvalid ? force_bresp : 0);
        m->clk_i = 0; m->eval();
        AxiMasterOut mo = axi_sample_master_port(m, TB_W);
        rvalid = m->rvalid_o; wready = m->wready_o; wdone = m->wdone_o; req_ready = m->req_ready_o;
        rd_err |= m->rd_err_o; wr_err |= m->wr_err_o;
        for (int w = 0; w < TB_W / 32; w++) {
            uint32_t v = (uint32_t)tb_get_bits(m->rdata_o, 32 * w, 32);
            memcpy(rdata + 4 * w, &v, 4);
        }
        if (so.rvalid && mo.rready && force_rresp) force_rresp = 0;
        if (so.bvalid && mo.bready && force_bresp) force_bresp = 0;
        m->clk_i = 1; m->eval();
        mem->update(cyc, so, mo);
        cyc++;
    }
};

// Bursts the rules give for n beats from AXI address addr.
static long expected_bursts(uint64_t addr, long n, int Wb) {
    long b = 0;
    while (n > 0) {
        long to4k = (long)((4096 - (addr & 4095)) / (uint64_t)Wb);
        long len = std::min(std::min(n, (long)TB_MB), to4k);
        addr += (uint64_t)len * Wb; n -= len; b++;
    }
    return b;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto dut = std::make_unique<Vbqa_axi_master>(ctx.get());
    Vbqa_axi_master *m = dut.get();
    TbReport rep("test_axi_master");
    const int Wb = TB_W / 8;
    const size_t MEM = 64 * 1024;
    TbRng rng(7 + TB_W + TB_MB);
    printf("test_axi_master: W %d, address %d bits, ID %d bits, MaxBurst %d\n", TB_W, TB_AB, TB_ID, TB_MB);

    for (int mode = 0; mode < 3; mode++) {
        AxiMemCfg mc;
        mc.Wb = Wb; mc.Lr = mode == 2 ? 3 : 12; mc.Lw = mode == 2 ? 1 : 9; mc.Rr = mode == 2 ? 2 : 1; mc.Rw = mode == 2 ? 3 : 1;
        const bool random = mode == 1;
        if (random) { mc.jitter = 6; mc.p_stall = 0.3; mc.max_run = 4; mc.seed = 99; }
        uint64_t base = (rng.next() & ~(uint64_t)0xffff) & (TB_AB >= 64 ? ~0ull : ((1ull << TB_AB) - 1));
        std::vector<uint8_t> mem(MEM), want;
        for (auto &b : mem) b = (uint8_t)rng.u32();
        want = mem;
        AxiMem am(mc, &mem, base);
        Bench b{m, &am};
        m->rst_ni = 0; m->req_valid_i = 0; m->wvalid_i = 0;
        m->base_i = base;
        b.tick(); b.tick();
        m->rst_ni = 1;
        long bursts_want_rd = 0, bursts_want_wr = 0, late = 0;
        const int ntr = 60;
        for (int tr = 0; tr < ntr; tr++) {
            bool write = rng.range(0, 1);
            long n = rng.range(0, 3) == 0 ? rng.range(1, 4) : rng.range(1, 600);
            // start near a 4 KiB boundary half of the time
            long page = rng.range(0, 10);
            long off = rng.range(0, 1) ? 4096 - Wb * rng.range(1, 40) : Wb * rng.range(0, 4096 / Wb - 1);
            uint32_t addr = (uint32_t)(page * 4096 + off);
            if (addr + n * Wb > MEM) n = (long)(MEM - addr) / Wb;
            (write ? bursts_want_wr : bursts_want_rd) += expected_bursts(base + addr, n, Wb);
            // error response on one transaction of each kind in the fixed mode
            if (mode == 0 && tr == 10) b.force_rresp = 2;
            if (mode == 0 && tr == 11) b.force_bresp = 2;
            // present the request until accepted
            m->req_valid_i = 1; m->req_write_i = write; m->req_addr_i = addr; m->req_beats_i = (uint16_t)n;
            m->wvalid_i = 0;
            long a = -1;
            for (int g = 0; g < 1000 && a < 0; g++) { long c = b.cyc; b.tick(); if (b.req_ready) a = c; }
            m->req_valid_i = 0;
            if (!rep.check(a >= 0, "transaction %d: request not accepted", tr)) break;
            long k = 0, end = -1;
            for (long g = 0; g < 100000 && end < 0; g++) {
                long c = b.cyc;
                // bqa_result offers write data from the cycle after the accept (gaps only when random)
                bool offer = write && k < n && (!random || rng.range(0, 3) != 0);
                m->wvalid_i = offer;
                for (int w = 0; w < TB_W / 32; w++)
                    tb_set_bits(m->wdata_i, 32 * w, 32, (uint32_t)(0x9e3779b9u * (uint32_t)(tr * 1000 + k) + w));
                b.tick();
                if (!write && b.rvalid) {
                    bool ok = memcmp(b.rdata, &want[addr + (size_t)k * Wb], Wb) == 0;
                    rep.check(ok, "mode %d tr %d: read beat %ld data", mode, tr, k);
                    if (!random && c != a + 1 + mc.Lr + k * mc.Rr) late++;
                    if (++k == n) end = c;
                }
                if (write && offer && b.wready) {
                    for (int w = 0; w < TB_W / 32; w++) {
                        uint32_t v = 0x9e3779b9u * (uint32_t)(tr * 1000 + k) + (uint32_t)w;
                        memcpy(&want[addr + (size_t)k * Wb + 4 * w], &v, 4);
                    }
                    if (!random && c != a + 1 + k * mc.Rw) late++;
                    k++;
                }
                if (write && b.wdone) {
                    rep.check(k == n, "mode %d tr %d: wdone after %ld of %ld beats", mode, tr, k, n);
                    if (!random && c != a + 1 + (n - 1) * mc.Rw + mc.Lw) late++;
                    end = c;
                }
            }
            m->wvalid_i = 0;
            rep.check(end >= 0, "mode %d tr %d: %s of %ld beats never completed", mode, tr, write ? "write" : "read", n);
            if (end < 0) break;
            // idle gap of 0..2 cycles as between bqa_top's transactions
            for (int g = rng.range(0, 2); g > 0; g--) b.tick();
        }
        for (int g = 0; g < 50; g++) b.tick();
        rep.check(am.errors == 0, "mode %d: AXI protocol: %ld errors, first: %s", mode, am.errors, am.first_error.c_str());
        rep.check(am.idle(), "mode %d: transactions left open in the memory model", mode);
        rep.check(mem == want, "mode %d: memory differs from the expected writes", mode);
        rep.check(am.rd_bursts == bursts_want_rd && am.wr_bursts == bursts_want_wr,
                  "mode %d: bursts %ld/%ld, split rules say %ld/%ld", mode, am.rd_bursts, am.wr_bursts,
                  bursts_want_rd, bursts_want_wr);
        if (!random) rep.check(late == 0, "mode %d: %ld beats off the fixed-latency timing", mode, late);
        if (mode == 0) rep.check(b.rd_err && b.wr_err, "error responses: rd_err %d wr_err %d", b.rd_err, b.wr_err);
        else rep.check(!b.rd_err && !b.wr_err, "mode %d: error pulse without an error response", mode);
        printf("  mode %s: %d transactions, %ld read / %ld write bursts, %ld cycles\n",
               mode == 1 ? "random" : "fixed", ntr, am.rd_bursts, am.wr_bursts, b.cyc);
    }
    dut->final();
    return rep.finish();
}
