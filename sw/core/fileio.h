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
/* With sink set, the bytes are passed to it instead of stored (data stays NULL, len counts them):
 * hashing a serialisation without a copy, so it cannot run out of memory. */
typedef struct {
    unsigned char *data; size_t len, cap; int oom;
    void (*sink)(void *ctx, const void *p, size_t n); void *sink_ctx;
} bq_buf;
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
/* What an output path names. */
typedef enum { BQ_OUT_FILE = 0, BQ_OUT_DIR } bq_out_kind;
/* Check one output path before any work is done (docs/reliability.md): not empty; not a folder
 * where a file is expected (nor a file where a folder is); its folder exists and is writable
 * (probed by creating and removing "<path>.tmp.<pid>" there, which also works for root and
 * read-only mounts); not the same file as any of the n_inputs inputs (same st_dev/st_ino, or the
 * same path string when they do not exist yet). Also removes stale "<path>.tmp.<pid>" entries
 * of killed runs. opt names the flag in messages ("--out"). Returns 0 or -1 with one line
 * naming the user's path and the fix. NULL inputs are skipped. */
int bq_check_output(const char *opt, const char *path, bq_out_kind kind, const char *const *inputs,
                    int n_inputs, char *err, size_t errlen);
/* Remove "<path>.tmp.<pid>" (and "<path>.tmp.<pid>.<anything>") files and folders
 * left by runs that no longer exist (the pid is not a live process). Returns how many were removed. */
int bq_remove_stale_tmp(const char *path);
/* rm -r of a file or folder (does not follow symlinks). 0 or -1. */
int bq_remove_tree(const char *path);
/* mkdir -p. Returns 0 or -1. */
int bq_mkdirs(const char *path);
/* mkdir -p of the folder that holds path (for caches the project owns, not user outputs). */
int bq_mkdirs_parent(const char *path);
/* Run folders: the checkpoints of a long command (docs/reliability.md "Kill and resume").
 * The folder is the user's --run-dir (kept after success) or "<out>.run" (removed on success, so
 * a finished run leaves nothing behind; kept after a failure or a kill, so a rerun resumes).
 * DIR/key holds a hash of the command's inputs and options: a folder with another key belongs to
 * other inputs and is emptied first (status BQ_RUN_RESTARTED); the same key resumes. */
typedef enum { BQ_RUN_FRESH = 0, BQ_RUN_RESUMED, BQ_RUN_RESTARTED } bq_run_status;
typedef struct {
    char dir[4096];
    int derived;           /* 1: "<out>.run", removed by bq_run_done */
    bq_run_status status;
} bq_run_dir;
/* Open (create) the run folder of out, or of given when not NULL. 0, or -1 with one line. */
int bq_run_open(bq_run_dir *r, const char *given, const char *out, uint64_t key, char *err,
                size_t errlen);
/* At the end of the command: a derived run folder is removed after success, and after a failure
 * when it holds nothing to resume from (only its key: the command failed before its first
 * checkpoint, e.g. on a bad value). A given one is always kept. */
void bq_run_close(const bq_run_dir *r, int ok);
/* Hash a whole file's bytes into h (its content, not its name). 0, or -1 with err. */
int bq_fnv1a64_file(const char *path, uint64_t *h, char *err, size_t errlen);
/* 64-bit FNV-1a hash (content keys for caches and manifests). */
uint64_t bq_fnv1a64(const void *data, size_t len, uint64_t h);
#define BQ_FNV_INIT 0xcbf29ce484222325ULL
#endif
