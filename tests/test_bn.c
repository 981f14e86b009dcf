/* test_bn.c - the batchnorm layer (src/nn/batchnorm.c) and what it touches:
 * gradients against central differences (flat and NCHW inputs, n = 2 and
 * H = W = 1 among them), running statistics after two forwards and eval
 * outputs against hand-computed values, MODE_MC updating nothing, 1 vs 2
 * threads bit for bit, the optimizer and the penalties leaving the running
 * statistics alone, the checkpoint round trip, model-file errors, and the
 * binary end to end on a tiny batchnorm model (train, resume, eval, export;
 * the NPZ's keys and dtypes; PyTorch's accuracy and onnxruntime's logits when
 * they are installed, skipped visibly otherwise). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/cfg.h"
#include "model/weights.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "nn/penalty.h"
#include "testutil.h"
#include "train/mc.h"
#include "util/fileio.h"

extern const LayerOps batchnorm_ops; /* taken apart below; the program finds it in nn/layer.c's table */

/* ---- a standalone layer ---- */

static void bn_make(Layer *l, Shape in, double eps, double momentum)
{
    memset(l, 0, sizeof *l);
    strcpy(l->spec.kind, "batchnorm");
    l->spec.line = 1;
    l->spec.eps = eps;
    l->spec.momentum = momentum;
    l->in = in;
    l->ops = layer_find_ops("batchnorm");
    ck_assert_ptr_eq(l->ops, &batchnorm_ops);
    Err e;
    ck_assert_msg(l->ops->setup(l, &e) == ST_OK, "setup: %s", e.msg);
    ck_assert_int_eq(l->out.c, in.c);
    ck_assert_int_eq(l->out.h, in.h);
    ck_assert_int_eq(l->out.w, in.w);
    ck_assert_uint_eq(l->nw, (size_t)in.c);
    ck_assert_uint_eq(l->nb, (size_t)in.c);
    ck_assert_uint_eq(l->nbuf, 2 * (size_t)in.c + 1);
    l->w = calloc(l->nw, sizeof(float));
    l->b = calloc(l->nb, sizeof(float));
    l->dw = calloc(l->nw, sizeof(float));
    l->db = calloc(l->nb, sizeof(float));
    l->buf = calloc(l->nbuf, sizeof(float));
    ck_assert(l->w && l->b && l->dw && l->db && l->buf);
    Rng r;
    rng_seed(&r, 1);
    l->ops->init(l, &r);
}

static void bn_free(Layer *l) { free(l->w), free(l->b), free(l->dw), free(l->db), free(l->buf); }

static float *random_floats(size_t n, uint64_t seed, float lo, float hi)
{
    float *p = malloc((n + 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * rng_uniform(&r);
    return p;
}

/* ---- gradient checks ---- */

static const struct {
    Shape in;
    int n;
} GC_CASES[] = {
    {{5, 1, 1}, 2},  {{7, 1, 1}, 4}, {{3, 1, 1}, 16}, {{3, 4, 5}, 2}, {{2, 3, 3}, 1},
    {{4, 1, 1}, 3},  {{2, 5, 1}, 2}, {{6, 2, 2}, 3},  {{1, 1, 1}, 5}, {{2, 6, 7}, 2}, /* rows of 32 and more: */
    {{1, 8, 8}, 1},  {{3, 4, 9}, 2},                                  /* the long-row path */
};
enum { N_GC = sizeof GC_CASES / sizeof GC_CASES[0] };

static LayerSpec bn_spec(double eps, double momentum)
{
    LayerSpec s = {0};
    strcpy(s.kind, "batchnorm");
    s.line = 1;
    s.eps = eps;
    s.momentum = momentum;
    return s;
}

/* PyTorch's initialization, then a weight (gamma) away from 1, so that the
 * check sees it in dx. */
static void init_random_gamma(Layer *l, Rng *r)
{
    batchnorm_ops.init(l, r);
    for (size_t i = 0; i < l->nw; i++) l->w[i] = 0.5f + rng_uniform(r);
}

START_TEST(test_gradcheck)
{
    LayerSpec s = bn_spec(1e-5, 0.1);
    GcResult r;
    ck_assert(gradcheck_layer(&s, GC_CASES[_i].in, GC_CASES[_i].n, 7 + (unsigned)_i, GC_X_DISTINCT, 1e-3, 1e-3, 1e-2,
                              &r));
    ck_assert_msg(r.max_err <= 1.0, "case %d (gamma 1): %s[%zu] analytic %g numeric %g", _i, r.where, r.index,
                  r.analytic, r.numeric);
    ck_assert_uint_eq(r.checked, (size_t)GC_CASES[_i].n * shape_numel(GC_CASES[_i].in) + 2 * (size_t)GC_CASES[_i].in.c);
    LayerOps ops = batchnorm_ops;
    ops.init = init_random_gamma;
    s = bn_spec(1e-3, 0.3);
    ck_assert(gradcheck_layer_ops(&ops, &s, GC_CASES[_i].in, GC_CASES[_i].n, 70 + (unsigned)_i, GC_X_DISTINCT, 1e-3,
                                  1e-3, 1e-2, &r));
    ck_assert_msg(r.max_err <= 1.0, "case %d (random gamma): %s[%zu] analytic %g numeric %g", _i, r.where, r.index,
                  r.analytic, r.numeric);
}
END_TEST

/* A backward that treats the batch's mean and variance as constants
 * (dx = gamma * inv * dy) is the classic mistake: the check must catch it. */
static void naive_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)y;
    int nc = l->in.c;
    size_t hw = (size_t)l->in.h * l->in.w, m = (size_t)n * hw;
    for (int c = 0; c < nc; c++) {
        double s = 0, q = 0;
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < hw; j++) s += x[((size_t)i * nc + c) * hw + j];
        double mean = s / (double)m;
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < hw; j++) {
                double d = x[((size_t)i * nc + c) * hw + j] - mean;
                q += d * d;
            }
        double inv = 1 / sqrt(q / (double)m + l->spec.eps);
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < hw; j++) {
                size_t k = ((size_t)i * nc + c) * hw + j;
                l->dw[c] += (float)(dy[k] * (x[k] - mean) * inv);
                l->db[c] += dy[k];
                if (dx) dx[k] = (float)(l->w[c] * inv * dy[k]);
            }
    }
}

START_TEST(test_gradcheck_catches_naive_backward)
{
    LayerOps bad = batchnorm_ops;
    bad.backward = naive_backward;
    LayerSpec s = bn_spec(1e-5, 0.1);
    GcResult r;
    ck_assert(gradcheck_layer_ops(&bad, &s, (Shape){3, 2, 2}, 3, 5, GC_X_DISTINCT, 1e-3, 1e-3, 1e-2, &r));
    ck_assert_msg(r.max_err > 1.0, "a backward without the batch statistics' terms passed");
    ck_assert_str_eq(r.where, "dx");
}
END_TEST

/* ---- forward: statistics by hand ---- */

/* Mean and unbiased variance of channel c, the naive way. */
static void naive_stats(const float *x, int n, Shape in, int c, double *mean, double *biased, double *unbiased)
{
    size_t hw = (size_t)in.h * in.w, m = (size_t)n * hw;
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < hw; j++) s += x[((size_t)i * in.c + c) * hw + j];
    *mean = s / (double)m;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < hw; j++) {
            double d = x[((size_t)i * in.c + c) * hw + j] - *mean;
            q += d * d;
        }
    *biased = q / (double)m;
    *unbiased = q / (double)(m - 1);
}

START_TEST(test_running_stats_by_hand)
{
    /* flat (n=4, C=2), numbers small enough to follow by hand */
    Layer l;
    bn_make(&l, (Shape){2, 1, 1}, 1e-5, 0.1);
    const float x1[8] = {1, -1, 2, 1, 3, -1, 4, 1}; /* c0: 1 2 3 4 (mean 2.5, var 1.25, unbiased 5/3); c1: +-1 */
    const float x2[8] = {0, 3, 0, 3, 2, 3, 2, 3};   /* c0: 0 0 2 2 (mean 1, var 1, unbiased 4/3); c1: constant 3 */
    float y[8];
    l.ops->forward(&l, x1, y, 4, MODE_TRAIN, 0);
    ck_assert_float_eq_tol(l.buf[0], 0.25f, 1e-7f);
    ck_assert_float_eq_tol(l.buf[1], 0.0f, 1e-7f);
    ck_assert_float_eq_tol(l.buf[2], (float)(0.9 + 0.1 * 5.0 / 3.0), 1e-6f);
    ck_assert_float_eq_tol(l.buf[3], (float)(0.9 + 0.1 * 4.0 / 3.0), 1e-6f);
    ck_assert(l.buf[4] == 1.0f);
    /* train output: the batch's statistics (biased variance) */
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq_tol(y[2 * i], (float)((x1[2 * i] - 2.5) / sqrt(1.25 + 1e-5)), 1e-6f);
        ck_assert_float_eq_tol(y[2 * i + 1], (float)(x1[2 * i + 1] / sqrt(1.0 + 1e-5)), 1e-6f);
    }
    l.ops->forward(&l, x2, y, 4, MODE_TRAIN, 0);
    double rm0 = 0.9 * 0.25 + 0.1 * 1.0, rm1 = 0.9 * 0.0 + 0.1 * 3.0;
    double rv0 = 0.9 * (0.9 + 0.1 * 5.0 / 3.0) + 0.1 * 4.0 / 3.0, rv1 = 0.9 * (0.9 + 0.1 * 4.0 / 3.0) + 0.0;
    ck_assert_float_eq_tol(l.buf[0], (float)rm0, 1e-6f);
    ck_assert_float_eq_tol(l.buf[1], (float)rm1, 1e-6f);
    ck_assert_float_eq_tol(l.buf[2], (float)rv0, 1e-6f);
    ck_assert_float_eq_tol(l.buf[3], (float)rv1, 1e-6f);
    ck_assert(l.buf[4] == 2.0f);
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq_tol(y[2 * i], (float)((x2[2 * i] - 1.0) / sqrt(1.0 + 1e-5)), 1e-6f);
        ck_assert(y[2 * i + 1] == 0.0f); /* a constant channel: x - mean = 0, y = bias */
    }
    bn_free(&l);

    /* NCHW (short and long rows), other momenta: 0 keeps the running statistics (the count
     * still goes up), 1 takes the batch's */
    for (int sh = 0; sh < 2; sh++) {
        const Shape in = sh ? (Shape){3, 5, 7} : (Shape){3, 2, 3};
        const int n = 2;
        const size_t hw = (size_t)in.h * in.w, nx = (size_t)n * 3 * hw;
        const double moms[3] = {0.0, 1.0, 0.25};
        float *xa = random_floats(nx, 3, -2, 3), *xb = random_floats(nx, 4, -1, 1);
        float *yy = malloc(nx * sizeof *yy);
        for (int k = 0; k < 3; k++) {
            bn_make(&l, in, 1e-5, moms[k]);
            l.ops->forward(&l, xa, yy, n, MODE_TRAIN, 0);
            l.ops->forward(&l, xb, yy, n, MODE_TRAIN, 0);
            for (int c = 0; c < 3; c++) {
                double ma, va, ua, mb, vb, ub, mom = moms[k];
                naive_stats(xa, n, in, c, &ma, &va, &ua);
                naive_stats(xb, n, in, c, &mb, &vb, &ub);
                double rm = (1 - mom) * ((1 - mom) * 0 + mom * ma) + mom * mb;
                double rv = (1 - mom) * ((1 - mom) * 1 + mom * ua) + mom * ub;
                ck_assert_msg(fabs(l.buf[c] - rm) <= 1e-6, "momentum %g: running_mean[%d] %g, expected %g", mom, c,
                              l.buf[c], rm);
                ck_assert_msg(fabs(l.buf[3 + c] - rv) <= 1e-6, "momentum %g: running_var[%d] %g, expected %g", mom, c,
                              l.buf[3 + c], rv);
                /* the second forward's output, from xb's statistics */
                for (int i = 0; i < n; i++)
                    for (size_t j = 0; j < hw; j++) {
                        size_t q = ((size_t)i * 3 + c) * hw + j;
                        ck_assert_float_eq_tol(yy[q], (float)((xb[q] - mb) / sqrt(vb + 1e-5)), 2e-6f);
                    }
            }
            ck_assert(l.buf[6] == 2.0f);
            bn_free(&l);
        }
        free(xa), free(xb), free(yy);
    }

    /* one value per channel (PyTorch refuses such a training batch): y = bias, nothing updated */
    bn_make(&l, (Shape){2, 1, 1}, 1e-5, 0.1);
    l.b[0] = 0.5f, l.b[1] = -0.25f;
    const float one[2] = {3.0f, -7.0f};
    float yo[2], dx[2];
    const float dy[2] = {1.0f, 2.0f};
    l.ops->forward(&l, one, yo, 1, MODE_TRAIN, 0);
    ck_assert(yo[0] == 0.5f && yo[1] == -0.25f);
    ck_assert(l.buf[0] == 0.0f && l.buf[1] == 0.0f && l.buf[2] == 1.0f && l.buf[3] == 1.0f && l.buf[4] == 0.0f);
    l.ops->backward(&l, one, yo, dy, dx, 1);
    ck_assert(dx[0] == 0.0f && dx[1] == 0.0f);
    ck_assert(l.db[0] == 1.0f && l.db[1] == 2.0f && l.dw[0] == 0.0f && l.dw[1] == 0.0f);
    bn_free(&l);
}
END_TEST

START_TEST(test_eval_by_hand)
{
    Layer l;
    bn_make(&l, (Shape){2, 1, 2}, 1e-3, 0.1);
    l.buf[0] = 0.5f, l.buf[1] = -1.0f;  /* running_mean */
    l.buf[2] = 4.0f, l.buf[3] = 0.25f;  /* running_var  */
    l.buf[4] = 7.0f;
    l.w[0] = 2.0f, l.w[1] = -1.0f;
    l.b[0] = 0.1f, l.b[1] = 0.2f;
    const float x[12] = {1, 2, 3, 4, -1, 0, 0.5f, 1.5f, 2, -2, 8, 9};
    float y[12], keep[5];
    memcpy(keep, l.buf, sizeof keep);
    for (int mode = 0; mode < 2; mode++) { /* MODE_EVAL, then MODE_MC: the same */
        l.ops->forward(&l, x, y, 3, mode ? MODE_MC : MODE_EVAL, 99);
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < 2; c++)
                for (int j = 0; j < 2; j++) {
                    int k = (i * 2 + c) * 2 + j;
                    double want = (x[k] - l.buf[c]) / sqrt(l.buf[2 + c] + 1e-3) * l.w[c] + l.b[c];
                    /* float arithmetic: 1e-6 relative */
                    ck_assert_msg(fabs(y[k] - want) <= 1e-6 * fmax(1.0, fabs(want)), "mode %d: y[%d] = %.9g, expected %.9g", mode, k, y[k],
                                  want);
                }
        ck_assert_int_eq(memcmp(keep, l.buf, sizeof keep), 0);
    }
    bn_free(&l);
}
END_TEST

/* ---- MODE_MC through a net ---- */

static Net *net_from_text(const char *text, int batch, uint64_t seed)
{
    NetSpec c;
    Err e;
    ck_assert_msg(cfg_parse_text("bn.cfg", text, &c, &e) == ST_OK, "%s", e.msg);
    Net *net;
    ck_assert_msg(net_build(&c, batch, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, seed);
    return net;
}

static const char *MC_NET = "input 1x4x4\nconv 3 3 pad=1\nbatchnorm\nrelu\nflatten\ndropout 0.5\ndense 6\n"
                            "batchnorm\ndense 4\n";

START_TEST(test_mc_mode_updates_nothing)
{
    enum { N = 5 };
    Net *net = net_from_text(MC_NET, N, 3);
    float *x = random_floats(N * 16, 8, -1, 1);
    for (int s = 0; s < 3; s++) net_forward(net, x, N, MODE_TRAIN, 10 + (uint64_t)s); /* running stats move */
    ck_assert(net->layers[1].buf[0] != 0.0f && net->layers[1].buf[6] == 3.0f); /* running_mean[0], count */
    size_t bytes = net->nparams * sizeof(float);
    float *keep = malloc(bytes), ze[N * 4], zm[N * 4], zm2[N * 4];
    memcpy(keep, net->params, bytes);
    memcpy(ze, net_forward(net, x, N, MODE_EVAL, 0), sizeof ze);
    memcpy(zm, net_forward(net, x, N, MODE_MC, 1), sizeof zm);
    memcpy(zm2, net_forward(net, x, N, MODE_MC, 2), sizeof zm2);
    ck_assert_int_eq(memcmp(keep, net->params, bytes), 0);
    ck_assert_int_ne(memcmp(ze, zm, sizeof ze), 0);  /* dropout is on */
    ck_assert_int_ne(memcmp(zm, zm2, sizeof zm), 0); /* with the key's masks */
    float probs[N * 4], ent[N];
    int pred[N];
    Err e;
    ck_assert_int_eq(mc_predict_batch(net, x, N, 4, 77, probs, pred, ent, &e), ST_OK);
    ck_assert_int_eq(memcmp(keep, net->params, bytes), 0);
    /* with dropout 0, an MC pass is the eval pass bit for bit: batchnorm used its running statistics */
    ck_assert_str_eq(net->layers[4].spec.kind, "dropout");
    net->layers[4].spec.p = 0.0f;
    memcpy(zm, net_forward(net, x, N, MODE_MC, 1), sizeof zm);
    ck_assert_int_eq(memcmp(ze, zm, sizeof ze), 0);
    ck_assert_int_eq(memcmp(keep, net->params, bytes), 0);
    free(keep), free(x);
    net_free(net);
}
END_TEST

/* ---- 1 thread vs 2 threads ---- */

#ifdef _OPENMP
static const struct {
    Shape in;
    int n;
} THR_CASES[] = {{{16, 12, 12}, 20}, {{600, 1, 1}, 64}, {{5, 7, 9}, 90}, {{40, 4, 4}, 30}, {{70, 1, 1}, 250}};
enum { N_THR = sizeof THR_CASES / sizeof THR_CASES[0] };

/* y (train), dx, dw, db (two backwards: accumulated), the buffers, y (eval). */
static float *run_threads(int k, int threads, size_t *len)
{
    Shape in = THR_CASES[k].in;
    int n = THR_CASES[k].n;
    size_t ny = (size_t)n * shape_numel(in);
    ck_assert_uint_ge(ny, 16384); /* the parallel path */
    Layer l;
    bn_make(&l, in, 1e-5, 0.1);
    float *x = random_floats(ny, 21 + (uint64_t)k, -3, 5), *dy = random_floats(ny, 31 + (uint64_t)k, -1, 1);
    for (size_t c = 0; c < l.nw; c++) l.w[c] = 0.5f + 0.01f * (float)c;
    *len = 3 * ny + 2 * l.nw + l.nbuf;
    float *o = calloc(*len, sizeof *o);
    omp_set_num_threads(threads);
    l.ops->forward(&l, x, o, n, MODE_TRAIN, 0);
    l.ops->backward(&l, x, o, dy, o + ny, n);
    l.ops->backward(&l, x, o, dy, o + ny, n);
    l.ops->forward(&l, x, o + 2 * ny, n, MODE_TRAIN, 0);
    l.ops->forward(&l, dy, o + 2 * ny, n, MODE_EVAL, 0);
    memcpy(o + 3 * ny, l.dw, l.nw * sizeof *o);
    memcpy(o + 3 * ny + l.nw, l.db, l.nb * sizeof *o);
    memcpy(o + 3 * ny + 2 * l.nw, l.buf, l.nbuf * sizeof *o);
    free(x), free(dy);
    bn_free(&l);
    return o;
}

START_TEST(test_threads_bit_identical)
{
    int keep = omp_get_max_threads();
    size_t na, nb;
    float *a = run_threads(_i, 1, &na), *b = run_threads(_i, 2, &nb);
    omp_set_num_threads(keep);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)))
            ck_abort_msg("case %d: element %zu: %.9g (1 thread) vs %.9g (2)", _i, i, a[i], b[i]);
    free(a), free(b);
}
END_TEST
#endif

/* ---- the net: tensors, optimizer, penalties ---- */

static const char *OPT_NET = "input 1x2x2\nflatten\ndense 3\nbatchnorm\ndense 2\n";

START_TEST(test_tensors_and_summary)
{
    Net *net = net_from_text(OPT_NET, 4, 1);
    static const char *names[] = {"1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var",
                                  "2.num_batches_tracked", "3.weight", "3.bias"};
    static const int ndim[] = {2, 1, 1, 1, 1, 1, 0, 2, 1}, bias[] = {0, 1, 1, 1, 0, 0, 0, 0, 1},
                     buffer[] = {0, 0, 0, 0, 1, 1, 1, 0, 0};
    ck_assert_int_eq(net->ntensors, 9);
    size_t off = 0;
    for (int k = 0; k < 9; k++) {
        const ParamInfo *t = &net->tensors[k];
        ck_assert_str_eq(t->name, names[k]);
        ck_assert_int_eq(t->ndim, ndim[k]);
        ck_assert_int_eq(t->is_bias, bias[k]);
        ck_assert_int_eq(t->is_buffer, buffer[k]);
        ck_assert_uint_eq(t->offset, off);
        off += t->numel;
    }
    ck_assert_int_eq(net->tensors[2].dims[0], 3);
    ck_assert_uint_eq(net->tensors[6].numel, 1);
    ck_assert_uint_eq(net->nparams, off);
    ck_assert_uint_eq(net->nparams, 36);
    ck_assert_uint_eq(net->nbuffers, 7);
    const Layer *bn = &net->layers[2];
    ck_assert_ptr_eq(bn->buf, net->params + net->tensors[4].offset);
    for (int c = 0; c < 3; c++) /* PyTorch's initial values */
        ck_assert(bn->w[c] == 1.0f && bn->b[c] == 0.0f && bn->buf[c] == 0.0f && bn->buf[3 + c] == 1.0f);
    ck_assert(bn->buf[6] == 0.0f);
    char text[2048] = "";
    FILE *f = fmemopen(text, sizeof text - 1, "w");
    net_summary(net, f);
    fclose(f);
    ck_assert_msg(strstr(text, "total parameters: 29 (and 7 batch-norm running statistics, not trained)"), "%s",
                  text);
    size_t np;
    Err e;
    ck_assert_int_eq(net_plan(&net->spec, 4, &np, NULL, &e), ST_OK);
    ck_assert_uint_eq(np, 36);
    net_free(net);
}
END_TEST

/* The buffers' slice of an arena, copied (the running statistics of layer 1). */
static void buffers_of(const Net *net, const float *arena, float out[7])
{
    memcpy(out, arena + net->tensors[4].offset, 7 * sizeof(float));
}

START_TEST(test_optimizer_skips_buffers)
{
    enum { N = 5 };
    Net *net = net_from_text(OPT_NET, N, 2);
    float *x = random_floats(N * 4, 5, -1, 1), *dz = random_floats(N * 2, 6, -1, 1);
    const OptKind kinds[3] = {OPT_SGD, OPT_ADAM, OPT_ADAMW};
    float *start = malloc(net->nparams * sizeof(float));
    net_forward(net, x, N, MODE_TRAIN, 1);
    memcpy(start, net->params, net->nparams * sizeof(float));
    for (int k = 0; k < 3; k++) {
        memcpy(net->params, start, net->nparams * sizeof(float));
        OptConfig c = optim_defaults();
        c.kind = kinds[k];
        c.lr = 0.1f;
        c.momentum = 0.9f;
        c.weight_decay = 0.5f;
        c.l1 = 0.01f;
        c.decay_bias = 1; /* even so, buffers are not decayed */
        Optim o;
        Err e;
        ck_assert_int_eq(optim_init(&o, &c, net->nparams, &e), ST_OK);
        float before[7], after[7];
        buffers_of(net, net->params, before);
        ck_assert(before[6] == 1.0f && before[0] != 0.0f);
        for (int s = 0; s < 3; s++) {
            net_zero_grad(net);
            net_forward(net, x, N, MODE_EVAL, 0); /* forward without touching the statistics */
            net_forward(net, x, N, MODE_TRAIN, 0);
            buffers_of(net, net->params, before);
            net_backward(net, x, dz, N);
            float g[7];
            buffers_of(net, net->grads, g);
            for (int i = 0; i < 7; i++) ck_assert(g[i] == 0.0f); /* buffers get no gradient */
            optim_step(&o, net->params, net->grads, net->tensors, net->ntensors);
            buffers_of(net, net->params, after);
            ck_assert_int_eq(memcmp(before, after, sizeof before), 0);
            buffers_of(net, o.m, g);
            for (int i = 0; i < 7; i++) ck_assert(g[i] == 0.0f);
            if (o.v) { /* SGD has none */
                buffers_of(net, o.v, g);
                for (int i = 0; i < 7; i++) ck_assert(g[i] == 0.0f);
            }
        }
        ck_assert(after[6] == 4.0f); /* one training forward before, three here */
        optim_free(&o);
    }
    /* decay alone (zero gradients, SGD): weights shrink; batchnorm's weight and bias only with decay_bias */
    for (int db = 0; db < 2; db++) {
        memcpy(net->params, start, net->nparams * sizeof(float));
        net_zero_grad(net);
        OptConfig c = optim_defaults();
        c.kind = OPT_SGD;
        c.lr = 0.1f;
        c.weight_decay = 0.5f;
        c.decay_bias = db;
        Optim o;
        Err e;
        ck_assert_int_eq(optim_init(&o, &c, net->nparams, &e), ST_OK);
        for (int i = 0; i < 3; i++) net->params[net->tensors[3].offset + i] = 0.5f - 0.3f * (float)i; /* non-zero */
        float p[36];
        memcpy(p, net->params, sizeof p);
        optim_step(&o, net->params, net->grads, net->tensors, net->ntensors);
        for (int k = 0; k < net->ntensors; k++) {
            const ParamInfo *t = &net->tensors[k];
            for (size_t i = 0; i < t->numel; i++) {
                float was = p[t->offset + i], now = net->params[t->offset + i];
                if (t->is_buffer || (t->is_bias && !db)) ck_assert_msg(now == was, "%s[%zu] changed", t->name, i);
                else
                    ck_assert_msg(was != 0.0f && fabsf(now - 0.95f * was) <= 1e-6f * fabsf(was), "%s[%zu]: %g -> %g",
                                  t->name, i, was, now);
            }
        }
        /* the penalty and the weight norm count the same tensors */
        double sq = 0, ab = 0, wsq = 0;
        for (int k = 0; k < net->ntensors; k++) {
            const ParamInfo *t = &net->tensors[k];
            for (size_t i = 0; i < t->numel && !t->is_buffer; i++) {
                double v = net->params[t->offset + i];
                if (!t->is_bias) wsq += v * v;
                if (t->is_bias && !db) continue;
                sq += v * v;
                ab += fabs(v);
            }
        }
        c.l1 = 0.25f;
        ck_assert_double_eq_tol(penalty_value(net->params, net->tensors, net->ntensors, &c), 0.25 * sq + 0.25 * ab,
                                1e-12);
        ck_assert_double_eq_tol(penalty_weight_norm(net), sqrt(wsq), 1e-12);
        optim_free(&o);
    }
    free(start), free(x), free(dz);
    net_free(net);
}
END_TEST

/* ---- checkpoint ---- */

START_TEST(test_checkpoint_round_trip)
{
    enum { N = 6 };
    Net *net = net_from_text(MC_NET, N, 4);
    float *x = random_floats(N * 16, 9, -1, 2);
    for (int s = 0; s < 2; s++) net_forward(net, x, N, MODE_TRAIN, (uint64_t)s);
    char *dir = make_temp_dir(), path[600];
    snprintf(path, sizeof path, "%s/bn.fmw", dir);
    CkptState st = {.settings = (char *)"", .has_progress = 1, .epoch = 1, .step = 2, .has_optim = 1};
    Err e;
    OptConfig oc = optim_defaults();
    ck_assert_int_eq(optim_init(&st.opt, &oc, net->nparams, &e), ST_OK);
    for (size_t i = 0; i < net->nparams; i++) st.opt.m[i] = (float)i;
    ck_assert_msg(weights_save_run(path, net, &st, &e) == ST_OK, "%s", e.msg);
    Net *back;
    CkptState ld;
    ck_assert_msg(weights_load_run(path, N, &back, &ld, &e) == ST_OK, "%s", e.msg);
    ck_assert_uint_eq(back->nparams, net->nparams);
    ck_assert_uint_eq(back->nbuffers, net->nbuffers);
    ck_assert_int_eq(memcmp(back->params, net->params, net->nparams * sizeof(float)), 0);
    ck_assert(back->layers[1].buf[2 * 3] == 2.0f); /* num_batches_tracked */
    ck_assert_int_eq(memcmp(ld.opt.m, st.opt.m, net->nparams * sizeof(float)), 0);
    float z1[N * 4];
    memcpy(z1, net_forward(net, x, N, MODE_EVAL, 0), sizeof z1);
    ck_assert_int_eq(memcmp(z1, net_forward(back, x, N, MODE_EVAL, 0), sizeof z1), 0);
    weights_state_free(&ld);
    optim_free(&st.opt);
    net_free(back);
    net_free(net);
    free(x);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- model files ---- */

START_TEST(test_cfg_values)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x4x4\nbatchnorm\nbatchnorm momentum=0 eps=0.001\n"
                                             "batchnorm momentum=1 # comment\nflatten\n",
                                    &c, &e),
                     ST_OK);
    ck_assert_int_eq(c.nlayers, 4);
    ck_assert(c.layers[0].eps == 1e-5 && c.layers[0].momentum == 0.1);
    ck_assert(c.layers[1].eps == 0.001 && c.layers[1].momentum == 0.0);
    ck_assert(c.layers[2].eps == 1e-5 && c.layers[2].momentum == 1.0);
    netspec_free(&c);
}
END_TEST

static const struct {
    const char *line, *msg;
} BAD[] = {
    {"batchnorm eps=0", "m.cfg:3: batchnorm: eps=0 is not a number in range"},
    {"batchnorm eps=-1e-5", "m.cfg:3: batchnorm: eps=-1e-5 is not a number in range"},
    {"batchnorm eps=abc", "m.cfg:3: batchnorm: eps=abc is not a number"},
    {"batchnorm eps=1e400", "m.cfg:3: batchnorm: eps=1e400"},
    {"batchnorm momentum=1.5", "m.cfg:3: batchnorm: momentum=1.5 is not a number in range"},
    {"batchnorm momentum=-0.1", "m.cfg:3: batchnorm: momentum=-0.1"},
    {"batchnorm momentum=nan", "m.cfg:3: batchnorm: momentum=nan"},
    {"batchnorm foo=1", "m.cfg:3: unknown option 'foo' for batchnorm"},
    {"batchnorm 3", "m.cfg:3: wrong number of values for batchnorm (expected: batchnorm [eps=E] [momentum=M])"},
    {"batchnorm eps=1e-3 eps=1e-4", "m.cfg:3: option 'eps' given twice"},
    {"batchnorm2d", "m.cfg:3: unknown layer 'batchnorm2d' (did you mean 'batchnorm'? expected one of: input, flatten, relu, dense, dropout, "
                    "conv, maxpool, avgpool, batchnorm, dropout2d)"},
};
enum { N_BAD = sizeof BAD / sizeof BAD[0] };

START_TEST(test_cfg_errors)
{
    char text[256];
    snprintf(text, sizeof text, "input 1x4x4\nflatten\n%s\ndense 2\n", BAD[_i].line);
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("m.cfg", text, &c, &e), ST_ERR_FORMAT);
    ck_assert_msg(!strncmp(e.msg, BAD[_i].msg, strlen(BAD[_i].msg)), "'%s': got '%s'", BAD[_i].line, e.msg);
}
END_TEST

START_TEST(test_setup_refuses_bad_spec)
{
    Layer l = {0};
    l.ops = &batchnorm_ops;
    l.in = (Shape){3, 1, 1};
    l.spec = bn_spec(0.0, 0.1);
    Err e;
    ck_assert_int_eq(l.ops->setup(&l, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "eps"));
    l.spec = bn_spec(1e-5, 2.0);
    ck_assert_int_eq(l.ops->setup(&l, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "momentum"));
}
END_TEST

/* ---- the binary, end to end ---- */

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }


/* The number after "test loss " in a command's output. */
static double loss_of(const char *text)
{
    const char *a = strstr(text, "test loss ");
    ck_assert_msg(a != NULL, "no test loss in:\n%s", text);
    return strtod(a + 10, NULL);
}

/* "acc XX.XX%" of a command's output. */
static void acc_of(const char *text, char *buf, size_t len)
{
    const char *a = strstr(text, " acc ");
    ck_assert_msg(a != NULL, "no accuracy in:\n%s", text);
    snprintf(buf, len, "%.*s", (int)strcspn(a + 1, "%") + 1, a + 1);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walks the stored zip's local entries: every entry's name, its .npy dict and
 * data; checks the batchnorm keys' dtypes and the count's value. */
static void check_npz(const char *path, int nbatches)
{
    char *z;
    size_t len;
    Err e;
    ck_assert_int_eq(file_read_all(path, 1 << 24, &z, &len, &e), ST_OK);
    const unsigned char *p = (const unsigned char *)z, *end = p + len;
    int seen = 0, counts = 0;
    static const char *keys[] = {"1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                                 "6.weight", "6.bias", "6.running_mean", "6.running_var", "6.num_batches_tracked"};
    while (p + 30 <= end && le32(p) == 0x04034b50u) {
        uint32_t size = le32(p + 18);
        unsigned nl = p[26] | p[27] << 8, xl = p[28] | p[29] << 8;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)nl, (const char *)p + 30);
        const unsigned char *d = p + 30 + nl + xl;
        ck_assert(d + size <= end);
        unsigned hl = d[8] | d[9] << 8;
        char dict[256];
        snprintf(dict, sizeof dict, "%.*s", (int)hl, (const char *)d + 10);
        int is_count = strstr(name, "num_batches_tracked") != NULL;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            char want[64];
            snprintf(want, sizeof want, "%s.npy", keys[k]);
            seen += !strcmp(name, want);
        }
        if (is_count) {
            ck_assert_msg(strstr(dict, "'descr': '<i8'") && strstr(dict, "'shape': ()"), "%s: %s", name, dict);
            ck_assert_uint_eq(size, 10 + hl + 8);
            const unsigned char *v = d + 10 + hl;
            ck_assert_uint_eq(le32(v), (uint32_t)nbatches);
            ck_assert_uint_eq(le32(v + 4), 0);
            counts++;
        } else {
            ck_assert_msg(strstr(dict, "'descr': '<f4'"), "%s: %s", name, dict);
            if (strstr(name, "running_") || !strncmp(name, "1.", 2) || !strncmp(name, "6.", 2))
                ck_assert_msg(strstr(dict, "'shape': (4,)") || strstr(dict, "'shape': (16,)"), "%s: %s", name, dict);
        }
        p = d + size;
    }
    ck_assert_int_eq(seen, 10);
    ck_assert_int_eq(counts, 2);
    free(z);
}

/* Occurrences of word in the file at path (bytes). */
static int count_in_file(const char *path, const char *word)
{
    char *d;
    size_t len, wl = strlen(word);
    Err e;
    ck_assert_int_eq(file_read_all(path, 1 << 24, &d, &len, &e), ST_OK);
    int n = 0;
    for (size_t i = 0; i + wl <= len; i++) n += !memcmp(d + i, word, wl);
    free(d);
    return n;
}

static const char *E2E_MODEL = "input 1x28x28\n"
                               "conv 4 3 stride=2     # 4x13x13\n"
                               "batchnorm             # BatchNorm2d(4)\n"
                               "relu\n"
                               "maxpool 2             # 4x6x6\n"
                               "flatten\n"
                               "dense 16\n"
                               "batchnorm momentum=0.2 eps=1e-4   # BatchNorm1d(16)\n"
                               "relu\n"
                               "dropout 0.2\n"
                               "dense 10\n";

START_TEST(test_binary_end_to_end)
{
    char *dir = make_temp_dir(), path[600], args[4096], mine[64], theirs[64];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 300, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    snprintf(path, sizeof path, "%s/bn.cfg", dir);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, E2E_MODEL, strlen(E2E_MODEL), &e), ST_OK);
    /* 300 images in batches of 64: 5 batches (the last of 44) */
    const char *common = "--epochs %d --batch 64 --lr 0.01 --data %s --no-progress --threads 2 --overwrite";
    char flags[1200];
    snprintf(flags, sizeof flags, common, 1, dir);
    snprintf(args, sizeof args, "train --model %s %s --out %s/run", path, flags, dir);
    expect(args, 0, "total parameters: 2570 (and 42 batch-norm running statistics, not trained)");
    ck_assert_ptr_nonnull(strstr(out, "1    batchnorm          4x13x13                   8\n"));
    ck_assert_ptr_nonnull(strstr(out, "epoch 1/1"));
    /* resumed to 2 epochs = 2 epochs in one go, running statistics included */
    snprintf(args, sizeof args, "train --resume %s/run/model.fmw --epochs 2 --data %s --no-progress --threads 1 "
                                "--out %s/resumed", dir, dir, dir);
    expect(args, 0, "epoch 2/2");
    snprintf(flags, sizeof flags, common, 2, dir);
    snprintf(args, sizeof args, "train --model %s %s --out %s/full", path, flags, dir);
    expect(args, 0, "epoch 2/2");
    Net *a, *b;
    snprintf(path, sizeof path, "%s/resumed/model.fmw", dir);
    ck_assert_msg(weights_load(path, 1, &a, NULL, &e) == ST_OK, "%s", e.msg);
    snprintf(path, sizeof path, "%s/full/model.fmw", dir);
    ck_assert_msg(weights_load(path, 1, &b, NULL, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(memcmp(a->params, b->params, a->nparams * sizeof(float)), 0);
    ck_assert(a->layers[1].buf[2 * 4] == 10.0f); /* 2 epochs of 5 batches */
    net_free(a);
    net_free(b);

    /* eval, export */
    snprintf(args, sizeof args, "eval --weights %s/run/model.fmw --data %s", dir, dir);
    expect(args, 0, "test loss");
    acc_of(out, mine, sizeof mine);
    double my_loss = loss_of(out);
    snprintf(args, sizeof args, "export --weights %s/run/model.fmw -o %s/m.npz", dir, dir);
    expect(args, 0, "16 tensors, 2570 parameters");
    snprintf(path, sizeof path, "%s/m.npz", dir);
    check_npz(path, 5);
    snprintf(args, sizeof args, "export --weights %s/run/model.fmw -o %s/m.onnx", dir, dir);
    expect(args, 0, "wrote");
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    ck_assert_int_eq(count_in_file(path, "BatchNormalization"), 2);
    ck_assert_int_eq(count_in_file(path, "epsilon"), 2);
    ck_assert_int_eq(count_in_file(path, "6.running_var"), 2); /* the node's input and the initializer */
    ck_assert_int_eq(count_in_file(path, "num_batches_tracked"), 0);

    /* PyTorch: BatchNorm2d and BatchNorm1d loaded from the npz, in eval mode */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/torch_check.py %s/m.npz --checkpoint %s/run/model.fmw --data %s",
             dir, dir, dir);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 3 || rc == 127) {
        printf("skipped: test_binary_end_to_end's PyTorch check (no python3-torch for /usr/bin/python3)\n");
    } else {
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        acc_of(out, theirs, sizeof theirs);
        ck_assert_msg(!strcmp(mine, theirs), "fmnist eval says %s, PyTorch %s", mine, theirs);
        ck_assert_msg(fabs(loss_of(out) - my_loss) <= 1.5e-4, "test loss: fmnist %.4f, PyTorch %.4f", my_loss,
                      loss_of(out));
        printf("PyTorch vs fmnist eval, a batchnorm model, 100 synthetic test images: %s, test loss %.4f both\n",
               mine, my_loss);
    }

    /* onnxruntime: BatchNormalization on (N,C,H,W) and on (N,C) */
    enum { FIRST = 3, N = 16 };
    snprintf(cmd, sizeof cmd, "node tools/onnx_check.js %s/m.onnx %s/t10k-images-idx3-ubyte %d %d", dir, dir, FIRST,
             N);
    rc = run_shell(cmd, out, sizeof out);
    if (rc == 3 || rc == 127) {
        printf("skipped: test_binary_end_to_end's ONNX check (onnxruntime-node not installed)\n");
    } else {
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        Net *net;
        snprintf(path, sizeof path, "%s/run/model.fmw", dir);
        ck_assert_int_eq(weights_load(path, N, &net, NULL, &e), ST_OK);
        Dataset d;
        ck_assert_int_eq(data_load(dir, "test", 10, &d, &e), ST_OK);
        uint32_t ids[N];
        int labels[N];
        float *x = malloc((size_t)N * 784 * sizeof *x);
        for (int i = 0; i < N; i++) ids[i] = (uint32_t)(FIRST + i);
        dataset_batch(&d, ids, N, net->spec.mean, net->spec.std, x, labels);
        const float *z = net_forward(net, x, N, MODE_EVAL, 0);
        double worst = 0;
        int rows = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            if (line[0] == '#') continue;
            char *q;
            long k = strtol(line, &q, 10);
            ck_assert_msg(*q == ':' && k == FIRST + rows, "unexpected line '%s'", line);
            q++;
            for (int c = 0; c < 10; c++) worst = fmax(worst, fabs(strtod(q, &q) - z[rows * 10 + c]));
            rows++;
        }
        ck_assert_int_eq(rows, N);
        ck_assert_msg(worst <= 1e-4, "ONNX and fmnist logits differ by %g", worst);
        printf("onnxruntime-node vs fmnist, a batchnorm model, %d images: max |logit difference| %.3g\n", N, worst);
        free(x);
        dataset_free(&d);
        net_free(net);
    }

    /* a bad batchnorm line, through the binary: PATH:LINE */
    snprintf(path, sizeof path, "%s/bad.cfg", dir);
    const char *bad = "input 1x28x28\nflatten\nbatchnorm eps=zero\ndense 10\n";
    ck_assert_int_eq(file_write_atomic(path, bad, strlen(bad), &e), ST_OK);
    snprintf(args, sizeof args, "train --model %s --data %s --out %s/badrun --no-progress", path, dir, dir);
    char want[700];
    snprintf(want, sizeof want, "%s:3: batchnorm: eps=zero is not a number", path);
    expect(args, 1, want);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *bn_suite(void)
{
    Suite *s = suite_create("bn");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_gradcheck, 0, N_GC);
    tcase_add_test(tc, test_gradcheck_catches_naive_backward);
    suite_add_tcase(s, tc);

    tc = tcase_create("forward");
    tcase_add_test(tc, test_running_stats_by_hand);
    tcase_add_test(tc, test_eval_by_hand);
    tcase_add_test(tc, test_mc_mode_updates_nothing);
    suite_add_tcase(s, tc);

#ifdef _OPENMP
    tc = tcase_create("threads");
    tcase_add_loop_test(tc, test_threads_bit_identical, 0, N_THR);
    suite_add_tcase(s, tc);
#endif

    tc = tcase_create("net");
    tcase_add_test(tc, test_tensors_and_summary);
    tcase_add_test(tc, test_optimizer_skips_buffers);
    tcase_add_test(tc, test_checkpoint_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("cfg");
    tcase_add_test(tc, test_cfg_values);
    tcase_add_loop_test(tc, test_cfg_errors, 0, N_BAD);
    tcase_add_test(tc, test_setup_refuses_bad_spec);
    suite_add_tcase(s, tc);

    tc = tcase_create("binary");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_binary_end_to_end);
    suite_add_tcase(s, tc);
    return s;
}
