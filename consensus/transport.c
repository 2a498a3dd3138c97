/* The peer transport: raft_uv_transport over lib/tls, plus RPC connections on the same port.
 * See consensus/internal.h for the contract. */
#include "consensus/internal.h"

#include <assert.h>
#include <endian.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/queue.h"
#include "lib/tls.h"

/* Raft's uv_tcp handshake protocol version (UV__TCP_HANDSHAKE_PROTOCOL). */
#define RAFT_HANDSHAKE_PROTOCOL 1

struct transport {
    struct raft_uv_transport *t;
    uv_loop_t *loop;
    SSL_CTX *srv_ctx;
    SSL_CTX *cli_ctx;
    raft_id id;
    char address[CONS__ADDRESS_MAX]; /* advertised in our raft handshakes */
    char bind[CONS__ADDRESS_MAX];    /* "" = listen on address */
    uint64_t timeout_ms;
    uv_tcp_t listener;
    bool listener_init;
    bool listener_closed;
    raft_uv_accept_cb accept_cb;
    cons__rpc_accept_cb rpc_cb;
    void *rpc_data;
    queue outgoing; /* struct outgoing, until its cb fired */
    queue incoming; /* struct incoming, until its memory is released */
    bool closing;
    raft_uv_transport_close_cb close_cb;
};

/* ---- helpers ------------------------------------------------------------------------------ */

static int parse_address(const char *address, struct sockaddr_storage *ss)
{
    char host[CONS__ADDRESS_MAX];
    const char *colon = strrchr(address, ':');
    char *end;
    long port;
    size_t n;

    if (colon == NULL)
        return -1;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port <= 0 || port > 65535)
        return -1;
    n = (size_t)(colon - address);
    if (n >= 2 && address[0] == '[' && address[n - 1] == ']') {
        address++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, address, n);
    host[n] = '\0';
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return -1;
}

static void maybe_closed(struct transport *tr)
{
    raft_uv_transport_close_cb cb;
    if (!tr->closing || !tr->listener_closed || !QUEUE_IS_EMPTY(&tr->outgoing) ||
        !QUEUE_IS_EMPTY(&tr->incoming) || tr->close_cb == NULL)
        return;
    cb = tr->close_cb;
    tr->close_cb = NULL;
    cb(tr->t);
}

/* ---- outgoing: raft connect and rpc connect ----------------------------------------------- */

enum { OUT_TLS, OUT_WRITE };

struct outgoing {
    struct transport *tr;
    struct raft_uv_connect *raft_req; /* exactly one of these two */
    struct cons__rpc_connect *rpc_req;
    struct tls_req tls;
    uv_pipe_t *pipe; /* raft_malloc'd; initialised once TLS succeeded */
    uv_write_t write;
    uv_buf_t hs; /* raft handshake or the magic */
    int phase;
    int status; /* lib/err code once failed/canceled */
    struct err err;
    char cn[TLS_CN_MAX];
    queue link;
};

/* Fires the user's cb exactly once and releases o. stream is NULL on failure. */
static void out_finish(struct outgoing *o, uv_stream_t *stream)
{
    struct transport *tr = o->tr;
    int raft_status;

    QUEUE_REMOVE(&o->link);
    if (stream == NULL)
        raft_free(o->pipe);
    raft_free(o->hs.base);
    if (o->raft_req != NULL) {
        raft_status = o->status == 0              ? 0
                      : o->status == ERR_SHUTDOWN ? RAFT_CANCELED
                      : o->status == ERR_NOMEM    ? RAFT_NOMEM
                                                  : RAFT_NOCONNECTION;
        if (raft_status != 0 && raft_status != RAFT_CANCELED)
            LOG_DEBUG("cons", "peer_connect_failed", "err=\"%s\"", o->err.msg);
        o->raft_req->cb(o->raft_req, stream, raft_status);
    } else {
        o->rpc_req->priv = NULL;
        o->rpc_req->err = o->err;
        o->rpc_req->cb(o->rpc_req, stream, o->status, stream != NULL ? o->cn : NULL);
    }
    free(o);
    maybe_closed(tr);
}

static void out_pipe_closed(uv_handle_t *h)
{
    out_finish(h->data, NULL);
}

static void out_fail(struct outgoing *o, int code, const char *msg)
{
    if (o->status == 0)
        err_setf(&o->err, code, "%s", msg);
    o->status = o->err.code;
    if (!uv_is_closing((uv_handle_t *)o->pipe)) {
        o->pipe->data = o;
        uv_close((uv_handle_t *)o->pipe, out_pipe_closed);
    }
}

static void out_write_cb(uv_write_t *w, int status)
{
    struct outgoing *o = w->data;
    if (o->status != 0)
        return; /* canceled: the pipe close is under way and finishes o */
    if (status != 0) {
        out_fail(o, ERR_IO, "peer handshake write failed");
        return;
    }
    o->pipe->data = NULL;
    out_finish(o, (uv_stream_t *)o->pipe);
}

static int encode_handshake(struct outgoing *o)
{
    struct transport *tr = o->tr;
    size_t addr_len = (strlen(tr->address) + 1 + 7) / 8 * 8;
    uint64_t *words;

    if (o->rpc_req != NULL) {
        o->hs.base = raft_malloc(CONS_RPC_MAGIC_LEN);
        if (o->hs.base == NULL)
            return ERR_NOMEM;
        memcpy(o->hs.base, CONS_RPC_MAGIC, CONS_RPC_MAGIC_LEN);
        o->hs.len = CONS_RPC_MAGIC_LEN;
        return 0;
    }
    o->hs.len = 3 * sizeof(uint64_t) + addr_len;
    o->hs.base = raft_calloc(1, o->hs.len);
    if (o->hs.base == NULL)
        return ERR_NOMEM;
    words = (uint64_t *)(void *)o->hs.base;
    words[0] = htole64(RAFT_HANDSHAKE_PROTOCOL);
    words[1] = htole64(tr->id);
    words[2] = htole64(addr_len);
    memcpy(o->hs.base + 3 * sizeof(uint64_t), tr->address, strlen(tr->address));
    return 0;
}

static void out_tls_cb(struct tls_req *req, int status, const char *peer_cn)
{
    struct outgoing *o = req->data;
    int rv;

    if (status != 0) {
        o->status = status;
        o->err = req->err;
        out_finish(o, NULL);
        return;
    }
    snprintf(o->cn, sizeof o->cn, "%s", peer_cn);
    o->phase = OUT_WRITE;
    o->pipe->data = o;
    rv = encode_handshake(o);
    if (rv != 0) {
        out_fail(o, rv, "out of memory");
        return;
    }
    o->write.data = o;
    rv = uv_write(&o->write, (uv_stream_t *)o->pipe, &o->hs, 1, out_write_cb);
    if (rv != 0)
        out_fail(o, ERR_IO, "peer handshake write failed");
}

static int out_start(struct transport *tr, struct outgoing *o, const char *address, struct err *e)
{
    struct sockaddr_storage ss;
    int rv;

    if (tr->closing)
        return err_setf(e, ERR_SHUTDOWN, "transport closing");
    if (parse_address(address, &ss) != 0)
        return err_setf(e, ERR_INVALID, "peer address %s: want IP:PORT", address);
    o->tr = tr;
    o->pipe = raft_malloc(sizeof *o->pipe);
    if (o->pipe == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    o->tls.data = o;
    rv = tls_connect(&o->tls, tr->loop, tr->cli_ctx, (struct sockaddr *)&ss, tr->timeout_ms,
                     o->pipe, out_tls_cb, e);
    if (rv != 0) {
        raft_free(o->pipe);
        return err_wrapf(e, "peer %s", address);
    }
    o->phase = OUT_TLS;
    QUEUE_PUSH(&tr->outgoing, &o->link);
    return 0;
}

static void out_cancel(struct outgoing *o)
{
    if (o->phase == OUT_TLS) {
        tls_cancel(&o->tls); /* out_tls_cb follows with ERR_SHUTDOWN */
        return;
    }
    out_fail(o, ERR_SHUTDOWN, "transport closing");
}

static int t_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                     const char *address, raft_uv_connect_cb cb)
{
    struct transport *tr = t->impl;
    struct outgoing *o;
    struct err e;
    int rv;

    o = calloc(1, sizeof *o);
    if (o == NULL)
        return RAFT_NOMEM;
    o->raft_req = req;
    req->cb = cb;
    rv = out_start(tr, o, address, &e);
    if (rv != 0) {
        free(o);
        snprintf(t->errmsg, sizeof t->errmsg, "connect %llu: %s", (unsigned long long)id, e.msg);
        return rv == ERR_NOMEM ? RAFT_NOMEM : RAFT_NOCONNECTION;
    }
    return 0;
}

int cons__rpc_connect(struct raft_uv_transport *t, struct cons__rpc_connect *req,
                      const char *address, cons__rpc_connect_cb cb, struct err *e)
{
    struct transport *tr = t->impl;
    struct outgoing *o;
    int rv;

    o = calloc(1, sizeof *o);
    if (o == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    o->rpc_req = req;
    req->cb = cb;
    err_clear(&req->err);
    rv = out_start(tr, o, address, e);
    if (rv != 0) {
        free(o);
        return rv;
    }
    req->priv = o;
    return 0;
}

void cons__rpc_connect_cancel(struct cons__rpc_connect *req)
{
    if (req->priv != NULL)
        out_cancel(req->priv);
}

/* ---- incoming ----------------------------------------------------------------------------- */

enum { IN_TLS, IN_MAGIC, IN_PREAMBLE, IN_ADDRESS, IN_DONE };

struct incoming {
    struct transport *tr;
    struct tls_req tls;
    uv_pipe_t *pipe;  /* raft_malloc'd; ours until handed over */
    uv_timer_t timer; /* preamble deadline, initialised once TLS succeeded */
    int phase;
    uint64_t preamble[3];
    char *address;
    size_t want; /* bytes the current phase needs */
    size_t got;
    unsigned closes;
    char cn[TLS_CN_MAX];
    queue link;
};

static void in_release(struct incoming *in)
{
    struct transport *tr = in->tr;
    QUEUE_REMOVE(&in->link);
    raft_free(in->pipe);
    free(in->address);
    free(in);
    maybe_closed(tr);
}

static void in_closed(uv_handle_t *h)
{
    struct incoming *in = h->data;
    if (--in->closes == 0)
        in_release(in);
}

/* Drops a connection that completed TLS but not (yet) our preamble. */
static void in_abort(struct incoming *in, const char *why)
{
    if (in->phase == IN_DONE)
        return;
    if (why != NULL)
        LOG_WARN("cons", "peer_rejected", "peer_cn=%s err=\"%s\"", in->cn, why);
    in->phase = IN_DONE;
    in->closes = 2;
    in->pipe->data = in;
    uv_close((uv_handle_t *)in->pipe, in_closed);
    uv_close((uv_handle_t *)&in->timer, in_closed);
}

/* The preamble is complete: the stream now belongs to raft or to the RPC receiver. */
static void in_hand_over(struct incoming *in, bool rpc)
{
    struct transport *tr = in->tr;
    uv_stream_t *stream = (uv_stream_t *)in->pipe;

    uv_read_stop(stream);
    in->phase = IN_DONE;
    in->pipe = NULL;
    stream->data = NULL;
    in->closes = 1;
    uv_close((uv_handle_t *)&in->timer, in_closed);
    if (!rpc) {
        tr->accept_cb(tr->t, le64toh(in->preamble[1]), in->address, stream);
    } else if (tr->rpc_cb != NULL) {
        tr->rpc_cb(tr->rpc_data, stream, in->cn);
    } else {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
    }
}

static void in_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct incoming *in = h->data;
    char *base = in->phase == IN_ADDRESS ? in->address : (char *)in->preamble;
    /* Read exactly what the phase lacks: whatever follows belongs to raft or the RPC peer. */
    buf->base = base + in->got;
    buf->len = in->want - in->got;
}

static void in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct incoming *in = s->data;
    uint64_t len;

    if (nread == 0)
        return;
    if (nread < 0) {
        in_abort(in, NULL);
        return;
    }
    in->got += (size_t)nread;
    if (in->got < in->want)
        return;
    switch (in->phase) {
    case IN_MAGIC:
        if (memcmp(in->preamble, CONS_RPC_MAGIC, CONS_RPC_MAGIC_LEN) == 0) {
            in_hand_over(in, true);
            return;
        }
        if (le64toh(in->preamble[0]) != RAFT_HANDSHAKE_PROTOCOL) {
            in_abort(in, "unknown protocol");
            return;
        }
        in->phase = IN_PREAMBLE;
        in->want = sizeof in->preamble;
        return;
    case IN_PREAMBLE:
        len = le64toh(in->preamble[2]);
        if (le64toh(in->preamble[1]) == 0 || len == 0 || len > CONS__ADDRESS_MAX) {
            in_abort(in, "bad raft handshake");
            return;
        }
        in->address = calloc(1, (size_t)len);
        if (in->address == NULL) {
            in_abort(in, "out of memory");
            return;
        }
        in->phase = IN_ADDRESS;
        in->got = 0;
        in->want = (size_t)len;
        return;
    case IN_ADDRESS:
        if (memchr(in->address, '\0', in->want) == NULL) {
            in_abort(in, "bad raft handshake address");
            return;
        }
        in_hand_over(in, false);
        return;
    default:
        assert(0);
    }
}

static void in_timeout(uv_timer_t *t)
{
    in_abort(t->data, "no handshake after tls");
}

static void in_tls_cb(struct tls_req *req, int status, const char *peer_cn)
{
    struct incoming *in = req->data;
    struct transport *tr = in->tr;

    if (status != 0) {
        /* A refused certificate is worth an operator's look; the rest is network noise. */
        if (status == ERR_DENIED)
            LOG_WARN("cons", "peer_refused", "err=\"%s\"", req->err.msg);
        else if (status != ERR_SHUTDOWN)
            LOG_DEBUG("cons", "peer_accept_failed", "err=\"%s\"", req->err.msg);
        in_release(in);
        return;
    }
    snprintf(in->cn, sizeof in->cn, "%s", peer_cn);
    in->pipe->data = in;
    uv_timer_init(tr->loop, &in->timer);
    in->timer.data = in;
    in->phase = IN_MAGIC;
    in->got = 0;
    in->want = CONS_RPC_MAGIC_LEN;
    if (tr->closing) {
        in_abort(in, NULL);
        return;
    }
    uv_timer_start(&in->timer, in_timeout, tr->timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)in->pipe, in_alloc, in_read) != 0)
        in_abort(in, "read start failed");
}

static void listen_cb(uv_stream_t *s, int status)
{
    struct transport *tr = s->data;
    struct incoming *in;
    struct err e;

    if (tr->closing)
        return;
    if (status != 0) {
        LOG_WARN("cons", "peer_listen_error", "err=\"%s\"", uv_strerror(status));
        return;
    }
    in = calloc(1, sizeof *in);
    if (in != NULL)
        in->pipe = raft_malloc(sizeof *in->pipe);
    if (in == NULL || in->pipe == NULL) {
        free(in);
        LOG_WARN("cons", "peer_accept_failed", "err=\"out of memory\"");
        return;
    }
    in->tr = tr;
    in->phase = IN_TLS;
    in->tls.data = in;
    if (tls_accept(&in->tls, tr->loop, tr->srv_ctx, s, tr->timeout_ms, in->pipe, in_tls_cb, &e) !=
        0) {
        LOG_WARN("cons", "peer_accept_failed", "err=\"%s\"", e.msg);
        raft_free(in->pipe);
        free(in);
        return;
    }
    QUEUE_PUSH(&tr->incoming, &in->link);
}

/* ---- raft_uv_transport -------------------------------------------------------------------- */

static int t_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct transport *tr = t->impl;
    struct sockaddr_storage ss;
    if (strlen(address) >= sizeof tr->address || parse_address(address, &ss) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "address %s: want IP:PORT", address);
        return RAFT_INVALID;
    }
    tr->id = id;
    snprintf(tr->address, sizeof tr->address, "%s", address);
    return 0;
}

static int t_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct transport *tr = t->impl;
    const char *addr = tr->bind[0] != '\0' ? tr->bind : tr->address;
    struct sockaddr_storage ss;
    int rv;

    tr->accept_cb = cb;
    if (parse_address(addr, &ss) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen %s: want IP:PORT", addr);
        return RAFT_INVALID;
    }
    if (!tr->listener_init) {
        uv_tcp_init(tr->loop, &tr->listener);
        tr->listener.data = tr;
        tr->listener_init = true;
    }
    rv = uv_tcp_bind(&tr->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&tr->listener, 128, listen_cb);
    if (rv != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen %s: %s", addr, uv_strerror(rv));
        return RAFT_IOERR;
    }
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    struct transport *tr = h->data;
    tr->listener_closed = true;
    maybe_closed(tr);
}

static void t_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct transport *tr = t->impl;
    queue *q;

    assert(!tr->closing);
    tr->closing = true;
    tr->close_cb = cb;
    /* Always close a handle, even one made just for this, so cb never fires from inside
     * close(). */
    if (!tr->listener_init) {
        uv_tcp_init(tr->loop, &tr->listener);
        tr->listener.data = tr;
        tr->listener_init = true;
    }
    uv_close((uv_handle_t *)&tr->listener, listener_closed);
    /* Cancels only start closes here; every cb and release happens in later callbacks, so
     * walking the queues while they shrink is not an issue. */
    QUEUE_FOREACH (q, &tr->outgoing) {
        out_cancel(QUEUE_DATA(q, struct outgoing, link));
    }
    QUEUE_FOREACH (q, &tr->incoming) {
        struct incoming *in = QUEUE_DATA(q, struct incoming, link);
        if (in->phase == IN_TLS)
            tls_cancel(&in->tls);
        else
            in_abort(in, NULL);
    }
}

int cons__transport_init(struct raft_uv_transport *t, uv_loop_t *loop, const char *cert_file,
                         const char *key_file, const char *ca_file, struct err *e)
{
    struct transport *tr;
    int rv;

    tr = calloc(1, sizeof *tr);
    if (tr == NULL)
        return err_setf(e, ERR_NOMEM, "transport: out of memory");
    rv = tls_ctx_server_new(cert_file, key_file, ca_file, &tr->srv_ctx, e);
    if (rv != 0)
        goto err_free;
    rv = tls_ctx_client_new(cert_file, key_file, ca_file, &tr->cli_ctx, e);
    if (rv != 0)
        goto err_free_srv;
    tr->t = t;
    tr->loop = loop;
    tr->timeout_ms = CONS__HANDSHAKE_TIMEOUT_MS;
    QUEUE_INIT(&tr->outgoing);
    QUEUE_INIT(&tr->incoming);
    t->impl = tr;
    t->errmsg[0] = '\0';
    t->init = t_init;
    t->listen = t_listen;
    t->connect = t_connect;
    t->close = t_close;
    return 0;

err_free_srv:
    tls_ctx_free(tr->srv_ctx);
err_free:
    free(tr);
    return err_wrapf(e, "transport");
}

int cons__transport_set_bind_address(struct raft_uv_transport *t, const char *address,
                                     struct err *e)
{
    struct transport *tr = t->impl;
    struct sockaddr_storage ss;
    if (strlen(address) >= sizeof tr->bind || parse_address(address, &ss) != 0)
        return err_setf(e, ERR_INVALID, "bind address %s: want IP:PORT", address);
    snprintf(tr->bind, sizeof tr->bind, "%s", address);
    return 0;
}

void cons__transport_set_timeout(struct raft_uv_transport *t, uint64_t timeout_ms)
{
    struct transport *tr = t->impl;
    tr->timeout_ms = timeout_ms != 0 ? timeout_ms : CONS__HANDSHAKE_TIMEOUT_MS;
}

void cons__transport_set_rpc_cb(struct raft_uv_transport *t, cons__rpc_accept_cb cb, void *data)
{
    struct transport *tr = t->impl;
    tr->rpc_cb = cb;
    tr->rpc_data = data;
}

void cons__transport_close(struct raft_uv_transport *t)
{
    struct transport *tr = t->impl;
    if (tr == NULL)
        return;
    /* Either raft closed us and every callback has run, or no handle was ever made. */
    assert(!tr->listener_init || (tr->listener_closed && tr->close_cb == NULL));
    assert(QUEUE_IS_EMPTY(&tr->outgoing) && QUEUE_IS_EMPTY(&tr->incoming));
    tls_ctx_free(tr->srv_ctx);
    tls_ctx_free(tr->cli_ctx);
    free(tr);
    t->impl = NULL;
}
