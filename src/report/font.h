/* font.h - the TrueType font of the charts' text: DejaVu Sans from Debian's
 * fonts-dejavu-core, read at run time and drawn through stb_truetype
 * (Debian's libstb).
 *
 * Which file: $FMNIST_FONT when it is set and not empty, else
 * FONT_DEFAULT_PATH. A font that cannot be read or parsed is an error that
 * names the file and the package to install; there is no fallback.
 *
 * Sizes are CSS font sizes: px is the em square in pixels (SVG's font-size),
 * so that a PNG and an SVG of the same chart show the same text. A line of
 * text is font_line_height(px) tall (ascent + descent), its baseline
 * font_ascent(px) below its top. Text is UTF-8; a byte sequence that is not
 * is drawn as '?', a character the font lacks as its missing-glyph box. */
#ifndef FMNIST_FONT_H
#define FMNIST_FONT_H

#include <stdint.h>

#include "util/status.h"

#define FONT_DEFAULT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define FONT_ENV "FMNIST_FONT"
#define FONT_PACKAGE "fonts-dejavu-core"
#define FONT_FAMILY "DejaVu Sans" /* the SVG's font-family */

typedef struct Font Font;

/* The charts' font ($FMNIST_FONT or FONT_DEFAULT_PATH). */
Status font_load(Font **f, Err *e);
/* A TrueType file (at most 64 MiB). */
Status font_load_file(const char *path, Font **f, Err *e);
void font_free(Font *f);
/* The file it was read from. */
const char *font_path(const Font *f);

/* The advance width of s at size px, with kerning (0 for ""). */
double font_width(const Font *f, const char *s, double px);
double font_ascent(const Font *f, double px);  /* above the baseline, > 0 */
double font_descent(const Font *f, double px); /* below the baseline, > 0 */
/* ceil(ascent + descent): the height of a line of text. */
int font_line_height(const Font *f, double px);

/* s drawn at size px into a new coverage mask (*mask: malloc'd, *w x *h
 * bytes, 0 = none .. 255 = full, row-major from the top): *w =
 * ceil(font_width), *h = font_line_height, the baseline at
 * round(font_ascent) from the top. Errors: ST_ERR_NOMEM. */
Status font_render(const Font *f, const char *s, double px, uint8_t **mask, int *w, int *h, Err *e);

/* The next character of UTF-8 text at *s (advanced past it): its code
 * point, '?' for a malformed sequence, 0 at the end. */
unsigned font_utf8_next(const char **s);

#endif
