/* softmax.h - the softmax of a row of logits, and its largest entries.
 *
 * The one softmax of the program: the loss and its gradient (nn/loss.c),
 * the class probabilities of eval and predict (train/mc.c) and predict's
 * ranking all go through here, so they agree to the last bit.
 *
 * In double, shifted by the largest logit m so that large logits stay
 * finite:
 *   lse = m + log(sum_j exp(z_j - m)),   p_j = exp(z_j - lse).
 * (p_j is the gradient of lse. Once |m| passes about 1e13 the rounding of
 * lse shows in p_j; the loss has always used this form, and training's
 * numbers are pinned to it.) */
#ifndef FMNIST_SOFTMAX_H
#define FMNIST_SOFTMAX_H

/* z: k logits (k >= 1). Returns lse, the log of the sum of exp(z_j).
 * p (k doubles, may be NULL): the softmax, p_j = exp(z_j - lse).
 * argmax (may be NULL): the index of the largest logit, the first on ties. */
double softmax_row(const float *z, int k, double *p, int *argmax);

/* softmax_row with p in float, each p_j rounded to float and then
 * multiplied by scale (the loss's gradient: scale * softmax). */
double softmax_row_scaled(const float *z, int k, float scale, float *p, int *argmax);

/* top[0..ntop): the indices of the ntop largest of v[0..k), largest first,
 * ties to the lower index (1 <= ntop <= k). */
void softmax_topk(const double *v, int k, int ntop, int *top);

#endif
