/*
 * hwsched_v2.h — the scheduler for ISA v2 (docs/whole_network.md §3-§5, §11): one layer of a
 * network whose feature maps stay in memory as HWC codes -> fetch SETUP, result SETUP, the tile
 * program with WIN fetches (the window unit gathers the tap-major K vector on chip) and CODES
 * results (the result stage writes whole pixels), and the SYNC epilogue that returns every token
 * FIFO to 0; and a whole network -> one program (layers chained by the WRITTEN token) with a
 * memory plan. The latency model (latency.h, bq_latency_program) times these programs exactly.
 *
 * Example (one layer, stand-alone):
 *   bq_v2_layer l; bq_v2_plan p; bq_program prog; bq_latency r; char err[256];
 *   bq_v2_layer_conv(&l, "c1", 16, 16, 8, 8, 3, 3, 1, 1, 0, err, sizeof err);
 *   bq_program_init(&prog);
 *   if (bq_v2_plan_layer(&p, &cfg, &l, err, sizeof err) ||
 *       bq_v2_build(&prog, &p, &cfg, NULL, 0, 0, err, sizeof err) ||
 *       bq_latency_program(&r, &prog, &p.base, &cfg, 1, err, sizeof err)) { ...report err... }
 *   bq_program_free(&prog);
 */
#ifndef BQ_HWSCHED_V2_H
#define BQ_HWSCHED_V2_H

#include <stddef.h>
#include <stdint.h>

#include "hwcfg.h"
#include "hwlayer.h"
#include "hwsched.h"

#define BQ_V2_MAX_LAYERS 256

/* One layer of a whole-network program. `hw` keeps the bits, signedness, residual, raw32 and the
 * output-stage scalars (hwlayer.h); its m, k, n, groups are set by the constructors. */
typedef struct {
    bq_hw_layer hw;
    int cin, cout;          /* input / output channels */
    int hi, wi, ho, wo;     /* input and output image */
    int kh, kw, stride, pad_t, pad_l;
    int depthwise;          /* groups = cin = cout, one input channel per output channel */
    int z_a;                /* input zero point: the code of out-of-image taps */
    int in_from, res_from;  /* network: layer whose output is the input / the residual operand,
                               -1 = the network input (res_from only with hw.has_residual) */
} bq_v2_layer;

/* Conv (dense or depthwise) with symmetric padding `pad`: ho = (hi + 2 pad - kh)/stride + 1.
 * Bits default to 8/8/8 unsigned (as bq_hw_layer_conv); in_from = res_from = -1. 0, or -1 with
 * the message. */
int bq_v2_layer_conv(bq_v2_layer *l, const char *name, int cin, int cout, int hi, int wi, int kh,
                     int kw, int stride, int pad, int depthwise, char *err, size_t errlen);
/* Linear in -> out on a 1 x 1 image (the classifier after global pooling): RAW32 result. */
int bq_v2_layer_linear(bq_v2_layer *l, const char *name, int in, int out, char *err, size_t errlen);

typedef struct {
    bq_sched_plan base;     /* tiling (mt, nt, kc of K_pad, regions, requant), order W_RESIDENT
                               or N_OUTER; base.layer = v.hw with k = the tap-major K */
    bq_v2_layer v;
    int ct;                 /* tap slot bytes (§3): dense Cs = roundup(cin, Wb), depthwise Wb */
    int cs_in, cs_out;      /* bytes per pixel of the input / output tensor */
    int cs_res;             /* bytes per pixel of the residual operand (0 without) */
    int w_resident;         /* all weights loaded once (depthwise: every channel's) */
    long window_max;        /* largest window-buffer bytes of a tile */
} bq_v2_plan;

/* Plan one layer for v2. Refusals (one line naming the layer): the config has no v2 units
 * (window_bytes 0), the window of a tile does not fit window_bytes (bytes needed), M_pad or
 * cs_out > block_channels, K needing more than one region (no K split in v2 yet), a dense
 * layer's requant records not fitting at once (depthwise: reloaded per tile in a ring), grouped
 * layers other than depthwise, fields out of range. */
int bq_v2_plan_layer(bq_v2_plan *p, const bq_hwcfg *cfg, const bq_v2_layer *l, char *err,
                     size_t errlen);

/* Byte addresses of a layer's operands (Wb-aligned): in/out/res HWC tensors (out: RAW32 tiles
 * for raw32 layers), w weights (K in tap-major order, docs/hw_isa.md §2.1 layout), rq records. */
typedef struct {
    uint32_t in, w, rq, out, res;
} bq_v2_addr;

/* Append the layer's programs to prog. wait_prev: the first fetch instruction waits for WRITTEN
 * (a layer after the first); signal_next: the last result signals WRITTEN (a layer before the
 * last). Every instruction is encoded (bq_isa_encode), every WIN passes bq_win_check and every
 * result SETUP / RUNC bq_codes_setup / bq_codes_check. 0, or -1 with the message. */
int bq_v2_build(bq_program *prog, const bq_v2_plan *p, const bq_hwcfg *cfg, const bq_v2_addr *addr,
                int wait_prev, int signal_next, char *err, size_t errlen);

/* Weights in the tap-major K order (§3) and the layout of docs/hw_isa.md §2.1, as the exporter
 * writes them (build step 5 calls this): codes[((g*M + m)*cin_g + ci)*kh*kw + ky*kw + kx] with
 * M = hw.m, cin_g = cin (dense) or 1 (depthwise, g = channel); signed codes as two's complement.
 * K index k = (ky*kw + kx)*ct + slot byte: dense ci, depthwise the channel's byte g % Wb; every
 * other position 0. out: hw.groups * base.w_group_bytes bytes (group g at g*w_group_bytes). */
void bq_v2_pack_weights(const bq_v2_plan *p, const bq_hwcfg *cfg, const int *codes, uint8_t *out);

/* ---- whole network ---- */
typedef struct {
    uint32_t input;                    /* the network input (HWC codes) */
    uint32_t out[BQ_V2_MAX_LAYERS];    /* each layer's output */
    uint32_t w[BQ_V2_MAX_LAYERS], rq[BQ_V2_MAX_LAYERS];
    uint64_t end;                      /* first byte past the plan */
    bq_v2_addr addr[BQ_V2_MAX_LAYERS]; /* per layer, what bq_v2_build takes */
} bq_v2_memplan;

/* Plan every layer and the memory: input, then every layer's output tensor, then weights and
 * requant records, each base rounded up to the beat (no reuse of dead tensors: first version).
 * Checks the chain (a layer's input / residual shape equals its producer's output). plans[i]
 * receives layer i's plan. 0, or -1 with the message. */
int bq_v2_net_plan(bq_v2_plan *plans, bq_v2_memplan *mp, const bq_hwcfg *cfg,
                   const bq_v2_layer *layers, int nlayers, char *err, size_t errlen);

/* The whole network as one program: the layers' programs in order, layer i > 0 waiting for the
 * WRITTEN token of layer i-1. 0, or -1 with the message. Dry-run it with bq_latency_program(&r,
 * prog, &plans[0].base, ...): cycles and counters are the network's (= the sum of the layers'
 * stand-alone cycles, docs/whole_network.md §11); exec_eff / eff / bound use layer 0's work only. */
int bq_v2_net_build(bq_program *prog, const bq_v2_plan *plans, const bq_v2_memplan *mp,
                    const bq_hwcfg *cfg, int nlayers, char *err, size_t errlen);

#endif
