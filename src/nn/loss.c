/* loss.c - softmax + cross-entropy, fused (see loss.h).
 *
 * loss_i = logsumexp(z_i) - z_i[y_i]; d loss_i / d z_i = softmax(z_i) - onehot(y_i).
 * The sum over the batch is taken in sample order in double precision, so it
 * does not depend on the thread count. */
#include "nn/loss.h"

#include <math.h>
#include <stddef.h>

double softmax_xent(const float *logits, const int *labels, int n, int k, float scale, float *dlogits,
                    int *correct)
{
    double total = 0.0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        int arg = 0;
        float m = z[0];
        for (int j = 1; j < k; j++)
            if (z[j] > m) m = z[j], arg = j;
        double s = 0.0;
        for (int j = 0; j < k; j++) s += exp((double)z[j] - m);
        double lse = m + log(s);
        total += lse - z[labels[i]];
        right += arg == labels[i];
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) d[j] = (float)(exp((double)z[j] - lse)) * scale;
            d[labels[i]] -= scale;
        }
    }
    if (correct) *correct = right;
    return total;
}
