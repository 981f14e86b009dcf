/* conv.h - the kernels of the convolution layer.
 *
 * A convolution runs one sample at a time: OpenMP hands samples (forward) or
 * fixed chunks of CONV_CHUNK samples (backward) to threads, each with its own
 * slot of the scratch. Stride-1 convolutions (the common case) go straight
 * from a zero-padded copy of the image into register tiles (conv_direct.h);
 * others use im2col + gemm (gemm serial inside, as a nested region). Results
 * are bit-identical whatever the thread count. Nothing here allocates: the
 * caller passes the scratch. The geometry and fusion types are in
 * conv_geom.h, the pooling kernels in pool.h. */
#ifndef FMNIST_CONV_H
#define FMNIST_CONV_H

#include <stddef.h>

#include "kernels/conv_geom.h"
#include "kernels/math.h"

/* Scratch floats per sample that conv_forward/conv_backward need for a batch
 * of n: ws holds n * conv_ws_per_sample(g, oc) floats. im2col path: K * P for
 * one column matrix per thread (at most one per sample), OC * (K + 1) for a
 * chunk's dW, db parts and OC * P for a masked dy per thread (K = C*KH*KW,
 * P = OH*OW); the direct path's needs are in conv_direct.h. */
size_t conv_ws_per_sample(const ConvGeom *g, int oc);

/* m, the first argument of both, is the arithmetic of the products
 * (kernels/math.h); conv_ws_per_sample covers every Math.
 *
 * y = conv(x, w) + b, with the fusions of f. Per sample (im2col path):
 * col[K, P] (row (c*KH + i)*KW + j, column oy*OW + ox holding
 * x[c][oy*SH - PH + i][ox*SW - PW + j], or 0 in the padding); y = w col + b.
 * Parallel over samples.
 *   g   the geometry (C, H, W in; OH, OW out)
 *   oc  the output channels OC
 *   x   is (n, C, H, W)
 *   w   is (OC, C, KH, KW)
 *   b   is (OC)
 *   n   the samples
 *   f   the fusions (ConvFuse), or NULL; f->pool is (n, OC, OH/2, OW/2)
 *   y   is (n, OC, OH, OW), OVERWRITTEN (may be NULL if conv_recomputes(g)
 *       with f->pool: backward recomputes it)
 *   ws  is the scratch: n * conv_ws_per_sample(g, oc) floats */
void conv_forward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                  const ConvFuse *f, float *y, float *ws);

/* The gradients of conv_forward: dw += sum over samples of dy_s col_s^T,
 * db += the sum of dy over samples and positions (in a fixed order, chunk by
 * chunk), and dx = col2im(w^T dy_s). With f, dy is first taken back through
 * the fused relu (and pool). Parallel over chunks of CONV_CHUNK samples.
 * Micro-batches (nn/layer.h) of mb samples (mb <= 0 or >= n: one): the
 * chunks never straddle one (conv_chunks), and micro-batch j's dW and db,
 * summed from 0, are added once to dw + j*gstride, db + j*gstride. n == 0
 * does nothing.
 *   g, oc, w, b, f, n  as given to conv_forward
 *   x   is (n, C, H, W), the forward's input
 *   y   is (n, OC, OH, OW), the forward's output (unread, and may be NULL, if recomputed)
 *   dy  is (n, OC, OH, OW), or (n, OC, OH/2, OW/2) with f->pool: the
 *       gradient of the last output the conv wrote
 *   dx  is (n, C, H, W), OVERWRITTEN; NULL: not computed
 *   dw  is (OC, C, KH, KW), ACCUMULATED (+=)
 *   db  is (OC), ACCUMULATED (+=)
 *   mb, gstride  the micro-batches (above)
 *   ws  is the scratch, as for conv_forward */
void conv_backward(Math m, const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                   const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, int mb,
                   size_t gstride, float *ws);

#endif
