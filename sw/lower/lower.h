/*
 * lower.h — the one lowering: quantized model (sw/quant/qmodel.h) -> accelerator layers ->
 * schedule (hw_model/hwsched.h) -> instruction programs (hw_model/isa.h). Every user takes its
 * layers from here: the integer reference (intref), the search and `brecq latency` (the hw net),
 * the export package and the co-simulation driver (the programs and the memory map), so there is
 * nothing left for them to disagree about.
 *
 * Two levels:
 *   1. bq_lower_layer: one qmodel layer -> bq_ilayer (intref.h): geometry (conv shape, groups,
 *      GEMM M x K x N per group), bits, zero points, output clamp, producer/consumer links
 *      (in_node, out_node, res_node), and in BQ_LOWER_INT mode the integer parameters (b_q,
 *      wsum, bias_eff, requant multipliers, logit scales; numerics §2-§4). BQ_LOWER_GEOM needs no
 *      calibration (latency of an uncalibrated model) and allocates nothing.
 *      bq_lower_hw_layer / bq_lower_hw_net: the scheduler's view of those layers.
 *   2. bq_lower_net: the integer layers of a bq_intnet + an accelerator config -> per layer the
 *      plan, packing geometry, memory map (docs/formats.md "Memory map"), encoded programs and the
 *      latency model's counters of those very programs; plus the execution order (steps).
 *
 * Memory map (one address space, byte addresses, every region starts at a multiple of 64):
 *   per layer in qmodel layer order: weights, activations, requant records, shortcut, output;
 *   groups back to back inside a region at the scheduler's group stride.
 *
 * Execution order: the graph's node order; a layer runs at its out_node (its shortcut exists by
 * then), host steps (GAP, max pool, flatten) at their node. Producers precede consumers.
 *
 * Example:
 *   bq_intnet net; bq_lowered lw;
 *   bq_intnet_init(&net, &q, 1, err, n);
 *   if (bq_lower_net(&lw, &net, &cfg, err, n)) ...
 *   for (int s = 0; s < lw.n_steps; s++) ... lw.steps[s].kind, lw.acc[lw.steps[s].layer].words ...
 *   bq_lowered_free(&lw);
 */
#ifndef BQ_LOWER_H
#define BQ_LOWER_H

#include <stddef.h>
#include <stdint.h>

#include "costtab.h"
#include "hwcfg.h"
#include "hwsched.h"
#include "io/pack.h"
#include "latency.h"
#include "quant/intref.h"
#include "quant/qmodel.h"

#define BQ_LOWER_ALIGN 64     /* every memory-map region starts at a multiple of this */
#define BQ_LOWER_REC_BYTES 16 /* one requant record (docs/hw_isa.md §2.4) */

enum { BQ_LOWER_GEOM = 0, BQ_LOWER_INT = 1 };

/* Lower qmodel layer l into L (memset first). BQ_LOWER_GEOM: geometry, links, bits (every
 * activation quantizer the layer touches must have bits), zero points as stored; no allocation.
 * BQ_LOWER_INT: also checks every quantizer is initialised and derives the integer parameters
 * (arrays allocated; free with bq_lower_layer_free). Returns 0 or -1 with
 * "layer 'x': what is wrong; fix". */
int bq_lower_layer(bq_ilayer *L, const bq_qmodel *q, int l, int mode, char *err, size_t errlen);
/* Free what bq_lower_layer allocated (b_q, wsum, bias_eff, rq, logit_scale). */
void bq_lower_layer_free(bq_ilayer *L);

/* The scheduler's view of L: M, K, N, groups, bits (raw32: obits 8), unsigned operands, residual
 * flag and bits, output-stage scalars z_o, z_r, lo, hi (raw32: 0, 0, 0, -1). */
void bq_lower_hw_layer(bq_hw_layer *hl, const bq_ilayer *L, const char *name);

/* The accelerator's view of q (search, latency): one hw layer per qmodel layer (geometry mode),
 * quantizer indices = the qmodel's aq indices (in, out (-1 for raw32), shortcut). 0 or -1 + err. */
int bq_lower_hw_net(bq_hw_net *net, const bq_qmodel *q, char *err, size_t errlen);

/* The 16-byte requant records of group g of L, m_pad of them (rows >= M zero): bias_eff, m_acc,
 * m_res little-endian, z_w, sh (raw32: m_acc = m_res = 0, sh = 1). */
void bq_lower_pack_requant(uint8_t *dst, const bq_ilayer *L, int g, int m_pad);

/* One accelerator layer, lowered all the way. Sizes are of all groups; per group = size / groups
 * (groups are back to back in memory and in the package). */
typedef struct {
    int layer;                     /* qmodel layer index */
    bq_hw_layer hl;
    bq_sched_plan plan;
    bq_pack_geom geom;
    bq_sched_addr ad;              /* memory map: region addresses */
    uint64_t w_bytes, a_bytes, rq_bytes, r_bytes, o_bytes;
    uint32_t *words[BQ_NSTAGES];   /* encoded programs, 4 words per instruction (isa.h) */
    int len[BQ_NSTAGES];           /* instructions per stage */
    bq_latency lat;                /* the latency model's dry run of these programs */
} bq_lower_acc;

typedef enum { BQ_STEP_LAYER = 0, BQ_STEP_GAP, BQ_STEP_MAXPOOL, BQ_STEP_FLATTEN } bq_step_kind;

typedef struct {
    int kind;       /* bq_step_kind */
    int node;       /* graph node whose codes the step writes (layer: its out_node; raw32: its node) */
    int in_node;    /* node it reads */
    int layer;      /* BQ_STEP_LAYER: qmodel layer, else -1 */
} bq_lower_step;

typedef struct {
    int n_layers;
    bq_lower_acc *acc;       /* [n_layers], qmodel layer order */
    int n_steps;
    bq_lower_step *steps;    /* execution order */
    uint64_t mem_bytes;      /* end of the memory map (aligned) */
} bq_lowered;

/* Lower every layer of net (initialised, bq_intnet_init) onto cfg. Returns 0, or -1 with
 * "layer 'x': what; how to fix" (a layer that cannot be scheduled, a map beyond 32 bits). */
int bq_lower_net(bq_lowered *lw, const bq_intnet *net, const bq_hwcfg *cfg, char *err,
                 size_t errlen);
void bq_lowered_free(bq_lowered *lw);

const char *bq_step_name(int kind);

#endif
