/* conv.c - the convolution kernels (see conv.h): the im2col + gemm path,
 * sample by sample, and the dispatch between it and the direct path
 * (conv_direct.c) for stride 1. MATH_BF16_DP: stride 1 goes to conv_bf16.c
 * (few taps: rounded operands on the direct fp32 kernels; more: channel-pair
 * images), the others to the im2col path with the bf16 gemm (conv_bf16.h
 * says which does what).
 *
 * OpenMP splits the work by what a thread writes: samples (forward) or fixed
 * chunks of CONV_CHUNK samples with their own dW parts (backward). Each is
 * computed in one fixed order by one thread, whichever it is, so results
 * never depend on the thread count. No allocation: scratch comes from ws. */
#include "kernels/conv.h"

#include <stddef.h>
#include <string.h>

#include "kernels/conv_bf16.h"
#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include "kernels/pool.h"
#include "kernels/threads.h"

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

/* The column matrix of one sample: row (c*KH + i)*KW + j, column oy*OW + ox
 * holds x[c][oy*SH - PH + i][ox*SW - PW + j], or 0 in the padding.
 *   x    is (C, H, W)
 *   col  is [K, P] (K = C*KH*KW, P = OH*OW), OVERWRITTEN */
static void im2col(const ConvGeom *g, const float *x, float *col)
{
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, ow = g->ow;
    const size_t plane = (size_t)g->h * (size_t)g->w;
    for (int r = 0; r < K; r++) {
        const int c = r / (g->kh * g->kw), i = (r / g->kw) % g->kh, j = r % g->kw;
        int ylo, yhi, xlo, xhi;
        valid_range(i, g->sh, g->ph, g->h, g->oh, &ylo, &yhi);
        valid_range(j, g->sw, g->pw, g->w, ow, &xlo, &xhi);
        const int off = j - g->pw; /* input column = ox*SW + off */
        const float *xp = x + (size_t)c * plane;
        float *dst = col + (size_t)r * (size_t)P;
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

/* The adjoint of im2col for one sample: each plane of dx zeroed, then its
 * KH*KW rows of col added in (i, j, oy, ox) order.
 *   col  is [K, P], as im2col writes it
 *   dx   is (C, H, W), OVERWRITTEN */
static void col2im(const ConvGeom *g, const float *col, float *dx)
{
    const int P = g->oh * g->ow, ow = g->ow;
    const size_t plane = (size_t)g->h * (size_t)g->w;
    for (int c = 0; c < g->c; c++) {
        float *d = dx + (size_t)c * plane;
        memset(d, 0, plane * sizeof *d);
        for (int i = 0; i < g->kh; i++) {
            int ylo, yhi;
            valid_range(i, g->sh, g->ph, g->h, g->oh, &ylo, &yhi);
            for (int j = 0; j < g->kw; j++) {
                int xlo, xhi;
                valid_range(j, g->sw, g->pw, g->w, ow, &xlo, &xhi);
                const int off = j - g->pw;
                const size_t r = ((size_t)c * (size_t)g->kh + (size_t)i) * (size_t)g->kw + (size_t)j;
                const float *src = col + r * (size_t)P;
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

size_t conv_ws_per_sample(const ConvGeom *g, int oc)
{
    const size_t P = (size_t)g->oh * (size_t)g->ow, K = (size_t)g->c * (size_t)g->kh * (size_t)g->kw;
    const size_t gemm_path = K * P + (size_t)oc * (K + 1) + (size_t)oc * P;
    if (!conv_direct_ok(g)) return gemm_path;
    const size_t direct = conv_direct_ws_per_sample(g, oc), r = conv_bf16_ws_per_sample(g, oc);
    const size_t pairs = conv_bf16_pairs_ws_per_sample(g, oc), bf16 = r > pairs ? r : pairs;
    const size_t most = direct > gemm_path ? direct : gemm_path;
    return bf16 > most ? bf16 : most;
}

/* conv_forward on the im2col path (same arguments, conv.h). Sample s on the
 * thread that takes it: col[K, P] = im2col(x_s) in that thread's slot of ws
 * (K*P floats, still in cache for the gemm); y_s [OC, P] = w col + b, then
 * the fused relu and pool. */
static void im2col_forward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                           const ConvFuse *f, float *y, float *ws)
{
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
        im2col(g, x + (size_t)s * img, col);
        gemm_nn(m, oc, P, K, w, K, col, P, 0.0f, ys, P);
        for (int o = 0; o < oc; o++)
            for (int q = 0; q < P; q++) {
                float *v = &ys[(size_t)o * (size_t)P + q];
                *v += b[o];
                if (relu && !(*v > 0.0f)) *v = 0.0f;
            }
        if (f && f->pool) pool_max2x2_sample(ys, oc, g->oh, g->ow, f->pool + (size_t)s * pimg);
    }
}

/* The sum of v[0..len) for db: 4 lanes in double (element q to lane q % 4),
 * added in a fixed order. */
static float plane_sum4(const float *v, int len)
{
    double acc[4] = {0, 0, 0, 0};
    int q = 0;
    for (; q + 4 <= len; q += 4)
        for (int u = 0; u < 4; u++) acc[u] += (double)v[q + u];
    for (; q < len; q++) acc[0] += (double)v[q];
    return (float)((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

/* conv_backward on the im2col path (same arguments, conv.h). Chunk c
 * (samples c*CONV_CHUNK ...) is one task: for each of its samples in order,
 * dy_s is taken back through the fused relu/pool (pool_relu_grad), col =
 * im2col(x_s) in the thread's slot; part_c [OC, K] += dy_s col^T and part_c's
 * db [OC] += the sums of dy_s (in double within a sample); then col = w^T
 * dy_s and dx_s = col2im(col). The parts (after the n*K*P floats of slots)
 * are added to dw, db in chunk order (conv_fold_parts: per micro-batch of
 * mb samples, into dw + j*gstride): the same sums for any team. */
static void im2col_backward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *y,
                            const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                            size_t gstride, float *ws)
{
    const float *y_relu = f && f->relu ? y : NULL; /* no recomputing on this path */
    const int pooled = y_relu && f->pool;
    const ConvChunks ck = conv_chunks(n, mb);
    const int K = g->c * g->kh * g->kw, P = g->oh * g->ow, nch = ck.nch;
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
            int s0, s1;
            conv_chunk_samples(&ck, c, &s0, &s1);
            for (int s = s0; s < s1; s++) {
                const int first = s == s0; /* overwrites the chunk's part */
                const float *dys = dy + (size_t)s * oimg;
                if (y_relu) {
                    pool_relu_grad(y_relu + (size_t)s * oimg, dy + (size_t)s * (pooled ? dyimg : oimg), pooled, oc,
                                   g->oh, g->ow, dmask);
                    dys = dmask;
                }
                im2col(g, x + (size_t)s * img, col);
                gemm_nt(m, oc, K, P, dys, P, col, P, first ? 0.0f : 1.0f, pw, K);
                for (int o = 0; o < oc; o++) {
                    const float sum = plane_sum4(dys + (size_t)o * (size_t)P, P);
                    pb[o] = first ? sum : pb[o] + sum;
                }
                if (dx) {
                    gemm_tn(m, K, P, oc, w, K, dys, P, 0.0f, col, P);
                    col2im(g, col, dx + (size_t)s * img);
                }
            }
        }
#pragma omp for schedule(static)
        for (size_t i = 0; i < np; i++)
            conv_fold_parts(&ck, part + i, np, i < nw ? dw + i : db + (i - nw), gstride);
    }
}

void conv_forward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                  const ConvFuse *f, float *y, float *ws)
{
    if (n <= 0) return;
    if (m == MATH_BF16_DP && conv_bf16_rounds(g))
        conv_bf16_forward(g, oc, x, w, b, n, f, y, ws);
    else if (m == MATH_BF16_DP && conv_bf16_pairs(g))
        conv_bf16_pairs_forward(g, oc, x, w, b, n, f, y, ws);
    else if (m == MATH_FP32 && conv_direct_ok(g))
        conv_direct_forward(m, g, oc, x, w, b, n, f, y, ws);
    else
        im2col_forward(m, g, oc, x, w, b, n, f, y, ws);
}

void conv_backward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                   const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                   size_t gstride, float *ws)
{
    if (n <= 0) return;
    if (m == MATH_BF16_DP && conv_bf16_rounds(g))
        conv_bf16_backward(g, oc, x, w, b, y, f, dy, n, dx, dw, db, mb, gstride, ws);
    else if (m == MATH_BF16_DP && conv_bf16_pairs(g))
        conv_bf16_pairs_backward(g, oc, x, w, y, f, dy, n, dx, dw, db, mb, gstride, ws);
    else if (m == MATH_FP32 && conv_direct_ok(g))
        conv_direct_backward(m, g, oc, x, w, b, y, f, dy, n, dx, dw, db, mb, gstride, ws);
    else
        im2col_backward(m, g, oc, x, w, y, f, dy, n, dx, dw, db, mb, gstride, ws);
}
