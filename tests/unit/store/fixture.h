/* tests/unit/store/fixture.h: a store in a fresh temp dir per test, plus
 * one-line helpers for applies. Header-only (static inline) because the
 * unit-test Makefile rule builds each test_*.c on its own. */
#ifndef SKIFF_TESTS_UNIT_STORE_FIXTURE_H
#define SKIFF_TESTS_UNIT_STORE_FIXTURE_H

/* cmocka.h needs these first */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
// clang-format on

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

struct fx {
    char dir[64];
    struct store *s;
    struct err e;
    uint64_t idx; /* last Raft index handed to apply */
};

static inline int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fx_rmtree(const char *dir)
{
    nftw(dir, fx_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static inline void fx_mkdtemp(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/skiff-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static inline int fx_setup_opts(void **state, const struct store_opts *opts)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fx_mkdtemp(f->dir, sizeof f->dir);
    assert_int_equal(store_open(f->dir, opts, &f->s, &f->e), 0);
    *state = f;
    return 0;
}

static inline int fx_setup(void **state)
{
    struct store_opts o = {.no_sync = true};
    return fx_setup_opts(state, &o);
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    fx_rmtree(f->dir);
    free(f);
    return 0;
}

/* Applies t as the next Raft index. */
static inline int fx_apply(struct fx *f, const struct store_txn *t, struct store_txn_result *r)
{
    struct store_txn_result dummy;
    return store_txn_apply(f->s, ++f->idx, t, r != NULL ? r : &dummy, &f->e);
}

static inline uint64_t fx_put(struct fx *f, const char *key, const char *val)
{
    struct store_op op = {STORE_OP_PUT, key, val, strlen(val)};
    struct store_txn t = {NULL, 0, &op, 1};
    struct store_txn_result r;
    assert_int_equal(fx_apply(f, &t, &r), 0);
    assert_int_equal(r.failed_cmp, -1);
    return r.rev;
}

static inline uint64_t fx_del(struct fx *f, const char *key)
{
    struct store_op op = {STORE_OP_DELETE, key, NULL, 0};
    struct store_txn t = {NULL, 0, &op, 1};
    struct store_txn_result r;
    assert_int_equal(fx_apply(f, &t, &r), 0);
    return r.rev;
}

/* Asserts key holds val with the given revisions. */
static inline void fx_assert_kv(struct fx *f, const char *key, const char *val, uint64_t create_rev,
                                uint64_t mod_rev, uint64_t version)
{
    struct store_kv kv;
    assert_int_equal(store_get(f->s, key, &kv, &f->e), 0);
    assert_string_equal(kv.key, key);
    assert_int_equal(kv.value_len, strlen(val));
    assert_memory_equal(kv.value, val, kv.value_len);
    assert_int_equal(kv.create_rev, create_rev);
    assert_int_equal(kv.mod_rev, mod_rev);
    assert_int_equal(kv.version, version);
    store_kv_close(&kv);
}

static inline void fx_assert_absent(struct fx *f, const char *key)
{
    struct store_kv kv;
    assert_int_equal(store_get(f->s, key, &kv, &f->e), ERR_NOTFOUND);
}

#endif
