/* dropout2d.c - channel dropout (PyTorch's nn.Dropout2d): "dropout2d P".
 *
 * x and y are (n, C, H, W). In MODE_TRAIN each feature map (the H x W plane
 * of one channel of one sample) is kept with probability 1-p and scaled by
 * 1/(1-p), or zeroed whole; MODE_EVAL, and p = 0, are the identity.
 *   y[s,c,:,:] = keep(s,c) ? x[s,c,:,:] / (1-p) : 0;  dx = the same mask on dy.
 * keep(s,c) = rng_hash_uniform(key, s*C + c) >= p: a function of (key,
 * sample, channel) alone (s the sample's index in the whole batch: a part's
 * x starts at sample part->first, layer.h), as dropout's mask is of (key, element), so it is
 * recomputed in backward from l->key instead of being stored and does not
 * depend on the thread count.
 *
 * A flat input (H = W = 1) is refused. PyTorch's Dropout2d warns that a
 * 2-D (N, F) input is deprecated ("will result in an error in a future
 * release") and drops single values there (its noise has the input's shape
 * when there are no spatial dims: torch.nn.functional.dropout2d,
 * ATen's make_feature_noise); on an (N, C, 1, 1) map it drops single values
 * too. Both are `dropout`, which does exactly that (with the very masks
 * dropout2d would draw: its element index is s*C + c there). */
#include <string.h>

#include "nn/layer.h"

static Status dropout2d_parse(LayerSpec *s, const LayerArgs *a, Err *e)
{
    if (!layer_parse_float(a->val[0], &s->p) || !(s->p >= 0.0f && s->p < 1.0f))
        return err_set(e, ST_ERR_FORMAT, "dropout2d: '%s' is not a rate in [0, 1)", a->val[0]);
    return ST_OK;
}

static Status dropout2d_setup(Layer *l, Err *e)
{
    if (!(l->spec.p >= 0.0f && l->spec.p < 1.0f))
        return err_set(e, ST_ERR_ARG, "dropout2d rate must be in [0, 1), got %g", (double)l->spec.p);
    if (shape_is_flat(l->in))
        return err_set(e, ST_ERR_SHAPE,
                       "dropout2d drops whole feature maps and needs a CxHxW input, got a flat one (where "
                       "PyTorch's Dropout2d, deprecated there, drops single values); use dropout");
    l->out = l->in;
    return ST_OK;
}

static void dropout2d_init(Layer *l, Rng *r) { (void)l, (void)r; }

/* out = in * mask * scale over planes of hw floats (forward on x, backward
 * on dy). */
static void mask_planes(const Layer *l, int n, const float *in, float *out)
{
    const size_t planes = (size_t)n * (size_t)l->in.c, hw = (size_t)l->in.h * (size_t)l->in.w;
    const uint64_t first = l->part ? (uint64_t)l->part->first * (uint64_t)l->in.c : 0; /* x's first plane */
    const float p = l->spec.p, scale = 1.0f / (1.0f - p);
    for (size_t pl = 0; pl < planes; pl++) {
        const int keep = rng_hash_uniform(l->key, first + pl) >= p;
        const float *a = in + pl * hw;
        float *b = out + pl * hw;
        for (size_t j = 0; j < hw; j++) b[j] = keep ? a[j] * scale : 0.0f;
    }
}

static void dropout2d_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    if (mode != MODE_TRAIN || l->spec.p == 0.0f) {
        memcpy(y, x, (size_t)n * shape_numel(l->in) * sizeof *y);
        return;
    }
    l->key = key;
    mask_planes(l, n, x, y);
}

/* Only called after a MODE_TRAIN forward. */
static void dropout2d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    (void)x, (void)y;
    if (!dx) return;
    if (l->spec.p == 0.0f) memcpy(dx, dy, (size_t)n * shape_numel(l->in) * sizeof *dx);
    else mask_planes(l, n, dy, dx);
}

/* No tensors; no onnx hook: LAYER_DROPOUT, the identity at inference, is
 * left out of exports, and its rate is one of --dropout's and the
 * checkpoint's, in model-file order. */
const LayerOps dropout2d_ops = {
    .kind = "dropout2d", .usage = "dropout2d P", .nvalues = 1, .parse = dropout2d_parse, .flags = LAYER_DROPOUT,
    .setup = dropout2d_setup, .init = dropout2d_init, .forward = dropout2d_forward, .backward = dropout2d_backward,
};
