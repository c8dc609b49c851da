/*
 * optim.h — first-order optimizers (SGD with momentum/Nesterov, Adam) and learning-rate schedules.
 *
 * An optimizer works on a list of parameter entries (param, grad, count). Its state (momentum
 * buffers, Adam moments) is allocated once by bq_optim_init, in one block, and zeroed. The
 * gradients are read, never modified; the caller zeroes them between steps as usual.
 * Weight decay is classic L2 (g += wd * p before the update, as torch.optim.SGD/Adam do), skipped
 * for entries with no_decay set (biases, BN gamma/beta).
 *
 * Example:
 *   bq_param_entry e[] = {{w, dw, nw, 0}, {b, db, nb, 1}};
 *   bq_optim_config cfg = bq_optim_sgd_defaults();  cfg.momentum = 0.9f; cfg.weight_decay = 5e-4f;
 *   bq_optim opt;
 *   if (bq_optim_init(&opt, &cfg, e, 2, err, sizeof err)) { ...report err... }
 *   for (int step = 0; step < total; step++) {
 *       ... zero dw/db, forward, backward ...
 *       bq_optim_step(&opt, bq_lr_cosine(0.1f, step, total, 500));
 *   }
 *   bq_optim_free(&opt);
 */
#ifndef BQ_OPTIM_H
#define BQ_OPTIM_H

#include <stddef.h>

typedef enum { BQ_OPTIM_SGD = 0, BQ_OPTIM_ADAM = 1 } bq_optim_kind;

/* One parameter tensor: param (count) is updated in place from grad (count). */
typedef struct {
    float *param;
    const float *grad;
    size_t count;
    int no_decay;              /* 1 = never apply weight decay to this entry */
} bq_param_entry;

typedef struct {
    bq_optim_kind kind;
    float weight_decay;        /* L2 coefficient, 0 = none */
    /* SGD: buf = momentum * buf + g; p -= lr * (nesterov ? g + momentum * buf : buf).
     * (PyTorch semantics, dampening 0; momentum 0 is plain SGD.) */
    float momentum;
    int nesterov;              /* requires momentum > 0 */
    /* Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * m^ / (sqrt(v^) + eps) with the
     * bias-corrected m^ = m / (1 - b1^t), v^ = v / (1 - b2^t), t = 1 on the first step. */
    float beta1, beta2, eps;
} bq_optim_config;

typedef struct {
    bq_optim_config cfg;
    bq_param_entry *entries;   /* owned copy of the list given to init */
    int n_entries;
    float *state;              /* SGD: one buffer per entry; Adam: m then v per entry */
    long t;                    /* steps taken */
} bq_optim;

/* Defaults: SGD momentum 0.9, no Nesterov, no decay; Adam 0.9 / 0.999 / 1e-8, no decay. */
bq_optim_config bq_optim_sgd_defaults(void);
bq_optim_config bq_optim_adam_defaults(void);

/* Copy the entry list and allocate zeroed state. Returns 0, or -1 with a message in err
 * (bad hyper-parameter, NULL pointers, out of memory); opt is then safe to bq_optim_free. */
int bq_optim_init(bq_optim *opt, const bq_optim_config *cfg, const bq_param_entry *entries,
                  int n_entries, char *err, size_t errlen);
/* One update of every entry with learning rate lr. */
void bq_optim_step(bq_optim *opt, float lr);
/* Release the state and the entry copy; safe on a zeroed or failed-init optimizer. */
void bq_optim_free(bq_optim *opt);

/* Cosine schedule with linear warmup. For step < warmup: base * (step + 1) / warmup; then
 * base * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup))), reaching 0 at step == total.
 * Steps >= total give 0; warmup <= 0 means none. */
float bq_lr_cosine(float base, int step, int total, int warmup);

/* One-cycle (Smith; torch OneCycleLR with linear anneal up, cosine down):
 * up for u = round(pct_up * total) steps, linearly from max_lr / div to max_lr (reached at
 * step u); then cosine from max_lr down to max_lr / (div * final_div), reached at total - 1.
 * Typical: pct_up 0.3, div 25, final_div 1e4. Steps >= total give the final value. */
float bq_lr_onecycle(float max_lr, int step, int total, float pct_up, float div, float final_div);

#endif
