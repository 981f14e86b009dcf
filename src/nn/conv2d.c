/* conv2d.c - 2-D convolution layer (PyTorch's nn.Conv2d): zero padding, stride,
 * square or rectangular kernel, bias; no dilation or groups.
 *
 * x is (n, C, H, W), W is [OC, C, KH, KW], b is [OC], y is (n, OC, OH, OW).
 * The math (per sample, dW summed in a fixed order) lives in kernels/conv.c;
 * this file parses, checks shapes and initializes. With l->fuse_relu (set by
 * net_plan_fusion when a relu follows) y = max(conv, 0) and backward masks dy;
 * with l->fuse_pool too, forward also writes the 2x2 maxpool that follows
 * the relu to l->pool_out, and backward takes that pool's output gradient
 * (see ConvFuse in kernels/conv_geom.h); with pool_recompute as well, y is NULL
 * both ways (the kernel recomputes it, layer.h). */
#include <assert.h>
#include <limits.h>
#include <math.h>

#include "kernels/conv.h"
#include "nn/layer.h"
#include "nn/onnx.h"

/* "conv OC K [stride=S] [pad=P]" */
static Status conv2d_parse(LayerSpec *s, const LayerArgs *a, Err *e)
{
    if (!layer_parse_int(a->val[0], 1, 1 << 20, &s->units))
        return err_set(e, ST_ERR_FORMAT, "conv: '%s' is not a number of output channels from 1 to 1048576", a->val[0]);
    return layer_parse_window(s, a->val[1], 0, a, e);
}

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
    l->pool_recompute = conv_recomputes(&g);
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
    assert(y || (l->fuse_pool && l->pool_recompute)); /* only then is y not stored */
    ConvGeom g = conv2d_geom(l);
    const ConvFuse f = {l->fuse_relu, l->fuse_relu && l->fuse_pool ? l->pool_out : NULL};
    conv_forward(l->math, &g, l->out.c, x, l->w, l->b, n, &f, y, l->ws);
}

static void conv2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    ConvGeom g = conv2d_geom(l);
    /* y == NULL (pool_recompute): the kernel recomputes y from x */
    assert(y || (l->fuse_pool && l->pool_recompute));
    const ConvFuse f = {l->fuse_relu, l->fuse_relu && l->fuse_pool ? l->pool_out : NULL};
    const int mb = l->part ? l->part->mb : 0; /* 0: the call is one micro-batch */
    const size_t gstride = l->part ? l->part->gstride : 0;
    conv_backward(l->math, &g, l->out.c, x, l->w, l->b, y, &f, dy, n, dx, l->dw, l->db, mb, gstride, l->ws);
}

/* weight [OC, C, KH, KW], bias [OC] */
static int conv2d_tensors(const Layer *l, LayerTensor *t)
{
    t[0] = (LayerTensor){.name = "weight", .ndim = 4, .dims = {l->out.c, l->in.c, l->spec.kh, l->spec.kw}};
    t[1] = (LayerTensor){.name = "bias", .ndim = 1, .dims = {l->out.c}, .is_bias = 1};
    return 2;
}

static void conv2d_onnx(const Layer *l, OnnxOut *o)
{
    const ConvGeom g = conv2d_geom(l);
    const int64_t k[2] = {g.kh, g.kw}, st[2] = {g.sh, g.sw};
    const int64_t pads[4] = {g.ph, g.pw, g.ph, g.pw}; /* [h_begin, w_begin, h_end, w_end] */
    char name[32], w[32], b[32];
    const char *in[3] = {o->in, onnx_name(w, sizeof w, l, "weight"), onnx_name(b, sizeof b, l, "bias")};
    o->node(o, "Conv", onnx_name(name, sizeof name, l, "conv"), in, 3, o->out);
    o->attr_ints(o, "kernel_shape", k, 2);
    o->attr_ints(o, "strides", st, 2);
    o->attr_ints(o, "pads", pads, 4);
}

const LayerOps conv_ops = {
    .kind = "conv", .usage = "conv OC K [stride=S] [pad=P]", .nvalues = 2, .keys = {"stride", "pad", NULL},
    .parse = conv2d_parse, .flags = LAYER_FOLDS_RELU | LAYER_FOLDS_POOL, .setup = conv2d_setup,
    .init = conv2d_init, .forward = conv2d_forward, .backward = conv2d_backward, .tensors = conv2d_tensors,
    .onnx = conv2d_onnx,
};
