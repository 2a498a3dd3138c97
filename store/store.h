/* store: the LMDB object store. Owns keys, revisions, conditional
 * transactions, the watch history (with compaction) and snapshots. Knows
 * nothing of Kubernetes kinds or Raft: values are opaque bytes (skiff puts
 * msgpack-encoded objects there) and the "applied index" is just a number the
 * caller hands to each apply. Every call runs on the loop thread; only the
 * consensus FSM apply calls store_txn_apply / store_restore.
 *
 * Semantics follow etcd v3:
 * - one global revision, +1 per applied transaction that changed something;
 * - per key: create_rev (rev that created it), mod_rev (rev of last change),
 *   version (number of puts since creation, 1 on create);
 * - a transaction is compares then ops, all-or-nothing. A failed compare is a
 *   normal outcome (the result names the compare), not an error: it still
 *   records the applied index so replay skips it. */
#ifndef SKIFF_STORE_STORE_H
#define SKIFF_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define STORE_KEY_MAX         511  /* LMDB's default maximum key size */
#define STORE_RANGE_COUNT_MAX 1000 /* store_range counts remaining keys up to this */

struct store;

struct store_opts {
    size_t map_size_bytes;       /* LMDB map size; 0 = 1 GiB */
    uint64_t history_max_revs;   /* keep at most this many revisions of history; 0 = 20000 */
    uint64_t history_max_age_ms; /* and none older than this; 0 = 300000 (5 min) */
    bool no_sync;                /* MDB_NOSYNC: Raft's log is the durable record (see README) */
    const char *boot_id_path;    /* this boot's id; NULL = /proc/sys/kernel/random/boot_id */
};

/* Opens (creating if needed) the store in directory dir (must exist).
 * opts may be NULL for defaults. On success *out is owned: close with
 * store_close. Errors: ERR_IO (with the LMDB message), ERR_NOMEM. */
int store_open(const char *dir, const struct store_opts *opts, struct store **out, struct err *e);

/* Closes the store; s may be NULL. Every watch must have been stopped. */
void store_close(struct store *s);

/* The current global revision (0 for an empty store). */
uint64_t store_revision(struct store *s);
/* Number of keys (LMDB's entry count of the data table; O(1)). */
uint64_t store_key_count(struct store *s);
/* The last Raft index applied (written in the same LMDB txn as the data). */
uint64_t store_applied_index(struct store *s);
/* Whether the files hold exactly what the last process committed. Always
 * true without no_sync. With no_sync (MDB_NOSYNC), commits reach the disk
 * only when the kernel writes the page cache back, so a power loss or an OS
 * crash can leave a torn database, while a process crash (even SIGKILL)
 * loses nothing: true when the store was last opened during this same boot
 * of the machine (the kernel's boot id, kept in the store's meta). */
bool store_trusted(struct store *s);
/* Oldest revision a watch can start after: a watch with after_rev lower than
 * this gets ERR_COMPACTED. 0 while nothing was compacted. */
uint64_t store_compact_revision(struct store *s);

/* One key with its value. Memory is owned by whoever holds the struct and is
 * freed with store_kv_close (key and value are separate heap blocks). */
struct store_kv {
    char *key;   /* NUL-terminated */
    void *value; /* value_len bytes */
    size_t value_len;
    uint64_t create_rev;
    uint64_t mod_rev;
    uint64_t version;
};
void store_kv_close(struct store_kv *kv);

/* ---- transactions ---- */

enum {
    STORE_CMP_ABSENT = 1, /* key does not exist */
    STORE_CMP_EXISTS,     /* key exists */
    STORE_CMP_MOD_REV,    /* key exists and its mod_rev == mod_rev */
};
struct store_cmp {
    int kind;
    const char *key; /* borrowed */
    uint64_t mod_rev;
};

enum {
    STORE_OP_PUT = 1,
    STORE_OP_DELETE, /* deleting an absent key is a no-op */
};
struct store_op {
    int kind;
    const char *key;   /* borrowed */
    const void *value; /* borrowed; PUT only */
    size_t value_len;
};

struct store_txn {
    const struct store_cmp *cmps;
    size_t n_cmps;
    const struct store_op *ops;
    size_t n_ops;
};

struct store_txn_result {
    uint64_t rev;   /* revision after the txn (unchanged if it failed or changed nothing) */
    int failed_cmp; /* index of the first compare that failed, or -1 */
    uint64_t failed_mod_rev; /* that key's current mod_rev (0 if absent) */
};

/* Validates a txn without applying it: keys non-empty, <= STORE_KEY_MAX, no
 * NUL, kinds known. Proposers call it before proposing; apply calls it too.
 * Returns ERR_INVALID naming the op ("ops[2].key: too long"). */
int store_txn_check(const struct store_txn *t, struct err *e);

/* Applies t as Raft entry raft_index, in one LMDB write txn together with the
 * new applied index. If raft_index <= store_applied_index() nothing happens
 * (replay after restart) and r->rev is the current revision. Emits one event
 * per changed key to every matching watch, after the LMDB commit, in order.
 * Errors: ERR_INVALID (from store_txn_check), ERR_IO (disk full, ...: nothing
 * was written). */
int store_txn_apply(struct store *s, uint64_t raft_index, const struct store_txn *t,
                    struct store_txn_result *r, struct err *e);

/* Encodes t as one msgpack command (the Raft entry payload). On success
 * *data is malloc'ed (free with free()). */
int store_txn_encode(const struct store_txn *t, void **data, size_t *len, struct err *e);

/* A decoded txn: owns its memory (keys and values point into it). */
struct store_txn_owned {
    struct store_txn txn;
    void *mem__;
};
/* Decodes a command made by store_txn_encode. Bad input -> ERR_INVALID, never
 * a crash. On success free with store_txn_owned_close. */
int store_txn_decode(const void *data, size_t len, struct store_txn_owned *out, struct err *e);
void store_txn_owned_close(struct store_txn_owned *t);

/* Space: used = LMDB's high-water mark of pages in use (a conservative
 * figure: freed pages are reused before the map grows), limit = the map
 * size. Proposers refuse new data near the limit (see consensus). */
void store_usage(struct store *s, uint64_t *used_bytes, uint64_t *limit_bytes);

/* Drops this process's mapping of LMDB pages (madvise MADV_DONTNEED on the
 * read-only map): the data stays in the page cache, later reads fault it
 * back in. Lets an idle node's RSS reflect its working set rather than
 * every page it ever touched. Safe at any time on the loop thread. */
void store_trim(struct store *s);

/* ---- reads (current revision) ---- */

/* Reads one key. ERR_NOTFOUND if absent. out is owned by the caller. */
int store_get(struct store *s, const char *key, struct store_kv *out, struct err *e);

struct store_list {
    struct store_kv *kvs; /* n entries, owned */
    size_t n;
    uint64_t rev;       /* store revision the read saw */
    bool more;          /* more keys match after the last one returned */
    uint64_t remaining; /* how many more keys match after the last one, counted
                           up to STORE_RANGE_COUNT_MAX (then a lower bound) */
};
/* Lists keys starting with prefix, in byte order, strictly after start_after
 * (NULL or "" = from the beginning: the continue point is the last key of
 * the previous page). limit 0 = no limit. out is owned: store_list_close. */
int store_range(struct store *s, const char *prefix, const char *start_after, size_t limit,
                struct store_list *out, struct err *e);
void store_list_close(struct store_list *l);

/* Calls fn for every key under prefix, page by page (page keys at a time),
 * all within this call: no apply runs in between, so every key is seen at
 * the same revision, stored in *rev. A non-zero return of fn stops the walk
 * and is returned. kv is borrowed for the call. Used to list a prefix and
 * then watch it from *rev without a gap. */
typedef int (*store_each_fn)(const struct store_kv *kv, void *data);
int store_range_each(struct store *s, const char *prefix, size_t page, store_each_fn fn, void *data,
                     uint64_t *rev, struct err *e);

/* ---- watch ---- */

/* RESET: the store was replaced by a snapshot (store_restore): the watch
 * saw no events for the jump. kv.key is "", rev the new revision. Every
 * live watch gets it, whatever its prefix; the watcher relists what it
 * follows (store_range_each) and keeps watching: later events arrive as
 * usual. */
enum { STORE_EVENT_PUT = 1, STORE_EVENT_DELETE, STORE_EVENT_RESET };
struct store_event {
    int type;
    uint64_t rev;       /* revision of the change */
    struct store_kv kv; /* PUT: the new value. DELETE: the last value before
                           deletion, with mod_rev = rev of the delete.
                           Borrowed: valid only during the callback. */
    bool created;       /* PUT that created the key */
};

struct store_watch;
/* Receives events in revision order (and, within one revision, in op order). */
typedef void (*store_watch_cb)(struct store_watch *w, const struct store_event *ev);

struct store_watch {
    void *data; /* caller's */
    store_watch_cb cb;
    /* private */
    struct store *s__;
    char *prefix__;
    struct store_watch *next__;
    struct store_watch *prev__;
};

/* Subscribes w (caller-owned memory, must stay put until stopped) to every
 * change of a key starting with prefix ("" = all) after revision after_rev.
 * Events after_rev+1 .. current are replayed from the history table
 * synchronously, before this returns (they are an event stream, not a
 * completion, so this is deliberate); later ones arrive from
 * store_txn_apply. Errors: ERR_COMPACTED when after_rev <
 * store_compact_revision() (the events are gone: relist), ERR_IO. */
int store_watch_start(struct store *s, struct store_watch *w, const char *prefix,
                      uint64_t after_rev, store_watch_cb cb, struct err *e);
/* Stops w; safe to call from inside its own callback. No-op if not started. */
void store_watch_stop(struct store_watch *w);

/* ---- snapshots (for Raft) ---- */

/* Serialises every key with its revisions plus the revision and applied
 * index into one buffer (msgpack). *data is malloc'ed: free(). */
/* The revision and applied index a snapshot buffer (store_snapshot_write's
 * format) was taken at, read from its header. ERR_INVALID if it is not one. */
int store_snapshot_peek(const void *data, size_t len, uint64_t *rev, uint64_t *applied,
                        struct err *e);
int store_snapshot(struct store *s, void **data, size_t *len, struct err *e);
/* The same in three steps, so the serialisation can leave the loop thread:
 * begin (loop thread) opens a read txn, a consistent view that later applies
 * do not disturb; write (any thread, once) serialises that view like
 * store_snapshot; end (loop thread) releases it. Every begun snapshot must be
 * ended before store_close. sn is owned by the caller until end. */
struct store_snap;
int store_snapshot_begin(struct store *s, struct store_snap **out, struct err *e);
int store_snapshot_write(struct store_snap *sn, void **data, size_t *len, struct err *e);
void store_snapshot_end(struct store_snap *sn);

/* Replaces the whole content with a snapshot, atomically (one LMDB txn): on
 * error nothing changed. History is cleared and the compact revision becomes
 * the snapshot's revision, so older watches get ERR_COMPACTED. Live watches
 * receive one STORE_EVENT_RESET for the jump (they relist). */
int store_restore(struct store *s, const void *data, size_t len, struct err *e);

#endif
