/* test_usability.c - issue 18, item 7's small items: "1 epoch"; option
 * values as PyTorch users type them (Adam, SGD, AdamW, Cosine, FP32);
 * flags that would do nothing refused (--lr-step, --lr-gamma without a step
 * schedule, --nesterov without sgd, --decay-bias without a penalty); a
 * checkpoint given without --weights; predict --index/--count past the end
 * of the file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/weights.h"
#include "nn/optim.h"
#include "testutil.h"
#include "train/lrsched.h"
#include "kernels/math.h"
#include "train/tta.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

START_TEST(test_values_any_case)
{
    OptKind k;
    ck_assert(optim_parse_kind("Adam", &k) && k == OPT_ADAM);
    ck_assert(optim_parse_kind("SGD", &k) && k == OPT_SGD);
    ck_assert(optim_parse_kind("AdamW", &k) && k == OPT_ADAMW);
    ck_assert(!optim_parse_kind("Adamax", &k));
    LrKind l;
    ck_assert(lrsched_parse_kind("Cosine", &l) && l == LRS_COSINE);
    ck_assert(lrsched_parse_kind("OneCycle", &l) && l == LRS_ONECYCLE);
    Precision p;
    ck_assert(!precision_parse("FP32", &p) && p == PREC_FP32);
    TtaKind t;
    ck_assert(tta_parse("Flip", &t) && t == TTA_FLIP);
    /* the binary: accepted, and recorded in the canonical spelling */
    expect("sweep --list --out O --optim Adam --optim SGD --optim AdamW", 0, "optim-Adam");
    expect("sweep --list --out O --lr-schedule Cosine --lr-schedule step --lr-step 2 --precision FP32", 2,
           "--lr-step applies to --lr-schedule step only (this run's schedule is cosine)");
    expect("train --optim Adamax", 2, "--optim: expected sgd, adam or adamw, got 'Adamax'");
}
END_TEST

/* Flags that would be silently ignored are refused, by train and sweep alike. */
START_TEST(test_idle_flags_refused)
{
    static const char *const CASES[][2] = {
        {"--lr-step 3", "--lr-step applies to --lr-schedule step only (this run's schedule is constant)"},
        {"--lr-gamma 0.5 --lr-schedule cosine", "--lr-gamma applies to --lr-schedule step only (this run's schedule "
                                                "is cosine)"},
        {"--lr-step 2 --lr-schedule onecycle", "--lr-step applies to --lr-schedule step only"},
        {"--nesterov", "--nesterov applies to --optim sgd only"},
        {"--optim adamw --nesterov --lr-schedule onecycle", "--nesterov applies to --optim sgd only"},
        {"--decay-bias", "--decay-bias applies --weight-decay or --l1 to biases too; give one of them"},
        {"--warmup 1 --epochs 1", "--warmup 1: must be fewer than the 1 epoch\n"},
    };
    char args[512];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        for (int cmd = 0; cmd < 2; cmd++) {
            snprintf(args, sizeof args, "%s %s", cmd ? "sweep --list --out O --dropout 0,0" : "train", CASES[i][0]);
            expect(args, 2, CASES[i][1]);
        }
    /* with what they need, they are taken */
    expect("sweep --list --out O --lr-schedule step --lr-step 3 --lr-gamma 0.5", 0, "trial");
    expect("sweep --list --out O --weight-decay 0 --decay-bias", 0, "trial");
    expect("sweep --list --out O --l1 1e-5 --decay-bias", 0, "trial");
    expect("sweep --list --out O --optim sgd --momentum 0.9 --nesterov", 0, "trial");
}
END_TEST

/* A tiny run on synthetic data in dir: its checkpoint dir/r/model.fmw. */
static void tiny_run(const char *dir)
{
    char data[600], args[2048];
    snprintf(data, sizeof data, "%s/data", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 100, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 30, 2), 0);
    snprintf(args, sizeof args, "train --data %s --epochs 1 --batch 50 --threads 1 --no-progress --out %s/r", data,
             dir);
    expect(args, 0, "1 epoch;");
}

START_TEST(test_one_epoch_and_weights_hint)
{
    char *dir = make_temp_dir();
    tiny_run(dir);
    char args[2048];
    snprintf(args, sizeof args, "info %s/r/model.fmw", dir);
    expect(args, 0, "progress: finished, 1 of 1 epoch\n");
    ck_assert_ptr_null(strstr(out, "1 epochs"));
    snprintf(args, sizeof args, "eval --data %s/data --weights %s/r/model.fmw", dir, dir);
    expect(args, 0, "progress: finished, 1 of 1 epoch\n");
    ck_assert_ptr_null(strstr(out, "1 epochs"));
    /* the checkpoint without its flag */
    snprintf(args, sizeof args, "eval %s/r/model.fmw", dir);
    char want[1400];
    snprintf(want, sizeof want, "unexpected argument '%s/r/model.fmw': the checkpoint is given as --weights %s/r/model.fmw",
             dir, dir);
    expect(args, 2, want);
    expect("eval best.fmw", 2, "the checkpoint is given as --weights best.fmw");
    expect("eval banana", 2, "unexpected argument 'banana' (flags are --name VALUE)");
    snprintf(args, sizeof args, "export %s/r/model.fmw -o x.npz", dir);
    expect(args, 2, "the checkpoint is given as --weights");
    expect("predict model.fmw shirt.png", 2, "--weights FILE is required (did you mean --weights model.fmw?)");
    expect("predict shirt.png", 2, "--weights FILE is required\n");
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_index_count_range)
{
    char *dir = make_temp_dir();
    tiny_run(dir);
    char args[2048], want[1400];
    const char *w = "--weights %s/r/model.fmw --idx %s/data/t10k-images-idx3-ubyte";
    char base[1400];
    snprintf(base, sizeof base, w, dir, dir);
    snprintf(args, sizeof args, "predict %s --index 29 --count 4", base);
    snprintf(want, sizeof want, "--index 29 --count 4: %s/data/t10k-images-idx3-ubyte holds 30 images (0 to 29), so "
             "from --index 29 --count can be at most 1", dir);
    expect(args, 2, want);
    snprintf(args, sizeof args, "predict %s --index 30", base);
    expect(args, 2, "--index 30: ");
    ck_assert_ptr_nonnull(strstr(out, "holds 30 images (--index 0 to 29)"));
    snprintf(args, sizeof args, "predict %s --index 26 --count 4", base); /* the last four: all printed */
    expect(args, 0, "t10k-images-idx3-ubyte[29]");
    ck_assert_ptr_nonnull(strstr(out, "t10k-images-idx3-ubyte[26]"));
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *usability_suite(void)
{
    Suite *s = suite_create("usability");
    TCase *tc = tcase_create("usability");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_values_any_case);
    tcase_add_test(tc, test_idle_flags_refused);
    tcase_add_test(tc, test_one_epoch_and_weights_hint);
    tcase_add_test(tc, test_index_count_range);
    suite_add_tcase(s, tc);
    return s;
}
