/* fileio.c - atomic writes, opening and reading regular files only, mkdir -p,
 * comparing paths, byte buffers. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "util/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/rng.h"

static Status io_fail(Err *e, const char *path, const char *what, int err)
{
    return err_set(e, ST_ERR_IO, "%s: %s: %s", path, what, strerror(err));
}

/* Creates a file "PREFIX-XXXXXXXX" (8 random hex digits) that did not exist:
 * O_EXCL|O_NOFOLLOW, so an existing file or link of that name is never
 * opened, followed or truncated; a taken name is skipped for another. The
 * name is unpredictable (clock, pid, stack address), so a name planted in
 * advance is almost never even met. Returns the descriptor with the name in
 * name, or -1 with errno set. */
static int create_new(const char *prefix, char *name, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = rng_mix64(((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                              ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&ts);
    for (unsigned k = 0; k < 100; k++) {
        unsigned r = (unsigned)(rng_mix64(seed + k) >> 32);
        if (snprintf(name, cap, "%s-%08x", prefix, r) >= (int)cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

Status file_write_atomic(const char *path, const void *data, size_t len, Err *e)
{
    char prefix[FM_PATH_NAME], tmp[FM_PATH_NAME + 16];
    if (snprintf(prefix, sizeof prefix, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof prefix)
        return err_set(e, ST_ERR_ARG, "%s: path too long", path);
    int fd = create_new(prefix, tmp, sizeof tmp);
    if (fd < 0) return io_fail(e, path, "cannot create", errno);
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { /* EFBIG under a file-size limit: SIGXFSZ is ignored (src/main.c) */
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
    /* rename replaces PATH itself, even if it is a link: nothing it points to is touched */
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return io_fail(e, path, "cannot rename into place", err);
    }
    /* make the rename itself durable */
    char dir[FM_PATH_NAME];
    file_folder_of(path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return ST_OK;
}

static Status not_regular(Err *e, const char *path, mode_t m)
{
    const char *kind = S_ISDIR(m)                   ? "a folder"
                       : S_ISFIFO(m)                ? "a FIFO"
                       : S_ISCHR(m) || S_ISBLK(m)   ? "a device"
                       : S_ISSOCK(m)                ? "a socket"
                                                    : "not a plain file";
    return err_set(e, ST_ERR_IO, "%s: not a regular file (%s)", path, kind);
}

Status file_open_regular(const char *path, int *fd, unsigned long long *size, Err *e)
{
    *fd = -1;
    /* stat first: a device or a FIFO is refused without being opened at all */
    struct stat sb;
    if (stat(path, &sb) != 0) return io_fail(e, path, "cannot open", errno);
    if (!S_ISREG(sb.st_mode)) return not_regular(e, path, sb.st_mode);
    /* O_NONBLOCK: should the name have become a FIFO since, open returns at once */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) return io_fail(e, path, "cannot open", errno);
    if (fstat(f, &sb) != 0) {
        int err = errno;
        close(f);
        return io_fail(e, path, "cannot stat", err);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return not_regular(e, path, sb.st_mode);
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int err = errno;
        close(f);
        return io_fail(e, path, "cannot open", err);
    }
    *fd = f;
    if (size) *size = (unsigned long long)sb.st_size;
    return ST_OK;
}

Status file_fopen_regular(const char *path, FILE **f, Err *e)
{
    *f = NULL;
    int fd;
    Status st = file_open_regular(path, &fd, NULL, e);
    if (st) return st;
    if (!(*f = fdopen(fd, "rb"))) {
        int err = errno;
        close(fd);
        return io_fail(e, path, "cannot open", err);
    }
    return ST_OK;
}

/* Reads up to n bytes at offset off; *got is short only at the end of the file. */
static Status read_at(int fd, const char *path, unsigned long long off, char *p, size_t n, size_t *got, Err *e)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = pread(fd, p + *got, n - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_fail(e, path, "cannot read", errno);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return ST_OK;
}

Status file_read_magic(const char *path, size_t max, const char *magic, const char *what, char **data, size_t *len,
                       Err *e)
{
    *data = NULL;
    *len = 0;
    int fd;
    unsigned long long size;
    Status st = file_open_regular(path, &fd, &size, e);
    if (st) return st;
    char *buf = NULL;
    size_t got;
    if (magic) { /* the header before the size: a file of another kind is named as such */
        char head[16];
        size_t m = strlen(magic);
        if (m > sizeof head) m = sizeof head;
        if ((st = read_at(fd, path, 0, head, m, &got, e))) goto done;
        if (got < m || memcmp(head, magic, m)) {
            st = err_set(e, ST_ERR_FORMAT, "%s: not %s (no %.*s header)", path, what, (int)m, magic);
            goto done;
        }
    }
    if (size > max) {
        st = err_set(e, ST_ERR_FORMAT, "%s: %llu bytes, more than the %zu allowed", path, size, max);
        goto done;
    }
    if (!(buf = malloc((size_t)size + 1))) {
        st = err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = read_at(fd, path, 0, buf, (size_t)size, &got, e))) goto done;
    if (got != size) {
        st = err_set(e, ST_ERR_IO, "%s: read error (the file shrank while it was read)", path);
        goto done;
    }
    buf[size] = 0;
    *data = buf;
    *len = (size_t)size;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return st;
}

Status file_read_all(const char *path, size_t max, char **data, size_t *len, Err *e)
{
    return file_read_magic(path, max, NULL, NULL, data, len, e);
}

Status file_mkdirs(const char *path, Err *e)
{
    char buf[FM_PATH];
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
    char parent[FM_PATH];
    const char *slash = strrchr(base, '/');
    if (slash && slash > base) {
        if ((size_t)(slash - base) >= sizeof parent) return err_set(e, ST_ERR_ARG, "%s: path too long", base);
        memcpy(parent, base, (size_t)(slash - base));
        parent[slash - base] = 0;
        Status st = file_mkdirs(parent, e);
        if (st) return st;
    }
    for (int k = 1; k <= FILE_MKDIR_NEW_TRIES; k++) {
        char name[FM_PATH], suffix[16] = "";
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

/* path as an absolute path: its longest existing prefix resolved by
 * realpath (links followed), the rest appended with ".", ".." and repeated
 * slashes taken out. 0 if it does not fit in len bytes or cannot be
 * resolved. */
static int path_norm(const char *path, char *out, size_t len)
{
    char head[FM_PATH_NAME], rest[FM_PATH_NAME] = "", tmp[FM_PATH_NAME];
    if (!*path || snprintf(head, sizeof head, "%s", path) >= (int)sizeof head) return 0;
    char *real;
    while (!(real = realpath(head, NULL))) { /* move the last component of head to rest */
        size_t n = strlen(head);
        while (n > 1 && head[n - 1] == '/') head[--n] = 0;
        char *slash = strrchr(head, '/');
        const char *name = slash ? slash + 1 : head;
        if (!*name || (!slash && !strcmp(head, "."))) return 0; /* "/" or "." did not resolve */
        if (snprintf(tmp, sizeof tmp, "/%s%s", name, rest) >= (int)sizeof tmp) return 0;
        memcpy(rest, tmp, sizeof rest);
        if (!slash) strcpy(head, ".");
        else if (slash == head) strcpy(head, "/");
        else *slash = 0;
    }
    int fits = snprintf(tmp, sizeof tmp, "%s%s", real, rest) < (int)sizeof tmp;
    free(real);
    if (!fits) return 0;
    /* the components of tmp (absolute), without "", "." and with ".." applied */
    size_t k = 0;
    for (char *p = tmp; *p;) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        if (!n) break;
        if (n == 1 && p[0] == '.') {
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (k > 0 && out[k - 1] != '/') k--;
            if (k > 0) k--;
        } else {
            if (k + 1 + n + 1 > len) return 0;
            out[k++] = '/';
            memcpy(out + k, p, n);
            k += n;
        }
        p += n;
    }
    if (k + 2 > len) return 0;
    if (!k) out[k++] = '/';
    out[k] = 0;
    return 1;
}

void file_folder_of(const char *path, char *dir, size_t len)
{
    snprintf(dir, len, "%s", path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0; /* "a/b/" is b */
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, len, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
}

int file_same(const char *a, const char *b)
{
    struct stat sa, sb;
    int ha = stat(a, &sa) == 0, hb = stat(b, &sb) == 0;
    if (ha && hb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char na[FM_PATH_NAME], nb[FM_PATH_NAME];
    return path_norm(a, na, sizeof na) && path_norm(b, nb, sizeof nb) && !strcmp(na, nb);
}

Status file_create_new(const char *path, int *fd, int *taken, Err *e)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0644);
    if (taken) *taken = *fd < 0 && errno == EEXIST;
    return *fd < 0 ? io_fail(e, path, "cannot create", errno) : ST_OK;
}

Status file_append(int fd, const char *path, const void *data, size_t len, Err *e)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return io_fail(e, path, "cannot write", w < 0 ? errno : ENOSPC);
        p += w;
        len -= (size_t)w;
    }
    return ST_OK;
}

Status file_remove_matching(const char *dir, const char *prefix, const char *suffix, const char *keep, int *removed,
                            Err *e)
{
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return io_fail(e, dir, "cannot list", errno);
    size_t np = strlen(prefix), ns = strlen(suffix);
    Status st = ST_OK;
    for (struct dirent *de; !st && (de = readdir(d));) {
        const char *name = de->d_name;
        size_t n = strlen(name);
        if (n < np + ns || strncmp(name, prefix, np) || strcmp(name + n - ns, suffix) || (keep && !strcmp(name, keep)))
            continue;
        char path[FM_PATH_NAME];
        struct stat sb;
        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) continue;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue; /* regular files only: a link stays */
        if (unlink(path) != 0) st = io_fail(e, path, "cannot remove", errno);
        else ++*removed;
    }
    closedir(d);
    return st;
}

Status file_check_writable(const char *dir, Err *e)
{
    char prefix[FM_PATH_NAME], probe[FM_PATH_NAME + 16];
    if (snprintf(prefix, sizeof prefix, "%s/.fmnist-write-test-%ld", dir, (long)getpid()) >= (int)sizeof prefix)
        return err_set(e, ST_ERR_ARG, "%s: path too long", dir);
    int fd = create_new(prefix, probe, sizeof probe);
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
