/*
 * bench_search.c — time of the GA and the exact solver on a fres20-sized search problem.
 *
 *   bench_search HW.yaml OUT.json
 *
 * The instance: fres20's 21 layers (geometry from the built-in architecture) on the given
 * accelerator, cost tables from the latency model's dry runs folded as in hw_model/costtab.h
 * (T[l][w][a] at o = r = 8, plus output-bit and residual-bit corrections), quantizers placed as in
 * sw/qmodel.h (stem, its output, the classifier and its input fixed at 8 bits; downsample outputs
 * 8-bit), candidate sets {2,3,4,8} for every other quantizer, the full product per block
 * (64 / 256 / 1024 candidates). Sensitivities are SYNTHETIC (seeded, roughly 4^-bits per quantizer
 * scaled by tensor size, plus an intra-block interaction): the BRECQ engine's measured ones replace
 * them in `brecq search`. What is measured here is solver time and GA-vs-exact quality.
 * Budgets: the latency of uniform W3A3, of W2A3, the midpoint of W2A2 and W2A3, and 0.5x W8A8.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "graph.h"
#include "hwcfg.h"
#include "hwlayer.h"
#include "latency.h"
#include "progress.h"
#include "rng.h"
#include "search.h"

#define TB BQ_SEARCH_TB
#define MAXL 64

static const int kBits[4] = {2, 3, 4, 8};
static const int kB8[1] = {8};

typedef struct {
    bq_hw_layer hw[MAXL];
    int n;
    int wq[MAXL], in_q[MAXL], out_q[MAXL], res_q[MAXL];
} net_t;

/* Dry-run cycles of layer l at (w, a, o, r); INT32_MAX when the scheduler rejects it. */
static int64_t dry(const bq_hwcfg *cfg, bq_hw_layer l, int w, int a, int o, int r,
                   bq_program *scratch) {
    l.wbits = w;
    l.abits = a;
    l.obits = o;
    if (l.has_residual) l.rbits = r;
    bq_latency lat;
    char err[256];
    if (bq_latency_layer(&lat, cfg, &l, scratch, err, sizeof err)) return INT32_MAX;
    return lat.cycles;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_search HW.yaml OUT.json\n");
        return 2;
    }
    char err[512];
    bq_hwcfg cfg;
    if (bq_hwcfg_load(&cfg, argv[1], err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    bq_model m;
    if (bq_arch_build(&m, "fres20", 1)) {
        fprintf(stderr, "bench_search: cannot build fres20\n");
        return 1;
    }
    bq_search_problem p;
    bq_search_init(&p, cfg.clock_mhz);
    /* quantizers and groups, following qmodel.h's placement */
    int img = bq_search_add_quant(&p, "input", BQ_SQ_ACT, -1, 1, kB8, 0);
    int *node_q = malloc((size_t)m.n_nodes * sizeof(int));   /* aq at a node's output */
    for (int i = 0; i < m.n_nodes; i++) node_q[i] = -1;
    node_q[0] = img;
    int *blk_group = malloc((size_t)(m.n_blocks + 1) * sizeof(int));
    for (int b = 0; b < m.n_blocks; b++) blk_group[b] = bq_search_add_group(&p, m.blocks[b].name);
    int g_stem = bq_search_add_group(&p, "stem"), g_fc = bq_search_add_group(&p, "fc");
    (void)g_stem;
    (void)g_fc;
    /* the group that consumes node i's output: the block whose input it is, else -1 (fixed) */
    net_t net = {.n = 0};
    int last_layer = -1;
    for (int i = 0; i < m.n_nodes; i++)
        if (m.nodes[i].kind == BQ_OP_CONV || m.nodes[i].kind == BQ_OP_LINEAR) last_layer = i;
    /* pass 1: activation quantizers. The stem output, the last block output and downsample outputs
     * are fixed at 8 bits; block outputs are decided by the consuming block; relu outputs inside a
     * block by that block. */
    for (int i = 1; i < m.n_nodes; i++) {
        const bq_node *nd = &m.nodes[i];
        if (nd->kind != BQ_OP_RELU) continue;
        /* which block consumes this output as its input? */
        int consumer = -1;
        for (int b = 0; b < m.n_blocks; b++)
            if (m.blocks[b].input == i) consumer = b;
        int is_block_out = nd->block >= 0 && m.blocks[nd->block].last == i;
        char nm[64];
        snprintf(nm, sizeof nm, "%s.out", nd->name);
        if (nd->block < 0 || (is_block_out && consumer < 0))   /* stem out, last block out */
            node_q[i] = bq_search_add_quant(&p, nm, BQ_SQ_ACT, -1, 1, kB8, 0);
        else if (is_block_out)
            node_q[i] = bq_search_add_quant(&p, nm, BQ_SQ_ACT, blk_group[consumer], 4, kBits, 0);
        else
            node_q[i] = bq_search_add_quant(&p, nm, BQ_SQ_ACT, blk_group[nd->block], 4, kBits, 0);
    }
    /* pass 2: layers */
    bq_program scratch;
    bq_program_init(&scratch);
    double t_tab0 = bq_now();
    for (int i = 1; i < m.n_nodes; i++) {
        const bq_node *nd = &m.nodes[i];
        if (nd->kind != BQ_OP_CONV && nd->kind != BQ_OP_LINEAR) continue;
        int src = nd->in[0];
        while (node_q[src] < 0) src = m.nodes[src].in[0];   /* GAP/flatten keep their input's grid */
        const bq_node *pn = &m.nodes[nd->in[0]];
        bq_hw_layer *hl = &net.hw[net.n];
        if (nd->kind == BQ_OP_CONV)
            bq_hw_layer_conv(hl, nd->name, pn->c, nd->c, nd->kh, nd->kw, nd->h, nd->w, nd->groups,
                             err, sizeof err);
        else
            bq_hw_layer_linear(hl, nd->name, pn->c * pn->h * pn->w, nd->c, err, sizeof err);
        int first = net.n == 0, last = i == last_layer;
        char nm[64];
        snprintf(nm, sizeof nm, "%s.w", nd->name);
        int64_t nel = (int64_t)nd->c * (nd->kind == BQ_OP_CONV ? pn->c / nd->groups * nd->kh * nd->kw
                                                               : pn->c * pn->h * pn->w);
        int wq = first || last ? bq_search_add_quant(&p, nm, BQ_SQ_WEIGHT, -1, 1, kB8, nel)
                               : bq_search_add_quant(&p, nm, BQ_SQ_WEIGHT, blk_group[nd->block], 4,
                                                     kBits, nel);
        /* output: follow the chain to the first node with a quantizer (relu, or add -> relu) */
        int out = -1, res = -1;
        if (!last) {
            int j = i;
            for (;;) {
                int nx = -1;
                for (int k = j + 1; k < m.n_nodes && nx < 0; k++)
                    if (m.nodes[k].in[0] == j || m.nodes[k].in[1] == j) nx = k;
                if (nx < 0) break;
                if (m.nodes[nx].kind == BQ_OP_ADD) {
                    int other = m.nodes[nx].in[0] == j ? m.nodes[nx].in[1] : m.nodes[nx].in[0];
                    if (m.nodes[other].kind == BQ_OP_CONV || m.nodes[other].kind == BQ_OP_BN) {
                        /* j is on the downsample path? the branch is the conv NOT reading the
                         * block input directly */
                        int jb = j, ob = other;
                        while (m.nodes[jb].kind == BQ_OP_BN) jb = m.nodes[jb].in[0];
                        while (m.nodes[ob].kind == BQ_OP_BN) ob = m.nodes[ob].in[0];
                        if (m.nodes[jb].in[0] == m.blocks[nd->block].input && jb != ob &&
                            m.nodes[ob].in[0] != m.blocks[nd->block].input) {
                            /* downsample conv: its output is an 8-bit shortcut tensor */
                            snprintf(nm, sizeof nm, "%s.out", nd->name);
                            out = bq_search_add_quant(&p, nm, BQ_SQ_ACT, -1, 1, kB8, 0);
                            node_q[j] = out;
                            break;
                        }
                    }
                    /* the branch-ending conv: residual read of the other operand */
                    res = -2 - other;   /* resolved after the downsample's quantizer exists */
                }
                if (node_q[nx] >= 0) {
                    out = node_q[nx];
                    break;
                }
                j = nx;
            }
        }
        net.wq[net.n] = wq;
        net.in_q[net.n] = node_q[src];
        net.out_q[net.n] = out;
        net.res_q[net.n] = res;
        hl->has_residual = res != -1;
        hl->raw32 = last;
        net.n++;
    }
    /* resolve residual operands (the downsample conv comes after conv2 in node order) */
    for (int l = 0; l < net.n; l++)
        if (net.res_q[l] <= -2) {
            int other = -2 - net.res_q[l];
            while (node_q[other] < 0) other = m.nodes[other].in[0];
            net.res_q[l] = node_q[other];
            net.hw[l].rbits = 8;
        }
    for (int l = 0; l < net.n; l++) {
        int64_t T[TB * TB], O[TB], R[TB];
        for (int w = 0; w < TB; w++)
            for (int a = 0; a < TB; a++)
                T[w * TB + a] = (w && a) ? dry(&cfg, net.hw[l], w, a, 8, 8, &scratch) : 0;
        int64_t t88 = T[8 * TB + 8];
        for (int b = 0; b < TB; b++) {
            O[b] = b && net.out_q[l] >= 0 ? dry(&cfg, net.hw[l], 8, 8, b, 8, &scratch) - t88 : 0;
            R[b] = b && net.hw[l].has_residual ? dry(&cfg, net.hw[l], 8, 8, 8, b, &scratch) - t88 : 0;
        }
        if (bq_search_add_layer(&p, net.hw[l].name, net.wq[l], net.in_q[l], net.out_q[l],
                                net.res_q[l], T, O, R) < 0) {
            fprintf(stderr, "bench_search: cannot add layer %s\n", net.hw[l].name);
            return 1;
        }
    }
    double t_tab = bq_now() - t_tab0;
    /* synthetic sensitivities */
    for (int g = 0; g < p.n_groups; g++) bq_search_enumerate(&p, g);
    bq_rng rng;
    bq_rng_seed(&rng, 2021);
    for (int i = 0; i < p.n_cands; i++) {
        bq_search_cand *c = &p.cands[i];
        const bq_search_group *G = &p.groups[c->group];
        double s = 0, inter = 0;
        for (int k = 0; k < G->n_q; k++) {
            const bq_search_quant *q = &p.quants[G->q[k]];
            double w = q->kind == BQ_SQ_WEIGHT ? 1e-3 * (double)q->n_elems : 2.0;
            double e = pow(4.0, -(double)c->bits[k]);
            s += w * e * (0.8 + 0.4 * bq_rng_uniform(&rng));
            inter += sqrt(e);
        }
        c->sens = s + 0.5 * inter * inter;
    }
    if (bq_search_finalize(&p, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int *qb = malloc((size_t)p.n_quants * sizeof(int));
    bq_search_uniform_bits(&p, 8, 8, qb);
    int64_t w8a8 = bq_search_total_cycles(&p, qb);
    bq_search_uniform_bits(&p, 3, 3, qb);
    int64_t w3a3 = bq_search_total_cycles(&p, qb);
    bq_search_uniform_bits(&p, 2, 3, qb);
    int64_t w2a3 = bq_search_total_cycles(&p, qb);
    bq_search_uniform_bits(&p, 2, 2, qb);
    int64_t w2a2 = bq_search_total_cycles(&p, qb);
    struct { const char *name; int64_t cyc; } budgets[] = {
        {"W3A3", w3a3}, {"W2A3", w2a3}, {"mid(W2A2,W2A3)", (w2a2 + w2a3) / 2}, {"0.5x W8A8", w8a8 / 2},
    };
    int nb = (int)(sizeof budgets / sizeof budgets[0]);
    long ncand = 0;
    for (int g = 0; g < p.n_groups; g++) ncand += p.groups[g].n_cand;
    printf("bench_search: fres20 on %s: %d layers, %d groups, %ld candidates, %d quantizers; "
           "cost tables %.2f s (%d dry runs/layer)\n", cfg.name, p.n_layers, p.n_groups, ncand,
           p.n_quants, t_tab, 64 + 16);
    printf("  W8A8 %lld cycles, W3A3 %lld, W2A3 %lld, W2A2 %lld, all-minimum %lld\n",
           (long long)w8a8, (long long)w3a3, (long long)w2a3, (long long)w2a2,
           (long long)bq_search_min_cycles(&p));
    printf("  %-16s %10s | %12s %9s %7s | %12s %9s %7s %9s | %7s\n", "budget", "cycles", "GA obj",
           "slack", "GA s", "exact obj", "slack", "exact s", "states", "GA gap");
    bq_buf js = {0};
    bq_buf_printf(&js, "{\"bench\": \"search\", \"model\": \"fres20\", \"hw\": \"%s\", \"layers\": %d, "
                  "\"groups\": %d, \"candidates\": %ld, \"table_seconds\": %.4f, \"w8a8_cycles\": %lld, "
                  "\"runs\": [", cfg.name, p.n_layers, p.n_groups, ncand, t_tab, (long long)w8a8);
    double total_t = 0;
    int ok = 1;
    /* pass 0: synthetic structured sensitivities; pass 1 (stress): every candidate's sensitivity
     * i.i.d. uniform, no structure for either solver to exploit (large Pareto fronts) */
    for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
        printf("  stress: i.i.d. uniform random sensitivities\n");
        for (int i = 0; i < p.n_cands; i++) p.cands[i].sens = bq_rng_uniform(&rng);
    }
    for (int i = 0; i < nb; i++) {
        bq_search_budget b = {budgets[i].cyc, -1};
        bq_search_result ga, ex;
        bq_ga_params gp;
        bq_ga_params_default(&gp);
        if (bq_search_ga(&p, &b, &gp, &ga, err, sizeof err)) {
            fprintf(stderr, "GA: %s\n", err);
            return 1;
        }
        if (bq_search_exact(&p, &b, NULL, 0, &ex, err, sizeof err)) {
            fprintf(stderr, "exact: %s\n", err);
            return 1;
        }
        double gap = (ga.objective - ex.objective) / ex.objective * 100.0;
        if (ex.objective > ga.objective * (1 + 1e-12)) ok = 0;
        total_t += ga.seconds + ex.seconds;
        /* exact latency (per-layer dry runs with every bit set) of the exact solver's allocation */
        printf("  %-16s %10lld | %12.6g %9lld %7.3f | %12.6g %9lld %7.3f %9ld | %6.2f%%\n",
               budgets[i].name, (long long)b.max_cycles, ga.objective, (long long)ga.slack_cycles,
               ga.seconds, ex.objective, (long long)ex.slack_cycles, ex.seconds, ex.work, gap);
        bq_buf_printf(&js, "%s{\"sensitivities\": \"%s\", \"budget\": \"%s\", \"budget_cycles\": %lld, \"ga_objective\": %.17g, "
                      "\"ga_slack\": %lld, \"ga_seconds\": %.4f, \"ga_evaluations\": %ld, "
                      "\"exact_objective\": %.17g, \"exact_slack\": %lld, \"exact_seconds\": %.4f, "
                      "\"exact_states\": %ld, \"ga_gap_percent\": %.4f}", i || pass ? ", " : "",
                      pass ? "random" : "synthetic", budgets[i].name, (long long)b.max_cycles, ga.objective,
                      (long long)ga.slack_cycles, ga.seconds, ga.work, ex.objective,
                      (long long)ex.slack_cycles, ex.seconds, ex.work, gap);
    }
    }
    bq_buf_printf(&js, "], \"solver_seconds_total\": %.4f, \"exact_never_worse\": %s}\n", total_t,
                  ok ? "true" : "false");
    printf("  solver time, 8 searches, both solvers: %.2f s (target < 10 s per search); exact never "
           "worse than GA: %s\n", total_t, ok ? "yes" : "NO");
    if (js.oom || bq_write_file_atomic(argv[2], js.data, js.len, err, sizeof err)) {
        fprintf(stderr, "%s\n", js.oom ? "out of memory" : err);
        return 1;
    }
    bq_buf_free(&js);
    bq_program_free(&scratch);
    bq_search_free(&p);
    bq_model_free(&m);
    free(qb);
    free(node_q);
    free(blk_group);
    return ok ? 0 : 1;
}
