#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    static const char *const names[] = {"node1", "node2"};
    signal(SIGPIPE, SIG_IGN);
    return helpers_certs_create(&certs, "skiff-tls", names, 2);
}

static int group_teardown(void **state)
{
    helpers_certs_remove(&certs);
    return 0;
}

/* ---- fixture ------------------------------------------------------------------------------ */

struct end {
    struct tls_req req;
    uv_pipe_t pipe;
    bool done;
    int status;
    struct err err;
    char cn[TLS_CN_MAX];
    bool pipe_open;
    bool pipe_closed;
    char *rx;
    size_t rx_len;
    bool eof;
    uv_write_t w;
    bool write_done;
    int write_status;
};

struct fix {
    uv_loop_t loop;
    uv_timer_t tick;
    uv_tcp_t listener;
    struct sockaddr_storage addr;
    SSL_CTX *srv_ctx;
    SSL_CTX *cli_ctx;
    uint64_t accept_timeout_ms;
    int accept_rv;
    struct end srv;
    struct end cli;
};

static void end_cb(struct tls_req *req, int status, const char *cn)
{
    struct end *x = req->data;
    assert_false(x->done);
    x->done = true;
    x->status = status;
    x->err = req->err;
    if (status == 0) {
        snprintf(x->cn, sizeof x->cn, "%s", cn);
        x->pipe_open = true;
        x->pipe.data = x;
    }
}

static void listen_cb(uv_stream_t *s, int status)
{
    struct fix *f = s->data;
    struct err e;
    assert_int_equal(status, 0);
    f->srv.req.data = &f->srv;
    f->accept_rv = tls_accept(&f->srv.req, &f->loop, f->srv_ctx, s, f->accept_timeout_ms,
                              &f->srv.pipe, end_cb, &e);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    struct sockaddr_in a;
    struct err e;
    int len = sizeof f->addr;

    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->tick), 0);
    assert_int_equal(
        tls_ctx_server_new(path("node1.crt"), path("node1.key"), path("ca.crt"), &f->srv_ctx, &e),
        0);
    assert_int_equal(
        tls_ctx_client_new(path("node2.crt"), path("node2.key"), path("ca.crt"), &f->cli_ctx, &e),
        0);
    uv_tcp_init(&f->loop, &f->listener);
    f->listener.data = f;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&f->listener, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 16, listen_cb), 0);
    uv_tcp_getsockname(&f->listener, (struct sockaddr *)&f->addr, &len);
    *state = f;
    return 0;
}

static void close_end(struct end *x);

static int teardown(void **state)
{
    struct fix *f = *state;
    close_end(&f->srv);
    close_end(&f->cli);
    uv_close((uv_handle_t *)&f->listener, NULL);
    uv_close((uv_handle_t *)&f->tick, NULL);
    tls_ctx_free(f->srv_ctx);
    tls_ctx_free(f->cli_ctx);
    assert_int_equal(helpers_loop_close(&f->loop), 0);
    free(f->srv.rx);
    free(f->cli.rx);
    free(f);
    return 0;
}

/* ---- stream helpers ----------------------------------------------------------------------- */

static void pipe_closed_cb(uv_handle_t *h)
{
    struct end *x = h->data;
    x->pipe_closed = true;
}

static void close_end(struct end *x)
{
    if (x->pipe_open && !uv_is_closing((uv_handle_t *)&x->pipe))
        uv_close((uv_handle_t *)&x->pipe, pipe_closed_cb);
}

static void rx_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct end *x = h->data;
    x->rx = realloc(x->rx, x->rx_len + 65536);
    assert_non_null(x->rx);
    buf->base = x->rx + x->rx_len;
    buf->len = 65536;
}

static void rx_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct end *x = s->data;
    if (n > 0)
        x->rx_len += (size_t)n;
    else if (n < 0) {
        x->eof = true;
        uv_read_stop(s);
    }
}

static void tx_cb(uv_write_t *w, int status)
{
    struct end *x = w->data;
    x->write_done = true;
    x->write_status = status;
}

static void tx(struct end *x, char *data, size_t len)
{
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    x->w.data = x;
    assert_int_equal(uv_write(&x->w, (uv_stream_t *)&x->pipe, &b, 1, tx_cb), 0);
}

static void start_client(struct fix *f, SSL_CTX *ctx)
{
    struct err e;
    f->cli.req.data = &f->cli;
    assert_int_equal(tls_connect(&f->cli.req, &f->loop, ctx, (struct sockaddr *)&f->addr, 0,
                                 &f->cli.pipe, end_cb, &e),
                     0);
    assert_false(f->cli.done); /* never from inside the call */
}

/* ---- tests -------------------------------------------------------------------------------- */

static char *pattern(size_t len, unsigned seed)
{
    char *p = malloc(len);
    size_t i;
    assert_non_null(p);
    for (i = 0; i < len; i++)
        p[i] = (char)((i * 31 + seed) ^ (i >> 9));
    return p;
}

static void test_bridge_round_trips_megabytes_both_ways_and_reports_cn(void **state)
{
    struct fix *f = *state;
    size_t n_up = 5 * 1024 * 1024 + 17, n_down = 3 * 1024 * 1024 + 5;
    char *up = pattern(n_up, 1), *down = pattern(n_down, 2);

    start_client(f, f->cli_ctx);
    RUN_UNTIL(f, f->cli.done && f->srv.done, 5000);
    assert_int_equal(f->cli.status, 0);
    assert_int_equal(f->srv.status, 0);
    assert_int_equal(f->accept_rv, 0);
    assert_string_equal(f->cli.cn, "node1");
    assert_string_equal(f->srv.cn, "node2");

    tx(&f->cli, up, n_up);
    tx(&f->srv, down, n_down);
    /* The server reads only after a while, so the bridge has to hold the client back. */
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(f->cli.write_done);
    uv_read_start((uv_stream_t *)&f->srv.pipe, rx_alloc, rx_read);
    uv_read_start((uv_stream_t *)&f->cli.pipe, rx_alloc, rx_read);
    RUN_UNTIL(f, f->srv.rx_len == n_up && f->cli.rx_len == n_down, 20000);
    assert_true(f->cli.write_done && f->srv.write_done);
    assert_memory_equal(f->srv.rx, up, n_up);
    assert_memory_equal(f->cli.rx, down, n_down);

    /* Closing one end reaches the other as EOF, through close_notify. */
    close_end(&f->cli);
    RUN_UNTIL(f, f->srv.eof && f->cli.pipe_closed, 5000);
    free(up);
    free(down);
}

static void test_client_with_foreign_ca_cert_is_refused(void **state)
{
    struct fix *f = *state;
    SSL_CTX *evil;
    struct err e;
    char msg[] = "secret";

    assert_int_equal(
        tls_ctx_client_new(path("evil.crt"), path("evil.key"), path("ca.crt"), &evil, &e), 0);
    start_client(f, evil);
    tls_ctx_free(evil); /* the bridge holds its own reference */
    RUN_UNTIL(f, f->srv.done && f->cli.done, 5000);
    assert_int_equal(f->srv.status, ERR_DENIED);
    assert_non_null(strstr(f->srv.err.msg, "certificate"));
    assert_false(f->srv.pipe_open);
    /* TLS 1.3: the client finishes before the server judges its certificate, so it may get a
     * stream, which must then end without anything having been delivered. */
    if (f->cli.status == 0) {
        tx(&f->cli, msg, sizeof msg);
        uv_read_start((uv_stream_t *)&f->cli.pipe, rx_alloc, rx_read);
        RUN_UNTIL(f, f->cli.eof, 5000);
        assert_int_equal(f->cli.rx_len, 0);
    } else {
        assert_int_equal(f->cli.status, ERR_DENIED);
    }
}

static void test_client_without_cert_is_refused(void **state)
{
    struct fix *f = *state;
    SSL_CTX *anon = SSL_CTX_new(TLS_client_method());

    assert_non_null(anon);
    assert_int_equal(SSL_CTX_load_verify_locations(anon, path("ca.crt"), NULL), 1);
    SSL_CTX_set_verify(anon, SSL_VERIFY_PEER, NULL);
    start_client(f, anon);
    SSL_CTX_free(anon);
    RUN_UNTIL(f, f->srv.done && f->cli.done, 5000);
    assert_int_equal(f->srv.status, ERR_DENIED);
    assert_false(f->srv.pipe_open);
    if (f->cli.status == 0) {
        uv_read_start((uv_stream_t *)&f->cli.pipe, rx_alloc, rx_read);
        RUN_UNTIL(f, f->cli.eof, 5000);
        assert_int_equal(f->cli.rx_len, 0);
    }
}

static void test_server_with_foreign_cert_is_refused_by_client(void **state)
{
    struct fix *f = *state;
    struct err e;
    tls_ctx_free(f->srv_ctx);
    assert_int_equal(
        tls_ctx_server_new(path("evil.crt"), path("evil.key"), path("ca.crt"), &f->srv_ctx, &e), 0);
    start_client(f, f->cli_ctx);
    RUN_UNTIL(f, f->srv.done && f->cli.done, 5000);
    assert_int_equal(f->cli.status, ERR_DENIED);
    assert_non_null(strstr(f->cli.err.msg, "peer certificate"));
    assert_int_not_equal(f->srv.status, 0);
}

struct silent {
    uv_tcp_t tcp;
    uv_connect_t req;
    bool connected;
};

static void silent_connect_cb(uv_connect_t *req, int status)
{
    struct silent *s = req->data;
    s->connected = status == 0;
}

static void test_handshake_timeout_fires_for_silent_peer(void **state)
{
    struct fix *f = *state;
    struct silent s;
    uint64_t start;

    f->accept_timeout_ms = 100;
    uv_tcp_init(&f->loop, &s.tcp);
    s.req.data = &s;
    assert_int_equal(uv_tcp_connect(&s.req, &s.tcp, (struct sockaddr *)&f->addr, silent_connect_cb),
                     0);
    start = uv_now(&f->loop);
    RUN_UNTIL(f, f->srv.done, 5000);
    assert_int_equal(f->srv.status, ERR_TIMEOUT);
    assert_true(uv_now(&f->loop) - start >= 100);
    assert_true(s.connected);
    uv_close((uv_handle_t *)&s.tcp, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_cancel_fires_later_with_shutdown(void **state)
{
    struct fix *f = *state;
    start_client(f, f->cli_ctx);
    tls_cancel(&f->cli.req);
    assert_false(f->cli.done);
    RUN_UNTIL(f, f->cli.done, 5000);
    assert_int_equal(f->cli.status, ERR_SHUTDOWN);
    tls_cancel(&f->cli.req); /* no-op once fired */
    /* The SYN may have reached the listener before the cancel: let that accept end too. */
    RUN_FOR(f, 100);
    if (f->srv.req.data != NULL && f->accept_rv == 0)
        RUN_UNTIL(f, f->srv.done, 5000);
    assert_false(f->srv.done && f->srv.status == 0);
}

static void test_connect_refused_reports_io(void **state)
{
    struct fix *f = *state;
    struct sockaddr_in a;
    struct err e;
    uv_tcp_t probe;
    int len = sizeof a;

    /* A port nobody listens on: bind one, note it, close it. */
    uv_tcp_init(&f->loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&probe, (struct sockaddr *)&a, 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&a, &len);
    uv_close((uv_handle_t *)&probe, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    f->cli.req.data = &f->cli;
    assert_int_equal(tls_connect(&f->cli.req, &f->loop, f->cli_ctx, (struct sockaddr *)&a, 0,
                                 &f->cli.pipe, end_cb, &e),
                     0);
    RUN_UNTIL(f, f->cli.done, 5000);
    assert_int_equal(f->cli.status, ERR_IO);
}

static void test_ctx_rejects_missing_files(void **state)
{
    SSL_CTX *ctx = NULL;
    struct err e;
    assert_int_equal(
        tls_ctx_server_new(path("nope.crt"), path("node1.key"), path("ca.crt"), &ctx, &e),
        ERR_INVALID);
    assert_null(ctx);
    assert_non_null(strstr(e.msg, "nope.crt"));
    /* key of another node: mismatch */
    assert_int_equal(
        tls_ctx_client_new(path("node1.crt"), path("node2.key"), path("ca.crt"), &ctx, &e),
        ERR_INVALID);
    assert_null(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bridge_round_trips_megabytes_both_ways_and_reports_cn,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_with_foreign_ca_cert_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_without_cert_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_with_foreign_cert_is_refused_by_client, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout_fires_for_silent_peer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_fires_later_with_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused_reports_io, setup, teardown),
        cmocka_unit_test(test_ctx_rejects_missing_files),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
