/* test_idx.c - Check suite for the data layer: src/data/idx.c and dataset.c.
 *
 * Writes its own IDX files, raw and gzipped, under a mkdtemp folder in /tmp
 * (removed afterwards): good files of several shapes, and hostile ones
 * (truncated at every offset, trailing bytes, bad magic, absurd or zero dims,
 * corrupt gzip). Also batches, the data-folder search order, and the real
 * data set when the Debian package is installed (skipped visibly otherwise). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"
#include "data/idx.h"

/* The suite's temp folder. Created and removed by an unchecked fixture, which
 * runs in the runner process, so it is cleaned up even when a test fails. */
static char g_root[64];

static void rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void root_setup(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/fmnist-test-idx-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_root));
}

static void root_teardown(void)
{
    if (g_root[0]) rm_tree(g_root);
}

/* A fresh folder for one test, inside g_root. */
static void make_dir(char *dir, size_t len)
{
    snprintf(dir, len, "%s/t-XXXXXX", g_root);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t pixel_at(size_t i) { return (uint8_t)(i * 37u + 11u); }

/* An IDX image file in memory: header + payload of pixel_at(i). */
static uint8_t *image_bytes(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t *len)
{
    size_t payload = (size_t)n * rows * cols;
    *len = 16 + payload;
    uint8_t *b = malloc(*len);
    ck_assert_ptr_nonnull(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < payload; i++) b[16 + i] = pixel_at(i);
    return b;
}

/* An IDX label file in memory; labels[i] = i % mod. */
static uint8_t *label_bytes(uint32_t magic, uint32_t n, unsigned mod, size_t *len)
{
    *len = 8 + (size_t)n;
    uint8_t *b = malloc(*len);
    ck_assert_ptr_nonnull(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++) b[8 + i] = (uint8_t)(i % mod);
    return b;
}

static void write_file(const char *path, const void *buf, size_t len, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        ck_assert_ptr_nonnull(g);
        if (len) ck_assert_int_eq(gzwrite(g, buf, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        if (len) ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t *b = malloc(1 << 20);
    ck_assert_ptr_nonnull(b);
    *len = fread(b, 1, 1 << 20, f);
    ck_assert_int_eq(fclose(f), 0);
    return b;
}

/* The message starts with path and contains word. */
static void assert_msg(const Err *e, const char *path, const char *word)
{
    ck_assert_msg(strncmp(e->msg, path, strlen(path)) == 0, "message '%s' does not start with '%s'",
                  e->msg, path);
    ck_assert_msg(strstr(e->msg, word) != NULL, "message '%s' lacks '%s'", e->msg, word);
}

static void assert_images_zeroed(const IdxImages *im)
{
    ck_assert_ptr_null(im->pixels);
    ck_assert_uint_eq(im->n, 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- good files ---------------------------------------------------------- */

static const uint32_t GOOD_SHAPES[][3] = {{3, 28, 28}, {4, 5, 7}, {1, 28, 28}, {1, 1, 1}, {2, 7, 5}};
#define N_GOOD_SHAPES ((int)(sizeof GOOD_SHAPES / sizeof GOOD_SHAPES[0]))

START_TEST(images_good) /* loop: shape _i/2, gzip _i%2 */
{
    const uint32_t *s = GOOD_SHAPES[_i / 2];
    int gz = _i % 2;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/img%s", dir, gz ? ".gz" : "");
    size_t len;
    uint8_t *b = image_bytes(IDX_MAGIC_IMAGES, s[0], s[1], s[2], &len);
    write_file(path, b, len, gz);
    IdxImages im;
    Err e = {{0}};
    ck_assert_msg(idx_read_images(path, &im, &e) == ST_OK, "%s", e.msg);
    ck_assert_uint_eq(im.n, s[0]);
    ck_assert_uint_eq(im.rows, s[1]);
    ck_assert_uint_eq(im.cols, s[2]);
    ck_assert_ptr_nonnull(im.pixels);
    ck_assert_mem_eq(im.pixels, b + 16, len - 16);
    idx_images_free(&im);
    ck_assert_ptr_null(im.pixels);
    idx_images_free(&im); /* twice is harmless */
    idx_images_free(NULL);
    free(b);
}
END_TEST

START_TEST(labels_good) /* loop: size _i/2, gzip _i%2 */
{
    static const uint32_t sizes[] = {1, 10, 300};
    uint32_t n = sizes[_i / 2];
    int gz = _i % 2;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/lab%s", dir, gz ? ".gz" : "");
    size_t len;
    uint8_t *b = label_bytes(IDX_MAGIC_LABELS, n, 10, &len);
    write_file(path, b, len, gz);
    IdxLabels lb;
    Err e = {{0}};
    ck_assert_msg(idx_read_labels(path, &lb, &e) == ST_OK, "%s", e.msg);
    ck_assert_uint_eq(lb.n, n);
    ck_assert_mem_eq(lb.labels, b + 8, n);
    idx_labels_free(&lb);
    ck_assert_ptr_null(lb.labels);
    idx_labels_free(NULL);
    free(b);
}
END_TEST

/* A payload larger than the reader's first gzip chunk (4 MB), so the
 * buffer has to grow. */
START_TEST(images_good_large_gz)
{
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big.gz", dir);
    size_t len;
    uint8_t *b = image_bytes(IDX_MAGIC_IMAGES, 7000, 28, 28, &len); /* 5.5 MB */
    write_file(path, b, len, 1);
    IdxImages im;
    Err e = {{0}};
    ck_assert_msg(idx_read_images(path, &im, &e) == ST_OK, "%s", e.msg);
    ck_assert_uint_eq(im.n, 7000);
    ck_assert_mem_eq(im.pixels, b + 16, len - 16);
    idx_images_free(&im);
    free(b);
}
END_TEST

/* ---- hostile files ------------------------------------------------------- */

START_TEST(images_truncated_every_offset) /* loop: gzip _i */
{
    int gz = _i;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/img%s", dir, gz ? ".gz" : "");
    size_t len;
    uint8_t *b = image_bytes(IDX_MAGIC_IMAGES, 2, 5, 7, &len); /* 16 + 70 bytes */
    for (size_t cut = 0; cut < len; cut++) {
        write_file(path, b, cut, gz);
        IdxImages im;
        Err e = {{0}};
        ck_assert_msg(idx_read_images(path, &im, &e) == ST_ERR_FORMAT, "cut %zu: %s", cut, e.msg);
        assert_images_zeroed(&im);
        assert_msg(&e, path, "truncated");
        char want[96];
        if (cut < 16) snprintf(want, sizeof want, "16-byte IDX images header, got %zu bytes", cut);
        else snprintf(want, sizeof want, "expected 70 bytes of pixels, got %zu", cut - 16);
        ck_assert_msg(strstr(e.msg, want) != NULL, "cut %zu: '%s' lacks '%s'", cut, e.msg, want);
    }
    free(b);
}
END_TEST

START_TEST(labels_truncated_every_offset) /* loop: gzip _i */
{
    int gz = _i;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/lab%s", dir, gz ? ".gz" : "");
    size_t len;
    uint8_t *b = label_bytes(IDX_MAGIC_LABELS, 5, 10, &len); /* 8 + 5 bytes */
    for (size_t cut = 0; cut < len; cut++) {
        write_file(path, b, cut, gz);
        IdxLabels lb;
        Err e = {{0}};
        ck_assert_msg(idx_read_labels(path, &lb, &e) == ST_ERR_FORMAT, "cut %zu: %s", cut, e.msg);
        ck_assert_ptr_null(lb.labels);
        assert_msg(&e, path, "truncated");
        if (cut >= 8) {
            char want[64];
            snprintf(want, sizeof want, "expected 5 bytes of labels, got %zu", cut - 8);
            ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' lacks '%s'", e.msg, want);
        }
    }
    free(b);
}
END_TEST

START_TEST(trailing_bytes) /* loop: gzip _i */
{
    int gz = _i;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    static const size_t extras[] = {1, 100};
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *b = image_bytes(IDX_MAGIC_IMAGES, 2, 5, 7, &len);
        uint8_t *big = calloc(1, len + extras[k]);
        ck_assert_ptr_nonnull(big);
        memcpy(big, b, len);
        snprintf(path, sizeof path, "%s/img%d%s", dir, k, gz ? ".gz" : "");
        write_file(path, big, len + extras[k], gz);
        IdxImages im;
        Err e = {{0}};
        ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
        assert_images_zeroed(&im);
        assert_msg(&e, path, "trailing bytes");
        free(big);
        free(b);

        b = label_bytes(IDX_MAGIC_LABELS, 5, 10, &len);
        big = calloc(1, len + extras[k]);
        ck_assert_ptr_nonnull(big);
        memcpy(big, b, len);
        snprintf(path, sizeof path, "%s/lab%d%s", dir, k, gz ? ".gz" : "");
        write_file(path, big, len + extras[k], gz);
        IdxLabels lb;
        ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_FORMAT);
        ck_assert_ptr_null(lb.labels);
        assert_msg(&e, path, "trailing bytes");
        free(big);
        free(b);
    }
}
END_TEST

START_TEST(bad_magic) /* loop: gzip _i */
{
    int gz = _i;
    char dir[128], path[256], want[512];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/x-idx3-ubyte%s", dir, gz ? ".gz" : "");
    size_t len;
    IdxImages im;
    IdxLabels lb;
    Err e = {{0}};

    uint8_t *b = image_bytes(0x00000802u, 2, 5, 7, &len);
    write_file(path, b, len, gz);
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    assert_images_zeroed(&im);
    snprintf(want, sizeof want, "%s: bad magic 0x00000802, expected 0x00000803 (IDX images)", path);
    ck_assert_str_eq(e.msg, want);
    free(b);

    /* A labels file given as images, and the other way round: named. */
    b = label_bytes(IDX_MAGIC_LABELS, 20, 10, &len);
    write_file(path, b, len, gz);
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    assert_msg(&e, path, "bad magic 0x00000801");
    ck_assert_ptr_nonnull(strstr(e.msg, "labels file"));
    free(b);

    b = image_bytes(IDX_MAGIC_IMAGES, 1, 2, 2, &len);
    write_file(path, b, len, gz);
    ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_FORMAT);
    ck_assert_ptr_null(lb.labels);
    assert_msg(&e, path, "bad magic 0x00000803, expected 0x00000801 (IDX labels)");
    free(b);

    /* Other element types / dims counts, and text. */
    static const uint32_t others[] = {0x00000903u, 0x00000804u, 0x08030000u, 0xDEADBEEFu};
    for (int k = 0; k < 4; k++) {
        b = image_bytes(others[k], 1, 2, 2, &len);
        write_file(path, b, len, gz);
        ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
        assert_msg(&e, path, "bad magic");
        ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_FORMAT);
        assert_msg(&e, path, "bad magic");
        free(b);
    }
    static const char text[] = "hello, this is not an IDX file at all\n";
    write_file(path, text, sizeof text - 1, gz);
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    assert_msg(&e, path, "bad magic 0x68656C6C");
}
END_TEST

/* Headers that claim far more data than allowed are refused from the header
 * alone: no allocation, no reading. */
START_TEST(huge_dims) /* loop: gzip _i */
{
    int gz = _i;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/img%s", dir, gz ? ".gz" : "");
    static const uint32_t huge[][3] = {
        {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, /* overflows 64 bits */
        {1, 0xFFFFFFFFu, 0xFFFFFFFFu},
        {65536, 65536, 1},                       /* 2^32: wraps to 0 in 32 bits */
        {0x80000001u, 1, 1},                     /* just over the limit */
        {60000, 28, 1280},
    };
    double t0 = now_s();
    for (int k = 0; k < 5; k++) {
        uint8_t hdr[16 + 8] = {0};
        put_be32(hdr, IDX_MAGIC_IMAGES);
        for (int d = 0; d < 3; d++) put_be32(hdr + 4 + 4 * d, huge[k][d]);
        write_file(path, hdr, sizeof hdr, gz);
        IdxImages im;
        Err e = {{0}};
        ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
        assert_images_zeroed(&im);
        assert_msg(&e, path, "too large");
    }
    uint8_t lhdr[8];
    put_be32(lhdr, IDX_MAGIC_LABELS);
    put_be32(lhdr + 4, 0xFFFFFFFFu);
    write_file(path, lhdr, sizeof lhdr, gz);
    IdxLabels lb;
    Err e = {{0}};
    ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_FORMAT);
    assert_msg(&e, path, "too large");

    /* 1 GiB claimed (under the limit) by a tiny file: truncated, found
     * without reading or allocating anything near 1 GiB. */
    uint8_t hdr[16 + 10] = {0};
    put_be32(hdr, IDX_MAGIC_IMAGES);
    put_be32(hdr + 4, 1024);
    put_be32(hdr + 8, 1024);
    put_be32(hdr + 12, 1024);
    write_file(path, hdr, sizeof hdr, gz);
    IdxImages im;
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    assert_msg(&e, path, "truncated: expected 1073741824 bytes of pixels, got 10");
    double dt = now_s() - t0;
    ck_assert_msg(dt < 2.0, "refusing absurd headers took %.2f s", dt);
}
END_TEST

START_TEST(zero_dims) /* loop: gzip _i */
{
    int gz = _i;
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/img%s", dir, gz ? ".gz" : "");
    static const uint32_t dims[][3] = {{0, 28, 28}, {5, 0, 28}, {5, 28, 0}, {0, 0, 0}};
    for (int k = 0; k < 4; k++) {
        uint8_t hdr[16];
        put_be32(hdr, IDX_MAGIC_IMAGES);
        for (int d = 0; d < 3; d++) put_be32(hdr + 4 + 4 * d, dims[k][d]);
        write_file(path, hdr, sizeof hdr, gz);
        IdxImages im;
        Err e = {{0}};
        ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
        assert_images_zeroed(&im);
        assert_msg(&e, path, "zero dimension");
    }
    size_t len;
    uint8_t *b = label_bytes(IDX_MAGIC_LABELS, 0, 10, &len);
    write_file(path, b, len, gz);
    IdxLabels lb;
    Err e = {{0}};
    ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_FORMAT);
    assert_msg(&e, path, "zero dimension");
    free(b);
}
END_TEST

START_TEST(corrupt_gzip)
{
    char dir[128], good[256], path[256];
    make_dir(dir, sizeof dir);
    snprintf(good, sizeof good, "%s/good.gz", dir);
    snprintf(path, sizeof path, "%s/bad.gz", dir);
    size_t len, zlen;
    uint8_t *b = image_bytes(IDX_MAGIC_IMAGES, 3, 9, 11, &len);
    write_file(good, b, len, 1);
    uint8_t *z = read_whole(good, &zlen);
    ck_assert_uint_gt(zlen, 30);
    IdxImages im;
    Err e = {{0}};

    /* Every byte of the CRC-32 and ISIZE trailer. */
    for (size_t k = zlen - 8; k < zlen; k++) {
        z[k] ^= 0x5A;
        write_file(path, z, zlen, 0);
        ck_assert_msg(idx_read_images(path, &im, &e) == ST_ERR_FORMAT, "byte %zu: %s", k, e.msg);
        assert_images_zeroed(&im);
        assert_msg(&e, path, "gzip");
        z[k] ^= 0x5A;
    }
    /* Every byte of the deflate data but its last (whose padding bits may
     * be unused): inflate or the CRC must notice. */
    for (size_t k = 10; k + 9 < zlen; k++) {
        z[k] ^= 0xFF;
        write_file(path, z, zlen, 0);
        ck_assert_msg(idx_read_images(path, &im, &e) == ST_ERR_FORMAT, "byte %zu: %s", k, e.msg);
        assert_images_zeroed(&im);
        assert_msg(&e, path, ": ");
        z[k] ^= 0xFF;
    }
    /* The compressed file cut at every length from the gzip magic on. */
    for (size_t cut = 2; cut < zlen; cut++) {
        write_file(path, z, cut, 0);
        ck_assert_msg(idx_read_images(path, &im, &e) == ST_ERR_FORMAT, "cut %zu: %s", cut, e.msg);
        assert_images_zeroed(&im);
        assert_msg(&e, path, "truncated");
    }
    /* A gzip magic followed by garbage. */
    static const uint8_t junk[] = {0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    write_file(path, junk, sizeof junk, 0);
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    assert_msg(&e, path, "gzip");
    /* The untouched copy still reads. */
    write_file(path, z, zlen, 0);
    ck_assert_msg(idx_read_images(path, &im, &e) == ST_OK, "%s", e.msg);
    idx_images_free(&im);
    free(z);
    free(b);
}
END_TEST

START_TEST(missing_file)
{
    char dir[128], path[256];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/nope-idx3-ubyte", dir);
    IdxImages im;
    IdxLabels lb;
    Err e = {{0}};
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_IO);
    assert_images_zeroed(&im);
    assert_msg(&e, path, strerror(ENOENT));
    ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_IO);
    assert_msg(&e, path, strerror(ENOENT));
    /* A folder is not a file (refused like a FIFO or a device: test_fsafety.c). */
    ck_assert_int_eq(idx_read_images(dir, &im, &e), ST_ERR_IO);
    assert_msg(&e, dir, "not a regular file (a folder)");
    /* Unreadable (root reads anything, so only as a normal user). */
    if (geteuid() != 0) {
        size_t len;
        uint8_t *b = label_bytes(IDX_MAGIC_LABELS, 3, 10, &len);
        write_file(path, b, len, 0);
        ck_assert_int_eq(chmod(path, 0), 0);
        ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_IO);
        assert_msg(&e, path, strerror(EACCES));
        free(b);
    }
    /* A NULL Err is allowed. */
    ck_assert_int_eq(idx_read_images("/nonexistent/fmnist/x", &im, NULL), ST_ERR_IO);
}
END_TEST

/* ---- dataset ------------------------------------------------------------- */

/* Writes dir/<prefix>-images-idx3-ubyte and -labels-idx1-ubyte (".gz" added
 * and gzipped when gz) with n images of rows x cols, nl labels i % mod. */
static void write_split(const char *dir, const char *prefix, int gz, uint32_t n, uint32_t rows,
                        uint32_t cols, uint32_t nl, unsigned mod)
{
    char path[512];
    size_t len;
    uint8_t *b = image_bytes(IDX_MAGIC_IMAGES, n, rows, cols, &len);
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    write_file(path, b, len, gz);
    free(b);
    b = label_bytes(IDX_MAGIC_LABELS, nl, mod, &len);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    write_file(path, b, len, gz);
    free(b);
}

START_TEST(load_good)
{
    char dir[128];
    make_dir(dir, sizeof dir);
    write_split(dir, "train", 0, 12, 5, 7, 12, 10);
    write_split(dir, "t10k", 1, 4, 5, 7, 4, 3);
    Dataset d;
    Err e = {{0}};
    ck_assert_msg(data_load(dir, "train", 10, &d, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(d.n, 12);
    ck_assert_int_eq(d.h, 5);
    ck_assert_int_eq(d.w, 7);
    for (int i = 0; i < 12 * 35; i++) ck_assert_uint_eq(d.pixels[i], pixel_at((size_t)i));
    for (int i = 0; i < 12; i++) ck_assert_uint_eq(d.labels[i], (unsigned)(i % 10));
    dataset_free(&d);
    ck_assert_ptr_null(d.pixels);
    ck_assert_msg(data_load(dir, "test", 3, &d, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(d.n, 4);
    ck_assert_uint_eq(d.labels[3], 0);
    dataset_free(&d);
    dataset_free(&d);
    dataset_free(NULL);

    /* Raw preferred when both exist: the .gz here has another count. */
    write_split(dir, "train", 1, 3, 5, 7, 3, 10);
    ck_assert_msg(data_load(dir, "train", 10, &d, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(d.n, 12);
    dataset_free(&d);
}
END_TEST

START_TEST(load_errors)
{
    char dir[128], lpath[256], ipath[256];
    make_dir(dir, sizeof dir);
    snprintf(lpath, sizeof lpath, "%s/train-labels-idx1-ubyte", dir);
    snprintf(ipath, sizeof ipath, "%s/train-images-idx3-ubyte", dir);
    Dataset d;
    Err e = {{0}};

    /* Count mismatch, both ways. */
    write_split(dir, "train", 0, 3, 4, 4, 4, 10);
    ck_assert_int_eq(data_load(dir, "train", 10, &d, &e), ST_ERR_FORMAT);
    ck_assert_ptr_null(d.pixels);
    ck_assert_ptr_null(d.labels);
    assert_msg(&e, lpath, "count mismatch");
    ck_assert_ptr_nonnull(strstr(e.msg, ipath));
    write_split(dir, "train", 0, 5, 4, 4, 4, 10);
    ck_assert_int_eq(data_load(dir, "train", 10, &d, &e), ST_ERR_FORMAT);
    assert_msg(&e, lpath, "count mismatch");

    /* Labels 0..11: label 10 at index 10 is the first out of range. */
    write_split(dir, "train", 0, 12, 4, 4, 12, 12);
    ck_assert_int_eq(data_load(dir, "train", 10, &d, &e), ST_ERR_FORMAT);
    ck_assert_ptr_null(d.pixels);
    assert_msg(&e, lpath, "label 10 at index 10 is out of range (expected < 10)");
    ck_assert_int_eq(data_load(dir, "train", 3, &d, &e), ST_ERR_FORMAT);
    assert_msg(&e, lpath, "label 3 at index 3 is out of range (expected < 3)");
    ck_assert_msg(data_load(dir, "train", 12, &d, &e) == ST_OK, "%s", e.msg);
    dataset_free(&d);

    /* A malformed half is reported with its own message. */
    write_split(dir, "t10k", 0, 2, 0, 4, 2, 10);
    ck_assert_int_eq(data_load(dir, "test", 10, &d, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "zero dimension"));

    /* Missing file, bad arguments. */
    ck_assert_int_eq(unlink(lpath), 0);
    ck_assert_int_eq(data_load(dir, "train", 10, &d, &e), ST_ERR_IO);
    assert_msg(&e, lpath, strerror(ENOENT));
    ck_assert_int_eq(data_load(dir, "valid", 10, &d, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "valid"));
    ck_assert_int_eq(data_load(dir, "test", 0, &d, &e), ST_ERR_ARG);
    ck_assert_int_eq(data_load(dir, "test", 257, &d, &e), ST_ERR_ARG);
}
END_TEST

START_TEST(batch_and_truncate)
{
    static const uint8_t pixels[3 * 4] = {0, 255, 128, 51, 1, 2, 3, 4, 200, 100, 50, 25};
    static const uint8_t labels[3] = {7, 1, 9};
    Dataset d = {.n = 3, .h = 2, .w = 2, .pixels = malloc(12), .labels = malloc(3)};
    ck_assert_ptr_nonnull(d.pixels);
    ck_assert_ptr_nonnull(d.labels);
    memcpy(d.pixels, pixels, 12);
    memcpy(d.labels, labels, 3);

    const uint32_t idx[3] = {2, 0, 2};
    float x[12];
    int y[3];
    const float mean = 0.2860f, std = 0.3530f;
    dataset_batch(&d, idx, 3, mean, std, x, y);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(y[i], labels[idx[i]]);
        for (int j = 0; j < 4; j++) {
            double p = pixels[idx[i] * 4 + (uint32_t)j];
            double want = (p / 255.0 - mean) / std;
            ck_assert_double_eq_tol(x[i * 4 + j], want, 1e-6);
        }
    }
    ck_assert_float_eq_tol(x[4], -0.2860f / 0.3530f, 1e-6f); /* pixel 0 */
    ck_assert_float_eq_tol(x[5], (1.0f - 0.2860f) / 0.3530f, 1e-6f); /* pixel 255 */
    /* mean 0, std 1 is p/255: 0 and 255 map to exactly 0 and 1. */
    dataset_batch(&d, idx + 1, 1, 0.0f, 1.0f, x, y);
    ck_assert_float_eq(x[0], 0.0f);
    ck_assert_float_eq(x[1], 1.0f);
    ck_assert_float_eq_tol(x[2], 128.0f / 255.0f, 1e-7f);
    ck_assert_int_eq(y[0], 7);
    /* n = 0 touches nothing. */
    dataset_batch(&d, idx, 0, 0.0f, 1.0f, NULL, NULL);

    dataset_truncate(&d, 2);
    ck_assert_int_eq(d.n, 2);
    dataset_truncate(&d, 5); /* never grows */
    ck_assert_int_eq(d.n, 2);
    dataset_truncate(&d, -1);
    ck_assert_int_eq(d.n, 0);
    dataset_free(&d);
}
END_TEST

/* dir gets the four files; missing (if not NULL) is left out. */
static void fill_data_dir(const char *dir, int gz, const char *missing)
{
    static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    ck_assert_int_eq(mkdir(dir, 0755) == 0 || errno == EEXIST, 1);
    for (int i = 0; i < 4; i++) {
        if (missing && strcmp(names[i], missing) == 0) continue;
        char p[512];
        /* Mix raw and .gz names: both count. */
        snprintf(p, sizeof p, "%s/%s%s", dir, names[i], (gz && i % 2) ? ".gz" : "");
        write_file(p, "", 0, 0);
    }
}

START_TEST(find_dir_order)
{
    char root[128], a[256], b[256], c[256], out[512];
    make_dir(root, sizeof root);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c, sizeof c, "%s/c", root);
    fill_data_dir(a, 0, NULL);
    fill_data_dir(b, 1, NULL);
    fill_data_dir(c, 0, "t10k-labels-idx1-ubyte");
    Err e = {{0}};

    /* flag > env */
    ck_assert_msg(data_find_dir(a, b, out, sizeof out, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(out, a);
    ck_assert_msg(data_find_dir(NULL, b, out, sizeof out, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(out, b);
    /* A flag folder without the files is an error, even with a good env. */
    ck_assert_int_eq(data_find_dir(c, b, out, sizeof out, &e), ST_ERR_IO);
    assert_msg(&e, c, "t10k-labels-idx1-ubyte");
    ck_assert_ptr_nonnull(strstr(e.msg, "apt-get install dataset-fashion-mnist"));
    char none[256];
    snprintf(none, sizeof none, "%s/none", root);
    ck_assert_int_eq(data_find_dir(none, b, out, sizeof out, &e), ST_ERR_IO);
    assert_msg(&e, none, "cannot open data folder");
    ck_assert_ptr_nonnull(strstr(e.msg, strerror(ENOENT)));
    ck_assert_int_eq(data_find_dir("", b, out, sizeof out, &e), ST_ERR_ARG);
    /* Too small an output buffer. */
    char tiny[4];
    ck_assert_int_eq(data_find_dir(a, NULL, tiny, sizeof tiny, &e), ST_ERR_ARG);

    /* env > data > system: run from a folder without data/. */
    int cwd = open(".", O_RDONLY);
    ck_assert_int_ge(cwd, 0);
    ck_assert_int_eq(chdir(root), 0);
    int sys_has = data_find_dir(DATA_SYSTEM_DIR, NULL, out, sizeof out, NULL) == ST_OK;
    for (int k = 1; k < 3; k++) {
        const char *env = k == 1 ? "" : NULL; /* empty, unset */
        Status st = data_find_dir(NULL, env, out, sizeof out, &e);
        if (sys_has) {
            ck_assert_int_eq(st, ST_OK);
            ck_assert_str_eq(out, DATA_SYSTEM_DIR);
        } else {
            ck_assert_int_eq(st, ST_ERR_IO);
            ck_assert_ptr_nonnull(strstr(e.msg, "not found"));
            ck_assert_ptr_nonnull(strstr(e.msg, "data/"));
            ck_assert_ptr_nonnull(strstr(e.msg, DATA_SYSTEM_DIR));
            ck_assert_ptr_nonnull(strstr(e.msg, "apt-get install dataset-fashion-mnist"));
            ck_assert_ptr_nonnull(strstr(e.msg, "make data"));
        }
    }
    fill_data_dir("data", 1, NULL);
    ck_assert_msg(data_find_dir(NULL, "", out, sizeof out, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(out, "data");
    /* $FMNIST_DATA naming a folder that lacks a file is an error, not data/
     * (the first_run suite has the missing and unusable cases) */
    ck_assert_int_eq(data_find_dir(NULL, c, out, sizeof out, &e), ST_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "$FMNIST_DATA="));
    ck_assert_ptr_nonnull(strstr(e.msg, c));
    ck_assert_ptr_nonnull(strstr(e.msg, "t10k-labels-idx1-ubyte"));
    ck_assert_msg(data_find_dir(NULL, b, out, sizeof out, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(out, b);
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
}
END_TEST

/* ---- the real data set, when installed ----------------------------------- */

static void check_real_split(const char *split, int n)
{
    Dataset d;
    Err e = {{0}};
    ck_assert_msg(data_load(DATA_SYSTEM_DIR, split, 10, &d, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(d.n, n);
    ck_assert_int_eq(d.h, 28);
    ck_assert_int_eq(d.w, 28);
    /* Fashion-MNIST is balanced: n/10 of each class. */
    int count[10] = {0};
    for (int i = 0; i < d.n; i++) {
        ck_assert_uint_lt(d.labels[i], 10);
        count[d.labels[i]]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_int_eq(count[c], n / 10);
    unsigned long sum = 0;
    for (size_t i = 0; i < (size_t)n * 784; i++) sum += d.pixels[i];
    ck_assert_uint_gt(sum, 0);
    dataset_free(&d);
}

START_TEST(real_data)
{
    char out[512];
    if (data_find_dir(DATA_SYSTEM_DIR, NULL, out, sizeof out, NULL) != ST_OK) {
        printf("skipped: real_data (no Fashion-MNIST in %s; apt-get install dataset-fashion-mnist)\n",
               DATA_SYSTEM_DIR);
        fflush(stdout);
        return;
    }
    check_real_split("train", 60000);
    check_real_split("test", 10000);
}
END_TEST

Suite *idx_suite(void)
{
    Suite *s = suite_create("idx");

    TCase *tc = tcase_create("idx");
    tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
    tcase_add_loop_test(tc, images_good, 0, 2 * N_GOOD_SHAPES);
    tcase_add_loop_test(tc, labels_good, 0, 6);
    tcase_add_test(tc, images_good_large_gz);
    tcase_add_loop_test(tc, images_truncated_every_offset, 0, 2);
    tcase_add_loop_test(tc, labels_truncated_every_offset, 0, 2);
    tcase_add_loop_test(tc, trailing_bytes, 0, 2);
    tcase_add_loop_test(tc, bad_magic, 0, 2);
    tcase_add_loop_test(tc, huge_dims, 0, 2);
    tcase_add_loop_test(tc, zero_dims, 0, 2);
    tcase_add_test(tc, corrupt_gzip);
    tcase_add_test(tc, missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("dataset");
    tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, load_good);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, batch_and_truncate);
    tcase_add_test(tc, find_dir_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("real_data");
    tcase_set_timeout(tc, 120); /* about 0.5 s normally; slow under valgrind */
    tcase_add_test(tc, real_data);
    suite_add_tcase(s, tc);
    return s;
}
