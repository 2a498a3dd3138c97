/* autoscaling/v1 HorizontalPodAutoscaler: skiff stores and serves v2 (one
 * version per kind in api/kinds.c), and converts v1 at the door, so a
 * client that only speaks v1 (kubectl autoscale up to 1.31 POSTs
 * autoscaling/v1) works:
 *   POST /apis/autoscaling/v1/namespaces/NS/horizontalpodautoscalers
 *   GET  /apis/autoscaling/v1/namespaces/NS/horizontalpodautoscalers/NAME
 * The v1 body becomes a v2 object (targetCPUUtilizationPercentage -> a cpu
 * Utilization metric), is created like any object (defaults, validation,
 * compare-absent write) and the answer goes back as v1. Other verbs on v1
 * are not served (404): v2 is the API. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

json_t *api__hpa_v1_to_v2(const json_t *v1)
{
    json_t *v2 = json_deep_copy(v1), *spec, *cpu;
    if (!json_is_object(v2))
        return v2;
    json_object_set_new(v2, "apiVersion", json_string("autoscaling/v2"));
    json_object_del(v2, "status"); /* the controller writes its own */
    spec = json_object_get(v2, "spec");
    cpu = json_object_get(spec, "targetCPUUtilizationPercentage");
    if (cpu != NULL) {
        if (!json_is_null(cpu))
            json_object_set_new(spec, "metrics",
                                json_pack("[{s:s, s:{s:s, s:{s:s, s:O}}}]", "type", "Resource",
                                          "resource", "name", "cpu", "target", "type",
                                          "Utilization", "averageUtilization", cpu));
        json_object_del(spec, "targetCPUUtilizationPercentage");
    }
    return v2;
}

json_t *api__hpa_v2_to_v1(const json_t *v2)
{
    const json_t *spec = json_object_get(v2, "spec"), *st = json_object_get(v2, "status"), *m;
    json_t *v1 = json_deep_copy(v2), *nspec, *nst;
    size_t i;
    if (!json_is_object(v1))
        return v1;
    json_object_set_new(v1, "apiVersion", json_string("autoscaling/v1"));
    nspec =
        json_pack("{s:O*, s:O*, s:O*}", "scaleTargetRef", json_object_get(spec, "scaleTargetRef"),
                  "minReplicas", json_object_get(spec, "minReplicas"), "maxReplicas",
                  json_object_get(spec, "maxReplicas"));
    json_array_foreach (json_object_get(spec, "metrics"), i, m) {
        const json_t *res = json_object_get(m, "resource");
        const char *name = json_string_value(json_object_get(res, "name"));
        const json_t *u = json_object_get(json_object_get(res, "target"), "averageUtilization");
        if (name != NULL && strcmp(name, "cpu") == 0 && json_is_integer(u) && nspec != NULL) {
            json_object_set(nspec, "targetCPUUtilizationPercentage", (json_t *)u);
            break;
        }
    }
    json_object_set_new(v1, "spec", nspec ? nspec : json_object());
    nst = json_pack("{s:O*, s:O*, s:O*, s:O*}", "observedGeneration",
                    json_object_get(st, "observedGeneration"), "lastScaleTime",
                    json_object_get(st, "lastScaleTime"), "currentReplicas",
                    json_object_get(st, "currentReplicas"), "desiredReplicas",
                    json_object_get(st, "desiredReplicas"));
    json_array_foreach (json_object_get(st, "currentMetrics"), i, m) {
        const json_t *res = json_object_get(m, "resource");
        const char *name = json_string_value(json_object_get(res, "name"));
        const json_t *u = json_object_get(json_object_get(res, "current"), "averageUtilization");
        if (name != NULL && strcmp(name, "cpu") == 0 && json_is_integer(u) && nst != NULL) {
            json_object_set(nst, "currentCPUUtilizationPercentage", (json_t *)u);
            break;
        }
    }
    if (nst != NULL && json_object_get(nst, "currentReplicas") == NULL)
        json_object_set_new(nst, "currentReplicas", json_integer(0));
    if (nst != NULL && json_object_get(nst, "desiredReplicas") == NULL)
        json_object_set_new(nst, "desiredReplicas", json_integer(0));
    json_object_set_new(v1, "status", nst ? nst : json_object());
    return v1;
}

static const struct api_kind *hpa_kind(void)
{
    return api_kind_by_kind("autoscaling/v2", "HorizontalPodAutoscaler");
}

static void reply_v1(struct api_req *r, int status, const json_t *v2)
{
    json_t *v1 = api__hpa_v2_to_v1(v2);
    if (v1 == NULL)
        api_reply_error(r, ERR_NOMEM, "out of memory");
    else
        api_reply_json(r, status, v1);
}

static void on_created(struct api_req *r, int status)
{
    json_t *obj = r->data;
    char rv[24];
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    if (r->op.propose.result.failed_cmp >= 0) {
        api_reply_status(
            r, 409, "AlreadyExists", "horizontalpodautoscalers.autoscaling \"%s\" already exists",
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
        return;
    }
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)r->op.propose.result.rev);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
    reply_v1(r, 201, obj);
}

static void free_obj(struct api_req *r)
{
    json_decref(r->data);
    r->data = NULL;
}

static void h_create(struct api_req *r)
{
    const struct api_kind *k = hpa_kind();
    const char *ns = r->caps[0], *name, *dry = api_req_query(r, "dryRun");
    const char *body_ns;
    json_t *v1, *obj;
    json_error_t je;
    struct store_cmp cmp;
    struct store_op op;
    struct store_txn txn = {&cmp, 1, &op, 1};
    char key[STORE_KEY_MAX + 1];
    void *value = NULL;
    size_t len = 0;
    struct err e;
    int rv;

    if (strcmp(r->identity, "admin") != 0) {
        api_reply_status(
            r, 403, "Forbidden",
            "horizontalpodautoscalers.autoscaling is forbidden: User \"%s\" cannot "
            "create resource \"horizontalpodautoscalers\" in API group \"autoscaling\" "
            "in the namespace \"%s\"",
            r->identity, ns);
        return;
    }
    v1 = r->body_len ? json_loadb(r->body, r->body_len, 0, &je) : NULL;
    if (!json_is_object(v1)) {
        json_decref(v1);
        api_reply_status(r, 400, "BadRequest", "request body: an object is required");
        return;
    }
    body_ns = json_string_value(json_object_get(json_object_get(v1, "metadata"), "namespace"));
    if (body_ns != NULL && body_ns[0] != '\0' && strcmp(body_ns, ns) != 0) {
        json_decref(v1);
        api_reply_status(r, 400, "BadRequest",
                         "the namespace of the provided object does not match the namespace sent "
                         "on the request");
        return;
    }
    obj = api__hpa_v1_to_v2(v1);
    json_decref(v1);
    if (obj == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    r->data = obj;
    r->cleanup = free_obj;
    rv = api_object_prepare_create(k, ns, obj, &e);
    if (rv != 0) {
        api_reply_err(r, &e);
        return;
    }
    if (dry != NULL && dry[0] != '\0') {
        reply_v1(r, 201, obj);
        return;
    }
    name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    rv = api_object_key(k->store_name, ns, name, key, sizeof key, &e);
    if (rv == 0)
        rv = api_object_encode(obj, &value, &len, &e);
    if (rv != 0) {
        api_reply_err(r, &e);
        return;
    }
    cmp = (struct store_cmp){STORE_CMP_ABSENT, key, 0};
    op = (struct store_op){STORE_OP_PUT, key, value, len};
    rv = api_req_propose(r, &txn, on_created, &e);
    free(value);
    if (rv != 0)
        api_reply_err(r, &e);
}

static void h_get(struct api_req *r)
{
    const struct api_kind *k = hpa_kind();
    struct store_kv kv;
    json_t *obj;
    char key[STORE_KEY_MAX + 1];
    struct err e;
    if (api_object_key(k->store_name, r->caps[0], r->caps[1], key, sizeof key, &e) != 0) {
        api_reply_err(r, &e);
        return;
    }
    if (store_get(r->store, key, &kv, &e) != 0) {
        if (e.code == ERR_NOTFOUND)
            api_reply_status(r, 404, "NotFound",
                             "horizontalpodautoscalers.autoscaling \"%s\" not found", r->caps[1]);
        else
            api_reply_err(r, &e);
        return;
    }
    if (api_object_decode(kv.value, kv.value_len, kv.mod_rev, &obj, &e) != 0) {
        store_kv_close(&kv);
        api_reply_err(r, &e);
        return;
    }
    store_kv_close(&kv);
    reply_v1(r, 200, obj);
    json_decref(obj);
}

static const struct api_route create_route = {
    "POST", "/apis/autoscaling/v1/namespaces/{}/horizontalpodautoscalers", API_ROUTE_RAW_BODY,
    h_create};
static const struct api_route get_route = {
    "GET", "/apis/autoscaling/v1/namespaces/{}/horizontalpodautoscalers/{}", 0, h_get};

int api__hpa_v1_routes_add(struct api *a, struct err *e)
{
    int rv = api_route_add(a, &create_route, e);
    if (rv == 0)
        rv = api_route_add(a, &get_route, e);
    return rv;
}
