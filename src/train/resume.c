/* resume.c - a saved run's network and settings for `train --resume`
 * (see resume.h). The settings come from the checkpoint's binary sections
 * (exact floats); only the model file's name is read from the META text. */
#include "train/resume.h"

#include <stdio.h>
#include <string.h>

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
    if (epochs <= 0) epochs = ck->epochs; /* the run's own target: finish an interrupted run */
    if (epochs <= ck->epoch) {
        int done = ck->epoch;
        resume_free(r);
        return err_set(e, ST_ERR_ARG, "%s has already trained %d epoch%s; --epochs must be larger to resume", path,
                       done, done == 1 ? "" : "s");
    }
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
    s->train.resume_opt = &r->ck.opt;
    s->log_so_far = ck->log;
    return ST_OK;
}

void resume_free(ResumedRun *r)
{
    if (!r) return;
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
