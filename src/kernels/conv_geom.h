/* conv_geom.h - the words the convolution and pooling kernels share: the
 * geometry of a window sliding over an image (ConvGeom), what a conv folds
 * in from the layers after it (ConvFuse), and which of the two conv paths a
 * geometry takes.
 *
 * Types, constants, one-line predicates and the chunking of backward's sums. conv.h (im2col + gemm),
 * conv_direct.h (stride 1) and pool.h each include this header, so none of
 * them needs another's for these words. */
#ifndef FMNIST_CONV_GEOM_H
#define FMNIST_CONV_GEOM_H

#include <stddef.h>

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

/* The chunks of a conv_backward call of n samples in micro-batches of mb
 * (nn/layer.h; mb <= 0 or mb >= n: the call is one micro-batch). Chunks
 * never straddle a micro-batch: micro-batch j (samples j*mb ..) has per_mb
 * chunks of CONV_CHUNK samples from its start (its last one shorter, and
 * the last micro-batch fewer). With one micro-batch they are the chunks of
 * CONV_CHUNK from sample 0. */
typedef struct {
    int n, mb;     /* samples, micro-batch (n if one)                    */
    int nmb;       /* micro-batches: ceil(n / mb) (0 if n is 0)           */
    int per_mb;    /* chunks of a whole micro-batch: ceil(mb / CONV_CHUNK) */
    int nch;       /* chunks in all                                       */
} ConvChunks;

static inline ConvChunks conv_chunks(int n, int mb)
{
    ConvChunks k;
    k.n = n > 0 ? n : 0;
    k.mb = mb <= 0 || mb >= k.n ? (k.n > 0 ? k.n : 1) : mb;
    k.nmb = (k.n + k.mb - 1) / k.mb;
    k.per_mb = (k.mb + CONV_CHUNK - 1) / CONV_CHUNK;
    const int last = k.n - (k.nmb - 1) * k.mb; /* the last micro-batch's samples */
    k.nch = k.nmb ? (k.nmb - 1) * k.per_mb + (last + CONV_CHUNK - 1) / CONV_CHUNK : 0;
    return k;
}

/* Samples [*s0, *s1) of chunk c (0 <= c < k->nch). */
static inline void conv_chunk_samples(const ConvChunks *k, int c, int *s0, int *s1)
{
    const int j = c / k->per_mb, end = (j + 1) * k->mb < k->n ? (j + 1) * k->mb : k->n;
    *s0 = j * k->mb + (c % k->per_mb) * CONV_CHUNK;
    *s1 = *s0 + CONV_CHUNK < end ? *s0 + CONV_CHUNK : end;
}

/* Adds the chunks' parts of one gradient element to dst (dst + j*gstride
 * for micro-batch j): part c at parts[c * stride]. One micro-batch: the
 * parts added to *dst one by one, in chunk order; several: each micro-batch's
 * parts summed from 0, in chunk order, then added once. */
static inline void conv_fold_parts(const ConvChunks *k, const float *parts, size_t stride, float *dst,
                                   size_t gstride)
{
    if (k->nmb == 1) {
        float acc = *dst;
        for (int c = 0; c < k->nch; c++) acc += parts[(size_t)c * stride];
        *dst = acc;
        return;
    }
    for (int j = 0; j < k->nmb; j++) {
        const int c1 = (j + 1) * k->per_mb < k->nch ? (j + 1) * k->per_mb : k->nch;
        float acc = 0.0f;
        for (int c = j * k->per_mb; c < c1; c++) acc += parts[(size_t)c * stride];
        dst[(size_t)j * gstride] += acc;
    }
}

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
