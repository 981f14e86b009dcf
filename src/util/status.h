/* status.h - the error type every fallible library call returns.
 *
 * A call that can fail returns a Status and, on failure, writes a one-line
 * human-readable message into a caller-owned Err ("FILE: what was expected,
 * what was found"). The library never exits or aborts on bad input; main.c
 * turns a Status into a message on stderr and an exit code. */
#ifndef FMNIST_STATUS_H
#define FMNIST_STATUS_H

#include <stddef.h>

typedef enum {
    ST_OK = 0,
    ST_ERR_IO,          /* open/read/write/rename failed (message has strerror) */
    ST_ERR_FORMAT,      /* a file's content is malformed                        */
    ST_ERR_SHAPE,       /* shapes of a model do not fit together                */
    ST_ERR_NOMEM,       /* an allocation failed or a size overflowed            */
    ST_ERR_ARG,         /* a caller passed an invalid value (flag, setting)      */
    ST_ERR_INTERRUPTED, /* stopped by a signal                                  */
    ST_ERR_DIVERGED     /* loss or gradient became NaN or infinite              */
} Status;

typedef struct {
    char msg[512];
} Err;

/* Formats the message into e (if e is not NULL) and returns st. */
Status err_set(Err *e, Status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes e->msg with "prefix: " (keeps the message if it does not fit). */
void err_prefix(Err *e, const char *prefix);

const char *status_name(Status st);

/* size_t multiplication that reports overflow: returns 0 and leaves *out
 * untouched if a*b does not fit. */
static inline int size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a) return 0;
    *out = a * b;
    return 1;
}

#endif
