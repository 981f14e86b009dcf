/* sweep.c - `fmnist sweep`: one model trained under several dropout and
 * weight-decay settings (repeated flags, cross product), one folder per
 * setting under --out, then the comparison table (printed, summary.csv,
 * summary.md) and charts (compare_loss.png, compare_acc.png). The work is
 * train/sweep.c's; this file parses flags and prints progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trainflags.h"
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

/* The model file and the data against every file of the sweep (val: the
 * runs hold out a validation set, so each writes best-val.fmw too): 0, or
 * the exit code after the message. */
static int check_files(const char *model, const char *data, const char *out, const SweepPoint *points, int npoints,
                       int val)
{
    CliFiles in = {0}, outs = {0}, made = {0};
    cli_files_add(&made, "the output folder", out, "");
    cli_files_add(&in, "the model file --model", model, "");
    cli_files_add_data(&in, data);
    static const char *const RUN[5][2] = {{"the checkpoint", "model.fmw"}, {"the best checkpoint", "best.fmw"},
                                          {"the log", "log.csv"}, {"the chart", "curves.png"},
                                          {"the best-validation checkpoint", "best-val.fmw"}};
    static const char *const SWEEP[4][2] = {{"the summary", "summary.csv"}, {"the summary", "summary.md"},
                                            {"the chart", "compare_loss.png"}, {"the chart", "compare_acc.png"}};
    char path[FM_PATH_NAME + FM_NAME];
    for (int i = 0; i < npoints; i++)
        for (int k = 0; k < (val ? 5 : 4); k++) {
            snprintf(path, sizeof path, "%.*s/%.*s/%s", FM_PATH - 1, out, FM_NAME - 1, points[i].name, RUN[k][1]);
            cli_files_add(&outs, RUN[k][0], path, "");
            if (!k) { /* each setting's folder */
                snprintf(path, sizeof path, "%.*s/%.*s", FM_PATH - 1, out, FM_NAME - 1, points[i].name);
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

/* The flags of `sweep`: its axes, the training flags' table
 * (cli/trainflags.c) but for the two axes, and its own. specs point into
 * the struct: do not copy it. */
typedef struct {
    FloatLists dropout, wd;
    TrainFlags f;
    const char *out;
    int logy;
    ArgSpec specs[TRAINFLAGS_MAX + 4];
    int nspecs;
} SweepArgs;

/* -1 to go on, else the exit code (0 after --help). */
static int sweep_parse(int argc, char **argv, SweepArgs *a)
{
    memset(a, 0, sizeof *a);
    a->f = trainflags_defaults();
    a->specs[0] = (ArgSpec){"dropout", ARG_FLOAT_LISTS, &a->dropout, 0, 0.9999, "P1,P2,..",
                            "one setting's dropout rates, in model-file order; repeat per setting", 0};
    a->specs[1] = (ArgSpec){"weight-decay", ARG_FLOAT_LISTS, &a->wd, 0, 1e3, "L",
                            "a weight decay to compare; repeat the flag (or L1,L2,..)", 0};
    a->nspecs = 2 + trainflags_specs(&a->f, TRAINFLAGS_BUT_AXES, a->specs + 2);
    a->specs[a->nspecs++] = (ArgSpec){"out", ARG_STR, &a->out, 0, 0, "DIR",
                                      "folder of the sweep (default runs/sweep-TIME)", 0};
    a->specs[a->nspecs++] = (ArgSpec){"logy", ARG_SWITCH, &a->logy, 0, 0, NULL,
                                      "compare_loss.png with a logarithmic loss axis", 0};
    int npos, help;
    const char *pos[1];
    Err e;
    if (args_parse(argc, argv, a->specs, a->nspecs, pos, 0, &npos, &help, &e)) return cli_usage_error("sweep", &e);
    if (help) {
        printf("usage: fmnist sweep --dropout P1,P2 [--dropout P1,P2 ..] [--weight-decay L ..] [flags]\n\n"
               "Trains the model once per setting (the cross product of the --dropout and --weight-decay\n"
               "values), each in OUT/SETTING/ (log.csv, model.fmw, curves.png) with every other training\n"
               "flag as given; runs whose folder holds a finished run are skipped. Then prints the\n"
               "comparison and writes OUT/summary.csv, OUT/summary.md, OUT/compare_loss.png and\n"
               "OUT/compare_acc.png.\n\n");
        args_print_help(a->specs, a->nspecs, stdout);
        return 0;
    }
    return -1;
}

/* A sweep: its settings, data and folder. */
typedef struct {
    SweepSpec spec;
    SweepPoint points[SWEEP_MAX_RUNS];
    Net *net;                 /* the last setting's net: it checks the data for all */
    TrainData data;
    char outbase[FM_PATH], outbuf[FM_PATH];
} SweepJob;

/* The settings (the runs' common ones and the cross product of the axes),
 * every setting's net built once to check that it fits the model. Returns
 * 0 or the exit code. */
static int sweep_build(const SweepArgs *a, SweepJob *j)
{
    Err e;
    Status st = trainflags_run(&a->f, a->specs, a->nspecs, &j->spec.base, &e);
    if (st) return cli_usage_error("sweep", &e);
    float wds[ARGS_MAX_LISTS * ARGS_MAX_FLOATS];
    int nwd = 0;
    for (int i = 0; i < a->wd.n; i++)
        for (int k = 0; k < a->wd.v[i].n; k++) wds[nwd++] = a->wd.v[i].v[k];
    if ((st = sweep_plan(a->dropout.v, a->dropout.n, wds, nwd, j->points, SWEEP_MAX_RUNS, &j->spec.npoints, &e)))
        return cli_usage_error("sweep", &e);
    j->spec.points = j->points;
    j->spec.logy = a->logy;
    if (cli_set_threads("sweep", a->f.threads)) return EXIT_USAGE;
    for (int i = 0; i < j->spec.npoints; i++) { /* every setting must fit the model before the data is loaded */
        net_free(j->net);
        j->net = NULL;
        if ((st = run_build_net(a->f.model, j->points[i].dropout, j->points[i].ndropout, a->f.batch, &j->net, &e)))
            return st == ST_ERR_ARG ? cli_usage_error("sweep", &e) : cli_fail(st, &e);
    }
    return 0;
}

/* The files against runs/sweep-TIME (or --out), the data against the net;
 * a default folder is made (new, with -2.. if taken) only once all passed.
 * Returns 0 or the exit code. */
static int sweep_check(const SweepArgs *a, SweepJob *j)
{
    const char *out = a->out;
    if (!out) {
        cli_default_out_base("sweep", j->outbase, sizeof j->outbase);
        out = j->outbase;
    }
    int rc = check_files(a->f.model, a->f.data, out, j->points, j->spec.npoints, a->f.val > 0);
    if (rc) return rc;
    Err e;
    Status st = trainflags_load_data(&a->f, &j->data, &e);
    if (st) return st == ST_ERR_ARG ? cli_usage_error("sweep", &e) : cli_fail(st, &e);
    if (a->f.val) j->spec.base.train.val = &j->data.val;
    if ((st = train_check_sets(j->net, &j->data.train, &j->data.test, &e)) ||
        (!a->out && (st = cli_default_out_create(j->outbase, j->outbuf, sizeof j->outbuf, &e))))
        return cli_fail(st, &e);
    j->spec.base.out = a->out ? a->out : j->outbuf;
    return 0;
}

/* Trains every setting, then prints the comparison. Returns the exit code. */
static int sweep_go(const SweepArgs *a, SweepJob *j)
{
    const TrainFlags *f = &a->f;
    const char *out = j->spec.base.out;
    int n = j->spec.npoints;
    printf("fmnist %s sweep: %s, %d run%s of %d epochs, %d training and %d test images from %s, optimizer %s lr %g, "
           "batch %d, seed %d, %d thread%s; writing %s\n",
           FMNIST_VERSION, f->model, n, n == 1 ? "" : "s", f->epochs, j->data.train.n, j->data.test.n, j->data.dir,
           f->optim, (double)f->lr, f->batch, f->seed, cli_max_threads(), cli_max_threads() == 1 ? "" : "s", out);
    fflush(stdout);
    CliProgress pr = {.progress = !f->no_progress && isatty(STDERR_FILENO), .batch = f->batch, .epochs = f->epochs};
    SweepHooks hooks = {on_run, NULL, {cli_on_batch, cli_on_epoch, &pr, &cli_signal, NULL}};
    SweepRow rows[SWEEP_MAX_RUNS];
    Err e;
    cli_catch_signals();
    Status st = sweep_execute(&j->spec, &j->data.train, &j->data.test, &hooks, rows, &e);
    if (pr.progress) report_progress_clear(stderr);
    if (st == ST_ERR_INTERRUPTED) {
        fprintf(stderr, "fmnist: %s; finished runs are kept: run the same command again to go on\n", e.msg);
        return 128 + (int)cli_signal;
    }
    if (st) return cli_fail(st, &e);
    Buf b = {0};
    sweep_table(rows, n, SWEEP_TEXT, &b);
    if (b.failed) st = err_set(&e, ST_ERR_NOMEM, "out of memory for the table");
    else printf("\n%s", b.data ? b.data : "");
    buf_free(&b);
    if (st) return cli_fail(st, &e);
    printf("(loss gap: test loss - train loss; acc gap: train acc - test acc; train figures with dropout on)\n"
           "wrote %s/summary.csv, %s/summary.md, %s/compare_loss.png and %s/compare_acc.png\n",
           out, out, out, out);
    return 0;
}

/* parse -> build -> check -> run. */
int cmd_sweep(int argc, char **argv)
{
    SweepArgs *a = malloc(sizeof *a);
    SweepJob *j = calloc(1, sizeof *j);
    Err e;
    int rc = !a || !j ? cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e) : sweep_parse(argc, argv, a);
    if (rc < 0 && !(rc = sweep_build(a, j)) && !(rc = sweep_check(a, j))) {
        net_free(j->net); /* the runs build their own */
        j->net = NULL;
        rc = sweep_go(a, j);
    }
    if (j) {
        net_free(j->net);
        train_data_free(&j->data);
    }
    free(j);
    free(a);
    return rc;
}
