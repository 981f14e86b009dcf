/* train.c - `fmnist train`: flags, output folder, per-epoch report and files.
 *
 * Checks the model file and the data before it creates anything; after each
 * epoch rewrites OUT/log.csv and OUT/model.fmw atomically, so an interrupted
 * or failed run keeps its last finished epoch and never touches an earlier
 * run's files. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "model/weights.h"
#include "report/log.h"
#include "train/train.h"
#include "util/args.h"
#include "util/fileio.h"

typedef struct {
    const char *out, *log_path;
    char model_path[4200];
    char meta[2048];
    Buf csv;
    int progress;
    int batch;
} RunFiles;

static void on_batch(void *ctx, int epoch, int done, int total, double elapsed)
{
    RunFiles *rf = ctx;
    (void)epoch;
    if (rf->progress && (done % 8 == 0 || done == total))
        report_progress(stderr, epoch, 0, done, total, rf->batch, elapsed);
}

static Status on_epoch(void *ctx, const EpochStats *s, const Net *net, Err *e)
{
    RunFiles *rf = ctx;
    if (rf->progress) report_progress_clear(stderr);
    report_epoch_line(stdout, s);
    report_csv_row(&rf->csv, s);
    if (rf->csv.failed) return err_set(e, ST_ERR_NOMEM, "out of memory for the log");
    Status st = file_write_atomic(rf->log_path, rf->csv.data, rf->csv.len, e);
    if (st) return st;
    char meta[2300];
    snprintf(meta, sizeof meta, "%sepoch=%d\n", rf->meta, s->epoch);
    return weights_save(rf->model_path, net, meta, e);
}

int cmd_train(int argc, char **argv)
{
    const char *model = "models/mlp.cfg", *optim = "adam", *data = NULL, *out = NULL, *log = NULL;
    int epochs = 10, batch = 128, seed = 1, threads = 0, train_limit = 0, nesterov = 0, decay_bias = 0;
    int overwrite = 0, no_progress = 0;
    float lr = 1e-3f, momentum = 0.0f, wd = 0.0f;
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
        {"decay-bias", ARG_SWITCH, &decay_bias, 0, 0, NULL, "apply weight decay to biases too", 0},
        {"dropout", ARG_FLOATS, &dropout, 0, 0.9999, "P1,P2,..", "dropout rates, in model-file order (0 = off)", 0},
        {"seed", ARG_INT, &seed, 0, 2147483647, "N", "random seed (default 1)", 0},
        {"threads", ARG_INT, &threads, 1, 1024, "N", "OpenMP threads (default: all cores)", 0},
        {"data", ARG_STR, &data, 0, 0, "DIR", "folder with the IDX files (default: see README)", 0},
        {"train-limit", ARG_INT, &train_limit, 1, 2147483647, "N", "use only the first N training images", 0},
        {"out", ARG_STR, &out, 0, 0, "DIR", "output folder (default runs/MODEL-TIME)", 0},
        {"log", ARG_STR, &log, 0, 0, "FILE", "CSV log path (default OUT/log.csv)", 0},
        {"overwrite", ARG_SWITCH, &overwrite, 0, 0, NULL, "allow --out to replace an earlier run", 0},
        {"no-progress", ARG_SWITCH, &no_progress, 0, 0, NULL, "no progress bar, even on a terminal", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 0, &npos, &help, &e);
    if (st) return cli_usage_error("train", &e);
    if (help) {
        printf("usage: fmnist train [flags]\n\nTrains a model on Fashion-MNIST, printing train and test loss and "
               "accuracy every epoch;\nwrites OUT/log.csv and OUT/model.fmw after each epoch.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
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
    cli_set_threads(threads);

    ModelCfg cfg;
    if ((st = cfg_parse_file(model, &cfg, &e))) return cli_fail(st, &e);
    if (dropout.n && (st = cfg_set_dropout(&cfg, dropout.v, dropout.n, &e))) {
        cfg_free(&cfg);
        return cli_usage_error("train", &e);
    }
    Net *net;
    if ((st = net_build(&cfg, batch, &net, &e))) return cli_fail(st, &e);
    Dataset train = {0}, test = {0};
    if ((st = cli_load_data(data, net->nclasses, train_limit, &train, &test, &e))) {
        net_free(net);
        return cli_fail(st, &e);
    }

    /* output folder: never replace an earlier run unless asked */
    char outbuf[4096], logbuf[4200];
    RunFiles rf = {0};
    if (!out) {
        const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
        size_t blen = strcspn(base, ".");
        char stamp[32];
        time_t t = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
        snprintf(outbuf, sizeof outbuf, "runs/%.*s-%s", (int)blen, base, stamp);
        out = outbuf;
    }
    snprintf(rf.model_path, sizeof rf.model_path, "%s/model.fmw", out);
    if (!log) {
        snprintf(logbuf, sizeof logbuf, "%s/log.csv", out);
        log = logbuf;
    }
    int rc = 0;
    if (!overwrite && (file_exists(rf.model_path) || file_exists(log))) {
        err_set(&e, ST_ERR_ARG, "%s already holds a run (%s); choose another --out or add --overwrite", out,
                file_exists(rf.model_path) ? rf.model_path : log);
        rc = cli_fail(ST_ERR_IO, &e);
        goto done;
    }
    if ((st = file_mkdirs(out, &e))) {
        rc = cli_fail(st, &e);
        goto done;
    }
    rf.out = out;
    rf.log_path = log;
    rf.progress = !no_progress && isatty(STDERR_FILENO);
    rf.batch = batch;
    buf_printf(&rf.csv, LOG_CSV_HEADER);
    int dlen = 0;
    char dbuf[1024] = "";
    for (int i = 0; i < net->nlayers; i++)
        if (!strcmp(net->layers[i].spec.kind, "dropout"))
            dlen += snprintf(dbuf + dlen, sizeof dbuf - (size_t)dlen, "%s%g", dlen ? "," : "",
                             (double)net->layers[i].spec.p);
    snprintf(rf.meta, sizeof rf.meta,
             "model=%s\nepochs=%d\nbatch=%d\noptim=%s\nlr=%g\nmomentum=%g\nnesterov=%d\nweight_decay=%g\n"
             "decay_bias=%d\ndropout=%s\nseed=%d\ntrain_limit=%d\n",
             model, epochs, batch, optim, (double)lr, (double)momentum, nesterov, (double)wd, decay_bias, dbuf, seed,
             train.n);

    printf("fmnist %s: %s, %d training and %d test images of %dx%d, %d classes\n", FMNIST_VERSION, model, train.n,
           test.n, train.h, train.w, net->nclasses);
    net_summary(net, stdout);
    printf("optimizer %s lr %g%s, batch %d, %d epochs, seed %d, %d thread%s; writing %s\n", optim, (double)lr,
           wd > 0 ? " with weight decay" : "", batch, epochs, seed, cli_max_threads(), cli_max_threads() == 1 ? "" : "s",
           out);
    fflush(stdout);

    cli_catch_signals();
    net_init(net, (uint64_t)seed);
    TrainHooks hooks = {on_batch, on_epoch, &rf, &cli_signal};
    st = train_run(net, &train, &test, &tc, &hooks, &e);
    if (rf.progress) report_progress_clear(stderr);
    if (st == ST_ERR_INTERRUPTED) {
        fprintf(stderr, "fmnist: %s; the last finished epoch is saved in %s\n", e.msg, rf.model_path);
        rc = 128 + (int)cli_signal;
    } else if (st) {
        rc = cli_fail(st, &e);
    } else {
        printf("saved %s and %s\n", rf.model_path, log);
    }
done:
    buf_free(&rf.csv);
    dataset_free(&train);
    dataset_free(&test);
    net_free(net);
    return rc;
}

