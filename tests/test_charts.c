/* test_charts.c - the charts that compare settings: a group's mean curve
 * with its +-1 sd band (present between mean-sd and mean+sd, absent outside
 * and for a single run), each seed's thin line, a group cut at its shortest
 * run, the final-accuracy chart's error bars, dots and chosen row, the
 * validation curve of a curves chart, and `fmnist plot --label`. Pixels are
 * found through the PlotAxes each chart returns. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "report/curve.h"
#include "report/draw.h"
#include "report/plot.h"
#include "testutil.h"

static const Rgb WHITE = {255, 255, 255}, INK = {25, 25, 25};

static int same_rgb(Rgb a, Rgb b)
{
    return a.r == b.r && a.g == b.g && a.b == b.b;
}

/* Tinted towards plot_color(0)'s blue (31, 119, 180): the band over white
 * or grid, the lines, the dots; white, grays and orange are not. */
static int bluish(Rgb p)
{
    return p.b > p.r + 10;
}

/* A log of n epochs: test loss test[i] (accuracy 1 - test/4), train loss
 * test + train_off, and validation loss test + val_off when val. */
static void make_log(Curve *c, int n, const double *test, double train_off, int val, double val_off)
{
    char text[4096];
    snprintf(text, sizeof text, "epoch,train_loss,train_acc,test_loss,test_acc,seconds%s\n",
             val ? ",val_loss,val_acc" : "");
    for (int i = 0; i < n; i++) {
        size_t k = strlen(text);
        double tr = test[i] + train_off, va = test[i] + val_off;
        snprintf(text + k, sizeof text - k, "%d,%.6f,%.6f,%.6f,%.6f,1.0", i + 1, tr, 1 - tr / 4, test[i],
                 1 - test[i] / 4);
        k = strlen(text);
        if (val) snprintf(text + k, sizeof text - k, ",%.6f,%.6f\n", va, 1 - va / 4);
        else snprintf(text + k, sizeof text - k, "\n");
    }
    Err e;
    ck_assert_msg(curve_parse("mem", text, c, &e) == ST_OK, "%s", e.msg);
}

/* The test losses of run r: a curve flat from epoch 3 on, shifted by off. */
static void shifted(double *v, int n, double off)
{
    static const double BASE[8] = {1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7};
    for (int i = 0; i < n; i++) v[i] = BASE[i] + off;
}

/* Draws the loss chart of one group of runs whose test losses are the base
 * curve shifted by off[0..nruns) (train 1.0 above them); returns the image
 * and its axes. */
static void group_chart(const double *off, int nruns, int seeds, Image *im, PlotAxes *a)
{
    Curve c[8];
    const Curve *ptr[8];
    for (int r = 0; r < nruns; r++) {
        double v[5];
        shifted(v, 5, off[r]);
        make_log(&c[r], 5, v, 1.0, 0, 0);
        ptr[r] = &c[r];
    }
    PlotGroup g = {"dropout 0.3/0.5", ptr, nruns};
    Err e;
    ck_assert_int_eq(plot_groups_image(im, &g, 1, PLOT_LOSS, 0, seeds, NULL, a, &e), ST_OK);
    for (int r = 0; r < nruns; r++) curve_free(&c[r]);
}

/* The rows of a column of the data area whose pixels are bluish; the rows
 * within 5 pixels of skip[0..nskip) (the lines) do not count. Returns how
 * many there are outside [top, bottom], writing the first to *where. */
static int bluish_outside(const Image *im, const PlotAxes *a, int x, double top, double bottom, const double *skip,
                          int nskip, int *where)
{
    int count = 0;
    for (int y = a->top; y < a->top + a->height; y++) {
        int near = 0;
        for (int k = 0; k < nskip; k++) near |= fabs(y + 0.5 - skip[k]) <= 5;
        if (near || (y + 0.5 >= top && y + 0.5 <= bottom) || !bluish(draw_get(im, x, y))) continue;
        if (!count++) *where = y;
    }
    return count;
}

START_TEST(test_band_between_sd)
{
    /* three runs 0.1 apart: at each epoch the mean is the middle run and the
     * sample sd exactly 0.1 */
    const double off[3] = {-0.1, 0.0, 0.1};
    Image im;
    PlotAxes a;
    group_chart(off, 3, 0, &im, &a);
    double px, ymean, yhi, ylo, ytrain;
    plot_map(&a, 3, 0.7, &px, &ymean);
    plot_map(&a, 3, 0.8, &px, &yhi);
    plot_map(&a, 3, 0.6, &px, &ylo);
    plot_map(&a, 3, 1.7, &px, &ytrain);
    ck_assert(ylo - yhi > 30); /* the band is tall enough to test */
    int x = (int)px + 3;       /* beside the epoch's grid line and dot; the curves are flat here */
    for (int y = (int)ceil(yhi + 1); y <= (int)floor(ylo - 2); y++) {
        Rgb p = draw_get(&im, x, y);
        ck_assert_msg(bluish(p), "(%d,%d) between mean-sd and mean+sd is (%d,%d,%d)", x, y, p.r, p.g, p.b);
    }
    /* a pixel of the band, away from the mean line, is translucent: lighter than the line */
    Rgb band = draw_get(&im, x, (int)((yhi + ymean) / 2));
    ck_assert(band.r > 150 && !same_rgb(band, plot_color(0)));
    double lines[2] = {ymean, ytrain};
    int where = -1;
    int out = bluish_outside(&im, &a, x, yhi - 2, ylo + 2, lines, 2, &where);
    ck_assert_msg(out == 0, "%d bluish pixels outside the band, the first at row %d", out, where);
    draw_image_free(&im);

    /* one run: no band, only the lines */
    group_chart(off + 1, 1, 0, &im, &a);
    plot_map(&a, 3, 0.7, &px, &ymean);
    plot_map(&a, 3, 1.7, &px, &ytrain);
    lines[0] = ymean, lines[1] = ytrain;
    x = (int)px + 3;
    out = bluish_outside(&im, &a, x, 0, -1, lines, 2, &where);
    ck_assert_msg(out == 0, "n = 1 has %d bluish pixels beside its lines, the first at row %d", out, where);
    ck_assert(bluish(draw_get(&im, x, (int)ymean))); /* the line itself is there */
    draw_image_free(&im);
}
END_TEST

START_TEST(test_seed_lines)
{
    /* five runs, one far above: mean +0.2, sd sqrt(0.2) = 0.447, the fifth
     * run at mean +0.8, well outside the band */
    const double off[5] = {0, 0, 0, 0, 1.0};
    Image im;
    PlotAxes a;
    double px, yrun, yhi, ymean, ytrain;
    for (int seeds = 0; seeds <= 1; seeds++) {
        group_chart(off, 5, seeds, &im, &a);
        plot_map(&a, 3, 0.9 + sqrt(0.2), &px, &yhi);
        plot_map(&a, 3, 0.9, &px, &ymean);
        plot_map(&a, 3, 1.9, &px, &ytrain);
        int x = (int)px + 3;
        if (seeds) {
            plot_map(&a, 3, 1.7, &px, &yrun);
            ck_assert(yhi - yrun > 20);
            Rgb p = draw_get(&im, x, (int)yrun);
            ck_assert_msg(bluish(p) && p.r > 60, "the fifth seed's thin line at (%d,%.0f) is (%d,%d,%d)", x, yrun,
                          p.r, p.g, p.b);
            /* thin: 2 pixels from its centre the column is clear again */
            ck_assert(!bluish(draw_get(&im, x, (int)yrun - 3)) && !bluish(draw_get(&im, x, (int)yrun + 3)));
        } else { /* without seeds nothing is drawn above the band but the train line */
            double lines[2] = {ymean, ytrain};
            int where = -1;
            double ylo;
            plot_map(&a, 3, 0.9 - sqrt(0.2), &px, &ylo);
            int out = bluish_outside(&im, &a, x, yhi - 2, ylo + 2, lines, 2, &where);
            ck_assert_msg(out == 0, "%d bluish pixels outside the band, the first at row %d", out, where);
        }
        draw_image_free(&im);
    }
}
END_TEST

START_TEST(test_group_shortest_run)
{
    /* group 0 (blue): runs of 5 and 3 epochs; group 1 (orange): two of 5 */
    double v[4][5];
    Curve c[4];
    const double offs[4] = {0.0, 0.2, 0.5, 0.6};
    const int lens[4] = {5, 3, 5, 5};
    for (int r = 0; r < 4; r++) {
        shifted(v[r], 5, offs[r]);
        make_log(&c[r], lens[r], v[r], 0.3, 0, 0);
    }
    const Curve *g0[2] = {&c[0], &c[1]}, *g1[2] = {&c[2], &c[3]};
    PlotGroup groups[2] = {{"short", g0, 2}, {"long", g1, 2}};
    Image im;
    PlotAxes a;
    Err e;
    ck_assert_int_eq(plot_groups_image(&im, groups, 2, PLOT_LOSS, 0, 1, NULL, &a, &e), ST_OK);
    ck_assert(a.xmax > 5); /* the other group's 5 epochs are shown */
    /* group 0's mean at epoch 3: the mean of both runs (0.7 + 0.1), a dot */
    double px, py;
    plot_map(&a, 3, 0.8, &px, &py);
    ck_assert(same_rgb(draw_get(&im, (int)px, (int)py), plot_color(0)));
    /* right of epoch 3 nothing of group 0: no mean, band or thin line */
    int x0 = (int)px + 8, found = 0;
    for (int y = a.top; y < a.top + a.height; y++)
        for (int x = x0; x < a.left + a.width; x++) found += bluish(draw_get(&im, x, y));
    ck_assert_msg(found == 0, "%d bluish pixels after the shorter run's last epoch", found);
    /* group 1 goes on to epoch 5 */
    plot_map(&a, 5, 1.25, &px, &py);
    ck_assert(same_rgb(draw_get(&im, (int)px, (int)py), plot_color(1)));
    draw_image_free(&im);
    /* a group without runs is only a legend entry; no groups is an error */
    groups[0].n = 0;
    ck_assert_int_eq(plot_groups_image(&im, groups, 2, PLOT_ACC, 0, 0, NULL, &a, &e), ST_OK);
    draw_image_free(&im);
    ck_assert_int_eq(plot_groups_image(&im, groups, 0, PLOT_ACC, 0, 0, NULL, &a, &e), ST_ERR_ARG);
    for (int r = 0; r < 4; r++) curve_free(&c[r]);
}
END_TEST

/* Dark as the error bars' ink (the blue mean mark has g 119). */
static int inky(Rgb p)
{
    return abs(p.r - INK.r) < 55 && abs(p.g - INK.g) < 55 && abs(p.b - INK.b) < 55;
}

START_TEST(test_final_error_bars)
{
    const char *labels[2] = {"dropout 0.3/0.5, wd 1e-3", "dropout 0/0"};
    const double v0[3] = {0.84, 0.85, 0.86}, v1[1] = {0.9};
    const double *values[2] = {v0, v1};
    const int nvalues[2] = {3, 1};
    /* a made-up interval, wider than the dots */
    const Stat acc[2] = {{3, 0.85, 0.01, 0.8252, 0.8748}, {1, 0.9, NAN, NAN, NAN}};
    Image im;
    PlotAxes a;
    Err e;
    ck_assert_int_eq(plot_final_image(&im, labels, acc, values, nvalues, 2, 0, NULL, &a, &e), ST_OK);
    double xlo, xhi, xm, yc, yc1, px;
    plot_map(&a, 82.52, 0, &xlo, &yc);
    plot_map(&a, 87.48, 0, &xhi, &yc);
    plot_map(&a, 85, 0, &xm, &yc);
    plot_map(&a, 90, -1, &px, &yc1);
    ck_assert_double_eq_tol(yc, a.top + a.height / 4.0, 1e-9); /* row 0 of 2 */
    /* the bar's ink in row yc spans lo..hi */
    int first = -1, last = -1;
    for (int x = a.left; x < a.left + a.width; x++)
        if (inky(draw_get(&im, x, (int)yc))) {
            if (first < 0) first = x;
            last = x;
        }
    ck_assert_msg(abs(first - (int)xlo) <= 2 && abs(last - (int)xhi) <= 2, "bar %d..%d, interval %.1f..%.1f", first,
                  last, xlo, xhi);
    for (int x = first; x <= last; x++) /* unbroken but for the mean's mark */
        ck_assert(inky(draw_get(&im, x, (int)yc)) || fabs(x + 0.5 - xm) <= 3);
    /* the caps, the mean's mark, the dots above the bar */
    ck_assert(inky(draw_get(&im, (int)xlo, (int)yc - 5)) && inky(draw_get(&im, (int)xhi, (int)yc + 5)));
    ck_assert(same_rgb(draw_get(&im, (int)xm, (int)yc - 7), plot_color(0)));
    for (int j = 0; j < 3; j++) {
        double dx, dy;
        plot_map(&a, 100 * v0[j], 0, &dx, &dy);
        ck_assert(same_rgb(draw_get(&im, (int)dx, (int)(yc - 14 + 2.0 * (j % 3 - 1))), plot_color(0)));
    }
    /* one run: its dot and mark, no bar */
    for (int x = a.left; x < a.left + a.width; x++) ck_assert(!inky(draw_get(&im, x, (int)yc1)));
    ck_assert(same_rgb(draw_get(&im, (int)px, (int)yc1), plot_color(1)));
    /* the row chosen by validation is shaded, the other not */
    Rgb chosen = draw_get(&im, a.left + 3, (int)yc - 19), other = draw_get(&im, a.left + 3, (int)yc1 - 19);
    ck_assert(!same_rgb(chosen, WHITE) && chosen.r == 255 && chosen.b < 220);
    ck_assert(same_rgb(other, WHITE));
    draw_image_free(&im);
    /* nothing chosen: no shading; bad arguments */
    ck_assert_int_eq(plot_final_image(&im, labels, acc, values, nvalues, 2, -1, NULL, &a, &e), ST_OK);
    ck_assert(same_rgb(draw_get(&im, a.left + 3, (int)yc - 19), WHITE));
    draw_image_free(&im);
    ck_assert_int_eq(plot_final_image(&im, labels, acc, values, nvalues, 2, 2, NULL, &a, &e), ST_ERR_ARG);
    ck_assert_int_eq(plot_final_image(&im, labels, acc, values, nvalues, 0, -1, NULL, &a, &e), ST_ERR_ARG);
}
END_TEST

/* How many of the points sampled every pixel along the segment from epoch
 * 2 to 3 of values v (as shown) are bluish. */
static int bluish_along(const Image *im, const PlotAxes *a, const double *v, int *samples)
{
    double x0, y0, x1, y1;
    plot_map(a, 2, v[1], &x0, &y0);
    plot_map(a, 3, v[2], &x1, &y1);
    int n = (int)hypot(x1 - x0, y1 - y0), count = 0;
    for (int k = 6; k < n - 6; k++) { /* off the dots at the ends */
        double f = (double)k / n;
        count += bluish(draw_get(im, (int)(x0 + f * (x1 - x0)), (int)(y0 + f * (y1 - y0))));
    }
    *samples = n - 12;
    return count;
}

START_TEST(test_validation_curve)
{
    /* run 0 (blue) with validation 0.4 above its test loss, run 1 (orange) without */
    const double t0[5] = {1.0, 0.8, 0.7, 0.65, 0.6}, t1[5] = {1.1, 0.9, 0.8, 0.75, 0.7};
    double val[5];
    for (int i = 0; i < 5; i++) val[i] = t0[i] + 0.4;
    for (int with = 0; with <= 1; with++) {
        Curve c0, c1;
        make_log(&c0, 5, t0, -0.3, with, 0.4);
        make_log(&c1, 5, t1, -0.3, 0, 0);
        PlotRun runs[2] = {{"a", &c0}, {"b", &c1}};
        Image im;
        Err e;
        ck_assert_int_eq(draw_image_init(&im, 1000, 520, WHITE, &e), ST_OK);
        PlotAxes a;
        plot_curves_panel(&im, 0, 0, 1000, 520, runs, 2, PLOT_LOSS, 0, NULL, &a);
        int n, hits = bluish_along(&im, &a, val, &n);
        if (with) /* dotted: about a third of the line is ink */
            ck_assert_msg(hits >= n / 6, "validation curve: %d of %d samples bluish", hits, n);
        else
            ck_assert_msg(hits == 0, "no validation, yet %d of %d samples bluish", hits, n);
        /* the test curve is drawn either way */
        ck_assert_int_eq(bluish_along(&im, &a, t0, &n), n);
        draw_image_free(&im);
        curve_free(&c0);
        curve_free(&c1);
    }
}
END_TEST

/* Writes DIR/NAME/log.csv: three epochs. */
static void write_log(const char *dir, const char *name, char *path, size_t len)
{
    char cmd[1200];
    snprintf(path, len, "%s/%s/log.csv", dir, name);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/%s' && printf 'epoch,train_loss,train_acc,test_loss,test_acc,seconds\\n"
             "1,0.9,0.7,0.95,0.68,1\\n2,0.6,0.8,0.7,0.76,1\\n3,0.5,0.83,0.62,0.79,1\\n' > '%s'",
             dir, name, path);
    ck_assert_int_eq(system(cmd), 0);
}

static int png_width(const char *path)
{
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 3);
    ck_assert_msg(px != NULL, "%s is not a PNG", path);
    stbi_image_free(px);
    return w;
}

START_TEST(test_plot_label_cli)
{
    char *dir = make_temp_dir(), a[600], b[600], args[3000], out[4096], png[600];
    write_log(dir, "a", a, sizeof a);
    write_log(dir, "b", b, sizeof b);
    snprintf(args, sizeof args, "plot %s %s -o %s/plain.png", a, b, dir);
    expect_fmnist(args, 0, "wrote", out, sizeof out);
    snprintf(args, sizeof args,
             "plot %s %s -o %s/named.png --label 'dropout 0.3/0.5, wd 1e-3' --label 'dropout 0/0, no decay'", a, b,
             dir);
    expect_fmnist(args, 0, "wrote", out, sizeof out);
    /* the legend holds the labels, not "a" and "b": it is wider */
    snprintf(png, sizeof png, "%s/plain.png", dir);
    int plain = png_width(png);
    snprintf(png, sizeof png, "%s/named.png", dir);
    ck_assert_int_gt(png_width(png), plain + 200);
    /* one label for two logs, three for two: refused, naming --label; nothing written */
    snprintf(args, sizeof args, "plot %s %s -o %s/bad.png --label only", a, b, dir);
    expect_fmnist(args, 2, "--label", out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, "1 given for 2 logs"));
    snprintf(args, sizeof args, "plot %s %s -o %s/bad.png --label x --label y --label z", a, b, dir);
    expect_fmnist(args, 2, "--label", out, sizeof out);
    snprintf(png, sizeof png, "%s/bad.png", dir);
    ck_assert_ptr_null(fopen(png, "rb"));
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *charts_suite(void)
{
    Suite *s = suite_create("charts");
    TCase *tc = tcase_create("charts");
    tcase_add_test(tc, test_band_between_sd);
    tcase_add_test(tc, test_seed_lines);
    tcase_add_test(tc, test_group_shortest_run);
    tcase_add_test(tc, test_final_error_bars);
    tcase_add_test(tc, test_validation_curve);
    tcase_add_test(tc, test_plot_label_cli);
    suite_add_tcase(s, tc);
    return s;
}
