/* conv_bf16.h - internal to kernels/: the convolutions in MATH_BF16_DP.
 *
 * Which kernel does which (conv.c dispatches):
 *  - a stride-1 layer with at most CONV_RECOMPUTE_K taps per output (a
 *    first layer: 1 to 3 input channels at 3x3; conv_bf16_rounds): x, w and,
 *    in backward, dy are rounded to bf16 (nearest even) into the scratch,
 *    then the fp32 direct kernels (conv_direct.h, MATH_FP32) run on them:
 *    each product of two bf16 is exact in fp32, so these are bf16 products
 *    added one by one by FMA chains (math.h allows it for few taps). db is
 *    then the sum of the rounded dy, like PyTorch's autocast.
 *  - other stride-1 layers: the channel-pair path (below).
 *  - every other layer (stride 2, ...): im2col + the bf16 gemm (gemm_bf16.h:
 *    pairs of taps summed by vdpbf16ps), conv.c's im2col path with the Math
 *    passed on; db sums the fp32 dy there, as on the channel-pair path.
 * Results never depend on the thread count, as in fp32. */
#ifndef FMNIST_CONV_BF16_H
#define FMNIST_CONV_BF16_H

#include <stddef.h>

#include "kernels/conv_geom.h"

/* 1 if g takes the rounded-operand path in MATH_BF16_DP (above). */
static inline int conv_bf16_rounds(const ConvGeom *g)
{
    return conv_direct_ok(g) && g->c * g->kh * g->kw <= CONV_RECOMPUTE_K;
}

/* 1 if g takes the channel-pair path in MATH_BF16_DP (below). */
static inline int conv_bf16_pairs(const ConvGeom *g)
{
    return conv_direct_ok(g) && !conv_bf16_rounds(g);
}

/* Scratch floats per sample of the rounded-operand path (0 if g does not
 * take it): the rounded copies, then the direct path's own scratch. */
size_t conv_bf16_ws_per_sample(const ConvGeom *g, int oc);

/* conv_forward / conv_backward (conv.h: the same arguments and contracts)
 * in MATH_BF16_DP for a g with conv_bf16_rounds(g). */
void conv_bf16_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                       const ConvFuse *f, float *y, float *ws);
void conv_bf16_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                        const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                        size_t gstride, float *ws);

/* The channel-pair path (stride 1, more than CONV_RECOMPUTE_K taps):
 * forward and dX are convolutions of a zero-padded image of channel PAIRS
 * (one 32-bit word = bf16 of channels 2c, 2c+1 at a position; an odd
 * channel count padded with a zero channel), so the tap pair (2c, i, j),
 * (2c+1, i, j) of 16 positions is one load, and a tile of 8 outputs x 32
 * positions is one vdpbf16ps chain over the tap pairs (c, i, j) ascending,
 * from 0 (then + b, relu). dX: the same on dy padded by KH-1-PH, KW-1-PW,
 * with the weights flipped and transposed, the output channels in pairs.
 * dW: im2col + the bf16 gemm per sample (pairs of positions, the chain
 * going on across a chunk's samples), parts folded as conv.c's; db: 4
 * double lanes per plane as conv.c's im2col path. y is always stored (a
 * layer with more than CONV_RECOMPUTE_K taps never recomputes it). */
size_t conv_bf16_pairs_ws_per_sample(const ConvGeom *g, int oc);
void conv_bf16_pairs_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                             const ConvFuse *f, float *y, float *ws);
void conv_bf16_pairs_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *y,
                              const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                              size_t gstride, float *ws);

#endif
