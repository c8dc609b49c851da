/* test_isa.c — instruction encoding (hw_model/isa.c, docs/hw_isa.md §3).
 *
 * v1 bits must never change: random v1 instructions are encoded by bq_isa_encode and by a private
 * copy of the v1 field table (as it was before the v2 variants), the words compared, and their hash
 * compared with golden words captured from the v1 encoder before the change; the same with junk in
 * every v2 member (a v1 instruction ignores them). The v2 variants (docs/hw_isa.md §3.5): the table's
 * invariants, round trips of every kind, golden words pinning the documented bit positions, and
 * which ops are v1 or illegal in which queue. */
#include "testutil.h"
#include <string.h>
#include "isa.h"

/* The v1 field table of 2026-12-06 (docs/hw_isa.md §3.1-3.4), frozen: stage -1 = head. */
typedef struct {
    int8_t stage;
    uint8_t lsb, width, flags;
    uint16_t offset;
    uint8_t size;
} v1_field;
#define V(nm, st, lsb, w, fl) {st, lsb, w, fl, (uint16_t)offsetof(bq_instr, nm), (uint8_t)sizeof(((bq_instr *)0)->nm)}
static const v1_field kV1[] = {
    V(op, -1, 0, 4, 0), V(wait0, -1, 8, 1, 0), V(wait1, -1, 9, 1, 0), V(sig0, -1, 12, 1, 0),
    V(sig1, -1, 13, 1, 0),
    V(target, 0, 16, 2, 0), V(nplanes, 0, 18, 3, 1), V(dram_addr, 0, 32, 32, 0),
    V(plane_stride, 0, 64, 32, 0), V(buf_base, 0, 96, 16, 0), V(t, 0, 112, 16, 2),
    V(clear, 1, 16, 1, 0), V(commit, 1, 17, 1, 0), V(asum, 1, 18, 1, 0), V(wbits, 1, 20, 3, 1),
    V(abits, 1, 24, 3, 1), V(wsigned, 1, 28, 1, 0), V(asigned, 1, 29, 1, 0), V(wbase, 1, 32, 16, 0),
    V(abase, 1, 48, 16, 0), V(wstride, 1, 64, 16, 0), V(astride, 1, 80, 16, 0), V(nk, 1, 96, 16, 2),
    V(w0, 1, 112, 3, 0), V(wn, 1, 116, 3, 1), V(a0, 1, 120, 3, 0), V(an, 1, 124, 3, 1),
    V(mode, 2, 16, 1, 0), V(obits, 2, 17, 3, 1), V(res, 2, 20, 1, 0), V(rbits, 2, 21, 3, 1),
    V(z_r, 2, 24, 8, 0), V(out_addr, 2, 32, 32, 0), V(res_addr, 2, 64, 32, 0), V(z_o, 2, 96, 8, 0),
    V(lo, 2, 104, 8, 0), V(hi, 2, 112, 8, 0), V(rq_entry, 2, 120, 8, 0),
};
#undef V
#define NV1 ((int)(sizeof kV1 / sizeof kV1[0]))

static uint64_t rnd(uint64_t *s) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static uint32_t v1_get(const bq_instr *in, const v1_field *f) {
    const unsigned char *p = (const unsigned char *)in + f->offset;
    uint8_t a; uint16_t b; uint32_t c;
    if (f->size == 1) { memcpy(&a, p, 1); return a; }
    if (f->size == 2) { memcpy(&b, p, 2); return b; }
    memcpy(&c, p, 4);
    return c;
}
static void v1_set(bq_instr *in, const v1_field *f, uint32_t v) {
    unsigned char *p = (unsigned char *)in + f->offset;
    uint8_t a = (uint8_t)v; uint16_t b = (uint16_t)v;
    if (f->size == 1) memcpy(p, &a, 1);
    else if (f->size == 2) memcpy(p, &b, 2);
    else memcpy(p, &v, 4);
}

/* The v1 encoder on the frozen table (head always, the stage's fields for RUN). */
static void v1_encode(const bq_instr *in, uint32_t w[4]) {
    w[0] = w[1] = w[2] = w[3] = 0;
    for (int i = 0; i < NV1; i++) {
        const v1_field *f = &kV1[i];
        if (f->stage != -1 && (in->op != BQ_OP_RUN || f->stage != in->stage)) continue;
        uint32_t v = v1_get(in, f) - (f->flags & 1);
        uint32_t mask = f->width == 32 ? 0xffffffffu : (1u << f->width) - 1u;
        w[f->lsb / 32] |= (v & mask) << (f->lsb % 32);
    }
}

/* A random legal v1 instruction: every v1 member of every stage random (other stages' members are
 * junk the encoder must ignore), op SYNC or RUN, target W/A/RQ. */
static void v1_random(uint64_t *s, bq_instr *in) {
    memset(in, 0, sizeof *in);
    for (int i = 0; i < NV1; i++) {
        const v1_field *f = &kV1[i];
        uint32_t mask = f->width == 32 ? 0xffffffffu : (1u << f->width) - 1u;
        uint32_t v = (uint32_t)(rnd(s) >> 20) & mask;
        if (f->width > 1 && rnd(s) % 4 == 0) v = rnd(s) % 2 ? mask : 0;   /* extremes */
        if (f->flags & 1) v += 1;                                          /* M1: 1 .. 2^w */
        if ((f->flags & 2) && v == 0) v = 1;                               /* NZ */
        v1_set(in, f, v);
    }
    in->stage = (uint8_t)(rnd(s) % BQ_NSTAGES);
    in->op = rnd(s) % 4 ? BQ_OP_RUN : BQ_OP_SYNC;
    in->target = (uint8_t)(rnd(s) % 3);
}

/* FNV-1a over the words of 400 random v1 instructions (seed 22), captured from the v1 encoder
 * (commit 3a54020) before the v2 variants were added. */
#define V1_GOLDEN_HASH 0x51940364af6d3ca1ull

static void test_v1_bits_unchanged(void **state) {
    (void)state;
    uint64_t s = 22, h = 0xcbf29ce484222325ull;
    for (int it = 0; it < 400; it++) {
        bq_instr in;
        uint32_t w[4], ref[4];
        v1_random(&s, &in);
        v1_encode(&in, ref);
        assert_int_equal(bq_isa_encode(&in, w), 0);
        for (int k = 0; k < 4; k++) {
            if (w[k] != ref[k]) fail_msg("it %d stage %d op %d: word%d 0x%08x, v1 table 0x%08x", it, in.stage,
                                         in.op, k, w[k], ref[k]);
            for (int b = 0; b < 4; b++) h = (h ^ ((w[k] >> (8 * b)) & 0xffu)) * 0x100000001b3ull;
        }
    }
    if (h != V1_GOLDEN_HASH) fail_msg("hash of the v1 words 0x%016llxull, golden 0x%016llxull",
                                      (unsigned long long)h, (unsigned long long)V1_GOLDEN_HASH);
}

/* is field f one of the frozen v1 table's (same member, stage and bits)? */
static int is_v1_field(const bq_isa_field *f) {
    for (int i = 0; i < NV1; i++)
        if (kV1[i].offset == f->offset && kV1[i].lsb == f->lsb &&
            (kV1[i].stage == -1 ? f->stage == BQ_ISA_COMMON : f->stage == kV1[i].stage && f->variant == BQ_ISA_V_RUN))
            return 1;
    return 0;
}

/* a random value for field f, legal for its encoding */
static uint32_t field_random(uint64_t *s, const bq_isa_field *f) {
    uint32_t mask = f->width == 32 ? 0xffffffffu : (1u << f->width) - 1u;
    uint32_t v = (uint32_t)(rnd(s) >> 20) & mask;
    if (f->width > 1 && rnd(s) % 4 == 0) v = rnd(s) % 2 ? mask : 0;
    if (f->flags & BQ_ISA_M1) v += 1;
    if ((f->flags & BQ_ISA_NZ) && v == 0) v = 1;
    return v;
}

/* v1 instructions with junk in every member that only v2 fields use: the same words as v1 */
static void test_v1_ignores_v2_members(void **state) {
    (void)state;
    uint64_t s = 7, j = 99;
    int junked = 0;
    for (int it = 0; it < 400; it++) {
        bq_instr in;
        uint32_t w[4], ref[4];
        v1_random(&s, &in);
        for (int i = 0; i < bq_isa_nfields; i++) {
            const bq_isa_field *f = &bq_isa_fields[i];
            int v1_member = 0;
            for (int k = 0; k < NV1; k++) v1_member |= kV1[k].offset == f->offset;
            if (!v1_member) {
                bq_isa_field_set(&in, f, field_random(&j, f));
                junked++;
            }
        }
        v1_encode(&in, ref);
        assert_int_equal(bq_isa_encode(&in, w), 0);
        assert_memory_equal(w, ref, sizeof w);
    }
    assert_true(junked > 400);
}

/* the table: its invariants hold, the v1 fields are exactly the frozen ones, every kind has fields */
static void test_table(void **state) {
    (void)state;
    char err[256] = "";
    if (bq_isa_check(err, sizeof err) != 0) fail_msg("%s", err);
    int nv1 = 0;
    for (int i = 0; i < bq_isa_nfields; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        int run = f->stage == BQ_ISA_COMMON || f->variant == BQ_ISA_V_RUN;
        if (run && !is_v1_field(f)) fail_msg("field '%s' is variant RUN but not a v1 field", f->name);
        nv1 += run;
    }
    assert_int_equal(nv1, NV1);
    assert_int_equal(bq_isa_nkinds, 7);
    for (int k = 0; k < bq_isa_nkinds; k++) {
        int n = 0;
        for (int i = 0; i < bq_isa_nfields; i++)
            n += bq_isa_fields[i].stage == bq_isa_kinds[k].stage && bq_isa_fields[i].variant == bq_isa_kinds[k].variant;
        if (n == 0) fail_msg("kind %s has no fields", bq_isa_kinds[k].sv_type);
    }
}

/* which (stage, op, target) is which variant; what the v1 RTL would refuse */
static void test_variants(void **state) {
    (void)state;
    assert_int_equal(bq_isa_variant(BQ_STAGE_FETCH, BQ_OP_RUN, BQ_TGT_W), BQ_ISA_V_RUN);
    assert_int_equal(bq_isa_variant(BQ_STAGE_FETCH, BQ_OP_RUN, BQ_TGT_RQ), BQ_ISA_V_RUN);
    assert_int_equal(bq_isa_variant(BQ_STAGE_FETCH, BQ_OP_RUN, BQ_TGT_WIN), BQ_ISA_V_WIN);
    assert_int_equal(bq_isa_variant(BQ_STAGE_FETCH, BQ_OP_SETUP, 0), BQ_ISA_V_SETUP);
    assert_int_equal(bq_isa_variant(BQ_STAGE_FETCH, BQ_OP_RUNC, 0), -1);
    assert_int_equal(bq_isa_variant(BQ_STAGE_EXEC, BQ_OP_RUN, BQ_TGT_WIN), BQ_ISA_V_RUN);
    assert_int_equal(bq_isa_variant(BQ_STAGE_EXEC, BQ_OP_SETUP, 0), -1);
    assert_int_equal(bq_isa_variant(BQ_STAGE_EXEC, BQ_OP_RUNC, 0), -1);
    assert_int_equal(bq_isa_variant(BQ_STAGE_RESULT, BQ_OP_RUNC, 0), BQ_ISA_V_CODES);
    assert_int_equal(bq_isa_variant(BQ_STAGE_RESULT, BQ_OP_SETUP, 0), BQ_ISA_V_SETUP);
    assert_int_equal(bq_isa_variant(BQ_STAGE_RESULT, 4, 0), -1);
    assert_int_equal(bq_isa_variant(BQ_STAGE_RESULT, BQ_OP_SYNC, 0), -1);
    /* decode: illegal ops of a queue are refused, v2 ones decode but are not v1 */
    static const struct { int stage; uint32_t w0; int rc, v1; } cases[] = {
        {BQ_STAGE_EXEC, BQ_OP_SETUP, -1, 0},
        {BQ_STAGE_EXEC, BQ_OP_RUNC, -1, 0},
        {BQ_STAGE_FETCH, BQ_OP_RUNC, -1, 0},
        {BQ_STAGE_RESULT, 15, -1, 0},
        {BQ_STAGE_FETCH, BQ_OP_SETUP | 1u << 16, 0, 0},
        {BQ_STAGE_FETCH, BQ_OP_RUN | 3u << 16, 0, 0},
        {BQ_STAGE_FETCH, BQ_OP_RUN | 2u << 16, 0, 1},
        {BQ_STAGE_RESULT, BQ_OP_SETUP, 0, 0},
        {BQ_STAGE_RESULT, BQ_OP_RUNC, 0, 0},
        {BQ_STAGE_RESULT, BQ_OP_RUN, 0, 1},
        {BQ_STAGE_EXEC, BQ_OP_SYNC | 1u << 8, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t w[4] = {cases[i].w0, 0, 0, 0};
        bq_instr d;
        int rc = bq_isa_decode(cases[i].stage, w, &d);
        if (rc != cases[i].rc || (rc == 0 && bq_isa_is_v1(&d) != cases[i].v1))
            fail_msg("case %zu: stage %d word0 0x%08x: decode %d (want %d), v1 %d (want %d)", i, cases[i].stage,
                     cases[i].w0, rc, cases[i].rc, rc == 0 ? bq_isa_is_v1(&d) : -1, cases[i].v1);
    }
}

/* every kind: random instructions round-trip, and fields of the other variants do not leak in */
static void test_v2_round_trip(void **state) {
    (void)state;
    uint64_t s = 5;
    for (int it = 0; it < 2000; it++) {
        const bq_isa_kind *K = &bq_isa_kinds[it % bq_isa_nkinds];
        bq_instr in, junk, d;
        memset(&in, 0, sizeof in);
        memset(&junk, 0, sizeof junk);
        for (int i = 0; i < bq_isa_nfields; i++) {
            const bq_isa_field *f = &bq_isa_fields[i];
            uint32_t v = field_random(&s, f);
            bq_isa_field_set(&junk, f, field_random(&s, f));
            if (f->stage == BQ_ISA_COMMON || (f->stage == K->stage && f->variant == K->variant))
                bq_isa_field_set(&in, f, v);
        }
        in.stage = junk.stage = (uint8_t)K->stage;
        in.op = junk.op = K->op;
        in.target = K->stage != BQ_STAGE_FETCH || K->op != BQ_OP_RUN ? in.target
                    : K->target == BQ_TGT_WIN ? BQ_TGT_WIN : (uint8_t)(rnd(&s) % 3);
        /* junk: the instruction's own fields, the other members random */
        for (int i = 0; i < bq_isa_nfields; i++) {
            const bq_isa_field *f = &bq_isa_fields[i];
            if (f->stage == BQ_ISA_COMMON || (f->stage == K->stage && f->variant == K->variant))
                bq_isa_field_set(&junk, f, bq_isa_field_get(&in, f));
        }
        junk.target = in.target;
        uint32_t w[4], wj[4];
        assert_int_equal(bq_isa_encode(&in, w), 0);
        assert_int_equal(bq_isa_encode(&junk, wj), 0);
        if (memcmp(w, wj, sizeof w)) fail_msg("it %d %s: members of other variants reach the words", it, K->sv_type);
        assert_int_equal(bq_isa_decode(K->stage, w, &d), 0);
        if (memcmp(&d, &in, sizeof d)) fail_msg("it %d %s: decode does not give the instruction back", it, K->sv_type);
        assert_int_equal(bq_isa_is_v1(&d), K->variant == BQ_ISA_V_RUN);
    }
}

/* golden words of one instruction per v2 kind, written from the bit positions in docs/hw_isa.md
 * §3.5 (fails if a field moves without the doc) */
static void test_v2_golden(void **state) {
    (void)state;
    bq_instr in;
    uint32_t w[4];
    /* fetch SETUP: 3x3, pad 1/1, 28x28 -> 28 wide, cs 8, slot [0, 1) at 0, stride 2, z_a 5 */
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_FETCH, in.op = BQ_OP_SETUP, in.wait1 = 1;
    in.kh = 3, in.kw = 3, in.pad_t = 1, in.pad_l = 1, in.in_h = 28, in.in_w = 28, in.out_w = 28;
    in.cs = 8, in.ch_base = 0, in.stride = 2, in.ch_lo = 0, in.ch_hi = 1, in.z_a = 5;
    assert_int_equal(bq_isa_encode(&in, w), 0);
    const uint32_t fs[4] = {0x11330202u, 0x01c0701cu, 0x02000008u, 0x05001000u};
    assert_memory_equal(w, fs, sizeof w);
    /* fetch RUN WIN: P 4, keep, kc0 5, base 0x1000, pix0 77, buf_base 3, T 9 */
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_FETCH, in.op = BQ_OP_RUN, in.sig0 = 1, in.target = BQ_TGT_WIN, in.nplanes = 4;
    in.keep = 1, in.kc0 = 5, in.dram_addr = 0x1000, in.pix0 = 77, in.buf_base = 3, in.t = 9;
    assert_int_equal(bq_isa_encode(&in, w), 0);
    const uint32_t fw[4] = {0x016f1001u, 0x1000u, 77u, 0x00090003u};
    assert_memory_equal(w, fw, sizeof w);
    /* result RUNC: res, n0 40, ch0 16, npix 8, mrows 2, first, flush, z_o 3, lo 0, hi 15, entry 1 */
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_RESULT, in.op = BQ_OP_RUNC, in.sig1 = 1, in.res = 1, in.n0 = 40, in.ch0 = 16;
    in.npix = 8, in.mrows = 2, in.first = 1, in.flush = 1, in.z_o = 3, in.hi = 15, in.rq_entry = 1;
    assert_int_equal(bq_isa_encode(&in, w), 0);
    const uint32_t rc[4] = {0x00102003u, 40u, 0x0c087010u, 0x010f0003u};
    assert_memory_equal(w, rc, sizeof w);
    /* result SETUP: z_r 7, out 0x2000, res 0x3000, cs_out 16, cs_res 8 */
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_RESULT, in.op = BQ_OP_SETUP, in.z_r = 7, in.out_base = 0x2000, in.res_base = 0x3000;
    in.cs_out = 16, in.cs_res = 8;
    assert_int_equal(bq_isa_encode(&in, w), 0);
    const uint32_t rs[4] = {0x07000002u, 0x2000u, 0x3000u, 0x00080010u};
    assert_memory_equal(w, rs, sizeof w);
    /* out of range is refused: kc0 has 10 bits, stride >= 1, npix <= 128 */
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_FETCH, in.op = BQ_OP_RUN, in.target = BQ_TGT_WIN, in.nplanes = 1, in.t = 1, in.kc0 = 1024;
    assert_int_equal(bq_isa_encode(&in, w), -1);
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_FETCH, in.op = BQ_OP_SETUP, in.kh = in.kw = 1, in.in_h = in.in_w = in.out_w = 1;
    in.cs = 8, in.ch_hi = 1;
    assert_int_equal(bq_isa_encode(&in, w), -1);   /* stride 0 */
    memset(&in, 0, sizeof in);
    in.stage = BQ_STAGE_RESULT, in.op = BQ_OP_RUNC, in.npix = 129, in.mrows = 1;
    assert_int_equal(bq_isa_encode(&in, w), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_bits_unchanged), cmocka_unit_test(test_v1_ignores_v2_members),
        cmocka_unit_test(test_table),             cmocka_unit_test(test_variants),
        cmocka_unit_test(test_v2_round_trip),     cmocka_unit_test(test_v2_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
