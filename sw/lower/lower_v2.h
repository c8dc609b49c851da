/*
 * lower_v2.h — a quantized model as the layer list of a whole-network ISA v2 program
 * (hw_model/hwsched_v2.h, docs/whole_network.md §5, §11): every conv / linear layer with its conv
 * geometry and producers, and the graph's global average pools as depthwise layers (kernel = the
 * image, 1-bit weights, §5). Geometry only (latency); the exporter (build step 5) adds the data.
 *
 * Example:
 *   bq_v2_layer ls[BQ_V2_MAX_LAYERS];
 *   int n = bq_lower_v2_net(ls, BQ_V2_MAX_LAYERS, &q, err, sizeof err);
 *   if (n < 0) ...report err...
 */
#ifndef BQ_LOWER_V2_H
#define BQ_LOWER_V2_H

#include <stddef.h>

#include "costtab.h"
#include "hwsched_v2.h"
#include "latency.h"
#include "quant/intref.h"
#include "quant/qmodel.h"

/* Fill ls[0 .. n) in execution order; returns n, or -1 with "layer 'x': what; fix" (a max pool
 * or average pool on the path keeps the model off the whole-network path; more than max layers). */
int bq_lower_v2_net(bq_v2_layer *ls, int max, const bq_qmodel *q, char *err, size_t errlen);

/* Attach the whole-network view (bq_lower_v2_net; a GAP becomes a fixed layer of the view) to
 * net, built by bq_lower_hw_net from the same q: on a v2 config (window_bytes > 0) the latency
 * and the cost table are then the v2 ones (costtab.h). 0, or -1 with the message (a layer off the
 * v2 path, e.g. after a max pool). */
int bq_lower_hw_net_v2(bq_hw_net *net, const bq_qmodel *q, char *err, size_t errlen);

/* ---- a whole quantized model with its integer data (build step 5b) ----
 *
 * Example (functional check of image b: write the memory image, run the program, compare):
 *   bq_lowered_v2 lw;
 *   if (bq_lower_v2_full(&lw, &net, &cfg, err, sizeof err)) ...report err...
 *   uint8_t *mem = calloc(lw.mem_bytes, 1);
 *   bq_lowered_v2_load(&lw, mem);                 // weights and requant records
 *   bq_lowered_v2_write_input(&lw, &net, b, mem);  // after bq_intnet_forward(&net, x, n)
 *   ...run lw.prog on mem...
 *   bq_lowered_v2_read_output(&lw, i, mem, out);   // == net.codes[lw.node_out[i]] + b * size
 *   bq_lowered_v2_free(&lw);
 */
typedef struct {
    int n;                      /* v2 layers, execution order (bq_lower_v2_net) */
    bq_v2_layer *layers;        /* [n] */
    bq_v2_plan *plans;          /* [n] */
    bq_v2_memplan mp;           /* addresses of the input, every output, weights, records */
    uint64_t mem_bytes;         /* memory image size (mp.end) */
    int *qlayer;                /* [n] the qmodel / intnet layer (net->L index); -1 for a GAP */
    int *node;                  /* [n] the graph node the layer computes (conv / linear / GAP) */
    int *node_out;              /* [n] intnet node whose codes the output tensor holds (RAW32
                                   classifier: its node; the values are net->logits) */
    int *node_in;               /* [n] intnet node whose codes the input tensor holds */
    int *node_res;              /* [n] the residual operand's node, -1 without */
    int input_node;             /* the network input (node 0), CHW codes in net->codes[0] */
    int cs_input;               /* bytes per pixel of the input tensor in memory (HWC) */
    uint8_t **w;                /* [n] packed weights (bq_v2_pack_weights) */
    uint64_t *w_bytes;          /* [n] groups * w_group_bytes, written at mp.w[i] */
    uint8_t **rq;               /* [n] requant records, 16 bytes each, groups * m_pad of them */
    uint64_t *rq_bytes;         /* [n] written at mp.rq[i] */
    uint32_t *gap_m;            /* [n] GAP layers: m_acc (= ceil(2^sh / HW)); 0 otherwise */
    int *gap_sh;                /* [n] GAP layers: sh; 0 otherwise */
    bq_program prog;            /* the whole network, encoded (bq_v2_net_build) */
    bq_latency lat;             /* the latency model's dry run of prog */
    int64_t *cycles;            /* [n] each layer's stand-alone cycles; sum == lat.cycles */
} bq_lowered_v2;

/* Lower the whole model of net (bq_intnet_init: the integer parameters) onto cfg (a v2 config:
 * window_bytes > 0) as one program with its data. The GAP becomes a depthwise layer with 1-bit
 * weights 1, z_w 0, bias_eff 0, z_o 0 and m_acc = ceil(2^sh / HW), sh the least with
 * 2^sh > 510 HW^2 (exact floor((2 sum + HW) / (2 HW)), docs/numerics.md §5). Checks the dry run
 * equals the sum of the layers' stand-alone cycles. 0, or -1 with one line naming the layer (a
 * max pool on the path, a window too small, a GAP no sh fits, ...); lw is then empty (free is a
 * no-op). */
int bq_lower_v2_full(bq_lowered_v2 *lw, const bq_intnet *net, const bq_hwcfg *cfg, char *err,
                     size_t errlen);
void bq_lowered_v2_free(bq_lowered_v2 *lw);

/* Write every layer's packed weights and requant records into mem (lw->mem_bytes bytes). */
void bq_lowered_v2_load(const bq_lowered_v2 *lw, uint8_t *mem);
/* Write image b's input codes (net->codes[input_node], CHW, after bq_intnet_forward) into mem
 * at mp.input as HWC with cs_input bytes per pixel; padding channel bytes are left as they are
 * (every reader masks them). */
void bq_lowered_v2_write_input(const bq_lowered_v2 *lw, const bq_intnet *net, int b, uint8_t *mem);
/* The same input tensor written at dst (its first byte; e.g. a package's test vector). */
void bq_lowered_v2_input_tensor(const bq_lowered_v2 *lw, const bq_intnet *net, int b, uint8_t *dst);
/* Image b's reference output of layer i (after bq_intnet_forward) as the accelerator leaves the
 * tensor, written at dst: HWC codes with cs_out bytes per pixel (padding bytes untouched), or RAW32
 * acc0 in v1's tile layout, little-endian; bq_lowered_v2_read_output reads it back. */
void bq_lowered_v2_output_tensor(const bq_lowered_v2 *lw, int i, const bq_intnet *net, int b,
                                 uint8_t *dst);
/* Bytes bq_lowered_v2_read_output writes for layer i: cout * ho * wo codes, or RAW32 4 * cout. */
size_t bq_lowered_v2_out_size(const bq_lowered_v2 *lw, int i);
/* Read layer i's output tensor from mem as CHW: codes (cout, ho, wo) (the real channels of each
 * HWC pixel), or RAW32 the int32 acc0 of each class (native byte order, from v1's tile layout). */
void bq_lowered_v2_read_output(const bq_lowered_v2 *lw, int i, const uint8_t *mem, uint8_t *out);

#endif
