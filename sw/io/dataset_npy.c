/* dataset_npy.c — the NumPy source: an image array (uint8 pixels, or float32 pixel/255 values,
 * NCHW or NHWC) and an optional label array (int64/int32/uint8) per split (docs/data.md). */
#include "io/dataset.h"
#include "io/npy.h"
#include "core/errmsg.h"
#include "core/fileio.h"

#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int kind;              /* BQ_DS_NPY (bq_ds_priv_free) */
    char path[BQ_DS_PATH], key[64];
    int nhwc;
} npy_priv;

/* (N,H,W) is one channel; (N,A,B,C) is NCHW or NHWC by `layout`, or by which axis holds 1 or 3
 * channels when auto (both or neither: the YAML must say). */
static int array_shape(bq_dataset *d, const bq_npy *a, int layout, const char *name, int *nhwc,
                       char *err, size_t errlen) {
    if (a->dtype != BQ_NPY_U8 && a->dtype != BQ_NPY_F32) {
        bq_seterr(err, errlen, "%s: image array of dtype '%s'; save uint8 pixels or float32 "
                  "pixel/255 values (numpy: x.astype('uint8'))", name, a->descr);
        return -1;
    }
    if (a->ndim == 3) { d->n = (int)a->shape[0]; d->c = 1; d->h = (int)a->shape[1]; d->w = (int)a->shape[2]; *nhwc = 0; }
    else if (a->ndim == 4) {
        int64_t s1 = a->shape[1], s3 = a->shape[3];
        int c1 = s1 == 1 || s1 == 3, c3 = s3 == 1 || s3 == 3;
        if (layout == BQ_DS_LAYOUT_AUTO && c1 == c3) {
            bq_seterr(err, errlen, "%s: cannot tell NCHW from NHWC in shape (%lld, %lld, %lld, %lld); "
                      "set 'layout: NCHW' or 'layout: NHWC' in the dataset YAML", name,
                      (long long)a->shape[0], (long long)s1, (long long)a->shape[2], (long long)s3);
            return -1;
        }
        *nhwc = layout == BQ_DS_LAYOUT_NHWC || (layout == BQ_DS_LAYOUT_AUTO && c3);
        d->n = (int)a->shape[0];
        d->c = (int)(*nhwc ? s3 : s1);
        d->h = (int)a->shape[*nhwc ? 1 : 2];
        d->w = (int)a->shape[*nhwc ? 2 : 3];
    } else {
        bq_seterr(err, errlen, "%s: image array has %d dimensions; it must be (N, C, H, W), "
                  "(N, H, W, C) or (N, H, W)", name, a->ndim);
        return -1;
    }
    if (d->n < 1 || d->c < 1 || d->c > BQ_DATA_MAXC || d->h < 1 || d->w < 1 ||
        (size_t)d->n * d->c * d->h * d->w != a->count) {
        bq_seterr(err, errlen, "%s: image array of shape %dx%dx%dx%d (N,C,H,W) is empty or has "
                  "more than %d channels", name, d->n, d->c, d->h, d->w, BQ_DATA_MAXC);
        return -1;
    }
    return 0;
}

/* Labels: 1-D, one per image, int64/int32/uint8, in 0..classes-1 when classes is given. */
static int load_labels(bq_dataset *d, const char *path, const char *key, int classes, char *err,
                       size_t errlen) {
    bq_npy l;
    if (bq_npy_load(&l, path, key, 0, err, errlen)) return -1;
    int rc = -1;
    if (l.dtype != BQ_NPY_I64 && l.dtype != BQ_NPY_I32 && l.dtype != BQ_NPY_U8)
        bq_seterr(err, errlen, "%s: label array of dtype '%s'; save int64, int32 or uint8 class "
                  "indices", path, l.descr);
    else if (l.ndim != 1 || l.shape[0] != d->n)
        bq_seterr(err, errlen, "%s: label array of %d dimensions and %lld entries; it must be 1-D "
                  "with one label per image (%d)", path, l.ndim, l.ndim ? (long long)l.shape[0] : 0LL, d->n);
    else if (!(d->labels = malloc(sizeof(int32_t) * (size_t)d->n)))
        bq_seterr(err, errlen, "%s: out of memory", path);
    else rc = 0;
    int64_t top = -1;
    for (int i = 0; rc == 0 && i < d->n; i++) {
        int64_t v = l.dtype == BQ_NPY_I64 ? ((const int64_t *)l.data)[i]
                  : l.dtype == BQ_NPY_I32 ? ((const int32_t *)l.data)[i] : ((const uint8_t *)l.data)[i];
        if (v < 0 || v > 1000000 || (classes && v >= classes)) {
            bq_seterr(err, errlen, "%s: label %lld of image %d is outside 0..%d; fix the labels or "
                      "'classes:' in the dataset YAML", path, (long long)v, i,
                      classes ? classes - 1 : 1000000);
            rc = -1;
        }
        if (rc == 0) d->labels[i] = (int32_t)v;
        if (v > top) top = v;
    }
    d->num_classes = classes ? classes : (int)(top + 1);
    bq_npy_free(&l);
    return rc;
}

static int is_npz(const char *p) {
    size_t n = strlen(p);
    return n > 4 && strcmp(p + n - 4, ".npz") == 0;
}

int bq_ds_npy_open(bq_dataset *d, const bq_dataspec *s, const char *split, char *err,
                   size_t errlen) {
    int test = strcmp(split, "test") == 0;
    const char *path = test ? s->eval : s->calib, *lpath = test ? s->eval_labels : s->calib_labels;
    if (!path[0]) {
        bq_seterr(err, errlen, "%s: no '%s:' array for the %s split; add '%s: FILE.npy'", s->path,
                  test ? "eval" : "calib", test ? "evaluation" : "calibration", test ? "eval" : "calib");
        return -1;
    }
    npy_priv *P = calloc(1, sizeof *P);
    if (!P) { bq_seterr(err, errlen, "out of memory"); return -1; }
    P->kind = BQ_DS_NPY;
    d->priv = P;
    snprintf(P->path, sizeof P->path, "%s", path);
    snprintf(P->key, sizeof P->key, "%s", s->images_key);
    snprintf(d->source, sizeof d->source, "%s", path);
    /* identity: the YAML bytes, the split and the files' sizes and modification times */
    d->key = bq_fnv1a64(&s->text_hash, sizeof s->text_hash, BQ_FNV_INIT);
    d->key = bq_fnv1a64(split, strlen(split), d->key);
    const char *files[2] = {path, lpath};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        int64_t meta[3] = {0, 0, 0};
        if (files[i][0] && stat(files[i], &st) == 0) {
            meta[0] = (int64_t)st.st_size; meta[1] = (int64_t)st.st_mtim.tv_sec;
            meta[2] = (int64_t)st.st_mtim.tv_nsec;
        }
        d->key = bq_fnv1a64(meta, sizeof meta, d->key);
    }
    bq_npy a;
    if (bq_npy_load(&a, path, s->images_key, 1, err, errlen)) return -1;
    int rc = array_shape(d, &a, s->layout, path, &P->nhwc, err, errlen);
    bq_npy_free(&a);
    if (rc) return -1;
    if (lpath[0]) return load_labels(d, lpath, s->labels_key, s->classes, err, errlen);
    if (is_npz(path) && load_labels(d, path, s->labels_key, s->classes, err, errlen)) {
        if (!strstr(err, "no array")) return -1;   /* an npz without labels is a label-free split */
        free(d->labels); d->labels = NULL; d->num_classes = 0;
    }
    return 0;
}

/* float32 pixel/255 values -> the 8-bit grid; values outside [0, 1] are an error. */
static int to_u8(const float *v, size_t n, uint8_t *out, const char *name, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] >= 0.0f && v[i] <= 1.0f)) {
            bq_seterr(err, errlen, "%s: float32 value %g at flat index %zu is outside [0, 1]; float "
                      "arrays hold pixel/255 (before mean/std), or save uint8 pixels", name,
                      (double)v[i], i);
            return -1;
        }
        out[i] = (uint8_t)lrintf(v[i] * 255.0f);
    }
    return 0;
}

int bq_ds_npy_read(bq_dataset *d, char *err, size_t errlen) {
    const npy_priv *P = d->priv;
    bq_npy a;
    if (bq_npy_load(&a, P->path, P->key, 0, err, errlen)) return -1;
    const size_t n = a.count, plane = (size_t)d->h * d->w, img = plane * d->c;
    uint8_t *u8 = a.dtype == BQ_NPY_U8 ? a.data : malloc(n ? n : 1);
    int rc = u8 ? 0 : (bq_seterr(err, errlen, "%s: out of memory", P->path), -1);
    if (rc == 0 && a.dtype == BQ_NPY_F32) rc = to_u8(a.data, n, u8, P->path, err, errlen);
    if (rc == 0 && P->nhwc) {   /* (n, h, w, c) -> (n, c, h, w) */
        uint8_t *t = malloc(n ? n : 1);
        if (!t) rc = (bq_seterr(err, errlen, "%s: out of memory", P->path), -1);
        for (size_t i = 0; t && i < (size_t)d->n; i++)
            for (size_t p = 0; p < plane; p++)
                for (int c = 0; c < d->c; c++)
                    t[i * img + (size_t)c * plane + p] = u8[i * img + p * d->c + c];
        if (t) { if (u8 != a.data) free(u8); u8 = t; }
    }
    if (rc == 0) d->pixels = u8;
    else if (u8 != a.data) free(u8);
    if (u8 == a.data && rc == 0) a.data = NULL;   /* d owns it now */
    bq_npy_free(&a);
    return rc;
}

void bq_ds_npy_priv_free(void *priv) { free(priv); }
