/* pool.c - 2-D max and average pooling (PyTorch's MaxPool2d / AvgPool2d).
 *
 * x is (n, C, H, W), y is (n, C, OH, OW) with OH = (H - KH) / S + 1 (floor
 * mode, no padding); stride S defaults to the window. maxpool's backward
 * routes dy to the first maximum of each window, recomputed from x (the shared
 * scratch is not kept between calls); avgpool spreads dy / (KH*KW). */
#include "kernels/pool.h"
#include "nn/layer.h"

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

const LayerOps maxpool_ops = {"maxpool", pool_setup, pool_init, maxpool_forward, maxpool_backward};
const LayerOps avgpool_ops = {"avgpool", pool_setup, pool_init, avgpool_forward, avgpool_backward};
