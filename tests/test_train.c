/* test_train.c - loss, optimizers (hand-computed steps), a whole-net gradient
 * check, the checkpoint file (round trip, damage), and flag parsing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "testutil.h"
#include "util/args.h"
#include "util/fileio.h"

/* ---- loss ---- */

START_TEST(test_xent_values)
{
    float z[6] = {1, 2, 3, 1000, 0, -1000};
    int y[2] = {2, 1};
    float d[6];
    int right;
    double l = softmax_xent(z, y, 2, 3, 0.5f, d, &right);
    double l0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3.0;
    ck_assert(isfinite(l));
    ck_assert_double_eq_tol(l, l0 + 1000.0, 1e-9);
    ck_assert_int_eq(right, 1);
    /* d = 0.5 * (softmax - onehot); rows sum to 0 */
    ck_assert_float_eq_tol(d[0], (float)(0.5 * exp(1.0 - 3.0 - l0)), 1e-6f);
    ck_assert_float_eq_tol(d[2], (float)(0.5 * (exp(-l0) - 1.0)), 1e-6f);
    ck_assert_float_eq_tol(d[3], 0.5f, 1e-6f);
    ck_assert_float_eq_tol(d[4], -0.5f, 1e-6f);
    ck_assert_float_eq_tol(d[0] + d[1] + d[2], 0.0f, 1e-6f);
}
END_TEST

START_TEST(test_xent_gradcheck)
{
    enum { N = 3, K = 5 };
    float z[N * K], d[N * K];
    int y[N] = {0, 4, 2};
    Rng r;
    rng_seed(&r, 11);
    for (int i = 0; i < N * K; i++) z[i] = 4 * rng_uniform(&r) - 2;
    softmax_xent(z, y, N, K, 1.0f / N, d, NULL);
    for (int i = 0; i < N * K; i++) {
        float keep = z[i];
        double h = 1e-2;
        z[i] = keep + (float)h;
        double lp = softmax_xent(z, y, N, K, 0, NULL, NULL) / N;
        z[i] = keep - (float)h;
        double lm = softmax_xent(z, y, N, K, 0, NULL, NULL) / N;
        z[i] = keep;
        ck_assert_double_eq_tol(d[i], (lp - lm) / (2 * h), 1e-4);
    }
}
END_TEST

/* ---- optimizers: w = [1, -2] (a weight), b = [0.5] (a bias), lr 0.1
 * (optim_fixture_steps in testutil) ---- */

START_TEST(test_sgd_steps)
{
    OptConfig c = optim_defaults();
    c.kind = OPT_SGD;
    c.lr = 0.1f;
    float w[3];
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.99f, -2.02f, 0.53f);
    c.weight_decay = 0.01f; /* g + wd*w on weights only */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.989f, -2.018f, 0.53f);
    c.decay_bias = 1;
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.989f, -2.018f, 0.5295f);
}
END_TEST

START_TEST(test_sgd_momentum_steps)
{
    OptConfig c = optim_defaults();
    c.kind = OPT_SGD;
    c.lr = 0.1f;
    c.momentum = 0.9f;
    float w[3];
    ck_assert_int_eq(optim_fixture_steps(c, 2, w), 0); /* b1 = g, b2 = 0.9 g + g = 1.9 g: w - 0.1 * 2.9 g */
    CK3(w, 1.0f - 0.029f, -2.0f - 0.058f, 0.5f + 0.087f);
    c.nesterov = 1; /* g + mu*b: 1.9 g then 2.71 g */
    ck_assert_int_eq(optim_fixture_steps(c, 2, w), 0);
    CK3(w, 1.0f - 0.0461f, -2.0f - 0.0922f, 0.5f + 0.1383f);
    c.nesterov = 0;
    c.weight_decay = 0.5f; /* g' = g + 0.5 w on the weight */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 1.0f - 0.1f * 0.6f, -2.0f - 0.1f * (0.2f - 1.0f), 0.53f);
}
END_TEST

START_TEST(test_adam_steps)
{
    OptConfig c = optim_defaults();
    c.lr = 0.1f;
    float w[3];
    /* with a constant gradient every Adam step moves each weight by lr */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.9f, -2.1f, 0.6f);
    ck_assert_int_eq(optim_fixture_steps(c, 2, w), 0);
    CK3(w, 0.8f, -2.2f, 0.7f);
    /* L2: the second weight's gradient 0.2 + 0.1 * -2 is exactly 0: it stays */
    c.weight_decay = 0.1f;
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.9f, -2.0f, 0.6f);
    /* eps matters when v is tiny: m/(sqrt(v)+eps) with g = 1e-9 */
    float w2[1] = {1.0f}, g2[1] = {1e-9f};
    ParamInfo t = {.offset = 0, .numel = 1};
    Optim o;
    Err e;
    c.weight_decay = 0;
    ck_assert_int_eq(optim_init(&o, &c, 1, &e), ST_OK);
    optim_step(&o, w2, g2, &t, 1);
    optim_free(&o);
    /* step = lr * 1e-10 / (1e-9 + 1e-8)/... computed: m_hat = 1e-9, sqrt(v_hat) = 1e-9 */
    ck_assert_float_eq_tol(w2[0], 1.0f - 0.1f * (1e-9f / (1e-9f + 1e-8f)), 1e-7f);
}
END_TEST

START_TEST(test_adamw_steps)
{
    OptConfig c = optim_defaults();
    c.kind = OPT_ADAMW;
    c.lr = 0.1f;
    c.weight_decay = 0.1f;
    float w[3];
    /* w *= 1 - lr*wd (weights only), then the Adam step of lr */
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.99f - 0.1f, -1.98f - 0.1f, 0.6f);
    c.decay_bias = 1;
    ck_assert_int_eq(optim_fixture_steps(c, 1, w), 0);
    CK3(w, 0.99f - 0.1f, -1.98f - 0.1f, 0.495f + 0.1f);
}
END_TEST

/* ---- whole network ---- */

static Net *tiny_net(const char *text, int batch)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("tiny.cfg", text, &c, &e), ST_OK);
    Net *net;
    ck_assert_msg(net_build(&c, batch, &net, &e) == ST_OK, "%s", e.msg);
    return net;
}

static double net_loss(Net *net, const float *x, const int *y, int n)
{
    const float *z = net_forward(net, x, n, MODE_TRAIN, 99);
    return softmax_xent(z, y, n, net->nclasses, 0, NULL, NULL) / n;
}

START_TEST(test_whole_net_gradcheck)
{
    Net *net = tiny_net("input 1x4x3\nflatten\ndense 6\nrelu\ndropout 0.3\ndense 5\nrelu\ndense 3\n", 4);
    net_init(net, 5);
    enum { N = 4 };
    float x[N * 12], *dz = malloc(N * 3 * sizeof *dz);
    int y[N] = {0, 2, 1, 2};
    Rng r;
    rng_seed(&r, 8);
    for (int i = 0; i < N * 12; i++) x[i] = 2 * rng_uniform(&r) - 1;
    net_zero_grad(net);
    const float *z = net_forward(net, x, N, MODE_TRAIN, 99);
    softmax_xent(z, y, N, 3, 1.0f / N, dz, NULL);
    net_backward(net, x, dz, N);
    /* every parameter */
    int bad = 0;
    for (size_t i = 0; i < net->nparams; i++) {
        float keep = net->params[i];
        double h = 1e-3;
        net->params[i] = keep + (float)h;
        double lp = net_loss(net, x, y, N);
        net->params[i] = keep - (float)h;
        double lm = net_loss(net, x, y, N);
        net->params[i] = keep;
        double num = (lp - lm) / (2 * h), a = net->grads[i];
        if (fabs(a - num) > 2e-3 + 2e-2 * fabs(num)) bad++;
    }
    ck_assert_int_eq(bad, 0);
    /* a random direction (kann's check) */
    float *dir = malloc(net->nparams * sizeof *dir), *keep = malloc(net->nparams * sizeof *keep);
    double gd = 0;
    for (size_t i = 0; i < net->nparams; i++) {
        dir[i] = 2 * rng_uniform(&r) - 1;
        gd += (double)dir[i] * net->grads[i];
    }
    memcpy(keep, net->params, net->nparams * sizeof *keep);
    double h = 1e-3;
    for (size_t i = 0; i < net->nparams; i++) net->params[i] = keep[i] + (float)h * dir[i];
    double lp = net_loss(net, x, y, N);
    for (size_t i = 0; i < net->nparams; i++) net->params[i] = keep[i] - (float)h * dir[i];
    double lm = net_loss(net, x, y, N);
    ck_assert_double_eq_tol(gd, (lp - lm) / (2 * h), 1e-3 + 1e-2 * fabs(gd));
    free(dir);
    free(keep);
    free(dz);
    net_free(net);
}
END_TEST

START_TEST(test_net_names_and_arena)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_file("models/mlp.cfg", &c, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&c, 8, &net, &e), ST_OK);
    ck_assert_int_eq((int)net->nparams, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    ck_assert_int_eq(net->ntensors, 6);
    const char *names[] = {"1.weight", "1.bias", "4.weight", "4.bias", "7.weight", "7.bias"};
    for (int i = 0; i < 6; i++) ck_assert_str_eq(net->tensors[i].name, names[i]);
    ck_assert_int_eq(net->tensors[0].dims[0], 256);
    ck_assert_int_eq(net->tensors[0].dims[1], 784);
    ck_assert_int_eq(net->nclasses, 10);
    /* eval-mode forward of the same input is deterministic and dropout-free */
    net_init(net, 1);
    float x[2 * 784];
    for (int i = 0; i < 2 * 784; i++) x[i] = (float)((i * 37) % 255) / 255.0f;
    float z1[20];
    memcpy(z1, net_forward(net, x, 2, MODE_EVAL, 1), sizeof z1);
    ck_assert_int_eq(memcmp(z1, net_forward(net, x, 2, MODE_EVAL, 2), sizeof z1), 0);
    ck_assert_int_ne(memcmp(z1, net_forward(net, x, 2, MODE_TRAIN, 2), sizeof z1), 0);
    net_free(net);
}
END_TEST

/* ---- checkpoint ---- */

static Net *mlp_net(void)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_file("models/mlp.cfg", &c, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&c, 4, &net, &e), ST_OK);
    net_init(net, 7);
    return net;
}

START_TEST(test_weights_round_trip)
{
    char *dir = make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.fmw", dir);
    Net *net = mlp_net();
    Err e;
    ck_assert_int_eq(weights_save(path, net, "epoch=3\n", &e), ST_OK);
    Net *back;
    char *meta;
    ck_assert_msg(weights_load(path, 16, &back, &meta, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(meta, "epoch=3\n");
    ck_assert_str_eq(back->spec.text, net->spec.text);
    ck_assert_int_eq((int)back->nparams, (int)net->nparams);
    ck_assert_int_eq(memcmp(back->params, net->params, net->nparams * sizeof(float)), 0);
    free(meta);
    net_free(back);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_weights_damage_is_refused)
{
    char *dir = make_temp_dir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/m.fmw", dir);
    snprintf(bad, sizeof bad, "%s/bad.fmw", dir);
    Net *net = mlp_net();
    Err e;
    ck_assert_int_eq(weights_save(path, net, "", &e), ST_OK);
    net_free(net);
    char *data;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 24, &data, &len, &e), ST_OK);
    /* a flipped bit at many offsets, header and tensors included */
    size_t offsets[] = {0, 3, 5, 9, 13, 20, 40, 100, len / 2, len - 5, len - 1};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        data[offsets[k]] ^= 0x10;
        ck_assert_int_eq(file_write_atomic(bad, data, len, &e), ST_OK);
        data[offsets[k]] ^= 0x10;
        Net *n2 = NULL;
        ck_assert_int_eq(weights_load(bad, 4, &n2, NULL, &e), ST_ERR_FORMAT);
        ck_assert_ptr_null(n2);
        ck_assert_ptr_nonnull(strstr(e.msg, bad));
    }
    /* truncated anywhere */
    size_t cuts[] = {0, 1, 4, 15, 16, 200, len / 3, len - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        ck_assert_int_eq(file_write_atomic(bad, data, cuts[k], &e), ST_OK);
        Net *n2 = NULL;
        ck_assert_int_eq(weights_load(bad, 4, &n2, NULL, &e), ST_ERR_FORMAT);
    }
    /* a model file is not a checkpoint */
    Net *n2 = NULL;
    ck_assert_int_eq(weights_load("models/mlp.cfg", 4, &n2, NULL, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "not an fmnist checkpoint"));
    ck_assert_int_eq(weights_load("/nonexistent.fmw", 4, &n2, NULL, &e), ST_ERR_IO);
    free(data);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_atomic_write_keeps_old_file)
{
    char *dir = make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/f", dir);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, "old", 3, &e), ST_OK);
    /* a folder in the way of the temp file makes the write fail */
    char blocker[600];
    snprintf(blocker, sizeof blocker, "%s/missing/f", dir);
    ck_assert_int_eq(file_write_atomic(blocker, "new", 3, &e), ST_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "missing/f"));
    char *d;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 100, &d, &len, &e), ST_OK);
    ck_assert_int_eq((int)len, 3);
    ck_assert_int_eq(memcmp(d, "old", 3), 0);
    free(d);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- flags ---- */

START_TEST(test_args)
{
    int n = 5, sw = 0, npos, help;
    float f = 0;
    const char *s = NULL, *pos[2];
    FloatList fl = {0};
    ArgSpec specs[] = {
        {"n", ARG_INT, &n, 1, 10, "N", "", 0},       {"f", ARG_FLOAT, &f, 0, 1, "X", "", 0},
        {"s", ARG_STR, &s, 0, 0, "S", "", 0},        {"sw", ARG_SWITCH, &sw, 0, 0, NULL, "", 0},
        {"fl", ARG_FLOATS, &fl, 0, 0.99, "L", "", 0},
    };
    Err e;
    char *ok[] = {"--n", "7", "--f=0.25", "--s", "x", "--sw", "--fl", "0.3,0.5", "pos"};
    ck_assert_int_eq(args_parse(9, ok, specs, 5, pos, 2, &npos, &help, &e), ST_OK);
    ck_assert_int_eq(n, 7);
    ck_assert_float_eq(f, 0.25f);
    ck_assert_str_eq(s, "x");
    ck_assert_int_eq(sw, 1);
    ck_assert_int_eq(fl.n, 2);
    ck_assert_float_eq(fl.v[1], 0.5f);
    ck_assert_int_eq(npos, 1);
    struct {
        char *argv[2];
        int argc;
        const char *word;
    } bad[] = {
        {{"--nope", NULL}, 1, "unknown flag '--nope'"}, {{"--n", NULL}, 1, "needs a value"},
        {{"--n", "0"}, 2, "--n: expected a whole number from 1 to 10"}, {{"--n", "3x"}, 2, "got '3x'"},
        {{"--f", "nan"}, 2, "--f"}, {{"--f", "2"}, 2, "from 0 to 1"}, {{"--fl", "0.3,,0.5"}, 2, "--fl"},
        {{"--fl", "0.3,1"}, 2, "--fl"}, {{"--sw=1", NULL}, 1, "takes no value"}, {{"-x", NULL}, 1, "unknown flag"},
        {{"a", "b"}, 2, "unexpected argument 'b'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        for (int j = 0; j < 5; j++) specs[j].seen = 0;
        ck_assert_int_eq(args_parse(bad[k].argc, bad[k].argv, specs, 5, pos, 1, &npos, &help, &e), ST_ERR_ARG);
        ck_assert_msg(strstr(e.msg, bad[k].word) != NULL, "'%s' lacks '%s'", e.msg, bad[k].word);
    }
    for (int j = 0; j < 5; j++) specs[j].seen = 0;
    char *twice[] = {"--n", "2", "--n", "3"};
    ck_assert_int_eq(args_parse(4, twice, specs, 5, pos, 1, &npos, &help, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "twice"));
}
END_TEST

Suite *train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, test_xent_values);
    tcase_add_test(tc, test_xent_gradcheck);
    tcase_add_test(tc, test_sgd_steps);
    tcase_add_test(tc, test_sgd_momentum_steps);
    tcase_add_test(tc, test_adam_steps);
    tcase_add_test(tc, test_adamw_steps);
    tcase_add_test(tc, test_whole_net_gradcheck);
    tcase_add_test(tc, test_net_names_and_arena);
    tcase_add_test(tc, test_weights_round_trip);
    tcase_add_test(tc, test_weights_damage_is_refused);
    tcase_add_test(tc, test_atomic_write_keeps_old_file);
    tcase_add_test(tc, test_args);
    suite_add_tcase(s, tc);
    return s;
}
