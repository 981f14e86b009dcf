/* fileio.h - whole-file reads and atomic writes.
 *
 * file_write_atomic writes to "PATH.tmp-PID", fsyncs it, renames it over
 * PATH and fsyncs the folder: at any moment PATH holds either its old content
 * or the new one, never a mix, and a failed write leaves the old file whole. */
#ifndef FMNIST_FILEIO_H
#define FMNIST_FILEIO_H

#include <stddef.h>

#include "util/status.h"

Status file_write_atomic(const char *path, const void *data, size_t len, Err *e);
/* Reads a whole file of at most max bytes into a malloc'd buffer (with a NUL
 * after the content, not counted in *len). */
Status file_read_all(const char *path, size_t max, char **data, size_t *len, Err *e);
/* mkdir -p; errors name the path and the system's reason. */
Status file_mkdirs(const char *path, Err *e);
/* Creates a new, empty folder: base itself if that name is free, else
 * base-2, base-3, .. up to base-FILE_MKDIR_NEW_TRIES (its parent is created
 * first if missing, as by file_mkdirs). mkdir fails on any existing name, so
 * nothing already there is used, and two processes never get the same
 * folder. The path created goes to out (outlen bytes). */
#define FILE_MKDIR_NEW_TRIES 1000
Status file_mkdir_new(const char *base, char *out, size_t outlen, Err *e);
int file_exists(const char *path);
/* Creates and removes a file in dir: ST_ERR_IO, naming dir and the
 * system's reason, if files cannot be created there. */
Status file_check_writable(const char *dir, Err *e);

/* A growable byte buffer for building files in memory. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;          /* an allocation failed: the content is incomplete */
} Buf;

void buf_put(Buf *b, const void *p, size_t n);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_u32(Buf *b, unsigned v);   /* little-endian */
void buf_u64(Buf *b, unsigned long long v);
void buf_free(Buf *b);

#endif
