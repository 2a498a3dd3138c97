/* The HPA's pure arithmetic (sched/hpa_calc.c): the replica calculator
 * (utilization, tolerance, missing and unready pods, requests), the
 * normalisation (min/max clamps, stabilisation windows, behavior policies)
 * and the history that survives a leader change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sched/hpa_calc.h"

#define S 1000LL /* ms */

/* a ready, running pod with a cpu request and a metric */
static struct hpa_pod pod(const char *name, int64_t req_m, int64_t use_m)
{
    struct hpa_pod p = {0};
    p.name = name;
    p.ready = true;
    p.has_metric = use_m >= 0;
    p.usage_milli = use_m < 0 ? 0 : use_m;
    p.has_request = req_m >= 0;
    p.request_milli = req_m < 0 ? 0 : req_m;
    p.no_request_ctr = req_m < 0 ? "web" : NULL;
    return p;
}

static int32_t calc(const struct hpa_pod *pods, size_t n, int32_t current, int64_t target_pct,
                    struct hpa_proposal *out)
{
    assert_int_equal(hpa_calc_replicas(pods, n, current, true, true, target_pct, out), 0);
    return out->replicas;
}

static void test_utilization_scales_by_ratio(void **state)
{
    struct hpa_pod p[4];
    struct hpa_proposal out;
    (void)state;
    /* 1 pod at 200m of 100m, target 50 %: ceil(1 * 200 / 50) = 4 */
    p[0] = pod("a", 100, 200);
    assert_int_equal(calc(p, 1, 1, 50, &out), 4);
    assert_int_equal(out.utilization, 200);
    assert_int_equal(out.avg_milli, 200);
    /* sum(usage) / sum(requests), not the mean of the ratios */
    p[0] = pod("a", 100, 90);
    p[1] = pod("b", 300, 30);
    assert_int_equal(calc(p, 2, 2, 50, &out), 2); /* 120/400 = 30 %: ratio 0.6 -> ceil(1.2) */
    assert_int_equal(out.utilization, 30);
    /* scale down: 10m of 100m at 50 % -> ceil(0.2 * 4) = 1 */
    for (int i = 0; i < 4; i++)
        p[i] = pod("x", 100, 10);
    assert_int_equal(calc(p, 4, 4, 50, &out), 1);
}

static void test_tolerance_keeps_current(void **state)
{
    struct hpa_pod p[2] = {pod("a", 100, 54), pod("b", 100, 54)};
    struct hpa_proposal out;
    (void)state;
    assert_int_equal(calc(p, 2, 2, 50, &out), 2); /* 108 %: within 10 % */
    p[0].usage_milli = p[1].usage_milli = 56;     /* 112 %: beyond */
    assert_int_equal(calc(p, 2, 2, 50, &out), 3);
    p[0].usage_milli = p[1].usage_milli = 46; /* 92 %: within */
    assert_int_equal(calc(p, 2, 2, 50, &out), 2);
}

static void test_missing_metrics_damp_both_directions(void **state)
{
    struct hpa_pod p[3];
    struct hpa_proposal out;
    (void)state;
    /* scale up: the missing pod counts as 0 %: (200 + 200 + 0) / 300 =
     * 133 % of 50 -> ratio 2.67 -> ceil(2.67 * 3) = 8 */
    p[0] = pod("a", 100, 200);
    p[1] = pod("b", 100, 200);
    p[2] = pod("c", 100, -1);
    assert_int_equal(calc(p, 3, 3, 50, &out), 8);
    assert_int_equal(out.utilization, 200); /* reported from the pods with metrics */
    /* scale down: the missing pod counts as 100 %: (10 + 10 + 100) / 300 =
     * 40 % of 50 -> 0.8 -> ceil(2.4) = 3 = current: no change */
    p[0].usage_milli = p[1].usage_milli = 10;
    assert_int_equal(calc(p, 3, 3, 50, &out), 3);
    /* the fill-in flips the direction: current kept */
    p[0].usage_milli = p[1].usage_milli = 40; /* 40 % alone, (40+40+100)/300 = 60 % */
    assert_int_equal(calc(p, 3, 3, 50, &out), 3);
}

static void test_unready_pods_ignored_on_scale_up(void **state)
{
    struct hpa_pod p[2];
    struct hpa_proposal out;
    (void)state;
    /* scale up with an unready pod: its metric (150m) is not believed, it
     * counts as 0: (150 + 0) / 200 = 75 % of 50 -> ceil(1.5 * 2) = 3, not
     * the 6 that 150 % on both would give */
    p[0] = pod("a", 100, 150);
    p[1] = pod("b", 100, 150);
    p[1].ready = false;
    assert_int_equal(calc(p, 2, 2, 50, &out), 3);
    assert_int_equal(out.utilization, 150); /* reported from the ready pod */
    /* scale down: unready pods are left out entirely */
    p[0].usage_milli = 10;
    p[1].usage_milli = 500;
    assert_int_equal(calc(p, 2, 2, 50, &out), 1); /* 10 % of 50 -> ceil(0.2 * 1) */
    /* a memory metric does not care about readiness, only Pending */
    assert_int_equal(hpa_calc_replicas(p, 2, 2, false, true, 50, &out), 0);
    assert_int_equal(out.replicas, 11); /* 510/200 = 255 % -> ceil(5.1 * 2) */
    p[1].pending = true;
    assert_int_equal(hpa_calc_replicas(p, 2, 2, false, true, 50, &out), 0);
    assert_int_equal(out.replicas, 1);
    /* ignored (deleted / Failed) pods are not counted at all */
    p[0].ignored = true;
    assert_int_equal(hpa_calc_replicas(p, 2, 2, true, true, 50, &out), -1);
    assert_string_equal(out.err,
                        "did not receive metrics for targeted pods (pods might be unready)");
}

static void test_missing_requests_and_no_pods_are_errors(void **state)
{
    struct hpa_pod p[2] = {pod("web-1", 100, 50), pod("web-2", -1, 50)};
    struct hpa_proposal out;
    (void)state;
    assert_int_equal(hpa_calc_replicas(p, 2, 2, true, true, 50, &out), -1);
    assert_string_equal(out.err, "missing request for cpu in container web of Pod web-2");
    /* an AverageValue target needs no requests: avg 50m of 25m -> 4 */
    assert_int_equal(hpa_calc_replicas(p, 2, 2, true, false, 25, &out), 0);
    assert_int_equal(out.replicas, 4);
    assert_int_equal(out.utilization, -1);
    assert_int_equal(out.avg_milli, 50);
    assert_int_equal(hpa_calc_replicas(p, 0, 2, true, true, 50, &out), -1);
    assert_string_equal(out.err, "no pods returned by selector while calculating replica count");
}

/* ---- normalisation ---- */

static struct hpa_normalized norm(json_t *hist, int64_t now, const json_t *beh, int32_t min,
                                  int32_t max, int32_t current, int32_t desired, int64_t win)
{
    struct hpa_rules up, down;
    struct hpa_normalized out;
    hpa_rules_from(beh, true, win, &up);
    hpa_rules_from(beh, false, win, &down);
    hpa_normalize(hist, now, beh != NULL, &up, &down, win, min, max, current, desired, &out);
    return out;
}

static void test_min_max_clamps(void **state)
{
    json_t *hist = hpa_hist_parse(NULL);
    struct hpa_normalized n;
    (void)state;
    n = norm(hist, 0, NULL, 1, 4, 2, 9, 0);
    assert_int_equal(n.replicas, 4);
    assert_true(n.limited);
    assert_string_equal(n.limit_reason, "TooManyReplicas");
    n = norm(hist, 1 * S, NULL, 2, 10, 2, 1, 0);
    assert_int_equal(n.replicas, 2);
    assert_string_equal(n.limit_reason, "TooFewReplicas");
    /* without behavior a scale-up is limited to max(2 * current, 4) */
    n = norm(hist, 2 * S, NULL, 1, 100, 5, 40, 0);
    assert_int_equal(n.replicas, 10);
    assert_string_equal(n.limit_reason, "ScaleUpLimit");
    n = norm(hist, 3 * S, NULL, 1, 100, 5, 7, 0);
    assert_int_equal(n.replicas, 7);
    assert_false(n.limited);
    assert_string_equal(n.limit_reason, "DesiredWithinRange");
    json_decref(hist);
}

static void test_scale_down_waits_for_the_window(void **state)
{
    json_t *hist = hpa_hist_parse(NULL);
    struct hpa_normalized n;
    int64_t win = 60 * S;
    (void)state;
    hpa_record_initial(hist, 0, 4); /* a fresh leader: current counts as a recommendation */
    n = norm(hist, 15 * S, NULL, 1, 4, 4, 1, win);
    assert_int_equal(n.replicas, 4);
    assert_string_equal(n.able_reason, "ScaleDownStabilized");
    n = norm(hist, 45 * S, NULL, 1, 4, 4, 1, win);
    assert_int_equal(n.replicas, 4);
    /* 61 s after the last 4: the highest of the window is 1 */
    n = norm(hist, 61 * S, NULL, 1, 4, 4, 1, win);
    assert_int_equal(n.replicas, 1);
    assert_string_equal(n.able_reason, "ReadyForNewScale");
    /* scale up is never held back without a behavior */
    n = norm(hist, 62 * S, NULL, 1, 4, 1, 3, win);
    assert_int_equal(n.replicas, 3);
    json_decref(hist);
}

static void test_history_survives_a_leader_change(void **state)
{
    json_t *hist = hpa_hist_parse(NULL), *again;
    struct hpa_normalized n;
    char *text;
    (void)state;
    n = norm(hist, 0, NULL, 1, 4, 1, 4, 300 * S);
    assert_int_equal(n.replicas, 4);
    hpa_record_scale(hist, 0, 1, 4, 1800 * S);
    text = json_dumps(hist, JSON_COMPACT);
    /* the new leader parses the annotation: load drops in 10 s later, yet
     * the 4 recommended 10 s ago keeps the replicas for the window */
    again = hpa_hist_parse(text);
    hpa_record_initial(again, 10 * S, 4); /* no-op: there is history */
    n = norm(again, 10 * S, NULL, 1, 4, 4, 1, 300 * S);
    assert_int_equal(n.replicas, 4);
    assert_int_equal(json_array_size(json_object_get(again, "up")), 1);
    /* garbage in the annotation is an empty history, not a crash */
    json_decref(again);
    again = hpa_hist_parse("{\"rec\": [[1, \"x\"], 7, [2, 3]], \"up\": {}}");
    assert_int_equal(json_array_size(json_object_get(again, "rec")), 1);
    assert_int_equal(json_array_size(json_object_get(again, "up")), 0);
    json_decref(again);
    again = hpa_hist_parse("not json");
    assert_int_equal(json_array_size(json_object_get(again, "rec")), 0);
    json_decref(again);
    free(text);
    json_decref(hist);
}

static void test_behavior_policies(void **state)
{
    json_t *hist = hpa_hist_parse(NULL);
    json_t *beh = json_loads("{\"scaleUp\": {\"policies\": [{\"type\": \"Pods\", \"value\": 2, "
                             "\"periodSeconds\": 60}, {\"type\": \"Percent\", \"value\": 50, "
                             "\"periodSeconds\": 60}], \"selectPolicy\": \"Max\"}, "
                             "\"scaleDown\": {\"stabilizationWindowSeconds\": 0, \"policies\": "
                             "[{\"type\": \"Pods\", \"value\": 1, \"periodSeconds\": 30}]}}",
                             0, NULL);
    struct hpa_normalized n;
    (void)state;
    /* up from 4: Pods gives 6, Percent 6; Max -> 6 */
    n = norm(hist, 0, beh, 1, 20, 4, 12, 300 * S);
    assert_int_equal(n.replicas, 6);
    assert_true(n.limited);
    assert_string_equal(n.limit_reason, "ScaleUpLimit");
    hpa_record_scale(hist, 0, 4, 6, 1800 * S);
    /* 10 s later the period still holds the +2: start is 4 again -> 6 */
    n = norm(hist, 10 * S, beh, 1, 20, 6, 12, 300 * S);
    assert_int_equal(n.replicas, 6);
    /* after the period: from 6, Pods 8, Percent 9 -> 9 */
    n = norm(hist, 61 * S, beh, 1, 20, 6, 12, 300 * S);
    assert_int_equal(n.replicas, 9);
    /* Min picks the smaller change */
    json_object_set_new(json_object_get(beh, "scaleUp"), "selectPolicy", json_string("Min"));
    n = norm(hist, 122 * S, beh, 1, 20, 6, 12, 300 * S);
    assert_int_equal(n.replicas, 8);
    /* Disabled: no scale up at all */
    json_object_set_new(json_object_get(beh, "scaleUp"), "selectPolicy", json_string("Disabled"));
    n = norm(hist, 183 * S, beh, 1, 20, 6, 12, 300 * S);
    assert_int_equal(n.replicas, 6);
    /* down by one pod per 30 s, window 0 */
    n = norm(hist, 200 * S, beh, 1, 20, 6, 1, 300 * S);
    assert_int_equal(n.replicas, 5);
    assert_string_equal(n.limit_reason, "ScaleDownLimit");
    hpa_record_scale(hist, 200 * S, 6, 5, 1800 * S);
    n = norm(hist, 210 * S, beh, 1, 20, 5, 1, 300 * S);
    assert_int_equal(n.replicas, 5);
    json_decref(beh);
    json_decref(hist);
}

static void test_behavior_windows(void **state)
{
    json_t *hist = hpa_hist_parse(NULL);
    json_t *beh = json_loads("{\"scaleUp\": {\"stabilizationWindowSeconds\": 30}, "
                             "\"scaleDown\": {\"stabilizationWindowSeconds\": 60}}",
                             0, NULL);
    struct hpa_normalized n;
    (void)state;
    /* the lowest recommendation of the up window holds a scale up */
    n = norm(hist, 0, beh, 1, 20, 2, 2, 300 * S);
    assert_int_equal(n.replicas, 2);
    n = norm(hist, 10 * S, beh, 1, 20, 2, 6, 300 * S);
    assert_int_equal(n.replicas, 2);
    assert_string_equal(n.able_reason, "ScaleUpStabilized");
    n = norm(hist, 31 * S, beh, 1, 20, 2, 6, 300 * S);
    assert_int_equal(n.replicas, 6); /* defaults: +4 pods or +100 % per 15 s */
    json_decref(beh);
    json_decref(hist);
}

static void test_quantities(void **state)
{
    int64_t v;
    json_t *q;
    (void)state;
#define Q(text, want)                                                                              \
    q = json_string(text);                                                                         \
    assert_true(hpa_qty_milli(q, &v));                                                             \
    assert_int_equal(v, want);                                                                     \
    json_decref(q)
    Q("100m", 100);
    Q("0.5", 500);
    Q("0.1", 100);
    Q("2", 2000);
    Q("123456789n", 124); /* rounded up, as MilliValue */
    Q("1Ki", 1024000);
    Q("128Mi", 134217728000LL);
    Q("1e3", 1000000);
#undef Q
    q = json_string("12 cores");
    assert_false(hpa_qty_milli(q, &v));
    json_decref(q);
    q = json_integer(3);
    assert_true(hpa_qty_milli(q, &v));
    assert_int_equal(v, 3000);
    json_decref(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utilization_scales_by_ratio),
        cmocka_unit_test(test_tolerance_keeps_current),
        cmocka_unit_test(test_missing_metrics_damp_both_directions),
        cmocka_unit_test(test_unready_pods_ignored_on_scale_up),
        cmocka_unit_test(test_missing_requests_and_no_pods_are_errors),
        cmocka_unit_test(test_min_max_clamps),
        cmocka_unit_test(test_scale_down_waits_for_the_window),
        cmocka_unit_test(test_history_survives_a_leader_change),
        cmocka_unit_test(test_behavior_policies),
        cmocka_unit_test(test_behavior_windows),
        cmocka_unit_test(test_quantities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
