/* read.c: point reads and prefix ranges at the current revision. */
#include "store/store.h"

#include "store/internal.h"

#include <stdlib.h>
#include <string.h>

int store_get(struct store *s, const char *key, struct store_kv *out, struct err *e)
{
    MDB_txn *txn;
    MDB_val k;
    MDB_val v;
    struct store__rec r;
    int rc;
    int rv;

    memset(out, 0, sizeof *out);
    if (key == NULL || key[0] == '\0')
        return err_setf(e, ERR_INVALID, "key: must not be empty");
    if (strnlen(key, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
        return err_setf(e, ERR_INVALID, "key: too long (max %d bytes)", STORE_KEY_MAX);
    rv = store__txn_begin(s, false, &txn, e);
    if (rv != 0)
        return rv;
    k.mv_size = strlen(key);
    k.mv_data = (void *)key;
    rc = mdb_get(txn, s->data, &k, &v);
    if (rc == MDB_NOTFOUND)
        rv = err_setf(e, ERR_NOTFOUND, "key %s: not found", key);
    else if (rc != 0)
        rv = store__mdb_err(s, e, rc, "store: get");
    else if ((rv = store__rec_decode(&k, &v, &r, e)) == 0)
        rv = store__kv_copy(&k, &r, out, e);
    mdb_txn_abort(txn);
    return rv;
}

static bool has_prefix(const MDB_val *k, const char *prefix, size_t n)
{
    return k->mv_size >= n && memcmp(k->mv_data, prefix, n) == 0;
}

/* Places cur on the first key > start_after that could carry prefix. */
static int seek(MDB_cursor *cur, const char *prefix, const char *start_after, MDB_val *k,
                MDB_val *v)
{
    const char *from = prefix;
    int rc;
    if (start_after != NULL && start_after[0] != '\0' && strcmp(start_after, prefix) >= 0)
        from = start_after;
    if (from[0] == '\0')
        return mdb_cursor_get(cur, k, v, MDB_FIRST);
    k->mv_size = strlen(from);
    k->mv_data = (void *)from;
    rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    /* strictly after the continue point */
    if (rc == 0 && from == start_after && k->mv_size == strlen(from) &&
        memcmp(k->mv_data, from, k->mv_size) == 0)
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    return rc;
}

static int grow(struct store_list *l, size_t *cap, struct err *e)
{
    size_t ncap = *cap == 0 ? 16 : *cap * 2;
    struct store_kv *kvs;
    if (l->n < *cap)
        return 0;
    kvs = realloc(l->kvs, ncap * sizeof *kvs);
    if (kvs == NULL)
        return err_setf(e, ERR_NOMEM, "out of memory");
    l->kvs = kvs;
    *cap = ncap;
    return 0;
}

/* Collects up to limit keys, then counts the rest, but at most
 * STORE_RANGE_COUNT_MAX of them: an exact count is a scan of every remaining
 * match, which made each page of a large prefix cost O(prefix) (a 100-key
 * page of 50k keys ran 60x slower than LMDB). Kubernetes' remainingItemCount
 * is optional and paged clients only need `more`. */
static int collect(struct store *s, MDB_cursor *cur, const char *prefix, const char *start_after,
                   size_t limit, struct store_list *out, struct err *e)
{
    size_t n = strlen(prefix);
    size_t cap = 0;
    MDB_val k;
    MDB_val v;
    int rc;
    int rv = 0;

    for (rc = seek(cur, prefix, start_after, &k, &v); rc == 0 && has_prefix(&k, prefix, n);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct store__rec r;
        if (limit > 0 && out->n == limit) {
            if (++out->remaining >= STORE_RANGE_COUNT_MAX)
                break;
            continue;
        }
        if ((rv = grow(out, &cap, e)) != 0 || (rv = store__rec_decode(&k, &v, &r, e)) != 0 ||
            (rv = store__kv_copy(&k, &r, &out->kvs[out->n], e)) != 0)
            return rv;
        out->n++;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__mdb_err(s, e, rc, "cursor");
    out->more = out->remaining > 0;
    return 0;
}

int store_range(struct store *s, const char *prefix, const char *start_after, size_t limit,
                struct store_list *out, struct err *e)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc;
    int rv;

    memset(out, 0, sizeof *out);
    if (prefix == NULL)
        prefix = "";
    /* longer than any key, and LMDB refuses to seek to them */
    if (strnlen(prefix, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
        return err_setf(e, ERR_INVALID, "prefix: too long (max %d bytes)", STORE_KEY_MAX);
    if (start_after != NULL && strnlen(start_after, STORE_KEY_MAX + 1) > STORE_KEY_MAX)
        return err_setf(e, ERR_INVALID, "start_after: too long (max %d bytes)", STORE_KEY_MAX);
    rv = store__txn_begin(s, false, &txn, e);
    if (rv != 0)
        return rv;
    rc = mdb_cursor_open(txn, s->data, &cur);
    if (rc != 0) {
        rv = store__mdb_err(s, e, rc, "cursor");
        goto out_abort;
    }
    /* the revision belongs to the snapshot this txn sees; applies only run
     * on this thread, so the cached value is that revision */
    out->rev = s->rev;
    rv = collect(s, cur, prefix, start_after, limit, out, e);
    mdb_cursor_close(cur);
out_abort:
    mdb_txn_abort(txn);
    if (rv != 0) {
        store_list_close(out);
        err_wrapf(e, "store: range %s", prefix);
    }
    return rv;
}

void store_list_close(struct store_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        store_kv_close(&l->kvs[i]);
    free(l->kvs);
    memset(l, 0, sizeof *l);
}

int store_range_each(struct store *s, const char *prefix, size_t page, store_each_fn fn, void *data,
                     uint64_t *rev, struct err *e)
{
    char *after = NULL;
    int rv;
    *rev = 0;
    for (;;) {
        struct store_list l;
        size_t i;
        rv = store_range(s, prefix, after, page, &l, e);
        free(after);
        after = NULL;
        if (rv != 0)
            return rv;
        if (*rev == 0)
            *rev = l.rev;
        for (i = 0; i < l.n && rv == 0; i++)
            rv = fn(&l.kvs[i], data);
        if (rv == 0 && l.more && l.n > 0) {
            after = strdup(l.kvs[l.n - 1].key);
            if (after == NULL)
                rv = err_setf(e, ERR_NOMEM, "range %s: out of memory", prefix);
        }
        store_list_close(&l);
        if (rv != 0 || after == NULL)
            return rv;
    }
}
