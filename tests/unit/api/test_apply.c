/* Server-side apply and managedFields: creation, idempotent re-apply,
 * pruning of fields an applier dropped, conflicts with other managers
 * (and force), keyed lists, and ownership moves on updates. */
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
static const struct api_sch t_strmap = {.type = API_SCH_MAP, .elem = &t_str};
static const struct api_sch t_strlist = {.type = API_SCH_ARRAY, .elem = &t_str};

static const struct api_sch_field f_port[] = {
    {.name = "containerPort", .type = &t_int},
    {.name = "protocol", .type = &t_str},
    {NULL},
};
static const struct api_sch t_port = {.type = API_SCH_OBJECT, .fields = f_port};
static const struct api_sch t_ports = {.type = API_SCH_ARRAY, .elem = &t_port};

static const struct api_sch_field f_container[] = {
    {.name = "name", .type = &t_str},
    {.name = "image", .type = &t_str},
    {.name = "args", .type = &t_strlist},
    {.name = "ports", .type = &t_ports, .merge_key = "containerPort", .patch_strategy = "merge"},
    {NULL},
};
static const struct api_sch t_container = {.type = API_SCH_OBJECT, .fields = f_container};
static const struct api_sch t_containers = {.type = API_SCH_ARRAY, .elem = &t_container};

static const struct api_sch_field f_podspec[] = {
    {.name = "containers", .type = &t_containers, .merge_key = "name", .patch_strategy = "merge"},
    {NULL},
};
static const struct api_sch t_podspec = {.type = API_SCH_OBJECT, .fields = f_podspec};

static const struct api_sch_field f_meta[] = {
    {.name = "name", .type = &t_str},
    {.name = "namespace", .type = &t_str},
    {.name = "labels", .type = &t_strmap},
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

static const struct api_sch_field f_spec[] = {
    {.name = "replicas", .type = &t_int},
    {.name = "paused", .type = &t_str},
    {.name = "template", .type = &t_template},
    {NULL},
};
static const struct api_sch t_spec = {.type = API_SCH_OBJECT, .fields = f_spec};

static const struct api_sch_field f_deploy[] = {
    {.name = "apiVersion", .type = &t_str},
    {.name = "kind", .type = &t_str},
    {.name = "metadata", .type = &t_meta},
    {.name = "spec", .type = &t_spec},
    {NULL},
};
static const struct api_sch t_deploy = {.type = API_SCH_OBJECT, .fields = f_deploy};

/* ---- helpers ---- */

#define T1 "2024-01-01T00:00:00Z"
#define T2 "2024-01-02T00:00:00Z"
#define T3 "2024-01-03T00:00:00Z"

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

/* The object without metadata.managedFields (what callers compare). */
static json_t *sans_mf(const json_t *obj)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(json_object_get(c, "metadata"), "managedFields");
    return c;
}

static void assert_obj(const json_t *got, const char *want)
{
    json_t *c = sans_mf(got);
    assert_json(c, want);
    json_decref(c);
}

static const json_t *entry_of(const json_t *obj, const char *manager, const char *op)
{
    const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    size_t i;
    for (i = 0; i < json_array_size(mf); i++) {
        const json_t *en = json_array_get(mf, i);
        const char *m = json_string_value(json_object_get(en, "manager"));
        const char *o = json_string_value(json_object_get(en, "operation"));
        if (m != NULL && o != NULL && strcmp(m, manager) == 0 && strcmp(o, op) == 0)
            return en;
    }
    return NULL;
}

static void apply_ok(json_t **live, const char *applied, const char *manager, bool force,
                     const char *now)
{
    json_t *a = J(applied);
    struct err e = {0, ""};
    if (api__apply_patch(live, a, manager, force, &t_deploy, "apps/v1", now, &e) != 0)
        fail_msg("apply by %s: %s", manager, e.msg);
    json_decref(a);
}

static void update_ok(json_t *obj, const json_t *old, const char *manager, const char *now)
{
    struct err e = {0, ""};
    if (api__managed_update(obj, old, manager, &t_deploy, "apps/v1", now, &e) != 0)
        fail_msg("update by %s: %s", manager, e.msg);
}

#define HEAD "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\""
#define META "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"}"

#define APPLIED                                                                                    \
    "{" HEAD ",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","                          \
    "\"labels\":{\"app\":\"web\"}},"                                                               \
    "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":["                            \
    "{\"name\":\"nginx\",\"image\":\"nginx:1\",\"ports\":[{\"containerPort\":80}]}]}}},"           \
    "\"status\":{\"replicas\":9}}"

/* ---- tests ---- */

static void test_apply_creates_and_owns_every_leaf(void **state)
{
    json_t *live = NULL;
    const json_t *en;
    (void)state;
    apply_ok(&live, APPLIED, "kubectl", false, T1);
    assert_obj(live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
                     "\"labels\":{\"app\":\"web\"}},"
                     "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":["
                     "{\"name\":\"nginx\",\"image\":\"nginx:1\","
                     "\"ports\":[{\"containerPort\":80}]}]}}}}");
    en = entry_of(live, "kubectl", "Apply");
    assert_non_null(en);
    assert_json(en, "{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\","
                    "\"time\":\"" T1 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
                    "\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
                    "\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{"
                    "\"k:{\\\"name\\\":\\\"nginx\\\"}\":{\".\":{},\"f:name\":{},\"f:image\":{},"
                    "\"f:ports\":{\"k:{\\\"containerPort\\\":80}\":{\".\":{},"
                    "\"f:containerPort\":{}}}}}}}}}}");
    json_decref(live);
}

static void test_apply_identical_twice_changes_nothing(void **state)
{
    json_t *live = NULL, *first;
    (void)state;
    apply_ok(&live, APPLIED, "kubectl", false, T1);
    first = json_deep_copy(live);
    apply_ok(&live, APPLIED, "kubectl", false, T2);
    assert_true(json_equal(live, first)); /* time kept too */
    json_decref(first);
    json_decref(live);
}

static void test_apply_removes_fields_the_applier_dropped(void **state)
{
    json_t *live = NULL;
    (void)state;
    apply_ok(&live, APPLIED, "kubectl", false, T1);
    apply_ok(&live,
             "{" HEAD "," META ",\"spec\":{\"template\":{\"spec\":{\"containers\":["
             "{\"name\":\"nginx\",\"image\":\"nginx:2\"}]}}}}",
             "kubectl", false, T2);
    assert_obj(live, "{" HEAD "," META ",\"spec\":{\"template\":{\"spec\":{\"containers\":["
                     "{\"name\":\"nginx\",\"image\":\"nginx:2\"}]}}}}");
    assert_string_equal(
        json_string_value(json_object_get(entry_of(live, "kubectl", "Apply"), "time")), T2);
    json_decref(live);
}

static void test_apply_conflicts_with_update_manager_and_force_takes_over(void **state)
{
    json_t *live = NULL, *old, *before, *a;
    struct err e = {0, ""};
    (void)state;
    apply_ok(&live, APPLIED, "kubectl", false, T1);
    /* kubectl-edit changes replicas with an update (PUT) */
    old = json_deep_copy(live);
    json_object_set_new(json_object_get(live, "spec"), "replicas", json_integer(5));
    update_ok(live, old, "kubectl-edit", T2);
    json_decref(old);
    assert_json(json_object_get(entry_of(live, "kubectl-edit", "Update"), "fieldsV1"),
                "{\"f:spec\":{\"f:replicas\":{}}}");
    assert_null(json_object_get(
        json_object_get(json_object_get(entry_of(live, "kubectl", "Apply"), "fieldsV1"), "f:spec"),
        "f:replicas"));

    /* applying replicas 2 again conflicts */
    before = json_deep_copy(live);
    a = J(APPLIED);
    assert_int_equal(api__apply_patch(&live, a, "kubectl", false, &t_deploy, "apps/v1", T3, &e),
                     ERR_CONFLICT);
    assert_string_equal(e.msg, "Apply failed with 1 conflict: conflict with \"kubectl-edit\" "
                               "using apps/v1: .spec.replicas");
    assert_true(json_equal(live, before));

    /* force: the value and the ownership move to the applier */
    assert_int_equal(api__apply_patch(&live, a, "kubectl", true, &t_deploy, "apps/v1", T3, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(live, "spec"), "replicas")),
                     2);
    assert_null(entry_of(live, "kubectl-edit", "Update")); /* its set became empty */
    assert_non_null(json_object_get(
        json_object_get(json_object_get(entry_of(live, "kubectl", "Apply"), "fieldsV1"), "f:spec"),
        "f:replicas"));
    json_decref(a);
    json_decref(before);
    json_decref(live);
}

static void test_apply_conflicts_list_several_fields_and_managers(void **state)
{
    json_t *live = NULL, *a;
    struct err e = {0, ""};
    (void)state;
    apply_ok(&live,
             "{" HEAD "," META ",\"spec\":{\"replicas\":1,\"paused\":\"no\","
             "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"c:1\"}]}}}}",
             "helm", false, T1);
    apply_ok(&live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"labels\":{\"x\":\"1\"}}}", "argo",
             false, T1);
    a = J("{" HEAD ",\"metadata\":{\"name\":\"web\",\"labels\":{\"x\":\"2\"}},"
          "\"spec\":{\"replicas\":3,\"paused\":\"yes\","
          "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"c:2\"}]}}}}");
    assert_int_equal(api__apply_patch(&live, a, "kubectl", false, &t_deploy, "apps/v1", T2, &e),
                     ERR_CONFLICT);
    assert_string_equal(e.msg, "Apply failed with 4 conflicts: conflicts with \"argo\":\n"
                               "- .metadata.labels.x\n"
                               "conflicts with \"helm\":\n"
                               "- .spec.replicas\n"
                               "- .spec.paused\n"
                               "- .spec.template.spec.containers[name=\"c\"].image");
    json_decref(a);
    json_decref(live);
}

static void test_apply_same_value_is_shared_not_a_conflict(void **state)
{
    json_t *live = NULL;
    (void)state;
    apply_ok(&live, "{" HEAD "," META ",\"spec\":{\"replicas\":2,\"paused\":\"no\"}}", "a", false,
             T1);
    apply_ok(&live, "{" HEAD "," META ",\"spec\":{\"replicas\":2}}", "b", false, T1);
    /* a drops replicas, but b still owns it: it stays */
    apply_ok(&live, "{" HEAD "," META ",\"spec\":{\"paused\":\"no\"}}", "a", false, T2);
    assert_obj(live, "{" HEAD "," META ",\"spec\":{\"replicas\":2,\"paused\":\"no\"}}");
    /* b drops it too: now nobody owns it and it goes */
    apply_ok(&live, "{" HEAD "," META "}", "b", false, T2);
    assert_obj(live, "{" HEAD "," META ",\"spec\":{\"paused\":\"no\"}}");
    assert_null(entry_of(live, "b", "Apply"));
    json_decref(live);
}

static void test_apply_merges_containers_by_name_and_drops_removed_ones(void **state)
{
    json_t *live = NULL, *old;
    (void)state;
    apply_ok(&live,
             "{" HEAD "," META ",\"spec\":{\"template\":{\"spec\":{\"containers\":["
             "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"x\"]},"
             "{\"name\":\"b\",\"image\":\"b:1\"}]}}}}",
             "kubectl", false, T1);
    /* a controller adds a sidecar with an update */
    old = json_deep_copy(live);
    json_array_append_new(
        json_object_get(
            json_object_get(json_object_get(json_object_get(live, "spec"), "template"), "spec"),
            "containers"),
        J("{\"name\":\"side\",\"image\":\"s:1\"}"));
    update_ok(live, old, "injector", T2);
    json_decref(old);
    /* the applier drops b, changes a's args, and never mentions side */
    apply_ok(&live,
             "{" HEAD "," META ",\"spec\":{\"template\":{\"spec\":{\"containers\":["
             "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"y\"]}]}}}}",
             "kubectl", false, T3);
    assert_obj(live, "{" HEAD "," META ",\"spec\":{\"template\":{\"spec\":{\"containers\":["
                     "{\"name\":\"a\",\"image\":\"a:1\",\"args\":[\"y\"]},"
                     "{\"name\":\"side\",\"image\":\"s:1\"}]}}}}");
    json_decref(live);
}

static void test_apply_keeps_other_managers_labels(void **state)
{
    json_t *live = NULL, *old;
    (void)state;
    apply_ok(&live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"labels\":{\"mine\":\"1\"}}}",
             "kubectl", false, T1);
    old = json_deep_copy(live);
    json_object_set_new(json_object_get(json_object_get(live, "metadata"), "labels"), "theirs",
                        json_string("2"));
    update_ok(live, old, "labeler", T2);
    json_decref(old);
    apply_ok(&live, "{" HEAD ",\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1}}",
             "kubectl", false, T3);
    assert_obj(live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"labels\":{\"theirs\":\"2\"}},"
                     "\"spec\":{\"replicas\":1}}");
    assert_json(json_object_get(entry_of(live, "labeler", "Update"), "fieldsV1"),
                "{\"f:metadata\":{\"f:labels\":{\"f:theirs\":{}}}}");
    json_decref(live);
}

static void test_apply_set_list_items_are_owned_one_by_one(void **state)
{
    json_t *live = NULL;
    (void)state;
    apply_ok(&live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"finalizers\":[\"a\",\"b\"]}}", "x",
             false, T1);
    apply_ok(&live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"finalizers\":[\"c\"]}}", "y", false,
             T1);
    assert_json(json_object_get(json_object_get(live, "metadata"), "finalizers"),
                "[\"a\",\"b\",\"c\"]");
    assert_json(json_object_get(entry_of(live, "y", "Apply"), "fieldsV1"),
                "{\"f:metadata\":{\"f:finalizers\":{\"v:\\\"c\\\"\":{}}}}");
    apply_ok(&live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"finalizers\":[\"b\"]}}", "x", false,
             T2);
    assert_json(json_object_get(json_object_get(live, "metadata"), "finalizers"), "[\"b\",\"c\"]");
    json_decref(live);
}

static void test_apply_rejects_bad_input_and_leaves_live_alone(void **state)
{
    json_t *live = NULL, *before, *a;
    struct err e = {0, ""};
    (void)state;
    apply_ok(&live, APPLIED, "kubectl", false, T1);
    before = json_deep_copy(live);
    a = J("{" HEAD "," META ",\"spec\":{\"template\":{\"spec\":{\"containers\":["
          "{\"image\":\"x\"}]}}}}");
    assert_int_equal(api__apply_patch(&live, a, "kubectl", false, &t_deploy, "apps/v1", T2, &e),
                     ERR_INVALID);
    assert_string_equal(e.msg, "apply: spec.template.spec.containers[0]: does not contain "
                               "declared merge key: name");
    assert_true(json_equal(live, before));
    assert_int_equal(api__apply_patch(&live, a, NULL, false, &t_deploy, "apps/v1", T2, &e),
                     ERR_INVALID);
    json_decref(a);
    a = J("[1]");
    assert_int_equal(api__apply_patch(&live, a, "k", false, &t_deploy, "apps/v1", T2, &e),
                     ERR_INVALID);
    assert_true(json_equal(live, before));
    json_decref(a);
    json_decref(before);
    json_decref(live);
}

static void test_apply_ignores_status_and_server_metadata(void **state)
{
    json_t *live = J("{" HEAD ",\"metadata\":{\"name\":\"web\",\"uid\":\"u1\","
                     "\"resourceVersion\":\"7\"},\"status\":{\"replicas\":1}}");
    (void)state;
    apply_ok(&live,
             "{" HEAD ",\"metadata\":{\"name\":\"web\",\"uid\":\"other\",\"resourceVersion\":\"1\","
             "\"managedFields\":[{\"manager\":\"evil\"}]},"
             "\"spec\":{\"replicas\":3,\"paused\":null},\"status\":{\"replicas\":5}}",
             "kubectl", false, T1);
    assert_obj(live, "{" HEAD ",\"metadata\":{\"name\":\"web\",\"uid\":\"u1\","
                     "\"resourceVersion\":\"7\"},\"spec\":{\"replicas\":3},"
                     "\"status\":{\"replicas\":1}}");
    assert_json(json_object_get(entry_of(live, "kubectl", "Apply"), "fieldsV1"),
                "{\"f:spec\":{\"f:replicas\":{}}}");
    json_decref(live);
}

static void test_managed_update_records_and_moves_ownership(void **state)
{
    json_t *obj = J("{" HEAD "," META ",\"spec\":{\"replicas\":1,\"paused\":\"no\"}}"), *old;
    struct err e = {0, ""};
    const json_t *mf;
    (void)state;
    /* no manager: nothing recorded */
    assert_int_equal(api__managed_update(obj, NULL, NULL, &t_deploy, "apps/v1", T1, &e), 0);
    assert_null(json_object_get(json_object_get(obj, "metadata"), "managedFields"));
    /* create */
    update_ok(obj, NULL, "creator", T1);
    assert_json(entry_of(obj, "creator", "Update"),
                "{\"manager\":\"creator\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\","
                "\"time\":\"" T1 "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
                "\"f:spec\":{\"f:replicas\":{},\"f:paused\":{}}}}");
    /* scaler changes replicas: it moves */
    old = json_deep_copy(obj);
    json_object_set_new(json_object_get(obj, "spec"), "replicas", json_integer(4));
    update_ok(obj, old, "scaler", T2);
    assert_json(json_object_get(entry_of(obj, "creator", "Update"), "fieldsV1"),
                "{\"f:spec\":{\"f:paused\":{}}}");
    assert_json(json_object_get(entry_of(obj, "scaler", "Update"), "fieldsV1"),
                "{\"f:spec\":{\"f:replicas\":{}}}");
    json_decref(old);
    /* a PUT without managedFields keeps them; removing paused drops the
     * creator's last field and so its entry */
    old = json_deep_copy(obj);
    json_object_del(json_object_get(obj, "metadata"), "managedFields");
    json_object_del(json_object_get(obj, "spec"), "paused");
    update_ok(obj, old, "editor", T3);
    mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    assert_int_equal(json_array_size(mf), 1);
    assert_non_null(entry_of(obj, "scaler", "Update"));
    /* an update that changes nothing changes no entry */
    json_decref(old);
    old = json_deep_copy(obj);
    update_ok(obj, old, "scaler", T3);
    assert_true(json_equal(obj, old));
    json_decref(old);
    json_decref(obj);
}

static void test_apply_survives_malformed_managed_fields(void **state)
{
    json_t *live = J("{" HEAD ",\"metadata\":{\"name\":\"web\",\"managedFields\":["
                     "{\"manager\":\"odd\",\"operation\":\"Update\",\"fieldsV1\":{"
                     "\"f:spec\":{\"f:replicas\":7,\"k:notjson\":{},\"v:\":{},\"i:3\":{},"
                     "\"f:template\":{\"k:{\\\"name\\\":1}\":{\".\":{}}}}}},"
                     "{\"manager\":\"proto\",\"operation\":\"Update\","
                     "\"fieldsType\":\"FieldsV2\",\"fieldsV2\":\"?\"},"
                     "5,{\"operation\":\"Apply\"}]},"
                     "\"spec\":{\"replicas\":1,\"template\":[]}}");
    json_t *a = J("{" HEAD ",\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2}}");
    struct err e = {0, ""};
    (void)state;
    /* "odd" owns spec.replicas (a non-object node is a leaf) */
    assert_int_equal(api__apply_patch(&live, a, "kubectl", false, &t_deploy, "apps/v1", T1, &e),
                     ERR_CONFLICT);
    assert_non_null(strstr(e.msg, "conflict with \"odd\" using : .spec.replicas"));
    assert_int_equal(api__apply_patch(&live, a, "kubectl", true, &t_deploy, "apps/v1", T1, &e), 0);
    /* entries we cannot read are kept as they are */
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(live, "metadata"), "managedFields")), 5);
    assert_non_null(entry_of(live, "proto", "Update"));
    update_ok(live, NULL, "x", T2);
    json_decref(a);
    json_decref(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_creates_and_owns_every_leaf),
        cmocka_unit_test(test_apply_identical_twice_changes_nothing),
        cmocka_unit_test(test_apply_removes_fields_the_applier_dropped),
        cmocka_unit_test(test_apply_conflicts_with_update_manager_and_force_takes_over),
        cmocka_unit_test(test_apply_conflicts_list_several_fields_and_managers),
        cmocka_unit_test(test_apply_same_value_is_shared_not_a_conflict),
        cmocka_unit_test(test_apply_merges_containers_by_name_and_drops_removed_ones),
        cmocka_unit_test(test_apply_keeps_other_managers_labels),
        cmocka_unit_test(test_apply_set_list_items_are_owned_one_by_one),
        cmocka_unit_test(test_apply_rejects_bad_input_and_leaves_live_alone),
        cmocka_unit_test(test_apply_ignores_status_and_server_metadata),
        cmocka_unit_test(test_managed_update_records_and_moves_ownership),
        cmocka_unit_test(test_apply_survives_malformed_managed_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
