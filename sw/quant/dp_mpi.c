/*
 * dp_mpi.c — see dp_mpi.h.
 *
 * The records of every rank are gathered with MPI_Iallgather (equal sizes: every rank computes
 * dp_shards / size shards), in rank order, which is shard order (bq_dp_shard_range). Waiting is
 * polite: Open MPI's blocking calls spin, which on a shared or oversubscribed machine takes the
 * core another rank needs to finish its shards; MPI_Test with a 50 us sleep costs little against
 * iterations of milliseconds.
 */
#include "quant/dp_mpi.h"

#include <limits.h>
#include <mpi.h>
#include <time.h>

#include "core/errmsg.h"

static int mpi_allgather(void *ctx, const void *send, size_t bytes, void *recv, char *err,
                         size_t errlen) {
    (void)ctx;
    if (bytes > INT_MAX) {
        bq_seterr(err, errlen, "dp: %zu bytes of gradient records per rank exceed one MPI "
                  "message; raise dp_shards", bytes);
        return -1;
    }
    MPI_Request rq;
    int rc = MPI_Iallgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
                            MPI_COMM_WORLD, &rq);
    struct timespec ts = {0, 50000};
    for (int done = 0; rc == MPI_SUCCESS && !done;) {
        rc = MPI_Test(&rq, &done, MPI_STATUS_IGNORE);
        if (!done) nanosleep(&ts, NULL);
    }
    if (rc != MPI_SUCCESS) {
        bq_seterr(err, errlen, "dp: MPI_Iallgather failed (error %d)", rc);
        return -1;
    }
    return 0;
}

void bq_dp_mpi_init(bq_dp_comm *c) {
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->allgather = mpi_allgather;
    c->ctx = NULL;
}

void bq_dp_mpi_finalize(void) { MPI_Finalize(); }

void bq_dp_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
