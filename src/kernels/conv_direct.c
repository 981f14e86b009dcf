/* conv_direct.c - stride-1 convolution without im2col (see conv_direct.h).
 *
 * Reading order: the padded image (Padded), the tile kernels (tile_conv
 * and tile_store for forward and dX; the narrow path of one input channel,
 * narrow_sample; tile_dw and tile_dw_direct for dW), the weight packings,
 * then forward, and backward as named steps per sample.
 *
 * Scratch layout (floats of ws). Forward: the packed weights, then one slot
 * per thread (the padded image, and a sample's output when it is not stored).
 * Backward: the flipped weights (for dX), the packed weights (when the output
 * is recomputed), one dW/db part per chunk of CONV_CHUNK samples, then one
 * slot per thread (Slot: padded x, padded dy, dy transposed, dy through the
 * fused relu/pool, the recomputed output). The padded images are zeroed once
 * per call; only their interiors are rewritten per sample, so borders stay
 * zero. */
#include "kernels/conv_direct.h"

#include <stddef.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/transpose.h"
#include "kernels/pool.h"
#include "kernels/threads.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

enum { TR = 8, TN = 32 }; /* tile: 8 broadcast rows x 32 vector columns */

static size_t up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* A zero-padded image read by a kh x kw window. Rows have pitch w + pw:
 * the pw zeros after a row are also the left padding of the next, so each
 * output row has only kw - 1 - pw wasted columns (1 for 3x3 pad 1). Channel
 * c's block (plane floats) is pw leading zeros, then hp = h + 2ph rows; input
 * (c, y, x) sits at c*plane + pw + (y + ph)*pitch + x. Tap (c, i, j) of the
 * output at position p = oy*pitch + ox then reads c*plane + i*pitch + j + p. */
typedef struct {
    int c, hp, ph, pw, pitch, kh, kw;
    int oh, ow;   /* window positions: hp - kh + 1, w + 2pw - kw + 1  */
    size_t plane; /* pw + hp * pitch                                  */
    size_t np;    /* positions in padded numbering: oh * pitch        */
    size_t size;  /* floats, with the slack the last tile reads past  */
} Padded;

static Padded padded(int c, int h, int w, int ph, int pw, int kh, int kw)
{
    Padded p;
    p.c = c, p.hp = h + 2 * ph, p.ph = ph, p.pw = pw, p.pitch = w + pw, p.kh = kh, p.kw = kw;
    p.oh = p.hp - kh + 1, p.ow = w + 2 * pw - kw + 1; /* ow <= pitch as pw <= kw - 1 */
    p.plane = (size_t)pw + (size_t)p.hp * (size_t)p.pitch;
    p.np = (size_t)p.oh * (size_t)p.pitch;
    /* The last tile reads up to (c-1)*plane + (kh-1)*pitch + kw-1 + up(np, TN) - 1
     * < c*plane + kw + TN. */
    p.size = up((size_t)c * p.plane + (size_t)kw + TN + 16, 16);
    return p;
}

/* Copies image src (c, h, w) into the interior of p's buffer dst. */
static void pad_copy(const Padded *p, const float *src, int h, int w, float *dst)
{
    for (int c = 0; c < p->c; c++)
        for (int y = 0; y < h; y++)
            memcpy(dst + (size_t)c * p->plane + (size_t)p->pw + (size_t)(y + p->ph) * (size_t)p->pitch,
                   src + ((size_t)c * (size_t)h + (size_t)y) * (size_t)w, (size_t)w * sizeof *dst);
}

/* One register tile of the product: out[r][x] = sum over taps k = (ch, i, j)
 * in that order of a[k*TR + r] * xb[ch*plane + i*pitch + j + x], for r < TR,
 * x < TN: one chain per element.
 *   p    the padded image's layout (C = p->c channels, KH x KW taps each)
 *   a    is [K][TR]: one panel of packed weights (K = C*KH*KW)
 *   xb   the padded image, from the tile's first position on
 *   out  is [TR][TN], OVERWRITTEN */
static void tile_conv(const Padded *p, const float *restrict a, const float *restrict xb, float *restrict out)
{
#ifdef __AVX512F__
    __m512 acc[TR][2];
    for (int r = 0; r < TR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int ch = 0; ch < p->c; ch++)
        for (int i = 0; i < p->kh; i++) {
            const float *row = xb + (size_t)ch * p->plane + (size_t)i * (size_t)p->pitch;
            for (int j = 0; j < p->kw; j++) {
                const __m512 b0 = _mm512_loadu_ps(row + j), b1 = _mm512_loadu_ps(row + j + 16);
#pragma GCC unroll 8
                for (int r = 0; r < TR; r++) {
                    const __m512 av = _mm512_set1_ps(a[r]);
                    acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
                }
                a += TR;
            }
        }
    for (int r = 0; r < TR; r++) {
        _mm512_storeu_ps(out + r * TN, acc[r][0]);
        _mm512_storeu_ps(out + r * TN + 16, acc[r][1]);
    }
#else
    float acc[TR][TN];
    for (int r = 0; r < TR; r++)
        for (int x = 0; x < TN; x++) acc[r][x] = 0.0f;
    for (int ch = 0; ch < p->c; ch++)
        for (int i = 0; i < p->kh; i++) {
            const float *row = xb + (size_t)ch * p->plane + (size_t)i * (size_t)p->pitch;
            for (int j = 0; j < p->kw; j++) {
                for (int r = 0; r < TR; r++)
                    for (int x = 0; x < TN; x++) acc[r][x] += a[r] * row[j + x];
                a += TR;
            }
        }
    memcpy(out, acc, sizeof acc);
#endif
}

/* Rows [0, rows) of a tile (positions j0 .. j0+TN-1 in padded numbering) to
 * channels o0.. of y, dropping the columns past ow, plus bias[o] if bias is
 * not NULL, then max(., 0) if relu.
 *   tile  is [TR][TN], from tile_conv
 *   bias  is (OC), or NULL
 *   y     is (OC, oh, ow) (p->oh, p->ow): rows o0 .. o0+rows-1 written */
static void tile_store(const Padded *p, const float *tile, int rows, size_t j0, const float *bias, int relu,
                       int o0, float *y)
{
    const size_t ohw = (size_t)p->oh * (size_t)p->ow;
    size_t pos = j0;
    int x = 0;
    while (x < TN && pos < p->np) {
        const int oy = (int)(pos / (size_t)p->pitch), ox = (int)(pos % (size_t)p->pitch);
        int run = p->pitch - ox;
        if (run > TN - x) run = TN - x;
        if ((size_t)run > p->np - pos) run = (int)(p->np - pos);
        const int valid = ox < p->ow ? (p->ow - ox < run ? p->ow - ox : run) : 0;
        for (int r = 0; r < rows; r++) {
            float *dst = y + (size_t)(o0 + r) * ohw + (size_t)oy * (size_t)p->ow + (size_t)ox;
            const float *src = tile + r * TN + x;
            const float bo = bias ? bias[o0 + r] : 0.0f;
#ifdef __AVX512F__
            for (int q = 0; q < valid; q += 16) {
                const __mmask16 m = valid - q >= 16 ? 0xFFFF : (__mmask16)((1u << (valid - q)) - 1);
                __m512 v = _mm512_maskz_loadu_ps(m, src + q);
                if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bo));
                if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps()); /* NaN and -0 give 0, as below */
                _mm512_mask_storeu_ps(dst + q, m, v);
            }
#else
            for (int q = 0; q < valid; q++) {
                const float v = bias ? src[q] + bo : src[q];
                dst[q] = relu ? (v > 0.0f ? v : 0.0f) : v;
            }
#endif
        }
        x += run;
        pos += (size_t)run;
    }
}

/* One sample's convolution, plus bias unless NULL, then max(., 0) if relu:
 *   p     the padded image's layout (K = p->c * KH * KW taps per output)
 *   ap    is ceil(m/TR) panels of [K][TR]: the packed weights of m outputs
 *   xp    the padded image (p->size floats)
 *   bias  is (m), or NULL
 *   y     is (m, oh, ow) (p->oh, p->ow), OVERWRITTEN */
static void conv_sample(const Padded *p, const float *ap, const float *xp, int m, const float *bias, int relu,
                        float *y)
{
    const size_t K = (size_t)p->c * (size_t)p->kh * (size_t)p->kw;
    _Alignas(64) float tile[TR * TN];
    for (size_t j0 = 0; j0 < p->np; j0 += TN)
        for (int mt = 0; mt * TR < m; mt++) {
            tile_conv(p, ap + (size_t)mt * TR * K, xp + j0, tile);
            tile_store(p, tile, m - mt * TR < TR ? m - mt * TR : TR, j0, bias, relu, mt * TR, y);
        }
}

/* ---- the narrow path: one input channel, at most NARROW_K taps ---------- */

/* A first layer (one input channel, 3x3 "same" padding) has only 9 taps per
 * output: an 8 x 32 tile of tile_conv spends more on loads, zeroing and
 * stores than on its 9 FMAs per element. The narrow path instead holds the
 * taps' weights of two output channels in registers (2 x 9 broadcasts) and
 * streams vectors of 16 output positions, numbered p = oy*OW + ox as y
 * stores them: tap (i, j) of the vector at p reads 16 consecutive floats
 * of a "flat" padded image (rows of pitch W = OW, PH zero rows above and
 * below), with the lanes whose column ox + j - PW leaves [0, W) masked to
 * zero. Each element is still 0, then one FMA per tap in tap order, then
 * + bias and max(., 0): the same chain, the same bits as tile_conv. */
enum { NARROW_K = 9, NARROW_MAXV = 256, NARROW_NV = 4 };

/* 1 if g takes the narrow path in forward (and in backward's recompute). */
static int narrow_ok(const ConvGeom *g)
{
#ifdef __AVX512F__
    /* the windows narrow_sample has a case for (ow == w makes kw odd) */
    const int k = g->kh * 16 + g->kw;
    const int shape = k == 0x33 || k == 0x11 || k == 0x13 || k == 0x31 || k == 0x15 || k == 0x51 || k == 0x17 ||
                      k == 0x71 || k == 0x19 || k == 0x91;
    return shape && g->c == 1 && g->ow == g->w &&
           ((size_t)g->oh * (size_t)g->ow + 15) / 16 <= NARROW_MAXV;
#else
    (void)g;
    return 0;
#endif
}

/* The flat padded image: lead floats of slack, then h + 2ph rows of w. */
typedef struct {
    size_t lead, size;
} Flat;

static Flat flat_of(const ConvGeom *g)
{
    Flat f;
    f.lead = 16; /* >= pw: tap (0, 0) of position 0 reads lead - pw */
    f.size = up(f.lead + (size_t)(g->h + 2 * g->ph) * (size_t)g->w + (size_t)g->kw + 32, 16);
    return f;
}

/* Copies x_s (1, h, w) into the flat buffer's interior; the rest stays 0. */
static void flat_copy(const ConvGeom *g, const Flat *f, const float *src, float *dst)
{
    memcpy(dst + f->lead + (size_t)g->ph * (size_t)g->w, src, (size_t)g->h * (size_t)g->w * sizeof *dst);
}

/* What every pass of one sample shares (lane masks: bit l for lane l). */
typedef struct {
    int kh, kw, pw, w, nvec;     /* the window, padding, width; vectors of 16 positions */
    size_t P;                    /* positions: oh*ow                           */
    ptrdiff_t off0;              /* tap (i, j) reads xf + off0 + i*w + j + p   */
    unsigned short tail;         /* the lanes of the last vector inside P      */
    const unsigned short *mask;  /* [nvec][kw]: lanes where tap column j is inside the image */
} NarrowPlan;

#ifdef __AVX512F__
#define NARROW_INLINE static inline __attribute__((always_inline))

/* The loop-invariant part of a NarrowPlan, in locals (y's stores could
 * otherwise alias the plan and force reloads). */
typedef struct {
    const float *xb;            /* xf + off0: tap (i, j) of position p reads xb + i*w + j + p */
    ptrdiff_t w;                /* the row pitch                                              */
    const unsigned short *mask; /* [nvec][kw]                                                 */
    int nvec;
    __mmask16 tail;
} NarrowRun;

/* nv vectors from vector v0 on, outputs o and o + 1 (wa, wb: their KH*KW
 * taps' weights, broadcast): y rows = the chains, + bias, relu'd. KH, KW
 * are constants where it is inlined, so the loops unroll into registers;
 * the centre column (j = KW/2: ow == w makes PW = KW/2) is never masked. */
NARROW_INLINE void narrow_block(const int KH, const int KW, const int nv, const NarrowRun r, const __m512 *wa,
                                const __m512 *wb, int v0, __m512 ba, __m512 bb, int bias, int relu, int two,
                                float *ya, float *yb)
{
    __m512 a[NARROW_NV], b[NARROW_NV];
    __mmask16 m[NARROW_NV][9];
#pragma GCC unroll 4
    for (int u = 0; u < nv; u++) {
        a[u] = b[u] = _mm512_setzero_ps();
#pragma GCC unroll 9
        for (int j = 0; j < KW; j++) m[u][j] = j == KW / 2 ? 0xFFFF : r.mask[(size_t)(v0 + u) * KW + (size_t)j];
    }
#pragma GCC unroll 9
    for (int i = 0; i < KH; i++) {
#pragma GCC unroll 9
        for (int j = 0; j < KW; j++) {
            const int k = i * KW + j;
#pragma GCC unroll 4
            for (int u = 0; u < nv; u++) {
                const float *xp = r.xb + (ptrdiff_t)i * r.w + j + (ptrdiff_t)(v0 + u) * 16;
                const __m512 x = j == KW / 2 ? _mm512_loadu_ps(xp) : _mm512_maskz_loadu_ps(m[u][j], xp);
                a[u] = _mm512_fmadd_ps(wa[k], x, a[u]);
                b[u] = _mm512_fmadd_ps(wb[k], x, b[u]);
            }
        }
    }
#pragma GCC unroll 4
    for (int u = 0; u < nv; u++) {
        const int v = v0 + u;
        const __mmask16 sm = v == r.nvec - 1 ? r.tail : 0xFFFF;
        if (bias) a[u] = _mm512_add_ps(a[u], ba), b[u] = _mm512_add_ps(b[u], bb);
        if (relu) a[u] = _mm512_max_ps(a[u], _mm512_setzero_ps()), b[u] = _mm512_max_ps(b[u], _mm512_setzero_ps());
        _mm512_mask_storeu_ps(ya + (size_t)v * 16, sm, a[u]);
        if (two) _mm512_mask_storeu_ps(yb + (size_t)v * 16, sm, b[u]);
    }
}

/* Output channels o and o + 1 (o alone if !two) of one sample, KH x KW taps. */
NARROW_INLINE void narrow_pair(const int KH, const int KW, const NarrowPlan *np, const float *w, const float *bias,
                               int relu, const float *xf, int o, int two, float *y)
{
    const int K = KH * KW;
    const NarrowRun r = {xf + np->off0, np->w, np->mask, np->nvec, np->tail};
    __m512 wa[NARROW_K], wb[NARROW_K];
#pragma GCC unroll 9
    for (int k = 0; k < K; k++) {
        wa[k] = _mm512_set1_ps(w[(size_t)o * (size_t)K + (size_t)k]);
        wb[k] = two ? _mm512_set1_ps(w[(size_t)(o + 1) * (size_t)K + (size_t)k]) : _mm512_setzero_ps();
    }
    const __m512 ba = _mm512_set1_ps(bias ? bias[o] : 0.0f), bb = _mm512_set1_ps(bias && two ? bias[o + 1] : 0.0f);
    float *ya = y + (size_t)o * np->P, *yb = ya + np->P;
    const int has_bias = bias != NULL;
    int v = 0;
    for (; v + NARROW_NV <= r.nvec; v += NARROW_NV)
        narrow_block(KH, KW, NARROW_NV, r, wa, wb, v, ba, bb, has_bias, relu, two, ya, yb);
    for (; v < r.nvec; v++) narrow_block(KH, KW, 1, r, wa, wb, v, ba, bb, has_bias, relu, two, ya, yb);
}

/* All oc outputs of one sample: w is (oc, KH*KW) as the layer holds it. */
static void narrow_sample(const NarrowPlan *np, const float *w, const float *bias, int relu, const float *xf, int oc,
                          float *y)
{
    for (int o = 0; o < oc; o += 2) {
        const int two = o + 1 < oc;
        switch (np->kh * 16 + np->kw) {
#define NARROW_CASE(kh, kw)                                                                                            \
    case kh * 16 + kw:                                                                                                 \
        narrow_pair(kh, kw, np, w, bias, relu, xf, o, two, y);                                                         \
        break;
            NARROW_CASE(3, 3)
            NARROW_CASE(1, 1)
            NARROW_CASE(1, 3)
            NARROW_CASE(3, 1)
            NARROW_CASE(1, 5)
            NARROW_CASE(5, 1)
            NARROW_CASE(1, 7)
            NARROW_CASE(7, 1)
            NARROW_CASE(1, 9)
            NARROW_CASE(9, 1)
#undef NARROW_CASE
        default:
            break; /* narrow_ok admits only these */
        }
    }
}

#else
static void narrow_sample(const NarrowPlan *np, const float *w, const float *bias, int relu, const float *xf, int oc,
                          float *y)
{
    (void)np, (void)w, (void)bias, (void)relu, (void)xf, (void)oc, (void)y; /* narrow_ok is 0: never called */
}
#endif

/* np for g (narrow_ok), its masks in mask ([NARROW_MAXV][kw]). */
static void narrow_plan(const ConvGeom *g, const Flat *f, unsigned short *mask, NarrowPlan *np)
{
    np->kh = g->kh;
    np->kw = g->kw;
    np->pw = g->pw;
    np->w = g->w;
    np->P = (size_t)g->oh * (size_t)g->ow;
    np->nvec = (int)((np->P + 15) / 16);
    const int rem = (int)(np->P - (size_t)(np->nvec - 1) * 16);
    np->tail = rem >= 16 ? 0xFFFF : (unsigned short)((1u << rem) - 1);
    np->off0 = (ptrdiff_t)f->lead - g->pw;
    for (int v = 0; v < np->nvec; v++)
        for (int j = 0; j < g->kw; j++) {
            unsigned m = 0;
            for (int l = 0; l < 16; l++) {
                const int col = (int)(((size_t)v * 16 + (size_t)l) % (size_t)g->ow) + j - g->pw;
                if (col >= 0 && col < g->w) m |= 1u << l;
            }
            mask[v * g->kw + j] = (unsigned short)m;
        }
    np->mask = mask;
}

/* dW tiles have up to TDW taps (rows) x TN channels: 24 accumulators, and
 * a first layer's 9 taps fit one tile exactly. */
enum { TDW = 12 };

/* Cache lines [from, to) that a dW tile fetches ahead (per_step of them per
 * position, into L2) while its FMAs leave the loads idle: the next sample's
 * gradient, which would otherwise come from memory when its turn comes. */
typedef struct {
    const char *from, *to;
    int per_step;
} Prefetch;

#ifdef __AVX512F__
/* tile_dw with KR rows, a constant where it is inlined. */
static inline __attribute__((always_inline)) void tile_dw_rows(const int KR, const Padded *p,
                                                               const float *const *xr, const float *restrict dyt,
                                                               float *acc_io, size_t ld, int first,
                                                               const Prefetch *pf)
{
    const char *pl = pf->from, *pe = pf->to;
    __m512 acc[TDW][2];
    const float *x[TDW];
#pragma GCC unroll 12
    for (int r = 0; r < KR; r++) {
        acc[r][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld);
        acc[r][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld + 16);
        x[r] = xr[r];
    }
    for (int oy = 0; oy < p->oh; oy++) {
        const size_t base = (size_t)oy * (size_t)p->pitch;
        for (int ox = 0; ox < p->ow; ox++) {
            const size_t t = base + (size_t)ox;
            const __m512 b0 = _mm512_loadu_ps(dyt), b1 = _mm512_loadu_ps(dyt + 16);
            dyt += TN;
            for (int z = 0; z < pf->per_step && pl < pe; z++, pl += 64) __builtin_prefetch(pl, 0, 2);
#pragma GCC unroll 12
            for (int r = 0; r < KR; r++) {
                const __m512 av = _mm512_set1_ps(x[r][t]);
                acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
            }
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < KR; r++) {
        _mm512_storeu_ps(acc_io + r * ld, acc[r][0]);
        _mm512_storeu_ps(acc_io + r * ld + 16, acc[r][1]);
    }
}
#endif

#ifdef __AVX512F__

/* tile_dw_rows reading dy (channels o0.., rows of P) as it is: each block
 * of 16 positions is transposed into blk on the way, instead of the whole
 * sample beforehand (for a tile that is the only one over its channels: a
 * first layer, K <= TDW). The same chains in the same order. */
static inline __attribute__((always_inline)) void tile_dw_rows_direct(const int KR, const Padded *p,
                                                                      const float *const *xr,
                                                                      const float *restrict dys, int rows,
                                                                      float *acc_io, size_t ld, int first,
                                                                      const Prefetch *pf)
{
    const size_t P = (size_t)p->oh * (size_t)p->ow;
    const char *pl = pf->from, *pe = pf->to;
    _Alignas(64) float blk[16][TN];
    __m512 acc[TDW][2];
    const float *x[TDW];
#pragma GCC unroll 12
    for (int r = 0; r < KR; r++) {
        acc[r][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld);
        acc[r][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld + 16);
        x[r] = xr[r];
    }
    int oy = 0, ox = 0;
    for (size_t q0 = 0; q0 < P; q0 += 16) {
        const int kn = P - q0 < 16 ? (int)(P - q0) : 16;
        const __mmask16 km = kn == 16 ? 0xFFFF : (__mmask16)((1u << kn) - 1);
        for (int h = 0; h < 2; h++) {
            __m512 r[16];
            for (int c = 0; c < 16; c++)
                r[c] = h * 16 + c < rows ? _mm512_maskz_loadu_ps(km, dys + (size_t)(h * 16 + c) * P + q0)
                                         : _mm512_setzero_ps();
            transpose16(r);
            for (int k = 0; k < 16; k++) _mm512_store_ps(blk[k] + h * 16, r[k]);
        }
        for (int k = 0; k < kn; k++) {
            const size_t t = (size_t)oy * (size_t)p->pitch + (size_t)ox;
            const __m512 b0 = _mm512_load_ps(blk[k]), b1 = _mm512_load_ps(blk[k] + 16);
            for (int z = 0; z < pf->per_step && pl < pe; z++, pl += 64) __builtin_prefetch(pl, 0, 2);
#pragma GCC unroll 12
            for (int r = 0; r < KR; r++) {
                const __m512 av = _mm512_set1_ps(x[r][t]);
                acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
            }
            if (++ox == p->ow) ox = 0, oy++;
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < KR; r++) {
        _mm512_storeu_ps(acc_io + r * ld, acc[r][0]);
        _mm512_storeu_ps(acc_io + r * ld + 16, acc[r][1]);
    }
}

/* tile_dw on dy as it is (channels o0 .. o0 + rows - 1, rows <= TN, rows of
 * P floats): see tile_dw_rows_direct. */
static void tile_dw_direct(const Padded *p, const float *const *xr, int kr, const float *dys, int rows,
                           float *acc_io, size_t ld, int first, const Prefetch *pf)
{
    switch (kr) {
#define DWD_CASE(k)                                                                                                    \
    case k:                                                                                                            \
        tile_dw_rows_direct(k, p, xr, dys, rows, acc_io, ld, first, pf);                                               \
        break;
        DWD_CASE(1)
        DWD_CASE(2)
        DWD_CASE(3)
        DWD_CASE(4)
        DWD_CASE(5)
        DWD_CASE(6)
        DWD_CASE(7)
        DWD_CASE(8)
        DWD_CASE(9)
        DWD_CASE(10)
        DWD_CASE(11)
        DWD_CASE(12)
#undef DWD_CASE
    default:
        break; /* kr is 1..TDW */
    }
}
#endif

/* One register tile of dW^T: acc rows r (kr <= TDW taps) x TN channels =
 * (first ? 0 : acc) + the sum over valid positions q (row-major) of
 * xr[r][t(q)] * dyt[q*TN + 0..TN), t(q) = oy*pitch + ox: one chain per
 * element, so the tile's height never changes a result.
 *   p       the padded image's layout
 *   xr      kr pointers: where each tap of the tile reads the padded x
 *   dyt     is [OH*OW][TN]: one panel of TN channels of dy, transposed
 *   acc_io  is [kr][ld]: TN columns of each row, ACCUMULATED unless first */
static void tile_dw(const Padded *p, const float *const *xr, int kr, const float *restrict dyt, float *acc_io,
                    size_t ld, int first, const Prefetch *pf)
{
#ifdef __AVX512F__
    switch (kr) {
#define DW_CASE(k)                                                                                                     \
    case k:                                                                                                            \
        tile_dw_rows(k, p, xr, dyt, acc_io, ld, first, pf);                                                            \
        break;
        DW_CASE(1)
        DW_CASE(2)
        DW_CASE(3)
        DW_CASE(4)
        DW_CASE(5)
        DW_CASE(6)
        DW_CASE(7)
        DW_CASE(8)
        DW_CASE(9)
        DW_CASE(10)
        DW_CASE(11)
        DW_CASE(12)
#undef DW_CASE
    default:
        break; /* kr is 1..TDW */
    }
#else
    (void)pf;
    float acc[TDW][TN];
    for (int r = 0; r < kr; r++)
        for (int x = 0; x < TN; x++) acc[r][x] = first ? 0.0f : acc_io[r * ld + x];
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            const size_t t = (size_t)oy * (size_t)p->pitch + (size_t)ox;
            for (int r = 0; r < kr; r++) {
                const float a = xr[r][t];
                for (int x = 0; x < TN; x++) acc[r][x] += a * dyt[x];
            }
            dyt += TN;
        }
    for (int r = 0; r < kr; r++)
        for (int x = 0; x < TN; x++) acc_io[r * ld + x] = acc[r][x];
#endif
}

/* The sum of v[0..len) in double: 16 lanes (element q to lane q % 16, which
 * vectorizes and keeps the dependent chains short), added in a fixed order. */
static float plane_sum(const float *restrict v, size_t len)
{
    double acc[16] = {0};
    size_t q = 0;
    for (; q + 16 <= len; q += 16)
        for (int u = 0; u < 16; u++) acc[u] += (double)v[q + (size_t)u];
    for (int u = 0; q < len; q++, u++) acc[u] += (double)v[q];
    for (int w = 8; w >= 1; w /= 2)
        for (int u = 0; u < w; u++) acc[u] += acc[u + w];
    return (float)acc[0];
}

#ifdef __AVX512F__
/* plane_sum of the four planes v, v + len, v + 2len, v + 3len, before the
 * final rounding to float (sum[u] is plane u's double): lane q % 16 of each
 * plane is added in q order, masked zeros past the end (adding +0 changes
 * no sum: one that starts at +0 is never -0), the same tree at the end. */
static void plane_sum4(const float *restrict v, size_t len, double *sum)
{
    __m512d lo[4], hi[4];
    for (int u = 0; u < 4; u++) lo[u] = hi[u] = _mm512_setzero_pd();
    for (size_t q = 0; q < len; q += 16) {
        const size_t left = len - q;
        const __mmask8 ml = left >= 8 ? 0xFF : (__mmask8)((1u << left) - 1);
        const __mmask8 mh = left >= 16 ? 0xFF : left <= 8 ? 0 : (__mmask8)((1u << (left - 8)) - 1);
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const float *p = v + (size_t)u * len + q;
            lo[u] = _mm512_add_pd(lo[u], _mm512_cvtps_pd(_mm256_maskz_loadu_ps(ml, p)));
            hi[u] = _mm512_add_pd(hi[u], _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mh, p + 8)));
        }
    }
    for (int u = 0; u < 4; u++) {
        double acc[16];
        _mm512_storeu_pd(acc, lo[u]);
        _mm512_storeu_pd(acc + 8, hi[u]);
        for (int w = 8; w >= 1; w /= 2)
            for (int l = 0; l < w; l++) acc[l] += acc[l + w];
        sum[u] = acc[0];
    }
}
#endif

/* The sizes of one call, shared by the entry points. */
typedef struct {
    size_t K;        /* taps per output: C*KH*KW                                 */
    size_t K_tiled;  /* K rounded up to whole tiles of TR: a dW part's rows      */
    size_t K_flip;   /* taps per output of dX's convolution: OC*KH*KW            */
    size_t OC_tiled; /* OC rounded up to whole tiles of TN: a dW part's columns  */
    size_t P;        /* output positions: OH*OW                                  */
    size_t part;     /* one chunk's part: dW^T [K_tiled][OC_tiled], then db [OC] */
    Padded xpad;     /* x padded by PH, PW: read by forward and dW               */
    Padded dypad;    /* dy padded by KH-1-PH, KW-1-PW: read by dX                */
    int narrow;      /* forward (and recompute) on the narrow path: narrow_ok    */
    Flat flat;       /* x flat-padded for the narrow path (size 0 if not narrow) */
    size_t slot;     /* per thread: xpad.size + dypad.size + P*OC_tiled + 2*OC*P
                      * + flat.size                                              */
} Dims;

static Dims dims(const ConvGeom *g, int oc)
{
    Dims d;
    d.K = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    d.K_tiled = up(d.K, TR);
    d.K_flip = (size_t)oc * (size_t)g->kh * (size_t)g->kw;
    d.OC_tiled = up((size_t)oc, TN);
    d.P = (size_t)g->oh * (size_t)g->ow;
    d.part = d.K_tiled * d.OC_tiled + (size_t)oc;
    d.xpad = padded(g->c, g->h, g->w, g->ph, g->pw, g->kh, g->kw);
    d.dypad = padded(oc, g->oh, g->ow, g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->kh, g->kw);
    d.narrow = narrow_ok(g);
    d.flat = flat_of(g);
    if (!d.narrow) d.flat.size = 0;
    d.slot = d.xpad.size + d.dypad.size + d.P * d.OC_tiled + 2 * (size_t)oc * d.P + d.flat.size;
    return d;
}

size_t conv_direct_ws_per_sample(const ConvGeom *g, int oc)
{
    const Dims d = dims(g, oc);
    /* forward weights + flipped weights + one part + one slot: n of these
     * cover the one copy of each (backward may need both), nch <= n parts
     * and nt <= n slots */
    return up((size_t)oc, TR) * d.K + up((size_t)g->c, TR) * d.K_flip + d.part + d.slot;
}

/* wpack (ceil(OC/TR) panels of [K][TR]) = w (OC, K), zero past OC: the
 * weights as tile_conv reads them. */
static void pack_weights(const float *w, int oc, size_t K, float *wpack)
{
    for (int mt = 0; mt * TR < oc; mt++)
        for (size_t k = 0; k < K; k++)
            for (int r = 0; r < TR; r++) {
                const int o = mt * TR + r;
                wpack[((size_t)mt * K + k) * TR + (size_t)r] = o < oc ? w[(size_t)o * K + k] : 0.0f;
            }
}

/* wflip (ceil(C/TR) panels of [OC*KH*KW][TR]) = the packed weights of dX's
 * convolution, zero past C: dX = conv(dy padded by KH-1-PH, W') with
 * W'[c][o][i][j] = W[o][c][KH-1-i][KW-1-j], tap k' = (o*KH + i)*KW + j.
 * Flipping both axes of a window reverses its row-major tap order:
 * (KH-1-i)*KW + (KW-1-j) = KH*KW-1 - (i*KW + j).
 *   w  is (OC, C, KH, KW) */
static void flip_weights(const ConvGeom *g, int oc, const float *w, float *wflip)
{
    const size_t C = (size_t)g->c, taps = (size_t)g->kh * (size_t)g->kw, K_flip = (size_t)oc * taps;
    for (size_t ct = 0; ct * TR < C; ct++)
        for (size_t kf = 0; kf < K_flip; kf++) {
            const size_t o = kf / taps, tap = kf % taps;
            for (size_t r = 0; r < TR; r++) {
                const size_t c = ct * TR + r;
                wflip[(ct * K_flip + kf) * TR + r] = c < C ? w[(o * C + c) * taps + (taps - 1 - tap)] : 0.0f;
            }
        }
}

/* conv_forward for the direct path (conv.h gives the arguments' shapes):
 * per sample, x_s padded into the thread's slot, then y_s = conv_sample + b
 * (relu'd if fused), and its 2x2 maxpool if fused. Parallel over samples. */
void conv_direct_forward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                         const ConvFuse *f, float *y, float *ws)
{
    const Dims d = dims(g, oc);
    (void)m; /* MATH_BF16_DP: not yet (fp32) */
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * d.P;
    const size_t pimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2);
    const int relu = f && f->relu, keep = !(f && f->pool && conv_recomputes(g));
    float *wpack = ws, *slots = ws + up((size_t)oc, TR) * d.K;
    unsigned short mask[NARROW_MAXV * NARROW_K];
    NarrowPlan np;
    if (d.narrow)
        narrow_plan(g, &d.flat, mask, &np);
    else
        pack_weights(w, oc, d.K, wpack);
    const int nt = max_threads() < n ? max_threads() : n;
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)d.K * (double)d.P * oc >= PAR_MIN)
    {
        float *xpad = slots + (size_t)thread_num() * d.slot, *ybuf = xpad + d.xpad.size;
        float *flat = xpad + d.slot - d.flat.size;
        if (d.narrow)
            memset(flat, 0, d.flat.size * sizeof *flat);
        else
            memset(xpad, 0, d.xpad.size * sizeof *xpad);
#pragma omp for schedule(dynamic, 1)
        for (int s = 0; s < n; s++) {
            float *ys = keep ? y + (size_t)s * oimg : ybuf; /* recomputed in backward: not stored */
            if (d.narrow) {
                flat_copy(g, &d.flat, x + (size_t)s * img, flat);
                narrow_sample(&np, w, b, relu, flat, oc, ys);
            } else {
                pad_copy(&d.xpad, x + (size_t)s * img, g->h, g->w, xpad);
                conv_sample(&d.xpad, wpack, xpad, oc, b, relu, ys);
            }
            if (f && f->pool) pool_max2x2_sample(ys, oc, g->oh, g->ow, f->pool + (size_t)s * pimg);
        }
    }
}

/* ---- backward, step by step ---------------------------------------------- */

/* One call of conv_direct_backward: its arguments (shapes in conv.h), its
 * sizes and the scratch all threads read. */
typedef struct {
    const ConvGeom *g;
    Dims d;
    int oc, n;
    int relu, pooled, recompute; /* the fusions; recompute: y was not stored */
    const float *x, *b, *y, *dy;
    float *dx;
    ConvChunks ck;      /* the chunks (micro-batches)                          */
    const float *wpack; /* w packed for tile_conv, to recompute y (recompute only) */
    const float *wflip; /* the flipped weights of dX's convolution (dx only)      */
    const float *w;     /* the weights as given: the narrow path's recompute       */
    const NarrowPlan *np; /* the narrow path's plan (d.narrow only)                */
} Backward;

/* One thread's slot of the scratch, for the sample it is working on. */
typedef struct {
    float *xpad;  /* x_s padded (xpad.size floats)                              */
    float *dypad; /* dy_s padded for dX (dypad.size)                            */
    float *dyt;   /* dy_s transposed, panels of TN channels: [P][TN] each       */
    float *dmask; /* dy_s taken back through the fused relu (and pool): (OC, P) */
    float *ybuf;  /* y_s, recomputed: (OC, P)                                   */
    float *flat;  /* x_s flat-padded for the narrow path (flat.size)            */
} Slot;

static Slot slot_of(const Dims *d, int oc, float *slots, int thread)
{
    Slot sl;
    sl.xpad = slots + (size_t)thread * d->slot;
    sl.dypad = sl.xpad + d->xpad.size;
    sl.dyt = sl.dypad + d->dypad.size;
    sl.dmask = sl.dyt + d->P * d->OC_tiled;
    sl.ybuf = sl.dmask + (size_t)oc * d->P;
    sl.flat = sl.ybuf + (size_t)oc * d->P;
    return sl;
}

/* The gradient at the conv's own output for sample s, (OC, OH, OW): dy_s
 * itself, or dy_s taken back through the fused relu (and pool) into
 * sl->dmask, y_s recomputed first from sl->xpad (x_s) if it was not stored. */
static const float *output_grad(const Backward *bw, const Slot *sl, int s)
{
    const ConvGeom *g = bw->g;
    const size_t oimg = (size_t)bw->oc * bw->d.P;
    const size_t dyimg = (size_t)bw->oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2); /* pooled dy, per sample */
    if (!bw->relu) return bw->dy + (size_t)s * oimg;
    const float *ys;
    if (bw->recompute) {
        if (bw->d.narrow) {
            flat_copy(g, &bw->d.flat, bw->x + (size_t)s * (size_t)g->h * (size_t)g->w, sl->flat);
            narrow_sample(bw->np, bw->w, bw->b, 1, sl->flat, bw->oc, sl->ybuf);
        } else {
            conv_sample(&bw->d.xpad, bw->wpack, sl->xpad, bw->oc, bw->b, 1, sl->ybuf);
        }
        ys = sl->ybuf;
    } else {
        ys = bw->y + (size_t)s * oimg;
    }
    pool_relu_grad(ys, bw->dy + (size_t)s * (bw->pooled ? dyimg : oimg), bw->pooled, bw->oc, g->oh, g->ow,
                   sl->dmask);
    return sl->dmask;
}

/* db part [OC] = (first ? 0 : db part) + the plane sums of one sample's
 * output gradient dys (OC, P). */
static void backward_db(const float *dys, int oc, size_t P, float *db_part, int first)
{
    int o = 0;
#ifdef __AVX512F__
    /* four planes at a time: plane_sum's sixteen double lanes (two vectors
     * per plane) in eight independent chains instead of two */
    for (; o + 4 <= oc; o += 4) {
        double sum[4];
        plane_sum4(dys + (size_t)o * P, P, sum);
        for (int u = 0; u < 4; u++) db_part[o + u] = first ? (float)sum[u] : db_part[o + u] + (float)sum[u];
    }
#endif
    for (; o < oc; o++) {
        const float sum = plane_sum(dys + (size_t)o * P, P);
        db_part[o] = first ? sum : db_part[o] + sum;
    }
}

/* dW part^T [K_tiled][OC_tiled] = (first ? 0 : itself) + the sum over the
 * valid positions of x_s's taps (sl->xpad) times dys (OC, P), a tile of TR
 * taps x TN channels at a time. */
static void backward_dw(const Backward *bw, const Slot *sl, const float *dys, float *dw_part, int first,
                        const float *next, size_t next_len)
{
    const Dims *d = &bw->d;
    const size_t kh = (size_t)bw->g->kh, kw = (size_t)bw->g->kw;
#ifdef __AVX512F__
    /* one tile of taps: each panel of channels is read once, transposed on the way */
    const int direct = d->K <= TDW;
#else
    const int direct = 0;
#endif
    if (!direct) gemm_pack(sl->dyt, dys, (ptrdiff_t)d->P, 1, bw->oc, (int)d->P, TN); /* zero past OC */
    const float *xr[TDW]; /* where each tap of the tile reads x_s */
    /* next (next_len floats, NULL: none) spread over the tiles' positions */
    const size_t tiles = (d->K + TDW - 1) / TDW * (d->OC_tiled / TN);
    const size_t lines = next ? (next_len * sizeof *next + 63) / 64 : 0, slice = (lines + tiles - 1) / tiles;
    const char *pf_at = (const char *)next;
    const int per_step = (int)((slice + d->P - 1) / d->P);
    for (size_t k0 = 0; k0 < d->K; k0 += TDW) {
        const int kr = d->K - k0 < TDW ? (int)(d->K - k0) : TDW;
        for (int r = 0; r < kr; r++) {
            const size_t k = k0 + (size_t)r;
            const size_t ch = k / (kh * kw), i = (k / kw) % kh, j = k % kw;
            xr[r] = sl->xpad + ch * d->xpad.plane + i * (size_t)d->xpad.pitch + j;
        }
        for (size_t o0 = 0; o0 < d->OC_tiled; o0 += TN) {
            const Prefetch pf = {pf_at, next ? pf_at + slice * 64 : pf_at, per_step}; /* no arithmetic on NULL */
            if (next) pf_at += slice * 64;
#ifdef __AVX512F__
            if (direct) {
                const int rows = bw->oc - (int)o0 < TN ? bw->oc - (int)o0 : TN;
                tile_dw_direct(&d->xpad, xr, kr, dys + o0 * d->P, rows, dw_part + k0 * d->OC_tiled + o0, d->OC_tiled,
                               first, &pf);
                continue;
            }
#endif
            tile_dw(&d->xpad, xr, kr, sl->dyt + o0 * d->P, dw_part + k0 * d->OC_tiled + o0, d->OC_tiled, first, &pf);
        }
    }
}

/* dxs (C, H, W) = the convolution of dys (OC, OH, OW), padded by KH-1-PH,
 * KW-1-PW into sl->dypad, with the flipped weights. */
static void backward_dx(const Backward *bw, const Slot *sl, const float *dys, float *dxs)
{
    pad_copy(&bw->d.dypad, dys, bw->g->oh, bw->g->ow, sl->dypad);
    conv_sample(&bw->d.dypad, bw->wflip, sl->dypad, bw->g->c, NULL, 0, dxs);
}

/* Chunk c: its samples in order, each adding to the chunk's part (dW^T,
 * then db; the first sample overwrites it) and writing its dx. */
static void backward_chunk(const Backward *bw, const Slot *sl, int c, float *part)
{
    const ConvGeom *g = bw->g;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w;
    int s0, s1;
    conv_chunk_samples(&bw->ck, c, &s0, &s1);
    for (int s = s0; s < s1; s++) {
        const int first = s == s0;
        pad_copy(&bw->d.xpad, bw->x + (size_t)s * img, g->h, g->w, sl->xpad);
        const float *dys = output_grad(bw, sl, s);
        backward_db(dys, bw->oc, bw->d.P, part + bw->d.K_tiled * bw->d.OC_tiled, first);
        /* the gradient output_grad reads for the chunk's next sample */
        const size_t dyimg = (size_t)bw->oc * (bw->pooled ? (size_t)(g->oh / 2) * (size_t)(g->ow / 2) : bw->d.P);
        backward_dw(bw, sl, dys, part, first, s + 1 < s1 ? bw->dy + (size_t)(s + 1) * dyimg : NULL, dyimg);
        if (bw->dx) backward_dx(bw, sl, dys, bw->dx + (size_t)s * img);
    }
}

/* conv_backward for the direct path (conv.h gives the arguments' shapes).
 * The weights are packed once (flipped for dX; as forward's to recompute y);
 * each chunk of CONV_CHUNK samples (within a micro-batch: conv_chunks) is
 * one task summing its own dW^T, db part; the parts are added to dw, db in
 * chunk order (conv_fold_parts), so the sums are the same for any team. */
void conv_direct_backward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b,
                          const float *y, const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db,
                          int mb, size_t gstride, float *ws)
{
    const Dims d = dims(g, oc);
    (void)m; /* MATH_BF16_DP: not yet (fp32) */
    const ConvChunks ck = conv_chunks(n, mb);
    const int nch = ck.nch;
    const size_t nw = (size_t)oc * d.K;
    const int relu = f && f->relu, pooled = relu && f->pool;
    float *wflip = ws, *wpack = wflip + up((size_t)g->c, TR) * d.K_flip, *parts = wpack + up((size_t)oc, TR) * d.K;
    float *slots = parts + (size_t)nch * d.part;
    unsigned short mask[NARROW_MAXV * NARROW_K];
    NarrowPlan np;
    if (d.narrow) narrow_plan(g, &d.flat, mask, &np);
    const Backward bw = {g,  d,  oc, n,  relu, pooled, pooled && conv_recomputes(g), x, b, y, dy, dx, ck, wpack, wflip,
                         w, &np};
    if (bw.recompute && !d.narrow) pack_weights(w, oc, d.K, wpack);
    if (dx) flip_weights(g, oc, w, wflip);
    const int nt = max_threads() < nch ? max_threads() : nch;
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)d.K * (double)d.P * oc >= PAR_MIN)
    {
        const Slot sl = slot_of(&d, oc, slots, thread_num());
        /* the padded images' borders; the rest of the slot is written before it is read */
        memset(sl.xpad, 0, (d.xpad.size + d.dypad.size) * sizeof *sl.xpad);
        memset(sl.flat, 0, d.flat.size * sizeof *sl.flat);
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nch; c++) backward_chunk(&bw, &sl, c, parts + (size_t)c * d.part);
        /* dw (OC, K) and db (OC) += the parts, transposed back, in chunk order
         * (per micro-batch: conv_fold_parts) */
#pragma omp for schedule(static)
        for (size_t i = 0; i < nw + (size_t)oc; i++) {
            const size_t src = i < nw ? (i % d.K) * d.OC_tiled + i / d.K : d.K_tiled * d.OC_tiled + (i - nw);
            conv_fold_parts(&ck, parts + src, d.part, i < nw ? dw + i : db + (i - nw), gstride);
        }
    }
}
