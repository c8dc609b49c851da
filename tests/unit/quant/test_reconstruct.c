/*
 * test_reconstruct.c — the BRECQ engine (sw/quant/reconstruct.h) on a tiny residual network with random
 * weights and synthetic 12x12 images (fast under ASan):
 *   - a unit's forward (on its range executor, nn/exec.h) is the shared fake-quant (fakequant.h)
 *     bit for bit, with the activation quantizers on and off (both implement docs/numerics.md);
 *   - reconstruction measurably beats round-to-nearest at 2-bit weights: the logit error against
 *     the float network on held-out images falls by a clear factor (MSE and Fisher losses);
 *   - a run killed after some units and resumed from its run directory ends byte-identical to an
 *     uninterrupted run, which is itself identical to a run without checkpoints (same seed);
 *   - data-parallel (dp_shards, docs/mpi_recon.md): R simulated ranks (threads exchanging their
 *     gradient records through a fake allgather) end with the same bytes as one process, for
 *     R = 2 and 4; a failing exchange and R not dividing dp_shards are clean errors;
 *   - bad input: calibration smaller than the batch, zeta/gamma the engine does not implement.
 */
#include "testutil.h"

#include <math.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

#include "nn/exec.h"
#include "quant/fakequant.h"
#include "nn/graph.h"
#include "quant/dp_reduce.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"
#include "quant/reconstruct.h"

#define RTN_GAIN     0.7    /* reconstruction must cut the RTN logit error to at most this */
#define FWD_TOL      0.0    /* unit forward vs fake-quant: identical */

enum { HW = 12, NTRAIN = 384, NEVAL = 128 };

/* input(1,12,12) -> stem conv 8 + BN + ReLU -> block A (8 ch) -> block B (16 ch, stride 2,
 * 1x1 downsample) -> GAP -> linear 10. BN statistics randomised so folding is not trivial. */
static void build_tiny(bq_model *m) {
    bq_model_init(m, "tiny", 1, HW, HW, 10);
    int x = bq_add_input(m);
    x = bq_add_conv(m, "stem", x, 8, 3, 1, 1, 1, 0);
    x = bq_add_bn(m, "stem_bn", x);
    x = bq_add_act(m, "stem_relu", BQ_OP_RELU, x);
    for (int b = 0; b < 2; b++) {
        char nm[32];
        int cout = b ? 16 : 8, stride = b ? 2 : 1;
        snprintf(nm, sizeof nm, "b%d", b);
        bq_block_begin(m, nm, x);
        snprintf(nm, sizeof nm, "b%d_conv1", b);
        int y = bq_add_conv(m, nm, x, cout, 3, stride, 1, 1, 0);
        snprintf(nm, sizeof nm, "b%d_bn1", b);
        y = bq_add_bn(m, nm, y);
        snprintf(nm, sizeof nm, "b%d_relu1", b);
        y = bq_add_act(m, nm, BQ_OP_RELU, y);
        snprintf(nm, sizeof nm, "b%d_conv2", b);
        y = bq_add_conv(m, nm, y, cout, 3, 1, 1, 1, 0);
        snprintf(nm, sizeof nm, "b%d_bn2", b);
        y = bq_add_bn(m, nm, y);
        int sc = x;
        if (b) {
            sc = bq_add_conv(m, "b1_down", x, cout, 1, stride, 0, 1, 0);
            sc = bq_add_bn(m, "b1_down_bn", sc);
        }
        snprintf(nm, sizeof nm, "b%d_add", b);
        y = bq_add_add(m, nm, y, sc);
        snprintf(nm, sizeof nm, "b%d_relu", b);
        x = bq_add_act(m, nm, BQ_OP_RELU, y);
        bq_block_end(m);
    }
    x = bq_add_gap(m, "gap", x);
    x = bq_add_linear(m, "fc", x, 10, 1);
    assert_true(x > 0);
    assert_int_equal(bq_model_finalize(m, 7), 0);
    uint64_t s = 3;
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *nd = &m->nodes[i];
        if (nd->kind != BQ_OP_BN) continue;
        for (int c = 0; c < nd->c; c++) {
            bq_param_data(m, nd->p_gamma)[c] = 0.8f + 0.4f * (tu_randf(&s) + 1.0f) / 2.0f;
            bq_param_data(m, nd->p_beta)[c] = 0.1f * tu_randf(&s);
            bq_param_data(m, nd->p_rmean)[c] = 0.1f * tu_randf(&s);
            bq_param_data(m, nd->p_rvar)[c] = 0.8f + 0.4f * (tu_randf(&s) + 1.0f) / 2.0f;
        }
    }
}

/* Synthetic images: smooth blobs plus noise, so neighbouring pixels correlate like real ones. */
static void make_data(bq_dataset *d, int n, uint64_t seed) {
    memset(d, 0, sizeof *d);   /* no dataset-YAML state (priv, cache map, per-channel stats) */
    d->n = n; d->c = 1; d->h = HW; d->w = HW;
    d->pixels = malloc((size_t)n * HW * HW);
    d->labels = malloc((size_t)n * sizeof *d->labels);
    assert_non_null(d->pixels);
    assert_non_null(d->labels);
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        float cx = 6 + 4 * tu_randf(&s), cy = 6 + 4 * tu_randf(&s), r = 3 + 2 * tu_randf(&s);
        for (int y = 0; y < HW; y++)
            for (int x = 0; x < HW; x++) {
                float d2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r);
                float v = 200.0f * expf(-d2) + 30.0f * (tu_randf(&s) + 1.0f);
                d->pixels[(size_t)i * HW * HW + y * HW + x] = (uint8_t)(v > 255 ? 255 : v);
            }
        d->labels[i] = (uint8_t)(i % 10);
    }
}

static void recipe_of(bq_recipe *r, const char *text) {
    char err[256];
    int rc = bq_recipe_parse(r, text, strlen(text), "test.yaml", err, sizeof err);
    if (rc) printf("recipe: %s\n", err);
    assert_int_equal(rc, 0);
}

static void qmodel_of(bq_qmodel *q, const bq_model *fp, const bq_recipe *r) {
    char err[256];
    bq_qmodel_opts o = {r->wbits, r->abits, r->first_last_8bit};
    int rc = bq_qmodel_init(q, fp, &o, err, sizeof err);
    if (rc) printf("qmodel: %s\n", err);
    assert_int_equal(rc, 0);
    bq_qmodel_init_weights(q, r->p);
}

/* Mean squared logit error of q against the float model fp on images [0, NEVAL) of d. */
static double logit_err(bq_qmodel *q, const bq_model *fp, const bq_dataset *d) {
    bq_fq fq;
    bq_exec eq, ef;
    assert_int_equal(bq_fq_init(&fq, q, NEVAL, 0), 0);
    assert_int_equal(bq_exec_init(&eq, &fq.net, NEVAL, 0), 0);
    assert_int_equal(bq_exec_init(&ef, fp, NEVAL, 0), 0);
    bq_fq_bind(&fq, &eq);
    float *x = malloc(sizeof(float) * NEVAL * HW * HW);
    int idx[NEVAL];
    for (int i = 0; i < NEVAL; i++) idx[i] = i;
    bq_dataset_batch(d, idx, NEVAL, x, NULL, fp->in_mean, fp->in_std, NULL);
    bq_exec_forward(&eq, &fq.net, x, NEVAL, 0);
    bq_exec_forward(&ef, fp, x, NEVAL, 0);
    const float *a = eq.act[bq_model_output(&fq.net)], *b = ef.act[bq_model_output(fp)];
    double e = 0.0;
    for (int i = 0; i < NEVAL * 10; i++) e += (double)(a[i] - b[i]) * (a[i] - b[i]);
    free(x);
    bq_exec_free(&eq);
    bq_exec_free(&ef);
    bq_fq_free(&fq);
    return e / NEVAL;
}

static void test_unit_forward_matches_fakequant(void **st) {
    (void)st;
    bq_model fp;
    build_tiny(&fp);
    bq_dataset d;
    make_data(&d, NTRAIN, 1);
    bq_recipe r;
    recipe_of(&r, "method: rtn\nwbits: 3\nabits: 3\ncalib: 64\n");
    bq_qmodel q;
    qmodel_of(&q, &fp, &r);
    char err[256];
    assert_int_equal(bq_reconstruct(&q, &fp, &r, &d, NULL, err, sizeof err), 0);   /* act init */
    enum { N = 8 };
    float *x = malloc(sizeof(float) * N * HW * HW);
    int idx[N];
    for (int i = 0; i < N; i++) idx[i] = 100 + i;
    bq_dataset_batch(&d, idx, N, x, NULL, fp.in_mean, fp.in_std, NULL);
    int units = bq_recon_num_units(&q, BQ_METHOD_BRECQ);
    assert_int_equal(units, 3);   /* two blocks + the classifier */
    for (int act = 0; act <= 1; act++) {
        bq_fq fq;
        bq_exec ex;
        assert_int_equal(bq_fq_init(&fq, &q, N, 0), 0);
        assert_int_equal(bq_exec_init(&ex, &fq.net, N, 0), 0);
        bq_fq_bind(&fq, &ex);
        fq.act_on = act;
        bq_fq_sync(&fq);
        bq_exec_forward(&ex, &fq.net, x, N, 0);
        for (int u = 0; u < units; u++) {
            int in, out;
            float buf[N * 8 * HW * HW];
            /* the unit's input node: a first call on the network input tells it */
            static float zin[N * 8 * HW * HW];
            assert_int_equal(bq_recon_unit_forward(&q, u, act, zin, 1, buf, &in, &out, err,
                                                   sizeof err), 0);
            assert_int_equal(bq_recon_unit_forward(&q, u, act, ex.act[in], N, buf, &in, &out, err,
                                                   sizeof err), 0);
            size_t cnt = (size_t)N * bq_node_size(&q.model.nodes[out]);
            double worst = 0.0;
            for (size_t i = 0; i < cnt; i++) {
                double e = fabs((double)buf[i] - ex.act[out][i]);
                if (e > worst) worst = e;
            }
            printf("unit %d act %d: unit forward vs fake-quant max |diff| %.3g over %zu values\n", u, act,
                   worst, cnt);
            assert_true(worst <= FWD_TOL);
        }
        bq_exec_free(&ex);
        bq_fq_free(&fq);
    }
    free(x);
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
}

static void beats_rtn(const char *loss) {
    bq_model fp;
    build_tiny(&fp);
    bq_dataset d;
    make_data(&d, NTRAIN, 2);
    char text[256];
    snprintf(text, sizeof text, "method: brecq\nloss: %s\nwbits: 2\nabits: 32\ncalib: 128\n"
             "batch: 16\niters: 250\nact_iters: 0\n", loss);
    bq_recipe r;
    recipe_of(&r, text);
    bq_qmodel q;
    qmodel_of(&q, &fp, &r);
    double e_rtn = logit_err(&q, &fp, &d);
    char err[256];
    bq_recon_stats stats;
    int rc = bq_reconstruct_ex(&q, &fp, &r, &d, NULL, 0, &stats, err, sizeof err);
    if (rc) printf("%s\n", err);
    assert_int_equal(rc, 0);
    double e_rec = logit_err(&q, &fp, &d);
    printf("W2A32 %s: logit MSE RTN %.4f -> BRECQ %.4f (%ld iterations, %.1fs)\n", loss, e_rtn,
           e_rec, stats.iterations, stats.seconds);
    assert_true(stats.iterations == 3 * 250);
    assert_true(e_rec < RTN_GAIN * e_rtn);
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
}
static void test_beats_rtn_mse(void **st) { (void)st; beats_rtn("mse"); }
static void test_beats_rtn_fisher(void **st) { (void)st; beats_rtn("fisher"); }

/* Everything a run decides: codes and quantizers. */
static size_t state_bytes(const bq_qmodel *q, unsigned char **out) {
    size_t n = 0;
    for (int l = 0; l < q->n_layers; l++) n += (size_t)q->layers[l].cout * q->layers[l].per_out;
    n += (size_t)q->n_aq * 8;
    unsigned char *b = malloc(n), *p = b;
    for (int l = 0; l < q->n_layers; l++) {
        size_t k = (size_t)q->layers[l].cout * q->layers[l].per_out;
        memcpy(p, q->layers[l].codes, k);
        p += k;
    }
    for (int a = 0; a < q->n_aq; a++) {
        memcpy(p, &q->aq[a].scale, 4);
        memcpy(p + 4, &q->aq[a].zero, 4);
        p += 8;
    }
    *out = b;
    return n;
}

static void run_to_state(const char *recipe, const char *dir, int max_units, int expect_rc,
                         unsigned char **state, size_t *len, bq_recon_stats *stats) {
    bq_model fp;
    build_tiny(&fp);
    bq_dataset d;
    make_data(&d, NTRAIN, 3);
    bq_recipe r;
    recipe_of(&r, recipe);
    bq_qmodel q;
    qmodel_of(&q, &fp, &r);
    char err[256];
    int rc = bq_reconstruct_ex(&q, &fp, &r, &d, dir, max_units, stats, err, sizeof err);
    if (rc < 0) printf("%s\n", err);
    assert_int_equal(rc, expect_rc);
    if (state) *len = state_bytes(&q, state);
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
}

static void resume_case(const char *recipe, int kill_after) {
    char d1[64], d2[64];
    snprintf(d1, sizeof d1, "/tmp/bq_test_recon_%d_a", (int)getpid());
    snprintf(d2, sizeof d2, "/tmp/bq_test_recon_%d_b", (int)getpid());
    unsigned char *s0, *s1, *s2;
    size_t n0, n1, n2;
    bq_recon_stats st1 = {0}, st_killed = {0}, st2 = {0};
    run_to_state(recipe, NULL, 0, 0, &s0, &n0, NULL);
    run_to_state(recipe, d1, 0, 0, &s1, &n1, &st1);
    run_to_state(recipe, d2, kill_after, 1, NULL, NULL, &st_killed);   /* "killed" after kill_after units */
    run_to_state(recipe, d2, 0, 0, &s2, &n2, &st2);                    /* resumed */
    /* the resumed run knows the wall time its killed predecessor spent up to its checkpoint, so a
     * report can give the time of the whole job */
    assert_true(st1.prior_seconds == 0.0);
    assert_true(st_killed.prior_seconds == 0.0);
    assert_true(st2.prior_seconds > 0.0);
    assert_true(st2.prior_seconds <= st_killed.seconds + 1e-6);
    /* ... and the peak RSS of the killed run (this test runs them in one process, so at most ours) */
    assert_true(st1.prior_rss_mb == 0.0);
    assert_true(st2.prior_rss_mb > 0.0);
    assert_int_equal(st2.prior_rss_unknown, 0);
    assert_int_equal(n0, n1);
    assert_int_equal(n1, n2);
    assert_memory_equal(s0, s1, n0);
    assert_memory_equal(s1, s2, n1);
    free(s0); free(s1); free(s2);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", d1, d2);
    assert_int_equal(system(cmd), 0);
}

static void test_resume_identical_brecq(void **st) {
    (void)st;
    /* W3A3 brecq: stage A (3 units), activation init, stage B; killed inside stage B */
    resume_case("method: brecq\nwbits: 3\nabits: 3\ncalib: 64\nbatch: 8\niters: 30\n"
                "act_iters: 20\n", 4);
}

/* A run directory written before the peak RSS was recorded (elapsed_s holds only the seconds):
 * the resume takes the seconds and reports the earlier runs' memory as unknown, and keeps saying
 * so after being killed and resumed once more. */
static void test_resume_old_elapsed_file(void **st) {
    (void)st;
    const char *recipe = "method: brecq\nwbits: 3\nabits: 3\ncalib: 64\nbatch: 8\niters: 30\n"
                         "act_iters: 20\n";
    char dir[64], path[96];
    snprintf(dir, sizeof dir, "/tmp/bq_test_recon_%d_old", (int)getpid());
    snprintf(path, sizeof path, "%s/elapsed_s", dir);
    bq_recon_stats killed = {0}, resumed = {0};
    run_to_state(recipe, dir, 2, 1, NULL, NULL, &killed);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("12.500\n", f);
    fclose(f);
    run_to_state(recipe, dir, 2, 1, NULL, NULL, &resumed);
    assert_true(fabs(resumed.prior_seconds - 12.5) < 1e-9);
    assert_int_equal(resumed.prior_rss_unknown, 1);
    bq_recon_stats again = {0};
    run_to_state(recipe, dir, 0, 0, NULL, NULL, &again);
    assert_true(again.prior_seconds > 12.5);
    assert_true(again.prior_rss_mb > 0.0);
    assert_int_equal(again.prior_rss_unknown, 1);
    char cmd[120];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_resume_identical_qdrop(void **st) {
    (void)st;
    resume_case("method: brecq_qdrop\nwbits: 2\nabits: 2\ncalib: 64\nbatch: 8\nqdrop_iters: 30\n",
                1);
}

/* ---- data-parallel: R ranks simulated by R threads ---- */

/* The world of the simulated ranks: one exchange buffer and a barrier. */
typedef struct {
    mtx_t m;
    cnd_t c;
    int size, arrived, gen;
    unsigned char buf[1 << 16];
} fake_world;

typedef struct {
    fake_world *w;
    bq_dp_comm comm;
    const char *recipe;
    unsigned char *state;
    size_t len;
    int rc;
    char err[256];
} fake_rank;

static void fake_barrier(fake_world *w) {   /* holding w->m */
    int g = w->gen;
    if (++w->arrived == w->size) {
        w->arrived = 0;
        w->gen++;
        cnd_broadcast(&w->c);
    } else {
        while (g == w->gen) cnd_wait(&w->c, &w->m);
    }
}

/* MPI_Allgather between threads: each puts its bytes at its rank's slot, all copy out the whole. */
static int fake_allgather(void *ctx, const void *send, size_t bytes, void *recv, char *err,
                          size_t errlen) {
    fake_rank *f = ctx;
    fake_world *w = f->w;
    if (bytes * (size_t)w->size > sizeof w->buf) {
        snprintf(err, errlen, "fake allgather: %zu bytes per rank too many", bytes);
        return -1;
    }
    mtx_lock(&w->m);
    memcpy(w->buf + (size_t)f->comm.rank * bytes, send, bytes);
    fake_barrier(w);
    memcpy(recv, w->buf, bytes * (size_t)w->size);
    fake_barrier(w);   /* nobody overwrites the buffer before everyone has read it */
    mtx_unlock(&w->m);
    return 0;
}

static int fake_fail(void *ctx, const void *send, size_t bytes, void *recv, char *err,
                     size_t errlen) {
    (void)ctx; (void)send; (void)bytes; (void)recv;
    snprintf(err, errlen, "fake allgather: link down");
    return -1;
}

/* One simulated rank: its own model, data and quantized model, as an MPI rank has. */
static int rank_main(void *arg) {
    fake_rank *f = arg;
    bq_model fp;
    build_tiny(&fp);
    bq_dataset d;
    make_data(&d, NTRAIN, 3);
    bq_recipe r;
    recipe_of(&r, f->recipe);
    bq_qmodel q;
    qmodel_of(&q, &fp, &r);
    f->rc = bq_reconstruct_dp(&q, &fp, &r, &d, NULL, 0, NULL, &f->comm, f->err, sizeof f->err);
    f->len = state_bytes(&q, &f->state);
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
    return 0;
}

/* Run the recipe on R threaded ranks; every rank's state must be `want` (n bytes). */
static void ranks_match(const char *recipe, int R, const unsigned char *want, size_t n) {
    fake_world w;
    memset(&w, 0, sizeof w);
    w.size = R;
    assert_int_equal(mtx_init(&w.m, mtx_plain), thrd_success);
    assert_int_equal(cnd_init(&w.c), thrd_success);
    fake_rank fr[4];
    thrd_t t[4];
    for (int k = 0; k < R; k++) {
        memset(&fr[k], 0, sizeof fr[k]);
        fr[k].w = &w;
        fr[k].comm = (bq_dp_comm){k, R, fake_allgather, &fr[k]};
        fr[k].recipe = recipe;
        assert_int_equal(thrd_create(&t[k], rank_main, &fr[k]), thrd_success);
    }
    for (int k = 0; k < R; k++) thrd_join(t[k], NULL);
    for (int k = 0; k < R; k++) {
        if (fr[k].rc) printf("rank %d of %d: %s\n", k, R, fr[k].err);
        assert_int_equal(fr[k].rc, 0);
        assert_int_equal(fr[k].len, n);
        assert_memory_equal(fr[k].state, want, n);
        free(fr[k].state);
    }
    cnd_destroy(&w.c);
    mtx_destroy(&w.m);
}

/* dp_shards 4: one process, 2 ranks and 4 ranks end with the same codes and steps (QDrop: the
 * weights, the steps and the masks all go through the shards). */
static void test_dp_ranks_same_bytes(void **st) {
    (void)st;
    const char *rc = "method: brecq_qdrop\nwbits: 2\nabits: 4\ncalib: 64\nact_init_batch: 32\n"
                     "batch: 8\nqdrop_iters: 12\ndp_shards: 4\n";
    unsigned char *s1;
    size_t n1;
    run_to_state(rc, NULL, 0, 0, &s1, &n1, NULL);
    ranks_match(rc, 2, s1, n1);
    ranks_match(rc, 4, s1, n1);
    free(s1);
}

/* A failing exchange is an error with its message (no rank waits: the fake fails at once); ranks
 * that do not divide dp_shards are refused before any work. */
static void test_dp_errors(void **st) {
    (void)st;
    fake_rank f;
    memset(&f, 0, sizeof f);
    f.comm = (bq_dp_comm){0, 2, fake_fail, &f};
    f.recipe = "method: brecq\nwbits: 2\nabits: 32\ncalib: 64\nbatch: 8\niters: 3\nact_iters: 0\n"
               "dp_shards: 2\n";
    rank_main(&f);
    assert_int_equal(f.rc, -1);
    assert_non_null(strstr(f.err, "link down"));
    free(f.state);
    memset(&f, 0, sizeof f);
    f.comm = (bq_dp_comm){0, 2, fake_fail, &f};
    f.recipe = "method: brecq\nwbits: 2\nabits: 32\ncalib: 64\nbatch: 8\niters: 3\nact_iters: 0\n";
    rank_main(&f);
    assert_int_equal(f.rc, -1);
    assert_non_null(strstr(f.err, "does not divide the recipe's dp_shards (1)"));
    free(f.state);
}

static void test_bad_input(void **st) {
    (void)st;
    bq_model fp;
    build_tiny(&fp);
    bq_dataset d;
    make_data(&d, 64, 4);
    bq_recipe r;
    bq_qmodel q;
    char err[256];
    /* the recipe loader refuses calib < batch; the engine checks again for programmatic use */
    const char *bad = "method: brecq\ncalib: 16\nbatch: 32\nact_init_batch: 8\n";
    assert_int_equal(bq_recipe_parse(&r, bad, strlen(bad), "bad.yaml", err, sizeof err), -1);
    printf("loader: %s\n", err);
    recipe_of(&r, "method: brecq\ncalib: 64\nbatch: 32\n");
    r.calib = 16;
    qmodel_of(&q, &fp, &r);
    assert_int_equal(bq_reconstruct(&q, &fp, &r, &d, NULL, err, sizeof err), -1);
    printf("calib < batch: %s\n", err);
    assert_non_null(strstr(err, "calib"));
    recipe_of(&r, "method: brecq\ncalib: 32\nbatch: 8\nact_init_batch: 8\nzeta: 1.2\n");
    assert_int_equal(bq_reconstruct(&q, &fp, &r, &d, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "zeta"));
    recipe_of(&r, "method: brecq\ncalib: 100\nbatch: 8\n");
    assert_int_equal(bq_reconstruct(&q, &fp, &r, &d, NULL, err, sizeof err), -1);   /* > 64 */
    assert_non_null(strstr(err, "calib"));
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_forward_matches_fakequant),
        cmocka_unit_test(test_beats_rtn_mse),
        cmocka_unit_test(test_beats_rtn_fisher),
        cmocka_unit_test(test_resume_identical_brecq),
        cmocka_unit_test(test_resume_identical_qdrop),
        cmocka_unit_test(test_resume_old_elapsed_file),
        cmocka_unit_test(test_dp_ranks_same_bytes),
        cmocka_unit_test(test_dp_errors),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
