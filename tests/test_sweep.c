/* test_sweep.c - `fmnist sweep` and the commands around it: number names,
 * repeatable flags; then, with the real binary on a small IDX data set this
 * file writes: a sweep, its re-run that skips finished runs, a log cut
 * short reported (not retrained), a refusal to mix settings, `train`'s
 * curves.png, `plot`, and `eval --confusion --errors --mc`. (The sweep's
 * own suite is test_sweeps.c.) */
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
    expect("sweep --list", 0, "1 setting x 1 seed = 1 run");
    expect("sweep --dropout 0.3", 2, "1 dropout rate given, but models/mlp.cfg has 2 dropout layers");
    expect("sweep --dropout 0,0 --dropout 0,0", 2, "given twice");
    expect("sweep --dropout 0,2", 2, "--dropout");

    snprintf(args, sizeof args,
             "sweep --data %s --dropout 0,0 --dropout 0.5,0.5 --weight-decay 0 --weight-decay 1e-4 %s --out %s", data,
             common, sw);
    expect(args, 0, "summary.csv");
    const char *names[4] = {"dropout0-0_wd0/seed1", "dropout0-0_wd1e-4/seed1", "dropout0.5-0.5_wd0/seed1",
                            "dropout0.5-0.5_wd1e-4/seed1"};
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
    ck_assert_ptr_nonnull(strstr(csv, "dropout0.5-0.5_wd1e-4"));
    free(csv);
    int w, h;
    const char *charts[3] = {"compare_loss.png", "compare_acc.png", "compare_final.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", sw, charts[i]);
        png_size(path, &w, &h);
        /* the same chart as SVG beside it, of the same size */
        char svgp[1400], dims[64];
        snprintf(svgp, sizeof svgp, "%.*s.svg", (int)strlen(path) - 4, path);
        char *svg = read_all_or_fail(svgp, NULL);
        snprintf(dims, sizeof dims, "width=\"%d\" height=\"%d\"", w, h);
        ck_assert_msg(!strncmp(svg, "<?xml", 5) && strstr(svg, dims) && strstr(svg, "</svg>\n"), "%s", svgp);
        free(svg);
    }
    snprintf(path, sizeof path, "%s/%s/curves.png", sw, names[0]);
    png_size(path, &w, &h);
    ck_assert_int_eq(w, 1600);
    ck_assert_int_eq(h, 520);

    /* the same command again: every run is finished, nothing is trained, the logs stay */
    snprintf(path, sizeof path, "%s/%s/log.csv", sw, names[3]);
    char *before = read_all_or_fail(path, NULL);
    expect(args, 0, "skipped");
    ck_assert_int_eq(count_of(out, "finished earlier, skipped"), 4);
    ck_assert_int_eq(count_of(out, "epoch 1/2"), 0);
    char *after = read_all_or_fail(path, NULL);
    ck_assert_str_eq(before, after);
    free(after);
    /* a finished run whose log was cut to one epoch: reported by name, not trained again */
    char *nl = strchr(strchr(before, '\n') + 1, '\n');
    ck_assert_int_eq(file_write_atomic(path, before, (size_t)(nl + 1 - before), &e), ST_OK);
    expect(args, 1, "has 1; remove");
    ck_assert_ptr_nonnull(strstr(out, path));
    ck_assert_int_eq(count_of(out, "epoch 1/2"), 0);
    ck_assert_int_eq(file_write_atomic(path, before, strlen(before), &e), ST_OK);
    free(before);
    /* other settings in the same folders are refused, nothing is touched */
    snprintf(args, sizeof args,
             "sweep --data %s --dropout 0,0 --dropout 0.5,0.5 --weight-decay 0 --weight-decay 1e-4 --lr 0.01 %s "
             "--out %s", data, common, sw);
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
    expect("plot a.csv", 2, "-o FILE.png (or FILE.svg) is required");
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
    ck_assert(w > 8 * 112 && h > 8 * 112); /* 64 of the 100 images, 8 per row, at 4x */
    /* the same charts as SVG: the grid's 64 pictures, each with its "#index  confidence" */
    snprintf(args, sizeof args,
             "eval --data %s --weights %s/%s/model.fmw --confusion %s/cm.svg --errors %s/err.svg --threads 1", data,
             sw, names[2], dir, dir);
    expect(args, 0, "wrote");
    snprintf(path, sizeof path, "%s/err.svg", dir);
    char *svg = read_all_or_fail(path, NULL);
    ck_assert_int_eq(count_of(svg, "<image "), 64);
    ck_assert_int_eq(count_of(svg, ">#"), 64);
    ck_assert_int_eq(count_of(svg, "%</text>"), 64);
    free(svg);
    snprintf(path, sizeof path, "%s/cm.svg", dir);
    svg = read_all_or_fail(path, NULL);
    ck_assert_ptr_nonnull(strstr(svg, ">Confusion matrix: 100 test images, accuracy "));
    ck_assert_ptr_nonnull(strstr(svg, ">share of the true class (row)</text>"));
    free(svg);

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
    tcase_add_test(tc, test_repeatable_flag);
    tcase_add_test(tc, test_sweep_runs_and_skips);
    suite_add_tcase(s, tc);
    return s;
}
