/* conv.c - convolution (im2col + gemm, sample by sample) and pooling kernels.
 *
 * OpenMP splits the work by what a thread writes: samples, fixed chunks of
 * samples with their own dW parts, or (sample, channel) planes. Each is
 * computed in one fixed order by one thread, whichever it is, so results
 * never depend on the thread count. No allocation: scratch comes from ws. */
#include "kernels/conv.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include "kernels/threads.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* Loops touching fewer floats than this run on one thread: a parallel region
 * costs microseconds (much more when the cores are shared), and the gradient
 * checks call these kernels thousands of times on tiny images. Where the line
 * falls changes the speed only, never the results. Dynamic schedules let one
 * thread take over the work of another that the OS has descheduled. */
#define PAR_MIN 16384.0

/* A serial build (make OMP=) compiles the same loops; its pragmas are no-ops. */
#ifndef _OPENMP
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

/* Output positions o in [*lo, *hi) for which the input index o*s - p + k lies
 * in [0, in); the others read zero padding. */
static void valid_range(int k, int s, int p, int in, int out, int *lo, int *hi)
{
    int a = p - k; /* o*s >= a */
    int l = a > 0 ? (a + s - 1) / s : 0;
    int b = in - 1 + p - k; /* o*s <= b */
    int h = b < 0 ? 0 : b / s + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* col[K, n*P] = the column matrix of x (n, C, H, W): row (c*KH + i)*KW + j,
 * column s*P + oy*OW + ox (see conv_forward in conv.h). */
static void im2col(const ConvGeom *g, const float *x, int n, float *col)
{
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, ow = g->ow;
    const size_t ld = (size_t)n * (size_t)P, plane = (size_t)g->h * (size_t)g->w;
    const size_t img = (size_t)g->c * plane;
    for (int r = 0; r < K; r++) {
        const int c = r / (g->kh * g->kw), i = (r / g->kw) % g->kh, j = r % g->kw;
        int ylo, yhi, xlo, xhi;
        valid_range(i, g->sh, g->ph, g->h, g->oh, &ylo, &yhi);
        valid_range(j, g->sw, g->pw, g->w, ow, &xlo, &xhi);
        const int off = j - g->pw; /* input column = ox*SW + off */
        for (int s = 0; s < n; s++) {
            const float *xp = x + (size_t)s * img + (size_t)c * plane;
            float *dst = col + (size_t)r * ld + (size_t)s * (size_t)P;
            memset(dst, 0, (size_t)ylo * (size_t)ow * sizeof *dst);
            for (int oy = ylo; oy < yhi; oy++) {
                float *d = dst + (size_t)oy * (size_t)ow;
                const float *srow = xp + (size_t)(oy * g->sh - g->ph + i) * (size_t)g->w;
                for (int ox = 0; ox < xlo; ox++) d[ox] = 0.0f;
                if (g->sw == 1)
                    for (int ox = xlo; ox < xhi; ox++) d[ox] = srow[ox + off];
                else
                    for (int ox = xlo; ox < xhi; ox++) d[ox] = srow[ox * g->sw + off];
                for (int ox = xhi; ox < ow; ox++) d[ox] = 0.0f;
            }
            memset(dst + (size_t)yhi * (size_t)ow, 0, (size_t)(g->oh - yhi) * (size_t)ow * sizeof *dst);
        }
    }
}

/* dx (n, C, H, W) = the adjoint of im2col applied to col[K, n*P]: each plane
 * zeroed, then its KH*KW rows added in (i, j, oy, ox) order. */
static void col2im(const ConvGeom *g, const float *col, int n, float *dx)
{
    const int P = g->oh * g->ow, ow = g->ow;
    const size_t ld = (size_t)n * (size_t)P, plane = (size_t)g->h * (size_t)g->w;
    const size_t img = (size_t)g->c * plane;
    for (int s = 0; s < n; s++) {
        for (int c = 0; c < g->c; c++) {
            float *d = dx + (size_t)s * img + (size_t)c * plane;
            memset(d, 0, plane * sizeof *d);
            for (int i = 0; i < g->kh; i++) {
                int ylo, yhi;
                valid_range(i, g->sh, g->ph, g->h, g->oh, &ylo, &yhi);
                for (int j = 0; j < g->kw; j++) {
                    int xlo, xhi;
                    valid_range(j, g->sw, g->pw, g->w, ow, &xlo, &xhi);
                    const int off = j - g->pw;
                    const size_t r = ((size_t)c * (size_t)g->kh + (size_t)i) * (size_t)g->kw + (size_t)j;
                    const float *src = col + r * ld + (size_t)s * (size_t)P;
                    for (int oy = ylo; oy < yhi; oy++) {
                        float *drow = d + (size_t)(oy * g->sh - g->ph + i) * (size_t)g->w;
                        const float *srow = src + (size_t)oy * (size_t)ow;
                        if (g->sw == 1)
                            for (int ox = xlo; ox < xhi; ox++) drow[ox + off] += srow[ox];
                        else
                            for (int ox = xlo; ox < xhi; ox++) drow[ox * g->sw + off] += srow[ox];
                    }
                }
            }
        }
    }
}

int conv_chunk(const ConvGeom *g, int oc)
{
    (void)g, (void)oc;
    return CONV_CHUNK;
}

size_t conv_ws_per_sample(const ConvGeom *g, int oc)
{
    const size_t P = (size_t)g->oh * (size_t)g->ow, K = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    const size_t gemm_path = K * P + (size_t)oc * (K + 1) + (size_t)oc * P;
    if (!cdirect_ok(g)) return gemm_path;
    const size_t direct = cdirect_ws_per_sample(g, oc);
    return direct > gemm_path ? direct : gemm_path;
}

/* Sample s on the thread that takes it: col[K, P] = im2col(x_s) in that
 * thread's slot of ws (K*P floats, still in cache for the gemm);
 * y_s [OC, P] = w col + b. */
int conv_recomputes(const ConvGeom *g) { return cdirect_ok(g) && g->c * g->kh * g->kw <= CONV_RECOMPUTE_K; }

void conv_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                  const ConvFuse *f, float *y, float *ws)
{
    if (cdirect_ok(g)) {
        cdirect_forward(g, oc, x, w, b, n, f, y, ws);
        return;
    }
    const int relu = f && f->relu;
    const size_t pimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2);
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * (size_t)P;
    const int nt = max_threads() < n ? max_threads() : n; /* slots: at most one per sample */
    (void)nt; /* read by the pragma only */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if ((double)n * (double)K * P >= PAR_MIN)
    for (int s = 0; s < n; s++) {
        float *col = ws + (size_t)thread_num() * (size_t)K * (size_t)P;
        float *ys = y + (size_t)s * oimg;
        im2col(g, x + (size_t)s * img, 1, col);
        gemm_nn(oc, P, K, w, K, col, P, 0.0f, ys, P);
        for (int o = 0; o < oc; o++)
            for (int q = 0; q < P; q++) {
                float *v = &ys[(size_t)o * (size_t)P + q];
                *v += b[o];
                if (relu && !(*v > 0.0f)) *v = 0.0f;
            }
        if (f && f->pool) conv_pool2x2_sample(ys, oc, g->oh, g->ow, f->pool + (size_t)s * pimg);
    }
}

/* Chunk c (samples c*CONV_CHUNK ...) is one task: for each of its samples in
 * order, col = im2col(x_s) in the thread's slot; part_c [OC, K] += dy_s col^T
 * and part_c's db [OC] += the sums of dy_s (in double within a sample); then
 * col = w^T dy_s and dx_s = col2im(col). The parts (after the n*K*P floats of
 * slots) are added to dw, db in chunk order: the same sums for any team. */
/* One row of windows of conv_relu_grad: r0, r1 are the two input rows of
 * pw 2x2 windows, g their pw gradients; d0, d1 get the routed values. */
static void relu_pool_grad_row(const float *restrict r0, const float *restrict r1, const float *restrict g, int pw,
                               float *restrict d0, float *restrict d1)
{
    int px = 0;
#ifdef __AVX512F__
    /* 16 windows at a time: even/odd columns split apart, the same selects
     * as below as lane masks, then interleaved back */
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (; px < pw; px += 16) {
        const int cnt = pw - px < 16 ? pw - px : 16;
        const __mmask16 m = (__mmask16)((1u << cnt) - 1);
        const __mmask16 m0 = cnt >= 8 ? 0xFFFF : (__mmask16)((1u << (2 * cnt)) - 1);
        const __mmask16 m1 = cnt <= 8 ? 0 : (__mmask16)((1u << (2 * (cnt - 8))) - 1);
        const float *p0 = r0 + 2 * px, *p1 = r1 + 2 * px;
        const __m512 A0 = _mm512_maskz_loadu_ps(m0, p0), A1 = _mm512_maskz_loadu_ps(m1, p0 + 16);
        const __m512 C0 = _mm512_maskz_loadu_ps(m0, p1), C1 = _mm512_maskz_loadu_ps(m1, p1 + 16);
        const __m512 a = _mm512_permutex2var_ps(A0, ev, A1), b = _mm512_permutex2var_ps(A0, od, A1);
        const __m512 c = _mm512_permutex2var_ps(C0, ev, C1), e = _mm512_permutex2var_ps(C0, od, C1);
        const __mmask16 kb = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
        const __m512 mb = _mm512_mask_blend_ps(kb, a, b);
        const __mmask16 kc = _mm512_cmp_ps_mask(c, mb, _CMP_GT_OQ);
        const __m512 mc = _mm512_mask_blend_ps(kc, mb, c);
        const __mmask16 kd = _mm512_cmp_ps_mask(e, mc, _CMP_GT_OQ);
        const __m512 top = _mm512_mask_blend_ps(kd, mc, e);
        const __mmask16 pos = _mm512_cmp_ps_mask(top, _mm512_setzero_ps(), _CMP_GT_OQ);
        const __m512 v = _mm512_maskz_loadu_ps((__mmask16)(m & pos), g + px);
        const __mmask16 nkd = (__mmask16)~kd, nkcd = (__mmask16)(~kc & ~kd);
        const __m512 oa = _mm512_maskz_mov_ps((__mmask16)(nkcd & ~kb), v), ob = _mm512_maskz_mov_ps(nkcd & kb, v);
        const __m512 oc = _mm512_maskz_mov_ps(nkd & kc, v), odv = _mm512_maskz_mov_ps(kd, v);
        _mm512_mask_storeu_ps(d0 + 2 * px, m0, _mm512_permutex2var_ps(oa, lo, ob));
        _mm512_mask_storeu_ps(d0 + 2 * px + 16, m1, _mm512_permutex2var_ps(oa, hi, ob));
        _mm512_mask_storeu_ps(d1 + 2 * px, m0, _mm512_permutex2var_ps(oc, lo, odv));
        _mm512_mask_storeu_ps(d1 + 2 * px + 16, m1, _mm512_permutex2var_ps(oc, hi, odv));
    }
#endif
    for (; px < pw; px++) {
        const float a = r0[2 * px], b = r0[2 * px + 1], c = r1[2 * px], e = r1[2 * px + 1];
        /* the first maximum in row-major order, as max2x2_row_backward */
        const float mb = b > a ? b : a, mc = c > mb ? c : mb, top = e > mc ? e : mc;
        const uint32_t kb = -(uint32_t)(b > a), kc = -(uint32_t)(c > mb), kd = -(uint32_t)(e > mc);
        uint32_t v;
        memcpy(&v, &g[px], sizeof v);
        v &= -(uint32_t)(top > 0.0f);
        const uint32_t vabc = v & ~kd, vab = vabc & ~kc;
        const uint32_t o[4] = {vab & ~kb, vab & kb, vabc & kc, v & kd};
        memcpy(&d0[2 * px], &o[0], 2 * sizeof v);
        memcpy(&d1[2 * px], &o[2], 2 * sizeof v);
    }
}

void conv_relu_grad(const float *y, const float *dy, int pooled, int oc, int oh, int ow, float *d)
{
    const size_t plane = (size_t)oh * (size_t)ow;
    if (!pooled) {
        for (size_t i = 0; i < (size_t)oc * plane; i++) d[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        return;
    }
    const int ph = oh / 2, pw = ow / 2;
    for (int o = 0; o < oc; o++) {
        const float *yp = y + (size_t)o * plane, *dp = dy + (size_t)o * (size_t)ph * (size_t)pw;
        float *dd = d + (size_t)o * plane;
        for (int py = 0; py < ph; py++) {
            const float *r0 = yp + (size_t)(2 * py) * (size_t)ow, *r1 = r0 + ow;
            float *d0 = dd + (size_t)(2 * py) * (size_t)ow, *d1 = d0 + ow;
            relu_pool_grad_row(r0, r1, dp + (size_t)py * (size_t)pw, pw, d0, d1);
            if (ow & 1) d0[ow - 1] = d1[ow - 1] = 0.0f; /* floor mode: in no window */
        }
        if (oh & 1) memset(dd + (size_t)(oh - 1) * (size_t)ow, 0, (size_t)ow * sizeof *dd);
    }
}

void conv_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                   const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, float *ws)
{
    if (cdirect_ok(g)) {
        cdirect_backward(g, oc, x, w, b, y, f, dy, n, dx, dw, db, ws);
        return;
    }
    const float *y_relu = f && f->relu ? y : NULL; /* no recomputing on this path */
    const int pooled = y_relu && f->pool;
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, m = CONV_CHUNK, nch = (n + m - 1) / m;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * (size_t)P;
    const size_t nw = (size_t)oc * (size_t)K, np = nw + (size_t)oc;
    const size_t dyimg = (size_t)oc * (size_t)(g->oh / 2) * (size_t)(g->ow / 2); /* pooled dy, per sample */
    float *part = ws + (size_t)n * (size_t)K * (size_t)P;
    const int nt = max_threads() < nch ? max_threads() : nch; /* slots: at most one per chunk */
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)K * P >= PAR_MIN)
    {
        float *col = ws + (size_t)thread_num() * (size_t)K * (size_t)P;
        float *dmask = part + (size_t)nch * np + (size_t)thread_num() * oimg; /* dy * [y > 0], fused relu */
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nch; c++) {
            float *pw = part + (size_t)c * np, *pb = pw + nw;
            const int s1 = (c + 1) * m < n ? (c + 1) * m : n;
            for (int s = c * m; s < s1; s++) {
                const float *dys = dy + (size_t)s * oimg;
                if (y_relu) {
                    conv_relu_grad(y_relu + (size_t)s * oimg, dy + (size_t)s * (pooled ? dyimg : oimg), pooled, oc,
                                   g->oh, g->ow, dmask);
                    dys = dmask;
                }
                im2col(g, x + (size_t)s * img, 1, col);
                gemm_nt(oc, K, P, dys, P, col, P, s == c * m ? 0.0f : 1.0f, pw, K);
                for (int o = 0; o < oc; o++) {
                    const float *d = dys + (size_t)o * (size_t)P;
                    double acc[4] = {0, 0, 0, 0};
                    int q = 0;
                    for (; q + 4 <= P; q += 4)
                        for (int u = 0; u < 4; u++) acc[u] += (double)d[q + u];
                    for (; q < P; q++) acc[0] += (double)d[q];
                    const float sum = (float)((acc[0] + acc[1]) + (acc[2] + acc[3]));
                    pb[o] = s == c * m ? sum : pb[o] + sum;
                }
                if (dx) {
                    gemm_tn(K, P, oc, w, K, dys, P, 0.0f, col, P);
                    col2im(g, col, 1, dx + (size_t)s * img);
                }
            }
        }
#pragma omp for schedule(static)
        for (size_t i = 0; i < np; i++) {
            float *dst = i < nw ? dw + i : db + (i - nw);
            float acc = *dst;
            for (int c = 0; c < nch; c++) acc += part[(size_t)c * np + i];
            *dst = acc;
        }
    }
}

/* v replaces the running maximum m: larger, or NaN (NaN wins, as in
 * PyTorch's max_pool2d; ties keep the earlier element). */
static inline int beats(float v, float m) { return v > m || v != v; }

/* Offset (row*W + col, from the window's top-left) of the first maximum of a
 * KH x KW window in row-major order. */
static inline int window_argmax(const float *wp, int w, int kh, int kw)
{
    int best = 0;
    float m = wp[0];
    for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++)
            if (beats(wp[i * w + j], m)) {
                m = wp[i * w + j];
                best = i * w + j;
            }
    return best;
}

/* The common 2x2 window with stride 2, one output row: y[ox] = the maximum
 * of r0[2ox], r0[2ox+1], r1[2ox], r1[2ox+1] by the same rule, written with
 * selects rather than branches (random data mispredicts them). */
static void max2x2_row(const float *restrict r0, const float *restrict r1, int ow, float *restrict y)
{
    for (int ox = 0; ox < ow; ox++) {
        const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        float m = b > a ? b : a;
        m = c > m ? c : m;
        m = d > m ? d : m;
        const int nan = (a != a) | (b != b) | (c != c) | (d != d);
        y[ox] = nan ? a + b + c + d : m;
    }
}

void conv_pool2x2_sample(const float *y, int c, int h, int w, float *out)
{
    const int oh = h / 2, ow = w / 2;
    for (int ch = 0; ch < c; ch++)
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = y + ((size_t)ch * (size_t)h + (size_t)(2 * oy)) * (size_t)w;
            max2x2_row(r0, r0 + w, ow, out + ((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow);
        }
}

/* Backward of max2x2_row: the windows do not overlap, so each of the 2*OW
 * columns of rows d0, d1 is written once, dy or 0 (no zeroing pass; the
 * caller zeroes what no window covers). Rows holding a NaN take the generic
 * path; the others use selects, which vectorize. */
static void max2x2_row_backward(const float *restrict r0, const float *restrict r1, const float *restrict dy, int ow,
                                float *restrict d0, float *restrict d1)
{
    int nan = 0;
    for (int x = 0; x < 2 * ow; x++) nan |= (r0[x] != r0[x]) | (r1[x] != r1[x]);
    if (nan) {
        const int w = (int)(r1 - r0); /* the image width */
        memset(d0, 0, 2 * (size_t)ow * sizeof *d0);
        memset(d1, 0, 2 * (size_t)ow * sizeof *d1);
        for (int ox = 0; ox < ow; ox++) {
            const int k = window_argmax(r0 + 2 * ox, w, 2, 2); /* 0, 1, w or w+1 */
            (k < w ? d0 + k : d1 + (k - w))[2 * ox] = dy[ox];
        }
        return;
    }
    for (int ox = 0; ox < ow; ox++) {
        const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        const float mb = b > a ? b : a, mc = c > mb ? c : mb;
        /* all-ones masks: b, c, d beat what precedes them */
        const uint32_t kb = -(uint32_t)(b > a), kc = -(uint32_t)(c > mb), kd = -(uint32_t)(d > mc);
        uint32_t v;
        memcpy(&v, &dy[ox], sizeof v);
        /* v goes to d if it beats the rest, else to c if it beats a and b, ... */
        const uint32_t vabc = v & ~kd, vab = vabc & ~kc;
        const uint32_t o[4] = {vab & ~kb, vab & kb, vabc & kc, v & kd};
        memcpy(&d0[2 * ox], &o[0], 2 * sizeof v);
        memcpy(&d1[2 * ox], &o[2], 2 * sizeof v);
    }
}

static int is_2x2_stride2(const ConvGeom *g) { return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2; }

void conv_maxpool_forward(const ConvGeom *g, const float *x, int n, float *y)
{
    const size_t plane = (size_t)g->h * (size_t)g->w, oplane = (size_t)g->oh * (size_t)g->ow;
    const int fast = is_2x2_stride2(g);
#pragma omp parallel for collapse(2) schedule(dynamic, 16) if ((double)n * g->c * plane >= PAR_MIN)
    for (int s = 0; s < n; s++) {
        for (int c = 0; c < g->c; c++) {
            const size_t pc = (size_t)s * (size_t)g->c + (size_t)c;
            const float *xp = x + pc * plane;
            float *yp = y + pc * oplane;
            for (int oy = 0; oy < g->oh; oy++) {
                const float *r0 = xp + (size_t)(oy * g->sh) * (size_t)g->w;
                if (fast) {
                    max2x2_row(r0, r0 + g->w, g->ow, yp + (size_t)oy * (size_t)g->ow);
                    continue;
                }
                for (int ox = 0; ox < g->ow; ox++) {
                    const float *wp = r0 + (size_t)(ox * g->sw);
                    yp[oy * g->ow + ox] = wp[window_argmax(wp, g->w, g->kh, g->kw)];
                }
            }
        }
    }
}

void conv_maxpool_backward(const ConvGeom *g, const float *x, const float *dy, int n, float *dx)
{
    const size_t plane = (size_t)g->h * (size_t)g->w, oplane = (size_t)g->oh * (size_t)g->ow;
    const int fast = is_2x2_stride2(g);
#pragma omp parallel for collapse(2) schedule(dynamic, 16) if ((double)n * g->c * plane >= PAR_MIN)
    for (int s = 0; s < n; s++) {
        for (int c = 0; c < g->c; c++) {
            const size_t pc = (size_t)s * (size_t)g->c + (size_t)c;
            const float *xp = x + pc * plane;
            const float *dyp = dy + pc * oplane;
            float *dxp = dx + pc * plane;
            if (fast) {
                for (int oy = 0; oy < g->oh; oy++) {
                    const size_t r = (size_t)(2 * oy) * (size_t)g->w;
                    max2x2_row_backward(xp + r, xp + r + g->w, dyp + (size_t)oy * (size_t)g->ow, g->ow, dxp + r,
                                        dxp + r + g->w);
                    if (g->w > 2 * g->ow) dxp[r + (size_t)g->w - 1] = dxp[r + 2 * (size_t)g->w - 1] = 0.0f;
                }
                /* floor mode: an odd last row is in no window */
                const size_t done = (size_t)(2 * g->oh) * (size_t)g->w;
                memset(dxp + done, 0, (plane - done) * sizeof *dxp);
                continue;
            }
            memset(dxp, 0, plane * sizeof *dxp);
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    const size_t off = (size_t)(oy * g->sh) * (size_t)g->w + (size_t)(ox * g->sw);
                    dxp[off + (size_t)window_argmax(xp + off, g->w, g->kh, g->kw)] += dyp[oy * g->ow + ox];
                }
        }
    }
}

void conv_avgpool_forward(const ConvGeom *g, const float *x, int n, float *y)
{
    const size_t plane = (size_t)g->h * (size_t)g->w, oplane = (size_t)g->oh * (size_t)g->ow;
    const float count = (float)(g->kh * g->kw);
#pragma omp parallel for collapse(2) schedule(dynamic, 16) if ((double)n * g->c * plane >= PAR_MIN)
    for (int s = 0; s < n; s++) {
        for (int c = 0; c < g->c; c++) {
            const size_t pc = (size_t)s * (size_t)g->c + (size_t)c;
            const float *xp = x + pc * plane;
            float *yp = y + pc * oplane;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    const float *wp = xp + (size_t)(oy * g->sh) * (size_t)g->w + (size_t)(ox * g->sw);
                    float sum = 0.0f;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) sum += wp[i * g->w + j];
                    yp[oy * g->ow + ox] = sum / count;
                }
        }
    }
}

void conv_avgpool_backward(const ConvGeom *g, const float *dy, int n, float *dx)
{
    const size_t plane = (size_t)g->h * (size_t)g->w, oplane = (size_t)g->oh * (size_t)g->ow;
    const float count = (float)(g->kh * g->kw);
#pragma omp parallel for collapse(2) schedule(dynamic, 16) if ((double)n * g->c * plane >= PAR_MIN)
    for (int s = 0; s < n; s++) {
        for (int c = 0; c < g->c; c++) {
            const size_t pc = (size_t)s * (size_t)g->c + (size_t)c;
            const float *dyp = dy + pc * oplane;
            float *dxp = dx + pc * plane;
            memset(dxp, 0, plane * sizeof *dxp);
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    float *wp = dxp + (size_t)(oy * g->sh) * (size_t)g->w + (size_t)(ox * g->sw);
                    const float v = dyp[oy * g->ow + ox] / count;
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) wp[i * g->w + j] += v;
                }
        }
    }
}
