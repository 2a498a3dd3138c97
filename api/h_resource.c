/* REST verbs on every kind of api/kinds.c: get/list/watch from the local
 * replica, create/update/patch/delete as one conditional store txn proposed
 * through consensus.
 *
 * A write reads the stored object, builds the new one (decode checks of
 * api/schema.c, defaults and validation of api/validate.c, system fields
 * here) and proposes it with a MOD_REV compare on the revision it read, so
 * nothing written in between is lost. When that compare fails and the
 * client did not pin a resourceVersion, the whole write is redone on the
 * newer object (the apiserver's GuaranteedUpdate loop); with a pinned
 * resourceVersion it is a 409 Conflict. An update that changes nothing is
 * not written at all and keeps its resourceVersion, as in Kubernetes: that
 * is what lets `apply` say "unchanged". */
#include "api/internal.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/netconf.h"
#include "api/patch.h"
#include "api/schema.h"
#include "api/validate.h"
#include "lib/log.h"

#define WRITE_ATTEMPTS_MAX 8
#define API_ALLOC_MAX      17 /* a ClusterIP + 16 node ports per Service */
#define ALLOC_PREFIX       "/skiff/alloc/"
#define NODEPORT_MIN       30000
#define NODEPORT_MAX       32767
#define SEGS_MAX           8

/* What a URL names. ns: NULL for cluster-scoped kinds and all-namespace
 * lists. name NULL for a collection. sub: NULL, "status" or "scale". */
struct target {
    const struct api_kind *k;
    const char *ns, *name, *sub;
    char qres[96]; /* "deployments.apps": the apiserver's qualified resource in messages */
};

static bool query_true(const struct api_req *r, const char *key)
{
    const char *v = api_req_query(r, key);
    return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return ERR_INVALID;
    v = strtoull(s, &end, 10);
    if (*end != '\0')
        return ERR_INVALID;
    *out = v;
    return 0;
}

/* Splits r->path into the target. Replies 404 and returns false when the
 * path names nothing we serve. */
static bool parse_target(struct api_req *r, struct target *t)
{
    char *copy = api_req_strdup(r, r->path), *save = NULL, *seg;
    const char *segs[SEGS_MAX + 1];
    const char *group = "";
    size_t n = 0, i = 0;

    memset(t, 0, sizeof *t);
    if (copy == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return false;
    }
    for (seg = strtok_r(copy, "/", &save); seg != NULL; seg = strtok_r(NULL, "/", &save)) {
        if (n == SEGS_MAX)
            goto not_found;
        segs[n++] = seg;
    }
    /* /api/v1/... or /apis/<group>/<version>/... */
    if (n >= 2 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0) {
        i = 2;
    } else if (n >= 3 && strcmp(segs[0], "apis") == 0) {
        group = segs[1];
        i = 3;
    } else {
        goto not_found;
    }
    if (n - i >= 3 && strcmp(segs[i], "namespaces") == 0 &&
        api_kind_by_resource(group, segs[i + 2]) != NULL &&
        api_kind_by_resource(group, segs[i + 2])->namespaced) {
        t->ns = segs[i + 1];
        i += 2;
    }
    if (i >= n)
        goto not_found;
    t->k = api_kind_by_resource(group, segs[i]);
    if (t->k == NULL || strcmp(t->k->version, segs[i - 1 - (t->ns ? 2 : 0)]) != 0)
        goto not_found;
    if (t->k->namespaced && t->ns == NULL && n - i > 1)
        goto not_found; /* /api/v1/pods/x: a namespaced object needs its namespace */
    if (n - i >= 2)
        t->name = segs[i + 1];
    if (n - i == 3)
        t->sub = segs[i + 2];
    if (n - i > 3)
        goto not_found;
    snprintf(t->qres, sizeof t->qres, "%s%s%s", t->k->resource, t->k->group[0] ? "." : "",
             t->k->group);
    if (t->sub != NULL && strcmp(t->sub, "log") == 0 && strcmp(t->k->kind, "Pod") == 0 &&
        t->name != NULL)
        return true;
    if (t->sub != NULL &&
        !((strcmp(t->sub, "status") == 0 && (t->k->subresources & API_SUB_STATUS)) ||
          (strcmp(t->sub, "scale") == 0 && (t->k->subresources & API_SUB_SCALE))))
        goto not_found;
    return true;
not_found:
    api_reply_status(r, 404, "NotFound", "the server could not find the requested resource");
    return false;
}

static int list_prefix(const struct api_kind *k, const char *ns, char *buf, size_t size)
{
    int n = ns ? snprintf(buf, size, "/registry/%s/%s/", k->store_name, ns)
               : snprintf(buf, size, "/registry/%s/", k->store_name);
    return n < 0 || (size_t)n >= size ? ERR_INVALID : 0;
}

/* ---- list ---- */

struct page {
    json_t *items;
    uint64_t rev;
    char *last_key; /* last key examined, when more remain */
};

struct filter {
    struct api_selector sel;
    struct api_fieldsel fsel;
};

static bool filter_matches(const struct filter *f, const json_t *obj)
{
    return api__selector_matches(&f->sel,
                                 json_object_get(json_object_get(obj, "metadata"), "labels")) &&
           api__fieldsel_matches(&f->fsel, obj);
}

/* Reads up to limit matching objects after start (limit 0 = all). With a
 * selector the store is read in chunks until enough match, as the
 * apiserver does over etcd, so a page is never short just because some
 * objects did not match. */
static int read_page(struct api_req *r, const char *prefix, const char *start, size_t limit,
                     const struct filter *f, struct page *pg, struct err *e)
{
    char *after = start ? strdup(start) : NULL;
    size_t got = 0;
    bool first = true;
    int rv = 0;

    pg->rev = 0;
    pg->items = json_array();
    pg->last_key = NULL;
    if (pg->items == NULL || (start && after == NULL)) {
        free(after);
        return err_setf(e, ERR_NOMEM, "list: out of memory");
    }
    for (;;) {
        struct store_list l;
        size_t i;
        rv = store_range(r->store, prefix, after, limit ? limit - got : 0, &l, e);
        if (rv != 0)
            break;
        if (first)
            pg->rev = l.rev;
        first = false;
        for (i = 0; i < l.n; i++) {
            json_t *obj;
            struct err de;
            if (api__object_decode(l.kvs[i].value, l.kvs[i].value_len, l.kvs[i].mod_rev, &obj,
                                   &de) != 0) {
                LOG_WARN("api", "bad_stored_object", "key=%s err=\"%s\"", l.kvs[i].key, de.msg);
                continue;
            }
            if (filter_matches(f, obj)) {
                json_array_append_new(pg->items, obj);
                got++;
            } else {
                json_decref(obj);
            }
        }
        free(after);
        after = l.n > 0 ? strdup(l.kvs[l.n - 1].key) : NULL;
        if (!l.more || limit == 0) {
            store_list_close(&l);
            free(after);
            after = NULL;
            break;
        }
        store_list_close(&l);
        if (got >= limit)
            break;
    }
    if (rv != 0) {
        free(after);
        json_decref(pg->items);
        return rv;
    }
    pg->last_key = after;
    return 0;
}

/* ---- read consistency (Kubernetes semantics) ----
 * resourceVersion unset: the most recent data (a quorum read: a raft barrier
 * first, so a write acknowledged by any node is visible here). "0": whatever
 * this replica has. N: data at least as new as N (barrier only if behind).
 * Watches start from a revision and need none. */

struct read_barrier {
    bool done;
};

static void on_read_barrier(struct api_req *r, int status)
{
    struct read_barrier *rb = r->data;
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    rb->done = true;
    api__h_resource(r);
}

static bool read_now(struct api_req *r)
{
    const char *rv_s = api_req_query(r, "resourceVersion");
    struct read_barrier *rb = r->data;
    uint64_t want = 0;
    struct err e;

    if (rb != NULL && rb->done) {
        if (rv_s != NULL && parse_u64(rv_s, &want) == 0 && store_revision(r->store) < want) {
            api_reply_status(r, 504, "Timeout", "Too large resource version: %llu, current: %llu",
                             (unsigned long long)want,
                             (unsigned long long)store_revision(r->store));
            return false;
        }
        return true;
    }
    if (query_true(r, "watch"))
        return true;
    /* the jepsen switch (api/server.c): no barrier, whatever this replica has */
    bool api__unsafe_stale_reads(const struct api *a);
    if (api__unsafe_stale_reads(r->api))
        return true;
    if (rv_s != NULL && rv_s[0] != '\0') {
        if (parse_u64(rv_s, &want) != 0) {
            api_reply_status(r, 400, "BadRequest", "resourceVersion: invalid value \"%s\"", rv_s);
            return false;
        }
        if (want == 0 || store_revision(r->store) >= want)
            return true;
    }
    rb = api_req_alloc(r, sizeof *rb);
    if (rb == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return false;
    }
    r->data = rb;
    if (api_req_barrier(r, on_read_barrier, &e) != 0)
        api_reply_err(r, &e);
    return false;
}

/* kubectl get asks for a Table first; -o yaml/json and other clients do
 * not. Steals items and meta (either may be NULL). */
static void reply_table(struct api_req *r, const struct api_kind *k, json_t *items, json_t *meta)
{
    json_t *table = NULL;
    struct err e;
    int rv = items ? api__table_build(k->kind, items, meta, api_req_query(r, "includeObject"),
                                      &table, &e)
                   : err_setf(&e, ERR_NOMEM, "table: out of memory");
    json_decref(items);
    json_decref(meta);
    if (rv != 0) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_json(r, 200, table);
}

static void list(struct api_req *r, const struct target *t)
{
    char prefix[STORE_KEY_MAX + 1], rv_s[24], apiv[64];
    const char *cont = api_req_query(r, "continue");
    const char *lim = api_req_query(r, "limit");
    const char *rvm = api_req_query(r, "resourceVersionMatch");
    char *start = NULL, *tok = NULL;
    struct filter f;
    uint64_t limit = 0;
    struct page pg;
    struct err e;
    json_t *meta, *out;
    int rv;

    if (t->ns != NULL && api__dns1123_label_error(t->ns) != NULL) {
        api_reply_error(r, ERR_NOTFOUND, "namespaces \"%s\" not found", t->ns);
        return;
    }
    if (list_prefix(t->k, t->ns, prefix, sizeof prefix) != 0) {
        api_reply_status(r, 400, "BadRequest", "namespace: too long");
        return;
    }
    if (query_true(r, "watch")) {
        api__watch_serve(r, t->k, prefix);
        return;
    }
    if (rvm != NULL && rvm[0] != '\0') {
        const char *rvq = api_req_query(r, "resourceVersion");
        uint64_t want = 0;
        if (strcmp(rvm, "NotOlderThan") != 0 && strcmp(rvm, "Exact") != 0) {
            api_reply_status(r, 400, "BadRequest",
                             "resourceVersionMatch: Unsupported value: \"%s\": supported values: "
                             "\"Exact\", \"NotOlderThan\"",
                             rvm);
            return;
        }
        if (rvq == NULL || parse_u64(rvq, &want) != 0 || want == 0) {
            api_reply_status(r, 400, "BadRequest",
                             "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                             "unless resourceVersion is provided");
            return;
        }
        /* no multi-version reads: an exact past revision is gone */
        if (strcmp(rvm, "Exact") == 0 && want != store_revision(r->store)) {
            api_reply_status(r, 410, "Expired", "too old resource version: %llu (%llu)",
                             (unsigned long long)want,
                             (unsigned long long)store_revision(r->store));
            return;
        }
    }
    if (lim != NULL && lim[0] != '\0' && parse_u64(lim, &limit) != 0) {
        api_reply_status(r, 400, "BadRequest", "limit: must be a non-negative integer");
        return;
    }
    if (limit > API_LIST_LIMIT_MAX)
        limit = API_LIST_LIMIT_MAX;
    if (api__selector_parse(api_req_query(r, "labelSelector"), &f.sel, &e) != 0) {
        api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        return;
    }
    if (api__fieldsel_parse(t->k, api_req_query(r, "fieldSelector"), &f.fsel, &e) != 0) {
        api__selector_close(&f.sel);
        api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        return;
    }
    rv = 0;
    if (cont != NULL && cont[0] != '\0')
        rv = api__continue_decode(cont, prefix, &start, &e);
    if (rv == 0)
        rv = read_page(r, prefix, start, (size_t)limit, &f, &pg, &e);
    free(start);
    api__selector_close(&f.sel);
    api__fieldsel_close(&f.fsel);
    if (rv != 0) {
        if (e.code == ERR_INVALID)
            api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        else
            api_reply_err(r, &e);
        return;
    }
    if (pg.last_key != NULL && api__continue_encode(prefix, pg.last_key, &tok, &e) != 0) {
        free(pg.last_key);
        json_decref(pg.items);
        api_reply_err(r, &e);
        return;
    }
    free(pg.last_key);
    snprintf(rv_s, sizeof rv_s, "%llu", (unsigned long long)pg.rev);
    meta = json_pack("{s:s}", "resourceVersion", rv_s);
    if (tok != NULL && meta != NULL)
        json_object_set_new(meta, "continue", json_string(tok));
    free(tok);
    if (api__accept_table(r->accept)) {
        reply_table(r, t->k, pg.items, meta);
        return;
    }
    api_kind_api_version(t->k, apiv, sizeof apiv);
    out = json_pack("{s:s, s:s, s:o, s:o}", "kind", t->k->list_kind, "apiVersion", apiv, "metadata",
                    meta, "items", pg.items);
    api_reply_json(r, 200, out);
}

/* ---- get ---- */

static int read_object(struct api_req *r, const struct target *t, json_t **out, uint64_t *mod_rev,
                       struct err *e)
{
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    int rv = api_object_key(t->k->store_name, t->k->namespaced ? t->ns : NULL, t->name, key,
                            sizeof key, e);
    if (rv != 0)
        return err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", t->qres, t->name);
    rv = store_get(r->store, key, &kv, e);
    if (rv == ERR_NOTFOUND)
        return err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", t->qres, t->name);
    if (rv != 0)
        return rv;
    rv = api__object_decode(kv.value, kv.value_len, kv.mod_rev, out, e);
    if (mod_rev != NULL)
        *mod_rev = kv.mod_rev;
    store_kv_close(&kv);
    return rv;
}

/* autoscaling/v1 Scale of a Deployment or ReplicaSet (new reference). */
static json_t *scale_of(const json_t *obj)
{
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *ml =
        json_object_get(json_object_get(json_object_get(obj, "spec"), "selector"), "matchLabels");
    json_t *status = json_object_get(obj, "status");
    char sel[1024] = "";
    size_t used = 0;
    const char *key;
    json_t *v, *out;

    json_object_foreach ((json_t *)ml, key, v) {
        int n = snprintf(sel + used, sizeof sel - used, "%s%s=%s", used ? "," : "", key,
                         json_string_value(v) ? json_string_value(v) : "");
        if (n < 0 || (size_t)n >= sizeof sel - used)
            break;
        used += (size_t)n;
    }
    out = json_pack(
        "{s:s, s:s, s:{s:O*, s:O*, s:O*, s:O*, s:O*}, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale",
        "apiVersion", "autoscaling/v1", "metadata", "name", json_object_get(meta, "name"),
        "namespace", json_object_get(meta, "namespace"), "uid", json_object_get(meta, "uid"),
        "resourceVersion", json_object_get(meta, "resourceVersion"), "creationTimestamp",
        json_object_get(meta, "creationTimestamp"), "spec", "replicas",
        (json_int_t)json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas")),
        "status", "replicas", (json_int_t)json_integer_value(json_object_get(status, "replicas")),
        "selector", sel);
    return out;
}

static void get(struct api_req *r, const struct target *t)
{
    json_t *obj;
    struct err e;
    if (read_object(r, t, &obj, NULL, &e) != 0) {
        api_reply_err(r, &e);
        return;
    }
    if (t->sub != NULL && strcmp(t->sub, "scale") == 0) {
        json_t *sc = scale_of(obj);
        json_decref(obj);
        api_reply_json(r, 200, sc);
        return;
    }
    if (api__accept_table(r->accept)) {
        reply_table(r, t->k, json_pack("[o]", obj), NULL);
        return;
    }
    api_reply_json(r, 200, obj);
}

/* ---- writes ---- */

enum { W_CREATE = 1, W_UPDATE, W_PATCH, W_DELETE };

struct write {
    struct target t;
    int verb;
    int attempts;
    char key[STORE_KEY_MAX + 1];
    json_t *obj;      /* what is proposed (or answered) */
    json_t *old;      /* the stored object the write is based on, NULL on create */
    uint64_t old_rev; /* its mod_rev */
    bool pinned_rv;   /* the client sent a resourceVersion: no retry on conflict */
    bool removing;    /* the write deletes the key */
    bool applied;     /* server-side apply: managedFields already done */
    bool reply_scale; /* answer with the Scale, not the object */
    bool synced;      /* a read barrier ran: the local replica has every acknowledged write */
    /* Service allocations (ClusterIP, node ports) travel in the same txn:
     * claimed with a compare ABSENT on create, released on delete */
    char alloc[API_ALLOC_MAX][64];
    size_t n_alloc;
    int ok_status; /* 200 or 201 */
};

static void write_cleanup(struct api_req *r)
{
    struct write *w = r->data;
    if (w == NULL)
        return;
    json_decref(w->obj);
    json_decref(w->old);
    w->obj = w->old = NULL;
}

static void on_synced(struct api_req *r, int status)
{
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    json_decref(((struct write *)r->data)->obj);
    json_decref(((struct write *)r->data)->old);
    ((struct write *)r->data)->obj = ((struct write *)r->data)->old = NULL;
    api__h_resource(r);
}

/* Writes read the stored object from the local replica, which may trail
 * the leader by a few entries. A write that changes something is safe (its
 * MOD_REV compare fails on a stale base and it is redone), but an answer
 * that writes nothing (404, no-op, precondition or apply conflict) must not
 * come from stale data: before giving one, sync once with a read barrier
 * and redo the request. True when the barrier started (the reply comes
 * later). */
static bool sync_first(struct api_req *r, struct write *w)
{
    struct err e;
    if (w->synced)
        return false;
    w->synced = true;
    if (api_req_barrier(r, on_synced, &e) != 0) {
        api_reply_err(r, &e);
        return true;
    }
    return true;
}

static void set_rv(json_t *obj, uint64_t rev)
{
    char rv_s[24];
    snprintf(rv_s, sizeof rv_s, "%llu", (unsigned long long)rev);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv_s));
}

/* generateName: prefix + 5 characters from the apiserver's alphabet (no
 * vowels, no look-alikes). */
static int generate_name(const char *prefix, char *out, size_t size, struct err *e)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char rnd[5];
    size_t n = strlen(prefix), i;
    if (n > 253 - 5)
        n = 253 - 5;
    if (n + 6 > size)
        return err_setf(e, ERR_INVALID, "metadata.generateName: too long");
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return err_setf(e, ERR_IO, "generateName: RAND_bytes failed");
    memcpy(out, prefix, n);
    for (i = 0; i < 5; i++)
        out[n + i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
    out[n + 5] = '\0';
    return 0;
}

/* The field manager of a write: ?fieldManager, else the User-Agent's
 * program name, as the apiserver does ("kubectl-client-side-apply/v1.29"
 * -> "kubectl-client-side-apply"). */
static const char *field_manager(struct api_req *r)
{
    const char *fm = api_req_query(r, "fieldManager");
    char *ua, *slash;
    if (fm != NULL && fm[0] != '\0')
        return fm;
    ua = api_req_strdup(r, r->user_agent[0] ? r->user_agent : "unknown");
    if (ua == NULL)
        return "unknown";
    slash = strchr(ua, '/');
    if (slash != NULL)
        *slash = '\0';
    return ua;
}

static bool has_status_sub(const struct api_kind *k)
{
    return (k->subresources & API_SUB_STATUS) != 0;
}

/* Kinds whose status the user may not set on create (the apiserver's
 * PrepareForCreate resets it): workloads and Services. Nodes and
 * Namespaces keep theirs. */
static bool status_reset_on_create(const struct api_kind *k)
{
    return has_status_sub(k) && strcmp(k->kind, "Node") != 0 && strcmp(k->kind, "Namespace") != 0;
}

/* Equality ignoring resourceVersion and managedFields times: a write that
 * would store this is a no-op. */
static bool same_object(const json_t *a, const json_t *b)
{
    json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
    bool eq;
    json_t *objs[2] = {ca, cb};
    for (int i = 0; i < 2; i++) {
        json_t *meta = json_object_get(objs[i], "metadata"), *mf, *ent;
        size_t j;
        json_object_del(meta, "resourceVersion");
        mf = json_object_get(meta, "managedFields");
        json_array_foreach (mf, j, ent)
            json_object_del(ent, "time");
    }
    eq = ca != NULL && cb != NULL && json_equal(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return eq;
}

static bool spec_changed(const json_t *old, const json_t *neu)
{
    const char *key;
    json_t *v;
    /* everything but metadata and status counts as spec (ConfigMap data,
     * Secret data, Service spec...) */
    json_object_foreach ((json_t *)neu, key, v) {
        if (strcmp(key, "metadata") == 0 || strcmp(key, "status") == 0)
            continue;
        if (!json_equal(v, json_object_get(old, key)))
            return true;
    }
    json_object_foreach ((json_t *)old, key, v) {
        if (strcmp(key, "metadata") == 0 || strcmp(key, "status") == 0)
            continue;
        if (json_object_get(neu, key) == NULL)
            return true;
    }
    return false;
}

static void reply_ferrs(struct api_req *r, const struct target *t, const struct api_ferrs *fe,
                        const char *name)
{
    char *msg = api__ferrs_message(fe, t->k, name);
    if (msg == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    if (fe->decode)
        api_reply_status(r, 400, "BadRequest", "%s", msg);
    else
        api_reply_status(r, 422, "Invalid", "%s", msg);
    free(msg);
}

static int namespace_state(struct api_req *r, const char *ns, bool *terminating)
{
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    json_t *obj;
    struct err e;
    int rv;
    *terminating = false;
    if (api_object_key("namespaces", NULL, ns, key, sizeof key, &e) != 0)
        return ERR_NOTFOUND;
    rv = store_get(r->store, key, &kv, &e);
    if (rv != 0)
        return rv;
    if (api__object_decode(kv.value, kv.value_len, kv.mod_rev, &obj, &e) == 0) {
        *terminating =
            json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
        json_decref(obj);
    }
    store_kv_close(&kv);
    return 0;
}

static void propose_write(struct api_req *r, struct write *w);

/* Checks the body's kind, apiVersion, namespace and name against the URL.
 * Replies 400 and returns false on a mismatch. */
static bool identity_ok(struct api_req *r, struct write *w, json_t *obj)
{
    const struct api_kind *k = w->t.k;
    json_t *meta = json_object_get(obj, "metadata");
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *apiv = json_string_value(json_object_get(obj, "apiVersion"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    const char *name = json_string_value(json_object_get(meta, "name"));
    char want_apiv[64];

    api_kind_api_version(k, want_apiv, sizeof want_apiv);
    if (!json_is_object(obj)) {
        api_reply_status(r, 400, "BadRequest", "request body: a %s object is required", k->kind);
        return false;
    }
    if (meta != NULL && !json_is_object(meta)) {
        api_reply_status(r, 400, "BadRequest",
                         "%s in version \"%s\" cannot be handled as a %s: metadata: expected "
                         "object",
                         k->kind, k->version, k->kind);
        return false;
    }
    if (kind != NULL && kind[0] != '\0' && strcmp(kind, k->kind) != 0) {
        api_reply_status(r, 400, "BadRequest",
                         "the kind of the object (%s) does not match the kind of the URL (%s)",
                         kind, k->kind);
        return false;
    }
    if (apiv != NULL && apiv[0] != '\0' && strcmp(apiv, want_apiv) != 0) {
        api_reply_status(r, 400, "BadRequest",
                         "the API version in the data (%s) does not match the expected API "
                         "version (%s)",
                         apiv, want_apiv);
        return false;
    }
    if (k->namespaced && ns != NULL && ns[0] != '\0' && strcmp(ns, w->t.ns) != 0) {
        api_reply_status(r, 400, "BadRequest",
                         "the namespace of the provided object does not match the namespace sent "
                         "on the request");
        return false;
    }
    if (w->t.name != NULL && name != NULL && name[0] != '\0' && strcmp(name, w->t.name) != 0) {
        api_reply_status(r, 400, "BadRequest",
                         "the name of the object (%s) does not match the name on the URL (%s)",
                         name, w->t.name);
        return false;
    }
    return true;
}

/* Decode checks of a whole object against the kind's schema, per
 * ?fieldValidation. Replies and returns false on errors; warnings go to the
 * reply's headers. */
static bool decode_ok(struct api_req *r, struct write *w, json_t *obj, const char *name)
{
    const struct api_sch *sch = api__sch_kind(w->t.k);
    int mode = api__fv_parse(api_req_query(r, "fieldValidation"));
    struct api_ferrs fe;
    size_t i;
    if (mode < 0) {
        api_reply_status(r, 400, "BadRequest",
                         "fieldValidation: Unsupported value: \"%s\": supported values: "
                         "\"Ignore\", \"Strict\", \"Warn\"",
                         api_req_query(r, "fieldValidation"));
        return false;
    }
    if (sch == NULL)
        return true;
    api__ferrs_init(&fe);
    api__sch_check(sch, obj, mode, &fe);
    for (i = 0; i < fe.n_warns; i++)
        api_req_warn(r, fe.warns[i]);
    if (fe.n > 0) {
        reply_ferrs(r, &w->t, &fe, name);
        api__ferrs_close(&fe);
        return false;
    }
    api__ferrs_close(&fe);
    return true;
}

static bool valid(struct api_req *r, struct write *w, json_t *obj, const json_t *old)
{
    struct api_ferrs fe;
    api__ferrs_init(&fe);
    api__validate(w->t.k, obj, old, &fe);
    if (fe.n > 0) {
        reply_ferrs(r, &w->t, &fe,
                    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
        api__ferrs_close(&fe);
        return false;
    }
    api__ferrs_close(&fe);
    return true;
}

/* valid() without a reply */
static bool valid_quiet(struct write *w, json_t *obj, const json_t *old)
{
    struct api_ferrs fe;
    size_t n;
    api__ferrs_init(&fe);
    n = api__validate(w->t.k, obj, old, &fe);
    api__ferrs_close(&fe);
    return n == 0;
}

/* ---- Service allocations ---- */

static bool alloc_taken(struct api_req *r, const char *key)
{
    struct store_kv kv;
    struct err e;
    if (store_get(r->store, key, &kv, &e) != 0)
        return false;
    store_kv_close(&kv);
    return true;
}

static uint32_t rand_u32(void)
{
    uint32_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint32_t)rand();
    return v;
}

/* ClusterIP (unless headless or ExternalName) and node ports (NodePort and
 * LoadBalancer) for a Service being created: the ones asked for if free,
 * else random free ones, recorded in w->alloc for the txn. Freeness is read
 * from the local replica; the txn's compares make it exact (a race is
 * redone). Returns false after replying 422. */
static bool alloc_service(struct api_req *r, struct write *w, json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec"), *ports, *p;
    const char *type = json_string_value(json_object_get(spec, "type"));
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    char key[64], addr[INET_ADDRSTRLEN];
    struct api_netconf nc;
    uint32_t svc_net;
    int svc_bits;
    struct err ne;
    size_t i;

    w->n_alloc = 0;
    if (type != NULL && strcmp(type, "ExternalName") == 0)
        return true;
    /* the service CIDR chosen at init (api/netconf.h) */
    if (api_netconf_load(r->store, &nc, &ne) != 0 ||
        api_cidr_parse(nc.service_cidr, &svc_net, &svc_bits, &ne) != 0) {
        api_reply_status(r, 500, "InternalError", "service CIDR setting: %s", ne.msg);
        return false;
    }
    if (ip == NULL || strcmp(ip, "None") != 0) {
        uint32_t a = 0;
        struct in_addr in;
        if (ip != NULL && ip[0] != '\0') {
            if (inet_pton(AF_INET, ip, &in) != 1 ||
                (ntohl(in.s_addr) >> (32 - svc_bits)) != (svc_net >> (32 - svc_bits))) {
                api_reply_status(r, 422, "Invalid",
                                 "Service \"%s\" is invalid: spec.clusterIPs: Invalid value: "
                                 "[]string{\"%s\"}: failed to allocate IP %s: the provided IP "
                                 "(%s) is not in the valid range. The range of valid IPs is "
                                 "%s",
                                 name, ip, ip, ip, nc.service_cidr);
                return false;
            }
            a = ntohl(in.s_addr);
            snprintf(key, sizeof key, ALLOC_PREFIX "clusterip/%s", ip);
            if (alloc_taken(r, key)) {
                api_reply_status(r, 422, "Invalid",
                                 "Service \"%s\" is invalid: spec.clusterIPs: Invalid value: "
                                 "[]string{\"%s\"}: failed to allocate IP %s: provided IP is "
                                 "already allocated",
                                 name, ip, ip);
                return false;
            }
        } else {
            int tries;
            for (tries = 0; tries < 64; tries++) {
                /* .0 is the network, .1 kept for the "kubernetes" Service */
                a = svc_net | (2 + rand_u32() % ((1u << (32 - svc_bits)) - 3));
                in.s_addr = htonl(a);
                inet_ntop(AF_INET, &in, addr, sizeof addr);
                snprintf(key, sizeof key, ALLOC_PREFIX "clusterip/%s", addr);
                if (!alloc_taken(r, key))
                    break;
            }
            if (tries == 64) {
                api_reply_status(r, 422, "Invalid",
                                 "Service \"%s\" is invalid: spec.clusterIPs: Internal error: "
                                 "failed to allocate a serviceIP: range is full",
                                 name);
                return false;
            }
            json_object_set_new(spec, "clusterIP", json_string(addr));
            json_object_set_new(spec, "clusterIPs", json_pack("[s]", addr));
        }
        (void)a;
        snprintf(w->alloc[w->n_alloc++], sizeof w->alloc[0], "%s", key);
    }
    if (type == NULL || (strcmp(type, "NodePort") != 0 && strcmp(type, "LoadBalancer") != 0))
        return true;
    ports = json_object_get(spec, "ports");
    json_array_foreach (ports, i, p) {
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        if (w->n_alloc == API_ALLOC_MAX) {
            api_reply_status(r, 422, "Invalid",
                             "Service \"%s\" is invalid: spec.ports: Too many: %zu: must have "
                             "at most %d node ports",
                             name, json_array_size(ports), API_ALLOC_MAX - 1);
            return false;
        }
        if (np != 0) {
            snprintf(key, sizeof key, ALLOC_PREFIX "nodeport/%lld", (long long)np);
            if (alloc_taken(r, key)) {
                api_reply_status(r, 422, "Invalid",
                                 "Service \"%s\" is invalid: spec.ports[%zu].nodePort: Invalid "
                                 "value: %lld: provided port is already allocated",
                                 name, i, (long long)np);
                return false;
            }
        } else {
            int tries;
            for (tries = 0; tries < 64; tries++) {
                np = NODEPORT_MIN + (json_int_t)(rand_u32() % (NODEPORT_MAX - NODEPORT_MIN + 1));
                snprintf(key, sizeof key, ALLOC_PREFIX "nodeport/%lld", (long long)np);
                if (!alloc_taken(r, key))
                    break;
            }
            json_object_set_new(p, "nodePort", json_integer(np));
        }
        snprintf(w->alloc[w->n_alloc++], sizeof w->alloc[0], "%s", key);
    }
    return true;
}

/* What a stored Service holds, for the delete that releases it. */
static void alloc_of(const json_t *svc, struct write *w)
{
    const json_t *spec = json_object_get(svc, "spec"), *p;
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    size_t i;
    w->n_alloc = 0;
    if (ip != NULL && ip[0] != '\0' && strcmp(ip, "None") != 0)
        snprintf(w->alloc[w->n_alloc++], sizeof w->alloc[0], ALLOC_PREFIX "clusterip/%s", ip);
    json_array_foreach (json_object_get(spec, "ports"), i, p) {
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        if (np != 0 && w->n_alloc < API_ALLOC_MAX)
            snprintf(w->alloc[w->n_alloc++], sizeof w->alloc[0], ALLOC_PREFIX "nodeport/%lld",
                     (long long)np);
    }
}

/* An update keeps what was allocated: an empty clusterIP means "the same",
 * and a port without nodePort keeps the one it had (by port and protocol). */
static void alloc_keep(const json_t *old, json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec"), *p, *q;
    const json_t *ospec = json_object_get(old, "spec");
    const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
    size_t i, j;
    if (!json_is_object(spec))
        return;
    if ((ip == NULL || ip[0] == '\0') && json_object_get(ospec, "clusterIP") != NULL) {
        json_object_set(spec, "clusterIP", json_object_get(ospec, "clusterIP"));
        if (json_object_get(ospec, "clusterIPs") != NULL)
            json_object_set(spec, "clusterIPs", json_object_get(ospec, "clusterIPs"));
    }
    json_array_foreach (json_object_get(spec, "ports"), i, p) {
        if (json_object_get(p, "nodePort") != NULL)
            continue;
        json_array_foreach (json_object_get(ospec, "ports"), j, q)
            if (json_equal(json_object_get(p, "port"), json_object_get(q, "port")) &&
                json_object_get(q, "nodePort") != NULL)
                json_object_set(p, "nodePort", json_object_get(q, "nodePort"));
    }
}

/* ---- create ---- */

static void create(struct api_req *r, struct write *w, json_t *obj)
{
    const struct api_kind *k = w->t.k;
    char uid[37], now[21], gen[254], apiv[64];
    json_t *meta;
    const char *name;
    struct err e;

    if (!identity_ok(r, w, obj))
        goto fail;
    meta = json_object_get(obj, "metadata");
    if (meta == NULL) {
        meta = json_object();
        json_object_set_new(obj, "metadata", meta);
    }
    if (json_object_get(meta, "resourceVersion") != NULL &&
        !json_is_null(json_object_get(meta, "resourceVersion"))) {
        api_reply_status(r, 400, "BadRequest",
                         "resourceVersion should not be set on objects to be created");
        goto fail;
    }
    if (!decode_ok(r, w, obj, json_string_value(json_object_get(meta, "name"))))
        goto fail;
    if (k->namespaced) {
        bool terminating;
        int rv = namespace_state(r, w->t.ns, &terminating);
        if (rv == ERR_NOTFOUND) {
            api_reply_error(r, ERR_NOTFOUND, "namespaces \"%s\" not found", w->t.ns);
            goto fail;
        }
        if (rv == 0 && terminating) {
            api_reply_status(r, 403, "Forbidden",
                             "%s \"%s\" is forbidden: unable to create new content in namespace "
                             "%s because it is being terminated",
                             w->t.qres, json_string_value(json_object_get(meta, "name")), w->t.ns);
            goto fail;
        }
    }
    name = json_string_value(json_object_get(meta, "name"));
    if ((name == NULL || name[0] == '\0') &&
        json_string_length(json_object_get(meta, "generateName")) > 0) {
        if (generate_name(json_string_value(json_object_get(meta, "generateName")), gen, sizeof gen,
                          &e) != 0) {
            api_reply_err(r, &e);
            goto fail;
        }
        json_object_set_new(meta, "name", json_string(gen));
    }
    /* the proposer decides uid and time; apply replays them verbatim */
    if (api__uuid(uid, &e) != 0) {
        api_reply_err(r, &e);
        goto fail;
    }
    api__now_rfc3339(now);
    api_kind_api_version(k, apiv, sizeof apiv);
    json_object_set_new(obj, "kind", json_string(k->kind));
    json_object_set_new(obj, "apiVersion", json_string(apiv));
    if (k->namespaced)
        json_object_set_new(meta, "namespace", json_string(w->t.ns));
    else
        json_object_del(meta, "namespace");
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(now));
    json_object_del(meta, "deletionTimestamp");
    json_object_del(meta, "deletionGracePeriodSeconds");
    if (json_object_get(obj, "spec") != NULL)
        json_object_set_new(meta, "generation", json_integer(1));
    else
        json_object_del(meta, "generation");
    if (status_reset_on_create(k))
        json_object_del(obj, "status");
    api__defaults(k, obj);
    if (!valid(r, w, obj, NULL))
        goto fail;
    if (strcmp(k->kind, "Service") == 0 && !alloc_service(r, w, obj))
        goto fail;
    if (!w->applied &&
        api__managed_update(obj, NULL, field_manager(r), api__sch_kind(k), apiv, now, &e) != 0) {
        api_reply_err(r, &e);
        goto fail;
    }
    name = json_string_value(json_object_get(meta, "name"));
    if (api_object_key(k->store_name, k->namespaced ? w->t.ns : NULL, name, w->key, sizeof w->key,
                       &e) != 0) {
        api_reply_status(r, 422, "Invalid", "%s", e.msg);
        goto fail;
    }
    w->t.name = api_req_strdup(r, name);
    w->obj = obj;
    w->ok_status = 201;
    propose_write(r, w);
    return;
fail:
    json_decref(obj);
}

/* ---- update (PUT, and the end of every PATCH) ---- */

/* Builds the object an update stores from the user's new object (owned,
 * consumed) and the stored old one, per subresource. */
static void update_with(struct api_req *r, struct write *w, json_t *obj)
{
    const struct api_kind *k = w->t.k;
    json_t *meta, *old = w->old, *old_meta = json_object_get(w->old, "metadata");
    const char *rv_s;
    char now[21], apiv[64];
    uint64_t rv = 0;
    struct err e;
    bool status_only = w->t.sub != NULL && strcmp(w->t.sub, "status") == 0;

    if (!identity_ok(r, w, obj))
        goto fail;
    meta = json_object_get(obj, "metadata");
    if (meta == NULL) {
        meta = json_object();
        json_object_set_new(obj, "metadata", meta);
    }
    rv_s = json_string_value(json_object_get(meta, "resourceVersion"));
    if (rv_s != NULL && rv_s[0] != '\0') {
        if (parse_u64(rv_s, &rv) != 0) {
            api_reply_status(r, 400, "BadRequest",
                             "metadata.resourceVersion: Invalid value: \"%s\"", rv_s);
            goto fail;
        }
        if (w->verb == W_UPDATE)
            w->pinned_rv = true;
        if (rv != w->old_rev) {
            if (rv > w->old_rev && sync_first(r, w))
                goto fail;
            api_reply_status(r, 409, "Conflict",
                             "Operation cannot be fulfilled on %s \"%s\": the object has been "
                             "modified; please apply your changes to the latest version and try "
                             "again",
                             w->t.qres, w->t.name);
            goto fail;
        }
    }
    if (!decode_ok(r, w, obj, w->t.name))
        goto fail;
    api_kind_api_version(k, apiv, sizeof apiv);
    if (status_only) {
        /* only status moves; the rest is the stored object */
        json_t *neu = json_deep_copy(old), *st = json_object_get(obj, "status");
        if (neu == NULL) {
            api_reply_error(r, ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (st != NULL)
            json_object_set(neu, "status", st);
        else
            json_object_del(neu, "status");
        json_decref(obj);
        obj = neu;
        meta = json_object_get(obj, "metadata");
    } else {
        static const char *const keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                           "deletionGracePeriodSeconds", "generation"};
        json_object_set_new(obj, "kind", json_string(k->kind));
        json_object_set_new(obj, "apiVersion", json_string(apiv));
        if (k->namespaced)
            json_object_set_new(meta, "namespace", json_string(w->t.ns));
        json_object_set_new(meta, "name", json_string(w->t.name));
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            json_t *v = json_object_get(old_meta, keep[i]);
            if (v != NULL)
                json_object_set(meta, keep[i], v);
            else
                json_object_del(meta, keep[i]);
        }
        if (strcmp(k->kind, "Service") == 0)
            alloc_keep(old, obj);
        if (has_status_sub(k)) {
            json_t *st = json_object_get(old, "status");
            if (st != NULL)
                json_object_set(obj, "status", st);
            else
                json_object_del(obj, "status");
        }
        api__defaults(k, obj);
        if (spec_changed(old, obj) && json_object_get(obj, "spec") != NULL)
            json_object_set_new(
                meta, "generation",
                json_integer(json_integer_value(json_object_get(old_meta, "generation")) + 1));
    }
    json_object_del(meta, "resourceVersion");
    if (!w->synced && !valid_quiet(w, obj, old)) {
        if (sync_first(r, w))
            goto fail;
    }
    if (!valid(r, w, obj, old))
        goto fail;
    api__now_rfc3339(now);
    if (!w->applied &&
        api__managed_update(obj, old, field_manager(r), api__sch_kind(k), apiv, now, &e) != 0) {
        api_reply_err(r, &e);
        goto fail;
    }
    /* finalizers all gone from an object being deleted: it goes now */
    if (json_object_get(meta, "deletionTimestamp") != NULL &&
        json_array_size(json_object_get(meta, "finalizers")) == 0 &&
        !(strcmp(k->kind, "Namespace") == 0 &&
          json_array_size(json_object_get(json_object_get(obj, "spec"), "finalizers")) > 0))
        w->removing = true;
    json_decref(w->obj);
    w->obj = obj;
    w->ok_status = 200;
    propose_write(r, w);
    return;
fail:
    json_decref(obj);
}

/* ---- patch ---- */

/* An applied configuration with two elements of the same key in a keyed
 * list (two containers named "c") would be merged into one by apply; the
 * apiserver refuses it. Finds the first such duplicate under v (of schema
 * s); path is the field path so far. */
static bool dup_key(const struct api_sch *s, const json_t *v, const char *path, char *out,
                    size_t out_size, int depth)
{
    const char *key;
    json_t *fv;
    if (s == NULL || !json_is_object(v) || depth > 32)
        return false;
    if (s->type != API_SCH_OBJECT)
        return false;
    json_object_foreach ((json_t *)v, key, fv) {
        const struct api_sch_field *f = api__sch_field(s, key);
        char sub[512];
        size_t i, j;
        if (f == NULL || f->type == NULL)
            continue;
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", key);
        if (f->type->type == API_SCH_ARRAY && json_is_array(fv)) {
            for (i = 0; f->merge_key != NULL && i < json_array_size(fv); i++) {
                json_t *ki = json_object_get(json_array_get(fv, i), f->merge_key);
                for (j = 0; ki != NULL && j < i; j++) {
                    if (json_equal(ki, json_object_get(json_array_get(fv, j), f->merge_key))) {
                        char *txt = json_dumps(ki, JSON_ENCODE_ANY);
                        snprintf(out, out_size, "%s[%zu].%s: Duplicate value: %s", sub, i,
                                 f->merge_key, txt ? txt : "?");
                        free(txt);
                        return true;
                    }
                }
            }
            for (i = 0; i < json_array_size(fv); i++) {
                char el[512];
                snprintf(el, sizeof el, "%s[%zu]", sub, i);
                if (dup_key(f->type->elem, json_array_get(fv, i), el, out, out_size, depth + 1))
                    return true;
            }
        } else if (dup_key(f->type, fv, sub, out, out_size, depth + 1)) {
            return true;
        }
    }
    return false;
}

static bool media_is(const char *ct, const char *media)
{
    size_t n = strlen(media);
    return strncasecmp(ct, media, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void patch(struct api_req *r, struct write *w)
{
    const struct api_kind *k = w->t.k;
    const struct api_sch *sch = api__sch_kind(k);
    const char *ct = r->content_type;
    bool scale = w->t.sub != NULL && strcmp(w->t.sub, "scale") == 0;
    json_t *body, *doc;
    json_error_t je;
    struct err e;
    char apiv[64], now[21];
    int rv;

    body = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (body == NULL) {
        api_reply_status(r, 400, "BadRequest", "request body: invalid JSON: %s (line %d column %d)",
                         je.text, je.line, je.column);
        return;
    }
    doc = scale ? scale_of(w->old) : json_deep_copy(w->old);
    if (doc == NULL) {
        json_decref(body);
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    api_kind_api_version(k, apiv, sizeof apiv);
    api__now_rfc3339(now);
    if (media_is(ct, "application/merge-patch+json")) {
        rv = api__merge_patch(&doc, body, &e);
    } else if (media_is(ct, "application/json-patch+json")) {
        rv = api__json_patch(&doc, body, &e);
    } else if (media_is(ct, "application/strategic-merge-patch+json")) {
        rv = api__strategic_patch(&doc, body, scale ? NULL : sch, &e);
    } else if (media_is(ct, "application/apply-patch+yaml") && !scale) {
        const char *force = api_req_query(r, "force");
        if (api_req_query(r, "fieldManager") == NULL) {
            json_decref(body);
            json_decref(doc);
            api_reply_status(r, 422, "Invalid",
                             "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
                             "value: is required for apply patch");
            return;
        }
        char dup[600];
        if (!identity_ok(r, w, body)) {
            json_decref(body);
            json_decref(doc);
            return;
        }
        if (dup_key(sch, body, "", dup, sizeof dup, 0)) {
            json_decref(body);
            json_decref(doc);
            api_reply_status(r, 422, "Invalid", "%s%s%s \"%s\" is invalid: %s", k->kind,
                             k->group[0] ? "." : "", k->group, w->t.name, dup);
            return;
        }
        w->applied = true;
        rv = api__apply_patch(&doc, body, field_manager(r),
                              force != NULL && strcmp(force, "true") == 0, sch, apiv, now, &e);
    } else {
        json_decref(body);
        json_decref(doc);
        api_reply_status(r, 415, "UnsupportedMediaType",
                         "the body of the request was in an unknown format - accepted media types "
                         "include: application/json-patch+json, application/merge-patch+json, "
                         "application/apply-patch+yaml, application/strategic-merge-patch+json");
        return;
    }
    json_decref(body);
    if (rv != 0) {
        json_decref(doc);
        if (sync_first(r, w))
            return;
        if (rv == ERR_CONFLICT)
            api_reply_status(r, 409, "Conflict", "%s", e.msg);
        else
            api_reply_status(r, 422, "Invalid", "%s", e.msg);
        return;
    }
    if (scale) {
        json_t *neu = json_deep_copy(w->old);
        json_t *rep = json_incref(json_object_get(json_object_get(doc, "spec"), "replicas"));
        json_decref(doc);
        if (neu == NULL || !json_is_integer(rep)) {
            json_decref(neu);
            json_decref(rep);
            api_reply_status(r, 422, "Invalid",
                             "Scale.autoscaling \"%s\" is invalid: "
                             "spec.replicas: Invalid value: must be an integer",
                             w->t.name);
            return;
        }
        json_object_set_new(json_object_get(neu, "spec"), "replicas", rep);
        doc = neu;
        w->t.sub = NULL;
        w->reply_scale = true;
    }
    /* resourceVersion in a patch is a precondition; otherwise the patch
     * applies to whatever is stored now */
    w->verb = W_PATCH;
    update_with(r, w, doc);
}

/* ---- delete ---- */

static void delete_object(struct api_req *r, struct write *w, const json_t *opts)
{
    const char *policy = json_string_value(json_object_get(opts, "propagationPolicy"));
    const json_t *pre = json_object_get(opts, "preconditions");
    const char *q = api_req_query(r, "propagationPolicy");
    json_t *obj, *meta, *fin;
    char now[21];

    if (q != NULL && q[0] != '\0')
        policy = q;
    if (policy != NULL && strcmp(policy, "Orphan") != 0 && strcmp(policy, "Background") != 0 &&
        strcmp(policy, "Foreground") != 0) {
        api_reply_status(r, 422, "Invalid",
                         "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
                         "Unsupported value: \"%s\": supported values: \"Foreground\", "
                         "\"Background\", \"Orphan\", \"nil\"",
                         policy);
        return;
    }
    meta = json_object_get(w->old, "metadata");
    if (pre != NULL) {
        const char *uid = json_string_value(json_object_get(pre, "uid"));
        const char *rv = json_string_value(json_object_get(pre, "resourceVersion"));
        if (uid != NULL &&
            strcmp(uid, json_string_value(json_object_get(meta, "uid")) ?: "") != 0) {
            api_reply_status(r, 409, "Conflict",
                             "Operation cannot be fulfilled on %s \"%s\": Precondition failed: "
                             "UID in precondition: %s, UID in object meta: %s",
                             w->t.qres, w->t.name, uid,
                             json_string_value(json_object_get(meta, "uid")) ?: "");
            return;
        }
        if (rv != NULL &&
            strcmp(rv, json_string_value(json_object_get(meta, "resourceVersion")) ?: "") != 0) {
            api_reply_status(r, 409, "Conflict",
                             "Operation cannot be fulfilled on %s \"%s\": Precondition failed: "
                             "ResourceVersion in precondition: %s, ResourceVersion in object "
                             "meta: %s",
                             w->t.qres, w->t.name, rv,
                             json_string_value(json_object_get(meta, "resourceVersion")) ?: "");
            return;
        }
    }
    obj = json_deep_copy(w->old);
    if (obj == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    meta = json_object_get(obj, "metadata");
    fin = json_object_get(meta, "finalizers");
    if (policy != NULL && strcmp(policy, "Background") != 0) {
        const char *f = strcmp(policy, "Orphan") == 0 ? "orphan" : "foregroundDeletion";
        bool have = false;
        size_t i;
        json_t *v;
        if (!json_is_array(fin)) {
            fin = json_array();
            json_object_set_new(meta, "finalizers", fin);
        }
        json_array_foreach (fin, i, v)
            have = have || (json_is_string(v) && strcmp(json_string_value(v), f) == 0);
        if (!have)
            json_array_append_new(fin, json_string(f));
    }
    /* A Namespace goes through Terminating until the namespace controller
     * (sched/ctrl_gc.c) has emptied it and removed "kubernetes" from
     * spec.finalizers. */
    if (strcmp(w->t.k->kind, "Namespace") == 0) {
        json_t *st = json_object_get(obj, "status");
        if (!json_is_object(st)) {
            st = json_object();
            json_object_set_new(obj, "status", st);
        }
        json_object_set_new(st, "phase", json_string("Terminating"));
    }
    json_object_del(meta, "resourceVersion");
    /* A Pod running on a node is deleted gracefully, as the apiserver does:
     * it gets deletionTimestamp and a grace period, the node's agent stops
     * its containers (SIGTERM, grace, SIGKILL) and then removes it.
     * gracePeriodSeconds=0 (kubectl --grace-period=0 --force) skips that. */
    if (strcmp(w->t.k->kind, "Pod") == 0 &&
        json_string_length(json_object_get(json_object_get(obj, "spec"), "nodeName")) > 0) {
        const char *phase =
            json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
        const char *gq = api_req_query(r, "gracePeriodSeconds");
        json_t *go = json_object_get(opts, "gracePeriodSeconds");
        json_int_t grace = json_integer_value(
            json_object_get(json_object_get(obj, "spec"), "terminationGracePeriodSeconds"));
        if (!json_is_integer(
                json_object_get(json_object_get(obj, "spec"), "terminationGracePeriodSeconds")))
            grace = 30;
        if (json_is_integer(go))
            grace = json_integer_value(go);
        if (gq != NULL && gq[0] != '\0')
            grace = strtoll(gq, NULL, 10);
        if (grace > 0 &&
            !(phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) &&
            json_object_get(meta, "deletionTimestamp") == NULL) {
            api__now_rfc3339(now);
            json_object_set_new(meta, "deletionTimestamp", json_string(now));
            json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(grace));
            w->removing = false;
            w->ok_status = 200;
            json_decref(w->obj);
            w->obj = obj;
            propose_write(r, w);
            return;
        }
    }
    /* a Namespace also waits for spec.finalizers ("kubernetes": the
     * namespace controller empties it first) */
    if (json_array_size(json_object_get(meta, "finalizers")) > 0 ||
        (strcmp(w->t.k->kind, "Namespace") == 0 &&
         json_array_size(json_object_get(json_object_get(obj, "spec"), "finalizers")) > 0)) {
        if (json_object_get(meta, "deletionTimestamp") == NULL) {
            api__now_rfc3339(now);
            json_object_set_new(meta, "deletionTimestamp", json_string(now));
            json_object_set_new(meta, "deletionGracePeriodSeconds", json_integer(0));
        }
        w->removing = false;
        w->ok_status = 200;
    } else {
        w->removing = true;
        w->ok_status = 200;
        if (strcmp(w->t.k->kind, "Service") == 0)
            alloc_of(w->old, w);
    }
    json_decref(w->obj);
    w->obj = obj;
    propose_write(r, w);
}

/* ---- the proposal, shared by every write ---- */

static void reply_object(struct api_req *r, struct write *w, int status, json_t *obj)
{
    if (w->reply_scale)
        api_reply_json(r, status, scale_of(obj));
    else
        api_reply_json(r, status, json_incref(obj));
}

static void on_written(struct api_req *r, int status)
{
    struct write *w = r->data;
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    if (r->op.propose.result.failed_cmp >= 0) {
        if (w->verb == W_CREATE && r->op.propose.result.failed_cmp > 0 &&
            ++w->attempts < WRITE_ATTEMPTS_MAX) {
            /* an address or port was taken in between: allocate again */
            json_decref(w->obj);
            w->obj = NULL;
            api__h_resource(r);
            return;
        }
        if (w->verb == W_CREATE) {
            api_reply_status(r, 409, "AlreadyExists", "%s \"%s\" already exists", w->t.qres,
                             w->t.name);
            return;
        }
        if (w->pinned_rv || ++w->attempts >= WRITE_ATTEMPTS_MAX) {
            api_reply_status(r, 409, "Conflict",
                             "Operation cannot be fulfilled on %s \"%s\": the object has been "
                             "modified; please apply your changes to the latest version and try "
                             "again",
                             w->t.qres, w->t.name);
            return;
        }
        /* someone wrote in between: redo the write on the newer object */
        json_decref(w->obj);
        json_decref(w->old);
        w->obj = w->old = NULL;
        api__h_resource(r);
        return;
    }
    set_rv(w->obj, r->op.propose.result.rev);
    reply_object(r, w, w->ok_status, w->obj);
}

static void propose_write(struct api_req *r, struct write *w)
{
    struct store_cmp cmp[1 + API_ALLOC_MAX];
    struct store_op op[1 + API_ALLOC_MAX];
    struct store_txn txn = {cmp, 1, op, 1};
    void *value = NULL;
    size_t len = 0;
    struct err e;
    const char *dry = api_req_query(r, "dryRun");
    int rv;

    if (dry != NULL && dry[0] != '\0') {
        if (strcmp(dry, "All") != 0) {
            api_reply_status(r, 400, "BadRequest",
                             "dryRun: Unsupported value: \"%s\": supported values: \"All\"", dry);
            return;
        }
        reply_object(r, w, w->ok_status, w->obj);
        return;
    }
    if (w->verb != W_CREATE && !w->removing && w->old != NULL && same_object(w->old, w->obj)) {
        if (sync_first(r, w))
            return;
        /* nothing changes: no write, the resourceVersion stays */
        reply_object(r, w, 200, w->old);
        return;
    }
    if (w->verb == W_CREATE)
        cmp[0] = (struct store_cmp){STORE_CMP_ABSENT, w->key, 0};
    else
        cmp[0] = (struct store_cmp){STORE_CMP_MOD_REV, w->key, w->old_rev};
    if (w->removing) {
        op[0] = (struct store_op){STORE_OP_DELETE, w->key, NULL, 0};
    } else {
        rv = api_object_encode(w->obj, &value, &len, &e);
        if (rv != 0) {
            api_reply_err(r, &e);
            return;
        }
        op[0] = (struct store_op){STORE_OP_PUT, w->key, value, len};
    }
    /* allocations: claimed (absent, then put) with a create, released with
     * a delete */
    for (size_t i = 0; i < w->n_alloc; i++) {
        if (w->verb == W_CREATE) {
            cmp[txn.n_cmps++] = (struct store_cmp){STORE_CMP_ABSENT, w->alloc[i], 0};
            op[txn.n_ops++] = (struct store_op){STORE_OP_PUT, w->alloc[i], w->key, strlen(w->key)};
        } else if (w->removing) {
            op[txn.n_ops++] = (struct store_op){STORE_OP_DELETE, w->alloc[i], NULL, 0};
        }
    }
    rv = api_req_propose(r, &txn, on_written, &e);
    free(value); /* cons_propose encoded the txn */
    if (rv != 0)
        api_reply_err(r, &e);
}

/* ---- dispatch ---- */

static json_t *body_json(struct api_req *r)
{
    json_error_t je;
    json_t *j;
    if (r->body == NULL || r->body_len == 0) {
        api_reply_status(r, 400, "BadRequest", "request body: an object is required");
        return NULL;
    }
    j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        api_reply_status(r, 400, "BadRequest", "request body: invalid JSON: %s (line %d column %d)",
                         je.text, je.line, je.column);
    return j;
}

static void write_dispatch(struct api_req *r, struct write *w)
{
    const char *m = r->method;
    struct err e;
    json_t *body;

    if (strcmp(m, "POST") == 0) {
        if (w->t.name != NULL) {
            api_reply_status(r, 405, "MethodNotAllowed",
                             "the server does not allow this method on the requested resource");
            return;
        }
        w->verb = W_CREATE;
        if ((body = body_json(r)) != NULL)
            create(r, w, body);
        return;
    }
    if (w->t.name == NULL) {
        api_reply_status(r, 405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource");
        return;
    }
    w->verb = strcmp(m, "PUT") == 0      ? W_UPDATE
              : strcmp(m, "PATCH") == 0  ? W_PATCH
              : strcmp(m, "DELETE") == 0 ? W_DELETE
                                         : 0;
    if (w->verb == 0) {
        api_reply_status(r, 405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource");
        return;
    }
    if (api_object_key(w->t.k->store_name, w->t.k->namespaced ? w->t.ns : NULL, w->t.name, w->key,
                       sizeof w->key, &e) != 0 ||
        read_object(r, &w->t, &w->old, &w->old_rev, &e) != 0) {
        if (e.code == ERR_NOTFOUND && sync_first(r, w))
            return;
        if (e.code == ERR_NOTFOUND && w->verb == W_PATCH &&
            media_is(r->content_type, "application/apply-patch+yaml") && w->t.sub == NULL) {
            /* server-side apply creates what is not there yet */
            json_t *doc = NULL, *applied = body_json(r);
            char apiv[64], now[21], dup[600];
            if (applied == NULL)
                return;
            if (api_req_query(r, "fieldManager") == NULL) {
                json_decref(applied);
                api_reply_status(r, 422, "Invalid",
                                 "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
                                 "Required value: is required for apply patch");
                return;
            }
            api_kind_api_version(w->t.k, apiv, sizeof apiv);
            api__now_rfc3339(now);
            if (dup_key(api__sch_kind(w->t.k), applied, "", dup, sizeof dup, 0)) {
                json_decref(applied);
                api_reply_status(r, 422, "Invalid", "%s%s%s \"%s\" is invalid: %s", w->t.k->kind,
                                 w->t.k->group[0] ? "." : "", w->t.k->group, w->t.name, dup);
                return;
            }
            if (api__apply_patch(&doc, applied, field_manager(r), true, api__sch_kind(w->t.k), apiv,
                                 now, &e) != 0) {
                json_decref(applied);
                api_reply_status(r, 422, "Invalid", "%s", e.msg);
                return;
            }
            json_decref(applied);
            w->verb = W_CREATE;
            w->applied = true;
            if (json_is_object(json_object_get(doc, "metadata")))
                json_object_set_new(json_object_get(doc, "metadata"), "name",
                                    json_string(w->t.name));
            create(r, w, doc);
            return;
        }
        api_reply_err(r, &e);
        return;
    }
    switch (w->verb) {
    case W_UPDATE:
        if ((body = body_json(r)) == NULL)
            return;
        if (w->t.sub != NULL && strcmp(w->t.sub, "scale") == 0) {
            json_t *rep = json_incref(json_object_get(json_object_get(body, "spec"), "replicas"));
            json_t *neu = json_deep_copy(w->old);
            json_t *rv_j =
                json_incref(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
            const char *rv_s = json_string_value(rv_j);
            json_decref(body);
            if (neu == NULL || !json_is_integer(rep)) {
                json_decref(neu);
                json_decref(rep);
                json_decref(rv_j);
                api_reply_status(r, 422, "Invalid",
                                 "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid "
                                 "value: must be an integer",
                                 w->t.name);
                return;
            }
            json_object_set_new(json_object_get(neu, "spec"), "replicas", rep);
            if (rv_s != NULL)
                json_object_set_new(json_object_get(neu, "metadata"), "resourceVersion",
                                    json_string(rv_s));
            else
                json_object_del(json_object_get(neu, "metadata"), "resourceVersion");
            json_decref(rv_j);
            /* update the parent, answer a Scale */
            w->t.sub = NULL;
            w->reply_scale = true;
            update_with(r, w, neu);
            return;
        }
        update_with(r, w, body);
        return;
    case W_PATCH:
        patch(r, w);
        return;
    case W_DELETE: {
        json_t *opts = NULL;
        if (r->body_len > 0 && (opts = body_json(r)) == NULL)
            return;
        delete_object(r, w, opts);
        json_decref(opts);
        return;
    }
    }
}

bool api__is_admin(struct api_req *r)
{
    if (strcmp(r->identity, "admin") == 0)
        return true;
    api_reply_status(r, 403, "Forbidden", "User \"%s\" cannot use %s %s", r->identity, r->method,
                     r->path);
    return false;
}

/* Authorization. The admin may do anything. A node (its own certificate,
 * identity system:node:NAME) reads everything and writes what an agent
 * writes: Pods and their status, its Node, Leases and Endpoints. */
static bool allowed(struct api_req *r, const struct target *t)
{
    static const char *const node_writes[] = {"Pod", "Node", "Lease", "Endpoints"};
    const char *verb;
    if (strcmp(r->identity, "admin") == 0)
        return true;
    if (strncmp(r->identity, "system:node:", 12) == 0) {
        if (strcmp(r->method, "GET") == 0)
            return true;
        for (size_t i = 0; i < sizeof node_writes / sizeof node_writes[0]; i++)
            if (strcmp(t->k->kind, node_writes[i]) == 0)
                return true;
    }
    verb = strcmp(r->method, "POST") == 0     ? "create"
           : strcmp(r->method, "PUT") == 0    ? "update"
           : strcmp(r->method, "PATCH") == 0  ? "patch"
           : strcmp(r->method, "DELETE") == 0 ? "delete"
           : t->name != NULL                  ? "get"
                                              : "list";
    if (t->ns != NULL)
        api_reply_status(r, 403, "Forbidden",
                         "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                         "\"%s\" in the namespace \"%s\"",
                         t->qres, r->identity, verb, t->k->resource, t->k->group, t->ns);
    else
        api_reply_status(r, 403, "Forbidden",
                         "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group "
                         "\"%s\" at the cluster scope",
                         t->qres, r->identity, verb, t->k->resource, t->k->group);
    return false;
}

void api__h_resource(struct api_req *r)
{
    struct target t;
    struct write *w;

    if (!parse_target(r, &t) || !allowed(r, &t))
        return;
    if (t.sub != NULL && strcmp(t.sub, "log") == 0) {
        if (strcmp(r->method, "GET") != 0)
            api_reply_status(r, 405, "MethodNotAllowed",
                             "the server does not allow this method on the requested resource");
        else
            api__pod_log(r, t.ns, t.name);
        return;
    }
    if (strcmp(r->method, "GET") == 0) {
        if (!read_now(r))
            return;
        if (t.name == NULL)
            list(r, &t);
        else
            get(r, &t);
        return;
    }
    w = r->data;
    if (w == NULL) {
        w = api_req_alloc(r, sizeof *w);
        if (w == NULL) {
            api_reply_error(r, ERR_NOMEM, "out of memory");
            return;
        }
        r->data = w;
        r->cleanup = write_cleanup;
    }
    w->t = t;
    w->removing = w->applied = w->reply_scale = false;
    w->n_alloc = 0;
    write_dispatch(r, w);
}
