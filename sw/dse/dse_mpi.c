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

/* One round of dynamic dispatch: the units (phase 0) or the accuracy jobs (phase 1). Every rank
 * builds the same round (the accuracy jobs from the same point files), so only indices travel. */
typedef struct {
    const bq_dse *d;
    const bq_dse_acc *acc;     /* phase 1 */
    const bq_dse_synth *syn;   /* phase 2 */
    int phase, n;
} round_t;

static const char *const kRound[] = {"units", "accuracy jobs", "synthesis jobs"};

static int item_done(const round_t *r, int i) {
    return r->phase == 0 ? bq_dse_unit_done(r->d, i)
         : r->phase == 1 ? bq_dse_acc_done(r->d, r->acc, i) : bq_dse_synth_done(r->d, r->syn, i);
}

static int item_run(const round_t *r, int i, double *s, char *msg, size_t n) {
    return r->phase == 0 ? bq_dse_run_unit(r->d, i, s, msg, n)
         : r->phase == 1 ? bq_dse_acc_run(r->d, r->acc, i, s, msg, n)
                         : bq_dse_synth_run(r->d, r->syn, i, s, msg, n);
}

static void item_name(const round_t *r, int i, char *buf, size_t n) {
    const bq_dse *d = r->d;
    if (r->phase == 0)
        snprintf(buf, n, "%s on %s", d->models[i / d->n_cfg].label, d->cfgs[i % d->n_cfg].cfg.name);
    else if (r->phase == 1)
        snprintf(buf, n, "accuracy %s %s", d->models[r->acc->jobs[i].model].label, r->acc->jobs[i].alloc);
    else
        snprintf(buf, n, "synthesis %s", d->cfgs[r->syn->cfg[i]].cfg.name);
}

/* Rank 0: answer every worker's requests until the pending list is empty and every worker has
 * been told to stop. A worker's failure (its message arrives with its next request) stops the
 * handing out; the first one is returned. */
static int dispatch(const round_t *r, int size, char *err, size_t errlen) {
    int *todo = malloc(sizeof(int) * (size_t)(r->n ? r->n : 1)), n_todo = 0, next = 0;
    if (!todo) { bq_seterr(err, errlen, "dse: out of memory"); return -1; }
    for (int i = 0; i < r->n; i++)
        if (!item_done(r, i)) todo[n_todo++] = i;
    fprintf(stderr, "dse: %d %s to run over %d worker ranks (%d finished earlier)\n", n_todo,
            kRound[r->phase], size - 1,
            (r->phase == 0 ? r->d->n_models * r->d->n_valid : r->n) - n_todo);
    int stopped = 0, failed = 0;
    char msg[MSG], name[160];
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
        if (u < 0) { stopped++; continue; }
        item_name(r, u, name, sizeof name);
        fprintf(stderr, "dse: %s %d/%d %s -> rank %d\n", r->phase == 0 ? "unit" : "job", next,
                n_todo, name, st.MPI_SOURCE);
    }
    free(todo);
    return failed ? -1 : 0;
}

/* Ranks >= 1: ask, run, ask again with the last item's outcome ("" = fine). */
static void work(const round_t *r, int rank) {
    char msg[MSG] = "", name[160];
    for (;;) {
        int u;
        MPI_Send(msg, MSG, MPI_CHAR, 0, TAG_ASK, MPI_COMM_WORLD);
        MPI_Recv(&u, 1, MPI_INT, 0, TAG_UNIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (u < 0) return;
        double s = 0;
        msg[0] = 0;
        item_name(r, u, name, sizeof name);
        if (item_run(r, u, &s, msg, sizeof msg) == 0) fprintf(stderr, "dse[%d]: %s: %.2f s\n", rank, name, s);
        else if (!msg[0]) snprintf(msg, sizeof msg, "dse: %s failed", name);
    }
}

/* One round on every rank: rank 0 dispatches, the others work; afterwards every rank knows
 * whether it succeeded (the next round reads what this one wrote, so it starts only then). */
static int run_round(const round_t *r, int rank, int size, char *err, size_t errlen) {
    int rc = 0;
    if (rank == 0) rc = dispatch(r, size, err, errlen);
    else work(r, rank);
    return bcast_int(rc);
}

/* The accuracy round: every rank plans the same jobs from the finished point files. */
static int acc_round(const bq_dse *d, int rank, int size, char *err, size_t errlen) {
    if (!d->spec.brecq_recipe[0]) return 0;
    bq_dse_row *rows;
    int n, rc = bq_dse_collect(d, &rows, &n, err, errlen);
    bq_dse_acc a = {0};
    if (rc == 0) { rc = bq_dse_acc_plan(d, rows, n, &a, err, errlen); free(rows); }
    if (max_int(rc)) {   /* the same files everywhere: rank 0 has the message */
        bq_dse_acc_free(&a);
        if (rank == 0 && !rc) bq_seterr(err, errlen, "dse: a worker rank could not plan the accuracy phase");
        return -1;
    }
    round_t r = {d, &a, NULL, 1, a.n};
    rc = run_round(&r, rank, size, err, errlen);
    bq_dse_acc_free(&a);
    return rc;
}

/* The synthesis round: every rank plans the same configs from the finished point files. */
static int synth_round(const bq_dse *d, int rank, int size, char *err, size_t errlen) {
    if (d->spec.synth_rows == BQ_DSE_ROWS_NONE) return 0;
    bq_dse_row *rows;
    int n, rc = bq_dse_collect(d, &rows, &n, err, errlen);
    bq_dse_synth sy = {0};
    if (rc == 0) { rc = bq_dse_synth_plan(d, rows, n, &sy, err, errlen); free(rows); }
    if (max_int(rc)) {
        bq_dse_synth_free(&sy);
        if (rank == 0 && !rc) bq_seterr(err, errlen, "dse: a worker rank could not plan the synthesis phase");
        return -1;
    }
    round_t r = {d, NULL, &sy, 2, sy.n};
    rc = run_round(&r, rank, size, err, errlen);
    bq_dse_synth_free(&sy);
    return rc;
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
        if (rc == 0) rc = bq_dse_run_serial(d, err, errlen);   /* units, accuracy, merge */
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
    round_t units = {d, NULL, NULL, 0, d->n_units};
    if (rc == 0) rc = run_round(&units, rank, size, err, errlen);
    if (rc == 0) rc = acc_round(d, rank, size, err, errlen);
    if (rc == 0) rc = synth_round(d, rank, size, err, errlen);
    if (rc == 0 && rank == 0) rc = bq_dse_merge(d, err, errlen);
    MPI_Finalize();
    return rc ? -1 : 0;
}
