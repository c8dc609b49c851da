/* test_search.c — mixed-precision search: problem decomposition, exact solver against brute force,
 * GA never better than exact, infeasible budgets, determinism, budget parsing. */
#include "testutil.h"
#include <string.h>
#include "core/rng.h"
#include "search/search.h"

#define OBJ_TOL 1e-9   /* relative tolerance between objectives summed in different orders */

static const int kBits4[4] = {2, 3, 4, 8};
static const int kBits8[1] = {8};

/* Random exec table, increasing in both bit-widths (like a real cost table). */
static void rand_tables(bq_rng *r, int64_t *exec, int64_t *write, int64_t *res) {
    int64_t base = 50 + bq_rng_below(r, 400);
    for (int w = 0; w < BQ_SEARCH_TB; w++)
        for (int a = 0; a < BQ_SEARCH_TB; a++)
            exec[w * BQ_SEARCH_TB + a] = base * (w * a + 1) / 4 + bq_rng_below(r, 20);
    for (int b = 0; b < BQ_SEARCH_TB; b++) {
        write[b] = (base / 8) * b + bq_rng_below(r, 5);
        res[b] = (base / 16) * b + bq_rng_below(r, 5);
    }
}

/* A chain of G blocks. Block g decides: its input activation quantizer (consumed by its first conv
 * and, every other block, by a shortcut conv), the weights of its convs. Block g's last conv writes
 * its output at block g+1's input bits (the write term travels to the consumer group). The first
 * block's input is the fixed 8-bit image; the last layer (a classifier) has fixed 8-bit weights.
 * `nbits` limits the allowed set to the first nbits of {2,3,4,8}; random sensitivities. */
static void make_chain(bq_search_problem *p, uint64_t seed, int G, int nbits, int full_product) {
    bq_rng r;
    bq_rng_seed(&r, seed);
    bq_search_init(p, 100.0);
    int64_t exec[BQ_SEARCH_TB * BQ_SEARCH_TB], write[BQ_SEARCH_TB], res[BQ_SEARCH_TB];
    int img = bq_search_add_quant(p, "image", BQ_SQ_ACT, -1, 1, kBits8, 0);
    assert_true(img >= 0);
    int in_q = img;
    int groups[64], in_of[64];
    for (int g = 0; g < G; g++) {
        char nm[32];
        snprintf(nm, sizeof nm, "b%d", g);
        groups[g] = bq_search_add_group(p, nm);
        assert_true(groups[g] >= 0);
        if (g > 0) {
            snprintf(nm, sizeof nm, "b%d.in", g);
            in_q = bq_search_add_quant(p, nm, BQ_SQ_ACT, groups[g], nbits, kBits4, 0);
            assert_true(in_q >= 0);
        }
        in_of[g] = in_q;
    }
    for (int g = 0; g < G; g++) {
        char nm[32];
        int nconv = 1 + (int)bq_rng_below(&r, 2);
        int prev_in = in_of[g];
        for (int c = 0; c < nconv; c++) {
            snprintf(nm, sizeof nm, "b%d.conv%d.w", g, c);
            int wq = bq_search_add_quant(p, nm, BQ_SQ_WEIGHT, groups[g], nbits, kBits4,
                                         100 + bq_rng_below(&r, 1000));
            assert_true(wq >= 0);
            int mid = -1;
            if (c + 1 < nconv) {
                snprintf(nm, sizeof nm, "b%d.mid%d", g, c);
                mid = bq_search_add_quant(p, nm, BQ_SQ_ACT, groups[g], nbits, kBits4, 0);
                assert_true(mid >= 0);
            }
            int out = mid >= 0 ? mid : (g + 1 < G ? in_of[g + 1] : -1);
            int resq = (c + 1 == nconv && (g % 2) == 1) ? in_of[g] : -1;
            rand_tables(&r, exec, write, res);
            snprintf(nm, sizeof nm, "b%d.conv%d", g, c);
            assert_true(bq_search_add_layer(p, nm, wq, prev_in, out, resq, exec, write, res) >= 0);
            prev_in = mid;
        }
        if (g % 2 == 1) {   /* a shortcut conv reading the same input quantizer */
            snprintf(nm, sizeof nm, "b%d.down.w", g);
            int wq = bq_search_add_quant(p, nm, BQ_SQ_WEIGHT, groups[g], nbits, kBits4, 64);
            rand_tables(&r, exec, write, res);
            snprintf(nm, sizeof nm, "b%d.down", g);
            assert_true(bq_search_add_layer(p, nm, wq, in_of[g], -1, -1, exec, write, NULL) >= 0);
        }
    }
    int fcw = bq_search_add_quant(p, "fc.w", BQ_SQ_WEIGHT, -1, 1, kBits8, 640);
    int fcin = bq_search_add_quant(p, "fc.in", BQ_SQ_ACT, -1, 1, kBits8, 0);
    rand_tables(&r, exec, write, res);
    assert_true(bq_search_add_layer(p, "fc", fcw, fcin, -1, -1, exec, NULL, NULL) >= 0);
    for (int g = 0; g < G; g++) {
        if (full_product) {
            assert_true(bq_search_enumerate(p, groups[g]) > 0);
        } else {   /* a random subset of configurations, as a sensitivity pass may measure */
            const bq_search_group *gr = &p->groups[groups[g]];
            int n = 1 + (int)bq_rng_below(&r, 6);
            for (int k = 0; k < n; k++) {
                int bits[BQ_SEARCH_GROUP_MAXQ];
                for (int i = 0; i < gr->n_q; i++) bits[i] = kBits4[bq_rng_below(&r, (uint32_t)nbits)];
                assert_true(bq_search_add_cand(p, groups[g], bits, NAN) >= 0);
            }
        }
    }
    /* sensitivities: random, larger at fewer bits on average, sometimes non-monotone */
    for (int i = 0; i < p->n_cands; i++) {
        double s = 0;
        for (int k = 0; k < p->groups[p->cands[i].group].n_q; k++)
            s += (1.0 + bq_rng_uniform(&r)) / (double)(p->cands[i].bits[k] * p->cands[i].bits[k]);
        p->cands[i].sens = s * (0.5 + bq_rng_uniform(&r));
    }
    char err[256] = "";
    int rc = bq_search_finalize(p, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

/* Brute force: the best feasible choice by enumerating every combination. Returns the objective
 * (INFINITY when none is feasible). */
static double brute(const bq_search_problem *p, const bq_search_budget *b) {
    int G = p->n_groups, ch[BQ_SEARCH_MAX_GROUPS] = {0};
    double best = INFINITY;
    for (;;) {
        double s;
        int64_t c, z;
        bq_search_eval(p, ch, &s, &c, &z);
        if (c <= b->max_cycles && (b->max_size_bits < 0 || z <= b->max_size_bits) && s < best)
            best = s;
        int g = 0;
        while (g < G && ++ch[g] == p->groups[g].n_cand) ch[g++] = 0;
        if (g == G) break;
    }
    return best;
}

static int64_t max_cycles(const bq_search_problem *p) {
    int64_t c = p->base_cycles;
    for (int g = 0; g < p->n_groups; g++) {
        int64_t m = 0;
        for (int i = 0; i < p->groups[g].n_cand; i++)
            if (bq_search_cand_of(p, g, i)->cycles > m) m = bq_search_cand_of(p, g, i)->cycles;
        c += m;
    }
    return c;
}

static void assert_feasible(const bq_search_problem *p, const bq_search_budget *b,
                            const bq_search_result *r) {
    double s;
    int64_t c, z;
    bq_search_eval(p, r->choice, &s, &c, &z);
    assert_true(c <= b->max_cycles);
    assert_true(c == r->cycles);
    assert_true(r->slack_cycles == b->max_cycles - c);
    if (b->max_size_bits >= 0) assert_true(z <= b->max_size_bits);
    assert_true(fabs(s - r->objective) <= OBJ_TOL * (fabs(s) + 1));
}

/* The group decomposition of the latency equals the direct per-layer sum, for random choices. */
static void test_decomposition(void **st) {
    (void)st;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        bq_search_problem p;
        make_chain(&p, seed, 5, 4, seed % 2);
        bq_rng r;
        bq_rng_seed(&r, seed + 100);
        int ch[BQ_SEARCH_MAX_GROUPS], qb[512];
        assert_true(p.n_quants < 512);
        for (int t = 0; t < 50; t++) {
            for (int g = 0; g < p.n_groups; g++) ch[g] = (int)bq_rng_below(&r, (uint32_t)p.groups[g].n_cand);
            int64_t c, z;
            bq_search_eval(&p, ch, NULL, &c, &z);
            bq_search_choice_bits(&p, ch, qb);
            assert_true(c == bq_search_total_cycles(&p, qb));
            assert_true(z == bq_search_total_size(&p, qb));
            int back[BQ_SEARCH_MAX_GROUPS];
            assert_int_equal(bq_search_choice_from_bits(&p, qb, back), 0);
            int64_t c2;
            bq_search_eval(&p, back, NULL, &c2, NULL);   /* duplicates allowed: same bits, same cost */
            assert_true(c2 == c);
        }
        bq_search_free(&p);
    }
}

/* A hand-built case: the shared block-output quantizer is one variable, and the producer's
 * output-write cost is charged to the consumer group. */
static void test_shared_quantizer_hand(void **st) {
    (void)st;
    bq_search_problem p;
    bq_search_init(&p, 100.0);
    int g0 = bq_search_add_group(&p, "b0"), g1 = bq_search_add_group(&p, "b1");
    const int two[2] = {2, 4};
    int img = bq_search_add_quant(&p, "img", BQ_SQ_ACT, -1, 1, kBits8, 0);
    int w0 = bq_search_add_quant(&p, "b0.w", BQ_SQ_WEIGHT, g0, 2, two, 10);
    int x1 = bq_search_add_quant(&p, "b1.in", BQ_SQ_ACT, g1, 2, two, 0);  /* shared by conv + down */
    int w1 = bq_search_add_quant(&p, "b1.w", BQ_SQ_WEIGHT, g1, 2, two, 20);
    int wd = bq_search_add_quant(&p, "b1.down.w", BQ_SQ_WEIGHT, -1, 1, kBits8, 5);
    int64_t e0[81] = {0}, e1[81] = {0}, ed[81] = {0}, wr0[9] = {0};
    e0[2 * 9 + 8] = 100; e0[4 * 9 + 8] = 200;             /* b0 conv: W2 or W4 on the 8-bit image */
    wr0[2] = 7; wr0[4] = 13;                               /* writing b0's output at b1.in bits */
    e1[2 * 9 + 2] = 1000; e1[2 * 9 + 4] = 2000; e1[4 * 9 + 2] = 3000; e1[4 * 9 + 4] = 4000;
    ed[8 * 9 + 2] = 30; ed[8 * 9 + 4] = 50;                /* the 8-bit shortcut conv reads b1.in */
    assert_true(bq_search_add_layer(&p, "b0.conv", w0, img, x1, -1, e0, wr0, NULL) >= 0);
    assert_true(bq_search_add_layer(&p, "b1.conv", w1, x1, -1, -1, e1, NULL, NULL) >= 0);
    assert_true(bq_search_add_layer(&p, "b1.down", wd, x1, -1, -1, ed, NULL, NULL) >= 0);
    assert_int_equal(bq_search_enumerate(&p, g0), 2);
    assert_int_equal(bq_search_enumerate(&p, g1), 4);   /* (b1.in, b1.w): x1 decided once */
    for (int i = 0; i < p.n_cands; i++) p.cands[i].sens = 1.0;
    char err[256];
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), 0);
    assert_true(p.groups[g1].n_q == 2 && p.groups[g1].q[0] == x1 && p.groups[g1].q[1] == w1);
    assert_true(p.base_cycles == 0 && p.base_size_bits == 40);
    /* group 0: only its conv at W2 / W4 */
    assert_true(bq_search_cand_of(&p, g0, 0)->cycles == 100);
    assert_true(bq_search_cand_of(&p, g0, 1)->cycles == 200);
    assert_true(bq_search_cand_of(&p, g0, 1)->size_bits == 40);
    /* group 1, candidate (x1=2, w1=4): conv W4A2 3000 + down A2 30 + b0's write at 2 bits 7 */
    assert_true(bq_search_cand_of(&p, g1, 1)->bits[0] == 2 && bq_search_cand_of(&p, g1, 1)->bits[1] == 4);
    assert_true(bq_search_cand_of(&p, g1, 1)->cycles == 3000 + 30 + 7);
    assert_true(bq_search_cand_of(&p, g1, 2)->cycles == 2000 + 50 + 13);   /* (4, 2) */
    assert_true(bq_search_cand_of(&p, g1, 2)->size_bits == 40);
    assert_true(bq_search_min_cycles(&p) == 100 + 1000 + 30 + 7);
    bq_search_free(&p);
}

/* A latency term that depends on two groups' quantizers is rejected with a fix in the message. */
static void test_coupled_term_rejected(void **st) {
    (void)st;
    bq_search_problem p;
    bq_search_init(&p, 100.0);
    int g0 = bq_search_add_group(&p, "b0"), g1 = bq_search_add_group(&p, "b1");
    int x = bq_search_add_quant(&p, "b0.x", BQ_SQ_ACT, g0, 4, kBits4, 0);
    int w = bq_search_add_quant(&p, "b1.w", BQ_SQ_WEIGHT, g1, 4, kBits4, 9);
    int64_t e[81] = {0};
    assert_true(bq_search_add_layer(&p, "b1.conv", w, x, -1, -1, e, NULL, NULL) >= 0);
    bq_search_enumerate(&p, g0);
    bq_search_enumerate(&p, g1);
    for (int i = 0; i < p.n_cands; i++) p.cands[i].sens = 0;
    char err[512] = "";
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), -1);
    assert_non_null(strstr(err, "layer 'b1.conv'"));
    assert_non_null(strstr(err, "merge"));
    bq_search_free(&p);
}

static void test_missing_sens_rejected(void **st) {
    (void)st;
    bq_search_problem p;
    bq_search_init(&p, 100.0);
    int g0 = bq_search_add_group(&p, "b0");
    int img = bq_search_add_quant(&p, "img", BQ_SQ_ACT, -1, 1, kBits8, 0);
    int w = bq_search_add_quant(&p, "w", BQ_SQ_WEIGHT, g0, 4, kBits4, 9);
    int64_t e[81] = {0};
    bq_search_add_layer(&p, "conv", w, img, -1, -1, e, NULL, NULL);
    bq_search_enumerate(&p, g0);
    char err[256] = "";
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), 0);   /* prices; sens may come later */
    bq_search_budget b = {1000, -1};
    bq_search_result r;
    assert_int_equal(bq_search_check_budget(&p, &b, err, sizeof err), 0);
    assert_int_equal(bq_search_exact(&p, &b, NULL, 0, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "sensitivity"));
    bq_ga_params gp;
    bq_ga_params_default(&gp);
    err[0] = 0;
    assert_int_equal(bq_search_ga(&p, &b, &gp, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "sensitivity"));
    /* no candidates after finalize */
    assert_int_equal(bq_search_add_cand(&p, g0, (int[]){4}, 1.0), -1);
    bq_search_free(&p);
}

/* sensitivity callback: sens = sum of 1/bits, so the test can check what it was given */
static int sens_cb(void *ctx, const bq_search_problem *p, int g, int n,
                   const bq_search_cand *const *cands, double *sens, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    int *calls = ctx;
    (*calls)++;
    for (int i = 0; i < n; i++) {
        assert_int_equal(cands[i]->group, g);
        sens[i] = 0;
        for (int k = 0; k < p->groups[g].n_q; k++) sens[i] += 1.0 / cands[i]->bits[k];
    }
    return 0;
}

static void test_fill_sens(void **st) {
    (void)st;
    bq_search_problem p;
    bq_search_init(&p, 100.0);
    int g0 = bq_search_add_group(&p, "b0"), g1 = bq_search_add_group(&p, "b1");
    int img = bq_search_add_quant(&p, "img", BQ_SQ_ACT, -1, 1, kBits8, 0);
    int w0 = bq_search_add_quant(&p, "w0", BQ_SQ_WEIGHT, g0, 4, kBits4, 9);
    int x1 = bq_search_add_quant(&p, "x1", BQ_SQ_ACT, g1, 4, kBits4, 0);
    int w1 = bq_search_add_quant(&p, "w1", BQ_SQ_WEIGHT, g1, 4, kBits4, 9);
    int64_t e[81] = {0};
    bq_search_add_layer(&p, "c0", w0, img, x1, -1, e, NULL, NULL);
    bq_search_add_layer(&p, "c1", w1, x1, -1, -1, e, NULL, NULL);
    bq_search_enumerate(&p, g0);
    bq_search_enumerate(&p, g1);
    int calls = 0;
    char err[256];
    assert_int_equal(bq_search_add_cand(&p, g0, (int[]){5}, 1.0), -1);   /* 5 not allowed */
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), 0);
    assert_int_equal(bq_search_fill_sens(&p, sens_cb, &calls, err, sizeof err), 0);
    assert_int_equal(calls, 2);
    const bq_search_cand *c = bq_search_cand_of(&p, g1, 15);   /* (8, 8), last of the product */
    assert_true(c->bits[0] == 8 && c->bits[1] == 8);
    assert_true(fabs(c->sens - 0.25) < 1e-15);
    bq_search_free(&p);
}

/* Exact solver equals brute force; the GA is feasible and never better than exact. */
static void run_vs_brute(int use_size, int full_product, int nbits, int n_inst) {
    int n_ga_opt = 0, n_run = 0;
    for (int inst = 0; inst < n_inst; inst++) {
        bq_search_problem p;
        uint64_t seed = 1000 + (uint64_t)inst * 7 + (uint64_t)use_size * 100000 + (uint64_t)full_product * 7777;
        make_chain(&p, seed, 2 + inst % (full_product ? 2 : 3), nbits, full_product);
        int64_t lo = bq_search_min_cycles(&p), hi = max_cycles(&p);
        bq_rng r;
        bq_rng_seed(&r, seed);
        for (int k = 0; k < 4; k++) {
            bq_search_budget b = {lo + (int64_t)((double)(hi - lo) * bq_rng_uniform(&r)), -1};
            if (use_size) {
                int64_t zlo = bq_search_min_size(&p);
                b.max_size_bits = zlo + (int64_t)(bq_rng_uniform(&r) * (double)zlo);
            }
            double want = brute(&p, &b);
            bq_search_result ex, ga;
            char err[256] = "";
            int rc = bq_search_exact(&p, &b, NULL, 0, &ex, err, sizeof err);
            if (!isfinite(want)) {   /* possible only with the size budget */
                assert_int_equal(rc, -1);
                continue;
            }
            if (rc) print_error("%s\n", err);
            assert_int_equal(rc, 0);
            assert_feasible(&p, &b, &ex);
            if (fabs(ex.objective - want) > OBJ_TOL * (fabs(want) + 1)) {
                print_error("inst %d: exact %.17g brute %.17g\n", inst, ex.objective, want);
                fail();
            }
            bq_ga_params gp;
            bq_ga_params_default(&gp);
            gp.generations = 30;
            gp.seed = seed;
            rc = bq_search_ga(&p, &b, &gp, &ga, err, sizeof err);
            if (rc == 0) {
                assert_feasible(&p, &b, &ga);
                assert_true(ga.objective >= ex.objective - OBJ_TOL * (fabs(want) + 1));
                n_ga_opt += ga.objective <= ex.objective + OBJ_TOL * (fabs(want) + 1);
            } else {
                assert_true(use_size);   /* greedy repair can fail only with two budgets */
            }
            n_run++;
        }
        bq_search_free(&p);
    }
    print_message("  %d instances, GA optimal on %d\n", n_run, n_ga_opt);
    assert_true(n_run > n_inst);
}

static void test_exact_vs_brute(void **st) {
    (void)st;
    run_vs_brute(0, 1, 2, 40);   /* full products of {2,3} */
    run_vs_brute(0, 0, 4, 60);   /* random candidate subsets of {2,3,4,8} */
}

static void test_exact_vs_brute_size(void **st) {
    (void)st;
    run_vs_brute(1, 1, 2, 40);
    run_vs_brute(1, 0, 4, 60);
}

/* On a larger instance (no brute force possible) the GA is still never better than exact, and
 * passing the GA's answer as incumbent does not change the exact optimum. */
static void test_ga_vs_exact_larger(void **st) {
    (void)st;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        bq_search_problem p;
        make_chain(&p, seed * 31, 8, 4, 1);
        int64_t lo = bq_search_min_cycles(&p), hi = max_cycles(&p);
        bq_search_budget b = {lo + (hi - lo) / (int64_t)(2 + seed % 3), seed % 2 ? -1 : 0};
        if (b.max_size_bits == 0) b.max_size_bits = bq_search_min_size(&p) * 2;
        bq_search_result ex, ex2, ga;
        bq_ga_params gp;
        bq_ga_params_default(&gp);
        gp.seed = seed;
        char err[256] = "";
        int rc = bq_search_ga(&p, &b, &gp, &ga, err, sizeof err);
        if (rc) print_error("%s\n", err);
        assert_int_equal(rc, 0);
        assert_int_equal(bq_search_exact(&p, &b, NULL, 0, &ex, err, sizeof err), 0);
        assert_int_equal(bq_search_exact(&p, &b, ga.choice, 0, &ex2, err, sizeof err), 0);
        assert_feasible(&p, &b, &ga);
        assert_feasible(&p, &b, &ex);
        assert_true(ga.objective >= ex.objective - OBJ_TOL * (fabs(ex.objective) + 1));
        assert_true(fabs(ex2.objective - ex.objective) <= OBJ_TOL * (fabs(ex.objective) + 1));
        bq_search_free(&p);
    }
}

static void test_infeasible_budget(void **st) {
    (void)st;
    bq_search_problem p;
    make_chain(&p, 77, 4, 4, 1);
    int64_t lo = bq_search_min_cycles(&p);
    char want[64], err[512] = "";
    snprintf(want, sizeof want, "smallest feasible budget is %lld cycles", (long long)lo);
    bq_search_budget b = {lo - 1, -1};
    bq_search_result r;
    bq_ga_params gp;
    bq_ga_params_default(&gp);
    assert_int_equal(bq_search_exact(&p, &b, NULL, 0, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, want));
    err[0] = 0;
    assert_int_equal(bq_search_ga(&p, &b, &gp, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, want));
    assert_int_equal(bq_search_check_budget(&p, &b, err, sizeof err), -1);
    /* exactly the minimum is feasible, with zero slack */
    b.max_cycles = lo;
    assert_int_equal(bq_search_exact(&p, &b, NULL, 0, &r, err, sizeof err), 0);
    assert_true(r.slack_cycles == 0);
    assert_int_equal(bq_search_ga(&p, &b, &gp, &r, err, sizeof err), 0);
    assert_true(r.slack_cycles == 0);
    /* size budget below the minimum size */
    b.max_size_bits = bq_search_min_size(&p) - 1;
    b.max_cycles = lo * 10;
    assert_int_equal(bq_search_exact(&p, &b, NULL, 0, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "smallest feasible size budget"));
    bq_search_free(&p);
}

static void test_ga_deterministic(void **st) {
    (void)st;
    bq_search_problem p;
    make_chain(&p, 5, 8, 4, 1);
    int64_t lo = bq_search_min_cycles(&p), hi = max_cycles(&p);
    bq_search_budget b = {(lo + hi) / 3, -1};
    bq_ga_params gp;
    bq_ga_params_default(&gp);
    gp.seed = 42;
    bq_search_result r1, r2;
    char err[256];
    assert_int_equal(bq_search_ga(&p, &b, &gp, &r1, err, sizeof err), 0);
    assert_int_equal(bq_search_ga(&p, &b, &gp, &r2, err, sizeof err), 0);
    assert_memory_equal(r1.choice, r2.choice, sizeof(int) * (size_t)p.n_groups);
    assert_true(r1.objective == r2.objective && r1.work == r2.work);
    bq_search_free(&p);
}

static void test_exact_state_limit(void **st) {
    (void)st;
    bq_search_problem p;
    make_chain(&p, 9, 8, 4, 1);
    int64_t lo = bq_search_min_cycles(&p), hi = max_cycles(&p);
    bq_search_budget b = {(lo + hi) / 2, -1};
    bq_search_result r;
    char err[256] = "";
    assert_int_equal(bq_search_exact(&p, &b, NULL, 3, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "partial solutions"));
    bq_search_free(&p);
}

static void test_budget_parse(void **st) {
    (void)st;
    int64_t c = -1;
    char err[256];
    assert_int_equal(bq_budget_parse("0.35x", 100, 20000, &c, err, sizeof err), 0);
    assert_true(c == 7000);
    assert_int_equal(bq_budget_parse("12000cyc", 100, 0, &c, err, sizeof err), 0);
    assert_true(c == 12000);
    assert_int_equal(bq_budget_parse("12000 cycles", 100, 0, &c, err, sizeof err), 0);
    assert_true(c == 12000);
    assert_int_equal(bq_budget_parse("12000", 100, 0, &c, err, sizeof err), 0);
    assert_true(c == 12000);
    assert_int_equal(bq_budget_parse("85us", 100, 0, &c, err, sizeof err), 0);
    assert_true(c == 8500);
    assert_int_equal(bq_budget_parse("85.009us", 100, 0, &c, err, sizeof err), 0);
    assert_true(c == 8500);   /* rounded down: 8500.9 cycles allows 8500 */
    assert_int_equal(bq_budget_parse("1.5ms", 50, 0, &c, err, sizeof err), 0);
    assert_true(c == 75000);
    assert_int_equal(bq_budget_parse("1x", 100, 123457, &c, err, sizeof err), 0);
    assert_true(c == 123457);
    assert_int_equal(bq_budget_parse("0.1x", 100, 30, &c, err, sizeof err), 0);
    assert_true(c == 3);
    assert_int_equal(bq_budget_parse("abc", 100, 1, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "budget 'abc'"));
    assert_int_equal(bq_budget_parse("12furlongs", 100, 1, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown unit"));
    assert_int_equal(bq_budget_parse("-5cyc", 100, 1, &c, err, sizeof err), -1);
    assert_int_equal(bq_budget_parse("0.5x", 100, 0, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "W8A8"));
    assert_int_equal(bq_budget_parse("", 100, 0, &c, err, sizeof err), -1);
    assert_int_equal(bq_budget_parse("5us", 0, 0, &c, err, sizeof err), -1);
}

/* bits.yaml and the JSON report of a hand-built problem. */
static void test_outputs(void **st) {
    (void)st;
    bq_search_problem p;
    bq_search_init(&p, 100.0);
    int g0 = bq_search_add_group(&p, "b0");
    const int two[2] = {2, 4};
    int img = bq_search_add_quant(&p, "img", BQ_SQ_ACT, -1, 1, kBits8, 0);
    int w0 = bq_search_add_quant(&p, "c0.w", BQ_SQ_WEIGHT, g0, 2, two, 10);
    int x1 = bq_search_add_quant(&p, "c0.out", BQ_SQ_ACT, g0, 2, two, 0);
    int w1 = bq_search_add_quant(&p, "c1.w", BQ_SQ_WEIGHT, g0, 2, two, 10);
    int64_t e[81] = {0};
    for (int i = 0; i < 81; i++) e[i] = 10 * i;
    bq_search_add_layer(&p, "c0", w0, img, x1, -1, e, NULL, NULL);
    bq_search_add_layer(&p, "c1", w1, x1, -1, -1, e, NULL, NULL);
    bq_search_enumerate(&p, g0);
    for (int i = 0; i < p.n_cands; i++) p.cands[i].sens = 8.0 - i;   /* (4,4,4) is the best */
    char err[256];
    assert_int_equal(bq_search_finalize(&p, err, sizeof err), 0);
    bq_search_budget b = {10000, -1};
    bq_search_result ex;
    assert_int_equal(bq_search_exact(&p, &b, NULL, 0, &ex, err, sizeof err), 0);
    int qb[8];
    bq_search_choice_bits(&p, ex.choice, qb);
    assert_int_equal(qb[w0], 4);
    assert_int_equal(qb[x1], 4);
    bq_buf y = {0};
    bq_search_bits_yaml(&p, qb, "test", &y);
    bq_buf_put(&y, "", 1);
    assert_false(y.oom);
    assert_string_equal((char *)y.data, "# test\n\"c0\": {wbits: 4, abits: 8}\n"
                                        "\"c1\": {wbits: 4, abits: 4}\n");
    bq_buf_free(&y);
    bq_buf j = {0};
    bq_search_report_json(&p, &b, NULL, &ex, &ex, &j);
    bq_buf_put(&j, "", 1);
    const char *js = (const char *)j.data;
    assert_non_null(strstr(js, "\"budget_cycles\": 10000"));
    assert_non_null(strstr(js, "\"exact\": {\"objective\": 1,"));
    assert_non_null(strstr(js, "\"solver\": \"exact\""));
    /* c1 at W4A4: exec[4][4] = 10*(4*9+4) */
    assert_non_null(strstr(js, "{\"name\": \"c1\", \"wbits\": 4, \"abits\": 4, \"obits\": 0, \"cycles\": 400}"));
    assert_non_null(strstr(js, "\"bits\": {\"c0.w\": 4, \"c0.out\": 4, \"c1.w\": 4}"));
    bq_buf_free(&j);
    bq_search_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decomposition),
        cmocka_unit_test(test_shared_quantizer_hand),
        cmocka_unit_test(test_coupled_term_rejected),
        cmocka_unit_test(test_missing_sens_rejected),
        cmocka_unit_test(test_fill_sens),
        cmocka_unit_test(test_exact_vs_brute),
        cmocka_unit_test(test_exact_vs_brute_size),
        cmocka_unit_test(test_ga_vs_exact_larger),
        cmocka_unit_test(test_infeasible_budget),
        cmocka_unit_test(test_ga_deterministic),
        cmocka_unit_test(test_exact_state_limit),
        cmocka_unit_test(test_budget_parse),
        cmocka_unit_test(test_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
