/* idx.h - reader for the IDX files of (Fashion-)MNIST, raw or gzipped.
 *
 * Reads the two IDX kinds the data set uses: unsigned-byte images (magic
 * 0x00000803, dims n, rows, cols) and unsigned-byte labels (magic 0x00000801,
 * dim n). Everything in the file is validated before it is trusted; no other
 * IDX element types are supported. Knows nothing of splits or normalization. */
#ifndef FMNIST_IDX_H
#define FMNIST_IDX_H

#include <stdint.h>

#include "util/status.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
/* Largest payload accepted; a header claiming more is refused before any
 * allocation (the real training images are 47 MB). */
#define IDX_MAX_PAYLOAD ((uint64_t)1 << 31)

typedef struct {
    uint32_t n, rows, cols;
    uint8_t *pixels; /* n*rows*cols bytes, image-major then row-major; owned */
} IdxImages;

typedef struct {
    uint32_t n;
    uint8_t *labels; /* n bytes; owned */
} IdxLabels;

/* Read an IDX image file (raw, or gzip: detected from the content, not the
 * name). On success *out owns its buffer (free with idx_images_free). On
 * failure *out is zeroed and e says "PATH: what was wrong":
 *   ST_ERR_IO      the file cannot be opened or read (message has strerror);
 *   ST_ERR_FORMAT  bad magic, zero or absurd dims, truncated payload,
 *                  trailing bytes, corrupt gzip stream;
 *   ST_ERR_NOMEM   the buffer could not be allocated. */
Status idx_read_images(const char *path, IdxImages *out, Err *e);

/* Same for an IDX label file. */
Status idx_read_labels(const char *path, IdxLabels *out, Err *e);

/* Free the buffer and zero the struct; NULL and zeroed structs are fine. */
void idx_images_free(IdxImages *im);
void idx_labels_free(IdxLabels *lb);

#endif
