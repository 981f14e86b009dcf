/* test_conv.c - Check suite for the conv net: src/nn/conv2d.c, src/nn/pool.c
 * and their kernels, src/kernels/conv.c, conv_direct.c and pool.c.
 *
 * Gradient checks of conv/maxpool/avgpool over a table of small shapes; conv
 * and pooling forwards against naive loops kept here; bit-identical results
 * with 1 and 2 OpenMP threads; models/cnn.cfg's shapes; shape errors in model
 * files naming their line. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/conv.h"
#include "model/cfg.h"
#include "nn/net.h"
#include "testutil.h"

/* One layer with its own parameter, gradient and scratch buffers for n samples. */
typedef struct {
    Layer l;
    int n;
    size_t nx, ny;
} TestLayer;

static void spec_init(LayerSpec *s, const char *kind, int units, int kh, int kw, int stride, int pad)
{
    memset(s, 0, sizeof *s);
    strcpy(s->kind, kind);
    s->line = 1;
    s->units = units;
    s->kh = kh;
    s->kw = kw;
    s->stride = stride;
    s->pad = pad;
}

static void tl_make(TestLayer *t, const LayerSpec *spec, Shape in, int n, unsigned long long seed)
{
    memset(t, 0, sizeof *t);
    t->l.spec = *spec;
    t->l.in = in;
    t->l.ops = layer_find_ops(spec->kind);
    ck_assert_ptr_nonnull(t->l.ops);
    Err e;
    ck_assert_msg(t->l.ops->setup(&t->l, &e) == ST_OK, "setup: %s", e.msg);
    t->n = n;
    t->nx = (size_t)n * shape_numel(in);
    t->ny = (size_t)n * shape_numel(t->l.out);
    t->l.w = calloc(t->l.nw + 1, sizeof(float));
    t->l.b = calloc(t->l.nb + 1, sizeof(float));
    t->l.dw = calloc(t->l.nw + 1, sizeof(float));
    t->l.db = calloc(t->l.nb + 1, sizeof(float));
    t->l.ws = calloc(t->l.ws_per_sample * (size_t)n + 1, sizeof(float));
    ck_assert(t->l.w && t->l.b && t->l.dw && t->l.db && t->l.ws);
    Rng r;
    rng_seed(&r, seed);
    t->l.ops->init(&t->l, &r);
    for (size_t i = 0; i < t->l.nb; i++) t->l.b[i] = 2 * rng_uniform(&r) - 1;
}

static void tl_free(TestLayer *t)
{
    free(t->l.w), free(t->l.b), free(t->l.dw), free(t->l.db), free(t->l.ws);
}

static float *random_floats(size_t n, unsigned long long seed)
{
    float *p = malloc((n + 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) p[i] = 2 * rng_uniform(&r) - 1;
    return p;
}

/* ---- gradient checks ---------------------------------------------------- */

typedef struct {
    const char *kind;
    int c, h, w;              /* input shape          */
    int oc, kh, kw, stride, pad;
} GcCase;

static const GcCase gc_cases[] = {
    {"conv", 1, 5, 5, 1, 3, 3, 1, 0},    {"conv", 2, 7, 5, 3, 3, 3, 1, 1},  {"conv", 3, 7, 5, 2, 3, 3, 2, 0},
    {"conv", 2, 7, 5, 4, 3, 3, 2, 1},    {"conv", 3, 6, 7, 2, 2, 3, 1, 1},  {"conv", 2, 8, 7, 3, 3, 2, 2, 2},
    {"conv", 4, 3, 3, 5, 1, 1, 1, 0},    {"conv", 1, 3, 3, 2, 5, 5, 1, 1},  {"conv", 2, 5, 6, 2, 3, 3, 3, 1},
    {"conv", 3, 4, 9, 2, 1, 4, 2, 0},    {"maxpool", 3, 6, 6, 0, 2, 2, 2, 0}, {"maxpool", 2, 7, 5, 0, 3, 3, 2, 0},
    {"maxpool", 2, 7, 5, 0, 2, 3, 1, 0}, {"maxpool", 1, 5, 5, 0, 5, 5, 0, 0}, {"maxpool", 2, 9, 8, 0, 3, 2, 0, 0},
    {"maxpool", 2, 7, 5, 0, 2, 2, 0, 0}, {"maxpool", 3, 4, 6, 0, 2, 2, 2, 0},
    /* rows of 18 and 14 windows: the vector path's full and partial blocks */
    {"maxpool", 2, 4, 36, 0, 2, 2, 0, 0}, {"maxpool", 1, 5, 29, 0, 2, 2, 2, 0},
    {"avgpool", 3, 6, 6, 0, 2, 2, 2, 0}, {"avgpool", 2, 7, 5, 0, 3, 2, 2, 0}, {"avgpool", 2, 7, 5, 0, 3, 3, 1, 0},
};
enum { N_GC = sizeof gc_cases / sizeof gc_cases[0], N_GC_CONV = 10 /* the conv cases come first */ };

START_TEST(test_gradcheck)
{
    const GcCase *k = &gc_cases[_i];
    LayerSpec s;
    spec_init(&s, k->kind, k->oc, k->kh, k->kw, k->stride, k->pad);
    int is_max = !strcmp(k->kind, "maxpool");
    GcResult r;
    /* maxpool: inputs at least 0.001 apart, so a step of 1e-4 never changes
     * which element wins; conv and avgpool are linear, any step is exact. */
    int ok = gradcheck_layer(&s, (Shape){k->c, k->h, k->w}, 2, 1000 + (unsigned)_i,
                             is_max ? GC_X_DISTINCT : GC_X_AWAY_FROM_ZERO, is_max ? 1e-4 : 1e-2, 1e-3, 1e-2, &r);
    ck_assert_msg(ok, "case %d (%s): setup failed", _i, k->kind);
    ck_assert_msg(r.max_err <= 1.0, "case %d (%s %dx%dx%d k%dx%d s%d p%d): %s[%zu] analytic %.7g numeric %.7g (err %.3g)",
                  _i, k->kind, k->c, k->h, k->w, k->kh, k->kw, k->stride, k->pad, r.where, r.index, r.analytic,
                  r.numeric, r.max_err);
    ck_assert_uint_gt(r.checked, 0);
}
END_TEST

/* ---- forwards against naive loops --------------------------------------- */

START_TEST(test_conv_forward_naive)
{
    const GcCase *k = &gc_cases[_i];
    ck_assert_str_eq(k->kind, "conv");
    LayerSpec s;
    spec_init(&s, "conv", k->oc, k->kh, k->kw, k->stride, k->pad);
    const int n = 3, C = k->c, H = k->h, W = k->w, KH = k->kh, KW = k->kw;
    const int S = k->stride ? k->stride : 1, P = k->pad;
    TestLayer t;
    tl_make(&t, &s, (Shape){C, H, W}, n, 7 + (unsigned)_i);
    const int OC = t.l.out.c, OH = t.l.out.h, OW = t.l.out.w;
    ck_assert_int_eq(OH, (H + 2 * P - KH) / S + 1);
    ck_assert_int_eq(OW, (W + 2 * P - KW) / S + 1);
    ck_assert_uint_eq(t.l.nw, (size_t)OC * C * KH * KW);
    ck_assert_uint_eq(t.l.nb, (size_t)OC);
    float *x = random_floats(t.nx, 99 + (unsigned)_i);
    float *y = malloc(t.ny * sizeof *y);
    t.l.ops->forward(&t.l, x, y, n, MODE_EVAL, 0);
    for (int b = 0; b < n; b++)
        for (int o = 0; o < OC; o++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double ref = t.l.b[o], mag = fabs(ref);
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < KH; i++)
                            for (int j = 0; j < KW; j++) {
                                int iy = oy * S - P + i, ix = ox * S - P + j;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                double v = (double)t.l.w[((o * C + c) * KH + i) * KW + j] *
                                           x[((b * C + c) * H + iy) * W + ix];
                                ref += v;
                                mag += fabs(v);
                            }
                    double got = y[((b * OC + o) * OH + oy) * OW + ox];
                    if (!(fabs(got - ref) <= 1e-6 * (mag + 1e-3)))
                        ck_abort_msg("case %d: y[%d][%d][%d][%d] = %.9g, want %.9g", _i, b, o, oy, ox, got, ref);
                }
    free(x), free(y);
    tl_free(&t);
}
END_TEST

START_TEST(test_pool_forward_naive)
{
    const GcCase *k = &gc_cases[_i];
    ck_assert_str_ne(k->kind, "conv");
    int is_max = !strcmp(k->kind, "maxpool");
    LayerSpec s;
    spec_init(&s, k->kind, 0, k->kh, k->kw, k->stride, 0);
    const int n = 2, C = k->c, H = k->h, W = k->w, KH = k->kh, KW = k->kw;
    const int SH = k->stride ? k->stride : KH, SW = k->stride ? k->stride : KW;
    TestLayer t;
    tl_make(&t, &s, (Shape){C, H, W}, n, 3);
    const int OH = (H - KH) / SH + 1, OW = (W - KW) / SW + 1;
    ck_assert_int_eq(t.l.out.c, C);
    ck_assert_int_eq(t.l.out.h, OH);
    ck_assert_int_eq(t.l.out.w, OW);
    ck_assert_uint_eq(t.l.nw + t.l.nb, 0);
    float *x = random_floats(t.nx, 5 + (unsigned)_i), *y = malloc(t.ny * sizeof *y);
    t.l.ops->forward(&t.l, x, y, n, MODE_EVAL, 0);
    for (int pc = 0; pc < n * C; pc++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                double ref = is_max ? -INFINITY : 0;
                for (int i = 0; i < KH; i++)
                    for (int j = 0; j < KW; j++) {
                        double v = x[(pc * H + oy * SH + i) * W + ox * SW + j];
                        ref = is_max ? fmax(ref, v) : ref + v / (KH * KW);
                    }
                double got = y[(pc * OH + oy) * OW + ox];
                if (!(fabs(got - ref) <= (is_max ? 0 : 1e-6)))
                    ck_abort_msg("case %d: y = %.9g, want %.9g", _i, got, ref);
            }
    free(x), free(y);
    tl_free(&t);
}
END_TEST

/* Ties go to the first maximum in row-major order; overlapping windows add. */
START_TEST(test_maxpool_ties)
{
    LayerSpec s;
    spec_init(&s, "maxpool", 0, 2, 2, 1, 0);
    TestLayer t;
    tl_make(&t, &s, (Shape){1, 2, 3}, 1, 1);
    /* windows [1 3 | 0 3] and [3 2 | 3 1]: first max at (0,1) for both */
    const float x[6] = {1, 3, 2, 0, 3, 1}, dy[2] = {10, 100};
    float y[2], dx[6];
    t.l.ops->forward(&t.l, x, y, 1, MODE_TRAIN, 0);
    ck_assert_float_eq(y[0], 3);
    ck_assert_float_eq(y[1], 3);
    t.l.ops->backward(&t.l, x, y, dy, dx, 1);
    const float want[6] = {0, 110, 0, 0, 0, 0};
    for (int i = 0; i < 6; i++) ck_assert_msg(dx[i] == want[i], "dx[%d] = %g, want %g", i, dx[i], want[i]);
    tl_free(&t);

    /* the 2x2 stride-2 path: ties, a NaN wins, an odd last row and column */
    spec_init(&s, "maxpool", 0, 2, 2, 0, 0);
    tl_make(&t, &s, (Shape){1, 3, 5}, 1, 1);
    ck_assert_int_eq(t.l.out.h, 1);
    ck_assert_int_eq(t.l.out.w, 2);
    const float x2[15] = {5, 2, 1, NAN, 9, 5, 5, 2, 2, 9, 9, 9, 9, 9, 9}, dy2[2] = {10, 100};
    float dx2[15];
    t.l.ops->forward(&t.l, x2, y, 1, MODE_TRAIN, 0);
    ck_assert_float_eq(y[0], 5);
    ck_assert(isnan(y[1]));
    memset(dx2, 0x7f, sizeof dx2);
    t.l.ops->backward(&t.l, x2, y, dy2, dx2, 1);
    const float want2[15] = {10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 15; i++) ck_assert_msg(dx2[i] == want2[i], "dx2[%d] = %g, want %g", i, dx2[i], want2[i]);
    tl_free(&t);
}
END_TEST

/* A batch that spans several chunks of samples (the last one partial) gives
 * what the samples give one at a time: y and dx per sample, dw and db summed. */
START_TEST(test_conv_chunks)
{
    LayerSpec s;
    spec_init(&s, "conv", 32, 3, 3, 1, 1);
    const int n = 21, m = CONV_CHUNK;
    ck_assert_msg(m < n && n % m != 0, "chunk of %d samples", m);
    TestLayer all, one;
    tl_make(&all, &s, (Shape){1, 28, 28}, n, 21);
    tl_make(&one, &s, (Shape){1, 28, 28}, 1, 21);
    const size_t nx1 = 784, ny1 = 32 * 784;
    float *x = random_floats(all.nx, 22), *dy = random_floats(all.ny, 23);
    float *y = malloc(all.ny * sizeof *y), *dx = malloc(all.nx * sizeof *dx);
    float *y1 = malloc(ny1 * sizeof *y1), *dx1 = malloc(nx1 * sizeof *dx1);
    all.l.ops->forward(&all.l, x, y, n, MODE_TRAIN, 0);
    all.l.ops->backward(&all.l, x, y, dy, dx, n);
    double ey = 0, edx = 0, edw = 0;
    for (int i = 0; i < n; i++) {
        one.l.ops->forward(&one.l, x + i * nx1, y1, 1, MODE_TRAIN, 0);
        one.l.ops->backward(&one.l, x + i * nx1, y1, dy + i * ny1, dx1, 1);
        for (size_t k = 0; k < ny1; k++) ey = fmax(ey, fabs(y1[k] - y[i * ny1 + k]));
        for (size_t k = 0; k < nx1; k++) edx = fmax(edx, fabs(dx1[k] - dx[i * nx1 + k]));
    }
    for (size_t k = 0; k < all.l.nw; k++) edw = fmax(edw, fabs(one.l.dw[k] - all.l.dw[k]));
    for (size_t k = 0; k < all.l.nb; k++) edw = fmax(edw, fabs(one.l.db[k] - all.l.db[k]));
    ck_assert_msg(ey <= 1e-6 && edx <= 1e-5 && edw <= 1e-3, "max differences: y %g, dx %g, dw/db %g", ey, edx, edw);
    free(x), free(dy), free(y), free(dx), free(y1), free(dx1);
    tl_free(&all);
    tl_free(&one);
}
END_TEST

/* A fused ReLU (fuse_relu, set by net_build when relu follows conv) gives
 * exactly conv then relu: y = max(conv, 0), and backward equals the plain
 * layer's backward on dy * [y > 0]. With fuse_pool, backward takes the
 * gradient after a 2x2 maxpool of that and equals maxpool's backward, the
 * mask and the plain backward in turn, and forward writes the pool's output. Cases: direct path (stride 1) and
 * im2col path (stride 2), each unpooled and pooled, odd sizes (floor mode). */
START_TEST(test_conv_fused_relu)
{
    /* {stride, pooled, size, channels}: 29 and 36 give rows of 14 and 18
     * windows; one input channel (9 taps) makes the direct path recompute y
     * in backward instead of storing it */
    static const int cases[7][4] = {{1, 0, 9, 5},  {2, 0, 9, 5},  {1, 1, 9, 5}, {2, 1, 9, 5},
                                    {1, 1, 29, 5}, {1, 1, 36, 5}, {1, 1, 28, 1}};
    const int stride = cases[_i][0], pooled = cases[_i][1], hw = cases[_i][2], ch = cases[_i][3], n = 11;
    LayerSpec s, ps;
    spec_init(&s, "conv", 10, 3, 3, stride, 1);
    TestLayer plain, fused, pool;
    tl_make(&plain, &s, (Shape){ch, hw, hw}, n, 31);
    tl_make(&fused, &s, (Shape){ch, hw, hw}, n, 31);
    spec_init(&ps, "maxpool", 0, 2, 2, 0, 0);
    tl_make(&pool, &ps, plain.l.out, n, 1);
    ck_assert_int_eq(pool.l.out.h, plain.l.out.h / 2);
    const size_t ny = plain.ny, ndy = pooled ? pool.ny : ny;
    float *x = random_floats(plain.nx, 32), *dy = random_floats(ndy, 33);
    float *y = malloc(ny * sizeof *y), *yf = malloc(ny * sizeof *yf), *r = malloc(ny * sizeof *r);
    float *dr = malloc(ny * sizeof *dr), *dm = malloc(ny * sizeof *dm), *p = malloc(pool.ny * sizeof *p);
    float *pf = malloc(pool.ny * sizeof *pf);
    float *dx = malloc(plain.nx * sizeof *dx), *dxf = malloc(plain.nx * sizeof *dxf);
    fused.l.fuse_relu = 1;
    fused.l.fuse_pool = pooled;
    fused.l.pool_out = pooled ? pf : NULL;
    const ConvGeom g = {ch, hw, hw, 3, 3, stride, stride, 1, 1, plain.l.out.h, plain.l.out.w};
    const int stored = !pooled || !conv_recomputes(&g);
    ck_assert_int_eq(!stored, _i == 6); /* the last case, and only it, recomputes */
    plain.l.ops->forward(&plain.l, x, y, n, MODE_TRAIN, 0);
    fused.l.ops->forward(&fused.l, x, yf, n, MODE_TRAIN, 0);
    size_t neg = 0;
    for (size_t i = 0; i < ny; i++) {
        neg += y[i] < 0;
        r[i] = y[i] > 0 ? y[i] : 0.0f;
        if (stored) ck_assert_msg(yf[i] == r[i], "y[%zu] = %g, conv gives %g", i, yf[i], y[i]);
    }
    ck_assert_uint_gt(neg, ny / 4); /* the mask matters */
    if (pooled) {
        pool.l.ops->forward(&pool.l, r, p, n, MODE_TRAIN, 0);
        ck_assert_mem_eq(p, pf, pool.ny * sizeof *p);
        pool.l.ops->backward(&pool.l, r, p, dy, dr, n);
    } else {
        memcpy(dr, dy, ny * sizeof *dr);
    }
    for (size_t i = 0; i < ny; i++) dm[i] = y[i] > 0 ? dr[i] : 0.0f;
    plain.l.ops->backward(&plain.l, x, y, dm, dx, n);
    fused.l.ops->backward(&fused.l, x, yf, dy, dxf, n);
    ck_assert_mem_eq(dx, dxf, plain.nx * sizeof *dx);
    ck_assert_mem_eq(plain.l.dw, fused.l.dw, plain.l.nw * sizeof(float));
    ck_assert_mem_eq(plain.l.db, fused.l.db, plain.l.nb * sizeof(float));
    free(x), free(dy), free(y), free(yf), free(r), free(dr), free(dm), free(p), free(pf), free(dx), free(dxf);
    tl_free(&plain);
    tl_free(&fused);
    tl_free(&pool);
}
END_TEST

/* ---- 1 thread vs 2 threads ---------------------------------------------- */

#ifdef _OPENMP
typedef struct {
    const char *kind;
    int c, h, w, oc, kh, kw, stride, pad, n;
} ThrCase;

/* Sizes where every kernel touches more than the 16384 floats from which it
 * goes parallel and the convolutions span several chunks of samples. */
static const ThrCase thr_cases[] = {
    {"conv", 4, 20, 18, 16, 3, 3, 1, 1, 10},    {"conv", 3, 41, 39, 12, 3, 5, 2, 0, 9},
    {"conv", 32, 14, 14, 64, 3, 3, 1, 1, 10},   {"conv", 1, 28, 28, 32, 3, 3, 1, 1, 20},
    {"maxpool", 8, 30, 29, 0, 3, 3, 2, 0, 6},   {"maxpool", 8, 31, 29, 0, 2, 2, 2, 0, 6},
    {"avgpool", 8, 30, 29, 0, 2, 2, 0, 0, 6},
};
enum { N_THR = sizeof thr_cases / sizeof thr_cases[0] };

/* y, dx, dw, db of one forward+backward with the given thread count. */
static void run_with_threads(const ThrCase *k, int threads, float **out, size_t *len)
{
    LayerSpec s;
    spec_init(&s, k->kind, k->oc, k->kh, k->kw, k->stride, k->pad);
    TestLayer t;
    tl_make(&t, &s, (Shape){k->c, k->h, k->w}, k->n, 11);
    if (!strcmp(k->kind, "conv")) ck_assert_int_lt(CONV_CHUNK, k->n); /* several chunks of samples */
    float *x = random_floats(t.nx, 12), *dy = random_floats(t.ny, 13);
    size_t total = t.ny + t.nx + t.l.nw + t.l.nb;
    float *o = calloc(total + 1, sizeof *o);
    ck_assert_ptr_nonnull(o);
    omp_set_num_threads(threads);
    t.l.ops->forward(&t.l, x, o, k->n, MODE_TRAIN, 0);
    /* accumulate twice: dw, db must be += */
    t.l.ops->backward(&t.l, x, o, dy, o + t.ny, k->n);
    t.l.ops->backward(&t.l, x, o, dy, o + t.ny, k->n);
    memcpy(o + t.ny + t.nx, t.l.dw, t.l.nw * sizeof *o);
    memcpy(o + t.ny + t.nx + t.l.nw, t.l.db, t.l.nb * sizeof *o);
    free(x), free(dy);
    tl_free(&t);
    *out = o;
    *len = total;
}

START_TEST(test_threads_bit_identical)
{
    const ThrCase *k = &thr_cases[_i];
    float *a, *b;
    size_t na, nb;
    run_with_threads(k, 1, &a, &na);
    run_with_threads(k, 2, &b, &nb);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            ck_abort_msg("case %d (%s): element %zu: %.9g (1 thread) vs %.9g", _i, k->kind, i, a[i], b[i]);
    free(a), free(b);
}
END_TEST
#endif

/* ---- model files -------------------------------------------------------- */

/* net_build folds relu (and a 2x2 maxpool) into the conv before them, and
 * relu into a dense or batchnorm before it; the network computes
 * exactly what the unfused layers do. The
 * reference is the same network with "dropout 0" (an exact copy) after each
 * conv, which keeps the layers apart; the parameters are the same. */
START_TEST(test_net_fusion_exact)
{
    static const char *fused_txt = "input 3x9x9\nconv 6 3 pad=1\nrelu\nmaxpool 2\nconv 4 3 pad=1\nrelu\n"
                                   "maxpool 2 stride=1\nflatten\ndense 5\nbatchnorm\nrelu\ndense 7\nrelu\n"
                                   "dense 5\n";
    static const char *plain_txt = "input 3x9x9\nconv 6 3 pad=1\ndropout 0\nrelu\nmaxpool 2\nconv 4 3 pad=1\n"
                                   "dropout 0\nrelu\nmaxpool 2 stride=1\nflatten\ndense 5\nbatchnorm\n"
                                   "dropout 0\nrelu\ndense 7\ndropout 0\nrelu\ndense 5\n";
    const int n = 10;
    NetSpec ca, cb;
    Err e;
    Net *a, *b;
    ck_assert_msg(cfg_parse_text("fused", fused_txt, &ca, &e) == ST_OK && net_build(&ca, n, &a, &e) == ST_OK, "%s",
                  e.msg);
    ck_assert_msg(cfg_parse_text("plain", plain_txt, &cb, &e) == ST_OK && net_build(&cb, n, &b, &e) == ST_OK, "%s",
                  e.msg);
    ck_assert(a->layers[0].fuse_relu && a->layers[0].fuse_pool);   /* 2x2 stride 2 */
    ck_assert(a->layers[3].fuse_relu && !a->layers[3].fuse_pool);  /* stride 1: a plain maxpool */
    ck_assert(a->layers[8].fuse_relu && a->layers[10].fuse_relu); /* batchnorm + relu, dense + relu */
    ck_assert(!a->layers[7].fuse_relu && !a->layers[12].fuse_relu); /* dense before batchnorm, the last */
    ck_assert(!b->layers[0].fuse_relu && !b->layers[4].fuse_relu && !b->layers[10].fuse_relu);
    ck_assert_uint_eq(a->nparams, b->nparams);
    net_init(a, 5);
    memcpy(b->params, a->params, a->nparams * sizeof(float));
    float *x = random_floats((size_t)n * 243, 41), *dz = random_floats((size_t)n * 5, 42);
    const float *za = net_forward(a, x, n, MODE_TRAIN, 9), *zb = net_forward(b, x, n, MODE_TRAIN, 9);
    ck_assert_mem_eq(za, zb, (size_t)n * 5 * sizeof(float));
    net_zero_grad(a);
    net_zero_grad(b);
    net_backward(a, x, dz, n);
    net_backward(b, x, dz, n);
    size_t nz = 0;
    for (size_t i = 0; i < a->nparams; i++) nz += a->grads[i] != 0.0f;
    ck_assert_uint_gt(nz, a->nparams / 2);
    ck_assert_mem_eq(a->grads, b->grads, a->nparams * sizeof(float));
    free(x), free(dz);
    net_free(a);
    net_free(b);
}
END_TEST

/* The strong preset builds: its parameter count is torch's for the same
 * Sequential (320 + 64 + 9248 + 64 + 18496 + 128 + 36928 + 128 + 803072 + 512
 * + 2570 trainable, plus 2 * 544 + 5 running statistics), and each
 * batchnorm carries the relu after it. */
START_TEST(test_cnn_bn_cfg_builds)
{
    NetSpec cfg;
    Err e;
    ck_assert_msg(cfg_parse_file("models/cnn-bn.cfg", &cfg, &e) == ST_OK, "%s", e.msg);
    Net *net;
    ck_assert_msg(net_build(&cfg, 4, &net, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(net->nclasses, 10);
    ck_assert_uint_eq(net->nparams - net->nbuffers, 871530);
    ck_assert_uint_eq(net->nbuffers, 2 * (32 + 32 + 64 + 64 + 256) + 5);
    int bn = 0;
    for (int i = 0; i < net->nlayers; i++)
        if (!strcmp(net->layers[i].spec.kind, "batchnorm")) {
            bn++;
            ck_assert(net->layers[i].fuse_relu);
        }
    ck_assert_int_eq(bn, 5);
    net_free(net);
}
END_TEST

START_TEST(test_cnn_cfg_builds)
{
    NetSpec cfg;
    Err e;
    ck_assert_msg(cfg_parse_file("models/cnn.cfg", &cfg, &e) == ST_OK, "%s", e.msg);
    Net *net;
    ck_assert_msg(net_build(&cfg, 4, &net, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(net->nclasses, 10);
    ck_assert_int_eq(net->nlayers, 11);
    const Shape want[] = {{32, 28, 28}, {32, 28, 28}, {32, 14, 14}, {64, 14, 14}, {64, 14, 14}, {64, 7, 7},
                          {3136, 1, 1}, {128, 1, 1},  {128, 1, 1},  {128, 1, 1},  {10, 1, 1}};
    for (int i = 0; i < 11; i++) {
        Shape s = net->layers[i].out;
        ck_assert_msg(s.c == want[i].c && s.h == want[i].h && s.w == want[i].w, "layer %d: %dx%dx%d", i, s.c, s.h,
                      s.w);
    }
    /* as torch: 320 + 18496 + 401536 + 1290 */
    ck_assert_uint_eq(net->nparams, 421642);
    ck_assert_int_eq(net->ntensors, 8);
    ck_assert_str_eq(net->tensors[0].name, "0.weight");
    ck_assert_int_eq(net->tensors[0].ndim, 4);
    ck_assert_int_eq(net->tensors[2].dims[0], 64);
    ck_assert_int_eq(net->tensors[2].dims[1], 32);
    ck_assert_int_eq(net->tensors[2].dims[2], 3);
    ck_assert_int_eq(net->tensors[2].dims[3], 3);
    ck_assert_str_eq(net->tensors[4].name, "7.weight");
    /* init bounds: 1/sqrt(fan_in) */
    net_init(net, 1);
    for (size_t i = 0; i < 320; i++) ck_assert(fabsf(net->params[i]) <= 1.0f / 3.0f);
    float big = 0;
    for (size_t i = 320; i < 320 + 18496; i++) big = fmaxf(big, fabsf(net->params[i]));
    ck_assert(big <= 1.0f / sqrtf(288.0f) && big > 0.9f / sqrtf(288.0f));
    net_free(net);
}
END_TEST

typedef struct {
    const char *text;
    int line;
    const char *word;   /* a word the message must contain */
} BadCfg;

static const BadCfg bad_cfgs[] = {
    {"input 1x3x3\nconv 4 5\nflatten\ndense 10\n", 2, "does not fit"},
    {"input 1x28x28\n# comment\nconv 8 3 pad=1\nconv 8 9 stride=2\nconv 8 13 pad=1\nflatten\ndense 10\n", 5,
     "12x12"},
    {"input 2x4x9\nconv 4 3x10 pad=0\nflatten\ndense 10\n", 2, "3x10"},
    {"input 1x5x5\nmaxpool 3\nmaxpool 2\nflatten\ndense 10\n", 3, "window"},
    {"input 1x6x6\navgpool 2x7 stride=1\nflatten\ndense 10\n", 2, "window"},
    {"input 1x8x8\nconv 4 3\nrelu\n\ndense 10\n", 5, "flatten"},
};
enum { N_BAD = sizeof bad_cfgs / sizeof bad_cfgs[0] };

START_TEST(test_shape_errors)
{
    const BadCfg *b = &bad_cfgs[_i];
    NetSpec cfg;
    Err e;
    ck_assert_msg(cfg_parse_text("bad.cfg", b->text, &cfg, &e) == ST_OK, "%s", e.msg);
    Net *net = NULL;
    Status st = net_build(&cfg, 2, &net, &e);
    ck_assert_int_eq(st, ST_ERR_SHAPE);
    ck_assert_ptr_null(net);
    char where[32];
    snprintf(where, sizeof where, "bad.cfg:%d:", b->line);
    ck_assert_msg(strstr(e.msg, where) != NULL, "case %d: '%s' lacks '%s'", _i, e.msg, where);
    ck_assert_msg(strstr(e.msg, b->word) != NULL, "case %d: '%s' lacks '%s'", _i, e.msg, b->word);
}
END_TEST

/* A kernel that exactly fits the padded input gives a 1x1 output; defaults. */
START_TEST(test_shapes_ok)
{
    NetSpec cfg;
    Err e;
    const char *text = "input 3x5x7\nconv 6 7x9 pad=1\nconv 2 1\navgpool 1\nflatten\ndense 3\n";
    ck_assert_msg(cfg_parse_text("ok.cfg", text, &cfg, &e) == ST_OK, "%s", e.msg);
    Net *net;
    ck_assert_msg(net_build(&cfg, 2, &net, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(net->layers[0].out.c, 6);
    ck_assert_int_eq(net->layers[0].out.h, 1);
    ck_assert_int_eq(net->layers[0].out.w, 1);
    ck_assert_int_eq(net->layers[3].in.c, 2);
    net_free(net);
    text = "input 1x9x11\nmaxpool 2\navgpool 2x3 stride=2\nflatten\ndense 3\n";
    ck_assert_msg(cfg_parse_text("ok.cfg", text, &cfg, &e) == ST_OK, "%s", e.msg);
    ck_assert_msg(net_build(&cfg, 2, &net, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(net->layers[0].out.h, 4); /* floor(9/2) */
    ck_assert_int_eq(net->layers[0].out.w, 5);
    ck_assert_int_eq(net->layers[1].out.h, 2); /* (4-2)/2+1 */
    ck_assert_int_eq(net->layers[1].out.w, 2); /* (5-3)/2+1 */
    net_free(net);
}
END_TEST

Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("gradcheck");
    tcase_add_loop_test(tc, test_gradcheck, 0, N_GC);
    suite_add_tcase(s, tc);

    tc = tcase_create("forward");
    tcase_add_loop_test(tc, test_conv_forward_naive, 0, N_GC_CONV);
    tcase_add_loop_test(tc, test_pool_forward_naive, N_GC_CONV, N_GC);
    tcase_add_test(tc, test_maxpool_ties);
    tcase_add_test(tc, test_conv_chunks);
    tcase_add_loop_test(tc, test_conv_fused_relu, 0, 7);
    suite_add_tcase(s, tc);

#ifdef _OPENMP
    tc = tcase_create("threads");
    tcase_add_loop_test(tc, test_threads_bit_identical, 0, N_THR);
    suite_add_tcase(s, tc);
#endif

    tc = tcase_create("model");
    tcase_add_test(tc, test_cnn_cfg_builds);
    tcase_add_test(tc, test_cnn_bn_cfg_builds);
    tcase_add_test(tc, test_net_fusion_exact);
    tcase_add_loop_test(tc, test_shape_errors, 0, N_BAD);
    tcase_add_test(tc, test_shapes_ok);
    suite_add_tcase(s, tc);
    return s;
}
