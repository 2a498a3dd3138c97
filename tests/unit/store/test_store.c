/* Puts, gets, revisions, compares, deletes, replay, persistence, full disk. */
#include "tests/unit/store/fixture.h"

#define K_A "/registry/pods/default/a"
#define K_B "/registry/pods/default/b"

static void test_open_empty_store_has_zero_revisions(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_revision(f->s), 0);
    assert_int_equal(store_applied_index(f->s), 0);
    assert_int_equal(store_compact_revision(f->s), 0);
    fx_assert_absent(f, K_A);
}

/* Resident kB of this process's mapping of DIR/data.mdb (from smaps: a
 * mapping's header line, then its fields). */
static long map_rss_kb(const char *dir)
{
    char path[600], line[1024];
    unsigned long lo, hi;
    long kb = 0, v;
    bool in = false;
    FILE *f = fopen("/proc/self/smaps", "r");
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            in = strstr(line, path) != NULL;
        else if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
            kb += v;
    }
    fclose(f);
    return kb;
}

static void test_trim_drops_mapped_pages_and_keeps_data(void **state)
{
    struct fx *f = *state;
    char key[64], val[2048];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "/registry/t/%04d", i);
        fx_put(f, key, val);
    }
    fx_assert_kv(f, "/registry/t/0042", val, 43, 43, 1);
    assert_true(map_rss_kb(f->dir) > 256);
    store_trim(f->s);
    assert_true(map_rss_kb(f->dir) < 64);
    fx_assert_kv(f, "/registry/t/0042", val, 43, 43, 1); /* faulted back in */
    fx_put(f, "/registry/t/after", "x");
    fx_assert_kv(f, "/registry/t/after", "x", 501, 501, 1);
}

static void test_put_creates_key_with_version_1(void **state)
{
    struct fx *f = *state;
    assert_int_equal(fx_put(f, K_A, "v1"), 1);
    assert_int_equal(store_revision(f->s), 1);
    assert_int_equal(store_applied_index(f->s), 1);
    fx_assert_kv(f, K_A, "v1", 1, 1, 1);
}

static void test_second_put_bumps_mod_rev_and_version_keeps_create_rev(void **state)
{
    struct fx *f = *state;
    fx_put(f, K_A, "v1");
    fx_put(f, K_B, "other");
    assert_int_equal(fx_put(f, K_A, "v2"), 3);
    fx_assert_kv(f, K_A, "v2", 1, 3, 2);
    fx_assert_kv(f, K_B, "other", 2, 2, 1);
}

static void test_put_of_empty_value_round_trips(void **state)
{
    struct fx *f = *state;
    fx_put(f, K_A, "");
    fx_assert_kv(f, K_A, "", 1, 1, 1);
}

static void test_get_absent_key_is_notfound_naming_key(void **state)
{
    struct fx *f = *state;
    struct store_kv kv;
    assert_int_equal(store_get(f->s, K_A, &kv, &f->e), ERR_NOTFOUND);
    assert_non_null(strstr(f->e.msg, K_A));
    assert_int_equal(store_get(f->s, "", &kv, &f->e), ERR_INVALID);
}

/* Applies one compare guarding a put of K_B. */
static int guarded_put(struct fx *f, int kind, uint64_t mod_rev, struct store_txn_result *r)
{
    struct store_cmp c = {kind, K_A, mod_rev};
    struct store_op op = {STORE_OP_PUT, K_B, "x", 1};
    struct store_txn t = {&c, 1, &op, 1};
    return fx_apply(f, &t, r);
}

static void test_txn_compare_absent_passes_when_key_missing(void **state)
{
    struct fx *f = *state;
    struct store_txn_result r;
    assert_int_equal(guarded_put(f, STORE_CMP_ABSENT, 0, &r), 0);
    assert_int_equal(r.failed_cmp, -1);
    assert_int_equal(r.rev, 1);
    fx_assert_kv(f, K_B, "x", 1, 1, 1);
}

static void test_txn_compare_absent_fails_when_key_exists(void **state)
{
    struct fx *f = *state;
    struct store_txn_result r;
    fx_put(f, K_A, "v");
    assert_int_equal(guarded_put(f, STORE_CMP_ABSENT, 0, &r), 0);
    assert_int_equal(r.failed_cmp, 0);
    assert_int_equal(r.failed_mod_rev, 1);
    assert_int_equal(r.rev, 1);
    assert_int_equal(store_revision(f->s), 1);
    /* nothing written, but the index is recorded so replay skips it */
    fx_assert_absent(f, K_B);
    assert_int_equal(store_applied_index(f->s), 2);
}

static void test_txn_compare_exists_fails_when_key_missing(void **state)
{
    struct fx *f = *state;
    struct store_txn_result r;
    assert_int_equal(guarded_put(f, STORE_CMP_EXISTS, 0, &r), 0);
    assert_int_equal(r.failed_cmp, 0);
    assert_int_equal(r.failed_mod_rev, 0);
    fx_assert_absent(f, K_B);
    fx_put(f, K_A, "v");
    assert_int_equal(guarded_put(f, STORE_CMP_EXISTS, 0, &r), 0);
    assert_int_equal(r.failed_cmp, -1);
    fx_assert_kv(f, K_B, "x", 2, 2, 1);
}

static void test_txn_compare_mod_rev_passes_when_unchanged(void **state)
{
    struct fx *f = *state;
    struct store_txn_result r;
    fx_put(f, K_A, "v");
    assert_int_equal(guarded_put(f, STORE_CMP_MOD_REV, 1, &r), 0);
    assert_int_equal(r.failed_cmp, -1);
    assert_int_equal(r.rev, 2);
}

static void test_txn_compare_fails_when_mod_rev_changed(void **state)
{
    struct fx *f = *state;
    struct store_txn_result r;
    fx_put(f, K_A, "v");
    fx_put(f, K_A, "w");
    assert_int_equal(guarded_put(f, STORE_CMP_MOD_REV, 1, &r), 0);
    assert_int_equal(r.failed_cmp, 0);
    assert_int_equal(r.failed_mod_rev, 2);
    assert_int_equal(r.rev, 2);
    fx_assert_absent(f, K_B);
}

static void test_txn_reports_index_of_first_failed_compare(void **state)
{
    struct fx *f = *state;
    struct store_cmp c[3] = {
        {STORE_CMP_ABSENT, K_B, 0}, {STORE_CMP_MOD_REV, K_A, 7}, {STORE_CMP_ABSENT, K_A, 0}};
    struct store_op op = {STORE_OP_DELETE, K_A, NULL, 0};
    struct store_txn t = {c, 3, &op, 1};
    struct store_txn_result r;
    fx_put(f, K_A, "v");
    assert_int_equal(fx_apply(f, &t, &r), 0);
    assert_int_equal(r.failed_cmp, 1);
    assert_int_equal(r.failed_mod_rev, 1);
    fx_assert_kv(f, K_A, "v", 1, 1, 1);
}

static void test_txn_with_several_ops_is_one_revision(void **state)
{
    struct fx *f = *state;
    struct store_op ops[3] = {
        {STORE_OP_PUT, K_A, "a", 1}, {STORE_OP_PUT, K_B, "b", 1}, {STORE_OP_PUT, K_A, "a2", 2}};
    struct store_txn t = {NULL, 0, ops, 3};
    struct store_txn_result r;
    assert_int_equal(fx_apply(f, &t, &r), 0);
    assert_int_equal(r.rev, 1);
    /* ops apply in order: the second put of K_A sees the first */
    fx_assert_kv(f, K_A, "a2", 1, 1, 2);
    fx_assert_kv(f, K_B, "b", 1, 1, 1);
}

static void test_delete_removes_key_and_bumps_revision(void **state)
{
    struct fx *f = *state;
    fx_put(f, K_A, "v");
    assert_int_equal(fx_del(f, K_A), 2);
    fx_assert_absent(f, K_A);
    /* a re-created key starts over */
    fx_put(f, K_A, "again");
    fx_assert_kv(f, K_A, "again", 3, 3, 1);
}

static void test_delete_of_absent_key_changes_nothing(void **state)
{
    struct fx *f = *state;
    fx_put(f, K_A, "v");
    assert_int_equal(fx_del(f, K_B), 1);
    assert_int_equal(store_revision(f->s), 1);
    assert_int_equal(store_applied_index(f->s), 2);
}

static void test_replay_of_applied_index_is_noop(void **state)
{
    struct fx *f = *state;
    struct store_op op = {STORE_OP_PUT, K_A, "replayed", 8};
    struct store_txn t = {NULL, 0, &op, 1};
    struct store_txn_result r;
    fx_put(f, K_A, "v1");
    fx_put(f, K_A, "v2");
    assert_int_equal(store_txn_apply(f->s, 1, &t, &r, &f->e), 0);
    assert_int_equal(store_txn_apply(f->s, 2, &t, &r, &f->e), 0);
    assert_int_equal(r.rev, 2);
    assert_int_equal(r.failed_cmp, -1);
    fx_assert_kv(f, K_A, "v2", 1, 2, 2);
    assert_int_equal(store_applied_index(f->s), 2);
}

static void test_applied_index_persists_across_reopen(void **state)
{
    struct fx *f = *state;
    struct store_opts o = {.no_sync = true};
    struct store_cmp c = {STORE_CMP_EXISTS, K_B, 0};
    struct store_op op = {STORE_OP_PUT, K_A, "x", 1};
    struct store_txn failing = {&c, 1, &op, 1};
    fx_put(f, K_A, "v");
    assert_int_equal(fx_apply(f, &failing, NULL), 0);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->dir, &o, &f->s, &f->e), 0);
    assert_int_equal(store_applied_index(f->s), 2);
    assert_int_equal(store_revision(f->s), 1);
    fx_assert_kv(f, K_A, "v", 1, 1, 1);
    assert_int_equal(fx_put(f, K_B, "b"), 2);
}

static void test_txn_check_names_the_bad_field(void **state)
{
    struct fx *f = *state;
    char long_key[STORE_KEY_MAX + 2];
    struct store_op ops[2] = {{STORE_OP_PUT, K_A, "a", 1}, {STORE_OP_PUT, long_key, "b", 1}};
    struct store_cmp c = {42, K_A, 0};
    struct store_txn t = {NULL, 0, ops, 2};
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(store_txn_check(&t, &f->e), ERR_INVALID);
    assert_string_equal(f->e.msg, "ops[1].key: too long (max 511 bytes)");
    ops[1].key = "";
    assert_int_equal(store_txn_check(&t, &f->e), ERR_INVALID);
    assert_string_equal(f->e.msg, "ops[1].key: must not be empty");
    ops[1].key = NULL;
    assert_int_equal(store_txn_check(&t, &f->e), ERR_INVALID);
    assert_string_equal(f->e.msg, "ops[1].key: required");
    ops[1].key = K_B;
    ops[1].kind = 9;
    assert_int_equal(store_txn_check(&t, &f->e), ERR_INVALID);
    assert_string_equal(f->e.msg, "ops[1].kind: unknown (9)");
    ops[1].kind = STORE_OP_PUT;
    t.cmps = &c;
    t.n_cmps = 1;
    assert_int_equal(store_txn_check(&t, &f->e), ERR_INVALID);
    assert_string_equal(f->e.msg, "cmps[0].kind: unknown (42)");
    c.kind = STORE_CMP_ABSENT;
    assert_int_equal(store_txn_check(&t, &f->e), 0);
}

static void test_apply_of_invalid_txn_writes_nothing(void **state)
{
    struct fx *f = *state;
    struct store_op ops[2] = {{STORE_OP_PUT, K_A, "a", 1}, {STORE_OP_PUT, "", "b", 1}};
    struct store_txn t = {NULL, 0, ops, 2};
    struct store_txn_result r;
    assert_int_equal(store_txn_apply(f->s, 1, &t, &r, &f->e), ERR_INVALID);
    fx_assert_absent(f, K_A);
    assert_int_equal(store_revision(f->s), 0);
    assert_int_equal(store_applied_index(f->s), 0);
}

static void test_open_of_missing_dir_is_io_error(void **state)
{
    struct fx *f = *state;
    struct store *s = NULL;
    assert_int_equal(store_open("/nonexistent/skiff/store", NULL, &s, &f->e), ERR_IO);
    assert_non_null(strstr(f->e.msg, "/nonexistent/skiff/store"));
    assert_null(s);
    store_close(NULL);
}

static int setup_tiny(void **state)
{
    struct store_opts o = {.map_size_bytes = 256 * 1024, .no_sync = true};
    return fx_setup_opts(state, &o);
}

static void test_map_full_returns_io_and_leaves_store_intact(void **state)
{
    struct fx *f = *state;
    size_t big_len = 16 * 1024;
    char *big = malloc(big_len);
    struct store_op ops[2] = {{STORE_OP_PUT, K_B, "small", 5}, {STORE_OP_PUT, NULL, big, big_len}};
    struct store_txn t = {NULL, 0, ops, 2};
    struct store_txn_result r;
    char key[64];
    int rv = 0;
    uint64_t i;

    assert_non_null(big);
    memset(big, 'x', big_len);
    fx_put(f, K_A, "keep");
    for (i = 0; i < 100 && rv == 0; i++) {
        snprintf(key, sizeof key, "/registry/blobs/%03llu", (unsigned long long)i);
        ops[1].key = key;
        rv = fx_apply(f, &t, &r);
    }
    assert_int_equal(rv, ERR_IO);
    assert_non_null(strstr(f->e.msg, "map full"));
    /* the failing txn wrote nothing: not its key, not its revision or index */
    fx_assert_absent(f, key);
    assert_int_equal(store_revision(f->s), i);
    assert_int_equal(store_applied_index(f->s), i);
    fx_assert_kv(f, K_A, "keep", 1, 1, 1);
    fx_assert_kv(f, K_B, "small", 2, i, i - 1);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_empty_store_has_zero_revisions, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_put_creates_key_with_version_1, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_trim_drops_mapped_pages_and_keeps_data, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_second_put_bumps_mod_rev_and_version_keeps_create_rev,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_put_of_empty_value_round_trips, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_get_absent_key_is_notfound_naming_key, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_compare_absent_passes_when_key_missing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_compare_absent_fails_when_key_exists, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_compare_exists_fails_when_key_missing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_compare_mod_rev_passes_when_unchanged, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_compare_fails_when_mod_rev_changed, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_reports_index_of_first_failed_compare, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_with_several_ops_is_one_revision, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_key_and_bumps_revision, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_of_absent_key_changes_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_of_applied_index_is_noop, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_applied_index_persists_across_reopen, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_txn_check_names_the_bad_field, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_apply_of_invalid_txn_writes_nothing, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_of_missing_dir_is_io_error, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_map_full_returns_io_and_leaves_store_intact,
                                        setup_tiny, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
