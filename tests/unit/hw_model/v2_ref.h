/*
 * v2_ref.h — the naive integer network that whole-network v2 programs are checked against, shared by
 * the C functional executor (tests/unit/hw_model/test_v2_exec.c) and the RTL harness
 * (tests/hw/test_top_v2.cpp): random weights / requant records per layer, the naive layer outputs
 * (HWC codes, z_a outside the image, requant with floor division; RAW32 acc0), the memory image the
 * exporter would write (packed weights, requant records) and the per-layer comparison of a memory
 * image against the naive outputs. Plain C11, no test framework: errors are returned as -1 with a
 * one-line message.
 */
#ifndef BQ_V2_REF_H
#define BQ_V2_REF_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h"
#include "hwcfg.h"
#include "hwsched_v2.h"

#define V2_REF_MAX_LAYERS 64

/* xorshift64 stream (the caller owns the state: no hidden globals). */
typedef struct {
    uint64_t s;
} v2_rng;
uint32_t v2_rnd(v2_rng *r);
int v2_rnd_in(v2_rng *r, int lo, int hi);   /* inclusive */

/* The layer data the exporter would write. */
typedef struct {
    int *w;            /* codes[((g*M + m)*cin_g + ci)*kh*kw + t] */
    bq_codes_rq *rq;   /* per output channel */
} v2_layer_data;

typedef struct {
    int n;
    bq_v2_layer ls[V2_REF_MAX_LAYERS];
    v2_layer_data d[V2_REF_MAX_LAYERS];
    uint8_t *ref[V2_REF_MAX_LAYERS];   /* naive output codes, HWC with cs_out (raw32: int32 acc0,
                                          [pixel][channel]) */
} v2_net;

/* A conv layer (bq_v2_layer_conv, square image and kernel) with the given bits; -1 with err. */
int v2_ref_conv(bq_v2_layer *l, const char *name, int cin, int cout, int h, int k, int s, int pad,
                int dw, int wb, int ab, int ob, char *err, size_t errlen);

/* Every layer kind of docs/whole_network.md §5 in one 9-layer chain on an h x h input: first layer
 * C = 1, dense 3x3 s1 and s2 (pad 1), residual add, 1x1, depthwise s1 / s2, GAP (depthwise, kernel
 * = image), linear RAW32. */
int v2_ref_chain(v2_net *nt, int h, int wsigned, v2_rng *rng, char *err, size_t errlen);
/* fres20 (23 layers) and mbv2t (27 layers) as sw/nn/arch.c builds them (28 x 28 x 1 input), with
 * the bits of a W4A4 run (W4A4 O4, stem A8, GAP W1, classifier RAW32); test_sched_v2, test_v2_exec
 * and the whole-network RTL harnesses all take them from here. */
int v2_ref_fres20(v2_net *nt, char *err, size_t errlen);
int v2_ref_mbv2t(v2_net *nt, char *err, size_t errlen);
/* Output-stage scalars that keep codes off the clamp (z_o 1, lo 0, hi 2^obits - 1) and a random
 * input zero point z_a for every layer fed by another layer (0 for the network input). */
void v2_ref_quant_params(v2_net *nt, v2_rng *rng);

/* Random weights / records for every layer (outputs spread over the code range) and the naive
 * outputs of every layer from the network input (cs0 bytes per pixel). 0, or -1 out of memory. */
int v2_ref_net(v2_net *nt, const bq_v2_plan *plans, const uint8_t *input, int cs0, v2_rng *rng,
               char *err, size_t errlen);
void v2_ref_free(v2_net *nt);

/* Write every layer's packed weights (bq_v2_pack_weights) and requant records into mem at the
 * memory plan's addresses. */
void v2_ref_load(const v2_net *nt, const bq_v2_plan *plans, const bq_v2_memplan *mp,
                 const bq_hwcfg *cfg, uint8_t *mem);

/* Compare layer i's output tensor in mem (every real byte of every HWC pixel; RAW32: v1's tile
 * layout) with the naive output. Returns the number of mismatches; *n = values compared, *inside =
 * codes strictly inside (lo, hi); the first mismatch is described in first (if any). */
long v2_ref_check_layer(const v2_net *nt, const bq_v2_plan *plans, const bq_v2_memplan *mp,
                        const bq_hwcfg *cfg, int i, const uint8_t *mem, long *n, long *inside,
                        char *first, size_t firstlen);

#endif
