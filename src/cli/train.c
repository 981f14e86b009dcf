/* train.c - `fmnist train`: flags, output folder, per-epoch report and files.
 *
 * Checks the model file, the data and the output folder before it trains;
 * after each epoch rewrites OUT/log.csv, OUT/model.fmw (every --save-every
 * epochs) and, with --val, OUT/best.fmw (the lowest validation loss)
 * atomically, so a failed run keeps its last good files and never touches
 * an earlier run's. Ctrl-C (SIGINT, SIGTERM) saves
 * the state after the current batch and says how to resume (exit 130/143).
 * The loop and the files are train/run.c's (shared with sweep); at the end
 * OUT/curves.png charts the log. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trainflags.h"
#include "data/split.h"
#include "report/log.h"
#include "report/plot.h"
#include "train/resume.h"
#include "util/team.h"
#include "train/run.h"
#include "util/args.h"
#include "util/fileio.h"

/* What a run reads (the checkpoint it resumes, or the model file; the data)
 * against what it writes (OUT/model.fmw, best.fmw with a validation set,
 * curves.png, the log), before any work: 0, or the exit code after the
 * message. */
static int check_run_files(const RunSpec *spec, const char *resume, const char *model, const char *data, int val)
{
    CliFiles in = {0}, out = {0};
    char path[FM_PATH_NAME], log[FM_PATH_NAME];
    if (resume) cli_files_add(&in, "the checkpoint --resume", resume, "");
    if (model) cli_files_add(&in, "the model file --model", model, "");
    cli_files_add_data(&in, data);
    run_paths(spec, path, log, sizeof path);
    cli_files_add(&out, "the checkpoint", path, "this run writes");
    if (val) {
        snprintf(path, sizeof path, "%s/best.fmw", spec->out);
        cli_files_add(&out, "the best checkpoint (lowest validation loss)", path, "this run writes");
    }
    snprintf(path, sizeof path, "%s/curves.png", spec->out);
    cli_files_add(&out, "the chart", path, "this run writes");
    if (spec->log_path) cli_files_add(&out, "--log", log, "");
    else cli_files_add(&out, "the log", log, "this run writes");
    CliFiles made = {0};
    cli_files_add(&made, "the output folder", spec->out, "");
    int rc = cli_check_files("train", &in, &out, &made);
    cli_files_free(&in);
    cli_files_free(&out);
    cli_files_free(&made);
    return rc;
}

/* The run header's memory line: the estimate of run_memory and the limit. */
static void print_memory(const RunMemory *m)
{
    const char *what;
    size_t lim = net_memory_limit(&what);
    printf("memory: estimated %.1f MiB at the peak, of %.1f GiB (%s)\n", (double)m->total / (1 << 20),
           (double)lim / (1u << 30), what);
}

/* The run header's settings: every one, in words (settings_describe). */
static void print_settings(const RunSettings *set, const Net *net)
{
    Buf b = {0};
    settings_describe(set, net, &b);
    if (b.failed) fputs("(out of memory for the settings)\n", stdout);
    else if (b.data) fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

/* The hooks' context: progress, and the last state written to model.fmw. */
typedef struct {
    CliProgress pr;        /* first: the ctx of cli_on_batch and cli_on_epoch */
    int saved;             /* model.fmw holds a state of this run:      */
    int epoch, batch, nbatches; /* epochs finished, batches of the next */
} TrainCtx;

static void on_save(void *ctx, const char *path, int epoch, int batch, int nbatches)
{
    TrainCtx *tx = ctx;
    (void)path;
    tx->saved = 1;
    tx->epoch = epoch;
    tx->batch = batch;
    tx->nbatches = nbatches;
}

static void where_saved(const TrainCtx *tx, char *buf, size_t len)
{
    if (tx->batch > 0)
        snprintf(buf, len, "epoch %d, after batch %d of %d", tx->epoch + 1, tx->batch, tx->nbatches);
    else
        snprintf(buf, len, "after epoch %d", tx->epoch);
}

/* s as one shell word: as it is if it is plain, else in single quotes. */
static const char *shell_word(const char *s, char *buf, size_t len)
{
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./,+:=@%-") == strlen(s))
        return s;
    size_t k = 0;
    if (k + 1 < len) buf[k++] = '\'';
    for (; *s && k + 5 < len; s++) {
        if (*s == '\'') {
            memcpy(buf + k, "'\\''", 4); /* close, escaped quote, reopen */
            k += 4;
        } else {
            buf[k++] = *s;
        }
    }
    if (k + 1 < len) buf[k++] = '\'';
    buf[k] = 0;
    return buf;
}

/* Under mpirun (more than one rank): every rank's exit code becomes the
 * largest, so that all stop together (rank 0 printed why). */
static int agree_rc(const Team *t, int rc) { return team_size(t) > 1 ? t->max_int(t, rc) : rc; }

/* The ranks that share the run (util/team.h): NULL for one process. */
static const Team *run_team(void) { return team_size(cli_team()) > 1 ? cli_team() : NULL; }

/* With ranks, each needs micro-batches of its own: a usage error (exit
 * code) unless a full batch has at least as many micro-batches as ranks. */
static int ranks_fit(const TrainConfig *tc)
{
    const int ranks = team_size(tc->team);
    if (ranks <= 1) return 0;
    const int k = train_micro_batches(tc);
    if (k >= ranks) return 0;
    Err e;
    if (tc->micro_batch == 0)
        err_set(&e, ST_ERR_ARG, "--micro-batch 0 keeps each batch whole, so only one of the %d ranks would compute; "
                "give --micro-batch N (at most %d for %d ranks)", ranks, tc->batch / ranks, ranks);
    else
        err_set(&e, ST_ERR_ARG, "--batch %d in micro-batches of %d gives %d micro-batch%s for %d ranks; each rank "
                "needs one: use --micro-batch %d or fewer ranks", tc->batch, tc->micro_batch, k, k == 1 ? "" : "es",
                ranks, tc->batch / ranks > 0 ? tc->batch / ranks : 1);
    return cli_usage_error("train", &e);
}

/* "2 threads" or "4 ranks x 2 threads": who shares the work. */
static const char *workers(const TrainConfig *tc, char *buf, size_t len)
{
    int th = cli_max_threads(), r = team_size(tc->team);
    const char *bf16 = tc->precision == PREC_BF16 ? ", products in " : "";
    const char *math = tc->precision == PREC_BF16 ? cli_math_name(tc->precision) : "";
    if (r > 1) snprintf(buf, len, "%d ranks x %d thread%s%s%s", r, th, th == 1 ? "" : "s", bf16, math);
    else snprintf(buf, len, "%d thread%s%s%s", th, th == 1 ? "" : "s", bf16, math);
    return buf;
}

/* What the user sees when run_train returns: the result, or what stopped
 * it, where the last good state is and how to go on. Returns the exit code. */
static int finish(Status st, const Err *e, const TrainCtx *tx, const char *model_path, const char *log_path,
                  const char *out, const char *data)
{
    char where[96];
    where_saved(tx, where, sizeof where);
    const Team *team = run_team();
    if (st == ST_ERR_INTERRUPTED) {
        /* the signal that stopped the run, on whichever rank it came */
        int sig = team ? team->max_int(team, (int)cli_signal) : (int)cli_signal;
        if (!cli_is_lead()) return 128 + sig; /* rank 0 says where it saved */
        fprintf(stderr, "fmnist: %s; saved %s (%s)\n", e->msg, model_path, where);
        char w1[2 * FM_PATH_NAME], w2[2 * FM_PATH_NAME]; /* quoting may lengthen a path */
        fprintf(stderr, "fmnist: resume with: fmnist train --resume %s%s%s\n", shell_word(model_path, w1, sizeof w1),
                data ? " --data " : "", data ? shell_word(data, w2, sizeof w2) : "");
        return 128 + sig;
    }
    if (st) {
        int rc = cli_fail(st, e);
        if (!cli_is_lead()) return rc;
        if (st != ST_ERR_DIVERGED && st != ST_ERR_IO && st != ST_ERR_NOMEM) return rc;
        if (tx->saved)
            fprintf(stderr, "fmnist: the last good checkpoint is %s (%s)\n", model_path, where);
        else
            fprintf(stderr, "fmnist: no checkpoint was written (the run stopped before its first save)\n");
        return rc;
    }
    char png[FM_PATH_NAME];
    Err pe;
    snprintf(png, sizeof png, "%s/curves.png", out);
    st = team_rank(team) == 0 ? plot_log_file(log_path, png, &pe) : ST_OK; /* the chart of log.csv: rank 0 writes */
    if ((st = team_agree(team, st, &pe))) return cli_fail(st, &pe);
    printf("saved %s, %s and %s\n", model_path, log_path, png);
    return 0;
}

/* `train --resume FILE`: continues the run saved in FILE with its own
 * settings, up to --epochs in total (epochs; 0: the epochs it was started
 * with), writing into FILE's folder unless --out names another. Flags that
 * would change the run are usage errors. */
/* With --resume, flags that would change the run are usage errors: 0, or
 * the exit code after the message. */
static int resume_flags_ok(const ArgSpec *specs, int nspecs)
{
    static const char *const ALLOWED[] = {"resume", "epochs", "threads", "out", "data", "overwrite", "no-progress",
                                          "save-every", "no-tensorboard", "tb-every"};
    for (int i = 0; i < nspecs; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof ALLOWED / sizeof ALLOWED[0]; k++) ok |= !strcmp(specs[i].name, ALLOWED[k]);
        if (specs[i].seen && !ok) {
            Err e;
            err_set(&e, ST_ERR_ARG,
                    "--%s cannot be combined with --resume: a resumed run keeps its settings (only --epochs, "
                    "--threads, --out, --overwrite, --data, --no-progress, --save-every, --no-tensorboard and "
                    "--tb-every may be given)",
                    specs[i].name);
            return cli_usage_error("train", &e);
        }
    }
    return 0;
}

static int train_resume(const char *path, const ArgSpec *specs, int nspecs, int epochs, int threads,
                        const char *data, const char *out, int overwrite, int no_progress, int save_every,
                        const TrainFlags *f)
{
    Err e;
    if (resume_flags_ok(specs, nspecs)) return EXIT_USAGE;
    if (cli_set_threads("train", threads)) return EXIT_USAGE;
    ResumedRun r;
    const Team *team = run_team();
    const int lead = team_rank(team) == 0;
    Status st = team_agree(team, resume_load(path, epochs, &r, &e), &e);
    if (st) return cli_fail(st, &e);
    Dataset train = {0}, test = {0}, valset = {0};
    char dir[FM_PATH], model_path[FM_PATH_NAME], log_path[FM_PATH_NAME], data_dir[FM_PATH];
    int rc = 0;
    r.spec.train.team = team; /* the run keeps its micro-batches: any rank count gives its numbers */
    if ((rc = ranks_fit(&r.spec.train))) goto done;
    file_folder_of(path, dir, sizeof dir);
    r.spec.out = out ? out : dir;
    r.spec.overwrite = overwrite || file_same(r.spec.out, dir); /* continue in place, not over another run */
    r.spec.save_every = save_every;
    r.spec.tensorboard = !f->no_tensorboard, r.spec.tb_every = f->tb_every; /* a new event file, steps going on */
    run_paths(&r.spec, model_path, log_path, sizeof model_path);
    /* the checkpoint is an input unless the run goes on in it (in place) */
    if ((rc = agree_rc(team, lead ? check_run_files(&r.spec, file_same(path, model_path) ? NULL : path, NULL, data,
                                                    r.settings.val > 0)
                                  : 0)))
        goto done;
    st = lead ? run_check(&r.spec, &e) : ST_OK;
    if (!st)
        st = cli_load_data(data, DATA_MAX_CLASSES, r.settings.train_n + r.settings.val, &train, &test, data_dir,
                           sizeof data_dir, &e);
    if (!st && r.settings.val && train.n > r.settings.val)
        st = dataset_hold_out(&train, r.settings.val, r.settings.train.seed, &valset, &e);
    if ((st = team_agree(team, st, &e))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    if (r.settings.val) r.spec.train.val = &valset; /* the same hold-out: same seed, same images */
    if (train.n != r.settings.train_n) {
        err_set(&e, ST_ERR_FORMAT, "%s was trained on %d images; the data set has only %d", path, r.settings.train_n,
                train.n);
        rc = cli_fail(ST_ERR_FORMAT, &e);
        goto done;
    }
    RunMemory mem;
    if (!(st = train_check_sets(r.net, &train, &test, &e)) && !(st = run_memory_check(&r.spec, r.net, &train, &test, &mem, &e)) && lead)
        st = run_prepare(&r.spec, &e);
    if ((st = team_agree(team, st, &e))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    const TrainConfig *tc = &r.spec.train;
    const TrainProgress *at = r.spec.resume;
    TrainCtx tx = {.pr = {.progress = !no_progress && isatty(STDERR_FILENO)},
                   .saved = file_same(path, model_path), .epoch = at->epoch, .batch = at->batch,
                   .nbatches = (int)(((long long)train.n + tc->batch - 1) / tc->batch)};
    char where[96];
    if (at->batch > 0)
        snprintf(where, sizeof where, "in epoch %d of %d, after batch %d of %d", at->epoch + 1, tc->epochs,
                 at->batch, tx.nbatches);
    else
        snprintf(where, sizeof where, "after epoch %d of %d", at->epoch, tc->epochs);
    printf("fmnist %s: resuming %s (%s) %s, %d training and %d test images from %s\n", FMNIST_VERSION, path,
           r.spec.model, where, train.n, test.n, data_dir);
    net_summary(r.net, stdout);
    print_settings(&r.settings, r.net);
    print_memory(&mem);
    char who[128];
    printf("step %llu, %s; writing %s\n", (unsigned long long)at->step, workers(tc, who, sizeof who), r.spec.out);
    fflush(stdout);
    cli_catch_signals();
    RunHooks hooks = {cli_on_batch, cli_on_epoch, &tx, &cli_signal, on_save, cli_on_eval};
    st = run_train(&r.spec, r.net, &train, &test, &hooks, &e);
    if (tx.pr.progress) report_progress_clear(stderr);
    rc = finish(st, &e, &tx, model_path, log_path, r.spec.out, data);
done:
    dataset_free(&train);
    dataset_free(&test);
    dataset_free(&valset);
    resume_free(&r);
    return rc;
}

/* The flags of `train`: the training flags' table (cli/trainflags.c) and
 * train's own. specs point into the struct: do not copy it. */
typedef struct {
    TrainFlags f;
    const char *out, *log, *resume;
    int overwrite;
    ArgSpec specs[TRAINFLAGS_MAX + 4];
    int nspecs;
    char model[FM_PATH];      /* the model file --model names (cli_find_model) */
} TrainArgs;

/* -1 to go on, else the exit code (0 after --help). */
static int train_parse(int argc, char **argv, TrainArgs *a)
{
    a->f = trainflags_defaults();
    a->out = a->log = a->resume = NULL;
    a->overwrite = 0;
    a->nspecs = trainflags_specs(&a->f, a->specs);
    const ArgSpec own[4] = {
        {"out", ARG_STR, &a->out, 0, 0, "DIR", "output folder (default runs/MODEL-TIME)", 0},
        {"log", ARG_STR, &a->log, 0, 0, "FILE", "CSV log path (default OUT/log.csv)", 0},
        {"overwrite", ARG_SWITCH, &a->overwrite, 0, 0, NULL, "allow --out to replace an earlier run", 0},
        {"resume", ARG_STR, &a->resume, 0, 0, "FILE", "continue the run saved in FILE (its settings, up to --epochs)",
         0},
    };
    for (int i = 0; i < 4; i++) a->specs[a->nspecs++] = own[i];
    int npos, help;
    const char *pos[1];
    Err e;
    if (args_parse(argc, argv, a->specs, a->nspecs, pos, 0, &npos, &help, &e)) return cli_usage_error("train", &e);
    if (help) {
        printf("usage: fmnist train [flags]\n\nTrains a model on Fashion-MNIST, printing train and test loss and "
               "accuracy every epoch;\nwrites OUT/log.csv and OUT/model.fmw after each epoch, and with --val N "
               "OUT/best.fmw:\nthe weights of the epoch of the lowest validation loss (the test set never chooses). "
               "Ctrl-C\nsaves the state after the current batch and prints how to resume it.\n\n");
        printf("Each epoch prints one line of at most 80 columns, each figure a loss then an accuracy:\n"
               "  epoch  3/10  train 0.4012 85.61%%  test 0.4533 83.02%%  122k img/s  0.5s\n"
               "with --val a val figure, starred (*) when its loss is the lowest so far (the epoch in\n"
               "best.fmw), and the images per second make room. On a terminal, a bar on stderr shows the\n"
               "epoch's batches, its running loss and accuracy, the time spent and left, then the test\n"
               "and validation evaluations (--no-progress: none).\n"
               "TensorBoard: OUT/events.out.tfevents.* gets each epoch's losses, accuracies, lr, weight_norm\n"
               "and weight histograms, and the train loss every --tb-every steps (tensorboard --logdir OUT;\n"
               "a resumed run writes a new file, its steps going on).\n\n");
        args_print_help(a->specs, a->nspecs, stdout);
        return 0;
    }
    return -1;
}

/* A fresh run: its settings, net, data and the paths it writes. */
typedef struct {
    RunSpec spec;
    Net *net;
    TrainData data;
    RunMemory mem;            /* run_memory_check's estimate */
    int default_out;          /* no --out: runs/MODEL-TIME, made last */
    char outbase[FM_PATH], outbuf[FM_PATH];
    char model_path[FM_PATH_NAME], log_path[FM_PATH_NAME];
} TrainJob;

/* The settings from the flags, the net from the model file, and the paths
 * (a default folder is only named yet). Returns 0 or the exit code. */
static int train_build(const TrainArgs *a, TrainJob *j)
{
    Err e;
    Status st = trainflags_run(&a->f, a->specs, a->nspecs, &j->spec, &e);
    if (st) return cli_usage_error("train", &e);
    j->spec.train.team = run_team();
    int rc = ranks_fit(&j->spec.train);
    if (rc) return rc;
    if (cli_set_threads("train", a->f.threads)) return EXIT_USAGE;
    if ((st = run_build_net(a->f.model, a->f.dropout.v, a->f.dropout.n, a->f.batch, &j->net, &e)))
        return st == ST_ERR_ARG ? cli_usage_error("train", &e) : cli_fail(st, &e);
    j->default_out = !a->out;
    if (j->default_out) { /* runs/MODEL-TIME, MODEL the model file's name without folder and extension */
        const char *base = strrchr(a->f.model, '/') ? strrchr(a->f.model, '/') + 1 : a->f.model;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
        cli_default_out_base(name, j->outbase, sizeof j->outbase);
    }
    j->spec.out = j->default_out ? j->outbase : a->out;
    j->spec.log_path = a->log;
    j->spec.overwrite = a->overwrite;
    run_paths(&j->spec, j->model_path, j->log_path, sizeof j->model_path);
    return 0;
}

/* Before anything is written: the files (never replace an input, nor an
 * earlier run unless asked), the data against the net, the memory the run
 * will take; then the output
 * folder is made (a default one new, with -2.. if taken meanwhile, so no
 * earlier run can be in it). Returns 0 or the exit code. */
static int train_check(const TrainArgs *a, TrainJob *j)
{
    /* with ranks: rank 0 checks and makes the files (it alone writes them),
     * every rank loads the data; a failure anywhere stops every rank */
    const Team *team = j->spec.train.team;
    const int lead = team_rank(team) == 0;
    int rc = agree_rc(team, lead ? check_run_files(&j->spec, NULL, a->f.model, a->f.data, a->f.val > 0) : 0);
    if (rc) return rc;
    Err e;
    Status st = lead && !j->default_out ? run_check(&j->spec, &e) : ST_OK;
    if (!st) st = trainflags_load_data(&a->f, &j->data, &e);
    if ((st = team_agree(team, st, &e))) return st == ST_ERR_ARG ? cli_usage_error("train", &e) : cli_fail(st, &e);
    if (a->f.val) j->spec.train.val = &j->data.val;
    if (!(st = train_check_sets(j->net, &j->data.train, &j->data.test, &e)))
        st = run_memory_check(&j->spec, j->net, &j->data.train, &j->data.test, &j->mem, &e);
    if (!st && lead && j->default_out && !(st = cli_default_out_create(j->outbase, j->outbuf, sizeof j->outbuf, &e))) {
        j->spec.out = j->outbuf;
        run_paths(&j->spec, j->model_path, j->log_path, sizeof j->model_path);
    }
    if (!st && lead) st = run_prepare(&j->spec, &e);
    return (st = team_agree(team, st, &e)) ? cli_fail(st, &e) : 0;
}

/* Prints the run's header, trains, and says how it ended. Returns the exit code. */
static int train_go(const TrainArgs *a, TrainJob *j)
{
    const TrainFlags *f = &a->f;
    const Dataset *train = &j->data.train;
    TrainCtx tx = {.pr = {.progress = !f->no_progress && isatty(STDERR_FILENO)}};
    printf("fmnist %s: %s, %d training and %d test images of %dx%d, %d classes, from %s\n", FMNIST_VERSION, f->model,
           train->n, j->data.test.n, train->h, train->w, j->net->nclasses, j->data.dir);
    net_summary(j->net, stdout);
    RunSettings set;
    run_settings(&j->spec, train->n, &set);
    print_settings(&set, j->net);
    print_memory(&j->mem);
    char who[128];
    printf("%s; writing %s\n", workers(&j->spec.train, who, sizeof who), j->spec.out);
    fflush(stdout);
    cli_catch_signals();
    net_init(j->net, (uint64_t)f->seed);
    RunHooks hooks = {cli_on_batch, cli_on_epoch, &tx, &cli_signal, on_save, cli_on_eval};
    Err e;
    Status st = run_train(&j->spec, j->net, train, &j->data.test, &hooks, &e);
    if (tx.pr.progress) report_progress_clear(stderr);
    return finish(st, &e, &tx, j->model_path, j->log_path, j->spec.out, f->data);
}

/* parse -> build -> check -> run (or --resume). */
int cmd_train(int argc, char **argv)
{
    TrainArgs a;
    int rc = train_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.resume)
        return train_resume(a.resume, a.specs, a.nspecs, args_given(a.specs, a.nspecs, &a.f.epochs) ? a.f.epochs : 0,
                            a.f.threads, a.f.data, a.out, a.overwrite, a.f.no_progress, a.f.save_every, &a.f);
    Err e;
    if (cli_find_model(a.f.model, a.model, sizeof a.model, &e)) return cli_usage_error("train", &e);
    a.f.model = a.model; /* a preset's file, wherever fmnist runs */
    TrainJob j = {0};
    if (!(rc = train_build(&a, &j)) && !(rc = train_check(&a, &j))) rc = train_go(&a, &j);
    train_data_free(&j.data);
    net_free(j.net);
    return rc;
}
