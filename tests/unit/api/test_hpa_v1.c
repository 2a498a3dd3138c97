/* autoscaling/v1 <-> v2 HorizontalPodAutoscaler conversion (api/h_hpa_v1.c):
 * what kubectl autoscale sends becomes a valid v2 object, and a stored v2
 * object reads back as v1 with the CPU target and utilization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "api/internal.h"
#include "api/validate.h"

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_kubectl_autoscale_body_becomes_valid_v2(void **state)
{
    /* kubectl 1.29's request body, as sent */
    json_t *v1 = J("{\"kind\":\"HorizontalPodAutoscaler\",\"apiVersion\":\"autoscaling/v1\","
                   "\"metadata\":{\"name\":\"web\",\"creationTimestamp\":null},\"spec\":{"
                   "\"scaleTargetRef\":{\"kind\":\"Deployment\",\"name\":\"web\",\"apiVersion\":"
                   "\"apps/v1\"},\"minReplicas\":1,\"maxReplicas\":3,"
                   "\"targetCPUUtilizationPercentage\":50},\"status\":{\"currentReplicas\":0,"
                   "\"desiredReplicas\":0}}");
    const struct api_kind *k = api_kind_by_kind("autoscaling/v2", "HorizontalPodAutoscaler");
    json_t *v2 = api__hpa_v1_to_v2(v1);
    json_t *m;
    struct err e;
    (void)state;
    assert_non_null(k);
    assert_string_equal(json_string_value(json_object_get(v2, "apiVersion")), "autoscaling/v2");
    assert_null(json_object_get(json_object_get(v2, "spec"), "targetCPUUtilizationPercentage"));
    assert_null(json_object_get(v2, "status"));
    m = json_array_get(json_object_get(json_object_get(v2, "spec"), "metrics"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "Resource");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(m, "resource"), "target"), "averageUtilization")),
        50);
    assert_int_equal(api_object_prepare_create(k, "default", v2, &e), 0);
    json_decref(v1);
    json_decref(v2);
}

static void test_v2_reads_back_as_v1(void **state)
{
    json_t *v2 = J("{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\","
                   "\"metadata\":{\"name\":\"web\"},\"spec\":{\"scaleTargetRef\":{\"kind\":"
                   "\"Deployment\",\"name\":\"web\"},\"minReplicas\":2,\"maxReplicas\":5,"
                   "\"metrics\":[{\"type\":\"Resource\",\"resource\":{\"name\":\"memory\","
                   "\"target\":{\"type\":\"AverageValue\",\"averageValue\":\"1Gi\"}}},"
                   "{\"type\":\"Resource\",\"resource\":{\"name\":\"cpu\",\"target\":{\"type\":"
                   "\"Utilization\",\"averageUtilization\":60}}}]},\"status\":{"
                   "\"currentReplicas\":3,\"desiredReplicas\":4,\"lastScaleTime\":"
                   "\"2024-01-01T00:00:00Z\",\"currentMetrics\":[{\"type\":\"Resource\","
                   "\"resource\":{\"name\":\"cpu\",\"current\":{\"averageUtilization\":90,"
                   "\"averageValue\":\"90m\"}}}],\"conditions\":[]}}");
    json_t *v1 = api__hpa_v2_to_v1(v2), *spec = json_object_get(v1, "spec");
    json_t *st = json_object_get(v1, "status");
    (void)state;
    assert_string_equal(json_string_value(json_object_get(v1, "apiVersion")), "autoscaling/v1");
    assert_int_equal(json_integer_value(json_object_get(spec, "targetCPUUtilizationPercentage")),
                     60);
    assert_int_equal(json_integer_value(json_object_get(spec, "minReplicas")), 2);
    assert_null(json_object_get(spec, "metrics"));
    assert_int_equal(json_integer_value(json_object_get(st, "currentCPUUtilizationPercentage")),
                     90);
    assert_int_equal(json_integer_value(json_object_get(st, "desiredReplicas")), 4);
    assert_null(json_object_get(st, "conditions"));
    json_decref(v1);
    json_decref(v2);
    /* garbage in, no crash */
    v2 = json_string("x");
    v1 = api__hpa_v2_to_v1(v2);
    json_decref(v1);
    json_decref(v2);
    v2 = J("{\"spec\": 7, \"status\": []}");
    v1 = api__hpa_v2_to_v1(v2);
    assert_non_null(v1);
    json_decref(v1);
    v1 = api__hpa_v1_to_v2(v2);
    assert_non_null(v1);
    json_decref(v1);
    json_decref(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubectl_autoscale_body_becomes_valid_v2),
        cmocka_unit_test(test_v2_reads_back_as_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
