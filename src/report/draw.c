/* draw.c - the canvas (see draw.h): pixels, and the same drawing recorded
 * as SVG elements.
 *
 * Lines and discs are drawn by coverage: a pixel whose centre is at distance
 * d from the shape's skeleton (the segment, the centre) gets opacity
 * clamp(r + 0.5 - d, 0, 1), r the half width or radius. That is a one-pixel
 * linear ramp at the edge: smooth, round-ended, and exact for the tests.
 * Text is the font's coverage mask (font.c) blended in.
 *
 * The SVG has one element per call: <rect>, <line>, <path>, <circle>,
 * <polygon> with fill-opacity for bands, <text> (font-family DejaVu Sans,
 * the same font-size; turned text through a transform) and <image> with a
 * base64 PNG for pictures. PNG encoding is stb_image_write's (Debian's
 * libstb), into memory first, then written atomically like every file here. */
#include "report/draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stb_image_write.h>

static void svg_reset(Image *im)
{
    buf_free(&im->svg);
    memset(&im->svg, 0, sizeof im->svg);
}

static Status image_alloc(Image *im, int w, int h, Rgb bg, Err *e)
{
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return err_set(e, ST_ERR_ARG, "image size %dx%d is outside 1..16384", w, h);
    im->px = malloc((size_t)w * (size_t)h * 3);
    if (!im->px) return err_set(e, ST_ERR_NOMEM, "out of memory for a %dx%d image", w, h);
    im->w = w;
    im->h = h;
    draw_fill_rect(im, 0, 0, w, h, bg);
    return ST_OK;
}

Status draw_image_init(Image *im, int w, int h, Rgb bg, Err *e)
{
    memset(im, 0, sizeof *im);
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return err_set(e, ST_ERR_ARG, "image size %dx%d is outside 1..16384", w, h);
    Status st = font_load(&im->font, e);
    if (!st) st = image_alloc(im, w, h, bg, e);
    if (st) draw_image_free(im);
    return st;
}

Status draw_image_resize(Image *im, int w, int h, Rgb bg, Err *e)
{
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
    im->failed = 0;
    svg_reset(im);
    Status st = image_alloc(im, w, h, bg, e);
    if (st) draw_image_free(im);
    return st;
}

void draw_image_free(Image *im)
{
    if (!im) return;
    free(im->px);
    font_free(im->font);
    buf_free(&im->svg);
    memset(im, 0, sizeof *im);
}

Rgb draw_get(const Image *im, int x, int y)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return (Rgb){0, 0, 0};
    const uint8_t *p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
    return (Rgb){p[0], p[1], p[2]};
}

void draw_blend(Image *im, int x, int y, Rgb c, double a)
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h || !(a > 0)) return;
    if (a > 1) a = 1;
    uint8_t *p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
    p[0] = (uint8_t)lround(p[0] + a * (c.r - p[0]));
    p[1] = (uint8_t)lround(p[1] + a * (c.g - p[1]));
    p[2] = (uint8_t)lround(p[2] + a * (c.b - p[2]));
}

/* ---- the SVG elements ---- */

/* A coordinate: at most 2 decimals, no trailing zeros ("12", "3.5"). */
static void svg_num(Buf *b, double v)
{
    char s[48];
    snprintf(s, sizeof s, "%.2f", fabs(v) < 0.005 ? 0.0 : v);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '0') n--;
    if (n > 0 && s[n - 1] == '.') n--;
    buf_put(b, s, n);
}

/* ` name="v"`, v as svg_num writes it */
static void svg_attr(Buf *b, const char *name, double v)
{
    buf_printf(b, " %s=\"", name);
    svg_num(b, v);
    buf_put(b, "\"", 1);
}

static void svg_color(Buf *b, const char *attr, Rgb c)
{
    buf_printf(b, " %s=\"#%02x%02x%02x\"", attr, c.r, c.g, c.b);
}

/* Text with XML's five special characters escaped; the bytes of a malformed
 * UTF-8 sequence or a control character become '?'. */
static void svg_text(Buf *b, const char *s)
{
    const char *p = s;
    while (*p) {
        const char *start = p;
        unsigned cp = font_utf8_next(&p);
        if (cp == '&') buf_printf(b, "&amp;");
        else if (cp == '<') buf_printf(b, "&lt;");
        else if (cp == '>') buf_printf(b, "&gt;");
        else if (cp == '"') buf_printf(b, "&quot;");
        else if (cp == '\'') buf_printf(b, "&apos;");
        else if (cp < 0x20 || cp == 0x7F || (cp == '?' && *start != '?')) buf_put(b, "?", 1);
        else buf_put(b, start, (size_t)(p - start));
    }
}

static void svg_dash(Buf *b, double on, double off, double offset)
{
    if (!(on > 0)) return;
    buf_printf(b, " stroke-dasharray=\"");
    svg_num(b, on);
    buf_put(b, " ", 1);
    svg_num(b, off);
    buf_put(b, "\"", 1);
    if (offset != 0) svg_attr(b, "stroke-dashoffset", offset);
    buf_printf(b, " stroke-linecap=\"butt\"");
}

static void svg_rect(Image *im, double x, double y, double w, double h, Rgb c, const char *extra)
{
    Buf *b = &im->svg;
    buf_printf(b, "<rect");
    svg_attr(b, "x", x);
    svg_attr(b, "y", y);
    svg_attr(b, "width", w);
    svg_attr(b, "height", h);
    svg_color(b, "fill", c);
    buf_printf(b, "%s/>\n", extra);
}

/* ---- drawing ---- */

static void raster_fill(Image *im, int x, int y, int w, int h, Rgb c)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > im->w ? im->w : x + w, y1 = y + h > im->h ? im->h : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++) {
            uint8_t *p = im->px + ((size_t)j * (size_t)im->w + (size_t)i) * 3;
            p[0] = c.r, p[1] = c.g, p[2] = c.b;
        }
}

void draw_fill_rect(Image *im, int x, int y, int w, int h, Rgb c)
{
    if (w <= 0 || h <= 0) return;
    raster_fill(im, x, y, w, h, c);
    svg_rect(im, x, y, w, h, c, "");
}

void draw_rect(Image *im, int x, int y, int w, int h, Rgb c)
{
    if (w <= 0 || h <= 0) return;
    raster_fill(im, x, y, w, 1, c);
    raster_fill(im, x, y + h - 1, w, 1, c);
    raster_fill(im, x, y, 1, h, c);
    raster_fill(im, x + w - 1, y, 1, h, c);
    Buf *b = &im->svg;
    buf_printf(b, "<rect");
    svg_attr(b, "x", x + 0.5);
    svg_attr(b, "y", y + 0.5);
    svg_attr(b, "width", w - 1);
    svg_attr(b, "height", h - 1);
    buf_printf(b, " fill=\"none\"");
    svg_color(b, "stroke", c);
    buf_printf(b, " stroke-width=\"1\"/>\n");
}

/* The pixels of a segment (draw_line's, without the SVG). */
static void raster_line(Image *im, double x0, double y0, double x1, double y1, double width, Rgb c, double dash_on,
                        double dash_off, double start)
{
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, len = sqrt(len2);
    double r = width / 2, period = dash_on + dash_off;
    if (!isfinite(len) || !(width > 0) || !isfinite(width)) return;
    /* the bounding box, clipped to the image before it becomes ints */
    double xlo = fmax(floor(fmin(x0, x1) - r - 1), 0), xhi = fmin(ceil(fmax(x0, x1) + r + 1), im->w - 1);
    double ylo = fmax(floor(fmin(y0, y1) - r - 1), 0), yhi = fmin(ceil(fmax(y0, y1) + r + 1), im->h - 1);
    if (!(xlo <= xhi && ylo <= yhi)) return;
    int ilo = (int)xlo, ihi = (int)xhi, jlo = (int)ylo, jhi = (int)yhi;
    for (int j = jlo; j <= jhi; j++)
        for (int i = ilo; i <= ihi; i++) {
            double px = i + 0.5 - x0, py = j + 0.5 - y0;
            /* t: the position of the closest point of the segment, in pixels from (x0, y0) */
            double t = len2 > 0 ? (px * dx + py * dy) / len : 0.0;
            if (t < 0) t = 0;
            if (t > len) t = len;
            double qx = len > 0 ? px - t * dx / len : px, qy = len > 0 ? py - t * dy / len : py;
            double a = r + 0.5 - sqrt(qx * qx + qy * qy);
            if (a <= 0) continue;
            if (dash_on > 0 && period > 0 && fmod(start + t, period) >= dash_on) continue;
            draw_blend(im, i, j, c, a);
        }
}

void draw_line(Image *im, double x0, double y0, double x1, double y1, double width, Rgb c, double dash_on,
               double dash_off, double *phase)
{
    double start = phase ? *phase : 0.0, len = hypot(x1 - x0, y1 - y0);
    if (phase) *phase = start + len;
    if (!isfinite(len) || !(width > 0) || !isfinite(width)) return;
    raster_line(im, x0, y0, x1, y1, width, c, dash_on, dash_off, start);
    Buf *b = &im->svg;
    buf_printf(b, "<line");
    svg_attr(b, "x1", x0);
    svg_attr(b, "y1", y0);
    svg_attr(b, "x2", x1);
    svg_attr(b, "y2", y1);
    svg_color(b, "stroke", c);
    svg_attr(b, "stroke-width", width);
    if (dash_on > 0) svg_dash(b, dash_on, dash_off, fmod(start, dash_on + dash_off));
    else buf_printf(b, " stroke-linecap=\"round\"");
    buf_printf(b, "/>\n");
}

void draw_polyline(Image *im, const double *xs, const double *ys, int n, double width, Rgb c, double dash_on,
                   double dash_off)
{
    if (n < 2 || !(width > 0) || !isfinite(width)) return;
    for (int i = 0; i < n; i++)
        if (!isfinite(xs[i]) || !isfinite(ys[i])) return;
    double phase = 0;
    for (int i = 1; i < n; i++) {
        raster_line(im, xs[i - 1], ys[i - 1], xs[i], ys[i], width, c, dash_on, dash_off, phase);
        phase += hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]);
    }
    Buf *b = &im->svg;
    buf_printf(b, "<path d=\"");
    for (int i = 0; i < n; i++) {
        buf_printf(b, i ? " L" : "M");
        svg_num(b, xs[i]);
        buf_put(b, " ", 1);
        svg_num(b, ys[i]);
    }
    buf_printf(b, "\" fill=\"none\"");
    svg_color(b, "stroke", c);
    svg_attr(b, "stroke-width", width);
    buf_printf(b, " stroke-linejoin=\"round\"");
    if (dash_on > 0) svg_dash(b, dash_on, dash_off, 0);
    else buf_printf(b, " stroke-linecap=\"round\"");
    buf_printf(b, "/>\n");
}

void draw_disc(Image *im, double cx, double cy, double r, Rgb c)
{
    if (!isfinite(cx) || !isfinite(cy) || !(r > 0) || !isfinite(r)) return;
    raster_line(im, cx, cy, cx, cy, 2 * r, c, 0, 0, 0);
    Buf *b = &im->svg;
    buf_printf(b, "<circle");
    svg_attr(b, "cx", cx);
    svg_attr(b, "cy", cy);
    svg_attr(b, "r", r);
    svg_color(b, "fill", c);
    buf_printf(b, "/>\n");
}

void draw_band(Image *im, double x0, double ya0, double yb0, double x1, double ya1, double yb1, Rgb c, double alpha)
{
    if (!(x0 < x1) || !isfinite(x0) || !isfinite(x1) || !isfinite(ya0) || !isfinite(yb0) || !isfinite(ya1) ||
        !isfinite(yb1))
        return;
    Buf *b = &im->svg;
    const double pts[8] = {x0, ya0, x1, ya1, x1, yb1, x0, yb0};
    buf_printf(b, "<polygon points=\"");
    for (int k = 0; k < 8; k += 2) {
        if (k) buf_put(b, " ", 1);
        svg_num(b, pts[k]);
        buf_put(b, ",", 1);
        svg_num(b, pts[k + 1]);
    }
    buf_put(b, "\"", 1);
    svg_color(b, "fill", c);
    buf_printf(b, " fill-opacity=\"%.3g\" shape-rendering=\"crispEdges\"/>\n", alpha);
    /* columns i with x0 <= i + 0.5 < x1, clipped to the image before they become ints */
    double ilo = fmax(ceil(x0 - 0.5), 0), ihi = fmin(ceil(x1 - 0.5) - 1, im->w - 1);
    if (!(ilo <= ihi)) return;
    for (int i = (int)ilo; i <= (int)ihi; i++) {
        double f = (i + 0.5 - x0) / (x1 - x0);
        double ya = ya0 + f * (ya1 - ya0), yb = yb0 + f * (yb1 - yb0);
        /* rows j with top <= j + 0.5 <= bottom */
        double jlo = fmax(ceil(fmin(ya, yb) - 0.5), 0), jhi = fmin(floor(fmax(ya, yb) - 0.5), im->h - 1);
        if (!(jlo <= jhi)) continue;
        for (int j = (int)jlo; j <= (int)jhi; j++) draw_blend(im, i, j, c, alpha);
    }
}

static void png_put(void *ctx, void *data, int size)
{
    buf_put(ctx, data, (size_t)size);
}

/* RFC 4648 base64 of p[0..n). */
static void base64(Buf *b, const uint8_t *p, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=', i + 2 < n ? A[v & 63] : '='};
        buf_put(b, q, 4);
    }
}

void draw_gray(Image *im, int x, int y, const uint8_t *pix, int w, int h, int zoom)
{
    if (w < 1 || h < 1 || zoom < 1) return;
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++) {
            uint8_t v = pix[(size_t)j * (size_t)w + (size_t)i];
            raster_fill(im, x + i * zoom, y + j * zoom, zoom, zoom, (Rgb){v, v, v});
        }
    Buf png = {0};
    if (!stbi_write_png_to_func(png_put, &png, w, h, 1, pix, w) || png.failed) {
        im->failed = 1;
        buf_free(&png);
        return;
    }
    Buf *b = &im->svg;
    buf_printf(b, "<image x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" preserveAspectRatio=\"none\" "
                  "style=\"image-rendering:pixelated\" image-rendering=\"optimizeSpeed\" "
                  "xlink:href=\"data:image/png;base64,",
               x, y, w * zoom, h * zoom);
    base64(b, (const uint8_t *)png.data, png.len);
    buf_printf(b, "\"/>\n");
    buf_free(&png);
}

/* ---- text ---- */

int draw_text_width(const Image *im, const char *s, int size)
{
    return *s ? (int)ceil(font_width(im->font, s, size) - 1e-9) : 0;
}

int draw_text_height(const Image *im, int size)
{
    return font_line_height(im->font, size);
}

int draw_text_ascent(const Image *im, int size)
{
    return (int)lround(font_ascent(im->font, size));
}

/* The SVG <text> of s at size, its baseline's start at (x, y) in the frame
 * of transform (NULL: none). */
static void svg_text_elem(Image *im, double x, double y, const char *transform, const char *s, int size, Rgb c)
{
    Buf *b = &im->svg;
    buf_printf(b, "<text");
    if (transform) buf_printf(b, " transform=\"%s\"", transform);
    svg_attr(b, "x", x);
    svg_attr(b, "y", y);
    buf_printf(b, " font-size=\"%d\"", size);
    svg_color(b, "fill", c);
    buf_printf(b, " xml:space=\"preserve\">");
    svg_text(b, s);
    buf_printf(b, "</text>\n");
}

/* Blends the mask of s (up: turned) with its box's corner at (x, y). */
static void raster_text(Image *im, int x, int y, const char *s, int size, Rgb c, int up)
{
    uint8_t *mask;
    int mw, mh;
    Err e;
    if (font_render(im->font, s, size, &mask, &mw, &mh, &e)) {
        im->failed = 1;
        return;
    }
    for (int j = 0; j < mh; j++)
        for (int i = 0; i < mw; i++) {
            uint8_t m = mask[(size_t)j * (size_t)mw + (size_t)i];
            if (!m) continue;
            /* turned: (i, j) of the text goes to (j, mw-1-i) */
            if (up) draw_blend(im, x + j, y + mw - 1 - i, c, m / 255.0);
            else draw_blend(im, x + i, y + j, c, m / 255.0);
        }
    free(mask);
}

void draw_text(Image *im, int x, int y, const char *s, int size, Rgb c)
{
    if (!*s || size < 1) return;
    raster_text(im, x, y, s, size, c, 0);
    svg_text_elem(im, x, y + draw_text_ascent(im, size), NULL, s, size, c);
}

void draw_text_up(Image *im, int x, int y, const char *s, int size, Rgb c)
{
    if (!*s || size < 1) return;
    raster_text(im, x, y, s, size, c, 1);
    int mw = draw_text_width(im, s, size);
    if (mw < 1) mw = 1;
    char tr[96];
    snprintf(tr, sizeof tr, "translate(%d %d) rotate(-90)", x + draw_text_ascent(im, size), y + mw);
    svg_text_elem(im, 0, 0, tr, s, size, c);
}

/* ---- files ---- */

Status draw_format(const char *flag, const char *path, DrawFormat *fmt, Err *e)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (dot && !strcasecmp(dot, ".png")) *fmt = DRAW_PNG;
    else if (dot && !strcasecmp(dot, ".svg")) *fmt = DRAW_SVG;
    else if (dot && dot != base)
        return err_set(e, ST_ERR_ARG, "%s %s: a chart is written as .png or .svg, not %s", flag, path, dot);
    else return err_set(e, ST_ERR_ARG, "%s %s: name the chart FILE.png or FILE.svg (no extension given)", flag, path);
    return ST_OK;
}

Status draw_write_png(const Image *im, const char *path, Err *e)
{
    if (im->failed) return err_set(e, ST_ERR_NOMEM, "%s: out of memory while drawing it", path);
    Buf b = {0};
    if (!stbi_write_png_to_func(png_put, &b, im->w, im->h, 3, im->px, im->w * 3) || b.failed) {
        buf_free(&b);
        return err_set(e, ST_ERR_NOMEM, "%s: cannot encode the %dx%d PNG (out of memory)", path, im->w, im->h);
    }
    Status st = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return st;
}

void draw_svg_document(const Image *im, Buf *b)
{
    buf_printf(b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
               "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
               "<g font-family=\"%s, sans-serif\">\n",
               im->w, im->h, im->w, im->h, FONT_FAMILY);
    buf_put(b, im->svg.data ? im->svg.data : "", im->svg.len);
    buf_printf(b, "</g>\n</svg>\n");
}

Status draw_write_svg(const Image *im, const char *path, Err *e)
{
    if (im->failed || im->svg.failed) return err_set(e, ST_ERR_NOMEM, "%s: out of memory while drawing it", path);
    Buf b = {0};
    draw_svg_document(im, &b);
    if (b.failed) {
        buf_free(&b);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory for the SVG", path);
    }
    Status st = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return st;
}

Status draw_write(const Image *im, const char *path, Err *e)
{
    DrawFormat fmt = DRAW_PNG;
    Status st = draw_format("the chart", path, &fmt, e);
    if (st) return st;
    return fmt == DRAW_SVG ? draw_write_svg(im, path, e) : draw_write_png(im, path, e);
}
