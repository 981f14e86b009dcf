/* mc.h - class probabilities of a trained net, deterministic or by
 * Monte-Carlo dropout, and what they say about calibration.
 *
 * MC dropout keeps dropout on at inference (MODE_MC: dropout as in
 * training, batch normalization with its running statistics, updating none)
 * and averages the softmax of N passes, each with its own dropout masks; the
 * spread between passes shows the model's uncertainty. `eval --mc N`
 * summarizes a test set; `predict` calls mc_predict_one for per-image
 * probabilities and entropy. Nothing here changes the net's parameters or
 * buffers. */
#ifndef FMNIST_MC_H
#define FMNIST_MC_H

#include <stdint.h>

#include "data/dataset.h"
#include "nn/net.h"
#include "train/tta.h"

/* Class probabilities of a batch x (n x input numel, already normalized as
 * dataset_batch does; n <= net->max_batch).
 *   passes = 0: the deterministic prediction, softmax of one MODE_EVAL pass;
 *   passes >= 1: the mean of the softmax of `passes` MODE_MC passes, pass
 *               p with dropout key rng_mix64(key + p), so every pass (and,
 *               with distinct keys, every batch) draws its own masks.
 * probs: n x nclasses (row-major). pred (may be NULL): n argmax classes
 * (computed in double before rounding to float; for passes = 0 the argmax of
 * the logits, ties to the lowest class, as train_evaluate counts).
 * entropy (may be NULL): n predictive entropies -sum_c p_c ln p_c of the
 * averaged probabilities, in nats (0 .. ln nclasses). Errors: ST_ERR_ARG (n
 * outside 1..max_batch), ST_ERR_NOMEM (n x nclasses doubles of work space). */
Status mc_predict_batch(Net *net, const float *x, int n, int passes, uint64_t key, float *probs, int *pred,
                        float *entropy, Err *e);

/* One image x (normalized as dataset_batch does), as `predict` shows it:
 * logits (nclasses floats) gets the MODE_EVAL logits; p (nclasses doubles)
 * the class probabilities: for passes = 0 their softmax (in double, as
 * nn/softmax.h computes it), for passes >= 1 mc_predict_batch's mean of
 * `passes` MODE_MC passes from key (rounded to float as it returns them),
 * and *entropy its predictive entropy (0 for passes = 0). Errors:
 * ST_ERR_NOMEM, those of mc_predict_batch. */
Status mc_predict_one(Net *net, const float *x, int passes, uint64_t key, float *logits, double *p, float *entropy,
                      Err *e);

/* The MC dropout key of the image-th image predict shows (from 0) with a
 * seed: every image draws its own masks for its `passes` passes. */
uint64_t mc_image_key(uint64_t seed, uint64_t image, int passes);

/* mc_predict_batch over a whole data set, in batches of net->max_batch, the
 * key of the batch starting at image i a hash of (seed, i). probs: d->n x
 * nclasses; pred, entropy: d->n each (may be NULL). Errors: ST_ERR_SHAPE
 * (images do not fit the model), ST_ERR_NOMEM. */
Status mc_predict(Net *net, const Dataset *d, int passes, uint64_t seed, float *probs, int *pred, float *entropy,
                  Err *e);
/* mc_predict's deterministic prediction (passes = 0) with test-time
 * augmentation tta: the softmax of tta_logits' logits (train/tta.h), and
 * their argmax (as train_evaluate_tta counts). TTA_NONE: mc_predict with
 * passes 0, bit for bit. */
Status mc_predict_tta(Net *net, const Dataset *d, TtaKind tta, float *probs, int *pred, float *entropy, Err *e);

typedef struct {
    double acc;      /* fraction of pred == label                              */
    double nll;      /* mean -ln p[label] (p floored at 1e-12)                  */
    double entropy;  /* mean predictive entropy, nats                          */
    double ece;      /* expected calibration error: sum over confidence bins of
                        (bin size / n) * |accuracy - mean confidence| in bin  */
} McStats;

/* Summary of n predictions: probs (n x k), pred (n), labels (n); nbins
 * equal-width bins of confidence (the top probability) over [0, 1] for the
 * ECE (15 is the usual choice). */
void mc_summarize(const float *probs, const int *pred, const uint8_t *labels, int n, int k, int nbins, McStats *s);

#endif
