/* ckptinfo.h - what a checkpoint holds, in words: for `eval` (what it
 * evaluates) and `info` (a Keras-style summary of a .fmw file).
 *
 * A checkpoint is read once (weights_load_run) with its settings
 * (settings_read) when it has them; then each part is described into a Buf:
 * the file and its model, the settings (settings_describe), the progress
 * (epochs done of those planned, the position inside an epoch, stopped
 * early), the epoch chosen by validation (the lowest validation loss, the
 * first such epoch; none without a validation set) and the per-epoch figures
 * of the log inside the checkpoint. A file with weights only (weights_save,
 * as `export`'s input may be) has no settings, progress or log: each part
 * then says so. */
#ifndef FMNIST_CKPTINFO_H
#define FMNIST_CKPTINFO_H

#include "model/weights.h"
#include "train/settings.h"
#include "util/fileio.h"

typedef struct {
    Net *net;               /* owned                                          */
    CkptState ck;           /* owned: the log, progress, validation's record  */
    int has_settings;       /* settings below were read from the file         */
    RunSettings settings;
    Status settings_status; /* settings_read's verdict on the file's settings
                               text (has_settings is then 0):                 */
    Err settings_err;       /* its message, naming the file                   */
    int chosen_epoch;       /* chosen by validation (0: none: no validation
                               set, or no epoch finished yet)                 */
    double chosen_loss;     /* its validation loss                            */
} CkptInfo;

/* Reads path (the net built for batches of up to max_batch) and its
 * settings. Errors: those of weights_load_run and of the log inside
 * (curve_parse, for version 2's chosen epoch); each names the file. A
 * settings text settings_read refuses is not an error here: it is kept in
 * settings_status and settings_err (info refuses the file, eval says so and
 * evaluates). On failure nothing is left allocated. */
Status ckptinfo_load(const char *path, int max_batch, CkptInfo *ci, Err *e);
void ckptinfo_free(CkptInfo *ci);

/* "PATH: an fmnist checkpoint (version 3) of models/mlp.cfg, 8 layers,
 * 235146 parameters" and a newline (the model file as the run named it; the
 * file's own path for weights only). */
void ckptinfo_header(const char *path, const CkptInfo *ci, Buf *b);

/* settings_describe of its settings, or one line saying that it records
 * none, or that they cannot be read (and why). */
void ckptinfo_settings(const CkptInfo *ci, Buf *b);

/* "progress: ..." (epochs done of planned, finished, stopped early, or
 * interrupted inside an epoch, batch B of N) and "chosen by validation:
 * ..." lines. */
void ckptinfo_progress(const CkptInfo *ci, Buf *b);

/* The per-epoch figures of the log inside the checkpoint as a table (train
 * and test loss and accuracy, validation's if the run had them, seconds),
 * the epoch chosen by validation marked; a line saying there are none
 * otherwise. Errors: the log's (curve_parse), naming path. */
Status ckptinfo_log(const char *path, const CkptInfo *ci, Buf *b, Err *e);

#endif
