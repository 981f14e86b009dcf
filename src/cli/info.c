/* info.c - `fmnist info FILE.fmw`: a Keras-style summary of a checkpoint.
 *
 * The layers with their output shapes and parameters (and dropout rates),
 * the total, the settings the run was trained with, its progress, the
 * epoch chosen by validation and the per-epoch figures of the log inside
 * the file. Reads the file only; a file the checkpoint reader refuses is an
 * error naming it (exit 1). The words are train/ckptinfo.c's. */
#include <stdio.h>

#include "cli/cli.h"
#include "train/ckptinfo.h"
#include "util/args.h"

/* The summary of ci into stdout; ST_OK or the log's error. */
static Status print_info(const char *path, const CkptInfo *ci, Err *e)
{
    Buf b = {0};
    ckptinfo_header(path, ci, &b);
    if (!b.failed) fwrite(b.data, 1, b.len, stdout);
    b.len = 0;
    fflush(stdout);
    net_summary(ci->net, stdout);
    ckptinfo_settings(ci, &b);
    ckptinfo_progress(ci, &b);
    Status st = ckptinfo_log(path, ci, &b, e);
    if (!st && b.failed) st = err_set(e, ST_ERR_NOMEM, "out of memory for the summary of %s", path);
    if (!st) fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    return st;
}

int cmd_info(int argc, char **argv)
{
    ArgSpec specs[1];
    const char *pos[1];
    int npos, help;
    Err e;
    if (args_parse(argc, argv, specs, 0, pos, 1, &npos, &help, &e)) return cli_usage_error("info", &e);
    if (help) {
        printf("usage: fmnist info FILE.fmw\n\nSummarizes a checkpoint written by train (model.fmw, best.fmw): its "
               "layers with output\nshapes and parameters, the settings it was trained with, its progress, the "
               "epoch chosen\nby validation and the per-epoch figures of the log it holds.\n");
        return 0;
    }
    if (npos != 1) {
        err_set(&e, ST_ERR_ARG, "expected one checkpoint file (FILE.fmw), got %d", npos);
        return cli_usage_error("info", &e);
    }
    CkptInfo ci;
    Status st = ckptinfo_load(pos[0], 1, &ci, &e);
    if (st) return cli_fail(st, &e);
    if (ci.settings_status) { /* a settings text the reader refuses: the file is malformed */
        st = ci.settings_status;
        e = ci.settings_err;
    } else {
        st = print_info(pos[0], &ci, &e);
    }
    ckptinfo_free(&ci);
    return st ? cli_fail(st, &e) : 0;
}
