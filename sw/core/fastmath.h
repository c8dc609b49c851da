/*
 * fastmath.h — |x|^e by a short exp2/log2 approximation (relative error < 2e-5), branch-free so
 * loops using it vectorise. Used by the reconstruction loss (|d|^(p-2), fisher.c) and the AdaRound
 * regulariser (|2h-1|^beta, adaround.c), which evaluate it on every element every iteration.
 * Include only from files compiled with "no-trapping-math" for the loops to vectorise (floorf).
 */
#ifndef BQ_FASTMATH_H
#define BQ_FASTMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 2^y for |y| < 126: split y = i + f with f in [-0.5, 0.5], 2^f by its Taylor polynomial. */
static inline __attribute__((always_inline)) float bq_fast_exp2(float y) {
    float fi = floorf(y + 0.5f);
    float f = (y - fi) * 0.69314718f;
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 +
                                                                     f * (1.0f / 720))))));
    uint32_t u = (uint32_t)((int32_t)fi + 127) << 23;
    float sc;
    memcpy(&sc, &u, sizeof sc);
    return p * sc;
}

/* log2(x) for normal x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m by the atanh series. */
static inline __attribute__((always_inline)) float bq_fast_log2(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    /* the exponent as a float (exact): integer exponent arithmetic kept GCC from vectorising
     * loops where it knows x's range */
    float e = (float)(int32_t)((u >> 23) & 0xff) - 127.0f;
    u = (u & 0x007fffffu) | 0x3f800000u;   /* m in [1, 2) */
    float m;
    memcpy(&m, &u, sizeof m);
    const int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1.0f : e;
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float ln = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 / 9))));
    return e + ln * 1.44269504f;
}

/* Branch-free (vectorisable) form; the same operations as the scalar definition, so the same
 * values in every lane: 0 for x <= 1e-30 or a result below 2^-125, inf above 2^125. */
static inline __attribute__((always_inline)) float bq_fast_pow_inline(float x, float e) {
    const int tiny = !(x > 1e-30f);
    const float y = e * bq_fast_log2(tiny ? 1.0f : x);
    const float yc = y < -125.0f ? -125.0f : (y > 125.0f ? 125.0f : y);
    const float r = bq_fast_exp2(yc);
    return (tiny | (y < -125.0f)) ? 0.0f : (y > 125.0f ? INFINITY : r);
}

/* Sum of m floats in double, four interleaved accumulators, in one fixed order: the per-block sums
 * of the loss and the step gradient go through here, so totals do not depend on vector width or
 * thread count. */
static inline double bq_block_sum_f64(const float *term, size_t m) {
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int k = 0; k < 4; k++) acc[k] += (double)term[i + k];
    for (; i < m; i++) acc[0] += (double)term[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

#endif
