// test_rq_lane -- bqa_rq_lane (output-stage numerics, 6 phases) against the golden g_requant():
// random operands, rounding ties (both signs), extreme multipliers/shifts, residual on/off, clamps.
// Usage: test_rq_lane [+full]
#include <memory>
#include "Vbqa_rq_lane.h"
#include "bqa_tb.h"

struct Case { int32_t acc, asum; GRec r; bool res; uint8_t qr, zr, zo, lo, hi; };

static int64_t run_case(Vbqa_rq_lane *m, const Case &c, int32_t *acc0) {
    m->acc_i = (uint32_t)c.acc; m->asum_i = (uint32_t)c.asum; m->bias_i = (uint32_t)c.r.bias;
    m->macc_i = c.r.m_acc; m->mres_i = c.r.m_res; m->zw_i = c.r.z_w; m->sh_i = c.r.sh;
    m->res_en_i = c.res; m->qr_i = c.qr; m->zr_i = c.zr; m->zo_i = c.zo; m->lo_i = c.lo; m->hi_i = c.hi;
    m->en_i = 1;
    for (int ph = 0; ph < 5; ph++) { m->ph_i = ph; tb_tick(m); }
    m->ph_i = 5; m->clk_i = 0; m->eval();
    *acc0 = (int32_t)m->acc0_o;
    int64_t q = m->q_o;
    tb_tick(m);
    return q;
}

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_rq_lane>(ctx.get());
    TbReport rep("test_rq_lane");
    const bool full = tb_has_arg(argc, argv, "+full");
    const long iters = full ? 2000000 : 100000;
    TbRng rng(7);
    m->rst_ni = 0; tb_tick(m.get()); m->rst_ni = 1;

    long ties = 0;
    for (long it = 0; it < iters; it++) {
        Case c{};
        int kind = (int)(it % 5);
        c.r.sh = (uint8_t)rng.range(1, 62);
        c.r.m_acc = rng.u32() >> rng.range(1, 31);
        c.r.m_res = rng.range(0, 3) ? (rng.u32() >> rng.range(1, 31)) : 0;
        c.r.z_w = (uint8_t)rng.range(0, 255);
        c.r.bias = (int32_t)rng.u32() >> rng.range(0, 31);
        c.acc = (int32_t)rng.u32() >> rng.range(0, 31);
        c.asum = (int32_t)(rng.u32() >> rng.range(8, 31));
        c.res = rng.range(0, 1); c.qr = (uint8_t)rng.u32(); c.zr = (uint8_t)rng.u32();
        c.zo = (uint8_t)rng.u32(); c.lo = (uint8_t)rng.range(0, 128); c.hi = (uint8_t)rng.range(c.lo, 255);
        if (kind == 1) {          // exact tie: t = (2k+1) * 2^(sh-1), either sign
            c.r.sh = (uint8_t)rng.range(1, 30); c.r.m_acc = 1; c.res = false;
            c.asum = 0; c.r.bias = 0;
            int64_t k = rng.range(-1000, 1000);
            c.acc = (int32_t)((2 * k + 1) * (1ll << (c.r.sh - 1)));
            c.lo = 0; c.hi = 255; c.zo = 128;
            ties++;
        } else if (kind == 2) {   // extremes
            c.r.m_acc = rng.range(0, 1) ? 0x7fffffffu : 0u;
            c.r.m_res = rng.range(0, 1) ? 0x7fffffffu : 1u;
            c.acc = rng.range(0, 1) ? INT32_MIN : INT32_MAX; c.asum = 0; c.r.bias = 0;
            c.r.sh = (uint8_t)(rng.range(0, 1) ? 62 : rng.range(1, 62));
            c.qr = rng.range(0, 1) ? 255 : 0; c.zr = rng.range(0, 1) ? 255 : 0; c.res = true;
        } else if (kind == 3) {   // realistic layer numbers: small acc0, m ~ 2^30, sh ~ 38
            c.acc = rng.range(-20000, 20000); c.asum = rng.range(0, 5000); c.r.z_w = rng.range(0, 15);
            c.r.bias = rng.range(-5000, 5000); c.r.m_acc = (1u << 30) + (rng.u32() >> 3);
            c.r.sh = (uint8_t)rng.range(30, 45); c.lo = 0; c.hi = 15; c.zo = rng.range(0, 15);
        }
        int32_t acc0_rtl = 0, acc0_g = 0;
        int64_t q = run_case(m.get(), c, &acc0_rtl);
        int64_t g = g_requant(c.acc, c.asum, c.r, c.res, c.qr, c.zr, c.zo, c.lo, c.hi, &acc0_g);
        rep.check(q == g && acc0_rtl == acc0_g,
                  "it %ld kind %d: q %lld acc0 %d, want %lld %d (acc %d asum %d m %u sh %u)", it, kind,
                  (long long)q, acc0_rtl, (long long)g, acc0_g, c.acc, c.asum, c.r.m_acc, c.r.sh);
    }
    // a hand-checked tie: acc0 = 3, m = 1, sh = 1 -> (3 + 1) >> 1 = 2 (half up); -3 -> (-3+1)>>1 = -1
    {
        Case c{}; c.r.m_acc = 1; c.r.sh = 1; c.hi = 255; c.zo = 100; int32_t a0;
        c.acc = 3;  rep.check(run_case(m.get(), c, &a0) == 102, "tie +1.5 -> 2");
        c.acc = -3; rep.check(run_case(m.get(), c, &a0) == 99, "tie -1.5 -> -1");
    }
    printf("test_rq_lane: %ld exact-tie cases\n", ties);
    m->final();
    return rep.finish();
}
