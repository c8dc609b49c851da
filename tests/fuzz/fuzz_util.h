/*
 * fuzz_util.h — what the libFuzzer harnesses of tests/fuzz/ share (docs/reliability.md, "Fuzzing").
 *
 *   fuzz_file("x.yaml", data, size)   the input as a file, for readers that only take a path:
 *                                     $FUZZ_TMP (default /dev/shm, a RAM disk) / bqfuzz.<pid>/x.yaml,
 *                                     rewritten for every input and removed at exit
 *   fuzz_check_err(rc, err)           a failed reader must leave one non-empty line in err
 *   fuzz_exercise_model(&m)           an accepted model is validated again, BN-folded and (when
 *                                     small) run forward on one zero image
 *   fuzz_fix_crc(p, n)                the last 4 bytes := CRC-32 (zlib) of the bytes before them, so
 *                                     mutations reach the checks behind a reader's checksum
 * Every violation calls abort(): a crash for libFuzzer, which keeps the input.
 */
#ifndef BQ_FUZZ_UTIL_H
#define BQ_FUZZ_UTIL_H
#include "nn/exec.h"
#include "nn/graph.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FWD_LIMIT 200000   /* run the forward pass only when activations + params are small */

static char fuzz_dir_[256];

static inline void fuzz_cleanup_(void) {
    char cmd[300];
    if (!fuzz_dir_[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
    if (system(cmd)) {}
}

/* The per-process scratch folder (created on first use). */
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_[0]) {
        const char *base = getenv("FUZZ_TMP");
        struct stat st;
        if (!base || !*base) base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/bqfuzz.%d", base, (int)getpid());
        if (mkdir(fuzz_dir_, 0700) && stat(fuzz_dir_, &st)) abort();
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* Write data to <scratch>/name; returns the path (one of 8 rotating buffers: valid until 8 more calls). */
static inline const char *fuzz_file(const char *name, const void *data, size_t size) {
    static char path[8][300];
    static int next;
    char *p = path[next++ & 7];
    snprintf(p, sizeof path[0], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
    return p;
}

static inline void fuzz_check_err(const char *err) {
    if (err[0] && !strchr(err, '\n')) return;
    fprintf(stderr, "fuzz: a rejected input needs one non-empty line of message, got \"%s\"\n", err);
    abort();
}

static inline void fuzz_fix_crc(unsigned char *p, size_t n) {
    if (n < 4) return;
    uint32_t c = (uint32_t)crc32(0L, p, (uInt)(n - 4));
    p[n - 4] = (unsigned char)c; p[n - 3] = (unsigned char)(c >> 8);
    p[n - 2] = (unsigned char)(c >> 16); p[n - 1] = (unsigned char)(c >> 24);
}

/* An accepted model must be usable: validate, fold BN, forward one zero image when small. */
static inline void fuzz_exercise_model(const bq_model *m) {
    char verr[256];
    if (bq_model_validate(m, verr, sizeof verr)) abort();
    bq_model f;
    if (bq_model_fold_bn(&f, m, verr, sizeof verr) == 0) bq_model_free(&f);
    size_t total = m->arena_count, pool = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const bq_node *n = &m->nodes[i];
        total += bq_node_size(n) * (n->kind == BQ_OP_CONV ? 1 + (size_t)n->kh * n->kw : 1);
        pool |= n->kind == BQ_OP_MAXPOOL;
    }
    if (total >= FUZZ_FWD_LIMIT) return;
    bq_exec ex;
    /* max-pool needs the argmax buffer bq_exec allocates only in train mode */
    if (bq_exec_init(&ex, m, 1, pool != 0) == 0) {
        memset(ex.act[0], 0, sizeof(float) * bq_node_size(&m->nodes[0]));
        bq_exec_forward(&ex, m, NULL, 1, 0);
        bq_exec_free(&ex);
    }
}
#endif
