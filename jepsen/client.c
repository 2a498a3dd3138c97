/* jepsen/client: the workload client of the jepsen harness. libcurl multi
 * on one thread (as bench/loadgen), --workers concurrent workers, worker w
 * bound to node w % nodes, each running one op at a time and writing every
 * invocation before it sends and every completion after it hears back, so
 * the history file's line order is real-time order (see jepsen/checker.h).
 *
 *   client --workload register|set|orch --urls URL[,URL...] --token T --cacert F
 *          --out HISTORY [--workers 10] [--secs 60] [--keys 5]
 *          [--ops-per-key 300] [--seed N] [--timeout-ms 2000] [--final-read]
 *          [--dump-state FILE]
 *
 * register: ConfigMaps jepsen-r<gen>-<i>, the register is data.value
 *   (integers 0..4 as strings; absent object = null).
 *   read  GET (a quorum read: no resourceVersion)
 *   write PUT without resourceVersion (unconditional); on 404 a POST
 *   cas   GET, and when the value read is the expected one, PUT with the
 *         resourceVersion read: 200 ok, 409 fail (changed in between); when
 *         the value read differs, fail (nothing was sent to change it)
 *   Keys rotate (Jepsen's independent keys): after --ops-per-key ops per key
 *   the workers move to --keys fresh ones, which keeps every key's history
 *   short for the checker even when info ops pile up under faults.
 * set: add = POST ConfigMap jepsen-s<n> (n unique); read = list, the names
 *   jepsen-s<n> give the elements; 1 op in 50 is a read.
 * orch: Deployments jepsen-d<i> (i < --keys, no rotation: they live for the
 *   whole run), the register is spec.replicas (0..4), history ops on them
 *   are register ops, so the linearizability checker judges them too.
 *   read  GET the Deployment
 *   write PUT the whole Deployment (an apply), or PUT its /scale
 *         subresource (a scale), half each, unconditional; on 404 a POST
 * --final-read (set): only a list, retried until one succeeds (60 s).
 *   (orch): a read of every Deployment, each retried over the nodes.
 * --dump-state FILE (orch): through every node, a list of every kind (a
 *   quorum read each: no resourceVersion), as {"views":[{"url":U,"lists":
 *   {"pods":LIST|null,...}}]} for jepsen/check orch --state (null: no
 *   answer; a kind answered 404, not served by this build, is left out). Kind-major, so
 *   the views of one kind are taken close together in time.
 *
 * Outcomes: 2xx ok. 4xx: fail (refused before any write), except a
 * create's 409 (see on_done). 5xx and every transport error: info for
 * writes (it may have been applied). That includes "couldn't connect":
 * libcurl may first have sent the request on a pooled connection to a node
 * that died before answering, then retried on a fresh one and been
 * refused. (The first runs of this harness, which took a refused connect
 * for a fail, reported a "failed" write under kill -9 that a later read
 * saw.) Reads never change anything, so a read that got no answer is info
 * and one that got an error is fail.
 * After an info the worker continues as process + workers (Jepsen's rule:
 * a process with an op in doubt is never reused). Exit 0, or 2 on usage. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URLS_MAX       16
#define WORKERS_MAX    256
#define VALUES         5   /* register values 0..VALUES-1, as Jepsen's etcd test */
#define BACKOFF_S      0.1 /* after an error */
#define BACKOFF_DOWN_S 0.5 /* after "couldn't connect" */

enum phase { P_IDLE, P_READ, P_WRITE, P_WRITE_CREATE, P_CAS_GET, P_CAS_PUT, P_ADD, P_LIST };

/* every kind's list path, for --dump-state (api/kinds.c's 14 kinds) */
static const char *const kind_lists[][2] = {
    {"namespaces", "/api/v1/namespaces"},
    {"nodes", "/api/v1/nodes"},
    {"pods", "/api/v1/pods"},
    {"services", "/api/v1/services"},
    {"endpoints", "/api/v1/endpoints"},
    {"secrets", "/api/v1/secrets"},
    {"configmaps", "/api/v1/configmaps"},
    {"deployments", "/apis/apps/v1/deployments"},
    {"replicasets", "/apis/apps/v1/replicasets"},
    {"daemonsets", "/apis/apps/v1/daemonsets"},
    {"jobs", "/apis/batch/v1/jobs"},
    {"cronjobs", "/apis/batch/v1/cronjobs"},
    {"horizontalpodautoscalers", "/apis/autoscaling/v2/horizontalpodautoscalers"},
    {"leases", "/apis/coordination.k8s.io/v1/leases"},
};

struct opts {
    const char *workload, *token, *cacert, *out, *dump_state;
    const char *urls[URLS_MAX];
    int n_urls, workers, keys, ops_per_key;
    double secs;
    unsigned long long seed;
    long timeout_ms;
    bool final_read, orch;
};

struct worker {
    int idx;
    long process;
    CURL *easy;
    enum phase ph;
    char key[64]; /* register key / ConfigMap name of the op */
    long a, b;    /* write: a; cas: a expected, b new; add: a element */
    char rv[32];
    char why[96]; /* how the last request ended */
    char body[1024];
    char *resp;
    size_t resp_len, resp_cap;
    double next_at;
    uint64_t rng;
};

struct client {
    struct opts o;
    FILE *out;
    CURLM *multi;
    struct curl_slist *hdrs;
    struct worker w[WORKERS_MAX];
    long ops_started;
    long next_elem;
    long counts[3]; /* ok, fail, info */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rnd(uint64_t *x) /* splitmix64 */
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void die(const char *msg)
{
    fprintf(stderr, "client: %s\n", msg);
    exit(2);
}

/* One history line. value: JSON text, or NULL for null. A completion
 * also says why (for people; the checker ignores it): the node, the HTTP
 * code or the transport error, and the phase that ended it. */
static void emit_why(struct client *c, long process, const char *type, const char *f,
                     const char *key, const char *value, const char *why)
{
    fprintf(c->out,
            "{\"process\":%ld,\"type\":\"%s\",\"f\":\"%s\",\"key\":\"%s\",\"value\":%s,"
            "\"time_ns\":%lld%s%s%s}\n",
            process, type, f, key, value ? value : "null", (long long)now_ns(),
            why ? ",\"why\":\"" : "", why ? why : "", why ? "\"" : "");
    if (strcmp(type, "invoke") != 0)
        c->counts[type[0] == 'o' ? 0 : type[0] == 'f' ? 1 : 2]++;
}

static void emit(struct client *c, long process, const char *type, const char *f, const char *key,
                 const char *value)
{
    emit_why(c, process, type, f, key, value, NULL);
}

static size_t on_body(char *p, size_t sz, size_t n, void *data)
{
    struct worker *w = data;
    size_t len = sz * n;
    if (w->resp_len + len + 1 > w->resp_cap) {
        size_t cap = (w->resp_len + len + 1) * 2;
        char *nr = realloc(w->resp, cap);
        if (nr == NULL)
            return 0;
        w->resp = nr;
        w->resp_cap = cap;
    }
    memcpy(w->resp + w->resp_len, p, len);
    w->resp_len += len;
    w->resp[w->resp_len] = '\0';
    return len;
}

static void worker_init(struct client *c, struct worker *w, int idx)
{
    w->idx = idx;
    w->process = idx;
    w->rng = c->o.seed * 1000003ull + (uint64_t)idx;
    w->easy = curl_easy_init();
    if (w->easy == NULL)
        die("curl_easy_init failed");
    curl_easy_setopt(w->easy, CURLOPT_PRIVATE, w);
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(w->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
    curl_easy_setopt(w->easy, CURLOPT_CONNECTTIMEOUT_MS, c->o.timeout_ms);
    curl_easy_setopt(w->easy, CURLOPT_CAINFO, c->o.cacert);
}

/* Sends a request for the worker's current phase. */
static void send_req(struct client *c, struct worker *w, const char *method, const char *path,
                     const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", c->o.urls[w->idx % c->o.n_urls], path);
    curl_easy_setopt(w->easy, CURLOPT_URL, url);
    curl_easy_setopt(w->easy, CURLOPT_CUSTOMREQUEST, NULL);
    if (body != NULL) {
        snprintf(w->body, sizeof w->body, "%s", body);
        curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body);
        curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(w->body));
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(w->easy, CURLOPT_CUSTOMREQUEST, method);
    } else {
        curl_easy_setopt(w->easy, CURLOPT_HTTPGET, 1L);
    }
    w->resp_len = 0;
    curl_multi_add_handle(c->multi, w->easy);
}

static void cm_body(char *out, size_t cap, const char *name, long value, const char *rv)
{
    char meta[128];
    if (rv != NULL)
        snprintf(meta, sizeof meta, "{\"name\":\"%s\",\"resourceVersion\":\"%s\"}", name, rv);
    else
        snprintf(meta, sizeof meta, "{\"name\":\"%s\"}", name);
    snprintf(out, cap,
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":%s,"
             "\"data\":{\"value\":\"%ld\"}}",
             meta, value);
}

static void cm_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "/api/v1/namespaces/default/configmaps%s%s", name ? "/" : "",
             name ? name : "");
}

static void dep_body(char *out, size_t cap, const char *name, long replicas)
{
    snprintf(out, cap,
             "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"default\"},\"spec\":{\"replicas\":%ld,\"selector\":{\"matchLabels\":"
             "{\"app\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
             "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
             name, replicas, name, name);
}

static void dep_path(char *out, size_t cap, const char *name, const char *sub)
{
    snprintf(out, cap, "/apis/apps/v1/namespaces/default/deployments%s%s%s%s", name ? "/" : "",
             name ? name : "", sub ? "/" : "", sub ? sub : "");
}

/* orch: read, apply or scale a Deployment (a register on spec.replicas) */
static void orch_start_op(struct client *c, struct worker *w, uint64_t r)
{
    char path[200], body[1024], val[64];

    snprintf(w->key, sizeof w->key, "jepsen-d%d", (int)((r >> 8) % (uint64_t)c->o.keys));
    if (r % 3 == 0) {
        w->ph = P_READ;
        emit(c, w->process, "invoke", "read", w->key, NULL);
        dep_path(path, sizeof path, w->key, NULL);
        send_req(c, w, "GET", path, NULL);
        return;
    }
    w->ph = P_WRITE;
    w->a = (long)((r >> 16) % VALUES);
    snprintf(val, sizeof val, "%ld", w->a);
    emit(c, w->process, "invoke", "write", w->key, val);
    if (r % 3 == 1) {
        dep_body(body, sizeof body, w->key, w->a);
        dep_path(path, sizeof path, w->key, NULL);
    } else {
        snprintf(body, sizeof body,
                 "{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"Scale\",\"metadata\":"
                 "{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{\"replicas\":%ld}}",
                 w->key, w->a);
        dep_path(path, sizeof path, w->key, "scale");
    }
    send_req(c, w, "PUT", path, body);
}

static void start_op(struct client *c, struct worker *w)
{
    char path[160], body[1024], val[64];
    uint64_t r = rnd(&w->rng);

    c->ops_started++;
    if (strcmp(c->o.workload, "set") == 0) {
        if (r % 50 == 0) {
            w->ph = P_LIST;
            snprintf(w->key, sizeof w->key, "s");
            emit(c, w->process, "invoke", "read", "s", NULL);
            cm_path(path, sizeof path, NULL);
            send_req(c, w, "GET", path, NULL);
            return;
        }
        w->ph = P_ADD;
        w->a = c->next_elem++;
        snprintf(val, sizeof val, "%ld", w->a);
        emit(c, w->process, "invoke", "add", "s", val);
        snprintf(w->key, sizeof w->key, "jepsen-s%ld", w->a);
        cm_body(body, sizeof body, w->key, w->a, NULL);
        cm_path(path, sizeof path, NULL);
        send_req(c, w, "POST", path, body);
        return;
    }
    if (c->o.orch) {
        orch_start_op(c, w, r);
        return;
    }
    /* register: a key of the current generation */
    long gen = c->ops_started / ((long)c->o.ops_per_key * c->o.keys);
    snprintf(w->key, sizeof w->key, "jepsen-r%ld-%d", gen, (int)((r >> 8) % (uint64_t)c->o.keys));
    cm_path(path, sizeof path, w->key);
    switch (r % 3) {
    case 0:
        w->ph = P_READ;
        emit(c, w->process, "invoke", "read", w->key, NULL);
        send_req(c, w, "GET", path, NULL);
        break;
    case 1:
        w->ph = P_WRITE;
        w->a = (long)((r >> 16) % VALUES);
        snprintf(val, sizeof val, "%ld", w->a);
        emit(c, w->process, "invoke", "write", w->key, val);
        cm_body(body, sizeof body, w->key, w->a, NULL);
        send_req(c, w, "PUT", path, body);
        break;
    default:
        w->ph = P_CAS_GET;
        w->a = (long)((r >> 16) % VALUES);
        w->b = (long)((r >> 24) % VALUES);
        snprintf(val, sizeof val, "[%ld,%ld]", w->a, w->b);
        emit(c, w->process, "invoke", "cas", w->key, val);
        send_req(c, w, "GET", path, NULL);
        break;
    }
}

/* The register value of a GET answer: 1 and *v set, 0 absent/unparsable. */
static int parse_value(struct worker *w, long *v)
{
    json_t *j = json_loadb(w->resp ? w->resp : "", w->resp_len, 0, NULL);
    const char *s = json_string_value(json_object_get(json_object_get(j, "data"), "value"));
    const char *rv =
        json_string_value(json_object_get(json_object_get(j, "metadata"), "resourceVersion"));
    json_t *replicas = json_object_get(json_object_get(j, "spec"), "replicas");
    int ok = 0;
    char *end;
    if (s == NULL && json_is_integer(replicas) && rv != NULL) { /* a Deployment */
        *v = (long)json_integer_value(replicas);
        snprintf(w->rv, sizeof w->rv, "%s", rv);
        ok = 1;
    } else if (s != NULL && rv != NULL) {
        *v = strtol(s, &end, 10);
        ok = *end == '\0';
        snprintf(w->rv, sizeof w->rv, "%s", rv);
    }
    json_decref(j);
    return ok;
}

/* The set's elements in a list answer, as a JSON array text (owned); NULL
 * if the answer is not a list. */
static char *parse_list(struct worker *w)
{
    json_t *j = json_loadb(w->resp ? w->resp : "", w->resp_len, 0, NULL), *it, *arr;
    json_t *items = json_object_get(j, "items");
    size_t i;
    char *text = NULL;

    if (!json_is_array(items)) {
        json_decref(j);
        return NULL;
    }
    arr = json_array();
    json_array_foreach (items, i, it) {
        const char *name =
            json_string_value(json_object_get(json_object_get(it, "metadata"), "name"));
        char *end;
        if (name == NULL || strncmp(name, "jepsen-s", 8) != 0)
            continue;
        long n = strtol(name + 8, &end, 10);
        if (*end == '\0')
            json_array_append_new(arr, json_integer(n));
    }
    text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    json_decref(j);
    return text;
}

static const char *f_of(enum phase ph)
{
    switch (ph) {
    case P_READ:
    case P_LIST:
        return "read";
    case P_WRITE:
    case P_WRITE_CREATE:
        return "write";
    case P_CAS_GET:
    case P_CAS_PUT:
        return "cas";
    default:
        return "add";
    }
}

/* Ends the op as type with value (JSON text or NULL: the invocation's). */
static void end_op(struct client *c, struct worker *w, const char *type, const char *value,
                   double backoff)
{
    static const char *const phases[] = {"idle", "get", "put",  "post",
                                         "get",  "put", "post", "list"};
    char val[64], why[160];
    const char *key = (w->ph == P_ADD || w->ph == P_LIST) ? "s" : w->key;
    if (value == NULL && w->ph != P_READ && w->ph != P_LIST) {
        if (w->ph == P_CAS_GET || w->ph == P_CAS_PUT)
            snprintf(val, sizeof val, "[%ld,%ld]", w->a, w->b);
        else
            snprintf(val, sizeof val, "%ld", w->a);
        value = val;
    }
    snprintf(why, sizeof why, "node %d %s: %s", w->idx % c->o.n_urls + 1, phases[w->ph], w->why);
    emit_why(c, w->process, type, f_of(w->ph), key, value, why);
    if (strcmp(type, "info") == 0)
        w->process += c->o.workers;
    w->ph = P_IDLE;
    w->next_at = now_s() + backoff;
}

/* One finished transfer of worker w. */
static void on_done(struct client *c, struct worker *w, CURLcode res)
{
    long code = 0;
    char path[200], body[1024], val[64];
    bool answered = res == CURLE_OK;
    bool ok, maybe;
    double backoff;
    long v;

    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    if (answered)
        snprintf(w->why, sizeof w->why, "http %ld", code);
    else
        snprintf(w->why, sizeof w->why, "%s", curl_easy_strerror(res));
    ok = answered && code >= 200 && code < 300;
    maybe = !answered || code >= 500; /* a write may have happened */
    /* a node that is down: do not pile up info ops against it */
    backoff = res == CURLE_COULDNT_CONNECT ? BACKOFF_DOWN_S : BACKOFF_S;
    curl_multi_remove_handle(c->multi, w->easy);
    switch (w->ph) {
    case P_READ:
        if (ok && parse_value(w, &v)) {
            snprintf(val, sizeof val, "%ld", v);
            end_op(c, w, "ok", val, 0);
        } else if (answered && code == 404) {
            end_op(c, w, "ok", "null", 0);
        } else {
            end_op(c, w, answered ? "fail" : "info", NULL, backoff);
        }
        return;
    case P_LIST: {
        char *t = ok ? parse_list(w) : NULL;
        if (t != NULL)
            end_op(c, w, "ok", t, 0);
        else
            end_op(c, w, answered ? "fail" : "info", NULL, backoff);
        free(t);
        return;
    }
    case P_WRITE:
        if (answered && code == 404) { /* a fresh key: create it */
            w->ph = P_WRITE_CREATE;
            if (c->o.orch) {
                dep_body(body, sizeof body, w->key, w->a);
                dep_path(path, sizeof path, NULL, NULL);
            } else {
                cm_body(body, sizeof body, w->key, w->a, NULL);
                cm_path(path, sizeof path, NULL);
            }
            send_req(c, w, "POST", path, body);
            return;
        }
        break;
    case P_CAS_GET:
        if (ok && parse_value(w, &v) && v == w->a) {
            w->ph = P_CAS_PUT;
            cm_body(body, sizeof body, w->key, w->b, w->rv);
            cm_path(path, sizeof path, w->key);
            send_req(c, w, "PUT", path, body);
            return;
        }
        /* a different value, no object or no answer: nothing was changed */
        end_op(c, w, "fail", NULL, ok || (answered && code == 404) ? 0 : backoff);
        return;
    default:
        break;
    }
    /* writes: P_WRITE, P_WRITE_CREATE, P_CAS_PUT, P_ADD. A create's 409
     * (AlreadyExists) may be our own request, sent twice by libcurl's
     * retry on a dead pooled connection: in doubt, so info */
    if ((w->ph == P_WRITE_CREATE || w->ph == P_ADD) && answered && code == 409)
        maybe = true;
    if (ok)
        end_op(c, w, "ok", NULL, 0);
    else
        end_op(c, w, maybe ? "info" : "fail", NULL, backoff);
}

static void run_workers(struct client *c)
{
    double deadline = now_s() + c->o.secs, hard = deadline + c->o.timeout_ms / 1e3 * 3 + 5;
    int running = 0;

    for (int i = 0; i < c->o.workers; i++)
        worker_init(c, &c->w[i], i);
    for (;;) {
        double t = now_s();
        bool busy = false;
        for (int i = 0; i < c->o.workers; i++) {
            struct worker *w = &c->w[i];
            if (w->ph == P_IDLE && t < deadline && t >= w->next_at)
                start_op(c, w);
            busy |= w->ph != P_IDLE;
        }
        if (!busy && t >= deadline)
            break;
        if (t > hard)
            die("in-flight requests outlived their timeout");
        curl_multi_perform(c->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
            struct worker *w;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
            on_done(c, w, msg->data.result);
        }
        curl_multi_poll(c->multi, NULL, 0, 10, NULL);
    }
    for (int i = 0; i < c->o.workers; i++) {
        curl_easy_cleanup(c->w[i].easy);
        free(c->w[i].resp);
    }
}

/* The set's final read: one list, retried over the nodes until one answers. */
static int final_read(struct client *c)
{
    struct worker *w = &c->w[0];
    double deadline = now_s() + 60;
    long process = 1000000;

    worker_init(c, w, 0);
    curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, 10000L);
    for (int attempt = 0; now_s() < deadline; attempt++) {
        char path[160];
        int running = 1;
        w->idx = attempt; /* the next node each time */
        w->process = process;
        w->ph = P_LIST;
        emit(c, process, "invoke", "read", "s", NULL);
        cm_path(path, sizeof path, NULL);
        send_req(c, w, "GET", path, NULL);
        while (running > 0) {
            curl_multi_perform(c->multi, &running);
            curl_multi_poll(c->multi, NULL, 0, 50, NULL);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                on_done(c, w, msg->data.result);
        if (c->counts[0] > 0)
            break;
        process = w->process + 1;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    curl_easy_cleanup(w->easy);
    free(w->resp);
    return c->counts[0] > 0 ? 0 : 1;
}

/* One blocking GET through node url_idx with worker w's handle (set up by
 * worker_init): the HTTP code, 0 when no answer; the body in w->resp. */
static long get_blocking(struct client *c, struct worker *w, int url_idx, const char *path)
{
    char url[512];
    long code = 0;
    snprintf(url, sizeof url, "%s%s", c->o.urls[url_idx % c->o.n_urls], path);
    curl_easy_setopt(w->easy, CURLOPT_URL, url);
    curl_easy_setopt(w->easy, CURLOPT_HTTPGET, 1L);
    w->resp_len = 0;
    if (w->resp != NULL)
        w->resp[0] = '\0';
    if (curl_easy_perform(w->easy) != CURLE_OK)
        return 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

/* orch's final read: every Deployment's replicas, each read retried over
 * the nodes (a new process per attempt) until one answers, 60 s in all. */
static int orch_final_read(struct client *c)
{
    struct worker *w = &c->w[0];
    double deadline = now_s() + 60;
    long process = 1000000;
    int attempt = 0, rc = 0;

    worker_init(c, w, 0);
    curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, 10000L);
    for (int k = 0; k < c->o.keys; k++) {
        char path[200], val[32];
        bool done = false;
        snprintf(w->key, sizeof w->key, "jepsen-d%d", k);
        dep_path(path, sizeof path, w->key, NULL);
        while (!done && now_s() < deadline) {
            long v, code;
            emit(c, process, "invoke", "read", w->key, NULL);
            code = get_blocking(c, w, attempt++, path);
            if (code == 200 && parse_value(w, &v)) {
                snprintf(val, sizeof val, "%ld", v);
                emit(c, process, "ok", "read", w->key, val);
                done = true;
            } else if (code == 404) {
                emit(c, process, "ok", "read", w->key, "null");
                done = true;
            } else {
                emit(c, process, code == 0 ? "info" : "fail", "read", w->key, NULL);
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            process++;
        }
        if (!done)
            rc = 1;
    }
    curl_easy_cleanup(w->easy);
    free(w->resp);
    return rc;
}

/* --dump-state: every kind's list through every node, as one JSON file */
static int dump_state(struct client *c)
{
    struct worker *w = &c->w[0];
    json_t *views = json_array(), *root;
    size_t n_kinds = sizeof kind_lists / sizeof kind_lists[0];
    int rc = 0;

    worker_init(c, w, 0);
    curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, 10000L);
    for (int u = 0; u < c->o.n_urls; u++)
        json_array_append_new(views, json_pack("{s:s, s:{}}", "url", c->o.urls[u], "lists"));
    for (size_t k = 0; k < n_kinds; k++) {
        for (int u = 0; u < c->o.n_urls; u++) {
            long code = get_blocking(c, w, u, kind_lists[k][1]);
            json_t *list = code == 200 ? json_loadb(w->resp, w->resp_len, 0, NULL) : NULL;
            json_t *lists = json_object_get(json_array_get(views, (size_t)u), "lists");
            if (code == 404) /* a kind this build does not serve */
                continue;
            json_object_set_new(lists, kind_lists[k][0], list ? list : json_null());
        }
    }
    root = json_pack("{s:o}", "views", views);
    if (root == NULL || json_dump_file(root, c->o.dump_state, JSON_COMPACT) != 0)
        rc = 1;
    json_decref(root);
    curl_easy_cleanup(w->easy);
    free(w->resp);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: client --workload register|set|orch --urls URL[,URL...] --token T "
                    "--cacert F --out HISTORY [--workers N] [--secs S] [--keys N] "
                    "[--ops-per-key N] [--seed N] [--timeout-ms N] [--final-read] "
                    "[--dump-state FILE]\n");
    exit(2);
}

static void parse_args(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){
        .workers = 10, .secs = 60, .keys = 5, .ops_per_key = 300, .seed = 1, .timeout_ms = 2000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--final-read") == 0) {
            o->final_read = true;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--workload") == 0)
            o->workload = v;
        else if (strcmp(a, "--token") == 0)
            o->token = v;
        else if (strcmp(a, "--cacert") == 0)
            o->cacert = v;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--dump-state") == 0)
            o->dump_state = v;
        else if (strcmp(a, "--workers") == 0)
            o->workers = atoi(v);
        else if (strcmp(a, "--secs") == 0)
            o->secs = atof(v);
        else if (strcmp(a, "--keys") == 0)
            o->keys = atoi(v);
        else if (strcmp(a, "--ops-per-key") == 0)
            o->ops_per_key = atoi(v);
        else if (strcmp(a, "--seed") == 0)
            o->seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--timeout-ms") == 0)
            o->timeout_ms = atol(v);
        else if (strcmp(a, "--urls") == 0) {
            char *dup = strdup(v), *save = NULL;
            for (char *t = strtok_r(dup, ",", &save); t && o->n_urls < URLS_MAX;
                 t = strtok_r(NULL, ",", &save))
                o->urls[o->n_urls++] = strdup(t);
            free(dup);
        } else
            usage();
    }
    if (o->workload == NULL || o->token == NULL || o->cacert == NULL || o->out == NULL ||
        o->n_urls == 0 || o->workers < 1 || o->workers > WORKERS_MAX || o->keys < 1 ||
        o->ops_per_key < 1 || o->timeout_ms < 1 ||
        (strcmp(o->workload, "register") != 0 && strcmp(o->workload, "set") != 0 &&
         strcmp(o->workload, "orch") != 0))
        usage();
    o->orch = strcmp(o->workload, "orch") == 0;
    if (o->dump_state != NULL && !o->orch)
        usage();
}

int main(int argc, char **argv)
{
    static struct client c;
    char auth[1024];
    int rc = 0;

    parse_args(&c.o, argc, argv);
    c.out = fopen(c.o.out, "a");
    if (c.out == NULL)
        die("cannot open the history file");
    curl_global_init(CURL_GLOBAL_ALL);
    c.multi = curl_multi_init();
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c.o.token);
    c.hdrs = curl_slist_append(NULL, auth);
    c.hdrs = curl_slist_append(c.hdrs, "Content-Type: application/json");
    if (c.o.dump_state != NULL) {
        rc = dump_state(&c);
    } else if (c.o.final_read && c.o.orch) {
        rc = orch_final_read(&c);
    } else if (c.o.final_read) {
        rc = final_read(&c);
    } else {
        /* set elements unique across client runs of one history */
        c.next_elem = (long)(c.o.seed % 1000) * 100000000L;
        run_workers(&c);
    }
    printf("ok=%ld fail=%ld info=%ld\n", c.counts[0], c.counts[1], c.counts[2]);
    fclose(c.out);
    curl_slist_free_all(c.hdrs);
    curl_multi_cleanup(c.multi);
    curl_global_cleanup();
    for (int i = 0; i < c.o.n_urls; i++)
        free((char *)c.o.urls[i]);
    return rc;
}
