/* resume.c - a saved run's network and settings for `train --resume`
 * (see resume.h). */
#include "train/resume.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/curve.h"
#include "util/fileio.h"

/* The log a resumed run goes on with must be one fmnist reads, with a row
 * for each epoch the progress section says is finished: otherwise the run
 * would write a log.csv that `plot` and --resume refuse, over a good one. */
static Status check_log(const char *path, const CkptState *ck, Err *e)
{
    char dir[FM_PATH], log[FM_PATH_NAME];
    file_folder_of(path, dir, sizeof dir);
    snprintf(log, sizeof log, "%s/log.csv", dir);
    Curve c = {0};
    Err sub;
    if (*ck->log && curve_parse("the log", ck->log, &c, &sub)) /* "": none yet, a fresh header */
        return err_set(e, ST_ERR_FORMAT, "%s: the log it holds is not readable (%s); not resuming, %s is left as it is",
                       path, sub.msg, log);
    int rows = c.n;
    curve_free(&c);
    if (rows != ck->epoch)
        return err_set(e, ST_ERR_FORMAT,
                       "%s: the log it holds has %d epoch%s, its progress section says %d finished; not resuming, %s "
                       "is left as it is",
                       path, rows, rows == 1 ? "" : "s", ck->epoch, log);
    return ST_OK;
}

/* Version 2: early stopping's state from the log (the lowest val_loss, as
 * the log rounds it, and its epoch) and, with early stopping, that epoch's
 * weights from best-val.fmw beside path. */
static Status val_record_v2(const char *path, ResumedRun *r, Err *e)
{
    Curve c;
    Status st = curve_parse(path, r->ck.log, &c, e);
    if (st) return st;
    int best = -1;
    for (int i = 0; c.val_loss && i < c.n; i++)
        if (best < 0 || c.val_loss[i] < c.val_loss[best]) best = i;
    ValRecord *v = &r->progress.val;
    if (best >= 0) *v = (ValRecord){c.val_loss[best], r->ck.epoch - (c.n - 1 - best), NULL};
    curve_free(&c);
    if (r->settings.train.early_stop <= 0 || best < 0) return ST_OK;
    char dir[FM_PATH], bp[FM_PATH_NAME];
    file_folder_of(path, dir, sizeof dir);
    snprintf(bp, sizeof bp, "%s/best-val.fmw", dir);
    Net *bn;
    if ((st = weights_load(bp, 1, &bn, NULL, e))) return st;
    if (bn->nparams != r->net->nparams) {
        net_free(bn);
        return err_set(e, ST_ERR_FORMAT, "%s does not hold the weights of %s's model", bp, path);
    }
    r->val_best = malloc(bn->nparams * sizeof(float));
    if (r->val_best) memcpy(r->val_best, bn->params, bn->nparams * sizeof(float));
    net_free(bn);
    v->best_params = r->val_best;
    return r->val_best ? ST_OK : err_set(e, ST_ERR_NOMEM, "out of memory");
}

/* Validation's record: the checkpoint's own (version 3), or rebuilt. */
static Status val_record(const char *path, ResumedRun *r, Err *e)
{
    const CkptState *ck = &r->ck;
    r->progress.val = (ValRecord){INFINITY, ck->epoch, NULL};
    if (ck->version == 2) return val_record_v2(path, r, e);
    if (!ck->has_val || (r->settings.train.early_stop > 0 && !ck->val_best_params))
        return err_set(e, ST_ERR_FORMAT, "%s: holds no validation record (its run holds out %d images%s)", path,
                       r->settings.val, r->settings.train.early_stop > 0 ? " for early stopping" : "");
    r->progress.val = (ValRecord){ck->val_best, ck->val_best_epoch, ck->val_best_params};
    return ST_OK;
}

/* The position inside an epoch against the run's batches. */
static Status check_position(const char *path, const CkptState *ck, const RunSettings *s, Err *e)
{
    long long batch = s->train.batch, nbatches = (s->train_n + batch - 1) / batch;
    if (ck->pos_batch >= nbatches || ck->pos_right > ck->pos_batch * batch || ck->pos_right > s->train_n)
        return err_set(e, ST_ERR_FORMAT, "%s: progress section out of range (batch %d of %lld in epoch %d)", path,
                       ck->pos_batch, nbatches, ck->epoch + 1);
    return ST_OK;
}

static Status resume_state(const char *path, int epochs, ResumedRun *r, Err *e)
{
    const CkptState *ck = &r->ck;
    RunSettings *s = &r->settings;
    if (!ck->has_progress || !ck->has_optim)
        return err_set(e, ST_ERR_FORMAT, "%s: holds weights only, no training state to resume", path);
    Status st;
    if ((st = check_log(path, ck, e)) || (st = settings_read(path, ck, s, e)) ||
        (st = check_position(path, ck, s, e)))
        return st;
    if (s->val > INT_MAX - s->train_n) /* the caller loads train_n + val images */
        return err_set(e, ST_ERR_FORMAT, "%s: %d training and %d validation images, more than fmnist can load (%d)",
                       path, s->train_n, s->val, INT_MAX);
    if (epochs <= 0) epochs = s->train.epochs; /* the run's own target: finish an interrupted run */
    if (epochs <= ck->epoch)
        return err_set(e, ST_ERR_ARG, "%s has already trained %d epoch%s; --epochs must be larger to resume", path,
                       ck->epoch, ck->epoch == 1 ? "" : "s");
    s->train.epochs = epochs;
    r->progress = (TrainProgress){.epoch = ck->epoch, .batch = ck->pos_batch, .step = ck->step,
                                  .loss_sum = ck->pos_loss, .right = ck->pos_right, .seconds = ck->pos_seconds,
                                  .opt = &ck->opt, .val = {INFINITY, ck->epoch, NULL}, .live = ck->live};
    if (s->val && (st = val_record(path, r, e))) return st;
    if (ck->live && !(s->train.ema > 0.0f))
        return err_set(e, ST_ERR_FORMAT, "%s: holds live weights (LIVE) beside its model, but its settings have no ema",
                       path);
    if (!ck->live && s->train.ema > 0.0f)
        return err_set(e, ST_ERR_FORMAT, "%s: its settings have ema=%g, but it holds no live weights (LIVE) to train on",
                       path, (double)s->train.ema);
    RunSpec *sp = &r->spec;
    sp->model = s->model;
    sp->train = s->train;
    sp->resume = &r->progress;
    sp->log_so_far = ck->log;
    return ST_OK;
}

Status resume_load(const char *path, int epochs, ResumedRun *r, Err *e)
{
    memset(r, 0, sizeof *r);
    Status st = weights_load_run(path, 0, &r->net, &r->ck, e);
    if (!st && (st = resume_state(path, epochs, r, e))) resume_free(r);
    return st;
}

void resume_free(ResumedRun *r)
{
    if (!r) return;
    free(r->val_best);
    net_free(r->net);
    weights_state_free(&r->ck);
    memset(r, 0, sizeof *r);
}
