/* Node lifecycle controller (kube's pkg/controller/nodelifecycle, reduced).
 * Liveness is consensus' own probing: the leader heartbeats every member,
 * so a node the leader has not reached within node_grace_ms is treated as
 * a kubelet that stopped posting status: its Ready condition goes Unknown
 * (once per transition) and it gets the node.kubernetes.io/unreachable
 * NoSchedule and NoExecute taints; reached again, Ready goes back to True
 * and the taints go. After a further pod_eviction_ms NotReady its pods are
 * deleted (taint-based eviction: a pod tolerating the NoExecute taint stays
 * tolerationSeconds, or forever without it); they are bound, so they get a
 * deletionTimestamp and the node's agent removes them when it returns.
 * Node objects are never deleted here: membership owns that.
 *
 * Timing is kept on the monotonic clock, per leadership: a new leader (or a
 * node it has just learnt of) gets a full grace period before any verdict,
 * because before that it cannot tell "not probed yet" from "unreachable". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "sched/internal.h"

#define UNREACHABLE_TAINT "node.kubernetes.io/unreachable"
#define NOT_READY_TAINT   "node.kubernetes.io/not-ready"
#define UNKNOWN_MESSAGE   "Kubelet stopped posting node status."
#define EVICT_RETRY_MS    5000 /* a delete not seen back this long is tried again */

struct state {
    json_t *first_seen;     /* node name -> ms this leader first saw its object */
    json_t *notready_since; /* node name -> ms this leader first saw it not Ready */
    json_t *evicting;       /* pod key -> ms its delete was proposed */
};

static const char *meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static json_int_t ms_of(json_t *map, const char *name, uint64_t dflt)
{
    json_t *v = json_object_get(map, name);
    if (v == NULL) {
        json_object_set_new(map, name, json_integer((json_int_t)dflt));
        return (json_int_t)dflt;
    }
    return json_integer_value(v);
}

static void start(struct sched *s, struct sched_ctrl *c)
{
    struct state *st = calloc(1, sizeof *st);
    const char *key;
    json_t *node;
    if (st == NULL)
        return;
    st->first_seen = json_object();
    st->notready_since = json_object();
    st->evicting = json_object();
    c->state = st;
    json_object_foreach (sched__objs(s, SK_NODE), key, node)
        sched__enqueue(s, c, key);
}

static void stop(struct sched *s, struct sched_ctrl *c)
{
    struct state *st = c->state;
    (void)s;
    if (st == NULL)
        return;
    json_decref(st->first_seen);
    json_decref(st->notready_since);
    json_decref(st->evicting);
    free(st);
    c->state = NULL;
}

static const char *pod_node(const json_t *pod)
{
    return json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    struct state *st = c->state;
    if (st == NULL)
        return;
    if (kind == SK_NODE) {
        if (obj == NULL) {
            const char *name = meta_str(old, "name");
            if (name != NULL) {
                json_object_del(st->first_seen, name);
                json_object_del(st->notready_since, name);
            }
            return;
        }
        sched__enqueue(s, c, key);
        return;
    }
    if (kind != SK_POD)
        return;
    /* the delete came back (or the pod is gone): no longer in flight */
    if (obj == NULL || json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"))
        json_object_del(st->evicting, key);
    /* a pod landing on (or changing on) a node we are evicting from */
    if (obj != NULL && pod_node(obj) != NULL &&
        json_object_get(st->notready_since, pod_node(obj)) != NULL) {
        char nkey[STORE_KEY_MAX + 1];
        if (sched__key_of(SK_NODE, NULL, pod_node(obj), nkey, sizeof nkey) == 0)
            sched__enqueue(s, c, nkey);
    }
}

/* Reachability changes without any store event: look at every node. */
static void tick(struct sched *s, struct sched_ctrl *c)
{
    const char *key;
    json_t *node;
    json_object_foreach (sched__objs(s, SK_NODE), key, node)
        sched__enqueue(s, c, key);
}

/* ---- the Node object ---- */

static json_t *ready_condition(const json_t *node)
{
    json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
    size_t i;
    json_t *cd;
    json_array_foreach (conds, i, cd) {
        const char *t = json_string_value(json_object_get(cd, "type"));
        if (t != NULL && strcmp(t, "Ready") == 0)
            return cd;
    }
    return NULL;
}

static const char *ready_status(const json_t *node)
{
    return json_string_value(json_object_get(ready_condition(node), "status"));
}

static bool is_lifecycle_taint(const json_t *t)
{
    const char *k = json_string_value(json_object_get(t, "key"));
    return k != NULL && (strcmp(k, UNREACHABLE_TAINT) == 0 || strcmp(k, NOT_READY_TAINT) == 0);
}

static bool has_taint(const json_t *taints, const char *key, const char *effect)
{
    size_t i;
    json_t *t;
    json_array_foreach (taints, i, t) {
        const char *k = json_string_value(json_object_get(t, "key"));
        const char *ef = json_string_value(json_object_get(t, "effect"));
        if (k != NULL && ef != NULL && strcmp(k, key) == 0 && strcmp(ef, effect) == 0)
            return true;
    }
    return false;
}

/* Marks neu (a copy of the node) unreachable, as kube's
 * tryUpdateNodeHealth does for a kubelet gone silent: every condition goes
 * Unknown; not-ready taints are swapped for unreachable ones. Returns true
 * when something changed. */
static bool mark_unknown(json_t *neu, const char *now)
{
    json_t *status = json_object_get(neu, "status"), *conds, *cd, *spec, *taints, *t;
    bool changed = false;
    size_t i;
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(neu, "status", status);
    }
    conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    if (ready_condition(neu) == NULL)
        json_array_append_new(conds, json_pack("{s:s}", "type", "Ready"));
    json_array_foreach (conds, i, cd) {
        const char *cs = json_string_value(json_object_get(cd, "status"));
        if (cs != NULL && strcmp(cs, "Unknown") == 0)
            continue;
        json_object_set_new(cd, "status", json_string("Unknown"));
        json_object_set_new(cd, "reason", json_string("NodeStatusUnknown"));
        json_object_set_new(cd, "message", json_string(UNKNOWN_MESSAGE));
        json_object_set_new(cd, "lastTransitionTime", json_string(now));
        changed = true;
    }
    spec = json_object_get(neu, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(neu, "spec", spec);
    }
    taints = json_object_get(spec, "taints");
    if (!json_is_array(taints)) {
        taints = json_array();
        json_object_set_new(spec, "taints", taints);
    }
    for (i = 0; i < json_array_size(taints);) {
        const char *k = json_string_value(json_object_get(json_array_get(taints, i), "key"));
        if (k != NULL && strcmp(k, NOT_READY_TAINT) == 0) {
            json_array_remove(taints, i);
            changed = true;
        } else {
            i++;
        }
    }
    if (!has_taint(taints, UNREACHABLE_TAINT, "NoSchedule")) {
        t = json_pack("{s:s, s:s}", "key", UNREACHABLE_TAINT, "effect", "NoSchedule");
        json_array_append_new(taints, t);
        changed = true;
    }
    /* NoExecute taints carry timeAdded: tolerationSeconds count from it */
    if (!has_taint(taints, UNREACHABLE_TAINT, "NoExecute")) {
        t = json_pack("{s:s, s:s, s:s}", "key", UNREACHABLE_TAINT, "effect", "NoExecute",
                      "timeAdded", now);
        json_array_append_new(taints, t);
        changed = true;
    }
    return changed;
}

/* The node is reached again: Ready True (as a kubelet posting status would
 * write it) and the lifecycle taints removed. */
static bool mark_ready(json_t *neu, const char *now)
{
    json_t *cd = ready_condition(neu), *taints;
    const char *cs = json_string_value(json_object_get(cd, "status"));
    bool changed = false;
    size_t i;
    if (cd != NULL && (cs == NULL || strcmp(cs, "True") != 0)) {
        json_object_set_new(cd, "status", json_string("True"));
        json_object_set_new(cd, "reason", json_string("KubeletReady"));
        json_object_set_new(cd, "message", json_string("kubelet is posting ready status"));
        json_object_set_new(cd, "lastTransitionTime", json_string(now));
        json_object_set_new(cd, "lastHeartbeatTime", json_string(now));
        changed = true;
    }
    taints = json_object_get(json_object_get(neu, "spec"), "taints");
    for (i = 0; i < json_array_size(taints);) {
        if (is_lifecycle_taint(json_array_get(taints, i))) {
            json_array_remove(taints, i);
            changed = true;
        } else {
            i++;
        }
    }
    return changed;
}

/* ---- eviction ---- */

/* How long pod may stay on a node carrying the NoExecute taint key, as
 * kube's getMinTolerationTime: NOT_TOLERATED, FOREVER (tolerated, none of
 * the matching tolerations has tolerationSeconds) or the smallest
 * tolerationSeconds in ms (0 when one is <= 0). */
#define NOT_TOLERATED (-2)
#define FOREVER       (-1)
static int64_t toleration_ms(const json_t *pod, const char *taint_key)
{
    const json_t *tols = json_object_get(json_object_get(pod, "spec"), "tolerations");
    int64_t best = FOREVER;
    bool any = false;
    size_t i;
    json_t *t;
    json_array_foreach (tols, i, t) {
        const char *k = json_string_value(json_object_get(t, "key"));
        const char *op = json_string_value(json_object_get(t, "operator"));
        const char *ef = json_string_value(json_object_get(t, "effect"));
        const char *v = json_string_value(json_object_get(t, "value"));
        const json_t *secs = json_object_get(t, "tolerationSeconds");
        bool exists = op != NULL && strcmp(op, "Exists") == 0;
        int64_t ms;
        if (ef != NULL && ef[0] != '\0' && strcmp(ef, "NoExecute") != 0)
            continue;
        if (k == NULL || k[0] == '\0') {
            if (!exists)
                continue; /* an empty key only with Exists */
        } else if (strcmp(k, taint_key) != 0 || (!exists && v != NULL && v[0] != '\0')) {
            continue; /* the lifecycle taints have no value */
        }
        any = true;
        if (!json_is_integer(secs))
            continue;
        ms = json_integer_value(secs) <= 0 ? 0 : (int64_t)json_integer_value(secs) * 1000;
        if (best == FOREVER || ms < best)
            best = ms;
    }
    return any ? best : NOT_TOLERATED;
}

static void evict(struct sched *s, struct sched_ctrl *c, const char *name, const char *taint_key,
                  uint64_t since)
{
    struct state *st = c->state;
    const struct sched_config *cfg = sched__config(s);
    uint64_t now = sched__now_ms(s);
    const char *key;
    json_t *pod;
    /* O(pods) per NotReady node per second: a dead node is rare, and a
     * per-node pod index would cost every pod event instead */
    json_object_foreach (sched__objs(s, SK_POD), key, pod) {
        const char *n = pod_node(pod);
        json_t *inflight;
        int64_t tol;
        uint64_t due;
        if (n == NULL || strcmp(n, name) != 0 || !sched__pod_active(pod))
            continue;
        tol = toleration_ms(pod, taint_key);
        if (tol == FOREVER)
            continue;
        due = since + (tol == NOT_TOLERATED ? cfg->pod_eviction_ms : (uint64_t)tol);
        if (now < due)
            continue;
        inflight = json_object_get(st->evicting, key);
        if (inflight != NULL && now - (uint64_t)json_integer_value(inflight) < EVICT_RETRY_MS)
            continue;
        if (sched__delete(s, c, SK_POD, pod, NULL, false, NULL) == 0) {
            json_object_set_new(st->evicting, key, json_integer((json_int_t)now));
            LOG_INFO("sched", "pod_evicted", "pod=%s/%s node=%s", meta_str(pod, "namespace"),
                     meta_str(pod, "name"), name);
        }
    }
}

/* what mark_unknown would leave: every condition Unknown, both unreachable
 * taints, no not-ready taint */
static bool is_unknown(const json_t *node)
{
    const json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
    const json_t *taints = json_object_get(json_object_get(node, "spec"), "taints");
    size_t i;
    json_t *v;
    if (ready_condition(node) == NULL || !has_taint(taints, UNREACHABLE_TAINT, "NoSchedule") ||
        !has_taint(taints, UNREACHABLE_TAINT, "NoExecute"))
        return false;
    json_array_foreach (conds, i, v) {
        const char *cs = json_string_value(json_object_get(v, "status"));
        if (cs == NULL || strcmp(cs, "Unknown") != 0)
            return false;
    }
    json_array_foreach (taints, i, v) {
        const char *k = json_string_value(json_object_get(v, "key"));
        if (k != NULL && strcmp(k, NOT_READY_TAINT) == 0)
            return false;
    }
    return true;
}

/* what mark_ready would leave: Ready True (or no Ready condition at all,
 * which is not ours to invent), no lifecycle taint */
static bool is_ready(const json_t *node)
{
    const json_t *taints = json_object_get(json_object_get(node, "spec"), "taints");
    const char *ready = ready_status(node);
    size_t i;
    json_t *t;
    if (ready_condition(node) != NULL && (ready == NULL || strcmp(ready, "True") != 0))
        return false;
    json_array_foreach (taints, i, t)
        if (is_lifecycle_taint(t))
            return false;
    return true;
}

static void nodes_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    struct state *st = c->state;
    const struct sched_config *cfg = sched__config(s);
    json_t *node = sched__get(s, SK_NODE, key), *neu;
    const char *name, *ready;
    uint64_t now = sched__now_ms(s), seen;
    bool reachable, judged, changed, unknown, want_ready;
    char ts[21];

    if (st == NULL || node == NULL || (name = meta_str(node, "name")) == NULL)
        return;
    seen = (uint64_t)ms_of(st->first_seen, name, now);
    reachable = sched__node_reachable(s, name);
    /* a verdict needs a full grace period of our own probing */
    judged = sched__leading_ms(s) >= cfg->node_grace_ms && now - seen >= cfg->node_grace_ms;
    ready = ready_status(node);
    sched__now_rfc3339(s, ts);
    unknown = !reachable && judged;
    /* back to Ready only once we really reached it ourselves (right after
     * we start leading every node counts as just seen), and only undoing
     * our own verdict: a Ready False is the node's own report */
    want_ready = reachable && !(ready != NULL && strcmp(ready, "False") == 0) &&
                 (judged || (ready != NULL && strcmp(ready, "True") == 0));
    /* every node is looked at every second: copy only when a write is due */
    if ((unknown && !is_unknown(node)) || (want_ready && !is_ready(node))) {
        neu = json_deep_copy(node);
        if (neu == NULL)
            return;
        changed = unknown ? mark_unknown(neu, ts) : mark_ready(neu, ts);
        if (changed && unknown && (ready == NULL || strcmp(ready, "Unknown") != 0))
            LOG_INFO("sched", "node_not_ready", "node=%s reason=unreachable grace_ms=%u", name,
                     cfg->node_grace_ms);
        else if (changed && !unknown && (ready == NULL || strcmp(ready, "True") != 0))
            LOG_INFO("sched", "node_ready", "node=%s", name);
        if (changed)
            sched__update(s, c, SK_NODE, node, neu, key);
        else
            json_decref(neu);
    }

    /* eviction follows the object's Ready condition, which is what every
     * client sees, not our probe of the moment */
    if (ready != NULL && strcmp(ready, "True") == 0 && !unknown) {
        json_object_del(st->notready_since, name);
        return;
    }
    if (ready == NULL && !unknown)
        return;
    {
        uint64_t since = (uint64_t)ms_of(st->notready_since, name, now);
        const char *taint = (unknown || (ready != NULL && strcmp(ready, "Unknown") == 0))
                                ? UNREACHABLE_TAINT
                                : NOT_READY_TAINT;
        evict(s, c, name, taint, since);
    }
}

struct sched_ctrl sched__ctrl_nodes = {"nodes",    start, stop, on_event,
                                       nodes_sync, tick,  NULL, NULL};
