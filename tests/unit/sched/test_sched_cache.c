/* The scheduler cache and parsing: Kubernetes quantities, the pod request
 * rule (containers vs init containers, sidecars, overhead), terminal pods
 * freeing what they held, assume/forget/confirm, ghost nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_core.h"

/* A JSON value from printf-style text written with ' for ". */
static json_t *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *J(const char *fmt, ...)
{
    char buf[8192];
    json_error_t jerr;
    json_t *v;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(buf, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON at %d: %s: %s", jerr.position, jerr.text, buf);
    return v;
}

static void add_node(struct sched_cache *c, const char *name, const char *cpu, const char *mem)
{
    struct err e = {0};
    json_t *n = J("{'metadata':{'name':'%s','labels':{'kubernetes.io/hostname':'%s'}},"
                  "'status':{'allocatable':{'cpu':'%s','memory':'%s','pods':'110'},"
                  "'conditions':[{'type':'Ready','status':'True'}]}}",
                  name, name, cpu, mem);
    assert_int_equal(sched_cache_node_upsert(c, n, NULL, &e), 0);
    json_decref(n);
}

/* A pod with one container requesting cpu/mem; node "" = unbound. */
static void add_pod(struct sched_cache *c, const char *name, const char *node, const char *cpu,
                    const char *mem, const char *phase)
{
    struct err e = {0};
    char nn[128] = "";
    if (node[0] != '\0')
        snprintf(nn, sizeof nn, "'nodeName':'%s',", node);
    json_t *p = J("{'metadata':{'name':'%s','namespace':'default','uid':'uid-%s'},"
                  "'spec':{%s'containers':[{'name':'c','resources':{'requests':"
                  "{'cpu':'%s','memory':'%s'}}}]},'status':{'phase':'%s'}}",
                  name, name, nn, cpu, mem, phase);
    assert_int_equal(sched_cache_pod_upsert(c, p, NULL, &e), 0);
    json_decref(p);
}

static int64_t q(const char *s, int scale)
{
    int64_t v = -12345;
    struct err e = {0};
    assert_int_equal(sched_quantity_parse(s, scale, &v, &e), 0);
    return v;
}

static void test_quantity_parses_kubernetes_syntax(void **state)
{
    (void)state;
    assert_int_equal(q("100m", -3), 100);
    assert_int_equal(q("0.5", -3), 500);
    assert_int_equal(q("1", -3), 1000);
    assert_int_equal(q("2", 0), 2);
    assert_int_equal(q("64Mi", 0), 64LL << 20);
    assert_int_equal(q("1Gi", 0), 1LL << 30);
    assert_int_equal(q("1G", 0), 1000000000LL);
    assert_int_equal(q("1e3", 0), 1000);
    assert_int_equal(q("1E3", 0), 1000);
    assert_int_equal(q("1.5k", 0), 1500);
    assert_int_equal(q("1E", 0), 1000000000000000000LL);
    assert_int_equal(q(".5Gi", 0), 512LL << 20);
    assert_int_equal(q("5.", 0), 5);
    assert_int_equal(q("+3", 0), 3);
    assert_int_equal(q("-3", 0), -3);
    assert_int_equal(q("0", -3), 0);
    /* rounding up, like Quantity.Value()/MilliValue() */
    assert_int_equal(q("1m", 0), 1);
    assert_int_equal(q("0.0001", -3), 1);
    assert_int_equal(q("100n", -3), 1);
    assert_int_equal(q("1500u", -3), 2);
    assert_int_equal(q("0.1", 0), 1);
    assert_int_equal(q("1.5Ki", 0), 1536);
    assert_int_equal(q("9223372036854775807", 0), INT64_MAX);
}

static void test_quantity_rejects_bad_input(void **state)
{
    const char *bad[] = {"",
                         "m",
                         "1x",
                         "1.2.3",
                         "Mi",
                         "1 Mi",
                         "1e",
                         "1e+",
                         "--1",
                         "1Mib",
                         "12e1000",
                         "99Ei",
                         "9223372036854775808"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 7;
        struct err e = {0};
        assert_int_equal(sched_quantity_parse(bad[i], 0, &v, &e), ERR_INVALID);
        assert_int_equal(v, 0);
        assert_true(strstr(e.msg, "quantity") != NULL);
    }
}

static void test_invalid_request_counts_zero_with_warning(void **state)
{
    struct sched_pod *p;
    struct err warn = {0}, e = {0};
    json_t *j = J("{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','resources':"
                  "{'requests':{'cpu':'lots','memory':'1Gi'}}}]}}");
    (void)state;
    assert_int_equal(sched_pod_parse(j, &p, &warn, &e), 0);
    assert_int_equal(p->cpu_m, 0);
    assert_int_equal(p->mem, 1LL << 30);
    assert_int_equal(warn.code, ERR_INVALID);
    assert_non_null(strstr(warn.msg, "spec.containers[0].resources.cpu"));
    sched_pod_free(p);
    json_decref(j);
}

static void test_pod_parse_rejects_nameless_pod(void **state)
{
    struct sched_pod *p = NULL;
    struct err e = {0};
    json_t *j = J("{'metadata':{},'spec':{}}");
    (void)state;
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "metadata.name"));
    json_decref(j);
    j = J("[1]");
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), ERR_INVALID);
    json_decref(j);
}

static void test_init_containers_take_the_max(void **state)
{
    struct sched_pod *p;
    struct err e = {0};
    /* containers sum to 300m / 300Mi; init max 500m / 100Mi; overhead 10m */
    json_t *j = J(
        "{'metadata':{'name':'p'},'spec':{"
        "'containers':[{'name':'a','resources':{'requests':{'cpu':'100m','memory':'100Mi'}}},"
        "{'name':'b','resources':{'requests':{'cpu':'200m','memory':'200Mi'}}}],"
        "'initContainers':[{'name':'i1','resources':{'requests':{'cpu':'500m','memory':'100Mi'}}},"
        "{'name':'i2','resources':{'limits':{'cpu':'400m','nvidia.com/gpu':'1'}}}],"
        "'overhead':{'cpu':'10m'}}}");
    (void)state;
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), 0);
    assert_int_equal(p->cpu_m, 510);
    assert_int_equal(p->mem, 300LL << 20);
    assert_int_equal(p->n_ext, 1);
    assert_string_equal(p->ext[0].name, "nvidia.com/gpu");
    assert_int_equal(p->ext[0].value, 1);
    /* scoring defaults: i2 has no memory: 200Mi for it, max with 300Mi */
    assert_int_equal(p->nz_mem, 300LL << 20);
    sched_pod_free(p);
    json_decref(j);
}

static void test_sidecar_init_containers_add_up(void **state)
{
    struct sched_pod *p;
    struct err e = {0};
    /* sidecar 100m runs beside everything after it: init 1000m+100m, sum 200m+100m */
    json_t *j = J("{'metadata':{'name':'p'},'spec':{"
                  "'containers':[{'name':'a','resources':{'requests':{'cpu':'200m'}}}],"
                  "'initContainers':[{'name':'s','restartPolicy':'Always',"
                  "'resources':{'requests':{'cpu':'100m'}}},"
                  "{'name':'i','resources':{'requests':{'cpu':'1'}}}]}}");
    (void)state;
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), 0);
    assert_int_equal(p->cpu_m, 1100);
    sched_pod_free(p);
    json_decref(j);
}

static void test_succeeded_pods_free_resources(void **state)
{
    struct sched_cache *c;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    add_node(c, "n1", "2", "4Gi");
    add_pod(c, "a", "n1", "500m", "1Gi", "Running");
    add_pod(c, "b", "n1", "250m", "1Gi", "Running");
    const struct sched_node *n = sched_cache_node_get(c, "n1");
    assert_int_equal(n->req_cpu_m, 750);
    assert_int_equal(n->req_mem, 2LL << 30);
    assert_int_equal(n->n_pods, 2);
    add_pod(c, "a", "n1", "500m", "1Gi", "Succeeded");
    n = sched_cache_node_get(c, "n1");
    assert_int_equal(n->req_cpu_m, 250);
    assert_int_equal(n->n_pods, 1);
    add_pod(c, "b", "n1", "250m", "1Gi", "Failed");
    n = sched_cache_node_get(c, "n1");
    assert_int_equal(n->req_cpu_m, 0);
    assert_int_equal(n->req_mem, 0);
    assert_int_equal(n->n_pods, 0);
    assert_int_equal(sched_cache_pod_count(c), 2);
    sched_cache_pod_remove(c, "default", "a");
    assert_int_equal(sched_cache_pod_count(c), 1);
    sched_cache_free(c);
}

static void test_assume_counts_until_confirmed_or_forgotten(void **state)
{
    struct sched_cache *c;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    add_node(c, "n1", "2", "4Gi");
    add_pod(c, "p", "", "1", "1Gi", "Pending");
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 0);
    assert_int_equal(sched_cache_assume(c, "default", "p", "n1", &e), 0);
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 1000);
    assert_int_equal(sched_cache_assume(c, "default", "p", "n1", &e), ERR_CONFLICT);
    assert_int_equal(sched_cache_assume(c, "default", "nope", "n1", &e), ERR_NOTFOUND);
    assert_int_equal(sched_cache_assume(c, "default", "p", "n9", &e), ERR_NOTFOUND);
    /* a status update that still has no nodeName keeps the assumption */
    add_pod(c, "p", "", "1", "1Gi", "Pending");
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 1000);
    assert_int_equal(sched_cache_forget(c, "default", "p", &e), 0);
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 0);
    assert_int_equal(sched_cache_forget(c, "default", "p", &e), ERR_CONFLICT);
    /* assume, then the bind arrives through the watch: confirmed, counted once */
    assert_int_equal(sched_cache_assume(c, "default", "p", "n1", &e), 0);
    add_pod(c, "p", "n1", "1", "1Gi", "Pending");
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 1000);
    assert_int_equal(sched_cache_node_get(c, "n1")->n_pods, 1);
    assert_int_equal(sched_cache_forget(c, "default", "p", &e), ERR_CONFLICT);
    sched_cache_free(c);
}

static void test_pods_on_unknown_nodes_wait_on_a_ghost(void **state)
{
    struct sched_cache *c;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    add_pod(c, "p", "n1", "1", "1Gi", "Running");
    assert_int_equal(sched_cache_node_count(c), 0);
    assert_false(sched_cache_node_get(c, "n1")->present);
    add_node(c, "n1", "2", "4Gi");
    assert_int_equal(sched_cache_node_count(c), 1);
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 1000);
    sched_cache_node_remove(c, "n1");
    assert_int_equal(sched_cache_node_count(c), 0);
    assert_non_null(sched_cache_node_get(c, "n1"));
    sched_cache_pod_remove(c, "default", "p");
    assert_null(sched_cache_node_get(c, "n1"));
    add_node(c, "n1", "2", "4Gi");
    assert_int_equal(sched_cache_node_get(c, "n1")->req_cpu_m, 0);
    sched_cache_free(c);
}

static void test_node_parse_reads_allocatable_taints_ready(void **state)
{
    struct sched_cache *c;
    struct err e = {0}, warn = {0};
    json_t *j = J("{'metadata':{'name':'n'},'spec':{'unschedulable':true,'taints':["
                  "{'key':'a','value':'b','effect':'NoSchedule'},"
                  "{'key':'s','effect':'PreferNoSchedule'}]},"
                  "'status':{'allocatable':{'cpu':'3500m','memory':'1Gi','pods':'10',"
                  "'ephemeral-storage':'10G','nvidia.com/gpu':'2'},"
                  "'conditions':[{'type':'Ready','status':'Unknown'}]}}");
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    assert_int_equal(sched_cache_node_upsert(c, j, &warn, &e), 0);
    assert_int_equal(warn.code, 0);
    const struct sched_node *n = sched_cache_node_get(c, "n");
    assert_true(n->unschedulable);
    assert_int_equal(n->alloc_cpu_m, 3500);
    assert_int_equal(n->alloc_mem, 1LL << 30);
    assert_int_equal(n->alloc_pods, 10);
    assert_int_equal(n->alloc_eph, 10000000000LL);
    assert_int_equal(n->n_ext, 1);
    assert_int_equal(n->alloc_ext[0].value, 2);
    assert_int_equal(n->n_taints, 3);
    assert_int_equal(n->n_hard_taints, 2);
    assert_int_equal(n->n_soft_taints, 1);
    assert_string_equal(n->taints[2].key, "node.kubernetes.io/unreachable");
    json_decref(j);
    sched_cache_free(c);
}

static void test_extended_resources_recounted_on_node_update(void **state)
{
    struct sched_cache *c;
    struct err e = {0};
    json_t *n0 = J("{'metadata':{'name':'n'},'status':{'allocatable':{'cpu':'1','pods':'5'},"
                   "'conditions':[{'type':'Ready','status':'True'}]}}");
    json_t *n1 = J("{'metadata':{'name':'n'},'status':{'allocatable':{'cpu':'1','pods':'5',"
                   "'example.com/foo':'3'},'conditions':[{'type':'Ready','status':'True'}]}}");
    json_t *p = J("{'metadata':{'name':'p'},'spec':{'nodeName':'n','containers':[{'name':'c',"
                  "'resources':{'requests':{'example.com/foo':'2'}}}]}}");
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    assert_int_equal(sched_cache_node_upsert(c, n0, NULL, &e), 0);
    assert_int_equal(sched_cache_pod_upsert(c, p, NULL, &e), 0);
    assert_int_equal(sched_cache_node_get(c, "n")->n_ext, 0);
    assert_int_equal(sched_cache_node_upsert(c, n1, NULL, &e), 0);
    assert_int_equal(sched_cache_node_get(c, "n")->req_ext[0], 2);
    sched_cache_pod_remove(c, "default", "p");
    assert_int_equal(sched_cache_node_get(c, "n")->req_ext[0], 0);
    json_decref(n0);
    json_decref(n1);
    json_decref(p);
    sched_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantity_parses_kubernetes_syntax),
        cmocka_unit_test(test_quantity_rejects_bad_input),
        cmocka_unit_test(test_invalid_request_counts_zero_with_warning),
        cmocka_unit_test(test_pod_parse_rejects_nameless_pod),
        cmocka_unit_test(test_init_containers_take_the_max),
        cmocka_unit_test(test_sidecar_init_containers_add_up),
        cmocka_unit_test(test_succeeded_pods_free_resources),
        cmocka_unit_test(test_assume_counts_until_confirmed_or_forgotten),
        cmocka_unit_test(test_pods_on_unknown_nodes_wait_on_a_ghost),
        cmocka_unit_test(test_node_parse_reads_allocatable_taints_ready),
        cmocka_unit_test(test_extended_resources_recounted_on_node_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
