/* pods/NAME/exec's answer: the ExecResult object, output that is not UTF-8
 * (replaced, never a broken JSON string), NULs kept, streams dropped on
 * request, the 4 MiB cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

json_t *api__exec_result_json(const struct api_exec_result *res, bool want_out, bool want_err);

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static void test_result_shape(void **state)
{
    struct api_exec_result r = {"out\n", 4, "err\n", 4, 3, false};
    json_t *o = api__exec_result_json(&r, true, true);
    char *txt;
    (void)state;
    assert_non_null(o);
    assert_string_equal(str(o, "kind"), "ExecResult");
    assert_string_equal(str(o, "stdout"), "out\n");
    assert_string_equal(str(o, "stderr"), "err\n");
    assert_int_equal(json_integer_value(json_object_get(o, "exitCode")), 3);
    assert_null(json_object_get(o, "timedOut"));
    txt = json_dumps(o, JSON_COMPACT);
    assert_non_null(txt);
    free(txt);
    json_decref(o);
    /* streams not asked for, a timeout, no output at all */
    r = (struct api_exec_result){NULL, 0, "x", 1, -1, true};
    o = api__exec_result_json(&r, true, false);
    assert_string_equal(str(o, "stdout"), "");
    assert_string_equal(str(o, "stderr"), "");
    assert_true(json_is_true(json_object_get(o, "timedOut")));
    json_decref(o);
}

static void test_not_utf8(void **state)
{
    /* a lone continuation byte, a truncated sequence, an overlong '/', a
     * surrogate, a NUL, then valid 2-, 3- and 4-byte characters */
    static const char in[] = "a\x80"
                             "b\xe2\x82"
                             "c\xc0\xaf"
                             "d\xed\xa0\x80"
                             "e\0f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    struct api_exec_result r = {(char *)in, sizeof in - 1, NULL, 0, 0, false};
    json_t *o = api__exec_result_json(&r, true, true), *s;
    const char *want = "a\xef\xbf\xbd"
                       "b\xef\xbf\xbd\xef\xbf\xbd"
                       "c\xef\xbf\xbd\xef\xbf\xbd"
                       "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                       "e\0f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    size_t want_len = 4 + 7 + 7 + 10 + 3 + 2 + 3 + 4;
    (void)state;
    assert_non_null(o);
    s = json_object_get(o, "stdout");
    assert_int_equal(json_string_length(s), want_len);
    assert_memory_equal(json_string_value(s), want, want_len);
    json_decref(o);
}

static void test_cap(void **state)
{
    size_t n = (5u << 20);
    char *big = malloc(n);
    struct api_exec_result r = {big, n, NULL, 0, 0, false};
    json_t *o;
    (void)state;
    assert_non_null(big);
    memset(big, 'x', n);
    o = api__exec_result_json(&r, true, true);
    assert_non_null(o);
    assert_int_equal(json_string_length(json_object_get(o, "stdout")), 4u << 20);
    json_decref(o);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_shape),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
