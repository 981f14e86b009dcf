/* settings.c - a run's settings text: one table of keys, read and written
 * (see settings.h). */
#include "train/settings.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_STR, K_INT, K_BOOL, K_U64, K_F32, K_OPTIM, K_SCHEDULE, K_AUG, K_PRECISION, K_TTA } KeyType;

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
    {"micro_batch", K_INT, AT(train.micro_batch), 0, TRAIN_MAX_MICRO_BATCH, 0}, /* absent: 0, the whole batch */
    {"precision", K_PRECISION, AT(train.precision), 0, 0, 0}, /* absent: fp32 */
    {"ema", K_F32, AT(train.ema), 0, 0x1.fffffep-1, 0}, /* the decay, below 1; 0 or absent: off */
    {"label_smoothing", K_F32, AT(train.label_smoothing), 0, 0.99999994, 0}, /* absent: 0, off; below 1 */
    {"tta", K_TTA, AT(train.tta), 0, 0, 0}, /* absent: none */
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
    case K_PRECISION: buf_printf(b, "%s", precision_name(*(const Precision *)f)); break;
    case K_TTA: buf_printf(b, "%s", tta_name(*(const TtaKind *)f)); break;
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
    case K_PRECISION: return precision_parse(v, (Precision *)f) == 0;
    case K_TTA: return tta_parse(v, (TtaKind *)f);
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

/* ---- settings_describe: the settings in words ---- */

#define DESCRIBE_COLS 100

/* A line being built: "label: phrase; phrase; ..." wrapped at
 * DESCRIBE_COLS columns, continued with two spaces. */
typedef struct {
    Buf *b;
    int col;        /* columns used on the current line */
    int phrases;    /* phrases on this label's lines so far */
} Line;

static void line_start(Line *l, Buf *b, const char *label)
{
    *l = (Line){.b = b};
    buf_printf(b, "%s:", label);
    l->col = (int)strlen(label) + 1;
}

static void line_add(Line *l, const char *fmt, ...)
{
    char phrase[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(phrase, sizeof phrase, fmt, ap);
    va_end(ap);
    int n = (int)strlen(phrase);
    const char *sep = l->phrases ? ";" : "";
    if (l->phrases && l->col + 2 + n > DESCRIBE_COLS) {
        buf_printf(l->b, "%s\n ", sep);
        l->col = 1;
        sep = "";
    }
    buf_printf(l->b, "%s %s", sep, phrase);
    l->col += (int)strlen(sep) + 1 + n;
    l->phrases++;
}

static void line_end(Line *l) { buf_put(l->b, "\n", 1); }

/* "0.001" (the shortest decimal of v) */
static const char *num(float v, char *buf, size_t len)
{
    layer_format_float(v, buf, len);
    return buf;
}

/* The optimizer, batch, epochs, seed and images. */
static void describe_training(const RunSettings *s, Buf *b)
{
    const OptConfig *o = &s->train.opt;
    char x[32], m[32];
    Line l;
    line_start(&l, b, "training");
    if (o->kind == OPT_SGD && s->train.lr.kind == LRS_ONECYCLE)
        line_add(&l, "optimizer sgd, peak lr %s, momentum cycled%s", num(o->lr, x, sizeof x),
                 o->nesterov ? " (Nesterov)" : "");
    else if (s->train.lr.kind == LRS_ONECYCLE)
        line_add(&l, "optimizer %s, peak lr %s, beta1 cycled", optim_kind_name(o->kind), num(o->lr, x, sizeof x));
    else if (o->kind == OPT_SGD && o->momentum > 0)
        line_add(&l, "optimizer sgd, lr %s, momentum %s%s", num(o->lr, x, sizeof x), num(o->momentum, m, sizeof m),
                 o->nesterov ? " (Nesterov)" : "");
    else
        line_add(&l, "optimizer %s, lr %s", optim_kind_name(o->kind), num(o->lr, x, sizeof x));
    if (s->train.micro_batch > 0 && s->train.micro_batch < s->train.batch)
        line_add(&l, "batch %d in micro-batches of %d", s->train.batch, s->train.micro_batch);
    else
        line_add(&l, "batch %d", s->train.batch);
    line_add(&l, "%d epoch%s", s->train.epochs, s->train.epochs == 1 ? "" : "s");
    line_add(&l, "seed %llu", (unsigned long long)s->train.seed);
    line_add(&l, "%d training images per epoch", s->train_n);
    if (s->train.precision == PREC_BF16) line_add(&l, "bf16 products (fp32 weights, optimizer and sums)");
    if (s->train.report_penalty) line_add(&l, "the train loss shown includes the penalty");
    if (s->train.label_smoothing > 0)
        line_add(&l, "loss: cross-entropy with label smoothing %s (the train loss shown includes it; test and "
                 "validation losses are plain cross-entropy)", num(s->train.label_smoothing, x, sizeof x));
    line_end(&l);
}

/* Each dropout layer's rate with its place in the layer table: "dropout
 * 0.3 (#4)", a phrase each. */
static void describe_dropout(const Net *net, Line *l)
{
    char r[32];
    int n = 0;
    for (int i = 0; net && i < net->nlayers; i++) {
        const Layer *y = &net->layers[i];
        if (!(y->ops->flags & LAYER_DROPOUT)) continue;
        line_add(l, "%s %s (#%d)", y->spec.kind, num(y->spec.p, r, sizeof r), i);
        n++;
    }
    if (net && !n) line_add(l, "no dropout layers");
}

/* Dropout, weight decay and its kind, L1, biases, augmentation, early stopping. */
static void describe_regularization(const RunSettings *s, const Net *net, Buf *b)
{
    const OptConfig *o = &s->train.opt;
    char x[32], aug[64];
    Line l;
    line_start(&l, b, "regularization");
    describe_dropout(net, &l);
    if (o->weight_decay > 0)
        line_add(&l, "weight decay %s %s", num(o->weight_decay, x, sizeof x),
                 o->kind == OPT_ADAMW ? "decoupled (AdamW)" : "coupled (L2 in the gradient)");
    else
        line_add(&l, "no weight decay");
    if (o->l1 > 0) line_add(&l, "L1 %s", num(o->l1, x, sizeof x));
    else line_add(&l, "no L1");
    if (o->weight_decay > 0 || o->l1 > 0) line_add(&l, "biases %sdecayed", o->decay_bias ? "" : "not ");
    aug_format(&s->train.aug, aug, sizeof aug);
    if (*aug) line_add(&l, "augmentation %s", aug);
    else line_add(&l, "no augmentation");
    if (s->train.early_stop > 0)
        line_add(&l, "early stopping after %d epoch%s without a lower validation loss", s->train.early_stop,
                 s->train.early_stop == 1 ? "" : "s");
    else
        line_add(&l, "no early stopping");
    line_end(&l);
}

/* The learning-rate schedule and warm-up. */
static void describe_schedule(const RunSettings *s, Buf *b)
{
    const LrSchedule *r = &s->train.lr;
    char x[32];
    Line l;
    line_start(&l, b, "learning rate");
    switch (r->kind) {
    case LRS_CONSTANT: line_add(&l, "constant"); break;
    case LRS_STEP:
        line_add(&l, "step schedule, x%s every %d epoch%s", num(r->gamma, x, sizeof x), r->step,
                 r->step == 1 ? "" : "s");
        break;
    case LRS_COSINE: line_add(&l, "cosine schedule to 0 over %d epoch%s", r->epochs, r->epochs == 1 ? "" : "s"); break;
    case LRS_ONECYCLE:
        line_add(&l, "one cycle over %d epoch%s (torch's OneCycleLR: up from /25 for 30%% of the steps, down to "
                 "/25e4; momentum 0.95-0.85-0.95)", r->epochs, r->epochs == 1 ? "" : "s");
        break;
    }
    if (r->warmup > 0) line_add(&l, "linear warm-up over %d epoch%s", r->warmup, r->warmup == 1 ? "" : "s");
    else line_add(&l, "no warm-up");
    line_end(&l);
}

static void describe_validation(const RunSettings *s, Buf *b)
{
    Line l;
    line_start(&l, b, "validation");
    if (s->val > 0) {
        line_add(&l, "%d training images held out (drawn with seed %llu)", s->val, (unsigned long long)s->train.seed);
        line_add(&l, "its lowest loss chooses best.fmw");
    } else {
        line_add(&l, "none (no --val): no epoch is chosen, no best.fmw is written");
    }
    line_end(&l);
}

/* --ema, when on: what is evaluated and saved, and what the train loss is. */
static void describe_weights(const RunSettings *s, Buf *b)
{
    if (!(s->train.ema > 0.0f)) return;
    char x[32];
    Line l;
    line_start(&l, b, "weights");
    line_add(&l, "EMA decay %s (evaluated and saved)", num(s->train.ema, x, sizeof x));
    line_add(&l, "the train loss is the live weights'");
    line_end(&l);
}

/* Test-time augmentation, when on. */
static void describe_evaluation(const RunSettings *s, Buf *b)
{
    if (s->train.tta == TTA_NONE) return;
    Line l;
    line_start(&l, b, "evaluation");
    line_add(&l, "flip test-time augmentation: test and validation figures from the mean logits of each image and "
             "its mirror image");
    line_end(&l);
}

void settings_describe(const RunSettings *s, const Net *net, Buf *b)
{
    describe_training(s, b);
    describe_regularization(s, net, b);
    describe_weights(s, b);
    describe_schedule(s, b);
    describe_validation(s, b);
    describe_evaluation(s, b);
}
