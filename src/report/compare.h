/* compare.h - a sweep's results as statistics: each run's figures from its
 * log, each setting's mean, sd and 95% interval over its seeds, the setting
 * chosen by validation, and every other setting against it, paired by seed.
 *
 * Nothing here reads a test figure to choose: a run's best epoch is its
 * lowest validation loss, the best setting the lowest mean final validation
 * loss; without validation figures nothing is chosen (best = -1) and the
 * settings are compared with the first one. Test figures are reported only.
 * The difference of two settings is taken seed by seed over the seeds both
 * have (a paired t interval of the mean difference of final test
 * accuracy); with fewer than two shared seeds no statement is made. */
#ifndef FMNIST_COMPARE_H
#define FMNIST_COMPARE_H

#include "report/curve.h"
#include "util/fileio.h"
#include "util/stats.h"

/* A setting of the sweep. */
typedef struct {
    const char *name;   /* its folder name: "dropout0.3-0.5_wd1e-4"            */
    const char *label;  /* in words, for legends and sentences:
                           "dropout 0.3/0.5, wd 1e-4"                         */
} CompareSetting;

/* A run, as the sweep found it on disk. */
typedef struct {
    int setting;        /* index into the settings */
    int seed;
    const Curve *curve; /* its log.csv (at least one row) */
} CompareInput;

/* A run's figures (accuracies as fractions). */
typedef struct {
    int setting, seed, epochs;        /* epochs: rows of its log           */
    double final_train_loss, final_train_acc, final_test_loss, final_test_acc;
    double loss_gap;                  /* final test loss - train loss      */
    double acc_gap;                   /* final train acc - test acc        */
    int has_val;                      /* the log has validation columns:   */
    double final_val_loss, final_val_acc;
    int best_epoch;                   /* lowest validation loss (the first
                                         such); 0 without validation       */
    double best_val_loss;
    double test_acc_at_best;          /* reported beside it, never chosen  */
    double seconds;                   /* training time, all epochs         */
    int has_norm;                     /* the log has weight_norm: its last */
    double weight_norm;
} CompareRun;

/* A setting over its seeds: final figures. */
typedef struct {
    Stat test_acc, test_loss, loss_gap, val_loss; /* val_loss.n == 0 without validation */
    Stat weight_norm;                             /* the logs' last weight_norm (n 0: none) */
    double seconds;                               /* mean training time of a run        */
} CompareAgg;

typedef enum {
    COMPARE_NO_STATEMENT, /* fewer than two shared seeds                      */
    COMPARE_SAME,         /* the interval of the difference includes 0        */
    COMPARE_LOWER,        /* the other setting's test accuracy is lower,
                             distinguishable from seed noise                  */
    COMPARE_HIGHER
} CompareVerdict;

/* A setting against the reference (the best by validation, else the first). */
typedef struct {
    int shared;              /* seeds both ran                               */
    Stat diff;               /* per shared seed: this setting's final test
                                accuracy - the reference's                    */
    Stat val_diff;           /* the same for final validation loss (n 0 without) */
    CompareVerdict verdict;
} ComparePair;

typedef struct {
    int nsettings, nruns;
    const CompareSetting *settings; /* the caller's, not copied             */
    CompareRun *runs;               /* nruns, in input order                */
    CompareAgg *aggs;               /* nsettings                            */
    int best;                       /* by mean final validation loss; -1
                                       without validation figures           */
    int ref;                        /* best, or 0 without validation        */
    ComparePair *pairs;             /* nsettings; pairs[ref] compares it with
                                       itself (shared n, diff 0)            */
} CompareSummary;

/* One run's figures from its log (c->n >= 1, else ST_ERR_FORMAT). */
Status compare_run(const Curve *c, CompareRun *r, Err *e);

/* The summary of runs[0..nruns) over settings[0..nsettings) (every input's
 * setting in range; a setting may have no run: n 0, never best). Errors:
 * ST_ERR_FORMAT (a log without rows), ST_ERR_NOMEM. */
Status compare_summarize(const CompareSetting *settings, int nsettings, const CompareInput *runs, int nruns,
                         CompareSummary *s, Err *e);
void compare_free(CompareSummary *s);

typedef enum { COMPARE_TEXT, COMPARE_CSV, COMPARE_MD } CompareFormat;

/* Appends to b: the per-setting table (n, mean +- sd and the 95% interval
 * of final test accuracy, test loss and gap, mean validation loss), the
 * comparison in words (which setting validation chose and how; each other
 * setting's paired difference, its interval and whether it is
 * distinguishable from seed noise, or why no statement can be made) and
 * the per-run table. CSV: one row per run and one per setting (a `kind`
 * column), accuracies as fractions; TEXT and MD: percent. */
void compare_format(const CompareSummary *s, CompareFormat fmt, Buf *b);

#endif
