/* cfg.c - model-file parser (grammar in cfg.h).
 *
 * Tokenizes each line into a word, positional values and key=value options,
 * then checks them against a small table of kinds. Numbers are parsed
 * strictly: "12x" or "1e400" is an error, not 12 or inf. */
#include "model/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

#define MAX_TOK 8

typedef struct {
    const char *path;
    int line;
    Err *e;
} Ctx;

static Status fail(Ctx *c, const char *fmt, const char *a, const char *b)
{
    char what[400];
    snprintf(what, sizeof what, fmt, a, b);
    return err_set(c->e, ST_ERR_FORMAT, "%s:%d: %s", c->path, c->line, what);
}

/* Parses an integer in [lo, hi]; the whole token must be the number. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
    if (!isdigit((unsigned char)*s)) return 0;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

static int parse_double(const char *s, double *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || fabs(v) > 1e30) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *s, float *out)
{
    double v;
    if (!parse_double(s, &v)) return 0;
    *out = (float)v;
    return 1;
}

/* "AxB" or "AxBxC" into dims (n of them); each in [1, hi]. */
static int parse_dims(const char *s, int n, long hi, int *dims)
{
    char buf[64];
    if (strlen(s) >= sizeof buf) return 0;
    strcpy(buf, s);
    char *p = buf;
    for (int i = 0; i < n; i++) {
        char *x = strchr(p, 'x');
        if (i < n - 1) {
            if (!x) return 0;
            *x = 0;
        } else if (x) {
            return 0;
        }
        if (!parse_int(p, 1, hi, &dims[i])) return 0;
        p = x ? x + 1 : p;
    }
    return 1;
}

typedef struct {
    const char *kind;
    int npos;              /* positional values required  */
    const char *keys[3];   /* allowed option keys          */
} KindInfo;

static const KindInfo KINDS[] = {
    {"input", 1, {"mean", "std", NULL}},
    {"flatten", 0, {NULL}},
    {"relu", 0, {NULL}},
    {"dense", 1, {NULL}},
    {"dropout", 1, {NULL}},
    {"conv", 2, {"stride", "pad", NULL}},
    {"maxpool", 1, {"stride", NULL}},
    {"avgpool", 1, {"stride", NULL}},
    {"batchnorm", 0, {"eps", "momentum", NULL}},
};

static const char *USAGE[] = {
    "input CxHxW [mean=M] [std=S]", "flatten", "relu", "dense N", "dropout P",
    "conv OC K [stride=S] [pad=P]", "maxpool K [stride=S]", "avgpool K [stride=S]",
    "batchnorm [eps=E] [momentum=M]",
};

#define MAX_SIZE 65536
#define MAX_UNITS (1 << 20)
#define MAX_KERNEL 64

static Status parse_line(Ctx *c, char **tok, int ntok, ModelCfg *cfg, int *have_input)
{
    int kind = -1;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!strcmp(tok[0], KINDS[i].kind)) kind = (int)i;
    if (kind < 0)
        return fail(c,
                    "unknown layer '%s' (expected one of: input, flatten, relu, dense, dropout, conv, maxpool, "
                    "avgpool, batchnorm)%s",
                    tok[0], "");
    const KindInfo *k = &KINDS[kind];

    /* split positional values and options */
    const char *pos[MAX_TOK];
    int npos = 0;
    const char *okey[MAX_TOK], *oval[MAX_TOK];
    int nopt = 0;
    for (int i = 1; i < ntok; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) {
            if (nopt) return fail(c, "'%s': values must come before options (expected: %s)", tok[i], USAGE[kind]);
            pos[npos++] = tok[i];
            continue;
        }
        *eq = 0;
        int ok = 0;
        for (int j = 0; k->keys[j]; j++) ok |= !strcmp(k->keys[j], tok[i]);
        if (!ok) return fail(c, "unknown option '%s' for %s", tok[i], k->kind);
        for (int j = 0; j < nopt; j++)
            if (!strcmp(okey[j], tok[i])) return fail(c, "option '%s' given twice%s", tok[i], "");
        okey[nopt] = tok[i];
        oval[nopt++] = eq + 1;
    }
    if (npos != k->npos) return fail(c, "wrong number of values for %s (expected: %s)", k->kind, USAGE[kind]);

    if (kind == 0) {
        if (*have_input) return fail(c, "a second 'input' line (the first must be the only one)%s%s", "", "");
        int d[3];
        if (!parse_dims(pos[0], 3, MAX_SIZE, d))
            return fail(c, "bad input shape '%s' (expected CxHxW, e.g. 1x28x28, each from 1 to 65536)%s", pos[0], "");
        cfg->input = (Shape){d[0], d[1], d[2]};
        for (int j = 0; j < nopt; j++) {
            float v;
            if (!parse_float(oval[j], &v)) return fail(c, "%s=%s is not a number", okey[j], oval[j]);
            if (!strcmp(okey[j], "std") && !(v > 0)) return fail(c, "std=%s must be positive%s", oval[j], "");
            if (!strcmp(okey[j], "mean")) cfg->mean = v;
            else cfg->std = v;
        }
        *have_input = 1;
        return ST_OK;
    }
    if (!*have_input) return fail(c, "the first item must be 'input CxHxW', got '%s'%s", k->kind, "");
    if (cfg->nlayers >= CFG_MAX_LAYERS) return fail(c, "too many layers (at most 256)%s%s", "", "");

    LayerSpec *s = &cfg->layers[cfg->nlayers];
    memset(s, 0, sizeof *s);
    snprintf(s->kind, sizeof s->kind, "%s", k->kind);
    s->line = c->line;
    if (!strcmp(k->kind, "dense")) {
        if (!parse_int(pos[0], 1, MAX_UNITS, &s->units))
            return fail(c, "dense: '%s' is not a number of outputs from 1 to 1048576%s", pos[0], "");
    } else if (!strcmp(k->kind, "dropout")) {
        if (!parse_float(pos[0], &s->p) || !(s->p >= 0.0f && s->p < 1.0f))
            return fail(c, "dropout: '%s' is not a rate in [0, 1)%s", pos[0], "");
    } else if (!strcmp(k->kind, "conv") || !strcmp(k->kind, "maxpool") || !strcmp(k->kind, "avgpool")) {
        int is_conv = !strcmp(k->kind, "conv");
        const char *ks = pos[is_conv];
        if (is_conv && !parse_int(pos[0], 1, MAX_UNITS, &s->units))
            return fail(c, "conv: '%s' is not a number of output channels from 1 to 1048576%s", pos[0], "");
        int d[2];
        if (parse_int(ks, 1, MAX_KERNEL, &d[0])) d[1] = d[0];
        else if (!parse_dims(ks, 2, MAX_KERNEL, d))
            return fail(c, "%s: bad kernel size '%s' (expected K or KHxKW, from 1 to 64)", k->kind, ks);
        s->kh = d[0];
        s->kw = d[1];
        s->stride = is_conv ? 1 : (s->kh == s->kw ? s->kh : 0);
        for (int j = 0; j < nopt; j++) {
            int v;
            int is_pad = !strcmp(okey[j], "pad");
            if (!parse_int(oval[j], is_pad ? 0 : 1, MAX_KERNEL, &v))
                return fail(c, "%s=%s is not a whole number in range (stride 1-64, pad 0-64)", okey[j], oval[j]);
            if (is_pad) s->pad = v;
            else s->stride = v;
        }
        if (!s->stride) return fail(c, "%s: a rectangular window needs stride=%s", k->kind, "S");
    } else if (!strcmp(k->kind, "batchnorm")) {
        s->eps = 1e-5; /* PyTorch's defaults */
        s->momentum = 0.1;
        for (int j = 0; j < nopt; j++) {
            double v;
            int is_eps = !strcmp(okey[j], "eps");
            if (!parse_double(oval[j], &v) || (is_eps ? !(v > 0) : !(v >= 0 && v <= 1)))
                return fail(c, "batchnorm: %s=%s is not a number in range (eps > 0, momentum from 0 to 1)", okey[j],
                            oval[j]);
            if (is_eps) s->eps = v;
            else s->momentum = v;
        }
    }
    cfg->nlayers++;
    return ST_OK;
}

Status cfg_parse_text(const char *path, const char *text, ModelCfg *cfg, Err *e)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    cfg->mean = 0.5f;
    cfg->std = 0.5f;
    size_t len = strlen(text);
    cfg->text = malloc(len + 1);
    char *work = malloc(len + 1);
    if (!cfg->text || !work) {
        free(work);
        cfg_free(cfg);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(cfg->text, text, len + 1);
    memcpy(work, text, len + 1);

    Ctx c = {path, 0, e};
    int have_input = 0;
    Status st = ST_OK;
    char *save = NULL;
    char *p = work;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        c.line++;
        char *hash = strchr(p, '#');
        if (hash) *hash = 0;
        char *tok[MAX_TOK + 1];
        int ntok = 0;
        for (char *t = strtok_r(p, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
            if (ntok == MAX_TOK) {
                st = fail(&c, "too many words on one line%s%s", "", "");
                goto done;
            }
            tok[ntok++] = t;
        }
        if (ntok) {
            st = parse_line(&c, tok, ntok, cfg, &have_input);
            if (st) goto done;
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (!have_input) st = err_set(e, ST_ERR_FORMAT, "%s: no 'input CxHxW' line", path);
    else if (cfg->nlayers == 0) st = err_set(e, ST_ERR_FORMAT, "%s: no layers after 'input'", path);
done:
    free(work);
    if (st) cfg_free(cfg);
    return st;
}

Status cfg_parse_file(const char *path, ModelCfg *cfg, Err *e)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f;
    Status st = file_fopen_regular(path, &f, e); /* a FIFO or a folder is refused at once */
    if (st) return st;
    enum { LIMIT = 1 << 20 };
    char *buf = malloc(LIMIT + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, LIMIT + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) st = err_set(e, ST_ERR_IO, "%s: read error", path);
    else if (n > LIMIT) st = err_set(e, ST_ERR_FORMAT, "%s: larger than 1 MiB; not a model file", path);
    else if (memchr(buf, 0, n)) st = err_set(e, ST_ERR_FORMAT, "%s: contains NUL bytes; not a model file", path);
    else {
        buf[n] = 0;
        st = cfg_parse_text(path, buf, cfg, e);
    }
    free(buf);
    return st;
}

void cfg_free(ModelCfg *cfg)
{
    if (!cfg) return;
    free(cfg->text);
    cfg->text = NULL;
    cfg->nlayers = 0;
}

int cfg_count_dropout(const ModelCfg *cfg)
{
    int n = 0;
    for (int i = 0; i < cfg->nlayers; i++) n += !strcmp(cfg->layers[i].kind, "dropout");
    return n;
}

Status cfg_set_dropout(ModelCfg *cfg, const float *p, int np, Err *e)
{
    int have = cfg_count_dropout(cfg);
    if (np != have)
        return err_set(e, ST_ERR_ARG, "%d dropout rate%s given, but %s has %d dropout layer%s", np, np == 1 ? "" : "s",
                       cfg->path, have, have == 1 ? "" : "s");
    for (int i = 0; i < np; i++)
        if (!(p[i] >= 0.0f && p[i] < 1.0f)) return err_set(e, ST_ERR_ARG, "dropout rate %g is not in [0, 1)", (double)p[i]);
    for (int i = 0, j = 0; i < cfg->nlayers; i++)
        if (!strcmp(cfg->layers[i].kind, "dropout")) cfg->layers[i].p = p[j++];
    return ST_OK;
}
