/* image.c - loading pictures (stb_image, linked from Debian's libstb; the
 * implementation is compiled there, never here) and converting them to a
 * Fashion-MNIST-like image (steps in image.h).
 *
 * Resampling is area averaging: each output pixel is the mean of the source
 * area it covers, weighted by coverage, which neither aliases when shrinking
 * a photo nor invents detail when enlarging a small sketch. */
#include "model/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "util/fileio.h"

#define IMAGE_MAX_PIXELS ((size_t)1 << 26)

/* stb_image reads through these, as through its own stdio callbacks, and
 * they notice what stb does not report: a decoder that wants bytes past the
 * end of the file. stb then decodes zeros (a truncated PGM, BMP, TGA) or
 * stops early (a truncated GIF) and returns a picture without an error.
 * stb refills its buffer (its first read, and the same address each time)
 * with reads that may come back short at the end of the file; any other read
 * (stbi__getn into the picture) must be served in full, and no read at all
 * may find the file at its end. */
typedef struct {
    FILE *f;
    const char *buffer; /* stb's own buffer: where its first read goes */
    int past_end;       /* a read asked for bytes after the end of the file */
} Reader;

static int rd_read(void *user, char *data, int size)
{
    Reader *r = user;
    if (!r->buffer) r->buffer = data;
    size_t n = size > 0 ? fread(data, 1, (size_t)size, r->f) : 0;
    if (size > 0 && (n == 0 || (n < (size_t)size && data != r->buffer))) r->past_end = 1;
    return (int)n;
}

static void rd_skip(void *user, int n)
{
    Reader *r = user;
    fseek(r->f, n, SEEK_CUR);
    int c = fgetc(r->f); /* sets the end-of-file flag as stb's own skip does */
    if (c != EOF) ungetc(c, r->f);
}

static int rd_eof(void *user) { return feof(((Reader *)user)->f) || ferror(((Reader *)user)->f); }

Status image_load_gray(const char *path, GrayImage *img, Err *e)
{
    memset(img, 0, sizeof *img);
    FILE *f;
    Status st = file_fopen_regular(path, &f, e); /* a FIFO or a folder is refused at once */
    if (st) return st;
    int w, h, comp;
    const stbi_io_callbacks io = {rd_read, rd_skip, rd_eof};
    Reader r = {f, NULL, 0};
    /* the header's size first: a picture claiming absurd dimensions is
     * refused before anything is allocated for it */
    if (stbi_info_from_callbacks(&io, &r, &w, &h, &comp) && (size_t)w * (size_t)h > IMAGE_MAX_PIXELS) {
        fclose(f);
        return err_set(e, ST_ERR_FORMAT, "%s: %dx%d pixels, more than the %d megapixels fmnist reads", path, w, h,
                       (int)(IMAGE_MAX_PIXELS >> 20));
    }
    rewind(f);
    r = (Reader){f, NULL, 0};
    stbi_uc *p = stbi_load_from_callbacks(&io, &r, &w, &h, &comp, 2); /* gray + alpha */
    int failed = ferror(f);
    /* stb stops reading a GIF after its first picture: the end of the file
     * must still be the GIF's trailer byte, or the file was cut */
    unsigned char magic[4] = {0}, last = 0;
    int gif_cut = p && !fseek(f, 0, SEEK_SET) && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GIF8", 4) &&
                  (fseek(f, -1, SEEK_END) || fread(&last, 1, 1, f) != 1 || last != 0x3b);
    failed |= ferror(f);
    fclose(f);
    if (failed) {
        stbi_image_free(p);
        return err_set(e, ST_ERR_IO, "%s: read error", path);
    }
    if (!p) return err_set(e, ST_ERR_FORMAT, "%s: not a readable image (%s)", path, stbi_failure_reason());
    if (gif_cut) {
        stbi_image_free(p);
        return err_set(e, ST_ERR_FORMAT, "%s: truncated: the GIF ends without its trailer (0x3B)", path);
    }
    if (r.past_end || w < 1 || h < 1) {
        stbi_image_free(p);
        if (w < 1 || h < 1) /* stb reads a PGM header cut short as 0x0 */
            return err_set(e, ST_ERR_FORMAT, "%s: truncated: the picture has no pixels (%dx%d)", path, w, h);
        return err_set(e, ST_ERR_FORMAT, "%s: truncated: the picture's data ends before its %dx%d pixels do", path,
                       w, h);
    }
    size_t n = (size_t)w * (size_t)h;
    img->px = malloc(n ? n : 1);
    if (!img->px) {
        stbi_image_free(p);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    /* transparent pixels over white: p = a*g + (1-a)*255 */
    img->opaque = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned g = p[2 * i], a = p[2 * i + 1];
        img->px[i] = (uint8_t)((g * a + 255u * (255u - a) + 127u) / 255u);
        if (a != 255) img->opaque = 0;
    }
    stbi_image_free(p);
    img->w = w;
    img->h = h;
    img->channels = comp;
    return ST_OK;
}

void image_free(GrayImage *img)
{
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

/* The background: the most common level of the pixels within a frame of
 * width fw around the picture, in 16 bands of 16 levels (the median of the
 * fullest band; ties: the darker band). */
static int border_level(const uint8_t *src, int w, int h, int fw)
{
    long band[16] = {0}, count[256] = {0};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (y < fw || y >= h - fw || x < fw || x >= w - fw) {
                uint8_t v = src[(size_t)y * w + x];
                band[v >> 4]++;
                count[v]++;
            }
    int k = 0;
    for (int b = 1; b < 16; b++)
        if (band[b] > band[k]) k = b;
    long half = (band[k] + 1) / 2, seen = 0;
    for (int v = 16 * k; v < 16 * k + 16; v++)
        if ((seen += count[v]) >= half) return v;
    return 16 * k;
}

/* Mean of a[y0..y1) x [x0..x1) (real bounds) of the level-mapped picture. */
static double area_mean(const float *a, int w, double x0, double x1, double y0, double y1)
{
    double sum = 0, wsum = 0;
    for (int y = (int)y0; y < y1; y++) {
        double wy = (y + 1 < y1 ? y + 1 : y1) - (y > y0 ? y : y0);
        if (wy <= 0) continue;
        for (int x = (int)x0; x < x1; x++) {
            double wx = (x + 1 < x1 ? x + 1 : x1) - (x > x0 ? x : x0);
            if (wx <= 0) continue;
            sum += wx * wy * a[(size_t)y * w + x];
            wsum += wx * wy;
        }
    }
    return wsum > 0 ? sum / wsum : 0;
}

/* Levels closer than this to the background are the background's (noise,
 * paper texture, JPEG ringing): they weigh nothing in the choice of sides. */
#define IMAGE_NOISE 12

void image_to_mnist(const uint8_t *src, int w, int h, uint8_t *out, int oh, int ow, ImageInfo *info)
{
    ImageInfo in = {0};
    memset(out, 0, (size_t)oh * (size_t)ow);
    if (info) *info = in;
    if (w < 1 || h < 1 || oh < 1 || ow < 1) return;
    const size_t n = (size_t)w * (size_t)h;
    int fw = (w < h ? w : h) / 32 + 1;
    const int bg = border_level(src, w, h, fw);
    in.background = bg;
    /* which side of the background the object is on: the weight of the
     * pixels beyond the noise on each side */
    double light = 0, dark = 0;
    long above[256] = {0}, below[256] = {0}; /* pixels by their difference from bg */
    for (size_t i = 0; i < n; i++) {
        int d = src[i] - bg;
        if (d > IMAGE_NOISE) light += d - IMAGE_NOISE;
        if (-d > IMAGE_NOISE) dark += -d - IMAGE_NOISE;
        if (d > 0) above[d]++;
        if (d < 0) below[-d]++;
    }
    /* the contrast: the largest difference at least n/4096 pixels (one in a
     * small picture) reach, so that a few stray pixels of a big photo are
     * not an object */
    const long least = n / 4096 > 1 ? (long)(n / 4096) : 1;
    int most_light = 0, most_dark = 0;
    long sa = 0, sb = 0;
    for (int d = 255; d > 0; d--) {
        if ((sa += above[d]) >= least && !most_light) most_light = d;
        if ((sb += below[d]) >= least && !most_dark) most_dark = d;
    }
    in.inverted = dark > light || (dark == light && most_dark > most_light);
    in.contrast = in.inverted ? most_dark : most_light;
    in.found = in.contrast >= IMAGE_MIN_CONTRAST;
    in.as_is = w == ow && h == oh;
    if (info) *info = in;
    if (!in.found) return;
    if (in.as_is) { /* the picture is the input: only turned light-on-dark if it is not */
        for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(in.inverted ? 255 - src[i] : src[i]);
        return;
    }
    float *a = malloc(n * sizeof *a);
    if (!a) { /* a black image, no object: never a crash */
        if (info) info->found = 0;
        return;
    }
    const double scale = 255.0 / in.contrast;
    int x0 = w, x1 = -1, y0 = h, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int d = src[(size_t)y * w + x] - bg;
            double v = (in.inverted ? -d : d) * scale;
            float *p = &a[(size_t)y * w + x];
            *p = (float)(v < 0 ? 0 : v > 255 ? 255 : v);
            if (*p > 255.0f / 8) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
        }
    int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    /* Fashion-MNIST's objects fill the frame: the longer side of 87% of the
     * test images spans all 28 pixels (MNIST digits, unlike them, fit 20x20) */
    int fit = oh < ow ? oh : ow;
    double s = (double)fit / (bw > bh ? bw : bh);
    int nw = (int)(bw * s + 0.5), nh = (int)(bh * s + 0.5);
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    if (nw > ow) nw = ow;
    if (nh > oh) nh = oh;
    int ox = (ow - nw) / 2, oy = (oh - nh) / 2;
    double sx = (double)bw / nw, sy = (double)bh / nh; /* source pixels per output pixel */
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++) {
            double v = area_mean(a, w, x0 + x * sx, x0 + (x + 1) * sx, y0 + y * sy, y0 + (y + 1) * sy);
            out[(size_t)(oy + y) * ow + ox + x] = (uint8_t)(v + 0.5);
        }
    free(a);
}
