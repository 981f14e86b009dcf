/* test_outputs.c - a command's paths and settings are checked before any
 * work (issue 12, items 2 and 8).
 *
 * An output never replaces an input: for every subcommand that writes
 * (train, train --resume, eval, sweep, plot, export; wd-demo's folder) an output that
 * is an input (the same file, whatever the spelling or link) or another
 * output is a usage error naming both, before any data is loaded or folder
 * created, and the input stays byte for byte. Everything checkable is checked
 * before training and before the run folder exists: the folder of --log,
 * --confusion and --errors, the test images' size, the model's output count
 * against the data's classes and against the 256 an IDX label can name (the
 * model file's line in the message). Through the binary ($FMNIST_BIN), on
 * small synthetic IDX files; file_same through the library. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "nn/net.h"
#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* fails the test unless the last output contains word */
static void says(const char *word)
{
    ck_assert_msg(strstr(out, word) != NULL, "output lacks '%s':\n%s", word, out);
}

static void says_not(const char *word)
{
    ck_assert_msg(strstr(out, word) == NULL, "output has '%s':\n%s", word, out);
}

static void put(const char *path, const void *data, size_t len)
{
    Err e;
    ck_assert_msg(file_write_atomic(path, data, len, &e) == ST_OK, "%s", e.msg);
}

static void put_text(const char *path, const char *text) { put(path, text, strlen(text)); }

/* A file's bytes, to check later that nothing changed them. */
typedef struct {
    char path[4096];
    char *data;
    size_t len;
} Snap;

static void snap(Snap *s, const char *path)
{
    snprintf(s->path, sizeof s->path, "%s", path);
    s->data = read_all_or_fail(path, &s->len);
}

static void unchanged(Snap *s)
{
    size_t len;
    char *now = read_all_or_fail(s->path, &len);
    ck_assert_msg(len == s->len && !memcmp(now, s->data, len), "%s was changed", s->path);
    free(now);
}

static void snap_free(Snap *s) { free(s->data); }

static void absent(const char *path) { ck_assert_msg(!file_exists(path), "%s was created", path); }

/* An IDX image file of n images of h x w and its label file (labels
 * i % nclasses) under dir/prefix-*. */
static void write_idx(const char *dir, const char *prefix, int n, int h, int w, int nclasses)
{
    size_t isz = 16 + (size_t)n * h * w, lsz = 8 + (size_t)n;
    unsigned char *im = calloc(1, isz), *lb = calloc(1, lsz);
    unsigned char ih[16] = {0, 0, 8, 3, 0, 0, (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 0, (unsigned char)h,
                            0, 0, 0, (unsigned char)w};
    unsigned char lh[8] = {0, 0, 8, 1, 0, 0, (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(im, ih, 16);
    memcpy(lb, lh, 8);
    for (size_t i = 16; i < isz; i++) im[i] = (unsigned char)(i * 37);
    for (int i = 0; i < n; i++) lb[8 + i] = (unsigned char)(i % nclasses);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    put(path, im, isz);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    put(path, lb, lsz);
    free(im);
    free(lb);
}

/* dir/data with 200 training and 50 test images of 10 classes */
static void write_data(const char *dir, char *data, size_t len)
{
    Err e;
    snprintf(data, len, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 200, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 50, 9), 0);
}

static const char MLP[] = "input 1x28x28\nflatten\ndense 16\nrelu\ndense 10\n";

/* A checkpoint of the small MLP (weights only) at path. */
static void write_checkpoint(const char *path)
{
    NetSpec cfg;
    Net *net;
    Err e;
    ck_assert_msg(cfg_parse_text("small.cfg", MLP, &cfg, &e) == ST_OK, "%s", e.msg);
    ck_assert_msg(net_build(&cfg, 8, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, 1);
    ck_assert_msg(weights_save(path, net, NULL, &e) == ST_OK, "%s", e.msg);
    net_free(net);
}

/* ---- file_same ---- */

START_TEST(test_file_same)
{
    char *dir = make_temp_dir();
    char a[600], b[600], lnk[600], hard[600], sub[600], p[1400], q[1400];
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(lnk, sizeof lnk, "%s/link.txt", dir);
    snprintf(hard, sizeof hard, "%s/hard.txt", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    put_text(a, "a");
    put_text(b, "a");
    ck_assert_int_eq(symlink("a.txt", lnk), 0);
    ck_assert_int_eq(link(a, hard), 0);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert(file_same(a, a));
    ck_assert(!file_same(a, b)); /* equal content is not the same file */
    ck_assert(file_same(a, lnk));
    ck_assert(file_same(hard, a));
    snprintf(p, sizeof p, "%s/./sub/../a.txt", dir);
    ck_assert(file_same(p, a));
    snprintf(p, sizeof p, "%s//a.txt", dir);
    ck_assert(file_same(a, p));
    /* neither exists yet: the same path once normalized */
    snprintf(p, sizeof p, "%s/new/x.csv", dir);
    snprintf(q, sizeof q, "%s/sub/../new//./x.csv", dir);
    ck_assert(file_same(p, q));
    snprintf(q, sizeof q, "%s/new/y.csv", dir);
    ck_assert(!file_same(p, q));
    /* through a linked folder */
    snprintf(p, sizeof p, "%s/sublink", dir);
    ck_assert_int_eq(symlink("sub", p), 0);
    snprintf(p, sizeof p, "%s/sublink/z.png", dir);
    snprintf(q, sizeof q, "%s/sub/z.png", dir);
    ck_assert(file_same(p, q));
    /* relative and absolute spellings */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert(file_same("a.txt", a));
    ck_assert(file_same("new/x.csv", q) == 0);
    snprintf(q, sizeof q, "%s/new/x.csv", dir);
    ck_assert(file_same("./new/x.csv", q));
    ck_assert_int_eq(chdir(cwd), 0);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 2: an output never replaces an input ---- */

START_TEST(test_plot_output_is_a_log)
{
    char *dir = make_temp_dir();
    char log[600], args[4096], want[1400], p[700];
    snprintf(log, sizeof log, "%s/log.csv", dir);
    put_text(log, "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,0.9,0.6,0.8,0.65,1.5\n"
                  "2,0.7,0.7,0.75,0.7,1.5\n");
    Snap s;
    snap(&s, log);
    snprintf(args, sizeof args, "plot %s -o %s", log, log);
    expect(args, 2, "fmnist plot: ");
    snprintf(want, sizeof want, "-o %s is also the log %s", log, log);
    says(want);
    /* another spelling, a link to it, and the second of two logs */
    snprintf(p, sizeof p, "%s/./log.csv", dir);
    snprintf(args, sizeof args, "plot %s -o %s", log, p);
    expect(args, 2, "is also the log");
    snprintf(p, sizeof p, "%s/link.png", dir);
    ck_assert_int_eq(symlink("log.csv", p), 0);
    snprintf(args, sizeof args, "plot %s %s --out %s", log, log, p);
    expect(args, 2, "is also the log");
    unchanged(&s);
    /* a real chart is still fine */
    snprintf(args, sizeof args, "plot %s -o %s/chart.png", log, dir);
    expect(args, 0, "wrote");
    snap_free(&s);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_export_and_eval_keep_the_checkpoint)
{
    char *dir = make_temp_dir();
    char ck[600], args[4096], want[1400], data[700];
    snprintf(ck, sizeof ck, "%s/model.fmw", dir);
    write_checkpoint(ck);
    write_data(dir, data, sizeof data);
    Snap s;
    snap(&s, ck);
    snprintf(args, sizeof args, "export --weights %s -o %s --format npz", ck, ck);
    expect(args, 2, "fmnist export: ");
    snprintf(want, sizeof want, "-o %s is also the checkpoint --weights %s", ck, ck);
    says(want);
    snprintf(args, sizeof args, "eval --weights %s --data %s --confusion %s", ck, data, ck);
    expect(args, 2, "fmnist eval: ");
    snprintf(want, sizeof want, "--confusion %s is also the checkpoint --weights %s", ck, ck);
    says(want);
    says_not("test loss"); /* refused before the evaluation */
    snprintf(args, sizeof args, "eval --weights %s --data %s --errors %s", ck, data, ck);
    expect(args, 2, "--errors");
    /* a data file, and two outputs on one file */
    snprintf(args, sizeof args, "eval --weights %s --data %s --errors %s/t10k-images-idx3-ubyte", ck, data, data);
    expect(args, 2, "is also the data file");
    snprintf(args, sizeof args, "eval --weights %s --data %s --confusion %s/x.png --errors %s/x.png", ck, data, dir,
             dir);
    expect(args, 2, "--errors");
    snprintf(want, sizeof want, "is also --confusion %s/x.png", dir);
    says(want);
    snprintf(want, sizeof want, "%s/x.png", dir);
    absent(want);
    unchanged(&s);
    /* and when nothing collides, they work */
    snprintf(args, sizeof args, "export --weights %s -o %s/m.npz", ck, dir);
    expect(args, 0, "wrote");
    snap_free(&s);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_train_outputs_against_inputs)
{
    char *dir = make_temp_dir();
    char model[600], run[600], data[700], args[4096], want[2000], p[1400];
    write_data(dir, data, sizeof data);
    snprintf(model, sizeof model, "%s/small.cfg", dir);
    put_text(model, MLP);
    snprintf(run, sizeof run, "%s/run", dir);
    Snap s;
    snap(&s, model);
    const char *common = "train --epochs 1 --no-progress --model %s --data %s --out %s";
    /* the log on the checkpoint (or best.fmw, with a validation set) this very run writes */
    snprintf(args, sizeof args, "%s --log %s/model.fmw", common, run);
    char full[4096];
    snprintf(full, sizeof full, args, model, data, run);
    expect(full, 2, "fmnist train: ");
    snprintf(want, sizeof want, "--log %s/model.fmw is also the checkpoint %s/model.fmw this run writes", run, run);
    says(want);
    absent(run);
    snprintf(args, sizeof args, "%s --val 50 --log %s/./best.fmw", common, run);
    snprintf(full, sizeof full, args, model, data, run);
    expect(full, 2, "is also the best checkpoint");
    absent(run);
    /* the log on the model file, even with --overwrite: no hint to add it */
    snprintf(args, sizeof args, "%s --log %s --overwrite", common, model);
    snprintf(full, sizeof full, args, model, data, run);
    expect(full, 2, "fmnist train: ");
    snprintf(want, sizeof want, "--log %s is also the model file --model %s", model, model);
    says(want);
    says_not("add --overwrite");
    absent(run);
    unchanged(&s);
    /* the log on a data file */
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", data);
    Snap d;
    snap(&d, p);
    snprintf(args, sizeof args, "%s --log %s", common, p);
    snprintf(full, sizeof full, args, model, data, run);
    expect(full, 2, "is also the data file");
    unchanged(&d);
    absent(run);
    /* --out on the data folder: log.csv there is fine, but not over an input */
    snprintf(full, sizeof full, "train --epochs 1 --no-progress --model %s --data %s --out %s --log %s", model, data,
             data, model);
    expect(full, 2, "is also the model file");
    unchanged(&s);
    snap_free(&s);
    snap_free(&d);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_resume_sweep_and_wddemo_outputs)
{
    char *dir = make_temp_dir();
    char model[600], run[600], data[700], args[4096], want[2000], p[1400];
    write_data(dir, data, sizeof data);
    snprintf(model, sizeof model, "%s/small.cfg", dir);
    put_text(model, "input 1x28x28\nflatten\ndense 16\nrelu\ndropout 0.2\ndense 10\n");
    snprintf(run, sizeof run, "%s/run", dir);
    /* a finished one-epoch run to resume (with a validation set: it writes best.fmw) */
    snprintf(args, sizeof args, "train --epochs 1 --batch 50 --val 50 --no-progress --model %s --data %s --out %s",
             model, data, run);
    expect(args, 0, "saved");
    /* resuming best.fmw in its own folder would write over it (and over model.fmw) */
    snprintf(p, sizeof p, "%s/best.fmw", run);
    Snap s;
    snap(&s, p);
    snprintf(args, sizeof args, "train --resume %s --epochs 2 --no-progress --data %s", p, data);
    expect(args, 2, "fmnist train: ");
    snprintf(want, sizeof want, "is also the checkpoint --resume %s", p);
    says(want);
    says_not("epoch 2/2");
    unchanged(&s);
    snap_free(&s);
    /* resuming model.fmw in place is what --resume is for */
    snprintf(args, sizeof args, "train --resume %s/model.fmw --epochs 2 --no-progress --data %s", run, data);
    expect(args, 0, "epoch 2/2");
    /* sweep: an output of the sweep on its model file */
    char sweep[700], m2[800];
    snprintf(sweep, sizeof sweep, "%s/sweep", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(sweep, &e), ST_OK);
    snprintf(m2, sizeof m2, "%s/summary.md", sweep);
    put_text(m2, "input 1x28x28\nflatten\ndense 16\nrelu\ndropout 0.2\ndense 10\n");
    snap(&s, m2);
    snprintf(args, sizeof args, "sweep --model %s --dropout 0 --dropout 0.5 --epochs 1 --data %s --out %s", m2, data,
             sweep);
    expect(args, 2, "fmnist sweep: ");
    snprintf(want, sizeof want, "%s/summary.md is also the model file --model %s", sweep, m2);
    says(want);
    snprintf(want, sizeof want, "%s/dropout0", sweep);
    absent(want);
    unchanged(&s);
    snap_free(&s);
    /* wd-demo: its folder is a file (its names are fixed now: one figure, one CSV) */
    snap(&s, model);
    snprintf(args, sizeof args, "wd-demo --lambda 0 --out %s", model);
    expect(args, 1, "is not a folder");
    unchanged(&s);
    snap_free(&s);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 8: everything checkable before the work ---- */

START_TEST(test_output_folders_checked_first)
{
    char *dir = make_temp_dir();
    char model[600], run[600], data[700], args[4096], want[2000], ck[700];
    write_data(dir, data, sizeof data);
    snprintf(model, sizeof model, "%s/small.cfg", dir);
    put_text(model, MLP);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args, "train --epochs 1 --no-progress --model %s --data %s --out %s --log %s/none/log.csv",
             model, data, run, dir);
    expect(args, 1, "fmnist: error: ");
    snprintf(want, sizeof want, "%s/none", dir);
    says(want);
    says("--log");
    says_not("epoch 1/1");
    absent(run);
    /* the run creates --out, not a folder inside it */
    snprintf(args, sizeof args, "train --epochs 1 --no-progress --model %s --data %s --out %s --log %s/sub/log.csv",
             model, data, run, run);
    expect(args, 1, "does not exist");
    absent(run);
    /* a --log that is a folder */
    snprintf(args, sizeof args, "train --epochs 1 --no-progress --model %s --data %s --out %s --log %s", model, data,
             run, data);
    expect(args, 1, "is a folder");
    absent(run);
    /* eval's pictures */
    snprintf(ck, sizeof ck, "%s/model.fmw", dir);
    write_checkpoint(ck);
    snprintf(args, sizeof args, "eval --weights %s --data %s --confusion %s/none/c.png", ck, data, dir);
    expect(args, 1, "--confusion");
    says_not("test loss");
    snprintf(args, sizeof args, "eval --weights %s --data %s --errors %s/none/e.png", ck, data, dir);
    expect(args, 1, "--errors");
    says_not("test loss");
    snprintf(want, sizeof want, "%s/none", dir);
    absent(want);
    /* export and plot too */
    snprintf(args, sizeof args, "export --weights %s -o %s/none/m.onnx", ck, dir);
    expect(args, 1, "-o");
    snprintf(want, sizeof want, "%s/none", dir);
    says(want);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_data_and_model_checked_before_the_folder)
{
    char *dir = make_temp_dir();
    char model[600], run[600], data[700], args[4096], want[2000];
    snprintf(data, sizeof data, "%s/data", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    write_idx(data, "train", 100, 28, 28, 10);
    write_idx(data, "t10k", 20, 27, 27, 10); /* test images of another size */
    snprintf(model, sizeof model, "%s/small.cfg", dir);
    put_text(model, MLP);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args, "train --epochs 1 --no-progress --model %s --data %s --out %s", model, data, run);
    expect(args, 1, "test images are 1x27x27");
    absent(run);
    /* the last layer's outputs against the data's 10 classes */
    write_idx(data, "t10k", 20, 28, 28, 10);
    snprintf(model, sizeof model, "%s/five.cfg", dir);
    put_text(model, "input 1x28x28\nflatten\ndense 16\nrelu\ndense 5\n");
    snprintf(args, sizeof args, "train --epochs 1 --no-progress --model %s --data %s --out %s", model, data, run);
    expect(args, 1, "fmnist: error: ");
    snprintf(want, sizeof want, "%s:5: ", model);
    says(want);
    says("5 outputs");
    says("10 classes");
    says_not("labels-idx1"); /* the model is at fault, not the labels */
    absent(run);
    /* a last layer of more outputs than byte labels can name */
    snprintf(model, sizeof model, "%s/wide.cfg", dir);
    put_text(model, "input 1x28x28\nflatten\ndense 257\n");
    snprintf(args, sizeof args, "train --epochs 1 --no-progress --model %s --data %s --out %s", model, data, run);
    expect(args, 1, "fmnist: error: ");
    snprintf(want, sizeof want, "%s:3: ", model);
    says(want);
    says("257 outputs");
    absent(run);
    /* eval of a 5-class checkpoint on 10-class data names the checkpoint */
    char ck[700];
    snprintf(ck, sizeof ck, "%s/five.fmw", dir);
    NetSpec cfg;
    Net *net;
    ck_assert_int_eq(cfg_parse_text("five.cfg", "input 1x28x28\nflatten\ndense 5\n", &cfg, &e), ST_OK);
    ck_assert_int_eq(net_build(&cfg, 8, &net, &e), ST_OK);
    net_init(net, 1);
    ck_assert_int_eq(weights_save(ck, net, NULL, &e), ST_OK);
    net_free(net);
    snprintf(args, sizeof args, "eval --weights %s --data %s", ck, data);
    expect(args, 1, ck);
    says("5 outputs");
    says_not("labels-idx1");
    /* sweep: no setting's folder before the data is checked */
    write_idx(data, "t10k", 20, 27, 27, 10);
    snprintf(model, sizeof model, "%s/small.cfg", dir);
    snprintf(args, sizeof args, "sweep --model %s --weight-decay 0 --epochs 1 --no-progress --data %s --out %s", model,
             data, run);
    expect(args, 1, "test images are 1x27x27");
    snprintf(want, sizeof want, "%s/base", run);
    absent(want);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *outputs_suite(void)
{
    Suite *s = suite_create("outputs");
    TCase *lib = tcase_create("library"), *cli = tcase_create("cli");
    tcase_add_test(lib, test_file_same);
    tcase_add_test(cli, test_plot_output_is_a_log);
    tcase_add_test(cli, test_export_and_eval_keep_the_checkpoint);
    tcase_add_test(cli, test_train_outputs_against_inputs);
    tcase_add_test(cli, test_resume_sweep_and_wddemo_outputs);
    tcase_add_test(cli, test_output_folders_checked_first);
    tcase_add_test(cli, test_data_and_model_checked_before_the_folder);
    tcase_set_timeout(cli, 120);
    suite_add_tcase(s, lib);
    suite_add_tcase(s, cli);
    return s;
}
