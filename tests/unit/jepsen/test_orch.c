/* The orchestrator checker on hand-written converged states: a good one,
 * then one fault each (too few pods, a pod not running, unbound, bound to a
 * node that is gone, listed twice, a lost acknowledged Deployment, views
 * that disagree, a node that did not answer) and a malformed state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/jepsen/hist.h"

/* One view's lists: Deployment web (replicas 2) with ReplicaSet web-1 and
 * pods p1, p2 on n1, n2; PODS replaces the pod items when not NULL. */
static json_t *lists(const char *pods, const char *web_rv)
{
    char text[4096];
    json_error_t je;
    json_t *j;
    snprintf(
        text, sizeof text,
        "{\"nodes\":{\"items\":[{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"1\"}},"
        "{\"metadata\":{\"name\":\"n2\",\"resourceVersion\":\"2\"}}]},"
        "\"deployments\":{\"items\":[{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
        "\"resourceVersion\":\"%s\"},\"spec\":{\"replicas\":2}}]},"
        "\"replicasets\":{\"items\":[{\"metadata\":{\"name\":\"web-1\",\"namespace\":"
        "\"default\",\"resourceVersion\":\"11\",\"ownerReferences\":[{\"kind\":\"Deployment\","
        "\"name\":\"web\"}]}}]},"
        "\"pods\":{\"items\":[%s]}}",
        web_rv, pods);
    j = json_loads(text, 0, &je);
    if (j == NULL)
        fail_msg("lists: %s", je.text);
    return j;
}

#define POD(name, uid, node, phase)                                                                \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\",\"uid\":\"" uid                \
    "\",\"resourceVersion\":\"20\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":"        \
    "\"web-1\"}]},\"spec\":{\"nodeName\":\"" node "\"},\"status\":{\"phase\":\"" phase "\"}}"

#define GOOD_PODS POD("p1", "u1", "n1", "Running") "," POD("p2", "u2", "n2", "Running")

/* a state of n views, the first with l0, the others with l (both stolen) */
static json_t *state(size_t n, json_t *l0, json_t *l)
{
    json_t *views = json_array();
    for (size_t i = 0; i < n; i++) {
        char url[32];
        snprintf(url, sizeof url, "https://n%zu", i + 1);
        json_array_append_new(views, json_pack("{s:s, s:O}", "url", url, "lists", i ? l : l0));
    }
    json_decref(l0);
    json_decref(l);
    return json_pack("{s:o}", "views", views);
}

static enum jepsen_verdict check(const struct jepsen_history *h, json_t *st,
                                 struct jepsen_orch_result *r)
{
    struct err e = {0};
    if (jepsen_orch_check(h, st, r, &e) != 0)
        fail_msg("check: %s", e.msg);
    json_decref(st);
    jepsen_orch_result_print(r, stdout);
    return r->verdict;
}

static void test_converged_state_is_valid(void **st)
{
    struct jepsen_history h;
    struct jepsen_orch_result r;
    HIST(&h, "1 invoke write web 2", "1 ok write web 2");
    assert_int_equal(check(&h, state(3, lists(GOOD_PODS, "10"), lists(GOOD_PODS, "10")), &r),
                     JEPSEN_VALID);
    assert_int_equal(r.views, 3);
    assert_int_equal(r.deployments, 1);
    assert_int_equal(r.pods, 2);
    assert_int_equal(r.acknowledged, 1);
    assert_int_equal(r.problems, 0);
    jepsen_orch_result_close(&r);
    jepsen_history_close(&h);
}

static void test_too_few_pods(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = POD("p1", "u1", "n1", "Running");
    assert_int_equal(check(NULL, state(1, lists(pods, "10"), NULL), &r), JEPSEN_INVALID);
    assert_int_equal(r.replicas_wrong, 1);
    assert_int_equal(r.n_sample, 1);
    assert_non_null(strstr(r.sample[0], "deployment web: 1 running pods, replicas 2"));
    jepsen_orch_result_close(&r);
}

static void test_terminating_pod_does_not_count(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = POD(
        "p1", "u1", "n1",
        "Running") ","
                   "{\"metadata\":{\"name\":\"p2\",\"namespace\":\"default\",\"uid\":\"u2\","
                   "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"ownerReferences\":[{\"kind\":"
                   "\"ReplicaSet\",\"name\":\"web-1\"}]},\"spec\":{\"nodeName\":\"n2\"},\"status\":"
                   "{"
                   "\"phase\":\"Running\"}}";
    assert_int_equal(check(NULL, state(1, lists(pods, "10"), NULL), &r), JEPSEN_INVALID);
    assert_int_equal(r.replicas_wrong, 1);
    assert_int_equal(r.terminating, 1);
    jepsen_orch_result_close(&r);
}

static void test_pod_not_running(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = POD("p1", "u1", "n1", "Running") "," POD("p2", "u2", "n2", "Pending");
    assert_int_equal(check(NULL, state(1, lists(pods, "10"), NULL), &r), JEPSEN_INVALID);
    assert_int_equal(r.not_running, 1);
    assert_int_equal(r.replicas_wrong, 1);
    jepsen_orch_result_close(&r);
}

static void test_unbound_pod(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = POD("p1", "u1", "n1", "Running") "," POD("p2", "u2", "", "Running");
    assert_int_equal(check(NULL, state(1, lists(pods, "10"), NULL), &r), JEPSEN_INVALID);
    assert_int_equal(r.unbound, 1);
    jepsen_orch_result_close(&r);
}

static void test_pod_on_gone_node(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = POD("p1", "u1", "n1", "Running") "," POD("p2", "u2", "n9", "Running");
    assert_int_equal(check(NULL, state(1, lists(pods, "10"), NULL), &r), JEPSEN_INVALID);
    assert_int_equal(r.on_gone_node, 1);
    assert_non_null(strstr(r.sample[0], "bound to n9, not a node"));
    jepsen_orch_result_close(&r);
}

static void test_pod_listed_twice(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = GOOD_PODS "," POD("p2", "u3", "n1", "Running");
    assert_int_equal(check(NULL, state(1, lists(pods, "10"), NULL), &r), JEPSEN_INVALID);
    assert_int_equal(r.bound_twice, 1);
    jepsen_orch_result_close(&r);
}

static void test_lost_acknowledged_deployment(void **st)
{
    struct jepsen_history h;
    struct jepsen_orch_result r;
    HIST(&h, "1 invoke write web 2", "1 ok write web 2", "2 invoke write api 1", "2 ok write api 1",
         "3 invoke write db 1", "3 info write db 1");
    assert_int_equal(check(&h, state(2, lists(GOOD_PODS, "10"), lists(GOOD_PODS, "10")), &r),
                     JEPSEN_INVALID);
    assert_int_equal(r.acknowledged, 2); /* the info write of db proves nothing */
    assert_int_equal(r.missing_ack, 1);
    assert_non_null(strstr(r.sample[0], "deployment api: acknowledged (line 4), absent"));
    jepsen_orch_result_close(&r);
    jepsen_history_close(&h);
}

static void test_views_disagree(void **st)
{
    struct jepsen_orch_result r;
    assert_int_equal(check(NULL, state(3, lists(GOOD_PODS, "10"), lists(GOOD_PODS, "12")), &r),
                     JEPSEN_INVALID);
    assert_int_equal(r.disagree, 2); /* web, in views 2 and 3 */
    assert_non_null(strstr(r.sample[0], "resourceVersion 12 at https://n2, 10 at the first"));
    jepsen_orch_result_close(&r);
}

static void test_object_missing_from_a_view(void **st)
{
    struct jepsen_orch_result r;
    const char *pods = POD("p1", "u1", "n1", "Running");
    assert_int_equal(check(NULL, state(2, lists(GOOD_PODS, "10"), lists(pods, "10")), &r),
                     JEPSEN_INVALID);
    assert_int_equal(r.disagree, 1);
    assert_non_null(strstr(r.sample[0], "pods default/p2: missing at https://n2"));
    jepsen_orch_result_close(&r);
}

static void test_unanswered_list(void **st)
{
    struct jepsen_orch_result r;
    json_t *l = lists(GOOD_PODS, "10");
    json_object_set_new(l, "pods", json_null());
    assert_int_equal(check(NULL, state(2, lists(GOOD_PODS, "10"), l), &r), JEPSEN_INVALID);
    assert_int_equal(r.unanswered, 1);
    jepsen_orch_result_close(&r);
}

static void test_malformed_state_is_an_error(void **st)
{
    struct jepsen_orch_result r;
    struct err e = {0};
    json_t *bad = json_loads("{\"views\":[]}", 0, NULL);
    assert_int_equal(jepsen_orch_check(NULL, bad, &r, &e), ERR_INVALID);
    assert_string_equal(e.msg, "state: views: required non-empty array");
    json_decref(bad);
    bad = json_loads("{\"views\":[{\"url\":\"x\",\"lists\":3}]}", 0, NULL);
    assert_int_equal(jepsen_orch_check(NULL, bad, &r, &e), ERR_INVALID);
    assert_string_equal(e.msg, "state: views[0].lists: required object");
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converged_state_is_valid),
        cmocka_unit_test(test_too_few_pods),
        cmocka_unit_test(test_terminating_pod_does_not_count),
        cmocka_unit_test(test_pod_not_running),
        cmocka_unit_test(test_unbound_pod),
        cmocka_unit_test(test_pod_on_gone_node),
        cmocka_unit_test(test_pod_listed_twice),
        cmocka_unit_test(test_lost_acknowledged_deployment),
        cmocka_unit_test(test_views_disagree),
        cmocka_unit_test(test_object_missing_from_a_view),
        cmocka_unit_test(test_unanswered_list),
        cmocka_unit_test(test_malformed_state_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
