/* softmax.c - softmax and top-k (see softmax.h). */
#include "nn/softmax.h"

#include <math.h>

/* lse of z[0..k), and the index of its largest entry (first on ties). */
static double row_lse(const float *z, int k, int *argmax)
{
    int arg = 0;
    float m = z[0];
    for (int j = 1; j < k; j++)
        if (z[j] > m) m = z[j], arg = j;
    double s = 0.0;
    for (int j = 0; j < k; j++) s += exp((double)z[j] - m);
    if (argmax) *argmax = arg;
    return m + log(s);
}

double softmax_row(const float *z, int k, double *p, int *argmax)
{
    double lse = row_lse(z, k, argmax);
    if (p)
        for (int j = 0; j < k; j++) p[j] = exp((double)z[j] - lse);
    return lse;
}

double softmax_row_scaled(const float *z, int k, float scale, float *p, int *argmax)
{
    double lse = row_lse(z, k, argmax);
    for (int j = 0; j < k; j++) p[j] = (float)exp((double)z[j] - lse) * scale;
    return lse;
}

void softmax_topk(const double *v, int k, int ntop, int *top)
{
    for (int t = 0; t < ntop; t++) { /* the t-th largest: the largest not taken yet */
        top[t] = -1;
        for (int c = 0; c < k; c++) {
            int taken = 0;
            for (int u = 0; u < t; u++) taken |= top[u] == c;
            if (!taken && (top[t] < 0 || v[c] > v[top[t]])) top[t] = c;
        }
    }
}
