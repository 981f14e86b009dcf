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

#include "kernels/gemm.h"

#ifdef _OPENMP
#include <omp.h>
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

/* The calling thread's number and the team size a region would get (0 and 1
 * in a serial build). They only pick scratch slots, never change a result. */
static int thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int conv_chunk(const ConvGeom *g, int oc)
{
    (void)g, (void)oc;
    return CONV_CHUNK;
}

size_t conv_ws_per_sample(const ConvGeom *g, int oc)
{
    const size_t P = (size_t)g->oh * (size_t)g->ow, K = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    return K * P + (size_t)oc * (K + 1);
}

/* Sample s on the thread that takes it: col[K, P] = im2col(x_s) in that
 * thread's slot of ws (K*P floats, still in cache for the gemm);
 * y_s [OC, P] = w col + b. */
void conv_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n, float *y,
                  float *ws)
{
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
            for (int q = 0; q < P; q++) ys[(size_t)o * (size_t)P + q] += b[o];
    }
}

/* Chunk c (samples c*CONV_CHUNK ...) is one task: for each of its samples in
 * order, col = im2col(x_s) in the thread's slot; part_c [OC, K] += dy_s col^T
 * and part_c's db [OC] += the sums of dy_s (in double within a sample); then
 * col = w^T dy_s and dx_s = col2im(col). The parts (after the n*K*P floats of
 * slots) are added to dw, db in chunk order: the same sums for any team. */
void conv_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *dy, int n, float *dx,
                   float *dw, float *db, float *ws)
{
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, m = CONV_CHUNK, nch = (n + m - 1) / m;
    const size_t img = (size_t)g->c * (size_t)g->h * (size_t)g->w, oimg = (size_t)oc * (size_t)P;
    const size_t nw = (size_t)oc * (size_t)K, np = nw + (size_t)oc;
    float *part = ws + (size_t)n * (size_t)K * (size_t)P;
    const int nt = max_threads() < nch ? max_threads() : nch; /* slots: at most one per chunk */
    (void)nt;
#pragma omp parallel num_threads(nt) if ((double)n * (double)K * P >= PAR_MIN)
    {
        float *col = ws + (size_t)thread_num() * (size_t)K * (size_t)P;
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nch; c++) {
            float *pw = part + (size_t)c * np, *pb = pw + nw;
            const int s1 = (c + 1) * m < n ? (c + 1) * m : n;
            for (int s = c * m; s < s1; s++) {
                const float *dys = dy + (size_t)s * oimg;
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
