/* test_lower_v2 — qmodel -> whole-network v2 layer list (sw/lower/lower_v2.h): the built-in
 * architectures' producers, shortcuts and GAP, their whole-network programs (dry run == sum of
 * the layers), and a max pool keeping a model off the v2 path. */
#include "testutil.h"

#include <string.h>

#include "latency.h"
#include "lower/lower_v2.h"
#include "nn/graph.h"
#include "quant/qmodel.h"

static int find(const bq_v2_layer *ls, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ls[i].hw.name, name)) return i;
    return -9;
}

/* Lower arch, check the chain against the graph's layer order rules, dry-run the one program. */
static int lower_arch(const char *arch, int first_last_8bit, bq_v2_layer *ls, bq_qmodel *q,
                      bq_model *fp) {
    char err[512] = "";
    assert_int_equal(bq_arch_build(fp, arch, 1), 0);
    bq_qmodel_opts o = {.wbits = 4, .abits = 4, .first_last_8bit = first_last_8bit};
    assert_int_equal(bq_qmodel_init(q, fp, &o, err, sizeof err), 0);
    int n = bq_lower_v2_net(ls, BQ_V2_MAX_LAYERS, q, err, sizeof err);
    if (n < 0) print_error("%s\n", err);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {   /* producers come first and shapes chain (net_plan checks) */
        assert_true(ls[i].in_from < i);
        if (ls[i].hw.has_residual) assert_true(ls[i].res_from < i);
    }
    bq_hwcfg cfg;
    assert_int_equal(bq_hwcfg_load(&cfg, "configs/hw/tiny.yaml", err, sizeof err), 0);
    cfg.window_bytes = 1 << 15;
    cfg.block_channels = 256;
    static bq_v2_plan plans[BQ_V2_MAX_LAYERS];
    static bq_v2_memplan mp;
    if (bq_v2_net_plan(plans, &mp, &cfg, ls, n, err, sizeof err)) print_error("%s\n", err);
    bq_program pr;
    bq_program_init(&pr);
    int64_t sum = 0;
    bq_latency r;
    for (int i = 0; i < n; i++) {
        bq_program_reset(&pr);
        assert_int_equal(bq_v2_build(&pr, &plans[i], &cfg, &mp.addr[i], 0, 0, err, sizeof err), 0);
        assert_int_equal(bq_latency_program(&r, &pr, &plans[i].base, &cfg, 1, err, sizeof err), 0);
        sum += r.cycles;
    }
    bq_program_reset(&pr);
    assert_int_equal(bq_v2_net_build(&pr, plans, &mp, &cfg, n, err, sizeof err), 0);
    assert_int_equal(bq_latency_program(&r, &pr, &plans[0].base, &cfg, 1, err, sizeof err), 0);
    assert_int_equal(r.cycles, sum);
    print_message("    %s: %d layers, whole program %lld cycles on tiny (W4A4)\n", arch, n,
                  (long long)r.cycles);
    bq_program_free(&pr);
    return n;
}

static void test_fres20(void **st) {
    (void)st;
    static bq_v2_layer ls[BQ_V2_MAX_LAYERS];
    bq_qmodel q;
    bq_model fp;
    int n = lower_arch("fres20", 1, ls, &q, &fp);
    assert_int_equal(n, 23);   /* stem, 9 x 2 convs, 2 shortcut convs, GAP, fc */
    int stem = find(ls, n, "stem"), down = find(ls, n, "s2b1_down"), c2 = find(ls, n, "s2b1_conv2");
    int c1 = find(ls, n, "s2b1_conv1"), gap = find(ls, n, "gap"), fc = find(ls, n, "fc");
    assert_int_equal(stem, 0);
    assert_int_equal(ls[stem].in_from, -1);
    assert_true(down >= 0 && down < c2);              /* the shortcut before its consumer */
    assert_int_equal(ls[c2].res_from, down);
    assert_int_equal(ls[c2].in_from, c1);
    assert_int_equal(ls[c1].stride, 2);
    assert_int_equal(ls[find(ls, n, "s1b1_conv2")].res_from, stem);
    assert_true(ls[gap].depthwise && ls[gap].kh == 7 && ls[gap].ho == 1 && ls[gap].hw.wbits == 1);
    assert_int_equal(ls[gap].hw.obits, ls[fc].hw.abits);
    assert_int_equal(ls[fc].in_from, gap);
    assert_true(ls[fc].hw.raw32 && ls[fc].cin == 64 && ls[fc].cout == 10);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

static void test_mbv2t(void **st) {
    (void)st;
    static bq_v2_layer ls[BQ_V2_MAX_LAYERS];
    bq_qmodel q;
    bq_model fp;
    int n = lower_arch("mbv2t", 0, ls, &q, &fp);   /* all 4-bit: the GAP writes 4-bit codes */
    assert_int_equal(n, 27);   /* stem, 7 expands, 8 dw, 8 projects, head, GAP, fc */
    int dw1 = find(ls, n, "b1_dw"), pr1 = find(ls, n, "b1_project"), dw2 = find(ls, n, "b2_dw");
    assert_true(ls[dw1].depthwise && ls[dw1].cin == 16);
    assert_int_equal(ls[dw1].in_from, 0);
    assert_int_equal(ls[pr1].res_from, 0);
    assert_true(ls[dw2].depthwise && ls[dw2].stride == 2 && ls[dw2].cin == 64);
    assert_false(ls[find(ls, n, "b2_project")].hw.has_residual);
    int gap = find(ls, n, "gap"), fc = find(ls, n, "fc");
    assert_int_equal(ls[gap].hw.obits, 4);
    assert_int_equal(ls[gap].hw.abits, ls[find(ls, n, "head")].hw.obits);
    assert_int_equal(ls[fc].hw.abits, 4);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

static void test_maxpool_refused(void **st) {
    (void)st;
    bq_model m;
    char err[512] = "";
    bq_model_init(&m, "mp", 1, 8, 8, 4);
    int x = bq_add_input(&m);
    x = bq_add_conv(&m, "c1", x, 8, 3, 1, 1, 1, 0);
    x = bq_add_maxpool(&m, "pool", x, 2, 2, 2, 2, 0, 0, 0, 0);
    x = bq_add_conv(&m, "c2", x, 8, 3, 1, 1, 1, 0);
    x = bq_add_gap(&m, "gap", x);
    x = bq_add_linear(&m, "fc", x, 4, 1);
    assert_true(x >= 0);
    assert_int_equal(bq_model_finalize(&m, 1), 0);
    bq_qmodel q;
    bq_qmodel_opts o = {.wbits = 4, .abits = 4, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&q, &m, &o, err, sizeof err), 0);
    static bq_v2_layer ls[BQ_V2_MAX_LAYERS];
    assert_int_equal(bq_lower_v2_net(ls, BQ_V2_MAX_LAYERS, &q, err, sizeof err), -1);
    assert_non_null(strstr(err, "max pool"));
    assert_non_null(strstr(err, "c2"));
    assert_null(strchr(err, '\n'));
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fres20),
        cmocka_unit_test(test_mbv2t),
        cmocka_unit_test(test_maxpool_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
