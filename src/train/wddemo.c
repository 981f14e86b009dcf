/* wddemo.c - the weight-decay experiment (see wddemo.h).
 *
 * One step on a minibatch B (as the tutorials' sgd on the summed loss divided
 * by the batch size):  r_i = w.x_i + b - y_i,
 *   w -= lr * (sum_B r_i x_i / |B| + lambda * w)        (L2: lambda/2 ||w||^2)
 *   w -= lr * (sum_B r_i x_i / |B| + lambda * sign(w))  (L1: lambda ||w||_1)
 *   b -= lr * sum_B r_i / |B|                           (b is never penalized)
 * Serial on purpose: 200 features x 20 samples is microseconds of work. */
#include "train/wddemo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

WdDemoConfig wddemo_defaults(void)
{
    return (WdDemoConfig){.dim = 200, .n_train = 20, .n_test = 100, .noise = 0.01, .batch = 5, .lr = 0.003,
                          .epochs = 100, .seed = 1};
}

void wddemo_result_free(WdDemoResult *r)
{
    if (!r) return;
    free(r->train_loss);
    memset(r, 0, sizeof *r);
}

/* x: n x dim, y: n. x ~ N(0,1), y = 0.05 + 0.01 * sum(x) + N(0, noise). */
static void draw_data(Rng *g, int n, int dim, double noise, double *x, double *y)
{
    for (int i = 0; i < n; i++) {
        double s = 0.05;
        for (int j = 0; j < dim; j++) {
            x[(size_t)i * dim + j] = rng_normal(g);
            s += 0.01 * x[(size_t)i * dim + j];
        }
        y[i] = s + noise * rng_normal(g);
    }
}

/* Mean of (w.x + b - y)^2 / 2 over n samples. */
static double mse_half(const double *w, double b, const double *x, const double *y, int n, int dim)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        double r = b - y[i];
        for (int j = 0; j < dim; j++) r += w[j] * x[(size_t)i * dim + j];
        total += r * r / 2;
    }
    return total / n;
}

Status wddemo_run(const WdDemoConfig *c, WdPenalty pen, double lambda, WdDemoResult *r, Err *e)
{
    memset(r, 0, sizeof *r);
    if (c->dim < 1 || c->dim > 100000 || c->n_train < 1 || c->n_test < 1 || c->n_train > 1000000 ||
        c->n_test > 1000000 || c->batch < 1 || c->epochs < 1 || c->epochs > 1000000 || !(c->lr > 0) ||
        !(c->noise >= 0) || !(lambda >= 0) || !isfinite(lambda))
        return err_set(e, ST_ERR_ARG, "wd-demo: a setting is out of range");
    int d = c->dim, ntr = c->n_train, nte = c->n_test;
    double *xtr = malloc((size_t)ntr * d * sizeof *xtr), *xte = malloc((size_t)nte * d * sizeof *xte);
    double *ytr = malloc((size_t)ntr * sizeof *ytr), *yte = malloc((size_t)nte * sizeof *yte);
    double *w = malloc((size_t)d * sizeof *w), *gw = malloc((size_t)d * sizeof *gw);
    int *perm = malloc((size_t)ntr * sizeof *perm);
    r->train_loss = malloc(3 * (size_t)c->epochs * sizeof *r->train_loss);
    Status st = ST_OK;
    if (!xtr || !xte || !ytr || !yte || !w || !gw || !perm || !r->train_loss) {
        st = err_set(e, ST_ERR_NOMEM, "wd-demo: out of memory");
        wddemo_result_free(r);
        goto done;
    }
    r->epochs = c->epochs;
    r->test_loss = r->train_loss + c->epochs;
    r->w_norm = r->test_loss + c->epochs;

    /* the same data and initial w for every penalty: one stream from the seed */
    Rng g;
    rng_seed(&g, c->seed);
    draw_data(&g, ntr, d, c->noise, xtr, ytr);
    draw_data(&g, nte, d, c->noise, xte, yte);
    for (int j = 0; j < d; j++) w[j] = rng_normal(&g);
    double b = 0;

    for (int ep = 1; ep <= c->epochs; ep++) {
        Rng sh; /* the shuffle of epoch ep, as the trainer's: seeded by (seed, epoch) */
        rng_seed(&sh, rng_mix64(c->seed) ^ (uint64_t)ep);
        for (int i = 0; i < ntr; i++) perm[i] = i;
        for (int i = ntr - 1; i > 0; i--) {
            int k = (int)rng_below(&sh, (uint32_t)i + 1), t = perm[i];
            perm[i] = perm[k];
            perm[k] = t;
        }
        for (int start = 0; start < ntr; start += c->batch) {
            int n = ntr - start < c->batch ? ntr - start : c->batch;
            double gb = 0;
            memset(gw, 0, (size_t)d * sizeof *gw);
            for (int s = 0; s < n; s++) {
                const double *xi = xtr + (size_t)perm[start + s] * d;
                double res = b - ytr[perm[start + s]];
                for (int j = 0; j < d; j++) res += w[j] * xi[j];
                for (int j = 0; j < d; j++) gw[j] += res * xi[j];
                gb += res;
            }
            for (int j = 0; j < d; j++) {
                double pg = pen == WD_PENALTY_L2 ? lambda * w[j] : lambda * ((w[j] > 0) - (w[j] < 0));
                w[j] -= c->lr * (gw[j] / n + pg);
            }
            b -= c->lr * gb / n;
        }
        double nrm = 0;
        for (int j = 0; j < d; j++) nrm += w[j] * w[j];
        r->train_loss[ep - 1] = mse_half(w, b, xtr, ytr, ntr, d);
        r->test_loss[ep - 1] = mse_half(w, b, xte, yte, nte, d);
        r->w_norm[ep - 1] = sqrt(nrm);
    }
done:
    free(xtr);
    free(xte);
    free(ytr);
    free(yte);
    free(w);
    free(gw);
    free(perm);
    return st;
}
