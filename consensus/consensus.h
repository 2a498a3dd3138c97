/* consensus: one canonical/raft replica per node over raft_uv and our mTLS
 * transport. Owns the FSM glue to the store (apply = one store txn), Raft
 * snapshots (store_snapshot/store_restore), proposal forwarding from
 * followers to the leader, read barriers, membership (voters/standbys,
 * promotion when a voter is gone) and leadership-change callbacks. Knows
 * nothing of Kubernetes kinds. Everything runs on the one loop thread. */
#ifndef SKIFF_CONSENSUS_CONSENSUS_H
#define SKIFF_CONSENSUS_CONSENSUS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/err.h"
#include "lib/prom.h"
#include "store/store.h"

struct cons;

/* Keys consensus itself keeps in the store (replicated like any other). */
#define CONS_MEMBER_PREFIX "/skiff/members/" /* + node name -> msgpack member record */

struct cons_config {
    const char *data_dir;     /* raft log lives in data_dir/raft (created) */
    const char *name;         /* this node's name */
    uint64_t id;              /* this node's raft id, > 0 */
    const char *peer_address; /* advertised "IP:PORT" for raft and RPC */
    const char *peer_bind;    /* listen "IP:PORT"; NULL = peer_address */
    const char *api_address;  /* advertised API "IP:PORT" (shown in status) */
    const char *cert_file;    /* this node's certificate (PEM), signed by the cluster CA */
    const char *key_file;
    const char *ca_file;          /* the cluster CA: the only trusted root for peers */
    unsigned election_timeout_ms; /* 0 = CONS_DEFAULT_ELECTION_MS */
    unsigned heartbeat_ms;        /* 0 = CONS_DEFAULT_HEARTBEAT_MS */
    unsigned snapshot_threshold;  /* entries between snapshots; 0 = adaptive (see below) */
    unsigned snapshot_trailing;   /* entries kept after a snapshot; 0 = default */
    unsigned max_voters;          /* 0 = 5: 3 voters below 5 nodes, 5 from 5 nodes */
    unsigned dead_voter_ms;       /* voter unreachable this long is replaced; 0 = default */
};

/* LAN defaults: raft randomises the election timeout in [1x, 2x). In
 * canonical/raft a follower refuses every (pre-)vote while it still has a
 * leader, i.e. until its own timer fires, so a failover takes the LATER of
 * the survivors' timeouts (mean 1.67x), not the earlier as in etcd: hence a
 * shorter base than etcd's LAN advice. Pre-vote keeps a slow follower from
 * disrupting a healthy leader. */
#define CONS_DEFAULT_ELECTION_MS  300
#define CONS_DEFAULT_HEARTBEAT_MS 40
/* Adaptive snapshots (threshold 0): a snapshot serialises the whole store,
 * so its cost grows with the store; taking one every "number of keys"
 * entries (within these bounds) keeps that cost O(1) per write. Raft keeps
 * the entries since the last snapshot in memory, so a node idle for
 * CONS_IDLE_SNAPSHOT_MS with more than the trailing entries takes one. */
#define CONS_SNAP_THRESHOLD_MIN    4096
#define CONS_SNAP_THRESHOLD_MAX    65536
#define CONS_DEFAULT_SNAP_TRAILING 256
#define CONS_IDLE_SNAPSHOT_MS      2000
#define CONS_DEFAULT_DEAD_VOTER_MS 10000
/* proposals that add data are refused above this share of the store's map */
#define CONS_QUOTA_PERCENT 90

/* Creates the replica over an open store (borrowed; must outlive c). Does
 * not start networking. On success *out is owned: cons_close. */
int cons_new(uv_loop_t *loop, struct store *s, const struct cons_config *cfg, struct cons **out,
             struct err *e);

/* Bootstraps a brand-new single-voter cluster (skiff init). Only on an empty
 * raft dir; ERR_CONFLICT if it already holds state. Call before cons_start. */
int cons_bootstrap(struct cons *c, struct err *e);

/* Starts raft (and listening for peers). A node that joined starts with an
 * empty configuration and waits for the leader to add it. */
int cons_start(struct cons *c, struct err *e);

/* Stops everything; pending requests fail with ERR_SHUTDOWN; cb fires once,
 * later, after which c is freed. */
typedef void (*cons_close_cb)(void *data);
void cons_close(struct cons *c, cons_close_cb cb, void *data);

/* ---- proposals ---- */

struct cons_propose;
typedef void (*cons_propose_cb)(struct cons_propose *req, int status);
struct cons_propose {
    void *data;                     /* caller's */
    struct err err;                 /* set when status != 0 */
    struct store_txn_result result; /* status 0: the txn's outcome (may have failed_cmp >= 0) */
    uint64_t index;                 /* raft index it was applied at */
    cons_propose_cb cb;
    /* private */
    struct cons *c__;
    void *buf__;
    size_t len__;
    uint64_t deadline__;
    uint64_t rpc_id__;
    int kind__;
    uint64_t start_ns__; /* uv_hrtime at cons_propose (latency metric) */
    void *queue__[2];    /* lib/queue.h link */
};

/* Proposes txn (encoded now; the caller may free txn on return). On the
 * leader: raft_apply. On a follower: forwarded to the leader over the peer
 * RPC. Either way cb fires once the txn is applied on THIS node's replica
 * (read-your-writes on any node), or with ERR_UNAVAILABLE (no leader within
 * timeout_ms, 0 = 5000), ERR_TIMEOUT, ERR_SHUTDOWN. Returned synchronously
 * (cb then never fires): ERR_INVALID (bad txn), ERR_UNAVAILABLE (the store
 * is above CONS_QUOTA_PERCENT and the txn puts data). req memory must stay valid
 * until cb. */
int cons_propose(struct cons *c, struct cons_propose *req, const struct store_txn *txn,
                 unsigned timeout_ms, cons_propose_cb cb);

/* Linearizable read barrier: cb fires once this node's replica has applied
 * everything the leader had committed when the barrier started. Same request
 * shape; result.rev is the local store revision at completion. */
int cons_barrier(struct cons *c, struct cons_propose *req, unsigned timeout_ms, cons_propose_cb cb);

/* ---- state ---- */

struct store *cons_store(struct cons *c); /* borrowed */
bool cons_is_leader(struct cons *c);
const char *cons_name(struct cons *c);

enum { CONS_ROLE_VOTER = 1, CONS_ROLE_STANDBY, CONS_ROLE_SPARE, CONS_ROLE_PENDING };
const char *cons_role_name(int role); /* "voter", "standby", "spare", "joining" */

struct cons_member {
    char name[64];
    uint64_t id;
    char peer_address[64];
    char api_address[64];
    int role;
    bool reachable; /* as the leader sees it (heartbeats); self always true */
    bool is_leader;
};

struct cons_status {
    char leader[64]; /* leader's node name, "" if unknown */
    uint64_t leader_id;
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t revision;
    size_t n_members;
    struct cons_member members[64];
};

/* Fills st from this node's view. Reachability is the leader's view: on a
 * follower it is fetched from the leader (async, hence the callback); if the
 * leader cannot be asked, the local view is returned with reachable only for
 * self. */
struct cons_status_req;
typedef void (*cons_status_cb)(struct cons_status_req *req, int status);
struct cons_status_req {
    void *data;
    struct err err;
    struct cons_status st;
    cons_status_cb cb;
    void *priv__[4];
};
int cons_status(struct cons *c, struct cons_status_req *req, cons_status_cb cb);

/* This node's Raft figures for /metrics (local view, synchronous). */
struct cons_metrics {
    uint64_t term, commit_index, applied_index;
    bool is_leader;                   /* leader and caught up (cons_is_leader) */
    uint64_t leader_changes;          /* leaders seen by this node (ids changing) */
    uint64_t proposals;               /* cons_propose calls on this node */
    uint64_t proposals_failed;        /* of those, refused or completed with an error */
    struct prom_hist propose_latency; /* cons_propose -> applied here, seconds */
};
void cons_metrics(struct cons *c, struct cons_metrics *out);

/* Leadership: cb(data, true) when this node becomes leader and has applied
 * everything committed before (so leader loops see a complete replica);
 * cb(data, false) when it stops being leader. One subscriber per call; at
 * most 8. */
typedef void (*cons_leader_cb)(void *data, bool leader);
int cons_on_leader(struct cons *c, cons_leader_cb cb, void *data);
/* Removes that subscription (a subscriber that goes away before consensus
 * does). No-op when not subscribed. */
void cons_off_leader(struct cons *c, cons_leader_cb cb, void *data);

/* Encodes a member record (the value stored under CONS_MEMBER_PREFIX+name)
 * so the API can propose it together with a Node object in one txn when a
 * node joins. *data is malloc'ed. */
int cons_member_encode(const char *name, uint64_t id, const char *peer_address,
                       const char *api_address, void **data, size_t *len, struct err *e);
int cons_member_decode(const void *data, size_t len, struct cons_member *out, struct err *e);

#endif
