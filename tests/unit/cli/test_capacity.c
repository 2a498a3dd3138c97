/* --capacity: what init/join accept, how they write it down, and the error
 * that names the bad part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cli/daemon.h"

static void accepts(const char *v, const char *canon)
{
    char out[CAPACITY_MAX];
    struct err e = {0, ""};
    if (cli__capacity_check(v, out, sizeof out, &e) != 0)
        fail_msg("\"%s\" refused: %s", v, e.msg);
    assert_string_equal(out, canon);
}

static void refuses(const char *v, const char *msg)
{
    char out[CAPACITY_MAX];
    struct err e = {0, ""};
    assert_int_equal(cli__capacity_check(v, out, sizeof out, &e), ERR_INVALID);
    if (strstr(e.msg, msg) == NULL)
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", v, e.msg, msg);
}

static void test_capacity_accepts_quantities(void **state)
{
    (void)state;
    accepts("cpu=2,memory=4Gi,pods=20", "cpu=2,memory=4Gi,pods=20");
    accepts("cpu=500m", "cpu=500m");
    accepts("memory=1.5G,ephemeral-storage=10Gi", "memory=1.5G,ephemeral-storage=10Gi");
    accepts("cpu=1e3", "cpu=1e3");
    accepts("pods=110,cpu=16", "pods=110,cpu=16");
}

static void test_capacity_error_names_the_bad_part(void **state)
{
    (void)state;
    refuses("", "empty");
    refuses("gpu=1", "\"gpu\": unknown resource");
    refuses("cpu=2,memory=4Qi", "memory=\"4Qi\": unable to parse quantity's suffix");
    refuses("cpu=two", "cpu=\"two\": not a quantity");
    refuses("cpu=-1", "cpu=\"-1\": not a quantity");
    refuses("cpu=0", "cpu=\"0\": must be positive");
    refuses("pods=1.5", "pods=\"1.5\": want a whole number");
    refuses("pods=1k", "pods=\"1k\": want a whole number");
    refuses("cpu=1,cpu=2", "\"cpu\": given twice");
    refuses("memory", "\"memory\": want KEY=QUANTITY");
    refuses("cpu=1,", "trailing");
    refuses("cpu=1..2", "not a quantity");
    refuses("cpu=", "not a quantity");
    refuses("cpu=1234567890123456789012", "not a quantity");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_accepts_quantities),
        cmocka_unit_test(test_capacity_error_names_the_bad_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
