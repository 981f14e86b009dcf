/* loss.c - softmax + cross-entropy, fused (see loss.h).
 *
 * loss_i = logsumexp(z_i) - z_i[y_i]; d loss_i / d z_i = softmax(z_i) - onehot(y_i).
 * The sum over the batch is taken in sample order in double precision, so it
 * does not depend on the thread count.
 *
 * With label smoothing eps (softmax_xent_smooth), the target is
 * (1 - eps) * onehot(y_i) + eps / k: loss_i = (1 - eps) * (lse - z[y_i]) +
 * eps * (lse - mean_j z_j), gradient softmax - target. */
#include "nn/loss.h"

#include <stddef.h>

#include "nn/softmax.h"

double softmax_xent(const float *logits, const int *labels, int n, int k, float scale, float *dlogits,
                    int *correct)
{
    double total = 0.0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        int arg;
        float *d = dlogits ? dlogits + (size_t)i * k : NULL;
        double lse = d ? softmax_row_scaled(z, k, scale, d, &arg) : softmax_row(z, k, NULL, &arg);
        total += lse - z[labels[i]];
        right += arg == labels[i];
        if (d) d[labels[i]] -= scale; /* scale * (softmax - onehot) */
    }
    if (correct) *correct = right;
    return total;
}

/* Row z's smoothed loss given its log-sum-exp: (1 - eps) (lse - z_y) +
 * eps (lse - mean_j z_j), the mean in double in index order. */
static double smooth_row(const float *z, int k, int y, double lse, double eps)
{
    double sum = 0.0;
    for (int j = 0; j < k; j++) sum += z[j];
    return (1.0 - eps) * (lse - z[y]) + eps * (lse - sum / k);
}

double softmax_xent_smooth(const float *logits, const int *labels, int n, int k, float eps, float scale,
                           float *dlogits, int *correct)
{
    if (eps == 0.0f) return softmax_xent(logits, labels, n, k, scale, dlogits, correct);
    const float spread = (float)((double)scale * eps / k), hit = (float)((double)scale * (1.0 - eps));
    double total = 0.0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        int arg;
        float *d = dlogits ? dlogits + (size_t)i * k : NULL;
        double lse = d ? softmax_row_scaled(z, k, scale, d, &arg) : softmax_row(z, k, NULL, &arg);
        total += smooth_row(z, k, labels[i], lse, eps);
        right += arg == labels[i];
        if (!d) continue;
        for (int j = 0; j < k; j++) d[j] -= spread; /* scale * (softmax - eps/k - (1-eps) onehot) */
        d[labels[i]] -= hit;
    }
    if (correct) *correct = right;
    return total;
}
