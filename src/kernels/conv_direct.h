/* conv_direct.h - internal to kernels/: the stride-1 convolution path.
 *
 * Stride-1 convolutions skip im2col. Each sample is copied into a zero-padded
 * image whose rows have pitch WQ = W + PW (the PW zeros after a row double as
 * the left padding of the next), and output position (oy, ox) is numbered
 * p = oy*WQ + ox. Kernel tap k = (c, i, j) then reads a fixed offset off(k)
 * + p: for fixed k, consecutive p are consecutive floats. A register tile of
 * 8 output channels x 32 positions is therefore a K-long chain of FMAs:
 * broadcast 8 packed weights, load 32 floats straight from the padded image.
 * The WQ - OW = KW-1-PW columns past each row's end are computed and dropped
 * (1 of 15 for a 14-wide 3x3 pad-1 layer).
 *
 *  - forward: y = that product + b (then max(y, 0) for a fused relu).
 *  - dX: the same product on dy, zero-padded by KH-1-PH, with the weights
 *    flipped and transposed (a stride-1 convolution's adjoint).
 *  - dW[o][k] = sum over samples and valid p of dy[o][p] xp[off(k) + p]: a
 *    tile of up to 12 taps x 32 output channels, dy transposed per sample
 *    (or, when one tile covers all taps, 16 positions at a time on the way)
 *    so the 32 channels are one load, summed in the same fixed order as
 *    conv.c's chunks.
 *  - the narrow path (one input channel, "same" padding, at most 9 taps: a
 *    first layer): forward holds two outputs' weights in registers and
 *    walks y's own numbering oy*OW + ox, 16 positions a vector, masking the
 *    lanes whose window column falls outside the image; the same chains.
 *
 * Every output element is one chain in a fixed order, so results never
 * depend on the thread count. Which geometries take this path:
 * conv_direct_ok (conv_geom.h). */
#ifndef FMNIST_CONV_DIRECT_H
#define FMNIST_CONV_DIRECT_H

#include <stddef.h>

#include "kernels/conv_geom.h"
#include "kernels/math.h"

/* Scratch floats per sample of a batch (any n >= 1 is covered). */
size_t conv_direct_ws_per_sample(const ConvGeom *g, int oc);

/* conv_forward / conv_backward (conv.h: the same arguments and contracts)
 * for a g with conv_direct_ok(g). */
void conv_direct_forward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                         const ConvFuse *f, float *y, float *ws);
void conv_direct_backward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b,
                          const float *y, const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db,
                          int mb, size_t gstride, float *ws);

#endif
