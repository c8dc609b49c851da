/*
 * rng.h — the one random number generator of the project (xoshiro256**, seeded by splitmix64).
 * Every random choice (init, shuffles, augmentation, calibration subsets, QDrop masks) draws from an
 * explicit bq_rng passed by the caller, so the same seed gives the same bytes.
 */
#ifndef BQ_RNG_H
#define BQ_RNG_H
#include <math.h>
#include <stdint.h>

typedef struct { uint64_t s[4]; } bq_rng;

static inline uint64_t bq_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline void bq_rng_seed(bq_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = bq_splitmix64(&seed);
}
static inline uint64_t bq_rng_u64(bq_rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
static inline float bq_rng_uniform(bq_rng *r) { return (float)(bq_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
/* Uniform integer in [0, n). */
static inline uint32_t bq_rng_below(bq_rng *r, uint32_t n) { return (uint32_t)(((bq_rng_u64(r) >> 32) * (uint64_t)n) >> 32); }
/* Standard normal (Box-Muller, one value per call; deterministic). */
static inline float bq_rng_normal(bq_rng *r) {
    double u1 = ((double)(bq_rng_u64(r) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(bq_rng_u64(r) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
/* Fisher-Yates permutation of 0..n-1. */
static inline void bq_rng_permutation(bq_rng *r, int *perm, int n) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)bq_rng_below(r, (uint32_t)(i + 1));
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}
#endif
