/* Resource metrics (issue 9): the metrics.k8s.io/v1beta1 API that kubectl
 * top and the HPA controller read, served by every node.
 *
 * Each node's agent samples its own pods (agent/metrics.c) and keeps them in
 * memory; GET /skiff/v1/node-metrics hands out that raw snapshot. The node
 * answering a metrics.k8s.io request picks the Nodes or Pods asked for from
 * its local replica (names, labels, namespaces, pod uid -> node), asks each
 * node concerned for its snapshot (its own directly, the others over HTTPS
 * with this node's certificate, all at once on the thread pool, 2 s each at
 * most) and answers NodeMetrics / PodMetrics (List) objects as metrics-server
 * does. A node that does not answer is left out and named in a Warning
 * header: a partial `kubectl top` beats none.
 *
 * Who may read: admins and nodes (the HPA controller runs on the leader and
 * calls with its node certificate). */
#include "api/internal.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"

#define METRICS_GV           "metrics.k8s.io/v1beta1"
#define METRICS_PEER_TIMEOUT 2000L      /* ms: a slower node is left out */
#define METRICS_PEERS_MAX    64         /* as many as cons_status reports members */
#define METRICS_BODY_MAX     (8u << 20) /* one node's snapshot */

/* declared here and in api/server.c (not in internal.h: another session's file) */
json_t *api__metrics_snapshot(const struct api *a);
int api__metrics_routes_add(struct api *a, struct err *e);
void api__metrics_cpu_quantity(int64_t nanocores, char *buf, size_t size);
void api__metrics_memory_quantity(int64_t bytes, char *buf, size_t size);
void api__metrics_window(int64_t ms, char *buf, size_t size);
json_t *api__metrics_node_object(const json_t *node, const json_t *snap_node, const char *now);
json_t *api__metrics_pod_object(const json_t *pod, const json_t *snap_pod, const char *now);
json_t *api__metrics_list(const char *list_kind, json_t *items);

/* ---- the metrics-server dialect (pure) ---- */

/* resource.Quantity's canonical DecimalSI form of n×10⁻⁹: the largest
 * suffix that keeps it exact ("250m", "1500u", "123456789n", "2") */
void api__metrics_cpu_quantity(int64_t nanocores, char *buf, size_t size)
{
    static const char *const sfx[] = {"n", "u", "m", ""};
    int s = 0;
    if (nanocores <= 0) {
        snprintf(buf, size, "0");
        return;
    }
    while (s < 3 && nanocores % 1000 == 0) {
        nanocores /= 1000;
        s++;
    }
    snprintf(buf, size, "%" PRId64 "%s", nanocores, sfx[s]);
}

/* BinarySI canonical form: "12345Ki", "64Mi", or plain bytes when 1024
 * does not divide them */
void api__metrics_memory_quantity(int64_t bytes, char *buf, size_t size)
{
    static const char *const sfx[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int s = 0;
    if (bytes <= 0) {
        snprintf(buf, size, "0");
        return;
    }
    while (s < 6 && bytes % 1024 == 0) {
        bytes /= 1024;
        s++;
    }
    snprintf(buf, size, "%" PRId64 "%s", bytes, sfx[s]);
}

/* Go's time.Duration.String() at ms resolution: "500ms", "10s", "10.5s",
 * "1m0s", "1h0m0s" (metrics-server serialises window with it) */
void api__metrics_window(int64_t ms, char *buf, size_t size)
{
    int64_t h, m, s, frac;
    char f[8] = "";
    int n = 0;
    if (ms <= 0) {
        snprintf(buf, size, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(buf, size, "%" PRId64 "ms", ms);
        return;
    }
    h = ms / 3600000;
    m = ms / 60000 % 60;
    s = ms / 1000 % 60;
    frac = ms % 1000;
    if (frac != 0) {
        snprintf(f, sizeof f, ".%03" PRId64, frac);
        for (size_t i = strlen(f) - 1; f[i] == '0'; i--)
            f[i] = '\0';
    }
    if (h > 0)
        n = snprintf(buf, size, "%" PRId64 "h", h);
    if (h > 0 || m > 0)
        n += snprintf(buf + n, (size_t)n < size ? size - (size_t)n : 0, "%" PRId64 "m", m);
    snprintf(buf + n, (size_t)n < size ? size - (size_t)n : 0, "%" PRId64 "%ss", s, f);
}

static json_t *usage(const json_t *sample)
{
    char cpu[32], mem[32];
    json_t *c = json_object_get(sample, "cpu"), *m = json_object_get(sample, "memory");
    if (!json_is_integer(c) || !json_is_integer(m))
        return NULL;
    api__metrics_cpu_quantity(json_integer_value(c), cpu, sizeof cpu);
    api__metrics_memory_quantity(json_integer_value(m), mem, sizeof mem);
    return json_pack("{s:s, s:s}", "cpu", cpu, "memory", mem);
}

/* metadata as metrics-server fills it: the object's identity and labels,
 * creationTimestamp = now (the metrics object is made on request) */
static json_t *meta(const json_t *obj, const char *now, bool namespaced)
{
    const json_t *om = json_object_get(obj, "metadata");
    const json_t *labels = json_object_get(om, "labels");
    json_t *m =
        json_pack("{s:O, s:s}", "name", json_object_get(om, "name"), "creationTimestamp", now);
    if (m == NULL)
        return NULL;
    if (namespaced)
        json_object_set(m, "namespace", json_object_get(om, "namespace"));
    if (json_is_object(labels))
        json_object_set_new(m, "labels", json_deep_copy(labels));
    return m;
}

static json_t *window_str(const json_t *sample)
{
    char w[32];
    api__metrics_window(json_integer_value(json_object_get(sample, "window")), w, sizeof w);
    return json_string(w);
}

json_t *api__metrics_node_object(const json_t *node, const json_t *snap_node, const char *now)
{
    const json_t *name = json_object_get(json_object_get(node, "metadata"), "name");
    json_t *u;
    if (!json_is_string(name) || !json_is_string(json_object_get(snap_node, "ts")) ||
        (u = usage(snap_node)) == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:O, s:o, s:o}", "kind", "NodeMetrics", "apiVersion",
                     METRICS_GV, "metadata", meta(node, now, false), "timestamp",
                     json_object_get(snap_node, "ts"), "window", window_str(snap_node), "usage", u);
}

json_t *api__metrics_pod_object(const json_t *pod, const json_t *snap_pod, const char *now)
{
    const json_t *md = json_object_get(pod, "metadata");
    const json_t *spec_ctrs = json_object_get(json_object_get(pod, "spec"), "containers");
    const json_t *have = json_object_get(snap_pod, "containers"), *c;
    json_t *ctrs;
    size_t i;

    if (!json_is_string(json_object_get(md, "name")) ||
        !json_is_string(json_object_get(snap_pod, "ts")) || !json_is_object(have))
        return NULL;
    ctrs = json_array();
    /* the spec's order, as kubelet's summary lists them; containers with no
     * rate yet (just started) are left out until the next sample */
    json_array_foreach (spec_ctrs, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        json_t *u;
        if (n == NULL || (u = usage(json_object_get(have, n))) == NULL)
            continue;
        json_array_append_new(ctrs, json_pack("{s:s, s:o}", "name", n, "usage", u));
    }
    if (json_array_size(ctrs) == 0) {
        json_decref(ctrs);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:O, s:o, s:o}", "kind", "PodMetrics", "apiVersion",
                     METRICS_GV, "metadata", meta(pod, now, true), "timestamp",
                     json_object_get(snap_pod, "ts"), "window", window_str(snap_pod), "containers",
                     ctrs);
}

json_t *api__metrics_list(const char *list_kind, json_t *items)
{
    return json_pack("{s:s, s:s, s:{}, s:o}", "kind", list_kind, "apiVersion", METRICS_GV,
                     "metadata", "items", items);
}

/* ---- gathering from the nodes ---- */

enum { WANT_NODES = 1, WANT_PODS };

struct peer {
    char name[64];
    char url[256]; /* "" for this node */
    json_t *snap;  /* the node's snapshot, owned; NULL: none */
    struct buf body; /* remote answer, worker only (lib/buf.h) */
    char err[160];
};

struct mjob {
    int want;
    const char *name; /* a single object, or NULL */
    json_t *objs;     /* the Nodes or Pods to report, owned */
    struct peer peers[METRICS_PEERS_MAX];
    size_t n_peers;
    char cert[1024], key[1024];
    const char *ca_pem;
};

static void job_cleanup(struct api_req *r)
{
    struct mjob *j = r->data;
    if (j == NULL)
        return;
    json_decref(j->objs);
    for (size_t i = 0; i < j->n_peers; i++) {
        json_decref(j->peers[i].snap);
        buf_close(&j->peers[i].body);
    }
}

static CURL *peer_handle(struct mjob *j, struct peer *pr)
{
    struct curl_blob ca = {(void *)j->ca_pem, j->ca_pem ? strlen(j->ca_pem) : 0, CURL_BLOB_COPY};
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, pr->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, METRICS_PEER_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, METRICS_PEER_TIMEOUT);
    if (j->ca_pem != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, j->cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, j->key);
    pr->body.max = METRICS_BODY_MAX;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &pr->body);
    curl_easy_setopt(c, CURLOPT_PRIVATE, pr);
    return c;
}

static void peer_done(CURL *c, CURLcode rc)
{
    struct peer *pr;
    long code = 0;
    json_error_t je;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&pr);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        snprintf(pr->err, sizeof pr->err, "%s", curl_easy_strerror(rc));
        return;
    }
    if (code != 200) {
        snprintf(pr->err, sizeof pr->err, "HTTP %ld", code);
        return;
    }
    pr->snap = pr->body.p ? json_loadb(pr->body.p, pr->body.len, 0, &je) : NULL;
    if (!json_is_object(pr->snap)) {
        json_decref(pr->snap);
        pr->snap = NULL;
        snprintf(pr->err, sizeof pr->err, "bad snapshot: %s", pr->body.p ? je.text : "empty");
    }
}

/* Thread pool: every remote node at once, so the answer takes the slowest
 * node's time (<= 2 s), not the sum. */
static void fetch_all(struct api_req *r)
{
    struct mjob *j = r->data;
    CURL *h[METRICS_PEERS_MAX] = {0};
    CURLM *m = curl_multi_init();
    CURLMsg *msg;
    int running = 0, left;
    size_t i;

    for (i = 0; i < j->n_peers; i++) {
        struct peer *pr = &j->peers[i];
        if (pr->url[0] == '\0')
            continue;
        snprintf(pr->err, sizeof pr->err, "did not answer");
        if (m == NULL || (h[i] = peer_handle(j, pr)) == NULL) {
            snprintf(pr->err, sizeof pr->err, "curl: out of memory");
            continue;
        }
        curl_multi_add_handle(m, h[i]);
    }
    if (m == NULL)
        return;
    do {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 200, NULL);
    } while (running > 0);
    while ((msg = curl_multi_info_read(m, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE)
            peer_done(msg->easy_handle, msg->data.result);
    for (i = 0; i < j->n_peers; i++) {
        if (h[i] == NULL)
            continue;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
}

static const json_t *peer_snap(const struct mjob *j, const char *node)
{
    for (size_t i = 0; node != NULL && i < j->n_peers; i++)
        if (strcmp(j->peers[i].name, node) == 0)
            return j->peers[i].snap;
    return NULL;
}

static void reply_not_found(struct api_req *r, const struct mjob *j)
{
    api_reply_status(r, 404, "NotFound", "%s.metrics.k8s.io \"%s\" not found",
                     j->want == WANT_NODES ? "nodemetrics" : "podmetrics", j->name);
}

static void on_gathered(struct api_req *r, int status)
{
    struct mjob *j = r->data;
    char now[21], w[256];
    json_t *items, *o;
    size_t i;

    if (status != 0) {
        api_reply_error(r, status, "metrics: interrupted");
        return;
    }
    for (i = 0; i < j->n_peers; i++) {
        if (j->peers[i].snap != NULL)
            continue;
        snprintf(w, sizeof w, "metrics: node %s left out: %s", j->peers[i].name,
                 j->peers[i].err[0] ? j->peers[i].err : "no sample yet");
        api_req_warn(r, w);
    }
    api__now_rfc3339(now);
    items = json_array();
    if (items == NULL) {
        api_reply_error(r, ERR_NOMEM, "metrics: out of memory");
        return;
    }
    json_array_foreach (j->objs, i, o) {
        json_t *mo;
        if (j->want == WANT_NODES) {
            const char *n =
                json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
            mo = api__metrics_node_object(o, json_object_get(peer_snap(j, n), "node"), now);
        } else {
            const char *n =
                json_string_value(json_object_get(json_object_get(o, "spec"), "nodeName"));
            const char *uid =
                json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));
            mo = api__metrics_pod_object(
                o, json_object_get(json_object_get(peer_snap(j, n), "pods"), uid ? uid : ""), now);
        }
        if (mo != NULL)
            json_array_append_new(items, mo);
    }
    if (j->name != NULL) {
        o = json_incref(json_array_get(items, 0));
        json_decref(items);
        if (o == NULL)
            reply_not_found(r, j);
        else
            api_reply_json(r, 200, o);
        return;
    }
    api_reply_json(
        r, 200,
        api__metrics_list(j->want == WANT_NODES ? "NodeMetricsList" : "PodMetricsList", items));
}

/* Adds node to the peers once: this node answers from its own snapshot,
 * any other from its member record's API address. */
static void add_peer(struct api_req *r, struct mjob *j, const char *node)
{
    char key[STORE_KEY_MAX + 1];
    struct cons_member mem;
    struct store_kv kv;
    struct peer *pr;
    struct err e;

    if (node == NULL || node[0] == '\0')
        return;
    for (size_t i = 0; i < j->n_peers; i++)
        if (strcmp(j->peers[i].name, node) == 0)
            return;
    if (j->n_peers == METRICS_PEERS_MAX || strlen(node) >= sizeof pr->name)
        return;
    pr = &j->peers[j->n_peers++];
    snprintf(pr->name, sizeof pr->name, "%s", node);
    if (strcmp(node, api__node_name(r->api)) == 0) {
        pr->snap = api__metrics_snapshot(r->api);
        return;
    }
    snprintf(key, sizeof key, "%s%s", CONS_MEMBER_PREFIX, node);
    if (store_get(r->store, key, &kv, &e) != 0) {
        snprintf(pr->err, sizeof pr->err, "not a member");
        return;
    }
    if (cons_member_decode(kv.value, kv.value_len, &mem, &e) == 0 && mem.api_address[0] != '\0')
        snprintf(pr->url, sizeof pr->url, "https://%s/skiff/v1/node-metrics", mem.api_address);
    else
        snprintf(pr->err, sizeof pr->err, "member record: no API address");
    store_kv_close(&kv);
}

struct collect {
    struct api_selector sel;
    struct api_fieldsel fsel;
    json_t *out;
    int rv;
};

static int collect_one(const struct store_kv *kv, void *data)
{
    struct collect *c = data;
    json_t *obj;
    struct err e;
    if (api__object_decode(kv->value, kv->value_len, kv->mod_rev, &obj, &e) != 0)
        return 0; /* not ours to judge here; the plain list reports it */
    if (api__selector_matches(&c->sel,
                              json_object_get(json_object_get(obj, "metadata"), "labels")) &&
        api__fieldsel_matches(&c->fsel, obj))
        json_array_append(c->out, obj);
    json_decref(obj);
    return 0;
}

/* The Nodes or Pods the request is about, from the local replica. */
static int collect(struct api_req *r, struct mjob *j, const struct api_kind *k, const char *ns,
                   struct err *e)
{
    char prefix[STORE_KEY_MAX + 1];
    struct collect c = {.out = json_array()};
    uint64_t rev;
    int rv;

    j->objs = c.out;
    if (c.out == NULL)
        return err_setf(e, ERR_NOMEM, "metrics: out of memory");
    if (j->name != NULL) {
        struct store_kv kv;
        json_t *obj;
        if (api_object_key(k->store_name, ns, j->name, prefix, sizeof prefix, e) != 0 ||
            store_get(r->store, prefix, &kv, e) != 0)
            return ERR_NOTFOUND;
        rv = api__object_decode(kv.value, kv.value_len, kv.mod_rev, &obj, e);
        store_kv_close(&kv);
        if (rv == 0)
            json_array_append_new(c.out, obj);
        return rv;
    }
    if ((rv = api__selector_parse(api_req_query(r, "labelSelector"), &c.sel, e)) != 0)
        return rv;
    if ((rv = api__fieldsel_parse(k, api_req_query(r, "fieldSelector"), &c.fsel, e)) != 0) {
        api__selector_close(&c.sel);
        return rv;
    }
    /* the trailing '/' keeps namespace "a" from listing "ab" */
    if (ns != NULL)
        snprintf(prefix, sizeof prefix, "/registry/%s/%s/", k->store_name, ns);
    else
        snprintf(prefix, sizeof prefix, "/registry/%s/", k->store_name);
    rv = store_range_each(r->store, prefix, 500, collect_one, &c, &rev, e);
    api__selector_close(&c.sel);
    api__fieldsel_close(&c.fsel);
    return rv;
}

static bool allowed(struct api_req *r)
{
    if (strcmp(r->identity, "admin") == 0 || strncmp(r->identity, "system:node:", 12) == 0)
        return true;
    api_reply_status(r, 403, "Forbidden", "User \"%s\" cannot get resource metrics", r->identity);
    return false;
}

static void serve(struct api_req *r, int want, const char *ns, const char *name)
{
    const struct api_kind *k = api_kind_by_resource("", want == WANT_NODES ? "nodes" : "pods");
    struct mjob *j;
    struct err e;
    bool remote = false;
    size_t i;
    json_t *o;
    int rv;

    if (!allowed(r))
        return;
    if (k == NULL || (j = api_req_alloc(r, sizeof *j)) == NULL) {
        api_reply_error(r, ERR_NOMEM, "metrics: out of memory");
        return;
    }
    r->data = j;
    r->cleanup = job_cleanup;
    j->want = want;
    j->name = name;
    rv = collect(r, j, k, ns, &e);
    if (rv == ERR_NOTFOUND && name != NULL) {
        reply_not_found(r, j);
        return;
    }
    if (rv != 0) {
        api_reply_err(r, &e);
        return;
    }
    json_array_foreach (j->objs, i, o) {
        const char *node =
            want == WANT_NODES
                ? json_string_value(json_object_get(json_object_get(o, "metadata"), "name"))
                : json_string_value(json_object_get(json_object_get(o, "spec"), "nodeName"));
        add_peer(r, j, node);
    }
    for (i = 0; i < j->n_peers; i++)
        remote = remote || j->peers[i].url[0] != '\0';
    if (!remote) {
        on_gathered(r, 0);
        return;
    }
    snprintf(j->cert, sizeof j->cert, "%s", api__cert_file(r->api));
    snprintf(j->key, sizeof j->key, "%s", api__key_file(r->api));
    j->ca_pem = api__ca_pem(r->api);
    if (api_req_work(r, fetch_all, on_gathered, &e) != 0)
        api_reply_err(r, &e);
}

/* ---- handlers ---- */

static void h_node_metrics(struct api_req *r)
{
    json_t *snap;
    if (!allowed(r))
        return;
    snap = api__metrics_snapshot(r->api);
    /* an empty snapshot, not an error: the node is up, its first interval
     * is not over yet (or it samples nothing) */
    api_reply_json(r, 200, snap ? snap : json_pack("{s:{}}", "pods"));
}

static void h_nodes(struct api_req *r)
{
    serve(r, WANT_NODES, NULL, r->n_caps > 0 ? r->caps[0] : NULL);
}

static void h_pods_all(struct api_req *r)
{
    serve(r, WANT_PODS, NULL, NULL);
}

static void h_pods_ns(struct api_req *r)
{
    serve(r, WANT_PODS, r->caps[0], r->n_caps > 1 ? r->caps[1] : NULL);
}

/* Discovery of the group version itself (the /apis list and the aggregated
 * documents are in api/discovery.c). */
static void h_group(struct api_req *r)
{
    api_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "kind", "APIGroup",
                             "apiVersion", "v1", "name", "metrics.k8s.io", "versions",
                             "groupVersion", METRICS_GV, "version", "v1beta1", "preferredVersion",
                             "groupVersion", METRICS_GV, "version", "v1beta1"));
}

static void h_resources(struct api_req *r)
{
    api_reply_json(
        r, 200,
        json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b, s:s, s:[s, s]}, {s:s, s:s, s:b, s:s, "
                  "s:[s, s]}]}",
                  "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", METRICS_GV,
                  "resources", "name", "nodes", "singularName", "", "namespaced", 0, "kind",
                  "NodeMetrics", "verbs", "get", "list", "name", "pods", "singularName", "",
                  "namespaced", 1, "kind", "PodMetrics", "verbs", "get", "list"));
}

static const struct api_route metrics_routes[] = {
    {"GET", "/skiff/v1/node-metrics", 0, h_node_metrics},
    {"GET", "/apis/metrics.k8s.io", 0, h_group},
    {"GET", "/apis/metrics.k8s.io/v1beta1", 0, h_resources},
    {"GET", "/apis/metrics.k8s.io/v1beta1/nodes", 0, h_nodes},
    {"GET", "/apis/metrics.k8s.io/v1beta1/nodes/{}", 0, h_nodes},
    {"GET", "/apis/metrics.k8s.io/v1beta1/pods", 0, h_pods_all},
    {"GET", "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods", 0, h_pods_ns},
    {"GET", "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods/{}", 0, h_pods_ns},
};

int api__metrics_routes_add(struct api *a, struct err *e)
{
    for (size_t i = 0; i < sizeof metrics_routes / sizeof metrics_routes[0]; i++) {
        int rv = api_route_add(a, &metrics_routes[i], e);
        if (rv != 0)
            return rv;
    }
    return 0;
}
