/* isa.c — instruction encoding of docs/hw_isa.md section 3. See isa.h.
 *
 * bq_isa_fields is the only place where a bit position of an instruction field is written down:
 * the encoder and decoder below walk it, and hwgen --pkg turns it into the RTL's bqa_pkg. */
#include "isa.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define F(nm, st, var, lsb, w, fl, en)                                                            \
    {#nm, (int8_t)(st), var, lsb, w, fl, en, (uint16_t)offsetof(bq_instr, nm),                   \
     (uint8_t)sizeof(((bq_instr *)0)->nm)}
#define C BQ_ISA_COMMON
#define FE BQ_STAGE_FETCH
#define EX BQ_STAGE_EXEC
#define RS BQ_STAGE_RESULT
#define RUN BQ_ISA_V_RUN
#define WIN BQ_ISA_V_WIN
#define SET BQ_ISA_V_SETUP
#define COD BQ_ISA_V_CODES
#define M1 BQ_ISA_M1
#define NZ BQ_ISA_NZ
const bq_isa_field bq_isa_fields[] = {
    /* word0 15:0, every queue (§3) */
    F(op, C, 0, 0, 4, 0, BQ_ISA_ENUM_OP),
    F(wait0, C, 0, 8, 1, 0, 0),
    F(wait1, C, 0, 9, 1, 0, 0),
    F(sig0, C, 0, 12, 1, 0, 0),
    F(sig1, C, 0, 13, 1, 0, 0),
    /* fetch RUN, targets W/A/RQ (§3.1) */
    F(target, FE, RUN, 16, 2, 0, BQ_ISA_ENUM_TARGET),
    F(nplanes, FE, RUN, 18, 3, M1, 0),
    F(dram_addr, FE, RUN, 32, 32, 0, 0),
    F(plane_stride, FE, RUN, 64, 32, 0, 0),
    F(buf_base, FE, RUN, 96, 16, 0, 0),
    F(t, FE, RUN, 112, 16, NZ, 0),
    /* execute RUN (§3.2) */
    F(clear, EX, RUN, 16, 1, 0, 0),
    F(commit, EX, RUN, 17, 1, 0, 0),
    F(asum, EX, RUN, 18, 1, 0, 0),
    F(wbits, EX, RUN, 20, 3, M1, 0),
    F(abits, EX, RUN, 24, 3, M1, 0),
    F(wsigned, EX, RUN, 28, 1, 0, 0),
    F(asigned, EX, RUN, 29, 1, 0, 0),
    F(wbase, EX, RUN, 32, 16, 0, 0),
    F(abase, EX, RUN, 48, 16, 0, 0),
    F(wstride, EX, RUN, 64, 16, 0, 0),
    F(astride, EX, RUN, 80, 16, 0, 0),
    F(nk, EX, RUN, 96, 16, NZ, 0),
    F(w0, EX, RUN, 112, 3, 0, 0),
    F(wn, EX, RUN, 116, 3, M1, 0),
    F(a0, EX, RUN, 120, 3, 0, 0),
    F(an, EX, RUN, 124, 3, M1, 0),
    /* result RUN (§3.3) */
    F(mode, RS, RUN, 16, 1, 0, 0),
    F(obits, RS, RUN, 17, 3, M1, 0),
    F(res, RS, RUN, 20, 1, 0, 0),
    F(rbits, RS, RUN, 21, 3, M1, 0),
    F(z_r, RS, RUN, 24, 8, 0, 0),
    F(out_addr, RS, RUN, 32, 32, 0, 0),
    F(res_addr, RS, RUN, 64, 32, 0, 0),
    F(z_o, RS, RUN, 96, 8, 0, 0),
    F(lo, RS, RUN, 104, 8, 0, 0),
    F(hi, RS, RUN, 112, 8, 0, 0),
    F(rq_entry, RS, RUN, 120, 8, 0, 0),
    /* ---- v2 (§3.5; docs/whole_network.md §4), not executed by the v1 RTL ---- */
    /* fetch RUN target WIN (§4.2): target, nplanes, dram_addr, buf_base, t where v1 has them */
    F(target, FE, WIN, 16, 2, 0, BQ_ISA_ENUM_TARGET),
    F(nplanes, FE, WIN, 18, 3, M1, 0),
    F(keep, FE, WIN, 21, 1, 0, 0),
    F(kc0, FE, WIN, 22, 10, 0, 0),
    F(dram_addr, FE, WIN, 32, 32, 0, 0),
    F(pix0, FE, WIN, 64, 32, 0, 0),
    F(buf_base, FE, WIN, 96, 16, 0, 0),
    F(t, FE, WIN, 112, 16, NZ, 0),
    /* fetch SETUP (§4.1): kernel and padding in word0, image sizes in word1, the pixel's bytes and
     * the stride in word2, the slot's real bytes and z_a in word3 */
    F(kh, FE, SET, 16, 4, NZ, 0),
    F(kw, FE, SET, 20, 4, NZ, 0),
    F(pad_t, FE, SET, 24, 4, 0, 0),
    F(pad_l, FE, SET, 28, 4, 0, 0),
    F(in_h, FE, SET, 32, 10, NZ, 0),
    F(in_w, FE, SET, 42, 10, NZ, 0),
    F(out_w, FE, SET, 52, 10, NZ, 0),
    F(cs, FE, SET, 64, 12, NZ, 0),
    F(ch_base, FE, SET, 76, 12, 0, 0),
    F(stride, FE, SET, 88, 4, NZ, 0),
    F(ch_lo, FE, SET, 96, 12, 0, 0),
    F(ch_hi, FE, SET, 108, 12, NZ, 0),
    F(z_a, FE, SET, 120, 8, 0, 0),
    /* result RUNC (§4.4): word0 keeps only res (bit 20, as v1); word3 as v1 */
    F(res, RS, COD, 20, 1, 0, 0),
    F(n0, RS, COD, 32, 32, 0, 0),
    F(ch0, RS, COD, 64, 12, 0, 0),
    F(npix, RS, COD, 76, 7, M1, 0),
    F(mrows, RS, COD, 83, 7, M1, 0),
    F(first, RS, COD, 90, 1, 0, 0),
    F(flush, RS, COD, 91, 1, 0, 0),
    F(z_o, RS, COD, 96, 8, 0, 0),
    F(lo, RS, COD, 104, 8, 0, 0),
    F(hi, RS, COD, 112, 8, 0, 0),
    F(rq_entry, RS, COD, 120, 8, 0, 0),
    /* result SETUP (§4.3): z_r where v1's RUN has it, the two bases, the pixel strides in word3 */
    F(z_r, RS, SET, 24, 8, 0, 0),
    F(out_base, RS, SET, 32, 32, 0, 0),
    F(res_base, RS, SET, 64, 32, 0, 0),
    F(cs_out, RS, SET, 96, 12, NZ, 0),
    F(cs_res, RS, SET, 112, 12, 0, 0),
};
const int bq_isa_nfields = (int)(sizeof bq_isa_fields / sizeof bq_isa_fields[0]);
#undef F
#undef C
#undef FE
#undef EX
#undef RS
#undef RUN
#undef WIN
#undef SET
#undef COD
#undef M1
#undef NZ

const bq_isa_kind bq_isa_kinds[] = {
    {BQ_STAGE_FETCH, BQ_ISA_V_RUN, BQ_OP_RUN, BQ_TGT_W, "fetch_instr_t", "fetch RUN, targets W/A/RQ (§3.1)"},
    {BQ_STAGE_FETCH, BQ_ISA_V_WIN, BQ_OP_RUN, BQ_TGT_WIN, "fetch_win_t", "fetch RUN, target WIN (§3.5, v2)"},
    {BQ_STAGE_FETCH, BQ_ISA_V_SETUP, BQ_OP_SETUP, 0, "fetch_setup_t", "fetch SETUP (§3.5, v2)"},
    {BQ_STAGE_EXEC, BQ_ISA_V_RUN, BQ_OP_RUN, 0, "exec_instr_t", "execute RUN (§3.2)"},
    {BQ_STAGE_RESULT, BQ_ISA_V_RUN, BQ_OP_RUN, 0, "result_instr_t", "result RUN (§3.3)"},
    {BQ_STAGE_RESULT, BQ_ISA_V_CODES, BQ_OP_RUNC, 0, "result_codes_t", "result RUNC, CODES mode (§3.5, v2)"},
    {BQ_STAGE_RESULT, BQ_ISA_V_SETUP, BQ_OP_SETUP, 0, "result_setup_t", "result SETUP (§3.5, v2)"},
};
const int bq_isa_nkinds = (int)(sizeof bq_isa_kinds / sizeof bq_isa_kinds[0]);

const bq_isa_enumval bq_isa_enumvals[] = {
    {BQ_ISA_ENUM_OP, "op_e", "OpSync", 4, BQ_OP_SYNC},
    {BQ_ISA_ENUM_OP, "op_e", "OpRun", 4, BQ_OP_RUN},
    {BQ_ISA_ENUM_OP, "op_e", "OpSetup", 4, BQ_OP_SETUP},
    {BQ_ISA_ENUM_OP, "op_e", "OpRunc", 4, BQ_OP_RUNC},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtW", 2, BQ_TGT_W},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtA", 2, BQ_TGT_A},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtRq", 2, BQ_TGT_RQ},
    {BQ_ISA_ENUM_TARGET, "target_e", "TgtWin", 2, BQ_TGT_WIN},
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

int bq_isa_variant(int stage, int op, int target) {
    switch (op) {
    case BQ_OP_RUN:
        if (stage == BQ_STAGE_FETCH) return target == BQ_TGT_WIN ? BQ_ISA_V_WIN : BQ_ISA_V_RUN;
        return stage == BQ_STAGE_EXEC || stage == BQ_STAGE_RESULT ? BQ_ISA_V_RUN : -1;
    case BQ_OP_SETUP:
        return stage == BQ_STAGE_FETCH || stage == BQ_STAGE_RESULT ? BQ_ISA_V_SETUP : -1;
    case BQ_OP_RUNC:
        return stage == BQ_STAGE_RESULT ? BQ_ISA_V_CODES : -1;
    default:
        return -1;
    }
}

int bq_isa_is_v1(const bq_instr *in) {
    if (in->op == BQ_OP_SYNC) return 1;
    return in->op == BQ_OP_RUN && (in->stage != BQ_STAGE_FETCH || in->target <= BQ_TGT_RQ);
}

/* encode the fields of (stage, variant) (stage BQ_ISA_COMMON: the head); returns 1 if one is out
 * of range */
static int encode_fields(const bq_instr *in, int stage, int variant, uint32_t w[4]) {
    int bad = 0;
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        if (f->stage != stage || (stage != BQ_ISA_COMMON && f->variant != variant)) continue;
        uint32_t v = bq_isa_field_get(in, f);
        if ((f->flags & (BQ_ISA_M1 | BQ_ISA_NZ)) && v < 1) {
            bad = 1;
            continue;
        }
        bad |= put(w, f->lsb, f->width, f->flags & BQ_ISA_M1 ? v - 1 : v);
    }
    return bad;
}

static void decode_fields(const uint32_t w[4], int stage, int variant, bq_instr *out) {
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        if (f->stage != stage || (stage != BQ_ISA_COMMON && f->variant != variant)) continue;
        uint32_t v = get(w, f->lsb, f->width);
        bq_isa_field_set(out, f, f->flags & BQ_ISA_M1 ? v + 1 : v);
    }
}

/* the fetch RUN target field (the same bits in variants RUN and WIN: bq_isa_check) */
static const bq_isa_field *fetch_target_field(void) {
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        if (f->stage == BQ_STAGE_FETCH && f->variant == BQ_ISA_V_RUN && f->enum_id == BQ_ISA_ENUM_TARGET) return f;
    }
    return NULL;
}

int bq_isa_encode(const bq_instr *in, uint32_t w[4]) {
    w[0] = w[1] = w[2] = w[3] = 0;
    int bad = encode_fields(in, BQ_ISA_COMMON, 0, w);
    if (in->op == BQ_OP_SYNC) return bad ? -1 : 0;
    if (in->stage >= BQ_NSTAGES) return -1;
    int v = bq_isa_variant(in->stage, in->op, in->target);
    if (v < 0) return bad ? -1 : 0;   /* no fields: as v1 encoded an op it did not know */
    bad |= encode_fields(in, in->stage, v, w);
    return bad ? -1 : 0;
}

int bq_isa_decode(int stage, const uint32_t w[4], bq_instr *out) {
    memset(out, 0, sizeof *out);
    out->stage = (uint8_t)stage;
    decode_fields(w, BQ_ISA_COMMON, 0, out);
    if (out->op == BQ_OP_SYNC) return 0;
    if (stage < 0 || stage >= BQ_NSTAGES) return -1;
    int target = 0;
    if (stage == BQ_STAGE_FETCH && out->op == BQ_OP_RUN) {
        const bq_isa_field *tf = fetch_target_field();
        if (!tf) return -1;
        target = (int)get(w, tf->lsb, tf->width);
    }
    int v = bq_isa_variant(stage, out->op, target);
    if (v < 0) return -1;
    decode_fields(w, stage, v, out);
    return 0;
}

int bq_isa_check(char *err, size_t errlen) {
    /* used[k][bit]: k = stage*BQ_ISA_NVARIANTS + variant, or the head */
    enum { HEAD = BQ_NSTAGES * BQ_ISA_NVARIANTS };
    unsigned char used[HEAD + 1][BQ_ISA_BITS];
    memset(used, 0, sizeof used);
    const bq_isa_field *tgt[2] = {NULL, NULL};
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        int common = f->stage == BQ_ISA_COMMON;
        int lo = common ? 0 : BQ_ISA_HEAD_BITS, hi = common ? BQ_ISA_HEAD_BITS : BQ_ISA_BITS;
        const char *why = NULL;
        if (f->stage < BQ_ISA_COMMON || f->stage >= BQ_NSTAGES) why = "has a bad stage";
        else if (f->variant >= BQ_ISA_NVARIANTS || (common && f->variant != 0)) why = "has a bad variant";
        else if (f->width < 1 || f->width > 32 || f->lsb < lo || f->lsb + f->width > hi)
            why = common ? "is outside the head (bits 15:0)" : "is outside bits 127:16";
        else if (f->lsb / 32 != (f->lsb + f->width - 1) / 32) why = "crosses a 32-bit word";
        else if (f->width > 8 * f->size) why = "is wider than its bq_instr member";
        else if (f->enum_id) {
            const bq_isa_enumval *e = bq_isa_enumvals;
            while (e->sv_type && e->enum_id != f->enum_id) e++;
            if (!e->sv_type || e->width != f->width) why = "has an enum of another width";
        }
        int k = common ? HEAD : f->stage * BQ_ISA_NVARIANTS + f->variant;
        for (int b = 0; !why && b < f->width; b++)
            if (used[k][f->lsb + b]++) why = "overlaps another field of its variant";
        if (!why && f->stage == BQ_STAGE_FETCH && f->enum_id == BQ_ISA_ENUM_TARGET &&
            (f->variant == BQ_ISA_V_RUN || f->variant == BQ_ISA_V_WIN))
            tgt[f->variant == BQ_ISA_V_WIN] = f;
        if (why) {
            snprintf(err, errlen, "bq_isa_fields: field '%s' (stage %d, variant %d) %s", f->name, f->stage,
                     f->variant, why);
            return -1;
        }
    }
    if (!tgt[0] || !tgt[1] || tgt[0]->lsb != tgt[1]->lsb || tgt[0]->width != tgt[1]->width) {
        snprintf(err, errlen, "bq_isa_fields: the fetch target must be at the same bits in variants RUN and WIN");
        return -1;
    }
    /* every field of a stage belongs to a kind (so it is in a struct of the package) */
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        int k = 0;
        while (f->stage != BQ_ISA_COMMON && k < bq_isa_nkinds &&
               (bq_isa_kinds[k].stage != f->stage || bq_isa_kinds[k].variant != f->variant))
            k++;
        if (k == bq_isa_nkinds) {
            snprintf(err, errlen, "bq_isa_fields: field '%s': no bq_isa_kinds entry for stage %d variant %d",
                     f->name, f->stage, f->variant);
            return -1;
        }
    }
    /* every kind's (stage, variant) is the variant bq_isa_variant gives for its op and target */
    for (int i = 0; i < bq_isa_nkinds; i++) {
        const bq_isa_kind *q = &bq_isa_kinds[i];
        if (bq_isa_variant(q->stage, q->op, q->target) != q->variant) {
            snprintf(err, errlen, "bq_isa_kinds: %s is not variant %d", q->sv_type, q->variant);
            return -1;
        }
    }
    return 0;
}
