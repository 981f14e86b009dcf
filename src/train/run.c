/* run.c - one training run with its files (see run.h).
 *
 * The log is kept in memory and the whole file rewritten after each epoch,
 * then the checkpoint: both atomically, so an interrupted run keeps its last
 * finished epoch. The checkpoint's settings are the thread-free ones only,
 * so runs with 1 and N threads write identical files. */
#include "train/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "report/log.h"
#include "report/tfevents.h"
#include "util/fileio.h"
#include "util/team.h"

Status run_build_net(const char *model, const float *dropout, int ndropout, int max_batch, Net **net, Err *e)
{
    NetSpec cfg;
    Status st = cfg_parse_file(model, &cfg, e);
    if (st) return st;
    if (ndropout > 0 && (st = cfg_set_dropout(&cfg, dropout, ndropout, e))) {
        netspec_free(&cfg);
        return st;
    }
    if ((st = net_build(&cfg, max_batch, net, e))) return st; /* takes cfg over, even on failure */
    const NetSpec *c = &(*net)->spec;
    if ((*net)->nclasses > DATA_MAX_CLASSES) {
        st = err_set(e, ST_ERR_SHAPE, "%s:%d: the last layer gives %d outputs, one per class; IDX labels are bytes, "
                     "so a data set has at most %d classes", c->path, c->layers[c->nlayers - 1].line,
                     (*net)->nclasses, DATA_MAX_CLASSES);
        net_free(*net);
        *net = NULL;
    }
    return st;
}

void run_paths(const RunSpec *spec, char *model_path, char *log_path, size_t len)
{
    if (model_path) snprintf(model_path, len, "%s/model.fmw", spec->out);
    if (log_path) {
        if (spec->log_path) snprintf(log_path, len, "%s", spec->log_path);
        else snprintf(log_path, len, "%s/log.csv", spec->out);
    }
}

Status run_check(const RunSpec *spec, Err *e)
{
    char model_path[FM_PATH_NAME], log_path[FM_PATH_NAME], best_path[FM_PATH_NAME];
    run_paths(spec, model_path, log_path, sizeof model_path);
    snprintf(best_path, sizeof best_path, "%s/best.fmw", spec->out);
    const char *held = file_exists(model_path) ? model_path
                       : file_exists(log_path) ? log_path
                       : file_exists(best_path) ? best_path
                                                : NULL;
    if (spec->overwrite || !held) return ST_OK;
    if (held == log_path && spec->log_path)
        return err_set(e, ST_ERR_IO, "--log %s already exists; choose another --log or add --overwrite", log_path);
    return err_set(e, ST_ERR_IO, "%s already holds a run (%s); choose another --out or add --overwrite", spec->out,
                   held);
}

Status run_prepare(const RunSpec *spec, Err *e)
{
    Status st = run_check(spec, e);
    if (!st) st = file_mkdirs(spec->out, e);
    return st ? st : file_check_writable(spec->out, e);
}

void run_settings(const RunSpec *spec, int train_n, RunSettings *s)
{
    settings_defaults(s);
    snprintf(s->model, sizeof s->model, "%s", spec->model);
    s->train = spec->train;
    s->train.val = NULL;
    s->val = spec->train.val ? spec->train.val->n : 0;
    s->train_n = train_n;
}

/* The program's own pages (code, libraries, stacks, the data reader's
 * buffers), and the chart of the log drawn after training (curves.png: an
 * RGB picture of 1600x520, its PNG filter rows and the encoder's tables). */
#define RUN_PROGRAM_BYTES ((size_t)4 << 20)
#define RUN_CHART_BYTES ((size_t)6 << 20)
/* the settings text (a model path of up to FM_PATH, the rest well under
 * 1 KiB) and a log row per epoch, in a checkpoint */
#define RUN_TEXT_BYTES (FM_PATH + 1024)
#define RUN_LOG_ROW_BYTES 160

void run_memory(const RunSpec *spec, const Net *net, const Dataset *train, const Dataset *test, RunMemory *m)
{
    memset(m, 0, sizeof *m);
    const TrainConfig *tc = &spec->train;
    const TrainProgress *r = spec->resume;
    const OptConfig *oc = &tc->opt;
    size_t copy = net->nparams * sizeof(float), mb = (size_t)net->max_batch;
    m->net = net->bytes;
    /* optim_init allocates only the moments a step uses */
    int moments = oc->kind != OPT_SGD ? 2 : oc->momentum != 0.0f || lrsched_cycles_momentum(&tc->lr);
    m->optim = copy * (size_t)(moments + (oc->l1 > 0.0f));
    if (r && r->opt) m->resumed += 2 * r->opt->n * sizeof(float); /* both read from the file */
    if (r && r->val.best_params) m->resumed += copy;
    if (r && r->live) m->resumed += copy;
    int best = tc->val && tc->early_stop > 0;
    if (best) m->best = copy;
    if (tc->ema > 0.0f) m->ema = copy;
    size_t nidx = (size_t)(train->n > net->max_batch ? train->n : net->max_batch);
    m->batch = mb * (shape_numel(net->in) + (size_t)net->nclasses) * sizeof(float) + mb * sizeof(int) +
               nidx * sizeof(uint32_t);
    const int ranks = team_size(tc->team);
    if (ranks > 1) /* a rank's micro-batches' gradients (train.c), each a copy of the arena */
        m->batch += (size_t)train_micro_batches_per_rank(tc, ranks) * copy;
    size_t text = RUN_TEXT_BYTES + (spec->log_so_far ? strlen(spec->log_so_far) : 0) +
                  (size_t)(tc->epochs > 0 ? tc->epochs : 0) * RUN_LOG_ROW_BYTES;
    m->checkpoint = weights_file_bytes(net, 1, best, tc->ema > 0.0f, text);
    m->data = dataset_bytes(train) + dataset_bytes(test) + (tc->val ? dataset_bytes(tc->val) : 0);
    m->program = RUN_PROGRAM_BYTES;
    size_t training = m->optim + m->best + m->ema + m->batch + m->checkpoint;
    m->total = m->program + m->data + m->net + m->resumed + (training > RUN_CHART_BYTES ? training : RUN_CHART_BYTES);
}

/* "1.5 GiB", "310.2 MiB" */
static const char *size_str(size_t bytes, char *buf, size_t len)
{
    if (bytes >= (size_t)1 << 30) snprintf(buf, len, "%.1f GiB", (double)bytes / (1u << 30));
    else snprintf(buf, len, "%.1f MiB", (double)bytes / (1u << 20));
    return buf;
}

Status run_memory_check(const RunSpec *spec, const Net *net, const Dataset *train, const Dataset *test, RunMemory *m,
                        Err *e)
{
    RunMemory tmp, *r = m ? m : &tmp;
    run_memory(spec, net, train, test, r);
    const char *what;
    size_t lim = net_memory_limit(&what);
    if (r->total <= lim) return ST_OK;
    char t[32], n[32], o[32], c[32], d[32], l[32];
    return err_set(e, ST_ERR_NOMEM,
                   "%s: this run needs an estimated %s of memory (network %s, optimizer %s, checkpoint %s, data %s), "
                   "more than %s (%s); try a smaller --batch or a smaller model",
                   net->spec.path, size_str(r->total, t, sizeof t), size_str(r->net, n, sizeof n),
                   size_str(r->optim + r->resumed + r->best + r->ema, o, sizeof o), size_str(r->checkpoint, c, sizeof c),
                   size_str(r->data, d, sizeof d), what, size_str(lim, l, sizeof l));
}

typedef struct {
    const RunSpec *spec;
    const RunHooks *hooks;
    char model_path[FM_PATH_NAME], log_path[FM_PATH_NAME];
    char best_path[FM_PATH_NAME]; /* OUT/best.fmw: the lowest validation loss */
    Buf settings;           /* the settings text (NUL-terminated)          */
    Buf csv;                /* the log so far                              */
    int cols;               /* optional log.csv columns (LOG_COL_*)        */
    int nbatches;           /* batches per epoch                          */
    /* TensorBoard: the event file (fd -1: none), the train losses of the
     * steps since the last loss/train_step point, and the first error met
     * appending (returned at the epoch's end, as a log.csv error is) */
    TfeFile tb;
    int tb_replace;         /* a new run with --overwrite: the earlier run's
                               event files go once this one has saved */
    double tb_loss;
    int tb_steps;
    Status tb_st;
    Err tb_err;
} RunState;

/* The log text NUL-terminated for the checkpoint (its length unchanged). */
static Status log_text(RunState *rs, Err *e)
{
    buf_put(&rs->csv, "", 1);
    rs->csv.len--;
    return rs->csv.failed ? err_set(e, ST_ERR_NOMEM, "out of memory for the log") : ST_OK;
}

/* A checkpoint of everything --resume needs: the settings, the log so
 * far, the progress p (at an epoch's end or inside one), the optimizer
 * state and validation's record; net's weights (TENS) are the model, and
 * with --ema p->live the weights training goes on from (LIVE). */
static Status save_state(RunState *rs, const char *path, const Net *net, const TrainProgress *p, Err *e)
{
    Status st = log_text(rs, e);
    if (st) return st;
    CkptState ck = {.settings = rs->settings.data, .log = rs->csv.data, .has_progress = 1, .epoch = p->epoch,
                    .step = p->step, .pos_batch = p->batch, .pos_right = p->right, .pos_loss = p->loss_sum,
                    .pos_seconds = p->seconds, .has_optim = 1, .opt = *p->opt,
                    .has_val = rs->spec->train.val != NULL, .val_best = p->val.best_loss,
                    .val_best_epoch = p->val.best_epoch, .val_best_params = (float *)p->val.best_params,
                    .live = (float *)p->live};
    if ((st = weights_save_run(path, net, &ck, e))) return st;
    if (path == rs->model_path && rs->hooks && rs->hooks->on_save)
        rs->hooks->on_save(rs->hooks->ctx, path, p->epoch, p->batch, p->batch ? rs->nbatches : 0);
    return ST_OK;
}

/* A new run over an earlier one (--overwrite, or a sweep's trial started
 * again): once it has saved its first files, the earlier run's event files
 * (fmnist's: events.out.tfevents.*.fmnist) are removed, as its log.csv and
 * model.fmw were replaced, so TensorBoard does not show both under one name. */
static Status tb_replace_old(RunState *rs, Err *e)
{
    if (!rs->tb_replace) return ST_OK;
    rs->tb_replace = 0;
    const char *mine = rs->tb.fd < 0 ? NULL : strrchr(rs->tb.path, '/'); /* with --no-tensorboard: none */
    int n;
    return file_remove_matching(rs->spec->out, "events.out.tfevents.", ".fmnist", mine ? mine + 1 : NULL, &n, e);
}

/* Ctrl-C: the state after the last finished batch, resumable from there. */
static Status on_stop(void *ctx, const TrainProgress *p, const Net *net, Err *e)
{
    RunState *rs = ctx;
    Status st = save_state(rs, rs->model_path, net, p, e);
    return st ? st : tb_replace_old(rs, e);
}

/* loss/train_step: the mean of the last tb_every steps' losses, every
 * tb_every steps (at step = the global step). */
static void tb_step(RunState *rs, unsigned long long step, double loss)
{
    const int every = rs->spec->tb_every;
    if (rs->tb.fd < 0 || every <= 0 || rs->tb_st) return;
    rs->tb_loss += loss, rs->tb_steps++;
    if (step % (unsigned long long)every) return;
    Buf b = {0};
    TfeScalar v = {"loss/train_step", rs->tb_loss / rs->tb_steps};
    tfe_scalars(&b, tfe_now(), (int64_t)step, &v, 1);
    rs->tb_st = tfe_append(&rs->tb, &b, &rs->tb_err);
    rs->tb_loss = 0, rs->tb_steps = 0;
}

static void on_batch(void *ctx, const BatchStats *b)
{
    RunState *rs = ctx;
    tb_step(rs, b->step, b->batch_loss);
    if (rs->hooks && rs->hooks->on_batch) rs->hooks->on_batch(rs->hooks->ctx, b);
}

static void on_eval(void *ctx, const EvalStats *s)
{
    RunState *rs = ctx;
    if (rs->hooks && rs->hooks->on_eval) rs->hooks->on_eval(rs->hooks->ctx, s);
}

/* The epoch's scalars and histograms, appended to the event file. */
static Status tb_epoch(RunState *rs, const EpochStats *s, const TrainProgress *p, const Net *net, Err *e)
{
    if (rs->tb.fd < 0) return tb_replace_old(rs, e);
    if (rs->tb_st) {
        *e = rs->tb_err;
        return rs->tb_st;
    }
    Buf b = {0};
    tfe_epoch(&b, tfe_now(), s, p->opt ? p->opt->cfg.lr : rs->spec->train.opt.lr, net);
    Status st = tfe_append(&rs->tb, &b, e);
    return st ? st : tb_replace_old(rs, e);
}

static Status on_epoch(void *ctx, const EpochStats *s, const TrainProgress *p, const Net *net, Err *e)
{
    RunState *rs = ctx;
    report_csv_row_cols(&rs->csv, s, rs->cols);
    if (rs->csv.failed) return err_set(e, ST_ERR_NOMEM, "out of memory for the log");
    /* the checkpoints first: if one cannot be written, log.csv still matches
     * the model.fmw before it */
    Status st;
    int every = rs->spec->save_every > 0 ? rs->spec->save_every : 1;
    if ((s->epoch % every == 0 || s->epoch == s->epochs || s->stopped_early) &&
        (st = save_state(rs, rs->model_path, net, p, e)))
        return st;
    /* best.fmw: chosen by validation only (a test figure never chooses) */
    if (s->has_val && s->val_improved && (st = save_state(rs, rs->best_path, net, p, e))) return st;
    if ((st = file_write_atomic(rs->log_path, rs->csv.data, rs->csv.len, e))) return st;
    if ((st = tb_epoch(rs, s, p, net, e))) return st;
    if (rs->hooks && rs->hooks->on_epoch) rs->hooks->on_epoch(rs->hooks->ctx, s);
    return ST_OK;
}

Status run_train(const RunSpec *spec, Net *net, const Dataset *train, const Dataset *test, const RunHooks *hooks,
                 Err *e)
{
    RunState rs = {.spec = spec, .hooks = hooks, .tb = {.fd = -1}, .tb_replace = spec->overwrite && !spec->resume};
    int batch = spec->train.batch > 0 ? spec->train.batch : 1;
    rs.nbatches = (train->n + batch - 1) / batch;
    run_paths(spec, rs.model_path, rs.log_path, sizeof rs.model_path);
    snprintf(rs.best_path, sizeof rs.best_path, "%s/best.fmw", spec->out);
    RunSettings set;
    run_settings(spec, train->n, &set);
    settings_format(&set, &rs.settings);
    buf_put(&rs.settings, "", 1);
    rs.cols = LOG_COL_NORM | (spec->train.val ? LOG_COL_VAL : 0);
    if (spec->log_so_far && *spec->log_so_far) { /* continue with the columns it has (old logs: six) */
        buf_put(&rs.csv, spec->log_so_far, strlen(spec->log_so_far));
        rs.cols = report_csv_cols(spec->log_so_far) > 0 ? report_csv_cols(spec->log_so_far) : 0;
    } else {
        report_csv_header(&rs.csv, rs.cols);
    }
    Status st = rs.settings.failed ? err_set(e, ST_ERR_NOMEM, "out of memory for the settings") : log_text(&rs, e);
    /* rank 0 writes the events, as it writes every other file; its status is
     * every rank's */
    if (!st && spec->tensorboard && team_rank(spec->train.team) == 0) st = tfe_create(&rs.tb, spec->out, tfe_now(), e);
    st = team_agree(spec->train.team, st, e);
    if (!st) {
        TrainHooks th = {on_batch, on_epoch, &rs, hooks ? hooks->stop : NULL, on_stop, on_eval};
        st = train_run(net, train, test, &spec->train, spec->resume, &th, e);
    }
    tfe_close(&rs.tb);
    buf_free(&rs.settings);
    buf_free(&rs.csv);
    return st;
}
