/* netspec.h - what a network is made of: the input and the list of layers.
 *
 * A NetSpec is what model/cfg.c parses a model file into and what net_build
 * builds a Net from (the Net then owns it). It holds the model text too, so
 * that a checkpoint can store the very file the net came from. Nothing here
 * parses text; a layer's fields (LayerSpec) are filled by its kind's parse
 * hook (layer.h). */
#ifndef FMNIST_NETSPEC_H
#define FMNIST_NETSPEC_H

#include "nn/layer.h"
#include "util/status.h"

#define NETSPEC_MAX_LAYERS 256

typedef struct {
    char path[256];     /* where it came from, for messages        */
    char *text;         /* the whole model file, NUL-terminated (owned) */
    Shape input;
    float mean, std;    /* input normalization: (p/255 - mean) / std */
    int nlayers;
    LayerSpec layers[NETSPEC_MAX_LAYERS];
} NetSpec;

/* Frees the text (s may be NULL); the layers are plain values. */
void netspec_free(NetSpec *s);

/* The number of dropout layers (kinds with LAYER_DROPOUT: dropout and
 * dropout2d), which train --dropout lists in model-file order. */
int netspec_count_dropout(const NetSpec *s);
/* Replaces their rates, in model-file order, by p[0..np). ST_ERR_ARG unless
 * np equals netspec_count_dropout and every rate is in [0, 1). */
Status netspec_set_dropout(NetSpec *s, const float *p, int np, Err *e);

#endif
