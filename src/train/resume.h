/* resume.h - `train --resume`: a saved run's network, settings and state,
 * ready for run_train.
 *
 * A checkpoint written by run_train holds everything a run needs to go on:
 * weights, dropout rates, optimizer moments and step count, epoch, step and
 * seed, batch size, the number of training images, and the log so far. The
 * continued run gets the same shuffles, dropout masks and updates as an
 * uninterrupted one, so its log and weights are bit-identical. */
#ifndef FMNIST_RESUME_H
#define FMNIST_RESUME_H

#include <stddef.h>

#include "model/weights.h"
#include "train/run.h"

typedef struct {
    Net *net;          /* owned                                                  */
    CkptState ck;      /* owned: the log, META, optimizer state                  */
    RunSpec spec;      /* model, optimizer, TrainConfig (with start_epoch,
                          start_step, resume_opt) and log_so_far, all pointing
                          into this struct: do not copy it; out and overwrite
                          are the caller's to set                               */
    char model[1024];  /* the model file the run was started with (from META)   */
    int val;           /* validation images held out (0: none); the caller loads
                          train_n + val images, splits them (dataset_hold_out,
                          the run's seed) and sets spec.train.val             */
    float *val_best;   /* early stopping: the weights of the lowest validation
                          loss (from best-val.fmw beside path; owned), or NULL */
} ResumedRun;

/* Loads path for a run of epochs epochs in total (<= 0: the epochs the run
 * was started with, which finishes an interrupted run). Errors: those of
 * weights_load_run; ST_ERR_FORMAT if the file holds weights only (no progress
 * or optimizer state); ST_ERR_ARG if epochs is not above the epochs done. */
Status resume_load(const char *path, int epochs, ResumedRun *r, Err *e);
void resume_free(ResumedRun *r);

/* The folder holding path ("." for a bare file name), cut to len bytes. */
void resume_folder(const char *path, char *out, size_t len);

#endif
