/* fileio.c - atomic writes, whole-file reads, mkdir -p, byte buffers. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static Status io_fail(Err *e, const char *path, const char *what, int err)
{
    return err_set(e, ST_ERR_IO, "%s: %s: %s", path, what, strerror(err));
}

Status file_write_atomic(const char *path, const void *data, size_t len, Err *e)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return err_set(e, ST_ERR_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return io_fail(e, path, "cannot create", errno);
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return io_fail(e, path, "cannot write", err);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return io_fail(e, path, "cannot sync", err);
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(tmp);
        return io_fail(e, path, "cannot close", err);
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return io_fail(e, path, "cannot rename into place", err);
    }
    /* make the rename itself durable */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = 0;
    else strcpy(dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return ST_OK;
}

Status file_read_all(const char *path, size_t max, char **data, size_t *len, Err *e)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return io_fail(e, path, "cannot open", errno);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return err_set(e, ST_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)sb.st_size > max) {
        fclose(f);
        return err_set(e, ST_ERR_FORMAT, "%s: %lld bytes, more than the %zu allowed", path, (long long)sb.st_size, max);
    }
    size_t size = (size_t)sb.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f) || got != size;
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(e, ST_ERR_IO, "%s: read error", path);
    }
    buf[size] = 0;
    *data = buf;
    *len = size;
    return ST_OK;
}

Status file_mkdirs(const char *path, Err *e)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set(e, ST_ERR_ARG, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return io_fail(e, buf, "cannot create folder", errno);
            struct stat sb;
            if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return err_set(e, ST_ERR_IO, "%s: exists and is not a folder", buf);
            *p = c;
            if (!c) break;
        }
    }
    return ST_OK;
}

Status file_mkdir_new(const char *base, char *out, size_t outlen, Err *e)
{
    char parent[4096];
    const char *slash = strrchr(base, '/');
    if (slash && slash > base) {
        if ((size_t)(slash - base) >= sizeof parent) return err_set(e, ST_ERR_ARG, "%s: path too long", base);
        memcpy(parent, base, (size_t)(slash - base));
        parent[slash - base] = 0;
        Status st = file_mkdirs(parent, e);
        if (st) return st;
    }
    for (int k = 1; k <= FILE_MKDIR_NEW_TRIES; k++) {
        char name[4096], suffix[16] = "";
        if (k > 1) snprintf(suffix, sizeof suffix, "-%d", k);
        size_t n = (size_t)snprintf(name, sizeof name, "%s%s", base, suffix);
        if (n >= sizeof name || n >= outlen) return err_set(e, ST_ERR_ARG, "%s%s: path too long", base, suffix);
        if (mkdir(name, 0755) == 0) { /* ours: EEXIST for anything already there, links too */
            memcpy(out, name, n + 1);
            return ST_OK;
        }
        if (errno != EEXIST) return io_fail(e, name, "cannot create folder", errno);
    }
    return err_set(e, ST_ERR_IO, "%s: that name and %s-2 to %s-%d are all taken", base, base, base,
                   FILE_MKDIR_NEW_TRIES);
}

int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

Status file_check_writable(const char *dir, Err *e)
{
    char probe[4200];
    if (snprintf(probe, sizeof probe, "%s/.fmnist-write-test-%ld", dir, (long)getpid()) >= (int)sizeof probe)
        return err_set(e, ST_ERR_ARG, "%s: path too long", dir);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return io_fail(e, dir, "cannot write into this folder", errno);
    close(fd);
    unlink(probe);
    return ST_OK;
}

static void buf_reserve(Buf *b, size_t extra)
{
    if (b->failed) return;
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return;
    }
    b->data = d;
    b->cap = cap;
}

void buf_put(Buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (b->failed) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    if (b->failed) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_u32(Buf *b, unsigned v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    buf_put(b, c, 4);
}

void buf_u64(Buf *b, unsigned long long v)
{
    buf_u32(b, (unsigned)(v & 0xffffffffu));
    buf_u32(b, (unsigned)(v >> 32));
}

void buf_free(Buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
