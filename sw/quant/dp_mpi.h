/*
 * dp_mpi.h — the exchange of the data-parallel reconstruction (dp_reduce.h) on Open MPI
 * (docs/mpi_recon.md). Only dp_mpi.c includes <mpi.h>; only the brecq binaries link libmpi.
 */
#ifndef BQ_DP_MPI_H
#define BQ_DP_MPI_H

#include "quant/dp_reduce.h"

/* MPI_Init and a comm over MPI_COMM_WORLD (rank, size, allgather). Call once, when the process
 * was started by mpirun / srun. */
void bq_dp_mpi_init(bq_dp_comm *c);
/* MPI_Finalize. */
void bq_dp_mpi_finalize(void);
/* A failed rank stops the job (the other ranks would wait in the next exchange forever). */
void bq_dp_mpi_abort(int code);

#endif
