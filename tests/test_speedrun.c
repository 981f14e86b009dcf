/* test_speedrun.c - Check suite for the record's tools: tools/speedrun.sh
 * (make speedrun) refuses bad arguments before it trains anything, and
 * tools/speedrun_torch.py (the recipe in PyTorch) runs every part of the
 * recipe on a small synthetic set: hold-out, augmentation, label smoothing,
 * one-cycle Adam, the EMA and flip TTA (skipped, with a printed line,
 * without python3-torch). The full record is make speedrun's, never a
 * test's: it takes minutes per seed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 16];

START_TEST(test_script_refuses_bad_arguments)
{
    static const struct {
        const char *args, *word;
    } cases[] = {
        {"-p fp16", "-p: expected fp32 or bf16, got 'fp16'"},
        {"-T yes", "-T: expected none, fp32, bf16 or both, got 'yes'"},
        {"-s '1 x 3'", "SEEDS: 'x' is not a whole number"},
        {"-s '-2'", "SEEDS: '-2' is not a whole number"},
        {"-q", "usage: tools/speedrun.sh"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "FMNIST_BIN=/nonexistent tools/speedrun.sh %s -o /nonexistent/out", cases[i].args);
        int rc = run_shell(cmd, out, sizeof out);
        ck_assert_msg(rc == 2 && strstr(out, cases[i].word), "%s: exit %d\n%s", cmd, rc, out);
    }
}
END_TEST

START_TEST(test_torch_recipe_runs)
{
    char *dir = make_temp_dir();
    char data[600], cmd[2048];
    Err e;
    snprintf(data, sizeof data, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 600, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 200, 2), 0);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 tools/speedrun_torch.py --model models/mlp.cfg --epochs 2 --batch 50 --optim adam "
             "--lr 4e-3 --lr-schedule onecycle --label-smoothing 0.1 --ema 0.9 --aug crop=1,flip --val 100 "
             "--tta flip --threads 1 --data %s",
             data);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 127 || (rc == 1 && strstr(out, "No module named 'torch'"))) {
        printf("skipped: test_torch_recipe_runs (no python3-torch for /usr/bin/python3)\n");
    } else {
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        ck_assert_ptr_nonnull(strstr(out, "500 training images")); /* 600 less the 100 held out */
        ck_assert_ptr_nonnull(strstr(out, "final (flip TTA)"));
        double acc = -1;
        const char *p = strstr(out, "test accuracy ");
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(sscanf(p, "test accuracy %lf%%", &acc), 1);
        ck_assert_msg(acc > 30.0, "the synthetic set is learnable in 2 epochs (chance: 10%%); got %.2f%%\n%s", acc, out);
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/speedrun_torch.py --aug crop=2,rotate --data %s", data);
        rc = run_shell(cmd, out, sizeof out);
        ck_assert_msg(rc != 0 && strstr(out, "unknown item 'rotate'"), "%s: exit %d\n%s", cmd, rc, out);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *speedrun_suite(void)
{
    Suite *s = suite_create("speedrun");
    TCase *tc = tcase_create("speedrun");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_script_refuses_bad_arguments);
    tcase_add_test(tc, test_torch_recipe_runs);
    suite_add_tcase(s, tc);
    return s;
}
