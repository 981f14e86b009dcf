/* test_display.c - every setting on display, and best.fmw chosen by
 * validation only (issue 14, items 3 and 6).
 *
 * settings_describe's words for hand-made settings (coupled and decoupled
 * weight decay, L1, the decay of biases, augmentation, schedule, warm-up,
 * early stopping, validation) and its 100 columns; through the binary: the
 * run header and the layer table of a real run (Fashion-MNIST, 2000 images,
 * 2 epochs; skipped visibly without it) show every setting and the dropout
 * rates; `eval` first says what it evaluates; `info` summarizes a
 * checkpoint (layers, settings, progress, the chosen epoch, the per-epoch
 * figures), a weights-only file, a version 2 file, and refuses malformed
 * ones naming them; a --dropout override is in the checkpoint's model text.
 * On synthetic data: best.fmw holds the first epoch of the lowest
 * validation loss of log.csv, no best.fmw without a validation set, and
 * best.fmw's weights and epoch do not depend on the test set (the same run
 * with the test labels permuted). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "report/curve.h"
#include "testutil.h"
#include "train/run.h"
#include "train/settings.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* Fails unless text contains each of words[0..n). */
static void has_all(const char *text, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++) ck_assert_msg(strstr(text, words[i]) != NULL, "lacks '%s' in:\n%s", words[i], text);
}

/* Fails if a line of text from..to (NULL: its end) is wider than cols. */
static void lines_within(const char *from, const char *to, int cols)
{
    for (const char *p = from; *p && (!to || p < to);) {
        size_t n = strcspn(p, "\n");
        ck_assert_msg((int)n <= cols, "a line of %zu columns: '%.*s'", n, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static Net *mlp_net(const float *dropout, int nd)
{
    Net *net;
    Err e;
    ck_assert_msg(run_build_net("models/mlp.cfg", dropout, nd, 4, &net, &e) == ST_OK, "%s", e.msg);
    return net;
}

/* The words, exactly, for two sets of settings. */
START_TEST(test_describe_words)
{
    RunSettings s;
    settings_defaults(&s);
    snprintf(s.model, sizeof s.model, "models/mlp.cfg");
    s.train.epochs = 10, s.train.batch = 128, s.train.seed = 3, s.train_n = 55000, s.val = 5000;
    s.train.opt.kind = OPT_SGD, s.train.opt.lr = 0.05f, s.train.opt.momentum = 0.9f, s.train.opt.nesterov = 1;
    s.train.opt.weight_decay = 5e-4f, s.train.opt.l1 = 1e-5f;
    s.train.lr = (LrSchedule){.kind = LRS_STEP, .base = 0.05f, .warmup = 2, .step = 3, .gamma = 0.5f, .epochs = 10};
    s.train.aug.crop = 2, s.train.aug.flip = 1;
    s.train.early_stop = 3;
    Net *net = mlp_net((const float[]){0.25f, 0.5f}, 2);
    Buf b = {0};
    settings_describe(&s, net, &b);
    buf_put(&b, "", 1);
    ck_assert_str_eq(b.data,
                     "training: optimizer sgd, lr 0.05, momentum 0.9 (Nesterov); batch 128; 10 epochs; seed 3;\n"
                     "  55000 training images per epoch\n"
                     "regularization: dropout 0.25 (#3); dropout 0.5 (#6);\n"
                     "  weight decay 0.0005 coupled (L2 in the gradient); L1 1e-05; biases not decayed;\n"
                     "  augmentation crop=2,flip; early stopping after 3 epochs without a lower validation loss\n"
                     "learning rate: step schedule, x0.5 every 3 epochs; linear warm-up over 2 epochs\n"
                     "validation: 5000 training images held out (drawn with seed 3); its lowest loss chooses "
                     "best.fmw\n");
    lines_within(b.data, NULL, 100);
    /* adamw: decoupled; no L1, no val, no augmentation, biases decayed; no net: no dropout phrase */
    settings_defaults(&s);
    s.train.epochs = 1, s.train.batch = 64, s.train.seed = 1, s.train_n = 2000;
    s.train.opt.kind = OPT_ADAMW, s.train.opt.lr = 1e-3f, s.train.opt.weight_decay = 0.01f;
    s.train.opt.decay_bias = 1;
    s.train.lr = (LrSchedule){.kind = LRS_COSINE, .base = 1e-3f, .epochs = 1};
    b.len = 0;
    settings_describe(&s, NULL, &b);
    buf_put(&b, "", 1);
    ck_assert_str_eq(b.data, "training: optimizer adamw, lr 0.001; batch 64; 1 epoch; seed 1; 2000 training images "
                             "per epoch\n"
                             "regularization: weight decay 0.01 decoupled (AdamW); no L1; biases decayed; no "
                             "augmentation;\n"
                             "  no early stopping\n"
                             "learning rate: cosine schedule to 0 over 1 epoch; no warm-up\n"
                             "validation: none (no --val): no epoch is chosen, no best.fmw is written\n");
    buf_free(&b);
    net_free(net);
}
END_TEST

#define REAL_FLAGS                                                                                                     \
    "--train-limit 2000 --epochs 2 --no-progress --val 200 --optim adamw --weight-decay 1e-4 --l1 1e-5 "              \
    "--decay-bias --aug crop=2,flip --lr-schedule step --lr-step 1 --lr-gamma 0.5 --warmup 1 --early-stop 3 "       \
    "--dropout 0.2,0.4 --seed 4"

/* The run header of a real run: the table with dropout rates, every
 * setting in words, the data folder; then eval's and info's first lines. */
START_TEST(test_header_eval_info)
{
    if (!have_real_data()) {
        printf("skipped: test_header_eval_info (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir(), args[4096], p[700];
    snprintf(args, sizeof args, "train " REAL_FLAGS " --out %s/run", dir);
    expect(args, 0, "epoch 2/2");
    const char *header[] = {
        "1800 training and 10000 test images of 28x28, 10 classes, from ", /* the data folder follows */
        "3    dropout p=0.2 ",
        "6    dropout p=0.4 ",
        "training: optimizer adamw, lr 0.001; batch 128 in micro-batches of 32; 2 epochs; seed 4;\n"
        "  1800 training images per epoch\n",
        "regularization: dropout 0.2 (#3); dropout 0.4 (#6); weight decay 0.0001 decoupled (AdamW); L1 1e-05;\n",
        "  biases decayed; augmentation crop=2,flip;\n  early stopping after 3 epochs without a lower validation loss\n",
        "learning rate: step schedule, x0.5 every 1 epoch; linear warm-up over 1 epoch\n",
        "validation: 200 training images held out (drawn with seed 4); its lowest loss chooses best.fmw\n",
    };
    has_all(out, header, sizeof header / sizeof header[0]);
    lines_within(out, strstr(out, "epoch 1/2"), 100);
    ck_assert_ptr_null(strstr(out, "best-val.fmw"));
    /* the lowest validation loss of the log: the chosen epoch */
    Curve c;
    Err e;
    snprintf(p, sizeof p, "%s/run/log.csv", dir);
    ck_assert_int_eq(curve_read(p, &c, &e), ST_OK);
    ck_assert_int_eq(c.n, 2);
    int chosen = c.val_loss[1] < c.val_loss[0] ? 2 : 1;
    char want[200];
    snprintf(want, sizeof want, "chosen by validation: epoch %d (validation loss %.4f, the lowest)", chosen,
             c.val_loss[chosen - 1]);

    /* eval: what it evaluates, before the figures */
    snprintf(args, sizeof args, "eval --weights %s/run/model.fmw", dir);
    expect(args, 0, "test loss");
    char first[900];
    snprintf(first, sizeof first,
             "evaluating %s/run/model.fmw: an fmnist checkpoint (version 3) of models/mlp.cfg, 8 layers, "
             "235146 parameters\nprogress: finished, 2 of 2 epochs\n",
             dir);
    ck_assert_msg(!strncmp(out, first, strlen(first)), "eval starts:\n%.400s", out);
    ck_assert_ptr_nonnull(strstr(out, want));
    ck_assert_ptr_nonnull(strstr(out, header[4]));
    ck_assert(strstr(out, header[4]) < strstr(out, "test loss"));

    /* info: the summary of the checkpoint */
    snprintf(args, sizeof args, "info %s/run/model.fmw", dir);
    expect(args, 0, "total parameters: 235146\n");
    const char *info[] = {"#    layer              output               params\n",
                          "3    dropout p=0.2      256                       0\n",
                          "7    dense              10                     1290\n",
                          header[3],
                          header[4],
                          header[7],
                          "progress: finished, 2 of 2 epochs\n",
                          want,
                          "epoch  train loss  train acc  test loss  test acc  val loss  val acc  seconds\n"};
    has_all(out, info, sizeof info / sizeof info[0]);
    lines_within(strchr(out, '\n') + 1, NULL, 100); /* after the first line, which names the file */
    /* the rows of the log, the chosen one marked */
    for (int i = 0; i < 2; i++) {
        snprintf(want, sizeof want, "%5d  %10.4f  %8.2f%%  %9.4f  %7.2f%%  %8.4f  %6.2f%%", i + 1, c.train_loss[i],
                 100 * c.train_acc[i], c.test_loss[i], 100 * c.test_acc[i], c.val_loss[i], 100 * c.val_acc[i]);
        const char *row = strstr(out, want);
        ck_assert_msg(row != NULL, "lacks the row '%s':\n%s", want, out);
        const char *mark = strstr(row, "<- chosen (validation)");
        int marked = mark && mark < strchr(row, '\n');
        ck_assert_int_eq(marked, i + 1 == chosen);
    }
    curve_free(&c);
    /* best.fmw: these are the chosen epoch's weights */
    snprintf(args, sizeof args, "info %s/run/best.fmw", dir);
    expect(args, 0, "; these are its weights\n");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A weights-only file, a version 2 file, malformed and missing files. */
START_TEST(test_info_other_files)
{
    char *dir = make_temp_dir(), args[4096], p[700], want[900];
    Err e;
    Net *net = mlp_net(NULL, 0);
    snprintf(p, sizeof p, "%s/w.fmw", dir);
    ck_assert_int_eq(weights_save(p, net, NULL, &e), ST_OK);
    snprintf(args, sizeof args, "info %s", p);
    expect(args, 0, "total parameters: 235146\n");
    const char *only[] = {"3    dropout p=0.3 ", "settings: none recorded (weights only)",
                          "progress: none recorded (weights only: not resumable)\n",
                          "chosen by validation: nothing (no validation set",
                          "per-epoch figures: none (the file holds no log)\n"};
    has_all(out, only, sizeof only / sizeof only[0]);
    /* settings this fmnist cannot read: a malformed file, named */
    ck_assert_int_eq(weights_save(p, net, "mystery=1\n", &e), ST_OK);
    expect(args, 1, "setting 'mystery' is not known");
    snprintf(want, sizeof want, "fmnist: error: %s: settings line 1:", p);
    ck_assert_msg(strstr(out, want) != NULL, "lacks '%s':\n%s", want, out);
    ck_assert_ptr_null(strstr(out, "total parameters"));
    /* eval evaluates it all the same, saying why the settings are not shown */
    char data[700];
    snprintf(data, sizeof data, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 50, 2), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 50, 1), 0);
    snprintf(args, sizeof args, "eval --weights %s --data %s", p, data);
    expect(args, 0, "test loss");
    snprintf(want, sizeof want, "settings: not readable (%s: settings line 1: setting 'mystery' is not known", p);
    ck_assert_msg(strstr(out, want) != NULL && strstr(out, want) < strstr(out, "test loss"), "lacks '%s':\n%s", want,
                  out);
    net_free(net);
    /* truncated: the reader's error, naming the file */
    snprintf(args, sizeof args, "head -c 200 tests/data/ckpt-v2/end/model.fmw > %s/cut.fmw", dir);
    ck_assert_int_eq(run_shell(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "info %s/cut.fmw", dir);
    expect(args, 1, NULL);
    snprintf(want, sizeof want, "fmnist: error: %s/cut.fmw: ", dir);
    ck_assert_msg(strstr(out, want) != NULL, "lacks '%s':\n%s", want, out);
    snprintf(args, sizeof args, "info %s/none.fmw", dir);
    expect(args, 1, "none.fmw: cannot open");
    expect("info README.md", 1, "README.md: not an fmnist checkpoint");
    expect("info", 2, "expected one checkpoint file");
    expect("help info", 0, "usage: fmnist info FILE.fmw");
    expect("help", 0, "  info ");
    /* version 2, saved mid-epoch: its settings, position and the log's lowest validation loss */
    expect("info tests/data/ckpt-v2/mid/model.fmw", 0, "(version 2) of tests/data/ckpt-v2/tiny.cfg");
    const char *v2[] = {"4    dropout2d p=0.15 ", "8    dropout p=0.3 ",
                        "training: optimizer sgd, lr 0.02, momentum 0.9 (Nesterov); batch 4; 4 epochs; seed 7;\n",
                        "progress: 2 of 4 epochs done, then batch 65 of 425 of epoch 3 (interrupted",
                        "chosen by validation: epoch 1 (validation loss 1.2133, the lowest)\n",
                        "    1      1.7293     30.65%     1.1870    48.00%    1.2133   43.00%"};
    has_all(out, v2, sizeof v2 / sizeof v2[0]);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Writes the synthetic data of these tests into dir: 600 training and 200
 * test images (raw IDX files). */
static void synthetic_folder(const char *dir)
{
    Err e;
    ck_assert_int_eq(file_mkdirs(dir, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 600, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 200, 2), 0);
}

#define SYN_FLAGS "--batch 50 --lr 0.02 --no-progress --threads 1"

/* The first epoch of the lowest val_loss in a log.csv. */
static int lowest_val_epoch(const char *log)
{
    Curve c;
    Err e;
    ck_assert_msg(curve_read(log, &c, &e) == ST_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(c.val_loss);
    int best = 0;
    for (int i = 1; i < c.n; i++)
        if (c.val_loss[i] < c.val_loss[best]) best = i;
    int epoch = c.epoch[best];
    curve_free(&c);
    return epoch;
}

/* With --val: best.fmw holds the epoch of the lowest validation loss of
 * log.csv (and early stopping's best is best.fmw); without: no best.fmw,
 * and no epoch line says "best". */
START_TEST(test_best_by_validation)
{
    char *dir = make_temp_dir(), data[600], args[4096], p[700];
    snprintf(data, sizeof data, "%s/data", dir);
    synthetic_folder(data);
    /* a high rate makes the validation loss bounce: early stopping after 1 epoch */
    snprintf(args, sizeof args, "train --data %s " SYN_FLAGS " --val 100 --early-stop 1 --epochs 8 --out %s/v", data,
             dir);
    expect(args, 0, "early stop: no lower validation loss in 1 epoch; best.fmw holds epoch ");
    snprintf(p, sizeof p, "%s/v/log.csv", dir);
    int best = lowest_val_epoch(p);
    snprintf(p, sizeof p, "%s/v/best.fmw", dir);
    Net *net;
    CkptState ck;
    Err e;
    ck_assert_msg(weights_load_run(p, 0, &net, &ck, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(ck.epoch, best);
    ck_assert_int_eq(ck.val_best_epoch, best);
    weights_state_free(&ck);
    net_free(net);
    snprintf(p, sizeof p, "%s/v/best-val.fmw", dir);
    ck_assert(!file_exists(p));
    /* info of the run: stopped early, the chosen epoch */
    snprintf(args, sizeof args, "info %s/v/model.fmw", dir);
    expect(args, 0, "progress: stopped early after epoch");
    char want[200];
    snprintf(want, sizeof want, "chosen by validation: epoch %d (validation loss", best);
    ck_assert_msg(strstr(out, want) != NULL, "lacks '%s':\n%s", want, out);
    ck_assert_ptr_nonnull(strstr(out, "early stopping after 1 epoch without a lower validation loss"));
    /* without a validation set */
    snprintf(args, sizeof args, "train --data %s " SYN_FLAGS " --epochs 2 --out %s/n", data, dir);
    expect(args, 0, "epoch 2/2");
    snprintf(p, sizeof p, "%s/n/best.fmw", dir);
    ck_assert(!file_exists(p));
    for (const char *l = out; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
        char line[300];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
        ck_assert_msg(strncmp(line, "epoch ", 6) || !strstr(line, "best"), "an epoch line says best: %s", line);
    }
    ck_assert_ptr_nonnull(strstr(out, "validation: none (no --val): no epoch is chosen, no best.fmw is written\n"));
    snprintf(args, sizeof args, "info %s/n/model.fmw", dir);
    expect(args, 0, "chosen by validation: nothing (no validation set; the test set chooses nothing)\n");
    ck_assert_ptr_null(strstr(out, "<- chosen"));
    rm_tree(dir);
    free(dir);
}
END_TEST

/* best.fmw does not depend on the test set: the same run on a copy of the
 * data whose test labels are all changed (class c -> c+1 mod 10) writes a
 * best.fmw of the same epoch and the same weights, while its test figures
 * differ. */
START_TEST(test_best_ignores_the_test_set)
{
    char *dir = make_temp_dir(), a[600], b[600], args[4096], p[700], q[700];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    synthetic_folder(a);
    synthetic_folder(b);
    size_t len;
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", b);
    char *labels = read_all_or_fail(p, &len);
    ck_assert_int_eq((int)len, 8 + 200);
    for (size_t i = 8; i < len; i++) labels[i] = (char)((labels[i] + 1) % 10);
    Err e;
    ck_assert_int_eq(file_write_atomic(p, labels, len, &e), ST_OK);
    free(labels);
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "train --data %s " SYN_FLAGS " --val 100 --epochs 5 --out %s/run", k ? b : a,
                 k ? b : a);
        expect(args, 0, "epoch 5/5");
    }
    snprintf(p, sizeof p, "%s/run/log.csv", a);
    snprintf(q, sizeof q, "%s/run/log.csv", b);
    Curve ca, cb;
    ck_assert_int_eq(curve_read(p, &ca, &e), ST_OK);
    ck_assert_int_eq(curve_read(q, &cb, &e), ST_OK);
    for (int i = 0; i < ca.n; i++) { /* the same training and validation, other test figures */
        ck_assert(ca.train_loss[i] == cb.train_loss[i] && ca.val_loss[i] == cb.val_loss[i]);
        ck_assert(ca.test_acc[i] != cb.test_acc[i]);
    }
    curve_free(&ca), curve_free(&cb);
    Net *na, *nb;
    CkptState sa, sb;
    snprintf(p, sizeof p, "%s/run/best.fmw", a);
    snprintf(q, sizeof q, "%s/run/best.fmw", b);
    ck_assert_msg(weights_load_run(p, 0, &na, &sa, &e) == ST_OK, "%s", e.msg);
    ck_assert_msg(weights_load_run(q, 0, &nb, &sb, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(sa.epoch, sb.epoch);
    ck_assert_int_eq(sa.val_best_epoch, sb.val_best_epoch);
    ck_assert(sa.val_best == sb.val_best);
    ck_assert_int_eq((int)na->nparams, (int)nb->nparams);
    ck_assert_mem_eq(na->params, nb->params, na->nparams * sizeof(float));
    ck_assert_str_eq(sa.settings, sb.settings);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(na), net_free(nb);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* train --dropout writes the rates into the checkpoint's model text (not
 * only its settings), which info's layer table and eval's net then use. */
START_TEST(test_dropout_override_in_the_model_text)
{
    char *dir = make_temp_dir(), data[600], args[4096], p[700];
    snprintf(data, sizeof data, "%s/data", dir);
    synthetic_folder(data);
    snprintf(args, sizeof args, "train --data %s " SYN_FLAGS " --epochs 1 --dropout 0.15,0.35 --out %s/run", data,
             dir);
    expect(args, 0, "dropout 0.15 (#3); dropout 0.35 (#6)");
    snprintf(p, sizeof p, "%s/run/model.fmw", dir);
    Net *net;
    char *set;
    Err e;
    ck_assert_msg(weights_load(p, 1, &net, &set, &e) == ST_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(net->spec.text, "\ndropout 0.15\n"));
    ck_assert_ptr_nonnull(strstr(net->spec.text, "\ndropout 0.35\n"));
    ck_assert_ptr_null(strstr(net->spec.text, "dropout 0.3\n"));
    ck_assert_ptr_nonnull(strstr(net->spec.text, "# The product's MLP")); /* the file's text, comments kept */
    ck_assert(net->layers[3].spec.p == 0.15f && net->layers[6].spec.p == 0.35f);
    ck_assert_ptr_null(strstr(set, "dropout")); /* the rates live in the model text only */
    free(set);
    net_free(net);
    snprintf(args, sizeof args, "info %s", p);
    expect(args, 0, "3    dropout p=0.15     256 ");
    ck_assert_ptr_nonnull(strstr(out, "6    dropout p=0.35     128 "));
    ck_assert_ptr_nonnull(strstr(out, "regularization: dropout 0.15 (#3); dropout 0.35 (#6);"));
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *display_suite(void)
{
    Suite *s = suite_create("display");
    TCase *tc = tcase_create("display");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_describe_words);
    tcase_add_test(tc, test_header_eval_info);
    tcase_add_test(tc, test_info_other_files);
    tcase_add_test(tc, test_best_by_validation);
    tcase_add_test(tc, test_best_ignores_the_test_set);
    tcase_add_test(tc, test_dropout_override_in_the_model_text);
    suite_add_tcase(s, tc);
    return s;
}
