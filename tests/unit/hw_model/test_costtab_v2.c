/* test_costtab_v2.c — the cost table and the exact latency on an ISA v2 build
 * (docs/whole_network.md §13): on fres20 and mbv2t (sw/nn/arch.c) with tiny and edge carrying
 * v2 units, for random bit allocations the table's score == bq_hw_net_latency == the dry run of
 * the one whole-network program (bq_v2_net_build), to the cycle; the O and R folds are 0; the
 * search problem on the v2 table sums to the same; a v1 config keeps the v1 table bit for bit;
 * a window too small is one line naming the layer and the key before any table entry. */
#include "testutil.h"

#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "costtab.h"
#include "hwcfg.h"
#include "latency.h"
#include "lower/lower.h"
#include "lower/lower_v2.h"
#include "nn/graph.h"
#include "quant/qmodel.h"
#include "search/search_model.h"

#define ALLOCS 50

typedef struct {
    bq_model fp;
    bq_qmodel q;
    bq_hw_net net;
} netfix;

static void net_build(netfix *f, const char *arch) {
    char err[512] = "";
    assert_int_equal(bq_arch_build(&f->fp, arch, 1), 0);
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    int rc = bq_qmodel_init(&f->q, &f->fp, &o, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(bq_lower_hw_net(&f->net, &f->q, err, sizeof err), 0);
    rc = bq_lower_hw_net_v2(&f->net, &f->q, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static void net_free(netfix *f) {
    bq_hw_net_free(&f->net);
    bq_qmodel_free(&f->q);
    bq_model_free(&f->fp);
}

static void load_cfg(bq_hwcfg *cfg, const char *path, int window, int block) {
    char err[512] = "";
    int rc = bq_hwcfg_load(cfg, path, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    cfg->window_bytes = window;
    cfg->block_channels = block;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Dry run of the one whole-network program of the net's v2 view at its current bits. */
static int64_t whole_program(const bq_hw_net *net, const bq_hwcfg *cfg) {
    static bq_v2_plan plans[BQ_V2_MAX_LAYERS];
    static bq_v2_memplan mp;
    char err[512] = "";
    int rc = bq_v2_net_plan(plans, &mp, cfg, net->v2, net->n_v2, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    bq_program pr;
    bq_program_init(&pr);
    rc = bq_v2_net_build(&pr, plans, &mp, cfg, net->n_v2, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    bq_latency r;
    assert_int_equal(bq_latency_program(&r, &pr, &plans[0].base, cfg, 1, err, sizeof err), 0);
    bq_program_free(&pr);
    return r.cycles;
}

/* score == net latency == whole program for ALLOCS random allocations (bits 2..8). */
static void check_exact(const char *arch, const char *cfg_path, int window, int block) {
    netfix f;
    net_build(&f, arch);
    bq_hwcfg cfg;
    load_cfg(&cfg, cfg_path, window, block);
    assert_true(bq_hw_net_is_v2(&f.net, &cfg));
    char err[512] = "";
    bq_costtab t;
    double t0 = now_s();
    int rc = bq_costtab_build(&t, &cfg, &f.net, err, sizeof err);
    double t_build = now_s() - t0;
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    int nonzero = 0;   /* the v2 write and residual read are bytes: no output/residual-bits term */
    for (int i = 0; i < 8 * t.n; i++) nonzero += t.o[i] != 0 || t.r[i] != 0;
    assert_int_equal(nonzero, 0);
    uint8_t wb[256], qb[256];
    assert_true(f.net.n <= 256 && f.net.nq <= 256);
    bq_rng rng;
    bq_rng_seed(&rng, 20261207);
    double t_net = 0, t_whole = 0;
    int64_t lo = INT64_MAX, hi = 0;
    for (int it = 0; it < ALLOCS; it++) {
        for (int l = 0; l < f.net.n; l++) wb[l] = (uint8_t)(2 + bq_rng_below(&rng, 7));
        for (int a = 0; a < f.net.nq; a++) qb[a] = (uint8_t)(2 + bq_rng_below(&rng, 7));
        int64_t score = bq_costtab_score(&t, wb, qb);
        bq_hw_net_apply(&f.net, wb, qb);
        t0 = now_s();
        int64_t lat = bq_hw_net_latency(&f.net, &cfg, NULL, err, sizeof err);
        t_net += now_s() - t0;
        if (lat < 0) print_error("%s\n", err);
        t0 = now_s();
        int64_t whole = whole_program(&f.net, &cfg);
        t_whole += now_s() - t0;
        if (score != lat || lat != whole)
            print_error("%s on %s, allocation %d: score %lld, net latency %lld, whole program %lld\n",
                        arch, cfg_path, it, (long long)score, (long long)lat, (long long)whole);
        assert_int_equal(score, lat);
        assert_int_equal(lat, whole);
        if (whole < lo) lo = whole;
        if (whole > hi) hi = whole;
    }
    print_message("    %s on %s (window %d, block %d): %d layers (+%d fixed), table %.2f s; %d "
                  "allocations exact, %lld .. %lld cycles; net latency %.3f s, whole program %.3f s "
                  "per allocation\n", arch, cfg_path, window, block, f.net.n, f.net.n_v2 - f.net.n,
                  t_build, ALLOCS, (long long)lo, (long long)hi, t_net / ALLOCS, t_whole / ALLOCS);
    bq_costtab_free(&t);
    net_free(&f);
}

static void test_fres20_tiny(void **st) { (void)st; check_exact("fres20", "configs/hw/tiny.yaml", 8192, 256); }
static void test_fres20_edge(void **st) { (void)st; check_exact("fres20", "configs/hw/edge.yaml", 16384, 512); }
static void test_mbv2t_tiny(void **st) { (void)st; check_exact("mbv2t", "configs/hw/tiny.yaml", 24576, 256); }
static void test_mbv2t_edge(void **st) { (void)st; check_exact("mbv2t", "configs/hw/edge.yaml", 65536, 512); }

/* A v1 config (window_bytes 0) ignores the v2 view: the same table as a net without it. */
static void test_v1_unchanged(void **st) {
    (void)st;
    netfix f;
    net_build(&f, "fres20");
    bq_hw_net plain;
    char err[512] = "";
    assert_int_equal(bq_lower_hw_net(&plain, &f.q, err, sizeof err), 0);
    bq_hwcfg cfg;
    load_cfg(&cfg, "configs/hw/edge.yaml", 0, 0);
    assert_false(bq_hw_net_is_v2(&f.net, &cfg));
    bq_costtab a, b;
    assert_int_equal(bq_costtab_build(&a, &cfg, &f.net, err, sizeof err), 0);
    assert_int_equal(bq_costtab_build(&b, &cfg, &plain, err, sizeof err), 0);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.t, b.t, sizeof(int32_t) * 64 * (size_t)a.n);
    assert_memory_equal(a.o, b.o, sizeof(int32_t) * 8 * (size_t)a.n);
    assert_memory_equal(a.r, b.r, sizeof(int32_t) * 8 * (size_t)a.n);
    uint8_t wb[64], qb[64];
    memset(wb, 4, sizeof wb);
    memset(qb, 4, sizeof qb);
    bq_hw_net_apply(&f.net, wb, qb);
    bq_hw_net_apply(&plain, wb, qb);
    assert_int_equal(bq_hw_net_latency(&f.net, &cfg, NULL, err, sizeof err),
                     bq_hw_net_latency(&plain, &cfg, NULL, err, sizeof err));
    bq_costtab_free(&a);
    bq_costtab_free(&b);
    bq_hw_net_free(&plain);
    net_free(&f);
}

/* The search problem on the v2 table: its latency of an allocation == the exact v2 latency. */
static void test_search_problem(void **st) {
    (void)st;
    netfix f;
    net_build(&f, "mbv2t");
    bq_hwcfg cfg;
    load_cfg(&cfg, "configs/hw/tiny.yaml", 24576, 256);
    char err[512] = "";
    bq_costtab t;
    assert_int_equal(bq_costtab_build(&t, &cfg, &f.net, err, sizeof err), 0);
    bq_search_space sp;
    bq_search_space_default(&sp);
    bq_search_problem p;
    int rc = bq_search_from_qmodel(&p, &f.q, &t, cfg.clock_mhz, &sp, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    for (int i = 0; i < p.n_cands; i++) p.cands[i].sens = 0.0;
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), 0);
    const int nl = f.q.n_layers;
    int qbits[512];
    uint8_t wb[256], ab[256];
    assert_true(p.n_quants <= 512 && nl <= 256 && f.net.nq <= 256);
    const int uni[3][2] = {{8, 8}, {4, 4}, {2, 4}};
    for (int u = 0; u < 3; u++) {
        bq_search_uniform_bits(&p, uni[u][0], uni[u][1], qbits);
        for (int l = 0; l < nl; l++) wb[l] = (uint8_t)qbits[l];
        for (int a = 0; a < f.net.nq; a++) ab[a] = (uint8_t)qbits[nl + a];
        bq_hw_net_apply(&f.net, wb, ab);
        int64_t exact = bq_hw_net_latency(&f.net, &cfg, NULL, err, sizeof err);
        assert_int_equal(bq_search_total_cycles(&p, qbits), exact);
        assert_int_equal(bq_costtab_score(&t, wb, ab), exact);
        print_message("    mbv2t on tiny v2, search W%dA%d: %lld cycles\n", uni[u][0], uni[u][1],
                      (long long)exact);
    }
    bq_search_free(&p);
    bq_costtab_free(&t);
    net_free(&f);
}

/* A window too small: one line naming the layer and the key, and no table. */
static void test_refusal(void **st) {
    (void)st;
    netfix f;
    net_build(&f, "fres20");
    bq_hwcfg cfg;
    load_cfg(&cfg, "configs/hw/tiny.yaml", 2048, 256);
    char err[512] = "";
    bq_costtab t;
    assert_int_equal(bq_costtab_build(&t, &cfg, &f.net, err, sizeof err), -1);
    print_message("    refused: %s\n", err);
    assert_non_null(strstr(err, "layer 'gap'"));
    assert_non_null(strstr(err, "window_bytes"));
    assert_null(strchr(err, '\n'));
    assert_null(t.t);
    uint8_t wb[64], qb[64];
    memset(wb, 8, sizeof wb);
    memset(qb, 8, sizeof qb);
    bq_hw_net_apply(&f.net, wb, qb);
    assert_int_equal(bq_hw_net_latency(&f.net, &cfg, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "window_bytes"));
    net_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal),
        cmocka_unit_test(test_v1_unchanged),
        cmocka_unit_test(test_search_problem),
        cmocka_unit_test(test_fres20_tiny),
        cmocka_unit_test(test_fres20_edge),
        cmocka_unit_test(test_mbv2t_tiny),
        cmocka_unit_test(test_mbv2t_edge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
