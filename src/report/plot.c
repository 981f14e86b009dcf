/* plot.c - curves, confusion heat map and image grid as PNG (see plot.h).
 *
 * Layout is in pixels for a fixed panel size (800x520), text at scale 2 of
 * the 5x7 font (10x14 glyphs): legible at 100% and when scaled down in a
 * README. PNG encoding is stb_image_write's (Debian's libstb, compiled
 * there), into memory first, then written atomically like every file here. */
#include "report/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "report/font.h"
#include "util/fileio.h"

static const Rgb WHITE = {255, 255, 255}, INK = {25, 25, 25}, AXIS = {70, 70, 70}, GRID = {226, 226, 226},
                 FRAME = {170, 170, 170}, KEY = {90, 90, 90}, LIGHT = {150, 150, 150};

#define TS 2 /* text scale of the charts */
/* The largest magnitude an axis shows, and the least value of a log axis:
 * the range and its padding stay finite whatever the log holds. */
#define PLOT_MAX 1e300
#define PLOT_LOG_MIN 1e-300

Rgb plot_color(int i)
{
    /* ten well-separated hues (matplotlib's "tab10" order) */
    static const Rgb PALETTE[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    return PALETTE[((i % 10) + 10) % 10];
}

void plot_map(const PlotAxes *a, double x, double y, double *px, double *py)
{
    double fx = a->xmax > a->xmin ? (x - a->xmin) / (a->xmax - a->xmin) : 0.5, fy;
    if (a->logy) {
        double lo = log10(a->ymin), hi = log10(a->ymax);
        fy = !(y > 0) ? 0.0 : hi > lo ? (log10(y) - lo) / (hi - lo) : 0.5;
    } else {
        fy = a->ymax > a->ymin ? (y - a->ymin) / (a->ymax - a->ymin) : 0.5;
    }
    *px = a->left + fx * a->width;
    *py = a->top + a->height - fy * a->height;
}

/* The smallest "nice" step (1, 2, 2.5, 5 x 10^k; 1, 2, 5 for whole numbers) >= raw. */
static double nice_step(double raw, int integer)
{
    if (integer && raw <= 1) return 1;
    double p = pow(10, floor(log10(raw))), m = raw / p;
    double s = m <= 1 ? 1 : m <= 2 ? 2 : (m <= 2.5 && !integer) ? 2.5 : m <= 5 ? 5 : 10;
    return s * p;
}

int plot_ticks(double lo, double hi, int logy, int integer, int max_ticks, double *ticks, int max)
{
    int n = 0;
    if (max < 1) return 0;
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi)) {
        ticks[0] = lo;
        return 1;
    }
    if (max_ticks < 2) max_ticks = 2;
    if (logy && lo > 0 && hi / lo >= 10) {
        /* mantissa sets per decade, densest first (less than a decade gets
         * the linear ticks below: 1..9 would leave most of it unlabelled) */
        static const int SETS[3][10] = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 0}, {1, 2, 5, 0}, {1, 0}};
        int d0 = (int)floor(log10(lo)), d1 = (int)ceil(log10(hi));
        for (int s = 0; s < 3; s++) {
            int count = 0;
            for (int d = d0; d <= d1; d++)
                for (int k = 0; SETS[s][k]; k++) {
                    double v = SETS[s][k] * pow(10, d);
                    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) count++;
                }
            if (count > max_ticks) continue;
            if (count < 2) break; /* too narrow for per-decade ticks: linear ones below */
            for (int d = d0; d <= d1; d++)
                for (int k = 0; SETS[s][k] && n < max; k++) {
                    double v = SETS[s][k] * pow(10, d);
                    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks[n++] = v;
                }
            return n;
        }
        if (d1 - d0 > max_ticks) { /* many decades: every k-th power of ten */
            int k = (d1 - d0 + max_ticks - 1) / max_ticks;
            for (int d = d0; d <= d1 && n < max; d += k)
                if (pow(10, d) >= lo * (1 - 1e-9) && pow(10, d) <= hi * (1 + 1e-9)) ticks[n++] = pow(10, d);
            if (n >= 2) return n;
            n = 0;
        }
    }
    double step = nice_step((hi - lo) / max_ticks, integer);
    double first = ceil(lo / step - 1e-9) * step;
    for (int k = 0; n < max; k++) {
        double v = first + k * step;
        if (v > hi + step * 1e-9) break;
        ticks[n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    }
    return n;
}

/* "0.25", "3", "1e-05": as many decimals as the step between ticks needs. */
static void tick_label(char *buf, size_t len, double v, double step, int logy)
{
    if (logy || step <= 0 || fabs(v) >= 1e15 || step >= 1e15) { /* huge: 1e+300, not 301 digits */
        snprintf(buf, len, "%g", v);
        return;
    }
    int dec = 0;
    while (dec < 8 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6 * step * pow(10, dec)) dec++;
    snprintf(buf, len, "%.*f", dec, v);
}

typedef struct {
    const char *label;
    Rgb color;
    int dashed, dot;
} LegendEntry;

#define DASH_ON 9.0
#define LEGEND_LINE 24
#define DASH_OFF 6.0

static void legend_swatch(Image *im, int x, int y, const LegendEntry *le)
{
    double phase = 0;
    draw_line(im, x, y, x + 40, y, 2.5, le->color, le->dashed ? DASH_ON : 0, DASH_OFF, &phase);
    if (le->dot) draw_disc(im, x + 20, y, 4, le->color);
}

/* The series of a run: values[i] for epochs 1..n, times mul. */
static const double *series(const Curve *c, PlotMetric m, int train)
{
    if (m == PLOT_LOSS) return train ? c->train_loss : c->test_loss;
    return train ? c->train_acc : c->test_acc;
}

/* The legend's entries (at most 40) and its box size. */
static int legend_entries(const PlotRun *runs, int n, LegendEntry *le, int *bw, int *bh)
{
    int nle = 0;
    if (n == 1) {
        le[nle++] = (LegendEntry){"test", plot_color(0), 0, 1};
        le[nle++] = (LegendEntry){"train", plot_color(0), 1, 0};
    } else {
        for (int r = 0; r < n && nle < 38; r++) le[nle++] = (LegendEntry){runs[r].name, plot_color(r), 0, 1};
        le[nle++] = (LegendEntry){"test", KEY, 0, 1};
        le[nle++] = (LegendEntry){"train", KEY, 1, 0};
    }
    int textw = 0;
    for (int i = 0; i < nle; i++) {
        int tw = draw_text_width(le[i].label, TS);
        if (tw > textw) textw = tw;
    }
    *bw = 12 + 40 + 10 + textw + 12;
    *bh = 10 + nle * LEGEND_LINE + 4;
    return nle;
}

static int count_inside(const PlotAxes *a, const PlotRun *runs, int n, PlotMetric m, double mul, int bx, int by,
                        int bw, int bh)
{
    int count = 0;
    for (int r = 0; r < n; r++)
        for (int t = 0; t < 2; t++) {
            const double *v = series(runs[r].curve, m, t);
            for (int i = 0; i < runs[r].curve->n; i++)
                for (int s = 0; s < 8 && (s == 0 || i + 1 < runs[r].curve->n); s++) {
                    double f = s / 8.0, px, py;
                    double x = i + 1 + f, y = v[i] * mul * (1 - f) + (s ? v[i + 1] * mul * f : 0);
                    plot_map(a, x, y, &px, &py);
                    count += px >= bx && px < bx + bw && py >= by && py < by + bh;
                }
        }
    return count;
}

/* The axes' ranges: of the finite points (a NaN or an infinity is not
 * drawn), clamped so that the axis and its padding stay finite (a point
 * beyond is drawn at the edge); *emax: the most epochs of a run. */
static void curve_ranges(PlotAxes *a, const PlotRun *runs, int n, PlotMetric metric, double mul, int *emax)
{
    const int logy = a->logy;
    double lo = INFINITY, hi = -INFINITY;
    *emax = 1;
    for (int r = 0; r < n; r++) {
        const Curve *c = runs[r].curve;
        if (c->n > *emax) *emax = c->n;
        for (int t = 0; t < 2; t++)
            for (int i = 0; i < c->n; i++) {
                double v = series(c, metric, t)[i] * mul;
                if (!isfinite(v) || (logy && !(v > 0))) continue;
                lo = fmin(lo, v), hi = fmax(hi, v);
            }
    }
    if (!(hi >= lo)) lo = logy ? 0.1 : 0, hi = 1;
    lo = fmax(lo, logy ? PLOT_LOG_MIN : -PLOT_MAX), hi = fmin(hi, PLOT_MAX);
    if (hi < lo) hi = lo;
    if (logy) {
        double l0 = log10(lo), l1 = log10(hi);
        if (l1 - l0 < 1e-3) l0 -= 0.05, l1 += 0.05;
        double pad = 0.06 * (l1 - l0);
        a->ymin = pow(10, fmax(l0 - pad, -307.0)), a->ymax = pow(10, fmin(l1 + pad, 307.0));
    } else {
        if (hi - lo < 1e-9) {
            double d = fmax(fabs(hi) * 0.05, 1e-3);
            lo -= d, hi += d;
        }
        double pad = 0.06 * (hi - lo);
        a->ymin = lo - pad, a->ymax = hi + pad;
    }
    double padx = *emax > 1 ? 0.04 * (*emax - 1) : 0.5;
    a->xmin = 1 - padx, a->xmax = *emax + padx;
}

/* The ticks of both axes, at most 64 each. */
typedef struct {
    double y[64], x[64];
    int ny, nx;
} Ticks;

static void curve_grid(Image *im, const PlotAxes *a, const Ticks *tk)
{
    double px, py;
    for (int i = 0; i < tk->ny; i++) {
        plot_map(a, a->xmin, tk->y[i], &px, &py);
        draw_fill_rect(im, a->left, (int)py, a->width, 1, GRID);
    }
    for (int i = 0; i < tk->nx; i++) {
        plot_map(a, tk->x[i], a->ymin, &px, &py);
        draw_fill_rect(im, (int)px, a->top, 1, a->height, GRID);
    }
}

/* The curves: train dashed first, test solid with dots on top; a
 * non-finite point leaves a gap. */
static void curve_lines(Image *im, const PlotAxes *a, const PlotRun *runs, int n, PlotMetric metric, double mul)
{
    double px, py;
    for (int t = 1; t >= 0; t--)
        for (int r = 0; r < n; r++) {
            const Curve *c = runs[r].curve;
            const double *v = series(c, metric, t);
            Rgb col = plot_color(r);
            double phase = 0, qx = 0, qy = 0;
            int prev = 0; /* the point before was drawn: join it */
            for (int i = 0; i < c->n; i++) {
                double y = v[i] * mul;
                if (!isfinite(y) || (a->logy && !(y > 0))) { /* a gap in the curve */
                    prev = 0;
                    continue;
                }
                plot_map(a, i + 1, y, &px, &py);
                py = fmin(fmax(py, a->top - 8.0), a->top + a->height + 8.0); /* beyond the axis: at its edge */
                if (prev) draw_line(im, qx, qy, px, py, 2.5, col, t ? DASH_ON : 0, DASH_OFF, &phase);
                if (!t || c->n == 1) draw_disc(im, px, py, t ? 2.5 : 4.0, col);
                qx = px, qy = py, prev = 1;
            }
        }
}

/* The axes box, tick marks and labels, the axis titles and the title. */
static void curve_labels(Image *im, int x, int y, const PlotAxes *a, const Ticks *tk, PlotMetric metric,
                         const char *title)
{
    const int logy = a->logy;
    double px, py;
    draw_rect(im, a->left - 1, a->top - 1, a->width + 2, a->height + 2, AXIS);
    char lab[64];
    double ystep = tk->ny > 1 ? tk->y[1] - tk->y[0] : 0;
    for (int i = 0; i < tk->ny; i++) {
        plot_map(a, a->xmin, tk->y[i], &px, &py);
        draw_fill_rect(im, a->left - 7, (int)py, 6, 1, AXIS);
        tick_label(lab, sizeof lab, tk->y[i], ystep, logy);
        draw_text(im, a->left - 12 - draw_text_width(lab, TS), (int)py - 7 * TS / 2, lab, TS, INK);
    }
    for (int i = 0; i < tk->nx; i++) {
        plot_map(a, tk->x[i], a->ymin, &px, &py);
        draw_fill_rect(im, (int)px, a->top + a->height + 1, 1, 6, AXIS);
        snprintf(lab, sizeof lab, "%.0f", tk->x[i]);
        draw_text(im, (int)px - draw_text_width(lab, TS) / 2, a->top + a->height + 12, lab, TS, INK);
    }
    const char *xt_title = "epoch";
    draw_text(im, a->left + (a->width - draw_text_width(xt_title, TS)) / 2, a->top + a->height + 44, xt_title, TS,
              INK);
    const char *yt_title = metric == PLOT_ACC ? "accuracy (%)" : logy ? "loss (log scale)" : "cross-entropy loss";
    draw_text_up(im, x + 12, a->top + (a->height - draw_text_width(yt_title, TS)) / 2, yt_title, TS, INK);
    if (!title)
        title = metric == PLOT_ACC ? "Accuracy per epoch" : logy ? "Loss per epoch (log scale)" : "Loss per epoch";
    int tw = draw_text_width(title, TS);
    draw_text(im, a->left + (a->width - tw) / 2, y + 18, title, TS, INK);
}

/* The legend: train/test of a single run inside, in the corner with the
 * fewest points; one entry per run of several at the right, outside. */
static void curve_legend(Image *im, const PlotAxes *a, const PlotRun *runs, int n, PlotMetric metric, double mul)
{
    LegendEntry le[40];
    int bw, bh, nle = legend_entries(runs, n, le, &bw, &bh), bx, by;
    if (n > 1) {
        bx = a->left + a->width + 16, by = a->top;
    } else {
        int inset = 10;
        int cx[4] = {a->left + a->width - bw - inset, a->left + a->width - bw - inset, a->left + inset,
                     a->left + inset};
        int cy[4] = {a->top + inset, a->top + a->height - bh - inset, a->top + inset, a->top + a->height - bh - inset};
        int best = 0, best_count = -1;
        for (int k = 0; k < 4; k++) {
            int cnt = count_inside(a, runs, n, metric, mul, cx[k], cy[k], bw, bh);
            if (best_count < 0 || cnt < best_count) best = k, best_count = cnt;
        }
        bx = cx[best], by = cy[best];
    }
    draw_fill_rect(im, bx, by, bw, bh, WHITE);
    draw_rect(im, bx, by, bw, bh, FRAME);
    for (int i = 0; i < nle; i++) {
        int ly = by + 10 + i * LEGEND_LINE;
        legend_swatch(im, bx + 12, ly + 7, &le[i]);
        draw_text(im, bx + 12 + 40 + 10, ly, le[i].label, TS, INK);
    }
}

void plot_curves_panel(Image *im, int x, int y, int w, int h, const PlotRun *runs, int n, PlotMetric metric, int logy,
                       const char *title, PlotAxes *axes)
{
    double mul = metric == PLOT_ACC ? 100.0 : 1.0;
    if (metric == PLOT_ACC) logy = 0;
    PlotAxes a = {.left = x + 104, .top = y + 56, .width = w - 104 - 28, .height = h - 56 - 82, .logy = logy};
    if (n > 1) { /* room for the legend at the right */
        LegendEntry le[40];
        int bw, bh;
        legend_entries(runs, n, le, &bw, &bh);
        a.width -= bw + 16 - 12;
    }
    int emax;
    curve_ranges(&a, runs, n, metric, mul, &emax);
    Ticks tk;
    tk.ny = plot_ticks(a.ymin, a.ymax, logy, 0, logy ? 12 : 7, tk.y, 64); /* log: denser, the top is compressed */
    tk.nx = plot_ticks(1, emax, 0, 1, 10, tk.x, 64);
    curve_grid(im, &a, &tk);
    curve_lines(im, &a, runs, n, metric, mul);
    curve_labels(im, x, y, &a, &tk, metric, title);
    curve_legend(im, &a, runs, n, metric, mul);
    if (axes) *axes = a;
}

Status plot_curves_png(const char *png_path, const PlotRun *runs, int n, const PlotMetric *metrics, int nmetrics,
                       int logy, const char *title, Err *e)
{
    enum { PW = 800, PH = 520 };
    if (nmetrics < 1 || nmetrics > 4 || n < 1) return err_set(e, ST_ERR_ARG, "%s: nothing to plot", png_path);
    LegendEntry le[40];
    int bw, bh, pw = PW;
    legend_entries(runs, n, le, &bw, &bh);
    if (n > 1) pw += bw + 16 - 12; /* the legend at the right of each panel */
    int ph = PH > 56 + bh + 40 ? PH : 56 + bh + 40;
    Image im;
    Status st = draw_image_init(&im, pw * nmetrics, ph, WHITE, e);
    if (st) return st;
    for (int i = 0; i < nmetrics; i++)
        plot_curves_panel(&im, i * pw, 0, pw, ph, runs, n, metrics[i], logy, nmetrics == 1 ? title : NULL, NULL);
    st = plot_write_png(&im, png_path, e);
    draw_image_free(&im);
    return st;
}

Status plot_log_file(const char *log_path, const char *png_path, Err *e)
{
    Curve c;
    Status st = curve_read(log_path, &c, e);
    if (st) return st;
    PlotRun run = {"run", &c};
    PlotMetric m[2] = {PLOT_LOSS, PLOT_ACC};
    st = plot_curves_png(png_path, &run, 1, m, 2, 0, NULL, e);
    curve_free(&c);
    return st;
}

/* White -> light blue -> dark blue, f in [0, 1]. */
static Rgb heat(double f)
{
    static const Rgb STOPS[3] = {{255, 255, 255}, {107, 174, 214}, {8, 48, 107}};
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    int k = f < 0.5 ? 0 : 1;
    double t = f < 0.5 ? f / 0.5 : (f - 0.5) / 0.5;
    return (Rgb){(uint8_t)lround(STOPS[k].r + t * (STOPS[k + 1].r - STOPS[k].r)),
                 (uint8_t)lround(STOPS[k].g + t * (STOPS[k + 1].g - STOPS[k].g)),
                 (uint8_t)lround(STOPS[k].b + t * (STOPS[k + 1].b - STOPS[k].b))};
}

Status plot_confusion(const long *cm, int k, const char *const *names, const char *title, Image *im, Err *e)
{
    if (k < 1 || k > 64) return err_set(e, ST_ERR_ARG, "a confusion matrix of %d classes cannot be drawn", k);
    int cell = 60, namew = 0;
    for (int i = 0; i < k; i++) {
        int tw = draw_text_width(names[i], TS);
        if (tw > namew) namew = tw;
    }
    int left = 36 + namew + 14, top = 84, right = 110, grid = k * cell;
    int bottom = 14 + namew + 20 + 24;
    long total = 0, right_total = 0;
    for (int i = 0; i < k * k; i++) total += cm[i];
    for (int i = 0; i < k; i++) right_total += cm[i * k + i];
    Status st = draw_image_init(im, left + grid + right, top + grid + bottom, WHITE, e);
    if (st) return st;
    char lab[64];
    for (int i = 0; i < k; i++) {
        long row = 0;
        for (int j = 0; j < k; j++) row += cm[i * k + j];
        for (int j = 0; j < k; j++) {
            double f = row ? (double)cm[i * k + j] / row : 0;
            /* sqrt: a few confusions out of a thousand are still visible */
            double g = sqrt(f);
            int x = left + j * cell, y = top + i * cell;
            draw_fill_rect(im, x, y, cell, cell, heat(g));
            snprintf(lab, sizeof lab, "%ld", cm[i * k + j]);
            int sc = draw_text_width(lab, TS) <= cell - 6 ? TS : 1;
            Rgb tc = g > 0.55 ? WHITE : cm[i * k + j] ? INK : LIGHT;
            draw_text(im, x + (cell - draw_text_width(lab, sc)) / 2, y + (cell - 7 * sc) / 2, lab, sc, tc);
        }
        /* row label (true class) and the row's accuracy */
        draw_text(im, left - 14 - draw_text_width(names[i], TS), top + i * cell + (cell - 7 * TS) / 2, names[i], TS,
                  INK);
        snprintf(lab, sizeof lab, "%.1f%%", row ? 100.0 * cm[i * k + i] / row : 0.0);
        draw_text(im, left + grid + 12, top + i * cell + (cell - 7 * TS) / 2, lab, TS, INK);
        /* column label (predicted class), turned, reading upward, its end at the grid */
        draw_text_up(im, left + i * cell + (cell - FONT_ROWS * TS) / 2 + 2, top + grid + 14, names[i], TS, INK);
    }
    for (int i = 0; i <= k; i++) {
        draw_fill_rect(im, left + i * cell, top, 1, grid, (Rgb){200, 200, 200});
        draw_fill_rect(im, left, top + i * cell, grid, 1, (Rgb){200, 200, 200});
    }
    draw_rect(im, left - 1, top - 1, grid + 2, grid + 2, AXIS);
    draw_text(im, left + grid + 12, top - 26, "acc", TS, INK);
    const char *ylab = "true class", *xlab = "predicted class";
    draw_text_up(im, 8, top + (grid - draw_text_width(ylab, TS)) / 2, ylab, TS, INK);
    draw_text(im, left + (grid - draw_text_width(xlab, TS)) / 2, top + grid + 14 + namew + 14, xlab, TS, INK);
    char tbuf[256];
    if (!title) {
        snprintf(tbuf, sizeof tbuf, "Confusion matrix: %ld test images, accuracy %.2f%%", total,
                 total ? 100.0 * right_total / total : 0.0);
        title = tbuf;
    }
    draw_text(im, (im->w - draw_text_width(title, TS)) / 2, 18, title, TS, INK);
    return ST_OK;
}

Status plot_image_grid(const uint8_t *pixels, int h, int w, const int *idx, int n, const int *truth, const int *pred,
                       const char *const *names, int cols, const char *title, Image *im, Err *e)
{
    if (n < 1 || cols < 1 || h < 1 || w < 1 || h > 256 || w > 256)
        return err_set(e, ST_ERR_ARG, "an image grid of %d images of %dx%d cannot be drawn", n, h, w);
    int zoom = 3, cellw = w * zoom + 40, cellh = h * zoom + 8 + 2 * FONT_LINE + 10, top = 64;
    if (cellw < 16 * FONT_ADVANCE + 8) cellw = 16 * FONT_ADVANCE + 8;
    int rows = (n + cols - 1) / cols;
    Status st = draw_image_init(im, cols * cellw + 20, top + rows * cellh + 10, WHITE, e);
    if (st) return st;
    static const Rgb RIGHT = {30, 140, 40}, WRONG = {210, 30, 30};
    for (int k = 0; k < n; k++) {
        int i = idx[k], cx = 10 + (k % cols) * cellw, cy = top + (k / cols) * cellh;
        int ix = cx + (cellw - w * zoom) / 2, iy = cy + 4;
        const uint8_t *p = pixels + (size_t)i * (size_t)h * (size_t)w;
        for (int yy = 0; yy < h; yy++)
            for (int xx = 0; xx < w; xx++) {
                uint8_t v = p[yy * w + xx];
                draw_fill_rect(im, ix + xx * zoom, iy + yy * zoom, zoom, zoom, (Rgb){v, v, v});
            }
        int ok = truth[i] == pred[i];
        draw_rect(im, ix - 2, iy - 2, w * zoom + 4, h * zoom + 4, ok ? RIGHT : WRONG);
        draw_rect(im, ix - 1, iy - 1, w * zoom + 2, h * zoom + 2, ok ? RIGHT : WRONG);
        char lab[64];
        snprintf(lab, sizeof lab, "%s", names[truth[i]]);
        int ty = iy + h * zoom + 6;
        draw_text(im, cx + (cellw - draw_text_width(lab, 1)) / 2, ty, lab, 1, INK);
        snprintf(lab, sizeof lab, "-> %s", names[pred[i]]);
        draw_text(im, cx + (cellw - draw_text_width(lab, 1)) / 2, ty + FONT_LINE, lab, 1, ok ? RIGHT : WRONG);
    }
    if (title) draw_text(im, (im->w - draw_text_width(title, TS)) / 2, 12, title, TS, INK);
    const char *key = "each image: true class, then -> predicted class (red: wrong, green: right)";
    draw_text(im, (im->w - draw_text_width(key, 1)) / 2, 40, key, 1, KEY);
    return ST_OK;
}

static void png_put(void *ctx, void *data, int size)
{
    buf_put(ctx, data, (size_t)size);
}

Status plot_write_png(const Image *im, const char *path, Err *e)
{
    Buf b = {0};
    if (!stbi_write_png_to_func(png_put, &b, im->w, im->h, 3, im->px, im->w * 3) || b.failed) {
        buf_free(&b);
        return err_set(e, ST_ERR_NOMEM, "%s: cannot encode the %dx%d PNG (out of memory)", path, im->w, im->h);
    }
    Status st = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return st;
}
