/* test_progress.c - the progress bar and the epoch line (report/log.c):
 * the bar's line as a pure function of the state and the terminal's width
 * (never wider than width - 1, fields dropped in order, the running loss and
 * accuracy, ETA, the evaluation phase), the epoch line within 80 columns in
 * a typical and the worst cases, the figures train_run hands to its hooks
 * (the running means end at the epoch's own), and the binary: on a
 * terminal 60 columns wide every redraw fits and the evaluation shows;
 * without a terminal, no bar at all. */
#define _GNU_SOURCE /* ptsname_r */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "report/log.h"
#include "testutil.h"
#include "train/run.h"
#include "train/train.h"

static char out[1 << 16];

static BatchStats typical_batch(void)
{
    return (BatchStats){.epoch = 3, .epochs = 10, .done = 120, .total = 469, .images = 120 * 128, .loss = 0.41234,
                        .acc = 0.8513, .elapsed = 12.3, .step = 1058};
}

START_TEST(test_progress_widths)
{
    BatchStats b = typical_batch();
    char line[1024];
    /* wide: every field, the bar 30 wide and filled to 120/469 (7 of 30) */
    size_t n = report_progress_format(line, sizeof line, &b, 200);
    ck_assert_str_eq(line, "epoch 3/10 [#######.......................] 120/469  loss 0.4123  acc 85.13%   12s  "
                           "ETA 36s    1k img/s");
    ck_assert_uint_eq(n, strlen(line));
    /* 80: the rate goes, the bar shrinks */
    report_progress_format(line, sizeof line, &b, 80);
    ck_assert_str_eq(line, "epoch 3/10 [####..............] 120/469  loss 0.4123  acc 85.13%   12s  ETA 36s");
    ck_assert_ptr_null(strstr(line, "img/s"));
    /* 60: no bar, the figures stay */
    report_progress_format(line, sizeof line, &b, 60);
    ck_assert_str_eq(line, "epoch 3/10 120/469  loss 0.4123  acc 85.13%  ETA 36s");
    /* 40: one space apart, the accuracy goes */
    report_progress_format(line, sizeof line, &b, 40);
    ck_assert_str_eq(line, "epoch 3/10 120/469 loss 0.4123 ETA 36s");
    /* every width from 0 to 300: never longer than width - 1 (no wrap), and
     * the steps always there once they fit */
    for (int w = 0; w <= 300; w++) {
        n = report_progress_format(line, sizeof line, &b, w);
        ck_assert_msg(n == strlen(line) && (int)n <= (w > 0 ? w - 1 : 0), "width %d: %zu: '%s'", w, n, line);
        if (w > 8) ck_assert_msg(strstr(line, "120/469") != NULL, "width %d: '%s'", w, line);
        if (w >= 30) ck_assert_msg(strstr(line, "loss 0.4123") != NULL, "width %d: '%s'", w, line);
        if (w >= 80) ck_assert_msg(strstr(line, "[#") != NULL, "width %d: '%s'", w, line);
    }
    /* the layout does not jump while the numbers grow: the steps and the
     * accuracy keep their widths */
    b.done = 1, b.acc = 0.05;
    size_t first = report_progress_format(line, sizeof line, &b, 80);
    ck_assert_ptr_nonnull(strstr(line, "  1/469  loss 0.4123  acc  5.00%"));
    b.done = 469, b.acc = 1.0;
    ck_assert_uint_eq(report_progress_format(line, sizeof line, &b, 80), first);
    ck_assert_msg(strstr(line, "[###") && strstr(line, "#] 469/469"), "%s", line);
    ck_assert_msg(!strstr(line, ".]") && !strstr(line, "#."), "the bar is full: %s", line);
    ck_assert_ptr_nonnull(strstr(line, "acc 100.0%   12s  ETA 0.0s"));
    /* a diverging loss, a run of a million batches, no time yet: still in width */
    b = (BatchStats){.epoch = 99999, .epochs = 100000, .done = 0, .total = 1000000, .loss = NAN, .acc = 0};
    for (int w = 0; w <= 200; w += 20) {
        n = report_progress_format(line, sizeof line, &b, w);
        ck_assert_msg((int)n <= (w > 0 ? w - 1 : 0), "width %d: '%s'", w, line);
    }
    report_progress_format(line, sizeof line, &b, 200);
    ck_assert_ptr_nonnull(strstr(line, "loss    nan"));
    ck_assert_ptr_nonnull(strstr(line, "ETA ?"));
    b.loss = 123456.7;
    report_progress_format(line, sizeof line, &b, 200);
    ck_assert_ptr_nonnull(strstr(line, "loss 123457"));
    /* long runs: minutes and hours */
    b = typical_batch();
    b.elapsed = 3725, b.done = 1, b.total = 3;
    report_progress_format(line, sizeof line, &b, 200);
    ck_assert_ptr_nonnull(strstr(line, "  1:02:05  ETA 2:04:10  "));
}
END_TEST

START_TEST(test_eval_phase)
{
    EvalStats s = {.epoch = 3, .epochs = 10, .set = "test", .done = 3, .total = 10, .elapsed = 1.25};
    char line[1024];
    report_eval_format(line, sizeof line, &s, 200);
    ck_assert_str_eq(line, "epoch 3/10 evaluating test [#########.....................]  3/10  1.2s");
    report_eval_format(line, sizeof line, &s, 60);
    ck_assert_msg(strlen(line) <= 59, "%s", line);
    ck_assert_ptr_nonnull(strstr(line, "epoch 3/10 evaluating test [###"));
    report_eval_format(line, sizeof line, &s, 40);
    ck_assert_str_eq(line, "epoch 3/10 evaluating test  3/10  1.2s");
    s.set = "validation";
    for (int w = 0; w <= 200; w++) {
        size_t n = report_eval_format(line, sizeof line, &s, w);
        ck_assert_msg((int)n <= (w > 0 ? w - 1 : 0), "width %d: '%s'", w, line);
        if (w >= 30)
            ck_assert_msg(strstr(line, "evaluating validation") && strstr(line, " 3/10"), "width %d: '%s'", w, line);
    }
    /* drawn in place: carriage return, the line, clear to its end */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_eval_progress(f, &s, 80);
    BatchStats b = typical_batch();
    report_progress(f, &b, 80);
    report_progress_clear(f);
    fclose(f);
    ck_assert_msg(!strncmp(buf, "\repoch 3/10 evaluating validation [", 35), "%s", buf);
    ck_assert_ptr_nonnull(strstr(buf, "\033[K\repoch 3/10 [#"));
    ck_assert_ptr_nonnull(strstr(buf, "\033[K\r\033[K"));
    ck_assert_ptr_null(strchr(buf, '\n'));
    free(buf);
}
END_TEST

static EpochStats typical_epoch(void)
{
    return (EpochStats){.epoch = 3, .epochs = 10, .train_loss = 0.40123, .train_acc = 0.85613, .test_loss = 0.45333,
                        .test_acc = 0.8302, .seconds = 0.49, .images_per_s = 122000};
}

START_TEST(test_epoch_line)
{
    char line[512];
    EpochStats s = typical_epoch();
    report_epoch_format(line, sizeof line, &s);
    ck_assert_str_eq(line, "epoch  3/10  train 0.4012 85.61%  test 0.4533 83.02%  122k img/s  0.5s");
    /* with a validation set: the rate gives way, the star marks the lowest */
    s.has_val = 1, s.val_loss = 0.42151, s.val_acc = 0.849, s.val_improved = 1;
    report_epoch_format(line, sizeof line, &s);
    ck_assert_str_eq(line, "epoch  3/10  train 0.4012 85.61%  test 0.4533 83.02%  val 0.4215 84.90%*  0.5s");
    ck_assert_uint_le(strlen(line), 80);
    s.val_improved = 0;
    report_epoch_format(line, sizeof line, &s);
    ck_assert_ptr_nonnull(strstr(line, "val 0.4215 84.90%  0.5s"));
    /* the worst: 100000 epochs, large and diverging losses, 100%, a slow run */
    s = (EpochStats){.epoch = 99999, .epochs = 100000, .train_loss = 123456.78, .train_acc = 1.0, .test_loss = INFINITY,
                     .test_acc = 0.1, .has_val = 1, .val_loss = 1e7, .val_acc = 0.999999, .val_improved = 1,
                     .seconds = 98765, .images_per_s = 1.5e6};
    report_epoch_format(line, sizeof line, &s);
    ck_assert_msg(strlen(line) <= 80, "%zu: %s", strlen(line), line);
    ck_assert_ptr_nonnull(strstr(line, "epoch  99999/100000"));
    ck_assert_ptr_nonnull(strstr(line, "train 123457 100.0%"));
    ck_assert_ptr_nonnull(strstr(line, "test    inf 10.00%"));
    ck_assert_ptr_nonnull(strstr(line, "val  1e+07 100.0%*"));
    /* typical lengths of epochs and figures: all within 80 */
    const int epochs[] = {1, 9, 10, 99, 100, 999, 1000, 100000};
    const double losses[] = {0.01, 2.3026, 12.5, 345.6, 99999.9};
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 5; j++)
            for (int v = 0; v < 2; v++) {
                s = typical_epoch();
                s.epochs = epochs[i], s.epoch = epochs[i];
                s.train_loss = s.test_loss = s.val_loss = losses[j];
                s.has_val = v, s.val_improved = v;
                size_t n = report_epoch_format(line, sizeof line, &s);
                ck_assert_msg(n == strlen(line) && n <= 80, "%zu: %s", n, line);
                ck_assert(!strncmp(line, "epoch ", 6) && strstr(line, "  train ") && strstr(line, "  test "));
                if (v) ck_assert_ptr_nonnull(strstr(line, "  val "));
            }
    /* train --help shows the line as it is */
    s = typical_epoch();
    report_epoch_format(line, sizeof line, &s);
    char want[600];
    snprintf(want, sizeof want, "\n  %s\n", line);
    expect_fmnist("train --help", 0, want, out, sizeof out);
    /* report_epoch_line: the line, and early stopping's */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    s = typical_epoch();
    s.has_val = 1, s.stopped_early = 1, s.best_epoch = 1;
    report_epoch_line(f, &s);
    fclose(f);
    ck_assert_ptr_nonnull(
        strstr(buf, "0.5s\nearly stop: no lower validation loss in 2 epochs; best.fmw holds epoch 1\n"));
    free(buf);
}
END_TEST

/* What train_run hands to on_batch and on_eval. */
typedef struct {
    int batches, evals, test_evals, val_evals, last_done, last_total, ordered;
    double loss, acc;
    long images;
    EpochStats epoch;
} Seen;

static void seen_batch(void *ctx, const BatchStats *b)
{
    Seen *s = ctx;
    s->batches++;
    s->loss = b->loss, s->acc = b->acc, s->images = b->images;
    ck_assert(b->done >= 1 && b->done <= b->total && b->epoch >= 1 && b->epoch <= b->epochs);
    ck_assert(isfinite(b->batch_loss) && b->step >= (unsigned long long)b->done && b->elapsed >= 0);
}

static void seen_eval(void *ctx, const EvalStats *e)
{
    Seen *s = ctx;
    s->evals++;
    if (!strcmp(e->set, "test")) s->test_evals++;
    else if (!strcmp(e->set, "validation")) s->val_evals++;
    else ck_abort_msg("set %s", e->set);
    ck_assert(e->done >= 0 && e->done <= e->total && e->elapsed >= 0);
    s->last_done = e->done, s->last_total = e->total;
}

static Status seen_epoch(void *ctx, const EpochStats *st, const TrainProgress *p, const Net *net, Err *e)
{
    Seen *s = ctx;
    (void)p, (void)net, (void)e;
    s->epoch = *st;
    /* the evaluations came before, and ended */
    s->ordered = s->last_done == s->last_total && s->test_evals > 0;
    return ST_OK;
}

START_TEST(test_hooks_running_figures)
{
    Dataset train, test, val;
    synthetic_dataset(&train, 230, 1);
    synthetic_dataset(&test, 90, 2);
    synthetic_dataset(&val, 40, 3);
    Err e;
    Net *net = NULL;
    ck_assert_msg(run_build_net("models/mlp.cfg", NULL, 0, 32, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, 5);
    TrainConfig cfg = {.epochs = 1, .batch = 32, .seed = 3, .opt = {.kind = OPT_SGD, .lr = 0.05f}, .val = &val};
    Seen s = {0};
    TrainHooks h = {seen_batch, seen_epoch, &s, NULL, NULL, seen_eval};
    ck_assert_msg(train_run(net, &train, &test, &cfg, NULL, &h, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(s.batches, 8); /* 230 / 32: 7 full and one of 6 */
    ck_assert_int_eq(s.images, 230);
    /* the running means end at the epoch's figures */
    ck_assert_double_eq_tol(s.loss, s.epoch.train_loss, 1e-12);
    ck_assert_double_eq_tol(s.acc, s.epoch.train_acc, 1e-12);
    /* the test set in chunks of 32: 0/3, 1/3, 2/3, 3/3; validation: 0/2 .. 2/2 */
    ck_assert_int_eq(s.test_evals, 4);
    ck_assert_int_eq(s.val_evals, 3);
    ck_assert(s.ordered);
    net_free(net);
    dataset_free(&train), dataset_free(&test), dataset_free(&val);
}
END_TEST

/* Runs the binary with stderr on a pseudo-terminal of cols columns (stdout
 * into a file) to its end; its terminal output into text. Returns the exit
 * status. */
static int run_on_tty(const char *args, int cols, const char *stdout_path, char *text, size_t len)
{
    const char *bin = getenv("FMNIST_BIN");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s %s", bin && *bin ? bin : "./fmnist", args);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert(grantpt(master) == 0 && unlockpt(master) == 0);
    struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
    ck_assert_int_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
    char slave[256];
    ck_assert_int_eq(ptsname_r(master, slave, sizeof slave), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setsid();
        int s = open(slave, O_RDWR), fd = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct termios tio;
        if (s < 0 || fd < 0 || tcgetattr(s, &tio) != 0) _exit(126);
        tio.c_oflag &= ~(tcflag_t)OPOST;
        if (tcsetattr(s, TCSANOW, &tio) != 0 || dup2(fd, 1) < 0 || dup2(s, 2) < 0) _exit(126);
        close(master);
        unsetenv("COLUMNS");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    fcntl(master, F_SETFL, O_NONBLOCK);
    size_t k = 0;
    int rc = -1;
    for (int i = 0; i < 120 * 1000 && rc < 0; i++) {
        ssize_t r;
        while (k + 1 < len && (r = read(master, text + k, len - 1 - k)) > 0) k += (size_t)r;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        else nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    if (rc < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ssize_t r;
    while (k + 1 < len && (r = read(master, text + k, len - 1 - k)) > 0) k += (size_t)r;
    text[k] = 0;
    close(master);
    return rc;
}

START_TEST(test_bar_on_a_narrow_terminal)
{
    char *dir = make_temp_dir(), args[4096], path[700];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 3000, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 2000, 2), 0);
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    static char text[1 << 20];
    snprintf(args, sizeof args, "train --data %s --epochs 2 --batch 10 --val 500 --threads 1 --out %s/run", dir, dir);
    ck_assert_int_eq(run_on_tty(args, 60, path, text, sizeof text), 0);
    /* every redraw: "\r" + at most 59 characters + "ESC[K", no newline */
    int draws = 0, evals = 0, running = 0;
    for (char *p = strchr(text, '\r'); p; p = strchr(p + 1, '\r')) {
        size_t n = strcspn(p + 1, "\r\n\033");
        ck_assert_msg(n <= 59, "a redraw of %zu characters at 60 columns: %.*s", n, (int)n, p + 1);
        ck_assert_msg(p[1 + n] == '\033' || p[1 + n] == '\r' || n == 0, "%.*s", (int)n + 1, p + 1);
        if (n) draws++;
        if (n && !strncmp(p + 1, "epoch 2/2 evaluating test", 25)) evals++;
        if (n && strstr(p + 1, " loss ") && strstr(p + 1, " acc ") && (size_t)(strstr(p + 1, " acc ") - p) < n)
            running++;
    }
    ck_assert_msg(draws > 4 && evals > 0 && running > 0, "draws %d, evaluating %d, with loss and acc %d:\n%s", draws,
                  evals, running, text);
    ck_assert_ptr_nonnull(strstr(text, "evaluating validation"));
    ck_assert_ptr_null(strstr(text, "epoch 2/2  train")); /* the epoch lines go to stdout */
    /* stdout: the star's meaning once, then the epoch lines, each within 80 */
    char *o = read_all_or_fail(path, NULL);
    ck_assert_ptr_nonnull(strstr(o, "(val ...*: the lowest validation loss so far, the epoch best.fmw holds)\n"
                                    "epoch 1/2  train "));
    ck_assert_ptr_null(strchr(o, '\r'));
    for (char *l = strstr(o, "\nepoch "); l; l = strstr(l + 1, "\nepoch ")) {
        size_t n = strcspn(l + 1, "\n");
        ck_assert_msg(n <= 80 && strstr(l, "  val "), "%.*s", (int)n, l + 1);
    }
    free(o);
    /* without a terminal: no bar, no carriage return, no escape */
    snprintf(args, sizeof args, "train --data %s --epochs 1 --batch 50 --threads 1 --out %s/run2", dir, dir);
    expect_fmnist(args, 0, "epoch 1/1  train ", out, sizeof out);
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_ptr_null(strchr(out, '\033'));
    ck_assert_ptr_null(strstr(out, "evaluating"));
    ck_assert_ptr_null(strstr(out, "(val ...*")); /* no validation set: no star to explain */
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *progress_suite(void)
{
    Suite *s = suite_create("progress");
    TCase *fmt = tcase_create("format"), *run = tcase_create("run");
    tcase_add_test(fmt, test_progress_widths);
    tcase_add_test(fmt, test_eval_phase);
    tcase_add_test(fmt, test_epoch_line);
    tcase_add_test(run, test_hooks_running_figures);
    tcase_add_test(run, test_bar_on_a_narrow_terminal);
    tcase_set_timeout(run, 150);
    suite_add_tcase(s, fmt);
    suite_add_tcase(s, run);
    return s;
}
