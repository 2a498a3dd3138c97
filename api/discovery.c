/* Discovery: the documents kubectl reads before any verb to map "cm" or
 * "nodes" to a URL. /api (APIVersions), /api/v1 (APIResourceList), /apis
 * (APIGroupList, no groups yet).
 *
 * kubectl >= 1.26 first asks for the aggregated form (Accept: application/
 * json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList, ...,
 * application/json). We always answer the plain documents with Content-Type
 * application/json: client-go looks at the Content-Type, sees no
 * aggregated form and falls back to the legacy per-version walk, which is
 * two small requests here. Serving the aggregated form would only save them. */
#include "api/internal.h"

#include <string.h>

struct resource {
    const char *name, *singular, *kind, *short_name;
    bool namespaced;
    const char *const *verbs;
};

/* Keep in step with api/routes.c: advertise only verbs that have a route,
 * or kubectl offers commands that end in 404/405. */
static const char *const cm_verbs[] = {"create", "delete", "get", "list", "update", "watch", NULL};
static const char *const node_verbs[] = {"get", "list", "watch", NULL};

static const struct resource core_v1[] = {
    {"configmaps", "configmap", "ConfigMap", "cm", true, cm_verbs},
    {"nodes", "node", "Node", "no", false, node_verbs},
};

static json_t *resource_json(const struct resource *res)
{
    json_t *verbs = json_array();
    size_t i;
    for (i = 0; verbs != NULL && res->verbs[i] != NULL; i++)
        json_array_append_new(verbs, json_string(res->verbs[i]));
    return json_pack("{s:s, s:s, s:b, s:s, s:o, s:[s]}", "name", res->name, "singularName",
                     res->singular, "namespaced", res->namespaced, "kind", res->kind, "verbs",
                     verbs, "shortNames", res->short_name);
}

void api__h_api_versions(struct api_req *r)
{
    /* serverAddressByClientCIDRs left out: optional, and a node listening on
     * 0.0.0.0 does not know which of its addresses the client used */
    api_reply_json(r, 200, json_pack("{s:s, s:[s]}", "kind", "APIVersions", "versions", "v1"));
}

void api__h_api_v1(struct api_req *r)
{
    json_t *list = json_array(), *out;
    size_t i;
    for (i = 0; list != NULL && i < sizeof core_v1 / sizeof core_v1[0]; i++)
        json_array_append_new(list, resource_json(&core_v1[i]));
    out = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                    "groupVersion", "v1", "resources", list);
    if (out == NULL) {
        api_reply_error(r, ERR_NOMEM, "discovery: out of memory");
        return;
    }
    api_reply_json(r, 200, out);
}

void api__h_apis(struct api_req *r)
{
    api_reply_json(
        r, 200,
        json_pack("{s:s, s:s, s:[]}", "kind", "APIGroupList", "apiVersion", "v1", "groups"));
}
