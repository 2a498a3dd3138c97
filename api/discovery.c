/* Discovery: the documents kubectl reads before any verb to map "deploy"
 * or "po" to a URL, generated from the kinds table (api/kinds.c).
 *
 * Legacy form: /api (APIVersions), /api/v1 and /apis/<g>/<v>
 * (APIResourceList), /apis (APIGroupList), /apis/<g> (APIGroup).
 * Aggregated form (apidiscovery.k8s.io v2 and v2beta1), which kubectl >=
 * 1.26 asks for first on /api and /apis: one document with every resource,
 * so a cold kubectl needs two requests instead of one per group version. */
#include "api/internal.h"
#include "api/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const verbs_all[] = {"create", "delete", "get",   "list",
                                        "patch",  "update", "watch", NULL};
static const char *const verbs_sub[] = {"get", "patch", "update", NULL};

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (; a != NULL && *v != NULL; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *short_names(const struct api_kind *k)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < 3 && k->short_names[i] != NULL; i++)
        json_array_append_new(a, json_string(k->short_names[i]));
    return a;
}

/* APIResource entries (with status/scale subresources) of one group version */
static json_t *resource_list(const char *group, const char *version)
{
    size_t n, i;
    const struct api_kind *ks = api_kinds(&n);
    json_t *list = json_array();
    char name[128];
    for (i = 0; list != NULL && i < n; i++) {
        const struct api_kind *k = &ks[i];
        json_t *res;
        if (strcmp(k->group, group) != 0 || strcmp(k->version, version) != 0)
            continue;
        res =
            json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", k->resource, "singularName", k->singular,
                      "namespaced", k->namespaced, "kind", k->kind, "verbs", strings(verbs_all));
        if (res == NULL)
            continue;
        if (k->short_names[0] != NULL)
            json_object_set_new(res, "shortNames", short_names(k));
        if (k->in_all)
            json_object_set_new(res, "categories", json_pack("[s]", "all"));
        json_array_append_new(list, res);
        if (k->subresources & API_SUB_STATUS) {
            snprintf(name, sizeof name, "%s/status", k->resource);
            json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name,
                                                  "singularName", "", "namespaced", k->namespaced,
                                                  "kind", k->kind, "verbs", strings(verbs_sub)));
        }
        if (k->subresources & API_SUB_SCALE) {
            snprintf(name, sizeof name, "%s/scale", k->resource);
            json_array_append_new(
                list, json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:o}", "name", name, "singularName",
                                "", "namespaced", k->namespaced, "group", "autoscaling", "version",
                                "v1", "kind", "Scale", "verbs", strings(verbs_sub)));
        }
    }
    return list;
}

/* The distinct non-core groups, in table order (all are v1 today). */
static size_t groups(const char **out, size_t max)
{
    size_t n, i, j, got = 0;
    const struct api_kind *ks = api_kinds(&n);
    for (i = 0; i < n; i++) {
        bool seen = ks[i].group[0] == '\0';
        for (j = 0; j < got && !seen; j++)
            seen = strcmp(out[j], ks[i].group) == 0;
        if (!seen && got < max)
            out[got++] = ks[i].group;
    }
    return got;
}

static const char *group_version(const char *group)
{
    size_t n, i;
    const struct api_kind *ks = api_kinds(&n);
    for (i = 0; i < n; i++)
        if (strcmp(ks[i].group, group) == 0)
            return ks[i].version;
    return NULL;
}

/* ---- aggregated discovery ---- */

/* "v2" or "v2beta1" when accept asks for the aggregated form (v2
 * preferred), else NULL. */
static const char *aggregated_version(const char *accept)
{
    if (accept == NULL || strstr(accept, "as=APIGroupDiscoveryList") == NULL ||
        strstr(accept, "g=apidiscovery.k8s.io") == NULL)
        return NULL;
    if (strstr(accept, "v=v2;") != NULL || strstr(accept, "v=v2,") != NULL)
        return "v2";
    if (strstr(accept, "v=v2beta1") != NULL)
        return "v2beta1";
    return NULL;
}

static json_t *agg_group(const char *group)
{
    size_t n, i;
    const struct api_kind *ks = api_kinds(&n);
    json_t *resources = json_array();
    const char *version = group_version(group);
    for (i = 0; resources != NULL && i < n; i++) {
        const struct api_kind *k = &ks[i];
        json_t *res, *subs;
        if (strcmp(k->group, group) != 0)
            continue;
        subs = json_array();
        res = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", k->resource,
                        "responseKind", "group", k->group, "version", k->version, "kind", k->kind,
                        "scope", k->namespaced ? "Namespaced" : "Cluster", "singularResource",
                        k->singular, "verbs", strings(verbs_all));
        if (res == NULL || subs == NULL) {
            json_decref(res);
            json_decref(subs);
            continue;
        }
        if (k->short_names[0] != NULL)
            json_object_set_new(res, "shortNames", short_names(k));
        if (k->in_all)
            json_object_set_new(res, "categories", json_pack("[s]", "all"));
        if (k->subresources & API_SUB_STATUS)
            json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "subresource",
                                                  "status", "responseKind", "group", k->group,
                                                  "version", k->version, "kind", k->kind, "verbs",
                                                  strings(verbs_sub)));
        if (k->subresources & API_SUB_SCALE)
            json_array_append_new(subs,
                                  json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "subresource", "scale",
                                            "responseKind", "group", "autoscaling", "version", "v1",
                                            "kind", "Scale", "verbs", strings(verbs_sub)));
        if (json_array_size(subs) > 0)
            json_object_set_new(res, "subresources", subs);
        else
            json_decref(subs);
        json_array_append_new(resources, res);
    }
    return json_pack("{s:{s:s}, s:[{s:s, s:o, s:s}]}", "metadata", "name", group, "versions",
                     "version", version ? version : "v1", "resources", resources, "freshness",
                     "Current");
}

/* metrics.k8s.io/v1beta1 (api/h_metrics.c) is no kind of the table: read
 * only, never stored. kubectl top looks for it here before it asks. */
static json_t *agg_metrics_group(void)
{
    return json_pack(
        "{s:{s:s}, s:[{s:s, s:[{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:[s, s]}, {s:s, s:{s:s, s:s, "
        "s:s}, s:s, s:s, s:[s, s]}], s:s}]}",
        "metadata", "name", "metrics.k8s.io", "versions", "version", "v1beta1", "resources",
        "resource", "nodes", "responseKind", "group", "metrics.k8s.io", "version", "v1beta1",
        "kind", "NodeMetrics", "scope", "Cluster", "singularResource", "", "verbs", "get", "list",
        "resource", "pods", "responseKind", "group", "metrics.k8s.io", "version", "v1beta1", "kind",
        "PodMetrics", "scope", "Namespaced", "singularResource", "", "verbs", "get", "list",
        "freshness", "Current");
}

static json_t *legacy_metrics_group(void)
{
    return json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", "metrics.k8s.io", "versions",
                     "groupVersion", "metrics.k8s.io/v1beta1", "version", "v1beta1",
                     "preferredVersion", "groupVersion", "metrics.k8s.io/v1beta1", "version",
                     "v1beta1");
}

/* Answers the aggregated form when asked for it; false when the plain one
 * should be served instead. core: /api (the core group) or /apis (the
 * others). */
static bool reply_aggregated(struct api_req *r, bool core)
{
    const char *v = aggregated_version(r->accept);
    char apiv[64], ct[128];
    json_t *items, *out;
    char *txt;
    if (v == NULL)
        return false;
    items = json_array();
    if (core) {
        json_array_append_new(items, agg_group(""));
    } else {
        const char *gs[16];
        size_t n = groups(gs, 16), i;
        for (i = 0; i < n; i++)
            json_array_append_new(items, agg_group(gs[i]));
        json_array_append_new(items, agg_metrics_group());
    }
    snprintf(apiv, sizeof apiv, "apidiscovery.k8s.io/%s", v);
    out = json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion", apiv,
                    "metadata", "items", items);
    txt = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (txt == NULL) {
        api_reply_error(r, ERR_NOMEM, "discovery: out of memory");
        return true;
    }
    /* client-go recognises the aggregated form by this exact Content-Type */
    snprintf(ct, sizeof ct, "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList",
             v);
    api_reply_raw(r, 200, ct, txt, strlen(txt));
    free(txt);
    return true;
}

/* ---- legacy documents ---- */

void api__h_api_versions(struct api_req *r)
{
    if (reply_aggregated(r, true))
        return;
    /* serverAddressByClientCIDRs left out: optional, and a node listening on
     * 0.0.0.0 does not know which of its addresses the client used */
    api_reply_json(r, 200, json_pack("{s:s, s:[s]}", "kind", "APIVersions", "versions", "v1"));
}

static void reply_resource_list(struct api_req *r, const char *group, const char *version)
{
    char gv[96];
    json_t *out;
    if (group[0] == '\0')
        snprintf(gv, sizeof gv, "%s", version);
    else
        snprintf(gv, sizeof gv, "%s/%s", group, version);
    out = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                    "groupVersion", gv, "resources", resource_list(group, version));
    if (out == NULL) {
        api_reply_error(r, ERR_NOMEM, "discovery: out of memory");
        return;
    }
    api_reply_json(r, 200, out);
}

void api__h_api_v1(struct api_req *r)
{
    reply_resource_list(r, "", "v1");
}

static json_t *group_json(const char *group)
{
    char gv[96];
    const char *v = group_version(group);
    snprintf(gv, sizeof gv, "%s/%s", group, v);
    return json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", group, "versions",
                     "groupVersion", gv, "version", v, "preferredVersion", "groupVersion", gv,
                     "version", v);
}

void api__h_apis(struct api_req *r)
{
    const char *gs[16];
    size_t n, i;
    json_t *list;
    if (reply_aggregated(r, false))
        return;
    n = groups(gs, 16);
    list = json_array();
    for (i = 0; list != NULL && i < n; i++)
        json_array_append_new(list, group_json(gs[i]));
    json_array_append_new(list, legacy_metrics_group());
    api_reply_json(
        r, 200,
        json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", list));
}

void api__h_api_group(struct api_req *r)
{
    json_t *g;
    if (group_version(r->caps[0]) == NULL || r->caps[0][0] == '\0') {
        api_reply_status(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    g = group_json(r->caps[0]);
    json_object_set_new(g, "kind", json_string("APIGroup"));
    json_object_set_new(g, "apiVersion", json_string("v1"));
    api_reply_json(r, 200, g);
}

void api__h_api_group_version(struct api_req *r)
{
    const char *v = group_version(r->caps[0]);
    if (v == NULL || r->caps[0][0] == '\0' || strcmp(v, r->caps[1]) != 0) {
        api_reply_status(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    reply_resource_list(r, r->caps[0], r->caps[1]);
}

/* ---- OpenAPI v3 (documents built by api/openapi.c) ---- */

void api__h_openapi_v3(struct api_req *r)
{
    json_t *root = api__openapi_root();
    if (root == NULL) {
        api_reply_error(r, ERR_NOMEM, "openapi: out of memory");
        return;
    }
    api_reply_json(r, 200, root);
}

void api__h_openapi_v3_doc(struct api_req *r)
{
    char gv[128];
    json_t *doc;
    if (r->n_caps == 2)
        snprintf(gv, sizeof gv, "apis/%s/%s", r->caps[0], r->caps[1]);
    else
        snprintf(gv, sizeof gv, "api/v1");
    doc = api__openapi_doc(gv);
    if (doc == NULL) {
        api_reply_status(r, 404, "NotFound", "the server could not find the requested resource");
        return;
    }
    api_reply_json(r, 200, doc);
}
