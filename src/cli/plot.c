/* plot.c - `fmnist plot A/log.csv B/log.csv -o out.png`: the curves of any
 * training logs overlaid in one PNG or SVG (by -o's extension), loss
 * (optionally on a log axis), accuracy, or both side by side. Each run is labelled with the folder that
 * holds its log.csv (or the file's name otherwise), or with its --label. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "report/plot.h"
#include "train/sweep.h"
#include "util/args.h"

#define PLOT_MAX_LOGS 64

/* "runs/a/log.csv" -> "a"; "x/b.csv" -> "b.csv". */
static void run_label(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (!strcmp(base, "log.csv") && slash) {
        const char *start = slash;
        while (start > path && start[-1] != '/') start--;
        if (slash > start) {
            snprintf(buf, len, "%.*s", (int)(slash - start), start);
            return;
        }
    }
    snprintf(buf, len, "%s", base);
}

int cmd_plot(int argc, char **argv)
{
    const char *out = NULL, *metric = "loss", *title = NULL;
    int logy = 0;
    StrList names = {0};
    ArgSpec specs[] = {
        {"out", ARG_STR, &out, 0, 0, "FILE.png|svg", "the chart to write, PNG or SVG by its extension (also -o)", 0},
        {"metric", ARG_STR, &metric, 0, 0, "WHAT", "loss | acc | both (default loss)", 0},
        {"logy", ARG_SWITCH, &logy, 0, 0, NULL, "logarithmic loss axis (with both: the loss panel's)", 0},
        {"title", ARG_STR, &title, 0, 0, "TEXT",
         "chart title (default: the metric); with both, the figure's title above the two panels", 0},
        {"label", ARG_STRS, &names, 0, 0, "NAME",
         "the legend's name of a log instead of its folder; repeat once per log, in order", 0},
    };
    /* -o is the one short flag: the usual spelling for an output file */
    char *args[256];
    if (argc > 255) argc = 255;
    for (int i = 0; i < argc; i++) args[i] = !strcmp(argv[i], "-o") ? "--out" : argv[i];
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[PLOT_MAX_LOGS];
    Err e;
    Status st = args_parse(argc, args, specs, nspecs, pos, PLOT_MAX_LOGS, &npos, &help, &e);
    if (st) return cli_usage_error("plot", &e);
    if (help) {
        printf("usage: fmnist plot LOG.csv [LOG.csv ..] -o FILE.png|FILE.svg [--metric loss|acc|both]\n"
               "                  [--logy] [--title TEXT] [--label NAME ..]\n\n"
               "Charts the train (dashed), validation (dotted, when the log has it) and test (solid)\n"
               "curves of training logs, one colour per log, named by its folder or its --label.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    PlotMetric m[2];
    int nm;
    if (!strcmp(metric, "loss")) m[0] = PLOT_LOSS, nm = 1;
    else if (!strcmp(metric, "acc")) m[0] = PLOT_ACC, nm = 1;
    else if (!strcmp(metric, "both")) m[0] = PLOT_LOSS, m[1] = PLOT_ACC, nm = 2;
    else {
        err_set(&e, ST_ERR_ARG, "--metric: expected loss, acc or both, got '%s'", metric);
        return cli_usage_error("plot", &e);
    }
    if (!npos || !out) {
        err_set(&e, ST_ERR_ARG, "%s", !npos ? "give at least one log.csv" : "-o FILE.png (or FILE.svg) is required");
        return cli_usage_error("plot", &e);
    }
    if (logy && m[0] == PLOT_ACC && nm == 1) {
        err_set(&e, ST_ERR_ARG, "--logy: the accuracy chart has no loss axis to put on a log scale (use --metric "
                                "loss or both)");
        return cli_usage_error("plot", &e);
    }
    if (names.n && names.n != npos) {
        err_set(&e, ST_ERR_ARG, "--label: %d given for %d logs; give one per log, in order", names.n, npos);
        return cli_usage_error("plot", &e);
    }
    CliFiles in = {0}, outs = {0};
    for (int i = 0; i < npos; i++) cli_files_add(&in, "the log", pos[i], "");
    cli_files_add(&outs, "-o", out, "");
    int rc = cli_check_files("plot", &in, &outs, NULL);
    cli_files_free(&in);
    cli_files_free(&outs);
    if (rc) return rc;
    DrawFormat fmt = DRAW_PNG; /* after the checks against the inputs: "-o log.csv" is named as such */
    if (draw_format("-o", out, &fmt, &e)) return cli_usage_error("plot", &e);
    Curve curves[PLOT_MAX_LOGS];
    char labels[PLOT_MAX_LOGS][160];
    PlotRun runs[PLOT_MAX_LOGS];
    int nread = 0;
    for (; nread < npos; nread++) {
        if ((st = curve_read(pos[nread], &curves[nread], &e))) break;
        if ((st = plot_check_curve(&curves[nread], pos[nread], m, nm, &e))) {
            nread++;
            break;
        }
        if (names.n) snprintf(labels[nread], sizeof labels[nread], "%s", names.v[nread]);
        else run_label(pos[nread], labels[nread], sizeof labels[nread]);
        runs[nread] = (PlotRun){labels[nread], &curves[nread]};
    }
    if (!st) st = plot_curves_png(out, runs, npos, m, nm, logy, title, &e);
    for (int i = 0; i < nread; i++) curve_free(&curves[i]);
    if (st) return cli_fail(st, &e);
    printf("wrote %s\n", out);
    return 0;
}
