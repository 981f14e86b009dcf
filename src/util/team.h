/* team.h - the processes that share one job (MPI ranks), as the library sees
 * them.
 *
 * The library never calls MPI. The program hands it a Team: a table of
 * collective operations that src/cli/mpi.c implements over MPI in the
 * `make MPI=1` build (and tests/team_threads.c over threads, so that the
 * plain `make test` checks the distributed arithmetic). NULL wherever a Team
 * is taken means one process alone; every helper below accepts it.
 *
 * Every operation is collective over all ranks of the team (each rank calls
 * it, in the same order) unless it says otherwise. They do not fail: a
 * communication error ends the job (MPI's default error handler), which is
 * what a lost rank means anyway.
 *
 * The canonical order. MPI does not promise the order in which an allreduce
 * adds the ranks' contributions, so fmnist never uses one for a sum whose
 * bits matter. A batch is split into micro-batches of a fixed size (the
 * last may be shorter), each rank computes a contiguous run of them
 * (team_share), each micro-batch's sum starts from 0, and the micro-batch
 * sums are added in micro-batch index order (team_fold_*), whatever rank
 * computed them. Hence the same numbers at any rank count. */
#ifndef FMNIST_TEAM_H
#define FMNIST_TEAM_H

#include <stddef.h>

#include "util/status.h"

typedef struct Team Team;
struct Team {
    int rank, size;             /* this process, of size (>= 1)              */
    void *ctx;                  /* the implementation's                      */
    /* all = k units of unit bytes, every rank's share of them in rank
     * order: rank r sends its units team_share(k, r, size), starting at
     * mine (a rank with none sends nothing). */
    void (*gather_units)(const Team *t, const void *mine, void *all, size_t unit, int k);
    /* Point to point (not collective): to / from one rank, in order. */
    void (*send)(const Team *t, int to, const void *buf, size_t bytes);
    void (*recv)(const Team *t, int from, void *buf, size_t bytes);
    /* buf of root, to every rank. */
    void (*bcast)(const Team *t, void *buf, size_t bytes, int root);
    /* The largest v over the ranks, on every rank. */
    int (*max_int)(const Team *t, int v);
    /* NOT collective: the next index of a counter shared by the team, 0, 1,
     * 2, ... (each index is taken by exactly one rank): a work queue. */
    long (*take)(const Team *t);
    void (*barrier)(const Team *t);
};

/* The rank and the size of t; 0 and 1 for NULL (one process). */
int team_rank(const Team *t);
int team_size(const Team *t);

/* The micro-batches [*j0, *j1) of k that rank computes: contiguous runs in
 * rank order, sizes differing by at most one (k < size leaves some ranks
 * none). */
void team_share(int k, int rank, int size, int *j0, int *j1);

/* The canonical sum of float vectors (n floats each): on every rank,
 *   g = ((g + L_0) + L_1) + ... + L_{k-1}
 * where L_0 .. L_{k-1} are all ranks' leaves in rank order, rank r's being
 * leaves[0 .. nleaves) (stride floats apart). g on rank 0 is the start
 * (the other ranks' g is overwritten). A chain: rank r receives the running
 * sum from r-1, adds its leaves, passes it to r+1 (segment by segment, a
 * pipeline); the last rank's sum is broadcast. With t NULL or one rank:
 * g += each leaf, in order. */
void team_fold_floats(const Team *t, float *g, const float *leaves, int nleaves, size_t stride, size_t n);

/* The same for small double vectors (width doubles each): the k parts,
 * this rank's share (team_share) at parts, are gathered, then every rank
 * adds all k in index order, element by element:
 *   sum = ((0 + P_0) + P_1) + ... + P_{k-1}
 * scratch holds k*width doubles (unused with t NULL or one rank). */
void team_fold_doubles(const Team *t, double *sum, const double *parts, int k, int width, double *scratch);

/* Agreement on a status: if any rank's st is not ST_OK, every rank returns
 * the failure of the lowest failing rank, its message in e, prefixed
 * "rank R: " when the team has more than one rank (so rank 0, which prints,
 * can say what another rank met). ST_OK if every rank's is. */
Status team_agree(const Team *t, Status st, Err *e);

#endif
