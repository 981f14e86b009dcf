/* log.h - what a training run shows and writes: the per-epoch line, the
 * progress bar (for terminals), and the CSV log. */
#ifndef FMNIST_LOG_H
#define FMNIST_LOG_H

#include <stdio.h>

#include "train/train.h"
#include "util/fileio.h"

/* "epoch  3/10  train loss 0.4012 acc 85.61%  |  test loss ...  |  41k img/s  1.5 s" */
void report_epoch_line(FILE *f, const EpochStats *s);
/* One carriage-return-redrawn line: batches done, images/s, time left. */
void report_progress(FILE *f, int epoch, int epochs, int done, int total, int batch, double elapsed);
void report_progress_clear(FILE *f);

#define LOG_CSV_HEADER "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"
void report_csv_row(Buf *b, const EpochStats *s);

#endif
