/* conv2d.c - 2-D convolution layer (PyTorch's nn.Conv2d): zero padding, stride,
 * square or rectangular kernel, bias; no dilation or groups.
 *
 * x is (n, C, H, W), W is [OC, C, KH, KW], b is [OC], y is (n, OC, OH, OW).
 * The math (per sample, dW summed in a fixed order) lives in kernels/conv.c;
 * this file checks shapes and initializes. With l->fuse_relu (set by
 * net_build when a relu follows) y = max(conv, 0) and backward masks dy;
 * with l->fuse_pool too, forward also writes the 2x2 maxpool that follows
 * the relu to l->pool_out, and backward takes that pool's output gradient
 * (see ConvFuse in kernels/conv.h). */
#include <limits.h>
#include <math.h>

#include "kernels/conv.h"
#include "nn/layer.h"

static ConvGeom conv2d_geom(const Layer *l)
{
    const LayerSpec *s = &l->spec;
    int st = s->stride > 0 ? s->stride : 1;
    ConvGeom g = {l->in.c, l->in.h, l->in.w, s->kh, s->kw, st, st, s->pad, s->pad, 0, 0};
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    return g;
}

static Status conv2d_setup(Layer *l, Err *e)
{
    const LayerSpec *s = &l->spec;
    if (s->units < 1 || s->kh < 1 || s->kw < 1 || s->stride < 0 || s->pad < 0)
        return err_set(e, ST_ERR_ARG, "conv needs positive channels and kernel, stride >= 1, pad >= 0");
    ConvGeom g = conv2d_geom(l);
    long long hp = (long long)g.h + 2LL * g.ph, wp = (long long)g.w + 2LL * g.pw;
    if (hp < g.kh || wp < g.kw)
        return err_set(e, ST_ERR_SHAPE, "conv kernel %dx%d does not fit the padded input %lldx%lld", g.kh, g.kw,
                       hp, wp);
    long long K = (long long)g.c * g.kh * g.kw, P = (long long)g.oh * g.ow, OC = s->units;
    if (K * P > INT_MAX || OC * P > INT_MAX || K * OC > INT_MAX)
        return err_set(e, ST_ERR_SHAPE, "conv layer too large (%lld inputs per output, %lld outputs per channel)", K,
                       P);
    l->out = (Shape){s->units, g.oh, g.ow};
    l->nw = (size_t)(OC * K);
    l->nb = (size_t)OC;
    l->ws_per_sample = conv_ws_per_sample(&g, s->units);
    return ST_OK;
}

/* PyTorch's default for nn.Conv2d: kaiming_uniform(a=sqrt(5)) for W and the
 * same bound for b, both U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C*KH*KW. */
static void conv2d_init(Layer *l, Rng *r)
{
    float bound = 1.0f / sqrtf((float)(l->in.c * l->spec.kh * l->spec.kw));
    for (size_t i = 0; i < l->nw; i++) l->w[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
    for (size_t i = 0; i < l->nb; i++) l->b[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
}

static void conv2d_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)mode, (void)key;
    ConvGeom g = conv2d_geom(l);
    const ConvFuse f = {l->fuse_relu, l->fuse_relu && l->fuse_pool ? l->pool_out : NULL};
    conv_forward(&g, l->out.c, x, l->w, l->b, n, &f, y, l->ws);
}

static void conv2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    ConvGeom g = conv2d_geom(l);
    const ConvFuse f = {l->fuse_relu, l->fuse_relu && l->fuse_pool ? l->pool_out : NULL};
    conv_backward(&g, l->out.c, x, l->w, l->b, y, &f, dy, n, dx, l->dw, l->db, l->ws);
}

const LayerOps conv_ops = {"conv", conv2d_setup, conv2d_init, conv2d_forward, conv2d_backward};
