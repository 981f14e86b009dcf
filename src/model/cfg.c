/* cfg.c - model-file parser (grammar in cfg.h).
 *
 * Tokenizes each line into a word, positional values and key=value options,
 * checks them against the kind's LayerOps (usage, nvalues, keys) and hands
 * them to its parse hook, which fills the LayerSpec. Numbers are parsed
 * strictly: "12x" or "1e400" is an error, not 12 or inf. */
#include "model/cfg.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fileio.h"
#include "util/suggest.h"

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

/* The words after the first: values, then KEY=VALUE options whose keys
 * are among keys[] (each at most once); nvalues values exactly. */
static Status split_args(Ctx *c, char **tok, int ntok, const char *kind, const char *usage, const char *const *keys,
                         int nvalues, LayerArgs *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < ntok; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) {
            if (a->nopt) return fail(c, "'%s': values must come before options (expected: %s)", tok[i], usage);
            a->val[a->nval++] = tok[i];
            continue;
        }
        *eq = 0;
        int ok = 0;
        for (int j = 0; keys[j]; j++) ok |= !strcmp(keys[j], tok[i]);
        if (!ok) {
            Suggest sg;
            suggest_init(&sg, tok[i]);
            for (int j = 0; keys[j]; j++) suggest_try(&sg, keys[j]);
            char what[160];
            snprintf(what, sizeof what, "%.60s%s%.40s%s", kind, sg.best ? " (did you mean '" : "", sg.best ? sg.best : "",
                     sg.best ? "'?)" : "");
            return fail(c, "unknown option '%s' for %s", tok[i], what);
        }
        for (int j = 0; j < a->nopt; j++)
            if (!strcmp(a->key[j], tok[i])) return fail(c, "option '%s' given twice%s", tok[i], "");
        a->key[a->nopt] = tok[i];
        a->kval[a->nopt++] = eq + 1;
    }
    if (a->nval != nvalues) return fail(c, "wrong number of values for %s (expected: %s)", kind, usage);
    return ST_OK;
}

#define MAX_SIZE 65536

/* The input line: "input CxHxW [mean=M] [std=S]". */
static Status parse_input(Ctx *c, char **tok, int ntok, NetSpec *spec, int *have_input)
{
    static const char *const keys[] = {"mean", "std", NULL};
    LayerArgs a;
    Status st = split_args(c, tok, ntok, "input", "input CxHxW [mean=M] [std=S]", keys, 1, &a);
    if (st) return st;
    if (*have_input) return fail(c, "a second 'input' line (the first must be the only one)%s%s", "", "");
    int d[3];
    if (!layer_parse_dims(a.val[0], 3, MAX_SIZE, d))
        return fail(c, "bad input shape '%s' (expected CxHxW, e.g. 1x28x28, each from 1 to 65536)%s", a.val[0], "");
    spec->input = (Shape){d[0], d[1], d[2]};
    for (int j = 0; j < a.nopt; j++) {
        float v;
        if (!layer_parse_float(a.kval[j], &v)) return fail(c, "%s=%s is not a number", a.key[j], a.kval[j]);
        if (!strcmp(a.key[j], "std") && !(v > 0)) return fail(c, "std=%s must be positive%s", a.kval[j], "");
        if (!strcmp(a.key[j], "mean")) spec->mean = v;
        else spec->std = v;
    }
    *have_input = 1;
    return ST_OK;
}

/* "unknown layer 'W' (expected one of: input, flatten, ...)": the table's kinds. */
static Status unknown_kind(Ctx *c, const char *word)
{
    char list[400] = "input";
    size_t n = strlen(list);
    const LayerOps *ops;
    Suggest s;
    suggest_init(&s, word);
    suggest_try(&s, "input");
    for (int i = 0; (ops = layer_ops_at(i)) && n < sizeof list; i++) {
        n += (size_t)snprintf(list + n, sizeof list - n, ", %s", ops->kind);
        suggest_try(&s, ops->kind);
    }
    char hint[96] = "";
    if (s.best) snprintf(hint, sizeof hint, "did you mean '%s'? ", s.best);
    char what[300];
    snprintf(what, sizeof what, "%sexpected one of: %.180s", hint, list);
    return fail(c, "unknown layer '%s' (%s)", word, what);
}

static Status parse_line(Ctx *c, char **tok, int ntok, NetSpec *spec, int *have_input)
{
    if (!strcmp(tok[0], "input")) return parse_input(c, tok, ntok, spec, have_input);
    const LayerOps *ops = layer_find_ops(tok[0]);
    if (!ops) return unknown_kind(c, tok[0]);
    LayerArgs a;
    Status st = split_args(c, tok, ntok, ops->kind, ops->usage, ops->keys, ops->nvalues, &a);
    if (st) return st;
    if (!*have_input) return fail(c, "the first item must be 'input CxHxW', got '%s'%s", ops->kind, "");
    if (spec->nlayers >= NETSPEC_MAX_LAYERS) return fail(c, "too many layers (at most 256)%s%s", "", "");

    LayerSpec *s = &spec->layers[spec->nlayers];
    memset(s, 0, sizeof *s);
    snprintf(s->kind, sizeof s->kind, "%s", ops->kind);
    s->line = c->line;
    Err sub;
    if (ops->parse && ops->parse(s, &a, &sub)) return err_set(c->e, ST_ERR_FORMAT, "%s:%d: %s", c->path, c->line, sub.msg);
    spec->nlayers++;
    return ST_OK;
}

Status cfg_parse_text(const char *path, const char *text, NetSpec *spec, Err *e)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->path, sizeof spec->path, "%s", path);
    spec->mean = 0.5f;
    spec->std = 0.5f;
    size_t len = strlen(text);
    spec->text = malloc(len + 1);
    char *work = malloc(len + 1);
    if (!spec->text || !work) {
        free(work);
        netspec_free(spec);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(spec->text, text, len + 1);
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
            st = parse_line(&c, tok, ntok, spec, &have_input);
            if (st) goto done;
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (!have_input) st = err_set(e, ST_ERR_FORMAT, "%s: no 'input CxHxW' line", path);
    else if (spec->nlayers == 0) st = err_set(e, ST_ERR_FORMAT, "%s: no layers after 'input'", path);
done:
    free(work);
    if (st) netspec_free(spec);
    return st;
}

Status cfg_parse_file(const char *path, NetSpec *spec, Err *e)
{
    memset(spec, 0, sizeof *spec);
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
        st = cfg_parse_text(path, buf, spec, e);
    }
    free(buf);
    return st;
}

Status cfg_text_with_dropout(const NetSpec *spec, const float *p, int np, char **text, Err *e)
{
    *text = NULL;
    if (np != netspec_count_dropout(spec))
        return err_set(e, ST_ERR_ARG, "%d dropout rates for the %d dropout layers of %s", np,
                       netspec_count_dropout(spec), spec->path);
    Buf out = {0};
    const char *t = spec->text ? spec->text : "", *copied = t;
    int line = 1, k = 0;
    for (int i = 0; i < spec->nlayers; i++) {
        const LayerSpec *l = &spec->layers[i];
        const LayerOps *ops = layer_find_ops(l->kind);
        if (!ops || !(ops->flags & LAYER_DROPOUT)) continue;
        float rate = p[k++];
        for (; line < l->line && *t; t++) line += *t == '\n';
        /* the rate is the kind's one value: the word after the kind's */
        const char *v = t + strspn(t, " \t\r");
        v += strcspn(v, " \t\r#\n");
        v += strspn(v, " \t\r");
        size_t vn = strcspn(v, " \t\r#\n");
        char old[64], now[32];
        float was;
        snprintf(old, sizeof old, "%.*s", (int)(vn < 63 ? vn : 63), v);
        if (layer_parse_float(old, &was) && was == rate) continue;
        layer_format_float(rate, now, sizeof now);
        buf_put(&out, copied, (size_t)(v - copied));
        buf_put(&out, now, strlen(now));
        copied = v + vn;
    }
    buf_put(&out, copied, strlen(copied) + 1);
    if (out.failed) {
        buf_free(&out);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", spec->path);
    }
    *text = out.data;
    return ST_OK;
}

Status cfg_set_dropout(NetSpec *spec, const float *p, int np, Err *e)
{
    char *text;
    Status st = netspec_set_dropout(spec, p, np, e);
    if (!st) st = cfg_text_with_dropout(spec, p, np, &text, e);
    if (st) return st;
    free(spec->text);
    spec->text = text;
    return ST_OK;
}

/* 1 if path names a regular file (links followed). */
static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

#define MAX_PRESETS 32
#define PRESET_LEN 64

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

/* The *.cfg files of dirs, without .cfg, sorted, each once. */
static int list_presets(const char *const *dirs, int ndirs, char names[MAX_PRESETS][PRESET_LEN])
{
    int n = 0;
    for (int i = 0; i < ndirs; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        struct dirent *ent;
        while ((ent = readdir(d)) && n < MAX_PRESETS) {
            size_t k = strlen(ent->d_name);
            if (k <= 4 || k - 4 >= PRESET_LEN || strcmp(ent->d_name + k - 4, ".cfg") || ent->d_name[0] == '.') continue;
            char name[PRESET_LEN];
            snprintf(name, sizeof name, "%.*s", (int)(k - 4), ent->d_name);
            int seen = 0;
            for (int j = 0; j < n; j++) seen |= !strcmp(names[j], name);
            if (!seen) memcpy(names[n++], name, sizeof name);
        }
        closedir(d);
    }
    qsort(names, (size_t)n, PRESET_LEN, cmp_names);
    return n;
}

Status cfg_find(const char *name, const char *const *dirs, int ndirs, char *out, size_t len, Err *e)
{
    size_t nlen = strlen(name);
    if (!out || !len) return err_set(e, ST_ERR_ARG, "no room for the model file's path");
    if (!nlen) return err_set(e, ST_ERR_ARG, "empty model file name");
    if (nlen >= len) return err_set(e, ST_ERR_ARG, "%.80s...: model file path too long", name);
    if (is_file(name)) {
        memcpy(out, name, nlen + 1);
        return ST_OK;
    }
    const char *preset = !strchr(name, '/') ? name
                         : !strncmp(name, "models/", 7) && name[7] && !strchr(name + 7, '/') ? name + 7
                                                                                               : NULL;
    if (!preset) { /* a path: its reader says why it cannot be read */
        memcpy(out, name, nlen + 1);
        return ST_OK;
    }
    size_t plen = strlen(preset);
    int has_ext = plen > 4 && !strcmp(preset + plen - 4, ".cfg");
    for (int i = 0; i < ndirs; i++)
        for (int ext = 0; ext <= !has_ext; ext++) {
            int k = snprintf(out, len, "%s/%s%s", dirs[i], preset, ext ? ".cfg" : "");
            if (k > 0 && (size_t)k < len && is_file(out)) return ST_OK;
        }
    /* not found: the presets there (first: a long folder may cut the
     * message short), then where it looked */
    char names[MAX_PRESETS][PRESET_LEN];
    int n = list_presets(dirs, ndirs, names);
    char stem[PRESET_LEN];
    snprintf(stem, sizeof stem, "%.*s", (int)(has_ext ? plen - 4 : plen), preset);
    Suggest s;
    suggest_init(&s, stem);
    for (int i = 0; i < n; i++) suggest_try(&s, names[i]);
    Buf b = {0};
    buf_printf(&b, "model '%s' not found", name);
    if (s.best) buf_printf(&b, " (did you mean %s?)", s.best);
    if (n) buf_printf(&b, "; the presets are ");
    for (int i = 0; i < n; i++) buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    buf_printf(&b, "%slooked for %s%s, then %s%s in ", n ? "; " : "; no presets (*.cfg) found; ",
               strchr(name, '/') ? "" : "./", name, preset, has_ext ? "" : "[.cfg]");
    for (int i = 0; i < ndirs; i++) buf_printf(&b, "%s%s", i ? (i + 1 < ndirs ? ", " : " and ") : "", dirs[i]);
    if (!ndirs) buf_printf(&b, "no folder (none was found next to the program)");
    Status st = err_set(e, ST_ERR_ARG, "%s", b.failed || !b.data ? "model not found" : b.data);
    buf_free(&b);
    out[0] = 0;
    return st;
}
