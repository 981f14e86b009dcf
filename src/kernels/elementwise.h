/* elementwise.h - the element-wise update kernels of the optimizers.
 *
 * Each element is updated independently of the others, so splitting the
 * arrays between threads (OpenMP, static schedule) cannot change a result:
 * the output is bit-identical whatever the thread count. */
#ifndef FMNIST_ELEMENTWISE_H
#define FMNIST_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

/* SGD: g' = g + wd*w; with mu != 0: b = first ? g' : mu*b + g',
 * g' = nesterov ? g' + mu*b : b;  w -= lr*g'. */
void ew_sgd(size_t n, float *w, const float *g, float *b, float lr, float wd, float mu, int nesterov, int first);

/* Adam/AdamW: g' = g + l2*w; w *= shrink; m = b1*m + (1-b1)*g';
 * v = b2*v + (1-b2)*g'^2;  w -= step * m / (sqrt(v)/bc2_sqrt + eps). */
void ew_adam(size_t n, float *w, const float *g, float *m, float *v, float l2, float shrink, float b1, float b2,
             float step, float bc2_sqrt, float eps);

/* The element-wise layer passes, parallel over elements above PAR_MIN floats
 * (each element written by exactly one thread: bit-identical for any team).
 *
 * ew_relu:          y[i] = x[i] > 0 ? x[i] : 0
 * ew_relu_backward: dx[i] = x[i] > 0 ? dy[i] : 0
 * ew_dropout:       y[i] = rng_hash_uniform(key, offset + i) >= p ? x[i] * scale : 0
 *                   (forward on x, or backward on dy: the mask is recomputed;
 *                   offset: x's first element's index in the whole batch)
 * ew_add_bias:      y is (rows, cols, inner): y[(r*cols + j)*inner + q] += b[j]
 *                   (dense: inner = 1; conv: inner = OH*OW)
 * ew_add_bias_relu: y is (rows, cols): y[r*cols + j] = max(y[r*cols + j] + b[j], 0),
 *                   as ew_add_bias then ew_relu in one pass */
void ew_relu(size_t n, const float *x, float *y);
void ew_relu_backward(size_t n, const float *x, const float *dy, float *dx);
void ew_dropout(size_t n, const float *x, float *y, uint64_t key, uint64_t offset, float p, float scale);
void ew_add_bias(size_t rows, size_t cols, size_t inner, float *y, const float *b);
void ew_add_bias_relu(size_t rows, size_t cols, float *y, const float *b);

/* x[i*hw + j] = lut[src[idx[i]*hw + j]] for i < n, j < hw: a batch of byte
 * images gathered by index and mapped through a table (parallel over images). */
void ew_gather_lut(size_t n, size_t hw, const uint8_t *src, const uint32_t *idx, const float *lut, float *x);
/* 1 if no v[i] is NaN or infinite (parallel; the answer is exact whatever
 * the thread count). */
int ew_all_finite(size_t n, const float *v);

#endif
