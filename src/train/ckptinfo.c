/* ckptinfo.c - a checkpoint described in words (see ckptinfo.h). */
#include "train/ckptinfo.h"

#include <math.h>
#include <string.h>

#include "report/curve.h"

/* Version 2 keeps no record: the first lowest val_loss of its log (as the
 * log rounds it), as resuming it does. */
static Status chosen_from_log(const char *path, CkptInfo *ci, Err *e)
{
    Curve c;
    Status st = curve_parse(path, ci->ck.log ? ci->ck.log : "", &c, e);
    if (st) return st;
    for (int i = 0; c.val_loss && i < c.n; i++)
        if (!ci->chosen_epoch || c.val_loss[i] < ci->chosen_loss) {
            ci->chosen_epoch = c.epoch[i];
            ci->chosen_loss = c.val_loss[i];
        }
    curve_free(&c);
    return ST_OK;
}

/* The settings, if the file has them: a run's checkpoint (version 3: its
 * settings text; version 2: its RUN section). */
static void read_settings(const char *path, CkptInfo *ci)
{
    const CkptState *ck = &ci->ck;
    ci->has_settings = ck->version == 2 ? ck->has_progress : ck->settings && *ck->settings;
    if (ci->has_settings && (ci->settings_status = settings_read(path, ck, &ci->settings, &ci->settings_err)))
        ci->has_settings = 0;
}

Status ckptinfo_load(const char *path, int max_batch, CkptInfo *ci, Err *e)
{
    memset(ci, 0, sizeof *ci);
    Status st = weights_load_run(path, max_batch, &ci->net, &ci->ck, e);
    if (!st) read_settings(path, ci);
    if (!st && ci->ck.has_val && ci->ck.val_best_epoch > 0 && isfinite(ci->ck.val_best)) {
        ci->chosen_epoch = ci->ck.val_best_epoch;
        ci->chosen_loss = ci->ck.val_best;
    } else if (!st && ci->ck.version == 2) {
        st = chosen_from_log(path, ci, e);
    }
    if (st) ckptinfo_free(ci);
    return st;
}

void ckptinfo_free(CkptInfo *ci)
{
    if (!ci) return;
    net_free(ci->net);
    weights_state_free(&ci->ck);
    memset(ci, 0, sizeof *ci);
}

void ckptinfo_header(const char *path, const CkptInfo *ci, Buf *b)
{
    const Net *n = ci->net;
    buf_printf(b, "%s: an fmnist checkpoint (version %u) of %s, %d layers, %zu parameters\n", path, ci->ck.version,
               ci->has_settings ? ci->settings.model : path, n->nlayers, n->nparams - n->nbuffers);
}

void ckptinfo_settings(const CkptInfo *ci, Buf *b)
{
    if (ci->has_settings) settings_describe(&ci->settings, ci->net, b);
    else if (ci->settings_status) buf_printf(b, "settings: not readable (%s)\n", ci->settings_err.msg);
    else buf_printf(b, "settings: none recorded (weights only); the model text holds the dropout rates\n");
}

/* Stopped by early stopping: at an epoch's end, before the planned last,
 * early_stop epochs after the chosen one. */
static int stopped_early(const CkptInfo *ci)
{
    const CkptState *ck = &ci->ck;
    int k = ci->settings.train.early_stop;
    return k > 0 && ck->pos_batch == 0 && ck->epoch < ci->settings.train.epochs && ci->chosen_epoch > 0 &&
           ck->epoch - ci->chosen_epoch >= k;
}

void ckptinfo_progress(const CkptInfo *ci, Buf *b)
{
    const CkptState *ck = &ci->ck;
    const RunSettings *s = &ci->settings;
    int epochs = s->train.epochs;
    if (!ck->has_progress || !ci->has_settings) {
        buf_printf(b, "progress: none recorded (weights only: not resumable)\n");
    } else if (ck->pos_batch > 0) {
        int batch = s->train.batch > 0 ? s->train.batch : 1;
        int nbatches = (int)(((long long)s->train_n + batch - 1) / batch);
        buf_printf(b, "progress: %d of %d epoch%s done, then batch %d of %d of epoch %d (interrupted; train --resume "
                   "goes on)\n", ck->epoch, epochs, epochs == 1 ? "" : "s", ck->pos_batch, nbatches, ck->epoch + 1);
    } else if (stopped_early(ci)) {
        int since = ck->epoch - ci->chosen_epoch;
        buf_printf(b, "progress: stopped early after epoch %d of %d (no lower validation loss for %d epoch%s)\n",
                   ck->epoch, epochs, since, since == 1 ? "" : "s");
    } else if (ck->epoch >= epochs) {
        buf_printf(b, "progress: finished, %d of %d epoch%s\n", ck->epoch, epochs, epochs == 1 ? "" : "s");
    } else {
        buf_printf(b, "progress: %d of %d epoch%s done\n", ck->epoch, epochs, epochs == 1 ? "" : "s");
    }
    if (!ci->has_settings || ci->settings.val <= 0)
        buf_printf(b, "chosen by validation: nothing (no validation set; the test set chooses nothing)\n");
    else if (!ci->chosen_epoch)
        buf_printf(b, "chosen by validation: no epoch yet\n");
    else
        buf_printf(b, "chosen by validation: epoch %d (validation loss %.4f, the lowest)%s\n", ci->chosen_epoch,
                   ci->chosen_loss,
                   ck->pos_batch == 0 && ck->epoch == ci->chosen_epoch ? "; these are its weights" : "");
}

/* One row of the per-epoch table. */
static void log_row(const Curve *c, int i, int chosen, Buf *b)
{
    buf_printf(b, "%5d  %10.4f  %8.2f%%  %9.4f  %7.2f%%", c->epoch[i], c->train_loss[i], 100 * c->train_acc[i],
               c->test_loss[i], 100 * c->test_acc[i]);
    if (c->val_loss) buf_printf(b, "  %8.4f  %6.2f%%", c->val_loss[i], 100 * c->val_acc[i]);
    buf_printf(b, "  %7.2f%s\n", c->seconds[i], c->epoch[i] == chosen ? " <- chosen (validation)" : "");
}

Status ckptinfo_log(const char *path, const CkptInfo *ci, Buf *b, Err *e)
{
    const char *text = ci->ck.log ? ci->ck.log : "";
    if (!*text) {
        buf_printf(b, "per-epoch figures: none (the file holds no log)\n");
        return ST_OK;
    }
    Curve c;
    Status st = curve_parse(path, text, &c, e);
    if (st) return st;
    if (c.n == 0) {
        buf_printf(b, "per-epoch figures: none yet (no epoch finished)\n");
    } else {
        buf_printf(b, "per-epoch figures (the log inside the checkpoint):\n");
        buf_printf(b, "epoch  train loss  train acc  test loss  test acc%s  seconds\n",
                   c.val_loss ? "  val loss  val acc" : "");
        for (int i = 0; i < c.n; i++) log_row(&c, i, ci->chosen_epoch, b);
    }
    curve_free(&c);
    return ST_OK;
}
