/* fuzz_idx.c - libFuzzer target for the IDX reader (data/idx.c).
 *
 * The reader takes a path, so the input bytes go into a memory file
 * (memfd) read back through /proc/self/fd/N, as a raw or gzipped IDX file.
 * Both readers (images and labels) run on every input; whatever they
 * accept must be exactly as large as its header says (ASan checks every
 * byte is there), whatever they refuse must come with a message. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/idx.h"

static int fd = -1;
static char path[64];

static void put(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz-idx", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
}

static unsigned sum(const uint8_t *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    put(data, size);
    Err e = {{0}};
    IdxImages im;
    Status st = idx_read_images(path, &im, &e);
    if (st == ST_OK) {
        if (!im.n || !im.rows || !im.cols || !im.pixels) abort();
        volatile unsigned s = sum(im.pixels, (size_t)im.n * im.rows * im.cols);
        (void)s;
        idx_images_free(&im);
    } else if (!e.msg[0] || im.pixels) {
        abort();
    }
    IdxLabels lb;
    e.msg[0] = 0;
    st = idx_read_labels(path, &lb, &e);
    if (st == ST_OK) {
        if (!lb.n || !lb.labels) abort();
        volatile unsigned s = sum(lb.labels, lb.n);
        (void)s;
        idx_labels_free(&lb);
    } else if (!e.msg[0] || lb.labels) {
        abort();
    }
    return 0;
}
