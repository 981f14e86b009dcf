/* log.c - per-epoch report line, progress bar, CSV rows (see log.h). */
#include "report/log.h"

#include <string.h>

static void human_rate(char *buf, size_t len, double v)
{
    if (v >= 1e6) snprintf(buf, len, "%.1fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, len, "%.0fk", v / 1e3);
    else snprintf(buf, len, "%.0f", v);
}

void report_epoch_line(FILE *f, const EpochStats *s)
{
    char rate[32];
    human_rate(rate, sizeof rate, s->images_per_s);
    int w = 1;
    for (int e = s->epochs; e >= 10; e /= 10) w++;
    fprintf(f, "epoch %*d/%d  train loss %.4f acc %.2f%%  |  test loss %.4f acc %.2f%%  |  %s img/s  %.2f s\n", w,
            s->epoch, s->epochs, s->train_loss, 100 * s->train_acc, s->test_loss, 100 * s->test_acc, rate, s->seconds);
    if (s->has_val)
        fprintf(f, "%*s  validation loss %.4f acc %.2f%%%s\n", 2 * w + 6, "", s->val_loss, 100 * s->val_acc,
                s->val_improved ? "  (lowest so far)" : "");
    if (s->stopped_early) {
        int since = s->epoch - s->best_epoch;
        fprintf(f, "early stop: no lower validation loss for %d epoch%s; the weights of epoch %d are in best.fmw\n",
                since, since == 1 ? "" : "s", s->best_epoch);
    }
    fflush(f);
}

void report_progress(FILE *f, int epoch, int epochs, int done, int total, int batch, double elapsed)
{
    enum { WIDTH = 30 };
    int fill = total ? done * WIDTH / total : 0;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = 0;
    double rate = elapsed > 0 ? (double)done * batch / elapsed : 0;
    double left = done ? elapsed * (total - done) / done : 0;
    char r[32];
    human_rate(r, sizeof r, rate);
    fprintf(f, "\repoch %d/%d [%s] %d/%d  %s img/s  %.1f s left ", epoch, epochs, bar, done, total, r, left);
    fflush(f);
}

void report_progress_clear(FILE *f)
{
    fprintf(f, "\r%*s\r", 79, "");
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
