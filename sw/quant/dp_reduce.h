/*
 * dp_reduce.h — data-parallel reconstruction (docs/mpi_recon.md): per-shard gradient records
 * and their sum in shard order.
 *
 * With `dp_shards: S` a reconstruction minibatch of B images is split into S fixed shards of B/S
 * images. Each shard's gradients (AdaRound weight gradients as floats, activation step gradients
 * and the loss as doubles) go into one record; the records are summed in shard order 0..S-1.
 * Floating-point addition is not associative, so the order is fixed by shard, never by who
 * computed a shard: whether one process computes all S shards or R ranks compute S/R each and
 * exchange their records (the bq_dp_comm below), every rank adds the same numbers in the same
 * order and gets the same bytes.
 *
 * Pure C: the exchange itself is a function pointer (sw/quant/dp_mpi.h implements it on Open MPI).
 */
#ifndef BQ_DP_REDUCE_H
#define BQ_DP_REDUCE_H

#include <stddef.h>

/* One record: nd doubles, then nf floats, padded to a multiple of 8 bytes (records sit back to
 * back in one buffer, each double-aligned). */
typedef struct {
    size_t nd;   /* doubles: step gradients, the loss */
    size_t nf;   /* floats: weight gradients */
} bq_dp_layout;

/* Bytes of one record. */
size_t bq_dp_record_bytes(const bq_dp_layout *L);
/* The doubles and floats of record k in a buffer of records. */
double *bq_dp_rec_d(unsigned char *recs, const bq_dp_layout *L, int k);
float *bq_dp_rec_f(unsigned char *recs, const bq_dp_layout *L, int k);

/* d_out[i] = rec0.d[i] + rec1.d[i] + ... + rec(S-1).d[i], added left to right (the same for f_out,
 * in float arithmetic). S >= 1; with S = 1 the outputs are record 0's bytes. */
void bq_dp_sum(const bq_dp_layout *L, const unsigned char *recs, int S, double *d_out,
               float *f_out);

/* The shards rank r of R computes: [*lo, *hi), contiguous, S/R of them (so the records gathered
 * in rank order are in shard order). -1 when R does not divide S or r is out of range. */
int bq_dp_shard_range(int S, int R, int r, int *lo, int *hi);

/* The exchange between ranks. allgather: every rank sends `bytes` bytes and receives every
 * rank's bytes in rank order into recv (size * bytes); 0 or -1 with err. A NULL comm, or
 * size 1, is one process (no exchange). */
typedef struct {
    int rank, size;
    int (*allgather)(void *ctx, const void *send, size_t bytes, void *recv, char *err,
                     size_t errlen);
    void *ctx;
} bq_dp_comm;

/* The same int on every rank? 1 yes, 0 no, -1 exchange failed (err). A barrier as well. */
int bq_dp_agree(const bq_dp_comm *c, int v, char *err, size_t errlen);

#endif
