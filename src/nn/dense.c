/* dense.c - fully connected layer: y = x W^T + b.
 *
 * x is (n, in), W is [out, in] (PyTorch's nn.Linear layout), b is [out],
 * y is (n, out). The products go through kernels/gemm. Input must be flat
 * (a `flatten` line turns an image into a vector). With l->fuse_relu (a relu
 * follows, net_build folds it in) y = max(x W^T + b, 0) in the bias pass and
 * backward masks dy first. Backward sums dW and db per micro-batch when its
 * call holds several (layer.h: Micro-batches); dx is one product. */
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "nn/layer.h"
#include "nn/onnx.h"

#include <math.h>

static Status dense_parse(LayerSpec *s, const LayerArgs *a, Err *e)
{
    if (!layer_parse_int(a->val[0], 1, 1 << 20, &s->units))
        return err_set(e, ST_ERR_FORMAT, "dense: '%s' is not a number of outputs from 1 to 1048576", a->val[0]);
    return ST_OK;
}

static Status dense_setup(Layer *l, Err *e)
{
    if (!shape_is_flat(l->in)) {
        char b[48];
        return err_set(e, ST_ERR_SHAPE, "dense needs a flat input, got %s (add a 'flatten' line before it)",
                       shape_str(l->in, b, sizeof b));
    }
    l->out = (Shape){l->spec.units, 1, 1};
    l->nw = (size_t)l->spec.units * (size_t)l->in.c;
    l->nb = (size_t)l->spec.units;
    l->ws_per_sample = (size_t)l->spec.units; /* dy through a folded relu */
    return ST_OK;
}

/* PyTorch's default: kaiming_uniform(a=sqrt(5)) for W and the same bound
 * for b, which both come to U(-1/sqrt(in), 1/sqrt(in)). */
static void dense_init(Layer *l, Rng *r)
{
    float bound = 1.0f / sqrtf((float)l->in.c);
    for (size_t i = 0; i < l->nw; i++) l->w[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
    for (size_t i = 0; i < l->nb; i++) l->b[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
}

static void dense_forward(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key)
{
    (void)mode, (void)key;
    int in = l->in.c, out = l->out.c;
    gemm_nt(l->math, n, out, in, x, in, l->w, in, 0.0f, y, out);
    if (l->fuse_relu)
        ew_add_bias_relu((size_t)n, (size_t)out, y, l->b);
    else
        ew_add_bias((size_t)n, (size_t)out, 1, y, l->b);
}

/* db[out] (+ j*gstride for micro-batch j) += the sum over each micro-batch
 * of dy's rows, in sample order from 0: one add per micro-batch. */
static void bias_grad_micro(const float *dy, int n, int out, int mb, size_t gstride, float *db)
{
    enum { COLS = 256 };
    float acc[COLS];
    for (int o0 = 0; o0 < out; o0 += COLS) {
        const int w = out - o0 < COLS ? out - o0 : COLS;
        for (int s0 = 0, j = 0; s0 < n; s0 += mb, j++) {
            const int s1 = s0 + mb < n ? s0 + mb : n;
            for (int c = 0; c < w; c++) acc[c] = 0.0f;
            for (int i = s0; i < s1; i++) {
                const float *dyi = dy + (size_t)i * (size_t)out + o0;
                for (int c = 0; c < w; c++) acc[c] += dyi[c];
            }
            float *d = db + (size_t)j * gstride + o0;
            for (int c = 0; c < w; c++) d[c] += acc[c];
        }
    }
}

static void dense_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n)
{
    int in = l->in.c, out = l->out.c;
    if (n <= 0) return;
    if (l->fuse_relu) { /* a folded relu: dy * [y > 0], in the scratch */
        ew_relu_backward((size_t)n * (size_t)out, y, dy, l->ws);
        dy = l->ws;
    }
    const BatchPart *p = l->part;
    if (p && p->mb < n) {
        /* micro-batches (layer.h): each one's dW and db summed from 0, then added */
        gemm_tn_mb(l->math, out, in, n, dy, out, x, in, l->dw, in, p->mb, p->gstride);
        bias_grad_micro(dy, n, out, p->mb, p->gstride, l->db);
    } else {
        /* the whole call is one micro-batch (into dw, db: first 0) */
        /* dW[out,in] += dy^T (out x n) . x (n x in) */
        gemm_tn(l->math, out, in, n, dy, out, x, in, 1.0f, l->dw, in);
        /* db[out] += sum over the batch of dy, samples in order */
        for (int i = 0; i < n; i++) {
            const float *dyi = dy + (size_t)i * out;
            for (int j = 0; j < out; j++) l->db[j] += dyi[j];
        }
    }
    /* dx[n,in] = dy (n x out) . W (out x in) */
    if (dx) gemm_nn(l->math, n, in, out, dy, out, l->w, in, 0.0f, dx, in);
}

/* weight [out, in] (nn.Linear's layout), bias [out] */
static int dense_tensors(const Layer *l, LayerTensor *t)
{
    t[0] = (LayerTensor){.name = "weight", .ndim = 2, .dims = {l->out.c, l->in.c}};
    t[1] = (LayerTensor){.name = "bias", .ndim = 1, .dims = {l->out.c}, .is_bias = 1};
    return 2;
}

/* Gemm is 2-D: a 4-D input (fmnist allows a dense on a Cx1x1 image) is
 * flattened first. */
static void dense_onnx(const Layer *l, OnnxOut *o)
{
    char name[32], flat[32], w[32], b[32];
    const char *in[3] = {o->in, onnx_name(w, sizeof w, l, "weight"), onnx_name(b, sizeof b, l, "bias")};
    if (o->rank != 2) {
        o->node(o, "Flatten", onnx_name(name, sizeof name, l, "flatten"), in, 1, onnx_name(flat, sizeof flat, l, "in_flat"));
        o->attr_int(o, "axis", 1);
        in[0] = flat;
        o->rank = 2;
    }
    o->node(o, "Gemm", onnx_name(name, sizeof name, l, "dense"), in, 3, o->out);
    o->attr_int(o, "transB", 1); /* y = x W^T + b, W is [out, in] */
}

const LayerOps dense_ops = {
    .kind = "dense", .usage = "dense N", .nvalues = 1, .parse = dense_parse, .flags = LAYER_FOLDS_RELU,
    .setup = dense_setup, .init = dense_init, .forward = dense_forward, .backward = dense_backward,
    .tensors = dense_tensors, .onnx = dense_onnx,
};
