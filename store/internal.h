/* store/internal.h: shared by the store .c files only, never included from
 * outside the module (its unit tests excepted).
 *
 * On-disk layout (one LMDB environment in the store directory, three named
 * databases):
 *   data    key bytes (no NUL)          -> rec header (24 bytes) + value
 *   history rev (be64) + seq (be32)     -> hist header (38 bytes) + key + NUL + value
 *   meta    "revision", "applied_index", "compact_revision" -> be64
 * Integers are big-endian so LMDB's memcmp order is numeric order. The record
 * headers are fixed-width fields at fixed offsets rather than msgpack: the
 * value stays a zero-copy slice of the LMDB page and there is nothing to
 * parse but one length, which is bounds-checked. */
#ifndef SKIFF_STORE_INTERNAL_H
#define SKIFF_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>
#include <msgpack.h>

#include "store/store.h"

#define STORE__DEFAULT_MAP_SIZE ((size_t)1 << 30)
/* Watch history: every value is stored again here, so the window is what a
 * disconnected watcher can catch up on, not an audit log. */
#define STORE__DEFAULT_HISTORY_REVS  20000
#define STORE__DEFAULT_HISTORY_AGEMS 300000
/* History entries a single apply may delete, on top of twice the entries it
 * adds (so compaction always outruns growth while bounding apply latency). */
#define STORE__COMPACT_BATCH 1000

#define STORE__REC_HDR   24 /* create_rev, mod_rev, version */
#define STORE__HKEY_SIZE 12 /* rev be64 + seq be32 */
#define STORE__HIST_HDR  38 /* type, created, ts_ms, create_rev, mod_rev, version, key_len */

struct store {
    MDB_env *env;
    char *dir;      /* for restore, which swaps in a fresh environment */
    int open_snaps; /* begun, not yet ended snapshots (read txns) */
    MDB_dbi data;
    MDB_dbi hist;
    MDB_dbi meta;
    struct store_opts opts; /* defaults resolved */
    uint64_t rev;           /* cached meta, updated only after a commit */
    uint64_t applied;
    bool trusted; /* see store_trusted() */
    uint64_t compact_rev;
    struct store_watch *watches;   /* newest first */
    struct store_watch *iter_next; /* dispatch cursor, kept valid by store_watch_stop */
    int cb_depth;                  /* > 0 while a watch callback runs */
};

/* Private part of a watch, allocated by store_watch_start; w->prefix__
 * points at .prefix (the header's struct has no room for after_rev). */
struct store__watch_priv {
    uint64_t after_rev; /* deliver only events with rev > after_rev */
    char prefix[];
};

/* A data record as stored (value borrowed from the LMDB page). */
struct store__rec {
    uint64_t create_rev;
    uint64_t mod_rev;
    uint64_t version;
    const void *value;
    size_t value_len;
};

/* A history entry as stored (key and value borrowed from the LMDB page). */
struct store__hist {
    uint64_t rev;
    int type;
    bool created;
    uint64_t ts_ms;
    uint64_t create_rev;
    uint64_t mod_rev;
    uint64_t version;
    const char *key; /* NUL-terminated in the page */
    size_t key_len;
    const void *value;
    size_t value_len;
};

void store__put_be64(unsigned char *p, uint64_t v);
uint64_t store__get_be64(const unsigned char *p);

/* Sets e from an LMDB code: ERR_IO with "what: why", naming a full map. */
int store__mdb_err(struct store *s, struct err *e, int rc, const char *what);

int store__txn_begin(struct store *s, bool write, MDB_txn **txn, struct err *e);
/* Opens the environment in dir and its databases into s (s->opts set). */
int store__env_open(struct store *s, const char *dir, struct err *e);

int store__meta_get(struct store *s, MDB_txn *txn, const char *name, uint64_t *v, struct err *e);
int store__meta_put(struct store *s, MDB_txn *txn, const char *name, uint64_t v, struct err *e);

/* Decodes a data record; ERR_IO naming the key if the bytes are damaged. */
int store__rec_decode(const MDB_val *k, const MDB_val *v, struct store__rec *r, struct err *e);
/* Copies key + record into an owned kv (on failure kv is left empty). */
int store__kv_copy(const MDB_val *k, const struct store__rec *r, struct store_kv *kv,
                   struct err *e);

int store__hist_decode(const MDB_val *k, const MDB_val *v, struct store__hist *h, struct err *e);
/* Writes one history entry; h->key must be key_len bytes, h->rev/seq form the key. */
int store__hist_put(struct store *s, MDB_txn *txn, const struct store__hist *h, uint32_t seq,
                    struct err *e);

/* Deletes old history inside an apply txn (bounded by budget entries) and
 * advances *compact_rev. rev is the revision after this apply. */
int store__compact(struct store *s, MDB_txn *txn, uint64_t rev, size_t budget,
                   uint64_t *compact_rev, struct err *e);

uint64_t store__now_ms(void);

/* Delivers evs (one apply, in order) to every watch that wants them. */
void store__watch_dispatch(struct store *s, const struct store_event *evs, size_t n);
/* Delivers STORE_EVENT_RESET (rev: the restored revision) to every watch. */
void store__watch_reset(struct store *s, uint64_t rev);

/* True if data[0..len) is exactly one msgpack object whose container sizes
 * are all bounded by the bytes left. msgpack-c allocates a container's
 * elements from its declared count before reading them, so a 5-byte array32
 * header would ask for 100 GB; this pre-pass keeps hostile input from doing
 * that. It only walks headers; msgpack-c still does the decoding. */
bool store__mp_is_bounded(const void *data, size_t len);
/* Unpacks exactly one bounded object from data (no trailing bytes) into u,
 * which the caller destroys with msgpack_unpacked_destroy even on error.
 * ERR_INVALID "what: ..." on bad input. */
int store__mp_unpack(const void *data, size_t len, msgpack_unpacked *u, const char *what,
                     struct err *e);
bool store__mp_array(const msgpack_object *o, uint32_t n);
bool store__mp_uint(const msgpack_object *o, uint64_t *v);

#endif
