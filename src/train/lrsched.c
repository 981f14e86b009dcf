/* lrsched.c - learning-rate schedules (formulas in lrsched.h). Computed in
 * double and rounded once to float, as torch keeps its rates in double. */
#include "train/lrsched.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#define PI 3.14159265358979323846

static const char *const NAMES[] = {"constant", "step", "cosine", "onecycle"};
enum { NKINDS = sizeof NAMES / sizeof NAMES[0] };

int lrsched_parse_kind(const char *s, LrKind *out)
{
    for (int i = 0; i < NKINDS; i++)
        if (!strcasecmp(s, NAMES[i])) {
            *out = (LrKind)i;
            return 1;
        }
    return 0;
}

const char *lrsched_kind_name(LrKind k) { return NAMES[k]; }

int lrsched_active(const LrSchedule *s) { return s->kind != LRS_CONSTANT || s->warmup > 0; }

/* torch's _annealing_cos: from a at p = 0 to b at p = 1. */
static double cosann(double a, double b, double p) { return b + (a - b) / 2 * (1 + cos(PI * p)); }

/* One-cycle's rate (or momentum, mom set) of the step after `done` steps:
 * OneCycleLR.get_lr's two phases, with its float phase ends. */
static double onecycle(const LrSchedule *s, double done, int nbatches, int mom)
{
    double total = (double)s->epochs * nbatches, p1 = LRS_ONECYCLE_PCT * total - 1, p2 = total - 1;
    double top = s->base, first = top / LRS_ONECYCLE_DIV, last = first / LRS_ONECYCLE_FINAL_DIV;
    if (done <= p1 && p1 > 0)
        return mom ? cosann(LRS_ONECYCLE_MOM_HI, LRS_ONECYCLE_MOM_LO, done / p1) : cosann(first, top, done / p1);
    double span = p2 - p1 > 0 ? p2 - p1 : 1, p = (done - p1) / span;
    if (p > 1) p = 1; /* a run resumed with more epochs than it planned: the floor */
    return mom ? cosann(LRS_ONECYCLE_MOM_LO, LRS_ONECYCLE_MOM_HI, p) : cosann(top, last, p);
}

int lrsched_cycles_momentum(const LrSchedule *s) { return s->kind == LRS_ONECYCLE; }

float lrsched_momentum(const LrSchedule *s, int epoch, int batch, int nbatches)
{
    if (s->kind != LRS_ONECYCLE) return 0.0f;
    return (float)onecycle(s, (double)(epoch - 1) * nbatches + batch, nbatches, 1);
}

float lrsched_rate(const LrSchedule *s, int epoch, int batch, int nbatches)
{
    double base = s->base, done = (double)(epoch - 1) * nbatches + batch; /* steps before this one */
    if (s->kind == LRS_ONECYCLE) return (float)onecycle(s, done, nbatches, 0);
    if (s->warmup > 0 && done < (double)s->warmup * nbatches) return (float)(base * (done + 1) / ((double)s->warmup * nbatches));
    if (s->kind == LRS_STEP) return (float)(base * pow(s->gamma, (double)((epoch - 1) / (s->step > 0 ? s->step : 1))));
    if (s->kind == LRS_COSINE) {
        double span = (double)(s->epochs - s->warmup) * nbatches, t = done - (double)s->warmup * nbatches;
        if (span <= 0) return (float)base;
        if (t > span) t = span;
        return (float)(base * (1 + cos(PI * t / span)) / 2);
    }
    return (float)base;
}
