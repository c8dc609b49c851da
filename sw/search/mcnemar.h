/*
 * mcnemar.h — McNemar's test for two classifiers evaluated on the same images (paired).
 *
 * Only the discordant pairs matter: b = images A gets right and B gets wrong, c = the reverse.
 * Under H0 (both classifiers equally accurate) b ~ Binomial(b + c, 1/2).
 *   - b + c <  BQ_MCNEMAR_EXACT_BELOW: exact two-sided binomial test,
 *         p = min(1, 2 * sum_{i=0}^{min(b,c)} C(b+c, i) / 2^(b+c))
 *   - otherwise: chi-square with 1 degree of freedom and Edwards' continuity correction,
 *         chi2 = (|b - c| - 1)^2 / (b + c),   p = erfc(sqrt(chi2 / 2))
 *   - b + c = 0: p = 1 (no evidence either way).
 *
 * Example:
 *   bq_mcnemar m;
 *   bq_mcnemar_test(&m, labels, pred_mixed, pred_uniform, 10000);
 *   printf("mixed %d vs uniform %d correct, p = %.3g (%s)\n", m.a_correct, m.b_correct, m.p_value,
 *          m.exact ? "exact" : "chi2");
 */
#ifndef BQ_MCNEMAR_H
#define BQ_MCNEMAR_H

#include <stdint.h>

#include "core/fileio.h"

/* Discordant counts below this use the exact binomial test. */
#define BQ_MCNEMAR_EXACT_BELOW 25

typedef struct {
    int n;            /* paired images */
    int a_correct;    /* images classifier A got right */
    int b_correct;    /* images classifier B got right */
    int b;            /* A right, B wrong */
    int c;            /* A wrong, B right */
    double statistic; /* chi2 (continuity-corrected) or, for the exact test, min(b, c) */
    double p_value;   /* two-sided */
    int exact;        /* 1 when the exact binomial test was used */
} bq_mcnemar;

/* McNemar's test from the discordant counts b, c (>= 0). Fills every field but n/a/b_correct. */
void bq_mcnemar_from_counts(bq_mcnemar *m, int b, int c);

/* McNemar's test on paired per-image predictions: labels[i], pred_a[i], pred_b[i] for i < n. */
void bq_mcnemar_test(bq_mcnemar *m, const int32_t *labels, const int32_t *pred_a,
                     const int32_t *pred_b, int n);

/* Two-sided exact binomial p-value for k successes out of n at p = 1/2:
 * min(1, 2 * P(X <= min(k, n-k))). */
double bq_binom_two_sided_half(int k, int n);

/* One row of docs/mixed_precision.json (issue 8 acceptance): the searched (mixed) allocation vs
 * the best uniform allocation that fits the same budget, compared paired on the same images. */
typedef struct {
    char model[32];
    int64_t budget_cycles;
    int64_t mixed_cycles;
    double mixed_top1;          /* % */
    char uniform_setting[16];   /* e.g. "W2A3" */
    int64_t uniform_cycles;
    double uniform_top1;        /* % */
    double p_value;             /* McNemar, mixed vs uniform */
} bq_mp_row;

/* Fill the accuracy fields of r from paired predictions (A = mixed, B = uniform): top-1 in % and
 * McNemar's p-value; the other fields are the caller's. m (may be NULL) receives the test. */
void bq_mp_row_compare(bq_mp_row *r, const int32_t *labels, const int32_t *pred_mixed,
                       const int32_t *pred_uniform, int n, bq_mcnemar *m);

/* Append rows[0..n) as a JSON list of objects with the keys "model", "budget_cycles",
 * "mixed_cycles", "mixed_top1", "uniform_setting", "uniform_cycles", "uniform_top1", "p_value". */
void bq_mp_rows_json(const bq_mp_row *rows, int n, bq_buf *out);

#endif
