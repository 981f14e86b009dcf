/* layer.h - the layer interface of the sequential network.
 *
 * A layer is a small struct (its configuration from the model file, its shapes,
 * views of its parameters) plus a pointer to a const table of operations, one
 * table per kind (dense_ops, relu_ops, ...), each defined in its own file.
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
 */
#ifndef FMNIST_LAYER_H
#define FMNIST_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/tensor.h"
#include "util/rng.h"
#include "util/status.h"

typedef enum { MODE_EVAL = 0, MODE_TRAIN = 1, MODE_MC = 2 } Mode;

typedef struct Layer Layer;

/* What the model file says about one layer (filled by the parser). */
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

typedef struct LayerOps {
    const char *kind;
    /* Checks that the layer fits its input shape, sets l->out, l->nw, l->nb
     * (weight and bias element counts), l->nbuf (buffer floats) and
     * l->ws_per_sample (scratch floats needed per sample of a batch). Errors
     * name the model file's line. */
    Status (*setup)(Layer *l, Err *e);
    /* Fills w and b, and buf (PyTorch's default initialization for the kind). */
    void (*init)(Layer *l, Rng *r);
    void (*forward)(Layer *l, const float *x, float *y, int n, Mode mode, uint64_t key);
    void (*backward)(Layer *l, const float *x, const float *y, const float *dy, float *dx, int n);
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
    uint64_t key;         /* dropout: the key of the last MODE_TRAIN forward */
    int fuse_relu;        /* conv, dense, batchnorm: applies the relu     */
                          /* after it,                                   */
                          /* which net_forward/backward then skip         */
    int fuse_pool;        /* conv with fuse_relu: also does the 2x2       */
                          /* stride-2 maxpool after the relu, writing    */
    float *pool_out;      /* its output here (that layer's buffer) and   */
                          /* taking its gradient in backward             */
};

/* The table of kinds; NULL if kind is unknown. */
const LayerOps *layer_find_ops(const char *kind);

extern const LayerOps flatten_ops, dense_ops, relu_ops, dropout_ops;
extern const LayerOps conv_ops, maxpool_ops, avgpool_ops, batchnorm_ops;

#endif
