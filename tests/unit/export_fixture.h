/* export_fixture.h — the fixture of the export-package tests (tests/unit/io/test_export.c and the
 * cosim driver's package reader, tests/cosim/test_pkg.c): the tiny test model quantized W3A4 and
 * calibrated on 8 random 9x9 images, a 4x4x32 accelerator config and a package folder
 * /tmp/<dir_tag>_<pid>. One copy, so both tests export the same kind of package. */
#ifndef BQ_TEST_EXPORT_FIXTURE_H
#define BQ_TEST_EXPORT_FIXTURE_H

#include "testutil.h"

#include <string.h>
#include <unistd.h>

#include "hwcfg.h"
#include "io/dataset.h"
#include "nn/exec.h"
#include "quant/fakequant.h"
#include "quant/qmodel.h"
#include "../fuzz/tiny_model.h"

typedef struct {
    bq_model m;
    bq_qmodel q;
    bq_dataset d;
    bq_hwcfg hw;
    char dir[128];
} export_fixture;

/* model_name names the tiny model; random_biases != 0 gives its biases values in [-0.2, 0.2]
 * (seed 5) instead of zeros, so the requant records carry a bias. */
static int export_fixture_setup(void **state, const char *model_name, const char *dir_tag,
                                int random_biases) {
    export_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char err[256];
    assert_int_equal(tiny_model_build_named(&f->m, model_name), 0);
    if (random_biases) {
        uint64_t st = 5;
        for (int i = 0; i < f->m.n_params; i++)
            if (strstr(f->m.params[i].name, "bias"))
                for (size_t k = 0; k < f->m.params[i].count; k++)
                    bq_param_data(&f->m, i)[k] = 0.2f * tu_randf(&st);
    }
    bq_qmodel_opts o = {3, 4, 1};
    assert_int_equal(bq_qmodel_init(&f->q, &f->m, &o, err, sizeof err), 0);
    bq_qmodel_init_weights(&f->q, 2.4f);
    /* a tiny in-memory data set */
    f->d.n = 8; f->d.c = 1; f->d.h = 9; f->d.w = 9;
    f->d.pixels = malloc(8 * 81);
    f->d.labels = malloc(8 * sizeof *f->d.labels);   /* int32 labels (docs/data.md) */
    uint64_t st = 3;
    for (int i = 0; i < 8 * 81; i++) f->d.pixels[i] = (uint8_t)(128 + 127 * tu_randf(&st));
    for (int i = 0; i < 8; i++) f->d.labels[i] = i % 3;
    float x[8 * 81];
    int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    bq_dataset_batch(&f->d, idx, 8, x, NULL, f->q.model.in_mean, f->q.model.in_std, NULL);
    bq_fq fq;
    bq_exec ex;
    assert_int_equal(bq_fq_init(&fq, &f->q, 8, 0), 0);
    assert_int_equal(bq_exec_init(&ex, &fq.net, 8, 0), 0);
    bq_fq_bind(&fq, &ex);
    assert_int_equal(bq_fq_calibrate(&fq, &ex, x, 8), 0);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
    const char *y = "name: t\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 32\n  acc_bits: 32\n"
                    "buffers:\n  weight_depth: 512\n  act_depth: 512\n  regions: 2\n  requant_depth: 256\n"
                    "memory:\n  width_bits: 64\n  read_bytes_per_cycle: 8\n  write_bytes_per_cycle: 8\n"
                    "  read_latency: 12\n  write_latency: 12\n";
    assert_int_equal(bq_hwcfg_parse(&f->hw, y, strlen(y), "t.yaml", err, sizeof err), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/%s_%d", dir_tag, (int)getpid());
    *state = f;
    return 0;
}

/* removes the package folder and what a failed or killed export left beside it */
static int export_fixture_teardown(void **state) {
    export_fixture *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s.tmp.* %s.old.*", f->dir, f->dir, f->dir);
    if (system(cmd)) {}
    bq_qmodel_free(&f->q);
    bq_model_free(&f->m);
    free(f->d.pixels);
    free(f->d.labels);
    free(f);
    return 0;
}

#endif
