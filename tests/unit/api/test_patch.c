/* PATCH bodies: RFC 7386 merge patch (the RFC's examples), RFC 6902 JSON
 * patch (appendix A) and Kubernetes strategic merge patch against a small
 * hand-built Deployment-like schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/patch.h"

/* ---- a Deployment-like schema, built by hand ---- */

static const struct api_sch t_str = {.type = API_SCH_STRING};
static const struct api_sch t_int = {.type = API_SCH_INTEGER};
static const struct api_sch t_free = {.type = API_SCH_FREE};
static const struct api_sch t_strmap = {.type = API_SCH_MAP, .elem = &t_str};
static const struct api_sch t_strlist = {.type = API_SCH_ARRAY, .elem = &t_str};

static const struct api_sch_field f_port[] = {
    {.name = "containerPort", .type = &t_int},
    {.name = "protocol", .type = &t_str},
    {.name = "name", .type = &t_str},
    {NULL},
};
static const struct api_sch t_port = {.type = API_SCH_OBJECT, .fields = f_port};
static const struct api_sch t_ports = {.type = API_SCH_ARRAY, .elem = &t_port};

static const struct api_sch_field f_env[] = {
    {.name = "name", .type = &t_str},
    {.name = "value", .type = &t_str},
    {NULL},
};
static const struct api_sch t_envvar = {.type = API_SCH_OBJECT, .fields = f_env};
static const struct api_sch t_envs = {.type = API_SCH_ARRAY, .elem = &t_envvar};

static const struct api_sch_field f_container[] = {
    {.name = "name", .type = &t_str},
    {.name = "image", .type = &t_str},
    {.name = "args", .type = &t_strlist},
    {.name = "ports", .type = &t_ports, .merge_key = "containerPort", .patch_strategy = "merge"},
    {.name = "env", .type = &t_envs, .merge_key = "name", .patch_strategy = "merge"},
    {NULL},
};
static const struct api_sch t_container = {.type = API_SCH_OBJECT, .fields = f_container};
static const struct api_sch t_containers = {.type = API_SCH_ARRAY, .elem = &t_container};

static const struct api_sch_field f_volume[] = {
    {.name = "name", .type = &t_str},
    {.name = "emptyDir", .type = &t_free},
    {.name = "configMap", .type = &t_free},
    {NULL},
};
static const struct api_sch t_volume = {.type = API_SCH_OBJECT, .fields = f_volume};
static const struct api_sch t_volumes = {.type = API_SCH_ARRAY, .elem = &t_volume};

static const struct api_sch_field f_podspec[] = {
    {.name = "containers", .type = &t_containers, .merge_key = "name", .patch_strategy = "merge"},
    {.name = "volumes",
     .type = &t_volumes,
     .merge_key = "name",
     .patch_strategy = "merge,retainKeys"},
    {NULL},
};
static const struct api_sch t_podspec = {.type = API_SCH_OBJECT, .fields = f_podspec};

static const struct api_sch_field f_meta[] = {
    {.name = "name", .type = &t_str},
    {.name = "namespace", .type = &t_str},
    {.name = "labels", .type = &t_strmap},
    {.name = "annotations", .type = &t_strmap},
    {.name = "finalizers", .type = &t_strlist, .patch_strategy = "merge"},
    {NULL},
};
static const struct api_sch t_meta = {.type = API_SCH_OBJECT, .fields = f_meta};

static const struct api_sch_field f_template[] = {
    {.name = "metadata", .type = &t_meta},
    {.name = "spec", .type = &t_podspec},
    {NULL},
};
static const struct api_sch t_template = {.type = API_SCH_OBJECT, .fields = f_template};

static const struct api_sch_field f_strategy[] = {
    {.name = "type", .type = &t_str},
    {.name = "rollingUpdate", .type = &t_free},
    {NULL},
};
static const struct api_sch t_strategy = {.type = API_SCH_OBJECT, .fields = f_strategy};

static const struct api_sch_field f_spec[] = {
    {.name = "replicas", .type = &t_int},
    {.name = "template", .type = &t_template},
    {.name = "strategy", .type = &t_strategy, .patch_strategy = "retainKeys"},
    {NULL},
};
static const struct api_sch t_spec = {.type = API_SCH_OBJECT, .fields = f_spec};

static const struct api_sch_field f_cond[] = {
    {.name = "type", .type = &t_str},
    {.name = "status", .type = &t_str},
    {NULL},
};
static const struct api_sch t_cond = {.type = API_SCH_OBJECT, .fields = f_cond};
static const struct api_sch t_conds = {.type = API_SCH_ARRAY, .elem = &t_cond};

static const struct api_sch_field f_status[] = {
    {.name = "conditions", .type = &t_conds, .merge_key = "type", .patch_strategy = "merge"},
    {NULL},
};
static const struct api_sch t_status = {.type = API_SCH_OBJECT, .fields = f_status};

static const struct api_sch_field f_deploy[] = {
    {.name = "apiVersion", .type = &t_str}, {.name = "kind", .type = &t_str},
    {.name = "metadata", .type = &t_meta},  {.name = "spec", .type = &t_spec},
    {.name = "status", .type = &t_status},  {NULL},
};
static const struct api_sch t_deploy = {.type = API_SCH_OBJECT, .fields = f_deploy};

/* ---- helpers ---- */

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", s, je.text);
    return v;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal((json_t *)got, w)) {
        char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_COMPACT);
        fprintf(stderr, "got:  %s\nwant: %s\n", g, want);
        free(g);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

/* doc, patched by fn with patch, must become want. */
typedef int (*patch_fn)(json_t **, const json_t *, struct err *);

static void check_ok(patch_fn fn, const char *doc, const char *patch, const char *want)
{
    json_t *d = J(doc), *p = J(patch);
    struct err e = {0, ""};
    int rv = fn(&d, p, &e);
    if (rv != 0)
        fail_msg("%s + %s: %s", doc, patch, e.msg);
    assert_json(d, want);
    json_decref(d);
    json_decref(p);
}

/* fn fails with code, a message containing msg, and doc unchanged. */
static void check_fail(patch_fn fn, const char *doc, const char *patch, int code, const char *msg)
{
    json_t *d = J(doc), *p = J(patch), *before = json_deep_copy(d), *ptr = d;
    struct err e = {0, ""};
    int rv = fn(&d, p, &e);
    assert_int_equal(rv, code);
    assert_int_equal(e.code, code);
    if (strstr(e.msg, msg) == NULL)
        fail_msg("message %s lacks %s", e.msg, msg);
    assert_ptr_equal(d, ptr);
    assert_true(json_equal(d, before));
    json_decref(before);
    json_decref(d);
    json_decref(p);
}

static int smp(json_t **doc, const json_t *patch, struct err *e)
{
    return api__strategic_patch(doc, patch, &t_deploy, e);
}

/* ---- RFC 7386 ---- */

static void test_merge_patch_rfc7386_examples(void **state)
{
    static const char *const cases[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_ok(api__merge_patch, cases[i][0], cases[i][1], cases[i][2]);
}

static void test_merge_patch_does_not_alias_patch(void **state)
{
    json_t *d = J("{}"), *p = J("{\"a\":{\"b\":[1]}}");
    struct err e;
    (void)state;
    assert_int_equal(api__merge_patch(&d, p, &e), 0);
    json_array_append_new(json_object_get(json_object_get(d, "a"), "b"), json_integer(2));
    assert_json(p, "{\"a\":{\"b\":[1]}}");
    json_decref(d);
    json_decref(p);
}

/* ---- RFC 6902 appendix A ---- */

static void test_json_patch_rfc6902_appendix_a(void **state)
{
    (void)state;
    /* A.1 */
    check_ok(api__json_patch, "{\"foo\":\"bar\"}",
             "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
             "{\"baz\":\"qux\",\"foo\":\"bar\"}");
    /* A.2 */
    check_ok(api__json_patch, "{\"foo\":[\"bar\",\"baz\"]}",
             "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
             "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
    /* A.3 */
    check_ok(api__json_patch, "{\"baz\":\"qux\",\"foo\":\"bar\"}",
             "[{\"op\":\"remove\",\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}");
    /* A.4 */
    check_ok(api__json_patch, "{\"foo\":[\"bar\",\"qux\",\"baz\"]}",
             "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]", "{\"foo\":[\"bar\",\"baz\"]}");
    /* A.5 */
    check_ok(api__json_patch, "{\"baz\":\"qux\",\"foo\":\"bar\"}",
             "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
             "{\"baz\":\"boo\",\"foo\":\"bar\"}");
    /* A.6 */
    check_ok(api__json_patch,
             "{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
             "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
             "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");
    /* A.7 */
    check_ok(api__json_patch, "{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
             "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
             "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
    /* A.8 */
    check_ok(api__json_patch, "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
             "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
             "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
             "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}");
    /* A.9 */
    check_fail(api__json_patch, "{\"baz\":\"qux\"}",
               "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", ERR_CONFLICT,
               "json patch: op 0 (test /baz): test failed");
    /* A.10 */
    check_ok(api__json_patch, "{\"foo\":\"bar\"}",
             "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
             "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}");
    /* A.11 */
    check_ok(api__json_patch, "{\"foo\":\"bar\"}",
             "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
             "{\"foo\":\"bar\",\"baz\":\"qux\"}");
    /* A.12 */
    check_fail(api__json_patch, "{\"foo\":\"bar\"}",
               "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", ERR_INVALID,
               "json patch: op 0 (add /baz/bat): path not found");
    /* A.13 (duplicate "op" member) is a JSON decoding matter, not ours. */
    /* A.14 */
    check_ok(api__json_patch, "{\"/\":9,\"~1\":10}",
             "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]", "{\"/\":9,\"~1\":10}");
    /* A.15 */
    check_fail(api__json_patch, "{\"/\":9,\"~1\":10}",
               "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]", ERR_CONFLICT,
               "test failed");
    /* A.16 */
    check_ok(api__json_patch, "{\"foo\":[\"bar\"]}",
             "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
             "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}");
}

static void test_json_patch_is_all_or_nothing_and_names_the_op(void **state)
{
    (void)state;
    check_fail(api__json_patch, "{\"spec\":{\"a\":1}}",
               "[{\"op\":\"add\",\"path\":\"/spec/b\",\"value\":2},"
               "{\"op\":\"test\",\"path\":\"/spec/b\",\"value\":2.0},"
               "{\"op\":\"replace\",\"path\":\"/spec/foo\",\"value\":3}]",
               ERR_INVALID, "json patch: op 2 (replace /spec/foo): path not found");
}

static void test_json_patch_pointer_and_index_rules(void **state)
{
    (void)state;
    check_ok(api__json_patch, "{\"a/b\":1,\"m~n\":2}",
             "[{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":3},"
             "{\"op\":\"remove\",\"path\":\"/m~0n\"}]",
             "{\"a/b\":3}");
    check_ok(api__json_patch, "{\"l\":[1]}", "[{\"op\":\"add\",\"path\":\"/l/1\",\"value\":2}]",
             "{\"l\":[1,2]}");
    check_fail(api__json_patch, "{\"l\":[1]}", "[{\"op\":\"add\",\"path\":\"/l/2\",\"value\":2}]",
               ERR_INVALID, "out of range");
    check_fail(api__json_patch, "{\"l\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/l/01\"}]",
               ERR_INVALID, "path not found");
    check_fail(api__json_patch, "{\"l\":[1,2]}",
               "[{\"op\":\"add\",\"path\":\"/l/01\",\"value\":0}]", ERR_INVALID,
               "invalid array index");
    check_fail(api__json_patch, "{\"l\":[1]}", "[{\"op\":\"remove\",\"path\":\"/l/-\"}]",
               ERR_INVALID, "path not found");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"a\"}]", ERR_INVALID,
               "invalid json pointer");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/~2\"}]", ERR_INVALID,
               "invalid json pointer");
    /* the root */
    check_ok(api__json_patch, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]}]",
             "[1]");
    check_ok(api__json_patch, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":{\"b\":2}}]",
             "{\"b\":2}");
}

static void test_json_patch_move_copy_and_bad_ops(void **state)
{
    (void)state;
    check_ok(api__json_patch, "{\"a\":{\"x\":[1]},\"b\":{}}",
             "[{\"op\":\"copy\",\"from\":\"/a/x\",\"path\":\"/b/y\"},"
             "{\"op\":\"add\",\"path\":\"/b/y/-\",\"value\":2}]",
             "{\"a\":{\"x\":[1]},\"b\":{\"y\":[1,2]}}");
    check_ok(api__json_patch, "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]",
             "{\"a\":1}");
    check_fail(api__json_patch, "{\"a\":{\"b\":1}}",
               "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]", ERR_INVALID,
               "cannot move a value into one of its children");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/b\"}]",
               ERR_INVALID, "\"from\" path not found");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", ERR_INVALID,
               "json patch: op 0 (frob /a): unknown operation");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\"}]", ERR_INVALID,
               "missing \"value\"");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"path\":\"/b\"}]", ERR_INVALID,
               "json patch: op 0: missing \"op\"");
    check_fail(api__json_patch, "{\"a\":1}", "[1]", ERR_INVALID, "op 0: not an object");
    check_fail(api__json_patch, "{\"a\":1}", "{\"op\":\"add\"}", ERR_INVALID,
               "json patch: the body must be a JSON array of operations");
    check_fail(api__json_patch, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]", ERR_INVALID,
               "cannot remove the whole document");
}

static void test_json_patch_bounds_the_number_of_ops(void **state)
{
    json_t *ops = json_array(), *d = J("{}");
    struct err e;
    size_t i;
    (void)state;
    for (i = 0; i < 10001; i++)
        json_array_append_new(ops, J("{\"op\":\"test\",\"path\":\"\",\"value\":{}}"));
    assert_int_equal(api__json_patch(&d, ops, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "10001 operations"));
    json_array_remove(ops, 0);
    assert_int_equal(api__json_patch(&d, ops, &e), 0);
    json_decref(ops);
    json_decref(d);
}

/* ---- strategic merge patch ---- */

#define DEPLOY                                                                                     \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","                                         \
    "\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"fe\"},"                 \
    "\"finalizers\":[\"a\",\"b\"]},"                                                               \
    "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\","                           \
    "\"rollingUpdate\":{\"maxSurge\":1}},"                                                         \
    "\"template\":{\"spec\":{\"containers\":["                                                     \
    "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"x\",\"y\"],"                                    \
    "\"ports\":[{\"containerPort\":80},{\"containerPort\":443}]},"                                 \
    "{\"name\":\"b\",\"image\":\"b:1\"}],"                                                         \
    "\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}}}"

/* The live Deployment with spec.template.spec.containers replaced. */
static json_t *containers_of(json_t *d)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec"),
        "containers");
}

static void smp_check(const char *patch, const char *path_json, const char *want)
{
    json_t *d = J(DEPLOY), *p = J(patch), *w = J(path_json), *cur = d;
    struct err e = {0, ""};
    size_t i;
    if (smp(&d, p, &e) != 0)
        fail_msg("%s: %s", patch, e.msg);
    for (cur = d, i = 0; i < json_array_size(w); i++)
        cur = json_object_get(cur, json_string_value(json_array_get(w, i)));
    assert_json(cur, want);
    json_decref(w);
    json_decref(p);
    json_decref(d);
}

static void test_smp_maps_merge_and_null_deletes(void **state)
{
    (void)state;
    smp_check("{\"metadata\":{\"labels\":{\"tier\":null,\"new\":\"x\"}}}",
              "[\"metadata\",\"labels\"]", "{\"app\":\"web\",\"new\":\"x\"}");
    smp_check("{\"spec\":{\"replicas\":3}}", "[\"spec\",\"replicas\"]", "3");
    smp_check(
        "{\"spec\":{\"replicas\":null}}", "[\"spec\"]",
        "{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}},"
        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"a:1\","
        "\"args\":[\"x\",\"y\"],\"ports\":[{\"containerPort\":80},{\"containerPort\":443}]},"
        "{\"name\":\"b\",\"image\":\"b:1\"}],\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}}");
}

static void test_smp_keyed_list_merges_by_name(void **state)
{
    json_t *d = J(DEPLOY),
           *p = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":["
                  "{\"name\":\"b\",\"image\":\"b:2\"},{\"name\":\"c\",\"image\":\"c:1\"},"
                  "{\"name\":\"a\",\"ports\":[{\"containerPort\":443,\"protocol\":\"TCP\"},"
                  "{\"containerPort\":8080}],\"args\":[\"z\"]}]}}}}");
    struct err e;
    (void)state;
    assert_int_equal(smp(&d, p, &e), 0);
    assert_json(containers_of(d),
                "[{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"z\"],"
                "\"ports\":[{\"containerPort\":80},{\"containerPort\":443,\"protocol\":\"TCP\"},"
                "{\"containerPort\":8080}]},"
                "{\"name\":\"b\",\"image\":\"b:2\"},{\"name\":\"c\",\"image\":\"c:1\"}]");
    json_decref(p);
    json_decref(d);
}

static void test_smp_patch_delete_removes_element_by_key(void **state)
{
    (void)state;
    smp_check("{\"spec\":{\"template\":{\"spec\":{\"containers\":["
              "{\"name\":\"a\",\"$patch\":\"delete\"}]}}}}",
              "[\"spec\",\"template\",\"spec\",\"containers\"]",
              "[{\"name\":\"b\",\"image\":\"b:1\"}]");
}

static void test_smp_missing_merge_key_is_invalid_and_doc_unchanged(void **state)
{
    (void)state;
    check_fail(smp, DEPLOY,
               "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
               "{\"name\":\"a\",\"image\":\"a:2\"},{\"image\":\"x\"}]}}}}",
               ERR_INVALID,
               "strategic merge patch: spec.template.spec.containers[1]: does not contain "
               "declared merge key: name");
    {
        json_t *d = J(DEPLOY),
               *p = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}");
        struct err e;
        assert_int_equal(smp(&d, p, &e), ERR_INVALID);
        assert_string_equal(e.msg, "strategic merge patch: spec.template.spec.containers[0]: "
                                   "does not contain declared merge key: name");
        json_decref(p);
        json_decref(d);
    }
}

static void test_smp_primitive_merge_list_is_a_union(void **state)
{
    (void)state;
    smp_check("{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"c\"]}}",
              "[\"metadata\",\"finalizers\"]", "[\"a\",\"b\",\"c\"]");
    smp_check("{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\",\"zz\"]}}",
              "[\"metadata\",\"finalizers\"]", "[\"b\"]");
}

static void test_smp_atomic_and_unknown_lists_are_replaced(void **state)
{
    (void)state;
    smp_check("{\"spec\":{\"template\":{\"spec\":{\"containers\":["
              "{\"name\":\"a\",\"args\":[\"q\"]}]}}}}",
              "[\"spec\",\"template\",\"spec\",\"containers\"]",
              "[{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"q\"],"
              "\"ports\":[{\"containerPort\":80},{\"containerPort\":443}]},"
              "{\"name\":\"b\",\"image\":\"b:1\"}]");
    /* unknown field: merge patch rules (maps merge, lists replaced) */
    check_ok(smp, "{\"spec\":{\"extra\":{\"l\":[1,2],\"m\":{\"a\":1,\"b\":2}}}}",
             "{\"spec\":{\"extra\":{\"l\":[3],\"m\":{\"a\":null,\"c\":3}}}}",
             "{\"spec\":{\"extra\":{\"l\":[3],\"m\":{\"b\":2,\"c\":3}}}}");
}

static void test_smp_patch_replace_and_delete_in_maps(void **state)
{
    (void)state;
    smp_check("{\"spec\":{\"strategy\":{\"$patch\":\"replace\",\"type\":\"Recreate\"}}}",
              "[\"spec\",\"strategy\"]", "{\"type\":\"Recreate\"}");
    smp_check("{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"only\":\"me\"}}}",
              "[\"metadata\",\"labels\"]", "{\"only\":\"me\"}");
    smp_check("{\"spec\":{\"strategy\":{\"$patch\":\"delete\"},\"replicas\":2}}", "[\"spec\"]",
              "{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
              "\"image\":\"a:1\",\"args\":[\"x\",\"y\"],\"ports\":[{\"containerPort\":80},"
              "{\"containerPort\":443}]},{\"name\":\"b\",\"image\":\"b:1\"}],"
              "\"volumes\":[{\"name\":\"v1\",\"emptyDir\":{}}]}}}");
    check_fail(smp, DEPLOY, "{\"spec\":{\"strategy\":{\"$patch\":\"frob\"}}}", ERR_INVALID,
               "strategic merge patch: spec.strategy.$patch: invalid directive");
}

static void test_smp_patch_replace_in_list_replaces_it(void **state)
{
    (void)state;
    smp_check("{\"spec\":{\"template\":{\"spec\":{\"containers\":["
              "{\"$patch\":\"replace\"},{\"name\":\"z\",\"image\":\"z:1\"}]}}}}",
              "[\"spec\",\"template\",\"spec\",\"containers\"]",
              "[{\"name\":\"z\",\"image\":\"z:1\"}]");
    check_fail(smp, DEPLOY, "{\"metadata\":{\"finalizers\":[{\"$patch\":\"delete\"}]}}",
               ERR_INVALID, "metadata.finalizers[0].$patch");
}

static void test_smp_retain_keys_drops_unlisted(void **state)
{
    (void)state;
    smp_check("{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
              "[\"spec\",\"strategy\"]", "{\"type\":\"Recreate\"}");
    smp_check("{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{\"name\":\"v1\","
              "\"$retainKeys\":[\"name\",\"configMap\"],\"configMap\":{\"name\":\"cm\"}}]}}}}",
              "[\"spec\",\"template\",\"spec\",\"volumes\"]",
              "[{\"name\":\"v1\",\"configMap\":{\"name\":\"cm\"}}]");
    check_fail(smp, DEPLOY, "{\"spec\":{\"strategy\":{\"$retainKeys\":\"type\"}}}", ERR_INVALID,
               "strategic merge patch: spec.strategy.$retainKeys: must be a list of strings");
}

static void test_smp_set_element_order_reorders(void **state)
{
    (void)state;
    smp_check("{\"spec\":{\"template\":{\"spec\":{"
              "\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"}],"
              "\"containers\":[{\"name\":\"c\",\"image\":\"c:1\"}]}}}}",
              "[\"spec\",\"template\",\"spec\",\"containers\"]",
              "[{\"name\":\"c\",\"image\":\"c:1\"},{\"name\":\"a\",\"image\":\"a:1\","
              "\"args\":[\"x\",\"y\"],\"ports\":[{\"containerPort\":80},{\"containerPort\":443}]},"
              "{\"name\":\"b\",\"image\":\"b:1\"}]");
    smp_check("{\"metadata\":{\"$setElementOrder/finalizers\":[\"b\",\"a\"]}}",
              "[\"metadata\",\"finalizers\"]", "[\"b\",\"a\"]");
    check_fail(smp, DEPLOY,
               "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"x\":1}]}}}}",
               ERR_INVALID, "$setElementOrder/containers[0]: does not contain declared merge key");
    check_fail(smp, DEPLOY, "{\"metadata\":{\"$setElementOrder/finalizers\":\"a\"}}", ERR_INVALID,
               "metadata.$setElementOrder/finalizers: must be a list");
}

static void test_smp_status_conditions_merge_by_type(void **state)
{
    (void)state;
    check_ok(smp,
             "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"False\"},"
             "{\"type\":\"Progressing\",\"status\":\"True\"}]}}",
             "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}",
             "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"},"
             "{\"type\":\"Progressing\",\"status\":\"True\"}]}}");
}

static void test_smp_new_values_drop_nulls_and_directives(void **state)
{
    (void)state;
    check_ok(
        smp, "{}",
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":null,"
        "\"env\":[{\"name\":\"E\",\"value\":\"1\"},{\"name\":\"F\",\"$patch\":\"delete\"}]}]}}}}",
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
        "\"env\":[{\"name\":\"E\",\"value\":\"1\"}]}]}}}}");
}

static void test_smp_without_schema_is_merge_patch(void **state)
{
    json_t *d = J("{\"a\":[1,2],\"b\":{\"c\":1}}"), *p = J("{\"a\":[3],\"b\":{\"c\":null}}");
    struct err e;
    (void)state;
    assert_int_equal(api__strategic_patch(&d, p, NULL, &e), 0);
    assert_json(d, "{\"a\":[3],\"b\":{}}");
    json_decref(p);
    json_decref(d);
    check_fail(smp, "{}", "[1]", ERR_INVALID, "the patch must be a JSON object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_patch_rfc7386_examples),
        cmocka_unit_test(test_merge_patch_does_not_alias_patch),
        cmocka_unit_test(test_json_patch_rfc6902_appendix_a),
        cmocka_unit_test(test_json_patch_is_all_or_nothing_and_names_the_op),
        cmocka_unit_test(test_json_patch_pointer_and_index_rules),
        cmocka_unit_test(test_json_patch_move_copy_and_bad_ops),
        cmocka_unit_test(test_json_patch_bounds_the_number_of_ops),
        cmocka_unit_test(test_smp_maps_merge_and_null_deletes),
        cmocka_unit_test(test_smp_keyed_list_merges_by_name),
        cmocka_unit_test(test_smp_patch_delete_removes_element_by_key),
        cmocka_unit_test(test_smp_missing_merge_key_is_invalid_and_doc_unchanged),
        cmocka_unit_test(test_smp_primitive_merge_list_is_a_union),
        cmocka_unit_test(test_smp_atomic_and_unknown_lists_are_replaced),
        cmocka_unit_test(test_smp_patch_replace_and_delete_in_maps),
        cmocka_unit_test(test_smp_patch_replace_in_list_replaces_it),
        cmocka_unit_test(test_smp_retain_keys_drops_unlisted),
        cmocka_unit_test(test_smp_set_element_order_reorders),
        cmocka_unit_test(test_smp_status_conditions_merge_by_type),
        cmocka_unit_test(test_smp_new_values_drop_nulls_and_directives),
        cmocka_unit_test(test_smp_without_schema_is_merge_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
