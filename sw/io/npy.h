/*
 * npy.h — NumPy .npy arrays (format versions 1-3, little-endian, C order) and the members of an
 * .npz archive (a zip of .npy files: stored or deflated members, read with zlib; docs/data.md).
 *
 *   bq_npy a;
 *   if (bq_npy_load(&a, "x.npz", "x", err, sizeof err)) ...   member "x.npy" of x.npz
 *   a.dtype == BQ_NPY_U8, a.ndim == 4, a.shape[0] images, a.data (a.nbytes bytes)
 */
#ifndef BQ_NPY_H
#define BQ_NPY_H
#include <stddef.h>
#include <stdint.h>

typedef enum { BQ_NPY_U8, BQ_NPY_F32, BQ_NPY_I32, BQ_NPY_I64, BQ_NPY_OTHER } bq_npy_dtype;

typedef struct {
    bq_npy_dtype dtype;
    char descr[16];        /* as written, e.g. "<f4", for messages */
    int ndim;
    int64_t shape[8];
    size_t count;          /* product of shape */
    size_t nbytes;         /* count * item size */
    void *data;            /* malloc'd; NULL when only the header was read */
} bq_npy;

/* Parse a .npy header at buf (len bytes). *hdr_len gets the offset of the data. 0 or -1 with
 * "<name>: ..." (the supported dtypes, fortran order and big-endian are named as errors). */
int bq_npy_parse_header(const unsigned char *buf, size_t len, const char *name, bq_npy *a,
                        size_t *hdr_len, char *err, size_t errlen);
/* Load a .npy file, or member `key` (without ".npy") of an .npz file; header_only leaves data
 * NULL. 0 or -1 with one line naming the file (and the member). */
int bq_npy_load(bq_npy *a, const char *path, const char *key, int header_only, char *err,
                size_t errlen);
void bq_npy_free(bq_npy *a);
#endif
