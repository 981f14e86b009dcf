/* epoch.h - the figures of one finished epoch: what train_run hands to its
 * on_epoch hook and what report/log.c shows and logs. Here, below train/,
 * so that report/ can read them without including the training loop. */
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

#endif
