/* layer.h - the layer interface of the sequential network.
 *
 * A layer is a small struct (its configuration from the model file, its shapes,
 * views of its parameters) plus a pointer to a const table of operations, one
 * table per kind, each defined in its own file (dense.c, conv2d.c, ...) and
 * listed once in the table of kinds (layer.c). A kind's table says all that
 * the rest of the program knows of it: its model-file syntax and parser, its
 * tensors, its ONNX nodes and the flags below; nothing outside the layer
 * files compares kind names.
 *
 * Conventions every layer follows:
 *  - x is the input batch (n, in), y the output batch (n, out), NCHW.
 *  - forward OVERWRITES y. It may use the layer's scratch (ws) and, in
 *    MODE_TRAIN, the per-call key (for dropout masks); it never allocates.
 *  - backward gets x, y and dy (all of the last forward), WRITES dx (unless dx
 *    is NULL: the first layer's input gradient is not needed) and ACCUMULATES
 *    (+=) into the parameter gradients dw, db. net_zero_grad() clears them.
 *  - Parameters live in the network's arena; a layer holds views (w, b, dw,
 *    db) and frees nothing it did not allocate.
 *  - Mode is an argument, never a global: MODE_EVAL makes dropout an identity
 *    and makes batchnorm use its running statistics; MODE_TRAIN draws dropout
 *    masks, normalizes with the batch's statistics and updates the running
 *    ones; MODE_MC (Monte-Carlo dropout at inference) keeps dropout's masks
 *    but uses and updates no statistics. net_forward hands MODE_MC to a layer
 *    as MODE_EVAL if it has buffers (nbuf > 0: batchnorm) and as MODE_TRAIN
 *    otherwise, so a layer needs to know only MODE_EVAL and MODE_TRAIN.
 *  - Buffers (nbuf floats at buf, in the parameter arena after b) are state
 *    that is saved with the weights but not trained: batchnorm's running_mean
 *    [C], running_var [C] and num_batches_tracked (one float, a count). Only
 *    forward writes them (MODE_TRAIN); their gradients stay 0 and the
 *    optimizer and the penalties skip them.
 *
 * Fusion: the only exceptions to the above. net_plan_fusion (net.c) alone
 * decides them, from the kinds' flags and what setup found; a layer on its
 * own (as the tests build one) has none, and its ops stay exact and
 * gradient-checked.
 *  - fuse_relu (the kind has LAYER_FOLDS_RELU, the next layer LAYER_RELU):
 *    forward stores relu(y) as its y, and backward's dy is the gradient after
 *    the relu (the layer masks it with y > 0 itself). The relu layer never
 *    runs and has no buffer: its output is this layer's y.
 *  - fuse_pool (also LAYER_FOLDS_POOL, and the layer after the relu has
 *    is_pool2x2): forward also writes that pool's output, into pool_out (the
 *    pool layer's own buffer), and backward's dy is the gradient of the
 *    pool's output (routed to each window's maximum by this layer). The pool
 *    layer never runs: its buffer is written by the layer two before it.
 *  - fuse_pool with pool_recompute: y is not stored at all. forward and
 *    backward get y == NULL (the layer has no buffer) and backward
 *    recomputes y from x; no other layer reads it (the relu's output is read
 *    by the fused pool only).
 *  - A LAYER_RESHAPE layer (flatten) never runs and has no buffer: its output
 *    is its input's floats under its own shape.
 *  - A layer that never runs gets no dy and writes no dx; the first layer
 *    that runs (the first layer, but for reshapes) gets dx == NULL.
 * No other output or gradient is skipped or written by another layer.
 */
#ifndef FMNIST_LAYER_H
#define FMNIST_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/math.h"
#include "nn/tensor.h"
#include "util/rng.h"
#include "util/status.h"

typedef enum { MODE_EVAL = 0, MODE_TRAIN = 1, MODE_MC = 2 } Mode;

/* Micro-batches: what part of a global batch a forward/backward call holds.
 *
 * A training batch of batch_n samples is split into micro-batches of mb
 * samples (the last may be shorter). Whatever a layer sums over samples
 * (parameter gradients, batchnorm's statistics) it sums per micro-batch,
 * each sum from 0, and adds the micro-batch sums in micro-batch order: the
 * canonical order of util/team.h, the same whether one process holds the
 * whole batch or ranks hold runs of its micro-batches. A call's x holds the
 * micro-batches from the one that starts at sample `first` of the batch.
 *  - Parameter gradients: micro-batch j of the call (j from 0) adds its sum
 *    to dw + j*gstride and db + j*gstride: with gstride 0 all of them go
 *    into dw, db in order (one process); with gstride the arena's size, each
 *    into its own zeroed copy of the gradient arena (a rank's leaves, which
 *    team_fold_floats adds in the canonical order).
 *  - Batchnorm in MODE_TRAIN normalizes with the statistics of the whole
 *    batch (batch_n samples; PyTorch's SyncBatchNorm): its per-micro-batch
 *    sums of all ranks are added through team_fold_doubles.
 *  - Dropout's masks and augmentation are keyed by the sample's index in
 *    the batch (first + i), never by the rank.
 * A layer called with l->part NULL (alone, as the tests build one, or
 * MODE_EVAL/MODE_MC) treats the call as the whole batch in one micro-batch;
 * so does one with a part whose mb >= n and no team (the same code, bit
 * for bit). What a part needs:
 *  - mb <= 256 (gemm_tn_mb sums a micro-batch in one block: GEMM_MB_MAX);
 *  - batch_n <= the net's max_batch (batchnorm's scratch gathers the sums
 *    of all ceil(batch_n/mb) micro-batches);
 *  - every rank calls forward and backward for every batch, with n == 0 if
 *    its share is empty (batchnorm's folds are collective);
 *  - with gstride > 0, the gradient views (dw, db) point into an arena that
 *    holds one gradient arena per micro-batch of the call (net_point_grads:
 *    net->grads holds one). */
typedef struct Team Team; /* util/team.h */
typedef struct {
    int mb;             /* micro-batch samples, >= 1                       */
    int batch_n;        /* samples in the whole batch                      */
    int first;          /* index of x's first sample in it (a multiple of mb) */
    size_t gstride;     /* floats between micro-batches' gradients; 0: all into dw, db */
    const Team *team;   /* the ranks holding the other micro-batches; NULL: none */
} BatchPart;

typedef struct Layer Layer;
typedef struct OnnxOut OnnxOut; /* nn/onnx.h */

/* What the model file says about one layer (filled by the kind's parse). */
typedef struct {
    char kind[16];       /* "dense", "conv", ...                         */
    int line;            /* line number in the model file                */
    int units;           /* dense: outputs; conv: output channels        */
    int kh, kw;          /* conv/pool kernel                             */
    int stride, pad;     /* conv/pool; stride 0 = default                */
    float p;             /* dropout rate in [0, 1)                       */
    double eps;          /* batchnorm: added to the variance (> 0)       */
    double momentum;     /* batchnorm: running-statistics rate in [0, 1] */
} LayerSpec;

/* The words after the kind on a model-file line: VALUES, then KEY=VALUE
 * options (the parser has checked their count, and that every key is one
 * of the kind's, given once). */
#define LAYER_MAX_ARGS 8
typedef struct {
    const char *val[LAYER_MAX_ARGS];
    int nval;
    const char *key[LAYER_MAX_ARGS], *kval[LAYER_MAX_ARGS];
    int nopt;
} LayerArgs;

/* One tensor of a layer in the parameter arena. net_build names it
 * "INDEX.name", as in the state_dict of the equivalent nn.Sequential. */
#define LAYER_MAX_TENSORS 5
typedef struct {
    const char *name;   /* "weight", "bias", "running_mean", ...          */
    int ndim;           /* 0: a scalar                                   */
    int dims[4];
    int is_bias;        /* in the group not decayed unless --decay-bias  */
    int is_buffer;      /* state, not a parameter (see buffers above)    */
} LayerTensor;

/* What a kind is, for fusion, exports and the dropout settings. */
enum {
    LAYER_RESHAPE = 1 << 0,    /* y is x under another shape (flatten)       */
    LAYER_RELU = 1 << 1,       /* y = max(x, 0): may be folded into the layer before */
    LAYER_FOLDS_RELU = 1 << 2, /* can apply a relu after it (fuse_relu)      */
    LAYER_FOLDS_POOL = 1 << 3, /* can also compute a 2x2 max pool after that relu (fuse_pool) */
    LAYER_DROPOUT = 1 << 4     /* a dropout: spec.p is its rate, its one value on
                                  the model line ("KIND P"), which train --dropout
                                  sets (in model-file order, with the other dropout
                                  kinds) and the checkpoint's model text keeps; the
                                  identity at inference, so exports leave it out */
};

typedef struct LayerOps {
    const char *kind;    /* its word in the model file                    */
    /* Its model-file line: "KIND VALUES... [KEY=VALUE ...]" */
    const char *usage;   /* its syntax, for messages: "dense N"           */
    int nvalues;         /* how many VALUES                               */
    const char *keys[4]; /* the KEYs it takes, NULL-terminated            */
    /* Fills s (zeroed, with kind and line) from a. NULL: nothing to fill.
     * A failure's message names the kind and the word, not the file and
     * line (the parser adds those). */
    Status (*parse)(LayerSpec *s, const LayerArgs *a, Err *e);
    unsigned flags;      /* LAYER_*                                       */
    /* Checks that the layer fits its input shape, sets l->out, l->nw, l->nb
     * (weight and bias element counts), l->nbuf (buffer floats),
     * l->ws_per_sample (scratch floats needed per sample of a batch) and,
     * for fusion, is_pool2x2 and pool_recompute. Errors name the model
     * file's line. */
    Status (*setup)(Layer *l, Err *e);
    /* Fills w and b, and buf (PyTorch's default initialization for the kind). */
    void (*init)(Layer *l, Rng *r);
    void (*forward)(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key);
    void (*backward)(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n);
    /* Describes its tensors in arena order: the weight tensors (nw floats in
     * all), then the bias tensors (nb), then the buffers (nbuf); returns how
     * many (at most LAYER_MAX_TENSORS). NULL: it has none. */
    int (*tensors)(const Layer *l, LayerTensor *t);
    /* Writes the ONNX nodes that compute it at inference (nn/onnx.h). NULL
     * for a LAYER_DROPOUT kind (left out); any other kind without it cannot
     * be exported. */
    void (*onnx)(const Layer *l, OnnxOut *o);
} LayerOps;

struct Layer {
    const LayerOps *ops;
    LayerSpec spec;
    Shape in, out;        /* per-sample shapes                            */
    size_t nw, nb;        /* parameter counts (0 for parameter-free)      */
    float *w, *b;         /* views into the net's parameter arena         */
    float *dw, *db;       /* views into the gradient arena                */
    size_t nbuf;          /* buffer floats (0 but for batchnorm)          */
    float *buf;           /* view into the parameter arena, after b       */
    size_t ws_per_sample; /* scratch floats needed per sample             */
    float *ws;            /* scratch view (shared by all layers)          */
    int index;            /* position in the network, from 0             */
    Math math;            /* the arithmetic of its products (kernels/math.h):
                             MATH_FP32 unless net_set_math says otherwise  */
    uint64_t key;         /* dropout: the key of the last MODE_TRAIN forward */
    const BatchPart *part;/* set by net_forward_part / net_backward_part for the
                             call (NULL: the call is the whole batch, one
                             micro-batch); see Micro-batches above          */
    /* Set by setup, for net_plan_fusion: */
    int is_pool2x2;       /* a 2x2 stride-2 max pool                      */
    int pool_recompute;   /* LAYER_FOLDS_POOL: with fuse_pool, y is not   */
                          /* stored but recomputed in backward            */
    /* Set by net_plan_fusion only (see Fusion above): */
    int fuse_relu;        /* applies the relu layer after it              */
    int fuse_pool;        /* also computes the 2x2 max pool after that relu */
    float *pool_out;      /* into here: the pool layer's buffer (net_build) */
};

/* The table of kinds: the ops of kind, NULL if unknown; the i-th kind
 * (from 0, in the order of the grammar's help), NULL past the last. */
const LayerOps *layer_find_ops(const char *kind);
const LayerOps *layer_ops_at(int i);

/* Helpers for the parse hooks, strict: the whole word must be the number
 * ("12x" and "1e400" are errors); 1 on success, 0 if not. */
int layer_parse_int(const char *s, long lo, long hi, int *out);   /* in [lo, hi] */
int layer_parse_double(const char *s, double *out);               /* finite, |v| <= 1e30 */
int layer_parse_float(const char *s, float *out);
/* The shortest decimal ("%.Ng", N <= 9) that layer_parse_float reads back
 * as v, exactly: 0.2 for 0.2f, not 0.200000003 (v finite, |v| <= 1e30). */
void layer_format_float(float v, char *buf, size_t len);
/* "AxB" or "AxBxC" (n numbers) into dims, each in [1, hi]. */
int layer_parse_dims(const char *s, int n, long hi, int *dims);
/* A window: k is "K" or "KHxKW" (1 to 64) into s->kh, s->kw; the options
 * stride=S (1 to 64) and pad=P (0 to 64) into s->stride, s->pad. The stride
 * defaults to 1 for a convolution, to the window for a pool (is_pool), which
 * then must be square. */
Status layer_parse_window(LayerSpec *s, const char *k, int is_pool, const LayerArgs *a, Err *e);

#endif
