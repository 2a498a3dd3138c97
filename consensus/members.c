/* Membership: member records in the store, the leader's reconciler that
 * turns them into raft configuration changes (add, standby, voter, spare),
 * liveness from heartbeats, and status. */
#include "consensus/consensus.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/core.h"
#include "lib/log.h"

#define RECONCILE_MS 250
#define REACHABLE_MS 2000 /* status: heard from within this */

const char *cons_role_name(int role)
{
    switch (role) {
    case CONS_ROLE_VOTER:
        return "voter";
    case CONS_ROLE_STANDBY:
        return "standby";
    case CONS_ROLE_SPARE:
        return "spare";
    default:
        return "joining";
    }
}

/* ---- member records ---- */

static void pack_str(msgpack_packer *p, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(p, n);
    msgpack_pack_str_body(p, s, n);
}

int cons_member_encode(const char *name, uint64_t id, const char *peer_address,
                       const char *api_address, void **data, size_t *len, struct err *e)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    if (name == NULL || name[0] == '\0' || strlen(name) >= 64 || id == 0 || peer_address == NULL ||
        strlen(peer_address) >= 64 || (api_address && strlen(api_address) >= 64))
        return err_setf(e, ERR_INVALID, "member: name, id and peer address required (< 64 chars)");
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 4);
    pack_str(&p, "name");
    pack_str(&p, name);
    pack_str(&p, "id");
    msgpack_pack_uint64(&p, id);
    pack_str(&p, "peer");
    pack_str(&p, peer_address);
    pack_str(&p, "api");
    pack_str(&p, api_address ? api_address : "");
    *data = sb.data;
    *len = sb.size;
    return 0;
}

static void copy_str(char *dst, size_t cap, const msgpack_object *v)
{
    size_t n = v->via.str.size < cap - 1 ? v->via.str.size : cap - 1;
    memcpy(dst, v->via.str.ptr, n);
    dst[n] = '\0';
}

int cons_member_decode(const void *data, size_t len, struct cons_member *out, struct err *e)
{
    msgpack_unpacked u;
    int rv = 0;
    memset(out, 0, sizeof *out);
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, data, len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        rv = err_setf(e, ERR_INVALID, "member record: malformed");
        goto out;
    }
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        const msgpack_object *v = &u.data.via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "name", 4) == 0 &&
            v->type == MSGPACK_OBJECT_STR)
            copy_str(out->name, sizeof out->name, v);
        else if (k->via.str.size == 2 && memcmp(k->via.str.ptr, "id", 2) == 0 &&
                 v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            out->id = v->via.u64;
        else if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "peer", 4) == 0 &&
                 v->type == MSGPACK_OBJECT_STR)
            copy_str(out->peer_address, sizeof out->peer_address, v);
        else if (k->via.str.size == 3 && memcmp(k->via.str.ptr, "api", 3) == 0 &&
                 v->type == MSGPACK_OBJECT_STR)
            copy_str(out->api_address, sizeof out->api_address, v);
    }
    if (out->id == 0 || out->name[0] == '\0')
        rv = err_setf(e, ERR_INVALID, "member record: name and id required");
out:
    msgpack_unpacked_destroy(&u);
    return rv;
}

/* ---- liveness (leader memory only: heartbeats are never Raft writes) ---- */

void cons__members_contact(struct cons *c, uint64_t id)
{
    uint64_t now = uv_now(c->loop);
    for (int i = 0; i < c->n_contacts; i++) {
        if (c->contacts[i].id == id) {
            c->contacts[i].last_ms = now;
            return;
        }
    }
    if (c->n_contacts < (int)(sizeof c->contacts / sizeof c->contacts[0])) {
        c->contacts[c->n_contacts].id = id;
        c->contacts[c->n_contacts].last_ms = now;
        c->n_contacts++;
    }
}

static uint64_t last_contact(struct cons *c, uint64_t id)
{
    for (int i = 0; i < c->n_contacts; i++)
        if (c->contacts[i].id == id)
            return c->contacts[i].last_ms;
    return 0;
}

bool cons__member_reachable(struct cons *c, uint64_t id)
{
    uint64_t t;
    if (id == c->cfg.id)
        return true;
    t = last_contact(c, id);
    return t != 0 && uv_now(c->loop) - t < REACHABLE_MS;
}

/* Live for membership decisions: heard from within dead_voter_ms, or the
 * leader is still inside its grace period (a new leader has no memory of
 * heartbeats and must not demote voters it simply has not heard yet). */
static bool member_live(struct cons *c, uint64_t id)
{
    uint64_t now = uv_now(c->loop);
    uint64_t t;
    if (id == c->cfg.id)
        return true;
    t = last_contact(c, id);
    if (t != 0 && now - t < c->cfg.dead_voter_ms)
        return true;
    return t == 0 && now - c->leader_since_ms < c->cfg.dead_voter_ms;
}

/* ---- reconciler (leader) ---- */

static void on_change(struct raft_change *req, int status)
{
    struct cons *c = req->data;
    c->change_inflight = false;
    if (status != 0)
        LOG_WARN("cons", "member_change_failed", "err=\"%s\"", raft_strerror(status));
}

static int role_of(const struct raft_server *s)
{
    return s->role == RAFT_VOTER ? CONS_ROLE_VOTER
                                 : (s->role == RAFT_STANDBY ? CONS_ROLE_STANDBY : CONS_ROLE_SPARE);
}

static int assign(struct cons *c, uint64_t id, int role, const char *why)
{
    int rv;
    c->change.data = c;
    rv = raft_assign(&c->raft, &c->change, id, role, on_change);
    if (rv == 0) {
        c->change_inflight = true;
        LOG_INFO("cons", "member_assign", "id=%llu role=%s reason=\"%s\"", (unsigned long long)id,
                 role == RAFT_VOTER ? "voter" : (role == RAFT_STANDBY ? "standby" : "spare"), why);
    }
    return rv;
}

/* Largest odd number <= n (>= 1): an even voter count adds no fault tolerance. */
static unsigned odd_floor(unsigned n)
{
    if (n == 0)
        return 1;
    return (n % 2) ? n : n - 1;
}

/* One configuration change per round, the most urgent first. Every decision
 * is recomputed from the store and the raft configuration, so a new leader
 * simply resumes. */
void cons__members_tick(struct cons *c)
{
    uint64_t now = uv_now(c->loop);
    struct store_list l;
    struct err e;
    struct raft_configuration *conf = &c->raft.configuration;
    unsigned live = 0, live_voters = 0, target;
    const struct raft_server *standby = NULL, *dead_voter = NULL, *extra_voter = NULL;

    if (c->change_inflight || now - c->last_reconcile_ms < RECONCILE_MS)
        return;
    c->last_reconcile_ms = now;
    if (c->raft.configuration_uncommitted_index != 0)
        return; /* raft allows one change at a time */

    /* 1. add members recorded in the store but unknown to raft */
    if (store_range(c->store, CONS_MEMBER_PREFIX, NULL, 0, &l, &e) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            struct cons_member m;
            bool known = false;
            if (cons_member_decode(l.kvs[i].value, l.kvs[i].value_len, &m, &e) != 0)
                continue;
            for (unsigned j = 0; j < conf->n; j++)
                known = known || conf->servers[j].id == m.id;
            if (!known) {
                c->change.data = c;
                if (raft_add(&c->raft, &c->change, m.id, m.peer_address, on_change) == 0) {
                    c->change_inflight = true;
                    LOG_INFO("cons", "member_added", "node=%s id=%llu peer=%s", m.name,
                             (unsigned long long)m.id, m.peer_address);
                }
                store_list_close(&l);
                return;
            }
        }
        store_list_close(&l);
    }

    for (unsigned j = 0; j < conf->n; j++) {
        const struct raft_server *s = &conf->servers[j];
        bool ok = member_live(c, s->id);
        live += ok;
        if (s->role == RAFT_VOTER && ok)
            live_voters++;
        if (s->role == RAFT_VOTER && !ok && dead_voter == NULL)
            dead_voter = s;
        if (s->role == RAFT_STANDBY && ok && standby == NULL)
            standby = s;
        if (s->role == RAFT_VOTER && ok && s->id != c->cfg.id)
            extra_voter = s;
        /* 2. a live spare (just joined, or back from the dead) replicates */
        if (s->role == RAFT_SPARE && ok && last_contact(c, s->id) != 0) {
            assign(c, s->id, RAFT_STANDBY, "live spare");
            return;
        }
    }
    target = odd_floor(live < c->cfg.max_voters ? live : c->cfg.max_voters);

    /* 3. replace a dead voter: promote first, so quorum never shrinks first */
    if (dead_voter != NULL && standby != NULL && live_voters < target) {
        assign(c, standby->id, RAFT_VOTER, "replace unreachable voter");
        return;
    }
    if (dead_voter != NULL) {
        assign(c, dead_voter->id, RAFT_SPARE, "voter unreachable");
        return;
    }
    /* 4. grow to the target, 5. shrink to it */
    if (live_voters < target && standby != NULL) {
        assign(c, standby->id, RAFT_VOTER, "below voter target");
        return;
    }
    if (live_voters > target && extra_voter != NULL)
        assign(c, extra_voter->id, RAFT_STANDBY, "above voter target");
}

/* ---- status ---- */

void cons__status_fill(struct cons *c, struct cons_status *st, bool with_reachability)
{
    struct raft_configuration *conf = &c->raft.configuration;
    struct store_list l;
    struct err e;
    uint64_t lid = 0;
    const char *laddr = NULL;
    bool have_list;

    memset(st, 0, sizeof *st);
    cons__leader_info(c, &lid, &laddr);
    st->leader_id = lid;
    st->term = c->raft.current_term;
    st->commit_index = c->raft.commit_index;
    st->applied_index = raft_last_applied(&c->raft);
    st->revision = store_revision(c->store);
    have_list = store_range(c->store, CONS_MEMBER_PREFIX, NULL, 0, &l, &e) == 0;

    /* every member record, with its raft role ("joining" until added) */
    for (size_t i = 0; have_list && i < l.n && st->n_members < 64; i++) {
        struct cons_member *m = &st->members[st->n_members];
        if (cons_member_decode(l.kvs[i].value, l.kvs[i].value_len, m, &e) != 0)
            continue;
        m->role = CONS_ROLE_PENDING;
        for (unsigned j = 0; j < conf->n; j++)
            if (conf->servers[j].id == m->id)
                m->role = role_of(&conf->servers[j]);
        m->is_leader = m->id == lid;
        m->reachable =
            m->id == c->cfg.id || (with_reachability && cons__member_reachable(c, m->id));
        if (m->is_leader)
            memcpy(st->leader, m->name, sizeof st->leader); /* both 64, NUL-terminated */
        st->n_members++;
    }
    if (have_list)
        store_list_close(&l);
}

static void on_status_idle(uv_timer_t *t)
{
    struct cons_status_req *req = t->data;
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    req->cb(req, 0);
}

int cons_status(struct cons *c, struct cons_status_req *req, cons_status_cb cb)
{
    bool leader = raft_state(&c->raft) == RAFT_LEADER;
    uv_timer_t *t;
    req->cb = cb;
    err_clear(&req->err);
    cons__status_fill(c, &req->st, leader);
    if (!c->started) {
        /* still loading its log: it knows of no leader yet, whatever its
         * store's member records say (a restarted node must not look
         * ready before its raft is) */
        req->st.leader[0] = '\0';
        req->st.leader_id = 0;
        for (size_t i = 0; i < req->st.n_members; i++)
            req->st.members[i].is_leader = false;
    } else if (!leader && cons__rpc_status(c, req) == 0) {
        return 0;
    }
    /* answer on the next loop turn: callbacks never fire inside the call */
    t = malloc(sizeof *t);
    if (t == NULL)
        return err_setf(&req->err, ERR_NOMEM, "status: out of memory");
    uv_timer_init(c->loop, t);
    t->data = req;
    uv_timer_start(t, on_status_idle, 0, 0);
    return 0;
}
