/* test_sweeps.c - issue 14's sweep: every `train` flag taken (given once,
 * and twice where a sweep may vary it), the cross product, its names and
 * trial indexes, seeds, validation by default, a trial bit for bit the
 * `train` command with its flags, an interrupted sweep resumed mid-run, a
 * rerun with a subset of the settings, --summarize, an unreadable member
 * reported, and no choice made by a test figure. Small data (a synthetic
 * IDX set this file writes), 1-2 epochs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/weights.h"
#include "testutil.h"
#include "train/sweep.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

static int count_of(const char *s, const char *word)
{
    int n = 0;
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) n++;
    return n;
}

/* A temp folder with DIR/data: n training and 200 test images. */
static char *fixture(int n, char *data, size_t len)
{
    char *dir = make_temp_dir();
    Err e;
    snprintf(data, len, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", n, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 200, 2), 0);
    return dir;
}

/* ---- names ---- */

START_TEST(test_setting_names)
{
    static const struct {
        SweepValue v[3];
        int n;
        const char *name, *label;
    } CASES[] = {
        {{{"dropout", "0.3,0.5"}, {"weight-decay", "1e-4"}}, 2, "dropout0.3-0.5_wd1e-4", "dropout 0.3/0.5, wd 1e-4"},
        {{{"lr", "0.0030"}, {"optim", "sgd"}}, 2, "lr3e-3_optim-sgd", "lr 3e-3, optim sgd"},
        {{{"model", "models/cnn.cfg"}}, 1, "model-cnn", "model cnn"},
        {{{"aug", "crop=2,flip"}}, 1, "aug-crop2-flip", "aug crop=2+flip"},
        {{{"aug", "none"}, {"nesterov", "on"}}, 2, "aug-none_nesterov-on", "aug none, nesterov on"},
        {{{"lr-schedule", "a b/../c"}}, 1, "lr-schedule-a-b-..-c", "lr-schedule a b/../c"},
        {{{"epochs", "3"}, {"batch", "64"}, {"l1", "0"}}, 3, "epochs3_batch64_l10", "epochs 3, batch 64, l1 0"},
        {{{"lr", "x"}}, 0, "base", "base"},
    };
    char name[160], label[160];
    Err e;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        ck_assert_int_eq(sweep_setting_names(CASES[i].v, CASES[i].n, name, sizeof name, label, sizeof label, &e), 0);
        ck_assert_str_eq(name, CASES[i].name);
        ck_assert_str_eq(label, CASES[i].label);
    }
    SweepValue v = {"model", "models/a-very-long-model-file-name-that-goes-on-and-on.cfg"};
    ck_assert_int_eq(sweep_setting_names(&v, 1, name, 20, label, sizeof label, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "too long"));
    /* the trial index rule: k = setting * nseeds + seed index */
    SweepSetting st[3];
    int seeds[2] = {7, 9}, seed;
    SweepSpec s = {.out = "o", .settings = st, .nsettings = 3, .seeds = seeds, .nseeds = 2};
    strcpy(st[2].name, "c");
    ck_assert_int_eq(sweep_ntrials(&s), 6);
    ck_assert_ptr_eq(sweep_trial(&s, 5, &seed), &st[2]);
    ck_assert_int_eq(seed, 9);
    ck_assert_ptr_eq(sweep_trial(&s, 2, &seed), &st[1]);
    ck_assert_int_eq(seed, 7);
    char dir[64];
    sweep_trial_dir(&s, 4, dir, sizeof dir, &seed);
    ck_assert_str_eq(dir, "o/c/seed7");
}
END_TEST

/* ---- every flag of train ---- */

/* Each training flag: two values a sweep --list accepts (with the flags
 * it needs), and whether it may be varied. A flag `train --help` lists
 * that is missing here fails the test: a new flag must be added. */
static const struct {
    const char *name, *v1, *v2, *needs;
    int fixed;
} FLAGS[] = {
    {"model", "models/mlp.cfg", "models/cnn.cfg", "", 0},
    {"epochs", "2", "3", "", 0},
    {"batch", "32", "64", "", 0},
    {"optim", "sgd", "adamw", "", 0},
    {"lr", "0.01", "0.02", "", 0},
    {"momentum", "0.5", "0.9", "--optim sgd", 0},
    {"nesterov", "=1", "=0", "--optim sgd --momentum 0.9", 0},
    {"weight-decay", "0", "1e-4", "", 0},
    {"decay-bias", "=1", "=0", "", 0},
    {"l1", "0", "1e-5", "", 0},
    {"report-penalty", "=1", "=0", "", 0},
    {"val", "100", "200", "", 1},
    {"early-stop", "2", "3", "", 0},
    {"lr-schedule", "step", "cosine", "", 0},
    {"warmup", "1", "2", "", 0},
    {"lr-step", "2", "3", "", 0},
    {"lr-gamma", "0.5", "0.2", "", 0},
    {"aug", "flip", "crop=2,erase", "", 0},
    {"dropout", "0,0", "0.3,0.5", "", 0},
    {"seed", "1", "2", "", 1},
    {"threads", "1", "2", "", 1},
    {"data", "DATA", "DATA", "", 1},
    {"train-limit", "100", "200", "", 1},
    {"no-progress", "", "", "", 1},
    {"save-every", "1", "2", "", 1},
};

/* "--name VALUE" (or "--name=V" for a switch's "=V", "--name" for ""). */
static void flag_arg(char *buf, size_t len, const char *name, const char *v, const char *data)
{
    if (!strcmp(v, "DATA")) v = data;
    snprintf(buf, len, "--%s%s%s", name, *v && *v != '=' ? " " : "", v);
}

START_TEST(test_every_train_flag)
{
    char data[600], args[4096], a1[700], a2[700], sw[700];
    char *dir = fixture(300, data, sizeof data);
    snprintf(sw, sizeof sw, "%s/sw", dir);
    expect("train --help", 0, "--momentum");
    char *help = strdup(out);
    int checked = 0;
    for (char *line = strtok(help, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        if (strncmp(line, "  --", 4) || sscanf(line + 4, "%63s", name) != 1) continue;
        if (!strcmp(name, "out") || !strcmp(name, "log") || !strcmp(name, "overwrite") || !strcmp(name, "resume"))
            continue; /* train's own */
        size_t i = 0;
        while (i < sizeof FLAGS / sizeof FLAGS[0] && strcmp(FLAGS[i].name, name)) i++;
        ck_assert_msg(i < sizeof FLAGS / sizeof FLAGS[0], "--%s of train is not in this test's FLAGS: add it", name);
        flag_arg(a1, sizeof a1, name, FLAGS[i].v1, data);
        flag_arg(a2, sizeof a2, name, FLAGS[i].v2, data);
        /* once: one setting */
        snprintf(args, sizeof args, "sweep --list --out %s %s %s", sw, FLAGS[i].needs, a1);
        expect(args, 0, "1 setting x 1 seed = 1 run");
        /* twice: two settings, or a usage error saying why not */
        snprintf(args, sizeof args, "sweep --list --out %s %s %s %s", sw, FLAGS[i].needs, a1, a2);
        if (FLAGS[i].fixed) {
            char want[128];
            snprintf(want, sizeof want, "--%s given twice: it is not a sweep axis", name);
            expect(args, 2, want);
            if (!strcmp(name, "seed")) ck_assert_ptr_nonnull(strstr(out, "--seeds 1,2,3 or --repeats N"));
        } else {
            expect(args, 0, "2 settings x 1 seed = 2 runs");
            ck_assert_msg(count_of(out, "/seed1\n") == 2, "%s:\n%s", args, out);
        }
        ck_assert_msg(!file_exists(sw), "sweep --list created %s", sw);
        checked++;
    }
    ck_assert_int_eq(checked, (int)(sizeof FLAGS / sizeof FLAGS[0]));
    free(help);
    /* sweep's own flags are in its --help with the table's */
    expect("sweep --help", 0, "--seeds S1,S2,..");
    ck_assert_ptr_nonnull(strstr(out, "--repeats N"));
    ck_assert_ptr_nonnull(strstr(out, "--summarize DIR"));
    ck_assert_ptr_nonnull(strstr(out, "--val N"));
    ck_assert_ptr_nonnull(strstr(out, "0: none"));
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the cross product, names, seeds (--list) ---- */

START_TEST(test_cross_product_and_seeds)
{
    expect("sweep --list --out O --dropout 0,0 --dropout 0.3,0.5 --weight-decay 0,1e-4 --seeds 3,5", 0,
           "4 settings x 2 seeds = 8 runs");
    static const char *const ROWS[8] = {
        "    0  dropout0-0_wd0", "    1  dropout0-0_wd0", "    2  dropout0-0_wd1e-4", "    3  dropout0-0_wd1e-4",
        "    4  dropout0.3-0.5_wd0", "    5  dropout0.3-0.5_wd0", "    6  dropout0.3-0.5_wd1e-4",
        "    7  dropout0.3-0.5_wd1e-4"};
    for (int k = 0; k < 8; k++) ck_assert_msg(strstr(out, ROWS[k]) != NULL, "no '%s' in:\n%s", ROWS[k], out);
    ck_assert_ptr_nonnull(strstr(out, "dropout 0.3/0.5, wd 1e-4"));
    ck_assert_ptr_nonnull(strstr(out, "O/dropout0.3-0.5_wd1e-4/seed5\n"));
    ck_assert_ptr_nonnull(strstr(out, "O/dropout0-0_wd0/seed3\n"));
    /* the axes in the order the flags first appear */
    expect("sweep --list --out O --lr 3e-3 --optim sgd --lr 1e-2 --optim adam", 0, "lr3e-3_optim-sgd");
    ck_assert_ptr_nonnull(strstr(out, "    3  lr0.01_optim-adam"));
    /* switches, --aug, --model */
    expect("sweep --list --out O --optim sgd --momentum 0.9 --nesterov=0 --nesterov=on", 0, "nesterov-off");
    ck_assert_ptr_nonnull(strstr(out, "nesterov-on"));
    expect("sweep --list --out O --aug none --aug crop=2,flip", 0, "aug-none");
    ck_assert_ptr_nonnull(strstr(out, "aug-crop2-flip"));
    ck_assert_ptr_nonnull(strstr(out, "aug crop=2+flip"));
    expect("sweep --list --out O --model models/mlp.cfg --model models/cnn.cfg", 0, "model-mlp");
    ck_assert_ptr_nonnull(strstr(out, "model-cnn/seed1"));
    expect("sweep --list --out O --lr 1e-3", 0, "base/seed1");
    /* seeds */
    expect("sweep --list --out O --repeats 3 --seed 7", 0, "1 setting x 3 seeds = 3 runs");
    ck_assert(strstr(out, "base/seed7\n") && strstr(out, "base/seed8\n") && strstr(out, "base/seed9\n"));
    expect("sweep --list --out O --repeats 2", 0, "base/seed2\n");
    expect("sweep --list --out O --seeds 1,2 --repeats 2", 2, "--seeds or --repeats, not both");
    expect("sweep --list --out O --seeds 1,2 --seed 3", 2, "--seeds or --seed, not both");
    expect("sweep --list --out O --seeds 1,1", 2, "the seed 1 is given twice");
    expect("sweep --list --out O --seeds 1,x", 2, "--seeds: expected comma-separated whole numbers");
    expect("sweep --list --out O --seed 1 --seed 2", 2, "--seeds 1,2,3 or --repeats N");
    /* errors: a setting twice, too many, a bad switch value, a bad number, train's checks per setting */
    expect("sweep --list --out O --lr 1e-3 --lr 0.001", 2, "the setting lr1e-3 is given twice");
    expect("sweep --list --out O --lr 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 --batch "
           "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
           2, "17 values of --lr x 16 values of --batch: more than 256 settings");
    expect("sweep --list --out O --nesterov=2", 2, "--nesterov=2: a switch takes =0 or =1");
    expect("sweep --list --out O --lr 1e-3,abc", 2, "--lr: expected a number");
    expect("sweep --list --out O --lr 1e-3,", 2, "--lr: expected comma-separated numbers");
    expect("sweep --list --out O --optim sgd --optim adam --momentum 0.9", 2,
           "optim adam: --momentum applies to --optim sgd only");
    expect("sweep --list --out O --dropout 0.1 --dropout 0.2", 2, "dropout 0.1: 1 dropout rate given");
    expect("sweep --list --out O --val 0 --early-stop 2", 2, "--early-stop needs a validation set");
    expect("sweep --summarize O --lr 1e-3", 2, "--summarize DIR trains nothing: --lr cannot be given");
    expect("sweep --summarize O --seeds 1,2", 2, "--summarize DIR takes only --logy and --show-seeds");
    expect("sweep extra", 2, "unexpected argument 'extra'");
}
END_TEST

/* ---- a trial is the train command ---- */

/* The parameters, settings text and log (without seconds) of two runs are
 * the same. */
static void same_run(const char *a_dir, const char *b_dir)
{
    char pa[1400], pb[1400];
    snprintf(pa, sizeof pa, "%s/log.csv", a_dir);
    snprintf(pb, sizeof pb, "%s/log.csv", b_dir);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la);
    csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    snprintf(pa, sizeof pa, "%s/model.fmw", a_dir);
    snprintf(pb, sizeof pb, "%s/model.fmw", b_dir);
    Net *na, *nb;
    CkptState ca, cb;
    Err e;
    ck_assert_int_eq(weights_load_run(pa, 1, &na, &ca, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(pb, 1, &nb, &cb, &e), ST_OK);
    ck_assert_int_eq(na->nparams, nb->nparams);
    ck_assert_msg(!memcmp(na->params, nb->params, na->nparams * sizeof(float)), "%s and %s differ", pa, pb);
    ck_assert_str_eq(ca.settings, cb.settings);
    ck_assert_int_eq(ca.epoch, cb.epoch);
    ck_assert(ca.step == cb.step);
    net_free(na), net_free(nb);
    weights_state_free(&ca), weights_state_free(&cb);
}

START_TEST(test_trial_is_train)
{
    char data[600], args[4096], sw[700], tr[700], a[1400], b[1500];
    char *dir = fixture(1200, data, sizeof data);
    snprintf(sw, sizeof sw, "%s/sw", dir);
    snprintf(tr, sizeof tr, "%s/tr", dir);
    const char *common = "--epochs 2 --batch 100 --threads 1 --no-progress --optim sgd --momentum 0.9";
    snprintf(args, sizeof args, "sweep --data %s %s --lr 0.01,0.03 --seeds 1,2 --out %s", data, common, sw);
    expect(args, 0, "images: 1100 training, 100 validation (1/12 of the training images");
    ck_assert_ptr_nonnull(strstr(out, "--val N to change, --val 0 for none"));
    ck_assert_ptr_nonnull(strstr(out, ", 200 test\n"));
    ck_assert_ptr_nonnull(strstr(out, "base settings: --epochs 2 --batch 100"));
    ck_assert_ptr_nonnull(strstr(out, "2 settings x 2 seeds (1, 2) = 4 runs of 2 epochs"));
    ck_assert_ptr_nonnull(strstr(out, "about 0 min"));        /* the estimate after the first run */
    ck_assert_ptr_nonnull(strstr(out, "lr 0.03"));
    snprintf(a, sizeof a, "%s/sweep.csv", sw);
    char *man = read_all_or_fail(a, NULL);
    ck_assert_str_eq(man, "setting,label,seed,folder,flags\n"
                          "lr0.01,lr 0.01,1,lr0.01/seed1,--lr 0.01\n"
                          "lr0.01,lr 0.01,2,lr0.01/seed2,--lr 0.01\n"
                          "lr0.03,lr 0.03,1,lr0.03/seed1,--lr 0.03\n"
                          "lr0.03,lr 0.03,2,lr0.03/seed2,--lr 0.03\n");
    free(man);
    /* trial 3 = setting 1 (lr 0.03), seed 2: the train command with its flags and --val 100 --seed 2 */
    snprintf(args, sizeof args, "train --data %s %s --lr 0.03 --seed 2 --val 100 --out %s", data, common, tr);
    expect(args, 0, "saved");
    snprintf(a, sizeof a, "%s/lr0.03/seed2", sw);
    same_run(a, tr);
    snprintf(b, sizeof b, "%s/best.fmw", a);
    ck_assert(file_exists(b));
    /* --val 0: no validation columns, no hold-out: the train command without --val */
    snprintf(sw, sizeof sw, "%s/sw0", dir);
    snprintf(args, sizeof args, "sweep --data %s %s --lr 0.03 --val 0 --out %s", data, common, sw);
    expect(args, 0, "images: 1200 training, 0 validation (--val 0: none");
    snprintf(tr, sizeof tr, "%s/tr0", dir);
    snprintf(args, sizeof args, "train --data %s %s --lr 0.03 --out %s", data, common, tr);
    expect(args, 0, "saved");
    snprintf(a, sizeof a, "%s/base/seed1", sw);
    same_run(a, tr);
    snprintf(b, sizeof b, "%s/log.csv", a);
    char *log = read_all_or_fail(b, NULL);
    ck_assert_ptr_null(strstr(log, "val_loss"));
    free(log);
    /* --val N given: that many */
    snprintf(sw, sizeof sw, "%s/sw3", dir);
    snprintf(args, sizeof args, "sweep --data %s %s --val 300 --out %s", data, common, sw);
    expect(args, 0, "images: 900 training, 300 validation (held out of the training images by each run's seed");
    snprintf(args, sizeof args, "sweep --data %s %s --val 1200 --out %s/sw4", data, common, dir);
    expect(args, 2, "--val 1200: the 1200 training images cannot spare it");
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *sweeps_suite(void)
{
    Suite *s = suite_create("sweeps");
    TCase *tc = tcase_create("sweeps");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_setting_names);
    tcase_add_test(tc, test_every_train_flag);
    tcase_add_test(tc, test_cross_product_and_seeds);
    tcase_add_test(tc, test_trial_is_train);
    suite_add_tcase(s, tc);
    return s;
}
