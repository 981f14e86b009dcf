/* pool.c - pooling kernels (see pool.h): max and average pooling for the
 * layers, and the 2x2 maxpool pieces a conv folds in.
 *
 * The first maximum of a 2x2 window, and where its gradient goes, is decided
 * in one place (route_2x2) for both the maxpool layer and the fused
 * relu/pool; the AVX-512 loop of relu_pool_grad_row is the same selects
 * sixteen windows at a time. OpenMP splits the layer kernels by (sample,
 * channel) plane, each computed in one fixed order by one thread, so results
 * never depend on the thread count. */
#include "kernels/pool.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/threads.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

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

void pool_max2x2_sample(const float *y, int c, int h, int w, float *out)
{
    const int oh = h / 2, ow = w / 2;
    for (int ch = 0; ch < c; ch++)
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = y + ((size_t)ch * (size_t)h + (size_t)(2 * oy)) * (size_t)w;
            max2x2_row(r0, r0 + w, ow, out + ((size_t)ch * (size_t)oh + (size_t)oy) * (size_t)ow);
        }
}

/* The gradient *v of one NaN-free 2x2 window (a b above c d) goes to the
 * window's first maximum in row-major order and 0 to the other three places:
 * d0[0], d0[1] are a's and b's, d1[0], d1[1] c's and d's. With relu (a fused
 * relu before the pool) it goes nowhere unless that maximum is > 0. Bit
 * masks instead of branches (random data mispredicts them); *v is copied as
 * bits, never as a float. */
static inline void route_2x2(float a, float b, float c, float d, const float *v, int relu, float *d0, float *d1)
{
    const float mb = b > a ? b : a, mc = c > mb ? c : mb, top = d > mc ? d : mc;
    /* all-ones masks: b, c, d beat what precedes them */
    const uint32_t kb = -(uint32_t)(b > a), kc = -(uint32_t)(c > mb), kd = -(uint32_t)(d > mc);
    uint32_t u;
    memcpy(&u, v, sizeof u);
    if (relu) u &= -(uint32_t)(top > 0.0f);
    /* u goes to d if it beats the rest, else to c if it beats a and b, ... */
    const uint32_t uabc = u & ~kd, uab = uabc & ~kc;
    const uint32_t o[4] = {uab & ~kb, uab & kb, uabc & kc, u & kd};
    memcpy(d0, &o[0], 2 * sizeof u);
    memcpy(d1, &o[2], 2 * sizeof u);
}

/* Backward of max2x2_row: the windows do not overlap, so each of the 2*OW
 * columns of rows d0, d1 is written once, dy or 0 (no zeroing pass; the
 * caller zeroes what no window covers). Rows holding a NaN take the generic
 * path; the others route_2x2 (selects, no branches).
 *   r0, r1  the two rows of x under ow windows (2*ow floats each; r1 - r0 is the image width)
 *   dy      the ow windows' gradients
 *   d0, d1  the rows of dx (2*ow floats each), OVERWRITTEN */
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
    for (int ox = 0; ox < ow; ox++)
        route_2x2(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1], &dy[ox], 0, d0 + 2 * ox, d1 + 2 * ox);
}

/* One row of windows of pool_relu_grad, each window's gradient routed by
 * route_2x2 (with the relu):
 *   r0, r1  the two rows of y under pw 2x2 windows (2*pw floats each)
 *   g       the pw windows' gradients
 *   d0, d1  the rows of the gradient at y (2*pw floats each), OVERWRITTEN */
static void relu_pool_grad_row(const float *restrict r0, const float *restrict r1, const float *restrict g, int pw,
                               float *restrict d0, float *restrict d1)
{
    int px = 0;
#ifdef __AVX512F__
    /* 16 windows at a time: even/odd columns split apart, route_2x2's
     * selects as lane masks, then interleaved back */
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
    for (; px < pw; px++)
        route_2x2(r0[2 * px], r0[2 * px + 1], r1[2 * px], r1[2 * px + 1], &g[px], 1, d0 + 2 * px, d1 + 2 * px);
}

void pool_relu_grad(const float *y, const float *dy, int pooled, int oc, int oh, int ow, float *d)
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

/* The layers' kernels. Parallel over (sample, channel) planes from PAR_MIN
 * input floats; dynamic schedules let one thread take over the work of
 * another that the OS has descheduled. */

static int is_2x2_stride2(const ConvGeom *g) { return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2; }

void pool_max_forward(const ConvGeom *g, const float *x, int n, float *y)
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

void pool_max_backward(const ConvGeom *g, const float *x, const float *dy, int n, float *dx)
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

void pool_avg_forward(const ConvGeom *g, const float *x, int n, float *y)
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

void pool_avg_backward(const ConvGeom *g, const float *dy, int n, float *dx)
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
