/* test_mcnemar.c — McNemar's test against hand-computed p-values. */
#include "testutil.h"
#include <string.h>
#include "search/mcnemar.h"

#define P_TOL 1e-12    /* exact-test p-values are sums of a few terms: near machine precision */
#define CHI_TOL 1e-9   /* chi-square p-values vs values computed independently (erfc by hand) */

static void test_exact_small(void **st) {
    (void)st;
    bq_mcnemar m;
    /* b=1, c=9: 2 * (C(10,0) + C(10,1)) / 2^10 = 22/1024 */
    bq_mcnemar_from_counts(&m, 1, 9);
    assert_true(m.exact);
    assert_true(fabs(m.p_value - 22.0 / 1024.0) < P_TOL);
    /* symmetric in b and c */
    bq_mcnemar_from_counts(&m, 9, 1);
    assert_true(fabs(m.p_value - 22.0 / 1024.0) < P_TOL);
    /* b=0, c=5: 2 / 32 */
    bq_mcnemar_from_counts(&m, 0, 5);
    assert_true(fabs(m.p_value - 0.0625) < P_TOL);
    /* b=2, c=8: 2 * (1 + 10 + 45) / 1024 = 112/1024 */
    bq_mcnemar_from_counts(&m, 2, 8);
    assert_true(fabs(m.p_value - 112.0 / 1024.0) < P_TOL);
    /* b=3, c=3: 2 * (1+6+15+20)/64 > 1 -> 1 */
    bq_mcnemar_from_counts(&m, 3, 3);
    assert_true(m.p_value == 1.0);
    /* no discordant pairs: no evidence */
    bq_mcnemar_from_counts(&m, 0, 0);
    assert_true(m.p_value == 1.0);
    /* b=7, c=17 (24 < 25, still exact): 2 * sum_{i<=7} C(24,i) / 2^24 = 1072310 / 16777216 */
    bq_mcnemar_from_counts(&m, 7, 17);
    assert_true(m.exact);
    assert_true(fabs(m.p_value - 2.0 * 536155.0 / 16777216.0) < P_TOL);
}

static void test_chi2_large(void **st) {
    (void)st;
    bq_mcnemar m;
    /* b=30, c=10: chi2 = (20-1)^2/40 = 9.025; p = erfc(sqrt(4.5125)) = 0.002663119259138554 */
    bq_mcnemar_from_counts(&m, 30, 10);
    assert_false(m.exact);
    assert_true(fabs(m.statistic - 9.025) < 1e-12);
    assert_true(fabs(m.p_value - 0.002663119259138554) < CHI_TOL);
    /* b=40, c=60: chi2 = 19^2/100 = 3.61; p = 0.05743311963200359 (just above 0.05) */
    bq_mcnemar_from_counts(&m, 40, 60);
    assert_true(fabs(m.statistic - 3.61) < 1e-12);
    assert_true(fabs(m.p_value - 0.05743311963200359) < CHI_TOL);
    /* b=12, c=13: 25 discordant -> chi2; |b-c|-1 = 0 -> p = 1 */
    bq_mcnemar_from_counts(&m, 12, 13);
    assert_false(m.exact);
    assert_true(m.p_value == 1.0);
    /* b=100, c=70: chi2 = 29^2/170 = 4.947058823529412; p = 0.0261350941138681 */
    bq_mcnemar_from_counts(&m, 100, 70);
    assert_true(fabs(m.p_value - 0.0261350941138681) < CHI_TOL);
}

static void test_from_predictions(void **st) {
    (void)st;
    enum { N = 60 };
    int32_t lab[N], pa[N], pb[N];
    /* 40 both right, 2 both wrong, 13 only A right, 5 only B right */
    for (int i = 0; i < N; i++) {
        lab[i] = i % 10;
        pa[i] = pb[i] = lab[i];
    }
    for (int i = 40; i < 42; i++) pa[i] = pb[i] = (lab[i] + 1) % 10;          /* both wrong */
    for (int i = 42; i < 55; i++) pb[i] = (lab[i] + 3) % 10;                  /* only A right */
    for (int i = 55; i < 60; i++) pa[i] = (lab[i] + 7) % 10;                  /* only B right */
    bq_mcnemar m;
    bq_mcnemar_test(&m, lab, pa, pb, N);
    assert_int_equal(m.n, N);
    assert_int_equal(m.b, 13);
    assert_int_equal(m.c, 5);
    assert_int_equal(m.a_correct, 53);
    assert_int_equal(m.b_correct, 45);
    assert_true(m.exact);
    /* 2 * sum_{i<=5} C(18,i) / 2^18 = 2 * (1+18+153+816+3060+8568) / 262144 = 25232/262144 */
    assert_true(fabs(m.p_value - 25232.0 / 262144.0) < P_TOL);
}

static void test_binom_large_n(void **st) {
    (void)st;
    /* symmetric, bounded, and 1 at the centre even for large n */
    assert_true(bq_binom_two_sided_half(5000, 10000) == 1.0);
    double p = bq_binom_two_sided_half(4800, 10000);
    assert_true(p > 0 && p < 1e-4);
    assert_true(fabs(p - bq_binom_two_sided_half(5200, 10000)) < 1e-15);
}

static void test_mp_rows(void **st) {
    (void)st;
    enum { N = 60 };
    int32_t lab[N], pa[N], pb[N];
    for (int i = 0; i < N; i++) lab[i] = pa[i] = pb[i] = i % 10;
    for (int i = 42; i < 55; i++) pb[i] = (lab[i] + 3) % 10;   /* 13 only mixed right */
    for (int i = 55; i < 60; i++) pa[i] = (lab[i] + 7) % 10;   /* 5 only uniform right */
    bq_mp_row rows[2] = {{.model = "fres20", .budget_cycles = 413137, .mixed_cycles = 413100,
                          .uniform_setting = "W2A3", .uniform_cycles = 413137},
                         {.model = "mbv2t", .budget_cycles = 5, .mixed_cycles = 4,
                          .uniform_setting = "W3A3", .uniform_cycles = 5}};
    bq_mcnemar m;
    bq_mp_row_compare(&rows[0], lab, pa, pb, N, &m);
    assert_true(fabs(rows[0].mixed_top1 - 100.0 * 55 / 60) < 1e-12);
    assert_true(fabs(rows[0].uniform_top1 - 100.0 * 47 / 60) < 1e-12);
    assert_true(fabs(rows[0].p_value - 25232.0 / 262144.0) < P_TOL);
    bq_mp_row_compare(&rows[1], lab, pa, pa, N, NULL);   /* identical predictions: p = 1 */
    assert_true(rows[1].p_value == 1.0);
    bq_buf b = {0};
    bq_mp_rows_json(rows, 2, &b);
    bq_buf_put(&b, "", 1);
    const char *js = (const char *)b.data;
    assert_non_null(strstr(js, "{\"model\": \"fres20\", \"budget_cycles\": 413137, \"mixed_cycles\": "
                               "413100, \"mixed_top1\": 91.6667, \"uniform_setting\": \"W2A3\", "
                               "\"uniform_cycles\": 413137, \"uniform_top1\": 78.3333, "
                               "\"p_value\": 0.0962524}"));
    assert_true(js[0] == '[' && strstr(js, "\"p_value\": 1}\n]\n"));
    bq_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_small),
        cmocka_unit_test(test_chi2_large),
        cmocka_unit_test(test_from_predictions),
        cmocka_unit_test(test_binom_large_n),
        cmocka_unit_test(test_mp_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
