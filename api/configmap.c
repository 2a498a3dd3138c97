/* ConfigMap validation, with the apiserver's messages so that what users see
 * matches the Kubernetes documentation they search for. */
#include "api/internal.h"

#include <ctype.h>
#include <string.h>

static const char *const top_fields[] = {"kind",       "apiVersion", "metadata", "data",
                                         "binaryData", "immutable",  NULL};
static const char *const meta_fields[] = {"name",       "generateName",    "namespace",
                                          "uid",        "resourceVersion", "creationTimestamp",
                                          "labels",     "annotations",     "ownerReferences",
                                          "finalizers", "generation",      "managedFields",
                                          NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static bool config_key_ok(const char *k)
{
    size_t n = strlen(k), i;
    if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
        return false;
    for (i = 0; i < n; i++)
        if (!(isalnum((unsigned char)k[i]) || k[i] == '-' || k[i] == '_' || k[i] == '.'))
            return false;
    return true;
}

static int string_map(const json_t *m, const char *field, const char *name, bool config_keys,
                      struct err *e)
{
    const char *k;
    json_t *v;
    if (m == NULL || json_is_null(m))
        return 0;
    if (!json_is_object(m))
        return err_setf(e, ERR_INVALID,
                        "ConfigMap \"%s\" is invalid: %s: Invalid value: must be an object of "
                        "strings",
                        name, field);
    json_object_foreach ((json_t *)m, k, v) {
        if (!json_is_string(v))
            return err_setf(e, ERR_INVALID,
                            "ConfigMap \"%s\" is invalid: %s[%s]: Invalid value: must be a string",
                            name, field, k);
        if (config_keys && !config_key_ok(k))
            return err_setf(e, ERR_INVALID,
                            "ConfigMap \"%s\" is invalid: %s[%s]: Invalid value: \"%s\": a valid "
                            "config key must consist of alphanumeric characters, '-', '_' or '.' "
                            "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                            "validation is '[-._a-zA-Z0-9]+')",
                            name, field, k, k);
    }
    return 0;
}

static int shape(const json_t *obj, bool *bad_request, struct err *e)
{
    const char *k;
    json_t *v, *meta;
    const char *kind, *apiv;

    *bad_request = true;
    if (!json_is_object(obj))
        return err_setf(e, ERR_INVALID, "body: must be a JSON object");
    json_object_foreach ((json_t *)obj, k, v) {
        if (!in_list(top_fields, k))
            return err_setf(e, ERR_INVALID,
                            "ConfigMap in version \"v1\" cannot be handled: "
                            "strict decoding error: unknown field \"%s\"",
                            k);
    }
    kind = json_string_value(json_object_get(obj, "kind"));
    apiv = json_string_value(json_object_get(obj, "apiVersion"));
    if (json_object_get(obj, "kind") != NULL && (kind == NULL || strcmp(kind, "ConfigMap") != 0))
        return err_setf(e, ERR_INVALID,
                        "kind: the kind in the data (%s) does not match the expected kind "
                        "(ConfigMap)",
                        kind ? kind : "?");
    if (json_object_get(obj, "apiVersion") != NULL && (apiv == NULL || strcmp(apiv, "v1") != 0))
        return err_setf(e, ERR_INVALID,
                        "apiVersion: the API version in the data (%s) does not match the "
                        "expected API version (v1)",
                        apiv ? apiv : "?");
    meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta))
        return err_setf(e, ERR_INVALID, "metadata: required object");
    json_object_foreach (meta, k, v) {
        if (!in_list(meta_fields, k))
            return err_setf(e, ERR_INVALID,
                            "ConfigMap in version \"v1\" cannot be handled: "
                            "strict decoding error: unknown field \"metadata.%s\"",
                            k);
    }
    *bad_request = false;
    return 0;
}

int api__configmap_validate(const json_t *obj, const char *url_ns, const char *url_name,
                            bool *bad_request, struct err *e)
{
    json_t *meta, *jname, *jgen, *jns, *jrv, *imm;
    const char *name, *msg;
    int rv = shape(obj, bad_request, e);
    if (rv != 0)
        return rv;
    meta = json_object_get(obj, "metadata");
    jname = json_object_get(meta, "name");
    jgen = json_object_get(meta, "generateName");
    jns = json_object_get(meta, "namespace");
    jrv = json_object_get(meta, "resourceVersion");
    name = json_is_string(jname) ? json_string_value(jname) : "";

    if (jname != NULL && !json_is_string(jname))
        return err_setf(
            e, ERR_INVALID,
            "ConfigMap \"\" is invalid: metadata.name: Invalid value: must be a string");
    if (jgen != NULL && !json_is_string(jgen))
        return err_setf(e, ERR_INVALID,
                        "ConfigMap \"%s\" is invalid: metadata.generateName: "
                        "Invalid value: must be a string",
                        name);
    if (url_name != NULL && strcmp(name, url_name) != 0) {
        *bad_request = true;
        return err_setf(e, ERR_INVALID,
                        "the name of the object (%s) does not match the name on the URL (%s)", name,
                        url_name);
    }
    if (name[0] == '\0' && (url_name != NULL || json_string_length(jgen) == 0))
        return err_setf(e, ERR_INVALID,
                        "ConfigMap \"\" is invalid: metadata.name: Required "
                        "value: name or generateName is required");
    if (name[0] != '\0' && (msg = api__dns1123_subdomain_error(name)) != NULL)
        return err_setf(
            e, ERR_INVALID,
            /* %.63s: struct err holds 256 bytes and the reason must survive */
            "ConfigMap \"%.63s\" is invalid: metadata.name: Invalid value: \"%.63s\": %s", name,
            name, msg);
    if (name[0] == '\0' && (msg = api__dns1123_subdomain_error(json_string_value(jgen))) != NULL &&
        strchr(json_string_value(jgen), '_') != NULL) /* a trailing '-' is normal: "web-" */
        return err_setf(e, ERR_INVALID,
                        "ConfigMap \"\" is invalid: metadata.generateName: Invalid value: "
                        "\"%s\": %s",
                        json_string_value(jgen), msg);
    if ((msg = api__dns1123_label_error(url_ns)) != NULL)
        return err_setf(
            e, ERR_INVALID,
            "ConfigMap \"%s\" is invalid: metadata.namespace: Invalid value: \"%s\": %s", name,
            url_ns, msg);
    if (jns != NULL && (!json_is_string(jns) || strcmp(json_string_value(jns), url_ns) != 0)) {
        *bad_request = true;
        return err_setf(e, ERR_INVALID,
                        "the namespace of the provided object does not match "
                        "the namespace sent on the request");
    }
    if (jrv != NULL && !json_is_string(jrv))
        return err_setf(e, ERR_INVALID,
                        "ConfigMap \"%s\" is invalid: metadata.resourceVersion: "
                        "Invalid value: must be a string",
                        name);
    rv = string_map(json_object_get(meta, "labels"), "metadata.labels", name, false, e);
    if (rv == 0)
        rv = string_map(json_object_get(meta, "annotations"), "metadata.annotations", name, false,
                        e);
    if (rv == 0)
        rv = string_map(json_object_get(obj, "data"), "data", name, true, e);
    if (rv == 0)
        rv = string_map(json_object_get(obj, "binaryData"), "binaryData", name, true, e);
    if (rv != 0)
        return rv;
    imm = json_object_get(obj, "immutable");
    if (imm != NULL && !json_is_boolean(imm) && !json_is_null(imm))
        return err_setf(e, ERR_INVALID,
                        "ConfigMap \"%s\" is invalid: immutable: Invalid value: must be a boolean",
                        name);
    return 0;
}
