/* elementwise.h - the element-wise update kernels of the optimizers.
 *
 * Each element is updated independently of the others, so splitting the
 * arrays between threads (OpenMP, static schedule) cannot change a result:
 * the output is bit-identical whatever the thread count. */
#ifndef FMNIST_ELEMENTWISE_H
#define FMNIST_ELEMENTWISE_H

#include <stddef.h>

/* SGD: g' = g + wd*w; with mu != 0: b = first ? g' : mu*b + g',
 * g' = nesterov ? g' + mu*b : b;  w -= lr*g'. */
void ew_sgd(size_t n, float *w, const float *g, float *b, float lr, float wd, float mu, int nesterov, int first);

/* Adam/AdamW: g' = g + l2*w; w *= shrink; m = b1*m + (1-b1)*g';
 * v = b2*v + (1-b2)*g'^2;  w -= step * m / (sqrt(v)/bc2_sqrt + eps). */
void ew_adam(size_t n, float *w, const float *g, float *m, float *v, float l2, float shrink, float b1, float b2,
             float step, float bc2_sqrt, float eps);

#endif
