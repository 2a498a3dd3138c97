/* The leader-loop framework: leadership lifecycle, informers, work queues,
 * delayed requeues, expectations and writes through consensus (see
 * sched/internal.h). Caches are plain jansson objects used as hash maps
 * (store key -> object): O(1) lookups, and the objects are the very JSON the
 * controllers read. */
#include "sched/sched.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "sched/internal.h"

#define KICK_BUDGET  2000 /* keys synced per loop turn, per controller */
#define WARM_BUDGET  1000 /* objects a new leader's informers read per loop turn */
#define NEXT_TURN_MS 1    /* delay of a continuation, so that I/O runs between */
#define TICK_MS      250
#define CTRL_TICK_MS 1000

static struct sched_ctrl *const all_ctrls[] = {
    &sched__ctrl_scheduler, &sched__ctrl_replicaset, &sched__ctrl_deployment, &sched__ctrl_job,
    &sched__ctrl_cronjob,   &sched__ctrl_daemonset,  &sched__ctrl_gc,         &sched__ctrl_nodes,
    &sched__ctrl_endpoints, &sched__ctrl_ipam,       &sched__ctrl_hpa,
};
#define N_CTRLS (sizeof all_ctrls / sizeof all_ctrls[0])

static const char *const kind_names[SK__COUNT] = {
    [SK_NAMESPACE] = "Namespace",
    [SK_NODE] = "Node",
    [SK_POD] = "Pod",
    [SK_SERVICE] = "Service",
    [SK_ENDPOINTS] = "Endpoints",
    [SK_SECRET] = "Secret",
    [SK_CONFIGMAP] = "ConfigMap",
    [SK_DEPLOYMENT] = "Deployment",
    [SK_REPLICASET] = "ReplicaSet",
    [SK_DAEMONSET] = "DaemonSet",
    [SK_JOB] = "Job",
    [SK_CRONJOB] = "CronJob",
    [SK_LEASE] = "Lease",
    [SK_HPA] = "HorizontalPodAutoscaler",
};

struct informer {
    struct sched *s;
    int kind;
    const struct api_kind *k;
    char prefix[96];
    json_t *objs;
    struct store_watch w;
    bool watching;
    bool listing; /* warm-up: pages still to read */
    char *after;  /* warm-up: the last key read (NULL: from the start) */
};

struct delayed {
    uint64_t due_ms;
    struct sched_ctrl *c;
    char *key;
};

struct sched {
    uv_loop_t *loop;
    struct cons *cons;
    struct store *store;
    struct sched_config cfg;
    bool leading;
    bool warm; /* leading, informers filled and controllers started */
    bool closing;
    uint64_t epoch; /* bumped on each leadership change */
    uint64_t leading_since_ms;
    struct informer inf[SK__COUNT];
    json_t *owned;   /* owner uid -> {store key: kind} */
    json_t *expects; /* owner uid -> [creates, deletes, ctrl index, owner key] */
    json_t *seen;    /* node name -> last time reachable (ms) */
    struct delayed *delayed;
    size_t n_delayed, cap_delayed;
    uv_timer_t kick, tick;
    int open_handles;
    uint64_t last_ctrl_tick;
    bool kick_armed;
    struct cons_status_req status_req;
    bool status_busy;
    void (*close_cb)(void *);
    void *close_data;
    struct prom_hist bind_latency; /* ctrl_scheduler.c observes; /metrics reads */
    size_t writes;                 /* in flight inside consensus */
    bool handles_closed;           /* freed with the last write back */
};

static void sched_free(struct sched *s);

/* ---- small helpers ---- */

uint64_t sched__now_ms(struct sched *s)
{
    (void)s;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t sched__leading_ms(struct sched *s)
{
    return s->leading ? sched__now_ms(s) - s->leading_since_ms : 0;
}

const struct sched_config *sched__config(struct sched *s)
{
    return &s->cfg;
}

struct store *sched__store(struct sched *s)
{
    return s->store;
}

uv_loop_t *sched__loop(struct sched *s)
{
    return s->loop;
}

struct prom_hist *sched__bind_latency(struct sched *s)
{
    return &s->bind_latency;
}

void sched__now_rfc3339(struct sched *s, char buf[21])
{
    time_t t = time(NULL);
    struct tm tm;
    (void)s;
    gmtime_r(&t, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const struct api_kind *sched__kind(int kind)
{
    size_t n, i;
    const struct api_kind *ks = api_kinds(&n);
    for (i = 0; i < n; i++)
        if (strcmp(ks[i].kind, kind_names[kind]) == 0)
            return &ks[i];
    return NULL;
}

json_t *sched__objs(struct sched *s, int kind)
{
    return s->inf[kind].objs;
}

static bool metadata_only(int kind);

json_t *sched__get(struct sched *s, int kind, const char *key)
{
    struct store_kv kv;
    struct err e;
    json_t *o;
    if (s->inf[kind].objs == NULL)
        return NULL;
    o = json_object_get(s->inf[kind].objs, key);
    if (o != NULL || !metadata_only(kind) || store_get(s->store, key, &kv, &e) != 0)
        return o;
    /* a plain object of a metadata-only kind (an owner, say): read it and
     * keep it, its events keep it current from now on */
    if (api_object_decode(kv.value, kv.value_len, kv.mod_rev, &o, &e) == 0) {
        sched__slim(kind, o);
        json_object_set_new(s->inf[kind].objs, key, o);
    } else {
        o = NULL;
    }
    store_kv_close(&kv);
    return o;
}

struct each_in {
    int kind;
    sched_each_fn fn;
    void *data;
};

static int each_in_one(const struct store_kv *kv, void *data)
{
    struct each_in *ei = data;
    struct err e;
    json_t *o;
    int rv;
    if (api_object_decode(kv->value, kv->value_len, kv->mod_rev, &o, &e) != 0)
        return 0;
    sched__slim(ei->kind, o);
    rv = ei->fn(kv->key, o, ei->data);
    json_decref(o);
    return rv;
}

int sched__each_in(struct sched *s, int kind, const char *prefix, sched_each_fn fn, void *data)
{
    size_t plen = strlen(prefix);
    const char *key;
    json_t *obj;
    if (s->inf[kind].objs == NULL)
        return 0;
    if (metadata_only(kind)) {
        /* the informer holds only some of them: the store has them all */
        struct each_in ei = {kind, fn, data};
        struct err e;
        uint64_t rev;
        return store_range_each(s->store, prefix, 1000, each_in_one, &ei, &rev, &e);
    }
    json_object_foreach (s->inf[kind].objs, key, obj) {
        int rv;
        if (strncmp(key, prefix, plen) != 0)
            continue;
        if ((rv = fn(key, obj, data)) != 0)
            return rv;
    }
    return 0;
}

int sched__key_of(int kind, const char *ns, const char *name, char *buf, size_t size)
{
    const struct api_kind *k = sched__kind(kind);
    struct err e;
    if (name == NULL)
        return ERR_INVALID;
    return api_object_key(k->store_name, k->namespaced ? ns : NULL, name, buf, size, &e);
}

int sched__key(int kind, const json_t *obj, char *buf, size_t size)
{
    const json_t *meta = json_object_get(obj, "metadata");
    return sched__key_of(kind, json_string_value(json_object_get(meta, "namespace")),
                         json_string_value(json_object_get(meta, "name")), buf, size);
}

const char *sched__controller_uid(const json_t *obj)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r)
        if (json_is_true(json_object_get(r, "controller")))
            return json_string_value(json_object_get(r, "uid"));
    return NULL;
}

json_t *sched__owned(struct sched *s, const char *uid)
{
    return uid ? json_object_get(s->owned, uid) : NULL;
}

/* every owner (not only the controller) indexes its dependents, for GC */
static void index_owners(struct sched *s, int kind, const char *key, const json_t *obj, bool add)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach (refs, i, r) {
        const char *uid = json_string_value(json_object_get(r, "uid"));
        json_t *set;
        if (uid == NULL)
            continue;
        set = json_object_get(s->owned, uid);
        if (add) {
            if (set == NULL) {
                set = json_object();
                json_object_set_new(s->owned, uid, set);
            }
            json_object_set_new(set, key, json_integer(kind));
        } else if (set != NULL) {
            json_object_del(set, key);
            if (json_object_size(set) == 0)
                json_object_del(s->owned, uid);
        }
    }
}

bool sched__node_reachable(struct sched *s, const char *name)
{
    json_t *t = json_object_get(s->seen, name);
    uint64_t now = sched__now_ms(s);
    if (t == NULL)
        return false;
    return now - (uint64_t)json_integer_value(t) <= s->cfg.node_grace_ms;
}

/* ---- queues ---- */

static void kick(struct sched *s);

void sched__enqueue(struct sched *s, struct sched_ctrl *c, const char *key)
{
    if (!s->leading || c->queue__ == NULL || key == NULL)
        return;
    json_object_set_new(c->queue__, key, json_true());
    kick(s);
}

void sched__enqueue_after(struct sched *s, struct sched_ctrl *c, const char *key, uint64_t ms)
{
    struct delayed *d;
    if (!s->leading || key == NULL)
        return;
    if (s->n_delayed == s->cap_delayed) {
        size_t cap = s->cap_delayed ? s->cap_delayed * 2 : 64;
        struct delayed *nd = realloc(s->delayed, cap * sizeof *nd);
        if (nd == NULL)
            return;
        s->delayed = nd;
        s->cap_delayed = cap;
    }
    d = &s->delayed[s->n_delayed];
    d->key = strdup(key);
    if (d->key == NULL)
        return;
    d->due_ms = sched__now_ms(s) + ms;
    d->c = c;
    s->n_delayed++;
}

static void run_delayed(struct sched *s)
{
    uint64_t now = sched__now_ms(s);
    size_t i = 0;
    while (i < s->n_delayed) {
        struct delayed d = s->delayed[i];
        if (d.due_ms > now) {
            i++;
            continue;
        }
        s->delayed[i] = s->delayed[--s->n_delayed];
        sched__enqueue(s, d.c, d.key);
        free(d.key);
    }
}

static void clear_delayed(struct sched *s)
{
    for (size_t i = 0; i < s->n_delayed; i++)
        free(s->delayed[i].key);
    s->n_delayed = 0;
}

/* ---- expectations ---- */

static int ctrl_index(struct sched_ctrl *c)
{
    for (size_t i = 0; i < N_CTRLS; i++)
        if (all_ctrls[i] == c)
            return (int)i;
    return -1;
}

void sched__expect(struct sched *s, struct sched_ctrl *c, const char *owner_uid,
                   const char *owner_key, int creates, int deletes)
{
    json_t *e;
    if (owner_uid == NULL)
        return;
    e = json_object_get(s->expects, owner_uid);
    if (e == NULL) {
        e = json_pack("[i, i, i, s]", 0, 0, ctrl_index(c), owner_key ? owner_key : "");
        json_object_set_new(s->expects, owner_uid, e);
    }
    json_array_set_new(e, 0, json_integer(json_integer_value(json_array_get(e, 0)) + creates));
    json_array_set_new(e, 1, json_integer(json_integer_value(json_array_get(e, 1)) + deletes));
}

bool sched__settled(struct sched *s, const char *owner_uid)
{
    json_t *e = owner_uid ? json_object_get(s->expects, owner_uid) : NULL;
    return e == NULL;
}

/* one create (dc = -1) or delete (dd = -1) of owner's settled */
static void settle(struct sched *s, const char *owner_uid, int dc, int dd)
{
    json_t *e = owner_uid ? json_object_get(s->expects, owner_uid) : NULL;
    json_int_t c, d;
    int ci;
    char key[STORE_KEY_MAX + 1];
    if (e == NULL)
        return;
    c = json_integer_value(json_array_get(e, 0)) + dc;
    d = json_integer_value(json_array_get(e, 1)) + dd;
    if (c < 0)
        c = 0;
    if (d < 0)
        d = 0;
    if (c > 0 || d > 0) {
        json_array_set_new(e, 0, json_integer(c));
        json_array_set_new(e, 1, json_integer(d));
        return;
    }
    ci = (int)json_integer_value(json_array_get(e, 2));
    snprintf(key, sizeof key, "%s", json_string_value(json_array_get(e, 3)));
    json_object_del(s->expects, owner_uid);
    if (ci >= 0 && key[0] != '\0')
        sched__enqueue(s, all_ctrls[ci], key);
}

/* ---- informers ---- */

static void deliver(struct sched *s, int kind, const char *key, const json_t *old,
                    const json_t *obj)
{
    for (size_t i = 0; i < N_CTRLS && s->leading && s->warm; i++)
        if (all_ctrls[i]->on_event != NULL)
            all_ctrls[i]->on_event(s, all_ctrls[i], kind, key, old, obj);
}

static void on_store_event(struct store_watch *w, const struct store_event *ev);

/* Kinds whose content no controller reads: only the garbage collector and
 * namespace deletion look at them, through a few metadata fields. Their
 * informers keep apiVersion, kind and those fields (SLIM_META), so a
 * ConfigMap's or Secret's data, labels and annotations (which can hold a
 * whole last-applied copy) are neither held in the leader's memory nor
 * handed to controllers. Measured: a leader caching 10,000 1 KiB ConfigMaps
 * whole held 67 MB of anonymous memory against 5 MB on a follower. A
 * controller's update of such an object goes through slim_rehydrate. */
static const char *const SLIM_META[] = {"name",          "namespace",  "uid",
                                        "resourceVersion", "ownerReferences", "finalizers",
                                        "deletionTimestamp"};
#define N_SLIM_META (sizeof SLIM_META / sizeof SLIM_META[0])

static uint64_t rv_of(const json_t *obj);

static bool metadata_only(int kind)
{
    return kind == SK_CONFIGMAP || kind == SK_SECRET;
}

static bool slim_kept(const char *k)
{
    for (size_t i = 0; i < N_SLIM_META; i++)
        if (strcmp(k, SLIM_META[i]) == 0)
            return true;
    return false;
}

void sched__slim(int kind, json_t *obj)
{
    const char *k;
    json_t *v;
    void *tmp;
    if (!metadata_only(kind))
        return;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        if (strcmp(k, "apiVersion") != 0 && strcmp(k, "kind") != 0 && strcmp(k, "metadata") != 0)
            json_object_del(obj, k);
    }
    json_t *meta = json_object_get(obj, "metadata");
    json_object_foreach_safe(meta, tmp, k, v)
    {
        if (!slim_kept(k))
            json_object_del(meta, k);
    }
}

/* A metadata-only object the garbage collector has something to do with:
 * owned, held by finalizers or being deleted. The informers of those kinds
 * keep only these (and objects looked up by key, see sched__get): a plain
 * ConfigMap costs the leader no memory at all. */
static bool slim_wanted(const json_t *obj)
{
    const json_t *m = json_object_get(obj, "metadata");
    return json_array_size(json_object_get(m, "ownerReferences")) > 0 ||
           json_array_size(json_object_get(m, "finalizers")) > 0 ||
           json_object_get(m, "deletionTimestamp") != NULL;
}

/* An update a controller made from a slim cached object: the whole object
 * as stored at the cached resourceVersion, with the kept metadata fields as
 * the controller set them. *full_old gets the stored object. ERR_CONFLICT
 * when the store has moved on (the cache hears of it and the controller
 * runs again); consumes upd. */
static int slim_rehydrate(struct sched *s, int kind, const json_t *old, json_t *upd,
                          json_t **full_old, json_t **full_new, struct err *e)
{
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    json_t *meta_upd = json_object_get(upd, "metadata");
    json_t *meta;
    int rv = sched__key(kind, old, key, sizeof key);
    *full_old = *full_new = NULL;
    if (rv == 0)
        rv = store_get(s->store, key, &kv, e);
    if (rv != 0) {
        json_decref(upd);
        return rv;
    }
    if (kv.mod_rev != rv_of(old))
        rv = err_setf(e, ERR_CONFLICT, "changed since it was cached");
    else
        rv = api_object_decode(kv.value, kv.value_len, kv.mod_rev, full_old, e);
    store_kv_close(&kv);
    if (rv == 0 && (*full_new = json_deep_copy(*full_old)) == NULL)
        rv = err_setf(e, ERR_NOMEM, "out of memory");
    if (rv != 0) {
        json_decref(*full_old);
        *full_old = NULL;
        json_decref(upd);
        return rv;
    }
    meta = json_object_get(*full_new, "metadata");
    for (size_t i = 0; i < N_SLIM_META; i++) {
        json_t *v = json_object_get(meta_upd, SLIM_META[i]);
        if (v != NULL)
            json_object_set(meta, SLIM_META[i], v);
        else
            json_object_del(meta, SLIM_META[i]);
    }
    json_decref(upd);
    return 0;
}

struct relist {
    struct store_watch *w;
    json_t *seen; /* keys listed */
};

static int relist_one(const struct store_kv *kv, void *data)
{
    struct relist *rl = data;
    struct store_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = STORE_EVENT_PUT;
    ev.rev = kv->mod_rev;
    ev.kv = *kv;
    json_object_set_new(rl->seen, kv->key, json_true());
    on_store_event(rl->w, &ev);
    return 0;
}

/* The replica jumped to a Raft snapshot (a leader does not get one, but a
 * cache must never silently miss changes): every object is delivered
 * again and the ones gone are deleted, as a fresh list would. */
static void informer_relist(struct informer *inf)
{
    struct relist rl = {&inf->w, json_object()};
    const char *key;
    json_t *v;
    void *tmp;
    uint64_t rev;
    struct err e;
    if (rl.seen == NULL ||
        store_range_each(inf->s->store, inf->prefix, 1000, relist_one, &rl, &rev, &e) != 0) {
        LOG_ERROR("sched", "relist_failed", "prefix=%s", inf->prefix);
        json_decref(rl.seen);
        return;
    }
    json_object_foreach_safe(inf->objs, tmp, key, v)
    {
        struct store_event ev;
        char k[STORE_KEY_MAX + 1];
        if (json_object_get(rl.seen, key) != NULL)
            continue;
        snprintf(k, sizeof k, "%s", key);
        memset(&ev, 0, sizeof ev);
        ev.type = STORE_EVENT_DELETE;
        ev.kv.key = k;
        on_store_event(&inf->w, &ev);
    }
    json_decref(rl.seen);
}

static void on_store_event(struct store_watch *w, const struct store_event *ev)
{
    struct informer *inf = w->data;
    struct sched *s = inf->s;
    json_t *old, *obj = NULL;
    struct err e;
    const char *owner;

    if (ev->type == STORE_EVENT_RESET) {
        informer_relist(inf);
        return;
    }
    old = json_incref(json_object_get(inf->objs, ev->kv.key));

    if (ev->type == STORE_EVENT_DELETE) {
        if (old == NULL)
            return;
        json_object_del(inf->objs, ev->kv.key);
        index_owners(s, inf->kind, ev->kv.key, old, false);
        owner = sched__controller_uid(old);
        if (json_object_get(json_object_get(old, "metadata"), "deletionTimestamp") == NULL)
            settle(s, owner, 0, -1);
        deliver(s, inf->kind, ev->kv.key, old, NULL);
        json_decref(old);
        return;
    }
    if (api_object_decode(ev->kv.value, ev->kv.value_len, ev->kv.mod_rev, &obj, &e) != 0) {
        LOG_WARN("sched", "bad_object", "key=%s err=\"%s\"", ev->kv.key, e.msg);
        json_decref(old);
        return;
    }
    sched__slim(inf->kind, obj);
    if (old != NULL)
        index_owners(s, inf->kind, ev->kv.key, old, false);
    if (old != NULL || !metadata_only(inf->kind) || slim_wanted(obj)) {
        json_object_set(inf->objs, ev->kv.key, obj);
        index_owners(s, inf->kind, ev->kv.key, obj, true);
    }
    owner = sched__controller_uid(obj);
    if (old == NULL)
        settle(s, owner, -1, 0);
    else if (json_object_get(json_object_get(old, "metadata"), "deletionTimestamp") == NULL &&
             json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL)
        settle(s, owner, 0, -1);
    deliver(s, inf->kind, ev->kv.key, old, obj);
    json_decref(old);
    json_decref(obj);
}

static int informer_add(const struct store_kv *kv, void *data)
{
    struct informer *inf = data;
    json_t *obj;
    struct err de;
    if (api_object_decode(kv->value, kv->value_len, kv->mod_rev, &obj, &de) != 0)
        return 0; /* a bad object is skipped (the watch logs it when it changes) */
    sched__slim(inf->kind, obj);
    if (metadata_only(inf->kind) && !slim_wanted(obj) &&
        json_object_get(inf->objs, kv->key) == NULL) {
        json_decref(obj);
        return 0;
    }
    json_object_set_new(inf->objs, kv->key, obj);
    index_owners(inf->s, inf->kind, kv->key, obj, true);
    return 0;
}

/* A new leader fills its informers a page per loop turn, so that the API
 * and raft keep being served while a large store is read (170,000 objects
 * took over a second in one go, and the first writes after a failover waited
 * for it). The watch starts first, at the current revision: its events
 * update the cache as they happen, and every page read afterwards is at
 * least as new as any event already seen, so the cache ends up exact.
 * Controllers hear nothing until every informer is full (s->warm); then
 * every cached object is delivered once, as at any leadership start. */
static int informer_start(struct sched *s, struct informer *inf, struct err *e)
{
    int rv;
    inf->objs = json_object();
    if (inf->objs == NULL)
        return err_setf(e, ERR_NOMEM, "sched: out of memory");
    inf->w.data = inf;
    rv = store_watch_start(s->store, &inf->w, inf->prefix, store_revision(s->store),
                           on_store_event, e);
    inf->watching = rv == 0;
    inf->listing = rv == 0;
    inf->after = NULL;
    return rv;
}

/* Reads up to *budget more objects; false with e set on a store error. */
static bool informer_page(struct informer *inf, size_t *budget, struct err *e)
{
    struct store_list l;
    size_t n = *budget < 100 ? 100 : *budget;
    if (store_range(inf->s->store, inf->prefix, inf->after, n, &l, e) != 0)
        return false;
    for (size_t i = 0; i < l.n; i++)
        informer_add(&l.kvs[i], inf);
    *budget = l.n >= *budget ? 0 : *budget - l.n;
    free(inf->after);
    inf->after = NULL;
    if (l.more && l.n > 0 && (inf->after = strdup(l.kvs[l.n - 1].key)) == NULL) {
        store_list_close(&l);
        err_setf(e, ERR_NOMEM, "sched: out of memory");
        return false;
    }
    inf->listing = inf->after != NULL;
    store_list_close(&l);
    return true;
}

static void informer_stop(struct informer *inf)
{
    if (inf->watching)
        store_watch_stop(&inf->w);
    inf->watching = false;
    inf->listing = false;
    free(inf->after);
    inf->after = NULL;
    json_decref(inf->objs);
    inf->objs = NULL;
}

/* ---- the loop ---- */

static void on_kick(uv_timer_t *t)
{
    struct sched *s = t->data;
    bool more = false;
    s->kick_armed = false;
    for (size_t i = 0; i < N_CTRLS && s->leading; i++) {
        struct sched_ctrl *c = all_ctrls[i];
        size_t budget = KICK_BUDGET;
        while (s->leading && c->queue__ != NULL && json_object_size(c->queue__) > 0 &&
               budget-- > 0) {
            void *it = json_object_iter(c->queue__);
            char key[STORE_KEY_MAX + 64];
            snprintf(key, sizeof key, "%s", json_object_iter_key(it));
            json_object_del(c->queue__, key);
            if (c->sync != NULL)
                c->sync(s, c, key);
        }
        if (c->queue__ != NULL && json_object_size(c->queue__) > 0)
            more = true;
    }
    if (more && s->leading && s->warm) {
        /* the rest after the loop has polled I/O (see on_warm) */
        s->kick_armed = true;
        uv_timer_start(&s->kick, on_kick, NEXT_TURN_MS, 0);
    }
}

static void kick(struct sched *s)
{
    if (s->kick_armed || !s->leading || !s->warm)
        return;
    s->kick_armed = true;
    uv_timer_start(&s->kick, on_kick, 0, 0);
}

static void on_status(struct cons_status_req *req, int status)
{
    struct sched *s = req->data;
    uint64_t now = sched__now_ms(s);
    s->status_busy = false;
    if (s->handles_closed && s->writes == 0) {
        sched_free(s);
        return;
    }
    if (status != 0 || s->closing)
        return;
    for (size_t i = 0; i < req->st.n_members; i++)
        if (req->st.members[i].reachable)
            json_object_set_new(s->seen, req->st.members[i].name, json_integer((json_int_t)now));
}

static void on_tick(uv_timer_t *t)
{
    struct sched *s = t->data;
    uint64_t now = sched__now_ms(s);
    if (!s->leading)
        return;
    if (!s->status_busy) {
        s->status_busy = true;
        s->status_req.data = s;
        if (cons_status(s->cons, &s->status_req, on_status) != 0)
            s->status_busy = false;
    }
    run_delayed(s);
    if (now - s->last_ctrl_tick >= CTRL_TICK_MS) {
        s->last_ctrl_tick = now;
        for (size_t i = 0; i < N_CTRLS && s->leading; i++)
            if (all_ctrls[i]->tick != NULL)
                all_ctrls[i]->tick(s, all_ctrls[i]);
    }
}

static void stop_leading(struct sched *s)
{
    if (!s->leading)
        return;
    s->leading = false;
    s->warm = false;
    s->epoch++;
    uv_timer_stop(&s->kick);
    uv_timer_stop(&s->tick);
    s->kick_armed = false;
    for (size_t i = 0; i < N_CTRLS; i++) {
        if (all_ctrls[i]->stop != NULL)
            all_ctrls[i]->stop(s, all_ctrls[i]);
        json_decref(all_ctrls[i]->queue__);
        all_ctrls[i]->queue__ = NULL;
    }
    for (int k = 0; k < SK__COUNT; k++)
        informer_stop(&s->inf[k]);
    json_object_clear(s->owned);
    json_object_clear(s->expects);
    clear_delayed(s);
    LOG_INFO("sched", "stopped", "epoch=%llu", (unsigned long long)s->epoch);
}

static void finish_start(struct sched *s)
{
    uint64_t now = sched__now_ms(s);
    s->warm = true;
    /* every known node counts as just seen: the grace starts now */
    {
        const char *key;
        json_t *node;
        json_object_foreach (s->inf[SK_NODE].objs, key, node) {
            const char *name =
                json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
            if (name != NULL)
                json_object_set_new(s->seen, name, json_integer((json_int_t)now));
        }
    }
    for (size_t i = 0; i < N_CTRLS; i++)
        if (all_ctrls[i]->start != NULL)
            all_ctrls[i]->start(s, all_ctrls[i]);
    /* every cached object once, as an ADDED event: a new leader looks at
     * everything, so a rollout or a scale half done by the old one goes on */
    for (int k = 0; k < SK__COUNT && s->leading; k++) {
        const char *key;
        json_t *obj;
        json_object_foreach (s->inf[k].objs, key, obj)
            deliver(s, k, key, NULL, obj);
    }
    if (!s->leading)
        return;
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    LOG_INFO("sched", "started", "epoch=%llu pods=%zu nodes=%zu warmup_ms=%llu",
             (unsigned long long)s->epoch, json_object_size(s->inf[SK_POD].objs),
             json_object_size(s->inf[SK_NODE].objs),
             (unsigned long long)(now - s->leading_since_ms));
    kick(s);
}

/* One warm-up turn: the next pages of the informers still listing. */
static void on_warm(uv_timer_t *t)
{
    struct sched *s = t->data;
    size_t budget = WARM_BUDGET;
    struct err e;
    if (!s->leading || s->warm)
        return;
    for (int k = 0; k < SK__COUNT && budget > 0; k++) {
        while (s->inf[k].listing && budget > 0) {
            if (!informer_page(&s->inf[k], &budget, &e)) {
                LOG_ERROR("sched", "start_failed", "kind=%s err=\"%s\"", kind_names[k], e.msg);
                stop_leading(s);
                return;
            }
        }
    }
    for (int k = 0; k < SK__COUNT; k++)
        if (s->inf[k].listing) {
            /* 1 ms, not 0: libuv 1.44 runs a 0 ms timer started from its own
             * callback again in the same loop iteration, before any I/O, so
             * "the next turn" would be at once and the pages one long block */
            uv_timer_start(&s->kick, on_warm, NEXT_TURN_MS, 0);
            return;
        }
    finish_start(s);
}

static void start_leading(struct sched *s)
{
    struct err e;
    uint64_t now = sched__now_ms(s);
    if (s->leading || s->closing)
        return;
    s->leading = true;
    s->warm = false;
    s->epoch++;
    s->leading_since_ms = now;
    /* a new leader grants every node a full grace period */
    json_object_clear(s->seen);
    for (size_t i = 0; i < N_CTRLS; i++)
        all_ctrls[i]->queue__ = json_object();
    for (int k = 0; k < SK__COUNT; k++) {
        if (informer_start(s, &s->inf[k], &e) != 0) {
            LOG_ERROR("sched", "start_failed", "kind=%s err=\"%s\"", kind_names[k], e.msg);
            stop_leading(s);
            return;
        }
    }
    /* the kick timer is free until the controllers start */
    uv_timer_start(&s->kick, on_warm, 0, 0);
}

static void on_leader(void *data, bool leader)
{
    struct sched *s = data;
    if (leader)
        start_leading(s);
    else
        stop_leading(s);
}

/* ---- writes ---- */

struct write {
    struct cons_propose req; /* first: the callback casts back */
    struct sched *s;
    struct sched_ctrl *c;
    uint64_t epoch;
    int kind;
    char *owner_uid;
    char *requeue_key;
    bool is_create, is_delete;
    char key[STORE_KEY_MAX + 1];
};

static void write_free(struct write *w)
{
    free(w->owner_uid);
    free(w->requeue_key);
    free(w);
}

static void write_done(struct write *w)
{
    struct sched *s = w->s;
    write_free(w);
    if (--s->writes == 0 && s->handles_closed && !s->status_busy)
        sched_free(s);
}

static void on_written(struct cons_propose *req, int status)
{
    struct write *w = (struct write *)req;
    struct sched *s = w->s;
    bool current = s->leading && w->epoch == s->epoch;
    bool failed = status != 0 || req->result.failed_cmp >= 0;
    if (current && failed) {
        if (status != 0)
            LOG_WARN("sched", "write_failed", "ctrl=%s key=%s err=\"%s\"", w->c->name, w->key,
                     req->err.msg);
        if (w->is_create)
            settle(s, w->owner_uid, -1, 0);
        else if (w->is_delete)
            settle(s, w->owner_uid, 0, -1);
        if (w->requeue_key != NULL)
            sched__enqueue_after(s, w->c, w->requeue_key, status != 0 ? 500 : 0);
    }
    write_done(w);
}

static int propose(struct sched *s, struct write *w, int cmp_kind, uint64_t mod_rev,
                   const json_t *obj)
{
    struct store_cmp cmp = {cmp_kind, w->key, mod_rev};
    struct store_op op = {obj ? STORE_OP_PUT : STORE_OP_DELETE, w->key, NULL, 0};
    struct store_txn txn = {&cmp, 1, &op, 1};
    void *value = NULL;
    size_t len = 0;
    struct err e;
    int rv;
    if (obj != NULL) {
        rv = api_object_encode(obj, &value, &len, &e);
        if (rv != 0) {
            LOG_WARN("sched", "encode_failed", "ctrl=%s key=%s err=\"%s\"", w->c->name, w->key,
                     e.msg);
            return rv;
        }
        op.value = value;
        op.value_len = len;
    }
    w->req.data = w;
    rv = cons_propose(s->cons, &w->req, &txn, 10000, on_written);
    free(value);
    if (rv == 0)
        s->writes++;
    if (rv != 0)
        LOG_WARN("sched", "propose_failed", "ctrl=%s key=%s err=\"%s\"", w->c->name, w->key,
                 w->req.err.msg);
    return rv;
}

static struct write *write_new(struct sched *s, struct sched_ctrl *c, int kind,
                               const char *owner_uid, const char *requeue_key)
{
    struct write *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->s = s;
    w->c = c;
    w->kind = kind;
    w->epoch = s->epoch;
    w->owner_uid = owner_uid ? strdup(owner_uid) : NULL;
    w->requeue_key = requeue_key ? strdup(requeue_key) : NULL;
    return w;
}

int sched__create(struct sched *s, struct sched_ctrl *c, int kind, const char *ns, json_t *obj,
                  const char *owner_uid, const char *requeue_key)
{
    const struct api_kind *k = sched__kind(kind);
    struct write *w;
    struct err e;
    int rv = api_object_prepare_create(k, ns, obj, &e);
    if (rv != 0) {
        LOG_WARN("sched", "invalid_object", "ctrl=%s kind=%s err=\"%s\"", c->name, k->kind, e.msg);
        json_decref(obj);
        return rv;
    }
    w = write_new(s, c, kind, owner_uid, requeue_key);
    if (w == NULL || sched__key(kind, obj, w->key, sizeof w->key) != 0) {
        free(w);
        json_decref(obj);
        return ERR_NOMEM;
    }
    w->is_create = true;
    sched__expect(s, c, owner_uid, requeue_key, 1, 0);
    rv = propose(s, w, STORE_CMP_ABSENT, 0, obj);
    json_decref(obj);
    if (rv != 0) {
        settle(s, owner_uid, -1, 0);
        write_free(w);
    }
    return rv;
}

static uint64_t rv_of(const json_t *obj)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    return rv ? strtoull(rv, NULL, 10) : 0;
}

int sched__update(struct sched *s, struct sched_ctrl *c, int kind, const json_t *old, json_t *obj,
                  const char *requeue_key)
{
    const struct api_kind *k = sched__kind(kind);
    struct write *w;
    struct err e;
    json_t *full_old = NULL;
    int rv;
    if (metadata_only(kind)) {
        json_t *full_new;
        rv = slim_rehydrate(s, kind, old, obj, &full_old, &full_new, &e);
        if (rv != 0) {
            LOG_INFO("sched", "update_skipped", "ctrl=%s kind=%s err=\"%s\"", c->name, k->kind,
                     e.msg);
            return rv;
        }
        obj = full_new;
        old = full_old;
    }
    rv = api_object_prepare_update(k, old, obj, &e);
    if (rv != 0) {
        LOG_WARN("sched", "invalid_update", "ctrl=%s kind=%s err=\"%s\"", c->name, k->kind, e.msg);
        json_decref(obj);
        json_decref(full_old);
        return rv;
    }
    w = write_new(s, c, kind, NULL, requeue_key);
    if (w == NULL || sched__key(kind, old, w->key, sizeof w->key) != 0) {
        free(w);
        json_decref(obj);
        json_decref(full_old);
        return ERR_NOMEM;
    }
    rv = propose(s, w, STORE_CMP_MOD_REV, rv_of(old), obj);
    json_decref(obj);
    json_decref(full_old);
    if (rv != 0)
        write_free(w);
    return rv;
}

int sched__delete(struct sched *s, struct sched_ctrl *c, int kind, const json_t *old,
                  const char *owner_uid, bool force, const char *requeue_key)
{
    const json_t *meta = json_object_get(old, "metadata");
    const char *phase = json_string_value(json_object_get(json_object_get(old, "status"), "phase"));
    bool graceful =
        json_array_size(json_object_get(meta, "finalizers")) > 0 ||
        (kind == SK_POD &&
         json_string_length(json_object_get(json_object_get(old, "spec"), "nodeName")) > 0 &&
         !(phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)));
    struct write *w;
    int rv;
    if (json_object_get(meta, "deletionTimestamp") != NULL && !force)
        return 0; /* already on its way */
    w = write_new(s, c, kind, owner_uid, requeue_key);
    if (w == NULL || sched__key(kind, old, w->key, sizeof w->key) != 0) {
        free(w);
        return ERR_NOMEM;
    }
    w->is_delete = true;
    sched__expect(s, c, owner_uid, requeue_key, 0, 1);
    if (graceful && !force) {
        json_t *obj = json_deep_copy(old), *m = json_object_get(obj, "metadata");
        char now[21];
        json_int_t grace = 0;
        sched__now_rfc3339(s, now);
        if (kind == SK_POD) {
            json_t *g =
                json_object_get(json_object_get(obj, "spec"), "terminationGracePeriodSeconds");
            grace = json_is_integer(g) ? json_integer_value(g) : 30;
        }
        json_object_set_new(m, "deletionTimestamp", json_string(now));
        json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(grace));
        json_object_del(m, "resourceVersion");
        rv = propose(s, w, STORE_CMP_MOD_REV, rv_of(old), obj);
        json_decref(obj);
    } else {
        rv = propose(s, w, STORE_CMP_MOD_REV, rv_of(old), NULL);
    }
    if (rv != 0) {
        settle(s, owner_uid, 0, -1);
        write_free(w);
    }
    return rv;
}

/* ---- lifecycle ---- */

int sched_new(uv_loop_t *loop, struct cons *c, const struct sched_config *cfg, struct sched **out,
              struct err *e)
{
    struct sched *s = calloc(1, sizeof *s);
    int rv;
    if (s == NULL)
        return err_setf(e, ERR_NOMEM, "sched: out of memory");
    s->loop = loop;
    s->cons = c;
    s->store = cons_store(c);
    if (cfg != NULL)
        s->cfg = *cfg;
    if (s->cfg.node_grace_ms == 0)
        s->cfg.node_grace_ms = SCHED_NODE_GRACE_MS;
    if (s->cfg.pod_eviction_ms == 0)
        s->cfg.pod_eviction_ms = SCHED_POD_EVICTION_MS;
    s->owned = json_object();
    s->expects = json_object();
    s->seen = json_object();
    for (int k = 0; k < SK__COUNT; k++) {
        const struct api_kind *ak = sched__kind(k);
        s->inf[k].s = s;
        s->inf[k].kind = k;
        s->inf[k].k = ak;
        snprintf(s->inf[k].prefix, sizeof s->inf[k].prefix, "/registry/%s/", ak->store_name);
    }
    uv_timer_init(loop, &s->kick);
    uv_timer_init(loop, &s->tick);
    s->kick.data = s->tick.data = s;
    s->open_handles = 2;
    rv = cons_on_leader(c, on_leader, s);
    if (rv != 0 || s->owned == NULL || s->expects == NULL || s->seen == NULL) {
        /* handles are open: close through the normal path */
        *out = NULL;
        sched_close(s, NULL, NULL);
        return err_setf(e, rv ? rv : ERR_NOMEM, "sched: cannot subscribe to leadership");
    }
    *out = s;
    return 0;
}

static void sched_free(struct sched *s)
{
    json_decref(s->owned);
    json_decref(s->expects);
    json_decref(s->seen);
    free(s->delayed);
    free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct sched *s = h->data;
    void (*cb)(void *);
    void *data;
    if (--s->open_handles > 0)
        return;
    cb = s->close_cb;
    data = s->close_data;
    s->handles_closed = true;
    if (s->writes == 0 && !s->status_busy)
        sched_free(s);
    if (cb != NULL)
        cb(data);
}

void sched_close(struct sched *s, void (*cb)(void *data), void *data)
{
    s->closing = true;
    cons_off_leader(s->cons, on_leader, s);
    stop_leading(s);
    s->close_cb = cb;
    s->close_data = data;
    uv_close((uv_handle_t *)&s->kick, on_handle_closed);
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
}

/* ---- helpers for controllers ---- */

static bool expr_matches(const json_t *expr, const json_t *labels)
{
    const char *key = json_string_value(json_object_get(expr, "key"));
    const char *op = json_string_value(json_object_get(expr, "operator"));
    const json_t *values = json_object_get(expr, "values");
    const char *have = key ? json_string_value(json_object_get(labels, key)) : NULL;
    bool in = false;
    size_t i;
    json_t *v;
    if (key == NULL || op == NULL)
        return false;
    json_array_foreach (values, i, v)
        if (have != NULL && json_is_string(v) && strcmp(json_string_value(v), have) == 0)
            in = true;
    if (strcmp(op, "In") == 0)
        return in;
    if (strcmp(op, "NotIn") == 0)
        return !in;
    if (strcmp(op, "Exists") == 0)
        return have != NULL;
    if (strcmp(op, "DoesNotExist") == 0)
        return have == NULL;
    return false;
}

bool sched__selector_matches(const json_t *selector, const json_t *labels, bool empty_matches)
{
    const json_t *ml = json_object_get(selector, "matchLabels");
    const json_t *me = json_object_get(selector, "matchExpressions");
    const char *k;
    json_t *v;
    size_t i;
    if (json_object_size(ml) == 0 && json_array_size(me) == 0)
        return empty_matches;
    json_object_foreach ((json_t *)ml, k, v) {
        const char *have = json_string_value(json_object_get(labels, k));
        if (have == NULL || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0)
            return false;
    }
    json_array_foreach (me, i, v)
        if (!expr_matches(v, labels))
            return false;
    return true;
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
        const char *st = json_string_value(json_object_get(c, "status"));
        if (t && st && strcmp(t, "Ready") == 0)
            return strcmp(st, "True") == 0;
    }
    return false;
}

json_t *sched__owner_ref(const json_t *owner, int owner_kind)
{
    const struct api_kind *k = sched__kind(owner_kind);
    const json_t *meta = json_object_get(owner, "metadata");
    char apiv[64];
    api_kind_api_version(k, apiv, sizeof apiv);
    return json_pack("{s:s, s:s, s:O, s:O, s:b, s:b}", "apiVersion", apiv, "kind", k->kind, "name",
                     json_object_get(meta, "name"), "uid", json_object_get(meta, "uid"),
                     "controller", 1, "blockOwnerDeletion", 1);
}

json_t *sched__pod_from_template(const json_t *tmpl, const json_t *owner, int owner_kind,
                                 const char *generate_name)
{
    json_t *tm = json_object_get(tmpl, "metadata");
    json_t *pod =
        json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", "v1", "kind", "Pod", "metadata",
                  "generateName", generate_name, "spec",
                  json_object_get(tmpl, "spec") ? json_object_get(tmpl, "spec") : json_null());
    json_t *meta;
    if (pod == NULL)
        return NULL;
    meta = json_object_get(pod, "metadata");
    if (json_object_get(tm, "labels") != NULL)
        json_object_set_new(meta, "labels", json_deep_copy(json_object_get(tm, "labels")));
    if (json_object_get(tm, "annotations") != NULL)
        json_object_set_new(meta, "annotations",
                            json_deep_copy(json_object_get(tm, "annotations")));
    json_object_set_new(pod, "spec", json_deep_copy(json_object_get(tmpl, "spec")));
    json_object_set_new(meta, "ownerReferences",
                        json_pack("[o]", sched__owner_ref(owner, owner_kind)));
    return pod;
}
