// test_fpga_wrap -- bqa_fpga_wrap (the pin-limited wrapper of `make fpga`) against a plain model of
// its wiring, built with the tiny configuration (build/gen/tiny/hw_params.h):
//   * sin_i shifts into a 128-bit register whose low byte is the register address of bqa_top's
//     read port: out_o[0] must be, one cycle later, the parity of the register that address names
//     (configuration words from the generated parameters, IQ_DEPTH = the wrapper's 2, the status
//     word's done bit, unmapped addresses and the counters of a never-run accelerator 0);
//   * the three instruction queues are 2 deep (the wrapper's IqDepth, not the configuration's 16):
//     random pushes with run_i = 0 (nothing pops) fill each after two, and out_o[7] = the XOR of
//     the three ready flags follows the model's counts;
//   * out_o[3] = done_o (every queue empty and nothing running), out_o[6] and out_o[4] (memory
//     request and write valid) stay 0 without a program running.
// A stream of random bits and pushes, compared every cycle. Usage: test_fpga_wrap [+full]
#include <memory>
#include "Vbqa_fpga_wrap.h"
#include "bqa_tb.h"
#include "hw_params.h"

// done: the model's "every queue empty" (nothing runs: run_i = 0)
static uint32_t reg_model(int a, bool done) {
    switch (a) {
    case 0x00: return 0x42514131u;
    case 0x04: return 1;
    case 0x08: return BQ_HW_DM;
    case 0x0C: return BQ_HW_DN;
    case 0x10: return BQ_HW_DK;
    case 0x14: return 32;
    case 0x18: return BQ_HW_WEIGHT_DEPTH;
    case 0x1C: return BQ_HW_ACT_DEPTH;
    case 0x20: return BQ_HW_REQUANT_DEPTH;
    case 0x24: return BQ_HW_MEM_WIDTH_BITS;
    case 0x28: return 2;                   // the wrapper's queue depth
    case 0x2C: return BQ_HW_RES_LANES;
    case 0x30: return (uint32_t)(BQ_HW_CONFIG_HASH & 0xffffffffull);
    case 0x34: return (uint32_t)(BQ_HW_CONFIG_HASH >> 32);
    case 0x38: return (7u << 1) | done;    // status: no tokens, the three stages idle, done
    default: return 0;                     // unmapped; counters of a never-run accelerator
    }
}

static int parity(uint32_t v) { return __builtin_parity(v); }

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_fpga_wrap>(ctx.get());
    TbReport rep("test_fpga_wrap");
    const long cycles = tb_has_arg(argc, argv, "+full") ? 200000 : 20000;
    TbRng rng(11);
    m->run_i = 0; m->sin_i = 0; m->q_valid_i = 0; m->mem_in_i = 0;
    m->rst_ni = 0; tb_tick(m.get()); tb_tick(m.get()); m->rst_ni = 1;
    uint8_t addr = 0;          // model of the shift register's low byte
    int cnt[3] = {0, 0, 0};    // model of the queue fill levels
    int full_seen = 0, reg_checks = 0;
    for (long c = 0; c < cycles; c++) {
        // the outputs registered at the previous edge come from the state before it
        uint32_t want7 = (cnt[0] < 2) ^ (cnt[1] < 2) ^ (cnt[2] < 2);
        uint32_t want3 = cnt[0] == 0 && cnt[1] == 0 && cnt[2] == 0;
        int want0 = parity(reg_model(addr, want3));
        // random bits: the low byte walks all 256 addresses, the 14 mapped ones ~5 % of cycles
        int bit = rng.range(0, 1);
        int push = rng.range(0, 15) == 0 ? rng.range(0, 7) : 0;
        // now and then a reset empties the queues, so the fill levels keep changing
        bool reset = rng.range(0, 199) == 0;
        m->sin_i = bit;
        m->q_valid_i = push;
        m->rst_ni = !reset;
        tb_tick(m.get());
        if (c > 0) {
            uint32_t out = m->out_o;
            rep.check(((out >> 7) & 1) == want7, "cycle %ld: out[7] (ready XOR) = %u, counts %d %d %d",
                      c, (out >> 7) & 1, cnt[0], cnt[1], cnt[2]);
            rep.check(((out >> 3) & 1) == want3, "cycle %ld: out[3] (done) = %u, counts %d %d %d", c,
                      (out >> 3) & 1, cnt[0], cnt[1], cnt[2]);
            rep.check(((out >> 6) & 1) == 0 && ((out >> 4) & 1) == 0,
                      "cycle %ld: memory request/write valid without a running program (out 0x%02x)", c, out);
            rep.check((int)(out & 1) == want0, "cycle %ld: out[0] = %u, want parity of reg 0x%02x = 0x%08x",
                      c, out & 1, addr, reg_model(addr, want3));
            reg_checks++;
        }
        // model the edge: shift, push where ready (reset empties), full when 2 deep
        addr = (uint8_t)((addr << 1) | bit);
        for (int q = 0; q < 3; q++) {
            if (reset) cnt[q] = 0;
            else if (((push >> q) & 1) && cnt[q] < 2) cnt[q]++;
            if (cnt[q] == 2) full_seen |= 1 << q;
        }
    }
    rep.check(full_seen == 7, "not every queue was filled (mask %d)", full_seen);
    printf("test_fpga_wrap: %ld cycles, %d register-parity checks, all three queues filled\n", cycles,
           reg_checks);
    m->final();
    return rep.finish();
}
