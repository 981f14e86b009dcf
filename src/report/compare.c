/* compare.c - a sweep's runs as statistics and a comparison in words (see
 * compare.h).
 *
 * The choices made here read validation figures only: a run's best epoch is
 * its first lowest validation loss, the best setting the lowest mean final
 * validation loss (the first such). Test figures are averaged and compared,
 * never chosen by. A setting is compared with the reference seed by seed
 * (paired: the same seeds) and the verdict is that of the 95% paired t
 * interval of the mean difference of final test accuracy.
 *
 * summary.csv (COMPARE_CSV) has one header and two kinds of rows. Columns:
 *   kind               "run" (one trained run) or "setting" (a setting over its seeds)
 *   setting, label     the setting's folder name and its words (quoted)
 *   seed               run: its seed; setting: empty
 *   n                  setting: runs (seeds) averaged; run: empty
 *   epochs             run: rows of its log; setting: empty
 *   test_acc           run: final test accuracy; setting: its mean over the runs
 *   test_acc_sd/lo/hi  setting: sample sd and 95% t interval of the mean (empty if n < 2)
 *   test_loss, test_loss_sd/lo/hi      the same for the final test loss
 *   train_loss         run: final training loss
 *   loss_gap, loss_gap_sd/lo/hi        the same for test loss - training loss
 *   acc_gap            run: final training accuracy - test accuracy
 *   val_loss, val_acc  run: final validation figures; setting: mean val_loss
 *   val_min_epoch      run: the epoch of the lowest validation loss (the best epoch)
 *   test_acc_at_val_min  run: the test accuracy at that epoch (reported, not chosen)
 *   seconds            run: training time; setting: the mean of its runs
 *   test_acc_diff, test_acc_diff_lo/hi  setting: mean paired difference of final test
 *                      accuracy against the reference and its 95% paired t interval
 *   shared_seeds       setting: seeds it shares with the reference
 *   verdict            setting: reference, same, lower, higher or no_statement
 *   weight_norm        run: the last weight norm; setting: its mean (only when some log has one)
 * Accuracies are fractions; a cell is empty where the value does not exist
 * (no validation set, fewer than two seeds, the reference against itself). */
#include "report/compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a run's figures ---------------------------------------------------- */

/* The index of the first lowest validation loss of c (NaNs never win; 0 if
 * every value is NaN). */
static int lowest_val_row(const Curve *c)
{
    int best = -1;
    for (int i = 0; i < c->n; i++)
        if (!isnan(c->val_loss[i]) && (best < 0 || c->val_loss[i] < c->val_loss[best])) best = i;
    return best < 0 ? 0 : best;
}

Status compare_run(const Curve *c, CompareRun *r, Err *e)
{
    memset(r, 0, sizeof *r);
    if (c->n < 1) return err_set(e, ST_ERR_FORMAT, "the log has no finished epoch");
    int last = c->n - 1;
    r->epochs = c->n;
    r->final_train_loss = c->train_loss[last];
    r->final_train_acc = c->train_acc[last];
    r->final_test_loss = c->test_loss[last];
    r->final_test_acc = c->test_acc[last];
    r->loss_gap = c->test_loss[last] - c->train_loss[last];
    r->acc_gap = c->train_acc[last] - c->test_acc[last];
    for (int i = 0; i < c->n; i++) r->seconds += c->seconds[i];
    if (c->weight_norm) r->has_norm = 1, r->weight_norm = c->weight_norm[last];
    r->final_val_loss = r->final_val_acc = r->best_val_loss = r->test_acc_at_best = NAN;
    if (!c->val_loss) return ST_OK;
    int best = lowest_val_row(c);
    r->has_val = 1;
    r->final_val_loss = c->val_loss[last];
    r->final_val_acc = c->val_acc[last];
    r->best_epoch = c->epoch[best];
    r->best_val_loss = c->val_loss[best];
    r->test_acc_at_best = c->test_acc[best];
    return ST_OK;
}

/* ---- a sweep's summary -------------------------------------------------- */

/* The index of setting k's first run with seed, or -1. */
static int find_run(const CompareSummary *s, int k, int seed)
{
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].setting == k && s->runs[i].seed == seed) return i;
    return -1;
}

/* Whether run i is the first of its setting with its seed (a repeated
 * setting/seed pair counts once). */
static int first_of_seed(const CompareSummary *s, int i)
{
    return find_run(s, s->runs[i].setting, s->runs[i].seed) == i;
}

/* Setting k's final figures over its runs; x and y hold nruns values. */
static void aggregate(const CompareSummary *s, int k, double *x, double *y, CompareAgg *a)
{
    int n = 0, nv = 0;
    double secs = 0;
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].setting == k && first_of_seed(s, i)) x[n++] = s->runs[i].final_test_acc;
    stats_of(x, n, &a->test_acc);
    n = 0;
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].setting == k && first_of_seed(s, i)) {
            const CompareRun *r = &s->runs[i];
            x[n] = r->final_test_loss;
            y[n++] = r->loss_gap;
            secs += r->seconds;
        }
    stats_of(x, n, &a->test_loss);
    stats_of(y, n, &a->loss_gap);
    a->seconds = n ? secs / n : NAN;
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].setting == k && first_of_seed(s, i) && s->runs[i].has_val) x[nv++] = s->runs[i].final_val_loss;
    stats_of(x, nv, &a->val_loss);
    nv = 0;
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].setting == k && first_of_seed(s, i) && s->runs[i].has_norm) x[nv++] = s->runs[i].weight_norm;
    stats_of(x, nv, &a->weight_norm);
}

/* The setting of the lowest mean final validation loss (the first such), or
 * -1 when no setting has validation figures. Reads no test figure. */
static int choose_best(const CompareSummary *s)
{
    int best = -1;
    for (int k = 0; k < s->nsettings; k++) {
        const Stat *v = &s->aggs[k].val_loss;
        if (v->n > 0 && !isnan(v->mean) && (best < 0 || v->mean < s->aggs[best].val_loss.mean)) best = k;
    }
    return best;
}

/* Setting k against the reference over the seeds both ran: the per-seed
 * differences of final test accuracy and of final validation loss. */
static void pair_with_ref(const CompareSummary *s, int k, double *x, double *y, ComparePair *p)
{
    int n = 0, nv = 0;
    for (int i = 0; i < s->nruns; i++) {
        const CompareRun *r = &s->runs[i];
        if (r->setting != s->ref || !first_of_seed(s, i)) continue;
        int j = find_run(s, k, r->seed);
        if (j < 0) continue;
        const CompareRun *o = &s->runs[j];
        x[n++] = o->final_test_acc - r->final_test_acc;
        if (o->has_val && r->has_val) y[nv++] = o->final_val_loss - r->final_val_loss;
    }
    p->shared = n;
    stats_of(x, n, &p->diff);
    stats_of(y, nv, &p->val_diff);
    if (n < 2) p->verdict = COMPARE_NO_STATEMENT;
    else if (p->diff.hi < 0) p->verdict = COMPARE_LOWER;
    else if (p->diff.lo > 0) p->verdict = COMPARE_HIGHER;
    else p->verdict = COMPARE_SAME;
}

/* The reference: the best setting, else the first setting with runs (0 if
 * none has any). */
static int choose_ref(const CompareSummary *s)
{
    if (s->best >= 0) return s->best;
    for (int k = 0; k < s->nsettings; k++)
        if (s->aggs[k].test_acc.n > 0) return k;
    return 0;
}

/* Each input's figures into s->runs. */
static Status read_runs(const CompareInput *in, CompareSummary *s, Err *e)
{
    for (int i = 0; i < s->nruns; i++) {
        if (in[i].setting < 0 || in[i].setting >= s->nsettings)
            return err_set(e, ST_ERR_ARG, "run %d: setting %d is not one of the %d settings", i, in[i].setting,
                           s->nsettings);
        Status st = compare_run(in[i].curve, &s->runs[i], e);
        if (st) {
            char where[300];
            snprintf(where, sizeof where, "%s, seed %d", s->settings[in[i].setting].name, in[i].seed);
            err_prefix(e, where);
            return st;
        }
        s->runs[i].setting = in[i].setting;
        s->runs[i].seed = in[i].seed;
    }
    return ST_OK;
}

Status compare_summarize(const CompareSetting *settings, int nsettings, const CompareInput *runs, int nruns,
                         CompareSummary *s, Err *e)
{
    memset(s, 0, sizeof *s);
    if (nsettings < 1 || nruns < 0) return err_set(e, ST_ERR_ARG, "a summary needs settings (%d given)", nsettings);
    s->settings = settings;
    s->nsettings = nsettings;
    s->nruns = nruns;
    size_t nr = (size_t)(nruns ? nruns : 1);
    s->runs = calloc(nr, sizeof *s->runs);
    s->aggs = calloc((size_t)nsettings, sizeof *s->aggs);
    s->pairs = calloc((size_t)nsettings, sizeof *s->pairs);
    double *x = malloc(nr * sizeof *x), *y = malloc(nr * sizeof *y);
    Status st = ST_OK;
    if (!s->runs || !s->aggs || !s->pairs || !x || !y)
        st = err_set(e, ST_ERR_NOMEM, "out of memory for a summary of %d runs", nruns);
    if (!st) st = read_runs(runs, s, e);
    if (!st) {
        for (int k = 0; k < nsettings; k++) aggregate(s, k, x, y, &s->aggs[k]);
        s->best = choose_best(s);
        s->ref = choose_ref(s);
        for (int k = 0; k < nsettings; k++) pair_with_ref(s, k, x, y, &s->pairs[k]);
    }
    free(x);
    free(y);
    if (st) compare_free(s);
    return st;
}

void compare_free(CompareSummary *s)
{
    if (!s) return;
    free(s->runs);
    free(s->aggs);
    free(s->pairs);
    memset(s, 0, sizeof *s);
    s->best = -1;
}

/* ---- CSV ---------------------------------------------------------------- */

/* ",v" in fmt, or "," when v does not exist (NaN). */
static void csv_num(Buf *b, const char *fmt, double v)
{
    buf_put(b, ",", 1);
    if (!isnan(v)) buf_printf(b, fmt, v);
}

/* ",text" quoted (RFC 4180: doubled quotes). */
static void csv_text(Buf *b, const char *text)
{
    buf_put(b, ",\"", 2);
    for (const char *p = text; *p; p++) {
        if (*p == '"') buf_put(b, "\"\"", 2);
        else buf_put(b, p, 1);
    }
    buf_put(b, "\"", 1);
}

/* ",mean,sd,lo,hi" of st (fractions or losses). */
static void csv_stat(Buf *b, const Stat *st)
{
    csv_num(b, "%.6f", st->mean);
    csv_num(b, "%.6f", st->sd);
    csv_num(b, "%.6f", st->lo);
    csv_num(b, "%.6f", st->hi);
}

static void csv_run_row(const CompareSummary *s, const CompareRun *r, int norm, Buf *b)
{
    const CompareSetting *set = &s->settings[r->setting];
    buf_printf(b, "run,%s", set->name);
    csv_text(b, set->label);
    buf_printf(b, ",%d,,%d", r->seed, r->epochs);
    csv_num(b, "%.6f", r->final_test_acc);
    buf_printf(b, ",,,");
    csv_num(b, "%.6f", r->final_test_loss);
    buf_printf(b, ",,,");
    csv_num(b, "%.6f", r->final_train_loss);
    csv_num(b, "%.6f", r->loss_gap);
    buf_printf(b, ",,,");
    csv_num(b, "%.6f", r->acc_gap);
    csv_num(b, "%.6f", r->final_val_loss);
    csv_num(b, "%.6f", r->final_val_acc);
    csv_num(b, "%.0f", r->has_val ? r->best_epoch : NAN);
    csv_num(b, "%.6f", r->test_acc_at_best);
    csv_num(b, "%.3f", r->seconds);
    buf_printf(b, ",,,,,");
    if (norm) csv_num(b, "%.6f", r->has_norm ? r->weight_norm : NAN);
    buf_printf(b, "\n");
}

static const char *verdict_word(const CompareSummary *s, int k)
{
    if (k == s->ref) return "reference";
    switch (s->pairs[k].verdict) {
    case COMPARE_SAME: return "same";
    case COMPARE_LOWER: return "lower";
    case COMPARE_HIGHER: return "higher";
    default: return "no_statement";
    }
}

static void csv_setting_row(const CompareSummary *s, int k, int norm, Buf *b)
{
    const CompareAgg *a = &s->aggs[k];
    const ComparePair *p = &s->pairs[k];
    int diff = k != s->ref && p->shared >= 2;
    buf_printf(b, "setting,%s", s->settings[k].name);
    csv_text(b, s->settings[k].label);
    buf_printf(b, ",,%d,", a->test_acc.n);
    csv_stat(b, &a->test_acc);
    csv_stat(b, &a->test_loss);
    buf_printf(b, ",");
    csv_stat(b, &a->loss_gap);
    buf_printf(b, ",");
    csv_num(b, "%.6f", a->val_loss.mean);
    buf_printf(b, ",,,");
    csv_num(b, "%.3f", a->seconds);
    csv_num(b, "%.6f", diff ? p->diff.mean : NAN);
    csv_num(b, "%.6f", diff ? p->diff.lo : NAN);
    csv_num(b, "%.6f", diff ? p->diff.hi : NAN);
    buf_printf(b, ",%d,%s", p->shared, verdict_word(s, k));
    if (norm) csv_num(b, "%.6f", a->weight_norm.mean);
    buf_printf(b, "\n");
}

static void format_csv(const CompareSummary *s, int norm, Buf *b)
{
    buf_printf(b, "kind,setting,label,seed,n,epochs,test_acc,test_acc_sd,test_acc_lo,test_acc_hi,test_loss,"
                  "test_loss_sd,test_loss_lo,test_loss_hi,train_loss,loss_gap,loss_gap_sd,loss_gap_lo,loss_gap_hi,"
                  "acc_gap,val_loss,val_acc,val_min_epoch,test_acc_at_val_min,seconds,test_acc_diff,"
                  "test_acc_diff_lo,test_acc_diff_hi,shared_seeds,verdict%s\n",
               norm ? ",weight_norm" : "");
    for (int i = 0; i < s->nruns; i++) csv_run_row(s, &s->runs[i], norm, b);
    for (int k = 0; k < s->nsettings; k++) csv_setting_row(s, k, norm, b);
}

/* ---- tables for the terminal and Markdown ------------------------------- */

#define TABLE_MAX_COLS 16
#define TABLE_CELL 192

/* A table of text cells; row 0 is the header. right: a bit per column
 * aligned right (numbers). */
typedef struct {
    int ncols, nrows;
    unsigned right;
    char (*cell)[TABLE_CELL];
} Table;

static int table_new(Table *t, int ncols, int nrows, unsigned right, Buf *b)
{
    t->ncols = ncols;
    t->nrows = nrows;
    t->right = right;
    t->cell = calloc((size_t)ncols * (size_t)nrows, sizeof *t->cell);
    if (!t->cell) b->failed = 1;
    return t->cell != NULL;
}

static void table_set(Table *t, int row, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void table_set(Table *t, int row, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cell[(size_t)row * (size_t)t->ncols + (size_t)col], TABLE_CELL, fmt, ap);
    va_end(ap);
}

static const char *table_get(const Table *t, int row, int col)
{
    return t->cell[(size_t)row * (size_t)t->ncols + (size_t)col];
}

/* Characters (UTF-8 code points) of text, for alignment. */
static int text_width(const char *text)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) w += (*p & 0xC0) != 0x80;
    return w;
}

static void table_emit_md(const Table *t, Buf *b)
{
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            buf_put(b, "| ", 2);
            for (const char *p = table_get(t, r, c); *p; p++) buf_put(b, *p == '|' ? "\\|" : p, *p == '|' ? 2 : 1);
            buf_put(b, " ", 1);
        }
        buf_printf(b, "|\n");
        if (r == 0) {
            for (int c = 0; c < t->ncols; c++) buf_printf(b, "|%s", t->right >> c & 1 ? "---:" : "---");
            buf_printf(b, "|\n");
        }
    }
}

static void table_emit_text(const Table *t, Buf *b)
{
    int w[TABLE_MAX_COLS] = {0};
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++)
            if (text_width(table_get(t, r, c)) > w[c]) w[c] = text_width(table_get(t, r, c));
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *x = table_get(t, r, c);
            int pad = w[c] - text_width(x), last = c == t->ncols - 1;
            if (c) buf_put(b, "  ", 2);
            if (t->right >> c & 1)
                for (int i = 0; i < pad; i++) buf_put(b, " ", 1);
            buf_printf(b, "%s", x);
            if (!(t->right >> c & 1) && !last)
                for (int i = 0; i < pad; i++) buf_put(b, " ", 1);
        }
        buf_printf(b, "\n");
    }
}

static void table_emit(Table *t, CompareFormat fmt, Buf *b)
{
    if (fmt == COMPARE_MD) table_emit_md(t, b);
    else table_emit_text(t, b);
    free(t->cell);
    t->cell = NULL;
}

/* ---- cells -------------------------------------------------------------- */

/* "mean +- sd" of st scaled by scale with prec decimals, then unit; the
 * mean alone when there is no sd, "n/a" without values. sign: "+" on a
 * positive mean. */
static void cell_mean_sd(Table *t, int row, int col, const Stat *st, double scale, int prec, int sign,
                         const char *unit, const char *pm)
{
    if (st->n == 0 || isnan(st->mean)) table_set(t, row, col, "n/a");
    else if (isnan(st->sd)) table_set(t, row, col, sign ? "%+.*f%s" : "%.*f%s", prec, scale * st->mean, unit);
    else
        table_set(t, row, col, sign ? "%+.*f %s %.*f%s" : "%.*f %s %.*f%s", prec, scale * st->mean, pm, prec,
                  scale * st->sd, unit);
}

/* v in fmt, or "n/a" when it does not exist (NaN). */
static void cell_num(Table *t, int row, int col, double v, const char *fmt)
{
    if (isnan(v)) table_set(t, row, col, "n/a");
    else table_set(t, row, col, fmt, v);
}

/* ---- the per-setting table ---------------------------------------------- */

static int any_val(const CompareSummary *s)
{
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].has_val) return 1;
    return 0;
}

static int any_norm(const CompareSummary *s)
{
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].has_norm) return 1;
    return 0;
}

static void setting_table(const CompareSummary *s, CompareFormat fmt, Buf *b)
{
    const char *pm = fmt == COMPARE_MD ? "\xc2\xb1" : "+-";
    int val = any_val(s), norm = any_norm(s), ncols = 6 + val + norm;
    Table t;
    if (!table_new(&t, ncols, s->nsettings + 1, 0xFEu, b)) return;
    const char *head[8] = {"setting", "n", "test acc (mean %s sd)", "95% interval", "test loss", "test - train loss",
                           "validation loss", "weight norm"};
    for (int c = 0; c < ncols; c++) {
        int h = c == 6 && !val ? 7 : c;
        table_set(&t, 0, c, h == 2 ? head[h] : "%s", h == 2 ? pm : head[h]);
    }
    for (int k = 0; k < s->nsettings; k++) {
        const CompareAgg *a = &s->aggs[k];
        int r = k + 1;
        table_set(&t, r, 0, "%s%s", s->settings[k].label, k == s->best ? " (chosen)" : "");
        table_set(&t, r, 1, "%d", a->test_acc.n);
        cell_mean_sd(&t, r, 2, &a->test_acc, 100, 2, 0, "%", pm);
        if (isnan(a->test_acc.lo)) table_set(&t, r, 3, "n/a");
        else table_set(&t, r, 3, "%.2f to %.2f%%", 100 * a->test_acc.lo, 100 * a->test_acc.hi);
        cell_mean_sd(&t, r, 4, &a->test_loss, 1, 4, 0, "", pm);
        cell_mean_sd(&t, r, 5, &a->loss_gap, 1, 4, 1, "", pm);
        if (val) cell_mean_sd(&t, r, 6, &a->val_loss, 1, 4, 0, "", pm);
        if (norm) cell_mean_sd(&t, r, 6 + val, &a->weight_norm, 1, 3, 0, "", pm);
    }
    table_emit(&t, fmt, b);
    buf_printf(b, "%sFinal figures (last epoch) over seeds: mean %s sample sd; 95%% interval: Student's t interval "
                  "of the mean test accuracy.\n",
               fmt == COMPARE_MD ? "\n" : "", pm);
}

/* ---- the comparison in words -------------------------------------------- */

/* Whether every setting has at most one run (one seed). */
static int one_seed_each(const CompareSummary *s)
{
    for (int k = 0; k < s->nsettings; k++)
        if (s->aggs[k].test_acc.n > 1) return 0;
    return 1;
}

/* The sentence on setting k against the reference. */
static void pair_sentence(const CompareSummary *s, int k, const char *bullet, Buf *b)
{
    const ComparePair *p = &s->pairs[k];
    const char *ref = s->settings[s->ref].label, *label = s->settings[k].label;
    if (s->aggs[k].test_acc.n == 0) {
        buf_printf(b, "%s%s: no finished run.\n", bullet, label);
        return;
    }
    if (p->shared < 2) {
        buf_printf(b, "%s%s: %d seed%s shared with %s: no statement about the difference can be made (a paired "
                      "comparison needs 2 or more shared seeds).\n",
                   bullet, label, p->shared, p->shared == 1 ? "" : "s", ref);
        return;
    }
    buf_printf(b, "%s%s: test accuracy %+.2f points against %s (95%% interval %+.2f to %+.2f, paired t over %d "
                  "shared seeds): ",
               bullet, label, 100 * p->diff.mean, ref, 100 * p->diff.lo, 100 * p->diff.hi, p->shared);
    if (p->verdict == COMPARE_SAME) buf_printf(b, "not distinguishable from seed noise (the interval includes 0).\n");
    else buf_printf(b, "%s, distinguishable from seed noise.\n", p->verdict == COMPARE_LOWER ? "lower" : "higher");
}

static void comparison_words(const CompareSummary *s, CompareFormat fmt, Buf *b)
{
    const char *bullet = fmt == COMPARE_MD ? "- " : "  ";
    if (s->best >= 0) {
        const Stat *v = &s->aggs[s->best].val_loss;
        buf_printf(b, "Chosen by validation loss: %s (mean final validation loss %.4f over %d seed%s). Test figures "
                      "are reported, never used to choose.\n",
                   s->settings[s->best].label, v->mean, v->n, v->n == 1 ? "" : "s");
    } else {
        buf_printf(b, "No validation set: nothing is selected (test figures are never used to select); settings "
                      "are compared with the first one, %s.\n",
                   s->settings[s->ref].label);
    }
    if (s->nsettings < 2) return;
    if (one_seed_each(s)) {
        buf_printf(b, "%sOne seed per setting: no statement about the differences can be made; run more seeds "
                      "(--seeds 1,2,3,4,5).\n",
                   fmt == COMPARE_MD ? "\n" : "");
        return;
    }
    if (fmt == COMPARE_MD) buf_printf(b, "\n");
    for (int k = 0; k < s->nsettings; k++)
        if (k != s->ref) pair_sentence(s, k, bullet, b);
}

/* ---- the per-run table -------------------------------------------------- */

static void run_table(const CompareSummary *s, CompareFormat fmt, Buf *b)
{
    int val = any_val(s), norm = any_norm(s);
    int ncols = 9 + 4 * val + norm;
    Table t;
    if (!table_new(&t, ncols, s->nruns + 1, ~1u, b)) return;
    const char *head[14] = {"setting",          "seed",     "epochs",  "test acc",         "test loss",
                            "train loss",       "test - train loss",   "train - test acc", "val loss",
                            "val acc",          "best epoch (val)",    "test acc there",   "seconds",
                            "weight norm"};
    int col[14], c = 0; /* the table column of each head, -1 if left out */
    for (int h = 0; h < 14; h++) col[h] = (h >= 8 && h <= 11 && !val) || (h == 13 && !norm) ? -1 : c++;
    for (int h = 0; h < 14; h++)
        if (col[h] >= 0) table_set(&t, 0, col[h], "%s", head[h]);
    for (int i = 0; i < s->nruns; i++) {
        const CompareRun *r = &s->runs[i];
        int row = i + 1;
        table_set(&t, row, col[0], "%s", s->settings[r->setting].label);
        table_set(&t, row, col[1], "%d", r->seed);
        table_set(&t, row, col[2], "%d", r->epochs);
        table_set(&t, row, col[3], "%.2f%%", 100 * r->final_test_acc);
        table_set(&t, row, col[4], "%.4f", r->final_test_loss);
        table_set(&t, row, col[5], "%.4f", r->final_train_loss);
        table_set(&t, row, col[6], "%+.4f", r->loss_gap);
        table_set(&t, row, col[7], "%+.2f%%", 100 * r->acc_gap);
        if (val) {
            cell_num(&t, row, col[8], r->final_val_loss, "%.4f");
            cell_num(&t, row, col[9], 100 * r->final_val_acc, "%.2f%%");
            if (r->has_val) table_set(&t, row, col[10], "%d", r->best_epoch);
            else table_set(&t, row, col[10], "n/a");
            cell_num(&t, row, col[11], 100 * r->test_acc_at_best, "%.2f%%");
        }
        table_set(&t, row, col[12], "%.1f", r->seconds);
        if (norm) cell_num(&t, row, col[13], r->has_norm ? r->weight_norm : NAN, "%.3f");
    }
    table_emit(&t, fmt, b);
}

void compare_format(const CompareSummary *s, CompareFormat fmt, Buf *b)
{
    if (fmt == COMPARE_CSV) {
        format_csv(s, any_norm(s), b);
        return;
    }
    if (fmt == COMPARE_MD) buf_printf(b, "## Settings\n\n");
    setting_table(s, fmt, b);
    buf_printf(b, fmt == COMPARE_MD ? "\n## Comparison\n\n" : "\n");
    comparison_words(s, fmt, b);
    buf_printf(b, fmt == COMPARE_MD ? "\n## Runs\n\n" : "\n");
    run_table(s, fmt, b);
}
