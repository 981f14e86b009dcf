/* threads.h - internal to kernels/: the calling thread's number and the team
 * size a parallel region would get (0 and 1 in a serial build). They only
 * pick scratch slots and cap team sizes, never change a result. */
#ifndef FMNIST_KERNEL_THREADS_H
#define FMNIST_KERNEL_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#else
/* A serial build (make OMP=) compiles the same loops; their pragmas are no-ops. */
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

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
