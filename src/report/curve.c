/* curve.c - reads a training log.csv back into columns (see curve.h).
 *
 * Strict like every reader here: the header must be the one `train` writes,
 * every row six finite numbers, epochs counting 1, 2, 3 ... A half-written
 * last line cannot occur (logs are written atomically) and is an error. */
#include "report/curve.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/log.h"
#include "util/fileio.h"

void curve_free(Curve *c)
{
    if (!c) return;
    free(c->epoch);
    free(c->train_loss);
    memset(c, 0, sizeof *c);
}

Status curve_parse(const char *path, const char *text, Curve *c, Err *e)
{
    memset(c, 0, sizeof *c);
    size_t hlen = strlen(LOG_CSV_HEADER);
    int xcols = report_csv_cols(text); /* optional columns after the six */
    if (xcols < 0)
        return err_set(e, ST_ERR_FORMAT, "%s:1: expected the header '%.*s', got '%.*s'", path, (int)hlen - 1,
                       LOG_CSV_HEADER, (int)(strcspn(text, "\r\n") < 40 ? strcspn(text, "\r\n") : 40), text);
    hlen = strcspn(text, "\n") + 1;
    int ncols = 6 + !!(xcols & LOG_COL_NORM) + 2 * !!(xcols & LOG_COL_VAL);
    int rows = 0;
    for (const char *p = text + hlen; *p; p++) rows += *p == '\n';
    if (text[strlen(text) - 1] != '\n') rows++;
    c->epoch = malloc((size_t)(rows ? rows : 1) * sizeof *c->epoch);
    double *cols = malloc((size_t)(rows ? rows : 1) * (size_t)(ncols - 1) * sizeof *cols);
    if (!c->epoch || !cols) {
        free(c->epoch);
        free(cols);
        c->epoch = NULL;
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory for %d rows", path, rows);
    }
    c->train_loss = cols;
    c->train_acc = cols + rows;
    c->test_loss = cols + 2 * (size_t)rows;
    c->test_acc = cols + 3 * (size_t)rows;
    c->seconds = cols + 4 * (size_t)rows;
    double *more = cols + 5 * (size_t)rows;
    if (xcols & LOG_COL_NORM) c->weight_norm = more, more += rows;
    if (xcols & LOG_COL_VAL) c->val_loss = more, c->val_acc = more + rows;
    const char *p = text + hlen;
    for (int r = 0; r < rows; r++) {
        int line = r + 2;
        double v[9];
        for (int k = 0; k < ncols; k++) {
            char *end = (char *)p;
            errno = 0;
            v[k] = 0;
            if (!isspace((unsigned char)*p)) v[k] = strtod(p, &end); /* strtod would skip a newline */
            char want = k < ncols - 1 ? ',' : '\n';
            if (end == p || errno || !isfinite(v[k]) || (*end != want && !(k == ncols - 1 && *end == 0))) {
                curve_free(c);
                return err_set(e, ST_ERR_FORMAT, "%s:%d: expected %d comma-separated numbers, got '%.*s'", path, line,
                               ncols, (int)strcspn(p, "\n") < 60 ? (int)strcspn(p, "\n") : 60, p);
            }
            p = *end ? end + 1 : end;
        }
        if (v[0] != r + 1) {
            curve_free(c);
            return err_set(e, ST_ERR_FORMAT, "%s:%d: expected epoch %d, got %g", path, line, r + 1, v[0]);
        }
        c->epoch[r] = r + 1;
        c->train_loss[r] = v[1];
        c->train_acc[r] = v[2];
        c->test_loss[r] = v[3];
        c->test_acc[r] = v[4];
        c->seconds[r] = v[5];
        int k = 6;
        if (c->weight_norm) c->weight_norm[r] = v[k++];
        if (c->val_loss) c->val_loss[r] = v[k], c->val_acc[r] = v[k + 1];
        c->n = r + 1;
    }
    return ST_OK;
}

Status curve_read(const char *path, Curve *c, Err *e)
{
    memset(c, 0, sizeof *c);
    char *text;
    size_t len;
    Status st = file_read_all(path, 16u << 20, &text, &len, e);
    if (st) return st;
    if (strlen(text) != len) st = err_set(e, ST_ERR_FORMAT, "%s: expected a text file, found a NUL byte", path);
    else st = curve_parse(path, text, c, e);
    free(text);
    return st;
}
