/* conv_direct.c - stride-1 convolution without im2col (see conv_direct.h).
 *
 * Scratch layout (floats of ws). Forward: the packed weights, then one slot
 * per thread (the padded image, and a sample's output when it is not stored).
 * Backward: the flipped weights (for dX), the packed weights (when the output
 * is recomputed), one dW/db part per chunk of CONV_CHUNK samples, then one
 * slot per thread (padded x, padded dy, dy transposed, dy through the fused
 * relu/pool, the recomputed output). The padded images are zeroed once per
 * call; only their interiors are rewritten per sample, so borders stay zero. */
#include "kernels/conv_direct.h"

#include <stddef.h>
#include <string.h>

#include "kernels/gemm.h"
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

/* out[r][x] = sum over taps k = (ch, i, j) in that order of a[k*TR + r] *
 * xb[ch*plane + i*pitch + j + x], for r < TR, x < TN: one chain per element. */
static void dtile(const Padded *p, const float *restrict a, const float *restrict xb, float *restrict out)
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
 * channels o0.. of y (planes of oh*ow), dropping the columns past ow, plus
 * bias[o] if bias is not NULL. */
static void dstore(const Padded *p, const float *tile, int rows, size_t j0, const float *bias, int relu, int o0,
                   float *y)
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

/* y (m, oh, ow) = the convolution of padded image xp with the packed weights
 * ap (ceil(m/TR) panels of [K][TR]), plus bias unless NULL, then max(., 0)
 * if relu (only with a bias). */
static void dconv_sample(const Padded *p, const float *ap, const float *xp, int m, const float *bias, int relu,
                         float *y)
{
    const size_t K = (size_t)p->c * (size_t)p->kh * (size_t)p->kw;
    _Alignas(64) float tile[TR * TN];
    for (size_t j0 = 0; j0 < p->np; j0 += TN)
        for (int mt = 0; mt * TR < m; mt++) {
            dtile(p, ap + (size_t)mt * TR * K, xp + j0, tile);
            dstore(p, tile, m - mt * TR < TR ? m - mt * TR : TR, j0, bias, relu, mt * TR, y);
        }
}

/* acc rows r (stride ld, TN columns; loaded unless first) += sum over valid
 * positions q (row-major) of xr[r][t(q)] * dyt[q*TN + 0..TN), t(q) = oy*pitch + ox. */
static void wtile(const Padded *p, const float *const *xr, const float *restrict dyt, float *acc_io,
                  size_t ld, int first)
{
#ifdef __AVX512F__
    __m512 acc[TR][2];
    for (int r = 0; r < TR; r++) {
        acc[r][0] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld);
        acc[r][1] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(acc_io + r * ld + 16);
    }
    const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5], *x6 = xr[6],
                *x7 = xr[7];
    for (int oy = 0; oy < p->oh; oy++) {
        const size_t base = (size_t)oy * (size_t)p->pitch;
        for (int ox = 0; ox < p->ow; ox++) {
            const size_t t = base + (size_t)ox;
            const __m512 b0 = _mm512_loadu_ps(dyt), b1 = _mm512_loadu_ps(dyt + 16);
            dyt += TN;
#define W_ROW(r, xp)                                                                                                   \
    do {                                                                                                               \
        const __m512 av = _mm512_set1_ps(xp[t]);                                                                      \
        acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);                                                                \
        acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);                                                                \
    } while (0)
            W_ROW(0, x0);
            W_ROW(1, x1);
            W_ROW(2, x2);
            W_ROW(3, x3);
            W_ROW(4, x4);
            W_ROW(5, x5);
            W_ROW(6, x6);
            W_ROW(7, x7);
#undef W_ROW
        }
    }
    for (int r = 0; r < TR; r++) {
        _mm512_storeu_ps(acc_io + r * ld, acc[r][0]);
        _mm512_storeu_ps(acc_io + r * ld + 16, acc[r][1]);
    }
#else
    float acc[TR][TN];
    for (int r = 0; r < TR; r++)
        for (int x = 0; x < TN; x++) acc[r][x] = first ? 0.0f : acc_io[r * ld + x];
    for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++) {
            const size_t t = (size_t)oy * (size_t)p->pitch + (size_t)ox;
            for (int r = 0; r < TR; r++) {
                const float a = xr[r][t];
                for (int x = 0; x < TN; x++) acc[r][x] += a * dyt[x];
            }
            dyt += TN;
        }
    for (int r = 0; r < TR; r++)
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

/* Geometry shared by the three entry points. */
typedef struct {
    size_t K, K8, K2, ocp, P, part;
    Padded px, py; /* x padded for the forward, dy padded for dX */
    size_t slot;   /* per thread: px.size + py.size + P*ocp + 2*oc*P */
} Dims;

static Dims dims(const ConvGeom *g, int oc)
{
    Dims d;
    d.K = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    d.K8 = up(d.K, TR);
    d.K2 = (size_t)oc * (size_t)g->kh * (size_t)g->kw;
    d.ocp = up((size_t)oc, TN);
    d.P = (size_t)g->oh * (size_t)g->ow;
    d.part = d.K8 * d.ocp + (size_t)oc;
    d.px = padded(g->c, g->h, g->w, g->ph, g->pw, g->kh, g->kw);
    d.py = padded(oc, g->oh, g->ow, g->kh - 1 - g->ph, g->kw - 1 - g->pw, g->kh, g->kw);
    d.slot = d.px.size + d.py.size + d.P * d.ocp + 2 * (size_t)oc * d.P;
    return d;
}

size_t conv_direct_ws_per_sample(const ConvGeom *g, int oc)
{
    const Dims d = dims(g, oc);
    /* forward weights + flipped weights + one part + one slot: n of these
     * cover the one copy of each (backward may need both), nch <= n parts
     * and nt <= n slots */
    return up((size_t)oc, TR) * d.K + up((size_t)g->c, TR) * d.K2 + d.part + d.slot;
}

/* ap (ceil(oc/TR) panels of [K][TR]) = w [oc][K], zero past oc. */
static void pack_weights(const float *w, int oc, size_t K, float *ap)
{
    for (int mt = 0; mt * TR < oc; mt++)
        for (size_t k = 0; k < K; k++)
            for (int r = 0; r < TR; r++) {
                const int o = mt * TR + r;
                ap[((size_t)mt * K + k) * TR + (size_t)r] = o < oc ? w[(size_t)o * K + k] : 0.0f;
            }
}

void conv_direct_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                         const ConvFuse *f, float *y, float *ws)
{
    const Dims d = dims(g, oc);
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * d.P;
    const size_t pimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2);
    const int relu = f && f->relu, keep = !(f && f->pool && conv_recomputes(g));
    float *ap = ws, *slots = ws + up((size_t)oc, TR) * d.K;
    pack_weights(w, oc, d.K, ap);
    const int nt = max_threads() < n ? max_threads() : n;
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)d.K * (double)d.P * oc >= PAR_MIN)
    {
        float *xp = slots + (size_t)thread_num() * d.slot, *ybuf = xp + d.px.size;
        memset(xp, 0, d.px.size * sizeof *xp);
#pragma omp for schedule(dynamic, 1)
        for (int s = 0; s < n; s++) {
            float *ys = keep ? y + (size_t)s * oimg : ybuf; /* recomputed in backward: not stored */
            pad_copy(&d.px, x + (size_t)s * img, g->h, g->w, xp);
            dconv_sample(&d.px, ap, xp, oc, b, relu, ys);
            if (f && f->pool) pool_max2x2_sample(ys, oc, g->oh, g->ow, f->pool + (size_t)s * pimg);
        }
    }
}

void conv_direct_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b,
                          const float *y, const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db,
                          float *ws)
{
    const Dims d = dims(g, oc);
    const int m = CONV_CHUNK, nch = (n + m - 1) / m;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * d.P;
    const size_t nw = (size_t)oc * d.K;
    const size_t dyimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2); /* pooled dy, per sample */
    const int relu = f && f->relu, pooled = relu && f->pool, recompute = pooled && conv_recomputes(g);
    float *ap2 = ws, *ap = ap2 + up((size_t)g->c, TR) * d.K2, *parts = ap + up((size_t)oc, TR) * d.K;
    float *slots = parts + (size_t)nch * d.part;
    if (recompute) pack_weights(w, oc, d.K, ap);
    if (dx) {
        /* dX = conv(dy padded by KH-1-PH, W'), W'[c][o][i][j] = W[o][c][KH-1-i][KW-1-j]:
         * panels over c, taps k' = (o*KH + i)*KW + j. */
        for (int ct = 0; ct * TR < g->c; ct++)
            for (int o = 0; o < oc; o++)
                for (int i = 0; i < g->kh; i++)
                    for (int j = 0; j < g->kw; j++) {
                        const size_t k2 = ((size_t)o * (size_t)g->kh + (size_t)i) * (size_t)g->kw + (size_t)j;
                        for (int r = 0; r < TR; r++) {
                            const int c = ct * TR + r;
                            ap2[((size_t)ct * d.K2 + k2) * TR + (size_t)r] =
                                c < g->c ? w[(((size_t)o * (size_t)g->c + (size_t)c) * (size_t)g->kh +
                                              (size_t)(g->kh - 1 - i)) * (size_t)g->kw + (size_t)(g->kw - 1 - j)]
                                         : 0.0f;
                        }
                    }
    }
    const int nt = max_threads() < nch ? max_threads() : nch;
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)d.K * (double)d.P * oc >= PAR_MIN)
    {
        float *xp = slots + (size_t)thread_num() * d.slot, *yp = xp + d.px.size, *dyt = yp + d.py.size;
        float *dmask = dyt + d.P * d.ocp; /* one sample's dy through a fused relu (and pool) */
        float *ybuf = dmask + (size_t)oc * d.P; /* one sample's y, recomputed */
        /* the padded images' borders; the rest of the slot is written before it is read */
        memset(xp, 0, (d.px.size + d.py.size) * sizeof *xp);
        const float *xr[TR];
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nch; c++) {
            float *pw = parts + (size_t)c * d.part, *pb = pw + d.K8 * d.ocp;
            const int s1 = (c + 1) * m < n ? (c + 1) * m : n;
            for (int s = c * m; s < s1; s++) {
                const int first = s == c * m;
                const float *dys = dy + (size_t)s * oimg;
                pad_copy(&d.px, x + (size_t)s * img, g->h, g->w, xp);
                if (relu) {
                    const float *ys = y + (size_t)s * oimg;
                    if (recompute) {
                        dconv_sample(&d.px, ap, xp, oc, b, 1, ybuf);
                        ys = ybuf;
                    }
                    pool_relu_grad(ys, dy + (size_t)s * (pooled ? dyimg : oimg), pooled, oc, g->oh, g->ow, dmask);
                    dys = dmask;
                }
                for (int o = 0; o < oc; o++) {
                    const float sum = plane_sum(dys + (size_t)o * d.P, d.P);
                    pb[o] = first ? sum : pb[o] + sum;
                }
                /* dyt: panels of TN channels, [q][TN] each (zero past oc) */
                gemm_pack(dyt, dys, (ptrdiff_t)d.P, 1, oc, (int)d.P, TN);
                /* part^T [K8][ocp] += taps x channels, 8 x 32 at a time */
                for (size_t k0 = 0; k0 < d.K8; k0 += TR) {
                    for (int r = 0; r < TR; r++) {
                        const size_t k = k0 + (size_t)r < d.K ? k0 + (size_t)r : d.K - 1;
                        const size_t ch = k / ((size_t)g->kh * (size_t)g->kw), i = (k / (size_t)g->kw) % (size_t)g->kh,
                                     j = k % (size_t)g->kw;
                        xr[r] = xp + ch * d.px.plane + i * (size_t)d.px.pitch + j;
                    }
                    for (size_t o0 = 0; o0 < d.ocp; o0 += TN)
                        wtile(&d.px, xr, dyt + o0 * d.P, pw + k0 * d.ocp + o0, d.ocp, first);
                }
                if (dx) {
                    pad_copy(&d.py, dys, g->oh, g->ow, yp);
                    dconv_sample(&d.py, ap2, yp, g->c, NULL, 0, dx + (size_t)s * img);
                }
            }
        }
#pragma omp for schedule(static)
        for (size_t i = 0; i < nw + (size_t)oc; i++) {
            float *dst = i < nw ? dw + i : db + (i - nw);
            const size_t src = i < nw ? (i % d.K) * d.ocp + i / d.K : d.K8 * d.ocp + (i - nw);
            float acc = *dst;
            for (int c = 0; c < nch; c++) acc += parts[(size_t)c * d.part + src];
            *dst = acc;
        }
    }
}
