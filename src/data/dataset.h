/* dataset.h - the Fashion-MNIST splits in memory, and batches drawn from them.
 *
 * Finds the folder holding the four IDX files, loads a split (images and
 * labels, checked against each other), and gathers normalized float batches
 * for the network. Pixels stay uint8 in memory (47 MB for the training set);
 * they become floats only per batch. No shuffling here: the caller owns the RNG. */
#ifndef FMNIST_DATASET_H
#define FMNIST_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

/* The most classes IDX labels (bytes) can name. */
#define DATA_MAX_CLASSES 256

/* The default system location of the Debian package dataset-fashion-mnist. */
#define DATA_SYSTEM_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    int n, h, w;
    uint8_t *pixels; /* n*h*w bytes, sample-major then row-major; owned */
    uint8_t *labels; /* n class indices, each < the nclasses given to data_load; owned */
    int alloc_n;     /* images the buffers were allocated for: more than n after
                        dataset_truncate or a hold-out (0: n) */
} Dataset;

/* Find the folder holding the four files (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
 * each raw or with .gz). A folder the user named is used or refused, never
 * replaced by another: flag_dir if not NULL, else env_dir (the caller passes
 * getenv("FMNIST_DATA"); NULL or "" = unset). With neither, looks in "data"
 * (relative to the working directory), then DATA_SYSTEM_DIR. The folder
 * found is copied into out (outlen bytes, NUL included).
 * Errors: ST_ERR_ARG if flag_dir is "" or the path does not fit in out;
 * ST_ERR_IO if the named folder cannot be opened or lacks a file (the
 * message names it, as "$FMNIST_DATA=DIR" for the variable, and the file)
 * or no candidate holds the data (the message lists where it looked and how
 * to get the data). */
Status data_find_dir(const char *flag_dir, const char *env_dir, char *out, size_t outlen, Err *e);

/* Load split "train" (train-*) or "test" (t10k-*) from dir, each file raw or
 * .gz (raw preferred when both exist). Checks that the image and label
 * counts are equal and that every label is < nclasses (1..256).
 * On success *out owns both buffers (free with dataset_free); on failure *out
 * is zeroed. Errors: ST_ERR_ARG (unknown split, bad nclasses), ST_ERR_IO (a
 * file is missing or unreadable), ST_ERR_FORMAT (see idx.h; counts differ; a
 * label is out of range: the message names the label file, index and value;
 * a dimension does not fit an int), ST_ERR_NOMEM. */
Status data_load(const char *dir, const char *split, int nclasses, Dataset *out, Err *e);

/* The two files data_load reads for split ("train" or "test") in dir: the
 * images and the labels, each raw if it exists, else .gz, into buffers of len
 * bytes. Errors: those of data_load for a missing file or a bad split. */
Status data_split_files(const char *dir, const char *split, char *images, char *labels, size_t len, Err *e);

/* Free both buffers and zero the struct; NULL and zeroed structs are fine. */
void dataset_free(Dataset *d);

/* Keep only the first n samples (no reallocation). n is clamped to [0, d->n]. */
void dataset_truncate(Dataset *d, int n);

/* The bytes d's buffers take (pixels and labels, as allocated). */
size_t dataset_bytes(const Dataset *d);

/* Gather samples idx[0..n) into x, (n, h*w) floats, with
 * x = (p/255 - mean)/std for each pixel byte p, and their classes into
 * labels (n ints). Every idx[i] must be < d->n; std must be nonzero. */
void dataset_batch(const Dataset *d, const uint32_t *idx, int n, float mean, float std, float *x,
                   int *labels);

#endif
