/* image.h - pictures for `fmnist predict`: loading and conversion to the look
 * of a Fashion-MNIST image.
 *
 * image_load_gray reads PNG, PGM/PPM, JPEG, BMP, GIF, TGA (stb_image) as 8-bit
 * gray, transparent pixels composited over white. image_to_mnist is a pure
 * function of the pixels (no files, no globals; one scratch copy). */
#ifndef FMNIST_IMAGE_H
#define FMNIST_IMAGE_H

#include <stdint.h>

#include "util/status.h"

typedef struct {
    int w, h;
    uint8_t *px; /* h rows of w bytes; owned (free with image_free) */
} GrayImage;

/* ST_ERR_IO if the file cannot be opened, ST_ERR_FORMAT (with stb_image's
 * reason) if it is not an image it can decode, or if it is truncated (stb
 * would fill the missing pixels in silently), ST_ERR_NOMEM. */
Status image_load_gray(const char *path, GrayImage *img, Err *e);
void image_free(GrayImage *img);

/* Converts the w x h picture src into an oh x ow image the way Fashion-MNIST
 * images look (a light object on a black background, centered):
 *  1. if the picture's border is mostly light, inverts it (dark object on a
 *     light background, as in product photos);
 *  2. stretches the levels so the border's mean becomes 0 and the brightest
 *     pixel 255;
 *  3. crops to the bounding box of the pixels above 1/8 of full scale;
 *  4. scales the box (area averaging) so its longer side fills the output's
 *     shorter side, keeping the aspect ratio (Fashion-MNIST's objects touch
 *     two opposite edges: 87% of the test images span all 28 pixels);
 *  5. centers it on black. A blank picture gives a black image.
 * src is w*h bytes row-major; out is oh*ow bytes. */
void image_to_mnist(const uint8_t *src, int w, int h, uint8_t *out, int oh, int ow);

#endif
