/* threads.h - for kernels/ (and nn/batchnorm.c, whose channel loops are its
 * own kernels): when a loop goes parallel, the calling
 * thread's number and the team size a parallel region would get (0 and 1 in
 * a serial build). They only pick scratch slots, cap team sizes and decide
 * whether to wake a team, never change a result. */
#ifndef FMNIST_KERNEL_THREADS_H
#define FMNIST_KERNEL_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#else
/* A serial build (make OMP=) compiles the same loops; their pragmas are no-ops. */
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

/* Loops touching fewer floats (or, for a convolution, multiply-adds) than
 * this run on the calling thread: a parallel region costs microseconds (much
 * more when the cores are shared), and the gradient checks call the kernels
 * thousands of times on tiny arrays. Where the line falls changes the speed
 * only, never a result. (gemm_run has its own line, in flops.) */
#define PAR_MIN 16384

static inline int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

#endif
