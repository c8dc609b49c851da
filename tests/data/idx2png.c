/*
 * idx2png.c — test helper: write the first N images of an IDX split as a class-subfolder PNG
 * tree, OUT/<label>/<index>.png (8-bit grey), for tests/data/test_data.sh.
 *
 *   idx2png [--rgb] IDX_DIR test|train N OUT
 */
#include "core/fileio.h"
#include "io/image.h"
#include "nn/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int rgb = argc > 1 && strcmp(argv[1], "--rgb") == 0;
    if (argc != 5 + rgb) {
        fprintf(stderr, "usage: idx2png [--rgb] IDX_DIR test|train N OUT\n");
        return 2;
    }
    argv += rgb;
    char err[1024];
    bq_dataset d;
    if (bq_dataset_load(&d, argv[1], argv[2], err, sizeof err)) { fprintf(stderr, "idx2png: %s\n", err); return 1; }
    int n = atoi(argv[3]);
    if (n < 1 || n > d.n) n = d.n;
    const int plane = d.h * d.w;
    uint8_t *px = malloc((size_t)plane * 3);
    int rc = px ? 0 : 1;
    for (int i = 0; i < n && rc == 0; i++) {
        char dir[4096], path[4200];
        snprintf(dir, sizeof dir, "%s/%d", argv[4], d.labels[i]);
        bq_mkdirs(dir);
        snprintf(path, sizeof path, "%s/%05d.png", dir, i);
        const uint8_t *src = d.pixels + (size_t)i * plane;
        for (int p = 0; p < plane; p++)   /* grey, or the same value in R, G and B */
            for (int k = 0; k < (rgb ? 3 : 1); k++) px[p * (rgb ? 3 : 1) + k] = src[p];
        if (bq_png_write(path, px, d.h, d.w, rgb ? 3 : 1, err, sizeof err)) {
            fprintf(stderr, "idx2png: %s\n", err);
            rc = 1;
        }
    }
    free(px);
    bq_dataset_free(&d);
    return rc;
}
