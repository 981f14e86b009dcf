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

#include "util/fileio.h"

static const Rgb WHITE = {255, 255, 255}, INK = {25, 25, 25}, AXIS = {70, 70, 70}, GRID = {226, 226, 226},
                 FRAME = {170, 170, 170}, KEY = {90, 90, 90}, LIGHT = {150, 150, 150};

/* Text sizes (CSS px, see draw.h), for a 800x520 panel that stays legible
 * when a figure of two is put on half a slide. */
#define TICK_PX 24   /* tick labels, legends, row labels */
#define AXIS_PX 26   /* axis titles                      */
#define TITLE_PX 30  /* a chart's title                  */
#define NOTE_PX 20   /* notes under a chart              */
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

/* The top of a line of text at size whose digits are centred on yc. */
static int text_top(const Image *im, double yc, int size)
{
    return (int)lround(yc - draw_text_ascent(im, size) + 0.36 * size);
}

/* Text centred on cx with its top at y, at size, smaller (down to 12 px)
 * when it is wider than maxw. */
static void fitted_text(Image *im, int cx, int y, int maxw, const char *s, int size, Rgb c)
{
    while (size > 12 && draw_text_width(im, s, size) > maxw) size--;
    draw_text(im, cx - draw_text_width(im, s, size) / 2, y, s, size, c);
}

/* How a line is drawn: solid, dashed (train) or dotted (validation). */
typedef enum { LINE_SOLID, LINE_DASHED, LINE_DOTTED } LineStyle;

#define DASH_ON 9.0
#define DASH_OFF 6.0
#define DOT_ON 2.0
#define DOT_OFF 4.0
#define LINE_W 2.5      /* a curve's width                                   */
#define THIN_W 1.2      /* one seed's curve under a group's mean              */
#define BAND_ALPHA 0.2  /* a +-1 sd band: two overlapping stay readable       */
#define LEGEND_LINE 33

static double dash_on(LineStyle s)
{
    return s == LINE_DASHED ? DASH_ON : s == LINE_DOTTED ? DOT_ON : 0;
}

static double dash_off(LineStyle s)
{
    return s == LINE_DOTTED ? DOT_OFF : DASH_OFF;
}

/* One line of a chart: v[0..n) at epochs 1..n, times mul; dot: the radius of
 * a disc at every point (0: none); lone: the disc's radius when the line is a
 * single point (else nothing would show). */
typedef struct {
    const double *v;
    int n;
    double mul, width, dot, lone;
    Rgb color;
    LineStyle style;
} Line;

/* A shaded band from lo[i] to hi[i] at epochs 1..n, in the units shown. */
typedef struct {
    const double *lo, *hi;
    int n;
    Rgb color;
} Band;

typedef enum { SWATCH_LINE, SWATCH_BAND, SWATCH_THIN } Swatch;

typedef struct {
    const char *label;
    Rgb color;
    LineStyle style;
    int dot;
    Swatch swatch;
} LegendEntry;

/* What a chart panel draws: bands first, then lines in order, the legend
 * at the right of the data area (right) or in its emptiest corner. */
typedef struct {
    const Line *lines;
    int nlines;
    const Band *bands;
    int nbands;
    const LegendEntry *legend;
    int nlegend, legend_right;
    PlotMetric metric;
    int logy;
    const char *title;
} Chart;

/* A colour mixed with white: f = 0 is c, 1 white. */
static Rgb paler(Rgb c, double f)
{
    return (Rgb){(uint8_t)lround(c.r + f * (255 - c.r)), (uint8_t)lround(c.g + f * (255 - c.g)),
                 (uint8_t)lround(c.b + f * (255 - c.b))};
}

static void legend_swatch(Image *im, int x, int y, const LegendEntry *le)
{
    double phase = 0;
    if (le->swatch == SWATCH_BAND) {
        draw_band(im, x, y - 7, y + 7, x + 40, y - 7, y + 7, le->color, BAND_ALPHA);
        return;
    }
    double w = le->swatch == SWATCH_THIN ? THIN_W : LINE_W;
    draw_line(im, x, y, x + 40, y, w, le->color, dash_on(le->style), dash_off(le->style), &phase);
    if (le->dot) draw_disc(im, x + 20, y, 4, le->color);
}

/* The legend box's size for entries le[0..nle). */
static void legend_size(const Image *im, const LegendEntry *le, int nle, int *bw, int *bh)
{
    int textw = 0;
    for (int i = 0; i < nle; i++) {
        int tw = draw_text_width(im, le[i].label, TICK_PX);
        if (tw > textw) textw = tw;
    }
    *bw = 12 + 40 + 10 + textw + 12;
    *bh = 10 + nle * LEGEND_LINE + 4;
}

static void legend_draw(Image *im, int bx, int by, const LegendEntry *le, int nle)
{
    int bw, bh;
    legend_size(im, le, nle, &bw, &bh);
    draw_fill_rect(im, bx, by, bw, bh, WHITE);
    draw_rect(im, bx, by, bw, bh, FRAME);
    for (int i = 0; i < nle; i++) {
        int ly = by + 10 + i * LEGEND_LINE;
        legend_swatch(im, bx + 12, ly + LEGEND_LINE / 2 - 1, &le[i]);
        draw_text(im, bx + 12 + 40 + 10, ly + (LEGEND_LINE - draw_text_height(im, TICK_PX)) / 2, le[i].label,
                  TICK_PX, INK);
    }
}

/* The series of a run: values[i] for epochs 1..n (kind 0 test, 1 train,
 * 2 validation: NULL if the log has none). */
enum { SER_TEST, SER_TRAIN, SER_VAL };
static const double *series(const Curve *c, PlotMetric m, int kind)
{
    if (kind == SER_VAL) return m == PLOT_LOSS ? c->val_loss : c->val_acc;
    if (m == PLOT_LOSS) return kind == SER_TRAIN ? c->train_loss : c->test_loss;
    return kind == SER_TRAIN ? c->train_acc : c->test_acc;
}

/* How many sample points of the lines fall in the box (8 per segment). */
static int count_inside(const PlotAxes *a, const Chart *ch, int bx, int by, int bw, int bh)
{
    int count = 0;
    for (int k = 0; k < ch->nlines; k++) {
        const Line *l = &ch->lines[k];
        for (int i = 0; i < l->n; i++)
            for (int s = 0; s < 8 && (s == 0 || i + 1 < l->n); s++) {
                double f = s / 8.0, px, py;
                double x = i + 1 + f, y = l->v[i] * l->mul * (1 - f) + (s ? l->v[i + 1] * l->mul * f : 0);
                plot_map(a, x, y, &px, &py);
                count += px >= bx && px < bx + bw && py >= by && py < by + bh;
            }
    }
    return count;
}

/* A value's range widened into an axis: padded by 6% (of the decades if
 * logy), a point widened to a small interval; lo..hi finite. */
static void pad_range(double lo, double hi, int logy, double *min, double *max)
{
    if (logy) {
        double l0 = log10(lo), l1 = log10(hi);
        if (l1 - l0 < 1e-3) l0 -= 0.05, l1 += 0.05;
        double pad = 0.06 * (l1 - l0);
        *min = pow(10, fmax(l0 - pad, -307.0)), *max = pow(10, fmin(l1 + pad, 307.0));
    } else {
        if (hi - lo < 1e-9) {
            double d = fmax(fabs(hi) * 0.05, 1e-3);
            lo -= d, hi += d;
        }
        double pad = 0.06 * (hi - lo);
        *min = lo - pad, *max = hi + pad;
    }
}

/* Widens [*lo, *hi] by v if v can be drawn (finite, > 0 on a log axis). */
static void range_add(double v, int logy, double *lo, double *hi)
{
    if (!isfinite(v) || (logy && !(v > 0))) return;
    *lo = fmin(*lo, v), *hi = fmax(*hi, v);
}

/* The axes' ranges: of the finite points of the lines and bands (a NaN or an
 * infinity is not drawn), clamped so that the axis and its padding stay
 * finite (a point beyond is drawn at the edge); *emax: the most epochs of a
 * line or band. */
static void chart_ranges(PlotAxes *a, const Chart *ch, int *emax)
{
    const int logy = a->logy;
    double lo = INFINITY, hi = -INFINITY;
    *emax = 1;
    for (int k = 0; k < ch->nlines; k++) {
        const Line *l = &ch->lines[k];
        if (l->n > *emax) *emax = l->n;
        for (int i = 0; i < l->n; i++) range_add(l->v[i] * l->mul, logy, &lo, &hi);
    }
    for (int k = 0; k < ch->nbands; k++) {
        const Band *b = &ch->bands[k];
        if (b->n > *emax) *emax = b->n;
        for (int i = 0; i < b->n; i++) range_add(b->lo[i], logy, &lo, &hi), range_add(b->hi[i], logy, &lo, &hi);
    }
    if (!(hi >= lo)) lo = logy ? 0.1 : 0, hi = 1;
    lo = fmax(lo, logy ? PLOT_LOG_MIN : -PLOT_MAX), hi = fmin(hi, PLOT_MAX);
    if (hi < lo) hi = lo;
    pad_range(lo, hi, logy, &a->ymin, &a->ymax);
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

/* The bands, clipped to the data area: a non-finite point leaves a gap, a
 * band of one epoch is 9 pixels wide. */
static void chart_bands(Image *im, const PlotAxes *a, const Chart *ch)
{
    const double ytop = a->top, ybot = a->top + a->height;
    for (int k = 0; k < ch->nbands; k++) {
        const Band *b = &ch->bands[k];
        double qx = 0, qa = 0, qb = 0, px, pa, pb;
        int prev = 0;
        for (int i = 0; i < b->n; i++) {
            if (!isfinite(b->lo[i]) || !isfinite(b->hi[i])) {
                prev = 0;
                continue;
            }
            plot_map(a, i + 1, b->hi[i], &px, &pa);
            plot_map(a, i + 1, b->lo[i], &px, &pb);
            pa = fmin(fmax(pa, ytop), ybot), pb = fmin(fmax(pb, ytop), ybot);
            if (prev) draw_band(im, qx, qa, qb, px, pa, pb, b->color, BAND_ALPHA);
            else if (i + 1 >= b->n || !isfinite(b->lo[i + 1]) || !isfinite(b->hi[i + 1]))
                draw_band(im, px - 4, pa, pb, px + 5, pa, pb, b->color, BAND_ALPHA); /* a lone point */
            qx = px, qa = pa, qb = pb, prev = 1;
        }
    }
}

/* The lines in order (train dashed first, test solid with dots on top),
 * each stretch of finite points one polyline; a non-finite point leaves a
 * gap. */
static void chart_lines(Image *im, const PlotAxes *a, const Chart *ch)
{
    for (int k = 0; k < ch->nlines; k++) {
        const Line *l = &ch->lines[k];
        double *xs = malloc(2 * (size_t)(l->n > 0 ? l->n : 1) * sizeof *xs);
        if (!xs) {
            im->failed = 1;
            return;
        }
        double *ys = xs + (l->n > 0 ? l->n : 1);
        int m = 0; /* points of the stretch so far */
        for (int i = 0; i <= l->n; i++) {
            double y = i < l->n ? l->v[i] * l->mul : NAN;
            if (!isfinite(y) || (a->logy && !(y > 0))) { /* a gap in the curve, or its end */
                draw_polyline(im, xs, ys, m, l->width, l->color, dash_on(l->style), dash_off(l->style));
                m = 0;
                continue;
            }
            plot_map(a, i + 1, y, &xs[m], &ys[m]);
            ys[m] = fmin(fmax(ys[m], a->top - 8.0), a->top + a->height + 8.0); /* beyond the axis: at its edge */
            m++;
        }
        for (int i = 0; i < l->n; i++) { /* the dots on top */
            double y = l->v[i] * l->mul, px, py;
            if (!isfinite(y) || (a->logy && !(y > 0))) continue;
            plot_map(a, i + 1, y, &px, &py);
            py = fmin(fmax(py, a->top - 8.0), a->top + a->height + 8.0);
            if (l->dot > 0) draw_disc(im, px, py, l->dot, l->color);
            else if (l->n == 1 && l->lone > 0) draw_disc(im, px, py, l->lone, l->color);
        }
        free(xs);
    }
}

/* The axes box and the y axis's tick marks and labels. */
static void labels_y(Image *im, const PlotAxes *a, const Ticks *tk)
{
    double px, py;
    draw_rect(im, a->left - 1, a->top - 1, a->width + 2, a->height + 2, AXIS);
    char lab[64];
    double ystep = tk->ny > 1 ? tk->y[1] - tk->y[0] : 0;
    for (int i = 0; i < tk->ny; i++) {
        plot_map(a, a->xmin, tk->y[i], &px, &py);
        draw_fill_rect(im, a->left - 7, (int)py, 6, 1, AXIS);
        tick_label(lab, sizeof lab, tk->y[i], ystep, a->logy);
        draw_text(im, a->left - 12 - draw_text_width(im, lab, TICK_PX), text_top(im, py, TICK_PX), lab, TICK_PX, INK);
    }
}

/* The x axis's tick marks and labels (integer: whole numbers, as epochs). */
static void labels_x(Image *im, const PlotAxes *a, const Ticks *tk, int integer)
{
    double px, py;
    char lab[64];
    double xstep = tk->nx > 1 ? tk->x[1] - tk->x[0] : 0;
    for (int i = 0; i < tk->nx; i++) {
        plot_map(a, tk->x[i], a->ymin, &px, &py);
        draw_fill_rect(im, (int)px, a->top + a->height + 1, 1, 6, AXIS);
        if (integer) snprintf(lab, sizeof lab, "%.0f", tk->x[i]);
        else tick_label(lab, sizeof lab, tk->x[i], xstep, 0);
        draw_text(im, (int)px - draw_text_width(im, lab, TICK_PX) / 2, a->top + a->height + 10, lab, TICK_PX, INK);
    }
}

/* The axis titles (ytitle may be NULL) and the chart's title above the data
 * area; (x, y): the panel's top-left corner. */
static void chart_titles(Image *im, int x, int y, const PlotAxes *a, const char *xtitle, const char *ytitle,
                         const char *title)
{
    draw_text(im, a->left + (a->width - draw_text_width(im, xtitle, AXIS_PX)) / 2, a->top + a->height + 40, xtitle,
              AXIS_PX, INK);
    if (ytitle)
        draw_text_up(im, x + 10, a->top + (a->height - draw_text_width(im, ytitle, AXIS_PX)) / 2, ytitle, AXIS_PX, INK);
    fitted_text(im, a->left + a->width / 2, y + 14, a->width + a->left - x - 8, title, TITLE_PX, INK);
}

/* The axes box, tick marks and labels, the axis titles and the title. */
static void curve_labels(Image *im, int x, int y, const PlotAxes *a, const Ticks *tk, PlotMetric metric,
                         const char *title)
{
    const int logy = a->logy;
    labels_y(im, a, tk);
    labels_x(im, a, tk, 1);
    const char *yt_title = metric == PLOT_ACC ? "accuracy (%)" : logy ? "loss (log scale)" : "cross-entropy loss";
    if (!title)
        title = metric == PLOT_ACC ? "Accuracy per epoch" : logy ? "Loss per epoch (log scale)" : "Loss per epoch";
    chart_titles(im, x, y, a, "epoch", yt_title, title);
}

/* The legend: at the right, outside the data area, or inside in the corner
 * with the fewest points. */
static void chart_legend(Image *im, const PlotAxes *a, const Chart *ch)
{
    int bw, bh, bx, by;
    legend_size(im, ch->legend, ch->nlegend, &bw, &bh);
    if (ch->legend_right) {
        bx = a->left + a->width + 16, by = a->top;
    } else {
        int inset = 10;
        int cx[4] = {a->left + a->width - bw - inset, a->left + a->width - bw - inset, a->left + inset,
                     a->left + inset};
        int cy[4] = {a->top + inset, a->top + a->height - bh - inset, a->top + inset, a->top + a->height - bh - inset};
        int best = 0, best_count = -1;
        for (int k = 0; k < 4; k++) {
            int cnt = count_inside(a, ch, cx[k], cy[k], bw, bh);
            if (best_count < 0 || cnt < best_count) best = k, best_count = cnt;
        }
        bx = cx[best], by = cy[best];
    }
    legend_draw(im, bx, by, ch->legend, ch->nlegend);
}

/* A chart of lines per epoch in the w x h rectangle at (x, y): ranges,
 * grid, bands, lines, labels, legend. */
static void chart_panel(Image *im, int x, int y, int w, int h, const Chart *ch, PlotAxes *axes)
{
    int logy = ch->metric == PLOT_ACC ? 0 : ch->logy;
    PlotAxes a = {.top = y + 56, .height = h - 56 - 82, .logy = logy};
    int emax;
    chart_ranges(&a, ch, &emax);
    Ticks tk;
    tk.ny = plot_ticks(a.ymin, a.ymax, logy, 0, logy ? 12 : 7, tk.y, 64); /* log: denser, the top is compressed */
    tk.nx = plot_ticks(1, emax, 0, 1, 10, tk.x, 64);
    /* the left margin: the y axis's title, its widest tick label, 12 px */
    int left = 104, labw = 0;
    char lab[64];
    for (int i = 0; i < tk.ny; i++) {
        tick_label(lab, sizeof lab, tk.y[i], tk.ny > 1 ? tk.y[1] - tk.y[0] : 0, logy);
        int tw = draw_text_width(im, lab, TICK_PX);
        if (tw > labw) labw = tw;
    }
    if (10 + draw_text_height(im, AXIS_PX) + 8 + labw + 12 > left) left = 10 + draw_text_height(im, AXIS_PX) + 8 + labw + 12;
    a.left = x + left, a.width = w - left - 28;
    if (ch->legend_right) { /* room for the legend at the right */
        int bw, bh;
        legend_size(im, ch->legend, ch->nlegend, &bw, &bh);
        a.width -= bw + 16 - 12;
    }
    if (a.width < 40) a.width = 40;
    curve_grid(im, &a, &tk);
    chart_bands(im, &a, ch);
    chart_lines(im, &a, ch);
    curve_labels(im, x, y, &a, &tk, ch->metric, ch->title);
    chart_legend(im, &a, ch);
    if (axes) *axes = a;
}

/* The band at the top of a figure of several panels that holds its title. */
#define FIGURE_TITLE_BAND 52

/* The size of a figure of one chart per metric with this legend: each panel
 * 800x520, widened by a legend at the right, taller for a long legend. */
static void figure_size(const Image *im, const LegendEntry *le, int nle, int right, int *pw, int *ph)
{
    enum { PW = 800, PH = 520 };
    int bw, bh;
    legend_size(im, le, nle, &bw, &bh);
    *pw = PW + (right ? bw + 16 - 12 : 0);
    *ph = PH > 56 + bh + 40 ? PH : 56 + bh + 40;
}

/* Whether any run has validation figures. */
static int runs_have_val(const PlotRun *runs, int n)
{
    for (int r = 0; r < n; r++)
        if (runs[r].curve->val_loss) return 1;
    return 0;
}

/* The legend of runs: test/train(/validation) of a single run, or one entry
 * per run (at most 37) and a key of the line styles. Returns the count. */
static int curves_legend(const PlotRun *runs, int n, LegendEntry *le)
{
    int nle = 0, val = runs_have_val(runs, n);
    Rgb key = n == 1 ? plot_color(0) : KEY;
    for (int r = 0; n > 1 && r < n && nle < 40 - 2 - val; r++)
        le[nle++] = (LegendEntry){runs[r].name, plot_color(r), LINE_SOLID, 1, SWATCH_LINE};
    le[nle++] = (LegendEntry){"test", key, LINE_SOLID, 1, SWATCH_LINE};
    le[nle++] = (LegendEntry){"train", key, LINE_DASHED, 0, SWATCH_LINE};
    if (val) le[nle++] = (LegendEntry){"validation", key, LINE_DOTTED, 0, SWATCH_LINE};
    return nle;
}

/* The lines of runs in drawing order: every train curve (dashed), every
 * validation curve (dotted), every test curve (solid, with dots). Returns
 * the count (at most 3n). */
static int curves_lines(const PlotRun *runs, int n, PlotMetric metric, Line *lines)
{
    static const int KINDS[3] = {SER_TRAIN, SER_VAL, SER_TEST};
    static const LineStyle STYLES[3] = {LINE_DASHED, LINE_DOTTED, LINE_SOLID};
    double mul = metric == PLOT_ACC ? 100.0 : 1.0;
    int nl = 0;
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < n; r++) {
            const double *v = series(runs[r].curve, metric, KINDS[k]);
            if (!v) continue;
            double dot = KINDS[k] == SER_TEST ? 4.0 : 0.0;
            lines[nl++] = (Line){v, runs[r].curve->n, mul, LINE_W, dot, 2.5, plot_color(r), STYLES[k]};
        }
    return nl;
}

void plot_curves_panel(Image *im, int x, int y, int w, int h, const PlotRun *runs, int n, PlotMetric metric, int logy,
                       const char *title, PlotAxes *axes)
{
    if (n > PLOT_MAX_RUNS) n = PLOT_MAX_RUNS;
    Line lines[3 * PLOT_MAX_RUNS];
    LegendEntry le[40];
    Chart ch = {.lines = lines, .nlines = curves_lines(runs, n, metric, lines), .legend = le,
                .nlegend = curves_legend(runs, n, le), .legend_right = n > 1, .metric = metric, .logy = logy,
                .title = title};
    chart_panel(im, x, y, w, h, &ch, axes);
}

Status plot_curves_png(const char *png_path, const PlotRun *runs, int n, const PlotMetric *metrics, int nmetrics,
                       int logy, const char *title, Err *e)
{
    if (nmetrics < 1 || nmetrics > 4 || n < 1) return err_set(e, ST_ERR_ARG, "%s: nothing to plot", png_path);
    if (n > PLOT_MAX_RUNS)
        return err_set(e, ST_ERR_ARG, "%s: at most %d runs in one chart, not %d", png_path, PLOT_MAX_RUNS, n);
    LegendEntry le[40];
    int pw, ph;
    Image im;
    Status st = draw_image_init(&im, 1, 1, WHITE, e);
    if (st) return st;
    figure_size(&im, le, curves_legend(runs, n, le), n > 1, &pw, &ph);
    int band = nmetrics > 1 && title ? FIGURE_TITLE_BAND : 0; /* a title over the panels */
    if ((st = draw_image_resize(&im, pw * nmetrics, ph + band, WHITE, e))) return st;
    for (int i = 0; i < nmetrics; i++)
        plot_curves_panel(&im, i * pw, band, pw, ph, runs, n, metrics[i], logy, nmetrics == 1 ? title : NULL, NULL);
    if (band) fitted_text(&im, im.w / 2, 16, im.w - 24, title, TITLE_PX + 4, INK);
    st = draw_write(&im, png_path, e);
    draw_image_free(&im);
    return st;
}

Status plot_check_curve(const Curve *c, const char *path, const PlotMetric *metrics, int nmetrics, Err *e)
{
    if (c->n < 1) return err_set(e, ST_ERR_FORMAT, "%s: the log has no epochs (only its header): nothing to plot", path);
    for (int k = 0; k < nmetrics; k++) {
        int finite = 0;
        for (int kind = SER_TEST; kind <= SER_VAL; kind++) {
            const double *v = series(c, metrics[k], kind);
            for (int i = 0; v && i < c->n; i++) finite += isfinite(v[i]) != 0;
        }
        if (!finite)
            return err_set(e, ST_ERR_FORMAT, "%s: every %s value is NaN or infinite: nothing to plot", path,
                           metrics[k] == PLOT_ACC ? "accuracy" : "loss");
    }
    return ST_OK;
}

Status plot_log_file(const char *log_path, const char *png_path, Err *e)
{
    Curve c;
    Status st = curve_read(log_path, &c, e);
    if (st) return st;
    PlotRun run = {"run", &c};
    PlotMetric m[2] = {PLOT_LOSS, PLOT_ACC};
    st = plot_check_curve(&c, log_path, m, 2, e);
    if (!st) st = plot_curves_png(png_path, &run, 1, m, 2, 0, NULL, e);
    curve_free(&c);
    return st;
}

/* A label as shown: at most LABEL_SHOWN characters, a longer one cut with "...". */
#define LABEL_SHOWN 80
static void shown_label(char *buf, size_t len, const char *s)
{
    if (strlen(s) <= LABEL_SHOWN) snprintf(buf, len, "%s", s);
    else snprintf(buf, len, "%.*s...", LABEL_SHOWN - 3, s);
}

/* A group's mean curves in the units shown, at epochs 1..n (its shortest
 * run): train, test, validation (NULL unless every run has it) and the
 * test mean -+ 1 sample sd (NaN with fewer than two runs). */
typedef struct {
    int n;
    double *train, *test, *val, *lo, *hi;
} GroupMean;

/* Everything a comparison chart of groups allocates. */
typedef struct {
    GroupMean *means;
    double *pool;
    Line *lines;
    Band *bands;
    LegendEntry *legend;
    char *text; /* the legend's group labels, GROUP_TEXT bytes each */
    int nlines, nbands, nlegend;
} GroupChart;

#define GROUP_TEXT (LABEL_SHOWN + 32)

static void group_chart_free(GroupChart *gc)
{
    free(gc->means);
    free(gc->pool);
    free(gc->lines);
    free(gc->bands);
    free(gc->legend);
    free(gc->text);
    memset(gc, 0, sizeof *gc);
}

/* The epochs of a group's shortest run (0 without runs); *val: every run has
 * validation figures. */
static int group_epochs(const PlotGroup *g, int *val)
{
    int n = g->n > 0 ? g->runs[0]->n : 0;
    *val = g->n > 0;
    for (int r = 0; r < g->n; r++) {
        if (g->runs[r]->n < n) n = g->runs[r]->n;
        if (!g->runs[r]->val_loss) *val = 0;
    }
    return n;
}

/* The mean and sample sd (NaN for one run) over a group's runs of a series
 * at epoch index i, times mul. */
static void group_stat(const PlotGroup *g, PlotMetric m, int kind, int i, double mul, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (int r = 0; r < g->n; r++) s += series(g->runs[r], m, kind)[i] * mul;
    *mean = s / g->n;
    for (int r = 0; r < g->n; r++) {
        double d = series(g->runs[r], m, kind)[i] * mul - *mean;
        q += d * d;
    }
    *sd = g->n >= 2 ? sqrt(q / (g->n - 1)) : NAN;
}

/* The mean curves of every group, in one pool. */
static Status group_means(GroupChart *gc, const PlotGroup *groups, int n, PlotMetric metric, Err *e)
{
    double mul = metric == PLOT_ACC ? 100.0 : 1.0;
    size_t total = 0;
    int val;
    for (int g = 0; g < n; g++) total += 5 * (size_t)group_epochs(&groups[g], &val);
    gc->means = calloc((size_t)n, sizeof *gc->means);
    gc->pool = malloc((total ? total : 1) * sizeof *gc->pool);
    if (!gc->means || !gc->pool) return err_set(e, ST_ERR_NOMEM, "out of memory for the mean curves of %d settings", n);
    double *p = gc->pool, sd;
    for (int g = 0; g < n; g++) {
        GroupMean *gm = &gc->means[g];
        gm->n = group_epochs(&groups[g], &val);
        gm->train = p, gm->test = p + gm->n, gm->lo = p + 2 * gm->n, gm->hi = p + 3 * gm->n;
        gm->val = val ? p + 4 * gm->n : NULL;
        p += 5 * (size_t)gm->n;
        for (int i = 0; i < gm->n; i++) {
            group_stat(&groups[g], metric, SER_TRAIN, i, mul, &gm->train[i], &sd);
            if (gm->val) group_stat(&groups[g], metric, SER_VAL, i, mul, &gm->val[i], &sd);
            group_stat(&groups[g], metric, SER_TEST, i, mul, &gm->test[i], &sd);
            gm->lo[i] = gm->test[i] - sd, gm->hi[i] = gm->test[i] + sd;
        }
    }
    return ST_OK;
}

/* The bands (groups of two runs or more) and lines in drawing order: each
 * seed's test curve thin and pale (seeds), then the mean train (dashed),
 * validation (dotted) and test (solid, dots) curves; all up to the group's
 * shortest run. */
static Status group_lines(GroupChart *gc, const PlotGroup *groups, int n, PlotMetric metric, int seeds, Err *e)
{
    double mul = metric == PLOT_ACC ? 100.0 : 1.0;
    size_t count = 3 * (size_t)n;
    for (int g = 0; seeds && g < n; g++) count += (size_t)groups[g].n;
    gc->lines = malloc(count * sizeof *gc->lines);
    gc->bands = malloc((size_t)n * sizeof *gc->bands);
    if (!gc->lines || !gc->bands) return err_set(e, ST_ERR_NOMEM, "out of memory for the lines of %d settings", n);
    for (int g = 0; g < n; g++)
        if (groups[g].n >= 2)
            gc->bands[gc->nbands++] = (Band){gc->means[g].lo, gc->means[g].hi, gc->means[g].n, plot_color(g)};
    for (int g = 0; seeds && g < n; g++)
        for (int r = 0; r < groups[g].n; r++)
            gc->lines[gc->nlines++] = (Line){series(groups[g].runs[r], metric, SER_TEST), gc->means[g].n, mul, THIN_W,
                                             0, 2.5, paler(plot_color(g), 0.45), LINE_SOLID};
    for (int k = 0; k < 3; k++)
        for (int g = 0; g < n; g++) {
            const GroupMean *gm = &gc->means[g];
            const double *v = k == 0 ? gm->train : k == 1 ? gm->val : gm->test;
            if (!v) continue;
            LineStyle style = k == 0 ? LINE_DASHED : k == 1 ? LINE_DOTTED : LINE_SOLID;
            gc->lines[gc->nlines++] = (Line){v, gm->n, 1.0, LINE_W, k == 2 ? 4.0 : 0.0, 2.5, plot_color(g), style};
        }
    return ST_OK;
}

/* The legend: each group's label and n, then the key of what is drawn. */
static Status group_legend(GroupChart *gc, const PlotGroup *groups, int n, int seeds, Err *e)
{
    gc->legend = malloc(((size_t)n + 5) * sizeof *gc->legend);
    gc->text = malloc((size_t)n * GROUP_TEXT);
    if (!gc->legend || !gc->text) return err_set(e, ST_ERR_NOMEM, "out of memory for the legend of %d settings", n);
    int val = 0, band = 0, thin = 0;
    for (int g = 0; g < n; g++) {
        char *t = gc->text + (size_t)g * GROUP_TEXT, lab[LABEL_SHOWN + 1];
        shown_label(lab, sizeof lab, groups[g].label ? groups[g].label : "");
        snprintf(t, GROUP_TEXT, "%s (n=%d)", lab, groups[g].n);
        gc->legend[gc->nlegend++] = (LegendEntry){t, plot_color(g), LINE_SOLID, 1, SWATCH_LINE};
        val |= gc->means[g].val != NULL, band |= groups[g].n >= 2, thin |= seeds && groups[g].n > 0;
    }
    gc->legend[gc->nlegend++] = (LegendEntry){"test, mean over seeds", KEY, LINE_SOLID, 1, SWATCH_LINE};
    gc->legend[gc->nlegend++] = (LegendEntry){"train, mean", KEY, LINE_DASHED, 0, SWATCH_LINE};
    if (val) gc->legend[gc->nlegend++] = (LegendEntry){"validation, mean", KEY, LINE_DOTTED, 0, SWATCH_LINE};
    if (band) gc->legend[gc->nlegend++] = (LegendEntry){"band: \xc2\xb1" "1 sd over seeds", KEY, LINE_SOLID, 0, SWATCH_BAND};
    if (thin) gc->legend[gc->nlegend++] = (LegendEntry){"each seed (test)", paler(KEY, 0.45), LINE_SOLID, 0, SWATCH_THIN};
    return ST_OK;
}

Status plot_groups_image(Image *im, const PlotGroup *groups, int n, PlotMetric metric, int logy, int seeds,
                         const char *title, PlotAxes *axes, Err *e)
{
    memset(im, 0, sizeof *im);
    if (n < 1 || n > PLOT_MAX_SETTINGS)
        return err_set(e, ST_ERR_ARG, "a comparison chart has 1 to %d settings, not %d", PLOT_MAX_SETTINGS, n);
    for (int g = 0; g < n; g++)
        if (groups[g].n < 0 || (groups[g].n > 0 && !groups[g].runs))
            return err_set(e, ST_ERR_ARG, "setting %d of a comparison chart has %d runs", g + 1, groups[g].n);
    GroupChart gc = {0};
    Status st = group_means(&gc, groups, n, metric, e);
    if (!st) st = group_lines(&gc, groups, n, metric, seeds, e);
    if (!st) st = group_legend(&gc, groups, n, seeds, e);
    int pw, ph;
    if (!st) st = draw_image_init(im, 1, 1, WHITE, e);
    if (!st) figure_size(im, gc.legend, gc.nlegend, 1, &pw, &ph), st = draw_image_resize(im, pw, ph, WHITE, e);
    if (!st) {
        if (!title)
            title = metric == PLOT_ACC ? "Accuracy per epoch, mean over seeds"
                    : logy             ? "Loss per epoch, mean over seeds (log scale)"
                                       : "Loss per epoch, mean over seeds";
        Chart ch = {gc.lines, gc.nlines, gc.bands, gc.nbands, gc.legend, gc.nlegend, 1, metric, logy, title};
        chart_panel(im, 0, 0, pw, ph, &ch, axes);
    }
    group_chart_free(&gc);
    return st;
}

/* After drawing im (st: how that went): im written to png_path and freed,
 * or the drawing's error named after the file. */
static Status drawn_to_png(Image *im, Status st, const char *png_path, Err *e)
{
    if (st) {
        err_prefix(e, png_path);
        return st;
    }
    st = draw_write(im, png_path, e);
    draw_image_free(im);
    return st;
}

Status plot_groups_png(const char *png_path, const PlotGroup *groups, int n, PlotMetric metric, int logy, int seeds,
                       const char *title, Err *e)
{
    Image im;
    return drawn_to_png(&im, plot_groups_image(&im, groups, n, metric, logy, seeds, title, NULL, e), png_path, e);
}

/* compare_final.png's layout, in pixels. */
#define FINAL_ROW 44   /* a setting's row                       */
#define FINAL_WIDTH 640 /* the data area                        */
static const Rgb CHOSEN = {255, 241, 196}; /* the row chosen by validation */

/* What compare_final.png shows. */
typedef struct {
    const char *const *labels;
    const Stat *acc;
    const double *const *values;
    const int *nvalues;
    int n, best;
} FinalData;

/* The x range in percent: every finite value, mean and interval end. */
static void final_range(const FinalData *d, PlotAxes *a)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < d->n; i++) {
        for (int j = 0; j < d->nvalues[i]; j++) range_add(100 * d->values[i][j], 0, &lo, &hi);
        range_add(100 * d->acc[i].mean, 0, &lo, &hi);
        if (d->acc[i].n >= 2) range_add(100 * d->acc[i].lo, 0, &lo, &hi), range_add(100 * d->acc[i].hi, 0, &lo, &hi);
    }
    if (!(hi >= lo)) lo = 0, hi = 100;
    lo = fmax(lo, -PLOT_MAX), hi = fmin(hi, PLOT_MAX);
    pad_range(lo, hi, 0, &a->xmin, &a->xmax);
}

/* The text at the right of setting i's row: its mean and n, and whether
 * validation chose it. */
static void final_right_text(const FinalData *d, int i, char *buf, size_t len)
{
    const char *chosen = i == d->best ? "  chosen by validation" : "";
    if (d->acc[i].n > 0 && isfinite(d->acc[i].mean))
        snprintf(buf, len, "%.2f%% (n=%d%s)%s", 100 * d->acc[i].mean, d->acc[i].n, d->acc[i].n < 2 ? ", no interval" : "",
                 chosen);
    else snprintf(buf, len, "(n=%d)%s", d->acc[i].n, chosen);
}

/* One setting's row centred at yc: each run a dot (in a strip above the
 * bar, spread a little so that equal values stay countable), the 95%
 * interval as an error bar with caps, the mean a tall mark. */
static void final_row(Image *im, const PlotAxes *a, const FinalData *d, int i, double yc)
{
    Rgb col = plot_color(i);
    double px, py, x0, x1;
    for (int j = 0; j < d->nvalues[i]; j++) {
        double v = 100 * d->values[i][j];
        if (!isfinite(v)) continue;
        plot_map(a, v, 0, &px, &py);
        draw_disc(im, px, yc - 14 + 2.0 * (j % 3 - 1), 3.5, col);
    }
    const Stat *s = &d->acc[i];
    if (s->n >= 2 && isfinite(s->lo) && isfinite(s->hi)) {
        plot_map(a, 100 * s->lo, 0, &x0, &py);
        plot_map(a, 100 * s->hi, 0, &x1, &py);
        draw_line(im, x0, yc, x1, yc, 2, INK, 0, 0, NULL);
        draw_line(im, x0, yc - 6, x0, yc + 6, 2, INK, 0, 0, NULL);
        draw_line(im, x1, yc - 6, x1, yc + 6, 2, INK, 0, 0, NULL);
    }
    if (s->n > 0 && isfinite(s->mean)) {
        plot_map(a, 100 * s->mean, 0, &px, &py);
        draw_line(im, px, yc - 9, px, yc + 9, 4, col, 0, 0, NULL);
    }
}

/* The rows' labels at the left, their means at the right, the chosen row. */
static void final_row_texts(Image *im, const PlotAxes *a, const FinalData *d)
{
    char lab[GROUP_TEXT];
    double px, yc;
    for (int i = 0; i < d->n; i++) {
        plot_map(a, a->xmin, -i, &px, &yc);
        shown_label(lab, sizeof lab, d->labels[i] ? d->labels[i] : "");
        draw_text(im, a->left - 14 - draw_text_width(im, lab, TICK_PX), text_top(im, yc, TICK_PX), lab, TICK_PX, INK);
        final_right_text(d, i, lab, sizeof lab);
        draw_text(im, a->left + a->width + 14, text_top(im, yc, TICK_PX), lab, TICK_PX, INK);
    }
}

#define FINAL_NOTE_Y 76 /* the note's top below the data area */
static const char FINAL_NOTE[] = "dots: one per seed; tall mark: mean; error bar: 95% t interval of the mean";

/* The image size and the data area of a FinalData. */
static void final_layout(const Image *im, const FinalData *d, PlotAxes *a, int *w, int *h)
{
    char lab[GROUP_TEXT];
    int labelw = 0, rightw = 0;
    for (int i = 0; i < d->n; i++) {
        shown_label(lab, sizeof lab, d->labels[i] ? d->labels[i] : "");
        labelw = labelw > draw_text_width(im, lab, TICK_PX) ? labelw : draw_text_width(im, lab, TICK_PX);
        final_right_text(d, i, lab, sizeof lab);
        rightw = rightw > draw_text_width(im, lab, TICK_PX) ? rightw : draw_text_width(im, lab, TICK_PX);
    }
    *a = (PlotAxes){.left = 24 + labelw + 14, .top = 56, .width = FINAL_WIDTH, .height = d->n * FINAL_ROW,
                    .ymin = -(d->n - 0.5), .ymax = 0.5};
    final_range(d, a);
    *w = a->left + a->width + 14 + rightw + 24;
    int notew = draw_text_width(im, FINAL_NOTE, NOTE_PX) + 48;
    if (*w < notew) *w = notew;
    *h = a->top + a->height + FINAL_NOTE_Y + draw_text_height(im, NOTE_PX) + 16;
}

Status plot_final_image(Image *im, const char *const *labels, const Stat *acc, const double *const *values,
                        const int *nvalues, int n, int best, const char *title, PlotAxes *axes, Err *e)
{
    memset(im, 0, sizeof *im);
    if (n < 1 || n > PLOT_MAX_SETTINGS)
        return err_set(e, ST_ERR_ARG, "a chart of final accuracies has 1 to %d settings, not %d", PLOT_MAX_SETTINGS, n);
    if (best < -1 || best >= n) return err_set(e, ST_ERR_ARG, "the chosen setting %d is not one of %d", best + 1, n);
    for (int i = 0; i < n; i++)
        if (nvalues[i] < 0 || (nvalues[i] > 0 && !values[i]))
            return err_set(e, ST_ERR_ARG, "setting %d of the final accuracies has %d values", i + 1, nvalues[i]);
    FinalData d = {labels, acc, values, nvalues, n, best};
    PlotAxes a;
    int w, h;
    Status st = draw_image_init(im, 1, 1, WHITE, e);
    if (st) return st;
    final_layout(im, &d, &a, &w, &h);
    if ((st = draw_image_resize(im, w, h, WHITE, e))) return st;
    Ticks tk;
    tk.ny = 0, tk.nx = plot_ticks(a.xmin, a.xmax, 0, 0, 8, tk.x, 64);
    if (best >= 0) draw_fill_rect(im, a.left, a.top + best * FINAL_ROW, a.width, FINAL_ROW, CHOSEN);
    curve_grid(im, &a, &tk);
    for (int i = 0; i < n; i++) {
        double px, yc;
        plot_map(&a, a.xmin, -i, &px, &yc);
        final_row(im, &a, &d, i, yc);
    }
    labels_y(im, &a, &tk);
    labels_x(im, &a, &tk, 0);
    chart_titles(im, 0, 0, &a, "final test accuracy (%)", NULL, title ? title : "Final test accuracy per setting");
    final_row_texts(im, &a, &d);
    draw_text(im, (w - draw_text_width(im, FINAL_NOTE, NOTE_PX)) / 2, a.top + a.height + FINAL_NOTE_Y, FINAL_NOTE,
              NOTE_PX, KEY);
    if (axes) *axes = a;
    return ST_OK;
}

Status plot_final_png(const char *png_path, const char *const *labels, const Stat *acc, const double *const *values,
                      const int *nvalues, int n, int best, const char *title, Err *e)
{
    Image im;
    return drawn_to_png(&im, plot_final_image(&im, labels, acc, values, nvalues, n, best, title, NULL, e), png_path,
                        e);
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

/* The confusion chart's colour of a cell holding fraction f of its row:
 * sqrt, so that a few confusions out of a thousand are still visible. */
static Rgb confusion_color(double f)
{
    return heat(sqrt(f < 0 ? 0 : f > 1 ? 1 : f));
}

/* The colour scale at the right of the matrix: a bar from 0% (bottom) to
 * 100% (top) of a row, at x, over the grid's height, with its ticks; a tick
 * whose label would touch one already drawn is left out. */
static void confusion_scale(Image *im, int x, int top, int grid, int size)
{
    static const double F[7] = {0, 1, 0.5, 0.25, 0.1, 0.05, 0.01}; /* most important first */
    enum { BAR = 22 };
    for (int j = 0; j < grid; j++) /* the bar: top row 100% */
        draw_fill_rect(im, x, top + j, BAR, 1, heat(1 - (j + 0.5) / grid));
    draw_rect(im, x - 1, top - 1, BAR + 2, grid + 2, AXIS);
    int kept[7], nk = 0, lh = draw_text_height(im, size);
    for (int t = 0; t < 7; t++) {
        double yc = top + grid * (1 - sqrt(F[t]));
        int clash = 0;
        for (int q = 0; q < nk; q++) clash |= abs((int)yc - kept[q]) < lh;
        if (clash) continue;
        kept[nk++] = (int)yc;
        char lab[16];
        snprintf(lab, sizeof lab, "%g%%", 100 * F[t]);
        draw_fill_rect(im, x + BAR, (int)yc, 6, 1, AXIS);
        draw_text(im, x + BAR + 10, text_top(im, yc, size), lab, size, INK);
    }
}

Status plot_confusion(const long *cm, int k, const char *const *names, const char *title, Image *im, Err *e)
{
    memset(im, 0, sizeof *im);
    if (k < 1 || k > 64) return err_set(e, ST_ERR_ARG, "a confusion matrix of %d classes cannot be drawn", k);
    Status st = draw_image_init(im, 1, 1, WHITE, e);
    if (st) return st;
    /* the cells: 64 px for up to 10 classes, smaller for more (at least 20) */
    int cell = k <= 10 ? 64 : 640 / k < 20 ? 20 : 640 / k, grid = k * cell;
    if (k < 5) cell = 96, grid = k * cell;
    int name_px = TICK_PX, count_px = 18;
    while (name_px > 10 && draw_text_height(im, name_px) > cell - 2) name_px--;
    int namew = 0;
    for (int i = 0; i < k; i++) {
        int tw = draw_text_width(im, names[i], name_px);
        if (tw > namew) namew = tw;
    }
    const char *ylab = "true class", *xlab = "predicted class", *slab = "share of the true class (row)";
    int axis_h = draw_text_height(im, AXIS_PX);
    int left = 10 + axis_h + 12 + namew + 14, top = 16 + draw_text_height(im, TITLE_PX) + 12 + draw_text_height(im, TICK_PX) + 8;
    int accw = draw_text_width(im, "100.0%", TICK_PX) + 24;
    int scale_x = left + grid + accw + 24;
    int right = accw + 24 + 22 + 10 + draw_text_width(im, "100%", TICK_PX) + 16 + axis_h + 16;
    int w = left + grid + right, h = top + grid + 14 + namew + 14 + axis_h + 16;
    char lab[64];
    long total = 0, right_total = 0;
    for (int i = 0; i < k * k; i++) total += cm[i];
    for (int i = 0; i < k; i++) right_total += cm[i * k + i];
    char tbuf[256];
    if (!title) {
        snprintf(tbuf, sizeof tbuf, "Confusion matrix: %ld test images, accuracy %.2f%%", total,
                 total ? 100.0 * right_total / total : 0.0);
        title = tbuf;
    }
    int titlew = draw_text_width(im, title, TITLE_PX);
    if (w < titlew + 40) { /* the title fits: the image widens, the matrix stays centred */
        int wider = titlew + 40 > 16384 ? 16384 : titlew + 40;
        left += (wider - w) / 2, scale_x += (wider - w) / 2, w = wider;
    }
    /* one size for every count: the largest at which the widest fits its cell */
    long most = 0;
    for (int i = 0; i < k * k; i++) most = cm[i] > most ? cm[i] : most;
    snprintf(lab, sizeof lab, "%ld", most);
    while (count_px > 9 && (draw_text_width(im, lab, count_px) > cell - 6 || draw_text_height(im, count_px) > cell - 2))
        count_px--;
    if ((st = draw_image_resize(im, w, h, WHITE, e))) return st;
    for (int i = 0; i < k; i++) {
        long row = 0;
        for (int j = 0; j < k; j++) row += cm[i * k + j];
        for (int j = 0; j < k; j++) {
            double f = row ? (double)cm[i * k + j] / row : 0;
            int x = left + j * cell, y = top + i * cell;
            draw_fill_rect(im, x, y, cell, cell, confusion_color(f));
            snprintf(lab, sizeof lab, "%ld", cm[i * k + j]);
            int sz = count_px;
            if (draw_text_width(im, lab, sz) > cell - 2) continue; /* no room: the colour says it */
            Rgb tc = sqrt(f) > 0.55 ? WHITE : cm[i * k + j] ? INK : LIGHT;
            draw_text(im, x + (cell - draw_text_width(im, lab, sz)) / 2, text_top(im, y + cell / 2.0, sz), lab, sz, tc);
        }
        /* row label (true class) and the row's accuracy */
        double yc = top + i * cell + cell / 2.0;
        draw_text(im, left - 14 - draw_text_width(im, names[i], name_px), text_top(im, yc, name_px), names[i], name_px,
                  INK);
        snprintf(lab, sizeof lab, "%.1f%%", row ? 100.0 * cm[i * k + i] / row : 0.0);
        int acc_px = name_px;
        draw_text(im, left + grid + 12, text_top(im, yc, acc_px), lab, acc_px, INK);
        /* column label (predicted class), turned, reading upward, its end at the grid */
        int nw = draw_text_width(im, names[i], name_px);
        draw_text_up(im, left + i * cell + (cell - draw_text_height(im, name_px)) / 2, top + grid + 14 + namew - nw,
                     names[i], name_px, INK);
    }
    for (int i = 0; i <= k; i++) {
        draw_fill_rect(im, left + i * cell, top, 1, grid, (Rgb){200, 200, 200});
        draw_fill_rect(im, left, top + i * cell, grid, 1, (Rgb){200, 200, 200});
    }
    draw_rect(im, left - 1, top - 1, grid + 2, grid + 2, AXIS);
    draw_text(im, left + grid + 12, top - 4 - draw_text_height(im, TICK_PX), "acc", TICK_PX, INK);
    draw_text_up(im, left - 14 - namew - 12 - axis_h, top + (grid - draw_text_width(im, ylab, AXIS_PX)) / 2, ylab,
                 AXIS_PX, INK);
    draw_text(im, left + (grid - draw_text_width(im, xlab, AXIS_PX)) / 2, top + grid + 14 + namew + 14, xlab, AXIS_PX,
              INK);
    confusion_scale(im, scale_x, top, grid, TICK_PX);
    int sx = scale_x + 22 + 10 + draw_text_width(im, "100%", TICK_PX) + 12;
    int slw = draw_text_width(im, slab, AXIS_PX);
    if (slw <= grid) draw_text_up(im, sx, top + (grid - slw) / 2, slab, AXIS_PX, KEY);
    else draw_text_up(im, sx, top, "share of row", AXIS_PX, KEY);
    fitted_text(im, w / 2, 16, w - 16, title, TITLE_PX, INK);
    return ST_OK;
}

/* The error grid's text sizes. */
#define GRID_PX 18

/* The three lines under image i of a grid: its true class, "→ predicted"
 * and "#index  confidence". */
static void grid_texts(int i, const int *truth, const int *pred, const float *conf, const char *const *names,
                       char t[3][96])
{
    snprintf(t[0], 96, "%s", names[truth[i]]);
    snprintf(t[1], 96, "\xe2\x86\x92 %s", names[pred[i]]);
    if (conf) snprintf(t[2], 96, "#%d  %.1f%%", i, 100.0 * conf[i]);
    else snprintf(t[2], 96, "#%d", i);
}

Status plot_image_grid(const uint8_t *pixels, int h, int w, const int *idx, int n, const int *truth, const int *pred,
                       const float *conf, const char *const *names, int cols, const char *title, Image *im, Err *e)
{
    memset(im, 0, sizeof *im);
    if (n < 1 || cols < 1 || h < 1 || w < 1 || h > 256 || w > 256)
        return err_set(e, ST_ERR_ARG, "an image grid of %d images of %dx%d cannot be drawn", n, h, w);
    Status st = draw_image_init(im, 1, 1, WHITE, e);
    if (st) return st;
    if (cols > n) cols = n;
    int zoom = w <= 64 && h <= 64 ? 4 : 1, lh = draw_text_height(im, GRID_PX) + 2;
    int cellw = w * zoom + 16;
    char t[3][96];
    for (int k = 0; k < n; k++) {
        grid_texts(idx[k], truth, pred, conf, names, t);
        for (int q = 0; q < 3; q++)
            if (draw_text_width(im, t[q], GRID_PX) + 14 > cellw) cellw = draw_text_width(im, t[q], GRID_PX) + 14;
    }
    int cellh = h * zoom + 10 + 3 * lh + 14;
    char key[2][128];
    snprintf(key[0], sizeof key[0], "under each image: its true class, \xe2\x86\x92 the predicted class (green: right, "
                                    "red: wrong),");
    snprintf(key[1], sizeof key[1], "%s", conf ? "then #: its index in the test set (from 0), and the predicted class's probability"
                                               : "then #: its index in the test set (from 0)");
    int title_h = title ? draw_text_height(im, TITLE_PX) + 8 : 0, note_h = draw_text_height(im, NOTE_PX);
    int top = 14 + title_h + 2 * note_h + 16, rows = (n + cols - 1) / cols;
    int gw = cols * cellw + 20, keyw = draw_text_width(im, key[1], NOTE_PX) + 24;
    if (draw_text_width(im, key[0], NOTE_PX) + 24 > keyw) keyw = draw_text_width(im, key[0], NOTE_PX) + 24;
    int imw = gw > keyw ? gw : keyw;
    if ((st = draw_image_resize(im, imw, top + rows * cellh + 6, WHITE, e))) return st;
    static const Rgb RIGHT = {30, 130, 40}, WRONG = {200, 30, 30};
    int x0 = (imw - cols * cellw) / 2;
    for (int k = 0; k < n; k++) {
        int i = idx[k], cx = x0 + (k % cols) * cellw, cy = top + (k / cols) * cellh;
        int ix = cx + (cellw - w * zoom) / 2, iy = cy + 4;
        draw_gray(im, ix, iy, pixels + (size_t)i * (size_t)h * (size_t)w, w, h, zoom);
        int ok = truth[i] == pred[i];
        draw_rect(im, ix - 2, iy - 2, w * zoom + 4, h * zoom + 4, ok ? RIGHT : WRONG);
        draw_rect(im, ix - 1, iy - 1, w * zoom + 2, h * zoom + 2, ok ? RIGHT : WRONG);
        grid_texts(i, truth, pred, conf, names, t);
        int ty = iy + h * zoom + 6;
        const Rgb colors[3] = {INK, ok ? RIGHT : WRONG, KEY};
        for (int q = 0; q < 3; q++)
            draw_text(im, cx + (cellw - draw_text_width(im, t[q], GRID_PX)) / 2, ty + q * lh, t[q], GRID_PX, colors[q]);
    }
    if (title) fitted_text(im, imw / 2, 12, imw - 16, title, TITLE_PX, INK);
    for (int q = 0; q < 2; q++)
        draw_text(im, (imw - draw_text_width(im, key[q], NOTE_PX)) / 2, 12 + title_h + q * note_h, key[q], NOTE_PX, KEY);
    return ST_OK;
}

Status plot_write_image(const Image *im, const char *path, Err *e)
{
    return draw_write(im, path, e);
}

Status plot_write_png(const Image *im, const char *path, Err *e)
{
    return draw_write_png(im, path, e);
}
