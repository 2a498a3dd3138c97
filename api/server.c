/* The h2o server: TLS listener, connection tracking (so api_close can end
 * them), request decoding (query, body, auth), dispatch to the route table,
 * and the reply helpers. One api_req per HTTP request, heap-allocated
 * because a proposal may outlive the client's connection: it is freed when
 * both the h2o request (pool disposal) and any async operation let go. */
#include "api/api.h"
#include "api/internal.h"
#include "api/proto.h"

#include <errno.h>
#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "lib/pki.h"

#define API_EXTRA_ROUTES_MAX 32

struct conn {
    uv_tcp_t tcp; /* first: h2o hands back the handle in the close callback */
    struct api *a;
    struct conn *next, *prev;
};

struct handler {
    h2o_handler_t super;
    struct api *a;
};

struct api {
    uv_loop_t *loop;
    struct cons *cons;
    char *listen, *cert_file, *key_file, *ca_file, *node_name;
    char *ca_pem; /* read once at api_new: serving it must not block the loop */
    /* SKIFF_UNSAFE_STALE_READS=1 at api_new: GETs skip the read barrier.
     * Broken on purpose, for jepsen to prove it catches stale reads */
    bool unsafe_stale_reads;
    api_log_path_fn log_path;
    void *log_path_data;
    api_exec_fn exec;
    void *exec_data;
    api_metrics_fn metrics;
    void *metrics_data;
    struct api__prom prom; /* /metrics counters and sources (api/h_prom.c) */
    SSL_CTX *ssl;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    bool ctx_inited;
    uv_tcp_t listener;
    bool listener_inited;
    int port;
    struct conn *conns;
    size_t n_conns;
    struct api_req *reqs;
    const struct api_route *extra[API_EXTRA_ROUTES_MAX];
    size_t n_extra;
    /* closing */
    bool closing, finishing;
    int handles_closing;
    uv_timer_t final_timer;
    api_close_cb close_cb;
    void *close_data;
};

static void maybe_finish(struct api *a);

struct arena_block {
    struct arena_block *next;
    max_align_t mem[];
};

size_t api__extra_routes(struct api *a, const struct api_route *const **out);
size_t api__extra_routes(struct api *a, const struct api_route *const **out)
{
    *out = a->extra;
    return a->n_extra;
}

int api__log_path(const struct api *a, const char *ns, const char *pod, const char *uid,
                  const char *ctr, int restart, char *buf, size_t size)
{
    if (a->log_path == NULL)
        return ERR_NOTFOUND;
    return a->log_path(a->log_path_data, ns, pod, uid, ctr, restart, buf, size);
}

bool api__exec_hook(const struct api *a, api_exec_fn *fn, void **data)
{
    *fn = a->exec;
    *data = a->exec_data;
    return a->exec != NULL;
}

/* api/h_metrics.c (declared here and there, not in internal.h) */
json_t *api__metrics_snapshot(const struct api *a);
int api__metrics_routes_add(struct api *a, struct err *e);

json_t *api__metrics_snapshot(const struct api *a)
{
    return a->metrics != NULL ? a->metrics(a->metrics_data) : NULL;
}

uv_loop_t *api__loop(const struct api *a)
{
    return a->loop;
}

const char *api__cert_file(const struct api *a)
{
    return a->cert_file;
}

bool api__unsafe_stale_reads(const struct api *a);
bool api__unsafe_stale_reads(const struct api *a)
{
    return a->unsafe_stale_reads;
}

const char *api__key_file(const struct api *a)
{
    return a->key_file;
}

const char *api__node_name(const struct api *a)
{
    return a->node_name;
}

const char *api__ca_pem(const struct api *a)
{
    return a->ca_pem;
}

int api_route_add(struct api *a, const struct api_route *rt, struct err *e)
{
    if (a->n_extra == API_EXTRA_ROUTES_MAX)
        return err_setf(e, ERR_NOMEM, "api: more than %d extra routes", API_EXTRA_ROUTES_MAX);
    a->extra[a->n_extra++] = rt;
    return 0;
}

/* ---- request memory ---- */

void *api_req_alloc(struct api_req *r, size_t size)
{
    struct arena_block *b = calloc(1, sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->next = r->arena__;
    r->arena__ = b;
    return b->mem;
}

char *api_req_strdup(struct api_req *r, const char *s)
{
    size_t n = strlen(s);
    char *p = api_req_alloc(r, n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

static char *req_strndup(struct api_req *r, const char *s, size_t n)
{
    char *p = api_req_alloc(r, n + 1);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

const char *api_req_query(const struct api_req *r, const char *key)
{
    size_t i;
    for (i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].key, key) == 0)
            return r->query[i].value;
    return NULL;
}

static void req_unlink(struct api_req *r)
{
    struct api *a = r->api;
    if (a == NULL)
        return;
    if (r->prev__ != NULL)
        r->prev__->next__ = r->next__;
    else
        a->reqs = r->next__;
    if (r->next__ != NULL)
        r->next__->prev__ = r->prev__;
    r->next__ = r->prev__ = NULL;
    r->api = NULL;
}

static void req_free(struct api_req *r)
{
    struct arena_block *b = r->arena__, *next;
    req_unlink(r);
    if (r->cleanup != NULL)
        r->cleanup(r);
    json_decref(r->json);
    for (; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(r);
}

static void req_unref(struct api_req *r)
{
    assert(r->refs__ > 0);
    if (--r->refs__ == 0)
        req_free(r);
}

/* The h2o request is gone (answered and written, or the client left). */
static void on_pool_dispose(void *p)
{
    struct api_req *r = *(struct api_req **)p;
    LOG_DEBUG("api", "req_disposed", "replied=%d", (int)r->replied__);
    r->h2o__ = NULL;
    if (r->watch__ != NULL) {
        api__prom_observe(r, 200); /* a watch stream is counted when it ends, as the apiserver */
        api__watch_dispose(r);
    }
    req_unref(r);
}

/* ---- replies ---- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : "Internal Server Error";
    }
}

void api_reply_raw(struct api_req *r, int http_status, const char *content_type, const void *body,
                   size_t len)
{
    h2o_req_t *req = r->h2o__;
    assert(!r->replied__);
    r->replied__ = true;
    api__prom_observe(r, http_status);
    if (req == NULL)
        return;
    req->res.status = http_status;
    req->res.reason = reason_phrase(http_status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-cache, private"));
    for (size_t i = 0; i < r->n_warnings; i++) {
        /* RFC 7234 warn-text is a quoted string: escape quotes and backslashes */
        const char *w = r->warnings[i];
        char *v = h2o_mem_alloc_pool(&req->pool, 2 * strlen(w) + 16);
        int n = sprintf(v, "299 - \"");
        for (; *w != '\0'; w++) {
            if (*w == '"' || *w == '\\')
                v[n++] = '\\';
            v[n++] = *w;
        }
        v[n++] = '"';
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("warning"), 0, NULL, v,
                              (size_t)n);
    }
    if (r->orphan__) /* the api is closing: let the client reconnect elsewhere */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONNECTION, NULL,
                       H2O_STRLIT("close"));
    /* h2o_send_inline leaves the length unset; without it h2o 2.2 answers a
     * request that had a body with "Connection: close" and no framing, so
     * every POST/PUT cost a new TLS connection. */
    req->res.content_length = len;
    LOG_DEBUG("api", "reply", "status=%d sock=%p", http_status,
              (void *)(req->conn->callbacks->get_socket
                           ? req->conn->callbacks->get_socket(req->conn)
                           : NULL));
    h2o_send_inline(req, body, len); /* copies body into the request pool */
}

void api_req_warn(struct api_req *r, const char *msg)
{
    char *c;
    if (r->n_warnings == API_WARNINGS_MAX)
        return;
    c = api_req_strdup(r, msg);
    if (c != NULL) {
        /* a line break would end the header */
        for (char *q = c; *q != '\0'; q++)
            if (*q == '\r' || *q == '\n')
                *q = ' ';
        r->warnings[r->n_warnings++] = c;
    }
}

void api_reply_json(struct api_req *r, int http_status, json_t *body)
{
    char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (txt == NULL) {
        static const char oom[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                                  "\"status\":\"Failure\",\"message\":\"out of memory\","
                                  "\"reason\":\"InternalError\",\"code\":500}";
        api_reply_raw(r, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    api_reply_raw(r, http_status, "application/json", txt, strlen(txt));
    free(txt);
}

static void reply_status_v(struct api_req *r, int http_status, const char *reason, const char *fmt,
                           va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    LOG_DEBUG("api", "request_failed", "method=%s path=%s code=%d reason=%s err=\"%s\"",
              r->method ? r->method : "?", r->path ? r->path : "?", http_status, reason, msg);
    api_reply_json(r, http_status, api__status_json(http_status, reason, msg));
}

void api_reply_status(struct api_req *r, int http_status, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_status_v(r, http_status, reason, fmt, ap);
    va_end(ap);
}

void api_reply_error(struct api_req *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_status_v(r, api__status_http(code), api__status_reason(code), fmt, ap);
    va_end(ap);
}

void api_reply_err(struct api_req *r, const struct err *e)
{
    if (e->code == ERR_IO || e->code == ERR_NOMEM)
        LOG_WARN("api", "request_failed", "method=%s path=%s err=\"%s\"", r->method, r->path,
                 e->msg);
    api_reply_error(r, e->code, "%s", e->msg);
}

/* ---- async operations ---- */

static void on_op_done(struct api_req *r, int status)
{
    /* hold r across the callback: a reply may dispose the h2o request */
    if (!r->orphan__ && r->h2o__ != NULL && !r->replied__)
        r->done__(r, status);
    req_unref(r);
}

static void on_propose(struct cons_propose *p, int status)
{
    on_op_done(p->data, status);
}

static void on_status(struct cons_status_req *s, int status)
{
    on_op_done(s->data, status);
}

int api_req_propose(struct api_req *r, const struct store_txn *txn, api_done_fn done, struct err *e)
{
    int rv;
    memset(&r->op.propose, 0, sizeof r->op.propose);
    r->op.propose.data = r;
    r->done__ = done;
    r->refs__++;
    rv = cons_propose(r->cons, &r->op.propose, txn, 0, on_propose);
    if (rv != 0) {
        r->refs__--;
        if (r->op.propose.err.msg[0] != '\0')
            return err_setf(e, rv, "%s", r->op.propose.err.msg);
        return err_setf(e, rv, "propose: %s", err_name(rv));
    }
    return 0;
}

int api_req_barrier(struct api_req *r, api_done_fn done, struct err *e)
{
    int rv;
    memset(&r->op.propose, 0, sizeof r->op.propose);
    r->op.propose.data = r;
    r->done__ = done;
    r->refs__++;
    rv = cons_barrier(r->cons, &r->op.propose, 0, on_propose);
    if (rv != 0) {
        r->refs__--;
        return err_setf(e, rv, "read barrier: %s", err_name(rv));
    }
    return 0;
}

struct work_op {
    uv_work_t w;
    struct api_req *r;
    void (*fn)(struct api_req *r);
};

static void on_work(uv_work_t *w)
{
    struct work_op *op = w->data;
    op->fn(op->r);
}

static void on_work_done(uv_work_t *w, int status)
{
    struct work_op *op = w->data;
    struct api_req *r = op->r;
    free(op);
    on_op_done(r, status == 0 ? 0 : ERR_SHUTDOWN);
}

int api_req_work(struct api_req *r, void (*fn)(struct api_req *r), api_done_fn done, struct err *e)
{
    struct work_op *op = calloc(1, sizeof *op);
    int rv;
    if (op == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    op->r = r;
    op->fn = fn;
    op->w.data = op;
    r->done__ = done;
    r->refs__++;
    rv = uv_queue_work(r->api->loop, &op->w, on_work, on_work_done);
    if (rv != 0) {
        r->refs__--;
        free(op);
        return err_setf(e, ERR_IO, "thread pool: %s", uv_strerror(rv));
    }
    return 0;
}

int api_req_status(struct api_req *r, api_done_fn done, struct err *e)
{
    int rv;
    memset(&r->op.status, 0, sizeof r->op.status);
    r->op.status.data = r;
    r->done__ = done;
    r->refs__++;
    rv = cons_status(r->cons, &r->op.status, on_status);
    if (rv != 0) {
        r->refs__--;
        return err_setf(e, rv, "cluster status: %s", err_name(rv));
    }
    return 0;
}

/* ---- request decoding ---- */

static int parse_query(struct api_req *r, const char *q, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i, eq;
        char *k, *v;
        while (end < len && q[end] != '&')
            end++;
        for (eq = i; eq < end && q[eq] != '='; eq++)
            ;
        if (end > i) {
            if (r->n_query == API_QUERY_MAX)
                return ERR_INVALID;
            k = api__percent_decode(q + i, eq - i);
            v = eq < end ? api__percent_decode(q + eq + 1, end - eq - 1) : strdup("");
            if (k == NULL || v == NULL) {
                free(k);
                free(v);
                return ERR_INVALID;
            }
            r->query[r->n_query].key = api_req_strdup(r, k);
            r->query[r->n_query].value = api_req_strdup(r, v);
            free(k);
            free(v);
            if (r->query[r->n_query].key == NULL || r->query[r->n_query].value == NULL)
                return ERR_NOMEM;
            r->n_query++;
        }
        i = end + 1;
    }
    return 0;
}

/* Bearer token -> identity. The token is hashed and looked up; it is never
 * logged nor kept. */
enum { AUTH_OK, AUTH_DENIED, AUTH_UNKNOWN };

/* h2o 2.2 keeps the connection's SSL* in a private struct whose first two
 * members are the SSL_CTX and the SSL (lib/common/socket.c,
 * st_h2o_socket_ssl_t) and offers no accessor. We read it through that
 * layout and check it: the SSL must belong to our own SSL_CTX, or client
 * certificates are simply not used (bearer tokens still work). */
struct h2o_ssl_prefix {
    SSL_CTX *ctx;
    SSL *ossl;
};

static SSL *conn_ssl(struct api *a, h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    struct h2o_ssl_prefix *p;
    if (sock == NULL || sock->ssl == NULL)
        return NULL;
    p = (struct h2o_ssl_prefix *)sock->ssl;
    if (p->ctx != a->ssl || p->ossl == NULL || SSL_get_SSL_CTX(p->ossl) != a->ssl)
        return NULL;
    return p->ossl;
}

/* A verified client certificate -> identity: O=system:masters is an admin
 * (skiff init writes one into admin.kubeconfig), a node certificate
 * (O=skiff:nodes, CN = node name) is "system:node:<name>", as kubelets are. */
static int authenticate_cert(struct api_req *r, h2o_req_t *req)
{
    SSL *ssl = conn_ssl(r->api, req);
    X509 *cert;
    X509_NAME *subj;
    char cn[256] = "", org[256] = "", *id;
    struct err e;
    if (ssl == NULL || (cert = SSL_get0_peer_certificate(ssl)) == NULL ||
        SSL_get_verify_result(ssl) != X509_V_OK)
        return AUTH_DENIED;
    subj = X509_get_subject_name(cert);
    X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn);
    X509_NAME_get_text_by_NID(subj, NID_organizationName, org, sizeof org);
    if (strcmp(org, PKI_ADMIN_ORG) == 0) {
        r->identity = "admin";
        return AUTH_OK;
    }
    if (strcmp(org, PKI_NODE_ORG) != 0 || pki_node_name_check(cn, &e) != 0)
        return AUTH_DENIED;
    id = api_req_alloc(r, strlen(cn) + 13);
    if (id == NULL)
        return AUTH_DENIED;
    sprintf(id, "system:node:%s", cn);
    r->identity = id;
    return AUTH_OK;
}

static int authenticate(struct api_req *r, h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    char token[512], key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    struct err e;
    h2o_iovec_t v;
    int rv;

    if (i < 0)
        return authenticate_cert(r, req);
    v = req->headers.entries[i].value;
    if (v.len <= 7 || v.len - 7 >= sizeof token || strncasecmp(v.base, "Bearer ", 7) != 0)
        return AUTH_DENIED;
    memcpy(token, v.base + 7, v.len - 7);
    token[v.len - 7] = '\0';
    rv = api_admin_token_key(token, key, sizeof key, &e);
    OPENSSL_cleanse(token, sizeof token);
    if (rv != 0)
        return AUTH_DENIED;
    if (store_get(r->store, key, &kv, &e) != 0)
        return AUTH_UNKNOWN;
    store_kv_close(&kv);
    r->identity = "admin";
    return AUTH_OK;
}

static void dispatch_authed(struct api_req *r, h2o_req_t *req);

/* A token unknown here may simply not have reached this replica yet (a node
 * that joined a moment ago): catch up with the leader once, then decide.
 * Bounded, so a flood of bad tokens cannot queue unbounded raft barriers. */
#define AUTH_BARRIERS_PER_S 20

static bool auth_barrier_allowed(struct api *a)
{
    static uint64_t window_ms, used;
    uint64_t now = uv_now(a->loop);
    if (now - window_ms >= 1000) {
        window_ms = now;
        used = 0;
    }
    return used++ < AUTH_BARRIERS_PER_S;
}

static void on_auth_barrier(struct api_req *r, int status)
{
    h2o_req_t *req = r->h2o__;
    if (status != 0 || authenticate(r, req) != AUTH_OK) {
        api_reply_error(r, ERR_DENIED, "Unauthorized");
        return;
    }
    dispatch_authed(r, req);
}

static void dispatch(struct api *a, struct api_req *r, h2o_req_t *req)
{
    char capbuf[STORE_KEY_MAX + 1];
    const struct api_route *rt;
    bool method_ok;
    size_t i;

    rt = api__route_find(a, r->method, r->path, capbuf, sizeof capbuf, r->caps, &r->n_caps,
                         &method_ok);
    if (rt == NULL) {
        if (!method_ok)
            api_reply_status(r, 405, "MethodNotAllowed",
                             "the server does not allow this method "
                             "on the requested resource");
        else
            api_reply_error(r, ERR_NOTFOUND, "the server could not find the requested resource");
        return;
    }
    for (i = 0; i < r->n_caps; i++) {
        r->caps[i] = api_req_strdup(r, r->caps[i]);
        if (r->caps[i] == NULL) {
            api_reply_error(r, ERR_NOMEM, "out of memory");
            return;
        }
    }
    r->identity = "system:anonymous";
    r->route__ = rt;
    if (!(rt->flags & API_ROUTE_NOAUTH)) {
        int auth = authenticate(r, req);
        struct err e;
        if (auth == AUTH_UNKNOWN && auth_barrier_allowed(r->api) &&
            api_req_barrier(r, on_auth_barrier, &e) == 0)
            return;
        if (auth != AUTH_OK) {
            api_reply_error(r, ERR_DENIED, "Unauthorized");
            return;
        }
    }
    dispatch_authed(r, req);
}

#define PROTOBUF_MEDIA "application/vnd.kubernetes.protobuf"

/* ct's media type (before any ';' parameter) is media, case-insensitively */
static bool media_is(const char *ct, const char *media)
{
    size_t n = strlen(media);
    return strncasecmp(ct, media, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void dispatch_authed(struct api_req *r, h2o_req_t *req)
{
    const struct api_route *rt = r->route__;
    if (req->entity.base != NULL && req->entity.len > API_BODY_MAX_BYTES) {
        api_reply_status(r, 413, "RequestEntityTooLarge",
                         "request body: %zu bytes exceed the limit of %u", req->entity.len,
                         API_BODY_MAX_BYTES);
        return;
    }
    if (req->entity.base != NULL && req->entity.len > 0) {
        r->body = req_strndup(r, req->entity.base, req->entity.len);
        r->body_len = req->entity.len;
        if (r->body == NULL) {
            api_reply_error(r, ERR_NOMEM, "out of memory");
            return;
        }
        if (media_is(r->content_type, PROTOBUF_MEDIA)) {
            /* kubectl >= 1.32 sends typed creates (create configmap,
             * deployment, job...) as protobuf: decode them into the JSON the
             * same request would carry, and go on as if it had been JSON.
             * Kinds the decoder does not know get the apiserver's 415. */
            json_t *j = NULL;
            struct err pe;
            char *txt;
            if (api__proto_decode(r->body, r->body_len, &j, &pe) != 0) {
                if ((strstr(pe.msg, "unknown kind") != NULL &&
                     strstr(pe.msg, "unknown kind \"\"") == NULL) ||
                    pe.code == ERR_NOMEM)
                    api_reply_status(r, 415, "UnsupportedMediaType",
                                     "the body of the request was in an unknown format - "
                                     "accepted media types include: application/json, "
                                     "application/merge-patch+json");
                else
                    api_reply_status(r, 400, "BadRequest", "%s", pe.msg);
                return;
            }
            txt = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            r->body = txt ? req_strndup(r, txt, strlen(txt)) : NULL;
            r->body_len = txt ? strlen(txt) : 0;
            free(txt);
            r->content_type = "application/json";
            if (r->body == NULL) {
                api_reply_error(r, ERR_NOMEM, "out of memory");
                return;
            }
        }
        if (!(rt->flags & API_ROUTE_RAW_BODY)) {
            json_error_t je;
            r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
            if (r->json == NULL) {
                api_reply_status(r, 400, "BadRequest",
                                 "request body: invalid JSON: %s (line %d "
                                 "column %d)",
                                 je.text, je.line, je.column);
                return;
            }
        }
    }
    rt->fn(r);
}

/* The first value of header tok, copied into r's arena; "" when absent. */
static const char *header_dup(struct api_req *r, h2o_req_t *req, const h2o_token_t *tok)
{
    ssize_t i = h2o_find_header(&req->headers, tok, -1);
    if (i < 0)
        return "";
    return req_strndup(r, req->headers.entries[i].value.base, req->headers.entries[i].value.len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct api *a = ((struct handler *)self)->a;
    struct api_req *r, **slot;

    r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1; /* h2o answers 404; nothing better without memory */
    slot = h2o_mem_alloc_shared(&req->pool, sizeof *slot, on_pool_dispose);
    *slot = r;
    r->api = a;
    r->cons = a->cons;
    r->store = cons_store(a->cons);
    r->h2o__ = req;
    r->start_ns__ = uv_hrtime();
    r->refs__ = 2; /* the h2o request + this call (see on_op_done) */
    r->next__ = a->reqs;
    if (a->reqs != NULL)
        a->reqs->prev__ = r;
    a->reqs = r;

    r->method = req_strndup(r, req->method.base, req->method.len);
    r->path = req_strndup(r, req->path_normalized.base, req->path_normalized.len);
    r->accept = header_dup(r, req, H2O_TOKEN_ACCEPT);
    r->content_type = header_dup(r, req, H2O_TOKEN_CONTENT_TYPE);
    r->user_agent = header_dup(r, req, H2O_TOKEN_USER_AGENT);
    if (r->method == NULL || r->path == NULL || r->accept == NULL || r->content_type == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        goto out;
    }
    if (a->closing) {
        api_reply_error(r, ERR_SHUTDOWN, "api: node is shutting down");
        goto out;
    }
    if (req->query_at != SIZE_MAX && parse_query(r, req->path.base + req->query_at + 1,
                                                 req->path.len - req->query_at - 1) != 0) {
        api_reply_status(r, 400, "BadRequest", "query: malformed or more than %d parameters",
                         API_QUERY_MAX);
        goto out;
    }
    LOG_DEBUG("api", "request", "method=%s path=%s", r->method, r->path);
    dispatch(a, r, req);
out:
    req_unref(r);
    return 0;
}

/* ---- lifecycle ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int ssl_error(struct err *e, const char *what, const char *file)
{
    char buf[160];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return err_setf(e, ERR_INVALID, "api: %s %s: %s", what, file ? file : "(none)", buf);
}

static int ssl_new(struct api *a, struct err *e)
{
    if (a->cert_file == NULL || a->key_file == NULL)
        return err_setf(e, ERR_INVALID, "api: cert_file and key_file are required");
    a->ssl = SSL_CTX_new(TLS_server_method());
    if (a->ssl == NULL)
        return err_setf(e, ERR_NOMEM, "api: SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(a->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(a->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(a->ssl, a->cert_file) != 1)
        return ssl_error(e, "certificate", a->cert_file);
    if (SSL_CTX_use_PrivateKey_file(a->ssl, a->key_file, SSL_FILETYPE_PEM) != 1)
        return ssl_error(e, "private key", a->key_file);
    if (SSL_CTX_check_private_key(a->ssl) != 1)
        return ssl_error(e, "private key does not match", a->cert_file);
    /* Client certificates are asked for but optional (bearer tokens need
     * none); one that is sent must chain to the cluster CA and carry EKU
     * clientAuth, or the handshake fails. */
    if (a->ca_file != NULL) {
        if (SSL_CTX_load_verify_locations(a->ssl, a->ca_file, NULL) != 1)
            return ssl_error(e, "cluster CA", a->ca_file);
        SSL_CTX_set_purpose(a->ssl, X509_PURPOSE_SSL_CLIENT);
        SSL_CTX_set_verify(a->ssl, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(a->ssl, 2);
        /* sessions would skip the certificate on resumption: keep it simple */
        SSL_CTX_set_session_id_context(a->ssl, (const unsigned char *)"skiff-api", 9);
    }
    return 0;
}

/* Startup only (before the loop runs), so a plain read is fine. */
static int read_ca(struct api *a, struct err *e)
{
    FILE *f;
    long n;
    if (a->ca_file == NULL)
        return 0;
    f = fopen(a->ca_file, "rb");
    if (f == NULL)
        return err_setf(e, ERR_IO, "api: ca %s: %s", a->ca_file, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1 << 20) ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return err_setf(e, ERR_IO, "api: ca %s: unreadable or larger than 1 MiB", a->ca_file);
    }
    a->ca_pem = calloc(1, (size_t)n + 1);
    if (a->ca_pem == NULL || fread(a->ca_pem, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return err_setf(e, ERR_IO, "api: ca %s: read failed", a->ca_file);
    }
    fclose(f);
    return 0;
}

static void api_free(struct api *a)
{
    if (a->ssl != NULL)
        SSL_CTX_free(a->ssl);
    free(a->listen);
    free(a->cert_file);
    free(a->key_file);
    free(a->ca_file);
    free(a->node_name);
    free(a->ca_pem);
    free(a);
}

int api_new(uv_loop_t *loop, struct cons *c, const struct api_config *cfg, struct api **out,
            struct err *e)
{
    struct api *a = calloc(1, sizeof *a);
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    struct handler *h;
    int rv;

    if (a == NULL)
        return err_setf(e, ERR_NOMEM, "api: out of memory");
    a->loop = loop;
    a->cons = c;
    a->listen = strdup(cfg->listen ? cfg->listen : API_DEFAULT_LISTEN);
    a->cert_file = dup_or_null(cfg->cert_file);
    a->key_file = dup_or_null(cfg->key_file);
    a->ca_file = dup_or_null(cfg->ca_file);
    a->node_name = strdup(cfg->node_name ? cfg->node_name : "");
    a->log_path = cfg->log_path;
    a->log_path_data = cfg->log_path_data;
    a->unsafe_stale_reads = getenv("SKIFF_UNSAFE_STALE_READS") != NULL &&
                            strcmp(getenv("SKIFF_UNSAFE_STALE_READS"), "1") == 0;
    if (a->unsafe_stale_reads)
        LOG_WARN("api", "unsafe_stale_reads",
                 "msg=\"SKIFF_UNSAFE_STALE_READS=1: GETs skip the read barrier and may return "
                 "STALE data; for jepsen only, never in production\"");
    a->exec = cfg->exec;
    a->exec_data = cfg->exec_data;
    a->metrics = cfg->metrics;
    a->metrics_data = cfg->metrics_data;
    if (a->listen == NULL || a->node_name == NULL) {
        api_free(a);
        return err_setf(e, ERR_NOMEM, "api: out of memory");
    }
    rv = ssl_new(a, e);
    if (rv == 0)
        rv = read_ca(a, e);
    if (rv != 0) {
        api_free(a);
        return rv;
    }
    /* a client closing mid-write must be an EPIPE, not a dead daemon */
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&a->config);
    /* An idle keep-alive connection is closed after this long without a new
     * request. It also bounds a stop: a client that reset its connection
     * while h2o was between requests is only noticed by this timer (h2o 2.2
     * does not poll an idle keep-alive socket), so api_close waits for it. */
    a->config.http1.req_timeout = API_IDLE_TIMEOUT_MS;
    a->config.server_name = h2o_iovec_init(H2O_STRLIT("skiff"));
    /* h2o's own 413 (plain text) only beyond this; up to it we answer a Status */
    a->config.max_request_entity_size = API_BODY_MAX_BYTES + (1u << 20);
    host = h2o_config_register_host(&a->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    h = (struct handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->a = a;
    h2o_context_init(&a->ctx, loop, &a->config);
    a->ctx_inited = true;
    a->accept.ctx = &a->ctx;
    a->accept.hosts = a->config.hosts;
    a->accept.ssl_ctx = a->ssl;
    uv_timer_init(loop, &a->final_timer);
    a->final_timer.data = a;
    rv = api__join_routes_add(a, e);
    if (rv == 0)
        rv = api__exec_routes_add(a, e);
    if (rv == 0)
        rv = api__metrics_routes_add(a, e);
    if (rv == 0)
        rv = api__prom_routes_add(a, e);
    if (rv == 0)
        rv = api__hpa_v1_routes_add(a, e);
    if (rv != 0) {
        api_close(a, NULL, NULL);
        return rv;
    }
    *out = a;
    return 0;
}

static void on_conn_close(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    struct api *a = c->a;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    a->n_conns--;
    LOG_DEBUG("api", "conn_closed", "conn=%p open=%zu", (void *)c, a->n_conns);
    free(c);
    if (a->closing)
        maybe_finish(a);
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct api *a = listener->data;
    struct conn *c;
    h2o_socket_t *sock;

    if (status != 0 || a->closing)
        return;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->a = a;
    uv_tcp_init(a->loop, &c->tcp);
    c->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = c;
    a->conns = c;
    a->n_conns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
        return;
    }
    sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_close);
    LOG_DEBUG("api", "conn_accepted", "conn=%p sock=%p open=%zu", (void *)c, (void *)sock,
              a->n_conns);
    h2o_accept(&a->accept, sock);
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, struct err *e)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t n;
    long port;
    char *end;

    if (colon == NULL)
        return err_setf(e, ERR_INVALID, "api: listen %s: want IP:PORT", s);
    n = (size_t)(colon - s);
    if (n > 1 && s[0] == '[' && s[n - 1] == ']') {
        h = s + 1;
        n -= 2;
    }
    if (n >= sizeof host)
        return err_setf(e, ERR_INVALID, "api: listen %s: address too long", s);
    memcpy(host, h, n);
    host[n] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
        return err_setf(e, ERR_INVALID, "api: listen %s: bad port", s);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) != 0)
        return err_setf(e, ERR_INVALID, "api: listen %s: bad IP address", s);
    return 0;
}

int api_start(struct api *a, struct err *e)
{
    struct sockaddr_storage ss;
    int namelen = sizeof ss;
    int rv;

    rv = parse_listen(a->listen, &ss, e);
    if (rv != 0)
        return rv;
    uv_tcp_init(a->loop, &a->listener);
    a->listener.data = a;
    a->listener_inited = true;
    rv = uv_tcp_bind(&a->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&a->listener, 128, on_accept);
    if (rv != 0)
        return err_setf(e, ERR_IO, "api: listen %s: %s", a->listen, uv_strerror(rv));
    if (uv_tcp_getsockname(&a->listener, (struct sockaddr *)&ss, &namelen) == 0)
        a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
    LOG_INFO("api", "listening", "addr=%s port=%d", a->listen, a->port);
    return 0;
}

int api_port(struct api *a)
{
    return a->port;
}

static void on_final_close(uv_handle_t *h)
{
    struct api *a = h->data;
    api_close_cb cb = a->close_cb;
    void *data = a->close_data;
    api_free(a);
    if (cb != NULL)
        cb(data);
}

/* One loop turn after h2o_context_dispose, so the handles it closed are
 * gone before our caller may call uv_loop_close. */
static void on_final_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, on_final_close);
}

static void maybe_finish(struct api *a)
{
    if (!a->closing || a->finishing || a->handles_closing > 0 || a->n_conns > 0)
        return;
    a->finishing = true;
    if (a->ctx_inited)
        h2o_context_dispose(&a->ctx);
    h2o_config_dispose(&a->config);
    uv_timer_start(&a->final_timer, on_final_timer, 0, 0);
}

static void on_listener_close(uv_handle_t *h)
{
    struct api *a = h->data;
    a->handles_closing--;
    maybe_finish(a);
}

void api_close(struct api *a, api_close_cb cb, void *data)
{
    struct api_req *r, *next;
    struct conn *c;

    assert(!a->closing);
    a->closing = true;
    a->close_cb = cb;
    a->close_data = data;
    if (a->listener_inited) {
        a->handles_closing++;
        uv_close((uv_handle_t *)&a->listener, on_listener_close);
    }
    for (r = a->reqs; r != NULL; r = next) {
        next = r->next__;
        r->refs__++; /* replies below may dispose the h2o request */
        r->orphan__ = true;
        if (r->watch__ != NULL)
            api__watch_shutdown(r);
        else if (!r->replied__)
            api_reply_error(r, ERR_SHUTDOWN, "api: node is shutting down");
        req_unlink(r); /* from now on r never touches a */
        req_unref(r);
    }
    /* No h2o_context_request_shutdown: with HTTP/1 only it would just arm
     * h2o's graceful-shutdown timer, which h2o_context_dispose then finds
     * still linked (assertion). Shutting the sockets down is enough. */
    /* Idle keep-alive connections wait for a request h2o would only time out
     * after http1.req_timeout; shutting the socket down wakes h2o's read with
     * EOF so it closes them through its own path. */
    for (c = a->conns; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    maybe_finish(a);
}

const char *api__ca_file(struct api *a)
{
    return a->ca_file;
}

struct api__prom *api__prom(struct api *a)
{
    return &a->prom;
}

size_t api__watch_count(struct api *a)
{
    size_t n = 0;
    for (struct api_req *r = a->reqs; r != NULL; r = r->next__)
        n += r->watch__ != NULL;
    return n;
}

void api_stats(struct api *a, size_t *conns, size_t *reqs, bool *listener_open)
{
    size_t n = 0;
    for (struct api_req *r = a->reqs; r != NULL; r = r->next__)
        n++;
    *conns = a->n_conns;
    *reqs = n;
    *listener_open = a->handles_closing > 0;
}
