/* Manifest YAML: multi-document streams, scalar types, errors with
 * positions, alias bombs, and -o yaml output that reads back the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/internal.h"

static json_t *load_ok(const char *text)
{
    struct err e = {0};
    json_t *docs = NULL;
    int rv = cli_yaml_load("m.yaml", text, strlen(text), &docs, &e);
    if (rv != 0)
        fail_msg("load failed: %s", e.msg);
    return docs;
}

static void load_fails(const char *text, const char *want)
{
    struct err e = {0};
    json_t *docs = NULL;
    assert_int_equal(cli_yaml_load("m.yaml", text, strlen(text), &docs, &e), ERR_INVALID);
    assert_null(docs);
    if (strstr(e.msg, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", e.msg, want);
}

static void test_yaml_multi_document_stream_skips_empty_documents(void **state)
{
    const char *text = "# leading comment\n"
                       "apiVersion: v1\n"
                       "kind: ConfigMap\n"
                       "---\n"
                       "---\n"
                       "# only a comment\n"
                       "---\n"
                       "apiVersion: apps/v1\n"
                       "kind: Deployment\n"
                       "...\n"
                       "---\n"
                       "{\"kind\": \"Service\", \"spec\": {\"ports\": [{\"port\": 80}]}}\n";
    struct err e = {0};
    json_t *docs, *lines;
    (void)state;
    assert_int_equal(cli_yaml_load_lines("m.yaml", text, strlen(text), &docs, &lines, &e), 0);
    assert_int_equal(json_array_size(docs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(docs, 1), "kind")),
                        "Deployment");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(
                json_object_get(json_object_get(json_array_get(docs, 2), "spec"), "ports"), 0),
            "port")),
        80);
    assert_int_equal(json_array_size(lines), 3);
    assert_int_equal(json_integer_value(json_array_get(lines, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(lines, 1)), 8);
    assert_int_equal(json_integer_value(json_array_get(lines, 2)), 12);
    json_decref(docs);
    json_decref(lines);
}

static void test_yaml_scalars_follow_the_core_schema(void **state)
{
    json_t *docs = load_ok("n1: null\nn2: ~\nn3:\nn4: NULL\n"
                           "b1: true\nb2: False\nb3: TRUE\n"
                           "yes: yes\non: off\n"
                           "i1: 42\ni2: -7\ni3: 0x1F\ni4: 0o17\ni5: 007\n"
                           "f1: 1.5\nf2: 1e3\nf3: -.5\n"
                           "s1: \"42\"\ns2: 'true'\ns3: !!str 12\ns4: ! 12\ns5: hello world\n"
                           "t1: !!int \"12\"\nt2: !!float 3\nt3: !!bool \"false\"\n"
                           "1: int key\ntrue: bool key\n"
                           "big: 9223372036854775807\nneg: -9223372036854775808\n");
    json_t *d = json_array_get(docs, 0);
    (void)state;
    assert_true(json_is_null(json_object_get(d, "n1")));
    assert_true(json_is_null(json_object_get(d, "n2")));
    assert_true(json_is_null(json_object_get(d, "n3")));
    assert_true(json_is_null(json_object_get(d, "n4")));
    assert_true(json_is_true(json_object_get(d, "b1")));
    assert_true(json_is_false(json_object_get(d, "b2")));
    assert_true(json_is_true(json_object_get(d, "b3")));
    assert_string_equal(json_string_value(json_object_get(d, "yes")), "yes");
    assert_string_equal(json_string_value(json_object_get(d, "on")), "off");
    assert_int_equal(json_integer_value(json_object_get(d, "i1")), 42);
    assert_int_equal(json_integer_value(json_object_get(d, "i2")), -7);
    assert_int_equal(json_integer_value(json_object_get(d, "i3")), 31);
    assert_int_equal(json_integer_value(json_object_get(d, "i4")), 15);
    assert_int_equal(json_integer_value(json_object_get(d, "i5")), 7);
    assert_true(json_is_real(json_object_get(d, "f1")));
    assert_true(json_real_value(json_object_get(d, "f2")) == 1000.0);
    assert_true(json_real_value(json_object_get(d, "f3")) == -0.5);
    assert_string_equal(json_string_value(json_object_get(d, "s1")), "42");
    assert_string_equal(json_string_value(json_object_get(d, "s2")), "true");
    assert_string_equal(json_string_value(json_object_get(d, "s3")), "12");
    assert_string_equal(json_string_value(json_object_get(d, "s4")), "12");
    assert_string_equal(json_string_value(json_object_get(d, "s5")), "hello world");
    assert_int_equal(json_integer_value(json_object_get(d, "t1")), 12);
    assert_true(json_real_value(json_object_get(d, "t2")) == 3.0);
    assert_true(json_is_false(json_object_get(d, "t3")));
    assert_string_equal(json_string_value(json_object_get(d, "1")), "int key");
    assert_string_equal(json_string_value(json_object_get(d, "true")), "bool key");
    assert_true(json_integer_value(json_object_get(d, "big")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(d, "neg")) == INT64_MIN);
    json_decref(docs);
}

static void test_yaml_rejects_what_json_cannot_hold(void **state)
{
    (void)state;
    load_fails("a: 9223372036854775808\n", "m.yaml:1:4: integer 9223372036854775808 out of range");
    load_fails("a: .inf\n", "m.yaml:1:4: .inf cannot be represented in JSON");
    load_fails("a: -.NaN\n", "cannot be represented in JSON");
    load_fails("a: !!int abc\n", "m.yaml:1:4: cannot read \"abc\" as !!int");
    load_fails("a: !!bool yes\n", "as !!bool");
    load_fails("? [a, b]\n: c\n", "m.yaml:1:3: a mapping key must be a scalar");
    load_fails("a: *nope\n", "m.yaml:1:4: unknown anchor *nope");
}

static void test_yaml_duplicate_key_names_both_positions(void **state)
{
    (void)state;
    load_fails("metadata:\n"
               "  name: a\n"
               "  labels: {}\n"
               "  name: b\n",
               "m.yaml:4:3: duplicate key \"name\" (first at 2:3)");
    load_fails("{\"a\": 1, \"a\": 2}", "m.yaml:1:10: duplicate key \"a\" (first at 1:2)");
}

static void test_yaml_syntax_error_has_line_and_column(void **state)
{
    struct err e = {0};
    json_t *docs = NULL;
    const char *text = "apiVersion: v1\n"
                       "kind: ConfigMap\n"
                       "metadata:\n"
                       "  name: x\n"
                       " bad: indent\n";
    (void)state;
    assert_int_equal(cli_yaml_load("cm.yaml", text, strlen(text), &docs, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "cm.yaml:5:2: did not find expected key"));
    assert_non_null(strstr(e.msg, "while parsing a block mapping"));
    load_fails("a: [1, 2\n", "m.yaml:2:1:");
    load_fails("a: \"unterminated\n", "m.yaml:");
}

static void test_yaml_alias_bomb_is_refused(void **state)
{
    const char *bomb =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    json_t *docs;
    (void)state;
    load_fails(bomb, "aliases expand to too many nodes");
    /* ordinary aliases and merge keys still work */
    docs = load_ok("base: &base {image: nginx, port: 80}\n"
                   "c1: *base\n"
                   "c2:\n  <<: *base\n  port: 81\n");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(docs, 0), "c1"), "image")),
        "nginx");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(docs, 0), "c2"), "port")),
        81);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(docs, 0), "c2"), "image")),
        "nginx");
    json_decref(docs);
}

static char *dump(const json_t *j)
{
    char *buf = NULL;
    size_t len = 0;
    struct err e = {0};
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(cli_yaml_dump(j, f, &e), 0);
    fclose(f);
    return buf;
}

static void round_trip(const json_t *j)
{
    char *text = dump(j);
    json_t *docs = load_ok(text);
    if (!json_equal(json_array_get(docs, 0), (json_t *)j)) {
        char *js = json_dumps(j, JSON_ENCODE_ANY);
        fail_msg("round trip changed %s into:\n%s", js, text);
    }
    json_decref(docs);
    free(text);
}

static const char deployment[] =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"nginx\","
    "\"labels\":{\"app\":\"nginx\"},\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"}"
    ",\"generation\":2},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"nginx\"}"
    "},\"template\":{\"metadata\":{\"labels\":{\"app\":\"nginx\"}},\"spec\":{\"containers\":[{"
    "\"name\":\"nginx\",\"image\":\"nginx:1.14.2\",\"ports\":[{\"containerPort\":80}],\"args\":[]"
    ",\"env\":[{\"name\":\"A\",\"value\":\"true\"}],\"resources\":{}}]}}},\"status\":{\"ratio\":0."
    "25"
    ",\"whole\":2.0,\"ok\":true,\"none\":null}}";

static void test_yaml_dump_reads_back_a_deployment(void **state)
{
    json_t *j = json_loads(deployment, 0, NULL);
    char *text;
    (void)state;
    assert_non_null(j);
    round_trip(j);
    text = dump(j);
    /* kubectl's look: block style, keys in order, quotes only where needed */
    assert_true(strncmp(text, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx\n",
                        61) == 0);
    assert_non_null(strstr(text, "    deployment.kubernetes.io/revision: \"1\"\n"));
    assert_non_null(strstr(text, "      - name: nginx\n        image: nginx:1.14.2\n"));
    assert_non_null(strstr(text, "        value: \"true\"\n"));
    assert_non_null(strstr(text, "  whole: 2.0\n"));
    free(text);
    json_decref(j);
}

static void test_yaml_dump_quotes_tricky_strings(void **state)
{
    static const char *const tricky[] = {"yes",
                                         "no",
                                         "on",
                                         "007",
                                         "",
                                         "a: b",
                                         "- x",
                                         "multi\nline",
                                         "multi\nline\n",
                                         "trailing ",
                                         " leading",
                                         "#hash",
                                         "x #y",
                                         "日本語 ünïcödé",
                                         "1.5",
                                         "1e3",
                                         "0x1F",
                                         "~",
                                         "null",
                                         "True",
                                         "{a}",
                                         "[1]",
                                         "*star",
                                         "&amp",
                                         "!bang",
                                         "%pct",
                                         "@at",
                                         "`tick",
                                         "'",
                                         "\"",
                                         "a\tb",
                                         "1_000",
                                         "12:30",
                                         "<<",
                                         "=",
                                         "2024-01-02T03:04:05Z",
                                         "2024-1-2",
                                         "line\n  indented\n",
                                         "\x01ctl",
                                         ".inf",
                                         "-"};
    size_t i;
    char *text;
    json_t *j;
    (void)state;
    for (i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
        j = json_pack("{s:s, s:[s]}", "v", tricky[i], "l", tricky[i]);
        round_trip(j);
        json_decref(j);
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "a", "yes", "b", "", "c", "multi\nline\n", "d",
                  "123", "t", "2024-01-02T03:04:05Z", "v", "1.2.3");
    text = dump(j);
    assert_string_equal(text, "a: \"yes\"\nb: \"\"\nc: |\n  multi\n  line\nd: \"123\"\n"
                              "t: \"2024-01-02T03:04:05Z\"\nv: 1.2.3\n");
    free(text);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_multi_document_stream_skips_empty_documents),
        cmocka_unit_test(test_yaml_scalars_follow_the_core_schema),
        cmocka_unit_test(test_yaml_rejects_what_json_cannot_hold),
        cmocka_unit_test(test_yaml_duplicate_key_names_both_positions),
        cmocka_unit_test(test_yaml_syntax_error_has_line_and_column),
        cmocka_unit_test(test_yaml_alias_bomb_is_refused),
        cmocka_unit_test(test_yaml_dump_reads_back_a_deployment),
        cmocka_unit_test(test_yaml_dump_quotes_tricky_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
