/* train.h - the epoch loop and evaluation.
 *
 * train_run shuffles (seeded per epoch), runs forward/backward/step over
 * mini-batches (the last one may be smaller, as PyTorch's DataLoader does),
 * evaluates the test set in eval mode after each epoch, and calls the
 * caller's hooks for progress and per-epoch results. All buffers are
 * allocated before the first batch. */
#ifndef FMNIST_TRAIN_H
#define FMNIST_TRAIN_H

#include <signal.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "report/epoch.h"
#include "train/lrsched.h"

typedef struct {
    int epochs;
    int batch;
    uint64_t seed;
    OptConfig opt;
    /* Resuming a saved run (all zero for a fresh one): epochs already done
     * (training runs epochs start_epoch+1 .. epochs), optimizer steps already
     * taken, and the optimizer state to continue from (copied; its cfg wins
     * over opt). Shuffles and dropout keys depend on (seed, epoch) and
     * (seed, step) only, so a resumed run continues bit for bit. */
    int start_epoch;
    uint64_t start_step;
    const Optim *resume_opt;
    /* Resuming mid-epoch (a run saved on Ctrl-C; all zero otherwise): epoch
     * start_epoch+1 goes on from batch start_batch (its shuffle is rebuilt
     * from (seed, epoch)), with the sums of the batches already trained. */
    int start_batch, start_right;
    double start_loss, start_seconds;
    int report_penalty;         /* add the penalty (nn/penalty.h) to train_loss */
    /* Validation (val NULL: none): evaluated after each epoch in eval mode.
     * early_stop K > 0 stops once K epochs in a row have not lowered the
     * lowest validation loss, and restores the weights of that epoch.
     * Resuming: val_best/val_since (lowest loss, epochs since; val_since < 0:
     * none yet) and the weights of that epoch (nparams floats, or NULL). */
    const Dataset *val;
    int early_stop;
    double val_best;
    int val_since;
    const float *val_best_params;
    AugConfig aug;              /* training batches only (data/augment.h)   */
    LrSchedule lr;              /* the rate of each step (train/lrsched.h); its
                                   kind LRS_CONSTANT with no warm-up: opt.lr */
} TrainConfig;

/* Where an interrupted run stands: everything a checkpoint needs to go on
 * from the next batch (TrainConfig's start_* fields). */
typedef struct {
    int epoch;                  /* the epoch in progress, from 1            */
    int batch, nbatches;        /* batches of it trained (0: none), of all  */
    uint64_t step;              /* optimizer steps taken so far             */
    double loss_sum;            /* the sum of those batches' losses         */
    int right;                  /* and of their right predictions           */
    double seconds;             /* training time spent in this epoch        */
    const Optim *opt;           /* the optimizer state now                  */
} TrainPos;

typedef struct {
    /* Called after each batch (may be NULL). */
    void (*on_batch)(void *ctx, int epoch, int done, int total, double elapsed);
    /* Called after each epoch; a non-OK status stops training with it. */
    Status (*on_epoch)(void *ctx, const EpochStats *s, const Net *net, Err *e);
    void *ctx;
    /* If not NULL and set non-zero (e.g. by a signal handler), training stops
     * after the current batch with ST_ERR_INTERRUPTED. */
    volatile sig_atomic_t *stop;
    /* Called then (may be NULL) with the position, to save it; if it fails,
     * train_run returns its status instead. */
    Status (*on_stop)(void *ctx, const TrainPos *pos, const Net *net, Err *e);
} TrainHooks;

/* The per-step key of the dropout masks: a function of (seed, step) alone. */
uint64_t train_step_key(uint64_t seed, uint64_t step);

/* Trains epochs start_epoch+1 .. epochs. Stops with ST_ERR_DIVERGED (the
 * message names the epoch and batch and suggests a lower learning rate) as
 * soon as a batch's loss or any gradient is NaN or infinite, before that
 * gradient reaches the weights; with ST_ERR_INTERRUPTED after hooks->stop. */
Status train_run(Net *net, const Dataset *train, const Dataset *test, const TrainConfig *cfg,
                 const TrainHooks *hooks, Err *e);

/* ST_ERR_SHAPE unless d's images fit the net's input and every label has
 * an output of the net (the message then names the model's last line),
 * ST_ERR_ARG if d is empty (what names the set in the message): train_run's
 * and train_evaluate's own check, for callers that want it before they
 * create files. */
Status train_check_data(const Net *net, const Dataset *d, const char *what, Err *e);

/* Mean loss and accuracy of the net on d in eval mode, in batches of at most
 * net->max_batch. */
Status train_evaluate(Net *net, const Dataset *d, double *loss, double *acc, Err *e);

#endif
