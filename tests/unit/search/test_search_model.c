/* test_search_model.c — the search problem of real models (fres20, mbv2t) on `edge`: groups,
 * shared quantizers decided once, and the problem's latency equal to the cost table's score. */
#include "testutil.h"
#include <string.h>
#include "costtab.h"
#include "nn/graph.h"
#include "hwcfg.h"
#include "quant/qmodel.h"
#include "core/rng.h"
#include "search/search_model.h"

typedef struct {
    bq_model fp;
    bq_qmodel q;
    bq_hwcfg cfg;
    bq_hw_net net;
    bq_costtab tab;
    bq_search_problem p;
} fixture;

static void build(fixture *f, const char *arch) {
    char err[512] = "";
    assert_int_equal(bq_arch_build(&f->fp, arch, 1), 0);
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    int rc = bq_qmodel_init(&f->q, &f->fp, &o, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    rc = bq_hwcfg_load(&f->cfg, "configs/hw/edge.yaml", err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(bq_search_hw_net(&f->net, &f->q, 0, err, sizeof err), 0);
    rc = bq_costtab_build(&f->tab, &f->cfg, &f->net, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    bq_search_space sp;
    bq_search_space_default(&sp);
    rc = bq_search_from_qmodel(&f->p, &f->q, &f->tab, f->cfg.clock_mhz, &sp, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    for (int i = 0; i < f->p.n_cands; i++) f->p.cands[i].sens = 0.0;
    rc = bq_search_finalize(&f->p, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static void destroy(fixture *f) {
    bq_search_free(&f->p);
    bq_costtab_free(&f->tab);
    bq_hw_net_free(&f->net);
    bq_qmodel_free(&f->q);
    bq_model_free(&f->fp);
}

static int find_group(const bq_search_problem *p, const char *name) {
    for (int g = 0; g < p->n_groups; g++)
        if (strcmp(p->groups[g].name, name) == 0) return g;
    return -1;
}

/* For random allocations: the problem's latency == the cost table's score. */
static void check_scores(fixture *f, uint64_t seed) {
    const bq_search_problem *p = &f->p;
    int nl = f->q.n_layers, na = f->q.n_aq;
    int *ch = malloc(sizeof(int) * (size_t)p->n_groups), *qb = malloc(sizeof(int) * (size_t)p->n_quants);
    uint8_t *wb = malloc((size_t)nl), *ab = malloc((size_t)na);
    bq_rng r;
    bq_rng_seed(&r, seed);
    for (int t = 0; t < 200; t++) {
        for (int g = 0; g < p->n_groups; g++) ch[g] = (int)bq_rng_below(&r, (uint32_t)p->groups[g].n_cand);
        int64_t c;
        bq_search_eval(p, ch, NULL, &c, NULL);
        bq_search_choice_bits(p, ch, qb);
        for (int l = 0; l < nl; l++) wb[l] = (uint8_t)qb[l];
        for (int a = 0; a < na; a++) ab[a] = (uint8_t)qb[nl + a];
        assert_true(c == bq_costtab_score(&f->tab, wb, ab));
    }
    free(ch); free(qb); free(wb); free(ab);
}

static void test_fres20(void **st) {
    (void)st;
    fixture f;
    build(&f, "fres20");
    const bq_search_problem *p = &f.p;
    assert_int_equal(p->n_layers, 22);
    assert_int_equal(p->n_groups, 9 + 2);   /* 9 blocks, stem, fc */
    int g = find_group(p, "s1b1");
    assert_true(g >= 0);
    assert_int_equal(p->groups[g].n_cand, 64);   /* input is the stem's 8-bit output */
    g = find_group(p, "s2b1");
    assert_int_equal(p->groups[g].n_cand, 1024); /* in, conv1.w, mid, conv2.w, down.w */
    g = find_group(p, "s2b2");
    assert_int_equal(p->groups[g].n_cand, 256);
    g = find_group(p, "stem");
    assert_int_equal(p->groups[g].n_q, 0);
    /* the output of s1b3 is one variable, decided by s2b1 (read by its conv1 and downsample) */
    int x = -1;
    for (int q = 0; q < p->n_quants; q++)
        if (strcmp(p->quants[q].name, "s1b3_relu.out") == 0) x = q;
    assert_true(x >= 0);
    assert_int_equal(p->quants[x].group, find_group(p, "s2b1"));
    check_scores(&f, 1);
    /* uniform W8A8 through the problem equals the table's W8A8 score */
    int qb[256];
    assert_true(p->n_quants <= 256);
    bq_search_uniform_bits(p, 8, 8, qb);
    uint8_t wb[64], ab[128];
    for (int l = 0; l < f.q.n_layers; l++) wb[l] = 8;
    for (int a = 0; a < f.q.n_aq; a++) ab[a] = 8;
    assert_true(bq_search_total_cycles(p, qb) == bq_costtab_score(&f.tab, wb, ab));
    destroy(&f);
}

static void test_mbv2t(void **st) {
    (void)st;
    fixture f;
    build(&f, "mbv2t");
    check_scores(&f, 2);
    destroy(&f);
}

/* whole_network = 1 (an ISA v2 config): the whole-network view is attached (fres20: 22 layers + the
 * GAP); a model with a max pool is refused with the layer named, not costed per layer in silence. */
static void test_whole_network_view(void **st) {
    (void)st;
    char err[512] = "";
    bq_model fp;
    bq_qmodel q;
    bq_hw_net net;
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    assert_int_equal(bq_arch_build(&fp, "fres20", 1), 0);
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, sizeof err), 0);
    assert_int_equal(bq_search_hw_net(&net, &q, 1, err, sizeof err), 0);
    assert_int_equal(net.n, 22);
    assert_int_equal(net.n_v2, 23);
    bq_hw_net_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&fp);

    bq_model_init(&fp, "mp", 1, 8, 8, 4);
    int x = bq_add_input(&fp);
    x = bq_add_conv(&fp, "c1", x, 8, 3, 1, 1, 1, 0);
    x = bq_add_maxpool(&fp, "pool", x, 2, 2, 2, 2, 0, 0, 0, 0);
    x = bq_add_conv(&fp, "c2", x, 8, 3, 1, 1, 1, 0);
    x = bq_add_gap(&fp, "gap", x);
    x = bq_add_linear(&fp, "fc", x, 4, 1);
    assert_true(x >= 0);
    assert_int_equal(bq_model_finalize(&fp, 1), 0);
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, sizeof err), 0);
    assert_int_equal(bq_search_hw_net(&net, &q, 0, err, sizeof err), 0);   /* v1: per layer */
    bq_hw_net_free(&net);
    assert_int_equal(bq_search_hw_net(&net, &q, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "max pool"));
    assert_non_null(strstr(err, "c2"));
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

static void test_parse_bits(void **st) {
    (void)st;
    int b[8], n;
    char err[256];
    assert_int_equal(bq_search_parse_bits("8,2,4,3,4", b, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_true(b[0] == 2 && b[1] == 3 && b[2] == 4 && b[3] == 8);
    assert_int_equal(bq_search_parse_bits("2,9", b, &n, err, sizeof err), -1);
    assert_int_equal(bq_search_parse_bits("", b, &n, err, sizeof err), -1);
    assert_int_equal(bq_search_parse_bits("2,,3", b, &n, err, sizeof err), -1);
}

/* A searched allocation written as bits.yaml is read back by bq_qmodel_apply_bits_text (what
 * `brecq quantize --bits` does) into exactly the same per-quantizer bits. */
static void test_bits_yaml_roundtrip(void **st) {
    (void)st;
    fixture f;
    build(&f, "fres20");
    const bq_search_problem *p = &f.p;
    int nl = f.q.n_layers, na = f.q.n_aq;
    int ch[BQ_SEARCH_MAX_GROUPS], qb[256], back[256];
    bq_rng r;
    bq_rng_seed(&r, 3);
    for (int t = 0; t < 20; t++) {
        for (int g = 0; g < p->n_groups; g++) ch[g] = (int)bq_rng_below(&r, (uint32_t)p->groups[g].n_cand);
        bq_search_choice_bits(p, ch, qb);
        bq_buf y = {0};
        bq_search_bits_yaml(p, qb, "roundtrip", &y);
        assert_false(y.oom);
        bq_qmodel q2;
        char err[512] = "";
        bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
        assert_int_equal(bq_qmodel_init(&q2, &f.fp, &o, err, sizeof err), 0);
        int rc = bq_qmodel_apply_bits_text(&q2, (const char *)y.data, y.len, "bits.yaml", err,
                                           sizeof err);
        if (rc) print_error("%s\n%.*s\n", err, (int)y.len, (const char *)y.data);
        assert_int_equal(rc, 0);
        for (int l = 0; l < nl; l++) back[l] = q2.layers[l].wbits;
        for (int a = 0; a < na; a++) back[nl + a] = q2.aq[a].bits;
        assert_memory_equal(back, qb, sizeof(int) * (size_t)(nl + na));
        bq_qmodel_free(&q2);
        bq_buf_free(&y);
    }
    destroy(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fres20),
        cmocka_unit_test(test_mbv2t),
        cmocka_unit_test(test_whole_network_view),
        cmocka_unit_test(test_parse_bits),
        cmocka_unit_test(test_bits_yaml_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
