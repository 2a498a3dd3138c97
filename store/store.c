/* store.c: open/close, cached meta, and the small helpers every file uses. */
#include "store/store.h"

#include "store/internal.h"

#include "lib/fs.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

void store__put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t store__get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int store__mdb_err(struct store *s, struct err *e, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return err_setf(e, ERR_IO, "%s: disk map full (map_size_bytes=%zu): %s", what,
                        s != NULL ? s->opts.map_size_bytes : 0, mdb_strerror(rc));
    if (rc == ENOMEM)
        return err_setf(e, ERR_NOMEM, "%s: %s", what, mdb_strerror(rc));
    return err_setf(e, ERR_IO, "%s: %s", what, mdb_strerror(rc));
}

int store__txn_begin(struct store *s, bool write, MDB_txn **txn, struct err *e)
{
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
    if (rc != 0)
        return store__mdb_err(s, e, rc, write ? "store: begin write txn" : "store: begin read txn");
    return 0;
}

int store__meta_get(struct store *s, MDB_txn *txn, const char *name, uint64_t *v, struct err *e)
{
    MDB_val k = {strlen(name), (void *)name};
    MDB_val d;
    int rc = mdb_get(txn, s->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0)
        return store__mdb_err(s, e, rc, "read meta");
    if (d.mv_size != 8)
        return err_setf(e, ERR_IO, "meta %s: damaged (%zu bytes)", name, d.mv_size);
    *v = store__get_be64(d.mv_data);
    return 0;
}

int store__meta_put(struct store *s, MDB_txn *txn, const char *name, uint64_t v, struct err *e)
{
    unsigned char buf[8];
    MDB_val k = {strlen(name), (void *)name};
    MDB_val d = {sizeof buf, buf};
    int rc;
    store__put_be64(buf, v);
    rc = mdb_put(txn, s->meta, &k, &d, 0);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "write meta");
    return 0;
}

int store__rec_decode(const MDB_val *k, const MDB_val *v, struct store__rec *r, struct err *e)
{
    const unsigned char *p = v->mv_data;
    if (v->mv_size < STORE__REC_HDR)
        return err_setf(e, ERR_IO, "store: key %.*s: damaged record (%zu bytes)", (int)k->mv_size,
                        (const char *)k->mv_data, v->mv_size);
    r->create_rev = store__get_be64(p);
    r->mod_rev = store__get_be64(p + 8);
    r->version = store__get_be64(p + 16);
    r->value = p + STORE__REC_HDR;
    r->value_len = v->mv_size - STORE__REC_HDR;
    return 0;
}

int store__kv_copy(const MDB_val *k, const struct store__rec *r, struct store_kv *kv, struct err *e)
{
    memset(kv, 0, sizeof *kv);
    kv->key = malloc(k->mv_size + 1);
    /* malloc(0) may return NULL: always allocate at least one byte */
    kv->value = malloc(r->value_len > 0 ? r->value_len : 1);
    if (kv->key == NULL || kv->value == NULL) {
        store_kv_close(kv);
        return err_setf(e, ERR_NOMEM, "store: copy key: out of memory");
    }
    memcpy(kv->key, k->mv_data, k->mv_size);
    kv->key[k->mv_size] = '\0';
    if (r->value_len > 0)
        memcpy(kv->value, r->value, r->value_len);
    kv->value_len = r->value_len;
    kv->create_rev = r->create_rev;
    kv->mod_rev = r->mod_rev;
    kv->version = r->version;
    return 0;
}

void store_kv_close(struct store_kv *kv)
{
    if (kv == NULL)
        return;
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof *kv);
}

uint64_t store__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void resolve_opts(const struct store_opts *in, struct store_opts *out)
{
    memset(out, 0, sizeof *out);
    if (in != NULL)
        *out = *in;
    if (out->map_size_bytes == 0)
        out->map_size_bytes = STORE__DEFAULT_MAP_SIZE;
    if (out->history_max_revs == 0)
        out->history_max_revs = STORE__DEFAULT_HISTORY_REVS;
    if (out->history_max_age_ms == 0)
        out->history_max_age_ms = STORE__DEFAULT_HISTORY_AGEMS;
}

/* FNV-1a of this boot's id (0: unknown), kept in the meta as "boot" */
static uint64_t boot_hash(const char *path)
{
    char buf[128];
    uint64_t h = 14695981039346656037ULL;
    ssize_t n;
    int fd = open(path ? path : "/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0)
        return 0;
    for (ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)buf[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

/* Creates the named databases and loads the cached meta in one write txn. */
static int open_dbs(struct store *s, struct err *e)
{
    MDB_txn *txn;
    int rc;
    uint64_t boot = boot_hash(s->opts.boot_id_path), last_boot = 0;
    int rv = store__txn_begin(s, true, &txn, e);
    if (rv != 0)
        return rv;
    if ((rc = mdb_dbi_open(txn, "data", MDB_CREATE, &s->data)) != 0 ||
        (rc = mdb_dbi_open(txn, "history", MDB_CREATE, &s->hist)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0) {
        rv = store__mdb_err(s, e, rc, "store: open databases");
        goto out_abort;
    }
    if ((rv = store__meta_get(s, txn, "revision", &s->rev, e)) != 0 ||
        (rv = store__meta_get(s, txn, "applied_index", &s->applied, e)) != 0 ||
        (rv = store__meta_get(s, txn, "compact_revision", &s->compact_rev, e)) != 0) {
        err_wrapf(e, "store: open");
        goto out_abort;
    }
    /* the store was last open in this same boot: the page cache held every
     * commit, whatever became of that process */
    if ((rv = store__meta_get(s, txn, "boot", &last_boot, e)) != 0 ||
        (rv = store__meta_put(s, txn, "boot", boot, e)) != 0) {
        err_wrapf(e, "store: open");
        goto out_abort;
    }
    s->trusted = !s->opts.no_sync || (boot != 0 && boot == last_boot);
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "store: open databases: commit");
    return 0;
out_abort:
    mdb_txn_abort(txn);
    return rv;
}

/* Opens the LMDB environment in dir and its databases into s. */
int store__env_open(struct store *s, const char *dir, struct err *e)
{
    unsigned flags = MDB_NOTLS;
    int rc;
    int rv;
    if (s->opts.no_sync)
        flags |= MDB_NOSYNC;
    rc = mdb_env_create(&s->env);
    if (rc != 0)
        return store__mdb_err(s, e, rc, "store: create env");
    if ((rc = mdb_env_set_maxdbs(s->env, 3)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, s->opts.map_size_bytes)) != 0 ||
        (rc = mdb_env_open(s->env, dir, flags, 0600)) != 0) {
        rv = err_setf(e, rc == ENOMEM ? ERR_NOMEM : ERR_IO, "store: open %s: %s", dir,
                      mdb_strerror(rc));
        goto out_env;
    }
    rv = open_dbs(s, e);
    if (rv == 0)
        return 0;
out_env:
    mdb_env_close(s->env);
    s->env = NULL;
    return rv;
}

int store_open(const char *dir, const struct store_opts *opts, struct store **out, struct err *e)
{
    struct store *s;
    char side[4200];
    int rv;

    s = calloc(1, sizeof *s);
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        return err_setf(e, ERR_NOMEM, "store: open %s: out of memory", dir);
    }
    resolve_opts(opts, &s->opts);
    /* A restore that crashed left its side directory: with the swap being
     * one atomic rename, dir is whole either way, so the side one goes. */
    snprintf(side, sizeof side, "%s.restore", dir);
    fs_rmtree(side);
    rv = store__env_open(s, dir, e);
    if (rv != 0) {
        free(s->dir);
        free(s);
        return rv;
    }
    LOG_DEBUG("store", "opened", "dir=%s rev=%llu applied=%llu", dir, (unsigned long long)s->rev,
              (unsigned long long)s->applied);
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    /* A watch left started is a caller bug; detach it so a later
     * store_watch_stop is a no-op instead of a use-after-free. */
    if (s->watches != NULL)
        LOG_WARN("store", "close_with_watches", "err=\"watches still started\"");
    while (s->watches != NULL)
        store_watch_stop(s->watches);
    if (s->env != NULL)
        mdb_env_close(s->env);
    free(s->dir);
    free(s);
}

uint64_t store_revision(struct store *s)
{
    return s->rev;
}

bool store_trusted(struct store *s)
{
    return s->trusted;
}

uint64_t store_applied_index(struct store *s)
{
    return s->applied;
}

uint64_t store_compact_revision(struct store *s)
{
    return s->compact_rev;
}

void store_usage(struct store *s, uint64_t *used_bytes, uint64_t *limit_bytes)
{
    MDB_envinfo info;
    MDB_stat st;
    *used_bytes = 0;
    *limit_bytes = s->opts.map_size_bytes;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
        return;
    *used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    *limit_bytes = info.me_mapsize;
}

/* LMDB does not expose its map address (me_mapaddr is only set with
 * MDB_FIXEDMAP), so the mapping is found in /proc/self/maps by the data
 * file's inode. Without MDB_WRITEMAP the map is read-only and LMDB writes
 * with pwrite(), so dropping mapped pages loses nothing. */
void store_trim(struct store *s)
{
    mdb_filehandle_t fd;
    struct stat st;
    char line[512];
    FILE *f;

    if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi, ino;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &min, &ino) != 5)
            continue;
        if (ino != (unsigned long)st.st_ino || maj != major(st.st_dev) || min != minor(st.st_dev))
            continue;
        if (madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
            LOG_DEBUG("store", "trim_failed", "err=\"%s\"", strerror(errno));
    }
    fclose(f);
}

uint64_t store_key_count(struct store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    uint64_t n = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    if (mdb_stat(txn, s->data, &st) == 0)
        n = st.ms_entries;
    mdb_txn_abort(txn);
    return n;
}
