/* test_reg.c - regularization (issue 8): the weight-decay experiment (its
 * determinism, the overfitting without decay and its cure, a hand-computed
 * step), L1 and elastic-net optimizer steps computed by hand, weight_norm and
 * --report-penalty, the validation hold-out and early stopping, augmentation
 * (geometry, seeding), learning-rate schedules, and through the binary: each
 * setting kept by --resume and independent of the thread count. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"
#include "data/split.h"
#include "model/cfg.h"
#include "model/weights.h"
#include "nn/optim.h"
#include "nn/penalty.h"
#include "report/curve.h"
#include "testutil.h"
#include "train/lrsched.h"
#include "train/settings.h"
#include "train/wddemo.h"
#include "util/fileio.h"

/* ---- the weight-decay experiment ---- */

START_TEST(test_wddemo_overfits_and_decay_cures)
{
    WdDemoConfig c = wddemo_defaults();
    WdDemoResult none, l2, l1, again;
    Err e;
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 0.0, &none, &e), ST_OK);
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 3.0, &l2, &e), ST_OK);
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L1, 3.0, &l1, &e), ST_OK);
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 3.0, &again, &e), ST_OK);
    int last = c.epochs - 1;
    /* without decay: train loss tiny, test loss huge (overfitting) */
    ck_assert(none.train_loss[last] < 1e-3);
    ck_assert(none.test_loss[last] > 1000 * none.train_loss[last] && none.test_loss[last] > 10);
    /* with decay: the norm shrinks and the test loss comes down near the train loss */
    ck_assert(l2.w_norm[last] < none.w_norm[last] / 10);
    ck_assert(l2.test_loss[last] < none.test_loss[last] / 100);
    ck_assert(l1.w_norm[last] < none.w_norm[last] / 10);
    ck_assert(l1.test_loss[last] < 10 * l1.train_loss[last]);
    /* seeded: the same numbers bit for bit; another seed other numbers */
    for (int k = 0; k < c.epochs; k++) {
        ck_assert(memcmp(&l2.train_loss[k], &again.train_loss[k], sizeof(double)) == 0);
        ck_assert(memcmp(&l2.w_norm[k], &again.w_norm[k], sizeof(double)) == 0);
    }
    wddemo_result_free(&again);
    c.seed = 2;
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 3.0, &again, &e), ST_OK);
    ck_assert(again.test_loss[last] != l2.test_loss[last]);
    wddemo_result_free(&none);
    wddemo_result_free(&l2);
    wddemo_result_free(&l1);
    wddemo_result_free(&again);
    c.batch = 0;
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 3.0, &again, &e), ST_ERR_ARG);
}
END_TEST

/* One feature, one sample, one step, lr 0.5: w0 and b0 = 0 are known from the
 * seed's stream only through w, so compare the step's effect on the norm:
 * with lr * lambda = 1 (L2), one full batch step sets w to -lr * grad. */
START_TEST(test_wddemo_one_step_by_hand)
{
    WdDemoConfig c = {.dim = 1, .n_train = 1, .n_test = 1, .noise = 0, .batch = 1, .lr = 0.5, .epochs = 1,
                      .seed = 7};
    WdDemoResult r0, r2, r1;
    Err e;
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 0.0, &r0, &e), ST_OK);
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L2, 2.0, &r2, &e), ST_OK);
    ck_assert_int_eq(wddemo_run(&c, WD_PENALTY_L1, 0.25, &r1, &e), ST_OK);
    /* redraw the data as wddemo does: x, noise (0 here), then the test pair, then w */
    Rng g;
    rng_seed(&g, 7);
    double x = rng_normal(&g);
    (void)rng_normal(&g);
    double xt = rng_normal(&g);
    (void)rng_normal(&g);
    double w = rng_normal(&g), y = 0.05 + 0.01 * x, yt = 0.05 + 0.01 * xt;
    double res = w * x - y;                       /* b = 0 */
    double w0 = w - 0.5 * res * x, b0 = -0.5 * res; /* no penalty */
    double w2 = w - 0.5 * (res * x + 2.0 * w);      /* L2: + lambda w */
    double s = (w > 0) - (w < 0);
    double w1 = w - 0.5 * (res * x + 0.25 * s);     /* L1: + A sign(w) */
    ck_assert_double_eq_tol(r0.w_norm[0], fabs(w0), 1e-12);
    ck_assert_double_eq_tol(r2.w_norm[0], fabs(w2), 1e-12);
    ck_assert_double_eq_tol(r1.w_norm[0], fabs(w1), 1e-12);
    double r = w0 * x + b0 - y, rt = w0 * xt + b0 - yt;
    ck_assert_double_eq_tol(r0.train_loss[0], r * r / 2, 1e-12);
    ck_assert_double_eq_tol(r0.test_loss[0], rt * rt / 2, 1e-12);
    wddemo_result_free(&r0);
    wddemo_result_free(&r2);
    wddemo_result_free(&r1);
}
END_TEST

static char out[1 << 16];

/* ---- L1 and elastic net: w = [1, -2] (a weight), b = [0.5] (a bias),
 * g = [0.1, 0.2, -0.3], lr 0.1: optim_fixture_steps in testutil ---- */

START_TEST(test_l1_sgd_steps)
{
    OptConfig c = optim_defaults();
    c.kind = OPT_SGD;
    c.lr = 0.1f;
    c.l1 = 0.5f;
    float w[3];
    /* g + 0.5 sign(w) on the weights: 1 - 0.1*0.6, -2 - 0.1*(0.2 - 0.5); the bias plain */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.94f, -1.97f, 0.53f);
    ck_assert_int_eq(optim_fixture_steps(c, 2, w), 0); /* the signs stay: the same step twice */
    CK3(w, 0.88f, -1.94f, 0.56f);
    c.decay_bias = 1; /* the bias too: 0.5 - 0.1*(-0.3 + 0.5) */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.94f, -1.97f, 0.48f);
    /* elastic net: g + 0.1 w + 0.5 sign(w) */
    c.decay_bias = 0;
    c.weight_decay = 0.1f;
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 1.0f - 0.1f * (0.1f + 0.1f + 0.5f), -2.0f - 0.1f * (0.2f - 0.2f - 0.5f), 0.53f);
    /* with momentum 0.9, two steps: b2 = 1.9 g' (w moves by 0.1 * 2.9 g') */
    c.weight_decay = 0;
    c.momentum = 0.9f;
    ck_assert_int_eq(optim_fixture_steps(c, 2, w), 0);
    CK3(w, 1.0f - 0.29f * 0.6f, -2.0f + 0.29f * 0.3f, 0.5f + 0.29f * 0.3f);
    /* sign(0) = 0: a zero weight with a zero gradient stays at zero */
    float z[1] = {0.0f}, gz[1] = {0.0f};
    ParamInfo t = {.offset = 0, .numel = 1};
    Optim o;
    Err e;
    c.momentum = 0;
    ck_assert_int_eq(optim_init(&o, &c, 1, &e), ST_OK);
    optim_step(&o, z, gz, &t, 1);
    optim_free(&o);
    ck_assert(z[0] == 0.0f);
}
END_TEST

START_TEST(test_l1_adam_steps)
{
    OptConfig c = optim_defaults();
    c.lr = 0.1f;
    c.l1 = 0.5f;
    float w[3];
    /* Adam's first steps move each weight by lr against the sign of g' =
     * g + 0.5 sign(w): 0.6 (down), -0.3 (up); the bias's g = -0.3 (up) */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.9f, -1.9f, 0.6f);
    ck_assert_int_eq(optim_fixture_steps(c, 2, w), 0);
    CK3(w, 0.8f, -1.8f, 0.7f);
    /* elastic net with adam: g + 0.1 w + 0.5 sign(w); the second weight's
     * g' = 0.2 - 0.2 - 0.5 < 0 moves up */
    c.weight_decay = 0.1f;
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.9f, -1.9f, 0.6f);
    /* adamw: the decay decoupled (w *= 1 - lr*wd = 0.99), then the L1 step */
    c.kind = OPT_ADAMW;
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.99f - 0.1f, -1.98f + 0.1f, 0.6f);
}
END_TEST

START_TEST(test_penalty_and_norm_by_hand)
{
    float w[3] = {1.0f, -2.0f, 0.5f};
    OptConfig c = optim_defaults();
    ck_assert_double_eq(penalty_value(w, OPTIM_FIXTURE_TENSORS, 2, &c), 0.0);
    c.weight_decay = 0.1f;
    c.l1 = 0.5f; /* 0.05 * (1 + 4) + 0.5 * 3 */
    ck_assert_double_eq_tol(penalty_value(w, OPTIM_FIXTURE_TENSORS, 2, &c), 1.75, 1e-6);
    c.decay_bias = 1; /* 0.05 * 5.25 + 0.5 * 3.5 */
    ck_assert_double_eq_tol(penalty_value(w, OPTIM_FIXTURE_TENSORS, 2, &c), 2.0125, 1e-6);
    NetSpec mc;
    Net *net;
    Err e;
    ck_assert_int_eq(cfg_parse_text("t.cfg", "input 1x2x2\nflatten\ndense 2\n", &mc, &e), ST_OK);
    ck_assert_int_eq(net_build(&mc, 4, &net, &e), ST_OK);
    ck_assert_int_eq((int)net->nparams, 10);
    for (int i = 0; i < 10; i++) net->params[i] = (float)(i + 1); /* weights 1..8, biases 9, 10 */
    ck_assert_double_eq_tol(penalty_weight_norm(net), sqrt(204.0), 1e-9);
    net_free(net);
}
END_TEST

START_TEST(test_regopts_text)
{
    RunSettings a, b;
    settings_defaults(&a);
    snprintf(a.model, sizeof a.model, "m.cfg");
    a.train.epochs = a.train.batch = a.train_n = 1;
    a.train.opt.l1 = 3.3e-5f;
    a.train.report_penalty = 1;
    Buf buf = {0};
    Err e;
    settings_format(&a, &buf);
    buf_put(&buf, "", 1);
    ck_assert_int_eq(settings_parse("x.fmw", buf.data, &b, &e), ST_OK);
    ck_assert(b.train.opt.l1 == a.train.opt.l1 && b.train.report_penalty == 1);
    buf_free(&buf);
    const char *bad[] = {"l1=-1\n", "l1=x\n", "report_penalty=2\n", "mystery=1\n", "l1\n", "l1=nan\n"};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(settings_parse("x.fmw", bad[i], &b, &e), ST_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(e.msg, "x.fmw: settings line 1"));
    }
}
END_TEST

START_TEST(test_curve_extra_columns)
{
    Curve c;
    Err e;
    const char *h7 = "epoch,train_loss,train_acc,test_loss,test_acc,seconds,weight_norm\n";
    char text[512];
    snprintf(text, sizeof text, "%s1,0.5,0.8,0.45,0.82,1.5,12.25\n2,0.4,0.85,0.4,0.84,1.5,11.5\n", h7);
    ck_assert_int_eq(curve_parse("a.csv", text, &c, &e), ST_OK);
    ck_assert_int_eq(c.n, 2);
    ck_assert(c.weight_norm && !c.val_loss);
    ck_assert_double_eq(c.weight_norm[1], 11.5);
    ck_assert_double_eq(c.test_acc[1], 0.84);
    curve_free(&c);
    snprintf(text, sizeof text, "%s1,0.5,0.8,0.45,0.82,1.5\n", h7); /* a column short */
    ck_assert_int_eq(curve_parse("a.csv", text, &c, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "expected 7"));
    ck_assert_int_eq(curve_parse("a.csv", "epoch,train_loss,train_acc,test_loss,test_acc,seconds,foo\n", &c, &e),
                     ST_ERR_FORMAT);
}
END_TEST

/* ---- the binary: L1, elastic net, --report-penalty, weight_norm, resume ---- */

/* The log's text without the seconds column (the 6th). */
static void log_without_seconds(const char *path, char *out, size_t len)
{
    char *text;
    size_t n;
    Err e;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &text, &n, &e), ST_OK);
    size_t o = 0;
    int col = 0;
    for (size_t i = 0; i < n && o + 1 < len; i++) {
        if (text[i] == '\n') col = 0;
        else if (text[i] == ',') col++;
        if (col != 5) out[o++] = text[i];
    }
    out[o] = 0;
    free(text);
}

static void expect_run(const char *args)
{
    int rc = run_fmnist(args, out, sizeof out);
    ck_assert_msg(rc == 0, "fmnist %s: exit %d:\n%s", args, rc, out);
}

START_TEST(test_l1_binary_resume_and_penalty)
{
    char *dir = make_temp_dir(), args[8000], a[4096], b[4096], c[4096], p1[4400], p2[4400];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 400, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    const char *flags = "--model models/mlp.cfg --batch 50 --optim sgd --lr 0.05 --l1 1e-4 --weight-decay 1e-3 "
                        "--no-progress";
    snprintf(args, sizeof args, "train --data %s %s --epochs 2 --threads 1 --out %s/full", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --data %s %s --epochs 1 --threads 2 --out %s/cut", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --resume %s/cut/model.fmw --epochs 2 --data %s", dir, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --data %s %s --report-penalty --epochs 2 --out %s/pen", dir, flags, dir);
    expect_run(args);
    snprintf(p1, sizeof p1, "%s/full/log.csv", dir);
    log_without_seconds(p1, a, sizeof a);
    ck_assert_msg(!strncmp(a, "epoch,train_loss,train_acc,test_loss,test_acc,weight_norm\n", 58), "%s", a);
    snprintf(p2, sizeof p2, "%s/cut/log.csv", dir);
    log_without_seconds(p2, b, sizeof b);
    ck_assert_str_eq(a, b); /* the resumed run kept L1 and decay: the same log */
    /* the same weights, bit for bit */
    Net *n1, *n2;
    Err e;
    snprintf(p1, sizeof p1, "%s/full/model.fmw", dir);
    snprintf(p2, sizeof p2, "%s/cut/model.fmw", dir);
    ck_assert_int_eq(weights_load(p1, 10, &n1, NULL, &e), ST_OK);
    ck_assert_int_eq(weights_load(p2, 10, &n2, NULL, &e), ST_OK);
    ck_assert(memcmp(n1->params, n2->params, n1->nparams * sizeof(float)) == 0);
    /* weight_norm is the norm of the saved weights */
    Curve cv;
    snprintf(p1, sizeof p1, "%s/full/log.csv", dir);
    ck_assert_int_eq(curve_read(p1, &cv, &e), ST_OK);
    ck_assert_double_eq_tol(cv.weight_norm[1], penalty_weight_norm(n1), 1e-5);
    /* --report-penalty changes the reported train loss only, by about the penalty */
    Curve cp;
    snprintf(p2, sizeof p2, "%s/pen/log.csv", dir);
    ck_assert_int_eq(curve_read(p2, &cp, &e), ST_OK);
    OptConfig oc = optim_defaults();
    oc.weight_decay = 1e-3f;
    oc.l1 = 1e-4f;
    double pen = penalty_value(n1->params, n1->tensors, n1->ntensors, &oc);
    for (int k = 0; k < 2; k++) {
        ck_assert_double_eq(cp.test_loss[k], cv.test_loss[k]);
        ck_assert_double_eq(cp.weight_norm[k], cv.weight_norm[k]);
        ck_assert(cp.train_loss[k] > cv.train_loss[k]);
    }
    ck_assert_double_eq_tol(cp.train_loss[1] - cv.train_loss[1], pen, 0.05 * pen);
    curve_free(&cv);
    curve_free(&cp);
    net_free(n1);
    net_free(n2);
    /* a resumed run refuses new settings */
    snprintf(args, sizeof args, "train --resume %s/cut/model.fmw --epochs 3 --l1 0.1", dir);
    ck_assert_int_eq(run_fmnist(args, c, sizeof c), 2);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_wddemo_binary)
{
    char *dir = make_temp_dir(), args[4400], path[4400];
    snprintf(args, sizeof args, "wd-demo --out %s/wd", dir);
    int rc = run_fmnist(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert(strstr(out, "||w||2") && strstr(out, "lambda = 3") && strstr(out, "L1"));
    const char *files[] = {"wd-demo.png", "wd-demo.csv"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/wd/%s", dir, files[i]);
        ck_assert_msg(file_exists(path), "%s missing", path);
    }
    snprintf(args, sizeof args, "wd-demo --out %s/wd --bogus 1", dir);
    ck_assert_int_eq(run_fmnist(args, out, sizeof out), 2);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- validation hold-out and early stopping ---- */

/* 50 images of 2x2 whose first pixel is their index, label index % 10. */
static void tiny_set(Dataset *d)
{
    d->n = 50, d->h = 2, d->w = 2;
    d->pixels = malloc(200);
    d->labels = malloc(50);
    for (int i = 0; i < 50; i++) {
        memset(d->pixels + 4 * i, 7, 4);
        d->pixels[4 * i] = (uint8_t)i;
        d->labels[i] = (uint8_t)(i % 10);
    }
}

START_TEST(test_hold_out_is_seeded_and_disjoint)
{
    Dataset a, b, va, vb;
    Err e;
    tiny_set(&a);
    tiny_set(&b);
    ck_assert_int_eq(dataset_hold_out(&a, 12, 3, &va, &e), ST_OK);
    ck_assert_int_eq(dataset_hold_out(&b, 12, 3, &vb, &e), ST_OK);
    ck_assert_int_eq(a.n, 38);
    ck_assert_int_eq(va.n, 12);
    ck_assert(memcmp(va.pixels, vb.pixels, 48) == 0 && memcmp(a.pixels, b.pixels, 38 * 4) == 0);
    int seen[50] = {0};
    for (int i = 0; i < va.n; i++) {
        int k = va.pixels[4 * i];
        ck_assert_int_eq(va.labels[i], k % 10); /* labels travel with their images */
        ck_assert(i == 0 || k > va.pixels[4 * (i - 1)]); /* in index order */
        seen[k]++;
    }
    for (int i = 0; i < a.n; i++) {
        int k = a.pixels[4 * i];
        ck_assert_int_eq(a.labels[i], k % 10);
        ck_assert(i == 0 || k > a.pixels[4 * (i - 1)]);
        seen[k]++;
    }
    for (int k = 0; k < 50; k++) ck_assert_int_eq(seen[k], 1); /* a partition */
    dataset_free(&b);
    dataset_free(&vb);
    tiny_set(&b);
    ck_assert_int_eq(dataset_hold_out(&b, 12, 4, &vb, &e), ST_OK); /* another seed, another split */
    ck_assert(memcmp(va.pixels, vb.pixels, 48) != 0);
    dataset_free(&b);
    dataset_free(&vb);
    tiny_set(&b);
    ck_assert_int_eq(dataset_hold_out(&b, 50, 4, &vb, &e), ST_ERR_ARG);
    ck_assert_int_eq(dataset_hold_out(&b, 0, 4, &vb, &e), ST_ERR_ARG);
    ck_assert_int_eq(b.n, 50);
    dataset_free(&a);
    dataset_free(&va);
    dataset_free(&b);
}
END_TEST

START_TEST(test_early_stop_binary)
{
    char *dir = make_temp_dir(), args[8000], a[4096], b[4096], p[4400];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 500, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    /* a high learning rate makes the validation loss bounce */
    const char *flags = "--model models/mlp.cfg --batch 50 --lr 0.02 --val 100 --early-stop 1 --no-progress";
    snprintf(args, sizeof args, "train --data %s %s --epochs 8 --out %s/full", dir, flags, dir);
    expect_run(args);
    char *full_out = strdup(out);
    Curve c;
    Err e;
    snprintf(p, sizeof p, "%s/full/log.csv", dir);
    ck_assert_int_eq(curve_read(p, &c, &e), ST_OK);
    ck_assert(c.val_loss && c.val_acc && c.weight_norm);
    /* it stopped exactly after the first epoch that did not lower the lowest val loss */
    int best = 0, stop = c.n;
    for (int i = 1; i < 8; i++) {
        if (i >= c.n) break;
        if (c.val_loss[i] < c.val_loss[best]) best = i;
        else if (i - best >= 1) {
            stop = i + 1;
            break;
        }
    }
    ck_assert_int_eq(c.n, stop);
    ck_assert_msg(c.n < 8, "the run did not stop early:\n%s", full_out); /* this data: at epoch 3 */
    ck_assert_ptr_nonnull(strstr(full_out, "early stop"));
    /* best.fmw holds the weights of the best epoch: eval gives its test accuracy */
    snprintf(args, sizeof args, "eval --data %s --weights %s/full/best.fmw", dir, dir);
    expect_run(args);
    char want[64];
    snprintf(want, sizeof want, "%.2f%%", 100 * c.test_acc[best]);
    ck_assert_msg(strstr(out, want) != NULL, "eval lacks %s:\n%s", want, out);
    /* a run stopped after epoch 1 and resumed ends the same (the split, the
     * early-stopping state and the settings come back) */
    snprintf(args, sizeof args, "train --data %s %s --epochs 1 --out %s/cut", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --resume %s/cut/model.fmw --epochs 8 --data %s", dir, dir);
    expect_run(args);
    log_without_seconds(p, a, sizeof a);
    snprintf(p, sizeof p, "%s/cut/log.csv", dir);
    log_without_seconds(p, b, sizeof b);
    ck_assert_str_eq(a, b);
    /* usage errors */
    snprintf(args, sizeof args, "train --data %s --early-stop 2 --epochs 1 --out %s/x", dir, dir);
    ck_assert_int_eq(run_fmnist(args, a, sizeof a), 2);
    snprintf(args, sizeof args, "train --data %s --val 500 --epochs 1 --out %s/x", dir, dir);
    ck_assert_int_eq(run_fmnist(args, a, sizeof a), 2);
    curve_free(&c);
    free(full_out);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- augmentation ---- */

/* 1 if out is in shifted by (dy, dx) (out(y,x) = in(y+dy, x+dx)), b outside. */
static int is_shift(const float *in, const float *out, int h, int w, int dy, int dx, float b)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sy = y + dy, sx = x + dx;
            float want = sy >= 0 && sy < h && sx >= 0 && sx < w ? in[sy * w + sx] : b;
            if (out[y * w + x] != want) return 0;
        }
    return 1;
}

START_TEST(test_aug_crop_geometry)
{
    enum { H = 5, W = 6 };
    float in[H * W], x[H * W];
    for (int i = 0; i < H * W; i++) in[i] = (float)(i + 1);
    AugConfig a = {.crop = 2};
    int count[5][5] = {{0}};
    for (uint64_t k = 0; k < 400; k++) {
        memcpy(x, in, sizeof x);
        aug_apply(&a, x, 1, 0, H, W, -9.0f, aug_key(1, k));
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++)
                if (is_shift(in, x, H, W, dy, dx, -9.0f)) count[dy + 2][dx + 2]++, found = 1;
        ck_assert_msg(found, "key %d: not a shift of the image by at most 2", (int)k);
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) ck_assert_msg(count[i][j] > 3, "offset (%d,%d) drawn %d times", i - 2, j - 2, count[i][j]);
    /* a hand-made case: shifting (dy, dx) = (1, -1) of a 2x3 image */
    float m[6] = {1, 2, 3, 4, 5, 6}, o[6] = {1, 2, 3, 4, 5, 6};
    ck_assert(!is_shift(m, o, 2, 3, 1, -1, 0));
    float want[6] = {0, 4, 5, 0, 0, 0};
    ck_assert(is_shift(m, want, 2, 3, 1, -1, 0));
}
END_TEST

START_TEST(test_aug_flip_and_erase_geometry)
{
    enum { H = 10, W = 9 };
    float in[H * W], x[H * W];
    for (int i = 0; i < H * W; i++) in[i] = (float)(i + 1);
    AugConfig f = {.flip = 1}, er = {.erase = 1};
    int flipped = 0, erased = 0;
    for (uint64_t k = 0; k < 200; k++) {
        memcpy(x, in, sizeof x);
        aug_apply(&f, x, 1, 0, H, W, 0, aug_key(2, k));
        int same = !memcmp(x, in, sizeof x), mirror = 1;
        for (int y = 0; y < H; y++)
            for (int c = 0; c < W; c++) mirror &= x[y * W + c] == in[y * W + W - 1 - c];
        ck_assert(same || mirror);
        flipped += mirror;
        /* erase: unchanged, or one rectangle of zeros (2-33% of the area, rounded) */
        memcpy(x, in, sizeof x);
        aug_apply(&er, x, 1, 0, H, W, 0, aug_key(2, k));
        int y0 = H, y1 = -1, x0 = W, x1 = -1, zeros = 0;
        for (int y = 0; y < H; y++)
            for (int c = 0; c < W; c++) {
                if (x[y * W + c] == 0) {
                    zeros++;
                    y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1, x0 = c < x0 ? c : x0, x1 = c > x1 ? c : x1;
                } else {
                    ck_assert(x[y * W + c] == in[y * W + c]);
                }
            }
        if (zeros) {
            erased++;
            ck_assert_int_eq(zeros, (y1 - y0 + 1) * (x1 - x0 + 1)); /* a full rectangle */
            ck_assert(y1 - y0 + 1 < H && x1 - x0 + 1 < W);
            ck_assert(zeros <= 0.45 * H * W);
        }
    }
    ck_assert(flipped > 60 && flipped < 140); /* p = 1/2 */
    ck_assert(erased > 60 && erased < 140);
}
END_TEST

START_TEST(test_aug_seeded_and_per_sample)
{
    enum { N = 8, HW = 28 * 28 };
    static float a[N * HW], b[N * HW], c[N * HW];
    for (int i = 0; i < N * HW; i++) a[i] = (float)(i % 251) / 100.0f + 0.5f;
    memcpy(b, a, sizeof a);
    memcpy(c, a, sizeof a);
    AugConfig all = {0};
    Err e;
    ck_assert_int_eq(aug_parse("crop=2", &all, &e), ST_OK);
    ck_assert_int_eq(aug_parse("flip,erase", &all, &e), ST_OK);
    ck_assert(all.crop == 2 && all.flip && all.erase);
    char txt[64];
    aug_format(&all, txt, sizeof txt);
    ck_assert_str_eq(txt, "crop=2,flip,erase");
    aug_apply(&all, a, N, 0, 28, 28, -1.0f, aug_key(5, 17));
    aug_apply(&all, b, N, 0, 28, 28, -1.0f, aug_key(5, 17));
    ck_assert(memcmp(a, b, sizeof a) == 0); /* same seed and step: the same batch */
    aug_apply(&all, c, N, 0, 28, 28, -1.0f, aug_key(5, 18));
    ck_assert(memcmp(a, c, sizeof a) != 0); /* the next step: others */
    /* a sample's augmentation does not depend on the batch it is in beyond its slot */
    float one[HW]; /* sample 0 alone, under the same key: as in the batch */
    for (int i = 0; i < HW; i++) one[i] = (float)(i % 251) / 100.0f + 0.5f;
    aug_apply(&all, one, 1, 0, 28, 28, -1.0f, aug_key(5, 17));
    ck_assert(memcmp(one, a, sizeof one) == 0);
    const char *bad[] = {"crop=0", "crop=9", "crop=x", "mirror", "flip,", ",flip", "flip,,erase", ""};
    for (int i = 0; i < 8; i++) {
        AugConfig z = {0};
        ck_assert_int_eq(aug_parse(bad[i], &z, &e), ST_ERR_ARG);
    }
    aug_format(&(AugConfig){0}, txt, sizeof txt);
    ck_assert_str_eq(txt, "");
}
END_TEST

START_TEST(test_aug_binary_threads_and_resume)
{
    char *dir = make_temp_dir(), args[8000], a[4096], b[4096], p[4400];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 300, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    const char *flags = "--model models/mlp.cfg --batch 50 --aug crop=2 --aug flip,erase --no-progress";
    snprintf(args, sizeof args, "train --data %s %s --epochs 2 --threads 1 --out %s/t1", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --data %s %s --epochs 1 --threads 2 --out %s/t2", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --resume %s/t2/model.fmw --epochs 2 --data %s", dir, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --data %s --model models/mlp.cfg --batch 50 --no-progress --epochs 2 --out %s/plain", dir, dir);
    expect_run(args);
    snprintf(p, sizeof p, "%s/t1/log.csv", dir);
    log_without_seconds(p, a, sizeof a);
    snprintf(p, sizeof p, "%s/t2/log.csv", dir);
    log_without_seconds(p, b, sizeof b);
    ck_assert_str_eq(a, b); /* 1 thread = 2 threads + resume, augmentation included */
    snprintf(p, sizeof p, "%s/plain/log.csv", dir);
    log_without_seconds(p, b, sizeof b);
    ck_assert_str_ne(a, b); /* and augmentation did change the training */
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- learning-rate schedules ---- */

START_TEST(test_lr_schedules_by_hand)
{
    LrSchedule c = {.kind = LRS_CONSTANT, .base = 0.1f, .step = 2, .gamma = 0.5f, .epochs = 6};
    ck_assert(!lrsched_active(&c));
    ck_assert_float_eq(lrsched_rate(&c, 3, 1, 4), 0.1f);
    LrSchedule st = c;
    st.kind = LRS_STEP; /* epochs 1-2: 0.1, 3-4: 0.05, 5-6: 0.025 */
    ck_assert_float_eq_tol(lrsched_rate(&st, 1, 0, 4), 0.1f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&st, 2, 3, 4), 0.1f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&st, 3, 0, 4), 0.05f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&st, 6, 3, 4), 0.025f, 1e-9f);
    LrSchedule co = c;
    co.kind = LRS_COSINE; /* 6 epochs of 4 steps: t = steps done / 24 */
    ck_assert_float_eq_tol(lrsched_rate(&co, 1, 0, 4), 0.1f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&co, 4, 0, 4), 0.05f, 1e-7f); /* half way: 12 of 24 */
    ck_assert_float_eq_tol(lrsched_rate(&co, 2, 2, 4), (float)(0.05 * (1 + cos(3.14159265358979 * 6 / 24))), 1e-7f);
    ck_assert_float_eq_tol(lrsched_rate(&co, 6, 3, 4), (float)(0.05 * (1 + cos(3.14159265358979 * 23 / 24))), 1e-7f);
    /* warm-up over 2 epochs of 4 steps: (s+1)/8 of base, then cosine over the 4 epochs left */
    co.warmup = 2;
    ck_assert(lrsched_active(&co));
    ck_assert_float_eq_tol(lrsched_rate(&co, 1, 0, 4), 0.1f / 8, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&co, 2, 3, 4), 0.1f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&co, 3, 0, 4), 0.1f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&co, 5, 0, 4), 0.05f, 1e-7f); /* 8 of 16 after the warm-up */
    LrSchedule w = c;
    w.warmup = 1; /* a warm-up alone, then constant */
    ck_assert_float_eq_tol(lrsched_rate(&w, 1, 1, 4), 0.05f, 1e-9f);
    ck_assert_float_eq_tol(lrsched_rate(&w, 2, 0, 4), 0.1f, 1e-9f);
    LrKind k;
    ck_assert(lrsched_parse_kind("cosine", &k) && k == LRS_COSINE);
    ck_assert(!lrsched_parse_kind("linear", &k));
}
END_TEST

START_TEST(test_lr_schedule_binary_and_checkpoint)
{
    char *dir = make_temp_dir(), args[8000], a[4096], b[4096], p[4400];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 300, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    const char *flags = "--model models/mlp.cfg --batch 50 --optim sgd --lr 0.05 --lr-schedule cosine --warmup 1 "
                        "--no-progress --epochs 3";
    snprintf(args, sizeof args, "train --data %s %s --threads 1 --out %s/t1", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --data %s %s --threads 2 --out %s/t2", dir, flags, dir);
    expect_run(args);
    snprintf(args, sizeof args, "train --data %s --model models/mlp.cfg --batch 50 --optim sgd --lr 0.05 "
             "--no-progress --epochs 3 --out %s/plain", dir, dir);
    expect_run(args);
    snprintf(p, sizeof p, "%s/t1/log.csv", dir);
    log_without_seconds(p, a, sizeof a);
    snprintf(p, sizeof p, "%s/t2/log.csv", dir);
    log_without_seconds(p, b, sizeof b);
    ck_assert_str_eq(a, b); /* the same whatever the thread count */
    snprintf(p, sizeof p, "%s/plain/log.csv", dir);
    log_without_seconds(p, b, sizeof b);
    ck_assert_str_ne(a, b); /* the schedule changed the run */
    /* the checkpoint keeps the schedule for --resume */
    CkptState ck;
    Net *net;
    Err e;
    snprintf(p, sizeof p, "%s/t1/model.fmw", dir);
    ck_assert_int_eq(weights_load_run(p, 0, &net, &ck, &e), ST_OK);
    RunSettings rs;
    ck_assert_int_eq(settings_read(p, &ck, &rs, &e), ST_OK);
    TrainConfig tc = rs.train;
    ck_assert(tc.lr.kind == LRS_COSINE && tc.lr.warmup == 1 && tc.lr.epochs == 3 && tc.lr.base == 0.05f);
    ck_assert(tc.opt.lr == 0.05f); /* the --lr; each step's rate comes from the schedule */
    weights_state_free(&ck);
    net_free(net);
    snprintf(args, sizeof args, "train --data %s %s --warmup 3 --out %s/x", dir, flags, dir);
    ck_assert_int_eq(run_fmnist(args, b, sizeof b), 2); /* --warmup given twice */
    snprintf(args, sizeof args, "train --data %s --warmup 3 --epochs 3 --out %s/x", dir, dir);
    ck_assert_int_eq(run_fmnist(args, b, sizeof b), 2);
    snprintf(args, sizeof args, "train --data %s --lr-schedule linear --epochs 3 --out %s/x", dir, dir);
    ck_assert_int_eq(run_fmnist(args, b, sizeof b), 2);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *reg_suite(void)
{
    Suite *s = suite_create("reg");
    TCase *tc = tcase_create("wddemo");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_wddemo_overfits_and_decay_cures);
    tcase_add_test(tc, test_wddemo_one_step_by_hand);
    tcase_add_test(tc, test_wddemo_binary);
    suite_add_tcase(s, tc);
    TCase *pen = tcase_create("penalties");
    tcase_set_timeout(pen, 60);
    tcase_add_test(pen, test_l1_sgd_steps);
    tcase_add_test(pen, test_l1_adam_steps);
    tcase_add_test(pen, test_penalty_and_norm_by_hand);
    tcase_add_test(pen, test_regopts_text);
    tcase_add_test(pen, test_curve_extra_columns);
    tcase_add_test(pen, test_l1_binary_resume_and_penalty);
    suite_add_tcase(s, pen);
    TCase *val = tcase_create("validation");
    tcase_set_timeout(val, 90);
    tcase_add_test(val, test_hold_out_is_seeded_and_disjoint);
    tcase_add_test(val, test_early_stop_binary);
    suite_add_tcase(s, val);
    TCase *aug = tcase_create("augment");
    tcase_set_timeout(aug, 90);
    tcase_add_test(aug, test_aug_crop_geometry);
    tcase_add_test(aug, test_aug_flip_and_erase_geometry);
    tcase_add_test(aug, test_aug_seeded_and_per_sample);
    tcase_add_test(aug, test_aug_binary_threads_and_resume);
    suite_add_tcase(s, aug);
    TCase *lr = tcase_create("schedules");
    tcase_set_timeout(lr, 60);
    tcase_add_test(lr, test_lr_schedules_by_hand);
    tcase_add_test(lr, test_lr_schedule_binary_and_checkpoint);
    suite_add_tcase(s, lr);
    return s;
}
