/* resume.h - `train --resume`: a saved run's network, settings and state,
 * ready for run_train.
 *
 * A checkpoint written by run_train holds everything a run needs to go on:
 * weights, the model text with its dropout rates, the settings, the
 * optimizer's moments and step count, the progress (epoch, step, the
 * position inside an epoch), validation's record, the log so far and, with
 * --ema, the live weights beside the average (the net loaded holds the
 * average, TENS; progress.live the LIVE section). The
 * continued run gets the same shuffles, dropout masks and updates as an
 * uninterrupted one, so its log and weights are bit-identical. Version 2
 * files are read too (their early stopping state is rebuilt from the log
 * and best-val.fmw beside the file, as that version did). */
#ifndef FMNIST_RESUME_H
#define FMNIST_RESUME_H

#include <stddef.h>

#include "model/weights.h"
#include "train/run.h"
#include "train/settings.h"

typedef struct {
    Net *net;               /* owned                                           */
    CkptState ck;           /* owned: the log, the optimizer state, validation's
                               record                                          */
    RunSettings settings;   /* the run's settings, epochs the target of this
                               session; the caller loads settings.train_n +
                               settings.val images, holds settings.val out
                               (dataset_hold_out, the run's seed) and sets
                               spec.train.val                                  */
    TrainProgress progress; /* where the run stands                            */
    RunSpec spec;           /* model, TrainConfig, resume (= &progress) and
                               log_so_far, all pointing into this struct: do not
                               copy it; out, overwrite and save_every are the
                               caller's to set                                 */
    float *val_best;        /* version 2 with early stopping: the weights of the
                               lowest validation loss (best-val.fmw; owned)    */
} ResumedRun;

/* Loads path for a run of epochs epochs in total (<= 0: the epochs the run
 * was started with, which finishes an interrupted run). Errors: those of
 * weights_load_run and settings_read; ST_ERR_FORMAT if the file holds
 * weights only (no progress or optimizer state), its position does not
 * fit its settings, or it has live weights exactly when its settings have
 * no ema; ST_ERR_ARG if epochs is not above the epochs done. */
Status resume_load(const char *path, int epochs, ResumedRun *r, Err *e);
void resume_free(ResumedRun *r);

#endif
