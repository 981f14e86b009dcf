/* test_layers.c - dense, relu, flatten, dropout: gradients against central
 * finite differences, dropout statistics, and initialization bounds. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

extern const LayerOps relu_ops, dropout_ops, dense_ops; /* taken apart below; the program finds them in nn/layer.c's table */

static const struct {
    const char *kind;
    int units;
    float p;
    Shape in;
    int n;
} CASES[] = {
    {"dense", 7, 0, {13, 1, 1}, 3},
    {"dense", 1, 0, {1, 1, 1}, 2},
    {"dense", 33, 0, {17, 1, 1}, 5},
    {"relu", 0, 0, {4, 3, 5}, 2},
    {"flatten", 0, 0, {3, 4, 5}, 2},
    {"dropout", 0, 0.3f, {50, 1, 1}, 3},
    {"dropout", 0, 0.5f, {2, 3, 3}, 2},
    {"dropout", 0, 0.0f, {9, 1, 1}, 2},
};

START_TEST(test_gradcheck)
{
    LayerSpec spec = {0};
    snprintf(spec.kind, sizeof spec.kind, "%s", CASES[_i].kind);
    spec.units = CASES[_i].units;
    spec.p = CASES[_i].p;
    GcResult r;
    ck_assert(gradcheck_layer(&spec, CASES[_i].in, CASES[_i].n, 42 + (unsigned)_i, GC_X_AWAY_FROM_ZERO, 1e-2, 1e-3,
                              1e-2, &r));
    ck_assert_msg(r.max_err <= 1.0, "%s case %d: %s[%zu] analytic %g numeric %g", CASES[_i].kind, _i, r.where,
                  r.index, r.analytic, r.numeric);
    ck_assert_int_gt((int)r.checked, 0);
}
END_TEST

/* The checker itself must catch a wrong gradient: a fake relu whose backward
 * forgets the mask fails it. */
static void bad_relu_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)x, (void)y;
    for (size_t i = 0; i < (size_t)n * shape_numel(l->in); i++) dx[i] = dy[i];
}

START_TEST(test_gradcheck_catches_a_bug)
{
    LayerOps bad = relu_ops;
    bad.backward = bad_relu_backward;
    LayerSpec spec = {.kind = "relu"};
    GcResult r;
    ck_assert(gradcheck_layer_ops(&bad, &spec, (Shape){6, 2, 1}, 2, 9, GC_X_AWAY_FROM_ZERO, 1e-2, 1e-3, 1e-2, &r));
    ck_assert_msg(r.max_err > 1.0, "a relu without its mask passed the gradient check");
    ck_assert(gradcheck_layer_ops(&relu_ops, &spec, (Shape){6, 2, 1}, 2, 9, GC_X_AWAY_FROM_ZERO, 1e-2, 1e-3, 1e-2,
                                  &r));
    ck_assert(r.max_err <= 1.0);
}
END_TEST

START_TEST(test_dropout_keeps_fraction_and_mean)
{
    const float rates[] = {0.1f, 0.3f, 0.5f, 0.8f};
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 7);
    double xmean = 0;
    for (int i = 0; i < N; i++) xmean += x[i];
    xmean /= N;
    for (int k = 0; k < 4; k++) {
        Layer l = {0};
        l.ops = &dropout_ops;
        l.spec.p = rates[k];
        l.in = (Shape){N, 1, 1};
        Err e;
        ck_assert_int_eq(l.ops->setup(&l, &e), ST_OK);
        l.ops->forward(&l, x, y, 1, MODE_TRAIN, 777 + (uint64_t)k);
        int kept = 0;
        double mean = 0;
        for (int i = 0; i < N; i++) {
            kept += y[i] != 0.0f;
            mean += y[i];
            if (y[i] != 0.0f) ck_assert_float_eq_tol(y[i], x[i] / (1.0f - rates[k]), 1e-5f);
        }
        mean /= N;
        double frac = (double)kept / N, sd = sqrt(rates[k] * (1 - rates[k]) / N);
        ck_assert_msg(fabs(frac - (1 - rates[k])) < 5 * sd, "p=%g kept %g", rates[k], frac);
        ck_assert_msg(fabs(mean - xmean) / xmean < 0.01, "p=%g mean %g vs %g", rates[k], mean, xmean);
        /* eval mode is the identity */
        l.ops->forward(&l, x, y, 1, MODE_EVAL, 5);
        ck_assert_int_eq(memcmp(x, y, N * sizeof *x), 0);
        /* a different key gives a different mask; the same key the same one */
        float *y2 = malloc(N * sizeof *y2);
        l.ops->forward(&l, x, y, 1, MODE_TRAIN, 1);
        l.ops->forward(&l, x, y2, 1, MODE_TRAIN, 1);
        ck_assert_int_eq(memcmp(y, y2, N * sizeof *y), 0);
        l.ops->forward(&l, x, y2, 1, MODE_TRAIN, 2);
        ck_assert_int_ne(memcmp(y, y2, N * sizeof *y), 0);
        free(y2);
    }
    free(x);
    free(y);
}
END_TEST

START_TEST(test_dense_init_bounds)
{
    Layer l = {0};
    l.ops = &dense_ops;
    l.spec.units = 64;
    l.in = (Shape){100, 1, 1};
    Err e;
    ck_assert_int_eq(l.ops->setup(&l, &e), ST_OK);
    ck_assert_int_eq((int)l.nw, 6400);
    ck_assert_int_eq((int)l.nb, 64);
    float *w = malloc(l.nw * sizeof *w), *b = malloc(l.nb * sizeof *b);
    l.w = w, l.b = b;
    Rng r;
    rng_seed(&r, 3);
    l.ops->init(&l, &r);
    float bound = 0.1f, maxabs = 0;
    double sum = 0;
    for (size_t i = 0; i < l.nw; i++) {
        ck_assert(fabsf(w[i]) <= bound);
        maxabs = fmaxf(maxabs, fabsf(w[i]));
        sum += w[i];
    }
    ck_assert(maxabs > 0.95f * bound);           /* uses the whole range */
    ck_assert(fabs(sum / (double)l.nw) < 0.01);  /* centred */
    for (size_t i = 0; i < l.nb; i++) ck_assert(fabsf(b[i]) <= bound);
    free(w);
    free(b);
}
END_TEST

START_TEST(test_dense_rejects_images)
{
    Layer l = {0};
    l.ops = &dense_ops;
    l.spec.units = 10;
    l.in = (Shape){1, 28, 28};
    Err e;
    ck_assert_int_eq(l.ops->setup(&l, &e), ST_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(e.msg, "flatten"));
}
END_TEST

Suite *layers_suite(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_loop_test(tc, test_gradcheck, 0, (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_test(tc, test_gradcheck_catches_a_bug);
    tcase_add_test(tc, test_dropout_keeps_fraction_and_mean);
    tcase_add_test(tc, test_dense_init_bounds);
    tcase_add_test(tc, test_dense_rejects_images);
    suite_add_tcase(s, tc);
    return s;
}
