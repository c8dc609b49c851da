/* test_codes.c — the CODES-mode reference model (hw_model/codes.c) against a naive layer output
 * written here from docs/hw_isa.md §1 (requant per element, floor division instead of a shift) and
 * docs/whole_network.md §2 (HWC bytes): dense layers run as the scheduler will (the MT tiles of a
 * pixel block back to back, first on m = 0, flush on the last; the last block with npix < Dn;
 * channel counts not a multiple of Dm), depthwise (mrows 1, ch0 = channel), residual add (also
 * with cs_res != cs_out); every written byte compared, nothing written outside the output tensor;
 * the bursts and cycles of one RUNC worked by hand (with and without port waits); refused fields. */
#include "testutil.h"
#include <string.h>
#include "codes.h"

static int rup(int v, int m) { return (v + m - 1) / m * m; }

static uint64_t rng(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }
static int rnd(uint64_t *s, int lo, int hi) { return lo + (int)(rng(s) % (uint64_t)(hi - lo + 1)); }

/* A layer: M channels x N pixels of integer sums, per-channel records, output clamp. */
typedef struct {
    int m, n, res, cs_out, cs_res, z_r, z_o, lo, hi;
    uint32_t out_base, res_base;
    int32_t *acc;      /* [n][m] */
    int32_t *asum;     /* [n] */
    bq_codes_rq *rq;   /* [m] */
} layer;

static void make_layer(layer *L, int m, int n, int res, int wb, int cs_res_extra, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    memset(L, 0, sizeof *L);
    L->m = m; L->n = n; L->res = res;
    L->cs_out = rup(m, wb);
    L->cs_res = res ? rup(m, wb) + cs_res_extra : 0;
    L->z_r = 7; L->z_o = 128; L->lo = 3; L->hi = 250;
    L->out_base = (uint32_t)(4 * wb);
    L->res_base = L->out_base + (uint32_t)(n * L->cs_out + 2 * wb);
    L->acc = malloc(sizeof *L->acc * (size_t)(m * n));
    L->asum = malloc(sizeof *L->asum * (size_t)n);
    L->rq = calloc((size_t)m, sizeof *L->rq);
    assert_true(L->acc && L->asum && L->rq);
    for (int i = 0; i < m * n; i++) L->acc[i] = rnd(&s, -40000, 40000);
    for (int i = 0; i < n; i++) L->asum[i] = rnd(&s, -3000, 3000);
    for (int c = 0; c < m; c++) {
        L->rq[c].bias_eff = rnd(&s, -5000, 5000);
        /* scales that keep most codes inside (lo, hi), so the clamp does not hide wrong sums */
        L->rq[c].sh = (uint8_t)rnd(&s, 12, 24);
        L->rq[c].m_acc = (uint32_t)rnd(&s, 1, 1 << (L->rq[c].sh - 9));
        L->rq[c].m_res = res ? (uint32_t)rnd(&s, 1, 1 << (L->rq[c].sh - 3)) : 0;
        L->rq[c].z_w = (uint8_t)rnd(&s, 0, 15);
    }
}

static void free_layer(layer *L) { free(L->acc); free(L->asum); free(L->rq); }

static size_t mem_size(const layer *L) { return L->res_base + (size_t)L->n * (size_t)(L->cs_res + 1) + 64; }

/* floor(a / 2^sh) without a shift */
static int64_t floor_div(int64_t a, int sh) {
    int64_t d = (int64_t)1 << sh, q = a / d;
    return (a % d != 0 && a < 0) ? q - 1 : q;
}

/* Output code of (pixel n, channel c), from the definition. */
static int naive_q(const layer *L, const uint8_t *mem, int n, int c) {
    const bq_codes_rq *r = &L->rq[c];
    int64_t acc0 = (int64_t)L->acc[n * L->m + c] - (int64_t)r->z_w * L->asum[n] + r->bias_eff;
    int64_t qr = L->res ? mem[L->res_base + (size_t)n * (size_t)L->cs_res + (size_t)c] : 0;
    int64_t t = acc0 * (int64_t)r->m_acc + (L->res ? (qr - L->z_r) * (int64_t)r->m_res : 0);
    int64_t q = floor_div(t + ((int64_t)1 << (r->sh - 1)), r->sh) + L->z_o;
    return (int)(q < L->lo ? L->lo : q > L->hi ? L->hi : q);
}

/* One RUNC of the layer: tile (ch0, n0) of the layer's sums (rows / columns past the layer get
 * garbage sums and all-zero records, as padded channels have), checked bursts and cycles. */
static void run_tile(bq_codes_state *st, const layer *L, uint8_t *mem, size_t mem_len, int n0, int ch0,
                     int mrows, int first, int flush, uint64_t *s) {
    const bq_codes_cfg *c = &st->cfg;
    int dm = c->dm, dn = c->dn, wb = c->w_bits / 8;
    int32_t acc[128 * 128], asum[128];
    bq_codes_rq rq[128];
    memset(rq, 0, sizeof rq);
    int npix = L->n - n0 < dn ? L->n - n0 : dn;
    for (int ni = 0; ni < dn; ni++) {
        asum[ni] = ni < npix ? L->asum[n0 + ni] : rnd(s, -100, 100);
        for (int mi = 0; mi < dm; mi++) {
            int in = ni < npix && mi < mrows;
            acc[ni * dm + mi] = in ? L->acc[(n0 + ni) * L->m + ch0 + mi] : rnd(s, -1000000, 1000000);
        }
    }
    for (int mi = 0; mi < mrows; mi++) rq[mi] = L->rq[ch0 + mi];
    bq_codes_run_f r = {.n0 = (uint32_t)n0, .ch0 = ch0, .npix = npix, .mrows = mrows, .first = first,
                        .flush = flush, .res = L->res, .z_o = L->z_o, .lo = L->lo, .hi = L->hi,
                        .rq_entry = ch0 / dm, .sig0 = 1, .sig1 = flush};
    bq_codes_timing t;
    char err[256] = "";
    if (bq_codes_run(st, &r, acc, asum, rq, mem, mem_len, NULL, &t, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    /* bursts and cycles without contention, from hw_isa.md §4.4 */
    int rd = first && L->res, nb = 0;
    long s0 = 1, cc = 6L * dm * dn / c->lanes;
    assert_int_equal(t.nbursts, rd + flush);
    if (rd) {
        assert_int_equal(t.bursts[0].write, 0);
        assert_int_equal(t.bursts[0].addr, L->res_base + (uint32_t)(n0 * L->cs_res));
        assert_int_equal(t.bursts[0].beats, npix * L->cs_res / wb);
        s0 = 1 + c->lr + (long)(npix * L->cs_res / wb - 1) * c->rr + 1;
        nb++;
    }
    assert_int_equal(t.compute_start, s0);
    assert_int_equal(t.resfree, s0 + cc - 1);
    if (flush) {
        assert_int_equal(t.bursts[nb].write, 1);
        assert_int_equal(t.bursts[nb].addr, L->out_base + (uint32_t)(n0 * L->cs_out));
        assert_int_equal(t.bursts[nb].beats, npix * L->cs_out / wb);
        assert_int_equal(t.complete, s0 + cc + 1 + (long)(npix * L->cs_out / wb - 1) * c->rw + c->lw);
        assert_int_equal(t.written, t.complete);
    } else {
        assert_int_equal(t.complete, s0 + cc - 1);
        assert_int_equal(t.written, -1);
    }
}

static uint8_t *make_mem(const layer *L, size_t *len, uint64_t seed) {
    *len = mem_size(L);
    uint8_t *m = malloc(*len);
    assert_non_null(m);
    for (size_t i = 0; i < *len; i++) m[i] = (uint8_t)rng(&seed);
    return m;
}

/* Every real output byte equals the naive code; nothing outside the output pixels' real channels
 * changed except the output tensor's padding bytes (unspecified, §2). */
static void compare(const layer *L, const uint8_t *mem, const uint8_t *before, size_t len) {
    long inside = 0;
    for (size_t i = 0; i < len; i++) {
        size_t o = i - L->out_base;
        int in_out = i >= L->out_base && o < (size_t)L->n * (size_t)L->cs_out;
        if (in_out && (int)(o % (size_t)L->cs_out) < L->m) {
            int n = (int)(o / (size_t)L->cs_out), c = (int)(o % (size_t)L->cs_out);
            int want = naive_q(L, before, n, c);
            inside += want > L->lo && want < L->hi;
            if (mem[i] != want) {
                print_error("pixel %d channel %d: %d want %d\n", n, c, mem[i], want);
                fail();
            }
        } else if (!in_out && mem[i] != before[i]) {
            print_error("byte 0x%zx outside the output tensor changed\n", i);
            fail();
        }
    }
    assert_true(inside * 4 >= (long)L->m * L->n * 3);   /* the data exercises the arithmetic */
}

/* A dense layer: per pixel block, the MT tiles back to back. */
static void dense(const bq_codes_cfg *c, int m, int n, int res, int cs_res_extra, uint64_t seed) {
    layer L;
    int wb = c->w_bits / 8;
    make_layer(&L, m, n, res, wb, cs_res_extra, seed);
    size_t len;
    uint8_t *mem = make_mem(&L, &len, seed + 1), *before = malloc(len);
    assert_non_null(before);
    memcpy(before, mem, len);
    bq_codes_state st;
    char err[256] = "";
    bq_codes_setup_regs s = {.out_base = L.out_base, .res_base = L.res_base, .cs_out = L.cs_out,
                             .cs_res = L.cs_res, .z_r = L.z_r};
    assert_int_equal(bq_codes_init(&st, c, err, sizeof err), 0);
    assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), 0);
    uint64_t g = seed + 2;
    int mt_n = (m + c->dm - 1) / c->dm;
    for (int n0 = 0; n0 < n; n0 += c->dn)
        for (int mt = 0; mt < mt_n; mt++) {
            int ch0 = mt * c->dm, mrows = m - ch0 < c->dm ? m - ch0 : c->dm;
            run_tile(&st, &L, mem, len, n0, ch0, mrows, mt == 0, mt == mt_n - 1, &g);
        }
    compare(&L, mem, before, len);
    bq_codes_free(&st);
    free(mem);
    free(before);
    free_layer(&L);
}

/* A depthwise layer: per pixel block, one RUNC per channel (mrows 1, ch0 = channel). */
static void depthwise(const bq_codes_cfg *c, int m, int n, int res, uint64_t seed) {
    layer L;
    make_layer(&L, m, n, res, c->w_bits / 8, 0, seed);
    size_t len;
    uint8_t *mem = make_mem(&L, &len, seed + 1), *before = malloc(len);
    assert_non_null(before);
    memcpy(before, mem, len);
    bq_codes_state st;
    char err[256] = "";
    bq_codes_setup_regs s = {.out_base = L.out_base, .res_base = L.res_base, .cs_out = L.cs_out,
                             .cs_res = L.cs_res, .z_r = L.z_r};
    assert_int_equal(bq_codes_init(&st, c, err, sizeof err), 0);
    assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), 0);
    uint64_t g = seed + 2;
    for (int n0 = 0; n0 < n; n0 += c->dn)
        for (int ch = 0; ch < m; ch++) run_tile(&st, &L, mem, len, n0, ch, 1, ch == 0, ch == m - 1, &g);
    compare(&L, mem, before, len);
    bq_codes_free(&st);
    free(mem);
    free(before);
    free_layer(&L);
}

static const bq_codes_cfg kTiny = {.dm = 2, .dn = 2, .lanes = 1, .w_bits = 64, .lr = 4, .rr = 1, .lw = 3,
                                   .rw = 2, .block_channels = 64};
static const bq_codes_cfg kEdge = {.dm = 8, .dn = 8, .lanes = 2, .w_bits = 64, .lr = 6, .rr = 1, .lw = 5,
                                   .rw = 1, .block_channels = 256};
static const bq_codes_cfg kWide = {.dm = 4, .dn = 3, .lanes = 4, .w_bits = 128, .lr = 2, .rr = 2, .lw = 1,
                                   .rw = 3, .block_channels = 64};

static void test_dense(void **state) {
    (void)state;
    dense(&kTiny, 5, 7, 0, 0, 11);    /* MT 3, last tile 1 row; last block 1 pixel */
    dense(&kTiny, 16, 4, 0, 0, 12);   /* full tiles, cs_out 16 = 2 beats */
    dense(&kEdge, 20, 21, 0, 0, 13);  /* MT 3, last tile 4 rows; last block 5 pixels */
    dense(&kEdge, 64, 16, 0, 0, 14);
    dense(&kWide, 9, 10, 0, 0, 15);   /* W 128, 4 lanes, Dn 3 */
}

static void test_residual(void **state) {
    (void)state;
    dense(&kTiny, 5, 7, 1, 0, 21);
    dense(&kEdge, 20, 21, 1, 0, 22);
    dense(&kEdge, 20, 21, 1, 8, 23);   /* cs_res 32 != cs_out 24 */
    dense(&kWide, 9, 10, 1, 16, 24);
}

static void test_depthwise(void **state) {
    (void)state;
    depthwise(&kTiny, 3, 5, 0, 31);
    depthwise(&kEdge, 12, 19, 0, 32);
    depthwise(&kEdge, 12, 19, 1, 33);
    depthwise(&kWide, 5, 4, 0, 34);
}

/* One RUNC worked by hand: Dm 2, Dn 2, L 1, Wb 8, Lr 4, Rr 1, Lw 3, Rw 2; cs_out 8, cs_res 16.
 * Residual read 2*16/8 = 4 beats: request 1, accepted 1, last beat 1+4+3 = 8, compute from 9,
 * C = 6*2*2/1 = 24 -> 9..32 (RESFREE 32); write 2*8/8 = 2 beats requested 33, accepted 33,
 * wdone 33+1+2+3 = 39 (hw_isa.md's C + (n_w-1)*Rw + Lw + 2 + Lr + (n_r-1)*Rr + 1 = 39). */
static void test_hand_cycles(void **state) {
    (void)state;
    bq_codes_cfg c = kTiny;
    c.block_channels = 16;
    bq_codes_state st;
    char err[256] = "";
    assert_int_equal(bq_codes_init(&st, &c, err, sizeof err), 0);
    bq_codes_setup_regs s = {.out_base = 0x40, .res_base = 0x100, .cs_out = 8, .cs_res = 16, .z_r = 0};
    assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), 0);
    uint8_t mem[0x200];
    for (int i = 0; i < (int)sizeof mem; i++) mem[i] = (uint8_t)i;
    int32_t acc[4] = {100, 200, 300, 400}, asum[2] = {0, 0};
    bq_codes_rq rq[2] = {{.m_acc = 1, .m_res = 2, .sh = 1}, {.m_acc = 1, .m_res = 0, .sh = 2}};
    bq_codes_run_f r = {.n0 = 2, .ch0 = 3, .npix = 2, .mrows = 2, .first = 1, .flush = 1, .res = 1,
                        .z_o = 0, .lo = 0, .hi = 255, .sig0 = 1, .sig1 = 1};
    bq_codes_timing t;
    assert_int_equal(bq_codes_run(&st, &r, acc, asum, rq, mem, sizeof mem, NULL, &t, err, sizeof err), 0);
    assert_int_equal(t.nbursts, 2);
    assert_int_equal(t.bursts[0].addr, 0x100 + 2 * 16);
    assert_int_equal(t.bursts[0].beats, 4);
    assert_int_equal(t.bursts[0].complete, 8);
    assert_int_equal(t.compute_start, 9);
    assert_int_equal(t.resfree, 32);
    assert_int_equal(t.bursts[1].addr, 0x40 + 2 * 8);
    assert_int_equal(t.bursts[1].beats, 2);
    assert_int_equal(t.bursts[1].request, 33);
    assert_int_equal(t.complete, 39);
    assert_int_equal(t.written, 39);
    /* bytes: pixel 2 at 0x50, channel 3 = (100 + 2*q_r + 1) >> 1 with q_r = mem[0x120 + 3] = 0x23 = 35
     * -> 85; channel 4 = (200 + 2) >> 2 = 50; pixel 3 channel 3 = (300 + 2*0x33 + 1) >> 1 = 201,
     * channel 4 = (400 + 2) >> 2 = 100 */
    assert_int_equal(mem[0x50 + 3], 85);
    assert_int_equal(mem[0x50 + 4], 50);
    assert_int_equal(mem[0x58 + 3], 201);
    assert_int_equal(mem[0x58 + 4], 100);
    /* port waits 2 and 3: read accepted 3, last beat 10, compute 11..34, write accepted 38, wdone 44 */
    int waits[2] = {2, 3};
    assert_int_equal(bq_codes_run(&st, &r, acc, asum, rq, mem, sizeof mem, waits, &t, err, sizeof err), 0);
    assert_int_equal(t.bursts[0].accept, 3);
    assert_int_equal(t.compute_start, 11);
    assert_int_equal(t.resfree, 34);
    assert_int_equal(t.bursts[1].accept, 38);
    assert_int_equal(t.complete, 44);
    /* neither res nor flush nor tokens: compute 1..24, completion 24 */
    r.first = 0; r.res = 0; r.flush = 0; r.sig0 = 0; r.sig1 = 0;
    assert_int_equal(bq_codes_run(&st, &r, acc, asum, rq, mem, sizeof mem, NULL, &t, err, sizeof err), 0);
    assert_int_equal(t.nbursts, 0);
    assert_int_equal(t.complete, 24);
    assert_int_equal(t.resfree, -1);
    assert_int_equal(t.written, -1);
    bq_codes_free(&st);
}

static void expect_run_error(bq_codes_state *st, const bq_codes_run_f *r, const bq_codes_rq *rq, uint8_t *mem,
                             size_t len, const char *what) {
    char err[256] = "";
    int32_t acc[4] = {0}, asum[2] = {0};
    bq_codes_timing t;
    uint8_t copy[256];
    memcpy(copy, mem, len);
    if (bq_codes_run(st, r, acc, asum, rq, mem, len, NULL, &t, err, sizeof err) != -1) {
        print_error("accepted, expected an error naming '%s'\n", what);
        fail();
    }
    if (!strstr(err, what)) { print_error("'%s' does not name '%s'\n", err, what); fail(); }
    assert_memory_equal(copy, mem, len);   /* nothing half-written */
}

static void test_checks(void **state) {
    (void)state;
    char err[256] = "";
    bq_codes_state st;
    bq_codes_cfg c = kTiny;
    c.lanes = 3; assert_int_equal(bq_codes_init(&st, &c, err, sizeof err), -1); c = kTiny;
    c.dm = 3; c.lanes = 2; assert_int_equal(bq_codes_init(&st, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "must divide dm")); c = kTiny;
    c.block_channels = 12; assert_int_equal(bq_codes_init(&st, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "block_channels")); c = kTiny;
    c.w_bits = 48; assert_int_equal(bq_codes_init(&st, &c, err, sizeof err), -1); c = kTiny;
    c.block_channels = 16;
    bq_codes_setup_regs s0 = {.out_base = 0x40, .res_base = 0x80, .cs_out = 8, .cs_res = 8, .z_r = 1}, s = s0;
    assert_int_equal(bq_codes_setup(&st, &s0, err, sizeof err), -1);   /* after a failed init */
    assert_non_null(strstr(err, "not initialised"));
    assert_int_equal(bq_codes_init(&st, &c, err, sizeof err), 0);
    uint8_t mem[256] = {0};
    bq_codes_rq rq[2] = {{.m_acc = 1, .sh = 1}, {.m_acc = 1, .sh = 1}};
    bq_codes_run_f r0 = {.n0 = 0, .ch0 = 0, .npix = 2, .mrows = 2, .first = 1, .flush = 1, .res = 1,
                         .hi = 255}, r = r0;
    expect_run_error(&st, &r, rq, mem, sizeof mem, "before any result SETUP");
    s.cs_out = 12; assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "multiples of Wb")); s = s0;
    s.cs_out = 24; assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "cs_out")); s = s0;
    s.cs_out = 0; assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), -1); s = s0;
    s.out_base = 0x44; assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "out_base")); s = s0;
    s.z_r = 256; assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), -1); s = s0;
    assert_int_equal(bq_codes_setup(&st, &s0, err, sizeof err), 0);
    r.npix = 3; expect_run_error(&st, &r, rq, mem, sizeof mem, "npix"); r = r0;
    r.mrows = 3; expect_run_error(&st, &r, rq, mem, sizeof mem, "mrows"); r = r0;
    r.ch0 = 7; expect_run_error(&st, &r, rq, mem, sizeof mem, "cs_out 8"); r = r0;
    r.z_o = 300; expect_run_error(&st, &r, rq, mem, sizeof mem, "z_o"); r = r0;
    r.first = 0; expect_run_error(&st, &r, rq, mem, sizeof mem, "residual block does not hold"); r = r0;
    r.n0 = 30; expect_run_error(&st, &r, rq, mem, sizeof mem, "outside the memory image"); r = r0;
    r.res = 0; r.n0 = 24; expect_run_error(&st, &r, rq, mem, sizeof mem, "output write burst"); r = r0;
    bq_codes_rq bad[2] = {{.m_acc = 1, .sh = 1}, {.m_acc = 1, .sh = 0}};
    expect_run_error(&st, &r, bad, mem, sizeof mem, "sh 0 outside 1..62");
    r.mrows = 1;   /* row 1 is a padded channel (all-zero record): not stored, so accepted */
    int32_t acc[4] = {0}, asum[2] = {0};
    bq_codes_timing t;
    assert_int_equal(bq_codes_run(&st, &r, acc, asum, bad, mem, sizeof mem, NULL, &t, err, sizeof err), 0);
    /* res without first on the block just read: accepted; on another block: refused */
    r.first = 0;
    assert_int_equal(bq_codes_run(&st, &r, acc, asum, bad, mem, sizeof mem, NULL, &t, err, sizeof err), 0);
    r.n0 = 2; expect_run_error(&st, &r, rq, mem, sizeof mem, "residual block does not hold");
    /* a SETUP forgets the residual block */
    r.n0 = 0;
    assert_int_equal(bq_codes_setup(&st, &s0, err, sizeof err), 0);
    expect_run_error(&st, &r, rq, mem, sizeof mem, "residual block does not hold");
    s = s0; s.cs_res = 0;
    assert_int_equal(bq_codes_setup(&st, &s, err, sizeof err), 0);
    r = r0; expect_run_error(&st, &r, rq, mem, sizeof mem, "cs_res 0");
    bq_codes_free(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),       cmocka_unit_test(test_residual), cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_hand_cycles), cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
