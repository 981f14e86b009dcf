/* test_tta.c - flip test-time augmentation (train/tta.h, train --tta, eval
 * --tta): its logits are exactly the mean of two forwards, of the images and
 * of mirrored copies this test builds itself; a mirror-symmetric image gets
 * its plain logits; the evaluation and eval's predictions use them; the
 * binary: a run's last logged test figures are what `eval` prints with the
 * checkpoint's TTA and not without, the same at 1 and 2 threads, and a run
 * with label smoothing and TTA stopped mid-epoch and resumed equals the
 * uninterrupted one. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "nn/loss.h"
#include "nn/net.h"
#include "testutil.h"
#include "train/mc.h"
#include "train/resume.h"
#include "train/run.h"
#include "train/settings.h"
#include "train/train.h"
#include "train/tta.h"
#include "util/fileio.h"
#include "util/rng.h"

static char out[1 << 16];

/* A small conv net on s x s images (a conv sees where things are: the
 * mirror changes its logits). */
static Net *make_net(int s, int max_batch)
{
    char text[256];
    snprintf(text, sizeof text, "input 1x%dx%d\nconv 3 3 pad=1\nrelu\nflatten\ndense 5\n", s, s);
    NetSpec cfg;
    Err e;
    ck_assert_int_eq(cfg_parse_text("t.cfg", text, &cfg, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&cfg, max_batch, &net, &e), ST_OK);
    net_init(net, 7);
    return net;
}

/* x's n images of s x s, mirrored left-right, built here by index. */
static void mirror_by_hand(const float *x, int n, int s, float *m)
{
    for (int i = 0; i < n; i++)
        for (int y = 0; y < s; y++)
            for (int c = 0; c < s; c++) m[(i * s + y) * s + c] = x[(i * s + y) * s + (s - 1 - c)];
}

/* An even and an odd width (the middle column stays). */
static const int SIDES[] = {8, 7};

START_TEST(test_logits_are_the_mean_of_two_forwards)
{
    enum { N = 5, K = 5 };
    const int s = SIDES[_i], px = s * s;
    Net *net = make_net(s, 16);
    float *x = malloc((size_t)N * px * sizeof *x), *x0 = malloc((size_t)N * px * sizeof *x0),
          *xm = malloc((size_t)N * px * sizeof *xm);
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < N * px; i++) x0[i] = x[i] = 2 * rng_uniform(&r) - 1;
    float tta[N * K], plain[N * K], z1[N * K], z2[N * K], want[N * K];
    tta_logits(net, x, N, TTA_FLIP, tta);
    ck_assert_int_eq(memcmp(x, x0, (size_t)N * px * sizeof *x), 0); /* mirrored back */
    tta_logits(net, x, N, TTA_NONE, plain);
    memcpy(z1, net_forward(net, x0, N, MODE_EVAL, 0), sizeof z1);
    mirror_by_hand(x0, N, s, xm);
    memcpy(z2, net_forward(net, xm, N, MODE_EVAL, 0), sizeof z2);
    int differ = 0;
    for (int i = 0; i < N * K; i++) {
        want[i] = (z1[i] + z2[i]) / 2.0f;
        differ += z1[i] != z2[i];
    }
    ck_assert_msg(differ > 0, "the mirror changes no logit: the test shows nothing");
    ck_assert_int_eq(memcmp(tta, want, sizeof want), 0);
    ck_assert_int_eq(memcmp(plain, z1, sizeof z1), 0);
    /* a mirror-symmetric image: TTA gives its plain logits, to the bit */
    for (int i = 0; i < N * px; i++) x[i] = x0[i] + xm[i];
    tta_logits(net, x, N, TTA_FLIP, tta);
    tta_logits(net, x, N, TTA_NONE, plain);
    ck_assert_int_eq(memcmp(tta, plain, sizeof plain), 0);
    free(x), free(x0), free(xm);
    net_free(net);
}
END_TEST

/* n random s x s images of 5 classes, each brighter in a class's column
 * band, so that left and right differ. */
static void make_data(Dataset *d, int n, int s, unsigned seed)
{
    d->n = n, d->h = s, d->w = s, d->alloc_n = 0;
    d->pixels = malloc((size_t)n * s * s);
    d->labels = malloc((size_t)n);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int c = (int)rng_below(&r, 5);
        d->labels[i] = (uint8_t)c;
        for (int p = 0; p < s * s; p++) d->pixels[i * s * s + p] = (uint8_t)(rng_below(&r, 100) + (p % s == c) * 150);
    }
}

/* train_evaluate_tta over 3 chunks against the mean logits computed here,
 * chunk by chunk; eval's predictions (mc_predict_tta) count the same
 * accuracy, and with TTA_NONE are mc_predict's to the bit. */
START_TEST(test_evaluation_uses_them)
{
    enum { N = 70, S = 8, K = 5, MB = 32 };
    Dataset d;
    make_data(&d, N, S, 3);
    Net *net = make_net(S, MB);
    Err e;
    double loss, acc, plain_loss, plain_acc;
    ck_assert_int_eq(train_evaluate_tta(net, &d, TTA_FLIP, &loss, &acc, &e), ST_OK);
    ck_assert_int_eq(train_evaluate(net, &d, &plain_loss, &plain_acc, &e), ST_OK);
    ck_assert(loss != plain_loss);
    float x[MB * S * S], xm[MB * S * S], z[MB * K];
    int labels[MB];
    uint32_t idx[MB];
    double total = 0.0;
    int right = 0;
    for (int start = 0; start < N; start += MB) {
        int n = N - start < MB ? N - start : MB, c;
        for (int i = 0; i < n; i++) idx[i] = (uint32_t)(start + i);
        dataset_batch(&d, idx, n, net->spec.mean, net->spec.std, x, labels);
        mirror_by_hand(x, n, S, xm);
        memcpy(z, net_forward(net, x, n, MODE_EVAL, 0), (size_t)n * K * sizeof *z);
        const float *z2 = net_forward(net, xm, n, MODE_EVAL, 0);
        for (int i = 0; i < n * K; i++) z[i] = (z[i] + z2[i]) / 2.0f;
        total += softmax_xent(z, labels, n, K, 0.0f, NULL, &c);
        right += c;
    }
    ck_assert_msg(fabs(loss - total / N) <= 1e-12, "loss %.17g, by hand %.17g", loss, total / N);
    ck_assert(acc == (double)right / N);
    float probs[N * K], probs0[N * K];
    int pred[N], pred0[N], ok = 0;
    ck_assert_int_eq(mc_predict_tta(net, &d, TTA_FLIP, probs, pred, NULL, &e), ST_OK);
    for (int i = 0; i < N; i++) ok += pred[i] == d.labels[i];
    ck_assert_int_eq(ok, right);
    ck_assert_int_eq(mc_predict_tta(net, &d, TTA_NONE, probs, pred, NULL, &e), ST_OK);
    ck_assert_int_eq(mc_predict(net, &d, 0, 0, probs0, pred0, NULL, &e), ST_OK);
    ck_assert_int_eq(memcmp(probs, probs0, sizeof probs), 0);
    ck_assert_int_eq(memcmp(pred, pred0, sizeof pred), 0);
    net_free(net);
    dataset_free(&d);
}
END_TEST

/* The names, the SETS key (absent: none; other values refused) and the
 * flags: sweepable. */
START_TEST(test_names_and_key)
{
    TtaKind k = TTA_FLIP;
    ck_assert(tta_parse("none", &k) && k == TTA_NONE);
    ck_assert(tta_parse("flip", &k) && k == TTA_FLIP);
    ck_assert(tta_parse("Flip", &k) && k == TTA_FLIP); /* any case, as --optim Adam (issue 18) */
    k = TTA_NONE;
    ck_assert(!tta_parse("flips", &k) && !tta_parse("", &k) && k == TTA_NONE);
    ck_assert_str_eq(tta_name(TTA_FLIP), "flip");
    ck_assert_str_eq(tta_name(TTA_NONE), "none");
    RunSettings s, t;
    settings_defaults(&s);
    snprintf(s.model, sizeof s.model, "models/mlp.cfg");
    s.train.epochs = 2, s.train.batch = 32, s.train_n = 100, s.train.tta = TTA_FLIP;
    Buf b = {0};
    settings_format(&s, &b);
    buf_put(&b, "", 1);
    char *line = strstr(b.data, "\ntta=flip\n");
    ck_assert_ptr_nonnull(line);
    Err e;
    ck_assert_msg(settings_parse("x.fmw", b.data, &t, &e) == ST_OK, "%s", e.msg);
    ck_assert(t.train.tta == TTA_FLIP);
    memcpy(line + 5, "mirr", 4);
    ck_assert_int_eq(settings_parse("x.fmw", b.data, &t, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "tta"));
    memmove(line + 1, line + 10, strlen(line + 10) + 1); /* absent: none */
    ck_assert_ptr_null(strstr(b.data, "tta="));
    ck_assert_msg(settings_parse("x.fmw", b.data, &t, &e) == ST_OK, "%s", e.msg);
    ck_assert(t.train.tta == TTA_NONE);
    buf_free(&b);
}
END_TEST

/* ---- the binary ---- */

static const char MODEL[] = "input 1x28x28\nconv 4 3 pad=1\nrelu\nmaxpool 2\nflatten\ndense 10\n";

/* A temp folder with synthetic train (200) and t10k (60) files and m.cfg. */
static char *setup(void)
{
    char *dir = make_temp_dir(), path[600];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 200, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 60, 9), 0);
    snprintf(path, sizeof path, "%s/m.cfg", dir);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, MODEL, strlen(MODEL), &e), ST_OK);
    return dir;
}

/* Field col (from 0) of the last row of a log.csv. */
static double last_row_field(const char *csv, int col)
{
    const char *row = csv, *p;
    for (p = csv; *p; p++)
        if (*p == '\n' && p[1]) row = p + 1;
    for (int c = 0; c < col; c++) row = strchr(row, ',') + 1;
    return strtod(row, NULL);
}

START_TEST(test_flag_errors)
{
    expect_fmnist("train --tta mirror", 2, "--tta: expected flip or none, got 'mirror'", out, sizeof out);
    expect_fmnist("train --tta", 2, "--tta", out, sizeof out);
    expect_fmnist("eval --weights x.fmw --tta both", 2, "--tta: expected flip or none, got 'both'", out, sizeof out);
}
END_TEST

/* Trained with --tta flip: the header says so; eval, with the checkpoint's
 * setting, prints the log's last test figures; --tta none others. */
START_TEST(test_eval_matches_the_log)
{
    char *dir = setup(), args[2048], path[700];
    snprintf(args, sizeof args,
             "train --model %s/m.cfg --data %s --epochs 2 --batch 50 --lr 0.01 --tta flip --label-smoothing 0.1 "
             "--no-progress --out %s/run",
             dir, dir, dir);
    expect_fmnist(args, 0, "evaluation: flip test-time augmentation", out, sizeof out);
    snprintf(path, sizeof path, "%s/run/log.csv", dir);
    char *csv = read_all_or_fail(path, NULL), want[128];
    snprintf(want, sizeof want, "test loss %.4f acc %.2f%%", last_row_field(csv, 3), 100 * last_row_field(csv, 4));
    free(csv);
    snprintf(args, sizeof args, "eval --weights %s/run/model.fmw --data %s", dir, dir);
    expect_fmnist(args, 0, want, out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, "flip test-time augmentation"));
    snprintf(args, sizeof args, "eval --weights %s/run/model.fmw --data %s --tta flip", dir, dir);
    expect_fmnist(args, 0, want, out, sizeof out);
    snprintf(args, sizeof args, "eval --weights %s/run/model.fmw --data %s --tta none", dir, dir);
    expect_fmnist(args, 0, "test loss", out, sizeof out);
    char got[512]; /* the figures' line: no TTA named there (the run's settings above still say it) */
    snprintf(got, sizeof got, "%.*s", (int)strcspn(strstr(out, "test loss"), "\n"), strstr(out, "test loss"));
    ck_assert_msg(!strstr(out, want), "--tta none gives the TTA figures: %s", got);
    ck_assert_msg(!strstr(got, "test-time"), "%s", got);
    /* the checkpoint holds the settings */
    Net *net;
    CkptState ck;
    Err e;
    snprintf(path, sizeof path, "%s/run/model.fmw", dir);
    ck_assert_int_eq(weights_load_run(path, 0, &net, &ck, &e), ST_OK);
    ck_assert_ptr_nonnull(strstr(ck.settings, "\ntta=flip\n"));
    ck_assert_ptr_nonnull(strstr(ck.settings, "\nlabel_smoothing=0.1\n"));
    weights_state_free(&ck);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Both options with validation: 1 and 2 threads give the same run. */
START_TEST(test_threads_same_run)
{
    char *dir = setup(), args[2048], a[700], b[700];
    for (int t = 1; t <= 2; t++) {
        snprintf(args, sizeof args,
                 "train --model %s/m.cfg --data %s --epochs 1 --batch 50 --val 40 --tta flip --label-smoothing 0.2 "
                 "--threads %d --no-progress --out %s/t%d",
                 dir, dir, t, dir, t);
        expect_fmnist(args, 0, "epoch 1/1", out, sizeof out);
    }
    snprintf(a, sizeof a, "%s/t1", dir);
    snprintf(b, sizeof b, "%s/t2", dir);
    test_same_run(a, b);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Both are sweep axes: 4 trials; TTA changes no training (the same train
 * loss) but the test figures. */
START_TEST(test_sweep_axes)
{
    char *dir = setup(), args[2048], path[800];
    snprintf(args, sizeof args,
             "sweep --model %s/m.cfg --data %s --epochs 1 --batch 50 --tta flip --tta none --label-smoothing 0,0.1 "
             "--seeds 1 --no-progress --out %s/sw",
             dir, dir, dir);
    expect_fmnist(args, 0, "tta flip, label-smoothing 0.1", out, sizeof out);
    snprintf(path, sizeof path, "%s/sw/sweep.csv", dir);
    char *csv = read_all_or_fail(path, NULL);
    ck_assert_ptr_nonnull(strstr(csv, "--tta none --label-smoothing 0.1\n"));
    free(csv);
    double f[2][5];
    const char *names[2] = {"tta-flip_label-smoothing0", "tta-none_label-smoothing0"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/sw/%s/seed1/log.csv", dir, names[k]);
        char *log = read_all_or_fail(path, NULL);
        for (int c = 1; c < 5; c++) f[k][c] = last_row_field(log, c);
        free(log);
    }
    ck_assert(f[0][1] == f[1][1] && f[0][2] == f[1][2]); /* train loss and accuracy */
    ck_assert(f[0][3] != f[1][3]);                       /* test loss */
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- resume: stopped mid-epoch 2 and resumed = uninterrupted ---- */

typedef struct {
    volatile sig_atomic_t stop;
} Stopper;

static void stop_in_epoch_2(void *ctx, const BatchStats *b)
{
    const int epoch = b->epoch, done = b->done;
    if (epoch == 2 && done == 2) ((Stopper *)ctx)->stop = 1;
}

START_TEST(test_resume_equals_uninterrupted)
{
    char *dir = setup(), model[700], a[700], b[700], path[800];
    snprintf(model, sizeof model, "%s/m.cfg", dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 120, 1);
    synthetic_dataset(&test, 30, 2);
    Err e;
    for (int k = 0; k < 2; k++) {
        Net *net;
        ck_assert_msg(run_build_net(model, NULL, 0, 32, &net, &e) == ST_OK, "%s", e.msg);
        net_init(net, 5);
        RunSpec spec = {.model = model, .out = k ? b : a};
        spec.train = (TrainConfig){.epochs = 3, .batch = 32, .seed = 5, .opt = optim_defaults(),
                                   .label_smoothing = 0.1f, .tta = TTA_FLIP};
        Stopper sp = {0};
        RunHooks hooks = {k ? stop_in_epoch_2 : NULL, NULL, &sp, &sp.stop, NULL, NULL};
        ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
        ck_assert_int_eq(run_train(&spec, net, &train, &test, &hooks, &e), k ? ST_ERR_INTERRUPTED : ST_OK);
        net_free(net);
    }
    snprintf(path, sizeof path, "%s/model.fmw", b);
    ResumedRun r;
    ck_assert_msg(resume_load(path, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(r.spec.resume->epoch, 1);
    ck_assert_int_eq(r.spec.resume->batch, 2);
    ck_assert(r.spec.train.label_smoothing == 0.1f && r.spec.train.tta == TTA_FLIP);
    r.spec.out = b;
    r.spec.overwrite = 1;
    ck_assert_int_eq(run_train(&r.spec, r.net, &train, &test, NULL, &e), ST_OK);
    resume_free(&r);
    test_same_run(a, b);
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *tta_suite(void)
{
    Suite *s = suite_create("tta");
    TCase *tc = tcase_create("library");
    tcase_add_loop_test(tc, test_logits_are_the_mean_of_two_forwards, 0, sizeof SIDES / sizeof SIDES[0]);
    tcase_add_test(tc, test_evaluation_uses_them);
    tcase_add_test(tc, test_names_and_key);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_resume_equals_uninterrupted);
    suite_add_tcase(s, tc);
    tc = tcase_create("binary");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_flag_errors);
    tcase_add_test(tc, test_eval_matches_the_log);
    tcase_add_test(tc, test_threads_same_run);
    tcase_add_test(tc, test_sweep_axes);
    suite_add_tcase(s, tc);
    return s;
}
