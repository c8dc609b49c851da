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
 * v2 (bq_hw_net_is_v2): the same fold over the v2 layers' stand-alone dry runs, plus one row per
 * fixed layer is dry-run at its weight bits for each input width and charged to the T row of the
 * layer that consumes its output (a GAP reads and writes its consumer's input quantizer, so the
 * sum stays exact). Outputs and residuals are whole bytes in v2, so O and R come out 0
 * (docs/whole_network.md §13): the score is exact.
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
#include "hwsched_v2.h"
#include "latency.h"

typedef struct {
    int n;                 /* layers */
    int nq;                /* activation quantizers */
    bq_hw_layer *layers;   /* [n] geometry and flags; bits are overwritten by bq_hw_net_apply */
    int *in_q, *out_q, *res_q;   /* [n] quantizer indices, -1 = fixed 8 bits / none */
    int cap_;              /* private: allocated layers */
    /* Optional ISA v2 view (bq_hw_net_set_v2; NULL = v1 only): the whole-network layer list in
     * execution order, incl. layers without a bit choice (GAP as a depthwise layer, 1-bit
     * weights). v2_layer[j] = the layer of this net that v2 layer j is, or -1 for a fixed layer;
     * v2_in_q / v2_out_q: its quantizers (fixed layers read and write searched activations). With
     * a v2 config (cfg->window_bytes > 0) and this view, latency and cost table are the v2 ones. */
    int n_v2;
    bq_v2_layer *v2;       /* [n_v2]; bits overwritten by bq_hw_net_apply */
    int *v2_layer, *v2_in_q, *v2_out_q;
} bq_hw_net;

/* Allocate an empty net with room for `cap` layers. 0 or -1 (out of memory). */
int bq_hw_net_init(bq_hw_net *net, int cap);
void bq_hw_net_free(bq_hw_net *net);
/* Append a layer with its quantizer indices (nq grows to cover them). Returns its index or -1. */
int bq_hw_net_add(bq_hw_net *net, const bq_hw_layer *l, int in_q, int out_q, int res_q);

/* Attach the v2 view: ls[0 .. n_v2) in execution order (bq_lower_v2_net), layer_of[j] as
 * v2_layer above; a fixed layer's quantizers are derived from its neighbours (input: the
 * producer's out_q, output: its consumer's in_q). 0, or -1 with a message (out of memory, a
 * layer_of out of range). */
int bq_hw_net_set_v2(bq_hw_net *net, const bq_v2_layer *ls, const int *layer_of, int n_v2,
                     char *err, size_t errlen);
/* The net uses v2 costs on cfg: a v2 build (window_bytes > 0) and a v2 view attached. */
int bq_hw_net_is_v2(const bq_hw_net *net, const bq_hwcfg *cfg);

/* Set every layer's wbits/abits/obits/rbits from an allocation: wbits[n], qbits[nq] (1..8);
 * the v2 view too (fixed layers keep their weight bits). */
void bq_hw_net_apply(bq_hw_net *net, const uint8_t *wbits, const uint8_t *qbits);

/* Exact latency of the whole net (sum of per-layer dry runs, layers run back to back) for the
 * bits currently in net->layers. per_layer (may be NULL) receives n results. Returns the total
 * cycles, or -1 with a message. v2 (bq_hw_net_is_v2): the sum of every v2 layer's stand-alone
 * program = the whole-network program's cycles (docs/whole_network.md §4.5); a fixed layer's
 * cycles are added to its consumer's per_layer[].cycles (as in the cost table). */
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

/* Network cycles of an allocation (v2: fixed layers included, in their consumer's row): wbits[n] per layer, qbits[nq] per activation quantizer. */
int64_t bq_costtab_score(const bq_costtab *t, const uint8_t *wbits, const uint8_t *qbits);

#endif
