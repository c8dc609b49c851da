/*
 * costtab.h — a network as the accelerator sees it (bq_hw_net), its exact latency for one bit
 * allocation, and the per-network cost table the mixed-precision search scores allocations with.
 *
 * Bits belong to quantizers (design.md): layer l has its own weight quantizer (wbits[l]) and
 * reads its input through activation quantizer in_q[l]; its output is written with the bits of
 * the quantizer that consumes it, out_q[l]; a layer that ends a residual branch also reads the
 * shortcut operand through quantizer res_q[l]. Index -1 means "fixed 8 bits" (network input,
 * the 8-bit shortcut quantizer after a downsample conv) or "none" (out_q of a RAW32 classifier,
 * res_q of a layer without residual).
 *
 * Cost table (built once per (network, accelerator)):
 *     cycles(l, w, a, o, r)  ~=  T[l][w][a] + O[l][o] + R[l][r]
 *   T[l][w][a] = dry-run cycles at (w, a) with o = r = 8,
 *   O[l][o]    = dry-run cycles at (8, 8, o, 8) - T[l][8][8]   (<= 0: fewer output planes),
 *   R[l][r]    = dry-run cycles at (8, 8, 8, r) - T[l][8][8]   (<= 0: fewer residual planes).
 * The write (and residual read) is charged with the consumer's (shortcut's) bits through O and R.
 * Measuring O and R at W8A8, where writes hide best behind execution, makes the fold err on the
 * side of charging too much; bq_hw_net_latency gives the exact number for any allocation, and the
 * bench reports the fold's error against it (docs/latency_model.md).
 *
 * Example:
 *   bq_costtab t; char err[256];
 *   if (bq_costtab_build(&t, &cfg, &net, err, sizeof err)) { ... }
 *   int64_t cyc = bq_costtab_score(&t, wbits, qbits);   // wbits[n_layers], qbits[n_quant]
 *   bq_costtab_free(&t);
 */
#ifndef BQ_COSTTAB_H
#define BQ_COSTTAB_H

#include <stddef.h>
#include <stdint.h>

#include "hwcfg.h"
#include "hwlayer.h"
#include "latency.h"

typedef struct {
    int n;                 /* layers */
    int nq;                /* activation quantizers */
    bq_hw_layer *layers;   /* [n] geometry and flags; bits are overwritten by bq_hw_net_apply */
    int *in_q, *out_q, *res_q;   /* [n] quantizer indices, -1 = fixed 8 bits / none */
    int cap_;              /* private: allocated layers */
} bq_hw_net;

/* Allocate an empty net with room for `cap` layers. 0 or -1 (out of memory). */
int bq_hw_net_init(bq_hw_net *net, int cap);
void bq_hw_net_free(bq_hw_net *net);
/* Append a layer with its quantizer indices (nq grows to cover them). Returns its index or -1. */
int bq_hw_net_add(bq_hw_net *net, const bq_hw_layer *l, int in_q, int out_q, int res_q);

/* Set every layer's wbits/abits/obits/rbits from an allocation: wbits[n], qbits[nq] (1..8). */
void bq_hw_net_apply(bq_hw_net *net, const uint8_t *wbits, const uint8_t *qbits);

/* Exact latency of the whole net (sum of per-layer dry runs, layers run back to back) for the
 * bits currently in net->layers. per_layer (may be NULL) receives n results. Returns the total
 * cycles, or -1 with a message. */
int64_t bq_hw_net_latency(const bq_hw_net *net, const bq_hwcfg *cfg, bq_latency *per_layer,
                          char *err, size_t errlen);

typedef struct {
    int n, nq;
    int32_t *t;            /* [n][8][8] cycles, index l*64 + (w-1)*8 + (a-1) */
    int32_t *o;            /* [n][8] output-bits correction, index l*8 + (o-1) (0 for RAW32) */
    int32_t *r;            /* [n][8] residual-bits correction (0 without residual) */
    int *in_q, *out_q, *res_q;   /* copies of the net's wiring */
    uint16_t *qidx;        /* [n][3] in/out/res quantizer, -1 mapped to nq (a slot holding 8) */
    uint64_t cfg_hash;     /* accelerator the table belongs to */
} bq_costtab;

/* Build the table with 64 + 8 (+ 8 for residual layers) dry runs per layer. A (w, a) pair the
 * scheduler rejects (e.g. accumulator overflow) gets INT32_MAX, so no allocation using it fits
 * any budget. Returns 0, or -1 with a message when the config cannot run the model (a result:
 * `brecq dse` records it), or -2 when building failed (out of memory: an error, never a result). */
int bq_costtab_build(bq_costtab *t, const bq_hwcfg *cfg, const bq_hw_net *net, char *err,
                     size_t errlen);
void bq_costtab_free(bq_costtab *t);

/* Cycles of one layer from the table (w, a, o, r in 1..8; o/r ignored when not used). */
static inline int64_t bq_costtab_layer(const bq_costtab *t, int l, int w, int a, int o, int r) {
    return (int64_t)t->t[l * 64 + (w - 1) * 8 + (a - 1)] + t->o[l * 8 + (o - 1)] +
           t->r[l * 8 + (r - 1)];
}

/* Network cycles of an allocation: wbits[n] per layer, qbits[nq] per activation quantizer. */
int64_t bq_costtab_score(const bq_costtab *t, const uint8_t *wbits, const uint8_t *qbits);

#endif
