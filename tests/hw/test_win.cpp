// test_win -- bqa_win (the window unit, docs/whole_network.md §4.2) against the C reference model
// hw_model/win.c, cycle by cycle: random legal layers (dense 3x3 / 1x1 / odd kernels 1-5, strides 1-2,
// pads 0..k/2, depthwise channel selection, first layer C = 1, tiles crossing output rows, columns past
// the last pixel), RUNs with kc0 / T sub-ranges, 1..8 planes, keep after a fill (also after a new
// SETUP selecting another channel), random Lr / Rr per RUN and random port contention (the grant
// of each burst held back 0..5 cycles, the same waits given to the model). Checked every cycle:
// request valid / address / beats, every bank write (bank, row, Dk-bit word), no write elsewhere,
// complete_o, free_o and busy/stall/idle. Read data comes from a byte memory at the reference
// timing (beat k of a burst accepted in a: a + Lr + k*Rr). Shape fixed at build time
// (-DTB_DN/DK/W/AAB/WINB). Usage: test_win [+full]
#include <algorithm>
#include <map>
#include <memory>
#include <vector>
#include "Vbqa_win.h"
#include "bqa_tb.h"
extern "C" {
#include "win.h"
}
#include "bqa_win_gen.h"

static const int Dn = TB_DN, Dk = TB_DK, W = TB_W, Wb = TB_W / 8, AAB = TB_AAB;
static const long WinBytes = TB_WINB;
static const size_t kMem = 1 << 16;

struct Op { bool setup; bq_win_setup s; bq_win_run r; };
struct ExpWrite { int bank; uint32_t row; std::vector<uint8_t> data; };
struct ExpReq { uint32_t addr, beats; bool grant; };

static int rup(int v, int m) { return (v + m - 1) / m * m; }

static bq_win_setup random_setup(TbRng &rng, int *ho) {
    return win_random_setup(rng, Dn, Dk, W, WinBytes, ho);
}

static void set_setup(Vbqa_win *m, const bq_win_setup &s) {
    m->hi_i = s.hi; m->wi_i = s.wi; m->wo_i = s.wo; m->kh_i = s.kh; m->kw_i = s.kw; m->stride_i = s.stride;
    m->pad_t_i = s.pad_t; m->pad_l_i = s.pad_l; m->cs_i = s.cs; m->ch_base_i = s.ch_base;
    m->ch_lo_i = s.ch_lo; m->ch_hi_i = s.ch_hi; m->z_a_i = s.z_a;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_win>(ctx.get());
    TbReport rep("test_win");
    const bool full = tb_has_arg(argc, argv, "+full");
    const int n_runs = full ? 10000 : 500;
    TbRng rng(0x5eed + Dn * 131 + Dk);
    std::vector<uint8_t> mem(kMem);
    for (auto &b : mem) b = (uint8_t)rng.next();

    // the op stream: SETUPs and RUNs, built lazily
    std::vector<Op> ops;
    bq_win_setup geo{};
    int ho = 1;
    bool have_geo = false;
    bq_win_run last_fill{};
    bool can_keep = false;
    bool force_keep = false;
    auto next_op = [&]() -> Op {
        if (!have_geo || (!force_keep && rng.range(0, 3) == 0)) {
            geo = random_setup(rng, &ho); have_geo = true; can_keep = false;
            return Op{true, geo, {}};
        }
        if (can_keep && !force_keep && rng.range(0, 3) == 0) {   // another channel, same rows: SETUP, then keep
            int ch = rng.range(0, geo.cs - 1);
            geo.ch_base = ch / Wb * Wb; geo.ch_lo = ch % Wb; geo.ch_hi = geo.ch_lo + 1; geo.z_a = rng.range(0, 255);
            force_keep = true;
            return Op{true, geo, {}};
        }
        bq_win_cfg cfg = {Dn, Dk, W, 1, 1, WinBytes};
        int kc_all = rup(geo.kh * geo.kw * rup(geo.ch_hi, Wb), Dk) / Dk;
        for (int tries = 0;; tries++) {
            bq_win_run r{};
            if (force_keep || (can_keep && rng.range(0, 2) == 0)) {
                r = last_fill; r.keep = 1;
            } else {
                r.pix0 = (uint32_t)rng.range(0, ho * geo.wo + Dn - 1);
                uint32_t img = (uint32_t)(geo.hi * geo.wi * geo.cs);
                r.dram_addr = (uint32_t)rng.range(0, (int)((kMem - img) / Wb)) * Wb;
                r.keep = 0;
            }
            r.kc0 = rng.range(0, 2) == 0 ? rng.range(0, kc_all) : 0;   // kc_all: the chunk past K (zeros)
            r.t = rng.range(0, 2) == 0 ? rng.range(1, kc_all - r.kc0 + 1) : std::max(1, kc_all - r.kc0);
            r.nplanes = rng.range(1, 8);
            r.buf_base = (int)(rng.u32() & 0xffff);
            char err[256];
            if (bq_win_check(&cfg, &geo, &r, err, sizeof err) == 0) { force_keep = false; return Op{false, geo, r}; }
            if (tries > 50) {   // this layer's tiles do not fit the window: another layer
                geo = random_setup(rng, &ho); can_keep = false; force_keep = false;
                return Op{true, geo, {}};
            }
        }
    };

    bq_win_setup cur_setup{};
    std::map<long, ExpWrite> wr;
    std::map<long, ExpReq> req;
    std::map<long, std::vector<uint8_t>> beats;   // cycle -> read data
    std::map<long, int> cmpl;
    long busy_until = -1, c = 0, runs = 0, keeps = 0, bursts = 0, writes = 0, b2b = 0, waits_total = 0;
    long stall_until_free = 0;
    long n_rows2 = 0, n_past = 0, n_nofill = 0, n_kc0 = 0, n_dw = 0, n_c1 = 0;   // corners reached
    std::vector<int> wait(Dn * 16);
    bool pending = false;
    Op op{};

    m->rst_ni = 0; m->setup_i = 0; m->start_i = 0; m->req_grant_i = 0; m->rvalid_i = 0;
    tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    const long max_c = 20000L * n_runs;
    for (; c < max_c; c++) {
        if (!pending && runs < n_runs) { op = next_op(); pending = true; }
        bool free = c >= busy_until;
        bool do_setup = false, do_start = false;
        if (pending && free && c >= stall_until_free) {
            if (op.setup) do_setup = true; else do_start = true;
        }
        m->setup_i = do_setup; m->start_i = do_start;
        if (do_setup) set_setup(m.get(), op.s);
        else { bq_win_setup junk{}; junk.hi = rng.range(0, 1023); junk.cs = rng.range(0, 4095); set_setup(m.get(), junk); }
        bq_win_run r = do_start ? op.r : bq_win_run{rng.u32(), rng.u32(), rng.range(0, 1023), rng.range(0, 65535), rng.range(1, 8), rng.range(0, 65535), rng.range(0, 1)};
        m->dram_addr_i = r.dram_addr; m->pix0_i = r.pix0; m->kc0_i = r.kc0; m->t_i = r.t;
        m->nplanes_m1_i = r.nplanes - 1; m->buf_base_i = r.buf_base; m->keep_i = r.keep;
        auto bt = beats.find(c);
        m->rvalid_i = bt != beats.end();
        for (int i = 0; i < W; i += 64) {
            uint64_t v = 0;
            for (int b = 0; b < 8 && b * 8 < W - i; b++) v |= (uint64_t)(bt != beats.end() ? bt->second[i / 8 + b] : rng.next() & 0xff) << (8 * b);
            tb_set_bits(m->rdata_i, i, W - i < 64 ? W - i : 64, v);
        }
        auto rq = req.find(c);
        m->req_grant_i = rq != req.end() && rq->second.grant;
        m->clk_i = 0; m->eval();

        // ---- checks ----
        rep.check(m->free_o == free, "cycle %ld: free %d want %d", c, m->free_o, free);
        bool want_req = rq != req.end();
        rep.check(m->req_valid_o == want_req, "cycle %ld: req_valid %d want %d", c, m->req_valid_o, want_req);
        if (want_req)
            rep.check(m->req_addr_o == rq->second.addr && m->req_beats_o == rq->second.beats,
                      "cycle %ld: request %08x x %u want %08x x %u", c, m->req_addr_o, m->req_beats_o,
                      rq->second.addr, rq->second.beats);
        auto w = wr.find(c);
        uint32_t we_want = w != wr.end() ? 1u << w->second.bank : 0;
        rep.check(m->a_we_o == we_want, "cycle %ld: a_we %x want %x", c, (unsigned)m->a_we_o, we_want);
        if (w != wr.end()) {
            uint32_t row = w->second.row & ((1u << AAB) - 1);
            rep.check(m->a_row_o == row, "cycle %ld: a_row %u want %u", c, m->a_row_o, row);
            bool ok = true;
            for (int i = 0; i < Dk / 32; i++) {
                uint32_t got = (uint32_t)tb_get_bits(m->a_wdata_o, w->second.bank * Dk + 32 * i, 32), want = 0;
                for (int b = 0; b < 4; b++) want |= (uint32_t)w->second.data[4 * i + b] << (8 * b);
                ok &= got == want;
            }
            rep.check(ok, "cycle %ld: bank %d row %u: word differs from the model", c, w->second.bank, row);
            wr.erase(w);
            writes++;
        }
        bool want_cmpl = cmpl.count(c) > 0;
        rep.check(m->complete_o == want_cmpl, "cycle %ld: complete %d want %d", c, m->complete_o, want_cmpl);
        bool stall = want_req && !rq->second.grant;
        bool busy = (c <= busy_until && !stall) || do_start;
        rep.check(m->busy_o == busy && m->stall_o == stall && m->idle_o == (!busy && !stall),
                  "cycle %ld: busy/stall/idle %d%d%d want %d%d", c, m->busy_o, m->stall_o, m->idle_o, busy, stall);
        if (rq != req.end()) req.erase(rq);
        if (bt != beats.end()) beats.erase(bt);
        cmpl.erase(c);

        // ---- dispatch: the model's expectations for this RUN ----
        if (do_setup) { cur_setup = op.s; pending = false; stall_until_free = c + (rng.range(0, 2) == 0 ? rng.range(1, 3) : 1); }
        if (do_start) {
            bq_win_cfg cfg = {Dn, Dk, W, rng.range(1, 6), rng.range(1, 3), WinBytes};
            for (auto &x : wait) { x = rng.range(0, 9) < 6 ? 0 : rng.range(1, 5); }
            bq_win_result res;
            char err[256] = "";
            if (bq_win_exec(&cfg, &cur_setup, &op.r, mem.data(), mem.size(), wait.data(), &res, err, sizeof err)) {
                fprintf(stderr, "test_win: model refused a generated RUN: %s\n", err);
                return 1;
            }
            long q = c + 1;
            for (int b = 0; b < res.nbursts; b++) {
                long a = q + wait[b];
                for (long x = q; x <= a; x++) req[x] = ExpReq{res.bursts[b].addr, res.bursts[b].beats, x == a};
                for (uint32_t k = 0; k < res.bursts[b].beats; k++) {
                    uint32_t at = res.bursts[b].addr + k * Wb;
                    beats[a + cfg.lr + (long)k * cfg.rr] = std::vector<uint8_t>(mem.begin() + at, mem.begin() + at + Wb);
                }
                q = a + cfg.lr + (long)(res.bursts[b].beats - 1) * cfg.rr + 1;
                waits_total += wait[b];
            }
            for (long i = 0; i < res.nwrites; i++) {
                const uint8_t *d = res.wdata + i * (Dk / 8);
                wr[c + res.writes[i].cycle] = ExpWrite{res.writes[i].bank, res.writes[i].row, std::vector<uint8_t>(d, d + Dk / 8)};
            }
            if (c == busy_until) b2b++;
            long n_last = (long)op.r.pix0 + Dn - 1;
            n_rows2 += n_last / cur_setup.wo != (long)op.r.pix0 / cur_setup.wo;
            n_past += n_last >= (long)ho * cur_setup.wo;
            n_nofill += !op.r.keep && res.nbursts == 0;
            n_kc0 += op.r.kc0 > 0;
            n_dw += cur_setup.ch_hi - cur_setup.ch_lo == 1 && cur_setup.cs > Wb;
            n_c1 += cur_setup.cs == Wb && cur_setup.ch_hi == 1;
            busy_until = c + res.complete;
            cmpl[busy_until] = 1;
            bursts += res.nbursts; runs++; keeps += op.r.keep;
            if (!op.r.keep) { last_fill = op.r; can_keep = true; }
            bq_win_result_free(&res);
            pending = false;
            stall_until_free = rng.range(0, 1) ? 0 : busy_until + rng.range(1, 3);
        }
        m->clk_i = 1; m->eval();
        if (runs >= n_runs && c > busy_until) break;
    }
    rep.check(runs == n_runs && wr.empty() && req.empty() && beats.empty(),
              "time-out after %ld cycles (%ld of %d runs, %zu writes left)", c, runs, n_runs, wr.size());
    rep.check(b2b > 5 && keeps > 5 && waits_total > 10, "corners not reached: back-to-back %ld, keep %ld, port waits %ld",
              b2b, keeps, waits_total);
    rep.check(n_rows2 > 5 && n_past > 5 && n_nofill > 0 && n_kc0 > 5 && n_dw > 5 && n_c1 > 5,
              "corners not reached: crossing rows %ld, past the last pixel %ld, no row in the image %ld, kc0 > 0 %ld, "
              "depthwise %ld, C = 1 %ld", n_rows2, n_past, n_nofill, n_kc0, n_dw, n_c1);
    printf("test_win: %ld RUNs crossing an output row, %ld past the last pixel, %ld with no row in the image, "
           "%ld with kc0 > 0, %ld depthwise, %ld with C = 1\n", n_rows2, n_past, n_nofill, n_kc0, n_dw, n_c1);
    printf("test_win: Dn %d Dk %d W %d window %ld B: %ld RUNs (%ld keep, %ld back-to-back), %ld bursts, %ld bank writes, %ld cycles\n",
           Dn, Dk, W, WinBytes, runs, keeps, b2b, bursts, writes, c);
    m->final();
    return rep.finish();
}
