/*
 * recipe.c — the recipe schema (one key table for the shared loader, sw/core/yamldoc.h) and its
 * cross-key rules (see recipe.h).
 */
#include "core/yamldoc.h"
#include "core/errmsg.h"
#include "quant/recipe.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "nn/conv_dnnl.h"

static const char *const kMethods[] = {"rtn", "adaround", "brecq", "brecq_qdrop", NULL};
static const char *const kLosses[] = {"mse", "fisher", NULL};
static const char *const kFisher[] = {"abs_plus_one", "normalized", NULL};
static const char *const kCompute[] = {"fp32", "bf16", NULL};

/* The schema: key, type, range, field, default, meaning (the loader is sw/core/yamldoc.h). */
#define R(k, t, lo, hi, f, d, h) {k, t, 0, lo, hi, offsetof(bq_recipe, f), .def = d, .what = h}
#define E(k, nm, f, d, h) \
    {k, BQ_Y_ENUM, 0, 0, 0, offsetof(bq_recipe, f), .names = nm, .def = d, .what = h}
static const bq_ykey kRows[] = {
    E("method", kMethods, method, BQ_METHOD_RTN, "rtn | adaround | brecq | brecq_qdrop"),
    E("loss", kLosses, loss, BQ_LOSS_FISHER, "reconstruction loss: mse | fisher"),
    R("wbits", BQ_Y_INT, 2, 8, wbits, 4, "default weight bits"),
    R("abits", BQ_Y_INT, 2, 32, abits, 4, "default activation bits (2..8), 32 = float activations"),
    R("first_last_8bit", BQ_Y_BOOL, 0, 1, first_last_8bit, 1,
      "first layer weights+output and last layer weights+input at 8 bits"),
    R("calib", BQ_Y_INT, 1, 60000, calib, 1024, "calibration images from the training set"),
    R("calib_seed", BQ_Y_U64, 0, 1.8e19, calib_seed, 0, "seed of the calibration subset"),
    R("act_init_batch", BQ_Y_INT, 1, 60000, act_init_batch, 64,
      "calibration images used to initialise activation ranges"),
    R("seed", BQ_Y_U64, 0, 1.8e19, seed, 0, "seed of batch sampling and QDrop masks"),
    R("p", BQ_Y_FLOAT, 1, 8, p, 2.4, "Lp norm of the range search and the stage B loss"),
    R("iters", BQ_Y_INT, 0, 10000000, iters, 20000, "stage A (AdaRound) iterations per block/layer"),
    R("batch", BQ_Y_INT, 1, 4096, batch, 32, "reconstruction batch size"),
    R("weight_lambda", BQ_Y_FLOAT, 0, 1000, weight_lambda, 0.01, "rounding regulariser weight"),
    R("beta_start", BQ_Y_FLOAT, 0.01, 1000, beta_start, 20, "rounding regulariser beta at warm-up end"),
    R("beta_end", BQ_Y_FLOAT, 0.01, 1000, beta_end, 2, "rounding regulariser beta at the end"),
    R("warmup", BQ_Y_FLOAT, 0, 1, warmup, 0.2, "fraction of iterations without the regulariser"),
    R("lr_round", BQ_Y_FLOAT, 0, 10, lr_round, 1e-3, "Adam lr of the rounding variables"),
    R("rec_p_weight", BQ_Y_FLOAT, 1, 8, rec_p_weight, 2.0, "Lp of the stage A reconstruction loss"),
    R("zeta", BQ_Y_FLOAT, 1, 2, zeta, 1.1, "rectified sigmoid upper stretch"),
    R("gamma", BQ_Y_FLOAT, -1, 0, gamma, -0.1, "rectified sigmoid lower stretch"),
    R("act_iters", BQ_Y_INT, 0, 10000000, act_iters, 5000, "stage B (activation steps) iterations"),
    R("lr_act", BQ_Y_FLOAT, 0, 10, lr_act, 4e-4, "Adam lr of the activation steps (cosine to 0)"),
    R("qdrop_prob", BQ_Y_FLOAT, 0, 1, qdrop_prob, 0.5, "QDrop: probability of keeping the FP value"),
    R("qdrop_iters", BQ_Y_INT, 0, 10000000, qdrop_iters, 20000, "QDrop joint stage iterations"),
    R("lr_act_qdrop", BQ_Y_FLOAT, 0, 10, lr_act_qdrop, 4e-5, "QDrop: Adam lr of the activation steps"),
    R("adam_beta1", BQ_Y_FLOAT, 0, 0.999999, adam_beta1, 0.9, "Adam beta1"),
    R("adam_beta2", BQ_Y_FLOAT, 0, 0.999999999, adam_beta2, 0.999, "Adam beta2"),
    R("adam_eps", BQ_Y_FLOAT, 0, 1, adam_eps, 1e-8, "Adam epsilon"),
    E("fisher_norm", kFisher, fisher_norm, BQ_FISHER_NORMALIZED,
      "Fisher weighting: normalized | abs_plus_one (the reference)"),
    R("fisher_damping", BQ_Y_FLOAT, 0, 1e6, fisher_damping, 0.1,
      "added to the normalised Fisher diagonal"),
    R("checkpoint", BQ_Y_BOOL, 0, 1, checkpoint, 1, "write per-block checkpoints (resume)"),
    E("compute", kCompute, compute, BQ_COMPUTE_FP32,
      "reconstruction convs: fp32 | bf16 (oneDNN, needs AVX512-BF16)"),
    R("dp_shards", BQ_Y_INT, 1, 4096, dp_shards, 1,
      "split each minibatch into this many shards (data-parallel over MPI ranks; divides batch)"),
};
#undef R
#undef E
enum { NROWS = (int)(sizeof kRows / sizeof kRows[0]) };

void bq_recipe_default(bq_recipe *r) {
    memset(r, 0, sizeof(*r));
    bq_yschema_defaults(kRows, NROWS, r);
}

const char *bq_method_name(bq_method m) {
    return (m >= 0 && m <= BQ_METHOD_BRECQ_QDROP) ? kMethods[m] : "?";
}
const char *bq_loss_name(bq_loss_kind l) { return (l >= 0 && l <= BQ_LOSS_FISHER) ? kLosses[l] : "?"; }

/* compute: bf16 is refused here, when the recipe loads (before any work), on a CPU without
 * AVX512-BF16: oneDNN would run reference kernels there, slower than FP32. */
static int check_bf16(const char *fname, const bq_ymarks *marks, char *err, size_t errlen) {
    char isa[64];
    if (bq_dnnl_bf16_available(isa, sizeof isa)) return 0;
    const bq_ymark *m = bq_ymarks_find(marks, "compute");
    bq_seterr(err, errlen, "%s:%zu:%zu: 'compute: bf16' needs a CPU with AVX512-BF16 (oneDNN "
              "reports %s); use 'compute: fp32'", fname,
              m ? (size_t)m->value_mark.line + 1 : 1, m ? (size_t)m->value_mark.column + 1 : 1,
              isa);
    return -1;
}

int bq_recipe_parse(bq_recipe *r, const char *text, size_t len, const char *fname, char *err,
                    size_t errlen) {
    bq_recipe_default(r);
    r->text_hash = bq_fnv1a64(text, len, BQ_FNV_INIT);
    bq_ymarks *marks = calloc(1, sizeof *marks);
    if (!marks) {
        bq_seterr(err, errlen, "%s: out of memory", fname);
        return -1;
    }
    int rc = -1;
    if (bq_yschema_parse(kRows, NROWS, text, len, fname, r, marks, err, errlen)) goto done;
    if (r->abits > 8 && r->abits != 32) {
        const bq_ymark *m = bq_ymarks_find(marks, "abits");
        bq_seterr(err, errlen, "%s:%zu:%zu: 'abits' must be 2..8, or 32 for float activations "
                  "(got %d)", fname, m ? (size_t)m->value_mark.line + 1 : 1,
                  m ? (size_t)m->value_mark.column + 1 : 1, r->abits);
        goto done;
    }
    if (r->act_init_batch > r->calib) {
        bq_seterr(err, errlen, "%s: 'act_init_batch' (%d) must not exceed 'calib' (%d)", fname,
               r->act_init_batch, r->calib);
        goto done;
    }
    if (r->method != BQ_METHOD_RTN && r->batch > r->calib) {
        bq_seterr(err, errlen, "%s: 'batch' (%d) must not exceed 'calib' (%d)", fname, r->batch, r->calib);
        goto done;
    }
    if (r->compute == BQ_COMPUTE_BF16 && check_bf16(fname, marks, err, errlen)) goto done;
    if (r->method != BQ_METHOD_RTN && r->batch % r->dp_shards != 0) {
        const bq_ymark *m = bq_ymarks_find(marks, "dp_shards");
        bq_seterr(err, errlen, "%s:%zu:%zu: 'dp_shards' (%d) must divide 'batch' (%d); pick a "
                  "divisor of the batch", fname, m ? (size_t)m->value_mark.line + 1 : 1,
                  m ? (size_t)m->value_mark.column + 1 : 1, r->dp_shards, r->batch);
        goto done;
    }
    rc = 0;
done:
    free(marks);
    return rc;
}

int bq_recipe_load(bq_recipe *r, const char *path, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    int rc = bq_recipe_parse(r, (const char *)data, len, path, err, errlen);
    free(data);
    return rc;
}
