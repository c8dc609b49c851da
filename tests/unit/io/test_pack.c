/* test_pack — bit-plane packing in the RTL layout: round trips for every bit width 1..8 on odd
 * shapes, known-answer bit positions from docs/hw_isa.md §2, zero padding. */
#include "testutil.h"

#include <string.h>

#include "io/pack.h"

static uint64_t rs = 12345;
static uint32_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (uint32_t)rs; }

static const int kShapes[][6] = {   /* m, k, n, dm, dn, dk */
    {5, 37, 11, 4, 4, 32}, {1, 1, 1, 4, 4, 32}, {17, 9, 49, 8, 8, 64}, {3, 129, 2, 2, 3, 8},
    {16, 144, 784, 4, 4, 32}, {7, 65, 5, 16, 1, 16},
};

static void test_weights_roundtrip(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof kShapes / sizeof kShapes[0]; s++)
        for (int bits = 1; bits <= 8; bits++) {
            const int *S = kShapes[s];
            bq_pack_geom g;
            assert_int_equal(bq_pack_geom_init(&g, S[0], S[1], S[2], S[3], S[4], S[5], 64), 0);
            size_t n = (size_t)S[0] * S[1], sz = bq_pack_weights_size(&g, bits);
            uint8_t *c = malloc(n), *c2 = malloc(n), *p = malloc(sz);
            for (size_t i = 0; i < n; i++) c[i] = (uint8_t)(rnd() & ((1u << bits) - 1));
            bq_pack_weights(p, c, &g, bits);
            bq_unpack_weights(c2, p, &g, bits);
            assert_memory_equal(c, c2, n);
            /* padded geometry: every padded code reads back as 0 */
            bq_pack_geom gp;
            bq_pack_geom_init(&gp, g.mt * g.dm, g.kc * g.dk, 1, S[3], S[4], S[5], 64);
            assert_int_equal(bq_pack_weights_size(&gp, bits), sz);
            uint8_t *cp = malloc((size_t)gp.m * gp.k);
            bq_unpack_weights(cp, p, &gp, bits);
            for (int r = 0; r < gp.m; r++)
                for (int k = 0; k < gp.k; k++) {
                    uint8_t want = (r < S[0] && k < S[1]) ? c[(size_t)r * S[1] + k] : 0;
                    assert_int_equal(cp[(size_t)r * gp.k + k], want);
                }
            free(c); free(c2); free(p); free(cp);
        }
}

static void test_acts_and_tiles_roundtrip(void **state) {
    (void)state;
    for (size_t s = 0; s < sizeof kShapes / sizeof kShapes[0]; s++)
        for (int bits = 1; bits <= 8; bits++) {
            const int *S = kShapes[s];
            bq_pack_geom g;
            assert_int_equal(bq_pack_geom_init(&g, S[0], S[1], S[2], S[3], S[4], S[5], 32), 0);
            size_t na = (size_t)S[1] * S[2], ny = (size_t)S[0] * S[2];
            int32_t *a = malloc(sizeof(int32_t) * na), *a2 = malloc(sizeof(int32_t) * na);
            int32_t *y = malloc(sizeof(int32_t) * ny), *y2 = malloc(sizeof(int32_t) * ny);
            size_t ts = bq_pack_tiles_size(&g, 32) > bq_pack_tiles_size(&g, bits) ? bq_pack_tiles_size(&g, 32)
                                                                                : bq_pack_tiles_size(&g, bits);
            uint8_t *p = malloc(bq_pack_acts_size(&g, bits)), *t = malloc(ts);
            for (size_t i = 0; i < na; i++) a[i] = (int32_t)(rnd() & ((1u << bits) - 1));
            bq_pack_acts(p, a, &g, bits);
            bq_unpack_acts(a2, p, &g, bits);
            assert_memory_equal(a, a2, sizeof(int32_t) * na);
            for (size_t i = 0; i < ny; i++) y[i] = (int32_t)(rnd() & ((1u << bits) - 1));
            bq_pack_tiles(t, y, &g, bits);
            bq_unpack_tiles(y2, t, &g, bits);
            assert_memory_equal(y, y2, sizeof(int32_t) * ny);
            for (size_t i = 0; i < ny; i++) y[i] = (int32_t)rnd();
            bq_pack_tiles(t, y, &g, 32);
            bq_unpack_tiles(y2, t, &g, 32);
            assert_memory_equal(y, y2, sizeof(int32_t) * ny);
            free(a); free(a2); free(y); free(y2); free(p); free(t);
        }
}

/* Bits at the positions the ISA document gives, computed here by hand. */
static void test_known_positions(void **state) {
    (void)state;
    bq_pack_geom g;
    /* W[5][37], dm 4, dk 32: MT 2, KC 2; plane = 2*2*4*4 = 64 bytes */
    assert_int_equal(bq_pack_geom_init(&g, 5, 37, 3, 4, 4, 32, 64), 0);
    assert_int_equal(bq_pack_weight_plane_size(&g), 64);
    uint8_t c[5 * 37] = {0};
    c[4 * 37 + 33] = 0x5;   /* row 4 (mt 1, mi 0), col 33 (kc 1, t 1): bits 0 and 2 */
    uint8_t p[3 * 64];
    bq_pack_weights(p, c, &g, 3);
    /* word (b, mt=1, kc=1, mi=0) at (((b*2 + 1)*2 + 1)*4 + 0)*4 bytes; bit t=1 -> byte 0 bit 1 */
    for (int b = 0; b < 3; b++) {
        size_t off = (size_t)(((b * 2 + 1) * 2 + 1) * 4 + 0) * 4;
        for (size_t i = 0; i < sizeof p; i++) {
            int want = (b != 1 && i == off) ? 0x02 : 0;
            if (i / 64 == (size_t)b) assert_int_equal(p[i], want);
        }
    }
    /* A[37][3], dn 4: NT 1, KC 2; element (k=32, n=2): kc 1, t 0, ni 2, plane 1 */
    int32_t a[37 * 3] = {0};
    a[32 * 3 + 2] = 2;
    uint8_t pa[2 * 1 * 2 * 4 * 4];
    bq_pack_acts(pa, a, &g, 2);
    size_t off = (size_t)(((1 * 1 + 0) * 2 + 1) * 4 + 2) * 4;
    for (size_t i = 0; i < sizeof pa; i++) assert_int_equal(pa[i], i == off ? 1 : 0);
    /* tiles: Y[5][3], dm 4, dn 4, W 64: TPB = 8; tile (mt 1, nt 0) at (0*2 + 1)*bits*8;
     * element (c=4, p=2): mi 0, ni 2, e = 8 -> byte 1 bit 0 of plane b */
    int32_t y[5 * 3] = {0};
    y[4 * 3 + 2] = 3;
    uint8_t pt[2 * 2 * 8];
    bq_pack_tiles(pt, y, &g, 2);
    for (size_t i = 0; i < sizeof pt; i++) {
        int want = (i == 16 + 1 || i == 16 + 8 + 1) ? 1 : 0;
        assert_int_equal(pt[i], want);
    }
    /* RAW32: tile (1, 0) at 1*4*16, element 8 at +32 */
    int32_t yr[5 * 3] = {0};
    yr[4 * 3 + 2] = -2;
    uint8_t pr[2 * 4 * 16];
    bq_pack_tiles(pr, yr, &g, 32);
    for (size_t i = 0; i < sizeof pr; i++) {
        int want = (i >= 64 + 32 && i < 64 + 36) ? (i == 64 + 32 ? 0xfe : 0xff) : 0;
        assert_int_equal(pr[i], want);
    }
}

static void test_geom_errors(void **state) {
    (void)state;
    bq_pack_geom g;
    assert_int_equal(bq_pack_geom_init(&g, 0, 1, 1, 4, 4, 32, 64), -1);
    assert_int_equal(bq_pack_geom_init(&g, 1, 1, 1, 4, 4, 12, 64), -1);
    assert_int_equal(bq_pack_geom_init(&g, 1, 1, 1, 4, 4, 32, 12), -1);
    /* TPB rounds Dm*Dn bits up to whole memory words */
    assert_int_equal(bq_pack_geom_init(&g, 1, 1, 1, 4, 4, 32, 128), 0);
    assert_int_equal(g.tpb, 16);
    assert_int_equal(bq_pack_geom_init(&g, 1, 1, 1, 16, 16, 32, 64), 0);
    assert_int_equal(g.tpb, 32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_roundtrip),
        cmocka_unit_test(test_acts_and_tiles_roundtrip),
        cmocka_unit_test(test_known_positions),
        cmocka_unit_test(test_geom_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
