/* sweep.c - settings x seeds: the names, the manifest, the state of each
 * trial's folder, the trials and the summary (see sweep.h).
 *
 * Every folder is checked before anything is trained, so a sweep that would
 * fail on its third trial (a dropout list that does not fit the model, a
 * folder holding a run with other settings, a log that cannot be read)
 * fails before the first. */
#include "train/sweep.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/split.h"
#include "model/weights.h"
#include "report/plot.h"
#include "train/resume.h"

/* ---- trials and names ---- */

int sweep_ntrials(const SweepSpec *s) { return s->nsettings * s->nseeds; }

const SweepSetting *sweep_trial(const SweepSpec *s, int k, int *seed)
{
    if (seed) *seed = s->seeds[k % s->nseeds];
    return &s->settings[k / s->nseeds];
}

void sweep_trial_dir(const SweepSpec *s, int k, char *dir, size_t len, int *seed)
{
    int sd;
    const SweepSetting *st = sweep_trial(s, k, &sd);
    if (seed) *seed = sd;
    snprintf(dir, len, "%s/%s/seed%d", s->out, st->name, sd);
}

void sweep_format_number(double v, char *buf, size_t len)
{
    char g[48], x[48], ms[32];
    snprintf(g, sizeof g, "%g", v);
    if (v == 0 || !isfinite(v)) {
        snprintf(buf, len, "%s", g);
        return;
    }
    int ex = (int)floor(log10(fabs(v)));
    snprintf(ms, sizeof ms, "%g", v / pow(10, ex));
    if (!strcmp(ms, "10") || !strcmp(ms, "-10")) snprintf(ms, sizeof ms, "%g", v / pow(10, ++ex));
    snprintf(x, sizeof x, "%se%d", ms, ex);
    snprintf(buf, len, "%s", strlen(x) < strlen(g) ? x : g);
}

/* s is a comma list of numbers (one at least). */
static int number_list(const char *s)
{
    char buf[1024];
    if (!*s || strlen(s) >= sizeof buf) return 0;
    strcpy(buf, s);
    for (char *t = buf, *end;; t = end + 1) {
        char *comma = strchr(t, ',');
        if (comma) *comma = 0;
        strtod(t, &end);
        if (end == t || *end) return 0;
        if (!comma) return 1;
        end = comma;
    }
}

/* Appends the numbers of the list s, formatted, joined by sep. */
static void put_numbers(Buf *b, const char *s, const char *sep)
{
    char num[48];
    for (const char *t = s; t; t = strchr(t, ',') ? strchr(t, ',') + 1 : NULL) {
        sweep_format_number(strtod(t, NULL), num, sizeof num);
        buf_printf(b, "%s%s", t == s ? "" : sep, num);
    }
}

/* One flag's part of the name (into nb) and of the label (into lb). */
static void name_part(const SweepValue *v, Buf *nb, Buf *lb)
{
    const char *shortname = !strcmp(v->flag, "weight-decay") ? "wd" : v->flag;
    buf_printf(nb, "%s%s", nb->len ? "_" : "", shortname);
    buf_printf(lb, "%s%s ", lb->len ? ", " : "", shortname);
    if (number_list(v->value)) {
        put_numbers(nb, v->value, "-");
        put_numbers(lb, v->value, "/");
        return;
    }
    const char *val = v->value;
    size_t vlen = strlen(val);
    if (!strcmp(v->flag, "model")) { /* the file's base name, without .cfg */
        val = strrchr(v->value, '/') ? strrchr(v->value, '/') + 1 : v->value;
        vlen = strlen(val);
        if (vlen > 4 && !strcmp(val + vlen - 4, ".cfg")) vlen -= 4;
    }
    buf_put(nb, "-", 1);
    for (size_t i = 0; i < vlen; i++) {
        char c = val[i], l = c == ',' ? '+' : c;
        buf_put(lb, &l, 1);
        if (c == '=') continue;
        c = isalnum((unsigned char)c) || c == '.' || c == '+' || c == '-' ? c : '-';
        buf_put(nb, &c, 1);
    }
}

Status sweep_setting_names(const SweepValue *v, int n, char *name, size_t nlen, char *label, size_t llen, Err *e)
{
    Buf nb = {0}, lb = {0};
    for (int i = 0; i < n; i++) name_part(&v[i], &nb, &lb);
    if (!n) buf_printf(&nb, "base"), buf_printf(&lb, "base");
    buf_put(&nb, "", 1);
    buf_put(&lb, "", 1);
    Status st = ST_OK;
    if (nb.failed || lb.failed) st = err_set(e, ST_ERR_NOMEM, "out of memory for a setting's name");
    else if (nb.len > nlen || lb.len > llen)
        st = err_set(e, ST_ERR_ARG, "the setting %.80s%s: its name is too long (at most %zu characters)", nb.data,
                     nb.len > 80 ? ".." : "", nlen - 1);
    else snprintf(name, nlen, "%s", nb.data), snprintf(label, llen, "%s", lb.data);
    buf_free(&nb);
    buf_free(&lb);
    return st;
}

/* ---- the manifest: OUT/sweep.csv ---- */

#define MANIFEST_HEADER "setting,label,seed,folder,flags\n"

typedef struct {
    char name[160], label[160];
    int seed;
    char flags[512];
} ManRow;

typedef struct {
    ManRow *rows;
    int n;
} Manifest;

static void manifest_free(Manifest *m)
{
    free(m->rows);
    memset(m, 0, sizeof *m);
}

/* Appends s as one CSV field (quoted if it holds a comma, quote or newline). */
static void csv_field(Buf *b, const char *s, int last)
{
    if (strpbrk(s, ",\"\n\r")) {
        buf_put(b, "\"", 1);
        for (; *s; s++) buf_put(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
        buf_put(b, "\"", 1);
    } else {
        buf_put(b, s, strlen(s));
    }
    buf_put(b, last ? "\n" : ",", 1);
}

/* Reads one CSV field at *p into out (len bytes); *p moves past its comma
 * or line end. Returns 1 if a field ends the line, 0 if more follow, -1 on
 * a malformed or too long field. */
static int csv_read_field(const char **p, char *out, size_t len)
{
    const char *s = *p;
    size_t n = 0;
    int quoted = *s == '"';
    if (quoted) s++;
    for (;;) {
        char c = *s;
        if (!c) {
            if (quoted) return -1;
            break;
        }
        if (quoted && c == '"') {
            if (s[1] == '"') {
                c = '"', s++;
            } else {
                s++;
                quoted = 0;
                if (*s != ',' && *s != '\n' && *s) return -1;
                continue;
            }
        } else if (!quoted && (c == ',' || c == '\n')) {
            break;
        }
        if (n + 1 >= len) return -1;
        out[n++] = c;
        s++;
    }
    out[n] = 0;
    int end = *s != ',';
    if (*s) s++;
    *p = s;
    return end;
}

/* A setting's name as a folder: [A-Za-z0-9.+-_], not "." or "..". */
static int safe_name(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(".+-_", *s)) return 0;
    return 1;
}

static Status manifest_row(const char *path, int line, const char **p, ManRow *r, Err *e)
{
    char seed[32], folder[FM_NAME + 32], want[FM_NAME + 32];
    char *fields[5] = {r->name, r->label, seed, folder, r->flags};
    size_t lens[5] = {sizeof r->name, sizeof r->label, sizeof seed, sizeof folder, sizeof r->flags};
    for (int f = 0; f < 5; f++) {
        int end = csv_read_field(p, fields[f], lens[f]);
        if (end < 0 || end != (f == 4))
            return err_set(e, ST_ERR_FORMAT, "%s:%d: expected 5 fields (" MANIFEST_HEADER ")", path, line);
    }
    char *end;
    long sd = strtol(seed, &end, 10);
    if (!*seed || *end || sd < 0 || sd > 2147483647L)
        return err_set(e, ST_ERR_FORMAT, "%s:%d: seed '%s' is not a whole number from 0 to 2147483647", path, line,
                       seed);
    r->seed = (int)sd;
    snprintf(want, sizeof want, "%s/seed%d", r->name, r->seed);
    if (!safe_name(r->name) || strcmp(folder, want))
        return err_set(e, ST_ERR_FORMAT, "%s:%d: the folder '%s' is not SETTING/seedSEED of a plain setting name",
                       path, line, folder);
    return ST_OK;
}

/* Reads OUT/sweep.csv; none there: an empty manifest (if must, an error). */
static Status manifest_read(const char *out, int must, Manifest *m, Err *e)
{
    memset(m, 0, sizeof *m);
    char path[FM_PATH_NAME];
    snprintf(path, sizeof path, "%s/sweep.csv", out);
    if (!file_exists(path))
        return must ? err_set(e, ST_ERR_IO, "%s: no such file (is %s a sweep's folder?)", path, out) : ST_OK;
    char *text;
    size_t len;
    Status st = file_read_all(path, 16u << 20, &text, &len, e);
    if (st) return st;
    if (strlen(text) != len || strncmp(text, MANIFEST_HEADER, strlen(MANIFEST_HEADER)))
        st = err_set(e, ST_ERR_FORMAT, "%s: not a sweep manifest (expected the header %.*s)", path,
                     (int)strlen(MANIFEST_HEADER) - 1, MANIFEST_HEADER);
    const char *p = text + strlen(MANIFEST_HEADER);
    for (int line = 2; !st && *p; line++) {
        if (m->n == SWEEP_MAX_TRIALS) {
            st = err_set(e, ST_ERR_FORMAT, "%s: more than %d trials", path, SWEEP_MAX_TRIALS);
            break;
        }
        if (!m->rows && !(m->rows = malloc(SWEEP_MAX_TRIALS * sizeof *m->rows))) {
            st = err_set(e, ST_ERR_NOMEM, "out of memory for %s", path);
            break;
        }
        st = manifest_row(path, line, &p, &m->rows[m->n], e);
        for (int i = 0; !st && i < m->n; i++)
            if (!strcmp(m->rows[i].name, m->rows[m->n].name) && m->rows[i].seed == m->rows[m->n].seed)
                st = err_set(e, ST_ERR_FORMAT, "%s:%d: %s/seed%d is listed twice", path, line, m->rows[i].name,
                             m->rows[i].seed);
        m->n++;
    }
    free(text);
    if (st) manifest_free(m);
    return st;
}

/* m with the trials of s added (a trial already listed takes this sweep's
 * label and flags), written to OUT/sweep.csv atomically. */
static Status manifest_merge(const SweepSpec *s, Manifest *m, Err *e)
{
    if (!m->rows && !(m->rows = malloc(SWEEP_MAX_TRIALS * sizeof *m->rows)))
        return err_set(e, ST_ERR_NOMEM, "out of memory for the manifest");
    for (int k = 0; k < sweep_ntrials(s); k++) {
        int seed, i = 0;
        const SweepSetting *st = sweep_trial(s, k, &seed);
        while (i < m->n && (strcmp(m->rows[i].name, st->name) || m->rows[i].seed != seed)) i++;
        if (i == m->n && m->n == SWEEP_MAX_TRIALS)
            return err_set(e, ST_ERR_ARG, "%s/sweep.csv would list more than %d trials; choose another --out", s->out,
                           SWEEP_MAX_TRIALS);
        ManRow *r = &m->rows[i];
        snprintf(r->name, sizeof r->name, "%s", st->name);
        snprintf(r->label, sizeof r->label, "%s", st->label);
        snprintf(r->flags, sizeof r->flags, "%s", st->flags);
        r->seed = seed;
        if (i == m->n) m->n++;
    }
    Buf b = {0};
    buf_printf(&b, MANIFEST_HEADER);
    for (int i = 0; i < m->n; i++) {
        char seed[32], folder[FM_NAME + 32];
        snprintf(seed, sizeof seed, "%d", m->rows[i].seed);
        snprintf(folder, sizeof folder, "%s/seed%d", m->rows[i].name, m->rows[i].seed);
        csv_field(&b, m->rows[i].name, 0);
        csv_field(&b, m->rows[i].label, 0);
        csv_field(&b, seed, 0);
        csv_field(&b, folder, 0);
        csv_field(&b, m->rows[i].flags, 1);
    }
    char path[FM_PATH_NAME];
    snprintf(path, sizeof path, "%s/sweep.csv", s->out);
    Status st = b.failed ? err_set(e, ST_ERR_NOMEM, "out of memory for %s", path)
                         : file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return st;
}

Status sweep_manifest_flags(const char *out, char (*names)[32], int max, int *n, Err *e)
{
    *n = 0;
    Manifest m;
    Status st = manifest_read(out, 0, &m, e);
    for (int i = 0; !st && i < m.n; i++)
        for (const char *p = m.rows[i].flags; *p; p += strcspn(p, " "), p += strspn(p, " ")) {
            if (strncmp(p, "--", 2)) continue; /* a value */
            p += 2;
            size_t len = strcspn(p, "= ");
            int k = 0;
            while (k < *n && (strlen(names[k]) != len || strncmp(names[k], p, len))) k++;
            if (k == *n && *n < max && len < sizeof names[0])
                snprintf(names[(*n)++], sizeof names[0], "%.*s", (int)len, p);
        }
    manifest_free(&m);
    return st;
}

/* ---- the state of a trial's folder ---- */

/* The dropout rates of net as "dropout=P1,P2,.." (the checkpoint's model
 * text holds them, not its settings). */
static void dropout_of(const Net *net, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "dropout=");
    for (int i = 0, k = 0; i < net->nlayers && n < len; i++)
        if (net->layers[i].ops->flags & LAYER_DROPOUT)
            n += (size_t)snprintf(buf + n, len - n, "%s%.9g", k++ ? "," : "", (double)net->layers[i].spec.p);
}

/* What a folder holds. */
typedef struct {
    SweepTrialState state;
    int present;      /* log.csv or model.fmw is there                       */
    Curve log;        /* finished: its log.csv (curve_free it)              */
} Member;

/* The run in model.fmw (loaded as net, ck) is finished: at an epoch's end,
 * with every epoch, or ended by early stopping. */
static int run_finished(const CkptState *ck, const RunSettings *have)
{
    if (ck->pos_batch > 0) return 0;
    if (ck->epoch >= have->train.epochs) return 1;
    return have->train.early_stop > 0 && have->val > 0 && ck->has_val &&
           ck->epoch - ck->val_best_epoch >= have->train.early_stop;
}

/* The checkpoint's settings against want and want_net's dropout rates
 * (want NULL: any). Errors name the folder and what differs. */
static Status same_settings(const char *dir, const char *path, const CkptState *ck, const Net *net,
                            const RunSettings *want, const Net *want_net, RunSettings *have, Err *e)
{
    Err sub;
    if (settings_read(path, ck, have, &sub))
        return err_set(e, ST_ERR_IO, "%s holds a run whose settings cannot be read (%s); choose another --out", dir,
                       sub.msg);
    if (!want) return ST_OK;
    char wa[FM_PATH + 64], wb[FM_PATH + 64];
    int differ = settings_diff(have, want, wa, wb, sizeof wa);
    if (!differ) {
        dropout_of(net, wa, sizeof wa);
        dropout_of(want_net, wb, sizeof wb);
        differ = strcmp(wa, wb) != 0;
    }
    if (differ)
        return err_set(e, ST_ERR_IO, "%s holds a run with other settings (it has %s where this sweep has %s); choose "
                                     "another --out", dir, wa, wb);
    return ST_OK;
}

/* The state of the trial folder dir: NEW (nothing there), RESUME or
 * FINISHED (its log into m->log). want (if not NULL) are the settings the
 * trial needs and want_net its net: another run's folder is an error. A
 * log.csv or model.fmw that cannot be read is an error naming it, as is a
 * log without a checkpoint (nothing to resume from), never "train again". */
/* st after a member's file could not be read: the message says what to do. */
static Status unreadable(Status st, const char *dir, Err *e)
{
    if (!e) return st;
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, " (a run of the sweep that cannot be read is not trained again: remove %s "
                                             "to train it anew)", dir);
    return st;
}

static Status member_state(const char *dir, const RunSettings *want, const Net *want_net, Member *m, Err *e)
{
    memset(m, 0, sizeof *m);
    char log[FM_PATH_NAME + FM_NAME + 16], model[FM_PATH_NAME + FM_NAME + 16];
    snprintf(log, sizeof log, "%s/log.csv", dir);
    snprintf(model, sizeof model, "%s/model.fmw", dir);
    int has_log = file_exists(log), has_model = file_exists(model);
    m->present = has_log || has_model;
    if (!m->present) return ST_OK; /* SWEEP_TRIAL_NEW */
    Status st;
    if (has_log && (st = curve_read(log, &m->log, e))) return unreadable(st, dir, e);
    if (!has_model) {
        curve_free(&m->log);
        return err_set(e, ST_ERR_IO, "%s has a log.csv but no model.fmw to resume from; remove %s to train this "
                                     "trial again", dir, dir);
    }
    Net *net;
    CkptState ck;
    if ((st = weights_load_run(model, 1, &net, &ck, e))) {
        curve_free(&m->log);
        return unreadable(st, dir, e);
    }
    RunSettings have;
    if (!(st = same_settings(dir, model, &ck, net, want, want_net, &have, e))) {
        if (!ck.has_progress || !ck.has_optim)
            st = err_set(e, ST_ERR_FORMAT, "%s: holds weights only, no training state to resume", model);
        else if (!run_finished(&ck, &have)) m->state = SWEEP_TRIAL_RESUME;
        else if (!has_log || m->log.n != ck.epoch)
            st = err_set(e, ST_ERR_FORMAT, "%s holds a finished run of %d epoch%s but %s has %d; remove %s to train "
                                           "this trial again", model, ck.epoch, ck.epoch == 1 ? "" : "s", log, has_log ? m->log.n : 0, dir);
        else m->state = SWEEP_TRIAL_FINISHED;
    }
    weights_state_free(&ck);
    net_free(net);
    if (st || m->state != SWEEP_TRIAL_FINISHED) curve_free(&m->log);
    return st;
}

/* ---- the summary ---- */

void sweep_result_free(SweepResult *r)
{
    if (!r) return;
    compare_free(&r->sum);
    free(r->settings);
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* The finished trials of a manifest, read back. */
typedef struct {
    int nsettings, nruns;
    CompareSetting *settings;
    char (*text)[2][160];
    CompareInput *runs;
    Curve *curves;
    int missing;
} Found;

static void found_free(Found *f)
{
    for (int i = 0; i < f->nruns; i++) curve_free(&f->curves[i]);
    free(f->curves);
    free(f->runs);
    free(f->settings);
    free(f->text);
    memset(f, 0, sizeof *f);
}

/* Every finished trial the manifest of out lists (its settings in order of
 * first appearance); the others counted in missing. Errors: an unreadable
 * member (naming its file). */
static Status found_read(const char *out, const Manifest *m, Found *f, Err *e)
{
    memset(f, 0, sizeof *f);
    int n = m->n > 0 ? m->n : 1;
    f->settings = calloc((size_t)n, sizeof *f->settings);
    f->text = calloc((size_t)n, sizeof *f->text);
    f->runs = calloc((size_t)n, sizeof *f->runs);
    f->curves = calloc((size_t)n, sizeof *f->curves);
    if (!f->settings || !f->text || !f->runs || !f->curves) return err_set(e, ST_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n; i++) {
        const ManRow *r = &m->rows[i];
        char dir[FM_PATH_NAME + FM_NAME];
        snprintf(dir, sizeof dir, "%s/%s/seed%d", out, r->name, r->seed);
        Member mb;
        Status st = member_state(dir, NULL, NULL, &mb, e);
        if (st) return st;
        if (mb.state != SWEEP_TRIAL_FINISHED) {
            f->missing++;
            continue;
        }
        int k = 0;
        while (k < f->nsettings && strcmp(f->text[k][0], r->name)) k++;
        if (k == f->nsettings) {
            snprintf(f->text[k][0], sizeof f->text[k][0], "%s", r->name);
            snprintf(f->text[k][1], sizeof f->text[k][1], "%s", r->label);
            f->nsettings++;
        }
        f->curves[f->nruns] = mb.log;
        f->runs[f->nruns] = (CompareInput){k, r->seed, NULL};
        f->nruns++;
    }
    for (int k = 0; k < f->nsettings; k++) f->settings[k] = (CompareSetting){f->text[k][0], f->text[k][1]};
    for (int i = 0; i < f->nruns; i++) f->runs[i].curve = &f->curves[i];
    return ST_OK;
}

/* compare_format of sum in fmt, written to OUT/name. */
static Status write_table(const char *out, const char *name, const CompareSummary *sum, CompareFormat fmt, Err *e)
{
    char path[FM_PATH_NAME];
    snprintf(path, sizeof path, "%s/%s", out, name);
    Buf b = {0};
    compare_format(sum, fmt, &b);
    Status st = b.failed ? err_set(e, ST_ERR_NOMEM, "out of memory for %s", path)
                         : file_write_atomic(path, b.data ? b.data : "", b.len, e);
    buf_free(&b);
    return st;
}

/* compare_loss, compare_acc and compare_final of f and sum, each as .png
 * and .svg. */
static Status write_charts(const char *out, const Found *f, const CompareSummary *sum, int logy, int show_seeds,
                           Err *e)
{
    int ns = f->nsettings, nr = f->nruns;
    PlotGroup *groups = calloc((size_t)ns + 1, sizeof *groups);
    const Curve **runs = calloc((size_t)nr + 1, sizeof *runs);
    double *finals = calloc((size_t)nr + 1, sizeof *finals);
    const double **values = calloc((size_t)ns + 1, sizeof *values);
    int *nvalues = calloc((size_t)ns + 1, sizeof *nvalues);
    const char **labels = calloc((size_t)ns + 1, sizeof *labels);
    Stat *acc = calloc((size_t)ns + 1, sizeof *acc);
    Status st = ST_OK;
    if (!groups || !runs || !finals || !values || !nvalues || !labels || !acc)
        st = err_set(e, ST_ERR_NOMEM, "out of memory for the charts");
    for (int k = 0, at = 0; !st && k < ns; k++) { /* each setting's runs, one after another */
        groups[k] = (PlotGroup){f->text[k][1], runs + at, 0};
        values[k] = finals + at;
        for (int i = 0; i < nr; i++)
            if (f->runs[i].setting == k) {
                runs[at] = f->runs[i].curve;
                finals[at++] = f->runs[i].curve->test_acc[f->runs[i].curve->n - 1];
                groups[k].n++;
            }
        nvalues[k] = groups[k].n;
        labels[k] = f->text[k][1];
        acc[k] = sum->aggs[k].test_acc;
    }
    static const char *const NAMES[3] = {"compare_loss", "compare_acc", "compare_final"};
    for (int c = 0; !st && c < 3; c++) {
        Image im;
        st = c < 2 ? plot_groups_image(&im, groups, ns, c == 0 ? PLOT_LOSS : PLOT_ACC, c == 0 ? logy : 0, show_seeds,
                                       NULL, NULL, e)
                   : plot_final_image(&im, labels, acc, values, nvalues, ns, sum->best, NULL, NULL, e);
        if (st) break;
        for (int x = 0; !st && x < 2; x++) { /* the same drawing as PNG and as SVG */
            char path[FM_PATH_NAME];
            snprintf(path, sizeof path, "%s/%s.%s", out, NAMES[c], x ? "svg" : "png");
            st = plot_write_image(&im, path, e);
        }
        draw_image_free(&im);
    }
    free(groups), free(runs), free(finals), free(values), free(nvalues), free(labels), free(acc);
    return st;
}

/* The summary and charts of every finished trial of out's manifest m; into
 * res (if not NULL), which then owns the settings. Everything is read
 * before anything is written. */
static Status summarize(const char *out, const Manifest *m, int logy, int show_seeds, SweepResult *res, Err *e)
{
    Found f;
    CompareSummary sum = {0};
    Status st = found_read(out, m, &f, e);
    if (!st && !f.nruns)
        st = err_set(e, ST_ERR_IO, "%s: none of the %d trials of its sweep.csv is finished yet: nothing to summarize",
                     out, m->n);
    if (!st) st = compare_summarize(f.settings, f.nsettings, f.runs, f.nruns, &sum, e);
    if (!st) st = write_table(out, "summary.csv", &sum, COMPARE_CSV, e);
    if (!st) st = write_table(out, "summary.md", &sum, COMPARE_MD, e);
    if (!st) st = write_charts(out, &f, &sum, logy, show_seeds, e);
    if (!st && res) {
        *res = (SweepResult){sum, f.settings, f.text, f.missing};
        f.settings = NULL, f.text = NULL;
    } else {
        compare_free(&sum);
    }
    found_free(&f);
    return st;
}

Status sweep_summarize(const char *out, int logy, int show_seeds, SweepResult *res, Err *e)
{
    if (res) memset(res, 0, sizeof *res);
    Manifest m;
    Status st = manifest_read(out, 1, &m, e);
    if (!st) st = summarize(out, &m, logy, show_seeds, res, e);
    manifest_free(&m);
    return st;
}

/* ---- the trials ---- */

/* Trial k's run spec (its seed; out = dir; the engine's overwrite). */
static RunSpec trial_spec(const SweepSetting *st, int seed, const char *dir)
{
    RunSpec rs = st->run;
    rs.train.seed = (uint64_t)seed;
    rs.train.val = NULL;
    rs.out = dir;
    rs.log_path = NULL;
    rs.overwrite = 1; /* only ever a NEW or RESUME folder of this very trial */
    rs.resume = NULL;
    rs.log_so_far = NULL;
    rs.train.team = NULL; /* a trial is one process's, under a team too */
    return rs;
}

/* Trial k's validation set: val images of a copy of train, held out from
 * its seed as `train --val N --seed S` does; *rest gets the others. */
static Status hold_out(const Dataset *train, int val, uint64_t seed, Dataset *rest, Dataset *valset, Err *e)
{
    memset(rest, 0, sizeof *rest);
    memset(valset, 0, sizeof *valset);
    if (!val) {
        *rest = *train; /* borrowed: not freed */
        return ST_OK;
    }
    size_t px = (size_t)train->n * (size_t)train->h * (size_t)train->w;
    *rest = (Dataset){train->n, train->h, train->w, malloc(px ? px : 1), malloc((size_t)train->n + 1), 0};
    if (!rest->pixels || !rest->labels) {
        dataset_free(rest);
        return err_set(e, ST_ERR_NOMEM, "out of memory for the validation split");
    }
    memcpy(rest->pixels, train->pixels, px);
    memcpy(rest->labels, train->labels, (size_t)train->n);
    Status st = dataset_hold_out(rest, val, seed, valset, e);
    if (st) dataset_free(rest);
    return st;
}

/* The settings trial k records (those `train` with its flags records). */
static void trial_want(const SweepSpec *s, const SweepSetting *st, int seed, const char *dir, int train_n,
                       RunSettings *want)
{
    RunSpec rs = trial_spec(st, seed, dir);
    run_settings(&rs, train_n - s->val, want);
    want->val = s->val;
}

/* The work of one image through net, forward: the multiply-adds of its
 * weighted layers (a conv's weights once per output position; a dense
 * layer has one) and one per output of every layer. A measure to order
 * trials by, not a time. */
static double net_work(const Net *net)
{
    double w = 0.0;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        w += ((double)l->nw + (double)l->out.c) * (double)l->out.h * (double)l->out.w;
    }
    return w;
}

/* Before anything is made: every setting's net against the data and the
 * memory, every trial's folder (its state into states[k]), and every
 * other member of the manifest readable. work (if not NULL) gets each
 * setting's epochs x net_work. */
static Status check_all(const SweepSpec *s, const Manifest *m, const Dataset *train, const Dataset *test,
                        SweepTrialState *states, double *work, Err *e)
{
    char dir[FM_PATH_NAME + FM_NAME];
    if (s->val < 0 || (s->val > 0 && s->val >= train->n))
        return err_set(e, ST_ERR_ARG, "--val %d: the %d training images cannot spare it (give fewer, or --val 0)",
                       s->val, train->n);
    for (int i = 0; i < s->nsettings; i++) {
        const SweepSetting *st = &s->settings[i];
        for (int j = 0; j < i; j++)
            if (!strcmp(s->settings[j].name, st->name))
                return err_set(e, ST_ERR_ARG, "the setting %s is given twice", st->name);
        Net *net;
        RunSpec rs = trial_spec(st, s->seeds[0], s->out);
        Status r = run_build_net(rs.model, st->ndropout ? st->dropout : NULL, st->ndropout, rs.train.batch, &net, e);
        if (!r) r = train_check_sets(net, train, test, e);
        if (s->val > 0) rs.train.val = train; /* a trial's copy: its rest and its validation images */
        if (!r) r = run_memory_check(&rs, net, train, test, NULL, e);
        if (r) {
            err_prefix(e, st->name);
            net_free(net);
            return r;
        }
        if (work) work[i] = (double)st->run.train.epochs * net_work(net);
        for (int j = 0; !r && j < s->nseeds; j++) {
            int k = i * s->nseeds + j, seed;
            if (s->has_trial && k != s->trial) continue; /* another task's: it may be training now */
            sweep_trial_dir(s, k, dir, sizeof dir, &seed);
            RunSettings want;
            trial_want(s, st, seed, dir, train->n, &want);
            Member mb;
            r = member_state(dir, &want, net, &mb, e);
            curve_free(&mb.log);
            states[k] = mb.state;
        }
        net_free(net);
        if (r) return r;
    }
    for (int i = 0; !s->has_trial && i < m->n; i++) { /* the earlier sweeps' members: readable, or said */
        snprintf(dir, sizeof dir, "%s/%s/seed%d", s->out, m->rows[i].name, m->rows[i].seed);
        Member mb;
        Status r = member_state(dir, NULL, NULL, &mb, e);
        curve_free(&mb.log);
        if (r) return r;
    }
    return ST_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Trains trial k from scratch in dir. */
static Status trial_new(const SweepSpec *s, int k, const char *dir, const Dataset *train, const Dataset *test,
                        const SweepHooks *h, Err *e)
{
    int seed;
    const SweepSetting *st = sweep_trial(s, k, &seed);
    RunSpec rs = trial_spec(st, seed, dir);
    Net *net;
    Status r = run_build_net(rs.model, st->ndropout ? st->dropout : NULL, st->ndropout, rs.train.batch, &net, e);
    if (r) return r;
    if (h && h->on_trial) h->on_trial(h->ctx, k, sweep_ntrials(s), st, seed, dir, SWEEP_TRIAL_NEW, net);
    Dataset rest, val;
    if (!(r = hold_out(train, s->val, rs.train.seed, &rest, &val, e))) {
        if (s->val) rs.train.val = &val;
        net_init(net, rs.train.seed);
        if (!(r = run_prepare(&rs, e))) r = run_train(&rs, net, &rest, test, h ? &h->run : NULL, e);
        if (s->val) dataset_free(&rest);
        dataset_free(&val);
    }
    net_free(net);
    return r;
}

/* Resumes trial k from dir/model.fmw: its hold-out again from its seed. */
static Status trial_resume(const SweepSpec *s, int k, const char *dir, const Dataset *train, const Dataset *test,
                           const SweepHooks *h, Err *e)
{
    int seed;
    const SweepSetting *st = sweep_trial(s, k, &seed);
    char model[FM_PATH_NAME + FM_NAME + 16];
    snprintf(model, sizeof model, "%s/model.fmw", dir);
    ResumedRun rr;
    Status r = resume_load(model, 0, &rr, e);
    if (r) return r;
    rr.spec.out = dir;
    rr.spec.overwrite = 1;
    rr.spec.save_every = st->run.save_every;
    rr.spec.tensorboard = st->run.tensorboard, rr.spec.tb_every = st->run.tb_every;
    rr.spec.train.team = NULL;
    if (h && h->on_trial) h->on_trial(h->ctx, k, sweep_ntrials(s), st, seed, dir, SWEEP_TRIAL_RESUME, rr.net);
    Dataset rest, val;
    if (!(r = hold_out(train, rr.settings.val, rr.settings.train.seed, &rest, &val, e))) {
        if (rr.settings.val) rr.spec.train.val = &val;
        if (rest.n != rr.settings.train_n)
            r = err_set(e, ST_ERR_FORMAT, "%s was trained on %d images; this sweep has %d", model,
                        rr.settings.train_n, rest.n);
        if (!r && !(r = run_prepare(&rr.spec, e))) r = run_train(&rr.spec, rr.net, &rest, test, h ? &h->run : NULL, e);
        if (rr.settings.val) dataset_free(&rest);
        dataset_free(&val);
    }
    resume_free(&rr);
    return r;
}

/* Trial k: trained, resumed or skipped; then its curves.png. */
static Status trial_run(const SweepSpec *s, int k, SweepTrialState state, const Dataset *train, const Dataset *test,
                        const SweepHooks *h, Err *e)
{
    char dir[FM_PATH_NAME + FM_NAME], log[FM_PATH_NAME + FM_NAME + 16], png[FM_PATH_NAME + FM_NAME + 16];
    int seed, n = sweep_ntrials(s);
    sweep_trial_dir(s, k, dir, sizeof dir, &seed);
    double t0 = now_seconds();
    Status r = ST_OK;
    if (state == SWEEP_TRIAL_NEW) r = trial_new(s, k, dir, train, test, h, e);
    else if (state == SWEEP_TRIAL_RESUME) r = trial_resume(s, k, dir, train, test, h, e);
    else if (h && h->on_trial) h->on_trial(h->ctx, k, n, sweep_trial(s, k, NULL), seed, dir, state, NULL);
    if (r) return r;
    snprintf(log, sizeof log, "%s/log.csv", dir);
    snprintf(png, sizeof png, "%s/curves.png", dir);
    if ((state != SWEEP_TRIAL_FINISHED || !file_exists(png)) && (r = plot_log_file(log, png, e))) return r;
    if (h && h->on_trial_done)
        h->on_trial_done(h->ctx, k, n, state == SWEEP_TRIAL_FINISHED ? 0 : now_seconds() - t0);
    return ST_OK;
}

/* The serial sweep's first steps, on one process: the manifest read, every
 * folder checked (states, and each setting's work if work is not NULL),
 * on_plan called, the folder and the manifest written. */
static Status plan_and_write(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                             SweepTrialState *states, double *work, Err *e)
{
    Manifest m;
    Status st = manifest_read(s->out, 0, &m, e);
    if (!st) st = check_all(s, &m, train, test, states, work, e);
    if (!st && h && h->on_plan) h->on_plan(h->ctx, states, sweep_ntrials(s));
    if (!st) st = file_mkdirs(s->out, e);
    if (!st) st = manifest_merge(s, &m, e);
    manifest_free(&m);
    return st;
}

/* The spec's counts (and its trial) in range. */
static Status check_counts(const SweepSpec *s, Err *e)
{
    if (s->nsettings < 1 || s->nsettings > SWEEP_MAX_SETTINGS || s->nseeds < 1 || s->nseeds > SWEEP_MAX_SEEDS ||
        sweep_ntrials(s) > SWEEP_MAX_TRIALS)
        return err_set(e, ST_ERR_ARG, "a sweep has 1 to %d settings and 1 to %d seeds, %d trials at most, not %d x %d",
                       SWEEP_MAX_SETTINGS, SWEEP_MAX_SEEDS, SWEEP_MAX_TRIALS, s->nsettings, s->nseeds);
    int n = sweep_ntrials(s);
    if (s->has_trial && team_size(s->team) > 1)
        return err_set(e, ST_ERR_ARG, "--trial %d runs one trial in one process, not on %d ranks (under mpirun the "
                                      "ranks take the trials from a queue: leave --trial out)", s->trial,
                       team_size(s->team));
    if (s->has_trial && (s->trial < 0 || s->trial >= n))
        return err_set(e, ST_ERR_ARG, "--trial %d: this sweep has trials 0 to %d (see --list)", s->trial, n - 1);
    return ST_OK;
}

/* Runs trial k; a diverged one is reported and is no failure. */
static Status trial_go(const SweepSpec *s, int k, SweepTrialState state, const Dataset *train, const Dataset *test,
                       const SweepHooks *h, Err *e)
{
    Status st = trial_run(s, k, state, train, test, h, e);
    if (st == ST_ERR_DIVERGED) { /* the others go on */
        if (h && h->on_trial_failed) h->on_trial_failed(h->ctx, k, sweep_ntrials(s), e);
        st = ST_OK;
    }
    return st;
}

/* ---- the trials from a queue: a team of ranks ---- */

/* What rank 0 tells the others once its check passed: each trial's state,
 * and the order the queue gives them in. */
typedef struct {
    int *state;    /* [n] a SweepTrialState                                 */
    int *order;    /* [n] the trial the queue's index q gives              */
} QueuePlan;

/* order[0..n): the trials by their work (epochs x net_work of their
 * setting), the most first; finished trials (nothing to do) last; ties in
 * trial order. A stable insertion sort: n is at most SWEEP_MAX_TRIALS. */
static void queue_order(const SweepSpec *s, const SweepTrialState *states, const double *work, int *order)
{
    int n = sweep_ntrials(s);
    for (int k = 0; k < n; k++) {
        double wk = states[k] == SWEEP_TRIAL_FINISHED ? -1.0 : work[k / s->nseeds];
        int j = k;
        for (; j > 0; j--) {
            int o = order[j - 1];
            double wo = states[o] == SWEEP_TRIAL_FINISHED ? -1.0 : work[o / s->nseeds];
            if (wo >= wk) break;
            order[j] = o;
        }
        order[j] = k;
    }
}

/* Rank 0's part before the trials: the serial sweep's check and manifest,
 * and the queue's plan. */
static Status root_plan(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                        QueuePlan *p, Err *e)
{
    int n = sweep_ntrials(s);
    SweepTrialState *states = calloc((size_t)n, sizeof *states);
    double *work = calloc((size_t)s->nsettings, sizeof *work);
    Status st = states && work ? ST_OK : err_set(e, ST_ERR_NOMEM, "out of memory");
    if (!st) st = plan_and_write(s, train, test, h, states, work, e);
    if (!st) {
        queue_order(s, states, work, p->order);
        for (int k = 0; k < n; k++) p->state[k] = (int)states[k];
    }
    free(states);
    free(work);
    return st;
}

static int stop_raised(const SweepHooks *h) { return h && h->run.stop && *h->run.stop; }

/* This rank's trials: taken from the queue until it is empty or the stop
 * flag is raised. A failed trial is reported and the next one taken; the
 * first failure (or the stop) is the rank's status. */
static Status take_trials(const SweepSpec *s, const QueuePlan *p, const Dataset *train, const Dataset *test,
                          const SweepHooks *h, Err *e)
{
    const Team *t = s->team;
    const int n = sweep_ntrials(s);
    Status mine = ST_OK;
    Err sub;
    for (;;) {
        if (stop_raised(h)) {
            if (!mine) mine = err_set(e, ST_ERR_INTERRUPTED, "interrupted: no further trial taken");
            break;
        }
        long q = t->take(t);
        if (q >= n) break;
        int k = p->order[q];
        Status st = trial_go(s, k, (SweepTrialState)p->state[k], train, test, h, &sub);
        if (st == ST_ERR_INTERRUPTED) { /* the stop wins over an earlier failure: rerun to resume */
            mine = st, *e = sub;
            break;
        }
        if (st && h && h->on_trial_failed) h->on_trial_failed(h->ctx, k, n, &sub);
        if (st && !mine) mine = st, *e = sub;
    }
    return mine;
}

/* team_agree on a status only rank 0 can have failed with: its message as
 * it is, on every rank (the check is the sweep's, not a rank's). */
static Status agree_root(const Team *t, Status st, Err *e)
{
    static const char pre[] = "rank 0: ";
    st = team_agree(t, st, e);
    size_t n = strlen(pre);
    if (st && !strncmp(e->msg, pre, n)) memmove(e->msg, e->msg + n, strlen(e->msg + n) + 1);
    return st;
}

/* sweep_execute with a team of more than one rank. */
static Status team_execute(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                           SweepResult *res, Err *e)
{
    const Team *t = s->team;
    const int n = sweep_ntrials(s);
    int *buf = calloc(2 * (size_t)n, sizeof *buf);
    QueuePlan p = {buf, buf ? buf + n : NULL};
    Status st = buf ? ST_OK : err_set(e, ST_ERR_NOMEM, "out of memory");
    if (!st && t->rank == 0) st = root_plan(s, train, test, h, &p, e);
    if (!(st = agree_root(t, st, e))) {
        t->bcast(t, buf, 2 * (size_t)n * sizeof *buf, 0);
        st = team_agree(t, take_trials(s, &p, train, test, h, e), e);
    }
    if (!st) {
        Status sum = t->rank == 0 ? sweep_summarize(s->out, s->logy, s->show_seeds, res, e) : ST_OK;
        st = agree_root(t, sum, e);
    }
    free(buf);
    return st;
}

/* ---- the sweep ---- */

Status sweep_execute(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                     SweepResult *res, Err *e)
{
    if (res) memset(res, 0, sizeof *res);
    Status st = check_counts(s, e);
    if (st) return st;
    if (team_size(s->team) > 1) return team_execute(s, train, test, h, res, e);
    int n = sweep_ntrials(s);
    SweepTrialState *states = calloc((size_t)n, sizeof *states);
    if (!states) return err_set(e, ST_ERR_NOMEM, "out of memory");
    st = plan_and_write(s, train, test, h, states, NULL, e);
    for (int k = 0; !st && k < n; k++)
        if (!s->has_trial || k == s->trial) st = trial_go(s, k, states[k], train, test, h, e);
    if (!st && !s->has_trial) st = sweep_summarize(s->out, s->logy, s->show_seeds, res, e);
    free(states);
    return st;
}
