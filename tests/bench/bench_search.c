/*
 * bench_search.c — time of the GA and the exact solver on the real search problems of fres20 and
 * mbv2t.
 *
 *   bench_search HW.yaml OUT.json
 *
 * The problems are built exactly as `brecq search` builds them: quantizer placement from
 * bq_qmodel_init (stem weights and output, classifier weights and input, downsample shortcuts at 8
 * bits), the hw_model cost table of the accelerator, candidate sets {2,3,4,8} for every other
 * quantizer, the full product per group (fres20: 64 / 256 / 1024 per block; mbv2t up to 4096).
 * Sensitivities are SYNTHETIC (seeded): pass 1 roughly 4^-bits per quantizer scaled by tensor size
 * plus an intra-group interaction; pass 2 i.i.d. uniform (no structure to exploit). The BRECQ
 * engine's measured ones replace them in `brecq search`; what is measured here is solver time and
 * GA-vs-exact quality.
 * Budgets: the latency of uniform W3A3, of W2A3, the midpoint of W2A2 and W2A3, and 0.5x W8A8
 * (when below the all-minimum latency, that budget is reported as infeasible and skipped).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costtab.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "hwcfg.h"
#include "flow/plot.h"
#include "core/progress.h"
#include "quant/qmodel.h"
#include "core/rng.h"
#include "search/search.h"
#include "search/search_model.h"

/* Build the search problem of a built-in architecture on cfg (the same path as `brecq search`). */
static int build_problem(bq_search_problem *p, const char *arch, const bq_hwcfg *cfg,
                         double *t_tab, char *err, size_t errlen) {
    bq_model m;
    bq_qmodel q;
    bq_hw_net net;
    bq_costtab tab;
    int rc = -1;
    if (bq_arch_build(&m, arch, 1)) {
        snprintf(err, errlen, "cannot build %s", arch);
        return -1;
    }
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    if (bq_qmodel_init(&q, &m, &o, err, errlen)) goto free_m;
    if (bq_search_hw_net(&net, &q, 0, err, errlen)) goto free_q;
    double t0 = bq_now();
    if (bq_costtab_build(&tab, cfg, &net, err, errlen)) goto free_net;
    *t_tab = bq_now() - t0;
    bq_search_space sp;
    bq_search_space_default(&sp);
    rc = bq_search_from_qmodel(p, &q, &tab, cfg->clock_mhz, &sp, err, errlen);
    bq_costtab_free(&tab);
free_net:
    bq_hw_net_free(&net);
free_q:
    bq_qmodel_free(&q);
free_m:
    bq_model_free(&m);
    return rc;
}

static void synthetic_sens(bq_search_problem *p, bq_rng *rng, int structured) {
    for (int i = 0; i < p->n_cands; i++) {
        bq_search_cand *c = &p->cands[i];
        if (!structured) {
            c->sens = bq_rng_uniform(rng);
            continue;
        }
        const bq_search_group *G = &p->groups[c->group];
        double s = 0, inter = 0;
        for (int k = 0; k < G->n_q; k++) {
            const bq_search_quant *q = &p->quants[G->q[k]];
            double w = q->kind == BQ_SQ_WEIGHT ? 1e-3 * (double)q->n_elems : 2.0;
            double e = pow(4.0, -(double)c->bits[k]);
            s += w * e * (0.8 + 0.4 * bq_rng_uniform(rng));
            inter += sqrt(e);
        }
        c->sens = s + 0.5 * inter * inter;
    }
}

/* Per-layer bit map and cycle breakdown of an allocation next to the JSON (a visual check of the
 * plot module on real data). Missing gnuplot is reported, not fatal. */
static void plot_allocation(const bq_search_problem *p, const int *choice, const char *dir,
                            const char *arch, const char *what) {
    if (!bq_plot_available()) {
        printf("  (gnuplot not found: no plots)\n");
        return;
    }
    int n = p->n_layers;
    int *qb = malloc(sizeof(int) * (size_t)p->n_quants), *wb = malloc(sizeof(int) * (size_t)n);
    int *ab = malloc(sizeof(int) * (size_t)n);
    const char **names = malloc(sizeof(char *) * (size_t)n);
    double *cyc = malloc(sizeof(double) * 3 * (size_t)n);
    if (!qb || !wb || !ab || !names || !cyc) goto done;
    bq_search_choice_bits(p, choice, qb);
    for (int l = 0; l < n; l++) {
        names[l] = p->layers[l].name;
        wb[l] = qb[p->layers[l].wq];
        ab[l] = qb[p->layers[l].aq_in];
        cyc[l] = (double)bq_search_layer_cycles(p, l, qb);
    }
    const int uw[2] = {8, 2}, ua[2] = {8, 3};
    for (int s = 0; s < 2; s++) {
        bq_search_uniform_bits(p, uw[s], ua[s], qb);
        for (int l = 0; l < n; l++) cyc[(size_t)(s + 1) * n + l] = (double)bq_search_layer_cycles(p, l, qb);
    }
    char path[600], title[200], err[512];
    snprintf(title, sizeof title, "%s: exact allocation at the %s budget (synthetic sensitivities)",
             arch, what);
    snprintf(path, sizeof path, "%s/search_%s_bits.svg", dir, arch);
    if (bq_plot_bitmap(path, title, n, names, wb, ab, err, sizeof err)) printf("  plot: %s\n", err);
    else printf("  wrote %s\n", path);
    const char *sn[3] = {"searched (exact)", "uniform W8A8", "uniform W2A3"};
    snprintf(path, sizeof path, "%s/search_%s_cycles.svg", dir, arch);
    if (bq_plot_cycles(path, title, n, names, 3, sn, cyc, err, sizeof err)) printf("  plot: %s\n", err);
    else printf("  wrote %s\n", path);
done:
    free(qb); free(wb); free(ab); free(names); free(cyc);
}

/* Both solvers on every budget and both sensitivity sets; appends runs to js. */
static int bench_arch(const char *arch, const bq_hwcfg *cfg, const char *plot_dir, bq_buf *js,
                      int *first_run, double *total_t, int *ok) {
    char err[512];
    bq_search_problem p;
    double t_tab = 0;
    if (build_problem(&p, arch, cfg, &t_tab, err, sizeof err) ||
        bq_search_finalize(&p, err, sizeof err)) {
        fprintf(stderr, "bench_search: %s: %s\n", arch, err);
        return -1;
    }
    int *qb = malloc(sizeof(int) * (size_t)p.n_quants);
    if (!qb) return -1;
    int64_t u[4];
    const int uw[4] = {8, 3, 2, 2}, ua[4] = {8, 3, 3, 2};
    for (int i = 0; i < 4; i++) {
        bq_search_uniform_bits(&p, uw[i], ua[i], qb);
        u[i] = bq_search_total_cycles(&p, qb);
    }
    free(qb);
    struct {
        const char *name;
        int64_t cyc;
    } budgets[] = {{"W3A3", u[1]}, {"W2A3", u[2]}, {"mid(W2A2,W2A3)", (u[3] + u[2]) / 2},
                   {"0.5x W8A8", u[0] / 2}};
    int maxc = 0;
    for (int g = 0; g < p.n_groups; g++)
        if (p.groups[g].n_cand > maxc) maxc = p.groups[g].n_cand;
    printf("%s on %s: %d layers, %d groups, %d candidates (max %d per group), %d quantizers; "
           "cost table %.3f s\n", arch, cfg->name, p.n_layers, p.n_groups, p.n_cands, maxc,
           p.n_quants, t_tab);
    printf("  W8A8 %lld cycles, W3A3 %lld, W2A3 %lld, W2A2 %lld, all-minimum %lld\n",
           (long long)u[0], (long long)u[1], (long long)u[2], (long long)u[3],
           (long long)bq_search_min_cycles(&p));
    printf("  %-9s %-16s %10s | %12s %9s %7s | %12s %9s %7s %8s | %7s\n", "sens", "budget",
           "cycles", "GA obj", "slack", "GA s", "exact obj", "slack", "exact s", "states",
           "GA gap");
    bq_rng rng;
    bq_rng_seed(&rng, 2021);
    for (int pass = 0; pass < 2; pass++) {
        synthetic_sens(&p, &rng, pass == 0);
        for (int i = 0; i < 4; i++) {
            bq_search_budget b = {budgets[i].cyc, -1};
            const char *sn = pass ? "random" : "synthetic";
            if (bq_search_check_budget(&p, &b, err, sizeof err)) {
                printf("  %-9s %-16s %10lld | infeasible (below the all-minimum latency)\n", sn,
                       budgets[i].name, (long long)b.max_cycles);
                continue;
            }
            bq_search_result ga, ex;
            bq_ga_params gp;
            bq_ga_params_default(&gp);
            if (bq_search_ga(&p, &b, &gp, &ga, err, sizeof err) ||
                bq_search_exact(&p, &b, NULL, 0, &ex, err, sizeof err)) {
                fprintf(stderr, "bench_search: %s %s: %s\n", arch, budgets[i].name, err);
                bq_search_free(&p);
                return -1;
            }
            double gap = (ga.objective - ex.objective) / ex.objective * 100.0;
            if (ex.objective > ga.objective + 1e-9 * fabs(ga.objective)) *ok = 0;
            *total_t += ga.seconds + ex.seconds;
            printf("  %-9s %-16s %10lld | %12.6g %9lld %7.3f | %12.6g %9lld %7.3f %8ld | %6.2f%%\n",
                   sn, budgets[i].name, (long long)b.max_cycles, ga.objective,
                   (long long)ga.slack_cycles, ga.seconds, ex.objective,
                   (long long)ex.slack_cycles, ex.seconds, ex.work, gap);
            bq_buf_printf(js, "%s{\"model\": \"%s\", \"sensitivities\": \"%s\", \"budget\": \"%s\", "
                          "\"budget_cycles\": %lld, \"candidates\": %d, \"ga_objective\": %.17g, "
                          "\"ga_slack\": %lld, \"ga_seconds\": %.4f, \"ga_evaluations\": %ld, "
                          "\"exact_objective\": %.17g, \"exact_slack\": %lld, "
                          "\"exact_seconds\": %.4f, \"exact_states\": %ld, "
                          "\"ga_gap_percent\": %.4f}", *first_run ? "" : ", ", arch, sn,
                          budgets[i].name, (long long)b.max_cycles, p.n_cands, ga.objective,
                          (long long)ga.slack_cycles, ga.seconds, ga.work, ex.objective,
                          (long long)ex.slack_cycles, ex.seconds, ex.work, gap);
            *first_run = 0;
            if (pass == 0 && i == 1) plot_allocation(&p, ex.choice, plot_dir, arch, budgets[i].name);
        }
    }
    bq_search_free(&p);
    return 0;
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
    bq_buf js = {0};
    bq_buf_printf(&js, "{\"bench\": \"search\", \"hw\": \"%s\", \"runs\": [", cfg.name);
    double total_t = 0;
    int ok = 1, first = 1;
    const char *archs[2] = {"fres20", "mbv2t"};
    char dir[512];
    snprintf(dir, sizeof dir, "%s", argv[2]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    for (int a = 0; a < 2; a++)
        if (bench_arch(archs[a], &cfg, dir, &js, &first, &total_t, &ok)) return 1;
    bq_buf_printf(&js, "], \"solver_seconds_total\": %.4f, \"exact_never_worse\": %s}\n", total_t,
                  ok ? "true" : "false");
    printf("solver time, all searches above, both solvers: %.2f s (target: < 10 s per search); "
           "exact never worse than GA: %s\n", total_t, ok ? "yes" : "NO");
    if (js.oom || bq_write_file_atomic(argv[2], js.data, js.len, err, sizeof err)) {
        fprintf(stderr, "%s\n", js.oom ? "out of memory" : err);
        return 1;
    }
    bq_buf_free(&js);
    return ok ? 0 : 1;
}
