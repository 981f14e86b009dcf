/* fileio.h - whole-file reads and atomic writes.
 *
 * file_write_atomic writes to a new file "PATH.tmp-PID-RANDOM", fsyncs it,
 * renames it over PATH and fsyncs the folder: at any moment PATH holds either
 * its old content or the new one, never a mix, and a failed write leaves the
 * old file whole. The temp file is created with O_EXCL|O_NOFOLLOW under a name
 * nobody can predict: a file or link planted in the folder is never opened,
 * followed or truncated (a taken name is skipped), and PATH ends up a regular
 * file of ours.
 *
 * Every reader of a file the user names opens it with file_open_regular (or
 * file_fopen_regular): a folder, a FIFO, a device or a socket is refused at
 * once, "PATH: not a regular file (a FIFO)", instead of blocking in open()
 * until a writer comes, or reading forever. */
#ifndef FMNIST_FILEIO_H
#define FMNIST_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "util/status.h"

/* Sizes of path buffers, NUL included, from this one place. FM_PATH holds a
 * path as the user gives it or the program finds it (Linux's PATH_MAX);
 * FM_PATH_NAME a path with "/NAME" or a suffix added, NAME a file name of
 * up to FM_NAME - 1 bytes (Linux's NAME_MAX). A buffer for a path two names
 * deep is FM_PATH_NAME + FM_NAME. Where a path is built, one that does not
 * fit is refused ("path too long") or cut by snprintf, never overflows. */
#define FM_PATH 4096
#define FM_NAME 256
#define FM_PATH_NAME (FM_PATH + FM_NAME)

Status file_write_atomic(const char *path, const void *data, size_t len, Err *e);
/* Opens an existing regular file for reading; never blocks. *fd gets a
 * blocking, close-on-exec descriptor (-1 on failure), *size (if not NULL) the
 * file's length. */
Status file_open_regular(const char *path, int *fd, unsigned long long *size, Err *e);
/* The same as a stdio stream opened "rb" (*f is NULL on failure). */
Status file_fopen_regular(const char *path, FILE **f, Err *e);
/* Reads a whole regular file of at most max bytes into a malloc'd buffer
 * (with a NUL after the content, not counted in *len). */
Status file_read_all(const char *path, size_t max, char **data, size_t *len, Err *e);
/* file_read_all for a file that must begin with the bytes of magic: they are
 * read and compared first, so that a large file of another kind is refused
 * before anything is allocated for it ("PATH: not WHAT (no MAGIC header)",
 * ST_ERR_FORMAT). magic is at most 16 bytes. */
Status file_read_magic(const char *path, size_t max, const char *magic, const char *what, char **data, size_t *len,
                       Err *e);
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
/* 1 if a and b name the same file: the same device and inode when both
 * exist (links followed), else the same absolute path once ".", "..",
 * repeated slashes and the links of the folders that exist are resolved (an
 * output not written yet against another path). 0 otherwise. */
int file_same(const char *a, const char *b);
/* The folder that holds path ("." for a bare name, "/" at the root; "a/b/"
 * is in "a"), cut to len bytes. */
void file_folder_of(const char *path, char *dir, size_t len);
/* Creates and removes a new file (O_EXCL, under a random name) in dir:
 * ST_ERR_IO, naming dir and the system's reason, if files cannot be created
 * there. */
Status file_check_writable(const char *dir, Err *e);

/* Creates path as a new, empty regular file for appending (O_EXCL|O_NOFOLLOW:
 * an existing name, file or link, is never opened): *fd its close-on-exec
 * descriptor (-1 on failure). *taken (if not NULL) is 1 when the name
 * existed, so a caller can try another. Errors name path. */
Status file_create_new(const char *path, int *fd, int *taken, Err *e);
/* Writes data[0..len) at the end of fd (path names it in errors), retrying
 * short writes: a file that grows record by record (report/tfevents.c), so
 * that what was appended before a crash stays. */
Status file_append(int fd, const char *path, const void *data, size_t len, Err *e);

/* Removes the regular files of dir (not links, folders or others) whose
 * names start with prefix and end with suffix, except the one named keep
 * (a name, or NULL); *removed gets their number. Errors name the path. */
Status file_remove_matching(const char *dir, const char *prefix, const char *suffix, const char *keep, int *removed,
                            Err *e);

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
