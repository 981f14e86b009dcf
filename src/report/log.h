/* log.h - what a training run shows and writes: the per-epoch line, the
 * progress bar (for terminals), and the CSV log. */
#ifndef FMNIST_LOG_H
#define FMNIST_LOG_H

#include <stdio.h>

#include "report/epoch.h"
#include "util/fileio.h"

/* The epoch's line, at most REPORT_EPOCH_COLUMNS characters:
 *   "epoch  3/10  train 0.4012 85.61%  test 0.4533 83.02%  122k img/s  0.5s"
 * with a validation set "...  val 0.4215 84.90%*  0.5s" (the star: the lowest
 * validation loss so far, the epoch best.fmw holds); the images per second,
 * then the seconds, are left out, then the fields set one space apart,
 * where the line would be longer. Losses take at most 6 characters (4
 * decimals below 10, fewer above). Into buf (NUL-terminated, no newline);
 * returns its length. */
#define REPORT_EPOCH_COLUMNS 80
size_t report_epoch_format(char *buf, size_t len, const EpochStats *s);
/* The epoch's line, then, when early stopping ends the run there, what it kept. */
void report_epoch_line(FILE *f, const EpochStats *s);

/* The progress line of a training epoch for a terminal `width` columns wide,
 * never longer than width - 1 (so that it cannot wrap):
 *   "epoch 3/10 [#######.......] 120/469  loss 0.4123  acc 85.12%  12.3s  ETA 4.1s  41k img/s"
 * (the running mean loss and accuracy of the epoch so far); where it does
 * not fit, the images per second are left out first, then the elapsed
 * time, then the bar shrinks (to 10) and goes, then the accuracy, the ETA,
 * the epoch and the loss. Into buf (NUL-terminated); returns its length. */
size_t report_progress_format(char *buf, size_t len, const BatchStats *b, int width);
/* The same during the evaluation at an epoch's end:
 *   "epoch 3/10 evaluating test [#####.........] 3/40  1.2s" */
size_t report_eval_format(char *buf, size_t len, const EvalStats *s, int width);
/* The line redrawn in place: a carriage return, the line, clear to the
 * line's end (ANSI "ESC [ K"). For terminals only. */
void report_progress(FILE *f, const BatchStats *b, int width);
void report_eval_progress(FILE *f, const EvalStats *s, int width);
/* Clears the line the progress was drawn on. */
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
