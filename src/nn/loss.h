/* loss.h - fused softmax + cross-entropy over a batch of logits. */
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

#endif
