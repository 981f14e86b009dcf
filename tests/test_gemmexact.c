/* test_gemmexact.c - Check suite: src/kernels/gemm.c computes, bit for bit,
 * the fp32 chains it documents, whatever path a tile takes (A packed or read
 * in place, full or ragged tiles, the edge kernels, blocks of k, the split
 * between threads).
 *
 * The reference is written with fmaf (plain multiply-add without AVX-512,
 * as C11 without contraction computes the portable kernel): each C element
 * is beta*C (beta 1: C itself; beta 0: 0), then one step per k ascending. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"

#ifdef __AVX512F__
#define STEP(a, b, acc) fmaf((a), (b), (acc))
#else
#define STEP(a, b, acc) ((acc) + (a) * (b))
#endif

enum { NN, NT, TN };

/* M, N, K: full and ragged tiles, one and several blocks of k (KC = 288),
 * and the shapes of the bench. */
static const int shapes[][3] = {
    {64, 196, 288}, {128, 128, 256}, {128, 256, 128}, {13, 31, 600}, {37, 100, 290}, {5, 17, 9},
    {24, 64, 577},  {1, 40, 3},      {128, 10, 784},  {40, 33, 1},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

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

static void check(int var, int M, int N, int K, float beta)
{
    const int lda = (var == TN ? M : K) + 3, ldb = (var == NT ? K : N) + 2, ldc = N + 1;
    const size_t na = (size_t)(var == TN ? K : M) * lda, nb = (size_t)(var == NT ? N : K) * ldb;
    float *a = random_floats(na, 11), *b = random_floats(nb, 12), *c = random_floats((size_t)M * ldc, 13);
    float *c0 = malloc(((size_t)M * ldc + 1) * sizeof *c0);
    ck_assert_ptr_nonnull(c0);
    memcpy(c0, c, (size_t)M * ldc * sizeof *c);
    if (var == NN) gemm_nn(MATH_FP32, M, N, K, a, lda, b, ldb, beta, c, ldc);
    if (var == NT) gemm_nt(MATH_FP32, M, N, K, a, lda, b, ldb, beta, c, ldc);
    if (var == TN) gemm_tn(MATH_FP32, M, N, K, a, lda, b, ldb, beta, c, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = beta == 0.0f ? 0.0f : c0[(size_t)i * ldc + j];
            for (int k = 0; k < K; k++) {
                const float av = var == TN ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k];
                const float bv = var == NT ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j];
                acc = STEP(av, bv, acc);
            }
            const float got = c[(size_t)i * ldc + j];
            if (memcmp(&acc, &got, sizeof acc))
                ck_abort_msg("gemm_%s %dx%dx%d beta %g: C[%d][%d] = %.9g, the chain gives %.9g",
                             var == NN ? "nn" : var == NT ? "nt" : "tn", M, N, K, beta, i, j, got, acc);
        }
    free(a), free(b), free(c), free(c0);
}

START_TEST(test_gemm_chains)
{
    const int *s = shapes[_i];
    for (int var = NN; var <= TN; var++) {
        check(var, s[0], s[1], s[2], 0.0f);
        check(var, s[0], s[1], s[2], 1.0f);
    }
}
END_TEST

Suite *gemmexact_suite(void)
{
    Suite *s = suite_create("gemmexact");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_gemm_chains, 0, NSHAPES);
    suite_add_tcase(s, tc);
    return s;
}
