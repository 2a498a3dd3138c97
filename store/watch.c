/* watch.c: watches, history replay and live fan-out.
 *
 * Re-entrancy: a callback may stop any watch (itself included), start new
 * ones and read, but not apply or restore (store_txn_apply refuses while
 * cb_depth > 0). The dispatch loop keeps its next watch in s->iter_next,
 * which store_watch_stop advances when it unlinks that very watch. A watch
 * started from a callback goes to the head of the list, behind the cursor,
 * and its after_rev is the revision it replayed up to, so it never sees an
 * event twice. */
#include "store/store.h"

#include "store/internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static struct store__watch_priv *priv_of(struct store_watch *w)
{
    return (struct store__watch_priv *)(w->prefix__ - offsetof(struct store__watch_priv, prefix));
}

static bool wants(struct store_watch *w, const struct store_event *ev)
{
    size_t n = strlen(w->prefix__);
    return ev->rev > priv_of(w)->after_rev && strncmp(ev->kv.key, w->prefix__, n) == 0;
}

/* Calls w's callback; returns false if w was stopped meanwhile. */
static bool deliver(struct store *s, struct store_watch *w, const struct store_event *ev)
{
    s->cb_depth++;
    w->cb(w, ev);
    s->cb_depth--;
    return w->s__ == s;
}

void store__watch_dispatch(struct store *s, const struct store_event *evs, size_t n)
{
    struct store_watch *w = s->watches;
    while (w != NULL) {
        s->iter_next = w->next__;
        for (size_t i = 0; i < n; i++)
            if (wants(w, &evs[i]) && !deliver(s, w, &evs[i]))
                break;
        w = s->iter_next;
    }
    s->iter_next = NULL;
}

void store__watch_reset(struct store *s, uint64_t rev)
{
    struct store_event ev;
    struct store_watch *w = s->watches;
    memset(&ev, 0, sizeof ev);
    ev.type = STORE_EVENT_RESET;
    ev.rev = rev;
    ev.kv.key = (char *)"";
    ev.kv.mod_rev = rev;
    while (w != NULL) {
        s->iter_next = w->next__;
        /* the watcher relists at rev and needs every event after it; the
         * restored revision may be older than what it had seen (raft
         * restores its last snapshot at start, then replays the entries
         * after it), and a stale filter would drop those replayed events */
        priv_of(w)->after_rev = rev;
        deliver(s, w, &ev);
        w = s->iter_next;
    }
    s->iter_next = NULL;
}

static void hist_to_event(const struct store__hist *h, struct store_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = h->type;
    ev->rev = h->rev;
    ev->created = h->created;
    ev->kv.key = (char *)h->key; /* in the LMDB page, valid until the read txn ends */
    ev->kv.value = (void *)h->value;
    ev->kv.value_len = h->value_len;
    ev->kv.create_rev = h->create_rev;
    ev->kv.mod_rev = h->mod_rev;
    ev->kv.version = h->version;
}

/* Replays history after after_rev through to the end of the table. The
 * callbacks run inside our read txn, which is fine: LMDB read txns under
 * MDB_NOTLS nest on one thread, and applies are refused meanwhile. */
static int replay(struct store *s, struct store_watch *w, MDB_txn *txn, uint64_t after_rev,
                  struct err *e)
{
    unsigned char kb[STORE__HKEY_SIZE] = {0};
    MDB_val k = {sizeof kb, kb};
    MDB_val v;
    MDB_cursor *cur;
    MDB_cursor_op op = MDB_SET_RANGE;
    int rv = 0;
    int rc;

    if (after_rev == UINT64_MAX)
        return 0;
    store__put_be64(kb, after_rev + 1);
    rc = mdb_cursor_open(txn, s->hist, &cur);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "replay");
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        struct store__hist h;
        struct store_event ev;
        op = MDB_NEXT;
        rv = store__hist_decode(&k, &v, &h, e);
        if (rv != 0)
            break;
        hist_to_event(&h, &ev);
        if (wants(w, &ev) && !deliver(s, w, &ev))
            break;
    }
    mdb_cursor_close(cur);
    if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
        rv = store__mdb_err(s, e, rc, "replay");
    return rv;
}

static void link_watch(struct store *s, struct store_watch *w)
{
    w->s__ = s;
    w->prev__ = NULL;
    w->next__ = s->watches;
    if (s->watches != NULL)
        s->watches->prev__ = w;
    s->watches = w;
}

int store_watch_start(struct store *s, struct store_watch *w, const char *prefix,
                      uint64_t after_rev, store_watch_cb cb, struct err *e)
{
    struct store__watch_priv *p;
    size_t n;
    MDB_txn *txn;
    int rv;

    if (prefix == NULL)
        prefix = "";
    if (cb == NULL)
        return err_setf(e, ERR_INVALID, "watch: cb: required");
    if (after_rev < s->compact_rev)
        return err_setf(e, ERR_COMPACTED,
                        "watch %s: revision %llu: compacted (oldest is %llu): relist", prefix,
                        (unsigned long long)after_rev, (unsigned long long)s->compact_rev);
    n = strlen(prefix);
    p = malloc(sizeof *p + n + 1);
    if (p == NULL)
        return err_setf(e, ERR_NOMEM, "watch %s: out of memory", prefix);
    p->after_rev = after_rev;
    memcpy(p->prefix, prefix, n + 1);
    rv = store__txn_begin(s, false, &txn, e);
    if (rv != 0) {
        free(p);
        return rv;
    }
    w->cb = cb;
    w->prefix__ = p->prefix;
    link_watch(s, w);
    rv = replay(s, w, txn, after_rev, e);
    mdb_txn_abort(txn);
    if (w->s__ != s) /* stopped from its own replay: already unlinked and freed */
        return 0;
    if (rv != 0) {
        store_watch_stop(w);
        return err_wrapf(e, "store: watch %s", prefix);
    }
    /* everything up to the current revision was replayed (priv_of, not p:
     * a callback may have stopped and restarted w) */
    if (priv_of(w)->after_rev < s->rev)
        priv_of(w)->after_rev = s->rev;
    return 0;
}

void store_watch_stop(struct store_watch *w)
{
    struct store *s;
    if (w == NULL || w->s__ == NULL)
        return;
    s = w->s__;
    if (s->iter_next == w)
        s->iter_next = w->next__;
    if (w->prev__ != NULL)
        w->prev__->next__ = w->next__;
    else
        s->watches = w->next__;
    if (w->next__ != NULL)
        w->next__->prev__ = w->prev__;
    free(priv_of(w));
    w->s__ = NULL;
    w->prefix__ = NULL;
    w->next__ = NULL;
    w->prev__ = NULL;
}
