/* split.h - a validation set held out of the training images, seeded.
 *
 * The held-out images are drawn by a seeded shuffle of all indices, so the
 * split depends only on (seed, the number of images, n): a resumed run draws
 * the same one. Not a shuffle of the training order (train.c does that). */
#ifndef FMNIST_SPLIT_H
#define FMNIST_SPLIT_H

#include <stdint.h>

#include "data/dataset.h"

/* Moves n images of d (1 <= n < d->n), chosen from seed, into *val (which
 * owns new buffers; free with dataset_free), in increasing index order; d
 * keeps the others in their order (its buffers are reused, not shrunk).
 * Errors: ST_ERR_ARG (n out of range), ST_ERR_NOMEM (*val zeroed, d intact). */
Status dataset_hold_out(Dataset *d, int n, uint64_t seed, Dataset *val, Err *e);

#endif
