/* The msgpack txn command: round trip and hostile input. */
#include "tests/unit/store/fixture.h"

#include <msgpack.h>

static const char bin_value[] = {'v', 0, 1, 2, (char)0xff};

static const struct store_cmp cmps[] = {
    {STORE_CMP_ABSENT, "/registry/pods/default/a", 0},
    {STORE_CMP_MOD_REV, "/registry/pods/default/b", 42},
    {STORE_CMP_EXISTS, "/registry/namespaces/default", 0},
};
static const struct store_op ops[] = {
    {STORE_OP_PUT, "/registry/pods/default/a", bin_value, sizeof bin_value},
    {STORE_OP_PUT, "/registry/pods/default/empty", NULL, 0},
    {STORE_OP_DELETE, "/registry/pods/default/b", NULL, 0},
};
static const struct store_txn sample = {cmps, 3, ops, 3};

static void encode_sample(void **data, size_t *len)
{
    struct err e;
    assert_int_equal(store_txn_encode(&sample, data, len, &e), 0);
}

static void test_encode_decode_round_trip(void **state)
{
    struct store_txn_owned d;
    struct err e;
    void *data;
    size_t len;
    (void)state;
    encode_sample(&data, &len);
    assert_int_equal(store_txn_decode(data, len, &d, &e), 0);
    assert_int_equal(d.txn.n_cmps, 3);
    assert_int_equal(d.txn.n_ops, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(d.txn.cmps[i].kind, cmps[i].kind);
        assert_string_equal(d.txn.cmps[i].key, cmps[i].key);
        assert_int_equal(d.txn.cmps[i].mod_rev, cmps[i].mod_rev);
        assert_int_equal(d.txn.ops[i].kind, ops[i].kind);
        assert_string_equal(d.txn.ops[i].key, ops[i].key);
        assert_int_equal(d.txn.ops[i].value_len, ops[i].value_len);
    }
    assert_memory_equal(d.txn.ops[0].value, bin_value, sizeof bin_value);
    assert_int_equal(store_txn_check(&d.txn, &e), 0);
    store_txn_owned_close(&d);
    store_txn_owned_close(NULL);
    free(data);
}

static void test_encode_decode_of_empty_txn(void **state)
{
    struct store_txn t = {NULL, 0, NULL, 0};
    struct store_txn_owned d;
    struct err e;
    void *data;
    size_t len;
    (void)state;
    assert_int_equal(store_txn_encode(&t, &data, &len, &e), 0);
    assert_int_equal(store_txn_decode(data, len, &d, &e), 0);
    assert_int_equal(d.txn.n_cmps + d.txn.n_ops, 0);
    store_txn_owned_close(&d);
    free(data);
}

static void test_encode_rejects_invalid_txn(void **state)
{
    struct store_op bad = {STORE_OP_PUT, "", "x", 1};
    struct store_txn t = {NULL, 0, &bad, 1};
    struct err e;
    void *data = NULL;
    size_t len = 0;
    (void)state;
    assert_int_equal(store_txn_encode(&t, &data, &len, &e), ERR_INVALID);
    assert_string_equal(e.msg, "ops[0].key: must not be empty");
    assert_null(data);
}

static void test_decode_rejects_every_truncation(void **state)
{
    struct store_txn_owned d;
    struct err e;
    void *data;
    size_t len;
    (void)state;
    encode_sample(&data, &len);
    for (size_t n = 0; n < len; n++) {
        /* a heap copy of exactly n bytes, so ASan catches any over-read */
        void *cut = malloc(n > 0 ? n : 1);
        memcpy(cut, data, n);
        assert_int_equal(store_txn_decode(cut, n, &d, &e), ERR_INVALID);
        assert_null(d.mem__);
        free(cut);
    }
    assert_int_equal(store_txn_decode(NULL, 0, &d, &e), ERR_INVALID);
    free(data);
}

static void test_decode_rejects_trailing_bytes(void **state)
{
    struct store_txn_owned d;
    struct err e;
    void *data;
    size_t len;
    (void)state;
    encode_sample(&data, &len);
    data = realloc(data, len + 1);
    ((char *)data)[len] = 0;
    assert_int_equal(store_txn_decode(data, len + 1, &d, &e), ERR_INVALID);
    free(data);
}

static void test_decode_rejects_huge_declared_sizes(void **state)
{
    /* array32 / map32 / str32 / bin32 headers claiming 4 G elements */
    static const unsigned char cases[][8] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},       {0x93, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff},
        {0xdf, 0xff, 0xff, 0xff, 0xff},       {0xdb, 0xff, 0xff, 0xff, 0xff},
        {0x93, 0x01, 0x90, 0xdc, 0xff, 0xff}, {0xc6, 0x7f, 0xff, 0xff, 0xff}};
    struct store_txn_owned d;
    struct err e;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 8;
        while (n > 0 && cases[i][n - 1] == 0)
            n--;
        assert_int_equal(store_txn_decode(cases[i], n, &d, &e), ERR_INVALID);
    }
}

static void test_decode_survives_garbage_and_bit_flips(void **state)
{
    struct store_txn_owned d;
    struct err e;
    unsigned char *data;
    size_t len;
    (void)state;
    srand(7);
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(rand() % 64) + 1;
        unsigned char *g = malloc(n);
        for (size_t j = 0; j < n; j++)
            g[j] = (unsigned char)rand();
        assert_int_equal(store_txn_decode(g, n, &d, &e), ERR_INVALID);
        free(g);
    }
    /* mutations of a valid command may still decode; they must never crash */
    encode_sample((void **)&data, &len);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            int rv;
            data[i] ^= (unsigned char)(1u << bit);
            rv = store_txn_decode(data, len, &d, &e);
            assert_true(rv == 0 || rv == ERR_INVALID);
            if (rv == 0)
                assert_int_equal(store_txn_check(&d.txn, &e), 0);
            store_txn_owned_close(&d);
            data[i] ^= (unsigned char)(1u << bit);
        }
    }
    free(data);
}

/* Packs [1, [[kind, key, mod_rev]], []] with a raw key. */
static void pack_cmd(msgpack_sbuffer *sb, uint64_t kind, const char *key, size_t key_len)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, kind);
    msgpack_pack_str_with_body(&pk, key, key_len);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_array(&pk, 0);
}

static void test_decode_rejects_well_formed_msgpack_of_wrong_shape(void **state)
{
    struct store_txn_owned d;
    struct err e;
    msgpack_sbuffer sb;
    (void)state;
    pack_cmd(&sb, STORE_CMP_ABSENT, "/k\0x", 4);
    assert_int_equal(store_txn_decode(sb.data, sb.size, &d, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "cmps[0].key"));
    msgpack_sbuffer_destroy(&sb);
    pack_cmd(&sb, 77, "/k", 2);
    assert_int_equal(store_txn_decode(sb.data, sb.size, &d, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "cmps[0].kind"));
    msgpack_sbuffer_destroy(&sb);
    pack_cmd(&sb, STORE_CMP_ABSENT, "", 0);
    assert_int_equal(store_txn_decode(sb.data, sb.size, &d, &e), ERR_INVALID);
    msgpack_sbuffer_destroy(&sb);
    /* a bare integer, and a map */
    assert_int_equal(store_txn_decode("\x01", 1, &d, &e), ERR_INVALID);
    assert_int_equal(store_txn_decode("\x81\x01\x02", 3, &d, &e), ERR_INVALID);
    /* version 2 */
    assert_int_equal(store_txn_decode("\x93\x02\x90\x90", 4, &d, &e), ERR_INVALID);
    assert_string_equal(e.msg, "txn decode: version: unsupported");
    assert_int_equal(store_txn_decode("\x93\x01\x90\x90", 4, &d, &e), 0);
    store_txn_owned_close(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_encode_decode_of_empty_txn),
        cmocka_unit_test(test_encode_rejects_invalid_txn),
        cmocka_unit_test(test_decode_rejects_every_truncation),
        cmocka_unit_test(test_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_decode_rejects_huge_declared_sizes),
        cmocka_unit_test(test_decode_survives_garbage_and_bit_flips),
        cmocka_unit_test(test_decode_rejects_well_formed_msgpack_of_wrong_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
