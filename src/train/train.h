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

#include "data/dataset.h"
#include "nn/net.h"
#include "nn/optim.h"

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
} TrainConfig;

typedef struct {
    int epoch, epochs;          /* epoch counts from 1 */
    double train_loss, train_acc;   /* over the epoch's batches, dropout on */
    double test_loss, test_acc;     /* eval mode */
    double seconds;             /* wall time of the training pass */
    double eval_seconds;
    double images_per_s;        /* training images per second */
    uint64_t step;              /* optimizer steps taken so far (for checkpoints) */
    const Optim *opt;           /* the optimizer state after this epoch (for checkpoints) */
} EpochStats;

typedef struct {
    /* Called after each batch (may be NULL). */
    void (*on_batch)(void *ctx, int epoch, int done, int total, double elapsed);
    /* Called after each epoch; a non-OK status stops training with it. */
    Status (*on_epoch)(void *ctx, const EpochStats *s, const Net *net, Err *e);
    void *ctx;
    /* If not NULL and set non-zero (e.g. by a signal handler), training stops
     * after the current batch with ST_ERR_INTERRUPTED. */
    volatile sig_atomic_t *stop;
} TrainHooks;

/* The per-step key of the dropout masks: a function of (seed, step) alone. */
uint64_t train_step_key(uint64_t seed, uint64_t step);

Status train_run(Net *net, const Dataset *train, const Dataset *test, const TrainConfig *cfg,
                 const TrainHooks *hooks, Err *e);

/* Mean loss and accuracy of the net on d in eval mode, in batches of at most
 * net->max_batch. */
Status train_evaluate(Net *net, const Dataset *d, double *loss, double *acc, Err *e);

#endif
