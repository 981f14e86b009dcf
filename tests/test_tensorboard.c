/* test_tensorboard.c - the TensorBoard event files a run writes.
 *
 * The wire pieces against hand-worked bytes (varints, doubles, packed
 * doubles, CRC-32C's published check values, TFRecord framing); then real
 * runs of the binary, read by an independent reader, tools/tb_check.js
 * (protobufjs with TensorBoard's field numbers, the crc-32 package's
 * CRC-32C): every record's CRCs, file_version first, each epoch's scalars
 * equal to log.csv's figures, the histograms' counts equal to the tensors'
 * sizes (and min and max to the saved weights), loss/train_step every
 * --tb-every steps; a damaged file is refused by the reader; --resume writes
 * a second file whose steps go on; --no-tensorboard writes none; a sweep's
 * trials each get theirs. Skipped visibly without node or the npm packages
 * (tools/install-test-extras.sh installs them). */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/weights.h"
#include "report/tfevents.h"
#include "testutil.h"
#include "util/crc32c.h"
#include "util/fileio.h"
#include "util/pb.h"

static char out[1 << 17];

static void bytes_eq(const Buf *b, const unsigned char *want, size_t n)
{
    ck_assert_uint_eq(b->len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((unsigned char)b->data[i] == want[i], "byte %zu: 0x%02x, expected 0x%02x", i,
                      (unsigned char)b->data[i], want[i]);
}

START_TEST(test_pb_wire)
{
    Buf b = {0};
    pb_varint(&b, 300); /* protobuf's own example: 0xAC 0x02 */
    bytes_eq(&b, (const unsigned char[]){0xac, 0x02}, 2);
    b.len = 0;
    pb_int(&b, 2, -1); /* int64 -1: key 0x10, ten bytes */
    bytes_eq(&b, (const unsigned char[]){0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11);
    b.len = 0;
    pb_double(&b, 1, 1.0); /* wall_time: key 0x09, 1.0 = 0x3FF0000000000000 LE */
    bytes_eq(&b, (const unsigned char[]){0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, 9);
    b.len = 0;
    pb_float(&b, 2, 0.5f); /* simple_value: key 0x15, 0.5f = 0x3F000000 LE */
    bytes_eq(&b, (const unsigned char[]){0x15, 0, 0, 0, 0x3f}, 5);
    b.len = 0;
    double v[2] = {1.0, -2.0};
    pb_doubles(&b, 6, v, 2); /* packed: key 0x32, length 16 */
    bytes_eq(&b, (const unsigned char[]){0x32, 16, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0}, 18);
    b.len = 0;
    Buf sub = {0};
    pb_str(&sub, 1, "ab");
    pb_msg(&b, 5, &sub); /* embedded: key 0x2A, length 4, then 0x0A 2 'a' 'b' */
    bytes_eq(&b, (const unsigned char[]){0x2a, 4, 0x0a, 2, 'a', 'b'}, 6);
    ck_assert_ptr_null(sub.data);
    buf_free(&b);
}
END_TEST

START_TEST(test_crc32c_and_framing)
{
    /* the check value of CRC-32C, and RFC 3720's (iSCSI) vectors */
    ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283u);
    unsigned char zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    ck_assert_uint_eq(crc32c(0, zeros, 32), 0x8a9136aau);
    ck_assert_uint_eq(crc32c(0, ones, 32), 0x62a8ab43u);
    ck_assert_uint_eq(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283u); /* continued */
    /* a record: length, its masked CRC, the data, its masked CRC */
    Buf b = {0};
    tfe_record(&b, "abc", 3);
    ck_assert_uint_eq(b.len, 8 + 4 + 3 + 4);
    const unsigned char *p = (const unsigned char *)b.data;
    ck_assert_uint_eq(p[0], 3);
    for (int i = 1; i < 8; i++) ck_assert_uint_eq(p[i], 0);
    uint32_t c = crc32c(0, p, 8), want = ((c >> 15) | (c << 17)) + 0xa282ead8u, got;
    memcpy(&got, p + 8, 4);
    ck_assert_uint_eq(got, want);
    ck_assert_int_eq(memcmp(p + 12, "abc", 3), 0);
    c = crc32c(0, "abc", 3), want = ((c >> 15) | (c << 17)) + 0xa282ead8u;
    memcpy(&got, p + 15, 4);
    ck_assert_uint_eq(got, want);
    buf_free(&b);
}
END_TEST

/* Two files made in the same second get names in the order they were
 * made; a name already there (here a link planted to another file) is never
 * opened; what is appended follows the first event. */
START_TEST(test_file_names)
{
    char *dir = make_temp_dir();
    char victim[1024], link1[1200];
    Err e;
    snprintf(victim, sizeof victim, "%s/victim", dir);
    ck_assert_int_eq(file_write_atomic(victim, "keep", 4, &e), ST_OK);
    TfeFile a, b;
    ck_assert_msg(tfe_create(&a, dir, 1700000000.25, &e) == ST_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(a.path, "/events.out.tfevents.1700000000."));
    ck_assert_ptr_nonnull(strstr(a.path, ".fmnist"));
    const char *host = strstr(a.path, "1700000000.") + 11;
    snprintf(link1, sizeof link1, "%s/events.out.tfevents.1700000001.%s", dir, host);
    ck_assert_int_eq(symlink(victim, link1), 0);
    ck_assert_msg(tfe_create(&b, dir, 1700000000.75, &e) == ST_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(b.path, "/events.out.tfevents.1700000002."));
    ck_assert_int_lt(strcmp(a.path, b.path), 0);
    Buf x = {0};
    TfeScalar v = {"lr", 0.5};
    tfe_scalars(&x, 1700000001, 3, &v, 1);
    size_t n = x.len;
    ck_assert_int_eq(tfe_append(&a, &x, &e), ST_OK);
    ck_assert_ptr_null(x.data); /* emptied */
    tfe_close(&a);
    tfe_close(&b);
    size_t len;
    char *f = read_all_or_fail(a.path, &len);
    Buf first = {0};
    tfe_file_version(&first, 1700000000.25);
    ck_assert_uint_eq(len, first.len + n);
    ck_assert_int_eq(memcmp(f, first.data, first.len), 0);
    free(f);
    buf_free(&first);
    f = read_all_or_fail(victim, &len);
    ck_assert_str_eq(f, "keep");
    free(f);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the reader's lines ---- */

typedef struct {
    long step;
    double wall, v;
    char tag[64];
} Scalar;

typedef struct {
    long step;
    char tag[64];
    double num, min, max, sum, ss, bsum;
    int nb, asc;
} Histo;

typedef struct {
    int nfiles, nversions, records, version_first;
    char files[4][512];
    Scalar sc[512];
    int nsc;
    Histo hi[128];
    int nhi;
} TbLog;

/* Parses tb_check.js --lines output; version_first: each file's first event
 * was its file_version "brain.Event:2". */
static void parse_lines(char *text, TbLog *t)
{
    memset(t, 0, sizeof *t);
    int fresh = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "file ", 5)) {
            ck_assert_int_lt(t->nfiles, 4);
            snprintf(t->files[t->nfiles++], sizeof t->files[0], "%s", line + 5);
            fresh = 1;
            continue;
        }
        if (!strncmp(line, "version ", 8)) {
            double wall;
            char v[64];
            ck_assert_int_eq(sscanf(line, "version %lf %63s", &wall, v), 2);
            ck_assert_str_eq(v, "brain.Event:2");
            t->version_first += fresh;
            t->nversions++;
        } else if (!strncmp(line, "scalar ", 7)) {
            ck_assert_int_lt(t->nsc, 512);
            Scalar *s = &t->sc[t->nsc++];
            ck_assert_msg(sscanf(line, "scalar %ld %lf %63s %lf", &s->step, &s->wall, s->tag, &s->v) == 4, "%s", line);
        } else if (!strncmp(line, "histo ", 6)) {
            ck_assert_int_lt(t->nhi, 128);
            Histo *h = &t->hi[t->nhi++];
            ck_assert_msg(sscanf(line, "histo %ld %63s %lf %lf %lf %lf %lf %d %lf %d", &h->step, h->tag, &h->num,
                                 &h->min, &h->max, &h->sum, &h->ss, &h->nb, &h->bsum, &h->asc) == 10,
                          "%s", line);
        } else if (!strncmp(line, "records ", 8)) {
            t->records += atoi(line + 8);
        } else {
            ck_abort_msg("unexpected line from tb_check.js: %s", line);
        }
        fresh = 0;
    }
}

static const Scalar *find_scalar(const TbLog *t, long step, const char *tag)
{
    const Scalar *found = NULL;
    for (int i = 0; i < t->nsc; i++)
        if (t->sc[i].step == step && !strcmp(t->sc[i].tag, tag)) {
            ck_assert_msg(!found, "%s at step %ld twice", tag, step);
            found = &t->sc[i];
        }
    return found;
}

static int count_tag(const TbLog *t, const char *tag)
{
    int n = 0;
    for (int i = 0; i < t->nsc; i++) n += !strcmp(t->sc[i].tag, tag);
    return n;
}

/* Runs the reader on path: 0 and its output parsed into t, or 1 (skipped:
 * node or the packages missing; a line says so). */
static int read_events(const char *path, TbLog *t, const char *test)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "node tools/tb_check.js --lines %s", path);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 3 || rc == 127) {
        printf("skipped: %s (node, protobufjs or crc-32 missing: npm install --prefix tools/tbcheck --ignore-scripts "
               "protobufjs@7 crc-32@1.2)\n",
               test);
        return 1;
    }
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    parse_lines(out, t);
    return 0;
}

/* A folder of synthetic IDX files: n training and 100 test images. */
static void synthetic_data(const char *dir, int n)
{
    ck_assert_int_eq(write_synthetic_idx(dir, "train", n, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 6), 0);
}

/* The number of events.out.tfevents.* files in dir. */
static int count_event_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) n += !strncmp(de->d_name, "events.out.tfevents.", 20);
    closedir(d);
    return n;
}

static void near(double got, double want, const char *what, int epoch)
{
    ck_assert_msg(fabs(got - want) <= 1e-6 + 1e-6 * fabs(want), "epoch %d %s: events %.9g, log.csv %.9g", epoch,
                  what, got, want);
}

START_TEST(test_events_read_by_node)
{
    char *dir = make_temp_dir();
    char cmd[4096], path[1024];
    synthetic_data(dir, 300);
    /* 240 training images after --val 60, batches of 50: 5 steps an epoch, 10 in all */
    snprintf(cmd, sizeof cmd,
             "train --data %s --epochs 2 --batch 50 --val 60 --tb-every 2 --lr-schedule cosine --out %s/run "
             "--no-progress",
             dir, dir);
    expect_fmnist(cmd, 0, "epoch 2/2", out, sizeof out);
    snprintf(path, sizeof path, "%s/run", dir);
    ck_assert_int_eq(count_event_files(path), 1);
    static TbLog t;
    if (read_events(path, &t, "test_events_read_by_node")) goto done;
    double now = (double)time(NULL);
    ck_assert_int_eq(t.nfiles, 1);
    ck_assert_ptr_nonnull(strstr(t.files[0], "/events.out.tfevents."));
    ck_assert_ptr_nonnull(strstr(t.files[0], ".fmnist"));
    ck_assert_int_eq(t.nversions, 1);
    ck_assert_int_eq(t.version_first, 1);
    /* 1 version + 5 step points + per epoch 1 scalar event and 6 histograms */
    ck_assert_int_eq(t.records, 1 + 5 + 2 * 7);
    /* the scalars of each epoch are log.csv's figures */
    snprintf(path, sizeof path, "%s/run/log.csv", dir);
    char *csv = read_all_or_fail(path, NULL);
    ck_assert_ptr_nonnull(strstr(csv, "weight_norm,val_loss,val_acc"));
    int epochs = 0;
    for (char *line = strchr(csv, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        double c[9];
        ck_assert_int_eq(sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &c[0], &c[1], &c[2], &c[3], &c[4], &c[5],
                                &c[6], &c[7], &c[8]),
                         9);
        int e = (int)c[0];
        const char *tags[7] = {"loss/train", "accuracy/train", "loss/test", "accuracy/test", "weight_norm",
                               "loss/validation", "accuracy/validation"};
        const int col[7] = {1, 2, 3, 4, 6, 7, 8};
        for (int k = 0; k < 7; k++) {
            const Scalar *s = find_scalar(&t, e, tags[k]);
            ck_assert_msg(s != NULL, "no %s at epoch %d", tags[k], e);
            near(s->v, c[col[k]], tags[k], e);
            ck_assert_msg(s->wall > now - 600 && s->wall <= now + 5, "wall_time %f, now %f", s->wall, now);
        }
        epochs++;
    }
    free(csv);
    ck_assert_int_eq(epochs, 2);
    /* lr: the rate of each epoch's last step, cosine over 10 steps: 1e-3 * (1 + cos(pi * 4/10)) / 2 after
     * epoch 1 (the rate of step 5, the 5th of 10, is set from its position 4/10), ~2.4e-5 after epoch 2 */
    const Scalar *lr1 = find_scalar(&t, 1, "lr"), *lr2 = find_scalar(&t, 2, "lr");
    ck_assert_ptr_nonnull(lr1);
    ck_assert_ptr_nonnull(lr2);
    ck_assert_msg(lr1->v < 1e-3 && lr1->v > 5e-4 && lr2->v < lr1->v && lr2->v > 0, "lr %g then %g", lr1->v, lr2->v);
    ck_assert_int_eq(count_tag(&t, "lr"), 2);
    ck_assert_int_eq(count_tag(&t, "loss/train"), 2);
    /* the train loss every 2 steps: steps 2, 4, .., 10 */
    ck_assert_int_eq(count_tag(&t, "loss/train_step"), 5);
    for (long s = 2; s <= 10; s += 2) {
        const Scalar *p = find_scalar(&t, s, "loss/train_step");
        ck_assert_msg(p && p->v > 0 && p->v < 10, "loss/train_step at step %ld", s);
    }
    /* histograms: one per parameter tensor per epoch, counts = sizes; the last epoch's are the saved weights */
    Net *net;
    Err e;
    snprintf(path, sizeof path, "%s/run/model.fmw", dir);
    ck_assert_msg(weights_load(path, 1, &net, NULL, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(t.nhi, 2 * net->ntensors);
    for (int k = 0; k < t.nhi; k++) {
        const Histo *h = &t.hi[k];
        const ParamInfo *pi = &net->tensors[k % net->ntensors];
        ck_assert_int_eq(h->step, 1 + k / net->ntensors);
        ck_assert_str_eq(h->tag, pi->name);
        ck_assert_double_eq(h->num, (double)pi->numel);
        ck_assert_double_eq(h->bsum, h->num);
        ck_assert_int_eq(h->nb, TFE_BUCKETS);
        ck_assert_int_eq(h->asc, 1);
        ck_assert(h->min < h->max);
        if (h->step != 2) continue;
        const float *w = net->params + pi->offset;
        double lo = w[0], hi = w[0], sum = 0;
        for (size_t i = 0; i < pi->numel; i++) {
            lo = w[i] < lo ? w[i] : lo, hi = w[i] > hi ? w[i] : hi;
            sum += w[i];
        }
        ck_assert_double_eq(h->min, lo);
        ck_assert_double_eq(h->max, hi);
        ck_assert_double_eq_tol(h->sum, sum, 1e-9 * (1 + fabs(sum)));
    }
    net_free(net);
done:
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A byte changed anywhere, or a record cut, is caught by the reader: the
 * checks of the other tests can fail. */
START_TEST(test_reader_catches_damage)
{
    char *dir = make_temp_dir();
    char path[1024], cmd[2048];
    Buf b = {0};
    tfe_file_version(&b, 1.5e9);
    TfeScalar v[2] = {{"loss/train", 0.25}, {"accuracy/train", 0.75}};
    tfe_scalars(&b, 1.5e9 + 1, 7, v, 2);
    float w[5] = {-1, 0, 0, 0.5f, 2};
    tfe_histogram(&b, 1.5e9 + 2, 7, "0.weight", w, 5);
    float same[3] = {0.25f, 0.25f, 0.25f};
    tfe_histogram(&b, 1.5e9 + 2, 7, "0.bias", same, 3);
    ck_assert(!b.failed);
    snprintf(path, sizeof path, "%s/events.out.tfevents.1500000000.test.fmnist", dir);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, b.data, b.len, &e), ST_OK);
    static TbLog t;
    if (read_events(path, &t, "test_reader_catches_damage")) goto done;
    ck_assert_int_eq(t.records, 4);
    ck_assert_int_eq(t.version_first, 1);
    const Scalar *s = find_scalar(&t, 7, "accuracy/train");
    ck_assert_ptr_nonnull(s);
    ck_assert_double_eq(s->v, 0.75);
    ck_assert_double_eq(s->wall, 1.5e9 + 1);
    ck_assert_int_eq(t.nhi, 2);
    /* 5 values in 30 buckets of width 0.1 from -1: -1 in the first, the zeros in the 11th, 0.5 in the 16th,
     * 2 (the max) in the last */
    ck_assert_double_eq(t.hi[0].num, 5);
    ck_assert_double_eq(t.hi[0].bsum, 5);
    ck_assert_double_eq(t.hi[0].min, -1);
    ck_assert_double_eq(t.hi[0].max, 2);
    ck_assert_double_eq(t.hi[0].sum, 1.5);
    ck_assert_double_eq(t.hi[0].ss, 5.25);
    ck_assert_int_eq(t.hi[0].nb, 30);
    ck_assert_int_eq(t.hi[1].nb, 1); /* every value the same: one bucket */
    ck_assert_double_eq(t.hi[1].bsum, 3);
    /* each byte of the second record (length, its CRC, data, data's CRC) changed in turn */
    size_t first = 8 + 4 + 4; /* the version event's record: ... */
    uint64_t len0;
    memcpy(&len0, b.data, 8);
    first += (size_t)len0;
    uint64_t len1;
    memcpy(&len1, b.data + first, 8);
    size_t end = first + 16 + (size_t)len1;
    for (size_t i = first; i < end; i += 3) {
        b.data[i] ^= 0x10;
        ck_assert_int_eq(file_write_atomic(path, b.data, b.len, &e), ST_OK);
        b.data[i] ^= 0x10;
        snprintf(cmd, sizeof cmd, "node tools/tb_check.js --lines %s", path);
        int rc = run_shell(cmd, out, sizeof out);
        ck_assert_msg(rc == 1, "byte %zu changed: exit %d\n%s", i, rc, out);
        ck_assert_msg(strstr(out, "bad CRC") || strstr(out, "truncated"), "byte %zu: %s", i, out);
    }
    /* cut in the last record */
    ck_assert_int_eq(file_write_atomic(path, b.data, b.len - 3, &e), ST_OK);
    snprintf(cmd, sizeof cmd, "node tools/tb_check.js --lines %s", path);
    ck_assert_int_eq(run_shell(cmd, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "truncated"));
done:
    buf_free(&b);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* --resume: a second file, written after the first (its name sorts after),
 * with the later epochs and steps going on; --overwrite: the earlier run's
 * files go; --no-tensorboard: no file. */
START_TEST(test_resume_new_file_and_off)
{
    char *dir = make_temp_dir();
    char cmd[4096], path[1024];
    synthetic_data(dir, 200);
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --batch 50 --tb-every 1 --out %s/run --no-progress", dir,
             dir);
    expect_fmnist(cmd, 0, "epoch 1/1", out, sizeof out);
    snprintf(cmd, sizeof cmd, "train --resume %s/run/model.fmw --epochs 2 --data %s --tb-every 1 --no-progress", dir,
             dir);
    expect_fmnist(cmd, 0, "epoch 2/2", out, sizeof out);
    snprintf(path, sizeof path, "%s/run", dir);
    ck_assert_int_eq(count_event_files(path), 2);
    static TbLog t;
    const int node = !read_events(path, &t, "test_resume_new_file_and_off");
    if (node) {
        ck_assert_int_eq(t.nfiles, 2);
        ck_assert_int_eq(t.version_first, 2);
        ck_assert_int_eq(t.nversions, 2);
        ck_assert_int_lt(strcmp(t.files[0], t.files[1]), 0);
        /* every step once: 4 a session, 1..4 then 5..8; each epoch's scalars once */
        ck_assert_int_eq(count_tag(&t, "loss/train_step"), 8);
        for (long s = 1; s <= 8; s++) ck_assert_ptr_nonnull(find_scalar(&t, s, "loss/train_step"));
        ck_assert_int_eq(count_tag(&t, "loss/test"), 2);
        ck_assert_ptr_nonnull(find_scalar(&t, 1, "loss/test"));
        ck_assert_ptr_nonnull(find_scalar(&t, 2, "loss/test"));
        ck_assert_int_eq(count_tag(&t, "loss/validation"), 0); /* no --val: none */
        /* the second file holds epoch 2 alone: its records are the version, 4 steps, 1 + 6 */
        snprintf(cmd, sizeof cmd, "%s", t.files[1]);
        ck_assert_int_eq(read_events(cmd, &t, "test_resume_new_file_and_off"), 0);
        ck_assert_int_eq(t.records, 1 + 4 + 7);
        ck_assert_ptr_nonnull(find_scalar(&t, 2, "accuracy/test"));
        ck_assert_ptr_null(find_scalar(&t, 1, "accuracy/test"));
    }
    /* a new run over it (--overwrite): the two earlier files go once it has saved; its own, a link and
     * another program's file stay */
    char link1[1200], other[1200];
    snprintf(link1, sizeof link1, "%s/run/events.out.tfevents.1.link.fmnist", dir);
    snprintf(other, sizeof other, "%s/run/events.out.tfevents.1.tensorflow", dir); /* not fmnist's */
    Err e;
    ck_assert_int_eq(symlink("nowhere", link1), 0);
    ck_assert_int_eq(file_write_atomic(other, "x", 1, &e), ST_OK);
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --batch 50 --out %s/run --overwrite --no-progress", dir, dir);
    expect_fmnist(cmd, 0, "epoch 1/1", out, sizeof out);
    ck_assert_int_eq(count_event_files(path), 3);
    ck_assert(file_exists(other));
    ck_assert_int_eq(unlink(link1), 0);
    ck_assert_int_eq(unlink(other), 0);
    if (node) {
        ck_assert_int_eq(read_events(path, &t, "test_resume_new_file_and_off"), 0);
        ck_assert_int_eq(t.nfiles, 1);
        ck_assert_int_eq(count_tag(&t, "loss/test"), 1);
        ck_assert_int_eq(count_tag(&t, "loss/train_step"), 0); /* --tb-every's default, 50: none of the 4 steps */
    }
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --batch 50 --no-tensorboard --out %s/off --no-progress", dir,
             dir);
    expect_fmnist(cmd, 0, "epoch 1/1", out, sizeof out);
    snprintf(path, sizeof path, "%s/off", dir);
    ck_assert_int_eq(count_event_files(path), 0);
    /* --no-tensorboard over a run with event files: the earlier files go too (the run is replaced) */
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --batch 50 --no-tensorboard --out %s/run --overwrite --no-progress",
             dir, dir);
    expect_fmnist(cmd, 0, "epoch 1/1", out, sizeof out);
    snprintf(path, sizeof path, "%s/run", dir);
    ck_assert_int_eq(count_event_files(path), 0);
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --tb-every -1 --out %s/bad", dir, dir);
    expect_fmnist(cmd, 2, "--tb-every", out, sizeof out);
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --tb-every 5 --no-tensorboard --out %s/bad", dir, dir);
    expect_fmnist(cmd, 2, "--tb-every applies to the TensorBoard event file, which --no-tensorboard turns off", out,
                  sizeof out);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Each trial of a sweep writes its own file. */
START_TEST(test_sweep_trials)
{
    char *dir = make_temp_dir();
    char cmd[4096], path[1024];
    synthetic_data(dir, 200);
    snprintf(cmd, sizeof cmd, "sweep --data %s --epochs 1 --batch 50 --lr 0.001,0.01 --out %s/sw --no-progress", dir,
             dir);
    expect_fmnist(cmd, 0, NULL, out, sizeof out);
    static TbLog t;
    int skipped = 0;
    const char *trials[2] = {"lr1e-3", "lr0.01"}; /* the sweep's folder names */
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/sw/%s/seed1", dir, trials[k]);
        ck_assert_int_eq(count_event_files(path), 1);
        if (!skipped && !(skipped = read_events(path, &t, "test_sweep_trials"))) {
            ck_assert_int_eq(t.version_first, 1);
            ck_assert_ptr_nonnull(find_scalar(&t, 1, "loss/train"));
            ck_assert_ptr_nonnull(find_scalar(&t, 1, "weight_norm"));
        }
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *tensorboard_suite(void)
{
    Suite *s = suite_create("tensorboard");
    TCase *wire = tcase_create("wire"), *runs = tcase_create("runs");
    tcase_add_test(wire, test_pb_wire);
    tcase_add_test(wire, test_crc32c_and_framing);
    tcase_add_test(wire, test_file_names);
    tcase_add_test(runs, test_events_read_by_node);
    tcase_add_test(runs, test_reader_catches_damage);
    tcase_add_test(runs, test_resume_new_file_and_off);
    tcase_add_test(runs, test_sweep_trials);
    tcase_set_timeout(runs, 300);
    suite_add_tcase(s, wire);
    suite_add_tcase(s, runs);
    return s;
}
