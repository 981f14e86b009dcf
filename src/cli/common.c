/* common.c - helpers shared by the subcommands (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/cli.h"
#include "report/log.h"

volatile sig_atomic_t cli_signal;

static void on_signal(int sig)
{
    if (cli_signal) _exit(128 + sig); /* a second Ctrl-C: leave at once; files on disk are whole */
    cli_signal = sig;
}

void cli_catch_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_ignore_file_size_signal(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
}

int cli_fail(Status st, const Err *e)
{
    fprintf(stderr, "fmnist: error: %s\n", e->msg);
    return st == ST_ERR_ARG ? EXIT_USAGE : 1;
}

int cli_usage_error(const char *cmd, const Err *e)
{
    fprintf(stderr, "fmnist %s: %s\n(see 'fmnist %s --help')\n", cmd, e->msg, cmd);
    return EXIT_USAGE;
}

void cli_set_threads(int threads)
{
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

int cli_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

Status cli_load_data(const char *flag_dir, int nclasses, int train_limit, Dataset *train, Dataset *test, Err *e)
{
    char dir[4096];
    Status st = data_find_dir(flag_dir, getenv("FMNIST_DATA"), dir, sizeof dir, e);
    if (st) return st;
    if (train && (st = data_load(dir, "train", nclasses, train, e))) return st;
    if ((st = data_load(dir, "test", nclasses, test, e))) {
        if (train) dataset_free(train);
        return st;
    }
    if (train && train_limit > 0 && train_limit < train->n) dataset_truncate(train, train_limit);
    return ST_OK;
}

void cli_on_batch(void *ctx, int epoch, int done, int total, double elapsed)
{
    CliProgress *pr = ctx;
    if (pr->progress && (done % 8 == 0 || done == total))
        report_progress(stderr, epoch, pr->epochs, done, total, pr->batch, elapsed);
}

void cli_on_epoch(void *ctx, const EpochStats *s)
{
    CliProgress *pr = ctx;
    if (pr->progress) report_progress_clear(stderr);
    report_epoch_line(stdout, s);
    fflush(stdout); /* one line per epoch as it ends, also into a pipe or a file */
}
