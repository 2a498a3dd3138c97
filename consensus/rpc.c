/* Peer RPC: followers forward proposals and barriers to the leader, send it
 * liveness heartbeats and ask it for member reachability. Runs over the same
 * mTLS peer port as raft (the transport routes connections that start with
 * CONS_RPC_MAGIC here). Frames: 4-byte big-endian length, then one msgpack
 * map. Every request carries an id; the answer echoes it. */
#include "consensus/consensus.h"

#include <arpa/inet.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/core.h"
#include "consensus/internal.h"
#include "lib/log.h"

#define FRAME_MAX (64u << 20)

enum {
    MSG_PROPOSE = 1,
    MSG_BARRIER,
    MSG_RESULT,
    MSG_HEARTBEAT,
    MSG_STATUS,
    MSG_STATUS_RESULT,
    MSG_PONG,
};

struct msg {
    int type;
    uint64_t id;
    uint64_t node_id;
    int status;
    char text[128];
    const char *cmd;
    size_t cmd_len;
    uint64_t rev, failed_mod_rev, index;
    int64_t failed_cmp;
    uint64_t reach[64]; /* STATUS_RESULT: ids the leader hears from */
    size_t n_reach;
};

struct conn {
    struct cons *c;
    uv_stream_t *stream; /* plain side of the TLS bridge; owned */
    char *rbuf;
    size_t rlen, rcap;
    bool is_client;
    uint64_t probe_id;                /* client: a leader's liveness probe of this member */
    struct cons__rpc_connect connect; /* client: pending connect */
    bool ready;                       /* client: connected */
    bool closed;                      /* uv_close started */
    int refs;                         /* server: 1 + leader-side requests in flight */
    uint64_t leader_id;
    queue inflight; /* client: requests sent, awaiting answers */
    queue status_reqs;
    queue link; /* server: in c->servers */
};

struct cons__rpc_client {
    struct conn conn;
};

static void conn_close(struct conn *k);
static void dispatch(struct cons *c);

static void free_stream(uv_handle_t *h)
{
    raft_free(h); /* the transport allocates streams with raft_malloc */
}

/* ---- encoding ---- */

static void pack_str(msgpack_packer *p, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(p, n);
    msgpack_pack_str_body(p, s, n);
}

static void pack_kv_u64(msgpack_packer *p, const char *k, uint64_t v)
{
    pack_str(p, k);
    msgpack_pack_uint64(p, v);
}

static int send_msg(struct conn *k, const struct msg *m);

static const msgpack_object *map_get(const msgpack_object *o, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            memcmp(kv->key.via.str.ptr, key, n) == 0)
            return &kv->val;
    }
    return NULL;
}

static uint64_t get_u64(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = map_get(o, key);
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return v->via.u64;
    return 0;
}

static int64_t get_i64(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = map_get(o, key);
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)v->via.u64;
    if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return v->via.i64;
    return 0;
}

/* Decodes one frame into m; m->cmd points into the unpacked zone. Unknown
 * or malformed input from a peer is an error, never a crash. */
static int decode_msg(const msgpack_object *o, struct msg *m)
{
    const msgpack_object *v;
    memset(m, 0, sizeof *m);
    if (o->type != MSGPACK_OBJECT_MAP)
        return ERR_INVALID;
    m->type = (int)get_u64(o, "t");
    m->id = get_u64(o, "id");
    m->node_id = get_u64(o, "node");
    m->status = (int)get_u64(o, "st");
    m->rev = get_u64(o, "rev");
    m->failed_cmp = get_i64(o, "fc");
    m->failed_mod_rev = get_u64(o, "fr");
    m->index = get_u64(o, "ix");
    v = map_get(o, "msg");
    if (v && v->type == MSGPACK_OBJECT_STR) {
        size_t n = v->via.str.size < sizeof m->text - 1 ? v->via.str.size : sizeof m->text - 1;
        memcpy(m->text, v->via.str.ptr, n);
        m->text[n] = '\0';
    }
    v = map_get(o, "cmd");
    if (v && v->type == MSGPACK_OBJECT_BIN) {
        m->cmd = v->via.bin.ptr;
        m->cmd_len = v->via.bin.size;
    }
    v = map_get(o, "reach");
    if (v && v->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < v->via.array.size && m->n_reach < 64; i++)
            if (v->via.array.ptr[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                m->reach[m->n_reach++] = v->via.array.ptr[i].via.u64;
    }
    if (m->type < MSG_PROPOSE || m->type > MSG_PONG)
        return ERR_INVALID;
    return 0;
}

struct write_req {
    uv_write_t w;
    char *data;
};

static void on_written(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    free(wr->data);
    free(wr);
    (void)status; /* a failed write shows up as a read error/EOF on the same stream */
}

static int send_msg(struct conn *k, const struct msg *m)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    struct write_req *wr;
    uv_buf_t b;
    uint32_t be;
    int n = 2;

    if (k->closed)
        return ERR_UNAVAILABLE;
    n += m->id ? 1 : 0;
    n += m->type == MSG_PROPOSE ? 1 : 0;
    n += (m->type == MSG_HEARTBEAT || m->type == MSG_PONG) ? 1 : 0;
    n += m->type == MSG_RESULT ? 6 : 0;
    n += m->type == MSG_STATUS_RESULT ? 1 : 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&sb, "\0\0\0\0", 4); /* length, patched below */
    msgpack_pack_map(&p, (size_t)n);
    pack_kv_u64(&p, "t", (uint64_t)m->type);
    pack_kv_u64(&p, "v", 1);
    if (m->id)
        pack_kv_u64(&p, "id", m->id);
    if (m->type == MSG_PROPOSE) {
        pack_str(&p, "cmd");
        msgpack_pack_bin(&p, m->cmd_len);
        msgpack_pack_bin_body(&p, m->cmd, m->cmd_len);
    }
    if (m->type == MSG_HEARTBEAT || m->type == MSG_PONG)
        pack_kv_u64(&p, "node", m->node_id);
    if (m->type == MSG_RESULT) {
        pack_kv_u64(&p, "st", (uint64_t)m->status);
        pack_str(&p, "msg");
        pack_str(&p, m->text);
        pack_kv_u64(&p, "rev", m->rev);
        pack_str(&p, "fc");
        msgpack_pack_int64(&p, m->failed_cmp);
        pack_kv_u64(&p, "fr", m->failed_mod_rev);
        pack_kv_u64(&p, "ix", m->index);
    }
    if (m->type == MSG_STATUS_RESULT) {
        pack_str(&p, "reach");
        msgpack_pack_array(&p, m->n_reach);
        for (size_t i = 0; i < m->n_reach; i++)
            msgpack_pack_uint64(&p, m->reach[i]);
    }
    be = htonl((uint32_t)(sb.size - 4));
    memcpy(sb.data, &be, 4);
    wr = malloc(sizeof *wr);
    if (wr == NULL) {
        msgpack_sbuffer_destroy(&sb);
        return ERR_NOMEM;
    }
    wr->data = sb.data; /* the write owns the buffer now */
    b = uv_buf_init(sb.data, (unsigned)sb.size);
    if (uv_write(&wr->w, k->stream, &b, 1, on_written) != 0) {
        free(wr->data);
        free(wr);
        return ERR_UNAVAILABLE;
    }
    return 0;
}

/* ---- server side (runs on the leader) ---- */

struct server_req {
    struct cons_propose req;
    struct conn *k;
    uint64_t id;
};

static void conn_unref(struct conn *k);

static void on_server_done(struct cons_propose *req, int status)
{
    struct server_req *sr = req->data;
    struct msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_RESULT;
    m.id = sr->id;
    m.status = status;
    snprintf(m.text, sizeof m.text, "%s", status ? req->err.msg : "");
    m.rev = req->result.rev;
    m.failed_cmp = req->result.failed_cmp;
    m.failed_mod_rev = req->result.failed_mod_rev;
    m.index = req->index;
    if (!sr->k->closed)
        send_msg(sr->k, &m);
    if (status == 0)
        cons__nudge(sr->req.c__); /* the follower waits to apply it: tell it now */
    conn_unref(sr->k);
    free(sr);
}

static void answer_error(struct conn *k, uint64_t id, int status, const char *text)
{
    struct msg m;
    memset(&m, 0, sizeof m);
    m.type = MSG_RESULT;
    m.id = id;
    m.status = status;
    m.failed_cmp = -1;
    snprintf(m.text, sizeof m.text, "%s", text);
    send_msg(k, &m);
}

static void serve(struct conn *k, const struct msg *m)
{
    struct cons *c = k->c;
    struct server_req *sr;
    int rv;

    if (m->type == MSG_HEARTBEAT) {
        /* the leader probing us: answer with our id so it knows who we are */
        struct msg r;
        memset(&r, 0, sizeof r);
        r.type = MSG_PONG;
        r.node_id = c->cfg.id;
        send_msg(k, &r);
        return;
    }
    if (m->type == MSG_STATUS) {
        struct msg r;
        struct cons_status st;
        memset(&r, 0, sizeof r);
        r.type = MSG_STATUS_RESULT;
        r.id = m->id;
        cons__status_fill(c, &st, true);
        for (size_t i = 0; i < st.n_members && r.n_reach < 64; i++)
            if (st.members[i].reachable)
                r.reach[r.n_reach++] = st.members[i].id;
        send_msg(k, &r);
        return;
    }
    if (m->type != MSG_PROPOSE && m->type != MSG_BARRIER)
        return;
    if (raft_state(&c->raft) != RAFT_LEADER) {
        /* Not applied anywhere: the follower may safely retry elsewhere. */
        answer_error(k, m->id, ERR_NOTLEADER, "not the leader");
        return;
    }
    sr = calloc(1, sizeof *sr);
    if (sr == NULL) {
        answer_error(k, m->id, ERR_NOMEM, "leader out of memory");
        return;
    }
    sr->k = k;
    sr->id = m->id;
    sr->req.data = sr;
    sr->req.cb = on_server_done;
    sr->req.c__ = c;
    sr->req.result.failed_cmp = -1;
    QUEUE_INIT((queue *)sr->req.queue__);
    if (m->type == MSG_PROPOSE)
        rv = cons__apply_local(c, &sr->req, m->cmd, m->cmd_len);
    else
        rv = cons__barrier_local(c, &sr->req);
    if (rv != 0) {
        answer_error(k, m->id, rv, rv == ERR_NOTLEADER ? "not the leader" : "leader i/o error");
        free(sr);
        return;
    }
    k->refs++;
}

/* ---- client side (runs on followers) ---- */

static void client_fail_inflight(struct conn *k, const char *why)
{
    struct cons *c = k->c;
    while (!QUEUE_IS_EMPTY(&k->inflight)) {
        struct cons_propose *req =
            QUEUE_DATA(QUEUE_HEAD(&k->inflight), struct cons_propose, queue__);
        if (req->kind__ == CONS__RPC_BARRIER) {
            /* A barrier has no side effect: try again with the next leader. */
            QUEUE_REMOVE((queue *)req->queue__);
            QUEUE_PUSH(&c->queued, (queue *)req->queue__);
            continue;
        }
        /* The leader may have applied it: outcome unknown, like etcd's
         * "request timed out"; never resend a write automatically. */
        err_setf(&req->err, ERR_UNAVAILABLE, "leader connection lost (%s): outcome unknown", why);
        cons__req_finish(req, ERR_UNAVAILABLE);
    }
    while (!QUEUE_IS_EMPTY(&k->status_reqs)) {
        queue *q = QUEUE_HEAD(&k->status_reqs);
        struct cons_status_req *sreq = QUEUE_DATA(q, struct cons_status_req, priv__);
        QUEUE_REMOVE(q);
        sreq->cb(sreq, 0); /* local view already filled */
    }
}

static void client_result(struct conn *k, const struct msg *m)
{
    struct cons *c = k->c;
    queue *q;
    QUEUE_FOREACH (q, &k->inflight) {
        struct cons_propose *req = QUEUE_DATA(q, struct cons_propose, queue__);
        if (req->rpc_id__ != m->id)
            continue;
        if (m->status == ERR_NOTLEADER) {
            QUEUE_REMOVE(q);
            QUEUE_PUSH(&c->queued, q);
            return;
        }
        if (m->status != 0) {
            err_setf(&req->err, m->status, "leader: %s", m->text);
            cons__req_finish(req, m->status);
            return;
        }
        req->result.rev = m->rev;
        req->result.failed_cmp = (int)m->failed_cmp;
        req->result.failed_mod_rev = m->failed_mod_rev;
        cons__req_answered(c, req, m->index);
        return;
    }
}

static void client_status_result(struct conn *k, const struct msg *m)
{
    queue *q;
    QUEUE_FOREACH (q, &k->status_reqs) {
        struct cons_status_req *sreq = QUEUE_DATA(q, struct cons_status_req, priv__);
        if ((uint64_t)(uintptr_t)sreq->priv__[2] != m->id)
            continue;
        QUEUE_REMOVE(q);
        for (size_t i = 0; i < sreq->st.n_members; i++) {
            struct cons_member *mb = &sreq->st.members[i];
            mb->reachable = false;
            for (size_t j = 0; j < m->n_reach; j++)
                if (m->reach[j] == mb->id)
                    mb->reachable = true;
        }
        sreq->cb(sreq, 0);
        return;
    }
}

/* ---- streams ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *k = h->data;
    if (k->rcap - k->rlen < 65536) {
        size_t cap = k->rcap ? k->rcap * 2 : 131072;
        char *p = realloc(k->rbuf, cap);
        if (p == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        k->rbuf = p;
        k->rcap = cap;
    }
    *buf = uv_buf_init(k->rbuf + k->rlen, (unsigned)(k->rcap - k->rlen));
    (void)suggested;
}

static void handle_frames(struct conn *k)
{
    size_t off = 0;
    while (k->rlen - off >= 4 && !k->closed) {
        uint32_t be, n;
        msgpack_unpacked u;
        struct msg m;
        memcpy(&be, k->rbuf + off, 4);
        n = ntohl(be);
        if (n > FRAME_MAX) {
            LOG_WARN("cons", "rpc_bad_frame", "err=\"frame of %u bytes\"", n);
            conn_close(k);
            return;
        }
        if (k->rlen - off - 4 < n)
            break;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, k->rbuf + off + 4, n, NULL) != MSGPACK_UNPACK_SUCCESS ||
            decode_msg(&u.data, &m) != 0) {
            msgpack_unpacked_destroy(&u);
            LOG_WARN("cons", "rpc_bad_frame", "err=\"malformed message\"");
            conn_close(k);
            return;
        }
        if (!k->is_client)
            serve(k, &m);
        else if (m.type == MSG_RESULT)
            client_result(k, &m);
        else if (m.type == MSG_STATUS_RESULT)
            client_status_result(k, &m);
        else if (m.type == MSG_PONG && k->probe_id != 0 && m.node_id == k->probe_id)
            cons__members_contact(k->c, m.node_id);
        msgpack_unpacked_destroy(&u);
        off += 4 + n;
    }
    if (off > 0 && !k->closed) {
        memmove(k->rbuf, k->rbuf + off, k->rlen - off);
        k->rlen -= off;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *k = s->data;
    (void)buf;
    if (nread < 0) {
        conn_close(k);
        return;
    }
    k->rlen += (size_t)nread;
    handle_frames(k);
}

static void on_stream_closed(uv_handle_t *h)
{
    struct conn *k = h->data;
    raft_free(h);
    k->stream = NULL;
    conn_unref(k);
}

static void conn_free(struct conn *k)
{
    free(k->rbuf);
    free(k);
}

static void conn_unref(struct conn *k)
{
    if (--k->refs == 0)
        conn_free(k);
}

static void conn_close(struct conn *k)
{
    struct cons *c = k->c;
    if (k->closed)
        return;
    k->closed = true;
    if (k->is_client) {
        if (c->client == (struct cons__rpc_client *)k)
            c->client = NULL;
        for (int i = 0; i < CONS__MAX_PROBES; i++)
            if (c->probes[i] == (struct cons__rpc_client *)k)
                c->probes[i] = NULL;
        client_fail_inflight(k, "closed");
    } else {
        QUEUE_REMOVE(&k->link);
    }
    if (k->stream != NULL) {
        uv_read_stop(k->stream);
        uv_close((uv_handle_t *)k->stream, on_stream_closed);
    } else {
        if (k->is_client && k->connect.priv != NULL)
            cons__rpc_connect_cancel(&k->connect);
        conn_unref(k);
    }
}

void cons__rpc_on_accept(void *data, uv_stream_t *stream, const char *peer_cn)
{
    struct cons *c = data;
    struct conn *k = calloc(1, sizeof *k);
    if (k == NULL || c->closing) {
        free(k);
        uv_close((uv_handle_t *)stream, free_stream);
        return;
    }
    k->c = c;
    k->stream = stream;
    k->refs = 1;
    stream->data = k;
    QUEUE_INIT(&k->inflight);
    QUEUE_INIT(&k->status_reqs);
    QUEUE_PUSH(&c->servers, &k->link);
    LOG_DEBUG("cons", "rpc_accepted", "peer=%s", peer_cn ? peer_cn : "?");
    if (uv_read_start(stream, on_alloc, on_read) != 0)
        conn_close(k);
}

static void on_client_connected(struct cons__rpc_connect *req, uv_stream_t *stream, int status,
                                const char *peer_cn)
{
    struct conn *k = req->data;
    (void)peer_cn;
    struct cons *c = k->c;
    if (k->closed || c->closing) {
        /* closed while connecting: the connect hands the stream back anyway */
        if (stream != NULL)
            uv_close((uv_handle_t *)stream, free_stream);
        conn_unref(k);
        return;
    }
    if (status != 0 || stream == NULL) {
        k->stream = NULL;
        conn_close(k);
        conn_unref(k); /* the connect's reference */
        return;
    }
    k->stream = stream;
    stream->data = k;
    k->ready = true;
    conn_unref(k);
    if (uv_read_start(stream, on_alloc, on_read) != 0) {
        conn_close(k);
        return;
    }
    LOG_DEBUG("cons", "rpc_connected", "leader=%llu", (unsigned long long)k->leader_id);
    if (k->probe_id == 0)
        dispatch(c); /* what queued up while connecting goes now, not at the next tick */
}

static struct cons__rpc_client *client_new(struct cons *c, const char *address, uint64_t probe_id)
{
    struct cons__rpc_client *cl = calloc(1, sizeof *cl);
    struct conn *k;
    if (cl == NULL)
        return NULL;
    k = &cl->conn;
    k->c = c;
    k->is_client = true;
    k->refs = 2; /* the connection itself + the pending connect */
    k->probe_id = probe_id;
    QUEUE_INIT(&k->inflight);
    QUEUE_INIT(&k->status_reqs);
    k->connect.data = k;
    if (cons__rpc_connect(&c->transport, &k->connect, address, on_client_connected, NULL) != 0) {
        free(cl);
        return NULL;
    }
    return cl;
}

static void client_connect(struct cons *c, uint64_t leader_id, const char *address)
{
    struct cons__rpc_client *cl = client_new(c, address, 0);
    if (cl == NULL)
        return;
    cl->conn.leader_id = leader_id;
    c->client = cl;
}

/* Leader: one probe connection per member, pinged every heartbeat period.
 * Liveness is the leader's memory only, never a Raft write. */
static void probes_tick(struct cons *c, uint64_t now)
{
    struct raft_configuration *conf = &c->raft.configuration;
    bool leader = raft_state(&c->raft) == RAFT_LEADER;
    for (int i = 0; i < CONS__MAX_PROBES; i++) {
        bool member = false;
        if (c->probes[i] == NULL)
            continue;
        for (unsigned j = 0; leader && j < conf->n; j++)
            member = member || conf->servers[j].id == c->probes[i]->conn.probe_id;
        if (!member)
            conn_close(&c->probes[i]->conn);
    }
    if (!leader || now - c->last_heartbeat_ms < CONS__HEARTBEAT_MS)
        return;
    c->last_heartbeat_ms = now;
    for (unsigned j = 0; j < conf->n; j++) {
        const struct raft_server *s = &conf->servers[j];
        int slot = -1, free_slot = -1;
        if (s->id == c->cfg.id)
            continue;
        for (int i = 0; i < CONS__MAX_PROBES; i++) {
            if (c->probes[i] != NULL && c->probes[i]->conn.probe_id == s->id)
                slot = i;
            if (c->probes[i] == NULL && free_slot < 0)
                free_slot = i;
        }
        if (slot < 0 && free_slot >= 0) {
            c->probes[free_slot] = client_new(c, s->address, s->id);
            continue;
        }
        if (slot >= 0 && c->probes[slot]->conn.ready) {
            struct msg m;
            memset(&m, 0, sizeof m);
            m.type = MSG_HEARTBEAT;
            m.node_id = c->cfg.id;
            send_msg(&c->probes[slot]->conn, &m);
        }
    }
}

/* ---- dispatch ---- */

static void dispatch_one(struct cons *c, struct cons_propose *req)
{
    int rv;
    struct msg m;
    if (raft_state(&c->raft) == RAFT_LEADER) {
        if (req->kind__ == CONS__RPC_PROPOSE)
            rv = cons__apply_local(c, req, req->buf__, req->len__);
        else
            rv = cons__barrier_local(c, req);
        if (rv == 0) {
            QUEUE_REMOVE((queue *)req->queue__); /* raft holds it now */
            return;
        }
        if (rv != ERR_NOTLEADER) {
            err_setf(&req->err, rv, "propose: %s", err_name(rv));
            cons__req_finish(req, rv);
        }
        return;
    }
    if (c->client == NULL || !c->client->conn.ready)
        return;
    memset(&m, 0, sizeof m);
    m.type = req->kind__ == CONS__RPC_PROPOSE ? MSG_PROPOSE : MSG_BARRIER;
    m.id = req->rpc_id__ = c->next_rpc_id++;
    m.cmd = req->buf__;
    m.cmd_len = req->len__;
    if (send_msg(&c->client->conn, &m) != 0)
        return;
    QUEUE_REMOVE((queue *)req->queue__);
    QUEUE_PUSH(&c->client->conn.inflight, (queue *)req->queue__);
}

/* Keeps exactly one connection, to the current leader (if it is not us). */
static void leader_link(struct cons *c)
{
    uint64_t lid = 0;
    const char *laddr = NULL;
    cons__leader_info(c, &lid, &laddr);
    if (c->client != NULL && (lid == 0 || c->client->conn.leader_id != lid || lid == c->cfg.id))
        conn_close(&c->client->conn);
    if (c->client == NULL && lid != 0 && lid != c->cfg.id && laddr != NULL)
        client_connect(c, lid, laddr);
}

static void dispatch(struct cons *c)
{
    queue *q, *next;
    /* after a failover the follower learns the new leader from raft; connect
     * as soon as there is work rather than at the next tick */
    if (!QUEUE_IS_EMPTY(&c->queued) && raft_state(&c->raft) != RAFT_LEADER && c->client == NULL)
        leader_link(c);
    for (q = QUEUE_HEAD(&c->queued); q != &c->queued; q = next) {
        next = QUEUE__NEXT(q);
        dispatch_one(c, QUEUE_DATA(q, struct cons_propose, queue__));
    }
}

void cons__rpc_dispatch(struct cons *c)
{
    dispatch(c);
}

/* Queues req; it is dispatched on the next loop turn, never from inside
 * this call: callers include raft's own callbacks (a read batch finishing
 * starts the next one), and calling raft_barrier/raft_apply from a callback
 * raft runs while it steps down from leader crashed libraft (the leader
 * state is already freed while raft_state still says LEADER). It also
 * keeps the promise that a request's callback never fires inside the call
 * that made it. */
int cons__rpc_forward(struct cons *c, struct cons_propose *req, int kind)
{
    req->kind__ = kind;
    QUEUE_PUSH(&c->queued, (queue *)req->queue__);
    if (!c->closing && !uv_is_active((uv_handle_t *)&c->kick))
        uv_timer_start(&c->kick, cons__on_kick, 0, 0);
    return 0;
}

static void expire(struct cons *c, queue *head, uint64_t now, int code, const char *why)
{
    queue *q, *next;
    for (q = QUEUE_HEAD(head); q != head; q = next) {
        struct cons_propose *req = QUEUE_DATA(q, struct cons_propose, queue__);
        next = QUEUE__NEXT(q);
        if (now < req->deadline__)
            continue;
        err_setf(&req->err, code, "%s", why);
        cons__req_finish(req, code);
    }
}

void cons__rpc_tick(struct cons *c)
{
    uint64_t now = uv_now(c->loop);

    leader_link(c);
    dispatch(c);
    expire(c, &c->queued, now, ERR_UNAVAILABLE, "no leader reachable: cluster has no quorum?");
    if (c->client != NULL)
        expire(c, &c->client->conn.inflight, now, ERR_TIMEOUT,
               "timed out waiting for the leader: outcome unknown");
    expire(c, &c->waiting, now, ERR_TIMEOUT, "timed out waiting for the local replica to apply");

    probes_tick(c, now);
}

int cons__rpc_status(struct cons *c, struct cons_status_req *req)
{
    struct msg m;
    struct conn *k;
    if (c->client == NULL || !c->client->conn.ready)
        return ERR_UNAVAILABLE;
    k = &c->client->conn;
    memset(&m, 0, sizeof m);
    m.type = MSG_STATUS;
    m.id = c->next_rpc_id++;
    req->priv__[2] = (void *)(uintptr_t)m.id;
    if (send_msg(k, &m) != 0)
        return ERR_UNAVAILABLE;
    QUEUE_PUSH(&k->status_reqs, (queue *)req->priv__);
    return 0;
}

void cons__rpc_close(struct cons *c)
{
    if (c->client != NULL)
        conn_close(&c->client->conn);
    for (int i = 0; i < CONS__MAX_PROBES; i++)
        if (c->probes[i] != NULL)
            conn_close(&c->probes[i]->conn);
    while (!QUEUE_IS_EMPTY(&c->servers))
        conn_close(QUEUE_DATA(QUEUE_HEAD(&c->servers), struct conn, link));
}
