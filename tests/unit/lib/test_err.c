#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h> /* after the headers it needs */

#include "lib/err.h"

static void test_wrap_prefixes_context_outward(void **state)
{
    struct err e;
    (void)state;
    err_clear(&e);
    err_setf(&e, ERR_INVALID, "spec.containers[%d].image: required", 0);
    err_wrapf(&e, "pod %s/%s", "default", "web");
    assert_int_equal(e.code, ERR_INVALID);
    assert_string_equal(e.msg, "pod default/web: spec.containers[0].image: required");
}

static void test_setf_returns_code_and_tolerates_null(void **state)
{
    (void)state;
    assert_int_equal(err_setf(NULL, ERR_IO, "x"), ERR_IO);
    assert_int_equal(err_wrapf(NULL, "y"), 0);
    assert_string_equal(err_name(ERR_CONFLICT), "conflict");
    assert_string_equal(err_name(9999), "unknown error");
}

static void test_long_message_is_truncated_not_overflowed(void **state)
{
    struct err e;
    char big[1000];
    (void)state;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_setf(&e, ERR_IO, "%s", big);
    err_wrapf(&e, "%s", big);
    assert_int_equal(strlen(e.msg), ERR_MSG_SIZE - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_prefixes_context_outward),
        cmocka_unit_test(test_setf_returns_code_and_tolerates_null),
        cmocka_unit_test(test_long_message_is_truncated_not_overflowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
