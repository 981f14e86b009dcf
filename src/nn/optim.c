/* optim.c - optimizer steps (formulas in optim.h); the per-element updates
 * are kernels/elementwise.c. */
#include "nn/optim.h"

#include "kernels/elementwise.h"
#include "kernels/l1grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

OptConfig optim_defaults(void)
{
    return (OptConfig){.kind = OPT_ADAM, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
}

static const char *const NAMES[] = {"sgd", "adam", "adamw"};

int optim_parse_kind(const char *s, OptKind *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(s, NAMES[i])) { /* Adam, SGD, AdamW: as PyTorch spells them */
            *out = (OptKind)i;
            return 1;
        }
    return 0;
}

const char *optim_kind_name(OptKind k) { return NAMES[k]; }

static Status init(Optim *o, const OptConfig *cfg, size_t n, int need_m, int need_v, Err *e)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    if (need_m) o->m = calloc(n ? n : 1, sizeof(float));
    if (need_v) o->v = calloc(n ? n : 1, sizeof(float));
    if (cfg->l1 > 0.0f) o->gl1 = calloc(n ? n : 1, sizeof(float));
    if ((need_m && !o->m) || (need_v && !o->v) || (cfg->l1 > 0.0f && !o->gl1)) {
        optim_free(o);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the optimizer state");
    }
    return ST_OK;
}

Status optim_init(Optim *o, const OptConfig *cfg, size_t n, Err *e)
{
    /* only the moments a step uses: plain SGD none, SGD with momentum m */
    return init(o, cfg, n, cfg->kind != OPT_SGD || cfg->momentum != 0.0f, cfg->kind != OPT_SGD, e);
}

Status optim_init_both(Optim *o, const OptConfig *cfg, size_t n, Err *e) { return init(o, cfg, n, 1, 1, e); }

void optim_free(Optim *o)
{
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o->gl1);
    o->m = o->v = o->gl1 = NULL;
}

void optim_step(Optim *o, float *w, const float *g, const ParamInfo *t, int nt)
{
    o->t++;
    const OptConfig *c = &o->cfg;
    /* Adam's bias corrections, in double as torch computes them */
    float step = (float)(c->lr / (1.0 - pow(c->beta1, (double)o->t)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, (double)o->t));
    for (int k = 0; k < nt; k++) {
        if (t[k].is_buffer) continue; /* running statistics: not trained */
        size_t off = t[k].offset, n = t[k].numel;
        float wd = (t[k].is_bias && !c->decay_bias) ? 0.0f : c->weight_decay;
        const float *gk = g + off;
        if (o->gl1 && !(t[k].is_bias && !c->decay_bias)) { /* L1: g + l1*sign(w) */
            l1grad_add(n, w + off, gk, o->gl1 + off, c->l1);
            gk = o->gl1 + off;
        }
        if (c->kind == OPT_SGD) {
            ew_sgd(n, w + off, gk, o->m ? o->m + off : NULL, c->lr, wd, c->momentum, c->nesterov, o->t == 1);
        } else {
            int decoupled = c->kind == OPT_ADAMW;
            ew_adam(n, w + off, gk, o->m + off, o->v + off, decoupled ? 0.0f : wd,
                    decoupled ? 1.0f - c->lr * wd : 1.0f, c->beta1, c->beta2, step, bc2_sqrt, c->eps);
        }
    }
}
