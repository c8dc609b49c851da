/*
 * dse_mpi.c — a sweep over Open MPI ranks (docs/dse.md "MPI"). See dse.h.
 *
 * Rank 0 is a dispatcher: units differ in cost by orders of magnitude (a 2x2 array's cost table
 * takes far longer to build than a 16x16's, mbv2t longer than fres20), so a static split would
 * leave ranks idle; instead each worker asks rank 0 for the next unit when it finishes one. The
 * workers write the point files themselves (the run folder must be on a file system every rank
 * sees, as on any cluster's shared home/scratch); rank 0 merges them, so the outputs are the same
 * bytes as a serial run's.
 *
 * Waiting is polite: Open MPI's blocking calls spin, which on a shared 2-core machine takes the
 * core a worker needs, so every wait of rank 0 (and of the workers during rank 0's preparation)
 * polls MPI_Test with a 2 ms sleep.
 */
#include "core/errmsg.h"
#include "dse/dse.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_ASK = 1, TAG_UNIT = 2, MSG = 512 };

int bq_dse_mpi_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

static void wait_politely(MPI_Request *rq, MPI_Status *st) {
    int done = 0;
    struct timespec ts = {0, 2000000};
    for (;;) {
        MPI_Test(rq, &done, st);
        if (done) return;
        nanosleep(&ts, NULL);
    }
}

/* Broadcast an int from rank 0, polling. */
static int bcast_int(int v) {
    MPI_Request rq;
    MPI_Ibcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq);
    wait_politely(&rq, MPI_STATUS_IGNORE);
    return v;
}

/* The largest of every rank's v, polling. */
static int max_int(int v) {
    int out = 0;
    MPI_Request rq;
    v = v ? 1 : 0;
    MPI_Iallreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &rq);
    wait_politely(&rq, MPI_STATUS_IGNORE);
    return out;
}

/* Rank 0: answer every worker's requests until the pending list is empty and every worker has
 * been told to stop. A worker's failure (its message arrives with its next request) stops the
 * handing out; the first one is returned. */
static int dispatch(const bq_dse *d, int size, char *err, size_t errlen) {
    int *todo = malloc(sizeof(int) * (size_t)(d->n_units ? d->n_units : 1)), n_todo = 0, next = 0;
    if (!todo) { bq_seterr(err, errlen, "dse: out of memory"); return -1; }
    for (int u = 0; u < d->n_units; u++)
        if (!bq_dse_unit_done(d, u)) todo[n_todo++] = u;
    fprintf(stderr, "dse: %d units to run over %d worker ranks (%d finished earlier)\n", n_todo,
            size - 1, d->n_models * d->n_valid - n_todo);
    int stopped = 0, failed = 0;
    char msg[MSG];
    while (stopped < size - 1) {
        MPI_Request rq;
        MPI_Status st;
        MPI_Irecv(msg, MSG, MPI_CHAR, MPI_ANY_SOURCE, TAG_ASK, MPI_COMM_WORLD, &rq);
        wait_politely(&rq, &st);
        msg[MSG - 1] = 0;
        if (msg[0] && !failed) {
            failed = 1;
            bq_seterr(err, errlen, "%s (rank %d)", msg, st.MPI_SOURCE);
        }
        int u = failed || next >= n_todo ? -1 : todo[next++];
        MPI_Send(&u, 1, MPI_INT, st.MPI_SOURCE, TAG_UNIT, MPI_COMM_WORLD);
        if (u < 0) stopped++;
        else fprintf(stderr, "dse: unit %d/%d %s on %s -> rank %d\n", next, n_todo,
                     d->models[u / d->n_cfg].label, d->cfgs[u % d->n_cfg].cfg.name, st.MPI_SOURCE);
    }
    free(todo);
    return failed ? -1 : 0;
}

/* Ranks >= 1: ask, run, ask again with the last unit's outcome ("" = fine). */
static void work(const bq_dse *d, int rank) {
    char msg[MSG] = "";
    for (;;) {
        int u;
        MPI_Send(msg, MSG, MPI_CHAR, 0, TAG_ASK, MPI_COMM_WORLD);
        MPI_Recv(&u, 1, MPI_INT, 0, TAG_UNIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (u < 0) return;
        double s;
        msg[0] = 0;
        if (bq_dse_run_unit(d, u, &s, msg, sizeof msg) == 0)
            fprintf(stderr, "dse[%d]: %s on %s: %.2f s\n", rank, d->models[u / d->n_cfg].label,
                    d->cfgs[u % d->n_cfg].cfg.name, s);
        else if (!msg[0]) snprintf(msg, sizeof msg, "dse: unit %d failed", u);
    }
}

/* More worker ranks than units is a usage error (the extra ranks would only wait). */
static int check_ranks(const bq_dse_spec *s, int size, char *err, size_t errlen) {
    bq_hwcfg base;
    bq_dse_config *cfgs;
    int n, valid = 0;
    char e2[768];
    if (bq_hwcfg_load(&base, s->base, e2, sizeof e2)) {
        bq_seterr(err, errlen, "%s: 'base': %s", s->path, e2);
        return -1;
    }
    if (bq_dse_expand(s, &base, &cfgs, &n, err, errlen)) return -1;
    for (int c = 0; c < n; c++) valid += cfgs[c].valid;
    free(cfgs);
    int points = valid * s->n_models;
    if (size - 1 > points) {
        bq_seterr(err, errlen, "mpirun -np %d: %d worker ranks (rank 0 only hands out work) for %d "
                  "points of %s; use -np %d or fewer", size, size - 1, points, s->path, points + 1);
        return -1;
    }
    return 0;
}

int bq_dse_mpi_run(bq_dse *d, const bq_dse_spec *s, int *is_root, char *err, size_t errlen) {
    int rank = 0, size = 1;
    memset(d, 0, sizeof *d);
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    *is_root = rank == 0;
    err[0] = 0;
    int rc;
    if (size == 1) {
        rc = bq_dse_prepare(d, s, err, errlen);
        if (rc == 0) rc = bq_dse_run_serial(d, err, errlen);
        MPI_Finalize();
        return rc;
    }
    /* every rank decides the same (same files); only rank 0 speaks */
    rc = check_ranks(s, size, err, errlen);
    if (rc == 0) {
        if (rank == 0) rc = bq_dse_prepare(d, s, err, errlen);   /* measures, fills the cache */
        rc = bcast_int(rc);
        if (rank != 0) err[0] = 0;
        if (rank != 0 && rc == 0) rc = bq_dse_prepare(d, s, err, errlen);   /* reads the cache */
        int any = max_int(rc);   /* a worker that cannot prepare stops everyone */
        if (any && !rc && rank == 0)
            bq_seterr(err, errlen, "dse: a worker rank could not prepare the sweep (its message is "
                      "above)");
        rc = any;
    } else if (rank != 0) err[0] = 0;
    if (rc == 0) {
        if (rank == 0) {
            rc = dispatch(d, size, err, errlen);
            if (rc == 0) rc = bq_dse_merge(d, err, errlen);
        } else work(d, rank);
    }
    MPI_Finalize();
    return rc ? -1 : 0;
}
