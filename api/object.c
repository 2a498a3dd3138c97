/* Object plumbing shared by every kind: uids and timestamps (decided by the
 * proposer, never in apply), store keys, the msgpack value codec, name
 * checks and the kubectl AGE column. */
#include "api/internal.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/jsonmp.h"

int api__uuid(char buf[37], struct err *e)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return err_setf(e, ERR_IO, "uuid: RAND_bytes failed");
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

void api__now_rfc3339(char buf[21])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void api_age_format(const char *rfc3339, char *buf, size_t size)
{
    struct tm tm;
    const char *end;
    long long d;

    memset(&tm, 0, sizeof tm);
    end = rfc3339 ? strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (end == NULL) {
        snprintf(buf, size, "<unknown>");
        return;
    }
    d = (long long)(time(NULL) - timegm(&tm));
    if (d < 0)
        d = 0;
    /* kubectl's HumanDuration, coarsely */
    if (d < 120)
        snprintf(buf, size, "%llds", d);
    else if (d < 60 * 60 * 2)
        snprintf(buf, size, "%lldm", d / 60);
    else if (d < 60 * 60 * 48)
        snprintf(buf, size, "%lldh", d / 3600);
    else
        snprintf(buf, size, "%lldd", d / 86400);
}

static bool label_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

const char *api__dns1123_label_error(const char *s)
{
    size_t n = strlen(s);
    if (n > 63)
        return "must be no more than 63 characters";
    if (!label_ok(s, n))
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
               "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
               "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    return NULL;
}

const char *api__dns1123_subdomain_error(const char *s)
{
    size_t n = strlen(s);
    const char *p = s;
    bool ok = n > 0;
    if (n > 253)
        return "must be no more than 253 characters";
    while (ok) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        ok = label_ok(p, len);
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    if (!ok)
        return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
               "characters, '-' or '.', and must start and end with an alphanumeric character "
               "(e.g. 'example.com', regex used for validation is "
               "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    return NULL;
}

int api__object_decode(const void *value, size_t len, uint64_t rev, json_t **out, struct err *e)
{
    json_t *obj, *meta;
    char rv_s[24];
    int rv = jsonmp_unpack(value, len, &obj, e);
    if (rv != 0)
        return rv;
    meta = json_object_get(obj, "metadata");
    if (!json_is_object(obj) || !json_is_object(meta)) {
        json_decref(obj);
        return err_setf(e, ERR_INVALID, "stored object: not an object with metadata");
    }
    /* Kubernetes sends resourceVersion as an opaque string */
    snprintf(rv_s, sizeof rv_s, "%llu", (unsigned long long)rev);
    if (json_object_set_new(meta, "resourceVersion", json_string(rv_s)) != 0) {
        json_decref(obj);
        return err_setf(e, ERR_NOMEM, "stored object: out of memory");
    }
    *out = obj;
    return 0;
}

int api_object_decode(const void *value, size_t len, uint64_t rev, json_t **out, struct err *e)
{
    return api__object_decode(value, len, rev, out, e);
}

int api_object_key(const char *resource, const char *ns, const char *name, char *key,
                   size_t key_size, struct err *e)
{
    int n;
    if (ns != NULL)
        n = snprintf(key, key_size, "/registry/%s/%s/%s", resource, ns, name);
    else
        n = snprintf(key, key_size, "/registry/%s/%s", resource, name);
    if (n < 0 || (size_t)n >= key_size || n > STORE_KEY_MAX)
        return err_setf(e, ERR_INVALID, "metadata.name: key for \"%s\" too long", name);
    return 0;
}

int api_object_encode(const json_t *obj, void **value, size_t *len, struct err *e)
{
    json_t *copy, *meta;
    int rv;
    if (!json_is_object(obj))
        return err_setf(e, ERR_INVALID, "object: not a JSON object");
    /* resourceVersion is derived from mod_rev on reads; storing it would go stale */
    copy = json_deep_copy(obj);
    if (copy == NULL)
        return err_setf(e, ERR_NOMEM, "object: out of memory");
    meta = json_object_get(copy, "metadata");
    if (json_is_object(meta))
        json_object_del(meta, "resourceVersion");
    rv = jsonmp_pack(copy, value, len, e);
    json_decref(copy);
    return rv;
}

int api_node_build(const char *name, const char *const *addresses, size_t n_addresses, json_t **out,
                   struct err *e)
{
    char uid[37], now[21];
    const char *msg;
    json_t *node, *addrs;
    size_t i;
    int rv;

    if (name == NULL || (msg = api__dns1123_subdomain_error(name)) != NULL)
        return err_setf(e, ERR_INVALID, "Node \"%s\" is invalid: metadata.name: Invalid value: %s",
                        name ? name : "", msg ? msg : "required");
    rv = api__uuid(uid, e);
    if (rv != 0)
        return rv;
    api__now_rfc3339(now);
    addrs = json_array();
    for (i = 0; addrs != NULL && i < n_addresses; i++) {
        char ip[64];
        const char *colon = strrchr(addresses[i], ':');
        /* "IP:PORT" -> IP; a bare IPv6 keeps its colons only when bracketed */
        size_t n = colon && strchr(addresses[i], ':') == colon ? (size_t)(colon - addresses[i])
                                                               : strlen(addresses[i]);
        if (n >= sizeof ip) {
            json_decref(addrs);
            return err_setf(e, ERR_INVALID, "status.addresses[%zu]: too long", i);
        }
        memcpy(ip, addresses[i], n);
        ip[n] = '\0';
        json_array_append_new(addrs, json_pack("{s:s, s:s}", "type", "InternalIP", "address", ip));
    }
    if (addrs != NULL)
        json_array_append_new(addrs, json_pack("{s:s, s:s}", "type", "Hostname", "address", name));
    node = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{}, s:{s:o, s:[{s:s, s:s, s:s, "
                     "s:s, s:s, s:s}]}}",
                     "kind", "Node", "apiVersion", "v1", "metadata", "name", name, "uid", uid,
                     "creationTimestamp", now, "labels", "kubernetes.io/hostname", name, "spec",
                     "status", "addresses", addrs, "conditions", "type", "Ready", "status", "True",
                     "reason", "SkiffReady", "message", "skiff node is ready", "lastHeartbeatTime",
                     now, "lastTransitionTime", now);
    if (node == NULL)
        return err_setf(e, ERR_NOMEM, "node: out of memory");
    /* VERSION column of kubectl get nodes; the agent fills the rest of
     * nodeInfo (OS, kernel, runtime) from the node itself */
    json_object_set_new(json_object_get(node, "status"), "nodeInfo",
                        json_pack("{s:s}", "kubeletVersion", "v1.29.0-skiff"));
    *out = node;
    return 0;
}

int api_node_kv(const json_t *node, char *key, size_t key_size, void **value, size_t *len,
                struct err *e)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
    int rv;
    if (name == NULL)
        return err_setf(e, ERR_INVALID, "node: metadata.name: required");
    rv = api_object_key("minions", NULL, name, key, key_size, e);
    if (rv != 0)
        return rv;
    return api_object_encode(node, value, len, e);
}

int api_namespace_kv(const char *name, char *key, size_t key_size, void **value, size_t *len,
                     struct err *e)
{
    char uid[37], now[21];
    json_t *ns;
    int rv;
    if (api__dns1123_label_error(name) != NULL)
        return err_setf(e, ERR_INVALID, "namespace \"%s\": not a DNS-1123 label", name);
    rv = api__uuid(uid, e);
    if (rv != 0)
        return rv;
    api__now_rfc3339(now);
    ns = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "kind",
                   "Namespace", "apiVersion", "v1", "metadata", "name", name, "uid", uid,
                   "creationTimestamp", now, "labels", "kubernetes.io/metadata.name", name, "spec",
                   "finalizers", "kubernetes", "status", "phase", "Active");
    if (ns == NULL)
        return err_setf(e, ERR_NOMEM, "namespace: out of memory");
    rv = api_object_key("namespaces", NULL, name, key, key_size, e);
    if (rv == 0)
        rv = api_object_encode(ns, value, len, e);
    json_decref(ns);
    return rv;
}

int api_admin_token_key(const char *token, char *key, size_t key_size, struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0, i;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    int n;

    if (token == NULL || token[0] == '\0')
        return err_setf(e, ERR_INVALID, "token: empty");
    if (EVP_Digest(token, strlen(token), md, &md_len, EVP_sha256(), NULL) != 1)
        return err_setf(e, ERR_IO, "token: sha256 failed");
    for (i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    n = snprintf(key, key_size, "%s%s", API_ADMIN_TOKEN_PREFIX, hex);
    if (n < 0 || (size_t)n >= key_size)
        return err_setf(e, ERR_INVALID, "token: key buffer too small");
    return 0;
}
