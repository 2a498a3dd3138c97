/* Garbage collector and namespace finalization (kube's
 * pkg/controller/garbagecollector and pkg/controller/namespace), simplified
 * to what the caches show.
 *
 * Garbage collection. An owner exists when the cache holds an object of the
 * ownerReference's kind and name (in the dependent's namespace for a
 * namespaced kind) with the reference's uid. A dependent whose every owner
 * is gone is deleted (background); one with some owners left loses the
 * references to the gone ones. An owner being deleted with the
 * foregroundDeletion finalizer has its dependents deleted first (those that
 * have dependents of their own are deleted in the foreground too, so a
 * Deployment waits for its ReplicaSets and they for their Pods); the
 * finalizer comes off once no dependent with blockOwnerDeletion is left.
 * An owner with the orphan finalizer has its reference removed from every
 * dependent, then the finalizer comes off. The last finalizer off an object
 * being deleted removes it, as the API's update does.
 *
 * Namespace finalization. A Namespace with a deletionTimestamp has every
 * object of every namespaced cached kind in it deleted; once none is left
 * "kubernetes" comes off spec.finalizers and, with no finalizers left at
 * all, the Namespace goes. Content left in a namespace that no longer exists
 * at all (deleted at once by the API, or a create that raced the deletion)
 * is deleted as well.
 *
 * Queue keys: "d:<kind>:<store key>" checks a dependent, "o:<kind>:<store
 * key>" advances an owner's finalizers, "ns:<name>" a namespace. Events
 * enqueue what they can affect; a periodic scan (every SCAN_MS, at most
 * SCAN_BUDGET objects per second) catches what events missed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "sched/internal.h"

#define SCAN_MS           10000 /* a full rescan starts this often */
#define SCAN_BUDGET       2000  /* objects looked at per tick while scanning */
#define NS_BURST          500   /* deletes per namespace sync */
#define ORPHAN_NS_WAIT    2000  /* content of a missing namespace waits this long */
#define FIN_ORPHAN        "orphan"
#define FIN_FOREGROUND    "foregroundDeletion"
#define FIN_NS_KUBERNETES "kubernetes"

struct gc_state {
    uint64_t scan_started_ms; /* 0: no scan ran yet */
    bool scanning;
    int scan_kind;    /* cursor: kind index ... */
    size_t scan_skip; /* ... and objects of it already looked at */
};

/* ---- small helpers ---- */

static const json_t *meta_of(const json_t *obj)
{
    return json_object_get(obj, "metadata");
}

static const char *mstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(meta_of(obj), field));
}

static bool being_deleted(const json_t *obj)
{
    return json_object_get(meta_of(obj), "deletionTimestamp") != NULL;
}

static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

static bool has_finalizer(const json_t *obj, const char *f)
{
    return has_string(json_object_get(meta_of(obj), "finalizers"), f);
}

/* A copy of arr without s. New reference. */
static json_t *without_string(const json_t *arr, const char *s)
{
    json_t *out = json_array(), *v;
    size_t i;
    if (out == NULL)
        return NULL;
    json_array_foreach (arr, i, v)
        if (!(json_is_string(v) && strcmp(json_string_value(v), s) == 0))
            json_array_append(out, v);
    return out;
}

/* The cached kind named by an ownerReference's kind, or -1. */
static int kind_index(const char *kind)
{
    if (kind == NULL)
        return -1;
    for (int k = 0; k < SK__COUNT; k++)
        if (strcmp(sched__kind(k)->kind, kind) == 0)
            return k;
    return -1;
}

static void enqueue_fmt(struct sched *s, struct sched_ctrl *c, const char *tag, int kind,
                        const char *key, uint64_t after_ms)
{
    char q[STORE_KEY_MAX + 32];
    if (kind >= 0)
        snprintf(q, sizeof q, "%s:%d:%s", tag, kind, key);
    else
        snprintf(q, sizeof q, "%s:%s", tag, key);
    if (after_ms > 0)
        sched__enqueue_after(s, c, q, after_ms);
    else
        sched__enqueue(s, c, q);
}

/* ---- owners ---- */

enum { OWNER_SOLID, OWNER_DANGLING, OWNER_WAITING };

/* What ref (an ownerReference of a dependent in namespace ns) points at.
 * *owner_kind / *owner gets the owner when it is cached. Kinds the loops
 * do not cache cannot be checked and count as present. */
static int owner_state(struct sched *s, const char *ns, const json_t *ref, int *owner_kind,
                       const json_t **owner, char *okey, size_t okey_size)
{
    int k = kind_index(json_string_value(json_object_get(ref, "kind")));
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    const json_t *o;
    *owner = NULL;
    *owner_kind = k;
    if (k < 0 || uid == NULL)
        return OWNER_SOLID;
    if (sched__kind(k)->namespaced && (ns == NULL || ns[0] == '\0'))
        return OWNER_SOLID; /* a cluster-scoped object cannot name a namespaced owner */
    if (sched__key_of(k, ns, json_string_value(json_object_get(ref, "name")), okey, okey_size) != 0)
        return OWNER_SOLID;
    o = sched__get(s, k, okey);
    if (o == NULL || mstr(o, "uid") == NULL || strcmp(mstr(o, "uid"), uid) != 0)
        return OWNER_DANGLING;
    *owner = o;
    if (being_deleted(o) && has_finalizer(o, FIN_FOREGROUND))
        return OWNER_WAITING;
    return OWNER_SOLID;
}

/* Whether a dependent needs a look: some owner gone or waiting for its
 * dependents. Also enqueues owners being deleted (their finalizers may
 * advance). */
static bool dependent_needs_sync(struct sched *s, struct sched_ctrl *c, const json_t *obj)
{
    const json_t *refs = json_object_get(meta_of(obj), "ownerReferences");
    const char *ns = mstr(obj, "namespace");
    bool need = false;
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        const json_t *owner;
        int ok;
        char okey[STORE_KEY_MAX + 1];
        int st = owner_state(s, ns, r, &ok, &owner, okey, sizeof okey);
        if (st != OWNER_SOLID)
            need = true;
        if (owner != NULL && being_deleted(owner))
            enqueue_fmt(s, c, "o", ok, okey, 0);
    }
    return need;
}

/* Deletes obj so that its own dependents go first: a foregroundDeletion
 * finalizer and a deletionTimestamp. Objects without dependents (and Pods,
 * which the agent finishes) are simply deleted. */
static void delete_foreground(struct sched *s, struct sched_ctrl *c, int kind, const json_t *obj,
                              const char *qkey)
{
    json_t *upd, *meta, *fin;
    char now[21];
    if (kind == SK_POD || sched__owned(s, mstr(obj, "uid")) == NULL) {
        sched__delete(s, c, kind, obj, NULL, false, qkey);
        return;
    }
    upd = json_deep_copy(obj);
    if (upd == NULL)
        return;
    meta = json_object_get(upd, "metadata");
    fin = json_object_get(meta, "finalizers");
    if (!json_is_array(fin)) {
        fin = json_array();
        json_object_set_new(meta, "finalizers", fin);
    }
    if (!has_string(fin, FIN_FOREGROUND))
        json_array_append_new(fin, json_string(FIN_FOREGROUND));
    sched__now_rfc3339(s, now);
    json_object_set_new(meta, "deletionTimestamp", json_string(now));
    json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
    sched__update(s, c, kind, obj, upd, qkey);
}

/* kube's attemptToDeleteItem: classify the owners, then drop the gone
 * references, or delete the object. */
static void dependent_sync(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                           const char *qkey)
{
    const json_t *obj = sched__get(s, kind, key), *refs;
    const char *ns;
    size_t i, solid = 0, gone = 0, waiting = 0;
    bool blocking = false;
    json_t *r, *keep;
    if (obj == NULL)
        return;
    refs = json_object_get(meta_of(obj), "ownerReferences");
    ns = mstr(obj, "namespace");
    if (json_array_size(refs) == 0)
        return;
    keep = json_array();
    if (keep == NULL)
        return;
    json_array_foreach (refs, i, r) {
        const json_t *owner;
        int ok;
        char okey[STORE_KEY_MAX + 1];
        switch (owner_state(s, ns, r, &ok, &owner, okey, sizeof okey)) {
        case OWNER_SOLID:
            solid++;
            json_array_append(keep, r);
            break;
        case OWNER_DANGLING:
            gone++;
            break;
        default:
            waiting++;
            blocking = blocking || json_is_true(json_object_get(r, "blockOwnerDeletion"));
            break;
        }
    }
    if (solid > 0) {
        if (gone + waiting > 0) {
            json_t *upd = json_deep_copy(obj);
            if (upd != NULL) {
                json_object_set(json_object_get(upd, "metadata"), "ownerReferences", keep);
                sched__update(s, c, kind, obj, upd, qkey);
            }
        }
    } else if (!being_deleted(obj)) {
        LOG_INFO("sched", "gc_delete", "key=%s owners_gone=%zu owners_deleting=%zu", key, gone,
                 waiting);
        if (waiting > 0 && blocking)
            delete_foreground(s, c, kind, obj, qkey);
        else
            sched__delete(s, c, kind, obj, NULL, false, qkey);
    }
    json_decref(keep);
}

/* Takes finalizer f off owner; the last finalizer off an object being
 * deleted removes it (a Namespace keeps waiting for its spec.finalizers). */
static void drop_finalizer(struct sched *s, struct sched_ctrl *c, int kind, const json_t *owner,
                           const char *f, const char *qkey)
{
    json_t *fin = without_string(json_object_get(meta_of(owner), "finalizers"), f), *upd;
    if (fin == NULL)
        return;
    if (json_array_size(fin) == 0 &&
        !(kind == SK_NAMESPACE &&
          json_array_size(json_object_get(json_object_get(owner, "spec"), "finalizers")) > 0)) {
        json_decref(fin);
        sched__delete(s, c, kind, owner, NULL, true, qkey);
        return;
    }
    upd = json_deep_copy(owner);
    if (upd == NULL) {
        json_decref(fin);
        return;
    }
    json_object_set_new(json_object_get(upd, "metadata"), "finalizers", fin);
    sched__update(s, c, kind, owner, upd, qkey);
}

/* The reference to owner uid in obj, or NULL. */
static const json_t *ref_to(const json_t *obj, const char *uid)
{
    const json_t *refs = json_object_get(meta_of(obj), "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        const char *u = json_string_value(json_object_get(r, "uid"));
        if (u != NULL && strcmp(u, uid) == 0)
            return r;
    }
    return NULL;
}

/* An owner being deleted with the orphan or foregroundDeletion finalizer. */
static void owner_sync(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                       const char *qkey)
{
    const json_t *owner = sched__get(s, kind, key);
    const char *uid = owner ? mstr(owner, "uid") : NULL, *dkey;
    json_t *deps, *kv;
    size_t left = 0;
    if (owner == NULL || uid == NULL || !being_deleted(owner))
        return;
    deps = sched__owned(s, uid);
    if (has_finalizer(owner, FIN_ORPHAN)) {
        json_object_foreach (deps, dkey, kv) {
            int dk = (int)json_integer_value(kv);
            const json_t *d = sched__get(s, dk, dkey), *r;
            json_t *upd, *refs, *keep;
            size_t i;
            if (d == NULL || ref_to(d, uid) == NULL)
                continue;
            left++;
            upd = json_deep_copy(d);
            keep = json_array();
            if (upd == NULL || keep == NULL) {
                json_decref(upd);
                json_decref(keep);
                continue;
            }
            refs = json_object_get(meta_of(d), "ownerReferences");
            json_array_foreach (refs, i, r)
                if (r != ref_to(d, uid))
                    json_array_append(keep, (json_t *)r);
            if (json_array_size(keep) > 0)
                json_object_set_new(json_object_get(upd, "metadata"), "ownerReferences", keep);
            else {
                json_decref(keep);
                json_object_del(json_object_get(upd, "metadata"), "ownerReferences");
            }
            sched__update(s, c, dk, d, upd, qkey);
        }
        if (left == 0)
            drop_finalizer(s, c, kind, owner, FIN_ORPHAN, qkey);
        return;
    }
    if (has_finalizer(owner, FIN_FOREGROUND)) {
        json_object_foreach (deps, dkey, kv) {
            int dk = (int)json_integer_value(kv);
            const json_t *d = sched__get(s, dk, dkey), *r;
            char dq[STORE_KEY_MAX + 32];
            if (d == NULL || (r = ref_to(d, uid)) == NULL)
                continue;
            if (json_is_true(json_object_get(r, "blockOwnerDeletion")))
                left++;
            if (!being_deleted(d)) {
                snprintf(dq, sizeof dq, "d:%d:%s", dk, dkey);
                dependent_sync(s, c, dk, dkey, dq);
            }
        }
        if (left == 0)
            drop_finalizer(s, c, kind, owner, FIN_FOREGROUND, qkey);
    }
}

/* ---- namespaces ---- */

struct ns_content {
    struct sched *s;
    struct sched_ctrl *c;
    const char *qkey;
    int kind;
    size_t left, issued;
};

static int ns_content_one(const char *key, json_t *obj, void *data)
{
    struct ns_content *nc = data;
    (void)key;
    nc->left++;
    if (being_deleted(obj) || nc->issued >= NS_BURST)
        return 0;
    if (sched__delete(nc->s, nc->c, nc->kind, obj, NULL, false, nc->qkey) == 0)
        nc->issued++;
    return 0;
}

static void namespace_sync(struct sched *s, struct sched_ctrl *c, const char *name,
                           const char *qkey)
{
    const json_t *ns;
    size_t left = 0, issued = 0;
    char nskey[STORE_KEY_MAX + 1];
    if (sched__key_of(SK_NAMESPACE, NULL, name, nskey, sizeof nskey) != 0)
        return;
    ns = sched__get(s, SK_NAMESPACE, nskey);
    if (ns != NULL && !being_deleted(ns))
        return;
    for (int k = 0; k < SK__COUNT; k++) {
        const struct api_kind *ak = sched__kind(k);
        char prefix[STORE_KEY_MAX + 1];
        size_t plen;
        if (!ak->namespaced)
            continue;
        plen = (size_t)snprintf(prefix, sizeof prefix, "/registry/%s/%s/", ak->store_name, name);
        if (plen >= sizeof prefix)
            continue;
        struct ns_content nc = {s, c, qkey, k, 0, issued};
        sched__each_in(s, k, prefix, ns_content_one, &nc);
        left += nc.left;
        issued = nc.issued;
    }
    if (ns == NULL && issued > 0)
        LOG_INFO("sched", "namespace_gone_content", "namespace=%s deleting=%zu", name, issued);
    if (left > 0) {
        /* the deletes issued come back as events; a wait on others'
         * finalizers or on agents is polled */
        if (issued == 0)
            sched__enqueue_after(s, c, qkey, 2000);
        return;
    }
    if (ns == NULL)
        return;
    {
        const json_t *sfin = json_object_get(json_object_get(ns, "spec"), "finalizers");
        size_t mfin = json_array_size(json_object_get(meta_of(ns), "finalizers"));
        json_t *rest = without_string(sfin, FIN_NS_KUBERNETES), *upd;
        if (rest == NULL)
            return;
        if (mfin == 0 && json_array_size(rest) == 0) {
            LOG_INFO("sched", "namespace_finalized", "namespace=%s", name);
            json_decref(rest);
            sched__delete(s, c, SK_NAMESPACE, ns, NULL, true, qkey);
            return;
        }
        if (json_array_size(rest) == json_array_size(sfin)) {
            json_decref(rest); /* others' finalizers: wait for them */
            return;
        }
        upd = json_deep_copy(ns);
        if (upd == NULL) {
            json_decref(rest);
            return;
        }
        json_object_set_new(json_object_get(upd, "spec"), "finalizers", rest);
        sched__update(s, c, SK_NAMESPACE, ns, upd, qkey);
    }
}

/* The namespace an event's object lives in needs a look: it is being
 * deleted, or (on a new object) it does not exist. */
static void namespace_touch(struct sched *s, struct sched_ctrl *c, int kind, const json_t *o,
                            bool created)
{
    const char *ns = mstr(o, "namespace");
    const json_t *nso;
    char nskey[STORE_KEY_MAX + 1];
    if (!sched__kind(kind)->namespaced || ns == NULL ||
        sched__key_of(SK_NAMESPACE, NULL, ns, nskey, sizeof nskey) != 0)
        return;
    nso = sched__get(s, SK_NAMESPACE, nskey);
    if (nso != NULL && being_deleted(nso))
        enqueue_fmt(s, c, "ns", -1, ns, 0);
    else if (nso == NULL && created)
        enqueue_fmt(s, c, "ns", -1, ns, ORPHAN_NS_WAIT);
}

/* ---- events ---- */

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    const json_t *o = obj ? obj : old;
    if (obj != NULL) {
        if (being_deleted(obj) &&
            (has_finalizer(obj, FIN_ORPHAN) || has_finalizer(obj, FIN_FOREGROUND)))
            enqueue_fmt(s, c, "o", kind, key, 0);
        if (dependent_needs_sync(s, c, obj))
            enqueue_fmt(s, c, "d", kind, key, 0);
        /* a reference dropped (orphaning): the owner may finish now */
        if (old != NULL && !json_equal(json_object_get(meta_of(old), "ownerReferences"),
                                       json_object_get(meta_of(obj), "ownerReferences")))
            (void)dependent_needs_sync(s, c, old);
    } else {
        /* an owner went: its dependents may be garbage now */
        const char *dkey;
        json_t *kv;
        json_object_foreach (sched__owned(s, mstr(old, "uid")), dkey, kv)
            enqueue_fmt(s, c, "d", (int)json_integer_value(kv), dkey, 0);
        (void)dependent_needs_sync(s, c, old); /* owners waiting on it */
    }
    if (kind == SK_NAMESPACE) {
        const char *name = mstr(o, "name");
        if (name != NULL && obj != NULL && being_deleted(obj))
            enqueue_fmt(s, c, "ns", -1, name, 0);
        else if (name != NULL && obj == NULL)
            enqueue_fmt(s, c, "ns", -1, name, ORPHAN_NS_WAIT);
        return;
    }
    namespace_touch(s, c, kind, o, old == NULL);
}

static void gc_sync(struct sched *s, struct sched_ctrl *c, const char *qkey)
{
    char *end;
    long kind;
    if (strncmp(qkey, "ns:", 3) == 0) {
        namespace_sync(s, c, qkey + 3, qkey);
        return;
    }
    if ((qkey[0] != 'd' && qkey[0] != 'o') || qkey[1] != ':')
        return;
    kind = strtol(qkey + 2, &end, 10);
    if (end == qkey + 2 || *end != ':' || kind < 0 || kind >= SK__COUNT)
        return;
    if (qkey[0] == 'd')
        dependent_sync(s, c, (int)kind, end + 1, qkey);
    else
        owner_sync(s, c, (int)kind, end + 1, qkey);
}

/* ---- the periodic scan ---- */

static void gc_start(struct sched *s, struct sched_ctrl *c)
{
    struct gc_state *st = calloc(1, sizeof *st);
    const char *key;
    json_t *ns;
    c->state = st;
    /* a new leader resumes what the last one left: namespaces being deleted
     * now; dangling references with the first scan */
    json_object_foreach (sched__objs(s, SK_NAMESPACE), key, ns)
        if (being_deleted(ns) && mstr(ns, "name") != NULL)
            enqueue_fmt(s, c, "ns", -1, mstr(ns, "name"), 0);
}

static void gc_stop(struct sched *s, struct sched_ctrl *c)
{
    (void)s;
    free(c->state);
    c->state = NULL;
}

static void gc_tick(struct sched *s, struct sched_ctrl *c)
{
    struct gc_state *st = c->state;
    uint64_t now = sched__now_ms(s);
    size_t budget = SCAN_BUDGET;
    if (st == NULL)
        return;
    if (!st->scanning) {
        if (st->scan_started_ms != 0 && now - st->scan_started_ms < SCAN_MS)
            return;
        st->scanning = true;
        st->scan_started_ms = now;
        st->scan_kind = 0;
        st->scan_skip = 0;
    }
    while (st->scan_kind < SK__COUNT && budget > 0) {
        int k = st->scan_kind;
        size_t i = 0;
        const char *key;
        json_t *obj;
        bool done = true;
        json_object_foreach (sched__objs(s, k), key, obj) {
            if (i++ < st->scan_skip)
                continue;
            if (budget == 0) {
                done = false;
                break;
            }
            budget--;
            st->scan_skip++;
            if (k == SK_NAMESPACE) {
                if (being_deleted(obj) && mstr(obj, "name") != NULL)
                    enqueue_fmt(s, c, "ns", -1, mstr(obj, "name"), 0);
                continue;
            }
            if (being_deleted(obj) &&
                (has_finalizer(obj, FIN_ORPHAN) || has_finalizer(obj, FIN_FOREGROUND)))
                enqueue_fmt(s, c, "o", k, key, 0);
            if (dependent_needs_sync(s, c, obj))
                enqueue_fmt(s, c, "d", k, key, 0);
            namespace_touch(s, c, k, obj, true);
        }
        if (!done)
            break;
        st->scan_kind++;
        st->scan_skip = 0;
    }
    if (st->scan_kind >= SK__COUNT)
        st->scanning = false;
}

struct sched_ctrl sched__ctrl_gc = {"gc",    gc_start, gc_stop, on_event,
                                    gc_sync, gc_tick,  NULL,    NULL};
