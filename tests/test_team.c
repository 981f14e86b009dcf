/* test_team.c - util/team.c and the thread Team the other suites use: the
 * shares, the canonical folds (the same bits at any rank count), the
 * agreement on a failure, the queue. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "team_threads.h"

START_TEST(test_share)
{
    int j0, j1, total = 0, prev = 0;
    for (int r = 0; r < 3; r++) {
        team_share(7, r, 3, &j0, &j1);
        ck_assert_int_eq(j0, prev); /* contiguous, in rank order */
        ck_assert(j1 - j0 == 2 || j1 - j0 == 3);
        total += j1 - j0;
        prev = j1;
    }
    ck_assert_int_eq(total, 7);
    team_share(2, 0, 4, &j0, &j1); /* fewer than ranks: some get none */
    ck_assert_int_eq(j1 - j0, 0);
    ck_assert_int_eq(team_size(NULL), 1);
    ck_assert_int_eq(team_rank(NULL), 0);
}
END_TEST

/* K leaves of N floats whose sum depends on the order of the adds. */
enum { K = 7, N = 33 };
static float leaf_value(int j, int i) { return j == 0 ? 1e8f : j == 1 ? -1e8f : 0.3f + 0.01f * (float)i + 0.001f * (float)j; }

typedef struct {
    float out[16][N];
} FoldArg;

static void fold_member(const Team *t, void *arg, int rank)
{
    FoldArg *a = arg;
    int j0, j1;
    team_share(K, rank, t->size, &j0, &j1);
    float leaves[K][N], g[N];
    for (int j = j0; j < j1; j++)
        for (int i = 0; i < N; i++) leaves[j - j0][i] = leaf_value(j, i);
    for (int i = 0; i < N; i++) g[i] = rank == 0 ? 0.5f : NAN; /* only rank 0's start counts */
    team_fold_floats(t, g, &leaves[0][0], j1 - j0, N, N);
    memcpy(a->out[rank], g, sizeof g);
}

START_TEST(test_fold_floats_any_ranks)
{
    float want[N];
    for (int i = 0; i < N; i++) {
        want[i] = 0.5f;
        for (int j = 0; j < K; j++) want[i] += leaf_value(j, i);
    }
    for (int n = 1; n <= 8; n++) {
        static FoldArg a;
        memset(&a, 0, sizeof a);
        ck_assert_int_eq(team_threads_run(n, fold_member, &a), 0);
        for (int r = 0; r < n; r++) ck_assert_mem_eq(a.out[r], want, sizeof want);
    }
    /* and the order matters: a differently associated sum differs somewhere */
    float other[N];
    int differs = 0;
    for (int i = 0; i < N; i++) {
        float s = 0.0f;
        for (int j = K - 1; j >= 0; j--) s += leaf_value(j, i);
        other[i] = 0.5f + s;
        differs |= memcmp(&other[i], &want[i], sizeof(float)) != 0;
    }
    ck_assert(differs);
}
END_TEST

/* A vector longer than the chain's segments: the pipeline gives the
 * serial fold's bits too. */
enum { BIG = 150001, BK = 5 };
typedef struct {
    float *leaves, *out[4];
} BigArg;

static void big_member(const Team *t, void *arg, int rank)
{
    BigArg *a = arg;
    int j0, j1;
    team_share(BK, rank, t->size, &j0, &j1);
    float *g = calloc(BIG, sizeof(float));
    team_fold_floats(t, g, a->leaves + (size_t)j0 * BIG, j1 - j0, BIG, BIG);
    a->out[rank] = g;
}

START_TEST(test_fold_floats_segments)
{
    static BigArg a;
    a.leaves = malloc((size_t)BK * BIG * sizeof(float));
    float *want = calloc(BIG, sizeof(float));
    for (int j = 0; j < BK; j++)
        for (int i = 0; i < BIG; i++) a.leaves[(size_t)j * BIG + i] = leaf_value(j, i % 97) * (1.0f + (float)i * 1e-6f);
    for (int j = 0; j < BK; j++)
        for (int i = 0; i < BIG; i++) want[i] += a.leaves[(size_t)j * BIG + i];
    ck_assert_int_eq(team_threads_run(3, big_member, &a), 0);
    for (int r = 0; r < 3; r++) {
        ck_assert(!memcmp(a.out[r], want, BIG * sizeof(float)));
        free(a.out[r]);
    }
    free(want);
    free(a.leaves);
}
END_TEST

typedef struct {
    double sum[16][3];
} DArg;

static void dfold_member(const Team *t, void *arg, int rank)
{
    DArg *a = arg;
    int j0, j1;
    team_share(5, rank, t->size, &j0, &j1);
    double parts[5][3], scratch[5 * 3];
    for (int j = j0; j < j1; j++)
        for (int c = 0; c < 3; c++) parts[j - j0][c] = (j + 1) * (c ? 1e16 : 0.1) - (j == 2 ? 1e16 : 0);
    team_fold_doubles(t, a->sum[rank], &parts[0][0], 5, 3, scratch);
}

START_TEST(test_fold_doubles_any_ranks)
{
    double want[3];
    for (int c = 0; c < 3; c++) {
        want[c] = 0.0;
        for (int j = 0; j < 5; j++) want[c] += (j + 1) * (c ? 1e16 : 0.1) - (j == 2 ? 1e16 : 0);
    }
    for (int n = 1; n <= 6; n++) {
        static DArg a;
        ck_assert_int_eq(team_threads_run(n, dfold_member, &a), 0);
        for (int r = 0; r < n; r++) ck_assert_mem_eq(a.sum[r], want, sizeof want);
    }
}
END_TEST

typedef struct {
    Status st[8];
    char msg[8][512];
} AgreeArg;

static void agree_member(const Team *t, void *arg, int rank)
{
    AgreeArg *a = arg;
    Err e = {{0}};
    Status st = ST_OK;
    if (rank == 2 || rank == 3) st = err_set(&e, rank == 2 ? ST_ERR_IO : ST_ERR_ARG, "data/x: cannot open (rank %d)", rank);
    a->st[rank] = team_agree(t, st, &e);
    snprintf(a->msg[rank], sizeof a->msg[rank], "%s", e.msg);
}

START_TEST(test_agree)
{
    static AgreeArg a;
    ck_assert_int_eq(team_threads_run(4, agree_member, &a), 0);
    for (int r = 0; r < 4; r++) { /* the lowest failing rank's failure, everywhere */
        ck_assert_int_eq(a.st[r], ST_ERR_IO);
        ck_assert_str_eq(a.msg[r], "rank 2: data/x: cannot open (rank 2)");
    }
    static AgreeArg b;
    ck_assert_int_eq(team_threads_run(1, agree_member, &b), 0);
    ck_assert_int_eq(b.st[0], ST_OK);
}
END_TEST

typedef struct {
    int taken[64];
    int count[16];
} TakeArg;

static void take_member(const Team *t, void *arg, int rank)
{
    TakeArg *a = arg;
    for (long k; (k = t->take(t)) < 40;) {
        __atomic_add_fetch(&a->taken[k], 1, __ATOMIC_SEQ_CST);
        a->count[rank]++;
    }
    t->barrier(t);
}

START_TEST(test_take_each_once)
{
    static TakeArg a;
    ck_assert_int_eq(team_threads_run(3, take_member, &a), 0);
    int total = 0;
    for (int k = 0; k < 40; k++) ck_assert_int_eq(a.taken[k], 1);
    for (int r = 0; r < 3; r++) total += a.count[r];
    ck_assert_int_eq(total, 40);
}
END_TEST

Suite *team_suite(void)
{
    Suite *s = suite_create("team");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_share);
    tcase_add_test(tc, test_fold_floats_any_ranks);
    tcase_add_test(tc, test_fold_floats_segments);
    tcase_add_test(tc, test_fold_doubles_any_ranks);
    tcase_add_test(tc, test_agree);
    tcase_add_test(tc, test_take_each_once);
    suite_add_tcase(s, tc);
    return s;
}
