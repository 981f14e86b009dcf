/* test_firstrun.c - what a new user meets first (issue 12), through
 * tools/link-data.sh and the real binary ($FMNIST_BIN) on a small synthetic
 * IDX set:
 *  - `make data` on a fresh clone: link-data.sh creates data/, and never
 *    writes through or over what it did not make; CI runs `make train`;
 *  - OMP_NUM_THREADS bounded as --threads is;
 *  - a data folder named in $FMNIST_DATA used or refused (never swapped
 *    for another), and shown in the run header;
 *  - default output folders that never collide. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/dataset.h"
#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 16];

static const char *const DATA_FILES[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

/* snprintf that fails the test rather than cut a path or a command. */
__attribute__((format(printf, 3, 4))) static void fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, len, f, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < len, "a path or command of %d bytes does not fit in %zu", n, len);
}
#define FMT(buf, ...) fmt(buf, sizeof buf, __VA_ARGS__)

static void put_file(const char *path, const char *text)
{
    Err e;
    ck_assert_msg(file_write_atomic(path, text, strlen(text), &e) == ST_OK, "%s", e.msg);
}

static int is_link(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The text of a small file (the test's own). */
static void slurp(const char *path, char *buf, size_t len)
{
    char *d;
    size_t n;
    Err e;
    ck_assert_msg(file_read_all(path, len - 1, &d, &n, &e) == ST_OK, "%s", e.msg);
    memcpy(buf, d, n + 1);
    free(d);
}

/* root/data with a synthetic training (200) and test (100) split. */
static void synthetic_data(const char *root, char *dir, size_t len)
{
    fmt(dir, len, "%s/data", root);
    Err e;
    ck_assert_int_eq(file_mkdirs(dir, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 200, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 2), 0);
}

/* A copy of tools/link-data.sh at root/tools/, as in a fresh clone: no data/. */
static void script_copy(const char *root, char *script, size_t len)
{
    char cmd[4400];
    fmt(script, len, "%s/tools/link-data.sh", root);
    FMT(cmd, "mkdir -p '%s/tools' && cp tools/link-data.sh '%s'", root, script);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
}

/* ---- item 1: the first run ---------------------------------------------- */

/* data holds links, by absolute path, to the four files of src. */
static void check_links(const char *data, const char *src)
{
    ck_assert(is_dir(data));
    for (int i = 0; i < 4; i++) {
        char path[4400], target[4400], want[4400];
        FMT(path, "%s/%s", data, DATA_FILES[i]);
        ck_assert_msg(is_link(path), "%s is not a link", path);
        ssize_t n = readlink(path, target, sizeof target - 1);
        ck_assert_int_gt(n, 0);
        target[n] = 0;
        ck_assert_msg(target[0] == '/', "%s -> %s: not an absolute target", path, target);
        FMT(want, "%s/%s", src, DATA_FILES[i]);
        struct stat a, b;
        ck_assert_int_eq(stat(target, &a), 0);
        ck_assert_int_eq(stat(want, &b), 0);
        ck_assert_msg(a.st_dev == b.st_dev && a.st_ino == b.st_ino, "%s -> %s, not %s", path, target, want);
    }
}

/* A fresh clone made before data/README.md was tracked has no data/ at all
 * (`make train` failed: "ln: failed to create symbolic link"):
 * link-data.sh creates it and links the four files, by absolute path, also
 * when $FMNIST_DATA is relative (to where the user is). */
START_TEST(link_data_fresh_clone)
{
    char *root = make_temp_dir(), src[4200], clone[4200], script[4400], data[4300], cmd[9000];
    synthetic_data(root, src, sizeof src); /* root/data is the source; the clone is root/clone */
    FMT(clone, "%s/clone", root);
    script_copy(clone, script, sizeof script);
    FMT(data, "%s/data", clone);
    ck_assert(!file_exists(data));
    FMT(cmd, "FMNIST_DATA='%s' sh '%s'", src, script);
    int rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    ck_assert_ptr_nonnull(strstr(out, "linked the data set from"));
    check_links(data, src);
    /* the binary finds them there */
    Err e;
    char found[4096];
    int cwd = open(".", O_RDONLY);
    ck_assert_int_eq(chdir(clone), 0);
    ck_assert_msg(data_find_dir(NULL, NULL, found, sizeof found, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(found, "data");
    ck_assert_int_eq(fchdir(cwd), 0);
    close(cwd);
    /* a second run has nothing to do and succeeds */
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    /* relative: `FMNIST_DATA=data sh clone/tools/link-data.sh` from root means root/data */
    FMT(cmd, "rm -r '%s' && cd '%s' && FMNIST_DATA=data sh clone/tools/link-data.sh", data, root);
    rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    check_links(data, src);
    rm_tree(root);
    free(root);
}
END_TEST

/* What link-data.sh did not make stays as it is: a file of a data file's
 * name, a link to a folder (ln -sf would write into that folder), a data/
 * that is itself a link; only a dangling link of a data file's name is
 * replaced (the link, not what it names). */
START_TEST(link_data_never_overwrites)
{
    char *root = make_temp_dir(), src[4200], script[4200], data[4200], path[4400], cmd[9000], text[256];
    synthetic_data(root, src, sizeof src);
    char clone[4200];
    FMT(clone, "%s/clone", root);
    script_copy(clone, script, sizeof script);
    FMT(data, "%s/data", clone);
    Err e;
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    /* the user's own raw training images, and a dangling link from a moved data set */
    FMT(path, "%s/train-images-idx3-ubyte", data);
    put_file(path, "mine");
    FMT(path, "%s/t10k-images-idx3-ubyte", data);
    ck_assert_int_eq(symlink("/nonexistent/t10k-images-idx3-ubyte", path), 0);
    FMT(cmd, "FMNIST_DATA='%s' sh '%s'", src, script);
    int rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    FMT(path, "%s/train-images-idx3-ubyte", data);
    ck_assert(!is_link(path));
    slurp(path, text, sizeof text);
    ck_assert_str_eq(text, "mine");
    FMT(path, "%s/t10k-images-idx3-ubyte", data);
    ck_assert(is_link(path) && file_exists(path)); /* re-pointed at the source */
    FMT(path, "%s/train-labels-idx1-ubyte", data);
    ck_assert(is_link(path));

    /* a data file's name that is a link to a folder: nothing is written into that folder */
    char victim[4400];
    FMT(victim, "%s/victim", root);
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    FMT(cmd, "rm -rf '%s' && mkdir '%s' && ln -s '%s' '%s/t10k-labels-idx1-ubyte'", data, data, victim,
             data);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s", out);
    FMT(cmd, "FMNIST_DATA='%s' sh '%s'", src, script);
    rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "%s: exit %d, expected 1\n%s", cmd, rc, out);
    ck_assert_ptr_nonnull(strstr(out, "t10k-labels-idx1-ubyte"));
    FMT(cmd, "test -z \"$(ls -A '%s')\"", victim);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s is no longer empty", victim);

    /* data/ itself a link to a folder without the files: refused, nothing written there */
    FMT(cmd, "rm -rf '%s' && ln -s '%s' '%s'", data, victim, data);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s", out);
    FMT(cmd, "FMNIST_DATA='%s' sh '%s'", src, script);
    rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "%s: exit %d, expected 1\n%s", cmd, rc, out);
    ck_assert_ptr_nonnull(strstr(out, "not writing into it"));
    FMT(cmd, "test -z \"$(ls -A '%s')\"", victim);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s is no longer empty", victim);
    rm_tree(root);
    free(root);
}
END_TEST

/* $FMNIST_DATA naming a missing folder, or one without the files, stops
 * link-data.sh (and so `make train`) as it stops fmnist. */
START_TEST(link_data_env_checked)
{
    char *root = make_temp_dir(), src[4200], script[4200], data[4200], cmd[9000], path[4400];
    synthetic_data(root, src, sizeof src);
    char clone[4200];
    FMT(clone, "%s/clone", root);
    script_copy(clone, script, sizeof script);
    FMT(data, "%s/data", clone);
    FMT(cmd, "FMNIST_DATA='%s/none' sh '%s'", root, script);
    int rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "%s: exit %d\n%s", cmd, rc, out);
    ck_assert_ptr_nonnull(strstr(out, "$FMNIST_DATA="));
    ck_assert_ptr_nonnull(strstr(out, "/none"));
    FMT(path, "%s/t10k-labels-idx1-ubyte", src);
    ck_assert_int_eq(unlink(path), 0);
    FMT(cmd, "FMNIST_DATA='%s' sh '%s'", src, script);
    rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "%s: exit %d\n%s", cmd, rc, out);
    ck_assert_ptr_nonnull(strstr(out, "t10k-labels-idx1-ubyte"));
    ck_assert(!file_exists(data));
    rm_tree(root);
    free(root);
}
END_TEST

/* data/ is in the repository (a fresh clone has the folder), and CI runs the
 * README's first command, `make train`, so a fresh clone cannot break again
 * unnoticed. */
START_TEST(ci_runs_first_command)
{
    ck_assert_msg(file_exists("data/README.md"), "data/README.md is missing from the tree");
    char ci[8192];
    slurp(".ci/run", ci, sizeof ci);
    const char *p = strstr(ci, "\nmake train ");
    ck_assert_msg(p != NULL, ".ci/run does not run `make train`:\n%s", ci);
    ck_assert_msg(strstr(ci, "\nmake test") && p < strstr(ci, "\nmake test"),
                  ".ci/run must run `make train` first, from the clean checkout");
}
END_TEST

/* ---- item 6: OMP_NUM_THREADS is bounded -------------------------------- */

/* The binary and the repository's files by absolute path, for commands run
 * from another folder (the tests run in the repository's root). */
static void abs_path(const char *rel, char *buf, size_t len)
{
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    if (rel[0] == '/') fmt(buf, len, "%s", rel);
    else fmt(buf, len, "%s/%s", cwd, rel);
}

static void bin_path(char *buf, size_t len)
{
    const char *bin = getenv("FMNIST_BIN");
    abs_path(bin && *bin ? bin : "./fmnist", buf, len);
}

typedef struct {
    char *root;
    char data[4200], weights[4300], bin[PATH_MAX];
} Fixture;

/* A temp folder with the synthetic data and a 1-epoch model trained on it. */
static void fixture(Fixture *f)
{
    f->root = make_temp_dir();
    ck_assert_ptr_nonnull(f->root);
    synthetic_data(f->root, f->data, sizeof f->data);
    bin_path(f->bin, sizeof f->bin);
    char args[9000];
    FMT(args, "train --data %s --epochs 1 --threads 1 --no-progress --out %s/r", f->data, f->root);
    expect_fmnist(args, 0, "saved", out, sizeof out);
    fmt(f->weights, sizeof f->weights, "%s/r/model.fmw", f->root);
}

static void fixture_free(Fixture *f)
{
    rm_tree(f->root);
    free(f->root);
}

/* Runs `ENV BIN ARGS` (ENV: shell assignments) from the repository root;
 * fails unless the exit status is code and the output holds word (if not NULL). */
static void expect_env(const Fixture *f, const char *env, const char *args, int code, const char *word)
{
    char cmd[9000];
    FMT(cmd, "%s '%s' %s", env, f->bin, args);
    int rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == code, "%s: exit %d, expected %d; output:\n%s", cmd, rc, code, out);
    if (word) ck_assert_msg(strstr(out, word) != NULL, "%s: output lacks '%s':\n%s", cmd, word, out);
}

START_TEST(omp_num_threads_bounded)
{
    Fixture f;
    fixture(&f);
    char eval[4600], train[9000], r2[4300];
    FMT(eval, "eval --weights %s --data %s", f.weights, f.data);
    FMT(r2, "%s/r2", f.root);
    FMT(train, "train --data %s --epochs 1 --train-limit 50 --no-progress --out %s", f.data, r2);
#ifdef _OPENMP
    /* 100000 threads overflowed the OpenMP runtime's stack (exit 139) */
    expect_env(&f, "OMP_NUM_THREADS=100000", eval, 2, "OMP_NUM_THREADS='100000'");
    ck_assert_ptr_nonnull(strstr(out, "1 to 1024"));
    ck_assert_ptr_nonnull(strstr(out, "--threads"));
    expect_env(&f, "OMP_NUM_THREADS=100000", train, 2, "OMP_NUM_THREADS");
    ck_assert_msg(!file_exists(r2), "train created %s before refusing", r2);
    char args[9000];
    FMT(args, "sweep --dropout 0.1,0.1 --data %s --epochs 1 --out %s", f.data, r2);
    expect_env(&f, "OMP_NUM_THREADS=100000", args, 2, "OMP_NUM_THREADS");
    FMT(args, "predict --weights %s --idx %s/t10k-images-idx3-ubyte", f.weights, f.data);
    expect_env(&f, "OMP_NUM_THREADS=100000", args, 2, "OMP_NUM_THREADS");
    /* malformed: a usage error naming the variable, not the runtime's default */
    const char *bad[] = {"abc", "0", "-1", "1025", "2,5000", "4x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char env[128];
        FMT(env, "OMP_NUM_THREADS='%s'", bad[i]);
        expect_env(&f, env, eval, 2, "OMP_NUM_THREADS");
    }
#else
    expect_env(&f, "OMP_NUM_THREADS=100000", eval, 0, "test loss"); /* a serial build has no threads to make */
#endif
    /* --threads replaces the variable, whatever it says */
    FMT(train, "%s --threads 2", eval);
    expect_env(&f, "OMP_NUM_THREADS=100000", train, 0, "test loss");
    /* good values, the largest, a list (one count per nesting level), and empty = unset */
    const char *good[] = {"1", " 2 ", "1024", "2,1", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char env[128];
        FMT(env, "OMP_NUM_THREADS='%s'", good[i]);
        expect_env(&f, env, eval, 0, "test loss");
    }
    expect_fmnist("train --help", 0, "$OMP_NUM_THREADS", out, sizeof out);
    ck_assert_ptr_nonnull(strstr(out, "1-1024"));
    fixture_free(&f);
}
END_TEST

/* ---- item 10: the data folder is what the user said --------------------- */

START_TEST(fmnist_data_named_is_used_or_refused)
{
    Fixture f;
    fixture(&f);
    char args[9000], env[4400], r3[4300];
    FMT(args, "eval --weights %s", f.weights);
    /* missing: an error naming the variable and the folder, not data/ or the system's set */
    FMT(env, "FMNIST_DATA='%s/none'", f.root);
    expect_env(&f, env, args, 1, "$FMNIST_DATA=");
    ck_assert_ptr_nonnull(strstr(out, "/none: cannot open data folder"));
    FMT(r3, "%s/r3", f.root);
    char train[9000];
    FMT(train, "train --epochs 1 --no-progress --out %s", r3);
    expect_env(&f, env, train, 1, "$FMNIST_DATA=");
    ck_assert(!file_exists(r3));
    /* a file, not a folder */
    FMT(env, "FMNIST_DATA='%s'", f.weights);
    expect_env(&f, env, args, 1, "$FMNIST_DATA=");
    ck_assert_ptr_nonnull(strstr(out, strerror(ENOTDIR)));
    /* a folder without one of the files: names it */
    char part[4300], path[4400];
    FMT(part, "%s/part", f.root);
    Err e;
    ck_assert_int_eq(file_mkdirs(part, &e), ST_OK);
    for (int i = 0; i < 3; i++) {
        FMT(path, "%s/%s", part, DATA_FILES[i]);
        put_file(path, "");
    }
    FMT(env, "FMNIST_DATA='%s'", part);
    expect_env(&f, env, args, 1, part);
    ck_assert_ptr_nonnull(strstr(out, "no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"));
    ck_assert_ptr_nonnull(strstr(out, "$FMNIST_DATA="));
    /* --data is named too, and comes first */
    FMT(args, "eval --weights %s --data %s", f.weights, f.data);
    expect_env(&f, env, args, 0, "test loss");
    /* a good folder is used and shown: train's header, eval's result line */
    FMT(env, "FMNIST_DATA='%s'", f.data);
    FMT(args, "eval --weights %s", f.weights);
    char shown[4400];
    FMT(shown, "(100 images from %s)", f.data);
    expect_env(&f, env, args, 0, shown);
    expect_env(&f, env, train, 0, "saved");
    FMT(shown, "200 training and 100 test images of 28x28, 10 classes, from %s\n", f.data);
    ck_assert_msg(strstr(out, shown) != NULL, "header lacks '%s':\n%s", shown, out);
    fixture_free(&f);
}
END_TEST

/* "" counts as unset (as for the library's other callers). */
START_TEST(fmnist_data_empty_is_unset)
{
    char a[4096], b[4096];
    Err ea = {{0}}, eb = {{0}};
    Status sa = data_find_dir(NULL, "", a, sizeof a, &ea), sb = data_find_dir(NULL, NULL, b, sizeof b, &eb);
    ck_assert_int_eq(sa, sb);
    if (sa == ST_OK) ck_assert_str_eq(a, b);
    else ck_assert_str_eq(ea.msg, eb.msg);
}
END_TEST

/* ---- item 11: default output folders never collide ---------------------- */

START_TEST(mkdir_new_unique)
{
    char *root = make_temp_dir(), base[4200], got[4400], want[4400], victim[4300];
    Err e;
    FMT(base, "%s/runs/deep/mlp-20260101-000000", root); /* parents missing */
    ck_assert_msg(file_mkdir_new(base, got, sizeof got, &e) == ST_OK, "%s", e.msg);
    ck_assert_str_eq(got, base);
    ck_assert(is_dir(got));
    ck_assert_msg(file_mkdir_new(base, got, sizeof got, &e) == ST_OK, "%s", e.msg);
    FMT(want, "%s-2", base);
    ck_assert_str_eq(got, want);
    /* names already taken by anything, links too, are passed over and left alone */
    FMT(victim, "%s/victim", root);
    ck_assert_int_eq(mkdir(victim, 0755), 0);
    FMT(want, "%s-3", base);
    ck_assert_int_eq(symlink(victim, want), 0);
    FMT(want, "%s-4", base);
    put_file(want, "a file");
    FMT(want, "%s-5", base);
    ck_assert_int_eq(symlink("/nonexistent", want), 0);
    ck_assert_msg(file_mkdir_new(base, got, sizeof got, &e) == ST_OK, "%s", e.msg);
    FMT(want, "%s-6", base);
    ck_assert_str_eq(got, want);
    ck_assert(is_dir(got) && !is_link(got));
    char cmd[4400];
    FMT(cmd, "test -z \"$(ls -A '%s')\"", victim);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "something was created in %s", victim);
    /* a name that does not fit, a parent that is a file */
    char tiny[8];
    ck_assert_int_eq(file_mkdir_new(base, tiny, sizeof tiny, &e), ST_ERR_ARG);
    FMT(base, "%s/victim-file/x", root);
    FMT(want, "%s/victim-file", root);
    put_file(want, "x");
    ck_assert_int_eq(file_mkdir_new(base, got, sizeof got, &e), ST_ERR_IO);
    ck_assert_ptr_nonnull(strstr(e.msg, "victim-file"));
    rm_tree(root);
    free(root);
}
END_TEST

/* The folder after "writing " in a run's output. */
static void written_folder(const char *text, char *buf, size_t len)
{
    const char *p = strstr(text, "; writing ");
    ck_assert_msg(p != NULL, "no 'writing' in:\n%s", text);
    p += strlen("; writing ");
    fmt(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
}

/* Two trainings started at once, in a folder whose runs/ already holds a
 * finished run under every name the clock could give in the next minute:
 * each gets a new folder of its own, and no earlier run is touched. The
 * same for a sweep's default folder. */
START_TEST(default_out_never_collides)
{
    Fixture f;
    fixture(&f);
    char model[PATH_MAX], cwd[4300], cmd[20000], path[4600], stamp[32], text[64];
    abs_path("models/mlp.cfg", model, sizeof model);
    FMT(cwd, "%s/work", f.root);
    Err e;
    time_t now = time(NULL);
    for (int dt = -1; dt <= 60; dt++) {
        time_t t = now + dt;
        struct tm tm;
        ck_assert_ptr_nonnull(localtime_r(&t, &tm));
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        FMT(path, "%s/runs/mlp-%s", cwd, stamp);
        ck_assert_int_eq(file_mkdirs(path, &e), ST_OK);
        FMT(path, "%s/runs/mlp-%s/model.fmw", cwd, stamp);
        put_file(path, "planted\n");
        FMT(path, "%s/runs/sweep-%s", cwd, stamp);
        ck_assert_int_eq(file_mkdirs(path, &e), ST_OK);
    }
    char args[9000];
    FMT(args, "train --model %s --data %s --epochs 1 --train-limit 100 --threads 1 --no-progress",
             model, f.data);
    FMT(cmd,
             "cd '%s' && { '%s' %s > a.txt 2>&1; echo $? > a.rc; } & { cd '%s' && '%s' %s > b.txt 2>&1; "
             "echo $? > b.rc; } & wait",
             cwd, f.bin, args, cwd, f.bin, args);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    char dirs[2][4400];
    for (int k = 0; k < 2; k++) {
        FMT(path, "%s/%c.rc", cwd, "ab"[k]);
        slurp(path, text, sizeof text);
        FMT(path, "%s/%c.txt", cwd, "ab"[k]);
        slurp(path, out, sizeof out);
        ck_assert_msg(atoi(text) == 0, "run %c: exit %d\n%s", "ab"[k], atoi(text), out);
        written_folder(out, dirs[k], sizeof dirs[k]);
        ck_assert_msg(strncmp(dirs[k], "runs/mlp-", 9) == 0, "%s", dirs[k]);
        size_t n = strlen(dirs[k]);
        ck_assert_msg(n > 2 && dirs[k][n - 2] == '-', "%s: not a -N folder beside a taken name", dirs[k]);
        FMT(path, "%s/%s/model.fmw", cwd, dirs[k]);
        ck_assert_msg(file_exists(path), "%s missing", path);
    }
    ck_assert_msg(strcmp(dirs[0], dirs[1]) != 0, "both runs wrote %s", dirs[0]);
    /* the planted runs are as they were */
    FMT(cmd, "cd '%s/runs' && cat mlp-*[0-9][0-9]/model.fmw | sort -u", cwd);
    ck_assert_int_eq(run_shell(cmd, out, sizeof out), 0);
    ck_assert_str_eq(out, "planted\n");
    /* a sweep's default folder: a new one too, not an existing (even empty) one */
    FMT(args, "sweep --model %s --dropout 0.1,0.1 --data %s --epochs 1 --train-limit 100 --threads 1 "
             "--no-progress", model, f.data);
    FMT(cmd, "cd '%s' && '%s' %s", cwd, f.bin, args);
    int rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    written_folder(out, dirs[0], sizeof dirs[0]);
    ck_assert_msg(strncmp(dirs[0], "runs/sweep-", 11) == 0 && dirs[0][strlen(dirs[0]) - 2] == '-', "%s", dirs[0]);
    fixture_free(&f);
}
END_TEST

Suite *firstrun_suite(void)
{
    Suite *s = suite_create("firstrun");
    TCase *tc = tcase_create("firstrun");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, link_data_fresh_clone);
    tcase_add_test(tc, link_data_never_overwrites);
    tcase_add_test(tc, link_data_env_checked);
    tcase_add_test(tc, ci_runs_first_command);
    tcase_add_test(tc, omp_num_threads_bounded);
    tcase_add_test(tc, fmnist_data_named_is_used_or_refused);
    tcase_add_test(tc, fmnist_data_empty_is_unset);
    tcase_add_test(tc, mkdir_new_unique);
    tcase_add_test(tc, default_out_never_collides);
    suite_add_tcase(s, tc);
    return s;
}
