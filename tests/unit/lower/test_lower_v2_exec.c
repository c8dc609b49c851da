/* test_lower_v2_exec — a real quantized model as one whole-network v2 program, with its data
 * (bq_lower_v2_full, sw/lower/lower_v2.h): the shipped fres20 / mbv2t (configs/models/<arch>.bqm)
 * quantized RTN, calibrated on Fashion-MNIST images, lowered onto a tiny-like and an edge-like v2
 * config, the memory image written (weights, requant records, input codes as HWC), the program
 * run on the C executor (tests/unit/hw_model/v2_exec.[ch]), and every real byte of every layer's
 * output tensor compared with the integer reference's codes of that node (bq_intnet_forward),
 * the logits (acc0) and the argmax; the layers' stand-alone cycles sum to the dry run. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hwcfg.h"
#include "io/model_io.h"
#include "lower/lower_v2.h"
#include "nn/data.h"
#include "nn/exec.h"
#include "nn/graph.h"
#include "quant/fakequant.h"
#include "quant/intref.h"
#include "v2_exec.h"

#define N_CALIB 16   /* calibration images (train split) */
#define N_IMG 2      /* images run through each program (test split) */

typedef struct {
    bq_dataset calib, test;
} data_t;

static data_t *g_data;   /* loaded once for all cases (set up in main, read-only) */

/* tiny / edge with the v2 units sized as §12 (tiny 24576 / 256, edge 65536 / 512). */
static void load_cfg(bq_hwcfg *c, const char *name) {
    char err[512] = "", path[128];
    snprintf(path, sizeof path, "configs/hw/%s.yaml", name);
    if (bq_hwcfg_load(c, path, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    int tiny = !strcmp(name, "tiny");
    c->window_bytes = tiny ? 24576 : 65536;
    c->block_channels = tiny ? 256 : 512;
}

/* The shipped model quantized RTN W wbits / A abits (first / last layer 8 bit), calibrated. */
static void quantize(bq_qmodel *q, bq_model *fp, const char *arch, int wbits, int abits) {
    char err[512] = "", path[128];
    snprintf(path, sizeof path, "configs/models/%s.bqm", arch);
    if (bq_model_load(fp, path, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    bq_qmodel_opts o = {.wbits = wbits, .abits = abits, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(q, fp, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(q, 2.4f);
    static float x[N_CALIB * 28 * 28];
    int idx[N_CALIB];
    for (int i = 0; i < N_CALIB; i++) idx[i] = 7 * i;
    bq_dataset_batch(&g_data->calib, idx, N_CALIB, x, NULL, q->model.in_mean, q->model.in_std, NULL);
    bq_fq fq;
    bq_exec ex;
    assert_int_equal(bq_fq_init(&fq, q, N_CALIB, 0), 0);
    assert_int_equal(bq_exec_init(&ex, &fq.net, N_CALIB, 0), 0);
    bq_fq_bind(&fq, &ex);
    assert_int_equal(bq_fq_calibrate(&fq, &ex, x, N_CALIB), 0);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
}

typedef struct {
    long codes, logits, images;   /* values compared */
    long gap_ties;                /* GAP outputs with (2 sum + HW) a multiple of 2 HW: the
                                     rounding ties where m = floor(2^sh / HW) would be 1 low */
    int layers;
    int64_t cycles;
} result_t;

/* Layer i's output in mem against the reference of image b: mismatches (first one printed). */
static long compare_layer(const bq_lowered_v2 *lw, const bq_intnet *net, int i, int b,
                          const uint8_t *mem, uint8_t *got, long *n) {
    const bq_v2_layer *v = &lw->layers[i];
    const size_t sz = bq_lowered_v2_out_size(lw, i);
    bq_lowered_v2_read_output(lw, i, mem, got);
    const uint8_t *want = v->hw.raw32 ? (const uint8_t *)(net->logits + (size_t)b * v->cout)
                                      : net->codes[lw->node_out[i]] + (size_t)b * sz;
    long bad = 0;
    const size_t step = v->hw.raw32 ? 4 : 1;
    for (size_t k = 0; k < sz; k += step, (*n)++) {
        long g, w;
        if (v->hw.raw32) {
            int32_t gi, wi;
            memcpy(&gi, got + k, 4);
            memcpy(&wi, want + k, 4);
            g = gi;
            w = wi;
        } else {
            g = got[k];
            w = want[k];
        }
        if (g != w && bad++ == 0)
            print_error("layer %d '%s' (node '%s') image %d value %zu: got %ld, want %ld\n", i,
                        v->hw.name, net->q->model.nodes[lw->node_out[i]].name, b, k / step, g, w);
    }
    return bad;
}

/* GAP outputs of image b where floor((2 sum + HW) / (2 HW)) has no remainder. */
static long gap_ties(const bq_lowered_v2 *lw, const bq_intnet *net, int i, int b) {
    const bq_v2_layer *v = &lw->layers[i];
    const long hw = (long)v->hi * v->wi;
    const uint8_t *in = net->codes[lw->node_in[i]] + (size_t)b * v->cin * hw;
    long ties = 0;
    for (int c = 0; c < v->cin; c++) {
        long sum = 0;
        for (long p = 0; p < hw; p++) sum += in[c * hw + p];
        ties += (2 * sum + hw) % (2 * hw) == 0;
    }
    return ties;
}

/* Lower net onto cfg, run nimg images (the batch of the last bq_intnet_forward) on the
 * executor, compare everything. */
static void run_net(const bq_intnet *net, const bq_hwcfg *cfg, int policy, int nimg, result_t *r) {
    char err[512] = "";
    static bq_lowered_v2 lw;
    if (bq_lower_v2_full(&lw, net, cfg, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    int64_t sum = 0;
    for (int i = 0; i < lw.n; i++) sum += lw.cycles[i];
    assert_int_equal(sum, lw.lat.cycles);
    r->cycles = lw.lat.cycles;
    r->layers = lw.n;
    /* every tensor's node is the integer reference's */
    for (int i = 0; i < lw.n; i++) {
        const bq_v2_layer *v = &lw.layers[i];
        const bq_node *o = &net->q->model.nodes[lw.node_out[i]];
        assert_true(v->hw.raw32 || net->codes[lw.node_out[i]] != NULL);
        assert_int_equal(o->c, v->cout);
        if (!v->hw.raw32) assert_int_equal(o->h * o->w, v->ho * v->wo);
    }
    size_t mem_len = (size_t)lw.mem_bytes + 64;
    uint8_t *mem = malloc(mem_len), *got = malloc(4 * 64 * 28 * 28 + 4096);
    static v2_machine x;
    assert_true(mem && got);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < mem_len; i++) {   /* unwritten bytes are garbage */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        mem[i] = (uint8_t)s;
    }
    bq_lowered_v2_load(&lw, mem);
    const bq_ilayer *fc = &net->L[net->n_layers - 1];
    int preds[16];
    assert_true(nimg <= 16);
    bq_intnet_predict(net, nimg, preds);
    for (int b = 0; b < nimg; b++) {
        bq_lowered_v2_write_input(&lw, net, b, mem);
        if (v2_exec_init(&x, cfg, mem, mem_len, err, sizeof err) ||
            v2_exec_run(&x, &lw.prog, policy, err, sizeof err)) {
            print_error("%s image %d: %s\n", cfg->name, b, err);
            fail();
        }
        v2_exec_free(&x);
        long bad = 0;
        for (int i = 0; i < lw.n; i++) {
            long n = 0;
            bad += compare_layer(&lw, net, i, b, mem, got, &n);
            if (lw.layers[i].hw.raw32) r->logits += n;
            else r->codes += n;
            if (lw.qlayer[i] < 0) r->gap_ties += gap_ties(&lw, net, i, b);
        }
        if (bad) print_error("%s image %d: %ld values differ\n", cfg->name, b, bad);
        assert_int_equal(bad, 0);
        /* argmax of the chip's logits, as bq_intnet_predict */
        const int last = lw.n - 1;
        assert_true(lw.layers[last].hw.raw32);
        bq_lowered_v2_read_output(&lw, last, mem, got);
        int best = 0;
        float bv = 0;
        for (int c = 0; c < fc->cout; c++) {
            int32_t a;
            memcpy(&a, got + 4 * c, 4);
            float v = (float)a * fc->logit_scale[c];
            if (c == 0 || v > bv) best = c, bv = v;
        }
        assert_int_equal(best, preds[b]);
        r->images++;
    }
    free(mem);
    free(got);
    bq_lowered_v2_free(&lw);
}

static void check_arch(const char *arch, int wbits, int abits) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bq_model fp;
    bq_qmodel q;
    quantize(&q, &fp, arch, wbits, abits);
    char err[512] = "";
    bq_intnet net;
    if (bq_intnet_init(&net, &q, N_IMG, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
    static float x[N_IMG * 28 * 28];
    int idx[N_IMG];
    for (int i = 0; i < N_IMG; i++) idx[i] = 101 * i + 3;
    bq_dataset_batch(&g_data->test, idx, N_IMG, x, NULL, q.model.in_mean, q.model.in_std, NULL);
    bq_intnet_forward(&net, x, N_IMG);
    static const char *cfgs[2] = {"tiny", "edge"};
    for (int k = 0; k < 2; k++) {
        bq_hwcfg cfg;
        load_cfg(&cfg, cfgs[k]);
        result_t r = {0};
        run_net(&net, &cfg, k, N_IMG, &r);   /* policy 0 on tiny, 1 on edge: both interleavings */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("    %s W%dA%d on %s-like: %d layers, %lld cycles (= sum of the layers), "
                      "%ld images: %ld codes + %ld logits compared, argmax equal, %ld GAP ties (%.1f s so far)\n",
                      arch, wbits, abits, cfgs[k], r.layers, (long long)r.cycles, r.images,
                      r.codes, r.logits, r.gap_ties,
                      (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    bq_intnet_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

static void test_fres20_w4a4(void **st) {
    (void)st;
    check_arch("fres20", 4, 4);
}
static void test_mbv2t_w4a4(void **st) {
    (void)st;
    check_arch("mbv2t", 4, 4);
}
static void test_fres20_w2a4(void **st) {
    (void)st;
    check_arch("fres20", 2, 4);
}

/* A small model calibrated on random images, max_batch nimg. */
static void small_model(bq_model *m, bq_qmodel *q, int pool, int nimg) {
    char err[512] = "";
    const int side = pool ? 8 : 12;   /* 12: c2 (stride 2) makes a 6 x 6 map */
    bq_model_init(m, pool ? "mp" : "even", 1, side, side, 4);
    int x = bq_add_input(m);
    x = bq_add_conv(m, "c1", x, 8, 3, 1, 1, 1, 0);
    if (pool) x = bq_add_maxpool(m, "pool", x, 2, 2, 2, 2, 0, 0, 0, 0);
    x = bq_add_conv(m, "c2", x, 16, 3, pool ? 1 : 2, 1, 1, 0);
    x = bq_add_gap(m, "gap", x);
    x = bq_add_linear(m, "fc", x, 4, 1);
    assert_true(x >= 0);
    assert_int_equal(bq_model_finalize(m, 1), 0);
    uint64_t s = 11;
    for (int i = 0; i < m->n_params; i++)   /* biases too: the records carry them */
        for (size_t k = 0; k < m->params[i].count; k++)
            if (strstr(m->params[i].name, "bias")) bq_param_data(m, i)[k] = 0.3f * tu_randf(&s);
    bq_qmodel_opts o = {.wbits = 4, .abits = 4, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(q, m, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(q, 2.4f);
    float xs[16 * 144];
    for (int i = 0; i < nimg * side * side; i++) xs[i] = 2.0f * tu_randf(&s);
    bq_fq fq;
    bq_exec ex;
    assert_int_equal(bq_fq_init(&fq, q, nimg, 0), 0);
    assert_int_equal(bq_exec_init(&ex, &fq.net, nimg, 0), 0);
    bq_fq_bind(&fq, &ex);
    assert_int_equal(bq_fq_calibrate(&fq, &ex, xs, nimg), 0);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
}

/* fres20 / mbv2t pool 7 x 7 maps: with HW odd, 2 sum + HW is odd and the GAP never meets a
 * rounding tie (numerics §5); with HW a power of two 2^sh / HW is exact. So m = ceil vs floor is
 * only visible on an even map that is no power of two: 16 channels of 6 x 6 over 16 random
 * images, with the ties counted (they must occur). */
static void test_gap_even_map(void **st) {
    (void)st;
    const int nimg = 16;
    char err[512] = "";
    bq_model m;
    bq_qmodel q;
    small_model(&m, &q, 0, nimg);
    bq_intnet net;
    assert_int_equal(bq_intnet_init(&net, &q, nimg, err, sizeof err), 0);
    float xs[16 * 144];
    uint64_t s = 23;
    for (int i = 0; i < nimg * 144; i++) xs[i] = 2.0f * tu_randf(&s);
    bq_intnet_forward(&net, xs, nimg);
    bq_hwcfg cfg;
    load_cfg(&cfg, "tiny");
    result_t r = {0};
    run_net(&net, &cfg, 0, nimg, &r);
    print_message("    6 x 6 GAP model on tiny-like: %d layers, %lld cycles, %ld images: %ld codes + "
                  "%ld logits compared, argmax equal, %ld GAP ties\n", r.layers,
                  (long long)r.cycles, r.images, r.codes, r.logits, r.gap_ties);
    assert_true(r.gap_ties > 0);
    bq_intnet_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

/* Off the v2 path: a max pool (one line naming the layer), and a window buffer too small. */
static void test_refusals(void **st) {
    (void)st;
    char err[512] = "";
    bq_model m;
    bq_qmodel q;
    small_model(&m, &q, 1, 2);
    bq_intnet net;
    assert_int_equal(bq_intnet_init(&net, &q, 1, err, sizeof err), 0);
    bq_hwcfg cfg;
    load_cfg(&cfg, "tiny");
    bq_lowered_v2 lw;
    assert_int_equal(bq_lower_v2_full(&lw, &net, &cfg, err, sizeof err), -1);
    print_message("    refused: %s\n", err);
    assert_non_null(strstr(err, "max pool"));
    assert_non_null(strstr(err, "c2"));
    assert_null(strchr(err, '\n'));
    bq_lowered_v2_free(&lw);   /* empty after a refusal: a no-op */
    bq_intnet_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&m);

    /* fres20 on a window buffer of 64 bytes */
    bq_model fp;
    quantize(&q, &fp, "fres20", 4, 4);
    assert_int_equal(bq_intnet_init(&net, &q, 1, err, sizeof err), 0);
    cfg.window_bytes = 64;
    assert_int_equal(bq_lower_v2_full(&lw, &net, &cfg, err, sizeof err), -1);
    print_message("    refused: %s\n", err);
    assert_non_null(strstr(err, "stem"));
    assert_null(strchr(err, '\n'));
    bq_intnet_free(&net);
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

int main(void) {
    static data_t d;
    char err[512] = "";
    if (bq_dataset_load(&d.calib, NULL, "train", err, sizeof err) ||
        bq_dataset_load(&d.test, NULL, "test", err, sizeof err)) {
        fprintf(stderr, "test_lower_v2_exec: %s\n", err);
        return 1;
    }
    g_data = &d;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fres20_w4a4),
        cmocka_unit_test(test_mbv2t_w4a4),
        cmocka_unit_test(test_fres20_w2a4),
        cmocka_unit_test(test_gap_even_map),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bq_dataset_free(&d.calib);
    bq_dataset_free(&d.test);
    return rc;
}
