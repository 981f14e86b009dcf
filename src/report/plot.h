/* plot.h - the figures: loss and accuracy curves of one or more runs,
 * a sweep's comparison charts (mean curves with +-1 sd bands, final accuracy
 * with error bars), the confusion-matrix heat map, and a grid of labelled
 * test images.
 *
 * Figures are drawn on an Image (draw.h), which records them as SVG too,
 * and written atomically as PNG or SVG by the file's extension (.png or
 * .svg; any other is refused: draw_format). The functions named *_png
 * write either. The mapping from data to pixels is plot_map, exposed so
 * that tests can check where points land. */
#ifndef FMNIST_PLOT_H
#define FMNIST_PLOT_H

#include <stdint.h>

#include "report/curve.h"
#include "report/draw.h"
#include "util/stats.h"

/* Where a chart's data area is and what it shows. */
typedef struct {
    int left, top, width, height; /* the data area, in pixels                        */
    double xmin, xmax;            /* data x at the left and right edges              */
    double ymin, ymax;            /* data y at the bottom and top edges (> 0 if logy) */
    int logy;                     /* y on a log10 scale                              */
} PlotAxes;

/* Data point (x, y) -> pixel coordinates (px, py) (see draw.h: pixel i spans
 * [i, i+1)): xmin -> left, xmax -> left+width, ymax -> top, ymin ->
 * top+height, linear in between (in log10 y when logy; y <= 0 then maps to
 * the bottom edge). */
void plot_map(const PlotAxes *a, double x, double y, double *px, double *py);

/* Tick positions for the range [lo, hi]: "nice" numbers (1, 2, 2.5 or 5
 * times a power of ten) about max_ticks apart or fewer, or on a log axis 1-2-5
 * (or 1..9, or powers of ten) per decade. Writes at most max ticks in
 * increasing order; returns how many. integer: only whole numbers. */
int plot_ticks(double lo, double hi, int logy, int integer, int max_ticks, double *ticks, int max);

typedef enum { PLOT_LOSS, PLOT_ACC } PlotMetric;

typedef struct {
    const char *name;   /* legend label */
    const Curve *curve;
} PlotRun;

/* The most runs one chart of curves draws. */
#define PLOT_MAX_RUNS 64

/* The distinct colour of run i (cycles after 10). */
Rgb plot_color(int i);

/* Draws one chart of runs[0..n) (n <= PLOT_MAX_RUNS; more are not drawn)
 * into the w x h rectangle at (x, y) of im: the metric per epoch, test solid
 * with dots, train dashed, validation dotted (when the log has it), one
 * colour per run, with axes, ticks, grid, axis titles, title (NULL: a default) and a legend
 * (a single run's in the emptiest corner, several runs' at the right, outside
 * the data area). Accuracies are shown in percent. *axes (if not NULL)
 * receives the data-to-pixel mapping used (y in the units shown). */
void plot_curves_panel(Image *im, int x, int y, int w, int h, const PlotRun *runs, int n, PlotMetric metric, int logy,
                       const char *title, PlotAxes *axes);

/* A figure of nmetrics panels side by side, one per metric, written to
 * png_path (PNG or SVG by its extension); each panel is 800x520, widened by
 * the legend for several runs. n: 1..PLOT_MAX_RUNS. title (NULL: each
 * panel's default): one panel's title, or the figure's above several
 * panels (which keep their own). logy applies to loss panels only. */
Status plot_curves_png(const char *png_path, const PlotRun *runs, int n, const PlotMetric *metrics, int nmetrics,
                       int logy, const char *title, Err *e);

/* The most settings a comparison chart shows (a sweep's limit). */
#define PLOT_MAX_SETTINGS 256

/* One setting of a sweep for the comparison charts: its runs, one per seed. */
typedef struct {
    const char *label;            /* legend text: the setting in words            */
    const Curve *const *runs;     /* n runs' logs                                 */
    int n;
} PlotGroup;

/* compare_loss.png / compare_acc.png of a sweep: per group (one colour
 * each) the mean over its runs of the metric per epoch (test solid, train
 * dashed, validation dotted when every run has it) with a shaded band of
 * +-1 sd of the test curve (n >= 2), and each run as a thin line when seeds
 * is set; epochs up to the group's shortest run. The legend gives each
 * label and its n. */
Status plot_groups_png(const char *png_path, const PlotGroup *groups, int n, PlotMetric metric, int logy, int seeds,
                       const char *title, Err *e);
/* The same chart drawn into a new image *im (free with draw_image_free),
 * 800x520 or more, the legend at the right; *axes (if not NULL) receives the
 * data-to-pixel mapping (y in the units shown: accuracy in percent). A
 * group of no runs is only in the legend. */
Status plot_groups_image(Image *im, const PlotGroup *groups, int n, PlotMetric metric, int logy, int seeds,
                         const char *title, PlotAxes *axes, Err *e);

/* compare_final.png: per setting (labels[i]) the final test accuracy of
 * each run (values[i][0..nvalues[i]), fractions) as dots, their mean as a
 * bar end or marker, and an error bar of the 95% interval (acc[i].lo..hi;
 * none when acc[i].n < 2); best (or -1) is marked "chosen by validation". */
Status plot_final_png(const char *png_path, const char *const *labels, const Stat *acc, const double *const *values,
                      const int *nvalues, int n, int best, const char *title, Err *e);
/* The same chart drawn into a new image *im (free with draw_image_free): a
 * row per setting (n: 1..256), its label at the left, its mean and n at the
 * right; x is accuracy in percent. *axes (if not NULL) receives the
 * mapping: x in percent, setting i's row centred at y = -i. */
Status plot_final_image(Image *im, const char *const *labels, const Stat *acc, const double *const *values,
                        const int *nvalues, int n, int best, const char *title, PlotAxes *axes, Err *e);

/* An error unless c (read from path) has something to plot: at least one
 * epoch, and for each metric at least one finite value (the message names
 * path). */
Status plot_check_curve(const Curve *c, const char *path, const PlotMetric *metrics, int nmetrics, Err *e);

/* curves.png of one run: its log.csv's loss and accuracy, side by side
 * (plot_check_curve first). */
Status plot_log_file(const char *log_path, const char *png_path, Err *e);

/* The heat map of a k x k confusion matrix cm (row = true class, column =
 * predicted, counts; k: 1..64), rows coloured by their fraction (on a sqrt
 * scale, with its colour scale at the right), each cell with its count
 * where it fits, class names on both axes and each row's accuracy at the
 * right; the image is wide enough for the title. names: k class names.
 * Allocates *im (free with draw_image_free). */
Status plot_confusion(const long *cm, int k, const char *const *names, const char *title, Image *im, Err *e);

/* A grid of n grayscale images (each h x w bytes, image idx[i] of pixels,
 * which holds them one after another), cols per row, scaled 4x (up to
 * 64x64), each with its true class, "→ predicted class" (green if equal,
 * red if not) and "#index  confidence": its index idx[i] (from 0) and, when
 * conf is not NULL, conf[idx[i]] (the predicted class's probability) in
 * percent. truth, pred and conf are indexed like pixels; names holds the
 * class names. Allocates *im. */
Status plot_image_grid(const uint8_t *pixels, int h, int w, const int *idx, int n, const int *truth, const int *pred,
                       const float *conf, const char *const *names, int cols, const char *title, Image *im, Err *e);

/* Writes im to path atomically, PNG or SVG by its extension (draw_write). */
Status plot_write_image(const Image *im, const char *path, Err *e);
/* Encodes im as PNG whatever the name, and writes it to path atomically. */
Status plot_write_png(const Image *im, const char *path, Err *e);

#endif
