// bqa_stage_env.h -- environment pieces shared by the stage harnesses (test_fetch, test_exec,
// test_result): an instruction queue whose entries arrive at random times (the head is held stable
// until popped, as bqa_fifo does), and a token FIFO fed by a random producer.
#pragma once
#include <vector>
#include "bqa_prog.h"

struct TbQueue {
    std::vector<Instr> ins;
    size_t head = 0;
    long ready_at = 0;                      // the head is visible from this cycle
    bool valid(long c) const { return head < ins.size() && c >= ready_at; }
    const Instr &front() const { return ins[head]; }
    // pop in cycle c; the next entry shows up after a random gap (0 most of the time)
    void pop(long c, TbRng &rng) { head++; ready_at = c + 1 + (rng.range(0, 5) == 0 ? rng.range(1, 6) : 0); }
    bool done() const { return head == ins.size(); }
};

template <typename T> static inline void tb_set_instr(T &sig, const Instr &i) {
    for (int w = 0; w < 4; w++) tb_set_bits(sig, 32 * w, 32, i.w[w]);
}

struct TbTokens {
    long cnt = 0;
    int rate, cap;                          // percent chance of a new token per cycle while cnt < cap
    TbTokens(int r, int c) : rate(r), cap(c) {}
    bool avail() const { return cnt > 0; }
    void step(bool popped, TbRng &rng) { cnt += (cnt < cap && rng.range(1, 100) <= rate) - (popped ? 1 : 0); }
};

// +v2=setup / +v2=runc / +v2=win (docs/hw_isa.md §3.5): instruction 0 becomes an ISA v2 one (op SETUP
// (2) or RUNC (3), or a fetch RUN with target WIN (3)). The v1 stage must stop on its illegal-op /
// illegal-target assertion at that dispatch (make test-hw-v2-refused). Returns whether one was set.
static inline bool tb_v2_first(int argc, char **argv, TbQueue &q) {
    uint32_t &w0 = q.ins[0].w[0];
    if (tb_has_arg(argc, argv, "+v2=setup")) w0 = (w0 & ~0xfu) | 2u;
    else if (tb_has_arg(argc, argv, "+v2=runc")) w0 = (w0 & ~0xfu) | 3u;
    else if (tb_has_arg(argc, argv, "+v2=win")) w0 = (w0 & ~0x3000fu) | 1u | 3u << 16;
    else return false;
    return true;
}
