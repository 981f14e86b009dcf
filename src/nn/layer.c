/* layer.c - the table of layer kinds, and the number parsers their parse
 * hooks share.
 *
 * Adding a kind is its own file plus one line in KINDS (and its extern just
 * above): the parser, net_build, the exports and the checkpoint find
 * everything else in its LayerOps. */
#include "nn/layer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const LayerOps flatten_ops, relu_ops, dense_ops, dropout_ops, conv_ops, maxpool_ops, avgpool_ops,
    batchnorm_ops;
extern const LayerOps dropout2d_ops;

/* In the order the parser lists them when a word is not a kind. */
static const LayerOps *const KINDS[] = {
    &flatten_ops, &relu_ops, &dense_ops, &dropout_ops, &conv_ops, &maxpool_ops, &avgpool_ops, &batchnorm_ops,
    &dropout2d_ops,
};

enum { NKINDS = sizeof KINDS / sizeof KINDS[0] };

const LayerOps *layer_find_ops(const char *kind)
{
    for (int i = 0; i < NKINDS; i++)
        if (!strcmp(KINDS[i]->kind, kind)) return KINDS[i];
    return NULL;
}

const LayerOps *layer_ops_at(int i) { return i >= 0 && i < NKINDS ? KINDS[i] : NULL; }

int layer_parse_int(const char *s, long lo, long hi, int *out)
{
    if (!isdigit((unsigned char)*s)) return 0;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

int layer_parse_double(const char *s, double *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || fabs(v) > 1e30) return 0;
    *out = v;
    return 1;
}

int layer_parse_float(const char *s, float *out)
{
    double v;
    if (!layer_parse_double(s, &v)) return 0;
    *out = (float)v;
    return 1;
}

void layer_format_float(float v, char *buf, size_t len)
{
    if (!buf || len == 0) return; /* (and gcc's -fsanitize build cannot warn of a NULL buf) */
    for (int prec = 1; prec <= 9; prec++) { /* 9 significant digits always give the float back */
        snprintf(buf, len, "%.*g", prec, (double)v);
        float back;
        if (layer_parse_float(buf, &back) && back == v) return;
    }
}

int layer_parse_dims(const char *s, int n, long hi, int *dims)
{
    char buf[64];
    if (strlen(s) >= sizeof buf) return 0;
    strcpy(buf, s);
    char *p = buf;
    for (int i = 0; i < n; i++) {
        char *x = strchr(p, 'x');
        if (i < n - 1) {
            if (!x) return 0;
            *x = 0;
        } else if (x) {
            return 0;
        }
        if (!layer_parse_int(p, 1, hi, &dims[i])) return 0;
        p = x ? x + 1 : p;
    }
    return 1;
}

#define MAX_KERNEL 64

Status layer_parse_window(LayerSpec *s, const char *k, int is_pool, const LayerArgs *a, Err *e)
{
    int d[2];
    if (layer_parse_int(k, 1, MAX_KERNEL, &d[0])) d[1] = d[0];
    else if (!layer_parse_dims(k, 2, MAX_KERNEL, d))
        return err_set(e, ST_ERR_FORMAT, "%s: bad kernel size '%s' (expected K or KHxKW, from 1 to 64)", s->kind, k);
    s->kh = d[0];
    s->kw = d[1];
    s->stride = !is_pool ? 1 : s->kh == s->kw ? s->kh : 0;
    for (int j = 0; j < a->nopt; j++) {
        int v, is_pad = !strcmp(a->key[j], "pad");
        if (!layer_parse_int(a->kval[j], is_pad ? 0 : 1, MAX_KERNEL, &v))
            return err_set(e, ST_ERR_FORMAT, "%s=%s is not a whole number in range (stride 1-64, pad 0-64)", a->key[j],
                           a->kval[j]);
        if (is_pad) s->pad = v;
        else s->stride = v;
    }
    if (!s->stride) return err_set(e, ST_ERR_FORMAT, "%s: a rectangular window needs stride=S", s->kind);
    return ST_OK;
}
