/* trainflags.h - the flags of every training option: one table, used by
 * `train` and `sweep` (and any later command that trains).
 *
 * A command gets the table's ArgSpecs with trainflags_specs, adds its own
 * flags (train: --out, --log, --overwrite, --resume; sweep: --seeds,
 * --out, ...) and parses (a sweep groups the occurrences of each flag
 * into its axes first, then parses each setting's flags with the table); then
 * trainflags_run checks the flags against each other (--momentum needs
 * --optim sgd, --early-stop needs --val, ...) and builds the RunSpec, and
 * trainflags_load_data loads the data they name. A new training option is
 * one line in the table (trainflags.c) and its use in trainflags_run: every
 * command that trains then takes it. */
#ifndef FMNIST_CLI_TRAINFLAGS_H
#define FMNIST_CLI_TRAINFLAGS_H

#include "data/dataset.h"
#include "train/run.h"
#include "util/args.h"
#include "util/fileio.h"

/* The values of the flags, as given (else the defaults). */
typedef struct {
    const char *model, *optim, *lr_schedule, *data, *precision, *tta;
    int epochs, batch, micro_batch, seed, threads, train_limit;
    float lr, momentum, weight_decay, l1, lr_gamma, ema, label_smoothing;
    int nesterov, decay_bias, report_penalty;
    int val, early_stop, warmup, lr_step;
    int save_every, no_progress;
    int no_tensorboard, tb_every;
    StrList aug;
    FloatList dropout;
} TrainFlags;

/* the preset mlp (models/mlp.cfg), adam, lr 1e-3, 10 epochs of batches of 128, seed 1, ... */
TrainFlags trainflags_defaults(void);

#define TRAINFLAGS_MAX 40
/* Writes the table's flags, pointing into f, to specs (room for
 * TRAINFLAGS_MAX); returns their number. */
int trainflags_specs(TrainFlags *f, ArgSpec *specs);

/* NULL if a sweep may vary the flag name (without "--"), else why it is the
 * same for every trial ("every trial of a sweep reads the same data"). */
const char *trainflags_fixed(const char *name);

/* After args_parse over specs[0..nspecs) (the table's and the command's):
 * checks the training flags against each other and fills spec's model,
 * train (TrainConfig; its val is set by the caller once the data is
 * loaded) and save_every; out, log_path and overwrite are the caller's. Errors are ST_ERR_ARG naming the flag (a usage error). */
Status trainflags_run(const TrainFlags *f, const ArgSpec *specs, int nspecs, RunSpec *spec, Err *e);

/* The data of a fresh run: training and test splits, and the validation
 * images held out of the training split (none: val.n == 0). */
typedef struct {
    Dataset train, test, val;
    char dir[FM_PATH];        /* the folder they came from */
} TrainData;

/* Loads --data's splits (the first --train-limit training images) and holds
 * out --val images, drawn from --seed. ST_ERR_ARG (a usage error) for a
 * --val that the training images cannot spare. */
Status trainflags_load_data(const TrainFlags *f, TrainData *d, Err *e);
void train_data_free(TrainData *d);

#endif
