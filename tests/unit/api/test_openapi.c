/* OpenAPI v3 documents as kubectl reads them: the root's group versions,
 * the patch operation kubectl's fieldValidation verifier looks for, every
 * $ref resolving, kube-openapi's extensions on schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api/schema.h"

static const char *const gvs[] = {"api/v1", "apis/apps/v1", "apis/batch/v1", "apis/autoscaling/v2",
                                  "apis/coordination.k8s.io/v1"};
#define N_GVS (sizeof gvs / sizeof gvs[0])

static json_t *path_get(json_t *v, const char *const *keys, size_t n)
{
    size_t i;
    for (i = 0; i < n && v != NULL; i++)
        v = json_object_get(v, keys[i]);
    return v;
}

static json_t *component(json_t *doc, const char *name)
{
    return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
}

static void test_root_lists_group_versions(void **state)
{
    json_t *root = api__openapi_root(), *again = api__openapi_root(), *paths;
    size_t i;
    (void)state;
    assert_non_null(root);
    paths = json_object_get(root, "paths");
    assert_int_equal(json_object_size(paths), N_GVS);
    for (i = 0; i < N_GVS; i++) {
        char prefix[128];
        const char *url =
            json_string_value(json_object_get(json_object_get(paths, gvs[i]), "serverRelativeURL"));
        assert_non_null(url);
        snprintf(prefix, sizeof prefix, "/openapi/v3/%s?hash=", gvs[i]);
        assert_true(strncmp(url, prefix, strlen(prefix)) == 0);
        assert_true(strlen(url) > strlen(prefix) + 16);
    }
    /* stable: kubectl caches documents by this URL */
    assert_true(json_equal(root, again));
    json_decref(again);
    json_decref(root);
}

static bool has_query_param(json_t *op, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(op, "parameters"), i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        const char *in = json_string_value(json_object_get(p, "in"));
        if (n != NULL && in != NULL && strcmp(n, name) == 0 && strcmp(in, "query") == 0)
            return true;
    }
    return false;
}

static bool gvk_is(json_t *ext, const char *group, const char *version, const char *kind)
{
    return json_is_object(ext) &&
           strcmp(json_string_value(json_object_get(ext, "group")), group) == 0 &&
           strcmp(json_string_value(json_object_get(ext, "version")), version) == 0 &&
           strcmp(json_string_value(json_object_get(ext, "kind")), kind) == 0;
}

static void test_deployment_patch_has_field_validation(void **state)
{
    json_t *doc = api__openapi_doc("apis/apps/v1"), *op, *pathitem;
    const char *keys[] = {"paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                          "patch"};
    const char *url;
    size_t matched = 0;
    (void)state;
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.0");
    op = path_get(doc, keys, 3);
    assert_non_null(op);
    assert_true(
        gvk_is(json_object_get(op, "x-kubernetes-group-version-kind"), "apps", "v1", "Deployment"));
    assert_string_equal(json_string_value(json_object_get(op, "x-kubernetes-action")), "patch");
    assert_string_equal(json_string_value(json_object_get(op, "operationId")),
                        "patchAppsV1NamespacedDeployment");
    assert_true(has_query_param(op, "fieldValidation"));
    assert_true(has_query_param(op, "dryRun"));
    assert_true(has_query_param(op, "fieldManager"));
    assert_true(has_query_param(op, "force"));
    assert_non_null(json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                                    "application/apply-patch+yaml"));
    assert_non_null(json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                                    "application/strategic-merge-patch+json"));

    /* kubectl's verifier: any PATCH operation with the Deployment GVK must
     * carry the parameter (it stops at the first it finds, in map order) */
    json_object_foreach (json_object_get(doc, "paths"), url, pathitem) {
        op = json_object_get(pathitem, "patch");
        if (op == NULL || !gvk_is(json_object_get(op, "x-kubernetes-group-version-kind"), "apps",
                                  "v1", "Deployment"))
            continue;
        matched++;
        assert_true(has_query_param(op, "fieldValidation"));
    }
    assert_int_equal(matched, 2); /* the object and its /status */

    /* the list operation and its parameters */
    {
        const char *lk[] = {"paths", "/apis/apps/v1/namespaces/{namespace}/deployments", "get"};
        op = path_get(doc, lk, 3);
        assert_non_null(op);
        assert_string_equal(json_string_value(json_object_get(op, "x-kubernetes-action")), "list");
        assert_true(has_query_param(op, "labelSelector"));
        assert_true(has_query_param(op, "watch"));
        assert_true(has_query_param(op, "resourceVersionMatch"));
    }
    /* /scale is autoscaling/v1 Scale */
    {
        const char *sk[] = {"paths",
                            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "put"};
        op = path_get(doc, sk, 3);
        assert_non_null(op);
        assert_true(gvk_is(json_object_get(op, "x-kubernetes-group-version-kind"), "autoscaling",
                           "v1", "Scale"));
        assert_non_null(component(doc, "io.k8s.api.autoscaling.v1.Scale"));
    }
    json_decref(doc);
}

static void test_core_paths_namespaced_and_cluster(void **state)
{
    json_t *doc = api__openapi_doc("api/v1"), *paths;
    (void)state;
    assert_non_null(doc);
    paths = json_object_get(doc, "paths");
    assert_non_null(json_object_get(paths, "/api/v1/nodes"));
    assert_non_null(
        json_object_get(json_object_get(paths, "/api/v1/nodes/{name}/status"), "patch"));
    assert_null(json_object_get(paths, "/api/v1/namespaces/{namespace}/nodes"));
    assert_non_null(json_object_get(
        json_object_get(paths, "/api/v1/namespaces/{namespace}/pods/{name}"), "delete"));
    assert_non_null(json_object_get(json_object_get(paths, "/api/v1/pods"), "get"));
    assert_null(json_object_get(paths, "/api/v1/namespaces/{namespace}/secrets/{name}/status"));
    assert_non_null(component(doc, "io.k8s.api.core.v1.PodList"));
    json_decref(doc);
}

/* Every "$ref" anywhere in v names a key of schemas; returns how many. */
static size_t check_refs(json_t *v, json_t *schemas)
{
    size_t n = 0, i;
    const char *key;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach (v, key, x) {
            if (strcmp(key, "$ref") == 0) {
                const char *ref = json_string_value(x);
                const char *prefix = "#/components/schemas/";
                assert_non_null(ref);
                assert_true(strncmp(ref, prefix, strlen(prefix)) == 0);
                if (json_object_get(schemas, ref + strlen(prefix)) == NULL)
                    fail_msg("unresolved $ref %s", ref);
                n++;
            } else {
                n += check_refs(x, schemas);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, x)
            n += check_refs(x, schemas);
    }
    return n;
}

static void test_every_ref_resolves(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < N_GVS; i++) {
        json_t *doc = api__openapi_doc(gvs[i]);
        json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
        assert_non_null(doc);
        assert_true(json_object_size(schemas) > 5);
        assert_true(check_refs(doc, schemas) > 10);
        json_decref(doc);
    }
}

static void test_schema_extensions(void **state)
{
    json_t *doc = api__openapi_doc("apis/apps/v1"), *podspec, *containers, *gvk, *dep, *q, *meta;
    const char *ck[] = {"properties", "containers"};
    const char *lk[] = {"properties", "metadata", "properties", "labels"};
    (void)state;
    podspec = component(doc, "io.k8s.api.core.v1.PodSpec");
    assert_non_null(podspec);
    containers = path_get(podspec, ck, 2);
    assert_string_equal(
        json_string_value(json_object_get(containers, "x-kubernetes-patch-merge-key")), "name");
    assert_string_equal(
        json_string_value(json_object_get(containers, "x-kubernetes-patch-strategy")), "merge");
    assert_string_equal(json_string_value(json_object_get(containers, "type")), "array");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(containers, "items"), "$ref")),
        "#/components/schemas/io.k8s.api.core.v1.Container");

    dep = component(doc, "io.k8s.api.apps.v1.Deployment");
    assert_non_null(dep);
    gvk = json_object_get(dep, "x-kubernetes-group-version-kind");
    assert_int_equal(json_array_size(gvk), 1);
    assert_true(gvk_is(json_array_get(gvk, 0), "apps", "v1", "Deployment"));
    /* a named struct field: allOf + default {} (kube-openapi's shape) */
    meta = json_object_get(json_object_get(dep, "properties"), "metadata");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(meta, "allOf"), 0), "$ref")),
                        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    assert_true(json_is_object(json_object_get(meta, "default")));
    assert_null(path_get(dep, lk, 4)); /* metadata is a $ref, not inlined */

    q = component(doc, "io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert_int_equal(json_array_size(json_object_get(q, "oneOf")), 2);
    {
        const char *rk[] = {"io.k8s.api.apps.v1.DeploymentSpec"};
        json_t *spec = component(doc, rk[0]), *req = json_object_get(spec, "required");
        json_t *ru = component(doc, "io.k8s.api.apps.v1.RollingUpdateDeployment");
        size_t i, found = 0;
        json_t *x;
        json_array_foreach (req, i, x)
            found += strcmp(json_string_value(x), "selector") == 0 ||
                     strcmp(json_string_value(x), "template") == 0;
        assert_int_equal(found, 2);
        assert_true(json_is_true(
            json_object_get(json_object_get(json_object_get(ru, "properties"), "maxSurge"),
                            "x-kubernetes-int-or-string")));
    }
    {
        json_t *list = component(doc, "io.k8s.api.apps.v1.DeploymentList");
        assert_non_null(list);
        assert_true(
            gvk_is(json_array_get(json_object_get(list, "x-kubernetes-group-version-kind"), 0),
                   "apps", "v1", "DeploymentList"));
    }
    {
        json_t *om = component(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
        json_t *fin = json_object_get(json_object_get(om, "properties"), "finalizers");
        json_t *mf = component(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry");
        assert_string_equal(json_string_value(json_object_get(fin, "x-kubernetes-list-type")),
                            "set");
        assert_non_null(mf);
        assert_true(json_is_true(
            json_object_get(component(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"),
                            "x-kubernetes-preserve-unknown-fields")));
    }
    json_decref(doc);
}

static void test_unknown_group_versions(void **state)
{
    (void)state;
    assert_null(api__openapi_doc("apis/nope/v1"));
    assert_null(api__openapi_doc("api/v2"));
    assert_null(api__openapi_doc("apis/apps"));
    assert_null(api__openapi_doc("apis//v1"));
    assert_null(api__openapi_doc("apis/apps/v1/extra"));
    assert_null(api__openapi_doc(""));
    assert_null(api__openapi_doc(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_lists_group_versions),
        cmocka_unit_test(test_deployment_patch_has_field_validation),
        cmocka_unit_test(test_core_paths_namespaced_and_cluster),
        cmocka_unit_test(test_every_ref_resolves),
        cmocka_unit_test(test_schema_extensions),
        cmocka_unit_test(test_unknown_group_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
