/*
 * zrows.h — rows of floats stored without their zeros (the reconstruction caches).
 *
 * Why: the caches of one unit hold the FP targets and the unit inputs of 1024 calibration images
 * as floats (2 x 51 MB on fres20's first stage). They are post-ReLU activations, 34-59% zeros on
 * fres20 (measured), so each row is kept as a bitmap of its non-zero elements (1 bit each) plus
 * those elements packed: 2.7 instead of 4 bytes per value there. Lossless: "zero" means the
 * all-zero bit pattern (+0.0), so -0.0 and everything else round-trip bit for bit, and results
 * do not change (a pure storage change). Decoding a row is a masked expand-load on AVX-512
 * (16 floats per instruction), a scalar loop elsewhere.
 *
 * Rows are written once, in order (put row 0, 1, ...), and read at random.
 *   bq_zrows z;
 *   if (bq_zrows_init(&z, n, len)) ...oom...
 *   for (r...) if (bq_zrows_put(&z, src_row)) ...oom...
 *   bq_zrows_get(&z, r, dst);         // dst: len floats
 *   bq_zrows_free(&z);
 */
#ifndef BQ_ZROWS_H
#define BQ_ZROWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n, rows;               /* capacity in rows, rows written */
    size_t len;                /* floats per row */
    unsigned char **row;       /* [n] each row: bitmap ((len + 7) / 8 bytes) + non-zero floats */
    unsigned char **blk;       /* [n] storage blocks (BQ_ZROWS_BLOCK bytes or one row), */
    int nblk;                  /* filled in order: no reallocation, so no transient copies */
    size_t blk_used, blk_cap;  /* of the last block */
    size_t bytes;              /* allocated */
} bq_zrows;

/* 0, or -1 (out of memory). A zeroed struct is "empty" and may be freed. */
int bq_zrows_init(bq_zrows *z, int n, size_t len);
/* Append the next row (len floats). 0, or -1 (out of memory, or all n rows written). */
int bq_zrows_put(bq_zrows *z, const float *src);
/* dst (len floats) = row r (0 <= r < rows). */
void bq_zrows_get(const bq_zrows *z, int r, float *dst);
/* Bytes held (for reports). */
size_t bq_zrows_bytes(const bq_zrows *z);
void bq_zrows_free(bq_zrows *z);

#endif
