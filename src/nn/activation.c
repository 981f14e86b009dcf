/* activation.c - the parameter-free element-wise layers: relu, flatten, dropout.
 *
 * relu:    y = max(x, 0);            dx = dy * [x > 0]
 * flatten: (c,h,w) -> (c*h*w,1,1);   a copy, NCHW order kept (as torch.flatten)
 * dropout: inverted dropout with rate p: in MODE_TRAIN each element is kept
 *          with probability 1-p and scaled by 1/(1-p); MODE_EVAL is identity.
 *          The mask of element i is rng_hash_uniform(key, i) >= p, so it is
 *          recomputed in backward from l->key instead of being stored, and it
 *          does not depend on the thread count. */
#include "kernels/elementwise.h"
#include "nn/layer.h"

#include <string.h>

static Status same_shape_setup(Layer *l, Err *e)
{
    (void)e;
    l->out = l->in;
    return ST_OK;
}

static void no_init(Layer *l, Rng *r) { (void)l, (void)r; }

static void relu_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)mode, (void)key;
    ew_relu((size_t)n * shape_numel(l->in), x, y);
}

static void relu_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)y;
    if (!dx) return;
    ew_relu_backward((size_t)n * shape_numel(l->in), x, dy, dx);
}

const LayerOps relu_ops = {"relu", same_shape_setup, no_init, relu_forward, relu_backward};

static Status flatten_setup(Layer *l, Err *e)
{
    size_t numel = shape_numel(l->in);
    if (numel > (size_t)1 << 30) return err_set(e, ST_ERR_SHAPE, "flatten: input of %zu values is too large", numel);
    l->out = (Shape){(int)numel, 1, 1};
    return ST_OK;
}

static void copy_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)mode, (void)key;
    memcpy(y, x, (size_t)n * shape_numel(l->in) * sizeof *y);
}

static void copy_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)x, (void)y;
    if (dx) memcpy(dx, dy, (size_t)n * shape_numel(l->in) * sizeof *dx);
}

const LayerOps flatten_ops = {"flatten", flatten_setup, no_init, copy_forward, copy_backward};

static Status dropout_setup(Layer *l, Err *e)
{
    if (!(l->spec.p >= 0.0f && l->spec.p < 1.0f))
        return err_set(e, ST_ERR_ARG, "dropout rate must be in [0, 1), got %g", (double)l->spec.p);
    l->out = l->in;
    return ST_OK;
}

static void dropout_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    size_t total = (size_t)n * shape_numel(l->in);
    float p = l->spec.p;
    if (mode != MODE_TRAIN || p == 0.0f) {
        memcpy(y, x, total * sizeof *y);
        return;
    }
    l->key = key;
    float scale = 1.0f / (1.0f - p);
    ew_dropout(total, x, y, key, p, scale);
}

/* Backward is only called after a MODE_TRAIN forward. */
static void dropout_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)x, (void)y;
    if (!dx) return;
    size_t total = (size_t)n * shape_numel(l->in);
    float p = l->spec.p;
    if (p == 0.0f) {
        memcpy(dx, dy, total * sizeof *dx);
        return;
    }
    float scale = 1.0f / (1.0f - p);
    ew_dropout(total, dy, dx, l->key, p, scale);
}

const LayerOps dropout_ops = {"dropout", dropout_setup, no_init, dropout_forward, dropout_backward};
