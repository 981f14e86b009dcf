/* lrsched.c - learning-rate schedules (formulas in lrsched.h). Computed in
 * double and rounded once to float, as torch keeps its rates in double. */
#include "train/lrsched.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static const char *const NAMES[] = {"constant", "step", "cosine"};

int lrsched_parse_kind(const char *s, LrKind *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, NAMES[i])) {
            *out = (LrKind)i;
            return 1;
        }
    return 0;
}

const char *lrsched_kind_name(LrKind k) { return NAMES[k]; }

int lrsched_active(const LrSchedule *s) { return s->kind != LRS_CONSTANT || s->warmup > 0; }

float lrsched_rate(const LrSchedule *s, int epoch, int batch, int nbatches)
{
    double base = s->base, done = (double)(epoch - 1) * nbatches + batch; /* steps before this one */
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
