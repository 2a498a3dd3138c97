/* The node lifecycle and Endpoints controllers against a stand-in for the
 * leader-loop framework: caches are JSON maps the test fills, time and
 * reachability are the test's, and writes are recorded (and applied to the
 * caches by the test) instead of going through consensus. The stand-in
 * defines every sched__ function the two controllers call, so the real
 * sched/sched.c is not linked in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/internal.h"

/* ---- the stand-in framework ---- */

struct sched {
    json_t *objs[SK__COUNT];
    json_t *reachable; /* node name -> true */
    json_t *writes;    /* [{op, kind, key, obj}] */
    json_t *queue;     /* key set, every controller */
    uint64_t now_ms, leading_ms;
    struct sched_config cfg;
    int rv; /* next resourceVersion */
};

static const char *const resources[SK__COUNT] = {
    [SK_NODE] = "minions",
    [SK_POD] = "pods",
    [SK_SERVICE] = "services/specs",
    [SK_ENDPOINTS] = "services/endpoints",
};

json_t *sched__objs(struct sched *s, int kind)
{
    return s->objs[kind];
}

json_t *sched__get(struct sched *s, int kind, const char *key)
{
    return json_object_get(s->objs[kind], key);
}

int sched__key_of(int kind, const char *ns, const char *name, char *buf, size_t size)
{
    int n;
    if (name == NULL || resources[kind] == NULL)
        return ERR_INVALID;
    n = kind == SK_NODE
            ? snprintf(buf, size, "/registry/%s/%s", resources[kind], name)
            : snprintf(buf, size, "/registry/%s/%s/%s", resources[kind], ns ? ns : "default", name);
    return n > 0 && (size_t)n < size ? 0 : ERR_INVALID;
}

int sched__key(int kind, const json_t *obj, char *buf, size_t size)
{
    const json_t *m = json_object_get(obj, "metadata");
    return sched__key_of(kind, json_string_value(json_object_get(m, "namespace")),
                         json_string_value(json_object_get(m, "name")), buf, size);
}

bool sched__node_reachable(struct sched *s, const char *name)
{
    return json_is_true(json_object_get(s->reachable, name));
}

uint64_t sched__now_ms(struct sched *s)
{
    return s->now_ms;
}

uint64_t sched__leading_ms(struct sched *s)
{
    return s->leading_ms;
}

const struct sched_config *sched__config(struct sched *s)
{
    return &s->cfg;
}

void sched__now_rfc3339(struct sched *s, char buf[21])
{
    (void)s;
    snprintf(buf, 21, "2026-01-01T00:00:00Z");
}

void sched__enqueue(struct sched *s, struct sched_ctrl *c, const char *key)
{
    (void)c;
    json_object_set_new(s->queue, key, json_true());
}

void sched__enqueue_after(struct sched *s, struct sched_ctrl *c, const char *key, uint64_t ms)
{
    (void)ms;
    sched__enqueue(s, c, key);
}

static void record(struct sched *s, const char *op, int kind, const json_t *ref, json_t *obj)
{
    char key[STORE_KEY_MAX + 1];
    assert_int_equal(sched__key(kind, ref, key, sizeof key), 0);
    json_array_append_new(s->writes, json_pack("{s:s, s:i, s:s, s:o*}", "op", op, "kind", kind,
                                               "key", key, "obj", obj));
}

int sched__create(struct sched *s, struct sched_ctrl *c, int kind, const char *ns, json_t *obj,
                  const char *owner_uid, const char *requeue_key)
{
    (void)c, (void)owner_uid, (void)requeue_key;
    json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string(ns));
    record(s, "create", kind, obj, obj);
    return 0;
}

int sched__update(struct sched *s, struct sched_ctrl *c, int kind, const json_t *old, json_t *obj,
                  const char *requeue_key)
{
    (void)c, (void)requeue_key;
    record(s, "update", kind, old, obj);
    return 0;
}

int sched__delete(struct sched *s, struct sched_ctrl *c, int kind, const json_t *old,
                  const char *owner_uid, bool force, const char *requeue_key)
{
    (void)c, (void)owner_uid, (void)force, (void)requeue_key;
    if (json_object_get(json_object_get(old, "metadata"), "deletionTimestamp") != NULL)
        return 0;
    record(s, "delete", kind, old, NULL);
    return 0;
}

bool sched__pod_active(const json_t *pod)
{
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL)
        return false;
    return !(phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0));
}

bool sched__pod_ready(const json_t *pod)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, "Ready") == 0)
            return strcmp(json_string_value(json_object_get(c, "status")), "True") == 0;
    }
    return false;
}

/* ---- fixture ---- */

static json_t *J(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *J(const char *fmt, ...)
{
    char buf[4096];
    json_error_t jerr;
    json_t *v;
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    for (size_t i = 0; buf[i] != '\0'; i++)
        if (buf[i] == '\'')
            buf[i] = '"';
    v = json_loads(buf, 0, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, buf);
    return v;
}

static int setup(void **state)
{
    struct sched *s = calloc(1, sizeof *s);
    for (int k = 0; k < SK__COUNT; k++)
        s->objs[k] = json_object();
    s->reachable = json_object();
    s->writes = json_array();
    s->queue = json_object();
    s->cfg.node_grace_ms = 2000;
    s->cfg.pod_eviction_ms = 3000;
    s->now_ms = 1000000;
    s->rv = 10;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct sched *s = *state;
    if (sched__ctrl_nodes.stop != NULL)
        sched__ctrl_nodes.stop(s, &sched__ctrl_nodes);
    for (int k = 0; k < SK__COUNT; k++)
        json_decref(s->objs[k]);
    json_decref(s->reachable);
    json_decref(s->writes);
    json_decref(s->queue);
    free(s);
    return 0;
}

/* Stores obj (stolen) in the cache with a fresh resourceVersion and tells
 * both controllers, as the informer would. */
static void put(struct sched *s, int kind, json_t *obj)
{
    char key[STORE_KEY_MAX + 1], rv[16];
    json_t *old;
    assert_int_equal(sched__key(kind, obj, key, sizeof key), 0);
    snprintf(rv, sizeof rv, "%d", s->rv++);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
    old = json_incref(json_object_get(s->objs[kind], key));
    json_object_set_new(s->objs[kind], key, obj);
    sched__ctrl_nodes.on_event(s, &sched__ctrl_nodes, kind, key, old, obj);
    sched__ctrl_endpoints.on_event(s, &sched__ctrl_endpoints, kind, key, old, obj);
    json_decref(old);
}

static void drop(struct sched *s, int kind, const char *key)
{
    json_t *old = json_incref(json_object_get(s->objs[kind], key));
    assert_non_null(old);
    json_object_del(s->objs[kind], key);
    sched__ctrl_nodes.on_event(s, &sched__ctrl_nodes, kind, key, old, NULL);
    sched__ctrl_endpoints.on_event(s, &sched__ctrl_endpoints, kind, key, old, NULL);
    json_decref(old);
}

/* Applies the recorded writes to the caches; returns how many there were. */
static size_t apply(struct sched *s)
{
    size_t i, n = json_array_size(s->writes);
    json_t *w;
    json_t *writes = s->writes;
    s->writes = json_array();
    json_array_foreach (writes, i, w) {
        int kind = (int)json_integer_value(json_object_get(w, "kind"));
        const char *op = json_string_value(json_object_get(w, "op"));
        if (strcmp(op, "delete") == 0)
            drop(s, kind, json_string_value(json_object_get(w, "key")));
        else
            put(s, kind, json_deep_copy(json_object_get(w, "obj")));
    }
    json_decref(writes);
    return n;
}

static void sync_nodes(struct sched *s, const char *name)
{
    char key[STORE_KEY_MAX + 1];
    assert_int_equal(sched__key_of(SK_NODE, NULL, name, key, sizeof key), 0);
    sched__ctrl_nodes.sync(s, &sched__ctrl_nodes, key);
}

static const json_t *write_at(struct sched *s, size_t i)
{
    return json_array_get(s->writes, i);
}

static const char *wop(struct sched *s, size_t i)
{
    return json_string_value(json_object_get(write_at(s, i), "op"));
}

static const char *wkey(struct sched *s, size_t i)
{
    return json_string_value(json_object_get(write_at(s, i), "key"));
}

static json_t *node_json(const char *name)
{
    return J("{'apiVersion':'v1','kind':'Node','metadata':{'name':'%s'},"
             "'spec':{'taints':[{'key':'dedicated','value':'x','effect':'NoSchedule'}]},"
             "'status':{'conditions':[{'type':'Ready','status':'True','reason':'SkiffReady'}]}}",
             name);
}

static json_t *pod_on(const char *name, const char *node, const char *extra_spec)
{
    return J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'default',"
             "'labels':{'app':'web'},'uid':'u-%s'},'spec':{'nodeName':'%s'%s%s,"
             "'containers':[{'name':'c','image':'i'}]},'status':{'phase':'Running'}}",
             name, name, node, extra_spec[0] ? "," : "", extra_spec);
}

static const char *ready_of(struct sched *s, const char *name, const char *field)
{
    char key[STORE_KEY_MAX + 1];
    json_t *conds, *c;
    size_t i;
    sched__key_of(SK_NODE, NULL, name, key, sizeof key);
    conds = json_object_get(json_object_get(sched__get(s, SK_NODE, key), "status"), "conditions");
    json_array_foreach (conds, i, c)
        if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0)
            return json_string_value(json_object_get(c, field));
    return NULL;
}

static size_t taint_count(struct sched *s, const char *name, const char *tkey)
{
    char key[STORE_KEY_MAX + 1];
    json_t *taints, *t;
    size_t i, n = 0;
    sched__key_of(SK_NODE, NULL, name, key, sizeof key);
    taints = json_object_get(json_object_get(sched__get(s, SK_NODE, key), "spec"), "taints");
    json_array_foreach (taints, i, t)
        if (strcmp(json_string_value(json_object_get(t, "key")), tkey) == 0)
            n++;
    return n;
}

static void start_nodes(struct sched *s)
{
    sched__ctrl_nodes.start(s, &sched__ctrl_nodes);
    json_object_clear(s->queue);
}

/* ---- node lifecycle ---- */

static void test_nodes_no_verdict_within_grace(void **state)
{
    struct sched *s = *state;
    put(s, SK_NODE, node_json("n1"));
    start_nodes(s);
    s->leading_ms = 1500; /* leader too new */
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 0);
    s->leading_ms = 5000;
    sync_nodes(s, "n1"); /* leader old enough, but it learnt of n1 just now */
    assert_int_equal(json_array_size(s->writes), 0);
}

static void test_nodes_unreachable_goes_unknown_once_and_tainted(void **state)
{
    struct sched *s = *state;
    put(s, SK_NODE, node_json("n1"));
    start_nodes(s);
    s->leading_ms = 5000;
    sync_nodes(s, "n1");
    s->now_ms += 2500;
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 1);
    assert_string_equal(wop(s, 0), "update");
    apply(s);
    assert_string_equal(ready_of(s, "n1", "status"), "Unknown");
    assert_string_equal(ready_of(s, "n1", "reason"), "NodeStatusUnknown");
    assert_string_equal(ready_of(s, "n1", "message"), "Kubelet stopped posting node status.");
    assert_int_equal(taint_count(s, "n1", "node.kubernetes.io/unreachable"), 2);
    assert_int_equal(taint_count(s, "n1", "dedicated"), 1);
    /* written once per transition */
    s->now_ms += 1000;
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 0);

    /* reached again: Ready True, lifecycle taints gone, the user's kept */
    json_object_set_new(s->reachable, "n1", json_true());
    sync_nodes(s, "n1");
    assert_int_equal(apply(s), 1);
    assert_string_equal(ready_of(s, "n1", "status"), "True");
    assert_string_equal(ready_of(s, "n1", "reason"), "KubeletReady");
    assert_int_equal(taint_count(s, "n1", "node.kubernetes.io/unreachable"), 0);
    assert_int_equal(taint_count(s, "n1", "dedicated"), 1);
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 0);
}

static void test_nodes_not_ready_at_start_waits_for_a_real_probe(void **state)
{
    struct sched *s = *state;
    json_t *n = node_json("n1");
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(n, "status"), "conditions"), 0), "status",
        json_string("Unknown"));
    put(s, SK_NODE, n);
    start_nodes(s);
    json_object_set_new(s->reachable, "n1", json_true()); /* every node "seen" at start */
    s->leading_ms = 100;
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 0);
    s->leading_ms = 2500;
    s->now_ms += 2500;
    sync_nodes(s, "n1");
    assert_int_equal(apply(s), 1);
    assert_string_equal(ready_of(s, "n1", "status"), "True");
}

static void test_nodes_ready_false_is_the_nodes_own_report(void **state)
{
    struct sched *s = *state;
    json_t *n = node_json("n1");
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(n, "status"), "conditions"), 0), "status",
        json_string("False"));
    put(s, SK_NODE, n);
    put(s, SK_POD, pod_on("p", "n1", ""));
    put(s, SK_POD,
        pod_on("tolerant", "n1",
               "'tolerations':[{'key':'node.kubernetes.io/not-ready','operator':'Exists',"
               "'effect':'NoExecute'}]"));
    start_nodes(s);
    json_object_set_new(s->reachable, "n1", json_true());
    s->leading_ms = 5000;
    sync_nodes(s, "n1");
    s->now_ms += 2500;
    sync_nodes(s, "n1"); /* reachable, but not flipped to True */
    assert_int_equal(json_array_size(s->writes), 0);
    s->now_ms += 1000; /* NotReady for pod_eviction_ms: p goes, tolerant stays */
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 1);
    assert_string_equal(wop(s, 0), "delete");
    assert_string_equal(wkey(s, 0), "/registry/pods/default/p");
}

static void test_nodes_evict_after_timeout_honouring_tolerations(void **state)
{
    struct sched *s = *state;
    size_t i;
    json_t *deleted = json_object();
    put(s, SK_NODE, node_json("n1"));
    put(s, SK_NODE, node_json("n2"));
    json_object_set_new(s->reachable, "n2", json_true());
    put(s, SK_POD, pod_on("plain", "n1", ""));
    put(s, SK_POD,
        pod_on("forever", "n1",
               "'tolerations':[{'key':'node.kubernetes.io/unreachable','operator':'Exists',"
               "'effect':'NoExecute'}]"));
    put(s, SK_POD,
        pod_on(
            "tensec", "n1",
            "'tolerations':[{'operator':'Exists','effect':'NoExecute','tolerationSeconds':10}]"));
    put(s, SK_POD,
        pod_on("otherkey", "n1",
               "'tolerations':[{'key':'foo','operator':'Exists','effect':'NoExecute'}]"));
    put(s, SK_POD, pod_on("elsewhere", "n2", ""));
    {
        json_t *done = pod_on("done", "n1", "");
        json_object_set_new(json_object_get(done, "status"), "phase", json_string("Succeeded"));
        put(s, SK_POD, done);
    }
    start_nodes(s);
    s->leading_ms = 5000;
    sync_nodes(s, "n1");
    s->now_ms += 2500;
    sync_nodes(s, "n1"); /* goes Unknown; the eviction clock starts */
    assert_int_equal(apply(s), 1);
    s->now_ms += 2000;
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 0);
    s->now_ms += 1500; /* past pod_eviction_ms */
    sync_nodes(s, "n1");
    for (i = 0; i < json_array_size(s->writes); i++) {
        assert_string_equal(wop(s, i), "delete");
        json_object_set_new(deleted, wkey(s, i), json_true());
    }
    assert_int_equal(json_object_size(deleted), 2);
    assert_non_null(json_object_get(deleted, "/registry/pods/default/plain"));
    assert_non_null(json_object_get(deleted, "/registry/pods/default/otherkey"));
    /* not repeated while the deletes travel */
    json_t *sent = s->writes;
    s->writes = json_array();
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 0);
    json_decref(s->writes);
    s->writes = sent;
    apply(s);
    /* tolerationSeconds 10 counts from the taint */
    s->now_ms += 6600;
    sync_nodes(s, "n1");
    assert_int_equal(json_array_size(s->writes), 1);
    assert_string_equal(wkey(s, 0), "/registry/pods/default/tensec");
    json_decref(deleted);
}

/* ---- Endpoints ---- */

static json_t *web_pod(const char *name, const char *ns, const char *ip, bool ready,
                       const char *labels_app)
{
    json_t *p = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'%s',"
                  "'uid':'u-%s','labels':{'app':'%s'}},'spec':{'nodeName':'n1','containers':"
                  "[{'name':'c','image':'i','ports':[{'name':'http','containerPort':8080}]}]},"
                  "'status':{'phase':'Running','conditions':[{'type':'Ready','status':'%s'}]}}",
                  name, ns, name, labels_app, ready ? "True" : "False");
    if (ip != NULL)
        json_object_set_new(json_object_get(p, "status"), "podIP", json_string(ip));
    return p;
}

static void sync_svc(struct sched *s, const char *name)
{
    char key[STORE_KEY_MAX + 1];
    sched__key_of(SK_SERVICE, "default", name, key, sizeof key);
    sched__ctrl_endpoints.sync(s, &sched__ctrl_endpoints, key);
}

static json_t *endpoints(struct sched *s, const char *name)
{
    char key[STORE_KEY_MAX + 1];
    sched__key_of(SK_ENDPOINTS, "default", name, key, sizeof key);
    return sched__get(s, SK_ENDPOINTS, key);
}

static void test_endpoints_built_from_selected_pods(void **state)
{
    struct sched *s = *state;
    json_t *ep, *sub, *dying;
    put(s, SK_SERVICE,
        J("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'default',"
          "'labels':{'tier':'front'}},'spec':{'selector':{'app':'web'},'ports':[{'name':'http',"
          "'port':80,'targetPort':'http','protocol':'TCP'},{'name':'raw','port':81,"
          "'targetPort':9090,'protocol':'TCP'}]}}"));
    put(s, SK_POD, web_pod("b", "default", "10.0.0.2", true, "web"));
    put(s, SK_POD, web_pod("a", "default", "10.0.0.1", true, "web"));
    put(s, SK_POD, web_pod("c", "default", "10.0.0.3", false, "web"));
    put(s, SK_POD, web_pod("noip", "default", NULL, true, "web"));
    put(s, SK_POD, web_pod("other", "default", "10.0.0.9", true, "db"));
    put(s, SK_POD, web_pod("elsewhere", "team", "10.0.0.8", true, "web"));
    dying = web_pod("dying", "default", "10.0.0.7", true, "web");
    json_object_set_new(json_object_get(dying, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    put(s, SK_POD, dying);
    /* the pod events queued the Service (only the matching namespace) */
    assert_non_null(json_object_get(s->queue, "/registry/services/specs/default/web"));
    sync_svc(s, "web");
    assert_int_equal(json_array_size(s->writes), 1);
    assert_string_equal(wop(s, 0), "create");
    apply(s);
    ep = endpoints(s, "web");
    assert_non_null(ep);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(ep, "metadata"), "labels"), "tier")),
                        "front");
    assert_int_equal(json_array_size(json_object_get(ep, "subsets")), 1);
    sub = json_array_get(json_object_get(ep, "subsets"), 0);
    assert_int_equal(json_array_size(json_object_get(sub, "addresses")), 2);
    assert_int_equal(json_array_size(json_object_get(sub, "notReadyAddresses")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(sub, "addresses"), 0), "ip")),
                        "10.0.0.1");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(sub, "addresses"), 1), "targetRef"),
            "name")),
        "b");
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(sub, "ports"), 0), "port")),
                     8080);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(sub, "ports"), 1), "port")),
                     9090);
    /* unchanged: no write */
    sync_svc(s, "web");
    assert_int_equal(json_array_size(s->writes), 0);
    /* c becomes ready: one update with 3 ready addresses */
    put(s, SK_POD, web_pod("c", "default", "10.0.0.3", true, "web"));
    sync_svc(s, "web");
    assert_int_equal(apply(s), 1);
    sub = json_array_get(json_object_get(endpoints(s, "web"), "subsets"), 0);
    assert_int_equal(json_array_size(json_object_get(sub, "addresses")), 3);
    assert_null(json_object_get(sub, "notReadyAddresses"));
    /* the Service goes: so does its Endpoints */
    drop(s, SK_SERVICE, "/registry/services/specs/default/web");
    sync_svc(s, "web");
    assert_int_equal(json_array_size(s->writes), 1);
    assert_string_equal(wop(s, 0), "delete");
    assert_string_equal(wkey(s, 0), "/registry/services/endpoints/default/web");
}

static void test_endpoints_named_port_missing_and_no_selector(void **state)
{
    struct sched *s = *state;
    json_t *p;
    put(s, SK_SERVICE,
        J("{'apiVersion':'v1','kind':'Service','metadata':{'name':'ext','namespace':'default'},"
          "'spec':{'ports':[{'port':5432}]}}"));
    sync_svc(s, "ext");
    assert_int_equal(json_array_size(s->writes), 0);

    put(s, SK_SERVICE,
        J("{'apiVersion':'v1','kind':'Service','metadata':{'name':'web','namespace':'default'},"
          "'spec':{'selector':{'app':'web'},'publishNotReadyAddresses':true,"
          "'ports':[{'port':80,'targetPort':'metrics'}]}}"));
    put(s, SK_POD, web_pod("a", "default", "10.0.0.1", false, "web"));
    p = web_pod("m", "default", "10.0.0.2", false, "web");
    json_object_set_new(
        json_array_get(
            json_object_get(
                json_array_get(json_object_get(json_object_get(p, "spec"), "containers"), 0),
                "ports"),
            0),
        "name", json_string("metrics"));
    put(s, SK_POD, p);
    sync_svc(s, "web");
    assert_int_equal(apply(s), 1);
    /* only m has a "metrics" port; publishNotReadyAddresses lists it as ready */
    p = json_array_get(json_object_get(endpoints(s, "web"), "subsets"), 0);
    assert_int_equal(json_array_size(json_object_get(p, "addresses")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(p, "addresses"), 0), "ip")),
                        "10.0.0.2");
    assert_null(json_object_get(p, "notReadyAddresses"));
    /* the pod stops matching: the Endpoints empties */
    json_object_clear(s->queue);
    p = json_deep_copy(sched__get(s, SK_POD, "/registry/pods/default/m"));
    json_object_set_new(json_object_get(json_object_get(p, "metadata"), "labels"), "app",
                        json_string("gone"));
    put(s, SK_POD, p);
    assert_non_null(json_object_get(s->queue, "/registry/services/specs/default/web"));
    sync_svc(s, "web");
    assert_int_equal(apply(s), 1);
    assert_null(json_object_get(endpoints(s, "web"), "subsets"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nodes_no_verdict_within_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_unreachable_goes_unknown_once_and_tainted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nodes_not_ready_at_start_waits_for_a_real_probe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nodes_ready_false_is_the_nodes_own_report, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nodes_evict_after_timeout_honouring_tolerations, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_built_from_selected_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_named_port_missing_and_no_selector, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
