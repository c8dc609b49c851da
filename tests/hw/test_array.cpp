// test_array -- bqa_array (Dm x Dn DPUs + asum row + control pipeline) against the golden GEMM tile
//   acc[mi][ni] = sum_k W[mi][k] * A[k][ni],  asum[ni] = sum_k A[k][ni]
// for (wbits, abits) pairs, both signednesses per operand, K not a multiple of Dk, K split over two
// instructions (clear, then accumulate), and a random order of (bit pair, K chunk) beats.
// Usage: test_array [+full]  (+full: all 64 pairs x 4 signedness combinations, more shapes).
#include <algorithm>
#include <random>
#include <memory>
#include <vector>
#include "Vbqa_array.h"
#include "bqa_tb.h"

#ifndef TB_DM
#define TB_DM 4
#endif
#ifndef TB_DN
#define TB_DN 4
#endif
#ifndef TB_DK
#define TB_DK 32
#endif

struct Beat { int i, j, kc; bool valid, clear, en, asum_en, commit, resrdy; };

static void set_ctrl(Vbqa_array *m, const Beat &b, int wbits, int abits, bool ws, bool as) {
    m->iss_valid_i = b.valid; m->iss_clear_i = b.clear; m->iss_en_i = b.en;
    m->iss_shift_i = b.i + b.j;
    m->iss_neg_i = ((b.i == wbits - 1) && ws) ^ ((b.j == abits - 1) && as);
    m->iss_asum_en_i = b.asum_en; m->iss_asum_shift_i = b.j;
    m->iss_asum_neg_i = (b.j == abits - 1) && as;
    m->iss_commit_i = b.commit; m->iss_resrdy_i = b.resrdy;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_array>(ctx.get());
    TbReport rep("test_array");
    const bool full = tb_has_arg(argc, argv, "+full");
    TbRng rng(42);
    const int Dm = TB_DM, Dn = TB_DN, Dk = TB_DK;

    m->rst_ni = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    Beat idle{}; 
    set_ctrl(m.get(), idle, 1, 1, false, false);

    std::vector<int> ks = full ? std::vector<int>{1, Dk - 1, Dk, Dk + 1, 3 * Dk + 5, 9 * Dk}
                               : std::vector<int>{Dk + 3, 3 * Dk};
    long tiles = 0;
    for (int wbits = 1; wbits <= 8; wbits++)
    for (int abits = 1; abits <= 8; abits++)
    for (int sg = 0; sg < 4; sg++) {
        if (!full && !((wbits == abits) || (wbits == 8 && abits == 1) || (wbits == 2 && abits == 7)))
            continue;
        const bool ws = sg & 1, as = (sg >> 1) & 1;
        for (int K : ks) {
            const int KC = (K + Dk - 1) / Dk;
            // codes; extremes on some tiles (most negative weight x largest activation)
            std::vector<uint32_t> W(Dm * KC * Dk, 0), A(KC * Dk * Dn, 0);
            const int mode = rng.range(0, 3);
            for (int mi = 0; mi < Dm; mi++) for (int k = 0; k < K; k++) {
                uint32_t c = rng.u32() & ((1u << wbits) - 1);
                if (mode == 0) c = ws ? (1u << (wbits - 1)) : ((1u << wbits) - 1);
                W[mi * KC * Dk + k] = c;
            }
            for (int k = 0; k < K; k++) for (int ni = 0; ni < Dn; ni++) {
                uint32_t c = rng.u32() & ((1u << abits) - 1);
                if (mode == 0) c = as ? ((1u << (abits - 1)) - 1) : ((1u << abits) - 1);
                if (mode == 1 && as) c = 1u << (abits - 1);
                A[k * Dn + ni] = c;
            }
            // golden
            std::vector<int64_t> gacc(Dm * Dn, 0), gasum(Dn, 0);
            for (int mi = 0; mi < Dm; mi++) for (int ni = 0; ni < Dn; ni++) for (int k = 0; k < K; k++)
                gacc[mi * Dn + ni] += g_code_value(W[mi * KC * Dk + k], wbits, ws) *
                                      g_code_value(A[k * Dn + ni], abits, as);
            for (int ni = 0; ni < Dn; ni++) for (int k = 0; k < K; k++)
                gasum[ni] += g_code_value(A[k * Dn + ni], abits, as);
            // beats: two "instructions" over K-chunk ranges [0, split) and [split, KC); the second
            // one in random order; first beat clears, last beat commits.
            std::vector<Beat> beats;
            const int split = KC > 1 ? rng.range(1, KC - 1) : KC;
            for (int part = 0; part < 2; part++) {
                std::vector<Beat> pb;
                int k0 = part ? split : 0, k1 = part ? KC : split;
                for (int i = 0; i < wbits; i++) for (int j = 0; j < abits; j++)
                    for (int kc = k0; kc < k1; kc++)
                        pb.push_back(Beat{i, j, kc, true, false, true, i == 0, false, false});
                if (part == 1) std::shuffle(pb.begin(), pb.end(), std::default_random_engine(rng.u32()));
                beats.insert(beats.end(), pb.begin(), pb.end());
            }
            // optionally insert bubbles (valid beats with en=0 must not change anything)
            if (rng.range(0, 1)) beats.insert(beats.begin() + beats.size() / 2,
                                              Beat{0, 0, 0, true, false, false, false, false, false});
            beats.front().clear = true;
            beats.back().commit = true;
            beats.back().resrdy = true;
            // drive: beat b issued in cycle c, its bank data in cycle c+1
            int resrdy_seen = 0;
            for (size_t c = 0; c <= beats.size() + 2; c++) {
                if (c < beats.size()) set_ctrl(m.get(), beats[c], wbits, abits, ws, as);
                else set_ctrl(m.get(), idle, wbits, abits, ws, as);
                if (c >= 1 && c - 1 < beats.size()) {
                    const Beat &b = beats[c - 1];
                    for (int mi = 0; mi < Dm; mi++) for (int t = 0; t < Dk; t++)
                        tb_set_bits(m->w_words_i, mi * Dk + t, 1, (W[mi * KC * Dk + b.kc * Dk + t] >> b.i) & 1);
                    for (int ni = 0; ni < Dn; ni++) for (int t = 0; t < Dk; t++)
                        tb_set_bits(m->a_words_i, ni * Dk + t, 1, (A[(b.kc * Dk + t) * Dn + ni] >> b.j) & 1);
                }
                m->clk_i = 0; m->eval();
                resrdy_seen += m->resrdy_o;
                m->clk_i = 1; m->eval();
            }
            tiles++;
            rep.check(resrdy_seen == 1, "resrdy pulses %d", resrdy_seen);
            for (int mi = 0; mi < Dm; mi++) for (int ni = 0; ni < Dn; ni++) {
                int32_t got = (int32_t)tb_get_bits(m->res_o, (mi * Dn + ni) * 32, 32);
                rep.check(got == (int32_t)gacc[mi * Dn + ni], "w%d a%d s%d K%d acc[%d][%d] %d want %lld",
                          wbits, abits, sg, K, mi, ni, got, (long long)gacc[mi * Dn + ni]);
            }
            for (int ni = 0; ni < Dn; ni++) {
                int32_t got = (int32_t)tb_get_bits(m->asum_o, ni * 32, 32);
                rep.check(got == (int32_t)gasum[ni], "w%d a%d s%d K%d asum[%d] %d want %lld",
                          wbits, abits, sg, K, ni, got, (long long)gasum[ni]);
            }
        }
    }
    printf("test_array: %ld tiles (Dm %d Dn %d Dk %d)\n", tiles, Dm, Dn, Dk);
    m->final();
    return rep.finish();
}
