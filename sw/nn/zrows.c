/* zrows.c — rows of floats without their zeros (see zrows.h). */
#include "nn/zrows.h"

#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define BLOCK ((size_t)4 << 20)  /* storage block: a row never straddles two (<2% waste) */

static size_t map_bytes(size_t len) { return (len + 7) / 8; }

int bq_zrows_init(bq_zrows *z, int n, size_t len) {
    memset(z, 0, sizeof(*z));
    z->n = n;
    z->len = len;
    z->row = calloc((size_t)n > 0 ? (size_t)n : 1, sizeof(*z->row));
    z->blk = calloc((size_t)n > 0 ? (size_t)n : 1, sizeof(*z->blk));
    if (!z->row || !z->blk) { bq_zrows_free(z); return -1; }
    return 0;
}

int bq_zrows_put(bq_zrows *z, const float *src) {
    if (z->rows >= z->n) return -1;
    const size_t mb = map_bytes(z->len);
    size_t nz = 0;
    for (size_t k = 0; k < z->len; k++) {
        uint32_t u;
        memcpy(&u, &src[k], sizeof u);
        nz += u != 0;
    }
    const size_t need = mb + nz * sizeof(float);
    if (z->nblk == 0 || z->blk_used + need > z->blk_cap) {
        size_t cap = need > BLOCK ? need : BLOCK;
        /* the last block gets only what the remaining rows can need at most */
        size_t most = (size_t)(z->n - z->rows) * (mb + z->len * sizeof(float));
        if (cap > most) cap = most > need ? most : need;
        unsigned char *b = malloc(cap ? cap : 1);
        if (!b) return -1;
        z->blk[z->nblk++] = b;
        z->blk_used = 0;
        z->blk_cap = cap;
        z->bytes += cap;
    }
    unsigned char *map = z->blk[z->nblk - 1] + z->blk_used, *vals = map + mb;
    memset(map, 0, mb);
    nz = 0;
    for (size_t k = 0; k < z->len; k++) {
        uint32_t u;
        memcpy(&u, &src[k], sizeof u);
        if (u) {
            map[k >> 3] |= (unsigned char)(1u << (k & 7));
            memcpy(vals + nz * sizeof(float), &u, sizeof u);
            nz++;
        }
    }
    z->row[z->rows++] = map;
    z->blk_used += need;
    return 0;
}

void bq_zrows_get(const bq_zrows *z, int r, float *dst) {
    const unsigned char *map = z->row[r];
    const unsigned char *vals = map + map_bytes(z->len);
    size_t k = 0;
#if defined(__AVX512F__)
    for (; k + 16 <= z->len; k += 16) {
        const __mmask16 m = (__mmask16)(map[k >> 3] | ((unsigned)map[(k >> 3) + 1] << 8));
        _mm512_storeu_ps(dst + k, _mm512_maskz_expandloadu_ps(m, vals));
        vals += sizeof(float) * (size_t)__builtin_popcount(m);
    }
#endif
    for (; k < z->len; k++) {
        if (map[k >> 3] & (1u << (k & 7))) {
            memcpy(&dst[k], vals, sizeof(float));
            vals += sizeof(float);
        } else {
            dst[k] = 0.0f;
        }
    }
}

size_t bq_zrows_bytes(const bq_zrows *z) {
    return z->bytes + (size_t)z->n * 2 * sizeof(void *);
}

void bq_zrows_free(bq_zrows *z) {
    for (int i = 0; i < z->nblk; i++) free(z->blk[i]);
    free(z->blk);
    free(z->row);
    memset(z, 0, sizeof(*z));
}
