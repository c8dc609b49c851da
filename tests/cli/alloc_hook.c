/* alloc_hook.c — the allocation-failure hook (SQLite's memdebug_fail idea; docs/reliability.md
 * "Allocation failures"), linked only into the test build $(ASAN)/brecq-allocfail with
 * -Wl,--wrap=malloc,... so that only allocations made by the project's own objects are counted
 * (libyaml, OpenBLAS, oneDNN, libc and the sanitizer runtime call the real functions).
 *
 *   BQ_FAIL_ALLOC=N         the N-th counted allocation (1-based) returns NULL (ENOMEM); the others
 *                           succeed (one failure per run, not every one after it)
 *   BQ_ALLOC_COUNT_FILE=F   at exit, write the number of counted allocations to F (to find K)
 *   BQ_FAIL_ALLOC_TRACE=1   print the stack of the failed allocation (to find the site)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__real_aligned_alloc(size_t al, size_t n);

void __sanitizer_print_stack_trace(void);   /* the ASan runtime's */

static long g_count;          /* counted allocations so far (threads: see below) */
static long g_fail_at = -2;   /* -2: not read yet; -1: never fail */

/* 1 when this allocation is the one to fail. The count is taken with an atomic add, so with
 * worker threads the N-th allocation is still exactly one call (which one may depend on timing;
 * the commands tested run their allocations on the main thread). */
static int fail_now(void) {
    if (g_fail_at == -2) {
        const char *s = getenv("BQ_FAIL_ALLOC");
        g_fail_at = s && *s ? strtol(s, NULL, 10) : -1;
    }
    long k = __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED);
    if (k == g_fail_at) {
        if (getenv("BQ_FAIL_ALLOC_TRACE")) __sanitizer_print_stack_trace();
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t sz) { return fail_now() ? NULL : __real_calloc(n, sz); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }
void *__wrap_aligned_alloc(size_t al, size_t n) {
    return fail_now() ? NULL : __real_aligned_alloc(al, n);
}

__attribute__((destructor)) static void report_count(void) {
    const char *path = getenv("BQ_ALLOC_COUNT_FILE");
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "%ld\n", __atomic_load_n(&g_count, __ATOMIC_RELAXED));
    fclose(f);
}
