/* tta.h - test-time augmentation of an evaluation: none, or flip.
 *
 * Flip TTA evaluates each image twice in eval mode, as it is and mirrored
 * left-right (flipped along the width), and takes the mean of the two
 * logits, (z(x) + z(mirror x)) / 2, in float; the loss, accuracy and
 * probabilities are then those of the mean logits. The test and validation
 * evaluations of a run (TrainConfig.tta), `eval --tta` and eval's confusion
 * matrix go through tta_logits. Each image's result depends on that image
 * alone, so a batch's split into chunks (ranks) and the thread count change
 * nothing. */
#ifndef FMNIST_TTA_H
#define FMNIST_TTA_H

#include "nn/net.h"

typedef enum { TTA_NONE, TTA_FLIP } TtaKind;

/* "none" or "flip" into *k; 0 (and *k unchanged) for anything else. */
int tta_parse(const char *name, TtaKind *k);
/* "none" or "flip". */
const char *tta_name(TtaKind k);

/* The eval-mode logits of the n images in x (n x the net's input, in
 * 1..net->max_batch, normalized as dataset_batch does) into out (n x
 * nclasses): net_forward's, or with TTA_FLIP the mean of those of the images
 * and of their mirror images, (z(x) + z(mirror x)) * 0.5f element by element.
 * x is mirrored in place for the second pass and mirrored back: on return
 * it holds what it held. */
void tta_logits(Net *net, float *x, int n, TtaKind k, float *out);

#endif
