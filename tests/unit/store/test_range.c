/* Prefix ranges: order, limit, continue points, more/remaining. */
#include "tests/unit/store/fixture.h"

#define PODS "/registry/pods/default/"

/* Five pods in default, two in kube-system, one service. */
static int setup_keys(void **state)
{
    static const char *keys[] = {PODS "c",
                                 PODS "a",
                                 PODS "e",
                                 PODS "b",
                                 PODS "d",
                                 "/registry/pods/kube-system/dns",
                                 "/registry/pods/kube-system/proxy",
                                 "/registry/services/default/web"};
    struct fx *f;
    fx_setup(state);
    f = *state;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        fx_put(f, keys[i], keys[i]);
    return 0;
}

static void assert_keys(const struct store_list *l, const char *const *want, size_t n)
{
    assert_int_equal(l->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(l->kvs[i].key, want[i]);
        assert_memory_equal(l->kvs[i].value, want[i], strlen(want[i]));
    }
}

static void test_range_returns_prefix_matches_in_byte_order(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    const char *want[] = {PODS "a", PODS "b", PODS "c", PODS "d", PODS "e"};
    assert_int_equal(store_range(f->s, PODS, NULL, 0, &l, &f->e), 0);
    assert_keys(&l, want, 5);
    assert_false(l.more);
    assert_int_equal(l.remaining, 0);
    assert_int_equal(l.rev, 8);
    assert_int_equal(l.kvs[0].create_rev, 2);
    store_list_close(&l);
}

static void test_range_with_empty_prefix_lists_every_key(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    assert_int_equal(store_range(f->s, "", "", 0, &l, &f->e), 0);
    assert_int_equal(l.n, 8);
    assert_string_equal(l.kvs[7].key, "/registry/services/default/web");
    store_list_close(&l);
    assert_int_equal(store_range(f->s, NULL, NULL, 0, &l, &f->e), 0);
    assert_int_equal(l.n, 8);
    store_list_close(&l);
}

static void test_range_limit_sets_more_and_remaining(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    const char *want[] = {PODS "a", PODS "b"};
    assert_int_equal(store_range(f->s, PODS, NULL, 2, &l, &f->e), 0);
    assert_keys(&l, want, 2);
    assert_true(l.more);
    assert_int_equal(l.remaining, 3);
    store_list_close(&l);
}

static void test_range_remaining_count_stops_at_cap(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    char key[64];
    for (int i = 0; i < STORE_RANGE_COUNT_MAX + 50; i++) {
        snprintf(key, sizeof key, "/registry/many/%05d", i);
        fx_put(f, key, "v");
    }
    assert_int_equal(store_range(f->s, "/registry/many/", NULL, 10, &l, &f->e), 0);
    assert_int_equal(l.n, 10);
    assert_true(l.more);
    assert_int_equal(l.remaining, STORE_RANGE_COUNT_MAX);
    store_list_close(&l);
}

static void test_range_limit_equal_to_matches_has_no_more(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    assert_int_equal(store_range(f->s, PODS, NULL, 5, &l, &f->e), 0);
    assert_int_equal(l.n, 5);
    assert_false(l.more);
    assert_int_equal(l.remaining, 0);
    store_list_close(&l);
}

static void test_range_continue_pages_through_every_key_once(void **state)
{
    struct fx *f = *state;
    const char *want[] = {PODS "a", PODS "b", PODS "c", PODS "d", PODS "e"};
    char after[STORE_KEY_MAX + 1] = "";
    size_t seen = 0;
    bool more = true;
    while (more) {
        struct store_list l;
        assert_int_equal(store_range(f->s, PODS, after, 2, &l, &f->e), 0);
        assert_true(l.n > 0);
        for (size_t i = 0; i < l.n; i++)
            assert_string_equal(l.kvs[i].key, want[seen++]);
        assert_int_equal(l.remaining, 5 - seen);
        more = l.more;
        snprintf(after, sizeof after, "%s", l.kvs[l.n - 1].key);
        store_list_close(&l);
    }
    assert_int_equal(seen, 5);
}

static void test_range_continues_after_a_deleted_key(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    const char *want[] = {PODS "d", PODS "e"};
    fx_del(f, PODS "c");
    assert_int_equal(store_range(f->s, PODS, PODS "c", 0, &l, &f->e), 0);
    assert_keys(&l, want, 2);
    store_list_close(&l);
}

static void test_range_start_after_outside_prefix_is_clamped(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    /* before the prefix: from its start; after it: nothing */
    assert_int_equal(store_range(f->s, PODS, "/registry/a", 0, &l, &f->e), 0);
    assert_int_equal(l.n, 5);
    store_list_close(&l);
    assert_int_equal(store_range(f->s, PODS, "/registry/z", 0, &l, &f->e), 0);
    assert_int_equal(l.n, 0);
    assert_false(l.more);
    store_list_close(&l);
}

static void test_range_of_unknown_prefix_is_empty(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    assert_int_equal(store_range(f->s, "/registry/nodes/", NULL, 10, &l, &f->e), 0);
    assert_int_equal(l.n, 0);
    assert_null(l.kvs);
    store_list_close(&l);
}

static void test_range_rejects_prefix_longer_than_any_key(void **state)
{
    struct fx *f = *state;
    struct store_list l;
    char long_prefix[STORE_KEY_MAX + 2];
    memset(long_prefix, 'p', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = '\0';
    assert_int_equal(store_range(f->s, long_prefix, NULL, 0, &l, &f->e), ERR_INVALID);
    assert_string_equal(f->e.msg, "prefix: too long (max 511 bytes)");
    assert_int_equal(store_range(f->s, PODS, long_prefix, 0, &l, &f->e), ERR_INVALID);
    assert_int_equal(l.n, 0);
}

struct each_seen {
    const char *want[5];
    size_t n, stop_at;
};

static int each_cb(const struct store_kv *kv, void *data)
{
    struct each_seen *es = data;
    assert_string_equal(kv->key, es->want[es->n]);
    if (++es->n == es->stop_at)
        return -7;
    return 0;
}

static void test_range_each_walks_every_page_at_one_revision(void **state)
{
    struct fx *f = *state;
    struct each_seen es = {{PODS "a", PODS "b", PODS "c", PODS "d", PODS "e"}, 0, 0};
    uint64_t rev = 0;
    /* pages of 2: three store_range calls, one revision */
    assert_int_equal(store_range_each(f->s, PODS, 2, each_cb, &es, &rev, &f->e), 0);
    assert_int_equal(es.n, 5);
    assert_int_equal(rev, store_revision(f->s));
    /* a non-zero return stops the walk and comes back */
    es.n = 0;
    es.stop_at = 3;
    assert_int_equal(store_range_each(f->s, PODS, 2, each_cb, &es, &rev, &f->e), -7);
    assert_int_equal(es.n, 3);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_keys, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_range_returns_prefix_matches_in_byte_order),
        T(test_range_with_empty_prefix_lists_every_key),
        T(test_range_limit_sets_more_and_remaining),
        T(test_range_remaining_count_stops_at_cap),
        T(test_range_limit_equal_to_matches_has_no_more),
        T(test_range_continue_pages_through_every_key_once),
        T(test_range_continues_after_a_deleted_key),
        T(test_range_start_after_outside_prefix_is_clamped),
        T(test_range_of_unknown_prefix_is_empty),
        T(test_range_rejects_prefix_longer_than_any_key),
        T(test_range_each_walks_every_page_at_one_revision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
