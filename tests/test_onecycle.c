/* test_onecycle.c - Check suite for --lr-schedule onecycle: the rate and
 * momentum of every step against torch's OneCycleLR, the flags it refuses,
 * the run header and checkpoint, and fmnist's steps replayed by PyTorch
 * (tools/torch_steps.py, skipped visibly without python3-torch). A run
 * resumed in the middle is test_resume.c's. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "train/lrsched.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* torch 1.13's OneCycleLR(opt, max_lr=0.1, total_steps=12) with its
 * defaults: group['lr'] and group['momentum'] (SGD) or group['betas'][0]
 * (Adam, the same numbers) before each of the 12 steps, printed by
 * /usr/bin/python3 with %.9g. */
static const double TORCH_12[12][2] = {
    {0.004, 0.95},           {0.0349789654, 0.917730244}, {0.0879285159, 0.862574463}, {0.0994415435, 0.850558459},
    {0.093301297, 0.85669873}, {0.0811745654, 0.86882551}, {0.0647378998, 0.885262241}, {0.0462637103, 0.903736505},
    {0.0283060998, 0.921694187}, {0.013347753, 0.936652594}, {0.00345669874, 0.946543687}, {4e-07, 0.95},
};

START_TEST(test_rates_match_torch)
{
    LrSchedule s = {.kind = LRS_ONECYCLE, .base = 0.1f, .epochs = 3};
    ck_assert(lrsched_active(&s));
    ck_assert(lrsched_cycles_momentum(&s));
    for (int k = 0; k < 12; k++) { /* 3 epochs of 4 batches */
        int epoch = 1 + k / 4, batch = k % 4;
        ck_assert_float_eq_tol(lrsched_rate(&s, epoch, batch, 4), (float)TORCH_12[k][0], 2e-9f + 1e-6f * (float)TORCH_12[k][0]);
        ck_assert_float_eq_tol(lrsched_momentum(&s, epoch, batch, 4), (float)TORCH_12[k][1], 1e-7f);
    }
    /* a run resumed past the steps it planned stays at the floor */
    ck_assert_float_eq_tol(lrsched_rate(&s, 5, 2, 4), 4e-7f, 1e-12f);
    ck_assert_float_eq_tol(lrsched_momentum(&s, 5, 2, 4), 0.95f, 1e-7f);
    /* other schedules do not touch the momentum */
    LrSchedule c = {.kind = LRS_COSINE, .base = 0.1f, .epochs = 3};
    ck_assert(!lrsched_cycles_momentum(&c));
    ck_assert_float_eq(lrsched_momentum(&c, 1, 0, 4), 0.0f);
    LrKind k;
    ck_assert(lrsched_parse_kind("onecycle", &k) && k == LRS_ONECYCLE);
    ck_assert_str_eq(lrsched_kind_name(LRS_ONECYCLE), "onecycle");
    ck_assert(!lrsched_parse_kind("one-cycle", &k));
}
END_TEST

/* The peak is reached at step 0.3*T - 1 and the phases meet there: one
 * schedule of many steps, checked against the formula written out. */
START_TEST(test_phases_by_formula)
{
    LrSchedule s = {.kind = LRS_ONECYCLE, .base = 2e-3f, .epochs = 10};
    const int nb = 430;
    const double T = 10.0 * nb, p1 = 0.3 * T - 1, pi = 3.14159265358979323846;
    for (int k = 0; k < 10 * nb; k += 97) {
        double lr, mom;
        if (k <= p1) {
            double p = k / p1;
            lr = 2e-3 + (2e-3 / 25 - 2e-3) / 2 * (1 + cos(pi * p));
            mom = 0.85 + (0.95 - 0.85) / 2 * (1 + cos(pi * p));
        } else {
            double p = (k - p1) / (T - 1 - p1);
            lr = 2e-3 / 25 / 1e4 + (2e-3 - 2e-3 / 25 / 1e4) / 2 * (1 + cos(pi * p));
            mom = 0.95 + (0.85 - 0.95) / 2 * (1 + cos(pi * p));
        }
        ck_assert_float_eq_tol(lrsched_rate(&s, 1 + k / nb, k % nb, nb), (float)lr, 1e-9f);
        ck_assert_float_eq_tol(lrsched_momentum(&s, 1 + k / nb, k % nb, nb), (float)mom, 1e-7f);
    }
}
END_TEST

START_TEST(test_flags)
{
    expect("train --lr-schedule onecycle --warmup 1 --epochs 3", 2, "has its own warm-up");
    expect("train --lr-schedule onecycle --optim sgd --momentum 0.9", 2, "sets the momentum of each step");
    expect("train --lr-schedule one-cycle", 2, "constant, step, cosine or onecycle");
    expect("train --help", 0, "onecycle");
}
END_TEST

/* A short run: the header names the schedule, the checkpoint keeps it, and
 * sgd with --nesterov needs no --momentum under onecycle. */
START_TEST(test_run_header_and_checkpoint)
{
    char *dir = make_temp_dir();
    char data[600], args[2048];
    Err e;
    snprintf(data, sizeof data, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 300, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 100, 2), 0);
    snprintf(args, sizeof args,
             "train --data %s --epochs 2 --batch 50 --optim sgd --nesterov --lr 0.05 --lr-schedule onecycle "
             "--out %s/run --no-progress",
             data, dir);
    expect(args, 0, "one cycle over 2 epochs");
    ck_assert_ptr_nonnull(strstr(out, "optimizer sgd, peak lr 0.05, momentum cycled (Nesterov)"));
    snprintf(args, sizeof args, "info %s/run/model.fmw", dir);
    expect(args, 0, "one cycle over 2 epochs");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* fmnist's 20 steps against PyTorch's with OneCycleLR: SGD with Nesterov
 * momentum (cycled) and Adam (beta1 cycled). */
START_TEST(test_torch_steps)
{
    if (!have_real_data()) {
        printf("skipped: test_torch_steps (Fashion-MNIST not installed)\n");
        return;
    }
    const char *cases[] = {"--optim sgd --nesterov --lr-schedule onecycle --steps 20",
                           "--optim adam --lr-schedule onecycle --steps 20"};
    for (int i = 0; i < 2; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/torch_steps.py --fmnist %s %s",
                 getenv("FMNIST_BIN") ? getenv("FMNIST_BIN") : "./fmnist", cases[i]);
        int rc = run_shell(cmd, out, sizeof out);
        if (rc == 127 || (rc == 1 && strstr(out, "No module named 'torch'"))) {
            printf("skipped: test_torch_steps (no python3-torch for /usr/bin/python3)\n");
            return;
        }
        ck_assert_msg(rc == 0 && strstr(out, "agree:"), "%s: exit %d\n%s", cmd, rc, out);
    }
}
END_TEST

Suite *onecycle_suite(void)
{
    Suite *s = suite_create("onecycle");
    TCase *tc = tcase_create("onecycle");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rates_match_torch);
    tcase_add_test(tc, test_phases_by_formula);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_run_header_and_checkpoint);
    tcase_add_test(tc, test_torch_steps);
    suite_add_tcase(s, tc);
    return s;
}
