/* conv_geom.h - the words the convolution and pooling kernels share: the
 * geometry of a window sliding over an image (ConvGeom), what a conv folds
 * in from the layers after it (ConvFuse), and which of the two conv paths a
 * geometry takes.
 *
 * Types, constants and one-line predicates only. conv.h (im2col + gemm),
 * conv_direct.h (stride 1) and pool.h each include this header, so none of
 * them needs another's for these words. */
#ifndef FMNIST_CONV_GEOM_H
#define FMNIST_CONV_GEOM_H

/* The geometry of a window sliding over one C x H x W image. */
typedef struct {
    int c, h, w;   /* input channels, height, width                       */
    int kh, kw;    /* window (kernel) height and width                    */
    int sh, sw;    /* strides                                             */
    int ph, pw;    /* zero padding on each side (0 for pooling)           */
    int oh, ow;    /* output height and width: (h + 2ph - kh) / sh + 1    */
} ConvGeom;

/* What conv_forward/conv_backward fold in from the layers after the conv
 * (net_build sets it; NULL or all zero: nothing).
 *  - relu: forward stores max(y, 0); backward's dy is the gradient after it.
 *  - pool (with relu): forward also writes the 2x2 stride-2 maxpool of the
 *    relu'd y to pool (n, OC, OH/2, OW/2), and backward's dy is the gradient
 *    of that output; backward routes it to each window's first maximum (if
 *    > 0) itself (pool_relu_grad, pool.h). When recomputing is cheaper than
 *    memory (conv_recomputes), y is not stored at all and backward recomputes
 *    it sample by sample. */
typedef struct {
    int relu;
    float *pool;
} ConvFuse;

/* Samples per task of conv_backward: each chunk sums its own dW and db
 * parts, which are then added up in chunk order. A constant, so the sums
 * never depend on the thread count. */
#define CONV_CHUNK 8

/* 1 if g takes the direct path (conv_direct.h): stride 1 and padding below
 * the kernel size. The others take im2col + gemm (conv.c). */
static inline int conv_direct_ok(const ConvGeom *g)
{
    return g->sh == 1 && g->sw == 1 && g->ph <= g->kh - 1 && g->pw <= g->kw - 1;
}

/* 1 if, with a fused pool, y is recomputed instead of stored: the direct
 * path and at most CONV_RECOMPUTE_K taps per output (a first layer). */
#define CONV_RECOMPUTE_K 32
static inline int conv_recomputes(const ConvGeom *g)
{
    return conv_direct_ok(g) && g->c * g->kh * g->kw <= CONV_RECOMPUTE_K;
}

#endif
