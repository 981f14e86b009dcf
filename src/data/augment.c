/* augment.c - crop, flip, erase (see augment.h).
 *
 * Sample i's draws are rng_hash_uniform(key, 32*i + k), k a fixed slot per
 * draw, so nothing depends on the order samples are processed in. Serial:
 * a batch is 100k pixels moved once, next to a forward pass of millions. */
#include "data/augment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

Status aug_parse(const char *spec, AugConfig *a, Err *e)
{
    char buf[256];
    if (!*spec || strlen(spec) >= sizeof buf) return err_set(e, ST_ERR_ARG, "--aug: expected crop=P, flip or erase");
    strcpy(buf, spec);
    char *save = NULL;
    int items = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), items++) {
        if (!strcmp(t, "flip")) a->flip = 1;
        else if (!strcmp(t, "erase")) a->erase = 1;
        else if (!strncmp(t, "crop=", 5)) {
            char *end;
            long p = strtol(t + 5, &end, 10);
            if (end == t + 5 || *end || p < 1 || p > 8)
                return err_set(e, ST_ERR_ARG, "--aug: crop=P needs a padding P from 1 to 8, got '%s'", t);
            a->crop = (int)p;
        } else {
            return err_set(e, ST_ERR_ARG, "--aug: expected crop=P, flip or erase, got '%s'", t);
        }
    }
    if (!items || spec[0] == ',' || spec[strlen(spec) - 1] == ',' || strstr(spec, ",,"))
        return err_set(e, ST_ERR_ARG, "--aug: expected crop=P, flip or erase, got '%s'", spec);
    return ST_OK;
}

void aug_format(const AugConfig *a, char *buf, size_t len)
{
    snprintf(buf, len, "%s%.0d%s%s%s%s", a->crop ? "crop=" : "", a->crop, a->crop && (a->flip || a->erase) ? "," : "",
             a->flip ? "flip" : "", a->flip && a->erase ? "," : "", a->erase ? "erase" : "");
}

int aug_active(const AugConfig *a) { return a->crop > 0 || a->flip || a->erase; }

uint64_t aug_key(uint64_t seed, uint64_t step) { return rng_mix64(rng_mix64(seed ^ 0xa09a09a09ULL) + step); }

/* The draw of slot k (< 32) of sample i, uniform in [0, 1). */
static float draw(uint64_t key, int i, int k) { return rng_hash_uniform(key, 32 * (uint64_t)i + (uint64_t)k); }

void aug_mirror_rows(float *x, size_t rows, int w)
{
    for (size_t y = 0; y < rows; y++) {
        float *row = x + y * (size_t)w;
        for (int c = 0; c < w / 2; c++) {
            float t = row[c];
            row[c] = row[w - 1 - c];
            row[w - 1 - c] = t;
        }
    }
}

void aug_apply(const AugConfig *a, float *x, int n, int first, int h, int w, float black, uint64_t key)
{
    size_t hw = (size_t)h * w;
    for (int s = 0; s < n; s++) {
        float *im = x + (size_t)s * hw;
        const int i = first + s; /* the draws' index: the place in the batch */
        if (a->crop > 0) {
            /* out(y, x) = in(y + dy, x + dx), black outside: the window at
             * (P + dy, P + dx) of the image padded by P. In place: walk in the
             * direction of the shift, so every source is read before it is
             * overwritten. */
            int p = a->crop, span = 2 * p + 1;
            int dy = (int)(draw(key, i, 0) * span) - p, dx = (int)(draw(key, i, 1) * span) - p;
            for (int yy = 0; yy < h; yy++) {
                int y = dy >= 0 ? yy : h - 1 - yy;
                for (int cc = 0; cc < w; cc++) {
                    int c = dx >= 0 ? cc : w - 1 - cc, sy = y + dy, sx = c + dx;
                    im[(size_t)y * w + c] = sy >= 0 && sy < h && sx >= 0 && sx < w ? im[(size_t)sy * w + sx] : black;
                }
            }
        }
        if (a->flip && draw(key, i, 2) < 0.5f) aug_mirror_rows(im, (size_t)h, w);
        if (a->erase && draw(key, i, 3) < 0.5f) {
            /* up to 10 tries (slots 8..27) for a rectangle of area s*h*w (s in
             * [0.02, 0.33]) and aspect r (log-uniform in [0.3, 3.3]) that fits */
            for (int t = 0; t < 10; t++) {
                double s = 0.02 + 0.31 * draw(key, i, 8 + 2 * t);
                double r = exp(log(0.3) + (log(3.3) - log(0.3)) * draw(key, i, 9 + 2 * t));
                int eh = (int)lround(sqrt(s * (double)hw * r)), ew = (int)lround(sqrt(s * (double)hw / r));
                if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
                int y0 = (int)(draw(key, i, 28) * (h - eh + 1)), x0 = (int)(draw(key, i, 29) * (w - ew + 1));
                for (int y = y0; y < y0 + eh; y++)
                    for (int c = x0; c < x0 + ew; c++) im[(size_t)y * w + c] = 0.0f;
                break;
            }
        }
    }
}
