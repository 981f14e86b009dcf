/* elementwise.c - optimizer update kernels (see elementwise.h). Small arrays
 * (biases) run on the calling thread; a parallel region costs more than them. */
#include "kernels/elementwise.h"

#include <math.h>

/* A serial build (make OMP=) compiles the same loops; its pragmas are no-ops. */
#ifndef _OPENMP
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

#define PAR_MIN 16384

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
