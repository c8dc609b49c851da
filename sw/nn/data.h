/*
 * data.h — the data set the engine reads, from one of three sources (docs/data.md):
 *   - a folder of Fashion-MNIST gzip IDX files (the default: Debian's dataset-fashion-mnist),
 *   - a dataset YAML (`kind: idx | images | npy`) naming a class-subfolder image tree (PNG/JPEG)
 *     or NumPy arrays (.npy/.npz) for the calibration ("train") and evaluation ("test") splits.
 *
 * Images are kept as uint8 (n, c, h, w) after decode/resize/crop and normalised on the fly into
 * float batches, per channel:  x = pixel * (1 / (255 * std[c])) + (-mean[c] / std[c])
 * (the same float operations as before per-channel statistics existed, so IDX runs give the same
 * bytes). The statistics are the data set's when its YAML gives `mean`/`std`, else the model's
 * scalar in_mean/in_std for every channel.
 *
 * Loading is two steps so that a wrong data set fails before any work: bq_dataset_open reads only
 * what the check needs (shape, labels, classes), bq_dataset_check_model compares it with the model,
 * bq_dataset_read decodes the pixels. bq_dataset_load_for does all three; bq_dataset_load is open +
 * read without a model.
 *
 *   bq_dataset te;
 *   if (bq_dataset_load_for(&te, spec, "test", &model, 1, err, sizeof err)) { print err; exit 1; }
 *   bq_dataset_batch(&te, idx, 32, x, labels, model.in_mean, model.in_std, NULL);
 */
#ifndef BQ_DATA_H
#define BQ_DATA_H
#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"
#include "nn/graph.h"

#define BQ_DATA_DIR_DEFAULT "/usr/share/datasets/fashion-mnist"
#define BQ_DATA_MAXC 4          /* most input channels a data set may have */
#define BQ_DATA_CLASS_LEN 64    /* longest class (folder) name kept for reports */

/* A data set made by hand (tests) starts zeroed (memset), then sets n, c, h, w, pixels, labels:
 * the fields after those are read by the checks and reports. */
typedef struct {
    int n, c, h, w;
    uint8_t *pixels;            /* (n, c, h, w); NULL until bq_dataset_read */
    int32_t *labels;            /* (n); NULL for a calibration set given without labels */
    int num_classes;            /* label range the data declares (class folders, `classes:`), or
                                   max label + 1; 0 when there are no labels */
    int has_norm;               /* mean/std below come from the dataset YAML */
    float mean[BQ_DATA_MAXC], std[BQ_DATA_MAXC];
    char (*class_names)[BQ_DATA_CLASS_LEN]; /* (num_classes) for image folders, else NULL */
    char source[512];           /* what the data came from, for messages: a file or folder */
    char split[8];              /* "train" or "test" */
    uint64_t key;               /* identity of a dataset-YAML source for caches (YAML bytes, files,
                                   sizes, mtimes); 0 for an IDX folder */
    void *priv;                 /* source-specific state between open and read (sw/io/dataset.h) */
    void *map; size_t map_len;  /* mmapped pixel cache (pixels points into it), or NULL */
} bq_dataset;

/* spec: NULL (= $BQ_DATA_DIR or the Debian path), an IDX folder, or a dataset YAML file
 * (*.yaml / *.yml). split: "train" (calibration/training) or "test" (evaluation).
 * Returns 0, or -1 with a one-line message naming the file and the fix. */
int  bq_dataset_open(bq_dataset *d, const char *spec, const char *split, char *err, size_t errlen);
/* Decode the pixels of an opened data set (a no-op when they are there). 0 or -1. */
int  bq_dataset_read(bq_dataset *d, char *err, size_t errlen);
/* The model-vs-data check every command runs before any work: input shape (C,H,W), labels
 * present when need_labels, label range within the model's classes. 0, or -1 with one line
 * naming both shapes and the fix. */
int  bq_dataset_check_model(const bq_dataset *d, const bq_model *m, int need_labels,
                            char *err, size_t errlen);
int  bq_dataset_load(bq_dataset *d, const char *spec, const char *split, char *err, size_t errlen);
/* open + check against m (when m != NULL) + read. Nothing is left allocated on failure. */
int  bq_dataset_load_for(bq_dataset *d, const char *spec, const char *split,
                         const bq_model *m, int need_labels, char *err, size_t errlen);
void bq_dataset_free(bq_dataset *d);

/* Normalise the images idx[0..n-1] into x (n, c, h, w) and labels into y (may be NULL; -1 for a
 * data set without labels). mean/std are the model's scalars, used unless d->has_norm.
 * When aug != NULL, apply training augmentation drawn from it: random crop with 2 pixels of
 * zero padding (in pixel space) and horizontal flip with probability 0.5. */
void bq_dataset_batch(const bq_dataset *d, const int *idx, int n, float *x, int *y, float mean,
                      float std, bq_rng *aug);

/* The calibration subset: the first `count` indices of a seeded permutation of the training
 * set (written to idx). Returns 0, or -1 when count is out of range. */
int bq_calib_indices(int *idx, int count, int train_size, uint64_t seed);
#endif
