/* test_dse.c — sw/dse/: DSE.yaml loading (unknown keys rejected at their position), the grid
 * expansion (count, order, full-port rule, invalid configs kept with the parameter named, an
 * all-invalid grid refused) and the Pareto filter. The end-to-end sweep (serial, killed and
 * resumed, mpirun) is `make test-dse` (sw/dse/dse.mk). */
#include "testutil.h"
#include <string.h>
#include <unistd.h>
#include "dse/dse.h"

static int load_text(bq_dse_spec *s, const char *text, char *err, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_dse_%d.yaml", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    int rc = bq_dse_load(s, path, err, n);
    remove(path);
    return rc;
}

static const char kHead[] = "name: t\nbase: configs/hw/tiny.yaml\nout: /tmp/x\n"
                            "models: [configs/models/fres20.bqm]\nbudgets: [0.5x, 9000us]\n";

static void test_load_and_unknown_key(void **state) {
    (void)state;
    bq_dse_spec s;
    char err[1024] = "", text[1024];
    snprintf(text, sizeof text, "%sgrid:\n  dm: [2, 4]\n  dk: [64]\nwbits: [8, 2, 4, 2]\n", kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), 0);
    assert_int_equal(s.n_axis[BQ_AX_DM], 2);
    assert_int_equal(s.n_axis[BQ_AX_DN], 0);
    assert_int_equal(s.n_budgets, 2);
    assert_int_equal(s.space.n_wbits, 3);   /* sorted, repeats dropped */
    assert_int_equal(s.space.wbits[0], 2);
    assert_int_equal(s.space.wbits[2], 8);
    assert_int_equal(s.sens_images, 64);
    snprintf(text, sizeof text, "%sgrid:\n  dm: [2]\n  rows: [4]\n", kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), -1);
    assert_non_null(strstr(err, ":8:3: unknown key 'grid.rows'"));
    assert_int_equal(load_text(&s, "name: t\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "base"));
}

/* The later phases' keys: defaults (no accuracy phase, best rows, 10k images, no synthesis), the
 * enum values, and a wrong value named with its key. */
static void test_phase_keys(void **state) {
    (void)state;
    bq_dse_spec s;
    char err[1024] = "", text[1024];
    assert_int_equal(load_text(&s, kHead, err, sizeof err), 0);
    assert_string_equal(s.brecq_recipe, "");
    assert_int_equal(s.brecq_rows, BQ_DSE_ROWS_BEST);
    assert_int_equal(s.test_images, 10000);
    assert_int_equal(s.synth_rows, BQ_DSE_ROWS_NONE);
    snprintf(text, sizeof text, "%sbrecq_recipe: r.yaml\nbrecq_rows: front\ntest_images: 500\n"
             "synth_rows: all\n", kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), 0);
    assert_string_equal(s.brecq_recipe, "r.yaml");
    assert_int_equal(s.brecq_rows, BQ_DSE_ROWS_FRONT);
    assert_int_equal(s.test_images, 500);
    assert_int_equal(s.synth_rows, BQ_DSE_ROWS_ALL);
    snprintf(text, sizeof text, "%sbrecq_rows: some\n", kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), -1);
    assert_non_null(strstr(err, ":6:"));
    assert_non_null(strstr(err, "brecq_rows"));
    snprintf(text, sizeof text, "%stest_images: 0\n", kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), -1);
    assert_non_null(strstr(err, "test_images"));
}

static void test_expand(void **state) {
    (void)state;
    bq_dse_spec s;
    bq_hwcfg base;
    char err[1024] = "", text[1024];
    assert_int_equal(bq_hwcfg_load(&base, "configs/hw/tiny.yaml", err, sizeof err), 0);
    snprintf(text, sizeof text, "%sgrid:\n  dm: [2, 4]\n  res_lanes: [1, 4]\n  width_bits: [32, 64]\n",
             kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), 0);
    assert_int_equal(bq_dse_grid_size(&s), 8);
    bq_dse_config *c;
    int n;
    assert_int_equal(bq_dse_expand(&s, &base, &c, &n, err, sizeof err), 0);
    assert_int_equal(n, 8);
    /* axes in enum order (dm, res_lanes, width_bits), the last fastest */
    assert_int_equal(c[0].cfg.dm, 2);
    assert_int_equal(c[0].cfg.mem_width_bits, 32);
    assert_int_equal(c[1].cfg.mem_width_bits, 64);
    assert_int_equal(c[2].cfg.res_lanes, 4);
    assert_int_equal(c[4].cfg.dm, 4);
    /* a swept port width runs at full width: 32 bits = 4 bytes per cycle */
    assert_int_equal(c[0].cfg.read_bytes_per_cycle, 4);
    assert_int_equal(c[0].cfg.write_bytes_per_cycle, 4);
    /* dm 2 with 4 lanes: the RTL cannot be generated, and the reason names the parameter */
    assert_false(c[2].valid);
    assert_non_null(strstr(c[2].why, "array.res_lanes"));
    assert_true(c[6].valid);    /* dm 4, 4 lanes */
    assert_true(c[0].res.lut > 0);
    /* distinct hardware, distinct keys; the name carries the shape */
    assert_string_not_equal(c[0].key, c[1].key);
    assert_non_null(strstr(c[4].cfg.name, "d4x2x64-"));
    free(c);
    /* nothing valid: refused, with the first reason */
    snprintf(text, sizeof text, "%sgrid:\n  dm: [2]\n  res_lanes: [4]\n", kHead);
    assert_int_equal(load_text(&s, text, err, sizeof err), 0);
    assert_int_equal(bq_dse_expand(&s, &base, &c, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "no config of the grid is valid"));
    assert_non_null(strstr(err, "array.res_lanes"));
}

static void test_pareto(void **state) {
    (void)state;
    /* (objective, latency): a dominated point, a duplicate pair, an extreme on each axis */
    const double x[] = {1, 10,   2, 5,   3, 6,   2, 5,   5, 1,   0.5, 20};
    int fr[6];
    bq_dse_pareto(6, 2, x, fr);
    assert_int_equal(fr[0], 1);
    assert_int_equal(fr[1], 1);
    assert_int_equal(fr[2], 0);   /* (3,6) is dominated by (2,5) */
    assert_int_equal(fr[3], 1);   /* an equal point does not dominate */
    assert_int_equal(fr[4], 1);
    assert_int_equal(fr[5], 1);
    /* one objective: only the minimum (and its ties) */
    const double y[] = {3, 1, 2, 1};
    int f1[4];
    bq_dse_pareto(4, 1, y, f1);
    assert_int_equal(f1[0] + f1[1] * 2 + f1[2] * 4 + f1[3] * 8, 2 + 8);
    bq_dse_pareto(0, 3, NULL, NULL);   /* empty input is fine */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_unknown_key),
        cmocka_unit_test(test_phase_keys),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_pareto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
