/* net.c - sequential network: build (shape inference), forward, backward.
 *
 * Building walks the model file's layers once: each kind's setup() checks its
 * input shape and sets its output shape and parameter counts. Then one arena
 * holds all parameters (and one all gradients) in layer order, weight before
 * bias (then a layer's buffers: batchnorm's running statistics), as in a
 * PyTorch state_dict, named and shaped by each kind (LayerOps.tensors).
 * net_plan_fusion then decides which layers fold their neighbours in
 * (layer.h's Fusion); forward and backward skip the layers that do not run. */
#include "nn/net.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PARAMS ((size_t)1 << 30)      /* 4 GiB of floats: refuse beyond */
#define MAX_ACT_BYTES ((size_t)16 << 30)  /* activations of one batch        */

void net_plan_fusion(Layer *layers, int n)
{
    for (int i = 0; i < n; i++) {
        Layer *l = &layers[i];
        const Layer *next = i + 1 < n ? &layers[i + 1] : NULL, *pool = i + 2 < n ? &layers[i + 2] : NULL;
        l->fuse_relu = (l->ops->flags & LAYER_FOLDS_RELU) && next && (next->ops->flags & LAYER_RELU);
        l->fuse_pool = l->fuse_relu && (l->ops->flags & LAYER_FOLDS_POOL) && pool && pool->is_pool2x2;
    }
}

/* 1 if layer i's output is its input's floats: a reshape (flatten), or a
 * relu folded into the layer before it. */
static int is_alias(const Layer *layers, int i)
{
    return (layers[i].ops->flags & LAYER_RESHAPE) || (i > 0 && layers[i - 1].fuse_relu);
}

int net_has_output(const Layer *layers, int i)
{
    return !is_alias(layers, i) && !(layers[i].fuse_pool && layers[i].pool_recompute);
}

/* 1 if layer i runs: not an alias, and not a pool folded into the conv two
 * layers before it (which writes its buffer). */
static int runs(const Net *net, int i)
{
    return !is_alias(net->layers, i) && !(i > 1 && net->layers[i - 2].fuse_pool);
}

/* The input of layer i: the output of the last layer before it that is not
 * an alias, or x. */
static const float *input_of(const Net *net, int i, const float *x)
{
    while (--i >= 0)
        if (!is_alias(net->layers, i)) return net->act[i];
    return x;
}

void net_free(Net *net)
{
    if (!net) return;
    netspec_free(&net->spec);
    if (net->act)
        for (int i = 0; i < net->nlayers; i++) free(net->act[i]); /* NULL where there is no buffer */
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

/* Lays out layer l's tensors (as its kind describes them) in the arena from
 * *off: its views, and one ParamInfo each. */
static void place_tensors(Net *net, Layer *l, size_t *off)
{
    if (l->nw) l->w = net->params + *off, l->dw = net->grads + *off;
    if (l->nb) l->b = net->params + *off + l->nw, l->db = net->grads + *off + l->nw;
    if (l->nbuf) l->buf = net->params + *off + l->nw + l->nb;
    LayerTensor lt[LAYER_MAX_TENSORS];
    const int nt = l->ops->tensors ? l->ops->tensors(l, lt) : 0;
    const size_t start = *off;
    for (int k = 0; k < nt; k++) {
        ParamInfo *t = &net->tensors[net->ntensors++];
        snprintf(t->name, sizeof t->name, "%d.%s", l->index, lt[k].name);
        t->ndim = lt[k].ndim;
        t->numel = 1;
        for (int d = 0; d < t->ndim; d++) t->numel *= (size_t)(t->dims[d] = lt[k].dims[d]);
        t->offset = *off;
        t->is_bias = lt[k].is_bias;
        t->is_buffer = lt[k].is_buffer;
        *off += t->numel;
    }
    assert(*off - start == l->nw + l->nb + l->nbuf); /* the kind's tensors cover its counts */
    (void)start;
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

/* Every size is checked for overflow and against the limits before
 * anything large is allocated. */
static Status plan_layers(const NetSpec *c, int max_batch, Layer *layers, Plan *p, Err *e)
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
    net_plan_fusion(layers, c->nlayers);
    for (int i = 0; i < c->nlayers; i++)
        if (net_has_output(layers, i) && !size_add(acts, shape_numel(layers[i].out) * mb * sizeof(float), &acts))
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

Status net_plan(const NetSpec *cfg, int max_batch, size_t *nparams, size_t *bytes, Err *e)
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

Status net_build(NetSpec *spec, int max_batch, Net **out, Err *e)
{
    *out = NULL;
    Net *net = calloc(1, sizeof *net);
    if (!net) {
        netspec_free(spec);
        return err_set(e, ST_ERR_NOMEM, "out of memory");
    }
    net->spec = *spec;          /* takes over spec->text */
    spec->text = NULL;
    const NetSpec *c = &net->spec;
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
    net->tensors = calloc(LAYER_MAX_TENSORS * (size_t)c->nlayers, sizeof *net->tensors);
    if (!net->layers || !net->act || !net->tensors) goto nomem;

    /* shapes and sizes, all checked before the large allocations below */
    Plan plan;
    if ((st = plan_layers(c, max_batch, net->layers, &plan, e))) goto fail;
    /* plan_layers has planned the fusions (net_plan_fusion) */
    net->nclasses = plan.nclasses;
    net->bytes = plan.bytes;

    /* one arena for the parameters, one for their gradients */
    net->nparams = plan.nparams;
    net->nbuffers = plan.nbuffers;
    net->params = calloc(plan.nparams ? plan.nparams : 1, sizeof(float));
    net->grads = calloc(plan.nparams ? plan.nparams : 1, sizeof(float));
    if (!net->params || !net->grads) goto nomem;
    size_t off = 0;
    for (int i = 0; i < c->nlayers; i++) place_tensors(net, &net->layers[i], &off);

    /* activations (those that are stored: layer.h), gradient ping-pong
     * buffers and scratch, for max_batch */
    const size_t mb = (size_t)max_batch;
    for (int i = 0; i < c->nlayers; i++)
        if (net_has_output(net->layers, i) &&
            !(net->act[i] = malloc(mb * shape_numel(net->layers[i].out) * sizeof(float))))
            goto nomem;
    for (int i = 0; i + 2 < c->nlayers; i++) /* a fused pool's output buffer */
        if (net->layers[i].fuse_pool) net->layers[i].pool_out = net->act[i + 2];
    net->dbuf[0] = malloc(mb * plan.max_numel * sizeof(float));
    net->dbuf[1] = malloc(mb * plan.max_numel * sizeof(float));
    net->ws = plan.max_ws ? malloc(plan.ws_bytes) : NULL;
    if (!net->dbuf[0] || !net->dbuf[1] || (plan.max_ws && !net->ws)) goto nomem;
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

static void set_part(Net *net, const BatchPart *p)
{
    for (int i = 0; i < net->nlayers; i++) net->layers[i].part = p;
}

const float *net_forward_part(Net *net, const float *x, int n, const BatchPart *p, Mode mode, uint64_t key)
{
    set_part(net, mode == MODE_TRAIN ? p : NULL);
    for (int i = 0; i < net->nlayers; i++) {
        Layer *l = &net->layers[i];
        if (!runs(net, i)) continue;
        /* MODE_MC: stochastic layers as in training, layers with statistics as in eval (layer.h) */
        Mode m = mode != MODE_MC ? mode : l->nbuf ? MODE_EVAL : MODE_TRAIN;
        l->ops->forward(l, input_of(net, i, x), net->act[i], n, m, rng_mix64(key + (uint64_t)i));
    }
    set_part(net, NULL);
    return input_of(net, net->nlayers, x);
}

const float *net_forward(Net *net, const float *x, int n, Mode mode, uint64_t key)
{
    return net_forward_part(net, x, n, NULL, mode, key);
}

void net_backward_part(Net *net, const float *x, const float *dlogits, int n, const BatchPart *p)
{
    set_part(net, p);
    const float *dy = dlogits;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        Layer *l = &net->layers[i];
        /* dy passes through these unchanged */
        if (!runs(net, i)) continue;
        const float *in = input_of(net, i, x);
        /* no dx for the first computing layer: nothing before it needs one */
        float *dx = in == x ? NULL : dy == net->dbuf[0] ? net->dbuf[1] : net->dbuf[0];
        l->ops->backward(l, in, net->act[i], dy, dx, n);
        dy = dx;
    }
    set_part(net, NULL);
}

void net_backward(Net *net, const float *x, const float *dlogits, int n)
{
    net_backward_part(net, x, dlogits, n, NULL);
}

void net_zero_grad(Net *net) { memset(net->grads, 0, net->nparams * sizeof(float)); }

void net_set_math(Net *net, Math m)
{
    net->math = m;
    for (int i = 0; i < net->nlayers; i++) net->layers[i].math = m;
}

void net_point_grads(Net *net, float *g)
{
    if (!g) g = net->grads;
    for (int i = 0; i < net->nlayers; i++) { /* the gradient arena is laid out as the parameters' */
        Layer *l = &net->layers[i];
        if (l->nw) l->dw = g + (l->w - net->params);
        if (l->nb) l->db = g + (l->b - net->params);
    }
}

int net_tensor_is_count(const ParamInfo *t) { return t->is_buffer && t->ndim == 0; }

void net_summary(const Net *net, FILE *f)
{
    char sb[48], kind[64], p[32];
    fprintf(f, "%-4s %-18s %-14s %12s\n", "#", "layer", "output", "params");
    fprintf(f, "%-4s %-18s %-14s %12s\n", "", "input", shape_str(net->in, sb, sizeof sb), "");
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        snprintf(kind, sizeof kind, "%s", l->spec.kind);
        if (l->ops->flags & LAYER_DROPOUT) { /* its rate: "dropout p=0.3" */
            layer_format_float(l->spec.p, p, sizeof p);
            snprintf(kind, sizeof kind, "%s p=%s", l->spec.kind, p);
        }
        fprintf(f, "%-4d %-18s %-14s %12zu\n", i, kind, shape_str(l->out, sb, sizeof sb), l->nw + l->nb);
    }
    fprintf(f, "total parameters: %zu", net->nparams - net->nbuffers);
    if (net->nbuffers) fprintf(f, " (and %zu batch-norm running statistics, not trained)", net->nbuffers);
    fputc('\n', f);
}
