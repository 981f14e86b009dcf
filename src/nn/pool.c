/* pool.c - 2-D max and average pooling (PyTorch's MaxPool2d / AvgPool2d).
 *
 * x is (n, C, H, W), y is (n, C, OH, OW) with OH = (H - KH) / S + 1 (floor
 * mode, no padding); stride S defaults to the window. maxpool's backward
 * routes dy to the first maximum of each window, recomputed from x (the shared
 * scratch is not kept between calls); avgpool spreads dy / (KH*KW). */
#include "kernels/pool.h"
#include "nn/layer.h"
#include "nn/onnx.h"

/* "maxpool K [stride=S]", "avgpool K [stride=S]" */
static Status pool_parse(LayerSpec *s, const LayerArgs *a, Err *e) { return layer_parse_window(s, a->val[0], 1, a, e); }

/* Stride 0 means "the window": KH down, KW across. */
static ConvGeom pool_geom(const Layer *l)
{
    const LayerSpec *s = &l->spec;
    ConvGeom g = {l->in.c, l->in.h, l->in.w, s->kh, s->kw, s->stride > 0 ? s->stride : s->kh,
                  s->stride > 0 ? s->stride : s->kw, 0, 0, 0, 0};
    g.oh = (g.h - g.kh) / g.sh + 1;
    g.ow = (g.w - g.kw) / g.sw + 1;
    return g;
}

static Status pool_setup(Layer *l, Err *e)
{
    const LayerSpec *s = &l->spec;
    if (s->kh < 1 || s->kw < 1 || s->stride < 0)
        return err_set(e, ST_ERR_ARG, "%s needs a window of at least 1x1 and stride >= 1", s->kind);
    if (s->pad != 0) return err_set(e, ST_ERR_ARG, "%s has no padding", s->kind);
    if (l->in.h < s->kh || l->in.w < s->kw)
        return err_set(e, ST_ERR_SHAPE, "%s window %dx%d does not fit the input %dx%d", s->kind, s->kh, s->kw,
                       l->in.h, l->in.w);
    ConvGeom g = pool_geom(l);
    l->out = (Shape){g.c, g.oh, g.ow};
    l->nw = l->nb = 0;
    l->ws_per_sample = 0;
    return ST_OK;
}

/* A 2x2 stride-2 max pool may be computed by a conv + relu before it
 * (is_pool2x2, layer.h). */
static Status maxpool_setup(Layer *l, Err *e)
{
    Status st = pool_setup(l, e);
    const ConvGeom g = pool_geom(l);
    l->is_pool2x2 = !st && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2;
    return st;
}

static void pool_init(Layer *l, Rng *r) { (void)l, (void)r; }

static void maxpool_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)mode, (void)key;
    ConvGeom g = pool_geom(l);
    pool_max_forward(&g, x, n, y);
}

static void maxpool_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)y;
    if (!dx) return;
    ConvGeom g = pool_geom(l);
    pool_max_backward(&g, x, dy, n, dx);
}

static void avgpool_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)mode, (void)key;
    ConvGeom g = pool_geom(l);
    pool_avg_forward(&g, x, n, y);
}

static void avgpool_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)x, (void)y;
    if (!dx) return;
    ConvGeom g = pool_geom(l);
    pool_avg_backward(&g, dy, n, dx);
}

/* Floor mode and no padding, as nn.MaxPool2d / nn.AvgPool2d by default. */
static void pool_onnx(const Layer *l, OnnxOut *o, const char *op)
{
    const ConvGeom g = pool_geom(l);
    const int64_t k[2] = {g.kh, g.kw}, st[2] = {g.sh, g.sw};
    char name[32];
    o->node(o, op, onnx_name(name, sizeof name, l, l->ops->kind), &o->in, 1, o->out);
    o->attr_ints(o, "kernel_shape", k, 2);
    o->attr_ints(o, "strides", st, 2);
}

static void maxpool_onnx(const Layer *l, OnnxOut *o) { pool_onnx(l, o, "MaxPool"); }
static void avgpool_onnx(const Layer *l, OnnxOut *o) { pool_onnx(l, o, "AveragePool"); }

const LayerOps maxpool_ops = {
    .kind = "maxpool", .usage = "maxpool K [stride=S]", .nvalues = 1, .keys = {"stride", NULL}, .parse = pool_parse,
    .setup = maxpool_setup, .init = pool_init, .forward = maxpool_forward, .backward = maxpool_backward,
    .onnx = maxpool_onnx,
};
const LayerOps avgpool_ops = {
    .kind = "avgpool", .usage = "avgpool K [stride=S]", .nvalues = 1, .keys = {"stride", NULL}, .parse = pool_parse,
    .setup = pool_setup, .init = pool_init, .forward = avgpool_forward, .backward = avgpool_backward,
    .onnx = avgpool_onnx,
};
