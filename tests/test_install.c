/* test_install.c - issue 18, item 6: fmnist outside its clone.
 *
 * cfg_find (the library's search for --model NAME); the real binary run
 * from another folder with a preset, the default model and the Debian data
 * set, its checkpoint resumed and described there; `make install` into a
 * DESTDIR (the binary, the presets, the man page made from --help), the
 * installed binary finding its presets, and `make uninstall`; `fmnist help
 * CMD` equal to `CMD --help`, and train --help naming every preset. */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "model/cfg.h"
#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 16];

static void put(const char *path, const char *text)
{
    Err e;
    ck_assert_msg(file_write_atomic(path, text, strlen(text), &e) == ST_OK, "%s", e.msg);
}

/* The binary under test as an absolute path (FMNIST_BIN, default ./fmnist). */
static void bin_path(char *buf, size_t len)
{
    const char *b = getenv("FMNIST_BIN");
    if (!b || !*b) b = "./fmnist";
    if (b[0] == '/') {
        snprintf(buf, len, "%s", b);
        return;
    }
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(buf, len, "%s/%s", cwd, b);
}

/* Runs "cd DIR && BIN ARGS" with FMNIST_DATA unset; exit status, output in out. */
static int run_in(const char *dir, const char *bin, const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && env -u FMNIST_DATA '%s' %s", dir, bin, args);
    return run_shell(cmd, out, sizeof out);
}

START_TEST(test_cfg_find)
{
    char *dir = make_temp_dir();
    char a[600], b[600], p[700], got[FM_PATH];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(a, &e), ST_OK);
    ck_assert_int_eq(file_mkdirs(b, &e), ST_OK);
    const char *net = "input 1x28x28\nflatten\ndense 10\n";
    snprintf(p, sizeof p, "%s/mlp.cfg", a), put(p, net);
    snprintf(p, sizeof p, "%s/mlp.cfg", b), put(p, net);
    snprintf(p, sizeof p, "%s/cnn.cfg", b), put(p, net);
    snprintf(p, sizeof p, "%s/plain", b), put(p, net);
    snprintf(p, sizeof p, "%s/tiny.cfg", b), put(p, net);
    snprintf(p, sizeof p, "%s/notes.txt", b), put(p, "not a preset");
    const char *dirs[2] = {a, b};
    /* a preset: the first folder that has it, NAME or NAME.cfg */
    ck_assert_int_eq(cfg_find("mlp", dirs, 2, got, sizeof got, &e), ST_OK);
    snprintf(p, sizeof p, "%s/mlp.cfg", a);
    ck_assert_str_eq(got, p);
    ck_assert_int_eq(cfg_find("cnn", dirs, 2, got, sizeof got, &e), ST_OK);
    snprintf(p, sizeof p, "%s/cnn.cfg", b);
    ck_assert_str_eq(got, p);
    ck_assert_int_eq(cfg_find("cnn.cfg", dirs, 2, got, sizeof got, &e), ST_OK);
    ck_assert_str_eq(got, p);
    ck_assert_int_eq(cfg_find("models/tiny.cfg", dirs, 2, got, sizeof got, &e), ST_OK); /* the clone's spelling */
    snprintf(p, sizeof p, "%s/tiny.cfg", b);
    ck_assert_str_eq(got, p);
    ck_assert_int_eq(cfg_find("plain", dirs, 2, got, sizeof got, &e), ST_OK);
    snprintf(p, sizeof p, "%s/plain", b);
    ck_assert_str_eq(got, p);
    /* a file as given comes first; another path is left to its reader */
    snprintf(p, sizeof p, "%s/cnn.cfg", b);
    ck_assert_int_eq(cfg_find(p, dirs, 2, got, sizeof got, &e), ST_OK);
    ck_assert_str_eq(got, p);
    ck_assert_int_eq(cfg_find("/nonexistent/x.cfg", dirs, 2, got, sizeof got, &e), ST_OK);
    ck_assert_str_eq(got, "/nonexistent/x.cfg");
    ck_assert_int_eq(cfg_find("sub/dir/mlp.cfg", dirs, 2, got, sizeof got, &e), ST_OK);
    ck_assert_str_eq(got, "sub/dir/mlp.cfg");
    /* not found: the presets (sorted, once), the nearest, where it looked */
    ck_assert_int_eq(cfg_find("cnm", dirs, 2, got, sizeof got, &e), ST_ERR_ARG);
    char want[2000];
    snprintf(want, sizeof want,
             "model 'cnm' not found (did you mean cnn?); the presets are cnn, mlp, tiny; looked for ./cnm, then cnm[.cfg] "
             "in %s and %s", a, b);
    ck_assert_str_eq(e.msg, want);
    ck_assert_int_eq(cfg_find("models/resnet.cfg", dirs, 2, got, sizeof got, &e), ST_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "model 'models/resnet.cfg' not found; the presets are cnn, mlp, tiny; looked for "
                                "models/resnet.cfg, then resnet.cfg in "), "%s", e.msg);
    ck_assert_int_eq(cfg_find("mlp", dirs, 0, got, sizeof got, &e), ST_ERR_ARG);
    ck_assert_msg(strstr(e.msg, "no presets (*.cfg) found"), "%s", e.msg);
    ck_assert_int_eq(cfg_find("", dirs, 2, got, sizeof got, &e), ST_ERR_ARG);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The binary from a folder that is not the clone: a preset by name, the
 * default model, a checkpoint resumed and described there, an unknown
 * name. */
START_TEST(test_presets_from_anywhere)
{
    char bin[PATH_MAX + 16], args[4096];
    bin_path(bin, sizeof bin);
    char *dir = make_temp_dir();
    char data[600];
    snprintf(data, sizeof data, "%s/data", dir);
    Err e;
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 120, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 50, 2), 0);
    const char *tiny = "--data data --epochs 1 --batch 40 --threads 1 --no-progress";
    snprintf(args, sizeof args, "train --model cnn %s --out c1", tiny);
    ck_assert_msg(run_in(dir, bin, args) == 0, "%s", out);
    ck_assert_msg(strstr(out, "/models/cnn.cfg, 120 training"), "%s", out);
    snprintf(args, sizeof args, "train %s", tiny); /* the default model, the default folder runs/mlp-TIME */
    ck_assert_msg(run_in(dir, bin, args) == 0, "%s", out);
    ck_assert_msg(strstr(out, "/models/mlp.cfg, 120 training"), "%s", out);
    ck_assert_msg(strstr(out, "writing runs/mlp-"), "%s", out);
    snprintf(args, sizeof args, "train --model models/cnn-bn.cfg %s --out bn", tiny); /* the clone's spelling */
    ck_assert_msg(run_in(dir, bin, args) == 0, "%s", out);
    ck_assert_msg(strstr(out, "/models/cnn-bn.cfg, 120 training"), "%s", out);
    /* the checkpoint records the file read; info and --resume need nothing else */
    ck_assert_msg(run_in(dir, bin, "info c1/model.fmw") == 0, "%s", out);
    ck_assert_msg(strstr(out, "/models/cnn.cfg, "), "%s", out);
    ck_assert_msg(run_in(dir, bin, "train --resume c1/model.fmw --epochs 2 --data data --no-progress") == 0, "%s",
                  out);
    ck_assert_msg(strstr(out, "epoch 2/2"), "%s", out);
    ck_assert_msg(run_in(dir, bin, "info c1/model.fmw") == 0, "%s", out);
    ck_assert_msg(strstr(out, "progress: finished, 2 of 2 epochs"), "%s", out);
    /* a sweep of presets by name */
    snprintf(args, sizeof args, "sweep --model mlp --model cnn --list --out sw %s", tiny);
    ck_assert_msg(run_in(dir, bin, args) == 0, "%s", out);
    ck_assert_msg(strstr(out, "model-mlp") && strstr(out, "model-cnn"), "%s", out);
    /* an unknown name: a usage error naming the presets and the nearest */
    ck_assert_int_eq(run_in(dir, bin, "train --model cnnbn --data data"), 2);
    ck_assert_msg(strstr(out, "model 'cnnbn' not found (did you mean cnn-bn?); the presets are cnn, cnn-bn, "), "%s",
                  out);
    ck_assert_int_eq(run_in(dir, bin, "sweep --model mlp --model cnx --data data --out sw2"), 2);
    ck_assert_msg(strstr(out, "model 'cnx' not found (did you mean cnn?)"), "%s", out);
    /* a file of the working folder still comes first */
    char p[700];
    snprintf(p, sizeof p, "%s/cnn", dir);
    put(p, "input 1x28x28\nflatten\ndense 10\n");
    snprintf(args, sizeof args, "train --model cnn %s --out own", tiny);
    ck_assert_msg(run_in(dir, bin, args) == 0, "%s", out);
    ck_assert_msg(strstr(out, "fmnist 0.1.0: cnn, 120 training"), "%s", out);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Outside the clone with no --data: the Debian package's folder. */
START_TEST(test_debian_data_from_anywhere)
{
    Err e;
    char found[FM_PATH];
    if (data_find_dir(DATA_SYSTEM_DIR, NULL, found, sizeof found, &e)) {
        printf("skipped: test_debian_data_from_anywhere (%s lacks the data set: apt-get install "
               "dataset-fashion-mnist)\n", DATA_SYSTEM_DIR);
        return;
    }
    char bin[PATH_MAX + 16];
    bin_path(bin, sizeof bin);
    char *dir = make_temp_dir();
    ck_assert_msg(run_in(dir, bin, "train --epochs 1 --train-limit 100 --batch 50 --no-progress --out r") == 0, "%s",
                  out);
    ck_assert_msg(strstr(out, "from " DATA_SYSTEM_DIR), "%s", out);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* 1 if path is a regular file whose bytes are those of ref. */
static int same_bytes(const char *path, const char *ref)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", path, ref);
    return run_shell(cmd, out, sizeof out) == 0;
}

/* make, free of the flags of a make this suite may run under (make test's
 * jobserver, -n, ...). */
#define MAKE "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory"

START_TEST(test_make_install)
{
    const char *b = getenv("FMNIST_BIN");
    if (!b || !*b) b = "./fmnist";
    if (!strncmp(b, "./", 2)) b += 2;
    char *dir = make_temp_dir();
    char cmd[4096], p[1200];
    /* -o: the binary under test is installed as it is, never rebuilt */
    snprintf(cmd, sizeof cmd, "%s -o '%s' install BIN='%s' DESTDIR='%s/stage' PREFIX=/usr", MAKE, b, b, dir);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s:\n%s", cmd, out);
    struct stat sb;
    snprintf(p, sizeof p, "%s/stage/usr/bin/fmnist", dir);
    ck_assert_msg(!stat(p, &sb) && S_ISREG(sb.st_mode) && (sb.st_mode & 0111), "%s", p);
    ck_assert(same_bytes(p, b));
    DIR *d = opendir("models");
    ck_assert_ptr_nonnull(d);
    int presets = 0;
    for (struct dirent *ent; (ent = readdir(d));) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 4, ".cfg")) continue;
        char ref[600];
        snprintf(ref, sizeof ref, "models/%s", ent->d_name);
        snprintf(p, sizeof p, "%s/stage/usr/share/fmnist/models/%s", dir, ent->d_name);
        ck_assert_msg(same_bytes(p, ref), "%s is not %s", p, ref);
        presets++;
    }
    closedir(d);
    ck_assert_int_ge(presets, 4);
    /* the manual: every command's --help */
    snprintf(p, sizeof p, "%s/stage/usr/share/man/man1/fmnist.1", dir);
    size_t len;
    char *man;
    Err e;
    ck_assert_msg(file_read_all(p, 1 << 20, &man, &len, &e) == ST_OK, "%s", e.msg);
    ck_assert_ptr_nonnull(strstr(man, ".TH FMNIST 1"));
    static const char *const CMDS[] = {"train", "eval", "info", "sweep", "plot", "export", "predict", "wd-demo"};
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, ".SS fmnist %s\n.nf\nusage: fmnist %s", CMDS[i], CMDS[i]);
        ck_assert_msg(strstr(man, want), "the man page lacks %s's --help", CMDS[i]);
    }
    ck_assert_ptr_nonnull(strstr(man, "--weight-decay L"));
    free(man);
    snprintf(cmd, sizeof cmd, "man -l '%s' 2>&1 | head -3", p);
    if (run_shell("command -v man", out, sizeof out) == 0) { /* rendered, where man is installed */
        ck_assert_int_eq(run_shell(cmd, out, sizeof out), 0);
        ck_assert_msg(strstr(out, "FMNIST(1)"), "%s", out);
    }
    if (run_shell("command -v groff", out, sizeof out) == 0) { /* no roff warnings */
        snprintf(cmd, sizeof cmd, "groff -man -ww -z '%s'", p);
        ck_assert_int_eq(run_shell(cmd, out, sizeof out), 0);
        ck_assert_msg(!out[0], "groff warns about the man page:\n%s", out);
    }
    /* the installed binary finds its presets from any folder */
    char data[600], args[2400], bin[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    ck_assert_int_eq(file_mkdirs(data, &e), ST_OK);
    ck_assert_int_eq(write_synthetic_idx(data, "train", 80, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(data, "t10k", 40, 2), 0);
    snprintf(bin, sizeof bin, "%s/stage/usr/bin/fmnist", dir);
    snprintf(args, sizeof args, "train --model cnn-bn --data data --epochs 1 --batch 40 --threads 1 --no-progress "
             "--out r");
    ck_assert_msg(run_in(dir, bin, args) == 0, "%s", out);
    /* (named relative to the working folder, which holds it here) */
    ck_assert_msg(strstr(out, "fmnist 0.1.0: stage/usr/share/fmnist/models/cnn-bn.cfg, 80 training"), "%s", out);
    ck_assert_int_eq(run_in(dir, bin, "train --model nope --data data"), 2);
    snprintf(p, sizeof p, "%s/stage/usr/share/fmnist/models", dir);
    ck_assert_msg(strstr(out, p), "%s", out);
    /* make uninstall takes it all away */
    snprintf(cmd, sizeof cmd, "%s uninstall DESTDIR='%s/stage' PREFIX=/usr", MAKE, dir);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s", out);
    snprintf(p, sizeof p, "%s/stage/usr/bin/fmnist", dir);
    ck_assert(stat(p, &sb) != 0);
    snprintf(p, sizeof p, "%s/stage/usr/share/fmnist", dir);
    ck_assert(stat(p, &sb) != 0);
    snprintf(p, sizeof p, "%s/stage/usr/share/man/man1/fmnist.1", dir);
    ck_assert(stat(p, &sb) != 0);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* `fmnist help CMD` is CMD --help, byte for byte; train --help names every
 * preset of models/. */
START_TEST(test_help_command)
{
    static const char *const CMDS[] = {"train", "eval", "info", "sweep", "plot", "export", "predict", "wd-demo"};
    static char a[1 << 16];
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", CMDS[i]);
        ck_assert_int_eq(run_fmnist(args, a, sizeof a), 0);
        snprintf(args, sizeof args, "help %s", CMDS[i]);
        ck_assert_int_eq(run_fmnist(args, out, sizeof out), 0);
        ck_assert_str_eq(out, a);
    }
    ck_assert_int_eq(run_fmnist("--help", a, sizeof a), 0);
    ck_assert_int_eq(run_fmnist("help help", out, sizeof out), 0);
    ck_assert_str_eq(out, a);
    ck_assert_int_eq(run_fmnist("train --help", out, sizeof out), 0);
    DIR *d = opendir("models");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *ent; (ent = readdir(d));) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 4, ".cfg")) continue;
        char want[80];
        snprintf(want, sizeof want, " %.*s", (int)(n - 4), ent->d_name);
        ck_assert_msg(strstr(out, want), "train --help does not name the preset %s", ent->d_name);
    }
    closedir(d);
}
END_TEST

Suite *install_suite(void)
{
    Suite *s = suite_create("install");
    TCase *tc = tcase_create("install");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_cfg_find);
    tcase_add_test(tc, test_presets_from_anywhere);
    tcase_add_test(tc, test_debian_data_from_anywhere);
    tcase_add_test(tc, test_make_install);
    tcase_add_test(tc, test_help_command);
    suite_add_tcase(s, tc);
    return s;
}
