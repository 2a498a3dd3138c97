/* sched__slim: what the leader's informers keep of each object. ConfigMaps
 * and Secrets keep only identity and the garbage collector's inputs (uid,
 * resourceVersion, ownerReferences, finalizers, deletionTimestamp), never
 * their data, labels or annotations; other kinds are kept whole. (A GC
 * update of such an object is rebuilt from the store: tests/integration
 * test_gc's orphaned ConfigMap keeps its data.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "sched/internal.h"

static json_t *object(const char *kind)
{
    json_error_t je;
    json_t *o = json_pack_ex(
        &je, 0,
        "{s:s, s:s, s:{s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:s}], s:[s], s:s, s:{s:s}, s:{s:s},"
        " s:[{s:s}]}, s:{s:s}, s:{s:s}, s:s}",
        "apiVersion", "v1", "kind", kind, "metadata", "name", "c", "namespace", "default", "uid",
        "u-1", "ownerReferences", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", "rs",
        "uid", "u-0", "finalizers", "example.com/keep", "deletionTimestamp",
        "2026-11-25T00:00:00Z", "labels", "app", "web", "annotations",
        "kubectl.kubernetes.io/last-applied-configuration", "{...whole object...}",
        "managedFields", "manager", "kubectl", "data", "k", "secret-ish", "spec", "x", "y",
        "type", "Opaque");
    assert_non_null(o);
    return o;
}

static void test_configmap_and_secret_keep_metadata_only(void **state)
{
    (void)state;
    int kinds[] = {SK_CONFIGMAP, SK_SECRET};
    const char *names[] = {"ConfigMap", "Secret"};
    for (int i = 0; i < 2; i++) {
        json_t *o = object(names[i]);
        sched__slim(kinds[i], o);
        assert_string_equal(json_string_value(json_object_get(o, "kind")), names[i]);
        assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "v1");
        assert_null(json_object_get(o, "data"));
        assert_null(json_object_get(o, "spec"));
        assert_null(json_object_get(o, "type"));
        assert_int_equal(json_object_size(o), 3);
        json_t *m = json_object_get(o, "metadata");
        assert_string_equal(json_string_value(json_object_get(m, "uid")), "u-1");
        assert_string_equal(json_string_value(json_object_get(m, "name")), "c");
        assert_int_equal(json_array_size(json_object_get(m, "ownerReferences")), 1);
        assert_int_equal(json_array_size(json_object_get(m, "finalizers")), 1);
        assert_non_null(json_object_get(m, "deletionTimestamp"));
        assert_null(json_object_get(m, "labels"));
        assert_null(json_object_get(m, "annotations"));
        assert_null(json_object_get(m, "managedFields"));
        json_decref(o);
    }
}

static void test_other_kinds_untouched(void **state)
{
    (void)state;
    int kinds[] = {SK_POD, SK_DEPLOYMENT, SK_NAMESPACE, SK_SERVICE};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        json_t *o = object("Pod");
        json_t *copy = json_deep_copy(o);
        sched__slim(kinds[i], o);
        assert_true(json_equal(o, copy));
        json_decref(o);
        json_decref(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configmap_and_secret_keep_metadata_only),
        cmocka_unit_test(test_other_kinds_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
