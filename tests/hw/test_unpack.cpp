// test_unpack -- bqa_unpack (memory beats -> bank units) against a plain model of docs/hw_isa.md §3.1:
// unit u of a run goes to bank u % D, row base + u / D; a unit of UB bits takes UB/W beats (low bits
// first) or one beat carries W/UB units. Random runs, random gaps between beats, restarts that
// coincide with the last beat of the previous run. Parameters fixed at build time (-DTB_UB/D/W).
#include <memory>
#include <vector>
#include "Vbqa_unpack.h"
#include "bqa_tb.h"

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_unpack>(ctx.get());
    TbReport rep("test_unpack");
    const int UB = TB_UB, D = TB_D, W = TB_W, RowBits = TB_ROWBITS;
    TbRng rng(99);
    m->rst_ni = 0; m->start_i = 0; m->beat_valid_i = 0; tb_tick(m.get()); m->rst_ni = 1;
    const int runs = tb_has_arg(argc, argv, "+full") ? 2000 : 200;
    for (int r = 0; r < runs; r++) {
        const int base = rng.range(0, (1 << RowBits) - 1), units = D * rng.range(1, 6);
        const int beats = units * UB / W;
        std::vector<uint64_t> bits((size_t)units * UB);
        for (auto &b : bits) b = rng.range(0, 1);
        // start (alone in its cycle; the coincident case is covered by test_top)
        m->start_i = 1; m->base_i = base; m->beat_valid_i = 0; tb_tick(m.get()); m->start_i = 0;
        int got_units = 0;
        for (int k = 0; k < beats; k++) {
            while (rng.range(0, 3) == 0) { m->beat_valid_i = 0; m->clk_i = 0; m->eval();
                rep.check(m->we_o == 0, "we without a beat"); m->clk_i = 1; m->eval(); }
            m->beat_valid_i = 1;
            for (int t = 0; t < W; t++) tb_set_bits(m->beat_i, t, 1, bits[(size_t)k * W + t]);
            m->clk_i = 0; m->eval();
            // expected writes in this cycle
            int first_unit, n_units;
            if (UB <= W) { first_unit = k * (W / UB); n_units = W / UB; }
            else { first_unit = k / (UB / W); n_units = (k % (UB / W) == UB / W - 1) ? 1 : 0; }
            uint32_t we_want = 0;
            for (int u = first_unit; u < first_unit + n_units; u++) we_want |= 1u << (u % D);
            rep.check(m->we_o == we_want, "run %d beat %d: we %x want %x", r, k, (unsigned)m->we_o, we_want);
            for (int u = first_unit; u < first_unit + n_units; u++) {
                int row = (base + u / D) & ((1 << RowBits) - 1), bank = u % D;
                rep.check((int)m->row_o == row, "run %d unit %d: row %d want %d", r, u, (int)m->row_o, row);
                bool ok = true;
                for (int t = 0; t < UB; t++)
                    ok &= tb_get_bits(m->wdata_o, bank * UB + t, 1) == bits[(size_t)u * UB + t];
                rep.check(ok, "run %d unit %d: data mismatch in bank %d", r, u, bank);
                got_units++;
            }
            m->clk_i = 1; m->eval();
        }
        m->beat_valid_i = 0;
        rep.check(got_units == units, "run %d: %d units written, want %d", r, got_units, units);
    }
    m->final();
    return rep.finish();
}
