// test_mem_arb -- bqa_mem_arb (the one memory port, docs/hw_isa.md §4.1) against a plain model:
// one transaction at a time, busy from the cycle after acceptance through the completion cycle
// (last read beat, or wdone), a request can be presented in the cycle after completion, the result
// stage wins over the fetch stage, read beats are routed to the owner. Requesters hold their request
// until granted (valid/ready) and change it randomly otherwise; the memory accepts with random
// ready, returns read beats with random gaps and pulses wdone after a random delay. Every output is
// predicted every cycle. Usage: test_mem_arb [+full]
#include <memory>
#include "Vbqa_mem_arb.h"
#include "bqa_tb.h"

struct Req { bool valid = false, write = false; uint32_t addr = 0; uint16_t beats = 1; };

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_mem_arb>(ctx.get());
    TbReport rep("test_mem_arb");
    const long cycles = tb_has_arg(argc, argv, "+full") ? 2000000 : 60000;
    TbRng rng(77);
    m->rst_ni = 0; m->f_req_valid_i = 0; m->r_req_valid_i = 0; m->mem_req_ready_i = 0;
    m->mem_rvalid_i = 0; m->mem_wdone_i = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    // model state (docs/hw_isa.md §4.1)
    bool busy = false, owner_r = false, wr = false;
    long rem = 0, wdone_in = 0;
    Req f, r;
    long grants_f = 0, grants_r = 0, contended = 0, back_to_back = 0, last_done = -5;
    auto new_req = [&](Req &q, bool can_write) {
        q.valid = rng.range(0, 2) == 0;
        q.write = can_write && rng.range(0, 1);
        q.addr = rng.u32();
        q.beats = (uint16_t)(rng.range(0, 7) == 0 ? rng.range(1, 300) : rng.range(1, 4));
    };
    for (long c = 0; c < cycles; c++) {
        // requesters: a pending (presented, not granted) request stays; otherwise a new random one
        if (!f.valid) new_req(f, false);
        if (!r.valid) new_req(r, true);
        // memory: random request-ready; read beats / wdone only inside a transaction of that kind
        bool ready = rng.range(0, 3) != 0;
        bool rvalid = busy && !wr && rng.range(0, 2) != 0;
        bool wdone = busy && wr && wdone_in == 0;
        m->f_req_valid_i = f.valid; m->f_req_addr_i = f.addr; m->f_req_beats_i = f.beats;
        m->r_req_valid_i = r.valid; m->r_req_write_i = r.write; m->r_req_addr_i = r.addr;
        m->r_req_beats_i = r.beats;
        m->mem_req_ready_i = ready; m->mem_rvalid_i = rvalid; m->mem_wdone_i = wdone;
        m->clk_i = 0; m->eval();
        // ---- prediction ----
        bool pv = !busy && (f.valid || r.valid);
        bool sel_r = r.valid;
        const Req &s = sel_r ? r : f;
        bool accept = pv && ready;
        rep.check(m->mem_req_valid_o == pv, "cycle %ld: req_valid %d want %d", c, m->mem_req_valid_o, pv);
        if (pv) {
            rep.check(m->mem_req_write_o == (sel_r && s.write), "cycle %ld: write %d", c, m->mem_req_write_o);
            rep.check(m->mem_req_addr_o == s.addr, "cycle %ld: addr %08x want %08x", c, m->mem_req_addr_o, s.addr);
            rep.check(m->mem_req_beats_o == s.beats, "cycle %ld: beats %d want %d", c, m->mem_req_beats_o, s.beats);
        }
        rep.check(m->f_grant_o == (accept && !sel_r), "cycle %ld: f_grant %d", c, m->f_grant_o);
        rep.check(m->r_grant_o == (accept && sel_r), "cycle %ld: r_grant %d", c, m->r_grant_o);
        rep.check(m->f_rvalid_o == (rvalid && !owner_r), "cycle %ld: f_rvalid %d", c, m->f_rvalid_o);
        rep.check(m->r_rvalid_o == (rvalid && owner_r), "cycle %ld: r_rvalid %d", c, m->r_rvalid_o);
        rep.check(m->busy_o == busy, "cycle %ld: busy %d want %d", c, m->busy_o, busy);
        m->clk_i = 1; m->eval();
        // ---- model update ----
        if (busy) {
            if (!wr && rvalid && --rem == 0) { busy = false; last_done = c; }
            if (wr) { if (wdone) { busy = false; last_done = c; } else wdone_in--; }
        } else if (accept) {
            if (c == last_done + 1) back_to_back++;
            if (f.valid && r.valid) contended++;
            busy = true; owner_r = sel_r; wr = sel_r && s.write; rem = s.beats;
            wdone_in = rng.range(0, 3) == 0 ? rng.range(0, 40) : rng.range(0, 3);
            if (sel_r) { grants_r++; r.valid = false; } else { grants_f++; f.valid = false; }
        }
        // a requester not granted may withdraw/replace its request only if it was not presented
        // (the stages hold a presented request): keep it.
    }
    rep.check(grants_f > 100 && grants_r > 100 && contended > 10 && back_to_back > 10,
              "corners not reached: grants f %ld r %ld, contended %ld, back-to-back %ld", grants_f, grants_r,
              contended, back_to_back);
    printf("test_mem_arb: %ld cycles, grants fetch %ld result %ld, contended %ld, back-to-back %ld\n", cycles,
           grants_f, grants_r, contended, back_to_back);
    m->final();
    return rep.finish();
}
