// test_dpu -- bqa_dpu against the golden DPU (AND, popcount, shift, negate, clear, commit).
// Usage: test_dpu [+full]. Dk is fixed at build time (-DTB_DK).
#include <memory>
#include "Vbqa_dpu.h"
#include "bqa_tb.h"

#ifndef TB_DK
#define TB_DK 32
#endif

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_dpu>(ctx.get());
    TbReport rep("test_dpu");
    const bool full = tb_has_arg(argc, argv, "+full");
    const long iters = full ? 2000000 : 100000;
    TbRng rng(1234);

    m->rst_ni = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    uint32_t acc = 0, res = 0, pc = 0;   // golden state (pc = the DPU's stage-1 register)
    // pc after reset is unknown in the RTL until the first edge with defined words: prime it.
    m->s2_valid_i = 0;
    for (int b = 0; b < TB_DK; b++) { tb_set_bits(m->w_i, b, 1, 0); tb_set_bits(m->a_i, b, 1, 0); }
    tb_tick(m.get());
    for (long it = 0; it < iters; it++) {
        // operand patterns: random, all ones, sparse, zeros
        int pat = rng.range(0, 9);
        int cnt = 0;
        for (int b = 0; b < TB_DK; b++) {
            int wb, ab;
            if (pat == 0) { wb = 1; ab = 1; }
            else if (pat == 1) { wb = 0; ab = rng.range(0, 1); }
            else if (pat == 2) { wb = rng.range(0, 7) == 0; ab = 1; }
            else { wb = rng.range(0, 1); ab = rng.range(0, 1); }
            tb_set_bits(m->w_i, b, 1, wb); tb_set_bits(m->a_i, b, 1, ab);
            cnt += wb & ab;
        }
        int valid = rng.range(0, 9) != 0, clear = rng.range(0, 9) == 0, en = rng.range(0, 9) != 0;
        int neg = rng.range(0, 2) == 0, shift = rng.range(0, 14), commit = rng.range(0, 4) == 0;
        m->s2_valid_i = valid; m->s2_clear_i = clear; m->s2_en_i = en; m->s2_neg_i = neg;
        m->s2_shift_i = shift; m->s2_commit_i = commit;
        tb_tick(m.get());
        if (valid) {
            uint32_t term = en ? (pc << shift) : 0;
            if (neg) term = (uint32_t)(-(int64_t)term);
            acc = (clear ? 0 : acc) + term;
            if (commit) res = acc;
        }
        pc = (uint32_t)cnt;
        rep.check(m->acc_o == acc && m->res_o == res, "it %ld: acc %08x res %08x, want %08x %08x",
                  it, (unsigned)m->acc_o, (unsigned)m->res_o, acc, res);
    }
    m->final();
    return rep.finish();
}
