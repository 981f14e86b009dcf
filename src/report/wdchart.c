/* wdchart.c - the weight-decay experiment's figure (see wdchart.h).
 *
 * 1920x1080 (a slide): the title and a subtitle, a row of loss panels (one
 * per run, one shared log y range), and below them the norm panel and the
 * histogram, each half the width. Text goes through draw_text at the sizes
 * below (WC_TS and WC_TS_TITLE: the one place to retune them); every pad,
 * line and legend row is measured on the image's font (draw_text_height,
 * draw_text_ascent, draw_text_width), so nothing overlaps at any size. */
#include "report/wdchart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Text: labels, ticks, legends and panel titles; the figure's title. */
#define WC_TS 22       /* px, draw.h's font size (the em square): 11 px at half a slide */
#define WC_TS_TITLE 30

#define WC_W 1920
#define WC_H 1080
#define WC_MARGIN 16

#define WC_PAD_R 24
#define WC_TICK_GAP 12 /* from the axis to its tick labels */

#define WC_LINE_W 2.5
#define WC_DASH_ON 9.0
#define WC_DASH_OFF 6.0
#define WC_DOT_ON 2.0
#define WC_DOT_OFF 5.0
#define WC_BAR_ALPHA 0.28 /* overlaid histograms stay readable through each other */

static const Rgb WHITE = {255, 255, 255}, INK = {25, 25, 25}, SOFT = {85, 85, 85}, AXIS = {70, 70, 70},
                 GRID = {226, 226, 226}, FRAME = {170, 170, 170}, REF = {110, 110, 110};

/* ---- ranges and the histogram: pure ---- */

/* [lo, hi] on a log axis padded by 6% of its decades (widened if narrow). */
static void pad_log(double lo, double hi, double *ymin, double *ymax)
{
    double l0 = log10(lo), l1 = log10(hi);
    if (l1 - l0 < 1e-3) l0 -= 0.05, l1 += 0.05;
    double pad = 0.06 * (l1 - l0);
    *ymin = pow(10, fmax(l0 - pad, -300.0)), *ymax = pow(10, fmin(l1 + pad, 300.0));
}

static void range_add(double v, double *lo, double *hi)
{
    if (isfinite(v) && v > 0) *lo = fmin(*lo, v), *hi = fmax(*hi, v);
}

void wdchart_loss_range(const WdChartRun *runs, int n, double *ymin, double *ymax)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < runs[r].epochs; i++) {
            range_add(runs[r].train_loss[i], &lo, &hi);
            range_add(runs[r].test_loss[i], &lo, &hi);
        }
    if (!(hi >= lo)) {
        *ymin = 0.1, *ymax = 1;
        return;
    }
    pad_log(lo, hi, ymin, ymax);
}

/* The least 1, 2, 3 or 5 times a power of ten >= v (> 0). */
static double nice_up(double v)
{
    double p = pow(10, floor(log10(v)));
    for (int k = 0; k < 5; k++) {
        static const double M[5] = {1, 2, 3, 5, 10};
        if (M[k] * p >= v * (1 - 1e-12)) return M[k] * p;
    }
    return 10 * p;
}

double wdchart_hist_range(const WdChartRun *runs, int n)
{
    int any = 0;
    for (int r = 0; r < n; r++) any |= runs[r].penalized;
    double m = 0;
    for (int r = 0; r < n; r++)
        if (runs[r].penalized || !any)
            for (int i = 0; i < runs[r].nw; i++)
                if (isfinite(runs[r].w[i])) m = fmax(m, fabs(runs[r].w[i]));
    return m > 0 ? nice_up(m) : 1.0;
}

void wdchart_histogram(const double *w, int nw, double R, long counts[WDCHART_BINS], long *below, long *above)
{
    memset(counts, 0, WDCHART_BINS * sizeof counts[0]);
    *below = *above = 0;
    double h = R / WDCHART_HALF_BINS;
    for (int i = 0; i < nw; i++) {
        double k = floor(w[i] / h + 0.5) + WDCHART_HALF_BINS; /* bin k: [(k-HALF-0.5)h, (k-HALF+0.5)h) */
        if (k < 0) (*below)++;
        else if (k < WDCHART_BINS) counts[(int)k]++;
        else (*above)++; /* also NaN: not < 0, not < BINS */
    }
}

/* ---- drawing helpers ---- */

/* "0.25", "3", "1e-05": as many decimals as the step between ticks needs
 * (log axes: %g). */
static void tick_label(char *buf, size_t len, double v, double step, int logy)
{
    if (logy || step <= 0 || fabs(v) >= 1e15) {
        snprintf(buf, len, "%g", v);
        return;
    }
    int dec = 0;
    while (dec < 8 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6 * step * pow(10, dec)) dec++;
    snprintf(buf, len, "%.*f", dec, fabs(v) < step * 1e-9 ? 0.0 : v);
}

/* Text metrics measured on im's font at size ts: a line box's height; the
 * step from one line to the next; from the top of the line box to the
 * middle of a digit or capital (DejaVu Sans: 0.73 em tall), to centre a
 * label on a tick or a legend's swatch. */
static int text_h(const Image *im, int ts)
{
    return draw_text_height(im, ts);
}

static int line_step(const Image *im, int ts)
{
    return draw_text_height(im, ts) + (ts + 3) / 4;
}

static int digit_mid(const Image *im, int ts)
{
    return draw_text_ascent(im, ts) - ts * 73 / 200;
}

/* The pads around a panel's data area: at the left the y axis's title
 * (turned) and the widest tick label a panel shows ("0.0001", "100000":
 * %g of a power of ten); above, the panel's title and info line; below, the
 * tick labels and the x axis's title. */
static int pad_l(const Image *im)
{
    int wl = draw_text_width(im, "0.0001", WC_TS), w2 = draw_text_width(im, "100000", WC_TS);
    return 12 + text_h(im, WC_TS) + 14 + (wl > w2 ? wl : w2) + WC_TICK_GAP;
}

static int pad_t(const Image *im)
{
    return 10 + line_step(im, WC_TS) + text_h(im, WC_TS) + 10;
}

static int pad_b(const Image *im)
{
    return 8 + 4 + text_h(im, WC_TS) + 8 + text_h(im, WC_TS) + 10;
}

static void text_centered(Image *im, int cx, int y, const char *s, int ts, Rgb c)
{
    draw_text(im, cx - draw_text_width(im, s, ts) / 2, y, s, ts, c);
}

/* The data area of the panel at (x, y), w x h. */
static PlotAxes panel_area(const Image *im, int x, int y, int w, int h)
{
    int l = pad_l(im), t = pad_t(im);
    return (PlotAxes){.left = x + l, .top = y + t, .width = w - l - WC_PAD_R, .height = h - t - pad_b(im)};
}

typedef struct {
    double v[64];
    int n;
} Ticks;

/* Grid, frame, ticks and their labels, the axes' titles (ytitle may be NULL)
 * and the panel's title and info line above the data area. xint: whole x
 * ticks. */
static void panel_frame(Image *im, int x, const PlotAxes *a, int xint, const char *xtitle, const char *ytitle,
                        const char *title, const char *info)
{
    Ticks ty, tx;
    ty.n = plot_ticks(a->ymin, a->ymax, a->logy, 0, a->logy ? 10 : 7, ty.v, 64);
    tx.n = plot_ticks(a->xmin, a->xmax, 0, xint, 8, tx.v, 64);
    double px, py;
    char lab[64];
    for (int i = 0; i < ty.n; i++) {
        plot_map(a, a->xmin, ty.v[i], &px, &py);
        draw_fill_rect(im, a->left, (int)py, a->width, 1, GRID);
    }
    for (int i = 0; i < tx.n; i++) {
        plot_map(a, tx.v[i], a->ymin, &px, &py);
        draw_fill_rect(im, (int)px, a->top, 1, a->height, GRID);
    }
    draw_rect(im, a->left - 1, a->top - 1, a->width + 2, a->height + 2, AXIS);
    double ystep = ty.n > 1 ? ty.v[1] - ty.v[0] : 0, xstep = tx.n > 1 ? tx.v[1] - tx.v[0] : 0;
    for (int i = 0; i < ty.n; i++) {
        plot_map(a, a->xmin, ty.v[i], &px, &py);
        draw_fill_rect(im, a->left - 7, (int)py, 6, 1, AXIS);
        tick_label(lab, sizeof lab, ty.v[i], ystep, a->logy);
        draw_text(im, a->left - WC_TICK_GAP - draw_text_width(im, lab, WC_TS), (int)py - digit_mid(im, WC_TS), lab,
                  WC_TS, INK);
    }
    int ybelow = a->top + a->height + 8;
    for (int i = 0; i < tx.n; i++) {
        plot_map(a, tx.v[i], a->ymin, &px, &py);
        draw_fill_rect(im, (int)px, a->top + a->height + 1, 1, 6, AXIS);
        if (xint) snprintf(lab, sizeof lab, "%.0f", tx.v[i]);
        else tick_label(lab, sizeof lab, tx.v[i], xstep, 0);
        text_centered(im, (int)px, ybelow + 4, lab, WC_TS, INK);
    }
    text_centered(im, a->left + a->width / 2, ybelow + 4 + text_h(im, WC_TS) + 8, xtitle, WC_TS, INK);
    if (ytitle)
        draw_text_up(im, x + 12, a->top + (a->height - draw_text_width(im, ytitle, WC_TS)) / 2, ytitle, WC_TS, INK);
    int ty0 = a->top - pad_t(im) + 10;
    text_centered(im, a->left + a->width / 2, ty0, title, WC_TS, INK);
    if (info) { /* centred on the data area, or on the whole panel if it is wider */
        int iw = draw_text_width(im, info, WC_TS), cx = a->left + a->width / 2;
        if (iw > a->width) cx = (x + a->left + a->width + WC_PAD_R) / 2;
        text_centered(im, cx, ty0 + line_step(im, WC_TS), info, WC_TS, SOFT);
    }
}

typedef enum { ST_SOLID, ST_DASHED, ST_DOTTED, ST_BOX } Style;

static double style_on(Style s)
{
    return s == ST_DASHED ? WC_DASH_ON : s == ST_DOTTED ? WC_DOT_ON : 0;
}

static double style_off(Style s)
{
    return s == ST_DOTTED ? WC_DOT_OFF : WC_DASH_OFF;
}

/* v[0..n) at epochs 1..n, clipped to a little beyond the data area; a
 * non-finite or (log axis) non-positive value leaves a gap. Each stretch
 * without a gap is one polyline (one SVG path); a point alone between
 * gaps is a disc. dots: a disc at every point. */
static void draw_series(Image *im, const PlotAxes *a, const double *v, int n, Rgb c, Style s, int dots)
{
    double *xs = malloc(2 * (size_t)n * sizeof *xs), *ys = xs ? xs + n : NULL;
    if (!xs) {
        im->failed = 1; /* draw_write refuses the image */
        return;
    }
    int m = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && isfinite(v[i]) && !(a->logy && !(v[i] > 0))) {
            plot_map(a, i + 1, v[i], &xs[m], &ys[m]);
            ys[m] = fmin(fmax(ys[m], a->top - 6.0), a->top + a->height + 6.0);
            m++;
            continue;
        }
        if (m > 1) draw_polyline(im, xs, ys, m, WC_LINE_W, c, style_on(s), style_off(s));
        if (dots || m == 1) /* a point between gaps is a dot */
            for (int k = 0; k < m; k++) draw_disc(im, xs[k], ys[k], 3.5, c);
        m = 0;
    }
    free(xs);
}

/* A horizontal (or vertical) reference line across the data area at y (x). */
static void ref_line(Image *im, const PlotAxes *a, double v, int vertical)
{
    double px, py, phase = 0;
    if (vertical) {
        plot_map(a, v, a->ymin, &px, &py);
        if (px > a->left && px < a->left + a->width)
            draw_line(im, px, a->top, px, a->top + a->height, 2.0, REF, WC_DOT_ON, WC_DOT_OFF, &phase);
    } else {
        plot_map(a, a->xmin, v, &px, &py);
        if (py > a->top && py < a->top + a->height)
            draw_line(im, a->left, py, a->left + a->width, py, 2.0, REF, WC_DOT_ON, WC_DOT_OFF, &phase);
    }
}

typedef struct {
    const char *label;
    Rgb c;
    Style s;
} Key;

#define WC_KEY_SWATCH 40
#define WC_KEY_PAD 10 /* the legend's inner margin */

/* From one legend row to the next. */
static int key_row(const Image *im)
{
    return text_h(im, WC_TS) + 6;
}

static void legend_size(const Image *im, const Key *k, int n, int *bw, int *bh)
{
    int tw = 0;
    for (int i = 0; i < n; i++) {
        int w = draw_text_width(im, k[i].label, WC_TS);
        if (w > tw) tw = w;
    }
    *bw = 12 + WC_KEY_SWATCH + 10 + tw + 12;
    *bh = 2 * WC_KEY_PAD + n * key_row(im) - 6;
}

static void legend_draw(Image *im, int bx, int by, const Key *k, int n)
{
    int bw, bh;
    legend_size(im, k, n, &bw, &bh);
    draw_fill_rect(im, bx, by, bw, bh, WHITE);
    draw_rect(im, bx, by, bw, bh, FRAME);
    for (int i = 0; i < n; i++) {
        int ly = by + WC_KEY_PAD + i * key_row(im), my = ly + digit_mid(im, WC_TS);
        double phase = 0;
        if (k[i].s == ST_BOX) {
            draw_band(im, bx + 12, my - 7, my + 7, bx + 12 + WC_KEY_SWATCH, my - 7, my + 7, k[i].c, WC_BAR_ALPHA);
            draw_rect(im, bx + 12, my - 7, WC_KEY_SWATCH, 15, k[i].c);
        } else {
            draw_line(im, bx + 12, my, bx + 12 + WC_KEY_SWATCH, my, WC_LINE_W, k[i].c, style_on(k[i].s),
                      style_off(k[i].s), &phase);
        }
        draw_text(im, bx + 12 + WC_KEY_SWATCH + 10, ly, k[i].label, WC_TS, INK);
    }
}

/* How many of the points (px[i], py[i]) fall in the box. */
static int count_in(const double *px, const double *py, int np, int bx, int by, int bw, int bh)
{
    int c = 0;
    for (int i = 0; i < np; i++) c += px[i] >= bx && px[i] < bx + bw && py[i] >= by && py[i] < by + bh;
    return c;
}

/* Whether any of the points falls in the box. */
static int any_in(const double *px, const double *py, int np, int bx, int by, int bw, int bh)
{
    for (int i = 0; i < np; i++)
        if (px[i] >= bx && px[i] < bx + bw && py[i] >= by && py[i] < by + bh) return 1;
    return 0;
}

/* The legend in the corner of the data area that covers the fewest of the
 * points (ties: the first of top right, bottom right, top left, bottom
 * left). */
static void legend_corner(Image *im, const PlotAxes *a, const Key *k, int n, const double *px, const double *py,
                          int np)
{
    int bw, bh, in = 10;
    legend_size(im, k, n, &bw, &bh);
    int r = a->left + a->width - bw - in, l = a->left + in, t = a->top + in, b = a->top + a->height - bh - in;
    int cx[4] = {r, r, l, l}, cy[4] = {t, b, t, b}, best = 0, bc = -1;
    for (int i = 0; i < 4; i++) {
        int c = count_in(px, py, np, cx[i], cy[i], bw, bh);
        if (bc < 0 || c < bc) best = i, bc = c;
    }
    legend_draw(im, cx[best], cy[best], k, n);
}

/* Samples of the lines v[k][0..n) (8 per segment, at most max points). */
static int sample_series(const PlotAxes *a, const double *const *v, int nv, int n, double *px, double *py, int max)
{
    int np = 0;
    for (int k = 0; k < nv; k++)
        for (int i = 0; i < n; i++)
            for (int s = 0; s < 8 && (s == 0 || i + 1 < n) && np < max; s++) {
                double f = s / 8.0, y = s ? exp((1 - f) * log(v[k][i]) + f * log(v[k][i + 1])) : v[k][i];
                if (!a->logy) y = s ? (1 - f) * v[k][i] + f * v[k][i + 1] : v[k][i];
                if (!isfinite(y)) continue;
                plot_map(a, i + 1 + f, y, &px[np], &py[np]);
                np++;
            }
    return np;
}

#define WC_SAMPLES 16384

static int longest(const WdChartRun *runs, int n)
{
    int m = 1;
    for (int r = 0; r < n; r++)
        if (runs[r].epochs > m) m = runs[r].epochs;
    return m;
}

static void epoch_range(PlotAxes *a, int emax)
{
    double pad = emax > 1 ? 0.03 * (emax - 1) : 0.5;
    a->xmin = 1 - pad, a->xmax = emax + pad;
}

/* ---- the panels ---- */

/* One run's train (dashed) and test (solid) loss on the shared range. */
static void loss_panel(Image *im, int x, int y, int w, int h, const WdChartRun *run, int i, double ymin, double ymax,
                       int emax, int first, PlotAxes *out, double *px, double *py)
{
    PlotAxes a = panel_area(im, x, y, w, h);
    a.logy = 1, a.ymin = ymin, a.ymax = ymax;
    epoch_range(&a, emax);
    char info[160];
    int last = run->epochs - 1;
    snprintf(info, sizeof info, "epoch %d: train %.3g, test %.3g", run->epochs, run->train_loss[last],
             run->test_loss[last]);
    panel_frame(im, x, &a, 1, "epoch", first ? "squared loss (log scale)" : NULL, run->label, info);
    Rgb c = plot_color(i);
    int dots = run->epochs <= 25;
    draw_series(im, &a, run->train_loss, run->epochs, c, ST_DASHED, 0);
    draw_series(im, &a, run->test_loss, run->epochs, c, ST_SOLID, dots);
    const double *v[2] = {run->train_loss, run->test_loss};
    int np = sample_series(&a, v, 2, run->epochs, px, py, WC_SAMPLES);
    Key k[2] = {{"test", c, ST_SOLID}, {"train", c, ST_DASHED}};
    legend_corner(im, &a, k, 2, px, py, np);
    *out = a;
}

/* The first place for a bw x bh legend in the data area, scanning rows from
 * the top and each row from the right, that holds none of the points
 * (px[i], py[i]) within margin m: 1 and (*bx, *by), or 0 if there is none. */
static int legend_free_spot(const PlotAxes *a, int bw, int bh, const double *px, const double *py, int np, int m,
                            int *bx, int *by)
{
    const int in = 10;
    for (int y = a->top + in; y + bh + in <= a->top + a->height; y += 4)
        for (int x = a->left + a->width - bw - in; x >= a->left + in; x -= 4)
            if (!any_in(px, py, np, x - m, y - m, bw + 2 * m, bh + 2 * m)) {
                *bx = x, *by = y;
                return 1;
            }
    return 0;
}

/* Points along the norm lines, the true norm's dotted line and its label
 * (whose box is lab_w x lab_h, its top-left at (lab_x, lab_y)). */
static int norm_points(const PlotAxes *a, const WdChartRun *runs, int n, double true_norm, int lab_x, int lab_y,
                       int lab_w, int lab_h, double *px, double *py)
{
    const double *v[1];
    int np = 0;
    for (int r = 0; r < n; r++) {
        v[0] = runs[r].w_norm;
        np += sample_series(a, v, 1, runs[r].epochs, px + np, py + np, WC_SAMPLES - np);
    }
    if (isfinite(true_norm) && np + 2 * 65 <= WC_SAMPLES)
        for (int s = 0; s <= 64; s++) {
            double qy;
            plot_map(a, a->xmin, true_norm, &px[np], &qy);
            px[np] = a->left + a->width * s / 64.0, py[np++] = qy;
            px[np] = lab_x + lab_w * s / 64.0, py[np++] = lab_y + lab_h * (s % 2);
        }
    return np;
}

/* ||w||_2 per epoch of every run, with the true weights' norm; the legend
 * where no line passes, or above the curves (headroom) if there is no such
 * place. */
static void norm_panel(Image *im, int x, int y, int w, int h, const WdChartRun *runs, int n, double true_norm,
                       int emax, PlotAxes *out, double *px, double *py, int key[4])
{
    PlotAxes a = panel_area(im, x, y, w, h);
    a.logy = 1;
    epoch_range(&a, emax);
    double lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < runs[r].epochs; i++) range_add(runs[r].w_norm[i], &lo, &hi);
    range_add(true_norm, &lo, &hi);
    if (!(hi >= lo)) lo = 0.1, hi = 1;
    pad_log(lo, hi, &a.ymin, &a.ymax);
    Key k[WDCHART_MAX] = {0};
    for (int r = 0; r < n; r++) k[r] = (Key){runs[r].label, plot_color(r), ST_SOLID};
    int bw, bh, kx = 0, ky = 0;
    legend_size(im, k, n, &bw, &bh);
    char lab[64];
    snprintf(lab, sizeof lab, "true weights: %.3g", true_norm);
    int lab_w = draw_text_width(im, lab, WC_TS), lab_h = text_h(im, WC_TS), asc = draw_text_ascent(im, WC_TS);
    double qx, qy;
    plot_map(&a, a.xmin, true_norm, &qx, &qy); /* the label: its baseline 6 px above the dotted line */
    /* the legend where no line passes; if there is no such place, headroom for it above the curves (which
       all start at one norm) */
    int lab_x = a.left + a.width - 10 - lab_w;
    plot_map(&a, a.xmin, true_norm, &qx, &qy);
    int np = norm_points(&a, runs, n, true_norm, lab_x, (int)qy - 6 - asc, lab_w, lab_h, px, py);
    if (!legend_free_spot(&a, bw, bh, px, py, np, 8, &kx, &ky)) {
        double f = (bh + 24.0) / a.height, l0 = log10(a.ymin), l1 = log10(a.ymax);
        if (f < 0.6) a.ymax = pow(10, l1 + f / (1 - f) * (l1 - l0));
        plot_map(&a, a.xmin, true_norm, &qx, &qy);
        kx = a.left + a.width - bw - 10, ky = a.top + 10;
    }
    panel_frame(im, x, &a, 1, "epoch", "||w||_2 (log scale)", "Weight norm ||w||_2 per epoch",
                isfinite(true_norm) ? "after each epoch; dotted: the norm of the true weights" : "after each epoch");
    if (isfinite(true_norm)) { /* the dotted line, labelled above its right end */
        ref_line(im, &a, true_norm, 0);
        draw_text(im, lab_x, (int)qy - 6 - asc, lab, WC_TS, REF);
    }
    for (int r = 0; r < n; r++)
        draw_series(im, &a, runs[r].w_norm, runs[r].epochs, plot_color(r), ST_SOLID, runs[r].epochs <= 25);
    legend_draw(im, kx, ky, k, n);
    key[0] = kx, key[1] = ky, key[2] = bw, key[3] = bh;
    *out = a;
}

/* The least power of ten above c (> 0): the count axis's top, so that the
 * tallest bar reaches most of the way up (66 -> 100, 100 -> 1000). */
static double pow10_above(double c)
{
    return pow(10, floor(log10(c) + 1e-9) + 1);
}

/* How many of the bars (bar[i]: x0, x1, top) reach into the box, with a
 * margin of m pixels. */
static int bars_in(const double (*bar)[3], int nbar, int bx, int by, int bw, int bh, int m)
{
    int c = 0;
    for (int i = 0; i < nbar; i++)
        c += bar[i][1] > bx - m && bar[i][0] < bx + bw + m && bar[i][2] < by + bh + m;
    return c;
}

/* The note above the histogram: which weights lie beyond its axis, as
 * long as it fits in width pixels ("no penalty, lambda = 0: 185 of 200
 * weights beyond the axis (largest |w| 2.97)"; shorter forms if not). */
static void hist_note(const Image *im, char *info, size_t len, const WdChartRun *runs, int n, const long *out,
                      int width)
{
    int nout = 0, one = -1;
    long all = 0, nw = 0;
    double mall = 0, m[WDCHART_MAX];
    for (int r = 0; r < n; r++) {
        m[r] = 0;
        for (int i = 0; i < runs[r].nw; i++)
            if (isfinite(runs[r].w[i])) m[r] = fmax(m[r], fabs(runs[r].w[i]));
        if (out[r] > 0) nout++, one = r, all += out[r], nw += runs[r].nw, mall = fmax(mall, m[r]);
    }
    if (!nout) {
        snprintf(info, len, "each run's weights after its last epoch, overlaid");
        return;
    }
    size_t at = 0;
    for (int r = 0; r < n && at < len; r++)
        if (out[r] > 0)
            at += (size_t)snprintf(info + at, len - at, "%s%s: %ld of %d weights beyond the axis (largest |w| %.3g)",
                                   at ? "; " : "", runs[r].label, out[r], runs[r].nw, m[r]);
    if (draw_text_width(im, info, WC_TS) <= width) return;
    if (nout == 1) {
        snprintf(info, len, "%s: %ld of %d weights beyond the axis", runs[one].label, out[one], runs[one].nw);
        if (draw_text_width(im, info, WC_TS) <= width) return;
    }
    snprintf(info, len, "%ld of %ld weights of %d run%s beyond the axis (largest |w| %.3g)", all, nw, nout,
             nout == 1 ? "" : "s", mall);
}

/* The runs' final weights in WDCHART_BINS bins on -R..R, overlaid:
 * translucent bars with their outline (one path per stretch of filled
 * bins), on a log count axis up to the power of ten above the tallest bar;
 * the legend where it covers no bar (the axis a decade higher if it fits
 * nowhere, at most twice). */
static void hist_panel(Image *im, int x, int y, int w, int h, const WdChartRun *runs, int n, double true_w,
                       PlotAxes *out, double *R_out, int key[4])
{
    double R = wdchart_hist_range(runs, n), hw = R / WDCHART_HALF_BINS;
    long counts[WDCHART_MAX][WDCHART_BINS], below[WDCHART_MAX], above[WDCHART_MAX], beyond[WDCHART_MAX], cmax = 1;
    for (int r = 0; r < n; r++) {
        wdchart_histogram(runs[r].w, runs[r].nw, R, counts[r], &below[r], &above[r]);
        beyond[r] = below[r] + above[r];
        for (int b = 0; b < WDCHART_BINS; b++)
            if (counts[r][b] > cmax) cmax = counts[r][b];
    }
    Key k[WDCHART_MAX] = {0};
    for (int r = 0; r < n; r++) k[r] = (Key){runs[r].label, plot_color(r), ST_BOX};
    int nk = n, bw, bh, in = 10;
    legend_size(im, k, nk, &bw, &bh);
    PlotAxes a = panel_area(im, x, y, w, h);
    a.logy = 1, a.ymin = 0.7;
    a.xmin = -(WDCHART_HALF_BINS + 1.5) * hw, a.xmax = (WDCHART_HALF_BINS + 1.5) * hw;
    /* the bars, and where the legend goes: the rightmost place along the top that covers none */
    double bar[WDCHART_MAX * WDCHART_BINS][3];
    int nbar = 0, kx = a.left + a.width - bw - in, ky = a.top + in;
    for (int tries = 0; tries < 3; tries++) {
        a.ymax = pow10_above((double)cmax) * pow(10, tries);
        nbar = 0;
        for (int r = 0; r < n; r++)
            for (int b = 0; b < WDCHART_BINS; b++)
                if (counts[r][b] > 0) {
                    double lo = (b - WDCHART_HALF_BINS - 0.5) * hw, py;
                    plot_map(&a, lo, (double)counts[r][b], &bar[nbar][0], &bar[nbar][2]);
                    plot_map(&a, lo + hw, 1, &bar[nbar][1], &py);
                    nbar++;
                }
        int best = -1, bc = -1;
        for (int bx = a.left + a.width - bw - in; bx >= a.left + in; bx -= 4) {
            int c = bars_in((const double(*)[3])bar, nbar, bx, ky, bw, bh, 6);
            if (bc < 0 || c < bc) best = bx, bc = c;
            if (!c) break;
        }
        if (best >= 0) kx = best;
        if (bc == 0) break;
    }
    char info[512], title[160];
    hist_note(im, info, sizeof info, runs, n, beyond, w - 16); /* the whole panel's width if need be */
    int nw = runs[0].nw;
    for (int r = 1; r < n; r++)
        if (runs[r].nw != nw) nw = -1;
    if (nw > 0) snprintf(title, sizeof title, "Final weights w: all %d, the bias excluded", nw);
    else snprintf(title, sizeof title, "Final weights w, the bias excluded");
    char xtitle[96];
    if (isfinite(true_w)) snprintf(xtitle, sizeof xtitle, "w (bins of %g); dotted: the true w_i = %g", hw, true_w);
    else snprintf(xtitle, sizeof xtitle, "w (bins of %g)", hw);
    panel_frame(im, x, &a, 0, xtitle, "weights per bin (log scale)", title, info);
    const double ybot = a.top + a.height;
    double xs[2 * WDCHART_BINS + 2], ys[2 * WDCHART_BINS + 2];
    for (int r = 0; r < n; r++) {
        Rgb c = plot_color(r);
        int m = 0;
        for (int b = 0; b <= WDCHART_BINS; b++) {
            double lo = (b - WDCHART_HALF_BINS - 0.5) * hw, x0, x1, top, py;
            if (b < WDCHART_BINS && counts[r][b] > 0) {
                plot_map(&a, lo, (double)counts[r][b], &x0, &top);
                plot_map(&a, lo + hw, 1, &x1, &py);
                draw_band(im, x0, top, ybot, x1, top, ybot, c, WC_BAR_ALPHA);
                if (!m) xs[m] = x0, ys[m++] = ybot;
                xs[m] = x0, ys[m++] = top, xs[m] = x1, ys[m++] = top;
                continue;
            }
            if (m) { /* the outline of a stretch of filled bins, down to the axis at its end */
                xs[m] = xs[m - 1], ys[m++] = ybot;
                draw_polyline(im, xs, ys, m, 2.0, c, 0, 0);
            }
            m = 0;
        }
    }
    if (isfinite(true_w)) ref_line(im, &a, true_w, 1);
    legend_draw(im, kx, ky, k, nk);
    key[0] = kx, key[1] = ky, key[2] = bw, key[3] = bh;
    *out = a;
    *R_out = R;
}

Status wdchart_draw(Image *im, const WdChartRun *runs, int n, const WdChartText *text, WdChartAxes *axes, Err *e)
{
    if (n < 1 || n > WDCHART_MAX) return err_set(e, ST_ERR_ARG, "wd-demo chart: 1 to %d runs, not %d", WDCHART_MAX, n);
    for (int r = 0; r < n; r++)
        if (runs[r].epochs < 1 || runs[r].nw < 1 || !runs[r].train_loss || !runs[r].test_loss || !runs[r].w_norm ||
            !runs[r].w || !runs[r].label)
            return err_set(e, ST_ERR_ARG, "wd-demo chart: run %d has no figures", r + 1);
    double *px = malloc(2 * WC_SAMPLES * sizeof *px), *py = px ? px + WC_SAMPLES : NULL;
    if (!px) return err_set(e, ST_ERR_NOMEM, "out of memory");
    Status st = draw_image_init(im, WC_W, WC_H, WHITE, e);
    if (st) {
        free(px);
        return st;
    }
    WdChartAxes ax;
    memset(&ax, 0, sizeof ax);
    int y = 14;
    if (text && text->title) {
        text_centered(im, WC_W / 2, y, text->title, WC_TS_TITLE, INK);
        y += line_step(im, WC_TS_TITLE);
    }
    if (text && text->subtitle) {
        text_centered(im, WC_W / 2, y, text->subtitle, WC_TS, SOFT);
        y += line_step(im, WC_TS);
    }
    y += 6;
    int rows = WC_H - WC_MARGIN - y, top_h = rows * 47 / 100, bot_h = rows - top_h;
    int inner = WC_W - 2 * WC_MARGIN, pw = inner / n;
    double ymin, ymax;
    wdchart_loss_range(runs, n, &ymin, &ymax);
    int emax = longest(runs, n);
    for (int r = 0; r < n; r++)
        loss_panel(im, WC_MARGIN + r * pw, y, pw, top_h, &runs[r], r, ymin, ymax, emax, r == 0, &ax.loss[r], px, py);
    double true_w = text ? text->true_w : NAN, true_norm = NAN;
    int nw = runs[0].nw;
    for (int r = 1; r < n; r++)
        if (runs[r].nw != nw) nw = -1;
    if (isfinite(true_w) && nw > 0) true_norm = fabs(true_w) * sqrt((double)nw);
    int half = inner / 2;
    norm_panel(im, WC_MARGIN, y + top_h, half, bot_h, runs, n, true_norm, emax, &ax.norm, px, py, ax.norm_key);
    hist_panel(im, WC_MARGIN + half, y + top_h, inner - half, bot_h, runs, n, true_w, &ax.hist, &ax.hist_range,
               ax.hist_key);
    free(px);
    if (axes) *axes = ax;
    return ST_OK;
}

Status wdchart_write(const char *const *paths, int npaths, const WdChartRun *runs, int n, const WdChartText *text,
                     Err *e)
{
    DrawFormat fmt;
    for (int k = 0; k < npaths; k++) {
        Status st = draw_format("the figure", paths[k], &fmt, e);
        if (st) return st;
    }
    Image im;
    memset(&im, 0, sizeof im); /* safe to free whatever wdchart_draw did */
    Status st = wdchart_draw(&im, runs, n, text, NULL, e);
    for (int k = 0; !st && k < npaths; k++) st = draw_write(&im, paths[k], e);
    draw_image_free(&im);
    return st;
}
