/* wdchart.h - the weight-decay experiment's one figure (`fmnist wd-demo`).
 *
 * A slide-sized figure of a few trainings of the same model (no penalty, L2,
 * L1): a top row with one panel per setting (train loss dashed, test loss
 * solid, log scale) sharing one y range so that the panels compare at a
 * glance; below, the weight norm ||w||_2 per epoch of every setting in one
 * panel (with the true weights' norm) and a histogram of each setting's
 * final weights, overlaid, on a linear axis centred on 0 so that L1's spike
 * at 0 shows.
 *
 * Drawn with draw.h and plot.h's mapping (plot_map, plot_ticks, plot_color):
 * setting i has colour plot_color(i) in every panel. The ranges and the
 * histogram are pure functions, exposed for the tests. */
#ifndef FMNIST_WDCHART_H
#define FMNIST_WDCHART_H

#include "report/draw.h"
#include "report/plot.h"
#include "util/status.h"

/* The most settings one figure draws (one top panel each). */
#define WDCHART_MAX 4

/* One training: its label, its per-epoch figures and its final weights. */
typedef struct {
    const char *label;                        /* "L2 penalty, lambda = 3"               */
    int epochs;                               /* values in each per-epoch array (>= 1)  */
    const double *train_loss, *test_loss;     /* epochs values: epoch k+1 at [k]        */
    const double *w_norm;                     /* epochs values: ||w||_2 after each epoch */
    const double *w;                          /* nw final weights (no bias)             */
    int nw;
    int penalized;                            /* trained with a penalty (> 0)           */
} WdChartRun;

/* What the figure says beside its data. */
typedef struct {
    const char *title;    /* the figure's title                                       */
    const char *subtitle; /* one line under it (NULL: none)                            */
    double true_w;        /* every true weight's value (drawn in the histogram, and
                             |true_w| sqrt(nw) in the norm panel); NaN: not drawn       */
} WdChartText;

/* The histogram's bins: nbins = 2*WDCHART_HALF_BINS + 1, centred on 0 (bin
 * WDCHART_HALF_BINS holds the values nearest 0). */
#define WDCHART_HALF_BINS 20
#define WDCHART_BINS (2 * WDCHART_HALF_BINS + 1)

/* Where everything was drawn (tests): the data-to-pixel mapping of each top
 * panel (y: the loss), of the norm panel and of the histogram (x: w, y: the
 * count), and the histogram's half range (see wdchart_hist_range). */
typedef struct {
    PlotAxes loss[WDCHART_MAX], norm, hist;
    double hist_range;
} WdChartAxes;

/* The shared y range of the loss panels, on a log axis: of every finite,
 * positive train and test loss of every run, padded by 6% of the decades on
 * both sides (a range under 1e-3 decades is widened to 0.1); [0.1, 1] if
 * no value is drawable. */
void wdchart_loss_range(const WdChartRun *runs, int n, double *ymin, double *ymax);

/* The histogram's half range R (its x axis spans about -R..R): the least
 * 1, 2, 3 or 5 times a power of ten >= the largest |w| of the penalized runs
 * (of all runs if none is penalized; 1 if every weight is 0 or not finite).
 * The penalized runs' weights all fit; an unpenalized run's larger ones are
 * counted beyond the axis. */
double wdchart_hist_range(const WdChartRun *runs, int n);

/* Counts w[0..nw) into WDCHART_BINS bins of width h = R / WDCHART_HALF_BINS
 * centred on 0: bin k holds [(k - HALF - 0.5) h, (k - HALF + 0.5) h). The
 * values below the first bin go to *below, those at or above the end of the
 * last (and NaN) to *above, so that the bins, *below and *above sum to nw.
 * R > 0. */
void wdchart_histogram(const double *w, int nw, double R, long counts[WDCHART_BINS], long *below, long *above);

/* The figure of runs[0..n) (1 <= n <= WDCHART_MAX; epochs up to the longest run)
 * drawn into a new image *im (free with draw_image_free);
 * *axes (if not NULL) receives the mappings. ST_ERR_ARG for a bad n or run. */
Status wdchart_draw(Image *im, const WdChartRun *runs, int n, const WdChartText *text, WdChartAxes *axes, Err *e);

/* The same figure written to path (PNG), atomically. */
Status wdchart_write(const char *path, const WdChartRun *runs, int n, const WdChartText *text, Err *e);

#endif
