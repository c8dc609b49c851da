/* test_parallel.c — bq_parallel_for on the persistent pool (sw/core/parallel.c): every item is visited
 * once by the range the split assigns it (same as creating threads per call), over many calls,
 * with nested calls (the busy pool falls back to per-call threads) and calls from two threads at
 * once. */
#include "testutil.h"

#include <stdatomic.h>
#include <threads.h>

#include "core/parallel.h"

enum { N = 1000, CALLS = 2000 };

typedef struct {
    int owner[N];
    atomic_int visits;
    int nested;                /* also run a nested parallel_for inside each range */
} job;

static void inner(void *ctx, int idx, size_t lo, size_t hi) {
    (void)idx;
    atomic_fetch_add((atomic_int *)ctx, (int)(hi - lo));
}

static void mark(void *ctx, int idx, size_t lo, size_t hi) {
    job *j = ctx;
    for (size_t i = lo; i < hi; i++) j->owner[i] = idx;
    atomic_fetch_add(&j->visits, (int)(hi - lo));
    if (j->nested) {
        atomic_int c = 0;
        bq_parallel_for(100, 1, inner, &c);
        assert_int_equal(atomic_load(&c), 100);
    }
}

static void run_calls(job *j) {
    for (int c = 0; c < CALLS; c++) {
        atomic_store(&j->visits, 0);
        bq_parallel_for(N, 1, mark, j);
        assert_int_equal(atomic_load(&j->visits), N);
        const int t = bq_parallel_ranges(N, 1);
        for (int r = 0; r < t; r++)   /* range r holds [N*r/t, N*(r+1)/t) */
            for (int i = N * r / t; i < N * (r + 1) / t; i++) assert_int_equal(j->owner[i], r);
    }
}

static void test_split_and_coverage(void **st) {
    (void)st;
    setenv("BQ_NUM_THREADS", "2", 1);
    static job j;
    j.nested = 0;
    run_calls(&j);
    j.nested = 1;
    run_calls(&j);
}

static int other_thread(void *arg) {
    run_calls(arg);
    return 0;
}

static void test_concurrent_callers(void **st) {
    (void)st;
    setenv("BQ_NUM_THREADS", "2", 1);
    static job a, b;
    thrd_t t;
    assert_int_equal(thrd_create(&t, other_thread, &a), thrd_success);
    run_calls(&b);
    thrd_join(t, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_and_coverage),
        cmocka_unit_test(test_concurrent_callers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
