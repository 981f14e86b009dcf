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
    uint8_t *px;  /* h rows of w bytes; owned (free with image_free) */
    int channels; /* the file's: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA */
    int opaque;   /* no pixel is transparent (px holds the file's levels) */
} GrayImage;

/* ST_ERR_IO if the file cannot be opened, ST_ERR_FORMAT (with stb_image's
 * reason) if it is not an image it can decode, or if it is truncated (stb
 * would fill the missing pixels in silently), ST_ERR_NOMEM. */
Status image_load_gray(const char *path, GrayImage *img, Err *e);
void image_free(GrayImage *img);

/* The least contrast (of 255) between an object and its background that
 * image_to_mnist takes for an object: below it the picture is blank or
 * nearly uniform. */
#define IMAGE_MIN_CONTRAST 20

/* What image_to_mnist found in a picture. */
typedef struct {
    int background; /* the background's level, 0..255 (from the border)       */
    int inverted;   /* the object is darker than the background: inverted      */
    int contrast;   /* the object's largest difference from the background     */
    int found;      /* contrast >= IMAGE_MIN_CONTRAST; else out is all black    */
    int as_is;      /* the picture had the output's size: not cropped, scaled
                       or stretched (at most inverted)                         */
} ImageInfo;

/* Converts the w x h picture src into an oh x ow image the way Fashion-MNIST
 * images look (a light object on a black background, centered):
 *  1. the background is the most common level of the border (the pixels
 *     within w/32 + 1 of an edge, in 16 bands of 16 levels: the median of
 *     the fullest band), so an object touching the edges does not move it;
 *  2. the object is what differs from it by more than 12 levels; if its
 *     darker pixels outweigh its lighter ones (the sum of their differences
 *     beyond 12), it is darker than the background and the picture is
 *     inverted. A white shirt on a light grey background is lighter than
 *     its background: it stays, and the background becomes black;
 *  3. the contrast is the object's largest difference from the background
 *     (that n/4096 of the n pixels reach, at least one: a few stray pixels
 *     of a big photo are no object); below IMAGE_MIN_CONTRAST no object is
 *     found (info->found 0) and out is black;
 *  4. a picture of the output's size (28x28) is taken as it is, inverted if
 *     step 2 says so, but not stretched, cropped or moved: a Fashion-MNIST
 *     image saved as a picture gives the network the same input as the IDX
 *     file;
 *  5. else the levels are stretched so the background becomes 0 and the
 *     contrast 255 (the other side of the background: 0), the picture
 *     cropped to the bounding box of the pixels above 1/8 of full scale and
 *     the box scaled (area averaging) so its longer side fills the output's
 *     shorter side, keeping the aspect ratio (Fashion-MNIST's objects touch
 *     two opposite edges: 87% of the test images span all 28 pixels), and
 *     centered on black.
 * src is w*h bytes row-major; out is oh*ow bytes; info may be NULL. A pure
 * function of the pixels (one scratch copy; out of memory: out is black and
 * info->found 0). */
void image_to_mnist(const uint8_t *src, int w, int h, uint8_t *out, int oh, int ow, ImageInfo *info);

#endif
