/* agent__svc_diff: the incremental nft script between two rulesets of
 * agent__svc_ruleset: an endpoint change flushes and refills the service's
 * chain, adds the new endpoint chain and deletes the old one; a new
 * Service adds its chains and replaces the map elements; a removed one
 * deletes its chains; a changed frame (pod CIDR, node address set
 * declaration) or a text of another shape asks for a whole replacement.
 * (The scripts themselves are fed to the real nft by bench/svcrules_bench
 * and by the networking integration tests, which fail on a refused diff.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/svcrules.h"

#define assert_contains(h, n)                                                                      \
    do {                                                                                           \
        if (strstr((h), (n)) == NULL)                                                              \
            fail_msg("missing \"%s\" in:\n%s", (n), (h));                                          \
    } while (0)

static const char *ips[] = {"192.0.2.1"};

static json_t *svc(const char *name, const char *ip)
{
    return json_pack("{s:{s:s, s:s}, s:{s:s, s:[{s:s, s:i}]}}", "metadata", "namespace", "d",
                     "name", name, "spec", "clusterIP", ip, "ports", "name", "http", "port", 80);
}

static json_t *ep(const char *name, const char *a, const char *b)
{
    json_t *addrs = json_array();
    json_array_append_new(addrs, json_pack("{s:s}", "ip", a));
    if (b != NULL)
        json_array_append_new(addrs, json_pack("{s:s}", "ip", b));
    return json_pack("{s:{s:s, s:s}, s:[{s:o, s:[{s:s, s:i}]}]}", "metadata", "namespace", "d",
                     "name", name, "subsets", "addresses", addrs, "ports", "name", "http", "port",
                     8080);
}

static char *rules(const char *pod_cidr, json_t *svcs, json_t *eps)
{
    struct agent__svc_node n = {"n1", pod_cidr, "10.244.0.0/16", ips, 1};
    struct err e;
    char *out = NULL;
    if (agent__svc_ruleset(&n, svcs, eps, &out, NULL, &e) != 0)
        fail_msg("%s", e.msg);
    return out;
}

static void test_endpoint_change_touches_that_service_only(void **state)
{
    json_t *svcs = json_pack("[o, o]", svc("a", "10.96.0.10"), svc("b", "10.96.0.11"));
    json_t *eps1 = json_pack("[o, o]", ep("a", "10.244.1.2", "10.244.1.3"),
                             ep("b", "10.244.2.2", NULL));
    json_t *eps2 = json_pack("[o, o]", ep("a", "10.244.1.2", "10.244.1.4"),
                             ep("b", "10.244.2.2", NULL));
    char *old = rules("10.244.0.0/24", svcs, eps1), *neu = rules("10.244.0.0/24", svcs, eps2);
    char *d = NULL;
    struct err e;
    (void)state;

    assert_int_equal(agent__svc_diff(old, neu, &d, &e), 0);
    assert_contains(d, "\tchain ep-d/a/tcp/http/10.244.1.4/8080 {\n");
    assert_contains(d, "flush chain ip skiff-n1 svc-d/a/tcp/http\n");
    assert_contains(d, "goto ep-d/a/tcp/http/10.244.1.4/8080");
    assert_contains(d, "flush chain ip skiff-n1 ep-d/a/tcp/http/10.244.1.3/8080\n"
                       "delete chain ip skiff-n1 ep-d/a/tcp/http/10.244.1.3/8080\n");
    /* nothing of service b, no map touched */
    assert_null(strstr(d, "d/b/"));
    assert_null(strstr(d, "flush map"));
    assert_null(strstr(d, "add element"));
    free(d);

    /* the same text: nothing to do but empty blocks */
    assert_int_equal(agent__svc_diff(old, old, &d, &e), 0);
    assert_null(strstr(d, "chain"));
    assert_null(strstr(d, "element"));
    free(d);
    free(old);
    free(neu);
    json_decref(svcs);
    json_decref(eps1);
    json_decref(eps2);
}

static void test_services_added_and_removed(void **state)
{
    json_t *svcs1 = json_pack("[o]", svc("a", "10.96.0.10"));
    json_t *svcs2 = json_pack("[o]", svc("c", "10.96.0.12"));
    json_t *eps1 = json_pack("[o]", ep("a", "10.244.1.2", NULL));
    json_t *eps2 = json_pack("[o]", ep("c", "10.244.3.2", NULL));
    char *old = rules("10.244.0.0/24", svcs1, eps1), *neu = rules("10.244.0.0/24", svcs2, eps2);
    char *d = NULL;
    struct err e;
    (void)state;

    assert_int_equal(agent__svc_diff(old, neu, &d, &e), 0);
    assert_contains(d, "\tchain svc-d/c/tcp/http {\n");
    assert_contains(d, "\tchain ep-d/c/tcp/http/10.244.3.2/8080 {\n");
    assert_contains(d, "flush map ip skiff-n1 service-ips\n"
                       "add element ip skiff-n1 service-ips { 10.96.0.12 . tcp . 80 : goto "
                       "svc-d/c/tcp/http }\n");
    assert_contains(d, "delete chain ip skiff-n1 svc-d/a/tcp/http\n");
    assert_contains(d, "delete chain ip skiff-n1 ep-d/a/tcp/http/10.244.1.2/8080\n");
    /* new chains come before the map that names them, old ones go after */
    assert_true(strstr(d, "chain svc-d/c/tcp/http {") < strstr(d, "flush map"));
    assert_true(strstr(d, "flush map") < strstr(d, "delete chain"));
    free(d);
    free(old);
    free(neu);
    json_decref(svcs1);
    json_decref(svcs2);
    json_decref(eps1);
    json_decref(eps2);
}

static void test_frame_change_or_other_text_needs_a_replacement(void **state)
{
    json_t *svcs = json_pack("[o]", svc("a", "10.96.0.10"));
    json_t *eps = json_pack("[o]", ep("a", "10.244.1.2", NULL));
    char *old = rules("10.244.0.0/24", svcs, eps), *neu = rules("10.244.7.0/24", svcs, eps);
    char *d = NULL;
    struct err e;
    (void)state;

    /* the pod CIDR is in a base chain (nat-postrouting) */
    assert_int_equal(agent__svc_diff(old, neu, &d, &e), ERR_INVALID);
    assert_null(d);
    assert_int_equal(agent__svc_diff(NULL, neu, &d, &e), ERR_INVALID);
    assert_int_equal(agent__svc_diff("table ip x\n", neu, &d, &e), ERR_INVALID);
    assert_int_equal(agent__svc_diff("garbage", neu, &d, &e), ERR_INVALID);
    assert_int_equal(agent__svc_diff(old, "table ip skiff-n1 {\n\tbogus x {\n\t}\n}\n", &d, &e),
                     ERR_INVALID);
    free(old);
    free(neu);
    json_decref(svcs);
    json_decref(eps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_change_touches_that_service_only),
        cmocka_unit_test(test_services_added_and_removed),
        cmocka_unit_test(test_frame_change_or_other_text_needs_a_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
