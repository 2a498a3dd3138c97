/* The node agent's pod loop (see agent/agent.h). Pods bound to this node
 * come from the local replica's watch; every change queues the pod; a sync
 * compares what the pod says with what the runtime has and writes the
 * difference through consensus with a compare on the pod's revision (a lost
 * race is simply synced again on the next event). */
#include "agent/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent/nodenet.h"
#include "agent/pods.h"
#include "agent/runtime.h"
#include "api/api.h"
#include "lib/log.h"
#include "store/store.h"

#define PODS_PREFIX "/registry/pods/"
#define TICK_MS     200

struct agent {
    uv_loop_t *loop;
    struct cons *cons;
    struct store *store;
    char node[256];
    bool fake;
    bool closing;
    json_t *pods;     /* store key -> pod (bound here) */
    json_t *queue;    /* store key set */
    json_t *inflight; /* store key -> true while a write for it is in flight */
    json_t *started;  /* store key -> monotonic ms when the fake runtime started it */
    struct store_watch w;
    bool watching;
    uv_timer_t tick;
    uv_timer_t kick; /* drains the queue at once after a runtime report */
    void (*close_cb)(void *);
    void *close_data;
    size_t writes;
    bool handle_closed;
    struct agent_pods *rt; /* the real runtime; NULL with the fake one */
    struct agent__nodenet *net; /* the pod network; NULL without */
    bool net_closed;
    json_t *pending;       /* key -> status the runtime reported (null: pod finished, delete) */
    json_t *lookup_last;   /* the object the last lookup returned (kept alive for the driver) */
    bool rt_closed;
    char dir[1024];     /* the real runtime's dir */
    bool node_reported; /* capacity and nodeInfo written for this run */
    bool node_inflight;
    char capacity[256]; /* agent_config.capacity, "" for the machine's */
};

struct write {
    struct cons_propose req;
    struct agent *a;
    char key[STORE_KEY_MAX + 1];
    json_t *pending; /* the pending entry this write carries (real runtime) */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void now_rfc3339(char buf[21])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool bound_here(struct agent *a, const json_t *pod)
{
    const char *n = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    return n != NULL && strcmp(n, a->node) == 0;
}

static void finish_free(struct agent *a);

static void on_written(struct cons_propose *req, int status)
{
    struct write *w = (struct write *)req;
    struct agent *a = w->a;
    json_object_del(a->inflight, w->key);
    if (status != 0 && !a->closing) {
        /* no leader for a moment, a timeout: the next tick tries again (a
         * pod whose delete was lost would otherwise stay terminating until
         * something else touched it) */
        LOG_WARN("agent", "write_failed", "pod=%s err=\"%s\"", w->key, req->err.msg);
        json_object_set_new(a->queue, w->key, json_true());
    } else if (!a->closing && req->result.failed_cmp >= 0)
        json_object_set_new(a->queue, w->key, json_true()); /* raced: look again */
    else if (!a->closing && w->pending != NULL && json_object_get(a->pending, w->key) == w->pending)
        json_object_del(a->pending, w->key); /* written: the runtime will not repeat it */
    json_decref(w->pending);
    a->writes--;
    free(w);
    if (a->handle_closed && a->writes == 0)
        finish_free(a);
}

/* obj NULL: delete. Compare on the revision the pod had. pending: the
 * runtime's report this write carries (borrowed), cleared once written. */
static void write_pod_p(struct agent *a, const char *key, const json_t *old, json_t *obj,
                        json_t *pending);

static void write_pod(struct agent *a, const char *key, const json_t *old, json_t *obj)
{
    write_pod_p(a, key, old, obj, NULL);
}

static void write_pod_p(struct agent *a, const char *key, const json_t *old, json_t *obj,
                        json_t *pending)
{
    const char *rv_s =
        json_string_value(json_object_get(json_object_get(old, "metadata"), "resourceVersion"));
    struct write *w = calloc(1, sizeof *w);
    struct store_cmp cmp;
    struct store_op op;
    struct store_txn txn = {&cmp, 1, &op, 1};
    void *value = NULL;
    size_t len = 0;
    struct err e;
    if (w == NULL) {
        json_decref(obj);
        return;
    }
    snprintf(w->key, sizeof w->key, "%s", key);
    w->a = a;
    cmp = (struct store_cmp){STORE_CMP_MOD_REV, w->key, rv_s ? strtoull(rv_s, NULL, 10) : 0};
    op = (struct store_op){obj ? STORE_OP_PUT : STORE_OP_DELETE, w->key, NULL, 0};
    if (obj != NULL) {
        json_object_del(json_object_get(obj, "metadata"), "resourceVersion");
        if (api_object_encode(obj, &value, &len, &e) != 0) {
            LOG_WARN("agent", "encode_failed", "pod=%s err=\"%s\"", key, e.msg);
            json_decref(obj);
            free(w);
            return;
        }
        op.value = value;
        op.value_len = len;
    }
    json_decref(obj);
    w->req.data = w;
    if (cons_propose(a->cons, &w->req, &txn, 10000, on_written) != 0) {
        LOG_WARN("agent", "propose_failed", "pod=%s err=\"%s\"", key, w->req.err.msg);
        if (!a->closing)
            json_object_set_new(a->queue, w->key, json_true()); /* the next tick tries again */
        free(value);
        free(w);
        return;
    }
    w->pending = json_incref(pending);
    free(value);
    json_object_set_new(a->inflight, key, json_true());
    a->writes++;
}

static json_t *condition(const char *type, const char *status, const char *now)
{
    return json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status, "lastProbeTime",
                     "lastTransitionTime", now);
}

/* The fake runtime's view of a pod: Running and Ready, or Succeeded once a
 * non-Always pod has "run" for AGENT_FAKE_RUN_MS (exit code from the
 * annotation skiff.io/fake-exit-code, default 0: non-zero means Failed). */
static json_t *fake_status(struct agent *a, const char *key, const json_t *pod, bool *changed)
{
    const json_t *spec = json_object_get(pod, "spec"), *old = json_object_get(pod, "status");
    const char *policy = json_string_value(json_object_get(spec, "restartPolicy"));
    const char *code_s = json_string_value(
        json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
                        "skiff.io/fake-exit-code"));
    const char *old_phase = json_string_value(json_object_get(old, "phase"));
    json_t *st, *cs, *c;
    char now[21], ip[32];
    size_t i;
    bool done = false;
    int code = code_s ? atoi(code_s) : 0;
    uint64_t t = now_ms();
    json_t *started = json_object_get(a->started, key);

    *changed = false;
    if (old_phase != NULL &&
        (strcmp(old_phase, "Succeeded") == 0 || strcmp(old_phase, "Failed") == 0))
        return NULL; /* finished pods stay finished */
    if (started == NULL) {
        json_object_set_new(a->started, key, json_integer((json_int_t)t));
    } else if (policy != NULL && strcmp(policy, "Always") != 0 &&
               t - (uint64_t)json_integer_value(started) >= AGENT_FAKE_RUN_MS) {
        done = true;
    }
    if (!done && old_phase != NULL && strcmp(old_phase, "Running") == 0)
        return NULL; /* already reported */
    now_rfc3339(now);
    /* a stable fake address per pod: 10.x.y.z from its key */
    {
        uint32_t h = 2166136261u;
        for (const char *p = key; *p; p++)
            h = (h ^ (uint8_t)*p) * 16777619u;
        snprintf(ip, sizeof ip, "10.%u.%u.%u", (h >> 16) & 0xff, (h >> 8) & 0xff, (h & 0xfd) + 1);
    }
    cs = json_array();
    json_array_foreach (json_object_get(spec, "containers"), i, c) {
        json_t *state =
            done ? json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated", "exitCode", code, "reason",
                             code ? "Error" : "Completed", "startedAt", now, "finishedAt", now)
                 : json_pack("{s:{s:s}}", "running", "startedAt", now);
        json_array_append_new(cs, json_pack("{s:O, s:b, s:b, s:i, s:o, s:O, s:s, s:s}", "name",
                                            json_object_get(c, "name"), "ready", !done, "started",
                                            !done, "restartCount", 0, "state", state, "image",
                                            json_object_get(c, "image"), "imageID", "fake://image",
                                            "containerID", "fake://container"));
    }
    st = json_pack("{s:s, s:[o, o, o, o], s:s, s:s, s:[{s:s}], s:s, s:o, s:s}", "phase",
                   done ? (code ? "Failed" : "Succeeded") : "Running", "conditions",
                   condition("PodScheduled", "True", now), condition("Initialized", "True", now),
                   condition("ContainersReady", done ? "False" : "True", now),
                   condition("Ready", done ? "False" : "True", now), "hostIP", "127.0.0.1", "podIP",
                   ip, "podIPs", "ip", ip, "startTime", now, "containerStatuses", cs, "qosClass",
                   json_string_value(json_object_get(old, "qosClass"))
                       ? json_string_value(json_object_get(old, "qosClass"))
                       : "BestEffort");
    *changed = st != NULL;
    return st;
}

static void sync_pod(struct agent *a, const char *key)
{
    json_t *pod = json_object_get(a->pods, key), *st, *neu;
    bool changed;
    if (pod == NULL || json_object_get(a->inflight, key) != NULL)
        return;
    if (a->rt != NULL) {
        /* the real runtime reported: write its status, or finish the delete */
        json_t *pend = json_object_get(a->pending, key);
        if (pend == NULL)
            return;
        if (json_is_null(pend)) {
            if (json_array_size(json_object_get(json_object_get(pod, "metadata"), "finalizers")) ==
                0)
                write_pod_p(a, key, pod, NULL, pend);
            return;
        }
        neu = json_deep_copy(pod);
        if (neu == NULL)
            return;
        json_object_set(neu, "status", pend);
        if (json_equal(neu, pod)) {
            json_decref(neu);
            json_object_del(a->pending, key);
            return;
        }
        write_pod_p(a, key, pod, neu, pend);
        return;
    }
    if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL) {
        /* the fake runtime stops containers at once; a real one honours the
         * grace period first */
        if (json_array_size(json_object_get(json_object_get(pod, "metadata"), "finalizers")) == 0) {
            json_object_del(a->started, key);
            write_pod(a, key, pod, NULL);
        }
        return;
    }
    if (!a->fake)
        return;
    st = fake_status(a, key, pod, &changed);
    if (st == NULL || !changed) {
        json_decref(st);
        return;
    }
    neu = json_deep_copy(pod);
    if (neu == NULL) {
        json_decref(st);
        return;
    }
    json_object_set_new(neu, "status", st);
    write_pod(a, key, pod, neu);
}

static void pod_gone(struct agent *a, const char *key)
{
    if (a->rt != NULL && json_object_get(a->pods, key) != NULL)
        agent__pods_set(a->rt, key, NULL);
    json_object_del(a->pods, key);
    json_object_del(a->started, key);
    json_object_del(a->pending, key);
}

static void pod_put(struct agent *a, const char *key, json_t *pod)
{
    if (bound_here(a, pod)) {
        json_object_set(a->pods, key, pod);
        json_object_set_new(a->queue, key, json_true());
        if (a->rt != NULL)
            agent__pods_set(a->rt, key, pod);
    } else {
        if (a->rt != NULL && json_object_get(a->pods, key) != NULL)
            agent__pods_set(a->rt, key, NULL);
        json_object_del(a->pods, key);
    }
}

static int relist_one(const struct store_kv *kv, void *data)
{
    json_t *seen = data, *pod;
    struct err e;
    if (api_object_decode(kv->value, kv->value_len, kv->mod_rev, &pod, &e) == 0)
        json_object_set_new(seen, kv->key, pod);
    return 0;
}

/* The replica jumped to a Raft snapshot: the watch missed what changed
 * in between, so every pod is looked at again (gone ones removed). */
static void relist(struct agent *a)
{
    json_t *seen = json_object(), *pod;
    const char *key;
    void *tmp;
    uint64_t rev;
    struct err e;
    if (seen == NULL || store_range_each(a->store, PODS_PREFIX, 1000, relist_one, seen, &rev,
                                         &e) != 0) {
        LOG_ERROR("agent", "relist_failed", "node=%s err=\"%s\"", a->node, seen ? e.msg : "nomem");
        json_decref(seen);
        return;
    }
    json_object_foreach_safe(a->pods, tmp, key, pod)
    {
        char k[STORE_KEY_MAX + 1];
        if (json_object_get(seen, key) != NULL)
            continue;
        snprintf(k, sizeof k, "%s", key);
        pod_gone(a, k);
    }
    json_object_foreach (seen, key, pod)
        pod_put(a, key, pod);
    LOG_INFO("agent", "relisted", "node=%s rev=%llu pods=%zu", a->node, (unsigned long long)rev,
             json_object_size(a->pods));
    json_decref(seen);
}

static void on_event(struct store_watch *w, const struct store_event *ev)
{
    struct agent *a = w->data;
    json_t *pod;
    struct err e;
    if (ev->type == STORE_EVENT_RESET) {
        relist(a);
        return;
    }
    if (ev->type == STORE_EVENT_DELETE) {
        pod_gone(a, ev->kv.key);
        return;
    }
    if (api_object_decode(ev->kv.value, ev->kv.value_len, ev->kv.mod_rev, &pod, &e) != 0)
        return;
    pod_put(a, ev->kv.key, pod);
    json_decref(pod);
}

/* ---- this node's Node object: capacity, allocatable, nodeInfo ---- */

static void on_node_written(struct cons_propose *req, int status)
{
    struct write *w = (struct write *)req;
    struct agent *a = w->a;
    a->node_inflight = false;
    if (status == 0 && req->result.failed_cmp < 0)
        a->node_reported = true;
    a->writes--;
    free(w);
    if (a->handle_closed && a->writes == 0)
        finish_free(a);
}

static void os_image(char *buf, size_t size)
{
    FILE *f = fopen("/etc/os-release", "r");
    char line[256];
    snprintf(buf, size, "Linux");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
            char *v = line + 12, *end;
            if (*v == '"')
                v++;
            end = v + strcspn(v, "\"\n");
            *end = '\0';
            snprintf(buf, size, "%s", v);
        }
    }
    if (f != NULL)
        fclose(f);
}

static void report_node(struct agent *a)
{
    char key[STORE_KEY_MAX + 1], cpu[16], mem[32], os[128];
    struct store_kv kv;
    struct utsname u;
    json_t *node, *neu, *status, *cap;
    struct write *w;
    struct store_cmp cmp;
    struct store_op op;
    struct store_txn txn = {&cmp, 1, &op, 1};
    void *value = NULL;
    size_t len = 0;
    struct err e;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

    if (a->node_reported || a->node_inflight ||
        api_object_key("minions", NULL, a->node, key, sizeof key, &e) != 0 ||
        store_get(a->store, key, &kv, &e) != 0)
        return;
    if (api_object_decode(kv.value, kv.value_len, kv.mod_rev, &node, &e) != 0) {
        store_kv_close(&kv);
        return;
    }
    snprintf(cpu, sizeof cpu, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    snprintf(mem, sizeof mem, "%lldKi", (long long)pages * psize / 1024);
    os_image(os, sizeof os);
    uname(&u);
    neu = json_deep_copy(node);
    status = json_object_get(neu, "status");
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(neu, "status", status);
    }
    cap = json_pack("{s:s, s:s, s:s}", "cpu", cpu, "memory", mem, "pods", "110");
    /* --capacity (validated at init/join): each key it names replaces the
     * machine's value, so test nodes on one host can differ */
    for (const char *p = a->capacity; cap != NULL && *p != '\0';) {
        size_t plen = strcspn(p, ","), klen = strcspn(p, "=");
        char k[32], v[64];
        if (klen < plen && klen < sizeof k && plen - klen - 1 < sizeof v) {
            snprintf(k, sizeof k, "%.*s", (int)klen, p);
            snprintf(v, sizeof v, "%.*s", (int)(plen - klen - 1), p + klen + 1);
            json_object_set_new(cap, k, json_string(v));
        }
        p += plen;
        if (*p == ',')
            p++;
    }
    json_object_set(status, "capacity", cap);
    json_object_set_new(status, "allocatable", cap);
    json_object_set_new(status, "nodeInfo",
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kubeletVersion",
                                  "v1.29.0-skiff", "osImage", os, "kernelVersion", u.release,
                                  "containerRuntimeVersion",
                                  a->fake ? "fake://0.1.0" : "runc://1.1", "architecture", "amd64",
                                  "operatingSystem", "linux"));
    if (json_equal(neu, node)) {
        a->node_reported = true;
        goto out;
    }
    json_object_del(json_object_get(neu, "metadata"), "resourceVersion");
    w = calloc(1, sizeof *w);
    if (w == NULL || api_object_encode(neu, &value, &len, &e) != 0) {
        free(w);
        goto out;
    }
    snprintf(w->key, sizeof w->key, "%s", key);
    w->a = a;
    w->req.data = w;
    cmp = (struct store_cmp){STORE_CMP_MOD_REV, w->key, kv.mod_rev};
    op = (struct store_op){STORE_OP_PUT, w->key, value, len};
    if (cons_propose(a->cons, &w->req, &txn, 10000, on_node_written) == 0) {
        a->node_inflight = true;
        a->writes++;
    } else {
        free(w);
    }
    free(value);
out:
    json_decref(neu);
    json_decref(node);
    store_kv_close(&kv);
}

static void drain(struct agent *a)
{
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(a->queue, tmp, key, v)
    {
        char k[STORE_KEY_MAX + 1];
        snprintf(k, sizeof k, "%s", key);
        json_object_del(a->queue, k);
        sync_pod(a, k);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    const char *key;
    json_t *v;
    report_node(a);
    /* pods still running under the fake runtime are revisited: a Job pod
     * finishes after AGENT_FAKE_RUN_MS without any event */
    if (a->fake)
        json_object_foreach (a->started, key, v)
            json_object_set_new(a->queue, key, json_true());
    drain(a);
}

/* A status the runtime reported is written on the next loop iteration,
 * not at the next tick: the tick would add up to TICK_MS to every pod's
 * start (reports of one iteration still go out together). */
static void on_kick(uv_timer_t *t)
{
    drain(t->data);
}

static int list_pod(const struct store_kv *kv, void *data)
{
    struct agent *a = data;
    json_t *pod;
    struct err de;
    if (api_object_decode(kv->value, kv->value_len, kv->mod_rev, &pod, &de) != 0)
        return 0;
    if (bound_here(a, pod)) {
        json_object_set(a->pods, kv->key, pod);
        json_object_set_new(a->queue, kv->key, json_true());
        if (a->rt != NULL)
            agent__pods_set(a->rt, kv->key, pod);
    }
    json_decref(pod);
    return 0;
}

static int start_watch(struct agent *a, struct err *e)
{
    uint64_t rev;
    int rv = store_range_each(a->store, PODS_PREFIX, 1000, list_pod, a, &rev, e);
    if (rv != 0)
        return rv;
    if (a->rt != NULL)
        agent__pods_synced(a->rt);
    a->w.data = a;
    rv = store_watch_start(a->store, &a->w, PODS_PREFIX, rev, on_event, e);
    a->watching = rv == 0;
    return rv;
}

/* ---- the real runtime's callbacks ---- */

static void on_rt_status(void *data, const char *key, json_t *status)
{
    struct agent *a = data;
    json_object_set_new(a->pending, key, status ? status : json_null());
    json_object_set_new(a->queue, key, json_true());
    if (!a->closing && !uv_is_active((uv_handle_t *)&a->kick))
        uv_timer_start(&a->kick, on_kick, 0, 0);
}

/* Secrets and ConfigMaps for volumes and env, from the local replica. The
 * object stays alive until the next lookup (the driver copies what it
 * needs at once). */
static const json_t *on_rt_lookup(void *data, const char *kind, const char *ns, const char *name)
{
    struct agent *a = data;
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    struct err e;
    json_t *obj = NULL;
    const char *res = strcmp(kind, "Secret") == 0      ? "secrets"
                      : strcmp(kind, "ConfigMap") == 0 ? "configmaps"
                                                       : NULL;
    json_decref(a->lookup_last);
    a->lookup_last = NULL;
    if (res == NULL || api_object_key(res, ns, name, key, sizeof key, &e) != 0 ||
        store_get(a->store, key, &kv, &e) != 0)
        return NULL;
    if (api_object_decode(kv.value, kv.value_len, kv.mod_rev, &obj, &e) != 0)
        obj = NULL;
    store_kv_close(&kv);
    a->lookup_last = obj;
    return obj;
}

static const char *on_net_dns(void *data)
{
    struct agent *a = data;
    return agent__nodenet_dns(a->net);
}

static json_t *on_net_services(void *data, const char *ns)
{
    struct agent *a = data;
    return agent__nodenet_services(a->net, ns);
}

static int rt_start(struct agent *a, const struct agent_config *cfg, struct err *e)
{
    struct agent_pods_config pc;
    int rv = agent__rt_subreaper(e);
    if (rv != 0)
        return rv;
    memset(&pc, 0, sizeof pc);
    pc.node_name = cfg->node_name;
    pc.dir = cfg->dir;
    pc.node_ip = cfg->node_ip;
    pc.lookup = on_rt_lookup;
    pc.lookup_data = a;
    if (cfg->pod_network) {
        struct agent__nodenet_config nc = {cfg->node_name, cfg->dir, cfg->node_ip};
        if ((rv = agent__nodenet_new(a->loop, a->store, &nc, &a->net, e)) != 0)
            return rv;
        pc.cni_conf_dir = agent__nodenet_conf_dir(a->net);
        pc.net_dns = on_net_dns;
        pc.services = on_net_services;
        pc.net_data = a;
    }
    return agent__pods_new(a->loop, &pc, on_rt_status, a, &a->rt, e);
}

int agent_new(uv_loop_t *loop, struct cons *c, const struct agent_config *cfg, struct agent **out,
              struct err *e)
{
    struct agent *a = calloc(1, sizeof *a);
    int rv;
    if (a == NULL)
        return err_setf(e, ERR_NOMEM, "agent: out of memory");
    a->loop = loop;
    a->cons = c;
    a->store = cons_store(c);
    a->fake = cfg->fake_runtime;
    snprintf(a->capacity, sizeof a->capacity, "%s", cfg->capacity ? cfg->capacity : "");
    snprintf(a->node, sizeof a->node, "%s", cfg->node_name);
    a->pods = json_object();
    a->queue = json_object();
    a->inflight = json_object();
    a->started = json_object();
    a->pending = json_object();
    uv_timer_init(loop, &a->tick);
    a->tick.data = a;
    uv_timer_init(loop, &a->kick);
    a->kick.data = a;
    rv = 0;
    if (!a->fake && cfg->dir != NULL) {
        snprintf(a->dir, sizeof a->dir, "%s", cfg->dir);
        rv = rt_start(a, cfg, e);
    }
    if (rv == 0)
        rv = start_watch(a, e);
    if (rv != 0) {
        *out = NULL;
        agent_close(a, NULL, NULL);
        return rv;
    }
    uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
    LOG_INFO("agent", "started", "node=%s runtime=%s pods=%zu", a->node,
             a->fake ? "fake" : (a->rt != NULL ? "runc" : "none"), json_object_size(a->pods));
    *out = a;
    return 0;
}

static void finish_free(struct agent *a)
{
    json_decref(a->pods);
    json_decref(a->queue);
    json_decref(a->inflight);
    json_decref(a->started);
    json_decref(a->pending);
    json_decref(a->lookup_last);
    free(a);
}

static void on_rt_closed(void *data);
static void on_net_closed(void *data);

static void on_closed(uv_handle_t *h)
{
    struct agent *a = h->data;
    void (*cb)(void *);
    void *data;
    if (a->rt != NULL && !a->rt_closed) {
        /* the driver's jobs in the thread pool finish first */
        agent__pods_close(a->rt, on_rt_closed, a);
        return;
    }
    if (a->net != NULL && !a->net_closed) {
        agent__nodenet_close(a->net, on_net_closed, a);
        return;
    }
    cb = a->close_cb;
    data = a->close_data;
    a->handle_closed = true;
    /* writes still inside consensus complete (ERR_SHUTDOWN at the latest,
     * when consensus closes after us) and free the agent with the last one */
    if (a->writes == 0)
        finish_free(a);
    if (cb != NULL)
        cb(data);
}

int agent_log_path(void *agent, const char *ns, const char *pod, const char *uid, const char *ctr,
                   int restart, char *buf, size_t size)
{
    struct agent *a = agent;
    struct err e;
    if (a == NULL || a->rt == NULL)
        return ERR_NOTFOUND;
    return agent__log_path(a->dir, ns, pod, uid, ctr, restart < 0 ? 0 : restart, buf, size, &e);
}

static void on_rt_closed(void *data)
{
    struct agent *a = data;
    a->rt_closed = true;
    on_closed((uv_handle_t *)&a->tick);
}

static void on_net_closed(void *data)
{
    struct agent *a = data;
    a->net_closed = true;
    on_closed((uv_handle_t *)&a->tick);
}

void agent_close(struct agent *a, void (*cb)(void *data), void *data)
{
    a->closing = true;
    a->close_cb = cb;
    a->close_data = data;
    if (a->watching)
        store_watch_stop(&a->w);
    a->watching = false;
    /* closed before tick: its close callback runs first, so it is done
     * when on_closed frees the agent */
    uv_close((uv_handle_t *)&a->kick, NULL);
    uv_close((uv_handle_t *)&a->tick, on_closed);
}
