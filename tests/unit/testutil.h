/*
 * testutil.h — shared helpers for the cmocka unit tests.
 * Include after <stdarg.h> <stddef.h> <setjmp.h> <stdint.h> and <cmocka.h> (tests do this via
 * this header).
 */
#ifndef BQ_TESTUTIL_H
#define BQ_TESTUTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

/* Deterministic test RNG (xorshift64*), uniform in [-1, 1). */
static inline float tu_randf(uint64_t *s) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    uint64_t r = *s * 2685821657736338717ULL;
    return (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static inline void tu_fill(float *x, size_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) x[i] = scale * tu_randf(&s);
}
/* Relative error used by gradient checks: |a-b| / max(|a|+|b|, floor). */
static inline double tu_relerr(double a, double b, double floor_) {
    double d = fabs(a) + fabs(b);
    return fabs(a - b) / (d > floor_ ? d : floor_);
}
#endif
