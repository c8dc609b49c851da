/*
 * parallel.c — the persistent worker pool behind bq_parallel_for (see parallel.h).
 *
 * Why: the reconstruction loop calls bq_parallel_for ~20 times per iteration (convs,
 * elementwise ops, quantizers, the loss, AdaRound), tens of thousands of iterations per unit.
 * Creating and joining a thread per call cost 30-120 us each (measured, the larger under load),
 * up to a quarter of a 8 ms iteration. Here the workers live for the whole process: a call
 * publishes its ranges under a generation counter, workers spin briefly and then sleep on a
 * condition variable, every worker acknowledges every generation (so none can lag behind and
 * read the next call's ranges), and the caller runs range 0 itself.
 *
 * The split of [0, n) and which thread runs which range are exactly as before, so results do
 * not change. The pool serves one call at a time: a call made while it is busy (another thread,
 * or a nested call from inside a range) and any call wanting more threads than the pool has
 * creates its threads as before (bq_parallel_for_spawn).
 */
#include "core/parallel.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define SPIN_NS 200000L        /* spin this long before sleeping (covers the gaps of a loop) */

typedef struct {
    mtx_t lock;
    cnd_t wake, done;
    atomic_uint gen;           /* job generation */
    atomic_int pending;        /* workers yet to acknowledge the current generation */
    int nworkers, t;
    bq_par_range r[BQ_MAX_THREADS];
    thrd_t tid[BQ_MAX_THREADS];
} pool_t;

static pool_t P;
static mtx_t busy;
static int pool_ok;
static once_flag once = ONCE_FLAG_INIT;

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int worker(void *arg) {
    const int w = (int)(intptr_t)arg;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load(&P.gen);
        if (g == seen) {
            long t0 = now_ns();
            while ((g = atomic_load(&P.gen)) == seen && now_ns() - t0 < SPIN_NS) cpu_relax();
            if (g == seen) {
                mtx_lock(&P.lock);
                while ((g = atomic_load(&P.gen)) == seen) cnd_wait(&P.wake, &P.lock);
                mtx_unlock(&P.lock);
            }
        }
        seen = g;
        if (w < P.t) bq_par_range_run(&P.r[w]);
        if (atomic_fetch_sub(&P.pending, 1) == 1) {
            mtx_lock(&P.lock);
            cnd_signal(&P.done);
            mtx_unlock(&P.lock);
        }
    }
    return 0;
}

static void pool_init(void) {
    if (mtx_init(&busy, mtx_plain) != thrd_success || mtx_init(&P.lock, mtx_plain) != thrd_success ||
        cnd_init(&P.wake) != thrd_success || cnd_init(&P.done) != thrd_success)
        return;
    atomic_init(&P.gen, 0u);
    atomic_init(&P.pending, 0);
    int want = bq_num_threads() - 1;
    for (int i = 0; i < want; i++) {
        if (thrd_create(&P.tid[i], worker, (void *)(intptr_t)(i + 1)) != thrd_success) break;
        thrd_detach(P.tid[i]);
        P.nworkers++;
    }
    pool_ok = 1;
}

void bq_parallel_for_spawn(size_t n, int t, bq_range_fn fn, void *ctx) {
    bq_par_range r[BQ_MAX_THREADS];
    thrd_t tid[BQ_MAX_THREADS];
    int started[BQ_MAX_THREADS] = {0};
    for (int i = 0; i < t; i++)
        r[i] = (bq_par_range){fn, ctx, i, n * (size_t)i / (size_t)t,
                              n * (size_t)(i + 1) / (size_t)t};
    for (int i = 1; i < t; i++)
        started[i] = thrd_create(&tid[i], bq_par_range_run, &r[i]) == thrd_success;
    bq_par_range_run(&r[0]);
    for (int i = 1; i < t; i++) {
        if (started[i]) thrd_join(tid[i], NULL);
        else bq_par_range_run(&r[i]);
    }
}

void bq_parallel_for_pool(size_t n, int t, bq_range_fn fn, void *ctx) {
    call_once(&once, pool_init);
    if (!pool_ok || t - 1 > P.nworkers || mtx_trylock(&busy) != thrd_success) {
        bq_parallel_for_spawn(n, t, fn, ctx);
        return;
    }
    mtx_lock(&P.lock);
    P.t = t;
    for (int i = 0; i < t; i++)
        P.r[i] = (bq_par_range){fn, ctx, i, n * (size_t)i / (size_t)t,
                                n * (size_t)(i + 1) / (size_t)t};
    atomic_store(&P.pending, P.nworkers);
    atomic_fetch_add(&P.gen, 1u);
    cnd_broadcast(&P.wake);
    mtx_unlock(&P.lock);
    bq_par_range_run(&P.r[0]);
    long t0 = now_ns();
    while (atomic_load(&P.pending) > 0 && now_ns() - t0 < SPIN_NS) cpu_relax();
    if (atomic_load(&P.pending) > 0) {
        mtx_lock(&P.lock);
        while (atomic_load(&P.pending) > 0) cnd_wait(&P.done, &P.lock);
        mtx_unlock(&P.lock);
    }
    mtx_unlock(&busy);
}
