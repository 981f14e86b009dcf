/* test_trainflags.c - issue 13, item 7: the CLI only parses, calls and
 * prints.
 *
 * One softmax and one top-k in the library, which the loss, eval's and
 * predict's probabilities share to the last bit; flags found by their
 * variable, not their place in a table; one table of training flags, so
 * that `sweep` takes every training option of `train` (its --help lists
 * them, a sweep with several of them trains exactly what `train` trains,
 * and it refuses the same combinations); a sweep folder holding a run with
 * other REG settings (--l1, --val, --aug, ...) is not taken for finished;
 * `fmnist help COMMAND`; path buffer sizes from util/fileio.h only. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "nn/loss.h"
#include "nn/softmax.h"
#include "testutil.h"
#include "train/mc.h"
#include "util/args.h"
#include "util/fileio.h"

static char out[1 << 16];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

START_TEST(test_softmax_row)
{
    const float z[4] = {1.0f, 3.0f, 2.0f, 3.0f};
    double p[4];
    int arg;
    double lse = softmax_row(z, 4, p, &arg);
    double want = log(exp(1.0) + 2 * exp(3.0) + exp(2.0));
    ck_assert_double_eq_tol(lse, want, 1e-12);
    ck_assert_int_eq(arg, 1); /* the first of the tied largest */
    double sum = 0;
    for (int j = 0; j < 4; j++) {
        ck_assert_double_eq_tol(p[j], exp(z[j] - want), 1e-15);
        sum += p[j];
    }
    ck_assert_double_eq_tol(sum, 1.0, 1e-15);
    /* large logits stay finite */
    const float big[3] = {3e4f, -3e4f, 3e4f};
    lse = softmax_row(big, 3, p, NULL);
    ck_assert(isfinite(lse));
    ck_assert_double_eq_tol(p[0], 0.5, 1e-12);
    ck_assert_double_eq(p[1], 0.0);
    /* the float form (the loss's gradient): the same numbers, rounded, scaled */
    float f[4];
    ck_assert_double_eq(softmax_row_scaled(z, 4, 0.25f, f, &arg), softmax_row(z, 4, p, NULL));
    for (int j = 0; j < 4; j++) ck_assert_float_eq(f[j], (float)p[j] * 0.25f);
    /* p may be NULL */
    ck_assert_double_eq(softmax_row(z, 4, NULL, NULL), softmax_row(z, 4, p, NULL));
}
END_TEST

START_TEST(test_topk)
{
    const double v[6] = {0.1, 0.3, 0.05, 0.3, 0.2, 0.05};
    int top[6];
    softmax_topk(v, 6, 3, top);
    ck_assert_int_eq(top[0], 1); /* ties: the lower index first */
    ck_assert_int_eq(top[1], 3);
    ck_assert_int_eq(top[2], 4);
    softmax_topk(v, 6, 6, top);
    ck_assert_int_eq(top[4], 2);
    ck_assert_int_eq(top[5], 5);
    softmax_topk(v, 1, 1, top);
    ck_assert_int_eq(top[0], 0);
}
END_TEST

/* The loss's gradient, eval's probabilities (mc_predict_batch) and
 * predict's (mc_predict_one) come from the one softmax, bit for bit. */
START_TEST(test_one_softmax_everywhere)
{
    NetSpec cfg;
    Err e;
    ck_assert_int_eq(cfg_parse_text("t.cfg", "input 1x4x4\nflatten\ndense 7\n", &cfg, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&cfg, 5, &net, &e), ST_OK);
    net_init(net, 3);
    float x[5 * 16];
    for (int i = 0; i < 5 * 16; i++) x[i] = (float)sin(i * 1.7) * 3;
    int k = net->nclasses, pred[5];
    float probs[5 * 7], z[5 * 7], dz[5 * 7], z1[7], ent;
    ck_assert_int_eq(mc_predict_batch(net, x, 5, 0, 0, probs, pred, NULL, &e), ST_OK);
    memcpy(z, net_forward(net, x, 5, MODE_EVAL, 0), sizeof z);
    int labels[5] = {0, 1, 2, 3, 4};
    softmax_xent(z, labels, 5, k, 1.0f, dz, NULL);
    for (int i = 0; i < 5; i++) {
        double p[7], q[7];
        int arg;
        softmax_row(z + i * k, k, p, &arg);
        ck_assert_int_eq(pred[i], arg);
        for (int j = 0; j < k; j++) {
            ck_assert_float_eq(probs[i * k + j], (float)p[j]);
            ck_assert_float_eq(dz[i * k + j], (float)p[j] - (j == labels[i]));
        }
        ck_assert_int_eq(mc_predict_one(net, x + i * 16, 0, 0, z1, q, &ent, &e), ST_OK);
        ck_assert_int_eq(memcmp(z1, z + i * k, sizeof z1), 0);
        ck_assert_int_eq(memcmp(p, q, sizeof p), 0);
        ck_assert_float_eq(ent, 0.0f);
    }
    net_free(net);
}
END_TEST

/* A flag is found by the address of its variable: the order of the table
 * does not matter. */
START_TEST(test_flags_by_variable)
{
    int a = 0, b = 0;
    float m = 0;
    ArgSpec one[] = {{"a", ARG_INT, &a, 0, 9, "N", "", 0},
                     {"momentum", ARG_FLOAT, &m, 0, 1, "X", "", 0},
                     {"b", ARG_SWITCH, &b, 0, 0, NULL, "", 0}};
    ArgSpec two[] = {{"b", ARG_SWITCH, &b, 0, 0, NULL, "", 0},
                     {"a", ARG_INT, &a, 0, 9, "N", "", 0},
                     {"momentum", ARG_FLOAT, &m, 0, 1, "X", "", 0}};
    char arg0[] = "--momentum", arg1[] = "0.5", *argv[] = {arg0, arg1};
    const char *pos[1];
    int npos, help;
    Err e;
    ck_assert_int_eq(args_parse(2, argv, one, 3, pos, 0, &npos, &help, &e), ST_OK);
    ck_assert_int_eq(args_parse(2, argv, two, 3, pos, 0, &npos, &help, &e), ST_OK);
    ck_assert(args_given(one, 3, &m) && args_given(two, 3, &m));
    ck_assert(!args_given(one, 3, &a) && !args_given(two, 3, &b));
    ck_assert_ptr_eq(args_find(two, 3, &m), &two[2]);
    ck_assert_ptr_null(args_find(one, 3, &npos));
    ck_assert(!args_given(one, 3, &npos));
}
END_TEST

/* Every flag of `train --help` but train's own four is in `sweep --help`. */
START_TEST(test_sweep_lists_every_train_flag)
{
    expect("train --help", 0, "--momentum");
    char *train_help = strdup(out);
    expect("sweep --help", 0, "--momentum");
    static const char *const TRAIN_ONLY[] = {"out", "log", "overwrite", "resume"};
    int checked = 0;
    for (char *line = strtok(train_help, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "  --", 4)) continue;
        char name[64], want[72];
        sscanf(line + 4, "%63s", name);
        int own = 0;
        for (size_t i = 0; i < sizeof TRAIN_ONLY / sizeof TRAIN_ONLY[0]; i++) own |= !strcmp(name, TRAIN_ONLY[i]);
        snprintf(want, sizeof want, "\n  --%s ", name);
        ck_assert_msg(own || strstr(out, want), "sweep --help lacks --%s", name);
        checked += !own;
    }
    ck_assert_int_ge(checked, 25);
    free(train_help);
    /* and sweep's own */
    ck_assert_ptr_nonnull(strstr(out, "  --logy "));
    ck_assert_ptr_nonnull(strstr(out, "  --out "));
    expect("help sweep", 0, "usage: fmnist sweep");
    expect("help train", 0, "usage: fmnist train");
    expect("help frobnicate", 2, "unknown command 'frobnicate'");
}
END_TEST

/* The checks of the training flags are the same for sweep as for train. */
START_TEST(test_sweep_checks_like_train)
{
    static const char *const CASES[][2] = {
        {"--momentum 0.9", "--momentum applies to --optim sgd only"},
        {"--optim sgd --nesterov", "--nesterov needs --momentum above 0"},
        {"--early-stop 2", "--early-stop needs a validation set (--val N)"},
        {"--lr-schedule bogus", "--lr-schedule: expected constant, step, cosine or onecycle"},
        {"--warmup 3 --epochs 3", "--warmup 3: must be fewer than the 3 epochs"},
        {"--aug bogus", "bogus"},
        {"--optim rmsprop", "--optim: expected sgd, adam or adamw"},
    };
    char args[512];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        for (int cmd = 0; cmd < 2; cmd++) {
            /* a sweep holds out a validation set by default: --val 0 takes it away */
            snprintf(args, sizeof args, "%s %s%s", cmd ? "sweep --dropout 0,0" : "train", CASES[i][0],
                     cmd && strstr(CASES[i][0], "early-stop") ? " --val 0" : "");
            expect(args, 2, CASES[i][1]);
        }
}
END_TEST

/* log.csv without its seconds and images_per_s columns. */
static void log_without_time(const char *path, char *buf, size_t len)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i ~ /sec|time|per_s/) s[i]=1} "
             "{l=\"\"; for(i=1;i<=NF;i++) if(!s[i]) l=l $i \",\"; print l}' '%s'",
             path);
    ck_assert_int_eq(run_shell(cmd, buf, len), 0);
}

/* A sweep with several training options trains each setting exactly as
 * `train` does with the same flags, records them, and refuses its folders
 * to a sweep with other settings. */
START_TEST(test_sweep_takes_train_options)
{
    char *dir = make_temp_dir();
    char data[600], sw[600], tr[600], args[4096], path[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(sw, sizeof sw, "%s/sweep", dir);
    snprintf(tr, sizeof tr, "%s/train", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 400, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 100, 2), 0);
    const char *opts = "--momentum 0.9 --optim sgd --nesterov --l1 1e-5 --aug flip --val 100 --early-stop 2 "
                       "--lr-schedule cosine --report-penalty --save-every 2 --epochs 1 --train-limit 300 --batch 50 "
                       "--lr 0.02 --threads 1 --no-progress";
    snprintf(args, sizeof args, "sweep --data %s --dropout 0,0 %s --out %s", data, opts, sw);
    expect(args, 0, "summary.csv");
    snprintf(args, sizeof args, "train --data %s --dropout 0,0 %s --out %s", data, opts, tr);
    expect(args, 0, "saved");

    /* the same run: log (but its times), weights, settings */
    char a[4096], b[4096];
    snprintf(path, sizeof path, "%s/base/seed1/log.csv", sw);
    log_without_time(path, a, sizeof a);
    snprintf(path, sizeof path, "%s/log.csv", tr);
    log_without_time(path, b, sizeof b);
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(strstr(a, "val_loss"));
    Net *n1, *n2;
    CkptState c1, c2;
    snprintf(path, sizeof path, "%s/base/seed1/model.fmw", sw);
    ck_assert_int_eq(weights_load_run(path, 1, &n1, &c1, &e), ST_OK);
    snprintf(path, sizeof path, "%s/model.fmw", tr);
    ck_assert_int_eq(weights_load_run(path, 1, &n2, &c2, &e), ST_OK);
    ck_assert_int_eq(n1->nparams, n2->nparams);
    ck_assert_int_eq(memcmp(n1->params, n2->params, n1->nparams * sizeof(float)), 0);
    ck_assert_str_eq(c1.settings, c2.settings);
    const char *want[] = {"\nval=100\n", "\naug=flip\n", "\nearly_stop=2\n", "\nreport_penalty=1\n",
                          "\nlr_schedule=cosine\n", "\nmomentum=0.9\n", "\nnesterov=1\n", "\noptim=sgd\n",
                          "\nl1=1e-05\n"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        ck_assert_msg(strstr(c1.settings, want[k]), "%s not in:\n%s", want[k], c1.settings);
    net_free(n1), net_free(n2);
    weights_state_free(&c1), weights_state_free(&c2);
    snprintf(path, sizeof path, "%s/base/seed1/best.fmw", sw);
    ck_assert_msg(file_exists(path), "%s missing", path);

    /* the same sweep again: finished, skipped */
    snprintf(args, sizeof args, "sweep --data %s --dropout 0,0 %s --out %s", data, opts, sw);
    expect(args, 0, "skipped");
    /* another L1 in the same folder: refused, not skipped */
    snprintf(args, sizeof args, "sweep --data %s --dropout 0,0 %s --l1 2e-5 --out %s", data,
             "--momentum 0.9 --optim sgd --nesterov --aug flip --val 100 --early-stop 2 --lr-schedule cosine "
             "--report-penalty --save-every 2 --epochs 1 --train-limit 300 --batch 50 --lr 0.02 --threads 1 "
             "--no-progress",
             sw);
    expect(args, 1, "holds a run with other settings (it has l1=");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Path buffer sizes come from util/fileio.h (FM_PATH, FM_NAME), not
 * literals such as 4096 or 4200. */
START_TEST(test_no_literal_path_sizes)
{
    char buf[4096];
    int rc = run_shell("grep -rnE '\\[4[0-9]{3}\\]|\\[8[0-9]{3}\\]' src", buf, sizeof buf);
    ck_assert_msg(rc == 1, "literal buffer sizes in src:\n%s", buf);
}
END_TEST

Suite *trainflags_suite(void)
{
    Suite *s = suite_create("trainflags");
    TCase *tc = tcase_create("trainflags");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_softmax_row);
    tcase_add_test(tc, test_topk);
    tcase_add_test(tc, test_one_softmax_everywhere);
    tcase_add_test(tc, test_flags_by_variable);
    tcase_add_test(tc, test_sweep_lists_every_train_flag);
    tcase_add_test(tc, test_sweep_checks_like_train);
    tcase_add_test(tc, test_sweep_takes_train_options);
    tcase_add_test(tc, test_no_literal_path_sizes);
    suite_add_tcase(s, tc);
    return s;
}
