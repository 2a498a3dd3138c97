/* The PATCH bodies the apiserver accepts: RFC 7386 merge patch, RFC 6902
 * JSON patch and Kubernetes strategic merge patch (see api/patch.h).
 * Every function works on a private deep copy of the document and swaps it
 * in only on success, so a failed patch never leaves half an edit behind.
 * The schema tables are walked directly (no api__sch_* calls) so this file
 * depends on nothing but the struct layout in api/schema.h. */
#include "api/patch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON patch is user input applied in one request: bound the work. */
#define JSON_PATCH_MAX_OPS 10000

#define SMP "strategic merge patch: "

/* ---------------------------------------------------------------- helpers */

/* Numbers compare by value (RFC 6902 section 4.6: 1 and 1.0 are equal),
 * unlike json_equal, which tells integers from reals. */
static bool value_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_is_array(a) && json_is_array(b)) {
        size_t i, n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (i = 0; i < n; i++)
            if (!value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach ((json_t *)a, k, v) {
            const json_t *w = json_object_get(b, k);
            if (w == NULL || !value_equal(v, w))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Sets key to a deep copy of v. 0 or -1 (no memory). */
static int set_copy(json_t *obj, const char *key, const json_t *v)
{
    return json_object_set_new(obj, key, json_deep_copy(v));
}

/* ------------------------------------------------------------ RFC 7386 */

/* target (an exclusively owned object) merged with patch (an object). */
static int merge_into(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        json_t *cur;
        if (json_is_null(v)) {
            json_object_del(target, k);
            continue;
        }
        if (!json_is_object(v)) {
            if (set_copy(target, k, v) != 0)
                return -1;
            continue;
        }
        cur = json_object_get(target, k);
        if (!json_is_object(cur)) {
            cur = json_object();
            if (json_object_set_new(target, k, cur) != 0)
                return -1;
        }
        if (merge_into(cur, v) != 0)
            return -1;
    }
    return 0;
}

int api__merge_patch(json_t **doc, const json_t *patch, struct err *e)
{
    json_t *out;
    if (doc == NULL || patch == NULL)
        return err_setf(e, ERR_INVALID, "merge patch: missing document or patch");
    if (!json_is_object(patch)) {
        out = json_deep_copy(patch);
        if (out == NULL)
            return err_setf(e, ERR_NOMEM, "merge patch: out of memory");
    } else {
        out = json_is_object(*doc) ? json_deep_copy(*doc) : json_object();
        if (out == NULL || merge_into(out, patch) != 0) {
            json_decref(out);
            return err_setf(e, ERR_NOMEM, "merge patch: out of memory");
        }
    }
    json_decref(*doc);
    *doc = out;
    return 0;
}

/* ------------------------------------------------------------ RFC 6902 */

/* A parsed JSON pointer: tokens point into buf (unescaped in place). */
struct ptr {
    char *buf;
    char **tok;
    size_t n;
};

static void ptr_free(struct ptr *p)
{
    free(p->buf);
    free(p->tok);
    p->buf = NULL;
    p->tok = NULL;
    p->n = 0;
}

/* RFC 6901. Returns 0, ERR_INVALID (bad syntax) or ERR_NOMEM. */
static int ptr_parse(const char *s, struct ptr *p)
{
    size_t len = strlen(s), i, n = 0;
    char *r, *w;
    memset(p, 0, sizeof *p);
    if (len == 0)
        return 0;
    if (s[0] != '/')
        return ERR_INVALID;
    for (i = 0; i < len; i++)
        n += s[i] == '/';
    p->buf = malloc(len + 1);
    p->tok = calloc(n, sizeof *p->tok);
    if (p->buf == NULL || p->tok == NULL) {
        ptr_free(p);
        return ERR_NOMEM;
    }
    memcpy(p->buf, s, len + 1);
    /* Split on '/' and unescape ~1 before ~0 in one left-to-right pass,
     * which is the same thing: "~01" is "~1" literally. */
    r = p->buf + 1;
    w = r;
    p->tok[p->n++] = w;
    for (; *r != '\0'; r++) {
        if (*r == '/') {
            *w++ = '\0';
            p->tok[p->n++] = w;
        } else if (*r == '~') {
            if (r[1] == '0')
                *w++ = '~';
            else if (r[1] == '1')
                *w++ = '/';
            else {
                ptr_free(p);
                return ERR_INVALID;
            }
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return 0;
}

/* An array index token: digits, no leading zero (except "0" itself). */
static bool parse_index(const char *t, size_t *out)
{
    size_t v = 0;
    if (*t == '\0' || (t[0] == '0' && t[1] != '\0'))
        return false;
    for (; *t != '\0'; t++) {
        if (*t < '0' || *t > '9' || v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*t - '0');
    }
    *out = v;
    return true;
}

/* The value the first n tokens of p point to, NULL when there is none. */
static json_t *ptr_get(json_t *root, const struct ptr *p, size_t n)
{
    json_t *cur = root;
    size_t i, idx;
    for (i = 0; i < n && cur != NULL; i++) {
        if (json_is_object(cur))
            cur = json_object_get(cur, p->tok[i]);
        else if (json_is_array(cur) && parse_index(p->tok[i], &idx))
            cur = json_array_get(cur, idx);
        else
            cur = NULL;
    }
    return cur;
}

/* One operation being applied: for messages. */
struct jop {
    size_t i;
    const char *op;
    const char *path;
};

static int jp_err(struct err *e, int code, const struct jop *o, const char *why)
{
    return err_setf(e, code, "json patch: op %zu (%s %s): %s", o->i, o->op, o->path, why);
}

/* Adds v (a new reference, consumed even on error) at p. */
static int jp_add(json_t **root, const struct ptr *p, json_t *v, const struct jop *o, struct err *e)
{
    json_t *parent;
    size_t idx;
    if (v == NULL)
        return jp_err(e, ERR_NOMEM, o, "out of memory");
    if (p->n == 0) {
        json_decref(*root);
        *root = v;
        return 0;
    }
    parent = ptr_get(*root, p, p->n - 1);
    if (json_is_object(parent)) {
        if (json_object_set_new(parent, p->tok[p->n - 1], v) != 0)
            return jp_err(e, ERR_NOMEM, o, "out of memory");
        return 0;
    }
    if (!json_is_array(parent)) {
        json_decref(v);
        return jp_err(e, ERR_INVALID, o, "path not found");
    }
    if (strcmp(p->tok[p->n - 1], "-") == 0)
        idx = json_array_size(parent);
    else if (!parse_index(p->tok[p->n - 1], &idx)) {
        json_decref(v);
        return jp_err(e, ERR_INVALID, o, "invalid array index");
    }
    if (idx > json_array_size(parent)) {
        json_decref(v);
        return jp_err(e, ERR_INVALID, o, "array index out of range");
    }
    if (json_array_insert_new(parent, idx, v) != 0)
        return jp_err(e, ERR_NOMEM, o, "out of memory");
    return 0;
}

/* Removes the value at p; *out (if not NULL) gets a reference to it. */
static int jp_remove(json_t *root, const struct ptr *p, json_t **out, const struct jop *o,
                     struct err *e)
{
    json_t *parent, *v = NULL;
    size_t idx;
    if (p->n == 0)
        return jp_err(e, ERR_INVALID, o, "cannot remove the whole document");
    parent = ptr_get(root, p, p->n - 1);
    if (json_is_object(parent)) {
        v = json_object_get(parent, p->tok[p->n - 1]);
        if (v == NULL)
            return jp_err(e, ERR_INVALID, o, "path not found");
        json_incref(v);
        json_object_del(parent, p->tok[p->n - 1]);
    } else if (json_is_array(parent)) {
        if (!parse_index(p->tok[p->n - 1], &idx) || idx >= json_array_size(parent))
            return jp_err(e, ERR_INVALID, o, "path not found");
        v = json_incref(json_array_get(parent, idx));
        json_array_remove(parent, idx);
    } else {
        return jp_err(e, ERR_INVALID, o, "path not found");
    }
    if (out != NULL)
        *out = v;
    else
        json_decref(v);
    return 0;
}

static int jp_replace(json_t **root, const struct ptr *p, const json_t *value, const struct jop *o,
                      struct err *e)
{
    json_t *parent, *v;
    size_t idx;
    if (p->n > 0 && ptr_get(*root, p, p->n) == NULL)
        return jp_err(e, ERR_INVALID, o, "path not found");
    v = json_deep_copy(value);
    if (v == NULL)
        return jp_err(e, ERR_NOMEM, o, "out of memory");
    if (p->n == 0) {
        json_decref(*root);
        *root = v;
        return 0;
    }
    parent = ptr_get(*root, p, p->n - 1);
    if (json_is_object(parent)) {
        if (json_object_set_new(parent, p->tok[p->n - 1], v) != 0)
            return jp_err(e, ERR_NOMEM, o, "out of memory");
        return 0;
    }
    /* ptr_get found the target, so parent is an array and the index valid */
    parse_index(p->tok[p->n - 1], &idx);
    if (json_array_set_new(parent, idx, v) != 0)
        return jp_err(e, ERR_NOMEM, o, "out of memory");
    return 0;
}

/* "from" of move/copy, parsed and checked to exist. */
static int jp_from(json_t *root, const json_t *op, struct ptr *from, const struct jop *o,
                   struct err *e)
{
    const char *fs = json_string_value(json_object_get(op, "from"));
    int rv;
    if (fs == NULL)
        return jp_err(e, ERR_INVALID, o, "missing \"from\"");
    rv = ptr_parse(fs, from);
    if (rv == ERR_NOMEM)
        return jp_err(e, ERR_NOMEM, o, "out of memory");
    if (rv != 0)
        return jp_err(e, ERR_INVALID, o, "invalid \"from\" pointer");
    if (ptr_get(root, from, from->n) == NULL) {
        ptr_free(from);
        return jp_err(e, ERR_INVALID, o, "\"from\" path not found");
    }
    return 0;
}

static int jp_move(json_t **root, const json_t *op, const struct ptr *p, const struct jop *o,
                   struct err *e)
{
    const char *fs = json_string_value(json_object_get(op, "from"));
    struct ptr from;
    size_t fl;
    json_t *v = NULL;
    int rv = jp_from(*root, op, &from, o, e);
    if (rv != 0)
        return rv;
    fl = strlen(fs);
    if (strcmp(fs, o->path) == 0) {
        ptr_free(&from);
        return 0;
    }
    /* RFC 6902 4.4: "from" must not be a proper prefix of "path" */
    if (strncmp(fs, o->path, fl) == 0 && o->path[fl] == '/') {
        ptr_free(&from);
        return jp_err(e, ERR_INVALID, o, "cannot move a value into one of its children");
    }
    rv = jp_remove(*root, &from, &v, o, e);
    ptr_free(&from);
    if (rv != 0)
        return rv;
    return jp_add(root, p, v, o, e);
}

static int jp_copy(json_t **root, const json_t *op, const struct ptr *p, const struct jop *o,
                   struct err *e)
{
    struct ptr from;
    json_t *v;
    int rv = jp_from(*root, op, &from, o, e);
    if (rv != 0)
        return rv;
    v = json_deep_copy(ptr_get(*root, &from, from.n));
    ptr_free(&from);
    return jp_add(root, p, v, o, e);
}

static int jp_one(json_t **root, const json_t *op, struct jop *o, struct err *e)
{
    const json_t *value = json_object_get(op, "value");
    struct ptr p;
    int rv;
    if (!json_is_object(op))
        return err_setf(e, ERR_INVALID, "json patch: op %zu: not an object", o->i);
    o->op = json_string_value(json_object_get(op, "op"));
    o->path = json_string_value(json_object_get(op, "path"));
    if (o->op == NULL)
        return err_setf(e, ERR_INVALID, "json patch: op %zu: missing \"op\"", o->i);
    if (o->path == NULL)
        return err_setf(e, ERR_INVALID, "json patch: op %zu (%s): missing \"path\"", o->i, o->op);
    rv = ptr_parse(o->path, &p);
    if (rv == ERR_NOMEM)
        return jp_err(e, ERR_NOMEM, o, "out of memory");
    if (rv != 0)
        return jp_err(e, ERR_INVALID, o, "invalid json pointer");
    if (value == NULL && (strcmp(o->op, "add") == 0 || strcmp(o->op, "replace") == 0 ||
                          strcmp(o->op, "test") == 0)) {
        rv = jp_err(e, ERR_INVALID, o, "missing \"value\"");
    } else if (strcmp(o->op, "add") == 0) {
        rv = jp_add(root, &p, json_deep_copy(value), o, e);
    } else if (strcmp(o->op, "remove") == 0) {
        rv = jp_remove(*root, &p, NULL, o, e);
    } else if (strcmp(o->op, "replace") == 0) {
        rv = jp_replace(root, &p, value, o, e);
    } else if (strcmp(o->op, "move") == 0) {
        rv = jp_move(root, op, &p, o, e);
    } else if (strcmp(o->op, "copy") == 0) {
        rv = jp_copy(root, op, &p, o, e);
    } else if (strcmp(o->op, "test") == 0) {
        const json_t *cur = ptr_get(*root, &p, p.n);
        if (cur == NULL)
            rv = jp_err(e, ERR_CONFLICT, o, "test failed: path not found");
        else if (!value_equal(cur, value))
            rv = jp_err(e, ERR_CONFLICT, o, "test failed: value differs");
    } else {
        rv = jp_err(e, ERR_INVALID, o, "unknown operation");
    }
    ptr_free(&p);
    return rv;
}

int api__json_patch(json_t **doc, const json_t *ops, struct err *e)
{
    json_t *work;
    size_t i, n;
    int rv = 0;
    if (doc == NULL || *doc == NULL)
        return err_setf(e, ERR_INVALID, "json patch: missing document");
    if (!json_is_array(ops))
        return err_setf(e, ERR_INVALID, "json patch: the body must be a JSON array of operations");
    n = json_array_size(ops);
    if (n > JSON_PATCH_MAX_OPS)
        return err_setf(e, ERR_INVALID, "json patch: %zu operations, at most %d allowed", n,
                        JSON_PATCH_MAX_OPS);
    work = json_deep_copy(*doc);
    if (work == NULL)
        return err_setf(e, ERR_NOMEM, "json patch: out of memory");
    for (i = 0; i < n && rv == 0; i++) {
        struct jop o = {i, "", ""};
        rv = jp_one(&work, json_array_get(ops, i), &o, e);
    }
    if (rv != 0) {
        json_decref(work);
        return rv;
    }
    json_decref(*doc);
    *doc = work;
    return 0;
}

/* ------------------------------------------------- strategic merge patch */

/* The field path being patched, as the apiserver prints it
 * ("spec.template.spec.containers[1]"). Truncated, never overflowed. */
struct spath {
    char buf[400];
    size_t len;
};

static size_t sp_push(struct spath *p, const char *fmt, const char *s, size_t i)
{
    size_t old = p->len;
    int n;
    if (fmt == NULL)
        n = snprintf(p->buf + old, sizeof p->buf - old, "%s%s", old > 0 ? "." : "", s);
    else
        n = snprintf(p->buf + old, sizeof p->buf - old, fmt, i);
    if (n > 0)
        p->len = old + (size_t)n < sizeof p->buf ? old + (size_t)n : sizeof p->buf - 1;
    return old;
}

static void sp_pop(struct spath *p, size_t old)
{
    p->len = old;
    p->buf[old] = '\0';
}

static int smp_err(struct err *e, int code, const struct spath *p, const char *what,
                   const char *why)
{
    return err_setf(e, code, SMP "%s%s%s: %s", p->buf, p->len > 0 && what[0] != '\0' ? "." : "",
                    what, why);
}

static int smp_nomem(struct err *e)
{
    return err_setf(e, ERR_NOMEM, SMP "out of memory");
}

static bool is_struct(const struct api_sch *t)
{
    return t != NULL && (t->type == API_SCH_OBJECT || t->type == API_SCH_MAP);
}

#define PFX_ORDER   "$setElementOrder/"
#define PFX_DELPRIM "$deleteFromPrimitiveList/"

static bool is_directive(const char *k)
{
    return strcmp(k, "$patch") == 0 || strcmp(k, "$retainKeys") == 0 ||
           strncmp(k, PFX_ORDER, strlen(PFX_ORDER)) == 0 ||
           strncmp(k, PFX_DELPRIM, strlen(PFX_DELPRIM)) == 0;
}

static int smp_map(json_t *live, const json_t *patch, const struct api_sch *s, struct spath *p,
                   bool *deleted, struct err *e);

/* "$patch": "replace": the map becomes the patch without its directives. */
static int smp_replace_map(json_t *live, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_clear(live);
    json_object_foreach ((json_t *)patch, k, v) {
        if (!is_directive(k) && set_copy(live, k, v) != 0)
            return -1;
    }
    return 0;
}

/* Index of the element of list whose merge key mk equals kv, or -1. */
static long find_keyed(const json_t *list, const char *mk, const json_t *kv)
{
    size_t i;
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *el = json_array_get(list, i);
        const json_t *ek = json_object_get(el, mk);
        if (ek != NULL && value_equal(ek, kv))
            return (long)i;
    }
    return -1;
}

/* A list element that is a "$patch" directive object: 0 (not one),
 * 1 replace, 2 delete; -1 invalid (error set). */
static int list_directive(const json_t *el, const struct api_sch_finfo *fi, struct spath *p,
                          size_t i, struct err *e)
{
    const json_t *d = json_object_get(el, "$patch");
    const char *ds = json_string_value(d);
    size_t old;
    int rv = -1;
    if (d == NULL)
        return 0;
    old = sp_push(p, "[%zu]", NULL, i);
    if (ds != NULL && strcmp(ds, "replace") == 0)
        rv = 1;
    else if (ds != NULL && strcmp(ds, "delete") == 0 && api__sch_keyed(fi))
        rv = 2;
    else if (ds != NULL && strcmp(ds, "delete") == 0)
        smp_err(e, ERR_INVALID, p, "$patch", "delete needs a list with a merge key");
    else
        smp_err(e, ERR_INVALID, p, "$patch", "invalid directive in a list");
    sp_pop(p, old);
    return rv;
}

/* Keyed list: patch elements merge into live elements with the same key,
 * new keys are appended in patch order, "$patch": "delete" removes. */
static int smp_keyed(json_t *list, const json_t *pl, const struct api_sch_finfo *fi,
                     struct spath *p, struct err *e)
{
    const char *mk = fi->merge_key;
    size_t i;
    for (i = 0; i < json_array_size(pl); i++) {
        const json_t *pe = json_array_get(pl, i);
        const json_t *kv = json_object_get(pe, mk);
        size_t old = sp_push(p, "[%zu]", NULL, i);
        bool deleted = false;
        long j;
        int rv;
        if (!json_is_object(pe)) {
            rv = smp_err(e, ERR_INVALID, p, "", "list element must be an object");
            sp_pop(p, old);
            return rv;
        }
        if (kv == NULL) {
            rv = err_setf(e, ERR_INVALID, SMP "%s: does not contain declared merge key: %s", p->buf,
                          mk);
            sp_pop(p, old);
            return rv;
        }
        if (json_object_get(pe, "$patch") != NULL) { /* delete, checked before */
            while ((j = find_keyed(list, mk, kv)) >= 0)
                json_array_remove(list, (size_t)j);
            sp_pop(p, old);
            continue;
        }
        j = find_keyed(list, mk, kv);
        if (j >= 0 && json_is_object(json_array_get(list, (size_t)j))) {
            rv = smp_map(json_array_get(list, (size_t)j), pe, fi->type->elem, p, &deleted, e);
        } else {
            json_t *nel = json_object();
            if (nel == NULL || json_array_append_new(list, nel) != 0) {
                sp_pop(p, old);
                return smp_nomem(e);
            }
            rv = smp_map(nel, pe, fi->type->elem, p, &deleted, e);
        }
        sp_pop(p, old);
        if (rv != 0)
            return rv;
    }
    return 0;
}

/* Set-like list (strategy merge, no key): live order, then the new ones. */
static int smp_union(json_t *list, const json_t *pl)
{
    size_t i, j;
    for (i = 0; i < json_array_size(pl); i++) {
        const json_t *pv = json_array_get(pl, i);
        bool seen = false;
        for (j = 0; j < json_array_size(list) && !seen; j++)
            seen = value_equal(json_array_get(list, j), pv);
        if (!seen && json_array_append_new(list, json_deep_copy(pv)) != 0)
            return -1;
    }
    return 0;
}

/* live[key] patched by the list pl. */
static int smp_list(json_t *live, const char *key, const json_t *pl, const struct api_sch_finfo *fi,
                    struct spath *p, struct err *e)
{
    json_t *list = json_object_get(live, key), *out;
    bool replace = false;
    size_t i;
    for (i = 0; i < json_array_size(pl); i++) {
        int d = list_directive(json_array_get(pl, i), fi, p, i, e);
        if (d < 0)
            return e != NULL ? e->code : ERR_INVALID;
        replace = replace || d == 1;
    }
    if (replace || (!api__sch_keyed(fi) && !api__sch_set(fi))) {
        /* atomic list, or [{"$patch": "replace"}, ...]: the patch's own
         * elements, directive elements dropped */
        out = json_array();
        for (i = 0; out != NULL && i < json_array_size(pl); i++) {
            const json_t *el = json_array_get(pl, i);
            if (json_object_get(el, "$patch") != NULL)
                continue;
            if (json_array_append_new(out, json_deep_copy(el)) != 0) {
                json_decref(out);
                out = NULL;
            }
        }
        if (out == NULL || json_object_set_new(live, key, out) != 0)
            return smp_nomem(e);
        return 0;
    }
    if (!json_is_array(list)) {
        list = json_array();
        if (json_object_set_new(live, key, list) != 0)
            return smp_nomem(e);
    }
    if (api__sch_set(fi))
        return smp_union(list, pl) == 0 ? 0 : smp_nomem(e);
    return smp_keyed(list, pl, fi, p, e);
}

/* live[key] patched by pv (not null). */
static int smp_value(json_t *live, const char *key, const json_t *pv, const struct api_sch *s,
                     struct spath *p, struct err *e)
{
    struct api_sch_finfo fi = api__sch_field_info(s, key);
    json_t *cur = json_object_get(live, key);
    bool deleted = false;
    int rv;
    if (json_is_array(pv)) {
        if (fi.type != NULL && fi.type->type == API_SCH_ARRAY)
            return smp_list(live, key, pv, &fi, p, e);
        return set_copy(live, key, pv) == 0 ? 0 : smp_nomem(e);
    }
    if (!json_is_object(pv))
        return set_copy(live, key, pv) == 0 ? 0 : smp_nomem(e);
    if (!json_is_object(cur)) {
        /* new map: merged into an empty one so that nulls and directives
         * in it are processed rather than stored */
        cur = json_object();
        if (json_object_set_new(live, key, cur) != 0)
            return smp_nomem(e);
    }
    if (!is_struct(fi.type)) /* unknown or FREE: RFC 7386 */
        return merge_into(cur, pv) == 0 ? 0 : smp_nomem(e);
    rv = smp_map(cur, pv, fi.type, p, &deleted, e);
    if (rv == 0 && deleted)
        json_object_del(live, key);
    return rv;
}

/* "$retainKeys": keys of live not listed are dropped (before merging, as
 * Kubernetes does; the patch sets the listed ones). */
static int smp_retain(json_t *live, const json_t *keys, struct spath *p, struct err *e)
{
    const char *k;
    json_t *v, *tmp;
    size_t i;
    if (!json_is_array(keys))
        return smp_err(e, ERR_INVALID, p, "$retainKeys", "must be a list of strings");
    for (i = 0; i < json_array_size(keys); i++)
        if (!json_is_string(json_array_get(keys, i)))
            return smp_err(e, ERR_INVALID, p, "$retainKeys", "must be a list of strings");
    json_object_foreach_safe(live, tmp, k, v)
    {
        bool keep = false;
        for (i = 0; i < json_array_size(keys) && !keep; i++)
            keep = strcmp(json_string_value(json_array_get(keys, i)), k) == 0;
        if (!keep)
            json_object_del(live, k);
    }
    return 0;
}

static int smp_del_primitive(json_t *live, const char *dk, const json_t *vals, struct spath *p,
                             struct err *e)
{
    json_t *list = json_object_get(live, dk + strlen(PFX_DELPRIM));
    size_t i, j;
    if (!json_is_array(vals))
        return smp_err(e, ERR_INVALID, p, dk, "must be a list");
    for (i = json_array_size(list); i-- > 0;) {
        for (j = 0; j < json_array_size(vals); j++) {
            if (value_equal(json_array_get(list, i), json_array_get(vals, j))) {
                json_array_remove(list, i);
                break;
            }
        }
    }
    return 0;
}

/* "$setElementOrder/<field>": the listed elements first, in that order,
 * then the others in their current relative order. */
static int smp_order(json_t *live, const char *dk, const json_t *order, const struct api_sch *s,
                     struct spath *p, struct err *e)
{
    const char *field = dk + strlen(PFX_ORDER);
    struct api_sch_finfo fi = api__sch_field_info(s, field);
    const char *mk = api__sch_keyed(&fi) ? fi.merge_key : NULL;
    json_t *list = json_object_get(live, field), *out;
    size_t i, j, n = json_array_size(list);
    bool *taken;
    if (!json_is_array(order))
        return smp_err(e, ERR_INVALID, p, dk, "must be a list");
    for (i = 0; mk != NULL && i < json_array_size(order); i++) {
        if (json_object_get(json_array_get(order, i), mk) == NULL) {
            char what[160];
            snprintf(what, sizeof what, "%s[%zu]", dk, i);
            return err_setf(e, ERR_INVALID, SMP "%s%s%s: does not contain declared merge key: %s",
                            p->buf, p->len > 0 ? "." : "", what, mk);
        }
    }
    if (!json_is_array(list) || n == 0)
        return 0;
    taken = calloc(n, sizeof *taken);
    out = json_array();
    if (taken == NULL || out == NULL)
        goto nomem;
    for (i = 0; i < json_array_size(order); i++) {
        const json_t *o = json_array_get(order, i);
        for (j = 0; j < n; j++) {
            const json_t *el = json_array_get(list, j);
            bool match = mk != NULL ? value_equal(json_object_get(el, mk), json_object_get(o, mk))
                                    : value_equal(el, o);
            if (!taken[j] && match) {
                taken[j] = true;
                if (json_array_append(out, json_array_get(list, j)) != 0)
                    goto nomem;
                break;
            }
        }
    }
    for (j = 0; j < n; j++)
        if (!taken[j] && json_array_append(out, json_array_get(list, j)) != 0)
            goto nomem;
    free(taken);
    return json_object_set_new(live, field, out) == 0 ? 0 : smp_nomem(e);
nomem:
    free(taken);
    json_decref(out);
    return smp_nomem(e);
}

/* live (an exclusively owned object) patched by patch (an object) under
 * schema s (OBJECT or MAP; NULL unknown). *deleted: "$patch": "delete". */
static int smp_map(json_t *live, const json_t *patch, const struct api_sch *s, struct spath *p,
                   bool *deleted, struct err *e)
{
    const json_t *d = json_object_get(patch, "$patch");
    const char *k;
    json_t *v;
    int rv;
    if (d != NULL) {
        const char *ds = json_string_value(d);
        if (ds != NULL && strcmp(ds, "replace") == 0)
            return smp_replace_map(live, patch) == 0 ? 0 : smp_nomem(e);
        if (ds != NULL && strcmp(ds, "delete") == 0) {
            *deleted = true;
            return 0;
        }
        if (ds == NULL || strcmp(ds, "merge") != 0)
            return smp_err(e, ERR_INVALID, p, "$patch", "invalid directive");
    }
    d = json_object_get(patch, "$retainKeys");
    if (d != NULL && (rv = smp_retain(live, d, p, e)) != 0)
        return rv;
    json_object_foreach ((json_t *)patch, k, v) {
        if (strncmp(k, PFX_DELPRIM, strlen(PFX_DELPRIM)) == 0 &&
            (rv = smp_del_primitive(live, k, v, p, e)) != 0)
            return rv;
    }
    json_object_foreach ((json_t *)patch, k, v) {
        size_t old;
        if (is_directive(k))
            continue;
        if (json_is_null(v)) {
            json_object_del(live, k);
            continue;
        }
        old = sp_push(p, NULL, k, 0);
        rv = smp_value(live, k, v, s, p, e);
        sp_pop(p, old);
        if (rv != 0)
            return rv;
    }
    json_object_foreach ((json_t *)patch, k, v) {
        if (strncmp(k, PFX_ORDER, strlen(PFX_ORDER)) == 0 &&
            (rv = smp_order(live, k, v, s, p, e)) != 0)
            return rv;
    }
    return 0;
}

int api__strategic_patch(json_t **doc, const json_t *patch, const struct api_sch *s, struct err *e)
{
    struct spath p;
    json_t *work;
    bool deleted = false;
    int rv;
    if (doc == NULL || patch == NULL)
        return err_setf(e, ERR_INVALID, SMP "missing document or patch");
    if (!json_is_object(patch))
        return err_setf(e, ERR_INVALID, SMP "the patch must be a JSON object");
    if (s == NULL)
        return api__merge_patch(doc, patch, e);
    work = json_is_object(*doc) ? json_deep_copy(*doc) : json_object();
    if (work == NULL)
        return smp_nomem(e);
    p.buf[0] = '\0';
    p.len = 0;
    rv = smp_map(work, patch, s, &p, &deleted, e);
    if (rv != 0) {
        json_decref(work);
        return rv;
    }
    if (deleted)
        json_object_clear(work);
    json_decref(*doc);
    *doc = work;
    return 0;
}
