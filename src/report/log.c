/* log.c - per-epoch report line, progress bar, CSV rows (see log.h). */
#include "report/log.h"

#include <math.h>
#include <string.h>

static void human_rate(char *buf, size_t len, double v)
{
    if (v >= 1e6) snprintf(buf, len, "%.1fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, len, "%.0fk", v / 1e3);
    else snprintf(buf, len, "%.0f", v);
}

/* A loss in at most 6 characters (7 if negative): 4 decimals below 10,
 * fewer above, an exponent from a million on. */
static void fmt_loss(char *buf, size_t len, double v)
{
    double a = fabs(v);
    if (!isfinite(v)) snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (a < 9.99995) snprintf(buf, len, "%.4f", v);
    else if (a < 99.9995) snprintf(buf, len, "%.3f", v);
    else if (a < 999.995) snprintf(buf, len, "%.2f", v);
    else if (a < 9999.95) snprintf(buf, len, "%.1f", v);
    else if (a < 999999.5) snprintf(buf, len, "%.0f", v);
    else snprintf(buf, len, "%.0e", v);
}

/* An accuracy (a fraction) as a percentage in at most 6 characters. */
static void fmt_acc(char *buf, size_t len, double v)
{
    if (100 * v >= 99.995) snprintf(buf, len, "%.1f%%", 100 * v);
    else snprintf(buf, len, "%.2f%%", 100 * v);
}

/* Seconds: "4.1s", "42s", "3:05", "1:02:05"; "?" if unknown. */
static void fmt_dur(char *buf, size_t len, double v)
{
    if (!isfinite(v) || v < 0) snprintf(buf, len, "?");
    else if (v < 9.95) snprintf(buf, len, "%.1fs", v);
    else if (v < 59.5) snprintf(buf, len, "%.0fs", v);
    else {
        long t = (long)(v + 0.5);
        if (t < 3600) snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
        else snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    }
}

/* A line of fields laid out to fit: fields are dropped in the order drop[]
 * until the rest fits in limit characters, two spaces between fields
 * (one before a tight field), and from the drop squeeze on one space if
 * two do not fit. The bar (text NULL) takes what is left, BAR_MIN to
 * BAR_MAX characters and its brackets, filled to frac; if fewer than
 * BAR_MIN are left, the layout does not fit. When nothing fits, the fields
 * never dropped, one space apart, cut at limit. */
enum { MAX_FIELDS = 8, BAR_MIN = 10, BAR_MAX = 30, FIELD_LEN = 48 };
typedef struct {
    char text[FIELD_LEN];
    int bar;   /* the bar: text unused */
    int tight; /* one space before it, always */
} Field;

static size_t emit(char *buf, size_t len, const Field *f, int n, const int *keep, int sep, int barw, double frac)
{
    size_t k = 0;
    int first = 1;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        if (!keep[i]) continue;
        if (!first)
            for (int j = 0; j < (f[i].tight ? 1 : sep) && k + 1 < len; j++) buf[k++] = ' ';
        first = 0;
        if (f[i].bar) {
            int fill = (int)(frac * barw + 1e-9);
            fill = fill < 0 ? 0 : fill > barw ? barw : fill;
            if (k + 1 < len) buf[k++] = '[';
            for (int j = 0; j < barw && k + 1 < len; j++) buf[k++] = j < fill ? '#' : '.';
            if (k + 1 < len) buf[k++] = ']';
        } else {
            for (const char *c = f[i].text; *c && k + 1 < len; c++) buf[k++] = *c;
        }
    }
    buf[k] = 0;
    return k;
}

static size_t fit_fields(char *buf, size_t len, const Field *f, int n, const int *drop, int ndrop, int squeeze,
                         double frac, int limit)
{
    int keep[MAX_FIELDS];
    if (!len) return 0;
    for (int k = 0; k <= ndrop; k++) {
        for (int i = 0; i < n; i++) keep[i] = 1;
        for (int j = 0; j < k; j++) keep[drop[j]] = 0;
        for (int sep = 2; sep >= (k >= squeeze ? 1 : 2); sep--) {
            int used = 0, first = 1, bar = 0;
            for (int i = 0; i < n; i++) {
                if (!keep[i]) continue;
                if (!first) used += f[i].tight ? 1 : sep;
                first = 0;
                if (f[i].bar) bar = 1, used += 2;
                else used += (int)strlen(f[i].text);
            }
            int barw = 0;
            if (bar) {
                barw = limit - used;
                if (barw < BAR_MIN) continue;
                if (barw > BAR_MAX) barw = BAR_MAX;
            } else if (used > limit) {
                continue;
            }
            return emit(buf, len, f, n, keep, sep, barw, frac);
        }
    }
    size_t k = emit(buf, len, f, n, keep, 1, 0, frac); /* keep: the last layout, every drop made */
    if (limit < 0) limit = 0;
    if (k > (size_t)limit) buf[k = (size_t)limit] = 0;
    return k;
}

size_t report_epoch_format(char *buf, size_t len, const EpochStats *s)
{
    char l[16], a[16], rate[32];
    int w = 1;
    for (int e = s->epochs; e >= 10; e /= 10) w++;
    Field f[6];
    memset(f, 0, sizeof f);
    int n = 0;
    snprintf(f[n++].text, FIELD_LEN, "epoch %*d/%d", w, s->epoch, s->epochs);
    fmt_loss(l, sizeof l, s->train_loss), fmt_acc(a, sizeof a, s->train_acc);
    snprintf(f[n++].text, FIELD_LEN, "train %6s %6s", l, a);
    fmt_loss(l, sizeof l, s->test_loss), fmt_acc(a, sizeof a, s->test_acc);
    snprintf(f[n++].text, FIELD_LEN, "test %6s %6s", l, a);
    if (s->has_val) {
        fmt_loss(l, sizeof l, s->val_loss), fmt_acc(a, sizeof a, s->val_acc);
        snprintf(f[n++].text, FIELD_LEN, "val %6s %6s%s", l, a, s->val_improved ? "*" : "");
    }
    human_rate(rate, sizeof rate, s->images_per_s);
    snprintf(f[n++].text, FIELD_LEN, "%s img/s", rate);
    fmt_dur(f[n++].text, FIELD_LEN, s->seconds);
    const int drop[2] = {n - 2, n - 1};
    return fit_fields(buf, len, f, n, drop, 2, 2, 0, REPORT_EPOCH_COLUMNS);
}

void report_epoch_line(FILE *f, const EpochStats *s)
{
    char line[256];
    report_epoch_format(line, sizeof line, s);
    fprintf(f, "%s\n", line);
    if (s->stopped_early) {
        int since = s->epoch - s->best_epoch;
        fprintf(f, "early stop: no lower validation loss in %d epoch%s; best.fmw holds epoch %d\n", since,
                since == 1 ? "" : "s", s->best_epoch);
    }
    fflush(f);
}

size_t report_progress_format(char *buf, size_t len, const BatchStats *b, int width)
{
    enum { EPOCH, BAR, STEPS, LOSS, ACC, TIME, ETA, RATE, NF };
    Field f[NF];
    memset(f, 0, sizeof f);
    char v[32];
    snprintf(f[EPOCH].text, FIELD_LEN, "epoch %d/%d", b->epoch, b->epochs);
    f[BAR].bar = f[BAR].tight = 1;
    int w = 1; /* the steps, the loss and the accuracy keep their widths: the layout stays put */
    for (int t = b->total; t >= 10; t /= 10) w++;
    snprintf(f[STEPS].text, FIELD_LEN, "%*d/%d", w, b->done, b->total);
    f[STEPS].tight = 1;
    fmt_loss(v, sizeof v, b->loss);
    snprintf(f[LOSS].text, FIELD_LEN, "loss %6s", v);
    fmt_acc(v, sizeof v, b->acc);
    snprintf(f[ACC].text, FIELD_LEN, "acc %6s", v);
    fmt_dur(v, sizeof v, b->elapsed);
    snprintf(f[TIME].text, FIELD_LEN, "%4s", v);
    fmt_dur(v, sizeof v, b->done > 0 ? b->elapsed * (b->total - b->done) / b->done : -1);
    snprintf(f[ETA].text, FIELD_LEN, "ETA %s", v);
    human_rate(v, sizeof v, b->elapsed > 0 ? b->images / b->elapsed : 0);
    snprintf(f[RATE].text, FIELD_LEN, "%4s img/s", v);
    const int drop[] = {RATE, TIME, BAR, ACC, ETA, EPOCH, LOSS};
    return fit_fields(buf, len, f, NF, drop, 7, 2, b->total > 0 ? (double)b->done / b->total : 0, width - 1);
}

size_t report_eval_format(char *buf, size_t len, const EvalStats *s, int width)
{
    enum { EPOCH, WHAT, BAR, STEPS, TIME, NF };
    Field f[NF];
    memset(f, 0, sizeof f);
    snprintf(f[EPOCH].text, FIELD_LEN, "epoch %d/%d", s->epoch, s->epochs);
    snprintf(f[WHAT].text, FIELD_LEN, "evaluating %s", s->set ? s->set : "");
    f[WHAT].tight = f[BAR].bar = f[BAR].tight = f[STEPS].tight = 1;
    int w = 1;
    for (int t = s->total; t >= 10; t /= 10) w++;
    snprintf(f[STEPS].text, FIELD_LEN, "%*d/%d", w, s->done, s->total);
    fmt_dur(f[TIME].text, FIELD_LEN, s->elapsed);
    const int drop[] = {BAR, TIME, EPOCH};
    return fit_fields(buf, len, f, NF, drop, 3, 1, s->total > 0 ? (double)s->done / s->total : 0, width - 1);
}

void report_progress(FILE *f, const BatchStats *b, int width)
{
    char line[512];
    report_progress_format(line, sizeof line, b, width);
    fprintf(f, "\r%s\033[K", line);
    fflush(f);
}

void report_eval_progress(FILE *f, const EvalStats *s, int width)
{
    char line[512];
    report_eval_format(line, sizeof line, s, width);
    fprintf(f, "\r%s\033[K", line);
    fflush(f);
}

void report_progress_clear(FILE *f)
{
    fprintf(f, "\r\033[K");
    fflush(f);
}

void report_csv_row(Buf *b, const EpochStats *s)
{
    buf_printf(b, "%d,%.6f,%.6f,%.6f,%.6f,%.3f\n", s->epoch, s->train_loss, s->train_acc, s->test_loss, s->test_acc,
               s->seconds);
}

/* The header of each combination of columns, indexed by the LOG_COL_* bits. */
static const char *const HEADERS[4] = {
    LOG_CSV_HEADER,
    "epoch,train_loss,train_acc,test_loss,test_acc,seconds,weight_norm\n",
    "epoch,train_loss,train_acc,test_loss,test_acc,seconds,val_loss,val_acc\n",
    "epoch,train_loss,train_acc,test_loss,test_acc,seconds,weight_norm,val_loss,val_acc\n",
};

void report_csv_header(Buf *b, int cols) { buf_printf(b, "%s", HEADERS[cols & 3]); }

int report_csv_cols(const char *text)
{
    for (int c = 3; c >= 0; c--)
        if (!strncmp(text, HEADERS[c], strlen(HEADERS[c]))) return c;
    return -1;
}

void report_csv_row_cols(Buf *b, const EpochStats *s, int cols)
{
    buf_printf(b, "%d,%.6f,%.6f,%.6f,%.6f,%.3f", s->epoch, s->train_loss, s->train_acc, s->test_loss, s->test_acc,
               s->seconds);
    if (cols & LOG_COL_NORM) buf_printf(b, ",%.6f", s->weight_norm);
    if (cols & LOG_COL_VAL) buf_printf(b, ",%.6f,%.6f", s->val_loss, s->val_acc);
    buf_printf(b, "\n");
}
