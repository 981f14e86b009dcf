/* conv.h - the kernels of the convolution and pooling layers.
 *
 * A convolution runs one sample at a time: OpenMP hands samples (forward) or
 * fixed chunks of samples (backward) to threads, each with its own slot of
 * the scratch. Stride-1 convolutions (the common case) go straight from a
 * zero-padded copy of the image into register tiles (conv_direct.h); others
 * use im2col + gemm (gemm serial inside, as a nested region). Results are
 * bit-identical whatever the thread count. Nothing here allocates: the
 * caller passes the scratch. */
#ifndef FMNIST_CONV_H
#define FMNIST_CONV_H

#include <stddef.h>

/* The geometry of a window sliding over one C x H x W image. */
typedef struct {
    int c, h, w;   /* input channels, height, width                       */
    int kh, kw;    /* window (kernel) height and width                    */
    int sh, sw;    /* strides                                             */
    int ph, pw;    /* zero padding on each side (0 for pooling)           */
    int oh, ow;    /* output height and width: (h + 2ph - kh) / sh + 1    */
} ConvGeom;

/* Samples per task of conv_backward: each chunk sums its own dW and db
 * parts, which are then added up in chunk order. */
#define CONV_CHUNK 8

/* Samples per chunk of conv_backward for these shapes (CONV_CHUNK); it never
 * depends on the thread count. */
int conv_chunk(const ConvGeom *g, int oc);

/* Scratch floats per sample that conv_forward/conv_backward need for a batch
 * of n: ws holds n * conv_ws_per_sample(g, oc) floats. im2col path: K * P for
 * one column matrix per thread (at most one per sample), OC * (K + 1) for a
 * chunk's dW, db parts and OC * P for a masked dy per thread (K = C*KH*KW,
 * P = OH*OW); the direct path's needs are in conv_direct.h. */
size_t conv_ws_per_sample(const ConvGeom *g, int oc);

/* What conv_forward/conv_backward fold in from the layers after the conv
 * (net_build sets it; NULL or all zero: nothing).
 *  - relu: forward stores max(y, 0); backward's dy is the gradient after it.
 *  - pool (with relu): forward also writes the 2x2 stride-2 maxpool of the
 *    relu'd y to pool (n, OC, OH/2, OW/2), and backward's dy is the gradient
 *    of that output; backward routes it to each window's first maximum (if
 *    > 0) itself. When recomputing is cheaper than memory (conv_recomputes),
 *    y is not stored at all and backward recomputes it sample by sample. */
typedef struct {
    int relu;
    float *pool;
} ConvFuse;

/* 1 if, with a fused pool, y is recomputed instead of stored: stride 1 and
 * at most CONV_RECOMPUTE_K taps per output (a first layer). */
#define CONV_RECOMPUTE_K 32
int conv_recomputes(const ConvGeom *g);

/* y (n, OC, OH, OW) = conv(x (n, C, H, W), w [OC, C, KH, KW]) + b [OC], with
 * the fusions of f (may be NULL).
 * Per sample: col[K, P] (row (c*KH + i)*KW + j, column oy*OW + ox holding
 * x[c][oy*SH - PH + i][ox*SW - PW + j], or 0 in the padding); y = w col + b.
 * Parallel over samples. */
void conv_forward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, int n,
                  const ConvFuse *f, float *y, float *ws);

/* Given dy (n, OC, OH, OW) of the forward on x that gave y (with the same w,
 * b and f): dw [OC, K] += sum over samples of dy_s col_s^T and db [OC] += the
 * sum of dy over samples and positions (in a fixed order), and, unless dx is
 * NULL, dx (n, C, H, W) is OVERWRITTEN with col2im(w^T dy_s). With f, dy is
 * first taken back through the fused relu (and pool). Parallel over chunks. */
void conv_backward(const ConvGeom *g, int oc, const float *x, const float *w, const float *b, const float *y,
                   const ConvFuse *f, const float *dy, int n, float *dx, float *dw, float *db, float *ws);

/* Pooling, no padding (g->ph = g->pw = 0), x (n, C, H, W), y (n, C, OH, OW).
 * maxpool: y = the window's maximum (NaN wins, as in PyTorch); backward routes
 * dy to the first maximum of each window in row-major order, recomputed from
 * x. avgpool: y = the window's sum / (KH*KW); backward spreads dy / (KH*KW).
 * Backward OVERWRITES dx (n, C, H, W); overlapping windows add in window
 * order. Parallel over (sample, channel) planes. */
void conv_maxpool_forward(const ConvGeom *g, const float *x, int n, float *y);
void conv_maxpool_backward(const ConvGeom *g, const float *x, const float *dy, int n, float *dx);
void conv_avgpool_forward(const ConvGeom *g, const float *x, int n, float *y);
void conv_avgpool_backward(const ConvGeom *g, const float *dy, int n, float *dx);

#endif
