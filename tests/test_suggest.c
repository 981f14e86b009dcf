/* test_suggest.c - issue 18, item 7: "did you mean" (util/suggest.h) for
 * flags, commands, layer kinds and their options, and preset names; the
 * edit distance under it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "testutil.h"
#include "util/args.h"
#include "util/fileio.h"
#include "util/suggest.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

START_TEST(test_distance)
{
    ck_assert_int_eq(suggest_distance("", ""), 0);
    ck_assert_int_eq(suggest_distance("abc", ""), 3);
    ck_assert_int_eq(suggest_distance("", "ab"), 2);
    ck_assert_int_eq(suggest_distance("kitten", "sitting"), 3);
    ck_assert_int_eq(suggest_distance("epoch", "epochs"), 1);     /* an insertion */
    ck_assert_int_eq(suggest_distance("flaten", "flatten"), 1);
    ck_assert_int_eq(suggest_distance("trian", "train"), 1);      /* a swap of neighbours is one edit */
    ck_assert_int_eq(suggest_distance("ab", "ba"), 1);
    ck_assert_int_eq(suggest_distance("abc", "ca"), 3);           /* OSA: no edit of a swapped pair */
    ck_assert_int_eq(suggest_distance("weight_decay", "weight-decay"), 0); /* _ and - alike */
    ck_assert_int_eq(suggest_distance("Adam", "adam"), 0);        /* case ignored */
    ck_assert_int_eq(suggest_distance("adam", "adamw"), 1);
    ck_assert_int_eq(suggest_distance("sgd", "adam"), 4);
    char longw[SUGGEST_MAX_LEN + 2];
    memset(longw, 'a', sizeof longw - 1);
    longw[sizeof longw - 1] = 0;
    ck_assert_int_eq(suggest_distance(longw, "a"), SUGGEST_FAR);
}
END_TEST

static const char *nearest(const char *word, const char *const *cands, int n)
{
    Suggest s;
    suggest_init(&s, word);
    for (int i = 0; i < n; i++) suggest_try(&s, cands[i]);
    return s.best;
}

START_TEST(test_nearest)
{
    static const char *const FLAGS[] = {"epochs", "batch", "lr", "l1", "lr-schedule", "lr-step", "weight-decay", "val"};
    const int n = (int)(sizeof FLAGS / sizeof FLAGS[0]);
    ck_assert_str_eq(nearest("epoch", FLAGS, n), "epochs");
    ck_assert_str_eq(nearest("epohcs", FLAGS, n), "epochs");
    ck_assert_str_eq(nearest("weight_decay", FLAGS, n), "weight-decay");
    ck_assert_str_eq(nearest("weight", FLAGS, n), "weight-decay");     /* a prefix */
    ck_assert_str_eq(nearest("lr-sched", FLAGS, n), "lr-schedule");    /* a prefix, not lr-step */
    ck_assert_str_eq(nearest("bach", FLAGS, n), "batch");
    ck_assert_str_eq(nearest("lr", FLAGS, n), "lr");                   /* the nearest: itself */
    ck_assert_str_eq(nearest("valx", FLAGS, n), "val");
    ck_assert_ptr_null(nearest("momentum", FLAGS, n));                 /* nothing near */
    ck_assert_ptr_null(nearest("xyz", FLAGS, n));                      /* 3 letters: one edit at most */
    ck_assert_ptr_null(nearest("seed", FLAGS, n));
    ck_assert_ptr_null(nearest("ep", FLAGS, n));                       /* a prefix needs 3 characters */
    static const char *const TIE[] = {"mlp", "mlx"};
    ck_assert_str_eq(nearest("mlz", TIE, 2), "mlp");                   /* equals: the first */
    static const char *const ORDER[] = {"batchnorm", "bag"};
    ck_assert_str_eq(nearest("bat", ORDER, 2), "bag");                 /* an edit before a prefix */
    ck_assert_str_eq(nearest("batch", ORDER, 2), "batchnorm");
}
END_TEST

/* args_parse's message names the nearest flag of its table. */
START_TEST(test_args_did_you_mean)
{
    int epochs = 0, nest = 0;
    float wd = 0;
    ArgSpec specs[] = {
        {"epochs", ARG_INT, &epochs, 1, 100, "N", "", 0},
        {"weight-decay", ARG_FLOAT, &wd, 0, 1, "L", "", 0},
        {"nesterov", ARG_SWITCH, &nest, 0, 0, NULL, "", 0},
    };
    const char *pos[1];
    int npos, help;
    Err e;
    char a0[] = "--epoch", a1[] = "3", *argv[] = {a0, a1};
    ck_assert_int_eq(args_parse(2, argv, specs, 3, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_str_eq(e.msg, "unknown flag '--epoch'; did you mean --epochs?");
    char b0[] = "--weight_decay=0.1", *argv2[] = {b0};
    specs[0].seen = specs[1].seen = 0;
    ck_assert_int_eq(args_parse(1, argv2, specs, 3, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_str_eq(e.msg, "unknown flag '--weight_decay'; did you mean --weight-decay?");
    char c0[] = "-nesterov", *argv3[] = {c0};
    ck_assert_int_eq(args_parse(1, argv3, specs, 3, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_str_eq(e.msg, "unknown flag '-nesterov' (flags are --name VALUE; did you mean --nesterov?)");
    char d0[] = "--frobnicate", *argv4[] = {d0};
    ck_assert_int_eq(args_parse(1, argv4, specs, 3, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_str_eq(e.msg, "unknown flag '--frobnicate'");
    char f0[] = "--hepl", *argv5[] = {f0};
    ck_assert_int_eq(args_parse(1, argv5, specs, 3, pos, 0, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_str_eq(e.msg, "unknown flag '--hepl'; did you mean --help?");
}
END_TEST

/* A model file's unknown kind or option: the nearest, with file:line. */
START_TEST(test_cfg_did_you_mean)
{
    NetSpec spec;
    Err e;
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nflaten\ndense 10\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "m.cfg:2: unknown layer 'flaten' (did you mean 'flatten'? expected one of: input, "
                                "flatten,") == e.msg, "%s", e.msg);
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nflatten\nDense 10\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "m.cfg:3: unknown layer 'Dense' (did you mean 'dense'?"), "%s", e.msg);
    ck_assert_int_eq(cfg_parse_text("m.cfg", "inptu 1x28x28\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "m.cfg:1: unknown layer 'inptu' (did you mean 'input'?"), "%s", e.msg);
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nlstm 5\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "m.cfg:2: unknown layer 'lstm' (expected one of:"), "%s", e.msg); /* none near */
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nconv 8 3 strid=2\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_str_eq(e.msg, "m.cfg:2: unknown option 'strid' for conv (did you mean 'stride'?)");
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28 means=0.5\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_str_eq(e.msg, "m.cfg:1: unknown option 'means' for input (did you mean 'mean'?)");
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nconv 8 3 bias=0\n", &spec, &e), ST_ERR_FORMAT);
    ck_assert_str_eq(e.msg, "m.cfg:2: unknown option 'bias' for conv");
}
END_TEST

/* The binary: commands, `help CMD`, flags of every command, a model file's
 * layer through train. */
START_TEST(test_cli_did_you_mean)
{
    expect("trian", 2, "unknown command 'trian'; did you mean 'train'?");
    ck_assert_ptr_nonnull(strstr(out, "usage: fmnist COMMAND")); /* and the usage */
    expect("evl --weights x.fmw", 2, "did you mean 'eval'?");
    expect("wddemo", 2, "did you mean 'wd-demo'?");
    expect("Train", 2, "did you mean 'train'?");
    expect("frobnicate", 2, "unknown command 'frobnicate'\n");
    expect("help trian", 2, "unknown command 'trian'; did you mean 'train'?");
    expect("train --epoch 3", 2, "unknown flag '--epoch'; did you mean --epochs?");
    expect("train --weight_decay 1e-4", 2, "did you mean --weight-decay?");
    expect("sweep --weight_decay 0,1e-4", 2, "did you mean --weight-decay?");
    expect("sweep --seed 1 --repeat 3", 2, "did you mean --repeats?");
    expect("eval --weight x.fmw", 2, "did you mean --weights?");
    expect("predict --weight x.fmw a.png", 2, "did you mean --weights?");
    expect("export --weights x.fmw --fromat npz -o a.npz", 2, "did you mean --format?");
    expect("plot --metirc acc x.csv", 2, "did you mean --metric?");
    char *dir = make_temp_dir();
    char path[600], args[800];
    snprintf(path, sizeof path, "%s/m.cfg", dir);
    Err e;
    const char *text = "input 1x28x28\nflaten\ndense 10\n";
    ck_assert_int_eq(file_write_atomic(path, text, strlen(text), &e), ST_OK);
    snprintf(args, sizeof args, "train --model %s --out %s/r", path, dir);
    expect(args, 1, "m.cfg:2: unknown layer 'flaten' (did you mean 'flatten'?");
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *suggest_suite(void)
{
    Suite *s = suite_create("suggest");
    TCase *tc = tcase_create("suggest");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_distance);
    tcase_add_test(tc, test_nearest);
    tcase_add_test(tc, test_args_did_you_mean);
    tcase_add_test(tc, test_cfg_did_you_mean);
    tcase_add_test(tc, test_cli_did_you_mean);
    suite_add_tcase(s, tc);
    return s;
}
