/* loss.h - fused softmax + cross-entropy over a batch of logits, plain or
 * with label smoothing. */
#ifndef FMNIST_LOSS_H
#define FMNIST_LOSS_H

/* logits is (n, k); labels[i] in [0, k). Returns the SUM over the batch of
 * -log softmax(logits_i)[labels_i], computed stably (log-sum-exp with the max
 * subtracted), so large logits give finite results. If dlogits is not NULL it
 * receives scale * (softmax - onehot), i.e. the gradient of scale * sum; pass
 * scale = 1/n for the batch mean (PyTorch's default reduction). If correct is
 * not NULL it receives the number of rows whose arg-max (first on ties) is the
 * label. */
double softmax_xent(const float *logits, const int *labels, int n, int k, float scale, float *dlogits,
                    int *correct);

/* softmax_xent with label smoothing eps in [0, 1), PyTorch's
 * CrossEntropyLoss(label_smoothing=eps): row i's target is the mixture
 * t = (1 - eps) * onehot(y_i) + eps / k, so its loss is
 *   (1 - eps) * (-log p_{y_i}) + eps * mean_j(-log p_j)
 *     = (1 - eps) * (lse - z_{y_i}) + eps * (lse - mean_j z_j),
 * summed over the batch in sample order in double, and dlogits (if not NULL)
 * receives scale * (softmax - t). correct counts as softmax_xent does (the
 * smoothing changes no prediction). eps = 0 is softmax_xent itself, bit for
 * bit. */
double softmax_xent_smooth(const float *logits, const int *labels, int n, int k, float eps, float scale,
                           float *dlogits, int *correct);

#endif
