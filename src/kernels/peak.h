/* peak.h - the machine's fp32 FMA peak and bf16 dot-product peak, measured
 * (for `make bench` only).
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

/* The same with 16 chains of AVX512_BF16 dot products (vdpbf16ps: 16 lanes
 * x 2 bf16 products each, 64 flops): the ceiling of MATH_BF16_DP. Call it
 * only when cpu_detect finds avx512_bf16; returns the flops done (0 where
 * the build is not for x86). */
double peak_bf16(long iters, int threads);

#endif
