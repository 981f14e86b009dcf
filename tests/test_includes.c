/* test_includes.c - tools/check-includes.sh, the include rules of
 * docs/ARCHITECTURE.md that `make test` checks first: it passes on src/, and
 * on small trees planted with a violation it fails and names it (a test of
 * the check). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* Writes DIR/path (its folder made first) with text. */
static void put(const char *dir, const char *path, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    char *slash = strrchr(p, '/');
    *slash = 0;
    mkdir(p, 0700);
    *slash = '/';
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Runs the check (flags, e.g. "-m") on dir; its output in out. */
static int check(const char *flags, const char *dir, char *out, size_t len)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "tools/check-includes.sh %s '%s'", flags, dir);
    return run_shell(cmd, out, len);
}

START_TEST(test_src_passes)
{
    char out[4096];
    int rc = check("", "src", out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "no include points up, no circle"));
}
END_TEST

/* A tree that follows the rules, and the same with one line planted. */
START_TEST(test_planted_violations_fail)
{
    char *dir = make_temp_dir(), out[4096];
    ck_assert_ptr_nonnull(dir);
    put(dir, "util/status.h", "#include <stddef.h>\n");
    put(dir, "nn/layer.h", "#include \"util/status.h\"\n");
    put(dir, "nn/layer.c", "#include \"nn/layer.h\"\n#include \"layer.h\"\n");
    put(dir, "model/cfg.h", "#include \"nn/layer.h\"\n");
    put(dir, "main.c", "#include \"model/cfg.h\"\n#include <stdio.h>\n");
    ck_assert_msg(check("", dir, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(check("-m", dir, out, sizeof out) == 0, "%s", out);

    /* an include that points up: nn/ reads model/ */
    put(dir, "nn/net.h", "#include \"nn/layer.h\"\n  # include \"model/cfg.h\"\n");
    ck_assert_int_eq(check("", dir, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "nn/net.h:2: includes model/cfg.h: model is above nn"), "%s", out);
    put(dir, "nn/net.h", "#include \"nn/layer.h\"\n");

    /* a circle of headers in one folder */
    put(dir, "util/a.h", "#include \"util/b.h\"\n");
    put(dir, "util/b.h", "#include \"util/status.h\"\n#include \"a.h\"\n");
    ck_assert_int_eq(check("", dir, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "include circle: util/a.h -> util/b.h -> util/a.h") ||
                      strstr(out, "include circle: util/b.h -> util/a.h -> util/b.h"),
                  "%s", out);
    put(dir, "util/b.h", "#include \"util/status.h\"\n");
    ck_assert_msg(check("", dir, out, sizeof out) == 0, "%s", out);

    /* a circle of modules (x.c uses y, y.h uses x): found with -m only */
    put(dir, "util/x.h", "\n");
    put(dir, "util/x.c", "#include \"util/x.h\"\n#include \"util/y.h\"\n");
    put(dir, "util/y.h", "#include \"util/x.h\"\n");
    ck_assert_msg(check("", dir, out, sizeof out) == 0, "%s", out);
    ck_assert_int_eq(check("-m", dir, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "include circle: util/x -> util/y -> util/x") ||
                      strstr(out, "include circle: util/y -> util/x -> util/y"),
                  "%s", out);

    /* a folder the order does not name */
    put(dir, "extra/thing.h", "#include \"util/status.h\"\n");
    ck_assert_int_eq(check("", dir, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "extra/thing.h:1: folder extra is not in the include order"), "%s", out);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *includes_suite(void)
{
    Suite *s = suite_create("includes");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_src_passes);
    tcase_add_test(tc, test_planted_violations_fail);
    suite_add_tcase(s, tc);
    return s;
}
