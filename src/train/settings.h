/* settings.h - a run's settings as one text: the checkpoint's SETS section.
 *
 * One "key=value" line per setting, written and read through one table
 * (settings.c), so that a new setting is one line there: the model file's
 * path, epochs, batch, seed, the training and validation images, the
 * optimizer and its hyper-parameters, weight decay, L1, the learning-rate
 * schedule and warm-up, augmentation, early stopping, --report-penalty,
 * the weights' EMA, label smoothing and test-time augmentation.
 * A float is written as the shortest decimal that reads back as the same
 * float (layer_format_float: lr=0.02); in a string, '\' and a newline are written \\ and \n. The dropout
 * rates are not settings here: the checkpoint's model text holds them.
 *
 * The reader refuses an unknown key, a key given twice, a malformed or
 * out-of-range value and a missing required key (model, epochs, batch,
 * seed, train_n, optim, lr): a resumed run must not silently drop or
 * change a setting. Another key that is missing keeps its default (off),
 * so that a later version may add settings. */
#ifndef FMNIST_SETTINGS_H
#define FMNIST_SETTINGS_H

#include <stddef.h>

#include "model/weights.h"
#include "train/train.h"
#include "util/fileio.h"

typedef struct {
    char model[FM_PATH]; /* the model file the run was started with */
    TrainConfig train;  /* all but train.val, which is data (NULL here); the
                           schedule's base rate train.lr.base is train.opt.lr */
    int val;            /* validation images held out of the loaded ones (0: none) */
    int train_n;        /* training images per epoch (after the hold-out) */
} RunSettings;

/* Everything off: optim_defaults(), no schedule, no validation; the
 * required settings empty or 0. */
void settings_defaults(RunSettings *s);

/* The text, one line per key in the table's order (b->failed if memory
 * ran out). */
void settings_format(const RunSettings *s, Buf *b);

/* Reads a text settings_format wrote into *s. ST_ERR_FORMAT "PATH:
 * settings line N: ..." (or "PATH: settings: ...") for what the header
 * says is refused. */
Status settings_parse(const char *path, const char *text, RunSettings *s, Err *e);

/* The settings of a checkpoint weights_load_run read: its settings text
 * (settings_parse), or for a version 2 file, ck->v2: the model path of its
 * META, RUN's epochs, batch, images and seed, OPTM's hyper-parameters, and
 * REG's lines, read as settings lines ("PATH: REG line N: ..."; any key may
 * be missing, and the schedule's rate is named lr_base there: OPTM's lr is
 * the last step's rate). */
Status settings_read(const char *path, const CkptState *ck, RunSettings *s, Err *e);

/* The settings in words, for people (the run header of train and sweep,
 * eval, info): a few lines of at most 100 columns, each "label: phrase;
 * phrase; ..." (training: optimizer, batch, epochs, seed, images, and with
 * label smoothing what the losses shown are: the train loss smoothed, test
 * and validation plain;
 * regularization: the rate of each dropout layer of net with its place
 * "(#i)" in the layer table (no dropout phrase if net is NULL), weight decay
 * and its kind (coupled L2 for sgd and adam, decoupled for adamw), L1, the
 * decay of biases, augmentation, early stopping; learning rate: the
 * schedule and warm-up; weights, with --ema only: its decay; validation:
 * the images held out and their seed, or none; evaluation, only with
 * test-time augmentation: flip), appended to b. */
void settings_describe(const RunSettings *s, const Net *net, Buf *b);

/* 0 if a and b are the same settings; else 1, with the first key that
 * differs as "key=value" of a in wa and of b in wb (each len bytes). */
int settings_diff(const RunSettings *a, const RunSettings *b, char *wa, char *wb, size_t len);

#endif
