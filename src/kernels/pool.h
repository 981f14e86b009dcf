/* pool.h - the pooling kernels: max and average pooling over any window
 * (the maxpool and avgpool layers, nn/pool.c), and the two pieces of a 2x2
 * maxpool that a conv folds in (ConvFuse): the forward of one sample and the
 * gradient routed back through a fused relu and pool (conv.c, conv_direct.c).
 *
 * Max pooling takes each window's first maximum in row-major order, NaN
 * winning (as PyTorch's max_pool2d); its backward recomputes that maximum
 * from the input and routes the gradient there. Windows never overlap in the
 * fused pieces, so they write each element once. Nothing here allocates; the
 * layer kernels are parallel over (sample, channel) planes, bit-identical
 * whatever the thread count. */
#ifndef FMNIST_POOL_H
#define FMNIST_POOL_H

#include "kernels/conv_geom.h"

/* Pooling layers, no padding (g->ph = g->pw = 0):
 *   g   the window (C, H, W in; KH, KW, strides SH, SW; OH, OW out)
 *   x   is (n, C, H, W), the input
 *   y   is (n, C, OH, OW), OVERWRITTEN by forward
 *   dy  is (n, C, OH, OW), the gradient of y
 *   dx  is (n, C, H, W), OVERWRITTEN by backward
 * max: y = the window's maximum; backward routes dy to that maximum.
 * avg: y = the window's sum / (KH*KW); backward spreads dy / (KH*KW).
 * Where windows overlap, backward adds in window order. */
void pool_max_forward(const ConvGeom *g, const float *x, int n, float *y);
void pool_max_backward(const ConvGeom *g, const float *x, const float *dy, int n, float *dx);
void pool_avg_forward(const ConvGeom *g, const float *x, int n, float *y);
void pool_avg_backward(const ConvGeom *g, const float *dy, int n, float *dx);

/* The 2x2 stride-2 maxpool (floor mode) of one image, on the calling thread:
 *   y    is (c, h, w)
 *   out  is (c, h/2, w/2), OVERWRITTEN */
void pool_max2x2_sample(const float *y, int c, int h, int w, float *out);

/* The gradient at a conv's output y that went through a fused relu (y > 0)
 * and, if pooled, then a 2x2 stride-2 maxpool: each pool gradient goes to
 * its window's first maximum if that is > 0, everything else gets 0. On the
 * calling thread.
 *   y       is (oc, oh, ow), the conv's relu'd output (no NaN)
 *   dy      is (oc, oh/2, ow/2) if pooled, else (oc, oh, ow)
 *   pooled  1 with the maxpool, 0 for the relu alone
 *   d       is (oc, oh, ow), OVERWRITTEN */
void pool_relu_grad(const float *y, const float *dy, int pooled, int oc, int oh, int ow, float *d);

#endif
