/*
 * make_seeds.c — writes the seed files of the fuzz corpora that come from the project's own
 * writers (a development tool, not part of any build or test; the outputs are committed):
 *   corpus/bqm/tiny.bqm, corpus/bqq/tiny_w3a4.bqq, the four .bin files of export_pkg/ and
 *   corpus/export/manifest.json, the same of the whole-network package (version 3) in
 *   export_pkg_v3/ and corpus/export/manifest_v3.json, and the seeds of corpus/png, jpeg, idx, npy
 * `make_seeds selftest` writes only the self-test reader's seeds (selftest_fuzz.c): the same model
 * exported with 1 test image (a version 2 package), its four .bin files into selftest_pkg/ and its
 * manifest as corpus/selftest/manifest.json
 * (corpus/npz/ is made from the .npy seeds by make_npz.py). Run from the repository root:
 *   make && gcc -std=c11 -D_POSIX_C_SOURCE=200809L -iquote sw -iquote hw_model -iquote build/gen \
 *     -Itests/fuzz $(pkg-config --cflags libpng) tests/fuzz/make_seeds.c build/libbrecq.a \
 *     $(pkg-config --libs yaml-0.1 openblas zlib libprotobuf-c libpng libjpeg) -ldnnl -lgomp -lm -lpthread \
 *     -o build/make_seeds && build/make_seeds && python3 tests/fuzz/make_npz.py
 * Deterministic: fixed seeds, so the same bytes every run.
 */
#include "core/fileio.h"
#include "hwcfg.h"
#include "io/export.h"
#include "io/image.h"
#include "io/model_io.h"
#include "nn/exec.h"
#include "quant/fakequant.h"
#include "quant/qmodel.h"
#include "tiny_model.h"

#include <stdio.h>
#include <jpeglib.h>
#include <stdlib.h>
#include <string.h>

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static uint64_t rs = 7;
static uint8_t rnd8(void) { rs = rs * 6364136223846793005ull + 1442695040888963407ull; return (uint8_t)(rs >> 56); }

static void put(const char *path, const void *d, size_t n) {
    char err[512];
    if (bq_write_file_atomic(path, d, n, err, sizeof err)) DIE("%s", err);
}

static const char *kHw = "name: t\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 32\n  acc_bits: 32\n"
    "buffers:\n  weight_depth: 512\n  act_depth: 512\n  regions: 2\n  requant_depth: 256\n"
    "memory:\n  width_bits: 64\n  read_bytes_per_cycle: 8\n  write_bytes_per_cycle: 8\n"
    "  read_latency: 12\n  write_latency: 12\n";

/* kHw with the ISA v2 units (window buffer, CODES block buffer): a version 3 package */
static const char *kHwV2 = "name: t2\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 32\n  acc_bits: 32\n"
    "buffers:\n  weight_depth: 512\n  act_depth: 512\n  regions: 2\n  requant_depth: 256\n"
    "  window_bytes: 4096\n  block_channels: 64\n"
    "memory:\n  width_bits: 64\n  read_bytes_per_cycle: 8\n  write_bytes_per_cycle: 8\n"
    "  read_latency: 12\n  write_latency: 12\n";

/* Copy the package in build/fuzz_seed_pkg: the .bin files into bin_dir, the manifest to manifest. */
static void copy_pkg(const char *const *bins, int n_bins, const char *bin_dir, const char *manifest) {
    char err[512];
    for (int i = 0; i <= n_bins; i++) {
        const char *name = i < n_bins ? bins[i] : "manifest.json";
        char src[300], dst[300];
        unsigned char *b;
        size_t n;
        snprintf(src, sizeof src, "build/fuzz_seed_pkg/%s", name);
        if (i < n_bins) snprintf(dst, sizeof dst, "%s/%s", bin_dir, name);
        else snprintf(dst, sizeof dst, "%s", manifest);
        if (bq_read_file(src, &b, &n, err, sizeof err)) DIE("%s", err);
        put(dst, b, n);
        free(b);
    }
}

/* tiny.bqm, a calibrated W3A4 .bqq, and its export package with 2 test images; selftest != 0: only
 * the package with 1 test image, for the self-test reader's harness. */
static void models(int selftest) {
    bq_model m;
    char err[512];
    if (tiny_model_build(&m)) DIE("tiny model");
    if (!selftest && bq_model_save(&m, "tests/fuzz/corpus/bqm/tiny.bqm", err, sizeof err)) DIE("%s", err);
    bq_qmodel q;
    bq_qmodel_opts o = {3, 4, 1};
    if (bq_qmodel_init(&q, &m, &o, err, sizeof err)) DIE("%s", err);
    bq_qmodel_init_weights(&q, 2.4f);
    bq_dataset d;
    memset(&d, 0, sizeof d);
    d.n = 4; d.c = 1; d.h = 9; d.w = 9;
    d.pixels = malloc(4 * 81);
    d.labels = malloc(4 * sizeof *d.labels);
    for (int i = 0; i < 4 * 81; i++) d.pixels[i] = rnd8();
    for (int i = 0; i < 4; i++) d.labels[i] = i % 3;
    float x[4 * 81];
    int idx[4] = {0, 1, 2, 3};
    bq_dataset_batch(&d, idx, 4, x, NULL, q.model.in_mean, q.model.in_std, NULL);
    bq_fq fq;
    bq_exec ex;
    if (bq_fq_init(&fq, &q, 4, 0) || bq_exec_init(&ex, &fq.net, 4, 0)) DIE("fq init");
    bq_fq_bind(&fq, &ex);
    if (bq_fq_calibrate(&fq, &ex, x, 4)) DIE("calibrate");
    bq_exec_free(&ex);
    bq_fq_free(&fq);
    if (!selftest && bq_qmodel_save(&q, "tests/fuzz/corpus/bqq/tiny_w3a4.bqq", err, sizeof err)) DIE("%s", err);
    bq_hwcfg hw;
    if (bq_hwcfg_parse(&hw, kHw, strlen(kHw), "t.yaml", err, sizeof err)) DIE("%s", err);
    if (selftest) {
        const char *bins[4] = {"weights.bin", "requant.bin", "programs.bin", "tests.bin"};
        if (bq_export(&q, &hw, &d, 1, "build/fuzz_seed_pkg", err, sizeof err)) DIE("%s", err);
        copy_pkg(bins, 4, "tests/fuzz/selftest_pkg", "tests/fuzz/corpus/selftest/manifest.json");
    } else {
        const char *bins[4] = {"weights.bin", "requant.bin", "tests.bin", "programs.bin"};
        if (bq_export(&q, &hw, &d, 2, "build/fuzz_seed_pkg", err, sizeof err)) DIE("%s", err);
        copy_pkg(bins, 4, "tests/fuzz/export_pkg", "tests/fuzz/corpus/export/manifest.json");
        /* the whole-network package (format version 3) of the same model on the v2 units */
        if (bq_hwcfg_parse(&hw, kHwV2, strlen(kHwV2), "t2.yaml", err, sizeof err)) DIE("%s", err);
        if (bq_export(&q, &hw, &d, 2, "build/fuzz_seed_pkg", err, sizeof err)) DIE("%s", err);
        copy_pkg(bins, 4, "tests/fuzz/export_pkg_v3", "tests/fuzz/corpus/export/manifest_v3.json");
    }
    free(d.pixels); free(d.labels);
    bq_qmodel_free(&q);
    bq_model_free(&m);
}

static void png_seeds(void) {
    uint8_t pix[3 * 6 * 5];
    char err[512];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = rnd8();
    if (bq_png_write("tests/fuzz/corpus/png/grey_5x4.png", pix, 5, 4, 1, err, sizeof err) ||
        bq_png_write("tests/fuzz/corpus/png/rgb_6x5.png", pix, 6, 5, 3, err, sizeof err) ||
        bq_png_write("tests/fuzz/corpus/png/rgb_1x1.png", pix, 1, 1, 3, err, sizeof err)) DIE("%s", err);
}

static void jpeg_one(const char *path, int w, int h, int c, int progressive, int quality) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &buf, &len);
    ci.image_width = (JDIMENSION)w; ci.image_height = (JDIMENSION)h;
    ci.input_components = c; ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char row[3 * 64];
    while (ci.next_scanline < ci.image_height) {
        for (int i = 0; i < w * c; i++) row[i] = rnd8();
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    put(path, buf, len);
    free(buf);
}

static void idx_seed(const char *path, int n, int h, int w, int bad_label) {
    unsigned char b[4 + 16 + 8 + 64 * 64 * 4 + 64];
    size_t ni = 16 + (size_t)n * h * w, p = 4;
    b[0] = (unsigned char)ni; b[1] = (unsigned char)(ni >> 8); b[2] = 0; b[3] = 0;
    const uint32_t hi[4] = {0x803, (uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int k = 0; k < 4; k++) for (int s = 3; s >= 0; s--) b[p++] = (unsigned char)(hi[k] >> (8 * s));
    for (size_t i = 0; i < (size_t)n * h * w; i++) b[p++] = rnd8();
    const uint32_t hl[2] = {0x801, (uint32_t)n};
    for (int k = 0; k < 2; k++) for (int s = 3; s >= 0; s--) b[p++] = (unsigned char)(hl[k] >> (8 * s));
    for (int i = 0; i < n; i++) b[p++] = (unsigned char)(bad_label && i == n - 1 ? 10 : i % 10);
    put(path, b, p);
}

/* A .npy v1 (v2 when version2) of dtype descr, shape text shp, with nbytes of data. */
static void npy_seed(const char *path, const char *descr, const char *shp, size_t nbytes, int version2) {
    char dict[200];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shp);
    size_t start = version2 ? 12 : 10, hl = ((start + (size_t)dl + 1 + 63) / 64) * 64 - start;
    unsigned char *b = malloc(start + hl + nbytes);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = version2 ? 2 : 1; b[7] = 0;
    b[8] = (unsigned char)hl; b[9] = (unsigned char)(hl >> 8);
    if (version2) { b[10] = 0; b[11] = 0; }
    memset(b + start, ' ', hl);
    memcpy(b + start, dict, (size_t)dl);
    b[start + hl - 1] = '\n';
    for (size_t i = 0; i < nbytes; i++) b[start + hl + i] = rnd8() % 10;
    put(path, b, start + hl + nbytes);
    free(b);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "selftest")) {
        models(1);
        printf("make_seeds: selftest done\n");
        return 0;
    }
    models(0);
    png_seeds();
    jpeg_one("tests/fuzz/corpus/jpeg/grey_8x8.jpg", 8, 8, 1, 0, 90);
    jpeg_one("tests/fuzz/corpus/jpeg/rgb_16x9.jpg", 16, 9, 3, 0, 75);
    jpeg_one("tests/fuzz/corpus/jpeg/rgb_prog_17x5.jpg", 17, 5, 3, 1, 50);
    idx_seed("tests/fuzz/corpus/idx/n3_4x5.bin", 3, 4, 5, 0);
    idx_seed("tests/fuzz/corpus/idx/n2_28x28.bin", 2, 28, 28, 0);
    idx_seed("tests/fuzz/corpus/idx/label10.bin", 2, 3, 3, 1);
    npy_seed("tests/fuzz/corpus/npy/u8_2x1x3x3.npy", "|u1", "(2, 1, 3, 3)", 18, 0);
    npy_seed("tests/fuzz/corpus/npy/f32_2x3x2x1.npy", "<f4", "(2, 3, 2, 1)", 48, 0);
    npy_seed("tests/fuzz/corpus/npy/i64_3.npy", "<i8", "(3,)", 24, 0);
    npy_seed("tests/fuzz/corpus/npy/i32_v2.npy", "<i4", "(4,)", 16, 1);
    npy_seed("tests/fuzz/corpus/npy/f8_other.npy", "<f8", "(2,)", 16, 0);
    printf("make_seeds: done\n");
    return 0;
}
