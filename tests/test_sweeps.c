/* test_sweeps.c - issue 14's sweep: every `train` flag taken (given once,
 * and twice where a sweep may vary it), the cross product, its names and
 * trial indexes, seeds, validation by default, a trial bit for bit the
 * `train` command with its flags, an interrupted sweep resumed mid-run, a
 * rerun with a subset of the settings, --summarize, --trial K tasks, an unreadable member
 * reported, and no choice made by a test figure. Small data (a synthetic
 * IDX set this file writes), 1-2 epochs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    {"micro-batch", "16", "0", "", 0},
    {"optim", "sgd", "adamw", "", 0},
    {"precision", "fp32", "bf16", "", 0},
    {"lr", "0.01", "0.02", "", 0},
    {"momentum", "0.5", "0.9", "--optim sgd", 0},
    {"nesterov", "=1", "=0", "--optim sgd --momentum 0.9", 0},
    {"weight-decay", "0", "1e-4", "", 0},
    {"decay-bias", "=1", "=0", "--weight-decay 1e-4", 0},
    {"l1", "0", "1e-5", "", 0},
    {"report-penalty", "=1", "=0", "", 0},
    {"val", "100", "200", "", 1},
    {"early-stop", "2", "3", "", 0},
    {"lr-schedule", "step", "cosine", "", 0},
    {"warmup", "1", "2", "", 0},
    {"lr-step", "2", "3", "--lr-schedule step", 0},
    {"lr-gamma", "0.5", "0.2", "--lr-schedule step", 0},
    {"aug", "flip", "crop=2,erase", "", 0},
    {"ema", "0.99", "0.999", "", 0},
    {"dropout", "0,0", "0.3,0.5", "", 0},
    {"label-smoothing", "0", "0.1", "", 0},
    {"tta", "flip", "none", "", 0},
    {"seed", "1", "2", "", 1},
    {"threads", "1", "2", "", 1},
    {"data", "DATA", "DATA", "", 1},
    {"train-limit", "100", "200", "", 1},
    {"no-progress", "", "", "", 1},
    {"save-every", "1", "2", "", 1},
    {"no-tensorboard", "", "", "", 1},
    {"tb-every", "10", "20", "", 1},
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
    /* a rerun with one of the settings: named as before (the manifest varies --lr), skipped, nothing dropped */
    snprintf(args, sizeof args, "sweep --data %s %s --lr 0.03 --seeds 1,2 --out %s", data, common, sw);
    expect(args, 0, "lr0.03/seed2: finished earlier, skipped");
    ck_assert_int_eq(count_of(out, "finished earlier, skipped"), 2);
    ck_assert_ptr_nonnull(strstr(out, "lr 0.01 "));          /* still in the summary */
    snprintf(args, sizeof args, "sweep --list --lr 0.01 --out %s", sw);
    expect(args, 0, "lr0.01/seed1\n");
    /* trial 3 = setting 1 (lr 0.03), seed 2: the train command with its flags and --val 100 --seed 2 */
    snprintf(args, sizeof args, "train --data %s %s --lr 0.03 --seed 2 --val 100 --out %s", data, common, tr);
    expect(args, 0, "saved");
    snprintf(a, sizeof a, "%s/lr0.03/seed2", sw);
    test_same_run(a, tr);
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
    test_same_run(a, tr);
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
    /* a diverged run is said, left out, and the others go on */
    snprintf(args, sizeof args, "sweep --data %s %s --lr 1000,0.01 --out %s/sw5", data, common, dir);
    expect(args, 0, "run 1/2 (trial 0) stopped: training diverged");
    ck_assert_ptr_nonnull(strstr(out, "1 run of "));
    ck_assert_ptr_nonnull(strstr(out, "lr 0.01 (chosen)"));
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the library: resume, subset, summarize, unreadable members ---- */


/* The hooks' record: epochs begun, trials and their states, a stop after
 * stop_after batches (0: never). */
typedef struct {
    int batches, stop_after;
    volatile sig_atomic_t stop;
    int epochs_seen[8];            /* the epochs on_epoch reported, in order */
    int nepochs;
    SweepTrialState states[16];
    int ntrials;
} Rec;

static void rec_batch(void *ctx, const BatchStats *b)
{
    const int epoch = b->epoch, done = b->done;
    Rec *r = ctx;
    (void)epoch, (void)done;
    if (++r->batches == r->stop_after) r->stop = 1;
}

static void rec_epoch(void *ctx, const EpochStats *s)
{
    Rec *r = ctx;
    if (r->nepochs < 8) r->epochs_seen[r->nepochs++] = s->epoch;
}

static void rec_trial(void *ctx, int k, int n, const SweepSetting *st, int seed, const char *dir,
                      SweepTrialState state, const Net *net)
{
    Rec *r = ctx;
    (void)n, (void)st, (void)seed, (void)dir, (void)net;
    if (k < 16) r->states[k] = state;
    r->ntrials++;
}

static SweepHooks rec_hooks(Rec *r)
{
    SweepHooks h = {rec_trial, NULL, NULL, r, {rec_batch, rec_epoch, r, &r->stop, NULL, NULL}, NULL};
    return h;
}

/* Ctrl-C in the middle of a trial's second epoch, then the same sweep
 * again: the trial goes on from its model.fmw (epoch 2 only), and every
 * trial ends as in an uninterrupted sweep. */
START_TEST(test_resume_mid_run)
{
    char *dir = make_temp_dir(), a[700], b[700], p[1400], q[1400];
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 600, 1);
    synthetic_dataset(&test, 200, 2);
    SweepSetting st[2];
    test_mlp_setting(&st[0], "lr1e-3", 1e-3f, 2);
    test_mlp_setting(&st[1], "lr3e-3", 3e-3f, 2);
    int seeds[2] = {4, 5};
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    SweepSpec s = {.out = a, .settings = st, .nsettings = 2, .seeds = seeds, .nseeds = 2, .val = 50};
    Err e;
    /* 550 training images in batches of 50: 11 a epoch; stop in trial 1 (setting 0, seed 5) after batch 4 of epoch 2 */
    Rec r = {.stop_after = 22 + 11 + 4};
    SweepHooks h = rec_hooks(&r);
    SweepResult res;
    ck_assert_int_eq(sweep_execute(&s, &train, &test, &h, &res, &e), ST_ERR_INTERRUPTED);
    snprintf(p, sizeof p, "%s/lr1e-3/seed5/model.fmw", a);
    Net *net;
    CkptState ck;
    ck_assert_int_eq(weights_load_run(p, 1, &net, &ck, &e), ST_OK);
    ck_assert_int_eq(ck.epoch, 1);
    ck_assert_int_eq(ck.pos_batch, 4);
    net_free(net);
    weights_state_free(&ck);
    snprintf(p, sizeof p, "%s/lr3e-3", a);
    ck_assert(!file_exists(p));
    /* again, without a stop: trial 0 skipped, trial 1 resumed at epoch 2, trials 2 and 3 new */
    r = (Rec){0};
    ck_assert_int_eq(sweep_execute(&s, &train, &test, &h, &res, &e), ST_OK);
    ck_assert_int_eq(r.ntrials, 4);
    ck_assert_int_eq(r.states[0], SWEEP_TRIAL_FINISHED);
    ck_assert_int_eq(r.states[1], SWEEP_TRIAL_RESUME);
    ck_assert_int_eq(r.states[2], SWEEP_TRIAL_NEW);
    ck_assert_int_eq(r.epochs_seen[0], 2); /* the resumed trial did not start over at epoch 1 */
    ck_assert_int_eq(r.nepochs, 1 + 2 + 2);
    ck_assert_int_eq(r.batches, 7 + 22 + 22);
    ck_assert_int_eq(res.sum.nruns, 4);
    ck_assert_int_eq(res.missing, 0);
    sweep_result_free(&res);
    /* the same sweep uninterrupted in b: the same logs and weights */
    s.out = b;
    r = (Rec){0};
    ck_assert_int_eq(sweep_execute(&s, &train, &test, &h, NULL, &e), ST_OK);
    for (int k = 0; k < 4; k++) {
        sweep_trial_dir(&s, k, q, sizeof q, NULL);
        s.out = a;
        sweep_trial_dir(&s, k, p, sizeof p, NULL);
        s.out = b;
        test_same_run(p, q);
    }
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A rerun with a subset of the settings keeps the others in the summary;
 * --summarize writes the same summary.csv; a missing trial is counted. */
START_TEST(test_subset_and_summarize)
{
    char *dir = make_temp_dir(), a[700], p[1400];
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 300, 1);
    synthetic_dataset(&test, 100, 2);
    SweepSetting st[3];
    test_mlp_setting(&st[0], "s0", 1e-3f, 1);
    test_mlp_setting(&st[1], "s1", 2e-3f, 1);
    test_mlp_setting(&st[2], "s2", 3e-3f, 1);
    int seeds[2] = {1, 2};
    snprintf(a, sizeof a, "%s/a", dir);
    SweepSpec s = {.out = a, .settings = st, .nsettings = 3, .seeds = seeds, .nseeds = 2, .val = 25};
    Err e;
    SweepResult res;
    ck_assert_int_eq(sweep_execute(&s, &train, &test, NULL, &res, &e), ST_OK);
    ck_assert_int_eq(res.sum.nsettings, 3);
    sweep_result_free(&res);
    snprintf(p, sizeof p, "%s/summary.csv", a);
    char *first = read_all_or_fail(p, NULL);
    /* the subset: settings 1 and 2, seed 2 only */
    s.settings = st + 1, s.nsettings = 2, s.seeds = seeds + 1, s.nseeds = 1;
    ck_assert_int_eq(sweep_execute(&s, &train, &test, NULL, &res, &e), ST_OK);
    ck_assert_int_eq(res.sum.nsettings, 3);
    ck_assert_int_eq(res.sum.nruns, 6);
    ck_assert_str_eq(res.sum.settings[0].name, "s0");
    ck_assert_str_eq(res.sum.settings[0].label, "label of s0");
    sweep_result_free(&res);
    char *second = read_all_or_fail(p, NULL);
    ck_assert_str_eq(first, second);
    snprintf(p, sizeof p, "%s/sweep.csv", a);
    char *man = read_all_or_fail(p, NULL);
    ck_assert_int_eq(count_of(man, "\n"), 7);
    ck_assert_ptr_nonnull(strstr(man, "s0,label of s0,1,s0/seed1,--x s0\n"));
    free(man);
    /* --summarize: the same file from disk alone */
    snprintf(p, sizeof p, "%s/summary.csv", a);
    unlink(p);
    snprintf(p, sizeof p, "%s/compare_final.png", a);
    unlink(p);
    char args[1000];
    snprintf(args, sizeof args, "sweep --summarize %s --logy --show-seeds", a);
    expect(args, 0, "label of s2");
    ck_assert(file_exists(p));
    snprintf(p, sizeof p, "%s/summary.csv", a);
    char *third = read_all_or_fail(p, NULL);
    ck_assert_str_eq(first, third);
    /* a trial's folder gone: left out and counted */
    snprintf(p, sizeof p, "%s/s1/seed1", a);
    rm_tree(p);
    ck_assert_int_eq(sweep_summarize(a, 0, 0, &res, &e), ST_OK);
    ck_assert_int_eq(res.missing, 1);
    ck_assert_int_eq(res.sum.nruns, 5);
    sweep_result_free(&res);
    expect(args, 0, "1 run of");
    ck_assert_ptr_nonnull(strstr(out, "is not finished (not run yet, interrupted or diverged): left out"));
    /* not a sweep's folder */
    snprintf(args, sizeof args, "sweep --summarize %s", dir);
    expect(args, 1, "sweep.csv: no such file");
    free(first), free(second), free(third);
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A member whose log.csv or model.fmw cannot be read is reported by name
 * and nothing is trained; --summarize says the same. */
START_TEST(test_unreadable_member)
{
    char *dir = make_temp_dir(), a[700], p[1400];
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 300, 1);
    synthetic_dataset(&test, 100, 2);
    SweepSetting st[2];
    test_mlp_setting(&st[0], "s0", 1e-3f, 1);
    test_mlp_setting(&st[1], "s1", 2e-3f, 1);
    int seed = 1;
    snprintf(a, sizeof a, "%s/a", dir);
    SweepSpec s = {.out = a, .settings = st, .nsettings = 2, .seeds = &seed, .nseeds = 1, .val = 25};
    Err e;
    Status first = sweep_execute(&s, &train, &test, NULL, NULL, &e);
    ck_assert_msg(first == ST_OK, "%s", e.msg);
    Rec r = {0};
    SweepHooks h = rec_hooks(&r);
    snprintf(p, sizeof p, "%s/s1/seed1/log.csv", a);
    ck_assert_int_eq(file_write_atomic(p, "garbage\n", 8, &e), ST_OK);
    ck_assert_int_ne(sweep_execute(&s, &train, &test, &h, NULL, &e), ST_OK);
    ck_assert_msg(strstr(e.msg, p) != NULL, "'%s' does not name %s", e.msg, p);
    ck_assert_int_eq(r.batches, 0);
    ck_assert_int_eq(r.ntrials, 0);
    ck_assert_int_ne(sweep_summarize(a, 0, 0, NULL, &e), ST_OK);
    ck_assert_ptr_nonnull(strstr(e.msg, p));
    /* the subset without s1 still reads s1's files (its manifest row) */
    s.nsettings = 1;
    ck_assert_int_ne(sweep_execute(&s, &train, &test, &h, NULL, &e), ST_OK);
    ck_assert_ptr_nonnull(strstr(e.msg, p));
    ck_assert_int_eq(r.batches, 0);
    s.nsettings = 2;
    unlink(p);
    snprintf(p, sizeof p, "%s/s0/seed1/model.fmw", a);
    ck_assert_int_eq(file_write_atomic(p, "FMNW", 4, &e), ST_OK);
    ck_assert_int_ne(sweep_execute(&s, &train, &test, &h, NULL, &e), ST_OK);
    ck_assert_msg(strstr(e.msg, p) != NULL, "'%s' does not name %s", e.msg, p);
    ck_assert_int_eq(r.batches, 0);
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Two sweeps whose data differ only in the test labels choose the same
 * setting and write the same best.fmw weights: no choice reads a test
 * figure. */
START_TEST(test_no_choice_reads_test)
{
    char *dir = make_temp_dir(), a[700], b[700], p[1400], q[1400];
    Dataset train = {0}, test = {0}, test2 = {0};
    synthetic_dataset(&train, 600, 1);
    synthetic_dataset(&test, 200, 2);
    synthetic_dataset(&test2, 200, 2);
    for (int i = 0; i < test2.n; i++) test2.labels[i] = (uint8_t)((test2.labels[i] + 3) % 10);
    SweepSetting st[3];
    test_mlp_setting(&st[0], "s0", 3e-4f, 3);
    test_mlp_setting(&st[1], "s1", 3e-3f, 3);
    test_mlp_setting(&st[2], "s2", 3e-2f, 3);
    int seeds[2] = {1, 2};
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    SweepSpec s = {.out = a, .settings = st, .nsettings = 3, .seeds = seeds, .nseeds = 2, .val = 100};
    Err e;
    SweepResult ra, rb;
    ck_assert_int_eq(sweep_execute(&s, &train, &test, NULL, &ra, &e), ST_OK);
    s.out = b;
    ck_assert_int_eq(sweep_execute(&s, &train, &test2, NULL, &rb, &e), ST_OK);
    ck_assert_int_ge(ra.sum.best, 0);
    ck_assert_int_eq(ra.sum.best, rb.sum.best);
    ck_assert(ra.sum.runs[0].final_test_acc != rb.sum.runs[0].final_test_acc); /* the test figures did differ */
    for (int k = 0; k < sweep_ntrials(&s); k++) {
        s.out = a;
        sweep_trial_dir(&s, k, p, sizeof p, NULL);
        s.out = b;
        sweep_trial_dir(&s, k, q, sizeof q, NULL);
        strcat(p, "/best.fmw"), strcat(q, "/best.fmw");
        Net *na, *nb;
        ck_assert_int_eq(weights_load(p, 1, &na, NULL, &e), ST_OK);
        ck_assert_int_eq(weights_load(q, 1, &nb, NULL, &e), ST_OK);
        ck_assert_msg(!memcmp(na->params, nb->params, na->nparams * sizeof(float)), "%s and %s differ", p, q);
        net_free(na), net_free(nb);
    }
    sweep_result_free(&ra);
    sweep_result_free(&rb);
    dataset_free(&train);
    dataset_free(&test);
    dataset_free(&test2);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* --trial K, a job array's task: each trial run alone (in any order) gives
 * the logs of the whole sweep, the manifest lists every trial after the
 * first task, no task writes a summary, and --summarize then finds none
 * missing; the CLI refuses --trial without --out, out of range, or with
 * --list. */
START_TEST(test_trial_tasks)
{
    char *dir = make_temp_dir(), a[700], b[700], p[1400], q[1400];
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 300, 1);
    synthetic_dataset(&test, 100, 2);
    SweepSetting st[2];
    test_mlp_setting(&st[0], "s0", 1e-3f, 1);
    test_mlp_setting(&st[1], "s1", 2e-3f, 1);
    int seeds[2] = {1, 2};
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    SweepSpec s = {.out = a, .settings = st, .nsettings = 2, .seeds = seeds, .nseeds = 2, .val = 25};
    Err e;
    SweepResult res;
    ck_assert_int_eq(sweep_execute(&s, &train, &test, NULL, &res, &e), ST_OK);
    sweep_result_free(&res);
    s.out = b, s.has_trial = 1;
    const int order[4] = {2, 0, 3, 1};
    for (int i = 0; i < 4; i++) {
        s.trial = order[i];
        ck_assert_int_eq(sweep_execute(&s, &train, &test, NULL, &res, &e), ST_OK);
        ck_assert_int_eq(res.sum.nsettings, 0); /* no summary from a task */
        sweep_result_free(&res);
        snprintf(p, sizeof p, "%s/summary.csv", b);
        ck_assert(!file_exists(p));
        snprintf(p, sizeof p, "%s/sweep.csv", b);
        char *man = read_all_or_fail(p, NULL);
        ck_assert_int_eq(count_of(man, "\n"), 5); /* the header and every trial, from the first task on */
        free(man);
    }
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/s%d/seed%d", a, k / 2, seeds[k % 2]);
        snprintf(q, sizeof q, "%s/s%d/seed%d", b, k / 2, seeds[k % 2]);
        test_same_run(p, q);
    }
    s.trial = 4;
    ck_assert_int_eq(sweep_execute(&s, &train, &test, NULL, &res, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "trials 0 to 3"));
    ck_assert_int_eq(sweep_summarize(b, 0, 0, &res, &e), ST_OK);
    ck_assert_int_eq(res.missing, 0);
    ck_assert_int_eq(res.sum.nruns, 4);
    sweep_result_free(&res);
    char args[1200];
    expect("sweep --dropout 0,0 --dropout 0.5,0.5 --trial 0", 2, "--trial 0 needs --out DIR");
    snprintf(args, sizeof args, "sweep --dropout 0,0 --dropout 0.5,0.5 --seeds 1,2 --trial 4 --out %s/c", dir);
    expect(args, 2, "--trial 4: this sweep has trials 0 to 3 (see --list)");
    snprintf(args, sizeof args, "sweep --dropout 0,0 --trial 0 --list --out %s/c", dir);
    expect(args, 2, "--trial and --list");
    snprintf(p, sizeof p, "%s/c", dir);
    ck_assert(!file_exists(p));
    dataset_free(&train);
    dataset_free(&test);
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
    tcase_add_test(tc, test_resume_mid_run);
    tcase_add_test(tc, test_subset_and_summarize);
    tcase_add_test(tc, test_trial_tasks);
    tcase_add_test(tc, test_unreadable_member);
    tcase_add_test(tc, test_no_choice_reads_test);
    suite_add_tcase(s, tc);
    return s;
}
