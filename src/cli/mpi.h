/* mpi.h - the Team (util/team.h) over MPI, for the `make MPI=1` build.
 *
 * Only this pair of files calls MPI, and they are compiled only with
 * FMNIST_MPI (the Makefile leaves src/cli/mpi.c out of the plain build).
 * main.c starts the team before it dispatches a command and ends it after.
 * Run without mpirun the team has one rank, MPI is not even initialized, and
 * the program behaves as the plain build does. */
#ifndef FMNIST_CLI_MPI_H
#define FMNIST_CLI_MPI_H

#include "util/status.h"
#include "util/team.h"

/* Started by an MPI launcher (mpirun, mpiexec, srun: its rank variables
 * OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or PMI_SIZE are set):
 * MPI_Init_thread (MPI_THREAD_FUNNELED: only the main thread calls MPI, the
 * OpenMP threads never do) and a Team over a duplicate of MPI_COMM_WORLD:
 * its gather_units is MPI_Allgatherv, send/recv MPI_Send/MPI_Recv (split
 * into messages of at most 1 GiB), bcast MPI_Bcast (split likewise),
 * max_int an MPI_Allreduce (MPI_MAX), barrier MPI_Barrier, and take a
 * fetch-and-add on a counter in a window on rank 0 (passive target: rank 0
 * need not call MPI for the others to take; where the MPI library has no
 * one-sided component for the ranks' network, take falls back to a fixed
 * deal, rank r taking r, r + size, r + 2 size, ..., which still gives each
 * index to exactly one rank). Otherwise a team of one rank without MPI
 * (MPI's singleton init would start a PMIx server beside the program).
 * *out is the team (free it with mpi_team_end).
 * On failure (the MPI library refused the thread level, or no memory)
 * returns the status with its message in e; MPI is then finalized. */
Status mpi_team_start(int *argc, char ***argv, Team **out, Err *e);

/* NOT collective, cheap (an MPI_Iprobe): lets the MPI library make progress
 * on this rank. Rank 0 holds take's counter, and with some one-sided
 * components (Open MPI's osc pt2pt and osc ucx, which serve ranks on other
 * hosts over TCP) the others' takes wait until rank 0 calls MPI; a rank busy
 * computing calls this now and then (the CLI does each batch:
 * cli_team_poll), so a take waits at most that long. */
void mpi_team_poll(const Team *t);

/* How take works on this team: "a shared counter (MPI one-sided)" or "a
 * fixed deal by rank (the MPI library made no window)". For messages. */
const char *mpi_team_take_kind(const Team *t);

/* Collective: the exit status every rank should exit with: the largest of
 * the ranks' rc (so that a failure on any rank is the job's, and mpirun
 * sees the same status from every rank). rc itself with one rank. */
int mpi_team_exit_code(const Team *t, int rc);

/* Collective: frees the team's window and communicator and finalizes MPI.
 * t may be NULL (nothing to free; MPI is finalized if it was started). */
void mpi_team_end(Team *t);

#endif
