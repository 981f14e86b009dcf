/* tfevents.h - TensorBoard event files: what `tensorboard --logdir` reads.
 *
 * A file is a sequence of TFRecords (uint64 length, little-endian; uint32
 * masked CRC-32C of those 8 bytes; the data; uint32 masked CRC-32C of the
 * data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8), each data an Event
 * message (tensorboard/compat/proto/event.proto): wall_time 1 (double), step 2
 * (int64), file_version 3 (string) or summary 5 (Summary: value 1, repeated
 * Value: tag 1, simple_value 2 (float) or histo 5 (HistogramProto: min 1,
 * max 2, num 3, sum 4, sum_squares 5, doubles; bucket_limit 6 and bucket 7,
 * packed doubles)). The first event is file_version "brain.Event:2".
 *
 * The encoders append to a Buf and write nothing; TfeFile appends a Buf to
 * a file of its own, created new, record after record (no temp file: a
 * crashed run keeps every event written before). Nothing here prints. */
#ifndef FMNIST_TFEVENTS_H
#define FMNIST_TFEVENTS_H

#include <stdint.h>

#include "nn/net.h"
#include "report/epoch.h"
#include "util/fileio.h"

#define TFE_FILE_VERSION "brain.Event:2"
/* Buckets of a histogram: equal widths from the tensor's min to its max, as
 * tf.summary.histogram's default (30). */
#define TFE_BUCKETS 30

typedef struct {
    const char *tag;
    double value;           /* written as a float (simple_value) */
} TfeScalar;

/* One TFRecord of data[0..n) appended to out. */
void tfe_record(Buf *out, const void *data, size_t n);
/* The first event of a file: file_version "brain.Event:2" at wall. */
void tfe_file_version(Buf *out, double wall);
/* One event at (wall, step) whose summary holds v[0..n) as simple_values. */
void tfe_scalars(Buf *out, double wall, int64_t step, const TfeScalar *v, int n);
/* One event holding the histogram of v[0..n) under tag: min, max, num, sum,
 * sum_squares of the values, TFE_BUCKETS buckets of equal width from min to
 * max (the last one's limit is max; a value goes to the bucket its distance
 * from min falls in), or one bucket when every value is the same (none when
 * n is 0). */
void tfe_histogram(Buf *out, double wall, int64_t step, const char *tag, const float *v, size_t n);

/* An epoch's events at step s->epoch: the scalars loss/train,
 * accuracy/train, loss/test, accuracy/test, loss/validation and
 * accuracy/validation (with a validation set), lr (the rate of the epoch's
 * last step) and weight_norm; then the histogram of each of net's tensors
 * but the buffers (batchnorm's running statistics), under its state_dict
 * name ("1.weight"). Accuracies are fractions, as in log.csv. */
void tfe_epoch(Buf *out, double wall, const EpochStats *s, double lr, const Net *net);

/* The wall clock in seconds since 1970 (an event's wall_time). */
double tfe_now(void);

/* An event file being written. */
typedef struct {
    int fd;                 /* -1: none */
    char path[FM_PATH_NAME];
} TfeFile;

/* Creates DIR/events.out.tfevents.SECONDS.HOST.fmnist (TensorBoard's naming:
 * SECONDS of wall, HOST this machine's name, characters other than letters,
 * digits, '-' and '_' replaced by '_') as a new file and writes its first
 * event. A name already taken (another session in the same second) is not
 * opened: SECONDS+1, +2, ... are tried, so that the names sort in the order
 * the files were made, which is the order TensorBoard reads them in. */
Status tfe_create(TfeFile *f, const char *dir, double wall, Err *e);
/* Appends b's bytes to the file and empties b. ST_ERR_NOMEM if b failed to
 * grow (nothing is written then), ST_ERR_IO naming the file. */
Status tfe_append(TfeFile *f, Buf *b, Err *e);
void tfe_close(TfeFile *f);

#endif
