/* penalty.c - weight norm and penalty value (see penalty.h). A pass over the
 * parameters in a fixed order; cheap next to one batch's forward pass. */
#include "nn/penalty.h"

#include <math.h>

double penalty_weight_norm(const Net *net)
{
    double s = 0;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *t = &net->tensors[k];
        if (t->is_bias || t->is_buffer) continue;
        const float *w = net->params + t->offset;
        for (size_t i = 0; i < t->numel; i++) s += (double)w[i] * w[i];
    }
    return sqrt(s);
}

double penalty_value(const float *w, const ParamInfo *t, int nt, const OptConfig *c)
{
    if (c->weight_decay == 0.0f && c->l1 == 0.0f) return 0.0;
    double sq = 0, ab = 0;
    for (int k = 0; k < nt; k++) {
        if (t[k].is_buffer || (t[k].is_bias && !c->decay_bias)) continue;
        const float *v = w + t[k].offset;
        for (size_t i = 0; i < t[k].numel; i++) {
            sq += (double)v[i] * v[i];
            ab += fabs((double)v[i]);
        }
    }
    return 0.5 * c->weight_decay * sq + (double)c->l1 * ab;
}
