/* test_bf16.c - Check suite for the bf16 arithmetic (MATH_BF16_DP): the
 * products of gemm_bf16.c and conv's bf16 paths, the choice of a Math
 * (math_choose), and whole nets run in each Math this CPU has.
 *
 * The kernels are compared EXACTLY with scalar references here that round
 * the operands with bf16_round and sum in the kernels' order: per output, a
 * chain of dot-product steps over pairs of taps (acc, (a0,a1), (b0,b1)) ->
 * acc'. How one vdpbf16ps step adds its two products (the odd first, then
 * the even, in Intel's description; AMD's may differ) is not assumed: a
 * probe of the instruction picks the model that reproduces it, and the
 * references use that model, so the tests are exact on either vendor. The
 * test data hold no denormals, which the instruction flushes. A CPU without
 * AVX512_BF16 skips the kernel tests with a printed line. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/math.h"
#include "kernels/pool.h"
#include "model/cfg.h"
#include "nn/net.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* ---- the dot-product step, probed ---------------------------------------- */

/* How one step adds its two exact products pe (even taps) and po (odd). */
typedef enum {
    DP_ODD_EVEN,  /* (acc + po) + pe, each rounded: Intel's pseudo-code */
    DP_EVEN_ODD,  /* (acc + pe) + po, each rounded                      */
    DP_PAIR,      /* acc + (pe + po), each rounded                      */
    DP_FUSED,     /* acc + pe + po, rounded once                        */
    DP_NMODELS
} DpModel;
static const char *const DP_NAMES[DP_NMODELS] = {"(acc+odd)+even", "(acc+even)+odd", "acc+(even+odd)",
                                                  "acc+even+odd rounded once"};

static float dp_model(DpModel m, float acc, float a0, float a1, float b0, float b1)
{
    const float pe = a0 * b0, po = a1 * b1; /* exact: bf16 x bf16 fits fp32 */
    switch (m) {
    case DP_ODD_EVEN: {
        const float t = acc + po;
        return t + pe;
    }
    case DP_EVEN_ODD: {
        const float t = acc + pe;
        return t + po;
    }
    case DP_PAIR: {
        const float t = pe + po;
        return acc + t;
    }
    default: /* exact in long double for the probe's and the tests' ranges */
        return (float)((long double)acc + (long double)pe + (long double)po);
    }
}

static float bf16_of_bits(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

static uint16_t bits_of_bf16(float x) /* x already a bf16 */
{
    union {
        float f;
        uint32_t u;
    } v = {x};
    return (uint16_t)(v.u >> 16);
}

/* The probe: 16 lanes of (acc, a0, a1, b0, b1), the first four chosen so
 * that the four models give four different signatures, the rest random. */
enum { PROBE_LANES = 16 };
typedef struct {
    float acc[PROBE_LANES], a0[PROBE_LANES], a1[PROBE_LANES], b0[PROBE_LANES], b1[PROBE_LANES];
} Probe;

static void probe_inputs(Probe *p)
{
    const float u = ldexpf(1.0f, -23); /* ulp of 1 */
    /* lane: acc, even product a0*b0, odd product a1*b1 (b = 2^-12 or 1) */
    const float t = ldexpf(1.0f, -12);
    const float cases[4][3] = {{1.0f, 0.5f * u, 0.5f * u},
                               {1.0f, 0.5f * u, 0.75f * u},
                               {1.0f, 0.75f * u, 0.5f * u},
                               {0.5f * u, 1.0f, 0.5f * u}};
    for (int l = 0; l < 4; l++) {
        p->acc[l] = cases[l][0];
        /* a product x written as (x / t) * t when x is tiny, else x * 1 */
        p->a0[l] = cases[l][1] < 0.01f ? cases[l][1] / t : cases[l][1];
        p->b0[l] = cases[l][1] < 0.01f ? t : 1.0f;
        p->a1[l] = cases[l][2] < 0.01f ? cases[l][2] / t : cases[l][2];
        p->b1[l] = cases[l][2] < 0.01f ? t : 1.0f;
    }
    uint32_t s = 12345;
    for (int l = 4; l < PROBE_LANES; l++) {
        float v[5];
        for (int i = 0; i < 5; i++) {
            s ^= s << 13, s ^= s >> 17, s ^= s << 5;
            v[i] = bf16_round((float)((double)(s >> 8) / (double)(1u << 23) - 1.0) * (i == 0 ? 3.0f : 1.0f));
        }
        p->acc[l] = v[0] + 0.1f, p->a0[l] = v[1], p->a1[l] = v[2], p->b0[l] = v[3], p->b1[l] = v[4];
    }
}

#if HAVE_X86
/* One vdpbf16ps over the probe's lanes. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void probe_run(const Probe *p,
                                                                                    float out[PROBE_LANES])
{
    _Alignas(64) uint32_t a[PROBE_LANES], b[PROBE_LANES];
    for (int l = 0; l < PROBE_LANES; l++) {
        a[l] = bits_of_bf16(p->a0[l]) | (uint32_t)bits_of_bf16(p->a1[l]) << 16;
        b[l] = bits_of_bf16(p->b0[l]) | (uint32_t)bits_of_bf16(p->b1[l]) << 16;
    }
    const __m512 r = _mm512_dpbf16_ps(_mm512_loadu_ps(p->acc), (__m512bh)_mm512_load_si512((const void *)a),
                                      (__m512bh)_mm512_load_si512((const void *)b));
    _mm512_storeu_ps(out, r);
}
#endif

static int have_bf16(void)
{
    CpuFeatures c;
    cpu_detect(&c);
    return c.avx512_bf16;
}

/* 1 if this CPU runs MATH_BF16_DP; else prints why the calling test skips. */
static int bf16_or_skip(const char *test)
{
    if (have_bf16()) return 1;
    CpuFeatures c;
    cpu_detect(&c);
    printf("test_bf16: %s SKIPPED: this CPU (%s) has no AVX512_BF16\n", test, c.name[0] ? c.name : "unnamed");
    return 0;
}

static DpModel g_model = DP_NMODELS; /* the probed model: set once by probe_model */

/* The model that reproduces the instruction on every probe lane; fails the
 * calling test if none does. */
static DpModel probe_model(void)
{
    if (g_model != DP_NMODELS) return g_model;
#if HAVE_X86
    Probe p;
    float got[PROBE_LANES];
    probe_inputs(&p);
    probe_run(&p, got);
    for (int m = 0; m < DP_NMODELS; m++) {
        int ok = 1;
        for (int l = 0; l < PROBE_LANES; l++)
            if (dp_model((DpModel)m, p.acc[l], p.a0[l], p.a1[l], p.b0[l], p.b1[l]) != got[l]) ok = 0;
        if (ok) {
            g_model = (DpModel)m;
            printf("test_bf16: vdpbf16ps on this CPU computes %s\n", DP_NAMES[m]);
            return g_model;
        }
    }
    for (int l = 0; l < 4; l++) printf("probe lane %d: %a\n", l, (double)got[l]);
#endif
    ck_abort_msg("vdpbf16ps matches none of the models of a step");
    return DP_ODD_EVEN;
}

START_TEST(probe_distinguishes_models)
{
    /* The probe's first four lanes tell every model apart. */
    Probe p;
    probe_inputs(&p);
    for (int m = 0; m < DP_NMODELS; m++)
        for (int n = m + 1; n < DP_NMODELS; n++) {
            int differ = 0;
            for (int l = 0; l < 4; l++)
                differ |= dp_model((DpModel)m, p.acc[l], p.a0[l], p.a1[l], p.b0[l], p.b1[l]) !=
                          dp_model((DpModel)n, p.acc[l], p.a0[l], p.a1[l], p.b0[l], p.b1[l]);
            ck_assert_msg(differ, "models %d and %d agree on the probe", m, n);
        }
    for (int l = 0; l < PROBE_LANES; l++) {
        ck_assert(bf16_round(p.a0[l]) == p.a0[l] && bf16_round(p.a1[l]) == p.a1[l]);
        ck_assert(bf16_round(p.b0[l]) == p.b0[l] && bf16_round(p.b1[l]) == p.b1[l]);
    }
    if (!bf16_or_skip("probe")) return;
    probe_model();
}
END_TEST

/* The reference step: acc + a0*b0 + a1*b1 on bf16-rounded operands (a0, b0
 * the even tap), as the probed instruction adds them. */
static float step(float acc, float a0, float a1, float b0, float b1)
{
    return dp_model(g_model, acc, bf16_round(a0), bf16_round(a1), bf16_round(b0), bf16_round(b1));
}

START_TEST(bf16_bits_round_to_nearest_even)
{
    /* bf16_round: ties to even, carries into the exponent, NaN kept */
    ck_assert(bf16_round(1.0f + ldexpf(1.0f, -8)) == 1.0f);                          /* tie, even down */
    ck_assert(bf16_round(1.0f + 3 * ldexpf(1.0f, -8)) == 1.0f + ldexpf(1.0f, -6)); /* tie, even up */
    ck_assert(bf16_round(1.0f + ldexpf(1.0f, -8) + ldexpf(1.0f, -20)) == 1.0f + ldexpf(1.0f, -7));
    ck_assert(bf16_round(0x1.ffffp0f) == 2.0f);
    ck_assert(isnan(bf16_round(NAN)));
    ck_assert(bf16_of_bits(bits_of_bf16(bf16_round(-3.140625f))) == -3.140625f);
}
END_TEST

/* ---- gemm ----------------------------------------------------------------- */

enum { VAR_NN, VAR_NT, VAR_TN, VAR_MB, VAR_COUNT };
static const char *const VAR_NAMES[VAR_COUNT] = {"nn", "nt", "tn", "tn_mb"};

typedef struct {
    int M, N, K, pad, mb;
} Shape3;

static const Shape3 SHAPES[] = {
    {1, 1, 1, 0, 1},     {3, 5, 7, 0, 3},     {3, 5, 7, 3, 2},       {17, 33, 65, 5, 5},
    {12, 32, 256, 0, 32}, {13, 31, 257, 1, 7}, {1, 50, 41, 0, 41},   {40, 1, 50, 2, 9},
    {128, 10, 129, 0, 32}, {100, 70, 601, 7, 33}, {200, 300, 31, 0, 1}, {397, 64, 288, 3, 288},
    {128, 256, 784, 0, 32}, {37, 45, 1201, 0, 13}, {5, 7, 0, 0, 4},   {25, 290, 3, 1, 2},
};
enum { NSHAPES = sizeof SHAPES / sizeof SHAPES[0] };

/* xorshift32 floats in [-1, 1) times scale. */
static float *rnd_floats(size_t n, uint32_t seed, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = scale * (float)((double)(s >> 8) / (double)(1u << 23) - 1.0);
    }
    return p;
}

typedef struct {
    int ar, ac, lda, br, bc, ldb, ldc;
} Layout;

static Layout layout_of(int var, Shape3 s)
{
    Layout l;
    const int t = var == VAR_TN || var == VAR_MB;
    l.ar = t ? s.K : s.M, l.ac = t ? s.M : s.K;
    l.br = var == VAR_NT ? s.N : s.K, l.bc = var == VAR_NT ? s.K : s.N;
    l.lda = l.ac + s.pad, l.ldb = l.bc + s.pad, l.ldc = s.N + s.pad;
    return l;
}

static float a_at(int var, const float *A, int lda, int i, int k, int K)
{
    if (k >= K) return 0.0f;
    return var == VAR_TN || var == VAR_MB ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}

static float b_at(int var, const float *B, int ldb, int k, int j, int K)
{
    if (k >= K) return 0.0f;
    return var == VAR_NT ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

/* The reference of one element: taps [k0, k1) in pairs from acc (a pair
 * past k1 is padded with a zero tap). */
static float ref_chain(int var, const float *A, int lda, const float *B, int ldb, int i, int j, int k0, int k1,
                       float acc)
{
    for (int k = k0; k < k1; k += 2)
        acc = step(acc, a_at(var, A, lda, i, k, k1), a_at(var, A, lda, i, k + 1, k1), b_at(var, B, ldb, k, j, k1),
                   b_at(var, B, ldb, k + 1, j, k1));
    return acc;
}

/* C as the kernels must leave it (beta 0 or 1; VAR_MB: micro-batches into C). */
static void ref_gemm(int var, Shape3 s, const Layout *l, const float *A, const float *B, float beta, float *C)
{
    for (int i = 0; i < s.M; i++)
        for (int j = 0; j < s.N; j++) {
            float *c = &C[(size_t)i * l->ldc + j];
            if (var != VAR_MB) {
                *c = ref_chain(var, A, l->lda, B, l->ldb, i, j, 0, s.K, beta == 0.0f ? 0.0f : *c);
                continue;
            }
            for (int k0 = 0; k0 < s.K; k0 += s.mb) {
                const int k1 = k0 + s.mb < s.K ? k0 + s.mb : s.K;
                *c += ref_chain(var, A, l->lda, B, l->ldb, i, j, k0, k1, 0.0f);
            }
        }
}

static void run_gemm(int var, Shape3 s, const Layout *l, const float *A, const float *B, float beta, float *C)
{
    switch (var) {
    case VAR_NN: gemm_nn(MATH_BF16_DP, s.M, s.N, s.K, A, l->lda, B, l->ldb, beta, C, l->ldc); break;
    case VAR_NT: gemm_nt(MATH_BF16_DP, s.M, s.N, s.K, A, l->lda, B, l->ldb, beta, C, l->ldc); break;
    case VAR_TN: gemm_tn(MATH_BF16_DP, s.M, s.N, s.K, A, l->lda, B, l->ldb, beta, C, l->ldc); break;
    default: gemm_tn_mb(MATH_BF16_DP, s.M, s.N, s.K, A, l->lda, B, l->ldb, C, l->ldc, s.mb, 0); break;
    }
}

static void set_threads(int t)
{
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/* Every variant, every shape, beta 0 (C full of NaN) and 1: bit for bit
 * the reference, C's padding untouched, the same with 1 and 2 threads. */
START_TEST(gemm_bf16_exact)
{
    if (!bf16_or_skip("gemm_bf16_exact")) return;
    probe_model();
    const int var = _i;
    for (int si = 0; si < NSHAPES; si++) {
        const Shape3 s = SHAPES[si];
        const Layout l = layout_of(var, s);
        const size_t nc = (size_t)(s.M > 0 ? s.M : 1) * (size_t)l.ldc;
        float *A = rnd_floats((size_t)(l.ar ? l.ar : 1) * (size_t)l.lda, 11u + (uint32_t)si, 1.0f);
        float *B = rnd_floats((size_t)(l.br ? l.br : 1) * (size_t)l.ldb, 23u + (uint32_t)si, 2.0f);
        float *C0 = rnd_floats(nc, 37u + (uint32_t)si, 1.0f), *want = malloc(nc * sizeof *want);
        float *got = malloc(nc * sizeof *got), *got2 = malloc(nc * sizeof *got2);
        ck_assert(want && got && got2);
        for (int beta = var == VAR_MB; beta <= 1; beta++) {
            memcpy(want, C0, nc * sizeof *want);
            for (int i = 0; i < s.M; i++)
                for (int j = 0; j < s.N && !beta; j++) want[(size_t)i * l.ldc + j] = NAN;
            memcpy(got, want, nc * sizeof *got);
            memcpy(got2, want, nc * sizeof *got);
            ref_gemm(var, s, &l, A, B, (float)beta, want);
            set_threads(1);
            run_gemm(var, s, &l, A, B, (float)beta, got);
            set_threads(2);
            run_gemm(var, s, &l, A, B, (float)beta, got2);
            for (size_t q = 0; q < nc; q++) {
                ck_assert_msg(memcmp(&got[q], &want[q], sizeof(float)) == 0,
                              "gemm_%s bf16 %dx%dx%d mb %d beta %d: C[%zu] = %a, reference %a", VAR_NAMES[var], s.M,
                              s.N, s.K, s.mb, beta, q, (double)got[q], (double)want[q]);
                ck_assert_msg(memcmp(&got[q], &got2[q], sizeof(float)) == 0, "gemm_%s bf16 %dx%dx%d: 1 vs 2 threads",
                              VAR_NAMES[var], s.M, s.N, s.K);
            }
        }
        free(A), free(B), free(C0), free(want), free(got), free(got2);
    }
    set_threads(2);
}
END_TEST

/* gemm_tn_mb with cstride: micro-batch j into its own copy of C; and
 * the same sums as the calls of gemm_tn_mb on each micro-batch alone. */
START_TEST(gemm_bf16_mb_split)
{
    if (!bf16_or_skip("gemm_bf16_mb_split")) return;
    probe_model();
    const int M = 19, N = 45, K = 75, mb = 11, nmb = (K + mb - 1) / mb;
    float *A = rnd_floats((size_t)K * M, 5, 1.0f), *B = rnd_floats((size_t)K * N, 6, 1.0f);
    float *C = calloc((size_t)nmb * M * N, sizeof *C), *D = calloc((size_t)nmb * M * N, sizeof *D);
    ck_assert(C && D);
    gemm_tn_mb(MATH_BF16_DP, M, N, K, A, M, B, N, C, N, mb, (size_t)M * N);
    for (int j = 0; j < nmb; j++) {
        const int kn = K - j * mb < mb ? K - j * mb : mb;
        gemm_tn_mb(MATH_BF16_DP, M, N, kn, A + (size_t)j * mb * M, M, B + (size_t)j * mb * N, N,
                   D + (size_t)j * M * N, N, 64, 0);
    }
    ck_assert_int_eq(memcmp(C, D, (size_t)nmb * M * N * sizeof *C), 0);
    free(A), free(B), free(C), free(D);
}
END_TEST

/* bf16 is not fp32: the same product differs, but by a bf16-sized error. */
START_TEST(gemm_bf16_close_to_fp32)
{
    if (!bf16_or_skip("gemm_bf16_close_to_fp32")) return;
    const int M = 64, N = 96, K = 300;
    float *A = rnd_floats((size_t)M * K, 1, 1.0f), *B = rnd_floats((size_t)K * N, 2, 1.0f);
    float *c32 = malloc((size_t)M * N * sizeof *c32), *c16 = malloc((size_t)M * N * sizeof *c16);
    ck_assert(c32 && c16);
    gemm_nn(MATH_FP32, M, N, K, A, K, B, N, 0.0f, c32, N);
    gemm_nn(MATH_BF16_DP, M, N, K, A, K, B, N, 0.0f, c16, N);
    double worst = 0;
    int differ = 0;
    for (int q = 0; q < M * N; q++) {
        const double d = fabs((double)c32[q] - (double)c16[q]);
        worst = d > worst ? d : worst;
        differ |= c32[q] != c16[q];
    }
    ck_assert(differ);
    /* each product off by < 2 * 2^-9 relative; sum of K |a||b| <= K/4 on average */
    ck_assert_msg(worst < 0.05 * sqrt((double)K), "bf16 vs fp32: %g", worst);
    free(A), free(B), free(c32), free(c16);
}
END_TEST

/* ---- the choice of a Math ------------------------------------------------- */

START_TEST(choose_math)
{
    CpuFeatures c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "Test CPU 9000");
    Math m = MATH_BF16_DP;
    Err e;
    ck_assert_int_eq(math_choose(PREC_FP32, &c, &m, &e), ST_OK);
    ck_assert_int_eq(m, MATH_FP32);
    ck_assert_int_eq(math_choose(PREC_BF16, &c, &m, &e), ST_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "Test CPU 9000") && strstr(e.msg, "AVX512_BF16"), "%s", e.msg);
    c.avx512 = 1;
    ck_assert_int_eq(math_choose(PREC_BF16, &c, &m, &e), ST_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "without BF16"), "%s", e.msg);
    c.avx512_bf16 = 1;
    ck_assert_int_eq(math_choose(PREC_BF16, &c, &m, &e), ST_OK);
    ck_assert_int_eq(m, MATH_BF16_DP);
    ck_assert_int_eq(math_choose(PREC_FP32, &c, &m, &e), ST_OK);
    ck_assert_int_eq(m, MATH_FP32);
    ck_assert(math_runs_on(MATH_FP32, &c) && math_runs_on(MATH_BF16_DP, &c));
    c.avx512_bf16 = 0;
    ck_assert(!math_runs_on(MATH_BF16_DP, &c));
    /* This CPU: bf16 is chosen exactly when it has AVX512_BF16. */
    cpu_detect(&c);
    const Status st = math_choose(PREC_BF16, &c, &m, &e);
    ck_assert_int_eq(st, c.avx512_bf16 ? ST_OK : ST_ERR_ARG);
    printf("test_bf16: this CPU: %s, avx512 %d, avx512_bf16 %d, amx_bf16 %d\n", c.name, c.avx512, c.avx512_bf16,
           c.amx_bf16);
}
END_TEST

/* ---- conv ------------------------------------------------------------------ */

typedef struct {
    int c, h, w, k, s, p, oc, n, mb, relu, pool;
} ConvCase;

/* Stride 1: the channel-pair path, or if marked R the rounded operands on
 * the fp32 direct kernels (at most 32 taps); stride 2: im2col + bf16 gemm. */
static const ConvCase CONVS[] = {
    {5, 7, 9, 3, 1, 1, 6, 11, 0, 0, 0},   /* 45 taps, 63 positions: both odd     */
    {5, 8, 8, 3, 1, 1, 7, 11, 4, 1, 1},   /* relu + pool, micro-batches of 4     */
    {4, 6, 6, 3, 1, 0, 3, 9, 0, 1, 0},    /* no padding, relu                    */
    {3, 9, 9, 3, 2, 1, 5, 10, 3, 1, 0},   /* stride 2: im2col, 27 taps           */
    {32, 6, 6, 3, 1, 1, 9, 10, 4, 1, 1},  /* 288 taps, odd OC (dX's pairs)       */
    {6, 5, 20, 5, 1, 2, 3, 4, 0, 0, 0},   /* 5x5, a row longer than a tile       */
    {7, 9, 4, 3, 1, 2, 2, 5, 0, 1, 0},    /* pad 2, tiles across rows            */
    {1, 8, 8, 3, 1, 1, 5, 11, 0, 1, 1},   /* R: C = 1, pool: y recomputed        */
    {1, 6, 7, 3, 1, 1, 4, 9, 4, 0, 0},    /* R: C = 1, micro-batches             */
    {3, 6, 6, 3, 1, 1, 4, 9, 0, 1, 0},    /* R: C = 3, relu                      */
};
enum { NCONVS = sizeof CONVS / sizeof CONVS[0] };

static ConvGeom geom_of(const ConvCase *t)
{
    ConvGeom g = {t->c, t->h, t->w, t->k, t->k, t->s, t->s, t->p, t->p, 0, 0};
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    return g;
}

static int stride1(const ConvGeom *g)
{
    return g->sh == 1 && g->sw == 1 && g->ph <= g->kh - 1 && g->pw <= g->kw - 1;
}

static int rounds(const ConvGeom *g) { return stride1(g) && g->c * g->kh * g->kw <= 32; }

/* x[c][yy][xx] of a (C, H, W) image, 0 outside it or past C. */
static float pix(const float *x, int C, int H, int W, int c, int yy, int xx)
{
    return c < C && yy >= 0 && yy < H && xx >= 0 && xx < W ? x[((size_t)c * H + yy) * W + xx] : 0.0f;
}

/* The channel-pair path's forward of one output: tap pairs (2cp, i, j),
 * (2cp+1, i, j) in (cp, i, j) order, from 0. */
static float ref_pair_forward(const ConvGeom *g, const float *xs, const float *w, int o, int oy, int ox)
{
    float acc = 0.0f;
    const int taps = g->kh * g->kw;
    for (int cp = 0; cp < (g->c + 1) / 2; cp++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const int c = 2 * cp, yy = oy - g->ph + i, xx = ox - g->pw + j;
                const float *wo = w + ((size_t)o * g->c + c) * taps + i * g->kw + j;
                acc = step(acc, wo[0], c + 1 < g->c ? wo[taps] : 0.0f, pix(xs, g->c, g->h, g->w, c, yy, xx),
                           pix(xs, g->c, g->h, g->w, c + 1, yy, xx));
            }
    return acc;
}

/* Its dW chain of (o, tap k) over one sample, from acc: positions paired
 * in the padded numbering t = oy*(W + PW) + ox, where the columns past OW
 * (and t past OH rows) count as zero products. */
static float ref_pair_dw(const ConvGeom *g, const float *xs, const float *dys, int o, int k, float acc)
{
    const int pitch = g->w + g->pw, np = g->oh * pitch;
    const int c = k / (g->kh * g->kw), i = (k / g->kw) % g->kh, j = k % g->kw;
    float xv[2], dv[2];
    for (int t0 = 0; t0 < np; t0 += 2) {
        for (int u = 0; u < 2; u++) {
            const int t = t0 + u, oy = t / pitch, ox = t % pitch, valid = t < np && ox < g->ow;
            xv[u] = valid ? pix(xs, g->c, g->h, g->w, c, oy - g->ph + i, ox - g->pw + j) : 0.0f;
            dv[u] = valid ? dys[((size_t)o * g->oh + oy) * g->ow + ox] : 0.0f;
        }
        acc = step(acc, dv[0], dv[1], xv[0], xv[1]);
    }
    return acc;
}

/* Its dX of one input element: output channels in pairs, weights flipped. */
static float ref_pair_dx(const ConvGeom *g, int oc, const float *dys, const float *w, int c, int yy, int xx)
{
    float acc = 0.0f;
    const int taps = g->kh * g->kw, qh = g->kh - 1 - g->ph, qw = g->kw - 1 - g->pw;
    for (int op = 0; op < (oc + 1) / 2; op++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                const int o = 2 * op, t = (g->kh - 1 - i) * g->kw + (g->kw - 1 - j);
                const float w0 = w[((size_t)o * g->c + c) * taps + t];
                const float w1 = o + 1 < oc ? w[((size_t)(o + 1) * g->c + c) * taps + t] : 0.0f;
                acc = step(acc, w0, w1, pix(dys, oc, g->oh, g->ow, o, yy - qh + i, xx - qw + j),
                           pix(dys, oc, g->oh, g->ow, o + 1, yy - qh + i, xx - qw + j));
            }
    return acc;
}

/* col [K][P] of one sample (zero in the padding). */
static void ref_im2col(const ConvGeom *g, const float *x, float *col)
{
    const int P = g->oh * g->ow;
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++)
                for (int oy = 0; oy < g->oh; oy++)
                    for (int ox = 0; ox < g->ow; ox++) {
                        const int yy = oy * g->sh - g->ph + i, xx = ox * g->sw - g->pw + j;
                        const int in = yy >= 0 && yy < g->h && xx >= 0 && xx < g->w;
                        col[((c * g->kh + i) * g->kw + j) * P + oy * g->ow + ox] =
                            in ? x[(c * g->h + yy) * g->w + xx] : 0.0f;
                    }
}

/* dx (C, H, W) from col [K][P]: each plane zeroed, rows added in (i, j, oy, ox) order. */
static void ref_col2im(const ConvGeom *g, const float *col, float *dx)
{
    const int P = g->oh * g->ow;
    memset(dx, 0, sizeof(float) * (size_t)g->c * g->h * g->w);
    for (int c = 0; c < g->c; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++)
                for (int oy = 0; oy < g->oh; oy++)
                    for (int ox = 0; ox < g->ow; ox++) {
                        const int yy = oy * g->sh - g->ph + i, xx = ox * g->sw - g->pw + j;
                        if (yy >= 0 && yy < g->h && xx >= 0 && xx < g->w)
                            dx[(c * g->h + yy) * g->w + xx] += col[((c * g->kh + i) * g->kw + j) * P + oy * g->ow + ox];
                    }
}

/* The pair chain sum_t u[t*us] v[t*vs], t < len, from acc (a zero tap pads an odd len). */
static float ref_pairs(const float *u, int us, const float *v, int vs, int len, float acc)
{
    for (int t = 0; t < len; t += 2) {
        const int odd = t + 1 < len;
        acc = step(acc, u[t * us], odd ? u[(t + 1) * us] : 0.0f, v[t * vs], odd ? v[(t + 1) * vs] : 0.0f);
    }
    return acc;
}

/* The im2col path's db of one plane: 4 double lanes, added in a fixed order. */
static float ref_plane_sum4(const float *v, int len)
{
    double acc[4] = {0, 0, 0, 0};
    int q = 0;
    for (; q + 4 <= len; q += 4)
        for (int u = 0; u < 4; u++) acc[u] += (double)v[q + u];
    for (; q < len; q++) acc[0] += (double)v[q];
    return (float)((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

typedef struct {
    float *x, *w, *b, *y, *pool, *dy, *dx, *grad; /* grad: nmb copies of (dw, db) */
    size_t nx, nw, ny, npool, ndy, ngrad, gstride;
} ConvData;

static void conv_data(const ConvCase *t, const ConvGeom *g, ConvData *d, uint32_t seed)
{
    const size_t P = (size_t)g->oh * g->ow;
    d->nx = (size_t)t->n * t->c * t->h * t->w, d->nw = (size_t)t->oc * t->c * t->k * t->k;
    d->ny = (size_t)t->n * t->oc * P, d->npool = (size_t)t->n * t->oc * (g->oh / 2) * (g->ow / 2);
    d->ndy = t->pool ? d->npool : d->ny;
    const ConvChunks ck = conv_chunks(t->n, t->mb);
    d->gstride = d->nw + (size_t)t->oc, d->ngrad = (size_t)ck.nmb * d->gstride;
    d->x = rnd_floats(d->nx, seed, 1.0f), d->w = rnd_floats(d->nw, seed + 1, 0.5f);
    d->b = rnd_floats((size_t)t->oc, seed + 2, 0.1f), d->dy = rnd_floats(d->ndy, seed + 3, 1.0f);
    d->y = rnd_floats(d->ny, seed + 4, 1.0f), d->pool = rnd_floats(d->npool, seed + 5, 1.0f);
    d->dx = rnd_floats(d->nx, seed + 6, 1.0f), d->grad = rnd_floats(d->ngrad, seed + 7, 1.0f);
}

static void conv_data_free(ConvData *d)
{
    free(d->x), free(d->w), free(d->b), free(d->y), free(d->pool), free(d->dy), free(d->dx), free(d->grad);
}

/* The reference of the channel-pair path (stride 1: forward and dX by
 * channel pairs, dW by pairs of positions in the padded numbering) or the
 * im2col path (pair chains of the gemm); db by 4 double lanes in both. Fills r's y, pool, dx, grad from d's
 * inputs (r's grad starts as d's). */
static void ref_conv_im2col(const ConvCase *t, const ConvGeom *g, const ConvData *d, ConvData *r)
{
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, oc = t->oc;
    const size_t img = (size_t)g->c * g->h * g->w, oimg = (size_t)oc * P;
    const size_t pimg = (size_t)oc * (g->oh / 2) * (g->ow / 2);
    float *col = malloc(sizeof(float) * (size_t)K * P), *dm = malloc(sizeof(float) * oimg);
    float *dcol = malloc(sizeof(float) * (size_t)K * P);
    ck_assert(col && dm && dcol);
    for (int s = 0; s < t->n; s++) {
        ref_im2col(g, d->x + s * img, col);
        for (int o = 0; o < oc; o++)
            for (int q = 0; q < P; q++) {
                float v = stride1(g) ? ref_pair_forward(g, d->x + s * img, d->w, o, q / g->ow, q % g->ow)
                                     : ref_pairs(d->w + (size_t)o * K, 1, col + q, P, K, 0.0f);
                v += d->b[o];
                if (t->relu && !(v > 0.0f)) v = 0.0f;
                r->y[s * oimg + (size_t)o * P + q] = v;
            }
        if (t->pool) pool_max2x2_sample(r->y + s * oimg, oc, g->oh, g->ow, r->pool + s * pimg);
    }
    const ConvChunks ck = conv_chunks(t->n, t->mb);
    const size_t np = (size_t)oc * K + (size_t)oc;
    float *parts = malloc(sizeof(float) * np * (size_t)ck.nch);
    ck_assert_ptr_nonnull(parts);
    for (int c = 0; c < ck.nch; c++) {
        int s0, s1;
        conv_chunk_samples(&ck, c, &s0, &s1);
        float *pw = parts + (size_t)c * np, *pb = pw + (size_t)oc * K;
        for (int s = s0; s < s1; s++) {
            const float *dys = d->dy + s * (t->pool ? pimg : oimg);
            if (t->relu) {
                pool_relu_grad(r->y + s * oimg, dys, t->pool, oc, g->oh, g->ow, dm);
                dys = dm;
            }
            ref_im2col(g, d->x + s * img, col);
            for (int o = 0; o < oc; o++) {
                for (int k = 0; k < K; k++)
                    pw[o * K + k] = stride1(g) ? ref_pair_dw(g, d->x + s * img, dys, o, k, s == s0 ? 0.0f : pw[o * K + k])
                                               : ref_pairs(dys + o * P, 1, col + (size_t)k * P, 1, P,
                                                           s == s0 ? 0.0f : pw[o * K + k]);
                const float sum = ref_plane_sum4(dys + o * P, P);
                pb[o] = s == s0 ? sum : pb[o] + sum;
            }
            if (stride1(g)) {
                for (int c2 = 0; c2 < g->c; c2++)
                    for (int yy = 0; yy < g->h; yy++)
                        for (int xx = 0; xx < g->w; xx++)
                            r->dx[s * img + ((size_t)c2 * g->h + yy) * g->w + xx] =
                                ref_pair_dx(g, oc, dys, d->w, c2, yy, xx);
                continue;
            }
            for (int k = 0; k < K; k++)
                for (int q = 0; q < P; q++)
                    dcol[(size_t)k * P + q] = ref_pairs(d->w + k, K, dys + q, P, oc, 0.0f);
            ref_col2im(g, dcol, r->dx + s * img);
        }
    }
    for (size_t i = 0; i < np; i++) conv_fold_parts(&ck, parts + i, np, r->grad + i, d->gstride);
    free(col), free(dm), free(dcol), free(parts);
}

/* Runs the kernels in Math m on d (y NULL when recomputed); forward then backward. */
static void run_conv(Math m, const ConvCase *t, const ConvGeom *g, ConvData *d)
{
    ConvFuse f = {t->relu, t->pool ? d->pool : NULL};
    const int keep = !(t->pool && rounds(g));
    float *ws = malloc(sizeof(float) * (size_t)t->n * conv_ws_per_sample(g, t->oc));
    ck_assert_ptr_nonnull(ws);
    conv_forward(m, g, t->oc, d->x, d->w, d->b, t->n, &f, keep ? d->y : NULL, ws);
    conv_backward(m, g, t->oc, d->x, d->w, d->b, keep ? d->y : NULL, &f, d->dy, t->n, d->dx, d->grad,
                  d->grad + d->nw, t->mb, d->gstride, ws);
    free(ws);
}

static void copy_data(const ConvData *a, ConvData *b)
{
    memcpy(b->x, a->x, a->nx * sizeof(float)), memcpy(b->w, a->w, a->nw * sizeof(float));
    memcpy(b->b, a->b, (a->gstride - a->nw) * sizeof(float)), memcpy(b->y, a->y, a->ny * sizeof(float));
    memcpy(b->pool, a->pool, a->npool * sizeof(float)), memcpy(b->dy, a->dy, a->ndy * sizeof(float));
    memcpy(b->dx, a->dx, a->nx * sizeof(float)), memcpy(b->grad, a->grad, a->ngrad * sizeof(float));
}

static void expect_same(const char *what, int ci, const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0, "conv case %d %s[%zu]: %a, reference %a", ci,
                      what, i, (double)got[i], (double)want[i]);
}

/* Forward (y, pool), dX, dW, db of each case in bf16, exactly the
 * reference: the im2col path's pair chains, or the fp32 kernels on
 * bf16-rounded x, w, dy; the same with 1 and 2 threads. */
START_TEST(conv_bf16_exact)
{
    if (!bf16_or_skip("conv_bf16_exact")) return;
    probe_model();
    const ConvCase *t = &CONVS[_i];
    const ConvGeom g = geom_of(t);
    ConvData d, got, got2, want;
    conv_data(t, &g, &d, 100u + (uint32_t)_i);
    conv_data(t, &g, &got, 1);
    conv_data(t, &g, &got2, 1);
    conv_data(t, &g, &want, 1);
    copy_data(&d, &got), copy_data(&d, &got2), copy_data(&d, &want);
    set_threads(1);
    run_conv(MATH_BF16_DP, t, &g, &got);
    set_threads(2);
    run_conv(MATH_BF16_DP, t, &g, &got2);
    if (rounds(&g)) {
        for (size_t i = 0; i < d.nx; i++) want.x[i] = bf16_round(want.x[i]);
        for (size_t i = 0; i < d.nw; i++) want.w[i] = bf16_round(want.w[i]);
        for (size_t i = 0; i < d.ndy; i++) want.dy[i] = bf16_round(want.dy[i]);
        run_conv(MATH_FP32, t, &g, &want);
    } else {
        ref_conv_im2col(t, &g, &d, &want);
    }
    const int keep = !(t->pool && rounds(&g));
    if (keep) expect_same("y", _i, got.y, want.y, d.ny);
    if (t->pool) expect_same("pool", _i, got.pool, want.pool, d.npool);
    expect_same("dx", _i, got.dx, want.dx, d.nx);
    expect_same("dw, db", _i, got.grad, want.grad, d.ngrad);
    if (keep) expect_same("y (2 threads)", _i, got2.y, got.y, d.ny);
    if (t->pool) expect_same("pool (2 threads)", _i, got2.pool, got.pool, d.npool);
    expect_same("dx (2 threads)", _i, got2.dx, got.dx, d.nx);
    expect_same("dw, db (2 threads)", _i, got2.grad, got.grad, d.ngrad);
    conv_data_free(&d), conv_data_free(&got), conv_data_free(&got2), conv_data_free(&want);
}
END_TEST

/* ---- whole nets in each Math ---------------------------------------------- */

/* Small nets and how close bf16's gradients must be to fp32's (a share of
 * the largest): a relu whose input is near 0 may flip in bf16 and pass or
 * stop a whole gradient, so nets with relus get a loose bound (measured:
 * up to 14% with batchnorm over 10 samples), the net without one a tight
 * one (measured 0.5%). Logits: within 3% everywhere (measured 0.5%). */
typedef struct {
    const char *text;
    double grad_tol;
} NetCase;
static const NetCase NETS[] = {
    {"input 1x28x28\nflatten\ndense 64\nrelu\ndense 10\n", 0.25},
    {"input 1x12x12\nconv 8 3 pad=1\nrelu\nmaxpool 2\nconv 12 3 pad=1\nrelu\nmaxpool 2\nflatten\ndense 10\n", 0.25},
    {"input 3x9x9\nconv 5 3 stride=2 pad=1\nrelu\nconv 6 3 pad=1\nbatchnorm\nrelu\nflatten\ndense 10\n", 0.25},
    {"input 2x10x10\nconv 4 3 pad=1\nconv 6 3 pad=1\nflatten\ndense 10\n", 0.02},
};
enum { NNETS = sizeof NETS / sizeof NETS[0] };

/* Logits and gradients of one forward + backward of net text t in Math m. */
static void net_run(const char *t, Math m, int n, float **logits, float **grads, size_t *nl, size_t *np)
{
    NetSpec c;
    Err e;
    Net *net;
    ck_assert_int_eq(cfg_parse_text("t.cfg", t, &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, n, &net, &e), ST_OK);
    net_init(net, 7);
    net_set_math(net, m);
    const size_t in = (size_t)net->in.c * (size_t)net->in.h * (size_t)net->in.w;
    float *x = rnd_floats((size_t)n * in, 3, 1.0f), *dl = rnd_floats((size_t)n * 10, 4, 0.1f);
    net_zero_grad(net);
    const float *z = net_forward(net, x, n, MODE_TRAIN, 1);
    *nl = (size_t)n * 10;
    *logits = malloc(*nl * sizeof **logits);
    ck_assert_ptr_nonnull(*logits);
    memcpy(*logits, z, *nl * sizeof **logits);
    net_backward(net, x, dl, n);
    *np = net->nparams;
    *grads = malloc(*np * sizeof **grads);
    ck_assert_ptr_nonnull(*grads);
    memcpy(*grads, net->grads, *np * sizeof **grads);
    free(x), free(dl);
    net_free(net);
}

/* Each Math this CPU runs, forced on a small net: fp32 and bf16 close (the
 * bounds of NETS) but not equal; bf16 the same with 1 and 2 threads. */
START_TEST(nets_in_each_math)
{
    const char *t = NETS[_i].text;
    const int n = 10;
    float *l32, *g32, *l16, *g16, *l16b, *g16b;
    size_t nl, np;
    net_run(t, MATH_FP32, n, &l32, &g32, &nl, &np);
    for (size_t q = 0; q < nl; q++) ck_assert(isfinite(l32[q]));
    if (!bf16_or_skip("nets_in_each_math (bf16 tier)")) {
        free(l32), free(g32);
        return;
    }
    set_threads(1);
    net_run(t, MATH_BF16_DP, n, &l16, &g16, &nl, &np);
    set_threads(2);
    net_run(t, MATH_BF16_DP, n, &l16b, &g16b, &nl, &np);
    ck_assert_int_eq(memcmp(l16, l16b, nl * sizeof *l16), 0);
    ck_assert_int_eq(memcmp(g16, g16b, np * sizeof *g16), 0);
    double lmax = 0, ld = 0, gmax = 0, gd = 0;
    for (size_t q = 0; q < nl; q++) {
        lmax = fmax(lmax, fabs(l32[q]));
        ld = fmax(ld, fabs((double)l32[q] - l16[q]));
    }
    for (size_t q = 0; q < np; q++) {
        gmax = fmax(gmax, fabs(g32[q]));
        gd = fmax(gd, fabs((double)g32[q] - g16[q]));
    }
    ck_assert_msg(ld > 0 && gd > 0, "bf16 gave fp32's bits (net %d)", _i);
    ck_assert_msg(ld <= 0.03 * lmax && gd <= NETS[_i].grad_tol * gmax, "net %d: logits off by %g of %g, grads by %g of %g", _i, ld,
                  lmax, gd, gmax);
    free(l32), free(g32), free(l16), free(g16), free(l16b), free(g16b);
}
END_TEST

Suite *bf16_suite(void)
{
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, probe_distinguishes_models);
    tcase_add_test(tc, bf16_bits_round_to_nearest_even);
    tcase_add_loop_test(tc, gemm_bf16_exact, 0, VAR_COUNT);
    tcase_add_test(tc, gemm_bf16_mb_split);
    tcase_add_test(tc, gemm_bf16_close_to_fp32);
    tcase_add_test(tc, choose_math);
    tcase_add_loop_test(tc, conv_bf16_exact, 0, NCONVS);
    tcase_add_loop_test(tc, nets_in_each_math, 0, NNETS);
    suite_add_tcase(s, tc);
    return s;
}
