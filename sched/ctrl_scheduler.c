/* The scheduler loop: binds every pending Pod (no spec.nodeName, default
 * scheduler, not being deleted) to a node chosen by sched_core (filters and
 * scores over an in-memory cache fed by the watch), by an update of the pod
 * with a compare on its resourceVersion, so a lost race is retried and a
 * pod is never bound twice. A pod that fits nowhere gets PodScheduled=False
 * with kube-scheduler's message and is retried when nodes or pods change
 * (and every 10 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/prom.h"
#include "sched/internal.h"
#include "sched/sched_core.h"

#define RETRY_UNSCHEDULABLE_MS 10000

struct state {
    struct sched_cache *cache;
    json_t *unsched; /* pod keys that did not fit */
    json_t *since;   /* pending pod key -> sched__now_ms first seen (bind latency) */
};

static struct state st;

static bool pending(const json_t *pod)
{
    const json_t *spec = json_object_get(pod, "spec");
    const char *sn = json_string_value(json_object_get(spec, "schedulerName"));
    return json_string_length(json_object_get(spec, "nodeName")) == 0 &&
           json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") == NULL &&
           (sn == NULL || strcmp(sn, "default-scheduler") == 0) && sched__pod_active(pod);
}

/* Bind latency: from the first time this leader saw the pod pending (a pod
 * already pending when leadership started counts from then) to the watch
 * event that shows it bound. */
static void pending_seen(struct sched *s, const char *key)
{
    if (st.since != NULL && json_object_get(st.since, key) == NULL)
        json_object_set_new(st.since, key, json_integer((json_int_t)sched__now_ms(s)));
}

static void pending_done(struct sched *s, const char *key, const json_t *obj)
{
    json_t *t = st.since ? json_object_get(st.since, key) : NULL;
    const json_t *spec = json_object_get(obj, "spec");
    if (t == NULL)
        return;
    if (obj != NULL && json_string_length(json_object_get(spec, "nodeName")) > 0) {
        uint64_t now = sched__now_ms(s), then = (uint64_t)json_integer_value(t);
        prom_hist_observe(sched__bind_latency(s), (double)(now > then ? now - then : 0) / 1e3);
    }
    json_object_del(st.since, key);
}

static void retry_unschedulable(struct sched *s, struct sched_ctrl *c)
{
    const char *key;
    json_t *v;
    json_object_foreach (st.unsched, key, v)
        sched__enqueue(s, c, key);
}

static void start(struct sched *s, struct sched_ctrl *c)
{
    struct err e, warn;
    const char *key;
    json_t *obj;
    if (sched_cache_new(&st.cache, &e) != 0)
        return;
    st.unsched = json_object();
    st.since = json_object();
    json_object_foreach (sched__objs(s, SK_NODE), key, obj)
        sched_cache_node_upsert(st.cache, obj, &warn, &e);
    json_object_foreach (sched__objs(s, SK_POD), key, obj) {
        sched_cache_pod_upsert(st.cache, obj, &warn, &e);
        if (pending(obj)) {
            pending_seen(s, key);
            sched__enqueue(s, c, key);
        }
    }
}

static void stop(struct sched *s, struct sched_ctrl *c)
{
    (void)s;
    (void)c;
    sched_cache_free(st.cache);
    st.cache = NULL;
    json_decref(st.unsched);
    st.unsched = NULL;
    json_decref(st.since);
    st.since = NULL;
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    struct err e, warn;
    if (st.cache == NULL)
        return;
    if (kind == SK_NODE) {
        if (obj != NULL)
            sched_cache_node_upsert(st.cache, obj, &warn, &e);
        else
            sched_cache_node_remove(st.cache, json_string_value(json_object_get(
                                                  json_object_get(old, "metadata"), "name")));
        retry_unschedulable(s, c);
        return;
    }
    if (kind != SK_POD)
        return;
    if (obj == NULL) {
        const json_t *m = json_object_get(old, "metadata");
        sched_cache_pod_remove(st.cache, json_string_value(json_object_get(m, "namespace")),
                               json_string_value(json_object_get(m, "name")));
        json_object_del(st.unsched, key);
        pending_done(s, key, NULL);
        retry_unschedulable(s, c); /* resources freed */
        return;
    }
    sched_cache_pod_upsert(st.cache, obj, &warn, &e);
    if (pending(obj)) {
        pending_seen(s, key);
        sched__enqueue(s, c, key);
    } else {
        pending_done(s, key, obj);
        json_object_del(st.unsched, key);
        if (!sched__pod_active(obj))
            retry_unschedulable(s, c); /* a finished pod frees its node */
    }
}

/* the pod's PodScheduled condition, replaced or added */
static void set_scheduled(json_t *pod, const char *status, const char *reason, const char *msg,
                          const char *now)
{
    json_t *stj = json_object_get(pod, "status"), *conds, *c;
    size_t i;
    if (!json_is_object(stj)) {
        stj = json_object();
        json_object_set_new(pod, "status", stj);
    }
    conds = json_object_get(stj, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(stj, "conditions", conds);
    }
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, "PodScheduled") == 0) {
            json_array_remove(conds, i);
            break;
        }
    }
    c = json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status", status, "lastProbeTime",
                  "lastTransitionTime", now);
    if (reason != NULL)
        json_object_set_new(c, "reason", json_string(reason));
    if (msg != NULL)
        json_object_set_new(c, "message", json_string(msg));
    json_array_insert_new(conds, 0, c);
}

static const char *scheduled_message(const json_t *pod)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, "PodScheduled") == 0)
            return json_string_value(json_object_get(c, "message"));
    }
    return NULL;
}

static void sched_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    json_t *pod = sched__get(s, SK_POD, key), *neu;
    const json_t *meta;
    const char *ns, *name;
    const struct sched_pod *cp;
    struct sched_pick pick;
    struct err e, warn;
    char now[21];

    if (st.cache == NULL || pod == NULL || !pending(pod))
        return;
    meta = json_object_get(pod, "metadata");
    ns = json_string_value(json_object_get(meta, "namespace"));
    name = json_string_value(json_object_get(meta, "name"));
    cp = sched_cache_pod_get(st.cache, ns, name);
    if (cp == NULL)
        return;
    /* an earlier bind of this version did not land: decide again */
    sched_cache_forget(st.cache, ns, name, &e);
    sched__now_rfc3339(s, now);
    if (sched_pick(st.cache, cp, &pick, &e) != 0) {
        const char *old_msg = scheduled_message(pod);
        json_object_set_new(st.unsched, key, json_true());
        sched__enqueue_after(s, c, key, RETRY_UNSCHEDULABLE_MS);
        if (old_msg != NULL && strcmp(old_msg, pick.message) == 0)
            return;
        neu = json_deep_copy(pod);
        if (neu == NULL)
            return;
        set_scheduled(neu, "False", "Unschedulable", pick.message, now);
        sched__update(s, c, SK_POD, pod, neu, NULL);
        return;
    }
    json_object_del(st.unsched, key);
    if (sched_cache_assume(st.cache, ns, name, pick.node_name, &e) != 0)
        return;
    neu = json_deep_copy(pod);
    if (neu == NULL) {
        sched_cache_forget(st.cache, ns, name, &e);
        return;
    }
    json_object_set_new(json_object_get(neu, "spec"), "nodeName", json_string(pick.node_name));
    set_scheduled(neu, "True", NULL, NULL, now);
    if (sched__update(s, c, SK_POD, pod, neu, key) != 0)
        sched_cache_forget(st.cache, ns, name, &e);
    (void)warn;
}

static void tick(struct sched *s, struct sched_ctrl *c)
{
    (void)s;
    (void)c;
}

struct sched_ctrl sched__ctrl_scheduler = {"scheduler", start, stop, on_event,
                                           sched_sync,  tick,  NULL, NULL};
