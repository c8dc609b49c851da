/* brecq search — latency-budgeted mixed-precision search (docs/search.md).
 *
 *   brecq search --model M --hw H --budget B [--out bits.yaml] [--report R.json]
 *
 * Builds the problem (quantizer placement of the model, cost table of the accelerator), checks the
 * budget (an infeasible one fails with the smallest feasible budget), measures the per-group
 * sensitivities, runs the GA and the exact solver on the same problem, prints both (objective,
 * slack, time) and writes the exact solver's allocation as bits.yaml for `brecq quantize --bits`.
 *
 * Sensitivities: bq_sensitivity_fill (sw/search/sensitivity.h) on --images calibration images of the
 * training split, cached in --cache (default: none) keyed by model, calibration set and candidates.
 */
#include "cli.h"
#include "cli_data.h"
#include "cli_run.h"
#include "core/errmsg.h"
#include "costtab.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "hwcfg.h"
#include "quant/qmodel.h"
#include "quant/quant.h"
#include "search/search.h"
#include "search/search_model.h"
#include "search/sensitivity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Library messages start with "search: "; the CLI prefix already says so. */
static const char *msg(const char *err) {
    return strncmp(err, "search: ", 8) == 0 ? err + 8 : err;
}

static void print_result(const char *name, const bq_search_result *r, double clock_mhz) {
    printf("  %-6s objective %-14.8g cycles %10lld (%9.2f us)  slack %9lld  %8.3f s  (%ld %s)\n",
           name, r->objective, (long long)r->cycles, (double)r->cycles / clock_mhz,
           (long long)r->slack_cycles, r->seconds, r->work,
           strcmp(name, "GA") == 0 ? "individuals" : "states");
}

int bq_cmd_search(int argc, char **argv) {
    const char *model = NULL, *hw = NULL, *budget = NULL, *size_budget = NULL, *out = NULL;
    const char *report = NULL, *wbits_s = NULL, *abits_s = NULL, *seed_s = NULL;
    const char *images_s = NULL, *cache = NULL, *data = NULL, *run_dir = NULL;
    bq_cli_opt opts[] = {
        {"model", 1, &model, "float model (.bqm or .onnx)"},
        {"hw", 1, &hw, "accelerator config (configs/hw/*.yaml)"},
        {"budget", 1, &budget, "latency budget: cycles ('12000cyc'), time ('85us') or a fraction "
                               "of uniform W8A8 latency ('0.35x')"},
        {"size-budget", 1, &size_budget, "optional model-size budget, weight bits"},
        {"wbits", 1, &wbits_s, "candidate weight bit-widths (default 2,3,4,8)"},
        {"abits", 1, &abits_s, "candidate activation bit-widths (default 2,3,4,8)"},
        {"seed", 1, &seed_s, "GA seed (default 1)"},
        {"out", 1, &out, "write the allocation as bits.yaml (for brecq quantize --bits)"},
        {"report", 1, &report, "write a JSON report (both solvers, per-layer bits and cycles)"},
        {"images", 1, &images_s, "calibration images of the sensitivity pass (default 64)"},
        {"cache", 1, &cache, "sensitivity cache file (reused when model/calibration/set match)"},
        {"run-dir", 1, &run_dir, "checkpoints (the sensitivity table), kept after success "
                                 "(default without --cache: OUT.run, removed after success)"},
        {"data", 1, &data, BQ_CLI_DATA_HELP},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq search --model M --hw H --budget B [--out bits.yaml] "
                          "[--report R.json]");
    if (rc) return rc == 1 ? 0 : 2;
    if (!model || !hw || !budget) {
        bq_cli_error("search", "--model, --hw and --budget are required; see --help");
        return 2;
    }
    if (bq_cli_check_outputs("search", opts, (int)(sizeof(opts) / sizeof(opts[0])), "out,report", NULL)) return 2;
    char err[1024] = "";
    bq_search_space sp;
    bq_search_space_default(&sp);
    if ((wbits_s && bq_search_parse_bits(wbits_s, sp.wbits, &sp.n_wbits, err, sizeof err)) ||
        (abits_s && bq_search_parse_bits(abits_s, sp.abits, &sp.n_abits, err, sizeof err))) {
        bq_cli_error("search", "%s", msg(err));
        return 2;
    }
    /* the list parser takes 1..8; quantizers take BQ_QBITS_MIN..MAX: say so now, naming the flag,
     * not after the cost table naming a quantizer */
    for (int k = 0; k < sp.n_wbits + sp.n_abits; k++) {
        int b = k < sp.n_wbits ? sp.wbits[k] : sp.abits[k - sp.n_wbits];
        if (b < BQ_QBITS_MIN || b > BQ_QBITS_MAX) {
            bq_cli_error("search", "--%s '%s': bit-width %d is outside %d..%d; e.g. '2,3,4,8'",
                         k < sp.n_wbits ? "wbits" : "abits", k < sp.n_wbits ? wbits_s : abits_s, b,
                         BQ_QBITS_MIN, BQ_QBITS_MAX);
            return 2;
        }
    }
    long seed = 1, size_bits = -1, images = 64;
    if (seed_s && bq_cli_int("search", "seed", seed_s, 0, 2147483647L, &seed)) return 2;
    if (images_s && bq_cli_int("search", "images", images_s, 1, 60000, &images)) return 2;
    if (size_budget &&
        bq_cli_int("search", "size-budget", size_budget, 0, 9000000000000000000L, &size_bits))
        return 2;

    bq_model fp;
    bq_qmodel q;
    bq_hwcfg cfg;
    bq_hw_net net;
    bq_costtab tab;
    bq_search_problem p;
    bq_dataset train;
    int have_fp = 0, have_q = 0, have_net = 0, have_tab = 0, have_p = 0, have_train = 0;
    int *qb = NULL;
    bq_buf yb = {0}, jb = {0};
    bq_run_dir run;
    int have_run = 0;
    char run_cache[sizeof run.dir + 32];
    rc = 1;
    if (bq_cli_load_model("search", model, &fp)) goto done;
    have_fp = 1;
    if (bq_cli_data_load("search", data, "train", &fp, 0, &train)) goto done;   /* checked first */
    have_train = 1;
    bq_qmodel_opts qo = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    if (bq_qmodel_init(&q, &fp, &qo, err, sizeof err)) goto fail;
    have_q = 1;
    if (bq_hwcfg_load(&cfg, hw, err, sizeof err)) goto fail;
    /* a v2 build runs the whole network as one program: optimise its cycles (the v2 table) */
    if (bq_search_hw_net(&net, &q, cfg.window_bytes > 0, err, sizeof err)) goto fail;
    have_net = 1;
    if (bq_costtab_build(&tab, &cfg, &net, err, sizeof err)) goto fail;
    have_tab = 1;
    if (bq_search_from_qmodel(&p, &q, &tab, cfg.clock_mhz, &sp, err, sizeof err)) goto fail;
    have_p = 1;
    if (bq_search_finalize(&p, err, sizeof err)) goto fail;
    qb = malloc(sizeof(int) * (size_t)p.n_quants);
    if (!qb) { bq_seterr(err, sizeof err, "out of memory"); goto fail; }
    bq_search_uniform_bits(&p, 8, 8, qb);
    int64_t w8a8 = bq_search_total_cycles(&p, qb);
    bq_search_budget b = {0, size_bits};
    if (bq_budget_parse(budget, cfg.clock_mhz, w8a8, &b.max_cycles, err, sizeof err)) {
        bq_cli_error("search", "%s", msg(err));
        rc = 2;
        goto done;
    }
    long ncand = p.n_cands;
    printf("search: %s on %s%s: %d layers, %d groups, %ld candidates; budget %lld cycles (%.2f us, "
           "%.3fx W8A8 = %lld cycles)\n", fp.arch, cfg.name,
           bq_hw_net_is_v2(&net, &cfg) ? " (ISA v2, whole-network program)" : "", p.n_layers,
           p.n_groups, ncand,
           (long long)b.max_cycles, (double)b.max_cycles / cfg.clock_mhz,
           (double)b.max_cycles / (double)w8a8, (long long)w8a8);
    if (bq_search_check_budget(&p, &b, err, sizeof err)) {
        bq_cli_error("search", "%s", msg(err));
        rc = 2;
        goto done;
    }
    /* uniform baselines that fit the budget (first/last layers stay 8-bit) */
    printf("  uniform settings (cycles, fits):");
    for (int w = 0; w < sp.n_wbits; w++)
        for (int a = 0; a < sp.n_abits; a++) {
            bq_search_uniform_bits(&p, sp.wbits[w], sp.abits[a], qb);
            int64_t c = bq_search_total_cycles(&p, qb);
            printf("%s W%dA%d %lld%s", (w || a) ? "," : "", sp.wbits[w], sp.abits[a], (long long)c,
                   c <= b.max_cycles ? " yes" : " no");
        }
    printf("\n");
    fflush(stdout);
    bq_sens_opts so;
    bq_sens_opts_default(&so);
    so.n_images = (int)images;
    so.cache_path = cache;
    /* without --cache the sensitivity table (the expensive stage) is checkpointed per group in
     * the run folder of --out (else --report); with neither output there is nothing to resume */
    const char *run_out = out ? out : report;
    if (!cache && (run_dir || run_out)) {
        const char *key_opts[] = {budget, size_budget, wbits_s, abits_s, seed_s, images_s};
        uint64_t key = bq_cli_run_key("search");
        const char *files[] = {model, hw};
        if (bq_cli_run_key_files("search", &key, files, 2)) goto done;
        key = bq_cli_run_key_data(key, &train);
        key = bq_cli_run_key_opts(key, key_opts, (int)(sizeof key_opts / sizeof key_opts[0]));
        if (bq_cli_run_open("search", run_dir, run_out, key, &run)) goto done;
        have_run = 1;
        snprintf(run_cache, sizeof run_cache, "%s/sensitivity.cache", run.dir);
        so.cache_path = run_cache;
    }
    bq_sens_stats sst;
    if (bq_sensitivity_fill(&p, &fp, &train, &so, &sst, err, sizeof err)) goto fail;
    printf("  sensitivity: %d candidates measured, %d cached, %.1f s\n", sst.measured, sst.cached,
           sst.seconds);

    bq_ga_params gp;
    bq_ga_params_default(&gp);
    gp.seed = (uint64_t)seed;
    bq_search_result ga, ex;
    if (bq_search_ga(&p, &b, &gp, &ga, err, sizeof err)) goto fail;
    if (bq_search_exact(&p, &b, ga.choice, 0, &ex, err, sizeof err)) goto fail;
    print_result("GA", &ga, cfg.clock_mhz);
    print_result("exact", &ex, cfg.clock_mhz);
    if (ex.objective > ga.objective + 1e-9 * (ga.objective > 0 ? ga.objective : -ga.objective)) {
        bq_seterr(err, sizeof err, "internal error: exact objective %.17g worse than the GA's %.17g",
                  ex.objective, ga.objective);
        goto fail;
    }
    bq_search_choice_bits(&p, ex.choice, qb);
    /* both outputs are built before either is written, and the report is removed again when
     * bits.yaml cannot be written: a failure leaves neither */
    if (out) {
        char comment[256];
        snprintf(comment, sizeof comment, "brecq search: %s on %s, budget %lld cycles, exact "
                 "solver, %lld cycles", fp.arch, cfg.name, (long long)b.max_cycles,
                 (long long)ex.cycles);
        bq_search_bits_yaml(&p, qb, comment, &yb);
    }
    if (report) bq_search_report_json(&p, &b, &ga, &ex, &ex, &jb);
    if (yb.oom || jb.oom) { bq_seterr(err, sizeof err, "out of memory"); goto fail; }
    if (report && bq_write_file_atomic(report, jb.data, jb.len, err, sizeof err)) goto fail;
    if (out && bq_write_file_atomic(out, yb.data, yb.len, err, sizeof err)) {
        if (report) remove(report);
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    bq_cli_error("search", "%s", msg(err));
    rc = 1;
done:
    if (have_run) bq_run_close(&run, rc == 0);
    bq_buf_free(&yb);
    bq_buf_free(&jb);
    free(qb);
    if (have_train) bq_dataset_free(&train);
    if (have_p) bq_search_free(&p);
    if (have_tab) bq_costtab_free(&tab);
    if (have_net) bq_hw_net_free(&net);
    if (have_q) bq_qmodel_free(&q);
    if (have_fp) bq_model_free(&fp);
    return rc;
}
