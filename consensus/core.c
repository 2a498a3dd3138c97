/* The replica: raft + raft_uv + the FSM glue to the store, proposals,
 * barriers, applied-index waiters and leadership callbacks. */
#include "consensus/consensus.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "consensus/core.h"
#include "consensus/internal.h"
#include "lib/log.h"

#define DEFAULT_TIMEOUT_MS 5000
/* Raft entry = [u32 version][u32 length][store txn (msgpack)][zero padding to 8] */
#define ENVELOPE_BYTES 8
#define ENVELOPE_V1    1u

static void on_idle(uv_idle_t *h);
static void on_check(uv_check_t *h);

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* raft fills its errmsg only for some failures (not for RAFT_BUSY, say):
 * fall back to the code's name so an error never reads "bootstrap: ". */
static const char *raft_why(struct raft *r, int rv)
{
    const char *msg = raft_errmsg(r);
    return msg != NULL && msg[0] != '\0' ? msg : raft_strerror(rv);
}

/* ---- FSM ---- */

/* canonical/raft calls apply with last_applied still at the previous entry:
 * the index being applied is last_applied + 1 (barriers and configuration
 * entries advance last_applied too, without reaching the FSM). */
static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct cons *c = fsm->data;
    uint64_t index = raft_last_applied(&c->raft) + 1;
    struct cons__result *slot = &c->results[index % CONS__RESULTS];
    struct store_txn_owned t;
    struct err e;
    int rv;

    const uint8_t *p = buf->base;
    uint32_t version = 0, len = 0;

    *result = NULL;
    memset(slot, 0, sizeof *slot);
    slot->index = index;
    slot->r.failed_cmp = -1;
    if (buf->len >= ENVELOPE_BYTES) {
        memcpy(&version, p, 4);
        memcpy(&len, p + 4, 4);
        version = le32toh(version);
        len = le32toh(len);
    }
    if (version != ENVELOPE_V1 || len > buf->len - ENVELOPE_BYTES)
        rv = err_setf(&e, ERR_INVALID, "command envelope: unknown version or bad length");
    else
        rv = store_txn_decode(p + ENVELOPE_BYTES, len, &t, &e);
    if (rv != 0) {
        /* A command every replica rejects identically: deterministic, so the
         * replicas stay equal. Only the proposer hears about it. */
        slot->status = rv;
        snprintf(slot->msg, sizeof slot->msg, "%s", e.msg);
        LOG_WARN("cons", "apply_rejected", "index=%llu err=\"%s\"", (unsigned long long)index,
                 e.msg);
        return 0;
    }
    rv = store_txn_apply(c->store, index, &t.txn, &slot->r, &e);
    store_txn_owned_close(&t);
    if (rv == ERR_INVALID) {
        slot->status = rv;
        snprintf(slot->msg, sizeof slot->msg, "%s", e.msg);
        return 0;
    }
    if (rv != 0) {
        /* Disk full or I/O error: the replica cannot go on without diverging.
         * Returning an error makes raft stop applying here; it retries later. */
        LOG_ERROR("cons", "apply_failed", "index=%llu err=\"%s\"", (unsigned long long)index,
                  e.msg);
        return RAFT_IOERR;
    }
    cons__waiters_kick(c);
    return 0;
}

/* Snapshots are taken in three steps (raft FSM version 3) so that
 * serialising a large store never stalls the loop (elections, heartbeats):
 * on the loop, open an LMDB read txn at exactly the applied index; in the
 * thread pool, serialise it; back on the loop, release everything. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct cons *c = fsm->data;
    struct err e;
    int rv;
    if (c->snap != NULL) {
        /* raft asked again before finalizing the previous one (seen after a
         * failed restore): decline, it retries at the next threshold */
        LOG_WARN("cons", "snapshot_busy", "index=%llu", (unsigned long long)c->snap_index);
        return RAFT_BUSY;
    }
    *bufs = raft_calloc(1, sizeof **bufs);
    if (*bufs == NULL)
        return RAFT_NOMEM;
    *n_bufs = 1;
    rv = store_snapshot_begin(c->store, &c->snap, &e);
    if (rv != 0) {
        raft_free(*bufs);
        *bufs = NULL;
        *n_bufs = 0;
        LOG_ERROR("cons", "snapshot_failed", "err=\"%s\"", e.msg);
        return RAFT_IOERR;
    }
    c->snap_index = raft_last_applied(&c->raft);
    return 0;
}

/* The serialisation copies the whole store. It runs on a thread of its own
 * at nice 10, so that on a machine whose cores are busy with the loops (API,
 * raft) it takes their spare time rather than theirs; a lower priority
 * would let a steady load starve it while its LMDB read txn pins pages. */
#define CONS_SNAPSHOT_NICE 10

struct snap_job {
    struct store_snap *snap;
    void *data;
    size_t len;
    int rv;
    struct err e;
};

static void *snap_job_run(void *arg)
{
    struct snap_job *j = arg;
    /* lowering one's own priority needs no privilege; failing is harmless */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), CONS_SNAPSHOT_NICE);
    j->rv = store_snapshot_write(j->snap, &j->data, &j->len, &j->e);
    return NULL;
}

static int snapshot_serialise(struct store_snap *snap, void **data, size_t *len, struct err *e)
{
    struct snap_job j = {.snap = snap};
    pthread_t t;
    if (pthread_create(&t, NULL, snap_job_run, &j) != 0) /* no thread: here, unniced */
        j.rv = store_snapshot_write(snap, &j.data, &j.len, &j.e);
    else
        pthread_join(t, NULL);
    if (j.rv != 0) {
        *e = j.e;
        return j.rv;
    }
    *data = j.data;
    *len = j.len;
    return 0;
}

/* Thread pool: touches only c->snap and the buffers (raft serialises the
 * three calls, and nothing else uses c->snap meanwhile). */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct cons *c = fsm->data;
    struct err e;
    void *data;
    size_t len;
    int rv = snapshot_serialise(c->snap, &data, &len, &e);
    (void)n_bufs;
    if (rv != 0) {
        snprintf(c->snap_err, sizeof c->snap_err, "%s", e.msg);
        return RAFT_IOERR;
    }
    (*bufs)[0].base = data;
    (*bufs)[0].len = len;
    return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct cons *c = fsm->data;
    if (*bufs != NULL) {
        if ((*bufs)[0].base != NULL)
            LOG_INFO("cons", "snapshot_taken", "index=%llu bytes=%zu",
                     (unsigned long long)c->snap_index, (*bufs)[0].len);
        else
            LOG_ERROR("cons", "snapshot_failed", "err=\"%s\"", c->snap_err);
        free((*bufs)[0].base); /* msgpack's buffer: malloc'ed */
        raft_free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    store_snapshot_end(c->snap);
    c->snap = NULL;
    c->snap_err[0] = '\0';
    return 0;
}

/* At start raft hands the FSM its last snapshot, which is older than the
 * store when the store is kept (the applied index is in every LMDB txn).
 * A store the machine has not lost power since (store_trusted) and that is
 * at or past the snapshot is kept as it is: raft then re-applies the entries
 * after the snapshot and the store skips those it has. Restoring would
 * rewrite the whole store and take seconds on a large one (a restarted node
 * missing from the quorum meanwhile). Otherwise, and for a snapshot sent by
 * the leader, the store is replaced. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct cons *c = fsm->data;
    struct err e;
    uint64_t snap_rev, snap_applied;
    if (store_trusted(c->store) &&
        store_snapshot_peek(buf->base, buf->len, &snap_rev, &snap_applied, &e) == 0 &&
        store_applied_index(c->store) >= snap_applied && store_revision(c->store) >= snap_rev) {
        LOG_INFO("cons", "snapshot_kept_store", "snapshot_applied=%llu applied=%llu rev=%llu",
                 (unsigned long long)snap_applied,
                 (unsigned long long)store_applied_index(c->store),
                 (unsigned long long)store_revision(c->store));
        raft_free(buf->base);
        return 0;
    }
    int rv = store_restore(c->store, buf->base, buf->len, &e);
    if (rv != 0) {
        LOG_ERROR("cons", "restore_failed", "err=\"%s\"", e.msg);
        return RAFT_IOERR;
    }
    LOG_INFO("cons", "snapshot_restored", "rev=%llu applied=%llu",
             (unsigned long long)store_revision(c->store),
             (unsigned long long)store_applied_index(c->store));
    raft_free(buf->base); /* the FSM owns the buffer once restore succeeds */
    cons__waiters_kick(c);
    return 0;
}

/* raft_uv 0.15 is a version-1 raft_io without async_work, which raft needs
 * for FSM snapshots off the loop; this adds it with uv_queue_work. Work in
 * flight holds the cons open (free_cons waits for it). */
struct async_work {
    uv_work_t w;
    struct cons *c;
    struct raft_io_async_work *req;
    raft_io_async_work_cb cb;
    int status;
};

static void async_work_run(uv_work_t *w)
{
    struct async_work *aw = w->data;
    aw->status = aw->req->work(aw->req);
}

static void free_cons(struct cons *c);

static void async_work_done(uv_work_t *w, int status)
{
    struct async_work *aw = w->data;
    struct cons *c = aw->c;
    aw->cb(aw->req, status == UV_ECANCELED ? RAFT_CANCELED : aw->status);
    free(aw);
    if (--c->async_pending == 0 && c->closed_pending_async)
        free_cons(c);
}

static int io_async_work(struct raft_io *io, struct raft_io_async_work *req,
                         raft_io_async_work_cb cb)
{
    struct cons *c = (struct cons *)((char *)io - offsetof(struct cons, io));
    struct async_work *aw = malloc(sizeof *aw);
    if (aw == NULL)
        return RAFT_NOMEM;
    aw->w.data = aw;
    aw->c = c;
    aw->req = req;
    aw->cb = cb;
    aw->status = 0;
    if (uv_queue_work(c->loop, &aw->w, async_work_run, async_work_done) != 0) {
        free(aw);
        return RAFT_IOERR;
    }
    c->async_pending++;
    return 0;
}

/* ---- waiters: requests done at the leader, waiting for the local replica ---- */

void cons__req_finish(struct cons_propose *req, int status)
{
    QUEUE_REMOVE((queue *)req->queue__);
    free(req->buf__);
    req->buf__ = NULL;
    if (status != 0 && req->err.code == 0)
        err_setf(&req->err, status, "%s", err_name(status));
    if (status == 0)
        err_clear(&req->err);
    /* start_ns__ is set only by cons_propose on this node (not on barriers
     * nor on the leader's copies of forwarded proposals) */
    if (req->start_ns__ != 0 && req->c__ != NULL) {
        if (status == 0)
            prom_hist_observe(&req->c__->m_propose_latency,
                              (double)(uv_hrtime() - req->start_ns__) / 1e9);
        else
            req->c__->m_proposals_failed++;
        req->start_ns__ = 0;
    }
    req->cb(req, status);
}

/* Called from inside the FSM apply: only schedule, never run user callbacks
 * there, since they may propose again (re-entering raft mid-apply). */
void cons__waiters_kick(struct cons *c)
{
    if (!QUEUE_IS_EMPTY(&c->waiting) && !c->closing)
        uv_idle_start(&c->idle, on_idle);
}

static void fire_applied(struct cons *c)
{
    uint64_t applied = raft_last_applied(&c->raft);
    queue *q, *next;

    for (q = QUEUE_HEAD(&c->waiting); q != &c->waiting; q = next) {
        struct cons_propose *req = QUEUE_DATA(q, struct cons_propose, queue__);
        next = QUEUE__NEXT(q);
        if (req->index > applied)
            continue;
        if (req->result.rev == 0)
            req->result.rev = store_revision(c->store);
        cons__req_finish(req, 0);
    }
    if (QUEUE_IS_EMPTY(&c->waiting))
        uv_check_stop(&c->check);
}

/* idle: "run once, soon" (an apply just happened); check: after every loop
 * iteration while anyone waits, because barrier and configuration entries
 * advance last_applied without passing through the FSM. */
static void on_idle(uv_idle_t *h)
{
    uv_idle_stop(h);
    fire_applied(h->data);
}

static void on_check(uv_check_t *h)
{
    fire_applied(h->data);
}

static void wait_applied(struct cons *c, struct cons_propose *req)
{
    QUEUE_REMOVE((queue *)req->queue__);
    QUEUE_PUSH(&c->waiting, (queue *)req->queue__);
    uv_idle_start(&c->idle, on_idle); /* complete later even if already applied */
    uv_check_start(&c->check, on_check);
}

/* ---- proposals ---- */

static void on_apply(struct raft_apply *ar, int status, void *result)
{
    struct cons_propose *req = ar->data;
    struct cons *c = req->c__;
    struct cons__result *slot;
    uint64_t index = ar->index;

    free(ar);
    if (status != 0) {
        int code = status == RAFT_NOTLEADER || status == RAFT_LEADERSHIPLOST
                       ? ERR_UNAVAILABLE
                       : (status == RAFT_SHUTDOWN ? ERR_SHUTDOWN : ERR_IO);
        /* LEADERSHIPLOST: the entry may or may not commit later; the caller
         * must treat the outcome as unknown, as etcd's clients do. */
        err_setf(&req->err, code, "propose: %s", raft_strerror(status));
        cons__req_finish(req, code);
        return;
    }
    slot = &c->results[index % CONS__RESULTS];
    req->index = index;
    if (slot->index == index) {
        req->result = slot->r;
        if (slot->status != 0) {
            err_setf(&req->err, slot->status, "%s", slot->msg);
            cons__req_finish(req, slot->status);
            return;
        }
    }
    cons__req_finish(req, 0);
    (void)result;
}

/* Leader path: raft_apply the encoded txn held in req->buf__. */
int cons__apply_local(struct cons *c, struct cons_propose *req, const void *data, size_t len)
{
    struct raft_apply *ar = malloc(sizeof *ar);
    struct raft_buffer b;
    int rv;
    if (ar == NULL)
        return ERR_NOMEM;
    /* canonical/raft sends entries unpadded but decodes them as if padded to
     * 8 bytes (uv_encoding.c), so every entry must be a multiple of 8 long.
     * The envelope carries the real length; the padding is zeros. */
    b.len = (ENVELOPE_BYTES + len + 7) & ~(size_t)7;
    b.base = raft_calloc(1, b.len);
    if (b.base == NULL) {
        free(ar);
        return ERR_NOMEM;
    }
    {
        uint32_t v = htole32(ENVELOPE_V1), l = htole32((uint32_t)len);
        memcpy(b.base, &v, 4);
        memcpy((char *)b.base + 4, &l, 4);
        memcpy((char *)b.base + ENVELOPE_BYTES, data, len);
    }
    ar->data = req;
    rv = raft_apply(&c->raft, ar, &b, 1, on_apply);
    if (rv != 0) {
        raft_free(b.base);
        free(ar);
        return rv == RAFT_NOTLEADER ? ERR_NOTLEADER : ERR_IO;
    }
    return 0;
}

struct barrier_req {
    struct raft_barrier b;
    struct cons_propose *req;
};

static void on_barrier(struct raft_barrier *b, int status)
{
    struct barrier_req *br = b->data;
    struct cons_propose *req = br->req;
    uint64_t index = b->index;
    free(br);
    if (status != 0) {
        int code = status == RAFT_SHUTDOWN ? ERR_SHUTDOWN : ERR_UNAVAILABLE;
        err_setf(&req->err, code, "barrier: %s", raft_strerror(status));
        cons__req_finish(req, code);
        return;
    }
    req->index = index;
    req->result.rev = store_revision(req->c__->store);
    cons__req_finish(req, 0);
}

/* Leader path of a read barrier: once a no-op entry of the current term is
 * applied here, every write acknowledged before the barrier started is too. */
int cons__barrier_local(struct cons *c, struct cons_propose *req)
{
    struct barrier_req *br = malloc(sizeof *br);
    int rv;
    if (br == NULL)
        return ERR_NOMEM;
    br->req = req;
    br->b.data = br;
    rv = raft_barrier(&c->raft, &br->b, on_barrier);
    if (rv != 0) {
        free(br);
        return rv == RAFT_NOTLEADER ? ERR_NOTLEADER : ERR_IO;
    }
    return 0;
}

static void req_init(struct cons *c, struct cons_propose *req, unsigned timeout_ms,
                     cons_propose_cb cb)
{
    req->cb = cb;
    req->c__ = c;
    req->buf__ = NULL;
    req->len__ = 0;
    req->index = 0;
    memset(&req->result, 0, sizeof req->result);
    req->result.failed_cmp = -1;
    err_clear(&req->err);
    req->deadline__ = uv_now(c->loop) + (timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS);
    req->rpc_id__ = 0;
    req->kind__ = 0;
    req->start_ns__ = 0;
    QUEUE_INIT((queue *)req->queue__);
}

/* Disk-full guard, like etcd's NOSPACE alarm: an apply that fails for lack
 * of space cannot be skipped (replicas would diverge), so refuse new data at
 * the proposer while there is headroom. Deletes always pass, to free space. */
static int check_quota(struct cons *c, const struct store_txn *txn, struct err *e)
{
    uint64_t used, limit;
    bool puts = false;
    for (size_t i = 0; i < txn->n_ops; i++)
        puts = puts || txn->ops[i].kind == STORE_OP_PUT;
    if (!puts)
        return 0;
    store_usage(c->store, &used, &limit);
    if (limit > 0 && used > limit / 100 * CONS_QUOTA_PERCENT)
        return err_setf(e, ERR_UNAVAILABLE,
                        "store is full: %.1f of %.1f MiB used (limit %d%%); delete objects to "
                        "free space",
                        (double)used / (1 << 20), (double)limit / (1 << 20), CONS_QUOTA_PERCENT);
    return 0;
}

int cons_propose(struct cons *c, struct cons_propose *req, const struct store_txn *txn,
                 unsigned timeout_ms, cons_propose_cb cb)
{
    struct err e;
    int rv;
    c->m_proposals++;
    c->m_proposals_failed++; /* until it is queued: every early return is a failure */
    if (c->closing)
        return err_setf(&req->err, ERR_SHUTDOWN, "propose: node is shutting down");
    rv = store_txn_check(txn, &e);
    if (rv != 0) {
        req->err = e;
        return rv;
    }
    rv = check_quota(c, txn, &req->err);
    if (rv != 0)
        return rv;
    req_init(c, req, timeout_ms, cb);
    rv = store_txn_encode(txn, &req->buf__, &req->len__, &req->err);
    if (rv != 0)
        return rv;
    c->m_proposals_failed--;
    req->start_ns__ = uv_hrtime();
    /* Always go through the queue: the callback must never fire from inside
     * this call, and the tick/RPC machinery routes it to the leader. */
    rv = cons__rpc_forward(c, req, CONS__RPC_PROPOSE);
    if (rv != 0) {
        free(req->buf__);
        req->buf__ = NULL;
        return rv;
    }
    return 0;
}

/* Barriers are batched: every read that arrives while one barrier is in
 * flight rides on the next one (which starts after it arrived, so it still
 * sees every write acknowledged before the read). N concurrent reads cost
 * two raft entries, not N. */
static void batch_start(struct cons *c);

static void on_batch_done(struct cons_propose *batch, int status)
{
    struct cons *c = batch->data;
    c->batch_inflight = false;
    while (!QUEUE_IS_EMPTY(&c->batch_members)) {
        struct cons_propose *req =
            QUEUE_DATA(QUEUE_HEAD(&c->batch_members), struct cons_propose, queue__);
        req->index = batch->index;
        req->result.rev = store_revision(c->store);
        if (status != 0)
            req->err = batch->err;
        cons__req_finish(req, status);
    }
    if (!QUEUE_IS_EMPTY(&c->batch_next) && !c->closing)
        batch_start(c);
}

static void batch_start(struct cons *c)
{
    unsigned timeout_ms = 0;
    queue *q;
    QUEUE_FOREACH (q, &c->batch_next) {
        struct cons_propose *req = QUEUE_DATA(q, struct cons_propose, queue__);
        uint64_t left = req->deadline__ > uv_now(c->loop) ? req->deadline__ - uv_now(c->loop) : 1;
        if (left > timeout_ms)
            timeout_ms = (unsigned)left;
    }
    while (!QUEUE_IS_EMPTY(&c->batch_next)) {
        q = QUEUE_HEAD(&c->batch_next);
        QUEUE_REMOVE(q);
        QUEUE_PUSH(&c->batch_members, q);
    }
    c->batch_inflight = true;
    req_init(c, &c->batch, timeout_ms, on_batch_done);
    c->batch.data = c;
    cons__rpc_forward(c, &c->batch, CONS__RPC_BARRIER);
}

int cons_barrier(struct cons *c, struct cons_propose *req, unsigned timeout_ms, cons_propose_cb cb)
{
    if (c->closing)
        return err_setf(&req->err, ERR_SHUTDOWN, "barrier: node is shutting down");
    req_init(c, req, timeout_ms, cb);
    QUEUE_PUSH(&c->batch_next, (queue *)req->queue__);
    if (!c->batch_inflight)
        batch_start(c);
    return 0;
}

/* A request answered by the leader with the index it was applied at: finish
 * it once this replica has applied that index too (read-your-writes). */
void cons__req_answered(struct cons *c, struct cons_propose *req, uint64_t index)
{
    req->index = index;
    wait_applied(c, req);
}

/* ---- commit propagation ----
 * canonical/raft tells followers the new commit index only with the next
 * AppendEntries: the next entry or the next heartbeat. A follower that
 * forwarded a write waits for its own replica to apply it (read-your-writes),
 * so under a closed loop of clients it would wait a heartbeat each time
 * (64 clients / 60 ms heartbeat = ~1000 writes/s through a follower). After
 * answering forwarded requests the leader appends a barrier, whose
 * AppendEntries carry the new commit index at once. One nudge in flight at a
 * time; answers that come meanwhile ride on the next. */
static void on_nudge(struct raft_barrier *b, int status)
{
    struct cons *c = b->data;
    c->nudge_inflight = false;
    if (status == 0 && c->nudge_again && !c->closing) {
        c->nudge_again = false;
        cons__nudge(c);
    }
}

void cons__nudge(struct cons *c)
{
    if (c->closing || raft_state(&c->raft) != RAFT_LEADER)
        return;
    if (c->nudge_inflight) {
        c->nudge_again = true;
        return;
    }
    c->nudge.data = c;
    if (raft_barrier(&c->raft, &c->nudge, on_nudge) == 0)
        c->nudge_inflight = true;
}

/* ---- leadership ---- */

static void fire_leader(struct cons *c, bool leader)
{
    for (int i = 0; i < c->n_leader_cbs; i++)
        c->leader_cbs[i].cb(c->leader_cbs[i].data, leader);
}

static void on_start_barrier(struct raft_barrier *b, int status)
{
    struct cons *c = b->data;
    c->barrier_inflight = false;
    if (status != 0 || c->closing || raft_state(&c->raft) != RAFT_LEADER)
        return;
    c->leader_ready = true;
    c->leader_since_ms = uv_now(c->loop);
    LOG_INFO("cons", "leader_ready", "term=%llu applied=%llu rev=%llu",
             (unsigned long long)c->raft.current_term,
             (unsigned long long)raft_last_applied(&c->raft),
             (unsigned long long)store_revision(c->store));
    fire_leader(c, true);
}

static void leadership_tick(struct cons *c)
{
    bool is_leader = raft_state(&c->raft) == RAFT_LEADER;
    uint64_t lid = 0;
    const char *laddr = NULL;
    /* etcd's leader_changes_seen: a new leader id, sampled each tick (an
     * election shorter than a tick that elects the same leader is not one) */
    cons__leader_info(c, &lid, &laddr);
    if (lid != 0 && lid != c->m_leader_id) {
        c->m_leader_id = lid;
        c->m_leader_changes++;
    }
    if (is_leader && !c->leader_ready && !c->barrier_inflight) {
        /* A barrier commits an entry of our term, so everything before it is
         * applied when it fires: leader loops then see a complete replica. */
        c->start_barrier.data = c;
        if (raft_barrier(&c->raft, &c->start_barrier, on_start_barrier) == 0) {
            c->barrier_inflight = true;
            c->leader_since_ms = uv_now(c->loop);
            c->n_contacts = 0; /* a new leader grants everyone a full grace period */
            LOG_INFO("cons", "leader_elected", "term=%llu id=%llu peer=%s",
                     (unsigned long long)c->raft.current_term, (unsigned long long)c->cfg.id,
                     c->peer_address);
        }
    }
    if (!is_leader && c->leader_ready) {
        c->leader_ready = false;
        LOG_INFO("cons", "leadership_lost", "term=%llu", (unsigned long long)c->raft.current_term);
        fire_leader(c, false);
    }
}

/* Adaptive snapshots (see CONS_SNAP_THRESHOLD_MIN in consensus.h). */
static void on_idle_barrier(struct raft_barrier *b, int status)
{
    struct cons *c = b->data;
    (void)status;
    c->idle_snap_inflight = false;
}

/* Every replica applies the same entries, so with one threshold they would
 * all snapshot at the same index: the whole cluster pausing together, and on
 * shared cores competing with itself (a 3-node cluster on 2 cores lost a
 * second of writes to it). Each replica instead snapshots at its own phase of
 * the log: the one ranked r of n (by raft id) at indices = r * period / n
 * (mod period), never sooner than half a period after its last snapshot. While
 * one replica serialises, a quorum of the others keeps committing. */
unsigned cons__snap_stagger(uint64_t last, unsigned period, uint64_t rank, uint64_t n)
{
    uint64_t phase, next;
    if (n < 2 || period < 2 || rank >= n)
        return period;
    phase = rank * period / n;
    /* the first index > last + period/2 that is = phase (mod period) */
    next = (last + period / 2) / period * period + phase;
    while (next <= last + period / 2)
        next += period;
    return (unsigned)(next - last);
}

static unsigned staggered_threshold(const struct cons *c, unsigned period)
{
    const struct raft_configuration *conf = &c->raft.configuration;
    uint64_t rank = 0;
    for (unsigned i = 0; i < conf->n; i++)
        if (conf->servers[i].id < c->raft.id)
            rank++;
    return cons__snap_stagger(c->raft.log.snapshot.last_index, period, rank, conf->n);
}

static void snapshot_policy(struct cons *c)
{
    uint64_t now = uv_now(c->loop);
    uint64_t applied = raft_last_applied(&c->raft);
    uint64_t since = applied - c->raft.log.snapshot.last_index;
    uint64_t keys;
    unsigned threshold;

    if (c->cfg.snapshot_threshold != 0)
        return; /* fixed by the operator */
    if (applied != c->policy_applied) {
        c->policy_applied = applied;
        c->policy_active_ms = now;
    }
    keys = store_key_count(c->store);
    threshold = keys < CONS_SNAP_THRESHOLD_MIN   ? CONS_SNAP_THRESHOLD_MIN
                : keys > CONS_SNAP_THRESHOLD_MAX ? CONS_SNAP_THRESHOLD_MAX
                                                 : (unsigned)keys;
    threshold = staggered_threshold(c, threshold);
    /* Idle with a long in-memory log: snapshot now. raft checks the
     * threshold after applying entries, so lower it and let an entry (a
     * barrier; only the leader can append) pass. Followers snapshot when
     * that barrier reaches them, with their own lowered threshold. */
    if (now - c->policy_active_ms >= CONS_IDLE_SNAPSHOT_MS &&
        since > c->cfg.snapshot_trailing + 64 && c->snap == NULL) {
        threshold = (unsigned)c->cfg.snapshot_trailing;
        /* the leader waits a little longer, so that followers (idle since
         * about the same moment) have lowered theirs when the barrier comes */
        if (raft_state(&c->raft) == RAFT_LEADER && !c->idle_snap_inflight &&
            now - c->policy_active_ms >= CONS_IDLE_SNAPSHOT_MS + 500) {
            c->idle_barrier.data = c;
            if (raft_barrier(&c->raft, &c->idle_barrier, on_idle_barrier) == 0)
                c->idle_snap_inflight = true;
        }
    }
    if (threshold != c->policy_threshold) {
        c->policy_threshold = threshold;
        raft_set_snapshot_threshold(&c->raft, threshold);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct cons *c = t->data;
    if (c->closing)
        return;
    leadership_tick(c);
    snapshot_policy(c);
    cons__rpc_tick(c);
    if (c->leader_ready)
        cons__members_tick(c);
}

int cons_on_leader(struct cons *c, cons_leader_cb cb, void *data)
{
    if (c->n_leader_cbs >= CONS__MAX_LEADER_CBS)
        return ERR_INVALID;
    c->leader_cbs[c->n_leader_cbs].cb = cb;
    c->leader_cbs[c->n_leader_cbs].data = data;
    c->n_leader_cbs++;
    return 0;
}

void cons_off_leader(struct cons *c, cons_leader_cb cb, void *data)
{
    for (int i = 0; i < c->n_leader_cbs; i++) {
        if (c->leader_cbs[i].cb != cb || c->leader_cbs[i].data != data)
            continue;
        c->leader_cbs[i] = c->leader_cbs[--c->n_leader_cbs];
        return;
    }
}

void cons__leader_info(struct cons *c, uint64_t *id, const char **address)
{
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader(&c->raft, &lid, &addr);
    *id = lid;
    *address = addr;
}

/* ---- lifecycle ---- */

static void cons_free_mem(struct cons *c)
{
    if (c->aio_started)
        cons__aio_stop();
    free(c->data_dir);
    free(c->name);
    free(c->peer_address);
    free(c->peer_bind);
    free(c->api_address);
    free(c->cert_file);
    free(c->key_file);
    free(c->ca_file);
    free(c);
}

int cons_new(uv_loop_t *loop, struct store *s, const struct cons_config *cfg, struct cons **out,
             struct err *e)
{
    struct cons *c;
    int rv;

    if (cfg->id == 0 || cfg->name == NULL || cfg->peer_address == NULL || cfg->data_dir == NULL)
        return err_setf(e, ERR_INVALID, "consensus: id, name, data dir and peer address required");
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return err_setf(e, ERR_NOMEM, "consensus: out of memory");
    c->loop = loop;
    c->store = s;
    c->cfg = *cfg;
    c->data_dir = dup_or_null(cfg->data_dir);
    c->name = dup_or_null(cfg->name);
    c->peer_address = dup_or_null(cfg->peer_address);
    c->peer_bind = dup_or_null(cfg->peer_bind ? cfg->peer_bind : cfg->peer_address);
    c->api_address = dup_or_null(cfg->api_address ? cfg->api_address : "");
    c->cert_file = dup_or_null(cfg->cert_file);
    c->key_file = dup_or_null(cfg->key_file);
    c->ca_file = dup_or_null(cfg->ca_file);
    c->cfg.data_dir = c->data_dir;
    c->cfg.name = c->name;
    c->cfg.peer_address = c->peer_address;
    c->cfg.peer_bind = c->peer_bind;
    c->cfg.api_address = c->api_address;
    if (!c->cfg.election_timeout_ms)
        c->cfg.election_timeout_ms = CONS_DEFAULT_ELECTION_MS;
    if (!c->cfg.heartbeat_ms)
        c->cfg.heartbeat_ms = CONS_DEFAULT_HEARTBEAT_MS;
    if (!c->cfg.snapshot_trailing)
        c->cfg.snapshot_trailing = CONS_DEFAULT_SNAP_TRAILING;
    if (!c->cfg.max_voters)
        c->cfg.max_voters = 5;
    if (!c->cfg.dead_voter_ms)
        c->cfg.dead_voter_ms = CONS_DEFAULT_DEAD_VOTER_MS;
    QUEUE_INIT(&c->waiting);
    QUEUE_INIT(&c->queued);
    QUEUE_INIT(&c->batch_members);
    QUEUE_INIT(&c->batch_next);
    QUEUE_INIT(&c->servers);
    c->next_rpc_id = 1;

    rv = cons__aio_start(e);
    if (rv != 0)
        goto err_free;
    c->aio_started = true;
    snprintf(c->raft_dir, sizeof c->raft_dir, "%s/raft", c->data_dir);
    if (mkdir(c->raft_dir, 0700) != 0 && errno != EEXIST) {
        rv = err_setf(e, ERR_IO, "consensus: mkdir %s: %s", c->raft_dir, strerror(errno));
        goto err_free;
    }
    if (c->cert_file == NULL || c->key_file == NULL || c->ca_file == NULL) {
        rv = err_setf(e, ERR_INVALID, "consensus: peer certificate, key and CA are required");
        goto err_free;
    }
    rv = cons__transport_init(&c->transport, loop, c->cert_file, c->key_file, c->ca_file, e);
    if (rv != 0)
        goto err_free;
    c->transport_inited = true;
    cons__transport_set_rpc_cb(&c->transport, cons__rpc_on_accept, c);
    if (strcmp(c->peer_bind, c->peer_address) != 0) {
        rv = cons__transport_set_bind_address(&c->transport, c->peer_bind, e);
        if (rv != 0)
            goto err_free;
    }
    rv = raft_uv_init(&c->io, loop, c->raft_dir, &c->transport);
    if (rv != 0) {
        rv = err_setf(e, ERR_IO, "consensus: raft io: %s", c->io.errmsg);
        goto err_free;
    }
    c->io_inited = true;
    c->io.version = 2;
    c->io.async_work = io_async_work;
    /* lz4 snapshots (canonical/raft's own default when it was built with
     * liblz4, as Debian's is): Kubernetes objects compress several times,
     * which shrinks what each snapshot writes and sends. A raft built without
     * lz4 refuses, and snapshots stay plain. Either kind loads. */
    if (raft_uv_set_snapshot_compression(&c->io, true) != 0)
        raft_uv_set_snapshot_compression(&c->io, false);
    raft_uv_set_connect_retry_delay(&c->io, 200);

    c->fsm.version = 3;
    c->fsm.data = c;
    c->fsm.apply = fsm_apply;
    c->fsm.snapshot = fsm_snapshot;
    c->fsm.restore = fsm_restore;
    c->fsm.snapshot_finalize = fsm_snapshot_finalize;
    c->fsm.snapshot_async = fsm_snapshot_async;
    rv = raft_init(&c->raft, &c->io, &c->fsm, cfg->id, c->peer_address);
    if (rv != 0) {
        rv = err_setf(e, ERR_IO, "consensus: raft init: %s", raft_why(&c->raft, rv));
        goto err_free;
    }
    c->raft_inited = true;
    c->raft.data = c;
    raft_set_election_timeout(&c->raft, c->cfg.election_timeout_ms);
    raft_set_heartbeat_timeout(&c->raft, c->cfg.heartbeat_ms);
    raft_set_snapshot_threshold(&c->raft, c->cfg.snapshot_threshold ? c->cfg.snapshot_threshold
                                                                    : CONS_SNAP_THRESHOLD_MIN);
    raft_set_snapshot_trailing(&c->raft, c->cfg.snapshot_trailing);
    raft_set_pre_vote(&c->raft, true);

    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    uv_idle_init(loop, &c->idle);
    c->idle.data = c;
    uv_check_init(loop, &c->check);
    c->check.data = c;
    uv_timer_init(loop, &c->kick);
    c->kick.data = c;
    *out = c;
    return 0;

err_free:
    /* raft_uv_init/raft_init failures happen before anything asynchronous
     * was started, so the synchronous releases are enough here. */
    if (c->io_inited)
        raft_uv_close(&c->io);
    if (c->transport_inited)
        cons__transport_close(&c->transport);
    cons_free_mem(c);
    return rv;
}

int cons_bootstrap(struct cons *c, struct err *e)
{
    struct raft_configuration conf;
    int rv;
    raft_configuration_init(&conf);
    rv = raft_configuration_add(&conf, c->cfg.id, c->peer_address, RAFT_VOTER);
    if (rv != 0) {
        raft_configuration_close(&conf);
        return err_setf(e, ERR_NOMEM, "bootstrap: %s", raft_strerror(rv));
    }
    rv = raft_bootstrap(&c->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP)
        return err_setf(e, ERR_CONFLICT, "bootstrap: %s already holds raft state", c->raft_dir);
    if (rv != 0)
        return err_setf(e, ERR_IO, "bootstrap: %s", raft_why(&c->raft, rv));
    return 0;
}

int cons_start(struct cons *c, struct err *e)
{
    int rv = raft_start(&c->raft);
    if (rv != 0)
        return err_setf(e, ERR_IO, "raft start (peer listen %s): %s", c->peer_bind,
                        c->transport.errmsg[0] ? c->transport.errmsg : raft_why(&c->raft, rv));
    c->started = true;
    uv_timer_start(&c->tick, on_tick, CONS__TICK_MS, CONS__TICK_MS);
    LOG_INFO("cons", "started", "id=%llu peer=%s applied=%llu rev=%llu",
             (unsigned long long)c->cfg.id, c->peer_address,
             (unsigned long long)store_applied_index(c->store),
             (unsigned long long)store_revision(c->store));
    return 0;
}

static void fail_all(struct cons *c, queue *head)
{
    while (!QUEUE_IS_EMPTY(head)) {
        struct cons_propose *req = QUEUE_DATA(QUEUE_HEAD(head), struct cons_propose, queue__);
        err_setf(&req->err, ERR_SHUTDOWN, "node is shutting down");
        cons__req_finish(req, ERR_SHUTDOWN);
    }
}

void cons__on_kick(uv_timer_t *t)
{
    struct cons *c = t->data;
    if (!c->closing)
        cons__rpc_dispatch(c);
}

static void free_cons(struct cons *c)
{
    cons_close_cb cb = c->close_cb;
    void *data = c->close_data;
    store_snapshot_end(c->snap); /* raft closed mid-snapshot: no finalize came */
    if (c->transport_inited)
        cons__transport_close(&c->transport);
    cons_free_mem(c);
    if (cb)
        cb(data);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct cons *c = h->data;
    if (--c->pending_closes != 0)
        return;
    if (c->async_pending > 0)
        c->closed_pending_async = true; /* the last async_work_done frees */
    else
        free_cons(c);
}

static void on_raft_closed(struct raft *r)
{
    struct cons *c = r->data;
    raft_uv_close(&c->io);
    c->io_inited = false;
    c->pending_closes += 4;
    uv_close((uv_handle_t *)&c->kick, on_handle_closed);
    uv_close((uv_handle_t *)&c->tick, on_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
    uv_close((uv_handle_t *)&c->check, on_handle_closed);
}

void cons_close(struct cons *c, cons_close_cb cb, void *data)
{
    c->closing = true;
    c->close_cb = cb;
    c->close_data = data;
    uv_timer_stop(&c->tick);
    uv_timer_stop(&c->kick);
    uv_idle_stop(&c->idle);
    uv_check_stop(&c->check);
    if (c->leader_ready) {
        c->leader_ready = false;
        fire_leader(c, false);
    }
    cons__rpc_close(c);
    fail_all(c, &c->waiting);
    fail_all(c, &c->queued);
    fail_all(c, &c->batch_next);
    /* raft_close fails in-flight raft_apply requests with RAFT_SHUTDOWN, and
     * closes the transport (our cons__transport close hook). */
    raft_close(&c->raft, on_raft_closed);
}

struct store *cons_store(struct cons *c)
{
    return c->store;
}

bool cons_is_leader(struct cons *c)
{
    return c->leader_ready;
}

const char *cons_name(struct cons *c)
{
    return c->name;
}

void cons_metrics(struct cons *c, struct cons_metrics *out)
{
    memset(out, 0, sizeof *out);
    if (c->raft_inited) {
        out->term = c->raft.current_term;
        out->commit_index = c->raft.commit_index;
        out->applied_index = raft_last_applied(&c->raft);
    }
    out->is_leader = c->leader_ready;
    out->leader_changes = c->m_leader_changes;
    out->proposals = c->m_proposals;
    out->proposals_failed = c->m_proposals_failed;
    out->propose_latency = c->m_propose_latency;
}
