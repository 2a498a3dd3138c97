/* api/openapi.c: the OpenAPI v3 documents kubectl 1.29+ reads from
 * /openapi/v3 (field validation support, explain, apply's verifier),
 * rendered from the api_sch tables of api/schema.c in kube-openapi's shapes,
 * so paths, operations and component schemas look as a real apiserver's
 * do. Built fresh on every call (deterministic output, no global state);
 * the caller caches if it wants to. */
#include "api/schema.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_PREFIX  "#/components/schemas/"
#define META        "io.k8s.apimachinery.pkg.apis.meta.v1."
#define STATUS_NAME META "Status"
#define PATCH_NAME  META "Patch"

/* Generation state: the components being filled, and whether any
 * allocation failed (checked once at the end instead of after every
 * jansson call; jansson's *_new setters free the value on failure). */
struct gen {
    json_t *comps;
    bool nomem;
};

static void set(struct gen *g, json_t *o, const char *key, json_t *v)
{
    if (json_object_set_new(o, key, v) != 0)
        g->nomem = true;
}

static void append(struct gen *g, json_t *a, json_t *v)
{
    if (json_array_append_new(a, v) != 0)
        g->nomem = true;
}

static json_t *ref_to(const char *name)
{
    char buf[256];
    snprintf(buf, sizeof buf, REF_PREFIX "%s", name);
    return json_pack("{s:s}", "$ref", buf);
}

/* kube-openapi's form for a property of a named type: $ref cannot carry
 * siblings in OpenAPI 3.0, so it is wrapped in allOf; struct-typed fields
 * get a default of {}. */
static json_t *ref_prop(const struct api_sch *t)
{
    json_t *p = json_pack("{s:[o]}", "allOf", ref_to(t->name));
    if (p != NULL && t->type == API_SCH_OBJECT)
        json_object_set_new(p, "default", json_object());
    return p;
}

static void add_component(struct gen *g, const struct api_sch *s);

/* Where a type is used without a field around it (items,
 * additionalProperties): a bare $ref for named types. */
static json_t *use_json(struct gen *g, const struct api_sch *s);

static bool is_primitive(const struct api_sch *s)
{
    return s->type == API_SCH_STRING || s->type == API_SCH_INTEGER || s->type == API_SCH_NUMBER ||
           s->type == API_SCH_BOOLEAN;
}

static json_t *field_json(struct gen *g, const struct api_sch_field *f)
{
    const struct api_sch *t = f->type;
    json_t *p;
    if (t->name != NULL) {
        add_component(g, t);
        p = ref_prop(t);
    } else {
        p = use_json(g, t);
    }
    if (p == NULL) {
        g->nomem = true;
        return NULL;
    }
    if (f->description != NULL)
        set(g, p, "description", json_string(f->description));
    if (f->merge_key != NULL) {
        set(g, p, "x-kubernetes-patch-merge-key", json_string(f->merge_key));
        if (t->type == API_SCH_ARRAY) {
            set(g, p, "x-kubernetes-list-type", json_string("map"));
            set(g, p, "x-kubernetes-list-map-keys", json_pack("[s]", f->merge_key));
        }
    } else if (t->type == API_SCH_ARRAY && f->patch_strategy != NULL &&
               strstr(f->patch_strategy, "merge") != NULL && is_primitive(t->elem)) {
        set(g, p, "x-kubernetes-list-type", json_string("set"));
    }
    if (f->patch_strategy != NULL)
        set(g, p, "x-kubernetes-patch-strategy", json_string(f->patch_strategy));
    return p;
}

static json_t *object_json(struct gen *g, const struct api_sch *s)
{
    const struct api_sch_field *f;
    json_t *o = json_pack("{s:s}", "type", "object"), *props = json_object(), *req = json_array();
    if (o == NULL || props == NULL || req == NULL) {
        json_decref(o);
        json_decref(props);
        json_decref(req);
        g->nomem = true;
        return NULL;
    }
    for (f = s->fields; f != NULL && f->name != NULL; f++) {
        set(g, props, f->name, field_json(g, f));
        if (f->flags & API_SCH_REQUIRED)
            append(g, req, json_string(f->name));
    }
    set(g, o, "properties", props);
    if (json_array_size(req) > 0)
        set(g, o, "required", req);
    else
        json_decref(req);
    return o;
}

/* The schema of s itself, as its component (named) or inline (unnamed). */
static json_t *body_json(struct gen *g, const struct api_sch *s)
{
    json_t *o = NULL;
    switch (s->type) {
    case API_SCH_OBJECT:
        o = object_json(g, s);
        break;
    case API_SCH_MAP:
        o = json_pack("{s:s, s:o}", "type", "object", "additionalProperties", use_json(g, s->elem));
        break;
    case API_SCH_ARRAY:
        o = json_pack("{s:s, s:o}", "type", "array", "items", use_json(g, s->elem));
        break;
    case API_SCH_STRING:
        o = json_pack("{s:s}", "type", "string");
        break;
    case API_SCH_INTEGER:
        o = json_pack("{s:s}", "type", "integer");
        break;
    case API_SCH_NUMBER:
        o = json_pack("{s:s, s:s}", "type", "number", "format", "double");
        break;
    case API_SCH_BOOLEAN:
        o = json_pack("{s:s}", "type", "boolean");
        break;
    case API_SCH_INT_OR_STRING:
        o = json_pack("{s:b, s:[{s:s}, {s:s}]}", "x-kubernetes-int-or-string", 1, "anyOf", "type",
                      "integer", "type", "string");
        break;
    case API_SCH_QUANTITY:
        o = json_pack("{s:[{s:s}, {s:s}]}", "oneOf", "type", "string", "type", "number");
        break;
    default: /* API_SCH_FREE */
        o = json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
        break;
    }
    if (o == NULL) {
        g->nomem = true;
        return NULL;
    }
    if (s->format != NULL && (s->type == API_SCH_STRING || s->type == API_SCH_INTEGER))
        set(g, o, "format", json_string(s->format));
    if (s->description != NULL)
        set(g, o, "description", json_string(s->description));
    return o;
}

static json_t *use_json(struct gen *g, const struct api_sch *s)
{
    json_t *r;
    if (s->name == NULL)
        return body_json(g, s);
    add_component(g, s);
    r = ref_to(s->name);
    if (r == NULL)
        g->nomem = true;
    return r;
}

static void add_component(struct gen *g, const struct api_sch *s)
{
    json_t *body;
    if (s->name == NULL || json_object_get(g->comps, s->name) != NULL)
        return;
    /* a placeholder first, so a type that (one day) refers to itself stops here */
    set(g, g->comps, s->name, json_object());
    body = body_json(g, s);
    if (body != NULL)
        set(g, g->comps, s->name, body);
}

static void set_gvk_ext(struct gen *g, const char *comp, const char *group, const char *version,
                        const char *kind)
{
    json_t *c = json_object_get(g->comps, comp);
    if (c != NULL)
        set(g, c, "x-kubernetes-group-version-kind",
            json_pack("[{s:s, s:s, s:s}]", "group", group, "kind", kind, "version", version));
}

/* "io.k8s.api.apps.v1.Deployment" -> "io.k8s.api.apps.v1.DeploymentList" */
static void list_name(const struct api_kind *k, const struct api_sch *root, char *buf, size_t size)
{
    const char *dot = strrchr(root->name, '.');
    int plen = dot ? (int)(dot - root->name) + 1 : 0;
    snprintf(buf, size, "%.*s%s", plen, root->name, k->list_kind);
}

static void add_list_component(struct gen *g, const struct api_kind *k, const struct api_sch *root)
{
    char name[160], desc[160];
    json_t *meta;
    list_name(k, root, name, sizeof name);
    snprintf(desc, sizeof desc, "%s is a list of %s objects.", k->list_kind, k->kind);
    add_component(g, &api__sch_list_meta);
    meta = ref_prop(&api__sch_list_meta);
    set(g, g->comps, name,
        json_pack("{s:s, s:s, s:[s], s:{s:{s:s}, s:{s:s, s:o}, s:{s:s}, s:o}}", "type", "object",
                  "description", desc, "required", "items", "properties", "apiVersion", "type",
                  "string", "items", "type", "array", "items", ref_to(root->name), "kind", "type",
                  "string", "metadata", meta));
    set_gvk_ext(g, name, k->group, k->version, k->list_kind);
}

static void add_fixed_components(struct gen *g)
{
    json_t *meta;
    add_component(g, &api__sch_list_meta);
    meta = ref_prop(&api__sch_list_meta);
    set(g, g->comps, STATUS_NAME,
        json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s, s:s}, s:{s:s, s:b}, s:{s:s}, s:{s:s}, s:o, "
                  "s:{s:s}, s:{s:s}}}",
                  "type", "object", "description",
                  "Status is a return value for calls that don't return other objects.",
                  "properties", "apiVersion", "type", "string", "code", "type", "integer", "format",
                  "int32", "details", "type", "object", "x-kubernetes-preserve-unknown-fields", 1,
                  "kind", "type", "string", "message", "type", "string", "metadata", meta, "reason",
                  "type", "string", "status", "type", "string"));
    set_gvk_ext(g, STATUS_NAME, "", "v1", "Status");
    set(g, g->comps, PATCH_NAME,
        json_pack("{s:s, s:s}", "type", "object", "description",
                  "Patch is provided to give a concrete name and type to the Kubernetes PATCH "
                  "request body."));
}

/* ---- paths ---- */

enum { OP_LIST, OP_POST, OP_GET, OP_PUT, OP_PATCH, OP_DELETE };

static const char *const op_verb[] = {"list", "create", "read", "replace", "patch", "delete"};
static const char *const op_action[] = {"list", "post", "get", "put", "patch", "delete"};
static const char *const op_method[] = {"get", "post", "get", "put", "patch", "delete"};

struct param {
    const char *name, *type, *description;
};

static const struct param list_params[] = {
    {"allowWatchBookmarks", "boolean",
     "allowWatchBookmarks requests watch events with type "
     "\"BOOKMARK\"."},
    {"continue", "string",
     "The continue option should be set when retrieving more results from "
     "the server."},
    {"fieldSelector", "string",
     "A selector to restrict the list of returned objects by their "
     "fields."},
    {"labelSelector", "string",
     "A selector to restrict the list of returned objects by their "
     "labels."},
    {"limit", "integer", "limit is a maximum number of responses to return for a list call."},
    {"resourceVersion", "string",
     "resourceVersion sets a constraint on what resource versions a "
     "request may be served from."},
    {"resourceVersionMatch", "string",
     "resourceVersionMatch determines how resourceVersion is "
     "applied to list calls."},
    {"sendInitialEvents", "boolean",
     "sendInitialEvents=true may be set together with "
     "watch=true."},
    {"timeoutSeconds", "integer", "Timeout for the list/watch call."},
    {"watch", "boolean",
     "Watch for changes to the described resources and return them as a "
     "stream of add, update, and remove notifications."},
    {NULL, NULL, NULL},
};

/* post, put and patch: what kubectl's query-param verifier looks for */
static const struct param write_params[] = {
    {"dryRun", "string", "When present, indicates that modifications should not be persisted."},
    {"fieldManager", "string",
     "fieldManager is a name associated with the actor or entity that "
     "is making these changes."},
    {"fieldValidation", "string",
     "fieldValidation instructs the server on how to handle objects "
     "in the request containing unknown or duplicate fields: "
     "Ignore, Warn (the default) or Strict."},
    {NULL, NULL, NULL},
};

static const struct param force_param[] = {
    {"force", "boolean", "Force is going to \"force\" Apply requests."},
    {NULL, NULL, NULL},
};

static const struct param delete_params[] = {
    {"dryRun", "string", "When present, indicates that modifications should not be persisted."},
    {"gracePeriodSeconds", "integer",
     "The duration in seconds before the object should be "
     "deleted."},
    {"propagationPolicy", "string", "Whether and how garbage collection will be performed."},
    {NULL, NULL, NULL},
};

static void add_params(struct gen *g, json_t *arr, const struct param *p)
{
    for (; p->name != NULL; p++)
        append(g, arr,
               json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", p->name, "in", "query",
                         "description", p->description, "schema", "type", p->type, "uniqueItems",
                         1));
}

static void add_path_param(struct gen *g, json_t *arr, const char *name, const char *desc)
{
    append(g, arr,
           json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:b}}", "name", name, "in", "path",
                     "description", desc, "required", 1, "schema", "type", "string", "uniqueItems",
                     1));
}

static json_t *content(const char *ref_name)
{
    return json_pack("{s:{s:o}, s:{s:o}}", "application/json", "schema", ref_to(ref_name),
                     "application/yaml", "schema", ref_to(ref_name));
}

static json_t *responses(int op, const char *ref_name)
{
    json_t *r = json_pack("{s:{s:s, s:o}, s:{s:s}}", "200", "description", "OK", "content",
                          content(ref_name), "401", "description", "Unauthorized");
    if (r == NULL)
        return NULL;
    if (op == OP_POST || op == OP_PUT)
        json_object_set_new(
            r, "201",
            json_pack("{s:s, s:o}", "description", "Created", "content", content(ref_name)));
    if (op == OP_POST || op == OP_DELETE)
        json_object_set_new(
            r, "202",
            json_pack("{s:s, s:o}", "description", "Accepted", "content", content(ref_name)));
    return r;
}

static json_t *request_body(int op, const char *ref_name)
{
    static const char *const patch_types[] = {
        "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
    json_t *c;
    size_t i;
    if (op != OP_PATCH)
        return json_pack("{s:{s:{s:o}}, s:b}", "content", "*/*", "schema", ref_to(ref_name),
                         "required", 1);
    c = json_object();
    for (i = 0; c != NULL && i < sizeof patch_types / sizeof patch_types[0]; i++)
        json_object_set_new(c, patch_types[i], json_pack("{s:o}", "schema", ref_to(PATCH_NAME)));
    return json_pack("{s:o, s:b}", "content", c, "required", 1);
}

/* One resource's path flavour: collection, object, a subresource, or the
 * all-namespaces list. */
struct where {
    const struct api_kind *k;
    const char *sub;     /* NULL, "status" or "scale" */
    bool all_ns;         /* /apis/apps/v1/deployments */
    bool object;         /* .../{name} */
    const char *schema;  /* component the operation reads and writes */
    const char *g_group; /* the operation's GVK (Scale for /scale) */
    const char *g_version;
    const char *g_kind;
};

/* "listAppsV1NamespacedDeployment", "patchCoreV1NodeStatus",
 * "listCoordinationV1LeaseForAllNamespaces" */
static void operation_id(const struct where *w, int op, char *buf, size_t size)
{
    char group[32];
    size_t glen = strcspn(w->k->group, ".");
    if (w->k->group[0] == '\0')
        snprintf(group, sizeof group, "Core");
    else
        snprintf(group, sizeof group, "%c%.*s", w->k->group[0] - 'a' + 'A', (int)glen - 1,
                 w->k->group + 1);
    snprintf(buf, size, "%s%s%c%s%s%s%s%s", op_verb[op], group, w->k->version[0] - 'a' + 'A',
             w->k->version + 1, w->k->namespaced && !w->all_ns ? "Namespaced" : "", w->k->kind,
             w->sub == NULL                  ? ""
             : strcmp(w->sub, "status") == 0 ? "Status"
                                             : "Scale",
             w->all_ns ? "ForAllNamespaces" : "");
}

static json_t *operation(struct gen *g, const struct where *w, int op)
{
    char opid[128];
    json_t *o, *params;
    operation_id(w, op, opid, sizeof opid);
    o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "operationId", opid, "x-kubernetes-action",
                  op_action[op], "x-kubernetes-group-version-kind", "group", w->g_group, "version",
                  w->g_version, "kind", w->g_kind, "responses",
                  responses(op, op == OP_DELETE ? STATUS_NAME : w->schema));
    params = json_array();
    if (o == NULL || params == NULL) {
        json_decref(o);
        json_decref(params);
        g->nomem = true;
        return NULL;
    }
    if (w->object)
        add_path_param(g, params, "name", "name of the resource");
    if (w->k->namespaced && !w->all_ns)
        add_path_param(g, params, "namespace",
                       "object name and auth scope, such as for teams "
                       "and projects");
    append(g, params,
           json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", "pretty", "in", "query",
                     "description", "If 'true', then the output is pretty printed.", "schema",
                     "type", "string", "uniqueItems", 1));
    if (op == OP_LIST)
        add_params(g, params, list_params);
    if (op == OP_POST || op == OP_PUT || op == OP_PATCH)
        add_params(g, params, write_params);
    if (op == OP_PATCH)
        add_params(g, params, force_param);
    if (op == OP_DELETE)
        add_params(g, params, delete_params);
    set(g, o, "parameters", params);
    if (op == OP_POST || op == OP_PUT || op == OP_PATCH)
        set(g, o, "requestBody", request_body(op, w->schema));
    return o;
}

static void add_path(struct gen *g, json_t *paths, const char *url, const struct where *w,
                     const int *ops, size_t n_ops)
{
    json_t *item = json_object();
    size_t i;
    for (i = 0; item != NULL && i < n_ops; i++)
        set(g, item, op_method[ops[i]], operation(g, w, ops[i]));
    set(g, paths, url, item);
}

static void add_kind_paths(struct gen *g, json_t *paths, const struct api_kind *k,
                           const char *root_name, const char *list_comp)
{
    static const int coll_ops[] = {OP_LIST, OP_POST};
    static const int obj_ops[] = {OP_GET, OP_PUT, OP_PATCH, OP_DELETE};
    static const int sub_ops[] = {OP_GET, OP_PUT, OP_PATCH};
    static const int list_only[] = {OP_LIST};
    char base[96], coll[192], url[256];
    struct where w = {k, NULL, false, false, list_comp, k->group, k->version, k->kind};
    if (k->group[0] == '\0')
        snprintf(base, sizeof base, "/api/%s", k->version);
    else
        snprintf(base, sizeof base, "/apis/%s/%s", k->group, k->version);
    if (k->namespaced)
        snprintf(coll, sizeof coll, "%s/namespaces/{namespace}/%s", base, k->resource);
    else
        snprintf(coll, sizeof coll, "%s/%s", base, k->resource);
    /* the list operation returns the List kind, create takes and returns the kind */
    add_path(g, paths, coll, &w, list_only, 1);
    w.schema = root_name;
    set(g, json_object_get(paths, coll), "post", operation(g, &w, OP_POST));
    w.object = true;
    snprintf(url, sizeof url, "%s/{name}", coll);
    add_path(g, paths, url, &w, obj_ops, 4);
    if (k->subresources & API_SUB_STATUS) {
        w.sub = "status";
        snprintf(url, sizeof url, "%s/{name}/status", coll);
        add_path(g, paths, url, &w, sub_ops, 3);
    }
    if (k->subresources & API_SUB_SCALE) {
        struct where s = {k,    "scale", false, true, api__sch_scale.name, "autoscaling",
                          "v1", "Scale"};
        snprintf(url, sizeof url, "%s/{name}/scale", coll);
        add_path(g, paths, url, &s, sub_ops, 3);
    }
    if (k->namespaced) {
        struct where a = {k, NULL, true, false, list_comp, k->group, k->version, k->kind};
        snprintf(url, sizeof url, "%s/%s", base, k->resource);
        add_path(g, paths, url, &a, coll_ops, 1);
    }
}

/* "api/v1" -> ("", "v1"); "apis/apps/v1" -> ("apps", "v1"). false when gv
 * has neither shape. */
static bool parse_gv(const char *gv, char *group, size_t gsize, const char **version)
{
    const char *slash;
    if (strncmp(gv, "api/", 4) == 0) {
        group[0] = '\0';
        *version = gv + 4;
        return strchr(*version, '/') == NULL && (*version)[0] != '\0';
    }
    if (strncmp(gv, "apis/", 5) != 0)
        return false;
    gv += 5;
    slash = strchr(gv, '/');
    if (slash == NULL || slash == gv || (size_t)(slash - gv) >= gsize)
        return false;
    snprintf(group, gsize, "%.*s", (int)(slash - gv), gv);
    *version = slash + 1;
    return strchr(*version, '/') == NULL && (*version)[0] != '\0';
}

json_t *api__openapi_doc(const char *gv)
{
    const struct api_kind *kinds;
    size_t n, i, found = 0;
    char group[64];
    const char *version;
    struct gen g = {NULL, false};
    json_t *doc, *paths;
    if (gv == NULL || !parse_gv(gv, group, sizeof group, &version))
        return NULL;
    kinds = api_kinds(&n);
    for (i = 0; i < n; i++)
        if (strcmp(kinds[i].group, group) == 0 && strcmp(kinds[i].version, version) == 0 &&
            api__sch_kind(&kinds[i]) != NULL)
            found++;
    if (found == 0)
        return NULL;
    g.comps = json_object();
    paths = json_object();
    doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
                    "Kubernetes", "version", "v1.29.0-skiff", "paths", paths, "components",
                    "schemas", g.comps);
    if (doc == NULL)
        return NULL; /* json_pack's "o" took both references and freed them */
    add_fixed_components(&g);
    for (i = 0; i < n; i++) {
        const struct api_kind *k = &kinds[i];
        const struct api_sch *root = api__sch_kind(k);
        char lname[160];
        if (root == NULL || strcmp(k->group, group) != 0 || strcmp(k->version, version) != 0)
            continue;
        add_component(&g, root);
        set_gvk_ext(&g, root->name, k->group, k->version, k->kind);
        add_list_component(&g, k, root);
        list_name(k, root, lname, sizeof lname);
        if (k->subresources & API_SUB_SCALE) {
            add_component(&g, &api__sch_scale);
            set_gvk_ext(&g, api__sch_scale.name, "autoscaling", "v1", "Scale");
        }
        add_kind_paths(&g, paths, k, root->name, lname);
    }
    if (g.nomem) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* kube-openapi's hash: upper-case hex SHA-512 of the document. Keys are
 * sorted so the hash does not depend on insertion order. */
static int doc_hash(const json_t *doc, char *hex, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    int ok;
    if (s == NULL)
        return -1;
    ok = EVP_Digest(s, strlen(s), md, &len, EVP_sha512(), NULL);
    free(s);
    if (!ok || size < 2 * (size_t)len + 1)
        return -1;
    for (i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02X", md[i]);
    return 0;
}

json_t *api__openapi_root(void)
{
    const struct api_kind *kinds;
    size_t n, i;
    json_t *root, *paths = json_object();
    root = json_pack("{s:o}", "paths", paths);
    if (root == NULL)
        return NULL;
    kinds = api_kinds(&n);
    for (i = 0; i < n; i++) {
        char gv[96], url[384], hex[2 * EVP_MAX_MD_SIZE + 1];
        json_t *doc;
        if (kinds[i].group[0] == '\0')
            snprintf(gv, sizeof gv, "api/%s", kinds[i].version);
        else
            snprintf(gv, sizeof gv, "apis/%s/%s", kinds[i].group, kinds[i].version);
        if (json_object_get(paths, gv) != NULL)
            continue;
        doc = api__openapi_doc(gv);
        if (doc == NULL)
            continue; /* a kind without a schema: nothing to serve for it */
        if (doc_hash(doc, hex, sizeof hex) != 0 ||
            json_object_set_new(paths, gv, json_object()) != 0) {
            json_decref(doc);
            json_decref(root);
            return NULL;
        }
        json_decref(doc);
        snprintf(url, sizeof url, "/openapi/v3/%s?hash=%s", gv, hex);
        if (json_object_set_new(json_object_get(paths, gv), "serverRelativeURL",
                                json_string(url)) != 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}
