/* curve.h - a training log read back: the per-epoch columns of a log.csv
 * written by `train` (header LOG_CSV_HEADER, one row per epoch), for charts
 * and for the sweep's table. */
#ifndef FMNIST_CURVE_H
#define FMNIST_CURVE_H

#include "util/status.h"

typedef struct {
    int n;                            /* rows (epochs)                          */
    int *epoch;                       /* n epoch numbers, as in the file        */
    double *train_loss, *train_acc;   /* n each; accuracies are fractions       */
    double *test_loss, *test_acc;
    double *seconds;                  /* training time of each epoch            */
    double *weight_norm;              /* n, or NULL: the log has no such column */
    double *val_loss, *val_acc;       /* n each, or NULL (no validation set)    */
} Curve;

/* Reads a log.csv (at most 16 MiB): the exact header (the six columns of
 * LOG_CSV_HEADER, optionally followed by weight_norm and/or val_loss,val_acc:
 * see report_csv_cols), then rows of that many numbers with epochs 1, 2,
 * 3, ... in order; an empty log (header only) is fine. Errors: ST_ERR_IO (cannot read), ST_ERR_FORMAT ("PATH:LINE: ..."),
 * ST_ERR_NOMEM. On failure *c is zeroed. */
Status curve_read(const char *path, Curve *c, Err *e);
/* Parses the text of a log (path only names it in messages). */
Status curve_parse(const char *path, const char *text, Curve *c, Err *e);
void curve_free(Curve *c);

#endif
