/*
 * data.h — Fashion-MNIST from Debian's dataset-fashion-mnist (gzip IDX files, read with zlib).
 *
 * Images are kept as uint8 (60000 x 784 = 47 MB for the training set) and normalised on the fly
 * into float batches: x = (pixel/255 - mean) / std, mean 0.2860, std 0.3530 by default.
 *
 *   bq_dataset train;
 *   if (bq_dataset_load(&train, NULL, "train", err, sizeof err)) { fprintf(stderr, "%s\n", err); }
 *   bq_dataset_batch(&train, idx, 32, x, labels, 0.2860f, 0.3530f, NULL);
 */
#ifndef BQ_DATA_H
#define BQ_DATA_H
#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"

#define BQ_DATA_DIR_DEFAULT "/usr/share/datasets/fashion-mnist"

typedef struct {
    int n, c, h, w;
    uint8_t *pixels;   /* (n, c, h, w) */
    uint8_t *labels;   /* (n) */
} bq_dataset;

/* Load split "train" or "test" from dir (NULL = $BQ_DATA_DIR or the Debian path). Returns 0, or -1
 * with a one-line message naming the file and the fix (e.g. which package installs it). */
int  bq_dataset_load(bq_dataset *d, const char *dir, const char *split, char *err, size_t errlen);
void bq_dataset_free(bq_dataset *d);

/* Normalise the images idx[0..n-1] into x (n, c, h, w) and labels into y (may be NULL).
 * When aug != NULL, apply training augmentation drawn from it: random crop with 2 pixels of
 * zero padding (in pixel space) and horizontal flip with probability 0.5. */
void bq_dataset_batch(const bq_dataset *d, const int *idx, int n, float *x, int *y, float mean,
                      float std, bq_rng *aug);

/* The calibration subset: the first `count` indices of a seeded permutation of the training
 * set (written to idx). Returns 0, or -1 when count is out of range. */
int bq_calib_indices(int *idx, int count, int train_size, uint64_t seed);
#endif
