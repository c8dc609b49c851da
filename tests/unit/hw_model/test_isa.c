/* test_isa.c — instruction encoding (hw_model/isa.c, docs/hw_isa.md §3).
 *
 * v1 bits must never change: random v1 instructions are encoded by bq_isa_encode and by a private
 * copy of the v1 field table (as it was before the v2 variants), the words compared, and their hash
 * compared with golden words captured from the v1 encoder before the change. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_bits_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
