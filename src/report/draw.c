/* draw.c - pixels, anti-aliased lines and discs, rectangles and bitmap text
 * on an RGB image (see draw.h).
 *
 * Lines and discs are drawn by coverage: a pixel whose centre is at distance
 * d from the shape's skeleton (the segment, the centre) gets opacity
 * clamp(r + 0.5 - d, 0, 1), r the half width or radius. That is a one-pixel
 * linear ramp at the edge: smooth, round-ended, and exact for the tests. */
#include "report/draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/font.h"

Status draw_image_init(Image *im, int w, int h, Rgb bg, Err *e)
{
    im->w = im->h = 0;
    im->px = NULL;
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return err_set(e, ST_ERR_ARG, "image size %dx%d is outside 1..16384", w, h);
    im->px = malloc((size_t)w * (size_t)h * 3);
    if (!im->px) return err_set(e, ST_ERR_NOMEM, "out of memory for a %dx%d image", w, h);
    im->w = w;
    im->h = h;
    draw_fill_rect(im, 0, 0, w, h, bg);
    return ST_OK;
}

void draw_image_free(Image *im)
{
    if (!im) return;
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
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

void draw_fill_rect(Image *im, int x, int y, int w, int h, Rgb c)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > im->w ? im->w : x + w, y1 = y + h > im->h ? im->h : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++) {
            uint8_t *p = im->px + ((size_t)j * (size_t)im->w + (size_t)i) * 3;
            p[0] = c.r, p[1] = c.g, p[2] = c.b;
        }
}

void draw_rect(Image *im, int x, int y, int w, int h, Rgb c)
{
    draw_fill_rect(im, x, y, w, 1, c);
    draw_fill_rect(im, x, y + h - 1, w, 1, c);
    draw_fill_rect(im, x, y, 1, h, c);
    draw_fill_rect(im, x + w - 1, y, 1, h, c);
}

void draw_line(Image *im, double x0, double y0, double x1, double y1, double width, Rgb c, double dash_on,
               double dash_off, double *phase)
{
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, len = sqrt(len2);
    double r = width / 2, start = phase ? *phase : 0.0, period = dash_on + dash_off;
    if (phase) *phase = start + len;
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

void draw_disc(Image *im, double cx, double cy, double r, Rgb c)
{
    draw_line(im, cx, cy, cx, cy, 2 * r, c, 0, 0, NULL);
}

void draw_band(Image *im, double x0, double ya0, double yb0, double x1, double ya1, double yb1, Rgb c, double alpha)
{
    if (!(x0 < x1) || !isfinite(x0) || !isfinite(x1) || !isfinite(ya0) || !isfinite(yb0) || !isfinite(ya1) ||
        !isfinite(yb1))
        return;
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

int draw_text_width(const char *s, int scale)
{
    size_t n = strlen(s);
    return n ? (int)(n * FONT_ADVANCE - (FONT_ADVANCE - FONT_W)) * scale : 0;
}

void draw_text(Image *im, int x, int y, const char *s, int scale, Rgb c)
{
    for (int k = 0; s[k]; k++)
        for (int gy = 0; gy < FONT_ROWS; gy++)
            for (int gx = 0; gx < FONT_W; gx++)
                if (font_pixel(s[k], gx, gy))
                    draw_fill_rect(im, x + (k * FONT_ADVANCE + gx) * scale, y + gy * scale, scale, scale, c);
}

void draw_text_up(Image *im, int x, int y, const char *s, int scale, Rgb c)
{
    int total = draw_text_width(s, 1); /* in font pixels */
    for (int k = 0; s[k]; k++)
        for (int gy = 0; gy < FONT_ROWS; gy++)
            for (int gx = 0; gx < FONT_W; gx++)
                if (font_pixel(s[k], gx, gy)) {
                    /* (X, Y) in the unturned text goes to (Y, total-1-X) */
                    int tx = k * FONT_ADVANCE + gx;
                    draw_fill_rect(im, x + gy * scale, y + (total - 1 - tx) * scale, scale, scale, c);
                }
}
