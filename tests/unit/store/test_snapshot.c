/* Snapshot and restore. */
#include "tests/unit/store/fixture.h"

#define PODS "/registry/pods/default/"

/* A second store in its own temp dir. */
struct other {
    char dir[64];
    struct store *s;
};

static void other_open(struct other *o)
{
    struct store_opts opts = {.no_sync = true};
    struct err e;
    fx_mkdtemp(o->dir, sizeof o->dir);
    assert_int_equal(store_open(o->dir, &opts, &o->s, &e), 0);
}

static void other_close(struct other *o)
{
    store_close(o->s);
    fx_rmtree(o->dir);
}

/* Revisions 1..5, with an update, a delete and a failed compare. */
static void populate(struct fx *f)
{
    struct store_cmp c = {STORE_CMP_ABSENT, PODS "a", 0};
    struct store_op op = {STORE_OP_PUT, PODS "a", "never", 5};
    struct store_txn t = {&c, 1, &op, 1};
    fx_put(f, PODS "a", "1");
    fx_put(f, PODS "b", "2");
    fx_put(f, PODS "a", "3");
    fx_put(f, PODS "gone", "x");
    fx_del(f, PODS "gone");
    assert_int_equal(fx_apply(f, &t, NULL), 0);
}

static void assert_same_content(struct store *a, struct store *b)
{
    struct store_list la;
    struct store_list lb;
    struct err e;
    assert_int_equal(store_revision(a), store_revision(b));
    assert_int_equal(store_applied_index(a), store_applied_index(b));
    assert_int_equal(store_range(a, "", NULL, 0, &la, &e), 0);
    assert_int_equal(store_range(b, "", NULL, 0, &lb, &e), 0);
    assert_int_equal(la.n, lb.n);
    for (size_t i = 0; i < la.n; i++) {
        assert_string_equal(la.kvs[i].key, lb.kvs[i].key);
        assert_int_equal(la.kvs[i].value_len, lb.kvs[i].value_len);
        assert_memory_equal(la.kvs[i].value, lb.kvs[i].value, la.kvs[i].value_len);
        assert_int_equal(la.kvs[i].create_rev, lb.kvs[i].create_rev);
        assert_int_equal(la.kvs[i].mod_rev, lb.kvs[i].mod_rev);
        assert_int_equal(la.kvs[i].version, lb.kvs[i].version);
    }
    store_list_close(&la);
    store_list_close(&lb);
}

static void test_snapshot_restore_into_fresh_store_equals_original(void **state)
{
    struct fx *f = *state;
    struct other o;
    void *snap;
    size_t len;
    populate(f);
    assert_int_equal(store_snapshot(f->s, &snap, &len, &f->e), 0);
    other_open(&o);
    assert_int_equal(store_restore(o.s, snap, len, &f->e), 0);
    assert_same_content(f->s, o.s);
    assert_int_equal(store_revision(o.s), 5);
    assert_int_equal(store_applied_index(o.s), 6);
    assert_int_equal(store_compact_revision(o.s), 5);
    other_close(&o);
    free(snap);
}

static void test_snapshot_of_empty_store_restores(void **state)
{
    struct fx *f = *state;
    struct other o;
    void *snap;
    size_t len;
    assert_int_equal(store_snapshot(f->s, &snap, &len, &f->e), 0);
    other_open(&o);
    fx_put(f, PODS "x", "y"); /* f now differs; restore the empty one into o */
    assert_int_equal(store_restore(o.s, snap, len, &f->e), 0);
    assert_int_equal(store_revision(o.s), 0);
    other_close(&o);
    free(snap);
}

static void test_restore_replaces_content_and_survives_reopen(void **state)
{
    struct fx *f = *state;
    struct store_opts opts = {.no_sync = true};
    struct other o;
    void *snap;
    size_t len;
    populate(f);
    assert_int_equal(store_snapshot(f->s, &snap, &len, &f->e), 0);
    other_open(&o);
    {
        struct store_op op = {STORE_OP_PUT, "/registry/stale/x", "old", 3};
        struct store_txn t = {NULL, 0, &op, 1};
        struct store_txn_result r;
        for (uint64_t i = 1; i <= 9; i++)
            assert_int_equal(store_txn_apply(o.s, i, &t, &r, &f->e), 0);
    }
    assert_int_equal(store_restore(o.s, snap, len, &f->e), 0);
    store_close(o.s);
    assert_int_equal(store_open(o.dir, &opts, &o.s, &f->e), 0);
    assert_same_content(f->s, o.s);
    assert_int_equal(store_compact_revision(o.s), 5);
    other_close(&o);
    free(snap);
}

static void never_called(struct store_watch *w, const struct store_event *ev)
{
    (void)w;
    (void)ev;
    fail_msg("no event expected");
}

static void test_restore_clears_history_and_compacts_older_watches(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    void *snap;
    size_t len;
    populate(f);
    assert_int_equal(store_snapshot(f->s, &snap, &len, &f->e), 0);
    assert_int_equal(store_restore(f->s, snap, len, &f->e), 0);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_watch_start(f->s, &w, "", 4, never_called, &f->e), ERR_COMPACTED);
    /* from the snapshot revision: nothing to replay, start succeeds */
    assert_int_equal(store_watch_start(f->s, &w, "", 5, never_called, &f->e), 0);
    store_watch_stop(&w);
    free(snap);
}

struct resets {
    int resets, others;
    uint64_t rev;
};

static void count_resets(struct store_watch *w, const struct store_event *ev)
{
    struct resets *r = w->data;
    if (ev->type == STORE_EVENT_RESET) {
        r->resets++;
        r->rev = ev->rev;
        assert_string_equal(ev->kv.key, "");
    } else {
        r->others++;
    }
}

/* Live watches (any prefix) learn of the jump with one RESET carrying the
 * restored revision, so they relist; later writes arrive as usual. */
static void test_restore_tells_live_watches(void **state)
{
    struct fx *f = *state;
    struct store_watch w1, w2;
    struct resets r1 = {0, 0, 0}, r2 = {0, 0, 0};
    void *snap;
    size_t len;
    populate(f);
    assert_int_equal(store_snapshot(f->s, &snap, &len, &f->e), 0);
    /* the store goes past the snapshot before the watches start (as a
     * node's store is ahead of raft's last snapshot when raft restores it
     * at start): after the reset they still get every event past the
     * restored revision, which is older than where they started */
    fx_put(f, PODS "ahead", "z");
    fx_put(f, "/other/ahead", "z");
    memset(&w1, 0, sizeof w1);
    memset(&w2, 0, sizeof w2);
    w1.data = &r1;
    w2.data = &r2;
    assert_int_equal(store_watch_start(f->s, &w1, PODS, store_revision(f->s), count_resets, &f->e),
                     0);
    assert_int_equal(
        store_watch_start(f->s, &w2, "/other/", store_revision(f->s), count_resets, &f->e), 0);
    assert_int_equal(store_restore(f->s, snap, len, &f->e), 0);
    assert_int_equal(r1.resets, 1);
    assert_int_equal(r2.resets, 1);
    assert_int_equal(r1.rev, store_revision(f->s));
    fx_put(f, PODS "later", "y");
    assert_int_equal(r1.others, 1);
    assert_int_equal(r2.others, 0);
    fx_put(f, "/other/later", "y");
    assert_int_equal(r2.others, 1);
    store_watch_stop(&w1);
    store_watch_stop(&w2);
    free(snap);
}

static void test_restore_of_garbage_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct other o;
    unsigned char junk[] = {0x95, 0xa3, 'b', 'a', 'd', 0x01, 0x02};
    unsigned char *snap;
    size_t len;
    other_open(&o);
    populate(f);
    assert_int_equal(store_snapshot(f->s, (void **)&snap, &len, &f->e), 0);
    assert_int_equal(store_restore(o.s, junk, sizeof junk, &f->e), ERR_INVALID);
    assert_int_equal(store_restore(o.s, NULL, 0, &f->e), ERR_INVALID);
    /* every truncation of a real snapshot is refused */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(store_restore(f->s, snap, n, &f->e), ERR_INVALID);
    /* out-of-order keys: rename the first key ("a") to sort after "b" */
    for (size_t i = 0; i + 1 < len; i++) {
        if (memcmp(snap + i, PODS "a", sizeof PODS) == 0) {
            snap[i + sizeof PODS - 1] = 'z';
            break;
        }
    }
    assert_int_equal(store_restore(f->s, snap, len, &f->e), ERR_INVALID);
    assert_non_null(strstr(f->e.msg, "out of order"));
    assert_int_equal(store_revision(f->s), 5);
    assert_int_equal(store_applied_index(f->s), 6);
    fx_assert_kv(f, PODS "a", "3", 1, 3, 2);
    fx_assert_kv(f, PODS "b", "2", 2, 2, 1);
    assert_int_equal(store_revision(o.s), 0);
    other_close(&o);
    free(snap);
}

/* Restore builds the new store beside the old one and swaps it in: it
 * must fit even when old + new would not fit in one map (in-place restore
 * needs both, since LMDB does not reuse pages freed in the same txn). */
static void test_restore_fits_when_old_plus_new_exceed_the_map(void **state)
{
    struct fx *f = *state;
    struct store_opts small = {.map_size_bytes = 3u << 20, .no_sync = true};
    struct other o;
    char key[64], val[1024];
    void *snap;
    size_t len;
    memset(val, 'x', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < 1700; i++) { /* ~1.9 MB of data: twice that exceeds 3 MB */
        snprintf(key, sizeof key, PODS "p%04d", i);
        fx_put(f, key, val);
    }
    assert_int_equal(store_snapshot(f->s, &snap, &len, &f->e), 0);
    fx_mkdtemp(o.dir, sizeof o.dir);
    assert_int_equal(store_open(o.dir, &small, &o.s, &f->e), 0);
    assert_int_equal(store_restore(o.s, snap, len, &f->e), 0);
    assert_int_equal(store_restore(o.s, snap, len, &f->e), 0); /* over full content */
    assert_same_content(f->s, o.s);
    other_close(&o);
    free(snap);
}

/* A crash mid-restore leaves DIR.restore behind; opening removes it. */
static void test_open_removes_a_leftover_restore_dir(void **state)
{
    struct fx *f = *state;
    struct other o;
    char side[128], junk[160];
    FILE *fp;
    fx_mkdtemp(o.dir, sizeof o.dir);
    snprintf(side, sizeof side, "%s.restore", o.dir);
    assert_int_equal(mkdir(side, 0700), 0);
    snprintf(junk, sizeof junk, "%s/data.mdb", side);
    fp = fopen(junk, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(store_open(o.dir, NULL, &o.s, &f->e), 0);
    assert_int_equal(access(side, F_OK), -1);
    other_close(&o);
}


static void test_peek_reads_the_header_only(void **state)
{
    struct fx *f = *state;
    void *data;
    size_t len;
    uint64_t rev = 0, applied = 0;
    populate(f);
    assert_int_equal(store_snapshot(f->s, &data, &len, &f->e), 0);
    assert_int_equal(store_snapshot_peek(data, len, &rev, &applied, &f->e), 0);
    assert_int_equal(rev, store_revision(f->s));
    assert_int_equal(applied, store_applied_index(f->s));
    /* the header alone is enough: the entries are not looked at */
    assert_int_equal(store_snapshot_peek(data, 40, &rev, &applied, &f->e), 0);
    assert_int_equal(applied, store_applied_index(f->s));
    assert_int_equal(store_snapshot_peek("\x95garbage", 8, &rev, &applied, &f->e), ERR_INVALID);
    assert_int_equal(store_snapshot_peek("", 0, &rev, &applied, &f->e), ERR_INVALID);
    assert_int_equal(store_snapshot_peek(data, 3, &rev, &applied, &f->e), ERR_INVALID);
    free(data);
}

/* boot_id_path stands in for /proc/sys/kernel/random/boot_id */
static void write_boot(const char *path, const char *id)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(id, fp);
    fclose(fp);
}

static void test_trusted_only_within_one_boot(void **state)
{
    struct fx *f = *state;
    char dir[64], boot[128];
    struct store *s;
    struct store_opts nosync = {.no_sync = true, .boot_id_path = boot};
    struct store_opts sync = {.boot_id_path = boot};
    (void)f;
    fx_mkdtemp(dir, sizeof dir);
    snprintf(boot, sizeof boot, "%s.boot", dir);
    write_boot(boot, "11111111-aaaa\n");
    /* a new store has no past boot: not trusted (nothing to keep anyway) */
    assert_int_equal(store_open(dir, &nosync, &s, &f->e), 0);
    assert_false(store_trusted(s));
    store_close(s);
    /* reopened in the same boot (a process restart, even after SIGKILL) */
    assert_int_equal(store_open(dir, &nosync, &s, &f->e), 0);
    assert_true(store_trusted(s));
    store_close(s);
    /* the machine rebooted: commits since the last writeback may be torn */
    write_boot(boot, "22222222-bbbb\n");
    assert_int_equal(store_open(dir, &nosync, &s, &f->e), 0);
    assert_false(store_trusted(s));
    store_close(s);
    assert_int_equal(store_open(dir, &nosync, &s, &f->e), 0);
    assert_true(store_trusted(s));
    store_close(s);
    /* an unreadable boot id never trusts */
    unlink(boot);
    assert_int_equal(store_open(dir, &nosync, &s, &f->e), 0);
    assert_false(store_trusted(s));
    store_close(s);
    /* synced commits are always whole */
    assert_int_equal(store_open(dir, &sync, &s, &f->e), 0);
    assert_true(store_trusted(s));
    store_close(s);
    fx_rmtree(dir);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_snapshot_restore_into_fresh_store_equals_original),
        T(test_snapshot_of_empty_store_restores),
        T(test_restore_replaces_content_and_survives_reopen),
        T(test_restore_clears_history_and_compacts_older_watches),
        T(test_restore_tells_live_watches),
        T(test_restore_of_garbage_changes_nothing),
        T(test_restore_fits_when_old_plus_new_exceed_the_map),
        T(test_open_removes_a_leftover_restore_dir),
        T(test_peek_reads_the_header_only),
        T(test_trusted_only_within_one_boot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
