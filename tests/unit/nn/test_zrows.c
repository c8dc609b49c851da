/* test_zrows.c — zero-free float rows (sw/nn/zrows.h) round-trip bit for bit: +0 dropped, -0.0,
 * denormals, inf and NaN kept, row lengths not a multiple of 16 or 8, all-zero and all-non-zero
 * rows, growth past the first allocation, random access. */
#include "testutil.h"

#include <string.h>

#include "core/rng.h"
#include "nn/zrows.h"

static void check(size_t len, int n, int zero_pct) {
    float *rows = malloc(sizeof(float) * len * n), *got = malloc(sizeof(float) * len);
    uint64_t s = 12345 + len;
    for (size_t i = 0; i < len * (size_t)n; i++) {
        float v = tu_randf(&s) * 4.0f;
        int r = (int)(bq_splitmix64(&s) % 100);
        if (r < zero_pct) v = 0.0f;
        else if (r == zero_pct) v = -0.0f;
        else if (r == zero_pct + 1) v = 1e-42f;   /* denormal */
        else if (r == zero_pct + 2) v = INFINITY;
        else if (r == zero_pct + 3) v = NAN;
        rows[i] = v;
    }
    bq_zrows z;
    assert_int_equal(bq_zrows_init(&z, n, len), 0);
    for (int r = 0; r < n; r++) assert_int_equal(bq_zrows_put(&z, rows + (size_t)r * len), 0);
    assert_int_equal(bq_zrows_put(&z, rows), -1);   /* full */
    for (int k = 0; k < n; k++) {
        int r = (k * 7) % n;
        bq_zrows_get(&z, r, got);
        assert_memory_equal(got, rows + (size_t)r * len, sizeof(float) * len);
    }
    /* past the first storage blocks, 36% zeros must save memory (the point of the format) */
    if (zero_pct >= 30 && sizeof(float) * len * n > (16u << 20))
        assert_true(bq_zrows_bytes(&z) < 0.8 * sizeof(float) * len * n);
    bq_zrows_free(&z);
    free(rows);
    free(got);
}

static void test_roundtrip(void **st) {
    (void)st;
    const size_t lens[] = {1, 7, 8, 15, 16, 17, 100, 12544};
    const int zeros[] = {0, 36, 60, 96};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t j = 0; j < sizeof zeros / sizeof zeros[0]; j++) check(lens[i], 23, zeros[j]);
    check(12544, 400, 36);   /* fres20's first-stage rows, several storage blocks */
}

static void test_all_zero_rows(void **st) {
    (void)st;
    float zero[40] = {0}, got[40];
    bq_zrows z;
    assert_int_equal(bq_zrows_init(&z, 3, 40), 0);
    for (int r = 0; r < 3; r++) assert_int_equal(bq_zrows_put(&z, zero), 0);
    got[5] = 1.0f;
    bq_zrows_get(&z, 1, got);
    assert_memory_equal(got, zero, sizeof zero);
    bq_zrows_free(&z);
    bq_zrows_free(&z);   /* freeing twice is harmless */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_all_zero_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
