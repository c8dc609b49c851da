/*
 * test_dp_reduce.c — shard records and their fixed-order sum (sw/quant/dp_reduce.h).
 *
 * The data-parallel reconstruction is byte-identical on 1, 2 and 4 ranks only because every rank
 * adds the S shard records in shard order. These tests hold bq_dp_sum to that order (a sum whose
 * float result depends on the order), and check that records produced by R simulated ranks and
 * gathered in rank order sum to the same bytes as one process computing all S shards.
 */
#include "testutil.h"

#include <string.h>

#include "quant/dp_reduce.h"
#include "quant/recipe.h"

enum { S = 4, NF = 7, ND = 3 };

/* Shard k's gradients, as a rank computing shard k would produce them (a function of k only). */
static void fill_shard(unsigned char *recs, const bq_dp_layout *L, int slot, int k) {
    double *d = bq_dp_rec_d(recs, L, slot);
    float *f = bq_dp_rec_f(recs, L, slot);
    for (size_t i = 0; i < L->nd; i++) d[i] = (k + 1) * 0.1 + (double)i / 3.0 + (k == 2 ? 1e17 : 0.0);
    for (size_t i = 0; i < L->nf; i++) f[i] = (float)((k + 1) * 0.37 - (double)i / 7.0);
}

static void test_layout(void **st) {
    (void)st;
    bq_dp_layout L = {ND, NF};
    assert_int_equal(bq_dp_record_bytes(&L), 56);   /* 24 + 28 = 52, padded to 8 */
    unsigned char buf[112];
    assert_ptr_equal((unsigned char *)bq_dp_rec_d(buf, &L, 1), buf + 56);
    assert_ptr_equal((unsigned char *)bq_dp_rec_f(buf, &L, 1), buf + 56 + 24);
}

/* The order is the shard order: 1e8 + 1 - 1e8 + 1 in float is 1 left to right, 0 pairwise. */
static void test_sum_order(void **st) {
    (void)st;
    bq_dp_layout L = {1, 1};
    unsigned char recs[4 * 16];
    const float fv[4] = {1e8f, 1.0f, -1e8f, 1.0f};
    const double dv[4] = {1e17, 1.0, -1e17, 1.0};
    for (int k = 0; k < 4; k++) {
        *bq_dp_rec_f(recs, &L, k) = fv[k];
        *bq_dp_rec_d(recs, &L, k) = dv[k];
    }
    float f;
    double d;
    bq_dp_sum(&L, recs, 4, &d, &f);
    assert_true(f == 1.0f);
    assert_true(d == 1.0);
    bq_dp_sum(&L, recs, 1, &d, &f);   /* one shard: its own bytes */
    assert_true(f == 1e8f && d == 1e17);
}

static void test_shard_range(void **st) {
    (void)st;
    int lo, hi;
    assert_int_equal(bq_dp_shard_range(4, 2, 1, &lo, &hi), 0);
    assert_int_equal(lo, 2);
    assert_int_equal(hi, 4);
    assert_int_equal(bq_dp_shard_range(4, 4, 3, &lo, &hi), 0);
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 4);
    assert_int_equal(bq_dp_shard_range(4, 3, 0, &lo, &hi), -1);   /* 3 does not divide 4 */
    assert_int_equal(bq_dp_shard_range(4, 2, 2, &lo, &hi), -1);   /* no rank 2 of 2 */
    assert_int_equal(bq_dp_shard_range(0, 1, 0, &lo, &hi), -1);
}

/* R simulated ranks fill their shards into their own send buffers; concatenated in rank order
 * (what allgather delivers) they sum to the bytes of one process computing all shards. */
static void test_same_bytes_any_ranks(void **st) {
    (void)st;
    bq_dp_layout L = {ND, NF};
    size_t rb = bq_dp_record_bytes(&L);
    unsigned char serial[S * 64], gathered[S * 64];
    memset(serial, 0, sizeof serial);
    for (int k = 0; k < S; k++) fill_shard(serial, &L, k, k);
    double d1[ND], dR[ND];
    float f1[NF], fR[NF];
    bq_dp_sum(&L, serial, S, d1, f1);
    const int ranks[] = {1, 2, 4};
    for (int ri = 0; ri < 3; ri++) {
        int R = ranks[ri];
        memset(gathered, 0xA5, sizeof gathered);
        for (int r = 0; r < R; r++) {
            int lo, hi;
            assert_int_equal(bq_dp_shard_range(S, R, r, &lo, &hi), 0);
            unsigned char send[S * 64];
            memset(send, 0, sizeof send);
            for (int k = lo; k < hi; k++) fill_shard(send, &L, k - lo, k);
            memcpy(gathered + (size_t)r * (S / R) * rb, send, (size_t)(S / R) * rb);
        }
        bq_dp_sum(&L, gathered, S, dR, fR);
        assert_memory_equal(d1, dR, sizeof d1);
        assert_memory_equal(f1, fR, sizeof f1);
    }
}

static void test_agree_one_process(void **st) {
    (void)st;
    char err[64];
    assert_int_equal(bq_dp_agree(NULL, 3, err, sizeof err), 1);
    bq_dp_comm one = {0, 1, NULL, NULL};
    assert_int_equal(bq_dp_agree(&one, 3, err, sizeof err), 1);
}

/* The recipe key: default 1; a value that does not divide the batch is one line naming the
 * file, the place and the fix. */
static void test_recipe_key(void **st) {
    (void)st;
    bq_recipe r;
    char err[256];
    const char *ok = "method: brecq\nbatch: 8\ncalib: 32\nact_init_batch: 8\ndp_shards: 4\n";
    assert_int_equal(bq_recipe_parse(&r, "", 0, "e.yaml", err, sizeof err), 0);
    assert_int_equal(r.dp_shards, 1);
    assert_int_equal(bq_recipe_parse(&r, ok, strlen(ok), "a.yaml", err, sizeof err), 0);
    assert_int_equal(r.dp_shards, 4);
    const char *bad = "method: brecq\nbatch: 8\ncalib: 32\nact_init_batch: 8\ndp_shards: 3\n";
    assert_int_equal(bq_recipe_parse(&r, bad, strlen(bad), "b.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "b.yaml:5:"));
    assert_non_null(strstr(err, "must divide 'batch' (8)"));
    assert_null(strchr(err, '\n'));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_sum_order),
        cmocka_unit_test(test_shard_range),
        cmocka_unit_test(test_same_bytes_any_ranks),
        cmocka_unit_test(test_agree_one_process),
        cmocka_unit_test(test_recipe_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
