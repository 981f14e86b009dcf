/* wddemo.c - `fmnist wd-demo [--out DIR]`: the weight-decay experiment.
 *
 * Trains the tutorials' high-dimensional linear regression (train/wddemo.h)
 * with lambda = 0, lambda = 3 (L2) and an L1 penalty; prints ||w||_2 and the
 * train and test loss every 5 epochs, and writes one figure (report/wdchart.h)
 * and the numbers as CSV into OUT. An earlier demo in OUT is refused, or with
 * --overwrite replaced: its own files only (train/wddemo.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "report/wdchart.h"
#include "train/wddemo.h"
#include "util/args.h"
#include "util/fileio.h"

typedef struct {
    const char *label;
    WdPenalty pen;
    double lambda;
} WdSetting;

/* The demo's files, in OUT. */
#define WD_FIGURE "wd-demo.png"
#define WD_CSV "wd-demo.csv"

/* Its files against each other and against the folder it may make: 0, or
 * the exit code after the message. */
static int check_outputs(const char *out, const char *const files[2])
{
    static const char *const ROLES[2] = {"the figure", "the numbers"};
    CliFiles in = {0}, outs = {0}, made = {0}; /* no inputs */
    cli_files_add(&made, "the output folder", out, "");
    for (int k = 0; k < 2; k++) {
        char path[FM_PATH_NAME];
        snprintf(path, sizeof path, "%s/%s", out, files[k]);
        cli_files_add(&outs, ROLES[k], path, "");
    }
    int rc = cli_check_files("wd-demo", &in, &outs, &made);
    cli_files_free(&outs);
    cli_files_free(&made);
    return rc;
}

/* Trains setting k, prints its losses every 5 epochs and adds them to csv. */
static Status run_setting(const WdDemoConfig *c, const WdSetting *set, int k, WdDemoResult *r, Buf *csv, Err *e)
{
    Status st = wddemo_run(c, set->pen, set->lambda, r, e);
    if (st) return st;
    printf("\n%s\n%6s %12s %12s %10s\n", set->label, "epoch", "train loss", "test loss", "||w||2");
    for (int ep = 5; ep <= r->epochs; ep += 5)
        printf("%6d %12.6g %12.6g %10.4f\n", ep, r->train_loss[ep - 1], r->test_loss[ep - 1], r->w_norm[ep - 1]);
    for (int ep = 1; ep <= r->epochs; ep++)
        buf_printf(csv, "%s,%d,%.9g,%.9g,%.9g\n", k == 0 ? "none" : k == 1 ? "l2" : "l1", ep, r->train_loss[ep - 1],
                   r->test_loss[ep - 1], r->w_norm[ep - 1]);
    return ST_OK;
}

int cmd_wddemo(int argc, char **argv)
{
    const char *out = "runs/wd-demo";
    int seed = 1, overwrite = 0;
    float l2 = 3.0f, l1 = 3.0f;
    ArgSpec specs[] = {
        {"out", ARG_STR, &out, 0, 0, "DIR", "where wd-demo.png and wd-demo.csv go (default runs/wd-demo)", 0},
        {"seed", ARG_INT, &seed, 0, 2147483647, "N", "seed of the data, the initial w and the shuffles (default 1)", 0},
        {"lambda", ARG_FLOAT, &l2, 0, 1e3, "L", "L2 strength of the decayed run (default 3)", 0},
        {"l1", ARG_FLOAT, &l1, 0, 1e3, "A", "L1 strength of the L1 run (default 3)", 0},
        {"overwrite", ARG_SWITCH, &overwrite, 0, 0, NULL,
         "replace an earlier demo in --out: its files only (others stay)", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 0, &npos, &help, &e);
    if (st) return cli_usage_error("wd-demo", &e);
    if (help) {
        printf("usage: fmnist wd-demo [--out DIR] [--overwrite]\n\nThe weight-decay experiment: linear regression "
               "with 200 features and 20 training samples\n(y = 0.05 + 0.01 sum x + noise), minibatch SGD (batch 5, "
               "lr 0.003, 100 epochs), trained\nwithout a penalty, with L2 (lambda/2 ||w||^2) and with L1 (A "
               "||w||_1). Prints ||w|| and the\nlosses every 5 epochs; writes OUT/wd-demo.png (one figure: the "
               "losses of each run on one\nshared axis, ||w|| per epoch, a histogram of the final weights) and "
               "OUT/wd-demo.csv.\nA folder that holds an earlier demo is refused unless --overwrite is given, which "
               "removes\nthe earlier demo's charts and numbers (and nothing else).\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    const char *const files[2] = {WD_FIGURE, WD_CSV};
    int rc = check_outputs(out, files);
    if (rc) return rc;
    if ((st = wddemo_check_folder(out, files, 2, overwrite, &e))) return cli_fail(st, &e);
    if ((st = file_mkdirs(out, &e)) || (st = file_check_writable(out, &e))) return cli_fail(st, &e);
    char lab1[64], lab2[64];
    snprintf(lab1, sizeof lab1, "L2 penalty, lambda = %g", (double)l2);
    snprintf(lab2, sizeof lab2, "L1 penalty, A = %g", (double)l1);
    const WdSetting set[3] = {{"no penalty, lambda = 0", WD_PENALTY_L2, 0.0},
                              {lab1, WD_PENALTY_L2, (double)l2},
                              {lab2, WD_PENALTY_L1, (double)l1}};
    WdDemoConfig c = wddemo_defaults();
    c.seed = (uint64_t)seed;
    printf("fmnist %s wd-demo: y = 0.05 + 0.01 sum(x) + N(0, %g^2), %d features, %d training and %d test samples;\n"
           "SGD batch %d, lr %g, %d epochs, seed %d. Losses are mean (y_hat - y)^2 / 2, without the penalty.\n",
           FMNIST_VERSION, c.noise, c.dim, c.n_train, c.n_test, c.batch, c.lr, c.epochs, seed);
    Buf csv = {0};
    buf_printf(&csv, "setting,epoch,train_loss,test_loss,w_norm\n");
    WdDemoResult res[3];
    memset(res, 0, sizeof res);
    for (int k = 0; k < 3 && !st; k++) st = run_setting(&c, &set[k], k, &res[k], &csv, &e);
    char path[FM_PATH_NAME];
    if (!st) {
        WdChartRun runs[3];
        for (int k = 0; k < 3; k++)
            runs[k] = (WdChartRun){set[k].label, res[k].epochs, res[k].train_loss, res[k].test_loss, res[k].w_norm,
                                   res[k].w, res[k].dim, set[k].lambda > 0};
        char title[160], sub[256];
        snprintf(title, sizeof title, "Weight decay: linear regression, %d features, %d training samples", c.dim,
                 c.n_train);
        snprintf(sub, sizeof sub, "SGD (batch %d, lr %g), seed %d; losses (y_hat - y)^2 / 2 without the penalty: "
                 "train dashed, test solid", c.batch, c.lr, seed);
        WdChartText text = {title, sub, WDDEMO_TRUE_W};
        snprintf(path, sizeof path, "%s/%s", out, WD_FIGURE);
        if (!(st = wdchart_write(path, runs, 3, &text, &e))) printf("wrote %s\n", path);
    }
    for (int k = 0; k < 3; k++) wddemo_result_free(&res[k]);
    snprintf(path, sizeof path, "%s/%s", out, WD_CSV);
    if (!st && csv.failed) st = err_set(&e, ST_ERR_NOMEM, "out of memory");
    if (!st && !(st = file_write_atomic(path, csv.data, csv.len, &e))) printf("wrote %s\n", path);
    buf_free(&csv);
    int removed = 0;
    if (!st && !(st = wddemo_remove_stale(out, files, 2, &removed, &e)) && removed)
        printf("removed %d file%s of the earlier demo in %s\n", removed, removed == 1 ? "" : "s", out);
    return st ? cli_fail(st, &e) : 0;
}
