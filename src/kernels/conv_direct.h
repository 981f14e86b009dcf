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
 *    tile of 8 taps x 32 output channels, dy transposed per sample so the 32
 *    channels are one load, summed in the same fixed order as conv.c's chunks.
 *
 * Every output element is one chain in a fixed order, so results never
 * depend on the thread count. */
#ifndef FMNIST_CONV_DIRECT_H
#define FMNIST_CONV_DIRECT_H

#include <stddef.h>

#include "kernels/conv.h"

/* 1 if g takes this path: stride 1 and padding below the kernel size. */
int cdirect_ok(const ConvGeom *g);
/* Scratch floats per sample of a batch (any n >= 1 is covered). */
size_t cdirect_ws_per_sample(const ConvGeom *g, int oc);
/* The contracts of conv_forward / conv_backward (conv.h). */
void cdirect_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                     const ConvFuse *f, float *y, float *ws);
void cdirect_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                      const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, float *ws);

/* out (c, h/2, w/2) = the 2x2 stride-2 maxpool (floor mode, NaN wins) of one
 * image y (c, h, w), on the calling thread. (conv.c) */
void conv_pool2x2_sample(const float *y, int c, int h, int w, float *out);

/* d (oc, oh, ow): the gradient at a conv output y that went through a fused
 * relu (y > 0) and, if pooled, then a 2x2 stride-2 maxpool whose output
 * gradient is dy (oc, oh/2, ow/2): routed to each window's first maximum if
 * that is > 0, else 0. Unpooled, dy has y's shape. (conv.c) */
void conv_relu_grad(const float *y, const float *dy, int pooled, int oc, int oh, int ow, float *d);

#endif
