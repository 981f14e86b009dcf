/* train.h - the epoch loop and evaluation.
 *
 * train_run shuffles (seeded per epoch), runs forward/backward/step over
 * mini-batches (the last one may be smaller, as PyTorch's DataLoader does),
 * evaluates the test set in eval mode after each epoch, and calls the
 * caller's hooks for progress and per-epoch results. All buffers are
 * allocated before the first batch.
 *
 * The loop, in train.c, is a Trainer going through named steps: start
 * (checks, buffers, a resumed run's state), then per epoch epoch_begin (the
 * shuffle), train_batch for each batch (or stop_at, when asked to stop:
 * the position to on_stop) and epoch_end (evaluation, validation and early
 * stopping, on_epoch), and one cleanup. */
#ifndef FMNIST_TRAIN_H
#define FMNIST_TRAIN_H

#include <signal.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "report/epoch.h"
#include "train/lrsched.h"
#include "train/tta.h"

/* The largest micro-batch (TrainConfig.micro_batch): one block of the
 * products' k loop (kernels/gemm.c), so a micro-batch's sum is one sum. */
#define TRAIN_MAX_MICRO_BATCH 256

typedef struct {
    int epochs;
    int batch;
    uint64_t seed;
    OptConfig opt;
    int report_penalty;         /* add the penalty (nn/penalty.h) to train_loss */
    /* Validation (val NULL: none): evaluated after each epoch in eval mode.
     * early_stop K > 0 stops once K epochs in a row have not lowered the
     * lowest validation loss, and restores the weights of that epoch. */
    const Dataset *val;
    int early_stop;
    AugConfig aug;              /* training batches only (data/augment.h)   */
    LrSchedule lr;              /* the rate of each step (train/lrsched.h); its
                                   kind LRS_CONSTANT with no warm-up: opt.lr */
    /* Micro-batches (nn/layer.h): every sum over a batch's samples is taken
     * per micro-batch of this many samples and the sums added in order, so
     * that ranks sharing a batch get the numbers one process gets. 0: the
     * whole batch is one micro-batch. */
    int micro_batch;            /* 0 .. TRAIN_MAX_MICRO_BATCH */
    /* The ranks that share each batch (util/team.h): each computes a run of
     * its micro-batches, and the evaluations are split over them too. NULL:
     * one process. Every rank runs train_run with the same arguments; the
     * hooks are called on rank 0 only (its status is every rank's). */
    const Team *team;
    /* The products' precision (kernels/math.h): train_run sets the net's
     * Math to the fastest tier of it this CPU runs (math_choose: ST_ERR_ARG
     * if none), for training and every evaluation. fp32: the default. */
    Precision precision;
    /* An exponential moving average of the weights (nn/ema.h: timm's
     * ModelEmaV2): 0 off; else its decay, in (0, 1). Taken from the weights
     * train_run starts with and updated after every optimizer step, it is
     * the model: the test and validation evaluations, validation's record
     * and early stopping, the hooks' net and what train_run leaves in the
     * net use it; training goes on from the live weights (the train loss is
     * theirs). */
    float ema;
    /* Label smoothing eps in [0, 1) of the training loss (nn/loss.h:
     * softmax_xent_smooth, PyTorch's CrossEntropyLoss(label_smoothing=eps));
     * 0: off. The train loss reported is the smoothed one; the test and
     * validation losses stay plain cross-entropy. */
    float label_smoothing;
    /* Test-time augmentation of the per-epoch test and validation
     * evaluations (train/tta.h); TTA_NONE: the plain logits. */
    TtaKind tta;
} TrainConfig;

/* Validation's record: the lowest validation loss so far, the epoch that
 * reached it (the epochs since are the epochs finished minus it) and, with
 * early stopping, that epoch's weights. */
typedef struct {
    double best_loss;           /* INFINITY: none yet                       */
    int best_epoch;             /* 0: none yet (or the epoch a run resumed
                                   from a log without validation started at) */
    const float *best_params;   /* early stopping: net->nparams floats; else
                                   NULL (resuming: NULL = the current weights) */
} ValRecord;

/* Where a run stands: what its hooks are handed to save (on_epoch, on_stop)
 * and what train_run takes back to resume it (NULL: a fresh run). The
 * shuffle of an epoch depends on (seed, epoch) and the dropout masks and
 * augmentations of a step on (seed, step) only, so a resumed run continues
 * bit for bit. */
typedef struct {
    int epoch;                  /* epochs finished                          */
    int batch;                  /* batches of epoch+1 trained (0: none, at an
                                   epoch's end); resuming mid-epoch, its
                                   shuffle is rebuilt and the next one runs */
    uint64_t step;              /* optimizer steps taken so far             */
    double loss_sum;            /* the sum of those batches' losses         */
    int right;                  /* and of their right predictions           */
    double seconds;             /* training time spent in epoch+1 so far    */
    const Optim *opt;           /* its moments and step count (resuming: its
                                   cfg is not used, TrainConfig.opt is)     */
    ValRecord val;              /* with a validation set                    */
    /* With cfg.ema: the live weights (net->nparams floats), training's own,
     * while the net handed beside this holds their average, the model.
     * Resuming, train_run takes the net's weights as the average and goes
     * on training from these. NULL without --ema. */
    const float *live;
} TrainProgress;

typedef struct {
    /* Called after each batch (may be NULL): where the epoch stands, its
     * running loss and accuracy (report/epoch.h). */
    void (*on_batch)(void *ctx, const BatchStats *b);
    /* Called after each epoch with its figures and the run's progress (at
     * the epoch's end); a non-OK status stops training with it. net (here
     * and in on_stop) holds the model: with cfg.ema the average, and
     * p->live the weights training goes on from. */
    Status (*on_epoch)(void *ctx, const EpochStats *s, const TrainProgress *p, const Net *net, Err *e);
    void *ctx;
    /* If not NULL and set non-zero (e.g. by a signal handler), training stops
     * before the next batch with ST_ERR_INTERRUPTED. */
    volatile sig_atomic_t *stop;
    /* Called then (may be NULL) with the progress, to save it; if it fails,
     * train_run returns its status instead. */
    Status (*on_stop)(void *ctx, const TrainProgress *p, const Net *net, Err *e);
    /* Called during the test and validation evaluations at an epoch's end,
     * after each chunk of images (may be NULL). */
    void (*on_eval)(void *ctx, const EvalStats *s);
} TrainHooks;

/* The micro-batches of a full batch of cfg (1 with micro_batch 0), and
 * the most of them one of `ranks` ranks computes (team_share's largest
 * share): the gradient copies a rank holds. */
int train_micro_batches(const TrainConfig *cfg);
int train_micro_batches_per_rank(const TrainConfig *cfg, int ranks);

/* The per-step key of the dropout masks: a function of (seed, step) alone. */
uint64_t train_step_key(uint64_t seed, uint64_t step);

/* Trains epochs 1 .. cfg->epochs, or, resuming (resume not NULL), from
 * where resume stands: batch resume->batch of epoch resume->epoch + 1, with
 * its optimizer state and validation record (and with cfg->ema, the net's
 * weights are the average and resume->live the weights to train). On
 * return the net holds the model (cfg->ema: the average; early stopping:
 * the best epoch's). Stops with ST_ERR_DIVERGED
 * (the message names the epoch and batch and suggests a lower learning
 * rate) as soon as a batch's loss or any gradient is NaN or infinite,
 * before that gradient reaches the weights; with ST_ERR_INTERRUPTED after
 * hooks->stop. ST_ERR_ARG if resume does not fit the net or the epoch (or
 * has live weights exactly when cfg->ema is off), or cfg->ema is outside
 * [0, 1). */
Status train_run(Net *net, const Dataset *train, const Dataset *test, const TrainConfig *cfg,
                 const TrainProgress *resume, const TrainHooks *hooks, Err *e);

/* ST_ERR_SHAPE unless d's images fit the net's input and every label has
 * an output of the net (the message then names the model's last line),
 * ST_ERR_ARG if d is empty (what names the set in the message): train_run's
 * and train_evaluate's own check, for callers that want it before they
 * create files. */
Status train_check_data(const Net *net, const Dataset *d, const char *what, Err *e);
/* train_check_data of the training and the test set, in that order. */
Status train_check_sets(const Net *net, const Dataset *train, const Dataset *test, Err *e);

/* Mean loss and accuracy of the net on d in eval mode, in batches of at most
 * net->max_batch. */
Status train_evaluate(Net *net, const Dataset *d, double *loss, double *acc, Err *e);
/* train_evaluate with test-time augmentation tta (train/tta.h): the loss
 * and accuracy of tta_logits' logits; TTA_NONE is train_evaluate. */
Status train_evaluate_tta(Net *net, const Dataset *d, TtaKind tta, double *loss, double *acc, Err *e);

#endif
