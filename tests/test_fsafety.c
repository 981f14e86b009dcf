/* test_fsafety.c - how fmnist touches the file system (issue 12, items 3-5).
 *
 * Temp and probe files: links and files planted in the output folder under
 * the names fmnist used to write to ("NAME.tmp-PID", ".fmnist-write-test-PID")
 * are never followed, truncated or moved into place; the outputs end up
 * regular files of ours (through the library, and a real `train` whose pid is
 * known before it starts).
 * A file-size limit (ulimit -f): every command that writes fails with "File
 * too large" naming the file, exit 1, no temp file left, the earlier file
 * intact, instead of dying of SIGXFSZ. The binary runs in a child with
 * SIGXFSZ at its default action, as in a user's shell.
 * Non-regular files: a FIFO, a folder or a device given to any reader (IDX,
 * model file, checkpoint, log.csv, picture) is refused at once with "not a
 * regular file" instead of blocking in open(); a 4 GiB sparse file given as a
 * checkpoint is refused from its header, without being read. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/idx.h"
#include "model/cfg.h"
#include "model/image.h"
#include "model/weights.h"
#include "report/curve.h"
#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 16];

/* ---- helpers ---- */

/* The whole file (NUL-terminated, *len bytes), or NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, k;
    char *d = malloc(cap + 1);
    while (d && (k = fread(d + n, 1, cap - n, f)) > 0)
        if ((n += k) == cap) {
            char *g = realloc(d, 2 * cap + 1);
            if (!g) free(d);
            d = g, cap *= 2;
        }
    fclose(f);
    if (d) d[n] = 0;
    if (len) *len = n;
    return d;
}

/* tmpl with {D} replaced by d, {R} by r and {F} by f. */
static void subst(char *dst, size_t cap, const char *tmpl, const char *d, const char *r, const char *f)
{
    size_t n = 0;
    for (const char *t = tmpl; *t && n + 1 < cap;) {
        const char *v = !strncmp(t, "{D}", 3) ? d : !strncmp(t, "{R}", 3) ? r : !strncmp(t, "{F}", 3) ? f : NULL;
        if (v) {
            n += (size_t)snprintf(dst + n, cap - n, "%s", v);
            if (n >= cap) n = cap - 1;
            t += 3;
        } else dst[n++] = *t++;
    }
    dst[n] = 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static void expect_content(const char *path, const char *want)
{
    char *got = slurp(path, NULL);
    ck_assert_msg(got != NULL, "%s: cannot read it back", path);
    ck_assert_msg(!strcmp(got, want), "%s holds '%s', expected '%s'", path, got, want);
    free(got);
}

static int is_kind(const char *path, mode_t kind)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && (sb.st_mode & S_IFMT) == kind;
}

/* Entries of dir whose name contains part. */
static int count_names(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) n += strstr(de->d_name, part) != NULL;
    closedir(d);
    return n;
}

static void plant_link(const char *target, const char *fmt, const char *dir, long pid)
{
    char p[4400];
    snprintf(p, sizeof p, fmt, dir, pid);
    ck_assert_msg(symlink(target, p) == 0, "%s: %s", p, strerror(errno));
}

/* A temp folder with synthetic data (DIR/train-*, DIR/t10k-*) and a model
 * small enough that a run takes milliseconds (DIR/tiny.cfg). */
static char *fixture(void)
{
    char *dir = make_temp_dir(), p[4400];
    ck_assert_ptr_nonnull(dir);
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 200, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    snprintf(p, sizeof p, "%s/tiny.cfg", dir);
    write_text(p, "input 1x28x28\nflatten\ndense 10\n");
    return dir;
}

static const char *bin(void)
{
    const char *b = getenv("FMNIST_BIN");
    return b && *b ? b : "./fmnist";
}

/* The training flags of a tiny run on the fixture's data. */
#define TINY "--data %s --model %s/tiny.cfg --epochs 1 --batch 50 --threads 1 --no-progress"

/* Starts the binary with args (split at spaces: the temp paths have none),
 * stdout and stderr into logpath, SIGXFSZ at its default action (as in a
 * user's shell; the test runner may ignore it), a file-size limit of fsize
 * bytes if not 0, and an alarm that kills a run that hangs. If gate >= 0 the
 * child waits for a byte (or EOF) on it before exec, so that the caller can
 * prepare files that carry the child's pid. */
static pid_t spawn(const char *args, const char *logpath, rlim_t fsize, int gate)
{
    static char buf[8192];
    char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    argv[argc++] = (char *)bin();
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
        if (gate >= 0) {
            char c;
            if (read(gate, &c, 1) < 0) _exit(126);
            close(gate);
        }
        signal(SIGXFSZ, SIG_DFL);
        if (fsize) {
            struct rlimit rl = {fsize, fsize};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
        }
        alarm(60);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* The exit status (128 + signal if killed); *maxrss_kb (if not NULL) the
 * child's peak resident memory. */
static int wait_child(pid_t pid, long *maxrss_kb)
{
    int st;
    struct rusage ru;
    ck_assert_int_eq(wait4(pid, &st, 0, &ru), pid);
    if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs the binary as spawn does and returns its exit status; its output is
 * left in out. */
static int run_child(const char *args, const char *dir, rlim_t fsize, long *maxrss_kb)
{
    char logp[4400];
    snprintf(logp, sizeof logp, "%s/child.out", dir);
    int rc = wait_child(spawn(args, logp, fsize, -1), maxrss_kb);
    char *msg = slurp(logp, NULL);
    snprintf(out, sizeof out, "%s", msg ? msg : "");
    free(msg);
    unlink(logp);
    return rc;
}

/* ---- item 3: temp and probe files cannot be hijacked ---- */

START_TEST(test_atomic_write_never_follows_planted_links)
{
    char *dir = make_temp_dir();
    char victim[4400], p[4400], q[4400];
    long pid = (long)getpid();
    snprintf(victim, sizeof victim, "%s/victim", dir);
    write_text(victim, "precious\n");
    /* links under the names fmnist wrote its temp file and its probe to */
    plant_link(victim, "%s/out.bin.tmp-%ld", dir, pid);
    plant_link(victim, "%s/.fmnist-write-test-%ld", dir, pid);
    /* a dangling link: must not create the file it names */
    snprintf(q, sizeof q, "%s/ghost", dir);
    plant_link(q, "%s/dangling.bin.tmp-%ld", dir, pid);
    /* a plain file under the old temp name: never truncated */
    snprintf(p, sizeof p, "%s/plain.bin.tmp-%ld", dir, pid);
    write_text(p, "not yours\n");
    /* a link at the destination itself: replaced, not followed */
    snprintf(p, sizeof p, "%s/dest.bin", dir);
    ck_assert_int_eq(symlink(victim, p), 0);

    Err e;
    const char *names[] = {"out.bin", "dangling.bin", "plain.bin", "dest.bin"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        ck_assert_msg(file_write_atomic(p, "fresh\n", 6, &e) == ST_OK, "%s", e.msg);
        ck_assert_msg(is_kind(p, S_IFREG), "%s is not a regular file", p);
        expect_content(p, "fresh\n");
    }
    ck_assert_msg(file_check_writable(dir, &e) == ST_OK, "%s", e.msg);

    expect_content(victim, "precious\n");
    ck_assert_msg(!file_exists(q), "the dangling link's target was created");
    snprintf(p, sizeof p, "%s/plain.bin.tmp-%ld", dir, pid);
    expect_content(p, "not yours\n");
    const char *links[] = {"out.bin.tmp-%ld", ".fmnist-write-test-%ld", "dangling.bin.tmp-%ld"};
    for (int i = 0; i < 3; i++) {
        char fmt[100];
        snprintf(fmt, sizeof fmt, "%%s/%s", links[i]);
        snprintf(p, sizeof p, fmt, dir, pid);
        ck_assert_msg(is_kind(p, S_IFLNK), "%s: the planted link was moved or replaced", p);
    }
    /* nothing of ours is left: 4 outputs, victim, 3 planted temp names, the planted probe */
    ck_assert_int_eq(count_names(dir, ".tmp-"), 3);
    ck_assert_int_eq(count_names(dir, "write-test"), 1);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A real train whose pid is known before it starts: links under all its old
 * temp names and its probe name in the output folder. */
START_TEST(test_train_never_follows_planted_links)
{
    char *dir = fixture();
    char victim[1024], run[1024], args[8192], logp[1024], p[4400];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    write_text(victim, "precious\n");
    snprintf(run, sizeof run, "%s/run", dir);
    ck_assert_int_eq(mkdir(run, 0755), 0);
    snprintf(logp, sizeof logp, "%s/train.out", dir);
    snprintf(args, sizeof args, "train " TINY " --val 50 --out %s", dir, dir, run); /* --val: best.fmw too */
    int gate[2];
    ck_assert_int_eq(pipe(gate), 0);
    pid_t pid = spawn(args, logp, 0, gate[0]);
    close(gate[0]);
    const char *names[] = {"model.fmw", "best.fmw", "log.csv", "curves.png"};
    for (int i = 0; i < 4; i++) {
        char fmt[100];
        snprintf(fmt, sizeof fmt, "%%s/%s.tmp-%%ld", names[i]);
        plant_link(victim, fmt, run, (long)pid);
    }
    plant_link(victim, "%s/.fmnist-write-test-%ld", run, (long)pid);
    ck_assert_int_eq(write(gate[1], "x", 1), 1);
    close(gate[1]);
    int rc = wait_child(pid, NULL);
    char *msg = slurp(logp, NULL);
    ck_assert_msg(rc == 0, "train: exit %d:\n%s", rc, msg);
    free(msg);
    expect_content(victim, "precious\n");
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", run, names[i]);
        ck_assert_msg(is_kind(p, S_IFREG), "%s is not a regular file", p);
    }
    ck_assert_int_eq(count_names(run, ".tmp-"), 4); /* the planted links, still there */
    snprintf(p, sizeof p, "%s/model.fmw", run);
    Net *net;
    Err e;
    ck_assert_msg(weights_load(p, 1, &net, NULL, &e) == ST_OK, "%s", e.msg);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 4: a file-size limit is an error, not a kill ---- */

START_TEST(test_file_size_limit_is_an_error)
{
    char *dir = fixture();
    char run[1024], args[8192], target[4400], want[4600];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args, "train " TINY " --out %s", dir, dir, run);
    ck_assert_msg(run_child(args, dir, 0, NULL) == 0, "%s", out);
    /* each command: ARGS ({D} the fixture folder, {R} the run), the file
     * whose write fails (relative to {D}); run once without a limit first
     * (unless the file is the run's own), so that an earlier file exists */
    static const struct {
        const char *args, *file;
    } cases[] = {
        {"export --weights {R}/model.fmw -o {D}/m.npz", "m.npz"},
        {"export --weights {R}/model.fmw -o {D}/m.onnx", "m.onnx"},
        {"plot {R}/log.csv -o {D}/p.png", "p.png"},
        {"eval --data {D} --weights {R}/model.fmw --confusion {D}/c.png", "c.png"},
        {"eval --data {D} --weights {R}/model.fmw --errors {D}/err.png", "err.png"},
        {"wd-demo --out {D}/wd --overwrite", "wd/wd-demo.png"},
        {"sweep --data {D} --model {D}/tiny.cfg --weight-decay 0 --epochs 1 --no-progress --out {D}/sw",
         "sw/compare_loss.png"},
        {"train --resume {R}/model.fmw --epochs 2 --data {D} --no-progress", "run/model.fmw"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        subst(args, sizeof args, cases[k].args, dir, run, NULL);
        snprintf(target, sizeof target, "%s/%s", dir, cases[k].file);
        if (!file_exists(target)) ck_assert_msg(run_child(args, dir, 0, NULL) == 0, "%s:\n%s", args, out);
        size_t blen;
        char *before = slurp(target, &blen);
        ck_assert_ptr_nonnull(before);
        int rc = run_child(args, dir, 2048, NULL);
        ck_assert_msg(rc == 1, "%s: exit %d under a 2 KiB file-size limit, expected 1:\n%s", args, rc, out);
        snprintf(want, sizeof want, "%s: cannot write: File too large", target);
        ck_assert_msg(strstr(out, want) != NULL, "%s: output lacks '%s':\n%s", args, want, out);
        size_t alen;
        char *after = slurp(target, &alen);
        ck_assert_msg(after && alen == blen && !memcmp(before, after, blen), "%s: %s changed", args, target);
        free(before);
        free(after);
        char folder[4400];
        snprintf(folder, sizeof folder, "%s", target);
        *strrchr(folder, '/') = 0;
        ck_assert_msg(count_names(folder, ".tmp-") == 0, "%s: a temp file is left in %s", args, folder);
    }
    /* the run's other files too */
    snprintf(target, sizeof target, "%s/log.csv", run);
    char *log = slurp(target, NULL);
    ck_assert_msg(log && strstr(log, "\n1,") && !strstr(log, "\n2,"), "log.csv changed:\n%s", log);
    free(log);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 5: nothing hangs on a non-regular file ---- */

START_TEST(test_readers_refuse_non_regular_files)
{
    char *dir = make_temp_dir();
    char fifo[4400], folder[4400];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    snprintf(folder, sizeof folder, "%s/folder", dir);
    ck_assert_int_eq(mkdir(folder, 0755), 0);
    alarm(20); /* a reader that blocks in open() fails the test instead of hanging it */
    const char *paths[] = {fifo, folder, "/dev/null"};
    for (int i = 0; i < 3; i++) {
        const char *p = paths[i];
        char want[4600];
        snprintf(want, sizeof want, "%s: not a regular file (%s)", p,
                 i == 0 ? "a FIFO" : i == 1 ? "a folder" : "a device");
        Err e;
        Status st[7];
        IdxImages im;
        IdxLabels lb;
        NetSpec cfg;
        Net *net;
        Curve cv;
        GrayImage img;
        char *data;
        size_t len;
        st[0] = idx_read_images(p, &im, &e);
        ck_assert_msg(st[0] && strstr(e.msg, want), "idx_read_images(%s): %s", p, e.msg);
        st[1] = idx_read_labels(p, &lb, &e);
        ck_assert_msg(st[1] && strstr(e.msg, want), "idx_read_labels(%s): %s", p, e.msg);
        st[2] = cfg_parse_file(p, &cfg, &e);
        ck_assert_msg(st[2] && strstr(e.msg, want), "cfg_parse_file(%s): %s", p, e.msg);
        st[3] = weights_load(p, 1, &net, NULL, &e);
        ck_assert_msg(st[3] && strstr(e.msg, want), "weights_load(%s): %s", p, e.msg);
        st[4] = curve_read(p, &cv, &e);
        ck_assert_msg(st[4] && strstr(e.msg, want), "curve_read(%s): %s", p, e.msg);
        st[5] = image_load_gray(p, &img, &e);
        ck_assert_msg(st[5] && strstr(e.msg, want), "image_load_gray(%s): %s", p, e.msg);
        st[6] = file_read_all(p, 1 << 20, &data, &len, &e);
        ck_assert_msg(st[6] && strstr(e.msg, want), "file_read_all(%s): %s", p, e.msg);
    }
    alarm(0);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Every command that reads a file the user names: a FIFO, a folder and
 * /dev/null in its place. */
START_TEST(test_commands_refuse_non_regular_files)
{
    char *dir = fixture();
    char run[1024], args[8192], cmd[8400], bad[4400], fdata[1024], want[4600];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(args, sizeof args, "train " TINY " --out %s", dir, dir, run);
    ck_assert_msg(run_child(args, dir, 0, NULL) == 0, "%s", out);
    /* a data folder whose training images are a FIFO */
    snprintf(fdata, sizeof fdata, "%s/fdata", dir);
    ck_assert_int_eq(mkdir(fdata, 0755), 0);
    ck_assert_int_eq(write_synthetic_idx(fdata, "t10k", 20, 9), 0);
    ck_assert_int_eq(write_synthetic_idx(fdata, "train", 20, 9), 0);
    snprintf(bad, sizeof bad, "%s/train-images-idx3-ubyte", fdata);
    ck_assert_int_eq(unlink(bad), 0);
    ck_assert_int_eq(mkfifo(bad, 0644), 0);
    snprintf(cmd, sizeof cmd, "timeout 20 %s train --data %s --model %s/tiny.cfg --out %s/x 2>&1", bin(), fdata, dir,
             dir);
    int rc = run_shell(cmd, out, sizeof out);
    snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", bad);
    ck_assert_msg(rc == 1 && strstr(out, want), "train --data (a FIFO inside): exit %d:\n%s", rc, out);

    char fifo[4400], folder[4400];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    snprintf(folder, sizeof folder, "%s/folder", dir);
    ck_assert_int_eq(mkdir(folder, 0755), 0);
    /* {D} the fixture folder, {R} the run, {F} the bad file */
    static const char *cases[] = {
        "train --data {D} --model {F} --out {D}/y",
        "train --resume {F}",
        "eval --data {D} --weights {F}",
        "export --weights {F} -o {D}/e.npz",
        "plot {F} -o {D}/p.png",
        "predict --weights {R}/model.fmw {F}",
        "predict --weights {R}/model.fmw --idx {F}",
    };
    const char *paths[] = {fifo, folder, "/dev/null"};
    for (int i = 0; i < 3; i++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            subst(args, sizeof args, cases[k], dir, run, paths[i]);
            snprintf(cmd, sizeof cmd, "timeout 20 %s %s", bin(), args);
            rc = run_shell(cmd, out, sizeof out);
            snprintf(want, sizeof want, "%s: not a regular file", paths[i]);
            ck_assert_msg(rc == 1 && strstr(out, want), "%s: exit %d (124: it hung), expected 1 and '%s':\n%s", args,
                          rc, want, out);
        }
    snprintf(bad, sizeof bad, "%s/y", dir);
    ck_assert_msg(!file_exists(bad), "train made its output folder before reading the model file");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A 4 GiB file (sparse: no disk) given as a checkpoint is refused from its
 * first bytes, not read whole into memory first. */
START_TEST(test_huge_checkpoint_refused_from_its_header)
{
    char *dir = fixture();
    char huge[4400], args[8192], want[4600];
    snprintf(huge, sizeof huge, "%s/huge.fmw", dir);
    int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    if (ftruncate(fd, (off_t)4 << 30) != 0) {
        printf("skipped: test_huge_checkpoint_refused_from_its_header (no 4 GiB sparse file here: %s)\n",
               strerror(errno));
        close(fd);
        rm_tree(dir);
        free(dir);
        return;
    }
    close(fd);
    snprintf(want, sizeof want, "%s: not an fmnist checkpoint (no FMNW header)", huge);
    const char *cmds[] = {"eval --data {D} --weights {F}", "export --weights {F} -o {D}/e.npz"};
    for (int k = 0; k < 2; k++) {
        subst(args, sizeof args, cmds[k], dir, NULL, huge);
        struct timeval t0, t1;
        gettimeofday(&t0, NULL);
        long rss;
        int rc = run_child(args, dir, 0, &rss);
        gettimeofday(&t1, NULL);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec);
        ck_assert_msg(rc == 1 && strstr(out, want), "%s: exit %d, expected 1 and '%s':\n%s", args, rc, want, out);
        /* read whole, it would take 4 GiB of memory (and seconds) */
        ck_assert_msg(rss < 1024 * 1024, "%s: peak memory %ld KiB", args, rss);
        ck_assert_msg(secs < 10, "%s: took %.1f s", args, secs);
    }
    Net *net;
    Err e;
    ck_assert_int_eq(weights_load(huge, 1, &net, NULL, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *fsafety_suite(void)
{
    Suite *s = suite_create("fsafety");
    TCase *links = tcase_create("links"), *fsize = tcase_create("fsize"), *nonreg = tcase_create("nonregular");
    tcase_add_test(links, test_atomic_write_never_follows_planted_links);
    tcase_add_test(links, test_train_never_follows_planted_links);
    tcase_set_timeout(links, 60);
    tcase_add_test(fsize, test_file_size_limit_is_an_error);
    tcase_set_timeout(fsize, 120);
    tcase_add_test(nonreg, test_readers_refuse_non_regular_files);
    tcase_add_test(nonreg, test_commands_refuse_non_regular_files);
    tcase_add_test(nonreg, test_huge_checkpoint_refused_from_its_header);
    tcase_set_timeout(nonreg, 120);
    suite_add_tcase(s, links);
    suite_add_tcase(s, fsize);
    suite_add_tcase(s, nonreg);
    return s;
}
