/* data.c — the data set: IDX folders, dispatch to the dataset YAML sources (sw/io/dataset.h),
 * the model-vs-data check, batching (see data.h and docs/data.md). */
#include "nn/data.h"
#include "core/errmsg.h"
#include "io/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
    /* The buffer grows with the data read (doubling, up to the header's size): a 50-byte file
     * whose header claims 2 GB fails as truncated without allocating the 2 GB first. */
    size_t got = 0, cap = 0;
    *data = NULL;
    while (got < total) {
        if (got == cap) {
            size_t ncap = cap > total / 2 ? total : cap ? 2 * cap : (size_t)1 << 20;
            if (ncap > total) ncap = total;
            uint8_t *p = realloc(*data, ncap);
            if (!p) {
                bq_seterr(err, errlen, "%s: out of memory", path);
                free(*data); *data = NULL;
                gzclose(f);
                return -1;
            }
            *data = p; cap = ncap;
        }
        int r = gzread(f, *data + got, (unsigned)(cap - got > (1u << 30) ? (1u << 30) : cap - got));
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

/* The IDX pair of split in dir: everything is read at open (47 MB, well under a second). */
static int idx_open(bq_dataset *d, const char *dir, const char *split, char *err, size_t errlen) {
    const char *prefix = strcmp(split, "test") == 0 ? "t10k" : "train";
    char ip[512], lp[512];
    snprintf(ip, sizeof(ip), "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lp, sizeof(lp), "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    snprintf(d->source, sizeof d->source, "%s", dir);
    uint32_t idim[3], ldim[3];
    uint8_t *lab = NULL;
    if (read_idx(ip, 0x803, &d->pixels, idim, err, errlen)) return -1;
    if (read_idx(lp, 0x801, &lab, ldim, err, errlen)) return -1;
    int rc = -1;
    if (idim[0] != ldim[0])
        bq_seterr(err, errlen, "%s: %u images but %u labels in %s", ip, idim[0], ldim[0], lp);
    else if (!(d->labels = malloc(sizeof(int32_t) * ldim[0])))
        bq_seterr(err, errlen, "%s: out of memory", lp);
    else rc = 0;
    for (uint32_t i = 0; rc == 0 && i < ldim[0]; i++) {
        if (lab[i] > 9) {
            bq_seterr(err, errlen, "%s: label %u of image %u is not in 0..9", lp, lab[i], i);
            rc = -1;
        }
        d->labels[i] = lab[i];
    }
    free(lab);
    if (rc) return -1;
    d->n = (int)idim[0]; d->c = 1; d->h = (int)idim[1]; d->w = (int)idim[2];
    d->num_classes = 10;
    return 0;
}

static int is_yaml(const char *p) {
    size_t n = strlen(p);
    return (n > 5 && strcmp(p + n - 5, ".yaml") == 0) || (n > 4 && strcmp(p + n - 4, ".yml") == 0);
}

/* The YAML's mean/std (one value = every channel) into d. */
static int apply_norm(bq_dataset *d, const bq_dataspec *s, char *err, size_t errlen) {
    if (s->n_mean == 0) return 0;
    if (s->n_mean != 1 && s->n_mean != d->c) {
        bq_seterr(err, errlen, "%s: 'mean'/'std' give %d values but the data has %d channel%s; give "
                  "one per channel or one for all", s->path, s->n_mean, d->c, d->c == 1 ? "" : "s");
        return -1;
    }
    for (int c = 0; c < d->c; c++) {
        d->mean[c] = s->meanv[s->n_mean == 1 ? 0 : c];
        d->std[c] = s->stdv[s->n_mean == 1 ? 0 : c];
    }
    d->has_norm = 1;
    return 0;
}

static int open_yaml(bq_dataset *d, const char *path, const char *split, char *err, size_t errlen) {
    bq_dataspec *s = malloc(sizeof *s);   /* ~5 KB: not on the stack */
    if (!s) { bq_seterr(err, errlen, "out of memory"); return -1; }
    int rc = bq_dataspec_load(s, path, err, errlen);
    if (rc == 0)
        rc = s->kind == BQ_DS_IDX ? idx_open(d, s->dir, split, err, errlen)
           : s->kind == BQ_DS_IMAGES ? bq_ds_images_open(d, s, split, err, errlen)
           : bq_ds_npy_open(d, s, split, err, errlen);
    if (rc == 0) rc = apply_norm(d, s, err, errlen);
    free(s);
    return rc;
}

int bq_dataset_open(bq_dataset *d, const char *spec, const char *split, char *err, size_t errlen) {
    memset(d, 0, sizeof(*d));
    snprintf(d->split, sizeof d->split, "%s", strcmp(split, "test") == 0 ? "test" : "train");
    if (!spec) spec = getenv("BQ_DATA_DIR");
    if (!spec) spec = BQ_DATA_DIR_DEFAULT;
    int rc = is_yaml(spec) ? open_yaml(d, spec, d->split, err, errlen)
                           : idx_open(d, spec, d->split, err, errlen);
    if (rc) bq_dataset_free(d);
    return rc;
}

int bq_dataset_read(bq_dataset *d, char *err, size_t errlen) {
    if (d->pixels) return 0;
    const int kind = d->priv ? *(const int *)d->priv : BQ_DS_IDX;
    return kind == BQ_DS_IMAGES ? bq_ds_images_read(d, err, errlen) : bq_ds_npy_read(d, err, errlen);
}

int bq_dataset_check_model(const bq_dataset *d, const bq_model *m, int need_labels, char *err,
                           size_t errlen) {
    if (d->c != m->in_c || d->h != m->in_h || d->w != m->in_w) {
        bq_seterr(err, errlen, "%s: the data gives %dx%dx%d images (CxHxW) but the %s model takes "
                  "%dx%dx%d; pass --data with a dataset YAML whose resize/crop/color (or arrays) "
                  "match the model (docs/data.md)", d->source, d->c, d->h, d->w, m->arch, m->in_c,
                  m->in_h, m->in_w);
        return -1;
    }
    if (need_labels && !d->labels) {
        bq_seterr(err, errlen, "%s: the %s split has no labels, which evaluation needs; add "
                  "'%s_labels: FILE.npy' (or a '%s' array in the .npz) to the dataset YAML",
                  d->source, strcmp(d->split, "test") == 0 ? "evaluation" : "calibration",
                  strcmp(d->split, "test") == 0 ? "eval" : "calib", "y");
        return -1;
    }
    if (d->labels && d->num_classes > m->num_classes) {
        bq_seterr(err, errlen, "%s: the data has %d classes (labels 0..%d) but the %s model has %d "
                  "outputs; use data whose labels index the model's classes", d->source,
                  d->num_classes, d->num_classes - 1, m->arch, m->num_classes);
        return -1;
    }
    if (d->class_names && d->num_classes != m->num_classes) {
        bq_seterr(err, errlen, "%s: %d class folders but the %s model has %d classes; the sorted "
                  "folder names must be the model's classes, one folder each", d->source,
                  d->num_classes, m->arch, m->num_classes);
        return -1;
    }
    return 0;
}

int bq_dataset_load(bq_dataset *d, const char *spec, const char *split, char *err, size_t errlen) {
    return bq_dataset_load_for(d, spec, split, NULL, 0, err, errlen);
}

int bq_dataset_load_for(bq_dataset *d, const char *spec, const char *split, const bq_model *m,
                        int need_labels, char *err, size_t errlen) {
    if (bq_dataset_open(d, spec, split, err, errlen)) return -1;
    if ((m && bq_dataset_check_model(d, m, need_labels, err, errlen)) ||
        bq_dataset_read(d, err, errlen)) {
        bq_dataset_free(d);
        return -1;
    }
    return 0;
}

void bq_dataset_free(bq_dataset *d) {
    bq_ds_priv_free(d);
    if (d->map) munmap(d->map, d->map_len);
    else free(d->pixels);
    free(d->labels);
    free(d->class_names);
    memset(d, 0, sizeof(*d));
}

void bq_dataset_batch(const bq_dataset *d, const int *idx, int n, float *x, int *y, float mean,
                      float std, bq_rng *aug) {
    const int H = d->h, W = d->w, C = d->c, plane = H * W;
    /* per channel: x = pixel * scale + shift (the same float operations for the model's scalars) */
    float scale[BQ_DATA_MAXC], shift[BQ_DATA_MAXC];
    for (int c = 0; c < C; c++) {
        float mu = d->has_norm ? d->mean[c] : mean, sd = d->has_norm ? d->std[c] : std;
        scale[c] = 1.0f / (255.0f * sd);
        shift[c] = -mu / sd;
    }
    for (int b = 0; b < n; b++) {
        const uint8_t *src = d->pixels + (size_t)idx[b] * (size_t)(C * plane);
        float *dst = x + (size_t)b * (size_t)(C * plane);
        if (y) y[b] = d->labels ? d->labels[idx[b]] : -1;
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
                    dst[c * plane + i * W + j] = p * scale[c] + shift[c];
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
