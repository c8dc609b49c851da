/*
 * mcnemar.c — McNemar's test (see mcnemar.h).
 */
#include "search/mcnemar.h"

#include <math.h>
#include <string.h>

double bq_binom_two_sided_half(int k, int n) {
    if (n <= 0) return 1.0;
    int m = k < n - k ? k : n - k;
    /* sum_{i<=m} C(n,i) 2^-n, terms in log space (n up to millions stays finite) */
    double ln2n = n * log(2.0), s = 0;
    for (int i = 0; i <= m; i++)
        s += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - ln2n);
    double p = 2.0 * s;
    return p > 1.0 ? 1.0 : p;
}

void bq_mcnemar_from_counts(bq_mcnemar *m, int b, int c) {
    m->b = b;
    m->c = c;
    int d = b + c;
    if (d == 0) {
        m->statistic = 0;
        m->p_value = 1.0;
        m->exact = 1;
        return;
    }
    if (d < BQ_MCNEMAR_EXACT_BELOW) {
        m->exact = 1;
        m->statistic = b < c ? b : c;
        m->p_value = bq_binom_two_sided_half(b, d);
        return;
    }
    m->exact = 0;
    double t = fabs((double)b - (double)c) - 1.0;
    if (t < 0) t = 0;
    m->statistic = t * t / d;
    m->p_value = erfc(sqrt(m->statistic / 2.0));
}

void bq_mcnemar_test(bq_mcnemar *m, const int32_t *labels, const int32_t *pred_a,
                     const int32_t *pred_b, int n) {
    memset(m, 0, sizeof *m);
    int b = 0, c = 0;
    for (int i = 0; i < n; i++) {
        int ra = pred_a[i] == labels[i], rb = pred_b[i] == labels[i];
        m->a_correct += ra;
        m->b_correct += rb;
        b += ra && !rb;
        c += !ra && rb;
    }
    m->n = n;
    bq_mcnemar_from_counts(m, b, c);
}

void bq_mp_row_compare(bq_mp_row *r, const int32_t *labels, const int32_t *pred_mixed,
                       const int32_t *pred_uniform, int n, bq_mcnemar *m) {
    bq_mcnemar t;
    bq_mcnemar_test(&t, labels, pred_mixed, pred_uniform, n);
    r->mixed_top1 = n > 0 ? 100.0 * t.a_correct / n : 0;
    r->uniform_top1 = n > 0 ? 100.0 * t.b_correct / n : 0;
    r->p_value = t.p_value;
    if (m) *m = t;
}

/* names are identifiers; drop what would break a JSON string */
static void json_name(bq_buf *b, const char *s) {
    bq_buf_put(b, "\"", 1);
    for (; *s; s++)
        if (*s != '"' && *s != '\\' && (unsigned char)*s >= 32) bq_buf_put(b, s, 1);
    bq_buf_put(b, "\"", 1);
}

void bq_mp_rows_json(const bq_mp_row *rows, int n, bq_buf *out) {
    bq_buf_printf(out, "[");
    for (int i = 0; i < n; i++) {
        const bq_mp_row *r = &rows[i];
        bq_buf_printf(out, "%s\n  {\"model\": ", i ? "," : "");
        json_name(out, r->model);
        bq_buf_printf(out, ", \"budget_cycles\": %lld, \"mixed_cycles\": %lld, \"mixed_top1\": %.4f, "
                      "\"uniform_setting\": ", (long long)r->budget_cycles,
                      (long long)r->mixed_cycles, r->mixed_top1);
        json_name(out, r->uniform_setting);
        bq_buf_printf(out, ", \"uniform_cycles\": %lld, \"uniform_top1\": %.4f, \"p_value\": %.6g}",
                      (long long)r->uniform_cycles, r->uniform_top1, r->p_value);
    }
    bq_buf_printf(out, "%s]\n", n ? "\n" : "");
}
