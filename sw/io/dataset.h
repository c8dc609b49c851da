/*
 * dataset.h — the dataset YAML (docs/data.md) and the two sources it adds behind bq_dataset_open /
 * bq_dataset_read (sw/nn/data.h): a class-subfolder image tree and NumPy arrays.
 *
 *   bq_dataspec s;
 *   if (bq_dataspec_load(&s, "imagenette.yaml", err, sizeof err)) ...
 *   s.kind == BQ_DS_IMAGES: bq_ds_images_open(&d, &s, "test", ...) then bq_ds_images_read(&d, ...)
 */
#ifndef BQ_DATASET_H
#define BQ_DATASET_H
#include <stddef.h>
#include <stdint.h>
#include "nn/data.h"

enum { BQ_DS_IDX, BQ_DS_IMAGES, BQ_DS_NPY };
enum { BQ_DS_LAYOUT_AUTO, BQ_DS_LAYOUT_NCHW, BQ_DS_LAYOUT_NHWC };
enum { BQ_DS_RGB, BQ_DS_GREY };

#define BQ_DS_PATH 512

typedef struct {
    int kind;
    char dir[BQ_DS_PATH];                    /* idx: the folder of the gzip IDX files */
    char calib[BQ_DS_PATH], eval[BQ_DS_PATH];/* images: class-folder roots; npy: .npy/.npz files */
    char calib_labels[BQ_DS_PATH], eval_labels[BQ_DS_PATH]; /* npy: label arrays (optional) */
    char images_key[64], labels_key[64];     /* npz member names (default x, y) */
    int layout;                              /* npy: auto / NCHW / NHWC */
    int resize, crop;                        /* images: shorter side, centre crop (0 = none) */
    int color;                               /* images: rgb / grey */
    int n_mean, n_std;
    char mean[BQ_DATA_MAXC][32], std[BQ_DATA_MAXC][32];  /* per channel (one = every channel) */
    int classes;                             /* npy: label range 0..classes-1 (0 = max + 1) */
    int cache;                               /* images: keep decoded pixels in a cache file */
    char cache_dir[BQ_DS_PATH];              /* default: "<yaml file>.cache" */
    char path[BQ_DS_PATH];                   /* the YAML file itself */
    uint64_t text_hash;                      /* of the YAML bytes: part of the cache key */
    float meanv[BQ_DATA_MAXC], stdv[BQ_DATA_MAXC];  /* parsed mean/std */
} bq_dataspec;

/* Read a dataset YAML; relative paths in it are made relative to its folder. 0 or -1 (one line,
 * file:line:col for YAML problems). */
int bq_dataspec_load(bq_dataspec *s, const char *path, char *err, size_t errlen);

/* Sources: open fills d's shape, labels, classes (no pixels); read fills d->pixels. */
int bq_ds_images_open(bq_dataset *d, const bq_dataspec *s, const char *split, char *err,
                      size_t errlen);
int bq_ds_images_read(bq_dataset *d, char *err, size_t errlen);
int bq_ds_npy_open(bq_dataset *d, const bq_dataspec *s, const char *split, char *err,
                   size_t errlen);
int bq_ds_npy_read(bq_dataset *d, char *err, size_t errlen);
/* Release d->priv (either source; its first int is the kind). */
void bq_ds_priv_free(bq_dataset *d);
void bq_ds_images_priv_free(void *priv);
void bq_ds_npy_priv_free(void *priv);
#endif
