/* font.h - the built-in 5x7 bitmap font (ASCII 32..126) used for the text of
 * the PNG charts. A glyph is FONT_W x FONT_ROWS pixels (7 rows above the
 * baseline, 2 of descender); text advances FONT_ADVANCE pixels per character
 * and FONT_LINE per line, times the drawing scale. Characters outside 32..126
 * are drawn as '?'. */
#ifndef FMNIST_FONT_H
#define FMNIST_FONT_H

#define FONT_W 5
#define FONT_ROWS 9
#define FONT_ADVANCE 6
#define FONT_LINE 11

/* 1 if pixel (x, y) of character c's glyph is ink (x < FONT_W, y < FONT_ROWS;
 * y = 0 is the top row); 0 outside the glyph. */
int font_pixel(char c, int x, int y);
/* The character that glyph i (0..94) is written for: 32 + i if the table is in
 * order (for tests). */
char font_glyph_char(int i);

#endif
