/* dataset.c — the dataset YAML (see dataset.h and docs/data.md). The sources live in
 * dataset_images.c and dataset_npy.c. */
#include "io/dataset.h"
#include "core/errmsg.h"
#include "core/fileio.h"
#include "core/yamldoc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kKinds[] = {"idx", "images", "npy", NULL};
static const char *const kLayouts[] = {"auto", "NCHW", "NHWC", NULL};
static const char *const kColors[] = {"rgb", "grey", NULL};

#define STR(k, f, w) {k, BQ_Y_STR, 0, 1, sizeof(((bq_dataspec *)0)->f) - 1, offsetof(bq_dataspec, f), \
                      .size = sizeof(((bq_dataspec *)0)->f), .what = w}
#define FLIST(k, f, n, w) {k, BQ_Y_STR_LIST, BQ_Y_NONEMPTY, 1, 31, offsetof(bq_dataspec, f), \
                           .size = 32, .cap = BQ_DATA_MAXC, .count_off = offsetof(bq_dataspec, n), \
                           .what = w}
static const bq_ykey kSpecKeys[] = {
    {"kind", BQ_Y_ENUM, BQ_Y_REQUIRED, 0, 0, offsetof(bq_dataspec, kind), .names = kKinds,
     .what = "the source: idx folder, class-subfolder images, or NumPy arrays"},
    STR("dir", dir, "idx: folder of the gzip IDX files"),
    STR("calib", calib, "calibration/training split: image root or .npy/.npz file"),
    STR("eval", eval, "evaluation split: image root or .npy/.npz file"),
    STR("calib_labels", calib_labels, "npy: labels of the calibration split (.npy/.npz)"),
    STR("eval_labels", eval_labels, "npy: labels of the evaluation split (.npy/.npz)"),
    {"images_key", BQ_Y_STR, BQ_Y_WORD, 1, 63, offsetof(bq_dataspec, images_key), .size = 64,
     .what = "npz: name of the image array"},
    {"labels_key", BQ_Y_STR, BQ_Y_WORD, 1, 63, offsetof(bq_dataspec, labels_key), .size = 64,
     .what = "npz: name of the label array"},
    {"layout", BQ_Y_ENUM, 0, 0, 0, offsetof(bq_dataspec, layout), .names = kLayouts,
     .def = BQ_DS_LAYOUT_AUTO, .what = "npy: image array layout"},
    {"resize", BQ_Y_INT, 0, 0, 65535, offsetof(bq_dataspec, resize), .def = 0,
     .what = "images: shorter side after bilinear resize; 0 = no resize"},
    {"crop", BQ_Y_INT, 0, 0, 65535, offsetof(bq_dataspec, crop), .def = 0,
     .what = "images: centre crop size; 0 = no crop"},
    {"color", BQ_Y_ENUM, 0, 0, 0, offsetof(bq_dataspec, color), .names = kColors, .def = BQ_DS_RGB,
     .what = "images: 3-channel RGB or 1-channel grey"},
    FLIST("mean", mean, n_mean, "per-channel mean of pixel/255"),
    FLIST("std", std, n_std, "per-channel std of pixel/255"),
    {"classes", BQ_Y_INT, 0, 0, 1000000, offsetof(bq_dataspec, classes), .def = 0,
     .what = "npy: number of classes; 0 = largest label + 1"},
    {"cache", BQ_Y_BOOL, 0, 0, 0, offsetof(bq_dataspec, cache), .def = 1,
     .what = "images: keep the decoded pixels in a cache file"},
    STR("cache_dir", cache_dir, "images: folder of the cache files"),
};
#define NKEYS ((int)(sizeof kSpecKeys / sizeof kSpecKeys[0]))

/* Make a relative path in the YAML relative to the YAML's folder. */
static int rebase(char *p, const char *yaml, const char *key, char *err, size_t errlen) {
    if (!p[0] || p[0] == '/') return 0;
    const char *slash = strrchr(yaml, '/');
    if (!slash) return 0;
    char out[BQ_DS_PATH];
    int n = snprintf(out, sizeof out, "%.*s/%s", (int)(slash - yaml), yaml, p);
    if (n < 0 || n >= (int)sizeof out) {
        bq_seterr(err, errlen, "%s: '%s' is too long with the YAML's folder in front; use a "
                  "shorter path", yaml, key);
        return -1;
    }
    memcpy(p, out, (size_t)n + 1);
    return 0;
}

/* mean/std items -> numbers (the schema has no float list); std must be positive. */
static int parse_stats(bq_dataspec *s, const bq_ymarks *mk, char *err, size_t errlen) {
    for (int w = 0; w < 2; w++) {
        int n = w ? s->n_std : s->n_mean;
        for (int i = 0; i < n; i++) {
            const char *t = w ? s->std[i] : s->mean[i];
            char *e;
            double v = strtod(t, &e);
            if (e == t || *e || !isfinite(v) || (w && v <= 0) || fabs(v) > 1e6) {
                const bq_ymark *m = bq_ymarks_find(mk, w ? "std" : "mean");
                bq_seterr(err, errlen, "%s:%zu: '%s' item %d must be a %snumber, got '%s'", s->path,
                          m ? m->value_mark.line + 1 : 0, w ? "std" : "mean", i + 1,
                          w ? "positive " : "", t);
                return -1;
            }
            (w ? s->stdv : s->meanv)[i] = (float)v;
        }
    }
    if (s->n_mean != s->n_std) {
        bq_seterr(err, errlen, "%s: 'mean' has %d values but 'std' has %d; give both per channel "
                  "(or one each for every channel)", s->path, s->n_mean, s->n_std);
        return -1;
    }
    return 0;
}

/* Cross-key checks: what each kind needs. */
static int check_kind(const bq_dataspec *s, char *err, size_t errlen) {
    if (s->kind == BQ_DS_IDX && !s->dir[0]) {
        bq_seterr(err, errlen, "%s: kind idx needs 'dir: FOLDER' (the gzip IDX files)", s->path);
        return -1;
    }
    if (s->kind != BQ_DS_IDX && !s->calib[0] && !s->eval[0]) {
        bq_seterr(err, errlen, "%s: kind %s needs 'calib:' and/or 'eval:' (%s)", s->path,
                  kKinds[s->kind], s->kind == BQ_DS_IMAGES ? "class-subfolder roots" : ".npy/.npz files");
        return -1;
    }
    return 0;
}

int bq_dataspec_load(bq_dataspec *s, const char *path, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    bq_yschema_defaults(kSpecKeys, NKEYS, s);
    snprintf(s->images_key, sizeof s->images_key, "x");
    snprintf(s->labels_key, sizeof s->labels_key, "y");
    if (strlen(path) >= sizeof s->path) {
        bq_seterr(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    unsigned char *text;
    size_t len;
    if (bq_read_file(path, &text, &len, err, errlen)) return -1;
    s->text_hash = bq_fnv1a64(text, len, BQ_FNV_INIT);
    bq_ymarks mk;
    mk.n = 0;
    int rc = bq_yschema_parse(kSpecKeys, NKEYS, text, len, path, s, &mk, err, errlen);
    free(text);
    if (rc || parse_stats(s, &mk, err, errlen) || check_kind(s, err, errlen)) return -1;
    char *rel[] = {s->dir, s->calib, s->eval, s->calib_labels, s->eval_labels, s->cache_dir};
    const char *names[] = {"dir", "calib", "eval", "calib_labels", "eval_labels", "cache_dir"};
    for (int i = 0; i < 6; i++)
        if (rebase(rel[i], path, names[i], err, errlen)) return -1;
    if (!s->cache_dir[0] &&
        snprintf(s->cache_dir, sizeof s->cache_dir, "%s.cache", path) >= (int)sizeof s->cache_dir) {
        bq_seterr(err, errlen, "%s: path too long for the cache folder; set cache_dir", path);
        return -1;
    }
    return 0;
}

void bq_ds_priv_free(bq_dataset *d) {
    if (!d->priv) return;
    if (*(const int *)d->priv == BQ_DS_IMAGES) bq_ds_images_priv_free(d->priv);
    else bq_ds_npy_priv_free(d->priv);
    d->priv = NULL;
}
