/* Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for
 * (Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...). kubectl
 * prints the columns it is given, so the server decides NAME/DATA/AGE for
 * ConfigMaps and NAME/STATUS/ROLES/AGE for Nodes, as the apiserver's
 * printers do. Without a Table kubectl falls back to NAME and AGE only. */
#include "api/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One media range of an Accept header: "application/json;as=Table;v=v1;
 * g=meta.k8s.io", parameters in any order, optional spaces. */
static bool range_is_table_v1(const char *s, size_t n)
{
    bool as = false, v = false, g = false, json = false;
    size_t i = 0;
    while (i < n) {
        size_t end = i, len;
        const char *p;
        while (end < n && s[end] != ';')
            end++;
        p = s + i;
        len = end - i;
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (i == 0)
            json = len == 16 && strncasecmp(p, "application/json", 16) == 0;
        else if (len == 8 && strncmp(p, "as=Table", 8) == 0)
            as = true;
        else if (len == 4 && strncmp(p, "v=v1", 4) == 0)
            v = true;
        else if (len == 13 && strncmp(p, "g=meta.k8s.io", 13) == 0)
            g = true;
        i = end + 1;
    }
    return json && as && v && g;
}

bool api__accept_table(const char *accept)
{
    const char *s = accept;
    if (s == NULL)
        return false;
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (range_is_table_v1(s, n))
            return true;
        s += n;
        if (*s == ',')
            s++;
    }
    return false;
}

static json_t *column(const char *name, const char *type, const char *format, int priority,
                      const char *description)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format", format,
                     "description", description, "priority", priority);
}

static json_t *cm_columns(void)
{
    return json_pack("[o, o, o]",
                     column("Name", "string", "name", 0, "Name must be unique within a namespace."),
                     column("Data", "integer", "", 0, "Number of entries in data and binaryData."),
                     column("Age", "string", "", 0, "Time since creationTimestamp."));
}

static json_t *node_columns(void)
{
    return json_pack("[o, o, o, o, o]", column("Name", "string", "name", 0, "Name must be unique."),
                     column("Status", "string", "", 0, "The Ready condition of the node."),
                     column("Roles", "string", "", 0, "The roles of the node."),
                     column("Age", "string", "", 0, "Time since creationTimestamp."),
                     column("Internal-IP", "string", "", 1, "The node's InternalIP address."));
}

static const char *meta_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
    return s ? s : "";
}

static json_t *cm_cells(const json_t *cm, const char *age)
{
    size_t n = json_object_size(json_object_get(cm, "data")) +
               json_object_size(json_object_get(cm, "binaryData"));
    return json_pack("[s, I, s]", meta_str(cm, "name"), (json_int_t)n, age);
}

static const char *node_ready(const json_t *node)
{
    const json_t *conds = json_object_get(json_object_get(node, "status"), "conditions"), *c;
    size_t i;
    json_array_foreach (conds, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (type == NULL || strcmp(type, "Ready") != 0)
            continue;
        if (st != NULL && strcmp(st, "True") == 0)
            return "Ready";
        if (st != NULL && strcmp(st, "False") == 0)
            return "NotReady";
        break;
    }
    return "Unknown";
}

/* kubectl's rule: node-role.kubernetes.io/<role> labels, or the
 * kubernetes.io/role label; "<none>" without either. */
static void node_roles(const json_t *node, char *buf, size_t size)
{
    static const char pfx[] = "node-role.kubernetes.io/";
    const json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels"), *v;
    const char *k;
    size_t used = 0;

    buf[0] = '\0';
    json_object_foreach ((json_t *)labels, k, v) {
        const char *role = NULL;
        int n;
        if (strncmp(k, pfx, sizeof pfx - 1) == 0 && k[sizeof pfx - 1] != '\0')
            role = k + sizeof pfx - 1;
        else if (strcmp(k, "kubernetes.io/role") == 0 && json_string_length(v) > 0)
            role = json_string_value(v);
        if (role == NULL)
            continue;
        n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", role);
        if (n < 0 || (size_t)n >= size - used)
            break; /* truncated: what fits is still a fair column */
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, size, "<none>");
}

static const char *node_internal_ip(const json_t *node)
{
    const json_t *addrs = json_object_get(json_object_get(node, "status"), "addresses"), *a;
    size_t i;
    json_array_foreach (addrs, i, a) {
        const char *type = json_string_value(json_object_get(a, "type"));
        if (type != NULL && strcmp(type, "InternalIP") == 0 &&
            json_string_value(json_object_get(a, "address")) != NULL)
            return json_string_value(json_object_get(a, "address"));
    }
    return "<none>";
}

static json_t *node_cells(const json_t *node, const char *age)
{
    char roles[256], status[64];
    snprintf(status, sizeof status, "%s%s", node_ready(node),
             json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"))
                 ? ",SchedulingDisabled"
                 : "");
    node_roles(node, roles, sizeof roles);
    return json_pack("[s, s, s, s, s]", meta_str(node, "name"), status, roles, age,
                     node_internal_ip(node));
}

/* rows[].object as the apiserver's ?includeObject= says: Metadata (the
 * default: a PartialObjectMetadata), Object, or None. */
static json_t *row_object(const json_t *obj, const char *include)
{
    if (include != NULL && strcmp(include, "None") == 0)
        return NULL;
    if (include != NULL && strcmp(include, "Object") == 0)
        return json_deep_copy(obj);
    return json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                     "meta.k8s.io/v1", "metadata", json_object_get(obj, "metadata"));
}

int api__table_build(const char *kind, const json_t *items, json_t *list_meta, const char *include,
                     json_t **out, struct err *e)
{
    bool node = strcmp(kind, "Node") == 0;
    json_t *rows = json_array(), *obj, *table;
    size_t i;

    if (rows == NULL)
        return err_setf(e, ERR_NOMEM, "table: out of memory");
    json_array_foreach (items, i, obj) {
        char age[32];
        json_t *row, *ro;
        api_age_format(meta_str(obj, "creationTimestamp"), age, sizeof age);
        row = json_pack("{s:o}", "cells", node ? node_cells(obj, age) : cm_cells(obj, age));
        ro = row_object(obj, include);
        if (row != NULL && ro != NULL)
            json_object_set_new(row, "object", ro);
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            return err_setf(e, ERR_NOMEM, "table: out of memory");
        }
    }
    table = json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
                      "metadata", list_meta ? json_incref(list_meta) : json_object(),
                      "columnDefinitions", node ? node_columns() : cm_columns(), "rows", rows);
    if (table == NULL)
        return err_setf(e, ERR_NOMEM, "table: out of memory");
    *out = table;
    return 0;
}
