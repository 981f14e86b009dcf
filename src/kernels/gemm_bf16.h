/* gemm_bf16.h - internal to kernels/: the MATH_BF16_DP matrix products
 * (gemm.h's contract, in bf16 with fp32 sums).
 *
 * op(A) and op(B) are packed as bf16 PAIRS along k, each operand rounded to
 * the nearest bf16 (ties to even, NaN kept NaN; bit for bit bf16_round of
 * math.h), one 32-bit word per (row, pair): the even tap in the low half,
 * the odd tap in the high half, an odd tap count padded with a zero tap.
 * Each C element is one chain of AVX512_BF16 dot products
 *
 *     acc = vdpbf16ps(acc, (a_2p, a_2p+1), (b_2p, b_2p+1))   p ascending,
 *
 * started from 0 (beta 0), from C (beta 1: the chain goes on from C's fp32
 * value, also between blocks of k), or, by micro-batches, from 0 per
 * micro-batch and added once to C_j (a micro-batch of odd length gets its
 * own zero tap: pairs never straddle micro-batches). So the result depends
 * on M, N, K, mb only, never on blocking or threads. The order and rounding
 * inside one vdpbf16ps step are the CPU's (tests/test_bf16.c probes them).
 *
 * Needs a CPU with AVX512_BF16 (math_runs_on): the caller checks. */
#ifndef FMNIST_GEMM_BF16_H
#define FMNIST_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

/* One product, as both drivers (gemm.c's fp32, gemm_bf16.c's) take it:
 * element (i,k) of op(A) is
 * a[i*a_is + k*a_ks], element (k,j) of op(B) is b[j*b_js + k*b_ks];
 * C = beta*C + op(A) op(B) (beta 0 or 1; others scale C first), or with
 * mb > 0 gemm_tn_mb's micro-batches of mb taps added to c + j*cstride.
 * M, N, K > 0. */
typedef struct {
    int M, N, K;
    const float *a;
    ptrdiff_t a_is, a_ks;
    const float *b;
    ptrdiff_t b_js, b_ks;
    float beta;
    float *c;
    ptrdiff_t ldc;
    int mb;            /* > 0: micro-batches of mb taps (mb <= GEMM_MB_MAX); 0: one sum */
    ptrdiff_t cstride; /* floats between micro-batch j's C and j+1's                   */
} GemmCall;

/* Runs g on the OpenMP team (a rectangle of C per thread). */
void gemm_bf16_run(const GemmCall *g);

/* dst[i] = the pair word (even[i] in the low half, odd[i] in the high
 * half; odd NULL: 0) of bf16-rounded floats, for i < n. For the
 * convolutions' channel-pair images. */
void bf16_pair_rows(uint32_t *dst, const float *even, const float *odd, int n);

/* Packs a w x kc slice of a strided matrix (element (x, k) at
 * src[x*xs + k*ks]) as ceil(w/W) panels of pairs along k, panel q at
 * dst + q*pstride: word dst[q*pstride + p*W + x] = the pair (element
 * (qW+x, 2p), element (qW+x, 2p+1)), 0 past kc and past w. W is 12 or a
 * multiple of 16. The gemm's own packing, for the convolutions' dW. */
void bf16_pack_pairs(uint32_t *dst, size_t pstride, const float *src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc,
                     int W);

/* x's bf16 (nearest, ties to even; a NaN stays a NaN, quieted) as raw bits:
 * the high half of bf16_round(x)'s bits for every non-NaN x. */
static inline uint16_t bf16_bits(float x)
{
    union {
        float f;
        uint32_t u;
    } v = {x};
    if ((v.u & 0x7f800000u) == 0x7f800000u && (v.u & 0x007fffffu)) return (uint16_t)((v.u | 0x00400000u) >> 16);
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

/* The pair word of two floats (a low, b high), rounded as bf16_bits. */
static inline uint32_t bf16_pair(float a, float b) { return (uint32_t)bf16_bits(a) | (uint32_t)bf16_bits(b) << 16; }

#endif
