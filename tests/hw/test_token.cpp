// test_token -- bqa_token (token FIFO = counter) against a plain counter model: avail_o = count > 0,
// a token pushed in cycle c is visible from c+1, push and pop in one cycle keep the count. Random
// producer/consumer rates, directed runs up to the largest count (2^Bits - 1) and back to 0.
// Bits fixed at build time (-DTB_BITS). Usage: test_token [+full]
#include <memory>
#include "Vbqa_token.h"
#include "bqa_tb.h"

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_token>(ctx.get());
    TbReport rep("test_token");
    const int Bits = TB_BITS;
    const long maxc = (1L << Bits) - 1;
    const long cycles = tb_has_arg(argc, argv, "+full") ? 2000000 : 50000;
    TbRng rng(31 + Bits);
    m->rst_ni = 0; m->push_i = 0; m->pop_i = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    long cnt = 0, max_seen = 0, zero_seen = 0, both_at_max = 0;
    for (long c = 0; c < cycles; c++) {
        // phases of 4*2^Bits cycles: random / push only (fills) / both (at the top) / pop only
        int phase = (int)((c / (4 * (maxc + 1))) % 4);
        int p_push = phase == 3 ? 0 : phase == 1 ? 90 : phase == 2 ? 100 : rng.range(0, 100);
        int p_pop = phase == 1 ? 0 : phase == 3 ? 90 : phase == 2 ? 100 : rng.range(0, 100);
        bool pop = cnt > 0 && rng.range(1, 100) <= p_pop;
        bool push = (cnt < maxc || pop) && rng.range(1, 100) <= p_push;
        m->push_i = push; m->pop_i = pop;
        m->clk_i = 0; m->eval();
        rep.check(m->avail_o == (cnt > 0), "cycle %ld: avail %d, count %ld", c, m->avail_o, cnt);
        rep.check((long)m->count_o == cnt, "cycle %ld: count %ld, want %ld", c, (long)m->count_o, cnt);
        max_seen += cnt == maxc; zero_seen += cnt == 0; both_at_max += cnt == maxc && push && pop;
        m->clk_i = 1; m->eval();
        cnt += (long)push - (long)pop;
    }
    rep.check(max_seen > 0 && zero_seen > 0 && both_at_max > 0, "corners not reached: max %ld zero %ld push+pop at max %ld",
              max_seen, zero_seen, both_at_max);
    printf("test_token: Bits %d, %ld cycles (at max %ld, at 0 %ld)\n", Bits, cycles, max_seen, zero_seen);
    m->final();
    return rep.finish();
}
