/* sweep.h - one model trained under several settings, compared.
 *
 * The settings are the cross product of dropout-rate lists and weight-decay
 * values; each run trains in its own folder under the sweep's folder, named
 * after its setting ("dropout0.3-0.5_wd1e-4"), through run.h like `train`.
 * A folder that already holds the finished run (same settings, every epoch
 * in its log) is skipped, so an interrupted sweep can simply be re-run. The
 * results become a table (text, CSV, Markdown) and two overlaid charts. */
#ifndef FMNIST_SWEEP_H
#define FMNIST_SWEEP_H

#include "report/curve.h"
#include "train/run.h"
#include "util/args.h"
#include "util/fileio.h"

#define SWEEP_MAX_RUNS 64

typedef struct {
    char name[160];                /* the run's folder name                    */
    int ndropout;                  /* 0: the model file's dropout rates        */
    float dropout[ARGS_MAX_FLOATS];
    int has_wd;                    /* 0: the base weight decay                 */
    float wd;
} SweepPoint;

/* The cross product of dropout[0..nd) and wd[0..nwd), dropout-major (all
 * weight decays of the first dropout list first). nd = 0 or nwd = 0 leaves
 * that axis at the base setting and out of the names; at least one must be
 * > 0, and nd * nwd <= max. Names join the rates with '-' and the axes with
 * '_' ("dropout0-0", "wd1e-4", "dropout0.3-0.5_wd0"). Errors: ST_ERR_ARG
 * (nothing to sweep, too many runs, the same setting twice). */
Status sweep_plan(const FloatList *dropout, int nd, const float *wd, int nwd, SweepPoint *pts, int max, int *n,
                  Err *e);

/* v written as briefly as it reads back: the shorter of "%g" and a compact
 * exponent form ("1e-4" rather than "0.0001", "0.3" rather than "3e-1"). */
void sweep_format_number(double v, char *buf, size_t len);

typedef enum {
    SWEEP_DIR_EMPTY,    /* neither log.csv nor model.fmw: train           */
    SWEEP_DIR_PARTIAL,  /* a run with these settings, unfinished: retrain */
    SWEEP_DIR_FINISHED, /* log.csv has exactly `epochs` rows: skip        */
    SWEEP_DIR_OTHER     /* model.fmw holds a run with other settings      */
} SweepDirState;

/* The state of a run folder for a run of `epochs` epochs whose checkpoint
 * settings would be meta: its META lines (run_meta) then its REG lines
 * (regopts_format), which the checkpoint's META and REG sections are
 * compared with; meta NULL skips the settings check. The META lines
 * "epoch=" (progress) are ignored in the comparison. *why (if not NULL, len
 * bytes) says what differs for SWEEP_DIR_OTHER. */
SweepDirState sweep_dir_state(const char *dir, int epochs, const char *meta, char *why, size_t len);

typedef struct {
    char name[160];
    int epochs;
    double final_test_acc, best_test_acc;
    int best_epoch;                          /* epoch of best_test_acc (first) */
    double final_train_loss, final_test_loss;
    double loss_gap;                         /* final test loss - train loss   */
    double acc_gap;                          /* final train acc - test acc     */
    double seconds;                          /* training time, all epochs      */
    int skipped;                             /* finished before this sweep     */
    int has_norm;                            /* the log has weight_norm:       */
    double weight_norm;                      /* its last value                 */
} SweepRow;

/* The row of a run from its log (c->n >= 1, else ST_ERR_FORMAT). */
Status sweep_row(const char *name, const Curve *c, SweepRow *row, Err *e);

typedef enum { SWEEP_TEXT, SWEEP_CSV, SWEEP_MD } SweepFormat;
/* Appends the table of rows[0..n) to b: aligned text for the terminal, CSV
 * (accuracies as fractions) or Markdown (accuracies in percent). When a row
 * has a weight norm, a last column weight_norm ("weight norm") is added
 * (empty for rows whose log has none). */
void sweep_table(const SweepRow *rows, int n, SweepFormat fmt, Buf *b);

typedef struct {
    RunSpec base;                /* model, optimizer and training settings; out =
                                    the sweep's folder; log_path, overwrite unused */
    const SweepPoint *points;
    int npoints;
    int logy;                    /* compare_loss.png with a log y axis */
} SweepSpec;

typedef struct {
    /* Before run i (0-based) of n: its folder, and whether it is skipped
     * (already finished); net is the run's network (for a summary). */
    void (*on_run)(void *ctx, int i, int n, const SweepPoint *p, const char *dir, int skip, const Net *net);
    void *ctx;
    RunHooks run;                /* per-batch and per-epoch progress of each run */
} SweepHooks;

/* Runs the sweep: first checks every point's net against the data
 * (train_check_data) and every folder, creating nothing; then for each point
 * builds the net (model file with the
 * point's dropout rates, initialized from base.train.seed), trains it unless
 * its folder is finished (SWEEP_DIR_OTHER is an error naming the folder),
 * writes DIR/curves.png; then rows[0..npoints) from the logs, OUT/summary.csv,
 * OUT/summary.md, OUT/compare_loss.png and OUT/compare_acc.png. */
Status sweep_execute(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                     SweepRow *rows, Err *e);

#endif
