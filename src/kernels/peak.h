/* peak.h - the machine's fp32 FMA peak, measured (for `make bench` only).
 *
 * peak_fma runs, on every thread of an OpenMP team, 16 independent chains
 * of vector fused multiply-adds (AVX-512 where the build has it) and returns
 * the floating-point operations done (2 per lane per FMA). It touches no
 * memory beyond its registers and never allocates. */
#ifndef FMNIST_PEAK_H
#define FMNIST_PEAK_H

/* Runs iters rounds of 16 vector FMAs on each of `threads` threads; returns
 * the flops done in total. The caller times it. */
double peak_fma(long iters, int threads);

#endif
