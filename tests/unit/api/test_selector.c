#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "api/internal.h"

static bool match(const char *sel, const char *labels_json)
{
    struct api_selector s;
    struct err e;
    json_t *labels = labels_json ? json_loads(labels_json, 0, NULL) : NULL;
    bool ok;
    assert_int_equal(api__selector_parse(sel, &s, &e), 0);
    ok = api__selector_matches(&s, labels);
    api__selector_close(&s);
    json_decref(labels);
    return ok;
}

static void test_selector_parses_every_operator(void **state)
{
    struct api_selector s;
    struct err e;
    (void)state;
    assert_int_equal(api__selector_parse("a=1, b==2,c!=3,d, !e, f in (x, y),g notin (z)", &s, &e),
                     0);
    assert_int_equal(s.n, 7);
    assert_int_equal(s.reqs[0].op, API_SEL_EQ);
    assert_string_equal(s.reqs[0].key, "a");
    assert_string_equal(s.reqs[0].values[0], "1");
    assert_int_equal(s.reqs[1].op, API_SEL_EQ);
    assert_int_equal(s.reqs[2].op, API_SEL_NE);
    assert_int_equal(s.reqs[3].op, API_SEL_EXISTS);
    assert_int_equal(s.reqs[4].op, API_SEL_ABSENT);
    assert_string_equal(s.reqs[4].key, "e");
    assert_int_equal(s.reqs[5].op, API_SEL_IN);
    assert_int_equal(s.reqs[5].n_values, 2);
    assert_string_equal(s.reqs[5].values[1], "y");
    assert_int_equal(s.reqs[6].op, API_SEL_NOTIN);
    api__selector_close(&s);
}

static void test_selector_empty_selects_everything(void **state)
{
    (void)state;
    assert_true(match("", NULL));
    assert_true(match(NULL, "{\"a\":\"b\"}"));
    assert_true(match("  ", "{}"));
}

static void test_selector_matches_like_kubernetes(void **state)
{
    const char *l = "{\"app\":\"web\",\"tier\":\"front\",\"example.com/team\":\"a\"}";
    (void)state;
    assert_true(match("app=web", l));
    assert_false(match("app=db", l));
    assert_true(match("app!=db", l));
    assert_true(match("missing!=x", l)); /* absent satisfies != */
    assert_true(match("tier", l));
    assert_false(match("!tier", l));
    assert_true(match("!missing", l));
    assert_true(match("app in (db, web)", l));
    assert_false(match("app notin (db,web)", l));
    assert_true(match("missing notin (x)", l));
    assert_false(match("missing in (x)", l));
    assert_true(match("example.com/team=a,app=web", l));
    assert_false(match("example.com/team=a,app=db", l));
    assert_false(match("app", NULL));
}

static void check_bad(const char *sel, const char *needle)
{
    struct api_selector s;
    struct err e;
    err_clear(&e);
    assert_int_equal(api__selector_parse(sel, &s, &e), ERR_INVALID);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("selector \"%s\": message \"%s\" lacks \"%s\"", sel, e.msg, needle);
    assert_non_null(strstr(e.msg, "labelSelector"));
}

static void test_selector_rejects_bad_input_naming_the_part(void **state)
{
    (void)state;
    check_bad("a in b", "expected '('");
    check_bad("a in (b", "expected ',' or ')'");
    check_bad("a=b c", "unexpected");
    check_bad(",a", "expected a label key");
    check_bad("a,", "expected a label key");
    check_bad("-a=b", "invalid label key \"-a\"");
    check_bad("a=-b", "invalid label value \"-b\"");
    check_bad("a<b", "unexpected \"<\"");
    check_bad("!a=b", "unexpected \"=\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector_parses_every_operator),
        cmocka_unit_test(test_selector_empty_selects_everything),
        cmocka_unit_test(test_selector_matches_like_kubernetes),
        cmocka_unit_test(test_selector_rejects_bad_input_naming_the_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
