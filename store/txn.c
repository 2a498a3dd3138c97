/* txn.c: validating and applying conditional transactions (the FSM apply). */
#include "store/store.h"

#include "store/internal.h"

#include "lib/fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int check_key(const char *key, const char *what, size_t i, struct err *e)
{
    size_t n;
    if (key == NULL)
        return err_setf(e, ERR_INVALID, "%s[%zu].key: required", what, i);
    n = strnlen(key, STORE_KEY_MAX + 1);
    if (n == 0)
        return err_setf(e, ERR_INVALID, "%s[%zu].key: must not be empty", what, i);
    if (n > STORE_KEY_MAX)
        return err_setf(e, ERR_INVALID, "%s[%zu].key: too long (max %d bytes)", what, i,
                        STORE_KEY_MAX);
    return 0;
}

int store_txn_check(const struct store_txn *t, struct err *e)
{
    if (t == NULL)
        return err_setf(e, ERR_INVALID, "txn: required");
    if ((t->n_cmps > 0 && t->cmps == NULL) || (t->n_ops > 0 && t->ops == NULL))
        return err_setf(e, ERR_INVALID, "txn: count without array");
    for (size_t i = 0; i < t->n_cmps; i++) {
        const struct store_cmp *c = &t->cmps[i];
        if (c->kind < STORE_CMP_ABSENT || c->kind > STORE_CMP_MOD_REV)
            return err_setf(e, ERR_INVALID, "cmps[%zu].kind: unknown (%d)", i, c->kind);
        if (check_key(c->key, "cmps", i, e) != 0)
            return ERR_INVALID;
    }
    for (size_t i = 0; i < t->n_ops; i++) {
        const struct store_op *o = &t->ops[i];
        if (o->kind != STORE_OP_PUT && o->kind != STORE_OP_DELETE)
            return err_setf(e, ERR_INVALID, "ops[%zu].kind: unknown (%d)", i, o->kind);
        if (check_key(o->key, "ops", i, e) != 0)
            return ERR_INVALID;
        if (o->kind == STORE_OP_PUT && o->value == NULL && o->value_len > 0)
            return err_setf(e, ERR_INVALID, "ops[%zu].value: null with length %zu", i,
                            o->value_len);
        /* the msgpack command carries values as bin32 */
        if (o->kind == STORE_OP_PUT && o->value_len > UINT32_MAX - STORE__HIST_HDR - 1024)
            return err_setf(e, ERR_INVALID, "ops[%zu].value: too large (%zu bytes)", i,
                            o->value_len);
    }
    return 0;
}

/* Reads key's record; *found false when absent. */
static int get_rec(struct store *s, MDB_txn *txn, const char *key, struct store__rec *r,
                   bool *found, struct err *e)
{
    MDB_val k = {strlen(key), (void *)key};
    MDB_val v;
    int rc = mdb_get(txn, s->data, &k, &v);
    *found = false;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store__mdb_err(s, e, rc, "read");
    *found = true;
    return store__rec_decode(&k, &v, r, e);
}

/* Evaluates compares against the state before any op; fills r on failure. */
static int eval_cmps(struct store *s, MDB_txn *txn, const struct store_txn *t,
                     struct store_txn_result *r, struct err *e)
{
    for (size_t i = 0; i < t->n_cmps; i++) {
        const struct store_cmp *c = &t->cmps[i];
        struct store__rec rec;
        bool found;
        bool ok;
        int rv = get_rec(s, txn, c->key, &rec, &found, e);
        if (rv != 0)
            return rv;
        if (c->kind == STORE_CMP_ABSENT)
            ok = !found;
        else if (c->kind == STORE_CMP_EXISTS)
            ok = found;
        else
            ok = found && rec.mod_rev == c->mod_rev;
        if (!ok) {
            r->failed_cmp = (int)i;
            r->failed_mod_rev = found ? rec.mod_rev : 0;
            return 0;
        }
    }
    return 0;
}

/* One apply in progress: the new revision and the events it produced. */
struct apply {
    struct store *s;
    MDB_txn *txn;
    uint64_t rev;
    uint64_t now_ms;
    uint32_t seq;            /* events written so far = history seq */
    struct store_event *evs; /* NULL when no watch listens */
};

static int record_event(struct apply *a, const struct store__hist *h, struct err *e)
{
    struct store_event *ev;
    int rv = store__hist_put(a->s, a->txn, h, a->seq, e);
    if (rv != 0)
        return rv;
    if (a->evs != NULL) {
        ev = &a->evs[a->seq];
        ev->type = h->type;
        ev->rev = a->rev;
        ev->created = h->created;
        ev->kv.key = (char *)h->key; /* the op's key, borrowed until dispatch ends */
        ev->kv.create_rev = h->create_rev;
        ev->kv.mod_rev = h->mod_rev;
        ev->kv.version = h->version;
        ev->kv.value_len = h->value_len;
        ev->kv.value = (void *)h->value;
        if (h->type == STORE_EVENT_DELETE) {
            /* the old value lives in an LMDB page that dies at commit */
            ev->kv.value = malloc(h->value_len > 0 ? h->value_len : 1);
            if (ev->kv.value == NULL)
                return err_setf(e, ERR_NOMEM, "key %s: copy deleted value: out of memory", h->key);
            if (h->value_len > 0)
                memcpy(ev->kv.value, h->value, h->value_len);
        }
    }
    a->seq++;
    return 0;
}

static int apply_put(struct apply *a, const struct store_op *o, struct err *e)
{
    struct store__hist h = {.rev = a->rev, .type = STORE_EVENT_PUT, .ts_ms = a->now_ms};
    struct store__rec old;
    bool found;
    MDB_val k = {strlen(o->key), (void *)o->key};
    MDB_val v = {STORE__REC_HDR + o->value_len, NULL};
    int rc;
    int rv = get_rec(a->s, a->txn, o->key, &old, &found, e);
    if (rv != 0)
        return rv;
    h.created = !found;
    h.create_rev = found ? old.create_rev : a->rev;
    h.mod_rev = a->rev;
    h.version = found ? old.version + 1 : 1;
    rc = FAULT_TICK(FAULT_STORE_PUT) ? MDB_MAP_FULL
                                     : mdb_put(a->txn, a->s->data, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return store__mdb_err(a->s, e, rc, "put");
    store__put_be64(v.mv_data, h.create_rev);
    store__put_be64((unsigned char *)v.mv_data + 8, h.mod_rev);
    store__put_be64((unsigned char *)v.mv_data + 16, h.version);
    if (o->value_len > 0)
        memcpy((unsigned char *)v.mv_data + STORE__REC_HDR, o->value, o->value_len);
    h.key = o->key;
    h.key_len = k.mv_size;
    h.value = o->value;
    h.value_len = o->value_len;
    return record_event(a, &h, e);
}

static int apply_delete(struct apply *a, const struct store_op *o, struct err *e)
{
    struct store__hist h = {.rev = a->rev, .type = STORE_EVENT_DELETE, .ts_ms = a->now_ms};
    struct store__rec old;
    bool found;
    MDB_val k = {strlen(o->key), (void *)o->key};
    int rc;
    int rv = get_rec(a->s, a->txn, o->key, &old, &found, e);
    if (rv != 0 || !found)
        return rv;
    h.create_rev = old.create_rev;
    h.mod_rev = a->rev;
    h.version = old.version;
    h.key = o->key;
    h.key_len = k.mv_size;
    h.value = old.value;
    h.value_len = old.value_len;
    /* history first: the old value is still in the page */
    rv = record_event(a, &h, e);
    if (rv != 0)
        return rv;
    rc = FAULT_TICK(FAULT_STORE_PUT) ? MDB_MAP_FULL : mdb_del(a->txn, a->s->data, &k, NULL);
    if (rc != 0)
        return store__mdb_err(a->s, e, rc, "delete");
    return 0;
}

static int apply_ops(struct apply *a, const struct store_txn *t, struct err *e)
{
    for (size_t i = 0; i < t->n_ops; i++) {
        const struct store_op *o = &t->ops[i];
        int rv = o->kind == STORE_OP_PUT ? apply_put(a, o, e) : apply_delete(a, o, e);
        if (rv != 0)
            return err_wrapf(e, "ops[%zu] %s", i, o->key);
    }
    return 0;
}

static void free_events(struct store_event *evs, size_t n)
{
    if (evs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        if (evs[i].type == STORE_EVENT_DELETE)
            free(evs[i].kv.value);
    free(evs);
}

/* Everything that happens inside the LMDB write txn. */
static int apply_in_txn(struct apply *a, uint64_t raft_index, const struct store_txn *t,
                        struct store_txn_result *r, uint64_t *compact_rev, struct err *e)
{
    struct store *s = a->s;
    int rv = eval_cmps(s, a->txn, t, r, e);
    if (rv == 0 && r->failed_cmp < 0)
        rv = apply_ops(a, t, e);
    if (rv == 0 && a->seq > 0)
        rv = store__meta_put(s, a->txn, "revision", a->rev, e);
    if (rv == 0)
        rv = store__meta_put(s, a->txn, "applied_index", raft_index, e);
    if (rv == 0)
        rv = store__compact(s, a->txn, a->seq > 0 ? a->rev : s->rev,
                            STORE__COMPACT_BATCH + 2 * (size_t)a->seq, compact_rev, e);
    return rv;
}

int store_txn_apply(struct store *s, uint64_t raft_index, const struct store_txn *t,
                    struct store_txn_result *r, struct err *e)
{
    struct apply a = {.s = s, .rev = s->rev + 1, .now_ms = store__now_ms()};
    uint64_t compact_rev = s->compact_rev;
    int rc;
    int rv;

    r->rev = s->rev;
    r->failed_cmp = -1;
    r->failed_mod_rev = 0;
    rv = store_txn_check(t, e);
    if (rv != 0)
        return rv;
    /* a nested apply would deliver rev N+1 to some watches before the
     * rest of rev N reached the others */
    if (s->cb_depth > 0)
        return err_setf(e, ERR_INVALID, "store: apply: called from a watch callback");
    if (raft_index <= s->applied)
        return 0;
    if (s->watches != NULL && t->n_ops > 0) {
        a.evs = calloc(t->n_ops, sizeof *a.evs);
        if (a.evs == NULL)
            return err_setf(e, ERR_NOMEM, "store: apply: out of memory");
    }
    rv = store__txn_begin(s, true, &a.txn, e);
    if (rv != 0)
        goto out_events;
    rv = apply_in_txn(&a, raft_index, t, r, &compact_rev, e);
    if (rv != 0) {
        err_wrapf(e, "store: apply");
        mdb_txn_abort(a.txn);
        goto out_events;
    }
    if (FAULT_TICK(FAULT_STORE_COMMIT)) {
        mdb_txn_abort(a.txn); /* what a failed commit leaves: nothing written */
        rc = EIO;
    } else {
        rc = mdb_txn_commit(a.txn);
    }
    if (rc != 0) {
        rv = store__mdb_err(s, e, rc, "store: apply: commit");
        goto out_events;
    }
    s->applied = raft_index;
    s->compact_rev = compact_rev;
    if (a.seq > 0)
        s->rev = a.rev;
    r->rev = s->rev;
    if (a.evs != NULL)
        store__watch_dispatch(s, a.evs, a.seq);
out_events:
    free_events(a.evs, a.seq);
    if (rv != 0) { /* nothing was applied: no compare outcome to report */
        r->failed_cmp = -1;
        r->failed_mod_rev = 0;
    }
    return rv;
}
