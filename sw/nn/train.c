/* train.c — float training and evaluation (see train.h). */
#include "nn/train.h"
#include "core/errmsg.h"
#include "core/fileio.h"
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

/* ---- checkpoint: the state between two steps ---- */
#define TRAIN_CKPT_MAGIC "BQTRCKP1"

typedef struct {
    int ep, s;              /* next: step s of epoch ep (s == 0: its permutation not drawn yet) */
    int step;               /* steps taken */
    double loss_sum;        /* the epoch's running sums (progress lines) */
    int correct, seen;
} train_pos;

static size_t optim_state_count(const bq_optim *opt) {
    size_t total = 0;
    for (int i = 0; i < opt->n_entries; i++) total += opt->entries[i].count;
    return total * (opt->cfg.kind == BQ_OPTIM_ADAM ? 2 : 1);
}

static int ckpt_save(const bq_train_opts *o, const train_pos *p, const bq_rng *rng,
                     const int *perm, int n, const bq_model *m, const bq_optim *opt, char *err,
                     size_t errlen) {
    bq_buf b = {0};
    uint64_t ls;
    memcpy(&ls, &p->loss_sum, 8);
    bq_buf_put(&b, TRAIN_CKPT_MAGIC, 8);
    bq_buf_u64(&b, o->ckpt_key);
    const int32_t head[6] = {p->ep, p->s, p->step, p->correct, p->seen, n};
    for (int i = 0; i < 6; i++) bq_buf_i32(&b, head[i]);
    bq_buf_u64(&b, ls);
    for (int i = 0; i < 4; i++) bq_buf_u64(&b, rng->s[i]);
    for (int i = 0; i < n; i++) bq_buf_i32(&b, perm[i]);
    bq_buf_u64(&b, (uint64_t)m->arena_count);
    for (size_t i = 0; i < m->arena_count; i++) bq_buf_f32(&b, m->arena[i]);
    size_t ns = optim_state_count(opt);
    bq_buf_u64(&b, (uint64_t)opt->t);
    bq_buf_u64(&b, (uint64_t)ns);
    for (size_t i = 0; i < ns; i++) bq_buf_f32(&b, opt->state[i]);
    bq_buf_u64(&b, bq_fnv1a64(b.data, b.len, BQ_FNV_INIT));
    char path[4200];
    snprintf(path, sizeof path, "%s/train.ckpt", o->ckpt_dir);
    int rc = 0;
    if (b.oom) { bq_seterr(err, errlen, "training: out of memory writing %s", path); rc = -1; }
    else rc = bq_write_file_atomic(path, b.data, b.len, err, errlen);
    bq_buf_free(&b);
    return rc;
}

/* Restore the state from ckpt_dir/train.ckpt. 1 when resumed, 0 when there is no usable file
 * (missing, damaged, another key or shape: start afresh), -1 out of memory. */
static int ckpt_load(const bq_train_opts *o, train_pos *p, bq_rng *rng, int *perm, int n,
                     bq_model *m, bq_optim *opt) {
    char path[4200], e[256];
    snprintf(path, sizeof path, "%s/train.ckpt", o->ckpt_dir);
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, e, sizeof e)) return 0;
    int rc = 0;
    uint64_t h, key, ls, cnt, t, ns;
    if (len < 16 || memcmp(data, TRAIN_CKPT_MAGIC, 8)) goto out;
    memcpy(&h, data + len - 8, 8);   /* little-endian hosts only, as every format here */
    if (h != bq_fnv1a64(data, len - 8, BQ_FNV_INIT)) goto out;
    bq_rd r = {data, len - 8, 8, 0};
    int32_t head[6];
    bq_rd_u64(&r, &key);
    for (int i = 0; i < 6; i++) bq_rd_i32(&r, &head[i]);
    /* the sizes must all match before anything of the caller's is overwritten */
    size_t ns_want = optim_state_count(opt);
    size_t want = 8 + 8 + 24 + 8 + 32 + 4 * (size_t)n + 8 + 4 * m->arena_count + 16 + 4 * ns_want + 8;
    if (r.bad || key != o->ckpt_key || head[5] != n || len != want) goto out;
    bq_rd_u64(&r, &ls);
    for (int i = 0; i < 4; i++) bq_rd_u64(&r, &rng->s[i]);
    for (int i = 0; i < n; i++) bq_rd_i32(&r, &perm[i]);
    if (bq_rd_u64(&r, &cnt) || cnt != m->arena_count) goto out;
    for (size_t i = 0; i < m->arena_count; i++) bq_rd_f32(&r, &m->arena[i]);
    bq_rd_u64(&r, &t);
    if (bq_rd_u64(&r, &ns) || ns != optim_state_count(opt)) goto out;
    for (size_t i = 0; i < ns; i++) bq_rd_f32(&r, &opt->state[i]);
    if (r.bad) goto out;   /* the hash matched: only a format change gets here */
    opt->t = (long)t;
    *p = (train_pos){head[0], head[1], head[2], 0.0, head[3], head[4]};
    memcpy(&p->loss_sum, &ls, 8);
    rc = 1;
out:
    free(data);
    return rc;
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
    train_pos at = {0, 0, 0, 0.0, 0, 0};
    int resumed = o->ckpt_dir ? ckpt_load(o, &at, &rng, perm, train->n, m, &opt) : 0;
    if (resumed)
        fprintf(stderr, "[train] resuming from %s/train.ckpt at epoch %d step %d (%d steps done)\n",
                o->ckpt_dir, at.ep + 1, at.s, at.step);
    bq_progress pr;
    bq_progress_start(&pr, "train");
    int step = at.step, out = bq_model_output(m);
    for (int ep = at.ep; ep < o->epochs; ep++) {
        int s0 = ep == at.ep ? at.s : 0;
        double loss_sum = s0 ? at.loss_sum : 0;
        int correct = s0 ? at.correct : 0, seen = s0 ? at.seen : 0;
        if (s0 == 0) bq_rng_permutation(&rng, perm, train->n);
        int s = s0;
        for (; s < steps_per_epoch && (!o->max_steps || step < o->max_steps); s++, step++) {
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
            /* mid-epoch checkpoint; the epoch's last step is covered by the one below */
            train_pos here = {ep, s + 1, step + 1, loss_sum, correct, seen};
            if (o->ckpt_dir && o->ckpt_steps > 0 && (step + 1) % o->ckpt_steps == 0 &&
                s + 1 < steps_per_epoch &&
                ckpt_save(o, &here, &rng, perm, train->n, m, &opt, err, errlen))
                goto done;
        }
        if (o->val && (!o->max_steps || step < o->max_steps)) {
            /* a progress line only: out of memory skips it, the trained bytes do not change */
            double acc = bq_evaluate(m, o->val, 256, NULL);
            if (acc < 0.0)
                fprintf(stderr, "[train] epoch %d/%d: train loss %.4f, train acc %.4f, test "
                        "set skipped (out of memory)\n", ep + 1, o->epochs,
                        loss_sum / steps_per_epoch, (double)correct / seen);
            else
                fprintf(stderr, "[train] epoch %d/%d: train loss %.4f, train acc %.4f, test top-1 "
                        "%.4f\n", ep + 1, o->epochs, loss_sum / steps_per_epoch,
                        (double)correct / seen, acc);
        }
        train_pos next = {ep + 1, 0, step, 0.0, 0, 0};
        if (o->ckpt_dir && s == steps_per_epoch && ep + 1 < o->epochs &&
            ckpt_save(o, &next, &rng, perm, train->n, m, &opt, err, errlen))
            goto done;
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
