/* resume.c - a saved run's network and settings for `train --resume`
 * (see resume.h). The settings come from the checkpoint's binary sections
 * (exact floats); only the model file's name is read from the META text. */
#include "train/resume.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/curve.h"
#include "train/regopts.h"
#include "util/fileio.h"

/* The value of "key=" in "key=value\n" lines, cut to len; "" if absent. */
static void meta_value(const char *meta, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    out[0] = 0;
    for (const char *p = meta; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            size_t n = strcspn(p + kl + 1, "\n");
            snprintf(out, len, "%.*s", (int)n, p + kl + 1);
            return;
        }
}

/* The log a resumed run goes on with must be one fmnist reads, with a row
 * for each epoch the progress section says is finished: otherwise the run
 * would write a log.csv that `plot` and --resume refuse, over a good one. */
static Status check_log(const char *path, const CkptState *ck, Err *e)
{
    char dir[FM_PATH], log[FM_PATH_NAME];
    resume_folder(path, dir, sizeof dir);
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

/* Early stopping's state from the log (the lowest val_loss, epochs since)
 * and, with early stopping, that epoch's weights from best-val.fmw. */
static Status resume_val_state(const char *path, ResumedRun *r, TrainConfig *reg, Err *e)
{
    Curve c;
    Status st = curve_parse(path, r->ck.log, &c, e);
    if (st) return st;
    int best = -1;
    for (int i = 0; c.val_loss && i < c.n; i++)
        if (best < 0 || c.val_loss[i] < c.val_loss[best]) best = i;
    reg->val_best = best >= 0 ? c.val_loss[best] : 0;
    reg->val_since = best >= 0 ? c.n - 1 - best : -1;
    curve_free(&c);
    if (reg->early_stop <= 0 || best < 0) return ST_OK;
    char dir[FM_PATH], bp[FM_PATH_NAME];
    resume_folder(path, dir, sizeof dir);
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
    return r->val_best ? ST_OK : err_set(e, ST_ERR_NOMEM, "out of memory");
}

Status resume_load(const char *path, int epochs, ResumedRun *r, Err *e)
{
    memset(r, 0, sizeof *r);
    Status st = weights_load_run(path, 0, &r->net, &r->ck, e);
    if (st) return st;
    const CkptState *ck = &r->ck;
    if (!ck->has_progress || !ck->has_optim) {
        resume_free(r);
        return err_set(e, ST_ERR_FORMAT, "%s: holds weights only, no training state to resume", path);
    }
    if ((st = check_log(path, ck, e))) {
        resume_free(r);
        return st;
    }
    if (epochs <= 0) epochs = ck->epochs; /* the run's own target: finish an interrupted run */
    if (epochs <= ck->epoch) {
        int done = ck->epoch;
        resume_free(r);
        return err_set(e, ST_ERR_ARG, "%s has already trained %d epoch%s; --epochs must be larger to resume", path,
                       done, done == 1 ? "" : "s");
    }
    /* settings beyond OPTM (L1, ...): the optimizer state's cfg is the one train_run uses */
    TrainConfig reg = {.opt = ck->opt.cfg};
    if ((st = regopts_parse(path, ck->reg ? ck->reg : "", &reg, &r->val, e)) ||
        (r->val > INT_MAX - ck->train_n && /* the caller loads train_n + val images */
         (st = err_set(e, ST_ERR_FORMAT, "%s: %d training and %d validation images, more than fmnist can load (%d)",
                       path, ck->train_n, r->val, INT_MAX))) ||
        (r->val && (st = resume_val_state(path, r, &reg, e)))) {
        resume_free(r);
        return st;
    }
    r->ck.opt.cfg.l1 = reg.opt.l1;
    meta_value(ck->meta, "model", r->model, sizeof r->model);
    if (!r->model[0]) snprintf(r->model, sizeof r->model, "%s", path);
    RunSpec *s = &r->spec;
    s->model = r->model;
    s->optim_name = optim_kind_name(ck->opt.cfg.kind);
    s->train.epochs = epochs;
    s->train.batch = ck->batch;
    s->train.seed = ck->seed;
    s->train.opt = ck->opt.cfg;
    s->train.start_epoch = ck->epoch;
    s->train.start_step = ck->step;
    s->train.start_batch = ck->pos_batch; /* saved mid-epoch (Ctrl-C): go on from the next batch */
    s->train.start_right = ck->pos_right;
    s->train.start_loss = ck->pos_loss;
    s->train.start_seconds = ck->pos_seconds;
    s->train.resume_opt = &r->ck.opt;
    s->train.report_penalty = reg.report_penalty;
    s->train.early_stop = reg.early_stop;
    s->train.aug = reg.aug;
    s->train.lr = reg.lr;
    s->train.val_best = reg.val_best;
    s->train.val_since = reg.val_since;
    s->train.val_best_params = r->val_best;
    s->log_so_far = ck->log;
    return ST_OK;
}

void resume_free(ResumedRun *r)
{
    if (!r) return;
    free(r->val_best);
    net_free(r->net);
    weights_state_free(&r->ck);
    memset(r, 0, sizeof *r);
}

void resume_folder(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, len, ".");
    else if (slash == path) snprintf(out, len, "/");
    else snprintf(out, len, "%.*s", (int)(slash - path), path);
}
