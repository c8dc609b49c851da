/* test_sensitivity.c — the BRECQ sensitivity pass (sw/search/sensitivity.h) on fres20 (random weights,
 * synthetic images): finite values, 8-bit better than 2-bit in every block, the on-disk cache
 * (reuse with identical values, resume after a partial file, stale keys never mixed in). */
#include "testutil.h"
#include <string.h>
#include <unistd.h>
#include "costtab.h"
#include "nn/graph.h"
#include "hwcfg.h"
#include "quant/qmodel.h"
#include "search/search_model.h"
#include "search/sensitivity.h"

typedef struct {
    bq_model fp;
    bq_qmodel q;
    bq_hwcfg cfg;
    bq_hw_net net;
    bq_costtab tab;
    bq_dataset data;
} fixture;

static fixture F;

static int setup(void **state) {
    (void)state;
    char err[512] = "";
    assert_int_equal(bq_arch_build(&F.fp, "fres20", 1), 0);
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&F.q, &F.fp, &o, err, sizeof err), 0);
    assert_int_equal(bq_hwcfg_load(&F.cfg, "configs/hw/edge.yaml", err, sizeof err), 0);
    assert_int_equal(bq_search_hw_net(&F.net, &F.q, 0, err, sizeof err), 0);
    assert_int_equal(bq_costtab_build(&F.tab, &F.cfg, &F.net, err, sizeof err), 0);
    /* 12 synthetic 28x28 images */
    F.data.n = 12; F.data.c = 1; F.data.h = 28; F.data.w = 28;
    F.data.pixels = malloc(12 * 784);
    F.data.labels = malloc(12 * sizeof *F.data.labels);
    uint64_t s = 7;
    for (int i = 0; i < 12 * 784; i++) F.data.pixels[i] = (uint8_t)(128 + 127 * tu_randf(&s));
    for (int i = 0; i < 12; i++) F.data.labels[i] = (uint8_t)(i % 10);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(F.data.pixels);
    free(F.data.labels);
    bq_costtab_free(&F.tab);
    bq_hw_net_free(&F.net);
    bq_qmodel_free(&F.q);
    bq_model_free(&F.fp);
    return 0;
}

static void problem(bq_search_problem *p) {
    char err[512] = "";
    bq_search_space sp = {.n_wbits = 2, .wbits = {2, 8}, .n_abits = 2, .abits = {2, 8}};
    int rc = bq_search_from_qmodel(p, &F.q, &F.tab, F.cfg.clock_mhz, &sp, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(bq_search_finalize(p, err, sizeof err), 0);
}

static void fill(bq_search_problem *p, int n_images, const char *cache, bq_sens_stats *st) {
    char err[512] = "";
    bq_sens_opts o;
    bq_sens_opts_default(&o);
    o.n_images = n_images;
    o.cache_path = cache;
    o.progress = 0;
    int rc = bq_sensitivity_fill(p, &F.fp, &F.data, &o, st, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static int group_of(const bq_search_problem *p, const char *name) {
    for (int g = 0; g < p->n_groups; g++)
        if (!strcmp(p->groups[g].name, name)) return g;
    return -1;
}

/* Candidate of group g with every quantizer at bits b. */
static double sens_at(const bq_search_problem *p, int g, int b) {
    for (int c = 0; c < p->groups[g].n_cand; c++) {
        const bq_search_cand *C = bq_search_cand_of(p, g, c);
        int all = 1;
        for (int k = 0; k < p->groups[g].n_q; k++) all &= C->bits[k] == b;
        if (all) return C->sens;
    }
    fail_msg("no uniform candidate");
    return NAN;
}

static void test_values(void **state) {
    (void)state;
    bq_search_problem p;
    problem(&p);
    bq_sens_stats st;
    fill(&p, 6, NULL, &st);
    assert_int_equal(st.cached, 0);
    assert_true(st.measured > 100);
    for (int i = 0; i < p.n_cands; i++) {
        assert_true(isfinite(p.cands[i].sens));
        assert_true(p.cands[i].sens >= 0.0);
    }
    int blocks = 0;
    for (int g = 0; g < p.n_groups; g++) {
        if (p.groups[g].n_q == 0) {
            assert_true(p.cands[p.groups[g].cand_off].sens == 0.0);
            continue;
        }
        double s8 = sens_at(&p, g, 8), s2 = sens_at(&p, g, 2);
        if (!(s8 < s2)) print_error("group %s: 8-bit %g, 2-bit %g\n", p.groups[g].name, s8, s2);
        assert_true(s8 < s2);
        assert_true(s8 > 0.0);   /* 8-bit still quantizes: a nonzero error */
        blocks++;
    }
    assert_int_equal(blocks, 9);
    assert_true(group_of(&p, "s2b1") >= 0);
    bq_search_free(&p);
}

static void test_cache(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_sens_%d.cache", (int)getpid());
    remove(path);
    bq_search_problem a, b, c;
    bq_sens_stats st;
    problem(&a);
    fill(&a, 4, path, &st);
    int total = st.measured;
    assert_true(total > 0);
    /* reuse: nothing measured, identical values */
    problem(&b);
    fill(&b, 4, path, &st);
    assert_int_equal(st.measured, 0);
    assert_int_equal(st.cached, total);
    for (int i = 0; i < a.n_cands; i++) assert_true(a.cands[i].sens == b.cands[i].sens);
    /* resume: keep the header and the first group only -> only the rest is measured */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256], keep[65536] = "";
    int groups = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "group ", 6) && ++groups > 1) break;
        strncat(keep, line, sizeof keep - strlen(keep) - 1);
    }
    fclose(f);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(keep, f);
    fclose(f);
    problem(&c);
    fill(&c, 4, path, &st);
    assert_true(st.cached > 0 && st.measured > 0);
    assert_int_equal(st.cached + st.measured, total);
    for (int i = 0; i < a.n_cands; i++) assert_true(a.cands[i].sens == c.cands[i].sens);
    bq_search_free(&c);
    /* stale: other calibration images -> a new key: everything measured again, file replaced */
    problem(&c);
    fill(&c, 5, path, &st);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.measured, total);
    int differ = 0;
    for (int i = 0; i < a.n_cands; i++) differ += a.cands[i].sens != c.cands[i].sens;
    assert_true(differ > 0);
    bq_search_free(&c);
    /* and the old key no longer matches the file: measured again, never mixed */
    problem(&c);
    fill(&c, 4, path, &st);
    assert_int_equal(st.cached, 0);
    for (int i = 0; i < a.n_cands; i++) assert_true(a.cands[i].sens == c.cands[i].sens);
    bq_search_free(&c);
    bq_search_free(&a);
    bq_search_free(&b);
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
