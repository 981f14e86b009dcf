/* bench_microbatch.c - what the canonical micro-batch arithmetic (nn/layer.h:
 * Micro-batches) costs the plain single-process run: one training step
 * (forward + backward, MODE_TRAIN) of a model at a batch size, with no part
 * (the whole batch in one micro-batch) against a part of micro-batches of
 * mb (gstride 0, no team), and dense's dW product alone (gemm_tn against
 * gemm_tn_mb). A benchmark: it prints the best of many repetitions, the two
 * ways taking turns step by step (the machine may be shared), and never
 * fails on timing.
 *
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -O3 -march=native -fopenmp -Isrc \
 *      tools/bench_microbatch.c build/rel/libfmnist.a -lm -o build/rel/bench_microbatch
 *   OMP_NUM_THREADS=2 build/rel/bench_microbatch [MODEL BATCH MB REPS]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/gemm.h"
#include "model/cfg.h"
#include "nn/net.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *random_floats(size_t n, unsigned seed, float lo, float hi)
{
    float *p = malloc(n * sizeof *p);
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = lo + (hi - lo) * (float)((double)(s >> 8) / (double)(1u << 24));
    }
    return p;
}

/* The best seconds of reps steps (forward + backward) with part p. */
static double best_step(Net *net, const float *x, const float *dl, int n, const BatchPart *p, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        net_zero_grad(net);
        net_forward_part(net, x, n, p, MODE_TRAIN, 7 + (uint64_t)r);
        net_backward_part(net, x, dl, n, p);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static int bench_model(const char *model, int batch, int mb, int reps)
{
    NetSpec c;
    Err e;
    Net *net;
    if (cfg_parse_file(model, &c, &e) || net_build(&c, batch, &net, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    net_init(net, 1);
    float *x = random_floats((size_t)batch * shape_numel(net->in), 1, -1, 1);
    float *dl = random_floats((size_t)batch * (size_t)net->nclasses, 2, -0.01f, 0.01f);
    const BatchPart p = {mb, batch, 0, 0, NULL};
    best_step(net, x, dl, batch, NULL, 2); /* warm-up */
    /* step by step in turn, so a busy spell of the machine hits both */
    double whole = 1e30, micro = 1e30;
    for (int r = 0; r < reps; r++) {
        double a = best_step(net, x, dl, batch, NULL, 1), b = best_step(net, x, dl, batch, &p, 1);
        if (a < whole) whole = a;
        if (b < micro) micro = b;
    }
    printf("%-20s batch %4d  whole %8.3f ms  mb %3d %8.3f ms  %+6.2f%%\n", model, batch, 1e3 * whole, mb, 1e3 * micro,
           100.0 * (micro - whole) / whole);
    free(x), free(dl);
    net_free(net);
    return 0;
}

/* dense's dW at the MLP's first layer: [256, 784] += dy^T x over the batch. */
static void bench_gemm(int batch, int mb, int reps)
{
    const int M = 256, N = 784;
    float *A = random_floats((size_t)batch * M, 3, -1, 1), *B = random_floats((size_t)batch * N, 4, -1, 1);
    float *C = calloc((size_t)M * N, sizeof *C);
    double whole = 1e30, micro = 1e30;
    for (int round = 0; round < 5; round++) /* in turn, as above */
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            gemm_tn(MATH_FP32, M, N, batch, A, M, B, N, 1.0f, C, N);
            double t1 = now();
            gemm_tn_mb(MATH_FP32, M, N, batch, A, M, B, N, C, N, mb, 0);
            double t2 = now();
            if (t1 - t0 < whole) whole = t1 - t0;
            if (t2 - t1 < micro) micro = t2 - t1;
        }
    printf("%-20s batch %4d  whole %8.3f ms  mb %3d %8.3f ms  %+6.2f%%\n", "gemm_tn 256x784 dW", batch, 1e3 * whole, mb,
           1e3 * micro, 100.0 * (micro - whole) / whole);
    free(A), free(B), free(C);
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        bench_gemm(128, 32, 50);
        const char *models[] = {"models/mlp.cfg", "models/cnn.cfg", "models/cnn-bn.cfg"};
        const int reps[] = {400, 40, 40};
        for (int i = 0; i < 3; i++)
            if (bench_model(models[i], 128, 32, reps[i])) return 1;
        return 0;
    }
    for (int i = 1; i + 3 < argc; i += 4)
        if (bench_model(argv[i], atoi(argv[i + 1]), atoi(argv[i + 2]), atoi(argv[i + 3]))) return 1;
    return 0;
}
