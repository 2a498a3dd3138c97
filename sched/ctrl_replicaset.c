/* ReplicaSet controller: keeps spec.replicas active Pods matching the
 * selector and owned by the ReplicaSet, and reports status (replicas,
 * fullyLabeledReplicas, readyReplicas, availableReplicas,
 * observedGeneration). Level-triggered: every sync recounts from the cache;
 * expectations keep it from creating twice while its creates travel
 * through Raft and back through the watch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "sched/internal.h"

#define BURST 500 /* creates or deletes per sync, as the apiserver's slow start caps them */

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    const json_t *o = obj ? obj : old;
    if (kind == SK_REPLICASET) {
        sched__enqueue(s, c, key);
        return;
    }
    if (kind == SK_POD) {
        const json_t *refs = json_object_get(json_object_get(o, "metadata"), "ownerReferences");
        size_t i;
        json_t *r;
        json_array_foreach (refs, i, r) {
            const char *k = json_string_value(json_object_get(r, "kind"));
            char rs_key[STORE_KEY_MAX + 1];
            if (!json_is_true(json_object_get(r, "controller")) || k == NULL ||
                strcmp(k, "ReplicaSet") != 0)
                continue;
            if (sched__key_of(
                    SK_REPLICASET,
                    json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace")),
                    json_string_value(json_object_get(r, "name")), rs_key, sizeof rs_key) == 0)
                sched__enqueue(s, c, rs_key);
        }
    }
}

/* Deletion order, as the ReplicaSet controller ranks pods: unscheduled
 * before scheduled, pending before running, not ready before ready, newer
 * before older. Lower rank goes first. */
static int rank(const json_t *pod)
{
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    int r = 0;
    if (json_string_length(json_object_get(json_object_get(pod, "spec"), "nodeName")) > 0)
        r += 4;
    if (phase != NULL && strcmp(phase, "Running") == 0)
        r += 2;
    if (sched__pod_ready(pod))
        r += 1;
    return r;
}

struct victim {
    const json_t *pod;
    int rank;
    const char *created;
};

static int victim_cmp(const void *a, const void *b)
{
    const struct victim *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank - y->rank;
    /* newer first */
    return -strcmp(x->created ? x->created : "", y->created ? y->created : "");
}

static void rs_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    json_t *rs = sched__get(s, SK_REPLICASET, key), *owned, *status, *neu;
    const json_t *meta, *spec, *sel;
    const char *uid, *ns, *name, *pkey;
    json_t *kindv;
    struct victim *active = NULL;
    size_t n_active = 0, cap = 0, ready = 0, labeled = 0;
    json_int_t want;
    long diff;
    char prefix[300];

    if (rs == NULL)
        return;
    meta = json_object_get(rs, "metadata");
    spec = json_object_get(rs, "spec");
    uid = json_string_value(json_object_get(meta, "uid"));
    ns = json_string_value(json_object_get(meta, "namespace"));
    name = json_string_value(json_object_get(meta, "name"));
    sel = json_object_get(spec, "selector");
    if (uid == NULL || name == NULL || !sched__settled(s, uid))
        return;
    want = json_is_integer(json_object_get(spec, "replicas"))
               ? json_integer_value(json_object_get(spec, "replicas"))
               : 1;
    owned = sched__owned(s, uid);
    json_object_foreach (owned, pkey, kindv) {
        const json_t *pod;
        if (json_integer_value(kindv) != SK_POD)
            continue;
        pod = sched__get(s, SK_POD, pkey);
        if (pod == NULL || sched__controller_uid(pod) == NULL ||
            strcmp(sched__controller_uid(pod), uid) != 0 || !sched__pod_active(pod))
            continue;
        if (n_active == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct victim *na = realloc(active, nc * sizeof *na);
            if (na == NULL)
                break;
            active = na;
            cap = nc;
        }
        active[n_active].pod = pod;
        active[n_active].rank = rank(pod);
        active[n_active].created = json_string_value(
            json_object_get(json_object_get(pod, "metadata"), "creationTimestamp"));
        n_active++;
        if (sched__pod_ready(pod))
            ready++;
        if (sched__selector_matches(
                sel, json_object_get(json_object_get(pod, "metadata"), "labels"), false))
            labeled++;
    }
    diff = (long)want - (long)n_active;
    if (json_object_get(meta, "deletionTimestamp") == NULL && diff > 0) {
        long n = diff > BURST ? BURST : diff;
        snprintf(prefix, sizeof prefix, "%.57s-", name);
        for (long i = 0; i < n; i++) {
            json_t *pod = sched__pod_from_template(json_object_get(spec, "template"), rs,
                                                   SK_REPLICASET, prefix);
            if (pod == NULL || sched__create(s, c, SK_POD, ns, pod, uid, key) != 0)
                break;
        }
    } else if (diff < 0) {
        long n = -diff > BURST ? BURST : -diff;
        qsort(active, n_active, sizeof *active, victim_cmp);
        for (long i = 0; i < n; i++)
            sched__delete(s, c, SK_POD, active[i].pod, uid, false, key);
    }
    free(active);

    /* status, written only when it changed */
    status = json_object_get(rs, "status");
    neu = json_pack("{s:I, s:I, s:I, s:I, s:O*}", "replicas", (json_int_t)n_active,
                    "fullyLabeledReplicas", (json_int_t)labeled, "readyReplicas", (json_int_t)ready,
                    "availableReplicas", (json_int_t)ready, "observedGeneration",
                    json_object_get(meta, "generation"));
    if (neu != NULL && json_object_get(status, "conditions") != NULL)
        json_object_set(neu, "conditions", json_object_get(status, "conditions"));
    if (neu != NULL && !json_equal(neu, status)) {
        json_t *upd = json_deep_copy(rs);
        if (upd != NULL) {
            json_object_set(upd, "status", neu);
            sched__update(s, c, SK_REPLICASET, rs, upd, key);
        }
    }
    json_decref(neu);
}

struct sched_ctrl sched__ctrl_replicaset = {"replicaset", NULL, NULL, on_event,
                                            rs_sync,      NULL, NULL, NULL};
