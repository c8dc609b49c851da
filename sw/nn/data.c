/* data.c — Fashion-MNIST IDX loading and batching (see data.h). */
#include "nn/data.h"
#include "core/errmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Read a whole gzip IDX file: magic 0x00000803 (images) or 0x00000801 (labels). */
static int read_idx(const char *path, uint32_t magic, uint8_t **data, uint32_t dims[3],
                    char *err, size_t errlen) {
    gzFile f = gzopen(path, "rb");
    if (!f) {
        bq_seterr(err, errlen, "%s: cannot open; install the data set with "
                  "`apt-get install dataset-fashion-mnist` (or set BQ_DATA_DIR)", path);
        return -1;
    }
    unsigned char hdr[16];
    int nd = magic == 0x803 ? 3 : 1;
    int hlen = 4 + 4 * nd;
    if (gzread(f, hdr, (unsigned)hlen) != hlen || be32(hdr) != magic) {
        bq_seterr(err, errlen, "%s: not an IDX file of the expected kind (bad header); "
                  "reinstall dataset-fashion-mnist", path);
        gzclose(f);
        return -1;
    }
    size_t total = 1;
    for (int i = 0; i < nd; i++) { dims[i] = be32(hdr + 4 + 4 * i); total *= dims[i]; }
    if (total == 0 || total > (size_t)1 << 31) {
        bq_seterr(err, errlen, "%s: implausible dimensions in the header", path);
        gzclose(f);
        return -1;
    }
    *data = malloc(total);
    if (!*data) { bq_seterr(err, errlen, "%s: out of memory", path); gzclose(f); return -1; }
    size_t got = 0;
    while (got < total) {
        int r = gzread(f, *data + got, (unsigned)(total - got > (1u << 30) ? (1u << 30) : total - got));
        if (r <= 0) break;
        got += (size_t)r;
    }
    gzclose(f);
    if (got != total) {
        bq_seterr(err, errlen, "%s: truncated (%zu of %zu bytes); reinstall dataset-fashion-mnist",
                  path, got, total);
        free(*data); *data = NULL;
        return -1;
    }
    return 0;
}

int bq_dataset_load(bq_dataset *d, const char *dir, const char *split, char *err, size_t errlen) {
    memset(d, 0, sizeof(*d));
    if (!dir) dir = getenv("BQ_DATA_DIR");
    if (!dir) dir = BQ_DATA_DIR_DEFAULT;
    const char *prefix = strcmp(split, "test") == 0 ? "t10k" : "train";
    char ip[512], lp[512];
    snprintf(ip, sizeof(ip), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lp, sizeof(lp), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    uint32_t idim[3], ldim[3];
    if (read_idx(ip, 0x803, &d->pixels, idim, err, errlen)) return -1;
    if (read_idx(lp, 0x801, &d->labels, ldim, err, errlen)) { bq_dataset_free(d); return -1; }
    if (idim[0] != ldim[0]) {
        bq_seterr(err, errlen, "%s: %u images but %u labels in %s", ip, idim[0], ldim[0], lp);
        bq_dataset_free(d);
        return -1;
    }
    for (uint32_t i = 0; i < ldim[0]; i++)
        if (d->labels[i] > 9) {
            bq_seterr(err, errlen, "%s: label %u of image %u is not in 0..9", lp, d->labels[i], i);
            bq_dataset_free(d);
            return -1;
        }
    d->n = (int)idim[0]; d->c = 1; d->h = (int)idim[1]; d->w = (int)idim[2];
    return 0;
}

void bq_dataset_free(bq_dataset *d) {
    free(d->pixels); free(d->labels);
    memset(d, 0, sizeof(*d));
}

void bq_dataset_batch(const bq_dataset *d, const int *idx, int n, float *x, int *y, float mean,
                      float std, bq_rng *aug) {
    const int H = d->h, W = d->w, C = d->c, plane = H * W;
    const float scale = 1.0f / (255.0f * std), shift = -mean / std;
    for (int b = 0; b < n; b++) {
        const uint8_t *src = d->pixels + (size_t)idx[b] * (size_t)(C * plane);
        float *dst = x + (size_t)b * (size_t)(C * plane);
        if (y) y[b] = d->labels[idx[b]];
        int dy = 0, dx = 0, flip = 0;
        if (aug) {
            dy = (int)bq_rng_below(aug, 5) - 2;   /* crop offset in [-2, 2] = padding 2 */
            dx = (int)bq_rng_below(aug, 5) - 2;
            flip = (int)bq_rng_below(aug, 2);
        }
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int si = i + dy, sj = (flip ? W - 1 - j : j) + dx;
                    float p = (si >= 0 && si < H && sj >= 0 && sj < W)
                                  ? (float)src[c * plane + si * W + sj] : 0.0f;
                    dst[c * plane + i * W + j] = p * scale + shift;
                }
    }
}

int bq_calib_indices(int *idx, int count, int train_size, uint64_t seed) {
    if (count <= 0 || count > train_size) return -1;
    int *perm = malloc(sizeof(int) * (size_t)train_size);
    if (!perm) return -1;
    bq_rng r;
    bq_rng_seed(&r, seed);
    bq_rng_permutation(&r, perm, train_size);
    memcpy(idx, perm, sizeof(int) * (size_t)count);
    free(perm);
    return 0;
}
