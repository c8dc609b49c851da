/*
 * latency.h — the latency model: a cycle-exact dry run of the scheduler's programs (hwsched.h) with
 * the timing of docs/hw_isa.md section 4 (fetch / execute / result stages decoupled by token
 * FIFOs, one memory port with result-over-fetch priority, read/write latency and beat rate).
 *
 * The dry run is an event simulation of the three in-order stages. It optionally skips identical
 * steady-state iterations: when the whole machine state at the start of an iteration of a
 * periodic loop equals the state one iteration earlier shifted by D cycles, and the instructions
 * ahead repeat, the next k iterations are known to take exactly k*D cycles and add k times the
 * counters of one iteration (docs/latency_model.md, "Exact steady-state skipping"). Results are
 * identical with and without skipping (tested).
 *
 * Example:
 *   bq_latency r; bq_program scratch; char err[256];
 *   bq_program_init(&scratch);
 *   if (bq_latency_layer(&r, &cfg, &layer, &scratch, err, sizeof err) == 0)
 *       printf("%lld cycles, %.1f us, %s-bound\n", (long long)r.cycles, r.us, r.bound);
 *   bq_program_free(&scratch);
 */
#ifndef BQ_LATENCY_H
#define BQ_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "hwcfg.h"
#include "hwlayer.h"
#include "hwsched.h"

typedef struct bq_latency_s {
    int64_t cycles;                 /* value of the CYCLES register after the layer's program */
    int64_t busy[BQ_NSTAGES];       /* per stage (fetch, execute, result): F_BUSY, E_BUSY, R_BUSY */
    int64_t stall[BQ_NSTAGES];      /* waiting for a token or for the memory port */
    int64_t idle[BQ_NSTAGES];       /* program finished, waiting for the others */
    int64_t e_beats;                /* execute beats (E_BEATS) */
    int64_t rd_beats, wr_beats;     /* memory beats (MEM_RD_BEATS, MEM_WR_BEATS) */
    int64_t port_busy;              /* cycles the memory port is busy (transactions open) */
    int64_t bytes_w, bytes_a, bytes_rq, bytes_res, bytes_out;  /* bytes moved per operand */
    int64_t instrs[BQ_NSTAGES];     /* instructions per queue */
    double us;                      /* cycles / clock */
    double exec_eff;                /* useful binary ops / (E_BEATS * peak): padding loss only */
    double eff;                     /* useful binary ops / (cycles * peak): overall */
    const char *bound;              /* "compute" (execute busiest), "memory" (port busiest),
                                       "output" (result-stage compute busiest) */
    int order;                      /* bq_loop_order used */
    int64_t sim_events;             /* events simulated (diagnostics: skipping efficiency) */
} bq_latency;

/* Dry-run a built program. `skip` = 1 enables exact steady-state skipping. Returns 0, or -1 with
 * a message if the program deadlocks or overflows a token counter (a scheduler bug). */
int bq_latency_program(bq_latency *out, const bq_program *prog, const bq_sched_plan *p,
                       const bq_hwcfg *cfg, int skip, char *err, size_t errlen);

/* Dry-run a plan as it is (its order included): lazy emission into `scratch` (reset, left with
 * timing_only = 1), exact jumps. Returns 0, or -1 with a message. */
int bq_latency_plan(bq_latency *out, const bq_sched_plan *p, const bq_hwcfg *cfg,
                    bq_program *scratch, char *err, size_t errlen);

/* Plan + dry-run one layer: the scheduler emits lazily into `scratch` (reset here, left holding
 * only the timing view of the instructions it needed, timing_only = 1) and steady iterations are
 * jumped over exactly. Results equal bq_latency_program on the full program. Returns 0, or -1
 * with the planner's message (the layer does not fit), or -2 when the dry run itself failed (out
 * of memory, a scheduler bug), as bq_sched_plan_layer_x. */
int bq_latency_layer(bq_latency *out, const bq_hwcfg *cfg, const bq_hw_layer *l,
                     bq_program *scratch, char *err, size_t errlen);

#endif
