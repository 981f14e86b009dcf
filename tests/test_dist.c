/* test_dist.c - data-parallel training over ranks (issue 15, items 3 and 4),
 * with the thread Team (tests/team_threads.h) standing for mpirun's ranks.
 *
 * train_run with cfg->team: the same seed gives bit-identical weights and
 * epoch figures (train and test loss and accuracy, validation) on 1, 2, 3
 * and 4 ranks as one process with the same micro-batches, for the MLP, the
 * conv net with augmentation and the batch-normed conv net; a short last
 * batch leaves some ranks without a micro-batch. A stop raised on one rank
 * stops every rank before the same batch, with one checkpoint call (rank
 * 0); a failure on one rank (its data) fails every rank with its message. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "team_threads.h"
#include "testutil.h"
#include "train/run.h"

#define MAXR 4
#define MAXE 3

typedef struct {
    const char *model;
    int batch, mb, epochs, ntrain, aug, val;
    int stop_rank;                /* >= 0: this rank's stop flag is up from the start */
    int empty_rank;               /* >= 0: this rank's training set is empty */
    /* results */
    float *params[MAXR];
    size_t nparams;
    EpochStats stats[MAXE];
    int nstats, nstops[MAXR];
    Status st[MAXR];
    char msg[MAXR][512];
} Job;

static Status on_epoch(void *ctx, const EpochStats *s, const TrainProgress *p, const Net *net, Err *e)
{
    Job *j = ctx;
    (void)p, (void)net, (void)e;
    if (j->nstats < MAXE) j->stats[j->nstats++] = *s;
    return ST_OK;
}

static Status on_stop(void *ctx, const TrainProgress *p, const Net *net, Err *e)
{
    Job *j = ctx;
    (void)p, (void)net, (void)e;
    j->nstops[0]++; /* called on rank 0 only */
    return ST_OK;
}

/* One rank (t NULL: one process, rank 0). */
static void member(const Team *t, void *arg, int rank)
{
    Job *j = arg;
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    Dataset train, test, val;
    synthetic_dataset(&train, j->ntrain, 11);
    synthetic_dataset(&test, 90, 12);
    synthetic_dataset(&val, 50, 13);
    if (rank == j->empty_rank) train.n = 0;
    Net *net;
    Err e = {{0}};
    ck_assert_msg(run_build_net(j->model, NULL, 0, j->batch, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, 5);
    TrainConfig cfg = {.epochs = j->epochs, .batch = j->batch, .micro_batch = j->mb, .seed = 3, .team = t};
    cfg.opt = optim_defaults();
    cfg.lr = (LrSchedule){.kind = LRS_CONSTANT, .base = cfg.opt.lr};
    if (j->aug) cfg.aug = (AugConfig){.crop = 2, .flip = 1, .erase = 1};
    if (j->val) cfg.val = &val;
    volatile sig_atomic_t flag = rank == j->stop_rank;
    TrainHooks hooks = {NULL, on_epoch, j, &flag, on_stop, NULL};
    j->st[rank] = train_run(net, &train, &test, &cfg, NULL, &hooks, &e);
    snprintf(j->msg[rank], sizeof j->msg[rank], "%s", e.msg);
    j->nparams = net->nparams;
    j->params[rank] = malloc(net->nparams * sizeof(float));
    memcpy(j->params[rank], net->params, net->nparams * sizeof(float));
    net_free(net);
    train.n = j->ntrain;
    dataset_free(&train);
    dataset_free(&test);
    dataset_free(&val);
}

static void job_free(Job *j)
{
    for (int r = 0; r < MAXR; r++) free(j->params[r]), j->params[r] = NULL;
}

/* The figures of an epoch but its times. */
static void same_stats(const EpochStats *a, const EpochStats *b)
{
    ck_assert_mem_eq(&a->train_loss, &b->train_loss, sizeof a->train_loss);
    ck_assert_mem_eq(&a->train_acc, &b->train_acc, sizeof a->train_acc);
    ck_assert_mem_eq(&a->test_loss, &b->test_loss, sizeof a->test_loss);
    ck_assert_mem_eq(&a->test_acc, &b->test_acc, sizeof a->test_acc);
    ck_assert_mem_eq(&a->val_loss, &b->val_loss, sizeof a->val_loss);
    ck_assert_mem_eq(&a->weight_norm, &b->weight_norm, sizeof a->weight_norm);
    ck_assert_int_eq(a->best_epoch, b->best_epoch);
}

/* The job on one process, then on 1..4 ranks: the same bits everywhere. */
static void check_any_ranks(Job base)
{
    base.stop_rank = base.empty_rank = -1;
    Job one = base;
    member(NULL, &one, 0);
    ck_assert_msg(one.st[0] == ST_OK, "%s", one.msg[0]);
    ck_assert_int_eq(one.nstats, base.epochs);
    for (int n = 1; n <= MAXR; n++) {
        Job d = base;
        ck_assert_int_eq(team_threads_run(n, member, &d), 0);
        for (int r = 0; r < n; r++) {
            ck_assert_msg(d.st[r] == ST_OK, "%s on %d ranks: rank %d: %s", base.model, n, r, d.msg[r]);
            ck_assert_msg(!memcmp(d.params[r], one.params[0], one.nparams * sizeof(float)),
                          "%s: the weights of rank %d of %d differ from one process's", base.model, r, n);
        }
        ck_assert_int_eq(d.nstats, one.nstats); /* rank 0 alone calls the hooks */
        for (int k = 0; k < one.nstats; k++) same_stats(&d.stats[k], &one.stats[k]);
        job_free(&d);
    }
    job_free(&one);
}

/* 150 images in batches of 64 (64, 64, 22): micro-batches of 16 give 4, 4
 * and 2, so on 3 and 4 ranks the last batch leaves ranks idle. */
START_TEST(test_mlp_any_ranks)
{
    check_any_ranks((Job){.model = "models/mlp.cfg", .batch = 64, .mb = 16, .epochs = 2, .ntrain = 150, .val = 1});
}
END_TEST

START_TEST(test_cnn_aug_any_ranks)
{
    check_any_ranks((Job){.model = "models/cnn.cfg", .batch = 32, .mb = 8, .epochs = 1, .ntrain = 70, .aug = 1});
}
END_TEST

START_TEST(test_cnn_bn_any_ranks)
{
    check_any_ranks((Job){.model = "models/cnn-bn.cfg", .batch = 32, .mb = 8, .epochs = 1, .ntrain = 70, .val = 1});
}
END_TEST

START_TEST(test_stop_on_one_rank_stops_all)
{
    Job j = {.model = "models/mlp.cfg", .batch = 64, .mb = 16, .epochs = 1, .ntrain = 150, .stop_rank = 2,
             .empty_rank = -1};
    ck_assert_int_eq(team_threads_run(3, member, &j), 0);
    for (int r = 0; r < 3; r++) ck_assert_int_eq(j.st[r], ST_ERR_INTERRUPTED);
    ck_assert_int_eq(j.nstops[0], 1); /* one checkpoint, by rank 0 */
    ck_assert_int_eq(j.nstats, 0);
    job_free(&j);
}
END_TEST

START_TEST(test_failure_on_one_rank_fails_all)
{
    Job j = {.model = "models/mlp.cfg", .batch = 64, .mb = 16, .epochs = 1, .ntrain = 150, .stop_rank = -1,
             .empty_rank = 1};
    ck_assert_int_eq(team_threads_run(3, member, &j), 0);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(j.st[r], ST_ERR_ARG);
        ck_assert_msg(strstr(j.msg[r], "rank 1: ") == j.msg[r] && strstr(j.msg[r], "empty"), "rank %d: %s", r,
                      j.msg[r]);
    }
    job_free(&j);
}
END_TEST

Suite *dist_suite(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_mlp_any_ranks);
    tcase_add_test(tc, test_cnn_aug_any_ranks);
    tcase_add_test(tc, test_cnn_bn_any_ranks);
    tcase_add_test(tc, test_stop_on_one_rank_stops_all);
    tcase_add_test(tc, test_failure_on_one_rank_fails_all);
    suite_add_tcase(s, tc);
    return s;
}
