#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonmp.h"

static void roundtrip(const char *txt)
{
    json_t *in = json_loads(txt, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL), *out = NULL;
    void *data = NULL;
    size_t len = 0;
    struct err e;
    assert_non_null(in);
    assert_int_equal(jsonmp_pack(in, &data, &len, &e), 0);
    assert_int_equal(jsonmp_unpack(data, len, &out, &e), 0);
    if (!json_equal(in, out))
        fail_msg("round trip changed %s", txt);
    free(data);
    json_decref(in);
    json_decref(out);
}

static void test_jsonmp_round_trips_every_type(void **state)
{
    (void)state;
    roundtrip(
        "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\"}},"
        "\"data\":{\"k\":\"v\\u0000w\"},\"n\":[1,-2,9223372036854775807,"
        "-9223372036854775808,1.5,-0.25,true,false,null,[],{}],\"u\":\"h\\u00e9\",\"\":\"\"}");
    roundtrip("[]");
    roundtrip("\"\"");
    roundtrip("0");
    roundtrip("3.25");
    roundtrip("null");
    roundtrip("[[[[[[[[[[1]]]]]]]]]]");
}

static void expect_invalid(const void *data, size_t len, const char *needle)
{
    json_t *out = NULL;
    struct err e;
    err_clear(&e);
    assert_int_equal(jsonmp_unpack(data, len, &out, &e), ERR_INVALID);
    assert_null(out);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
}

static void test_jsonmp_malformed_input_is_invalid(void **state)
{
    static const unsigned char truncated_map[] = {0x82, 0xa1, 'a', 0x01};
    static const unsigned char trailing[] = {0x01, 0x02};
    static const unsigned char int_key[] = {0x81, 0x01, 0x02};
    static const unsigned char bin[] = {0xc4, 0x01, 0x00};
    static const unsigned char big[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char bad_utf8[] = {0xa2, 0xc3, 0x28};
    static const unsigned char reserved[] = {0xc1};
    unsigned char deep[200];
    (void)state;
    expect_invalid(truncated_map, sizeof truncated_map, "truncated");
    expect_invalid(trailing, sizeof trailing, "trailing");
    expect_invalid(int_key, sizeof int_key, "not a string");
    expect_invalid(bin, sizeof bin, "unsupported");
    expect_invalid(big, sizeof big, "beyond int64");
    expect_invalid(bad_utf8, sizeof bad_utf8, "utf-8");
    expect_invalid(reserved, sizeof reserved, "malformed");
    expect_invalid(NULL, 0, "empty");
    memset(deep, 0x91, sizeof deep); /* 200 nested one-element arrays */
    deep[sizeof deep - 1] = 0x01;
    {
        json_t *out = NULL;
        struct err e;
        assert_int_equal(jsonmp_unpack(deep, sizeof deep, &out, &e), ERR_INVALID);
    }
}

static void test_jsonmp_pack_refuses_too_deep(void **state)
{
    json_t *root = json_array(), *cur = root;
    void *data = NULL;
    size_t len, i;
    struct err e;
    (void)state;
    for (i = 0; i < JSONMP_DEPTH_MAX + 2; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    assert_int_equal(jsonmp_pack(root, &data, &len, &e), ERR_INVALID);
    assert_null(data);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonmp_round_trips_every_type),
        cmocka_unit_test(test_jsonmp_malformed_input_is_invalid),
        cmocka_unit_test(test_jsonmp_pack_refuses_too_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
