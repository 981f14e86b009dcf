/* batchnorm.c - batch normalization over channels: PyTorch's BatchNorm1d on a
 * flat (n, C) input and BatchNorm2d on (n, C, H, W).
 *
 * Per channel c, over the m = n*H*W values of the batch:
 *   MODE_TRAIN: mean and biased variance var of the batch;
 *               y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c];
 *               running_mean = (1 - momentum) * running_mean + momentum * mean,
 *               running_var  = (1 - momentum) * running_var + momentum * var * m/(m-1)
 *               (the unbiased variance), num_batches_tracked += 1.
 *   MODE_EVAL (and MODE_MC): the same y with running_mean and running_var;
 *               nothing is updated.
 * A batch with m = 1 (PyTorch refuses one in training) gives y = bias and
 * leaves the running statistics and the count as they are (its unbiased
 * variance does not exist).
 *
 * weight and bias are parameters (initialized to 1 and 0); running_mean (0),
 * running_var (1) and num_batches_tracked (0, a float count: exact up to
 * 2^24) are buffers: l->buf holds them in that order, in the parameter arena,
 * so checkpoints keep them, while the optimizer skips them (net.h).
 *
 * Every sum is taken in double, in an order fixed by the code (below), so
 * results do not depend on the thread count. Backward recomputes the batch's
 * mean and variance from x (the scratch is shared by the layers, so nothing
 * survives from forward to backward) with the same code, so it sees the very
 * values forward used; it is the gradient through the batch statistics:
 *   dx = weight * inv / m * (m*dy - sum(dy) - xhat * sum(dy * xhat)),
 *   dweight += sum(dy * xhat), dbias += sum(dy),  xhat = (x - mean) * inv. */
#include "kernels/threads.h" /* PAR_MIN: from which the channels are split over threads */
#include "nn/layer.h"
#include "nn/onnx.h"

#include <math.h>
#include <string.h>

/* "batchnorm [eps=E] [momentum=M]": PyTorch's defaults 1e-5 and 0.1 */
static Status bn_parse(LayerSpec *s, const LayerArgs *a, Err *e)
{
    s->eps = 1e-5;
    s->momentum = 0.1;
    for (int j = 0; j < a->nopt; j++) {
        double v;
        const int is_eps = !strcmp(a->key[j], "eps");
        if (!layer_parse_double(a->kval[j], &v) || (is_eps ? !(v > 0) : !(v >= 0 && v <= 1)))
            return err_set(e, ST_ERR_FORMAT,
                           "batchnorm: %s=%s is not a number in range (eps > 0, momentum from 0 to 1)", a->key[j],
                           a->kval[j]);
        if (is_eps) s->eps = v;
        else s->momentum = v;
    }
    return ST_OK;
}

static Status bn_setup(Layer *l, Err *e)
{
    const LayerSpec *s = &l->spec;
    if (!(s->eps > 0.0 && s->eps <= 1e30))
        return err_set(e, ST_ERR_ARG, "batchnorm: eps must be a positive number, got %g", s->eps);
    if (!(s->momentum >= 0.0 && s->momentum <= 1.0))
        return err_set(e, ST_ERR_ARG, "batchnorm: momentum must be in [0, 1], got %g", s->momentum);
    l->out = l->in;
    l->nw = (size_t)l->in.c;
    l->nb = (size_t)l->in.c;
    l->nbuf = 2 * (size_t)l->in.c + 1;
    l->ws_per_sample = shape_numel(l->in); /* dy through a folded relu */
    return ST_OK;
}

static void bn_init(Layer *l, Rng *r)
{
    (void)r;
    size_t c = (size_t)l->in.c;
    for (size_t i = 0; i < c; i++) {
        l->w[i] = 1.0f;
        l->b[i] = 0.0f;
        l->buf[i] = 0.0f;     /* running_mean */
        l->buf[c + i] = 1.0f; /* running_var  */
    }
    l->buf[2 * c] = 0.0f;     /* num_batches_tracked */
}

/* Two ways through the values, both in an order fixed by the code alone (so
 * any thread count gives the same bits; a channel, or a block of channels,
 * belongs to one thread):
 *  - long rows (H*W >= LONG_ROW): one channel at a time; each sum is kept in
 *    LANES partial sums, position j of every row going to lane j % LANES,
 *    and the lanes are added in order at the end (independent chains that
 *    vectorize, where one running sum would wait on each add);
 *  - short rows (a flat input has rows of 1): blocks of up to CB channels,
 *    one running sum per channel over samples then positions; the block's
 *    loops run over neighbouring channels (inlined once with hw = 1, so that
 *    a flat input's loops vectorize across channels).
 * Backward sums the variance exactly as forward does, so it sees the very
 * values forward used. */
#define LONG_ROW 32
#define LANES 16
#define CB 32
#define ALWAYS_INLINE static inline __attribute__((always_inline))

static double lanes_total(const double *v)
{
    double s = 0.0;
    for (int k = 0; k < LANES; k++) s += v[k];
    return s;
}

/* Mean and biased variance of channel c (long rows). */
static void channel_stats(const float *x, int n, int nc, size_t hw, int c, double *mean, double *var)
{
    const size_t m = (size_t)n * hw;
    double acc[LANES] = {0};
    for (int i = 0; i < n; i++) {
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c) * hw;
        size_t j = 0;
        for (; j + LANES <= hw; j += LANES)
            for (int k = 0; k < LANES; k++) acc[k] += p[j + (size_t)k];
        for (int k = 0; j < hw; j++, k++) acc[k] += p[j];
    }
    double mu = lanes_total(acc) / (double)m;
    for (int k = 0; k < LANES; k++) acc[k] = 0.0;
    for (int i = 0; i < n; i++) { /* sum((x - mean)^2): two passes, no cancellation */
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c) * hw;
        size_t j = 0;
        for (; j + LANES <= hw; j += LANES)
            for (int k = 0; k < LANES; k++) {
                double d = p[j + (size_t)k] - mu;
                acc[k] += d * d;
            }
        for (int k = 0; j < hw; j++, k++) {
            double d = p[j] - mu;
            acc[k] += d * d;
        }
    }
    *mean = mu;
    *var = lanes_total(acc) / (double)m;
}

/* The same for channels c0..c0+cb (short rows). */
ALWAYS_INLINE void block_stats(const float *x, int n, int nc, size_t hw, int c0, int cb, double *mean, double *var)
{
    const size_t m = (size_t)n * hw;
    for (int k = 0; k < cb; k++) mean[k] = var[k] = 0.0;
    for (int i = 0; i < n; i++) {
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) mean[k] += p[(size_t)k * hw + j];
    }
    for (int k = 0; k < cb; k++) mean[k] /= (double)m;
    for (int i = 0; i < n; i++) {
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) {
                double d = p[(size_t)k * hw + j] - mean[k];
                var[k] += d * d;
            }
    }
    for (int k = 0; k < cb; k++) var[k] /= (double)m;
}

/* y of channels c0..c0+cb from each channel's mean, scale (weight/std) and
 * bias: y = (x - mean) * scale + bias in float (it vectorizes; a constant
 * channel still gives exactly the bias), then max(y, 0) if relu (a relu
 * layer folded in, see layer.h). */
ALWAYS_INLINE void block_normalize(const float *x, float *y, int n, int nc, size_t hw, int c0, int cb,
                                   const double *mean, const double *scale, const float *bias, int relu)
{
    float sc[CB], mu[CB];
    for (int k = 0; k < cb; k++) {
        sc[k] = (float)scale[k];
        mu[k] = (float)mean[k];
    }
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        const float *p = x + off;
        float *q = y + off;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) {
                size_t t = (size_t)k * hw + j;
                const float v = (p[t] - mu[k]) * sc[k] + bias[k];
                q[t] = relu ? (v > 0.0f ? v : 0.0f) : v;
            }
    }
}

/* Forward of channels c0..c0+cb: statistics (train) or the running ones. */
ALWAYS_INLINE void forward_block(Layer *l, const float *x, float *y, int n, size_t hw, int train, int update, int c0,
                                 int cb)
{
    const int nc = l->in.c;
    const size_t m = (size_t)n * hw;
    const double eps = l->spec.eps, mom = l->spec.momentum;
    float *rmean = l->buf, *rvar = l->buf + nc;
    double mean[CB], var[CB], scale[CB];
    if (!train) {
        for (int k = 0; k < cb; k++) mean[k] = rmean[c0 + k], var[k] = rvar[c0 + k];
    } else if (hw >= LONG_ROW) {
        for (int k = 0; k < cb; k++) channel_stats(x, n, nc, hw, c0 + k, &mean[k], &var[k]);
    } else {
        block_stats(x, n, nc, hw, c0, cb, mean, var);
    }
    for (int k = 0; k < cb; k++) {
        int c = c0 + k;
        if (update) {
            rmean[c] = (float)((1.0 - mom) * rmean[c] + mom * mean[k]);
            rvar[c] = (float)((1.0 - mom) * rvar[c] + mom * var[k] * ((double)m / (double)(m - 1)));
        }
        scale[k] = (double)l->w[c] / sqrt(var[k] + eps);
    }
    if (l->fuse_relu) block_normalize(x, y, n, nc, hw, c0, cb, mean, scale, l->b + c0, 1);
    else block_normalize(x, y, n, nc, hw, c0, cb, mean, scale, l->b + c0, 0);
}

/* Channels per block: 1 for long rows, CB for short ones. */
static int block_size(size_t hw) { return hw >= LONG_ROW ? 1 : CB; }

static void bn_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)key;
    const int nc = l->in.c;
    const size_t hw = (size_t)l->in.h * (size_t)l->in.w, m = (size_t)n * hw;
    const int train = mode == MODE_TRAIN, update = train && m > 1, bs = block_size(hw);
    const int nblocks = (nc + bs - 1) / bs;
#pragma omp parallel for schedule(static) if (m * (size_t)nc >= PAR_MIN)
    for (int blk = 0; blk < nblocks; blk++) {
        const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
        if (hw == 1) forward_block(l, x, y, n, 1, train, update, c0, cb);
        else forward_block(l, x, y, n, hw, train, update, c0, cb);
    }
    if (update) l->buf[2 * (size_t)nc] += 1.0f; /* num_batches_tracked */
}

/* sum(dy) and sum(dy * (x - mean)) of channel c (long rows). */
static void channel_grad_sums(const float *x, const float *dy, int n, int nc, size_t hw, int c, double mean,
                              double *sdy, double *sdyd)
{
    double a[LANES] = {0}, b[LANES] = {0};
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * (size_t)nc + (size_t)c) * hw;
        const float *p = x + off, *g = dy + off;
        size_t j = 0;
        for (; j + LANES <= hw; j += LANES)
            for (int k = 0; k < LANES; k++) {
                a[k] += g[j + (size_t)k];
                b[k] += g[j + (size_t)k] * (p[j + (size_t)k] - mean);
            }
        for (int k = 0; j < hw; j++, k++) {
            a[k] += g[j];
            b[k] += g[j] * (p[j] - mean);
        }
    }
    *sdy = lanes_total(a);
    *sdyd = lanes_total(b);
}

/* The same for channels c0..c0+cb (short rows). */
ALWAYS_INLINE void block_grad_sums(const float *x, const float *dy, int n, int nc, size_t hw, int c0, int cb,
                                   const double *mean, double *sdy, double *sdyd)
{
    for (int k = 0; k < cb; k++) sdy[k] = sdyd[k] = 0.0;
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        const float *p = x + off, *g = dy + off;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) {
                size_t t = (size_t)k * hw + j;
                sdy[k] += g[t];
                sdyd[k] += g[t] * (p[t] - mean[k]);
            }
    }
}

/* Backward of channels c0..c0+cb. */
ALWAYS_INLINE void backward_block(Layer *l, const float *x, const float *dy, float *dx, int n, size_t hw, int c0,
                                  int cb)
{
    const int nc = l->in.c;
    const size_t m = (size_t)n * hw;
    double mean[CB], var[CB], sdy[CB], sdyd[CB]; /* sum(dy), sum(dy * (x - mean)) */
    if (hw >= LONG_ROW) {
        for (int k = 0; k < cb; k++) {
            channel_stats(x, n, nc, hw, c0 + k, &mean[k], &var[k]);
            channel_grad_sums(x, dy, n, nc, hw, c0 + k, mean[k], &sdy[k], &sdyd[k]);
        }
    } else {
        block_stats(x, n, nc, hw, c0, cb, mean, var);
        block_grad_sums(x, dy, n, nc, hw, c0, cb, mean, sdy, sdyd);
    }
    /* dx = kk * (dy - sum(dy)/m - (x - mean) * inv^2 * sum(dy*(x - mean))/m), kk = weight*inv */
    double a[CB], b[CB], kk[CB];
    for (int k = 0; k < cb; k++) {
        double inv = 1.0 / sqrt(var[k] + l->spec.eps);
        l->dw[c0 + k] += (float)(sdyd[k] * inv);
        l->db[c0 + k] += (float)sdy[k];
        kk[k] = (double)l->w[c0 + k] * inv;
        a[k] = sdy[k] / (double)m;
        b[k] = inv * inv * sdyd[k] / (double)m;
    }
    if (!dx) return;
    /* the same in float (it vectorizes) */
    float kf[CB], af[CB], bf[CB], mf[CB];
    for (int k = 0; k < cb; k++) kf[k] = (float)kk[k], af[k] = (float)a[k], bf[k] = (float)b[k], mf[k] = (float)mean[k];
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        const float *p = x + off, *g = dy + off;
        float *o = dx + off;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) {
                size_t t = (size_t)k * hw + j;
                o[t] = kf[k] * (g[t] - af[k] - (p[t] - mf[k]) * bf[k]);
            }
    }
}

/* Only called after a MODE_TRAIN forward on the same x. */
static void bn_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    float *gm = l->fuse_relu ? l->ws : NULL; /* a folded relu: dy * [y > 0], in the scratch */
    const int nc = l->in.c;
    const size_t hw = (size_t)l->in.h * (size_t)l->in.w;
    const int bs = block_size(hw), nblocks = (nc + bs - 1) / bs;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
    for (int blk = 0; blk < nblocks; blk++) {
        const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
        const float *g = dy;
        if (gm) { /* this block's channels only: no other thread reads them */
            for (int i = 0; i < n; i++) {
                const size_t off = ((size_t)i * (size_t)nc + (size_t)c0) * hw, len = (size_t)cb * hw;
                for (size_t t = 0; t < len; t++) gm[off + t] = y[off + t] > 0.0f ? dy[off + t] : 0.0f;
            }
            g = gm;
        }
        if (hw == 1) backward_block(l, x, g, dx, n, 1, c0, cb);
        else backward_block(l, x, g, dx, n, hw, c0, cb);
    }
}

/* weight [C] (a per-channel scale, grouped with the biases: not decayed
 * unless --decay-bias), bias [C]; buffers running_mean [C], running_var [C],
 * num_batches_tracked [] (a 0-d tensor). */
static int bn_tensors(const Layer *l, LayerTensor *t)
{
    const int c = l->in.c;
    t[0] = (LayerTensor){.name = "weight", .ndim = 1, .dims = {c}, .is_bias = 1};
    t[1] = (LayerTensor){.name = "bias", .ndim = 1, .dims = {c}, .is_bias = 1};
    t[2] = (LayerTensor){.name = "running_mean", .ndim = 1, .dims = {c}, .is_buffer = 1};
    t[3] = (LayerTensor){.name = "running_var", .ndim = 1, .dims = {c}, .is_buffer = 1};
    t[4] = (LayerTensor){.name = "num_batches_tracked", .ndim = 0, .is_buffer = 1};
    return 5;
}

/* The inference form, on (N,C) or (N,C,H,W): the running statistics; ONNX's
 * momentum weighs the old running value (1 - PyTorch's momentum). */
static void bn_onnx(const Layer *l, OnnxOut *o)
{
    char name[32], w[32], b[32], rm[40], rv[40];
    const char *in[5] = {o->in, onnx_name(w, sizeof w, l, "weight"), onnx_name(b, sizeof b, l, "bias"),
                         onnx_name(rm, sizeof rm, l, "running_mean"), onnx_name(rv, sizeof rv, l, "running_var")};
    o->node(o, "BatchNormalization", onnx_name(name, sizeof name, l, "batchnorm"), in, 5, o->out);
    o->attr_float(o, "epsilon", (float)l->spec.eps);
    o->attr_float(o, "momentum", (float)(1.0 - l->spec.momentum));
}

const LayerOps batchnorm_ops = {
    .kind = "batchnorm", .usage = "batchnorm [eps=E] [momentum=M]", .keys = {"eps", "momentum", NULL},
    .parse = bn_parse, .flags = LAYER_FOLDS_RELU, .setup = bn_setup, .init = bn_init, .forward = bn_forward,
    .backward = bn_backward, .tensors = bn_tensors, .onnx = bn_onnx,
};
