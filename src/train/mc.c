/* mc.c - deterministic and Monte-Carlo-dropout class probabilities, and
 * their accuracy, entropy and calibration (see mc.h).
 *
 * Softmax (nn/softmax.h) and the average over passes are computed in double
 * and rounded to float once, so one pass with dropout rate 0 gives the very
 * same numbers as the deterministic prediction (dropout with p = 0 is an
 * exact copy). */
#include "train/mc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/softmax.h"

/* Adds the softmax of the n rows of logits z to sum (n x k; room for one
 * more row after it: the work row); det: pred gets each row's argmax of the
 * logits (if not NULL). */
static void add_softmax(const float *z, int n, int k, int det, double *sum, int *pred)
{
    double *soft = sum + (size_t)n * k;
    for (int i = 0; i < n; i++) {
        int a; /* the argmax of the logits, as softmax_xent counts it */
        softmax_row(z + (size_t)i * k, k, soft, &a);
        for (int j = 0; j < k; j++) sum[(size_t)i * k + j] += soft[j];
        if (det && pred) pred[i] = a;
    }
}

/* The probabilities sum / np rounded to float, the argmax of the mean
 * (unless det: add_softmax's) and the entropy of each row. */
static void finish_rows(const double *sum, int n, int k, int np, int det, float *probs, int *pred, float *entropy)
{
    for (int i = 0; i < n; i++) {
        const double *row = sum + (size_t)i * k;
        int a = 0;
        double h = 0.0;
        for (int j = 0; j < k; j++) {
            double q = row[j] / np;
            probs[(size_t)i * k + j] = (float)q;
            if (row[j] > row[a]) a = j;
            if (q > 0) h -= q * log(q);
        }
        if (!det && pred) pred[i] = a;
        if (entropy) entropy[i] = (float)h;
    }
}

Status mc_predict_batch(Net *net, const float *x, int n, int passes, uint64_t key, float *probs, int *pred,
                        float *entropy, Err *e)
{
    int k = net->nclasses, det = passes < 1, np = det ? 1 : passes;
    if (n < 1 || n > net->max_batch)
        return err_set(e, ST_ERR_ARG, "batch of %d images outside 1..%d", n, net->max_batch);
    /* per-image sums of the passes' softmax, and room for one softmax row */
    double *sum = calloc(((size_t)n + 1) * (size_t)k, sizeof *sum);
    if (!sum) return err_set(e, ST_ERR_NOMEM, "out of memory for %d x %d probabilities", n, k);
    for (int p = 0; p < np; p++)
        add_softmax(net_forward(net, x, n, det ? MODE_EVAL : MODE_MC, det ? 0 : rng_mix64(key + (uint64_t)p)), n, k,
                    det, sum, pred);
    finish_rows(sum, n, k, np, det, probs, pred, entropy);
    free(sum);
    return ST_OK;
}

/* The deterministic prediction of x (mutable: tta_logits mirrors it and
 * back) with test-time augmentation; z: room for n x nclasses logits. */
static Status predict_tta_batch(Net *net, float *x, int n, TtaKind tta, float *z, float *probs, int *pred,
                                float *entropy, Err *e)
{
    int k = net->nclasses;
    double *sum = calloc(((size_t)n + 1) * (size_t)k, sizeof *sum);
    if (!sum) return err_set(e, ST_ERR_NOMEM, "out of memory for %d x %d probabilities", n, k);
    tta_logits(net, x, n, tta, z);
    add_softmax(z, n, k, 1, sum, pred);
    finish_rows(sum, n, k, 1, 1, probs, pred, entropy);
    free(sum);
    return ST_OK;
}

uint64_t mc_image_key(uint64_t seed, uint64_t image, int passes)
{
    return rng_mix64(seed ^ 0x9ed1c7ULL) + image * (uint64_t)passes;
}

Status mc_predict_one(Net *net, const float *x, int passes, uint64_t key, float *logits, double *p, float *entropy,
                      Err *e)
{
    int k = net->nclasses;
    const float *z = net_forward(net, x, 1, MODE_EVAL, 0);
    memcpy(logits, z, (size_t)k * sizeof *logits);
    softmax_row(logits, k, p, NULL);
    *entropy = 0;
    if (passes < 1) return ST_OK;
    float *q = malloc((size_t)k * sizeof *q);
    if (!q) return err_set(e, ST_ERR_NOMEM, "out of memory for %d probabilities", k);
    Status st = mc_predict_batch(net, x, 1, passes, key, q, NULL, entropy, e);
    for (int c = 0; !st && c < k; c++) p[c] = q[c];
    free(q);
    return st;
}

/* mc_predict, or with tta != TTA_NONE (passes 0 only) predict_tta_batch's
 * figures. */
static Status predict_set(Net *net, const Dataset *d, int passes, uint64_t seed, TtaKind tta, float *probs, int *pred,
                          float *entropy, Err *e)
{
    if (net->in.c != 1 || net->in.h != d->h || net->in.w != d->w)
        return err_set(e, ST_ERR_SHAPE, "%s: the images are 1x%dx%d, the model's input is %dx%dx%d", net->spec.path,
                       d->h, d->w, net->in.c, net->in.h, net->in.w);
    size_t mb = (size_t)net->max_batch;
    float *x = malloc(mb * shape_numel(net->in) * sizeof *x);
    int *labels = malloc(mb * sizeof *labels);
    uint32_t *idx = malloc(mb * sizeof *idx);
    float *z = tta != TTA_NONE ? malloc(mb * (size_t)net->nclasses * sizeof *z) : NULL;
    if (!x || !labels || !idx || (tta != TTA_NONE && !z)) {
        free(x), free(labels), free(idx), free(z);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the evaluation buffers");
    }
    uint64_t base = rng_mix64(seed ^ 0x4d43d50u); /* "MC dropout" salt: not the training keys */
    int k = net->nclasses;
    for (int start = 0; start < d->n; start += net->max_batch) {
        int n = d->n - start < net->max_batch ? d->n - start : net->max_batch;
        for (int i = 0; i < n; i++) idx[i] = (uint32_t)(start + i);
        dataset_batch(d, idx, n, net->spec.mean, net->spec.std, x, labels);
        float *pr = probs + (size_t)start * k, *en = entropy ? entropy + start : NULL;
        int *pd = pred ? pred + start : NULL;
        Status st = tta != TTA_NONE ? predict_tta_batch(net, x, n, tta, z, pr, pd, en, e)
                                    : mc_predict_batch(net, x, n, passes, rng_mix64(base + (uint64_t)start), pr, pd, en, e);
        if (st) {
            free(x), free(labels), free(idx), free(z);
            return st;
        }
    }
    free(x), free(labels), free(idx), free(z);
    return ST_OK;
}

Status mc_predict(Net *net, const Dataset *d, int passes, uint64_t seed, float *probs, int *pred, float *entropy,
                  Err *e)
{
    return predict_set(net, d, passes, seed, TTA_NONE, probs, pred, entropy, e);
}

Status mc_predict_tta(Net *net, const Dataset *d, TtaKind tta, float *probs, int *pred, float *entropy, Err *e)
{
    return predict_set(net, d, 0, 0, tta, probs, pred, entropy, e);
}

void mc_summarize(const float *probs, const int *pred, const uint8_t *labels, int n, int k, int nbins, McStats *s)
{
    memset(s, 0, sizeof *s);
    if (n < 1) return;
    if (nbins < 1) nbins = 1;
    if (nbins > 1000) nbins = 1000;
    double bconf[1000] = {0}, bright[1000] = {0};
    long bcount[1000] = {0};
    long right = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int ok = pred[i] == labels[i];
        right += ok;
        double pl = p[labels[i]] > 1e-12f ? p[labels[i]] : 1e-12;
        s->nll -= log(pl);
        double conf = 0.0, h = 0.0;
        for (int j = 0; j < k; j++) {
            if (p[j] > conf) conf = p[j];
            if (p[j] > 0) h -= (double)p[j] * log((double)p[j]);
        }
        s->entropy += h;
        int b = (int)(conf * nbins);
        if (b >= nbins) b = nbins - 1;
        if (b < 0) b = 0;
        bcount[b]++;
        bconf[b] += conf;
        bright[b] += ok;
    }
    for (int b = 0; b < nbins; b++)
        if (bcount[b]) s->ece += fabs(bright[b] - bconf[b]) / n; /* (|B|/n) |acc(B) - conf(B)| */
    s->acc = (double)right / n;
    s->nll /= n;
    s->entropy /= n;
}
