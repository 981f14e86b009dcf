/* test_mc.c - predictions beyond accuracy: the confusion matrix sums to the
 * number of images and its trace matches train_evaluate's accuracy; MC
 * dropout with one pass and rate 0 equals the deterministic prediction bit
 * for bit, while dropout on draws different masks per key; accuracy,
 * entropy, NLL and the 15-bin ECE against values computed by hand. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "nn/net.h"
#include "train/confusion.h"
#include "train/mc.h"
#include "train/train.h"

/* n random 8x8 images of 4 classes, brighter in the class's quarter, so
 * that a random net gets some right and some wrong. */
static void make_data(Dataset *d, int n, unsigned seed)
{
    d->n = n, d->h = 8, d->w = 8;
    d->pixels = malloc((size_t)n * 64);
    d->labels = malloc((size_t)n);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int c = (int)rng_below(&r, 4);
        d->labels[i] = (uint8_t)c;
        for (int p = 0; p < 64; p++) {
            int q = (p / 8 >= 4) * 2 + (p % 8 >= 4);
            d->pixels[i * 64 + p] = (uint8_t)(rng_below(&r, 120) + (q == c ? 120 : 0));
        }
    }
}

static Net *make_net(float p, int max_batch)
{
    char text[256];
    snprintf(text, sizeof text, "input 1x8x8\nflatten\ndense 16\nrelu\ndropout %g\ndense 4\n", (double)p);
    NetSpec cfg;
    Err e;
    ck_assert_int_eq(cfg_parse_text("t.cfg", text, &cfg, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&cfg, max_batch, &net, &e), ST_OK);
    net_init(net, 3);
    return net;
}

START_TEST(test_confusion_matches_accuracy)
{
    Dataset d;
    make_data(&d, 301, 7); /* not a multiple of the batch: a short last batch */
    Net *net = make_net(0.3f, 64);
    Err e;
    double loss, acc;
    ck_assert_int_eq(train_evaluate(net, &d, &loss, &acc, &e), ST_OK);
    float *probs = malloc(301 * 4 * sizeof *probs);
    int *pred = malloc(301 * sizeof *pred);
    ck_assert_int_eq(mc_predict(net, &d, 0, 0, probs, pred, NULL, &e), ST_OK);
    long cm[16];
    confusion_count(pred, d.labels, d.n, 4, cm);
    long total = 0, trace = 0;
    for (int i = 0; i < 16; i++) total += cm[i];
    for (int i = 0; i < 4; i++) trace += cm[i * 4 + i];
    ck_assert_int_eq(total, d.n);
    ck_assert_double_eq((double)trace / d.n, acc); /* the same count, the same division */
    ck_assert(trace > 0 && trace < d.n);
    /* rows sum to the class counts */
    for (int c = 0; c < 4; c++) {
        long row = 0, count = 0;
        for (int j = 0; j < 4; j++) row += cm[c * 4 + j];
        for (int i = 0; i < d.n; i++) count += d.labels[i] == c;
        ck_assert_int_eq(row, count);
    }
    /* the table and the names */
    char num[8], nums[4][8];
    const char *names[4];
    for (int c = 0; c < 4; c++) names[c] = confusion_class_name(c, 4, nums[c], sizeof nums[c]);
    ck_assert_str_eq(names[2], "2");
    ck_assert_str_eq(confusion_class_name(9, 10, num, sizeof num), "Ankle boot");
    ck_assert_str_eq(confusion_class_name(0, 10, num, sizeof num), "T-shirt/top");
    ck_assert_str_eq(confusion_class_name(3, 4, num, sizeof num), "3");
    Buf b = {0};
    confusion_format(cm, 4, names, &b);
    char want[64];
    snprintf(want, sizeof want, "%ld of %d right: %.2f%%", trace, d.n, 100 * acc);
    ck_assert_msg(strstr(b.data, want) != NULL, "%s lacks %s", b.data, want);
    buf_free(&b);
    /* errors first: every misclassified image, in order, then the right ones */
    int idx[301];
    int m = confusion_errors_first(pred, d.labels, d.n, 301, idx);
    ck_assert_int_eq(m, d.n);
    long wrong = d.n - trace;
    for (int i = 0; i < m; i++) ck_assert_int_eq(pred[idx[i]] != d.labels[idx[i]], i < wrong);
    for (int i = 1; i < wrong; i++) ck_assert(idx[i] > idx[i - 1]);
    ck_assert_int_eq(confusion_errors_first(pred, d.labels, d.n, 5, idx), 5);
    free(probs), free(pred);
    net_free(net);
    dataset_free(&d);
}
END_TEST

START_TEST(test_mc_one_pass_p0_is_deterministic)
{
    Dataset d;
    make_data(&d, 200, 9);
    Net *net = make_net(0.0f, 64);
    Err e;
    size_t np = 200 * 4;
    float *p0 = malloc(np * sizeof *p0), *p1 = malloc(np * sizeof *p1), *h0 = malloc(200 * sizeof *h0),
          *h1 = malloc(200 * sizeof *h1);
    int *c0 = malloc(200 * sizeof *c0), *c1 = malloc(200 * sizeof *c1);
    ck_assert_int_eq(mc_predict(net, &d, 0, 1, p0, c0, h0, &e), ST_OK);
    ck_assert_int_eq(mc_predict(net, &d, 1, 1, p1, c1, h1, &e), ST_OK);
    ck_assert_int_eq(memcmp(p0, p1, np * sizeof *p0), 0);
    ck_assert_int_eq(memcmp(c0, c1, 200 * sizeof *c0), 0);
    ck_assert_int_eq(memcmp(h0, h1, 200 * sizeof *h0), 0);
    McStats s0, s1;
    mc_summarize(p0, c0, d.labels, d.n, 4, 15, &s0);
    mc_summarize(p1, c1, d.labels, d.n, 4, 15, &s1);
    ck_assert_int_eq(memcmp(&s0, &s1, sizeof s0), 0);
    double loss, acc;
    ck_assert_int_eq(train_evaluate(net, &d, &loss, &acc, &e), ST_OK);
    ck_assert_double_eq(s0.acc, acc);
    ck_assert_double_eq_tol(s0.nll, loss, 1e-5); /* from float probabilities */
    /* probabilities sum to 1; entropy within [0, ln 4] */
    for (int i = 0; i < 200; i++) {
        double sum = 0;
        for (int j = 0; j < 4; j++) sum += p0[i * 4 + j];
        ck_assert_double_eq_tol(sum, 1, 1e-5);
        ck_assert(h0[i] >= 0 && h0[i] <= log(4) + 1e-6);
    }
    net_free(net);

    /* with dropout on, passes differ by key and averaging changes the probabilities */
    net = make_net(0.5f, 64);
    ck_assert_int_eq(mc_predict(net, &d, 0, 1, p0, c0, NULL, &e), ST_OK);
    ck_assert_int_eq(mc_predict(net, &d, 1, 1, p1, c1, NULL, &e), ST_OK);
    ck_assert_int_ne(memcmp(p0, p1, np * sizeof *p0), 0);
    float *p2 = malloc(np * sizeof *p2);
    ck_assert_int_eq(mc_predict(net, &d, 1, 2, p2, NULL, NULL, &e), ST_OK); /* another seed */
    ck_assert_int_ne(memcmp(p1, p2, np * sizeof *p1), 0);
    ck_assert_int_eq(mc_predict(net, &d, 1, 1, p2, NULL, NULL, &e), ST_OK); /* the same seed: the same */
    ck_assert_int_eq(memcmp(p1, p2, np * sizeof *p1), 0);
    /* two passes average two different mask draws: neither single pass */
    ck_assert_int_eq(mc_predict(net, &d, 2, 1, p2, NULL, NULL, &e), ST_OK);
    ck_assert_int_ne(memcmp(p1, p2, np * sizeof *p1), 0);
    /* per batch: the library entry point predict uses */
    float x[3 * 64];
    for (int i = 0; i < 3 * 64; i++) x[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    float pb[12], hb[3];
    int cb[3];
    ck_assert_int_eq(mc_predict_batch(net, x, 3, 8, 42, pb, cb, hb, &e), ST_OK);
    for (int i = 0; i < 3; i++) {
        int a = 0;
        for (int j = 1; j < 4; j++)
            if (pb[i * 4 + j] > pb[i * 4 + a]) a = j;
        ck_assert_int_eq(cb[i], a);
    }
    ck_assert_int_eq(mc_predict_batch(net, x, 65, 1, 42, pb, cb, hb, &e), ST_ERR_ARG);
    free(p0), free(p1), free(p2), free(h0), free(h1), free(c0), free(c1);
    net_free(net);
    dataset_free(&d);
}
END_TEST

START_TEST(test_mc_summary_by_hand)
{
    /* confidences 0.9 (one right, one wrong) and 0.6 (both right) */
    float probs[8] = {0.9f, 0.1f, 0.9f, 0.1f, 0.6f, 0.4f, 0.6f, 0.4f};
    int pred[4] = {0, 0, 0, 0};
    uint8_t labels[4] = {0, 1, 0, 0};
    McStats s;
    mc_summarize(probs, pred, labels, 4, 2, 15, &s);
    ck_assert_double_eq_tol(s.acc, 0.75, 1e-12);
    /* bin 13 ([0.867, 0.933)): |0.5 - 0.9| * 2/4; bin 9 ([0.6, 0.667)): |1 - 0.6| * 2/4 */
    ck_assert_double_eq_tol(s.ece, 0.4, 1e-6);
    double h9 = -(0.9 * log(0.9) + 0.1 * log(0.1)), h6 = -(0.6 * log(0.6) + 0.4 * log(0.4));
    ck_assert_double_eq_tol(s.entropy, (h9 + h6) / 2, 1e-6);
    ck_assert_double_eq_tol(s.nll, (-log(0.9) - log(0.1) - 2 * log(0.6)) / 4, 1e-6);
    /* perfectly calibrated: confidence 1 and always right */
    float sure[4] = {1, 0, 0, 1};
    int sp[2] = {0, 1};
    uint8_t sl[2] = {0, 1};
    mc_summarize(sure, sp, sl, 2, 2, 15, &s);
    ck_assert_double_eq(s.ece, 0);
    ck_assert_double_eq(s.entropy, 0);
    ck_assert_double_eq(s.acc, 1);
}
END_TEST

Suite *mc_suite(void)
{
    Suite *s = suite_create("mc");
    TCase *tc = tcase_create("mc");
    tcase_add_test(tc, test_confusion_matches_accuracy);
    tcase_add_test(tc, test_mc_one_pass_p0_is_deterministic);
    tcase_add_test(tc, test_mc_summary_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
