/* draw.h - the canvas the charts draw on: an RGB image in memory that also
 * records what is drawn as SVG elements, so that one drawing is written as
 * PNG or as SVG (draw_write). It draws anti-aliased lines and polylines
 * (solid, dashed or dotted), discs, filled rectangles, translucent bands,
 * grayscale pictures and antialiased TrueType text (font.h), horizontal or
 * turned 90 degrees.
 *
 * Coordinates are pixels, x to the right and y down; (0, 0) is the top-left
 * pixel's corner, so pixel (i, j) covers [i, i+1) x [j, j+1) and its centre is
 * (i + 0.5, j + 0.5). Everything is clipped to the image (the SVG's
 * viewport). An image owns its font: draw_image_init loads it (font.h says
 * which file), so a missing font is an error there, not a blank chart.
 *
 * Text sizes are CSS font sizes in pixels (the em square; SVG's font-size):
 * draw_text(im, x, y, s, 20, c) draws 20 px text whose line box (ascent +
 * descent, draw_text_height) has its top-left corner at (x, y). */
#ifndef FMNIST_DRAW_H
#define FMNIST_DRAW_H

#include <stdint.h>

#include "report/font.h"
#include "util/fileio.h"
#include "util/status.h"

typedef struct {
    uint8_t r, g, b;
} Rgb;

typedef struct {
    int w, h;
    uint8_t *px;  /* w*h*3 bytes, RGB, row-major from the top row (owned)    */
    Font *font;   /* the text's font (owned)                                 */
    Buf svg;      /* the SVG elements drawn so far, in order                 */
    int failed;   /* something ran out of memory: draw_write refuses it      */
} Image;

/* Allocates a w x h image (1..16384 each) filled with bg and loads its font
 * (font_load: errors name the file and the package to install). */
Status draw_image_init(Image *im, int w, int h, Rgb bg, Err *e);
/* The same image with a new size, all drawing gone, filled with bg; the
 * font stays (for charts that measure their text before knowing their
 * size). On failure im is freed. */
Status draw_image_resize(Image *im, int w, int h, Rgb bg, Err *e);
void draw_image_free(Image *im);
/* The pixel at (x, y); black outside the image. */
Rgb draw_get(const Image *im, int x, int y);
/* Blends c over pixel (x, y) with opacity a in [0, 1] (the pixels only: not
 * recorded in the SVG). */
void draw_blend(Image *im, int x, int y, Rgb c, double a);

/* Pixels [x, x+w) x [y, y+h) become c. */
void draw_fill_rect(Image *im, int x, int y, int w, int h, Rgb c);
/* A one-pixel outline of the same rectangle. */
void draw_rect(Image *im, int x, int y, int w, int h, Rgb c);

/* A segment from (x0, y0) to (x1, y1), width px wide with round ends,
 * anti-aliased. dash_on > 0 makes it dashed: dash_on pixels drawn, dash_off
 * skipped, measured along the line; *phase (may be NULL: start at 0) is the
 * distance into the pattern at the start, advanced by the segment's length
 * so that a polyline drawn segment by segment keeps one pattern. */
void draw_line(Image *im, double x0, double y0, double x1, double y1, double width, Rgb c, double dash_on,
               double dash_off, double *phase);
/* The segments joining points (xs[i], ys[i]), i < n, as one line (one SVG
 * path) with one dash pattern from its start; nothing unless all is finite. */
void draw_polyline(Image *im, const double *xs, const double *ys, int n, double width, Rgb c, double dash_on,
                   double dash_off);
/* A filled disc of radius r centred at (cx, cy), anti-aliased. */
void draw_disc(Image *im, double cx, double cy, double r, Rgb c);
/* A translucent band: every pixel whose centre has x in [x0, x1) and lies
 * between the segments (x0, ya0)-(x1, ya1) and (x0, yb0)-(x1, yb1) (either
 * above the other) is blended with c at opacity alpha, once. Because the
 * right edge is open, the bands of a polyline's consecutive segments do not
 * overlap. Not anti-aliased; nothing is drawn unless x0 < x1 and all is finite. */
void draw_band(Image *im, double x0, double ya0, double yb0, double x1, double ya1, double yb1, Rgb c, double alpha);
/* A grayscale picture (pix: h rows of w bytes, 0 black) with its top-left
 * corner at (x, y), each pixel a zoom x zoom square (in the SVG: an <image>
 * holding it as PNG, drawn without smoothing). */
void draw_gray(Image *im, int x, int y, const uint8_t *pix, int w, int h, int zoom);

/* UTF-8 text at size px (see above), its line box's top-left corner at
 * (x, y); '\n' is not special. */
void draw_text(Image *im, int x, int y, const char *s, int size, Rgb c);
/* The same turned 90 degrees counter-clockwise (reading bottom to top): the
 * text's first character is at the bottom; (x, y) is the top-left corner of
 * its bounding box, draw_text_height wide and draw_text_width high. */
void draw_text_up(Image *im, int x, int y, const char *s, int size, Rgb c);
/* The width in pixels of s drawn at size (its advance, rounded up; 0 for ""). */
int draw_text_width(const Image *im, const char *s, int size);
/* The height in pixels of a line of text at size (ascent + descent). */
int draw_text_height(const Image *im, int size);
/* Where the baseline is below the top of the line box at size. */
int draw_text_ascent(const Image *im, int size);

/* What a chart file is written as, by its extension. */
typedef enum { DRAW_PNG, DRAW_SVG } DrawFormat;
/* The format of path by its extension, .png or .svg (any case); anything
 * else is ST_ERR_ARG naming flag (e.g. "-o", "--confusion"), the file and
 * the allowed extensions. */
Status draw_format(const char *flag, const char *path, DrawFormat *fmt, Err *e);
/* im written to path atomically: PNG or SVG by its extension (draw_format;
 * the flag in messages is the file's own name). */
Status draw_write(const Image *im, const char *path, Err *e);
Status draw_write_png(const Image *im, const char *path, Err *e);
Status draw_write_svg(const Image *im, const char *path, Err *e);
/* The SVG document of im (header, elements, end) appended to b. */
void draw_svg_document(const Image *im, Buf *b);

#endif
