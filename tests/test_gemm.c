/* test_gemm.c - Check suite for src/kernels/gemm.c (gemm_nn, gemm_nt, gemm_tn).
 *
 * Every variant is compared with a naive double-precision product kept here,
 * over a table of shapes (ragged, degenerate, padded leading dimensions), for
 * beta 0 (C pre-filled with NaN) and beta 1. C's padding columns must stay
 * untouched, and results must be bit-identical with 1 and 2 OpenMP threads. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/gemm.h"

enum { VAR_NN, VAR_NT, VAR_TN, VAR_COUNT };

typedef void (*GemmFn)(Math, int, int, int, const float *, int, const float *, int, float, float *,
                       int);
static const GemmFn gemm_fns[VAR_COUNT] = {gemm_nn, gemm_nt, gemm_tn};
static const char *const var_names[VAR_COUNT] = {"nn", "nt", "tn"};

/* M, N, K and the extra padding added to each leading dimension. */
typedef struct {
    int M, N, K, pad;
} GemmShape;

static const GemmShape shapes[] = {
    {1, 1, 1, 0},     {3, 5, 7, 0},      {3, 5, 7, 3},      {17, 33, 65, 0},
    {17, 33, 65, 5},  {1, 50, 40, 0},    {40, 1, 50, 2},    {1, 1, 300, 0},
    {12, 32, 256, 0}, {13, 31, 257, 1},  {5, 7, 0, 0},      {5, 7, 0, 4},
    {128, 10, 128, 0}, {128, 128, 256, 0}, {100, 70, 600, 7}, {200, 300, 30, 0},
    {128, 256, 784, 0}, {128, 784, 256, 0}, {256, 784, 128, 0}, {1000, 32, 9, 0},
    {397, 64, 288, 3},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* xorshift32 in [-1, 1); the state is the caller's. */
static float rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)((double)(*s >> 8) / (double)(1u << 23) - 1.0);
}

/* Operand layout of one variant: A is ar x ac with leading dim lda, etc. */
typedef struct {
    int ar, ac, lda, br, bc, ldb, ldc;
} Layout;

static Layout layout_of(int var, GemmShape s)
{
    Layout l;
    l.ar = var == VAR_TN ? s.K : s.M;
    l.ac = var == VAR_TN ? s.M : s.K;
    l.br = var == VAR_NT ? s.N : s.K;
    l.bc = var == VAR_NT ? s.K : s.N;
    l.lda = l.ac + s.pad;
    l.ldb = l.bc + s.pad;
    l.ldc = s.N + s.pad;
    return l;
}

static float *alloc_filled(int rows, int ld, uint32_t *seed)
{
    size_t n = (size_t)(rows > 0 ? rows : 1) * (size_t)(ld > 0 ? ld : 1);
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) p[i] = rnd(seed);
    return p;
}

/* op(A)(i,k) and op(B)(k,j) for a variant, read from the stored layouts. */
static double a_at(int var, const float *A, int lda, int i, int k)
{
    return var == VAR_TN ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}
static double b_at(int var, const float *B, int ldb, int k, int j)
{
    return var == VAR_NT ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

static void check_variant(int var, GemmShape s, float beta, uint32_t seed)
{
    const Layout l = layout_of(var, s);
    float *A = alloc_filled(l.ar, l.lda, &seed);
    float *B = alloc_filled(l.br, l.ldb, &seed);
    float *C0 = alloc_filled(s.M, l.ldc, &seed);
    float *C = alloc_filled(s.M, l.ldc, &seed);
    size_t nc = (size_t)s.M * (size_t)l.ldc;
    for (size_t i = 0; i < nc; i++) C[i] = beta == 0.0f ? NAN : C0[i];
    /* Padding columns of C hold a sentinel that must survive. */
    for (int i = 0; i < s.M; i++)
        for (int j = s.N; j < l.ldc; j++) C[(size_t)i * l.ldc + j] = 12345.0f;

    gemm_fns[var](MATH_FP32, s.M, s.N, s.K, A, l.lda, B, l.ldb, beta, C, l.ldc);

    for (int i = 0; i < s.M; i++) {
        for (int j = 0; j < s.N; j++) {
            double ref = beta * (double)C0[(size_t)i * l.ldc + j];
            double mag = fabs(ref);
            for (int k = 0; k < s.K; k++) {
                double p = a_at(var, A, l.lda, i, k) * b_at(var, B, l.ldb, k, j);
                ref += p;
                mag += fabs(p);
            }
            /* fp32 summation error is below K*eps*sum|terms|; allow 2x that. */
            double tol = 2.0 * (s.K + 1) * FLT_EPSILON * mag + 1e-30;
            double got = C[(size_t)i * l.ldc + j];
            ck_assert_msg(fabs(got - ref) <= tol,
                          "gemm_%s %dx%dx%d pad %d beta %g: C[%d][%d] = %.9g, want %.9g",
                          var_names[var], s.M, s.N, s.K, s.pad, (double)beta, i, j, got, ref);
        }
        for (int j = s.N; j < l.ldc; j++)
            ck_assert_msg(C[(size_t)i * l.ldc + j] == 12345.0f,
                          "gemm_%s %dx%dx%d wrote into C's padding at [%d][%d]",
                          var_names[var], s.M, s.N, s.K, i, j);
    }
    free(A);
    free(B);
    free(C0);
    free(C);
}

START_TEST(test_gemm_vs_naive)
{
    GemmShape s = shapes[_i];
    for (int var = 0; var < VAR_COUNT; var++) {
        check_variant(var, s, 0.0f, 1u + (uint32_t)_i * 7u + (uint32_t)var);
        check_variant(var, s, 1.0f, 1000u + (uint32_t)_i * 7u + (uint32_t)var);
    }
}
END_TEST

/* M or N of zero must leave C alone entirely (it may be a NULL pointer). */
START_TEST(test_gemm_empty)
{
    float one = 1.0f;
    for (int var = 0; var < VAR_COUNT; var++) {
        gemm_fns[var](MATH_FP32, 0, 5, 3, &one, 3, &one, 5, 0.0f, NULL, 5);
        gemm_fns[var](MATH_FP32, 5, 0, 3, &one, 3, &one, 1, 0.0f, NULL, 1);
        gemm_fns[var](MATH_FP32, 0, 0, 0, NULL, 1, NULL, 1, 1.0f, NULL, 1);
    }
}
END_TEST

#ifdef _OPENMP
/* Same inputs, 1 thread vs 2 threads: the outputs must match bit for bit. */
static const GemmShape det_shapes[] = {
    {128, 784, 256, 0}, {128, 256, 784, 0}, {256, 784, 128, 0},
    {2509, 64, 288, 0}, {1003, 32, 9, 1},   {131, 97, 333, 5},
};
enum { NDET = sizeof det_shapes / sizeof det_shapes[0] };

START_TEST(test_gemm_thread_determinism)
{
    GemmShape s = det_shapes[_i];
    for (int var = 0; var < VAR_COUNT; var++) {
        for (int b = 0; b < 2; b++) {
            const float beta = (float)b;
            uint32_t seed = 77u + (uint32_t)_i * 5u + (uint32_t)var;
            const Layout l = layout_of(var, s);
            float *A = alloc_filled(l.ar, l.lda, &seed);
            float *B = alloc_filled(l.br, l.ldb, &seed);
            float *C1 = alloc_filled(s.M, l.ldc, &seed);
            size_t nc = (size_t)s.M * (size_t)l.ldc;
            float *C2 = malloc(nc * sizeof *C2);
            ck_assert_ptr_nonnull(C2);
            memcpy(C2, C1, nc * sizeof *C2);

            omp_set_num_threads(1);
            gemm_fns[var](MATH_FP32, s.M, s.N, s.K, A, l.lda, B, l.ldb, beta, C1, l.ldc);
            omp_set_num_threads(2);
            gemm_fns[var](MATH_FP32, s.M, s.N, s.K, A, l.lda, B, l.ldb, beta, C2, l.ldc);
            ck_assert_msg(memcmp(C1, C2, nc * sizeof *C1) == 0,
                          "gemm_%s %dx%dx%d beta %d differs between 1 and 2 threads",
                          var_names[var], s.M, s.N, s.K, b);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    }
}
END_TEST
#endif

Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("naive");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_gemm_vs_naive, 0, NSHAPES);
    tcase_add_test(tc, test_gemm_empty);
    suite_add_tcase(s, tc);
#ifdef _OPENMP
    TCase *td = tcase_create("threads");
    tcase_set_timeout(td, 120);
    tcase_add_loop_test(td, test_gemm_thread_determinism, 0, NDET);
    suite_add_tcase(s, td);
#endif
    return s;
}
