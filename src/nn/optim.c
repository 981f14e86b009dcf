/* optim.c - optimizer steps (formulas in optim.h). Element-wise and cheap
 * next to the matrix products, so plain loops the compiler vectorizes. */
#include "nn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

OptConfig optim_defaults(void)
{
    return (OptConfig){.kind = OPT_ADAM, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
}

static const char *const NAMES[] = {"sgd", "adam", "adamw"};

int optim_parse_kind(const char *s, OptKind *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, NAMES[i])) {
            *out = (OptKind)i;
            return 1;
        }
    return 0;
}

const char *optim_kind_name(OptKind k) { return NAMES[k]; }

Status optim_init(Optim *o, const OptConfig *cfg, size_t n, Err *e)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->m = calloc(n ? n : 1, sizeof(float));
    o->v = calloc(n ? n : 1, sizeof(float));
    if (!o->m || !o->v) {
        optim_free(o);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the optimizer state");
    }
    return ST_OK;
}

void optim_free(Optim *o)
{
    if (!o) return;
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

static void sgd_span(const OptConfig *c, long t, float wd, float *restrict w, const float *restrict g,
                     float *restrict b, size_t n)
{
    float lr = c->lr, mu = c->momentum;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        if (mu != 0.0f) {
            b[i] = t == 1 ? gi : mu * b[i] + gi;
            gi = c->nesterov ? gi + mu * b[i] : b[i];
        }
        w[i] -= lr * gi;
    }
}

static void adam_span(const OptConfig *c, long t, float wd, int decoupled, float *restrict w,
                      const float *restrict g, float *restrict m, float *restrict v, size_t n)
{
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    float bc1 = (float)(1.0 - pow(b1, (double)t));
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t));
    float step = c->lr / bc1;
    float shrink = decoupled ? 1.0f - c->lr * wd : 1.0f;
    float l2 = decoupled ? 0.0f : wd;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        w[i] *= shrink;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

void optim_step(Optim *o, float *w, const float *g, const ParamInfo *t, int nt)
{
    o->t++;
    const OptConfig *c = &o->cfg;
    for (int k = 0; k < nt; k++) {
        size_t off = t[k].offset, n = t[k].numel;
        float wd = (t[k].is_bias && !c->decay_bias) ? 0.0f : c->weight_decay;
        if (c->kind == OPT_SGD) sgd_span(c, o->t, wd, w + off, g + off, o->m + off, n);
        else adam_span(c, o->t, wd, c->kind == OPT_ADAMW, w + off, g + off, o->m + off, o->v + off, n);
    }
}
