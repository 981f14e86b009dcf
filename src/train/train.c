/* train.c - epoch loop, evaluation (see train.h).
 *
 * Reproducibility: the shuffle of epoch k comes from an Rng seeded with
 * (seed, k); the dropout key of step s is train_step_key(seed, s); losses are
 * summed in sample order. None depends on the thread count, so the same seed
 * gives the same numbers with 1 or N threads. */
#include "train/train.h"

#include "kernels/elementwise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/loss.h"
#include "nn/penalty.h"

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
} Buffers;

static void buffers_free(Buffers *b)
{
    free(b->x);
    free(b->dlogits);
    free(b->labels);
    free(b->idx);
}

static Status buffers_alloc(Buffers *b, const Net *net, int nidx, Err *e)
{
    size_t mb = (size_t)net->max_batch;
    b->x = malloc(mb * shape_numel(net->in) * sizeof(float));
    b->dlogits = malloc(mb * (size_t)net->nclasses * sizeof(float));
    b->labels = malloc(mb * sizeof(int));
    b->idx = malloc((size_t)(nidx > 0 ? nidx : 1) * sizeof(uint32_t));
    if (!b->x || !b->dlogits || !b->labels || !b->idx) {
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

static Status eval_with(Net *net, const Dataset *d, Buffers *b, double *loss, double *acc)
{
    double total = 0.0;
    long right = 0;
    for (int start = 0; start < d->n; start += net->max_batch) {
        int n = d->n - start < net->max_batch ? d->n - start : net->max_batch;
        for (int i = 0; i < n; i++) b->idx[i] = (uint32_t)(start + i);
        dataset_batch(d, b->idx, n, net->spec.mean, net->spec.std, b->x, b->labels);
        const float *z = net_forward(net, b->x, n, MODE_EVAL, 0);
        int c;
        total += softmax_xent(z, b->labels, n, net->nclasses, 0.0f, NULL, &c);
        right += c;
    }
    *loss = total / d->n;
    *acc = (double)right / d->n;
    return ST_OK;
}

Status train_evaluate(Net *net, const Dataset *d, double *loss, double *acc, Err *e)
{
    Status st = check_data(net, d, "test", e);
    if (st) return st;
    Buffers b = {0};
    if ((st = buffers_alloc(&b, net, net->max_batch, e))) return st;
    st = eval_with(net, d, &b, loss, acc);
    buffers_free(&b);
    return st;
}

Status train_run(Net *net, const Dataset *train, const Dataset *test, const TrainConfig *cfg,
                 const TrainHooks *hooks, Err *e)
{
    Status st;
    if ((st = check_data(net, train, "training", e)) || (st = check_data(net, test, "test", e))) return st;
    if (cfg->batch < 1 || cfg->batch > net->max_batch)
        return err_set(e, ST_ERR_ARG, "batch size %d is outside 1..%d", cfg->batch, net->max_batch);
    Optim opt;
    const Optim *ro = cfg->resume_opt;
    if (ro && ro->n != net->nparams)
        return err_set(e, ST_ERR_ARG, "optimizer state of %zu values for a net of %zu parameters", ro->n, net->nparams);
    if ((st = optim_init(&opt, ro ? &ro->cfg : &cfg->opt, net->nparams, e))) return st;
    if (ro) { /* continue a saved run: its moments and step count */
        memcpy(opt.m, ro->m, ro->n * sizeof(float));
        memcpy(opt.v, ro->v, ro->n * sizeof(float));
        opt.t = ro->t;
    }
    Buffers b = {0};
    int nidx = train->n > net->max_batch ? train->n : net->max_batch;
    if ((st = buffers_alloc(&b, net, nidx, e))) {
        optim_free(&opt);
        return st;
    }
    uint32_t *perm = b.idx;
    uint64_t step = cfg->start_step;
    /* validation and early stopping: the lowest val loss, and its weights */
    double val_best = INFINITY;
    int val_since = 0, best_epoch = cfg->start_epoch;
    float *best = NULL;
    if (cfg->val) {
        if (cfg->val_best_params || cfg->start_epoch) {
            val_best = cfg->val_since >= 0 ? cfg->val_best : INFINITY;
            val_since = cfg->val_since >= 0 ? cfg->val_since : 0;
            best_epoch = cfg->start_epoch - val_since;
        }
        if (!(st = check_data(net, cfg->val, "validation", e)) && cfg->early_stop > 0 &&
            !(best = malloc(net->nparams * sizeof(float))))
            st = err_set(e, ST_ERR_NOMEM, "out of memory for the best weights");
        if (st) {
            buffers_free(&b);
            optim_free(&opt);
            return st;
        }
        if (best) memcpy(best, cfg->val_best_params ? cfg->val_best_params : net->params, net->nparams * sizeof(float));
    }
    int nbatches = (int)(((long long)train->n + cfg->batch - 1) / cfg->batch); /* n near INT_MAX: no overflow */
    if (cfg->start_batch < 0 || cfg->start_batch >= nbatches) {
        buffers_free(&b);
        optim_free(&opt);
        return err_set(e, ST_ERR_ARG, "cannot resume at batch %d of an epoch of %d batches", cfg->start_batch,
                       nbatches);
    }
    for (int epoch = cfg->start_epoch + 1; epoch <= cfg->epochs && !st; epoch++) {
        Rng r;
        rng_seed(&r, rng_mix64(cfg->seed) ^ (uint64_t)epoch);
        for (int i = 0; i < train->n; i++) perm[i] = (uint32_t)i;
        for (int i = train->n - 1; i > 0; i--) {
            uint32_t j = rng_below(&r, (uint32_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        /* a run resumed mid-epoch goes on from its next batch */
        int first = epoch == cfg->start_epoch + 1 ? cfg->start_batch : 0;
        double t0 = now(), loss_sum = first ? cfg->start_loss : 0.0, spent = first ? cfg->start_seconds : 0.0;
        long right = first ? cfg->start_right : 0;
        for (int bi = first; bi < nbatches; bi++) {
            if (hooks && hooks->stop && *hooks->stop) {
                if (bi)
                    st = err_set(e, ST_ERR_INTERRUPTED, "interrupted in epoch %d after batch %d of %d", epoch, bi,
                                 nbatches);
                else
                    st = err_set(e, ST_ERR_INTERRUPTED, "interrupted at the start of epoch %d", epoch);
                if (hooks->on_stop) {
                    TrainPos pos = {epoch, bi, nbatches, step, loss_sum, (int)right, spent + now() - t0, &opt};
                    Err se;
                    Status ss = hooks->on_stop(hooks->ctx, &pos, net, &se);
                    if (ss) st = err_set(e, ss, "%s, and the checkpoint could not be written: %s", e->msg, se.msg);
                }
                break;
            }
            int start = bi * cfg->batch;
            int n = train->n - start < cfg->batch ? train->n - start : cfg->batch;
            dataset_batch(train, perm + start, n, net->spec.mean, net->spec.std, b.x, b.labels);
            if (aug_active(&cfg->aug)) /* keyed by (seed, step): the same whatever the threads */
                aug_apply(&cfg->aug, b.x, n, train->h, train->w, -net->spec.mean / net->spec.std,
                          aug_key(cfg->seed, step));
            net_zero_grad(net);
            const float *z = net_forward(net, b.x, n, MODE_TRAIN, train_step_key(cfg->seed, step++));
            int c;
            double l = softmax_xent(z, b.labels, n, net->nclasses, 1.0f / (float)n, b.dlogits, &c);
            if (!isfinite(l)) {
                st = diverged(e, isnan(l) ? "the loss became NaN" : "the loss became infinite", epoch, bi, nbatches,
                              opt.cfg.lr);
                break;
            }
            loss_sum += l;
            right += c;
            if (cfg->report_penalty) /* the objective: each sample's loss plus the penalty before this step */
                loss_sum += n * penalty_value(net->params, net->tensors, net->ntensors, &opt.cfg);
            net_backward(net, b.x, b.dlogits, n);
            if (!ew_all_finite(net->nparams, net->grads)) { /* before it reaches the weights */
                st = diverged(e, "a gradient became NaN or infinite", epoch, bi, nbatches, opt.cfg.lr);
                break;
            }
            if (lrsched_active(&cfg->lr)) opt.cfg.lr = lrsched_rate(&cfg->lr, epoch, bi, nbatches);
            optim_step(&opt, net->params, net->grads, net->tensors, net->ntensors);
            if (hooks && hooks->on_batch) hooks->on_batch(hooks->ctx, epoch, bi + 1, nbatches, spent + now() - t0);
        }
        if (st) break;
        EpochStats s = {.epoch = epoch, .epochs = cfg->epochs, .step = step, .opt = &opt};
        double session = now() - t0;
        s.seconds = spent + session;
        s.train_loss = loss_sum / train->n;
        s.train_acc = (double)right / train->n;
        s.images_per_s = (train->n - (double)first * cfg->batch) / (session > 0 ? session : 1e-9);
        s.weight_norm = penalty_weight_norm(net);
        double t1 = now();
        eval_with(net, test, &b, &s.test_loss, &s.test_acc);
        /* eval_with reuses idx; restore nothing: perm is rebuilt next epoch */
        if (cfg->val) {
            eval_with(net, cfg->val, &b, &s.val_loss, &s.val_acc);
            s.has_val = 1;
            if (s.val_loss < val_best) {
                val_best = s.val_loss, val_since = 0, best_epoch = epoch, s.val_improved = 1;
                if (best) memcpy(best, net->params, net->nparams * sizeof(float));
            } else {
                val_since++;
            }
            s.best_epoch = best_epoch;
            s.stopped_early = cfg->early_stop > 0 && val_since >= cfg->early_stop && epoch < cfg->epochs;
        }
        s.eval_seconds = now() - t1;
        if (hooks && hooks->on_epoch) st = hooks->on_epoch(hooks->ctx, &s, net, e);
        if (!st && best && (s.stopped_early || epoch == cfg->epochs)) { /* early stopping: the best weights */
            memcpy(net->params, best, net->nparams * sizeof(float));
            break;
        }
    }
    free(best);
    buffers_free(&b);
    optim_free(&opt);
    return st;
}
