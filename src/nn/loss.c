/* loss.c - softmax + cross-entropy, fused (see loss.h).
 *
 * loss_i = logsumexp(z_i) - z_i[y_i]; d loss_i / d z_i = softmax(z_i) - onehot(y_i).
 * The sum over the batch is taken in sample order in double precision, so it
 * does not depend on the thread count. */
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
