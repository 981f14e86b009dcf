/* confusion.c - confusion matrix, its table and the error-first image order
 * (see confusion.h). Counts are longs: no overflow for any data set that fits
 * in memory. */
#include "train/confusion.h"

#include <stdio.h>
#include <string.h>

static const char *const FASHION_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const char *confusion_class_name(int c, int nclasses, char *buf, size_t len)
{
    if (nclasses == 10 && c >= 0 && c < 10) return FASHION_NAMES[c];
    snprintf(buf, len, "%d", c);
    return buf;
}

void confusion_count(const int *pred, const uint8_t *labels, int n, int k, long *cm)
{
    memset(cm, 0, (size_t)k * (size_t)k * sizeof *cm);
    for (int i = 0; i < n; i++) cm[(size_t)labels[i] * k + pred[i]]++;
}

void confusion_format(const long *cm, int k, const char *const *names, Buf *b)
{
    int namew = 4;
    for (int i = 0; i < k; i++)
        if ((int)strlen(names[i]) > namew) namew = (int)strlen(names[i]);
    buf_printf(b, "confusion matrix (rows: true class, columns: predicted class)\n%*s", namew + 4, "");
    for (int j = 0; j < k; j++) buf_printf(b, " %5d", j);
    buf_printf(b, "  accuracy\n");
    long total = 0, right = 0;
    for (int i = 0; i < k; i++) {
        long row = 0;
        for (int j = 0; j < k; j++) row += cm[(size_t)i * k + j];
        buf_printf(b, "%2d  %-*s", i, namew, names[i]);
        for (int j = 0; j < k; j++) buf_printf(b, " %5ld", cm[(size_t)i * k + j]);
        buf_printf(b, "  %6.2f%%\n", row ? 100.0 * cm[(size_t)i * k + i] / row : 0.0);
        total += row;
        right += cm[(size_t)i * k + i];
    }
    buf_printf(b, "%ld of %ld right: %.2f%%\n", right, total, total ? 100.0 * right / total : 0.0);
}

int confusion_errors_first(const int *pred, const uint8_t *labels, int n, int count, int *idx)
{
    int m = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n && m < count; i++)
            if ((pred[i] != labels[i]) == (pass == 0)) idx[m++] = i;
    return m;
}
