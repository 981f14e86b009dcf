/* test_plot.c - the figures: the TrueType font, line and text drawing, the
 * data-to-pixel mapping and tick choice, a chart's pixels at known data
 * points, PNG files that stb_image decodes back to the same pixels, the
 * confusion heat map, and the log.csv reader the charts use. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "report/curve.h"
#include "report/draw.h"
#include "report/font.h"
#include "report/plot.h"
#include "testutil.h"

static const Rgb WHITE = {255, 255, 255};

static int same_rgb(Rgb a, Rgb b)
{
    return a.r == b.r && a.g == b.g && a.b == b.b;
}

/* The ink of a drawn text: pixels that are not white, their bounding box,
 * and how many are partly covered (neither white nor the full colour). */
typedef struct {
    int n, partial, x0, y0, x1, y1;
} Ink;

static Ink ink_of(const Image *im, int x0, int y0, int x1, int y1, Rgb full)
{
    Ink k = {0, 0, 1 << 30, 1 << 30, -1, -1};
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            Rgb p = draw_get(im, x, y);
            if (same_rgb(p, WHITE)) continue;
            k.n++, k.partial += !same_rgb(p, full);
            if (x < k.x0) k.x0 = x;
            if (y < k.y0) k.y0 = y;
            if (x > k.x1) k.x1 = x;
            if (y > k.y1) k.y1 = y;
        }
    return k;
}

START_TEST(test_truetype_font)
{
    Font *f;
    Err e;
    ck_assert_int_eq(font_load(&f, &e), ST_OK);
    /* widths scale with the size; kerning aside, "ab" is "a" plus "b" */
    ck_assert_double_eq_tol(font_width(f, "Hello", 40), 2 * font_width(f, "Hello", 20), 1e-9);
    ck_assert(font_width(f, "Hello", 20) > 40 && font_width(f, "Hello", 20) < 80);
    ck_assert_double_eq(font_width(f, "", 20), 0);
    ck_assert(font_ascent(f, 20) > 15 && font_descent(f, 20) > 2);
    ck_assert_int_eq(font_line_height(f, 20), (int)ceil(font_ascent(f, 20) + font_descent(f, 20)));
    ck_assert_str_eq(font_path(f), FONT_DEFAULT_PATH);
    font_free(f);
    /* UTF-8: an arrow is one character, a stray byte '?' */
    const char *s = "a\xe2\x86\x92\xff";
    ck_assert_uint_eq(font_utf8_next(&s), 'a');
    ck_assert_uint_eq(font_utf8_next(&s), 0x2192);
    ck_assert_uint_eq(font_utf8_next(&s), '?');
    ck_assert_uint_eq(font_utf8_next(&s), 0);
    /* $FMNIST_FONT chooses the file; a missing one names it and the package, a
     * file that is no font is refused */
    setenv("FMNIST_FONT", "/nonexistent/Font.ttf", 1);
    ck_assert_int_ne(font_load(&f, &e), ST_OK);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/Font.ttf"));
    ck_assert_ptr_nonnull(strstr(e.msg, "fonts-dejavu-core"));
    Image im;
    ck_assert_int_ne(draw_image_init(&im, 10, 10, WHITE, &e), ST_OK); /* no font, no image */
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/Font.ttf"));
    char *dir = make_temp_dir(), path[600];
    snprintf(path, sizeof path, "%s/not-a-font.ttf", dir);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs("this is not a TrueType font, only some text of fair length\n", fp);
    fclose(fp);
    setenv("FMNIST_FONT", path, 1);
    ck_assert_int_eq(font_load(&f, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "not a TrueType font"));
    setenv("FMNIST_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 1);
    ck_assert_int_eq(font_load(&f, &e), ST_OK);
    ck_assert_str_eq(font_path(f), "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf");
    font_free(f);
    unsetenv("FMNIST_FONT");
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_draw_text_and_line)
{
    Image im;
    Err e;
    ck_assert_int_eq(draw_image_init(&im, 160, 100, WHITE, &e), ST_OK);
    Rgb red = {200, 0, 0};
    /* 40 px text: 'H' is as tall as the font's capitals (0.73 em: 29 px), its
     * top where the ascent says, antialiased (partly covered pixels at its
     * edges), and nothing outside its line box */
    draw_text(&im, 10, 5, "H", 40, red);
    Ink k = ink_of(&im, 0, 0, 80, 100, red);
    ck_assert_int_ge(k.y1 - k.y0 + 1, 28);
    ck_assert_int_le(k.y1 - k.y0 + 1, 31);
    ck_assert_int_ge(k.x0, 10);
    ck_assert_int_le(k.x1, 10 + draw_text_width(&im, "H", 40));
    ck_assert_int_ge(k.y0, 5);
    ck_assert_int_le(k.y1, 5 + draw_text_ascent(&im, 40));
    ck_assert_int_gt(k.n - k.partial, 200); /* the stems are solid */
    ck_assert_int_gt(k.partial, 4);
    /* turned: 'H' upright becomes a wide mark in the box at (100, 5) */
    draw_text_up(&im, 100, 5, "H", 40, red);
    Ink u = ink_of(&im, 90, 0, 160, 100, red);
    ck_assert_int_ge(u.x1 - u.x0 + 1, 28);
    ck_assert_int_ge(u.x0, 100);
    ck_assert_int_lt(u.x1, 100 + draw_text_height(&im, 40));
    ck_assert_int_ge(u.y0, 5);
    ck_assert_int_le(u.y1, 5 + draw_text_width(&im, "H", 40));
    ck_assert_int_eq(draw_text_width(&im, "", 20), 0);
    draw_image_free(&im);

    ck_assert_int_eq(draw_image_init(&im, 80, 40, WHITE, &e), ST_OK);
    Rgb blue = {0, 0, 255};
    /* a 3-pixel line along row 10's centre: rows 9..11 fully covered, 13 untouched */
    draw_line(&im, 5, 10.5, 70, 10.5, 3.0, blue, 0, 0, NULL);
    for (int y = 9; y <= 11; y++) ck_assert(same_rgb(draw_get(&im, 40, y), blue));
    ck_assert(same_rgb(draw_get(&im, 40, 13), WHITE));
    /* dashed: 6 on, 4 off from x = 5, along row 30 */
    double phase = 0;
    draw_line(&im, 5, 30.5, 75, 30.5, 1.0, blue, 6, 4, &phase);
    ck_assert_double_eq_tol(phase, 70, 1e-9);
    ck_assert(same_rgb(draw_get(&im, 7, 30), blue));  /* 2.5 into the first dash */
    ck_assert(same_rgb(draw_get(&im, 13, 30), WHITE)); /* 8.5: in the first gap */
    ck_assert(same_rgb(draw_get(&im, 17, 30), blue)); /* 12.5: the second dash */
    /* clipping: shapes partly or wholly outside the image are fine */
    draw_line(&im, -50, -50, 500, 500, 4, blue, 0, 0, NULL);
    draw_disc(&im, 1000, 1000, 5, blue);
    draw_text(&im, 75, 35, "clipped", 3, blue);
    draw_image_free(&im);
    ck_assert_int_eq(draw_image_init(&im, 0, 5, WHITE, &e), ST_ERR_ARG);
}
END_TEST

START_TEST(test_map_and_ticks)
{
    PlotAxes a = {.left = 100, .top = 50, .width = 600, .height = 400, .xmin = 1, .xmax = 10, .ymin = 0, .ymax = 2};
    double px, py;
    plot_map(&a, 1, 0, &px, &py);
    ck_assert_double_eq_tol(px, 100, 1e-9);
    ck_assert_double_eq_tol(py, 450, 1e-9);
    plot_map(&a, 10, 2, &px, &py);
    ck_assert_double_eq_tol(px, 700, 1e-9);
    ck_assert_double_eq_tol(py, 50, 1e-9);
    plot_map(&a, 5.5, 0.5, &px, &py);
    ck_assert_double_eq_tol(px, 400, 1e-9);
    ck_assert_double_eq_tol(py, 350, 1e-9);
    a.logy = 1, a.ymin = 0.01, a.ymax = 10; /* three decades over 400 pixels */
    plot_map(&a, 1, 1, &px, &py);
    ck_assert_double_eq_tol(py, 50 + 400.0 / 3, 1e-9);
    plot_map(&a, 1, 0.1, &px, &py);
    ck_assert_double_eq_tol(py, 50 + 800.0 / 3, 1e-9);
    plot_map(&a, 1, 0, &px, &py); /* no log of 0: the bottom edge */
    ck_assert_double_eq_tol(py, 450, 1e-9);

    double t[64];
    int n = plot_ticks(0, 1, 0, 0, 5, t, 64);
    ck_assert_int_eq(n, 6);
    for (int i = 0; i < n; i++) ck_assert_double_eq_tol(t[i], 0.2 * i, 1e-12);
    n = plot_ticks(0.51, 0.93, 0, 0, 5, t, 64); /* step 0.1 from 0.6 */
    ck_assert_int_eq(n, 4);
    ck_assert_double_eq_tol(t[0], 0.6, 1e-12);
    ck_assert_double_eq_tol(t[3], 0.9, 1e-12);
    n = plot_ticks(0.7, 10.3, 0, 1, 10, t, 64); /* whole numbers: epochs */
    ck_assert_int_eq(n, 10);
    ck_assert_double_eq(t[0], 1);
    ck_assert_double_eq(t[9], 10);
    n = plot_ticks(0.7, 30.3, 0, 1, 10, t, 64);
    ck_assert_double_eq(t[1] - t[0], 5);
    n = plot_ticks(0.015, 3, 1, 0, 8, t, 64); /* two decades: 1-2-5 */
    double want[] = {0.02, 0.05, 0.1, 0.2, 0.5, 1, 2};
    ck_assert_int_eq(n, 7);
    for (int i = 0; i < n; i++) ck_assert_double_eq_tol(t[i], want[i], 1e-12);
    n = plot_ticks(1e-6, 1e3, 1, 0, 6, t, 64); /* nine decades: powers of ten, every other */
    ck_assert(n >= 2 && n <= 6);
    for (int i = 1; i < n; i++) ck_assert_double_eq_tol(t[i] / t[i - 1], 100, 1e-6);
    n = plot_ticks(0.3, 0.6, 1, 0, 6, t, 64); /* under a decade: linear ticks on the log axis */
    ck_assert(n >= 3);
    ck_assert_double_eq(plot_ticks(2, 2, 0, 0, 5, t, 64), 1);
}
END_TEST

/* A curve of n epochs with the given test losses (train = test + 0.1). */
static void make_curve(Curve *c, int n, const double *test_loss)
{
    char text[4096] = "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n";
    for (int i = 0; i < n; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%.6f,0.5,%.6f,%.6f,1.0\n", i + 1,
                 test_loss[i] + 0.1, test_loss[i], 0.5 + 0.04 * i);
    Err e;
    ck_assert_int_eq(curve_parse("mem", text, c, &e), ST_OK);
}

START_TEST(test_chart_pixels)
{
    double l1[] = {1.0, 0.6, 0.45, 0.4, 0.38}, l2[] = {0.9, 0.7, 0.65, 0.63, 0.62};
    Curve c1, c2;
    make_curve(&c1, 5, l1);
    make_curve(&c2, 5, l2);
    PlotRun runs[2] = {{"first", &c1}, {"second", &c2}};
    Image im;
    Err e;
    ck_assert_int_eq(draw_image_init(&im, 900, 520, WHITE, &e), ST_OK);
    PlotAxes a;
    plot_curves_panel(&im, 0, 0, 900, 520, runs, 2, PLOT_LOSS, 0, NULL, &a);
    /* the data area holds every point, with a margin */
    ck_assert(a.xmin < 1 && a.xmax > 5 && a.ymin < 0.38 && a.ymax > 1.1);
    ck_assert(a.left > 50 && a.left + a.width < 900 && a.top > 20 && a.top + a.height < 520);
    /* each test point is a dot of its run's colour, centred where plot_map says */
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 5; i++) {
            double px, py;
            plot_map(&a, i + 1, runs[r].curve->test_loss[i], &px, &py);
            Rgb got = draw_get(&im, (int)px, (int)py);
            ck_assert_msg(same_rgb(got, plot_color(r)), "run %d epoch %d at (%d,%d): (%d,%d,%d)", r, i + 1, (int)px,
                          (int)py, got.r, got.g, got.b);
        }
    /* midway between two test points of run 0 lies its line */
    double x0, y0, x1, y1;
    plot_map(&a, 3, l1[2], &x0, &y0);
    plot_map(&a, 4, l1[3], &x1, &y1);
    ck_assert(same_rgb(draw_get(&im, (int)((x0 + x1) / 2), (int)((y0 + y1) / 2)), plot_color(0)));
    /* no curve far from the data: the top-left of the data area is background or grid */
    Rgb bg = draw_get(&im, a.left + 3, a.top + 3);
    ck_assert(bg.r == bg.g && bg.g == bg.b && bg.r > 200);
    /* the title is ink at the top */
    int ink = 0;
    for (int x = 0; x < 900; x++)
        for (int y = 10; y < 40; y++) ink += draw_get(&im, x, y).r < 100;
    ck_assert(ink > 100);
    /* a log axis maps the same points by log10 */
    draw_fill_rect(&im, 0, 0, 900, 520, WHITE);
    plot_curves_panel(&im, 0, 0, 900, 520, runs, 2, PLOT_LOSS, 1, NULL, &a);
    ck_assert(a.logy);
    double px, py;
    plot_map(&a, 2, l1[1], &px, &py);
    ck_assert_double_eq_tol(py, a.top + a.height * (log10(a.ymax) - log10(0.6)) / (log10(a.ymax) - log10(a.ymin)),
                            1e-9);
    ck_assert(same_rgb(draw_get(&im, (int)px, (int)py), plot_color(0)));
    draw_image_free(&im);
    curve_free(&c1);
    curve_free(&c2);
}
END_TEST

START_TEST(test_png_round_trip)
{
    char *dir = make_temp_dir();
    char path[600];
    Image im;
    Err e;
    ck_assert_int_eq(draw_image_init(&im, 123, 45, WHITE, &e), ST_OK);
    draw_fill_rect(&im, 10, 5, 20, 10, (Rgb){12, 34, 56});
    draw_text(&im, 40, 10, "fmnist", 14, (Rgb){200, 0, 0});
    snprintf(path, sizeof path, "%s/a.png", dir);
    ck_assert_int_eq(plot_write_png(&im, path, &e), ST_OK);
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 3);
    ck_assert_ptr_nonnull(px);
    ck_assert_int_eq(w, 123);
    ck_assert_int_eq(h, 45);
    ck_assert_int_eq(comp, 3);
    ck_assert_int_eq(memcmp(px, im.px, (size_t)w * h * 3), 0); /* PNG is lossless */
    stbi_image_free(px);
    draw_image_free(&im);
    /* a chart file: two panels of one run */
    double l[] = {0.9, 0.5, 0.4};
    Curve c;
    make_curve(&c, 3, l);
    PlotRun run = {"run", &c};
    PlotMetric m[2] = {PLOT_LOSS, PLOT_ACC};
    snprintf(path, sizeof path, "%s/curves.png", dir);
    ck_assert_int_eq(plot_curves_png(path, &run, 1, m, 2, 0, NULL, &e), ST_OK);
    px = stbi_load(path, &w, &h, &comp, 3);
    ck_assert_ptr_nonnull(px);
    ck_assert_int_eq(w, 1600);
    ck_assert_int_eq(h, 520);
    stbi_image_free(px);
    curve_free(&c);
    /* an unwritable path is an I/O error naming it */
    ck_assert_int_eq(plot_curves_png("/nonexistent/dir/x.png", &run, 0, m, 1, 0, NULL, &e), ST_ERR_ARG);
    make_curve(&c, 3, l);
    ck_assert_int_eq(plot_curves_png("/nonexistent/dir/x.png", &run, 1, m, 1, 0, NULL, &e), ST_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/dir/x.png"));
    curve_free(&c);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_confusion_heat_map)
{
    long cm[9] = {50, 0, 0, 5, 40, 5, 0, 10, 40};
    const char *names[3] = {"one", "two", "three"};
    Image im;
    Err e;
    ck_assert_int_eq(plot_confusion(cm, 3, names, NULL, &im, &e), ST_OK);
    ck_assert(im.w > 3 * 60 && im.h > 3 * 60);
    /* a full-row cell is the darkest blue, an empty one white (its "0" aside) */
    int found_dark = 0, found_white = 0;
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w; x++) {
            Rgb p = draw_get(&im, x, y);
            found_dark += p.r == 8 && p.g == 48 && p.b == 107;
            found_white += p.r == 255 && p.g == 255 && p.b == 255;
        }
    ck_assert(found_dark > 1000 && found_white > 1000);
    draw_image_free(&im);
    ck_assert_int_eq(plot_confusion(cm, 0, names, NULL, &im, &e), ST_ERR_ARG);
}
END_TEST

START_TEST(test_curve_reader)
{
    Curve c;
    Err e;
    const char *good = "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"
                       "1,0.5,0.8,0.45,0.82,1.5\n2,0.4,0.85,0.41,0.84,1.25\n";
    ck_assert_int_eq(curve_parse("g.csv", good, &c, &e), ST_OK);
    ck_assert_int_eq(c.n, 2);
    ck_assert_double_eq(c.test_acc[1], 0.84);
    ck_assert_double_eq(c.seconds[0], 1.5);
    curve_free(&c);
    ck_assert_int_eq(curve_parse("h.csv", "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n", &c, &e), ST_OK);
    ck_assert_int_eq(c.n, 0);
    curve_free(&c);
    struct {
        const char *text, *word;
    } bad[] = {
        {"epoch,loss\n1,2\n", "b.csv:1: expected the header"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,seconds\n2,0.5,0.8,0.45,0.82,1.5\n",
         "b.csv:2: expected epoch 1"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,0.5,0.8,0.45\n", "b.csv:2: expected 6"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,0.5,x,0.45,0.82,1.5\n", "b.csv:2"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,0.5,0.8,0.45,0.82,1.5,7\n", "b.csv:2"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,0.5,0.8,0.45,0.82,1.5\n\n", "b.csv:3"},
        {"epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,nan,0.8,0.45,0.82,1.5\n", "b.csv:2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(curve_parse("b.csv", bad[i].text, &c, &e), ST_ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, bad[i].word) != NULL, "'%s' lacks '%s'", e.msg, bad[i].word);
        ck_assert_int_eq(c.n, 0);
    }
    ck_assert_int_eq(curve_read("/nonexistent/log.csv", &c, &e), ST_ERR_IO);
}
END_TEST

Suite *plot_suite(void)
{
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_add_test(tc, test_truetype_font);
    tcase_add_test(tc, test_draw_text_and_line);
    tcase_add_test(tc, test_map_and_ticks);
    tcase_add_test(tc, test_chart_pixels);
    tcase_add_test(tc, test_png_round_trip);
    tcase_add_test(tc, test_confusion_heat_map);
    tcase_add_test(tc, test_curve_reader);
    suite_add_tcase(s, tc);
    return s;
}
