/* brecq quantize — float model + recipe (+ bits.yaml) -> quantized model (.bqq). */
#include "core/progress.h"
#include "core/errmsg.h"
#include "cli.h"
#include "cli_data.h"
#include "cli_run.h"
#include "nn/data.h"
#include "quant/fakequant.h"
#include "core/fileio.h"
#include "io/model_io.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"

#include "quant/reconstruct.h"
#include "quant/dp_mpi.h"
#include "dse/dse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Under mpirun (data-parallel reconstruction, docs/mpi_recon.md): the ranks, and where a rank
 * other than 0 reports its own failure (its stderr is silenced: every rank runs the same steps,
 * and one set of progress and error lines is enough). */
typedef struct {
    bq_dp_comm comm;
    int mpi;         /* launched by mpirun / srun: MPI_Init was called */
    int err_fd;      /* rank > 0: the original stderr */
} dp_ctx;

/* Initialise every activation quantizer on the first act_init_batch calibration images. */
static int calibrate_acts(bq_qmodel *q, const bq_recipe *r, const bq_dataset *train, char *err,
                          size_t errlen) {
    int n = r->act_init_batch, rc = -1;
    int *idx = malloc(sizeof(int) * (size_t)r->calib);
    float *x = malloc(sizeof(float) * (size_t)n * train->c * train->h * train->w);
    bq_fq fq;
    bq_exec ex;
    int have_fq = 0, have_ex = 0;
    if (!idx || !x) { bq_seterr(err, errlen, "out of memory"); goto out; }
    if (bq_calib_indices(idx, r->calib, train->n, r->calib_seed)) {
        bq_seterr(err, errlen, "calib %d out of range for %d training images", r->calib, train->n);
        goto out;
    }
    bq_dataset_batch(train, idx, n, x, NULL, q->model.in_mean, q->model.in_std, NULL);
    if (bq_fq_init(&fq, q, n, 0)) { bq_seterr(err, errlen, "out of memory"); goto out; }
    have_fq = 1;
    fq.init_p = r->p;
    if (bq_exec_init(&ex, &fq.net, n, 0)) { bq_seterr(err, errlen, "out of memory"); goto out; }
    have_ex = 1;
    bq_fq_bind(&fq, &ex);
    if (bq_fq_calibrate(&fq, &ex, x, n)) { bq_seterr(err, errlen, "%s", fq.err); goto out; }
    rc = 0;
out:
    if (have_ex) bq_exec_free(&ex);
    if (have_fq) bq_fq_free(&fq);
    free(idx); free(x);
    return rc;
}

/* Bits a recipe pins whatever the allocation: the 8-bit input and shortcut quantizers, and the
 * first/last layers when first_last_8bit. A label counts them only where --bits changed them. */
static int pinned_layer(const bq_qmodel *q, int l) {
    return q->opts.first_last_8bit && (q->layers[l].first || q->layers[l].last);
}

static int pinned_aq(const bq_qmodel *q, int a) {
    bq_aq_role r = q->aq[a].role;
    return r == BQ_AQ_INPUT || r == BQ_AQ_SHORTCUT ||
           (q->opts.first_last_8bit && (r == BQ_AQ_FIRST_OUT || r == BQ_AQ_LAST_IN));
}

/* Bits of every layer (wbits) then every activation quantizer, to see what --bits changed. */
static int *bits_snapshot(const bq_qmodel *q) {
    int *s = malloc(sizeof(int) * (size_t)(q->n_layers + q->n_aq));
    if (!s) return NULL;
    for (int l = 0; l < q->n_layers; l++) s[l] = q->layers[l].wbits;
    for (int a = 0; a < q->n_aq; a++) s[q->n_layers + a] = q->aq[a].bits;
    return s;
}

static void range_add(int *lo, int *hi, int v) {
    if (*lo < 0 || v < *lo) *lo = v;
    if (v > *hi) *hi = v;
}

/* "W4A4" when the allocation gives one weight and one activation bit-width, else
 * "mixed W2-4 A2-8" (the ranges). Pinned bits count only where --bits changed them (before: the
 * bits_snapshot() taken before it); a side with nothing to count keeps the recipe's value. */
static void alloc_label(const bq_qmodel *q, const bq_recipe *r, const int *before, char *dst,
                        size_t n) {
    int wlo = -1, whi = -1, alo = -1, ahi = -1;
    for (int l = 0; l < q->n_layers; l++)
        if (q->layers[l].wbits != before[l] || !pinned_layer(q, l))
            range_add(&wlo, &whi, q->layers[l].wbits);
    for (int a = 0; a < q->n_aq; a++)
        if (q->aq[a].bits > 0 && (q->aq[a].bits != before[q->n_layers + a] || !pinned_aq(q, a)))
            range_add(&alo, &ahi, q->aq[a].bits);
    if (wlo < 0) wlo = whi = r->wbits;
    if (alo < 0) alo = ahi = r->abits;   /* float activations: A32 */
    if (wlo == whi && alo == ahi) { snprintf(dst, n, "W%dA%d", wlo, alo); return; }
    char w[32], a[32];
    if (wlo == whi) snprintf(w, sizeof w, "W%d", wlo); else snprintf(w, sizeof w, "W%d-%d", wlo, whi);
    if (alo == ahi) snprintf(a, sizeof a, "A%d", alo); else snprintf(a, sizeof a, "A%d-%d", alo, ahi);
    snprintf(dst, n, "mixed %s %s", w, a);
}

/* The reconstruction's run folder, keyed by the model, recipe and bits files, the calibration
 * data and $BQ_CONV (what the result's bytes depend on; the checkpoint has its own key too). */
static int open_run(const char *model, const char *recipe, const char *bits,
                    const bq_dataset *train, const char *run_dir, const char *out,
                    bq_run_dir *run) {
    uint64_t key = bq_cli_run_key("quantize");
    const char *files[] = {model, recipe, bits};
    if (bq_cli_run_key_files("quantize", &key, files, 3)) return -1;
    key = bq_cli_run_key_data(key, train);
    key = bq_cli_run_key_opts(key, NULL, 0);
    return bq_cli_run_open("quantize", run_dir, out, key, run);
}

/* Ranks of a data-parallel run must split the recipe's dp_shards evenly; the same decision on
 * every rank, before any work. */
static int check_ranks(const dp_ctx *dp, const bq_recipe *r, const char *recipe) {
    int R = dp->comm.size;
    if (R <= 1) return 0;
    if (r->method == BQ_METHOD_RTN) {
        bq_cli_error("quantize", "%s: method rtn has no reconstruction to split over %d ranks; "
                     "run it without mpirun", recipe, R);
        return -1;
    }
    if (r->dp_shards % R != 0) {
        bq_cli_error("quantize", "%s: mpirun -np %d needs 'dp_shards' (now %d) to be a multiple "
                     "of %d; add 'dp_shards: %d' (or a multiple) to the recipe", recipe, R,
                     r->dp_shards, R, R);
        return -1;
    }
    return 0;
}

/* Rank 0 opens (or resumes, or clears) the run folder; the other ranks only read its checkpoint,
 * after this barrier. 0, or -1 (every rank) when rank 0 could not open it. */
static int open_run_dp(const dp_ctx *dp, const char *model, const char *recipe, const char *bits,
                       const bq_dataset *train, const char *run_dir, const char *out,
                       bq_run_dir *run, int *have_run) {
    int root = dp->comm.rank == 0, ok = 1;
    if (root) ok = open_run(model, recipe, bits, train, run_dir, out, run) == 0;
    *have_run = root && ok;
    if (!root) {
        memset(run, 0, sizeof *run);
        if (run_dir) snprintf(run->dir, sizeof run->dir, "%s", run_dir);
        else snprintf(run->dir, sizeof run->dir, "%s.run", out);
    }
    char err[256];
    /* agree says the ranks agree, not that they succeeded: one process always agrees */
    return bq_dp_agree(dp->mpi ? &dp->comm : NULL, ok, err, sizeof err) == 1 && ok ? 0 : -1;
}

static int quantize(int argc, char **argv, const dp_ctx *dp) {
    const char *model = NULL, *recipe = NULL, *bits = NULL, *out = NULL, *report = NULL;
    const char *threads = NULL, *data = NULL, *run_dir = NULL, *print = NULL;
    bq_cli_opt opts[] = {
        {"model", 1, &model, "float model (.bqm or .onnx)"},
        {"recipe", 1, &recipe, "quantization recipe YAML (configs/quant/*.yaml)"},
        {"bits", 1, &bits, "per-layer bit-widths YAML: 'layer: {wbits: W, abits: A}'"},
        {"out", 1, &out, "output quantized model (.bqq)"},
        {"report", 1, &report, "write a JSON report (method, bits, seconds, peak RSS)"},
        {"run-dir", 1, &run_dir, "reconstruction checkpoints, kept after success (default: OUT.run, "
                                 "removed after success); a rerun resumes a killed run"},
        {"threads", 1, &threads, "OpenBLAS threads (default 1; the engine's own kernels use $BQ_NUM_THREADS or every core)"},
        {"data", 1, &data, BQ_CLI_DATA_HELP},
        {"print", 0, &print, "print every layer's bits and every quantizer's scale/zero to stderr"},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq quantize --model M --recipe R [--bits B] --out Q.bqq "
                          "[--report R.json]");
    if (rc) return rc == 1 ? 0 : 2;
    if (!model || !recipe || !out) {
        bq_cli_error("quantize", "--model, --recipe and --out are required; see --help");
        return 2;
    }
    if (bq_cli_check_outputs("quantize", opts, (int)(sizeof(opts) / sizeof(opts[0])), "out,report", NULL)) return 2;
    if (bq_cli_threads("quantize", threads)) return 2;
    char err[512];
    bq_recipe r;
    if (bq_recipe_load(&r, recipe, err, sizeof(err))) { bq_cli_error("quantize", "%s", err); return 2; }
    if (check_ranks(dp, &r, recipe)) return 2;
    int root = dp->comm.rank == 0;   /* only rank 0 writes outputs */
    double t0 = bq_now();
    bq_model m;
    if (bq_cli_load_model("quantize", model, &m)) return 1;
    bq_qmodel q;
    bq_qmodel_opts qo = {r.wbits, r.abits, r.first_last_8bit};
    bq_dataset train;
    bq_recon_stats rstats = {0};   /* prior_seconds: time of killed earlier runs (resume) */
    bq_run_dir run;
    int have_q = 0, have_train = 0, have_run = 0;
    rc = 1;
    if (bq_qmodel_init(&q, &m, &qo, err, sizeof(err))) { bq_cli_error("quantize", "%s: %s", model, err); goto out; }
    have_q = 1;
    q.recipe_hash = r.text_hash;
    snprintf(q.method, sizeof(q.method), "%s", bq_method_name(r.method));
    int *before = bits_snapshot(&q);
    if (!before) { bq_cli_error("quantize", "out of memory"); goto out; }
    if (bits && bq_qmodel_apply_bits(&q, bits, err, sizeof(err))) {
        free(before);
        bq_cli_error("quantize", "%s", err);
        rc = 2;
        goto out;
    }
    char label[80];
    alloc_label(&q, &r, before, label, sizeof label);
    free(before);
    bq_qmodel_init_weights(&q, r.p);
    if (bq_qmodel_act_enabled(&q) || r.method != BQ_METHOD_RTN) {
        if (bq_cli_data_load("quantize", data, "train", &m, 0, &train)) goto out;
        have_train = 1;
        if (r.calib > train.n) {
            bq_cli_error("quantize", "%s: calib %d exceeds the %d training images", recipe, r.calib, train.n);
            rc = 2;
            goto out;
        }
    }
    if (r.method == BQ_METHOD_RTN) {
        if (bq_qmodel_act_enabled(&q) && calibrate_acts(&q, &r, &train, err, sizeof(err))) {
            bq_cli_error("quantize", "activation calibration: %s", err);
            goto out;
        }
    } else {
        if (r.checkpoint &&
            open_run_dp(dp, model, recipe, bits, &train, run_dir, out, &run, &have_run))
            goto out;
        const bq_dp_comm *comm = dp->comm.size > 1 ? &dp->comm : NULL;
        if (bq_reconstruct_dp(&q, &m, &r, &train, r.checkpoint ? run.dir : NULL, 0, &rstats,
                              comm, err, sizeof(err))) {
            if (root) bq_cli_error("quantize", "%s", err);
            else dprintf(dp->err_fd, "brecq quantize: rank %d: %s\n", dp->comm.rank, err);
            /* the other ranks may be waiting in an exchange: stop the whole job */
            if (comm) bq_dp_mpi_abort(1);
            goto out;
        }
    }
    if (!root) { rc = 0; goto out; }
    double secs = bq_now() - t0 + rstats.prior_seconds;
    /* a resumed job's memory is the largest of all its processes' (earlier ones: elapsed_s) */
    double rss_mb = bq_peak_rss_mb();
    if (rstats.prior_rss_mb > rss_mb) rss_mb = rstats.prior_rss_mb;
    /* the report is built before the .bqq is written, so running out of memory here leaves no
     * .bqq behind; a report that cannot be written removes the .bqq again (nothing half-done) */
    bq_buf b = {0};
    if (report) {
        bq_buf_printf(&b, "{\"model\": \"%s\", \"recipe\": \"%s\", \"bits\": %s%s%s, \"out\": \"%s\", "
                      "\"method\": \"%s\", \"wbits\": %d, \"abits\": %d, \"allocation\": \"%s\", "
                      "\"first_last_8bit\": %s, "
                      "\"source_hash\": \"%016llx\", \"qmodel_hash\": \"%016llx\", "
                      "\"seconds\": %.3f, \"seconds_prior_runs\": %.3f, \"peak_rss_mb\": %.1f, "
                      "\"peak_rss_complete\": %s}\n",
                      model, recipe, bits ? "\"" : "", bits ? bits : "null", bits ? "\"" : "", out,
                      q.method, r.wbits, r.abits, label, r.first_last_8bit ? "true" : "false",
                      (unsigned long long)q.src_hash, (unsigned long long)bq_qmodel_hash(&q), secs,
                      rstats.prior_seconds, rss_mb, rstats.prior_rss_unknown ? "false" : "true");
        if (b.oom) { bq_cli_error("quantize", "out of memory"); bq_buf_free(&b); goto out; }
    }
    if (bq_qmodel_save(&q, out, err, sizeof(err))) {
        bq_cli_error("quantize", "%s", err);
        bq_buf_free(&b);
        goto out;
    }
    if (report && bq_write_file_atomic(report, b.data, b.len, err, sizeof(err))) {
        bq_cli_error("quantize", "%s", err);
        remove(out);
        bq_buf_free(&b);
        goto out;
    }
    bq_buf_free(&b);
    if (print) bq_qmodel_print(&q, stderr);
    fprintf(stderr, "quantize: %s %s%s -> %s (%.1f s, peak RSS %.0f MB)\n", q.method, label,
            r.first_last_8bit ? " first/last 8-bit" : "", out, secs, rss_mb);
    rc = 0;
out:
    if (have_run) bq_run_close(&run, rc == 0);
    if (have_train) bq_dataset_free(&train);
    if (have_q) bq_qmodel_free(&q);
    bq_model_free(&m);
    return rc;
}

int bq_cmd_quantize(int argc, char **argv) {
    dp_ctx dp = {.comm = {0, 1, NULL, NULL}, .mpi = 0, .err_fd = 2};
    if (bq_dse_mpi_launched()) {
        bq_dp_mpi_init(&dp.comm);
        dp.mpi = 1;
        if (dp.comm.rank > 0) {
            fflush(stderr);
            dp.err_fd = dup(2);
            if (dp.err_fd < 0 || !freopen("/dev/null", "w", stderr)) dp.err_fd = 2;
        }
    }
    int rc = quantize(argc, argv, &dp);
    if (dp.mpi) bq_dp_mpi_finalize();
    return rc;
}
