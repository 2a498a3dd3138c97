#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "lib/jsonmp.h"

static void test_continue_token_round_trips_and_rejects_foreign(void **state)
{
    char *tok = NULL, *key = NULL;
    struct err e;
    (void)state;
    assert_int_equal(api__continue_encode("/registry/configmaps/ns1/",
                                          "/registry/configmaps/ns1/web?+/", &tok, &e),
                     0);
    assert_null(strpbrk(tok, "+/="));
    assert_int_equal(api__continue_decode(tok, "/registry/configmaps/ns1/", &key, &e), 0);
    assert_string_equal(key, "/registry/configmaps/ns1/web?+/");
    free(key);
    /* a namespace's token on the cluster-wide list is fine: same resource */
    assert_int_equal(api__continue_decode(tok, "/registry/configmaps/", &key, &e), 0);
    free(key);
    assert_int_equal(api__continue_decode(tok, "/registry/configmaps/ns2/", &key, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "another list"));
    assert_int_equal(api__continue_decode(tok, "/registry/minions/", &key, &e), ERR_INVALID);
    free(tok);
    assert_int_equal(api__continue_decode("!!!!", "/registry/", &key, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "continue: malformed token"));
    assert_int_equal(api__continue_decode("a", "/registry/", &key, &e), ERR_INVALID);
    assert_int_equal(api__continue_decode("aGVsbG8", "/registry/", &key, &e), ERR_INVALID);
    assert_int_equal(api__continue_decode("e30", "/registry/", &key, &e), ERR_INVALID); /* {} */
}

static void check_status(int code, int http, const char *reason)
{
    json_t *st = api__status_json(api__status_http(code), api__status_reason(code), "m");
    assert_int_equal(api__status_http(code), http);
    assert_string_equal(api__status_reason(code), reason);
    assert_string_equal(json_string_value(json_object_get(st, "kind")), "Status");
    assert_string_equal(json_string_value(json_object_get(st, "apiVersion")), "v1");
    assert_true(json_is_object(json_object_get(st, "metadata")));
    assert_string_equal(json_string_value(json_object_get(st, "status")), "Failure");
    assert_string_equal(json_string_value(json_object_get(st, "message")), "m");
    assert_string_equal(json_string_value(json_object_get(st, "reason")), reason);
    assert_int_equal(json_integer_value(json_object_get(st, "code")), http);
    json_decref(st);
}

static void test_status_for_each_error_code(void **state)
{
    (void)state;
    check_status(ERR_INVALID, 422, "Invalid");
    check_status(ERR_NOTFOUND, 404, "NotFound");
    check_status(ERR_CONFLICT, 409, "Conflict");
    check_status(ERR_COMPACTED, 410, "Gone");
    check_status(ERR_UNAVAILABLE, 503, "ServiceUnavailable");
    check_status(ERR_NOTLEADER, 503, "ServiceUnavailable");
    check_status(ERR_SHUTDOWN, 503, "ServiceUnavailable");
    check_status(ERR_TIMEOUT, 504, "Timeout");
    check_status(ERR_DENIED, 401, "Unauthorized");
    check_status(ERR_IO, 500, "InternalError");
    check_status(ERR_NOMEM, 500, "InternalError");
    assert_int_equal(api__status_http(9999), 500);
}

static void test_routes_match_segments(void **state)
{
    char buf[256];
    const char *caps[API_CAPS_MAX];
    size_t n;
    bool ok;
    const struct api_route *rt;
    (void)state;
    assert_true(api__route_match("/api/v1/namespaces/{}/configmaps/{}",
                                 "/api/v1/namespaces/ns/configmaps/web", buf, sizeof buf, caps,
                                 &n));
    assert_int_equal(n, 2);
    assert_string_equal(caps[0], "ns");
    assert_string_equal(caps[1], "web");
    assert_false(api__route_match("/api/v1/namespaces/{}/configmaps",
                                  "/api/v1/namespaces//configmaps", buf, sizeof buf, caps, &n));
    assert_false(api__route_match("/api/v1/nodes", "/api/v1/nodesx", buf, sizeof buf, caps, &n));
    assert_true(api__route_match("/api/v1/nodes", "/api/v1/nodes/", buf, sizeof buf, caps, &n));
    rt = api__route_find(NULL, "POST", "/version", buf, sizeof buf, caps, &n, &ok);
    assert_null(rt);
    assert_false(ok); /* path known, method not: 405 */
    rt = api__route_find(NULL, "GET", "/nope", buf, sizeof buf, caps, &n, &ok);
    assert_null(rt);
    assert_true(ok); /* 404 */
    rt = api__route_find(NULL, "DELETE", "/api/v1/namespaces/a/configmaps/b", buf, sizeof buf, caps,
                         &n, &ok);
    assert_non_null(rt);
    assert_ptr_equal(rt->fn, api__h_resource);
}

static void test_percent_decode(void **state)
{
    char *s;
    (void)state;
    s = api__percent_decode("app%20in%20(a%2Cb)%21", 21);
    assert_string_equal(s, "app in (a,b)!");
    free(s);
    assert_null(api__percent_decode("%2", 2));
    assert_null(api__percent_decode("%zz", 3));
    assert_null(api__percent_decode("a%00", 4));
}

static void test_node_object_and_store_kv(void **state)
{
    const char *addrs[] = {"10.0.0.5:7001", "10.0.0.6"};
    char key[STORE_KEY_MAX + 1];
    json_t *node = NULL, *back = NULL;
    void *val = NULL;
    size_t len;
    struct err e;
    (void)state;
    assert_int_equal(api_node_build("node-1", addrs, 2, &node, &e), 0);
    assert_string_equal(json_string_value(json_object_get(node, "kind")), "Node");
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(node, "metadata"), "uid"))), 36);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(node, "status"), "addresses"), 0),
            "address")),
        "10.0.0.5");
    assert_int_equal(api_node_kv(node, key, sizeof key, &val, &len, &e), 0);
    assert_string_equal(key, "/registry/minions/node-1");
    assert_int_equal(api__object_decode(val, len, 42, &back, &e), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(back, "metadata"), "resourceVersion")),
        "42");
    free(val);
    json_decref(back);
    json_decref(node);
    assert_int_equal(api_node_build("Bad_Name", addrs, 1, &node, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "metadata.name"));
}

static void test_admin_token_key_is_sha256_hex(void **state)
{
    char key[128];
    struct err e;
    (void)state;
    assert_int_equal(api_admin_token_key("abc", key, sizeof key, &e), 0);
    assert_string_equal(key, "/skiff/admin-tokens/"
                             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(api_admin_token_key("", key, sizeof key, &e), ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continue_token_round_trips_and_rejects_foreign),
        cmocka_unit_test(test_status_for_each_error_code),
        cmocka_unit_test(test_routes_match_segments),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_node_object_and_store_kv),
        cmocka_unit_test(test_admin_token_key_is_sha256_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
