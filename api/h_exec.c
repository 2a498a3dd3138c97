/* POST /api/v1/namespaces/NS/pods/NAME/exec: runs a command in a running
 * container, non-interactively, and answers with what it printed and its
 * exit code:
 *   {"kind":"ExecResult","stdout":"...","stderr":"...","exitCode":N}
 * Real kubectl upgrades the connection (SPDY / websocket) for an
 * interactive stream; we answer plain HTTP and refuse an upgrade with 400.
 *
 * Parameters: container, command (repeated, in order), stdout, stderr
 * (false drops that stream), timeoutSeconds (default 60, at most 600).
 * Admin only: a node identity may read logs but never run commands.
 *
 * As api/h_logs.c: the pod's node runs the command through the api_config
 * exec hook (runc exec, blocking, on the thread pool); any other node
 * forwards the request to that node's API. The forward carries the
 * caller's own bearer token rather than this node's certificate, so that the
 * pod's node authorizes the admin and not a node (which could otherwise
 * exec anywhere by claiming to forward). A caller authenticated by a client
 * certificate cannot be forwarded: it is told to talk to the pod's node. */
#include "api/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <h2o.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

#define EXEC_OUTPUT_MAX        (4u << 20) /* per stream, in the answer */
#define EXEC_TIMEOUT_DEFAULT_S 60
#define EXEC_TIMEOUT_MAX_S     600
#define EXEC_ARGS_MAX          (API_QUERY_MAX + 1)
#define EXEC_FORWARD_MAX       (3 * EXEC_OUTPUT_MAX) /* two escaped streams and the rest */

struct exec_job {
    /* in */
    api_exec_fn fn; /* local: the hook, else NULL to forward */
    void *fn_data;
    char uid[128], ctr[256];
    const char *argv[EXEC_ARGS_MAX]; /* request memory */
    int timeout_ms;
    char url[4096]; /* forward: https://ADDR/api/v1/... */
    char auth[600]; /* forward: the caller's Authorization header */
    const char *ca_pem;
    bool want_out, want_err;
    /* out */
    struct api_exec_result res;
    struct buf body; /* forwarded answer (lib/buf.h) */
    int http;
    char err[256];
};

/* ---- the answer ---- */

/* s[0..n) with every invalid UTF-8 sequence replaced by U+FFFD: a JSON
 * string must be UTF-8, command output need not be. Malloc'ed, NULL on no
 * memory; *out_len its length. */
static char *utf8_clean(const char *s, size_t n, size_t *out_len)
{
    char *o = malloc(n * 3 + 1), *p = o;
    size_t i = 0;
    if (o == NULL)
        return NULL;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] >> 6) == 2;
        if (ok && len == 2 && c < 0xc2) /* overlong */
            ok = false;
        if (ok && len == 3) {
            unsigned cp = (c & 0x0fu) << 12 | ((unsigned char)s[i + 1] & 0x3fu) << 6 |
                          ((unsigned char)s[i + 2] & 0x3fu);
            ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
        }
        if (ok && len == 4) {
            unsigned cp = (c & 0x07u) << 18 | ((unsigned char)s[i + 1] & 0x3fu) << 12 |
                          ((unsigned char)s[i + 2] & 0x3fu) << 6 |
                          ((unsigned char)s[i + 3] & 0x3fu);
            ok = cp >= 0x10000 && cp <= 0x10ffff;
        }
        if (ok) {
            memcpy(p, s + i, len);
            p += len;
            i += len;
        } else {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i++;
        }
    }
    *p = '\0';
    *out_len = (size_t)(p - o);
    return o;
}

/* A JSON string of at most EXEC_OUTPUT_MAX bytes of s (the head: where a
 * command's output starts is what a reader wants). New reference or NULL. */
static json_t *output_json(const char *s, size_t n)
{
    size_t len;
    char *clean;
    json_t *j;
    if (s == NULL)
        return json_string("");
    clean = utf8_clean(s, n > EXEC_OUTPUT_MAX ? EXEC_OUTPUT_MAX : n, &len);
    if (clean == NULL)
        return NULL;
    j = json_stringn(clean, len);
    free(clean);
    return j;
}

json_t *api__exec_result_json(const struct api_exec_result *res, bool want_out, bool want_err);

/* {"kind":"ExecResult",...} of res. New reference or NULL on no memory.
 * Not static: the unit test drives it. */
json_t *api__exec_result_json(const struct api_exec_result *res, bool want_out, bool want_err)
{
    json_t *o =
        json_pack("{s:s, s:s, s:o*, s:o*, s:i}", "kind", "ExecResult", "apiVersion", "v1", "stdout",
                  want_out ? output_json(res->out, res->out_len) : json_string(""), "stderr",
                  want_err ? output_json(res->err, res->err_len) : json_string(""), "exitCode",
                  res->exit_code);
    if (o != NULL && res->timed_out)
        json_object_set_new(o, "timedOut", json_true());
    return o;
}

/* ---- the blocking part ---- */

static void forward(struct exec_job *j)
{
    CURL *c = curl_easy_init();
    struct curl_blob ca = {(void *)j->ca_pem, j->ca_pem ? strlen(j->ca_pem) : 0, CURL_BLOB_COPY};
    struct curl_slist *hdr = NULL, *h2;
    char errbuf[CURL_ERROR_SIZE] = "";
    long code = 0;
    CURLcode rc;
    if (c == NULL || (hdr = curl_slist_append(NULL, j->auth)) == NULL) {
        curl_easy_cleanup(c);
        j->http = 500;
        snprintf(j->err, sizeof j->err, "out of memory");
        return;
    }
    h2 = curl_slist_append(hdr, "Accept: application/json");
    hdr = h2 != NULL ? h2 : hdr;
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    /* the command's own deadline plus room for the answer */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)j->timeout_ms + 15000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (j->ca_pem != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    j->body.max = EXEC_FORWARD_MAX;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &j->body);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    /* the caller's token is no longer needed: do not keep it around */
    memset(j->auth, 0, sizeof j->auth);
    if (rc != CURLE_OK) {
        j->http = 503;
        snprintf(j->err, sizeof j->err, "node unreachable: %s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return;
    }
    j->http = (int)code;
}

static void run_job(struct api_req *r)
{
    struct exec_job *j = r->data;
    struct err e;
    int rv;
    if (j->fn == NULL) {
        forward(j);
        return;
    }
    err_clear(&e);
    rv = j->fn(j->fn_data, j->uid, j->ctr, j->argv, j->timeout_ms, &j->res, &e);
    if (rv == 0) {
        j->http = 200;
    } else {
        j->http = rv == ERR_NOTFOUND ? 400 : rv == ERR_INVALID ? 400 : 500;
        if (rv == ERR_NOTFOUND)
            snprintf(j->err, sizeof j->err, "container %s is not running", j->ctr);
        else
            snprintf(j->err, sizeof j->err, "exec in container %s: %s", j->ctr, e.msg);
    }
}

static void on_job_done(struct api_req *r, int status)
{
    struct exec_job *j = r->data;
    if (status != 0) {
        api_reply_error(r, status, "exec: interrupted");
    } else if (j->fn == NULL && j->body.len > 0 && j->http != 0) {
        /* the pod's node answered (result or Status): pass it on */
        api_reply_raw(r, j->http, "application/json", j->body.p, j->body.len);
    } else if (j->http == 200) {
        json_t *o = api__exec_result_json(&j->res, j->want_out, j->want_err);
        if (o == NULL)
            api_reply_error(r, ERR_NOMEM, "out of memory");
        else
            api_reply_json(r, 200, o);
    } else {
        api_reply_status(r, j->http,
                         j->http == 400   ? "BadRequest"
                         : j->http == 503 ? "ServiceUnavailable"
                                          : "InternalError",
                         "%s", j->err[0] ? j->err : "exec failed");
    }
    free(j->res.out);
    free(j->res.err);
    buf_close(&j->body);
    j->res.out = j->res.err = NULL;
}

/* ---- the handler ---- */

static bool flag_value(struct api_req *r, const char *key, bool dflt)
{
    const char *v = api_req_query(r, key);
    if (v == NULL || v[0] == '\0')
        return dflt;
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* Whether the client asked for a protocol upgrade (kubectl's SPDY or
 * websocket exec). */
static bool wants_upgrade(struct api_req *r)
{
    h2o_req_t *req = r->h2o__;
    if (req == NULL)
        return false;
    if (req->upgrade.base != NULL)
        return true;
    return h2o_find_header(&req->headers, H2O_TOKEN_UPGRADE, -1) >= 0;
}

/* The caller's "Authorization: Bearer ..." header line into buf; false
 * when it authenticated otherwise (a client certificate). */
static bool caller_auth(struct api_req *r, char *buf, size_t size)
{
    h2o_req_t *req = r->h2o__;
    ssize_t i;
    h2o_iovec_t v;
    if (req == NULL || (i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1)) < 0)
        return false;
    v = req->headers.entries[i].value;
    if (v.len + sizeof "Authorization: " > size || memchr(v.base, '\n', v.len) != NULL ||
        memchr(v.base, '\r', v.len) != NULL)
        return false;
    snprintf(buf, size, "Authorization: %.*s", (int)v.len, v.base);
    return true;
}

/* The exec URL on the pod's node: the same query, re-encoded. */
static int forward_url(struct api_req *r, const char *addr, const char *ns, const char *name,
                       char *buf, size_t size)
{
    int n = snprintf(buf, size, "https://%s/api/v1/namespaces/%s/pods/%s/exec", addr, ns, name);
    char sep = '?';
    if (n < 0 || (size_t)n >= size)
        return -1;
    for (size_t i = 0; i < r->n_query; i++) {
        char *k = curl_easy_escape(NULL, r->query[i].key, 0);
        char *v = curl_easy_escape(NULL, r->query[i].value, 0);
        int m = -1;
        if (k != NULL && v != NULL)
            m = snprintf(buf + n, size - (size_t)n, "%c%s=%s", sep, k, v);
        curl_free(k);
        curl_free(v);
        if (m < 0 || (size_t)m >= size - (size_t)n)
            return -1;
        n += m;
        sep = '&';
    }
    return 0;
}

/* The container's state from status.containerStatuses: "running",
 * "waiting", "terminated" or NULL when not reported. */
static const char *ctr_state(const json_t *pod, const char *ctr)
{
    json_t *statuses = json_object_get(json_object_get(pod, "status"), "containerStatuses"), *c;
    size_t i;
    json_array_foreach (statuses, i, c) {
        json_t *st;
        if (!json_is_string(json_object_get(c, "name")) ||
            strcmp(json_string_value(json_object_get(c, "name")), ctr) != 0)
            continue;
        st = json_object_get(c, "state");
        if (json_object_get(st, "running") != NULL)
            return "running";
        if (json_object_get(st, "terminated") != NULL)
            return "terminated";
        return "waiting";
    }
    return NULL;
}

static void h_exec(struct api_req *r)
{
    const char *ns = r->caps[0], *name = r->caps[1];
    const char *ctr = api_req_query(r, "container"), *node, *uid, *phase, *tmo, *state;
    struct store_kv kv;
    struct exec_job *j;
    struct err e;
    json_t *pod = NULL;
    size_t i, argc = 0;
    long timeout_s = EXEC_TIMEOUT_DEFAULT_S;

    if (wants_upgrade(r)) {
        api_reply_status(r, 400, "BadRequest",
                         "interactive exec is not supported: this server answers exec as plain "
                         "HTTP (no Upgrade); use skiff exec POD -- CMD");
        return;
    }
    if (!api__is_admin(r))
        return;
    j = api_req_alloc(r, sizeof *j);
    if (j == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    r->data = j;
    for (i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].key, "command") == 0 && argc < EXEC_ARGS_MAX - 1)
            j->argv[argc++] = r->query[i].value;
    if (argc == 0) {
        api_reply_status(r, 400, "BadRequest",
                         "you must specify at least one command for the container");
        return;
    }
    tmo = api_req_query(r, "timeoutSeconds");
    if (tmo != NULL && tmo[0] != '\0') {
        char *end;
        timeout_s = strtol(tmo, &end, 10);
        if (*end != '\0' || timeout_s <= 0 || timeout_s > EXEC_TIMEOUT_MAX_S) {
            api_reply_status(r, 400, "BadRequest",
                             "timeoutSeconds: must be an integer from 1 to %d, got \"%s\"",
                             EXEC_TIMEOUT_MAX_S, tmo);
            return;
        }
    }
    j->timeout_ms = (int)timeout_s * 1000;
    j->want_out = flag_value(r, "stdout", true);
    j->want_err = flag_value(r, "stderr", true);

    if (api__pod_container(r, ns, name, ctr, &pod, &ctr) != 0)
        return;
    if (ctr == NULL || snprintf(j->ctr, sizeof j->ctr, "%s", ctr) >= (int)sizeof j->ctr) {
        api_reply_status(r, 400, "BadRequest", "container name too long");
        goto out;
    }
    node = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    if (node == NULL || node[0] == '\0') {
        api_reply_status(r, 400, "BadRequest", "pod %s does not have a host assigned", name);
        goto out;
    }
    if (phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
        api_reply_status(r, 400, "BadRequest",
                         "cannot exec into a container in a completed pod; current phase is %s",
                         phase);
        goto out;
    }
    state = ctr_state(pod, j->ctr);
    if (state == NULL || strcmp(state, "running") != 0) {
        api_reply_status(r, 400, "BadRequest", "container %s is not running", j->ctr);
        goto out;
    }
    if (strcmp(node, api__node_name(r->api)) == 0) {
        if (!api__exec_hook(r->api, &j->fn, &j->fn_data)) {
            api_reply_status(r, 400, "BadRequest", "node %s runs no containers it could exec in",
                             node);
            goto out;
        }
        if (uid == NULL || snprintf(j->uid, sizeof j->uid, "%s", uid) >= (int)sizeof j->uid) {
            api_reply_status(r, 400, "BadRequest", "pod %s has no usable metadata.uid", name);
            goto out;
        }
    } else {
        char mkey[STORE_KEY_MAX + 1];
        struct cons_member m;
        if (!caller_auth(r, j->auth, sizeof j->auth)) {
            api_reply_status(r, 400, "BadRequest",
                             "pod %s runs on node %s: exec through another node needs a bearer "
                             "token (a client certificate cannot be passed on); ask node %s's API",
                             name, node, node);
            goto out;
        }
        snprintf(mkey, sizeof mkey, "%s%s", CONS_MEMBER_PREFIX, node);
        if (store_get(r->store, mkey, &kv, &e) != 0) {
            api_reply_status(r, 503, "ServiceUnavailable", "node \"%s\" is not a member", node);
            goto out;
        }
        if (cons_member_decode(kv.value, kv.value_len, &m, &e) != 0) {
            store_kv_close(&kv);
            api_reply_err(r, &e);
            goto out;
        }
        store_kv_close(&kv);
        if (forward_url(r, m.api_address, ns, name, j->url, sizeof j->url) != 0) {
            api_reply_status(r, 400, "BadRequest", "exec request too long to forward");
            goto out;
        }
        j->ca_pem = api__ca_pem(r->api);
    }
    if (api_req_work(r, run_job, on_job_done, &e) != 0)
        api_reply_err(r, &e);
out:
    json_decref(pod);
}

static const struct api_route exec_routes[] = {
    {"POST", "/api/v1/namespaces/{}/pods/{}/exec", 0, h_exec},
};

int api__exec_routes_add(struct api *a, struct err *e)
{
    for (size_t i = 0; i < sizeof exec_routes / sizeof exec_routes[0]; i++) {
        int rv = api_route_add(a, &exec_routes[i], e);
        if (rv != 0)
            return rv;
    }
    return 0;
}
