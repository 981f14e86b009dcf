/* run.h - one training run with its files, shared by `train` and `sweep`.
 *
 * run_build_net makes the net a model file describes (dropout rates
 * optionally replaced); run_prepare checks and creates the output folder;
 * run_train trains and, after every epoch, rewrites OUT/log.csv, and
 * OUT/model.fmw (every save_every epochs and after the last), and, when the
 * run has a validation set, OUT/best.fmw when the validation loss is the
 * lowest so far (the first such epoch; never chosen by a test figure, and
 * without a validation set there is none), each atomically (temp file,
 * fsync, rename, fsync of the folder); with spec->tensorboard, it appends
 * the epoch's scalars and weight histograms to a TensorBoard event file
 * (OUT/events.out.tfevents.SECONDS.HOST.fmnist), and train losses every
 * tb_every steps as they come; a new run over an earlier one (overwrite,
 * not resuming) removes the earlier event files (events.out.tfevents.*.fmnist)
 * once it has written its first epoch or its interrupted state. Interrupted,
 * it writes
 * OUT/model.fmw with the position inside the epoch; diverged or failed, it
 * writes nothing more, so the last good files stay. Nothing here prints:
 * progress goes to hooks. */
#ifndef FMNIST_RUN_H
#define FMNIST_RUN_H

#include <signal.h>
#include <stddef.h>

#include "train/settings.h"
#include "train/train.h"

typedef struct {
    const char *model;      /* model file path (recorded in the checkpoint)      */
    TrainConfig train;      /* epochs, batch, seed, optimizer settings           */
    const char *out;        /* output folder                                     */
    const char *log_path;   /* NULL: OUT/log.csv                                 */
    int overwrite;          /* allow replacing the files of a run in out          */
    int save_every;         /* write model.fmw every N epochs (and after the last); 0 = 1 */
    /* TensorBoard (report/tfevents.h): write OUT/events.out.tfevents.* (a
     * new file per session: a resumed run's steps go on in a file of its
     * own; rank 0 only), with loss/train_step, the mean train loss of the
     * last tb_every steps, every tb_every steps (0: none). */
    int tensorboard;
    int tb_every;
    /* Resuming (train/resume.h; both NULL for a new run): where the run
     * stands, and the saved log.csv text to continue. */
    const TrainProgress *resume;
    const char *log_so_far;
} RunSpec;

typedef struct {
    /* After each batch (may be NULL): train_run's BatchStats. */
    void (*on_batch)(void *ctx, const BatchStats *b);
    /* After each epoch, once its files are written (may be NULL). */
    void (*on_epoch)(void *ctx, const EpochStats *s);
    void *ctx;
    /* Training stops after the current batch once *stop is non-zero; model.fmw
     * then holds the position inside the epoch (--resume goes on from there). */
    volatile sig_atomic_t *stop;
    /* After each write of model.fmw (may be NULL): the epochs it holds
     * finished, and the batches of the next one trained (0 at an epoch end). */
    void (*on_save)(void *ctx, const char *path, int epoch, int batch, int nbatches);
    /* During the evaluations at an epoch's end (may be NULL): train_run's EvalStats. */
    void (*on_eval)(void *ctx, const EvalStats *s);
} RunHooks;

/* Parses the model file, replaces its dropout rates by dropout[0..ndropout)
 * if ndropout > 0 (in the net's model text too: cfg_set_dropout; ST_ERR_ARG
 * if the count differs from the file's dropout lines) and builds the net for batches of up to max_batch. ST_ERR_SHAPE,
 * naming the file's last line, if the net has more outputs than IDX labels
 * can name classes (DATA_MAX_CLASSES). */
Status run_build_net(const char *model, const float *dropout, int ndropout, int max_batch, Net **net, Err *e);

/* The paths a run writes: OUT/model.fmw and the log (spec->log_path or
 * OUT/log.csv). Buffers of len bytes; paths that do not fit are cut. */
void run_paths(const RunSpec *spec, char *model_path, char *log_path, size_t len);

/* Refuses (ST_ERR_IO) an out folder that already holds a run's files
 * (model.fmw, best.fmw, the log) unless spec->overwrite; creates nothing. */
Status run_check(const RunSpec *spec, Err *e);

/* run_check, then creates the folder (mkdir -p) and checks that files can
 * be created in it, so that an unwritable folder is an error before
 * training, not after an epoch. */
Status run_prepare(const RunSpec *spec, Err *e);

/* The settings the checkpoint records for spec (train/settings.h), with
 * train_n training images per epoch. */
void run_settings(const RunSpec *spec, int train_n, RunSettings *s);

/* What a run holds in memory at its peak, in bytes, part by part. */
typedef struct {
    size_t net;        /* net_build's buffers: parameters, gradients, activations, scratch */
    size_t optim;      /* the optimizer's state: Adam's two moments, SGD's momentum, L1's
                          gradient (each a copy of the parameters)                     */
    size_t resumed;    /* resuming: the saved moments, early stopping's saved weights and
                          --ema's live weights, held beside the optimizer's own         */
    size_t best;       /* early stopping: the weights of the best epoch so far          */
    size_t ema;        /* --ema: the other arena (the average, or the live weights)     */
    size_t batch;      /* the batch as floats, its gradients and labels, the shuffle; with
                          ranks, the gradients of a rank's micro-batches (train.c)  */
    size_t checkpoint; /* one checkpoint (weights, moments, log) built in memory to be written */
    size_t data;       /* the images and labels in memory (as loaded, before --train-limit) */
    size_t program;    /* the program itself, and the chart drawn after training        */
    size_t total;      /* the peak: program + data + net + resumed + the larger of
                          (optim + best + ema + batch + checkpoint) and the chart       */
} RunMemory;

/* What training net with spec on train and test (and spec->train.val)
 * takes, counted from the sizes alone; spec->resume's optimizer state and
 * best weights count as held by the caller. */
void run_memory(const RunSpec *spec, const Net *net, const Dataset *train, const Dataset *test, RunMemory *m);

/* run_memory (into *m if not NULL), then ST_ERR_NOMEM if the total is above
 * net_memory_limit: the message gives the estimate, its largest parts and
 * the limit. Call it before run_prepare, so that a run that cannot fit
 * creates nothing. */
Status run_memory_check(const RunSpec *spec, const Net *net, const Dataset *train, const Dataset *test, RunMemory *m,
                        Err *e);

/* Trains net (already initialized by net_init, or loaded) with spec->train,
 * from spec->resume if it is not NULL; after each epoch writes the log
 * (LOG_CSV_HEADER and one row per epoch so far) and the checkpoint (the
 * settings of run_settings, the progress, the optimizer state and
 * validation's record; with spec->train.ema, the weights' average as the
 * model (TENS) and the live weights beside it (LIVE), and net holds the
 * average when it returns). Call run_prepare first.
 * Returns ST_ERR_INTERRUPTED if hooks->stop was raised (model.fmw then holds
 * the state after the last finished batch; an error writing it is returned
 * instead), ST_ERR_DIVERGED if the loss or a gradient stopped being finite
 * (nothing more is written: the files hold the last good state), or the
 * error of a failed write (ST_ERR_IO: the previous files stay whole). */
Status run_train(const RunSpec *spec, Net *net, const Dataset *train, const Dataset *test, const RunHooks *hooks,
                 Err *e);

#endif
