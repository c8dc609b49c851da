/* train.c — float training and evaluation (see train.h). */
#include "nn/train.h"
#include "core/errmsg.h"
#include "nn/exec.h"
#include "nn/ops.h"
#include "nn/optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bq_train_opts_default(bq_train_opts *o) {
    memset(o, 0, sizeof(*o));
    o->epochs = 10;
    o->batch = 128;
    o->lr = 0.1f;
    o->momentum = 0.9f;
    o->weight_decay = 5e-4f;
    o->nesterov = 1;
    o->optimizer = 0;
    o->schedule = 1;
    o->warmup_frac = 0.0f;
    o->seed = 0;
    o->augment = 1;
}

int bq_train(bq_model *m, const bq_dataset *train, const bq_train_opts *o, char *err,
             size_t errlen) {
    const int B = o->batch, in_sz = m->in_c * m->in_h * m->in_w, K = m->num_classes;
    const int steps_per_epoch = train->n / B;   /* drop the last partial batch */
    const int total = steps_per_epoch * o->epochs;
    if (B <= 0 || steps_per_epoch <= 0 || o->epochs <= 0) {
        bq_seterr(err, errlen, "training: batch %d / epochs %d do not fit %d images", B, o->epochs,
                  train->n);
        return -1;
    }
    bq_exec ex;
    if (bq_exec_init(&ex, m, B, 1)) { bq_seterr(err, errlen, "training: out of memory"); return -1; }
    float *x = malloc(sizeof(float) * (size_t)B * (size_t)in_sz);
    float *probs = malloc(sizeof(float) * (size_t)B * (size_t)K);
    int *y = malloc(sizeof(int) * (size_t)B), *perm = malloc(sizeof(int) * (size_t)train->n);
    bq_param_entry *ent = malloc(sizeof(bq_param_entry) * (size_t)(m->n_params ? m->n_params : 1));
    int n_ent = 0, rc = -1;
    bq_optim opt;
    memset(&opt, 0, sizeof(opt));
    if (!x || !probs || !y || !perm || !ent) { bq_seterr(err, errlen, "training: out of memory"); goto done; }
    for (int i = 0; i < m->n_params; i++) {
        if (m->params[i].is_buffer) continue;
        ent[n_ent].param = m->arena + m->params[i].offset;
        ent[n_ent].grad = ex.param_grad + m->params[i].offset;
        ent[n_ent].count = m->params[i].count;
        ent[n_ent].no_decay = m->params[i].no_decay;
        n_ent++;
    }
    bq_optim_config cfg = o->optimizer ? bq_optim_adam_defaults() : bq_optim_sgd_defaults();
    cfg.weight_decay = o->weight_decay;
    if (!o->optimizer) { cfg.momentum = o->momentum; cfg.nesterov = o->nesterov; }
    if (bq_optim_init(&opt, &cfg, ent, n_ent, err, errlen)) goto done;

    bq_rng rng;
    bq_rng_seed(&rng, o->seed);
    bq_progress pr;
    bq_progress_start(&pr, "train");
    int step = 0, out = bq_model_output(m);
    for (int ep = 0; ep < o->epochs; ep++) {
        bq_rng_permutation(&rng, perm, train->n);
        double loss_sum = 0;
        int correct = 0, seen = 0;
        for (int s = 0; s < steps_per_epoch && (!o->max_steps || step < o->max_steps); s++, step++) {
            bq_dataset_batch(train, perm + s * B, B, x, y, m->in_mean, m->in_std,
                             o->augment ? &rng : NULL);
            bq_exec_forward(&ex, m, x, B, 1);
            const float *logits = ex.act[out];
            float loss = bq_softmax_xent_forward(probs, logits, y, B, K);
            bq_exec_zero_grad(&ex, m, 0, out, 1);
            bq_softmax_xent_backward(ex.grad[out], probs, y, B, K, 1.0f);
            bq_exec_backward_range(&ex, m, 1, out, 1);
            float lr = o->schedule == 1
                           ? bq_lr_onecycle(o->lr, step, total, 0.25f, 25.0f, 1e3f)
                           : bq_lr_cosine(o->lr, step, total, (int)(o->warmup_frac * (float)total));
            bq_optim_step(&opt, lr);
            loss_sum += loss;
            for (int b = 0; b < B; b++) {
                int best = 0;
                for (int k = 1; k < K; k++) if (logits[b * K + k] > logits[b * K + best]) best = k;
                correct += best == y[b];
            }
            seen += B;
            long planned = o->max_steps && o->max_steps < total ? o->max_steps : total;
            bq_progress_update(&pr, step + 1, (double)planned,
                               "epoch %d/%d step %d/%d loss %.4f acc %.4f lr %.4f",
                               ep + 1, o->epochs, s + 1, steps_per_epoch, loss_sum / (s + 1),
                               (double)correct / seen, lr);
        }
        if (o->val && (!o->max_steps || step < o->max_steps)) {
            double acc = bq_evaluate(m, o->val, 256, NULL);
            fprintf(stderr, "[train] epoch %d/%d: train loss %.4f, train acc %.4f, test top-1 %.4f\n",
                    ep + 1, o->epochs, loss_sum / steps_per_epoch, (double)correct / seen, acc);
        }
        if (o->max_steps && step >= o->max_steps) break;
    }
    bq_progress_end(&pr, "done, %d steps", step);
    rc = 0;
done:
    bq_optim_free(&opt);
    bq_exec_free(&ex);
    free(x); free(probs); free(y); free(perm); free(ent);
    return rc;
}

double bq_evaluate(const bq_model *m, const bq_dataset *d, int batch, int *preds) {
    bq_exec ex;
    if (bq_exec_init(&ex, m, batch, 0)) return -1.0;
    const int in_sz = m->in_c * m->in_h * m->in_w, K = m->num_classes, out = bq_model_output(m);
    float *x = malloc(sizeof(float) * (size_t)batch * (size_t)in_sz);
    int *y = malloc(sizeof(int) * (size_t)batch), *idx = malloc(sizeof(int) * (size_t)batch);
    long correct = 0;
    if (!x || !y || !idx) { free(x); free(y); free(idx); bq_exec_free(&ex); return -1.0; }
    for (int s = 0; s < d->n; s += batch) {
        int n = d->n - s < batch ? d->n - s : batch;
        for (int b = 0; b < n; b++) idx[b] = s + b;
        bq_dataset_batch(d, idx, n, x, y, m->in_mean, m->in_std, NULL);
        bq_exec_forward(&ex, m, x, n, 0);
        for (int b = 0; b < n; b++) {
            const float *l = ex.act[out] + (size_t)b * K;
            int best = 0;
            for (int k = 1; k < K; k++) if (l[k] > l[best]) best = k;
            correct += best == y[b];
            if (preds) preds[s + b] = best;
        }
    }
    free(x); free(y); free(idx);
    bq_exec_free(&ex);
    return (double)correct / d->n;
}
