/* train.c - `fmnist train`: flags, output folder, per-epoch report and files.
 *
 * Checks the model file, the data and the output folder before it trains;
 * after each epoch rewrites OUT/log.csv, OUT/model.fmw (every --save-every
 * epochs) and OUT/best.fmw atomically, so a failed run keeps its last good
 * files and never touches an earlier run's. Ctrl-C (SIGINT, SIGTERM) saves
 * the state after the current batch and says how to resume (exit 130/143).
 * The loop and the files are train/run.c's (shared with sweep); at the end
 * OUT/curves.png charts the log. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/split.h"
#include "report/log.h"
#include "report/plot.h"
#include "train/resume.h"
#include "train/run.h"
#include "util/args.h"
#include "util/fileio.h"

/* 1 if a and b name the same existing folder (or file). */
static int same_folder(const char *a, const char *b)
{
    struct stat sa, sb;
    return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* What a run reads (the checkpoint it resumes, or the model file; the data)
 * against what it writes (OUT/model.fmw, best.fmw, best-val.fmw with a
 * validation set, curves.png, the log), before any work: 0, or the exit
 * code after the message. */
static int check_run_files(const RunSpec *spec, const char *resume, const char *model, const char *data, int val)
{
    CliFiles in = {0}, out = {0};
    char path[4200], log[4200];
    if (resume) cli_files_add(&in, "the checkpoint --resume", resume, "");
    if (model) cli_files_add(&in, "the model file --model", model, "");
    cli_files_add_data(&in, data);
    run_paths(spec, path, log, sizeof path);
    cli_files_add(&out, "the checkpoint", path, "this run writes");
    snprintf(path, sizeof path, "%s/best.fmw", spec->out);
    cli_files_add(&out, "the best checkpoint", path, "this run writes");
    if (val) {
        snprintf(path, sizeof path, "%s/best-val.fmw", spec->out);
        cli_files_add(&out, "the best-validation checkpoint", path, "this run writes");
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

/* What the user sees when run_train returns: the result, or what stopped
 * it, where the last good state is and how to go on. Returns the exit code. */
static int finish(Status st, const Err *e, const TrainCtx *tx, const char *model_path, const char *log_path,
                  const char *out, const char *data)
{
    char where[96];
    where_saved(tx, where, sizeof where);
    if (st == ST_ERR_INTERRUPTED) {
        fprintf(stderr, "fmnist: %s; saved %s (%s)\n", e->msg, model_path, where);
        char w1[8500], w2[8500];
        fprintf(stderr, "fmnist: resume with: fmnist train --resume %s%s%s\n", shell_word(model_path, w1, sizeof w1),
                data ? " --data " : "", data ? shell_word(data, w2, sizeof w2) : "");
        return 128 + (int)cli_signal;
    }
    if (st) {
        int rc = cli_fail(st, e);
        if (st != ST_ERR_DIVERGED && st != ST_ERR_IO && st != ST_ERR_NOMEM) return rc;
        if (tx->saved)
            fprintf(stderr, "fmnist: the last good checkpoint is %s (%s)\n", model_path, where);
        else
            fprintf(stderr, "fmnist: no checkpoint was written (the run stopped before its first save)\n");
        return rc;
    }
    char png[4200];
    Err pe;
    snprintf(png, sizeof png, "%s/curves.png", out);
    if ((st = plot_log_file(log_path, png, &pe))) return cli_fail(st, &pe); /* the chart of log.csv */
    printf("saved %s, %s and %s\n", model_path, log_path, png);
    return 0;
}

/* `train --resume FILE`: continues the run saved in FILE with its own
 * settings, up to --epochs in total (default: the epochs it was started
 * with), writing into FILE's folder unless --out names another. Flags that
 * would change the run are usage errors. */
static int train_resume(const char *path, const ArgSpec *specs, int nspecs, int epochs, int threads,
                        const char *data, const char *out, int overwrite, int no_progress, int save_every)
{
    static const char *const ALLOWED[] = {"resume", "epochs", "threads", "out", "data", "overwrite", "no-progress",
                                          "save-every"};
    Err e;
    int epochs_seen = 0;
    for (int i = 0; i < nspecs; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof ALLOWED / sizeof ALLOWED[0]; k++) ok |= !strcmp(specs[i].name, ALLOWED[k]);
        if (specs[i].seen && !ok) {
            err_set(&e, ST_ERR_ARG,
                    "--%s cannot be combined with --resume: a resumed run keeps its settings (only --epochs, "
                    "--threads, --out, --overwrite, --data, --no-progress and --save-every may be given)",
                    specs[i].name);
            return cli_usage_error("train", &e);
        }
        epochs_seen |= specs[i].seen && !strcmp(specs[i].name, "epochs");
    }
    if (cli_set_threads("train", threads)) return EXIT_USAGE;
    ResumedRun r;
    Status st = resume_load(path, epochs_seen ? epochs : 0, &r, &e);
    if (st) return cli_fail(st, &e);
    Dataset train = {0}, test = {0}, valset = {0};
    char dir[4096], model_path[4200], log_path[4200], data_dir[4096];
    int rc = 0;
    resume_folder(path, dir, sizeof dir);
    r.spec.out = out ? out : dir;
    r.spec.overwrite = overwrite || same_folder(r.spec.out, dir); /* continue in place, not over another run */
    r.spec.save_every = save_every;
    run_paths(&r.spec, model_path, log_path, sizeof model_path);
    /* the checkpoint is an input unless the run goes on in it (in place) */
    if ((rc = check_run_files(&r.spec, file_same(path, model_path) ? NULL : path, NULL, data, r.val > 0)))
        goto done;
    if ((st = run_check(&r.spec, &e)) ||
        (st = cli_load_data(data, DATA_MAX_CLASSES, r.ck.train_n + r.val, &train, &test, data_dir, sizeof data_dir,
                            &e)) ||
        (r.val && train.n > r.val && (st = dataset_hold_out(&train, r.val, r.ck.seed, &valset, &e)))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    if (r.val) r.spec.train.val = &valset; /* the same hold-out: same seed, same images */
    if (train.n != r.ck.train_n) {
        err_set(&e, ST_ERR_FORMAT, "%s was trained on %d images; the data set has only %d", path, r.ck.train_n,
                train.n);
        rc = cli_fail(ST_ERR_FORMAT, &e);
        goto done;
    }
    RunMemory mem;
    if ((st = train_check_data(r.net, &train, "training", &e)) || (st = train_check_data(r.net, &test, "test", &e)) ||
        (st = run_memory_check(&r.spec, r.net, &train, &test, &mem, &e)) || (st = run_prepare(&r.spec, &e))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    const TrainConfig *tc = &r.spec.train;
    TrainCtx tx = {.pr = {.progress = !no_progress && isatty(STDERR_FILENO), .batch = tc->batch, .epochs = tc->epochs},
                   .saved = same_folder(path, model_path), .epoch = tc->start_epoch, .batch = tc->start_batch,
                   .nbatches = (int)(((long long)train.n + tc->batch - 1) / tc->batch)};
    char where[96];
    if (tc->start_batch > 0)
        snprintf(where, sizeof where, "in epoch %d of %d, after batch %d of %d", tc->start_epoch + 1, tc->epochs,
                 tc->start_batch, tx.nbatches);
    else
        snprintf(where, sizeof where, "after epoch %d of %d", tc->start_epoch, tc->epochs);
    printf("fmnist %s: resuming %s (%s) %s, %d training and %d test images from %s\n", FMNIST_VERSION, path,
           r.spec.model, where, train.n, test.n, data_dir);
    print_memory(&mem);
    printf("optimizer %s lr %g, step %llu, batch %d, seed %llu, %d thread%s; writing %s\n", r.spec.optim_name,
           (double)tc->opt.lr, (unsigned long long)tc->start_step, tc->batch, (unsigned long long)tc->seed,
           cli_max_threads(), cli_max_threads() == 1 ? "" : "s", r.spec.out);
    fflush(stdout);
    cli_catch_signals();
    RunHooks hooks = {cli_on_batch, cli_on_epoch, &tx, &cli_signal, on_save};
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

int cmd_train(int argc, char **argv)
{
    const char *model = "models/mlp.cfg", *optim = "adam", *data = NULL, *out = NULL, *log = NULL, *resume = NULL;
    int epochs = 10, batch = 128, seed = 1, threads = 0, train_limit = 0, nesterov = 0, decay_bias = 0;
    int overwrite = 0, no_progress = 0, report_penalty = 0, save_every = 1, val = 0, early_stop = 0;
    StrList aug = {0};
    const char *lr_schedule = "constant";
    int warmup = 0, lr_step = 5;
    float lr_gamma = 0.1f;
    float lr = 1e-3f, momentum = 0.0f, wd = 0.0f, l1 = 0.0f;
    FloatList dropout = {0};
    ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, 0, "FILE", "model file (default models/mlp.cfg)", 0},
        {"epochs", ARG_INT, &epochs, 1, 100000, "N", "epochs to train (default 10)", 0},
        {"batch", ARG_INT, &batch, 1, 65536, "N", "mini-batch size (default 128)", 0},
        {"optim", ARG_STR, &optim, 0, 0, "NAME", "sgd | adam | adamw (default adam)", 0},
        {"lr", ARG_FLOAT, &lr, 0, 1e3, "X", "learning rate (default 1e-3)", 0},
        {"momentum", ARG_FLOAT, &momentum, 0, 0.9999, "X", "sgd momentum (default 0)", 0},
        {"nesterov", ARG_SWITCH, &nesterov, 0, 0, NULL, "sgd: Nesterov momentum", 0},
        {"weight-decay", ARG_FLOAT, &wd, 0, 1e3, "L", "L2 penalty (decoupled for adamw; default 0)", 0},
        {"decay-bias", ARG_SWITCH, &decay_bias, 0, 0, NULL, "apply weight decay (and --l1) to biases too", 0},
        {"l1", ARG_FLOAT, &l1, 0, 1e3, "A", "L1 penalty A*||w||_1 (subgradient; with --weight-decay: elastic net)", 0},
        {"report-penalty", ARG_SWITCH, &report_penalty, 0, 0, NULL, "add the penalty to the reported train loss", 0},
        {"val", ARG_INT, &val, 1, 2147483647, "N", "hold out N training images (seeded) as a validation set", 0},
        {"early-stop", ARG_INT, &early_stop, 1, 100000, "K",
         "stop after K epochs without a lower validation loss; best weights in OUT/best-val.fmw", 0},
        {"lr-schedule", ARG_STR, &lr_schedule, 0, 0, "NAME", "constant | step | cosine (default constant)", 0},
        {"warmup", ARG_INT, &warmup, 0, 100000, "N", "linear learning-rate warm-up over the first N epochs", 0},
        {"lr-step", ARG_INT, &lr_step, 1, 100000, "N", "step schedule: epochs between decays (default 5)", 0},
        {"lr-gamma", ARG_FLOAT, &lr_gamma, 0, 1, "G", "step schedule: factor of each decay (default 0.1)", 0},
        {"aug", ARG_STRS, &aug, 0, 0, "LIST", "augment training batches: crop=P, flip, erase (comma-separated, repeatable)", 0},
        {"dropout", ARG_FLOATS, &dropout, 0, 0.9999, "P1,P2,..", "dropout rates, in model-file order (0 = off)", 0},
        {"seed", ARG_INT, &seed, 0, 2147483647, "N", "random seed (default 1)", 0},
        {"threads", ARG_INT, &threads, 1, CLI_MAX_THREADS, "N", CLI_THREADS_HELP, 0},
        {"data", ARG_STR, &data, 0, 0, "DIR", "folder with the IDX files (default: see README)", 0},
        {"train-limit", ARG_INT, &train_limit, 1, 2147483647, "N", "use only the first N training images", 0},
        {"out", ARG_STR, &out, 0, 0, "DIR", "output folder (default runs/MODEL-TIME)", 0},
        {"log", ARG_STR, &log, 0, 0, "FILE", "CSV log path (default OUT/log.csv)", 0},
        {"overwrite", ARG_SWITCH, &overwrite, 0, 0, NULL, "allow --out to replace an earlier run", 0},
        {"no-progress", ARG_SWITCH, &no_progress, 0, 0, NULL, "no progress bar, even on a terminal", 0},
        {"resume", ARG_STR, &resume, 0, 0, "FILE", "continue the run saved in FILE (its settings, up to --epochs)", 0},
        {"save-every", ARG_INT, &save_every, 1, 100000, "N", "write OUT/model.fmw every N epochs (default 1; always "
         "after the last, and on Ctrl-C)", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 0, &npos, &help, &e);
    if (st) return cli_usage_error("train", &e);
    if (help) {
        printf("usage: fmnist train [flags]\n\nTrains a model on Fashion-MNIST, printing train and test loss and "
               "accuracy every epoch;\nwrites OUT/log.csv, OUT/model.fmw and OUT/best.fmw after each epoch; "
               "Ctrl-C saves the state\nafter the current batch and prints how to resume it.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    if (resume)
        return train_resume(resume, specs, nspecs, epochs, threads, data, out, overwrite, no_progress, save_every);
    TrainConfig tc = {.epochs = epochs, .batch = batch, .seed = (uint64_t)seed, .opt = optim_defaults()};
    if (!optim_parse_kind(optim, &tc.opt.kind)) {
        err_set(&e, ST_ERR_ARG, "--optim: expected sgd, adam or adamw, got '%s'", optim);
        return cli_usage_error("train", &e);
    }
    if (specs[5].seen && tc.opt.kind != OPT_SGD) {
        err_set(&e, ST_ERR_ARG, "--momentum applies to --optim sgd only");
        return cli_usage_error("train", &e);
    }
    if (nesterov && momentum <= 0.0f) {
        err_set(&e, ST_ERR_ARG, "--nesterov needs --momentum above 0");
        return cli_usage_error("train", &e);
    }
    tc.opt.lr = lr;
    tc.opt.momentum = momentum;
    tc.opt.nesterov = nesterov;
    tc.opt.weight_decay = wd;
    tc.opt.decay_bias = decay_bias;
    tc.opt.l1 = l1;
    tc.report_penalty = report_penalty;
    tc.early_stop = early_stop;
    tc.lr = (LrSchedule){.base = lr, .warmup = warmup, .step = lr_step, .gamma = lr_gamma, .epochs = epochs};
    if (!lrsched_parse_kind(lr_schedule, &tc.lr.kind)) {
        err_set(&e, ST_ERR_ARG, "--lr-schedule: expected constant, step or cosine, got '%s'", lr_schedule);
        return cli_usage_error("train", &e);
    }
    if (warmup >= epochs && warmup > 0) {
        err_set(&e, ST_ERR_ARG, "--warmup %d: must be fewer than the %d epochs", warmup, epochs);
        return cli_usage_error("train", &e);
    }
    for (int i = 0; i < aug.n; i++)
        if ((st = aug_parse(aug.v[i], &tc.aug, &e))) return cli_usage_error("train", &e);
    if (early_stop && !val) {
        err_set(&e, ST_ERR_ARG, "--early-stop needs a validation set (--val N)");
        return cli_usage_error("train", &e);
    }
    if (cli_set_threads("train", threads)) return EXIT_USAGE;

    Net *net;
    if ((st = run_build_net(model, dropout.v, dropout.n, batch, &net, &e)))
        return st == ST_ERR_ARG ? cli_usage_error("train", &e) : cli_fail(st, &e);

    /* output folder: never replace an input, nor an earlier run unless asked; a
     * default one (runs/MODEL-TIME) is checked under its name and made, new,
     * only once everything has passed (with -2.. if taken meanwhile) */
    char outbuf[4096], outbase[4096], model_path[4200], logbuf[4200];
    const int default_out = !out, log_given = log != NULL;
    if (default_out) {
        const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
        cli_default_out_base(name, outbase, sizeof outbase);
        out = outbase;
    }
    RunSpec spec = {.model = model, .optim_name = optim, .train = tc, .out = out, .log_path = log,
                    .overwrite = overwrite, .save_every = save_every};
    run_paths(&spec, model_path, logbuf, sizeof logbuf);
    log = logbuf;
    int rc = 0;
    Dataset train = {0}, test = {0}, valset = {0};
    char data_dir[4096];
    if ((rc = check_run_files(&spec, NULL, model, data, val > 0))) goto done;
    /* then the data against the net, all before the folder is created (a
     * default folder is made new, so no earlier run can be in it) */
    if ((!default_out && (st = run_check(&spec, &e))) ||
        (st = cli_load_data(data, DATA_MAX_CLASSES, train_limit, &train, &test, data_dir, sizeof data_dir, &e)) ||
        (val && (st = dataset_hold_out(&train, val, (uint64_t)seed, &valset, &e)))) {
        rc = st == ST_ERR_ARG ? cli_usage_error("train", &e) : cli_fail(st, &e);
        goto done;
    }
    if (val) spec.train.val = &valset;
    RunMemory mem;
    if ((st = train_check_data(net, &train, "training", &e)) || (st = train_check_data(net, &test, "test", &e)) ||
        (st = run_memory_check(&spec, net, &train, &test, &mem, &e))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    if (default_out) {
        if ((st = cli_default_out_create(outbase, outbuf, sizeof outbuf, &e))) {
            rc = cli_fail(st, &e);
            goto done;
        }
        out = spec.out = outbuf;
        spec.log_path = log_given ? log : NULL;
        run_paths(&spec, model_path, logbuf, sizeof logbuf);
        log = logbuf;
    }
    if ((st = run_prepare(&spec, &e))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    TrainCtx tx = {.pr = {.progress = !no_progress && isatty(STDERR_FILENO), .batch = batch, .epochs = epochs}};

    printf("fmnist %s: %s, %d training and %d test images of %dx%d, %d classes, from %s\n", FMNIST_VERSION, model,
           train.n, test.n, train.h, train.w, net->nclasses, data_dir);
    net_summary(net, stdout);
    print_memory(&mem);
    printf("optimizer %s lr %g%s, batch %d, %d epochs, seed %d, %d thread%s; writing %s\n", optim, (double)lr,
           wd > 0 ? " with weight decay" : "", batch, epochs, seed, cli_max_threads(), cli_max_threads() == 1 ? "" : "s",
           out);
    fflush(stdout);

    cli_catch_signals();
    net_init(net, (uint64_t)seed);
    RunHooks hooks = {cli_on_batch, cli_on_epoch, &tx, &cli_signal, on_save};
    st = run_train(&spec, net, &train, &test, &hooks, &e);
    if (tx.pr.progress) report_progress_clear(stderr);
    rc = finish(st, &e, &tx, model_path, log, out, data);
done:
    dataset_free(&train);
    dataset_free(&test);
    dataset_free(&valset);
    net_free(net);
    return rc;
}

