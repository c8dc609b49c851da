/*
 * sched.h — the scheduler: one layer (bq_hw_layer) + one accelerator (bq_hwcfg) -> the instruction
 * streams of the fetch, execute and result queues (encoding: docs/hw_isa.md).
 *
 * The scheduler is used twice, by construction identically:
 *   - to emit the program the RTL runs (export package, co-simulation driver), and
 *   - as the latency model (latency.h), which feeds the very same instruction sequence to a timing
 *     sink that applies the RTL's pipeline timing. Model and RTL cannot drift apart.
 *
 * Planning (bq_sched_plan_layer) pads M, K, N to Dm, Dk, Dn, picks the K chunk so that one weight
 * stripe and one activation stripe fit a buffer region, picks the loop order by the documented rule
 * (docs/latency_model.md), and rejects layers that cannot run: accumulator overflow, stripes that
 * do not fit a region, requant parameters that do not fit the requant RAM.
 *
 * Emission (bq_sched_emit) walks the loop nest and hands every instruction, in a dependency-
 * respecting global order (each token a WAIT consumes was SIGNALled earlier in that order), to a
 * sink. The sink may ask to skip periods of the loop that are identical (the timing sink does so
 * when the pipeline has reached a periodic steady state; the encoder never does).
 *
 * Example:
 *   bq_sched_plan p; char err[256];
 *   if (bq_sched_plan_layer(&p, &cfg, &layer, err, sizeof err)) { ...report err... }
 *   bq_sched_emit(&p, &cfg, &my_sink);
 */
#ifndef BQ_SCHED_H
#define BQ_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "hwcfg.h"
#include "hwlayer.h"

/* ---- decoded instructions (the encoding into words is in isa.h) ---- */
typedef enum { BQ_STAGE_FETCH = 0, BQ_STAGE_EXEC = 1, BQ_STAGE_RESULT = 2, BQ_NSTAGES = 3 } bq_stage;

/* Token channels between the stages (each a FIFO of tokens). */
typedef enum {
    BQ_CH_F2E = 0,   /* fetch -> execute: a buffer region has been filled */
    BQ_CH_E2F = 1,   /* execute -> fetch: a buffer region may be overwritten */
    BQ_CH_E2R = 2,   /* execute -> result: an accumulator tile is ready */
    BQ_CH_R2E = 3,   /* result -> execute: an accumulator tile slot is free again */
    BQ_NCH = 4
} bq_channel;

typedef enum {
    BQ_OP_WAIT = 0,  /* any stage: wait for (and consume) one token on `ch` */
    BQ_OP_SIGNAL,    /* any stage: send one token on `ch` */
    BQ_OP_LOAD,      /* fetch: memory -> on-chip buffer `buf` */
    BQ_OP_RUN,       /* execute: accumulate one Dm x Dn output tile over one K chunk */
    BQ_OP_STORE,     /* result: requantise one output tile and write it to memory */
    BQ_OP_END,       /* any stage: end of this stage's program for the layer */
    BQ_NOPS
} bq_opcode;

typedef enum { BQ_BUF_W = 0, BQ_BUF_A = 1, BQ_BUF_Q = 2 } bq_buffer;

typedef struct {
    uint8_t stage;      /* bq_stage */
    uint8_t op;         /* bq_opcode */
    uint8_t ch;         /* WAIT/SIGNAL: bq_channel */
    uint8_t buf;        /* LOAD: bq_buffer */
    /* LOAD: `rows` bursts of `burst_bytes` bytes each, burst r from addr + r*stride, written to
     * buffer word `buf_addr` onward (W/A: one burst = one bank row of one bit-plane, in Dk-bit
     * words; Q: requant entries). */
    uint64_t addr;
    uint32_t burst_bytes, rows, stride;
    uint32_t buf_addr;
    /* RUN: W words from w_addr, A words from a_addr, kwords per bit-plane, all wbits x abits pairs;
     * clear = first K chunk (reset the accumulators), slot = accumulator/result slot. */
    uint32_t w_addr, a_addr, kwords;
    uint8_t wbits, abits, w_signed, a_signed, clear, slot;
    /* STORE: output tile (m0, n0) of group; obits planes (or RAW32), residual read if any. */
    uint32_t m0, n0, q_addr;
    uint8_t obits, raw32, residual, rbits;
    uint64_t out_addr, res_addr;
} bq_instr;

/* ---- plan ---- */
typedef enum {
    BQ_ORDER_W_RESIDENT = 0,  /* all weights of a group in one region; n outer, m inner */
    BQ_ORDER_M_OUTER,         /* weight stripe stationary; activations re-fetched per m tile */
    BQ_ORDER_N_OUTER,         /* activation stripe stationary; weights re-fetched per n tile */
    BQ_ORDER_K_SPLIT,         /* K does not fit a region: both re-fetched per tile and chunk */
} bq_loop_order;

const char *bq_loop_order_name(bq_loop_order o);

typedef struct {
    bq_hw_layer layer;          /* copy of the layer being scheduled */
    int m_pad, k_pad, n_pad;    /* padded to multiples of Dm, Dk, Dn */
    int m_tiles, n_tiles;       /* m_pad/Dm, n_pad/Dn */
    int k_words;                /* k_pad/Dk: Dk-bit words per bit-plane row */
    int kc_words, k_chunks;     /* words per K chunk, number of chunks (last may be shorter) */
    int w_region, a_region;     /* words per bank in one weight / activation region */
    bq_loop_order order;
    /* memory layout of the layer's operands, bytes (see docs/hw_isa.md) */
    uint64_t w_plane_bytes;     /* one weight bit-plane: m_pad * k_words * Dk/8 */
    uint64_t a_plane_bytes;     /* one activation bit-plane: n_pad * k_words * Dk/8 */
    uint64_t w_group_bytes;     /* all weight planes of one group */
    uint64_t a_group_bytes;     /* all activation planes of one group */
    uint64_t o_tile_bytes;      /* bytes written per output tile */
    uint64_t r_tile_bytes;      /* residual bytes read per output tile (0 without residual) */
    uint64_t q_bytes;           /* requant parameters per group */
    /* accumulator range check */
    int64_t acc_worst;          /* largest |value| the accumulator/correction can take */
    int acc_bits_needed;        /* bits (two's complement) to hold acc_worst */
} bq_sched_plan;

/* Plan one layer on one accelerator. Returns 0, or -1 with a one-line message (`layer 'x': ...;
 * how to fix`) when the layer cannot run: invalid layer, accumulator overflow, buffers too small. */
int bq_sched_plan_layer(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
                        size_t errlen);

/* Worst-case magnitude of the accumulator and of the zero-point-corrected sum (numerics §2):
 * max over codes of |acc|, |asum|, |acc - z_w*asum| and |z_a*sum_k q_w - K*z_w*z_a|, for K terms
 * of wbits x abits codes (unsigned codes in [0, 2^b-1], zero points anywhere in that range;
 * signed codes in [-2^(b-1), 2^(b-1)-1] with zero point 0). */
int64_t bq_sched_acc_worst(int k, int wbits, int abits, int w_signed, int a_signed);

/* A consumer of the instruction stream. `emit` returns 0 or -1 (stop). `period`, if not NULL, is
 * called at the end of every iteration of a loop whose iterations are identical (level 0 = the
 * innermost such loop, 1 = the group loop) with the number of identical iterations still to come;
 * it returns how many of them the scheduler should skip (0..remaining). */
typedef struct bq_sched_sink {
    int (*emit)(struct bq_sched_sink *s, const bq_instr *in);
    long (*period)(struct bq_sched_sink *s, int level, long remaining);
    void *ctx;
} bq_sched_sink;

/* Walk the plan and emit every instruction of the layer. Base addresses of the operands are in
 * `addr` (may be NULL: all zero, fine for timing). Returns 0, or -1 if the sink stopped. */
typedef struct {
    uint64_t w, a, q, out, res;  /* byte addresses of weights, activations, requant, output, residual */
} bq_sched_addr;
int bq_sched_emit(const bq_sched_plan *p, const bq_hwcfg *cfg, const bq_sched_addr *addr,
                  bq_sched_sink *sink);

#endif
