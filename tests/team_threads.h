/* team_threads.h - a Team (util/team.h) over threads, for the Check suites:
 * the distributed arithmetic of `mpirun -np N` checked by the plain
 * `make test`, with N threads in one process standing for N ranks. */
#ifndef FMNIST_TEAM_THREADS_H
#define FMNIST_TEAM_THREADS_H

#include "util/team.h"

/* Runs fn(team, arg, rank) on n threads (1 <= n <= 16), each with its own
 * Team of rank 0 .. n-1 and size n, and waits for all. Each fn must make
 * the same collective calls in the same order (as MPI ranks must).
 * Returns 0 if every thread ran. */
int team_threads_run(int n, void (*fn)(const Team *t, void *arg, int rank), void *arg);

#endif
