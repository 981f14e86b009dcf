/* net.c - sequential network: build (shape inference), forward, backward.
 *
 * Building walks the model file's layers once: each kind's setup() checks its
 * input shape and sets its output shape and parameter counts. Then one arena
 * holds all parameters (and one all gradients) in layer order, weight before
 * bias (then a layer's buffers: batchnorm's running statistics), as in a
 * PyTorch state_dict. */
#include "nn/net.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const LayerOps *const ALL_OPS[] = {&flatten_ops, &dense_ops,   &relu_ops,    &dropout_ops,
                                          &conv_ops,    &maxpool_ops, &avgpool_ops, &batchnorm_ops};

const LayerOps *layer_find_ops(const char *kind)
{
    for (size_t i = 0; i < sizeof ALL_OPS / sizeof ALL_OPS[0]; i++)
        if (!strcmp(ALL_OPS[i]->kind, kind)) return ALL_OPS[i];
    return NULL;
}

#define MAX_PARAMS ((size_t)1 << 30)      /* 4 GiB of floats: refuse beyond */
#define MAX_ACT_BYTES ((size_t)16 << 30)  /* activations of one batch        */

/* 1 if layer i is a relu that the conv, dense or batchnorm before it computes
 * (fuse_relu). */
static int relu_folded(const Net *net, int i) { return i > 0 && net->layers && net->layers[i - 1].fuse_relu; }

/* 1 if layer i is a maxpool that the conv two layers before it does, forward
 * (into this layer's buffer) and backward (fuse_pool). */
static int pool_folded(const Net *net, int i) { return i > 1 && net->layers && net->layers[i - 2].fuse_pool; }

/* 1 if layer i computes nothing: a folded relu, or a flatten (the same
 * floats under a new shape). Its output is its input: no buffer, no pass. */
static int passthrough(const Net *net, int i)
{
    return relu_folded(net, i) || (net->layers && net->layers[i].ops == &flatten_ops);
}

/* The input of layer i: the output of the last layer before it that is not
 * a passthrough, or x. */
static const float *input_of(const Net *net, int i, const float *x)
{
    while (--i >= 0)
        if (!passthrough(net, i)) return net->act[i];
    return x;
}

void net_free(Net *net)
{
    if (!net) return;
    cfg_free(&net->cfg);
    if (net->act)
        for (int i = 0; i < net->nlayers; i++)
            if (!passthrough(net, i)) free(net->act[i]);
    free(net->act);
    free(net->dbuf[0]);
    free(net->dbuf[1]);
    free(net->ws);
    free(net->params);
    free(net->grads);
    free(net->tensors);
    free(net->layers);
    free(net);
}

/* The most tensors one layer has: batchnorm's weight, bias, running_mean,
 * running_var and num_batches_tracked. */
#define MAX_LAYER_TENSORS 5

static void add_tensor(Net *net, const Layer *l, int is_bias, size_t offset, size_t numel)
{
    ParamInfo *t = &net->tensors[net->ntensors++];
    snprintf(t->name, sizeof t->name, "%d.%s", l->index, is_bias ? "bias" : "weight");
    t->offset = offset;
    t->numel = numel;
    /* batchnorm's weight (a per-channel scale) is grouped with the biases:
     * not decayed unless --decay-bias */
    t->is_bias = is_bias || !strcmp(l->spec.kind, "batchnorm");
    if (is_bias || !strcmp(l->spec.kind, "batchnorm")) {
        t->ndim = 1;
        t->dims[0] = (int)numel;
    } else if (!strcmp(l->spec.kind, "conv")) {
        t->ndim = 4;
        t->dims[0] = l->out.c;
        t->dims[1] = l->in.c;
        t->dims[2] = l->spec.kh;
        t->dims[3] = l->spec.kw;
    } else {
        t->ndim = 2;
        t->dims[0] = l->out.c;
        t->dims[1] = (int)(numel / (size_t)l->out.c);
    }
}

/* A layer's buffers (l->nbuf floats from offset): so far only batchnorm's,
 * running_mean [C], running_var [C], num_batches_tracked [] (a 0-d tensor). */
static void add_buffers(Net *net, const Layer *l, size_t offset)
{
    static const char *const names[3] = {"running_mean", "running_var", "num_batches_tracked"};
    size_t c = (l->nbuf - 1) / 2;
    for (int k = 0; k < 3; k++) {
        ParamInfo *t = &net->tensors[net->ntensors++];
        snprintf(t->name, sizeof t->name, "%d.%s", l->index, names[k]);
        t->offset = offset + (size_t)k * c;
        t->numel = k < 2 ? c : 1;
        t->is_buffer = 1;
        t->ndim = k < 2 ? 1 : 0;
        t->dims[0] = k < 2 ? (int)c : 0;
    }
}

/* What net_build will allocate for max_batch samples, from shape inference
 * alone (setup of every layer into layers[]). */
typedef struct {
    size_t nparams, nbuffers, max_numel, max_ws, ws_bytes, bytes;
    int nclasses;
} Plan;

/* a + b into *sum, 0 on overflow */
static int size_add(size_t a, size_t b, size_t *sum)
{
    if (b > (size_t)-1 - a) return 0;
    *sum = a + b;
    return 1;
}

/* The most memory a net may take: NET_MAX_BYTES, and no more than the
 * machine has (a net that cannot fit is refused here, not killed later).
 * Fuzzing builds use a small limit so that the fuzzer's malloc limit flags
 * real overruns only. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define NET_MAX_BYTES ((size_t)1 << 30)
#else
#define NET_MAX_BYTES ((size_t)64 << 30)
#endif

size_t net_memory_limit(const char **what)
{
    size_t lim = NET_MAX_BYTES;
    *what = "the limit";
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    size_t phys;
    if (pages > 0 && psize > 0 && size_mul((size_t)pages, (size_t)psize, &phys) && phys < lim) {
        lim = phys;
        *what = "this machine's memory";
    }
#endif
    return lim;
}

/* The fusions net_build makes (layer.h): a relu after a conv, a dense or a
 * batchnorm is applied by that layer, and a 2x2 stride-2 maxpool after a
 * conv + relu by the conv. Needs every layer's ops and spec. */
static void set_fusions(Layer *layers, int n)
{
    for (int i = 0; i < n; i++) {
        Layer *l = &layers[i];
        l->fuse_relu = l->fuse_pool = 0;
        if ((l->ops == &batchnorm_ops || l->ops == &dense_ops) && i + 1 < n && layers[i + 1].ops == &relu_ops)
            l->fuse_relu = 1;
        if (l->ops == &conv_ops && i + 1 < n && layers[i + 1].ops == &relu_ops) {
            l->fuse_relu = 1;
            /* ... and a 2x2 stride-2 maxpool after them: its backward too */
            const Layer *p = i + 2 < n ? &layers[i + 2] : NULL;
            l->fuse_pool = p && p->ops == &maxpool_ops && p->spec.kh == 2 && p->spec.kw == 2 &&
                           (p->spec.stride == 0 || p->spec.stride == 2);
        }
    }
}

/* Every size is checked for overflow and against the limits before
 * anything large is allocated. */
static Status plan_layers(const ModelCfg *c, int max_batch, Layer *layers, Plan *p, Err *e)
{
    memset(p, 0, sizeof *p);
    if (max_batch < 1) return err_set(e, ST_ERR_ARG, "batch size must be at least 1");
    if (c->nlayers < 1) return err_set(e, ST_ERR_FORMAT, "%s: no layers", c->path);
    Shape s = c->input;
    size_t mb = (size_t)max_batch, acts = 0;
    p->max_numel = shape_numel(s);
    char sb[48];
    for (int i = 0; i < c->nlayers; i++) {
        Layer *l = &layers[i];
        l->spec = c->layers[i];
        l->index = i;
        l->in = s;
        l->ops = layer_find_ops(l->spec.kind);
        if (!l->ops)
            return err_set(e, ST_ERR_FORMAT, "%s:%d: layer kind '%s' is not available in this build", c->path,
                           l->spec.line, l->spec.kind);
        Err le;
        Status st;
        if ((st = l->ops->setup(l, &le)) != ST_OK)
            return err_set(e, st, "%s:%d: %s (input %s)", c->path, l->spec.line, le.msg, shape_str(s, sb, sizeof sb));
        s = l->out;
        size_t numel = shape_numel(s), bytes;
        if (s.c < 1 || s.h < 1 || s.w < 1 || !size_mul(numel, mb * sizeof(float), &bytes) || bytes > MAX_ACT_BYTES)
            return err_set(e, ST_ERR_SHAPE, "%s:%d: %s output %s is too large for batch %d", c->path, l->spec.line,
                           l->spec.kind, shape_str(s, sb, sizeof sb), max_batch);
        if (l->nw > MAX_PARAMS || l->nb > MAX_PARAMS || l->nbuf > MAX_PARAMS ||
            p->nparams + l->nw + l->nb + l->nbuf > MAX_PARAMS)
            return err_set(e, ST_ERR_SHAPE, "%s:%d: the model has too many parameters (more than 2^30)", c->path,
                           l->spec.line);
        p->nparams += l->nw + l->nb + l->nbuf;
        p->nbuffers += l->nbuf;
        if (numel > p->max_numel) p->max_numel = numel;
        if (l->ws_per_sample > p->max_ws) p->max_ws = l->ws_per_sample;
    }
    if (!shape_is_flat(s))
        return err_set(e, ST_ERR_SHAPE,
                       "%s:%d: the last layer must give a flat output (one value per class), got %s", c->path,
                       c->layers[c->nlayers - 1].line, shape_str(s, sb, sizeof sb));
    p->nclasses = s.c;
    /* the output buffers net_build allocates: none for a pass-through layer */
    set_fusions(layers, c->nlayers);
    Net view = {.layers = layers};
    for (int i = 0; i < c->nlayers; i++)
        if (!passthrough(&view, i) && !size_add(acts, shape_numel(layers[i].out) * mb * sizeof(float), &acts))
            return err_set(e, ST_ERR_SHAPE, "%s: the network is too large for batch %d", c->path, max_batch);
    /* parameters and gradients, activations, two gradient buffers, scratch */
    size_t dbuf, total;
    if (!size_mul(p->max_ws, mb * sizeof(float), &p->ws_bytes) || p->ws_bytes > MAX_ACT_BYTES)
        return err_set(e, ST_ERR_SHAPE, "%s: scratch for batch %d is too large", c->path, max_batch);
    if (!size_mul(p->max_numel, mb * sizeof(float), &dbuf) || dbuf > MAX_ACT_BYTES ||
        !size_add(2 * p->nparams * sizeof(float), acts, &total) || !size_add(total, 2 * dbuf, &total) ||
        !size_add(total, p->ws_bytes, &total))
        return err_set(e, ST_ERR_SHAPE, "%s: the network is too large for batch %d", c->path, max_batch);
    const char *what;
    size_t lim = net_memory_limit(&what);
    if (total > lim)
        return err_set(e, ST_ERR_SHAPE, "%s: the network needs %.1f GiB for batch %d, more than %s (%.1f GiB)", c->path,
                       (double)total / (1u << 30), max_batch, what, (double)lim / (1u << 30));
    p->bytes = total;
    return ST_OK;
}

Status net_plan(const ModelCfg *cfg, int max_batch, size_t *nparams, size_t *bytes, Err *e)
{
    Layer *layers = calloc(cfg->nlayers > 0 ? (size_t)cfg->nlayers : 1, sizeof *layers);
    if (!layers) return err_set(e, ST_ERR_NOMEM, "out of memory");
    Plan p;
    Status st = plan_layers(cfg, max_batch, layers, &p, e);
    free(layers);
    if (st) return st;
    if (nparams) *nparams = p.nparams;
    if (bytes) *bytes = p.bytes;
    return ST_OK;
}

Status net_build(ModelCfg *cfg, int max_batch, Net **out, Err *e)
{
    *out = NULL;
    Net *net = calloc(1, sizeof *net);
    if (!net) {
        cfg_free(cfg);
        return err_set(e, ST_ERR_NOMEM, "out of memory");
    }
    net->cfg = *cfg;            /* takes over cfg->text */
    cfg->text = NULL;
    const ModelCfg *c = &net->cfg;
    net->in = c->input;
    net->max_batch = max_batch;
    net->nlayers = c->nlayers;
    Status st = ST_OK;
    if (max_batch < 1) {
        st = err_set(e, ST_ERR_ARG, "batch size must be at least 1");
        goto fail;
    }
    net->layers = calloc((size_t)c->nlayers, sizeof *net->layers);
    net->act = calloc((size_t)c->nlayers, sizeof *net->act);
    net->tensors = calloc(MAX_LAYER_TENSORS * (size_t)c->nlayers, sizeof *net->tensors);
    if (!net->layers || !net->act || !net->tensors) goto nomem;

    /* shapes and sizes, all checked before the large allocations below */
    Plan plan;
    if ((st = plan_layers(c, max_batch, net->layers, &plan, e))) goto fail;
    size_t nparams = plan.nparams, max_numel = plan.max_numel, max_ws = plan.max_ws, ws_bytes = plan.ws_bytes;
    net->nclasses = plan.nclasses;
    net->bytes = plan.bytes;

    /* one arena for the parameters, one for their gradients */
    net->nparams = nparams;
    net->nbuffers = plan.nbuffers;
    net->params = calloc(nparams ? nparams : 1, sizeof(float));
    net->grads = calloc(nparams ? nparams : 1, sizeof(float));
    if (!net->params || !net->grads) goto nomem;
    size_t off = 0;
    for (int i = 0; i < c->nlayers; i++) {
        Layer *l = &net->layers[i];
        if (l->nw) {
            l->w = net->params + off;
            l->dw = net->grads + off;
            add_tensor(net, l, 0, off, l->nw);
            off += l->nw;
        }
        if (l->nb) {
            l->b = net->params + off;
            l->db = net->grads + off;
            add_tensor(net, l, 1, off, l->nb);
            off += l->nb;
        }
        if (l->nbuf) {
            l->buf = net->params + off;
            add_buffers(net, l, off);
            off += l->nbuf;
        }
    }

    /* activations, gradient ping-pong buffers and scratch, for max_batch */
    size_t mb = (size_t)max_batch;
    for (int i = 0; i < c->nlayers; i++) /* fusions: set by plan_layers (set_fusions) */
        if (!passthrough(net, i) && !(net->act[i] = malloc(mb * shape_numel(net->layers[i].out) * sizeof(float))))
            goto nomem;
    for (int i = 0; i + 2 < c->nlayers; i++) /* a fused pool's output buffer */
        if (net->layers[i].fuse_pool) net->layers[i].pool_out = net->act[i + 2];
    net->dbuf[0] = malloc(mb * max_numel * sizeof(float));
    net->dbuf[1] = malloc(mb * max_numel * sizeof(float));
    net->ws = max_ws ? malloc(ws_bytes) : NULL;
    if (!net->dbuf[0] || !net->dbuf[1] || (max_ws && !net->ws)) goto nomem;
    for (int i = 0; i < c->nlayers; i++) net->layers[i].ws = net->ws;
    *out = net;
    return ST_OK;
nomem:
    st = err_set(e, ST_ERR_NOMEM, "%s: out of memory building the network", c->path);
fail:
    net_free(net);
    return st;
}

void net_init(Net *net, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < net->nlayers; i++) net->layers[i].ops->init(&net->layers[i], &r);
}

const float *net_forward(Net *net, const float *x, int n, Mode mode, uint64_t key)
{
    for (int i = 0; i < net->nlayers; i++) {
        Layer *l = &net->layers[i];
        if (passthrough(net, i) || pool_folded(net, i)) continue;
        /* MODE_MC: stochastic layers as in training, layers with statistics as in eval (layer.h) */
        Mode m = mode != MODE_MC ? mode : l->nbuf ? MODE_EVAL : MODE_TRAIN;
        l->ops->forward(l, input_of(net, i, x), net->act[i], n, m, rng_mix64(key + (uint64_t)i));
    }
    return input_of(net, net->nlayers, x);
}

void net_backward(Net *net, const float *x, const float *dlogits, int n)
{
    const float *dy = dlogits;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        Layer *l = &net->layers[i];
        /* dy passes through these unchanged */
        if (passthrough(net, i) || pool_folded(net, i)) continue;
        const float *in = input_of(net, i, x);
        /* no dx for the first computing layer: nothing before it needs one */
        float *dx = in == x ? NULL : dy == net->dbuf[0] ? net->dbuf[1] : net->dbuf[0];
        l->ops->backward(l, in, net->act[i], dy, dx, n);
        dy = dx;
    }
}

void net_zero_grad(Net *net) { memset(net->grads, 0, net->nparams * sizeof(float)); }

void net_summary(const Net *net, FILE *f)
{
    char sb[48];
    fprintf(f, "%-4s %-10s %-14s %12s\n", "#", "layer", "output", "params");
    fprintf(f, "%-4s %-10s %-14s %12s\n", "", "input", shape_str(net->in, sb, sizeof sb), "");
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        fprintf(f, "%-4d %-10s %-14s %12zu\n", i, l->spec.kind, shape_str(l->out, sb, sizeof sb), l->nw + l->nb);
    }
    fprintf(f, "total parameters: %zu", net->nparams - net->nbuffers);
    if (net->nbuffers) fprintf(f, " (and %zu batch-norm running statistics, not trained)", net->nbuffers);
    fputc('\n', f);
}
