// test_result -- bqa_result (result-stage controller, requant lanes, packing) against a plain model of
// docs/hw_isa.md §1 (output numerics, g_requant in int64), §2.4 (requant records, entry rq_entry of
// every bank), §3.3 and §4.4, cycle by cycle: dispatch (queue head, RESRDY token, free stage),
// requant RAM read in the dispatch cycle (the banks are scribbled over afterwards: later contents
// must not matter), residual read from d+1 held until granted, compute s .. s+C-1 with C = 6*Dm*Dn/L,
// RESFREE in s+C-1, write request from s+C, write beats under random wready, completion on wdone
// (next dispatch in the same cycle), SYNC, busy/idle/stall/active; and every written beat bit-exact
// (tile planes with obits planes, or RAW32 acc0). The result slot (res_i, asum_i) changes at random
// while the stage does not own it. Shape fixed at build time (-DTB_DM/DN/W/L/QAB).
// Usage: test_result [+full] [+v2=setup|+v2=runc]
#include <memory>
#include "Vbqa_result.h"
#include "bqa_stage_env.h"

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_result>(ctx.get());
    TbReport rep("test_result");
    const bool full = tb_has_arg(argc, argv, "+full");
    const int Dm = TB_DM, Dn = TB_DN, W = TB_W, L = TB_L, QAB = TB_QAB;
    const int E = Dm * Dn, TpbW = (E + W - 1) / W, TpbB = TpbW * W, C = 6 * E / L, QD = 1 << QAB;
    TbRng rng(4242 + E + W + L);
    const int n_ins = full ? 4000 : 300;

    TbQueue q;
    std::vector<ResArgs> args;
    for (int k = 0; k < n_ins; k++) {
        ResArgs r;
        r.run = rng.range(0, 4) != 0; r.wait_resrdy = rng.range(0, 2) == 0; r.sig_resfree = rng.range(0, 1);
        r.raw = rng.range(0, 3) == 0; r.obits = rng.range(1, 8); r.res = rng.range(0, 1); r.rbits = rng.range(1, 8);
        r.z_r = (uint8_t)rng.range(0, 255); r.out_addr = rng.u32(); r.res_addr = rng.u32();
        r.z_o = (uint8_t)rng.range(0, 255);
        int lo = rng.range(0, 255), hi = rng.range(0, 255);
        if (rng.range(0, 2) != 0 && lo > hi) std::swap(lo, hi);   // mostly lo <= hi; sometimes crossed
        if (rng.range(0, 3) == 0) { lo = 0; hi = (1 << r.obits) - 1; }
        r.lo = (uint8_t)lo; r.hi = (uint8_t)hi; r.rq_entry = (uint8_t)rng.range(0, QD - 1);
        Instr in = enc_result(r);
        if (!r.run) { in.w[0] |= rng.u32() & 0xffff0000u; in.w[1] = rng.u32(); in.w[2] = rng.u32(); in.w[3] = rng.u32(); }
        q.ins.push_back(in); args.push_back(r);
    }
    tb_v2_first(argc, argv, q);   // +v2=...: the RTL must refuse it (its assertion stops the run)
    TbTokens resrdy(6, 2);

    // requant banks: Dm banks x QD entries x 128 bits (4 words)
    std::vector<uint32_t> bank((size_t)Dm * QD * 4);
    auto rand_rec = [&](uint32_t *w) {
        w[0] = rng.u32();                                                    // bias
        w[1] = rng.range(0, 7) == 0 ? (rng.range(0, 1) ? 0x7fffffffu : 0u) : rng.u32() >> rng.range(0, 31);
        w[2] = rng.u32() >> rng.range(0, 31);                                // m_res
        uint32_t sh = (uint32_t)rng.range(1, 62);
        if (rng.range(0, 1)) sh = (uint32_t)rng.range(24, 40);               // shifts that keep q in range
        w[3] = (uint32_t)rng.range(0, 255) | sh << 8 | (rng.u32() & 0xffffc000u);   // z_w, sh, junk above
    };
    for (size_t i = 0; i < bank.size(); i += 4) rand_rec(&bank[i]);
    std::vector<uint32_t> qrd((size_t)Dm * 4, 0);   // registered read data of the banks
    std::vector<uint32_t> slot_res(E), slot_asum(Dn);
    auto rand_slot = [&]() {
        for (auto &v : slot_res) v = rng.range(0, 3) == 0 ? (rng.range(0, 1) ? 0x80000000u : 0x7fffffffu) : rng.u32() >> rng.range(0, 31);
        for (auto &v : slot_asum) v = rng.u32() >> rng.range(0, 31);
    };
    rand_slot();

    m->rst_ni = 0; m->run_i = 0; m->head_valid_i = 0; m->resrdy_avail_i = 0; m->req_grant_i = 0;
    m->rvalid_i = 0; m->wready_i = 0; m->wdone_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    enum { RI, RRREQ, RRDATA, RCOMP, RWREQ, RWDATA, RWWAIT, RSYNC } st = RI;
    ResArgs cur{};
    std::vector<uint32_t> rec_at_dispatch((size_t)Dm * 4);
    std::vector<uint64_t> rbuf(((size_t)8 * TpbB + 63) / 64), obeats;   // bit arrays, beat k at k*W
    long bcnt = 0, nr = 0, nw = 0, comp_left = 0, gap = 0, wdone_in = 0;
    long c = 0, n_runs = 0, n_res = 0, n_raw = 0, b2b = 0, waits = 0, last_complete = -5, wbeats_total = 0;
    const int NW64 = (W + 63) / 64;
    auto build_output = [&]() {   // the tile the stage must write, from the model
        obeats.assign(((size_t)(cur.raw ? E * 32 / W : cur.obits * TpbW) * W + 63) / 64, 0);
        for (int ni = 0; ni < Dn; ni++) for (int mi = 0; mi < Dm; mi++) {
            int e = ni * Dm + mi;
            const uint32_t *w = &rec_at_dispatch[(size_t)mi * 4];
            GRec r{(int32_t)w[0], w[1], w[2], (uint8_t)(w[3] & 0xff), (uint8_t)((w[3] >> 8) & 0x3f)};
            uint32_t qr = 0;
            if (cur.res) for (int b = 0; b < cur.rbits; b++) {
                long bit = (long)b * TpbB + e;
                qr |= (uint32_t)((rbuf[bit / 64] >> (bit % 64)) & 1) << b;
            }
            int32_t acc0;
            int64_t qv = g_requant((int32_t)slot_res[(size_t)mi * Dn + ni], (int32_t)slot_asum[ni], r, cur.res,
                                   (uint8_t)qr, cur.z_r, cur.z_o, cur.lo, cur.hi, &acc0);
            if (cur.raw) {
                for (int b = 0; b < 32; b++) {
                    long bit = (long)e * 32 + b;
                    obeats[bit / 64] |= (uint64_t)(((uint32_t)acc0 >> b) & 1) << (bit % 64);
                }
            } else {
                for (int b = 0; b < cur.obits; b++) {
                    long bit = (long)b * TpbB + e;
                    obeats[bit / 64] |= (uint64_t)((qv >> b) & 1) << (bit % 64);
                }
            }
        }
    };
    const long max_c = 3000L * n_ins + 10000;
    for (; c < max_c && !(q.done() && st == RI); c++) {
        bool hv = q.valid(c);
        bool grant = (st == RRREQ || st == RWREQ) && rng.range(0, 99) < 50;
        bool rvalid = st == RRDATA && gap == 0;
        bool wready = st == RWDATA && rng.range(0, 2) != 0;
        bool wdone = st == RWWAIT && wdone_in == 0;
        std::vector<uint64_t> rd(NW64);
        for (auto &x : rd) x = rng.next();
        m->run_i = c >= 4; m->head_valid_i = hv;
        tb_set_instr(m->head_i, hv ? q.front() : Instr{{rng.u32(), rng.u32(), rng.u32(), rng.u32()}});
        m->resrdy_avail_i = resrdy.avail(); m->req_grant_i = grant; m->rvalid_i = rvalid; m->wready_i = wready;
        m->wdone_i = wdone;
        for (int i = 0; i < W; i += 64) tb_set_bits(m->rdata_i, i, W - i < 64 ? W - i : 64, rd[i / 64]);
        for (int i = 0; i < Dm * 4; i++) tb_set_bits(m->q_rdata_i, 32 * i, 32, qrd[i]);
        for (int i = 0; i < E; i++) tb_set_bits(m->res_i, 32 * i, 32, slot_res[i]);
        for (int i = 0; i < Dn; i++) tb_set_bits(m->asum_i, 32 * i, 32, slot_asum[i]);
        m->clk_i = 0; m->eval();
        // ---- model: this cycle ----
        bool comp_last = st == RCOMP && comp_left == 1;
        bool complete = (st == RWWAIT && wdone) || st == RSYNC;
        bool free = st == RI || complete;
        const ResArgs *h = hv ? &args[q.head] : nullptr;
        bool dispatch = c >= 4 && hv && free && (!h->wait_resrdy || resrdy.avail());
        bool waiting = (st == RRREQ || st == RWREQ) && !grant;
        rep.check(m->pop_o == dispatch, "cycle %ld: pop %d want %d", c, m->pop_o, dispatch);
        rep.check(m->resrdy_pop_o == (dispatch && h->wait_resrdy), "cycle %ld: resrdy_pop %d", c, m->resrdy_pop_o);
        rep.check(m->resfree_push_o == ((comp_last || st == RSYNC) && cur.sig_resfree), "cycle %ld: resfree_push %d", c, m->resfree_push_o);
        rep.check(m->q_re_o == dispatch, "cycle %ld: q_re %d", c, m->q_re_o);
        if (dispatch && h->run)
            rep.check(m->q_raddr_o == h->rq_entry, "cycle %ld: q_raddr %d want %d", c, m->q_raddr_o, h->rq_entry);
        rep.check(m->req_valid_o == (st == RRREQ || st == RWREQ), "cycle %ld: req_valid %d (state %d)", c, m->req_valid_o, (int)st);
        if (st == RRREQ || st == RWREQ) {
            bool wr = st == RWREQ;
            rep.check(m->req_write_o == wr, "cycle %ld: req_write %d", c, m->req_write_o);
            rep.check(m->req_addr_o == (wr ? cur.out_addr : cur.res_addr), "cycle %ld: req_addr %08x", c, m->req_addr_o);
            rep.check(m->req_beats_o == (wr ? nw : nr), "cycle %ld: req_beats %d want %ld", c, m->req_beats_o, wr ? nw : nr);
        }
        rep.check(m->wvalid_o == (st == RWDATA), "cycle %ld: wvalid %d", c, m->wvalid_o);
        if (st == RWDATA) {
            bool ok = true;
            for (int b = 0; b < W; b++) {      // beat k = bits k*W .. k*W+W-1 of the tile
                long bit = bcnt * W + b;
                ok &= tb_get_bits(m->wdata_o, b, 1) == ((obeats[bit / 64] >> (bit % 64)) & 1);
            }
            rep.check(ok, "cycle %ld: write beat %ld of %ld differs (%s, obits %d, res %d)", c, bcnt, nw,
                      cur.raw ? "RAW32" : "planes", cur.obits, cur.res);
        }
        if (c >= 4) {
            bool busy = (st != RI && !waiting) || dispatch, stall = waiting || (st == RI && hv && !dispatch);
            rep.check(m->busy_o == busy && m->stall_o == stall && m->idle_o == (!busy && !stall),
                      "cycle %ld: class busy/stall/idle %d%d%d want %d%d", c, m->busy_o, m->stall_o, m->idle_o, busy, stall);
        }
        rep.check(m->active_o == (st != RI), "cycle %ld: active %d", c, m->active_o);
        const bool q_re = m->q_re_o; const uint32_t q_raddr = m->q_raddr_o;
        m->clk_i = 1; m->eval();
        // ---- model + environment: end of cycle ----
        if (q_re) for (int i = 0; i < Dm * 4; i++)   // the banks: registered read of q_raddr_o
            qrd[i] = bank[((size_t)(i / 4) * QD + (q_raddr & (QD - 1))) * 4 + i % 4];
        auto next = st;
        switch (st) {
        case RRREQ: if (grant) { next = RRDATA; bcnt = 0; gap = rng.range(0, 2) == 0 ? rng.range(0, 8) : 0; } break;
        case RRDATA:
            if (rvalid) {
                for (int b = 0; b < W; b++) {   // beat k holds bits k*W .. k*W+W-1 of the residual planes
                    long bit = bcnt * W + b;
                    rbuf[bit / 64] |= ((rd[b / 64] >> (b % 64)) & 1) << (bit % 64);
                }
                if (++bcnt == nr) { next = RCOMP; comp_left = C; }
                gap = rng.range(0, 3) == 0 ? rng.range(1, 4) : 0;
            } else gap--;
            break;
        case RCOMP: if (--comp_left == 0) next = RWREQ; break;
        case RWREQ: if (grant) { next = RWDATA; bcnt = 0; } break;
        case RWDATA: if (wready) { wbeats_total++; if (++bcnt == nw) { next = RWWAIT; wdone_in = rng.range(0, 2) == 0 ? rng.range(0, 15) : 0; } } break;
        case RWWAIT: if (wdone) { next = RI; last_complete = c; } else wdone_in--; break;
        case RSYNC: next = RI; last_complete = c; break;
        default: break;
        }
        st = next;
        waits += waiting;
        bool rpop = dispatch && h->wait_resrdy;
        if (dispatch) {
            if (last_complete == c) b2b++;
            cur = *h;
            if (cur.run) {
                n_runs++; n_res += cur.res; n_raw += cur.raw;
                for (int mi = 0; mi < Dm; mi++) for (int i = 0; i < 4; i++)
                    rec_at_dispatch[(size_t)mi * 4 + i] = bank[((size_t)mi * QD + cur.rq_entry) * 4 + i];
                nr = (long)cur.rbits * TpbW; nw = cur.raw ? (long)E * 32 / W : (long)cur.obits * TpbW;
                std::fill(rbuf.begin(), rbuf.end(), 0);
                if (cur.res) st = RRREQ; else { st = RCOMP; comp_left = C; }
            } else st = RSYNC;
            q.pop(c, rng);
        }
        // the output is fixed once compute starts (the slot and records are stable from here)
        if (st == RCOMP && comp_left == C) build_output();
        // the environment: scribble over the requant banks (a later fetch), change the result slot while
        // the stage does not own it (before dispatch of a RUN / after RESFREE)
        if (rng.range(0, 3) == 0) rand_rec(&bank[(size_t)rng.range(0, Dm * QD - 1) * 4]);
        bool owns = st == RRREQ || st == RRDATA || st == RCOMP;
        if (!owns && rng.range(0, 4) == 0) rand_slot();
        resrdy.step(rpop, rng);
    }
    rep.check(q.done() && st == RI, "time-out after %ld cycles (%zu of %zu instructions)", c, q.head, q.ins.size());
    rep.check(b2b > 5 && waits > 10 && n_res > 10 && n_raw > 10, "corners not reached: back-to-back %ld, waits %ld, res %ld, raw %ld",
              b2b, waits, n_res, n_raw);
    printf("test_result: Dm %d Dn %d W %d L %d: %d instructions (%ld RUN, %ld with residual, %ld RAW32), %ld cycles, %ld write beats\n",
           Dm, Dn, W, L, n_ins, n_runs, n_res, n_raw, c, wbeats_total);
    m->final();
    return rep.finish();
}
