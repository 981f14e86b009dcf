/* dataset.c - locating and loading the Fashion-MNIST splits (see dataset.h).
 *
 * Builds on idx.c: picks the raw or .gz file of each half of a split, checks
 * the two halves against each other, and hands out normalized batches. The
 * search order for the data folder is fixed here so that the CLI, the tests
 * and tools/link-data.sh agree on it. */
#include "data/dataset.h"

#include "kernels/elementwise.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/idx.h"
#include "util/fileio.h"

static const char *const DATA_FILES[4] = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
};

static const char DATA_HOWTO[] =
    "install it with `apt-get install dataset-fashion-mnist` (as root), or put the four IDX "
    "files (raw or .gz) in data/ (`make data` links them there)";

/* 1 if path names something that is not a directory (stat follows links). */
static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

/* 1 if dir/name or dir/name.gz exists; a path that does not fit counts as absent. */
static int dir_has(const char *dir, const char *name)
{
    char p[FM_PATH_NAME];
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    if (n < 0 || (size_t)n + 3 >= sizeof p) return 0;
    if (is_file(p)) return 1;
    memcpy(p + n, ".gz", 4);
    return is_file(p);
}

/* NULL if dir holds all four files, else the name of the first missing one. */
static const char *dir_missing(const char *dir)
{
    for (int i = 0; i < 4; i++)
        if (!dir_has(dir, DATA_FILES[i])) return DATA_FILES[i];
    return NULL;
}

static Status copy_out(const char *dir, char *out, size_t outlen, Err *e)
{
    size_t len = strlen(dir);
    if (len >= outlen)
        return err_set(e, ST_ERR_ARG, "%s: data folder path too long (%zu bytes, room for %zu)", dir,
                       len, outlen ? outlen - 1 : 0);
    memcpy(out, dir, len + 1);
    return ST_OK;
}

/* The folder the user named (what: "" for --data, "$FMNIST_DATA=" for the
 * variable): used if it holds the four files, else an error saying why;
 * never a fallback to another folder. */
static Status named_dir(const char *dir, const char *what, char *out, size_t outlen, Err *e)
{
    struct stat sb;
    int err = stat(dir, &sb) != 0 ? errno : !S_ISDIR(sb.st_mode) ? ENOTDIR : 0;
    if (err)
        return err_set(e, ST_ERR_IO, "%s%s: cannot open data folder: %s%s", what, dir, strerror(err),
                       *what ? " (unset FMNIST_DATA to use data/ or " DATA_SYSTEM_DIR ")" : "");
    const char *miss = dir_missing(dir);
    if (miss)
        return err_set(e, ST_ERR_IO, "%s%s: no %s or %s.gz in this data folder; %s", what, dir, miss, miss,
                       DATA_HOWTO);
    return copy_out(dir, out, outlen, e);
}

Status data_find_dir(const char *flag_dir, const char *env_dir, char *out, size_t outlen, Err *e)
{
    if (flag_dir) {
        if (!*flag_dir) return err_set(e, ST_ERR_ARG, "empty data folder given");
        return named_dir(flag_dir, "", out, outlen, e);
    }
    if (env_dir && *env_dir) return named_dir(env_dir, "$FMNIST_DATA=", out, outlen, e);
    static const char *const fixed[2] = {"data", DATA_SYSTEM_DIR};
    for (int i = 0; i < 2; i++)
        if (!dir_missing(fixed[i])) return copy_out(fixed[i], out, outlen, e);
    return err_set(e, ST_ERR_IO, "Fashion-MNIST not found; looked in $FMNIST_DATA (unset), %s/, %s/; %s", fixed[0],
                   fixed[1], DATA_HOWTO);
}

/* Chooses dir/prefix-name, raw if present, else .gz. */
static Status pick_file(const char *dir, const char *prefix, const char *name, char *path,
                        size_t len, Err *e)
{
    int n = snprintf(path, len, "%s/%s-%s", dir, prefix, name);
    if (n < 0 || (size_t)n + 3 >= len)
        return err_set(e, ST_ERR_ARG, "%s: data folder path too long", dir);
    struct stat sb;
    if (stat(path, &sb) == 0) return ST_OK;
    int saved = errno;
    memcpy(path + n, ".gz", 4);
    if (stat(path, &sb) == 0) return ST_OK;
    path[n] = '\0';
    return err_set(e, ST_ERR_IO, "%s: cannot open: %s (nor is there a .gz)", path, strerror(saved));
}

Status data_split_files(const char *dir, const char *split, char *images, char *labels, size_t len, Err *e)
{
    const char *prefix = !strcmp(split, "train") ? "train" : !strcmp(split, "test") ? "t10k" : NULL;
    if (!prefix) return err_set(e, ST_ERR_ARG, "unknown split '%s' (expected train or test)", split);
    Status st = pick_file(dir, prefix, "images-idx3-ubyte", images, len, e);
    return st ? st : pick_file(dir, prefix, "labels-idx1-ubyte", labels, len, e);
}

Status data_load(const char *dir, const char *split, int nclasses, Dataset *out, Err *e)
{
    memset(out, 0, sizeof *out);
    const char *prefix;
    if (strcmp(split, "train") == 0) prefix = "train";
    else if (strcmp(split, "test") == 0) prefix = "t10k";
    else return err_set(e, ST_ERR_ARG, "unknown split '%s' (expected train or test)", split);
    if (nclasses < 1 || nclasses > 256)
        return err_set(e, ST_ERR_ARG, "number of classes %d out of range 1..256", nclasses);

    char ipath[FM_PATH_NAME], lpath[FM_PATH_NAME];
    Status st;
    if ((st = pick_file(dir, prefix, "images-idx3-ubyte", ipath, sizeof ipath, e)) != ST_OK) return st;
    if ((st = pick_file(dir, prefix, "labels-idx1-ubyte", lpath, sizeof lpath, e)) != ST_OK) return st;

    IdxImages im;
    IdxLabels lb;
    if ((st = idx_read_images(ipath, &im, e)) != ST_OK) return st;
    if ((st = idx_read_labels(lpath, &lb, e)) != ST_OK) {
        idx_images_free(&im);
        return st;
    }
    if (im.n != lb.n) {
        st = err_set(e, ST_ERR_FORMAT, "%s: count mismatch: %" PRIu32 " labels, but %s has %" PRIu32 " images",
                     lpath, lb.n, ipath, im.n);
        goto fail;
    }
    if (im.n > INT_MAX || im.rows > INT_MAX || im.cols > INT_MAX) {
        st = err_set(e, ST_ERR_FORMAT, "%s: %" PRIu32 " images of %" PRIu32 "x%" PRIu32
                     " is too large for this program (each must be <= %d)", ipath, im.n, im.rows,
                     im.cols, INT_MAX);
        goto fail;
    }
    for (uint32_t i = 0; i < lb.n; i++) {
        if (lb.labels[i] >= nclasses) {
            st = err_set(e, ST_ERR_FORMAT,
                         "%s: label %u at index %" PRIu32 " is out of range (expected < %d)", lpath,
                         (unsigned)lb.labels[i], i, nclasses);
            goto fail;
        }
    }
    out->n = out->alloc_n = (int)im.n;
    out->h = (int)im.rows;
    out->w = (int)im.cols;
    out->pixels = im.pixels; /* ownership moves to *out */
    out->labels = lb.labels;
    return ST_OK;

fail:
    idx_images_free(&im);
    idx_labels_free(&lb);
    return st;
}

void dataset_free(Dataset *d)
{
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

void dataset_truncate(Dataset *d, int n)
{
    if (n < 0) n = 0;
    if (d->alloc_n < d->n) d->alloc_n = d->n;
    if (n < d->n) d->n = n;
}

size_t dataset_bytes(const Dataset *d)
{
    size_t n = (size_t)(d->alloc_n > d->n ? d->alloc_n : d->n);
    return d->pixels ? n * ((size_t)d->h * (size_t)d->w + 1) : 0;
}

void dataset_batch(const Dataset *d, const uint32_t *idx, int n, float mean, float std, float *x,
                   int *labels)
{
    /* A byte has 256 values: normalize each once, then gather by lookup. */
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean) / std;
    ew_gather_lut((size_t)n, (size_t)d->h * (size_t)d->w, d->pixels, idx, lut, x);
    for (int i = 0; i < n; i++) labels[i] = d->labels[idx[i]];
}
