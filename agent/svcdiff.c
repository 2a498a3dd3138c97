/* An incremental update between two rulesets of agent__svc_ruleset (see
 * agent/svcrules.h): replacing the whole table costs the kernel time in
 * proportion to every chain of every Service (1.4 s at 1,000 Services x
 * 10 endpoints), while an endpoint change touches a few chains and map
 * elements. Works on the text, block by block: the generator writes every
 * set, map and chain as "\t<kind> <name> {" ... "\t}" lines in a fixed
 * shape, so two texts compare chain by chain. */
#include "agent/svcrules.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct block {
    char kind[8];     /* set, map, chain */
    char name[256];   /* as written */
    const char *body; /* the lines between the header and "\t}", borrowed */
    size_t body_len;
};

struct blocks {
    struct block *v;
    size_t n, cap;
    char table[256];
};

/* Splits a ruleset into its blocks. Returns false when the text is not in
 * the generator's shape (the caller replaces the table instead). */
static bool parse(const char *text, struct blocks *b)
{
    const char *p, *open;
    char want[300];

    if (sscanf(text, "table ip %255s\n", b->table) != 1)
        return false;
    snprintf(want, sizeof want, "table ip %s {\n", b->table);
    if ((open = strstr(text, want)) == NULL)
        return false;
    p = open + strlen(want);
    while (*p == '\t') {
        struct block *k;
        const char *eol = strchr(p, '\n'), *end;
        char kind[8], name[256], line[300];
        /* sscanf on the line alone: on the whole text it would measure
         * the text's length at every block */
        if (eol == NULL || (size_t)(eol - p) >= sizeof line)
            return false;
        memcpy(line, p, (size_t)(eol - p));
        line[eol - p] = '\0';
        if (sscanf(line, "\t%7s %255s {", kind, name) != 2 ||
            (strcmp(kind, "set") != 0 && strcmp(kind, "map") != 0 &&
             strcmp(kind, "chain") != 0))
            return false;
        if (b->n == b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 64;
            struct block *v = realloc(b->v, cap * sizeof *v);
            if (v == NULL)
                return false;
            b->v = v;
            b->cap = cap;
        }
        k = &b->v[b->n++];
        snprintf(k->kind, sizeof k->kind, "%s", kind);
        snprintf(k->name, sizeof k->name, "%s", name);
        k->body = eol + 1;
        if (strncmp(eol + 1, "\t}\n", 3) == 0) { /* an empty body */
            k->body_len = 0;
            p = eol + 4;
            continue;
        }
        /* body lines start with two tabs: the first one-tab "}" ends it */
        if ((end = strstr(eol + 1, "\n\t}\n")) == NULL)
            return false;
        k->body_len = (size_t)(end + 1 - k->body);
        p = end + 4;
    }
    return strcmp(p, "}\n") == 0;
}

static const struct block *find(const struct blocks *b, const json_t *index, const char *kind,
                                const char *name)
{
    char key[300];
    json_t *i;
    snprintf(key, sizeof key, "%s %s", kind, name);
    i = json_object_get(index, key);
    return i ? &b->v[json_integer_value(i)] : NULL;
}

static json_t *index_of(const struct blocks *b)
{
    json_t *o = json_object();
    char key[300];
    for (size_t i = 0; o != NULL && i < b->n; i++) {
        snprintf(key, sizeof key, "%s %s", b->v[i].kind, b->v[i].name);
        json_object_set_new(o, key, json_integer((json_int_t)i));
    }
    return o;
}

static bool same(const struct block *x, const struct block *y)
{
    return x->body_len == y->body_len && memcmp(x->body, y->body, x->body_len) == 0;
}

/* A base chain (one with a hook) or a set/map declaration other than its
 * elements changing means the table's frame changed: replace it whole. */
static bool is_base(const struct block *k)
{
    return strcmp(k->kind, "chain") == 0 && strncmp(k->body, "\t\ttype ", 7) == 0;
}

/* The "elements = { ... }" part of a set/map body (without the keyword and
 * braces) and the declaration before it. */
static void split_elements(const struct block *k, const char **decl_end, const char **el,
                           size_t *el_len)
{
    static const char kw[] = "\t\telements = { ";
    const char *stop = k->body + k->body_len, *at;
    *decl_end = stop;
    *el = NULL;
    *el_len = 0;
    for (at = k->body; at + sizeof kw - 1 <= stop; at++)
        if (memcmp(at, kw, sizeof kw - 1) == 0)
            break;
    if (at + sizeof kw - 1 > stop)
        return;
    *decl_end = at;
    *el = at + sizeof kw - 1;
    /* the body ends " }\n" */
    *el_len = (size_t)(stop - *el) >= 3 ? (size_t)(stop - *el) - 3 : 0;
}

int agent__svc_diff(const char *old_text, const char *new_text, char **out, struct err *e)
{
    struct blocks o, n;
    json_t *oi = NULL, *ni = NULL;
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = NULL;
    int rv = ERR_INVALID;

    *out = NULL;
    memset(&o, 0, sizeof o);
    memset(&n, 0, sizeof n);
    if (old_text == NULL || !parse(old_text, &o) || !parse(new_text, &n) ||
        strcmp(o.table, n.table) != 0)
        goto full;
    if ((oi = index_of(&o)) == NULL || (ni = index_of(&n)) == NULL ||
        (f = open_memstream(&text, &len)) == NULL) {
        rv = err_setf(e, ERR_NOMEM, "service rules: out of memory");
        goto out;
    }
    /* the frame: base chains and set/map declarations must be unchanged */
    for (i = 0; i < n.n; i++) {
        const struct block *nk = &n.v[i], *ok = find(&o, oi, nk->kind, nk->name);
        if (is_base(nk) && (ok == NULL || !same(ok, nk)))
            goto full;
        if (ok != NULL && strcmp(nk->kind, "chain") != 0) {
            const char *od, *nd, *oe, *ne;
            size_t ol, nl;
            split_elements(ok, &od, &oe, &ol);
            split_elements(nk, &nd, &ne, &nl);
            if (od - ok->body != nd - nk->body || memcmp(ok->body, nk->body, (size_t)(od - ok->body)))
                goto full;
        }
    }
    for (i = 0; i < o.n; i++)
        if (is_base(&o.v[i]) && find(&n, ni, o.v[i].kind, o.v[i].name) == NULL)
            goto full;

    /* 1. new sets, maps and chains (one table block: chains may name each
     * other and the new sets in any order there) */
    fprintf(f, "table ip %s {\n", n.table);
    for (int pass = 0; pass < 2; pass++)
        for (i = 0; i < n.n; i++) {
            const struct block *nk = &n.v[i];
            if ((strcmp(nk->kind, "chain") == 0) != (pass == 1) ||
                find(&o, oi, nk->kind, nk->name) != NULL)
                continue;
            fprintf(f, "\t%s %s {\n%.*s\t}\n", nk->kind, nk->name, (int)nk->body_len, nk->body);
        }
    /* 2. changed chains: emptied here, refilled in the same block below */
    fprintf(f, "}\n");
    for (i = 0; i < n.n; i++) {
        const struct block *nk = &n.v[i], *ok = find(&o, oi, nk->kind, nk->name);
        if (ok != NULL && strcmp(nk->kind, "chain") == 0 && !same(ok, nk))
            fprintf(f, "flush chain ip %s %s\n", n.table, nk->name);
    }
    fprintf(f, "table ip %s {\n", n.table);
    for (i = 0; i < n.n; i++) {
        const struct block *nk = &n.v[i], *ok = find(&o, oi, nk->kind, nk->name);
        if (ok != NULL && strcmp(nk->kind, "chain") == 0 && !same(ok, nk))
            fprintf(f, "\tchain %s {\n%.*s\t}\n", nk->name, (int)nk->body_len, nk->body);
    }
    fprintf(f, "}\n");
    /* 3. set and map elements */
    for (i = 0; i < n.n; i++) {
        const struct block *nk = &n.v[i], *ok = find(&o, oi, nk->kind, nk->name);
        const char *d, *el;
        size_t el_len;
        if (ok == NULL || strcmp(nk->kind, "chain") == 0 || same(ok, nk))
            continue;
        split_elements(nk, &d, &el, &el_len);
        fprintf(f, "flush %s ip %s %s\n", nk->kind, n.table, nk->name);
        if (el != NULL && el_len > 0)
            fprintf(f, "add element ip %s %s { %.*s }\n", n.table, nk->name, (int)el_len, el);
    }
    /* 4. what is gone: chains emptied first (one may jump to another),
     * then deleted, then the sets and maps they used */
    for (i = 0; i < o.n; i++)
        if (strcmp(o.v[i].kind, "chain") == 0 && find(&n, ni, "chain", o.v[i].name) == NULL)
            fprintf(f, "flush chain ip %s %s\n", o.table, o.v[i].name);
    for (i = 0; i < o.n; i++)
        if (strcmp(o.v[i].kind, "chain") == 0 && find(&n, ni, "chain", o.v[i].name) == NULL)
            fprintf(f, "delete chain ip %s %s\n", o.table, o.v[i].name);
    for (i = 0; i < o.n; i++)
        if (strcmp(o.v[i].kind, "chain") != 0 && find(&n, ni, o.v[i].kind, o.v[i].name) == NULL)
            fprintf(f, "delete %s ip %s %s\n", o.v[i].kind, o.table, o.v[i].name);
    if (fclose(f) != 0) {
        f = NULL;
        rv = err_setf(e, ERR_NOMEM, "service rules: out of memory");
        goto out;
    }
    f = NULL;
    *out = text;
    text = NULL;
    rv = 0;
    goto out;
full:
    rv = err_setf(e, ERR_INVALID, "service rules: the table's frame changed: replace it whole");
out:
    if (f != NULL)
        fclose(f);
    free(text);
    json_decref(oi);
    json_decref(ni);
    free(o.v);
    free(n.v);
    return rv;
}
