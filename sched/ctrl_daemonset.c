/* DaemonSet controller (kube's pkg/controller/daemon): one Pod of the
 * template on every eligible Node, created already bound (spec.nodeName),
 * named <ds>-<random>, labelled controller-revision-hash with a hash of the
 * template. A node is eligible when it matches the template's nodeSelector
 * and required node affinity, its NoSchedule/NoExecute taints are tolerated
 * (with the tolerations kube adds to every DaemonSet pod) and it is not
 * being deleted; a pod already there may stay while only NoExecute taints
 * are tolerated. Extra pods (two on a node, or one on a node it must leave)
 * are deleted. On a template change RollingUpdate replaces pods node by node
 * within maxUnavailable (or ahead of the old ones within maxSurge); OnDelete
 * only replaces what was deleted. Status is written only when it changed.
 * Level-triggered like the ReplicaSet controller: every sync recounts from
 * the caches, expectations keep a create from repeating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "sched/internal.h"
#include "sched/sched_core.h"

#define BURST      250 /* creates or deletes per sync */
#define HASH_LABEL "controller-revision-hash"

/* ---- events ---- */

static const char *ready_status(const json_t *node)
{
    const json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t != NULL && strcmp(t, "Ready") == 0)
            return json_string_value(json_object_get(c, "status"));
    }
    return NULL;
}

/* Whether a node change can change where daemon pods belong: labels, spec
 * (taints, unschedulable), deletion, readiness. Heartbeats do not. */
static bool node_moved(const json_t *old, const json_t *obj)
{
    const json_t *om = json_object_get(old, "metadata"), *nm = json_object_get(obj, "metadata");
    const char *ro = ready_status(old), *rn = ready_status(obj);
    if (old == NULL || obj == NULL)
        return true;
    if (!json_equal(json_object_get(om, "labels"), json_object_get(nm, "labels")) &&
        (json_object_get(om, "labels") != NULL || json_object_get(nm, "labels") != NULL))
        return true;
    if (!json_equal(json_object_get(old, "spec"), json_object_get(obj, "spec")) &&
        (json_object_get(old, "spec") != NULL || json_object_get(obj, "spec") != NULL))
        return true;
    if ((json_object_get(om, "deletionTimestamp") == NULL) !=
        (json_object_get(nm, "deletionTimestamp") == NULL))
        return true;
    return (ro == NULL) != (rn == NULL) || (ro != NULL && strcmp(ro, rn) != 0);
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    const json_t *o = obj ? obj : old;
    if (kind == SK_DAEMONSET) {
        sched__enqueue(s, c, key);
        return;
    }
    if (kind == SK_NODE) {
        const char *k;
        json_t *v;
        if (!node_moved(old, obj))
            return;
        json_object_foreach (sched__objs(s, SK_DAEMONSET), k, v)
            sched__enqueue(s, c, k);
        return;
    }
    if (kind == SK_POD) {
        const json_t *meta = json_object_get(o, "metadata");
        const json_t *refs = json_object_get(meta, "ownerReferences");
        size_t i;
        json_t *r;
        json_array_foreach (refs, i, r) {
            const char *k = json_string_value(json_object_get(r, "kind"));
            char ds_key[STORE_KEY_MAX + 1];
            if (!json_is_true(json_object_get(r, "controller")) || k == NULL ||
                strcmp(k, "DaemonSet") != 0)
                continue;
            if (sched__key_of(SK_DAEMONSET, json_string_value(json_object_get(meta, "namespace")),
                              json_string_value(json_object_get(r, "name")), ds_key,
                              sizeof ds_key) == 0)
                sched__enqueue(s, c, ds_key);
        }
    }
}

/* ---- the pod a DaemonSet runs ---- */

/* kube's ComputeHash: FNV-1a (32 bit) of the template, its decimal form
 * spelled in the alphabet of rand.SafeEncodeString. */
static void template_hash(const json_t *tmpl, char out[16])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char *dump = json_dumps(tmpl, JSON_SORT_KEYS | JSON_COMPACT);
    uint32_t h = 2166136261u;
    char dec[16];
    size_t i;
    for (const char *p = dump ? dump : ""; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    free(dump);
    snprintf(dec, sizeof dec, "%u", h);
    for (i = 0; dec[i] != '\0' && i < 15; i++)
        out[i] = alphabet[(unsigned char)dec[i] % (sizeof alphabet - 1)];
    out[i] = '\0';
}

static void add_toleration(json_t *spec, const char *key, const char *effect)
{
    json_t *tols = json_object_get(spec, "tolerations"), *t;
    size_t i;
    if (!json_is_array(tols)) {
        tols = json_array();
        json_object_set_new(spec, "tolerations", tols);
    }
    json_array_foreach (tols, i, t) {
        const char *k = json_string_value(json_object_get(t, "key"));
        const char *e = json_string_value(json_object_get(t, "effect"));
        if (k != NULL && strcmp(k, key) == 0 && (e == NULL || strcmp(e, effect) == 0))
            return;
    }
    json_array_append_new(
        tols, json_pack("{s:s, s:s, s:s}", "key", key, "operator", "Exists", "effect", effect));
}

/* The pod every node gets (without nodeName): the template, owned by ds,
 * with the hash label and kube's DaemonSet tolerations. New reference. */
static json_t *proto_pod(const json_t *ds, const char *hash)
{
    static const char *const tols[][2] = {
        {"node.kubernetes.io/not-ready", "NoExecute"},
        {"node.kubernetes.io/unreachable", "NoExecute"},
        {"node.kubernetes.io/disk-pressure", "NoSchedule"},
        {"node.kubernetes.io/memory-pressure", "NoSchedule"},
        {"node.kubernetes.io/pid-pressure", "NoSchedule"},
        {"node.kubernetes.io/unschedulable", "NoSchedule"},
    };
    const json_t *meta = json_object_get(ds, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    char prefix[300];
    json_t *pod, *pmeta, *spec, *labels;
    snprintf(prefix, sizeof prefix, "%.57s-", name ? name : "ds");
    pod = sched__pod_from_template(json_object_get(json_object_get(ds, "spec"), "template"), ds,
                                   SK_DAEMONSET, prefix);
    if (pod == NULL)
        return NULL;
    pmeta = json_object_get(pod, "metadata");
    labels = json_object_get(pmeta, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(pmeta, "labels", labels);
    }
    json_object_set_new(labels, HASH_LABEL, json_string(hash));
    spec = json_object_get(pod, "spec");
    if (!json_is_object(spec)) {
        json_decref(pod);
        return NULL;
    }
    for (size_t i = 0; i < sizeof tols / sizeof tols[0]; i++)
        add_toleration(spec, tols[i][0], tols[i][1]);
    if (json_is_true(json_object_get(spec, "hostNetwork")))
        add_toleration(spec, "node.kubernetes.io/network-unavailable", "NoSchedule");
    return pod;
}

/* ---- node eligibility ---- */

struct fit {
    bool run;  /* a daemon pod should be there */
    bool cont; /* a daemon pod already there may stay */
};

static bool tolerated(const struct sched_pod *p, const struct sched_taint *t)
{
    for (size_t i = 0; i < p->n_tols; i++) {
        const struct sched_toleration *to = &p->tols[i];
        if (to->effect != 0 && to->effect != t->effect)
            continue;
        if (to->key[0] != '\0' && strcmp(to->key, t->key) != 0)
            continue;
        if (to->exists || strcmp(to->value, t->value) == 0)
            return true;
    }
    return false;
}

static struct fit node_fit(const json_t *node, const struct sched_pod *p)
{
    struct fit f = {false, false};
    struct sched_node n;
    struct err warn, e;
    bool noexec_ok = true;
    if (json_object_get(json_object_get(node, "metadata"), "deletionTimestamp") != NULL)
        return f;
    memset(&n, 0, sizeof n);
    warn.code = 0;
    if (sched__node_parse(node, &n, &warn, &e) == 0 && sched__fits_affinity(&n, p)) {
        for (size_t i = 0; i < n.n_taints; i++)
            if (n.taints[i].effect == SCHED_EFFECT_NO_EXECUTE && !tolerated(p, &n.taints[i]))
                noexec_ok = false;
        f.cont = noexec_ok;
        f.run = noexec_ok && sched__untolerated_taint(&n, p) == NULL &&
                sched__fits_unschedulable(&n, p);
    }
    sched__arena_free(&n.arena);
    return f;
}

/* ---- pods per node ---- */

struct dpod {
    const json_t *pod;
    const char *created;
    const char *name;
    bool current; /* carries the template's hash */
};

static int dpod_cmp(const void *a, const void *b)
{
    const struct dpod *x = a, *y = b;
    int c = strcmp(x->created ? x->created : "", y->created ? y->created : "");
    return c != 0 ? c : strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

struct dnode {
    const char *name;
    struct fit fit;
    struct dpod *pods; /* live: not terminal, not being deleted; oldest first */
    size_t n_pods, cap_pods;
    size_t dying; /* being deleted */
};

static struct dnode *dnode_find(struct dnode *nodes, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].name, name) == 0)
            return &nodes[i];
    return NULL;
}

static int dnode_add_pod(struct dnode *d, const json_t *pod, const char *hash)
{
    const json_t *meta = json_object_get(pod, "metadata");
    const char *h = json_string_value(json_object_get(json_object_get(meta, "labels"), HASH_LABEL));
    if (d->n_pods == d->cap_pods) {
        size_t cap = d->cap_pods ? d->cap_pods * 2 : 2;
        struct dpod *np = realloc(d->pods, cap * sizeof *np);
        if (np == NULL)
            return ERR_NOMEM;
        d->pods = np;
        d->cap_pods = cap;
    }
    d->pods[d->n_pods].pod = pod;
    d->pods[d->n_pods].created = json_string_value(json_object_get(meta, "creationTimestamp"));
    d->pods[d->n_pods].name = json_string_value(json_object_get(meta, "name"));
    d->pods[d->n_pods].current = h != NULL && strcmp(h, hash) == 0;
    d->n_pods++;
    return 0;
}

/* kube's IsPodAvailable: ready for at least minReadySeconds. *wait_ms gets
 * the time until a ready pod becomes available (0 if it is). */
static bool pod_available(const json_t *pod, json_int_t min_ready, uint64_t *wait_ms)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    size_t i;
    json_t *c;
    if (!sched__pod_ready(pod))
        return false;
    if (min_ready <= 0)
        return true;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *since = json_string_value(json_object_get(c, "lastTransitionTime"));
        struct tm tm;
        time_t at, now = time(NULL);
        if (t == NULL || strcmp(t, "Ready") != 0 || since == NULL)
            continue;
        memset(&tm, 0, sizeof tm);
        if (strptime(since, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
            return true;
        at = timegm(&tm);
        if (now - at >= min_ready)
            return true;
        if (wait_ms != NULL &&
            (*wait_ms == 0 || *wait_ms > (uint64_t)(min_ready - (now - at)) * 1000))
            *wait_ms = (uint64_t)(min_ready - (now - at)) * 1000;
        return false;
    }
    return true;
}

/* An int-or-percent of total; percentages round up, as kube scales
 * maxUnavailable and maxSurge for DaemonSets. */
static long int_or_percent(const json_t *v, long total, long dflt)
{
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (json_is_string(v)) {
        const char *sv = json_string_value(v);
        char *end;
        long pct = strtol(sv, &end, 10);
        if (end != sv && *end == '%' && pct >= 0)
            return (pct * total + 99) / 100;
        if (end != sv && *end == '\0')
            return pct;
    }
    return dflt;
}

/* ---- sync ---- */

struct plan {
    struct sched *s;
    struct sched_ctrl *c;
    const char *key, *uid, *ns;
    const json_t *proto;
    int actions; /* creates + deletes issued this sync */
};

static void plan_delete(struct plan *pl, const json_t *pod)
{
    if (pl->actions >= BURST)
        return;
    if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL)
        return;
    if (sched__delete(pl->s, pl->c, SK_POD, pod, pl->uid, false, pl->key) == 0)
        pl->actions++;
}

static void plan_create(struct plan *pl, const char *node)
{
    json_t *pod;
    if (pl->actions >= BURST) {
        pl->actions++; /* counts as pending work: no rolling step this sync */
        return;
    }
    pod = json_deep_copy(pl->proto);
    if (pod == NULL)
        return;
    json_object_set_new(json_object_get(pod, "spec"), "nodeName", json_string(node));
    if (sched__create(pl->s, pl->c, SK_POD, pl->ns, pod, pl->uid, pl->key) == 0)
        pl->actions++;
}

/* Placement: a pod on every node that should run one, none elsewhere, one
 * per node (with maxSurge, one current and one old while a node is
 * replaced). Failed pods go, to be replaced. */
static void place(struct plan *pl, struct dnode *d, bool surge)
{
    size_t keep_cur = SIZE_MAX, keep_old = SIZE_MAX;
    if (d->fit.run && d->n_pods == 0 && d->dying == 0) {
        plan_create(pl, d->name);
        return;
    }
    if (!d->fit.cont) {
        for (size_t i = 0; i < d->n_pods; i++)
            plan_delete(pl, d->pods[i].pod);
        return;
    }
    if (d->n_pods <= 1)
        return;
    if (!surge) {
        /* the oldest stays */
        for (size_t i = 1; i < d->n_pods; i++)
            plan_delete(pl, d->pods[i].pod);
        return;
    }
    for (size_t i = 0; i < d->n_pods; i++) {
        if (d->pods[i].current && keep_cur == SIZE_MAX)
            keep_cur = i;
        else if (!d->pods[i].current && keep_old == SIZE_MAX)
            keep_old = i;
        else
            plan_delete(pl, d->pods[i].pod);
    }
}

/* RollingUpdate after placement settled (kube's rollingUpdate): without
 * surge, old pods are deleted while fewer than maxUnavailable desired nodes
 * lack an available pod (unavailable old pods go at once); with surge, a
 * current pod is created beside an old one within maxSurge, and the old one
 * goes once the new one is available. */
static void roll(struct plan *pl, struct dnode *nodes, size_t n_nodes, long desired,
                 const json_t *ru, json_int_t min_ready, uint64_t *wait_ms)
{
    long max_surge = int_or_percent(json_object_get(ru, "maxSurge"), desired, 0);
    long max_unav = int_or_percent(json_object_get(ru, "maxUnavailable"), desired, 1);
    long unavailable = 0, surging = 0;
    if (max_surge < 0)
        max_surge = 0;
    if (max_unav < 0)
        max_unav = 0;
    if (max_surge == 0 && max_unav == 0)
        max_unav = 1;
    for (size_t i = 0; i < n_nodes; i++) {
        struct dnode *d = &nodes[i];
        bool avail = false, has_cur = false, has_old = false;
        if (!d->fit.run)
            continue;
        for (size_t j = 0; j < d->n_pods; j++) {
            avail = avail || pod_available(d->pods[j].pod, min_ready, wait_ms);
            has_cur = has_cur || d->pods[j].current;
            has_old = has_old || !d->pods[j].current;
        }
        if (!avail)
            unavailable++;
        if (has_cur && has_old)
            surging++;
    }
    for (size_t i = 0; i < n_nodes; i++) {
        struct dnode *d = &nodes[i];
        const struct dpod *cur = NULL, *old = NULL;
        if (!d->fit.run)
            continue;
        for (size_t j = 0; j < d->n_pods; j++) {
            if (d->pods[j].current && cur == NULL)
                cur = &d->pods[j];
            else if (!d->pods[j].current && old == NULL)
                old = &d->pods[j];
        }
        if (old == NULL)
            continue;
        if (max_surge == 0) {
            if (cur != NULL)
                continue; /* placement removes the extra */
            if (!pod_available(old->pod, min_ready, NULL)) {
                plan_delete(pl, old->pod);
            } else if (unavailable < max_unav) {
                unavailable++;
                plan_delete(pl, old->pod);
            }
            continue;
        }
        if (cur != NULL) {
            if (pod_available(cur->pod, min_ready, wait_ms))
                plan_delete(pl, old->pod);
            continue;
        }
        if (!pod_available(old->pod, min_ready, NULL) || surging < max_surge) {
            if (pod_available(old->pod, min_ready, NULL))
                surging++;
            plan_create(pl, d->name);
        }
    }
}

static void write_status(struct plan *pl, const json_t *ds, struct dnode *nodes, size_t n_nodes,
                         json_int_t min_ready, uint64_t *wait_ms)
{
    const json_t *status = json_object_get(ds, "status"), *v;
    json_int_t desired = 0, current = 0, mis = 0, ready = 0, updated = 0, avail = 0;
    const char *k;
    json_t *neu;
    for (size_t i = 0; i < n_nodes; i++) {
        const struct dnode *d = &nodes[i];
        if (!d->fit.run) {
            if (d->n_pods > 0)
                mis++;
            continue;
        }
        desired++;
        if (d->n_pods == 0)
            continue;
        current++;
        if (sched__pod_ready(d->pods[0].pod)) {
            ready++;
            if (pod_available(d->pods[0].pod, min_ready, wait_ms))
                avail++;
        }
        for (size_t j = 0; j < d->n_pods; j++)
            if (d->pods[j].current) {
                updated++;
                break;
            }
    }
    neu = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "currentNumberScheduled", current,
                    "numberMisscheduled", mis, "desiredNumberScheduled", desired, "numberReady",
                    ready, "updatedNumberScheduled", updated, "numberAvailable", avail,
                    "numberUnavailable", desired - avail);
    if (neu == NULL)
        return;
    v = json_object_get(json_object_get(ds, "metadata"), "generation");
    if (v != NULL)
        json_object_set(neu, "observedGeneration", (json_t *)v);
    /* what this controller does not compute is kept */
    json_object_foreach ((json_t *)status, k, v)
        if (json_object_get(neu, k) == NULL)
            json_object_set(neu, k, (json_t *)v);
    if (!json_equal(neu, status)) {
        json_t *upd = json_deep_copy(ds);
        if (upd != NULL) {
            json_object_set(upd, "status", neu);
            sched__update(pl->s, pl->c, SK_DAEMONSET, ds, upd, pl->key);
        }
    }
    json_decref(neu);
}

static void ds_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    json_t *ds = sched__get(s, SK_DAEMONSET, key), *proto = NULL, *owned, *kindv;
    const json_t *meta, *spec, *strategy;
    const char *uid, *name, *type, *pkey, *nkey;
    struct sched_pod *parsed = NULL;
    struct dnode *nodes = NULL;
    size_t n_nodes = 0;
    json_t *node;
    json_int_t min_ready;
    struct plan pl;
    struct err warn, e;
    char hash[16];
    uint64_t wait_ms = 0;
    bool surge;
    long desired = 0;

    if (ds == NULL)
        return;
    meta = json_object_get(ds, "metadata");
    spec = json_object_get(ds, "spec");
    uid = json_string_value(json_object_get(meta, "uid"));
    name = json_string_value(json_object_get(meta, "name"));
    if (uid == NULL || name == NULL || !sched__settled(s, uid))
        return;
    /* a DaemonSet being deleted is left to the garbage collector */
    if (json_object_get(meta, "deletionTimestamp") != NULL)
        return;
    strategy = json_object_get(spec, "updateStrategy");
    type = json_string_value(json_object_get(strategy, "type"));
    min_ready = json_integer_value(json_object_get(spec, "minReadySeconds"));
    template_hash(json_object_get(spec, "template"), hash);
    proto = proto_pod(ds, hash);
    if (proto == NULL)
        return;
    /* the parser wants a name; the real one is generated on create */
    json_object_set_new(json_object_get(proto, "metadata"), "name", json_string("daemon"));
    warn.code = 0;
    if (sched_pod_parse(proto, &parsed, &warn, &e) != 0) {
        LOG_WARN("sched", "daemonset_template", "ds=%s err=\"%s\"", key, e.msg);
        goto out;
    }
    json_object_del(json_object_get(proto, "metadata"), "name");
    surge = (type == NULL || strcmp(type, "RollingUpdate") == 0) &&
            json_object_get(json_object_get(strategy, "rollingUpdate"), "maxSurge") != NULL &&
            int_or_percent(json_object_get(json_object_get(strategy, "rollingUpdate"), "maxSurge"),
                           1000, 0) > 0;

    pl = (struct plan){s,     c, key, uid, json_string_value(json_object_get(meta, "namespace")),
                       proto, 0};
    nodes = calloc(json_object_size(sched__objs(s, SK_NODE)) + 1, sizeof *nodes);
    if (nodes == NULL)
        goto out;
    json_object_foreach (sched__objs(s, SK_NODE), nkey, node) {
        const char *nn =
            json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
        if (nn == NULL)
            continue;
        nodes[n_nodes].name = nn;
        nodes[n_nodes].fit = node_fit(node, parsed);
        if (nodes[n_nodes].fit.run)
            desired++;
        n_nodes++;
    }

    owned = sched__owned(s, uid);
    json_object_foreach (owned, pkey, kindv) {
        const json_t *pod, *pmeta;
        const char *phase, *nn, *cuid;
        struct dnode *d;
        if (json_integer_value(kindv) != SK_POD)
            continue;
        pod = sched__get(s, SK_POD, pkey);
        cuid = pod ? sched__controller_uid(pod) : NULL;
        if (cuid == NULL || strcmp(cuid, uid) != 0)
            continue;
        pmeta = json_object_get(pod, "metadata");
        phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
        nn = json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
        d = nn ? dnode_find(nodes, n_nodes, nn) : NULL;
        if (json_object_get(pmeta, "deletionTimestamp") != NULL) {
            if (d != NULL)
                d->dying++;
            continue;
        }
        if (phase != NULL && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)) {
            /* kube deletes a failed daemon pod so that a new one replaces it */
            plan_delete(&pl, pod);
            if (d != NULL)
                d->dying++;
            continue;
        }
        if (d == NULL) {
            plan_delete(&pl, pod); /* on no node, or on a node that is gone */
            continue;
        }
        if (dnode_add_pod(d, pod, hash) != 0)
            goto out;
    }
    for (size_t i = 0; i < n_nodes; i++)
        if (nodes[i].n_pods > 1)
            qsort(nodes[i].pods, nodes[i].n_pods, sizeof *nodes[i].pods, dpod_cmp);

    for (size_t i = 0; i < n_nodes; i++)
        place(&pl, &nodes[i], surge);
    if (pl.actions == 0 && (type == NULL || strcmp(type, "RollingUpdate") == 0))
        roll(&pl, nodes, n_nodes, desired, json_object_get(strategy, "rollingUpdate"), min_ready,
             &wait_ms);
    write_status(&pl, ds, nodes, n_nodes, min_ready, &wait_ms);
    if (wait_ms > 0)
        sched__enqueue_after(s, c, key, wait_ms + 100);
out:
    for (size_t i = 0; i < n_nodes; i++)
        free(nodes[i].pods);
    free(nodes);
    sched_pod_free(parsed);
    json_decref(proto);
}

struct sched_ctrl sched__ctrl_daemonset = {"daemonset", NULL, NULL, on_event,
                                           ds_sync,     NULL, NULL, NULL};
