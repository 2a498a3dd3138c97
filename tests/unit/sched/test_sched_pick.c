/* Scheduling decisions: every filter admitting and rejecting, the
 * kube-scheduler "0/N nodes are available" text, the scores (least
 * allocated, owner spreading, preferred affinity, PreferNoSchedule), assume
 * against overcommit, determinism, and a randomized property test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_core.h"

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

/* A node: labels and spec are JSON object bodies ("" for none). */
static void node(struct sched_cache *c, const char *name, const char *cpu, const char *mem,
                 const char *labels, const char *spec)
{
    struct err e = {0};
    json_t *n = J("{'metadata':{'name':'%s','labels':{'kubernetes.io/hostname':'%s'%s%s}},"
                  "'spec':{%s},'status':{'allocatable':{'cpu':'%s','memory':'%s','pods':'110',"
                  "'ephemeral-storage':'100Gi'},"
                  "'conditions':[{'type':'Ready','status':'True'}]}}",
                  name, name, labels[0] ? "," : "", labels, spec, cpu, mem);
    assert_int_equal(sched_cache_node_upsert(c, n, NULL, &e), 0);
    json_decref(n);
}

/* A parsed pod: spec_extra and meta_extra are JSON object members ("" for none). */
static struct sched_pod *pod(const char *name, const char *cpu, const char *mem,
                             const char *meta_extra, const char *spec_extra)
{
    struct sched_pod *p;
    struct err e = {0}, warn = {0};
    json_t *j = J("{'metadata':{'name':'%s','namespace':'default','uid':'uid-%s'%s%s},"
                  "'spec':{'containers':[{'name':'c','resources':{'requests':"
                  "{'cpu':'%s','memory':'%s'}}}]%s%s}}",
                  name, name, meta_extra[0] ? "," : "", meta_extra, cpu, mem,
                  spec_extra[0] ? "," : "", spec_extra);
    assert_int_equal(sched_pod_parse(j, &p, &warn, &e), 0);
    if (warn.code != 0)
        fail_msg("unexpected warning: %s", warn.msg);
    json_decref(j);
    return p;
}

/* Puts a parsed copy of pod name into the cache (pending), for assume. */
static void cache_pod(struct sched_cache *c, const char *name, const char *cpu, const char *mem,
                      const char *meta_extra, const char *spec_extra)
{
    struct err e = {0};
    assert_int_equal(
        sched_cache_pod_upsert_parsed(c, pod(name, cpu, mem, meta_extra, spec_extra), &e), 0);
}

/* Picks for p and returns the node name ("" when none; message then in m). */
static const char *pick(struct sched_cache *c, const struct sched_pod *p, struct sched_pick *m)
{
    struct err e = {0};
    int rv = sched_pick(c, p, m, &e);
    if (rv == 0)
        return m->node_name;
    assert_int_equal(rv, ERR_NOTFOUND);
    assert_null(m->node_name);
    return "";
}

/* Binds p onto node through the cache as the watch would deliver it. */
static void bind(struct sched_cache *c, const char *name, const char *node_name, const char *cpu,
                 const char *mem, const char *meta_extra, const char *spec_extra)
{
    char spec[1024];
    snprintf(spec, sizeof spec, "'nodeName':'%s'%s%s", node_name, spec_extra[0] ? "," : "",
             spec_extra);
    cache_pod(c, name, cpu, mem, meta_extra, spec);
}

static struct sched_cache *cache3(void)
{
    struct sched_cache *c;
    struct err e = {0};
    assert_int_equal(sched_cache_new(&c, &e), 0);
    node(c, "n1", "4", "8Gi", "'zone':'a','disk':'ssd','cores':'4'", "");
    node(c, "n2", "4", "8Gi", "'zone':'b','disk':'hdd','cores':'8'", "");
    node(c, "n3", "4", "8Gi", "'zone':'c','cores':'16'", "");
    return c;
}

/* The one node the pod may go to (all others must fail the filter). */
static void expect_only(struct sched_cache *c, struct sched_pod *p, const char *want)
{
    struct sched_pick m;
    assert_string_equal(pick(c, p, &m), want);
    assert_int_equal(m.n_feasible, want[0] ? 1 : 0);
    sched_pod_free(p);
}

static void test_filter_resources(void **state)
{
    struct sched_cache *c = cache3();
    struct sched_pick m;
    (void)state;
    bind(c, "b1", "n1", "3", "1Gi", "", "");
    bind(c, "b2", "n2", "1", "7Gi", "", "");
    /* 2 cpu only fits n2 and n3; 2Gi fits n1 and n3 */
    expect_only(c, pod("p", "2", "2Gi", "", ""), "n3");
    struct sched_pod *p = pod("big", "5", "1Gi", "", "");
    assert_string_equal(pick(c, p, &m), "");
    assert_string_equal(m.message, "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 "
                                   "nodes are available: 3 No preemption victims found for "
                                   "incoming pod.");
    sched_pod_free(p);
    /* extended resources: no node advertises them */
    p = pod("gpu", "1", "1Gi", "",
            "'initContainers':[{'name':'i','resources':{'requests':{'nvidia.com/gpu':'1'}}}]");
    assert_string_equal(pick(c, p, &m), "");
    assert_non_null(strstr(m.message, "3 Insufficient nvidia.com/gpu"));
    sched_pod_free(p);
    /* ephemeral-storage */
    p = pod("eph", "1", "1Gi", "", "'overhead':{'ephemeral-storage':'101Gi'}");
    assert_string_equal(pick(c, p, &m), "");
    assert_non_null(strstr(m.message, "3 Insufficient ephemeral-storage"));
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_filter_pod_count(void **state)
{
    struct sched_cache *c;
    struct sched_pick m;
    struct err e = {0};
    json_t *n = J("{'metadata':{'name':'tiny'},'status':{'allocatable':{'cpu':'4','memory':"
                  "'4Gi','pods':'1'},'conditions':[{'type':'Ready','status':'True'}]}}");
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    assert_int_equal(sched_cache_node_upsert(c, n, NULL, &e), 0);
    struct sched_pod *p = pod("p", "0", "0", "", "");
    assert_string_equal(pick(c, p, &m), "tiny");
    bind(c, "q", "tiny", "0", "0", "", "");
    assert_string_equal(pick(c, p, &m), "");
    assert_non_null(strstr(m.message, "1 Too many pods"));
    sched_pod_free(p);
    json_decref(n);
    sched_cache_free(c);
}

static void test_filter_node_selector(void **state)
{
    struct sched_cache *c = cache3();
    (void)state;
    expect_only(c, pod("p", "1", "1Gi", "", "'nodeSelector':{'disk':'ssd'}"), "n1");
    expect_only(c, pod("p", "1", "1Gi", "", "'nodeSelector':{'disk':'ssd','zone':'b'}"), "");
    expect_only(c, pod("p", "1", "1Gi", "", "'nodeSelector':{'zone':'c'}"), "n3");
    sched_cache_free(c);
}

static struct sched_pod *affinity_pod(const char *terms)
{
    char spec[2048];
    snprintf(spec, sizeof spec,
             "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
             "{'nodeSelectorTerms':[%s]}}}",
             terms);
    return pod("p", "1", "1Gi", "", spec);
}

static void test_filter_required_node_affinity(void **state)
{
    struct sched_cache *c = cache3();
    (void)state;
    expect_only(
        c, affinity_pod("{'matchExpressions':[{'key':'zone','operator':'In','values':['b','x']}]}"),
        "n2");
    expect_only(
        c,
        affinity_pod("{'matchExpressions':[{'key':'zone','operator':'NotIn','values':['a','b']}]}"),
        "n3");
    expect_only(c, affinity_pod("{'matchExpressions':[{'key':'disk','operator':'DoesNotExist'}]}"),
                "n3");
    expect_only(c,
                affinity_pod("{'matchExpressions':[{'key':'disk','operator':'Exists'},"
                             "{'key':'zone','operator':'In','values':['a']}]}"),
                "n1");
    expect_only(
        c, affinity_pod("{'matchExpressions':[{'key':'cores','operator':'Gt','values':['8']}]}"),
        "n3");
    expect_only(
        c, affinity_pod("{'matchExpressions':[{'key':'cores','operator':'Lt','values':['8']}]}"),
        "n1");
    expect_only(
        c, affinity_pod("{'matchExpressions':[{'key':'zone','operator':'Gt','values':['1']}]}"),
        "");
    expect_only(
        c,
        affinity_pod("{'matchFields':[{'key':'metadata.name','operator':'In','values':['n2']}]}"),
        "n2");
    /* terms are ORed: n1 by one, n3 by the other, minus n1 by matchFields */
    struct sched_pick m;
    struct sched_pod *p =
        affinity_pod("{'matchExpressions':[{'key':'zone','operator':'In','values':['a']}]},"
                     "{'matchExpressions':[{'key':'zone','operator':'In','values':['c']}]}");
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2);
    sched_pod_free(p);
    /* an empty term and an empty term list select nothing */
    expect_only(c, affinity_pod("{}"), "");
    expect_only(c, affinity_pod(""), "");
    sched_cache_free(c);
}

static void test_filter_taints_and_tolerations(void **state)
{
    struct sched_cache *c;
    struct sched_pick m;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    node(c, "ns", "4", "8Gi", "", "'taints':[{'key':'gpu','value':'yes','effect':'NoSchedule'}]");
    node(c, "ne", "4", "8Gi", "",
         "'taints':[{'key':'dedicated','value':'db','effect':'NoExecute'}]");
    node(c, "pref", "4", "8Gi", "", "'taints':[{'key':'meh','effect':'PreferNoSchedule'}]");
    expect_only(c, pod("p", "1", "1Gi", "", ""), "pref");
    struct sched_pod *p =
        pod("p", "1", "1Gi", "", "'tolerations':[{'key':'gpu','operator':'Equal','value':'yes'}]");
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2);
    sched_pod_free(p);
    /* wrong value, wrong effect: still blocked */
    p = pod("p", "1", "1Gi", "",
            "'tolerations':[{'key':'gpu','value':'no'},"
            "{'key':'dedicated','operator':'Exists','effect':'NoSchedule'}]");
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 1);
    sched_pod_free(p);
    /* operator Exists with no key tolerates everything */
    p = pod("p", "1", "1Gi", "", "'tolerations':[{'operator':'Exists'}]");
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 3);
    sched_pod_free(p);
    /* the message names each untolerated taint */
    p = pod("p", "1", "1Gi", "", "'nodeSelector':{'nope':'x'}");
    pick(c, p, &m);
    assert_string_equal(m.message,
                        "0/3 nodes are available: 1 node(s) didn't match Pod's node "
                        "affinity/selector, 1 node(s) had untolerated taint {dedicated: db}, 1 "
                        "node(s) had untolerated taint {gpu: yes}. preemption: 0/3 nodes are "
                        "available: 3 Preemption is not helpful for scheduling.");
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_filter_unschedulable_and_not_ready(void **state)
{
    struct sched_cache *c;
    struct sched_pick m;
    struct err e = {0};
    json_t *nr = J("{'metadata':{'name':'down'},'status':{'allocatable':{'cpu':'4','memory':'4Gi',"
                   "'pods':'10'},'conditions':[{'type':'Ready','status':'False'}]}}");
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    node(c, "cordoned", "4", "8Gi", "", "'unschedulable':true");
    assert_int_equal(sched_cache_node_upsert(c, nr, NULL, &e), 0);
    struct sched_pod *p = pod("p", "1", "1Gi", "", "");
    assert_string_equal(pick(c, p, &m), "");
    assert_string_equal(m.message,
                        "0/2 nodes are available: 1 node(s) had untolerated taint "
                        "{node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable. "
                        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
                        "scheduling.");
    sched_pod_free(p);
    expect_only(c,
                pod("p", "1", "1Gi", "",
                    "'tolerations':[{'key':'node.kubernetes.io/unschedulable',"
                    "'operator':'Exists','effect':'NoSchedule'}]"),
                "cordoned");
    expect_only(c,
                pod("p", "1", "1Gi", "",
                    "'tolerations':[{'key':'node.kubernetes.io/not-ready',"
                    "'operator':'Exists'}]"),
                "down");
    json_decref(nr);
    sched_cache_free(c);
}

static void test_filter_host_ports(void **state)
{
    struct sched_cache *c = cache3();
    struct sched_pick m;
    (void)state;
    const char *p80 = "'containers':[{'name':'c','ports':[{'containerPort':80,'hostPort':80}]}]";
    /* these pods need their own containers list: raw JSON */
    struct err e = {0};
    json_t *j = J("{'metadata':{'name':'h1'},'spec':{'nodeName':'n1',%s}}", p80);
    assert_int_equal(sched_cache_pod_upsert(c, j, NULL, &e), 0);
    json_decref(j);
    j = J("{'metadata':{'name':'h2'},'spec':{'nodeName':'n2','containers':[{'name':'c','ports':"
          "[{'containerPort':80,'hostPort':80,'hostIP':'10.0.0.1'}]}]}}");
    assert_int_equal(sched_cache_pod_upsert(c, j, NULL, &e), 0);
    json_decref(j);
    j = J("{'metadata':{'name':'h3'},'spec':{'nodeName':'n3','containers':[{'name':'c','ports':"
          "[{'containerPort':80,'hostPort':80,'protocol':'UDP'}]}]}}");
    assert_int_equal(sched_cache_pod_upsert(c, j, NULL, &e), 0);
    json_decref(j);

    struct sched_pod *p;
    j = J("{'metadata':{'name':'x'},'spec':{%s}}", p80);
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), 0);
    json_decref(j);
    expect_only(c, p, "n3"); /* 0.0.0.0 conflicts with every address; UDP is another port */
    j = J("{'metadata':{'name':'x'},'spec':{'containers':[{'name':'c','ports':"
          "[{'containerPort':80,'hostPort':80,'hostIP':'10.0.0.2'}]}]}}");
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), 0);
    json_decref(j);
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2); /* n2 holds only 10.0.0.1:80 */
    sched_pod_free(p);
    j = J("{'metadata':{'name':'x'},'spec':{'containers':[{'name':'c','ports':"
          "[{'containerPort':80,'hostPort':80,'hostIP':'10.0.0.1','protocol':'UDP'}]}]}}");
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), 0);
    json_decref(j);
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2);
    assert_true(strcmp(m.node_name, "n3") != 0);
    sched_pod_free(p);
    /* the port frees when its pod goes */
    sched_cache_pod_remove(c, "default", "h1");
    j = J("{'metadata':{'name':'x'},'spec':{%s}}", p80);
    assert_int_equal(sched_pod_parse(j, &p, NULL, &e), 0);
    json_decref(j);
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2);
    sched_cache_pod_remove(c, "default", "h3");
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2); /* n2's 10.0.0.1 still blocks 0.0.0.0 */
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_filter_pod_anti_affinity(void **state)
{
    struct sched_cache *c = cache3();
    struct sched_pick m;
    const char *anti =
        "'affinity':{'podAntiAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
        "[{'labelSelector':{'matchLabels':{'app':'web'}},"
        "'topologyKey':'kubernetes.io/hostname'}]}}";
    (void)state;
    bind(c, "w1", "n1", "100m", "64Mi", "'labels':{'app':'web'}", "");
    bind(c, "d1", "n2", "100m", "64Mi", "'labels':{'app':'db'}", "");
    bind(c, "w2", "n3", "100m", "64Mi", "'labels':{'app':'web'},'namespace':'other'", "");
    /* w2 is in another namespace: the term only looks at default */
    struct sched_pod *p = pod("w3", "1", "1Gi", "'labels':{'app':'web'}", anti);
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2);
    assert_true(strcmp(m.node_name, "n1") != 0);
    sched_pod_free(p);
    /* an existing pod's rule keeps a matching newcomer away */
    bind(c, "guard", "n2", "100m", "64Mi", "'labels':{'app':'guard'}", anti);
    p = pod("w4", "1", "1Gi", "'labels':{'app':'web'}", "");
    pick(c, p, &m);
    assert_int_equal(m.n_feasible, 2);
    assert_true(strcmp(m.node_name, "n2") != 0);
    sched_pod_free(p);
    p = pod("w5", "1", "1Gi", "'labels':{'app':'web'}", anti);
    assert_string_equal(pick(c, p, &m), "n3");
    sched_pod_free(p);
    /* namespaces: [other] makes w2 count */
    p = pod(
        "w6", "1", "1Gi", "'labels':{'app':'web'}",
        "'affinity':{'podAntiAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
        "[{'labelSelector':{'matchExpressions':[{'key':'app','operator':'In','values':['web']}]},"
        "'namespaces':['other','default'],'topologyKey':'kubernetes.io/hostname'}]}}");
    assert_string_equal(pick(c, p, &m), "");
    assert_string_equal(m.message,
                        "0/3 nodes are available: 1 node(s) didn't satisfy existing pods "
                        "anti-affinity rules, 2 node(s) didn't match pod anti-affinity rules. "
                        "preemption: 0/3 nodes are available: 3 No preemption victims found for "
                        "incoming pod.");
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_message_for_mixed_cluster(void **state)
{
    struct sched_cache *c;
    struct sched_pick m;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    node(c, "a", "4", "2Gi", "'disk':'ssd'", "");
    node(c, "b", "4", "2Gi", "'disk':'ssd'", "");
    node(c, "c", "4", "16Gi", "'disk':'hdd'", "");
    struct sched_pod *p = pod("p", "1", "4Gi", "", "'nodeSelector':{'disk':'ssd'}");
    assert_string_equal(pick(c, p, &m), "");
    assert_string_equal(m.message,
                        "0/3 nodes are available: 1 node(s) didn't match Pod's node "
                        "affinity/selector, 2 Insufficient memory. preemption: 0/3 nodes are "
                        "available: 1 Preemption is not helpful for scheduling, 2 No preemption "
                        "victims found for incoming pod.");
    assert_int_equal(sched_pick(c, p, &m, &e), ERR_NOTFOUND);
    assert_int_equal(strncmp(e.msg, "0/3 nodes are available: 1 node(s)", 34), 0);
    sched_pod_free(p);
    /* several resource reasons per node are each counted */
    p = pod("p", "5", "4Gi", "'labels':{'x':'y'}", "'preemptionPolicy':'Never'");
    pick(c, p, &m);
    assert_string_equal(m.message, "0/3 nodes are available: 2 Insufficient memory, 3 "
                                   "Insufficient cpu. preemption: not eligible due to "
                                   "preemptionPolicy=Never.");
    sched_pod_free(p);
    sched_cache_free(c);
    assert_int_equal(sched_cache_new(&c, &e), 0);
    p = pod("p", "1", "1Gi", "", "");
    assert_string_equal(pick(c, p, &m), "");
    assert_string_equal(m.message, "no nodes available to schedule pods");
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_score_prefers_least_allocated(void **state)
{
    struct sched_cache *c = cache3();
    struct sched_pick m;
    (void)state;
    bind(c, "x1", "n1", "2", "2Gi", "", "");
    bind(c, "x2", "n2", "1", "1Gi", "", "");
    bind(c, "x3", "n3", "3", "1Gi", "", "");
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        struct sched_pod *p = pod(name, "100m", "100Mi", "", "");
        assert_string_equal(pick(c, p, &m), "n2");
        sched_pod_free(p);
    }
    /* memory weighs as much as cpu */
    bind(c, "x4", "n2", "0", "6Gi", "", "");
    struct sched_pod *p = pod("q", "100m", "100Mi", "", "");
    assert_string_equal(pick(c, p, &m), "n1");
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_score_preferred_affinity_and_prefer_no_schedule(void **state)
{
    struct sched_cache *c;
    struct sched_pick m;
    struct err e = {0};
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    node(c, "a", "4", "8Gi", "'zone':'a'", "");
    node(c, "b", "4", "8Gi", "'zone':'b'", "");
    node(c, "t", "64", "256Gi", "'zone':'c'", "'taints':[{'key':'k','effect':'PreferNoSchedule'}]");
    /* t is emptier, but carries an untolerated PreferNoSchedule taint */
    struct sched_pod *p = pod("p", "1", "1Gi", "", "");
    assert_true(strcmp(pick(c, p, &m), "t") != 0);
    sched_pod_free(p);
    p = pod("p", "1", "1Gi", "",
            "'tolerations':[{'key':'k','operator':'Exists','effect':'PreferNoSchedule'}]");
    assert_string_equal(pick(c, p, &m), "t");
    sched_pod_free(p);
    p = pod("p", "1", "1Gi", "",
            "'affinity':{'nodeAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':["
            "{'weight':10,'preference':{'matchExpressions':[{'key':'zone','operator':'In','values':"
            "['a']}]}},"
            "{'weight':50,'preference':{'matchExpressions':[{'key':'zone','operator':'In','values':"
            "['b']}]}}]}}");
    assert_string_equal(pick(c, p, &m), "b");
    sched_pod_free(p);
    sched_cache_free(c);
}

static void test_owner_pods_spread_over_nodes(void **state)
{
    struct sched_cache *c = cache3();
    struct err e = {0};
    struct sched_pick m;
    int per[3] = {0};
    const char *owner = "'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet',"
                        "'name':'rs','uid':'rs-uid','controller':true}]";
    (void)state;
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "web-%d", i);
        cache_pod(c, name, "100m", "128Mi", owner, "");
        const struct sched_pod *p = sched_cache_pod_get(c, "default", name);
        assert_non_null(p);
        assert_int_equal(sched_pick(c, p, &m, &e), 0);
        per[m.node_name[1] - '1']++;
        assert_int_equal(sched_cache_assume(c, "default", name, m.node_name, &e), 0);
    }
    assert_int_equal(per[0], 2);
    assert_int_equal(per[1], 2);
    assert_int_equal(per[2], 2);
    sched_cache_free(c);
}

static void test_assume_prevents_overcommit(void **state)
{
    struct sched_cache *c;
    struct err e = {0};
    struct sched_pick m;
    int placed = 0;
    (void)state;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    node(c, "a", "2", "4Gi", "", "");
    node(c, "b", "2", "4Gi", "", "");
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        cache_pod(c, name, "600m", "1Gi", "", "");
        if (sched_pick(c, sched_cache_pod_get(c, "default", name), &m, &e) != 0)
            continue;
        assert_int_equal(sched_cache_assume(c, "default", name, m.node_name, &e), 0);
        placed++;
    }
    assert_int_equal(placed, 6); /* 3 x 600m per 2-cpu node */
    assert_true(sched_cache_node_get(c, "a")->req_cpu_m <= 2000);
    assert_true(sched_cache_node_get(c, "b")->req_cpu_m <= 2000);
    /* a failed bind gives the room back */
    assert_int_equal(sched_cache_forget(c, "default", "p0", &e), 0);
    assert_int_equal(sched_pick(c, sched_cache_pod_get(c, "default", "p9"), &m, &e), 0);
    sched_cache_free(c);
}

/* ---- determinism and the property test ---- */

static unsigned long long rng_state;
static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static const char *zones[] = {"a", "b", "c"};

static void random_node(struct sched_cache *c, int i)
{
    char name[32], labels[256], spec[512];
    snprintf(name, sizeof name, "node-%03d", i);
    snprintf(labels, sizeof labels, "'zone':'%s','size':'%u'", zones[rnd(3)], rnd(4));
    switch (rnd(6)) {
    case 0:
        snprintf(spec, sizeof spec,
                 "'taints':[{'key':'dedicated','value':'%s','effect':'NoSchedule'}]",
                 zones[rnd(3)]);
        break;
    case 1:
        snprintf(spec, sizeof spec, "'taints':[{'key':'soft','effect':'PreferNoSchedule'}]");
        break;
    case 2:
        snprintf(spec, sizeof spec, "'unschedulable':%s", rnd(3) == 0 ? "true" : "false");
        break;
    default:
        spec[0] = '\0';
    }
    char cpu[16], mem[16];
    snprintf(cpu, sizeof cpu, "%u", 1 + rnd(8));
    snprintf(mem, sizeof mem, "%uGi", 1 + rnd(16));
    node(c, name, cpu, mem, labels, spec);
}

static struct sched_pod *random_pod(int i)
{
    char name[32], cpu[16], mem[16], meta[256] = "", spec[1024] = "";
    size_t n = 0;
    snprintf(name, sizeof name, "pod-%04d", i);
    snprintf(cpu, sizeof cpu, "%um", 100 + rnd(900));
    snprintf(mem, sizeof mem, "%uMi", 64 << rnd(5));
    snprintf(meta, sizeof meta,
             "'labels':{'app':'app%u'},'ownerReferences':[{'uid':'rs-%u',"
             "'controller':true}]",
             rnd(5), rnd(8));
    if (rnd(4) == 0)
        n += (size_t)snprintf(spec + n, sizeof spec - n, ",'nodeSelector':{'zone':'%s'}",
                              zones[rnd(3)]);
    if (rnd(4) == 0)
        n += (size_t)snprintf(spec + n, sizeof spec - n,
                              ",'tolerations':[{'key':'dedicated','operator':'Exists'}]");
    if (rnd(5) == 0)
        n += (size_t)snprintf(spec + n, sizeof spec - n,
                              ",'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnored"
                              "DuringExecution':{'nodeSelectorTerms':[{'matchExpressions':[{'key':"
                              "'size','operator':'Gt','values':['%u']}]}]}}}",
                              rnd(3));
    else if (rnd(6) == 0)
        n += (size_t)snprintf(spec + n, sizeof spec - n,
                              ",'affinity':{'podAntiAffinity':{'requiredDuringScheduling"
                              "IgnoredDuringExecution':[{'labelSelector':{'matchLabels':{'app':"
                              "'app%u'}},'topologyKey':'kubernetes.io/hostname'}]}}",
                              rnd(5));
    if (rnd(8) == 0)
        n += (size_t)snprintf(spec + n, sizeof spec - n,
                              ",'overhead':{'cpu':'10m'},'initContainers':[{'name':'i','ports':[],"
                              "'resources':{'requests':{'cpu':'%um'}}}]",
                              100 + rnd(2000));
    return pod(name, cpu, mem, meta, spec + (spec[0] == ',' ? 1 : 0));
}

/* The generator's rules restated without the filter code: zone selector,
 * the dedicated taint, the size affinity and the app anti-affinity. */
static const char *label(const struct sched_node *n, const char *key)
{
    for (size_t i = 0; i < n->n_labels; i++)
        if (strcmp(n->labels[i].key, key) == 0)
            return n->labels[i].value;
    return NULL;
}

static void independent_check(const struct sched_node *n, const struct sched_pod *p)
{
    for (size_t i = 0; i < p->n_node_selector; i++)
        assert_string_equal(label(n, p->node_selector[i].key), p->node_selector[i].value);
    for (size_t i = 0; i < n->n_taints; i++)
        if (strcmp(n->taints[i].key, "dedicated") == 0)
            assert_true(p->n_tols == 1 && strcmp(p->tols[0].key, "dedicated") == 0);
    if (p->n_required == 1)
        assert_true(atoi(label(n, "size")) > atoi(p->required[0].exprs[0].values[0]));
    for (size_t i = 0; i < p->n_anti; i++)
        for (const struct sched_pod *q = n->pods; q != NULL; q = q->next__)
            for (size_t j = 0; j < q->n_labels; j++)
                assert_false(strcmp(q->labels[j].key, "app") == 0 &&
                             strcmp(q->labels[j].value, p->anti[i].sel->labels[0].value) == 0);
}

/* Places n_pods random pods on n_nodes random nodes; returns the choices. */
static void run_random(unsigned long long seed, int n_nodes, int n_pods, char (*out)[32],
                       bool check)
{
    struct sched_cache *c;
    struct err e = {0};
    struct sched_pick m;
    rng_state = seed;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    for (int i = 0; i < n_nodes; i++)
        random_node(c, i);
    for (int i = 0; i < n_pods; i++) {
        struct sched_pod *p = random_pod(i);
        char name[32];
        snprintf(name, sizeof name, "%s", p->name);
        assert_int_equal(sched_cache_pod_upsert_parsed(c, p, &e), 0);
        p = (struct sched_pod *)sched_cache_pod_get(c, "default", name);
        int rv = sched_pick(c, p, &m, &e);
        snprintf(out[i], 32, "%s", rv == 0 ? m.node_name : "-");
        if (rv != 0) {
            assert_int_equal(rv, ERR_NOTFOUND);
            assert_true(strncmp(m.message, "0/", 2) == 0);
            continue;
        }
        const struct sched_node *n = sched_cache_node_get(c, m.node_name);
        if (check) {
            /* every filter, checked independently before counting the pod */
            assert_true(n->present);
            assert_true(sched__fits_unschedulable(n, p));
            assert_null(sched__untolerated_taint(n, p));
            assert_true(sched__fits_affinity(n, p));
            assert_true(sched__fits_ports(n, p));
            assert_true(sched__fits_resources(n, p));
            assert_int_equal(sched__fits_anti_affinity(n, p), 0);
            assert_true(!n->unschedulable || p->n_tols > 0);
            independent_check(n, p);
        }
        assert_int_equal(sched_cache_assume(c, "default", name, m.node_name, &e), 0);
        if (check) {
            n = sched_cache_node_get(c, m.node_name);
            assert_true(n->req_cpu_m <= n->alloc_cpu_m);
            assert_true(n->req_mem <= n->alloc_mem);
            assert_true(n->n_pods <= n->alloc_pods);
        }
        /* half of them the watch confirms */
        if (rnd(2) == 0) {
            json_t *j = J("{'metadata':{'name':'%s','namespace':'default','uid':'uid-%s'},"
                          "'spec':{'nodeName':'%s','containers':[{'name':'c','resources':"
                          "{'requests':{'cpu':'%lldm','memory':'%lld'}}}]}}",
                          name, name, m.node_name, (long long)p->cpu_m, (long long)p->mem);
            assert_int_equal(sched_cache_pod_upsert(c, j, NULL, &e), 0);
            json_decref(j);
        }
    }
    sched_cache_free(c);
}

static void test_random_placements_satisfy_every_filter(void **state)
{
    static char got[200][32];
    (void)state;
    for (unsigned long long seed = 1; seed <= 5; seed++) {
        run_random(seed * 0x9E3779B97F4A7C15ULL, 200, 200, got, true);
        run_random(seed, 20, 200, got, true); /* crowded: many pods find no room */
    }
}

static void test_same_input_same_choices(void **state)
{
    static char a[200][32], b[200][32];
    (void)state;
    run_random(42, 50, 200, a, false);
    run_random(42, 50, 200, b, false);
    for (int i = 0; i < 200; i++)
        assert_string_equal(a[i], b[i]);
    /* and equal nodes are not all the same choice */
    struct sched_cache *c;
    struct err e = {0};
    struct sched_pick m;
    int first = 0;
    assert_int_equal(sched_cache_new(&c, &e), 0);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        node(c, name, "4", "8Gi", "", "");
    }
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        struct sched_pod *p = pod(name, "100m", "64Mi", "", "");
        assert_int_equal(sched_pick(c, p, &m, &e), 0);
        first += strcmp(m.node_name, "n0") == 0;
        sched_pod_free(p);
    }
    assert_true(first < 10);
    sched_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_resources),
        cmocka_unit_test(test_filter_pod_count),
        cmocka_unit_test(test_filter_node_selector),
        cmocka_unit_test(test_filter_required_node_affinity),
        cmocka_unit_test(test_filter_taints_and_tolerations),
        cmocka_unit_test(test_filter_unschedulable_and_not_ready),
        cmocka_unit_test(test_filter_host_ports),
        cmocka_unit_test(test_filter_pod_anti_affinity),
        cmocka_unit_test(test_message_for_mixed_cluster),
        cmocka_unit_test(test_score_prefers_least_allocated),
        cmocka_unit_test(test_score_preferred_affinity_and_prefer_no_schedule),
        cmocka_unit_test(test_owner_pods_spread_over_nodes),
        cmocka_unit_test(test_assume_prevents_overcommit),
        cmocka_unit_test(test_random_placements_satisfy_every_filter),
        cmocka_unit_test(test_same_input_same_choices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
