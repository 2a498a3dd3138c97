/* Server-side apply and field ownership (metadata.managedFields), after
 * sigs.k8s.io/structured-merge-diff as the apiserver uses it.
 *
 * A field set is kept as a tree in the FieldsV1 vocabulary: JSON objects
 * whose keys are path elements ("f:<field>", "k:<json of key fields>" for
 * keyed list items, "v:<json value>" for set items) and whose "." key marks
 * the node itself as a member. Unlike FieldsV1 on the wire, where a member
 * without children is written as a bare {}, every member carries "." in
 * memory, and nodes without any member below them are pruned: so "a node
 * exists" means "someone owns something at or under it".
 *
 * Never owned (the apiserver strips them before computing sets):
 * apiVersion, kind, status and the server-decided metadata fields. */
#include "api/patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLY "apply: "

static const char *const meta_server[] = {
    "name",          "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "selfLink",  NULL,
};

/* ------------------------------------------------------------ schema */

/* ------------------------------------------------------ field set trees */

static bool node_member(const json_t *n)
{
    return json_object_get(n, ".") != NULL;
}

static bool node_has_children(const json_t *n)
{
    return json_object_size(n) > (node_member(n) ? 1u : 0u);
}

static int node_mark(json_t *n)
{
    return json_object_set_new(n, ".", json_object());
}

/* FieldsV1 (wire) to tree. NULL: no memory. */
static json_t *set_from_v1(const json_t *f)
{
    json_t *n = json_object(), *v;
    const char *k;
    if (n == NULL)
        return NULL;
    if (!json_is_object(f) || json_object_size(f) == 0) {
        if (node_mark(n) != 0)
            goto fail;
        return n;
    }
    json_object_foreach ((json_t *)f, k, v) {
        if (strcmp(k, ".") == 0) {
            if (node_mark(n) != 0)
                goto fail;
        } else if (json_object_set_new(n, k, set_from_v1(v)) != 0) {
            goto fail;
        }
    }
    return n;
fail:
    json_decref(n);
    return NULL;
}

/* Tree to FieldsV1: a member without children is a bare {}. */
static json_t *set_to_v1(const json_t *n)
{
    json_t *out = json_object(), *v;
    const char *k;
    if (out == NULL)
        return NULL;
    json_object_foreach ((json_t *)n, k, v) {
        if (strcmp(k, ".") == 0) {
            if (node_has_children(n) && json_object_set_new(out, ".", json_object()) != 0)
                goto fail;
        } else if (json_object_set_new(out, k, set_to_v1(v)) != 0) {
            goto fail;
        }
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* Drops nodes that own nothing. */
static void set_prune(json_t *n)
{
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(n, tmp, k, v)
    {
        if (strcmp(k, ".") == 0)
            continue;
        set_prune(v);
        if (json_object_size(v) == 0)
            json_object_del(n, k);
    }
}

static int set_union(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)src, k, v) {
        json_t *d;
        if (strcmp(k, ".") == 0) {
            if (node_mark(dst) != 0)
                return -1;
            continue;
        }
        d = json_object_get(dst, k);
        if (d == NULL) {
            d = json_object();
            if (json_object_set_new(dst, k, d) != 0)
                return -1;
        }
        if (set_union(d, v) != 0)
            return -1;
    }
    return 0;
}

/* dst minus src's members, pruned. */
static void set_subtract(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)src, k, v) {
        json_t *d = json_object_get(dst, k);
        if (d == NULL)
            continue;
        if (strcmp(k, ".") == 0) {
            json_object_del(dst, ".");
            continue;
        }
        set_subtract(d, v);
        if (json_object_size(d) == 0)
            json_object_del(dst, k);
    }
}

static int set_build_obj(json_t *node, const json_t *obj, const struct api_sch *s);

/* Item key of a keyed list element: k:{"name":"nginx"}. */
static char *item_key(const char *mk, const json_t *kv)
{
    json_t *o = json_pack("{s:O}", mk, kv);
    char *d = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *out = NULL;
    if (d != NULL && asprintf(&out, "k:%s", d) < 0)
        out = NULL;
    free(d);
    json_decref(o);
    return out;
}

/* A keyed list can only be tracked per item when every element is an
 * object carrying a distinct key; anything else is owned as a whole. */
static bool keyed_ok(const json_t *list, const char *mk)
{
    size_t i, j;
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *kv = json_object_get(json_array_get(list, i), mk);
        if (kv == NULL)
            return false;
        for (j = 0; j < i; j++)
            if (json_equal((json_t *)kv, json_object_get(json_array_get(list, j), mk)))
                return false;
    }
    return true;
}

static bool scalars_only(const json_t *list)
{
    size_t i;
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *v = json_array_get(list, i);
        if (json_is_object(v) || json_is_array(v))
            return false;
    }
    return true;
}

static int set_build_list(json_t *node, const json_t *list, const struct api_sch_finfo *fi)
{
    size_t i;
    bool keyed = api__sch_keyed(fi) && keyed_ok(list, fi->merge_key);
    if (!keyed && !(api__sch_set(fi) && scalars_only(list)))
        return node_mark(node); /* atomic */
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *el = json_array_get(list, i);
        json_t *item = json_object();
        char *key = NULL, *d;
        int rv = -1;
        if (keyed) {
            key = item_key(fi->merge_key, json_object_get(el, fi->merge_key));
        } else if ((d = json_dumps(el, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
            if (asprintf(&key, "v:%s", d) < 0)
                key = NULL;
            free(d);
        }
        if (item != NULL && key != NULL && node_mark(item) == 0 &&
            (!keyed || set_build_obj(item, el, fi->type->elem) == 0))
            rv = json_object_set(node, key, item);
        json_decref(item);
        free(key);
        if (rv != 0)
            return -1;
    }
    return 0;
}

/* The members a value v of field fi contributes, under node. */
static int set_build_field(json_t *node, const json_t *v, const struct api_sch_finfo *fi)
{
    if (json_is_object(v)) {
        const struct api_sch *t = fi->type;
        bool structured = t != NULL && (t->type == API_SCH_OBJECT || t->type == API_SCH_MAP);
        /* unknown and FREE maps are walked as plain maps */
        return set_build_obj(node, v, structured ? t : NULL);
    }
    if (json_is_array(v))
        return set_build_list(node, v, fi);
    return node_mark(node);
}

static int set_build_obj(json_t *node, const json_t *obj, const struct api_sch *s)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)obj, k, v) {
        struct api_sch_finfo fi = api__sch_field_info(s, k);
        json_t *child = json_object();
        char *key = NULL;
        int rv = -1;
        if (child != NULL && asprintf(&key, "f:%s", k) >= 0 && set_build_field(child, v, &fi) == 0)
            rv = json_object_size(child) > 0 ? json_object_set(node, key, child) : 0;
        json_decref(child);
        free(key);
        if (rv != 0)
            return -1;
    }
    return 0;
}

/* obj without what is never owned. New reference or NULL. */
static json_t *owned_view(const json_t *obj)
{
    json_t *v = json_deep_copy(obj), *meta;
    size_t i;
    if (v == NULL)
        return NULL;
    json_object_del(v, "apiVersion");
    json_object_del(v, "kind");
    json_object_del(v, "status");
    meta = json_object_get(v, "metadata");
    for (i = 0; json_is_object(meta) && meta_server[i] != NULL; i++)
        json_object_del(meta, meta_server[i]);
    return v;
}

/* The set of fields obj sets. NULL: no memory. */
static json_t *set_of(const json_t *obj, const struct api_sch *s)
{
    json_t *view = owned_view(obj), *set = json_object();
    if (view == NULL || set == NULL || set_build_obj(set, view, s) != 0) {
        json_decref(set);
        set = NULL;
    }
    json_decref(view);
    return set;
}

/* ------------------------------------------------ paths and values */

/* The path to a node while walking a set: a chain on the C stack. */
struct frame {
    const char *pe;
    const struct frame *up;
};

/* The child of value v that path element pe names; NULL when absent. */
static json_t *elem_get(const json_t *v, const char *pe, size_t *idx)
{
    json_t *want, *found = NULL;
    size_t i;
    if (strncmp(pe, "f:", 2) == 0)
        return json_is_object(v) ? json_object_get(v, pe + 2) : NULL;
    if (!json_is_array(v) || (strncmp(pe, "k:", 2) != 0 && strncmp(pe, "v:", 2) != 0))
        return NULL;
    want = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
    if (want == NULL)
        return NULL;
    for (i = 0; i < json_array_size(v) && found == NULL; i++) {
        json_t *el = json_array_get(v, i);
        if (pe[0] == 'v') {
            if (json_equal(el, want))
                found = el;
        } else if (json_is_object(want) && json_is_object(el)) {
            const char *k;
            json_t *kv;
            bool match = true;
            json_object_foreach (want, k, kv) {
                if (!json_equal(json_object_get(el, k), kv))
                    match = false;
            }
            if (match)
                found = el;
        }
        if (found != NULL && idx != NULL)
            *idx = i;
    }
    json_decref(want);
    return found;
}

static void elem_del(json_t *v, const char *pe)
{
    size_t idx;
    if (json_is_object(v))
        json_object_del(v, pe + 2);
    else if (elem_get(v, pe, &idx) != NULL)
        json_array_remove(v, idx);
}

/* The node of tree at path f, NULL when there is none. */
static json_t *tree_at(json_t *tree, const struct frame *f)
{
    json_t *parent;
    if (f == NULL)
        return tree;
    parent = tree_at(tree, f->up);
    return parent != NULL ? json_object_get(parent, f->pe) : NULL;
}

/* The path as structured-merge-diff prints it:
 * .spec.template.spec.containers[name="nginx"].image, [="x"] for set items. */
static void path_print(char *buf, size_t size, size_t *len, const struct frame *f)
{
    json_t *kv;
    if (f == NULL || *len >= size)
        return;
    path_print(buf, size, len, f->up);
    if (*len >= size)
        return;
    if (strncmp(f->pe, "f:", 2) == 0) {
        *len += (size_t)snprintf(buf + *len, size - *len, ".%s", f->pe + 2);
        return;
    }
    kv = json_loads(f->pe + 2, JSON_DECODE_ANY, NULL);
    if (f->pe[0] == 'k' && json_is_object(kv)) {
        const char *k;
        json_t *v;
        const char *sep = "[";
        json_object_foreach (kv, k, v) {
            char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (*len < size)
                *len += (size_t)snprintf(buf + *len, size - *len, "%s%s=%s", sep, k,
                                         d != NULL ? d : "?");
            free(d);
            sep = ",";
        }
        if (*len < size)
            *len += (size_t)snprintf(buf + *len, size - *len, "]");
    } else {
        *len += (size_t)snprintf(buf + *len, size - *len, "[=%s]", f->pe + 2);
    }
    json_decref(kv);
}

/* ------------------------------------------------------------ managers */

struct mgr {
    json_t *entry; /* owned reference */
    const char *name, *op, *apiv;
    json_t *set; /* owned tree; NULL: an entry we do not understand, kept as is */
    bool dirty;  /* set changed: rewrite fieldsV1 */
};

struct mgrs {
    struct mgr *v;
    size_t n;
};

static void mgrs_close(struct mgrs *ms)
{
    size_t i;
    for (i = 0; i < ms->n; i++) {
        json_decref(ms->v[i].entry);
        json_decref(ms->v[i].set);
    }
    free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}

/* Parses a managedFields array (borrowed; may be NULL). Room is left for
 * one more entry. */
static int mgrs_parse(struct mgrs *ms, const json_t *mf)
{
    size_t i, n = json_array_size(mf);
    ms->n = 0;
    ms->v = calloc(n + 1, sizeof *ms->v);
    if (ms->v == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        struct mgr *m = &ms->v[ms->n];
        const json_t *en = json_array_get(mf, i);
        const json_t *f1 = json_object_get(en, "fieldsV1");
        const char *ft = json_string_value(json_object_get(en, "fieldsType"));
        m->entry = json_deep_copy(en);
        if (m->entry == NULL)
            return -1;
        ms->n++;
        m->name = json_string_value(json_object_get(m->entry, "manager"));
        m->op = json_string_value(json_object_get(m->entry, "operation"));
        m->apiv = json_string_value(json_object_get(m->entry, "apiVersion"));
        if (m->name == NULL || m->op == NULL || !json_is_object(f1) ||
            (ft != NULL && strcmp(ft, "FieldsV1") != 0))
            continue;
        m->set = set_from_v1(f1);
        if (m->set == NULL)
            return -1;
        set_prune(m->set);
    }
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Apply entries are one per manager; Update entries one per manager and
 * apiVersion (as the apiserver's manager identifiers). */
static long mgrs_find(const struct mgrs *ms, const char *name, const char *op, const char *apiv)
{
    size_t i;
    for (i = 0; i < ms->n; i++) {
        const struct mgr *m = &ms->v[i];
        if (m->set != NULL && str_eq(m->name, name) && str_eq(m->op, op) &&
            (strcmp(op, "Apply") == 0 || str_eq(m->apiv, apiv)))
            return (long)i;
    }
    return -1;
}

/* Appends a new entry owning set (taken). */
static int mgrs_add(struct mgrs *ms, const char *name, const char *op, const char *apiv,
                    const char *now, json_t *set)
{
    struct mgr *m = &ms->v[ms->n];
    json_t *en = json_pack("{s:s, s:s}", "manager", name, "operation", op);
    if (en == NULL || (apiv != NULL && json_object_set_new(en, "apiVersion", json_string(apiv))) ||
        (now != NULL && json_object_set_new(en, "time", json_string(now))) ||
        json_object_set_new(en, "fieldsType", json_string("FieldsV1"))) {
        json_decref(en);
        json_decref(set);
        return -1;
    }
    m->entry = en;
    m->name = name;
    m->op = op;
    m->apiv = apiv;
    m->set = set;
    m->dirty = true;
    ms->n++;
    return 0;
}

/* Our entry's set becomes set (taken); time moves only when it changed,
 * so an identical re-apply leaves the object byte-for-byte the same. */
static int mgr_update(struct mgr *m, json_t *set, const char *apiv, const char *now)
{
    if (!json_equal(m->set, set)) {
        m->dirty = true;
        if (now != NULL && json_object_set_new(m->entry, "time", json_string(now)) != 0) {
            json_decref(set);
            return -1;
        }
    }
    json_decref(m->set);
    m->set = set;
    if (apiv != NULL && !str_eq(m->apiv, apiv)) {
        if (json_object_set_new(m->entry, "apiVersion", json_string(apiv)) != 0)
            return -1;
        m->apiv = json_string_value(json_object_get(m->entry, "apiVersion"));
    }
    return 0;
}

/* Writes the entries back into obj's metadata.managedFields; entries
 * whose set is empty are dropped (and the array, when none is left). */
static int mgrs_write(const struct mgrs *ms, json_t *obj)
{
    json_t *arr = json_array(), *meta = json_object_get(obj, "metadata");
    size_t i;
    if (arr == NULL)
        return -1;
    for (i = 0; i < ms->n; i++) {
        const struct mgr *m = &ms->v[i];
        if (m->set != NULL && json_object_size(m->set) == 0)
            continue;
        if (m->set != NULL && m->dirty &&
            json_object_set_new(m->entry, "fieldsV1", set_to_v1(m->set)) != 0)
            goto fail;
        if (json_array_append(arr, m->entry) != 0)
            goto fail;
    }
    if (!json_is_object(meta)) {
        if (json_array_size(arr) == 0) {
            json_decref(arr);
            return 0;
        }
        meta = json_object();
        if (json_object_set_new(obj, "metadata", meta) != 0)
            goto fail;
    }
    if (json_array_size(arr) == 0) {
        json_object_del(meta, "managedFields");
        json_decref(arr);
        return 0;
    }
    return json_object_set_new(meta, "managedFields", arr);
fail:
    json_decref(arr);
    return -1;
}

static const json_t *managed_fields_of(const json_t *obj)
{
    const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    return json_is_array(mf) ? mf : NULL;
}

/* --------------------------------------------------------------- apply */

struct actx {
    struct mgrs ms;
    long self;
    bool force;
    json_t *conflicts; /* [[manager index, path], ...] */
};

/* Another manager's member at f (exact), or anything at or below it. */
static bool others_own(const struct actx *c, const struct frame *f, bool below)
{
    size_t i;
    for (i = 0; i < c->ms.n; i++) {
        json_t *t;
        if ((long)i == c->self || c->ms.v[i].set == NULL)
            continue;
        t = tree_at(c->ms.v[i].set, f);
        if (t != NULL && (below || node_member(t)))
            return true;
    }
    return false;
}

static int add_conflicts(struct actx *c, const struct frame *f)
{
    char path[512];
    size_t i, len = 0;
    path[0] = '\0';
    path_print(path, sizeof path, &len, f);
    for (i = 0; i < c->ms.n; i++) {
        json_t *t;
        if ((long)i == c->self || c->ms.v[i].set == NULL)
            continue;
        t = tree_at(c->ms.v[i].set, f);
        if (t == NULL || !node_member(t))
            continue;
        if (json_array_append_new(c->conflicts, json_pack("[I,s]", (json_int_t)i, path)) != 0)
            return -1;
        if (c->force) { /* ownership moves to the applier */
            json_object_del(t, ".");
            c->ms.v[i].dirty = true;
        }
    }
    return 0;
}

/* Walks applied set node with the applied value av and the live value lv:
 * a member whose value changes (a leaf with another value, an item that is
 * new) conflicts with whoever else owns it. */
static int conflict_walk(struct actx *c, const json_t *node, const json_t *av, const json_t *lv,
                         const struct frame *up)
{
    const char *k;
    json_t *cn;
    json_object_foreach ((json_t *)node, k, cn) {
        struct frame f = {k, up};
        const json_t *cav, *clv;
        if (strcmp(k, ".") == 0)
            continue;
        cav = elem_get(av, k, NULL);
        clv = lv != NULL ? elem_get(lv, k, NULL) : NULL;
        if (cav == NULL)
            continue;
        if (node_member(cn) &&
            (clv == NULL ||
             (!node_has_children(cn) && !json_equal((json_t *)cav, (json_t *)clv))) &&
            add_conflicts(c, &f) != 0)
            return -1;
        if (node_has_children(cn) && conflict_walk(c, cn, cav, clv, &f) != 0)
            return -1;
    }
    return 0;
}

static const char *manager_print(const struct mgr *m, char *buf, size_t size)
{
    if (str_eq(m->op, "Update"))
        snprintf(buf, size, "\"%s\" using %s", m->name, m->apiv != NULL ? m->apiv : "");
    else
        snprintf(buf, size, "\"%s\"", m->name);
    return buf;
}

/* Orders managers for the message as the apiserver does (it sorts
 * manager identifiers; by name is what a reader can predict). */
static int mgr_cmp(const struct mgr *a, const struct mgr *b)
{
    int d = strcmp(a->name, b->name);
    if (d == 0)
        d = strcmp(a->op, b->op);
    if (d == 0)
        d = strcmp(a->apiv != NULL ? a->apiv : "", b->apiv != NULL ? b->apiv : "");
    return d;
}

static void msg_add(char *msg, size_t size, size_t *len, const char *s1, const char *s2)
{
    if (*len < size)
        *len += (size_t)snprintf(msg + *len, size - *len, "%s%s", s1, s2);
}

/* The apiserver's message: one conflict on one line, several grouped by
 * manager, one "- path" line each. */
static int conflict_error(const struct actx *c, struct err *e)
{
    size_t n = json_array_size(c->conflicts), i, j, len = 0, nm = 0;
    char msg[ERR_MSG_SIZE], who[160];
    long order[64];
    if (n == 1) {
        json_t *cf = json_array_get(c->conflicts, 0);
        const struct mgr *m = &c->ms.v[json_integer_value(json_array_get(cf, 0))];
        return err_setf(e, ERR_CONFLICT, "Apply failed with 1 conflict: conflict with %s: %s",
                        manager_print(m, who, sizeof who),
                        json_string_value(json_array_get(cf, 1)));
    }
    /* distinct managers in conflict, insertion-sorted */
    for (i = 0; i < c->ms.n && nm < sizeof order / sizeof order[0]; i++) {
        bool hit = false;
        for (j = 0; j < n && !hit; j++)
            hit = json_integer_value(json_array_get(json_array_get(c->conflicts, j), 0)) ==
                  (json_int_t)i;
        if (!hit)
            continue;
        for (j = nm++; j > 0 && mgr_cmp(&c->ms.v[order[j - 1]], &c->ms.v[i]) > 0; j--)
            order[j] = order[j - 1];
        order[j] = (long)i;
    }
    len = (size_t)snprintf(msg, sizeof msg, "Apply failed with %zu conflicts: ", n);
    for (i = 0; i < nm; i++) {
        msg_add(msg, sizeof msg, &len, i > 0 ? "\nconflicts with " : "conflicts with ",
                manager_print(&c->ms.v[order[i]], who, sizeof who));
        msg_add(msg, sizeof msg, &len, ":", "");
        for (j = 0; j < n; j++) {
            json_t *cf = json_array_get(c->conflicts, j);
            if (json_integer_value(json_array_get(cf, 0)) == (json_int_t)order[i])
                msg_add(msg, sizeof msg, &len, "\n- ", json_string_value(json_array_get(cf, 1)));
        }
    }
    return err_setf(e, ERR_CONFLICT, "%s", msg);
}

/* Removes from live value lv what the removed set node names, unless
 * another manager owns it or something below it. *gone: lv lost members. */
static void remove_walk(const struct actx *c, const json_t *node, json_t *lv,
                        const struct frame *up, bool *gone)
{
    const char *k;
    json_t *cn;
    json_object_foreach ((json_t *)node, k, cn) {
        struct frame f = {k, up};
        json_t *v;
        bool sub = false;
        if (strcmp(k, ".") == 0 || (v = elem_get(lv, k, NULL)) == NULL)
            continue;
        if (node_member(cn) && !others_own(c, &f, true)) {
            elem_del(lv, k);
            *gone = true;
            continue;
        }
        if (!node_has_children(cn) || !(json_is_object(v) || json_is_array(v)))
            continue;
        remove_walk(c, cn, v, &f, &sub);
        /* a map or list we emptied goes too, as structured-merge-diff
         * does not keep empty containers it pruned */
        if (sub && (json_object_size(v) + json_array_size(v)) == 0 && !others_own(c, &f, true))
            elem_del(lv, k);
        *gone = *gone || sub;
    }
}

/* Applied config as merged: no status (ignored on a main resource), no
 * managedFields, no server-decided metadata, no nulls (a null in an
 * applied config sets nothing). */
static void strip_nulls(json_t *v)
{
    const char *k;
    json_t *cv, *tmp;
    size_t i;
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            strip_nulls(json_array_get(v, i));
        return;
    }
    json_object_foreach_safe(v, tmp, k, cv)
    {
        if (json_is_null(cv))
            json_object_del(v, k);
        else
            strip_nulls(cv);
    }
}

static json_t *applied_clean(const json_t *applied)
{
    json_t *cfg = json_deep_copy(applied), *meta;
    size_t i;
    if (cfg == NULL)
        return NULL;
    json_object_del(cfg, "status");
    meta = json_object_get(cfg, "metadata");
    for (i = 2; json_is_object(meta) && meta_server[i] != NULL; i++)
        json_object_del(meta, meta_server[i]); /* all but name and namespace */
    strip_nulls(cfg);
    return cfg;
}

/* Merges cfg onto *obj with strategic merge semantics, naming apply in
 * errors rather than the patch flavour used underneath. */
static int apply_merge(json_t **obj, const json_t *cfg, const struct api_sch *s, struct err *e)
{
    static const char smp[] = "strategic merge patch: ";
    char msg[ERR_MSG_SIZE];
    int rv = api__strategic_patch(obj, cfg, s, e);
    if (rv != 0 && e != NULL && strncmp(e->msg, smp, strlen(smp)) == 0) {
        snprintf(msg, sizeof msg, "%s", e->msg + strlen(smp));
        err_setf(e, rv, APPLY "%s", msg);
    }
    return rv;
}

static int apply_existing(struct actx *c, json_t **obj, const json_t *cfg, json_t *aset,
                          const char *manager, const struct api_sch *s, const char *api_version,
                          const char *now, struct err *e)
{
    json_t *removed;
    bool gone = false;
    size_t i;
    int rv;
    if (mgrs_parse(&c->ms, managed_fields_of(*obj)) != 0)
        return err_setf(e, ERR_NOMEM, APPLY "out of memory");
    c->self = mgrs_find(&c->ms, manager, "Apply", NULL);
    if (conflict_walk(c, aset, cfg, *obj, NULL) != 0)
        return err_setf(e, ERR_NOMEM, APPLY "out of memory");
    if (json_array_size(c->conflicts) > 0 && !c->force)
        return conflict_error(c, e);
    for (i = 0; i < c->ms.n; i++)
        if (c->ms.v[i].set != NULL)
            set_prune(c->ms.v[i].set);
    /* what we owned and no longer apply */
    removed = c->self >= 0 ? json_deep_copy(c->ms.v[c->self].set) : json_object();
    if (removed == NULL)
        return err_setf(e, ERR_NOMEM, APPLY "out of memory");
    set_subtract(removed, aset);
    remove_walk(c, removed, *obj, NULL, &gone);
    json_decref(removed);
    rv = apply_merge(obj, cfg, s, e);
    if (rv != 0)
        return rv;
    json_incref(aset);
    if (c->self >= 0)
        rv = mgr_update(&c->ms.v[c->self], aset, api_version, now);
    else
        rv = mgrs_add(&c->ms, manager, "Apply", api_version, now, aset);
    if (rv != 0 || mgrs_write(&c->ms, *obj) != 0)
        return err_setf(e, ERR_NOMEM, APPLY "out of memory");
    return 0;
}

int api__apply_patch(json_t **live, const json_t *applied, const char *manager, bool force,
                     const struct api_sch *s, const char *api_version, const char *now,
                     struct err *e)
{
    struct actx c;
    json_t *cfg = NULL, *aset = NULL, *obj = NULL;
    int rv;
    if (live == NULL || !json_is_object(applied))
        return err_setf(e, ERR_INVALID, APPLY "the applied configuration must be an object");
    if (manager == NULL || manager[0] == '\0')
        return err_setf(e, ERR_INVALID, APPLY "a field manager is required");
    if (*live != NULL && !json_is_object(*live))
        return err_setf(e, ERR_INVALID, APPLY "the live object must be an object");
    memset(&c, 0, sizeof c);
    c.force = force;
    c.self = -1;
    c.conflicts = json_array();
    cfg = applied_clean(applied);
    aset = cfg != NULL ? set_of(cfg, s) : NULL;
    obj = *live != NULL ? json_deep_copy(*live) : json_object();
    if (c.conflicts == NULL || aset == NULL || obj == NULL) {
        rv = err_setf(e, ERR_NOMEM, APPLY "out of memory");
        goto out;
    }
    if (*live != NULL) {
        rv = apply_existing(&c, &obj, cfg, aset, manager, s, api_version, now, e);
    } else {
        /* merged onto nothing, so keyed lists are checked and set lists
         * deduplicated exactly as on later applies */
        rv = apply_merge(&obj, cfg, s, e);
        if (rv == 0 && mgrs_parse(&c.ms, NULL) != 0)
            rv = err_setf(e, ERR_NOMEM, APPLY "out of memory");
        if (rv == 0 && (mgrs_add(&c.ms, manager, "Apply", api_version, now, json_incref(aset)) ||
                        mgrs_write(&c.ms, obj)))
            rv = err_setf(e, ERR_NOMEM, APPLY "out of memory");
    }
    if (rv == 0) {
        json_decref(*live);
        *live = obj;
        obj = NULL;
    }
out:
    mgrs_close(&c.ms);
    json_decref(c.conflicts);
    json_decref(obj);
    json_decref(aset);
    json_decref(cfg);
    return rv;
}

/* -------------------------------------------------------------- update */

/* Keeps in node only the members whose value differs between nv and ov
 * (leaves with another value, items that are new). */
static void keep_changed(json_t *node, const json_t *nv, const json_t *ov)
{
    const char *k;
    json_t *cn;
    json_object_foreach (node, k, cn) {
        const json_t *cnv, *cov;
        if (strcmp(k, ".") == 0)
            continue;
        cnv = elem_get(nv, k, NULL);
        cov = ov != NULL ? elem_get(ov, k, NULL) : NULL;
        if (node_member(cn) && cov != NULL &&
            (node_has_children(cn) || json_equal((json_t *)cnv, (json_t *)cov)))
            json_object_del(cn, ".");
        if (node_has_children(cn))
            keep_changed(cn, cnv, cov);
    }
}

static int update_sets(struct mgrs *ms, const json_t *changed, const json_t *removed,
                       const char *manager, const char *api_version, const char *now)
{
    long self = mgrs_find(ms, manager, "Update", api_version);
    json_t *mine;
    size_t i;
    for (i = 0; i < ms->n; i++) {
        json_t *before;
        if ((long)i == self || ms->v[i].set == NULL)
            continue;
        before = json_deep_copy(ms->v[i].set);
        if (before == NULL)
            return -1;
        set_subtract(ms->v[i].set, changed);
        set_subtract(ms->v[i].set, removed);
        ms->v[i].dirty = ms->v[i].dirty || !json_equal(before, ms->v[i].set);
        json_decref(before);
    }
    if (self < 0 && json_object_size(changed) == 0)
        return 0;
    mine = self >= 0 ? json_deep_copy(ms->v[self].set) : json_object();
    if (mine == NULL || set_union(mine, changed) != 0) {
        json_decref(mine);
        return -1;
    }
    set_subtract(mine, removed);
    if (self >= 0)
        return mgr_update(&ms->v[self], mine, api_version, now);
    return mgrs_add(ms, manager, "Update", api_version, now, mine);
}

int api__managed_update(json_t *new_obj, const json_t *old_obj, const char *manager,
                        const struct api_sch *s, const char *api_version, const char *now,
                        struct err *e)
{
    json_t *nview = NULL, *oview = NULL, *changed = NULL, *removed = NULL;
    const json_t *mf;
    struct mgrs ms = {NULL, 0};
    int rv = ERR_NOMEM;
    if (manager == NULL)
        return 0;
    if (!json_is_object(new_obj))
        return err_setf(e, ERR_INVALID, "managed fields: the object must be a JSON object");
    if (!json_is_object(old_obj))
        old_obj = NULL;
    nview = owned_view(new_obj);
    oview = old_obj != NULL ? owned_view(old_obj) : json_object();
    changed = nview != NULL ? set_of(nview, s) : NULL;
    removed = old_obj != NULL && oview != NULL ? set_of(oview, s) : json_object();
    if (changed == NULL || removed == NULL)
        goto out;
    set_subtract(removed, changed); /* before changed loses its unchanged members */
    keep_changed(changed, nview, old_obj != NULL ? oview : NULL);
    set_prune(changed);
    /* A PUT body without managedFields keeps the stored ones. */
    mf = managed_fields_of(new_obj);
    if (mf == NULL)
        mf = managed_fields_of(old_obj);
    if (mgrs_parse(&ms, mf) != 0 ||
        update_sets(&ms, changed, removed, manager, api_version, now) != 0 ||
        mgrs_write(&ms, new_obj) != 0)
        goto out;
    rv = 0;
out:
    if (rv != 0)
        err_setf(e, rv, "managed fields: out of memory");
    mgrs_close(&ms);
    json_decref(removed);
    json_decref(changed);
    json_decref(oview);
    json_decref(nview);
    return rv;
}
