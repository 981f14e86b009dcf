/* ema.h - an exponential moving average of a net's arena (--ema DECAY).
 *
 * What timm's ModelEmaV2 does after each optimizer step, over every value of
 * the arena (parameters and batchnorm's running statistics alike):
 *     ema = a*ema + b*w,   a = decay, b = 1 - a   (float32; two products and
 * one sum, each rounded: no fused multiply-add, so the bits are those of
 * PyTorch's `e.mul_(a).add_(w * b)` on float32 tensors).
 * b is 1 - a in float32, exact for a in [0.5, 1) (Sterbenz), so a + b = 1
 * (timm rounds decay and 1 - decay, taken in double, to float32 each: a
 * 1-ulp different b; see NOTES). A count (a 0-d buffer: batchnorm's
 * num_batches_tracked) is copied, not averaged, as timm's ModelEmaV3 does for
 * integer buffers: it stays a whole number of batches. Elementwise, in
 * arena order, one thread: the same bits at any thread or rank count. */
#ifndef FMNIST_EMA_H
#define FMNIST_EMA_H

#include "nn/net.h"

/* 1 for decay in (0, 1), the range --ema takes; else 0 (NaN too). */
int ema_decay_ok(float decay);

/* One update of ema (the arena's layout: tensors t[0..nt), offsets into
 * both arrays) toward w, with decay a (ema_decay_ok). */
void ema_update(float *ema, const float *w, const ParamInfo *t, int nt, float decay);

#endif
