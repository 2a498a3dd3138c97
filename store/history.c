/* history.c: the watch history table and its compaction. */
#include "store/store.h"

#include "store/internal.h"

#include "lib/fault.h"

#include <string.h>

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int store__hist_put(struct store *s, MDB_txn *txn, const struct store__hist *h, uint32_t seq,
                    struct err *e)
{
    unsigned char kb[STORE__HKEY_SIZE];
    MDB_val k = {sizeof kb, kb};
    MDB_val v = {STORE__HIST_HDR + h->key_len + 1 + h->value_len, NULL};
    unsigned char *p;
    int rc;

    store__put_be64(kb, h->rev);
    put_be32(kb + 8, seq);
    rc = FAULT_TICK(FAULT_STORE_PUT) ? MDB_MAP_FULL : mdb_put(txn, s->hist, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "write history");
    p = v.mv_data;
    p[0] = (unsigned char)h->type;
    p[1] = h->created ? 1 : 0;
    store__put_be64(p + 2, h->ts_ms);
    store__put_be64(p + 10, h->create_rev);
    store__put_be64(p + 18, h->mod_rev);
    store__put_be64(p + 26, h->version);
    put_be32(p + 34, (uint32_t)h->key_len);
    memcpy(p + STORE__HIST_HDR, h->key, h->key_len);
    p[STORE__HIST_HDR + h->key_len] = '\0';
    if (h->value_len > 0)
        memcpy(p + STORE__HIST_HDR + h->key_len + 1, h->value, h->value_len);
    return 0;
}

int store__hist_decode(const MDB_val *k, const MDB_val *v, struct store__hist *h, struct err *e)
{
    const unsigned char *p = v->mv_data;
    size_t key_len;

    if (k->mv_size != STORE__HKEY_SIZE || v->mv_size < STORE__HIST_HDR + 1)
        return err_setf(e, ERR_IO, "store: history entry: damaged (%zu bytes)", v->mv_size);
    key_len = get_be32(p + 34);
    if (key_len > v->mv_size - STORE__HIST_HDR - 1 || p[STORE__HIST_HDR + key_len] != '\0' ||
        (p[0] != STORE_EVENT_PUT && p[0] != STORE_EVENT_DELETE))
        return err_setf(e, ERR_IO, "store: history entry: damaged header");
    h->rev = store__get_be64(k->mv_data);
    h->type = p[0];
    h->created = p[1] != 0;
    h->ts_ms = store__get_be64(p + 2);
    h->create_rev = store__get_be64(p + 10);
    h->mod_rev = store__get_be64(p + 18);
    h->version = store__get_be64(p + 26);
    h->key = (const char *)p + STORE__HIST_HDR;
    h->key_len = key_len;
    h->value = p + STORE__HIST_HDR + key_len + 1;
    h->value_len = v->mv_size - STORE__HIST_HDR - key_len - 1;
    return 0;
}

/* An entry goes when it is beyond the revision window or older than the age
 * window. Entries are in revision order and timestamps only grow (modulo
 * wall-clock steps, which merely delay or hasten compaction: history is
 * local, not replicated), so what goes is always a prefix of the table. */
static bool is_expired(const MDB_val *k, const MDB_val *v, uint64_t rev_target, uint64_t cutoff_ms)
{
    uint64_t rev = store__get_be64(k->mv_data);
    if (rev <= rev_target)
        return true;
    return v->mv_size >= STORE__HIST_HDR &&
           store__get_be64((unsigned char *)v->mv_data + 2) < cutoff_ms;
}

int store__compact(struct store *s, MDB_txn *txn, uint64_t rev, size_t budget,
                   uint64_t *compact_rev, struct err *e)
{
    uint64_t rev_target = rev > s->opts.history_max_revs ? rev - s->opts.history_max_revs : 0;
    uint64_t now = store__now_ms();
    uint64_t cutoff = now > s->opts.history_max_age_ms ? now - s->opts.history_max_age_ms : 0;
    uint64_t last = 0;
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    int rc = mdb_cursor_open(txn, s->hist, &cur);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "compact");
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != STORE__HKEY_SIZE || !is_expired(&k, &v, rev_target, cutoff))
            break;
        if (budget == 0)
            break;
        last = store__get_be64(k.mv_data);
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0)
            break;
        budget--;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__mdb_err(s, e, rc, "compact");
    /* A partly deleted revision counts as compacted: a watch must not start
     * inside it. Out of budget, stop at what was actually deleted. */
    if (budget > 0 && rev_target > last)
        last = rev_target;
    if (last > *compact_rev) {
        *compact_rev = last;
        return store__meta_put(s, txn, "compact_revision", last, e);
    }
    return 0;
}
