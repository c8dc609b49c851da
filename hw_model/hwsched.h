/*
 * hwsched.h — the scheduler: one layer (bq_hw_layer) + one accelerator (bq_hwcfg) -> the programs
 * of the fetch, execute and result queues, in the instruction set of docs/hw_isa.md (v1).
 * (Not called sched.h so it can never shadow the system <sched.h>.)
 *
 * The scheduler is used twice, identically:
 *   - to emit the program the RTL runs (export package, co-simulation driver: bq_isa_encode), and
 *   - as the latency model (latency.h), a cycle-exact dry run of the very same program with the
 *     timing of docs/hw_isa.md section 4. Model and RTL cannot drift apart.
 *
 * Planning (bq_sched_plan_layer) pads M, K, N to Dm, Dk, Dn, picks the K chunk so one weight stripe
 * and one activation stripe fit a buffer region, picks the loop order by the documented rule
 * (docs/latency_model.md, "Loop order"), places requant records, and rejects layers that cannot run
 * (accumulator overflow, stripes or requant records that do not fit, fields out of range) with a
 * one-line error saying what to change.
 *
 * Emission (bq_sched_build) walks the loop nest and appends every instruction to its stage's
 * program, in a dependency-respecting order, with the token protocol of docs/latency_model.md.
 * It also records where each iteration of the periodic loops starts (used by the latency model to
 * skip identical steady-state iterations exactly).
 *
 * Example:
 *   bq_sched_plan p; bq_program prog; char err[256];
 *   bq_program_init(&prog);
 *   if (bq_sched_plan_layer(&p, &cfg, &layer, err, sizeof err) ||
 *       bq_sched_build(&prog, &p, &cfg, NULL, err, sizeof err)) { ...report err... }
 *   ... prog.ins[BQ_STAGE_EXEC][0 .. prog.len[BQ_STAGE_EXEC]-1] ...
 *   bq_program_free(&prog);
 */
#ifndef BQ_HWSCHED_H
#define BQ_HWSCHED_H

#include <stddef.h>
#include <stdint.h>

#include "hwcfg.h"
#include "hwlayer.h"

typedef enum { BQ_STAGE_FETCH = 0, BQ_STAGE_EXEC = 1, BQ_STAGE_RESULT = 2, BQ_NSTAGES = 3 } bq_stage;

/* Token FIFOs (docs/hw_isa.md section 3). */
typedef enum {
    BQ_TOK_FILLED = 0,   /* fetch sig0 -> exec wait0: a buffer region has been written */
    BQ_TOK_FREED = 1,    /* exec sig0 -> fetch wait0: execute finished reading a region */
    BQ_TOK_RESRDY = 2,   /* exec sig1 -> result wait0: the result slot holds a committed tile */
    BQ_TOK_RESFREE = 3,  /* result sig0 -> exec wait1: the result slot may be overwritten */
    BQ_TOK_WRITTEN = 4,  /* v2: result sig1 -> fetch wait1: a layer's last output write is done */
    BQ_NTOK = 5
} bq_token;

/* SETUP (fetch, result) and RUNC (result) and the fetch target WIN are ISA v2 encodings
 * (docs/whole_network.md §4): encoded and decoded, not executed by the v1 RTL yet. */
enum { BQ_OP_SYNC = 0, BQ_OP_RUN = 1, BQ_OP_SETUP = 2, BQ_OP_RUNC = 3 };
enum { BQ_TGT_W = 0, BQ_TGT_A = 1, BQ_TGT_RQ = 2, BQ_TGT_WIN = 3 };

/* One decoded instruction; fields of the other stages are zero. bq_isa_encode (isa.h) packs it
 * into the 4 x 32-bit words of docs/hw_isa.md. */
typedef struct {
    uint8_t stage, op;                 /* bq_stage, BQ_OP_* */
    uint8_t wait0, wait1, sig0, sig1;  /* token bits */
    /* fetch RUN */
    uint8_t target, nplanes;           /* BQ_TGT_*, 1..8 */
    uint16_t buf_base, t;              /* bank row of unit 0 of plane 0; units per bank per plane */
    uint32_t dram_addr, plane_stride;  /* bytes */
    /* execute RUN */
    uint8_t clear, commit, asum, wbits, abits, wsigned, asigned;
    uint8_t w0, wn, a0, an;            /* plane sub-ranges of the loop */
    uint16_t wbase, abase, wstride, astride, nk;
    /* result RUN */
    uint8_t mode, obits, res, rbits, z_r, z_o, lo, hi, rq_entry;
    uint32_t out_addr, res_addr;
    /* v2 (not executed yet): fetch SETUP (window geometry; in_h/in_w/out_w are §4.1's hi/wi/wo,
     * renamed because `hi` is the result's clamp bound) */
    uint16_t in_h, in_w, out_w, cs, ch_base, ch_lo, ch_hi;
    uint8_t kh, kw, stride, pad_t, pad_l, z_a;
    /* v2: fetch RUN target WIN (plus target, nplanes, dram_addr, buf_base, t) */
    uint8_t keep;
    uint16_t kc0;
    uint32_t pix0;
    /* v2: result RUNC (plus res, z_o, lo, hi, rq_entry) and result SETUP (plus z_r) */
    uint8_t npix, mrows, first, flush;
    uint16_t ch0, cs_out, cs_res;
    uint32_t n0, out_base, res_base;
    /* derived, for the latency model (not encoded) */
    uint32_t beats;                    /* fetch: beats per plane; exec: wn*an*nk; result: write beats */
    uint32_t beats2;                   /* result: residual read beats (0 without res) */
} bq_instr;

/* The timing view of one instruction (what the latency model reads): every timing-relevant field
 * packed in `key` (two instructions with equal keys take the same time in the same state):
 * bits 0-31 beats, 32-47 beats2, 48 op bit 0, 49 wait0, 50 wait1, 51 sig0, 52 sig1, 53 res,
 * 54-55 target, 56-59 nplanes, 60 op bit 1 (the v2 ops SETUP, RUNC; 0 in every v1 key, so v1 keys
 * did not change). v2 (docs/whole_network.md §11): a WIN's `beats` is the index of its fill
 * profile in the program's table (bq_program.wp_*: the beats of every burst and the assembly
 * cycles; equal profiles share one index, so equal keys still mean equal timing); a RUNC's `beats`
 * is its write burst (0 without flush) and `beats2` its residual read (0 unless first && res).
 * iter[L] = iteration record of level L starting here, or -1. */
typedef struct {
    uint64_t key;
    int32_t iter[2];
} bq_tinstr;
#define BQ_T_BEATS(k) ((uint32_t)(k))
#define BQ_T_BEATS2(k) ((uint32_t)((k) >> 32) & 0xffffu)
#define BQ_T_OP(k) (((int)((k) >> 48) & 1) | ((int)((k) >> 59) & 2))
#define BQ_T_WAIT0(k) ((int)((k) >> 49) & 1)
#define BQ_T_WAIT1(k) ((int)((k) >> 50) & 1)
#define BQ_T_SIG0(k) ((int)((k) >> 51) & 1)
#define BQ_T_SIG1(k) ((int)((k) >> 52) & 1)
#define BQ_T_RES(k) ((int)((k) >> 53) & 1)
#define BQ_T_TARGET(k) ((int)((k) >> 54) & 3)
#define BQ_T_NPLANES(k) ((int)((k) >> 56) & 15)

/* The three programs of one layer plus the iteration records of its periodic loops. The timing
 * view `tins` is always filled; the full instructions `ins` only when `timing_only` is 0. */
typedef struct {
    bq_instr *ins[BQ_NSTAGES];
    bq_tinstr *tins[BQ_NSTAGES];
    int len[BQ_NSTAGES], cap[BQ_NSTAGES], fcap[BQ_NSTAGES];   /* capacities of tins, ins */
    int *itbase[2];   /* level L: itbase[L][3*i + s] = index in stage s where iteration i starts */
    long *itvirt[2];  /* level L: loop index of record i (level 0: o*I + i, level 1: o) */
    int nit[2], capit[2];
    int timing_only;  /* set by the caller before bq_sched_build (bq_program_init: 0) */
    /* v2 WIN fill profiles (timing only): profile i = bursts wp_beats[wp_off[i] ..
     * wp_off[i] + wp_n[i]) in request order, then wp_asm[i] assembly cycles */
    uint32_t *wp_beats;
    int *wp_off, *wp_n;
    int64_t *wp_asm;
    int nwp, capwp, nwpbeats, capwpbeats;
} bq_program;

void bq_program_init(bq_program *p);
void bq_program_free(bq_program *p);
/* Forget the instructions, keep the memory (reuse across layers without reallocating). */
void bq_program_reset(bq_program *p);

/* Low-level appends, shared by the v1 emitter below and the v2 emitter (hwsched_v2.h). */
uint64_t bq_tkey(const bq_instr *in);   /* the timing key of bq_tinstr from the fields */
/* Append *in (stage set to `stage`) with timing key `key`; iter0/iter1: iteration records that
 * start at this instruction (-1: none). 0, or -1 out of memory. */
int bq_program_append(bq_program *pr, int stage, const bq_instr *in, uint64_t key, int iter0,
                      int iter1);
/* Open iteration record of `level` at the programs' current ends with loop index `virt`: its
 * index, or -1 out of memory. */
int bq_program_iter_begin(bq_program *pr, int level, long virt);
/* Index of the WIN fill profile (bursts of beats[0..n), then `assemble` cycles), added if new.
 * -1 out of memory. */
int bq_program_win_profile(bq_program *pr, const uint32_t *beats, int n, int64_t assemble);

/* ---- plan ---- */
typedef enum {
    BQ_ORDER_W_RESIDENT = 0,  /* all weights of a group in one region; n outer, m inner */
    BQ_ORDER_M_OUTER,         /* weight stripe stationary; activation stripes re-fetched per m */
    BQ_ORDER_N_OUTER,         /* activation stripe stationary; weight stripes re-fetched per n */
    BQ_ORDER_K_SPLIT,         /* K chunked: weight and activation chunks re-fetched per tile */
} bq_loop_order;

const char *bq_loop_order_name(int order);

typedef struct {
    bq_hw_layer layer;          /* copy of the layer being scheduled */
    int m_pad, k_pad, n_pad;    /* padded to multiples of Dm, Dk, Dn */
    int mt, kc, nt;             /* tiles: M_pad/Dm, K words K_pad/Dk, N_pad/Dn */
    int kcw, kch;               /* K_SPLIT: words per chunk and number of chunks (else kc, 1) */
    int w_region, a_region;     /* rows per bank of one weight / activation region */
    int regions;
    int order;                  /* bq_loop_order */
    int w_fits;                 /* all weights of a group fit one weight region */
    int rq_all;                 /* 1: all requant records loaded once; 0: per group, ring of rq_slots */
    int rq_slots;               /* per-group mode: groups' records held at once (>= 2) */
    int tpb;                    /* bytes of one output tile plane, ceil(Dm*Dn/W)*Wb */
    /* memory layout of the operands of one group, bytes (docs/hw_isa.md section 2) */
    uint64_t w_plane_bytes, a_plane_bytes;   /* one bit-plane */
    uint64_t w_group_bytes, a_group_bytes;   /* all planes */
    uint64_t o_tile_bytes, r_tile_bytes;     /* per output tile written / residual read */
    /* accumulator range check (numerics §2) */
    int64_t acc_worst;
    int acc_bits_needed;
} bq_sched_plan;

/* Plan one layer: tiling and checks, then the loop order = the feasible order with the fewest
 * cycles in a dry run (latency.h) — w-resident (if all weights of a group fit one region),
 * m-outer, n-outer, preferred in that order on equal cycles; k-split when K must be chunked.
 * Everyone (export, co-simulation, latency model) gets the same plan from here. Returns 0, or -1
 * with `layer 'x': what; how to fix` in err. */
int bq_sched_plan_layer(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
                        size_t errlen);

/* The same, reusing `scratch` (may be NULL) for the dry runs and returning the chosen order's
 * dry-run result in *best (may be NULL). Declared with a forward type: see latency.h. Returns
 * -1 when the layer does not fit the config (a property of the layer: the cost table marks the
 * bit-widths infeasible), -2 when a dry run failed (out of memory, a scheduler bug: an error). */
struct bq_latency_s;
int bq_sched_plan_layer_x(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l,
                          bq_program *scratch, struct bq_latency_s *best, char *err,
                          size_t errlen);

/* Only the tiling and checks of bq_sched_plan_layer (no dry runs; order = the traffic rule's
 * guess): what the v2 planner (hwsched_v2.h) starts from. 0, or -1 with the message. */
int bq_sched_plan_tiles(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
                        size_t errlen);

/* Worst-case magnitude of the accumulator, of asum and of the zero-point correction terms
 * (numerics §2): max over all codes of |acc|, |asum|, |acc - z_w*asum| and
 * |z_a*sum_k q_w - K*z_w*z_a|, for K terms of wbits x abits codes (unsigned codes in [0, 2^b-1]
 * with zero points in that range; signed codes in [-2^(b-1), 2^(b-1)-1] with zero point 0). */
int64_t bq_sched_acc_worst(int k, int wbits, int abits, int w_signed, int a_signed);

/* Byte addresses of the layer's operands (32-bit, Wb-aligned). NULL = all zero (timing only). */
typedef struct {
    uint32_t w, a, rq, out, res;
} bq_sched_addr;

/* Append the three programs of plan p to prog (normally reset first). Returns 0, or -1 with a
 * message when an address or field does not fit its encoding, or on out-of-memory. */
int bq_sched_build(bq_program *prog, const bq_sched_plan *p, const bq_hwcfg *cfg,
                   const bq_sched_addr *addr, char *err, size_t errlen);

/* ---- incremental emission (what bq_sched_build runs to the end; the latency model drives it
 * lazily and jumps over steady iterations) ----
 * Every loop order is a two-level nest: outer index o in [0, O) (level 1), inner index i in
 * [0, I) (level 0). One call of bq_sched_gen_next emits one inner iteration. */
typedef struct {
    bq_program *prog;
    const bq_sched_plan *p;
    const bq_hwcfg *cfg;
    bq_sched_addr ad;
    long popped;          /* FREED tokens popped by fetch so far */
    long signaled;        /* FREED tokens signalled by execute so far */
    long tile;            /* output tiles emitted so far */
    long tiles;           /* output tiles of the layer */
    long o, i, O, I;      /* next iteration to emit; loop bounds */
    int started, done;
    long d0[3], d1[3];    /* counter deltas (popped, signaled, tile) of the last inner / outer */
    long ctr_outer[3];    /* counters at the start of the current outer iteration */
    long last_o, last_i;  /* last emitted inner iteration (-1: none) */
    long last_popped;     /* `popped` before it was emitted */
    int pend_iter[2];     /* iteration record waiting for its first execute instruction, or -1 */
    int bad;              /* 1: out of memory, 2: field overflow (err filled) */
    char *err;
    size_t errlen;
} bq_sched_gen;

/* Start emitting plan p into prog. 0, or -1 (misaligned operand address). */
int bq_sched_gen_init(bq_sched_gen *g, bq_program *prog, const bq_sched_plan *p,
                      const bq_hwcfg *cfg, const bq_sched_addr *addr, char *err, size_t errlen);
/* Emit the next inner iteration (the last one also drains the FREED FIFO). 1 = emitted,
 * 0 = the layer is complete, -1 = error (message in err). */
int bq_sched_gen_next(bq_sched_gen *g);
/* How many not-yet-emitted iterations of `level` can be jumped over: every iteration from loop
 * index `from` (itvirt of a record) up to the next unemitted one, and k beyond it, is identical
 * in every timing-relevant field to its predecessor. Returns k (0 = none). */
long bq_sched_gen_steady(const bq_sched_gen *g, int level, long from);
/* Advance the generator by k iterations of `level` without emitting them (the counters move as
 * k steady iterations would move them). The instructions already emitted stand for the next
 * ones (identical by bq_sched_gen_steady). */
void bq_sched_gen_skip(bq_sched_gen *g, int level, long k);

#endif
