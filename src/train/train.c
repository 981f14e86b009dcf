/* train.c - epoch loop, evaluation (see train.h).
 *
 * Reproducibility: the shuffle of epoch k comes from an Rng seeded with
 * (seed, k); the dropout key of step s is train_step_key(seed, s); losses are
 * summed in sample order. None depends on the thread count, so the same seed
 * gives the same numbers with 1 or N threads.
 *
 * Ranks (cfg->team, util/team.h): each batch's micro-batches are shared out
 * (team_share), each rank forwards and backpropagates its run of them, and
 * every sum over samples (gradients, losses, batchnorm's statistics, the
 * evaluations' chunks) is added in micro-batch (chunk) order through
 * team_fold_*: every rank holds the same numbers after each step, the ones
 * one process computes. Rank 0 alone calls the hooks; their status, the stop
 * flag and every failure are agreed (team_agree), so all ranks stop at the
 * same batch and return the same status.
 *
 * --ema (cfg->ema, nn/ema.h): the Trainer holds a second arena. While the
 * net trains, the net holds the live weights and t->ema their average,
 * updated after every step (elementwise: the same on every rank); from an
 * epoch's evaluation to the next epoch's first batch, and when train_run
 * returns, the two are exchanged (place): the net holds the model, the
 * average, which is evaluated, recorded and handed to the hooks with the
 * live weights beside it (TrainProgress.live). */
#include "train/train.h"

#include "kernels/elementwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/ema.h"
#include "nn/loss.h"
#include "nn/penalty.h"
#include "util/team.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t train_step_key(uint64_t seed, uint64_t step)
{
    return rng_mix64(rng_mix64(seed ^ 0x5eed5eed5eedULL) + step);
}

typedef struct {
    float *x, *dlogits;
    int *labels;
    uint32_t *idx;
    double *rec, *scratch;      /* per micro-batch or chunk: (loss sum, right) */
    int nrec;                   /* records each holds                          */
    float *leaves;              /* ranks: this rank's micro-batches' gradients */
} Buffers;

static void buffers_free(Buffers *b)
{
    free(b->x);
    free(b->dlogits);
    free(b->labels);
    free(b->idx);
    free(b->rec);
    free(b->scratch);
    free(b->leaves);
}

static int chunks(int n, int size) { return n / size + (n % size != 0); }

int train_micro_batches(const TrainConfig *cfg)
{
    return cfg->micro_batch > 0 ? chunks(cfg->batch, cfg->micro_batch) : 1;
}

int train_micro_batches_per_rank(const TrainConfig *cfg, int ranks)
{
    return chunks(train_micro_batches(cfg), ranks);
}

/* nidx: the shuffle's length; nrec: the most micro-batches of a batch or
 * chunks of an evaluation; nleaves: gradient copies (ranks only). */
static Status buffers_alloc(Buffers *b, const Net *net, int nidx, int nrec, int nleaves, Err *e)
{
    size_t mb = (size_t)net->max_batch;
    b->x = malloc(mb * shape_numel(net->in) * sizeof(float));
    b->dlogits = malloc(mb * (size_t)net->nclasses * sizeof(float));
    b->labels = malloc(mb * sizeof(int));
    b->idx = malloc((size_t)(nidx > 0 ? nidx : 1) * sizeof(uint32_t));
    b->nrec = nrec > 0 ? nrec : 1;
    b->rec = malloc((size_t)b->nrec * 2 * sizeof(double));
    b->scratch = malloc((size_t)b->nrec * 2 * sizeof(double));
    size_t nl = 0;
    int ok = nleaves <= 0 || (size_mul((size_t)nleaves, net->nparams, &nl) && (b->leaves = malloc(nl * sizeof(float))));
    if (!ok || !b->x || !b->dlogits || !b->labels || !b->idx || !b->rec || !b->scratch) {
        buffers_free(b);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the training buffers");
    }
    return ST_OK;
}

/* what: "the loss became NaN", ... */
static Status diverged(Err *e, const char *what, int epoch, int bi, int nbatches, float lr)
{
    return err_set(e, ST_ERR_DIVERGED,
                   "training diverged: %s in epoch %d at batch %d of %d; try a lower learning rate (this run's "
                   "--lr is %g; e.g. --lr %g)",
                   what, epoch, bi + 1, nbatches, (double)lr, (double)lr / 10);
}

static Status check_data(const Net *net, const Dataset *d, const char *what, Err *e)
{
    if (net->in.c != 1 || net->in.h != d->h || net->in.w != d->w)
        return err_set(e, ST_ERR_SHAPE, "%s: the %s images are 1x%dx%d, the model's input is %dx%dx%d",
                       net->spec.path, what, d->h, d->w, net->in.c, net->in.h, net->in.w);
    if (d->n < 1) return err_set(e, ST_ERR_ARG, "the %s set is empty", what);
    int top = 0; /* the largest label: the model must have an output for it */
    for (int i = 0; i < d->n; i++) top = d->labels[i] > top ? d->labels[i] : top;
    if (top >= net->nclasses)
        return err_set(e, ST_ERR_SHAPE, "%s:%d: the last layer gives %d outputs, one per class, but the %s labels "
                       "name %d classes (0 to %d)", net->spec.path, net->spec.layers[net->spec.nlayers - 1].line,
                       net->nclasses, what, top + 1, top);
    return ST_OK;
}

Status train_check_data(const Net *net, const Dataset *d, const char *what, Err *e)
{
    return check_data(net, d, what, e);
}

Status train_check_sets(const Net *net, const Dataset *train, const Dataset *test, Err *e)
{
    Status st = train_check_data(net, train, "training", e);
    return st ? st : train_check_data(net, test, "test", e);
}

/* With ranks: item i of this rank's share (a micro-batch, an evaluation's
 * chunk) summed l with c right into the records. */
static void record(Buffers *b, const Team *team, int i, double l, int c)
{
    if (team_size(team) > 1) b->rec[2 * i] = l, b->rec[2 * i + 1] = c;
}

/* With ranks: *total and *right become the sums of all k items' records,
 * added in item order over the ranks (team_fold_doubles); one process keeps
 * its own running sums, the same numbers. */
static void fold_records(Buffers *b, const Team *team, int k, double *total, long *right)
{
    if (team_size(team) <= 1) return;
    double sum[2];
    team_fold_doubles(team, sum, b->rec, k, 2, b->scratch);
    *total = sum[0], *right = (long)sum[1];
}

/* Who hears of an evaluation's progress (hooks->on_eval, on rank 0): the
 * epoch and the set's name. */
typedef struct {
    const TrainHooks *hooks;
    int epoch, epochs;
    const char *set;
} EvalWatch;

/* w's on_eval, if any (rank 0 only): done of total chunks, since t0. */
static void eval_tell(const EvalWatch *w, const Team *team, int done, int total, double t0)
{
    if (!w || !w->hooks || !w->hooks->on_eval || team_rank(team) != 0) return;
    EvalStats s = {.epoch = w->epoch, .epochs = w->epochs, .set = w->set, .done = done, .total = total,
                   .elapsed = now() - t0};
    w->hooks->on_eval(w->hooks->ctx, &s);
}

/* The set in chunks of max_batch images, each chunk's loss summed in sample
 * order and the chunks' sums added in order; with ranks, each evaluates
 * its share of the chunks (the same sums, in the same order). b->rec holds
 * at least the chunks of this rank (one process: just the running sum).
 * watch (may be NULL) hears of each chunk done. */
static Status eval_with(Net *net, const Dataset *d, Buffers *b, const Team *team, TtaKind tta,
                        const EvalWatch *watch, double *loss, double *acc)
{
    const int nch = chunks(d->n, net->max_batch);
    int c0 = 0, c1 = nch;
    if (team_size(team) > 1) team_share(nch, team_rank(team), team_size(team), &c0, &c1);
    double total = 0.0, t0 = now();
    long right = 0;
    eval_tell(watch, team, 0, c1 - c0, t0);
    for (int ch = c0; ch < c1; ch++) {
        int start = ch * net->max_batch;
        int n = d->n - start < net->max_batch ? d->n - start : net->max_batch;
        for (int i = 0; i < n; i++) b->idx[i] = (uint32_t)(start + i);
        dataset_batch(d, b->idx, n, net->spec.mean, net->spec.std, b->x, b->labels);
        tta_logits(net, b->x, n, tta, b->dlogits); /* no gradient here: dlogits holds the logits */
        int c;
        double l = softmax_xent(b->dlogits, b->labels, n, net->nclasses, 0.0f, NULL, &c);
        total += l;
        right += c;
        record(b, team, ch - c0, l, c);
        eval_tell(watch, team, ch - c0 + 1, c1 - c0, t0);
    }
    fold_records(b, team, nch, &total, &right);
    *loss = total / d->n;
    *acc = (double)right / d->n;
    return ST_OK;
}

Status train_evaluate(Net *net, const Dataset *d, double *loss, double *acc, Err *e)
{
    return train_evaluate_tta(net, d, TTA_NONE, loss, acc, e);
}

Status train_evaluate_tta(Net *net, const Dataset *d, TtaKind tta, double *loss, double *acc, Err *e)
{
    Status st = check_data(net, d, "test", e);
    if (st) return st;
    Buffers b = {0};
    if ((st = buffers_alloc(&b, net, net->max_batch, 1, 0, e))) return st;
    st = eval_with(net, d, &b, NULL, tta, NULL, loss, acc);
    buffers_free(&b);
    return st;
}

/* A run in progress: what train_run's steps share. */
typedef struct {
    Net *net;
    const Dataset *train, *test;
    const TrainConfig *cfg;
    const TrainHooks *hooks;
    Optim opt;                  /* owned, like b and best */
    Buffers b;                  /* b.idx: the epoch's shuffle */
    float *best;                /* early stopping: the weights of best_epoch */
    float *ema;                 /* --ema: the arena the net does not hold: the
                                   average while it trains, the live weights
                                   while it holds the model (model_in) */
    int model_in;               /* --ema: the net holds the average */
    int nbatches;
    int epoch;                  /* the epoch in progress, from 1 */
    int batch;                  /* its next batch */
    int first;                  /* its first batch in this session (> 0: resumed mid-epoch) */
    uint64_t step;              /* optimizer steps taken */
    double loss_sum;            /* the epoch's sums so far */
    long right;
    double t0, spent;           /* when this session's part of the epoch began; time spent before */
    double val_best;            /* validation: the lowest loss so far */
    int best_epoch;             /* and its epoch */
    int finished;               /* early stopping ended the run */
} Trainer;

static void trainer_free(Trainer *t)
{
    free(t->ema);
    free(t->best);
    buffers_free(&t->b);
    optim_free(&t->opt);
}

/* The progress to save: epochs finished, the batches of the next one. */
static TrainProgress trainer_progress(const Trainer *t)
{
    TrainProgress p = {.epoch = t->epoch - 1, .batch = t->batch, .step = t->step, .opt = &t->opt};
    if (t->batch > 0) {
        p.loss_sum = t->loss_sum;
        p.right = (int)t->right;
        p.seconds = t->spent + now() - t->t0;
    }
    p.val = (ValRecord){t->val_best, t->best_epoch, t->best};
    p.live = t->ema; /* called with the model in the net (place(t, 1)): these are the live weights */
    return p;
}

static Status check_resume(const Trainer *t, const TrainProgress *r, Err *e)
{
    if (!r->opt || r->opt->n != t->net->nparams)
        return err_set(e, ST_ERR_ARG, "optimizer state of %zu values for a net of %zu parameters", r->opt ? r->opt->n : 0,
                       t->net->nparams);
    if (r->epoch < 0 || r->batch < 0 || r->batch >= t->nbatches)
        return err_set(e, ST_ERR_ARG, "cannot resume at batch %d of an epoch of %d batches", r->batch, t->nbatches);
    if (!r->live != !(t->cfg->ema > 0.0f))
        return err_set(e, ST_ERR_ARG, r->live ? "the progress holds live weights beside their average, but --ema is off"
                                              : "--ema is on, but the progress holds no live weights to train on");
    return ST_OK;
}

/* Where a fresh run starts, or where a resumed one goes on: the optimizer's
 * moments and step count, the position and sums inside the epoch, the
 * validation record, and with --ema the average (the net's weights: a fresh
 * run's first ones, a resumed run's model) and the live weights. */
static void trainer_restore(Trainer *t, const TrainProgress *r)
{
    size_t np = t->net->nparams;
    t->epoch = r ? r->epoch + 1 : 1;
    t->val_best = INFINITY;
    t->best_epoch = r ? r->epoch : 0;
    const float *best = t->net->params;
    if (r) {
        if (t->opt.m) memcpy(t->opt.m, r->opt->m, np * sizeof(float)); /* the moments this optimizer uses */
        if (t->opt.v) memcpy(t->opt.v, r->opt->v, np * sizeof(float));
        t->opt.t = r->opt->t;
        t->step = r->step;
        t->batch = r->batch;
        t->loss_sum = r->loss_sum;
        t->right = r->right;
        t->spent = r->seconds;
        if (t->cfg->val) t->val_best = r->val.best_loss, t->best_epoch = r->val.best_epoch;
        if (r->val.best_params) best = r->val.best_params;
    }
    if (t->best) memcpy(t->best, best, np * sizeof(float));
    if (t->ema) {
        memcpy(t->ema, t->net->params, np * sizeof(float));
        if (r) memcpy(t->net->params, r->live, np * sizeof(float));
    }
    t->model_in = 0;
}

/* --ema: puts the model (the average: model 1) or the live weights (0) in
 * the net, exchanging the two arenas' values (nothing is computed). */
static void place(Trainer *t, int model)
{
    if (!t->ema || t->model_in == model) return;
    float *p = t->net->params, *q = t->ema;
    for (size_t i = 0; i < t->net->nparams; i++) {
        float x = p[i];
        p[i] = q[i];
        q[i] = x;
    }
    t->model_in = model;
}

/* Checks the data and the settings, allocates everything, restores a
 * resumed run. On failure trainer_free releases what was taken. */
static Status trainer_start(Trainer *t, const TrainProgress *resume, Err *e)
{
    Net *net = t->net;
    const TrainConfig *cfg = t->cfg;
    Status st;
    if ((st = check_data(net, t->train, "training", e)) || (st = check_data(net, t->test, "test", e)) ||
        (cfg->val && (st = check_data(net, cfg->val, "validation", e))))
        return st;
    if (!(cfg->ema == 0.0f || ema_decay_ok(cfg->ema)))
        return err_set(e, ST_ERR_ARG, "--ema: the decay must be above 0 and below 1, got %g", (double)cfg->ema);
    if (cfg->batch < 1 || cfg->batch > net->max_batch)
        return err_set(e, ST_ERR_ARG, "batch size %d is outside 1..%d", cfg->batch, net->max_batch);
    t->nbatches = (int)(((long long)t->train->n + cfg->batch - 1) / cfg->batch); /* n near INT_MAX: no overflow */
    if (resume && (st = check_resume(t, resume, e))) return st;
    OptConfig oc = cfg->opt; /* onecycle gives SGD a momentum from the first step: it needs the buffer */
    if (lrsched_cycles_momentum(&cfg->lr) && oc.kind == OPT_SGD) oc.momentum = lrsched_momentum(&cfg->lr, 1, 0, t->nbatches);
    if ((st = optim_init(&t->opt, &oc, net->nparams, e))) return st;
    CpuFeatures cpu;
    cpu_detect(&cpu);
    Math math;
    if ((st = math_choose(cfg->precision, &cpu, &math, e))) return st;
    net_set_math(net, math);
    if (cfg->micro_batch < 0 || cfg->micro_batch > TRAIN_MAX_MICRO_BATCH)
        return err_set(e, ST_ERR_ARG, "micro-batch %d is outside 0..%d", cfg->micro_batch, TRAIN_MAX_MICRO_BATCH);
    int nidx = t->train->n > net->max_batch ? t->train->n : net->max_batch;
    /* records: the micro-batches of a batch, the chunks of an evaluation */
    int nrec = train_micro_batches(cfg);
    const Dataset *sets[3] = {t->train, t->test, cfg->val};
    for (int i = 1; i < 3; i++)
        if (sets[i] && chunks(sets[i]->n, net->max_batch) > nrec) nrec = chunks(sets[i]->n, net->max_batch);
    const int size = team_size(cfg->team);
    int nleaves = size > 1 ? train_micro_batches_per_rank(cfg, size) : 0;
    if ((st = buffers_alloc(&t->b, net, nidx, nrec, nleaves, e))) return st;
    if (cfg->val && cfg->early_stop > 0 && !(t->best = malloc(net->nparams * sizeof(float))))
        return err_set(e, ST_ERR_NOMEM, "out of memory for the best weights");
    if (cfg->ema > 0.0f && !(t->ema = malloc(net->nparams * sizeof(float))))
        return err_set(e, ST_ERR_NOMEM, "out of memory for the weights' average (--ema)");
    trainer_restore(t, resume);
    return ST_OK;
}

/* The epoch's shuffle, a function of (seed, epoch); its sums start at 0
 * unless the run resumed inside it. */
static void epoch_begin(Trainer *t)
{
    place(t, 0); /* training goes on from the live weights */
    uint32_t *perm = t->b.idx;
    int n = t->train->n;
    Rng r;
    rng_seed(&r, rng_mix64(t->cfg->seed) ^ (uint64_t)t->epoch);
    for (int i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(&r, (uint32_t)i + 1), k = perm[i];
        perm[i] = perm[j];
        perm[j] = k;
    }
    t->first = t->batch;
    if (!t->first) t->loss_sum = 0.0, t->right = 0, t->spent = 0.0;
    t->t0 = now();
}

/* The micro-batches of a batch of n: their size and count, and this
 * rank's run of them [j0, j1) (all of them for one process). */
typedef struct {
    int mb, k, j0, j1;
} Share;

static Share share_of(const TrainConfig *cfg, int n)
{
    Share sh = {.mb = cfg->micro_batch > 0 && cfg->micro_batch < n ? cfg->micro_batch : n};
    sh.k = chunks(n, sh.mb);
    sh.j1 = sh.k;
    if (team_size(cfg->team) > 1) team_share(sh.k, team_rank(cfg->team), team_size(cfg->team), &sh.j0, &sh.j1);
    return sh;
}

/* The loss of this rank's samples (x holds them: n_local from the batch's
 * sample first): each micro-batch's sum in sample order, the micro-batch
 * sums added in order over all ranks (the batch's loss and right
 * predictions, the same on every rank); dlogits = (softmax - target) / n,
 * the target onehot, or with label smoothing its mixture with the uniform. */
static double batch_loss(Trainer *t, const float *z, const Share *sh, int n, long *right)
{
    Buffers *b = &t->b;
    const int nc = t->net->nclasses;
    double total = 0.0;
    long c_all = 0;
    for (int j = sh->j0; j < sh->j1; j++) {
        int s0 = (j - sh->j0) * sh->mb, len = n - j * sh->mb < sh->mb ? n - j * sh->mb : sh->mb, c;
        double l = softmax_xent_smooth(z + (size_t)s0 * (size_t)nc, b->labels + s0, len, nc,
                                       t->cfg->label_smoothing, 1.0f / (float)n, b->dlogits + (size_t)s0 * (size_t)nc,
                                       &c);
        total += l;
        c_all += c;
        record(b, t->cfg->team, j - sh->j0, l, c);
    }
    fold_records(b, t->cfg->team, sh->k, &total, &c_all);
    *right = c_all;
    return total;
}

/* The gradient of the batch into net->grads: one process adds each
 * micro-batch's straight into it (in order); a rank writes its
 * micro-batches' into its leaves, which team_fold_floats adds in the
 * canonical order over all ranks. */
static void batch_backward(Trainer *t, const Share *sh, const BatchPart *part, int n_local)
{
    Net *net = t->net;
    net_zero_grad(net);
    if (!part->team) {
        net_backward_part(net, t->b.x, t->b.dlogits, n_local, part);
        return;
    }
    const int nl = sh->j1 - sh->j0;
    memset(t->b.leaves, 0, (size_t)nl * net->nparams * sizeof(float));
    net_point_grads(net, t->b.leaves); /* micro-batch j's into leaf j */
    net_backward_part(net, t->b.x, t->b.dlogits, n_local, part);
    net_point_grads(net, NULL);
    team_fold_floats(part->team, net->grads, t->b.leaves, nl, net->nparams, net->nparams);
}

/* One batch: forward, loss, backward, one optimizer step; the divergence
 * checks come before the step, so a bad gradient never reaches the weights.
 * With ranks, this rank's share of the batch (every rank then holds the
 * same loss, gradient and weights). */
static Status train_batch(Trainer *t, Err *e)
{
    Net *net = t->net;
    const TrainConfig *cfg = t->cfg;
    Buffers *b = &t->b;
    int bi = t->batch, start = bi * cfg->batch;
    int n = t->train->n - start < cfg->batch ? t->train->n - start : cfg->batch;
    const Share sh = share_of(cfg, n);
    const int first = sh.j0 * sh.mb, n_local = (sh.j1 * sh.mb < n ? sh.j1 * sh.mb : n) - first;
    dataset_batch(t->train, b->idx + start + first, n_local, net->spec.mean, net->spec.std, b->x, b->labels);
    if (aug_active(&cfg->aug)) /* keyed by (seed, step) and the sample's place in the batch */
        aug_apply(&cfg->aug, b->x, n_local, first, t->train->h, t->train->w, -net->spec.mean / net->spec.std,
                  aug_key(cfg->seed, t->step));
    const int ranks = team_size(cfg->team) > 1;
    BatchPart part = {.mb = sh.mb, .batch_n = n, .first = first, .gstride = ranks ? net->nparams : 0,
                      .team = ranks ? cfg->team : NULL};
    const float *z = net_forward_part(net, b->x, n_local, &part, MODE_TRAIN, train_step_key(cfg->seed, t->step++));
    long c;
    double l = batch_loss(t, z, &sh, n, &c);
    if (!isfinite(l))
        return diverged(e, isnan(l) ? "the loss became NaN" : "the loss became infinite", t->epoch, bi, t->nbatches,
                        t->opt.cfg.lr);
    t->loss_sum += l;
    t->right += c;
    if (cfg->report_penalty) /* the objective: each sample's loss plus the penalty before this step */
        t->loss_sum += n * penalty_value(net->params, net->tensors, net->ntensors, &t->opt.cfg);
    batch_backward(t, &sh, &part, n_local);
    if (!ew_all_finite(net->nparams, net->grads)) /* before it reaches the weights */
        return diverged(e, "a gradient became NaN or infinite", t->epoch, bi, t->nbatches, t->opt.cfg.lr);
    if (lrsched_active(&cfg->lr)) t->opt.cfg.lr = lrsched_rate(&cfg->lr, t->epoch, bi, t->nbatches);
    if (lrsched_cycles_momentum(&cfg->lr)) { /* onecycle: SGD's momentum or Adam's beta1, as torch sets it */
        float mom = lrsched_momentum(&cfg->lr, t->epoch, bi, t->nbatches);
        if (t->opt.cfg.kind == OPT_SGD) t->opt.cfg.momentum = mom;
        else t->opt.cfg.beta1 = mom;
    }
    optim_step(&t->opt, net->params, net->grads, net->tensors, net->ntensors);
    if (t->ema) ema_update(t->ema, net->params, net->tensors, net->ntensors, cfg->ema);
    t->batch++;
    const TrainHooks *h = t->hooks;
    if (h && h->on_batch && team_rank(cfg->team) == 0) {
        long seen = (long)t->batch * cfg->batch < t->train->n ? (long)t->batch * cfg->batch : t->train->n;
        BatchStats bs = {.epoch = t->epoch, .epochs = cfg->epochs, .done = t->batch, .total = t->nbatches,
                         .images = seen, .loss = t->loss_sum / seen, .acc = (double)t->right / seen,
                         .batch_loss = l / n, .step = t->step, .elapsed = t->spent + now() - t->t0};
        h->on_batch(h->ctx, &bs);
    }
    return ST_OK;
}

/* Asked to stop on any rank: every rank stops before the same batch. */
static int stop_requested(const Trainer *t)
{
    int mine = t->hooks && t->hooks->stop && *t->hooks->stop;
    const Team *team = t->cfg->team;
    return team_size(team) > 1 ? team->max_int(team, mine) : mine;
}

/* Asked to stop (Ctrl-C): ST_ERR_INTERRUPTED, after on_stop has saved the
 * position before the next batch. */
static Status stop_at(Trainer *t, Err *e)
{
    Status st = t->batch ? err_set(e, ST_ERR_INTERRUPTED, "interrupted in epoch %d after batch %d of %d", t->epoch,
                                   t->batch, t->nbatches)
                         : err_set(e, ST_ERR_INTERRUPTED, "interrupted at the start of epoch %d", t->epoch);
    const TrainHooks *h = t->hooks;
    if (!h || !h->on_stop) return st;
    place(t, 1); /* the hook saves the model, and the live weights beside it */
    TrainProgress p = trainer_progress(t);
    Err se = {{0}};
    Status ss = team_rank(t->cfg->team) == 0 ? h->on_stop(h->ctx, &p, t->net, &se) : ST_OK;
    ss = team_agree(t->cfg->team, ss, &se);
    if (ss) {
        char what[sizeof e->msg];
        snprintf(what, sizeof what, "%s", e->msg);
        st = err_set(e, ss, "%s, and the checkpoint could not be written: %s", what, se.msg);
    }
    return st;
}

/* The validation set's figures; the record and early stopping's verdict. */
static void validate(Trainer *t, EpochStats *s)
{
    const TrainConfig *cfg = t->cfg;
    EvalWatch w = {t->hooks, t->epoch, cfg->epochs, "validation"};
    eval_with(t->net, cfg->val, &t->b, cfg->team, cfg->tta, &w, &s->val_loss, &s->val_acc);
    s->has_val = 1;
    if (s->val_loss < t->val_best) {
        t->val_best = s->val_loss, t->best_epoch = t->epoch, s->val_improved = 1;
        if (t->best) memcpy(t->best, t->net->params, t->net->nparams * sizeof(float));
    }
    s->best_epoch = t->best_epoch;
    s->stopped_early = cfg->early_stop > 0 && t->epoch - t->best_epoch >= cfg->early_stop && t->epoch < cfg->epochs;
}

/* The epoch's figures (train, test, validation), on_epoch, and early
 * stopping: the run ends with the best epoch's weights. */
static Status epoch_end(Trainer *t, Err *e)
{
    const TrainConfig *cfg = t->cfg;
    const int n = t->train->n;
    EpochStats s = {.epoch = t->epoch, .epochs = cfg->epochs};
    double session = now() - t->t0;
    s.seconds = t->spent + session;
    s.train_loss = t->loss_sum / n;
    s.train_acc = (double)t->right / n;
    s.images_per_s = (n - (double)t->first * cfg->batch) / (session > 0 ? session : 1e-9);
    place(t, 1); /* --ema: the average is the model: its norm, evaluations, record and file */
    s.weight_norm = penalty_weight_norm(t->net);
    double t1 = now();
    /* uses idx: the next epoch shuffles anew */
    EvalWatch w = {t->hooks, t->epoch, cfg->epochs, "test"};
    eval_with(t->net, t->test, &t->b, cfg->team, cfg->tta, &w, &s.test_loss, &s.test_acc);
    if (cfg->val) validate(t, &s);
    s.eval_seconds = now() - t1;
    t->epoch++, t->batch = 0; /* this epoch is finished */
    Status st = ST_OK;
    const TrainHooks *h = t->hooks;
    if (h && h->on_epoch && team_rank(cfg->team) == 0) { /* rank 0 writes; its status is every rank's */
        TrainProgress p = trainer_progress(t);
        st = h->on_epoch(h->ctx, &s, &p, t->net, e);
    }
    st = team_agree(cfg->team, st, e);
    if (!st && t->best && (s.stopped_early || s.epoch == cfg->epochs)) { /* early stopping: the best weights */
        memcpy(t->net->params, t->best, t->net->nparams * sizeof(float));
        t->finished = 1;
    }
    return st;
}

Status train_run(Net *net, const Dataset *train, const Dataset *test, const TrainConfig *cfg,
                 const TrainProgress *resume, const TrainHooks *hooks, Err *e)
{
    Trainer t = {.net = net, .train = train, .test = test, .cfg = cfg, .hooks = hooks};
    Status st = trainer_start(&t, resume, e);
    const int started = !st;
    st = team_agree(cfg->team, st, e);
    while (!st && !t.finished && t.epoch <= cfg->epochs) {
        epoch_begin(&t);
        while (!st && t.batch < t.nbatches) st = stop_requested(&t) ? stop_at(&t, e) : train_batch(&t, e);
        if (!st) st = epoch_end(&t, e);
    }
    if (started) place(&t, 1); /* the net is left with the model */
    trainer_free(&t);
    return st;
}
