/*
 * train.h — training and evaluating float models on Fashion-MNIST.
 *
 *   bq_train_opts o; bq_train_opts_default(&o);  o.epochs = 10;
 *   bq_train(&model, &train_set, &o, err, sizeof err);
 *   double top1 = bq_evaluate(&model, &test_set, 256, preds);
 */
#ifndef BQ_TRAIN_H
#define BQ_TRAIN_H
#include <stdint.h>
#include "nn/data.h"
#include "nn/graph.h"
#include "core/progress.h"

typedef struct {
    int epochs, batch;
    float lr, momentum, weight_decay;
    int nesterov;
    int optimizer;         /* 0 = SGD, 1 = Adam */
    int schedule;          /* 0 = cosine, 1 = one-cycle */
    float warmup_frac;     /* cosine: fraction of steps of linear warm-up */
    uint64_t seed;         /* shuffling and augmentation */
    int augment;
    long max_steps;        /* stop after this many steps (0 = all); for smoke tests */
    const bq_dataset *val; /* optional: evaluate after every epoch (reported, never used to pick) */
    /* Checkpoints (docs/reliability.md "Kill and resume"): with ckpt_dir, the whole training state
     * (weights and BN buffers, optimizer state and step count, RNG, the epoch's permutation,
     * epoch and step) is written atomically to ckpt_dir/train.ckpt at the end of every epoch and
     * every ckpt_steps steps (0: epochs only); a call with the same ckpt_key resumes from it and
     * gives the same bytes as an uninterrupted run. A file with another key is ignored. */
    const char *ckpt_dir;
    uint64_t ckpt_key;
    int ckpt_steps;
} bq_train_opts;

void bq_train_opts_default(bq_train_opts *o);
/* Train in place. Progress on stderr. Returns 0, -1 with err on failure. */
int bq_train(bq_model *m, const bq_dataset *train, const bq_train_opts *o, char *err, size_t errlen);
/* Top-1 accuracy of a float model on a whole dataset (eval-mode BN). preds (n) may be NULL. */
double bq_evaluate(const bq_model *m, const bq_dataset *d, int batch, int *preds);
#endif
