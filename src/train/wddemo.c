/* wddemo.c - the weight-decay experiment (see wddemo.h).
 *
 * One step on a minibatch B (as the tutorials' sgd on the summed loss divided
 * by the batch size):  r_i = w.x_i + b - y_i,
 *   w -= lr * (sum_B r_i x_i / |B| + lambda * w)        (L2: lambda/2 ||w||^2)
 *   w -= lr * (sum_B r_i x_i / |B| + lambda * sign(w))  (L1: lambda ||w||_1)
 *   b -= lr * sum_B r_i / |B|                           (b is never penalized)
 * Serial on purpose: 200 features x 20 samples is microseconds of work. */
#include "train/wddemo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
            s += WDDEMO_TRUE_W * x[(size_t)i * dim + j];
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
    r->train_loss = malloc((3 * (size_t)c->epochs + (size_t)d) * sizeof *r->train_loss);
    Status st = ST_OK;
    if (!xtr || !xte || !ytr || !yte || !w || !gw || !perm || !r->train_loss) {
        st = err_set(e, ST_ERR_NOMEM, "wd-demo: out of memory");
        wddemo_result_free(r);
        goto done;
    }
    r->epochs = c->epochs;
    r->test_loss = r->train_loss + c->epochs;
    r->w_norm = r->test_loss + c->epochs;
    r->dim = d;
    r->w = r->w_norm + c->epochs;

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
    memcpy(r->w, w, (size_t)d * sizeof *w);
    r->b = b;
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

/* ---- the demo's files ---- */

int wddemo_own_name(const char *name)
{
    static const char *const OWN[] = {"wd-demo.csv", "wd-demo.png", "wd-demo.svg", "wd-l1.png"};
    for (size_t k = 0; k < sizeof OWN / sizeof OWN[0]; k++)
        if (!strcmp(name, OWN[k])) return 1;
    /* wd-lambdaL.png: L as "%g" prints a float of 0..1e3 ("0", "3", "0.5", "1e-05") */
    const char *p = name + 9, *end = strrchr(name, '.');
    if (strncmp(name, "wd-lambda", 9) || !end || strcmp(end, ".png") || end == p) return 0;
    for (const char *q = p; q < end; q++)
        if (!strchr("0123456789.e+-", *q)) return 0;
    char num[64];
    if ((size_t)(end - p) >= sizeof num) return 0;
    memcpy(num, p, (size_t)(end - p));
    num[end - p] = 0;
    char *stop;
    errno = 0;
    double v = strtod(num, &stop);
    return !errno && *stop == 0 && v >= 0 && isfinite(v);
}

static int is_kept(const char *name, const char *const *keep, int nkeep)
{
    for (int k = 0; k < nkeep; k++)
        if (!strcmp(name, keep[k])) return 1;
    return 0;
}

Status wddemo_check_folder(const char *dir, const char *const *outputs, int n, int overwrite, Err *e)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return ST_OK;
        return err_set(e, ST_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    }
    Status st = ST_OK;
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        if (!wddemo_own_name(de->d_name)) continue;
        if (!overwrite) {
            st = err_set(e, ST_ERR_IO, "%s already holds a demo (%s/%s); choose another --out or add --overwrite "
                         "(which replaces the demo's own files only)", dir, dir, de->d_name);
            break;
        }
        struct stat sb;
        if (!is_kept(de->d_name, outputs, n)) continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            st = err_set(e, ST_ERR_IO, "%s/%s: %s", dir, de->d_name, strerror(errno));
        else if (!S_ISREG(sb.st_mode))
            st = err_set(e, ST_ERR_IO, "%s/%s is not a regular file (%s); wd-demo replaces only files it wrote: "
                         "remove it or choose another --out", dir, de->d_name,
                         S_ISLNK(sb.st_mode) ? "a symbolic link" : S_ISDIR(sb.st_mode) ? "a folder" : "not a file");
    }
    closedir(d);
    return st;
}

Status wddemo_remove_stale(const char *dir, const char *const *keep, int nkeep, int *removed, Err *e)
{
    if (removed) *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return err_set(e, ST_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    Status st = ST_OK;
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        if (!wddemo_own_name(de->d_name) || is_kept(de->d_name, keep, nkeep)) continue;
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) continue;
        /* unlinkat never follows a link: had the file become one since, the link would go, not its target */
        if (unlinkat(dirfd(d), de->d_name, 0) != 0)
            st = err_set(e, ST_ERR_IO, "%s/%s: cannot remove: %s", dir, de->d_name, strerror(errno));
        else if (removed)
            (*removed)++;
    }
    closedir(d);
    return st;
}
