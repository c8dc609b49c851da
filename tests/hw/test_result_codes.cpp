// test_result_codes -- bqa_result with CODES mode (BlockChannels > 0, docs/whole_network.md §4.3-4.4)
// cycle by cycle against a plain model: a random stream of layers as the scheduler runs them (result
// SETUP, then per pixel block the MT m-tiles back to back as RUNCs, `first` on the first, `flush` on
// the last; residual layers with cs_res != cs_out; depthwise layers with mrows 1, ch0 = channel; the
// last block with npix < Dn; padded rows fed garbage sums and records), with v1 RUNs (planes or RAW32,
// with or without residual) and SYNCs between and inside the blocks. RUNCs are checked against the
// C reference model hw_model/codes.c (every request, every read beat served from the model's memory
// image, every written beat's bytes, RESFREE, completion, WRITTEN); v1 RUNs against docs/hw_isa.md §1,
// §4.4 (as test_result). Every cycle also: pop, RESRDY pop, RESFREE and WRITTEN pushes, the requant
// read, request valid/write/address/beats, wvalid, busy/stall/idle, active. Memory at the reference
// timing with random Lr / Rr / Lw / Rw per instruction and grants held back 0..5 cycles. Written bytes
// the block buffer never received (channels no RUNC stored since reset) are not specified and masked.
// Shape fixed at build time (-DTB_DM/DN/W/L/QAB/BC). Usage: test_result_codes [+full] [+bad=...]
//   +bad=nosetup: a RUNC before any SETUP; +bad=chan: the first RUNC's rows pass cs_out; +bad=resnofirst:
//   the first RUNC has res without first: the RTL must stop on its assertion (make test-hw-codes-refused)
#include <map>
#include <memory>
#include <vector>
#include "Vbqa_result.h"
#include "bqa_stage_env.h"
extern "C" {
#include "codes.h"
}

static const int Dm = TB_DM, Dn = TB_DN, W = TB_W, L = TB_L, QAB = TB_QAB, BC = TB_BC, Wb = TB_W / 8;
static const int E = Dm * Dn, QD = 1 << QAB, TpbW = (E + W - 1) / W, TpbB = TpbW * W, C = 6 * E / L;
static const size_t kMem = 1 << 18;

enum Kind { KSync, KRun, KSetup, KRunc };
struct Ins {
    Kind kind; bool wait0, sig0, sig1;
    ResArgs v1;                 // KRun
    bq_codes_setup_regs s;      // KSetup
    bq_codes_run_f r;           // KRunc
};
struct ExpReq { uint32_t addr, beats; bool write, grant; };

static uint32_t head(int op, const Ins &i) {
    return (uint32_t)op | (i.wait0 ? 1u << 8 : 0) | (i.sig0 ? 1u << 12 : 0) | (i.sig1 ? 1u << 13 : 0);
}
// encodings of docs/hw_isa.md §3.5 (bqa_pkg::result_setup_t / result_codes_t)
static Instr encode(const Ins &i, TbRng &rng) {
    Instr e{};
    if (i.kind == KSync) {
        e.w[0] = head(0, i) | (rng.u32() & 0xffff0000u); e.w[1] = rng.u32(); e.w[2] = rng.u32(); e.w[3] = rng.u32();
    } else if (i.kind == KRun) {
        e = enc_result(i.v1);
        e.w[0] |= i.sig1 ? 1u << 13 : 0;
    } else if (i.kind == KSetup) {
        e.w[0] = head(2, i) | (uint32_t)i.s.z_r << 24;
        e.w[1] = i.s.out_base; e.w[2] = i.s.res_base;
        e.w[3] = (uint32_t)i.s.cs_out | (uint32_t)i.s.cs_res << 16;
    } else {
        const bq_codes_run_f &r = i.r;
        e.w[0] = head(3, i) | (r.res ? 1u << 20 : 0);
        e.w[1] = r.n0;
        e.w[2] = (uint32_t)r.ch0 | (uint32_t)(r.npix - 1) << 12 | (uint32_t)(r.mrows - 1) << 19 |
                 (uint32_t)r.first << 26 | (uint32_t)r.flush << 27;
        e.w[3] = (uint32_t)r.z_o | (uint32_t)r.lo << 8 | (uint32_t)r.hi << 16 | (uint32_t)r.rq_entry << 24;
    }
    return e;
}

static int rup(int v, int m) { return (v + m - 1) / m * m; }

// one v1 result RUN with random fields (as test_result)
static ResArgs random_v1(TbRng &rng) {
    ResArgs r;
    r.run = true; r.raw = rng.range(0, 3) == 0; r.obits = rng.range(1, 8); r.res = rng.range(0, 1);
    r.rbits = rng.range(1, 8); r.z_r = (uint8_t)rng.range(0, 255); r.out_addr = rng.u32(); r.res_addr = rng.u32();
    r.z_o = (uint8_t)rng.range(0, 255);
    int lo = rng.range(0, 255), hi = rng.range(0, 255);
    if (lo > hi) std::swap(lo, hi);
    r.lo = (uint8_t)lo; r.hi = (uint8_t)hi; r.rq_entry = (uint8_t)rng.range(0, QD - 1);
    return r;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_result>(ctx.get());
    TbReport rep("test_result_codes");
    const bool full = tb_has_arg(argc, argv, "+full");
    TbRng rng(0xc0de + E * 7 + W + BC);
    const int n_target = full ? 6000 : 600;
    std::vector<uint8_t> mem(kMem);
    for (auto &b : mem) b = (uint8_t)rng.next();

    // ---- the instruction stream: layers of RUNCs, v1 RUNs and SYNCs in between ----
    std::vector<Ins> ins;
    auto extra = [&](bool inside) {   // v1 RUNs / SYNCs between (and sometimes inside) pixel blocks
        int n = rng.range(0, inside ? 6 : 2) == 0 ? rng.range(1, 2) : 0;
        for (int k = 0; k < n; k++) {
            Ins i{}; i.wait0 = rng.range(0, 2) == 0; i.sig0 = rng.range(0, 1); i.sig1 = rng.range(0, 3) == 0;
            if (rng.range(0, 3) == 0) i.kind = KSync; else { i.kind = KRun; i.v1 = random_v1(rng); }
            i.v1.wait_resrdy = i.wait0; i.v1.sig_resfree = i.sig0;
            ins.push_back(i);
        }
    };
    long n_layers = 0, n_dw = 0, n_reslayers = 0;
    while ((int)ins.size() < n_target) {
        extra(false);
        // a layer: C channels (depthwise: each its own RUNC), npix_total pixels, optional residual
        const bool dw = rng.range(0, 3) == 0;
        const bool res = rng.range(0, 1) == 0;
        const int cmax = BC < 200 ? BC : 200;
        const int c_real = dw ? rng.range(1, 2 * Dm + 2) : rng.range(0, 3) != 0 ? rng.range(1, 3 * Dm) : rng.range(1, cmax);
        Ins su{}; su.kind = KSetup; su.wait0 = rng.range(0, 3) == 0; su.sig0 = rng.range(0, 3) == 0;
        su.sig1 = rng.range(0, 5) == 0;
        su.s.cs_out = rup(c_real, Wb) + (rng.range(0, 3) == 0 ? Wb : 0);
        if (su.s.cs_out > BC) su.s.cs_out = rup(c_real, Wb);
        su.s.cs_res = res ? std::min(BC, rup(c_real, Wb) + Wb * rng.range(0, 2)) : (rng.range(0, 1) ? 0 : Wb);
        const int npix_total = rng.range(1, 3 * Dn + 1);
        su.s.out_base = (uint32_t)rng.range(0, (int)((kMem / 2 - (size_t)npix_total * su.s.cs_out) / Wb - 1)) * Wb;
        su.s.res_base = (uint32_t)(kMem / 2) +
                        (uint32_t)rng.range(0, (int)((kMem / 2 - (size_t)npix_total * (su.s.cs_res + 1)) / Wb - 1)) * Wb;
        su.s.z_r = rng.range(0, 255);
        ins.push_back(su);
        n_layers++; n_dw += dw; n_reslayers += res;
        const int mt = dw ? c_real : (c_real + Dm - 1) / Dm;
        for (int n0 = 0; n0 < npix_total; n0 += Dn) {
            const int npix = std::min(Dn, npix_total - n0);
            for (int t = 0; t < mt; t++) {
                Ins i{}; i.kind = KRunc; i.wait0 = rng.range(0, 2) != 0; i.sig0 = rng.range(0, 3) != 0;
                i.sig1 = t == mt - 1 && rng.range(0, 1);
                bq_codes_run_f &r = i.r;
                r.n0 = (uint32_t)n0; r.npix = npix;
                r.ch0 = dw ? t : t * Dm; r.mrows = dw ? 1 : std::min(Dm, c_real - t * Dm);
                r.first = t == 0; r.flush = t == mt - 1; r.res = res;
                r.z_o = rng.range(0, 255);
                int lo = rng.range(0, 60), hi = rng.range(190, 255);
                if (rng.range(0, 7) == 0) std::swap(lo, hi);
                r.lo = lo; r.hi = hi; r.rq_entry = rng.range(0, QD - 1);
                r.sig0 = i.sig0; r.sig1 = i.sig1;
                ins.push_back(i);
                if (t + 1 < mt) extra(true);
            }
        }
    }
    // +bad=...: one illegal RUNC the RTL must refuse (it never reaches the model)
    for (size_t k = 0; k < ins.size(); k++) {
        if (ins[k].kind != KRunc) continue;
        if (tb_has_arg(argc, argv, "+bad=nosetup")) { Ins b = ins[k]; ins.insert(ins.begin(), b); }
        else if (tb_has_arg(argc, argv, "+bad=chan")) { ins[k].r.ch0 = ins[k - 1].s.cs_out; ins[k].r.mrows = 1; }
        else if (tb_has_arg(argc, argv, "+bad=resnofirst")) { ins[k].r.res = 1; ins[k].r.first = 0; }
        break;
    }
    const int n_ins = (int)ins.size();
    TbQueue q;
    for (auto &i : ins) q.ins.push_back(encode(i, rng));
    TbTokens resrdy(30, 3);

    // requant banks: Dm banks x QD entries x 128 bits; sh 1..62 (legal; rows past mrows may be garbage)
    std::vector<uint32_t> bank((size_t)Dm * QD * 4);
    auto rand_rec = [&](uint32_t *w, bool garbage) {
        w[0] = rng.u32() >> rng.range(0, 31);
        w[1] = rng.u32() >> rng.range(8, 31);
        w[2] = rng.u32() >> rng.range(8, 31);
        uint32_t sh = garbage ? (uint32_t)rng.range(0, 63) : (uint32_t)rng.range(18, 40);
        w[3] = (uint32_t)rng.range(0, 255) | sh << 8 | (rng.u32() & 0xffffc000u);
    };
    for (size_t i = 0; i < bank.size(); i += 4) rand_rec(&bank[i], false);
    std::vector<uint32_t> qrd((size_t)Dm * 4, 0);
    std::vector<uint32_t> slot_res(E), slot_asum(Dn);
    auto rand_slot = [&]() {
        for (auto &v : slot_res) v = rng.range(0, 15) == 0 ? rng.u32() : rng.u32() >> rng.range(8, 31);
        for (auto &v : slot_asum) v = rng.u32() >> rng.range(16, 31);
    };
    rand_slot();

    bq_codes_cfg cfg = {Dm, Dn, L, W, 1, 1, 1, 1, BC};
    bq_codes_state cst;
    char err[256] = "";
    if (bq_codes_init(&cst, &cfg, err, sizeof err)) { fprintf(stderr, "test_result_codes: %s\n", err); return 1; }
    std::vector<uint8_t> out_def((size_t)Dn * BC, 0);   // bytes of the output block some RUNC stored

    // ---- expectations, set at each dispatch ----
    std::map<long, ExpReq> req;
    std::map<long, std::vector<uint8_t>> rbeat;         // read data beats by cycle
    std::map<long, bool> wready_at;                     // cycles with wready
    long wd_first = -1, wd_last = -1, wdone_c = -1, resfree_c = -1, complete_c = -1, disp_c = -1;
    std::vector<uint8_t> wexp, wmask;                   // expected write burst bytes, mask (1 = checked)
    long wbeat = 0;
    bool cur_sig1 = false;
    long n_runc = 0, n_first_res = 0, n_flush = 0, n_noflush = 0, n_v1 = 0, n_setup = 0, b2b_runc = 0,
         b2b_mix = 0, waits = 0, wbeats_total = 0, written_pushes = 0, n_dw_runc = 0;
    int last_kind = -1;

    m->rst_ni = 0; m->run_i = 0; m->head_valid_i = 0; m->resrdy_avail_i = 0; m->req_grant_i = 0;
    m->rvalid_i = 0; m->wready_i = 0; m->wdone_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    long c = 0;
    const long max_c = 4000L * n_ins + 10000;
    for (; c < max_c && !(q.done() && c > complete_c); c++) {
        bool hv = q.valid(c);
        auto rq = req.find(c);
        auto rb = rbeat.find(c);
        bool grant = rq != req.end() && rq->second.grant;
        bool wready = wready_at.count(c) > 0;
        bool wdone = c == wdone_c;
        m->run_i = c >= 4; m->head_valid_i = hv;
        tb_set_instr(m->head_i, hv ? q.front() : Instr{{rng.u32(), rng.u32(), rng.u32(), rng.u32()}});
        m->resrdy_avail_i = resrdy.avail(); m->req_grant_i = grant; m->rvalid_i = rb != rbeat.end();
        m->wready_i = wready; m->wdone_i = wdone;
        std::vector<uint64_t> rd((W + 63) / 64);
        for (int i = 0; i < Wb; i++)
            rd[i / 8] |= (uint64_t)(rb != rbeat.end() ? rb->second[i] : rng.next() & 0xff) << (8 * (i % 8));
        for (int i = 0; i < W; i += 64) tb_set_bits(m->rdata_i, i, W - i < 64 ? W - i : 64, rd[i / 64]);
        for (int i = 0; i < Dm * 4; i++) tb_set_bits(m->q_rdata_i, 32 * i, 32, qrd[i]);
        for (int i = 0; i < E; i++) tb_set_bits(m->res_i, 32 * i, 32, slot_res[i]);
        for (int i = 0; i < Dn; i++) tb_set_bits(m->asum_i, 32 * i, 32, slot_asum[i]);
        m->clk_i = 0; m->eval();

        // ---- model: this cycle ----
        const bool complete = c == complete_c;
        const bool free = c >= complete_c;
        const Ins *h = hv ? &ins[q.head] : nullptr;
        const bool dispatch = c >= 4 && hv && free && (!h->wait0 || resrdy.avail());
        const bool active = disp_c >= 0 && c > disp_c && c <= complete_c;
        const bool waiting = rq != req.end() && !grant;
        rep.check(m->pop_o == dispatch, "cycle %ld: pop %d want %d", c, m->pop_o, dispatch);
        rep.check(m->resrdy_pop_o == (dispatch && h->wait0), "cycle %ld: resrdy_pop %d", c, m->resrdy_pop_o);
        rep.check(m->resfree_push_o == (c == resfree_c), "cycle %ld: resfree_push %d want %d", c, m->resfree_push_o,
                  c == resfree_c);
        rep.check(m->written_push_o == (complete && cur_sig1), "cycle %ld: written_push %d want %d", c,
                  m->written_push_o, complete && cur_sig1);
        written_pushes += m->written_push_o;
        rep.check(m->q_re_o == dispatch, "cycle %ld: q_re %d", c, m->q_re_o);
        if (dispatch && (h->kind == KRun || h->kind == KRunc)) {
            int e = h->kind == KRun ? h->v1.rq_entry : h->r.rq_entry;
            rep.check(m->q_raddr_o == (uint32_t)e, "cycle %ld: q_raddr %d want %d", c, m->q_raddr_o, e);
        }
        rep.check(m->req_valid_o == (rq != req.end()), "cycle %ld: req_valid %d want %d", c, m->req_valid_o,
                  rq != req.end());
        if (rq != req.end())
            rep.check(m->req_write_o == rq->second.write && m->req_addr_o == rq->second.addr &&
                          m->req_beats_o == rq->second.beats,
                      "cycle %ld: request w%d %08x x %u want w%d %08x x %u", c, m->req_write_o, m->req_addr_o,
                      m->req_beats_o, rq->second.write, rq->second.addr, rq->second.beats);
        const bool wvalid = c >= wd_first && c <= wd_last;
        rep.check(m->wvalid_o == wvalid, "cycle %ld: wvalid %d want %d", c, m->wvalid_o, wvalid);
        if (wvalid) {
            bool ok = true;
            for (int i = 0; i < Wb; i++) {
                size_t at = (size_t)wbeat * Wb + i;
                uint8_t got = (uint8_t)tb_get_bits(m->wdata_o, 8 * i, 8);
                ok &= !wmask[at] || got == wexp[at];
            }
            rep.check(ok, "cycle %ld: write beat %ld differs (instruction %zu, kind %d)", c, wbeat, q.head - 1,
                      (int)ins[q.head - 1].kind);
        }
        if (c >= 4) {
            bool busy = (active && !waiting) || dispatch, stall = waiting || (!active && hv && !dispatch);
            rep.check(m->busy_o == busy && m->stall_o == stall && m->idle_o == (!busy && !stall),
                      "cycle %ld: class busy/stall/idle %d%d%d want %d%d", c, m->busy_o, m->stall_o, m->idle_o, busy, stall);
        }
        rep.check(m->active_o == active, "cycle %ld: active %d want %d", c, m->active_o, active);
        const bool q_re = m->q_re_o; const uint32_t q_raddr = m->q_raddr_o;
        m->clk_i = 1; m->eval();

        // ---- model + environment: end of cycle ----
        if (dispatch && h->kind == KRunc)   // stored rows need legal records (codes.c refuses, the RTL asserts)
            for (int mi = 0; mi < h->r.mrows; mi++) {
                uint32_t &w3 = bank[((size_t)mi * QD + h->r.rq_entry) * 4 + 3];
                uint32_t sh = (w3 >> 8) & 0x3f;
                if (sh < 1 || sh > 62) w3 = (w3 & ~0x3f00u) | (uint32_t)rng.range(18, 40) << 8;
            }
        if (q_re) for (int i = 0; i < Dm * 4; i++)
            qrd[i] = bank[((size_t)(i / 4) * QD + (q_raddr & (QD - 1))) * 4 + i % 4];
        if (rq != req.end()) req.erase(rq);
        if (rb != rbeat.end()) rbeat.erase(rb);
        if (wready) { wready_at.erase(c); wbeat++; wbeats_total++; }
        waits += waiting;
        const bool rpop = dispatch && h->wait0;
        if (dispatch) {
            if (complete && last_kind == KRunc && h->kind == KRunc) b2b_runc++;
            if (complete && ((last_kind == KRunc && h->kind == KRun) || (last_kind == KRun && h->kind == KRunc))) b2b_mix++;
            last_kind = h->kind;
            const int lr = rng.range(1, 6), rr = rng.range(1, 3), lw = rng.range(1, 6), rw = rng.range(1, 3);
            int gw[2] = {rng.range(0, 9) < 6 ? 0 : rng.range(1, 5), rng.range(0, 9) < 6 ? 0 : rng.range(1, 5)};
            cur_sig1 = h->sig1;
            disp_c = c; wd_first = wd_last = wdone_c = resfree_c = -1; wbeat = 0;
            // a memory transaction: request window, read beats / write beats and wdone, from its accept
            auto plan = [&](uint32_t addr, uint32_t beats, bool write, long rq_c, int wait,
                            const uint8_t *rdata) -> long {
                long a = rq_c + wait;
                for (long x = rq_c; x <= a; x++) req[x] = ExpReq{addr, beats, write, x == a};
                if (!write) {
                    for (uint32_t k = 0; k < beats; k++)
                        rbeat[a + lr + (long)k * rr] = std::vector<uint8_t>(rdata + (size_t)k * Wb, rdata + (size_t)(k + 1) * Wb);
                    return a + lr + (long)(beats - 1) * rr;
                }
                for (uint32_t k = 0; k < beats; k++) wready_at[a + 1 + (long)k * rw] = true;
                wd_first = a + 1; wd_last = a + 1 + (long)(beats - 1) * rw;
                wdone_c = wd_last + lw;
                return wdone_c;
            };
            if (h->kind == KSync || h->kind == KSetup) {
                complete_c = c + 1;
                if (h->sig0) resfree_c = c + 1;
                if (h->kind == KSetup) {
                    n_setup++;
                    if (bq_codes_setup(&cst, &h->s, err, sizeof err)) {
                        fprintf(stderr, "test_result_codes: model refused a generated SETUP: %s\n", err);
                        return 1;
                    }
                }
            } else if (h->kind == KRunc) {
                std::vector<int32_t> acc(E), asum(Dn);
                for (int ni = 0; ni < Dn; ni++) for (int mi = 0; mi < Dm; mi++)
                    acc[ni * Dm + mi] = (int32_t)slot_res[(size_t)mi * Dn + ni];   // slot: DPU (mi, ni) at mi*Dn + ni
                for (int ni = 0; ni < Dn; ni++) asum[ni] = (int32_t)slot_asum[ni];
                std::vector<bq_codes_rq> rqs(Dm);
                for (int mi = 0; mi < Dm; mi++) {
                    const uint32_t *w = &bank[((size_t)mi * QD + h->r.rq_entry) * 4];
                    rqs[mi] = bq_codes_rq{(int32_t)w[0], w[1], w[2], (uint8_t)(w[3] & 0xff), (uint8_t)((w[3] >> 8) & 0x3f)};
                }
                const bq_codes_setup_regs &s = cst.setup;
                std::vector<uint8_t> rsnap;   // the residual burst as memory holds it now
                if (h->r.first && h->r.res) {
                    size_t at = s.res_base + (size_t)h->r.n0 * s.cs_res;
                    rsnap.assign(mem.begin() + at, mem.begin() + at + (size_t)h->r.npix * s.cs_res);
                }
                cst.cfg.lr = lr; cst.cfg.rr = rr; cst.cfg.lw = lw; cst.cfg.rw = rw;
                bq_codes_timing t;
                if (bq_codes_run(&cst, &h->r, acc.data(), asum.data(), rqs.data(), mem.data(), mem.size(), gw, &t,
                                 err, sizeof err)) {
                    fprintf(stderr, "test_result_codes: model refused a generated RUNC: %s\n", err);
                    return 1;
                }
                for (int ni = 0; ni < Dn; ni++) for (int mi = 0; mi < h->r.mrows; mi++)
                    out_def[(size_t)ni * BC + h->r.ch0 + mi] = 1;
                for (int b = 0; b < t.nbursts; b++) {
                    const bq_codes_burst &bu = t.bursts[b];
                    long end = plan(bu.addr, bu.beats, bu.write, c + bu.request, (int)(bu.accept - bu.request),
                                    bu.write ? nullptr : rsnap.data());
                    rep.check(end == c + bu.complete, "RUNC at %ld: harness timing %ld vs model %ld", c, end, c + bu.complete);
                }
                if (h->r.flush) {   // the burst: rows 0..npix-1, bytes [0, cs_out) each, as the model wrote them
                    wexp.assign((size_t)h->r.npix * s.cs_out, 0); wmask.assign(wexp.size(), 0);
                    for (int ni = 0; ni < h->r.npix; ni++) for (int b = 0; b < s.cs_out; b++) {
                        wexp[(size_t)ni * s.cs_out + b] = mem[s.out_base + ((size_t)h->r.n0 + ni) * s.cs_out + b];
                        wmask[(size_t)ni * s.cs_out + b] = out_def[(size_t)ni * BC + b];
                    }
                }
                complete_c = c + t.complete;
                resfree_c = t.resfree >= 0 ? c + t.resfree : -1;
                n_runc++; n_first_res += h->r.first && h->r.res; n_flush += h->r.flush; n_noflush += !h->r.flush;
                n_dw_runc += h->r.mrows == 1;
            } else {   // v1 RUN: hw_isa.md §4.4, data as test_result
                const ResArgs &v = h->v1;
                const long nr = (long)v.rbits * TpbW, nw = v.raw ? (long)E * 32 / W : (long)v.obits * TpbW;
                std::vector<uint8_t> rdat((size_t)nr * Wb);
                for (auto &x : rdat) x = (uint8_t)rng.next();
                long s0 = c + 1;
                if (v.res) s0 = plan(v.res_addr, (uint32_t)nr, false, c + 1, gw[0], rdat.data()) + 1;
                // the tile it must write
                wexp.assign((size_t)nw * Wb, 0); wmask.assign(wexp.size(), 1);
                for (int ni = 0; ni < Dn; ni++) for (int mi = 0; mi < Dm; mi++) {
                    const int e = ni * Dm + mi;
                    const uint32_t *w = &bank[((size_t)mi * QD + v.rq_entry) * 4];
                    GRec r{(int32_t)w[0], w[1], w[2], (uint8_t)(w[3] & 0xff), (uint8_t)((w[3] >> 8) & 0x3f)};
                    uint32_t qr = 0;
                    if (v.res) for (int b = 0; b < v.rbits; b++) {
                        long bit = (long)b * TpbB + e;
                        qr |= (uint32_t)((rdat[bit / 8] >> (bit % 8)) & 1) << b;
                    }
                    int32_t acc0;
                    int64_t qv = g_requant((int32_t)slot_res[(size_t)mi * Dn + ni], (int32_t)slot_asum[ni], r, v.res,
                                           (uint8_t)qr, v.z_r, v.z_o, v.lo, v.hi, &acc0);
                    if (v.raw) for (int b = 0; b < 32; b++) {
                        long bit = (long)e * 32 + b;
                        wexp[bit / 8] |= (uint8_t)((((uint32_t)acc0 >> b) & 1) << (bit % 8));
                    } else for (int b = 0; b < v.obits; b++) {
                        long bit = (long)b * TpbB + e;
                        wexp[bit / 8] |= (uint8_t)(((qv >> b) & 1) << (bit % 8));
                    }
                }
                if (h->sig0) resfree_c = s0 + C - 1;
                complete_c = plan(v.out_addr, (uint32_t)nw, true, s0 + C, gw[1], nullptr);
                n_v1++;
            }
            q.pop(c, rng);
        }
        // the environment: scribble over the requant banks (a later fetch; rows past mrows get garbage
        // records), change the result slot while no RUN / RUNC owns it (before dispatch, after compute)
        if (rng.range(0, 3) == 0) rand_rec(&bank[(size_t)rng.range(0, Dm * QD - 1) * 4], rng.range(0, 7) == 0);
        const bool owns = disp_c >= 0 && c >= disp_c && c <= complete_c &&
                          (ins[q.head - 1].kind == KRun || ins[q.head - 1].kind == KRunc);
        if (!owns && rng.range(0, 4) == 0) rand_slot();
        resrdy.step(rpop, rng);
    }
    rep.check(q.done() && c > complete_c && req.empty() && rbeat.empty() && wready_at.empty(),
              "time-out after %ld cycles (%zu of %zu instructions)", c, q.head, q.ins.size());
    rep.check(n_first_res > 5 && n_flush > 10 && n_noflush > 10 && waits > 10 && b2b_runc > 10 && b2b_mix > 2 &&
                  n_dw_runc > 5 && written_pushes > 5,
              "corners not reached: residual reads %ld, flush %ld, no flush %ld, port waits %ld, RUNC back-to-back %ld, "
              "RUNC/v1 back-to-back %ld, mrows-1 RUNCs %ld, WRITTEN pushes %ld", n_first_res, n_flush, n_noflush, waits,
              b2b_runc, b2b_mix, n_dw_runc, written_pushes);
    printf("test_result_codes: Dm %d Dn %d W %d L %d block %d B: %d instructions (%ld layers, %ld depthwise, %ld residual; "
           "%ld RUNC: %ld residual reads, %ld flush, %ld no flush; %ld v1 RUN, %ld SETUP), back-to-back %ld RUNC, %ld "
           "RUNC/v1, %ld port waits, %ld WRITTEN, %ld write beats, %ld cycles\n",
           Dm, Dn, W, L, BC, n_ins, n_layers, n_dw, n_reslayers, n_runc, n_first_res, n_flush, n_noflush, n_v1, n_setup,
           b2b_runc, b2b_mix, waits, written_pushes, wbeats_total, c);
    bq_codes_free(&cst);
    m->final();
    return rep.finish();
}
