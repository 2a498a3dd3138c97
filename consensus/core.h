/* consensus/core.h: state shared by the consensus sources (the replica, RPC and
 * membership). Never included from outside consensus/. */
#ifndef SKIFF_CONSENSUS_CORE_H
#define SKIFF_CONSENSUS_CORE_H

#include <raft.h>
#include <raft/uv.h>

#include "consensus/consensus.h"
#include "lib/queue.h"

#define CONS__RESULTS        1024 /* ring of apply results, by raft index */
#define CONS__MAX_LEADER_CBS 8
#define CONS__TICK_MS        50
#define CONS__HEARTBEAT_MS   300 /* leader -> member liveness probe period */
#define CONS__MAX_PROBES     64

struct cons__result {
    uint64_t index;
    struct store_txn_result r;
    int status;
    char msg[128];
};

/* Leader's memory of when it last heard from each member (by raft id). */
struct cons__contact {
    uint64_t id;
    uint64_t last_ms; /* uv_now of the last heartbeat */
};

struct cons__rpc_client; /* the connection from this node to the leader */
struct cons__rpc_server; /* one accepted RPC connection */

struct cons {
    uv_loop_t *loop;
    struct store *store;
    struct cons_config cfg;
    char *data_dir, *name, *peer_address, *peer_bind, *api_address;
    char *cert_file, *key_file, *ca_file;
    char raft_dir[4096];

    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    struct raft_fsm fsm;
    struct store_snap *snap; /* the snapshot being taken, if any */
    uint64_t snap_index;
    int async_pending;         /* io_async_work items in the thread pool */
    bool closed_pending_async; /* closed: free when the last one is done */
    char snap_err[ERR_MSG_SIZE];
    bool io_inited, transport_inited, raft_inited, started, closing;
    bool aio_started; /* cons__aio_start() done: stop it when freed */

    uv_timer_t tick;
    uv_idle_t idle;   /* fires applied-index waiters outside the FSM apply */
    uv_check_t check; /* re-checks waiters after each loop iteration while any wait */
    uv_timer_t kick;  /* dispatches queued requests on the next loop turn (see rpc.c) */
    int pending_closes;
    cons_close_cb close_cb;
    void *close_data;

    struct cons__result results[CONS__RESULTS];

    /* requests waiting for something: QUEUE-style intrusive lists */
    queue waiting; /* propose/barrier reqs waiting for local apply of req->index */
    queue queued;
    /* adaptive snapshots (snapshot_policy) */
    uint64_t policy_applied, policy_active_ms;
    unsigned policy_threshold;
    struct raft_barrier idle_barrier;
    bool idle_snap_inflight;
    /* commit propagation to followers (see cons__nudge) */
    struct raft_barrier nudge;
    bool nudge_inflight, nudge_again;
    /* read barriers, batched (see cons_barrier) */
    struct cons_propose batch;
    bool batch_inflight;
    queue batch_members; /* riding on the barrier in flight */
    queue batch_next; /* arrived since: wait for the next one */ /* follower proposals waiting for a
                                                                    leader connection */

    /* leadership */
    bool leader_ready; /* leader and the start barrier was applied */
    bool barrier_inflight;
    uint64_t leader_since_ms;
    struct raft_barrier start_barrier;
    struct {
        cons_leader_cb cb;
        void *data;
    } leader_cbs[CONS__MAX_LEADER_CBS];
    int n_leader_cbs;

    /* /metrics (cons_metrics) */
    uint64_t m_leader_id, m_leader_changes, m_proposals, m_proposals_failed;
    struct prom_hist m_propose_latency;

    /* membership (leader) */
    struct cons__contact contacts[64];
    int n_contacts;
    bool change_inflight;
    struct raft_change change;
    uint64_t last_reconcile_ms;

    /* rpc */
    struct cons__rpc_client *client;
    struct cons__rpc_client *probes[CONS__MAX_PROBES];
    uint64_t last_heartbeat_ms;
    uint64_t next_rpc_id;
    queue servers; /* accepted rpc connections */
};

/* core.c */
void cons__waiters_kick(struct cons *c);
void cons__req_finish(struct cons_propose *req, int status);
void cons__leader_info(struct cons *c, uint64_t *id, const char **address);
int cons__apply_local(struct cons *c, struct cons_propose *req, const void *buf, size_t len);
int cons__barrier_local(struct cons *c, struct cons_propose *req);
void cons__req_answered(struct cons *c, struct cons_propose *req, uint64_t index);
void cons__nudge(struct cons *c);

/* rpc.c */
int cons__rpc_forward(struct cons *c, struct cons_propose *req, int kind);
void cons__rpc_tick(struct cons *c);
/* Hands queued requests to raft (leader) or the leader link (follower). */
void cons__rpc_dispatch(struct cons *c);
void cons__on_kick(uv_timer_t *t);
void cons__rpc_close(struct cons *c);
int cons__rpc_status(struct cons *c, struct cons_status_req *req);
void cons__rpc_on_accept(void *data, uv_stream_t *stream, const char *peer_cn);

/* members.c */
void cons__members_tick(struct cons *c);
void cons__members_contact(struct cons *c, uint64_t id);
bool cons__member_reachable(struct cons *c, uint64_t id);
void cons__status_fill(struct cons *c, struct cons_status *st, bool with_reachability);

/* kinds of forwarded request */
enum { CONS__RPC_PROPOSE = 1, CONS__RPC_BARRIER = 2 };

#endif
