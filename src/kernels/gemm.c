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
#include "kernels/transpose.h"

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

/* The most floats of A (M*K) read in place rather than packed: 2 MiB. */
#define A_IN_PLACE_MAX ((size_t)1 << 19)

/* A product is a GemmCall (gemm_bf16.h): element (i,k) of op(A) is
 * a[i*a_is + k*a_ks], element (k,j) of op(B) is b[j*b_js + k*b_ks].
 * nn: A(lda,1) B(1,ldb); nt: A(lda,1) B(ldb,1); tn: A(1,lda) B(1,ldb). */

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
                __m512 r[16];
                for (int x = 0; x < 16; x++)
                    r[x] = x < rows
                               ? _mm512_maskz_loadu_ps(km, src + (p * W + x0 + x) * xs + k0)
                               : _mm512_setzero_ps();
                /* Short rows defeat the hardware prefetcher: fetch the
                 * same chunk of the next panel's rows. */
                for (int x = 0; x < rows && (p + 1) * W + x0 + x < w; x++)
                    __builtin_prefetch(src + ((p + 1) * W + x0 + x) * xs + k0, 0, 3);
                transpose16(r);
                for (int k = 0; k < kn; k++)
                    _mm512_mask_storeu_ps(dp + (ptrdiff_t)(k0 + k) * W + x0, sm, r[k]);
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

#ifdef __AVX512F__
/* The micro-kernel, with element (i, k) of the A panel at ap[i*ais + k*aks]:
 * (1, MR) for a packed panel, or A's own strides, read in place. Inlined
 * where ais, aks are constants or where reading A in place pays. */
static inline __attribute__((always_inline)) void micro_kernel_at(const int ROWS, const int NV, int kc,
                                                                  const float *restrict ap, ptrdiff_t ais,
                                                                  ptrdiff_t aks, const float *restrict bp,
                                                                  float *restrict c, ptrdiff_t ldc, int mode)
{
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[i][v] = mode == START_C ? _mm512_loadu_ps(c + i * ldc + 16 * v) : _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(bp);
        const __m512 b1 = NV > 1 ? _mm512_load_ps(bp + 16) : b0;
#pragma GCC unroll 12
        for (int i = 0; i < ROWS; i++) {
            const __m512 a = _mm512_set1_ps(ap[i * ais]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            if (NV > 1) acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
        ap += aks;
        bp += NR;
    }
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            if (mode == ADD_TO_C) acc[i][v] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc + 16 * v), acc[i][v]);
            _mm512_storeu_ps(c + i * ldc + 16 * v, acc[i][v]);
        }
}

/* A ragged tile (rows <= MR, columns <= NR) on packed panels, into c
 * (the edge buffer: MR x NR, rows ldc apart): only its rows, and one
 * vector of columns when 16 suffice. Columns past the tile's are not
 * written (nv 1) or hold padding (nv 2); the caller copies its own. */
static void micro_kernel_edge(int rows, int cols, int kc, const float *restrict ap, const float *restrict bp,
                              float *restrict c, ptrdiff_t ldc, int mode)
{
    switch (rows * 2 + (cols > 16)) {
#define EDGE_CASE(r)                                                                                                   \
    case 2 * r:                                                                                                        \
        micro_kernel_at(r, 1, kc, ap, 1, MR, bp, c, ldc, mode);                                                        \
        break;                                                                                                         \
    case 2 * r + 1:                                                                                                    \
        micro_kernel_at(r, 2, kc, ap, 1, MR, bp, c, ldc, mode);                                                        \
        break;
        EDGE_CASE(1)
        EDGE_CASE(2)
        EDGE_CASE(3)
        EDGE_CASE(4)
        EDGE_CASE(5)
        EDGE_CASE(6)
        EDGE_CASE(7)
        EDGE_CASE(8)
        EDGE_CASE(9)
        EDGE_CASE(10)
        EDGE_CASE(11)
        EDGE_CASE(12)
#undef EDGE_CASE
    default:
        break; /* 1 <= rows <= MR */
    }
}

/* micro_kernel on an A panel read in place: rows lda apart along k (nn,
 * nt), or k rows lda apart (tn). The same chains as on a packed panel. */
static void micro_kernel_rows(int kc, const float *restrict a, ptrdiff_t lda, const float *restrict bp,
                              float *restrict c, ptrdiff_t ldc, int mode)
{
    micro_kernel_at(MR, 2, kc, a, lda, 1, bp, c, ldc, mode);
}
static void micro_kernel_cols(int kc, const float *restrict a, ptrdiff_t lda, const float *restrict bp,
                              float *restrict c, ptrdiff_t ldc, int mode)
{
    micro_kernel_at(MR, 2, kc, a, 1, lda, bp, c, ldc, mode);
}
/* The same for a last panel of at most 16 columns: one vector of them. */
static void micro_kernel_rows16(int kc, const float *restrict a, ptrdiff_t lda, const float *restrict bp,
                                float *restrict c, ptrdiff_t ldc, int mode)
{
    micro_kernel_at(MR, 1, kc, a, lda, 1, bp, c, ldc, mode);
}
static void micro_kernel_cols16(int kc, const float *restrict a, ptrdiff_t lda, const float *restrict bp,
                                float *restrict c, ptrdiff_t ldc, int mode)
{
    micro_kernel_at(MR, 1, kc, a, 1, lda, bp, c, ldc, mode);
}
#endif

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
    micro_kernel_at(MR, 2, kc, ap, 1, MR, bp, c, ldc, mode);
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
#ifdef __AVX512F__
        micro_kernel_edge(mr, nr, kn, a, b, edge, NR, ADD_TO_C);
#else
        micro_kernel(kn, a, b, edge, NR, ADD_TO_C);
#endif
        for (int i = 0; i < mr; i++) memcpy(c + i * ldc, edge + i * NR, sizeof(float) * nr);
    }
}

/* The micro-kernel on A's tile read in place at a_at (not NULL: g's own
 * strides) or packed at ap. */
static void tile_kernel(const GemmCall *g, const float *a_at, const float *ap, int kc, const float *bp, float *c,
                        ptrdiff_t ldc, int mode, int nr)
{
#ifdef __AVX512F__
    if (a_at) {
        if (g->a_ks == 1)
            (nr <= 16 ? micro_kernel_rows16 : micro_kernel_rows)(kc, a_at, g->a_is, bp, c, ldc, mode);
        else
            (nr <= 16 ? micro_kernel_cols16 : micro_kernel_cols)(kc, a_at, g->a_ks, bp, c, ldc, mode);
        return;
    }
#else
    (void)g, (void)a_at, (void)nr;
#endif
    micro_kernel(kc, ap, bp, c, ldc, mode);
}

/* Computes rows [m0,m1) x columns [n0,n1) of C (g->c, [M][N] rows ldc
 * apart) from op(A) and op(B) as g describes them; the calling thread owns
 * those elements. Blocks of NC columns x KC taps of B and MC rows of A are
 * packed on the stack, then run through the micro-kernel tile by tile. With
 * micro-batches (g->mb > 0) the blocks of taps hold whole micro-batches,
 * each tile running through them one by one (tile_micro_batches). */
static void gemm_tile(const GemmCall *g, int m0, int m1, int n0, int n1)
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
#ifdef __AVX512F__
    /* fp32 without micro-batches reads A's full tiles in place: its rows
     * (nn, nt) or columns (tn) are streams of k already; only a ragged last
     * tile of rows is packed. Not for an A far larger than L2 (a whole
     * batch's im2col): there twelve streams from memory lose to one packing
     * pass (about 5% on 25088 x 64 x 288) */
    const int a_in_place = g->mb == 0 && (size_t)g->M * (size_t)g->K <= A_IN_PLACE_MAX;
#else
    const int a_in_place = 0;
#endif
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
                const int full = mc / MR * MR; /* rows in full tiles */
                if (!a_in_place)
                    gemm_pack(apack, g->a + ic * g->a_is + pc * g->a_ks, g->a_is, g->a_ks, mc, kc, MR);
                else if (full < mc) /* the ragged tile, packed where its offset ir*kc puts it */
                    gemm_pack(apack + (ptrdiff_t)full * kc, g->a + (ic + full) * g->a_is + pc * g->a_ks, g->a_is,
                              g->a_ks, mc - full, kc, MR);
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
                        /* a full tile of rows, read in place (a_in_place), else packed */
                        const float *a_at = a_in_place && mr == MR ? g->a + (ic + ir) * g->a_is + pc * g->a_ks : NULL;
                        if (mr == MR && nr == NR) {
                            tile_kernel(g, a_at, ap, kc, bp, c, g->ldc, mode, nr);
                            continue;
                        }
                        /* Ragged edge: run the tile on a scratch copy. */
                        if (mode != START_ZERO)
                            for (int i = 0; i < mr; i++)
                                memcpy(edge + i * NR, c + i * g->ldc, sizeof(float) * nr);
#ifdef __AVX512F__
                        if (!a_at)
                            micro_kernel_edge(mr, nr, kc, ap, bp, edge, NR, mode);
                        else
#endif
                            tile_kernel(g, a_at, ap, kc, bp, edge, NR, mode, nr);
                        for (int i = 0; i < mr; i++)
                            memcpy(c + i * g->ldc, edge + i * NR, sizeof(float) * nr);
                    }
                }
            }
        }
    }
}

/* Chooses an mt x nt grid of thread rectangles (mt*nt = threads) of rows x
 * cols elements (the last ones take what is left), minimizing the slowest
 * thread's tile area plus its packing traffic. Rows are whole tiles of MR,
 * or an even share rounded to 4 when that is smaller (a ragged tile of 4 or
 * 8 rows is cheap with the edge kernels: M = 64 on 2 threads is 32 + 32,
 * not 36 + 28); the area counts ragged tiles by their rows and columns
 * rounded to 4 and 16. Which elements a thread owns never changes a bit. */
static void choose_grid(int M, int N, int threads, int *mt_out, int *nt_out, int *rows_out, int *cols_out)
{
    const long mb = (M + MR - 1) / MR, nb = (N + NR - 1) / NR;
    long best = -1;
    *mt_out = *nt_out = 1;
    *rows_out = M, *cols_out = N;
    for (int mt = 1; mt <= threads; mt++) {
        if (threads % mt) continue;
        const int nt = threads / mt;
        if (mt > mb || nt > nb) continue;
        const long cols = (nb + nt - 1) / nt * NR;
        for (int even = 0; even < 2; even++) {
            const long rows = even ? ((M + mt - 1) / mt + 3) / 4 * 4 : (mb + mt - 1) / mt * MR;
            if ((mt - 1) * rows >= M) continue; /* a thread without rows */
            const long r = (rows < M ? rows : M) + 3, c = (cols < N ? cols : N) + 15;
            const long re = r / 4 * 4, ce = c / 16 * 16;
            const long cost = re * ce + 16 * (re + ce);
            if (best < 0 || cost < best) {
                best = cost;
                *mt_out = mt;
                *nt_out = nt;
                *rows_out = (int)rows;
                *cols_out = (int)cols;
            }
        }
    }
}

static void gemm_run(const GemmCall *g, Math m)
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
    if (m == MATH_BF16_DP) { /* gemm_bf16.c: bf16 pairs, vdpbf16ps chains */
        gemm_bf16_run(g);
        return;
    }
    /* Below ~1 MFLOP waking the team costs more than it saves (a product
     * is worth more per float than PAR_MIN's element-wise loops). */
    int threads = 2.0 * M * N * K >= 1e6 ? max_threads() : 1;
    int mt, nt, rows, cols;
    choose_grid(M, N, threads, &mt, &nt, &rows, &cols);
    threads = mt * nt;
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
    const GemmCall g = {M, N, K, A, lda, 1, B, 1, ldb, beta, C, ldc, 0, 0};
    gemm_run(&g, m);
}

/* A is [M,K] (lda), B is [N,K] (ldb), C is [M,N] (ldc): C = beta*C + A B^T. */
void gemm_nt(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc)
{
    const GemmCall g = {M, N, K, A, lda, 1, B, ldb, 1, beta, C, ldc, 0, 0};
    gemm_run(&g, m);
}

/* A is [K,M] (lda), B is [K,N] (ldb), C is [M,N] (ldc): C = beta*C + A^T B. */
void gemm_tn(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float beta, float *C, int ldc)
{
    const GemmCall g = {M, N, K, A, 1, lda, B, 1, ldb, beta, C, ldc, 0, 0};
    gemm_run(&g, m);
}

/* gemm_tn by micro-batches of mb taps: block j from 0, added to C + j*cstride. */
void gemm_tn_mb(Math m, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc, int mb,
                size_t cstride)
{
    mb = mb < 1 ? 1 : mb > GEMM_MB_MAX ? GEMM_MB_MAX : mb;
    const GemmCall g = {M, N, K, A, 1, lda, B, 1, ldb, 1.0f, C, ldc, mb, (ptrdiff_t)cstride};
    gemm_run(&g, m);
}
