/* REST verbs on stored kinds (ConfigMap, Node): get/list from the local
 * replica, create/update/delete as one conditional store txn proposed
 * through consensus. The compare carries Kubernetes' optimistic
 * concurrency: ABSENT for create (409 AlreadyExists), MOD_REV when the
 * client sent a resourceVersion (409 Conflict), EXISTS otherwise (404). */
#include "api/internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

struct kind {
    const char *kind;
    const char *list_kind;
    const char *resource;   /* plural in URLs and messages */
    const char *store_name; /* /registry/<store_name>/ */
    bool namespaced;
};

static const struct kind configmaps = {"ConfigMap", "ConfigMapList", "configmaps", "configmaps",
                                       true};
static const struct kind nodes = {"Node", "NodeList", "nodes", "minions", false};

/* State a write keeps across its proposal; lives in the request arena. */
struct write {
    const struct kind *k;
    char key[STORE_KEY_MAX + 1];
    const char *name;
    bool has_rv;
    void *value;
    size_t value_len;
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

static int list_prefix(const struct kind *k, const char *ns, char *buf, size_t size)
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

/* Reads up to limit matching objects after start (limit 0 = all). With a
 * selector the store is read in chunks until enough match, as the
 * apiserver does over etcd, so a page is never short just because some
 * objects did not match. */
static int read_page(struct api_req *r, const char *prefix, const char *start, size_t limit,
                     const struct api_selector *sel, struct page *pg, struct err *e)
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
            if (api__selector_matches(
                    sel, json_object_get(json_object_get(obj, "metadata"), "labels"))) {
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
    void (*fn)(struct api_req *r);
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
    rb->fn(r);
}

static bool read_now(struct api_req *r, void (*fn)(struct api_req *r))
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
    rb->fn = fn;
    r->data = rb;
    if (api_req_barrier(r, on_read_barrier, &e) != 0)
        api_reply_err(r, &e);
    return false;
}

/* kubectl get asks for a Table first; -o yaml/json and other clients do
 * not. Steals items and meta (either may be NULL). */
static void reply_table(struct api_req *r, const struct kind *k, json_t *items, json_t *meta)
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

static void list(struct api_req *r, const struct kind *k, const char *ns)
{
    char prefix[STORE_KEY_MAX + 1], rv_s[24];
    const char *cont = api_req_query(r, "continue");
    const char *lim = api_req_query(r, "limit");
    char *start = NULL, *tok = NULL;
    struct api_selector sel;
    uint64_t limit = 0;
    struct page pg;
    struct err e;
    json_t *meta, *out;

    if (ns != NULL && api__dns1123_label_error(ns) != NULL) {
        api_reply_error(r, ERR_NOTFOUND, "namespaces \"%s\" not found", ns);
        return;
    }
    if (list_prefix(k, ns, prefix, sizeof prefix) != 0) {
        api_reply_status(r, 400, "BadRequest", "namespace: too long");
        return;
    }
    if (api__selector_parse(api_req_query(r, "labelSelector"), &sel, &e) != 0) {
        api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        return;
    }
    if (query_true(r, "watch")) {
        api__watch_serve(r, prefix);
        api__selector_close(&sel);
        return;
    }
    if (lim != NULL && lim[0] != '\0' && parse_u64(lim, &limit) != 0) {
        api__selector_close(&sel);
        api_reply_status(r, 400, "BadRequest", "limit: must be a non-negative integer");
        return;
    }
    if (limit > API_LIST_LIMIT_MAX)
        limit = API_LIST_LIMIT_MAX;
    if (cont != NULL && cont[0] != '\0' && api__continue_decode(cont, prefix, &start, &e) != 0) {
        api__selector_close(&sel);
        api_reply_status(r, 400, "BadRequest", "%s", e.msg);
        return;
    }
    if (read_page(r, prefix, start, (size_t)limit, &sel, &pg, &e) != 0) {
        free(start);
        api__selector_close(&sel);
        api_reply_err(r, &e);
        return;
    }
    free(start);
    api__selector_close(&sel);
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
        reply_table(r, k, pg.items, meta);
        return;
    }
    out = json_pack("{s:s, s:s, s:o, s:o}", "kind", k->list_kind, "apiVersion", "v1", "metadata",
                    meta, "items", pg.items);
    api_reply_json(r, 200, out);
}

void api__h_cm_list(struct api_req *r)
{
    if (read_now(r, api__h_cm_list))
        list(r, &configmaps, r->n_caps > 0 ? r->caps[0] : NULL);
}

void api__h_node_list(struct api_req *r)
{
    if (read_now(r, api__h_node_list))
        list(r, &nodes, NULL);
}

/* ---- get ---- */

static int read_object(struct api_req *r, const struct kind *k, const char *ns, const char *name,
                       json_t **out, uint64_t *mod_rev, struct err *e)
{
    char key[STORE_KEY_MAX + 1];
    struct store_kv kv;
    int rv = api_object_key(k->store_name, ns, name, key, sizeof key, e);
    if (rv != 0)
        return err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", k->resource, name);
    rv = store_get(r->store, key, &kv, e);
    if (rv == ERR_NOTFOUND)
        return err_setf(e, ERR_NOTFOUND, "%s \"%s\" not found", k->resource, name);
    if (rv != 0)
        return rv;
    rv = api__object_decode(kv.value, kv.value_len, kv.mod_rev, out, e);
    if (mod_rev != NULL)
        *mod_rev = kv.mod_rev;
    store_kv_close(&kv);
    return rv;
}

static void get(struct api_req *r, const struct kind *k, const char *ns, const char *name)
{
    json_t *obj;
    struct err e;
    if (read_object(r, k, ns, name, &obj, NULL, &e) != 0) {
        api_reply_err(r, &e);
        return;
    }
    if (api__accept_table(r->accept)) {
        reply_table(r, k, json_pack("[o]", obj), NULL);
        return;
    }
    api_reply_json(r, 200, obj);
}

void api__h_cm_get(struct api_req *r)
{
    if (read_now(r, api__h_cm_get))
        get(r, &configmaps, r->caps[0], r->caps[1]);
}

void api__h_node_get(struct api_req *r)
{
    if (read_now(r, api__h_node_get))
        get(r, &nodes, NULL, r->caps[0]);
}

/* ---- writes ---- */

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

static void reply_validation(struct api_req *r, bool bad_request, const struct err *e)
{
    if (bad_request)
        api_reply_status(r, 400, "BadRequest", "%s", e->msg);
    else
        api_reply_status(r, 422, "Invalid", "%s", e->msg);
}

static int propose_put(struct api_req *r, struct write *w, int cmp_kind, uint64_t mod_rev,
                       api_done_fn done, struct err *e)
{
    struct store_cmp cmp = {cmp_kind, w->key, mod_rev};
    struct store_op op = {STORE_OP_PUT, w->key, NULL, 0};
    struct store_txn txn = {&cmp, 1, &op, 1};
    int rv = api_object_encode(r->json, &w->value, &w->value_len, e);
    if (rv != 0)
        return rv;
    op.value = w->value;
    op.value_len = w->value_len;
    rv = api_req_propose(r, &txn, done, e);
    /* cons_propose encoded the txn: the value is no longer needed */
    free(w->value);
    w->value = NULL;
    return rv;
}

static void on_created(struct api_req *r, int status)
{
    struct write *w = r->data;
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    if (r->op.propose.result.failed_cmp >= 0) {
        api_reply_status(r, 409, "AlreadyExists", "%s \"%s\" already exists", w->k->resource,
                         w->name);
        return;
    }
    set_rv(r->json, r->op.propose.result.rev);
    api_reply_json(r, 201, json_incref(r->json));
}

/* The request's ConfigMap, validated for ns (and name, on update); false
 * when it is missing or invalid, the reply already sent. */
static bool body_valid(struct api_req *r, const char *ns, const char *name)
{
    bool bad = false;
    struct err e;
    if (r->json == NULL) {
        api_reply_status(r, 400, "BadRequest", "request body: a ConfigMap object is required");
        return false;
    }
    if (api__configmap_validate(r->json, ns, name, &bad, &e) != 0) {
        reply_validation(r, bad, &e);
        return false;
    }
    return true;
}

void api__h_cm_create(struct api_req *r)
{
    const char *ns = r->caps[0];
    char uid[37], now[21], gen[254];
    struct write *w;
    json_t *meta, *jname;
    struct err e;

    if (!body_valid(r, ns, NULL))
        return;
    meta = json_object_get(r->json, "metadata");
    if (json_object_get(meta, "resourceVersion") != NULL) {
        api_reply_status(r, 400, "BadRequest",
                         "resourceVersion should not be set on objects to be created");
        return;
    }
    w = api_req_alloc(r, sizeof *w);
    if (w == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    r->data = w;
    w->k = &configmaps;
    jname = json_object_get(meta, "name");
    if (json_string_length(jname) == 0) {
        if (generate_name(json_string_value(json_object_get(meta, "generateName")), gen, sizeof gen,
                          &e) != 0) {
            api_reply_err(r, &e);
            return;
        }
        json_object_set_new(meta, "name", json_string(gen));
    }
    w->name = api_req_strdup(r, json_string_value(json_object_get(meta, "name")));
    /* the proposer decides uid and time; apply replays them verbatim */
    if (w->name == NULL || api__uuid(uid, &e) != 0) {
        api_reply_error(r, ERR_NOMEM, "create: out of memory or no randomness");
        return;
    }
    api__now_rfc3339(now);
    json_object_set_new(meta, "namespace", json_string(ns));
    json_object_set_new(meta, "uid", json_string(uid));
    json_object_set_new(meta, "creationTimestamp", json_string(now));
    json_object_set_new(r->json, "kind", json_string("ConfigMap"));
    json_object_set_new(r->json, "apiVersion", json_string("v1"));
    if (api_object_key("configmaps", ns, w->name, w->key, sizeof w->key, &e) != 0 ||
        propose_put(r, w, STORE_CMP_ABSENT, 0, on_created, &e) != 0)
        api_reply_err(r, &e);
}

static void on_updated(struct api_req *r, int status)
{
    struct write *w = r->data;
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    if (r->op.propose.result.failed_cmp >= 0) {
        if (w->has_rv && r->op.propose.result.failed_mod_rev != 0)
            api_reply_status(r, 409, "Conflict",
                             "Operation cannot be fulfilled on %s \"%s\": the object has been "
                             "modified; please apply your changes to the latest version and try "
                             "again",
                             w->k->resource, w->name);
        else
            api_reply_error(r, ERR_NOTFOUND, "%s \"%s\" not found", w->k->resource, w->name);
        return;
    }
    set_rv(r->json, r->op.propose.result.rev);
    api_reply_json(r, 200, json_incref(r->json));
}

/* immutable ConfigMaps: data, binaryData and immutable itself are frozen */
static bool immutable_violated(const json_t *old, const json_t *neu)
{
    static const char *const fields[] = {"data", "binaryData", "immutable"};
    size_t i;
    if (!json_is_true(json_object_get(old, "immutable")))
        return false;
    for (i = 0; i < 3; i++) {
        json_t *a = json_object_get(old, fields[i]), *b = json_object_get(neu, fields[i]);
        if ((a == NULL) != (b == NULL) || (a != NULL && !json_equal(a, b)))
            return true;
    }
    return false;
}

void api__h_cm_update(struct api_req *r)
{
    const char *ns = r->caps[0], *name = r->caps[1], *rv_s;
    struct write *w;
    json_t *meta, *old;
    uint64_t rv = 0;
    struct err e;

    if (!body_valid(r, ns, name))
        return;
    meta = json_object_get(r->json, "metadata");
    rv_s = json_string_value(json_object_get(meta, "resourceVersion"));
    if (rv_s != NULL && rv_s[0] != '\0' && parse_u64(rv_s, &rv) != 0) {
        api_reply_status(r, 400, "BadRequest", "metadata.resourceVersion: invalid value \"%s\"",
                         rv_s);
        return;
    }
    /* uid and creationTimestamp are immutable: carry them from the replica */
    if (read_object(r, &configmaps, ns, name, &old, NULL, &e) != 0) {
        api_reply_err(r, &e);
        return;
    }
    if (immutable_violated(old, r->json)) {
        json_decref(old);
        api_reply_status(r, 422, "Invalid",
                         "ConfigMap \"%s\" is invalid: data: Forbidden: field is immutable when "
                         "`immutable` is set",
                         name);
        return;
    }
    json_object_set(meta, "uid", json_object_get(json_object_get(old, "metadata"), "uid"));
    json_object_set(meta, "creationTimestamp",
                    json_object_get(json_object_get(old, "metadata"), "creationTimestamp"));
    json_decref(old);
    json_object_set_new(meta, "namespace", json_string(ns));
    json_object_set_new(r->json, "kind", json_string("ConfigMap"));
    json_object_set_new(r->json, "apiVersion", json_string("v1"));
    w = api_req_alloc(r, sizeof *w);
    if (w == NULL || (w->name = api_req_strdup(r, name)) == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    r->data = w;
    w->k = &configmaps;
    w->has_rv = rv != 0;
    if (api_object_key("configmaps", ns, name, w->key, sizeof w->key, &e) != 0 ||
        propose_put(r, w, w->has_rv ? STORE_CMP_MOD_REV : STORE_CMP_EXISTS, rv, on_updated, &e) !=
            0)
        api_reply_err(r, &e);
}

static void on_deleted(struct api_req *r, int status)
{
    struct write *w = r->data;
    if (status != 0) {
        api_reply_err(r, &r->op.propose.err);
        return;
    }
    if (r->op.propose.result.failed_cmp >= 0) {
        api_reply_error(r, ERR_NOTFOUND, "%s \"%s\" not found", w->k->resource, w->name);
        return;
    }
    /* like the apiserver, answer with the object as it was deleted */
    set_rv(r->json, r->op.propose.result.rev);
    api_reply_json(r, 200, json_incref(r->json));
}

void api__h_cm_delete(struct api_req *r)
{
    const char *ns = r->caps[0], *name = r->caps[1];
    struct store_cmp cmp;
    struct store_op op;
    struct store_txn txn = {&cmp, 1, &op, 1};
    struct write *w;
    json_t *old;
    struct err e;

    if (read_object(r, &configmaps, ns, name, &old, NULL, &e) != 0) {
        api_reply_err(r, &e);
        return;
    }
    json_decref(r->json); /* a DeleteOptions body, if any, is not used yet */
    r->json = old;
    w = api_req_alloc(r, sizeof *w);
    if (w == NULL || (w->name = api_req_strdup(r, name)) == NULL) {
        api_reply_error(r, ERR_NOMEM, "out of memory");
        return;
    }
    r->data = w;
    w->k = &configmaps;
    if (api_object_key("configmaps", ns, name, w->key, sizeof w->key, &e) != 0) {
        api_reply_err(r, &e);
        return;
    }
    cmp = (struct store_cmp){STORE_CMP_EXISTS, w->key, 0};
    op = (struct store_op){STORE_OP_DELETE, w->key, NULL, 0};
    if (api_req_propose(r, &txn, on_deleted, &e) != 0)
        api_reply_err(r, &e);
}
