/* Endpoints controller (kube's pkg/controller/endpoint): for every Service
 * with a selector, an Endpoints object of the same namespace/name listing
 * the selected pods that have an IP: ready ones under addresses, the others
 * under notReadyAddresses (publishNotReadyAddresses puts all under
 * addresses), with the Service ports' targetPorts resolved per pod (a
 * number, or a named container port looked up in the pod's containers).
 * Addresses with the same resolved ports share a subset, as kube's
 * RepackSubsets groups them. Written only when it changed; deleted when the
 * Service is gone (Endpoints carry no ownerReference in kube). Services
 * without a selector are left alone: their Endpoints belong to the user.
 *
 * Queue keys are Service store keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/internal.h"

#define HEADLESS_LABEL "service.kubernetes.io/headless"

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(obj, a), b));
}

/* A Service's spec.selector is a plain map: every pair must match. */
static bool labels_match(const json_t *selector, const json_t *labels)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)selector, k, v) {
        const char *have = json_string_value(json_object_get(labels, k));
        if (have == NULL || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0)
            return false;
    }
    return true;
}

static const json_t *selector_of(const json_t *svc)
{
    const json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
    return json_is_object(sel) && json_object_size(sel) > 0 ? sel : NULL;
}

static void enqueue_service_of(struct sched *s, struct sched_ctrl *c, const json_t *obj)
{
    char key[STORE_KEY_MAX + 1];
    if (sched__key_of(SK_SERVICE, str_at(obj, "metadata", "namespace"),
                      str_at(obj, "metadata", "name"), key, sizeof key) == 0)
        sched__enqueue(s, c, key);
}

/* Every Service of the pod's namespace whose selector matches the old or
 * the new labels. O(services): no selector index yet. */
static void enqueue_for_pod(struct sched *s, struct sched_ctrl *c, const json_t *old,
                            const json_t *obj)
{
    const json_t *any = obj ? obj : old;
    const char *ns = str_at(any, "metadata", "namespace");
    const json_t *ol = old ? json_object_get(json_object_get(old, "metadata"), "labels") : NULL;
    const json_t *nl = obj ? json_object_get(json_object_get(obj, "metadata"), "labels") : NULL;
    const char *key;
    json_t *svc;
    if (ns == NULL)
        return;
    json_object_foreach (sched__objs(s, SK_SERVICE), key, svc) {
        const json_t *sel = selector_of(svc);
        const char *sns = str_at(svc, "metadata", "namespace");
        if (sel == NULL || sns == NULL || strcmp(sns, ns) != 0)
            continue;
        if ((old != NULL && labels_match(sel, ol)) || (obj != NULL && labels_match(sel, nl)))
            sched__enqueue(s, c, key);
    }
}

/* An Endpoints changed or removed by someone else is rebuilt when its
 * Service exists; one without a Service is left alone (kube removes such
 * leftovers only when its controller starts). */
static void enqueue_endpoints_service(struct sched *s, struct sched_ctrl *c, const json_t *ep)
{
    char key[STORE_KEY_MAX + 1];
    if (sched__key_of(SK_SERVICE, str_at(ep, "metadata", "namespace"),
                      str_at(ep, "metadata", "name"), key, sizeof key) == 0 &&
        sched__get(s, SK_SERVICE, key) != NULL)
        sched__enqueue(s, c, key);
}

static void start(struct sched *s, struct sched_ctrl *c)
{
    const char *key;
    json_t *obj;
    json_object_foreach (sched__objs(s, SK_SERVICE), key, obj)
        sched__enqueue(s, c, key);
    /* leftovers: an Endpoints whose Service went while no one led */
    json_object_foreach (sched__objs(s, SK_ENDPOINTS), key, obj)
        enqueue_service_of(s, c, obj);
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    if (kind == SK_SERVICE)
        sched__enqueue(s, c, key);
    else if (kind == SK_ENDPOINTS)
        enqueue_endpoints_service(s, c, obj ? obj : old);
    else if (kind == SK_POD)
        enqueue_for_pod(s, c, old, obj);
}

/* ---- building the subsets ---- */

/* kube's ShouldPodBeInEndpoints */
static bool pod_in_endpoints(const json_t *pod, bool include_terminating)
{
    const json_t *status = json_object_get(pod, "status");
    const char *phase = json_string_value(json_object_get(status, "phase"));
    const char *policy = str_at(pod, "spec", "restartPolicy");
    if (json_string_length(json_object_get(status, "podIP")) == 0)
        return false;
    if (!include_terminating &&
        json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL)
        return false;
    if (phase == NULL)
        return true;
    if (policy != NULL && strcmp(policy, "Never") == 0)
        return strcmp(phase, "Failed") != 0 && strcmp(phase, "Succeeded") != 0;
    if (policy != NULL && strcmp(policy, "OnFailure") == 0)
        return strcmp(phase, "Succeeded") != 0;
    return true;
}

static const char *proto_of(const json_t *port)
{
    const char *p = json_string_value(json_object_get(port, "protocol"));
    return p != NULL && p[0] != '\0' ? p : "TCP";
}

/* kube's FindPort: the targetPort as a number, or the container port of
 * that name and protocol; 0 when the pod has none. */
static json_int_t find_port(const json_t *pod, const json_t *sp)
{
    const json_t *tp = json_object_get(sp, "targetPort");
    const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
    size_t i, j;
    json_t *ct, *cp;
    if (tp == NULL)
        return json_integer_value(json_object_get(sp, "port"));
    if (json_is_integer(tp))
        return json_integer_value(tp);
    if (!json_is_string(tp))
        return 0;
    json_array_foreach (containers, i, ct) {
        json_array_foreach (json_object_get(ct, "ports"), j, cp) {
            const char *n = json_string_value(json_object_get(cp, "name"));
            if (n != NULL && strcmp(n, json_string_value(tp)) == 0 &&
                strcmp(proto_of(cp), proto_of(sp)) == 0)
                return json_integer_value(json_object_get(cp, "containerPort"));
        }
    }
    return 0;
}

/* The pod's endpoint ports, in the Service's port order; NULL when the
 * Service has ports and none resolves on this pod (it then serves none). */
static json_t *pod_ports(const json_t *svc, const json_t *pod)
{
    const json_t *sports = json_object_get(json_object_get(svc, "spec"), "ports");
    json_t *out = json_array(), *sp;
    size_t i;
    if (out == NULL)
        return NULL;
    json_array_foreach (sports, i, sp) {
        json_int_t port = find_port(pod, sp);
        json_t *ep;
        if (port < 1 || port > 65535)
            continue;
        ep = json_pack("{s:I, s:s}", "port", port, "protocol", proto_of(sp));
        if (json_string_length(json_object_get(sp, "name")) > 0)
            json_object_set(ep, "name", json_object_get(sp, "name"));
        if (json_object_get(sp, "appProtocol") != NULL)
            json_object_set(ep, "appProtocol", json_object_get(sp, "appProtocol"));
        json_array_append_new(out, ep);
    }
    if (json_array_size(sports) > 0 && json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *address_of(const json_t *svc, const json_t *pod)
{
    const json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec");
    const char *host = json_string_value(json_object_get(spec, "hostname"));
    const char *sub = json_string_value(json_object_get(spec, "subdomain"));
    const char *svc_name = str_at(svc, "metadata", "name");
    json_t *a = json_pack("{s:O, s:{s:s, s:O, s:O, s:O}}", "ip",
                          json_object_get(json_object_get(pod, "status"), "podIP"), "targetRef",
                          "kind", "Pod", "namespace", json_object_get(meta, "namespace"), "name",
                          json_object_get(meta, "name"), "uid", json_object_get(meta, "uid"));
    if (a == NULL)
        return NULL;
    if (json_string_length(json_object_get(spec, "nodeName")) > 0)
        json_object_set(a, "nodeName", json_object_get(spec, "nodeName"));
    /* a pod's own DNS name under a headless Service: hostname.subdomain */
    if (host != NULL && host[0] != '\0' && sub != NULL && svc_name != NULL &&
        strcmp(sub, svc_name) == 0)
        json_object_set_new(a, "hostname", json_string(host));
    return a;
}

static int address_cmp(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    int r = strcmp(json_string_value(json_object_get(a, "ip")),
                   json_string_value(json_object_get(b, "ip")));
    if (r != 0)
        return r;
    return strcmp(str_at(a, "targetRef", "name") ? str_at(a, "targetRef", "name") : "",
                  str_at(b, "targetRef", "name") ? str_at(b, "targetRef", "name") : "");
}

static int sig_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void sort_addresses(json_t *arr)
{
    size_t n = json_array_size(arr), i;
    json_t **v;
    if (n < 2 || (v = malloc(n * sizeof *v)) == NULL)
        return;
    for (i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, address_cmp);
    json_array_clear(arr);
    for (i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

/* The subsets for svc: one per distinct port list, in the order of those
 * lists' encodings, addresses sorted by IP, so that an unchanged set of
 * pods yields the very same JSON (the write is skipped on equality). */
static json_t *build_subsets(struct sched *s, const json_t *svc)
{
    const json_t *sel = selector_of(svc), *spec = json_object_get(svc, "spec");
    const char *ns = str_at(svc, "metadata", "namespace");
    const char *cip = json_string_value(json_object_get(spec, "clusterIP"));
    bool publish = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
    bool headless = cip != NULL && strcmp(cip, "None") == 0;
    json_t *groups = json_object(), *out = json_array(), *pod, *g;
    const char *key;
    void *it;
    if (groups == NULL || out == NULL)
        goto out_free;
    /* O(pods) per Service sync: no namespace index yet */
    json_object_foreach (sched__objs(s, SK_POD), key, pod) {
        json_t *ports, *addr;
        char *sig;
        const char *pns = str_at(pod, "metadata", "namespace");
        if (pns == NULL || strcmp(pns, ns) != 0 ||
            !labels_match(sel, json_object_get(json_object_get(pod, "metadata"), "labels")) ||
            !pod_in_endpoints(pod, publish))
            continue;
        ports = pod_ports(svc, pod);
        if (ports == NULL)
            continue;
        if (json_array_size(ports) == 0 && !headless) {
            json_decref(ports); /* a non-headless Service without ports: nothing to serve */
            continue;
        }
        sig = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
        addr = address_of(svc, pod);
        if (sig == NULL || addr == NULL) {
            free(sig);
            json_decref(ports);
            json_decref(addr);
            continue;
        }
        g = json_object_get(groups, sig);
        if (g == NULL) {
            g = json_pack("{s:[], s:[], s:O}", "addresses", "notReadyAddresses", "ports", ports);
            json_object_set_new(groups, sig, g);
        }
        json_array_append_new(json_object_get(g, publish || sched__pod_ready(pod)
                                                     ? "addresses"
                                                     : "notReadyAddresses"),
                              addr);
        json_decref(ports);
        free(sig);
    }
    /* jansson iterates in insertion order: sort the signatures */
    {
        size_t n = json_object_size(groups), i = 0;
        const char **sigs = n ? malloc(n * sizeof *sigs) : NULL;
        for (it = json_object_iter(groups); it != NULL && sigs != NULL;
             it = json_object_iter_next(groups, it))
            sigs[i++] = json_object_iter_key(it);
        if (sigs != NULL)
            qsort(sigs, n, sizeof *sigs, sig_cmp);
        for (i = 0; i < n && sigs != NULL; i++) {
            json_t *sub = json_deep_copy(json_object_get(groups, sigs[i]));
            const char *arrs[] = {"addresses", "notReadyAddresses"};
            for (size_t k = 0; k < 2; k++) {
                sort_addresses(json_object_get(sub, arrs[k]));
                if (json_array_size(json_object_get(sub, arrs[k])) == 0)
                    json_object_del(sub, arrs[k]);
            }
            if (json_array_size(json_object_get(sub, "ports")) == 0)
                json_object_del(sub, "ports");
            json_array_append_new(out, sub);
        }
        free(sigs);
    }
    json_decref(groups);
    return out;
out_free:
    json_decref(groups);
    json_decref(out);
    return NULL;
}

/* labels of the Endpoints: the Service's, plus the headless marker */
static json_t *endpoints_labels(const json_t *svc)
{
    const json_t *l = json_object_get(json_object_get(svc, "metadata"), "labels");
    const char *cip = str_at(svc, "spec", "clusterIP");
    json_t *out = json_is_object(l) ? json_deep_copy(l) : json_object();
    if (out == NULL)
        return NULL;
    if (cip != NULL && strcmp(cip, "None") == 0)
        json_object_set_new(out, HEADLESS_LABEL, json_string(""));
    else
        json_object_del(out, HEADLESS_LABEL);
    return out;
}

static bool empty(const json_t *v)
{
    return v == NULL || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}

static bool same(const json_t *a, const json_t *b)
{
    /* absent and empty are one (omitempty) */
    if (empty(a) && empty(b))
        return true;
    return a != NULL && b != NULL && json_equal(a, b);
}

/* "/registry/services/specs/NS/NAME" -> NS, NAME (a Service gone from the
 * cache leaves only its key) */
static int split_key(const char *key, char *ns, size_t ns_size, char *name, size_t name_size)
{
    const char *slash = strrchr(key, '/'), *prev;
    if (slash == NULL || slash == key)
        return ERR_INVALID;
    for (prev = slash - 1; prev > key && *prev != '/'; prev--)
        ;
    if (*prev != '/' || (size_t)(slash - prev - 1) >= ns_size || strlen(slash + 1) >= name_size)
        return ERR_INVALID;
    snprintf(ns, ns_size, "%.*s", (int)(slash - prev - 1), prev + 1);
    snprintf(name, name_size, "%s", slash + 1);
    return 0;
}

static void ep_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    json_t *svc = sched__get(s, SK_SERVICE, key), *ep, *subsets = NULL, *labels = NULL, *neu;
    const char *ns, *name;
    char ekey[STORE_KEY_MAX + 1], ns_buf[256], name_buf[256];

    if (svc == NULL) {
        /* the Service is gone, and with it its Endpoints */
        if (split_key(key, ns_buf, sizeof ns_buf, name_buf, sizeof name_buf) != 0 ||
            sched__key_of(SK_ENDPOINTS, ns_buf, name_buf, ekey, sizeof ekey) != 0)
            return;
        ep = sched__get(s, SK_ENDPOINTS, ekey);
        if (ep != NULL)
            sched__delete(s, c, SK_ENDPOINTS, ep, NULL, false, NULL);
        return;
    }
    ns = str_at(svc, "metadata", "namespace");
    name = str_at(svc, "metadata", "name");
    if (ns == NULL || name == NULL || selector_of(svc) == NULL ||
        json_object_get(json_object_get(svc, "metadata"), "deletionTimestamp") != NULL)
        return; /* no selector: the user's Endpoints, untouched */
    if (sched__key_of(SK_ENDPOINTS, ns, name, ekey, sizeof ekey) != 0)
        return;
    ep = sched__get(s, SK_ENDPOINTS, ekey);
    subsets = build_subsets(s, svc);
    labels = endpoints_labels(svc);
    if (subsets == NULL || labels == NULL)
        goto out;
    if (ep != NULL && same(json_object_get(ep, "subsets"), subsets) &&
        same(json_object_get(json_object_get(ep, "metadata"), "labels"), labels))
        goto out;
    if (ep == NULL) {
        neu = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Endpoints",
                        "metadata", "name", name, "namespace", ns);
        if (neu == NULL)
            goto out;
    } else {
        neu = json_deep_copy(ep);
        if (neu == NULL)
            goto out;
    }
    if (json_array_size(subsets) > 0)
        json_object_set(neu, "subsets", subsets);
    else
        json_object_del(neu, "subsets");
    if (json_object_size(labels) > 0)
        json_object_set(json_object_get(neu, "metadata"), "labels", labels);
    else
        json_object_del(json_object_get(neu, "metadata"), "labels");
    if (ep == NULL)
        sched__create(s, c, SK_ENDPOINTS, ns, neu, NULL, key);
    else
        sched__update(s, c, SK_ENDPOINTS, ep, neu, key);
out:
    json_decref(subsets);
    json_decref(labels);
}

struct sched_ctrl sched__ctrl_endpoints = {"endpoints", start, NULL, on_event,
                                           ep_sync,     NULL,  NULL, NULL};
