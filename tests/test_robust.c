/* test_robust.c - nothing lost, nothing crashes (issue 7).
 *
 * Through the binary ($FMNIST_BIN) on Fashion-MNIST (skipped, visibly, without
 * it): a real SIGINT to a run in the middle of an epoch, then a SIGTERM to the
 * resumed run, then a second resume: the final weights and optimizer state
 * equal those of an uninterrupted run; a second Ctrl-C leaves the files whole;
 * a diverging learning rate keeps the last good checkpoint; a full disk (a
 * file-size limit) and an unwritable output folder are clear errors that leave
 * the previous files as they were; missing data is named.
 * Through the library, on synthetic data: a run stopped mid-epoch and resumed
 * equals an uninterrupted one; a killed atomic write leaves the old or the new
 * file, never a mix; a gradient that overflows is caught before the step;
 * --save-every, and best.fmw chosen by validation only; the mid-epoch checkpoint fields are checked; a
 * model too large for memory and a checkpoint whose model text claims more
 * parameters than its tensors hold are refused before any large allocation. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "model/image.h"
#include "model/cfg.h"
#include "model/weights.h"
#include "report/log.h"
#include "testutil.h"
#include "train/resume.h"
#include "train/run.h"
#include "util/fileio.h"

static char out[1 << 16];

/* ---- helpers ---- */

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    rlim_t fsize;   /* RLIMIT_FSIZE in bytes (0: none), with SIGXFSZ ignored */
    int as_nobody;  /* run as the user nobody (the test runs as root)       */
} SpawnOpts;

/* Starts `$FMNIST_BIN args` (a shell fragment) with stdout and stderr into
 * logpath; returns its pid (the shell execs the binary, so signals reach it). */
static pid_t spawn(const char *args, const char *logpath, const SpawnOpts *o)
{
    const char *bin = getenv("FMNIST_BIN");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s %s", bin && *bin ? bin : "./fmnist", args);
    struct passwd *pw = o && o->as_nobody ? getpwnam("nobody") : NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
        if (o && o->fsize) {
            struct rlimit rl = {o->fsize, o->fsize};
            signal(SIGXFSZ, SIG_IGN); /* write() fails with EFBIG instead of killing */
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
        }
        if (pw && (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)) _exit(126);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The exit status (128 + signal if killed); -1 (and the child killed) after
 * timeout seconds. */
static int wait_exit(pid_t pid, int timeout)
{
    for (int i = 0; i < timeout * 100; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Both checkpoints hold the same weights, optimizer state, progress,
 * settings and log (but for its seconds). */
static void same_state(const char *pa, const char *pb)
{
    Net *na, *nb;
    CkptState sa, sb;
    Err e;
    ck_assert_msg(weights_load_run(pa, 0, &na, &sa, &e) == ST_OK, "%s", e.msg);
    ck_assert_msg(weights_load_run(pb, 0, &nb, &sb, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq((int)na->nparams, (int)nb->nparams);
    ck_assert_int_eq(na->ntensors, nb->ntensors);
    for (int k = 0; k < na->ntensors; k++) { /* tensor by tensor, bit for bit */
        const ParamInfo *ta = &na->tensors[k], *tb = &nb->tensors[k];
        ck_assert_str_eq(ta->name, tb->name);
        ck_assert_msg(ta->numel == tb->numel &&
                          !memcmp(na->params + ta->offset, nb->params + tb->offset, ta->numel * sizeof(float)),
                      "tensor %s differs", ta->name);
    }
    ck_assert(sa.has_optim && sb.has_optim);
    ck_assert_int_eq(memcmp(sa.opt.m, sb.opt.m, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sa.opt.v, sb.opt.v, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq((int)sa.opt.t, (int)sb.opt.t);
    ck_assert(sa.epoch == sb.epoch && sa.step == sb.step && sa.pos_batch == 0 && sb.pos_batch == 0);
    ck_assert_str_eq(sa.settings, sb.settings);
    csv_strip_seconds(sa.log);
    csv_strip_seconds(sb.log);
    ck_assert_str_eq(sa.log, sb.log);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(na), net_free(nb);
}

/* Parses "interrupted in epoch E after batch B" out of text. */
static int interrupted_at(const char *text, int *epoch, int *batch)
{
    const char *p = strstr(text, "interrupted in epoch ");
    return p && sscanf(p, "interrupted in epoch %d after batch %d", epoch, batch) == 2;
}

/* ---- the binary: signals ---- */

/* A child whose stderr is a pseudo-terminal, so that fmnist draws its
 * progress bar there batch by batch ("epoch 2/3 [###...] 8/240 ..."): the
 * test can send its signal once an epoch is under way, whatever the speed of
 * the machine. stdout goes to a file. The terminal is drained while waiting,
 * so the child never blocks on it. */
typedef struct {
    pid_t pid;
    int master;
    char text[1 << 16]; /* what the child wrote to its terminal (the latest part) */
    size_t len;
} Tty;

static void tty_spawn(Tty *t, const char *args, const char *logpath)
{
    const char *bin = getenv("FMNIST_BIN");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s %s", bin && *bin ? bin : "./fmnist", args);
    memset(t, 0, sizeof *t);
    t->master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(t->master, 0);
    ck_assert(grantpt(t->master) == 0 && unlockpt(t->master) == 0);
    char slave[256];
    ck_assert_int_eq(ptsname_r(t->master, slave, sizeof slave), 0);
    t->pid = fork();
    ck_assert_int_ge(t->pid, 0);
    if (t->pid == 0) {
        setsid();
        int s = open(slave, O_RDWR), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct termios tio;
        if (s < 0 || fd < 0 || tcgetattr(s, &tio) != 0) _exit(126);
        tio.c_oflag &= ~(tcflag_t)OPOST; /* "\n" stays "\n" */
        if (tcsetattr(s, TCSANOW, &tio) != 0 || dup2(fd, 1) < 0 || dup2(s, 2) < 0) _exit(126);
        close(t->master);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    fcntl(t->master, F_SETFL, O_NONBLOCK);
}

static void tty_drain(Tty *t)
{
    for (;;) {
        if (t->len > sizeof t->text - 4096) { /* keep the latest half */
            size_t keep = sizeof t->text / 2;
            memmove(t->text, t->text + t->len - keep, keep);
            t->len = keep;
        }
        ssize_t r = read(t->master, t->text + t->len, sizeof t->text - 1 - t->len);
        if (r <= 0) break;
        t->len += (size_t)r;
    }
    t->text[t->len] = 0;
}

static int tty_running(const Tty *t)
{
    siginfo_t si = {0};
    return waitid(P_PID, (id_t)t->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* 1 once the terminal shows text; 0 if the child ended first or after timeout s. */
static int tty_wait_text(Tty *t, const char *text, int timeout)
{
    for (int i = 0; i < timeout * 1000; i++) {
        tty_drain(t);
        if (strstr(t->text, text)) return 1;
        if (!tty_running(t)) return 0;
        sleep_ms(1);
    }
    return 0;
}

/* 1 once the terminal shows a progress bar starting with prefix ("epoch
 * 2/3 [") at batch `least` or later ("] 8/240" and on; the bar is redrawn
 * at most every 0.1 s, so not every batch is shown); 0 if the child ended
 * first or after timeout s. */
static int tty_wait_batch(Tty *t, const char *prefix, int least, int timeout)
{
    for (int i = 0; i < timeout * 1000; i++) {
        tty_drain(t);
        for (const char *p = strstr(t->text, prefix); p; p = strstr(p + 1, prefix)) {
            const char *b = strstr(p, "] ");
            int done;
            if (b && sscanf(b + 2, "%d/", &done) == 1 && done >= least) return 1;
        }
        if (!tty_running(t)) return 0;
        sleep_ms(1);
    }
    return 0;
}

/* The exit status (128 + signal if killed; -1 after timeout s, the child
 * killed); the terminal's text is complete then. */
static int tty_wait_exit(Tty *t, int timeout)
{
    int rc = -1;
    for (int i = 0; i < timeout * 100 && rc < 0; i++) {
        tty_drain(t);
        int st;
        if (waitpid(t->pid, &st, WNOHANG) == t->pid) rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        else sleep_ms(10);
    }
    if (rc < 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    tty_drain(t);
    close(t->master);
    return rc;
}

START_TEST(test_sigint_mid_epoch_then_resume_equals_uninterrupted)
{
    if (!have_real_data()) {
        printf("skipped: test_sigint_mid_epoch_then_resume_equals_uninterrupted (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char args[4096], logp[700], want[800], path[700];
    static Tty t;
    /* 6000 images (and 600 for validation) in batches of 25: 240 batches an epoch */
    const char *common = "--epochs 3 --train-limit 6600 --val 600 --batch 25 --seed 11";
    snprintf(args, sizeof args, "train %s --no-progress --out %s/full", common, dir);
    expect(args, 0, "epoch 3/3");

    /* SIGINT once epoch 2 is under way (its progress bar is drawn at batch 1, then
     * every 0.1 s: a fast build may finish an epoch before the second drawing) */
    snprintf(args, sizeof args, "train %s --out %s/part", common, dir);
    snprintf(logp, sizeof logp, "%s/part.out", dir);
    tty_spawn(&t, args, logp);
    ck_assert_msg(tty_wait_batch(&t, "epoch 2/3 [", 1, 120), "no progress in epoch 2:\n%s", t.text);
    kill(t.pid, SIGINT);
    int rc = tty_wait_exit(&t, 120);
    int ep, bt;
    ck_assert_msg(rc == 130, "exit %d after SIGINT:\n%s", rc, t.text);
    ck_assert_msg(interrupted_at(t.text, &ep, &bt) && ep == 2 && bt >= 1 && bt < 240, "not mid-epoch 2:\n%s", t.text);
    snprintf(want, sizeof want, "saved %s/part/model.fmw (epoch 2, after batch %d of 240)", dir, bt);
    ck_assert_msg(strstr(t.text, want) != NULL, "lacks '%s':\n%s", want, t.text);
    snprintf(want, sizeof want, "resume with: fmnist train --resume %s/part/model.fmw\n", dir);
    ck_assert_msg(strstr(t.text, want) != NULL, "lacks '%s':\n%s", want, t.text);
    /* the checkpoint holds the position: epoch 1 done, bt batches of epoch 2 */
    snprintf(path, sizeof path, "%s/part/model.fmw", dir);
    Net *net;
    CkptState ck;
    Err e;
    ck_assert_msg(weights_load_run(path, 0, &net, &ck, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(ck.epoch, 1);
    ck_assert_int_eq(ck.pos_batch, bt);
    int bt1 = bt;
    ck_assert_int_eq((int)ck.step, 240 + bt);
    ck_assert(ck.pos_right > 0 && ck.pos_right <= 25 * bt && ck.pos_loss > 0);
    weights_state_free(&ck);
    net_free(net);

    /* resumed (it says where it starts), then SIGTERM once epoch 3 is under way */
    snprintf(args, sizeof args, "train --resume %s/part/model.fmw", dir);
    snprintf(logp, sizeof logp, "%s/resume1.out", dir);
    tty_spawn(&t, args, logp);
    ck_assert_msg(tty_wait_batch(&t, "epoch 3/3 [", 1, 120), "no progress in epoch 3:\n%s", t.text);
    kill(t.pid, SIGTERM);
    rc = tty_wait_exit(&t, 120);
    ck_assert_msg(rc == 143, "exit %d after SIGTERM:\n%s", rc, t.text);
    ck_assert_msg(interrupted_at(t.text, &ep, &bt) && ep == 3 && bt >= 1 && bt < 240, "not mid-epoch 3:\n%s", t.text);
    char *o = read_all_or_fail(logp, NULL);
    snprintf(want, sizeof want, "in epoch 2 of 3, after batch %d of 240", bt1);
    ck_assert_msg(strstr(o, want) != NULL, "the resume does not say where it starts ('%s'):\n%s", want, o);
    free(o);

    /* resumed to the end: equal to the run never stopped */
    snprintf(args, sizeof args, "train --resume %s/part/model.fmw --no-progress", dir);
    expect(args, 0, "epoch 3/3");
    snprintf(want, sizeof want, "in epoch 3 of 3, after batch %d of 240", bt);
    ck_assert_msg(strstr(out, want) != NULL, "the resume does not say where it starts ('%s'):\n%s", want, out);
    ck_assert_ptr_null(strstr(out, "epoch 2/3"));
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/full/model.fmw", dir);
    same_state(pa, path);
    snprintf(pa, sizeof pa, "%s/full/log.csv", dir);
    snprintf(pb, sizeof pb, "%s/part/log.csv", dir);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la);
    csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    snprintf(pa, sizeof pa, "%s/full/best.fmw", dir);
    snprintf(pb, sizeof pb, "%s/part/best.fmw", dir);
    same_state(pa, pb);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Two Ctrl-C in a row: the second leaves at once (exit 130), and whatever
 * moment it hits, model.fmw is a whole checkpoint: epoch 1's, or the
 * interrupted state if the first Ctrl-C's save was done. */
START_TEST(test_second_sigint_leaves_files_whole)
{
    if (!have_real_data()) {
        printf("skipped: test_second_sigint_leaves_files_whole (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char args[4096], logp[700], path[700];
    static Tty t;
    snprintf(args, sizeof args, "train --epochs 3 --train-limit 6000 --batch 25 --out %s/run", dir);
    snprintf(logp, sizeof logp, "%s/run.out", dir);
    snprintf(path, sizeof path, "%s/run/model.fmw", dir);
    tty_spawn(&t, args, logp);
    ck_assert_msg(tty_wait_text(&t, "epoch 2/3 [", 120), "no progress in epoch 2:\n%s", t.text);
    kill(t.pid, SIGINT);
    sleep_ms(2);
    kill(t.pid, SIGINT);
    int rc = tty_wait_exit(&t, 120);
    ck_assert_msg(rc == 130, "exit %d:\n%s", rc, t.text);
    Net *net;
    CkptState ck;
    Err e;
    ck_assert_msg(weights_load_run(path, 0, &net, &ck, &e) == ST_OK, "%s", e.msg);
    ck_assert(ck.epoch == 1 && ck.pos_batch >= 0);
    weights_state_free(&ck);
    net_free(net);
    snprintf(path, sizeof path, "%s/run/log.csv", dir);
    char *log = read_all_or_fail(path, NULL);
    ck_assert_ptr_nonnull(strstr(log, "\n1,"));
    ck_assert_ptr_null(strstr(log, "\n2,"));
    free(log);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the binary: divergence, full disk, unwritable folder, missing data ---- */

START_TEST(test_divergence_keeps_last_good_checkpoint)
{
    if (!have_real_data()) {
        printf("skipped: test_divergence_keeps_last_good_checkpoint (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char args[4096], path[700];
    /* plain SGD at lr 1.5 blows up within a few epochs */
    snprintf(args, sizeof args,
             "train --optim sgd --lr 1.5 --epochs 4 --train-limit 1000 --batch 100 --no-progress --out %s/run", dir);
    expect(args, 1, "training diverged: ");
    ck_assert_ptr_nonnull(strstr(out, "try a lower learning rate (this run's --lr is 1.5; e.g. --lr 0.15)"));
    int ep, bt;
    const char *p = strstr(out, " in epoch ");
    ck_assert_msg(p && sscanf(p, " in epoch %d at batch %d of 10", &ep, &bt) == 2, "%s", out);
    snprintf(path, sizeof path, "%s/run/model.fmw", dir);
    if (ep == 1) {
        ck_assert_ptr_nonnull(strstr(out, "no checkpoint was written"));
        ck_assert(!file_exists(path));
    } else { /* the last good checkpoint stays: the epoch before, finite, readable */
        char want[800];
        snprintf(want, sizeof want, "the last good checkpoint is %s (after epoch %d)", path, ep - 1);
        ck_assert_msg(strstr(out, want) != NULL, "lacks '%s':\n%s", want, out);
        Net *net;
        CkptState ck;
        Err e;
        ck_assert_msg(weights_load_run(path, 0, &net, &ck, &e) == ST_OK, "%s", e.msg);
        ck_assert_int_eq(ck.epoch, ep - 1);
        for (size_t i = 0; i < net->nparams; i++) ck_assert(isfinite(net->params[i]));
        weights_state_free(&ck);
        net_free(net);
        snprintf(args, sizeof args, "eval --weights %s", path);
        expect(args, 0, "test loss");
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The names in a folder ending in ".tmp-..." (left-over temp files). */
static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) n += strstr(de->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

START_TEST(test_full_disk_keeps_previous_files)
{
    if (!have_real_data()) {
        printf("skipped: test_full_disk_keeps_previous_files (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char args[4096], logp[700], run[700];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args, "train --epochs 1 --train-limit 600 --val 100 --no-progress --out %s", run);
    expect(args, 0, "epoch 1/1");
    const char *names[] = {"model.fmw", "best.fmw", "log.csv"};
    char *before[3];
    for (int i = 0; i < 3; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", run, names[i]);
        before[i] = read_all_or_fail(p, NULL);
    }
    /* a checkpoint is 2.8 MB: a 1 MB file-size limit makes its write fail (EFBIG) */
    snprintf(args, sizeof args, "train --resume %s/model.fmw --epochs 2 --no-progress", run);
    snprintf(logp, sizeof logp, "%s/resume.out", dir);
    SpawnOpts o = {.fsize = 1 << 20};
    int rc = wait_exit(spawn(args, logp, &o), 120);
    char *msg = read_all_or_fail(logp, NULL);
    ck_assert_msg(rc == 1, "exit %d:\n%s", rc, msg);
    char want[800];
    snprintf(want, sizeof want, "fmnist: error: %s/model.fmw: cannot write: File too large", run);
    ck_assert_msg(strstr(msg, want) != NULL, "lacks '%s':\n%s", want, msg);
    snprintf(want, sizeof want, "the last good checkpoint is %s/model.fmw (after epoch 1)", run);
    ck_assert_msg(strstr(msg, want) != NULL, "lacks '%s':\n%s", want, msg);
    free(msg);
    for (int i = 0; i < 3; i++) { /* untouched, byte for byte */
        char p[800];
        snprintf(p, sizeof p, "%s/%s", run, names[i]);
        char *now = read_all_or_fail(p, NULL);
        struct stat sb;
        ck_assert_int_eq(stat(p, &sb), 0);
        ck_assert_msg(!memcmp(now, before[i], (size_t)sb.st_size), "%s changed", names[i]);
        free(now);
        free(before[i]);
    }
    ck_assert_int_eq(count_temp_files(run), 0); /* the failed temp file is removed */
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_unwritable_output_folder)
{
    if (!have_real_data()) {
        printf("skipped: test_unwritable_output_folder (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char args[4096], logp[700], locked[700], want[800];
    int root = geteuid() == 0;
    if (root && !getpwnam("nobody")) {
        printf("skipped: test_unwritable_output_folder (running as root and no user 'nobody')\n");
        rm_tree(dir);
        free(dir);
        return;
    }
    /* a folder its user cannot write into: root's 0755 folder for nobody, or 0555 */
    snprintf(locked, sizeof locked, "%s/locked", dir);
    ck_assert_int_eq(mkdir(locked, root ? 0755 : 0555), 0);
    ck_assert_int_eq(chmod(dir, 0755), 0);
    snprintf(logp, sizeof logp, "/tmp/fmnist-unwritable-%ld.out", (long)getpid());
    SpawnOpts o = {.as_nobody = root};
    const char *cases[2][2] = {{"--out %s/run", "%s/run: cannot create folder: Permission denied"},
                               {"--out %s --overwrite", "%s: cannot write into this folder: Permission denied"}};
    for (int k = 0; k < 2; k++) {
        char flag[800];
        snprintf(flag, sizeof flag, cases[k][0], locked);
        snprintf(args, sizeof args, "train --epochs 1 --train-limit 100 --no-progress %s", flag);
        int rc = wait_exit(spawn(args, logp, &o), 120);
        char *msg = read_all_or_fail(logp, NULL);
        ck_assert_msg(rc == 1, "exit %d:\n%s", rc, msg);
        snprintf(want, sizeof want, cases[k][1], locked);
        ck_assert_msg(strstr(msg, want) != NULL, "lacks '%s':\n%s", want, msg);
        ck_assert_msg(strstr(msg, "epoch 1/1") == NULL, "it trained before failing:\n%s", msg);
        free(msg);
    }
    unlink(logp);
    chmod(locked, 0755);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_missing_data_is_named)
{
    char *dir = make_temp_dir();
    char args[4096], want[800];
    snprintf(args, sizeof args, "train --data %s/none --out %s/run", dir, dir);
    snprintf(want, sizeof want, "fmnist: error: %s/none: cannot open data folder: No such file or directory", dir);
    expect(args, 1, want);
    snprintf(args, sizeof args, "train --data %s --out %s/run", dir, dir);
    snprintf(want, sizeof want, "%s: no train-images-idx3-ubyte or train-images-idx3-ubyte.gz in this data folder",
             dir);
    expect(args, 1, want);
    snprintf(args, sizeof args, "eval --weights %s/none.fmw", dir);
    snprintf(want, sizeof want, "fmnist: error: %s/none.fmw: cannot open: No such file or directory", dir);
    expect(args, 1, want);
    snprintf(want, sizeof want, "%s/run", dir);
    ck_assert(!file_exists(want)); /* nothing created */
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the library, synthetic data ---- */

typedef struct {
    int stop_epoch, stop_batch; /* raise stop once this batch is done */
    volatile sig_atomic_t stop;
    int saves[16], nsaves;      /* epochs of the model.fmw writes */
} Probe;

static void probe_batch(void *ctx, const BatchStats *b)
{
    const int epoch = b->epoch, done = b->done;
    Probe *p = ctx;
    if (epoch == p->stop_epoch && done == p->stop_batch) p->stop = 1;
}

static void probe_save(void *ctx, const char *path, int epoch, int batch, int nbatches)
{
    Probe *p = ctx;
    (void)path, (void)nbatches;
    if (p->nsaves < 16) p->saves[p->nsaves++] = batch ? -epoch : epoch;
}

/* Trains 4 epochs straight into a, and into b a run stopped after batch 2
 * of epoch 3 (of 4), resumed from its mid-epoch checkpoint. */
START_TEST(test_resume_mid_epoch_equals_uninterrupted)
{
    char *dir = make_temp_dir();
    char a[600], b[600], pa[700], pb[700];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 120, 1);
    synthetic_dataset(&test, 30, 2);
    OptConfig oc = optim_defaults();
    oc.kind = OPT_ADAMW;
    oc.weight_decay = 0.01f;
    Err e;
    for (int k = 0; k < 2; k++) {
        Net *net;
        ck_assert_msg(run_build_net("models/mlp.cfg", NULL, 0, 32, &net, &e) == ST_OK, "%s", e.msg);
        net_init(net, 5);
        RunSpec spec = {.model = "models/mlp.cfg", .out = k ? b : a};
        spec.train = (TrainConfig){.epochs = 4, .batch = 32, .seed = 5, .opt = oc};
        Probe pr = {.stop_epoch = k ? 3 : 0, .stop_batch = 2};
        RunHooks hooks = {probe_batch, NULL, &pr, &pr.stop, probe_save, NULL};
        ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
        Status rc = run_train(&spec, net, &train, &test, &hooks, &e);
        ck_assert_int_eq(rc, k ? ST_ERR_INTERRUPTED : ST_OK);
        if (k) {
            ck_assert_str_eq(e.msg, "interrupted in epoch 3 after batch 2 of 4");
            ck_assert_int_eq(pr.nsaves, 3);
            ck_assert_int_eq(pr.saves[2], -2); /* the last: mid-epoch, 2 epochs done */
        }
        net_free(net);
    }
    snprintf(pb, sizeof pb, "%s/model.fmw", b);
    ResumedRun r;
    ck_assert_msg(resume_load(pb, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(r.spec.resume->epoch, 2);
    ck_assert_int_eq(r.spec.resume->batch, 2);
    ck_assert_int_eq((int)r.spec.resume->step, 2 * 4 + 2);
    r.spec.out = b;
    r.spec.overwrite = 1;
    ck_assert_int_eq(run_train(&r.spec, r.net, &train, &test, NULL, &e), ST_OK);
    resume_free(&r);
    snprintf(pa, sizeof pa, "%s/model.fmw", a);
    same_state(pa, pb);
    snprintf(pa, sizeof pa, "%s/log.csv", a);
    snprintf(pb, sizeof pb, "%s/log.csv", b);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la);
    csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb); /* epoch 3's train loss and accuracy too */
    free(la), free(lb);
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* --save-every 2 over 5 epochs writes model.fmw after epochs 2, 4 and 5;
 * the log is written every epoch. Without a validation set no best.fmw is
 * written (no test figure chooses); with one, best.fmw holds the first epoch
 * of the lowest validation loss in log.csv. */
START_TEST(test_save_every_and_best)
{
    char *dir = make_temp_dir();
    Dataset train = {0}, test = {0}, val = {0};
    synthetic_dataset(&train, 100, 3);
    synthetic_dataset(&test, 40, 4);
    synthetic_dataset(&val, 40, 5);
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD;
    oc.lr = 0.5f; /* noisy: the losses go up and down */
    Err e;
    char p[700];
    for (int k = 0; k < 2; k++) { /* k = 0: no validation set; 1: one */
        Net *net;
        ck_assert_msg(run_build_net("models/mlp.cfg", NULL, 0, 25, &net, &e) == ST_OK, "%s", e.msg);
        net_init(net, 2);
        RunSpec spec = {.model = "models/mlp.cfg", .out = dir, .overwrite = 1, .save_every = 2};
        spec.train = (TrainConfig){.epochs = 5, .batch = 25, .seed = 2, .opt = oc, .val = k ? &val : NULL};
        Probe pr = {0};
        RunHooks hooks = {NULL, NULL, &pr, NULL, probe_save, NULL};
        ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
        ck_assert_msg(run_train(&spec, net, &train, &test, &hooks, &e) == ST_OK, "%s", e.msg);
        net_free(net);
        ck_assert_int_eq(pr.nsaves, 3);
        ck_assert(pr.saves[0] == 2 && pr.saves[1] == 4 && pr.saves[2] == 5);
        snprintf(p, sizeof p, "%s/best.fmw", dir);
        ck_assert_int_eq(file_exists(p), k);
    }
    snprintf(p, sizeof p, "%s/log.csv", dir);
    char *log = read_all_or_fail(p, NULL);
    ck_assert_ptr_nonnull(strstr(log, ",val_loss,val_acc\n"));
    double best = INFINITY, best_test = -1;
    int best_epoch = 0, test_epoch = 0;
    for (char *row = strchr(log, '\n'); row && row[1]; row = strchr(row + 1, '\n')) {
        int ep;
        double tl, ta, sl, sa, sec, wn, vl, va;
        ck_assert_int_eq(sscanf(row + 1, "%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &ep, &tl, &ta, &sl, &sa, &sec, &wn,
                                &vl, &va), 9);
        if (vl < best) best = vl, best_epoch = ep;
        if (sa > best_test) best_test = sa, test_epoch = ep;
    }
    free(log);
    /* this data and rate: the test set would pick another epoch (the choice is validation's) */
    ck_assert_int_ne(best_epoch, test_epoch);
    snprintf(p, sizeof p, "%s/best.fmw", dir);
    Net *bn;
    CkptState ck;
    ck_assert_msg(weights_load_run(p, 0, &bn, &ck, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(ck.epoch, best_epoch);
    ck_assert_int_eq(ck.val_best_epoch, best_epoch);
    weights_state_free(&ck);
    net_free(bn);
    dataset_free(&train);
    dataset_free(&test);
    dataset_free(&val);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A gradient that overflows while the loss stays finite: the second layer's
 * weights are +-3e38, so dL/dh = 3e38*1 + (-3e38)*(-1) is infinite while the
 * logits stay near +-6e8. The run stops before the step, naming the batch,
 * and writes nothing. */
START_TEST(test_gradient_overflow_stops_before_the_step)
{
    char *dir = make_temp_dir();
    char path[4200];
    Err e;
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 8, 5);
    synthetic_dataset(&test, 8, 6);
    memset(train.labels, 1, 8); /* every p(class 0) is about 1: dL/dlogits = (1, -1) */
    memset(test.labels, 1, 8);  /* a 2-class net: labels 0 and 1 only */
    NetSpec c;
    ck_assert_int_eq(cfg_parse_text("g.cfg", "input 1x28x28\nflatten\ndense 2\nrelu\ndense 2\n", &c, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&c, 1, &net, &e), ST_OK);
    net_init(net, 1);
    Layer *l1 = &net->layers[1], *l2 = &net->layers[3];
    for (size_t i = 0; i < l1->nw; i++) l1->w[i] = 0;
    l1->b[0] = l1->b[1] = 1e-30f; /* h = 1e-30: logits = W2 h stay small */
    for (int o = 0; o < 2; o++)
        for (int j = 0; j < 2; j++) l2->w[o * 2 + j] = o ? -3e38f : 3e38f;
    float keep[2] = {l1->b[0], l1->b[1]};
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD;
    oc.lr = 0.1f;
    RunSpec spec = {.model = "g.cfg", .out = dir, .overwrite = 1};
    spec.train = (TrainConfig){.epochs = 1, .batch = 1, .seed = 1, .opt = oc};
    ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
    ck_assert_int_eq(run_train(&spec, net, &train, &test, NULL, &e), ST_ERR_DIVERGED);
    ck_assert_str_eq(e.msg, "training diverged: a gradient became NaN or infinite in epoch 1 at batch 1 of 8; try a "
                            "lower learning rate (this run's --lr is 0.1; e.g. --lr 0.01)");
    ck_assert(l1->b[0] == keep[0] && l1->b[1] == keep[1]); /* no step taken */
    snprintf(path, sizeof path, "%s/model.fmw", dir);
    ck_assert(!file_exists(path));
    net_free(net);
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* SIGKILL at random moments of a stream of atomic writes of two 8 MB
 * contents: the file is always exactly one of them. */
START_TEST(test_killed_atomic_write_leaves_old_or_new)
{
    char *dir = make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/f", dir);
    size_t n = (size_t)8 << 20;
    char *a = malloc(n), *b = malloc(n);
    memset(a, 'a', n);
    memset(b, 'b', n);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, a, n, &e), ST_OK);
    srand(7);
    int seen_b = 0;
    for (int k = 0; k < 12; k++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            for (;;) {
                file_write_atomic(path, b, n, NULL);
                file_write_atomic(path, a, n, NULL);
            }
        }
        sleep_ms(5 + rand() % 60);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *d;
        size_t len;
        ck_assert_int_eq(file_read_all(path, n + 1, &d, &len, &e), ST_OK);
        ck_assert_msg(len == n && (!memcmp(d, a, n) || !memcmp(d, b, n)), "kill %d: a torn file (%zu bytes)", k, len);
        seen_b |= d[0] == 'b';
        free(d);
    }
    (void)seen_b; /* which one depends on the timing; either is whole */
    free(a), free(b);
    rm_tree(dir);
    free(dir);
}
END_TEST

static void fix_crc(unsigned char *d, size_t len)
{
    uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) d[len - 4 + i] = (unsigned char)(c >> (8 * i));
}

static void wr_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The RUN section (version 3: 36 bytes, the position's fields 0 at an
 * epoch's end): a NaN loss, negative seconds, or a zero position with other
 * fields set are refused by the reader; a position that does not fit the
 * run's batches (its settings) by resume_load. */
START_TEST(test_mid_epoch_fields_checked)
{
    char *dir = make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/m.fmw", dir);
    Err e;
    NetSpec c;
    ck_assert_int_eq(cfg_parse_text("t.cfg", "input 1x4x3\nflatten\ndense 3\n", &c, &e), ST_OK);
    Net *net;
    ck_assert_int_eq(net_build(&c, 4, &net, &e), ST_OK);
    net_init(net, 1);
    OptConfig oc = optim_defaults();
    RunSettings rs;
    settings_defaults(&rs);
    snprintf(rs.model, sizeof rs.model, "t.cfg");
    rs.train = (TrainConfig){.epochs = 3, .batch = 4, .seed = 9, .opt = oc};
    rs.train_n = 10;
    Buf set = {0};
    settings_format(&rs, &set);
    buf_put(&set, "", 1);
    CkptState st = {.settings = set.data, .log = LOG_CSV_HEADER "1,2.000000,0.100000,2.000000,0.100000,0.010\n",
                    .has_progress = 1, .epoch = 1, .step = 4, .has_optim = 1};
    ck_assert_int_eq(optim_init(&st.opt, &oc, net->nparams, &e), ST_OK);
    /* at an epoch's end: 36 bytes, the position 0 */
    ck_assert_int_eq(weights_save_run(path, net, &st, &e), ST_OK);
    char *d;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &d, &len, &e), ST_OK);
    char *run = memmem(d, len, "RUN ", 4);
    ck_assert_ptr_nonnull(run);
    ck_assert_int_eq((unsigned char)run[4], 36);
    free(d);
    /* mid-epoch: round trip, and resume_load takes it */
    st.pos_batch = 2, st.pos_right = 5, st.pos_loss = 9.25, st.pos_seconds = 0.5, st.step = 6;
    ck_assert_int_eq(weights_save_run(path, net, &st, &e), ST_OK);
    Net *n2;
    CkptState ld;
    ck_assert_msg(weights_load_run(path, 0, &n2, &ld, &e) == ST_OK, "%s", e.msg);
    ck_assert(ld.pos_batch == 2 && ld.pos_right == 5 && ld.pos_loss == 9.25 && ld.pos_seconds == 0.5);
    weights_state_free(&ld);
    net_free(n2);
    ResumedRun r;
    ck_assert_msg(resume_load(path, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert(r.progress.epoch == 1 && r.progress.batch == 2 && r.progress.right == 5 && r.progress.step == 6);
    resume_free(&r);
    ck_assert_int_eq(file_read_all(path, 1 << 20, &d, &len, &e), ST_OK);
    run = memmem(d, len, "RUN ", 4);
    unsigned char *body = (unsigned char *)run + 12, *u = (unsigned char *)d;
    /* epoch @0, step @4, pos_batch @12, pos_right @16, pos_loss @20, pos_seconds @28. 10 images in
     * batches of 4: 3 batches; position 3 or more, 13 right of 2 batches of 4 (resume_load); a NaN
     * loss, negative seconds, a zero position with the other fields (the reader) */
    const struct {
        size_t off;
        uint32_t v;
        int reader; /* refused by weights_load_run, else by resume_load */
    } bad[] = {{12, 3, 0}, {16, 13, 0}, {24, 0x7ff80000u, 1}, {32, 0xbff00000u, 1}, {12, 0, 1}};
    unsigned char keep[36];
    memcpy(keep, body, 36);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        wr_u32(body + bad[k].off, bad[k].v);
        fix_crc(u, len);
        FILE *f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(d, 1, len, f), len);
        fclose(f);
        if (bad[k].reader) {
            ck_assert_int_eq(weights_load_run(path, 0, &n2, &ld, &e), ST_ERR_FORMAT);
        } else {
            ck_assert_msg(weights_load_run(path, 0, &n2, &ld, &e) == ST_OK, "case %zu: %s", k, e.msg);
            weights_state_free(&ld);
            net_free(n2);
            ck_assert_int_eq(resume_load(path, 0, &r, &e), ST_ERR_FORMAT);
        }
        ck_assert_msg(strstr(e.msg, "progress section") != NULL, "case %zu: %s", k, e.msg);
        memcpy(body, keep, 36);
    }
    free(d);
    buf_free(&set);
    optim_free(&st.opt);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Sizes: refused from the arithmetic alone, before anything large is allocated. */
START_TEST(test_absurd_sizes_refused_before_allocation)
{
    Err e;
    NetSpec c;
    /* 12.6 GB per activation at batch 3000, about 70 GiB in all */
    const char *big = "input 1x28x28\nflatten\ndense 1048576\nrelu\ndropout 0.5\ndense 10\n";
    ck_assert_int_eq(cfg_parse_text("big.cfg", big, &c, &e), ST_OK);
    size_t np = 0, bytes = 0;
    ck_assert_int_eq(net_plan(&c, 3000, &np, &bytes, &e), ST_ERR_SHAPE);
    ck_assert_msg(strstr(e.msg, "big.cfg: the network needs ") && strstr(e.msg, "GiB for batch 3000, more than"), "%s",
                  e.msg);
    Net *net;
    ck_assert_int_eq(net_build(&c, 3000, &net, &e), ST_ERR_SHAPE);
    ck_assert_ptr_null(net);
    /* overflowing dims: input 65536x65536x65536 */
    ck_assert_int_eq(cfg_parse_text("o.cfg", "input 65536x65536x65536\nflatten\ndense 10\n", &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, 65536, &net, &e), ST_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(e.msg, "too large"));
    /* a small plan is what the net takes */
    ck_assert_int_eq(cfg_parse_text("s.cfg", "input 1x4x3\nflatten\ndense 3\n", &c, &e), ST_OK);
    ck_assert_int_eq(net_plan(&c, 2, &np, &bytes, &e), ST_OK);
    ck_assert_int_eq((int)np, 39);
    netspec_free(&c);

    /* a checkpoint whose model text claims 78 million parameters and holds
     * 39: refused by length, before the 300 MB network is built */
    char *dir = make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/m.fmw", dir);
    ck_assert_int_eq(cfg_parse_text("s.cfg", "input 1x4x3\nflatten\ndense 3\n", &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, 2, &net, &e), ST_OK);
    ck_assert_int_eq(weights_save(path, net, NULL, &e), ST_OK);
    net_free(net);
    char *d;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &d, &len, &e), ST_OK);
    const char *text = "input 1x4x3\nflatten\ndense 3\n", *claim = "input 9x99x88\nflatten\ndense 1000\ndense 3\n";
    char *at = memmem(d, len, text, strlen(text));
    ck_assert_ptr_nonnull(at);
    size_t tl = strlen(text), cl = strlen(claim), nlen = len - tl + cl;
    unsigned char *m = malloc(nlen);
    size_t pre = (size_t)(at - d);
    memcpy(m, d, pre);
    memcpy(m + pre, claim, cl);
    memcpy(m + pre + cl, at + tl, len - pre - tl);
    for (int i = 0; i < 8; i++) m[pre - 8 + i] = (unsigned char)(i == 0 ? cl : 0); /* the section's u64 length */
    fix_crc(m, nlen);
    Net *n2 = NULL;
    ck_assert_int_eq(weights_load_mem("claim.fmw", m, nlen, 4, &n2, NULL, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "claim.fmw: the model text describes 78412003 parameters, the tensor section holds "
                                "only"),
                  "%s", e.msg);
    ck_assert_ptr_null(n2);
    free(m);
    free(d);

    /* a picture whose header claims 20000x20000 pixels (predict) */
    static const unsigned char ihdr[] = {'I', 'H', 'D', 'R', 0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 8, 0, 0, 0, 0};
    unsigned char png[8 + 4 + sizeof ihdr + 4 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    memcpy(png + 12, ihdr, sizeof ihdr);
    uint32_t c2 = (uint32_t)crc32(crc32(0L, Z_NULL, 0), ihdr, sizeof ihdr);
    for (int i = 0; i < 4; i++) png[12 + sizeof ihdr + i] = (unsigned char)(c2 >> (24 - 8 * i));
    memcpy(png + 12 + sizeof ihdr + 4, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    snprintf(path, sizeof path, "%s/big.png", dir);
    ck_assert_int_eq(file_write_atomic(path, png, sizeof png, &e), ST_OK);
    GrayImage img;
    ck_assert_int_eq(image_load_gray(path, &img, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "20000x20000 pixels, more than the 64 megapixels fmnist reads") != NULL, "%s", e.msg);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *robust_suite(void)
{
    Suite *s = suite_create("robust");
    TCase *lib = tcase_create("library"), *cli = tcase_create("cli");
    tcase_add_test(lib, test_resume_mid_epoch_equals_uninterrupted);
    tcase_add_test(lib, test_save_every_and_best);
    tcase_add_test(lib, test_gradient_overflow_stops_before_the_step);
    tcase_add_test(lib, test_killed_atomic_write_leaves_old_or_new);
    tcase_add_test(lib, test_mid_epoch_fields_checked);
    tcase_add_test(lib, test_absurd_sizes_refused_before_allocation);
    tcase_set_timeout(lib, 120);
    tcase_add_test(cli, test_sigint_mid_epoch_then_resume_equals_uninterrupted);
    tcase_add_test(cli, test_second_sigint_leaves_files_whole);
    tcase_add_test(cli, test_divergence_keeps_last_good_checkpoint);
    tcase_add_test(cli, test_full_disk_keeps_previous_files);
    tcase_add_test(cli, test_unwritable_output_folder);
    tcase_add_test(cli, test_missing_data_is_named);
    tcase_set_timeout(cli, 240);
    suite_add_tcase(s, lib);
    suite_add_tcase(s, cli);
    return s;
}
