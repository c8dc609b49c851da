/*
 * test_recon_bf16.c — `compute: bf16` in a recipe (sw/quant/recipe.c, reconstruct.c;
 * docs/onednn.md): the key and its values; on a CPU without AVX512-BF16 (faked with the test-only
 * BQ_FAKE_NO_BF16=1) the recipe is refused when it loads with one line naming the file, the place
 * and the fix, and a hand-built bf16 recipe is refused by the engine before anything is written;
 * with bf16, two reconstructions with the same seed and thread count give the same bytes, and
 * they are not the FP32 run's bytes (the bf16 convolutions really ran).
 */
#include "testutil.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/conv_dnnl.h"
#include "nn/graph.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"
#include "quant/reconstruct.h"

enum { HW = 12, NTRAIN = 128 };

#define RECIPE "method: brecq\nwbits: 2\nabits: 4\niters: 40\nact_iters: 10\ncalib: 64\n" \
               "batch: 16\nact_init_batch: 16\n"

/* input(1,12,12) -> stem conv 8 -> ReLU -> one residual block (3x3 stride 2 + 1x1 shortcut,
 * 16 ch) -> GAP -> linear 10: dense, strided and 1x1 convs in two reconstruction units. */
static void build_small(bq_model *m) {
    bq_model_init(m, "small", 1, HW, HW, 10);
    int x = bq_add_input(m);
    x = bq_add_conv(m, "stem", x, 8, 3, 1, 1, 1, 1);
    x = bq_add_act(m, "stem_relu", BQ_OP_RELU, x);
    bq_block_begin(m, "b0", x);
    int y = bq_add_conv(m, "b0_conv1", x, 16, 3, 2, 1, 1, 1);
    y = bq_add_act(m, "b0_relu1", BQ_OP_RELU, y);
    y = bq_add_conv(m, "b0_conv2", y, 16, 3, 1, 1, 1, 1);
    int sc = bq_add_conv(m, "b0_down", x, 16, 1, 2, 0, 1, 1);
    y = bq_add_add(m, "b0_add", y, sc);
    x = bq_add_act(m, "b0_relu", BQ_OP_RELU, y);
    bq_block_end(m);
    x = bq_add_gap(m, "gap", x);
    x = bq_add_linear(m, "fc", x, 10, 1);
    assert_true(x > 0);
    assert_int_equal(bq_model_finalize(m, 5), 0);
}

static void make_data(bq_dataset *d, int n, uint64_t seed) {
    memset(d, 0, sizeof(*d));   /* a hand-built data set starts zeroed (data.h) */
    d->n = n; d->c = 1; d->h = HW; d->w = HW;
    d->pixels = malloc((size_t)n * HW * HW);
    d->labels = malloc(sizeof(*d->labels) * (size_t)n);
    assert_non_null(d->pixels);
    assert_non_null(d->labels);
    uint64_t s = seed;
    for (size_t i = 0; i < (size_t)n * HW * HW; i++)
        d->pixels[i] = (uint8_t)(127.5f * (tu_randf(&s) + 1.0f));
    for (int i = 0; i < n; i++) d->labels[i] = i % 10;
}

/* Reconstruct the small model with recipe text; returns the engine's rc, the codes and steps. */
static int run(const char *text, const char *run_dir, unsigned char **state, size_t *len,
               char *err, size_t errlen) {
    bq_model fp;
    build_small(&fp);
    bq_dataset d;
    make_data(&d, NTRAIN, 9);
    bq_recipe r;
    assert_int_equal(bq_recipe_parse(&r, text, strlen(text), "t.yaml", err, errlen), 0);
    bq_qmodel q;
    bq_qmodel_opts o = {r.wbits, r.abits, r.first_last_8bit};
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, errlen), 0);
    bq_qmodel_init_weights(&q, r.p);
    int rc = bq_reconstruct_ex(&q, &fp, &r, &d, run_dir, 0, NULL, err, errlen);
    if (state) {
        size_t n = 0;
        for (int l = 0; l < q.n_layers; l++) n += (size_t)q.layers[l].cout * q.layers[l].per_out;
        unsigned char *b = malloc(n + (size_t)q.n_aq * 4), *p = b;
        for (int l = 0; l < q.n_layers; l++) {
            size_t k = (size_t)q.layers[l].cout * q.layers[l].per_out;
            memcpy(p, q.layers[l].codes, k);
            p += k;
        }
        for (int a = 0; a < q.n_aq; a++, p += 4) memcpy(p, &q.aq[a].scale, 4);
        *state = b;
        *len = n + (size_t)q.n_aq * 4;
    }
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
    return rc;
}

static void test_compute_key(void **st) {
    (void)st;
    char err[256];
    bq_recipe r;
    assert_int_equal(bq_recipe_parse(&r, "", 0, "e.yaml", err, sizeof err), 0);
    assert_int_equal(r.compute, BQ_COMPUTE_FP32);
    const char *t = "compute: fp32\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "a.yaml", err, sizeof err), 0);
    assert_int_equal(r.compute, BQ_COMPUTE_FP32);
    t = "compute: fp16\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "b.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "b.yaml:1"));
    assert_non_null(strstr(err, "compute"));
    char isa[64];
    if (bq_dnnl_bf16_available(isa, sizeof isa)) {
        t = "compute: bf16\n";
        assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "c.yaml", err, sizeof err), 0);
        assert_int_equal(r.compute, BQ_COMPUTE_BF16);
    }
}

/* "No bf16" CPU: the recipe fails to load (file:line:col, the fix, one line); a recipe built by
 * hand fails in the engine before the run directory is created. */
static void test_no_bf16_cpu(void **st) {
    (void)st;
    const char *saved = getenv("BQ_FAKE_NO_BF16");
    setenv("BQ_FAKE_NO_BF16", "1", 1);
    char err[256] = "";
    bq_recipe r;
    const char *t = "method: brecq\ncompute: bf16\n";
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "q.yaml", err, sizeof err), -1);
    printf("%s\n", err);
    assert_non_null(strstr(err, "q.yaml:2:10: 'compute: bf16' needs a CPU with AVX512-BF16"));
    assert_non_null(strstr(err, "use 'compute: fp32'"));
    assert_null(strchr(err, '\n'));
    /* the engine's own check (API users who set r.compute by hand) */
    bq_model fp;
    build_small(&fp);
    bq_dataset d;
    make_data(&d, NTRAIN, 9);
    t = RECIPE;
    assert_int_equal(bq_recipe_parse(&r, t, strlen(t), "t.yaml", err, sizeof err), 0);
    r.compute = BQ_COMPUTE_BF16;
    bq_qmodel q;
    bq_qmodel_opts o = {r.wbits, r.abits, r.first_last_8bit};
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(&q, r.p);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/bq_test_bf16_%d", (int)getpid());
    err[0] = 0;
    assert_int_equal(bq_reconstruct_ex(&q, &fp, &r, &d, dir, 0, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "use 'compute: fp32'"));
    struct stat sb;
    assert_int_not_equal(stat(dir, &sb), 0);   /* nothing written */
    bq_qmodel_free(&q);
    bq_dataset_free(&d);
    bq_model_free(&fp);
    if (saved) setenv("BQ_FAKE_NO_BF16", saved, 1); else unsetenv("BQ_FAKE_NO_BF16");
}

/* Same seed, same thread count: the same bytes in bf16; and not the FP32 bytes. */
static void test_bf16_deterministic(void **st) {
    (void)st;
    char isa[64], err[256];
    if (!bq_dnnl_bf16_available(isa, sizeof isa)) {
        printf("no native bf16 (%s): skipped\n", isa);
        return;
    }
    unsigned char *s[3];
    size_t n[3];
    assert_int_equal(run(RECIPE "compute: bf16\n", NULL, &s[0], &n[0], err, sizeof err), 0);
    assert_int_equal(run(RECIPE "compute: bf16\n", NULL, &s[1], &n[1], err, sizeof err), 0);
    assert_int_equal(run(RECIPE "compute: fp32\n", NULL, &s[2], &n[2], err, sizeof err), 0);
    assert_int_equal(n[0], n[1]);
    assert_memory_equal(s[0], s[1], n[0]);
    assert_int_equal(n[0], n[2]);
    assert_true(memcmp(s[0], s[2], n[0]) != 0);
    for (int i = 0; i < 3; i++) free(s[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_key),
        cmocka_unit_test(test_no_bf16_cpu),
        cmocka_unit_test(test_bf16_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
