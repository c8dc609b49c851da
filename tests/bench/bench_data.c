/*
 * bench_data — images/s of the dataset sources (docs/data.md): PNG and JPEG class folders and a
 * uint8 .npy array, at 32x32 and 224x224, decoded (and for images prepared) by the engine's own
 * reader (bq_dataset_load: open + read, `cache: false`, so every run decodes), with the thread
 * count the engine uses (every core, or $BQ_NUM_THREADS).
 *
 *   bench_data [OUT.json] [N]     (defaults build/bench/data_decode.json, 400 images per set)
 *
 * The images are synthetic (seeded smooth gradients + noise, RGB, 10 class folders of N/10), written
 * into a temporary folder (PNG by libpng, JPEG by libjpeg at quality 90) and removed afterwards.
 * Prints a table (median of RUNS) and writes JSON with the machine's 1-minute load.
 */
#include "bench_util.h"
#include "core/fileio.h"
#include "core/progress.h"
#include "io/image.h"
#include "nn/data.h"

#include <jpeglib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUNS 3

static int write_jpeg(const char *path, const uint8_t *rgb, int h, int w) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w; ci.image_height = (JDIMENSION)h;
    ci.input_components = 3; ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)ci.next_scanline * w * 3);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f);
}

/* image i (h, w, 3) RGB: a gradient whose direction depends on i, plus seeded noise */
static void synth(uint8_t *rgb, int h, int w, int i, uint64_t *s) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
                int v = (x * (i % 7 + 1) + y * (c + 1) * 3) * 255 / (w + h) + (int)(*s >> 60);
                rgb[((size_t)y * w + x) * 3 + c] = (uint8_t)(v & 255);
            }
}

/* DIR/{png,jpg}/<class>/<i>.<ext> and DIR/x.npy (n, h, w, 3) + DIR/y.npy; 0 or -1 */
static int write_sets(const char *dir, int n, int h, int w) {
    uint8_t *rgb = malloc((size_t)h * w * 3), *all = malloc((size_t)n * h * w * 3);
    uint64_t s = 12345;
    char p[512], err[512];
    int rc = rgb && all ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++) {
        synth(rgb, h, w, i, &s);
        memcpy(all + (size_t)i * h * w * 3, rgb, (size_t)h * w * 3);
        snprintf(p, sizeof p, "%s/png/c%d", dir, i % 10); bq_mkdirs(p);
        snprintf(p, sizeof p, "%s/png/c%d/%05d.png", dir, i % 10, i);
        rc = bq_png_write(p, rgb, h, w, 3, err, sizeof err);
        snprintf(p, sizeof p, "%s/jpg/c%d", dir, i % 10); bq_mkdirs(p);
        snprintf(p, sizeof p, "%s/jpg/c%d/%05d.jpg", dir, i % 10, i);
        if (rc == 0) rc = write_jpeg(p, rgb, h, w);
    }
    /* .npy v1: magic, version, header length, a dict padded to a multiple of 64 bytes */
    char hdr[256];
    for (int k = 0; k < 2 && rc == 0; k++) {
        int len = k == 0 ? snprintf(hdr, sizeof hdr, "{'descr': '|u1', 'fortran_order': False, "
                                    "'shape': (%d, %d, %d, 3), }", n, h, w)
                         : snprintf(hdr, sizeof hdr, "{'descr': '|u1', 'fortran_order': False, "
                                    "'shape': (%d,), }", n);
        while ((10 + len + 1) % 64) hdr[len++] = ' ';
        hdr[len++] = '\n';
        snprintf(p, sizeof p, "%s/%s.npy", dir, k == 0 ? "x" : "y");
        FILE *f = fopen(p, "wb");
        if (!f) { rc = -1; break; }
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 255),
                                 (unsigned char)(len >> 8)};
        fwrite(pre, 1, 10, f);
        fwrite(hdr, 1, (size_t)len, f);
        for (int i = 0; i < n && k == 1; i++) fputc(i % 10, f);
        if (k == 0) fwrite(all, 1, (size_t)n * h * w * 3, f);
        if (fclose(f)) rc = -1;
    }
    free(rgb); free(all);
    return rc;
}

/* median images/s of bq_dataset_load on the YAML text `yaml` (written to DIR/bench.yaml) */
static double decode_rate(const char *dir, const char *yaml, int n, char *err, size_t errlen) {
    char p[512];
    snprintf(p, sizeof p, "%s/bench.yaml", dir);
    if (bq_write_file_atomic(p, yaml, strlen(yaml), err, errlen)) return -1.0;
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        bq_dataset d;
        double t0 = bq_now();
        if (bq_dataset_load(&d, p, "test", err, errlen)) return -1.0;
        t[r] = bq_now() - t0;
        bq_dataset_free(&d);
    }
    return n / bench_median(t, RUNS);
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "build/bench/data_decode.json";
    const int n = argc > 2 ? atoi(argv[2]) : 400;
    char dir[] = "/tmp/bench_data.XXXXXX", err[1024], cmd[512];
    if (n < 10 || !mkdtemp(dir)) { fprintf(stderr, "bench_data: usage: bench_data [OUT.json] [N >= 10]\n"); return 2; }
    const double load0 = bench_load1();
    bq_buf js = {0};
    bq_buf_printf(&js, "{\"images\": %d, \"runs\": %d, \"load1_start\": %.2f, \"decode\": [", n, RUNS, load0);
    printf("%-6s %-9s %-34s %12s\n", "source", "size", "preparation", "images/s");
    static const int sizes[2] = {32, 224};
    int rc = 0, first = 1;
    for (int si = 0; si < 2 && rc == 0; si++) {
        const int sz = sizes[si];
        char sub[256];
        snprintf(sub, sizeof sub, "%s/%d", dir, sz);
        bq_mkdirs(sub);
        if (write_sets(sub, n, sz, sz)) { fprintf(stderr, "bench_data: cannot write the sets\n"); rc = 1; break; }
        /* as decoded; and for 224 the evaluation transform resize 256 + crop 224 */
        const char *src[3] = {"png", "jpg", "npy"};
        for (int k = 0; k < 3 && rc == 0; k++) {
            for (int prep = 0; prep < (sz == 224 && k < 2 ? 2 : 1); prep++) {
                char yaml[512];
                if (k < 2)
                    snprintf(yaml, sizeof yaml, "kind: images\neval: %s\ncolor: rgb\ncache: false\n%s",
                             src[k], prep ? "resize: 256\ncrop: 224\n" : "");
                else
                    snprintf(yaml, sizeof yaml, "kind: npy\neval: x.npy\neval_labels: y.npy\n");
                const char *what = prep ? "decode + resize 256 + crop 224" : k < 2 ? "decode" : "read NHWC -> NCHW";
                double r = decode_rate(sub, yaml, n, err, sizeof err);
                if (r < 0) { fprintf(stderr, "bench_data: %s\n", err); rc = 1; break; }
                printf("%-6s %3dx%-5d %-34s %12.0f\n", src[k], sz, sz, what, r);
                bq_buf_printf(&js, "%s{\"source\": \"%s\", \"size\": %d, \"prep\": \"%s\", \"images_per_s\": %.1f}",
                              first ? "" : ", ", src[k], sz, what, r);
                first = 0;
            }
        }
    }
    bq_buf_printf(&js, "], \"load1_end\": %.2f}\n", bench_load1());
    printf("1-minute load average: %.2f at the start, %.2f at the end (2 cores; shared machines give noisy numbers)\n",
           load0, bench_load1());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_data: could not remove %s\n", dir);
    if (rc == 0 && (bq_mkdirs_parent(out) || bq_write_file_atomic(out, js.data, js.len, err, sizeof err))) {
        fprintf(stderr, "bench_data: %s\n", err);
        rc = 1;
    }
    bq_buf_free(&js);
    return rc;
}
