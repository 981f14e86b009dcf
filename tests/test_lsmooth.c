/* test_lsmooth.c - label smoothing (nn/loss.h: softmax_xent_smooth, train
 * --label-smoothing): the loss and gradient against numbers computed by
 * hand, eps = 0 equal to softmax_xent bit for bit, the gradient against
 * central differences, both against PyTorch's
 * nn.CrossEntropyLoss(label_smoothing=eps) on random logits (skipped visibly
 * without python3-torch), the flag's range and the checkpoint's key. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/loss.h"
#include "testutil.h"
#include "train/settings.h"
#include "util/fileio.h"
#include "util/rng.h"

static char out[1 << 16];

/* Row 0: z = (1, 2, 3), label 2: lse = log(e + e^2 + e^3) = 3.40760596444438,
 * loss = 0.9 (lse - 3) + 0.1 (lse - 2) = lse - 2.9. Row 1: z = (1000, 0,
 * -1000), label 1: lse = 1000 (to double precision), mean z = 0, loss =
 * 0.9 * 1000 + 0.1 * 1000 = 1000. */
START_TEST(test_values_by_hand)
{
    float z[6] = {1, 2, 3, 1000, 0, -1000}, d[6];
    int y[2] = {2, 1}, right;
    double l = softmax_xent_smooth(z, y, 2, 3, 0.1f, 0.5f, d, &right);
    const double lse = 3.40760596444438, eps = (double)0.1f;
    ck_assert_double_eq_tol(l, (lse - 3) * (1 - eps) + (lse - 2) * eps + 1000.0, 1e-9);
    ck_assert_double_eq_tol(l, 0.5076059644443802 + 1000.0, 1e-6);
    ck_assert_int_eq(right, 1);
    /* d = 0.5 (softmax - (0.9 onehot + 0.1/3)) */
    for (int j = 0; j < 3; j++) {
        double p = exp(z[j] - lse), t = (j == 2 ? 1 - eps : 0) + eps / 3;
        ck_assert_float_eq_tol(d[j], (float)(0.5 * (p - t)), 1e-6f);
    }
    ck_assert_float_eq_tol(d[3], (float)(0.5 * (1 - eps / 3)), 1e-6f);
    ck_assert_float_eq_tol(d[4], (float)(0.5 * (-(1 - eps) - eps / 3)), 1e-6f);
    ck_assert_float_eq_tol(d[5], (float)(0.5 * (-eps / 3)), 1e-6f);
    ck_assert_float_eq_tol(d[0] + d[1] + d[2], 0.0f, 1e-6f); /* the target sums to 1 */
    /* without the gradient: the same loss and count */
    ck_assert(softmax_xent_smooth(z, y, 2, 3, 0.1f, 0, NULL, &right) == l);
    ck_assert_int_eq(right, 1);
}
END_TEST

/* eps = 0 is softmax_xent, to the bit: loss, gradient and count. */
START_TEST(test_zero_is_plain)
{
    enum { N = 7, K = 10 };
    float z[N * K], d0[N * K], d1[N * K];
    int y[N], c0, c1;
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < N * K; i++) z[i] = 8 * rng_uniform(&r) - 4;
    for (int i = 0; i < N; i++) y[i] = (int)rng_below(&r, K);
    double l0 = softmax_xent(z, y, N, K, 1.0f / N, d0, &c0), l1 = softmax_xent_smooth(z, y, N, K, 0.0f, 1.0f / N, d1, &c1);
    ck_assert(memcmp(&l0, &l1, sizeof l0) == 0);
    ck_assert_int_eq(memcmp(d0, d1, sizeof d0), 0);
    ck_assert_int_eq(c0, c1);
}
END_TEST

/* The gradient (scale 1/N: the batch mean) against central differences of
 * the smoothed loss, for several eps. */
START_TEST(test_gradcheck)
{
    enum { N = 3, K = 5 };
    const float eps[] = {0.05f, 0.1f, 0.3f, 0.9f};
    for (size_t q = 0; q < sizeof eps / sizeof eps[0]; q++) {
        float z[N * K], d[N * K];
        int y[N] = {0, 4, 2};
        Rng r;
        rng_seed(&r, 11 + q);
        for (int i = 0; i < N * K; i++) z[i] = 4 * rng_uniform(&r) - 2;
        softmax_xent_smooth(z, y, N, K, eps[q], 1.0f / N, d, NULL);
        for (int i = 0; i < N * K; i++) {
            float keep = z[i];
            double h = 1e-2;
            z[i] = keep + (float)h;
            double lp = softmax_xent_smooth(z, y, N, K, eps[q], 0, NULL, NULL) / N;
            z[i] = keep - (float)h;
            double lm = softmax_xent_smooth(z, y, N, K, eps[q], 0, NULL, NULL) / N;
            z[i] = keep;
            ck_assert_msg(fabs(d[i] - (lp - lm) / (2 * h)) <= 1e-4, "eps %g, logit %d: analytic %g, numeric %g",
                          (double)eps[q], i, (double)d[i], (lp - lm) / (2 * h));
        }
    }
}
END_TEST

/* PyTorch, on random logits (float64 there, from our float32 values): the
 * mean loss and its gradient for eps 0, 0.1 and 0.25. */
enum { PT_N = 6, PT_K = 10 };
static const float PT_EPS[] = {0.0f, 0.1f, 0.25f};

static void write_torch_script(const char *path, const float *z, const int *y)
{
    Buf b = {0};
    buf_printf(&b, "import sys\ntry:\n    import torch\nexcept ImportError:\n    sys.exit(3)\nz = [");
    for (int i = 0; i < PT_N * PT_K; i++) buf_printf(&b, "%.17g,", (double)z[i]); /* the float, exactly */
    buf_printf(&b, "]\ny = [");
    for (int i = 0; i < PT_N; i++) buf_printf(&b, "%d,", y[i]);
    buf_printf(&b, "]\nfor eps in [");
    for (size_t q = 0; q < sizeof PT_EPS / sizeof PT_EPS[0]; q++) buf_printf(&b, "%.17g,", (double)PT_EPS[q]);
    buf_printf(&b, "]:\n"
                   "    t = torch.tensor(z, dtype=torch.float64).reshape(%d, %d).requires_grad_()\n"
                   "    loss = torch.nn.CrossEntropyLoss(label_smoothing=eps)(t, torch.tensor(y))\n"
                   "    loss.backward()\n"
                   "    print(repr(loss.item()), ' '.join(repr(v) for v in t.grad.flatten().tolist()))\n",
               PT_N, PT_K);
    Err e;
    ck_assert(!b.failed);
    ck_assert_int_eq(file_write_atomic(path, b.data, b.len, &e), ST_OK);
    buf_free(&b);
}

START_TEST(test_pytorch)
{
    float z[PT_N * PT_K], d[PT_N * PT_K];
    int y[PT_N];
    Rng r;
    rng_seed(&r, 17);
    for (int i = 0; i < PT_N * PT_K; i++) z[i] = 10 * rng_uniform(&r) - 5;
    for (int i = 0; i < PT_N; i++) y[i] = (int)rng_below(&r, PT_K);
    char *dir = make_temp_dir(), path[600], cmd[700];
    snprintf(path, sizeof path, "%s/ls.py", dir);
    write_torch_script(path, z, y);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", path);
    int rc = run_shell(cmd, out, sizeof out);
    rm_tree(dir);
    free(dir);
    if (rc == 3 || rc == 127) {
        printf("skipped: test_pytorch of the lsmooth suite (no python3-torch for /usr/bin/python3)\n");
        return;
    }
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    const char *p = out;
    for (size_t q = 0; q < sizeof PT_EPS / sizeof PT_EPS[0]; q++) {
        double mine = softmax_xent_smooth(z, y, PT_N, PT_K, PT_EPS[q], 1.0f / PT_N, d, NULL) / PT_N;
        char *end;
        double theirs = strtod(p, &end);
        ck_assert_msg(end != p, "PyTorch printed: %s", out);
        p = end;
        ck_assert_msg(fabs(mine - theirs) <= 1e-12 * fabs(theirs) + 1e-12, "eps %g: loss %.17g, PyTorch %.17g",
                      (double)PT_EPS[q], mine, theirs);
        for (int i = 0; i < PT_N * PT_K; i++) {
            double g = strtod(p, &end);
            ck_assert_msg(end != p, "PyTorch printed: %s", out);
            p = end;
            ck_assert_msg(fabs(d[i] - g) <= 1e-7, "eps %g, logit %d: gradient %.9g, PyTorch %.9g", (double)PT_EPS[q],
                          i, (double)d[i], g);
        }
    }
    printf("PyTorch's CrossEntropyLoss(label_smoothing=0, 0.1, 0.25) vs softmax_xent_smooth: loss and gradient "
           "agree on %d x %d logits\n", PT_N, PT_K);
}
END_TEST

/* The SETS key: written, read back, absent = 0 (older checkpoints), 1 and
 * more refused. */
START_TEST(test_settings_key)
{
    RunSettings s, t;
    settings_defaults(&s);
    snprintf(s.model, sizeof s.model, "models/mlp.cfg");
    s.train.epochs = 2, s.train.batch = 32, s.train_n = 100;
    s.train.label_smoothing = 0.1f;
    Buf b = {0};
    settings_format(&s, &b);
    buf_put(&b, "", 1);
    ck_assert_ptr_nonnull(strstr(b.data, "\nlabel_smoothing=0.1\n"));
    Err e;
    ck_assert_msg(settings_parse("x.fmw", b.data, &t, &e) == ST_OK, "%s", e.msg);
    ck_assert(t.train.label_smoothing == 0.1f);
    char *line = strstr(b.data, "\nlabel_smoothing=0.1\n") + 1;
    memmove(line, line + 20, strlen(line + 20) + 1); /* absent: off */
    ck_assert_ptr_null(strstr(b.data, "label_smoothing"));
    ck_assert_msg(settings_parse("x.fmw", b.data, &t, &e) == ST_OK, "%s", e.msg);
    ck_assert(t.train.label_smoothing == 0.0f);
    const char *bad[] = {"label_smoothing=1\n", "label_smoothing=-0.1\n", "label_smoothing=x\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        Buf c = {0};
        buf_printf(&c, "%s%s", b.data, bad[k]);
        buf_put(&c, "", 1);
        ck_assert_int_eq(settings_parse("x.fmw", c.data, &t, &e), ST_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(e.msg, "label_smoothing"));
        buf_free(&c);
    }
    buf_free(&b);
}
END_TEST

/* The binary: the flag's range; the run header says what the train loss is;
 * the train loss differs from the unsmoothed run's, the test loss stays
 * plain (a smoothed run's first-epoch test loss is not the smoothed value). */
START_TEST(test_binary)
{
    expect_fmnist("train --label-smoothing 1", 2, "--label-smoothing", out, sizeof out);
    expect_fmnist("train --label-smoothing 1.5", 2, "--label-smoothing", out, sizeof out);
    expect_fmnist("train --label-smoothing -0.1", 2, "--label-smoothing", out, sizeof out);
    expect_fmnist("train --label-smoothing x", 2, "--label-smoothing", out, sizeof out);
    char *dir = make_temp_dir(), args[2048];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 200, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 60, 9), 0);
    const char *common = "--epochs 1 --batch 50 --lr 0.01 --threads 1 --no-progress";
    snprintf(args, sizeof args, "train %s --data %s --out %s/plain", common, dir, dir);
    expect_fmnist(args, 0, "epoch 1/1", out, sizeof out);
    ck_assert_ptr_null(strstr(out, "label smoothing"));
    snprintf(args, sizeof args, "train %s --label-smoothing 0.2 --data %s --out %s/ls", common, dir, dir);
    expect_fmnist(args, 0, "loss: cross-entropy with label smoothing 0.2 (the train loss shown includes it; test",
                  out, sizeof out);
    char path[700];
    snprintf(path, sizeof path, "%s/plain/log.csv", dir);
    char *a = read_all_or_fail(path, NULL);
    snprintf(path, sizeof path, "%s/ls/log.csv", dir);
    char *b = read_all_or_fail(path, NULL);
    double la = strtod(strchr(strchr(a, '\n') + 1, ',') + 1, NULL), lb = strtod(strchr(strchr(b, '\n') + 1, ',') + 1, NULL);
    ck_assert_msg(la != lb && la > 0 && lb > 0, "train losses %g and %g", la, lb);
    free(a), free(b);
    snprintf(args, sizeof args, "info %s/ls/model.fmw", dir);
    expect_fmnist(args, 0, "label smoothing 0.2", out, sizeof out);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *lsmooth_suite(void)
{
    Suite *s = suite_create("lsmooth");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, test_values_by_hand);
    tcase_add_test(tc, test_zero_is_plain);
    tcase_add_test(tc, test_gradcheck);
    tcase_add_test(tc, test_settings_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("pytorch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pytorch);
    suite_add_tcase(s, tc);
    tc = tcase_create("binary");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_binary);
    suite_add_tcase(s, tc);
    return s;
}
