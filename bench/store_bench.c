/* store_bench: the store/ module alone, in one process, next to raw LMDB
 * doing the same work (its peer: what the store costs above the engine).
 *
 * Workload, for both sides: N keys /registry/configmaps/default/bNNNNNNN with
 * a VALUE-byte value, one key per write transaction (as the Raft FSM applies
 * one entry per txn), then random point reads, then range reads of 100 keys
 * from a random start (a paged LIST). skiff's store also writes the history
 * record and the applied index in each txn; raw LMDB writes only the key.
 *
 * Sync: --sync 0 opens both with MDB_NOSYNC (what skiff runs with: raft's
 * log is the durable record); --sync 1 uses LMDB's default (fsync per commit).
 *
 * Prints one line per measurement:
 *   RESULT side=store|lmdb op=put|get|range100 sync=0|1 n=N secs=F ops_s=F */
#include "store/store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_FMT     "/registry/configmaps/default/b%08ld"
#define PREFIX      "/registry/configmaps/default/"
#define RANGE_LIMIT 100

static long n_keys = 20000, n_reads = 100000, n_ranges = 5000;
static int value_bytes = 1024, sync_on;
static char *value;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *side, const char *op, long n, double secs)
{
    printf("RESULT side=%s op=%s sync=%d n=%ld secs=%.3f ops_s=%.0f\n", side, op, sync_on, n, secs,
           secs > 0 ? (double)n / secs : 0);
    fflush(stdout);
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, msg);
    exit(1);
}

/* xorshift: deterministic, the same key sequence for both sides */
static unsigned long long rng = 88172645463325252ULL;
static long rnd(long n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (long)(rng % (unsigned long long)n);
}

static void bench_store(const char *dir)
{
    struct store_opts so = {.map_size_bytes = (size_t)4 << 30, .no_sync = !sync_on};
    struct store *s;
    struct err e = {0};
    char key[128];
    double t;

    if (store_open(dir, &so, &s, &e) != 0)
        die("store_open", e.msg);

    t = now_s();
    for (long i = 0; i < n_keys; i++) {
        snprintf(key, sizeof key, KEY_FMT, i);
        struct store_cmp cmp = {.kind = STORE_CMP_ABSENT, .key = key};
        struct store_op op = {
            .kind = STORE_OP_PUT, .key = key, .value = value, .value_len = (size_t)value_bytes};
        struct store_txn txn = {.cmps = &cmp, .n_cmps = 1, .ops = &op, .n_ops = 1};
        struct store_txn_result r;
        if (store_txn_apply(s, (uint64_t)i + 1, &txn, &r, &e) != 0)
            die("store_txn_apply", e.msg);
        if (r.failed_cmp != -1)
            die("store_txn_apply", "compare failed on a fresh key");
    }
    report("store", "put", n_keys, now_s() - t);

    rng = 88172645463325252ULL;
    t = now_s();
    for (long i = 0; i < n_reads; i++) {
        struct store_kv kv;
        snprintf(key, sizeof key, KEY_FMT, rnd(n_keys));
        if (store_get(s, key, &kv, &e) != 0)
            die("store_get", e.msg);
        store_kv_close(&kv);
    }
    report("store", "get", n_reads, now_s() - t);

    t = now_s();
    for (long i = 0; i < n_ranges; i++) {
        struct store_list l;
        snprintf(key, sizeof key, KEY_FMT, rnd(n_keys - RANGE_LIMIT));
        if (store_range(s, PREFIX, key, RANGE_LIMIT, &l, &e) != 0)
            die("store_range", e.msg);
        if (l.n != RANGE_LIMIT)
            die("store_range", "short page");
        store_list_close(&l);
    }
    report("store", "range100", n_ranges, now_s() - t);
    store_close(s);
}

static void check(int rc, const char *what)
{
    if (rc != 0)
        die(what, mdb_strerror(rc));
}

static void bench_lmdb(const char *dir)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    char key[128];
    double t;

    check(mdb_env_create(&env), "mdb_env_create");
    check(mdb_env_set_maxdbs(env, 1), "mdb_env_set_maxdbs");
    check(mdb_env_set_mapsize(env, (size_t)4 << 30), "mdb_env_set_mapsize");
    check(mdb_env_open(env, dir, MDB_NOTLS | (sync_on ? 0 : MDB_NOSYNC), 0600), "mdb_env_open");
    check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, "data", MDB_CREATE, &dbi), "mdb_dbi_open");
    check(mdb_txn_commit(txn), "mdb_txn_commit");

    t = now_s();
    for (long i = 0; i < n_keys; i++) {
        int kl = snprintf(key, sizeof key, KEY_FMT, i);
        MDB_val k = {(size_t)kl, key}, v = {(size_t)value_bytes, value};
        check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        check(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE), "mdb_put");
        check(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    report("lmdb", "put", n_keys, now_s() - t);

    rng = 88172645463325252ULL;
    t = now_s();
    for (long i = 0; i < n_reads; i++) {
        int kl = snprintf(key, sizeof key, KEY_FMT, rnd(n_keys));
        MDB_val k = {(size_t)kl, key}, v;
        check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
        check(mdb_get(txn, dbi, &k, &v), "mdb_get");
        void *copy = malloc(v.mv_size); /* the store hands out owned copies too */
        memcpy(copy, v.mv_data, v.mv_size);
        free(copy);
        mdb_txn_abort(txn);
    }
    report("lmdb", "get", n_reads, now_s() - t);

    t = now_s();
    for (long i = 0; i < n_ranges; i++) {
        int kl = snprintf(key, sizeof key, KEY_FMT, rnd(n_keys - RANGE_LIMIT));
        MDB_val k = {(size_t)kl, key}, v;
        MDB_cursor *cur;
        check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
        check(mdb_cursor_open(txn, dbi, &cur), "mdb_cursor_open");
        int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == (size_t)kl && memcmp(k.mv_data, key, (size_t)kl) == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* strictly after, as store_range */
        int got = 0;
        while (rc == 0 && got < RANGE_LIMIT) {
            void *copy = malloc(k.mv_size + v.mv_size);
            memcpy(copy, k.mv_data, k.mv_size);
            memcpy((char *)copy + k.mv_size, v.mv_data, v.mv_size);
            free(copy);
            got++;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (got != RANGE_LIMIT)
            die("lmdb range", "short page");
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
    }
    report("lmdb", "range100", n_ranges, now_s() - t);
    mdb_env_close(env);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--keys") == 0)
            n_keys = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--reads") == 0)
            n_reads = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--ranges") == 0)
            n_ranges = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--value-bytes") == 0)
            value_bytes = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sync") == 0)
            sync_on = atoi(argv[i + 1]) != 0;
        else
            dir = NULL, i = argc;
    }
    if (dir == NULL || n_keys <= RANGE_LIMIT || n_reads < 1 || n_ranges < 1 || value_bytes < 1) {
        fprintf(stderr, "usage: store_bench --dir DIR [--keys N] [--reads N] [--ranges N] "
                        "[--value-bytes N] [--sync 0|1]\n");
        return 2;
    }
    value = malloc((size_t)value_bytes);
    if (value == NULL)
        die("malloc", strerror(errno));
    memset(value, 'v', (size_t)value_bytes);

    char sdir[4096], ldir[4096];
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    snprintf(ldir, sizeof ldir, "%s/lmdb", dir);
    if (mkdir(sdir, 0700) != 0 || mkdir(ldir, 0700) != 0)
        die("mkdir", strerror(errno));
    bench_store(sdir);
    bench_lmdb(ldir);
    free(value);
    return 0;
}
