/* idx.c - IDX image/label reader (see idx.h).
 *
 * One generic reader serves both kinds: open via a file descriptor (so a
 * missing file gives a real errno; anything but a regular file is refused
 * without waiting on it: file_open_regular), read and check the header, refuse absurd
 * sizes before allocating, read the payload, then prove the file ends there.
 * A file that starts with the gzip magic is inflated (member after member,
 * as gzip -d does), anything else read as it is; either way nothing may
 * follow the data, not even after the last gzip member. */
#include "data/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/fileio.h"

/* What distinguishes the two kinds of file. */
typedef struct {
    uint32_t magic;
    int ndims;        /* 3 for images (n, rows, cols), 1 for labels (n) */
    const char *name; /* "IDX images", used in the bad-magic message */
    const char *unit; /* "pixels" / "labels", used in the length messages */
} IdxKind;

static const IdxKind IDX_IMAGES = {IDX_MAGIC_IMAGES, 3, "IDX images", "pixels"};
static const IdxKind IDX_LABELS = {IDX_MAGIC_LABELS, 1, "IDX labels", "labels"};

/* The payload of a gzip file is read into a buffer that starts this large
 * and doubles, so that a small file whose header lies about its size cannot
 * make us allocate up to IDX_MAX_PAYLOAD. Raw files are sized by fstat. */
#define IDX_FIRST_CHUNK ((size_t)4 << 20)
/* The reader's input buffer (inflate adds its 32 KiB window). */
#define IDX_GZ_BUFFER (1u << 17)
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Fuzzing: small inputs reach the growth loop, and no exec pays for
 * mapping and unmapping megabytes. */
#undef IDX_FIRST_CHUNK
#undef IDX_GZ_BUFFER
#define IDX_FIRST_CHUNK ((size_t)64)
#define IDX_GZ_BUFFER 1024u
#endif
/* zlib's counts are unsigned ints; stay well inside them. */
#define IDX_MAX_READ ((size_t)1 << 30)

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The file being read: raw, or gzip (one member or several, concatenated)
 * inflated here, so that whatever follows the last member is seen: zlib's
 * gz* functions skip trailing garbage silently. */
typedef struct {
    int fd;
    const char *path;
    int gzip;                /* the file starts with the gzip magic        */
    int zinit;               /* zs holds an inflate state                  */
    z_stream zs;             /* next_in/avail_in: read but not yet used    */
    unsigned char *in;       /* IDX_GZ_BUFFER bytes of input               */
    int eof;                 /* read() has reached the end of the file     */
    int done;                /* gzip: the last member has ended            */
    uint64_t pos;            /* bytes read from the file so far            */
    uint64_t size;           /* the file's length (0: not a regular file)  */
} Src;

/* Reads into the input buffer until it holds at least want bytes (want <=
 * IDX_GZ_BUFFER) or the file ends. */
static Status fill(Src *s, size_t want, Err *e)
{
    if (s->zs.avail_in && s->zs.next_in != s->in) memmove(s->in, s->zs.next_in, s->zs.avail_in);
    s->zs.next_in = s->in;
    while (s->zs.avail_in < want && !s->eof) {
        ssize_t r = read(s->fd, s->in + s->zs.avail_in, IDX_GZ_BUFFER - s->zs.avail_in);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return err_set(e, ST_ERR_IO, "%s: read failed: %s", s->path, strerror(errno));
        if (r == 0) s->eof = 1;
        s->zs.avail_in += (uInt)r;
        s->pos += (uint64_t)r;
    }
    return ST_OK;
}

static Status src_open(Src *s, int fd, const char *path, uint64_t size, Err *e)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->path = path;
    s->size = size;
    if (!(s->in = malloc(IDX_GZ_BUFFER))) return err_set(e, ST_ERR_NOMEM, "%s: cannot allocate a read buffer", path);
    Status st = fill(s, 2, e);
    if (st) return st;
    s->gzip = s->zs.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    if (s->gzip) {
        int zr = inflateInit2(&s->zs, 16 + MAX_WBITS); /* gzip only, with its CRC and length checks */
        if (zr != Z_OK)
            return err_set(e, zr == Z_MEM_ERROR ? ST_ERR_NOMEM : ST_ERR_FORMAT, "%s: cannot start zlib (error %d)",
                           path, zr);
        s->zinit = 1;
    }
    return ST_OK;
}

static void src_close(Src *s)
{
    if (s->zinit) inflateEnd(&s->zs);
    free(s->in);
    close(s->fd);
}

/* After the end of a gzip member: another member, the end of the file, or
 * data that is not gzip, which is an error like the trailing bytes of a raw
 * file. */
static Status next_member(Src *s, Err *e)
{
    Status st = fill(s, 2, e);
    if (st) return st;
    if (!s->zs.avail_in) {
        s->done = 1;
        return ST_OK;
    }
    if (s->zs.avail_in >= 2 && s->zs.next_in[0] == 0x1f && s->zs.next_in[1] == 0x8b) {
        inflateReset(&s->zs);
        return ST_OK;
    }
    uint64_t used = s->pos - s->zs.avail_in;
    if (s->size > used)
        return err_set(e, ST_ERR_FORMAT, "%s: trailing data: %llu bytes after the end of the gzip stream", s->path,
                       (unsigned long long)(s->size - used));
    return err_set(e, ST_ERR_FORMAT, "%s: trailing data after the end of the gzip stream", s->path);
}

/* Reads up to len bytes, looping over short reads; *got is what arrived.
 * A short *got with ST_OK means a clean end of data. */
static Status read_full(Src *s, void *buf, size_t len, size_t *got, Err *e)
{
    unsigned char *p = buf;
    Status st;
    *got = 0;
    if (!s->gzip) {
        size_t k = s->zs.avail_in < len ? s->zs.avail_in : len; /* what fill() read ahead */
        memcpy(p, s->zs.next_in, k);
        s->zs.next_in += k;
        s->zs.avail_in -= (uInt)k;
        *got = k;
        while (*got < len && !s->eof) {
            size_t ask = len - *got;
            if (ask > IDX_MAX_READ) ask = IDX_MAX_READ;
            ssize_t r = read(s->fd, p + *got, ask);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return err_set(e, ST_ERR_IO, "%s: read failed: %s", s->path, strerror(errno));
            if (r == 0) s->eof = 1;
            *got += (size_t)r;
            s->pos += (uint64_t)r;
        }
        return ST_OK;
    }
    while (*got < len && !s->done) {
        if (!s->zs.avail_in && (st = fill(s, 1, e))) return st;
        if (!s->zs.avail_in)
            return err_set(e, ST_ERR_FORMAT, "%s: corrupt or truncated gzip stream: unexpected end of file", s->path);
        size_t ask = len - *got;
        if (ask > IDX_MAX_READ) ask = IDX_MAX_READ;
        s->zs.next_out = p + *got;
        s->zs.avail_out = (uInt)ask;
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        *got += ask - s->zs.avail_out;
        if (zr == Z_STREAM_END) {
            if ((st = next_member(s, e))) return st;
        } else if (zr == Z_MEM_ERROR) {
            return err_set(e, ST_ERR_NOMEM, "%s: out of memory in zlib", s->path);
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            return err_set(e, ST_ERR_FORMAT, "%s: corrupt or truncated gzip stream: %s", s->path,
                           s->zs.msg ? s->zs.msg : "unknown zlib error");
        }
    }
    return ST_OK;
}

/* Reads the payload of want bytes (want > 0) into a fresh buffer. The
 * buffer grows geometrically unless exact_size says the length is known. */
static Status read_payload(Src *src, size_t want, int exact_size, const char *path, const char *unit,
                           uint8_t **out, Err *e)
{
    size_t cap = exact_size || want < IDX_FIRST_CHUNK ? want : IDX_FIRST_CHUNK;
    uint8_t *buf = malloc(cap);
    if (!buf) return err_set(e, ST_ERR_NOMEM, "%s: cannot allocate %zu bytes of %s", path, cap, unit);
    size_t got = 0;
    for (;;) {
        size_t n = 0;
        Status st = read_full(src, buf + got, cap - got, &n, e);
        got += n;
        if (st != ST_OK) {
            free(buf);
            return st;
        }
        if (got < cap) break; /* end of data before the buffer filled */
        if (got == want) break;
        size_t ncap = cap > want / 2 ? want : cap * 2;
        uint8_t *nb = realloc(buf, ncap);
        if (!nb) {
            free(buf);
            return err_set(e, ST_ERR_NOMEM, "%s: cannot allocate %zu bytes of %s", path, ncap, unit);
        }
        buf = nb;
        cap = ncap;
    }
    if (got != want) {
        free(buf);
        return err_set(e, ST_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %zu", path,
                       want, unit, got);
    }
    *out = buf;
    return ST_OK;
}

/* Checks the header dims and returns the payload size in *bytes. */
static Status check_dims(const char *path, const IdxKind *k, const uint32_t *dims, size_t *bytes,
                         Err *e)
{
    char desc[96];
    if (k->ndims == 3)
        snprintf(desc, sizeof desc, "%" PRIu32 " images of %" PRIu32 "x%" PRIu32, dims[0], dims[1],
                 dims[2]);
    else
        snprintf(desc, sizeof desc, "%" PRIu32 " labels", dims[0]);
    for (int i = 0; i < k->ndims; i++)
        if (dims[i] == 0)
            return err_set(e, ST_ERR_FORMAT, "%s: zero dimension in header (%s)", path, desc);
    /* Each factor is < 2^32, so a product is checked against the limit
     * before the next multiplication can overflow 64 bits. */
    uint64_t total = 1;
    for (int i = 0; i < k->ndims; i++) {
        total *= dims[i];
        if (total > IDX_MAX_PAYLOAD)
            return err_set(e, ST_ERR_FORMAT,
                           "%s: header claims %s, too large (limit %" PRIu64 " bytes of %s)", path,
                           desc, IDX_MAX_PAYLOAD, k->unit);
    }
    if (total > (uint64_t)SIZE_MAX)
        return err_set(e, ST_ERR_NOMEM, "%s: %s do not fit in memory", path, desc);
    *bytes = (size_t)total;
    return ST_OK;
}

static Status idx_read(const char *path, const IdxKind *k, uint32_t *dims, uint8_t **data, Err *e)
{
    int fd;
    unsigned long long size; /* a regular file's: a FIFO or a device is refused, never waited on */
    Status st = file_open_regular(path, &fd, &size, e);
    if (st) return st;
    Src src;
    uint8_t *buf = NULL;
    if ((st = src_open(&src, fd, path, (uint64_t)size, e))) goto fail;
    unsigned char hdr[4 + 4 * 3];
    size_t hdr_len = 4 + 4 * (size_t)k->ndims, got = 0, bytes = 0;

    /* The magic first, so that a wrong kind of file is named as such even
     * when it is shorter than our header. */
    if ((st = read_full(&src, hdr, 4, &got, e)) != ST_OK) goto fail;
    if (got < 4) {
        st = err_set(e, ST_ERR_FORMAT, "%s: truncated: expected a %zu-byte %s header, got %zu bytes",
                     path, hdr_len, k->name, got);
        goto fail;
    }
    uint32_t magic = be32(hdr);
    if (magic != k->magic) {
        const char *hint = magic == IDX_MAGIC_IMAGES   ? "; this is an IDX images file"
                           : magic == IDX_MAGIC_LABELS ? "; this is an IDX labels file"
                                                       : "";
        st = err_set(e, ST_ERR_FORMAT, "%s: bad magic 0x%08" PRIX32 ", expected 0x%08" PRIX32 " (%s)%s",
                     path, magic, k->magic, k->name, hint);
        goto fail;
    }
    if ((st = read_full(&src, hdr + 4, hdr_len - 4, &got, e)) != ST_OK) goto fail;
    if (got < hdr_len - 4) {
        st = err_set(e, ST_ERR_FORMAT, "%s: truncated: expected a %zu-byte %s header, got %zu bytes",
                     path, hdr_len, k->name, 4 + got);
        goto fail;
    }
    for (int i = 0; i < k->ndims; i++) dims[i] = be32(hdr + 4 + 4 * i);
    if ((st = check_dims(path, k, dims, &bytes, e)) != ST_OK) goto fail;

    /* A raw regular file's length is known: check it before allocating. */
    int exact = 0;
    if (!src.gzip) {
        uint64_t have = (uint64_t)size - hdr_len; /* >= 0: the header was read */
        if (have < bytes) {
            st = err_set(e, ST_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %" PRIu64,
                         path, bytes, k->unit, have);
            goto fail;
        }
        if (have > bytes) {
            st = err_set(e, ST_ERR_FORMAT,
                         "%s: trailing bytes: %" PRIu64 " bytes after the %zu bytes of %s the header announces",
                         path, have - bytes, bytes, k->unit);
            goto fail;
        }
        exact = 1;
    }
    if ((st = read_payload(&src, bytes, exact, path, k->unit, &buf, e)) != ST_OK) goto fail;

    /* The file must end here. For gzip this read also reaches the trailer
     * (inflate checks the CRC and length), any further members, and
     * whatever follows the last one (next_member refuses it). */
    unsigned char extra;
    if ((st = read_full(&src, &extra, 1, &got, e)) != ST_OK) goto fail;
    if (got != 0) {
        st = err_set(e, ST_ERR_FORMAT, "%s: trailing bytes after the %zu bytes of %s the header announces",
                     path, bytes, k->unit);
        goto fail;
    }
    src_close(&src);
    *data = buf;
    return ST_OK;

fail:
    free(buf);
    src_close(&src);
    return st;
}

Status idx_read_images(const char *path, IdxImages *out, Err *e)
{
    memset(out, 0, sizeof *out);
    uint32_t dims[3];
    uint8_t *data = NULL;
    Status st = idx_read(path, &IDX_IMAGES, dims, &data, e);
    if (st != ST_OK) return st;
    out->n = dims[0];
    out->rows = dims[1];
    out->cols = dims[2];
    out->pixels = data;
    return ST_OK;
}

Status idx_read_labels(const char *path, IdxLabels *out, Err *e)
{
    memset(out, 0, sizeof *out);
    uint32_t dims[1];
    uint8_t *data = NULL;
    Status st = idx_read(path, &IDX_LABELS, dims, &data, e);
    if (st != ST_OK) return st;
    out->n = dims[0];
    out->labels = data;
    return ST_OK;
}

void idx_images_free(IdxImages *im)
{
    if (!im) return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

void idx_labels_free(IdxLabels *lb)
{
    if (!lb) return;
    free(lb->labels);
    memset(lb, 0, sizeof *lb);
}
