// test_ram -- bqa_ram_1r1w (bank RAM) against a plain array model: a write in cycle c is readable
// from c+1; read data appears in the cycle after re_i and holds while re_i = 0. Random and
// sequential addresses, writes and reads in the same cycle (different addresses: a same-address
// collision is illegal and asserted in the RTL), reads of every row after a full fill.
// Width/Depth fixed at build time (-DTB_WIDTH, -DTB_DEPTH). Usage: test_ram [+full]
#include <memory>
#include <vector>
#include "Vbqa_ram_1r1w.h"
#include "bqa_tb.h"

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_ram_1r1w>(ctx.get());
    TbReport rep("test_ram");
    const int W = TB_WIDTH, D = TB_DEPTH, NW = (W + 63) / 64;
    const long cycles = tb_has_arg(argc, argv, "+full") ? 1000000 : 40000;
    TbRng rng(11 + W + D);
    std::vector<uint64_t> mem((size_t)D * NW, 0);
    std::vector<bool> known(D, false);
    std::vector<uint64_t> rdata(NW, 0);
    bool rknown = false;
    auto mask = [&](int i) { int n = W - 64 * i; return n >= 64 ? ~0ull : (1ull << n) - 1; };
    m->we_i = 0; m->re_i = 0; tb_tick(m.get());
    long reads = 0, both = 0;
    for (long c = 0; c < cycles; c++) {
        // phase 0: fill every row in order; then random mixes; every 4096 cycles a sequential read sweep
        bool fill = c < D, sweep = !fill && (c % 4096) < (long)D;
        int waddr = fill ? (int)c : rng.range(0, D - 1);
        int raddr = sweep ? (int)(c % 4096) : rng.range(0, D - 1);
        bool we = fill || (!sweep && rng.range(0, 2) == 0);
        bool re = sweep || rng.range(0, 1) == 0;
        if (we && re && waddr == raddr) we = false;     // collisions are outside the contract
        std::vector<uint64_t> wd(NW);
        for (int i = 0; i < NW; i++) wd[i] = rng.next() & mask(i);
        m->we_i = we; m->re_i = re; m->waddr_i = waddr; m->raddr_i = raddr;
        for (int i = 0; i < NW; i++) tb_set_bits(m->wdata_i, 64 * i, W - 64 * i < 64 ? W - 64 * i : 64, wd[i]);
        m->clk_i = 0; m->eval();
        if (rknown) {
            bool ok = true;
            for (int i = 0; i < NW; i++) ok &= tb_get_bits(m->rdata_o, 64 * i, W - 64 * i < 64 ? W - 64 * i : 64) == rdata[i];
            rep.check(ok, "cycle %ld: rdata differs from the model", c);
        }
        m->clk_i = 1; m->eval();
        if (re) {
            rknown = known[raddr];
            for (int i = 0; i < NW; i++) rdata[i] = mem[(size_t)raddr * NW + i];
            reads++;
        }
        if (we) {
            for (int i = 0; i < NW; i++) mem[(size_t)waddr * NW + i] = wd[i];
            known[waddr] = true;
        }
        both += we && re;
    }
    printf("test_ram: W %d D %d, %ld cycles, %ld reads (%ld with a write in the same cycle)\n", W, D, cycles, reads, both);
    m->final();
    return rep.finish();
}
