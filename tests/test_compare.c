/* test_compare.c - the statistics of a sweep against hand-computed values:
 * mean, sample sd and the 95% t interval (util/stats.h), the t quantile
 * against closed forms and tables, then a made-up sweep of three settings
 * x three seeds (one seed missing) built in memory: each run's figures and
 * best epoch, the setting chosen by validation, the paired differences and
 * their intervals, the verdicts, proof that no choice reads a test figure,
 * the summary without validation and with one seed, and the CSV, Markdown
 * and text tables. */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/compare.h"
#include "util/stats.h"

#define EPOCHS 3

/* ---- stats -------------------------------------------------------------- */

START_TEST(test_stats_hand_computed)
{
    /* {1..5}: mean 3, sd sqrt(10/4) = 1.5811388, half width 2.7764451 * 1.5811388 / sqrt(5) = 1.9632432 */
    double x[5] = {1, 2, 3, 4, 5};
    Stat s;
    stats_of(x, 5, &s);
    ck_assert_int_eq(s.n, 5);
    ck_assert_double_eq_tol(s.mean, 3, 1e-12);
    ck_assert_double_eq_tol(s.sd, 1.5811388301, 1e-9);
    ck_assert_double_eq_tol(s.lo, 1.0367568, 1e-7);
    ck_assert_double_eq_tol(s.hi, 4.9632432, 1e-7);
    /* the same values far from 0: the sd is still exact (no cancellation) */
    double y[5] = {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4, 1e9 + 5};
    stats_of(y, 5, &s);
    ck_assert_double_eq_tol(s.sd, 1.5811388301, 1e-6);
    /* {0.870, 0.875, 0.880}: sd 0.005, half width 4.3026527 * 0.005 / sqrt(3) = 0.0124207 */
    double z[3] = {0.870, 0.875, 0.880};
    stats_of(z, 3, &s);
    ck_assert_double_eq_tol(s.mean, 0.875, 1e-12);
    ck_assert_double_eq_tol(s.sd, 0.005, 1e-12);
    ck_assert_double_eq_tol(s.lo, 0.8625793, 1e-7);
    ck_assert_double_eq_tol(s.hi, 0.8874207, 1e-7);
    /* one value: a mean, no sd, no interval; none: nothing */
    stats_of(x + 1, 1, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_double_eq(s.mean, 2);
    ck_assert(isnan(s.sd) && isnan(s.lo) && isnan(s.hi));
    stats_of(x, 0, &s);
    ck_assert_int_eq(s.n, 0);
    ck_assert(isnan(s.mean) && isnan(s.sd) && isnan(s.lo) && isnan(s.hi));
    /* equal values: sd 0, the interval is the point */
    double c[4] = {0.5, 0.5, 0.5, 0.5};
    stats_of(c, 4, &s);
    ck_assert_double_eq(s.sd, 0);
    ck_assert_double_eq(s.lo, 0.5);
    ck_assert_double_eq(s.hi, 0.5);
}
END_TEST

START_TEST(test_t_quantile)
{
    /* closed forms: df 1 is tan(0.475 pi); df 2 solves t / sqrt(2 + t^2) = 0.95, t^2 = 1.805 / 0.0975 */
    ck_assert_double_eq_tol(stats_t975(1), tan(0.475 * 3.14159265358979323846), 1e-9);
    ck_assert_double_eq_tol(stats_t975(2), sqrt(1.805 / 0.0975), 1e-9);
    /* tables (8 significant digits) */
    struct {
        int df;
        double t;
    } tab[] = {{1, 12.706205},   {2, 4.3026527},   {3, 3.1824463},   {4, 2.7764451},  {5, 2.5705818},
               {9, 2.2621572},   {10, 2.2281389},  {29, 2.0452296},  {30, 2.0422725}, {100, 1.9839715},
               {1000, 1.9623391}, {1001, 1.9623367}, {1000000, 1.9599664}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        ck_assert_msg(fabs(stats_t975(tab[i].df) - tab[i].t) < 1e-6 * tab[i].t, "t975(%d) = %.9f, want %.7f",
                      tab[i].df, stats_t975(tab[i].df), tab[i].t);
    /* falls with df towards the normal's 1.959964, also across the change of method at 1000 */
    for (int df = 2; df <= 3000; df++) ck_assert_msg(stats_t975(df) < stats_t975(df - 1), "df %d", df);
    ck_assert(stats_t975(2147483647) > 1.959963984 && stats_t975(2147483647) < 1.959964);
    ck_assert(isnan(stats_t975(0)));
}
END_TEST

/* ---- a made-up sweep ---------------------------------------------------- */

/* A run's log in memory: EPOCHS rows. */
typedef struct {
    int epoch[EPOCHS];
    double train_loss[EPOCHS], train_acc[EPOCHS], test_loss[EPOCHS], test_acc[EPOCHS], seconds[EPOCHS];
    double val_loss[EPOCHS], val_acc[EPOCHS];
    Curve c;
} Log;

/* A log ending at test accuracy acc and validation loss vl: validation loss
 * is lowest at epoch 2 (vl - 0.01), where test accuracy is lowest (acc -
 * 0.03) and test loss highest; both test figures are best at epoch 3. */
static void make_log(Log *l, double acc, double vl, int val)
{
    for (int i = 0; i < EPOCHS; i++) {
        l->epoch[i] = i + 1;
        l->train_loss[i] = 0.5 - 0.1 * i;
        l->train_acc[i] = 0.8 + 0.05 * i;
        l->seconds[i] = 2.0;
    }
    double dacc[EPOCHS] = {-0.02, -0.03, 0}, dvl[EPOCHS] = {0.05, -0.01, 0};
    for (int i = 0; i < EPOCHS; i++) {
        l->test_acc[i] = acc + dacc[i];
        l->test_loss[i] = 0.4 - dacc[i];
        l->val_loss[i] = vl + dvl[i];
        l->val_acc[i] = 0.85 + 0.01 * i;
    }
    l->c = (Curve){EPOCHS,      l->epoch,   l->train_loss, l->train_acc, l->test_loss, l->test_acc, l->seconds,
                   NULL,        val ? l->val_loss : NULL, val ? l->val_acc : NULL};
}

/* Settings A "dropout 0/0", B "dropout 0.3/0.5, wd 1e-4" (a comma, for
 * CSV quoting), C "dropout 0.5/0.5"; seeds 1, 2, 3, C without seed 2.
 *   final test acc   A .870 .875 .880   B .880 .882 .890   C .860 -- .866
 *   final val loss   A .34  .35  .36    B .33  .33  .34    C .36  -- .37
 * Mean val loss: A .35, B .3333, C .365: B is chosen. Paired against B:
 *   A - B: -.010 -.007 -.010: mean -.009, sd .0017321, half 4.3026527 * .001 = .0043027
 *          interval [-.0133027, -.0046973]: lower
 *   C - B (seeds 1, 3): -.020 -.024: mean -.022, sd .0028284, half 12.706205 * .002 = .0254124
 *          interval [-.0474124, +.0034124]: includes 0 */
#define NRUNS 8
static const CompareSetting SETTINGS[3] = {{"dropout0-0", "dropout 0/0"},
                                           {"dropout0.3-0.5_wd1e-4", "dropout 0.3/0.5, wd 1e-4"},
                                           {"dropout0.5-0.5", "dropout 0.5/0.5"}};
static const int RUN_SETTING[NRUNS] = {0, 0, 0, 1, 1, 1, 2, 2};
static const int RUN_SEED[NRUNS] = {1, 2, 3, 1, 2, 3, 1, 3};
static const double RUN_ACC[NRUNS] = {0.870, 0.875, 0.880, 0.880, 0.882, 0.890, 0.860, 0.866};
static const double RUN_VL[NRUNS] = {0.34, 0.35, 0.36, 0.33, 0.33, 0.34, 0.36, 0.37};

static void make_sweep(Log *logs, CompareInput *in, int val)
{
    for (int i = 0; i < NRUNS; i++) {
        make_log(&logs[i], RUN_ACC[i], RUN_VL[i], val);
        in[i] = (CompareInput){RUN_SETTING[i], RUN_SEED[i], &logs[i].c};
    }
}

static char *format(const CompareSummary *s, CompareFormat f)
{
    Buf b = {0};
    compare_format(s, f, &b);
    buf_put(&b, "", 1);
    ck_assert(!b.failed);
    return b.data;
}

/* Whether text contains word, ignoring case. */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)word[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

START_TEST(test_run_figures)
{
    Log l;
    make_log(&l, 0.87, 0.34, 1);
    CompareRun r;
    Err e;
    ck_assert_int_eq(compare_run(&l.c, &r, &e), ST_OK);
    ck_assert_int_eq(r.epochs, 3);
    ck_assert_double_eq_tol(r.final_test_acc, 0.87, 1e-12);
    ck_assert_double_eq_tol(r.final_test_loss, 0.4, 1e-12);
    ck_assert_double_eq_tol(r.final_train_loss, 0.3, 1e-12);
    ck_assert_double_eq_tol(r.loss_gap, 0.1, 1e-12);
    ck_assert_double_eq_tol(r.acc_gap, 0.9 - 0.87, 1e-12);
    ck_assert_double_eq_tol(r.seconds, 6, 1e-12);
    ck_assert(r.has_val && !r.has_norm);
    ck_assert_double_eq_tol(r.final_val_loss, 0.34, 1e-12);
    ck_assert_double_eq_tol(r.final_val_acc, 0.87, 1e-12);
    /* the best epoch is the lowest validation loss (epoch 2), not the best test figures (epoch 3) */
    ck_assert_int_eq(r.best_epoch, 2);
    ck_assert_double_eq_tol(r.best_val_loss, 0.33, 1e-12);
    ck_assert_double_eq_tol(r.test_acc_at_best, 0.84, 1e-12);
    /* a tie: the first lowest */
    l.val_loss[2] = l.val_loss[1];
    ck_assert_int_eq(compare_run(&l.c, &r, &e), ST_OK);
    ck_assert_int_eq(r.best_epoch, 2);
    l.val_loss[0] = l.val_loss[1];
    ck_assert_int_eq(compare_run(&l.c, &r, &e), ST_OK);
    ck_assert_int_eq(r.best_epoch, 1);
    /* without validation: no best epoch */
    make_log(&l, 0.87, 0.34, 0);
    ck_assert_int_eq(compare_run(&l.c, &r, &e), ST_OK);
    ck_assert(!r.has_val);
    ck_assert_int_eq(r.best_epoch, 0);
    ck_assert(isnan(r.final_val_loss) && isnan(r.test_acc_at_best));
    /* the weight norm: its last value */
    double wn[EPOCHS] = {3, 2, 1.5};
    l.c.weight_norm = wn;
    ck_assert_int_eq(compare_run(&l.c, &r, &e), ST_OK);
    ck_assert(r.has_norm);
    ck_assert_double_eq(r.weight_norm, 1.5);
    /* a log without rows */
    l.c.n = 0;
    ck_assert_int_eq(compare_run(&l.c, &r, &e), ST_ERR_FORMAT);
}
END_TEST

START_TEST(test_summary_hand_computed)
{
    Log logs[NRUNS];
    CompareInput in[NRUNS];
    make_sweep(logs, in, 1);
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s, &e), ST_OK);
    ck_assert_int_eq(s.nruns, NRUNS);
    for (int i = 0; i < NRUNS; i++) {
        ck_assert_int_eq(s.runs[i].setting, RUN_SETTING[i]);
        ck_assert_int_eq(s.runs[i].seed, RUN_SEED[i]);
        ck_assert_int_eq(s.runs[i].best_epoch, 2);
    }
    /* per setting */
    const CompareAgg *a = &s.aggs[0];
    ck_assert_int_eq(a->test_acc.n, 3);
    ck_assert_double_eq_tol(a->test_acc.mean, 0.875, 1e-12);
    ck_assert_double_eq_tol(a->test_acc.sd, 0.005, 1e-12);
    ck_assert_double_eq_tol(a->test_acc.lo, 0.8625793, 1e-7);
    ck_assert_double_eq_tol(a->test_acc.hi, 0.8874207, 1e-7);
    ck_assert_double_eq_tol(a->test_loss.mean, 0.4, 1e-12);
    ck_assert_double_eq_tol(a->test_loss.sd, 0, 1e-12);
    ck_assert_double_eq_tol(a->loss_gap.mean, 0.1, 1e-12);
    ck_assert_double_eq_tol(a->val_loss.mean, 0.35, 1e-12);
    ck_assert_double_eq_tol(a->seconds, 6, 1e-12);
    ck_assert_int_eq(s.aggs[2].test_acc.n, 2);
    ck_assert_double_eq_tol(s.aggs[2].test_acc.mean, 0.863, 1e-12);
    ck_assert_double_eq_tol(s.aggs[2].val_loss.mean, 0.365, 1e-12);
    /* chosen by validation loss: B */
    ck_assert_int_eq(s.best, 1);
    ck_assert_int_eq(s.ref, 1);
    /* A against B: lower */
    const ComparePair *p = &s.pairs[0];
    ck_assert_int_eq(p->shared, 3);
    ck_assert_double_eq_tol(p->diff.mean, -0.009, 1e-12);
    ck_assert_double_eq_tol(p->diff.sd, 0.0017320508, 1e-9);
    ck_assert_double_eq_tol(p->diff.lo, -0.0133026527, 1e-9);
    ck_assert_double_eq_tol(p->diff.hi, -0.0046973473, 1e-9);
    ck_assert_int_eq(p->verdict, COMPARE_LOWER);
    /* validation loss, paired: .34-.33, .35-.33, .36-.34 = .01 .02 .02 */
    ck_assert_int_eq(p->val_diff.n, 3);
    ck_assert_double_eq_tol(p->val_diff.mean, 0.05 / 3, 1e-12);
    /* C against B over the two shared seeds: not distinguishable */
    p = &s.pairs[2];
    ck_assert_int_eq(p->shared, 2);
    ck_assert_double_eq_tol(p->diff.mean, -0.022, 1e-12);
    ck_assert_double_eq_tol(p->diff.sd, 0.0028284271, 1e-9);
    ck_assert_double_eq_tol(p->diff.lo, -0.0474124095, 1e-9);
    ck_assert_double_eq_tol(p->diff.hi, 0.0034124095, 1e-9);
    ck_assert_int_eq(p->verdict, COMPARE_SAME);
    /* the reference against itself */
    ck_assert_int_eq(s.pairs[1].shared, 3);
    ck_assert_double_eq(s.pairs[1].diff.mean, 0);
    compare_free(&s);
    ck_assert_ptr_null(s.runs);
}
END_TEST

START_TEST(test_verdicts)
{
    /* R the reference (first, no validation); H higher on 3 seeds; S with a
     * single shared seed; E with no run at all. Diffs H - R: .030 .025 .025:
     * mean .026667, sd .0028868, half 4.3026527 * .0016667 = .0071711 */
    CompareSetting set[4] = {{"r", "R"}, {"h", "H"}, {"s", "S"}, {"e", "E"}};
    double acc[7] = {0.80, 0.81, 0.82, 0.83, 0.835, 0.845, 0.90};
    int setting[7] = {0, 0, 0, 1, 1, 1, 2}, seed[7] = {1, 2, 3, 1, 2, 3, 2};
    Log logs[7];
    CompareInput in[7];
    for (int i = 0; i < 7; i++) {
        make_log(&logs[i], acc[i], 0.3, 0);
        in[i] = (CompareInput){setting[i], seed[i], &logs[i].c};
    }
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(set, 4, in, 7, &s, &e), ST_OK);
    ck_assert_int_eq(s.best, -1);
    ck_assert_int_eq(s.ref, 0);
    ck_assert_int_eq(s.pairs[1].verdict, COMPARE_HIGHER);
    ck_assert_double_eq_tol(s.pairs[1].diff.mean, 0.08 / 3, 1e-12);
    ck_assert_double_eq_tol(s.pairs[1].diff.lo, 0.08 / 3 - 0.0071710879, 1e-9);
    ck_assert_int_eq(s.pairs[2].shared, 1);
    ck_assert_int_eq(s.pairs[2].verdict, COMPARE_NO_STATEMENT);
    ck_assert_int_eq(s.pairs[3].shared, 0);
    ck_assert_int_eq(s.pairs[3].verdict, COMPARE_NO_STATEMENT);
    ck_assert_int_eq(s.aggs[3].test_acc.n, 0);
    char *t = format(&s, COMPARE_TEXT);
    ck_assert_msg(strstr(t, "H: test accuracy +2.67 points against R (95% interval +1.95 to +3.38, paired t over 3 "
                            "shared seeds): higher, distinguishable from seed noise."),
                  "%s", t);
    ck_assert_msg(strstr(t, "S: 1 seed shared with R: no statement about the difference can be made"), "%s", t);
    ck_assert_msg(strstr(t, "E: no finished run."), "%s", t);
    free(t);
    compare_free(&s);
    /* a setting out of range is refused */
    in[0].setting = 4;
    ck_assert_int_eq(compare_summarize(set, 4, in, 7, &s, &e), ST_ERR_ARG);
    /* a log without rows is named */
    in[0].setting = 0;
    logs[4].c.n = 0;
    ck_assert_int_eq(compare_summarize(set, 4, in, 7, &s, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "h, seed 2"), "%s", e.msg);
}
END_TEST

/* Every test figure of every run replaced by its mirror image (accuracy
 * 1 - a, loss 5 - l): the order of settings and of epochs by test figures is
 * reversed, the choices must not move. */
START_TEST(test_no_choice_reads_test_figures)
{
    Log logs[NRUNS];
    CompareInput in[NRUNS];
    make_sweep(logs, in, 1);
    CompareSummary s1, s2;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s1, &e), ST_OK);
    /* B has the highest test accuracy and each run's is highest at its last epoch... */
    ck_assert(s1.aggs[1].test_acc.mean > s1.aggs[0].test_acc.mean);
    for (int i = 0; i < NRUNS; i++)
        for (int k = 0; k < EPOCHS; k++) {
            logs[i].test_acc[k] = 1 - logs[i].test_acc[k];
            logs[i].test_loss[k] = 5 - logs[i].test_loss[k];
        }
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s2, &e), ST_OK);
    /* ...now the lowest: the choices stay */
    ck_assert(s2.aggs[1].test_acc.mean < s2.aggs[0].test_acc.mean && s2.aggs[1].test_acc.mean < s2.aggs[2].test_acc.mean);
    ck_assert_int_eq(s2.best, s1.best);
    ck_assert_int_eq(s2.ref, s1.ref);
    for (int i = 0; i < NRUNS; i++) {
        ck_assert_int_eq(s2.runs[i].best_epoch, s1.runs[i].best_epoch);
        ck_assert_double_eq(s2.runs[i].best_val_loss, s1.runs[i].best_val_loss);
    }
    /* the differences are reported, mirrored */
    ck_assert_double_eq_tol(s2.pairs[0].diff.mean, -s1.pairs[0].diff.mean, 1e-12);
    ck_assert_int_eq(s2.pairs[0].verdict, COMPARE_HIGHER);
    compare_free(&s1);
    compare_free(&s2);
    /* and a change of validation figures alone does move the choice: A becomes the lowest */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < EPOCHS; k++) logs[i].val_loss[k] -= 0.1;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s1, &e), ST_OK);
    ck_assert_int_eq(s1.best, 0);
    ck_assert_int_eq(s1.ref, 0);
    compare_free(&s1);
}
END_TEST

START_TEST(test_no_validation)
{
    Log logs[NRUNS];
    CompareInput in[NRUNS];
    make_sweep(logs, in, 0);
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s, &e), ST_OK);
    ck_assert_int_eq(s.best, -1);
    ck_assert_int_eq(s.ref, 0);
    ck_assert_int_eq(s.aggs[1].val_loss.n, 0);
    /* B - A: +.010 +.007 +.010 */
    ck_assert_double_eq_tol(s.pairs[1].diff.mean, 0.009, 1e-12);
    ck_assert_int_eq(s.pairs[1].verdict, COMPARE_HIGHER);
    ck_assert_int_eq(s.pairs[2].shared, 2);
    CompareFormat f[3] = {COMPARE_TEXT, COMPARE_MD, COMPARE_CSV};
    for (int i = 0; i < 3; i++) {
        char *t = format(&s, f[i]);
        ck_assert_msg(!has_word(t, "best") && !has_word(t, "chosen") && !has_word(t, "choose"), "%s", t);
        if (f[i] != COMPARE_CSV) {
            ck_assert_msg(strstr(t, "No validation set: nothing is selected (test figures are never used to select); "
                                    "settings are compared with the first one, dropout 0/0."),
                          "%s", t);
            ck_assert_msg(!has_word(t, "val loss") && !has_word(t, "validation loss"), "%s", t);
        }
        free(t);
    }
    compare_free(&s);
}
END_TEST

START_TEST(test_one_seed)
{
    Log logs[3];
    CompareInput in[3];
    for (int i = 0; i < 3; i++) {
        make_log(&logs[i], 0.87 + 0.01 * i, 0.35 - 0.01 * i, 1);
        in[i] = (CompareInput){i, 1, &logs[i].c};
    }
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, 3, &s, &e), ST_OK);
    ck_assert_int_eq(s.best, 2);
    for (int k = 0; k < 3; k++) ck_assert_int_eq(s.pairs[k].verdict, COMPARE_NO_STATEMENT);
    char *t = format(&s, COMPARE_MD);
    ck_assert_msg(strstr(t, "One seed per setting: no statement about the differences can be made; run more seeds "
                            "(--seeds 1,2,3,4,5)."),
                  "%s", t);
    ck_assert_msg(!strstr(t, "points against"), "%s", t);
    ck_assert_msg(strstr(t, "| dropout 0/0 | 1 | 87.00% | n/a |"), "%s", t);
    free(t);
    t = format(&s, COMPARE_CSV);
    ck_assert_msg(strstr(t, "setting,dropout0-0,\"dropout 0/0\",,1,,0.870000,,,,"), "%s", t);
    ck_assert_msg(strstr(t, ",1,no_statement\n"), "%s", t);
    free(t);
    compare_free(&s);
}
END_TEST

/* ---- the tables --------------------------------------------------------- */

/* Splits a CSV line into fields (quoted fields unquoted); returns the count. */
static int csv_fields(const char *line, char f[][64], int max)
{
    int n = 0;
    const char *p = line;
    while (n < max) {
        size_t k = 0;
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"') p++;
                if (k < 63) f[n][k++] = *p;
            }
            if (*p == '"') p++;
        } else {
            for (; *p && *p != ',' && *p != '\n'; p++)
                if (k < 63) f[n][k++] = *p;
        }
        f[n++][k] = 0;
        if (*p != ',') break;
        p++;
    }
    return n;
}

/* The line of text starting with prefix (a copy, at most len bytes). */
static int find_line(const char *text, const char *prefix, char *line, size_t len)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, prefix, strlen(prefix))) {
            size_t n = strcspn(p, "\n");
            snprintf(line, len, "%.*s", (int)n, p);
            return 1;
        }
    return 0;
}

static int col_of(char head[][64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(head[i], name)) return i;
    ck_abort_msg("no column %s", name);
    return -1;
}

START_TEST(test_csv)
{
    Log logs[NRUNS];
    CompareInput in[NRUNS];
    make_sweep(logs, in, 1);
    double wn[EPOCHS] = {3, 2, 1.25};
    logs[0].c.weight_norm = wn;
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s, &e), ST_OK);
    char *t = format(&s, COMPARE_CSV), line[1024];
    static char head[40][64], f[40][64];
    int nlines = 0;
    for (const char *p = t; *p; p++) nlines += *p == '\n';
    ck_assert_int_eq(nlines, 1 + NRUNS + 3);
    ck_assert(find_line(t, "kind,", line, sizeof line));
    int nh = csv_fields(line, head, 40);
    ck_assert_int_eq(nh, 31);
    ck_assert_str_eq(head[nh - 1], "weight_norm");
    /* every row has the header's columns */
    for (const char *p = t; *p; p = strchr(p, '\n') + 1) {
        snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
        ck_assert_msg(csv_fields(line, f, 40) == nh, "%s", line);
    }
    /* A, seed 1 */
    ck_assert(find_line(t, "run,dropout0-0,\"dropout 0/0\",1,", line, sizeof line));
    csv_fields(line, f, 40);
    ck_assert_str_eq(f[col_of(head, nh, "epochs")], "3");
    ck_assert_str_eq(f[col_of(head, nh, "n")], "");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc")], "0.870000");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_sd")], "");
    ck_assert_str_eq(f[col_of(head, nh, "test_loss")], "0.400000");
    ck_assert_str_eq(f[col_of(head, nh, "train_loss")], "0.300000");
    ck_assert_str_eq(f[col_of(head, nh, "loss_gap")], "0.100000");
    ck_assert_str_eq(f[col_of(head, nh, "acc_gap")], "0.030000");
    ck_assert_str_eq(f[col_of(head, nh, "val_loss")], "0.340000");
    ck_assert_str_eq(f[col_of(head, nh, "val_acc")], "0.870000");
    ck_assert_str_eq(f[col_of(head, nh, "val_min_epoch")], "2");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_at_val_min")], "0.840000");
    ck_assert_str_eq(f[col_of(head, nh, "seconds")], "6.000");
    ck_assert_str_eq(f[col_of(head, nh, "verdict")], "");
    ck_assert_str_eq(f[col_of(head, nh, "weight_norm")], "1.250000");
    /* C, seed 3; its weight norm cell is empty */
    ck_assert(find_line(t, "run,dropout0.5-0.5,\"dropout 0.5/0.5\",3,", line, sizeof line));
    csv_fields(line, f, 40);
    ck_assert_str_eq(f[col_of(head, nh, "test_acc")], "0.866000");
    ck_assert_str_eq(f[col_of(head, nh, "weight_norm")], "");
    /* setting A: mean, sd, interval; against B */
    ck_assert(find_line(t, "setting,dropout0-0,", line, sizeof line));
    csv_fields(line, f, 40);
    ck_assert_str_eq(f[col_of(head, nh, "seed")], "");
    ck_assert_str_eq(f[col_of(head, nh, "n")], "3");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc")], "0.875000");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_sd")], "0.005000");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_lo")], "0.862579");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_hi")], "0.887421");
    ck_assert_str_eq(f[col_of(head, nh, "test_loss")], "0.400000");
    ck_assert_str_eq(f[col_of(head, nh, "loss_gap")], "0.100000");
    ck_assert_str_eq(f[col_of(head, nh, "val_loss")], "0.350000");
    ck_assert_str_eq(f[col_of(head, nh, "seconds")], "6.000");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_diff")], "-0.009000");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_diff_lo")], "-0.013303");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_diff_hi")], "-0.004697");
    ck_assert_str_eq(f[col_of(head, nh, "shared_seeds")], "3");
    ck_assert_str_eq(f[col_of(head, nh, "verdict")], "lower");
    /* setting B: the reference, its label quoted (it has a comma) */
    ck_assert(find_line(t, "setting,dropout0.3-0.5_wd1e-4,\"dropout 0.3/0.5, wd 1e-4\",", line, sizeof line));
    csv_fields(line, f, 40);
    ck_assert_str_eq(f[col_of(head, nh, "label")], "dropout 0.3/0.5, wd 1e-4");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_diff")], "");
    ck_assert_str_eq(f[col_of(head, nh, "verdict")], "reference");
    /* setting C: two seeds */
    ck_assert(find_line(t, "setting,dropout0.5-0.5,", line, sizeof line));
    csv_fields(line, f, 40);
    ck_assert_str_eq(f[col_of(head, nh, "n")], "2");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc")], "0.863000");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_diff_lo")], "-0.047412");
    ck_assert_str_eq(f[col_of(head, nh, "test_acc_diff_hi")], "0.003412");
    ck_assert_str_eq(f[col_of(head, nh, "shared_seeds")], "2");
    ck_assert_str_eq(f[col_of(head, nh, "verdict")], "same");
    free(t);
    compare_free(&s);
}
END_TEST

START_TEST(test_markdown_and_text)
{
    Log logs[NRUNS];
    CompareInput in[NRUNS];
    make_sweep(logs, in, 1);
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s, &e), ST_OK);
    const char *chosen = "Chosen by validation loss: dropout 0.3/0.5, wd 1e-4 (mean final validation loss 0.3333 "
                         "over 3 seeds). Test figures are reported, never used to choose.";
    const char *lower = "dropout 0/0: test accuracy -0.90 points against dropout 0.3/0.5, wd 1e-4 (95% interval "
                        "-1.33 to -0.47, paired t over 3 shared seeds): lower, distinguishable from seed noise.";
    const char *same = "dropout 0.5/0.5: test accuracy -2.20 points against dropout 0.3/0.5, wd 1e-4 (95% interval "
                       "-4.74 to +0.34, paired t over 2 shared seeds): not distinguishable from seed noise (the "
                       "interval includes 0).";
    char *md = format(&s, COMPARE_MD);
    ck_assert_msg(strstr(md, "| dropout 0/0 | 3 | 87.50 \xc2\xb1 0.50% | 86.26 to 88.74% | 0.4000 \xc2\xb1 0.0000 | "
                             "+0.1000 \xc2\xb1 0.0000 | 0.3500 \xc2\xb1 0.0100 |"),
                  "%s", md);
    ck_assert_msg(strstr(md, "| dropout 0.3/0.5, wd 1e-4 (chosen) | 3 | 88.40 \xc2\xb1 0.53% |"), "%s", md);
    ck_assert_msg(strstr(md, chosen) && strstr(md, lower) && strstr(md, same), "%s", md);
    /* the order: settings, comparison, runs */
    const char *runs = strstr(md, "| dropout 0.5/0.5 | 3 | 3 | 86.60% | 0.4000 | 0.3000 | +0.1000 | +3.40% | 0.3700 "
                                  "| 87.00% | 2 | 83.60% | 6.0 |");
    ck_assert_msg(runs, "%s", md);
    ck_assert(strstr(md, "| setting | n |") < strstr(md, chosen) && strstr(md, chosen) < runs);
    free(md);
    char *t = format(&s, COMPARE_TEXT);
    ck_assert_msg(strstr(t, chosen) && strstr(t, lower) && strstr(t, same), "%s", t);
    ck_assert_msg(strstr(t, "87.50 +- 0.50%") && strstr(t, "86.26 to 88.74%"), "%s", t);
    /* aligned: every line of the first table as long as its header */
    char line[512];
    ck_assert(find_line(t, "setting ", line, sizeof line));
    size_t w = strlen(line);
    ck_assert(find_line(t, "dropout 0/0 ", line, sizeof line));
    ck_assert_uint_eq(strlen(line), w);
    free(t);
    compare_free(&s);
}
END_TEST

/* The weight norm per setting: the mean and sd of the runs' last
 * weight_norm, by hand: A 2, 4, 6 -> 4 +- 2; B 10, 10, 10 -> 10 +- 0; C
 * has no norm column (n 0), so its cell is empty and its CSV cell too. */
START_TEST(test_weight_norm_per_setting)
{
    Log logs[NRUNS];
    CompareInput in[NRUNS];
    make_sweep(logs, in, 1);
    double norms[NRUNS][EPOCHS];
    const double last[6] = {2, 4, 6, 10, 10, 10};
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < EPOCHS; k++) norms[i][k] = last[i] + 100 * (EPOCHS - 1 - k); /* only the last counts */
        logs[i].c.weight_norm = norms[i];
    }
    CompareSummary s;
    Err e;
    ck_assert_int_eq(compare_summarize(SETTINGS, 3, in, NRUNS, &s, &e), ST_OK);
    ck_assert_int_eq(s.aggs[0].weight_norm.n, 3);
    ck_assert_double_eq_tol(s.aggs[0].weight_norm.mean, 4.0, 1e-12);
    ck_assert_double_eq_tol(s.aggs[0].weight_norm.sd, 2.0, 1e-12);
    ck_assert_double_eq_tol(s.aggs[1].weight_norm.mean, 10.0, 1e-12);
    ck_assert_double_eq_tol(s.aggs[1].weight_norm.sd, 0.0, 1e-12);
    ck_assert_int_eq(s.aggs[2].weight_norm.n, 0);
    char *md = format(&s, COMPARE_MD);
    ck_assert_ptr_nonnull(strstr(md, "| validation loss | weight norm |"));
    ck_assert_ptr_nonnull(strstr(md, "| 4.000 \xc2\xb1 2.000 |"));
    ck_assert_ptr_nonnull(strstr(md, "| 10.000 \xc2\xb1 0.000 |"));
    char *csv = format(&s, COMPARE_CSV);
    ck_assert_ptr_nonnull(strstr(csv, ",reference,10.000000\n"));
    const char *c = strstr(csv, "\nsetting,dropout0.5-0.5,");
    ck_assert_ptr_nonnull(c);
    const char *end = strchr(c + 1, '\n');
    ck_assert(end && end[-1] == ','); /* no norm: an empty last cell */
    free(md);
    free(csv);
    compare_free(&s);
}
END_TEST

Suite *compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("compare");
    tcase_add_test(tc, test_stats_hand_computed);
    tcase_add_test(tc, test_t_quantile);
    tcase_add_test(tc, test_run_figures);
    tcase_add_test(tc, test_summary_hand_computed);
    tcase_add_test(tc, test_verdicts);
    tcase_add_test(tc, test_no_choice_reads_test_figures);
    tcase_add_test(tc, test_no_validation);
    tcase_add_test(tc, test_one_seed);
    tcase_add_test(tc, test_csv);
    tcase_add_test(tc, test_markdown_and_text);
    tcase_add_test(tc, test_weight_norm_per_setting);
    suite_add_tcase(s, tc);
    return s;
}
