/* lrsched.h - learning-rate schedules: constant, step, cosine, with linear
 * warm-up.
 *
 * The rate of a step is a pure function of (the schedule, the epoch, the
 * batch within it, the batches per epoch), so a resumed run gets the same
 * rates. Formulas, with t = the epochs done so far as a fraction
 * ((epoch-1) + batch/nbatches) and s = the optimizer steps of this run so far:
 *   warm-up (s < W*nbatches): lr = base * (s+1) / (W*nbatches)
 *   step:   lr = base * gamma^floor((epoch-1) / step)    (torch StepLR per epoch)
 *   cosine: lr = base * (1 + cos(pi * (t-W) / (E-W))) / 2 (CosineAnnealingLR,
 *           eta_min 0, per step, over the E-W epochs after the warm-up)
 * Not the optimizer: train.c sets the optimizer's lr before each step. */
#ifndef FMNIST_LRSCHED_H
#define FMNIST_LRSCHED_H

#include "util/status.h"

typedef enum { LRS_CONSTANT = 0, LRS_STEP, LRS_COSINE } LrKind;

typedef struct {
    LrKind kind;
    float base;     /* the --lr the schedule starts from                  */
    int warmup;     /* W epochs of linear warm-up (0: none)               */
    int step;       /* step: epochs between decays (>= 1)                 */
    float gamma;    /* step: the factor of each decay                     */
    int epochs;     /* cosine: E, the epochs it spans (the run's epochs)  */
} LrSchedule;

/* Parses "constant" / "step" / "cosine"; 0 if unknown. */
int lrsched_parse_kind(const char *s, LrKind *out);
const char *lrsched_kind_name(LrKind k);
/* 1 if the rate ever differs from base (a schedule or a warm-up). */
int lrsched_active(const LrSchedule *s);

/* The rate of the step at batch `batch` (from 0) of epoch `epoch` (from 1),
 * with nbatches batches per epoch. */
float lrsched_rate(const LrSchedule *s, int epoch, int batch, int nbatches);

#endif
