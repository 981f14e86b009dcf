/* common.c - helpers shared by the subcommands (see cli.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/cli.h"
#include "report/log.h"
#include "util/fileio.h"

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

#ifdef _OPENMP
/* 1 if v, OMP_NUM_THREADS's value, is a list of counts 1..CLI_MAX_THREADS
 * separated by commas (one per nesting level; blanks around each allowed). */
static int omp_env_ok(const char *v)
{
    for (;;) {
        while (*v == ' ' || *v == '\t') v++;
        if (*v < '0' || *v > '9') return 0;
        errno = 0;
        char *end;
        long n = strtol(v, &end, 10);
        if (errno || n < 1 || n > CLI_MAX_THREADS) return 0;
        for (v = end; *v == ' ' || *v == '\t';) v++;
        if (!*v) return 1;
        if (*v++ != ',') return 0;
    }
}
#endif

int cli_set_threads(const char *cmd, int threads)
{
#ifdef _OPENMP
    if (threads > 0) {
        omp_set_num_threads(threads); /* --threads: OMP_NUM_THREADS is not used */
        return 0;
    }
    /* The OpenMP runtime takes OMP_NUM_THREADS as it is: 100000 threads
     * overflow its stack. The variable is bounded as --threads is. */
    const char *v = getenv("OMP_NUM_THREADS");
    if (v && v[strspn(v, " \t")] && !omp_env_ok(v)) {
        Err e;
        err_set(&e, ST_ERR_ARG,
                "OMP_NUM_THREADS='%.40s'%s: expected a thread count from 1 to %d; set it to one, unset it "
                "(all cores), or give --threads N",
                v, strlen(v) > 40 ? "..." : "", CLI_MAX_THREADS);
        return cli_usage_error(cmd, &e);
    }
#else
    (void)cmd, (void)threads; /* a serial build: one thread, whatever the environment says */
#endif
    return 0;
}

int cli_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

Status cli_load_data(const char *flag_dir, int nclasses, int train_limit, Dataset *train, Dataset *test, char *dir,
                     size_t dirlen, Err *e)
{
    Status st = data_find_dir(flag_dir, getenv("FMNIST_DATA"), dir, dirlen, e);
    if (st) return st;
    if (train && (st = data_load(dir, "train", nclasses, train, e))) return st;
    if ((st = data_load(dir, "test", nclasses, test, e))) {
        if (train) dataset_free(train);
        return st;
    }
    if (train && train_limit > 0 && train_limit < train->n) dataset_truncate(train, train_limit);
    return ST_OK;
}

Status cli_default_out(const char *name, char *out, size_t len, Err *e)
{
    char stamp[32], base[4096];
    time_t t = time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm))
        snprintf(stamp, sizeof stamp, "%lld", (long long)t);
    if (snprintf(base, sizeof base, "runs/%s-%s", name, stamp) >= (int)sizeof base)
        return err_set(e, ST_ERR_ARG, "runs/%s-%s: path too long", name, stamp);
    return file_mkdir_new(base, out, len, e);
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
