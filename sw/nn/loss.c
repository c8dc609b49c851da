/*
 * loss.c — softmax cross-entropy, mean over the batch (see ops.h).
 * Numerically stable: the row max is subtracted before exp, and the loss is computed as
 * logsumexp(z) - z[label] rather than -log(prob), which would give inf when a prob underflows.
 */
#include "nn/ops.h"

#include <assert.h>
#include <math.h>

float bq_softmax_xent_forward(float *probs, const float *logits, const int *labels, int n, int k) {
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        float *p = probs + (size_t)i * k;
        float mx = z[0];
        for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
        double s = 0.0;
        for (int j = 0; j < k; j++) {
            p[j] = expf(z[j] - mx);
            s += p[j];
        }
        const float inv = (float)(1.0 / s);
        for (int j = 0; j < k; j++) p[j] *= inv;
        assert(labels[i] >= 0 && labels[i] < k && "label out of range");
        total += log(s) + mx - z[labels[i]];
    }
    return (float)(total / n);
}

void bq_softmax_xent_backward(float *dlogits, const float *probs, const int *labels, int n, int k,
                              float dloss) {
    const float scale = dloss / (float)n;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        float *d = dlogits + (size_t)i * k;
        for (int j = 0; j < k; j++) d[j] += scale * p[j];
        d[labels[i]] -= scale;
    }
}
