/* Watches: history replay, live events, prefixes, stopping from callbacks,
 * compaction. */
#include "tests/unit/store/fixture.h"

#include <time.h>

#include "store/internal.h" /* to count history entries */

#define PODS "/registry/pods/default/"
#define SVCS "/registry/services/default/"

#define MAX_SEEN 64

/* What a watch saw, copied out of the borrowed events. */
struct seen {
    int n;
    int type[MAX_SEEN];
    uint64_t rev[MAX_SEEN];
    uint64_t mod_rev[MAX_SEEN];
    bool created[MAX_SEEN];
    char key[MAX_SEEN][64];
    char value[MAX_SEEN][64];
    /* actions taken from the callback */
    struct store_watch *stop_at_n; /* stop this watch once n == stop_n */
    int stop_n;
    struct store *s;
    struct store_watch *start; /* start this watch (after rev 0) on the first event */
    struct seen *start_seen;
    int apply_rv;
};

static void on_event(struct store_watch *w, const struct store_event *ev)
{
    struct seen *sn = w->data;
    struct err e;
    assert_true(sn->n < MAX_SEEN);
    sn->type[sn->n] = ev->type;
    sn->rev[sn->n] = ev->rev;
    sn->mod_rev[sn->n] = ev->kv.mod_rev;
    sn->created[sn->n] = ev->created;
    snprintf(sn->key[sn->n], sizeof sn->key[0], "%s", ev->kv.key);
    snprintf(sn->value[sn->n], sizeof sn->value[0], "%.*s", (int)ev->kv.value_len,
             (const char *)ev->kv.value);
    sn->n++;
    if (sn->stop_at_n != NULL && sn->n == sn->stop_n)
        store_watch_stop(sn->stop_at_n);
    if (sn->start != NULL && sn->n == 1) {
        sn->start->data = sn->start_seen;
        assert_int_equal(store_watch_start(sn->s, sn->start, "", 0, on_event, &e), 0);
    }
    if (sn->s != NULL) {
        struct store_op op = {STORE_OP_PUT, PODS "nested", "x", 1};
        struct store_txn t = {NULL, 0, &op, 1};
        struct store_txn_result r;
        sn->apply_rv = store_txn_apply(sn->s, 1000, &t, &r, &e);
    }
}

static void start(struct fx *f, struct store_watch *w, struct seen *sn, const char *prefix,
                  uint64_t after)
{
    memset(w, 0, sizeof *w);
    w->data = sn;
    assert_int_equal(store_watch_start(f->s, w, prefix, after, on_event, &f->e), 0);
}

static void test_watch_replays_history_then_receives_live_events(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct seen sn = {0};
    fx_put(f, PODS "a", "1");
    fx_put(f, PODS "b", "2");
    fx_put(f, PODS "a", "3");
    start(f, &w, &sn, "", 1);
    /* replayed synchronously: revisions 2 and 3 */
    assert_int_equal(sn.n, 2);
    assert_int_equal(sn.rev[0], 2);
    assert_string_equal(sn.key[0], PODS "b");
    assert_true(sn.created[0]);
    assert_int_equal(sn.rev[1], 3);
    assert_string_equal(sn.value[1], "3");
    assert_false(sn.created[1]);
    fx_put(f, PODS "c", "4");
    assert_int_equal(sn.n, 3);
    assert_int_equal(sn.rev[2], 4);
    assert_int_equal(sn.mod_rev[2], 4);
    store_watch_stop(&w);
    fx_put(f, PODS "d", "5");
    assert_int_equal(sn.n, 3);
}

static void test_watch_prefix_filters_keys(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct seen sn = {0};
    fx_put(f, SVCS "web", "s");
    fx_put(f, PODS "a", "p");
    start(f, &w, &sn, PODS, 0);
    fx_put(f, SVCS "db", "s");
    fx_put(f, PODS "b", "p");
    assert_int_equal(sn.n, 2);
    assert_string_equal(sn.key[0], PODS "a");
    assert_string_equal(sn.key[1], PODS "b");
    store_watch_stop(&w);
}

static void test_watch_delete_event_carries_last_value(void **state)
{
    struct fx *f = *state;
    struct store_watch live;
    struct store_watch replay;
    struct seen a = {0};
    struct seen b = {0};
    fx_put(f, PODS "a", "last");
    start(f, &live, &a, "", 1);
    fx_del(f, PODS "a");
    start(f, &replay, &b, "", 1);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    for (struct seen *sn = &a; sn != NULL; sn = sn == &a ? &b : NULL) {
        assert_int_equal(sn->type[0], STORE_EVENT_DELETE);
        assert_int_equal(sn->rev[0], 2);
        assert_int_equal(sn->mod_rev[0], 2);
        assert_string_equal(sn->value[0], "last");
    }
    store_watch_stop(&live);
    store_watch_stop(&replay);
}

static void test_watch_events_of_one_txn_arrive_in_op_order(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct seen sn = {0};
    struct store_op ops[3] = {{STORE_OP_PUT, PODS "z", "1", 1},
                              {STORE_OP_PUT, PODS "a", "2", 1},
                              {STORE_OP_DELETE, PODS "z", NULL, 0}};
    struct store_txn t = {NULL, 0, ops, 3};
    start(f, &w, &sn, "", 0);
    assert_int_equal(fx_apply(f, &t, NULL), 0);
    assert_int_equal(sn.n, 3);
    assert_string_equal(sn.key[0], PODS "z");
    assert_string_equal(sn.key[1], PODS "a");
    assert_int_equal(sn.type[2], STORE_EVENT_DELETE);
    assert_int_equal(sn.rev[0], 1);
    assert_int_equal(sn.rev[2], 1);
    store_watch_stop(&w);
}

static void test_watch_stop_inside_own_callback_ends_delivery(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct seen sn = {.stop_at_n = &w, .stop_n = 2};
    fx_put(f, PODS "a", "1");
    fx_put(f, PODS "b", "2");
    fx_put(f, PODS "c", "3");
    /* stopped during replay: start still succeeds, nothing more arrives */
    start(f, &w, &sn, "", 0);
    assert_int_equal(sn.n, 2);
    fx_put(f, PODS "d", "4");
    assert_int_equal(sn.n, 2);
    store_watch_stop(&w); /* no-op now */

    struct seen live = {.stop_at_n = &w, .stop_n = 1};
    struct store_op ops[2] = {{STORE_OP_PUT, PODS "x", "x", 1}, {STORE_OP_PUT, PODS "y", "y", 1}};
    struct store_txn t = {NULL, 0, ops, 2};
    start(f, &w, &live, "", store_revision(f->s));
    assert_int_equal(fx_apply(f, &t, NULL), 0);
    assert_int_equal(live.n, 1);
}

static void test_watch_stop_of_other_watch_inside_callback(void **state)
{
    struct fx *f = *state;
    struct store_watch w1;
    struct store_watch w2;
    struct store_watch w3;
    struct seen s1 = {0};
    struct seen s2 = {0};
    struct seen s3 = {0};
    start(f, &w1, &s1, "", 0);
    start(f, &w2, &s2, "", 0);
    start(f, &w3, &s3, "", 0);
    /* newest first: w3 runs first and stops w2, next in line */
    s3.stop_at_n = &w2;
    s3.stop_n = 1;
    fx_put(f, PODS "a", "1");
    store_watch_stop(&w1);
    fx_put(f, PODS "b", "2");
    assert_int_equal(s3.n, 2);
    assert_int_equal(s2.n, 0);
    assert_int_equal(s1.n, 1);
    store_watch_stop(&w3);
    store_watch_stop(&w2);
}

static void test_watch_started_inside_callback_sees_each_event_once(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct store_watch inner;
    struct seen in = {0};
    struct seen sn = {.s = f->s, .start = &inner, .start_seen = &in};
    struct store_op ops[2] = {{STORE_OP_PUT, PODS "a", "1", 1}, {STORE_OP_PUT, PODS "b", "2", 1}};
    struct store_txn t = {NULL, 0, ops, 2};
    memset(&inner, 0, sizeof inner);
    start(f, &w, &sn, "", 0);
    assert_int_equal(fx_apply(f, &t, NULL), 0);
    /* inner replayed rev 1 (both ops) from history, and got no duplicate */
    assert_int_equal(sn.n, 2);
    assert_int_equal(in.n, 2);
    /* an apply from inside a callback is refused */
    assert_int_equal(sn.apply_rv, ERR_INVALID);
    sn.s = NULL;
    fx_put(f, PODS "c", "3");
    assert_int_equal(in.n, 3);
    assert_int_equal(sn.n, 3);
    store_watch_stop(&inner);
    store_watch_stop(&w);
}

static void test_watch_after_future_revision_skips_until_then(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct seen sn = {0};
    fx_put(f, PODS "a", "1");
    start(f, &w, &sn, "", 3);
    fx_put(f, PODS "a", "2");
    fx_put(f, PODS "a", "3");
    assert_int_equal(sn.n, 0);
    fx_put(f, PODS "a", "4");
    assert_int_equal(sn.n, 1);
    assert_int_equal(sn.rev[0], 4);
    store_watch_stop(&w);
}

static int setup_small_history(void **state)
{
    struct store_opts o = {.history_max_revs = 3, .no_sync = true};
    return fx_setup_opts(state, &o);
}

static void test_compaction_by_revs_gives_compacted(void **state)
{
    struct fx *f = *state;
    struct store_watch w;
    struct seen sn = {0};
    for (int i = 0; i < 10; i++)
        fx_put(f, PODS "a", "v");
    /* revisions 8..10 kept: a watch may start after 7 */
    assert_int_equal(store_compact_revision(f->s), 7);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_watch_start(f->s, &w, "", 6, on_event, &f->e), ERR_COMPACTED);
    assert_non_null(strstr(f->e.msg, "compacted"));
    assert_null(w.s__);
    start(f, &w, &sn, "", 7);
    assert_int_equal(sn.n, 3);
    assert_int_equal(sn.rev[0], 8);
    store_watch_stop(&w);
}

static int setup_short_age(void **state)
{
    struct store_opts o = {.history_max_age_ms = 20, .no_sync = true};
    return fx_setup_opts(state, &o);
}

static void test_compaction_by_age_drops_old_history(void **state)
{
    struct fx *f = *state;
    struct timespec ts = {0, 60 * 1000 * 1000};
    struct store_watch w;
    struct seen sn = {0};
    fx_put(f, PODS "a", "1");
    fx_put(f, PODS "b", "2");
    nanosleep(&ts, NULL);
    fx_put(f, PODS "c", "3");
    assert_int_equal(store_compact_revision(f->s), 2);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_watch_start(f->s, &w, "", 0, on_event, &f->e), ERR_COMPACTED);
    start(f, &w, &sn, "", 2);
    assert_int_equal(sn.n, 1);
    assert_string_equal(sn.key[0], PODS "c");
    store_watch_stop(&w);
}

static void test_compaction_state_persists_across_reopen(void **state)
{
    struct fx *f = *state;
    struct store_opts o = {.history_max_revs = 3, .no_sync = true};
    for (int i = 0; i < 5; i++)
        fx_put(f, PODS "a", "v");
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->dir, &o, &f->s, &f->e), 0);
    assert_int_equal(store_compact_revision(f->s), 2);
}

static size_t history_entries(struct store *s)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, s->hist, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

static void test_compaction_of_a_large_backlog_spreads_over_applies(void **state)
{
    struct fx *f = *state;
    struct store_opts o = {.history_max_revs = 1, .no_sync = true};
    struct store_op *ops = calloc(1500, sizeof *ops);
    char(*keys)[32] = calloc(1500, sizeof *keys);
    struct store_txn t = {NULL, 0, ops, 1500};
    struct store_watch w;
    struct seen sn = {0};
    for (int i = 0; i < 1500; i++) {
        snprintf(keys[i], sizeof keys[i], PODS "p%04d", i);
        ops[i] = (struct store_op){STORE_OP_PUT, keys[i], "v", 1};
    }
    assert_int_equal(fx_apply(f, &t, NULL), 0);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->dir, &o, &f->s, &f->e), 0);
    /* one batch removes part of rev 1: it already counts as compacted */
    fx_put(f, SVCS "a", "1");
    assert_int_equal(store_compact_revision(f->s), 1);
    assert_int_equal(history_entries(f->s), 1500 + 1 - (STORE__COMPACT_BATCH + 2));
    start(f, &w, &sn, "", 1);
    assert_int_equal(sn.n, 1);
    assert_string_equal(sn.key[0], SVCS "a");
    fx_put(f, SVCS "b", "2");
    assert_int_equal(store_compact_revision(f->s), 2);
    assert_int_equal(history_entries(f->s), 1);
    assert_int_equal(sn.n, 2);
    store_watch_stop(&w);
    free(keys);
    free(ops);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_watch_replays_history_then_receives_live_events),
        T(test_watch_prefix_filters_keys),
        T(test_watch_delete_event_carries_last_value),
        T(test_watch_events_of_one_txn_arrive_in_op_order),
        T(test_watch_stop_inside_own_callback_ends_delivery),
        T(test_watch_stop_of_other_watch_inside_callback),
        T(test_watch_started_inside_callback_sees_each_event_once),
        T(test_watch_after_future_revision_skips_until_then),
        T(test_compaction_of_a_large_backlog_spreads_over_applies),
        cmocka_unit_test_setup_teardown(test_compaction_by_revs_gives_compacted,
                                        setup_small_history, fx_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_by_age_drops_old_history, setup_short_age,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_compaction_state_persists_across_reopen,
                                        setup_small_history, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
