/* dp_reduce.c — see dp_reduce.h. */
#include "quant/dp_reduce.h"

#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"

size_t bq_dp_record_bytes(const bq_dp_layout *L) {
    size_t b = L->nd * sizeof(double) + L->nf * sizeof(float);
    return (b + 7) & ~(size_t)7;
}

double *bq_dp_rec_d(unsigned char *recs, const bq_dp_layout *L, int k) {
    return (double *)(void *)(recs + (size_t)k * bq_dp_record_bytes(L));
}

float *bq_dp_rec_f(unsigned char *recs, const bq_dp_layout *L, int k) {
    return (float *)(void *)(recs + (size_t)k * bq_dp_record_bytes(L) + L->nd * sizeof(double));
}

void bq_dp_sum(const bq_dp_layout *L, const unsigned char *recs, int S, double *d_out,
               float *f_out) {
    unsigned char *r = (unsigned char *)recs;   /* read only */
    memcpy(d_out, bq_dp_rec_d(r, L, 0), L->nd * sizeof(double));
    memcpy(f_out, bq_dp_rec_f(r, L, 0), L->nf * sizeof(float));
    /* shard by shard, so each element is ((s0 + s1) + s2) + ...: the one order every rank uses */
    for (int k = 1; k < S; k++) {
        const double *d = bq_dp_rec_d(r, L, k);
        const float *f = bq_dp_rec_f(r, L, k);
        for (size_t i = 0; i < L->nd; i++) d_out[i] += d[i];
        for (size_t i = 0; i < L->nf; i++) f_out[i] += f[i];
    }
}

int bq_dp_shard_range(int S, int R, int r, int *lo, int *hi) {
    if (S < 1 || R < 1 || S % R != 0 || r < 0 || r >= R) return -1;
    *lo = r * (S / R);
    *hi = *lo + S / R;
    return 0;
}

int bq_dp_agree(const bq_dp_comm *c, int v, char *err, size_t errlen) {
    if (!c || c->size <= 1) return 1;
    int *all = malloc(sizeof(int) * (size_t)c->size);
    if (!all) { bq_seterr(err, errlen, "out of memory"); return -1; }
    int rc = 1;
    if (c->allgather(c->ctx, &v, sizeof v, all, err, errlen)) rc = -1;
    for (int k = 0; k < c->size && rc == 1; k++)
        if (all[k] != v) rc = 0;
    free(all);
    return rc;
}
