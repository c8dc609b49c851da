/* lsq.c — activation fake-quantizer with learnable step and QDrop mask (see lsq.h).
 *
 * Speed (the reconstruction runs these on every activation of every iteration): the loops are
 * branch-free so they vectorise (double division and floor are exact in vector lanes too: the
 * values are bit-identical to the scalar ones), and they run on the threads of parallel.h. The
 * step gradient is summed per fixed block of BLK elements and the block sums are added in block
 * order, so ds does not depend on the thread count. */
#include "quant/lsq.h"
#include "core/fastmath.h"
#include "core/parallel.h"

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__)
/* GCC's -O2 cost model leaves these loops scalar (see conv.c), and it vectorises floor() only
 * when FP exceptions need not be preserved (nothing here reads the FP status flags; values are
 * unchanged). */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif

#define BLK 2048                /* elements per step-gradient partial sum */
#define MIN_BLOCKS 16           /* blocks per thread at least (thread start-up ~ tens of us) */

/* The code is computed in double exactly as quant.h's bq_aq_code (the one definition), so the
 * reconstruction optimises bit for bit what the fake-quant evaluation computes. */
static inline float code_of(float x, float s, float zf) {
    return (float)(floor((double)x / (double)s + 0.5)) + zf;
}

float bq_lsq_ref(float x, float s, int32_t z, int qmax) {
    float q = code_of(x, s, (float)z);
    q = q < 0.0f ? 0.0f : (q > (float)qmax ? (float)qmax : q);
    return (q - (float)z) * s;
}

typedef struct {
    float *out;
    const float *x, *dout;
    const uint8_t *mask;
    float s, zf, qm;
    size_t n;
    double *bsum;               /* per-block step-gradient sums (backward) */
} lsq_job;

static void fwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const lsq_job *j = ctx;
    const float s = j->s, zf = j->zf, qm = j->qm;
    const float *x = j->x;
    float *out = j->out;
    const uint8_t *mask = j->mask;
    (void)idx;
    lo *= BLK;
    hi = hi * BLK < j->n ? hi * BLK : j->n;
    if (mask)
        for (size_t i = lo; i < hi; i++) {
            float v = x[i];
            float q = code_of(v, s, zf);
            q = q < 0.0f ? 0.0f : (q > qm ? qm : q);
            out[i] = mask[i] ? v : (q - zf) * s;
        }
    else
        for (size_t i = lo; i < hi; i++) {
            float q = code_of(x[i], s, zf);
            q = q < 0.0f ? 0.0f : (q > qm ? qm : q);
            out[i] = (q - zf) * s;
        }
}

static size_t n_blocks(size_t n) { return (n + BLK - 1) / BLK; }

static void run_forward(lsq_job *j) {
    size_t nb = n_blocks(j->n);
    bq_parallel_for(nb, MIN_BLOCKS, fwd_range, j);
}

void bq_lsq_forward(float *out, const float *x, size_t n, float s, int32_t z, int qmax) {
    lsq_job j = {.out = out, .x = x, .s = s, .zf = (float)z, .qm = (float)qmax, .n = n};
    run_forward(&j);
}

void bq_lsq_drop_mask(uint8_t *mask, size_t n, float p_drop, bq_rng *rng) {
    int thr = (int)lrintf(p_drop * 256.0f);
    if (thr < 0) thr = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t r = bq_rng_u64(rng);
        for (int b = 0; b < 8 && i < n; b++, i++) mask[i] = (int)((r >> (8 * b)) & 0xff) < thr;
    }
}

void bq_lsq_forward_mask(float *out, const float *x, const uint8_t *mask, size_t n, float s,
                         int32_t z, int qmax) {
    lsq_job j = {.out = out, .x = x, .mask = mask, .s = s, .zf = (float)z, .qm = (float)qmax,
                 .n = n};
    run_forward(&j);
}

/* One block: dx and the per-element step-gradient terms (branch-free, vectorised), then their
 * double sum with four interleaved accumulators. */
static void bwd_range(void *ctx, int idx, size_t lo, size_t hi) {
    const lsq_job *j = ctx;
    const float s = j->s, zf = j->zf, qm = j->qm;
    float term[BLK];
    (void)idx;
    for (size_t b = lo; b < hi; b++) {
        const size_t i0 = b * BLK, m = j->n - i0 < BLK ? j->n - i0 : BLK;
        const float *x = j->x + i0, *g = j->dout + i0;
        const uint8_t *mask = j->mask ? j->mask + i0 : NULL;
        float *dx = j->out ? j->out + i0 : NULL;
        for (size_t i = 0; i < m; i++) {
            const float gi = g[i], v = x[i] / s, q = code_of(x[i], s, zf);
            const int low = q < 0.0f, high = q > qm;
            const float d = low ? -zf : (high ? qm - zf : (q - zf) - v);
            const int drop = mask ? mask[i] != 0 : 0;
            term[i] = drop ? 0.0f : gi * d;
            if (dx) dx[i] = drop ? gi : ((low | high) ? 0.0f : gi);
        }
        j->bsum[b] = bq_block_sum_f64(term, m);
    }
}

double bq_lsq_backward(float *dx, const float *dout, const float *x, const uint8_t *mask, size_t n,
                       float s, int32_t z, int qmax) {
    /* groups of GROUP blocks: one parallel call each (a single one up to 512K elements) */
    enum { GROUP = 256 };
    double bsum[GROUP], ds = 0.0;
    const size_t nb = n_blocks(n);
    for (size_t g0 = 0; g0 < nb; g0 += GROUP) {
        const size_t cnt = nb - g0 < GROUP ? nb - g0 : GROUP, off = g0 * BLK;
        lsq_job j = {.out = dx ? dx + off : NULL, .x = x + off, .dout = dout + off,
                     .mask = mask ? mask + off : NULL, .s = s, .zf = (float)z, .qm = (float)qmax,
                     .n = n - off, .bsum = bsum};
        bq_parallel_for(cnt, MIN_BLOCKS, bwd_range, &j);
        for (size_t b = 0; b < cnt; b++) ds += bsum[b];
    }
    return ds;
}
