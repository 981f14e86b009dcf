/* log.h - what a training run shows and writes: the per-epoch line, the
 * progress bar (for terminals), and the CSV log. */
#ifndef FMNIST_LOG_H
#define FMNIST_LOG_H

#include <stdio.h>

#include "report/epoch.h"
#include "util/fileio.h"

/* "epoch  3/10  train loss 0.4012 acc 85.61%  |  test loss ...  |  41k img/s  1.5 s" */
void report_epoch_line(FILE *f, const EpochStats *s);
/* One carriage-return-redrawn line: batches done, images/s, time left. */
void report_progress(FILE *f, int epoch, int epochs, int done, int total, int batch, double elapsed);
void report_progress_clear(FILE *f);

#define LOG_CSV_HEADER "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"
void report_csv_row(Buf *b, const EpochStats *s);

/* Optional columns after the six of LOG_CSV_HEADER, in this order:
 * weight_norm (LOG_COL_NORM), then val_loss,val_acc (LOG_COL_VAL). */
enum { LOG_COL_NORM = 1, LOG_COL_VAL = 2 };
/* The header line of a log with the columns cols (LOG_COL_* bits). */
void report_csv_header(Buf *b, int cols);
/* The LOG_COL_* bits of a log's header line (text starts with it); -1 if
 * it is not a header this program writes. */
int report_csv_cols(const char *text);
/* One row with the six columns and those of cols. */
void report_csv_row_cols(Buf *b, const EpochStats *s, int cols);

#endif
