/* tensor.h - the per-sample shape of an activation: channels x height x width.
 *
 * Activations are stored NCHW (PyTorch's layout): sample-major, then channel,
 * row, column. A 1-D feature vector of length F has shape {F, 1, 1}. There is
 * no tensor library: layers take raw float pointers and these sizes. */
#ifndef FMNIST_TENSOR_H
#define FMNIST_TENSOR_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    int c, h, w;
} Shape;

static inline size_t shape_numel(Shape s) { return (size_t)s.c * (size_t)s.h * (size_t)s.w; }
static inline int shape_is_flat(Shape s) { return s.h == 1 && s.w == 1; }

/* "32x14x14", or "784" for a flat shape. Returns buf. */
static inline const char *shape_str(Shape s, char *buf, size_t len)
{
    if (shape_is_flat(s)) snprintf(buf, len, "%d", s.c);
    else snprintf(buf, len, "%dx%dx%d", s.c, s.h, s.w);
    return buf;
}

#endif
