/* test_wdchart.c - the weight-decay experiment's one figure and its folder
 * (issue 18): the loss panels share one y range (wdchart_loss_range), the
 * histogram's bins (every weight counted once, L1's zero bin taller than
 * no penalty's), the range of the histogram, the norm panel's lines passing
 * through the per-epoch norms, the names of the demo's own files; through
 * the binary: the figure and the CSV written, the norms of the figure those
 * of wd-demo.csv, a folder holding a demo refused, --overwrite removing the
 * earlier demo's stale charts and nothing else (links are not followed). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>

#include "report/draw.h"
#include "report/plot.h"
#include "report/wdchart.h"
#include "testutil.h"
#include "train/wddemo.h"
#include "util/fileio.h"
#include "util/rng.h"

static char out[1 << 16];

/* ---- pure parts ---- */

/* Three runs of 4 epochs with losses of different spans. */
static const double TR[3][4] = {{1, 0.1, 0.01, 1e-4}, {2, 1, 0.5, 0.3}, {5, 4, 3, 2}};
static const double TE[3][4] = {{3, 3, 3.5, 4}, {2.5, 1.5, 1, 0.7}, {6, 5, 4, 300}};
static const double NORM[3][4] = {{10, 10, 10, 10}, {10, 5, 2, 1}, {10, 3, 0.3, 0.05}};
static double W[3][8] = {{-2, 1.5, 0.7, -0.3, 3, 0.01, -1, 2},
                         {0.2, -0.1, 0.05, 0.02, -0.03, 0.01, 0.3, -0.25},
                         {0, 0, 0.001, -0.002, 0, 0.04, 0, 0}};

static void three_runs(WdChartRun r[3])
{
    static const char *const L[3] = {"none", "L2", "L1"};
    for (int k = 0; k < 3; k++)
        r[k] = (WdChartRun){L[k], 4, TR[k], TE[k], NORM[k], W[k], 8, k > 0};
}

START_TEST(test_loss_range_shared)
{
    WdChartRun r[3];
    three_runs(r);
    double lo, hi;
    wdchart_loss_range(r, 3, &lo, &hi);
    /* covers every loss of every run (1e-4 .. 300), padded on a log axis */
    ck_assert(lo < 1e-4 && lo > 1e-5);
    ck_assert(hi > 300 && hi < 3000);
    double l0 = log10(1e-4), l1 = log10(300), pad = 0.06 * (l1 - l0);
    ck_assert_double_eq_tol(log10(lo), l0 - pad, 1e-9);
    ck_assert_double_eq_tol(log10(hi), l1 + pad, 1e-9);
    /* one run alone has another range: the sharing is what makes them equal */
    double lo1, hi1;
    wdchart_loss_range(&r[1], 1, &lo1, &hi1);
    ck_assert(lo1 > 0.2 && hi1 < 3);
    /* every panel of the figure uses the shared one */
    Image im;
    WdChartAxes ax;
    Err e;
    WdChartText t = {"title", "subtitle", 0.01};
    ck_assert_int_eq(wdchart_draw(&im, r, 3, &t, &ax, &e), ST_OK);
    for (int k = 0; k < 3; k++) {
        ck_assert(ax.loss[k].logy);
        ck_assert_double_eq(ax.loss[k].ymin, lo);
        ck_assert_double_eq(ax.loss[k].ymax, hi);
        ck_assert_int_eq(ax.loss[k].top, ax.loss[0].top);
        ck_assert_int_eq(ax.loss[k].height, ax.loss[0].height);
        if (k) ck_assert_int_gt(ax.loss[k].left, ax.loss[k - 1].left + ax.loss[k - 1].width);
    }
    /* the norm panel and the histogram below the loss panels, side by side */
    ck_assert_int_gt(ax.norm.top, ax.loss[0].top + ax.loss[0].height);
    ck_assert_int_eq(ax.hist.top, ax.norm.top);
    ck_assert_int_gt(ax.hist.left, ax.norm.left + ax.norm.width);
    ck_assert(ax.hist.left + ax.hist.width <= im.w && ax.norm.top + ax.norm.height <= im.h);
    draw_image_free(&im);
    /* nothing drawable: a default range; bad arguments refused */
    double nanv[4] = {NAN, -1, 0, INFINITY};
    WdChartRun bad = {"x", 4, nanv, nanv, NORM[0], W[0], 8, 0};
    wdchart_loss_range(&bad, 1, &lo, &hi);
    ck_assert_double_eq(lo, 0.1);
    ck_assert_double_eq(hi, 1);
    ck_assert_int_eq(wdchart_draw(&im, r, 0, &t, NULL, &e), ST_ERR_ARG);
    ck_assert_int_eq(wdchart_draw(&im, r, WDCHART_MAX + 1, &t, NULL, &e), ST_ERR_ARG);
    bad.w = NULL;
    ck_assert_int_eq(wdchart_draw(&im, &bad, 1, &t, NULL, &e), ST_ERR_ARG);
}
END_TEST

START_TEST(test_histogram_bins)
{
    long c[WDCHART_BINS], below, above;
    const double R = 0.1, h = R / WDCHART_HALF_BINS;
    /* bin k holds [(k-HALF-0.5)h, (k-HALF+0.5)h): 0 and -h/2 in the middle, h/2 in the next */
    double v[] = {0, -h / 2, h / 2, 0.99 * h / 2, -R, R, (WDCHART_HALF_BINS + 0.5) * h, -(WDCHART_HALF_BINS + 0.5) * h,
                  -(WDCHART_HALF_BINS + 0.51) * h, 5, -5, NAN};
    int n = (int)(sizeof v / sizeof v[0]);
    wdchart_histogram(v, n, R, c, &below, &above);
    ck_assert_int_eq(c[WDCHART_HALF_BINS], 3); /* 0, -h/2, 0.99 h/2 */
    ck_assert_int_eq(c[WDCHART_HALF_BINS + 1], 1);
    ck_assert_int_eq(c[0], 2); /* -R and the first bin's left edge */
    ck_assert_int_eq(c[WDCHART_BINS - 1], 1);
    ck_assert_int_eq(below, 2);
    ck_assert_int_eq(above, 3); /* its end, 5 and NaN */
    long sum = below + above;
    for (int b = 0; b < WDCHART_BINS; b++) sum += c[b];
    ck_assert_int_eq(sum, n);

    /* synthetic weights: no penalty ~ N(0, 1); L1 mostly exactly 0, a few small */
    enum { N = 2000 };
    double *none = malloc(N * sizeof *none), *l1 = malloc(N * sizeof *l1);
    Rng g;
    rng_seed(&g, 5);
    for (int i = 0; i < N; i++) {
        none[i] = rng_normal(&g);
        l1[i] = i % 10 == 0 ? 0.05 * rng_normal(&g) : 0.0;
    }
    long cn[WDCHART_BINS], cl[WDCHART_BINS], bn, an, bl, al;
    wdchart_histogram(none, N, 1.0, cn, &bn, &an);
    wdchart_histogram(l1, N, 1.0, cl, &bl, &al);
    long sn = bn + an, sl = bl + al;
    for (int b = 0; b < WDCHART_BINS; b++) sn += cn[b], sl += cl[b];
    ck_assert_int_eq(sn, N);
    ck_assert_int_eq(sl, N);
    ck_assert_int_gt(cl[WDCHART_HALF_BINS], 5 * cn[WDCHART_HALF_BINS]);
    ck_assert_int_ge(cl[WDCHART_HALF_BINS], N * 9 / 10);
    ck_assert_int_gt(bn + an, 0); /* N(0,1) beyond +-1.025 */
    free(none);
    free(l1);
}
END_TEST

START_TEST(test_histogram_range)
{
    WdChartRun r[3];
    three_runs(r);
    /* the penalized runs' largest |w| is 0.3: R = 0.3; none's 3 is beyond */
    ck_assert_double_eq_tol(wdchart_hist_range(r, 3), 0.3, 1e-12);
    W[1][6] = 0.31;
    ck_assert_double_eq_tol(wdchart_hist_range(r, 3), 0.5, 1e-12);
    W[1][6] = 0.3;
    ck_assert_double_eq_tol(wdchart_hist_range(&r[2], 1), 0.05, 1e-12);
    ck_assert_double_eq_tol(wdchart_hist_range(&r[0], 1), 3, 1e-12); /* none penalized: all */
    r[1].penalized = r[2].penalized = 0;
    W[0][4] = 3.5;
    ck_assert_double_eq_tol(wdchart_hist_range(r, 3), 5, 1e-12);
    W[0][4] = 3;
    double zero[2] = {0, NAN};
    WdChartRun z = {"z", 4, TR[0], TE[0], NORM[0], zero, 2, 1};
    ck_assert_double_eq(wdchart_hist_range(&z, 1), 1);
    double exact[1] = {-0.2};
    z.w = exact, z.nw = 1;
    ck_assert_double_eq_tol(wdchart_hist_range(&z, 1), 0.2, 1e-12);
    exact[0] = 0.0021;
    ck_assert_double_eq_tol(wdchart_hist_range(&z, 1), 0.003, 1e-15);
    exact[0] = 7e-4;
    ck_assert_double_eq_tol(wdchart_hist_range(&z, 1), 1e-3, 1e-15);
}
END_TEST

static Rgb pixel(const unsigned char *px, int w, int x, int y)
{
    const unsigned char *p = px + ((size_t)y * w + x) * 3;
    return (Rgb){p[0], p[1], p[2]};
}

static int near_rgb(Rgb a, Rgb b, int tol)
{
    return abs(a.r - b.r) <= tol && abs(a.g - b.g) <= tol && abs(a.b - b.b) <= tol;
}

/* For runs with norms nrm[k][0..epochs): at each epoch of the last 40
 * where the runs' lines are at least 10 pixels apart, the pixel under
 * (epoch, norm) has the run's colour. Returns how many points matched. */
static int norms_on_lines(const unsigned char *px, int w, const PlotAxes *a, const double *const *nrm, int nruns,
                          int epochs)
{
    int checked = 0;
    for (int ep = epochs > 40 ? epochs - 40 : 1; ep <= epochs; ep++) {
        double qx[WDCHART_MAX], qy[WDCHART_MAX];
        for (int k = 0; k < nruns; k++) plot_map(a, ep, nrm[k][ep - 1], &qx[k], &qy[k]);
        for (int k = 0; k < nruns; k++) {
            int alone = 1;
            for (int j = 0; j < nruns; j++)
                if (j != k && fabs(qy[j] - qy[k]) < 10) alone = 0;
            if (!alone) continue;
            Rgb got = pixel(px, w, (int)qx[k], (int)qy[k]);
            ck_assert_msg(near_rgb(got, plot_color(k), 40), "run %d epoch %d: (%d,%d,%d) at %d,%d", k, ep, got.r,
                          got.g, got.b, (int)qx[k], (int)qy[k]);
            checked++;
        }
    }
    return checked;
}

/* The demo's three trainings with the default settings. */
static void demo_runs(WdDemoResult res[3], WdChartRun runs[3])
{
    WdDemoConfig c = wddemo_defaults();
    Err e;
    static const char *const L[3] = {"none", "L2", "L1"};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(wddemo_run(&c, k == 2 ? WD_PENALTY_L1 : WD_PENALTY_L2, k ? 3.0 : 0.0, &res[k], &e), ST_OK);
        runs[k] = (WdChartRun){L[k], res[k].epochs, res[k].train_loss, res[k].test_loss, res[k].w_norm, res[k].w,
                               res[k].dim, k > 0};
    }
}

START_TEST(test_figure_of_the_demo)
{
    WdDemoResult res[3];
    WdChartRun runs[3];
    demo_runs(res, runs);
    ck_assert_int_eq(res[0].dim, 200);
    Image im;
    WdChartAxes ax;
    Err e;
    WdChartText t = {"title", "subtitle", WDDEMO_TRUE_W};
    ck_assert_int_eq(wdchart_draw(&im, runs, 3, &t, &ax, &e), ST_OK);
    const double *nrm[3] = {res[0].w_norm, res[1].w_norm, res[2].w_norm};
    ck_assert_int_ge(norms_on_lines(im.px, im.w, &ax.norm, nrm, 3, res[0].epochs), 60);
    /* every run's norm inside the panel's range, and the true norm 0.01 sqrt(200) */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < res[k].epochs; i++)
            ck_assert(res[k].w_norm[i] > ax.norm.ymin && res[k].w_norm[i] < ax.norm.ymax);
    ck_assert(0.01 * sqrt(200.0) > ax.norm.ymin);
    /* the histogram: every penalized weight on the axis; L1's zero bin the tallest, shown in its colour */
    ck_assert(ax.hist_range >= 0.08 && ax.hist_range <= 0.1);
    long c[3][WDCHART_BINS], below, above;
    for (int k = 0; k < 3; k++) {
        wdchart_histogram(res[k].w, res[k].dim, ax.hist_range, c[k], &below, &above);
        if (k) ck_assert_int_eq(below + above, 0);
        else ck_assert_int_gt(below + above, 100); /* no penalty: most weights far out */
    }
    const int mid = WDCHART_HALF_BINS;
    ck_assert_int_gt(c[2][mid], 2 * c[1][mid]);
    ck_assert_int_gt(c[2][mid], c[0][mid]);
    double qx, qtop, qlow;
    plot_map(&ax.hist, 0, (double)c[2][mid], &qx, &qtop);
    plot_map(&ax.hist, 0, fmax((double)c[1][mid], 1.0), &qx, &qlow);
    Rgb got = draw_get(&im, (int)qx, (int)((qtop + qlow) / 2));
    ck_assert_msg(got.g > got.r + 15 && got.g > got.b + 15, "L1's bar at 0: (%d,%d,%d)", got.r, got.g, got.b);
    draw_image_free(&im);
    for (int k = 0; k < 3; k++) wddemo_result_free(&res[k]);
}
END_TEST

START_TEST(test_own_names)
{
    const char *yes[] = {"wd-demo.csv", "wd-demo.png", "wd-demo.svg", "wd-l1.png", "wd-lambda0.png",
                         "wd-lambda3.png", "wd-lambda0.5.png", "wd-lambda1e-05.png", "wd-lambda1000.png"};
    const char *no[] = {"wd-demo.csv~", "notes.txt", "wd-lambda.png", "wd-lambdax.png", "wd-lambda3.jpg",
                        "wd-lambda-3.png", "wd-lambda3.png.bak", "wd-lambda3 .png", "model.fmw", "wd-l2.png",
                        "wd-lambdanan.png", "wd-lambdainf.png", ".wd-demo.png"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) ck_assert_msg(wddemo_own_name(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) ck_assert_msg(!wddemo_own_name(no[i]), "%s", no[i]);
}
END_TEST

/* ---- through the binary ---- */

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

START_TEST(test_binary_figure_and_log)
{
    char *dir = make_temp_dir(), args[4400], path[4400];
    snprintf(args, sizeof args, "wd-demo --out %s/wd", dir);
    int rc = run_fmnist(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert(strstr(out, "wd-demo.png") && strstr(out, "wd-demo.csv"));
    ck_assert(!strstr(out, "removed"));
    snprintf(path, sizeof path, "%s/wd/wd-lambda3.png", dir);
    ck_assert(!file_exists(path)); /* the one figure replaces the three charts */
    /* the CSV: 3 x 100 rows */
    snprintf(path, sizeof path, "%s/wd/wd-demo.csv", dir);
    char *csv = slurp(path);
    ck_assert_ptr_nonnull(csv);
    static double nrm[3][100];
    int rows = 0;
    char *line = strchr(csv, '\n');
    while (line && line[1]) {
        char set[16];
        int ep;
        double tr, te, wn;
        ck_assert_int_eq(sscanf(line + 1, "%15[^,],%d,%lf,%lf,%lf", set, &ep, &tr, &te, &wn), 5);
        int k = !strcmp(set, "none") ? 0 : !strcmp(set, "l2") ? 1 : 2;
        ck_assert(ep >= 1 && ep <= 100);
        nrm[k][ep - 1] = wn;
        rows++;
        line = strchr(line + 1, '\n');
    }
    ck_assert_int_eq(rows, 300);
    free(csv);
    /* the figure's norm panel passes through the CSV's norms (the layout from the library) */
    WdDemoResult res[3];
    WdChartRun runs[3];
    demo_runs(res, runs);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 100; i++) ck_assert_double_eq_tol(nrm[k][i], res[k].w_norm[i], 1e-8 * res[k].w_norm[i]);
    Image im;
    WdChartAxes ax;
    Err e;
    WdChartText t = {"title", "subtitle", WDDEMO_TRUE_W};
    ck_assert_int_eq(wdchart_draw(&im, runs, 3, &t, &ax, &e), ST_OK);
    snprintf(path, sizeof path, "%s/wd/wd-demo.png", dir);
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 3);
    ck_assert_ptr_nonnull(px);
    ck_assert_int_eq(w, im.w);
    ck_assert_int_eq(h, im.h);
    const double *np[3] = {nrm[0], nrm[1], nrm[2]};
    ck_assert_int_ge(norms_on_lines(px, w, &ax.norm, np, 3, 100), 60);
    stbi_image_free(px);
    draw_image_free(&im);
    for (int k = 0; k < 3; k++) wddemo_result_free(&res[k]);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_binary_refuses_and_overwrites)
{
    char *dir = make_temp_dir(), args[4400], p[4400], q[4400];
    /* a folder with other files only is fine */
    snprintf(p, sizeof p, "%s/wd", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/wd/notes.txt", dir);
    put(p, "mine\n");
    snprintf(args, sizeof args, "wd-demo --out %s/wd", dir);
    expect_fmnist(args, 0, "wrote", out, sizeof out);
    /* again: refused, nothing changed */
    snprintf(p, sizeof p, "%s/wd/wd-demo.csv", dir);
    put(p, "sentinel\n");
    expect_fmnist(args, 1, "already holds a demo", out, sizeof out);
    ck_assert(strstr(out, "--overwrite"));
    ck_assert(strstr(out, "wd-demo."));
    char *s = slurp(p);
    ck_assert_str_eq(s, "sentinel\n");
    free(s);
    /* an earlier version's charts alone are a demo too */
    snprintf(p, sizeof p, "%s/old", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/old/wd-lambda0.png", dir);
    put(p, "old chart\n");
    snprintf(args, sizeof args, "wd-demo --out %s/old", dir);
    expect_fmnist(args, 1, "wd-lambda0.png", out, sizeof out);
    /* stale charts of other settings, a link and a folder of own names, other files */
    static const char *const STALE[] = {"wd-lambda0.png", "wd-lambda0.5.png", "wd-l1.png", "wd-demo.svg"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/wd/%s", dir, STALE[i]);
        put(p, "stale\n");
    }
    snprintf(q, sizeof q, "%s/target.png", dir);
    put(q, "not the demo's\n");
    snprintf(p, sizeof p, "%s/wd/wd-lambda7.png", dir);
    ck_assert_int_eq(symlink(q, p), 0);
    snprintf(p, sizeof p, "%s/wd/wd-lambda9.png", dir);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    snprintf(args, sizeof args, "wd-demo --out %s/wd --overwrite", dir);
    expect_fmnist(args, 0, "removed 4 files of the earlier demo", out, sizeof out);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/wd/%s", dir, STALE[i]);
        ck_assert_msg(!file_exists(p), "%s stayed", p);
    }
    struct stat sb;
    snprintf(p, sizeof p, "%s/wd/wd-lambda7.png", dir);
    ck_assert_int_eq(lstat(p, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    s = slurp(q);
    ck_assert_str_eq(s, "not the demo's\n");
    free(s);
    snprintf(p, sizeof p, "%s/wd/wd-lambda9.png", dir);
    ck_assert_int_eq(lstat(p, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    snprintf(p, sizeof p, "%s/wd/notes.txt", dir);
    s = slurp(p);
    ck_assert_str_eq(s, "mine\n");
    free(s);
    snprintf(p, sizeof p, "%s/wd/wd-demo.csv", dir);
    s = slurp(p);
    ck_assert(!strncmp(s, "setting,epoch,", 14)); /* the sentinel replaced */
    free(s);
    /* again with --overwrite: nothing stale left to remove */
    expect_fmnist(args, 0, "wrote", out, sizeof out);
    ck_assert(!strstr(out, "removed"));
    /* a link where the figure goes is not replaced, even with --overwrite */
    snprintf(p, sizeof p, "%s/wd/wd-demo.png", dir);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(symlink(q, p), 0);
    expect_fmnist(args, 1, "is not a regular file (a symbolic link)", out, sizeof out);
    s = slurp(q);
    ck_assert_str_eq(s, "not the demo's\n");
    free(s);
    ck_assert_int_eq(lstat(p, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *wdchart_suite(void)
{
    Suite *s = suite_create("wdchart");
    TCase *tc = tcase_create("chart");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_loss_range_shared);
    tcase_add_test(tc, test_histogram_bins);
    tcase_add_test(tc, test_histogram_range);
    tcase_add_test(tc, test_figure_of_the_demo);
    tcase_add_test(tc, test_own_names);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, test_binary_figure_and_log);
    tcase_add_test(cli, test_binary_refuses_and_overwrites);
    suite_add_tcase(s, cli);
    return s;
}
