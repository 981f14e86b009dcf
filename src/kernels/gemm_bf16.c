/* gemm_bf16.c - the MATH_BF16_DP matrix products (see gemm_bf16.h): pair
 * packing (fp32 -> bf16 pairs along k), a 12 x 32 register tile of
 * vdpbf16ps chains, and a driver shaped like gemm.c's.
 *
 * The AVX512_BF16 code is compiled through target attributes, so the file
 * builds without -mavx512bf16 (the AVX2 build for valgrind); it only runs
 * when the caller's Math says the CPU has it. Elsewhere (not x86) the same
 * arithmetic runs in portable C, in the order of Intel's description of
 * the instruction. No heap, no global state. */
#include "kernels/gemm_bf16.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/threads.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BF16_X86 1
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define BF16_X86 0
#endif

/* Tile MR x NR (24 accumulators, as gemm.c). Blocks of pairs: KP pairs of
 * B (NC columns) and of A (MC_MAX rows) on the stack (288 and 216 KiB).
 * KP bounds a block of micro-batches too: with mb taps, KP / ceil(mb/2)
 * micro-batches (at least 1, as mb <= GEMM_MB_MAX = 2 * 144 <= 2 * KP). */
enum { MR = 12, NR = 32, KP = 288, NC = 256, MC_MAX = 192 };

enum { START_ZERO = 0, START_C = 1, ADD_TO_C = 2 };


/* Packs a w x kc slice (element (x, k) at src[x*xs + k*ks]) as ceil(w/W)
 * panels of pairs, panel q at dst + q*pstride: word dst[q*pstride + p*W + x]
 * = pair (element (qW+x, 2p), element (qW+x, 2p+1)), the odd tap 0 past
 * kc, the word 0 past w. Portable, any strides. */
static void pack_pairs_c(uint32_t *dst, size_t pstride, const float *src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc,
                         int W)
{
    const int kp = (kc + 1) / 2;
    for (int q = 0; q * W < w; q++) {
        uint32_t *d = dst + (size_t)q * pstride;
        for (int p = 0; p < kp; p++)
            for (int x = 0; x < W; x++) {
                const int r = q * W + x;
                if (r >= w) {
                    d[(size_t)p * W + x] = 0;
                    continue;
                }
                const float *s = src + r * xs + 2 * p * ks;
                d[(size_t)p * W + x] = bf16_pair(s[0], 2 * p + 1 < kc ? s[ks] : 0.0f);
            }
    }
}

#if BF16_X86
/* v rounded to bf16 lane by lane, as fp32 bits: the bf16 is the high half
 * (nearest, ties to even; a NaN quieted, so it stays a NaN). */
BF16_TARGET static inline __m512i round_bits(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
}

/* 16 pair words from two vectors of the same 16 elements: even taps e, odd o. */
BF16_TARGET static inline __m512i pairs_of(__m512 e, __m512 o)
{
    return _mm512_or_si512(_mm512_srli_epi32(round_bits(e), 16),
                           _mm512_and_si512(round_bits(o), _mm512_set1_epi32((int)0xffff0000u)));
}

static inline __mmask16 first_n(int n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* pack_pairs_c when xs == 1 (contiguous along the width): per pair, two
 * source rows combined lane by lane. */
BF16_TARGET static void pack_pairs_width(uint32_t *dst, size_t pstride, const float *src, ptrdiff_t ks, int w,
                                         int kc, int W)
{
    const int kp = (kc + 1) / 2;
    for (int p = 0; p < kp; p++) {
        const float *s0 = src + 2 * p * ks, *s1 = s0 + ks;
        const int odd = 2 * p + 1 < kc;
        for (int q = 0; q * W < w; q++) {
            uint32_t *d = dst + (size_t)q * pstride + (size_t)p * W;
            for (int x = 0; x < W; x += 16) {
                const __mmask16 m = first_n(w - q * W - x);
                const __m512 e = _mm512_maskz_loadu_ps(m, s0 + q * W + x);
                const __m512 o = odd ? _mm512_maskz_loadu_ps(m, s1 + q * W + x) : _mm512_setzero_ps();
                _mm512_mask_storeu_epi32(d + x, first_n(W - x), pairs_of(e, o)); /* W may be 12 */
            }
        }
    }
}

/* 16 x 16 transpose of 32-bit words: r[x] lane c -> r[c] lane x. */
BF16_TARGET static void transpose16(__m512i r[16])
{
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* r[4i+j] lane L: column 4L+j of rows 4i..4i+3 */
    for (int j = 0; j < 4; j++) {
        const __m512i u = _mm512_shuffle_i32x4(r[j], r[4 + j], 0x44), v = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0x44);
        const __m512i u2 = _mm512_shuffle_i32x4(r[j], r[4 + j], 0xEE), v2 = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0xEE);
        t[j] = _mm512_shuffle_i32x4(u, v, 0x88);
        t[4 + j] = _mm512_shuffle_i32x4(u, v, 0xDD);
        t[8 + j] = _mm512_shuffle_i32x4(u2, v2, 0x88);
        t[12 + j] = _mm512_shuffle_i32x4(u2, v2, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* pack_pairs_c when ks == 1 (contiguous along k): 32 taps of a source row
 * become 16 pair words (bf16 high halves gathered in order), and 16 rows'
 * words are transposed in registers. */
BF16_TARGET static void pack_pairs_k(uint32_t *dst, size_t pstride, const float *src, ptrdiff_t xs, int w, int kc,
                                     int W)
{
    /* the high 16 bits of each 32-bit lane of (lo, hi), in order */
    __m512i hi_halves;
    {
        _Alignas(64) uint16_t idx[32];
        for (int i = 0; i < 32; i++) idx[i] = (uint16_t)(2 * i + 1);
        hi_halves = _mm512_load_si512((const void *)idx);
    }
    const int kp = (kc + 1) / 2;
    for (int q = 0; q * W < w; q++) {
        uint32_t *dq = dst + (size_t)q * pstride;
        for (int x0 = 0; x0 < W; x0 += 16) {
            int rows = w - q * W - x0;
            if (rows > W - x0) rows = W - x0;
            const __mmask16 sm = first_n(W - x0); /* W may be 12 */
            for (int p0 = 0; p0 < kp; p0 += 16) {
                const int k0 = 2 * p0;
                __m512i r[16];
                for (int x = 0; x < 16; x++) {
                    if (x >= rows) {
                        r[x] = _mm512_setzero_si512();
                        continue;
                    }
                    const float *s = src + (q * W + x0 + x) * xs + k0;
                    const __m512i lo = round_bits(_mm512_maskz_loadu_ps(first_n(kc - k0), s));
                    const __m512i hi = round_bits(_mm512_maskz_loadu_ps(first_n(kc - k0 - 16), s + 16));
                    r[x] = _mm512_permutex2var_epi16(lo, hi_halves, hi);
                }
                transpose16(r);
                const int pn = kp - p0 < 16 ? kp - p0 : 16;
                for (int p = 0; p < pn; p++) _mm512_mask_storeu_epi32(dq + (size_t)(p0 + p) * W + x0, sm, r[p]);
            }
        }
    }
}

/* The tile: START_ZERO c = the chains from 0; START_C: the chains go on from
 * c; ADD_TO_C: c += the chains from 0 (one add each).
 *   ap  is [kp][MR] pair words of A, bp [kp][NR] of B (64-byte aligned)
 *   c   is [MR][NR], rows ldc apart */
BF16_TARGET static void micro_kernel(int kp, const uint32_t *restrict ap, const uint32_t *restrict bp,
                                     float *restrict c, ptrdiff_t ldc, int mode)
{
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        acc[i][0] = mode == START_C ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
        acc[i][1] = mode == START_C ? _mm512_loadu_ps(c + i * ldc + 16) : _mm512_setzero_ps();
    }
    for (int p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)bp);
        const __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(bp + 16));
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512bh a = (__m512bh)_mm512_set1_epi32((int)ap[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, b1);
        }
        ap += MR;
        bp += NR;
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (mode == ADD_TO_C) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(c + i * ldc + 16), acc[i][1]);
        }
        _mm512_storeu_ps(c + i * ldc, acc[i][0]);
        _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
    }
}
#else
/* Portable micro_kernel: Intel's order inside a step (the odd product, then
 * the even one, each added with one rounding; no denormal flushing). */
static float bf16_float(uint16_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

static void micro_kernel(int kp, const uint32_t *ap, const uint32_t *bp, float *c, ptrdiff_t ldc, int mode)
{
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            float acc = mode == START_C ? c[i * ldc + j] : 0.0f;
            for (int p = 0; p < kp; p++) {
                const uint32_t a = ap[p * MR + i], b = bp[p * NR + j];
                acc += bf16_float((uint16_t)(a >> 16)) * bf16_float((uint16_t)(b >> 16));
                acc += bf16_float((uint16_t)a) * bf16_float((uint16_t)b);
            }
            c[i * ldc + j] = mode == ADD_TO_C ? c[i * ldc + j] + acc : acc;
        }
}
#endif

#if BF16_X86
BF16_TARGET static void pair_rows_avx(uint32_t *dst, const float *even, const float *odd, int n)
{
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = first_n(n - i);
        const __m512 e = _mm512_maskz_loadu_ps(m, even + i);
        const __m512 o = odd ? _mm512_maskz_loadu_ps(m, odd + i) : _mm512_setzero_ps();
        _mm512_mask_storeu_epi32(dst + i, m, pairs_of(e, o));
    }
}
#endif

void bf16_pair_rows(uint32_t *dst, const float *even, const float *odd, int n)
{
#if BF16_X86
    pair_rows_avx(dst, even, odd, n);
#else
    for (int i = 0; i < n; i++) dst[i] = bf16_pair(even[i], odd ? odd[i] : 0.0f);
#endif
}

/* pack_pairs_c through the fastest packer for the strides. */
static void pack_pairs(uint32_t *dst, size_t pstride, const float *src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc,
                       int W)
{
#if BF16_X86
    if (xs == 1) {
        pack_pairs_width(dst, pstride, src, ks, w, kc, W);
        return;
    }
    if (ks == 1) {
        pack_pairs_k(dst, pstride, src, xs, w, kc, W);
        return;
    }
#endif
    pack_pairs_c(dst, pstride, src, xs, ks, w, kc, W);
}

void bf16_pack_pairs(uint32_t *dst, size_t pstride, const float *src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc,
                     int W)
{
    pack_pairs(dst, pstride, src, xs, ks, w, kc, W);
}

/* Pairs of a block of kc taps: ceil(kc/2), or with micro-batches of mb
 * (the block made of whole ones, the last maybe shorter) each one's own. */
static int block_pairs(int kc, int mb)
{
    if (mb <= 0) return (kc + 1) / 2;
    return kc / mb * ((mb + 1) / 2) + (kc % mb + 1) / 2;
}

/* A block of kc taps (from src) packed as pairs, panels of W, kp =
 * block_pairs(kc, mb) pairs per panel: micro-batch by micro-batch. */
static void pack_block(uint32_t *dst, const float *src, ptrdiff_t xs, ptrdiff_t ks, int w, int kc, int mb, int W)
{
    const size_t pstride = (size_t)block_pairs(kc, mb) * (size_t)W;
    if (mb <= 0) {
        pack_pairs(dst, pstride, src, xs, ks, w, kc, W);
        return;
    }
    for (int k0 = 0; k0 < kc; k0 += mb) {
        const int kn = kc - k0 < mb ? kc - k0 : mb;
        pack_pairs(dst + (size_t)(k0 / mb) * (size_t)((mb + 1) / 2) * (size_t)W, pstride, src + k0 * ks, xs, ks, w,
                   kn, W);
    }
}

static int split_step(int n, int max, int unit)
{
    int pieces = (n + max - 1) / max;
    int step = (n + pieces - 1) / pieces;
    return (step + unit - 1) / unit * unit;
}

/* micro_kernel on a tile of mr x nr <= MR x NR: a ragged one runs on edge. */
static void tile_run(int kp, const uint32_t *ap, const uint32_t *bp, float *c, ptrdiff_t ldc, int mode, int mr,
                     int nr, float *edge)
{
    if (mr == MR && nr == NR) {
        micro_kernel(kp, ap, bp, c, ldc, mode);
        return;
    }
    if (mode != START_ZERO)
        for (int i = 0; i < mr; i++) memcpy(edge + i * NR, c + i * ldc, sizeof(float) * (size_t)nr);
    micro_kernel(kp, ap, bp, edge, NR, mode);
    for (int i = 0; i < mr; i++) memcpy(c + i * ldc, edge + i * NR, sizeof(float) * (size_t)nr);
}

/* Rows [m0,m1) x columns [n0,n1) of C, as gemm.c's gemm_tile: blocks of B
 * (NC columns x a block of taps) and A (MC rows) packed as pairs on the
 * stack, then tile by tile; with micro-batches, each tile runs through the
 * block's micro-batches one by one (ADD_TO_C into its own C). */
static void gemm_tile(const GemmCall *g, int m0, int m1, int n0, int n1)
{
    _Alignas(64) uint32_t bpack[KP * NC];
    _Alignas(64) uint32_t apack[MC_MAX * KP];
    _Alignas(64) float edge[MR * NR];
    const int K = g->K, mb = g->mb;
    if (g->beta != 0.0f && g->beta != 1.0f)
        for (int i = m0; i < m1; i++)
            for (int j = n0; j < n1; j++) g->c[i * g->ldc + j] *= g->beta;
    const int nc_step = split_step(n1 - n0, NC, NR), mc_step = split_step(m1 - m0, MC_MAX, MR);
    /* blocks of taps: whole micro-batches, or an even count (pairs never straddle blocks) */
    const int kc_step = mb > 0 ? KP / ((mb + 1) / 2) * mb : split_step(K, 2 * KP, 2);
    for (int jc = n0; jc < n1; jc += nc_step) {
        const int nc = n1 - jc < nc_step ? n1 - jc : nc_step;
        int kc;
        for (int pc = 0; pc < K; pc += kc) {
            kc = K - pc < kc_step ? K - pc : kc_step;
            const int kp = block_pairs(kc, mb);
            const int mode = mb > 0 ? ADD_TO_C : pc > 0 || g->beta != 0.0f ? START_C : START_ZERO;
            float *cb = g->c + (mb > 0 ? (ptrdiff_t)(pc / mb) * g->cstride : 0);
            pack_block(bpack, g->b + jc * g->b_js + pc * g->b_ks, g->b_js, g->b_ks, nc, kc, mb, NR);
            for (int ic = m0; ic < m1; ic += mc_step) {
                const int mc = m1 - ic < mc_step ? m1 - ic : mc_step;
                pack_block(apack, g->a + ic * g->a_is + pc * g->a_ks, g->a_is, g->a_ks, mc, kc, mb, MR);
                for (int jr = 0; jr < nc; jr += NR) {
                    const int nr = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        const int mr = mc - ir < MR ? mc - ir : MR;
                        float *c = cb + (ic + ir) * g->ldc + jc + jr;
                        const uint32_t *ap = apack + (size_t)ir * (size_t)kp, *bp = bpack + (size_t)jr * (size_t)kp;
                        if (mb <= 0) {
                            tile_run(kp, ap, bp, c, g->ldc, mode, mr, nr, edge);
                            continue;
                        }
                        const int mp = (mb + 1) / 2; /* pairs of a whole micro-batch */
                        for (int k0 = 0, j = 0; k0 < kc; k0 += mb, j++) {
                            const int kn = kc - k0 < mb ? kc - k0 : mb;
                            tile_run((kn + 1) / 2, ap + (size_t)j * mp * MR, bp + (size_t)j * mp * NR,
                                     c + j * g->cstride, g->ldc, ADD_TO_C, mr, nr, edge);
                        }
                    }
                }
            }
        }
    }
}

/* An mt x nt grid of thread rectangles (mt*nt = threads) minimizing the
 * slowest thread's padded tile area plus its packing traffic. */
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

void gemm_bf16_run(const GemmCall *g)
{
    const int M = g->M, N = g->N, K = g->K;
    int threads = 2.0 * M * N * K >= 1e6 ? max_threads() : 1;
    int mt, nt;
    choose_grid(M, N, threads, &mt, &nt);
    threads = mt * nt;
    const int mbk = (M + MR - 1) / MR, nbk = (N + NR - 1) / NR;
    const int rows = (mbk + mt - 1) / mt * MR, cols = (nbk + nt - 1) / nt * NR;
    (void)K;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int t = 0; t < threads; t++) {
        const int m0 = (t / nt) * rows, n0 = (t % nt) * cols;
        const int m1 = m0 + rows < M ? m0 + rows : M, n1 = n0 + cols < N ? n0 + cols : N;
        if (m0 < m1 && n0 < n1) gemm_tile(g, m0, m1, n0, n1);
    }
}
