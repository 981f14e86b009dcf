/* wddemo.h - the weight-decay experiment of the tutorials, on synthetic data.
 *
 * High-dimensional linear regression y = 0.05 + sum_i 0.01 x_i + noise with
 * few training samples, trained by minibatch SGD on the squared loss with an
 * L2 penalty (lambda/2 ||w||^2) or an L1 penalty (lambda ||w||_1, subgradient
 * sign(w)). Without a penalty it overfits; with one the train and test losses
 * come together. Everything is drawn from one seed; double precision. */
#ifndef FMNIST_WDDEMO_H
#define FMNIST_WDDEMO_H

#include <stdint.h>

#include "util/status.h"

typedef enum { WD_PENALTY_L2, WD_PENALTY_L1 } WdPenalty;

typedef struct {
    int dim;            /* features (200)                                   */
    int n_train, n_test;/* samples (20, 100)                                */
    double noise;       /* std of the label noise (0.01)                    */
    int batch;          /* minibatch size (5)                               */
    double lr;          /* SGD step (0.003)                                 */
    int epochs;         /* (100)                                            */
    uint64_t seed;      /* data, initialization w ~ N(0,1), b = 0, shuffles */
} WdDemoConfig;

/* The tutorial's settings: 200 features, 20/100 samples, noise 0.01, batch
 * 5, lr 0.003, 100 epochs, seed 1. */
WdDemoConfig wddemo_defaults(void);

/* Per-epoch results of one training: epochs values each (index k = after
 * epoch k+1). Losses are the mean of (y_hat - y)^2 / 2 without the penalty. */
typedef struct {
    int epochs;
    double *train_loss, *test_loss, *w_norm; /* w_norm: ||w||_2 (b excluded) */
} WdDemoResult;

/* Trains one model with penalty pen of strength lambda (0: none) on the data
 * drawn from c->seed (the same data and initial w for every lambda).
 * Errors: ST_ERR_ARG (a setting out of range), ST_ERR_NOMEM. */
Status wddemo_run(const WdDemoConfig *c, WdPenalty pen, double lambda, WdDemoResult *r, Err *e);
void wddemo_result_free(WdDemoResult *r);

#endif
