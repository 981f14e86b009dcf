/* l1grad.h - the L1 penalty's subgradient added to a gradient.
 *
 * out = g + a * sign(w) element by element (sign(0) = 0, as torch.sign);
 * each element is independent of the others, so splitting the arrays
 * between threads cannot change a result. Not the optimizers' updates
 * (elementwise.h): this only prepares the gradient they consume. */
#ifndef FMNIST_L1GRAD_H
#define FMNIST_L1GRAD_H

#include <stddef.h>

/* w, g, out: n floats each (out may not alias w; it may alias g). */
void l1grad_add(size_t n, const float *w, const float *g, float *out, float a);

#endif
