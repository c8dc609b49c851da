/*
 * pack.h — bit-plane packing in the accelerator's memory layout (docs/hw_isa.md §2).
 *
 * A word is Dk bits = Dk/8 bytes; bit t of a word is bit t%8 of byte t/8 (LSB first).
 * Padding: M_pad = ceil(M/Dm)*Dm, K_pad = ceil(K/Dk)*Dk, N_pad = ceil(N/Dn)*Dn; padded codes are 0.
 *
 *   weights W[M][K], bits planes   word (b, mt, kc, mi) at byte (((b*MT + mt)*KC + kc)*Dm + mi)*Dk/8,
 *                                  bit t = bit b of W[mt*Dm + mi][kc*Dk + t]
 *   activations A[K][N]            word (b, nt, kc, ni) at byte (((b*NT + nt)*KC + kc)*Dn + ni)*Dk/8,
 *                                  bit t = bit b of A[kc*Dk + t][nt*Dn + ni]
 *   output tiles Y[M][N]           tile (mt, nt) at (nt*MT + mt) * bits*TPB; plane b of a tile at
 *                                  b*TPB; bit e = ni*Dm + mi of a plane = bit b of Y[mt*Dm+mi][nt*Dn+ni];
 *                                  TPB = ceil(Dm*Dn / W) * W/8 bytes (W = memory width in bits)
 *   RAW32 tiles                    tile (mt, nt) at (nt*MT + mt) * 4*Dm*Dn; element e as int32 LE
 *
 * Codes are unsigned (numerics §1): bit b of a code is (code >> b) & 1. Every pack has an unpack,
 * and each has a plain scalar loop (no tricks) so the packer is its own reference.
 *
 * Example:
 *   bq_pack_geom g; bq_pack_geom_init(&g, M, K, N, 4, 4, 32, 64);
 *   uint8_t *buf = calloc(1, bq_pack_weights_size(&g, wbits));
 *   bq_pack_weights(buf, codes, &g, wbits);
 */
#ifndef BQ_PACK_H
#define BQ_PACK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int m, k, n;            /* real GEMM sizes */
    int dm, dn, dk;         /* array dimensions */
    int mem_bits;           /* memory port width W (bits) */
    int mt, kc, nt;         /* tiles: ceil(m/dm), ceil(k/dk), ceil(n/dn) */
    size_t tpb;             /* tile plane bytes: ceil(dm*dn / W) * W/8 */
} bq_pack_geom;

/* Fill a geometry. Returns 0, or -1 when a size is not positive, dk is not a multiple of 8 or
 * mem_bits is not a multiple of 8. */
int bq_pack_geom_init(bq_pack_geom *g, int m, int k, int n, int dm, int dn, int dk, int mem_bits);

/* Bytes of one weight plane (= dram_plane_stride) and of all `bits` planes. */
size_t bq_pack_weight_plane_size(const bq_pack_geom *g);
size_t bq_pack_weights_size(const bq_pack_geom *g, int bits);
/* Bytes of one activation plane and of all planes. */
size_t bq_pack_act_plane_size(const bq_pack_geom *g);
size_t bq_pack_acts_size(const bq_pack_geom *g, int bits);
/* Bytes of the output tensor in tile planes (bits planes per tile), or RAW32 (bits = 32). */
size_t bq_pack_tiles_size(const bq_pack_geom *g, int bits);

/* codes (m, k) row-major -> dst (bq_pack_weights_size bytes, fully written incl. padding). */
void bq_pack_weights(uint8_t *dst, const uint8_t *codes, const bq_pack_geom *g, int bits);
void bq_unpack_weights(uint8_t *codes, const uint8_t *src, const bq_pack_geom *g, int bits);
/* A (k, n) row-major codes (int32 holding 0..2^bits-1) -> dst. */
void bq_pack_acts(uint8_t *dst, const int32_t *a, const bq_pack_geom *g, int bits);
void bq_unpack_acts(int32_t *a, const uint8_t *src, const bq_pack_geom *g, int bits);
/* Y (m, n) row-major codes -> tile planes (bits 1..8), or int32 values -> RAW32 tiles (bits 32).
 * Elements outside (m, n) are written as 0. */
void bq_pack_tiles(uint8_t *dst, const int32_t *y, const bq_pack_geom *g, int bits);
void bq_unpack_tiles(int32_t *y, const uint8_t *src, const bq_pack_geom *g, int bits);

#endif
