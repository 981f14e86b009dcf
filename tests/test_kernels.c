/* test_kernels.c - Check suite for the element-wise layer kernels of
 * src/kernels/elementwise.c (relu, relu backward, dropout, bias add) and the
 * FMA peak kernel of src/kernels/peak.c.
 *
 * Each kernel is compared with a naive loop kept here, on sizes below and
 * above the size from which it goes parallel, and results must be
 * bit-identical with 1 and 2 OpenMP threads. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/elementwise.h"
#include "kernels/peak.h"
#include "util/rng.h"

static const size_t sizes[] = {1, 17, 1000, 16383, 16384, 100003, 401408};
enum { NSIZES = sizeof sizes / sizeof sizes[0] };

/* xorshift32 in [-1, 1), with exact zeros now and then (the ReLU kink). */
static float *rnd_floats(size_t n, uint32_t s)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = i % 97 == 0 ? 0.0f : (float)((double)(s >> 8) / (double)(1u << 23) - 1.0);
    }
    return p;
}

#ifdef _OPENMP
static void set_threads(int t) { omp_set_num_threads(t); }
#endif

/* The four kernels on x, dy into out (4 arrays of n, then the bias case). */
static void run_all(size_t n, const float *x, const float *dy, float *out)
{
    ew_relu(n, x, out);
    ew_relu_backward(n, x, dy, out + n);
    ew_dropout(n, x, out + 2 * n, 0x1234abcdULL, 0, 0.3f, 1.0f / 0.7f);
    memcpy(out + 3 * n, x, n * sizeof *out);
    /* (rows, cols, inner) with rows*cols*inner == n where possible */
    const size_t cols = n % 7 == 0 ? 7 : 1, inner = n >= 1000 ? (n / cols) % 5 == 0 ? 5 : 1 : 1;
    ew_add_bias(n / cols / inner, cols, inner, out + 3 * n, dy);
}

START_TEST(test_elementwise_naive)
{
    const size_t n = sizes[_i];
    float *x = rnd_floats(n, 1 + (uint32_t)_i), *dy = rnd_floats(n, 99 + (uint32_t)_i);
    float *out = malloc(4 * n * sizeof *out);
    ck_assert_ptr_nonnull(out);
    run_all(n, x, dy, out);
    const float p = 0.3f, scale = 1.0f / 0.7f;
    const size_t cols = n % 7 == 0 ? 7 : 1, inner = n >= 1000 ? (n / cols) % 5 == 0 ? 5 : 1 : 1;
    for (size_t i = 0; i < n; i++) {
        const float r = x[i] > 0.0f ? x[i] : 0.0f, dr = x[i] > 0.0f ? dy[i] : 0.0f;
        const float d = rng_hash_uniform(0x1234abcdULL, i) >= p ? x[i] * scale : 0.0f;
        const float b = x[i] + dy[(i / inner) % cols];
        ck_assert_msg(memcmp(&out[i], &r, 4) == 0, "relu[%zu] of %zu", i, n);
        ck_assert_msg(memcmp(&out[n + i], &dr, 4) == 0, "relu backward[%zu] of %zu", i, n);
        ck_assert_msg(memcmp(&out[2 * n + i], &d, 4) == 0, "dropout[%zu] of %zu", i, n);
        ck_assert_msg(memcmp(&out[3 * n + i], &b, 4) == 0, "bias[%zu] of %zu", i, n);
    }
    free(x), free(dy), free(out);
}
END_TEST

#ifdef _OPENMP
START_TEST(test_elementwise_threads)
{
    const size_t n = sizes[_i];
    float *x = rnd_floats(n, 7), *dy = rnd_floats(n, 8);
    float *a = malloc(4 * n * sizeof *a), *b = malloc(4 * n * sizeof *b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    set_threads(1);
    run_all(n, x, dy, a);
    set_threads(2);
    run_all(n, x, dy, b);
    ck_assert_msg(memcmp(a, b, 4 * n * sizeof *a) == 0, "1 vs 2 threads differ at n = %zu", n);
    free(x), free(dy), free(a), free(b);
}
END_TEST
#endif

/* The peak kernel reports 2 flops per lane per FMA: 16 FMAs per round. */
START_TEST(test_peak_counts)
{
    const double f = peak_fma(1000, 1);
    ck_assert(f == 2.0 * 16.0 * 1000.0 * 16.0 || f == 2.0 * 16.0 * 1000.0 * 8.0);
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("elementwise");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_elementwise_naive, 0, NSIZES);
#ifdef _OPENMP
    tcase_add_loop_test(tc, test_elementwise_threads, 0, NSIZES);
#endif
    tcase_add_test(tc, test_peak_counts);
    suite_add_tcase(s, tc);
    return s;
}
