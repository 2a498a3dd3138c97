#include "lib/tls.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "lib/log.h"

/* One read buffer per bridge: each read callback consumes it (BIO_write / SSL_write copy it)
 * before returning, so the TCP and pipe sides can share it. */
#define READ_CHUNK 65536

/* Backpressure: stop reading one side while more than HIGH_WATER bytes wait to be written to
 * the other, resume once the backlog drains to LOW_WATER. At most one READ_CHUNK sits in the
 * read BIO while paused, so a bridge buffers O(HIGH_WATER + READ_CHUNK) per direction. */
#define HIGH_WATER (256 * 1024)
#define LOW_WATER  (64 * 1024)

/* Once one side has ended, how long we wait for the other to take what is still queued
 * (close_notify, the last plaintext) before closing hard: a peer that stops reading must
 * not keep the bridge alive. */
#define LINGER_MS 5000

enum {
    ST_CONNECTING, /* TCP connect in flight (tls_connect only) */
    ST_HANDSHAKE,  /* req pending, SSL_do_handshake driven by TCP reads */
    ST_OPEN,       /* req done, pumping plaintext <-> ciphertext */
    ST_CLOSING,    /* one side ended; flushing the other under the linger timer */
    ST_CLOSED,     /* uv_close issued on every handle; freed in the last close cb */
};

struct tls__conn {
    uv_loop_t *loop;
    struct tls_req *req; /* until its cb fires; NULL for a start that failed */
    tls_req_cb cb;
    uv_pipe_t *user; /* caller memory, initialised only once the handshake succeeds */
    SSL *ssl;
    BIO *rbio; /* ciphertext from TCP, fed to SSL */
    BIO *wbio; /* ciphertext from SSL, drained to TCP */
    uv_tcp_t tcp;
    uv_timer_t timer; /* handshake deadline, then linger */
    uv_pipe_t pipe;   /* our end of the socketpair */
    uv_connect_t connect;
    uv_shutdown_t shutdown;
    uint64_t timeout_ms;
    int state;
    int status; /* first failure, reported to cb */
    struct err err;
    bool pipe_init;
    bool tcp_reading;
    bool pipe_reading;
    size_t tcp_out;  /* bytes queued in uv_write on tcp */
    size_t pipe_out; /* bytes queued in uv_write on pipe */
    unsigned closes; /* handles whose close cb is still due */
    char cn[TLS_CN_MAX];
    char buf[READ_CHUNK];
};

struct wreq {
    uv_write_t req;
    struct tls__conn *c;
    size_t len;
    char data[];
};

/* ---- SSL_CTX ------------------------------------------------------------------------------ */

static int ssl_errf(struct err *e, int code, const char *what)
{
    char reason[160];
    unsigned long ec = ERR_peek_last_error();
    if (ec != 0)
        ERR_error_string_n(ec, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "unknown error");
    ERR_clear_error();
    return err_setf(e, code, "%s: %s", what, reason);
}

static int ctx_new(const SSL_METHOD *method, bool server, const char *cert_file,
                   const char *key_file, const char *ca_file, SSL_CTX **out, struct err *e)
{
    char what[300];
    SSL_CTX *ctx;
    int rv;

    ERR_clear_error();
    ctx = SSL_CTX_new(method);
    if (ctx == NULL)
        return ssl_errf(e, ERR_NOMEM, "tls: SSL_CTX_new");
    /* 1.2 is the floor for peers we don't control; OpenSSL negotiates 1.3 when both can. */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        rv = ssl_errf(e, ERR_INVALID, "tls: min protocol");
        goto out_free;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        snprintf(what, sizeof what, "tls: certificate %s", cert_file);
        rv = ssl_errf(e, ERR_INVALID, what);
        goto out_free;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof what, "tls: key %s", key_file);
        rv = ssl_errf(e, ERR_INVALID, what);
        goto out_free;
    }
    /* Only the cluster CA: never SSL_CTX_set_default_verify_paths(), or any public CA's
     * customer would be a peer. */
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
        snprintf(what, sizeof what, "tls: ca %s", ca_file);
        rv = ssl_errf(e, ERR_INVALID, what);
        goto out_free;
    }
    if (server) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* Peer connections live long; resuming would skip re-verifying a certificate. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    *out = ctx;
    return 0;

out_free:
    SSL_CTX_free(ctx);
    return rv;
}

int tls_ctx_server_new(const char *cert_file, const char *key_file, const char *ca_file,
                       SSL_CTX **out, struct err *e)
{
    return ctx_new(TLS_server_method(), true, cert_file, key_file, ca_file, out, e);
}

int tls_ctx_client_new(const char *cert_file, const char *key_file, const char *ca_file,
                       SSL_CTX **out, struct err *e)
{
    return ctx_new(TLS_client_method(), false, cert_file, key_file, ca_file, out, e);
}

void tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

/* ---- teardown ----------------------------------------------------------------------------- */

static void on_close(uv_handle_t *h)
{
    struct tls__conn *c = h->data;
    struct tls_req *req;

    assert(c->closes > 0);
    if (--c->closes > 0)
        return;
    /* Every handle is closed and every write/connect/shutdown cb has run (libuv completes
     * them before the close cb), so nothing can reach c any more. */
    req = c->req;
    if (req != NULL) {
        assert(c->status != 0);
        req->conn = NULL;
        req->err = c->err;
        c->cb(req, c->status, NULL);
    }
    SSL_free(c->ssl);
    free(c);
}

static void close_one(struct tls__conn *c, uv_handle_t *h)
{
    if (uv_is_closing(h))
        return;
    h->data = c;
    c->closes++;
    uv_close(h, on_close);
}

static void close_all(struct tls__conn *c)
{
    if (c->state == ST_CLOSED)
        return;
    c->state = ST_CLOSED;
    close_one(c, (uv_handle_t *)&c->tcp);
    close_one(c, (uv_handle_t *)&c->timer);
    if (c->pipe_init)
        close_one(c, (uv_handle_t *)&c->pipe);
}

/* Records the first failure (what the pending cb will report) and closes everything. */
static void fail(struct tls__conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct tls__conn *c, int code, const char *fmt, ...)
{
    va_list ap;
    if (c->status == 0) {
        c->status = code;
        c->err.code = code;
        va_start(ap, fmt);
        vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
        va_end(ap);
    }
    if (c->req == NULL && c->state == ST_OPEN)
        LOG_DEBUG("tls", "conn_error", "peer_cn=%s err=\"%s\"", c->cn, c->err.msg);
    close_all(c);
}

/* A TLS failure: prefer the certificate verdict, which says why a peer was refused. */
static void fail_ssl(struct tls__conn *c, const char *what)
{
    char reason[160];
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long ec = ERR_peek_last_error();

    if (vr != X509_V_OK)
        snprintf(reason, sizeof reason, "peer certificate: %s", X509_verify_cert_error_string(vr));
    else if (ec != 0)
        ERR_error_string_n(ec, reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "protocol error");
    ERR_clear_error();
    fail(c, ERR_DENIED, "%s: %s", what, reason);
}

static void timer_cb(uv_timer_t *t)
{
    struct tls__conn *c = t->data;
    if (c->state == ST_CLOSING) {
        close_all(c);
        return;
    }
    fail(c, ERR_TIMEOUT, "tls handshake: no completion within %llu ms",
         (unsigned long long)c->timeout_ms);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    struct tls__conn *c = req->data;
    close_all(c); /* no-op if already closed */
}

/* ---- pumping ------------------------------------------------------------------------------ */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct tls__conn *c = h->data;
    buf->base = c->buf;
    buf->len = sizeof c->buf;
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void pipe_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static int tcp_read_start(struct tls__conn *c)
{
    int rv;
    if (c->tcp_reading)
        return 0;
    rv = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, tcp_read_cb);
    if (rv != 0)
        return rv;
    c->tcp_reading = true;
    return 0;
}

static void tcp_read_stop(struct tls__conn *c)
{
    if (c->tcp_reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->tcp_reading = false;
}

static void pipe_read_stop(struct tls__conn *c)
{
    if (c->pipe_reading)
        uv_read_stop((uv_stream_t *)&c->pipe);
    c->pipe_reading = false;
}

static int pipe_read_start(struct tls__conn *c)
{
    int rv;
    if (c->pipe_reading)
        return 0;
    rv = uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, pipe_read_cb);
    if (rv != 0)
        return rv;
    c->pipe_reading = true;
    return 0;
}

static void tcp_write_cb(uv_write_t *req, int status)
{
    struct wreq *w = req->data;
    struct tls__conn *c = w->c;

    c->tcp_out -= w->len;
    free(w);
    if (c->state == ST_CLOSED)
        return;
    if (status != 0) {
        fail(c, ERR_IO, "tls: tcp write: %s", uv_strerror(status));
        return;
    }
    if (c->state == ST_OPEN && c->tcp_out <= LOW_WATER && pipe_read_start(c) != 0)
        fail(c, ERR_IO, "tls: pipe read start");
}

/* Sends whatever SSL queued in the write BIO. libuv tries the write at once when nothing is
 * queued, so an alert written just before a close usually still leaves. */
static int flush_tcp(struct tls__conn *c)
{
    size_t n = BIO_ctrl_pending(c->wbio);
    struct wreq *w;
    uv_buf_t b;
    int rv;

    if (n == 0 || c->state == ST_CLOSED)
        return 0;
    w = malloc(sizeof *w + n);
    if (w == NULL)
        return ERR_NOMEM;
    rv = BIO_read(c->wbio, w->data, (int)n);
    assert(rv == (int)n);
    w->c = c;
    w->len = n;
    w->req.data = w;
    b = uv_buf_init(w->data, (unsigned)n);
    rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, tcp_write_cb);
    if (rv != 0) {
        free(w);
        return ERR_IO;
    }
    c->tcp_out += n;
    return 0;
}

static void pipe_write_cb(uv_write_t *req, int status);
static void pump_in(struct tls__conn *c);

/* The remote end is done (EOF, close_notify): hand the user what is queued, then EOF. */
static void peer_gone(struct tls__conn *c)
{
    if (c->state != ST_OPEN)
        return;
    c->state = ST_CLOSING;
    tcp_read_stop(c);
    pipe_read_stop(c);
    /* uv_shutdown completes after the queued pipe writes, so no plaintext is lost. */
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, shutdown_cb) != 0) {
        close_all(c);
        return;
    }
    uv_timer_start(&c->timer, timer_cb, LINGER_MS, 0);
}

/* The user closed (or shut down) its end: say close_notify, flush, close. Half-close is not
 * offered: raft and our RPC close whole connections. */
static void local_gone(struct tls__conn *c)
{
    if (c->state != ST_OPEN)
        return;
    c->state = ST_CLOSING;
    tcp_read_stop(c);
    pipe_read_stop(c);
    ERR_clear_error();
    SSL_shutdown(c->ssl);
    ERR_clear_error();
    c->shutdown.data = c;
    if (flush_tcp(c) != 0 || uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
        close_all(c);
        return;
    }
    uv_timer_start(&c->timer, timer_cb, LINGER_MS, 0);
}

static void pipe_write_cb(uv_write_t *req, int status)
{
    struct wreq *w = req->data;
    struct tls__conn *c = w->c;

    c->pipe_out -= w->len;
    free(w);
    if (c->state != ST_OPEN)
        return;
    if (status != 0) {
        local_gone(c); /* the user closed its end */
        return;
    }
    if (c->pipe_out <= LOW_WATER && !c->tcp_reading)
        pump_in(c);
}

/* Decrypts what the read BIO holds into pipe writes until SSL wants more ciphertext (then
 * reads TCP) or the pipe backlog passes HIGH_WATER (then stops reading TCP). */
static void pump_in(struct tls__conn *c)
{
    struct wreq *w;
    uv_buf_t b;
    int n;
    int se;

    while (c->state == ST_OPEN && c->pipe_out < HIGH_WATER) {
        ERR_clear_error();
        n = SSL_read(c->ssl, c->buf, sizeof c->buf);
        if (n <= 0) {
            se = SSL_get_error(c->ssl, n);
            /* SSL_read may answer the peer (key update), so flush either way. */
            if (flush_tcp(c) != 0) {
                fail(c, ERR_IO, "tls: tcp write");
                return;
            }
            if (se == SSL_ERROR_WANT_READ) {
                if (tcp_read_start(c) != 0)
                    fail(c, ERR_IO, "tls: tcp read start");
                return;
            }
            if (se == SSL_ERROR_ZERO_RETURN) {
                peer_gone(c);
                return;
            }
            /* In TLS 1.3 this is also where a client learns that the server refused its
             * certificate: the alert arrives after the client's handshake completed. */
            fail_ssl(c, "tls read");
            return;
        }
        w = malloc(sizeof *w + (size_t)n);
        if (w == NULL) {
            fail(c, ERR_NOMEM, "tls: out of memory");
            return;
        }
        memcpy(w->data, c->buf, (size_t)n);
        w->c = c;
        w->len = (size_t)n;
        w->req.data = w;
        b = uv_buf_init(w->data, (unsigned)n);
        if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, pipe_write_cb) != 0) {
            free(w);
            local_gone(c);
            return;
        }
        c->pipe_out += (size_t)n;
    }
    if (c->state == ST_OPEN)
        tcp_read_stop(c);
}

static void pipe_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct tls__conn *c = s->data;

    if (nread == 0 || c->state != ST_OPEN)
        return;
    if (nread < 0) {
        local_gone(c);
        return;
    }
    ERR_clear_error();
    /* With a memory write BIO SSL_write takes everything at once. */
    if (SSL_write(c->ssl, buf->base, (int)nread) != (int)nread) {
        fail_ssl(c, "tls write");
        return;
    }
    if (flush_tcp(c) != 0) {
        fail(c, ERR_IO, "tls: tcp write");
        return;
    }
    if (c->tcp_out > HIGH_WATER)
        pipe_read_stop(c);
}

/* ---- handshake ---------------------------------------------------------------------------- */

static void peer_cn(struct tls__conn *c)
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    c->cn[0] = '\0';
    if (x == NULL)
        return;
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, c->cn, sizeof c->cn) <
        0)
        c->cn[0] = '\0';
    X509_free(x);
}

/* The handshake completed: make the socketpair, hand one end over, pump the other. */
static void established(struct tls__conn *c)
{
    struct tls_req *req = c->req;
    int sv[2];
    int rv;

    uv_timer_stop(&c->timer);
    peer_cn(c);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        fail(c, ERR_IO, "tls: socketpair: %s", strerror(errno));
        return;
    }
    rv = uv_pipe_init(c->loop, &c->pipe, 0);
    assert(rv == 0);
    c->pipe.data = c;
    c->pipe_init = true;
    rv = uv_pipe_open(&c->pipe, sv[0]);
    if (rv != 0) {
        close(sv[0]);
        close(sv[1]);
        fail(c, ERR_IO, "tls: pipe open: %s", uv_strerror(rv));
        return;
    }
    rv = uv_pipe_init(c->loop, c->user, 0);
    assert(rv == 0);
    rv = uv_pipe_open(c->user, sv[1]);
    if (rv != 0) {
        /* The caller's handle is initialised but unusable: close it before reporting. */
        close(sv[1]);
        close_one(c, (uv_handle_t *)c->user);
        fail(c, ERR_IO, "tls: pipe open: %s", uv_strerror(rv));
        return;
    }
    c->user->data = NULL;
    c->state = ST_OPEN;
    c->req = NULL;
    req->conn = NULL;
    err_clear(&req->err);
    c->cb(req, 0, c->cn);
    /* req may be gone now. Data the peer sent right behind its Finished may already sit in
     * the read BIO, so pump before waiting on TCP. */
    if (pipe_read_start(c) != 0) {
        fail(c, ERR_IO, "tls: pipe read start");
        return;
    }
    pump_in(c);
}

static void handshake(struct tls__conn *c)
{
    int r;
    int se;

    ERR_clear_error();
    r = SSL_do_handshake(c->ssl);
    se = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
    /* Flush before judging: on failure this carries our alert to the peer. */
    if (flush_tcp(c) != 0) {
        fail(c, ERR_IO, "tls handshake: tcp write");
        return;
    }
    if (se == SSL_ERROR_NONE) {
        established(c);
        return;
    }
    if (se == SSL_ERROR_WANT_READ) {
        if (tcp_read_start(c) != 0)
            fail(c, ERR_IO, "tls handshake: tcp read start");
        return;
    }
    fail_ssl(c, "tls handshake");
}

static void tcp_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct tls__conn *c = s->data;

    if (nread == 0 || c->state == ST_CLOSED || c->state == ST_CLOSING)
        return;
    if (nread < 0) {
        tcp_read_stop(c);
        if (c->state == ST_HANDSHAKE)
            fail(c, ERR_IO, "tls handshake: peer closed: %s", uv_strerror((int)nread));
        else
            peer_gone(c);
        return;
    }
    if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
        fail(c, ERR_NOMEM, "tls: out of memory");
        return;
    }
    if (c->state == ST_HANDSHAKE)
        handshake(c);
    else
        pump_in(c);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct tls__conn *c = req->data;

    if (c->state != ST_CONNECTING)
        return; /* canceled: the close is under way */
    if (status != 0) {
        fail(c, ERR_IO, "tls: connect: %s", uv_strerror(status));
        return;
    }
    c->state = ST_HANDSHAKE;
    handshake(c); /* ClientHello */
}

/* ---- start -------------------------------------------------------------------------------- */

static int conn_new(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, bool server,
                    uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct tls__conn **out,
                    struct err *e)
{
    struct tls__conn *c;
    int rv;

    c = calloc(1, sizeof *c);
    if (c == NULL)
        return err_setf(e, ERR_NOMEM, "tls: out of memory");
    ERR_clear_error();
    c->ssl = SSL_new(ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        SSL_free(c->ssl);
        free(c);
        return ssl_errf(e, ERR_NOMEM, "tls: SSL_new");
    }
    /* An empty read BIO means "retry", never EOF: more ciphertext may still arrive. */
    BIO_set_mem_eof_return(c->rbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    if (server)
        SSL_set_accept_state(c->ssl);
    else
        SSL_set_connect_state(c->ssl);
    c->loop = loop;
    c->user = pipe;
    c->cb = cb;
    c->timeout_ms = timeout_ms != 0 ? timeout_ms : TLS_HANDSHAKE_TIMEOUT_MS;
    c->state = ST_HANDSHAKE;
    rv = uv_tcp_init(loop, &c->tcp);
    assert(rv == 0);
    c->tcp.data = c;
    rv = uv_timer_init(loop, &c->timer);
    assert(rv == 0);
    c->timer.data = c;
    req->cb = cb;
    req->conn = NULL;
    err_clear(&req->err);
    *out = c;
    return 0;
}

/* Registers the request and arms the deadline; the start succeeded. */
static void conn_arm(struct tls__conn *c, struct tls_req *req)
{
    c->req = req;
    req->conn = c;
    uv_timer_start(&c->timer, timer_cb, c->timeout_ms, 0);
}

/* A start failed after handles existed: close them without any cb. */
static int conn_abort(struct tls__conn *c, struct err *e, int code, const char *what, int uverr)
{
    c->req = NULL;
    close_all(c);
    return err_setf(e, code, "%s: %s", what, uv_strerror(uverr));
}

int tls_accept(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, uv_stream_t *listener,
               uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct err *e)
{
    struct tls__conn *c;
    int rv;

    rv = conn_new(req, loop, ctx, true, timeout_ms, pipe, cb, &c, e);
    if (rv != 0)
        return rv;
    rv = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rv != 0)
        return conn_abort(c, e, ERR_IO, "tls: accept", rv);
    rv = tcp_read_start(c);
    if (rv != 0)
        return conn_abort(c, e, ERR_IO, "tls: read start", rv);
    conn_arm(c, req);
    return 0;
}

int tls_connect(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, const struct sockaddr *addr,
                uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct err *e)
{
    struct tls__conn *c;
    int rv;

    rv = conn_new(req, loop, ctx, false, timeout_ms, pipe, cb, &c, e);
    if (rv != 0)
        return rv;
    c->state = ST_CONNECTING;
    c->connect.data = c;
    rv = uv_tcp_connect(&c->connect, &c->tcp, addr, connect_cb);
    if (rv != 0)
        return conn_abort(c, e, ERR_IO, "tls: connect", rv);
    uv_tcp_nodelay(&c->tcp, 1);
    conn_arm(c, req);
    return 0;
}

int tls_open(struct tls_req *req, uv_loop_t *loop, SSL_CTX *ctx, int fd, int is_server,
             uint64_t timeout_ms, uv_pipe_t *pipe, tls_req_cb cb, struct err *e)
{
    struct tls__conn *c;
    int rv;

    rv = conn_new(req, loop, ctx, is_server != 0, timeout_ms, pipe, cb, &c, e);
    if (rv != 0)
        return rv;
    rv = uv_tcp_open(&c->tcp, fd);
    if (rv != 0)
        return conn_abort(c, e, ERR_IO, "tls: open socket", rv);
    conn_arm(c, req);
    /* The client speaks first; the server waits for the ClientHello. Any failure here is
     * reported through cb, from the close callbacks. */
    if (is_server) {
        if (tcp_read_start(c) != 0)
            fail(c, ERR_IO, "tls: read start");
    } else {
        handshake(c);
    }
    return 0;
}

void tls_cancel(struct tls_req *req)
{
    struct tls__conn *c = req->conn;
    if (c == NULL)
        return;
    fail(c, ERR_SHUTDOWN, "tls: canceled");
}
