/*
 * pack.c — bit-plane packing (see pack.h and docs/hw_isa.md §2).
 */
#include "io/pack.h"

#include <string.h>

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

int bq_pack_geom_init(bq_pack_geom *g, int m, int k, int n, int dm, int dn, int dk, int mem_bits) {
    memset(g, 0, sizeof(*g));
    if (m <= 0 || k <= 0 || n <= 0 || dm <= 0 || dn <= 0 || dk <= 0 || dk % 8 || mem_bits <= 0 ||
        mem_bits % 8)
        return -1;
    g->m = m; g->k = k; g->n = n;
    g->dm = dm; g->dn = dn; g->dk = dk; g->mem_bits = mem_bits;
    g->mt = ceil_div(m, dm);
    g->kc = ceil_div(k, dk);
    g->nt = ceil_div(n, dn);
    g->tpb = (size_t)ceil_div(dm * dn, mem_bits) * (size_t)(mem_bits / 8);
    return 0;
}

size_t bq_pack_weight_plane_size(const bq_pack_geom *g) {
    return (size_t)g->mt * g->kc * g->dm * (g->dk / 8);
}
size_t bq_pack_weights_size(const bq_pack_geom *g, int bits) {
    return (size_t)bits * bq_pack_weight_plane_size(g);
}
size_t bq_pack_act_plane_size(const bq_pack_geom *g) {
    return (size_t)g->nt * g->kc * g->dn * (g->dk / 8);
}
size_t bq_pack_acts_size(const bq_pack_geom *g, int bits) {
    return (size_t)bits * bq_pack_act_plane_size(g);
}
size_t bq_pack_tiles_size(const bq_pack_geom *g, int bits) {
    size_t tiles = (size_t)g->mt * g->nt;
    return bits == 32 ? tiles * 4 * g->dm * g->dn : tiles * (size_t)bits * g->tpb;
}

static void set_bit(uint8_t *p, size_t bit, int v) {
    if (v) p[bit >> 3] |= (uint8_t)(1u << (bit & 7));
}
static int get_bit(const uint8_t *p, size_t bit) { return (p[bit >> 3] >> (bit & 7)) & 1; }

void bq_pack_weights(uint8_t *dst, const uint8_t *codes, const bq_pack_geom *g, int bits) {
    memset(dst, 0, bq_pack_weights_size(g, bits));
    size_t wb = (size_t)g->dk / 8;
    for (int b = 0; b < bits; b++)
        for (int mt = 0; mt < g->mt; mt++)
            for (int kc = 0; kc < g->kc; kc++)
                for (int mi = 0; mi < g->dm; mi++) {
                    int row = mt * g->dm + mi;
                    if (row >= g->m) continue;
                    uint8_t *word = dst + ((((size_t)b * g->mt + mt) * g->kc + kc) * g->dm + mi) * wb;
                    for (int t = 0; t < g->dk; t++) {
                        int col = kc * g->dk + t;
                        if (col >= g->k) break;
                        set_bit(word, (size_t)t, (codes[(size_t)row * g->k + col] >> b) & 1);
                    }
                }
}

void bq_unpack_weights(uint8_t *codes, const uint8_t *src, const bq_pack_geom *g, int bits) {
    memset(codes, 0, (size_t)g->m * g->k);
    size_t wb = (size_t)g->dk / 8;
    for (int b = 0; b < bits; b++)
        for (int row = 0; row < g->m; row++)
            for (int col = 0; col < g->k; col++) {
                int mt = row / g->dm, mi = row % g->dm, kc = col / g->dk, t = col % g->dk;
                const uint8_t *word = src + ((((size_t)b * g->mt + mt) * g->kc + kc) * g->dm + mi) * wb;
                codes[(size_t)row * g->k + col] |= (uint8_t)(get_bit(word, (size_t)t) << b);
            }
}

void bq_pack_acts(uint8_t *dst, const int32_t *a, const bq_pack_geom *g, int bits) {
    memset(dst, 0, bq_pack_acts_size(g, bits));
    size_t wb = (size_t)g->dk / 8;
    for (int b = 0; b < bits; b++)
        for (int nt = 0; nt < g->nt; nt++)
            for (int kc = 0; kc < g->kc; kc++)
                for (int ni = 0; ni < g->dn; ni++) {
                    int col = nt * g->dn + ni;
                    if (col >= g->n) continue;
                    uint8_t *word = dst + ((((size_t)b * g->nt + nt) * g->kc + kc) * g->dn + ni) * wb;
                    for (int t = 0; t < g->dk; t++) {
                        int row = kc * g->dk + t;
                        if (row >= g->k) break;
                        set_bit(word, (size_t)t, ((uint32_t)a[(size_t)row * g->n + col] >> b) & 1);
                    }
                }
}

void bq_unpack_acts(int32_t *a, const uint8_t *src, const bq_pack_geom *g, int bits) {
    memset(a, 0, sizeof(int32_t) * (size_t)g->k * g->n);
    size_t wb = (size_t)g->dk / 8;
    for (int b = 0; b < bits; b++)
        for (int row = 0; row < g->k; row++)
            for (int col = 0; col < g->n; col++) {
                int nt = col / g->dn, ni = col % g->dn, kc = row / g->dk, t = row % g->dk;
                const uint8_t *word = src + ((((size_t)b * g->nt + nt) * g->kc + kc) * g->dn + ni) * wb;
                a[(size_t)row * g->n + col] |= get_bit(word, (size_t)t) << b;
            }
}

void bq_pack_tiles(uint8_t *dst, const int32_t *y, const bq_pack_geom *g, int bits) {
    memset(dst, 0, bq_pack_tiles_size(g, bits));
    for (int nt = 0; nt < g->nt; nt++)
        for (int mt = 0; mt < g->mt; mt++) {
            size_t tile = (size_t)nt * g->mt + mt;
            for (int ni = 0; ni < g->dn; ni++)
                for (int mi = 0; mi < g->dm; mi++) {
                    int c = mt * g->dm + mi, p = nt * g->dn + ni;
                    if (c >= g->m || p >= g->n) continue;
                    size_t e = (size_t)ni * g->dm + mi;
                    uint32_t v = (uint32_t)y[(size_t)c * g->n + p];
                    if (bits == 32) {
                        uint8_t *w = dst + tile * 4 * g->dm * g->dn + 4 * e;
                        w[0] = (uint8_t)v; w[1] = (uint8_t)(v >> 8);
                        w[2] = (uint8_t)(v >> 16); w[3] = (uint8_t)(v >> 24);
                        continue;
                    }
                    uint8_t *t0 = dst + tile * (size_t)bits * g->tpb;
                    for (int b = 0; b < bits; b++) set_bit(t0 + (size_t)b * g->tpb, e, (v >> b) & 1);
                }
        }
}

void bq_unpack_tiles(int32_t *y, const uint8_t *src, const bq_pack_geom *g, int bits) {
    for (int c = 0; c < g->m; c++)
        for (int p = 0; p < g->n; p++) {
            int mt = c / g->dm, mi = c % g->dm, nt = p / g->dn, ni = p % g->dn;
            size_t tile = (size_t)nt * g->mt + mt, e = (size_t)ni * g->dm + mi;
            uint32_t v = 0;
            if (bits == 32) {
                const uint8_t *w = src + tile * 4 * g->dm * g->dn + 4 * e;
                v = (uint32_t)w[0] | ((uint32_t)w[1] << 8) | ((uint32_t)w[2] << 16) | ((uint32_t)w[3] << 24);
            } else {
                const uint8_t *t0 = src + tile * (size_t)bits * g->tpb;
                for (int b = 0; b < bits; b++) v |= (uint32_t)get_bit(t0 + (size_t)b * g->tpb, e) << b;
            }
            y[(size_t)c * g->n + p] = (int32_t)v;
        }
}
