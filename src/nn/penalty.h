/* penalty.h - the size of a network's weights, for logs and reports.
 *
 * penalty_weight_norm is the L2 norm of the weights (biases excluded), the
 * `weight_norm` column of log.csv; penalty_value is the regularization term
 * the optimizer's gradients correspond to, added to the reported training
 * loss by --report-penalty. Both are serial sums in double in arena order,
 * so they do not depend on the thread count. */
#ifndef FMNIST_PENALTY_H
#define FMNIST_PENALTY_H

#include "nn/net.h"
#include "nn/optim.h"

/* sqrt(sum w^2) over the tensors of net that are neither biases (nor
 * batchnorm weights, grouped with them) nor buffers. */
double penalty_weight_norm(const Net *net);

/* weight_decay/2 * ||w||^2 + l1 * ||w||_1 over the tensors t[0..nt) of the
 * arena w that the optimizer c penalizes (weights; biases too if
 * c->decay_bias; never buffers). For adamw the decoupled decay is counted the same way. */
double penalty_value(const float *w, const ParamInfo *t, int nt, const OptConfig *c);

#endif
