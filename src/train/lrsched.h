/* lrsched.h - learning-rate schedules: constant, step, cosine, with linear
 * warm-up, and one-cycle (with its momentum cycle).
 *
 * The rate of a step is a pure function of (the schedule, the epoch, the
 * batch within it, the batches per epoch), so a resumed run gets the same
 * rates. Formulas, with t = the epochs done so far as a fraction
 * ((epoch-1) + batch/nbatches) and s = the optimizer steps of this run so far:
 *   warm-up (s < W*nbatches): lr = base * (s+1) / (W*nbatches)
 *   step:   lr = base * gamma^floor((epoch-1) / step)    (torch StepLR per epoch)
 *   cosine: lr = base * (1 + cos(pi * (t-W) / (E-W))) / 2 (CosineAnnealingLR,
 *           eta_min 0, per step, over the E-W epochs after the warm-up)
 *   onecycle: torch's OneCycleLR with its defaults (pct_start 0.3, cos
 *           annealing, div_factor 25, final_div_factor 1e4, cycle_momentum
 *           with momentum 0.85 .. 0.95, two phases), per step over the run's
 *           T = E*nbatches steps, base the peak rate: with k = s (steps before
 *           this one) and P = 0.3*T - 1,
 *             k <= P: lr = cosann(base/25, base, k/P),
 *                     momentum = cosann(0.95, 0.85, k/P)
 *             else:   lr = cosann(base, base/25/1e4, (k-P)/(T-1-P)),
 *                     momentum = cosann(0.85, 0.95, (k-P)/(T-1-P))
 *           where cosann(a, b, p) = b + (a-b)/2 * (1 + cos(pi*p)). The
 *           momentum is SGD's momentum or Adam's beta1 of that step (as torch
 *           sets group['momentum'] or group['betas'][0]). No warm-up: the
 *           first phase is one.
 * Not the optimizer: train.c sets the optimizer's lr before each step. */
#ifndef FMNIST_LRSCHED_H
#define FMNIST_LRSCHED_H

#include "util/status.h"

typedef enum { LRS_CONSTANT = 0, LRS_STEP, LRS_COSINE, LRS_ONECYCLE } LrKind;

typedef struct {
    LrKind kind;
    float base;     /* the --lr the schedule starts from                  */
    int warmup;     /* W epochs of linear warm-up (0: none)               */
    int step;       /* step: epochs between decays (>= 1)                 */
    float gamma;    /* step: the factor of each decay                     */
    int epochs;     /* cosine, onecycle: E, the epochs it spans (the run's) */
} LrSchedule;

/* Parses "constant" / "step" / "cosine" / "onecycle"; 0 if unknown. */
int lrsched_parse_kind(const char *s, LrKind *out);
const char *lrsched_kind_name(LrKind k);
/* 1 if the rate ever differs from base (a schedule or a warm-up). */
int lrsched_active(const LrSchedule *s);

/* The rate of the step at batch `batch` (from 0) of epoch `epoch` (from 1),
 * with nbatches batches per epoch. */
float lrsched_rate(const LrSchedule *s, int epoch, int batch, int nbatches);

/* 1 if the schedule also sets the momentum of each step (onecycle). */
int lrsched_cycles_momentum(const LrSchedule *s);
/* That momentum (SGD's momentum, Adam's beta1) for the same step; with a
 * schedule that does not cycle it, 0. */
float lrsched_momentum(const LrSchedule *s, int epoch, int batch, int nbatches);

/* OneCycleLR's defaults, which onecycle uses. */
#define LRS_ONECYCLE_PCT 0.3
#define LRS_ONECYCLE_DIV 25.0
#define LRS_ONECYCLE_FINAL_DIV 1e4
#define LRS_ONECYCLE_MOM_LO 0.85
#define LRS_ONECYCLE_MOM_HI 0.95

#endif
