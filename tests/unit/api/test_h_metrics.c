/* api/h_metrics: the metrics-server dialect (quantities, window, the
 * NodeMetrics / PodMetrics objects built from a node's snapshot). The
 * gathering over HTTP is covered by tests/integration/test_metrics.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "api/internal.h"

/* declared in api/h_metrics.c */
void api__metrics_cpu_quantity(int64_t nanocores, char *buf, size_t size);
void api__metrics_memory_quantity(int64_t bytes, char *buf, size_t size);
void api__metrics_window(int64_t ms, char *buf, size_t size);
json_t *api__metrics_node_object(const json_t *node, const json_t *snap_node, const char *now);
json_t *api__metrics_pod_object(const json_t *pod, const json_t *snap_pod, const char *now);
json_t *api__metrics_list(const char *list_kind, json_t *items);

static void test_cpu_quantity_is_canonical_decimal_si(void **state)
{
    char b[32];
    (void)state;
    api__metrics_cpu_quantity(0, b, sizeof b);
    assert_string_equal(b, "0");
    api__metrics_cpu_quantity(-5, b, sizeof b);
    assert_string_equal(b, "0");
    api__metrics_cpu_quantity(123456789, b, sizeof b);
    assert_string_equal(b, "123456789n");
    api__metrics_cpu_quantity(250000000, b, sizeof b);
    assert_string_equal(b, "250m");
    api__metrics_cpu_quantity(1500000, b, sizeof b);
    assert_string_equal(b, "1500u");
    api__metrics_cpu_quantity(2000000000, b, sizeof b);
    assert_string_equal(b, "2");
    api__metrics_cpu_quantity(1000000000000, b, sizeof b);
    assert_string_equal(b, "1000"); /* never "1k": cores stay plain */
}

static void test_memory_quantity_is_canonical_binary_si(void **state)
{
    char b[32];
    (void)state;
    api__metrics_memory_quantity(0, b, sizeof b);
    assert_string_equal(b, "0");
    api__metrics_memory_quantity(1000, b, sizeof b);
    assert_string_equal(b, "1000");
    api__metrics_memory_quantity(2748180 * 1024LL, b, sizeof b);
    assert_string_equal(b, "2748180Ki");
    api__metrics_memory_quantity(64LL << 20, b, sizeof b);
    assert_string_equal(b, "64Mi");
    api__metrics_memory_quantity(3LL << 30, b, sizeof b);
    assert_string_equal(b, "3Gi");
}

static void test_window_reads_like_go_durations(void **state)
{
    char b[32];
    (void)state;
    api__metrics_window(0, b, sizeof b);
    assert_string_equal(b, "0s");
    api__metrics_window(500, b, sizeof b);
    assert_string_equal(b, "500ms");
    api__metrics_window(10000, b, sizeof b);
    assert_string_equal(b, "10s");
    api__metrics_window(10064, b, sizeof b);
    assert_string_equal(b, "10.064s");
    api__metrics_window(1500, b, sizeof b);
    assert_string_equal(b, "1.5s");
    api__metrics_window(60000, b, sizeof b);
    assert_string_equal(b, "1m0s");
    api__metrics_window(3725000, b, sizeof b);
    assert_string_equal(b, "1h2m5s");
}

static void test_node_object_has_usage_labels_and_window(void **state)
{
    json_t *node = json_pack("{s:{s:s, s:{s:s}}}", "metadata", "name", "node1", "labels",
                             "kubernetes.io/hostname", "node1");
    json_t *snap = json_pack("{s:s, s:I, s:I, s:s, s:I}", "name", "node1", "cpu",
                             (json_int_t)329087452, "memory", (json_int_t)(2748180 * 1024LL), "ts",
                             "2023-03-03T04:37:54Z", "window", (json_int_t)10000);
    json_t *o;
    (void)state;

    o = api__metrics_node_object(node, snap, "2023-03-03T04:38:08Z");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "NodeMetrics");
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
                        "metrics.k8s.io/v1beta1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
                        "node1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"),
                                          "kubernetes.io/hostname")),
        "node1");
    assert_null(json_object_get(json_object_get(o, "metadata"), "namespace"));
    assert_string_equal(json_string_value(json_object_get(o, "timestamp")), "2023-03-03T04:37:54Z");
    assert_string_equal(json_string_value(json_object_get(o, "window")), "10s");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "usage"), "cpu")),
                        "329087452n");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "usage"), "memory")),
                        "2748180Ki");
    json_decref(o);
    /* no sample for the node: nothing to report */
    assert_null(api__metrics_node_object(node, NULL, "x"));
    json_object_del(snap, "cpu");
    assert_null(api__metrics_node_object(node, snap, "x"));
    json_decref(node);
    json_decref(snap);
}

static void test_pod_object_follows_spec_order_and_skips_containers_without_rate(void **state)
{
    json_t *pod = json_pack("{s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[{s:s}, {s:s}, {s:s}]}}", "metadata",
                            "name", "web-1", "namespace", "prod", "uid", "u1", "labels", "app",
                            "web", "spec", "containers", "name", "a", "name", "b", "name", "c");
    json_t *snap = json_pack("{s:s, s:I, s:{s:{s:I, s:I}, s:{s:I, s:I}}}", "ts",
                             "2024-01-01T00:00:00Z", "window", (json_int_t)1500, "containers", "c",
                             "cpu", (json_int_t)250000000, "memory", (json_int_t)4096, "a", "cpu",
                             (json_int_t)1000, "memory", (json_int_t)1000);
    json_t *o, *ctrs, *list;
    (void)state;

    o = api__metrics_pod_object(pod, snap, "2024-01-01T00:00:05Z");
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "PodMetrics");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace")), "prod");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(o, "metadata"), "labels"), "app")),
                        "web");
    assert_string_equal(json_string_value(json_object_get(o, "window")), "1.5s");
    ctrs = json_object_get(o, "containers");
    assert_int_equal(json_array_size(ctrs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ctrs, 0), "name")), "a");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(ctrs, 0), "usage"), "cpu")),
                        "1u");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ctrs, 1), "name")), "c");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(ctrs, 1), "usage"), "cpu")),
                        "250m");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(ctrs, 1), "usage"), "memory")),
                        "4Ki");

    list = api__metrics_list("PodMetricsList", json_pack("[o]", o));
    assert_string_equal(json_string_value(json_object_get(list, "kind")), "PodMetricsList");
    assert_true(json_is_object(json_object_get(list, "metadata")));
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);

    /* a pod whose containers all lack a rate is left out */
    json_object_set_new(snap, "containers", json_object());
    assert_null(api__metrics_pod_object(pod, snap, "x"));
    assert_null(api__metrics_pod_object(pod, NULL, "x"));
    json_decref(pod);
    json_decref(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_quantity_is_canonical_decimal_si),
        cmocka_unit_test(test_memory_quantity_is_canonical_binary_si),
        cmocka_unit_test(test_window_reads_like_go_durations),
        cmocka_unit_test(test_node_object_has_usage_labels_and_window),
        cmocka_unit_test(test_pod_object_follows_spec_order_and_skips_containers_without_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
