/* gemm.c - packed, register-tiled single-precision GEMM (nn, nt, tn) for fmnist.
 *
 * One driver serves all three variants: op(A) and op(B) are read through
 * (row, k) strides, copied into zero-padded panels on the stack, and multiplied
 * by an MR x NR micro-kernel (AVX-512 intrinsics, or portable C without them).
 * Every C element is one multiply-add chain over k ascending, started from
 * beta*C, so blocking and thread count never change a bit of the result.
 * MATH_BF16_DP goes to gemm_bf16.c (bf16 pairs, vdpbf16ps) from gemm_run.
 * No heap, no global state; OpenMP splits C into one rectangle per thread. */
#include "kernels/gemm.h"

#include <stddef.h>
#include <string.h>

#include "kernels/gemm_bf16.h"
#include "kernels/threads.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* Micro-tile MR x NR: 12 rows x 32 columns = 24 zmm accumulators, leaving 8
 * registers for the two B vectors and broadcasts. Zen 5 retires two 512-bit
 * FMAs per cycle with latency 4, so >= 8 independent chains are needed.
 * KC = 288 keeps a conv's whole im2col row (9*32) in one block so C is read
 * and written once. Blocks live on the stack: A is MC_MAX x KC (216 KiB), B is
 * KC x NC (288 KiB). NC and MC_MAX must be multiples of NR and MR. */
enum { MR = 12, NR = 32, KC = GEMM_MB_MAX, NC = 256, MC_MAX = 192 };

/* Element (i,k) of op(A) is a[i*a_is + k*a_ks]; element (k,j) of op(B) is
 * b[j*b_js + k*b_ks]. nn: A(lda,1) B(1,ldb); nt: A(lda,1) B(ldb,1); tn: A(1,lda) B(1,ldb). */
typedef struct {
    int M, N, K;
    const float *a;
    ptrdiff_t a_is, a_ks;
    const float *b;
    ptrdiff_t b_js, b_ks;
    float beta;
    float *c;
    ptrdiff_t ldc;
    int mb;             /* > 0: micro-batches of mb taps (gemm_tn_mb); 0: one sum */
    ptrdiff_t cstride;  /* gemm_tn_mb: floats between micro-batch j's C and j+1's */
    Math math;          /* the arithmetic (gemm.h)                                */
} GemmArgs;

/* How the micro-kernel starts and ends each element's chain. */
enum { START_ZERO = 0, START_C = 1, ADD_TO_C = 2 };

#ifdef __AVX512F__
/* gemm_pack when xs == 1: contiguous along the width (tn's A, nn/tn's B).
 * Walks source rows k in order, each streamed once across all panels, with
 * masked loads supplying the zero padding. */
static void pack_along_width(float *restrict dst, const float *restrict src, ptrdiff_t ks, int w, int kc, int W)
{
    for (int k = 0; k < kc; k++) {
        const float *s = src + k * ks;
        /* Rows are ks apart (often a page or more): fetch a few ahead. */
        if (k + 8 < kc)
            for (int x = 0; x < w; x += 16) __builtin_prefetch(s + 8 * ks + x, 0, 3);
        for (int p = 0; p * W < w; p++) {
            float *d = dst + (ptrdiff_t)p * W * kc + (ptrdiff_t)k * W;
            for (int x = 0; x < W; x += 16) {
                const int left = w - p * W - x;
                const __mmask16 lm = left >= 16  ? 0xFFFF
                                     : left <= 0 ? 0
                                                 : (__mmask16)((1u << left) - 1);
                const __mmask16 sm = W - x >= 16 ? 0xFFFF : (__mmask16)((1u << (W - x)) - 1);
                _mm512_mask_storeu_ps(d + x, sm, _mm512_maskz_loadu_ps(lm, s + p * W + x));
            }
        }
    }
}

/* gemm_pack when ks == 1: contiguous along k (nn/nt's A, nt's B). A
 * transpose, done on 16 x 16 tiles in registers (64 shuffles per 256
 * floats). */
static void pack_along_k(float *restrict dst, const float *restrict src, ptrdiff_t xs, int w, int kc, int W)
{
    for (int p = 0; p * W < w; p++) {
        float *dp = dst + (ptrdiff_t)p * W * kc;
        for (int x0 = 0; x0 < W; x0 += 16) {
            /* Source rows that exist and belong to this 16-wide group. */
            int rows = w - p * W - x0;
            if (rows > W - x0) rows = W - x0;
            const __mmask16 sm = W - x0 >= 16 ? 0xFFFF : (__mmask16)((1u << (W - x0)) - 1);
            for (int k0 = 0; k0 < kc; k0 += 16) {
                const int kn = kc - k0 < 16 ? kc - k0 : 16;
                const __mmask16 km = kn == 16 ? 0xFFFF : (__mmask16)((1u << kn) - 1);
                __m512 r[16], t[16];
                for (int x = 0; x < 16; x++)
                    r[x] = x < rows
                               ? _mm512_maskz_loadu_ps(km, src + (p * W + x0 + x) * xs + k0)
                               : _mm512_setzero_ps();
                /* Short rows defeat the hardware prefetcher: fetch the
                 * same chunk of the next panel's rows. */
                for (int x = 0; x < rows && (p + 1) * W + x0 + x < w; x++)
                    __builtin_prefetch(src + ((p + 1) * W + x0 + x) * xs + k0, 0, 3);
                /* Stage 1-2: 4 x 4 transposes inside each 128-bit lane. */
                for (int i = 0; i < 8; i++) {
                    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
                }
                for (int i = 0; i < 4; i++) {
                    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
                    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
                    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
                    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
                }
                /* Stage 3-4: r[4i+j] lane L holds column 4L+j of rows 4i..4i+3;
                 * gather lane L of r[j], r[4+j], r[8+j], r[12+j]. */
                for (int j = 0; j < 4; j++) {
                    const __m512 u = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44);
                    const __m512 v = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44);
                    const __m512 u2 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xEE);
                    const __m512 v2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xEE);
                    t[j] = _mm512_shuffle_f32x4(u, v, 0x88);
                    t[4 + j] = _mm512_shuffle_f32x4(u, v, 0xDD);
                    t[8 + j] = _mm512_shuffle_f32x4(u2, v2, 0x88);
                    t[12 + j] = _mm512_shuffle_f32x4(u2, v2, 0xDD);
                }
                for (int k = 0; k < kn; k++)
                    _mm512_mask_storeu_ps(dp + (ptrdiff_t)(k0 + k) * W + x0, sm, t[k]);
            }
        }
    }
}
#endif

/* Packs a w x kc slice of a strided matrix into ceil(w/W) k-major panels of
 * width W: panel p holds dst[p*W*kc + k*W + x] = src[(p*W + x)*xs + k*ks].
 * Columns past w are zero, so the micro-kernel always runs full width (the
 * padding only ever meets padding and is never stored). Exported (gemm.h)
 * for conv_direct.c, which lays dy out the same way. */
void gemm_pack(float *restrict dst, const float *restrict src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc, int W)
{
#ifdef __AVX512F__
    if (xs == 1) {
        pack_along_width(dst, src, ks, w, kc, W);
        return;
    }
    if (ks == 1) {
        pack_along_k(dst, src, xs, w, kc, W);
        return;
    }
#endif
    /* Portable path (and any other strides): per panel, element by element. */
    for (int p = 0; p * W < w; p++) {
        const int pw = w - p * W < W ? w - p * W : W;
        float *d = dst + (ptrdiff_t)p * W * kc;
        const float *s = src + p * W * xs;
        for (int k = 0; k < kc; k++) {
            for (int x = 0; x < pw; x++) d[(ptrdiff_t)k * W + x] = s[x * xs + k * ks];
            for (int x = pw; x < W; x++) d[(ptrdiff_t)k * W + x] = 0.0f;
        }
    }
}

/* START_ZERO: c = ap^T bp; START_C: c = the chain continued from c;
 * ADD_TO_C: c = c + (ap^T bp, from 0): the block's sum added once. Each
 * element's sum is one chain acc = fma(a_k, b_k, acc) for k ascending, so
 * the result does not depend on blocking or threads.
 *   ap  is [kc][MR]: a packed panel of A
 *   bp  is [kc][NR]: a packed panel of B (64-byte aligned)
 *   c   is [MR][NR], rows ldc apart */
static void micro_kernel(int kc, const float *restrict ap, const float *restrict bp,
                         float *restrict c, ptrdiff_t ldc, int mode)
{
#ifdef __AVX512F__
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (mode == START_C) {
            acc[i][0] = _mm512_loadu_ps(c + i * ldc);
            acc[i][1] = _mm512_loadu_ps(c + i * ldc + 16);
        } else {
            acc[i][0] = _mm512_setzero_ps();
            acc[i][1] = _mm512_setzero_ps();
        }
    }
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(bp);
        const __m512 b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512 a = _mm512_set1_ps(ap[i]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
        ap += MR;
        bp += NR;
    }
    if (mode == ADD_TO_C) {
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc + 16), acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(c + i * ldc, acc[i][0]);
        _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
    }
#else
    /* Portable path: the j loop vectorizes; plain multiply-add (C11 forbids
     * contraction), still one fixed order per element. */
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = mode == START_C ? c[i * ldc + j] : 0.0f;
    for (int k = 0; k < kc; k++) {
        for (int i = 0; i < MR; i++) {
            const float a = ap[i];
            for (int j = 0; j < NR; j++) acc[i][j] += a * bp[j];
        }
        ap += MR;
        bp += NR;
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i * ldc + j] = mode == ADD_TO_C ? c[i * ldc + j] + acc[i][j] : acc[i][j];
#endif
}

/* Splits n into ceil(n/max) near-equal pieces, each rounded up to a multiple
 * of unit (the last piece takes the remainder). */
static int split_step(int n, int max, int unit)
{
    int pieces = (n + max - 1) / max;
    int step = (n + pieces - 1) / pieces;
    return (step + unit - 1) / unit * unit;
}

/* One mr x nr tile of C (c, rows ldc apart) from a block of kc taps (ap,
 * bp packed) made of whole micro-batches of mb: micro-batch j of the block,
 * summed from 0, is added to c + j*cstride (ADD_TO_C). The tile of C stays
 * in cache from one micro-batch to the next. A ragged tile runs on edge. */
static void tile_micro_batches(int kc, int mb, const float *ap, const float *bp, float *c, ptrdiff_t ldc,
                               ptrdiff_t cstride, int mr, int nr, float *edge)
{
    for (int k0 = 0; k0 < kc; k0 += mb, c += cstride) {
        const int kn = kc - k0 < mb ? kc - k0 : mb;
        const float *a = ap + (ptrdiff_t)k0 * MR, *b = bp + (ptrdiff_t)k0 * NR;
        if (mr == MR && nr == NR) {
            micro_kernel(kn, a, b, c, ldc, ADD_TO_C);
            continue;
        }
        for (int i = 0; i < mr; i++) memcpy(edge + i * NR, c + i * ldc, sizeof(float) * nr);
        micro_kernel(kn, a, b, edge, NR, ADD_TO_C);
        for (int i = 0; i < mr; i++) memcpy(c + i * ldc, edge + i * NR, sizeof(float) * nr);
    }
}

/* Computes rows [m0,m1) x columns [n0,n1) of C (g->c, [M][N] rows ldc
 * apart) from op(A) and op(B) as g describes them; the calling thread owns
 * those elements. Blocks of NC columns x KC taps of B and MC rows of A are
 * packed on the stack, then run through the micro-kernel tile by tile. With
 * micro-batches (g->mb > 0) the blocks of taps hold whole micro-batches,
 * each tile running through them one by one (tile_micro_batches). */
static void gemm_tile(const GemmArgs *g, int m0, int m1, int n0, int n1)
{
    _Alignas(64) float bpack[KC * NC];
    _Alignas(64) float apack[MC_MAX * KC];
    _Alignas(64) float edge[MR * NR];
    const int K = g->K;

    /* beta other than 0/1 is outside the contract; scale C once up front so
     * the kernel only ever adds onto C. */
    if (g->beta != 0.0f && g->beta != 1.0f)
        for (int i = m0; i < m1; i++)
            for (int j = n0; j < n1; j++) g->c[i * g->ldc + j] *= g->beta;

    const int nc_step = split_step(n1 - n0, NC, NR);
    /* micro-batches: blocks of whole micro-batches (mb <= KC), run one by one
     * in the tile loop (tile_micro_batches) */
    const int mb_block = g->mb > 0 ? KC / g->mb * g->mb : 0;
    const int kc_step = g->mb > 0 ? (K < mb_block ? K : mb_block) : split_step(K, KC, 1);
    const int mc_step = split_step(m1 - m0, MC_MAX, MR);
    for (int jc = n0; jc < n1; jc += nc_step) {
        const int nc = n1 - jc < nc_step ? n1 - jc : nc_step;
        int kc;
        for (int pc = 0; pc < K; pc += kc) {
            kc = K - pc < kc_step ? K - pc : kc_step;
            const int mode = g->mb > 0 ? ADD_TO_C : pc > 0 || g->beta != 0.0f ? START_C : START_ZERO;
            float *cb = g->c + (g->mb > 0 ? (ptrdiff_t)(pc / g->mb) * g->cstride : 0);
            gemm_pack(bpack, g->b + jc * g->b_js + pc * g->b_ks, g->b_js, g->b_ks, nc, kc, NR);
            for (int ic = m0; ic < m1; ic += mc_step) {
                const int mc = m1 - ic < mc_step ? m1 - ic : mc_step;
                gemm_pack(apack, g->a + ic * g->a_is + pc * g->a_ks, g->a_is, g->a_ks, mc, kc, MR);
                for (int jr = 0; jr < nc; jr += NR) {
                    const int nr = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        float *c = cb + (ic + ir) * g->ldc + jc + jr;
                        const float *ap = apack + (ptrdiff_t)ir * kc;
                        const float *bp = bpack + (ptrdiff_t)jr * kc;
                        if (g->mb > 0) {
                            tile_micro_batches(kc, g->mb, ap, bp, c, g->ldc, g->cstride, mr, nr, edge);
                            continue;
                        }
                        if (mr == MR && nr == NR) {
                            micro_kernel(kc, ap, bp, c, g->ldc, mode);
                            continue;
                        }
                        /* Ragged edge: run the full tile on a scratch copy. */
                        if (mode != START_ZERO)
                            for (int i = 0; i < mr; i++)
                                memcpy(edge + i * NR, c + i * g->ldc, sizeof(float) * nr);
                        micro_kernel(kc, ap, bp, edge, NR, mode);
                        for (int i = 0; i < mr; i++)
                            memcpy(c + i * g->ldc, edge + i * NR, sizeof(float) * nr);
                    }
                }
            }
        }
    }
}

/* Chooses an mt x nt grid of thread rectangles (mt*nt = threads) minimizing
 * the slowest thread's padded tile area plus its packing traffic. */
static void choose_grid(int M, int N, int threads, int *mt_out, int *nt_out)
{
    const long mb = (M + MR - 1) / MR, nb = (N + NR - 1) / NR;
    long best = -1;
    *mt_out = 1;
    *nt_out = 1;
    for (int mt = 1; mt <= threads; mt++) {
        if (threads % mt) continue;
        const int nt = threads / mt;
        if (mt > mb || nt > nb) continue;
        const long rows = (mb + mt - 1) / mt * MR, cols = (nb + nt - 1) / nt * NR;
        const long cost = rows * cols + 16 * (rows + cols);
        if (best < 0 || cost < best) {
            best = cost;
            *mt_out = mt;
            *nt_out = nt;
        }
    }
}

static void gemm_run(const GemmArgs *g)
{
    const int M = g->M, N = g->N, K = g->K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        /* Empty sum: C = beta*C, and beta == 0 must not read C. */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                g->c[i * g->ldc + j] = g->beta == 0.0f ? 0.0f : g->beta * g->c[i * g->ldc + j];
        return;
    }
    if (g->math == MATH_BF16_DP) { /* gemm_bf16.c: bf16 pairs, vdpbf16ps chains */
        const GemmBf16 b = {M, N, K, g->a, g->a_is, g->a_ks, g->b, g->b_js, g->b_ks,
                            g->beta, g->c, g->ldc, g->mb, g->cstride};
        gemm_bf16_run(&b);
        return;
    }
    /* Below ~1 MFLOP waking the team costs more than it saves (a product
     * is worth more per float than PAR_MIN's element-wise loops). */
    int threads = 2.0 * M * N * K >= 1e6 ? max_threads() : 1;
    int mt, nt;
    choose_grid(M, N, threads, &mt, &nt);
    threads = mt * nt;
    const int mb = (M + MR - 1) / MR, nb = (N + NR - 1) / NR;
    const int rows = (mb + mt - 1) / mt * MR, cols = (nb + nt - 1) / nt * NR;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int t = 0; t < threads; t++) {
        const int m0 = (t / nt) * rows, n0 = (t % nt) * cols;
        const int m1 = m0 + rows < M ? m0 + rows : M, n1 = n0 + cols < N ? n0 + cols : N;
        if (m0 < m1 && n0 < n1) gemm_tile(g, m0, m1, n0, n1);
    }
}

/* A is [M,K] (lda), B is [K,N] (ldb), C is [M,N] (ldc): C = beta*C + A B. */
void gemm_nn(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc)
{
    const GemmArgs g = {M, N, K, A, lda, 1, B, 1, ldb, beta, C, ldc, 0, 0, m};
    gemm_run(&g);
}

/* A is [M,K] (lda), B is [N,K] (ldb), C is [M,N] (ldc): C = beta*C + A B^T. */
void gemm_nt(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc)
{
    const GemmArgs g = {M, N, K, A, lda, 1, B, ldb, 1, beta, C, ldc, 0, 0, m};
    gemm_run(&g);
}

/* A is [K,M] (lda), B is [K,N] (ldb), C is [M,N] (ldc): C = beta*C + A^T B. */
void gemm_tn(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc)
{
    const GemmArgs g = {M, N, K, A, 1, lda, B, 1, ldb, beta, C, ldc, 0, 0, m};
    gemm_run(&g);
}

/* gemm_tn by micro-batches of mb taps: block j from 0, added to C + j*cstride. */
void gemm_tn_mb(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int mb,
                size_t cstride)
{
    mb = mb < 1 ? 1 : mb > GEMM_MB_MAX ? GEMM_MB_MAX : mb;
    const GemmArgs g = {M, N, K, A, 1, lda, B, 1, ldb, 1.0f, C, ldc, mb, (ptrdiff_t)cstride, m};
    gemm_run(&g);
}
