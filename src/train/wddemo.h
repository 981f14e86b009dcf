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
 * epoch k+1). Losses are the mean of (y_hat - y)^2 / 2 without the penalty.
 * w: the dim final weights (the bias b apart). One allocation. */
typedef struct {
    int epochs, dim;
    double *train_loss, *test_loss, *w_norm; /* w_norm: ||w||_2 (b excluded) */
    double *w, b;                            /* after the last epoch          */
} WdDemoResult;

/* Trains one model with penalty pen of strength lambda (0: none) on the data
 * drawn from c->seed (the same data and initial w for every lambda).
 * Errors: ST_ERR_ARG (a setting out of range), ST_ERR_NOMEM. */
Status wddemo_run(const WdDemoConfig *c, WdPenalty pen, double lambda, WdDemoResult *r, Err *e);
void wddemo_result_free(WdDemoResult *r);

/* Every true weight: y = 0.05 + sum_i WDDEMO_TRUE_W x_i + noise. */
#define WDDEMO_TRUE_W 0.01

/* ---- the demo's files in its folder ---- */

/* 1 if name (a file name, no folder) is one wd-demo writes (wd-demo.csv,
 * wd-demo.png, wd-demo.svg) or its earlier versions wrote (wd-l1.png and
 * wd-lambdaL.png, L a number as %g prints it), else 0. */
int wddemo_own_name(const char *name);

/* Whether folder dir may take a demo whose files are outputs[0..n) (names
 * in dir): ST_OK if dir does not exist or holds no entry of an own name
 * (wddemo_own_name, of any kind: a link is not followed); else, without
 * overwrite, ST_ERR_IO "DIR already holds a demo (DIR/NAME); choose another
 * --out or add --overwrite". With overwrite, ST_ERR_IO if an output's name
 * is taken by something other than a regular file (a link, a folder): the
 * demo replaces only files. */
Status wddemo_check_folder(const char *dir, const char *const *outputs, int n, int overwrite, Err *e);

/* Removes the regular files of dir with an own name, other than
 * keep[0..nkeep): the charts and numbers of an earlier demo that this one
 * did not write again. Links (never followed), folders and every other name
 * stay. *removed (may be NULL) receives the count. ST_ERR_IO if dir cannot
 * be read or a file cannot be removed (naming it). */
Status wddemo_remove_stale(const char *dir, const char *const *keep, int nkeep, int *removed, Err *e);

#endif
