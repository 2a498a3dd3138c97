#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>

#include "consensus/internal.h"
#include "lib/tls.h"
#include "tests/unit/helpers/helpers.h"

/* ---- certificates (openssl CLI, once per group) ------------------------------------------ */

static struct helpers_certs certs;

static const char *path(const char *name)
{
    return helpers_certs_path(&certs, name);
}

static int group_setup(void **state)
{
    static const char *const names[] = {"node1", "node2", "node3"};
    signal(SIGPIPE, SIG_IGN);
    if (helpers_certs_create(&certs, "skiff-transport", names, 3) != 0)
        return -1;
    /* raft data dirs of the end-to-end test */
    if (mkdir(path("r1"), 0700) != 0 || mkdir(path("r2"), 0700) != 0 ||
        mkdir(path("r3"), 0700) != 0) {
        helpers_certs_remove(&certs);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    helpers_certs_remove(&certs);
    return 0;
}

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
    int port = helpers_free_port();
    assert_true(port > 0);
    return port;
}

/* ---- fixture ------------------------------------------------------------------------------ */

struct stream {
    uv_stream_t *s;
    char rx[4096];
    size_t rx_len;
    bool eof;
    bool closed;
};

struct node {
    struct raft_uv_transport t;
    char address[64];
    bool closed;
    int accepts;
    raft_id accepted_id;
    char accepted_address[64];
    struct stream in; /* accepted raft or rpc stream */
    int rpcs;
    char rpc_cn[64];
    /* outbound */
    struct raft_uv_connect creq;
    bool connected;
    int connect_status;
    struct stream out;
    struct cons__rpc_connect rreq;
    bool rpc_done;
    int rpc_status;
    char rpc_peer_cn[64];
};

struct fix {
    uv_loop_t loop;
    uv_timer_t tick;
    struct node a;
    struct node b;
};

static void stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct stream *x = h->data;
    buf->base = x->rx + x->rx_len;
    buf->len = sizeof x->rx - x->rx_len;
}

static void stream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct stream *x = s->data;
    if (n > 0)
        x->rx_len += (size_t)n;
    else if (n < 0) {
        x->eof = true;
        uv_read_stop(s);
    }
}

static void stream_take(struct stream *x, uv_stream_t *s)
{
    x->s = s;
    s->data = x;
    assert_int_equal(uv_read_start(s, stream_alloc, stream_read), 0);
}

static void stream_closed(uv_handle_t *h)
{
    struct stream *x = h->data;
    x->closed = true;
    raft_free(h);
}

static void stream_close(struct stream *x)
{
    if (x->s != NULL && !uv_is_closing((uv_handle_t *)x->s))
        uv_close((uv_handle_t *)x->s, stream_closed);
}

static void stream_write(struct stream *x, const char *data)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)strlen(data));
    assert_int_equal(uv_try_write(x->s, &b, 1), (int)strlen(data));
}

static void accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
                      uv_stream_t *stream)
{
    struct node *n = t->data;
    n->accepts++;
    n->accepted_id = id;
    snprintf(n->accepted_address, sizeof n->accepted_address, "%s", address);
    stream_take(&n->in, stream);
}

static void rpc_cb(void *data, uv_stream_t *stream, const char *peer_cn)
{
    struct node *n = data;
    n->rpcs++;
    snprintf(n->rpc_cn, sizeof n->rpc_cn, "%s", peer_cn);
    stream_take(&n->in, stream);
}

static void connect_cb(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
    struct node *n = req->data;
    assert_false(n->connected);
    n->connected = true;
    n->connect_status = status;
    if (status == 0)
        stream_take(&n->out, stream);
    else
        assert_null(stream);
}

static void rpc_connect_cb(struct cons__rpc_connect *req, uv_stream_t *stream, int status,
                           const char *peer_cn)
{
    struct node *n = req->data;
    assert_false(n->rpc_done);
    n->rpc_done = true;
    n->rpc_status = status;
    if (status == 0) {
        snprintf(n->rpc_peer_cn, sizeof n->rpc_peer_cn, "%s", peer_cn);
        stream_take(&n->out, stream);
    }
}

static void node_init(struct fix *f, struct node *n, raft_id id, const char *cert, const char *key)
{
    struct err e;
    assert_int_equal(cons__transport_init(&n->t, &f->loop, cert, key, path("ca.crt"), &e), 0);
    n->t.data = n;
    snprintf(n->address, sizeof n->address, "127.0.0.1:%d", free_port());
    assert_int_equal(n->t.init(&n->t, id, n->address), 0);
    cons__transport_set_rpc_cb(&n->t, rpc_cb, n);
}

static void transport_closed(struct raft_uv_transport *t)
{
    struct node *n = t->data;
    n->closed = true;
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->tick), 0);
    node_init(f, &f->a, 1, path("node1.crt"), path("node1.key"));
    node_init(f, &f->b, 2, path("node2.crt"), path("node2.key"));
    assert_int_equal(f->a.t.listen(&f->a.t, accept_cb), 0);
    f->b.creq.data = &f->b;
    f->b.rreq.data = &f->b;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    struct node *ns[] = {&f->a, &f->b};
    for (int i = 0; i < 2; i++) {
        stream_close(&ns[i]->in);
        stream_close(&ns[i]->out);
        if (!ns[i]->closed)
            ns[i]->t.close(&ns[i]->t, transport_closed);
    }
    RUN_UNTIL(f, f->a.closed && f->b.closed, 10000);
    cons__transport_close(&f->a.t);
    cons__transport_close(&f->b.t);
    uv_close((uv_handle_t *)&f->tick, NULL);
    assert_int_equal(helpers_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_connect_delivers_accept_with_id_and_address_and_hides_handshake(void **state)
{
    struct fix *f = *state;
    assert_int_equal(f->b.t.connect(&f->b.t, &f->b.creq, 1, f->a.address, connect_cb), 0);
    assert_false(f->b.connected);
    RUN_UNTIL(f, f->b.connected && f->a.accepts == 1, 5000);
    assert_int_equal(f->b.connect_status, 0);
    assert_int_equal(f->a.accepted_id, 2);
    assert_string_equal(f->a.accepted_address, f->b.address);
    assert_int_equal(f->a.rpcs, 0);

    /* The raft preamble was consumed: the first bytes raft reads are the sender's. */
    stream_write(&f->b.out, "append-entries");
    RUN_UNTIL(f, f->a.in.rx_len == strlen("append-entries"), 5000);
    assert_memory_equal(f->a.in.rx, "append-entries", f->a.in.rx_len);
    stream_write(&f->a.in, "ok");
    RUN_UNTIL(f, f->b.out.rx_len == 2, 5000);

    /* Closing one end reaches the other as EOF. */
    stream_close(&f->b.out);
    RUN_UNTIL(f, f->a.in.eof, 5000);
}

static void test_rpc_magic_routes_to_rpc_cb_with_peer_cn(void **state)
{
    struct fix *f = *state;
    struct err e;
    assert_int_equal(cons__rpc_connect(&f->b.t, &f->b.rreq, f->a.address, rpc_connect_cb, &e), 0);
    assert_false(f->b.rpc_done);
    RUN_UNTIL(f, f->b.rpc_done && f->a.rpcs == 1, 5000);
    assert_int_equal(f->b.rpc_status, 0);
    assert_string_equal(f->b.rpc_peer_cn, "node1");
    assert_string_equal(f->a.rpc_cn, "node2");
    assert_int_equal(f->a.accepts, 0);
    stream_write(&f->b.out, "propose");
    RUN_UNTIL(f, f->a.in.rx_len == 7, 5000);
    assert_memory_equal(f->a.in.rx, "propose", 7);
}

static void test_rpc_connect_rejects_bad_address(void **state)
{
    struct fix *f = *state;
    struct err e;
    assert_int_equal(cons__rpc_connect(&f->b.t, &f->b.rreq, "localhost", rpc_connect_cb, &e),
                     ERR_INVALID);
    assert_int_equal(cons__rpc_connect(&f->b.t, &f->b.rreq, "nohost:80", rpc_connect_cb, &e),
                     ERR_INVALID);
    assert_false(f->b.rpc_done);
}

static void test_foreign_cert_refused_before_raft_bytes(void **state)
{
    struct fix *f = *state;
    struct node *evil = &f->b;

    /* Swap b's identity for one signed by another CA. */
    f->b.t.close(&f->b.t, transport_closed);
    RUN_UNTIL(f, f->b.closed, 5000);
    cons__transport_close(&f->b.t);
    memset(evil, 0, sizeof *evil);
    evil->creq.data = evil;
    node_init(f, evil, 2, path("evil.crt"), path("evil.key"));

    assert_int_equal(evil->t.connect(&evil->t, &evil->creq, 1, f->a.address, connect_cb), 0);
    RUN_UNTIL(f, evil->connected, 5000);
    /* TLS 1.3 lets the client finish first; the server's refusal then ends the stream. */
    if (evil->connect_status == 0) {
        stream_write(&evil->out, "vote-for-me");
        RUN_UNTIL(f, evil->out.eof, 5000);
    }
    RUN_FOR(f, 100);
    assert_int_equal(f->a.accepts, 0);
    assert_int_equal(f->a.rpcs, 0);
}

/* A listener that accepts TCP and never speaks TLS: connects to it stay pending. */
struct mute {
    uv_tcp_t listener;
    uv_tcp_t conn[2];
    int accepted;
};

static void mute_listen_cb(uv_stream_t *s, int status)
{
    struct mute *m = s->data;
    assert_true(m->accepted < 2);
    uv_tcp_init(s->loop, &m->conn[m->accepted]);
    assert_int_equal(uv_accept(s, (uv_stream_t *)&m->conn[m->accepted]), 0);
    m->accepted++;
}

static void test_close_cancels_pending_connects(void **state)
{
    struct fix *f = *state;
    struct mute m = {.accepted = 0};
    struct sockaddr_in a;
    char addr[64];
    struct err e;
    int port = free_port();

    uv_tcp_init(&f->loop, &m.listener);
    m.listener.data = &m;
    uv_ip4_addr("127.0.0.1", port, &a);
    assert_int_equal(uv_tcp_bind(&m.listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&m.listener, 4, mute_listen_cb), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);

    assert_int_equal(f->b.t.connect(&f->b.t, &f->b.creq, 3, addr, connect_cb), 0);
    assert_int_equal(cons__rpc_connect(&f->b.t, &f->b.rreq, addr, rpc_connect_cb, &e), 0);
    RUN_UNTIL(f, m.accepted == 2, 5000);
    RUN_FOR(f, 50);
    assert_false(f->b.connected);
    assert_false(f->b.rpc_done);

    f->b.t.close(&f->b.t, transport_closed);
    assert_false(f->b.connected); /* never from inside close() */
    assert_false(f->b.closed);
    RUN_UNTIL(f, f->b.closed, 5000);
    assert_true(f->b.connected);
    assert_int_equal(f->b.connect_status, RAFT_CANCELED);
    assert_true(f->b.rpc_done);
    assert_int_equal(f->b.rpc_status, ERR_SHUTDOWN);
    assert_int_equal(cons__rpc_connect(&f->b.t, &f->b.rreq, f->a.address, rpc_connect_cb, &e),
                     ERR_SHUTDOWN);

    uv_close((uv_handle_t *)&m.conn[0], NULL);
    uv_close((uv_handle_t *)&m.conn[1], NULL);
    uv_close((uv_handle_t *)&m.listener, NULL);
    RUN_FOR(f, 10);
}

static void silent_tls_cb(struct tls_req *req, int status, const char *peer_cn)
{
    struct node *n = req->data;
    n->rpc_done = true;
    n->rpc_status = status;
}

static void test_peer_silent_after_tls_is_dropped(void **state)
{
    struct fix *f = *state;
    struct tls_req req;
    SSL_CTX *ctx;
    struct sockaddr_in a;
    uv_pipe_t *pipe = raft_malloc(sizeof *pipe);
    struct err e;

    /* A certified peer that completes TLS but never sends raft's preamble nor the magic. */
    cons__transport_set_timeout(&f->a.t, 100);
    assert_int_equal(
        tls_ctx_client_new(path("node2.crt"), path("node2.key"), path("ca.crt"), &ctx, &e), 0);
    uv_ip4_addr("127.0.0.1", atoi(strrchr(f->a.address, ':') + 1), &a);
    req.data = &f->b;
    assert_int_equal(
        tls_connect(&req, &f->loop, ctx, (struct sockaddr *)&a, 0, pipe, silent_tls_cb, &e), 0);
    tls_ctx_free(ctx);
    RUN_UNTIL(f, f->b.rpc_done, 5000);
    assert_int_equal(f->b.rpc_status, 0);
    stream_take(&f->b.out, (uv_stream_t *)pipe);
    RUN_UNTIL(f, f->b.out.eof, 5000);
    assert_int_equal(f->a.accepts, 0);
    assert_int_equal(f->a.rpcs, 0);
}

/* ---- end to end: three raft servers over the TLS transport -------------------------------- */

struct rnode {
    struct node n;
    struct raft_io io;
    struct raft raft;
    struct raft_fsm fsm;
    int applied;
    char last[32];
    bool raft_closed;
};

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct rnode *r = fsm->data;
    r->applied++;
    snprintf(r->last, sizeof r->last, "%.*s", (int)buf->len, (const char *)buf->base);
    *result = NULL;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    return RAFT_NOTFOUND;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    raft_free(buf->base);
    return 0;
}

static void raft_closed(struct raft *raft)
{
    struct rnode *r = raft->data;
    raft_uv_close(&r->io);
    cons__transport_close(&r->n.t);
    r->raft_closed = true;
}

struct applied {
    struct raft_apply req;
    bool done;
    int status;
};

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct applied *a = req->data;
    a->done = true;
    a->status = status;
}

static void test_three_raft_servers_elect_and_replicate(void **state)
{
    struct fix *f = *state;
    struct rnode r[3];
    struct raft_configuration conf;
    struct applied ap = {.done = false};
    struct raft_buffer buf;
    struct err e;
    struct rnode *leader = NULL;
    char dir[16];

    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++) {
        char cert[16], key[16];
        snprintf(cert, sizeof cert, "node%d.crt", i + 1);
        snprintf(key, sizeof key, "node%d.key", i + 1);
        assert_int_equal(
            cons__transport_init(&r[i].n.t, &f->loop, path(cert), path(key), path("ca.crt"), &e),
            0);
        snprintf(r[i].n.address, sizeof r[i].n.address, "127.0.0.1:%d", free_port());
        snprintf(dir, sizeof dir, "r%d", i + 1);
        assert_int_equal(raft_uv_init(&r[i].io, &f->loop, path(dir), &r[i].n.t), 0);
        raft_uv_set_snapshot_compression(&r[i].io, false);
        raft_uv_set_connect_retry_delay(&r[i].io, 50);
        r[i].fsm.version = 1;
        r[i].fsm.data = &r[i];
        r[i].fsm.apply = fsm_apply;
        r[i].fsm.snapshot = fsm_snapshot;
        r[i].fsm.restore = fsm_restore;
        assert_int_equal(raft_init(&r[i].raft, &r[i].io, &r[i].fsm, (raft_id)i + 1, r[i].n.address),
                         0);
        r[i].raft.data = &r[i];
        raft_set_election_timeout(&r[i].raft, 300);
        raft_set_heartbeat_timeout(&r[i].raft, 50);
    }
    for (int i = 0; i < 3; i++) {
        raft_configuration_init(&conf);
        for (int j = 0; j < 3; j++)
            assert_int_equal(
                raft_configuration_add(&conf, (raft_id)j + 1, r[j].n.address, RAFT_VOTER), 0);
        assert_int_equal(raft_bootstrap(&r[i].raft, &conf), 0);
        raft_configuration_close(&conf);
        assert_int_equal(raft_start(&r[i].raft), 0);
    }

    RUN_UNTIL(f,
              raft_state(&r[0].raft) == RAFT_LEADER || raft_state(&r[1].raft) == RAFT_LEADER ||
                  raft_state(&r[2].raft) == RAFT_LEADER,
              10000);
    for (int i = 0; i < 3; i++)
        if (raft_state(&r[i].raft) == RAFT_LEADER)
            leader = &r[i];

    buf.len = 8;
    buf.base = raft_malloc(buf.len);
    memcpy(buf.base, "entry-01", 8);
    ap.req.data = &ap;
    assert_int_equal(raft_apply(&leader->raft, &ap.req, &buf, 1, apply_cb), 0);
    RUN_UNTIL(f, ap.done, 10000);
    assert_int_equal(ap.status, 0);
    RUN_UNTIL(f, r[0].applied == 1 && r[1].applied == 1 && r[2].applied == 1, 10000);
    for (int i = 0; i < 3; i++)
        assert_string_equal(r[i].last, "entry-01");

    for (int i = 0; i < 3; i++)
        raft_close(&r[i].raft, raft_closed);
    RUN_UNTIL(f, r[0].raft_closed && r[1].raft_closed && r[2].raft_closed, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_connect_delivers_accept_with_id_and_address_and_hides_handshake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpc_magic_routes_to_rpc_cb_with_peer_cn, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rpc_connect_rejects_bad_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_cert_refused_before_raft_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_pending_connects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_silent_after_tls_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_raft_servers_elect_and_replicate, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
