/* optim.h - SGD (momentum, Nesterov), Adam and AdamW over a flat arena.
 *
 * The formulas are torch.optim's (1.13), so that a run can be compared with
 * PyTorch step for step:
 *   sgd:   g += wd*w;  b = mu*b + g (b = g on the first step);
 *          g = nesterov ? g + mu*b : b;  w -= lr*g          (mu = 0: plain SGD)
 *   adam:  g += wd*w;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *          w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   adamw: w *= 1 - lr*wd, then adam's update with wd = 0 (decoupled decay)
 * Weight decay applies to weights only; biases (and batchnorm's weight, a
 * per-channel scale: is_bias in net.h) are decayed when decay_bias is set (a
 * bias shifts a unit's output but does not make the function more complex,
 * so penalizing it only costs fit). Buffers (batchnorm's running statistics,
 * is_buffer) are never touched: no update, no decay, no L1.
 * L1 (l1 > 0; with weight_decay: elastic net) adds its subgradient to the
 * gradient first, for every kind, on the same tensors: g += l1*sign(w)
 * (the penalty l1*||w||_1; adamw's decay stays decoupled). */
#ifndef FMNIST_OPTIM_H
#define FMNIST_OPTIM_H

#include <stddef.h>

#include "nn/net.h"
#include "util/status.h"

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW } OptKind;

typedef struct {
    OptKind kind;
    float lr;
    float momentum;     /* sgd */
    int nesterov;       /* sgd */
    float beta1, beta2, eps;
    float weight_decay;
    int decay_bias;
    float l1;           /* L1 strength (0: none); not in the OPTM section */
} OptConfig;

typedef struct {
    OptConfig cfg;
    size_t n;
    float *m, *v;       /* sgd: m is the momentum buffer (NULL without momentum), v NULL; adam: moments */
    float *gl1;         /* l1 > 0: scratch for g + l1*sign(w) (n floats) */
    long t;             /* steps taken */
} Optim;

/* The defaults: adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay. */
OptConfig optim_defaults(void);
/* Parses "sgd" / "adam" / "adamw". Returns 0 if unknown. */
int optim_parse_kind(const char *s, OptKind *out);
const char *optim_kind_name(OptKind k);

/* The state of cfg's optimizer for n parameters: only the moments its step
 * uses (plain SGD none, SGD with momentum m, Adam and AdamW both), zeroed. */
Status optim_init(Optim *o, const OptConfig *cfg, size_t n, Err *e);
/* The same with both moments, whatever cfg uses: a checkpoint's state, which
 * holds both. */
Status optim_init_both(Optim *o, const OptConfig *cfg, size_t n, Err *e);
void optim_free(Optim *o);
/* One step: w -= update(g) for every tensor in t[0..nt) (offsets into w, g). */
void optim_step(Optim *o, float *w, const float *g, const ParamInfo *t, int nt);

#endif
