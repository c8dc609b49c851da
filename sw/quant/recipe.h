/*
 * recipe.h — the quantization recipe (configs/quant/NAME.yaml): method and every hyper-parameter of
 * the BRECQ / AdaRound / QDrop method notes, with the reference implementation's defaults.
 *
 * The schema is ONE table in recipe.c (key, type, range, default, help) read by the shared schema
 * loader (sw/core/yamldoc.h); unknown keys, keys given twice, wrong types and out-of-range values
 * are errors `file:line:col: 'key' must be ...; fix`. A flat mapping:
 *
 *   method: brecq        # rtn | adaround | brecq | brecq_qdrop
 *   loss: fisher         # mse | fisher
 *   wbits: 4
 *   abits: 4             # 32 = float activations (W?A32)
 *   iters: 20000
 *
 * Example:
 *   bq_recipe r; char err[256];
 *   if (bq_recipe_load(&r, "configs/quant/rtn_w4a4.yaml", err, sizeof err)) { ... }
 *   // r.iters, r.batch, r.weight_lambda, ...
 *
 * Every key's default (so an empty file gives the reference setup) is in that table and in
 * docs/formats.md.
 *
 * Methods other than rtn are run by the BRECQ engine, which `brecq quantize` calls through
 * sw/quant/reconstruct.h (when that header exists in the build) as
 *   int bq_reconstruct(bq_qmodel *q, const bq_model *fp, const bq_recipe *r,
 *                      const bq_dataset *train, char *err, size_t errlen);
 * with q already BN-folded, bits applied, weight ranges initialised (RTN codes) and activation
 * quantizers placed but NOT initialised (initialized == 0); fp is the unfolded float model.
 * It returns 0 with q's codes/scales final, or -1 with a one-line err.
 */
#ifndef BQ_RECIPE_H
#define BQ_RECIPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    BQ_METHOD_RTN = 0,       /* round to nearest after the MSE range init */
    BQ_METHOD_ADAROUND,      /* layer-wise AdaRound (ablation) */
    BQ_METHOD_BRECQ,         /* block reconstruction: stage A (AdaRound) + stage B (act steps) */
    BQ_METHOD_BRECQ_QDROP    /* block reconstruction with one joint QDrop stage */
} bq_method;

typedef enum { BQ_LOSS_MSE = 0, BQ_LOSS_FISHER } bq_loss_kind;

/* How the Fisher diagonal g^2 weighs the reconstruction error (the reference uses |g| + 1). */
typedef enum {
    BQ_FISHER_ABS_PLUS_ONE = 0,  /* reference: uses |g| + 1 in place of g (near-MSE on small nets) */
    BQ_FISHER_NORMALIZED         /* g^2 normalised per sample to mean 1, plus fisher_damping; the
                                    exact definition is the BRECQ engine's (sw/quant/reconstruct.h) */
} bq_fisher_norm;

/* Arithmetic of the reconstruction's convolutions (compute: fp32 | bf16; docs/onednn.md). */
typedef enum {
    BQ_COMPUTE_FP32 = 0,     /* the conv implementation $BQ_CONV picks (direct by default) */
    BQ_COMPUTE_BF16          /* oneDNN with bf16 src/weights/gradient inputs, f32 accumulation
                                and outputs; needs AVX512-BF16 (checked when the recipe loads) */
} bq_compute;

typedef struct {
    /* what */
    bq_method method;        /* method: rtn */
    bq_loss_kind loss;       /* loss: fisher */
    int wbits;               /* wbits: 4            default weight bits (2..8) */
    int abits;               /* abits: 4            activation bits (2..8, or 32 = float) */
    int first_last_8bit;     /* first_last_8bit: true */
    /* data */
    int calib;               /* calib: 1024         calibration images (training set) */
    uint64_t calib_seed;     /* calib_seed: 0       seed of the calibration subset */
    int act_init_batch;      /* act_init_batch: 64  images for the activation range init */
    uint64_t seed;           /* seed: 0             batches, QDrop masks */
    /* range search */
    float p;                 /* p: 2.4              Lp norm of the range search and stage B loss
                                (the 80 candidates x 0.01 shrink grid is fixed: quant.h) */
    /* stage A: AdaRound weights */
    int iters;               /* iters: 20000 */
    int batch;               /* batch: 32 */
    float weight_lambda;     /* weight_lambda: 0.01  rounding regulariser */
    float beta_start;        /* beta_start: 20 */
    float beta_end;          /* beta_end: 2 */
    float warmup;            /* warmup: 0.2          fraction of iters with the regulariser off */
    float lr_round;          /* lr_round: 1e-3       Adam lr of the rounding variables */
    float rec_p_weight;      /* rec_p_weight: 2.0    Lp of the stage A reconstruction loss (mse) */
    float zeta, gamma;       /* zeta: 1.1, gamma: -0.1  rectified sigmoid stretch */
    /* stage B: activation steps */
    int act_iters;           /* act_iters: 5000 */
    float lr_act;            /* lr_act: 4e-4         Adam lr of the steps, cosine decay to 0 */
    /* QDrop */
    float qdrop_prob;        /* qdrop_prob: 0.5 */
    int qdrop_iters;         /* qdrop_iters: 20000   joint stage iterations */
    float lr_act_qdrop;      /* lr_act_qdrop: 4e-5 */
    /* Adam */
    float adam_beta1, adam_beta2, adam_eps;   /* 0.9, 0.999, 1e-8 */
    /* Fisher */
    bq_fisher_norm fisher_norm;  /* fisher_norm: normalized   (abs_plus_one = reference) */
    float fisher_damping;        /* fisher_damping: 0.1  added to the normalised diagonal */
    /* engineering */
    int checkpoint;          /* checkpoint: true     per-block checkpoints (resume) */
    bq_compute compute;      /* compute: fp32        arithmetic of the unit iterations' convs */
    int dp_shards;           /* dp_shards: 1         minibatch shards, gradients summed in shard
                                                     order (data-parallel, docs/mpi_recon.md) */
    uint64_t text_hash;      /* FNV-1a 64 of the file text (keys results); filled by the loader */
} bq_recipe;

/* The reference defaults (what an empty recipe file gives). */
void bq_recipe_default(bq_recipe *r);
/* Load / parse (fname only names the text in messages). 0, or -1 with `file:line:col: ...`. */
int  bq_recipe_load(bq_recipe *r, const char *path, char *err, size_t errlen);
int  bq_recipe_parse(bq_recipe *r, const char *text, size_t len, const char *fname, char *err,
                     size_t errlen);
/* Names of enum values ("rtn", "fisher", ...). */
const char *bq_method_name(bq_method m);
const char *bq_loss_name(bq_loss_kind l);

#endif
