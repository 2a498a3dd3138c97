/* Decoding checks against skiff's type tables: unknown fields per
 * fieldValidation, wrong JSON types, int32 range, required fields,
 * quantities, base64, nulls, depth; and a realistic manifest of every kind
 * passing Strict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/schema.h"

static const char canonical_deployment[] =
    "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    " \"metadata\": {\"name\": \"nginx-deployment\", \"labels\": {\"app\": \"nginx\"}},"
    " \"spec\": {\"replicas\": 2, \"selector\": {\"matchLabels\": {\"app\": \"nginx\"}},"
    "  \"template\": {\"metadata\": {\"labels\": {\"app\": \"nginx\"}},"
    "   \"spec\": {\"containers\": [{\"name\": \"nginx\", \"image\": \"nginx:1.7.9\","
    "    \"ports\": [{\"containerPort\": 80}]}]}}}}";

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON: %s at line %d col %d", jerr.text, jerr.line, jerr.column);
    return v;
}

static const struct api_sch *root_of(const char *api_version, const char *kind)
{
    const struct api_kind *k = api_kind_by_kind(api_version, kind);
    assert_non_null(k);
    assert_non_null(api__sch_kind(k));
    return api__sch_kind(k);
}

static json_t *deployment(void)
{
    return load(canonical_deployment);
}

static json_t *container0(json_t *deploy)
{
    json_t *spec =
        json_object_get(json_object_get(json_object_get(deploy, "spec"), "template"), "spec");
    return json_array_get(json_object_get(spec, "containers"), 0);
}

/* Checks obj as a Deployment in mode; expects exactly one error, returns
 * whether it was a decode error and copies its text. */
static bool one_error(json_t *obj, int mode, char *msg, size_t size)
{
    struct api_ferrs fe;
    bool decode;
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), obj, mode, &fe), 1);
    assert_int_equal(fe.n, 1);
    snprintf(msg, size, "%s", fe.msgs[0]);
    decode = fe.decode;
    api__ferrs_close(&fe);
    return decode;
}

static void test_canonical_deployment_passes_strict(void **state)
{
    json_t *d = deployment(), *orig = deployment();
    struct api_ferrs fe;
    (void)state;
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 0);
    assert_int_equal(fe.n, 0);
    assert_int_equal(fe.n_warns, 0);
    assert_false(fe.decode);
    assert_true(json_equal(d, orig)); /* nothing was touched */
    api__ferrs_close(&fe);
    json_decref(orig);
    json_decref(d);
}

static void test_unknown_fields_strict_name_their_paths(void **state)
{
    json_t *d = deployment();
    const struct api_kind *k = api_kind_by_kind("apps/v1", "Deployment");
    struct api_ferrs fe;
    char *msg;
    (void)state;
    json_object_set_new(d, "bar", json_true());
    json_object_set_new(json_object_get(d, "spec"), "foo", json_integer(1));
    json_object_set_new(container0(d), "foo", json_string("x"));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(api__sch_kind(k), d, API_FV_STRICT, &fe), 3);
    assert_true(fe.decode);
    /* depth first, in document order */
    assert_string_equal(fe.msgs[0], "unknown field \"spec.template.spec.containers[0].foo\"");
    assert_string_equal(fe.msgs[1], "unknown field \"spec.foo\"");
    assert_string_equal(fe.msgs[2], "unknown field \"bar\"");
    msg = api__ferrs_message(&fe, k, "nginx-deployment");
    assert_non_null(msg);
    assert_string_equal(msg, "Deployment in version \"v1\" cannot be handled as a Deployment: "
                             "strict decoding error: unknown field \"spec.template.spec."
                             "containers[0].foo\", unknown field \"spec.foo\", unknown field "
                             "\"bar\"");
    free(msg);
    api__ferrs_close(&fe);
    /* strict leaves the object as it came (the request fails anyway) */
    assert_non_null(json_object_get(d, "bar"));
    json_decref(d);
}

static void test_unknown_field_warn_drops_and_warns(void **state)
{
    json_t *d = deployment(), *orig = deployment();
    struct api_ferrs fe;
    (void)state;
    json_object_set_new(json_object_get(d, "spec"), "foo", json_integer(1));
    json_object_set_new(container0(d), "bar", json_pack("{s:{s:i}}", "x", "y", 1));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_WARN, &fe), 0);
    assert_int_equal(fe.n_warns, 2);
    assert_string_equal(fe.warns[0], "unknown field \"spec.template.spec.containers[0].bar\"");
    assert_string_equal(fe.warns[1], "unknown field \"spec.foo\"");
    assert_true(json_equal(d, orig));
    api__ferrs_close(&fe);
    json_decref(orig);
    json_decref(d);
}

static void test_unknown_field_ignore_drops_silently(void **state)
{
    json_t *d = deployment(), *orig = deployment();
    struct api_ferrs fe;
    (void)state;
    json_object_set_new(d, "foo", json_integer(1));
    json_object_set_new(json_object_get(d, "metadata"), "bogus", json_null());
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_IGNORE, &fe), 0);
    assert_int_equal(fe.n_warns, 0);
    assert_true(json_equal(d, orig));
    api__ferrs_close(&fe);
    json_decref(orig);
    json_decref(d);
}

static void test_wrong_type_is_decode_error_naming_field(void **state)
{
    json_t *d = deployment();
    char msg[512];
    (void)state;
    json_object_set_new(json_object_get(d, "spec"), "replicas", json_string("two"));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_string_equal(msg, "spec.replicas: Invalid value: \"two\": spec.replicas in body must "
                             "be of type integer: \"string\"");
    json_decref(d);
}

static void test_int32_overflow_is_decode_error(void **state)
{
    json_t *d = deployment();
    char msg[512];
    (void)state;
    json_object_set_new(json_object_get(d, "spec"), "replicas", json_integer(3000000000LL));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_true(starts_with(msg, "spec.replicas: Invalid value: 3000000000: "));
    json_decref(d);
    /* port numbers too, in an array element */
    d = deployment();
    json_object_set_new(json_array_get(json_object_get(container0(d), "ports"), 0), "containerPort",
                        json_integer(-2147483649LL));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_true(starts_with(msg, "spec.template.spec.containers[0].ports[0].containerPort: "
                                 "Invalid value: -2147483649: "));
    json_decref(d);
}

static void test_integral_real_becomes_integer(void **state)
{
    json_t *d = deployment();
    struct api_ferrs fe;
    (void)state;
    json_object_set_new(json_object_get(d, "spec"), "replicas", json_real(3.0));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 0);
    assert_true(json_is_integer(json_object_get(json_object_get(d, "spec"), "replicas")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas")),
                     3);
    json_object_set_new(json_object_get(d, "spec"), "replicas", json_real(2.5));
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 1);
    api__ferrs_close(&fe);
    json_decref(d);
}

static void test_missing_required_is_not_decode(void **state)
{
    json_t *d = deployment();
    char msg[512];
    (void)state;
    json_object_del(container0(d), "image");
    assert_false(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_string_equal(msg, "spec.template.spec.containers[0].image: Required value");
    json_decref(d);

    d = deployment();
    json_object_del(json_object_get(d, "spec"), "selector");
    assert_false(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_string_equal(msg, "spec.selector: Required value");
    json_decref(d);

    /* a null required field is missing too */
    d = deployment();
    json_object_set_new(json_object_get(d, "spec"), "template", json_null());
    assert_false(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_string_equal(msg, "spec.template: Required value");
    json_decref(d);
}

static void test_containers_not_an_array(void **state)
{
    json_t *d = deployment();
    json_t *spec = json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec");
    char msg[512];
    (void)state;
    json_object_set_new(spec, "containers", json_pack("{s:s}", "name", "x"));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_string_equal(msg, "spec.template.spec.containers: Invalid value: {...}: "
                             "spec.template.spec.containers in body must be of type array: "
                             "\"object\"");
    json_decref(d);
}

static void test_label_value_not_a_string(void **state)
{
    json_t *d = deployment();
    char msg[512];
    (void)state;
    json_object_set_new(json_object_get(json_object_get(d, "metadata"), "labels"), "tier",
                        json_integer(1));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_string_equal(msg, "metadata.labels[tier]: Invalid value: 1: metadata.labels[tier] in "
                             "body must be of type string: \"integer\"");
    json_decref(d);
}

static void test_null_means_unset(void **state)
{
    json_t *d = deployment();
    json_t *meta = json_object_get(d, "metadata");
    struct api_ferrs fe;
    (void)state;
    json_object_set_new(json_object_get(d, "spec"), "replicas", json_null());
    json_object_set_new(meta, "creationTimestamp", json_null());
    json_object_set_new(json_object_get(meta, "labels"), "gone", json_null());
    json_object_set_new(d, "status", json_null());
    json_object_set_new(container0(d), "args", json_pack("[s, n]", "-v"));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 0);
    api__ferrs_close(&fe);
    /* removed as the apiserver's decoding does; map and []string nulls become "" (Go's zero) */
    assert_null(json_object_get(json_object_get(d, "spec"), "replicas"));
    assert_null(json_object_get(meta, "creationTimestamp"));
    assert_null(json_object_get(d, "status"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"), "gone")),
                        "");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(container0(d), "args"), 1)), "");
    json_decref(d);
}

static void test_quantities(void **state)
{
    const char *good[] = {"100m",      "1.5Gi", "2",     "1e3", "0.5",  "+1", "-1",
                          "128974848", "129e6", "123Mi", "1E",  "500u", "10n"};
    const char *bad[] = {"abc", "", "1.2.3", "1Q", "Gi", "1e", "1 Gi", "1kk"};
    json_t *d, *limits;
    struct api_ferrs fe;
    size_t i;
    char msg[512];
    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        d = deployment();
        json_object_set_new(container0(d), "resources",
                            json_pack("{s:{s:s, s:i}}", "limits", "cpu", good[i], "memory", 2));
        api__ferrs_init(&fe);
        assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe),
                         0);
        api__ferrs_close(&fe);
        json_decref(d);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = deployment();
        limits = json_pack("{s:s}", "cpu", bad[i]);
        json_object_set_new(container0(d), "resources", json_pack("{s:o}", "limits", limits));
        assert_false(one_error(d, API_FV_STRICT, msg, sizeof msg));
        assert_true(starts_with(msg, "spec.template.spec.containers[0].resources.limits[cpu]: "
                                     "Invalid value: \""));
        assert_non_null(strstr(msg, "quantities must match the regular expression "
                                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
        json_decref(d);
    }
    /* numbers are stored as the quantity strings they stand for */
    d = deployment();
    json_object_set_new(container0(d), "resources",
                        json_pack("{s:{s:f, s:i}}", "requests", "cpu", 0.25, "memory", 2));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 0);
    api__ferrs_close(&fe);
    limits = json_object_get(json_object_get(container0(d), "resources"), "requests");
    assert_string_equal(json_string_value(json_object_get(limits, "cpu")), "0.25");
    assert_string_equal(json_string_value(json_object_get(limits, "memory")), "2");
    json_decref(d);
    d = deployment();
    json_object_set_new(container0(d), "resources", json_pack("{s:{s:b}}", "requests", "cpu", 1));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    json_decref(d);
}

static size_t check_secret_data(const char *value, char *msg, size_t size)
{
    json_t *s = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                          "metadata", "name", "s", "data", "key", value);
    struct api_ferrs fe;
    size_t n;
    api__ferrs_init(&fe);
    n = api__sch_check(root_of("v1", "Secret"), s, API_FV_STRICT, &fe);
    if (n > 0) {
        assert_true(fe.decode);
        snprintf(msg, size, "%s", fe.msgs[0]);
    }
    api__ferrs_close(&fe);
    json_decref(s);
    return n;
}

static void test_secret_data_must_be_base64(void **state)
{
    char msg[256];
    (void)state;
    assert_int_equal(check_secret_data("YWJj", msg, sizeof msg), 0);
    assert_int_equal(check_secret_data("YWI=", msg, sizeof msg), 0);
    assert_int_equal(check_secret_data("YQ==", msg, sizeof msg), 0);
    assert_int_equal(check_secret_data("", msg, sizeof msg), 0);
    assert_int_equal(check_secret_data("YWJj\nZGVm", msg, sizeof msg), 0);
    assert_int_equal(check_secret_data("abc$", msg, sizeof msg), 1);
    assert_string_equal(msg, "data[key]: illegal base64 data at input byte 3");
    /* Go's offsets: an incomplete quantum names its start, padding in the
     * wrong place names the '=' */
    assert_int_equal(check_secret_data("YWJ", msg, sizeof msg), 1);
    assert_string_equal(msg, "data[key]: illegal base64 data at input byte 0");
    assert_int_equal(check_secret_data("YWJjZ", msg, sizeof msg), 1);
    assert_string_equal(msg, "data[key]: illegal base64 data at input byte 4");
    assert_int_equal(check_secret_data("Y===", msg, sizeof msg), 1);
    assert_string_equal(msg, "data[key]: illegal base64 data at input byte 1");
    assert_int_equal(check_secret_data("YQ==YQ==", msg, sizeof msg), 1);
    assert_string_equal(msg, "data[key]: illegal base64 data at input byte 4");
    assert_int_equal(check_secret_data("YQ=", msg, sizeof msg), 1);
    assert_string_equal(msg, "data[key]: illegal base64 data at input byte 3");
}

static void test_bad_times_and_int_or_string(void **state)
{
    json_t *d = deployment();
    char msg[512];
    struct api_ferrs fe;
    (void)state;
    json_object_set_new(json_object_get(d, "metadata"), "creationTimestamp",
                        json_string("yesterday"));
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_true(starts_with(msg, "metadata.creationTimestamp: Invalid value: \"yesterday\": "));
    json_object_set_new(json_object_get(d, "metadata"), "creationTimestamp",
                        json_string("2024-03-01T10:00:00Z"));
    json_object_set_new(json_object_get(d, "spec"), "strategy",
                        json_pack("{s:s, s:{s:s, s:i}}", "type", "RollingUpdate", "rollingUpdate",
                                  "maxSurge", "25%", "maxUnavailable", 0));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 0);
    api__ferrs_close(&fe);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(d, "spec"), "strategy"), "rollingUpdate"),
        "maxSurge", json_true());
    assert_true(one_error(d, API_FV_STRICT, msg, sizeof msg));
    assert_non_null(strstr(msg, "must be of type integer or string: \"boolean\""));
    json_decref(d);
}

static void test_control_characters_in_keys_are_masked(void **state)
{
    json_t *d = deployment();
    struct api_ferrs fe;
    (void)state;
    json_object_set_new(json_object_get(d, "spec"), "a\r\nWarning: x", json_true());
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_WARN, &fe), 0);
    assert_int_equal(fe.n_warns, 1);
    assert_string_equal(fe.warns[0], "unknown field \"spec.a??Warning: x\"");
    api__ferrs_close(&fe);
    json_decref(d);
}

static void test_not_an_object_at_all(void **state)
{
    json_t *v = json_pack("[i]", 1);
    struct api_ferrs fe;
    (void)state;
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("v1", "Pod"), v, API_FV_STRICT, &fe), 1);
    assert_true(fe.decode);
    assert_string_equal(fe.msgs[0], "Invalid value: [...]: body must be of type object: \"array\"");
    api__ferrs_close(&fe);
    json_decref(v);
}

/* ---- a realistic example of every kind ---- */

static const char *const examples[][3] = {
    {"v1", "Namespace",
     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-a\","
     "\"labels\":{\"kubernetes.io/metadata.name\":\"team-a\"}},\"spec\":{\"finalizers\":"
     "[\"kubernetes\"]},\"status\":{\"phase\":\"Active\",\"conditions\":[{\"type\":"
     "\"NamespaceDeletionDiscoveryFailure\",\"status\":\"False\",\"lastTransitionTime\":"
     "\"2024-01-01T00:00:00Z\",\"reason\":\"ResourcesDiscovered\",\"message\":\"ok\"}]}}"},
    {"v1", "Node",
     "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"uid\":\"u-1\","
     "\"resourceVersion\":\"42\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":"
     "{\"kubernetes.io/hostname\":\"n1\",\"node-role.kubernetes.io/control-plane\":\"\"}},"
     "\"spec\":{\"podCIDR\":\"10.244.0.0/24\",\"podCIDRs\":[\"10.244.0.0/24\"],\"providerID\":"
     "\"skiff://n1\",\"unschedulable\":false,\"taints\":[{\"key\":"
     "\"node-role.kubernetes.io/control-plane\",\"effect\":\"NoSchedule\"}]},\"status\":"
     "{\"capacity\":{\"cpu\":\"4\",\"memory\":\"16318012Ki\",\"pods\":\"110\","
     "\"ephemeral-storage\":\"102626232Ki\"},\"allocatable\":{\"cpu\":\"3800m\",\"memory\":"
     "\"15Gi\",\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
     "\"reason\":\"KubeletReady\",\"message\":\"ready\",\"lastHeartbeatTime\":"
     "\"2024-01-01T00:00:10Z\",\"lastTransitionTime\":\"2024-01-01T00:00:00Z\"}],"
     "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.5\"},{\"type\":\"Hostname\","
     "\"address\":\"n1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":10250}},"
     "\"nodeInfo\":{\"machineID\":\"m\",\"systemUUID\":\"s\",\"bootID\":\"b\",\"kernelVersion\":"
     "\"6.1.0\",\"osImage\":\"Debian\",\"containerRuntimeVersion\":\"runc://1.1\","
     "\"kubeletVersion\":\"v1.29.0-skiff\",\"kubeProxyVersion\":\"\",\"operatingSystem\":"
     "\"linux\",\"architecture\":\"amd64\"},\"images\":[{\"names\":[\"nginx:1.25\"],"
     "\"sizeBytes\":187000000}],\"volumesInUse\":[],\"volumesAttached\":[]}}"},
    {"v1", "Pod",
     "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\",\"namespace\":"
     "\"default\",\"annotations\":{\"a\":\"b\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
     "\"kind\":\"ReplicaSet\",\"name\":\"web-1\",\"uid\":\"u\",\"controller\":true,"
     "\"blockOwnerDeletion\":true}],\"finalizers\":[\"x/y\"],\"managedFields\":[{\"manager\":"
     "\"kubectl\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":"
     "\"2024-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":"
     "{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{}}}}}]},"
     "\"spec\":{\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
     "\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":\"default\",\"nodeSelector\":"
     "{\"disk\":\"ssd\"},\"securityContext\":{\"runAsNonRoot\":true,\"fsGroup\":2000,"
     "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"imagePullSecrets\":[{\"name\":"
     "\"reg\"}],\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":"
     "\"NoExecute\",\"tolerationSeconds\":300}],\"affinity\":{\"nodeAffinity\":"
     "{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":"
     "[{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"a\"]}]}]}},"
     "\"podAntiAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":100,"
     "\"podAffinityTerm\":{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},\"topologyKey\":"
     "\"kubernetes.io/hostname\"}}]}},\"topologySpreadConstraints\":[{\"maxSkew\":1,"
     "\"topologyKey\":\"zone\",\"whenUnsatisfiable\":\"ScheduleAnyway\",\"labelSelector\":"
     "{\"matchLabels\":{\"app\":\"web\"}}}],\"initContainers\":[{\"name\":\"init\",\"image\":"
     "\"busybox\",\"command\":[\"sh\",\"-c\",\"true\"]}],\"containers\":[{\"name\":\"app\","
     "\"image\":\"nginx:1.25\",\"imagePullPolicy\":\"IfNotPresent\",\"args\":[\"-g\","
     "\"daemon off;\"],\"ports\":[{\"name\":\"http\",\"containerPort\":80,\"protocol\":\"TCP\"}],"
     "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":"
     "{\"fieldPath\":\"metadata.name\"}}},{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":"
     "{\"name\":\"s\",\"key\":\"pw\"}}},{\"name\":\"C\",\"valueFrom\":{\"configMapKeyRef\":"
     "{\"name\":\"c\",\"key\":\"k\",\"optional\":true}}},{\"name\":\"MEM\",\"valueFrom\":"
     "{\"resourceFieldRef\":{\"resource\":\"limits.memory\",\"divisor\":\"1Mi\"}}}],"
     "\"envFrom\":[{\"configMapRef\":{\"name\":\"c\"}},{\"prefix\":\"S_\",\"secretRef\":"
     "{\"name\":\"s\"}}],\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"128Mi\"},"
     "\"requests\":{\"cpu\":0.25,\"memory\":\"64Mi\"}},\"volumeMounts\":[{\"name\":\"data\","
     "\"mountPath\":\"/data\"},{\"name\":\"cfg\",\"mountPath\":\"/etc/cfg\",\"readOnly\":true}],"
     "\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":\"http\",\"scheme\":"
     "\"HTTP\",\"httpHeaders\":[{\"name\":\"X\",\"value\":\"y\"}]},\"initialDelaySeconds\":3,"
     "\"periodSeconds\":10,\"failureThreshold\":3},\"readinessProbe\":{\"tcpSocket\":{\"port\":"
     "80},\"timeoutSeconds\":1,\"successThreshold\":1},\"startupProbe\":{\"exec\":{\"command\":"
     "[\"cat\",\"/tmp/ok\"]}},\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"sleep\","
     "\"5\"]}}},\"securityContext\":{\"allowPrivilegeEscalation\":false,\"readOnlyRootFilesystem\":"
     "true,\"capabilities\":{\"drop\":[\"ALL\"]},\"runAsUser\":1000},"
     "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
     "\"stdin\":false,\"tty\":false}],\"volumes\":[{\"name\":\"data\",\"emptyDir\":{\"sizeLimit\":"
     "\"1Gi\"}},{\"name\":\"cfg\",\"configMap\":{\"name\":\"c\",\"items\":[{\"key\":\"k\","
     "\"path\":\"k.conf\"}],\"defaultMode\":420}},{\"name\":\"sec\",\"secret\":{\"secretName\":"
     "\"s\"}},{\"name\":\"host\",\"hostPath\":{\"path\":\"/var/log\",\"type\":\"Directory\"}},"
     "{\"name\":\"pvc\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}},{\"name\":\"tok\","
     "\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":\"token\","
     "\"expirationSeconds\":3607}},{\"downwardAPI\":{\"items\":[{\"path\":\"ns\",\"fieldRef\":"
     "{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}]}}]}},{\"name\":\"n\","
     "\"nfs\":{\"server\":\"nfs\",\"path\":\"/x\"}}],\"hostAliases\":[{\"ip\":\"127.0.0.1\","
     "\"hostnames\":[\"foo.local\"]}],\"enableServiceLinks\":false,\"priority\":0,"
     "\"schedulerName\":\"default-scheduler\",\"preemptionPolicy\":\"PreemptLowerPriority\"},"
     "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
     "\"lastProbeTime\":null,\"lastTransitionTime\":\"2024-01-01T00:00:00Z\"}],\"hostIP\":"
     "\"10.0.0.5\",\"hostIPs\":[{\"ip\":\"10.0.0.5\"}],\"podIP\":\"10.244.0.7\",\"podIPs\":"
     "[{\"ip\":\"10.244.0.7\"}],\"startTime\":\"2024-01-01T00:00:00Z\",\"qosClass\":"
     "\"Burstable\",\"containerStatuses\":[{\"name\":\"app\",\"ready\":true,\"restartCount\":0,"
     "\"image\":\"nginx:1.25\",\"imageID\":\"sha256:x\",\"containerID\":\"runc://abc\","
     "\"started\":true,\"state\":{\"running\":{\"startedAt\":\"2024-01-01T00:00:01Z\"}},"
     "\"lastState\":{\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}"},
    {"v1", "Service",
     "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":"
     "{\"type\":\"NodePort\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\","
     "\"protocol\":\"TCP\",\"port\":80,\"targetPort\":\"http\",\"nodePort\":30080},{\"name\":"
     "\"metrics\",\"port\":9090,\"targetPort\":9090,\"appProtocol\":\"http\"}],\"clusterIP\":"
     "\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\"],\"ipFamilies\":[\"IPv4\"],"
     "\"ipFamilyPolicy\":\"SingleStack\",\"sessionAffinity\":\"None\",\"externalTrafficPolicy\":"
     "\"Cluster\",\"internalTrafficPolicy\":\"Cluster\",\"publishNotReadyAddresses\":false},"
     "\"status\":{\"loadBalancer\":{}}}"},
    {"v1", "Endpoints",
     "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"web\"},"
     "\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.7\",\"nodeName\":\"n1\",\"targetRef\":"
     "{\"kind\":\"Pod\",\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"u\"}}],"
     "\"notReadyAddresses\":[{\"ip\":\"10.244.0.8\",\"hostname\":\"web-2\"}],\"ports\":"
     "[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}]}"},
    {"v1", "Secret",
     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\"},\"type\":"
     "\"Opaque\",\"data\":{\"username\":\"YWRtaW4=\",\"password\":\"czNjcjN0\"},\"stringData\":"
     "{\"host\":\"db.local\"},\"immutable\":false}"},
    {"v1", "ConfigMap",
     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\",\"namespace\":"
     "\"default\"},\"data\":{\"app.conf\":\"port=80\\n\",\"mode\":\"prod\"},\"binaryData\":"
     "{\"blob\":\"AAEC\"},\"immutable\":true}"},
    {"apps/v1", "Deployment",
     "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
     "\"generation\":3},\"spec\":{\"replicas\":3,\"revisionHistoryLimit\":10,"
     "\"progressDeadlineSeconds\":600,\"minReadySeconds\":5,\"paused\":false,\"selector\":"
     "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
     "\"NotIn\",\"values\":[\"db\"]}]},\"strategy\":{\"type\":\"RollingUpdate\","
     "\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":1}},\"template\":{\"metadata\":"
     "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
     "\"nginx\"}]}}},\"status\":{\"observedGeneration\":3,\"replicas\":3,\"updatedReplicas\":3,"
     "\"readyReplicas\":3,\"availableReplicas\":3,\"unavailableReplicas\":0,\"conditions\":"
     "[{\"type\":\"Available\",\"status\":\"True\",\"lastUpdateTime\":\"2024-01-01T00:00:00Z\","
     "\"lastTransitionTime\":\"2024-01-01T00:00:00Z\",\"reason\":\"MinimumReplicasAvailable\","
     "\"message\":\"ok\"}],\"collisionCount\":0}}"},
    {"apps/v1", "ReplicaSet",
     "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web-5d4\","
     "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"5d4\"},\"annotations\":"
     "{\"deployment.kubernetes.io/revision\":\"1\"}},\"spec\":{\"replicas\":2,\"selector\":"
     "{\"matchLabels\":{\"app\":\"web\",\"pod-template-hash\":\"5d4\"}},\"template\":"
     "{\"metadata\":{\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"5d4\"}},\"spec\":"
     "{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}},\"status\":{\"replicas\":2,"
     "\"fullyLabeledReplicas\":2,\"readyReplicas\":2,\"availableReplicas\":2,"
     "\"observedGeneration\":1}}"},
    {"apps/v1", "DaemonSet",
     "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"agent\","
     "\"namespace\":\"kube-system\"},\"spec\":{\"selector\":{\"matchLabels\":{\"name\":"
     "\"agent\"}},\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
     "{\"maxUnavailable\":1,\"maxSurge\":0}},\"template\":{\"metadata\":{\"labels\":{\"name\":"
     "\"agent\"}},\"spec\":{\"hostNetwork\":true,\"hostPID\":true,\"tolerations\":[{\"operator\":"
     "\"Exists\"}],\"containers\":[{\"name\":\"agent\",\"image\":\"agent:1\",\"securityContext\":"
     "{\"privileged\":true},\"volumeMounts\":[{\"name\":\"root\",\"mountPath\":\"/host\","
     "\"mountPropagation\":\"HostToContainer\"}]}],\"volumes\":[{\"name\":\"root\",\"hostPath\":"
     "{\"path\":\"/\"}}]}}},\"status\":{\"currentNumberScheduled\":1,\"numberMisscheduled\":0,"
     "\"desiredNumberScheduled\":1,\"numberReady\":1}}"},
    {"batch/v1", "Job",
     "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"pi\"},\"spec\":"
     "{\"backoffLimit\":4,\"completions\":1,\"parallelism\":1,\"activeDeadlineSeconds\":600,"
     "\"ttlSecondsAfterFinished\":100,\"completionMode\":\"NonIndexed\",\"suspend\":false,"
     "\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":{\"operator\":"
     "\"In\",\"values\":[42]}}]},\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
     "\"containers\":[{\"name\":\"pi\",\"image\":\"perl:5.34.0\",\"command\":[\"perl\","
     "\"-Mbignum=bpi\",\"-wle\",\"print bpi(2000)\"]}]}}},\"status\":{\"startTime\":"
     "\"2024-01-01T00:00:00Z\",\"active\":1,\"ready\":0,\"uncountedTerminatedPods\":{},"
     "\"conditions\":[{\"type\":\"Complete\",\"status\":\"False\"}]}}"},
    {"batch/v1", "CronJob",
     "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"hello\"},"
     "\"spec\":{\"schedule\":\"* * * * *\",\"timeZone\":\"Etc/UTC\",\"concurrencyPolicy\":"
     "\"Forbid\",\"startingDeadlineSeconds\":200,\"successfulJobsHistoryLimit\":3,"
     "\"failedJobsHistoryLimit\":1,\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":"
     "{\"restartPolicy\":\"OnFailure\",\"containers\":[{\"name\":\"hello\",\"image\":"
     "\"busybox:1.28\",\"command\":[\"/bin/sh\",\"-c\",\"date; echo Hello\"]}]}}}}},"
     "\"status\":{\"active\":[{\"kind\":\"Job\",\"name\":\"hello-1\",\"namespace\":\"default\","
     "\"apiVersion\":\"batch/v1\"}],\"lastScheduleTime\":\"2024-01-01T00:01:00Z\"}}"},
    {"autoscaling/v2", "HorizontalPodAutoscaler",
     "{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":"
     "{\"name\":\"web\"},\"spec\":{\"scaleTargetRef\":{\"apiVersion\":\"apps/v1\",\"kind\":"
     "\"Deployment\",\"name\":\"web\"},\"minReplicas\":1,\"maxReplicas\":4,\"metrics\":[{\"type\":"
     "\"Resource\",\"resource\":{\"name\":\"cpu\",\"target\":{\"type\":\"Utilization\","
     "\"averageUtilization\":50}}}],\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":"
     "60,\"policies\":[{\"type\":\"Pods\",\"value\":1,\"periodSeconds\":15}]}}},\"status\":{"
     "\"currentReplicas\":1,\"desiredReplicas\":1,\"currentMetrics\":[{\"type\":\"Resource\","
     "\"resource\":{\"name\":\"cpu\",\"current\":{\"averageValue\":\"20m\",\"averageUtilization\":"
     "20}}}],\"conditions\":[{\"type\":\"AbleToScale\",\"status\":\"True\",\"reason\":"
     "\"ReadyForNewScale\",\"lastTransitionTime\":\"2024-01-01T00:00:00Z\"}]}}"},
    {"coordination.k8s.io/v1", "Lease",
     "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
     "\"n1\",\"namespace\":\"kube-node-lease\"},\"spec\":{\"holderIdentity\":\"n1\","
     "\"leaseDurationSeconds\":40,\"acquireTime\":\"2024-01-01T00:00:00.000000Z\","
     "\"renewTime\":\"2024-01-01T00:00:30.123456Z\",\"leaseTransitions\":0}}"},
};

static void test_every_kind_has_a_root_and_an_example_passes(void **state)
{
    const struct api_kind *kinds;
    size_t n, i, j;
    (void)state;
    kinds = api_kinds(&n);
    for (i = 0; i < n; i++) {
        const struct api_sch *root = api__sch_kind(&kinds[i]);
        assert_non_null(root);
        assert_int_equal(root->type, API_SCH_OBJECT);
        assert_non_null(api__sch_field(root, "apiVersion"));
        assert_non_null(api__sch_field(root, "kind"));
        assert_non_null(api__sch_field(root, "metadata"));
        for (j = 0; j < sizeof examples / sizeof examples[0]; j++)
            if (api_kind_by_kind(examples[j][0], examples[j][1]) == &kinds[i])
                break;
        assert_true(j < sizeof examples / sizeof examples[0]); /* every kind has an example */
    }
    for (j = 0; j < sizeof examples / sizeof examples[0]; j++) {
        json_t *obj = load(examples[j][2]);
        struct api_ferrs fe;
        size_t errs;
        api__ferrs_init(&fe);
        errs = api__sch_check(root_of(examples[j][0], examples[j][1]), obj, API_FV_STRICT, &fe);
        if (errs != 0)
            fail_msg("%s: %s", examples[j][1], fe.msgs[0]);
        assert_int_equal(fe.n_warns, 0);
        api__ferrs_close(&fe);
        json_decref(obj);
    }
}

static void test_sch_field_merge_keys(void **state)
{
    const struct api_sch *pod = root_of("v1", "Pod");
    const struct api_sch *spec = api__sch_field(pod, "spec")->type;
    const struct api_sch_field *f;
    (void)state;
    f = api__sch_field(spec, "containers");
    assert_non_null(f);
    assert_string_equal(f->merge_key, "name");
    assert_string_equal(f->patch_strategy, "merge");
    assert_true(f->flags & API_SCH_REQUIRED);
    assert_int_equal(f->type->type, API_SCH_ARRAY);
    assert_string_equal(f->type->elem->name, "io.k8s.api.core.v1.Container");
    f = api__sch_field(spec, "volumes");
    assert_string_equal(f->patch_strategy, "merge,retainKeys");
    f = api__sch_field(f->type->elem, "name");
    assert_non_null(f);
    f = api__sch_field(api__sch_field(pod, "metadata")->type, "finalizers");
    assert_null(f->merge_key);
    assert_string_equal(f->patch_strategy, "merge");
    assert_null(api__sch_field(spec, "nope"));
    assert_null(api__sch_field(f->type, "x")); /* not an object */
    assert_null(api__sch_kind(NULL));
}

static void test_fv_parse(void **state)
{
    (void)state;
    assert_int_equal(api__fv_parse(NULL), API_FV_WARN);
    assert_int_equal(api__fv_parse(""), API_FV_WARN);
    assert_int_equal(api__fv_parse("Warn"), API_FV_WARN);
    assert_int_equal(api__fv_parse("Strict"), API_FV_STRICT);
    assert_int_equal(api__fv_parse("Ignore"), API_FV_IGNORE);
    assert_int_equal(api__fv_parse("strictly"), -1);
}

static json_t *nest(int levels)
{
    json_t *v = json_object(), *o;
    int i;
    for (i = 0; i < levels; i++) {
        o = json_object();
        json_object_set_new(o, "a", v);
        v = o;
    }
    return v;
}

static void test_depth_bomb_rejected(void **state)
{
    json_t *d = deployment();
    struct api_ferrs fe;
    size_t n;
    (void)state;
    /* fieldsV1 is FREE: the only place nesting is not bounded by the schema */
    json_object_set_new(json_object_get(d, "metadata"), "managedFields",
                        json_pack("[{s:s, s:o}]", "manager", "m", "fieldsV1", nest(100000)));
    /* and one under an unknown field, dropped without being walked */
    json_object_set_new(json_object_get(d, "spec"), "bomb", nest(100000));
    api__ferrs_init(&fe);
    n = api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_WARN, &fe);
    assert_int_equal(n, 1);
    assert_true(fe.decode);
    assert_non_null(strstr(fe.msgs[0], "metadata.managedFields[0].fieldsV1: Invalid value: "
                                       "nested more than 64 levels deep"));
    assert_null(json_object_get(json_object_get(d, "spec"), "bomb"));
    api__ferrs_close(&fe);
    json_decref(d);

    /* a legitimately deep fieldsV1 is fine */
    d = deployment();
    json_object_set_new(json_object_get(d, "metadata"), "managedFields",
                        json_pack("[{s:o}]", "fieldsV1", nest(20)));
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 0);
    api__ferrs_close(&fe);
    json_decref(d);
}

static void test_many_errors_are_counted(void **state)
{
    json_t *d = deployment(), *spec;
    struct api_ferrs fe;
    char key[16];
    int i;
    (void)state;
    spec = json_object_get(d, "spec");
    for (i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "x%d", i);
        json_object_set_new(spec, key, json_true());
    }
    api__ferrs_init(&fe);
    assert_int_equal(api__sch_check(root_of("apps/v1", "Deployment"), d, API_FV_STRICT, &fe), 40);
    assert_int_equal(fe.n, API_FERRS_MAX);
    assert_int_equal(fe.dropped, 40 - API_FERRS_MAX);
    api__ferrs_close(&fe);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_deployment_passes_strict),
        cmocka_unit_test(test_unknown_fields_strict_name_their_paths),
        cmocka_unit_test(test_unknown_field_warn_drops_and_warns),
        cmocka_unit_test(test_unknown_field_ignore_drops_silently),
        cmocka_unit_test(test_wrong_type_is_decode_error_naming_field),
        cmocka_unit_test(test_int32_overflow_is_decode_error),
        cmocka_unit_test(test_integral_real_becomes_integer),
        cmocka_unit_test(test_missing_required_is_not_decode),
        cmocka_unit_test(test_containers_not_an_array),
        cmocka_unit_test(test_label_value_not_a_string),
        cmocka_unit_test(test_null_means_unset),
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_secret_data_must_be_base64),
        cmocka_unit_test(test_bad_times_and_int_or_string),
        cmocka_unit_test(test_control_characters_in_keys_are_masked),
        cmocka_unit_test(test_not_an_object_at_all),
        cmocka_unit_test(test_every_kind_has_a_root_and_an_example_passes),
        cmocka_unit_test(test_sch_field_merge_keys),
        cmocka_unit_test(test_fv_parse),
        cmocka_unit_test(test_depth_bomb_rejected),
        cmocka_unit_test(test_many_errors_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
