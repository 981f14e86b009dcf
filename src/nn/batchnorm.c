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
#include "util/team.h"

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
    /* dy through a folded relu, then the micro-batch path's doubles
     * (micro_scratch: 4C + 2C*(k + K) <= 8C per sample, and 1 to align) */
    l->ws_per_sample = shape_numel(l->in) + 16 * (size_t)l->in.c + 2;
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

/* The sum of channel c's values over samples [s0, s1), from 0 (long rows). */
static double channel_sum(const float *x, int s0, int s1, int nc, size_t hw, int c)
{
    double acc[LANES] = {0};
    for (int i = s0; i < s1; i++) {
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c) * hw;
        size_t j = 0;
        for (; j + LANES <= hw; j += LANES)
            for (int k = 0; k < LANES; k++) acc[k] += p[j + (size_t)k];
        for (int k = 0; j < hw; j++, k++) acc[k] += p[j];
    }
    return lanes_total(acc);
}

/* sum((x - mu)^2) of channel c over samples [s0, s1), from 0 (long rows). */
static double channel_sqdev(const float *x, int s0, int s1, int nc, size_t hw, int c, double mu)
{
    double acc[LANES] = {0};
    for (int i = s0; i < s1; i++) {
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
    return lanes_total(acc);
}

/* Mean and biased variance of channel c (long rows): two passes, no
 * cancellation. */
static void channel_stats(const float *x, int n, int nc, size_t hw, int c, double *mean, double *var)
{
    const size_t m = (size_t)n * hw;
    const double mu = channel_sum(x, 0, n, nc, hw, c) / (double)m;
    *mean = mu;
    *var = channel_sqdev(x, 0, n, nc, hw, c, mu) / (double)m;
}

/* The same sums for channels c0..c0+cb (short rows), over samples [s0, s1),
 * each from 0: sum[k] of x, sq[k] of (x - mean[k])^2. */
ALWAYS_INLINE void block_sum(const float *x, int s0, int s1, int nc, size_t hw, int c0, int cb, double *sum)
{
    for (int k = 0; k < cb; k++) sum[k] = 0.0;
    for (int i = s0; i < s1; i++) {
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) sum[k] += p[(size_t)k * hw + j];
    }
}

ALWAYS_INLINE void block_sqdev(const float *x, int s0, int s1, int nc, size_t hw, int c0, int cb, const double *mean,
                               double *sq)
{
    for (int k = 0; k < cb; k++) sq[k] = 0.0;
    for (int i = s0; i < s1; i++) {
        const float *p = x + ((size_t)i * (size_t)nc + (size_t)c0) * hw;
        for (int k = 0; k < cb; k++)
            for (size_t j = 0; j < hw; j++) {
                double d = p[(size_t)k * hw + j] - mean[k];
                sq[k] += d * d;
            }
    }
}

/* Mean and biased variance of channels c0..c0+cb (short rows). */
ALWAYS_INLINE void block_stats(const float *x, int n, int nc, size_t hw, int c0, int cb, double *mean, double *var)
{
    const size_t m = (size_t)n * hw;
    block_sum(x, 0, n, nc, hw, c0, cb, mean);
    for (int k = 0; k < cb; k++) mean[k] /= (double)m;
    block_sqdev(x, 0, n, nc, hw, c0, cb, mean, var);
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

/* sum(dy) and sum(dy * (x - mean)) of channel c over samples [s0, s1), from
 * 0 (long rows). */
static void channel_grad_sums(const float *x, const float *dy, int s0, int s1, int nc, size_t hw, int c, double mean,
                              double *sdy, double *sdyd)
{
    double a[LANES] = {0}, b[LANES] = {0};
    for (int i = s0; i < s1; i++) {
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
ALWAYS_INLINE void block_grad_sums(const float *x, const float *dy, int s0, int s1, int nc, size_t hw, int c0, int cb,
                                   const double *mean, double *sdy, double *sdyd)
{
    for (int k = 0; k < cb; k++) sdy[k] = sdyd[k] = 0.0;
    for (int i = s0; i < s1; i++) {
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

/* dx of channels c0..c0+cb = kk * (dy - a - (x - mean) * b), in float (it
 * vectorizes). */
ALWAYS_INLINE void block_input_grad(const float *x, const float *dy, float *dx, int n, int nc, size_t hw, int c0,
                                    int cb, const double *mean, const double *kk, const double *a, const double *b)
{
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
            channel_grad_sums(x, dy, 0, n, nc, hw, c0 + k, mean[k], &sdy[k], &sdyd[k]);
        }
    } else {
        block_stats(x, n, nc, hw, c0, cb, mean, var);
        block_grad_sums(x, dy, 0, n, nc, hw, c0, cb, mean, sdy, sdyd);
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
    if (dx) block_input_grad(x, dy, dx, n, nc, hw, c0, cb, mean, kk, a, b);
}

/* ---- micro-batches (layer.h): the statistics of the whole batch ----------
 *
 * A call with a part that is not the whole batch in one micro-batch (a team,
 * or several micro-batches) normalizes with the statistics of the part's
 * whole batch: every sum over samples is taken per micro-batch, from 0, by
 * the very procedures above (restricted to its samples), and the
 * micro-batch sums of all ranks are added in micro-batch order as doubles
 * (team_fold_doubles). With one micro-batch this is the whole-batch code's
 * arithmetic exactly. Every rank takes part in the folds, one with no
 * samples (n == 0) too, and updates the running statistics the same way.
 * dweight and dbias are summed per micro-batch and added once to
 * dw + j*gstride, db + j*gstride, as every parameter gradient is. */

/* 1 if this call takes the micro-batch path. */
static int is_micro(const Layer *l, int n, int train)
{
    const BatchPart *p = l->part;
    return train && p && (p->team || p->mb < n);
}

/* The scratch of a micro-batch call, after the n * numel floats of the
 * folded relu's dy: doubles, nc = channels, k = the call's micro-batches,
 * K = the batch's (all ranks). bn_setup's ws_per_sample covers them when
 * K <= max_batch (the part's batch_n is at most the net's batch). */
typedef struct {
    double *mean, *var;  /* [nc]: the batch's statistics           */
    double *sum;         /* [2nc]: a fold's result                 */
    double *parts;       /* [k][2nc]: this call's micro-batch sums */
    double *scratch;     /* [K][2nc]: team_fold_doubles' gathering */
    int k, K;
} Micro;

static Micro micro_scratch(const Layer *l, int n)
{
    const BatchPart *p = l->part;
    const size_t nc = (size_t)l->in.c, skip = ((size_t)n * shape_numel(l->in) + 1) / 2; /* in doubles */
    Micro m;
    m.k = (n + p->mb - 1) / p->mb;
    m.K = p->team ? (p->batch_n + p->mb - 1) / p->mb : m.k;
    m.mean = (double *)(void *)l->ws + skip;
    m.var = m.mean + nc;
    m.sum = m.var + nc;
    m.parts = m.sum + 2 * nc;
    m.scratch = m.parts + (size_t)m.k * 2 * nc;
    return m;
}

enum { SUM_X, SUM_SQDEV, SUM_GRAD };

/* For each micro-batch j of the call and channel c = c0..c0+cb, from 0:
 *   SUM_X      parts[j*width + c] = the sum of x
 *   SUM_SQDEV  parts[j*width + c] = the sum of (x - mean[c])^2
 *   SUM_GRAD   parts[j*width + c] = the sum of dy,
 *              parts[j*width + nc + c] = the sum of dy * (x - mean[c]) */
ALWAYS_INLINE void block_micro_sums(const float *x, const float *dy, int n, int mb, int nc, size_t hw, int c0, int cb,
                                    const double *mean, int what, double *parts, size_t width)
{
    for (int s0 = 0, j = 0; s0 < n; s0 += mb, j++) {
        const int s1 = s0 + mb < n ? s0 + mb : n;
        double *pj = parts + (size_t)j * width;
        if (hw >= LONG_ROW) {
            for (int c = c0; c < c0 + cb; c++) {
                if (what == SUM_X) pj[c] = channel_sum(x, s0, s1, nc, hw, c);
                else if (what == SUM_SQDEV) pj[c] = channel_sqdev(x, s0, s1, nc, hw, c, mean[c]);
                else channel_grad_sums(x, dy, s0, s1, nc, hw, c, mean[c], &pj[c], &pj[(size_t)nc + (size_t)c]);
            }
        } else if (what == SUM_X) {
            block_sum(x, s0, s1, nc, hw, c0, cb, pj + c0);
        } else if (what == SUM_SQDEV) {
            block_sqdev(x, s0, s1, nc, hw, c0, cb, mean + c0, pj + c0);
        } else {
            block_grad_sums(x, dy, s0, s1, nc, hw, c0, cb, mean + c0, pj + c0, pj + nc + c0);
        }
    }
}

/* block_micro_sums over all channels, the blocks split over threads. */
static void micro_sums(const Layer *l, const float *x, const float *dy, int n, const double *mean, int what,
                       double *parts, size_t width)
{
    const int nc = l->in.c, mb = l->part->mb;
    const size_t hw = (size_t)l->in.h * (size_t)l->in.w;
    const int bs = block_size(hw), nblocks = (nc + bs - 1) / bs;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
    for (int blk = 0; blk < nblocks; blk++) {
        const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
        if (hw == 1) block_micro_sums(x, dy, n, mb, nc, 1, c0, cb, mean, what, parts, width);
        else block_micro_sums(x, dy, n, mb, nc, hw, c0, cb, mean, what, parts, width);
    }
}

/* The whole batch's mean and biased variance into m->mean, m->var (two
 * folds over the team). */
static void batch_stats(const Layer *l, const float *x, int n, Micro *m)
{
    const int nc = l->in.c;
    const double count = (double)((size_t)l->part->batch_n * (size_t)l->in.h * (size_t)l->in.w);
    micro_sums(l, x, NULL, n, NULL, SUM_X, m->parts, (size_t)nc);
    team_fold_doubles(l->part->team, m->sum, m->parts, m->K, nc, m->scratch);
    for (int c = 0; c < nc; c++) m->mean[c] = m->sum[c] / count;
    micro_sums(l, x, NULL, n, m->mean, SUM_SQDEV, m->parts, (size_t)nc);
    team_fold_doubles(l->part->team, m->sum, m->parts, m->K, nc, m->scratch);
    for (int c = 0; c < nc; c++) m->var[c] = m->sum[c] / count;
}

/* The running statistics of channel c from the batch's mean and biased
 * variance over count values (not with count 1: no unbiased variance);
 * returns its scale weight / std. */
static double update_channel(Layer *l, int c, double mean, double var, size_t count)
{
    const int nc = l->in.c;
    const double mom = l->spec.momentum;
    float *rmean = l->buf, *rvar = l->buf + nc;
    if (count > 1) {
        rmean[c] = (float)((1.0 - mom) * rmean[c] + mom * mean);
        rvar[c] = (float)((1.0 - mom) * rvar[c] + mom * var * ((double)count / (double)(count - 1)));
    }
    return (double)l->w[c] / sqrt(var + l->spec.eps);
}

/* dweight, dbias of channels c0..c0+cb: micro-batch j's sums (m->parts,
 * SUM_GRAD) added once to its gradients, dw + j*gstride. */
static void param_grads(Layer *l, const Micro *m, int c0, int cb)
{
    const size_t gs = l->part->gstride, w2 = 2 * (size_t)l->in.c, nc = (size_t)l->in.c;
    for (int j = 0; j < m->k; j++) {
        const double *pj = m->parts + (size_t)j * w2;
        for (int c = c0; c < c0 + cb; c++) {
            const double inv = 1.0 / sqrt(m->var[c] + l->spec.eps);
            l->dw[(size_t)j * gs + (size_t)c] += (float)(pj[nc + (size_t)c] * inv);
            l->db[(size_t)j * gs + (size_t)c] += (float)pj[c];
        }
    }
}

/* dx of channels c0..c0+cb from the batch's sums sdy, sdyd (count values). */
ALWAYS_INLINE void block_dx(const Layer *l, const float *x, const float *dy, float *dx, int n, size_t hw, int c0,
                            int cb, const Micro *m, const double *sdy, const double *sdyd, double count)
{
    double a[CB], b[CB], kk[CB];
    for (int k = 0; k < cb; k++) {
        const int c = c0 + k;
        const double inv = 1.0 / sqrt(m->var[c] + l->spec.eps);
        kk[k] = (double)l->w[c] * inv;
        a[k] = sdy[c] / count;
        b[k] = inv * inv * sdyd[c] / count;
    }
    block_input_grad(x, dy, dx, n, l->in.c, hw, c0, cb, m->mean + c0, kk, a, b);
}

/* sum[c] = ((0 + parts[0][c]) + parts[1][c]) + ... for c = c0..c0+cb: what
 * team_fold_doubles computes, element by element, without a team. */
static void fold_local(double *sum, const double *parts, int k, size_t width, int c0, int cb)
{
    for (int c = c0; c < c0 + cb; c++) sum[c] = 0.0;
    for (int j = 0; j < k; j++)
        for (int c = c0; c < c0 + cb; c++) sum[c] += parts[(size_t)j * width + (size_t)c];
}

/* The batch's mean and variance of channels c0..c0+cb, when this call holds
 * the whole batch (no other rank): batch_stats on one block, its values
 * still in cache from one pass to the next. */
ALWAYS_INLINE void block_batch_stats(const Layer *l, const float *x, int n, size_t hw, int c0, int cb, Micro *m,
                                     double count)
{
    const int nc = l->in.c, mb = l->part->mb;
    block_micro_sums(x, NULL, n, mb, nc, hw, c0, cb, NULL, SUM_X, m->parts, (size_t)nc);
    fold_local(m->sum, m->parts, m->k, (size_t)nc, c0, cb);
    for (int c = c0; c < c0 + cb; c++) m->mean[c] = m->sum[c] / count;
    block_micro_sums(x, NULL, n, mb, nc, hw, c0, cb, m->mean, SUM_SQDEV, m->parts, (size_t)nc);
    fold_local(m->sum, m->parts, m->k, (size_t)nc, c0, cb);
    for (int c = c0; c < c0 + cb; c++) m->var[c] = m->sum[c] / count;
}

/* forward_micro's work on one block, the call holding the whole batch. */
ALWAYS_INLINE void forward_local_block(Layer *l, const float *x, float *y, int n, size_t hw, int c0, int cb, Micro *m)
{
    const size_t count = (size_t)l->part->batch_n * hw;
    double scale[CB];
    block_batch_stats(l, x, n, hw, c0, cb, m, (double)count);
    for (int k = 0; k < cb; k++) scale[k] = update_channel(l, c0 + k, m->mean[c0 + k], m->var[c0 + k], count);
    block_normalize(x, y, n, l->in.c, hw, c0, cb, m->mean + c0, scale, l->b + c0, l->fuse_relu != 0);
}

/* bn_forward in MODE_TRAIN on a part (see above). Without other ranks the
 * folds are local and each block of channels goes through every step at
 * once (the same arithmetic); with them each step is a pass over all
 * channels, the folds between. */
static void forward_micro(Layer *l, const float *x, float *y, int n)
{
    const int nc = l->in.c;
    const size_t hw = (size_t)l->in.h * (size_t)l->in.w, count = (size_t)l->part->batch_n * hw;
    const int bs = block_size(hw), nblocks = (nc + bs - 1) / bs;
    Micro m = micro_scratch(l, n);
    if (team_size(l->part->team) == 1) {
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
        for (int blk = 0; blk < nblocks; blk++) {
            const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
            if (hw == 1) forward_local_block(l, x, y, n, 1, c0, cb, &m);
            else forward_local_block(l, x, y, n, hw, c0, cb, &m);
        }
    } else {
        batch_stats(l, x, n, &m);
        double *scale = m.sum;
        for (int c = 0; c < nc; c++) scale[c] = update_channel(l, c, m.mean[c], m.var[c], count);
        const int relu = l->fuse_relu != 0;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
        for (int blk = 0; blk < nblocks; blk++) {
            const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
            if (hw == 1) block_normalize(x, y, n, nc, 1, c0, cb, m.mean + c0, scale + c0, l->b + c0, relu);
            else block_normalize(x, y, n, nc, hw, c0, cb, m.mean + c0, scale + c0, l->b + c0, relu);
        }
    }
    if (count > 1) l->buf[2 * (size_t)nc] += 1.0f; /* num_batches_tracked */
}

/* dy * [y > 0] of channels c0..c0+cb into the scratch (a folded relu). */
ALWAYS_INLINE void block_relu_mask(const Layer *l, const float *y, const float *dy, int n, size_t hw, int c0, int cb)
{
    const size_t nc = (size_t)l->in.c, len = (size_t)cb * hw;
    float *gm = l->ws;
    for (int i = 0; i < n; i++) {
        const size_t off = ((size_t)i * nc + (size_t)c0) * hw;
        for (size_t t = 0; t < len; t++) gm[off + t] = y[off + t] > 0.0f ? dy[off + t] : 0.0f;
    }
}

/* backward_micro's work on one block, the call holding the whole batch. */
ALWAYS_INLINE void backward_local_block(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n,
                                        size_t hw, int c0, int cb, Micro *m)
{
    const int nc = l->in.c;
    const double count = (double)((size_t)l->part->batch_n * hw);
    const size_t w2 = 2 * (size_t)nc;
    block_batch_stats(l, x, n, hw, c0, cb, m, count);
    if (l->fuse_relu) {
        block_relu_mask(l, y, dy, n, hw, c0, cb);
        dy = l->ws;
    }
    block_micro_sums(x, dy, n, l->part->mb, nc, hw, c0, cb, m->mean, SUM_GRAD, m->parts, w2);
    param_grads(l, m, c0, cb);
    fold_local(m->sum, m->parts, m->k, w2, c0, cb);
    fold_local(m->sum, m->parts, m->k, w2, nc + c0, cb);
    if (dx) block_dx(l, x, dy, dx, n, hw, c0, cb, m, m->sum, m->sum + nc, count);
}

/* bn_backward on a part (see above; as forward_micro, local or by passes). */
static void backward_micro(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    const int nc = l->in.c;
    const size_t hw = (size_t)l->in.h * (size_t)l->in.w, w2 = 2 * (size_t)nc;
    const double count = (double)((size_t)l->part->batch_n * hw);
    const int bs = block_size(hw), nblocks = (nc + bs - 1) / bs;
    Micro m = micro_scratch(l, n);
    if (team_size(l->part->team) == 1) {
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
        for (int blk = 0; blk < nblocks; blk++) {
            const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
            if (hw == 1) backward_local_block(l, x, y, dy, dx, n, 1, c0, cb, &m);
            else backward_local_block(l, x, y, dy, dx, n, hw, c0, cb, &m);
        }
        return;
    }
    batch_stats(l, x, n, &m);
    if (l->fuse_relu) {
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
        for (int blk = 0; blk < nblocks; blk++) {
            const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
            block_relu_mask(l, y, dy, n, hw, c0, cb);
        }
        dy = l->ws;
    }
    micro_sums(l, x, dy, n, m.mean, SUM_GRAD, m.parts, w2);
    param_grads(l, &m, 0, nc);
    team_fold_doubles(l->part->team, m.sum, m.parts, m.K, (int)w2, m.scratch);
    if (!dx) return;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * (size_t)nc >= PAR_MIN)
    for (int blk = 0; blk < nblocks; blk++) {
        const int c0 = blk * bs, cb = nc - c0 < bs ? nc - c0 : bs;
        if (hw == 1) block_dx(l, x, dy, dx, n, 1, c0, cb, &m, m.sum, m.sum + nc, count);
        else block_dx(l, x, dy, dx, n, hw, c0, cb, &m, m.sum, m.sum + nc, count);
    }
}

static void bn_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)key;
    if (is_micro(l, n, mode == MODE_TRAIN)) {
        forward_micro(l, x, y, n);
        return;
    }
    const int nc = l->in.c;
    const size_t hw = (size_t)l->in.h * (size_t)l->in.w, m = (size_t)n * hw;
    if (n <= 0) return;
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

/* Only called after a MODE_TRAIN forward on the same x. */
static void bn_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    if (is_micro(l, n, 1)) {
        backward_micro(l, x, y, dy, dx, n);
        return;
    }
    if (n <= 0) return;
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
