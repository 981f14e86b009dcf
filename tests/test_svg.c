/* test_svg.c - charts people put on slides: SVG output that parses (a
 * balanced-tag check here, and Python's xml.etree when /usr/bin/python3 is
 * there), with the title as <text> and a <path> per curve; text sizes in the
 * PNG (antialiased glyphs as tall as the size asks); extensions other than
 * .png and .svg refused; `plot`'s --title with both panels, --logy with acc
 * refused, empty logs refused; the error grid's index and confidence; the
 * confusion chart's colour scale and its title within the image for 5 and
 * 10 classes. */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_image.h>

#include "report/curve.h"
#include "report/draw.h"
#include "report/plot.h"
#include "testutil.h"

static const Rgb WHITE = {255, 255, 255};

/* 1 if every element of the XML text closes in order, every attribute value
 * is quoted and every '&' starts one of XML's entities; why (if not) says
 * where it broke. Comments, declarations and <?...?> are skipped. */
static int xml_balanced(const char *s, char *why, size_t len)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '&') {
            static const char *ENT[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
            int ok = 0;
            for (int k = 0; k < 5; k++) ok |= !strncmp(p, ENT[k], strlen(ENT[k]));
            if (!ok) return snprintf(why, len, "a bare '&' at %ld", (long)(p - s)), 0;
            continue;
        }
        if (*p == '>') return snprintf(why, len, "a bare '>' at %ld", (long)(p - s)), 0;
        if (*p != '<') continue;
        if (p[1] == '?' || p[1] == '!') { /* <?xml ...?>, <!-- ... --> */
            const char *end = strchr(p, '>');
            if (!end) return snprintf(why, len, "an unclosed declaration"), 0;
            p = end;
            continue;
        }
        int closing = p[1] == '/';
        const char *q = p + 1 + closing;
        char name[32];
        int n = 0;
        while (isalnum((unsigned char)*q) || *q == ':' || *q == '-') {
            if (n < 31) name[n++] = *q;
            q++;
        }
        name[n] = 0;
        if (!n) return snprintf(why, len, "a '<' without a name at %ld", (long)(p - s)), 0;
        /* attributes: name="value" pairs up to '>' or '/>' */
        while (*q && *q != '>' && !(q[0] == '/' && q[1] == '>')) {
            if (*q == '"') {
                const char *end = strchr(q + 1, '"');
                if (!end) return snprintf(why, len, "an unclosed attribute value in <%s>", name), 0;
                if (memchr(q + 1, '<', (size_t)(end - q - 1)))
                    return snprintf(why, len, "a '<' in an attribute of <%s>", name), 0;
                q = end;
            } else if (*q == '=' && q[1] != '"') {
                return snprintf(why, len, "an unquoted attribute in <%s>", name), 0;
            }
            q++;
        }
        if (!*q) return snprintf(why, len, "<%s> never ends", name), 0;
        if (closing) {
            if (!depth || strcmp(stack[depth - 1], name))
                return snprintf(why, len, "</%s> closes %s", name, depth ? stack[depth - 1] : "nothing"), 0;
            depth--;
        } else if (*q == '/') {
            q++; /* <x/>: empty */
            roots += depth == 0;
        } else {
            if (depth == 64) return snprintf(why, len, "too deep"), 0;
            roots += depth == 0;
            snprintf(stack[depth++], sizeof stack[0], "%s", name);
        }
        p = q;
    }
    if (depth) return snprintf(why, len, "<%s> is never closed", stack[depth - 1]), 0;
    if (roots != 1) return snprintf(why, len, "%d root elements", roots), 0;
    return 1;
}

/* How many times needle occurs in s. */
static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Checks the SVG file: well-formed (here, and by Python's XML parser when
 * /usr/bin/python3 exists; said when it does not), an <svg> of w x h (when
 * w > 0), every <text> in DejaVu Sans at >= min_px. Returns the text (free). */
static char *check_svg(const char *path, int w, int h, int min_px)
{
    size_t len;
    char *svg = read_all_or_fail(path, &len);
    char why[200];
    ck_assert_msg(xml_balanced(svg, why, sizeof why), "%s: %s", path, why);
    ck_assert_ptr_nonnull(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    ck_assert_ptr_nonnull(strstr(svg, "font-family=\"DejaVu Sans"));
    if (w > 0) {
        char dims[80];
        snprintf(dims, sizeof dims, "width=\"%d\" height=\"%d\"", w, h);
        ck_assert_msg(strstr(svg, dims) != NULL, "%s: no %s", path, dims);
    }
    for (const char *p = svg; (p = strstr(p, "font-size=\"")); p++)
        ck_assert_int_ge(atoi(p + 11), min_px);
    if (access("/usr/bin/python3", X_OK) == 0) {
        char cmd[1400], out[2000];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                 "print(r.tag, len(list(r.iter())))' '%s' 2>&1",
                 path);
        ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "python3's XML parser refused %s: %s", path, out);
        ck_assert_ptr_nonnull(strstr(out, "{http://www.w3.org/2000/svg}svg"));
    } else {
        fprintf(stderr, "test_svg: skipped: no /usr/bin/python3 to parse %s (checked here only)\n", path);
    }
    return svg;
}

static void make_curve(Curve *c, int n, double base)
{
    char text[2048] = "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n";
    for (int i = 0; i < n; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%.4f,%.4f,%.4f,%.4f,1\n", i + 1,
                 base / (i + 1), 0.6 + 0.05 * i, base / (i + 1) + 0.1, 0.55 + 0.05 * i);
    Err e;
    ck_assert_int_eq(curve_parse("mem", text, c, &e), ST_OK);
}

START_TEST(test_svg_curves)
{
    char *dir = make_temp_dir(), path[600];
    Curve c1, c2;
    make_curve(&c1, 4, 1.0);
    make_curve(&c2, 4, 0.8);
    PlotRun runs[2] = {{"first & <best>", &c1}, {"second", &c2}};
    PlotMetric m = PLOT_LOSS;
    Err e;
    snprintf(path, sizeof path, "%s/c.svg", dir);
    ck_assert_int_eq(plot_curves_png(path, runs, 2, &m, 1, 0, "A title for slides", &e), ST_OK);
    char *svg = check_svg(path, 0, 0, 18);
    ck_assert_ptr_nonnull(strstr(svg, ">A title for slides</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">first &amp; &lt;best&gt;</text>")); /* the legend, escaped */
    /* a path per curve: train and test of each run, the train ones dashed */
    ck_assert_int_eq(count_of(svg, "<path "), 4);
    ck_assert_int_eq(count_of(svg, "<path d=\"M"), 4);
    ck_assert_int_ge(count_of(svg, "stroke-dasharray=\"9 6\""), 2);
    ck_assert_int_ge(count_of(svg, "<circle "), 8); /* the test points */
    ck_assert_ptr_nonnull(strstr(svg, "rotate(-90)")); /* the y axis's title, turned */
    free(svg);
    /* the same chart as PNG is a PNG, not the SVG's bytes */
    snprintf(path, sizeof path, "%s/c.PNG", dir);
    ck_assert_int_eq(plot_curves_png(path, runs, 2, &m, 1, 0, NULL, &e), ST_OK);
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 3);
    ck_assert_ptr_nonnull(px);
    stbi_image_free(px);
    /* any other extension is refused, naming the file */
    snprintf(path, sizeof path, "%s/c.jpg", dir);
    ck_assert_int_eq(plot_curves_png(path, runs, 2, &m, 1, 0, NULL, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, ".png or .svg"));
    ck_assert_int_eq(access(path, F_OK), -1);
    DrawFormat f;
    ck_assert_int_eq(draw_format("-o", "x.Svg", &f, &e), ST_OK);
    ck_assert_int_eq(f, DRAW_SVG);
    ck_assert_int_eq(draw_format("-o", "dir.svg/chart", &f, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "-o dir.svg/chart"));
    ck_assert_int_eq(draw_format("--confusion", "c.jpeg", &f, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "--confusion c.jpeg"));
    curve_free(&c1);
    curve_free(&c2);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The rows [y0, y1) of im: the first and last row with dark ink (r < 128),
 * and whether partly covered (grey) pixels are there. */
static void ink_rows(const Image *im, int y0, int y1, int *top, int *bottom, int *greys)
{
    *top = -1, *bottom = -1, *greys = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < im->w; x++) {
            Rgb p = draw_get(im, x, y);
            if (p.r < 128) {
                if (*top < 0) *top = y;
                *bottom = y;
            }
            *greys += p.r == p.g && p.g == p.b && p.r > 60 && p.r < 200;
        }
}

START_TEST(test_text_sizes)
{
    /* a 1600x520 figure of two panels: the titles' glyphs (capitals and
     * descenders: "Loss per epoch") span >= 24 px, antialiased; the tick
     * labels' digits >= 14 px (20 px text) */
    Curve c;
    make_curve(&c, 5, 1.0);
    PlotRun run = {"run", &c};
    Image im;
    Err e;
    ck_assert_int_eq(draw_image_init(&im, 800, 520, WHITE, &e), ST_OK);
    PlotAxes a;
    plot_curves_panel(&im, 0, 0, 800, 520, &run, 1, PLOT_LOSS, 0, NULL, &a);
    int top, bottom, greys;
    ink_rows(&im, 0, a.top - 2, &top, &bottom, &greys);
    ck_assert_int_ge(top, 0);
    ck_assert_int_ge(bottom - top + 1, 24);
    ck_assert_int_gt(greys, 20);
    /* the x axis's tick labels: the digits between the axis and its title */
    int dtop = -1, dbot = -1;
    for (int y = a.top + a.height + 8; y < a.top + a.height + 38; y++)
        for (int x = a.left + 2; x < a.left + a.width - 2; x++)
            if (draw_get(&im, x, y).r < 128) {
                if (dtop < 0) dtop = y;
                dbot = y;
            }
    ck_assert_int_ge(dbot - dtop + 1, 14);
    draw_image_free(&im);
    curve_free(&c);
}
END_TEST

/* Writes DIR/NAME.csv with the given rows after the header. */
static void write_csv(const char *dir, const char *name, const char *rows, char *path, size_t len)
{
    snprintf(path, len, "%s/%s.csv", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n%s", rows);
    fclose(f);
}

START_TEST(test_plot_cli_options)
{
    char *dir = make_temp_dir(), log[600], args[3000], out[4096], file[700];
    write_csv(dir, "log", "1,0.9,0.7,0.95,0.68,1\n2,0.6,0.8,0.7,0.76,1\n3,0.5,0.83,0.62,0.79,1\n", log, sizeof log);
    /* -o's extension: .svg writes SVG, .jpg and none are refused naming -o */
    snprintf(args, sizeof args, "plot %s -o %s/a.svg --metric both --title 'Two panels, one title'", log, dir);
    expect_fmnist(args, 0, "wrote", out, sizeof out);
    snprintf(file, sizeof file, "%s/a.svg", dir);
    char *svg = check_svg(file, 1600, 572, 18);
    ck_assert_ptr_nonnull(strstr(svg, ">Two panels, one title</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">Loss per epoch</text>"));
    ck_assert_ptr_nonnull(strstr(svg, ">Accuracy per epoch</text>"));
    free(svg);
    snprintf(args, sizeof args, "plot %s -o %s/a.jpg", log, dir);
    expect_fmnist(args, 2, "-o", out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, ".png or .svg"));
    snprintf(args, sizeof args, "plot %s -o %s/chart", log, dir);
    expect_fmnist(args, 2, "FILE.png or FILE.svg", out, sizeof out);
    /* --logy: refused with acc alone, applied to the loss panel with both */
    snprintf(args, sizeof args, "plot %s -o %s/b.png --metric acc --logy", log, dir);
    expect_fmnist(args, 2, "--logy", out, sizeof out);
    snprintf(args, sizeof args, "plot %s -o %s/b.svg --metric both --logy", log, dir);
    expect_fmnist(args, 0, "wrote", out, sizeof out);
    snprintf(file, sizeof file, "%s/b.svg", dir);
    svg = check_svg(file, 1600, 520, 18);
    ck_assert_ptr_nonnull(strstr(svg, ">Loss per epoch (log scale)</text>"));
    free(svg);
    /* an empty log (its header only) is an error naming it; so is a NaN */
    char empty[600], nan[600];
    write_csv(dir, "empty", "", empty, sizeof empty);
    snprintf(args, sizeof args, "plot %s -o %s/c.png", empty, dir);
    expect_fmnist(args, 1, "no epochs", out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, empty));
    write_csv(dir, "nan", "1,nan,nan,nan,nan,1\n", nan, sizeof nan);
    snprintf(args, sizeof args, "plot %s %s -o %s/c.png", log, nan, dir);
    ck_assert_int_ne(run_fmnist(args, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, nan));
    snprintf(file, sizeof file, "%s/c.png", dir);
    ck_assert_int_eq(access(file, F_OK), -1);
    /* eval's charts: other extensions refused before anything is read */
    snprintf(args, sizeof args, "eval --weights %s/none.fmw --confusion %s/c.jpg", dir, dir);
    expect_fmnist(args, 2, "--confusion", out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, ".png or .svg"));
    snprintf(args, sizeof args, "eval --weights %s/none.fmw --errors %s/e.gif", dir, dir);
    expect_fmnist(args, 2, "--errors", out, sizeof out);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_plot_check_curve)
{
    Curve c = {0};
    Err e;
    PlotMetric m[2] = {PLOT_LOSS, PLOT_ACC};
    ck_assert_int_eq(plot_check_curve(&c, "x/log.csv", m, 2, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "x/log.csv: the log has no epochs"));
    double nan2[2] = {NAN, NAN}, ok2[2] = {0.5, NAN};
    int ep[2] = {1, 2};
    c = (Curve){.n = 2, .epoch = ep, .train_loss = nan2, .train_acc = ok2, .test_loss = nan2, .test_acc = nan2};
    ck_assert_int_eq(plot_check_curve(&c, "y.csv", m, 2, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "y.csv: every loss value is NaN"));
    ck_assert_int_eq(plot_check_curve(&c, "y.csv", m + 1, 1, &e), ST_OK); /* one accuracy is there */
}
END_TEST

START_TEST(test_error_grid)
{
    enum { N = 12, H = 28, W = 28 };
    uint8_t *pix = malloc((size_t)N * H * W);
    ck_assert_ptr_nonnull(pix);
    for (int i = 0; i < N * H * W; i++) pix[i] = (uint8_t)(i * 7);
    int truth[N], pred[N], idx[3] = {11, 4, 7};
    float conf[N];
    for (int i = 0; i < N; i++) truth[i] = i % 3, pred[i] = (i * 2) % 3, conf[i] = 0.5f + 0.03f * (float)i;
    const char *names[3] = {"T-shirt/top", "Trouser", "Ankle boot"};
    Image im;
    Err e;
    ck_assert_int_eq(plot_image_grid(pix, H, W, idx, 3, truth, pred, conf, names, 8, "Three & more", &im, &e), ST_OK);
    Buf b = {0};
    draw_svg_document(&im, &b);
    ck_assert(!b.failed);
    char why[200];
    ck_assert_msg(xml_balanced(b.data, why, sizeof why), "%s", why);
    /* each image: its true class, the predicted one, its index and confidence */
    ck_assert_ptr_nonnull(strstr(b.data, ">#11  83.0%</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">#4  62.0%</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">#7  71.0%</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">\xe2\x86\x92 Ankle boot</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">Three &amp; more</text>"));
    ck_assert_int_eq(count_of(b.data, "<image "), 3);
    ck_assert_int_eq(count_of(b.data, "xlink:href=\"data:image/png;base64,iVBORw0KGgo"), 3);
    for (const char *p = b.data; (p = strstr(p, "font-size=\"")); p++) ck_assert_int_ge(atoi(p + 11), 18);
    /* the PNG: each picture 4x, its pixels as given */
    Rgb p = draw_get(&im, 0, 0);
    ck_assert(p.r == 255);
    buf_free(&b);
    draw_image_free(&im);
    /* without confidences: the index alone */
    ck_assert_int_eq(plot_image_grid(pix, H, W, idx, 1, truth, pred, NULL, names, 8, NULL, &im, &e), ST_OK);
    draw_svg_document(&im, &b);
    ck_assert_ptr_nonnull(strstr(b.data, ">#11</text>"));
    buf_free(&b);
    draw_image_free(&im);
    free(pix);
}
END_TEST

/* The confusion chart of k classes: every text inside the image (the SVG's
 * <text> elements start inside it, the PNG's edges are blank), a colour
 * scale, the counts. */
static void check_confusion(int k, const char *title)
{
    static const char *NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    long cm[100];
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) cm[i * k + j] = i == j ? 900 : 100 / (k - 1) + i;
    Image im;
    Err e;
    ck_assert_int_eq(plot_confusion(cm, k, NAMES, title, &im, &e), ST_OK);
    /* no ink in the outer 4 px: nothing is cut at an edge */
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w; x++) {
            if (x >= 4 && y >= 4 && x < im.w - 4 && y < im.h - 4) continue;
            Rgb p = draw_get(&im, x, y);
            ck_assert_msg(p.r == 255 && p.g == 255 && p.b == 255, "%d classes: ink at the edge (%d, %d)", k, x, y);
        }
    Buf b = {0};
    draw_svg_document(&im, &b);
    char why[200];
    ck_assert_msg(xml_balanced(b.data, why, sizeof why), "%s", why);
    /* the title's <text> starts inside and its width fits */
    const char *t = strstr(b.data, title ? title : "Confusion matrix:");
    ck_assert_ptr_nonnull(t);
    const char *x = t;
    while (x > b.data && strncmp(x, "<text x=\"", 9)) x--;
    double tx = atof(x + 9);
    ck_assert(tx >= 4);
    char full[256];
    snprintf(full, sizeof full, "%.*s", (int)(strchr(t, '<') - t), t);
    int fs = atoi(strstr(x, "font-size=\"") + 11);
    ck_assert(tx + draw_text_width(&im, full, fs) <= im.w - 4);
    /* the colour scale's ends and the counts */
    ck_assert_ptr_nonnull(strstr(b.data, ">100%</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">0%</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">900</text>"));
    ck_assert_ptr_nonnull(strstr(b.data, ">share of "));
    buf_free(&b);
    draw_image_free(&im);
}

START_TEST(test_confusion_fits)
{
    check_confusion(5, NULL);
    check_confusion(10, NULL);
    check_confusion(5, "A long title of a five-class data set that once was cut at both sides");
    check_confusion(2, NULL);
    /* 64 classes draw (counts where they fit) */
    long *cm = calloc(64 * 64, sizeof *cm);
    const char *names[64];
    char buf[64][8];
    for (int i = 0; i < 64; i++) snprintf(buf[i], sizeof buf[i], "c%d", i), names[i] = buf[i], cm[i * 65] = 10;
    Image im;
    Err e;
    ck_assert_int_eq(plot_confusion(cm, 64, names, NULL, &im, &e), ST_OK);
    draw_image_free(&im);
    free(cm);
}
END_TEST

Suite *svg_suite(void)
{
    Suite *s = suite_create("svg");
    TCase *tc = tcase_create("svg");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_svg_curves);
    tcase_add_test(tc, test_text_sizes);
    tcase_add_test(tc, test_plot_cli_options);
    tcase_add_test(tc, test_plot_check_curve);
    tcase_add_test(tc, test_error_grid);
    tcase_add_test(tc, test_confusion_fits);
    suite_add_tcase(s, tc);
    return s;
}
