/* test_progress.c — the ETA of progress lines is measured from the first update, so a resumed
 * run (work finished by an earlier process) and setup before the first iteration do not distort
 * it (the old elapsed/done formula printed "ETA 54s" for a 40-minute remainder after a resume). */
#include "testutil.h"

#include "core/progress.h"

static void test_eta_fresh(void **state) {
    (void)state;
    bq_progress p;
    bq_progress_start(&p, "t");
    /* 7 s of setup before the first iteration: not part of the rate */
    assert_true(bq_progress_eta(&p, p.t0 + 7.0, 1, 20001) < 0);
    assert_true(bq_progress_eta(&p, p.t0 + 7.0, 1, 20001) < 0);   /* no time has passed */
    double eta = bq_progress_eta(&p, p.t0 + 17.0, 1001, 20001);    /* 100 it/s */
    assert_true(fabs(eta - 190.0) < 1e-9);
}

static void test_eta_resumed(void **state) {
    (void)state;
    bq_progress p;
    bq_progress_start(&p, "t");
    /* 60000 of 100000 iterations were done by a killed process */
    assert_true(bq_progress_eta(&p, p.t0 + 2.0, 60000, 100000) < 0);
    double eta = bq_progress_eta(&p, p.t0 + 12.0, 61000, 100000);  /* 100 it/s */
    assert_true(fabs(eta - 390.0) < 1e-9);
    /* the rate is the average since the base, not the last interval */
    eta = bq_progress_eta(&p, p.t0 + 22.0, 61500, 100000);         /* 75 it/s overall */
    assert_true(fabs(eta - 20.0 * 38500.0 / 1500.0) < 1e-9);
    assert_true(bq_progress_eta(&p, p.t0 + 30.0, 100000, 100000) == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eta_fresh),
        cmocka_unit_test(test_eta_resumed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
