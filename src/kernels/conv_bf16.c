/* conv_bf16.c - MATH_BF16_DP convolutions with few taps (see conv_bf16.h):
 * the operands rounded to bf16 into the scratch, then conv_direct.c's fp32
 * kernels on them. Scratch: the rounded x (n images), w, and dy (n of the
 * gradient the conv receives: pooled when a pool is fused), each padded to
 * 16 floats, then the direct path's scratch. No allocation. */
#include "kernels/conv_bf16.h"

#include <stddef.h>

#include "kernels/conv_direct.h"
#include "kernels/math.h"
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
