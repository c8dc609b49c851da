/* isa.c — instruction encoding of docs/hw_isa.md section 3. See isa.h.
 *
 * bq_isa_fields is the only place where a bit position of an instruction field is written down:
 * the encoder and decoder below walk it, and hwgen --pkg turns it into the RTL's bqa_pkg. */
#include "isa.h"

#include <stddef.h>
#include <string.h>

#define F(nm, st, lsb, w, fl, en) \
    {#nm, (int8_t)(st), lsb, w, fl, en, (uint16_t)offsetof(bq_instr, nm), (uint8_t)sizeof(((bq_instr *)0)->nm)}
#define C BQ_ISA_COMMON
#define FE BQ_STAGE_FETCH
#define EX BQ_STAGE_EXEC
#define RS BQ_STAGE_RESULT
#define M1 BQ_ISA_M1
#define NZ BQ_ISA_NZ
const bq_isa_field bq_isa_fields[] = {
    /* word0 15:0, every queue (§3) */
    F(op, C, 0, 4, 0, BQ_ISA_ENUM_OP),
    F(wait0, C, 8, 1, 0, 0),
    F(wait1, C, 9, 1, 0, 0),
    F(sig0, C, 12, 1, 0, 0),
    F(sig1, C, 13, 1, 0, 0),
    /* fetch RUN (§3.1) */
    F(target, FE, 16, 2, 0, BQ_ISA_ENUM_TARGET),
    F(nplanes, FE, 18, 3, M1, 0),
    F(dram_addr, FE, 32, 32, 0, 0),
    F(plane_stride, FE, 64, 32, 0, 0),
    F(buf_base, FE, 96, 16, 0, 0),
    F(t, FE, 112, 16, NZ, 0),
    /* execute RUN (§3.2) */
    F(clear, EX, 16, 1, 0, 0),
    F(commit, EX, 17, 1, 0, 0),
    F(asum, EX, 18, 1, 0, 0),
    F(wbits, EX, 20, 3, M1, 0),
    F(abits, EX, 24, 3, M1, 0),
    F(wsigned, EX, 28, 1, 0, 0),
    F(asigned, EX, 29, 1, 0, 0),
    F(wbase, EX, 32, 16, 0, 0),
    F(abase, EX, 48, 16, 0, 0),
    F(wstride, EX, 64, 16, 0, 0),
    F(astride, EX, 80, 16, 0, 0),
    F(nk, EX, 96, 16, NZ, 0),
    F(w0, EX, 112, 3, 0, 0),
    F(wn, EX, 116, 3, M1, 0),
    F(a0, EX, 120, 3, 0, 0),
    F(an, EX, 124, 3, M1, 0),
    /* result RUN (§3.3) */
    F(mode, RS, 16, 1, 0, 0),
    F(obits, RS, 17, 3, M1, 0),
    F(res, RS, 20, 1, 0, 0),
    F(rbits, RS, 21, 3, M1, 0),
    F(z_r, RS, 24, 8, 0, 0),
    F(out_addr, RS, 32, 32, 0, 0),
    F(res_addr, RS, 64, 32, 0, 0),
    F(z_o, RS, 96, 8, 0, 0),
    F(lo, RS, 104, 8, 0, 0),
    F(hi, RS, 112, 8, 0, 0),
    F(rq_entry, RS, 120, 8, 0, 0),
};
const int bq_isa_nfields = (int)(sizeof bq_isa_fields / sizeof bq_isa_fields[0]);
#undef F
#undef C
#undef FE
#undef EX
#undef RS
#undef M1
#undef NZ

const bq_isa_enumval bq_isa_enumvals[] = {
    {BQ_ISA_ENUM_OP, "op_e", "OpSync", 4, BQ_OP_SYNC},
    {BQ_ISA_ENUM_OP, "op_e", "OpRun", 4, BQ_OP_RUN},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtW", 2, BQ_TGT_W},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtA", 2, BQ_TGT_A},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtRq", 2, BQ_TGT_RQ},
    {0, NULL, NULL, 0, 0},
};

uint32_t bq_isa_field_get(const bq_instr *in, const bq_isa_field *f) {
    const unsigned char *p = (const unsigned char *)in + f->offset;
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    switch (f->size) {
    case 1: memcpy(&v8, p, 1); return v8;
    case 2: memcpy(&v16, p, 2); return v16;
    default: memcpy(&v32, p, 4); return v32;
    }
}

void bq_isa_field_set(bq_instr *in, const bq_isa_field *f, uint32_t v) {
    unsigned char *p = (unsigned char *)in + f->offset;
    uint8_t v8 = (uint8_t)v;
    uint16_t v16 = (uint16_t)v;
    switch (f->size) {
    case 1: memcpy(p, &v8, 1); break;
    case 2: memcpy(p, &v16, 2); break;
    default: memcpy(p, &v, 4); break;
    }
}

/* put v into bits [lo, lo+n) of the 128-bit w (a field never crosses a 32-bit word); returns 1 if
 * v did not fit */
static int put(uint32_t w[4], int lo, int n, uint32_t v) {
    uint32_t mask = n == 32 ? 0xffffffffu : ((1u << n) - 1u);
    w[lo / 32] |= (v & mask) << (lo % 32);
    return (v & ~mask) != 0;
}
static uint32_t get(const uint32_t w[4], int lo, int n) {
    uint32_t mask = n == 32 ? 0xffffffffu : ((1u << n) - 1u);
    return (w[lo / 32] >> (lo % 32)) & mask;
}

/* encode the fields of `stage` (BQ_ISA_COMMON or a bq_stage); returns 1 if one is out of range */
static int encode_fields(const bq_instr *in, int stage, uint32_t w[4]) {
    int bad = 0;
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        if (f->stage != stage) continue;
        uint32_t v = bq_isa_field_get(in, f);
        if ((f->flags & (BQ_ISA_M1 | BQ_ISA_NZ)) && v < 1) {
            bad = 1;
            continue;
        }
        bad |= put(w, f->lsb, f->width, f->flags & BQ_ISA_M1 ? v - 1 : v);
    }
    return bad;
}

static void decode_fields(const uint32_t w[4], int stage, bq_instr *out) {
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        if (f->stage != stage) continue;
        uint32_t v = get(w, f->lsb, f->width);
        bq_isa_field_set(out, f, f->flags & BQ_ISA_M1 ? v + 1 : v);
    }
}

int bq_isa_encode(const bq_instr *in, uint32_t w[4]) {
    w[0] = w[1] = w[2] = w[3] = 0;
    int bad = encode_fields(in, BQ_ISA_COMMON, w);
    if (in->op != BQ_OP_RUN) return bad ? -1 : 0;
    if (in->stage >= BQ_NSTAGES) return -1;
    bad |= encode_fields(in, in->stage, w);
    return bad ? -1 : 0;
}

int bq_isa_decode(int stage, const uint32_t w[4], bq_instr *out) {
    memset(out, 0, sizeof *out);
    out->stage = (uint8_t)stage;
    decode_fields(w, BQ_ISA_COMMON, out);
    if (out->op == BQ_OP_SYNC) return 0;
    if (out->op != BQ_OP_RUN) return -1;
    if (stage < 0 || stage >= BQ_NSTAGES) return -1;
    decode_fields(w, stage, out);
    if (stage == BQ_STAGE_FETCH && out->target > BQ_TGT_RQ) return -1;
    return 0;
}
