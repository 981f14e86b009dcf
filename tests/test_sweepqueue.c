/* test_sweepqueue.c - issue 15's distributed sweep (SweepSpec.team): the
 * trials go out from the team's queue, with tests/team_threads.c's ranks
 * (threads) standing for `mpirun -np 3`. The runs and the summary are the
 * serial sweep's bit for bit, each trial is run by exactly one rank, the
 * longest trials go first, a second run trains nothing, a failed plan
 * check fails every rank with its message, and a stop on every rank
 * resumes as a serial sweep does. Small synthetic data, 1-2 epochs. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/weights.h"
#include "team_threads.h"
#include "testutil.h"
#include "train/sweep.h"

enum { RANKS = 3, NTRIALS = 4 };


/* ---- a rank's record ---- */

/* The Team a rank gets, with its take() watched: the index it last took. */
typedef struct {
    Team team;                 /* first: the sweep is handed &spy.team     */
    const Team *inner;
    long last;
} Spy;

static long spy_take(const Team *t)
{
    Spy *s = (Spy *)t;
    return s->last = s->inner->take(s->inner);
}

/* One rank's hooks' record. */
typedef struct {
    Spy *spy;
    int batches, stop_after;   /* stop after this many batches (0: never) */
    volatile sig_atomic_t stop;
    int plans;                 /* on_plan calls                           */
    int ran[NTRIALS];          /* on_trial calls per trial                */
    SweepTrialState state[NTRIALS];
    long taken_as[NTRIALS];    /* the queue index each trial came under   */
    int failed;                /* on_trial_failed calls                   */
} Rec;

static void rec_batch(void *ctx, const BatchStats *b)
{
    const int epoch = b->epoch, done = b->done;
    Rec *r = ctx;
    (void)epoch, (void)done;
    if (++r->batches == r->stop_after) r->stop = 1;
}

static void rec_plan(void *ctx, const SweepTrialState *states, int n)
{
    Rec *r = ctx;
    (void)states, (void)n;
    r->plans++;
}

static void rec_trial(void *ctx, int k, int n, const SweepSetting *st, int seed, const char *dir,
                      SweepTrialState state, const Net *net)
{
    Rec *r = ctx;
    (void)n, (void)st, (void)seed, (void)dir, (void)net;
    r->ran[k]++;
    r->state[k] = state;
    r->taken_as[k] = r->spy ? r->spy->last : -1;
}

static void rec_failed(void *ctx, int k, int n, const Err *e)
{
    Rec *r = ctx;
    (void)k, (void)n, (void)e;
    r->failed++;
}

static SweepHooks rec_hooks(Rec *r)
{
    SweepHooks h = {rec_trial, rec_plan, NULL, r, {rec_batch, NULL, r, &r->stop, NULL, NULL}, rec_failed};
    return h;
}

/* ---- a sweep over threads ---- */

/* The job every rank runs: the same spec and data, its own hooks. */
typedef struct {
    SweepSpec spec;
    const Dataset *train, *test;
    Rec rec[RANKS];
    Status st[RANKS];
    Err e[RANKS];
    SweepResult res[RANKS];
} Job;

static void rank_main(const Team *t, void *arg, int rank)
{
    Job *j = arg;
#ifdef _OPENMP
    omp_set_num_threads(1); /* --threads 1 on each rank */
#endif
    Spy spy = {*t, t, -1};
    spy.team.take = spy_take;
    Rec *r = &j->rec[rank];
    int stop_after = r->stop_after;
    *r = (Rec){.spy = &spy, .stop_after = stop_after};
    SweepHooks h = rec_hooks(r);
    SweepSpec s = j->spec;
    s.team = &spy.team;
    j->st[rank] = sweep_execute(&s, j->train, j->test, &h, &j->res[rank], &j->e[rank]);
    r->spy = NULL;
}

/* Runs j on RANKS threads; every rank's result is checked by the caller. */
static void run_team(Job *j)
{
    for (int r = 0; r < RANKS; r++) sweep_result_free(&j->res[r]);
    ck_assert_int_eq(team_threads_run(RANKS, rank_main, j), 0);
}

/* The serial sweep of j's plan into out (threads 1, no hooks). */
static void run_serial(const Job *j, const char *out)
{
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    SweepSpec s = j->spec;
    s.out = out;
    Err e;
    SweepResult res;
    Status st = sweep_execute(&s, j->train, j->test, NULL, &res, &e);
    ck_assert_msg(st == ST_OK, "%s", e.msg);
    sweep_result_free(&res);
}

/* The file name of folders a and b, the same bytes (strip: a log.csv, its
 * seconds left out). */
static void same_file(const char *a, const char *b, const char *name, int strip)
{
    char pa[1400], pb[1400];
    snprintf(pa, sizeof pa, "%s/%s", a, name);
    snprintf(pb, sizeof pb, "%s/%s", b, name);
    size_t la, lb;
    char *ta = read_all_or_fail(pa, &la), *tb = read_all_or_fail(pb, &lb);
    if (strip) csv_strip_seconds(ta), csv_strip_seconds(tb), la = strlen(ta), lb = strlen(tb);
    ck_assert_msg(la == lb && !memcmp(ta, tb, la), "%s and %s differ", pa, pb);
    free(ta), free(tb);
}

/* The trials of s in a and b: the same log.csv (but its seconds), weights,
 * settings and position. */
static void same_runs(const SweepSpec *s, const char *a, const char *b)
{
    for (int k = 0; k < sweep_ntrials(s); k++) {
        char pa[1400], pb[1400];
        int seed;
        const SweepSetting *st = sweep_trial(s, k, &seed);
        snprintf(pa, sizeof pa, "%s/%s/seed%d", a, st->name, seed);
        snprintf(pb, sizeof pb, "%s/%s/seed%d", b, st->name, seed);
        test_same_run(pa, pb);
    }
}

/* text without the column named "seconds" of its tables (fields split by
 * sep; a table: a header line naming it and the lines of as many fields
 * after it); the training times differ from one run to another. */
static void strip_seconds_column(char *text, char sep)
{
    char *w = text;
    int col = -1, nf = 0;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        int fields = 1, at = -1;
        for (size_t i = 0; i < len; i++) {
            if (line[i] != sep) continue;
            const char *f = line + i + 1;
            while (*f == ' ') f++;
            if (!strncmp(f, "seconds", 7) && (f[7] == sep || f[7] == ' ' || f[7] == '\n')) at = fields;
            fields++;
        }
        if (at >= 0) col = at, nf = fields;
        else if (fields != nf) col = -1;
        for (size_t i = 0, field = 0; i < len; i++) { /* field f runs from after sep f-1 to before sep f */
            if (line[i] == sep) field++;
            if (col < 0 || field != (size_t)col) *w++ = line[i];
        }
        line += len;
    }
    *w = 0;
}

/* The sweep's summary files, byte for byte (but the training times). */
static void same_summary(const char *a, const char *b)
{
    static const char *const FILES[] = {"sweep.csv", "compare_loss.png", "compare_acc.png", "compare_final.png"};
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) same_file(a, b, FILES[i], 0);
    static const char *const TABLES[2][2] = {{"summary.csv", ","}, {"summary.md", "|"}};
    for (int i = 0; i < 2; i++) {
        char pa[1400], pb[1400];
        snprintf(pa, sizeof pa, "%s/%s", a, TABLES[i][0]);
        snprintf(pb, sizeof pb, "%s/%s", b, TABLES[i][0]);
        char *ta = read_all_or_fail(pa, NULL), *tb = read_all_or_fail(pb, NULL);
        size_t before = strlen(ta);
        strip_seconds_column(ta, TABLES[i][1][0]);
        strip_seconds_column(tb, TABLES[i][1][0]);
        ck_assert_msg(strlen(ta) < before, "%s: no seconds column", pa);
        ck_assert_str_eq(ta, tb);
        free(ta), free(tb);
    }
}

/* The fixture: s0 (1 epoch) and s1 (2 epochs, so the longer) x seeds 4, 5
 * on 300 training images (25 held out), 100 test. */
typedef struct {
    char *dir;
    Dataset train, test;
    SweepSetting st[2];
    int seeds[2];
    Job *job;
} Fix;

static void fix_open(Fix *f)
{
    f->dir = make_temp_dir();
    synthetic_dataset(&f->train, 300, 1);
    synthetic_dataset(&f->test, 100, 2);
    test_mlp_setting(&f->st[0], "s0", 1e-3f, 1);
    test_mlp_setting(&f->st[1], "s1", 3e-3f, 2);
    f->seeds[0] = 4, f->seeds[1] = 5;
    f->job = calloc(1, sizeof *f->job);
    ck_assert_ptr_nonnull(f->job);
    f->job->spec = (SweepSpec){.settings = f->st, .nsettings = 2, .seeds = f->seeds, .nseeds = 2, .val = 25};
    f->job->train = &f->train;
    f->job->test = &f->test;
}

static void fix_close(Fix *f)
{
    for (int r = 0; r < RANKS; r++) sweep_result_free(&f->job->res[r]);
    free(f->job);
    dataset_free(&f->train);
    dataset_free(&f->test);
    rm_tree(f->dir);
    free(f->dir);
}

/* ---- the tests ---- */

/* Three ranks, threads=1 each: the serial sweep's runs and summary, bit
 * for bit; each trial run by one rank, under one queue index, the longest
 * (s1's two epochs) first; rank 0 alone plans and summarizes. Then the
 * same job over the same folder trains nothing and writes the same
 * summary. */
START_TEST(test_queue_is_serial)
{
    Fix f;
    fix_open(&f);
    Job *j = f.job;
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/serial", f.dir);
    snprintf(b, sizeof b, "%s/queue", f.dir);
    run_serial(j, a);
    j->spec.out = b;
    run_team(j);
    int runs = 0, batches = 0;
    long taken[NTRIALS];
    for (int k = 0; k < NTRIALS; k++) taken[k] = -1;
    for (int r = 0; r < RANKS; r++) {
        ck_assert_msg(j->st[r] == ST_OK, "rank %d: %s", r, j->e[r].msg);
        ck_assert_int_eq(j->rec[r].plans, r == 0);
        ck_assert_int_eq(j->rec[r].failed, 0);
        batches += j->rec[r].batches;
        for (int k = 0; k < NTRIALS; k++) {
            if (!j->rec[r].ran[k]) continue;
            ck_assert_int_eq(j->rec[r].ran[k], 1);
            ck_assert_int_eq(j->rec[r].state[k], SWEEP_TRIAL_NEW);
            ck_assert_msg(taken[k] < 0, "trial %d run twice", k);
            taken[k] = j->rec[r].taken_as[k];
            runs++;
        }
    }
    ck_assert_int_eq(runs, NTRIALS);            /* each trial by exactly one rank */
    ck_assert_int_eq(batches, 6 * (1 + 1 + 2 + 2)); /* 275 images in batches of 50: 6 per epoch */
    /* the queue: s1's trials (2, 3) first, then s0's (0, 1), each in trial order */
    ck_assert_int_eq(taken[2], 0);
    ck_assert_int_eq(taken[3], 1);
    ck_assert_int_eq(taken[0], 2);
    ck_assert_int_eq(taken[1], 3);
    ck_assert_int_eq(j->res[0].sum.nruns, NTRIALS);
    ck_assert_int_eq(j->res[0].missing, 0);
    for (int r = 1; r < RANKS; r++) ck_assert_int_eq(j->res[r].sum.nruns, 0);
    same_runs(&j->spec, a, b);
    same_summary(a, b);
    /* again: every trial skipped (finished), by some rank, nothing trained */
    char p[1400];
    snprintf(p, sizeof p, "%s/summary.csv", b);
    ck_assert_int_eq(remove(p), 0);
    run_team(j);
    runs = 0, batches = 0;
    for (int r = 0; r < RANKS; r++) {
        ck_assert_msg(j->st[r] == ST_OK, "rank %d: %s", r, j->e[r].msg);
        batches += j->rec[r].batches;
        for (int k = 0; k < NTRIALS; k++)
            if (j->rec[r].ran[k]) {
                runs++;
                ck_assert_int_eq(j->rec[r].state[k], SWEEP_TRIAL_FINISHED);
            }
    }
    ck_assert_int_eq(runs, NTRIALS);
    ck_assert_int_eq(batches, 0);
    same_summary(a, b);
    fix_close(&f);
}
END_TEST

/* A plan rank 0's check refuses (a trial folder holding a run of other
 * settings): every rank fails with the serial sweep's message, nothing is
 * trained. --trial under a team is refused on every rank. */
START_TEST(test_check_fails_everywhere)
{
    Fix f;
    fix_open(&f);
    Job *j = f.job;
    char a[700];
    snprintf(a, sizeof a, "%s/a", f.dir);
    run_serial(j, a);
    test_mlp_setting(&f.st[1], "s1", 1e-2f, 2); /* s1's folders hold lr 3e-3 */
    j->spec.out = a;
    SweepSpec s = j->spec;
    Err serial;
    ck_assert_int_ne(sweep_execute(&s, &f.train, &f.test, NULL, NULL, &serial), ST_OK);
    ck_assert_ptr_nonnull(strstr(serial.msg, "holds a run with other settings"));
    run_team(j);
    for (int r = 0; r < RANKS; r++) {
        ck_assert_int_eq(j->st[r], ST_ERR_IO);
        ck_assert_str_eq(j->e[r].msg, serial.msg);
        ck_assert_int_eq(j->rec[r].batches, 0);
        for (int k = 0; k < NTRIALS; k++) ck_assert_int_eq(j->rec[r].ran[k], 0);
    }
    j->spec.has_trial = 1, j->spec.trial = 0;
    run_team(j);
    for (int r = 0; r < RANKS; r++) {
        ck_assert_int_eq(j->st[r], ST_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(j->e[r].msg, "--trial 0 runs one trial in one process, not on 3 ranks"));
    }
    fix_close(&f);
}
END_TEST

/* Ctrl-C (each rank's stop raised after its 3rd batch): each rank stops
 * in its first trial (model.fmw at batch 3) and takes no other, every rank
 * returns ST_ERR_INTERRUPTED, no summary. The same job again resumes the
 * stopped trials and trains the rest: the serial sweep's runs and
 * summary. */
START_TEST(test_stop_and_resume)
{
    Fix f;
    fix_open(&f);
    Job *j = f.job;
    char a[700], b[700], p[1400];
    snprintf(a, sizeof a, "%s/serial", f.dir);
    snprintf(b, sizeof b, "%s/queue", f.dir);
    run_serial(j, a);
    j->spec.out = b;
    for (int r = 0; r < RANKS; r++) j->rec[r].stop_after = 3;
    run_team(j);
    int stopped = 0;
    for (int r = 0; r < RANKS; r++) {
        ck_assert_msg(j->st[r] == ST_ERR_INTERRUPTED, "rank %d: %d %s", r, j->st[r], j->e[r].msg);
        ck_assert_int_le(j->rec[r].batches, 3);
        int ran = 0;
        for (int k = 0; k < NTRIALS; k++) ran += j->rec[r].ran[k];
        ck_assert_int_le(ran, 1);
        stopped += ran;
    }
    ck_assert_int_ge(stopped, 1);
    snprintf(p, sizeof p, "%s/summary.csv", b);
    ck_assert(!file_exists(p));
    int resumed = 0;
    for (int k = 0; k < NTRIALS; k++) {
        char dir[1000];
        SweepSpec s = j->spec;
        sweep_trial_dir(&s, k, dir, sizeof dir, NULL);
        snprintf(p, sizeof p, "%s/model.fmw", dir);
        if (!file_exists(p)) continue;
        Net *net;
        CkptState ck;
        Err e;
        ck_assert_int_eq(weights_load_run(p, 1, &net, &ck, &e), ST_OK);
        ck_assert_int_eq(ck.epoch, 0);
        ck_assert_int_eq(ck.pos_batch, 3);
        net_free(net);
        weights_state_free(&ck);
        resumed++;
    }
    ck_assert_int_eq(resumed, stopped);
    for (int r = 0; r < RANKS; r++) j->rec[r].stop_after = 0;
    run_team(j);
    int states[3] = {0, 0, 0};
    for (int r = 0; r < RANKS; r++) {
        ck_assert_msg(j->st[r] == ST_OK, "rank %d: %s", r, j->e[r].msg);
        for (int k = 0; k < NTRIALS; k++)
            if (j->rec[r].ran[k]) states[j->rec[r].state[k]]++;
    }
    ck_assert_int_eq(states[SWEEP_TRIAL_RESUME], resumed);
    ck_assert_int_eq(states[SWEEP_TRIAL_NEW], NTRIALS - resumed);
    same_runs(&j->spec, a, b);
    same_summary(a, b);
    fix_close(&f);
}
END_TEST

Suite *sweepqueue_suite(void)
{
    Suite *s = suite_create("sweepqueue");
    TCase *tc = tcase_create("sweepqueue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_queue_is_serial);
    tcase_add_test(tc, test_check_fails_everywhere);
    tcase_add_test(tc, test_stop_and_resume);
    suite_add_tcase(s, tc);
    return s;
}
