/* run.c - one training run with its files (see run.h).
 *
 * The log is kept in memory and the whole file rewritten after each epoch,
 * then the checkpoint: both atomically, so an interrupted run keeps its last
 * finished epoch. The checkpoint's META names the thread-free settings only,
 * so runs with 1 and N threads write identical files. */
#include "train/run.h"

#include <stdio.h>
#include <string.h>

#include "model/weights.h"
#include "report/log.h"
#include "util/fileio.h"

Status run_build_net(const char *model, const float *dropout, int ndropout, int max_batch, Net **net, Err *e)
{
    ModelCfg cfg;
    Status st = cfg_parse_file(model, &cfg, e);
    if (st) return st;
    if (ndropout > 0 && (st = cfg_set_dropout(&cfg, dropout, ndropout, e))) {
        cfg_free(&cfg);
        return st;
    }
    return net_build(&cfg, max_batch, net, e); /* takes cfg over, even on failure */
}

void run_paths(const RunSpec *spec, char *model_path, char *log_path, size_t len)
{
    if (model_path) snprintf(model_path, len, "%s/model.fmw", spec->out);
    if (log_path) {
        if (spec->log_path) snprintf(log_path, len, "%s", spec->log_path);
        else snprintf(log_path, len, "%s/log.csv", spec->out);
    }
}

Status run_prepare(const RunSpec *spec, Err *e)
{
    char model_path[4200], log_path[4200];
    run_paths(spec, model_path, log_path, sizeof model_path);
    if (!spec->overwrite && (file_exists(model_path) || file_exists(log_path)))
        return err_set(e, ST_ERR_IO, "%s already holds a run (%s); choose another --out or add --overwrite", spec->out,
                       file_exists(model_path) ? model_path : log_path);
    return file_mkdirs(spec->out, e);
}

void run_meta(const RunSpec *spec, const Net *net, int train_n, char *buf, size_t len)
{
    int dlen = 0;
    char dbuf[1024] = "";
    for (int i = 0; i < net->nlayers; i++)
        if (!strcmp(net->layers[i].spec.kind, "dropout") && dlen < (int)sizeof dbuf)
            dlen += snprintf(dbuf + dlen, sizeof dbuf - (size_t)dlen, "%s%g", dlen ? "," : "",
                             (double)net->layers[i].spec.p);
    const OptConfig *o = &spec->train.opt;
    snprintf(buf, len,
             "model=%s\nepochs=%d\nbatch=%d\noptim=%s\nlr=%g\nmomentum=%g\nnesterov=%d\nweight_decay=%g\n"
             "decay_bias=%d\ndropout=%s\nseed=%d\ntrain_limit=%d\n",
             spec->model, spec->train.epochs, spec->train.batch, spec->optim_name, (double)o->lr, (double)o->momentum,
             o->nesterov, (double)o->weight_decay, o->decay_bias, dbuf, (int)spec->train.seed, train_n);
}

typedef struct {
    const RunHooks *hooks;
    char model_path[4200], log_path[4200];
    char meta[2048];
    Buf csv;
    const RunSpec *spec;
    int train_n;
} RunState;

static void on_batch(void *ctx, int epoch, int done, int total, double elapsed)
{
    RunState *rs = ctx;
    if (rs->hooks && rs->hooks->on_batch) rs->hooks->on_batch(rs->hooks->ctx, epoch, done, total, elapsed);
}

static Status on_epoch(void *ctx, const EpochStats *s, const Net *net, Err *e)
{
    RunState *rs = ctx;
    report_csv_row(&rs->csv, s);
    if (rs->csv.failed) return err_set(e, ST_ERR_NOMEM, "out of memory for the log");
    Status st = file_write_atomic(rs->log_path, rs->csv.data, rs->csv.len, e);
    if (st) return st;
    char meta[2300];
    snprintf(meta, sizeof meta, "%sepoch=%d\n", rs->meta, s->epoch);
    /* everything --resume needs: progress, optimizer state, the log so far */
    buf_put(&rs->csv, "", 1); /* NUL-terminate the log text for the checkpoint */
    rs->csv.len--;
    if (rs->csv.failed) return err_set(e, ST_ERR_NOMEM, "out of memory for the log");
    const TrainConfig *tc = &rs->spec->train;
    CkptState ck = {.meta = meta, .log = rs->csv.data, .has_progress = 1, .epoch = s->epoch, .epochs = tc->epochs,
                    .batch = tc->batch, .train_n = rs->train_n, .step = s->step, .seed = tc->seed,
                    .has_optim = s->opt != NULL};
    if (s->opt) ck.opt = *s->opt;
    if ((st = weights_save_run(rs->model_path, net, &ck, e))) return st;
    if (rs->hooks && rs->hooks->on_epoch) rs->hooks->on_epoch(rs->hooks->ctx, s);
    return ST_OK;
}

Status run_train(const RunSpec *spec, Net *net, const Dataset *train, const Dataset *test, const RunHooks *hooks,
                 Err *e)
{
    RunState rs = {.hooks = hooks, .spec = spec, .train_n = train->n};
    run_paths(spec, rs.model_path, rs.log_path, sizeof rs.model_path);
    run_meta(spec, net, train->n, rs.meta, sizeof rs.meta);
    if (spec->log_so_far && *spec->log_so_far) buf_put(&rs.csv, spec->log_so_far, strlen(spec->log_so_far));
    else buf_printf(&rs.csv, LOG_CSV_HEADER);
    TrainHooks th = {on_batch, on_epoch, &rs, hooks ? hooks->stop : NULL};
    Status st = train_run(net, train, test, &spec->train, &th, e);
    buf_free(&rs.csv);
    return st;
}
