/* test_convexact.c - Check suite: the stride-1 convolution kernels
 * (src/kernels/conv_direct.c) compute, bit for bit, the fp32 chains they
 * document.
 *
 * The references here are written with fmaf (STEP) in the documented order: each
 * output y[o][p] is 0, then one fused multiply-add per tap (c, i, j) in
 * row-major order (padding taps included, as zeros), then + bias, then
 * max(., 0) when the relu is fused; each dW element is one chain per chunk
 * of CONV_CHUNK samples (samples in order, positions row-major), the chunks'
 * parts added in chunk order per micro-batch (conv_fold_parts); each db
 * element the same per chunk, of per-sample plane sums in sixteen double
 * lanes. The tuned
 * paths (the narrow path of one input channel, dW tiles of up to 12 taps)
 * must match them exactly, and so must every other geometry, which takes
 * the general direct path. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv.h"

/* One step of a chain: the AVX-512 kernels fuse it; the portable C loops
 * (no AVX-512) multiply and add, as C11 without contraction does. */
#ifdef __AVX512F__
#define STEP(a, b, acc) fmaf((a), (b), (acc))
#else
#define STEP(a, b, acc) ((acc) + (a) * (b))
#endif

/* A geometry: channels, size, window, padding, outputs, samples. */
typedef struct {
    int c, h, w, kh, kw, ph, pw, oc, n;
} ExCase;

static const ExCase ex_cases[] = {
    {1, 28, 28, 3, 3, 1, 1, 32, 5}, /* the first layer of the models       */
    {1, 7, 9, 3, 3, 1, 1, 5, 3},    /* odd outputs, rows shorter than 16  */
    {1, 1, 1, 3, 3, 1, 1, 3, 2},    /* one pixel                           */
    {1, 5, 17, 1, 3, 0, 1, 4, 2},   /* 1x3                                 */
    {1, 9, 6, 3, 1, 1, 0, 6, 2},    /* 3x1                                 */
    {1, 6, 11, 1, 1, 0, 0, 7, 2},   /* 1x1                                 */
    {1, 4, 21, 1, 9, 0, 4, 2, 2},   /* 1x9                                 */
    {1, 11, 5, 5, 1, 2, 0, 3, 2},   /* 5x1                                 */
    {1, 70, 70, 3, 3, 1, 1, 4, 1},  /* more positions than the narrow path takes */
    {1, 12, 12, 3, 3, 0, 0, 8, 2},  /* no padding: the general path         */
    {1, 10, 10, 5, 5, 2, 2, 6, 2},  /* 25 taps: the general path            */
    {3, 10, 10, 3, 3, 1, 1, 40, 2}, /* 27 taps: dW tiles of 12, 12, 3; two panels of channels */
    {32, 14, 14, 3, 3, 1, 1, 64, 2},/* the second layer                    */
};
enum { N_EX = sizeof ex_cases / sizeof ex_cases[0] };

static ConvGeom geom_of(const ExCase *k)
{
    const ConvGeom g = {k->c,  k->h,  k->w,  k->kh, k->kw, 1, 1, k->ph, k->pw, k->h + 2 * k->ph - k->kh + 1,
                        k->w + 2 * k->pw - k->kw + 1};
    return g;
}

/* xorshift32 in [-1, 1) */
static float *random_floats(size_t n, uint32_t s)
{
    float *p = malloc((n + 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = (float)((double)(s >> 8) / (double)(1u << 23) - 1.0);
    }
    return p;
}

/* Input (c, oy - ph + i, ox - pw + j) of sample xs, or 0 in the padding. */
static float tap(const ConvGeom *g, const float *xs, int c, int i, int j, int oy, int ox)
{
    const int y = oy - g->ph + i, x = ox - g->pw + j;
    if (y < 0 || y >= g->h || x < 0 || x >= g->w) return 0.0f;
    return xs[((size_t)c * (size_t)g->h + (size_t)y) * (size_t)g->w + (size_t)x];
}

/* y[o][oy][ox] of sample xs, as the kernels document it. */
static float ref_y(const ConvGeom *g, const float *xs, const float *w, const float *b, int relu, int o, int oy, int ox)
{
    float acc = 0.0f;
    size_t k = (size_t)o * (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) acc = STEP(w[k++], tap(g, xs, c, i, j, oy, ox), acc);
    acc = acc + b[o];
    return relu ? (acc > 0.0f ? acc : 0.0f) : acc;
}

static void check_forward(const ExCase *k, int relu)
{
    const ConvGeom g = geom_of(k);
    const size_t img = (size_t)k->c * k->h * k->w, P = (size_t)g.oh * g.ow, K = (size_t)k->c * k->kh * k->kw;
    float *x = random_floats(img * k->n, 1), *w = random_floats(K * k->oc, 2), *b = random_floats(k->oc, 3);
    float *y = random_floats(P * k->oc * k->n, 4);
    float *ws = calloc(conv_ws_per_sample(&g, k->oc) * k->n + 1, sizeof *ws);
    ck_assert_ptr_nonnull(ws);
    const ConvFuse f = {relu, NULL};
    conv_forward(MATH_FP32, &g, k->oc, x, w, b, k->n, &f, y, ws);
    for (int s = 0; s < k->n; s++)
        for (int o = 0; o < k->oc; o++)
            for (int oy = 0; oy < g.oh; oy++)
                for (int ox = 0; ox < g.ow; ox++) {
                    const float want = ref_y(&g, x + s * img, w, b, relu, o, oy, ox);
                    const float got = y[((size_t)s * k->oc + o) * P + (size_t)oy * g.ow + ox];
                    if (memcmp(&want, &got, sizeof want))
                        ck_abort_msg("c%d %dx%d k%dx%d: y[%d][%d][%d][%d] = %.9g, the chain gives %.9g", k->c, k->h,
                                     k->w, k->kh, k->kw, s, o, oy, ox, got, want);
                }
    free(x), free(w), free(b), free(y), free(ws);
}

START_TEST(test_forward_exact)
{
    check_forward(&ex_cases[_i], 0);
    check_forward(&ex_cases[_i], 1);
}
END_TEST

/* dW += the chains of the chunks, folded per micro-batch of mb (mb >= n:
 * one), as conv_fold_parts adds them. dw0 is dw before the call. */
static float ref_dw(const ConvGeom *g, int oc, int n, int mb, const float *x, const float *dy, float dw0, int o,
                    int c, int i, int j, int jmb)
{
    const size_t img = (size_t)g->c * g->h * g->w, P = (size_t)g->oh * g->ow;
    const ConvChunks ck = conv_chunks(n, mb);
    float total = ck.nmb == 1 ? dw0 : 0.0f;
    for (int ch = 0; ch < ck.nch; ch++) {
        if (ch / ck.per_mb != jmb) continue;
        int s0, s1;
        conv_chunk_samples(&ck, ch, &s0, &s1);
        float part = 0.0f;
        for (int s = s0; s < s1; s++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++)
                    part = STEP(tap(g, x + s * img, c, i, j, oy, ox),
                                dy[((size_t)s * oc + o) * P + (size_t)oy * g->ow + ox], part);
        total += part;
    }
    return ck.nmb == 1 ? total : dw0 + total;
}

/* One plane's sum for db: sixteen double lanes (element q to lane q % 16),
 * added in q order, then pairwise (lane l += lane l + w, w = 8, 4, 2, 1). */
static float ref_plane_sum(const float *v, size_t len)
{
    double acc[16] = {0};
    for (size_t q = 0; q < len; q++) acc[q % 16] += (double)v[q];
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return (float)acc[0];
}

/* db[o] += the chunks' parts (each the samples' plane sums added in order). */
static float ref_db(const ConvGeom *g, int oc, int n, int mb, const float *dy, float db0, int o, int jmb)
{
    const size_t P = (size_t)g->oh * g->ow;
    const ConvChunks ck = conv_chunks(n, mb);
    float total = ck.nmb == 1 ? db0 : 0.0f;
    for (int ch = 0; ch < ck.nch; ch++) {
        if (ch / ck.per_mb != jmb) continue;
        int s0, s1;
        conv_chunk_samples(&ck, ch, &s0, &s1);
        float part = 0.0f;
        for (int s = s0; s < s1; s++) {
            const float sum = ref_plane_sum(dy + ((size_t)s * oc + o) * P, P);
            part = s == s0 ? sum : part + sum;
        }
        total += part;
    }
    return ck.nmb == 1 ? total : db0 + total;
}

static void check_dw(const ExCase *k, int n, int mb)
{
    const ConvGeom g = geom_of(k);
    const size_t img = (size_t)k->c * k->h * k->w, P = (size_t)g.oh * g.ow, K = (size_t)k->c * k->kh * k->kw;
    const ConvChunks ck = conv_chunks(n, mb);
    const size_t nw = K * k->oc, gstride = nw + 3;
    float *x = random_floats(img * n, 5), *w = random_floats(nw, 6), *b = random_floats(k->oc, 7);
    float *dy = random_floats(P * k->oc * n, 8);
    float *dw = random_floats(gstride * ck.nmb, 9), *dw0 = malloc(gstride * ck.nmb * sizeof *dw0);
    float *db = random_floats(gstride * ck.nmb, 10), *db0 = malloc(gstride * ck.nmb * sizeof *db0);
    float *ws = calloc(conv_ws_per_sample(&g, k->oc) * n + 1, sizeof *ws);
    ck_assert_ptr_nonnull(ws);
    ck_assert_ptr_nonnull(dw0);
    ck_assert_ptr_nonnull(db0);
    memcpy(dw0, dw, gstride * ck.nmb * sizeof *dw0);
    memcpy(db0, db, gstride * ck.nmb * sizeof *db0);
    conv_backward(MATH_FP32, &g, k->oc, x, w, b, NULL, NULL, dy, n, NULL, dw, db, mb, gstride, ws);
    for (int jm = 0; jm < ck.nmb; jm++)
        for (int o = 0; o < k->oc; o++)
            for (int c = 0; c < k->c; c++)
                for (int i = 0; i < k->kh; i++)
                    for (int j = 0; j < k->kw; j++) {
                        const size_t e = (size_t)jm * gstride + (((size_t)o * k->c + c) * k->kh + i) * k->kw + j;
                        const float want = ref_dw(&g, k->oc, n, mb, x, dy, dw0[e], o, c, i, j, jm);
                        if (memcmp(&want, &dw[e], sizeof want))
                            ck_abort_msg("c%d %dx%d k%dx%d n%d mb%d: dw[%d][%d][%d][%d][%d] = %.9g, the chains give "
                                         "%.9g",
                                         k->c, k->h, k->w, k->kh, k->kw, n, mb, jm, o, c, i, j, dw[e], want);
                    }
    for (int jm = 0; jm < ck.nmb; jm++)
        for (int o = 0; o < k->oc; o++) {
            const size_t e = (size_t)jm * gstride + (size_t)o;
            const float want = ref_db(&g, k->oc, n, mb, dy, db0[e], o, jm);
            if (memcmp(&want, &db[e], sizeof want))
                ck_abort_msg("c%d %dx%d n%d mb%d: db[%d][%d] = %.9g, the sums give %.9g", k->c, k->h, k->w, n, mb, jm, o,
                             db[e], want);
        }
    free(x), free(w), free(b), free(dy), free(dw), free(dw0), free(db), free(db0), free(ws);
}

START_TEST(test_dw_db_exact)
{
    const ExCase *k = &ex_cases[_i];
    check_dw(k, k->n, 0);
    if (k->c * k->h * k->w <= 2000) {
        check_dw(k, 19, 0);  /* three chunks */
        check_dw(k, 19, 10); /* two micro-batches: chunks of 8, 2 | 8, 1 */
    }
}
END_TEST

Suite *convexact_suite(void)
{
    Suite *s = suite_create("convexact");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_forward_exact, 0, N_EX);
    tcase_add_loop_test(tc, test_dw_db_exact, 0, N_EX);
    suite_add_tcase(s, tc);
    return s;
}
