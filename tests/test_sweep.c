/* test_sweep.c - `fmnist sweep` and the commands around it: the cross
 * product and its names, repeatable flags, the run-folder states (empty,
 * partial, finished, other settings), the results table; then, with the real
 * binary on a small IDX data set this file writes: a sweep, its re-run that
 * skips finished runs and retrains an unfinished one, a refusal to mix
 * settings, `train`'s curves.png, `plot`, and `eval --confusion --errors --mc`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "testutil.h"
#include "train/sweep.h"
#include "util/fileio.h"

START_TEST(test_number_names)
{
    struct {
        double v;
        const char *want;
    } cases[] = {{0, "0"}, {0.3, "0.3"}, {0.5, "0.5"}, {1e-4, "1e-4"}, {5e-4, "5e-4"}, {0.001, "1e-3"},
                 {0.01, "0.01"}, {0.25, "0.25"}, {1, "1"}, {100, "100"}, {1e-5, "1e-5"}, {3e6, "3e6"}};
    char buf[48];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sweep_format_number(cases[i].v, buf, sizeof buf);
        ck_assert_msg(!strcmp(buf, cases[i].want), "%g -> '%s', want '%s'", cases[i].v, buf, cases[i].want);
    }
    sweep_format_number((double)1e-4f, buf, sizeof buf); /* a float's value reads the same */
    ck_assert_str_eq(buf, "1e-4");
    sweep_format_number((double)0.3f, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.3");
}
END_TEST

START_TEST(test_cross_product)
{
    FloatList d[3] = {{2, {0, 0}}, {2, {0.3f, 0.5f}}, {2, {0.5f, 0.5f}}};
    float wd[2] = {0, 1e-4f};
    SweepPoint pts[SWEEP_MAX_RUNS];
    int n;
    Err e;
    ck_assert_int_eq(sweep_plan(d, 3, wd, 2, pts, SWEEP_MAX_RUNS, &n, &e), ST_OK);
    ck_assert_int_eq(n, 6);
    const char *names[6] = {"dropout0-0_wd0",       "dropout0-0_wd1e-4",     "dropout0.3-0.5_wd0",
                            "dropout0.3-0.5_wd1e-4", "dropout0.5-0.5_wd0", "dropout0.5-0.5_wd1e-4"};
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(pts[i].name, names[i]);
        ck_assert_int_eq(pts[i].ndropout, 2);
        ck_assert_float_eq(pts[i].dropout[1], d[i / 2].v[1]);
        ck_assert(pts[i].has_wd);
        ck_assert_float_eq(pts[i].wd, wd[i % 2]);
    }
    /* one axis only: it alone names the runs; the other stays at its base */
    ck_assert_int_eq(sweep_plan(d, 3, NULL, 0, pts, SWEEP_MAX_RUNS, &n, &e), ST_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(pts[1].name, "dropout0.3-0.5");
    ck_assert(!pts[1].has_wd);
    ck_assert_int_eq(sweep_plan(NULL, 0, wd, 2, pts, SWEEP_MAX_RUNS, &n, &e), ST_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(pts[1].name, "wd1e-4");
    ck_assert_int_eq(pts[1].ndropout, 0);
    /* errors */
    ck_assert_int_eq(sweep_plan(NULL, 0, NULL, 0, pts, SWEEP_MAX_RUNS, &n, &e), ST_ERR_ARG);
    ck_assert_int_eq(sweep_plan(d, 3, wd, 2, pts, 5, &n, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "6 runs"));
    FloatList same[2] = {{1, {0.3f}}, {1, {0.3f}}};
    ck_assert_int_eq(sweep_plan(same, 2, NULL, 0, pts, SWEEP_MAX_RUNS, &n, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "dropout0.3 is given twice"));
}
END_TEST

START_TEST(test_repeatable_flag)
{
    FloatLists d = {0};
    float lr = 0;
    ArgSpec specs[] = {{"dropout", ARG_FLOAT_LISTS, &d, 0, 0.99, "P", "", 0}, {"lr", ARG_FLOAT, &lr, 0, 1, "X", "", 0}};
    char *argv[] = {"--dropout", "0,0", "--dropout=0.3,0.5", "--lr", "0.1", "--dropout", "0.5,0.5"};
    const char *pos[1];
    int npos, help;
    Err e;
    ck_assert_int_eq(args_parse(7, argv, specs, 2, pos, 0, &npos, &help, &e), ST_OK);
    ck_assert_int_eq(d.n, 3);
    ck_assert_int_eq(d.v[1].n, 2);
    ck_assert_float_eq(d.v[1].v[0], 0.3f);
    ck_assert_float_eq(d.v[2].v[1], 0.5f);
    /* each value is checked like ARG_FLOATS; other flags still refuse repeats */
    char *bad[] = {"--dropout", "0,1.5"};
    specs[0].seen = 0, d.n = 0;
    ck_assert_int_eq(args_parse(2, bad, specs, 2, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "--dropout"));
    char *twice[] = {"--lr", "0.1", "--lr", "0.2"};
    specs[0].seen = specs[1].seen = 0;
    ck_assert_int_eq(args_parse(4, twice, specs, 2, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "given twice"));
    /* at most ARGS_MAX_LISTS occurrences */
    char *many[2 * (ARGS_MAX_LISTS + 1)];
    for (int i = 0; i <= ARGS_MAX_LISTS; i++) many[2 * i] = "--dropout", many[2 * i + 1] = "0.1";
    specs[0].seen = 0, d.n = 0;
    ck_assert_int_eq(args_parse(2 * (ARGS_MAX_LISTS + 1), many, specs, 2, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "too many times"));
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1200];
    Err e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(file_write_atomic(path, text, strlen(text), &e), ST_OK);
}

#define LOG_HEAD "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"

START_TEST(test_dir_states_and_table)
{
    char *dir = make_temp_dir();
    Err e;
    /* a tiny net's checkpoint with its settings */
    NetSpec cfg;
    ck_assert_int_eq(cfg_parse_text("t.cfg", "input 1x4x4\nflatten\ndense 3\n", &cfg, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&cfg, 4, &net, &e), ST_OK);
    net_init(net, 1);
    RunSettings want;
    settings_defaults(&want);
    snprintf(want.model, sizeof want.model, "t.cfg");
    want.train.epochs = 2;
    want.train.batch = 4;
    want.train_n = 10;
    want.train.opt.lr = 0.001f;
    Buf set = {0};
    settings_format(&want, &set);
    buf_put(&set, "", 1);
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, net, NULL, 0), SWEEP_DIR_EMPTY);
    write_file(dir, "log.csv", LOG_HEAD "1,0.9,0.6,0.8,0.7,1.5\n");
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, net, NULL, 0), SWEEP_DIR_PARTIAL); /* no checkpoint yet */
    char path[1200];
    snprintf(path, sizeof path, "%s/model.fmw", dir);
    ck_assert_int_eq(weights_save(path, net, set.data, &e), ST_OK);
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, net, NULL, 0), SWEEP_DIR_PARTIAL); /* 1 epoch of 2 */
    write_file(dir, "log.csv", LOG_HEAD "1,0.9,0.6,0.8,0.7,1.5\n2,0.5,0.8,0.6,0.78,1.25\n");
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, net, NULL, 0), SWEEP_DIR_FINISHED);
    ck_assert_int_eq(sweep_dir_state(dir, 2, NULL, NULL, NULL, 0), SWEEP_DIR_FINISHED);
    ck_assert_int_eq(sweep_dir_state(dir, 3, NULL, NULL, NULL, 0), SWEEP_DIR_PARTIAL);
    char why[256];
    RunSettings other = want;
    other.train.opt.lr = 0.01f;
    ck_assert_int_eq(sweep_dir_state(dir, 2, &other, net, why, sizeof why), SWEEP_DIR_OTHER);
    ck_assert_str_eq(why, "it has lr=0.001 where this sweep has lr=0.01");
    other = want;
    other.train.epochs = 3;
    ck_assert_int_eq(sweep_dir_state(dir, 2, &other, net, why, sizeof why), SWEEP_DIR_OTHER);
    /* the dropout rates are the model text's, compared too */
    Net *dnet;
    ck_assert_int_eq(cfg_parse_text("t.cfg", "input 1x4x4\nflatten\ndropout 0.5\ndense 3\n", &cfg, &e), ST_OK);
    ck_assert_int_eq(net_build(&cfg, 4, &dnet, &e), ST_OK);
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, dnet, why, sizeof why), SWEEP_DIR_OTHER);
    ck_assert_str_eq(why, "it has dropout= where this sweep has dropout=0.5");
    net_free(dnet);
    /* settings this fmnist cannot read: another run's, never replaced */
    ck_assert_int_eq(weights_save(path, net, "mystery=1\n", &e), ST_OK);
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, net, why, sizeof why), SWEEP_DIR_OTHER);
    ck_assert_ptr_nonnull(strstr(why, "its settings cannot be read"));
    ck_assert_int_eq(weights_save(path, net, set.data, &e), ST_OK);
    write_file(dir, "log.csv", "garbage\n"); /* a damaged log: train again */
    ck_assert_int_eq(sweep_dir_state(dir, 2, &want, net, NULL, 0), SWEEP_DIR_PARTIAL);
    buf_free(&set);
    net_free(net);

    /* the row of a log: best epoch, gaps, seconds */
    Curve c;
    const char *log3 = LOG_HEAD "1,0.9,0.6,0.8,0.7,1.5\n2,0.5,0.8,0.6,0.78,1.25\n3,0.4,0.85,0.65,0.76,1\n";
    ck_assert_int_eq(curve_parse("l.csv", log3, &c, &e), ST_OK);
    SweepRow rows[2];
    ck_assert_int_eq(sweep_row("a", &c, &rows[0], &e), ST_OK);
    ck_assert_int_eq(rows[0].epochs, 3);
    ck_assert_double_eq(rows[0].final_test_acc, 0.76);
    ck_assert_double_eq(rows[0].best_test_acc, 0.78);
    ck_assert_int_eq(rows[0].best_epoch, 2);
    ck_assert_double_eq_tol(rows[0].loss_gap, 0.25, 1e-12);
    ck_assert_double_eq_tol(rows[0].acc_gap, 0.09, 1e-12);
    ck_assert_double_eq_tol(rows[0].seconds, 3.75, 1e-12);
    curve_free(&c);
    ck_assert_int_eq(curve_parse("l.csv", LOG_HEAD, &c, &e), ST_OK);
    ck_assert_int_eq(sweep_row("b", &c, &rows[1], &e), ST_ERR_FORMAT);
    curve_free(&c);
    rows[1] = rows[0];
    strcpy(rows[1].name, "b");
    Buf b = {0};
    sweep_table(rows, 2, SWEEP_CSV, &b);
    ck_assert_str_eq(b.data, "setting,epochs,final_test_acc,best_test_acc,best_epoch,final_train_loss,final_test_loss,"
                             "loss_gap,acc_gap,seconds\n"
                             "a,3,0.760000,0.780000,2,0.400000,0.650000,0.250000,0.090000,3.750\n"
                             "b,3,0.760000,0.780000,2,0.400000,0.650000,0.250000,0.090000,3.750\n");
    buf_free(&b);
    sweep_table(rows, 2, SWEEP_MD, &b);
    ck_assert_ptr_nonnull(strstr(b.data, "| `a` | 76.00% | 78.00% (2) | 0.4000 | 0.6500 | +0.2500 | +9.00% | 3.8 |\n"));
    buf_free(&b);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the real binary on a small data set ---- */

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

static int count_of(const char *s, const char *word)
{
    int n = 0;
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) n++;
    return n;
}

/* Decodes a PNG; returns its width and height through w, h. */
static void png_size(const char *path, int *w, int *h)
{
    int comp;
    unsigned char *px = stbi_load(path, w, h, &comp, 3);
    ck_assert_msg(px != NULL, "%s does not decode: %s", path, stbi_failure_reason());
    stbi_image_free(px);
}

START_TEST(test_sweep_runs_and_skips)
{
    char *dir = make_temp_dir();
    char data[600], sw[600], args[4096], path[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(sw, sizeof sw, "%s/sweep", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 300, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 100, 2), 0);
    const char *common = "--epochs 2 --batch 50 --threads 1 --no-progress";

    expect("sweep --help", 0, "--weight-decay");
    expect("sweep", 2, "give --dropout or --weight-decay");
    expect("sweep --dropout 0.3", 2, "1 dropout rate given, but models/mlp.cfg has 2 dropout layers");
    expect("sweep --dropout 0,0 --dropout 0,0", 2, "given twice");
    expect("sweep --dropout 0,2", 2, "--dropout");

    snprintf(args, sizeof args,
             "sweep --data %s --dropout 0,0 --dropout 0.5,0.5 --weight-decay 0 --weight-decay 1e-4 %s --out %s", data,
             common, sw);
    expect(args, 0, "summary.csv");
    const char *names[4] = {"dropout0-0_wd0", "dropout0-0_wd1e-4", "dropout0.5-0.5_wd0", "dropout0.5-0.5_wd1e-4"};
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(strstr(out, names[i]));
        const char *files[3] = {"log.csv", "model.fmw", "curves.png"};
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/%s/%s", sw, names[i], files[f]);
            ck_assert_msg(file_exists(path), "%s missing", path);
        }
    }
    ck_assert_int_eq(count_of(out, "epoch 2/2"), 4);
    snprintf(path, sizeof path, "%s/summary.csv", sw);
    char *csv = read_all_or_fail(path, NULL);
    ck_assert_int_eq(count_of(csv, "\n"), 5);
    ck_assert_ptr_nonnull(strstr(csv, "\ndropout0.5-0.5_wd1e-4,2,"));
    free(csv);
    snprintf(path, sizeof path, "%s/summary.md", sw);
    char *md = read_all_or_fail(path, NULL);
    ck_assert_ptr_nonnull(strstr(md, "| `dropout0-0_wd1e-4` |"));
    free(md);
    int w, h;
    snprintf(path, sizeof path, "%s/compare_loss.png", sw);
    png_size(path, &w, &h);
    ck_assert(w > 800 && h >= 520);
    snprintf(path, sizeof path, "%s/compare_acc.png", sw);
    png_size(path, &w, &h);
    snprintf(path, sizeof path, "%s/%s/curves.png", sw, names[0]);
    png_size(path, &w, &h);
    ck_assert_int_eq(w, 1600);
    ck_assert_int_eq(h, 520);

    /* the same command again: every run is finished, nothing is trained, the logs stay */
    snprintf(path, sizeof path, "%s/%s/log.csv", sw, names[3]);
    char *before = read_all_or_fail(path, NULL);
    expect(args, 0, "skipped");
    ck_assert_int_eq(count_of(out, "skipped"), 4);
    ck_assert_int_eq(count_of(out, "epoch 1/2"), 0);
    char *after = read_all_or_fail(path, NULL);
    ck_assert_str_eq(before, after);
    free(after);
    /* an unfinished run (its log cut to one epoch) is trained again, to the same result */
    char *nl = strchr(strchr(before, '\n') + 1, '\n');
    ck_assert_int_eq(file_write_atomic(path, before, (size_t)(nl + 1 - before), &e), ST_OK);
    expect(args, 0, "skipped");
    ck_assert_int_eq(count_of(out, "skipped"), 3);
    ck_assert_int_eq(count_of(out, "epoch 2/2"), 1);
    after = read_all_or_fail(path, NULL);
    ck_assert_int_eq(count_of(after, "\n"), 3);
    free(after);
    free(before);
    /* other settings in the same folders are refused, nothing is touched */
    snprintf(args, sizeof args, "sweep --data %s --dropout 0,0 --weight-decay 0 --lr 0.01 %s --out %s", data, common,
             sw);
    expect(args, 1, "holds a run with other settings (it has lr=0.001 where this sweep has lr=0.01)");

    /* plot: any logs, one PNG */
    snprintf(args, sizeof args, "plot %s/%s/log.csv %s/%s/log.csv -o %s/p.png --logy", sw, names[0], sw, names[2], dir);
    expect(args, 0, "wrote");
    snprintf(path, sizeof path, "%s/p.png", dir);
    png_size(path, &w, &h);
    ck_assert(w > 800 && h == 520);
    snprintf(args, sizeof args, "plot %s/%s/log.csv --out %s/q.png --metric both", sw, names[0], dir);
    expect(args, 0, "wrote");
    snprintf(path, sizeof path, "%s/q.png", dir);
    png_size(path, &w, &h);
    ck_assert_int_eq(w, 1600);
    expect("plot -o x.png", 2, "give at least one log.csv");
    expect("plot a.csv", 2, "-o FILE.png is required");
    expect("plot a.csv -o x.png --metric f1", 2, "--metric: expected loss, acc or both");
    snprintf(args, sizeof args, "plot %s/data/nonexistent.csv -o %s/r.png", dir, dir);
    expect(args, 1, "nonexistent.csv");

    /* eval: confusion matrix, heat map, error grid, MC dropout */
    snprintf(args, sizeof args,
             "eval --data %s --weights %s/%s/model.fmw --confusion %s/cm.png --errors %s/err.png --mc 3 --threads 1",
             data, sw, names[2], dir, dir);
    expect(args, 0, "confusion matrix (rows: true class, columns: predicted class)");
    ck_assert_ptr_nonnull(strstr(out, "Ankle boot"));
    ck_assert_ptr_nonnull(strstr(out, "MC dropout (N=3)"));
    ck_assert_ptr_nonnull(strstr(out, "ECE (15 bins)"));
    /* the matrix's total and accuracy are the eval's */
    double acc, acc2;
    long right, total;
    const char *p = strstr(out, "acc ");
    ck_assert(p && sscanf(p, "acc %lf%%", &acc) == 1);
    p = strstr(out, " right: ");
    while (p > out && p[-1] != '\n') p--;
    ck_assert(sscanf(p, "%ld of %ld right: %lf%%", &right, &total, &acc2) == 3);
    ck_assert_int_eq(total, 100);
    ck_assert_double_eq_tol(acc, acc2, 1e-9);
    ck_assert_double_eq_tol(100.0 * right / total, acc, 0.005);
    snprintf(path, sizeof path, "%s/cm.png", dir);
    png_size(path, &w, &h);
    ck_assert(w > 600 && h > 600);
    snprintf(path, sizeof path, "%s/err.png", dir);
    png_size(path, &w, &h);
    ck_assert(w > 8 * 84 && h > 8 * 84); /* 64 of the 100 images, 8 per row, at 3x */

    /* train writes curves.png */
    snprintf(args, sizeof args, "train --data %s --out %s/run %s", data, dir, common);
    expect(args, 0, "curves.png");
    snprintf(path, sizeof path, "%s/run/curves.png", dir);
    png_size(path, &w, &h);
    ck_assert_int_eq(w, 1600);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_number_names);
    tcase_add_test(tc, test_cross_product);
    tcase_add_test(tc, test_repeatable_flag);
    tcase_add_test(tc, test_dir_states_and_table);
    tcase_add_test(tc, test_sweep_runs_and_skips);
    suite_add_tcase(s, tc);
    return s;
}
