/* args.c - strict flag parsing (see args.h). */
#include "util/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/suggest.h"

static Status bad(Err *e, const char *name, const char *what, const char *val)
{
    return err_set(e, ST_ERR_ARG, "--%s: %s, got '%s'", name, what, val);
}

static int to_double(const char *s, double *v)
{
    errno = 0;
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && !errno && isfinite(*v);
}

static Status set_value(ArgSpec *a, const char *val, Err *e)
{
    char what[128];
    double v;
    switch (a->type) {
    case ARG_INT: {
        snprintf(what, sizeof what, "expected a whole number from %.0f to %.0f", a->lo, a->hi);
        errno = 0;
        char *end;
        long n = strtol(val, &end, 10);
        if (end == val || *end || errno || n < a->lo || n > a->hi) return bad(e, a->name, what, val);
        *(int *)a->dst = (int)n;
        return ST_OK;
    }
    case ARG_FLOAT:
        snprintf(what, sizeof what, "expected a number from %g to %g", a->lo, a->hi);
        if (!to_double(val, &v) || v < a->lo || v > a->hi) return bad(e, a->name, what, val);
        *(float *)a->dst = (float)v;
        return ST_OK;
    case ARG_STR:
        if (!*val) return bad(e, a->name, "expected a non-empty value", val);
        *(const char **)a->dst = val;
        return ST_OK;
    case ARG_FLOATS:
    case ARG_FLOAT_LISTS: {
        FloatList *fl = a->dst;
        if (a->type == ARG_FLOAT_LISTS) {
            FloatLists *fls = a->dst;
            if (fls->n == ARGS_MAX_LISTS) return bad(e, a->name, "given too many times", val);
            fl = &fls->v[fls->n++];
        }
        snprintf(what, sizeof what, "expected comma-separated numbers from %g to %g", a->lo, a->hi);
        char buf[1024];
        if (strlen(val) >= sizeof buf) return bad(e, a->name, "value too long", val);
        strcpy(buf, val);
        fl->n = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (fl->n == ARGS_MAX_FLOATS) return bad(e, a->name, "too many values", val);
            if (!to_double(t, &v) || v < a->lo || v > a->hi) return bad(e, a->name, what, val);
            fl->v[fl->n++] = (float)v;
        }
        if (!fl->n || val[strlen(val) - 1] == ',' || val[0] == ',' || strstr(val, ",,"))
            return bad(e, a->name, what, val);
        return ST_OK;
    }
    case ARG_STRS: {
        StrList *sl = a->dst;
        if (!*val) return bad(e, a->name, "expected a non-empty value", val);
        if (sl->n == ARGS_MAX_LISTS) return bad(e, a->name, "given too many times", val);
        sl->v[sl->n++] = val;
        return ST_OK;
    }
    case ARG_SWITCH:
        break;
    }
    return ST_OK;
}

/* "; did you mean --NAME?" for the flag of specs and more nearest to word
 * (its name without dashes, nlen characters), or "" if none is near. */
static const char *did_you_mean(const char *word, size_t nlen, const ArgSpec *specs, int nspecs, const ArgSpec *more,
                                int nmore, char *buf, size_t len)
{
    char w[SUGGEST_MAX_LEN + 1];
    if (nlen > SUGGEST_MAX_LEN) return "";
    memcpy(w, word, nlen);
    w[nlen] = 0;
    Suggest s;
    suggest_init(&s, w);
    for (int k = 0; k < nspecs; k++) suggest_try(&s, specs[k].name);
    for (int k = 0; k < nmore; k++) suggest_try(&s, more[k].name);
    suggest_try(&s, "help");
    if (!s.best) return "";
    snprintf(buf, len, "; did you mean --%s?", s.best);
    return buf;
}

Status args_parse(int argc, char **argv, ArgSpec *specs, int nspecs, const char **pos, int maxpos, int *npos,
                  int *help, Err *e)
{
    *npos = 0;
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
            if (arg[0] == '-' && arg[1] != 0) {
                const char *w = arg + strspn(arg, "-");
                char hint[96];
                return err_set(e, ST_ERR_ARG, "unknown flag '%s' (flags are --name VALUE%s)", arg,
                               did_you_mean(w, strcspn(w, "="), specs, nspecs, NULL, 0, hint, sizeof hint));
            }
            if (*npos >= maxpos) return err_set(e, ST_ERR_ARG, "unexpected argument '%s'", arg);
            pos[(*npos)++] = arg;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        ArgSpec *a = NULL;
        for (int k = 0; k < nspecs; k++)
            if (strlen(specs[k].name) == nlen && !strncmp(specs[k].name, name, nlen)) a = &specs[k];
        if (!a) {
            char msg[sizeof e->msg];
            return err_set(e, ST_ERR_ARG, "%s", args_unknown(name, nlen, specs, nspecs, NULL, 0, msg, sizeof msg));
        }
        if (a->seen && a->type != ARG_FLOAT_LISTS && a->type != ARG_STRS) return err_set(e, ST_ERR_ARG, "--%s given twice", a->name);
        a->seen = 1;
        if (a->type == ARG_SWITCH) {
            if (eq) return err_set(e, ST_ERR_ARG, "--%s takes no value", a->name);
            *(int *)a->dst = 1;
            continue;
        }
        const char *val;
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return err_set(e, ST_ERR_ARG, "--%s needs a value (%s)", a->name, a->meta ? a->meta : "VALUE");
        Status st = set_value(a, val, e);
        if (st) return st;
    }
    return ST_OK;
}

const char *args_unknown(const char *name, size_t nlen, const ArgSpec *specs, int nspecs, const ArgSpec *more,
                         int nmore, char *buf, size_t len)
{
    char hint[96];
    snprintf(buf, len, "unknown flag '--%.*s'%s", (int)(nlen < 200 ? nlen : 200), name,
             did_you_mean(name, nlen, specs, nspecs, more, nmore, hint, sizeof hint));
    return buf;
}

const ArgSpec *args_find(const ArgSpec *specs, int nspecs, const void *dst)
{
    for (int k = 0; k < nspecs; k++)
        if (specs[k].dst == dst) return &specs[k];
    return NULL;
}

int args_given(const ArgSpec *specs, int nspecs, const void *dst)
{
    const ArgSpec *a = args_find(specs, nspecs, dst);
    return a && a->seen;
}

void args_print_help(const ArgSpec *specs, int nspecs, void *file)
{
    FILE *f = file;
    for (int k = 0; k < nspecs; k++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", specs[k].name, specs[k].meta ? " " : "",
                 specs[k].meta ? specs[k].meta : "");
        fprintf(f, "  %-24s %s\n", left, specs[k].help);
    }
}
