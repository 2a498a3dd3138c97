/* The HTTPS server end to end on one loop, over the real store, with a fake
 * of the few cons_* calls the api makes (defined here, so the linker never
 * pulls consensus/ from libskiff.a). A client thread drives libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"

struct cons {
    uv_loop_t *loop;
    struct store *s;
    uint64_t index;
};

struct deferred {
    uv_timer_t t;
    struct cons_propose *p;
    struct cons_status_req *st;
    cons_propose_cb pcb;
    cons_status_cb scb;
};

static void on_deferred_close(uv_handle_t *h)
{
    free(h->data);
}

static void on_deferred(uv_timer_t *t)
{
    struct deferred *d = t->data;
    if (d->p != NULL)
        d->pcb(d->p, 0);
    else
        d->scb(d->st, 0);
    uv_close((uv_handle_t *)t, on_deferred_close);
}

static void defer(struct cons *c, struct deferred *d)
{
    uv_timer_init(c->loop, &d->t);
    d->t.data = d;
    uv_timer_start(&d->t, on_deferred, 0, 0);
}

struct store *cons_store(struct cons *c)
{
    return c->s;
}

int cons_propose(struct cons *c, struct cons_propose *req, const struct store_txn *txn,
                 unsigned timeout_ms, cons_propose_cb cb)
{
    struct deferred *d = calloc(1, sizeof *d);
    int rv = store_txn_apply(c->s, ++c->index, txn, &req->result, &req->err);
    if (rv != 0) {
        free(d);
        return rv;
    }
    d->p = req;
    d->pcb = cb;
    defer(c, d);
    return 0;
}

int cons_barrier(struct cons *c, struct cons_propose *req, unsigned timeout_ms, cons_propose_cb cb)
{
    struct deferred *d = calloc(1, sizeof *d);
    req->result.rev = store_revision(c->s);
    d->p = req;
    d->pcb = cb;
    defer(c, d);
    return 0;
}

/* the pod log proxy reads member records; no members in this fixture */
int cons_member_decode(const void *data, size_t len, struct cons_member *out, struct err *e)
{
    (void)data;
    (void)len;
    (void)out;
    return err_setf(e, ERR_INVALID, "no members here");
}

int cons_status(struct cons *c, struct cons_status_req *req, cons_status_cb cb)
{
    struct deferred *d = calloc(1, sizeof *d);
    memset(&req->st, 0, sizeof req->st);
    snprintf(req->st.leader, sizeof req->st.leader, "n1");
    req->st.term = 3;
    req->st.revision = store_revision(c->s);
    req->st.n_members = 1;
    snprintf(req->st.members[0].name, 64, "n1");
    req->st.members[0].role = CONS_ROLE_VOTER;
    req->st.members[0].is_leader = true;
    req->st.members[0].reachable = true;
    d->st = req;
    d->scb = cb;
    defer(c, d);
    return 0;
}

const char *cons_role_name(int role)
{
    return role == CONS_ROLE_VOTER ? "voter" : "standby";
}

int cons_member_encode(const char *name, uint64_t id, const char *peer_address,
                       const char *api_address, void **data, size_t *len, struct err *e)
{
    return err_setf(e, ERR_INVALID, "fake");
}

/* GET /metrics (api/h_prom.c) asks consensus for its figures */
void cons_metrics(struct cons *c, struct cons_metrics *out)
{
    memset(out, 0, sizeof *out);
}

/* ---- fixture ---- */

#define TOKEN "t0ken"
#define CERT  "/tmp/skiff-api-test-cert.pem"
#define KEY   "/tmp/skiff-api-test-key.pem"

/* A throwaway self-signed certificate for 127.0.0.1 (openssl is a dep). */
static int make_cert(void **state)
{
    (void)state;
    return system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                  "-keyout " KEY " -out " CERT " -days 1 -subj /CN=localhost "
                  "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1") == 0
               ? 0
               : -1;
}

static int drop_cert(void **state)
{
    (void)state;
    unlink(CERT);
    unlink(KEY);
    return 0;
}

struct fx {
    uv_loop_t loop;
    char dir[64];
    struct cons c;
    struct api *api;
    uv_async_t done;
    int port;
    void (*client)(struct fx *);
    bool closed;
};

struct resp {
    long status;
    char body[65536];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    struct resp *r = data;
    size_t k = size * n;
    if (r->len + k >= sizeof r->body)
        k = sizeof r->body - r->len - 1;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return size * n;
}

static void http(struct fx *f, const char *method, const char *path, const char *body, bool auth,
                 struct resp *r)
{
    char url[512];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "https://127.0.0.1:%d%s", f->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CAINFO, CERT);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (auth)
        h = curl_slist_append(h, "Authorization: Bearer " TOKEN);
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void *client_main(void *p)
{
    struct fx *f = p;
    f->client(f);
    uv_async_send(&f->done);
    return NULL;
}

static void on_api_closed(void *data)
{
    ((struct fx *)data)->closed = true;
}

static void on_done(uv_async_t *a)
{
    struct fx *f = a->data;
    api_close(f->api, on_api_closed, f);
    uv_close((uv_handle_t *)a, NULL);
}

static void run(void (*client)(struct fx *))
{
    struct fx f;
    struct api_config cfg = {
        .listen = "127.0.0.1:0", .cert_file = CERT, .key_file = KEY, .ca_file = CERT, .node_name = "n1"};
    struct store_cmp none;
    struct store_op op;
    struct store_txn txn = {&none, 0, &op, 1};
    struct store_txn_result res;
    char key[128];
    struct err e;
    pthread_t th;

    memset(&f, 0, sizeof f);
    f.client = client;
    assert_int_equal(uv_loop_init(&f.loop), 0);
    snprintf(f.dir, sizeof f.dir, "/tmp/skiff-api-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    assert_int_equal(store_open(f.dir, NULL, &f.c.s, &e), 0);
    f.c.loop = &f.loop;
    assert_int_equal(api_admin_token_key(TOKEN, key, sizeof key, &e), 0);
    op = (struct store_op){STORE_OP_PUT, key, "1", 1};
    assert_int_equal(store_txn_apply(f.c.s, ++f.c.index, &txn, &res, &e), 0);
    {
        void *val;
        size_t len;
        assert_int_equal(api_namespace_kv("default", key, sizeof key, &val, &len, &e), 0);
        op = (struct store_op){STORE_OP_PUT, key, val, len};
        assert_int_equal(store_txn_apply(f.c.s, ++f.c.index, &txn, &res, &e), 0);
        free(val);
    }
    assert_int_equal(api_new(&f.loop, &f.c, &cfg, &f.api, &e), 0);
    assert_int_equal(api_start(f.api, &e), 0);
    f.port = api_port(f.api);
    uv_async_init(&f.loop, &f.done, on_done);
    f.done.data = &f;
    pthread_create(&th, NULL, client_main, &f);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    assert_true(f.closed);
    assert_int_equal(uv_loop_close(&f.loop), 0);
    store_close(f.c.s);
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f.dir);
        assert_int_equal(system(cmd), 0);
    }
}

#define EXPECT(r, code, needle)                                                                    \
    do {                                                                                           \
        if ((r).status != (code) || strstr((r).body, (needle)) == NULL)                            \
            fail_msg("line %d: got %ld %s, want %d with %s", __LINE__, (r).status, (r).body,       \
                     (code), (needle));                                                            \
    } while (0)

static void crud_client(struct fx *f)
{
    struct resp r;
    const char *cm = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\","
                     "\"labels\":{\"app\":\"web\"}},\"data\":{\"k\":\"v\"}}";
    http(f, "GET", "/healthz", NULL, false, &r);
    EXPECT(r, 200, "ok");
    http(f, "GET", "/readyz", NULL, false, &r);
    EXPECT(r, 200, "ok");
    http(f, "GET", "/skiff/v1/ca", NULL, false, &r);
    EXPECT(r, 200, "BEGIN CERTIFICATE");
    http(f, "GET", "/api/v1/namespaces/default/configmaps", NULL, false, &r);
    EXPECT(r, 401, "\"reason\":\"Unauthorized\"");
    http(f, "POST", "/api/v1/namespaces/default/configmaps", cm, true, &r);
    EXPECT(r, 201, "\"resourceVersion\":\"3\"");
    http(f, "POST", "/api/v1/namespaces/default/configmaps", cm, true, &r);
    EXPECT(r, 409, "\"reason\":\"AlreadyExists\"");
    http(f, "POST", "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"X_y\"}}",
         true, &r);
    EXPECT(r, 422, "metadata.name: Invalid value: \\\"X_y\\\"");
    http(f, "POST", "/api/v1/namespaces/default/configmaps", "{nope", true, &r);
    EXPECT(r, 400, "BadRequest");
    http(f, "POST", "/api/v1/namespaces/default/configmaps",
         "{\"metadata\":{\"generateName\":\"gen-\"}}", true, &r);
    EXPECT(r, 201, "\"name\":\"gen-");
    http(f, "GET", "/api/v1/namespaces/default/configmaps/web", NULL, true, &r);
    EXPECT(r, 200, "\"uid\":");
    http(f, "PUT", "/api/v1/namespaces/default/configmaps/web",
         "{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"1\"},\"data\":{}}", true, &r);
    EXPECT(r, 409, "\"reason\":\"Conflict\"");
    http(f, "PUT", "/api/v1/namespaces/default/configmaps/web",
         "{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"3\"},\"data\":{\"k\":\"w\"}}", true,
         &r);
    EXPECT(r, 200, "\"k\":\"w\"");
    http(f, "PUT", "/api/v1/namespaces/default/configmaps/nope",
         "{\"metadata\":{\"name\":\"nope\"}}", true, &r);
    EXPECT(r, 404, "NotFound");
    http(f, "GET", "/api/v1/namespaces/default/configmaps?limit=1", NULL, true, &r);
    EXPECT(r, 200, "\"continue\":\"");
    http(f, "GET", "/api/v1/configmaps?labelSelector=%21app%2Capp%21%3Ddb", NULL, true, &r);
    EXPECT(r, 200, "\"name\":\"web\"");
    http(f, "GET", "/api/v1/configmaps?continue=zzz", NULL, true, &r);
    EXPECT(r, 400, "continue");
    http(f, "GET",
         "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1", NULL,
         true, &r);
    EXPECT(r, 200, "{\"type\":\"ADDED\"");
    if (strstr(r.body, "\"type\":\"MODIFIED\"") == NULL)
        fail_msg("watch lacks MODIFIED: %s", r.body);
    http(f, "DELETE", "/api/v1/namespaces/default/configmaps/web", NULL, true, &r);
    EXPECT(r, 200, "\"name\":\"web\"");
    http(f, "DELETE", "/api/v1/namespaces/default/configmaps/web", NULL, true, &r);
    EXPECT(r, 404, "configmaps \\\"web\\\" not found");
    http(f, "GET", "/skiff/v1/cluster/status", NULL, true, &r);
    EXPECT(r, 200, "\"leader\":\"n1\"");
    http(f, "GET", "/api/v1/nodes", NULL, true, &r);
    EXPECT(r, 200, "NodeList");
    http(f, "PATCH", "/api/v1/nodes", NULL, true, &r);
    EXPECT(r, 405, "MethodNotAllowed");
    http(f, "GET", "/apis/apps/v1/namespaces/default/widgets", NULL, true, &r);
    EXPECT(r, 404, "NotFound");
}

static void test_server_crud_watch_and_errors(void **state)
{
    (void)state;
    run(crud_client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_crud_watch_and_errors),
    };
    return cmocka_run_group_tests(tests, make_cert, drop_cert);
}
