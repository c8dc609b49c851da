// test_isa -- the RTL's ISA package (build/gen/bqa_pkg.sv, written by hwgen --pkg from the C field
// table bq_isa_fields of hw_model/isa.c) against that table and the C encoder/decoder, through the
// generated probe module bqa_isa_probe (every field read and written by its struct member name):
//   * walking one: each bit of each field, set alone in an instruction word, appears in exactly that
//     member (common fields through the head of every struct), every other member of the struct
//     reads 0; one struct per kind of bq_isa_kinds (queue and field variant: the v1 structs and the
//     v2 ones of docs/hw_isa.md §3.5);
//   * random instructions of every kind (its op, or SYNC; fetch RUN with targets W/A/RQ or WIN):
//     bq_isa_encode's words read through the structs give back each field's code (value, or
//     value - 1 for "_m1" members), the structs built from the codes pack to bq_isa_encode's words
//     bit for bit (reserved bits 0), and bq_isa_decode gives back the instruction.
// Fails if the package and the C table disagree in any position, width, order or member.
// Usage: test_isa [+full]
#include <memory>
#include <string>
#include <vector>
#include "Vbqa_isa_probe.h"
#include "bqa_tb.h"
extern "C" {
#include "isa.h"
}

static void set_word(VlWide<4> &w, const uint32_t v[4]) { for (int i = 0; i < 4; i++) w[i] = v[i]; }

int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto m = std::make_unique<Vbqa_isa_probe>(ctx.get());
    TbReport rep("test_isa");
    const int nf = bq_isa_nfields;
    const long iters = tb_has_arg(argc, argv, "+full") ? 200000 : 20000;
    rep.check(nf == (int)(sizeof m->field_o / sizeof m->field_o[0]), "probe has %d fields, table %d",
              (int)(sizeof m->field_o / sizeof m->field_o[0]), nf);
    TbRng rng(0x15a);
    const int nk = bq_isa_nkinds;
    rep.check(nk <= 8, "%d kinds, the probe's kind_i has 3 bits", nk);
    // field f is a member of the struct of kind k (the head's fields of every struct)
    auto mine = [](const bq_isa_field &f, int k) {
        return f.stage == BQ_ISA_COMMON || (f.stage == bq_isa_kinds[k].stage && f.variant == bq_isa_kinds[k].variant);
    };

    // ---- walking one ----
    long walks = 0;
    for (int fi = 0; fi < nf; fi++) {
        const bq_isa_field &f = bq_isa_fields[fi];
        for (int kind = 0; kind < nk; kind++) {
            if (!mine(f, kind)) continue;
            for (int b = 0; b < f.width; b++) {
                uint32_t w[4] = {0, 0, 0, 0};
                w[(f.lsb + b) / 32] = 1u << ((f.lsb + b) % 32);
                set_word(m->word_i, w);
                m->kind_i = kind;
                m->eval();
                walks++;
                for (int gi = 0; gi < nf; gi++) {
                    const bq_isa_field &g = bq_isa_fields[gi];
                    if (!mine(g, kind)) continue;
                    uint32_t want = gi == fi ? 1u << b : 0u;
                    rep.check(m->field_o[gi] == want, "kind %d: bit %d (%s bit %d) reads %s = 0x%x, want 0x%x",
                              kind, f.lsb + b, f.name, b, g.name, m->field_o[gi], want);
                }
            }
        }
    }

    // ---- random instructions ----
    long runs = 0, syncs = 0;
    std::vector<long> per_kind(nk, 0);
    std::vector<uint32_t> code(nf);
    for (long it = 0; it < iters; it++) {
        int kind = rng.range(0, nk - 1);
        const bq_isa_kind &K = bq_isa_kinds[kind];
        bq_instr in;
        memset(&in, 0, sizeof in);
        in.stage = (uint8_t)K.stage;
        for (int fi = 0; fi < nf; fi++) {
            const bq_isa_field &f = bq_isa_fields[fi];
            uint32_t mask = f.width == 32 ? 0xffffffffu : (1u << f.width) - 1;
            uint32_t c = rng.u32() & mask;
            if (rng.range(0, 3) == 0) c = rng.range(0, 1) ? mask : 0;   // extremes
            if (f.enum_id == BQ_ISA_ENUM_OP) c = rng.range(0, 4) ? K.op : (uint32_t)BQ_OP_SYNC;
            if (f.enum_id == BQ_ISA_ENUM_TARGET)   // the kind's target: RUN any of W/A/RQ, WIN only WIN
                c = K.target == BQ_TGT_WIN ? (uint32_t)BQ_TGT_WIN : (uint32_t)rng.range(BQ_TGT_W, BQ_TGT_RQ);
            if ((f.flags & BQ_ISA_NZ) && c == 0) c = 1;
            code[fi] = c;
        }
        bool run = code[0] != BQ_OP_SYNC;   // field 0 is op (checked below)
        per_kind[kind] += run;
        for (int fi = 0; fi < nf; fi++) {
            const bq_isa_field &f = bq_isa_fields[fi];
            if (!mine(f, kind) || (f.stage != BQ_ISA_COMMON && !run)) code[fi] = 0;
            if (mine(f, kind) && (f.stage == BQ_ISA_COMMON || run))
                bq_isa_field_set(&in, &f, f.flags & BQ_ISA_M1 ? code[fi] + 1 : code[fi]);
        }
        runs += run;
        syncs += !run;
        uint32_t w[4];
        rep.check(bq_isa_encode(&in, w) == 0, "it %ld: bq_isa_encode rejected a legal instruction", it);
        // C words -> SV structs
        set_word(m->word_i, w);
        m->kind_i = kind;
        // SV structs -> words; fields of the other queues get junk (they must not reach word_o)
        for (int fi = 0; fi < nf; fi++)
            m->field_i[fi] = mine(bq_isa_fields[fi], kind) ? code[fi] : rng.u32();
        m->eval();
        for (int fi = 0; fi < nf; fi++) {
            const bq_isa_field &f = bq_isa_fields[fi];
            if (!mine(f, kind)) continue;
            rep.check(m->field_o[fi] == code[fi], "it %ld kind %d: member %s%s reads 0x%x, C encoded 0x%x", it,
                      kind, f.name, f.flags & BQ_ISA_M1 ? "_m1" : "", m->field_o[fi], code[fi]);
        }
        for (int i = 0; i < 4; i++)
            rep.check(m->word_o[i] == w[i], "it %ld kind %d: struct packs word%d 0x%08x, bq_isa_encode 0x%08x",
                      it, kind, i, m->word_o[i], w[i]);
        bq_instr d;
        rep.check(bq_isa_decode(K.stage, w, &d) == 0 && memcmp(&d, &in, sizeof d) == 0,
                  "it %ld kind %d: bq_isa_decode does not give the instruction back", it, kind);
    }
    rep.check(!strcmp(bq_isa_fields[0].name, "op"), "field 0 is '%s', the test assumes op", bq_isa_fields[0].name);
    std::string kinds;
    for (int k = 0; k < nk; k++) {
        rep.check(per_kind[k] > 0, "no random instruction of kind %s", bq_isa_kinds[k].sv_type);
        kinds += (k ? ", " : "") + std::string(bq_isa_kinds[k].sv_type) + " " + std::to_string(per_kind[k]);
    }
    printf("test_isa: %d fields in %d structs, %ld walking-one words, %ld random instructions (%ld with fields: %s;"
           " %ld SYNC)\n", nf, nk, walks, iters, runs, kinds.c_str(), syncs);
    m->final();
    return rep.finish();
}
