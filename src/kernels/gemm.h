/* gemm.h - the single-precision matrix products every layer uses.
 *
 * All matrices are row-major with a leading dimension (the distance in floats
 * between consecutive rows). Each computes C[M,N] = beta*C + op(A) * op(B):
 *
 *   gemm_nn: A is [M,K] (lda >= K), B is [K,N] (ldb >= N)      C = A   B
 *   gemm_nt: A is [M,K] (lda >= K), B is [N,K] (ldb >= K)      C = A   B^T
 *   gemm_tn: A is [K,M] (lda >= M), B is [K,N] (ldb >= N)      C = A^T B
 *
 * (gemm_tn_mb, below, adds micro-batches' products to C one by one.)
 * m is the arithmetic (kernels/math.h): MATH_FP32 as described here;
 * MATH_BF16_DP rounds op(A) and op(B) to bf16 as it packs them and sums
 * pairs of taps with vdpbf16ps, in fixed order per element too.
 * beta is 0 (C is overwritten; its old content may be garbage/NaN) or 1
 * (accumulate). Parallel with OpenMP over blocks of C; each element of C is
 * summed over k in one fixed order, so results are bit-identical whatever the
 * number of threads. The kernels never allocate on the heap. */
#ifndef FMNIST_GEMM_H
#define FMNIST_GEMM_H

#include <stddef.h>

#include "kernels/math.h"

void gemm_nn(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);
void gemm_nt(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);
void gemm_tn(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc);

/* gemm_tn by micro-batches: the K taps (rows of A and B) are split into
 * runs of mb (the last may be shorter), and micro-batch j's product, summed
 * from 0 over its taps in ascending order, is added ONCE to C + j*cstride:
 *
 *   C_j[M,N] = C_j + A_j^T B_j,   C_j = C + j*cstride,  A_j = rows j*mb.. of A
 *
 * (every element of C_j gets exactly one float add, of the finished sum).
 * With cstride 0 all micro-batches go into C in order; with cstride the
 * size of a gradient arena, each into its own copy (nn/layer.h's
 * micro-batches). On a zeroed C with mb >= K this is gemm_tn with beta 1.
 * 1 <= mb <= GEMM_MB_MAX (a larger mb counts as GEMM_MB_MAX: a micro-batch
 * is summed in one block of the product). */
#define GEMM_MB_MAX 288
void gemm_tn_mb(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int mb,
                size_t cstride);

/* The panel packing the products use, for kernels that want the same layout:
 * a w x kc slice of a strided matrix (element (x, k) at src[x*xs + k*ks]) as
 * ceil(w/W) k-major panels of width W (W a multiple of 16):
 * dst[p*W*kc + k*W + x'] = element (p*W + x', k), zero for p*W + x' >= w. */
void gemm_pack(float *dst, const float *src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc, int W);

#endif
