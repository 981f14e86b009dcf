/* test_cfg.c - model-file parser: the product's files parse, and every kind of
 * mistake is an error that names the file and the line. */
#include <check.h>
#include <string.h>

#include "model/cfg.h"
#include "nn/net.h"

START_TEST(test_mlp_file_parses)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_file("models/mlp.cfg", &c, &e), ST_OK);
    ck_assert_int_eq(c.input.c, 1);
    ck_assert_int_eq(c.input.h, 28);
    ck_assert_int_eq(c.input.w, 28);
    ck_assert_int_eq(c.nlayers, 8);
    ck_assert_str_eq(c.layers[1].kind, "dense");
    ck_assert_int_eq(c.layers[1].units, 256);
    ck_assert_float_eq_tol(c.layers[3].p, 0.3f, 1e-7f);
    ck_assert_float_eq_tol(c.layers[6].p, 0.5f, 1e-7f);
    ck_assert_float_eq(c.mean, 0.5f);
    ck_assert_float_eq(c.std, 0.5f);
    ck_assert_int_eq(netspec_count_dropout(&c), 2);
    float p[2] = {0.1f, 0.0f};
    ck_assert_int_eq(netspec_set_dropout(&c, p, 2, &e), ST_OK);
    ck_assert_float_eq(c.layers[3].p, 0.1f);
    ck_assert_float_eq(c.layers[6].p, 0.0f);
    ck_assert_int_eq(netspec_set_dropout(&c, p, 1, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "2 dropout layers"));
    netspec_free(&c);
}
END_TEST

START_TEST(test_options_and_comments)
{
    const char *t = "# comment only\n\n  input 3x32x16 mean=0.25 std=2 # trailing\n"
                    "conv 8 3x5 stride=2 pad=1\nmaxpool 2\navgpool 3 stride=1\nflatten\ndense 10\n";
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("t.cfg", t, &c, &e), ST_OK);
    ck_assert_int_eq(c.input.c, 3);
    ck_assert_float_eq(c.mean, 0.25f);
    ck_assert_float_eq(c.std, 2.0f);
    ck_assert_int_eq(c.layers[0].kh, 3);
    ck_assert_int_eq(c.layers[0].kw, 5);
    ck_assert_int_eq(c.layers[0].stride, 2);
    ck_assert_int_eq(c.layers[0].pad, 1);
    ck_assert_int_eq(c.layers[1].stride, 2);
    ck_assert_int_eq(c.layers[2].stride, 1);
    ck_assert_int_eq(c.layers[0].line, 4);
    netspec_free(&c);
}
END_TEST

/* Each bad model file, the line the error must name, and a word it must say. */
static const struct {
    const char *text;
    int line;
    const char *word;
} BAD[] = {
    {"input 1x28x28\nflatten\ndense 10\nsoftmax\n", 4, "unknown layer 'softmax'"},
    {"flatten\ndense 10\n", 1, "first item must be 'input"},
    {"input 1x28\nflatten\n", 1, "bad input shape"},
    {"input 1x28x28x2\n", 1, "bad input shape"},
    {"input 0x28x28\n", 1, "bad input shape"},
    {"input 1x28x28\ndense\n", 2, "wrong number of values"},
    {"input 1x28x28\ndense 10 20\n", 2, "wrong number of values"},
    {"input 1x28x28\nflatten\ndense 12x\n", 3, "not a number of outputs"},
    {"input 1x28x28\nflatten\ndense 0\n", 3, "not a number of outputs"},
    {"input 1x28x28\nflatten\ndense 99999999999\n", 3, "not a number of outputs"},
    {"input 1x28x28\nflatten\ndropout 1\n", 3, "not a rate"},
    {"input 1x28x28\nflatten\ndropout -0.1\n", 3, "not a rate"},
    {"input 1x28x28\nflatten\ndropout abc\n", 3, "not a rate"},
    {"input 1x28x28\nconv 8 3 dilation=2\n", 2, "unknown option 'dilation'"},
    {"input 1x28x28\nconv 8 3 pad=1 pad=2\n", 2, "given twice"},
    {"input 1x28x28\nconv 8 3 stride=0\n", 2, "stride=0"},
    {"input 1x28x28\nconv 8 0\n", 2, "bad kernel size"},
    {"input 1x28x28\nmaxpool 2 pad=1\n", 2, "unknown option 'pad'"},
    {"input 1x28x28\nrelu extra\n", 2, "wrong number of values"},
    {"input 1x28x28\ninput 1x28x28\n", 2, "second 'input'"},
    {"input 1x28x28 std=0\nflatten\n", 1, "must be positive"},
    {"input 1x28x28 mean=x\nflatten\n", 1, "not a number"},
    {"input 1x28x28 std=1e400\nflatten\n", 1, "not a number"},
};

START_TEST(test_bad_files_name_the_line)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("bad.cfg", BAD[_i].text, &c, &e), ST_ERR_FORMAT);
    char where[32];
    snprintf(where, sizeof where, "bad.cfg:%d: ", BAD[_i].line);
    ck_assert_msg(strncmp(e.msg, where, strlen(where)) == 0, "case %d: '%s' does not start with '%s'", _i, e.msg,
                  where);
    ck_assert_msg(strstr(e.msg, BAD[_i].word) != NULL, "case %d: '%s' lacks '%s'", _i, e.msg, BAD[_i].word);
}
END_TEST

START_TEST(test_empty_and_missing)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("e.cfg", "# nothing\n", &c, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "no 'input"));
    ck_assert_int_eq(cfg_parse_text("e.cfg", "input 1x2x2\n", &c, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "no layers"));
    ck_assert_int_eq(cfg_parse_file("/nonexistent/x.cfg", &c, &e), ST_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/x.cfg"));
}
END_TEST

/* Shape errors are found when the net is built, with the line. */
START_TEST(test_shape_errors_name_the_line)
{
    const char *texts[] = {
        "input 1x28x28\ndense 10\n",                  /* dense on an image */
        "input 1x28x28\nflatten\ndense 10\nrelu\ndense 5\nflatten\ndense 3\ndropout 0.5\nconv 2 3\n",
    };
    const char *lines[] = {"s.cfg:2: ", "s.cfg:9: "};
    for (int i = 0; i < 2; i++) {
        NetSpec c;
        Err e;
        ck_assert_int_eq(cfg_parse_text("s.cfg", texts[i], &c, &e), ST_OK);
        Net *net;
        Status st = net_build(&c, 4, &net, &e);
        ck_assert_int_ne(st, ST_OK);
        ck_assert_msg(strncmp(e.msg, lines[i], strlen(lines[i])) == 0, "'%s'", e.msg);
    }
}
END_TEST

Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_mlp_file_parses);
    tcase_add_test(tc, test_options_and_comments);
    tcase_add_loop_test(tc, test_bad_files_name_the_line, 0, (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(tc, test_empty_and_missing);
    tcase_add_test(tc, test_shape_errors_name_the_line);
    suite_add_tcase(s, tc);
    return s;
}
