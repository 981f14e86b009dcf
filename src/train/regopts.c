/* regopts.c - the "REG " settings text of a checkpoint (see regopts.h). */
#include "train/regopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void regopts_format(const TrainConfig *tc, char *buf, size_t len)
{
    char aug[64];
    aug_format(&tc->aug, aug, sizeof aug);
    const LrSchedule *l = &tc->lr;
    snprintf(buf, len,
             "l1=%.9g\nreport_penalty=%d\nval=%d\nearly_stop=%d\naug=%s\nlr_schedule=%s\nlr_base=%.9g\nwarmup=%d\n"
             "lr_step=%d\nlr_gamma=%.9g\nlr_epochs=%d\n",
             (double)tc->opt.l1, tc->report_penalty, tc->val ? tc->val->n : 0, tc->early_stop, aug,
             lrsched_kind_name(l->kind), (double)l->base, l->warmup, l->step, (double)l->gamma, l->epochs);
}

Status regopts_parse(const char *path, const char *text, TrainConfig *tc, int *nval, Err *e)
{
    *nval = 0;
    int line = 0;
    for (const char *p = text; *p;) {
        line++;
        size_t n = strcspn(p, "\n");
        char row[256], *eq;
        if (n >= sizeof row || !(eq = memchr(p, '=', n)))
            return err_set(e, ST_ERR_FORMAT, "%s: REG line %d: expected key=value, got '%.*s'", path, line,
                           (int)(n < 60 ? n : 60), p);
        memcpy(row, p, n);
        row[n] = 0;
        row[eq - p] = 0;
        const char *key = row, *val = row + (eq - p) + 1;
        if (!strcmp(key, "aug")) { /* a list of items, not a number */
            AugConfig a = {0};
            Err sub;
            if (*val && aug_parse(val, &a, &sub))
                return err_set(e, ST_ERR_FORMAT, "%s: REG line %d: bad value '%s' for aug", path, line, val);
            tc->aug = a;
            p += n;
            if (*p) p++;
            continue;
        }
        if (!strcmp(key, "lr_schedule")) { /* a name */
            if (!lrsched_parse_kind(val, &tc->lr.kind))
                return err_set(e, ST_ERR_FORMAT, "%s: REG line %d: bad value '%s' for lr_schedule", path, line, val);
            p += n;
            if (*p) p++;
            continue;
        }
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        int bad = end == val || *end || errno || !isfinite(v);
        if (!strcmp(key, "l1")) {
            bad |= !(v >= 0 && v <= 1e3);
            if (!bad) tc->opt.l1 = (float)v;
        } else if (!strcmp(key, "report_penalty")) {
            bad |= v != 0 && v != 1;
            if (!bad) tc->report_penalty = (int)v;
        } else if (!strcmp(key, "lr_base") || !strcmp(key, "lr_gamma")) {
            bad |= !(v >= 0 && v <= 1e3);
            if (!bad) *(key[3] == 'b' ? &tc->lr.base : &tc->lr.gamma) = (float)v;
        } else if (!strcmp(key, "warmup") || !strcmp(key, "lr_step") || !strcmp(key, "lr_epochs")) {
            bad |= !(v >= 0 && v <= 100000000) || v != floor(v);
            if (!bad) *(key[0] == 'w' ? &tc->lr.warmup : key[3] == 's' ? &tc->lr.step : &tc->lr.epochs) = (int)v;
        } else if (!strcmp(key, "val")) {
            bad |= !(v >= 0 && v <= 2147483647.0) || v != floor(v);
            if (!bad) *nval = (int)v;
        } else if (!strcmp(key, "early_stop")) {
            bad |= !(v >= 0 && v <= 100000) || v != floor(v);
            if (!bad) tc->early_stop = (int)v;
        } else {
            return err_set(e, ST_ERR_FORMAT, "%s: REG line %d: setting '%s' is not known to this fmnist", path, line,
                           key);
        }
        if (bad) return err_set(e, ST_ERR_FORMAT, "%s: REG line %d: bad value '%s' for %s", path, line, val, key);
        p += n;
        if (*p) p++;
    }
    return ST_OK;
}
