/* test_flow.c — FLOW.yaml loading (defaults, every error with file:line:col) and budget
 * expressions (W2A3, mid(W2A2,W2A3), cycles/us/fraction) of sw/flow/flow.h. The end-to-end run is
 * `make test-flow` (sw/flow/flow.mk). */
#include "testutil.h"
#include <string.h>
#include <unistd.h>
#include "costtab.h"
#include "flow/flow.h"
#include "nn/graph.h"
#include "hwcfg.h"
#include "quant/qmodel.h"
#include "search/search_model.h"

static char tmp_path[64];

static int load_text(bq_flow_cfg *c, const char *text, char *err, size_t n) {
    snprintf(tmp_path, sizeof tmp_path, "/tmp/test_flow_%d.yaml", (int)getpid());
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    int rc = bq_flow_load(c, tmp_path, err, n);
    remove(tmp_path);
    return rc;
}

static void test_load_ok(void **state) {
    (void)state;
    bq_flow_cfg c;
    char err[1024] = "";
    int rc = load_text(&c, "name: t\nmodel: m.bqm\nbudgets: [W2A3, \"mid(W2A2,W2A3)\", 0.5x]\n"
                           "wbits: [2, 4]\niters: 100\nrtn_pareto: false\n", err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(c.model, "m.bqm");
    assert_int_equal(c.n_budgets, 3);
    assert_string_equal(c.budgets[1], "mid(W2A2,W2A3)");
    assert_int_equal(c.space.n_wbits, 2);
    assert_int_equal(c.space.wbits[1], 4);
    assert_int_equal(c.space.n_abits, 4);   /* default {2,3,4,8} */
    assert_int_equal(c.iters, 100);
    assert_int_equal(c.act_iters, -1);      /* the recipe's */
    assert_int_equal(c.rtn_pareto, 0);
    assert_string_equal(c.hw, "configs/hw/edge.yaml");
    /* the shipped flows load */
    const char *shipped[] = {"configs/flows/default.yaml", "configs/flows/smoke.yaml",
                             "configs/flows/mixed_fres20.yaml", "configs/flows/mixed_mbv2t.yaml"};
    for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++) {
        rc = bq_flow_load(&c, shipped[i], err, sizeof err);
        if (rc) print_error("%s\n", err);
        assert_int_equal(rc, 0);
    }
}

static void expect_err(const char *text, const char *needle) {
    bq_flow_cfg c;
    char err[1024] = "";
    assert_int_equal(load_text(&c, text, err, sizeof err), -1);
    if (!strstr(err, needle)) print_error("error '%s' lacks '%s'\n", err, needle);
    assert_non_null(strstr(err, needle));
    assert_non_null(strstr(err, tmp_path));   /* names the file */
}

static void test_load_errors(void **state) {
    (void)state;
    expect_err("model: m\nbudgets: [W2A3]\nitres: 5\n", ":3:1: unknown key 'itres'");
    expect_err("model: m\nbudgets: [W2A3]\niters: -5\n", ":3:8: 'iters' must be an integer");
    expect_err("model: m\nbudgets: [W2A3]\nwbits: [1, 9]\n", ":3:8: 'wbits'");
    expect_err("model: m\nbudgets: [W2A3]\nrtn_pareto: maybe\n", "must be true or false");
    expect_err("budgets: [W2A3]\n", "'model' is required");
    expect_err("model: m\n", "'budgets' is required");
    expect_err("model: m\nbudgets: [W2A3]\nmodel: n\n", ":3:1: key 'model' given twice");
    expect_err("model: [m\n", "YAML syntax error");
}

static void test_budgets(void **state) {
    (void)state;
    char err[512] = "";
    bq_model fp;
    bq_qmodel q;
    bq_hwcfg cfg;
    bq_hw_net net;
    bq_costtab tab;
    bq_search_problem p;
    assert_int_equal(bq_arch_build(&fp, "fres20", 1), 0);
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, sizeof err), 0);
    assert_int_equal(bq_hwcfg_load(&cfg, "configs/hw/edge.yaml", err, sizeof err), 0);
    assert_int_equal(bq_search_hw_net(&net, &q, 0, err, sizeof err), 0);
    assert_int_equal(bq_costtab_build(&tab, &cfg, &net, err, sizeof err), 0);
    bq_search_space sp;
    bq_search_space_default(&sp);
    assert_int_equal(bq_search_from_qmodel(&p, &q, &tab, cfg.clock_mhz, &sp, err, sizeof err), 0);
    for (int i = 0; i < p.n_cands; i++) p.cands[i].sens = 0.0;
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), 0);
    int *qb = malloc(sizeof(int) * (size_t)p.n_quants);
    int64_t w2a3, w2a2, w8a8, c;
    bq_search_uniform_bits(&p, 2, 3, qb);
    w2a3 = bq_search_total_cycles(&p, qb);
    bq_search_uniform_bits(&p, 2, 2, qb);
    w2a2 = bq_search_total_cycles(&p, qb);
    bq_search_uniform_bits(&p, 8, 8, qb);
    w8a8 = bq_search_total_cycles(&p, qb);
    assert_int_equal(bq_flow_budget(&p, "W2A3", &c, err, sizeof err), 0);
    assert_int_equal(c, w2a3);
    assert_int_equal(bq_flow_budget(&p, "mid(W2A2,W2A3)", &c, err, sizeof err), 0);
    assert_int_equal(c, (w2a2 + w2a3) / 2);
    assert_true(c > w2a2 && c < w2a3);
    assert_int_equal(bq_flow_budget(&p, "0.5x", &c, err, sizeof err), 0);
    assert_int_equal(c, w8a8 / 2);
    assert_int_equal(bq_flow_budget(&p, "12345cyc", &c, err, sizeof err), 0);
    assert_int_equal(c, 12345);
    assert_int_equal(bq_flow_budget(&p, "W2A3x", &c, err, sizeof err), -1);
    assert_int_equal(bq_flow_budget(&p, "mid(W2A2)", &c, err, sizeof err), -1);
    free(qb);
    bq_search_free(&p);
    bq_costtab_free(&tab);
    bq_hw_net_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_ok),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_budgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
