/* test_microbatch.c - the canonical micro-batch arithmetic (nn/layer.h:
 * Micro-batches; util/team.h): gemm_tn_mb, and whole nets (models/mlp.cfg,
 * cnn.cfg, cnn-bn.cfg and a small net taking conv's im2col path) whose
 * gradients, batchnorm statistics, logits and dropout masks are the same
 * bits whether one process holds the batch or thread "ranks" (tests/
 * team_threads.h) each hold a run of its micro-batches:
 *  - gradients into dw (gstride 0) == into zeroed leaves, then folded;
 *  - 1, 2, 3, 4 ranks == one process: logits rows, folded gradients, the
 *    running statistics on every rank (a batch that is not a multiple of the
 *    micro-batch, a rank with no micro-batch);
 *  - a part that is the whole batch in one micro-batch == no part (the old
 *    code path);
 *  - dropout, dropout2d and augmentation keyed by the sample's index in the
 *    batch. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "data/augment.h"
#include "kernels/gemm.h"
#include "model/cfg.h"
#include "nn/net.h"
#include "team_threads.h"
#include "util/team.h"

enum { SEED = 11 };
static const uint64_t KEY = 0x5eed1234ULL;

/* A small net on 8x8 images: a stride-2 conv (the im2col path), a conv +
 * batchnorm + relu + pool, dropout2d, a flat batchnorm. */
static const char *SMALL_NET = "input 1x8x8\nconv 4 3 stride=2 pad=1\nrelu\nconv 6 3 pad=1\nbatchnorm\nrelu\n"
                               "maxpool 2\ndropout2d 0.3\nflatten\ndropout 0.2\ndense 7\nbatchnorm\nrelu\ndense 3\n";
static const char *const MODELS[] = {"models/mlp.cfg", "models/cnn.cfg", "models/cnn-bn.cfg", NULL /* SMALL_NET */};
enum { NMODELS = 4 };

/* xorshift32 floats in [lo, hi). */
static float *random_floats(size_t n, uint32_t seed, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = lo + (hi - lo) * (float)((double)(s >> 8) / (double)(1u << 24));
    }
    return p;
}

/* The net of model m (an index into MODELS), for batches of max_batch; NULL
 * if it cannot be built (thread ranks cannot ck_assert). */
static Net *build(int m, int max_batch)
{
    NetSpec c;
    Err e;
    Status st = MODELS[m] ? cfg_parse_file(MODELS[m], &c, &e) : cfg_parse_text("small.cfg", SMALL_NET, &c, &e);
    if (st) return NULL;
    Net *net;
    if (net_build(&c, max_batch, &net, &e)) return NULL;
    net_init(net, SEED);
    return net;
}

/* One batch's input and logits' gradient. */
typedef struct {
    int model, n, mb;
    size_t in;    /* floats per sample */
    int ncls;
    float *x, *dl;
} Batch;

static Batch batch_of(int model, int n, int mb)
{
    Net *net = build(model, 1);
    ck_assert_ptr_nonnull(net);
    Batch b = {model, n, mb, shape_numel(net->in), net->nclasses, NULL, NULL};
    net_free(net);
    b.x = random_floats((size_t)n * b.in, 3 + (uint32_t)n, -1.5f, 1.5f);
    b.dl = random_floats((size_t)n * (size_t)b.ncls, 7 + (uint32_t)n, -0.1f, 0.1f);
    return b;
}

/* What a run leaves: the logits, the gradients, the parameter arena
 * (batchnorm's running statistics). */
typedef struct {
    float *logits, *grads, *params;
    size_t nparams;
} Result;

static void result_free(Result *r)
{
    free(r->logits), free(r->grads), free(r->params);
    memset(r, 0, sizeof *r);
}

static Result result_of(const Net *net, const float *z, int n)
{
    Result r = {malloc((size_t)n * (size_t)net->nclasses * sizeof(float) + 1), malloc(net->nparams * sizeof(float)),
                malloc(net->nparams * sizeof(float)), net->nparams};
    memcpy(r.logits, z, (size_t)n * (size_t)net->nclasses * sizeof(float));
    memcpy(r.grads, net->grads, net->nparams * sizeof(float));
    memcpy(r.params, net->params, net->nparams * sizeof(float));
    return r;
}

/* One process, the whole batch: forward and backward with part p (NULL: the
 * old whole-batch path) into zeroed net->grads. */
static Result run_whole(const Batch *b, const BatchPart *p)
{
    Net *net = build(b->model, b->n);
    ck_assert_ptr_nonnull(net);
    net_zero_grad(net);
    const float *z = net_forward_part(net, b->x, b->n, p, MODE_TRAIN, KEY);
    net_backward_part(net, b->x, b->dl, b->n, p);
    Result r = result_of(net, z, b->n);
    net_free(net);
    return r;
}

/* One process, micro-batch j's gradients into leaf j (gstride = nparams),
 * then the leaves folded (team_fold_floats, no team) into zeroed grads. */
static Result run_leaves(const Batch *b)
{
    Net *net = build(b->model, b->n);
    ck_assert_ptr_nonnull(net);
    const int k = (b->n + b->mb - 1) / b->mb;
    const size_t np = net->nparams;
    float *leaves = calloc((size_t)k * np, sizeof(float));
    ck_assert_ptr_nonnull(leaves);
    net_point_grads(net, leaves);
    const BatchPart p = {b->mb, b->n, 0, np, NULL};
    const float *z = net_forward_part(net, b->x, b->n, &p, MODE_TRAIN, KEY);
    net_backward_part(net, b->x, b->dl, b->n, &p);
    net_point_grads(net, NULL);
    net_zero_grad(net);
    team_fold_floats(NULL, net->grads, leaves, k, np, np);
    Result r = result_of(net, z, b->n);
    free(leaves);
    net_free(net);
    return r;
}

static void assert_same(const Result *a, const Result *b, int n, int ncls, const char *what)
{
    ck_assert_msg(a->nparams == b->nparams, "%s: arenas differ", what);
    ck_assert_msg(!memcmp(a->logits, b->logits, (size_t)n * (size_t)ncls * sizeof(float)), "%s: logits differ", what);
    ck_assert_msg(!memcmp(a->grads, b->grads, a->nparams * sizeof(float)), "%s: gradients differ", what);
    ck_assert_msg(!memcmp(a->params, b->params, a->nparams * sizeof(float)), "%s: parameters/buffers differ", what);
}

static const char *model_name(int m) { return MODELS[m] ? MODELS[m] : "small net"; }

/* (b) gradients into dw == into leaves, folded; for mb 8 and 16 (and, on the
 * small net, 5 and 12: chunks of 8 that a micro-batch cuts short). */
START_TEST(test_leaves_fold_to_grads)
{
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    const int m = _i, n = 40;
    const int mbs[] = {8, 16, m == 3 ? 5 : 8, m == 3 ? 12 : 16};
    for (int t = 0; t < 4; t++) {
        if (t >= 2 && m != 3) break;
        Batch b = batch_of(m, n, mbs[t]);
        const BatchPart p = {b.mb, n, 0, 0, NULL};
        Result a = run_whole(&b, &p), c = run_leaves(&b);
        char what[96];
        snprintf(what, sizeof what, "%s, mb %d", model_name(m), b.mb);
        assert_same(&a, &c, n, b.ncls, what);
        /* the micro-batch path was taken: its sums differ from the whole batch's somewhere */
        Result w = run_whole(&b, NULL);
        ck_assert_msg(memcmp(w.grads, a.grads, a.nparams * sizeof(float)), "%s: same as one micro-batch", what);
        result_free(&a), result_free(&c), result_free(&w);
        free(b.x), free(b.dl);
    }
}
END_TEST

/* A part that is the whole batch in one micro-batch is the old path, bit for
 * bit: mb >= n, first 0, gstride 0, no team. */
START_TEST(test_one_micro_batch_is_whole_batch)
{
    const int m = _i, n = 21;
    Batch b = batch_of(m, n, n);
    const BatchPart p = {256, n, 0, 0, NULL};
    Result a = run_whole(&b, NULL), c = run_whole(&b, &p);
    assert_same(&a, &c, n, b.ncls, model_name(m));
    result_free(&a), result_free(&c);
    free(b.x), free(b.dl);
}
END_TEST

/* ---- (c) thread ranks -------------------------------------------------- */

typedef struct {
    const Batch *b;
    int ok[16];
    float *logits;            /* n x ncls: each rank writes its rows */
    Result r[16];             /* each rank's folded gradients and parameters */
} RankArg;

static void rank_run(const Team *t, void *arg, int rank)
{
    RankArg *a = arg;
    const Batch *b = a->b;
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    Net *net = build(b->model, b->n);
    const int k = (b->n + b->mb - 1) / b->mb;
    int j0, j1;
    team_share(k, rank, t->size, &j0, &j1);
    const int s0 = j0 * b->mb, s1 = j1 * b->mb < b->n ? j1 * b->mb : b->n, n = s1 > s0 ? s1 - s0 : 0;
    const size_t np = net ? net->nparams : 0;
    float *leaves = calloc((size_t)(j1 > j0 ? j1 - j0 : 1) * (np ? np : 1), sizeof(float));
    /* a rank that failed still takes part in the collectives? it cannot: fail loudly */
    if (!net || !leaves) abort();
    net_point_grads(net, leaves);
    const BatchPart p = {b->mb, b->n, s0, np, t};
    const float *x = b->x + (size_t)s0 * b->in;
    const float *z = net_forward_part(net, x, n, &p, MODE_TRAIN, KEY);
    memcpy(a->logits + (size_t)s0 * (size_t)b->ncls, z, (size_t)n * (size_t)b->ncls * sizeof(float));
    net_backward_part(net, x, b->dl + (size_t)s0 * (size_t)b->ncls, n, &p);
    net_point_grads(net, NULL);
    net_zero_grad(net);
    team_fold_floats(t, net->grads, leaves, j1 - j0, np, np);
    a->r[rank] = result_of(net, z, 0);
    a->ok[rank] = 1;
    free(leaves);
    net_free(net);
}

/* The batches: not a multiple of mb (21 = 8+8+5; 3 micro-batches on 4 ranks
 * leave rank 0 none), 40 = 16+16+8, and one micro-batch (16 of 16). */
static const int RANK_CASES[][2] = {{21, 8}, {40, 16}, {16, 16}};

START_TEST(test_ranks_match_one_process)
{
    const int m = _i;
    for (size_t c = 0; c < sizeof RANK_CASES / sizeof RANK_CASES[0]; c++) {
        Batch b = batch_of(m, RANK_CASES[c][0], RANK_CASES[c][1]);
        const BatchPart p = {b.mb, b.n, 0, 0, NULL};
        Result want = run_whole(&b, &p);
        for (int nr = 1; nr <= 4; nr++) {
            static RankArg a;
            memset(&a, 0, sizeof a);
            a.b = &b;
            a.logits = calloc((size_t)b.n * (size_t)b.ncls, sizeof(float));
            ck_assert_int_eq(team_threads_run(nr, rank_run, &a), 0);
            char what[128];
            for (int r = 0; r < nr; r++) {
                ck_assert(a.ok[r]);
                snprintf(what, sizeof what, "%s, n %d mb %d, %d ranks, rank %d", model_name(m), b.n, b.mb, nr, r);
                ck_assert_msg(!memcmp(a.r[r].grads, want.grads, want.nparams * sizeof(float)), "%s: gradients differ",
                              what);
                ck_assert_msg(!memcmp(a.r[r].params, want.params, want.nparams * sizeof(float)),
                              "%s: running statistics differ", what);
                result_free(&a.r[r]);
            }
            ck_assert_msg(!memcmp(a.logits, want.logits, (size_t)b.n * (size_t)b.ncls * sizeof(float)),
                          "%s, n %d mb %d, %d ranks: logits differ", model_name(m), b.n, b.mb, nr);
            free(a.logits);
        }
        result_free(&want);
        free(b.x), free(b.dl);
    }
}
END_TEST

/* ---- (d) masks keyed by the sample's index in the batch ------------------ */

/* Forward of dropout and dropout2d in parts: the same rows as the whole
 * batch. */
START_TEST(test_dropout_masks_by_sample)
{
    static const char *text = "input 2x3x3\ndropout2d 0.5\nflatten\ndropout 0.4\ndense 4\n";
    enum { N = 12, IN = 18 };
    NetSpec c;
    Err e;
    Net *whole, *part;
    ck_assert_int_eq(cfg_parse_text("d.cfg", text, &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, N, &whole, &e), ST_OK);
    ck_assert_int_eq(cfg_parse_text("d.cfg", text, &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, N, &part, &e), ST_OK);
    net_init(whole, 1), net_init(part, 1);
    float *x = random_floats(N * IN, 5, 0.5f, 1.5f), zw[N * 4], zp[N * 4];
    const BatchPart all = {4, N, 0, 0, NULL};
    memcpy(zw, net_forward_part(whole, x, N, &all, MODE_TRAIN, KEY), sizeof zw);
    /* samples 4..11, then 0..3, each a part starting at its first sample */
    const BatchPart p1 = {4, N, 4, 0, NULL}, p0 = {4, N, 0, 0, NULL};
    memcpy(zp + 4 * 4, net_forward_part(part, x + 4 * IN, 8, &p1, MODE_TRAIN, KEY), 8 * 4 * sizeof(float));
    memcpy(zp, net_forward_part(part, x, 4, &p0, MODE_TRAIN, KEY), 4 * 4 * sizeof(float));
    ck_assert_mem_eq(zw, zp, sizeof zw);
    /* and not by the position in x: a part at 0 that holds samples 4..7 differs */
    float zq[4 * 4];
    memcpy(zq, net_forward_part(part, x + 4 * IN, 4, &p0, MODE_TRAIN, KEY), sizeof zq);
    ck_assert(memcmp(zq, zw + 4 * 4, sizeof zq) != 0);
    /* (backward: the same masks from l->key and first; test_ranks_match_one_process
     * checks the gradients of nets with both dropouts) */
    free(x);
    net_free(whole), net_free(part);
}
END_TEST

/* aug_apply on a batch's parts (first = the part's first sample) == on the
 * whole batch. */
START_TEST(test_augment_by_sample)
{
    enum { N = 9, HW = 28 * 28 };
    AugConfig a = {2, 1, 1};
    float *x = random_floats((size_t)N * HW, 9, -1, 1), *y = malloc((size_t)N * HW * sizeof(float));
    memcpy(y, x, (size_t)N * HW * sizeof(float));
    aug_apply(&a, x, N, 0, 28, 28, -1.0f, aug_key(3, 4));
    aug_apply(&a, y, 5, 0, 28, 28, -1.0f, aug_key(3, 4));
    aug_apply(&a, y + 5 * HW, 4, 5, 28, 28, -1.0f, aug_key(3, 4));
    ck_assert_mem_eq(x, y, (size_t)N * HW * sizeof(float));
    free(x), free(y);
}
END_TEST

/* ---- gemm_tn_mb --------------------------------------------------------- */

/* gemm_tn_mb == for each micro-batch: T = gemm_tn(beta 0) of its rows (one
 * chain from 0), C_j += T, element by element. */
START_TEST(test_gemm_tn_mb)
{
    static const int shapes[][4] = {{10, 784, 40, 8}, {13, 33, 40, 16}, {256, 130, 37, 7}, {5, 40, 300, 256},
                                    {12, 32, 9, 32}, {3, 5, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], mb = shapes[s][3], k = (K + mb - 1) / mb;
        const int ldc = N + 3;
        const size_t cs = (size_t)M * (size_t)ldc + 5;
        float *A = random_floats((size_t)K * M, 1 + (uint32_t)s, -1, 1), *B = random_floats((size_t)K * N, 2, -1, 1);
        float *C0 = random_floats(cs, 3, -1, 1), *C1 = malloc(cs * sizeof(float)), *T = malloc((size_t)M * N * 4);
        float *L = random_floats(cs * (size_t)k, 4, -1, 1), *L1 = malloc(cs * (size_t)k * sizeof(float));
        memcpy(C1, C0, cs * sizeof(float));
        memcpy(L1, L, cs * (size_t)k * sizeof(float));
        gemm_tn_mb(MATH_FP32, M, N, K, A, M, B, N, C0, ldc, mb, 0);
        gemm_tn_mb(MATH_FP32, M, N, K, A, M, B, N, L, ldc, mb, cs);
        for (int j = 0; j < k; j++) {
            const int r0 = j * mb, kr = K - r0 < mb ? K - r0 : mb;
            gemm_tn(MATH_FP32, M, N, kr, A + (size_t)r0 * M, M, B + (size_t)r0 * N, N, 0.0f, T, N);
            for (int i = 0; i < M; i++)
                for (int c = 0; c < N; c++) {
                    C1[(size_t)i * ldc + c] += T[(size_t)i * N + c];
                    L1[(size_t)j * cs + (size_t)i * ldc + c] += T[(size_t)i * N + c];
                }
        }
        ck_assert_msg(!memcmp(C0, C1, cs * sizeof(float)), "gemm_tn_mb %dx%dx%d mb %d, cstride 0", M, N, K, mb);
        ck_assert_msg(!memcmp(L, L1, cs * (size_t)k * sizeof(float)), "gemm_tn_mb %dx%dx%d mb %d, leaves", M, N, K, mb);
        /* one micro-batch on a zeroed C: gemm_tn with beta 1 */
        if (K <= GEMM_MB_MAX) {
            memset(C0, 0, cs * sizeof(float)), memset(C1, 0, cs * sizeof(float));
            gemm_tn_mb(MATH_FP32, M, N, K, A, M, B, N, C0, ldc, K, 0);
            gemm_tn(MATH_FP32, M, N, K, A, M, B, N, 1.0f, C1, ldc);
            ck_assert_mem_eq(C0, C1, cs * sizeof(float));
        }
        free(A), free(B), free(C0), free(C1), free(T), free(L), free(L1);
    }
}
END_TEST

Suite *microbatch_suite(void)
{
    Suite *s = suite_create("microbatch");
    TCase *tc = tcase_create("microbatch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gemm_tn_mb);
    tcase_add_loop_test(tc, test_leaves_fold_to_grads, 0, NMODELS);
    tcase_add_loop_test(tc, test_one_micro_batch_is_whole_batch, 0, NMODELS);
    tcase_add_loop_test(tc, test_ranks_match_one_process, 0, NMODELS);
    tcase_add_test(tc, test_dropout_masks_by_sample);
    tcase_add_test(tc, test_augment_by_sample);
    suite_add_tcase(s, tc);
    return s;
}
