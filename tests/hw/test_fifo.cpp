// test_fifo -- bqa_fifo (show-ahead instruction queue) against a plain bounded-queue model.
// Every cycle: ready_o = !full, valid_o = !empty, count_o = size, head_o = oldest entry (an entry
// pushed in cycle c is at the head from c+1). Random producer/consumer rates (back-pressure both
// ways), directed fill-to-full / drain-to-empty phases, push and pop in the same cycle at every
// fill level. Width/Depth fixed at build time (-DTB_WIDTH, -DTB_DEPTH). Usage: test_fifo [+full]
#include <deque>
#include <memory>
#include <vector>
#include "Vbqa_fifo.h"
#include "bqa_tb.h"

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_fifo>(ctx.get());
    TbReport rep("test_fifo");
    const int W = TB_WIDTH, D = TB_DEPTH;
    const long cycles = tb_has_arg(argc, argv, "+full") ? 2000000 : 50000;
    TbRng rng(7 + W * 131 + D);
    typedef std::vector<uint64_t> Word;   // W bits in 64-bit pieces
    auto rand_word = [&]() { Word w((W + 63) / 64); for (auto &x : w) x = rng.next(); return w; };

    m->rst_ni = 0; m->push_i = 0; m->pop_i = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    std::deque<Word> q;
    long full_seen = 0, empty_seen = 0, both_seen = 0;
    for (long c = 0; c < cycles; c++) {
        // phases of 64 cycles: 0 = random, 1 = producer only (fills), 2 = consumer only (drains),
        // 3 = both every cycle they may
        int phase = (int)((c / 64) % 4);
        int p_push = phase == 2 ? 0 : phase == 3 ? 100 : rng.range(0, 100);
        int p_pop = phase == 1 ? 0 : phase == 3 ? 100 : rng.range(0, 100);
        bool full = (int)q.size() == D, empty = q.empty();
        bool push = !full && rng.range(1, 100) <= p_push;
        bool pop = !empty && rng.range(1, 100) <= p_pop;
        Word d = rand_word();
        m->push_i = push; m->pop_i = pop;
        for (int i = 0; i < W; i += 64) tb_set_bits(m->data_i, i, W - i < 64 ? W - i : 64, d[i / 64]);
        m->clk_i = 0; m->eval();
        // outputs of this cycle (state at its start)
        rep.check(m->ready_o == !full, "cycle %ld: ready %d, size %zu", c, m->ready_o, q.size());
        rep.check(m->valid_o == !empty, "cycle %ld: valid %d, size %zu", c, m->valid_o, q.size());
        rep.check((long)m->count_o == (long)q.size(), "cycle %ld: count %ld, size %zu", c, (long)m->count_o, q.size());
        if (!empty) {
            bool ok = true;
            for (int i = 0; i < W; i += 64) {
                int n = W - i < 64 ? W - i : 64;
                uint64_t want = q.front()[i / 64] & (n == 64 ? ~0ull : (1ull << n) - 1);
                ok &= tb_get_bits(m->head_o, i, n) == want;
            }
            rep.check(ok, "cycle %ld: head differs from the oldest entry (size %zu)", c, q.size());
        }
        full_seen += full; empty_seen += empty; both_seen += push && pop;
        m->clk_i = 1; m->eval();
        if (pop) q.pop_front();
        if (push) q.push_back(d);
    }
    // (a 1-deep queue can never push and pop in one cycle: full when it holds an entry)
    rep.check(full_seen > 0 && empty_seen > 0 && (both_seen > 0 || D == 1), "corners not reached: full %ld empty %ld push+pop %ld",
              full_seen, empty_seen, both_seen);
    printf("test_fifo: W %d D %d, %ld cycles (full %ld, empty %ld, push+pop %ld)\n", W, D, cycles, full_seen,
           empty_seen, both_seen);
    m->final();
    return rep.finish();
}
