/* sweep.c - `fmnist sweep`: one model trained under several dropout and
 * weight-decay settings (repeated flags, cross product), one folder per
 * setting under --out, then the comparison table (printed, summary.csv,
 * summary.md) and charts (compare_loss.png, compare_acc.png). The work is
 * train/sweep.c's; this file parses flags and prints progress. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "report/log.h"
#include "train/sweep.h"
#include "util/args.h"

static void on_run(void *ctx, int i, int n, const SweepPoint *p, const char *dir, int skip, const Net *net)
{
    (void)ctx, (void)net;
    if (skip) printf("\nrun %d/%d: %s: finished earlier in %s, skipped\n", i + 1, n, p->name, dir);
    else printf("\nrun %d/%d: %s -> %s\n", i + 1, n, p->name, dir);
    fflush(stdout);
}

/* The model file and the data against every file of the sweep: 0, or the
 * exit code after the message. */
static int check_files(const char *model, const char *data, const char *out, const SweepPoint *points, int npoints)
{
    CliFiles in = {0}, outs = {0}, made = {0};
    cli_files_add(&made, "the output folder", out, "");
    cli_files_add(&in, "the model file --model", model, "");
    cli_files_add_data(&in, data);
    static const char *const RUN[4][2] = {{"the checkpoint", "model.fmw"}, {"the best checkpoint", "best.fmw"},
                                          {"the log", "log.csv"}, {"the chart", "curves.png"}};
    static const char *const SWEEP[4][2] = {{"the summary", "summary.csv"}, {"the summary", "summary.md"},
                                            {"the chart", "compare_loss.png"}, {"the chart", "compare_acc.png"}};
    char path[4400];
    for (int i = 0; i < npoints; i++)
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "%.4000s/%.160s/%s", out, points[i].name, RUN[k][1]);
            cli_files_add(&outs, RUN[k][0], path, "");
            if (!k) { /* each setting's folder */
                snprintf(path, sizeof path, "%.4000s/%.160s", out, points[i].name);
                cli_files_add(&made, "the folder", path, "");
            }
        }
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", out, SWEEP[k][1]);
        cli_files_add(&outs, SWEEP[k][0], path, "");
    }
    int rc = cli_check_files("sweep", &in, &outs, &made);
    cli_files_free(&in);
    cli_files_free(&outs);
    cli_files_free(&made);
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    const char *model = "models/mlp.cfg", *optim = "adam", *data = NULL, *out = NULL;
    int epochs = 10, batch = 128, seed = 1, threads = 0, train_limit = 0, decay_bias = 0, no_progress = 0, logy = 0;
    float lr = 1e-3f;
    FloatLists dropout = {0}, wd = {0};
    ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, 0, "FILE", "model file (default models/mlp.cfg)", 0},
        {"dropout", ARG_FLOAT_LISTS, &dropout, 0, 0.9999, "P1,P2,..",
         "one setting's dropout rates, in model-file order; repeat per setting", 0},
        {"weight-decay", ARG_FLOAT_LISTS, &wd, 0, 1e3, "L", "a weight decay to compare; repeat the flag (or L1,L2,..)",
         0},
        {"epochs", ARG_INT, &epochs, 1, 100000, "N", "epochs per run (default 10)", 0},
        {"batch", ARG_INT, &batch, 1, 65536, "N", "mini-batch size (default 128)", 0},
        {"optim", ARG_STR, &optim, 0, 0, "NAME", "sgd | adam | adamw (default adam)", 0},
        {"lr", ARG_FLOAT, &lr, 0, 1e3, "X", "learning rate (default 1e-3)", 0},
        {"decay-bias", ARG_SWITCH, &decay_bias, 0, 0, NULL, "apply weight decay to biases too", 0},
        {"seed", ARG_INT, &seed, 0, 2147483647, "N", "random seed, the same for every run (default 1)", 0},
        {"threads", ARG_INT, &threads, 1, CLI_MAX_THREADS, "N", CLI_THREADS_HELP, 0},
        {"data", ARG_STR, &data, 0, 0, "DIR", "folder with the IDX files (default: see README)", 0},
        {"train-limit", ARG_INT, &train_limit, 1, 2147483647, "N", "use only the first N training images", 0},
        {"out", ARG_STR, &out, 0, 0, "DIR", "folder of the sweep (default runs/sweep-TIME)", 0},
        {"logy", ARG_SWITCH, &logy, 0, 0, NULL, "compare_loss.png with a logarithmic loss axis", 0},
        {"no-progress", ARG_SWITCH, &no_progress, 0, 0, NULL, "no progress bar, even on a terminal", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 0, &npos, &help, &e);
    if (st) return cli_usage_error("sweep", &e);
    if (help) {
        printf("usage: fmnist sweep --dropout P1,P2 [--dropout P1,P2 ..] [--weight-decay L ..] [flags]\n\n"
               "Trains the model once per setting (the cross product of the --dropout and --weight-decay\n"
               "values), each in OUT/SETTING/ (log.csv, model.fmw, curves.png); runs whose folder holds\n"
               "a finished run are skipped. Then prints the comparison and writes OUT/summary.csv,\n"
               "OUT/summary.md, OUT/compare_loss.png and OUT/compare_acc.png.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    TrainConfig tc = {.epochs = epochs, .batch = batch, .seed = (uint64_t)seed, .opt = optim_defaults()};
    if (!optim_parse_kind(optim, &tc.opt.kind)) {
        err_set(&e, ST_ERR_ARG, "--optim: expected sgd, adam or adamw, got '%s'", optim);
        return cli_usage_error("sweep", &e);
    }
    tc.opt.lr = lr;
    tc.opt.decay_bias = decay_bias;
    float wds[ARGS_MAX_LISTS * ARGS_MAX_FLOATS];
    int nwd = 0;
    for (int i = 0; i < wd.n; i++)
        for (int j = 0; j < wd.v[i].n; j++) wds[nwd++] = wd.v[i].v[j];
    SweepPoint points[SWEEP_MAX_RUNS];
    int npoints;
    if ((st = sweep_plan(dropout.v, dropout.n, wds, nwd, points, SWEEP_MAX_RUNS, &npoints, &e)))
        return cli_usage_error("sweep", &e);
    if (cli_set_threads("sweep", threads)) return EXIT_USAGE;

    /* every setting must fit the model before the data is loaded */
    Net *net = NULL;
    for (int i = 0; i < npoints; i++) {
        net_free(net);
        if ((st = run_build_net(model, points[i].dropout, points[i].ndropout, batch, &net, &e)))
            return st == ST_ERR_ARG ? cli_usage_error("sweep", &e) : cli_fail(st, &e);
    }
    /* the files checked against runs/sweep-TIME; the folder is made (new,
     * with -2.. if taken) only once the data has passed its checks too */
    char outbuf[4096], outbase[4096];
    if (!out) {
        cli_default_out_base("sweep", outbase, sizeof outbase);
        out = outbase;
    }
    if ((st = check_files(model, data, out, points, npoints))) {
        net_free(net);
        return st;
    }
    Dataset train = {0}, test = {0};
    char data_dir[4096];
    /* every setting shares the model's input and outputs: one net checks the data for all */
    if ((st = cli_load_data(data, DATA_MAX_CLASSES, train_limit, &train, &test, data_dir, sizeof data_dir, &e)) ||
        (st = train_check_data(net, &train, "training", &e)) || (st = train_check_data(net, &test, "test", &e)) ||
        (out == outbase && (st = cli_default_out_create(outbase, outbuf, sizeof outbuf, &e)))) {
        net_free(net);
        dataset_free(&train);
        dataset_free(&test);
        return cli_fail(st, &e);
    }
    net_free(net);
    if (out == outbase) out = outbuf;
    printf("fmnist %s sweep: %s, %d run%s of %d epochs, %d training and %d test images from %s, optimizer %s lr %g, "
           "batch %d, seed %d, %d thread%s; writing %s\n",
           FMNIST_VERSION, model, npoints, npoints == 1 ? "" : "s", epochs, train.n, test.n, data_dir, optim,
           (double)lr, batch, seed, cli_max_threads(),
           cli_max_threads() == 1 ? "" : "s", out);
    fflush(stdout);

    SweepSpec spec = {.base = {.model = model, .train = tc, .out = out},
                      .points = points,
                      .npoints = npoints,
                      .logy = logy};
    CliProgress pr = {.progress = !no_progress && isatty(STDERR_FILENO), .batch = batch, .epochs = epochs};
    SweepHooks hooks = {on_run, NULL, {cli_on_batch, cli_on_epoch, &pr, &cli_signal, NULL}};
    SweepRow rows[SWEEP_MAX_RUNS];
    cli_catch_signals();
    st = sweep_execute(&spec, &train, &test, &hooks, rows, &e);
    if (pr.progress) report_progress_clear(stderr);
    int rc = 0;
    if (st == ST_ERR_INTERRUPTED) {
        fprintf(stderr, "fmnist: %s; finished runs are kept: run the same command again to go on\n", e.msg);
        rc = 128 + (int)cli_signal;
    } else if (st) {
        rc = cli_fail(st, &e);
    } else {
        Buf b = {0};
        sweep_table(rows, npoints, SWEEP_TEXT, &b);
        printf("\n%s", b.data ? b.data : "");
        printf("(loss gap: test loss - train loss; acc gap: train acc - test acc; train figures with dropout on)\n"
               "wrote %s/summary.csv, %s/summary.md, %s/compare_loss.png and %s/compare_acc.png\n",
               out, out, out, out);
        buf_free(&b);
    }
    dataset_free(&train);
    dataset_free(&test);
    return rc;
}
