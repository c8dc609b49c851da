// test_fetch_win -- bqa_fetch with its window unit (WindowBytes > 0, docs/whole_network.md §4.1-4.2)
// cycle by cycle against a plain model: a random stream of SYNC, v1 RUNs (targets W / A / RQ), fetch
// SETUPs and RUNs with target WIN (random legal layers, keep after a fill also across v1 fetches and
// after a SETUP selecting another channel), wait0 (FREED) and wait1 (WRITTEN) tokens, sig0 (FILLED).
// WIN instructions are checked against the C reference model hw_model/win.c (every request, every
// bank write: bank, row, Dk-bit word; completion); v1 RUNs against docs/hw_isa.md §4.2 (one request
// per plane, bank writes of every beat as test_fetch); SETUP and SYNC complete in d+1. Also checked
// every cycle: pop, token pops, FILLED, no write elsewhere, busy/stall/idle and active. Read data
// comes at the reference timing (beat k of a burst accepted in a: a + Lr + k*Rr, random Lr / Rr per
// instruction, grants held back 0..5 cycles). Shape fixed at build time (-DTB_DM/DN/DK/W/WAB/AAB/QAB/
// WINB). Usage: test_fetch_win [+full]
#include <algorithm>
#include <map>
#include <memory>
#include <vector>
#include "Vbqa_fetch.h"
#include "bqa_stage_env.h"
extern "C" {
#include "win.h"
}
#include "bqa_win_gen.h"

static const int Dm = TB_DM, Dn = TB_DN, Dk = TB_DK, W = TB_W, Wb = TB_W / 8;
static const long WinBytes = TB_WINB;
static const size_t kMem = 1 << 16;

enum Kind { KSync, KRun, KSetup, KWin };
struct Ins {
    Kind kind; bool wait0, wait1, sig0;
    int tgt, planes; uint32_t dram, stride, base, T;   // v1 RUN
    bq_win_setup s; bq_win_run r;                       // SETUP / WIN
};
struct ExpReq { uint32_t addr, beats; bool grant; };
struct Beat { std::vector<uint8_t> data; long unit_beat; bool last; };

static int rup(int v, int m) { return (v + m - 1) / m * m; }

static bq_win_setup random_setup(TbRng &rng, int *ho) {
    return win_random_setup(rng, Dn, Dk, W, WinBytes, ho);
}

// encodings of docs/hw_isa.md §3.5 (positions of bqa_pkg::fetch_setup_t / fetch_win_t)
static uint32_t head(int op, const Ins &i) {
    return (uint32_t)op | (i.wait0 ? 1u << 8 : 0) | (i.wait1 ? 1u << 9 : 0) | (i.sig0 ? 1u << 12 : 0);
}
static Instr encode(const Ins &i) {
    Instr e{};
    if (i.kind == KSync) { e.w[0] = head(0, i); return e; }
    if (i.kind == KRun) {
        e = enc_fetch(true, i.wait0, i.sig0, i.tgt, i.planes, i.dram, i.stride, i.base, i.T);
        e.w[0] |= i.wait1 ? 1u << 9 : 0;
        return e;
    }
    if (i.kind == KSetup) {
        const bq_win_setup &s = i.s;
        e.w[0] = head(2, i) | (uint32_t)s.kh << 16 | (uint32_t)s.kw << 20 | (uint32_t)s.pad_t << 24 | (uint32_t)s.pad_l << 28;
        e.w[1] = (uint32_t)s.hi | (uint32_t)s.wi << 10 | (uint32_t)s.wo << 20;
        e.w[2] = (uint32_t)s.cs | (uint32_t)s.ch_base << 12 | (uint32_t)s.stride << 24;
        e.w[3] = (uint32_t)s.ch_lo | (uint32_t)s.ch_hi << 12 | (uint32_t)s.z_a << 24;
        return e;
    }
    const bq_win_run &r = i.r;
    e.w[0] = head(1, i) | 3u << 16 | (uint32_t)(r.nplanes - 1) << 18 | (uint32_t)r.keep << 21 | (uint32_t)r.kc0 << 22;
    e.w[1] = r.dram_addr; e.w[2] = r.pix0; e.w[3] = ((uint32_t)r.buf_base & 0xffff) | (uint32_t)r.t << 16;
    return e;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_fetch>(ctx.get());
    TbReport rep("test_fetch_win");
    const bool full = tb_has_arg(argc, argv, "+full");
    const int AB[3] = {TB_WAB, TB_AAB, TB_QAB};
    const int D[3] = {Dm, Dn, Dm}, UB[3] = {Dk, Dk, 128};
    TbRng rng(0xf3 + Dn * 17 + Dk);
    const int n_ins = full ? 8000 : 800;
    std::vector<uint8_t> mem(kMem);
    for (auto &b : mem) b = (uint8_t)rng.next();

    // ---- the instruction stream (SETUP takes effect in queue order, so generation tracks the geometry) ----
    std::vector<Ins> ins;
    TbQueue q;
    bq_win_setup geo{};
    int ho = 1;
    bool have_geo = false, can_keep = false, force_keep = false;
    bq_win_run last_fill{};
    const bq_win_cfg cfg0 = {Dn, Dk, W, 1, 1, WinBytes};
    while ((int)ins.size() < n_ins) {
        Ins i{};
        i.wait0 = rng.range(0, 3) == 0; i.wait1 = rng.range(0, 3) == 0; i.sig0 = rng.range(0, 1);
        int k = rng.range(0, 9);
        if (force_keep) k = 9;
        if (k == 0) i.kind = KSync;
        else if (k <= 3) {
            i.kind = KRun; i.tgt = rng.range(0, 2); i.planes = i.tgt == 2 ? 1 : rng.range(1, 8);
            i.dram = rng.u32(); i.stride = rng.u32(); i.base = rng.u32() & 0xffff;
            i.T = rng.range(0, 7) == 0 ? (uint32_t)rng.range(1, 20) : (uint32_t)rng.range(1, 3);
        } else if (!have_geo || k == 4) {
            geo = random_setup(rng, &ho); have_geo = true; can_keep = false;
            i.kind = KSetup; i.s = geo;
        } else if (k == 5 && can_keep) {   // another channel, same rows: SETUP, then a keep
            int ch = rng.range(0, geo.cs - 1);
            geo.ch_base = ch / Wb * Wb; geo.ch_lo = ch % Wb; geo.ch_hi = geo.ch_lo + 1; geo.z_a = rng.range(0, 255);
            force_keep = true;
            i.kind = KSetup; i.s = geo;
        } else {
            int kc_all = rup(geo.kh * geo.kw * rup(geo.ch_hi, Wb), Dk) / Dk;
            bool ok = false;
            for (int tries = 0; tries < 50 && !ok; tries++) {
                bq_win_run r{};
                if (force_keep || (can_keep && rng.range(0, 2) == 0)) { r = last_fill; r.keep = 1; }
                else {
                    r.pix0 = (uint32_t)rng.range(0, ho * geo.wo + Dn - 1);
                    uint32_t img = (uint32_t)(geo.hi * geo.wi * geo.cs);
                    r.dram_addr = (uint32_t)rng.range(0, (int)((kMem - img) / Wb)) * Wb;
                }
                r.kc0 = rng.range(0, 2) == 0 ? rng.range(0, kc_all) : 0;
                r.t = rng.range(0, 2) == 0 ? rng.range(1, kc_all - r.kc0 + 1) : std::max(1, kc_all - r.kc0);
                r.nplanes = rng.range(1, 8);
                r.buf_base = (int)(rng.u32() & 0xffff);
                char err[256];
                if (bq_win_check(&cfg0, &geo, &r, err, sizeof err) == 0) { i.r = r; ok = true; }
            }
            if (ok) {
                i.kind = KWin; force_keep = false;
                if (!i.r.keep) { last_fill = i.r; can_keep = true; }
            } else {   // the layer's tiles do not fit the window: another layer
                geo = random_setup(rng, &ho); can_keep = false; force_keep = false;
                i.kind = KSetup; i.s = geo;
            }
        }
        ins.push_back(i); q.ins.push_back(encode(i));
    }
    TbTokens freed(8, 2), written(8, 2);

    // ---- expectations, filled at each dispatch ----
    std::map<long, ExpReq> req;
    std::map<long, Beat> beats;
    std::map<long, std::pair<int, std::vector<uint8_t>>> wwin;   // WIN bank writes: cycle -> (bank, row), word
    std::map<long, uint32_t> wwin_row;
    long busy_until = -1, disp_c = -1, c = 0;
    const Ins *cur = nullptr;
    std::vector<uint64_t> pend;
    long n_win = 0, n_keep = 0, n_v1 = 0, n_setup = 0, b2b_mix = 0, waits = 0, w1pops = 0, win_writes = 0, v1_beats = 0;
    bool keep_after_v1 = false;
    long keeps_after_v1 = 0;

    m->rst_ni = 0; m->run_i = 0; m->head_valid_i = 0; m->freed_avail_i = 0; m->written_avail_i = 0;
    m->req_grant_i = 0; m->rvalid_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    const long max_c = 20000L * n_ins;
    for (; c < max_c && !(q.done() && c > busy_until); c++) {
        bool hv = q.valid(c);
        auto rq = req.find(c);
        auto bt = beats.find(c);
        bool grant = rq != req.end() && rq->second.grant;
        m->run_i = c >= 4; m->head_valid_i = hv;
        tb_set_instr(m->head_i, hv ? q.front() : Instr{{rng.u32(), rng.u32(), rng.u32(), rng.u32()}});
        m->freed_avail_i = freed.avail(); m->written_avail_i = written.avail();
        m->req_grant_i = grant; m->rvalid_i = bt != beats.end();
        std::vector<uint64_t> rd((W + 63) / 64);
        for (int i = 0; i < W / 8; i++)
            rd[i / 8] |= (uint64_t)(bt != beats.end() ? bt->second.data[i] : rng.next() & 0xff) << (8 * (i % 8));
        for (int i = 0; i < W; i += 64) tb_set_bits(m->rdata_i, i, W - i < 64 ? W - i : 64, rd[i / 64]);
        m->clk_i = 0; m->eval();

        // ---- model: this cycle ----
        bool complete = c == busy_until;
        bool free = c >= busy_until;
        const Ins *h = hv ? &ins[q.head] : nullptr;
        bool dispatch = c >= 4 && hv && free && (!h->wait0 || freed.avail()) && (!h->wait1 || written.avail());
        bool active = cur && c > disp_c && c <= busy_until;
        bool waiting = rq != req.end() && !grant;
        rep.check(m->pop_o == dispatch, "cycle %ld: pop %d want %d", c, m->pop_o, dispatch);
        rep.check(m->freed_pop_o == (dispatch && h->wait0), "cycle %ld: freed_pop %d", c, m->freed_pop_o);
        rep.check(m->written_pop_o == (dispatch && h->wait1), "cycle %ld: written_pop %d", c, m->written_pop_o);
        rep.check(m->filled_push_o == (complete && cur && cur->sig0), "cycle %ld: filled_push %d", c, m->filled_push_o);
        rep.check(m->req_valid_o == (rq != req.end()), "cycle %ld: req_valid %d want %d", c, m->req_valid_o, rq != req.end());
        if (rq != req.end())
            rep.check(m->req_addr_o == rq->second.addr && m->req_beats_o == rq->second.beats,
                      "cycle %ld: request %08x x %u want %08x x %u", c, m->req_addr_o, m->req_beats_o,
                      rq->second.addr, rq->second.beats);
        uint64_t we_want[3] = {0, 0, 0};
        auto ww = wwin.find(c);
        if (ww != wwin.end()) {   // WIN plane write (the word is checked in the selected bank's slot)
            int bank = ww->second.first;
            we_want[1] = 1ull << bank;
            uint32_t row = wwin_row[c] & ((1u << AB[1]) - 1);
            rep.check(m->a_row_o == row, "cycle %ld: WIN a_row %u want %u", c, m->a_row_o, row);
            bool ok = true;
            for (int i = 0; i < Dk / 32; i++) {
                uint32_t got = (uint32_t)tb_get_bits(m->a_wdata_o, bank * Dk + 32 * i, 32), want = 0;
                for (int b = 0; b < 4; b++) want |= (uint32_t)ww->second.second[4 * i + b] << (8 * b);
                ok &= got == want;
            }
            rep.check(ok, "cycle %ld: WIN bank %d row %u: word differs from hw_model/win.c", c, bank, row);
            win_writes++;
        }
        if (bt != beats.end() && cur && cur->kind == KRun) {   // v1 beat: units into banks (as test_fetch)
            int t = cur->tgt, ub = UB[t], d = D[t];
            long ubeat = bt->second.unit_beat, first_unit = -1, n_units = 0;
            if (ub <= W) { first_unit = ubeat * (W / ub); n_units = W / ub; }
            else if (ubeat % (ub / W) == ub / W - 1) { first_unit = ubeat / (ub / W); n_units = 1; }
            for (long u = first_unit; u < first_unit + n_units; u++) {
                int bank = (int)(u % d);
                uint32_t row = (cur->base + (uint32_t)(u / d)) & ((1u << AB[t]) - 1);
                we_want[t] |= 1ull << bank;
                uint32_t got_row = t == 0 ? m->w_row_o : t == 1 ? m->a_row_o : m->q_row_o;
                rep.check(got_row == row, "cycle %ld: target %d unit %ld row %u want %u", c, t, u, got_row, row);
                bool ok = true;
                for (int bit = 0; bit < ub; bit++) {
                    uint64_t want;
                    if (ub <= W) { int o = (int)(u - first_unit) * ub + bit; want = (rd[o / 64] >> (o % 64)) & 1; }
                    else {
                        int o = bit - (ub - W);
                        want = o >= 0 ? (rd[o / 64] >> (o % 64)) & 1 : (pend[bit / 64] >> (bit % 64)) & 1;
                    }
                    uint64_t got = t == 0 ? tb_get_bits(m->w_wdata_o, bank * ub + bit, 1)
                                 : t == 1 ? tb_get_bits(m->a_wdata_o, bank * ub + bit, 1)
                                          : tb_get_bits(m->q_wdata_o, bank * ub + bit, 1);
                    ok &= got == want;
                }
                rep.check(ok, "cycle %ld: target %d unit %ld bank %d: data mismatch", c, t, u, bank);
            }
            if (ub > W) {
                int kk = (int)(ubeat % (ub / W));
                if (kk == 0) std::fill(pend.begin(), pend.end(), 0);
                for (int b = 0; b < W; b++) { int o = kk * W + b; pend[o / 64] |= ((rd[b / 64] >> (b % 64)) & 1) << (o % 64); }
            }
            v1_beats++;
        }
        rep.check(m->w_we_o == we_want[0] && m->a_we_o == we_want[1] && m->q_we_o == we_want[2],
                  "cycle %ld: we w/a/q %lx %lx %lx want %lx %lx %lx", c, (unsigned long)m->w_we_o, (unsigned long)m->a_we_o,
                  (unsigned long)m->q_we_o, (unsigned long)we_want[0], (unsigned long)we_want[1], (unsigned long)we_want[2]);
        if (c >= 4) {
            bool busy = (active && !waiting) || dispatch, stall = waiting || (!active && hv && !dispatch);
            rep.check(m->busy_o == busy && m->stall_o == stall && m->idle_o == (!busy && !stall),
                      "cycle %ld: class busy/stall/idle %d%d%d want %d%d", c, m->busy_o, m->stall_o, m->idle_o, busy, stall);
        }
        rep.check(m->active_o == active, "cycle %ld: active %d want %d", c, m->active_o, active);
        m->clk_i = 1; m->eval();

        // ---- model: end of cycle ----
        if (rq != req.end()) req.erase(rq);
        if (bt != beats.end()) beats.erase(bt);
        if (ww != wwin.end()) { wwin.erase(ww); wwin_row.erase(c); }
        waits += waiting;
        bool fpop = dispatch && h->wait0, wpop = dispatch && h->wait1;
        if (dispatch) {
            if (complete && cur && (cur->kind == KWin) != (h->kind == KWin) && (cur->kind == KRun || h->kind == KRun)) b2b_mix++;
            w1pops += wpop;
            const int lr = rng.range(1, 6), rr = rng.range(1, 3);
            if (h->kind == KSync || h->kind == KSetup) {
                busy_until = c + 1; n_setup += h->kind == KSetup;
                if (h->kind == KSetup) geo = h->s;
            } else if (h->kind == KRun) {
                long qc = c + 1;
                const int t = h->tgt;
                const long n = (long)h->T * D[t] * (UB[t] / 8) / Wb;
                long ub = 0;
                for (int p = 0; p < h->planes; p++) {
                    long a = qc + (rng.range(0, 9) < 6 ? 0 : rng.range(1, 5));
                    for (long x = qc; x <= a; x++) req[x] = ExpReq{h->dram + (uint32_t)p * h->stride, (uint32_t)n, x == a};
                    for (long kb = 0; kb < n; kb++) {
                        std::vector<uint8_t> dat(Wb);
                        for (auto &x : dat) x = (uint8_t)rng.next();
                        beats[a + lr + kb * rr] = Beat{dat, ub++, kb == n - 1};
                    }
                    qc = a + lr + (n - 1) * rr + 1;
                }
                busy_until = qc - 1;
                pend.assign((UB[t] + 63) / 64, 0);
                n_v1++; keep_after_v1 = true;
            } else {
                bq_win_cfg cfg = {Dn, Dk, W, lr, rr, WinBytes};
                std::vector<int> wait(Dn * 16);
                for (auto &x : wait) x = rng.range(0, 9) < 6 ? 0 : rng.range(1, 5);
                bq_win_result res;
                char err[256] = "";
                if (bq_win_exec(&cfg, &geo, &h->r, mem.data(), mem.size(), wait.data(), &res, err, sizeof err)) {
                    fprintf(stderr, "test_fetch_win: model refused a generated RUN: %s\n", err);
                    return 1;
                }
                long qc = c + 1;
                for (int b = 0; b < res.nbursts; b++) {
                    long a = qc + wait[b];
                    for (long x = qc; x <= a; x++) req[x] = ExpReq{res.bursts[b].addr, res.bursts[b].beats, x == a};
                    for (uint32_t kb = 0; kb < res.bursts[b].beats; kb++) {
                        uint32_t at = res.bursts[b].addr + kb * Wb;
                        beats[a + lr + (long)kb * rr] = Beat{std::vector<uint8_t>(mem.begin() + at, mem.begin() + at + Wb), 0, false};
                    }
                    qc = a + lr + (long)(res.bursts[b].beats - 1) * rr + 1;
                }
                for (long i = 0; i < res.nwrites; i++) {
                    const uint8_t *d = res.wdata + i * (Dk / 8);
                    wwin[c + res.writes[i].cycle] = {res.writes[i].bank, std::vector<uint8_t>(d, d + Dk / 8)};
                    wwin_row[c + res.writes[i].cycle] = res.writes[i].row;
                }
                busy_until = c + res.complete;
                bq_win_result_free(&res);
                n_win++; n_keep += h->r.keep;
                if (h->r.keep && keep_after_v1) keeps_after_v1++;
                if (!h->r.keep) keep_after_v1 = false;
            }
            cur = h; disp_c = c;
            q.pop(c, rng);
        }
        freed.step(fpop, rng); written.step(wpop, rng);
    }
    rep.check(q.done() && c > busy_until && req.empty() && beats.empty() && wwin.empty(),
              "time-out after %ld cycles (%zu of %zu instructions, %zu WIN writes left)", c, q.head, q.ins.size(), wwin.size());
    rep.check(b2b_mix > 10 && waits > 10 && n_keep > 5 && keeps_after_v1 > 0 && w1pops > 10 && n_setup > 10,
              "corners not reached: WIN/v1 back-to-back %ld, port waits %ld, keep %ld, keep across a v1 fetch %ld, "
              "WRITTEN pops %ld, SETUPs %ld", b2b_mix, waits, n_keep, keeps_after_v1, w1pops, n_setup);
    printf("test_fetch_win: Dm %d Dn %d Dk %d W %d window %ld B: %d instructions (%ld WIN, %ld keep, %ld keep across a v1 "
           "fetch, %ld v1 RUN, %ld SETUP), %ld WIN/v1 back-to-back, %ld WRITTEN pops, %ld WIN writes, %ld v1 beats, %ld cycles\n",
           Dm, Dn, Dk, W, WinBytes, n_ins, n_win, n_keep, keeps_after_v1, n_v1, n_setup, b2b_mix, w1pops, win_writes,
           v1_beats, c);
    m->final();
    return rep.finish();
}
