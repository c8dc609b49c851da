/*
 * optim.c — SGD / Adam and learning-rate schedules (see optim.h).
 */
#include "nn/optim.h"
#include "core/errmsg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

bq_optim_config bq_optim_sgd_defaults(void) {
    bq_optim_config c = {0};
    c.kind = BQ_OPTIM_SGD;
    c.momentum = 0.9f;
    c.beta1 = 0.9f; c.beta2 = 0.999f; c.eps = 1e-8f;
    return c;
}

bq_optim_config bq_optim_adam_defaults(void) {
    bq_optim_config c = bq_optim_sgd_defaults();
    c.kind = BQ_OPTIM_ADAM;
    c.momentum = 0.0f;
    return c;
}

#define OPT_ERR(...) do { if (err && errlen) bq_seterr(err, errlen, __VA_ARGS__); goto fail; } \
    while (0)

int bq_optim_init(bq_optim *opt, const bq_optim_config *cfg, const bq_param_entry *entries,
                  int n_entries, char *err, size_t errlen) {
    memset(opt, 0, sizeof(*opt));
    if (!cfg || n_entries < 0 || (n_entries > 0 && !entries))
        OPT_ERR("optim.c: bq_optim_init: no config or entry list; pass both");
    if (cfg->kind != BQ_OPTIM_SGD && cfg->kind != BQ_OPTIM_ADAM)
        OPT_ERR("optim.c: unknown optimizer kind %d; use BQ_OPTIM_SGD or BQ_OPTIM_ADAM",
                (int)cfg->kind);
    if (!(cfg->weight_decay >= 0.0f))
        OPT_ERR("optim.c: weight_decay %g is negative; use a value >= 0",
                (double)cfg->weight_decay);
    if (cfg->kind == BQ_OPTIM_SGD) {
        if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
            OPT_ERR("optim.c: SGD momentum %g outside [0, 1); use e.g. 0.9",
                    (double)cfg->momentum);
        if (cfg->nesterov && cfg->momentum == 0.0f)
            OPT_ERR("optim.c: Nesterov needs momentum > 0; set momentum or drop nesterov");
    } else {
        if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f &&
              cfg->beta2 < 1.0f))
            OPT_ERR("optim.c: Adam betas (%g, %g) must lie in [0, 1); use (0.9, 0.999)",
                    (double)cfg->beta1, (double)cfg->beta2);
        if (!(cfg->eps > 0.0f))
            OPT_ERR("optim.c: Adam eps %g must be > 0; use 1e-8", (double)cfg->eps);
    }
    size_t total = 0;
    for (int i = 0; i < n_entries; i++) {
        if (entries[i].count > 0 && (!entries[i].param || !entries[i].grad))
            OPT_ERR("optim.c: entry %d has a NULL param or grad; pass both buffers", i);
        total += entries[i].count;
    }
    opt->cfg = *cfg;
    opt->n_entries = n_entries;
    opt->entries = malloc(sizeof(bq_param_entry) * (size_t)(n_entries > 0 ? n_entries : 1));
    if (!opt->entries) OPT_ERR("optim.c: out of memory for %d entries", n_entries);
    if (n_entries > 0) memcpy(opt->entries, entries, sizeof(bq_param_entry) * (size_t)n_entries);
    size_t per = cfg->kind == BQ_OPTIM_ADAM ? 2 : 1;
    opt->state = calloc(total * per + 1, sizeof(float));
    if (!opt->state) OPT_ERR("optim.c: out of memory for %zu floats of optimizer state",
                             total * per);
    return 0;
fail:
    bq_optim_free(opt);
    return -1;
}

void bq_optim_free(bq_optim *opt) {
    free(opt->entries);
    free(opt->state);
    memset(opt, 0, sizeof(*opt));
}

static void sgd_entry(const bq_optim_config *c, const bq_param_entry *e, float *buf, float lr) {
    const float wd = e->no_decay ? 0.0f : c->weight_decay, mom = c->momentum;
    float *p = e->param;
    const float *gr = e->grad;
    for (size_t i = 0; i < e->count; i++) {
        float g = gr[i] + wd * p[i];
        if (mom != 0.0f) {
            buf[i] = mom * buf[i] + g;
            g = c->nesterov ? g + mom * buf[i] : buf[i];
        }
        p[i] -= lr * g;
    }
}

static void adam_entry(const bq_optim_config *c, const bq_param_entry *e, float *m, float *v,
                       float lr, long t) {
    const float wd = e->no_decay ? 0.0f : c->weight_decay;
    const float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    /* Bias corrections folded into two scalars: step = lr / bc1, and sqrt(v^) = sqrt(v) / sbc2. */
    const float bc1 = (float)(1.0 - pow(b1, (double)t));
    const float sbc2 = (float)sqrt(1.0 - pow(b2, (double)t));
    const float step = lr / bc1;
    float *p = e->param;
    const float *gr = e->grad;
    for (size_t i = 0; i < e->count; i++) {
        float g = gr[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        p[i] -= step * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}

void bq_optim_step(bq_optim *opt, float lr) {
    opt->t++;
    float *s = opt->state;
    for (int k = 0; k < opt->n_entries; k++) {
        const bq_param_entry *e = &opt->entries[k];
        if (opt->cfg.kind == BQ_OPTIM_SGD) {
            sgd_entry(&opt->cfg, e, s, lr);
            s += e->count;
        } else {
            adam_entry(&opt->cfg, e, s, s + e->count, lr, opt->t);
            s += 2 * e->count;
        }
    }
}

float bq_lr_cosine(float base, int step, int total, int warmup) {
    if (step < 0) step = 0;
    if (step >= total) return 0.0f;
    if (warmup > 0 && step < warmup) return base * (float)(step + 1) / (float)warmup;
    if (warmup < 0) warmup = 0;
    double t = (double)(step - warmup) / (double)(total - warmup);
    return (float)(base * 0.5 * (1.0 + cos(M_PI * t)));
}

float bq_lr_onecycle(float max_lr, int step, int total, float pct_up, float div, float final_div) {
    const double lo = (double)max_lr / div, fin = lo / final_div;
    int up = (int)lround((double)pct_up * total);
    if (up < 0) up = 0;
    if (up > total - 1) up = total - 1;
    if (step < 0) step = 0;
    if (step >= total - 1) return (float)fin;
    if (step < up) return (float)(lo + (max_lr - lo) * (double)step / up);
    double t = (double)(step - up) / (double)(total - 1 - up);
    return (float)(fin + (max_lr - fin) * 0.5 * (1.0 + cos(M_PI * t)));
}
