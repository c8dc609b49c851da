/* test_win.c — the window unit's reference model (hw_model/win.c) against a naive im2col written
 * here from docs/whole_network.md §3 (K vector by loops over ky, kx, c of one output pixel), for
 * every output pixel of small layers: dense 3x3 stride 1/2 pad 1, 1x1 stride 2, depthwise channel
 * selection, the first layer (C = 1), tiles across output rows, columns past the last pixel, keep,
 * K sub-ranges; plus the bursts and cycles of one tile worked by hand, port contention, and the
 * field checks. */
#include "testutil.h"
#include <string.h>
#include "win.h"

static int rup(int v, int m) { return (v + m - 1) / m * m; }

/* The whole K vector of column ni (K_pad bytes), straight from the definition. */
static int naive_k(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, const uint8_t *mem,
                   int ni, uint8_t *kv, int kv_len) {
    int wb = c->w_bits / 8, ct = rup(s->ch_hi, wb);
    long n = (long)r->pix0 + ni, oy = n / s->wo, ox = n % s->wo;
    memset(kv, 0, (size_t)kv_len);
    int k = 0;
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++)
            for (int ch = 0; ch < ct; ch++, k++) {
                long iy = oy * s->stride - s->pad_t + ky, ix = ox * s->stride - s->pad_l + kx;
                if (ch < s->ch_lo || ch >= s->ch_hi) continue;
                int inside = iy >= 0 && iy < s->hi && ix >= 0 && ix < s->wi;
                if (k < kv_len)
                    kv[k] = inside ? mem[r->dram_addr + (iy * s->wi + ix) * s->cs + s->ch_base + ch] : (uint8_t)s->z_a;
            }
    return k;
}

static uint8_t *make_mem(size_t len, uint64_t seed) {
    uint8_t *m = malloc(len);
    assert_non_null(m);
    for (size_t i = 0; i < len; i++) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; m[i] = (uint8_t)seed; }
    return m;
}

/* Every write of one run against the naive K vector, rows, cycles in order. */
static void check_run(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, const uint8_t *mem,
                      size_t mem_len) {
    char err[256] = "";
    bq_win_result res;
    if (bq_win_exec(c, s, r, mem, mem_len, NULL, &res, err, sizeof err)) { print_error("%s\n", err); fail(); }
    int wb = c->w_bits / 8, g = c->dk / wb, wbytes = c->dk / 8;
    int klen = (r->kc0 + r->t) * c->dk;
    uint8_t *kv = malloc((size_t)klen);
    assert_non_null(kv);
    long fill = 0, bytes = 0;
    for (int b = 0; b < res.nbursts; b++) {
        fill += 1 + c->lr + (long)(res.bursts[b].beats - 1) * c->rr;
        bytes += (long)res.bursts[b].beats * wb;
    }
    assert_int_equal(r->keep ? 0 : bytes, r->keep ? 0 : res.window_bytes);
    assert_int_equal(res.nwrites, (long)c->dn * r->t * r->nplanes);
    assert_int_equal(res.complete, fill + (long)c->dn * r->t * (g + r->nplanes));
    long w = 0;
    for (int ni = 0; ni < c->dn; ni++) {
        naive_k(c, s, r, mem, ni, kv, klen);
        for (int u = 0; u < r->t; u++)
            for (int j = 0; j < r->nplanes; j++, w++) {
                const bq_win_write *x = &res.writes[w];
                assert_int_equal(x->bank, ni);
                assert_int_equal(x->row, r->buf_base + j * r->t + u);
                assert_int_equal(x->cycle, fill + 1 + ((long)ni * r->t + u) * (g + r->nplanes) + g + j);
                for (int b = 0; b < c->dk; b++) {
                    int want = (kv[(r->kc0 + u) * c->dk + b] >> j) & 1;
                    int got = (res.wdata[w * wbytes + b / 8] >> (b % 8)) & 1;
                    if (want != got) {
                        print_error("pix0 %u kc0 %d column %d chunk %d plane %d bit %d: %d want %d\n", r->pix0,
                                    r->kc0, ni, r->kc0 + u, j, b, got, want);
                        fail();
                    }
                }
            }
    }
    free(kv);
    bq_win_result_free(&res);
}

/* Every output pixel of the layer (and Dn past the last), full K and two sub-ranges, with/without keep. */
static void sweep(const bq_win_cfg *c, const bq_win_setup *s, int ho) {
    size_t mem_len = 64 + (size_t)s->hi * s->wi * s->cs;
    uint8_t *mem = make_mem(mem_len, 0x1234 + (uint64_t)s->cs * 7 + (uint64_t)s->kh);
    int wb = c->w_bits / 8, kc = (rup(s->kh * s->kw * rup(s->ch_hi, wb), c->dk)) / c->dk;
    for (uint32_t pix0 = 0; pix0 < (uint32_t)(ho * s->wo + c->dn); pix0++) {
        bq_win_run r = {.dram_addr = 64, .pix0 = pix0, .kc0 = 0, .t = kc, .nplanes = 8, .buf_base = 5};
        check_run(c, s, &r, mem, mem_len);
        r.keep = 1;
        r.nplanes = 3;
        check_run(c, s, &r, mem, mem_len);
        r.keep = 0;
        r.kc0 = kc - 1;
        r.t = 2;   /* the last chunk and one past K (all zeros) */
        check_run(c, s, &r, mem, mem_len);
    }
    free(mem);
}

static const bq_win_cfg kTiny = {.dn = 2, .dk = 64, .w_bits = 64, .lr = 4, .rr = 1, .window_bytes = 4096};
static const bq_win_cfg kEdge = {.dn = 8, .dk = 256, .w_bits = 64, .lr = 9, .rr = 2, .window_bytes = 32768};

static void test_dense3x3_s1(void **st) {
    (void)st;
    bq_win_setup s = {.hi = 6, .wi = 5, .wo = 5, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1, .pad_l = 1,
                      .cs = 16, .ch_base = 0, .ch_lo = 0, .ch_hi = 12, .z_a = 9};
    sweep(&kTiny, &s, 6);
    sweep(&kEdge, &s, 6);
}

static void test_dense3x3_s2(void **st) {
    (void)st;
    bq_win_setup s = {.hi = 7, .wi = 7, .wo = 4, .kh = 3, .kw = 3, .stride = 2, .pad_t = 1, .pad_l = 1,
                      .cs = 24, .ch_base = 0, .ch_lo = 0, .ch_hi = 24, .z_a = 200};
    sweep(&kTiny, &s, 4);
    sweep(&kEdge, &s, 4);
}

static void test_1x1_s2(void **st) {
    (void)st;
    bq_win_setup s = {.hi = 8, .wi = 8, .wo = 4, .kh = 1, .kw = 1, .stride = 2, .pad_t = 0, .pad_l = 0,
                      .cs = 16, .ch_base = 0, .ch_lo = 0, .ch_hi = 16, .z_a = 3};
    sweep(&kTiny, &s, 4);
    sweep(&kEdge, &s, 4);
}

static void test_depthwise(void **st) {
    (void)st;   /* channel 11 of 24: the beat at byte 8 of each pixel, byte 3 of it */
    bq_win_setup s = {.hi = 5, .wi = 5, .wo = 5, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1, .pad_l = 1,
                      .cs = 24, .ch_base = 8, .ch_lo = 3, .ch_hi = 4, .z_a = 17};
    sweep(&kTiny, &s, 5);
    sweep(&kEdge, &s, 5);
    s.stride = 2; s.wo = 3; s.ch_base = 16; s.ch_lo = 7; s.ch_hi = 8;
    sweep(&kTiny, &s, 3);
}

static void test_first_layer(void **st) {
    (void)st;   /* C = 1: cs = Wb, K = 9*Wb */
    bq_win_setup s = {.hi = 6, .wi = 6, .wo = 6, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1, .pad_l = 1,
                      .cs = 8, .ch_base = 0, .ch_lo = 0, .ch_hi = 1, .z_a = 128};
    sweep(&kTiny, &s, 6);
    sweep(&kEdge, &s, 6);
}

/* A tile worked by hand: 3x3 pad 1 on 6x6, cs 16, Dn 2 at pixel 5 (end of row 0, start of row 1). */
static void test_hand_tile(void **st) {
    (void)st;
    bq_win_setup s = {.hi = 6, .wi = 6, .wo = 6, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1, .pad_l = 1,
                      .cs = 16, .ch_base = 0, .ch_lo = 0, .ch_hi = 16, .z_a = 0};
    bq_win_run r = {.dram_addr = 0, .pix0 = 5, .kc0 = 0, .t = 3, .nplanes = 4, .buf_base = 0};
    uint8_t *mem = make_mem(6 * 6 * 16, 5);
    bq_win_result res;
    char err[256] = "";
    assert_int_equal(bq_win_exec(&kTiny, &s, &r, mem, 6 * 6 * 16, NULL, &res, err, sizeof err), 0);
    const bq_win_burst want[5] = {{64, 4}, {160, 4}, {0, 4}, {96, 4}, {192, 4}};
    assert_int_equal(res.nbursts, 5);
    for (int b = 0; b < 5; b++) {
        assert_int_equal(res.bursts[b].addr, want[b].addr);
        assert_int_equal(res.bursts[b].beats, want[b].beats);
    }
    assert_int_equal(res.window_bytes, 160);
    assert_int_equal(res.complete, 5 * (1 + 4 + 3) + 2 * 3 * (8 + 4));   /* 112 */
    bq_win_result_free(&res);
    /* contention: burst 1 waits 3 cycles, burst 4 waits 1 */
    const int wait[5] = {0, 3, 0, 0, 1};
    assert_int_equal(bq_win_exec(&kTiny, &s, &r, mem, 6 * 6 * 16, wait, &res, err, sizeof err), 0);
    assert_int_equal(res.complete, 112 + 4);
    assert_int_equal(res.writes[0].cycle, 5 * 8 + 4 + 1 + 8);
    bq_win_result_free(&res);
    free(mem);
}

static void expect_error(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, const char *what) {
    char err[256] = "";
    assert_int_equal(bq_win_check(c, s, r, err, sizeof err), -1);
    if (!strstr(err, what)) { print_error("got '%s', want '%s'\n", err, what); fail(); }
}

static void test_checks(void **st) {
    (void)st;
    const bq_win_setup s0 = {.hi = 6, .wi = 6, .wo = 6, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1, .pad_l = 1,
                             .cs = 16, .ch_base = 0, .ch_lo = 0, .ch_hi = 16, .z_a = 0};
    const bq_win_run r0 = {.dram_addr = 0, .pix0 = 5, .kc0 = 0, .t = 3, .nplanes = 4, .buf_base = 0};
    char err[256] = "";
    assert_int_equal(bq_win_check(&kTiny, &s0, &r0, err, sizeof err), 0);
    bq_win_setup s = s0;
    bq_win_run r = r0;
    s.pad_t = 3; expect_error(&kTiny, &s, &r, "pad_t"); s = s0;
    s.cs = 12; expect_error(&kTiny, &s, &r, "multiples of Wb"); s = s0;
    s.ch_base = 8; expect_error(&kTiny, &s, &r, "tap slot"); s = s0;
    s.ch_lo = 16; expect_error(&kTiny, &s, &r, "ch_lo"); s = s0;
    s.wo = 9; expect_error(&kTiny, &s, &r, "past the input width"); s = s0;
    s.z_a = 256; expect_error(&kTiny, &s, &r, "z_a"); s = s0;
    r.nplanes = 9; expect_error(&kTiny, &s, &r, "nplanes"); r = r0;
    r.dram_addr = 4; expect_error(&kTiny, &s, &r, "dram_addr"); r = r0;
    r.pix0 = 1024 * 6; expect_error(&kTiny, &s, &r, "pix0"); r = r0;
    r.t = 0; expect_error(&kTiny, &s, &r, "RUN t"); r = r0;
    bq_win_cfg c = kTiny;
    c.window_bytes = 152; expect_error(&c, &s, &r, "needs 160 window-buffer bytes");
    c.window_bytes = 160;
    assert_int_equal(bq_win_check(&c, &s, &r, err, sizeof err), 0);
    c = kTiny; c.dk = 32; c.w_bits = 128;   /* Dk 32 with Wb 16 is fine (2 beats per chunk), Dk 8 is not */
    assert_int_equal(bq_win_check(&c, &s0, &r0, err, sizeof err), 0);
    c.dk = 8; expect_error(&c, &s, &r, "multiple of Wb");
    /* reads outside the memory image */
    uint8_t mem[64] = {0};
    bq_win_result res;
    assert_int_equal(bq_win_exec(&kTiny, &s0, &r0, mem, sizeof mem, NULL, &res, err, sizeof err), -1);
    assert_non_null(strstr(err, "outside the memory image"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense3x3_s1), cmocka_unit_test(test_dense3x3_s2), cmocka_unit_test(test_1x1_s2),
        cmocka_unit_test(test_depthwise),   cmocka_unit_test(test_first_layer), cmocka_unit_test(test_hand_tile),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
