/* common.c - helpers shared by the subcommands (see cli.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli/cli.h"
#include "model/cfg.h"
#ifdef FMNIST_MPI
#include "cli/mpi.h"
#endif
#include "report/log.h"
#include "util/fileio.h"

volatile sig_atomic_t cli_signal;
static const Team *team;   /* set once by main.c, before any command */

const Team *cli_team(void) { return team; }
void cli_set_team(const Team *t) { team = t; }
int cli_is_lead(void) { return team_rank(team) == 0; }

void cli_team_poll(void)
{
#ifdef FMNIST_MPI
    mpi_team_poll(team);
#endif
}

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
    sigaction(SIGUSR1, &sa, NULL); /* mpirun forwards it at once (SIGINT it turns into a SIGTERM a second later) */
}

void cli_ignore_file_size_signal(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
}

int cli_fail(Status st, const Err *e)
{
    if (cli_is_lead()) fprintf(stderr, "fmnist: error: %s\n", e->msg);
    return st == ST_ERR_ARG ? EXIT_USAGE : 1;
}

int cli_usage_error(const char *cmd, const Err *e)
{
    if (cli_is_lead()) fprintf(stderr, "fmnist %s: %s\n(see 'fmnist %s --help')\n", cmd, e->msg, cmd);
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

Status cli_tta(const char *name, TtaKind *k, Err *e)
{
    return tta_parse(name, k) ? ST_OK : err_set(e, ST_ERR_ARG, "--tta: expected flip or none, got '%s'", name);
}

Status cli_precision(const char *name, Precision *p, Err *e)
{
    if (precision_parse(name, p))
        return err_set(e, ST_ERR_ARG, "--precision: expected fp32 or bf16, got '%s'", name);
    CpuFeatures cpu;
    cpu_detect(&cpu);
    Math m;
    Err sub;
    if (math_choose(*p, &cpu, &m, &sub)) return err_set(e, ST_ERR_ARG, "--precision %s: %s; train in fp32 (the default)", name, sub.msg);
    return ST_OK;
}

Status cli_net_precision(Net *net, const char *name, Precision dflt, Err *e)
{
    Precision p = dflt;
    Status st = cli_precision(name ? name : precision_name(dflt), &p, e);
    if (st) {
        if (!name) /* the checkpoint's: say so */
            err_set(e, st, "%s (the checkpoint was trained in bf16: give --precision fp32)", e->msg);
        return st;
    }
    CpuFeatures cpu;
    cpu_detect(&cpu);
    Math m;
    if ((st = math_choose(p, &cpu, &m, e))) return st;
    net_set_math(net, m);
    return ST_OK;
}

const char *cli_math_name(Precision p)
{
    CpuFeatures cpu;
    cpu_detect(&cpu);
    Math m;
    Err sub;
    return math_choose(p, &cpu, &m, &sub) ? precision_name(p) : math_name(m);
}

void cli_wait_default(char **argv)
{
#ifdef _OPENMP
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", CLI_SPINCOUNT, 1) || setenv("FMNIST_SPINCOUNT_DEFAULT", CLI_SPINCOUNT, 1)) return;
    execv("/proc/self/exe", argv);
    /* not run again: libgomp's default stands, and the environment says so */
    unsetenv("GOMP_SPINCOUNT");
    unsetenv("FMNIST_SPINCOUNT_DEFAULT");
#else
    (void)argv;
#endif
}

const char *cli_wait_policy(char *buf, size_t len)
{
    const char *pol = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    const char *ours = getenv("FMNIST_SPINCOUNT_DEFAULT");
#ifndef _OPENMP
    (void)pol, (void)spin, (void)ours;
    snprintf(buf, len, "none (a serial build)");
#else
    if (spin && ours && !strcmp(spin, ours) && !pol)
        snprintf(buf, len, "GOMP_SPINCOUNT=%s (fmnist's default: spin, then sleep)", spin);
    else if (pol || spin)
        snprintf(buf, len, "%s%s%s%s%s (from the environment)", pol ? "OMP_WAIT_POLICY=" : "", pol ? pol : "",
                 pol && spin ? " " : "", spin ? "GOMP_SPINCOUNT=" : "", spin ? spin : "");
    else
        snprintf(buf, len, "libgomp's default (fmnist could not set its own)");
#endif
    return buf;
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

void cli_files_add(CliFiles *l, const char *before, const char *path, const char *after)
{
    if (l->failed) return;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        CliFile *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->failed = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    char *copy = malloc(strlen(path) + 1);
    if (!copy) {
        l->failed = 1;
        return;
    }
    strcpy(copy, path);
    l->v[l->n++] = (CliFile){before, after, copy};
}

void cli_files_add_data(CliFiles *l, const char *flag_dir)
{
    char dir[FM_PATH], images[FM_PATH_NAME], labels[FM_PATH_NAME];
    Err e;
    if (data_find_dir(flag_dir, getenv("FMNIST_DATA"), dir, sizeof dir, &e)) return;
    static const char *const splits[2] = {"train", "test"};
    for (int i = 0; i < 2; i++)
        if (!data_split_files(dir, splits[i], images, labels, sizeof images, &e)) {
            cli_files_add(l, "the data file", images, "");
            cli_files_add(l, "the data file", labels, "");
        }
}

void cli_files_free(CliFiles *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i].path);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* "BEFORE PATH AFTER" */
static const char *file_name(const CliFile *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", f->before, *f->before ? " " : "", f->path, *f->after ? " " : "", f->after);
    return buf;
}

/* 1 if dir is one of the folders the command creates. */
static int made_by_command(const char *dir, const CliFiles *creates)
{
    for (int k = 0; creates && k < creates->n; k++)
        if (file_same(dir, creates->v[k].path)) return 1;
    return 0;
}

int cli_check_files(const char *cmd, const CliFiles *in, const CliFiles *out, const CliFiles *creates)
{
    Err e;
    if (in->failed || out->failed || (creates && creates->failed))
        return cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e);
    char a[FM_PATH_NAME + FM_NAME], b[FM_PATH_NAME + FM_NAME]; /* "BEFORE PATH AFTER" */
    for (int i = 0; i < out->n; i++) {
        const CliFile *o = &out->v[i];
        for (int k = 0; k < in->n; k++)
            if (file_same(o->path, in->v[k].path)) {
                err_set(&e, ST_ERR_ARG, "%s is also %s: an output never replaces an input",
                        file_name(o, a, sizeof a), file_name(&in->v[k], b, sizeof b));
                return cli_usage_error(cmd, &e);
            }
        for (int k = 0; k < i; k++)
            if (file_same(o->path, out->v[k].path)) {
                err_set(&e, ST_ERR_ARG, "%s is also %s", file_name(o, a, sizeof a), file_name(&out->v[k], b, sizeof b));
                return cli_usage_error(cmd, &e);
            }
        for (int k = 0; creates && k < creates->n; k++)
            if (file_same(o->path, creates->v[k].path)) {
                err_set(&e, ST_ERR_ARG, "%s is also %s", file_name(o, a, sizeof a),
                        file_name(&creates->v[k], b, sizeof b));
                return cli_usage_error(cmd, &e);
            }
    }
    struct stat sb;
    for (int k = 0; creates && k < creates->n; k++)
        if (!stat(creates->v[k].path, &sb) && !S_ISDIR(sb.st_mode))
            return cli_fail(err_set(&e, ST_ERR_IO, "%s: exists and is not a folder", creates->v[k].path), &e);
    for (int i = 0; i < out->n; i++) {
        const CliFile *o = &out->v[i];
        char dir[FM_PATH_NAME];
        file_folder_of(o->path, dir, sizeof dir);
        if (!stat(o->path, &sb) && S_ISDIR(sb.st_mode))
            return cli_fail(err_set(&e, ST_ERR_IO, "%s: is a folder", file_name(o, a, sizeof a)), &e);
        if (made_by_command(dir, creates)) continue;
        int seen = 0; /* each folder once */
        for (int k = 0; k < i; k++) {
            char other[FM_PATH_NAME];
            file_folder_of(out->v[k].path, other, sizeof other);
            seen |= !strcmp(other, dir);
        }
        if (seen) continue;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return cli_fail(err_set(&e, ST_ERR_IO, "%s: the folder %s does not exist", file_name(o, a, sizeof a), dir),
                            &e);
        Status st = file_check_writable(dir, &e);
        if (st) {
            err_prefix(&e, file_name(o, a, sizeof a));
            return cli_fail(st, &e);
        }
    }
    return 0;
}

int cli_stray_argument(const char *cmd, const char *word)
{
    size_t n = strlen(word);
    struct stat sb;
    Err e;
    if ((n > 4 && !strcmp(word + n - 4, ".fmw")) || (!stat(word, &sb) && S_ISREG(sb.st_mode)))
        err_set(&e, ST_ERR_ARG, "unexpected argument '%s': the checkpoint is given as --weights %s", word, word);
    else
        err_set(&e, ST_ERR_ARG, "unexpected argument '%s' (flags are --name VALUE)", word);
    return cli_usage_error(cmd, &e);
}

/* path without its last component ("/a/b/c" -> "/a/b"; "/a" -> ""). */
static void strip_last(char *path)
{
    char *slash = strrchr(path, '/');
    if (slash) *slash = 0;
    else *path = 0;
}

int cli_model_dirs(char dirs[][FM_PATH])
{
    char exe[FM_PATH];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0 || (size_t)k >= sizeof exe - 1) return 0;
    exe[k] = 0;
    strip_last(exe); /* E: the program's folder */
    int n = 0;
    snprintf(dirs[n++], FM_PATH, "%.4000s/models", exe);
    char up[FM_PATH];
    snprintf(up, sizeof up, "%s", exe);
    strip_last(up);
    snprintf(dirs[n++], FM_PATH, "%.4000s/share/fmnist/models", up);
    strip_last(up);
    snprintf(dirs[n++], FM_PATH, "%.4000s/models", up);
    return n;
}

Status cli_find_model(const char *name, char *out, size_t len, Err *e)
{
    char dirs[3][FM_PATH];
    const char *d[3];
    int n = cli_model_dirs(dirs);
    for (int i = 0; i < n; i++) d[i] = dirs[i];
    Status st = cfg_find(name, d, n, out, len, e);
    if (st || out[0] != '/' || !strcmp(out, name)) return st; /* a path as given stays as given */
    char cwd[FM_PATH];
    size_t k;
    if (getcwd(cwd, sizeof cwd) && (k = strlen(cwd)) > 1 && !strncmp(out, cwd, k) && out[k] == '/')
        memmove(out, out + k + 1, strlen(out + k + 1) + 1); /* models/mlp.cfg in the clone */
    return ST_OK;
}

void cli_default_out_base(const char *name, char *base, size_t len)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm))
        snprintf(stamp, sizeof stamp, "%lld", (long long)t);
    snprintf(base, len, "runs/%s-%s", name, stamp);
}

Status cli_default_out_create(const char *base, char *out, size_t len, Err *e)
{
    return file_mkdir_new(base, out, len, e);
}

int cli_term_width(void)
{
    struct winsize ws;
    if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    char *end;
    long n = c ? strtol(c, &end, 10) : 0;
    return c && *c && !*end && n > 0 && n < 100000 ? (int)n : 80;
}

static double cli_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Whether to redraw now: a new epoch or phase, the last step, or 0.1 s since. */
static int redraw(CliProgress *pr, int epoch, const char *set, int done, int total)
{
    double t = cli_clock();
    if (epoch == pr->drawn_epoch && set == pr->drawn_set && done != total && done > 1 && t - pr->drawn < 0.1) return 0;
    pr->drawn = t, pr->drawn_epoch = epoch, pr->drawn_set = set;
    return 1;
}

void cli_on_batch(void *ctx, const BatchStats *b)
{
    CliProgress *pr = ctx;
    cli_team_poll();
    if (pr->progress && redraw(pr, b->epoch, NULL, b->done, b->total)) report_progress(stderr, b, cli_term_width());
}

void cli_on_eval(void *ctx, const EvalStats *s)
{
    CliProgress *pr = ctx;
    cli_team_poll();
    if (pr->progress && redraw(pr, s->epoch, s->set, s->done, s->total))
        report_eval_progress(stderr, s, cli_term_width());
}

void cli_on_epoch(void *ctx, const EpochStats *s)
{
    CliProgress *pr = ctx;
    if (pr->progress) report_progress_clear(stderr);
    pr->drawn_set = NULL, pr->drawn_epoch = 0;
    if (s->has_val && !pr->legend) {
        printf("(val ...*: the lowest validation loss so far, the epoch best.fmw holds)\n");
        pr->legend = 1;
    }
    report_epoch_line(stdout, s);
    fflush(stdout); /* one line per epoch as it ends, also into a pipe or a file */
}
