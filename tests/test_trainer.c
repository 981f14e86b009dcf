/* test_trainer.c - the training loop's steps and the version 3 checkpoint
 * (issue 13, items 4 and 8).
 *
 * train_run through its hooks: the progress handed to on_epoch and on_stop,
 * a stop before the first batch, a resume position that does not fit, and
 * a resumed run that equals an uninterrupted one when the resume state is
 * built by hand. The settings text: every key round-trips exactly (strings
 * with newlines too), and what is refused. The model text keeps its
 * comments and gets the dropout rates in effect. Early stopping's record
 * lives in the checkpoint: a run with a validation set stopped mid-epoch
 * resumes without best.fmw and ends as the uninterrupted one, record
 * included. The version 2 files of tests/data/ckpt-v2, written by the code
 * before version 3, still load (their settings converted), resume to the
 * uninterrupted run's log and weights, export to the same NPZ and evaluate
 * to the same accuracy. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "testutil.h"
#include "train/resume.h"
#include "train/run.h"
#include "train/settings.h"
#include "util/fileio.h"

static char out[1 << 16];

static Net *mlp(int batch, int seed)
{
    Net *net;
    Err e;
    ck_assert_msg(run_build_net("models/mlp.cfg", NULL, 0, batch, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, (uint64_t)seed);
    return net;
}

/* ---- the loop's steps, through its hooks ---- */

typedef struct {
    int nepochs, nstops;
    TrainProgress epochs[8], stop;   /* what on_epoch and on_stop were handed (opt: only then) */
    long t[8];                       /* on_epoch: the optimizer's step count */
    int stop_epoch, stop_batch;      /* raise stop after this batch (epoch from 1) */
    volatile sig_atomic_t flag;
    Optim *keep;                     /* on_stop: a copy of the optimizer state */
} Seen;

static void seen_batch(void *ctx, const BatchStats *b)
{
    const int epoch = b->epoch, done = b->done;
    Seen *s = ctx;
    if (epoch == s->stop_epoch && done == s->stop_batch) s->flag = 1;
}

static Status seen_epoch(void *ctx, const EpochStats *st, const TrainProgress *p, const Net *net, Err *e)
{
    Seen *s = ctx;
    (void)net, (void)e;
    ck_assert_int_eq(p->epoch, st->epoch); /* at an epoch's end: that epoch finished */
    if (s->nepochs < 8) s->t[s->nepochs] = p->opt->t, s->epochs[s->nepochs++] = *p;
    return ST_OK;
}

static Status seen_stop(void *ctx, const TrainProgress *p, const Net *net, Err *e)
{
    Seen *s = ctx;
    (void)net;
    s->nstops++;
    s->stop = *p;
    if (s->keep) {
        Status st = optim_init(s->keep, &p->opt->cfg, p->opt->n, e);
        if (st) return st;
        if (p->opt->m) memcpy(s->keep->m, p->opt->m, p->opt->n * sizeof(float)); /* the moments the optimizer has */
        if (p->opt->v) memcpy(s->keep->v, p->opt->v, p->opt->n * sizeof(float));
        s->keep->t = p->opt->t;
    }
    return ST_OK;
}

/* 100 images in batches of 25: 4 batches an epoch. A run stopped after batch
 * 3 of epoch 2 hands on_stop (1 epoch done, 3 batches, 7 steps); resumed from
 * that by hand, it ends as the uninterrupted run, bit for bit. */
START_TEST(test_progress_to_hooks_and_back)
{
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 100, 1);
    synthetic_dataset(&test, 30, 2);
    TrainConfig tc = {.epochs = 3, .batch = 25, .seed = 4, .opt = optim_defaults()};
    tc.opt.kind = OPT_SGD, tc.opt.lr = 0.05f, tc.opt.momentum = 0.9f;
    Err e;
    Net *a = mlp(25, 4), *b = mlp(25, 4);
    Seen sa = {0}, sb = {.stop_epoch = 2, .stop_batch = 3};
    Optim kept;
    sb.keep = &kept;
    TrainHooks ha = {NULL, seen_epoch, &sa, NULL, seen_stop, NULL},
               hb = {seen_batch, seen_epoch, &sb, &sb.flag, seen_stop, NULL};
    ck_assert_int_eq(train_run(a, &train, &test, &tc, NULL, &ha, &e), ST_OK);
    ck_assert_int_eq(sa.nepochs, 3);
    for (int k = 0; k < 3; k++)
        ck_assert(sa.epochs[k].epoch == k + 1 && sa.epochs[k].batch == 0 && sa.epochs[k].step == 4u * (k + 1) &&
                  sa.epochs[k].loss_sum == 0 && sa.epochs[k].right == 0 && sa.t[k] == 4 * (k + 1));
    ck_assert_int_eq(train_run(b, &train, &test, &tc, NULL, &hb, &e), ST_ERR_INTERRUPTED);
    ck_assert_str_eq(e.msg, "interrupted in epoch 2 after batch 3 of 4");
    ck_assert_int_eq(sb.nstops, 1);
    TrainProgress at = sb.stop;
    ck_assert(at.epoch == 1 && at.batch == 3 && at.step == 7 && at.loss_sum > 0 && at.right >= 0 && at.seconds >= 0);
    ck_assert(isinf(at.val.best_loss) && at.val.best_params == NULL); /* no validation set */
    /* back: the same position, the optimizer copied on_stop */
    at.opt = &kept;
    Seen sc = {0};
    TrainHooks hc = {NULL, seen_epoch, &sc, NULL, seen_stop, NULL};
    ck_assert_msg(train_run(b, &train, &test, &tc, &at, &hc, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(sc.nepochs, 2); /* epochs 2 and 3 */
    ck_assert_mem_eq(a->params, b->params, a->nparams * sizeof(float));
    /* a position past the epoch's batches, or an optimizer of another size: refused, nothing leaks */
    at.batch = 4;
    ck_assert_int_eq(train_run(b, &train, &test, &tc, &at, NULL, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot resume at batch 4 of an epoch of 4 batches"));
    at.batch = 0;
    kept.n--;
    ck_assert_int_eq(train_run(b, &train, &test, &tc, &at, NULL, &e), ST_ERR_ARG);
    kept.n++;
    /* asked to stop before the first batch: the start of epoch 1, nothing trained */
    Seen sd = {0};
    sd.flag = 1;
    TrainHooks hd = {NULL, NULL, &sd, &sd.flag, seen_stop, NULL};
    ck_assert_int_eq(train_run(a, &train, &test, &tc, NULL, &hd, &e), ST_ERR_INTERRUPTED);
    ck_assert_str_eq(e.msg, "interrupted at the start of epoch 1");
    ck_assert(sd.nstops == 1 && sd.stop.epoch == 0 && sd.stop.batch == 0 && sd.stop.step == 0);
    optim_free(&kept);
    net_free(a), net_free(b);
    dataset_free(&train), dataset_free(&test);
}
END_TEST

/* ---- the settings text ---- */

static void all_set(RunSettings *s)
{
    settings_defaults(s);
    snprintf(s->model, sizeof s->model, "dir with\\back\\slash/and a\nnewline.cfg");
    TrainConfig *t = &s->train;
    t->epochs = 12, t->batch = 33, t->seed = 0xfedcba9876543210ULL;
    s->train_n = 4321, s->val = 99;
    t->opt.kind = OPT_ADAMW, t->opt.lr = 3e-4f, t->opt.momentum = 0.25f, t->opt.nesterov = 1;
    t->opt.beta1 = 0.8f, t->opt.beta2 = 0.995f, t->opt.eps = 1e-7f, t->opt.weight_decay = 0.0123f;
    t->opt.decay_bias = 1, t->opt.l1 = 2.5e-6f;
    t->lr = (LrSchedule){LRS_COSINE, 3e-4f, 2, 3, 0.5f, 11};
    t->aug = (AugConfig){3, 1, 1};
    t->early_stop = 4, t->report_penalty = 1;
}

START_TEST(test_settings_round_trip_and_refusals)
{
    RunSettings a, b;
    all_set(&a);
    Buf text = {0};
    settings_format(&a, &text);
    buf_put(&text, "", 1);
    ck_assert_ptr_nonnull(strstr(text.data, "model=dir with\\\\back\\\\slash/and a\\nnewline.cfg\n"));
    ck_assert_ptr_nonnull(strstr(text.data, "\nlr=0.0003\n")); /* the shortest decimal of the float */
    ck_assert_ptr_nonnull(strstr(text.data, "\nseed=18364758544493064720\n"));
    ck_assert_ptr_nonnull(strstr(text.data, "\naug=crop=3,flip,erase\n"));
    ck_assert_ptr_null(strstr(text.data, "lr_base")); /* version 2's name; lr is the schedule's base */
    Err e;
    ck_assert_msg(settings_parse("s.fmw", text.data, &b, &e) == ST_OK, "%s", e.msg);
    char wa[256], wb[256];
    ck_assert_msg(!settings_diff(&a, &b, wa, wb, sizeof wa), "%s vs %s", wa, wb);
    ck_assert_str_eq(b.model, a.model);
    ck_assert(b.train.lr.base == 3e-4f && b.train.seed == a.train.seed);
    b.train.opt.eps = 2e-7f;
    ck_assert(settings_diff(&a, &b, wa, wb, sizeof wa));
    ck_assert_str_eq(wa, "eps=1e-07");
    ck_assert_str_eq(wb, "eps=2e-07");
    /* refused: unknown, twice, out of range, malformed, a missing required key, version 2's lr_base */
    const char *lines = strchr(text.data, '\n') + 1; /* all but model= */
    char bad[8][2200];
    snprintf(bad[0], sizeof bad[0], "%smystery=1\n", text.data);
    snprintf(bad[1], sizeof bad[1], "%sl1=0\n", text.data);
    snprintf(bad[2], sizeof bad[2], "%s", lines);
    snprintf(bad[3], sizeof bad[3], "model=a\\tb\n%s", lines);
    snprintf(bad[4], sizeof bad[4], "%slr_base=0.1\n", text.data);
    snprintf(bad[5], sizeof bad[5], "%s", text.data);
    strstr(bad[5], "batch=33")[6] = 'x';
    snprintf(bad[6], sizeof bad[6], "%s", text.data);
    memcpy(strstr(bad[6], "early_stop=4"), "early_stop=-", 12);
    snprintf(bad[7], sizeof bad[7], "%s\n", text.data);
    const char *why[8] = {"setting 'mystery' is not known", "setting 'l1' is given twice", "'model' is missing",
                          "bad value 'a\\tb' for model", "setting 'lr_base' is not known", "bad value 'x3' for batch",
                          "bad value '-' for early_stop", "expected key=value"};
    for (int k = 0; k < 8; k++) {
        ck_assert_int_eq(settings_parse("s.fmw", bad[k], &b, &e), ST_ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, why[k]) && strstr(e.msg, "s.fmw: settings"), "case %d: %s", k, e.msg);
    }
    buf_free(&text);
}
END_TEST

/* ---- the model text says what the net does ---- */

START_TEST(test_model_text_gets_the_rates)
{
    const char *text = "# a comment\ninput 1x4x4\nflatten\ndense 8\ndropout   0.30   # keep this\ndense 6\n"
                       "dropout 0.5\ndense 3\n";
    NetSpec s;
    Err e;
    ck_assert_int_eq(cfg_parse_text("t.cfg", text, &s, &e), ST_OK);
    char *t;
    float same[2] = {0.3f, 0.5f}, other[2] = {0.2f, 0.5f}, third[2] = {1.0f / 3, 0.5f};
    ck_assert_int_eq(cfg_text_with_dropout(&s, same, 2, &t, &e), ST_OK);
    ck_assert_str_eq(t, text); /* the rates it says: byte for byte */
    free(t);
    ck_assert_int_eq(cfg_text_with_dropout(&s, third, 2, &t, &e), ST_OK);
    ck_assert_ptr_nonnull(strstr(t, "\ndropout   0.33333334   # keep this\n"));
    free(t);
    ck_assert_int_eq(cfg_text_with_dropout(&s, other, 1, &t, &e), ST_ERR_ARG);
    ck_assert_int_eq(cfg_set_dropout(&s, other, 2, &e), ST_OK);
    ck_assert_str_eq(s.text, "# a comment\ninput 1x4x4\nflatten\ndense 8\ndropout   0.2   # keep this\ndense 6\n"
                             "dropout 0.5\ndense 3\n");
    NetSpec back;
    ck_assert_int_eq(cfg_parse_text("t.cfg", s.text, &back, &e), ST_OK);
    ck_assert(back.layers[2].p == 0.2f && back.layers[4].p == 0.5f);
    netspec_free(&back);
    netspec_free(&s);
    /* train --dropout: the checkpoint's model text */
    Net *net;
    ck_assert_int_eq(run_build_net("models/mlp.cfg", other, 2, 4, &net, &e), ST_OK);
    ck_assert_ptr_nonnull(strstr(net->spec.text, "\ndropout 0.2\n"));
    ck_assert_ptr_nonnull(strstr(net->spec.text, "# The product's MLP")); /* its comments kept */
    net_free(net);
}
END_TEST

/* ---- early stopping's record in the checkpoint ---- */

typedef struct {
    int stop_epoch, stop_batch;
    volatile sig_atomic_t stop;
} Stopper;

static void stop_batch(void *ctx, const BatchStats *b)
{
    const int epoch = b->epoch, done = b->done;
    Stopper *s = ctx;
    if (epoch == s->stop_epoch && done == s->stop_batch) s->stop = 1;
}

/* A run with a validation set and early stopping, stopped in epoch 4 and
 * resumed after best.fmw is removed: the same log, weights and record
 * (the lowest validation loss exactly, its epoch and weights) as the run
 * that was never stopped. */
START_TEST(test_val_record_in_the_checkpoint)
{
    char *dir = make_temp_dir(), a[600], b[600], pa[700], pb[700];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    Dataset train = {0}, test = {0}, val = {0};
    synthetic_dataset(&train, 120, 1);
    synthetic_dataset(&test, 30, 2);
    synthetic_dataset(&val, 40, 3);
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD, oc.lr = 0.6f; /* noisy: the validation loss goes up and down */
    Err e;
    for (int k = 0; k < 2; k++) {
        Net *net = mlp(30, 6);
        RunSpec spec = {.model = "models/mlp.cfg", .out = k ? b : a};
        spec.train = (TrainConfig){.epochs = 6, .batch = 30, .seed = 6, .opt = oc, .val = &val, .early_stop = 3};
        Stopper sp = {.stop_epoch = k ? 4 : 0, .stop_batch = 2};
        RunHooks hooks = {stop_batch, NULL, &sp, &sp.stop, NULL, NULL};
        ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
        ck_assert_int_eq(run_train(&spec, net, &train, &test, &hooks, &e), k ? ST_ERR_INTERRUPTED : ST_OK);
        net_free(net);
    }
    snprintf(pb, sizeof pb, "%s/best.fmw", b);
    ck_assert_int_eq(unlink(pb), 0); /* version 3 does not need it */
    snprintf(pb, sizeof pb, "%s/model.fmw", b);
    ResumedRun r;
    ck_assert_msg(resume_load(pb, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert(r.progress.epoch == 3 && r.progress.batch == 2);
    /* lr 0.6 is chosen so that epoch 3 did not improve: the record's weights are not the current ones */
    ck_assert(r.progress.val.best_epoch == 2 && isfinite(r.progress.val.best_loss) && r.progress.val.best_params);
    r.spec.out = b;
    r.spec.overwrite = 1;
    r.spec.train.val = &val;
    ck_assert_msg(run_train(&r.spec, r.net, &train, &test, NULL, &e) == ST_OK, "%s", e.msg);
    resume_free(&r);
    snprintf(pa, sizeof pa, "%s/log.csv", a);
    snprintf(pb, sizeof pb, "%s/log.csv", b);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la), csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    snprintf(pa, sizeof pa, "%s/model.fmw", a);
    snprintf(pb, sizeof pb, "%s/model.fmw", b);
    Net *na, *nb;
    CkptState sa, sb;
    ck_assert_int_eq(weights_load_run(pa, 0, &na, &sa, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(pb, 0, &nb, &sb, &e), ST_OK);
    ck_assert_mem_eq(na->params, nb->params, na->nparams * sizeof(float));
    ck_assert(sa.version == 3 && sa.has_val && sb.has_val && sa.val_best_params && sb.val_best_params);
    ck_assert(sa.val_best == sb.val_best && sa.val_best_epoch == sb.val_best_epoch && isfinite(sa.val_best));
    ck_assert_mem_eq(sa.val_best_params, sb.val_best_params, na->nparams * sizeof(float));
    ck_assert(sa.val_best_epoch == 2 && sa.epoch == 5); /* stopped early: epoch 2's weights came from the record */
    ck_assert_str_eq(sa.settings, sb.settings);
    ck_assert_ptr_nonnull(strstr(sa.settings, "\nval=40\n"));
    ck_assert_ptr_nonnull(strstr(sa.settings, "\nearly_stop=3\n"));
    /* the record's weights are those of best.fmw (early stopping's best is best.fmw) */
    snprintf(pa, sizeof pa, "%s/best.fmw", a);
    Net *bv;
    ck_assert_int_eq(weights_load(pa, 1, &bv, NULL, &e), ST_OK);
    ck_assert_mem_eq(bv->params, sa.val_best_params, na->nparams * sizeof(float));
    net_free(bv);
    /* a version 3 run with validation but no record, or early stopping without its weights: refused */
    CkptState bad = sa;
    bad.has_val = 0;
    snprintf(pa, sizeof pa, "%s/bad.fmw", dir);
    ck_assert_int_eq(weights_save_run(pa, na, &bad, &e), ST_OK);
    ck_assert_int_eq(resume_load(pa, 10, &r, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "holds no validation record"));
    bad.has_val = 1, bad.val_best_params = NULL;
    ck_assert_int_eq(weights_save_run(pa, na, &bad, &e), ST_OK);
    ck_assert_int_eq(resume_load(pa, 10, &r, &e), ST_ERR_FORMAT);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(na), net_free(nb);
    dataset_free(&train), dataset_free(&test), dataset_free(&val);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- version 2 files, written by the code before version 3 ---- */

#define V2 "tests/data/ckpt-v2"
#define V2_FLAGS                                                                                                       \
    "--model " V2 "/tiny.cfg --train-limit 2000 --val 300 --batch 4 --optim sgd --lr 0.02 --momentum 0.9 --nesterov " \
    "--weight-decay 1e-3 --decay-bias --l1 1e-5 --report-penalty --aug crop=2,flip,erase --lr-schedule step "        \
    "--lr-step 1 --lr-gamma 0.7 --warmup 1 --early-stop 2 --dropout 0.15,0.3 --seed 7 --no-progress"

/* What the reader makes of them: the settings of the flags above, the rates
 * in the model text, the position, early stopping's state from the log and
 * best-val.fmw. */
START_TEST(test_v2_settings_and_state)
{
    Net *net;
    CkptState ck;
    Err e;
    ck_assert_msg(weights_load_run(V2 "/mid/model.fmw", 0, &net, &ck, &e) == ST_OK, "%s", e.msg);
    ck_assert(ck.version == 2 && ck.has_progress && ck.has_optim && !ck.has_val);
    ck_assert(ck.epoch == 2 && ck.pos_batch == 65 && ck.step == 2 * 425 + 65 && ck.opt.t == 2 * 425 + 65);
    ck_assert_ptr_nonnull(strstr(net->spec.text, "dropout2d 0.15\nflatten              # 196\n"));
    ck_assert_ptr_nonnull(strstr(net->spec.text, "\ndropout 0.3\n"));
    ck_assert_ptr_nonnull(strstr(net->spec.text, "# A tiny model")); /* the text as it was, with the rates used */
    RunSettings s;
    ck_assert_msg(settings_read(V2 "/mid/model.fmw", &ck, &s, &e) == ST_OK, "%s", e.msg);
    const TrainConfig *t = &s.train;
    ck_assert_str_eq(s.model, V2 "/tiny.cfg");
    ck_assert(t->epochs == 4 && t->batch == 4 && t->seed == 7 && s.train_n == 1700 && s.val == 300);
    ck_assert(t->opt.kind == OPT_SGD && t->opt.lr == 0.02f && t->opt.momentum == 0.9f && t->opt.nesterov == 1);
    ck_assert(ck.opt.cfg.lr != 0.02f); /* OPTM's: the last step's rate, not the --lr */
    ck_assert(t->opt.weight_decay == 1e-3f && t->opt.decay_bias == 1 && t->opt.l1 == 1e-5f);
    ck_assert(t->opt.beta1 == 0.9f && t->opt.beta2 == 0.999f && t->opt.eps == 1e-8f);
    ck_assert(t->lr.kind == LRS_STEP && t->lr.base == 0.02f && t->lr.step == 1 && t->lr.gamma == 0.7f &&
              t->lr.warmup == 1 && t->lr.epochs == 4);
    ck_assert(t->aug.crop == 2 && t->aug.flip && t->aug.erase && t->early_stop == 2 && t->report_penalty == 1);
    weights_state_free(&ck);
    net_free(net);
    /* resume_load: the log's lowest validation loss (epoch 1 of 2, as the log rounds it) and best-val.fmw */
    ResumedRun r;
    ck_assert_msg(resume_load(V2 "/mid/model.fmw", 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert(r.progress.epoch == 2 && r.progress.batch == 65 && r.progress.right == r.ck.pos_right);
    ck_assert(r.progress.val.best_epoch == 1 && r.progress.val.best_loss == 1.213292);
    ck_assert_ptr_nonnull(r.progress.val.best_params);
    ck_assert(r.spec.train.opt.lr == 0.02f && r.spec.resume == &r.progress);
    resume_free(&r);
    ck_assert_msg(resume_load(V2 "/end/model.fmw", 4, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert(r.progress.epoch == 2 && r.progress.batch == 0 && r.spec.train.epochs == 4);
    resume_free(&r);
}
END_TEST

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* Resumed by the binary (the end-of-epoch one to --epochs 4, the mid-epoch
 * one to its own 4): both end with the log and weights of the uninterrupted
 * run, and are version 3 files then; export and eval give what the old code
 * gave. */
START_TEST(test_v2_resume_export_eval)
{
    char *dir = make_temp_dir(), args[4096], p[700];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 2100, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 200, 2), 0);
    snprintf(args, sizeof args, "cp -r " V2 "/mid " V2 "/end %s/", dir);
    ck_assert_int_eq(run_shell(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "train " V2_FLAGS " --data %s --epochs 4 --out %s/full", dir, dir);
    expect(args, 0, "epoch 4/4");
    snprintf(args, sizeof args, "train --resume %s/mid/model.fmw --data %s --no-progress", dir, dir);
    expect(args, 0, "in epoch 3 of 4, after batch 65 of 425");
    snprintf(args, sizeof args, "train --resume %s/end/model.fmw --epochs 4 --data %s --no-progress", dir, dir);
    expect(args, 0, "after epoch 2 of 4");
    snprintf(p, sizeof p, "%s/full/log.csv", dir);
    char *lf = read_all_or_fail(p, NULL);
    csv_strip_seconds(lf);
    Net *full;
    Err e;
    snprintf(p, sizeof p, "%s/full/model.fmw", dir);
    ck_assert_int_eq(weights_load(p, 1, &full, NULL, &e), ST_OK);
    const char *runs[2] = {"mid", "end"};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s/log.csv", dir, runs[k]);
        char *l = read_all_or_fail(p, NULL);
        csv_strip_seconds(l);
        ck_assert_str_eq(l, lf);
        free(l);
        Net *n;
        CkptState ck;
        snprintf(p, sizeof p, "%s/%s/model.fmw", dir, runs[k]);
        ck_assert_int_eq(weights_load_run(p, 0, &n, &ck, &e), ST_OK);
        ck_assert_int_eq(ck.version, 3);
        ck_assert_mem_eq(n->params, full->params, full->nparams * sizeof(float));
        weights_state_free(&ck);
        net_free(n);
    }
    free(lf);
    net_free(full);
    snprintf(args, sizeof args, "export --weights " V2 "/mid/model.fmw --format npz -o %s/mid.npz", dir);
    expect(args, 0, "11 tensors");
    snprintf(args, sizeof args, "cmp %s/mid.npz " V2 "/mid/model.npz", dir);
    ck_assert_msg(run_shell(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "eval --weights " V2 "/mid/model.fmw --data %s", dir);
    expect(args, 0, "test loss 1.0234 acc 50.00%");
    /* a version 2 run with early stopping needs best-val.fmw beside it, as before */
    snprintf(args, sizeof args, "cp " V2 "/mid/model.fmw %s/alone.fmw", dir);
    ck_assert_int_eq(run_shell(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "train --resume %s/alone.fmw --data %s --out %s/alone --no-progress", dir, dir, dir);
    expect(args, 1, "best-val.fmw");
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *trainer_suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *loop = tcase_create("loop"), *ck = tcase_create("checkpoint"), *v2 = tcase_create("v2");
    tcase_add_test(loop, test_progress_to_hooks_and_back);
    tcase_set_timeout(loop, 60);
    tcase_add_test(ck, test_settings_round_trip_and_refusals);
    tcase_add_test(ck, test_model_text_gets_the_rates);
    tcase_add_test(ck, test_val_record_in_the_checkpoint);
    tcase_set_timeout(ck, 120);
    tcase_add_test(v2, test_v2_settings_and_state);
    tcase_add_test(v2, test_v2_resume_export_eval);
    tcase_set_timeout(v2, 120);
    suite_add_tcase(s, loop);
    suite_add_tcase(s, ck);
    suite_add_tcase(s, v2);
    return s;
}
