/* activation.c - the parameter-free element-wise layers: relu, flatten, dropout.
 *
 * relu:    y = max(x, 0);            dx = dy * [x > 0]
 * flatten: (c,h,w) -> (c*h*w,1,1);   a copy, NCHW order kept (as torch.flatten);
 *          in a network it never runs (LAYER_RESHAPE: the same floats)
 * dropout: inverted dropout with rate p: in MODE_TRAIN each element is kept
 *          with probability 1-p and scaled by 1/(1-p); MODE_EVAL is identity.
 *          The mask of element i is rng_hash_uniform(key, i) >= p, so it is
 *          recomputed in backward from l->key instead of being stored, and it
 *          does not depend on the thread count. i counts from the whole
 *          batch's first element (layer.h: a part's x starts at sample
 *          part->first), so a sample's mask does not depend on the rank. */
#include "kernels/elementwise.h"
#include "nn/layer.h"
#include "nn/onnx.h"

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

static void relu_onnx(const Layer *l, OnnxOut *o)
{
    char name[32];
    o->node(o, "Relu", onnx_name(name, sizeof name, l, "relu"), &o->in, 1, o->out);
}

const LayerOps relu_ops = {
    .kind = "relu", .usage = "relu", .flags = LAYER_RELU, .setup = same_shape_setup, .init = no_init,
    .forward = relu_forward, .backward = relu_backward, .onnx = relu_onnx,
};

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

static void flatten_onnx(const Layer *l, OnnxOut *o)
{
    char name[32];
    o->node(o, "Flatten", onnx_name(name, sizeof name, l, "flatten"), &o->in, 1, o->out);
    o->attr_int(o, "axis", 1);
    o->rank = 2;
}

const LayerOps flatten_ops = {
    .kind = "flatten", .usage = "flatten", .flags = LAYER_RESHAPE, .setup = flatten_setup, .init = no_init,
    .forward = copy_forward, .backward = copy_backward, .onnx = flatten_onnx,
};

static Status dropout_parse(LayerSpec *s, const LayerArgs *a, Err *e)
{
    if (!layer_parse_float(a->val[0], &s->p) || !(s->p >= 0.0f && s->p < 1.0f))
        return err_set(e, ST_ERR_FORMAT, "dropout: '%s' is not a rate in [0, 1)", a->val[0]);
    return ST_OK;
}

static Status dropout_setup(Layer *l, Err *e)
{
    if (!(l->spec.p >= 0.0f && l->spec.p < 1.0f))
        return err_set(e, ST_ERR_ARG, "dropout rate must be in [0, 1), got %g", (double)l->spec.p);
    l->out = l->in;
    return ST_OK;
}

/* The index in the whole batch of x's first element (0 without a part). */
static uint64_t first_element(const Layer *l)
{
    return l->part ? (uint64_t)l->part->first * (uint64_t)shape_numel(l->in) : 0;
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
    ew_dropout(total, x, y, key, first_element(l), p, scale);
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
    ew_dropout(total, dy, dx, l->key, first_element(l), p, scale);
}

/* No onnx hook: LAYER_DROPOUT, the identity at inference, is left out. */
const LayerOps dropout_ops = {
    .kind = "dropout", .usage = "dropout P", .nvalues = 1, .parse = dropout_parse, .flags = LAYER_DROPOUT,
    .setup = dropout_setup, .init = no_init, .forward = dropout_forward, .backward = dropout_backward,
};
