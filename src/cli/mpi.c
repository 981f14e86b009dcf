/* mpi.c - the Team of util/team.h over MPI (see mpi.h); compiled only in
 * the `make MPI=1` build. The one file of fmnist that calls MPI.
 *
 * Every operation works on a duplicate of MPI_COMM_WORLD, so that nothing
 * else in the process can match its messages; MPI's default error handler
 * (MPI_ERRORS_ARE_FATAL) stays, so a communication error ends the job, as
 * team.h promises. Messages above 1 GiB are split: MPI counts are ints. */
#include "cli/mpi.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest message MPI is given at once (counts are ints); the MPI test
 * program builds this file with a small one, to check the splitting. */
#ifndef MPI_CHUNK
#define MPI_CHUNK ((size_t)1 << 30)
#endif

typedef struct {
    int local;         /* not started by an MPI launcher: one rank, MPI never initialized */
    MPI_Comm comm;
    MPI_Win win;       /* the shared counter of take; MPI_WIN_NULL: the fixed deal */
    long *counter;     /* the window's memory: rank 0's holds the counter         */
    long dealt;        /* the fixed deal: how many indexes this rank has taken     */
    int *counts, *displs; /* gather_units' MPI_Allgatherv arguments, one per rank */
} MpiCtx;

static MpiCtx *ctx_of(const Team *t) { return (MpiCtx *)t->ctx; }

/* Ends the job with a message: a request MPI cannot express (a unit of
 * more than INT_MAX bytes), which no caller of fmnist makes. */
static void die(const Team *t, const char *what)
{
    fprintf(stderr, "fmnist: rank %d: %s\n", t->rank, what);
    MPI_Abort(ctx_of(t)->comm, 1);
}

static void mpi_gather_units(const Team *t, const void *mine, void *all, size_t unit, int k)
{
    MpiCtx *c = ctx_of(t);
    if (unit > INT_MAX) die(t, "gather_units: a unit of more than INT_MAX bytes");
    for (int r = 0; r < t->size; r++) {
        int j0, j1;
        team_share(k, r, t->size, &j0, &j1);
        c->counts[r] = j1 - j0;
        c->displs[r] = j0;
    }
    MPI_Datatype u;
    MPI_Type_contiguous((int)unit, MPI_BYTE, &u);
    MPI_Type_commit(&u);
    MPI_Allgatherv(mine, c->counts[t->rank], u, all, c->counts, c->displs, u, c->comm);
    MPI_Type_free(&u);
}

/* One message of at most MPI_CHUNK bytes per piece, at least one (so that an
 * empty send meets an empty receive). */
static void mpi_send(const Team *t, int to, const void *buf, size_t bytes)
{
    const char *p = buf;
    do {
        size_t n = bytes < MPI_CHUNK ? bytes : MPI_CHUNK;
        MPI_Send(p, (int)n, MPI_BYTE, to, 0, ctx_of(t)->comm);
        p += n;
        bytes -= n;
    } while (bytes);
}

static void mpi_recv(const Team *t, int from, void *buf, size_t bytes)
{
    char *p = buf;
    do {
        size_t n = bytes < MPI_CHUNK ? bytes : MPI_CHUNK;
        MPI_Recv(p, (int)n, MPI_BYTE, from, 0, ctx_of(t)->comm, MPI_STATUS_IGNORE);
        p += n;
        bytes -= n;
    } while (bytes);
}

static void mpi_bcast(const Team *t, void *buf, size_t bytes, int root)
{
    char *p = buf;
    do {
        size_t n = bytes < MPI_CHUNK ? bytes : MPI_CHUNK;
        MPI_Bcast(p, (int)n, MPI_BYTE, root, ctx_of(t)->comm);
        p += n;
        bytes -= n;
    } while (bytes);
}

static int mpi_max_int(const Team *t, int v)
{
    int m;
    MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MAX, ctx_of(t)->comm);
    return m;
}

/* A fetch-and-add on rank 0's counter, completed at once (flush): passive
 * target, so rank 0 may be computing without calling MPI meanwhile. */
static long mpi_take(const Team *t)
{
    MpiCtx *c = ctx_of(t);
    if (c->win == MPI_WIN_NULL) return (long)t->rank + (long)t->size * c->dealt++;
    const long one = 1;
    long old;
    MPI_Fetch_and_op(&one, &old, MPI_LONG, 0, 0, MPI_SUM, c->win);
    MPI_Win_flush(0, c->win);
    return old;
}

void mpi_team_poll(const Team *t)
{
    int flag;
    if (t && t->size > 1 && !ctx_of(t)->local) MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, ctx_of(t)->comm, &flag, MPI_STATUS_IGNORE);
}

static void mpi_barrier(const Team *t) { MPI_Barrier(ctx_of(t)->comm); }

/* The team of a process that no MPI launcher started (mpirun, mpiexec,
 * srun): one rank, and MPI is not initialized at all. MPI's singleton init
 * would work too, but it starts a PMIx server beside the program (half a
 * second, 9 MiB more, and no start at all under a small ulimit -f), and the
 * MPI build without mpirun is to be the plain program. */
static int launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void local_gather_units(const Team *t, const void *mine, void *all, size_t unit, int k)
{
    (void)t;
    if (k > 0) memcpy(all, mine, unit * (size_t)k);
}

static void local_point(const Team *t, int peer, const void *buf, size_t bytes)
{
    (void)buf, (void)bytes;
    fprintf(stderr, "fmnist: rank %d: a message to or from rank %d in a team of one\n", t->rank, peer);
    abort();
}

static void local_send(const Team *t, int to, const void *buf, size_t bytes) { local_point(t, to, buf, bytes); }
static void local_recv(const Team *t, int from, void *buf, size_t bytes) { local_point(t, from, buf, bytes); }
static void local_bcast(const Team *t, void *buf, size_t bytes, int root) { (void)t, (void)buf, (void)bytes, (void)root; }
static int local_max_int(const Team *t, int v) { return (void)t, v; }
static long local_take(const Team *t) { return ctx_of(t)->dealt++; }
static void local_barrier(const Team *t) { (void)t; }

/* The counter of take: one long on rank 0 (none elsewhere), set to 0, and a
 * passive-target epoch on every rank that lasts until mpi_team_end. If the
 * MPI library cannot make the window (no one-sided component for this
 * network), c->win stays MPI_WIN_NULL and take deals indexes by rank. */
static void open_counter(MpiCtx *c, int rank)
{
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    int rc = MPI_Win_allocate(rank == 0 ? (MPI_Aint)sizeof(long) : 0, (int)sizeof(long), MPI_INFO_NULL, c->comm,
                              &c->counter, &c->win);
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_ARE_FATAL);
    int ok = rc == MPI_SUCCESS, all_ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->comm);
    if (!all_ok) {
        if (ok) MPI_Win_free(&c->win);
        c->win = MPI_WIN_NULL;
        return;
    }
    if (rank == 0) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, c->win);
        *c->counter = 0;
        MPI_Win_unlock(0, c->win);
    }
    MPI_Barrier(c->comm); /* nobody takes before the counter is 0 */
    MPI_Win_lock_all(MPI_MODE_NOCHECK, c->win);
}

/* Frees c and what it holds (not the communicator's MPI objects). */
static void ctx_free(MpiCtx *c)
{
    if (!c) return;
    free(c->counts);
    free(c->displs);
    free(c);
}

/* A team of one without MPI (launched_by_mpi is 0). */
static Status local_team(Team **out, Err *e)
{
    Team *t = calloc(1, sizeof *t);
    MpiCtx *c = calloc(1, sizeof *c);
    if (!t || !c) {
        free(t);
        free(c);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the team");
    }
    c->local = 1;
    c->comm = MPI_COMM_NULL;
    c->win = MPI_WIN_NULL;
    *t = (Team){.rank = 0, .size = 1, .ctx = c, .gather_units = local_gather_units, .send = local_send,
                .recv = local_recv, .bcast = local_bcast, .max_int = local_max_int, .take = local_take,
                .barrier = local_barrier};
    *out = t;
    return ST_OK;
}

Status mpi_team_start(int *argc, char ***argv, Team **out, Err *e)
{
    *out = NULL;
    if (!launched_by_mpi()) return local_team(out, e);
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return err_set(e, ST_ERR_IO, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return err_set(e, ST_ERR_ARG, "the MPI library gives thread level %d; fmnist needs MPI_THREAD_FUNNELED",
                       provided);
    }
    Team *t = calloc(1, sizeof *t);
    MpiCtx *c = calloc(1, sizeof *c);
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (t && c) {
        c->counts = calloc((size_t)size, sizeof *c->counts);
        c->displs = calloc((size_t)size, sizeof *c->displs);
    }
    if (!t || !c || !c->counts || !c->displs) {
        free(t);
        ctx_free(c);
        MPI_Finalize();
        return err_set(e, ST_ERR_NOMEM, "out of memory for the MPI team");
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    MPI_Comm_rank(c->comm, &t->rank);
    t->size = size;
    t->ctx = c;
    t->gather_units = mpi_gather_units;
    t->send = mpi_send;
    t->recv = mpi_recv;
    t->bcast = mpi_bcast;
    t->max_int = mpi_max_int;
    t->take = mpi_take;
    t->barrier = mpi_barrier;
    open_counter(c, t->rank);
    *out = t;
    return ST_OK;
}

const char *mpi_team_take_kind(const Team *t)
{
    if (ctx_of(t)->local) return "a counter of its own (one process, no MPI launcher: MPI not started)";
    return ctx_of(t)->win != MPI_WIN_NULL ? "a shared counter (MPI one-sided)"
                                          : "a fixed deal by rank (the MPI library made no window)";
}

int mpi_team_exit_code(const Team *t, int rc)
{
    return t && t->size > 1 ? mpi_max_int(t, rc) : rc;
}

void mpi_team_end(Team *t)
{
    if (t && ctx_of(t)->local) { /* MPI was never started */
        free(t->ctx);
        free(t);
        return;
    }
    if (t) {
        MpiCtx *c = ctx_of(t);
        if (c->win != MPI_WIN_NULL) {
            MPI_Win_unlock_all(c->win);
            MPI_Win_free(&c->win);
        }
        MPI_Comm_free(&c->comm);
        ctx_free(c);
        free(t);
    }
    int init, fin;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Finalize();
}
