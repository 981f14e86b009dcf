/* test_wait.c - Check suite for fmnist's OpenMP wait default
 * (cli_wait_default): the program runs with GOMP_SPINCOUNT=1000 unless the
 * user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, whose settings stand; --version
 * says which is in effect. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char out[4096];

/* fmnist --version with the wait variables unset, then ENV set. */
static void version_with(const char *env)
{
    const char *bin = getenv("FMNIST_BIN") ? getenv("FMNIST_BIN") : "./fmnist";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u FMNIST_SPINCOUNT_DEFAULT %s %s --version",
             env, bin);
    ck_assert_msg(run_shell(cmd, out, sizeof out) == 0, "%s:\n%s", cmd, out);
    ck_assert_msg(!strncmp(out, "fmnist ", 7), "%s:\n%s", cmd, out);
}

START_TEST(test_default_and_environment)
{
#ifdef _OPENMP
    version_with("");
    ck_assert_msg(strstr(out, "OpenMP waiting threads: GOMP_SPINCOUNT=1000 (fmnist's default"), "%s", out);
    version_with("OMP_WAIT_POLICY=passive");
    ck_assert_msg(strstr(out, "OMP_WAIT_POLICY=passive (from the environment)"), "%s", out);
    version_with("OMP_WAIT_POLICY=active");
    ck_assert_msg(strstr(out, "OMP_WAIT_POLICY=active (from the environment)"), "%s", out);
    /* the user's GOMP_SPINCOUNT, even the same value, is theirs */
    version_with("GOMP_SPINCOUNT=1000");
    ck_assert_msg(strstr(out, "GOMP_SPINCOUNT=1000 (from the environment)"), "%s", out);
    version_with("GOMP_SPINCOUNT=20");
    ck_assert_msg(strstr(out, "GOMP_SPINCOUNT=20 (from the environment)"), "%s", out);
#else
    version_with("");
    ck_assert_msg(strstr(out, "OpenMP waiting threads: none (a serial build)"), "%s", out);
#endif
}
END_TEST

Suite *wait_suite(void)
{
    Suite *s = suite_create("wait");
    TCase *tc = tcase_create("wait");
    tcase_add_test(tc, test_default_and_environment);
    suite_add_tcase(s, tc);
    return s;
}
