/*
 * dse_pareto.c — the non-dominated set of a list of points (every objective minimised). See dse.h.
 * Quadratic: a sweep has thousands of points per model, not millions, and the plain double loop
 * is the definition a reader can check.
 */
#include "dse/dse.h"

/* 1 when a dominates b: no worse in every objective and better in one. */
static int dominates(const double *a, const double *b, int k) {
    int better = 0;
    for (int j = 0; j < k; j++) {
        if (a[j] > b[j]) return 0;
        if (a[j] < b[j]) better = 1;
    }
    return better;
}

void bq_dse_pareto(int n, int k, const double *x, int *front) {
    for (int i = 0; i < n; i++) {
        front[i] = 1;
        for (int j = 0; j < n && front[i]; j++)
            if (j != i && dominates(x + (size_t)j * k, x + (size_t)i * k, k)) front[i] = 0;
    }
}
