/* elementwise.c - the optimizer updates and element-wise layer passes (see
 * elementwise.h). Small arrays (biases) run on the calling thread; a parallel
 * region costs more than them (PAR_MIN, threads.h). */
#include "kernels/elementwise.h"

#include <math.h>
#include <string.h>

#include "kernels/threads.h"
#include "util/rng.h"

void ew_sgd(size_t n, float *restrict w, const float *restrict g, float *restrict b, float lr, float wd, float mu,
            int nesterov, int first)
{
    long len = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (long i = 0; i < len; i++) {
        float gi = g[i] + wd * w[i];
        if (mu != 0.0f) {
            b[i] = first ? gi : mu * b[i] + gi;
            gi = nesterov ? gi + mu * b[i] : b[i];
        }
        w[i] -= lr * gi;
    }
}

void ew_adam(size_t n, float *restrict w, const float *restrict g, float *restrict m, float *restrict v, float l2,
             float shrink, float b1, float b2, float step, float bc2_sqrt, float eps)
{
    long len = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (long i = 0; i < len; i++) {
        float gi = g[i] + l2 * w[i];
        w[i] *= shrink;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

void ew_relu(size_t n, const float *restrict x, float *restrict y)
{
    long len = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (long i = 0; i < len; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ew_relu_backward(size_t n, const float *restrict x, const float *restrict dy, float *restrict dx)
{
    long len = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (long i = 0; i < len; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

/* The hash costs ~10 integer multiplies per element: parallel from fewer
 * elements than the plain passes. */
void ew_dropout(size_t n, const float *restrict x, float *restrict y, uint64_t key, uint64_t offset, float p,
                float scale)
{
    long len = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN / 4)
    for (long i = 0; i < len; i++) y[i] = rng_hash_uniform(key, offset + (uint64_t)i) >= p ? x[i] * scale : 0.0f;
}

void ew_add_bias(size_t rows, size_t cols, size_t inner, float *restrict y, const float *restrict b)
{
    long planes = (long)(rows * cols);
    if (inner == 1) {
        /* dense: short rows; one pass, rows split between threads */
        long r = (long)rows, c = (long)cols;
#pragma omp parallel for schedule(static) if (rows * cols >= PAR_MIN)
        for (long i = 0; i < r; i++) {
            float *yi = y + i * c;
#pragma omp simd
            for (long j = 0; j < c; j++) yi[j] += b[j];
        }
        return;
    }
#pragma omp parallel for schedule(static) if (rows * cols * inner >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        float *yp = y + (size_t)pl * inner;
        const float bj = b[(size_t)pl % cols];
#pragma omp simd
        for (size_t q = 0; q < inner; q++) yp[q] += bj;
    }
}

void ew_add_bias_relu(size_t rows, size_t cols, float *restrict y, const float *restrict b)
{
    long r = (long)rows, c = (long)cols;
#pragma omp parallel for schedule(static) if (rows * cols >= PAR_MIN)
    for (long i = 0; i < r; i++) {
        float *yi = y + i * c;
#pragma omp simd
        for (long j = 0; j < c; j++) {
            const float v = yi[j] + b[j];
            yi[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

void ew_gather_lut(size_t n, size_t hw, const uint8_t *restrict src, const uint32_t *restrict idx,
                   const float *restrict lut, float *restrict x)
{
    long len = (long)n;
#pragma omp parallel for schedule(static) if (n * hw >= PAR_MIN)
    for (long i = 0; i < len; i++) {
        const uint8_t *s = src + (size_t)idx[i] * hw;
        float *d = x + (size_t)i * hw;
        if (i + 2 < len) /* images are scattered: fetch one ahead of the next */
            for (size_t j = 0; j < hw; j += 64) __builtin_prefetch(src + (size_t)idx[i + 2] * hw + j, 0, 0);
        for (size_t j = 0; j < hw; j++) d[j] = lut[s[j]];
    }
}

/* An exponent of all ones marks inf and NaN: integer operations, so the
 * loop vectorizes without -ffast-math. */
int ew_all_finite(size_t n, const float *restrict v)
{
    long len = (long)n;
    uint32_t bad = 0;
#pragma omp parallel for simd schedule(static) reduction(| : bad) if (n >= 4 * PAR_MIN)
    for (long i = 0; i < len; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}
