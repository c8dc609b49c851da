/*
 * fileio.h — whole-file reads, atomic writes, and a bounds-checked little-endian byte buffer.
 *
 * Every output of the project is written with bq_write_file_atomic: the bytes go to
 * "<path>.tmp.<pid>", are flushed and fsync'ed, then renamed over <path>, so a killed run never
 * leaves a half-written file behind.
 */
#ifndef BQ_FILEIO_H
#define BQ_FILEIO_H
#include <stddef.h>
#include <stdint.h>

/* Growable output buffer. Writers never fail individually; check .oom at the end. */
typedef struct { unsigned char *data; size_t len, cap; int oom; } bq_buf;
void bq_buf_put(bq_buf *b, const void *p, size_t n);
void bq_buf_u32(bq_buf *b, uint32_t v);
void bq_buf_i32(bq_buf *b, int32_t v);
void bq_buf_u64(bq_buf *b, uint64_t v);
void bq_buf_f32(bq_buf *b, float v);
void bq_buf_str(bq_buf *b, const char *s, size_t fixed_len);   /* zero-padded fixed field */
void bq_buf_printf(bq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bq_buf_free(bq_buf *b);

/* Bounds-checked reader: every get returns 0, or -1 once past the end (and stays failed). */
typedef struct { const unsigned char *data; size_t len, pos; int bad; } bq_rd;
int bq_rd_u32(bq_rd *r, uint32_t *v);
int bq_rd_i32(bq_rd *r, int32_t *v);
int bq_rd_u64(bq_rd *r, uint64_t *v);
int bq_rd_f32(bq_rd *r, float *v);
int bq_rd_bytes(bq_rd *r, void *dst, size_t n);
int bq_rd_str(bq_rd *r, char *dst, size_t fixed_len);   /* always NUL-terminates */

/* Read a whole file into a malloc'ed buffer. Returns 0 or -1 with "path: reason". */
int bq_read_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen);
/* Atomically replace path with the given bytes. Returns 0 or -1 with "path: reason". */
int bq_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* mkdir -p. Returns 0 or -1. */
int bq_mkdirs(const char *path);
/* mkdir -p of the folder that holds path (for caches the project owns, not user outputs). */
int bq_mkdirs_parent(const char *path);
/* 64-bit FNV-1a hash (content keys for caches and manifests). */
uint64_t bq_fnv1a64(const void *data, size_t len, uint64_t h);
#define BQ_FNV_INIT 0xcbf29ce484222325ULL
#endif
