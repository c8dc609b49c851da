/*
 * search.h — latency-budgeted mixed-precision search: the problem and its two solvers.
 *
 * Decision variables are QUANTIZERS, not layers (design.md): every weight quantizer and every
 * activation quantizer gets one bit-width. A quantizer with a single allowed bit-width is FIXED
 * (the input image, the stem's weights, the classifier's weights, ...) and is not searched.
 *
 * Groups. The objective is a sum over GROUPS (a residual block, or a layer outside blocks) of a
 * sensitivity measured jointly inside the group (BRECQ: Fisher-weighted reconstruction error of the
 * group output; groups assumed independent). Every free quantizer is decided by exactly one group:
 *   - a weight quantizer by the group of its layer;
 *   - an activation quantizer by the group that CONSUMES it. A block output feeds the next block's
 *     first conv and its shortcut (or downsample conv): both consumers are in the next block, so the
 *     shared quantizer is one variable of that block, decided once.
 * A group's candidate configurations are bit assignments of its quantizers (the full product of
 * their allowed sets, or any subset the sensitivity pass chooses to measure).
 *
 * Latency. Each layer l contributes three additive terms read from the hw_model cost table:
 *   exec[l][wbits][abits]   the layer at its weight bits and its input quantizer's bits,
 *   write[l][obits]         writing its output, charged with the CONSUMER's activation bits,
 *   res[l][rbits]           reading a residual shortcut operand at the shortcut's bits (0 if none).
 * A term is charged to the group that owns its free quantizers: exec to the layer's own group
 * (its weight quantizer and its input quantizer must therefore be owned by one group — true for
 * blocks whose input quantizer is consumed inside the block), write to the consumer group (the
 * producer's output-write cost travels with the activation quantizer it depends on), res to the
 * group owning the shortcut operand. Terms on fixed quantizers only are a constant (base_cycles).
 * So the total latency is exactly  base_cycles + sum_g cycles[g][choice_g]: a multiple-choice
 * knapsack. bq_search_finalize rejects a problem where one term would depend on two groups.
 *
 * Solvers (docs/search.md):
 *   bq_search_ga     the BRECQ paper's genetic algorithm (tournament selection, uniform crossover,
 *                    mutation, greedy repair of infeasible individuals); seeded and deterministic.
 *   bq_search_exact  exact: dynamic programming over Pareto-optimal partial solutions (latency, size,
 *                    sensitivity), pruned by feasibility and by Lagrangian lower bounds. No latency
 *                    quantisation, so its objective is the true optimum and never worse than the GA.
 *
 * Example (two groups, fixed-point sensitivities filled by a callback):
 *   bq_search_problem p; char err[256];
 *   bq_search_init(&p, 100.0);                              // clock, MHz
 *   int g0 = bq_search_add_group(&p, "s1b1");
 *   int img = bq_search_add_quant(&p, "input", BQ_SQ_ACT, -1, 1, (int[]){8}, 0);
 *   int w0  = bq_search_add_quant(&p, "s1b1_conv1.w", BQ_SQ_WEIGHT, g0, 4, (int[]){2,3,4,8}, 2304);
 *   bq_search_add_layer(&p, "s1b1_conv1", w0, img, -1, -1, exec81, NULL, NULL);
 *   bq_search_enumerate(&p, g0);                           // all 4 candidates of the group
 *   bq_search_finalize(&p, err, sizeof err);               // prices candidates
 *   bq_search_budget b = {.max_cycles = 12000, .max_size_bits = -1};
 *   if (bq_search_check_budget(&p, &b, err, sizeof err)) { ...smallest feasible budget... }
 *   bq_search_fill_sens(&p, my_sens, ctx, err, sizeof err);   // the expensive part
 *   bq_search_result r;
 *   if (bq_search_exact(&p, &b, NULL, &r, err, sizeof err)) { ...err... }
 *   bq_search_free(&p);
 */
#ifndef BQ_SEARCH_H
#define BQ_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/fileio.h"

#define BQ_SEARCH_NAME_MAX 48
#define BQ_SEARCH_MAX_BITS 8     /* bit-widths 1..8; tables are indexed by the bit-width itself */
#define BQ_SEARCH_TB (BQ_SEARCH_MAX_BITS + 1)   /* table stride: index 0 unused */
#define BQ_SEARCH_GROUP_MAXQ 12  /* free quantizers decided by one group */
#define BQ_SEARCH_MAX_GROUPS 256

typedef enum { BQ_SQ_WEIGHT = 0, BQ_SQ_ACT = 1 } bq_sq_kind;

typedef struct {
    char name[BQ_SEARCH_NAME_MAX];
    bq_sq_kind kind;
    int group;                       /* deciding group, -1 for a fixed quantizer (n_bits == 1) */
    int n_bits;                      /* allowed bit-widths, 1..BQ_SEARCH_MAX_BITS of them */
    int bits[BQ_SEARCH_MAX_BITS];    /* ascending, each in 1..8 */
    int64_t n_elems;                 /* weights: elements (model size = sum n_elems*bits); act: 0 */
} bq_search_quant;

typedef struct {
    char name[BQ_SEARCH_NAME_MAX];
    int wq;                          /* weight quantizer (index into quants) */
    int aq_in;                       /* input activation quantizer */
    int aq_out;                      /* activation quantizer of the consumer; -1: no write term */
    int aq_res;                      /* quantizer of the residual shortcut operand; -1: none */
} bq_search_layer;

typedef struct {
    char name[BQ_SEARCH_NAME_MAX];
    int n_q;                         /* free quantizers decided here (filled by add_quant) */
    int q[BQ_SEARCH_GROUP_MAXQ];     /* their indices, in the order of a candidate's bits */
    int n_cand;                      /* candidates of this group */
    int cand_off;                    /* first candidate in the problem's flat arrays (finalize) */
} bq_search_group;

/* One candidate configuration of one group. */
typedef struct {
    int group;
    uint8_t bits[BQ_SEARCH_GROUP_MAXQ];  /* bits of groups[group].q[i] */
    double sens;                     /* sensitivity (lower is better); NaN until filled */
    int64_t cycles;                  /* latency terms charged to the group (finalize) */
    int64_t size_bits;               /* weight bits of the group's weight quantizers (finalize) */
} bq_search_cand;

typedef struct {
    double clock_mhz;                /* accelerator clock, for µs in reports and budgets */
    int n_groups, n_quants, n_layers, n_cands;
    bq_search_group *groups;
    bq_search_quant *quants;
    bq_search_layer *layers;
    int64_t *exec;                   /* [n_layers][TB][TB] cycles at (wbits, abits) */
    int64_t *write;                  /* [n_layers][TB] output-write cycles at the consumer's bits */
    int64_t *res;                    /* [n_layers][TB] residual-read cycles at the shortcut's bits */
    bq_search_cand *cands;           /* [n_cands]; after finalize sorted by group, group by group */
    int64_t base_cycles;             /* latency terms on fixed quantizers only (finalize) */
    int64_t base_size_bits;          /* weight bits of fixed weight quantizers (finalize) */
    int finalized;
    int cap_groups, cap_quants, cap_layers, cap_cands;
} bq_search_problem;

/* Budgets: max_cycles >= 0 is the latency budget; max_size_bits < 0 means no size budget. */
typedef struct {
    int64_t max_cycles;
    int64_t max_size_bits;
} bq_search_budget;

typedef struct {
    int choice[BQ_SEARCH_MAX_GROUPS];   /* candidate index within each group */
    double objective;                /* sum of the chosen candidates' sensitivities */
    int64_t cycles, size_bits;       /* totals, base included */
    int64_t slack_cycles;            /* budget - cycles (>= 0) */
    int64_t slack_size_bits;         /* size budget - size, or -1 without a size budget */
    double seconds;                  /* wall time of the solver */
    long work;                       /* GA: individuals evaluated; exact: DP states kept */
} bq_search_result;

typedef struct {
    int population;                  /* individuals per generation (>= 4) */
    int generations;                 /* generations after the initial one */
    int tournament;                  /* tournament size (>= 2) */
    int elite;                       /* best individuals copied unchanged (< population) */
    double p_crossover;              /* probability a child is a crossover of two parents */
    double p_mutation;               /* per-group probability of a random candidate; <0: 1/G */
    uint64_t seed;
} bq_ga_params;

/* ---- building a problem ---- */

/* An empty problem for an accelerator clocked at clock_mhz (> 0). */
void bq_search_init(bq_search_problem *p, double clock_mhz);
void bq_search_free(bq_search_problem *p);

/* Add a group; returns its index or -1 (OOM or more than BQ_SEARCH_MAX_GROUPS). */
int bq_search_add_group(bq_search_problem *p, const char *name);

/* Add a quantizer. bits[0..n_bits) ascending in 1..8. group = deciding group, or -1 when fixed
 * (then n_bits must be 1). A quantizer with one bit-width and a group is treated as fixed too.
 * n_elems: weight elements (0 for activations). Returns its index or -1 (bad argument, too many
 * quantizers in the group, OOM). */
int bq_search_add_quant(bq_search_problem *p, const char *name, bq_sq_kind kind, int group,
                        int n_bits, const int *bits, int64_t n_elems);

/* Add a layer with its cost tables (copied): exec [TB][TB] indexed [wbits][abits], write [TB]
 * indexed by the consumer's bits (NULL: zero), res [TB] by the shortcut's bits (NULL: zero).
 * aq_out/aq_res may be -1 (no such term). Returns its index or -1. */
int bq_search_add_layer(bq_search_problem *p, const char *name, int wq, int aq_in, int aq_out,
                        int aq_res, const int64_t *exec, const int64_t *write, const int64_t *res);

/* Add one candidate of group g: bits[i] for groups[g].q[i] (must be allowed bit-widths), sensitivity
 * sens (NaN: to be filled by bq_search_fill_sens). Returns its index or -1. Not after finalize. */
int bq_search_add_cand(bq_search_problem *p, int g, const int *bits, double sens);

/* Add every combination of the allowed bit-widths of group g's quantizers (product of the sets),
 * sensitivities NaN. Returns the number added or -1 (OOM, or more than 1<<20 combinations). */
int bq_search_enumerate(bq_search_problem *p, int g);

/* Sensitivity measurement, provided by the BRECQ engine: fill sens[0..n) for the n candidate
 * configurations cands[0..n) of group g (each cands[i]->bits gives groups[g].q's bit-widths).
 * Returns 0, or -1 with a one-line message. Lower is better; must be finite. */
typedef int (*bq_search_sens_fn)(void *ctx, const bq_search_problem *p, int g, int n,
                                 const bq_search_cand *const *cands, double *sens, char *err,
                                 size_t errlen);

/* Call fn once per group for the candidates whose sens is NaN. Returns 0 or -1 (+err). */
int bq_search_fill_sens(bq_search_problem *p, bq_search_sens_fn fn, void *ctx, char *err,
                        size_t errlen);

/* Check the problem and price every candidate: every group has candidates, every latency term
 * depends on the free quantizers of at most one group. Sorts candidates by group (stable). After
 * it, no candidate can be added; sensitivities may still be filled (bq_search_fill_sens), and
 * budgets checked before measuring them. The solvers require every sensitivity finite.
 * Returns 0 or -1 + message. */
int bq_search_finalize(bq_search_problem *p, char *err, size_t errlen);

/* ---- evaluating allocations ---- */

/* Candidate c of group g (after finalize). */
static inline const bq_search_cand *bq_search_cand_of(const bq_search_problem *p, int g, int c) {
    return &p->cands[p->groups[g].cand_off + c];
}

/* Totals of a choice (one candidate index per group): objective, cycles, size (base included). */
void bq_search_eval(const bq_search_problem *p, const int *choice, double *objective,
                    int64_t *cycles, int64_t *size_bits);

/* Bits of every quantizer [n_quants] under a choice (fixed quantizers at their one bit-width). */
void bq_search_choice_bits(const bq_search_problem *p, const int *choice, int *qbits);

/* Latency of one layer / of the network for per-quantizer bits qbits[n_quants], computed directly
 * from the layer tables (independent of the group decomposition: the tests check they agree). */
int64_t bq_search_layer_cycles(const bq_search_problem *p, int l, const int *qbits);
int64_t bq_search_total_cycles(const bq_search_problem *p, const int *qbits);
/* Weight bits of the model for qbits. */
int64_t bq_search_total_size(const bq_search_problem *p, const int *qbits);

/* Uniform allocation: every FREE weight quantizer at wbits and activation quantizer at abits
 * (whether or not those are in its allowed set), fixed ones unchanged. Fills qbits[n_quants]. */
void bq_search_uniform_bits(const bq_search_problem *p, int wbits, int abits, int *qbits);

/* The choice whose bits equal qbits on every free quantizer; returns 0, or -1 when some group has
 * no such candidate (choice[g] = -1 there). */
int bq_search_choice_from_bits(const bq_search_problem *p, const int *qbits, int *choice);

/* Smallest latency / size any allocation reaches (each group at its cheapest candidate). */
int64_t bq_search_min_cycles(const bq_search_problem *p);
int64_t bq_search_min_size(const bq_search_problem *p);

/* ---- budgets ---- */

/* Parse a latency budget: "12000cyc" / "12000cycles" / "12000" (cycles), "85us" (µs at clock_mhz),
 * "1.5ms", or "0.35x" (fraction of w8a8_cycles, the uniform W8A8 latency). Cycles are rounded down
 * (the budget is an upper bound on an integer). Returns 0 with *cycles, or -1 with
 * "budget 'str': what; how to fix". */
int bq_budget_parse(const char *s, double clock_mhz, int64_t w8a8_cycles, int64_t *cycles,
                    char *err, size_t errlen);

/* Check that a budget can be met by some allocation at all. Returns 0, or -1 with a message that
 * names the smallest feasible budget ("... smallest feasible budget is N cycles (X us)"). */
int bq_search_check_budget(const bq_search_problem *p, const bq_search_budget *b, char *err,
                           size_t errlen);

/* ---- solvers ---- */

/* Defaults: population 64, generations 300, tournament 3, elite 2, p_crossover 0.9,
 * p_mutation 1/G, seed 1. */
void bq_ga_params_default(bq_ga_params *gp);

/* The genetic algorithm. Same seed and problem -> same result, on every platform. Returns 0 with
 * the best feasible individual found, or -1 (infeasible budget: the message names the smallest
 * feasible budget; OOM; no feasible individual found). */
int bq_search_ga(const bq_search_problem *p, const bq_search_budget *b, const bq_ga_params *gp,
                 bq_search_result *r, char *err, size_t errlen);

/* The exact solver (optimal objective under the budget). `incumbent` (may be NULL) is a feasible
 * choice used only to prune; the solver also builds its own from a Lagrangian heuristic. max_states
 * bounds memory (partial solutions kept per group, 0 = default 4M): when exceeded it fails with a
 * message rather than returning an approximation. Returns 0 or -1 + message. */
int bq_search_exact(const bq_search_problem *p, const bq_search_budget *b, const int *incumbent,
                    long max_states, bq_search_result *r, char *err, size_t errlen);

/* ---- outputs ---- */

/* Append the allocation qbits[n_quants] as a bits.yaml (the format bq_qmodel_apply_bits reads):
 * an optional `# comment` line, then one line per layer `name: {wbits: W, abits: A}` where A is the
 * bits of the layer's input quantizer. Layers sharing an input quantizer get the same abits. */
void bq_search_bits_yaml(const bq_search_problem *p, const int *qbits, const char *comment,
                         bq_buf *out);

/* Append a JSON object describing one search: the budget (cycles, us), the all-minimum latency,
 * each solver given (ga / exact may be NULL) with objective, cycles, slack, size, seconds, work,
 * and, for `chosen` (one of them), the per-layer allocation (wbits, abits, obits, cycles) and
 * per-group choice (bits, sensitivity, cycles). */
void bq_search_report_json(const bq_search_problem *p, const bq_search_budget *b,
                           const bq_search_result *ga, const bq_search_result *exact,
                           const bq_search_result *chosen, bq_buf *out);

#endif
