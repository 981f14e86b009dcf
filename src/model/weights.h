/* weights.h - the native checkpoint file (.fmw), version 3 (reads 2 too).
 *
 * One file holds everything a run needs to be evaluated, exported or resumed:
 * the model text (with the dropout rates in effect), every tensor, and
 * optionally the run's settings (one key=value text, read by
 * train/settings.h), its log so far, its progress (epoch, step, the position
 * inside an epoch), the optimizer's moments and validation's record (early
 * stopping) and, when TENS holds an average of the weights (--ema), the
 * weights training goes on from. docs/checkpoint.md has the byte layout. Written atomically; a
 * file whose CRC, size, sections or shapes are not exactly right is refused
 * with a message, never loaded. */
#ifndef FMNIST_WEIGHTS_H
#define FMNIST_WEIGHTS_H

#include <stdint.h>

#include "nn/net.h"
#include "nn/optim.h"

#define WEIGHTS_VERSION 3u      /* written */
#define WEIGHTS_VERSION_OLD 2u  /* still read */

/* A version 2 file's settings, in the encodings of that version (META and
 * REG texts, OPTM's hyper-parameters, RUN's run fields), for
 * train/settings.c to convert; all zero for a version 3 file. */
typedef struct {
    char *meta;          /* META: "key=value\n" lines (model=, ...)            */
    char *reg;           /* REG: l1, report_penalty, val, ...; "" without      */
    int epochs;          /* RUN: epochs the run was asked for                  */
    int batch;           /* RUN: mini-batch size                               */
    int train_n;         /* RUN: training images per epoch                     */
    uint64_t seed;       /* RUN                                                */
    OptConfig opt;       /* OPTM's hyper-parameters (lr: the last step's rate) */
} CkptV2;

/* What a checkpoint holds beside the network. For weights_save_run every
 * pointer may be NULL (the section is left out); weights_load_run fills it
 * (strings malloc'd, "" when absent) and weights_state_free releases it. */
typedef struct {
    unsigned version;    /* load: the file's version (2 or 3)                  */
    char *settings;      /* the run's settings, "key=value\n" lines ("SETS";
                            train/settings.h reads them)                       */
    char *log;           /* the log.csv text so far                            */
    int has_progress;    /* the fields below hold a run's progress ("RUN ")    */
    int epoch;           /* epochs finished                                    */
    uint64_t step;       /* optimizer steps taken (batches trained)            */
    /* Saved mid-epoch (pos_batch > 0; Ctrl-C): the position in epoch
     * epoch+1, so that a resumed run goes on from the next batch exactly. */
    int pos_batch;       /* batches of that epoch trained (0: at an epoch's end) */
    int pos_right;       /* right predictions over those batches               */
    double pos_loss;     /* the sum of their losses (as train_run adds them up) */
    double pos_seconds;  /* training seconds spent in that epoch so far        */
    int has_optim;       /* opt holds the optimizer state ("OPTM")             */
    Optim opt;           /* save: read only (m, v, t); load: owned (m, v of
                            nparams; cfg: version 2's OPTM, else the defaults) */
    int has_val;         /* validation's record ("VAL "):                      */
    double val_best;     /* the lowest validation loss (INFINITY: none yet)    */
    int val_best_epoch;  /* its epoch (0: none yet)                            */
    float *val_best_params; /* early stopping: that epoch's weights (nparams
                            floats: save: read only, load: owned), or NULL     */
    /* When TENS holds an average of the weights (--ema): the live weights,
     * which training goes on from ("LIVE"; nparams floats: save: read only,
     * load: owned), or NULL. */
    float *live;
    CkptV2 v2;           /* load: a version 2 file's settings                  */
} CkptState;

/* Weights only (plus the settings text, which may be NULL): enough for eval
 * and export, not for --resume. */
Status weights_save(const char *path, const Net *net, const char *settings, Err *e);
/* Everything in st (NULL: as weights_save with no settings). */
Status weights_save_run(const char *path, const Net *net, const CkptState *st, Err *e);

/* The bytes of a checkpoint of net (an upper bound, within 100 bytes and 16
 * per layer): with the optimizer state if has_optim, validation's best
 * weights if has_best, the live weights if has_live, and text_bytes of
 * settings and log text. weights_save_run builds the file in one buffer of
 * this size. */
size_t weights_file_bytes(const Net *net, int has_optim, int has_best, int has_live, size_t text_bytes);

/* Builds the network the file describes (for batches up to max_batch), with
 * the dropout rates of the run, and loads its tensors. *settings (malloc'd,
 * the settings text; "" if the file has none, as version 2 files) if
 * settings is not NULL. */
Status weights_load(const char *path, int max_batch, Net **net, char **settings, Err *e);
/* The same, and fills *st (if not NULL) with everything else the file holds.
 * max_batch <= 0 means the run's own batch size (the settings' "batch"
 * line; version 2: RUN's), ST_ERR_FORMAT if the file has no progress
 * section. On failure nothing is left allocated. */
Status weights_load_run(const char *path, int max_batch, Net **net, CkptState *st, Err *e);
/* The same from a checkpoint's bytes in memory (name only appears in
 * messages). Every size the bytes claim is checked against their length and
 * the limits of net_plan before anything large is allocated. */
Status weights_load_mem(const char *name, const void *data, size_t len, int max_batch, Net **net, CkptState *st,
                        Err *e);
void weights_state_free(CkptState *st);

#endif
