/* bench_fmnist.c - the speed figures of `make bench` (a benchmark, not a test:
 * it prints numbers and never fails on timing).
 *
 * For one thread count it measures the machine's fp32 FMA peak (independent
 * chains on every thread), each kernel at the shapes the two models use at
 * batch 128 as GFLOP/s and % of that peak; where the CPU has AVX512_BF16
 * (it prints the features cpu_detect found) the bf16 dot-product peak and
 * every kernel again in MATH_BF16_DP (% of the bf16 peak, speed against
 * the fp32 row); then trains the MLP (full 60000-
 * image epochs) and the conv net (a fixed number of batches, extrapolated to
 * an epoch) on the real data, and times evaluation. Every figure is the median
 * of several repetitions. tools/bench.sh runs it per thread count and adds
 * PyTorch's figures beside it.
 *
 *   bench_fmnist --threads N [--data DIR] [--results FILE] [--reps R] [--cnn-batches B]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "data/dataset.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/math.h"
#include "kernels/peak.h"
#include "model/cfg.h"
#include "nn/net.h"
#include "train/train.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int g_reps = 5;
static FILE *g_results;
static double g_peak, g_peak_bf16; /* flop/s; g_peak_bf16 0 without AVX512_BF16 */
static CpuFeatures g_cpu;

static void result(const char *key, double v)
{
    if (g_results) fprintf(g_results, "%s=%.6g\n", key, v);
}

/* Seconds per call of fn(ctx): the median of g_reps runs, each repeating the
 * call for at least ~40 ms (after one warm-up call). */
typedef void (*BenchFn)(void *ctx);
static double time_call(BenchFn fn, void *ctx)
{
    fn(ctx);
    double t0 = now();
    fn(ctx);
    double one = now() - t0;
    int inner = one > 0.04 ? 1 : (int)(0.04 / (one > 1e-7 ? one : 1e-7)) + 1;
    double v[32];
    int reps = g_reps < 32 ? g_reps : 32;
    for (int r = 0; r < reps; r++) {
        t0 = now();
        for (int i = 0; i < inner; i++) fn(ctx);
        v[r] = (now() - t0) / inner;
    }
    return median(v, reps);
}

static float *rand_floats(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_fmnist: out of memory\n");
        exit(1);
    }
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        p[i] = (float)((double)(s >> 8) / (double)(1u << 23) - 1.0);
    }
    return p;
}

/* ---- peak --------------------------------------------------------------- */

static void bench_peak(int threads)
{
    double v[16];
    long iters = 2000000;
    peak_fma(iters / 10, threads);
    for (int r = 0; r < g_reps && r < 16; r++) {
        double t0 = now();
        double flops = peak_fma(iters, threads);
        v[r] = flops / (now() - t0);
    }
    /* the best run is the ceiling; the median is noisier on shared machines */
    qsort(v, (size_t)(g_reps < 16 ? g_reps : 16), sizeof *v, cmp_double);
    g_peak = v[(g_reps < 16 ? g_reps : 16) - 1];
    printf("measured fp32 FMA peak: %.0f GFLOP/s (independent AVX-512 FMA chains on %d thread%s)\n", g_peak / 1e9,
           threads, threads == 1 ? "" : "s");
    result("peak_gflops", g_peak / 1e9);
    if (g_cpu.avx512_bf16) {
        iters /= 2;
        peak_bf16(iters / 10, threads);
        for (int r = 0; r < g_reps && r < 16; r++) {
            double t0 = now();
            double flops = peak_bf16(iters, threads);
            v[r] = flops / (now() - t0);
        }
        qsort(v, (size_t)(g_reps < 16 ? g_reps : 16), sizeof *v, cmp_double);
        g_peak_bf16 = v[(g_reps < 16 ? g_reps : 16) - 1];
        printf("measured bf16 peak: %.0f GFLOP/s (independent AVX512_BF16 vdpbf16ps chains, %.2fx the fp32 peak)\n",
               g_peak_bf16 / 1e9, g_peak_bf16 / g_peak);
        result("peak_bf16_gflops", g_peak_bf16 / 1e9);
    } else {
        printf("bf16 peak: not measured (no AVX512_BF16)\n");
    }
    printf("\n");
}

/* The CPU and the features cpu_detect found. */
static void print_cpu(void)
{
    cpu_detect(&g_cpu);
    printf("CPU: %s; AVX-512 %s, AVX512_BF16 %s, AMX-BF16 %s\n", g_cpu.name[0] ? g_cpu.name : "(unnamed)",
           g_cpu.avx512 ? "yes" : "no", g_cpu.avx512_bf16 ? "yes" : "no",
           g_cpu.amx_bf16 ? "yes (not used by fmnist yet)" : "no");
}

/* ---- kernels ------------------------------------------------------------ */

typedef struct {
    char var; /* 'n' nn, 't' nt, 'T' tn */
    int M, N, K;
    float *a, *b, *c;
    Math m;
} GemmCase;

static void run_gemm(void *p)
{
    GemmCase *g = p;
    if (g->var == 'n') gemm_nn(g->m, g->M, g->N, g->K, g->a, g->K, g->b, g->N, 0.0f, g->c, g->N);
    if (g->var == 't') gemm_nt(g->m, g->M, g->N, g->K, g->a, g->K, g->b, g->K, 0.0f, g->c, g->N);
    if (g->var == 'T') gemm_tn(g->m, g->M, g->N, g->K, g->a, g->M, g->b, g->N, 1.0f, g->c, g->N);
}

/* The Math of the table being printed, and each fp32 row's time (row
 * order), which the bf16 table compares with. */
static Math g_math;
static double g_fp32_secs[64];
static int g_row;

static void kernel_row(const char *name, const char *shape, double flops, double secs)
{
    double gf = flops / secs / 1e9;
    if (g_math == MATH_FP32) {
        if (g_row < 64) g_fp32_secs[g_row] = secs;
        printf("| %-34s | %-22s | %8.1f | %5.1f%% | %9.3f |\n", name, shape, gf, 100.0 * gf * 1e9 / g_peak,
               secs * 1e3);
    } else {
        printf("| %-34s | %-22s | %8.1f | %5.1f%% | %9.3f | %6.2fx |\n", name, shape, gf,
               100.0 * gf * 1e9 / g_peak_bf16, secs * 1e3, g_row < 64 ? g_fp32_secs[g_row] / secs : 0.0);
    }
    g_row++;
}

static void bench_gemm(const char *what, char var, int M, int N, int K)
{
    GemmCase g = {var, M, N, K, rand_floats((size_t)M * K, 1), rand_floats((size_t)K * N, 2),
                  rand_floats((size_t)M * N, 3), g_math};
    double s = time_call(run_gemm, &g);
    char name[64], shape[48];
    snprintf(name, sizeof name, "gemm_%s %s", var == 'n' ? "nn" : var == 't' ? "nt" : "tn", what);
    snprintf(shape, sizeof shape, "%dx%dx%d", M, N, K);
    kernel_row(name, shape, 2.0 * M * N * K, s);
    free(g.a), free(g.b), free(g.c);
}

typedef struct {
    ConvGeom g;
    int oc, n, back, need_dx;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *ws;
    Math m;
} ConvCase;

static void run_conv(void *p)
{
    ConvCase *c = p;
    if (!c->back)
        conv_forward(c->m, &c->g, c->oc, c->x, c->w, c->b, c->n, NULL, c->y, c->ws);
    else
        conv_backward(c->m, &c->g, c->oc, c->x, c->w, c->b, c->y, NULL, c->dy, c->n, c->need_dx ? c->dx : NULL, c->dw, c->db, 0, 0, c->ws);
}

static void bench_conv(const char *what, int cin, int hw, int oc, int n, int need_dx)
{
    ConvCase c = {{cin, hw, hw, 3, 3, 1, 1, 1, 1, hw, hw}, oc, n, 0, need_dx, NULL, NULL, NULL, NULL, NULL,
                  NULL, NULL, NULL, NULL, g_math};
    const size_t nx = (size_t)n * cin * hw * hw, ny = (size_t)n * oc * hw * hw, K = (size_t)cin * 9;
    c.x = rand_floats(nx, 4), c.w = rand_floats(K * oc, 5), c.b = rand_floats(oc, 6);
    c.y = rand_floats(ny, 7), c.dy = rand_floats(ny, 8), c.dx = rand_floats(nx, 9);
    c.dw = rand_floats(K * oc, 10), c.db = rand_floats(oc, 11);
    c.ws = rand_floats((size_t)n * conv_ws_per_sample(&c.g, oc), 12);
    const double f = 2.0 * (double)n * (double)oc * (double)K * hw * hw;
    char name[64], shape[48];
    snprintf(shape, sizeof shape, "%dx%dx%dx%d->%d", n, cin, hw, hw, oc);
    snprintf(name, sizeof name, "conv forward %s", what);
    kernel_row(name, shape, f, time_call(run_conv, &c));
    c.back = 1;
    snprintf(name, sizeof name, "conv backward %s%s", what, need_dx ? " (dW, dX)" : " (dW only)");
    kernel_row(name, shape, f * (need_dx ? 2 : 1), time_call(run_conv, &c));
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.dy), free(c.dx), free(c.dw), free(c.db), free(c.ws);
}

/* The kernel table in Math m (bf16: % of the bf16 peak and the speed
 * against the fp32 table's row, which must have run first). */
static void bench_kernels(Math m)
{
    g_math = m;
    g_row = 0;
    if (m == MATH_FP32) {
        printf("| %-34s | %-22s | %8s | %6s | %9s |\n", "kernel (batch 128)", "shape (MxNxK)", "GFLOP/s", "% peak",
               "ms/call");
        printf("|%s|%s|%s|%s|%s|\n", "------------------------------------", "------------------------",
               "----------", "--------", "-----------");
    } else {
        printf("| %-34s | %-22s | %8s | %6s | %9s | %7s |\n", "bf16 kernel (batch 128)", "shape (MxNxK)", "GFLOP/s",
               "% bf16", "ms/call", "vs fp32");
        printf("|%s|%s|%s|%s|%s|%s|\n", "------------------------------------", "------------------------",
               "----------", "--------", "-----------", "---------");
    }
    bench_gemm("MLP fc1 forward", 't', 128, 256, 784);
    bench_gemm("MLP fc1 dW", 'T', 256, 784, 128);
    bench_gemm("MLP fc2 forward", 't', 128, 128, 256);
    bench_gemm("MLP fc2 dW", 'T', 128, 256, 128);
    bench_gemm("MLP fc2 dX", 'n', 128, 256, 128);
    bench_gemm("MLP 128x784 by 784x256", 'n', 128, 256, 784);
    bench_gemm("conv2 im2col (batch)", 'n', 25088, 64, 288);
    bench_gemm("conv2 im2col, one sample", 'n', 64, 196, 288);
    bench_gemm("CNN fc 3136->128 forward", 't', 128, 128, 3136);
    bench_gemm("CNN fc 3136->128 dW", 'T', 128, 3136, 128);
    bench_conv("conv1 3x3", 1, 28, 32, 128, 0);
    bench_conv("conv2 3x3", 32, 14, 64, 128, 1);
    printf("\n");
}

/* ---- training ----------------------------------------------------------- */

typedef struct {
    double secs[64];
    long faults[64];
    int n;
    long last_faults;
} EpochLog;

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static Status on_epoch(void *ctx, const EpochStats *s, const TrainProgress *p, const Net *net, Err *e)
{
    (void)p, (void)net, (void)e;
    EpochLog *l = ctx;
    long f = minor_faults();
    if (l->n < 64) {
        l->secs[l->n] = s->seconds;
        l->faults[l->n] = f - l->last_faults;
        l->n++;
    }
    l->last_faults = f;
    return ST_OK;
}

static void eval_call(void *p)
{
    void **a = p;
    double loss, acc;
    Err e;
    train_evaluate(a[0], a[1], &loss, &acc, &e);
}

/* Trains `epochs` epochs of `limit` images (0: all) with Adam 1e-3, batch 128;
 * prints images/s and seconds per 60000-image epoch (the median epoch). */
static int bench_train(const char *label, const char *key, const char *model, Precision prec, const Dataset *train,
                       const Dataset *test, int limit, int epochs)
{
    NetSpec cfg;
    Err e;
    Net *net;
    if (cfg_parse_file(model, &cfg, &e) || net_build(&cfg, 128, &net, &e)) {
        fprintf(stderr, "bench_fmnist: %s\n", e.msg);
        return 1;
    }
    net_init(net, 1);
    Dataset sub = *train;
    if (limit > 0 && limit < sub.n) sub.n = limit;
    /* micro-batches of 32: what `fmnist train` does by default */
    TrainConfig tc = {.epochs = epochs + 1, .batch = 128, .micro_batch = 32, .seed = 1, .opt = optim_defaults(),
                      .precision = prec};
    EpochLog log = {.last_faults = minor_faults()};
    TrainHooks hooks = {.on_epoch = on_epoch, .ctx = &log};
    if (train_run(net, &sub, test, &tc, NULL, &hooks, &e)) {
        fprintf(stderr, "bench_fmnist: %s\n", e.msg);
        net_free(net);
        return 1;
    }
    /* the first epoch warms up (first touch of buffers): left out */
    double secs[64];
    long faults = 0;
    for (int i = 1; i < log.n; i++) secs[i - 1] = log.secs[i], faults = log.faults[i] > faults ? log.faults[i] : faults;
    double s = median(secs, log.n - 1) * 60000.0 / sub.n;
    char what[96];
    if (sub.n == 60000)
        snprintf(what, sizeof what, "median of %d full epochs", log.n - 1);
    else
        snprintf(what, sizeof what, "median of %d runs of %d batches, x%.1f", log.n - 1, (sub.n + 127) / 128,
                 60000.0 / sub.n);
    printf("| %-28s | %10.0f | %8.2f | %-40s |\n", label, 60000.0 / s, s, what);
    char k[64];
    snprintf(k, sizeof k, "%s_epoch_s", key);
    result(k, s);
    snprintf(k, sizeof k, "%s_faults_per_epoch", key);
    result(k, (double)faults);
    void *args[2] = {net, (void *)test};
    double es = time_call(eval_call, args);
    snprintf(what, sizeof what, "%d test images, batch 128", test->n);
    char el[64];
    snprintf(el, sizeof el, "%s evaluation", label);
    printf("| %-28s | %10.0f | %8s | %-40s |\n", el, test->n / es, "", what);
    snprintf(k, sizeof k, "%s_eval_img_s", key);
    result(k, test->n / es);
    snprintf(el, sizeof el, "%s page faults", label);
    snprintf(what, sizeof what, "most in one epoch after the first");
    printf("| %-28s | %10ld | %8s | %-40s |\n", el, faults, "", what);
    net_free(net);
    return 0;
}

int main(int argc, char **argv)
{
    int threads = 0, cnn_batches = 60;
    const char *data = NULL, *results = NULL, *only = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--results") && i + 1 < argc)
            results = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            g_reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--cnn-batches") && i + 1 < argc)
            cnn_batches = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_fmnist [--threads N] [--data DIR] [--results FILE] [--reps R] "
                            "[--cnn-batches B] [--only kernels|train]\n");
            return 2;
        }
    }
    if (g_reps < 1) g_reps = 1;
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads(threads);
    threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    if (results && !(g_results = fopen(results, "w"))) {
        perror(results);
        return 1;
    }
    printf("== fmnist, %d thread%s ==\n", threads, threads == 1 ? "" : "s");
    result("threads", threads);
    print_cpu();
    bench_peak(threads);
    if (strcmp(only, "train")) {
        bench_kernels(MATH_FP32);
        if (g_cpu.avx512_bf16) bench_kernels(MATH_BF16_DP);
    }
    if (!strcmp(only, "kernels")) return 0;

    char dir[4096];
    Err e;
    Dataset train, test;
    if (data_find_dir(data, getenv("FMNIST_DATA"), dir, sizeof dir, &e) || data_load(dir, "train", 10, &train, &e) ||
        data_load(dir, "test", 10, &test, &e)) {
        fprintf(stderr, "bench_fmnist: %s\n", e.msg);
        return 1;
    }
    printf("| %-28s | %10s | %8s | %-40s |\n", "training (Adam, batch 128)", "images/s", "s/epoch", "how");
    printf("|------------------------------|------------|----------|------------------------------------------|\n");
    int rc = 0;
    CpuFeatures cpu;
    cpu_detect(&cpu);
    for (int p = 0; p < 2; p++) {
        const Precision prec = p ? PREC_BF16 : PREC_FP32;
        if (prec == PREC_BF16 && !cpu.avx512_bf16) {
            printf("| %-28s | %10s | %8s | %-40s |\n", "bf16 epochs", "-", "-", "this CPU has no AVX512_BF16");
            continue;
        }
        char l1[64], l2[64], l3[64], k1[32], k2[32], k3[32];
        const char *sfx = p ? " bf16" : "", *ksfx = p ? "_bf16" : "";
        snprintf(l1, sizeof l1, "fmnist MLP%s", sfx), snprintf(k1, sizeof k1, "mlp%s", ksfx);
        snprintf(l2, sizeof l2, "fmnist conv net%s", sfx), snprintf(k2, sizeof k2, "cnn%s", ksfx);
        snprintf(l3, sizeof l3, "fmnist cnn-bn%s (no aug)", sfx), snprintf(k3, sizeof k3, "cnnbn%s", ksfx);
        rc |= bench_train(l1, k1, "models/mlp.cfg", prec, &train, &test, 0, g_reps);
        rc |= bench_train(l2, k2, "models/cnn.cfg", prec, &train, &test, cnn_batches * 128, g_reps);
        rc |= bench_train(l3, k3, "models/cnn-bn.cfg", prec, &train, &test, cnn_batches * 128, g_reps);
    }
    dataset_free(&train);
    dataset_free(&test);
    if (g_results) fclose(g_results);
    return rc;
}
