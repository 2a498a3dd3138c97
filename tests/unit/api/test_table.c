/* Server-side printing: which Accept headers get a Table, and the Table's
 * columns and cells for every kind, as the apiserver's printers make them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"

/* ---- helpers ---- */

/* A JSON value from printf-style text written with ' for ", so objects
 * read like the YAML they stand for. */
static json_t *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *J(const char *fmt, ...)
{
    char buf[4096];
    json_error_t jerr;
    json_t *v;
    va_list ap;
    int n;
    size_t i;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    for (i = 0; buf[i] != '\0'; i++)
        if (buf[i] == '\'')
            buf[i] = '"';
    v = json_loads(buf, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON at %d: %s: %s", jerr.position, jerr.text, buf);
    return v;
}

/* RFC3339 for now - secs. */
static const char *ago(char buf[32], long secs)
{
    time_t t = time(NULL) - secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* The Table for one object (stolen) of kind. */
static json_t *table1(const char *kind, json_t *obj, const char *include)
{
    json_t *items = json_array(), *t = NULL;
    struct err e;
    assert_non_null(obj);
    json_array_append_new(items, obj);
    assert_int_equal(api__table_build(kind, items, NULL, include, &t, &e), 0);
    json_decref(items);
    return t;
}

/* Column names of one priority, comma-joined. */
static void assert_headers(const json_t *t, int priority, const char *want)
{
    char got[512] = "";
    const json_t *c;
    size_t i, used = 0;
    json_array_foreach (json_object_get(t, "columnDefinitions"), i, c) {
        if (json_integer_value(json_object_get(c, "priority")) != priority)
            continue;
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%s", used ? "," : "",
                                 json_string_value(json_object_get(c, "name")));
    }
    assert_string_equal(got, want);
}

static const json_t *cells(const json_t *t)
{
    return json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
}

static const char *cell_s(const json_t *t, size_t i)
{
    const char *s = json_string_value(json_array_get(cells(t), i));
    if (s == NULL)
        fail_msg("cell %zu is not a string", i);
    return s;
}

static json_int_t cell_i(const json_t *t, size_t i)
{
    const json_t *v = json_array_get(cells(t), i);
    if (!json_is_integer(v))
        fail_msg("cell %zu is not an integer", i);
    return json_integer_value(v);
}

/* ---- Accept ---- */

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

/* ---- ConfigMap, Node (the original printers) ---- */

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
    assert_headers(t, 0, "Name,Data,Age");
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
    assert_int_equal(api__table_build("ConfigMap", items, NULL, "Object", &t, &e), 0);
    row = json_array_get(json_object_get(t, "rows"), 0);
    assert_true(json_equal(json_object_get(row, "object"), json_array_get(items, 0)));
    json_decref(t);
    json_decref(meta);
    json_decref(items);
}

static void test_table_node_status_roles_and_ip(void **state)
{
    const char *addrs[] = {"10.0.0.5:6443"};
    json_t *node, *items, *t;
    struct err e;
    (void)state;
    assert_int_equal(api_node_build("n1", addrs, 1, &node, &e), 0);
    json_object_set_new(json_object_get(json_object_get(node, "metadata"), "labels"),
                        "node-role.kubernetes.io/control-plane", json_string(""));
    json_object_set_new(json_object_get(node, "spec"), "unschedulable", json_true());
    items = json_pack("[o]", node);
    assert_int_equal(api__table_build("Node", items, NULL, NULL, &t, &e), 0);
    assert_headers(t, 0, "Name,Status,Roles,Age,Version");
    assert_headers(t, 1, "Internal-IP,External-IP,OS-Image,Kernel-Version,Container-Runtime");
    assert_string_equal(cell_s(t, 0), "n1");
    assert_string_equal(cell_s(t, 1), "Ready,SchedulingDisabled");
    assert_string_equal(cell_s(t, 2), "control-plane");
    assert_string_equal(cell_s(t, 4), "v1.29.0-skiff");
    assert_string_equal(cell_s(t, 5), "10.0.0.5");
    assert_string_equal(cell_s(t, 6), "<none>");
    assert_string_equal(cell_s(t, 7), "<unknown>");
    assert_string_equal(cell_s(t, 9), "<unknown>");
    json_decref(t);
    json_decref(items);
}

static void test_table_node_roles_sorted_and_node_info(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Node",
               J("{'metadata': {'name': 'w1', 'labels': {'node-role.kubernetes.io/worker': '',"
                 " 'kubernetes.io/role': 'worker', 'node-role.kubernetes.io/infra': ''}},"
                 " 'status': {'conditions': [{'type': 'Ready', 'status': 'Unknown'}],"
                 " 'addresses': [{'type': 'ExternalIP', 'address': '203.0.113.9'}],"
                 " 'nodeInfo': {'kubeletVersion': 'v1.29.1', 'osImage': 'Debian GNU/Linux 12',"
                 " 'kernelVersion': '6.1.0', 'containerRuntimeVersion': 'skiff://0.1'}}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "NotReady");
    assert_string_equal(cell_s(t, 2), "infra,worker");
    assert_string_equal(cell_s(t, 4), "v1.29.1");
    assert_string_equal(cell_s(t, 5), "<none>");
    assert_string_equal(cell_s(t, 6), "203.0.113.9");
    assert_string_equal(cell_s(t, 7), "Debian GNU/Linux 12");
    assert_string_equal(cell_s(t, 8), "6.1.0");
    assert_string_equal(cell_s(t, 9), "skiff://0.1");
    json_decref(t);
    t = table1("Node", J("{'metadata': {'name': 'bare'}}"), NULL);
    assert_string_equal(cell_s(t, 1), "Unknown");
    assert_string_equal(cell_s(t, 2), "<none>");
    json_decref(t);
}

/* ---- Pod ---- */

static void test_table_pod_crashloop_counts_ready_and_last_restart(void **state)
{
    char created[32], finished[32];
    json_t *t;
    (void)state;
    t = table1("Pod",
               J("{'metadata': {'name': 'web-1', 'creationTimestamp': '%s'},"
                 " 'spec': {'nodeName': 'n1', 'containers': [{'name': 'app'}, {'name': 'side'}]},"
                 " 'status': {'phase': 'Running', 'podIP': '10.1.0.5',"
                 "  'containerStatuses': ["
                 "   {'name': 'app', 'ready': true, 'restartCount': 0, 'state': {'running': {}}},"
                 "   {'name': 'side', 'ready': false, 'restartCount': 3,"
                 "    'state': {'waiting': {'reason': 'CrashLoopBackOff'}},"
                 "    'lastState': {'terminated': {'exitCode': 1, 'finishedAt': '%s'}}}]}}",
                 ago(created, 3 * 3600), ago(finished, 5 * 60 + 10)),
               NULL);
    assert_headers(t, 0, "Name,Ready,Status,Restarts,Age");
    assert_headers(t, 1, "IP,Node,Nominated Node,Readiness Gates");
    assert_string_equal(cell_s(t, 0), "web-1");
    assert_string_equal(cell_s(t, 1), "1/2");
    assert_string_equal(cell_s(t, 2), "CrashLoopBackOff");
    assert_string_equal(cell_s(t, 3), "3 (5m ago)");
    assert_string_equal(cell_s(t, 4), "3h");
    assert_string_equal(cell_s(t, 5), "10.1.0.5");
    assert_string_equal(cell_s(t, 6), "n1");
    assert_string_equal(cell_s(t, 7), "<none>");
    assert_string_equal(cell_s(t, 8), "<none>");
    json_decref(t);
}

static void test_table_pod_without_status_prints_defaults(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Pod", J("{'metadata': {'name': 'fresh'}, 'spec': {'containers': [{}]}}"), NULL);
    assert_string_equal(cell_s(t, 1), "0/1");
    assert_string_equal(cell_s(t, 2), "Pending");
    assert_string_equal(cell_s(t, 3), "0");
    assert_string_equal(cell_s(t, 4), "<unknown>");
    assert_string_equal(cell_s(t, 5), "<none>");
    assert_string_equal(cell_s(t, 6), "<none>");
    assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "conditions"));
    json_decref(t);
}

static void test_table_pod_deletion_timestamp_prints_terminating(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Pod",
               J("{'metadata': {'name': 'p', 'deletionTimestamp': '2024-01-01T00:00:00Z'},"
                 " 'spec': {'containers': [{'name': 'a'}]},"
                 " 'status': {'phase': 'Running', 'containerStatuses': [{'name': 'a',"
                 "  'ready': true, 'state': {'running': {}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "1/1");
    assert_string_equal(cell_s(t, 2), "Terminating");
    json_decref(t);
    t = table1("Pod",
               J("{'metadata': {'name': 'p', 'deletionTimestamp': '2024-01-01T00:00:00Z'},"
                 " 'status': {'phase': 'Running', 'reason': 'NodeLost'}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "Unknown");
    json_decref(t);
}

static void test_table_pod_waiting_and_terminated_reasons(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'containers': [{'name': 'a'}]},"
                 " 'status': {'phase': 'Pending', 'containerStatuses': [{'name': 'a',"
                 "  'state': {'waiting': {'reason': 'ContainerCreating'}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "0/1");
    assert_string_equal(cell_s(t, 2), "ContainerCreating");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'containers': [{'name': 'a'}]},"
                 " 'status': {'phase': 'Succeeded', 'containerStatuses': [{'name': 'a',"
                 "  'state': {'terminated': {'exitCode': 0, 'reason': 'Completed'}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "Completed");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(
                json_object_get(json_array_get(json_object_get(t, "rows"), 0), "conditions"), 0),
            "reason")),
        "Succeeded");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'containers': [{'name': 'a'}]},"
                 " 'status': {'phase': 'Failed', 'containerStatuses': [{'name': 'a',"
                 "  'state': {'terminated': {'exitCode': 1, 'reason': 'Error'}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "Error");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'containers': [{'name': 'a'}, {'name': "
                 "'b'}]}, 'status': {'phase': 'Running', 'containerStatuses': ["
                 "  {'name': 'a', 'state': {'terminated': {'exitCode': 137}}},"
                 "  {'name': 'b', 'state': {'terminated': {'exitCode': 0, 'signal': 9}}}]}}"),
               NULL);
    /* the first container's reason wins */
    assert_string_equal(cell_s(t, 2), "ExitCode:137");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'containers': [{'name': 'a'}]},"
                 " 'status': {'phase': 'Running', 'containerStatuses': [{'name': 'a',"
                 "  'state': {'terminated': {'signal': 9}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "Signal:9");
    json_decref(t);

    /* a Completed container next to a running one reads as the pod's readiness */
    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'containers': [{'name': 'a'}, {'name': "
                 "'b'}]}, 'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', "
                 "'status': 'False'}], 'containerStatuses': ["
                 "  {'name': 'a', 'state': {'terminated': {'exitCode': 0, 'reason': 'Completed'}}},"
                 "  {'name': 'b', 'ready': true, 'state': {'running': {}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "1/2");
    assert_string_equal(cell_s(t, 2), "NotReady");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'status': {'phase': 'Pending', 'conditions': "
                 "[{'type': 'PodScheduled', 'status': 'False', 'reason': 'SchedulingGated'}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "SchedulingGated");
    json_decref(t);
}

static void test_table_pod_init_containers(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'initContainers': [{'name': 'i1'},"
                 " {'name': 'i2'}], 'containers': [{'name': 'a'}]},"
                 " 'status': {'phase': 'Pending', 'initContainerStatuses': ["
                 "  {'name': 'i1', 'state': {'terminated': {'exitCode': 0}}},"
                 "  {'name': 'i2', 'state': {'running': {}}}],"
                 "  'containerStatuses': [{'name': 'a', 'state': {'waiting': {'reason': "
                 "'PodInitializing'}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "0/1");
    assert_string_equal(cell_s(t, 2), "Init:1/2");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'initContainers': [{'name': 'i1'}]},"
                 " 'status': {'phase': 'Pending', 'initContainerStatuses': [{'name': 'i1',"
                 "  'restartCount': 2, 'state': {'waiting': {'reason': 'ImagePullBackOff'}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "Init:ImagePullBackOff");
    assert_string_equal(cell_s(t, 3), "2");
    json_decref(t);

    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'initContainers': [{'name': 'i1'}]},"
                 " 'status': {'phase': 'Pending', 'initContainerStatuses': [{'name': 'i1',"
                 "  'state': {'terminated': {'exitCode': 3}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "Init:ExitCode:3");
    json_decref(t);

    /* a started sidecar counts towards READY and does not hold the pod in Init */
    t = table1(
        "Pod",
        J("{'metadata': {'name': 'p'}, 'spec': {'initContainers': [{'name': 's',"
          " 'restartPolicy': 'Always'}], 'containers': [{'name': 'a'}]},"
          " 'status': {'phase': 'Running', 'conditions': [{'type': 'Initialized',"
          " 'status': 'True'}], 'initContainerStatuses': [{'name': 's', 'started': true,"
          " 'ready': true, 'restartCount': 1, 'state': {'running': {}}}],"
          " 'containerStatuses': [{'name': 'a', 'ready': true, 'state': {'running': {}}}]}}"),
        NULL);
    assert_string_equal(cell_s(t, 1), "2/2");
    assert_string_equal(cell_s(t, 2), "Running");
    assert_string_equal(cell_s(t, 3), "1");
    json_decref(t);
}

static void test_table_pod_wide_cells(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Pod",
               J("{'metadata': {'name': 'p'}, 'spec': {'nodeName': 'n2', 'readinessGates': ["
                 " {'conditionType': 'example.com/lb'}, {'conditionType': 'example.com/dns'}]},"
                 " 'status': {'podIPs': [{'ip': 'fd00::5'}, {'ip': '10.0.0.5'}],"
                 " 'podIP': '10.0.0.5', 'nominatedNodeName': 'n3', 'conditions': ["
                 " {'type': 'example.com/lb', 'status': 'True'},"
                 " {'type': 'example.com/dns', 'status': 'False'}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 5), "fd00::5");
    assert_string_equal(cell_s(t, 6), "n2");
    assert_string_equal(cell_s(t, 7), "n3");
    assert_string_equal(cell_s(t, 8), "1/2");
    json_decref(t);
}

static void test_table_pod_wrong_types_do_not_crash(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Pod",
               J("{'metadata': {'name': 7, 'deletionTimestamp': null}, 'spec': {'containers': "
                 "{'a': 1}, 'initContainers': 'x', 'readinessGates': [3]}, 'status': {'phase': 5,"
                 " 'containerStatuses': [7, {'restartCount': 'x', 'state': [], 'lastState': "
                 "{'terminated': {'finishedAt': 'yesterday'}}}], 'initContainerStatuses': {}}}"),
               NULL);
    assert_string_equal(cell_s(t, 0), "");
    assert_string_equal(cell_s(t, 1), "0/0");
    assert_string_equal(cell_s(t, 2), "Pending");
    assert_string_equal(cell_s(t, 3), "0");
    assert_string_equal(cell_s(t, 8), "0/1");
    json_decref(t);
    /* restart counts are int32 in the API: huge ones saturate, never overflow */
    t = table1("Pod",
               J("{'status': {'containerStatuses': [{'restartCount': 9223372036854775807},"
                 " {'restartCount': 9223372036854775807}, {'restartCount': -5}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 3), "4294967294");
    json_decref(t);
    /* a long reason cut mid-character still makes a valid cell */
    {
        char reason[400];
        size_t i;
        for (i = 0; i + 3 < sizeof reason; i += 3)
            memcpy(reason + i, "\xe2\x82\xac", 3); /* the euro sign: 250 bytes is not 3n */
        reason[i] = '\0';
        t = table1("Pod",
                   J("{'spec': {'initContainers': [{'name': 'i'}]}, 'status': {"
                     " 'initContainerStatuses': [{'name': 'i', 'state': {'terminated': {"
                     " 'exitCode': 1, 'reason': '%s'}}}]}}",
                     reason),
                   NULL);
        assert_true(strncmp(cell_s(t, 2), "Init:\xe2\x82\xac", 8) == 0);
        assert_true(strlen(cell_s(t, 2)) < 256);
        json_decref(t);
    }
    t = table1("Pod", J("{'status': 'broken', 'spec': []}"), NULL);
    assert_string_equal(cell_s(t, 2), "Pending");
    json_decref(t);
}

/* ---- workloads ---- */

static void test_table_deployment_ready_and_selector(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Deployment",
               J("{'metadata': {'name': 'nginx'}, 'spec': {'replicas': 2, 'selector': {"
                 " 'matchLabels': {'app': 'nginx'}, 'matchExpressions': [{'key': 'tier',"
                 " 'operator': 'In', 'values': ['web', 'edge']}, {'key': 'a-b', 'operator':"
                 " 'NotIn', 'values': ['x']}, {'key': 'canary', 'operator': 'DoesNotExist'}]},"
                 " 'template': {'spec': {'containers': [{'name': 'nginx', 'image': 'nginx:1.25'},"
                 " {'name': 'log', 'image': 'busybox'}]}}},"
                 " 'status': {'readyReplicas': 1, 'updatedReplicas': 2, 'availableReplicas': 1}}"),
               NULL);
    assert_headers(t, 0, "Name,Ready,Up-to-date,Available,Age");
    assert_headers(t, 1, "Containers,Images,Selector");
    assert_string_equal(cell_s(t, 1), "1/2");
    assert_int_equal(cell_i(t, 2), 2);
    assert_int_equal(cell_i(t, 3), 1);
    assert_string_equal(cell_s(t, 5), "nginx,log");
    assert_string_equal(cell_s(t, 6), "nginx:1.25,busybox");
    assert_string_equal(cell_s(t, 7), "a-b notin (x),app=nginx,!canary,tier in (edge,web)");
    json_decref(t);

    /* spec.replicas defaults to 1; printDeployment leaves an empty selector bare */
    t = table1("Deployment", J("{'metadata': {'name': 'd'}}"), NULL);
    assert_string_equal(cell_s(t, 1), "0/1");
    assert_int_equal(cell_i(t, 2), 0);
    assert_int_equal(cell_i(t, 3), 0);
    assert_string_equal(cell_s(t, 5), "");
    assert_string_equal(cell_s(t, 6), "");
    assert_string_equal(cell_s(t, 7), "");
    json_decref(t);

    t = table1("Deployment",
               J("{'metadata': {'name': 'd'}, 'spec': {'selector': {'matchExpressions': ["
                 "{'key': 'a', 'operator': 'Bogus'}]}}}"),
               NULL);
    assert_string_equal(cell_s(t, 7), "<invalid>");
    json_decref(t);
}

static void test_table_replicaset_counts_and_selector(void **state)
{
    json_t *t;
    (void)state;
    t = table1("ReplicaSet",
               J("{'metadata': {'name': 'rs'}, 'spec': {'replicas': 3, 'selector': {"
                 " 'matchExpressions': [{'key': 'env', 'operator': 'Exists'}, {'key': 'canary',"
                 " 'operator': 'DoesNotExist'}]}, 'template': {'spec': {'containers': [{'name':"
                 " 'app', 'image': 'app:1'}]}}}, 'status': {'replicas': 3, 'readyReplicas': 2}}"),
               NULL);
    assert_headers(t, 0, "Name,Desired,Current,Ready,Age");
    assert_headers(t, 1, "Containers,Images,Selector");
    assert_int_equal(cell_i(t, 1), 3);
    assert_int_equal(cell_i(t, 2), 3);
    assert_int_equal(cell_i(t, 3), 2);
    assert_string_equal(cell_s(t, 5), "app");
    assert_string_equal(cell_s(t, 6), "app:1");
    assert_string_equal(cell_s(t, 7), "!canary,env");
    json_decref(t);

    t = table1("ReplicaSet", J("{'metadata': {'name': 'rs'}, 'spec': {'selector': {}}}"), NULL);
    assert_int_equal(cell_i(t, 1), 1);
    assert_int_equal(cell_i(t, 2), 0);
    assert_string_equal(cell_s(t, 7), "<none>");
    json_decref(t);

    /* In needs values: LabelSelectorAsSelector fails, FormatLabelSelector says so */
    t = table1("ReplicaSet",
               J("{'spec': {'selector': {'matchExpressions': [{'key': 'a', 'operator': 'In',"
                 " 'values': []}]}}}"),
               NULL);
    assert_string_equal(cell_s(t, 7), "<error>");
    json_decref(t);
}

static void test_table_daemonset_counts_and_node_selector(void **state)
{
    json_t *t;
    (void)state;
    t = table1("DaemonSet",
               J("{'metadata': {'name': 'ds'}, 'spec': {'selector': {'matchLabels': {'k': 'v'}},"
                 " 'template': {'spec': {'nodeSelector': {'kubernetes.io/os': 'linux', 'disk':"
                 " 'ssd'}, 'containers': [{'name': 'agent', 'image': 'agent:2'}]}}},"
                 " 'status': {'desiredNumberScheduled': 3, 'currentNumberScheduled': 3,"
                 " 'numberReady': 2, 'updatedNumberScheduled': 1, 'numberAvailable': 2}}"),
               NULL);
    assert_headers(t, 0, "Name,Desired,Current,Ready,Up-to-date,Available,Node Selector,Age");
    assert_headers(t, 1, "Containers,Images,Selector");
    assert_int_equal(cell_i(t, 1), 3);
    assert_int_equal(cell_i(t, 2), 3);
    assert_int_equal(cell_i(t, 3), 2);
    assert_int_equal(cell_i(t, 4), 1);
    assert_int_equal(cell_i(t, 5), 2);
    assert_string_equal(cell_s(t, 6), "disk=ssd,kubernetes.io/os=linux");
    assert_string_equal(cell_s(t, 8), "agent");
    assert_string_equal(cell_s(t, 10), "k=v");
    json_decref(t);

    t = table1("DaemonSet", J("{'metadata': {'name': 'ds'}}"), NULL);
    assert_int_equal(cell_i(t, 1), 0);
    assert_string_equal(cell_s(t, 6), "<none>");
    assert_string_equal(cell_s(t, 10), "<none>");
    json_decref(t);
}

static void test_table_job_completions_and_duration(void **state)
{
    char start[32];
    json_t *t;
    (void)state;
    t = table1("Job",
               J("{'metadata': {'name': 'pi'}, 'spec': {'completions': 3, 'selector': {"
                 " 'matchLabels': {'batch.kubernetes.io/controller-uid': 'u1'}}, 'template': {"
                 " 'spec': {'containers': [{'name': 'pi', 'image': 'perl:5'}]}}},"
                 " 'status': {'succeeded': 1, 'startTime': '2024-01-01T10:00:00Z',"
                 " 'completionTime': '2024-01-01T10:05:30Z'}}"),
               NULL);
    /* kubectl 1.29's Job columns; STATUS arrived in 1.30 */
    assert_headers(t, 0, "Name,Completions,Duration,Age");
    assert_headers(t, 1, "Containers,Images,Selector");
    assert_string_equal(cell_s(t, 1), "1/3");
    assert_string_equal(cell_s(t, 2), "5m30s");
    assert_string_equal(cell_s(t, 4), "pi");
    assert_string_equal(cell_s(t, 5), "perl:5");
    assert_string_equal(cell_s(t, 6), "batch.kubernetes.io/controller-uid=u1");
    json_decref(t);

    t = table1("Job",
               J("{'spec': {'parallelism': 4}, 'status': {'startTime': '2024-01-01T00:00:00Z',"
                 " 'completionTime': '2024-01-03T04:00:00+00:00'}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "0/1 of 4");
    assert_string_equal(cell_s(t, 2), "2d4h");
    json_decref(t);

    t = table1("Job",
               J("{'status': {'startTime': '2024-01-01T00:00:00Z', 'completionTime':"
                 " '2024-01-01T00:00:45.5Z'}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "45s");
    json_decref(t);

    /* still running: time since start */
    t = table1("Job", J("{'status': {'startTime': '%s'}}", ago(start, 3 * 3600)), NULL);
    assert_string_equal(cell_s(t, 1), "0/1");
    assert_string_equal(cell_s(t, 2), "3h");
    json_decref(t);

    t = table1("Job", J("{'metadata': {'name': 'new'}}"), NULL);
    assert_string_equal(cell_s(t, 1), "0/1");
    assert_string_equal(cell_s(t, 2), "");
    assert_string_equal(cell_s(t, 6), "<none>");
    json_decref(t);
}

static void test_table_cronjob_schedule_suspend_and_last_schedule(void **state)
{
    char last[32];
    json_t *t;
    (void)state;
    t = table1(
        "CronJob",
        J("{'metadata': {'name': 'hello'}, 'spec': {'schedule': '*/5 * * * *',"
          " 'timeZone': 'Europe/Paris', 'suspend': true, 'jobTemplate': {'spec': {"
          " 'template': {'spec': {'containers': [{'name': 'hello', 'image': 'busybox'}]}}}}},"
          " 'status': {'active': [{'name': 'hello-1'}, {'name': 'hello-2'}],"
          " 'lastScheduleTime': '%s'}}",
          ago(last, 10 * 60 + 5)),
        NULL);
    assert_headers(t, 0, "Name,Schedule,Timezone,Suspend,Active,Last Schedule,Age");
    assert_headers(t, 1, "Containers,Images,Selector");
    assert_string_equal(cell_s(t, 1), "*/5 * * * *");
    assert_string_equal(cell_s(t, 2), "Europe/Paris");
    assert_string_equal(cell_s(t, 3), "True");
    assert_int_equal(cell_i(t, 4), 2);
    assert_string_equal(cell_s(t, 5), "10m");
    assert_string_equal(cell_s(t, 7), "hello");
    assert_string_equal(cell_s(t, 8), "busybox");
    assert_string_equal(cell_s(t, 9), "<none>");
    json_decref(t);

    t = table1("CronJob", J("{'metadata': {'name': 'c'}, 'spec': {'schedule': '@daily'}}"), NULL);
    assert_string_equal(cell_s(t, 2), "<none>");
    assert_string_equal(cell_s(t, 3), "False");
    assert_int_equal(cell_i(t, 4), 0);
    assert_string_equal(cell_s(t, 5), "<none>");
    json_decref(t);
}

/* ---- networking ---- */

static void test_table_service_ports_and_external_ip(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Service",
               J("{'metadata': {'name': 'web'}, 'spec': {'type': 'NodePort', 'clusterIP':"
                 " '10.96.0.10', 'clusterIPs': ['10.96.0.10'], 'selector': {'app': 'web'},"
                 " 'ports': [{'port': 80, 'nodePort': 30080, 'protocol': 'TCP'},"
                 " {'port': 53, 'protocol': 'UDP'}]}}"),
               NULL);
    assert_headers(t, 0, "Name,Type,Cluster-IP,External-IP,Port(s),Age");
    assert_headers(t, 1, "Selector");
    assert_string_equal(cell_s(t, 1), "NodePort");
    assert_string_equal(cell_s(t, 2), "10.96.0.10");
    assert_string_equal(cell_s(t, 3), "<none>");
    assert_string_equal(cell_s(t, 4), "80:30080/TCP,53/UDP");
    assert_string_equal(cell_s(t, 6), "app=web");
    json_decref(t);

    /* type and protocol default; no ports and no selector */
    t = table1("Service",
               J("{'metadata': {'name': 'h'}, 'spec': {'clusterIP': 'None', 'externalIPs':"
                 " ['198.51.100.1', '198.51.100.2']}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "ClusterIP");
    assert_string_equal(cell_s(t, 2), "None");
    assert_string_equal(cell_s(t, 3), "198.51.100.1,198.51.100.2");
    assert_string_equal(cell_s(t, 4), "<none>");
    assert_string_equal(cell_s(t, 6), "<none>");
    json_decref(t);

    t = table1("Service",
               J("{'spec': {'type': 'LoadBalancer', 'ports': [{'port': 443, 'nodePort': 31443}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "<none>");
    assert_string_equal(cell_s(t, 3), "<pending>");
    assert_string_equal(cell_s(t, 4), "443:31443/TCP");
    json_decref(t);

    t = table1("Service",
               J("{'spec': {'type': 'LoadBalancer', 'externalIPs': ['192.0.2.9']}, 'status': {"
                 " 'loadBalancer': {'ingress': [{'hostname': 'lb.example.com'}, {'ip':"
                 " '192.0.2.1'}, {'ip': '192.0.2.1'}]}}}"),
               NULL);
    assert_string_equal(cell_s(t, 3), "192.0.2.1,lb.example.com,192.0.2.9");
    json_decref(t);

    t = table1("Service", J("{'spec': {'type': 'ExternalName', 'externalName': 'db.example.com'}}"),
               NULL);
    assert_string_equal(cell_s(t, 3), "db.example.com");
    json_decref(t);

    t = table1("Service", J("{'spec': {'type': 'Weird'}}"), NULL);
    assert_string_equal(cell_s(t, 3), "<unknown>");
    json_decref(t);
}

static void test_table_endpoints_caps_at_three(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Endpoints",
               J("{'metadata': {'name': 'web'}, 'subsets': [{'addresses': [{'ip': '10.0.0.1'},"
                 " {'ip': '10.0.0.2'}], 'ports': [{'port': 80}]}]}"),
               NULL);
    assert_headers(t, 0, "Name,Endpoints,Age");
    assert_headers(t, 1, "");
    assert_string_equal(cell_s(t, 1), "10.0.0.1:80,10.0.0.2:80");
    json_decref(t);

    t = table1("Endpoints",
               J("{'subsets': [{'addresses': [{'ip': '10.0.0.1'}, {'ip': '10.0.0.2'}],"
                 " 'ports': [{'port': 80}, {'port': 443}]}, {'addresses': [{'ip': 'fd00::1'}],"
                 " 'ports': [{'port': 8080}]}]}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...");
    json_decref(t);

    t = table1("Endpoints",
               J("{'subsets': [{'addresses': [{'ip': 'fd00::1'}], 'ports': [{'port': 8080}]},"
                 " {'addresses': [{'ip': '10.0.0.9'}]}]}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "[fd00::1]:8080,10.0.0.9");
    json_decref(t);

    t = table1("Endpoints", J("{'metadata': {'name': 'empty'}}"), NULL);
    assert_string_equal(cell_s(t, 1), "<none>");
    json_decref(t);
}

/* ---- the rest ---- */

static void test_table_secret_namespace_and_lease(void **state)
{
    json_t *t;
    (void)state;
    t = table1("Secret",
               J("{'metadata': {'name': 'tls'}, 'type': 'kubernetes.io/tls', 'data': {"
                 " 'tls.crt': 'QQ==', 'tls.key': 'Qg=='}}"),
               NULL);
    assert_headers(t, 0, "Name,Type,Data,Age");
    assert_string_equal(cell_s(t, 1), "kubernetes.io/tls");
    assert_int_equal(cell_i(t, 2), 2);
    json_decref(t);
    t = table1("Secret",
               J("{'metadata': {'name': 's'}, 'data': {'a': 'QQ=='},"
                 " 'stringData': {'a': 'x', 'b': 'y'}}"),
               NULL);
    assert_string_equal(cell_s(t, 1), "Opaque");
    assert_int_equal(cell_i(t, 2), 2);
    json_decref(t);

    t = table1("Namespace", J("{'metadata': {'name': 'old'}, 'status': {'phase': 'Terminating'}}"),
               NULL);
    assert_headers(t, 0, "Name,Status,Age");
    assert_string_equal(cell_s(t, 1), "Terminating");
    json_decref(t);
    t = table1("Namespace", J("{'metadata': {'name': 'new'}}"), NULL);
    assert_string_equal(cell_s(t, 1), "Active");
    json_decref(t);

    t = table1("Lease",
               J("{'metadata': {'name': 'sched'}, 'spec': {'holderIdentity': 'node1_abc'}}"), NULL);
    assert_headers(t, 0, "Name,Holder,Age");
    assert_string_equal(cell_s(t, 1), "node1_abc");
    json_decref(t);
    t = table1("Lease", J("{'metadata': {'name': 'free'}}"), NULL);
    assert_string_equal(cell_s(t, 1), "");
    json_decref(t);

    /* kubectl's HPA columns; TARGETS <unknown> until measured */
    t = table1("HorizontalPodAutoscaler",
               J("{'metadata': {'name': 'web'}, 'spec': {'scaleTargetRef': {'kind': 'Deployment',"
                 " 'name': 'web'}, 'minReplicas': 1, 'maxReplicas': 4, 'metrics': [{'type': "
                 "'Resource', 'resource': {'name': 'cpu', 'target': {'type': 'Utilization', "
                 "'averageUtilization': 50}}}]}}"),
               NULL);
    assert_headers(t, 0, "Name,Reference,Targets,MinPods,MaxPods,Replicas,Age");
    assert_string_equal(cell_s(t, 1), "Deployment/web");
    assert_string_equal(cell_s(t, 2), "cpu: <unknown>/50%");
    assert_string_equal(cell_s(t, 3), "1");
    assert_int_equal(cell_i(t, 4), 4);
    assert_int_equal(cell_i(t, 5), 0);
    json_decref(t);
    t = table1("HorizontalPodAutoscaler",
               J("{'metadata': {'name': 'm'}, 'spec': {'scaleTargetRef': {'kind': 'Deployment',"
                 " 'name': 'w'}, 'maxReplicas': 9, 'metrics': [{'type': 'Resource', 'resource':"
                 " {'name': 'cpu', 'target': {'type': 'Utilization', 'averageUtilization': 50}}},"
                 " {'type': 'Resource', 'resource': {'name': 'memory', 'target': {'type': "
                 "'AverageValue', 'averageValue': '100Mi'}}}, {'type': 'Resource', 'resource': "
                 "{'name': 'cpu', 'target': {'type': 'AverageValue', 'averageValue': '1'}}}]},"
                 " 'status': {'currentReplicas': 3, 'currentMetrics': [{'type': 'Resource', "
                 "'resource': {'name': 'cpu', 'current': {'averageUtilization': 20}}}, {'type': "
                 "'Resource', 'resource': {'name': 'memory', 'current': {'averageValue': "
                 "'50Mi'}}}]}}"),
               NULL);
    assert_string_equal(cell_s(t, 2), "cpu: 20%/50%, memory: 50Mi/100Mi + 1 more...");
    assert_string_equal(cell_s(t, 3), "<unset>");
    assert_int_equal(cell_i(t, 5), 3);
    json_decref(t);
}

static void test_table_unknown_kind_prints_name_and_age(void **state)
{
    char created[32];
    json_t *t;
    (void)state;
    t = table1("Widget",
               J("{'metadata': {'name': 'w', 'creationTimestamp': '%s'}}", ago(created, 30)), NULL);
    assert_headers(t, 0, "Name,Age");
    assert_headers(t, 1, "");
    assert_string_equal(cell_s(t, 0), "w");
    assert_string_equal(cell_s(t, 1), "30s");
    json_decref(t);
    t = table1(NULL, J("{}"), NULL);
    assert_headers(t, 0, "Name,Age");
    assert_string_equal(cell_s(t, 1), "<unknown>");
    json_decref(t);
}

/* Every served kind: column definitions shaped like the apiserver's, and a
 * cell per column even for empty, half-typed or non-object items. */
static void test_table_every_kind_survives_empty_and_bad_objects(void **state)
{
    size_t n_kinds, k, i;
    const struct api_kind *kinds = api_kinds(&n_kinds);
    (void)state;
    for (k = 0; k < n_kinds; k++) {
        json_t *items = J("[{}, 'str', 5, null, [], {'metadata': 'x', 'spec': 'y', 'status': 7,"
                          " 'data': [], 'subsets': {}}, {'metadata': {'name': 'ok', "
                          "'creationTimestamp': 'garbage'}, 'spec': {}, 'status': {}}]");
        json_t *t, *cols, *col, *row;
        struct err e;
        assert_int_equal(api__table_build(kinds[k].kind, items, NULL, NULL, &t, &e), 0);
        cols = json_object_get(t, "columnDefinitions");
        assert_true(json_array_size(cols) >= 2);
        json_array_foreach (cols, i, col) {
            const char *fmt = json_string_value(json_object_get(col, "format"));
            assert_non_null(json_string_value(json_object_get(col, "type")));
            assert_true(json_string_length(json_object_get(col, "description")) > 0);
            assert_true(json_is_integer(json_object_get(col, "priority")));
            assert_string_equal(fmt, i == 0 ? "name" : "");
        }
        assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "name")),
                            "Name");
        assert_int_equal(json_array_size(json_object_get(t, "rows")), json_array_size(items));
        json_array_foreach (json_object_get(t, "rows"), i, row) {
            assert_int_equal(json_array_size(json_object_get(row, "cells")), json_array_size(cols));
            assert_non_null(json_object_get(json_object_get(row, "object"), "metadata"));
        }
        json_decref(t);
        json_decref(items);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_table_matches_kubectl_get_only),
        cmocka_unit_test(test_table_configmap_counts_data_and_keeps_list_meta),
        cmocka_unit_test(test_table_node_status_roles_and_ip),
        cmocka_unit_test(test_table_node_roles_sorted_and_node_info),
        cmocka_unit_test(test_table_pod_crashloop_counts_ready_and_last_restart),
        cmocka_unit_test(test_table_pod_without_status_prints_defaults),
        cmocka_unit_test(test_table_pod_deletion_timestamp_prints_terminating),
        cmocka_unit_test(test_table_pod_waiting_and_terminated_reasons),
        cmocka_unit_test(test_table_pod_init_containers),
        cmocka_unit_test(test_table_pod_wide_cells),
        cmocka_unit_test(test_table_pod_wrong_types_do_not_crash),
        cmocka_unit_test(test_table_deployment_ready_and_selector),
        cmocka_unit_test(test_table_replicaset_counts_and_selector),
        cmocka_unit_test(test_table_daemonset_counts_and_node_selector),
        cmocka_unit_test(test_table_job_completions_and_duration),
        cmocka_unit_test(test_table_cronjob_schedule_suspend_and_last_schedule),
        cmocka_unit_test(test_table_service_ports_and_external_ip),
        cmocka_unit_test(test_table_endpoints_caps_at_three),
        cmocka_unit_test(test_table_secret_namespace_and_lease),
        cmocka_unit_test(test_table_unknown_kind_prints_name_and_age),
        cmocka_unit_test(test_table_every_kind_survives_empty_and_bad_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
