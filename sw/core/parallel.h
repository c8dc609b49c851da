/*
 * parallel.h — a minimal fork-join for the FP operators (conv, BN, elementwise), on C11 threads.
 *
 * bq_parallel_for(n, min_chunk, fn, ctx) splits [0, n) into up to bq_num_threads() contiguous
 * ranges of at least min_chunk items and calls fn(ctx, idx, lo, hi) once per range, range idx on
 * its own thread (the caller runs range 0). The threads are a persistent pool (parallel.c:
 * creating them per call cost 30-120 us, too much for a loop making ~20 calls per 8 ms
 * iteration); calls that find the pool busy create threads per call. A thread that cannot be
 * created is run inline, so the result never depends on it.
 *
 * Example (an elementwise op over count floats, at least 64K per thread):
 *   static void relu_range(void *ctx, int idx, size_t lo, size_t hi) { ... }
 *   bq_parallel_for(count, 1 << 16, relu_range, &args);
 */
#ifndef BQ_PARALLEL_H
#define BQ_PARALLEL_H

#include <stddef.h>
#include <stdlib.h>
#include <threads.h>
#include <unistd.h>

#define BQ_MAX_THREADS 8

/* Threads the operators use: $BQ_NUM_THREADS when set (e.g. 1 when several processes share the
 * cores), else the online CPUs; clamped to [1, BQ_MAX_THREADS]. Read at every call. */
static inline int bq_num_threads(void) {
    const char *env = getenv("BQ_NUM_THREADS");
    long p = env && atol(env) > 0 ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
    return p < 1 ? 1 : (p > BQ_MAX_THREADS ? BQ_MAX_THREADS : (int)p);
}

/* Ranges the call below makes for n items: min(bq_num_threads(), n / min_chunk), at least 1. */
static inline int bq_parallel_ranges(size_t n, size_t min_chunk) {
    size_t t = (size_t)bq_num_threads(), most = n / (min_chunk ? min_chunk : 1);
    if (t > most) t = most;
    return t < 1 ? 1 : (int)t;
}

typedef void (*bq_range_fn)(void *ctx, int idx, size_t lo, size_t hi);

typedef struct {
    bq_range_fn fn;
    void *ctx;
    int idx;
    size_t lo, hi;
} bq_par_range;

static inline int bq_par_range_run(void *arg) {
    const bq_par_range *r = arg;
    r->fn(r->ctx, r->idx, r->lo, r->hi);
    return 0;
}

/* The pool (parallel.c) and the thread-per-call fallback it uses when busy. */
void bq_parallel_for_pool(size_t n, int t, bq_range_fn fn, void *ctx);
void bq_parallel_for_spawn(size_t n, int t, bq_range_fn fn, void *ctx);

static inline void bq_parallel_for(size_t n, size_t min_chunk, bq_range_fn fn, void *ctx) {
    const int t = bq_parallel_ranges(n, min_chunk);
    if (t == 1) {
        fn(ctx, 0, 0, n);
        return;
    }
    bq_parallel_for_pool(n, t, fn, ctx);
}

#endif
