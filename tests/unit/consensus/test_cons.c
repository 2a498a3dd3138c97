/* consensus: real replicas (raft_uv + the mTLS transport + a store each) on
 * one loop in this process, over loopback. Each test drives the loop with
 * bounded UV_RUN_ONCE iterations until a predicate holds or a deadline
 * passes; nothing sleeps. Small election timeouts keep the file fast. */
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

#include "consensus/consensus.h"
#include "store/store.h"
#include "tests/unit/helpers/helpers.h"

#define ELECTION_MS  150
#define HEARTBEAT_MS 30
#define N_REPLICAS   3
#define N_PROPS      12
#define WAIT_MS      10000 /* bound on any single wait (the whole file runs in ~16 s) */

static struct helpers_certs certs;

static const char *path(const char *name)
{
    return helpers_certs_path(&certs, name);
}

/* ---- fixture ------------------------------------------------------------------------------ */

struct fix;

struct replica {
    struct fix *f;
    uint64_t id;
    char name[16];
    char dir[64];
    char peer[32];
    struct store *store;
    struct cons *c; /* NULL once cons_close's callback fired */
    bool closing;
    bool leader; /* last value cons_on_leader reported */
    int leader_ups;
};

/* A proposal or barrier, fixture-owned so that a failed assertion never
 * leaves the library holding a pointer into a dead stack frame. */
struct prop {
    struct cons_propose req;
    struct replica *r;
    char key[64];
    bool accepted; /* the call returned 0: exactly one callback is owed */
    int calls;
    int status;
    /* what r's own store showed when the callback ran */
    uint64_t local_rev;
    bool key_seen;
    uint64_t key_mod_rev;
};

struct status {
    struct cons_status_req req;
    bool done;
    int status;
};

struct fix {
    uv_loop_t loop;
    uv_timer_t tick;
    struct replica r[N_REPLICAS];
    int n;
    struct prop props[N_PROPS];
    int n_props;
    struct status st;
};

static int group_setup(void **state)
{
    static const char *const names[] = {"node1", "node2", "node3"};
    signal(SIGPIPE, SIG_IGN); /* the transport's contract */
    return helpers_certs_create(&certs, "skiff-cons", names, N_REPLICAS);
}

static int group_teardown(void **state)
{
    helpers_certs_remove(&certs);
    return 0;
}

static void on_leader(void *data, bool leader)
{
    struct replica *r = data;
    r->leader = leader;
    r->leader_ups += leader;
}

static void replica_open(struct fix *f, struct replica *r, uint64_t id)
{
    struct store_opts so = {.no_sync = true};
    struct cons_config cfg;
    char store_dir[128], crt[32], key[32];
    struct err e;
    int port = helpers_free_port();

    assert_true(port > 0);
    r->f = f;
    r->id = id;
    snprintf(r->name, sizeof r->name, "node%llu", (unsigned long long)id);
    snprintf(r->peer, sizeof r->peer, "127.0.0.1:%d", port);
    snprintf(crt, sizeof crt, "%s.crt", r->name);
    snprintf(key, sizeof key, "%s.key", r->name);
    assert_int_equal(helpers_mkdtemp(r->dir, sizeof r->dir, "skiff-cons-node"), 0);
    snprintf(store_dir, sizeof store_dir, "%s/store", r->dir);
    assert_int_equal(mkdir(store_dir, 0700), 0);
    assert_int_equal(store_open(store_dir, &so, &r->store, &e), 0);

    memset(&cfg, 0, sizeof cfg);
    cfg.data_dir = r->dir;
    cfg.name = r->name;
    cfg.id = id;
    cfg.peer_address = r->peer;
    cfg.api_address = "127.0.0.1:1";
    cfg.cert_file = path(crt);
    cfg.key_file = path(key);
    cfg.ca_file = path("ca.crt");
    cfg.election_timeout_ms = ELECTION_MS;
    cfg.heartbeat_ms = HEARTBEAT_MS;
    cfg.dead_voter_ms = 600000; /* nobody is demoted while a test runs */
    assert_int_equal(cons_new(&f->loop, r->store, &cfg, &r->c, &e), 0);
    assert_int_equal(cons_on_leader(r->c, on_leader, r), 0);
}

static void on_closed(void *data)
{
    struct replica *r = data;
    r->c = NULL;
}

/* Starts closing r (no-op if already closing); r->c becomes NULL later. */
static void replica_close(struct replica *r)
{
    if (r->c == NULL || r->closing)
        return;
    r->closing = true;
    cons_close(r->c, on_closed, r);
}

static bool all_closed(struct fix *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->r[i].c != NULL)
            return false;
    return true;
}

static int setup_n(void **state, int n)
{
    struct fix *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->tick), 0);
    f->n = n;
    for (int i = 0; i < n; i++)
        replica_open(f, &f->r[i], (uint64_t)i + 1);
    *state = f;
    return 0;
}

static int setup_one(void **state)
{
    return setup_n(state, 1);
}

static int setup_three(void **state)
{
    return setup_n(state, 3);
}

static int teardown(void **state)
{
    struct fix *f = *state;
    for (int i = 0; i < f->n; i++)
        replica_close(&f->r[i]);
    RUN_UNTIL(f, all_closed(f), WAIT_MS);
    /* every request ended: nothing the library holds points into f any more */
    for (int i = 0; i < f->n_props; i++)
        assert_int_equal(f->props[i].calls, f->props[i].accepted ? 1 : 0);
    for (int i = 0; i < f->n; i++) {
        store_close(f->r[i].store);
        helpers_rmtree(f->r[i].dir);
    }
    uv_close((uv_handle_t *)&f->tick, NULL);
    assert_int_equal(helpers_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void prop_cb(struct cons_propose *req, int status)
{
    struct prop *p = req->data;
    struct store_kv kv;
    struct err e;
    p->calls++;
    p->status = status;
    p->local_rev = store_revision(p->r->store);
    if (p->key[0] != '\0' && store_get(p->r->store, p->key, &kv, &e) == 0) {
        p->key_seen = true;
        p->key_mod_rev = kv.mod_rev;
        store_kv_close(&kv);
    }
}

static struct prop *prop_new(struct fix *f, struct replica *r, const char *key)
{
    struct prop *p;
    assert_true(f->n_props < N_PROPS);
    p = &f->props[f->n_props++];
    memset(p, 0, sizeof *p);
    p->r = r;
    p->req.data = p;
    snprintf(p->key, sizeof p->key, "%s", key ? key : "");
    return p;
}

/* A txn proposal that the library accepted: it now owes one callback. */
static struct prop *propose(struct replica *r, const struct store_txn *txn, const char *key,
                            unsigned timeout_ms)
{
    struct prop *p = prop_new(r->f, r, key);
    assert_int_equal(cons_propose(r->c, &p->req, txn, timeout_ms, prop_cb), 0);
    p->accepted = true;
    assert_int_equal(p->calls, 0); /* never from inside the call */
    return p;
}

static struct prop *barrier(struct replica *r, const char *key)
{
    struct prop *p = prop_new(r->f, r, key);
    assert_int_equal(cons_barrier(r->c, &p->req, 0, prop_cb), 0);
    p->accepted = true;
    assert_int_equal(p->calls, 0);
    return p;
}

static struct prop *propose_put(struct replica *r, const char *key, const char *value)
{
    struct store_op op = {STORE_OP_PUT, key, value, strlen(value)};
    struct store_txn txn = {NULL, 0, &op, 1};
    return propose(r, &txn, key, 0);
}

static void wait_done(struct prop *p)
{
    struct fix *f = p->r->f;
    RUN_UNTIL(f, p->calls > 0, WAIT_MS);
    assert_int_equal(p->calls, 1);
}

static char *get_value(struct replica *r, const char *key, uint64_t *mod_rev)
{
    struct store_kv kv;
    struct err e;
    char *v;
    if (store_get(r->store, key, &kv, &e) != 0)
        return NULL;
    v = strndup(kv.value, kv.value_len);
    if (mod_rev)
        *mod_rev = kv.mod_rev;
    store_kv_close(&kv);
    return v;
}

static void start_single(struct fix *f)
{
    struct err e;
    assert_int_equal(cons_bootstrap(f->r[0].c, &e), 0);
    assert_int_equal(cons_start(f->r[0].c, &e), 0);
    RUN_UNTIL(f, f->r[0].leader, WAIT_MS);
}

static void status_cb(struct cons_status_req *req, int status)
{
    struct status *s = req->data;
    s->done = true;
    s->status = status;
}

/* r's view of the cluster (fetched from the leader when r follows). */
static const struct cons_status *status_of(struct replica *r)
{
    struct fix *f = r->f;
    memset(&f->st, 0, sizeof f->st);
    f->st.req.data = &f->st;
    assert_int_equal(cons_status(r->c, &f->st.req, status_cb), 0);
    assert_false(f->st.done);
    RUN_UNTIL(f, f->st.done, WAIT_MS);
    assert_int_equal(f->st.status, 0);
    return &f->st.req.st;
}

static int count_voters(const struct cons_status *st)
{
    int n = 0;
    for (size_t i = 0; i < st->n_members; i++)
        n += st->members[i].role == CONS_ROLE_VOTER;
    return n;
}

static struct replica *leader_of(struct fix *f)
{
    struct replica *l = NULL;
    for (int i = 0; i < f->n; i++) {
        if (f->r[i].c != NULL && !f->r[i].closing && f->r[i].leader) {
            assert_null(l); /* one leader at a time, as this loop sees it */
            l = &f->r[i];
        }
    }
    return l;
}

/* The i-th live replica that is not the leader. */
static struct replica *follower_of(struct fix *f, int i)
{
    int left = i;
    for (int j = 0; j < f->n; j++) {
        struct replica *r = &f->r[j];
        if (r->c != NULL && !r->closing && !r->leader && left-- == 0)
            return r;
    }
    fail_msg("no follower #%d", i);
    return NULL;
}

/* Polls r's status until it knows of no leader. */
static void wait_no_leader(struct replica *r)
{
    uint64_t deadline = uv_now(&r->f->loop) + WAIT_MS;
    while (status_of(r)->leader_id != 0) {
        assert_true(uv_now(&r->f->loop) < deadline);
        RUN_FOR(r->f, 20);
    }
}

/* node1 bootstraps, node2 and node3 start empty; one proposal on node1 records
 * all three members and the leader's reconciler adds and promotes 2 and 3. */
static void form_cluster(struct fix *f)
{
    struct store_op ops[N_REPLICAS];
    struct store_cmp cmps[N_REPLICAS];
    char keys[N_REPLICAS][80];
    void *vals[N_REPLICAS];
    struct store_txn txn = {cmps, N_REPLICAS, ops, N_REPLICAS};
    uint64_t deadline;
    struct prop *p;
    struct err e;

    assert_int_equal(cons_bootstrap(f->r[0].c, &e), 0);
    for (int i = 0; i < N_REPLICAS; i++)
        assert_int_equal(cons_start(f->r[i].c, &e), 0);
    RUN_UNTIL(f, f->r[0].leader, WAIT_MS);

    for (int i = 0; i < N_REPLICAS; i++) {
        struct replica *r = &f->r[i];
        size_t len;
        snprintf(keys[i], sizeof keys[i], "%s%s", CONS_MEMBER_PREFIX, r->name);
        assert_int_equal(
            cons_member_encode(r->name, r->id, r->peer, "127.0.0.1:1", &vals[i], &len, &e), 0);
        cmps[i] = (struct store_cmp){STORE_CMP_ABSENT, keys[i], 0};
        ops[i] = (struct store_op){STORE_OP_PUT, keys[i], vals[i], len};
    }
    p = propose(&f->r[0], &txn, NULL, 0);
    for (int i = 0; i < N_REPLICAS; i++)
        free(vals[i]); /* encoded by cons_propose */
    wait_done(p);
    assert_int_equal(p->status, 0);
    assert_int_equal(p->req.result.failed_cmp, -1);

    /* Every replica's own configuration, not just the leader's: the leader
     * counts a promotion from the moment it appends it, a follower only once
     * the entry reached it. */
    deadline = uv_now(&f->loop) + 20000;
    for (int i = 0; i < N_REPLICAS; i++) {
        while (count_voters(status_of(&f->r[i])) < N_REPLICAS) {
            assert_true(uv_now(&f->loop) < deadline);
            RUN_FOR(f, 50);
        }
    }
    assert_non_null(leader_of(f));
}

/* ---- single node -------------------------------------------------------------------------- */

static void test_bootstrapped_single_node_becomes_leader(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    const struct cons_status *st;
    struct err e;

    assert_false(cons_is_leader(r->c));
    assert_int_equal(cons_bootstrap(r->c, &e), 0);
    /* a second bootstrap finds the raft state the first one wrote */
    assert_int_equal(cons_bootstrap(r->c, &e), ERR_CONFLICT);
    assert_int_equal(e.code, ERR_CONFLICT);
    assert_int_equal(cons_start(r->c, &e), 0);
    RUN_UNTIL(f, r->leader, WAIT_MS);
    assert_true(cons_is_leader(r->c));
    assert_int_equal(r->leader_ups, 1);
    assert_string_equal(cons_name(r->c), "node1");
    assert_ptr_equal(cons_store(r->c), r->store);
    st = status_of(r);
    assert_int_equal(st->leader_id, 1);
    assert_true(st->term >= 1);
    /* too late to bootstrap now, and the error says why */
    assert_int_not_equal(cons_bootstrap(r->c, &e), 0);
    assert_true(strlen(e.msg) > strlen("bootstrap: "));
}

static void test_propose_on_leader_applies_txn_and_reports_revision(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    struct prop *p1, *p2;
    uint64_t mod_rev = 0;
    char *v;

    start_single(f);
    p1 = propose_put(r, "/a", "one");
    wait_done(p1);
    assert_int_equal(p1->status, 0);
    assert_int_equal(p1->req.err.code, 0);
    assert_int_equal(p1->req.result.failed_cmp, -1);
    assert_true(p1->req.result.rev >= 1);
    assert_true(p1->req.index >= 1);
    assert_true(p1->key_seen); /* applied before the callback */
    v = get_value(r, "/a", &mod_rev);
    assert_non_null(v);
    assert_string_equal(v, "one");
    free(v);
    assert_int_equal(mod_rev, p1->req.result.rev);
    assert_int_equal(store_revision(r->store), p1->req.result.rev);

    p2 = propose_put(r, "/a", "two");
    wait_done(p2);
    assert_int_equal(p2->status, 0);
    assert_int_equal(p2->req.result.rev, p1->req.result.rev + 1);
    assert_true(p2->req.index > p1->req.index);
    v = get_value(r, "/a", NULL);
    assert_string_equal(v, "two");
    free(v);
}

static void test_propose_failed_compare_is_status_0_and_writes_nothing(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    struct store_cmp cmp = {STORE_CMP_ABSENT, "/a", 0};
    struct store_op op = {STORE_OP_PUT, "/b", "x", 1};
    struct store_txn txn = {&cmp, 1, &op, 1};
    struct prop *p1, *p2;
    uint64_t rev;

    start_single(f);
    p1 = propose_put(r, "/a", "one");
    wait_done(p1);
    assert_int_equal(p1->status, 0);
    rev = store_revision(r->store);

    p2 = propose(r, &txn, "/b", 0);
    wait_done(p2);
    assert_int_equal(p2->status, 0); /* a failed compare is an outcome, not an error */
    assert_int_equal(p2->req.result.failed_cmp, 0);
    assert_int_equal(p2->req.result.failed_mod_rev, p1->req.result.rev);
    assert_false(p2->key_seen);
    assert_null(get_value(r, "/b", NULL));
    assert_int_equal(store_revision(r->store), rev);
}

static void test_propose_cb_never_fires_inside_the_call(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    struct prop *p[4];

    start_single(f);
    /* several in a row, so later ones find earlier ones already in raft */
    for (int i = 0; i < 4; i++) {
        char key[8];
        snprintf(key, sizeof key, "/k%d", i);
        p[i] = propose_put(r, key, "v"); /* asserts calls == 0 right after the call */
    }
    for (int i = 0; i < 4; i++) {
        wait_done(p[i]);
        assert_int_equal(p[i]->status, 0);
    }
    /* applied in proposal order */
    for (int i = 1; i < 4; i++)
        assert_int_equal(p[i]->req.result.rev, p[i - 1]->req.result.rev + 1);
}

static void test_propose_invalid_txn_returns_invalid_and_never_calls_back(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    struct store_op empty_key = {STORE_OP_PUT, "", "v", 1};
    struct store_op bad_kind = {99, "/k", "v", 1};
    struct store_txn t1 = {NULL, 0, &empty_key, 1};
    struct store_txn t2 = {NULL, 0, &bad_kind, 1};
    struct prop *p1, *p2;

    start_single(f);
    p1 = prop_new(f, r, NULL);
    p2 = prop_new(f, r, NULL);
    assert_int_equal(cons_propose(r->c, &p1->req, &t1, 0, prop_cb), ERR_INVALID);
    assert_int_equal(p1->req.err.code, ERR_INVALID);
    assert_true(p1->req.err.msg[0] != '\0');
    assert_int_equal(cons_propose(r->c, &p2->req, &t2, 0, prop_cb), ERR_INVALID);
    RUN_FOR(f, 200);
    assert_int_equal(p1->calls, 0);
    assert_int_equal(p2->calls, 0);
    assert_int_equal(store_revision(r->store), 0);
}

static void test_propose_without_leader_fails_unavailable_at_deadline(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    struct store_op op = {STORE_OP_PUT, "/k", "v", 1};
    struct store_txn txn = {NULL, 0, &op, 1};
    struct prop *p;
    struct err e;
    uint64_t start;

    /* started without bootstrap: an empty configuration, so never a leader */
    assert_int_equal(cons_start(r->c, &e), 0);
    start = uv_now(&f->loop);
    p = propose(r, &txn, "/k", 300);
    wait_done(p);
    assert_int_equal(p->status, ERR_UNAVAILABLE);
    assert_int_equal(p->req.err.code, ERR_UNAVAILABLE);
    assert_true(uv_now(&f->loop) - start >= 300);
    assert_false(p->key_seen);
}

static void test_close_before_start_fails_queued_proposal_with_shutdown(void **state)
{
    struct fix *f = *state;
    struct replica *r = &f->r[0];
    struct prop *p;
    struct err e;

    assert_int_equal(cons_bootstrap(r->c, &e), 0);
    p = propose_put(r, "/early", "x"); /* queued: raft has not started */
    RUN_FOR(f, 100);
    assert_int_equal(p->calls, 0);
    replica_close(r);
    RUN_UNTIL(f, r->c == NULL, WAIT_MS);
    assert_int_equal(p->calls, 1);
    assert_int_equal(p->status, ERR_SHUTDOWN);
    assert_null(get_value(r, "/early", NULL));
}

/* ---- three nodes -------------------------------------------------------------------------- */

static void test_member_records_make_joined_nodes_voters(void **state)
{
    struct fix *f = *state;
    const struct cons_status *st;
    struct replica *l;

    form_cluster(f);
    l = leader_of(f);
    st = status_of(l);
    assert_int_equal(st->n_members, 3);
    assert_int_equal(count_voters(st), 3);
    assert_string_equal(st->leader, l->name);
    for (size_t i = 0; i < st->n_members; i++)
        assert_true(st->members[i].reachable || st->members[i].id != l->id);

    /* a follower sees the same membership, with the leader's reachability */
    st = status_of(follower_of(f, 0));
    assert_int_equal(st->n_members, 3);
    assert_int_equal(count_voters(st), 3);
    assert_int_equal(st->leader_id, l->id);
    assert_string_equal(st->leader, l->name);
}

static void test_propose_on_follower_is_forwarded_and_read_your_writes(void **state)
{
    struct fix *f = *state;
    struct replica *fl;
    struct prop *p;
    uint64_t mod_rev = 0;
    char *v;

    form_cluster(f);
    fl = follower_of(f, 0);
    p = propose_put(fl, "/fwd", "hello");
    wait_done(p);
    assert_int_equal(p->status, 0);
    assert_int_equal(p->req.result.failed_cmp, -1);
    assert_true(p->req.result.rev >= 1);
    /* the follower's own replica had it when the callback ran */
    assert_true(p->key_seen);
    assert_int_equal(p->key_mod_rev, p->req.result.rev);
    assert_true(p->local_rev >= p->req.result.rev);
    v = get_value(fl, "/fwd", &mod_rev);
    assert_string_equal(v, "hello");
    free(v);
    assert_int_equal(mod_rev, p->req.result.rev);
}

static void test_barrier_on_follower_sees_earlier_leader_write(void **state)
{
    struct fix *f = *state;
    struct replica *l, *fl;
    struct prop *w, *b;

    form_cluster(f);
    l = leader_of(f);
    fl = follower_of(f, 1);
    w = propose_put(l, "/seen", "yes");
    wait_done(w);
    assert_int_equal(w->status, 0);

    b = barrier(fl, "/seen");
    wait_done(b);
    assert_int_equal(b->status, 0);
    assert_true(b->local_rev >= w->req.result.rev);
    assert_true(b->req.result.rev >= w->req.result.rev);
    assert_true(b->key_seen);
    assert_int_equal(b->key_mod_rev, w->req.result.rev);
}

static void test_concurrent_barriers_and_proposals_on_follower_all_complete(void **state)
{
    struct fix *f = *state;
    struct replica *l, *fl;
    struct prop *w, *b[3], *p[3];

    form_cluster(f);
    l = leader_of(f);
    fl = follower_of(f, 0);
    w = propose_put(l, "/base", "1");
    wait_done(w);
    assert_int_equal(w->status, 0);
    /* the first barrier goes out alone; the next two ride on one more */
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "/c%d", i);
        b[i] = barrier(fl, "/base");
        p[i] = propose_put(fl, key, "v");
    }
    for (int i = 0; i < 3; i++) {
        wait_done(b[i]);
        wait_done(p[i]);
        assert_int_equal(b[i]->status, 0);
        assert_true(b[i]->local_rev >= w->req.result.rev);
        assert_int_equal(p[i]->status, 0);
        assert_true(p[i]->key_seen);
    }
    /* forwarded in order, applied in order */
    for (int i = 1; i < 3; i++)
        assert_true(p[i]->req.result.rev > p[i - 1]->req.result.rev);
}

static void test_leader_close_elects_new_leader_that_accepts_proposals(void **state)
{
    struct fix *f = *state;
    struct replica *old, *nl, *fl;
    struct prop *p1, *p2;
    char *v;

    form_cluster(f);
    old = leader_of(f);
    replica_close(old);
    assert_false(old->leader); /* told it is no longer leader */
    RUN_UNTIL(f, old->c == NULL && leader_of(f) != NULL, WAIT_MS);
    nl = leader_of(f);
    assert_ptr_not_equal(nl, old);

    p1 = propose_put(nl, "/after", "leader");
    wait_done(p1);
    assert_int_equal(p1->status, 0);

    /* the other survivor forwards to the new leader */
    fl = follower_of(f, 0);
    p2 = propose_put(fl, "/after", "follower");
    wait_done(p2);
    assert_int_equal(p2->status, 0);
    assert_true(p2->key_seen);
    assert_int_equal(p2->req.result.rev, p1->req.result.rev + 1);
    v = get_value(fl, "/after", NULL);
    assert_string_equal(v, "follower");
    free(v);
}

static void test_close_fails_pending_follower_proposal_whose_leader_is_gone(void **state)
{
    struct fix *f = *state;
    struct replica *l, *other, *last;
    struct prop *p, *b;

    form_cluster(f);
    l = leader_of(f);
    other = follower_of(f, 0);
    last = follower_of(f, 1);
    /* leave one replica alone: no quorum, so no new leader */
    replica_close(l);
    replica_close(other);
    RUN_UNTIL(f, l->c == NULL && other->c == NULL, WAIT_MS);
    /* Once last knows it has no leader (and a tick dropped its connection to
     * the old one), proposals queue instead of going out to a dead leader. */
    wait_no_leader(last);
    RUN_FOR(f, 150);

    p = propose_put(last, "/orphan", "x");
    b = barrier(last, NULL);
    RUN_FOR(f, 3 * ELECTION_MS);
    assert_int_equal(p->calls, 0);
    assert_int_equal(b->calls, 0);

    replica_close(last);
    RUN_UNTIL(f, last->c == NULL, WAIT_MS);
    assert_int_equal(p->calls, 1);
    assert_true(p->status == ERR_SHUTDOWN || p->status == ERR_UNAVAILABLE);
    assert_int_equal(p->req.err.code, p->status);
    assert_false(p->key_seen);
    assert_int_equal(b->calls, 1);
    assert_true(b->status == ERR_SHUTDOWN || b->status == ERR_UNAVAILABLE);
}

static void test_leader_without_quorum_steps_down_and_fails_its_proposal(void **state)
{
    struct fix *f = *state;
    struct replica *l, *f0, *f1;
    struct store_op op = {STORE_OP_PUT, "/lost", "x", 1};
    struct store_txn txn = {NULL, 0, &op, 1};
    struct prop *p;

    form_cluster(f);
    l = leader_of(f);
    f0 = follower_of(f, 0);
    f1 = follower_of(f, 1);
    replica_close(f0);
    replica_close(f1);
    p = propose(l, &txn, "/lost", 30000);
    /* raft steps down after an election timeout without hearing a majority:
     * the entry cannot commit, and the caller hears so long before 30 s */
    RUN_UNTIL(f, p->calls == 1 && !l->leader, WAIT_MS);
    assert_int_equal(p->status, ERR_UNAVAILABLE);
    assert_false(cons_is_leader(l->c));
    assert_false(p->key_seen);
}

/* ---- member records ----------------------------------------------------------------------- */

static void test_member_record_round_trips(void **state)
{
    struct cons_member m;
    struct err e;
    void *data = NULL;
    size_t len = 0;

    assert_int_equal(
        cons_member_encode("node7", 7, "10.0.0.7:7001", "10.0.0.7:6443", &data, &len, &e), 0);
    assert_int_equal(cons_member_decode(data, len, &m, &e), 0);
    assert_string_equal(m.name, "node7");
    assert_int_equal(m.id, 7);
    assert_string_equal(m.peer_address, "10.0.0.7:7001");
    assert_string_equal(m.api_address, "10.0.0.7:6443");
    free(data);

    /* no API address is fine */
    assert_int_equal(cons_member_encode("n", 1, "[::1]:7001", NULL, &data, &len, &e), 0);
    assert_int_equal(cons_member_decode(data, len, &m, &e), 0);
    assert_string_equal(m.api_address, "");
    free(data);
}

static void test_member_encode_rejects_missing_fields(void **state)
{
    void *data = NULL;
    size_t len = 0;
    struct err e;
    char long_name[80];

    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(cons_member_encode("", 1, "127.0.0.1:1", NULL, &data, &len, &e), ERR_INVALID);
    assert_int_equal(cons_member_encode("n", 0, "127.0.0.1:1", NULL, &data, &len, &e), ERR_INVALID);
    assert_int_equal(cons_member_encode("n", 1, NULL, NULL, &data, &len, &e), ERR_INVALID);
    assert_int_equal(cons_member_encode(long_name, 1, "127.0.0.1:1", NULL, &data, &len, &e),
                     ERR_INVALID);
    assert_null(data);
}

static void test_member_decode_rejects_garbage(void **state)
{
    static const unsigned char not_msgpack[] = {0xc1, 0xc1, 0xc1};
    static const unsigned char an_int[] = {0x07};
    static const unsigned char empty_map[] = {0x80};
    /* {"name": "x"}: no id */
    static const unsigned char no_id[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x'};
    struct cons_member m;
    struct err e;
    void *data;
    size_t len;

    assert_int_equal(cons_member_decode(not_msgpack, sizeof not_msgpack, &m, &e), ERR_INVALID);
    assert_int_equal(cons_member_decode(an_int, sizeof an_int, &m, &e), ERR_INVALID);
    assert_int_equal(cons_member_decode(empty_map, sizeof empty_map, &m, &e), ERR_INVALID);
    assert_int_equal(cons_member_decode(no_id, sizeof no_id, &m, &e), ERR_INVALID);
    assert_int_equal(cons_member_decode("", 0, &m, &e), ERR_INVALID);
    /* a truncated record */
    assert_int_equal(cons_member_encode("node1", 1, "127.0.0.1:1", NULL, &data, &len, &e), 0);
    assert_int_equal(cons_member_decode(data, len - 3, &m, &e), ERR_INVALID);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bootstrapped_single_node_becomes_leader, setup_one,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_propose_on_leader_applies_txn_and_reports_revision,
                                        setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_propose_failed_compare_is_status_0_and_writes_nothing,
                                        setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_propose_cb_never_fires_inside_the_call, setup_one,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_propose_invalid_txn_returns_invalid_and_never_calls_back, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_propose_without_leader_fails_unavailable_at_deadline,
                                        setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_close_before_start_fails_queued_proposal_with_shutdown,
                                        setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_member_records_make_joined_nodes_voters, setup_three,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_propose_on_follower_is_forwarded_and_read_your_writes,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_on_follower_sees_earlier_leader_write,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_concurrent_barriers_and_proposals_on_follower_all_complete, setup_three, teardown),
        cmocka_unit_test_setup_teardown(test_leader_close_elects_new_leader_that_accepts_proposals,
                                        setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_close_fails_pending_follower_proposal_whose_leader_is_gone, setup_three, teardown),
        cmocka_unit_test_setup_teardown(
            test_leader_without_quorum_steps_down_and_fails_its_proposal, setup_three, teardown),
        cmocka_unit_test(test_member_record_round_trips),
        cmocka_unit_test(test_member_encode_rejects_missing_fields),
        cmocka_unit_test(test_member_decode_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
