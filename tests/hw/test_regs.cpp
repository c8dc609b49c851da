// test_regs -- bqa_regs (read-only register file, docs/hw_isa.md §5) against a plain model: the
// configuration words from the build parameters, the status words from the live inputs, and 13
// 32-bit counters that count their condition in cycles with run_i = 1 (CYCLES = cycles not done).
// Every cycle a random register is read (combinationally) and compared; every 97th cycle all 256
// byte addresses (unmapped ones read 0). Counters start at 0 after reset (the 2^32 wrap is not
// reached in simulation). Parameters fixed at build time (TB_* = the -G values). Usage: test_regs [+full]
#include <memory>
#include "Vbqa_regs.h"
#include "bqa_tb.h"

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_regs>(ctx.get());
    TbReport rep("test_regs");
    const long cycles = tb_has_arg(argc, argv, "+full") ? 1000000 : 30000;
    TbRng rng(5);
    uint32_t cnt[13] = {0};
    m->rst_ni = 0; m->run_i = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    long sweeps = 0;
    for (long c = 0; c < cycles; c++) {
        bool run = rng.range(0, 9) != 0, done = rng.range(0, 4) == 0;
        int fc = rng.range(0, 2), ec = rng.range(0, 2), rc = rng.range(0, 2);   // one-hot class index
        bool eb = rng.range(0, 1), rb = rng.range(0, 1), wb = rng.range(0, 1);
        uint32_t idle = (uint32_t)rng.range(0, 7), tok = rng.u32();
        m->run_i = run; m->done_i = done;
        m->f_class_i = 1u << fc; m->e_class_i = 1u << ec; m->r_class_i = 1u << rc;
        m->e_beat_i = eb; m->rd_beat_i = rb; m->wr_beat_i = wb;
        m->stage_idle_i = idle; m->tokens_i = tok;
        auto want = [&](int a) -> uint32_t {
            switch (a) {
            case 0x00: return 0x42514131u;
            case 0x04: return 1;
            case 0x08: return TB_DM;
            case 0x0C: return TB_DN;
            case 0x10: return TB_DK;
            case 0x14: return 32;
            case 0x18: return TB_WD;
            case 0x1C: return TB_AD;
            case 0x20: return TB_RQD;
            case 0x24: return TB_MW;
            case 0x28: return TB_IQ;
            case 0x2C: return TB_LANES;
            case 0x30: return (uint32_t)(TB_HASH & 0xffffffffull);
            case 0x34: return (uint32_t)(TB_HASH >> 32);
            case 0x38: return ((tok & 0xffff) << 8) | (idle << 1) | (done ? 1 : 0);
            case 0x3C: return tok >> 16;
            default:
                if (a >= 0x40 && a <= 0x70 && a % 4 == 0) return cnt[(a - 0x40) / 4];
                return 0;
            }
        };
        auto read = [&](int a) { m->reg_addr_i = (uint8_t)a; m->eval(); return (uint32_t)m->reg_rdata_o; };
        m->clk_i = 0;
        if (c % 97 == 0) {
            sweeps++;
            for (int a = 0; a < 256; a++)
                rep.check(read(a) == want(a), "cycle %ld: reg 0x%02x = 0x%08x, want 0x%08x", c, a, read(a), want(a));
        }
        int a = rng.range(0, 1) ? 4 * rng.range(0, 0x1C) : rng.range(0, 255);
        rep.check(read(a) == want(a), "cycle %ld: reg 0x%02x = 0x%08x, want 0x%08x", c, a, read(a), want(a));
        m->clk_i = 1; m->eval();
        if (run) {
            bool inc[13] = {!done, fc == 0, fc == 1, fc == 2, ec == 0, ec == 1, ec == 2, rc == 0, rc == 1,
                            rc == 2, eb, rb, wb};
            for (int k = 0; k < 13; k++) cnt[k] += inc[k];
        }
    }
    printf("test_regs: %ld cycles, %ld full sweeps of the 256 addresses, CYCLES = %u\n", cycles, sweeps, cnt[0]);
    m->final();
    return rep.finish();
}
