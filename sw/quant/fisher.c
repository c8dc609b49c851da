/* fisher.c — reconstruction loss and Fisher weights (see fisher.h). */
#include "quant/fisher.h"
#include "core/fastmath.h"
#include "core/parallel.h"

#include <math.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
/* vectorise the loss loops (see lsq.c: floorf needs no-trapping-math; values are unchanged) */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#endif

uint8_t bq_logcode(float v) {
    if (!(v > 0.0f)) return 0;
    float l = 12.0f * log2f(v);
    if (l < -127.5f) return 0;
    long c = lrintf(l) + 128;
    return (uint8_t)(c < 1 ? 1 : (c > 255 ? 255 : c));
}

float bq_logdecode(uint8_t c) { return c ? exp2f(((float)c - 128.0f) / 12.0f) : 0.0f; }

void bq_logcode_table(float *lut) {
    for (int c = 0; c < 256; c++) lut[c] = bq_logdecode((uint8_t)c);
}

double bq_kl_logits_grad(float *dq, const float *fp_logits, const float *q_logits, int n, int k) {
    double kl = 0.0;
    for (int i = 0; i < n; i++) {
        const float *a = fp_logits + (size_t)i * k, *b = q_logits + (size_t)i * k;
        double ma = a[0], mb = b[0];
        for (int j = 1; j < k; j++) {
            if (a[j] > ma) ma = a[j];
            if (b[j] > mb) mb = b[j];
        }
        double sa = 0.0, sb = 0.0;
        for (int j = 0; j < k; j++) {
            sa += exp(a[j] - ma);
            sb += exp(b[j] - mb);
        }
        double lsa = log(sa), lsb = log(sb);
        for (int j = 0; j < k; j++) {
            double la = a[j] - ma - lsa, lb = b[j] - mb - lsb;   /* log-probabilities */
            double pa = exp(la), pb = exp(lb);
            kl += pa * (la - lb);
            dq[(size_t)i * k + j] = (float)(pb - pa);
        }
    }
    return n > 0 ? kl / n : 0.0;
}

double bq_fisher_output_grad(float *g, bq_exec *ex, const bq_model *m, const float *x,
                             const float *fp_logits, int n, int node) {
    int out = bq_model_output(m);
    bq_exec_forward(ex, m, x, n, 0);
    bq_exec_zero_grad(ex, m, node + 1, out, 0);
    int k = m->nodes[out].c;
    double kl = bq_kl_logits_grad(ex->grad[out], fp_logits, ex->act[out], n, k);
    if (node < out) bq_exec_backward_range(ex, m, node + 1, out, 0);
    memcpy(g, ex->grad[node], sizeof(float) * (size_t)n * bq_node_size(&m->nodes[node]));
    return kl;
}

void bq_fisher_weights(uint8_t *w, const float *g, size_t count, bq_fisher_mode mode,
                       float damping) {
    if (mode == BQ_FISHER_NONE) {
        for (size_t i = 0; i < count; i++) w[i] = bq_logcode(1.0f);
        return;
    }
    if (mode == BQ_FISHER_REF) {
        for (size_t i = 0; i < count; i++) {
            float a = fabsf(g[i]) + 1.0f;
            w[i] = bq_logcode(a * a);
        }
        return;
    }
    double mean = 0.0;
    for (size_t i = 0; i < count; i++) mean += (double)g[i] * g[i];
    mean = count ? mean / (double)count : 0.0;
    if (!(mean > 0.0)) {   /* no signal at all: fall back to plain MSE */
        for (size_t i = 0; i < count; i++) w[i] = bq_logcode(1.0f);
        return;
    }
    double a = (1.0 - damping) / mean;
    for (size_t i = 0; i < count; i++)
        w[i] = bq_logcode((float)(a * (double)g[i] * g[i] + damping));
}

float bq_fast_pow(float x, float e) { return bq_fast_pow_inline(x, e); }

/* The loss runs over every output element of a unit in every iteration: blocks of LBLK elements
 * on the threads of parallel.h, each a vectorised elementwise pass (dyhat and the per-element
 * terms) and a double sum; the block sums are added in block order (independent of threads). */
#define LBLK 2048
#define LGROUP 256

typedef struct {
    float *dyhat;
    const float *yhat, *y;
    const uint8_t *w;
    const float *lut;
    size_t n;
    float pw, inv;
    double *bsum;
} loss_job;

static void loss_range(void *ctx, int idx, size_t lo, size_t hi) {
    const loss_job *j = ctx;
    const float pw = j->pw, inv = j->inv, e = pw - 2.0f;
    float term[LBLK], wt[LBLK];
    (void)idx;
    for (size_t b = lo; b < hi; b++) {
        const size_t i0 = b * LBLK, m = j->n - i0 < LBLK ? j->n - i0 : LBLK;
        const float *yh = j->yhat + i0, *y = j->y + i0;
        const uint8_t *w = j->w ? j->w + i0 : NULL;
        float *dy = j->dyhat ? j->dyhat + i0 : NULL;
        /* the decoded weights first: the table lookup would keep the main loop scalar */
        if (w)
            for (size_t i = 0; i < m; i++) wt[i] = j->lut[w[i]];
        else
            for (size_t i = 0; i < m; i++) wt[i] = 1.0f;
        if (pw == 2.0f)
            for (size_t i = 0; i < m; i++) {
                const float d = yh[i] - y[i], wi = wt[i];
                term[i] = wi * d * d;
                if (dy) dy[i] = 2.0f * wi * d * inv;
            }
        else
            for (size_t i = 0; i < m; i++) {
                const float d = yh[i] - y[i], wi = wt[i];
                const float t = bq_fast_pow_inline(fabsf(d), e);   /* |d|^(pw-2) */
                term[i] = wi * d * d * t;
                if (dy) dy[i] = pw * wi * d * t * inv;
            }
        j->bsum[b] = bq_block_sum_f64(term, m);
    }
}

double bq_recon_loss(float *dyhat, const float *yhat, const float *y, const uint8_t *w, int n,
                     int c, int hw, float pw) {
    return bq_recon_loss_shard(dyhat, yhat, y, w, n, n, c, hw, pw);
}

double bq_recon_loss_shard(float *dyhat, const float *yhat, const float *y, const uint8_t *w,
                           int n, int n_norm, int c, int hw, float pw) {
    const size_t count = (size_t)n * c * hw, nb = (count + LBLK - 1) / LBLK;
    float lut[256];
    if (w) bq_logcode_table(lut);
    double bsum[LGROUP], sum = 0.0;
    for (size_t g0 = 0; g0 < nb; g0 += LGROUP) {
        const size_t cnt = nb - g0 < LGROUP ? nb - g0 : LGROUP, off = g0 * LBLK;
        loss_job j = {.dyhat = dyhat ? dyhat + off : NULL, .yhat = yhat + off, .y = y + off,
                      .w = w ? w + off : NULL, .lut = lut, .n = count - off, .pw = pw,
                      .inv = 1.0f / (float)((size_t)n_norm * hw), .bsum = bsum};
        bq_parallel_for(cnt, 16, loss_range, &j);
        for (size_t b = 0; b < cnt; b++) sum += bsum[b];
    }
    return sum * (double)(1.0f / (float)((size_t)n_norm * hw));
}
