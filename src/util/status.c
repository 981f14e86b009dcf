/* status.c - formatting of error messages (see status.h). */
#include "util/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

Status err_set(Err *e, Status st, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

void err_prefix(Err *e, const char *prefix)
{
    if (!e) return;
    char tmp[sizeof e->msg];
    int n = snprintf(tmp, sizeof tmp, "%s: %s", prefix, e->msg);
    if (n > 0 && (size_t)n < sizeof tmp) memcpy(e->msg, tmp, (size_t)n + 1);
}

const char *status_name(Status st)
{
    switch (st) {
    case ST_OK: return "ok";
    case ST_ERR_IO: return "I/O error";
    case ST_ERR_FORMAT: return "format error";
    case ST_ERR_SHAPE: return "shape error";
    case ST_ERR_NOMEM: return "out of memory";
    case ST_ERR_ARG: return "invalid argument";
    case ST_ERR_INTERRUPTED: return "interrupted";
    case ST_ERR_DIVERGED: return "diverged";
    }
    return "unknown error";
}
