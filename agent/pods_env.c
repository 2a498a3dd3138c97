/* agent/pods_env: a container's environment as kubelet makes it (envFrom,
 * then env with valueFrom resolved from Secrets, ConfigMaps, the pod's own
 * fields and its resources). $(VAR) expansion of plain values is left to
 * the bundle (agent__bundle_config), which sees the whole list. */
#include "agent/pods.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

int agent__b64_decode(const char *in, char **out, size_t *n, struct err *e)
{
    size_t len = strlen(in), pad = 0;
    unsigned char *buf;
    int got;

    *out = NULL;
    *n = 0;
    if (len % 4 != 0)
        return err_setf(e, ERR_INVALID, "illegal base64 data: length %zu", len);
    buf = malloc(len / 4 * 3 + 1);
    if (buf == NULL)
        return err_setf(e, ERR_NOMEM, "base64: out of memory");
    got = len ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len) : 0;
    if (got < 0) {
        free(buf);
        return err_setf(e, ERR_INVALID, "illegal base64 data");
    }
    /* EVP_DecodeBlock counts padding as zero bytes */
    if (len >= 1 && in[len - 1] == '=')
        pad++;
    if (len >= 2 && in[len - 2] == '=')
        pad++;
    buf[got - pad] = '\0';
    *out = (char *)buf;
    *n = (size_t)got - pad;
    return 0;
}

void agent__envset_close(struct agent__envset *s)
{
    size_t i;
    for (i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Keeps str (owned) and returns it; NULL on ENOMEM (str freed). */
static char *own(struct agent__envset *s, char *str)
{
    if (str == NULL)
        return NULL;
    if (s->n_owned == s->cap_owned) {
        size_t cap = s->cap_owned ? s->cap_owned * 2 : 16;
        char **v = realloc(s->owned, cap * sizeof *v);
        if (v == NULL) {
            free(str);
            return NULL;
        }
        s->owned = v;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = str;
    return str;
}

static int add(struct agent__envset *s, const char *name, size_t name_len, const char *value,
               size_t value_len, bool verbatim, struct err *e)
{
    char *n = own(s, strndup(name, name_len)), *v;
    if (n == NULL)
        return err_setf(e, ERR_NOMEM, "env: out of memory");
    v = own(s, strndup(value, value_len));
    if (v == NULL)
        return err_setf(e, ERR_NOMEM, "env: out of memory");
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct agent__env *nv = realloc(s->v, cap * sizeof *nv);
        if (nv == NULL)
            return err_setf(e, ERR_NOMEM, "env: out of memory");
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (struct agent__env){n, v, verbatim};
    return 0;
}

/* kubelet skips envFrom keys that are not C identifiers (with '-' and '.'
 * allowed since 1.22, but never a leading digit) */
static bool env_name_ok(const char *k)
{
    if (*k == '\0' || isdigit((unsigned char)*k))
        return false;
    for (; *k; k++)
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-' && *k != '.')
            return false;
    return true;
}

static const char *kind_lower(const char *kind)
{
    return strcmp(kind, "Secret") == 0 ? "secret" : "configmap";
}

/* The value of key in a Secret (base64 data) or ConfigMap (data, then
 * binaryData). *val owned. ERR_NOTFOUND when the key is absent. */
static int obj_value(const json_t *obj, const char *kind, const char *key, char **val, size_t *n,
                     struct err *e)
{
    const json_t *v;
    *val = NULL;
    if (strcmp(kind, "Secret") == 0) {
        v = json_object_get(json_object_get(obj, "data"), key);
        if (!json_is_string(v))
            return ERR_NOTFOUND;
        return agent__b64_decode(json_string_value(v), val, n, e);
    }
    v = json_object_get(json_object_get(obj, "data"), key);
    if (json_is_string(v)) {
        *val = strdup(json_string_value(v));
        *n = json_string_length(v);
        return *val ? 0 : err_setf(e, ERR_NOMEM, "env: out of memory");
    }
    v = json_object_get(json_object_get(obj, "binaryData"), key);
    if (json_is_string(v))
        return agent__b64_decode(json_string_value(v), val, n, e);
    return ERR_NOTFOUND;
}

static const json_t *lookup_obj(agent_pods_lookup_cb lookup, void *data, const char *kind,
                                const char *ns, const char *name)
{
    return lookup && name ? lookup(data, kind, ns, name) : NULL;
}

static int env_from(const json_t *pod, const json_t *ef, const char *field,
                    agent_pods_lookup_cb lookup, void *ld, struct agent__envset *s, struct err *e)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
    const json_t *ref = json_object_get(ef, "secretRef");
    const char *kind = "Secret", *prefix = json_string_value(json_object_get(ef, "prefix"));
    const char *name, *k;
    const json_t *obj, *v;
    int rv;

    if (ref == NULL) {
        ref = json_object_get(ef, "configMapRef");
        kind = "ConfigMap";
    }
    name = json_string_value(json_object_get(ref, "name"));
    if (name == NULL)
        return err_setf(e, ERR_INVALID, "%s: secretRef or configMapRef with a name required",
                        field);
    obj = lookup_obj(lookup, ld, kind, ns ? ns : "default", name);
    if (obj == NULL) {
        if (json_is_true(json_object_get(ref, "optional")))
            return 0;
        return err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", kind_lower(kind), name);
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *map = pass == 0 ? "data" : "binaryData";
        if (pass == 1 && strcmp(kind, "Secret") == 0)
            break;
        json_object_foreach ((json_t *)json_object_get(obj, map), k, v) {
            char full[512], *val;
            size_t n;
            snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", k);
            if (!env_name_ok(full))
                continue;
            if ((rv = obj_value(obj, kind, k, &val, &n, e)) != 0)
                return rv == ERR_NOTFOUND
                           ? 0
                           : err_wrapf(e, "%s \"%s\": %s", kind_lower(kind), name, k);
            rv = add(s, full, strlen(full), val, n, true, e);
            free(val);
            if (rv != 0)
                return rv;
        }
    }
    return 0;
}

/* metadata.labels['k'] and annotations['k'] */
static const char *subscript(const json_t *pod, const char *path, const char *map)
{
    size_t ml = strlen(map);
    const char *k;
    char key[256];
    size_t kl;
    if (strncmp(path, map, ml) != 0 || strncmp(path + ml, "['", 2) != 0)
        return NULL;
    k = path + ml + 2;
    kl = strlen(k);
    if (kl < 2 || strcmp(k + kl - 2, "']") != 0 || kl - 2 >= sizeof key)
        return NULL;
    snprintf(key, sizeof key, "%.*s", (int)(kl - 2), k);
    return json_string_value(
        json_object_get(json_object_get(json_object_get(pod, "metadata"), map + 9), key));
}

static int field_ref(const json_t *pod, const json_t *ref, const char *field, const char *pod_ip,
                     const char *host_ip, const char **out, struct err *e)
{
    const char *path = json_string_value(json_object_get(ref, "fieldPath"));
    const json_t *md = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
    const char *v = NULL;
    if (path == NULL)
        return err_setf(e, ERR_INVALID, "%s.fieldPath: required", field);
    if (strcmp(path, "metadata.name") == 0)
        v = json_string_value(json_object_get(md, "name"));
    else if (strcmp(path, "metadata.namespace") == 0)
        v = json_string_value(json_object_get(md, "namespace"));
    else if (strcmp(path, "metadata.uid") == 0)
        v = json_string_value(json_object_get(md, "uid"));
    else if (strcmp(path, "spec.nodeName") == 0)
        v = json_string_value(json_object_get(spec, "nodeName"));
    else if (strcmp(path, "spec.serviceAccountName") == 0)
        v = json_string_value(json_object_get(spec, "serviceAccountName"));
    else if (strcmp(path, "status.podIP") == 0 || strcmp(path, "status.podIPs") == 0)
        v = pod_ip ? pod_ip : "";
    else if (strcmp(path, "status.hostIP") == 0 || strcmp(path, "status.hostIPs") == 0)
        v = host_ip ? host_ip : "";
    else if (strncmp(path, "metadata.labels", 15) == 0 ||
             strncmp(path, "metadata.annotations", 20) == 0) {
        v = subscript(pod, path, path[9] == 'l' ? "metadata.labels" : "metadata.annotations");
        if (v == NULL && strchr(path, '[') == NULL)
            return err_setf(e, ERR_INVALID, "%s.fieldPath: %s: whole maps are for volumes only",
                            field, path);
    } else {
        return err_setf(e, ERR_INVALID, "%s.fieldPath: unsupported value \"%s\"", field, path);
    }
    *out = v ? v : "";
    return 0;
}

static int resource_ref(const json_t *container, const json_t *ref, const char *field, char *buf,
                        size_t cap, struct err *e)
{
    const char *res = json_string_value(json_object_get(ref, "resource"));
    const json_t *div = json_object_get(ref, "divisor");
    const char *dot = res ? strchr(res, '.') : NULL;
    const json_t *q;
    int64_t v = 0, d = 1;
    char f[160];
    bool cpu;
    int rv;

    if (res == NULL || dot == NULL ||
        (strncmp(res, "limits.", 7) != 0 && strncmp(res, "requests.", 9) != 0))
        return err_setf(e, ERR_INVALID, "%s.resource: unsupported value \"%s\"", field,
                        res ? res : "");
    cpu = strcmp(dot + 1, "cpu") == 0;
    if (!cpu && strcmp(dot + 1, "memory") != 0 && strcmp(dot + 1, "ephemeral-storage") != 0)
        return err_setf(e, ERR_INVALID, "%s.resource: unsupported value \"%s\"", field, res);
    q = json_object_get(json_object_get(json_object_get(container, "resources"),
                                        strncmp(res, "limits", 6) == 0 ? "limits" : "requests"),
                        dot + 1);
    snprintf(f, sizeof f, "%s.divisor", field);
    if (cpu) {
        /* millicores; no limit: the node's allocatable (all CPUs) */
        if (q != NULL && (rv = agent__qty_milli(q, f, &v, e)) != 0)
            return rv;
        if (q == NULL)
            v = 1000 * (int64_t)sysconf(_SC_NPROCESSORS_ONLN);
        if (div != NULL && (rv = agent__qty_milli(div, f, &d, e)) != 0)
            return rv;
        if (div == NULL)
            d = 1000;
    } else {
        if (q != NULL && (rv = agent__qty_value(q, f, &v, e)) != 0)
            return rv;
        if (q == NULL)
            v = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
        if (div != NULL && (rv = agent__qty_value(div, f, &d, e)) != 0)
            return rv;
    }
    if (d <= 0)
        return err_setf(e, ERR_INVALID, "%s: must be positive", f);
    snprintf(buf, cap, "%" PRId64, (v + d - 1) / d); /* kubelet rounds up */
    return 0;
}

static int value_from(const json_t *pod, const json_t *container, const json_t *vf,
                      const char *field, agent_pods_lookup_cb lookup, void *ld, const char *pod_ip,
                      const char *host_ip, const char *name, struct agent__envset *s, struct err *e)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(pod, "metadata"), "namespace"));
    const json_t *ref;
    char f[200], num[32];
    const char *v = NULL;
    int rv;

    if ((ref = json_object_get(vf, "fieldRef")) != NULL) {
        snprintf(f, sizeof f, "%s.fieldRef", field);
        if ((rv = field_ref(pod, ref, f, pod_ip, host_ip, &v, e)) != 0)
            return rv;
        return add(s, name, strlen(name), v, strlen(v), true, e);
    }
    if ((ref = json_object_get(vf, "resourceFieldRef")) != NULL) {
        snprintf(f, sizeof f, "%s.resourceFieldRef", field);
        if ((rv = resource_ref(container, ref, f, num, sizeof num, e)) != 0)
            return rv;
        return add(s, name, strlen(name), num, strlen(num), true, e);
    }
    const char *kind = "Secret";
    if ((ref = json_object_get(vf, "secretKeyRef")) == NULL) {
        ref = json_object_get(vf, "configMapKeyRef");
        kind = "ConfigMap";
    }
    if (ref == NULL)
        return err_setf(e, ERR_INVALID,
                        "%s: one of fieldRef, resourceFieldRef, secretKeyRef, "
                        "configMapKeyRef required",
                        field);
    const char *oname = json_string_value(json_object_get(ref, "name"));
    const char *key = json_string_value(json_object_get(ref, "key"));
    bool optional = json_is_true(json_object_get(ref, "optional"));
    const json_t *obj;
    char *val;
    size_t n;
    if (oname == NULL || key == NULL)
        return err_setf(e, ERR_INVALID, "%s: name and key required", field);
    obj = lookup_obj(lookup, ld, kind, ns ? ns : "default", oname);
    if (obj == NULL)
        return optional ? 0
                        : err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", kind_lower(kind), oname);
    rv = obj_value(obj, kind, key, &val, &n, e);
    if (rv == ERR_NOTFOUND)
        return optional ? 0
                        : err_setf(e, ERR_NOTFOUND, "couldn't find key %s in %s %s/%s", key, kind,
                                   ns ? ns : "default", oname);
    if (rv != 0)
        return err_wrapf(e, "%s %s/%s: %s", kind, ns ? ns : "default", oname, key);
    rv = add(s, name, strlen(name), val, n, true, e);
    free(val);
    return rv;
}

int agent__env_resolve(const json_t *pod, const json_t *container, const char *field,
                       agent_pods_lookup_cb lookup, void *lookup_data, const char *pod_ip,
                       const char *host_ip, struct agent__envset *out, struct err *e)
{
    const json_t *v;
    char f[200];
    size_t i;
    int rv;

    memset(out, 0, sizeof *out);
    json_array_foreach (json_object_get(container, "envFrom"), i, v) {
        snprintf(f, sizeof f, "%s.envFrom[%zu]", field, i);
        if ((rv = env_from(pod, v, f, lookup, lookup_data, out, e)) != 0)
            return rv;
    }
    json_array_foreach (json_object_get(container, "env"), i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const json_t *vf = json_object_get(v, "valueFrom");
        snprintf(f, sizeof f, "%s.env[%zu]", field, i);
        if (name == NULL || name[0] == '\0')
            return err_setf(e, ERR_INVALID, "%s.name: required", f);
        if (vf != NULL) {
            snprintf(f, sizeof f, "%s.env[%zu].valueFrom", field, i);
            rv = value_from(pod, container, vf, f, lookup, lookup_data, pod_ip, host_ip, name, out,
                            e);
        } else {
            const char *val = json_string_value(json_object_get(v, "value"));
            val = val ? val : "";
            rv = add(out, name, strlen(name), val, strlen(val), false, e);
        }
        if (rv != 0)
            return rv;
    }
    return 0;
}

/* ---- service environment variables ---- */

/* "my-svc" -> "MY_SVC" */
static void env_prefix(const char *name, char *buf, size_t cap)
{
    size_t i;
    for (i = 0; name[i] != '\0' && i + 1 < cap; i++)
        buf[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    buf[i] = '\0';
}

static bool env_has(const struct agent__envset *s, const char *name)
{
    size_t i;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return true;
    return false;
}

static int env_add_new(struct agent__envset *s, const char *name, const char *value, struct err *e)
{
    if (env_has(s, name))
        return 0;
    return add(s, name, strlen(name), value, strlen(value), true, e);
}

int agent__env_services(const json_t *services, bool links, struct agent__envset *out,
                        struct err *e)
{
    const json_t *svc, *port;
    size_t i, k;
    int rv = 0;

    if (!links)
        return 0;
    json_array_foreach (services, i, svc) {
        const json_t *spec = json_object_get(svc, "spec");
        const char *name = json_string_value(json_object_get(json_object_get(svc, "metadata"), "name"));
        const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
        const json_t *ports = json_object_get(spec, "ports");
        char pre[128], n[256], v[128];
        if (name == NULL || ip == NULL || ip[0] == '\0' || strcmp(ip, "None") == 0 ||
            json_array_size(ports) == 0)
            continue;
        env_prefix(name, pre, sizeof pre);
        json_array_foreach (ports, k, port) {
            json_int_t p = json_integer_value(json_object_get(port, "port"));
            const char *pn = json_string_value(json_object_get(port, "name"));
            const char *proto = json_string_value(json_object_get(port, "protocol"));
            char lproto[16], uproto[16], upn[128];
            size_t c;
            if (p <= 0)
                continue;
            snprintf(lproto, sizeof lproto, "%s", proto ? proto : "TCP");
            for (c = 0; lproto[c]; c++)
                lproto[c] = (char)tolower((unsigned char)lproto[c]);
            env_prefix(lproto, uproto, sizeof uproto);
            snprintf(v, sizeof v, "%lld", (long long)p);
            if (k == 0) {
                snprintf(n, sizeof n, "%s_SERVICE_HOST", pre);
                if ((rv = env_add_new(out, n, ip, e)) != 0)
                    return rv;
                snprintf(n, sizeof n, "%s_SERVICE_PORT", pre);
                if ((rv = env_add_new(out, n, v, e)) != 0)
                    return rv;
                snprintf(n, sizeof n, "%s_PORT", pre);
                snprintf(v, sizeof v, "%s://%s:%lld", lproto, ip, (long long)p);
                if ((rv = env_add_new(out, n, v, e)) != 0)
                    return rv;
            }
            if (pn != NULL && pn[0] != '\0') {
                env_prefix(pn, upn, sizeof upn);
                snprintf(n, sizeof n, "%s_SERVICE_PORT_%s", pre, upn);
                snprintf(v, sizeof v, "%lld", (long long)p);
                if ((rv = env_add_new(out, n, v, e)) != 0)
                    return rv;
            }
            snprintf(n, sizeof n, "%s_PORT_%lld_%s", pre, (long long)p, uproto);
            snprintf(v, sizeof v, "%s://%s:%lld", lproto, ip, (long long)p);
            if ((rv = env_add_new(out, n, v, e)) != 0)
                return rv;
            snprintf(n, sizeof n, "%s_PORT_%lld_%s_PROTO", pre, (long long)p, uproto);
            if ((rv = env_add_new(out, n, lproto, e)) != 0)
                return rv;
            snprintf(n, sizeof n, "%s_PORT_%lld_%s_PORT", pre, (long long)p, uproto);
            snprintf(v, sizeof v, "%lld", (long long)p);
            if ((rv = env_add_new(out, n, v, e)) != 0)
                return rv;
            snprintf(n, sizeof n, "%s_PORT_%lld_%s_ADDR", pre, (long long)p, uproto);
            if ((rv = env_add_new(out, n, ip, e)) != 0)
                return rv;
        }
    }
    return 0;
}
