/* Deployment controller: a Deployment owns ReplicaSets named
 * <deployment>-<pod-template-hash>, one per pod template it has had; the
 * one whose template equals the Deployment's is "new", the others "old".
 * RollingUpdate moves replicas from old to new within maxSurge and
 * maxUnavailable; Recreate empties the old ones first. Replica changes
 * without a template change are spread proportionally over the active
 * ReplicaSets. Old ReplicaSets at 0 beyond revisionHistoryLimit are
 * deleted. Status (counts, Available and Progressing conditions) is written
 * only when it changed.
 *
 * As kube's pkg/controller/deployment, with one deliberate difference: the
 * sizes used for the surge and availability arithmetic come from the pod
 * cache, not from the ReplicaSets' status (which lags behind a scale):
 * an RS counts as max(spec.replicas, active pods) towards the surge and as
 * min(spec.replicas, ready pods) towards availability, so a step never
 * relies on pods its ReplicaSet is about to delete or has not created yet.
 *
 * Level-triggered: every sync recomputes from the caches and changes each
 * object at most once (one write with a compare on the revision read; a
 * write that lost a race requeues the Deployment). RS creates are
 * expected, so a Deployment is not synced again before its new RS shows up
 * in the cache. A new leader simply resumes from what the store holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "sched/internal.h"

#define HASH_LABEL        "pod-template-hash"
#define ANN_REVISION      "deployment.kubernetes.io/revision"
#define ANN_REV_HISTORY   "deployment.kubernetes.io/revision-history"
#define ANN_DESIRED       "deployment.kubernetes.io/desired-replicas"
#define ANN_MAX           "deployment.kubernetes.io/max-replicas"
#define REV_HISTORY_CHARS 2000 /* kube's default --max-revision-history-length-in-chars */

/* kube's annotationsToSkip: never copied from a Deployment to its RS */
static const char *const skip_annotations[] = {
    "kubectl.kubernetes.io/last-applied-configuration",
    ANN_REVISION,
    ANN_REV_HISTORY,
    ANN_DESIRED,
    ANN_MAX,
    "deprecated.deployment.rollback.to",
};

/* One ReplicaSet of the Deployment during a sync. */
struct drs {
    const json_t *rs; /* cached (borrowed) */
    json_t *upd;      /* working copy once something changes (owned) */
    const char *name, *created, *uid;
    long long replicas;      /* working spec.replicas */
    long long active, ready; /* pods from the cache */
    long long available;     /* ready for minReadySeconds */
    long long live;          /* pods not yet terminated, terminating ones included */
    long long revision;
};

struct dsync {
    struct sched *s;
    struct sched_ctrl *c;
    const char *key;
    const json_t *d; /* cached Deployment (borrowed) */
    const char *uid, *ns, *name;
    long long replicas, surge, unavail;
    long long min_ready_ms;  /* spec.minReadySeconds */
    long long next_avail_ms; /* wall-clock ms when the next ready pod becomes available, or 0 */
    bool rolling;
    struct drs *v; /* every owned RS */
    size_t n;
    struct drs *neu;      /* in v, or NULL */
    char created_rs[300]; /* "" or the RS this sync created */
    json_t *dupd;         /* working copy of the Deployment's metadata/annotations */
};

/* ---- small helpers ---- */

static long long jint(const json_t *obj, const char *field, long long dflt)
{
    const json_t *v = json_object_get(obj, field);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static const char *meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static const char *annotation(const json_t *obj, const char *k)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), k));
}

static long long parse_ll(const char *v, long long dflt)
{
    char *end;
    long long n;
    if (v == NULL || *v == '\0')
        return dflt;
    n = strtoll(v, &end, 10);
    return *end == '\0' ? n : dflt;
}

static long long min_ll(long long a, long long b)
{
    return a < b ? a : b;
}

static long long max_ll(long long a, long long b)
{
    return a > b ? a : b;
}

/* An int-or-percent against total: percentages round up (surge) or down
 * (unavailable), as intstr.GetScaledValueFromIntOrPercent. */
static long long intstr_scaled(const json_t *v, long long total, bool round_up, long long dflt)
{
    const char *s;
    char *end;
    long long p;
    if (json_is_integer(v))
        return json_integer_value(v);
    s = json_string_value(v);
    if (s == NULL)
        return dflt;
    p = strtoll(s, &end, 10);
    if (end == s || strcmp(end, "%") != 0)
        return dflt;
    return round_up ? (p * total + 99) / 100 : (p * total) / 100;
}

/* kube's ResolveFenceposts plus MaxUnavailable's clamp to replicas */
static void fenceposts(struct dsync *x)
{
    const json_t *st = json_object_get(json_object_get(x->d, "spec"), "strategy");
    const json_t *ru = json_object_get(st, "rollingUpdate");
    const char *type = json_string_value(json_object_get(st, "type"));
    x->rolling = type == NULL || strcmp(type, "Recreate") != 0;
    x->surge = x->unavail = 0;
    if (!x->rolling)
        return;
    x->surge = intstr_scaled(json_object_get(ru, "maxSurge"), x->replicas, true, 0);
    x->unavail = intstr_scaled(json_object_get(ru, "maxUnavailable"), x->replicas, false, 0);
    if (x->surge < 0)
        x->surge = 0;
    if (x->unavail < 0)
        x->unavail = 0;
    if (x->surge == 0 && x->unavail == 0)
        x->unavail = 1; /* validation refuses both 0; a percentage can still round to it */
    if (x->unavail > x->replicas)
        x->unavail = x->replicas;
}

/* kube's ComputeHash: FNV-32a over the template (here its canonical compact
 * JSON with sorted keys) and collisionCount, the decimal rendered with
 * rand.SafeEncodeString's alphabet. */
static int template_hash(const json_t *tmpl, const json_t *collisions, char out[16])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char *js = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
    uint32_t h = 2166136261u;
    char dec[16];
    size_t i;
    if (js == NULL)
        return ERR_NOMEM;
    for (i = 0; js[i] != '\0'; i++) {
        h ^= (unsigned char)js[i];
        h *= 16777619u;
    }
    free(js);
    if (json_is_integer(collisions)) {
        uint32_t cc = (uint32_t)json_integer_value(collisions);
        unsigned char b[8] = {cc & 0xff, (cc >> 8) & 0xff, (cc >> 16) & 0xff, cc >> 24, 0, 0, 0, 0};
        for (i = 0; i < sizeof b; i++) {
            h ^= b[i];
            h *= 16777619u;
        }
    }
    snprintf(dec, sizeof dec, "%u", h);
    for (i = 0; dec[i] != '\0'; i++)
        out[i] = alphabet[(unsigned char)dec[i] % (sizeof alphabet - 1)];
    out[i] = '\0';
    return 0;
}

/* A template copy without the pod-template-hash label (and without an empty
 * labels map, which equals an absent one). New reference. */
static json_t *template_sans_hash(const json_t *tmpl)
{
    json_t *t = json_deep_copy(tmpl ? tmpl : json_null()), *meta, *labels;
    if (!json_is_object(t))
        return t;
    meta = json_object_get(t, "metadata");
    labels = json_object_get(meta, "labels");
    json_object_del(labels, HASH_LABEL);
    if (labels != NULL && json_object_size(labels) == 0)
        json_object_del(meta, "labels");
    if (meta != NULL && json_object_size(meta) == 0)
        json_object_del(t, "metadata");
    return t;
}

/* kube's EqualIgnoreHash */
static bool templates_equal(const json_t *a, const json_t *b)
{
    json_t *x = template_sans_hash(a), *y = template_sans_hash(b);
    bool eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static time_t parse_time(const char *v)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (v == NULL || strptime(v, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
        return 0;
    return timegm(&tm);
}

static const char *cond_field(const json_t *c, const char *f);

/* ---- the working set ---- */

static json_t *rs_upd(struct drs *r)
{
    if (r->upd == NULL)
        r->upd = json_deep_copy(r->rs);
    return r->upd;
}

static json_t *annotations_of(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata"), *a = json_object_get(meta, "annotations");
    if (!json_is_object(a)) {
        a = json_object();
        json_object_set_new(meta, "annotations", a);
    }
    return a;
}

/* Sets annotation k on r (through its working copy) when it differs. */
static void rs_annotate(struct drs *r, const char *k, const char *v)
{
    const char *have = annotation(r->upd ? r->upd : r->rs, k);
    if (have != NULL && strcmp(have, v) == 0)
        return;
    json_object_set_new(annotations_of(rs_upd(r)), k, json_string(v));
}

/* kube's SetReplicasAnnotations */
static void rs_replica_annotations(struct dsync *x, struct drs *r)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", x->replicas);
    rs_annotate(r, ANN_DESIRED, b);
    snprintf(b, sizeof b, "%lld", x->replicas + x->surge);
    rs_annotate(r, ANN_MAX, b);
}

/* kube's scaleReplicaSet: size and the replica annotations, together */
static void rs_scale(struct dsync *x, struct drs *r, long long n)
{
    if (n < 0)
        n = 0;
    r->replicas = n;
    rs_replica_annotations(x, r);
}

static int by_created(const void *a, const void *b)
{
    const struct drs *x = a, *y = b;
    int c = strcmp(x->created ? x->created : "", y->created ? y->created : "");
    return c != 0 ? c : strcmp(x->name, y->name);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* kube's IsPodAvailable: ready for longer than minReadySeconds (strictly),
 * counted from the Ready condition's lastTransitionTime. When not yet, the
 * time it will be goes into x->next_avail_ms. */
static bool pod_available(struct dsync *x, const json_t *pod)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    const json_t *c = NULL, *it;
    long long since, at;
    size_t i;
    if (x->min_ready_ms <= 0)
        return true;
    json_array_foreach (conds, i, it)
        if (strcmp(cond_field(it, "type"), "Ready") == 0)
            c = it;
    since = (long long)parse_time(cond_field(c, "lastTransitionTime")) * 1000;
    if (since <= 0)
        return false;
    at = since + x->min_ready_ms + 1;
    if (at <= wall_ms())
        return true;
    if (x->next_avail_ms == 0 || at < x->next_avail_ms)
        x->next_avail_ms = at;
    return false;
}

/* Counts the pods r's ReplicaSet controls, from the owner index. */
static void count_pods(struct dsync *x, struct drs *r)
{
    json_t *owned = sched__owned(x->s, r->uid), *kindv;
    struct sched *s = x->s;
    const char *pkey;
    r->active = r->ready = r->available = r->live = 0;
    json_object_foreach (owned, pkey, kindv) {
        const json_t *pod;
        const char *owner, *phase;
        if (json_integer_value(kindv) != SK_POD)
            continue;
        pod = sched__get(s, SK_POD, pkey);
        owner = pod ? sched__controller_uid(pod) : NULL;
        if (owner == NULL || strcmp(owner, r->uid) != 0)
            continue;
        phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
        if (!(phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)))
            r->live++;
        if (!sched__pod_active(pod))
            continue;
        r->active++;
        if (!sched__pod_ready(pod))
            continue;
        r->ready++;
        if (pod_available(x, pod))
            r->available++;
    }
}

/* Every ReplicaSet the Deployment controls, oldest first; the new one is
 * the oldest whose template equals the Deployment's (kube's
 * FindNewReplicaSet). */
static int collect(struct dsync *x)
{
    json_t *owned = sched__owned(x->s, x->uid), *kindv;
    const json_t *tmpl = json_object_get(json_object_get(x->d, "spec"), "template");
    const char *rkey;
    size_t cap = json_object_size(owned);
    x->v = calloc(cap ? cap : 1, sizeof *x->v);
    if (x->v == NULL)
        return ERR_NOMEM;
    json_object_foreach (owned, rkey, kindv) {
        const json_t *rs;
        const char *owner;
        struct drs *r;
        if (json_integer_value(kindv) != SK_REPLICASET)
            continue;
        rs = sched__get(x->s, SK_REPLICASET, rkey);
        owner = rs ? sched__controller_uid(rs) : NULL;
        if (owner == NULL || strcmp(owner, x->uid) != 0 || meta_str(rs, "uid") == NULL ||
            meta_str(rs, "name") == NULL)
            continue;
        r = &x->v[x->n++];
        r->rs = rs;
        r->name = meta_str(rs, "name");
        r->uid = meta_str(rs, "uid");
        r->created = meta_str(rs, "creationTimestamp");
        r->replicas = jint(json_object_get(rs, "spec"), "replicas", 1);
        r->revision = parse_ll(annotation(rs, ANN_REVISION), 0);
        count_pods(x, r);
    }
    qsort(x->v, x->n, sizeof *x->v, by_created);
    for (size_t i = 0; i < x->n && x->neu == NULL; i++)
        if (json_object_get(json_object_get(x->v[i].rs, "metadata"), "deletionTimestamp") == NULL &&
            templates_equal(json_object_get(json_object_get(x->v[i].rs, "spec"), "template"), tmpl))
            x->neu = &x->v[i];
    return 0;
}

static bool is_old(const struct dsync *x, const struct drs *r)
{
    return r != x->neu;
}

static long long max_old_revision(const struct dsync *x)
{
    long long m = 0;
    for (size_t i = 0; i < x->n; i++)
        if (is_old(x, &x->v[i]) && x->v[i].revision > m)
            m = x->v[i].revision;
    return m;
}

/* kube's copyDeploymentAnnotationsToReplicaSet (adds, never removes) */
static void copy_annotations(struct dsync *x, struct drs *r)
{
    const json_t *ann = json_object_get(json_object_get(x->d, "metadata"), "annotations");
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)ann, k, v) {
        bool skip = !json_is_string(v);
        for (size_t i = 0; i < sizeof skip_annotations / sizeof skip_annotations[0]; i++)
            if (strcmp(k, skip_annotations[i]) == 0)
                skip = true;
        if (!skip)
            rs_annotate(r, k, json_string_value(v));
    }
}

/* kube's SetNewReplicaSetAnnotations for an existing new RS: the revision
 * moves to max(old)+1 when it is behind (a rollback makes an old template
 * new again), remembering the revisions it had. */
static void sync_new_revision(struct dsync *x)
{
    struct drs *r = x->neu;
    long long want = max_old_revision(x) + 1;
    const char *had = annotation(r->rs, ANN_REVISION);
    char b[32];
    copy_annotations(x, r);
    if (r->revision >= want)
        return;
    snprintf(b, sizeof b, "%lld", want);
    rs_annotate(r, ANN_REVISION, b);
    if (had != NULL) {
        const char *hist = annotation(r->rs, ANN_REV_HISTORY);
        char h[REV_HISTORY_CHARS + 32];
        if (hist == NULL || *hist == '\0')
            snprintf(h, sizeof h, "%s", had);
        else
            snprintf(h, sizeof h, "%s,%s", hist, had);
        rs_annotate(r, ANN_REV_HISTORY, h);
    }
    r->revision = want;
}

/* ---- sizes (kube's deployment util) ---- */

static long long sum_spec(const struct dsync *x, bool active_only)
{
    long long n = 0;
    for (size_t i = 0; i < x->n; i++)
        if (!active_only || x->v[i].replicas > 0)
            n += x->v[i].replicas;
    return n;
}

/* What an RS counts for against the surge: its pods may still exceed a size
 * it was just scaled down to, and its size may run ahead of its pods. */
static long long surge_size(const struct drs *r)
{
    return max_ll(r->replicas, r->active);
}

/* What an RS can be counted on to keep available: its ready pods, but not
 * those it is about to delete. */
static long long avail_size(const struct drs *r)
{
    return min_ll(r->replicas, r->available);
}

/* kube's NewRSNewReplicas for a RollingUpdate: grow towards replicas while
 * everything stays within replicas + maxSurge. */
static long long new_rs_new_replicas(const struct dsync *x, const struct drs *r)
{
    long long current = 0, cur_new = r ? r->replicas : 0, up;
    if (!x->rolling)
        return x->replicas;
    for (size_t i = 0; i < x->n; i++)
        current += surge_size(&x->v[i]);
    if (current >= x->replicas + x->surge)
        return cur_new;
    up = min_ll(x->replicas + x->surge - current, x->replicas - cur_new);
    return cur_new + max_ll(up, 0);
}

/* ---- creating the new ReplicaSet ---- */

static json_t *new_rs_object(struct dsync *x, const char *hash, long long replicas,
                             long long revision)
{
    const json_t *spec = json_object_get(x->d, "spec");
    json_t *tmpl = json_deep_copy(json_object_get(spec, "template"));
    json_t *sel = json_deep_copy(json_object_get(spec, "selector"));
    json_t *tmeta, *labels, *ml, *rs;
    char name[300], b[32];
    struct drs fake;
    if (tmpl == NULL || sel == NULL)
        goto fail;
    tmeta = json_object_get(tmpl, "metadata");
    if (!json_is_object(tmeta)) {
        tmeta = json_object();
        json_object_set_new(tmpl, "metadata", tmeta);
    }
    labels = json_object_get(tmeta, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(tmeta, "labels", labels);
    }
    json_object_set_new(labels, HASH_LABEL, json_string(hash));
    ml = json_object_get(sel, "matchLabels");
    if (!json_is_object(ml)) {
        ml = json_object();
        json_object_set_new(sel, "matchLabels", ml);
    }
    json_object_set_new(ml, HASH_LABEL, json_string(hash));
    snprintf(name, sizeof name, "%s-%s", x->name, hash);
    rs = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{}, s:[o]}, s:{s:I, s:I, s:o, s:o}}",
                   "apiVersion", "apps/v1", "kind", "ReplicaSet", "metadata", "name", name,
                   "namespace", x->ns, "labels", json_deep_copy(labels), "annotations",
                   "ownerReferences", sched__owner_ref(x->d, SK_DEPLOYMENT), "spec", "replicas",
                   (json_int_t)replicas, "minReadySeconds",
                   (json_int_t)jint(spec, "minReadySeconds", 0), "selector", sel, "template", tmpl);
    if (rs == NULL)
        return NULL;
    /* the annotations go through the same helpers as for an existing RS */
    memset(&fake, 0, sizeof fake);
    fake.rs = rs;
    fake.upd = rs;
    copy_annotations(x, &fake);
    snprintf(b, sizeof b, "%lld", revision);
    rs_annotate(&fake, ANN_REVISION, b);
    rs_replica_annotations(x, &fake);
    return rs;
fail:
    json_decref(tmpl);
    json_decref(sel);
    return NULL;
}

/* kube's getNewReplicaSet(createIfNotExisted): creates <name>-<hash>. A
 * same-named RS that is not ours (or has another template) is a hash
 * collision: collisionCount goes up and the next sync hashes again. Returns
 * true when it created (or must wait). */
static bool create_new_rs(struct dsync *x)
{
    const json_t *spec = json_object_get(x->d, "spec");
    const json_t *status = json_object_get(x->d, "status");
    char hash[16], name[300], rkey[STORE_KEY_MAX + 1];
    const json_t *clash;
    json_t *rs;
    long long replicas;
    if (template_hash(json_object_get(spec, "template"), json_object_get(status, "collisionCount"),
                      hash) != 0)
        return true;
    snprintf(name, sizeof name, "%s-%s", x->name, hash);
    if (sched__key_of(SK_REPLICASET, x->ns, name, rkey, sizeof rkey) != 0)
        return true;
    clash = sched__get(x->s, SK_REPLICASET, rkey);
    if (clash != NULL) {
        /* ours with the same template would have been found as the new RS */
        json_t *st = json_object_get(x->dupd, "status");
        if (!json_is_object(st)) {
            st = json_object();
            json_object_set_new(x->dupd, "status", st);
        }
        json_object_set_new(st, "collisionCount",
                            json_integer(jint(status, "collisionCount", 0) + 1));
        LOG_INFO("deployment", "hash_collision", "deployment=%s/%s rs=%s", x->ns, x->name, name);
        return true;
    }
    replicas = new_rs_new_replicas(x, NULL);
    rs = new_rs_object(x, hash, replicas, max_old_revision(x) + 1);
    if (rs == NULL)
        return true;
    if (sched__create(x->s, x->c, SK_REPLICASET, x->ns, rs, x->uid, x->key) == 0) {
        snprintf(x->created_rs, sizeof x->created_rs, "%s", name);
        LOG_INFO("deployment", "rs_created", "deployment=%s/%s rs=%s replicas=%lld", x->ns, x->name,
                 name, replicas);
    }
    return true;
}

/* ---- scaling (kube's sync.go scale) ---- */

static bool scaling_event(const struct dsync *x)
{
    for (size_t i = 0; i < x->n; i++) {
        const char *want;
        if (x->v[i].replicas <= 0)
            continue;
        want = annotation(x->v[i].rs, ANN_DESIRED);
        if (want == NULL || parse_ll(want, -1) != x->replicas)
            return true;
    }
    return false;
}

/* kube's getReplicaSetFraction */
static long long rs_fraction(const struct dsync *x, const struct drs *r)
{
    long long total = x->replicas + x->surge, annotated;
    double size;
    if (x->replicas == 0)
        return -r->replicas;
    annotated = parse_ll(annotation(r->rs, ANN_MAX), -1);
    if (annotated <= 0)
        annotated = jint(json_object_get(x->d, "status"), "replicas", 0);
    if (annotated <= 0)
        return 0;
    size = (double)(r->replicas * total) / (double)annotated;
    return (long long)(size + (size >= 0 ? 0.5 : -0.5)) - r->replicas;
}

struct sized {
    struct drs *r;
    bool newer_first;
};

static int by_size(const void *a, const void *b)
{
    const struct sized *x = a, *y = b;
    int c;
    if (x->r->replicas != y->r->replicas)
        return x->r->replicas > y->r->replicas ? -1 : 1;
    c = by_created(x->r, y->r);
    return x->newer_first ? -c : c;
}

static void scale_proportional(struct dsync *x)
{
    struct sized *v = calloc(x->n ? x->n : 1, sizeof *v);
    long long allowed = x->replicas > 0 ? x->replicas + x->surge : 0;
    long long to_add, added = 0;
    size_t n = 0;
    if (v == NULL)
        return;
    for (size_t i = 0; i < x->n; i++)
        if (x->v[i].replicas > 0)
            v[n++].r = &x->v[i];
    to_add = allowed - sum_spec(x, true);
    for (size_t i = 0; i < n; i++)
        v[i].newer_first = to_add > 0;
    qsort(v, n, sizeof *v, by_size);
    if (to_add != 0) {
        long long *delta = calloc(n ? n : 1, sizeof *delta);
        if (delta == NULL)
            goto out;
        for (size_t i = 0; i < n && added != to_add; i++) {
            long long f = rs_fraction(x, v[i].r), left = to_add - added;
            delta[i] = to_add > 0 ? min_ll(f, left) : max_ll(f, left);
            added += delta[i];
        }
        if (n > 0 && added != to_add)
            delta[0] += to_add - added; /* the leftover goes to the largest */
        for (size_t i = 0; i < n; i++)
            v[i].r->replicas += delta[i];
        free(delta);
    }
    for (size_t i = 0; i < n; i++)
        rs_scale(x, v[i].r, v[i].r->replicas);
out:
    free(v);
}

static void scale(struct dsync *x)
{
    struct drs *one = NULL, *latest = NULL;
    size_t n_active = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (x->v[i].replicas > 0) {
            n_active++;
            one = &x->v[i];
        }
        latest = &x->v[i]; /* oldest first: the last is the latest */
    }
    /* kube's FindActiveOrLatest: one RS with replicas absorbs the change */
    if (n_active <= 1) {
        struct drs *r = n_active == 1 ? one : x->neu ? x->neu : latest;
        if (r != NULL)
            rs_scale(x, r, x->replicas);
        return;
    }
    /* IsSaturated: the new RS has everything, the old ones go */
    if (x->neu != NULL && x->neu->replicas == x->replicas &&
        parse_ll(annotation(x->neu->rs, ANN_DESIRED), -1) == x->replicas &&
        x->neu->available >= x->replicas) {
        for (size_t i = 0; i < x->n; i++)
            if (is_old(x, &x->v[i]) && x->v[i].replicas > 0)
                rs_scale(x, &x->v[i], 0);
        return;
    }
    if (x->rolling)
        scale_proportional(x);
}

/* ---- RollingUpdate (kube's rolling.go) ---- */

static bool reconcile_new(struct dsync *x)
{
    long long want;
    if (x->neu == NULL || x->neu->replicas == x->replicas)
        return false;
    if (x->neu->replicas > x->replicas) {
        rs_scale(x, x->neu, x->replicas);
        return true;
    }
    want = new_rs_new_replicas(x, x->neu);
    if (want == x->neu->replicas)
        return false;
    rs_scale(x, x->neu, want);
    return true;
}

/* kube's cleanupUnhealthyReplicas: old pods that are not available go
 * first, they cost no availability. */
static long long cleanup_unhealthy(struct dsync *x, long long max_cleanup)
{
    long long done = 0;
    for (size_t i = 0; i < x->n && done < max_cleanup; i++) {
        struct drs *r = &x->v[i];
        long long bad, n;
        if (!is_old(x, r) || r->replicas == 0)
            continue;
        bad = r->replicas - avail_size(r);
        if (bad <= 0)
            continue;
        n = min_ll(max_cleanup - done, bad);
        rs_scale(x, r, r->replicas - n);
        done += n;
    }
    return done;
}

/* kube's scaleDownOldReplicaSetsForRollingUpdate */
static long long scale_down_old(struct dsync *x)
{
    long long avail = 0, min_avail = x->replicas - x->unavail, total, done = 0;
    for (size_t i = 0; i < x->n; i++)
        avail += avail_size(&x->v[i]);
    if (avail <= min_avail)
        return 0;
    total = avail - min_avail;
    for (size_t i = 0; i < x->n && done < total; i++) {
        struct drs *r = &x->v[i];
        long long n;
        if (!is_old(x, r) || r->replicas == 0)
            continue;
        n = min_ll(r->replicas, total - done);
        rs_scale(x, r, r->replicas - n);
        done += n;
    }
    return done;
}

/* kube's reconcileOldReplicaSets */
static bool reconcile_old(struct dsync *x)
{
    long long old = 0, all = 0, new_unavail = 0, max_down, done;
    for (size_t i = 0; i < x->n; i++) {
        all += x->v[i].replicas;
        if (is_old(x, &x->v[i]))
            old += x->v[i].replicas;
    }
    if (old == 0)
        return false;
    if (x->neu != NULL)
        new_unavail = x->neu->replicas - avail_size(x->neu);
    max_down = all - (x->replicas - x->unavail) - new_unavail;
    if (max_down <= 0)
        return false;
    done = cleanup_unhealthy(x, max_down);
    done += scale_down_old(x);
    return done > 0;
}

static bool rollout_rolling(struct dsync *x)
{
    if (x->neu == NULL)
        return create_new_rs(x);
    if (reconcile_new(x))
        return true;
    return reconcile_old(x);
}

/* ---- Recreate (kube's recreate.go) ---- */

static bool rollout_recreate(struct dsync *x)
{
    bool scaled = false;
    for (size_t i = 0; i < x->n; i++)
        if (is_old(x, &x->v[i]) && x->v[i].replicas > 0) {
            rs_scale(x, &x->v[i], 0);
            scaled = true;
        }
    if (scaled)
        return true;
    /* the new pods start only once every old pod is gone, terminating ones
     * included: that is Recreate's promise */
    for (size_t i = 0; i < x->n; i++)
        if (is_old(x, &x->v[i]) && x->v[i].live > 0)
            return true;
    if (x->neu == NULL)
        return create_new_rs(x);
    if (x->neu->replicas != x->replicas) {
        rs_scale(x, x->neu, x->replicas);
        return true;
    }
    return false;
}

/* ---- history ---- */

static int by_revision(const void *a, const void *b)
{
    const struct drs *const *x = a, *const *y = b;
    if ((*x)->revision != (*y)->revision)
        return (*x)->revision < (*y)->revision ? -1 : 1;
    return by_created(*x, *y);
}

/* kube's cleanupDeployment: old RSes beyond revisionHistoryLimit go, the
 * oldest revisions first, only once they are empty and settled. */
static void cleanup_history(struct dsync *x)
{
    const json_t *spec = json_object_get(x->d, "spec");
    long long limit = jint(spec, "revisionHistoryLimit", -1), diff;
    struct drs **old;
    size_t n = 0;
    if (limit < 0)
        return;
    old = calloc(x->n ? x->n : 1, sizeof *old);
    if (old == NULL)
        return;
    for (size_t i = 0; i < x->n; i++)
        if (is_old(x, &x->v[i]) &&
            json_object_get(json_object_get(x->v[i].rs, "metadata"), "deletionTimestamp") == NULL)
            old[n++] = &x->v[i];
    diff = (long long)n - limit;
    qsort(old, n, sizeof *old, by_revision);
    for (size_t i = 0; (long long)i < diff; i++) {
        const struct drs *r = old[i];
        const json_t *rmeta = json_object_get(r->rs, "metadata");
        const json_t *rst = json_object_get(r->rs, "status");
        if (r->upd != NULL || r->replicas != 0 || r->live != 0 || jint(rst, "replicas", 0) != 0 ||
            jint(rmeta, "generation", 0) > jint(rst, "observedGeneration", 0))
            continue;
        LOG_INFO("deployment", "rs_deleted", "deployment=%s/%s rs=%s revision=%lld", x->ns, x->name,
                 r->name, r->revision);
        sched__delete(x->s, x->c, SK_REPLICASET, r->rs, x->uid, false, x->key);
    }
    free(old);
}

/* ---- status ---- */

static json_t *cond_get(json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c)
        if (json_is_string(json_object_get(c, "type")) &&
            strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
            return c;
    return NULL;
}

static const char *cond_field(const json_t *c, const char *f)
{
    const char *v = json_string_value(json_object_get(c, f));
    return v ? v : "";
}

/* kube's SetDeploymentCondition: nothing changes when status and reason
 * are the same; the transition time stays while the status does. */
static void cond_set(struct dsync *x, json_t *conds, const char *type, const char *status,
                     const char *reason, const char *msg, bool touch)
{
    json_t *cur = cond_get(conds, type), *c;
    char now[21];
    size_t i;
    sched__now_rfc3339(x->s, now);
    if (cur != NULL && strcmp(cond_field(cur, "status"), status) == 0 &&
        strcmp(cond_field(cur, "reason"), reason) == 0 && !touch)
        return;
    c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
                  "lastUpdateTime", now, "lastTransitionTime", now, "reason", reason, "message",
                  msg);
    if (c == NULL)
        return;
    if (cur != NULL && strcmp(cond_field(cur, "status"), status) == 0 &&
        json_object_get(cur, "lastTransitionTime") != NULL)
        json_object_set(c, "lastTransitionTime", json_object_get(cur, "lastTransitionTime"));
    json_array_foreach (conds, i, cur)
        if (strcmp(cond_field(cur, "type"), type) == 0) {
            json_array_set_new(conds, i, c);
            return;
        }
    json_array_append_new(conds, c);
}

struct counts {
    long long replicas, updated, ready, available, unavailable;
};

static void count_status(const struct dsync *x, struct counts *k)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < x->n; i++) {
        k->replicas += x->v[i].active;
        k->ready += x->v[i].ready;
    }
    for (size_t i = 0; i < x->n; i++)
        k->available += x->v[i].available;
    k->updated = x->neu ? x->neu->active : 0;
    k->unavailable = max_ll(sum_spec(x, false) - k->available, 0);
}

static bool complete(const struct dsync *x, const struct counts *k)
{
    return k->updated == x->replicas && k->replicas == x->replicas && k->available == x->replicas;
}

/* kube's syncRolloutStatus / checkPausedConditions / DeploymentTimedOut */
static void progressing(struct dsync *x, json_t *conds, const struct counts *k,
                        const json_t *old_status)
{
    const json_t *spec = json_object_get(x->d, "spec");
    bool paused = json_is_true(json_object_get(spec, "paused"));
    json_t *cur = cond_get(conds, "Progressing");
    const char *reason = cond_field(cur, "reason");
    long long deadline = jint(spec, "progressDeadlineSeconds", -1);
    char msg[400];
    if (paused) {
        if (strcmp(reason, "DeploymentPaused") != 0)
            cond_set(x, conds, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused",
                     false);
        return;
    }
    if (strcmp(reason, "DeploymentPaused") == 0) {
        cond_set(x, conds, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed",
                 false);
        /* cond_set replaced the condition cur pointed to */
        cur = cond_get(conds, "Progressing");
        reason = cond_field(cur, "reason");
    }
    if (x->created_rs[0] != '\0') {
        snprintf(msg, sizeof msg, "Created new replica set \"%s\"", x->created_rs);
        cond_set(x, conds, "Progressing", "True", "NewReplicaSetCreated", msg, true);
        return;
    }
    if (x->neu != NULL && cur == NULL) {
        snprintf(msg, sizeof msg, "Found new replica set \"%s\"", x->neu->name);
        cond_set(x, conds, "Progressing", "True", "FoundNewReplicaSet", msg, true);
        cur = cond_get(conds, "Progressing");
        reason = cond_field(cur, "reason");
    }
    if (deadline < 0 || x->neu == NULL)
        return;
    if (k->replicas == k->updated && strcmp(reason, "NewReplicaSetAvailable") == 0)
        return; /* already complete */
    if (complete(x, k)) {
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.", x->neu->name);
        cond_set(x, conds, "Progressing", "True", "NewReplicaSetAvailable", msg, true);
    } else if (k->updated > jint(old_status, "updatedReplicas", 0) ||
               k->replicas - k->updated <
                   jint(old_status, "replicas", 0) - jint(old_status, "updatedReplicas", 0) ||
               k->ready > jint(old_status, "readyReplicas", 0) ||
               k->available > jint(old_status, "availableReplicas", 0)) {
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" is progressing.", x->neu->name);
        cond_set(x, conds, "Progressing", "True", "ReplicaSetUpdated", msg, true);
    } else if (cur != NULL && strcmp(reason, "ProgressDeadlineExceeded") != 0 &&
               parse_time(cond_field(cur, "lastUpdateTime")) + deadline < time(NULL)) {
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has timed out progressing.", x->neu->name);
        cond_set(x, conds, "Progressing", "False", "ProgressDeadlineExceeded", msg, false);
    }
}

/* kube's calculateStatus + conditions, into x->dupd's status */
static void build_status(struct dsync *x, bool rollout)
{
    const json_t *old = json_object_get(x->d, "status");
    json_t *st = json_object_get(x->dupd, "status"), *conds;
    struct counts k;
    bool avail;
    count_status(x, &k);
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(x->dupd, "status", st);
    }
    json_object_set_new(st, "observedGeneration",
                        json_integer(jint(json_object_get(x->d, "metadata"), "generation", 0)));
    json_object_set_new(st, "replicas", json_integer(k.replicas));
    json_object_set_new(st, "updatedReplicas", json_integer(k.updated));
    json_object_set_new(st, "readyReplicas", json_integer(k.ready));
    json_object_set_new(st, "availableReplicas", json_integer(k.available));
    json_object_set_new(st, "unavailableReplicas", json_integer(k.unavailable));
    conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    avail = k.available >= x->replicas - x->unavail;
    cond_set(x, conds, "Available", avail ? "True" : "False",
             avail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
             avail ? "Deployment has minimum availability."
                   : "Deployment does not have minimum availability.",
             false);
    if (rollout)
        progressing(x, conds, &k, old);
    /* apiserver output omits zero counts; keep the object as kube writes it */
    for (const char *const *f =
             (const char *const[]){"replicas", "updatedReplicas", "readyReplicas",
                                   "availableReplicas", "unavailableReplicas", NULL};
         *f != NULL; f++)
        if (jint(st, *f, 0) == 0)
            json_object_del(st, *f);
}

/* ---- writes ---- */

static void flush(struct dsync *x)
{
    for (size_t i = 0; i < x->n; i++) {
        struct drs *r = &x->v[i];
        json_t *spec;
        if (r->replicas != jint(json_object_get(r->rs, "spec"), "replicas", 1))
            rs_upd(r);
        if (r->upd == NULL)
            continue;
        spec = json_object_get(r->upd, "spec");
        json_object_set_new(spec, "replicas", json_integer(r->replicas));
        if (!json_equal(r->upd, r->rs)) {
            LOG_DEBUG("deployment", "rs_scaled", "deployment=%s/%s rs=%s replicas=%lld", x->ns,
                      x->name, r->name, r->replicas);
            sched__update(x->s, x->c, SK_REPLICASET, r->rs, r->upd, x->key);
        } else {
            json_decref(r->upd);
        }
        r->upd = NULL; /* stolen */
    }
    if (x->dupd != NULL && !json_equal(x->dupd, x->d)) {
        sched__update(x->s, x->c, SK_DEPLOYMENT, x->d, x->dupd, x->key);
        x->dupd = NULL;
    }
}

/* The Deployment's revision annotation follows its new RS. */
static void sync_deployment_revision(struct dsync *x)
{
    char b[32];
    const char *have;
    if (x->neu == NULL || x->neu->revision <= 0)
        return;
    snprintf(b, sizeof b, "%lld", x->neu->revision);
    have = annotation(x->d, ANN_REVISION);
    if (have == NULL || strcmp(have, b) != 0)
        json_object_set_new(annotations_of(x->dupd), ANN_REVISION, json_string(b));
}

/* ---- the loop ---- */

static void enqueue_owner(struct sched *s, struct sched_ctrl *c, const json_t *obj,
                          const char *owner_kind, int as)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *refs = json_object_get(meta, "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        const char *k = json_string_value(json_object_get(r, "kind"));
        char key[STORE_KEY_MAX + 1];
        if (!json_is_true(json_object_get(r, "controller")) || k == NULL ||
            strcmp(k, owner_kind) != 0)
            continue;
        if (sched__key_of(as, json_string_value(json_object_get(meta, "namespace")),
                          json_string_value(json_object_get(r, "name")), key, sizeof key) != 0)
            continue;
        if (as == SK_DEPLOYMENT) {
            sched__enqueue(s, c, key);
        } else {
            const json_t *rs = sched__get(s, SK_REPLICASET, key);
            if (rs != NULL)
                enqueue_owner(s, c, rs, "Deployment", SK_DEPLOYMENT);
        }
    }
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    if (kind == SK_DEPLOYMENT) {
        sched__enqueue(s, c, key);
    } else if (kind == SK_REPLICASET) {
        if (old != NULL)
            enqueue_owner(s, c, old, "Deployment", SK_DEPLOYMENT);
        if (obj != NULL)
            enqueue_owner(s, c, obj, "Deployment", SK_DEPLOYMENT);
    } else if (kind == SK_POD) {
        enqueue_owner(s, c, obj ? obj : old, "ReplicaSet", SK_REPLICASET);
    }
}

static void dsync_close(struct dsync *x)
{
    for (size_t i = 0; i < x->n; i++)
        json_decref(x->v[i].upd);
    free(x->v);
    json_decref(x->dupd);
}

static void d_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    struct dsync x;
    const json_t *spec;
    bool deleting, paused, acted, rollout = false;
    memset(&x, 0, sizeof x);
    x.s = s;
    x.c = c;
    x.key = key;
    x.d = sched__get(s, SK_DEPLOYMENT, key);
    if (x.d == NULL)
        return;
    x.uid = meta_str(x.d, "uid");
    x.ns = meta_str(x.d, "namespace");
    x.name = meta_str(x.d, "name");
    /* an RS create still travelling: wait for it (settling requeues us) */
    if (x.uid == NULL || x.ns == NULL || x.name == NULL || !sched__settled(s, x.uid))
        return;
    spec = json_object_get(x.d, "spec");
    x.replicas = jint(spec, "replicas", 1);
    x.min_ready_ms = jint(spec, "minReadySeconds", 0) * 1000;
    fenceposts(&x);
    deleting = json_object_get(json_object_get(x.d, "metadata"), "deletionTimestamp") != NULL;
    paused = json_is_true(json_object_get(spec, "paused"));
    x.dupd = json_deep_copy(x.d);
    if (x.dupd == NULL || collect(&x) != 0)
        goto out;
    if (!deleting) {
        if (x.neu != NULL)
            sync_new_revision(&x);
        if (paused || scaling_event(&x)) {
            /* kube's sync(): sizes only, no rollout step */
            scale(&x);
            if (paused)
                cleanup_history(&x);
        } else {
            rollout = true;
            acted = x.rolling ? rollout_rolling(&x) : rollout_recreate(&x);
            if (!acted) {
                struct counts k;
                count_status(&x, &k);
                if (complete(&x, &k))
                    cleanup_history(&x);
            }
        }
        sync_deployment_revision(&x);
    }
    build_status(&x, rollout || paused);
    flush(&x);
    /* no event marks the end of minReadySeconds */
    if (x.next_avail_ms > 0)
        sched__enqueue_after(s, c, key, (uint64_t)max_ll(x.next_avail_ms - wall_ms(), 0) + 10);
out:
    dsync_close(&x);
}

/* A new leader's caches arrive whole, without events: every Deployment is
 * looked at once, which resumes a rollout where the last leader left it.
 * Their ReplicaSets are handed to the ReplicaSet controller too: it has no
 * start hook of its own, and an RS the last leader scaled just before it
 * died would otherwise wait for an unrelated event to get its pods. */
static void d_start(struct sched *s, struct sched_ctrl *c)
{
    json_t *all = sched__objs(s, SK_DEPLOYMENT), *d, *kindv;
    const char *key, *rkey;
    json_object_foreach (all, key, d) {
        sched__enqueue(s, c, key);
        json_object_foreach (sched__owned(s, meta_str(d, "uid")), rkey, kindv)
            if (json_integer_value(kindv) == SK_REPLICASET)
                sched__enqueue(s, &sched__ctrl_replicaset, rkey);
    }
}

/* Progress deadlines pass without any event: look once a second at the
 * Deployments still rolling out. */
static void d_tick(struct sched *s, struct sched_ctrl *c)
{
    json_t *all = sched__objs(s, SK_DEPLOYMENT), *d;
    const char *key;
    time_t now = time(NULL);
    json_object_foreach (all, key, d) {
        const json_t *spec = json_object_get(d, "spec");
        long long deadline = jint(spec, "progressDeadlineSeconds", -1);
        json_t *cur =
            cond_get(json_object_get(json_object_get(d, "status"), "conditions"), "Progressing");
        const char *reason = cond_field(cur, "reason");
        if (cur == NULL || deadline < 0 || json_is_true(json_object_get(spec, "paused")) ||
            strcmp(reason, "NewReplicaSetAvailable") == 0 ||
            strcmp(reason, "ProgressDeadlineExceeded") == 0)
            continue;
        if (parse_time(cond_field(cur, "lastUpdateTime")) + deadline < now)
            sched__enqueue(s, c, key);
    }
}

struct sched_ctrl sched__ctrl_deployment = {"deployment", d_start, NULL, on_event,
                                            d_sync,       d_tick,  NULL, NULL};
