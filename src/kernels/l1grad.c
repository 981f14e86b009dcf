/* l1grad.c - out = g + a*sign(w) (see l1grad.h). Small arrays (biases) run
 * on the calling thread; a parallel region costs more than them. */
#include "kernels/l1grad.h"

#include "kernels/threads.h"

void l1grad_add(size_t n, const float *w, const float *g, float *out, float a)
{
    long len = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (long i = 0; i < len; i++) out[i] = g[i] + a * (float)((w[i] > 0.0f) - (w[i] < 0.0f));
}
