/* onnx.h - the small ONNX writer a layer kind's export hook writes through.
 *
 * model/export.c implements it (protobuf, the initializers, the graph's input
 * and output); a kind's onnx hook (layer.h) only says which nodes compute it
 * at inference. The tensors a node reads are named as in the state_dict
 * ("INDEX.weight", "INDEX.running_mean": onnx_name); the values between layers
 * are named by the exporter: a hook reads its input from in and gives the
 * output of its last node the name out. */
#ifndef FMNIST_ONNX_H
#define FMNIST_ONNX_H

#include <stdint.h>
#include <stdio.h>

#include "nn/layer.h"

struct OnnxOut {
    const char *in;  /* the value the layer reads                         */
    const char *out; /* the value its last node must write                */
    int rank;        /* in's rank: 4 (N,C,H,W) or 2 (N,F); a hook that     */
                     /* changes it sets the rank of out                   */
    /* Starts a node of type op, named name, reading in[0..nin) and writing
     * out; the attributes written after it belong to it. */
    void (*node)(OnnxOut *o, const char *op, const char *name, const char *const *in, int nin, const char *out);
    void (*attr_int)(OnnxOut *o, const char *name, int64_t v);
    void (*attr_ints)(OnnxOut *o, const char *name, const int64_t *v, int n);
    void (*attr_float)(OnnxOut *o, const char *name, float v);
};

/* "INDEX.what" into buf (a tensor, or a node's name): returns buf. */
static inline const char *onnx_name(char *buf, size_t len, const Layer *l, const char *what)
{
    snprintf(buf, len, "%d.%s", l->index, what);
    return buf;
}

#endif
