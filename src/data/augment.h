/* augment.h - data augmentation of training batches: random crop with zero
 * padding, horizontal flip, random erasing.
 *
 * Applied to a normalized batch after dataset_batch, in training only. Every
 * random number is a counter-based hash of (key, sample, draw), the key a
 * function of (seed, step): a batch is augmented the same way whatever the
 * thread count, and a resumed run draws the same augmentations. */
#ifndef FMNIST_AUGMENT_H
#define FMNIST_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef struct {
    int crop;    /* > 0: pad by crop pixels of black, then crop h x w at a random
                    offset (torchvision RandomCrop(h, padding=crop))           */
    int flip;    /* mirror left-right with probability 1/2 (RandomHorizontalFlip) */
    int erase;   /* with probability 1/2 set a random rectangle (2-33% of the
                    area, aspect 0.3-3.3) to 0 after normalization, the mean
                    (torchvision RandomErasing's defaults)                     */
} AugConfig;

/* Adds the items of spec, comma-separated: "crop=P" (P in 1..8), "flip",
 * "erase"; several calls accumulate. ST_ERR_ARG names a bad item. */
Status aug_parse(const char *spec, AugConfig *a, Err *e);
/* "crop=2,flip,erase" ("" when none is on), cut to len bytes. */
void aug_format(const AugConfig *a, char *buf, size_t len);
int aug_active(const AugConfig *a);

/* The key of the augmentations of optimizer step `step` under seed. */
uint64_t aug_key(uint64_t seed, uint64_t step);

/* Augments x in place: n samples of h x w floats (one channel), in the order
 * crop, flip, erase. black is the normalized value of a black pixel
 * ((0 - mean)/std): what the crop's padding shows. x's samples are samples
 * first .. first + n of the batch: each sample's draws are keyed by its
 * place in the batch, so ranks holding parts of a batch draw what one
 * process holding all of it draws. */
void aug_apply(const AugConfig *a, float *x, int n, int first, int h, int w, float black, uint64_t key);

/* Mirrors x left-right in place: each of its `rows` rows of w floats is
 * reversed (n images of h rows: rows = n * h). The flip of aug_apply and of
 * test-time augmentation (train/tta.h). */
void aug_mirror_rows(float *x, size_t rows, int w);

#endif
