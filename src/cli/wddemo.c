/* wddemo.c - `fmnist wd-demo [--out DIR]`: the weight-decay experiment.
 *
 * Trains the tutorials' high-dimensional linear regression (train/wddemo.h)
 * with lambda = 0, lambda = 3 (L2) and an L1 penalty; prints ||w||_2 and the
 * train and test loss every 5 epochs, and writes one chart per setting (train
 * and test loss on a log axis) and the numbers as CSV into OUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/plot.h"
#include "train/wddemo.h"
#include "util/args.h"
#include "util/fileio.h"

typedef struct {
    const char *file, *label;
    WdPenalty pen;
    double lambda;
} WdSetting;

/* Its four files against each other (--lambda 0 names the first chart
 * twice), in a folder it may make: 0, or the exit code after the message. */
static int check_outputs(const char *out, const char *const files[4])
{
    static const char *const ROLES[4] = {"the lambda = 0 chart", "the --lambda chart", "the --l1 chart",
                                         "the numbers"};
    CliFiles in = {0}, outs = {0}, made = {0}; /* no inputs */
    cli_files_add(&made, "the output folder", out, "");
    for (int k = 0; k < 4; k++) {
        char path[FM_PATH_NAME];
        snprintf(path, sizeof path, "%s/%s", out, files[k]);
        cli_files_add(&outs, ROLES[k], path, "");
    }
    int rc = cli_check_files("wd-demo", &in, &outs, &made);
    cli_files_free(&outs);
    cli_files_free(&made);
    return rc;
}

/* Trains setting k, prints its losses every 5 epochs, adds them to csv and
 * writes its chart into out. */
static Status run_setting(const WdDemoConfig *c, const WdSetting *set, int k, const char *out, Buf *csv, Err *e)
{
    WdDemoResult r;
    Status st = wddemo_run(c, set->pen, set->lambda, &r, e);
    if (st) return st;
    printf("\n%s\n%6s %12s %12s %10s\n", set->label, "epoch", "train loss", "test loss", "||w||2");
    for (int ep = 5; ep <= r.epochs; ep += 5)
        printf("%6d %12.6g %12.6g %10.4f\n", ep, r.train_loss[ep - 1], r.test_loss[ep - 1], r.w_norm[ep - 1]);
    for (int ep = 1; ep <= r.epochs; ep++)
        buf_printf(csv, "%s,%d,%.9g,%.9g,%.9g\n", k == 0 ? "none" : k == 1 ? "l2" : "l1", ep, r.train_loss[ep - 1],
                   r.test_loss[ep - 1], r.w_norm[ep - 1]);
    /* the chart: a Curve of the losses; accuracies are not shown */
    int *epochs = malloc((size_t)r.epochs * sizeof *epochs);
    if (!epochs) {
        st = err_set(e, ST_ERR_NOMEM, "out of memory");
    } else {
        for (int ep = 0; ep < r.epochs; ep++) epochs[ep] = ep + 1;
        Curve cv = {.n = r.epochs, .epoch = epochs, .train_loss = r.train_loss, .train_acc = r.train_loss,
                    .test_loss = r.test_loss, .test_acc = r.test_loss, .seconds = r.w_norm};
        PlotRun run = {set->label, &cv};
        PlotMetric m = PLOT_LOSS;
        char path[FM_PATH_NAME], title[128];
        snprintf(path, sizeof path, "%s/%s", out, set->file);
        snprintf(title, sizeof title, "%s (squared loss)", set->label);
        if (!(st = plot_curves_png(path, &run, 1, &m, 1, 1, title, e))) printf("wrote %s\n", path);
        free(epochs);
    }
    wddemo_result_free(&r);
    return st;
}

int cmd_wddemo(int argc, char **argv)
{
    const char *out = "runs/wd-demo";
    int seed = 1;
    float l2 = 3.0f, l1 = 3.0f;
    ArgSpec specs[] = {
        {"out", ARG_STR, &out, 0, 0, "DIR", "where the charts and wd-demo.csv go (default runs/wd-demo)", 0},
        {"seed", ARG_INT, &seed, 0, 2147483647, "N", "seed of the data, the initial w and the shuffles (default 1)", 0},
        {"lambda", ARG_FLOAT, &l2, 0, 1e3, "L", "L2 strength of the decayed run (default 3)", 0},
        {"l1", ARG_FLOAT, &l1, 0, 1e3, "A", "L1 strength of the L1 run (default 3)", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 0, &npos, &help, &e);
    if (st) return cli_usage_error("wd-demo", &e);
    if (help) {
        printf("usage: fmnist wd-demo [--out DIR]\n\nThe weight-decay experiment: linear regression with 200 features "
               "and 20 training samples\n(y = 0.05 + 0.01 sum x + noise), minibatch SGD (batch 5, lr 0.003, 100 "
               "epochs), trained\nwithout a penalty, with L2 (lambda/2 ||w||^2) and with L1 (A ||w||_1). Prints "
               "||w|| and the\nlosses every 5 epochs; writes OUT/wd-lambda0.png, wd-lambdaL.png, wd-l1.png and "
               "wd-demo.csv.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    char f1[64], lab1[64], lab2[64];
    snprintf(f1, sizeof f1, "wd-lambda%g.png", (double)l2);
    const char *const files[4] = {"wd-lambda0.png", f1, "wd-l1.png", "wd-demo.csv"};
    int rc = check_outputs(out, files);
    if (rc) return rc;
    if ((st = file_mkdirs(out, &e)) || (st = file_check_writable(out, &e))) return cli_fail(st, &e);
    snprintf(lab1, sizeof lab1, "L2 penalty, lambda = %g", (double)l2);
    snprintf(lab2, sizeof lab2, "L1 penalty, A = %g", (double)l1);
    const WdSetting set[3] = {{files[0], "no penalty, lambda = 0", WD_PENALTY_L2, 0.0},
                              {files[1], lab1, WD_PENALTY_L2, (double)l2},
                              {files[2], lab2, WD_PENALTY_L1, (double)l1}};
    WdDemoConfig c = wddemo_defaults();
    c.seed = (uint64_t)seed;
    printf("fmnist %s wd-demo: y = 0.05 + 0.01 sum(x) + N(0, %g^2), %d features, %d training and %d test samples;\n"
           "SGD batch %d, lr %g, %d epochs, seed %d. Losses are mean (y_hat - y)^2 / 2, without the penalty.\n",
           FMNIST_VERSION, c.noise, c.dim, c.n_train, c.n_test, c.batch, c.lr, c.epochs, seed);
    Buf csv = {0};
    buf_printf(&csv, "setting,epoch,train_loss,test_loss,w_norm\n");
    for (int k = 0; k < 3 && !st; k++) st = run_setting(&c, &set[k], k, out, &csv, &e);
    char path[FM_PATH_NAME];
    snprintf(path, sizeof path, "%s/wd-demo.csv", out);
    if (!st && csv.failed) st = err_set(&e, ST_ERR_NOMEM, "out of memory");
    if (!st && !(st = file_write_atomic(path, csv.data, csv.len, &e))) printf("wrote %s\n", path);
    buf_free(&csv);
    return st ? cli_fail(st, &e) : 0;
}
