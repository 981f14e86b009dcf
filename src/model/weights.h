/* weights.h - the native checkpoint file (.fmw), version 2.
 *
 * One file holds everything a run needs to be evaluated, exported or resumed:
 * the model text, the dropout rates in effect, every tensor, and optionally
 * the run's settings (META text), its log so far, its progress (epoch, step,
 * seed, batch) and the optimizer state. docs/checkpoint.md has the byte
 * layout. Written atomically; a file whose CRC, size, sections or shapes are
 * not exactly right is refused with a message, never loaded. */
#ifndef FMNIST_WEIGHTS_H
#define FMNIST_WEIGHTS_H

#include <stdint.h>

#include "nn/net.h"
#include "nn/optim.h"

#define WEIGHTS_VERSION 2u

/* What a checkpoint holds beside the network. For weights_save_run every
 * pointer may be NULL (the section is left out); weights_load_run fills it
 * (strings malloc'd, "" when absent) and weights_state_free releases it. */
typedef struct {
    char *meta;          /* the run's settings, "key=value\n" lines            */
    char *log;           /* the log.csv text so far                            */
    char *reg;           /* settings beyond OPTM ("REG ", key=value lines: l1,
                            report_penalty, ...; see train/regopts.h)          */
    int has_progress;    /* the fields below hold a run's progress ("RUN ")    */
    int epoch;           /* epochs finished                                    */
    int epochs;          /* epochs the run was asked for when it was saved     */
    int batch;           /* mini-batch size                                    */
    int train_n;         /* training images per epoch                          */
    uint64_t step;       /* optimizer steps taken (batches trained)            */
    uint64_t seed;       /* seed of initialization, shuffles and dropout       */
    /* Saved mid-epoch (pos_batch > 0; Ctrl-C): the position in epoch
     * epoch+1, so that a resumed run goes on from the next batch exactly. */
    int pos_batch;       /* batches of that epoch trained (0: at an epoch's end) */
    int pos_right;       /* right predictions over those batches               */
    double pos_loss;     /* the sum of their losses (as train_run adds them up) */
    double pos_seconds;  /* training seconds spent in that epoch so far        */
    int has_optim;       /* opt holds the optimizer state ("OPTM")             */
    Optim opt;           /* save: read only; load: owned (m, v of nparams)     */
} CkptState;

/* Weights only (plus meta, which may be NULL): enough for eval and export,
 * not for --resume. */
Status weights_save(const char *path, const Net *net, const char *meta, Err *e);
/* Everything in st (NULL: as weights_save with no meta). */
Status weights_save_run(const char *path, const Net *net, const CkptState *st, Err *e);

/* The bytes of a checkpoint of net (an upper bound, within 100 bytes): with
 * the optimizer state if has_optim, and text_bytes of META, LOG and REG text.
 * weights_save_run builds the file in one buffer of this size. */
size_t weights_file_bytes(const Net *net, int has_optim, size_t text_bytes);

/* Builds the network the file describes (for batches up to max_batch), with
 * the dropout rates of the run, and loads its tensors. *meta (malloc'd, may
 * be empty) if meta is not NULL. */
Status weights_load(const char *path, int max_batch, Net **net, char **meta, Err *e);
/* The same, and fills *st (if not NULL) with everything else the file holds.
 * max_batch <= 0 means the run's own batch size (ST_ERR_FORMAT if the file
 * has no progress section). On failure nothing is left allocated. */
Status weights_load_run(const char *path, int max_batch, Net **net, CkptState *st, Err *e);
/* The same from a checkpoint's bytes in memory (name only appears in
 * messages). Every size the bytes claim is checked against their length and
 * the limits of net_plan before anything large is allocated. */
Status weights_load_mem(const char *name, const void *data, size_t len, int max_batch, Net **net, CkptState *st,
                        Err *e);
void weights_state_free(CkptState *st);

#endif
