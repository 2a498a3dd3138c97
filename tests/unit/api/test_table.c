/* Server-side printing: which Accept headers get a Table, and the Table's
 * columns and cells for ConfigMaps and Nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "api/internal.h"

static void test_accept_table_matches_kubectl_get_only(void **state)
{
    (void)state;
    assert_true(api__accept_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/"
                                  "json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
    assert_true(api__accept_table("application/json; g=meta.k8s.io; as=Table; v=v1"));
    assert_false(api__accept_table("application/json"));
    assert_false(api__accept_table(""));
    assert_false(api__accept_table(NULL));
    assert_false(api__accept_table("application/json;as=Table;v=v1beta1;g=meta.k8s.io"));
    assert_false(api__accept_table(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"));
}

static void test_table_configmap_counts_data_and_keeps_list_meta(void **state)
{
    json_t *items =
        json_pack("[{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:{s:s}}]", "kind", "ConfigMap",
                  "metadata", "name", "cm1", "namespace", "ns1", "creationTimestamp",
                  "2020-01-01T00:00:00Z", "data", "a", "1", "b", "2", "binaryData", "c", "AA==");
    json_t *meta = json_pack("{s:s, s:s}", "resourceVersion", "7", "continue", "tok"), *t, *row;
    struct err e;
    (void)state;
    assert_int_equal(api__table_build("ConfigMap", items, meta, NULL, &t, &e), 0);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_string_equal(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "metadata"), "continue")), "tok");
    assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")), 3);
    row = json_array_get(json_object_get(t, "rows"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(row, "cells"), 0)), "cm1");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(row, "cells"), 1)), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(row, "object"), "kind")),
                        "PartialObjectMetadata");
    json_decref(t);
    assert_int_equal(api__table_build("ConfigMap", items, NULL, "None", &t, &e), 0);
    row = json_array_get(json_object_get(t, "rows"), 0);
    assert_null(json_object_get(row, "object"));
    json_decref(t);
    json_decref(meta);
    json_decref(items);
}

static void test_table_node_status_roles_and_ip(void **state)
{
    const char *addrs[] = {"10.0.0.5:6443"};
    json_t *node, *items, *t, *cells;
    struct err e;
    (void)state;
    assert_int_equal(api_node_build("n1", addrs, 1, &node, &e), 0);
    json_object_set_new(json_object_get(json_object_get(node, "metadata"), "labels"),
                        "node-role.kubernetes.io/control-plane", json_string(""));
    json_object_set_new(json_object_get(node, "spec"), "unschedulable", json_true());
    items = json_pack("[o]", node);
    assert_int_equal(api__table_build("Node", items, NULL, NULL, &t, &e), 0);
    assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")), 5);
    cells = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
    assert_string_equal(json_string_value(json_array_get(cells, 0)), "n1");
    assert_string_equal(json_string_value(json_array_get(cells, 1)), "Ready,SchedulingDisabled");
    assert_string_equal(json_string_value(json_array_get(cells, 2)), "control-plane");
    assert_string_equal(json_string_value(json_array_get(cells, 4)), "10.0.0.5");
    json_decref(t);
    json_decref(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_table_matches_kubectl_get_only),
        cmocka_unit_test(test_table_configmap_counts_data_and_keeps_list_meta),
        cmocka_unit_test(test_table_node_status_roles_and_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
