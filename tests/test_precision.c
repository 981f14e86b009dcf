/* test_precision.c - Check suite for --precision: the setting in the
 * checkpoint, the run header, eval and predict following the checkpoint,
 * the flag's errors, and bf16 runs that are reproducible (threads, resume)
 * and differ from fp32. The kernels' own bf16 arithmetic is test_bf16.c's.
 *
 * The bf16 runs need a CPU with AVX512_BF16; on one without, those tests
 * print that they were skipped and check the refusal instead. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/math.h"
#include "testutil.h"
#include "train/settings.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

static int have_bf16(void)
{
    CpuFeatures c;
    cpu_detect(&c);
    return c.avx512_bf16;
}

/* A temp folder with DIR/data: 600 training and 200 test images. */
static char *fixture(char *data, size_t len)
{
    char *dir = make_temp_dir();
    Err e;
    snprintf(data, len, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 600, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 200, 2), 0);
    return dir;
}

/* 1 if the n bytes at p contain the string w. */
static int contains(const char *p, size_t n, const char *w)
{
    size_t k = strlen(w);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(p + i, w, k)) return 1;
    return 0;
}

/* The last line of DIR/log.csv without its seconds column (malloc'd). */
static char *last_log_line(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    char *csv = read_all_or_fail(path, NULL);
    csv_strip_seconds(csv);
    size_t n = strlen(csv);
    while (n && csv[n - 1] == '\n') csv[--n] = 0;
    char *last = strrchr(csv, '\n');
    char *r = strdup(last ? last + 1 : csv);
    free(csv);
    return r;
}

START_TEST(test_settings_round_trip)
{
    RunSettings s;
    settings_defaults(&s);
    snprintf(s.model, sizeof s.model, "models/mlp.cfg");
    s.train.epochs = 1, s.train.batch = 8, s.train_n = 10, s.train.precision = PREC_BF16;
    Buf b = {0};
    settings_format(&s, &b);
    buf_put(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\nprecision=bf16\n"));
    RunSettings r;
    Err e;
    ck_assert_int_eq(settings_parse("x.fmw", b.data, &r, &e), ST_OK);
    ck_assert_int_eq(r.train.precision, PREC_BF16);
    /* absent (a checkpoint of an older fmnist): fp32 */
    char *p = strstr(b.data, "precision=bf16\n");
    memmove(p, p + strlen("precision=bf16\n"), strlen(p + strlen("precision=bf16\n")) + 1);
    ck_assert_int_eq(settings_parse("x.fmw", b.data, &r, &e), ST_OK);
    ck_assert_int_eq(r.train.precision, PREC_FP32);
    /* an unknown precision is refused, naming the line */
    buf_free(&b);
    settings_format(&s, &b);
    buf_put(&b, "", 1);
    p = strstr(b.data, "precision=bf16");
    memcpy(p + strlen("precision="), "fp16", 4);
    ck_assert_int_eq(settings_parse("x.fmw", b.data, &r, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "x.fmw") && strstr(e.msg, "line"), "message: %s", e.msg);
    buf_free(&b);
}
END_TEST

START_TEST(test_flag_errors)
{
    char data[600], args[2048];
    char *dir = fixture(data, sizeof data);
    snprintf(args, sizeof args, "train --data %s --precision fp16 --out %s/r", data, dir);
    expect(args, 2, "--precision: expected fp32 or bf16, got 'fp16'");
    ck_assert(!file_exists(strcat(strcpy(args, dir), "/r")));
    snprintf(args, sizeof args, "eval --weights %s/none.fmw --precision half", dir);
    expect(args, 2, NULL);
    expect("train --help", 0, "--precision");
    expect("eval --help", 0, "--precision");
    expect("predict --help", 0, "--precision");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* bf16: the checkpoint says so, the header names the arithmetic, eval and
 * predict follow the checkpoint (eval's figures are the last epoch's), and
 * --precision fp32 evaluates the same weights in fp32. */
START_TEST(test_bf16_run)
{
    char data[600], args[2048], path[700];
    char *dir = fixture(data, sizeof data);
    if (!have_bf16()) {
        printf("test_bf16_run: skipped, this CPU has no AVX512_BF16; checking the refusal\n");
        snprintf(args, sizeof args, "train --data %s --precision bf16 --out %s/r", data, dir);
        expect(args, 2, "AVX512_BF16");
        rm_tree(dir);
        free(dir);
        return;
    }
    snprintf(args, sizeof args, "train --data %s --precision bf16 --epochs 2 --batch 50 --no-progress --out %s/b",
             data, dir);
    expect(args, 0, "products in bf16 (AVX512_BF16");
    ck_assert_ptr_nonnull(strstr(out, "bf16 products (fp32 weights, optimizer and sums)"));
    snprintf(path, sizeof path, "%s/b/model.fmw", dir);
    size_t n;
    char *ck = read_all_or_fail(path, &n);
    ck_assert_msg(contains(ck, n, "\nprecision=bf16\n"), "the checkpoint's settings should say precision=bf16");
    free(ck);
    /* eval in the checkpoint's precision reproduces the last epoch's test accuracy */
    snprintf(path, sizeof path, "%s/b", dir);
    char *last = last_log_line(path);
    double tl, ta;
    /* epoch,train_loss,train_acc,test_loss,test_acc,... */
    ck_assert_int_eq(sscanf(last, "%*d,%*f,%*f,%lf,%lf", &tl, &ta), 2);
    snprintf(args, sizeof args, "eval --data %s --weights %s/b/model.fmw", data, dir);
    expect(args, 0, "products in bf16");
    char want[64];
    snprintf(want, sizeof want, "test loss %.4f", tl);
    ck_assert_msg(strstr(out, want), "eval in bf16 should give the log's %s:\n%s", want, out);
    snprintf(args, sizeof args, "eval --data %s --weights %s/b/model.fmw --precision fp32", data, dir);
    expect(args, 0, "test loss");
    ck_assert_ptr_null(strstr(out, "products in bf16"));
    ck_assert_msg(!strstr(out, want), "fp32 should not give bf16's %s exactly", want);
    snprintf(args, sizeof args, "predict --weights %s/b/model.fmw --idx %s/t10k-images-idx3-ubyte --count 2", dir,
             data);
    expect(args, 0, "[1]");
    free(last);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* bf16 runs are reproducible: 1 thread = 2 threads, and a run stopped after
 * epoch 1 and resumed (keeping bf16 from its checkpoint) = the whole run;
 * and bf16 is not fp32. */
START_TEST(test_bf16_reproducible)
{
    if (!have_bf16()) {
        printf("test_bf16_reproducible: skipped, this CPU has no AVX512_BF16\n");
        return;
    }
    char data[600], args[2048], a[700], b[700], c[700], f[700];
    char *dir = fixture(data, sizeof data);
    const char *common = "--model models/cnn.cfg --epochs 2 --batch 50 --no-progress --train-limit 300";
    snprintf(args, sizeof args, "train --data %s %s --precision bf16 --threads 1 --out %s/a", data, common, dir);
    expect(args, 0, NULL);
    snprintf(args, sizeof args, "train --data %s %s --precision bf16 --threads 2 --out %s/b", data, common, dir);
    expect(args, 0, NULL);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    test_same_run(a, b);
    /* one epoch, then resumed to two: the precision comes from the checkpoint */
    snprintf(args, sizeof args,
             "train --data %s --model models/cnn.cfg --epochs 1 --batch 50 --no-progress --train-limit 300 "
             "--precision bf16 --out %s/c && %s train --resume %s/c/model.fmw --epochs 2 --data %s --no-progress",
             data, dir, getenv("FMNIST_BIN") ? getenv("FMNIST_BIN") : "./fmnist", dir, data);
    char sh[4096];
    snprintf(sh, sizeof sh, "%s %s", getenv("FMNIST_BIN") ? getenv("FMNIST_BIN") : "./fmnist", args);
    ck_assert_msg(run_shell(sh, out, sizeof out) == 0, "%s\n%s", sh, out);
    snprintf(c, sizeof c, "%s/c", dir);
    char *la = last_log_line(a), *lc = last_log_line(c);
    ck_assert_str_eq(la, lc);
    /* fp32 gives other numbers */
    snprintf(args, sizeof args, "train --data %s %s --threads 2 --out %s/f", data, common, dir);
    expect(args, 0, NULL);
    snprintf(f, sizeof f, "%s/f", dir);
    char *lf = last_log_line(f);
    ck_assert_str_ne(la, lf);
    free(la), free(lc), free(lf);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *precision_suite(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("precision");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_settings_round_trip);
    tcase_add_test(tc, test_flag_errors);
    tcase_add_test(tc, test_bf16_run);
    tcase_add_test(tc, test_bf16_reproducible);
    suite_add_tcase(s, tc);
    return s;
}
