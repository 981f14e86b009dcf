/* epoch.h - the figures of one finished epoch (what train_run hands to its
 * on_epoch hook and what report/log.c shows and logs), and of an epoch in
 * progress: after each batch (on_batch) and during the evaluations at its
 * end (on_eval). Here, below train/, so that report/ can read them without
 * including the training loop. */
#ifndef FMNIST_EPOCH_H
#define FMNIST_EPOCH_H

typedef struct {
    int epoch, epochs;          /* epoch counts from 1 */
    double train_loss, train_acc;   /* over the epoch's batches, dropout on */
    double test_loss, test_acc;     /* eval mode */
    double seconds;             /* wall time of the training pass */
    double weight_norm;         /* L2 norm of the weights (not biases) after the epoch */
    int has_val;                /* a validation set was held out: */
    double val_loss, val_acc;   /* its loss and accuracy, eval mode */
    int val_improved;           /* this epoch's val loss is the lowest so far */
    int best_epoch;             /* the epoch of the lowest val loss so far */
    int stopped_early;          /* early stopping ends the run here; the net
                                   gets best_epoch's weights after on_epoch */
    double eval_seconds;
    double images_per_s;        /* training images per second */
} EpochStats;

/* An epoch in training, after one of its batches (train_run's on_batch). */
typedef struct {
    int epoch, epochs;          /* epoch counts from 1 */
    int done, total;            /* batches of the epoch trained, of its batches */
    long images;                /* training images of the epoch so far */
    double loss, acc;           /* their mean loss and accuracy so far (at the
                                   last batch: the epoch's train_loss, train_acc) */
    double batch_loss;          /* this batch's mean loss */
    unsigned long long step;    /* optimizer steps taken */
    double elapsed;             /* seconds of the epoch's training so far */
} BatchStats;

/* An evaluation at an epoch's end under way (train_run's on_eval): after
 * each chunk of images. */
typedef struct {
    int epoch, epochs;
    const char *set;            /* "test" or "validation" */
    int done, total;            /* chunks evaluated, of the chunks (with ranks:
                                   rank 0's share) */
    double elapsed;             /* seconds since this evaluation began */
} EvalStats;

#endif
