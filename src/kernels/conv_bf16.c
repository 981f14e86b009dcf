/* conv_bf16.c - MATH_BF16_DP convolutions of stride 1 (see conv_bf16.h).
 *
 * Reading order: the rounded-operand path (few taps), then the channel-pair
 * path: its images, the tile kernels (tile_pairs for forward and dX,
 * tile_dw_pairs for dW), the weight packings, forward, backward.
 *
 * Scratch of the rounded-operand path: the rounded x (n images), w, and dy
 * (n of the gradient the conv receives: pooled when a pool is fused), each
 * padded to 16 floats, then the direct path's scratch. Of the channel-pair
 * path: the packed (forward) or flipped (backward) weights, one dW/db part
 * per chunk (backward), then one slot per thread (PairDims). The padded
 * images are zeroed once per call; only their interiors are rewritten per
 * sample. No allocation. */
#include "kernels/conv_bf16.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/conv_direct.h"
#include "kernels/gemm_bf16.h"
#include "kernels/math.h"
#include "kernels/pool.h"
#include "kernels/threads.h"

static size_t up16(size_t v) { return (v + 15) / 16 * 16; }

/* dst[0..len) = bf16_round(src[0..len)). */
static void round_copy(const float *restrict src, size_t len, float *restrict dst)
{
#pragma omp parallel for schedule(static) if (len >= 4 * PAR_MIN)
    for (size_t i = 0; i < len; i++) dst[i] = bf16_round(src[i]);
}

size_t conv_bf16_ws_per_sample(const ConvGeom *g, int oc)
{
    if (!conv_bf16_rounds(g)) return 0;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * (size_t)g->oh * (size_t)g->ow;
    const size_t nw = (size_t)oc * (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    /* per sample: its x and dy (each padded by 16), and w's share (all of it, as n may be 1) */
    return up16(img) + up16(oimg) + up16(nw) + conv_direct_ws_per_sample(g, oc);
}

void conv_bf16_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                       const ConvFuse *f, float *y, float *ws)
{
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w;
    const size_t nw = (size_t)oc * (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    float *xr = ws, *wr = xr + up16((size_t)n * img), *rest = wr + up16(nw);
    round_copy(x, (size_t)n * img, xr);
    round_copy(w, nw, wr);
    conv_direct_forward(MATH_FP32, g, oc, xr, wr, b, n, f, y, rest);
}

void conv_bf16_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                        const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                        size_t gstride, float *ws)
{
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w;
    const size_t nw = (size_t)oc * (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    const int pooled = f && f->relu && f->pool;
    const size_t dyimg = (size_t)oc * (pooled ? (size_t)(g->oh / 2) * (size_t)(g->ow / 2) : (size_t)g->oh * (size_t)g->ow);
    float *xr = ws, *wr = xr + up16((size_t)n * img), *dyr = wr + up16(nw), *rest = dyr + up16((size_t)n * dyimg);
    round_copy(x, (size_t)n * img, xr);
    round_copy(w, nw, wr);
    round_copy(dy, (size_t)n * dyimg, dyr);
    conv_direct_backward(MATH_FP32, g, oc, xr, wr, b, y, f, dyr, n, dx, dw, db, mb, gstride, rest);
}

/* ---- stride 1, many taps: channel-pair images and vdpbf16ps tiles --------- */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PAIR_X86 1
#define PAIR_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define PAIR_X86 0
#endif

enum { TR = 8, TN = 32 }; /* tile: 8 outputs (broadcast) x 32 positions (2 vectors) */

static size_t up(size_t v, size_t m) { return (v + m - 1) / m * m; }

/* A zero-padded image of channel pairs, one 32-bit word per (pair,
 * position): channel 2cp's bf16 in the low half, 2cp+1's (0 past C) in the
 * high half. Rows have pitch w + pw as in conv_direct.c (the pw zeros after
 * a row are the next row's left padding); pair cp's block (plane words) is
 * pw zeros, then h + 2ph rows. Tap pair (cp, i, j) of the output at
 * position p = oy*pitch + ox reads word cp*plane + i*pitch + j + p. */
typedef struct {
    int c, cp, h, w, ph, pw, pitch, kh, kw;
    int oh, ow;
    size_t plane, np, size; /* words per pair, positions (oh*pitch), words with slack */
} PairImg;

static PairImg pair_img(int c, int h, int w, int ph, int pw, int kh, int kw)
{
    PairImg p;
    p.c = c, p.cp = (c + 1) / 2, p.h = h, p.w = w, p.ph = ph, p.pw = pw, p.pitch = w + pw, p.kh = kh, p.kw = kw;
    p.oh = h + 2 * ph - kh + 1, p.ow = w + 2 * pw - kw + 1;
    p.plane = (size_t)pw + (size_t)(h + 2 * ph) * (size_t)p.pitch;
    p.np = (size_t)p.oh * (size_t)p.pitch;
    p.size = up((size_t)p.cp * p.plane + (size_t)kw + TN + 16, 16);
    return p;
}

/* The interior of p's image dst from src (c, h, w); the borders stay as they are (zero). */
static void pair_fill(const PairImg *p, const float *src, uint32_t *dst)
{
    const size_t hw = (size_t)p->h * (size_t)p->w;
    for (int cp = 0; cp < p->cp; cp++) {
        const float *e = src + (size_t)(2 * cp) * hw, *o = 2 * cp + 1 < p->c ? e + hw : NULL;
        for (int y = 0; y < p->h; y++)
            bf16_pair_rows(dst + (size_t)cp * p->plane + (size_t)p->pw + (size_t)(y + p->ph) * (size_t)p->pitch,
                           e + (size_t)y * (size_t)p->w, o ? o + (size_t)y * (size_t)p->w : NULL, p->w);
    }
}

#if PAIR_X86
/* out[r][x] = the chain over tap pairs k = (cp, i, j) ascending, from 0, of
 * vdpbf16ps(acc, a[k*TR + r], xb[cp*plane + i*pitch + j + x]); r < TR, x < TN. */
PAIR_TARGET static void tile_pairs(const PairImg *p, const uint32_t *restrict a, const uint32_t *restrict xb,
                                   float *restrict out)
{
    __m512 acc[TR][2];
    for (int r = 0; r < TR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int cp = 0; cp < p->cp; cp++)
        for (int i = 0; i < p->kh; i++) {
            const uint32_t *row = xb + (size_t)cp * p->plane + (size_t)i * (size_t)p->pitch;
            for (int j = 0; j < p->kw; j++) {
                const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(row + j));
                const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(row + j + 16));
#pragma GCC unroll 8
                for (int r = 0; r < TR; r++) {
                    const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r]);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
                }
                a += TR;
            }
        }
    for (int r = 0; r < TR; r++) {
        _mm512_storeu_ps(out + r * TN, acc[r][0]);
        _mm512_storeu_ps(out + r * TN + 16, acc[r][1]);
    }
}
#else
static float half_float(uint32_t h)
{
    union {
        uint32_t u;
        float f;
    } v = {h << 16};
    return v.f;
}

/* Portable tile_pairs: Intel's order inside a step (gemm_bf16.c's too). */
static void tile_pairs(const PairImg *p, const uint32_t *a, const uint32_t *xb, float *out)
{
    for (int r = 0; r < TR; r++)
        for (int x = 0; x < TN; x++) {
            float acc = 0.0f;
            const uint32_t *ak = a;
            for (int cp = 0; cp < p->cp; cp++)
                for (int i = 0; i < p->kh; i++)
                    for (int j = 0; j < p->kw; j++, ak += TR) {
                        const uint32_t u = ak[r], v = xb[(size_t)cp * p->plane + (size_t)i * (size_t)p->pitch + j + x];
                        acc += half_float(u >> 16) * half_float(v >> 16);
                        acc += half_float(u & 0xffff) * half_float(v & 0xffff);
                    }
            out[r * TN + x] = acc;
        }
}
#endif

/* Rows [0, rows) of a tile (positions j0 .. j0+TN-1) to channels o0.. of y
 * (m, oh, ow), dropping the columns past ow; plus bias[o] unless NULL, then
 * max(., 0) if relu (NaN and -0 give 0, as conv_direct.c). */
static void tile_store(const PairImg *p, const float *tile, int rows, size_t j0, const float *bias, int relu, int o0,
                       float *y)
{
    const size_t ohw = (size_t)p->oh * (size_t)p->ow;
    for (int x = 0; x < TN && j0 + (size_t)x < p->np; x++) {
        const size_t pos = j0 + (size_t)x;
        const int oy = (int)(pos / (size_t)p->pitch), ox = (int)(pos % (size_t)p->pitch);
        if (ox >= p->ow) continue;
        for (int r = 0; r < rows; r++) {
            float v = tile[r * TN + x];
            if (bias) v += bias[o0 + r];
            if (relu && !(v > 0.0f)) v = 0.0f;
            y[(size_t)(o0 + r) * ohw + (size_t)oy * (size_t)p->ow + (size_t)ox] = v;
        }
    }
}

/* One sample: y (m, oh, ow) = the pair chains of the packed weights ap
 * (ceil(m/TR) panels of [Kp][TR] words) over the pair image xp, + bias. */
static void pair_sample(const PairImg *p, const uint32_t *ap, const uint32_t *xp, int m, const float *bias, int relu,
                        float *y)
{
    const size_t Kp = (size_t)p->cp * (size_t)p->kh * (size_t)p->kw;
    _Alignas(64) float tile[TR * TN];
    for (size_t j0 = 0; j0 < p->np; j0 += TN)
        for (int mt = 0; mt * TR < m; mt++) {
            tile_pairs(p, ap + (size_t)mt * TR * Kp, xp + j0, tile);
            tile_store(p, tile, m - mt * TR < TR ? m - mt * TR : TR, j0, bias, relu, mt * TR, y);
        }
}

/* wp (ceil(OC/TR) panels of [Kp][TR]) = the pair words of w (OC, C, KH, KW):
 * tap pair (cp, i, j) of output o is (w[o][2cp][i][j], w[o][2cp+1][i][j]). */
static void pack_pair_weights(const ConvGeom *g, int oc, const float *w, uint32_t *wp)
{
    const int taps = g->kh * g->kw, cps = (g->c + 1) / 2;
    const size_t Kp = (size_t)cps * (size_t)taps;
    for (int o0 = 0; o0 < oc; o0 += TR)
        for (int cp = 0; cp < cps; cp++)
            for (int t = 0; t < taps; t++)
                for (int r = 0; r < TR; r++) {
                    const int o = o0 + r;
                    const float *wo = w + ((size_t)o * (size_t)g->c + (size_t)(2 * cp)) * (size_t)taps + (size_t)t;
                    wp[((size_t)(o0 / TR) * Kp + (size_t)cp * (size_t)taps + (size_t)t) * TR + (size_t)r] =
                        o < oc ? bf16_pair(wo[0], 2 * cp + 1 < g->c ? wo[taps] : 0.0f) : 0;
                }
}

/* wf (ceil(C/TR) panels of [ceil(OC/2)*KH*KW][TR]) = the pair words of dX's
 * convolution: input channels o in pairs, W'[c][o][i][j] = W[o][c][KH-1-i][KW-1-j]. */
static void pack_pair_flipped(const ConvGeom *g, int oc, const float *w, uint32_t *wf)
{
    const int taps = g->kh * g->kw, ops = (oc + 1) / 2;
    const size_t Kp = (size_t)ops * (size_t)taps, C = (size_t)g->c;
    for (int c0 = 0; c0 < g->c; c0 += TR)
        for (int op = 0; op < ops; op++)
            for (int t = 0; t < taps; t++)
                for (int r = 0; r < TR; r++) {
                    const size_t c = (size_t)(c0 + r), tf = (size_t)(taps - 1 - t);
                    const size_t o = (size_t)(2 * op);
                    wf[((size_t)(c0 / TR) * Kp + (size_t)op * (size_t)taps + (size_t)t) * TR + (size_t)r] =
                        c < C ? bf16_pair(w[(o * C + c) * (size_t)taps + tf],
                                          2 * op + 1 < oc ? w[((o + 1) * C + c) * (size_t)taps + tf] : 0.0f)
                              : 0;
                }
}

#if PAIR_X86
/* A register tile of dW^T: acc rows r (TR taps) x TN channels = (first ? 0
 * : acc) + the chain over position pairs tp ascending of vdpbf16ps(acc,
 * xr[r][2tp .. 2tp+1], dyt[tp][channel]).
 *   xr      TR pointers into the bf16 image of x: where each tap reads
 *   dyt     is [npairs][TN] pair words of dy (positions 2tp, 2tp+1)
 *   acc_io  is [TR][ld]: TN columns of each row, ACCUMULATED unless first */
PAIR_TARGET static void tile_dw_pairs(size_t npairs, const uint16_t *const *xr, const uint32_t *restrict dyt,
                                      float *acc_io, size_t ld, int first)
{
    __m512 acc[TR][2];
    for (int r = 0; r < TR; r++) {
        acc[r][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld);
        acc[r][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld + 16);
    }
    const uint16_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5], *x6 = xr[6],
                   *x7 = xr[7];
    for (size_t tp = 0; tp < npairs; tp++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)dyt);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(dyt + 16));
        dyt += TN;
#define DW_ROW(r, xp)                                                                                                  \
    do {                                                                                                               \
        uint32_t v;                                                                                                    \
        memcpy(&v, xp + 2 * tp, sizeof v);                                                                             \
        const __m512bh av = (__m512bh)_mm512_set1_epi32((int)v);                                                       \
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);                                                               \
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);                                                               \
    } while (0)
        DW_ROW(0, x0);
        DW_ROW(1, x1);
        DW_ROW(2, x2);
        DW_ROW(3, x3);
        DW_ROW(4, x4);
        DW_ROW(5, x5);
        DW_ROW(6, x6);
        DW_ROW(7, x7);
#undef DW_ROW
    }
    for (int r = 0; r < TR; r++) {
        _mm512_storeu_ps(acc_io + r * ld, acc[r][0]);
        _mm512_storeu_ps(acc_io + r * ld + 16, acc[r][1]);
    }
}
#else
static void tile_dw_pairs(size_t npairs, const uint16_t *const *xr, const uint32_t *dyt, float *acc_io, size_t ld,
                          int first)
{
    for (int r = 0; r < TR; r++)
        for (int x = 0; x < TN; x++) {
            float acc = first ? 0.0f : acc_io[r * ld + x];
            for (size_t tp = 0; tp < npairs; tp++) {
                const uint32_t v = dyt[tp * TN + x];
                acc += half_float(xr[r][2 * tp + 1]) * half_float(v >> 16);
                acc += half_float(xr[r][2 * tp]) * half_float(v & 0xffff);
            }
            acc_io[r * ld + x] = acc;
        }
}
#endif

/* The sizes of one call. */
typedef struct {
    size_t K, P;          /* taps C*KH*KW, positions OH*OW                              */
    size_t K_tiled;       /* K rounded up to whole tiles of TR: a dW part's rows        */
    size_t OC_tiled;      /* OC rounded up to TN: a dW part's columns                   */
    size_t wpack, wflip;  /* words of the packed and the flipped weights                */
    size_t part;          /* one chunk's dW^T [K_tiled][OC_tiled], then db (OC)        */
    PairImg xi, dyi;      /* x padded by PH, PW; dy padded by KH-1-PH, KW-1-PW          */
    size_t npairs;        /* pairs of positions in x's padded numbering: ceil(np / 2)  */
    size_t xh;            /* floats holding x's bf16 image (one channel per plane)      */
    size_t dyf;           /* floats of dy in x's padded numbering: OC * 2*npairs        */
    size_t dyt;           /* words of dy's position pairs: OC_tiled * npairs            */
    size_t slot;          /* per thread: xi, dyi, xh, dyf, dyt, then dy masked (OC, P)  */
} PairDims;

static PairDims pair_dims(const ConvGeom *g, int oc)
{
    PairDims d;
    d.K = (size_t)g->c * (size_t)g->kh * (size_t)g->kw, d.P = (size_t)g->oh * (size_t)g->ow;
    d.K_tiled = up(d.K, TR), d.OC_tiled = up((size_t)oc, TN);
    const size_t taps = (size_t)g->kh * (size_t)g->kw;
    d.wpack = up((size_t)oc, TR) * (size_t)((g->c + 1) / 2) * taps;
    d.wflip = up((size_t)g->c, TR) * (size_t)((oc + 1) / 2) * taps;
    d.part = d.K_tiled * d.OC_tiled + (size_t)oc;
    d.xi = pair_img(g->c, g->h, g->w, g->ph, g->pw, g->kh, g->kw);
    d.dyi = pair_img(oc, g->oh, g->ow, g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->kh, g->kw);
    d.npairs = (d.xi.np + 1) / 2;
    /* tap (c, i, j) reads halves c*plane + i*pitch + j + [0, 2*npairs) < C*plane + kw + 1 */
    d.xh = up(((size_t)g->c * d.xi.plane + (size_t)g->kw + 32) / 2, 16);
    d.dyf = up((size_t)oc * 2 * d.npairs, 16);
    d.dyt = d.OC_tiled * d.npairs;
    d.slot = up(d.xi.size + d.dyi.size + d.xh + d.dyf + d.dyt + (size_t)oc * d.P, 16);
    return d;
}

size_t conv_bf16_pairs_ws_per_sample(const ConvGeom *g, int oc)
{
    if (!conv_bf16_pairs(g)) return 0;
    const PairDims d = pair_dims(g, oc);
    return up(d.wpack + d.wflip, 16) + d.part + d.slot; /* words and floats are both 4 bytes */
}

void conv_bf16_pairs_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                             const ConvFuse *f, float *y, float *ws)
{
    const PairDims d = pair_dims(g, oc);
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * d.P;
    const size_t pimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2);
    const int relu = f && f->relu;
    uint32_t *wp = (uint32_t *)ws;
    float *slots = ws + up(d.wpack, 16);
    pack_pair_weights(g, oc, w, wp);
    const int nt = max_threads() < n ? max_threads() : n;
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)d.K * (double)d.P * oc >= PAR_MIN)
    {
        uint32_t *xi = (uint32_t *)(slots + (size_t)thread_num() * d.slot);
        memset(xi, 0, d.xi.size * sizeof *xi);
#pragma omp for schedule(dynamic, 1)
        for (int s = 0; s < n; s++) {
            float *ys = y + (size_t)s * oimg;
            pair_fill(&d.xi, x + (size_t)s * img, xi);
            pair_sample(&d.xi, wp, xi, oc, b, relu, ys);
            if (f && f->pool) pool_max2x2_sample(ys, oc, g->oh, g->ow, f->pool + (size_t)s * pimg);
        }
    }
}

/* db of one plane: 4 lanes in double (element q to lane q % 4), added in a
 * fixed order (conv.c's im2col path sums the same way). */
static float plane_sum4(const float *v, size_t len)
{
    double acc[4] = {0, 0, 0, 0};
    size_t q = 0;
    for (; q + 4 <= len; q += 4)
        for (int u = 0; u < 4; u++) acc[u] += (double)v[q + (size_t)u];
    for (; q < len; q++) acc[0] += (double)v[q];
    return (float)((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

/* One thread's slot of the backward scratch. */
typedef struct {
    uint32_t *dyi; /* dy_s as a channel-pair image, for dX                           */
    uint16_t *xh;  /* x_s in bf16, padded as x's pair image but one channel a plane  */
    float *dyf;    /* dy_s in x's padded numbering: (OC, 2*npairs), 0 past each row  */
    uint32_t *dyt; /* dyf's position pairs, panels of TN channels: [npairs][TN] each */
    float *dmask;  /* dy_s through the fused relu (and pool): (OC, P)                */
} PairSlot;

static PairSlot pair_slot(const PairDims *d, float *slot)
{
    PairSlot sl;
    sl.dyi = (uint32_t *)slot + d->xi.size;
    sl.xh = (uint16_t *)(slot + d->xi.size + d->dyi.size);
    sl.dyf = slot + d->xi.size + d->dyi.size + d->xh;
    sl.dyt = (uint32_t *)(sl.dyf + d->dyf);
    sl.dmask = (float *)(sl.dyt + d->dyt);
    return sl;
}

/* dW part^T [K_tiled][OC_tiled] = (first ? 0 : itself) + the pair chains of
 * sample x_s, dys (OC, P): x's taps and dy both in x's padded numbering
 * (dy 0 at the columns past OW, whose products are then exact zeros). */
static void pairs_dw(const ConvGeom *g, int oc, const PairDims *d, const PairSlot *sl, const float *xs,
                     const float *dys, float *part, int first)
{
    const PairImg *p = &d->xi;
    const size_t pitch = (size_t)p->pitch, rowlen = 2 * d->npairs;
    for (int c = 0; c < g->c; c++)
        for (int y = 0; y < g->h; y++) {
            uint16_t *dst = sl->xh + (size_t)c * p->plane + (size_t)p->pw + (size_t)(y + p->ph) * pitch;
            const float *src = xs + ((size_t)c * (size_t)g->h + (size_t)y) * (size_t)g->w;
            for (int x = 0; x < g->w; x++) dst[x] = bf16_bits(src[x]);
        }
    for (int o = 0; o < oc; o++)
        for (int oy = 0; oy < g->oh; oy++)
            memcpy(sl->dyf + (size_t)o * rowlen + (size_t)oy * pitch, dys + ((size_t)o * (size_t)g->oh + (size_t)oy) * (size_t)g->ow,
                   (size_t)g->ow * sizeof(float));
    bf16_pack_pairs(sl->dyt, d->npairs * TN, sl->dyf, (ptrdiff_t)rowlen, 1, oc, (int)rowlen, TN);
    const size_t kh = (size_t)g->kh, kw = (size_t)g->kw;
    const uint16_t *xr[TR];
    for (size_t k0 = 0; k0 < d->K_tiled; k0 += TR) {
        for (int r = 0; r < TR; r++) {
            /* taps past K repeat the last one: their rows are never read */
            const size_t k = k0 + (size_t)r < d->K ? k0 + (size_t)r : d->K - 1;
            const size_t ch = k / (kh * kw), i = (k / kw) % kh, j = k % kw;
            xr[r] = sl->xh + ch * p->plane + i * pitch + j;
        }
        for (size_t o0 = 0; o0 < d->OC_tiled; o0 += TN)
            tile_dw_pairs(d->npairs, xr, sl->dyt + o0 * d->npairs, part + k0 * d->OC_tiled + o0, d->OC_tiled, first);
    }
}

void conv_bf16_pairs_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *y,
                              const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                              size_t gstride, float *ws)
{
    const PairDims d = pair_dims(g, oc);
    const ConvChunks ck = conv_chunks(n, mb);
    const int nch = ck.nch, relu = f && f->relu, pooled = relu && f->pool;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * d.P;
    const size_t dyimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2);
    const size_t nw = (size_t)oc * d.K, np = d.part;
    uint32_t *wf = (uint32_t *)ws;
    float *parts = ws + up(d.wflip, 16), *slots = parts + (size_t)nch * np;
    if (dx) pack_pair_flipped(g, oc, w, wf);
    const int nt = max_threads() < nch ? max_threads() : nch;
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)d.K * (double)d.P * oc >= PAR_MIN)
    {
        float *slot = slots + (size_t)thread_num() * d.slot;
        const PairSlot sl = pair_slot(&d, slot);
        /* the images' borders and dyf's gaps stay zero; interiors are rewritten per sample */
        memset(slot, 0, (d.xi.size + d.dyi.size + d.xh + d.dyf) * sizeof *slot);
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nch; c++) {
            float *part = parts + (size_t)c * np, *pb = part + d.K_tiled * d.OC_tiled;
            int s0, s1;
            conv_chunk_samples(&ck, c, &s0, &s1);
            for (int s = s0; s < s1; s++) {
                const int first = s == s0;
                const float *dys = dy + (size_t)s * oimg;
                if (relu) {
                    pool_relu_grad(y + (size_t)s * oimg, dy + (size_t)s * (pooled ? dyimg : oimg), pooled, oc, g->oh,
                                   g->ow, sl.dmask);
                    dys = sl.dmask;
                }
                for (int o = 0; o < oc; o++) {
                    const float sum = plane_sum4(dys + (size_t)o * d.P, d.P);
                    pb[o] = first ? sum : pb[o] + sum;
                }
                pairs_dw(g, oc, &d, &sl, x + (size_t)s * img, dys, part, first);
                if (dx) {
                    pair_fill(&d.dyi, dys, sl.dyi);
                    pair_sample(&d.dyi, wf, sl.dyi, g->c, NULL, 0, dx + (size_t)s * img);
                }
            }
        }
        /* dw (OC, K) and db (OC) += the parts, transposed back, in chunk order */
#pragma omp for schedule(static)
        for (size_t i = 0; i < nw + (size_t)oc; i++) {
            const size_t src = i < nw ? (i % d.K) * d.OC_tiled + i / d.K : d.K_tiled * d.OC_tiled + (i - nw);
            conv_fold_parts(&ck, parts + src, np, i < nw ? dw + i : db + (i - nw), gstride);
        }
    }
}
