/* Fault sweeps over store_txn_apply (STYLE: countdown 0..N): every LMDB put,
 * delete and the commit of an apply fail in turn; each time the apply
 * returns ERR_IO, the store is exactly as before (revision, applied index,
 * keys, history), no watch saw an event, nothing leaks, and the same txn
 * applies cleanly once the fault is gone. Needs the -DSKIFF_FAULTS build. */
#include "tests/unit/store/fixture.h"

#include "lib/fault.h"

#define PODS "/registry/pods/default/"

static int events;

static void on_event(struct store_watch *w, const struct store_event *ev)
{
    (void)w;
    (void)ev;
    events++;
}

/* The txn under test: two puts (one an update) and a delete, so every kind
 * of write site is crossed, with history for each. */
static int apply_mixed(struct fx *f, uint64_t index)
{
    struct store_op ops[3] = {{STORE_OP_PUT, PODS "a", "a2", 2},
                              {STORE_OP_PUT, PODS "new", "n", 1},
                              {STORE_OP_DELETE, PODS "b", NULL, 0}};
    struct store_txn t = {NULL, 0, ops, 3};
    struct store_txn_result r;
    return store_txn_apply(f->s, index, &t, &r, &f->e);
}

static void assert_untouched(struct fx *f, uint64_t rev, uint64_t applied)
{
    struct store_list l;
    assert_int_equal(store_revision(f->s), rev);
    assert_int_equal(store_applied_index(f->s), applied);
    fx_assert_kv(f, PODS "a", "a1", 1, 1, 1);
    fx_assert_kv(f, PODS "b", "b1", 2, 2, 1);
    fx_assert_absent(f, PODS "new");
    assert_int_equal(store_range(f->s, PODS, NULL, 0, &l, &f->e), 0);
    assert_int_equal(l.n, 2);
    store_list_close(&l);
}

static void sweep(void **state, enum fault_site site, int want_failures)
{
    struct fx *f = *state;
    struct store_watch w;
    uint64_t rev, applied;
    int failures = 0;

    fx_put(f, PODS "a", "a1");
    fx_put(f, PODS "b", "b1");
    rev = store_revision(f->s);
    applied = store_applied_index(f->s);
    memset(&w, 0, sizeof w);
    assert_int_equal(store_watch_start(f->s, &w, "", rev, on_event, &f->e), 0);
    events = 0;
    for (int countdown = 0; countdown < 32; countdown++) {
        int rv;
        fault_arm(site, countdown, 0);
        rv = apply_mixed(f, applied + 1);
        fault_reset();
        if (rv == 0) /* the countdown outlived every site of the txn: done */
            break;
        failures++;
        assert_int_equal(rv, ERR_IO);
        assert_non_null(strstr(f->e.msg, "store: apply"));
        assert_untouched(f, rev, applied);
        assert_int_equal(events, 0);
    }
    assert_int_equal(failures, want_failures); /* every site of the txn was reached */
    /* the last iteration applied it for real (no fault left) */
    assert_int_equal(store_revision(f->s), rev + 1);
    fx_assert_kv(f, PODS "a", "a2", 1, rev + 1, 2);
    fx_assert_kv(f, PODS "new", "n", rev + 1, rev + 1, 1);
    fx_assert_absent(f, PODS "b");
    assert_int_equal(events, 3);
    store_watch_stop(&w);
}

static void test_every_failing_put_leaves_the_store_unchanged(void **state)
{
    /* 3 data writes (put, put, delete) + 3 history records */
    sweep(state, FAULT_STORE_PUT, 6);
}

static void test_failing_commit_leaves_the_store_unchanged(void **state)
{
    sweep(state, FAULT_STORE_COMMIT, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_failing_put_leaves_the_store_unchanged, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_failing_commit_leaves_the_store_unchanged, fx_setup,
                                        fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
