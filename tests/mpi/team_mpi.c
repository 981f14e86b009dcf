/* team_mpi.c - checks of the Team over MPI (src/cli/mpi.c), run by
 * tests/mpi/run.sh under mpirun with 1, 2 and 3 ranks: each operation
 * against the values it must give, the canonical folds bit-identical to the
 * serial sum, the agreement naming the lowest failing rank, and the shared
 * counter of take: each index to exactly one rank, and taken while rank 0
 * computes without calling MPI (passive target), or (with "poll") calling
 * only mpi_team_poll every 10 ms.
 *
 * It links a copy of mpi.c built with 1000-byte message pieces, so that
 * the splitting of long messages is exercised by short ones. Every rank
 * prints "FAIL ..." lines for what it found wrong; rank 0 prints "ok ..."
 * for each check; the exit status is 1 on every rank if any rank failed.
 *
 *   team_mpi [BUSY_SECONDS [poll]]   (how long rank 0 computes in the take check; 2) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/mpi.h"

static int failures;

static void check(const Team *t, int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAIL rank %d: %s\n", t->rank, what);
        failures++;
    }
}

/* After each check: every rank learns whether any failed; rank 0 prints. */
static void report(const Team *t, const char *what)
{
    int bad = t->max_int(t, failures);
    if (t->rank == 0) printf("%s %s (%d rank%s)\n", bad ? "FAILED" : "ok", what, t->size, t->size == 1 ? "" : "s");
    fflush(stdout);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned char pattern(int from, size_t i) { return (unsigned char)(i * 131 + (size_t)from * 7 + 3); }

/* A ring of 10007-byte messages (11 pieces of at most 1000) and empty ones. */
static void check_send_recv(const Team *t)
{
    enum { LEN = 10007 };
    static unsigned char out[LEN], in[LEN];
    if (t->size == 1) return;
    const int to = (t->rank + 1) % t->size, from = (t->rank + t->size - 1) % t->size;
    for (size_t i = 0; i < LEN; i++) out[i] = pattern(t->rank, i);
    if (t->rank % 2 == 0) {
        t->send(t, to, out, LEN);
        t->send(t, to, out, 0);
        t->recv(t, from, in, LEN);
        t->recv(t, from, in, 0);
    } else {
        t->recv(t, from, in, LEN);
        t->recv(t, from, in, 0);
        t->send(t, to, out, LEN);
        t->send(t, to, out, 0);
    }
    int same = 1;
    for (size_t i = 0; i < LEN; i++) same &= in[i] == pattern(from, i);
    check(t, same, "send/recv: 10007 bytes from the previous rank arrive whole");
}

static void check_bcast(const Team *t)
{
    enum { LEN = 5003 };
    static unsigned char buf[LEN];
    const int root = t->size - 1;
    for (size_t i = 0; i < LEN; i++) buf[i] = t->rank == root ? pattern(root, i) : 0;
    t->bcast(t, buf, LEN, root);
    int same = 1;
    for (size_t i = 0; i < LEN; i++) same &= buf[i] == pattern(root, i);
    check(t, same, "bcast: 5003 bytes from the last rank");
}

/* k units of 3 doubles, unit j = (j, 10 j, 100 j); k < size leaves ranks none. */
static void check_gather(const Team *t, int k)
{
    double mine[64 * 3], all[64 * 3];
    int j0, j1;
    team_share(k, t->rank, t->size, &j0, &j1);
    for (int j = j0; j < j1; j++)
        for (int c = 0; c < 3; c++) mine[(j - j0) * 3 + c] = j * pow(10, c);
    memset(all, 0, sizeof all);
    t->gather_units(t, mine, all, 3 * sizeof(double), k);
    int same = 1;
    for (int j = 0; j < k; j++)
        for (int c = 0; c < 3; c++) same &= all[j * 3 + c] == j * pow(10, c);
    char what[80];
    snprintf(what, sizeof what, "gather_units: %d units in rank order", k);
    check(t, same, what);
}

static void check_max(const Team *t)
{
    check(t, t->max_int(t, 3 * t->rank - 5) == 3 * (t->size - 1) - 5, "max_int: the largest over the ranks");
}

/* The canonical fold of leaves whose sum depends on the order of the adds. */
enum { K = 7, N = 33 };
static float leaf_value(int j, int i) { return j == 0 ? 1e8f : j == 1 ? -1e8f : 0.3f + 0.01f * (float)i + 0.001f * (float)j; }

static void check_fold(const Team *t)
{
    float want[N], g[N], leaves[K][N];
    int j0, j1;
    team_share(K, t->rank, t->size, &j0, &j1);
    for (int i = 0; i < N; i++) {
        want[i] = 0.5f;
        for (int j = 0; j < K; j++) want[i] += leaf_value(j, i);
        g[i] = t->rank == 0 ? 0.5f : NAN;
    }
    for (int j = j0; j < j1; j++)
        for (int i = 0; i < N; i++) leaves[j - j0][i] = leaf_value(j, i);
    team_fold_floats(t, g, &leaves[0][0], j1 - j0, N, N);
    check(t, !memcmp(g, want, sizeof g), "team_fold_floats: the serial sum's bits on every rank");
    double parts[K][2], sum[2], scratch[K * 2], dwant[2] = {0, 0};
    for (int j = 0; j < K; j++)
        for (int c = 0; c < 2; c++) {
            double v = j == 0 ? 1e17 : j == 1 ? -1e17 : 0.1 * j + c;
            dwant[c] += v;
            if (j >= j0 && j < j1) parts[j - j0][c] = v;
        }
    team_fold_doubles(t, sum, &parts[0][0], K, 2, scratch);
    check(t, !memcmp(sum, dwant, sizeof sum), "team_fold_doubles: the serial sum's bits on every rank");
}

/* The last rank and the one before fail; everyone hears of the lower. */
static void check_agree(const Team *t)
{
    Err e = {{0}};
    Status st = ST_OK;
    const int low = t->size >= 2 ? t->size - 2 : 0;
    if (t->rank >= low) st = err_set(&e, t->rank == low ? ST_ERR_IO : ST_ERR_FORMAT, "trouble at rank %d", t->rank);
    Status got = team_agree(t, st, &e);
    char want[64];
    if (t->size > 1) snprintf(want, sizeof want, "rank %d: trouble at rank %d", low, low);
    else snprintf(want, sizeof want, "trouble at rank 0");
    check(t, got == ST_ERR_IO && !strcmp(e.msg, want), "team_agree: the lowest failing rank's status and message");
    Err ok = {{0}};
    check(t, team_agree(t, ST_OK, &ok) == ST_OK, "team_agree: ST_OK when no rank failed");
}

/* Rank 0 computes for busy seconds without calling MPI while the others
 * take PER indexes each; then all take until the queue is past its end.
 * Every index below the end must have been taken once, and the others must
 * not have waited for rank 0 (passive target). */
static void check_take(const Team *t, double busy, int poll)
{
    const int PER = poll ? 10 : 200; /* polled: a take may wait one poll (10 ms, longer oversubscribed) */
    const long end = (long)PER * (t->size > 1 ? t->size - 1 : 1);
    long *mine = malloc((size_t)(end + 1) * sizeof *mine);
    int n = 0;
    double t0 = 0, took = 0;
    t->barrier(t);
    t0 = now();
    if (t->rank == 0 && t->size > 1) {
        volatile double x = 1;
        for (double last = t0; now() - t0 < busy;) {
            x = x * 1.0000001 + 1e-9; /* compute, no MPI ... */
            if (poll && now() - last > 0.01) { /* ... but with poll, a progress call every 10 ms */
                mpi_team_poll(t);
                last = now();
            }
        }
    }
    for (long k; (k = t->take(t)) < end;) mine[n++] = k;
    took = now() - t0;
    /* rank 0 gathers the indexes: one count and one list per rank */
    int ok = 1;
    if (t->rank == 0) {
        char *seen = calloc((size_t)end, 1);
        long *buf = malloc((size_t)(end + 1) * sizeof *buf);
        for (int i = 0; i < n; i++) seen[mine[i]]++;
        for (int r = 1; r < t->size; r++) {
            int m;
            t->recv(t, r, &m, sizeof m);
            t->recv(t, r, buf, (size_t)m * sizeof *buf);
            for (int i = 0; i < m; i++) ok &= buf[i] >= 0 && buf[i] < end && !seen[buf[i]]++;
        }
        for (long k = 0; k < end; k++) ok &= seen[k] == 1;
        free(seen);
        free(buf);
    } else {
        t->send(t, 0, &n, sizeof n);
        t->send(t, 0, mine, (size_t)n * sizeof *mine);
    }
    check(t, ok, "take: each index of the queue to exactly one rank");
    if (getenv("TEAM_MPI_VERBOSE"))
        fprintf(stderr, "rank %d: took %d indexes in %.3f s through %s\n", t->rank, n, took, mpi_team_take_kind(t));
    if (t->size > 1 && t->rank > 0) {
        char what[160];
        snprintf(what, sizeof what,
                 "take: progress while rank 0 computes: this rank's %d takes took %.2f s, rank 0 was busy %.1f s", n,
                 took, busy);
        check(t, took < 0.5 * busy, what);
    }
    free(mine);
}

int main(int argc, char **argv)
{
    Team *t;
    Err e;
    if (mpi_team_start(&argc, &argv, &t, &e)) {
        fprintf(stderr, "team_mpi: %s\n", e.msg);
        return 1;
    }
    double busy = argc > 1 ? atof(argv[1]) : 2.0;
    check(t, t->size >= 1 && t->rank >= 0 && t->rank < t->size, "rank and size");
    report(t, "rank and size");
    check_send_recv(t);
    report(t, "send/recv in 1000-byte pieces, and empty messages");
    check_bcast(t);
    report(t, "bcast");
    for (int k = 0; k <= 9; k += 3) check_gather(t, k);
    report(t, "gather_units (0, 3, 6, 9 units)");
    check_max(t);
    report(t, "max_int");
    check_fold(t);
    report(t, "canonical folds, bit-identical to the serial sums");
    check_agree(t);
    report(t, "team_agree");
    const int poll = argc > 2 && !strcmp(argv[2], "poll");
    check_take(t, busy, poll);
    report(t, poll ? "take: a shared counter, rank 0 computing and polling every 10 ms"
                   : "take: a shared counter, rank 0 computing without MPI calls");
    int rc = mpi_team_exit_code(t, failures ? 1 : 0);
    mpi_team_end(t);
    return rc;
}
