/* ema.c - the exponential moving average of the arena (see ema.h). */
#include "nn/ema.h"

#include <string.h>

int ema_decay_ok(float decay) { return decay > 0.0f && decay < 1.0f; }

/* The products in their own statements: a compiler that contracts within
 * an expression (clang's default) could otherwise fuse one into an FMA. */
static void ema_tensor(float *e, const float *w, size_t n, float a, float b)
{
    for (size_t i = 0; i < n; i++) {
        float keep = a * e[i];
        float take = b * w[i];
        e[i] = keep + take;
    }
}

void ema_update(float *ema, const float *w, const ParamInfo *t, int nt, float decay)
{
    const float a = decay, b = 1.0f - decay;
    for (int k = 0; k < nt; k++) {
        const ParamInfo *p = &t[k];
        if (net_tensor_is_count(p)) memcpy(ema + p->offset, w + p->offset, p->numel * sizeof(float));
        else ema_tensor(ema + p->offset, w + p->offset, p->numel, a, b);
    }
}
