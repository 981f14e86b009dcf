/* font.c - the charts' TrueType font through stb_truetype (see font.h).
 *
 * The file is read whole and kept for the font's life: stb_truetype reads
 * the glyphs from it. Glyphs are rasterised with a subpixel shift each, so
 * that text keeps the font's spacing at every size, and antialiased (8-bit
 * coverage). */
#include "report/font.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_truetype.h>

#include "util/fileio.h"

struct Font {
    stbtt_fontinfo info;
    char *data;            /* the file (owned) */
    char path[FM_PATH];
    int ascent, descent;   /* font units; descent < 0 */
    double em_scale;       /* pixels per font unit at px = 1 */
};

#define FONT_MAX_BYTES (64u << 20)

Status font_load_file(const char *path, Font **out, Err *e)
{
    *out = NULL;
    Font *f = calloc(1, sizeof *f);
    if (!f) return err_set(e, ST_ERR_NOMEM, "out of memory for a font");
    size_t len;
    Status st = file_read_all(path, FONT_MAX_BYTES, &f->data, &len, e);
    if (st) {
        free(f);
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        return err_set(e, st, "the charts' font: %s (install the package %s, or set %s to a TrueType file)", why,
                       FONT_PACKAGE, FONT_ENV);
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    int off = len >= 12 ? stbtt_GetFontOffsetForIndex((const unsigned char *)f->data, 0) : -1;
    if (off < 0 || !stbtt_InitFont(&f->info, (const unsigned char *)f->data, off)) {
        font_free(f);
        return err_set(e, ST_ERR_FORMAT, "%s: not a TrueType font (the charts need one: %s, or set %s)", path,
                       FONT_PACKAGE, FONT_ENV);
    }
    int gap;
    stbtt_GetFontVMetrics(&f->info, &f->ascent, &f->descent, &gap);
    f->em_scale = stbtt_ScaleForMappingEmToPixels(&f->info, 1.0f);
    if (f->ascent <= 0 || f->descent >= 0 || !(f->em_scale > 0)) {
        font_free(f);
        return err_set(e, ST_ERR_FORMAT, "%s: a TrueType font without usable metrics", path);
    }
    *out = f;
    return ST_OK;
}

Status font_load(Font **f, Err *e)
{
    const char *env = getenv(FONT_ENV);
    return font_load_file(env && *env ? env : FONT_DEFAULT_PATH, f, e);
}

void font_free(Font *f)
{
    if (!f) return;
    free(f->data);
    free(f);
}

const char *font_path(const Font *f)
{
    return f->path;
}

unsigned font_utf8_next(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    if (!*p) return 0;
    int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) {
        (*s)++;
        return '?';
    }
    unsigned cp = n == 0 ? *p : *p & (0x3F >> n);
    for (int k = 1; k <= n; k++) {
        if ((p[k] & 0xC0) != 0x80) { /* cut short: the bytes read so far are one '?' */
            *s += k;
            return '?';
        }
        cp = cp << 6 | (p[k] & 0x3F);
    }
    *s += n + 1;
    static const unsigned MIN[4] = {0, 0x80, 0x800, 0x10000};
    return cp < MIN[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? '?' : cp;
}

double font_width(const Font *f, const char *s, double px)
{
    double sc = f->em_scale * px, x = 0;
    unsigned prev = 0, cp;
    while ((cp = font_utf8_next(&s))) {
        int adv, lsb;
        stbtt_GetCodepointHMetrics(&f->info, (int)cp, &adv, &lsb);
        if (prev) x += sc * stbtt_GetCodepointKernAdvance(&f->info, (int)prev, (int)cp);
        x += sc * adv;
        prev = cp;
    }
    return x;
}

double font_ascent(const Font *f, double px)
{
    return f->ascent * f->em_scale * px;
}

double font_descent(const Font *f, double px)
{
    return -f->descent * f->em_scale * px;
}

int font_line_height(const Font *f, double px)
{
    return (int)ceil(font_ascent(f, px) + font_descent(f, px));
}

Status font_render(const Font *f, const char *s, double px, uint8_t **mask, int *w, int *h, Err *e)
{
    *w = (int)ceil(font_width(f, s, px)), *h = font_line_height(f, px);
    if (*w < 1) *w = 1;
    *mask = calloc((size_t)*w * (size_t)*h, 1);
    if (!*mask) return err_set(e, ST_ERR_NOMEM, "out of memory for a %dx%d text", *w, *h);
    float sc = (float)(f->em_scale * px);
    int base = (int)lround(font_ascent(f, px));
    double x = 0;
    unsigned prev = 0, cp;
    uint8_t *glyph = NULL;
    size_t glyph_cap = 0;
    while ((cp = font_utf8_next(&s))) {
        int adv, lsb, x0, y0, x1, y1;
        if (prev) x += sc * stbtt_GetCodepointKernAdvance(&f->info, (int)prev, (int)cp);
        stbtt_GetCodepointHMetrics(&f->info, (int)cp, &adv, &lsb);
        double fx = floor(x);
        float shift = (float)(x - fx);
        stbtt_GetCodepointBitmapBoxSubpixel(&f->info, (int)cp, sc, sc, shift, 0, &x0, &y0, &x1, &y1);
        int gw = x1 - x0, gh = y1 - y0;
        if (gw > 0 && gh > 0) {
            size_t need = (size_t)gw * (size_t)gh;
            if (need > glyph_cap) {
                uint8_t *g = realloc(glyph, need);
                if (!g) {
                    free(glyph), free(*mask), *mask = NULL;
                    return err_set(e, ST_ERR_NOMEM, "out of memory for a glyph");
                }
                glyph = g, glyph_cap = need;
            }
            stbtt_MakeCodepointBitmapSubpixel(&f->info, glyph, gw, gh, gw, sc, sc, shift, 0, (int)cp);
            for (int j = 0; j < gh; j++)
                for (int i = 0; i < gw; i++) {
                    int mx = (int)fx + x0 + i, my = base + y0 + j;
                    if (mx < 0 || my < 0 || mx >= *w || my >= *h) continue;
                    uint8_t *m = *mask + (size_t)my * (size_t)*w + (size_t)mx;
                    unsigned v = *m + glyph[(size_t)j * (size_t)gw + (size_t)i];
                    *m = (uint8_t)(v > 255 ? 255 : v);
                }
        }
        x += sc * adv;
        prev = cp;
    }
    free(glyph);
    return ST_OK;
}
