/* confusion.h - the confusion matrix of a set of predictions, its text
 * table with per-class accuracy, the class names, and which images to show
 * first in an error grid (the misclassified ones). */
#ifndef FMNIST_CONFUSION_H
#define FMNIST_CONFUSION_H

#include <stddef.h>
#include <stdint.h>

#include "util/fileio.h"

/* The Fashion-MNIST name of class c when there are 10 classes ("T-shirt/top",
 * ..., "Ankle boot"); otherwise c's number, written into buf (len bytes). */
const char *confusion_class_name(int c, int nclasses, char *buf, size_t len);

/* cm (k x k, row = true class, column = predicted) counts the n pairs
 * (labels[i], pred[i]); every value must be < k. cm is zeroed first. */
void confusion_count(const int *pred, const uint8_t *labels, int n, int k, long *cm);

/* Appends the matrix as text to b: a header of predicted-class numbers, one
 * row per true class (number, name, counts, the row's accuracy), then the
 * total accuracy. names: k class names. */
void confusion_format(const long *cm, int k, const char *const *names, Buf *b);

/* The first `count` image indices to show: every misclassified image in data
 * order, then correctly classified ones in data order. Writes at most count
 * indices into idx and returns how many (min(count, n)). */
int confusion_errors_first(const int *pred, const uint8_t *labels, int n, int count, int *idx);

#endif
