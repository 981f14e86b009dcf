/* draw.h - an RGB image in memory and what the charts draw on it:
 * anti-aliased lines (solid, dashed or dotted) and discs, filled rectangles,
 * translucent bands, and text in the built-in bitmap font (font.h), horizontal or turned 90 degrees.
 *
 * Coordinates are pixels, x to the right and y down; (0, 0) is the top-left
 * pixel's corner, so pixel (i, j) covers [i, i+1) x [j, j+1) and its centre is
 * (i + 0.5, j + 0.5). Everything is clipped to the image; nothing allocates
 * but draw_image_init. */
#ifndef FMNIST_DRAW_H
#define FMNIST_DRAW_H

#include <stdint.h>

#include "util/status.h"

typedef struct {
    uint8_t r, g, b;
} Rgb;

typedef struct {
    int w, h;
    uint8_t *px; /* w*h*3 bytes, RGB, row-major from the top row (owned) */
} Image;

/* Allocates a w x h image (1..16384 each) filled with bg. */
Status draw_image_init(Image *im, int w, int h, Rgb bg, Err *e);
void draw_image_free(Image *im);
/* The pixel at (x, y); black outside the image. */
Rgb draw_get(const Image *im, int x, int y);
/* Blends c over pixel (x, y) with opacity a in [0, 1]. */
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
/* A filled disc of radius r centred at (cx, cy), anti-aliased. */
void draw_disc(Image *im, double cx, double cy, double r, Rgb c);
/* A translucent band: every pixel whose centre has x in [x0, x1) and lies
 * between the segments (x0, ya0)-(x1, ya1) and (x0, yb0)-(x1, yb1) (either
 * above the other) is blended with c at opacity alpha, once. Because the
 * right edge is open, the bands of a polyline's consecutive segments do not
 * overlap. Not anti-aliased; nothing is drawn unless x0 < x1 and all is finite. */
void draw_band(Image *im, double x0, double ya0, double yb0, double x1, double ya1, double yb1, Rgb c, double alpha);

/* Text of width draw_text_width(s, scale) and height FONT_ROWS*scale with its
 * top-left corner at (x, y); '\n' is not special. */
void draw_text(Image *im, int x, int y, const char *s, int scale, Rgb c);
/* The same turned 90 degrees counter-clockwise (reading bottom to top): the
 * text's first character is at the bottom; (x, y) is the top-left corner of
 * its bounding box, which is FONT_ROWS*scale wide and draw_text_width high. */
void draw_text_up(Image *im, int x, int y, const char *s, int scale, Rgb c);
/* Width in pixels of s drawn at scale (no trailing gap). */
int draw_text_width(const char *s, int scale);

#endif
