/* tfevents.c - TensorBoard event files (see tfevents.h). */
#include "report/tfevents.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "util/pb.h"

/* event.proto, summary.proto, histogram.proto (tensorboard/compat/proto) */
enum { EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5 };
enum { SUMMARY_VALUE = 1 };
enum { VALUE_TAG = 1, VALUE_SIMPLE = 2, VALUE_HISTO = 5 };
enum { HISTO_MIN = 1, HISTO_MAX = 2, HISTO_NUM = 3, HISTO_SUM = 4, HISTO_SUM_SQUARES = 5, HISTO_BUCKET_LIMIT = 6,
       HISTO_BUCKET = 7 };

static uint32_t masked_crc(const void *p, size_t n)
{
    uint32_t c = crc32c(0, p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

void tfe_record(Buf *out, const void *data, size_t n)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    buf_put(out, len, 8);
    buf_u32(out, masked_crc(len, 8));
    buf_put(out, data, n);
    buf_u32(out, masked_crc(data, n));
}

/* The event's head (wall_time, step), then what (a field of it) as given,
 * framed into out; what is emptied. */
static void event(Buf *out, double wall, int64_t step, int field, Buf *what)
{
    Buf ev = {0};
    pb_double(&ev, EVENT_WALL_TIME, wall);
    if (step) pb_int(&ev, EVENT_STEP, step); /* proto3: 0 is left out */
    pb_msg(&ev, field, what);
    if (ev.failed) out->failed = 1;
    else tfe_record(out, ev.data, ev.len);
    buf_free(&ev);
}

void tfe_file_version(Buf *out, double wall)
{
    Buf ev = {0};
    pb_double(&ev, EVENT_WALL_TIME, wall);
    pb_str(&ev, EVENT_FILE_VERSION, TFE_FILE_VERSION);
    if (ev.failed) out->failed = 1;
    else tfe_record(out, ev.data, ev.len);
    buf_free(&ev);
}

void tfe_scalars(Buf *out, double wall, int64_t step, const TfeScalar *v, int n)
{
    Buf sum = {0};
    for (int i = 0; i < n; i++) {
        Buf val = {0};
        pb_str(&val, VALUE_TAG, v[i].tag);
        pb_float(&val, VALUE_SIMPLE, (float)v[i].value);
        pb_msg(&sum, SUMMARY_VALUE, &val);
    }
    event(out, wall, step, EVENT_SUMMARY, &sum);
}

void tfe_histogram(Buf *out, double wall, int64_t step, const char *tag, const float *v, size_t n)
{
    double lo = n ? v[0] : 0, hi = lo, s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        lo = x < lo ? x : lo, hi = x > hi ? x : hi;
        s += x, s2 += x * x;
    }
    int nb = n == 0 ? 0 : hi > lo ? TFE_BUCKETS : 1;
    double limit[TFE_BUCKETS], count[TFE_BUCKETS] = {0};
    double width = (hi - lo) / TFE_BUCKETS;
    for (int b = 0; b < nb; b++) limit[b] = b == nb - 1 ? hi : lo + (b + 1) * width;
    for (size_t i = 0; i < n; i++) {
        double q = nb > 1 ? (v[i] - lo) / width : 0; /* compared before the cast: a NaN goes to bucket 0 */
        count[q >= nb - 1 ? nb - 1 : q > 0 ? (int)q : 0] += 1;
    }
    Buf h = {0}, val = {0}, sum = {0};
    pb_double(&h, HISTO_MIN, lo);
    pb_double(&h, HISTO_MAX, hi);
    pb_double(&h, HISTO_NUM, (double)n);
    pb_double(&h, HISTO_SUM, s);
    pb_double(&h, HISTO_SUM_SQUARES, s2);
    pb_doubles(&h, HISTO_BUCKET_LIMIT, limit, (size_t)nb);
    pb_doubles(&h, HISTO_BUCKET, count, (size_t)nb);
    pb_str(&val, VALUE_TAG, tag);
    pb_msg(&val, VALUE_HISTO, &h);
    pb_msg(&sum, SUMMARY_VALUE, &val);
    event(out, wall, step, EVENT_SUMMARY, &sum);
}

void tfe_epoch(Buf *out, double wall, const EpochStats *s, double lr, const Net *net)
{
    TfeScalar v[8] = {{"loss/train", s->train_loss}, {"accuracy/train", s->train_acc},
                      {"loss/test", s->test_loss},   {"accuracy/test", s->test_acc},
                      {"lr", lr},                    {"weight_norm", s->weight_norm}};
    int n = 6;
    if (s->has_val) {
        v[n++] = (TfeScalar){"loss/validation", s->val_loss};
        v[n++] = (TfeScalar){"accuracy/validation", s->val_acc};
    }
    tfe_scalars(out, wall, s->epoch, v, n);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        if (!pi->is_buffer) tfe_histogram(out, wall, s->epoch, pi->name, net->params + pi->offset, pi->numel);
    }
}

double tfe_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define TFE_NAME_TRIES 100

Status tfe_create(TfeFile *f, const char *dir, double wall, Err *e)
{
    char host[65] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_'))
            *c = '_';
    f->fd = -1;
    long long secs = (long long)floor(wall);
    Status st = ST_OK;
    for (int k = 0; k < TFE_NAME_TRIES; k++) {
        if (snprintf(f->path, sizeof f->path, "%s/events.out.tfevents.%lld.%s.fmnist", dir, secs + k, host) >=
            (int)sizeof f->path)
            return err_set(e, ST_ERR_ARG, "%s: path too long for an event file", dir);
        int taken;
        st = file_create_new(f->path, &f->fd, &taken, e);
        if (!st || !taken) break;
    }
    if (st) return st;
    Buf b = {0};
    tfe_file_version(&b, wall);
    st = tfe_append(f, &b, e);
    if (st) tfe_close(f);
    return st;
}

Status tfe_append(TfeFile *f, Buf *b, Err *e)
{
    Status st = b->failed ? err_set(e, ST_ERR_NOMEM, "%s: out of memory for the events", f->path)
                          : file_append(f->fd, f->path, b->data, b->len, e);
    buf_free(b);
    return st;
}

void tfe_close(TfeFile *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}
