/* snapshot.c: the whole store as one msgpack buffer, for Raft snapshots.
 *
 * Format, version 1: ["skiff-store-snapshot", 1, revision, applied_index,
 *                     [[key:str, value:bin, create_rev, mod_rev, version], ...]]
 * Keys are in byte order, so restore can append and check uniqueness by
 * comparing neighbours. History is not included: it is local, and restore
 * marks everything up to the snapshot revision as compacted. */
#include "store/store.h"

#include "store/internal.h"

#include "lib/fs.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SNAP_MAGIC   "skiff-store-snapshot"
#define SNAP_VERSION 1

static int pack_entries(struct store *s, MDB_txn *txn, msgpack_packer *pk, struct err *e)
{
    MDB_cursor *cur;
    MDB_val k;
    MDB_val v;
    MDB_stat st;
    int rc = mdb_stat(txn, s->data, &st);
    int rv = 0;
    if (rc == 0)
        rc = mdb_cursor_open(txn, s->data, &cur);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "snapshot");
    if (msgpack_pack_array(pk, st.ms_entries) != 0)
        rv = err_setf(e, ERR_NOMEM, "snapshot: out of memory");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && rv == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct store__rec r;
        int prc;
        if ((rv = store__rec_decode(&k, &v, &r, e)) != 0)
            break;
        prc = msgpack_pack_array(pk, 5);
        prc |= msgpack_pack_str_with_body(pk, k.mv_data, k.mv_size);
        prc |= msgpack_pack_bin_with_body(pk, r.value, r.value_len);
        prc |= msgpack_pack_uint64(pk, r.create_rev);
        prc |= msgpack_pack_uint64(pk, r.mod_rev);
        prc |= msgpack_pack_uint64(pk, r.version);
        if (prc != 0)
            rv = err_setf(e, ERR_NOMEM, "snapshot: out of memory");
    }
    mdb_cursor_close(cur);
    if (rv == 0 && rc != MDB_NOTFOUND)
        rv = store__mdb_err(s, e, rc, "snapshot");
    return rv;
}

struct store_snap {
    struct store *s;
    MDB_txn *txn; /* read-only: a consistent view while applies go on */
};

int store_snapshot_begin(struct store *s, struct store_snap **out, struct err *e)
{
    struct store_snap *sn = calloc(1, sizeof *sn);
    int rv;
    if (sn == NULL)
        return err_setf(e, ERR_NOMEM, "snapshot: out of memory");
    sn->s = s;
    rv = store__txn_begin(s, false, &sn->txn, e);
    if (rv != 0) {
        free(sn);
        return rv;
    }
    s->open_snaps++;
    *out = sn;
    return 0;
}

/* Runs on any thread: touches only the read txn and the store's immutable
 * handles (MDB_NOTLS lets a read txn move between threads). */
int store_snapshot_write(struct store_snap *sn, void **data, size_t *len, struct err *e)
{
    struct store *s = sn->s;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t rev;
    uint64_t applied;
    int prc;
    int rv;
    msgpack_sbuffer_init(&sb);
    /* room for the whole snapshot up front: the data table's pages bound
     * it, and growing by doubling would copy a large store twice over */
    {
        MDB_stat st;
        if (mdb_stat(sn->txn, s->data, &st) == 0) {
            size_t est = (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
                             (size_t)st.ms_psize + 4096;
            if ((sb.data = malloc(est)) != NULL)
                sb.alloc = est;
        }
    }
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if ((rv = store__meta_get(s, sn->txn, "revision", &rev, e)) != 0 ||
        (rv = store__meta_get(s, sn->txn, "applied_index", &applied, e)) != 0)
        goto out;
    prc = msgpack_pack_array(&pk, 5);
    prc |= msgpack_pack_str_with_body(&pk, SNAP_MAGIC, strlen(SNAP_MAGIC));
    prc |= msgpack_pack_uint64(&pk, SNAP_VERSION);
    prc |= msgpack_pack_uint64(&pk, rev);
    prc |= msgpack_pack_uint64(&pk, applied);
    if (prc != 0) {
        rv = err_setf(e, ERR_NOMEM, "snapshot: out of memory");
        goto out;
    }
    rv = pack_entries(s, sn->txn, &pk, e);
out:
    if (rv != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rv;
    }
    *len = sb.size;
    *data = msgpack_sbuffer_release(&sb);
    return 0;
}

void store_snapshot_end(struct store_snap *sn)
{
    if (sn == NULL)
        return;
    mdb_txn_abort(sn->txn);
    sn->s->open_snaps--;
    free(sn);
}

/* The snapshot is one msgpack array of 5 (fixarray byte 0x95); its first
 * four elements are complete objects on their own, so they are unpacked one
 * by one, without touching the entries (a large store is hundreds of MB). */
int store_snapshot_peek(const void *data, size_t len, uint64_t *rev, uint64_t *applied,
                        struct err *e)
{
    const char *p = data;
    msgpack_unpacked u;
    size_t off = 1;
    uint64_t v[3];
    int rv = 0;
    if (len < 1 || (unsigned char)p[0] != 0x95)
        return err_setf(e, ERR_INVALID, "snapshot: not a snapshot");
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_STR || u.data.via.str.size != strlen(SNAP_MAGIC) ||
        memcmp(u.data.via.str.ptr, SNAP_MAGIC, strlen(SNAP_MAGIC)) != 0)
        rv = err_setf(e, ERR_INVALID, "snapshot: not a snapshot");
    for (int i = 0; i < 3 && rv == 0; i++)
        if (msgpack_unpack_next(&u, p, len, &off) != MSGPACK_UNPACK_SUCCESS ||
            !store__mp_uint(&u.data, &v[i]))
            rv = err_setf(e, ERR_INVALID, "snapshot: header: bad shape");
    if (rv == 0 && v[0] != SNAP_VERSION)
        rv = err_setf(e, ERR_INVALID, "snapshot: version: unsupported");
    msgpack_unpacked_destroy(&u);
    if (rv == 0) {
        *rev = v[1];
        *applied = v[2];
    }
    return rv;
}

int store_snapshot(struct store *s, void **data, size_t *len, struct err *e)
{
    struct store_snap *sn;
    int rv = store_snapshot_begin(s, &sn, e);
    if (rv != 0)
        return rv;
    rv = store_snapshot_write(sn, data, len, e);
    store_snapshot_end(sn);
    return rv;
}

/* The parsed header of a snapshot; entries still point into the unpacked
 * msgpack objects. */
struct snap {
    uint64_t rev;
    uint64_t applied;
    const msgpack_object *entries;
    uint32_t n;
};

static int check_entry(const struct snap *sn, uint32_t i, const msgpack_object *prev_key,
                       struct err *e)
{
    const msgpack_object *x = sn->entries[i].via.array.ptr;
    uint64_t c;
    uint64_t m;
    uint64_t v;
    size_t n;
    if (!store__mp_array(&sn->entries[i], 5) || x[0].type != MSGPACK_OBJECT_STR ||
        x[1].type != MSGPACK_OBJECT_BIN || !store__mp_uint(&x[2], &c) ||
        !store__mp_uint(&x[3], &m) || !store__mp_uint(&x[4], &v))
        return err_setf(e, ERR_INVALID, "restore: entries[%u]: bad shape", i);
    n = x[0].via.str.size;
    if (n == 0 || n > STORE_KEY_MAX || memchr(x[0].via.str.ptr, '\0', n) != NULL)
        return err_setf(e, ERR_INVALID, "restore: entries[%u].key: invalid", i);
    if (c == 0 || c > m || m > sn->rev || v == 0)
        return err_setf(e, ERR_INVALID, "restore: entries[%u]: bad revisions", i);
    if (prev_key != NULL) {
        size_t pn = prev_key->via.str.size;
        int cmp = memcmp(prev_key->via.str.ptr, x[0].via.str.ptr, pn < n ? pn : n);
        if (cmp > 0 || (cmp == 0 && pn >= n))
            return err_setf(e, ERR_INVALID, "restore: entries[%u].key: out of order", i);
    }
    return 0;
}

static int parse(const msgpack_object *root, struct snap *sn, struct err *e)
{
    const msgpack_object *x;
    uint64_t ver;
    if (!store__mp_array(root, 5))
        return err_setf(e, ERR_INVALID, "restore: not a snapshot");
    x = root->via.array.ptr;
    if (x[0].type != MSGPACK_OBJECT_STR || x[0].via.str.size != strlen(SNAP_MAGIC) ||
        memcmp(x[0].via.str.ptr, SNAP_MAGIC, strlen(SNAP_MAGIC)) != 0)
        return err_setf(e, ERR_INVALID, "restore: not a snapshot");
    if (!store__mp_uint(&x[1], &ver) || ver != SNAP_VERSION)
        return err_setf(e, ERR_INVALID, "restore: version: unsupported");
    if (!store__mp_uint(&x[2], &sn->rev) || !store__mp_uint(&x[3], &sn->applied) ||
        x[4].type != MSGPACK_OBJECT_ARRAY)
        return err_setf(e, ERR_INVALID, "restore: header: bad shape");
    sn->entries = x[4].via.array.ptr;
    sn->n = x[4].via.array.size;
    for (uint32_t i = 0; i < sn->n; i++) {
        const msgpack_object *prev = i > 0 ? &sn->entries[i - 1].via.array.ptr[0] : NULL;
        int rv = check_entry(sn, i, prev, e);
        if (rv != 0)
            return rv;
    }
    return 0;
}

static int put_entry(struct store *s, MDB_txn *txn, const msgpack_object *x, struct err *e)
{
    MDB_val k = {x[0].via.str.size, (void *)x[0].via.str.ptr};
    MDB_val v = {STORE__REC_HDR + x[1].via.bin.size, NULL};
    unsigned char *p;
    int rc = mdb_put(txn, s->data, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "restore: put");
    p = v.mv_data;
    store__put_be64(p, x[2].via.u64);
    store__put_be64(p + 8, x[3].via.u64);
    store__put_be64(p + 16, x[4].via.u64);
    if (x[1].via.bin.size > 0)
        memcpy(p + STORE__REC_HDR, x[1].via.bin.ptr, x[1].via.bin.size);
    return 0;
}

static int write_all(struct store *s, MDB_txn *txn, const struct snap *sn, struct err *e)
{
    int rc;
    int rv = 0;
    if ((rc = mdb_drop(txn, s->data, 0)) != 0 || (rc = mdb_drop(txn, s->hist, 0)) != 0)
        return store__mdb_err(s, e, rc, "restore: clear");
    for (uint32_t i = 0; i < sn->n && rv == 0; i++)
        rv = put_entry(s, txn, sn->entries[i].via.array.ptr, e);
    if (rv == 0)
        rv = store__meta_put(s, txn, "revision", sn->rev, e);
    if (rv == 0)
        rv = store__meta_put(s, txn, "applied_index", sn->applied, e);
    if (rv == 0)
        rv = store__meta_put(s, txn, "compact_revision", sn->rev, e);
    return rv;
}

/* In place: one txn that drops and rewrites everything. LMDB cannot reuse
 * pages freed inside the same txn, so this needs room for the old and the
 * new content at once; used only while a snapshot read txn pins the env. */
static int restore_in_place(struct store *s, const struct snap *sn, struct err *e)
{
    MDB_txn *txn;
    int rc;
    int rv = store__txn_begin(s, true, &txn, e);
    if (rv != 0)
        return rv;
    rv = write_all(s, txn, sn, e);
    if (rv != 0) {
        mdb_txn_abort(txn);
        return rv;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "restore: commit");
    return 0;
}

/* Into a fresh environment beside the store, synced, then swapped in with
 * one atomic rename (RENAME_EXCHANGE): a crash leaves either the old or the
 * new store whole, and the side directory is removed at the next open. */
static int restore_fresh(struct store *s, const struct snap *sn, struct err *e)
{
    struct store t;
    char side[4200];
    MDB_txn *txn;
    int rc;
    int rv;

    snprintf(side, sizeof side, "%s.restore", s->dir);
    fs_rmtree(side);
    if (mkdir(side, 0700) != 0)
        return err_setf(e, ERR_IO, "restore: mkdir %s: %s", side, strerror(errno));
    memset(&t, 0, sizeof t);
    t.opts = s->opts;
    rv = store__env_open(&t, side, e);
    if (rv != 0)
        goto out_rm;
    rv = store__txn_begin(&t, true, &txn, e);
    if (rv == 0) {
        rv = write_all(&t, txn, sn, e);
        if (rv != 0)
            mdb_txn_abort(txn);
        else if ((rc = mdb_txn_commit(txn)) != 0)
            rv = store__mdb_err(&t, e, rc, "restore: commit");
    }
    if (rv == 0 && (rc = mdb_env_sync(t.env, 1)) != 0)
        rv = store__mdb_err(&t, e, rc, "restore: sync");
    mdb_env_close(t.env);
    if (rv != 0)
        goto out_rm;
    if (renameat2(AT_FDCWD, side, AT_FDCWD, s->dir, RENAME_EXCHANGE) != 0) {
        rv = err_setf(e, ERR_IO, "restore: swap %s: %s", s->dir, strerror(errno));
        goto out_rm;
    }
    /* the new store is in place: reopen on it (the old env maps the old
     * files, now at side, which go next) */
    mdb_env_close(s->env);
    s->env = NULL;
    rv = store__env_open(s, s->dir, e);
    if (rv != 0)
        LOG_ERROR("store", "reopen_failed", "dir=%s err=\"%s\"", s->dir, e->msg);
out_rm:
    fs_rmtree(side);
    return rv;
}

int store_restore(struct store *s, const void *data, size_t len, struct err *e)
{
    msgpack_unpacked u;
    struct snap sn;
    int rv;

    if (s->cb_depth > 0)
        return err_setf(e, ERR_INVALID, "restore: called from a watch callback");
    rv = store__mp_unpack(data, len, &u, "restore", e);
    if (rv == 0)
        rv = parse(&u.data, &sn, e);
    if (rv != 0)
        goto out_unpacked;
    rv = s->open_snaps > 0 ? restore_in_place(s, &sn, e) : restore_fresh(s, &sn, e);
    if (rv != 0)
        goto out_unpacked;
    s->rev = sn.rev;
    s->applied = sn.applied;
    s->compact_rev = sn.rev;
    store__watch_reset(s, sn.rev);
out_unpacked:
    msgpack_unpacked_destroy(&u);
    return rv;
}
