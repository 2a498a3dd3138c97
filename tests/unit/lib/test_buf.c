/* lib/buf: appends grow and stay NUL-terminated, a cap drops what is past
 * it, and the libcurl write callback keeps a body whole or stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "lib/buf.h"

static void test_append_grows_and_caps(void **state)
{
    struct buf b = {0};
    struct buf c = {.max = 5};
    (void)state;
    buf_append(&b, "hello ", 6);
    buf_append(&b, "world", 5);
    assert_string_equal(b.p, "hello world");
    assert_int_equal(b.len, 11);
    buf_append(&c, "abc", 3);
    buf_append(&c, "defg", 4); /* only "de" fits */
    assert_string_equal(c.p, "abcde");
    assert_false(c.oom);
    buf_close(&b);
    buf_close(&c);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
}

static void test_write_cb_whole_or_stop(void **state)
{
    struct buf b = {.max = 8};
    char chunk[] = "12345";
    (void)state;
    assert_int_equal(buf_write_cb(chunk, 1, 5, &b), 5);
    assert_int_equal(buf_write_cb(chunk, 1, 3, &b), 3); /* exactly the cap */
    assert_string_equal(b.p, "12345123");
    assert_int_equal(buf_write_cb(chunk, 1, 1, &b), 0); /* past it: stop, nothing kept */
    assert_int_equal(b.len, 8);
    buf_close(&b);
    b.max = 0; /* unbounded */
    assert_int_equal(buf_write_cb(chunk, 5, 1, &b), 5);
    assert_string_equal(b.p, "12345");
    buf_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows_and_caps),
        cmocka_unit_test(test_write_cb_whole_or_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
