/* The verb label of /metrics' API request counters: the apiserver's
 * GET/LIST/WATCH split of HTTP GETs, HTTP methods otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "api/internal.h"

static void test_get_list_watch(void **state)
{
    (void)state;
    /* collections of known kinds are LIST, in every scope */
    assert_int_equal(api__prom_verb("GET", "/api/v1/pods", NULL), API_VERB_LIST);
    assert_int_equal(api__prom_verb("GET", "/api/v1/nodes", NULL), API_VERB_LIST);
    assert_int_equal(api__prom_verb("GET", "/api/v1/namespaces", NULL), API_VERB_LIST);
    assert_int_equal(api__prom_verb("GET", "/api/v1/namespaces/default/configmaps", NULL),
                     API_VERB_LIST);
    assert_int_equal(api__prom_verb("GET", "/apis/apps/v1/namespaces/ns/deployments", NULL),
                     API_VERB_LIST);
    assert_int_equal(api__prom_verb("GET", "/apis/apps/v1/deployments/", NULL), API_VERB_LIST);
    /* objects and subresources are GET */
    assert_int_equal(api__prom_verb("GET", "/api/v1/namespaces/default", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/api/v1/nodes/node1", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/api/v1/namespaces/default/pods/p/log", NULL),
                     API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/apis/apps/v1/namespaces/ns/deployments/d", NULL),
                     API_VERB_GET);
    /* unknown resources, other paths, odd input */
    assert_int_equal(api__prom_verb("GET", "/api/v1/namespaces/default/status", NULL),
                     API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/api/v1/widgets", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/apis/apps", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/apis/apps/v1", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/metrics", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", "/api/v1/", NULL), API_VERB_GET);
    assert_int_equal(api__prom_verb("GET", NULL, NULL), API_VERB_GET);
    /* ?watch */
    assert_int_equal(api__prom_verb("GET", "/api/v1/pods", "1"), API_VERB_WATCH);
    assert_int_equal(api__prom_verb("GET", "/api/v1/pods", "true"), API_VERB_WATCH);
    assert_int_equal(api__prom_verb("GET", "/api/v1/pods", "false"), API_VERB_LIST);
}

static void test_methods(void **state)
{
    (void)state;
    assert_int_equal(api__prom_verb("POST", "/api/v1/pods", "1"), API_VERB_POST);
    assert_int_equal(api__prom_verb("PUT", "/x", NULL), API_VERB_PUT);
    assert_int_equal(api__prom_verb("PATCH", "/x", NULL), API_VERB_PATCH);
    assert_int_equal(api__prom_verb("DELETE", "/x", NULL), API_VERB_DELETE);
    assert_int_equal(api__prom_verb("OPTIONS", "/x", NULL), API_VERB_OTHER);
    assert_int_equal(api__prom_verb(NULL, NULL, NULL), API_VERB_OTHER);
    assert_string_equal(api__prom_verb_name(API_VERB_LIST), "LIST");
    assert_string_equal(api__prom_verb_name(API_VERB_WATCH), "WATCH");
    assert_string_equal(api__prom_verb_name(-1), "OTHER");
    assert_string_equal(api__prom_verb_name(API_VERB__COUNT), "OTHER");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_list_watch),
        cmocka_unit_test(test_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
