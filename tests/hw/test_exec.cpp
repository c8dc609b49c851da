// test_exec -- bqa_exec (execute-stage controller) against a plain model of docs/hw_isa.md §3.2 and
// §4.3, cycle by cycle: dispatch (queue head, FILLED token, free stage), beats d+1 .. d+N-1, the last
// beat held until a RESFREE token if wait1, back-to-back dispatch in the completion cycle, the loop
// order (ii, jj, kc), bank addresses (mod depth), shift i+j, sign-plane negation, clear on the first
// beat, asum on ii == 0, commit and RESRDY on the last beat, FREED push, token pops, SYNC as one
// empty beat, and the busy/idle/stall/active classes. Instructions arrive at random times, tokens
// from random producers. Bank depths fixed at build time (-DTB_WAB, -DTB_AAB: address bits).
// Usage: test_exec [+full] [+v2=setup|+v2=runc]
#include <memory>
#include "Vbqa_exec.h"
#include "bqa_stage_env.h"

struct ExecModel {
    bool active = false, first = false;
    ExecArgs a; bool run = false; uint32_t junk = 0;
    long N = 0, b = 0;
};

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_exec>(ctx.get());
    TbReport rep("test_exec");
    const bool full = tb_has_arg(argc, argv, "+full");
    const int WAB = TB_WAB, AAB = TB_AAB;
    TbRng rng(2024 + WAB);
    const int n_ins = full ? 40000 : 3000;

    // ---- instruction stream: RUNs with random fields in the legal ranges, SYNCs with junk fields ----
    TbQueue q;
    std::vector<ExecArgs> args;
    for (int k = 0; k < n_ins; k++) {
        ExecArgs e;
        e.run = rng.range(0, 5) != 0;
        e.wait_filled = rng.range(0, 2) == 0; e.wait_resfree = rng.range(0, 2) == 0;
        e.sig_freed = rng.range(0, 1); e.sig_resrdy = rng.range(0, 1);
        e.clear = rng.range(0, 1); e.commit = rng.range(0, 1); e.asum = rng.range(0, 1);
        e.wbits = rng.range(1, 8); e.abits = rng.range(1, 8); e.ws = rng.range(0, 1); e.as = rng.range(0, 1);
        e.w0 = rng.range(0, e.wbits - 1); e.wn = rng.range(1, e.wbits - e.w0);
        e.a0 = rng.range(0, e.abits - 1); e.an = rng.range(1, e.abits - e.a0);
        e.nk = rng.range(0, 9) == 0 ? (uint32_t)rng.range(1, 70) : (uint32_t)rng.range(1, 3);
        e.wbase = rng.u32() & 0xffff; e.abase = rng.u32() & 0xffff;
        e.wstride = rng.range(0, 1) ? rng.u32() & 0xffff : (uint32_t)rng.range(1, 9);
        e.astride = rng.range(0, 1) ? rng.u32() & 0xffff : (uint32_t)rng.range(1, 9);
        if (k < 8) { e.wbits = e.abits = 8; e.w0 = e.a0 = 0; e.wn = e.an = 8; e.ws = e.as = true; e.run = true; }
        Instr in = enc_exec(e);
        if (!e.run) {   // SYNC: only wait*/sig* count; every other field is junk (reserved bits 0)
            in.w[0] |= rng.u32() & 0x37ff0000u; in.w[1] = rng.u32(); in.w[2] = rng.u32();
            in.w[3] = rng.u32() & 0x77770000u; in.w[3] |= rng.range(1, 5);
        }
        q.ins.push_back(in); args.push_back(e);
    }
    tb_v2_first(argc, argv, q);   // +v2=...: the RTL must refuse it (its assertion stops the run)
    TbTokens filled(10, 2), resfree(4, 2);

    m->rst_ni = 0; m->run_i = 0; m->head_valid_i = 0; m->filled_avail_i = 0; m->resfree_avail_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    ExecModel s;
    long c = 0, beats = 0, holds = 0, b2b = 0, last_complete = -5;
    const long max_c = 200L * n_ins + 100000;
    for (; c < max_c && !(q.done() && !s.active); c++) {
        bool run_i = c >= 5;                      // a few cycles with run_i = 0 first: no dispatch
        bool hv = q.valid(c);
        m->run_i = run_i; m->head_valid_i = hv;
        if (hv) tb_set_instr(m->head_i, q.front()); else tb_set_instr(m->head_i, Instr{{rng.u32(), rng.u32(), rng.u32(), rng.u32()}});
        m->filled_avail_i = filled.avail(); m->resfree_avail_i = resfree.avail();
        m->clk_i = 0; m->eval();
        // ---- model: this cycle ----
        bool at_last = s.active && s.b == s.N - 1;
        bool hold = s.active && at_last && s.a.wait_resfree && !resfree.avail();
        bool beat = s.active && !hold;
        bool last = beat && at_last;
        bool free = !s.active || last;
        const ExecArgs *h = hv ? &args[q.head] : nullptr;
        bool dispatch = run_i && hv && free && (!h->wait_filled || filled.avail());
        rep.check(m->pop_o == dispatch, "cycle %ld: pop %d want %d", c, m->pop_o, dispatch);
        rep.check(m->filled_pop_o == (dispatch && h->wait_filled), "cycle %ld: filled_pop %d", c, m->filled_pop_o);
        rep.check(m->resfree_pop_o == (last && s.a.wait_resfree), "cycle %ld: resfree_pop %d", c, m->resfree_pop_o);
        rep.check(m->freed_push_o == (last && s.a.sig_freed), "cycle %ld: freed_push %d", c, m->freed_push_o);
        rep.check(m->iss_valid_o == beat, "cycle %ld: iss_valid %d want %d", c, m->iss_valid_o, beat);
        rep.check(m->re_o == (beat && s.run), "cycle %ld: re %d", c, m->re_o);
        if (beat) {
            const ExecArgs &e = s.a;
            long kc = 0, jj = 0, ii = 0;
            if (s.run) { kc = s.b % e.nk; jj = (s.b / e.nk) % e.an; ii = s.b / (e.nk * e.an); }
            rep.check(m->iss_en_o == s.run, "cycle %ld: en %d", c, m->iss_en_o);
            rep.check(m->iss_clear_o == (s.run && e.clear && s.b == 0), "cycle %ld: clear %d (beat %ld)", c, m->iss_clear_o, s.b);
            rep.check(m->iss_commit_o == (s.run && e.commit && last), "cycle %ld: commit %d", c, m->iss_commit_o);
            rep.check(m->iss_resrdy_o == (e.sig_resrdy && last), "cycle %ld: resrdy %d", c, m->iss_resrdy_o);
            rep.check(m->iss_asum_en_o == (s.run && e.asum && ii == 0), "cycle %ld: asum_en %d", c, m->iss_asum_en_o);
            if (s.run) {
                int i = e.w0 + (int)ii, j = e.a0 + (int)jj;
                uint32_t wa = (e.wbase + (uint32_t)ii * e.wstride + (uint32_t)kc) & ((1u << WAB) - 1);
                uint32_t aa = (e.abase + (uint32_t)jj * e.astride + (uint32_t)kc) & ((1u << AAB) - 1);
                bool neg = ((i == e.wbits - 1) && e.ws) != ((j == e.abits - 1) && e.as);
                rep.check(m->waddr_o == wa, "cycle %ld: waddr %u want %u (ii %ld kc %ld)", c, (unsigned)m->waddr_o, wa, ii, kc);
                rep.check(m->aaddr_o == aa, "cycle %ld: aaddr %u want %u (jj %ld kc %ld)", c, (unsigned)m->aaddr_o, aa, jj, kc);
                rep.check(m->iss_shift_o == i + j, "cycle %ld: shift %d want %d", c, m->iss_shift_o, i + j);
                rep.check(m->iss_neg_o == neg, "cycle %ld: neg %d want %d", c, m->iss_neg_o, neg);
                rep.check(m->iss_asum_shift_o == j, "cycle %ld: asum_shift %d want %d", c, m->iss_asum_shift_o, j);
                rep.check(m->iss_asum_neg_o == (j == e.abits - 1 && e.as), "cycle %ld: asum_neg %d", c, m->iss_asum_neg_o);
            }
        }
        bool busy = beat || dispatch, stall = !busy && (hold || hv), idle = !busy && !stall;
        if (run_i) {
            rep.check(m->busy_o == busy && m->stall_o == stall && m->idle_o == idle,
                      "cycle %ld: class busy/stall/idle %d%d%d want %d%d%d", c, m->busy_o, m->stall_o, m->idle_o, busy, stall, idle);
        }
        rep.check(m->active_o == s.active, "cycle %ld: active %d", c, m->active_o);
        m->clk_i = 1; m->eval();
        // ---- model: end of cycle ----
        bool fpop = dispatch && h->wait_filled, rpop = last && s.a.wait_resfree;
        filled.step(fpop, rng);
        resfree.step(rpop, rng);
        beats += beat && s.run; holds += hold;
        if (beat) { s.b++; if (last) { s.active = false; last_complete = c; } }
        if (dispatch) {
            if (last_complete == c) b2b++;
            s.active = true; s.a = *h; s.run = h->run; s.b = 0;
            s.N = h->run ? (long)h->nk * h->wn * h->an : 1;
            q.pop(c, rng);
        }
    }
    rep.check(q.done() && !s.active, "time-out after %ld cycles (%zu of %zu instructions)", c, q.head, q.ins.size());
    rep.check(holds > 10 && b2b > 10, "corners not reached: held last beats %ld, back-to-back %ld", holds, b2b);
    printf("test_exec: %d instructions, %ld cycles, %ld RUN beats, %ld held cycles, %ld back-to-back dispatches\n",
           n_ins, c, beats, holds, b2b);
    m->final();
    return rep.finish();
}
