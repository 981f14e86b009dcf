/* netspec.c - freeing a NetSpec and setting its dropout rates (netspec.h). */
#include "nn/netspec.h"

#include <stdlib.h>

void netspec_free(NetSpec *s)
{
    if (!s) return;
    free(s->text);
    s->text = NULL;
    s->nlayers = 0;
}

/* 1 if layer spec l is of a kind with a dropout rate. */
static int is_dropout(const LayerSpec *l)
{
    const LayerOps *ops = layer_find_ops(l->kind);
    return ops && (ops->flags & LAYER_DROPOUT);
}

int netspec_count_dropout(const NetSpec *s)
{
    int n = 0;
    for (int i = 0; i < s->nlayers; i++) n += is_dropout(&s->layers[i]);
    return n;
}

Status netspec_set_dropout(NetSpec *s, const float *p, int np, Err *e)
{
    int have = netspec_count_dropout(s);
    if (np != have)
        return err_set(e, ST_ERR_ARG, "%d dropout rate%s given, but %s has %d dropout layer%s", np, np == 1 ? "" : "s",
                       s->path, have, have == 1 ? "" : "s");
    for (int i = 0; i < np; i++)
        if (!(p[i] >= 0.0f && p[i] < 1.0f)) return err_set(e, ST_ERR_ARG, "dropout rate %g is not in [0, 1)", (double)p[i]);
    for (int i = 0, j = 0; i < s->nlayers; i++)
        if (is_dropout(&s->layers[i])) s->layers[i].p = p[j++];
    return ST_OK;
}
