/* settings.c - a run's settings text: one table of keys, read and written
 * (see settings.h). */
#include "train/settings.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_STR, K_INT, K_BOOL, K_U64, K_F32, K_OPTIM, K_SCHEDULE, K_AUG } KeyType;

enum {
    REQUIRED = 1,   /* a version 3 text must have it */
    V2_ONLY = 2     /* a key of version 2's REG only: read there, never written */
};

typedef struct {
    const char *key;
    KeyType type;
    size_t off;         /* of the field in RunSettings */
    double lo, hi;      /* K_INT, K_U64, K_F32: the range */
    int flags;
} Key;

#define AT(field) offsetof(RunSettings, field)

/* The settings, in the order they are written. */
static const Key KEYS[] = {
    {"model", K_STR, AT(model), 0, 0, REQUIRED},
    {"epochs", K_INT, AT(train.epochs), 1, 1e8, REQUIRED},
    {"batch", K_INT, AT(train.batch), 1, 1 << 20, REQUIRED},
    {"seed", K_U64, AT(train.seed), 0, 0, REQUIRED},
    {"train_n", K_INT, AT(train_n), 1, INT_MAX, REQUIRED},
    {"val", K_INT, AT(val), 0, INT_MAX, 0},
    {"optim", K_OPTIM, AT(train.opt.kind), 0, 0, REQUIRED},
    {"lr", K_F32, AT(train.opt.lr), 0, 1e3, REQUIRED},
    {"momentum", K_F32, AT(train.opt.momentum), 0, 1, 0},
    {"nesterov", K_BOOL, AT(train.opt.nesterov), 0, 1, 0},
    {"beta1", K_F32, AT(train.opt.beta1), 0, 1, 0},
    {"beta2", K_F32, AT(train.opt.beta2), 0, 1, 0},
    {"eps", K_F32, AT(train.opt.eps), 0, 1, 0},
    {"weight_decay", K_F32, AT(train.opt.weight_decay), 0, 1e3, 0},
    {"decay_bias", K_BOOL, AT(train.opt.decay_bias), 0, 1, 0},
    {"l1", K_F32, AT(train.opt.l1), 0, 1e3, 0},
    {"lr_schedule", K_SCHEDULE, AT(train.lr.kind), 0, 0, 0},
    {"lr_base", K_F32, AT(train.lr.base), 0, 1e3, V2_ONLY},
    {"warmup", K_INT, AT(train.lr.warmup), 0, 1e8, 0},
    {"lr_step", K_INT, AT(train.lr.step), 0, 1e8, 0},
    {"lr_gamma", K_F32, AT(train.lr.gamma), 0, 1e3, 0},
    {"lr_epochs", K_INT, AT(train.lr.epochs), 0, 1e8, 0},
    {"aug", K_AUG, AT(train.aug), 0, 0, 0},
    {"early_stop", K_INT, AT(train.early_stop), 0, 100000, 0},
    {"report_penalty", K_BOOL, AT(train.report_penalty), 0, 1, 0},
};
#define NKEYS (int)(sizeof KEYS / sizeof KEYS[0])

void settings_defaults(RunSettings *s)
{
    memset(s, 0, sizeof *s);
    s->train.opt = optim_defaults();
}

/* A string value with '\' and newlines escaped. */
static void put_string(Buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '\n') buf_put(b, *v == '\\' ? "\\\\" : "\\n", 2);
        else buf_put(b, v, 1);
    }
}

static void put_value(Buf *b, const Key *k, const RunSettings *s)
{
    const char *f = (const char *)s + k->off;
    char aug[64], num[32];
    switch (k->type) {
    case K_STR: put_string(b, f); break;
    case K_INT:
    case K_BOOL: buf_printf(b, "%d", *(const int *)f); break;
    case K_U64: buf_printf(b, "%llu", (unsigned long long)*(const uint64_t *)f); break;
    case K_F32:
        layer_format_float(*(const float *)f, num, sizeof num);
        buf_printf(b, "%s", num);
        break;
    case K_OPTIM: buf_printf(b, "%s", optim_kind_name(*(const OptKind *)f)); break;
    case K_SCHEDULE: buf_printf(b, "%s", lrsched_kind_name(*(const LrKind *)f)); break;
    case K_AUG:
        aug_format((const AugConfig *)f, aug, sizeof aug);
        buf_printf(b, "%s", aug);
        break;
    }
}

void settings_format(const RunSettings *s, Buf *b)
{
    for (int i = 0; i < NKEYS; i++) {
        if (KEYS[i].flags & V2_ONLY) continue;
        buf_printf(b, "%s=", KEYS[i].key);
        put_value(b, &KEYS[i], s);
        buf_put(b, "\n", 1);
    }
}

/* The escapes of put_string undone into out (len bytes); 0 if malformed or too long. */
static int get_string(const char *v, char *out, size_t len)
{
    size_t n = 0;
    for (; *v; v++) {
        char c = *v;
        if (c == '\\') {
            c = v[1] == 'n' ? '\n' : v[1] == '\\' ? '\\' : 0;
            if (!c) return 0;
            v++;
        }
        if (n + 1 >= len) return 0;
        out[n++] = c;
    }
    out[n] = 0;
    return 1;
}

/* A number in [lo, hi] (an integer unless K_F32); 0 if not. */
static int get_number(const char *v, const Key *k, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < k->lo || d > k->hi) return 0;
    if (k->type != K_F32 && d != floor(d)) return 0;
    *out = d;
    return 1;
}

/* Sets key k of s from the text v; 0 if v is not a value of it. */
static int get_value(const Key *k, const char *v, RunSettings *s)
{
    char *f = (char *)s + k->off;
    double d;
    switch (k->type) {
    case K_STR: return get_string(v, f, FM_PATH);
    case K_INT:
    case K_BOOL:
        if (!get_number(v, k, &d)) return 0;
        *(int *)f = (int)d;
        return 1;
    case K_F32:
        if (!get_number(v, k, &d)) return 0;
        *(float *)f = (float)d;
        return 1;
    case K_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || *end || errno) return 0;
        *(uint64_t *)f = (uint64_t)u;
        return 1;
    }
    case K_OPTIM: return optim_parse_kind(v, (OptKind *)f);
    case K_SCHEDULE: return lrsched_parse_kind(v, (LrKind *)f);
    case K_AUG: {
        AugConfig a = {0};
        Err sub;
        if (*v && aug_parse(v, &a, &sub)) return 0;
        *(AugConfig *)f = a;
        return 1;
    }
    }
    return 0;
}

/* Reads the lines of text (section names them in messages: "settings",
 * or "REG" for a version 2 text, which may lack any key and may name the
 * V2_ONLY keys). */
static Status parse_lines(const char *path, const char *section, const char *text, int v2, RunSettings *s, Err *e)
{
    int seen[NKEYS] = {0}, line = 0;
    char row[2 * FM_PATH + 64];
    for (const char *p = text; *p; p += *p == '\n') {
        line++;
        size_t n = strcspn(p, "\n");
        char *eq;
        if (n >= sizeof row || !(eq = memchr(p, '=', n)))
            return err_set(e, ST_ERR_FORMAT, "%s: %s line %d: expected key=value, got '%.*s'", path, section, line,
                           (int)(n < 60 ? n : 60), p);
        size_t klen = (size_t)(eq - p);
        memcpy(row, p, n);
        row[n] = 0;
        row[klen] = 0;
        p += n;
        const char *key = row, *val = row + klen + 1;
        int k = 0;
        while (k < NKEYS && (strcmp(KEYS[k].key, key) || ((KEYS[k].flags & V2_ONLY) && !v2))) k++;
        if (k == NKEYS)
            return err_set(e, ST_ERR_FORMAT, "%s: %s line %d: setting '%s' is not known to this fmnist", path,
                           section, line, key);
        if (seen[k]++)
            return err_set(e, ST_ERR_FORMAT, "%s: %s line %d: setting '%s' is given twice", path, section, line, key);
        if (!get_value(&KEYS[k], val, s))
            return err_set(e, ST_ERR_FORMAT, "%s: %s line %d: bad value '%.80s' for %s", path, section, line, val,
                           key);
    }
    for (int k = 0; k < NKEYS && !v2; k++)
        if ((KEYS[k].flags & REQUIRED) && !seen[k])
            return err_set(e, ST_ERR_FORMAT, "%s: %s: the setting '%s' is missing", path, section, KEYS[k].key);
    return ST_OK;
}

Status settings_parse(const char *path, const char *text, RunSettings *s, Err *e)
{
    settings_defaults(s);
    Status st = parse_lines(path, "settings", text, 0, s, e);
    s->train.lr.base = s->train.opt.lr;
    return st;
}

/* The value of "key=" in "key=value\n" lines, cut to len; "" if absent. */
static void meta_value(const char *meta, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    out[0] = 0;
    for (const char *p = meta; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            size_t n = strcspn(p + kl + 1, "\n");
            snprintf(out, len, "%.*s", (int)n, p + kl + 1);
            return;
        }
}

static Status settings_from_v2(const char *path, const CkptState *ck, RunSettings *s, Err *e)
{
    settings_defaults(s);
    const CkptV2 *v = &ck->v2;
    meta_value(v->meta, "model", s->model, sizeof s->model);
    if (!s->model[0]) snprintf(s->model, sizeof s->model, "%s", path);
    s->train.epochs = v->epochs;
    s->train.batch = v->batch;
    s->train.seed = v->seed;
    s->train_n = v->train_n;
    s->train.opt = v->opt;
    Status st = parse_lines(path, "REG", v->reg ? v->reg : "", 1, s, e);
    /* OPTM's lr is the rate of the last step: with a schedule, --lr is REG's lr_base */
    if (lrsched_active(&s->train.lr)) s->train.opt.lr = s->train.lr.base;
    s->train.lr.base = s->train.opt.lr;
    return st;
}

Status settings_read(const char *path, const CkptState *ck, RunSettings *s, Err *e)
{
    if (ck->version == 2) return settings_from_v2(path, ck, s, e);
    return settings_parse(path, ck->settings ? ck->settings : "", s, e);
}

int settings_diff(const RunSettings *a, const RunSettings *b, char *wa, char *wb, size_t len)
{
    for (int i = 0; i < NKEYS; i++) {
        if (KEYS[i].flags & V2_ONLY) continue;
        Buf x = {0}, y = {0};
        put_value(&x, &KEYS[i], a);
        put_value(&y, &KEYS[i], b);
        buf_put(&x, "", 1);
        buf_put(&y, "", 1);
        int differ = x.failed || y.failed || strcmp(x.data, y.data);
        if (differ) {
            snprintf(wa, len, "%s=%s", KEYS[i].key, x.failed ? "?" : x.data);
            snprintf(wb, len, "%s=%s", KEYS[i].key, y.failed ? "?" : y.data);
        }
        buf_free(&x);
        buf_free(&y);
        if (differ) return 1;
    }
    return 0;
}
