/* Kubernetes label selectors (the set-based grammar of
 * k8s.io/apimachinery/pkg/labels): requirements separated by commas, each
 * `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`. Parsed
 * once per request, matched per object. */
#include "api/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct lexer {
    const char *s;
    size_t i;
};

static void skip_ws(struct lexer *lx)
{
    while (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t')
        lx->i++;
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

/* Reads a key or value word; returns a malloc'ed copy or NULL when empty. */
static char *word(struct lexer *lx)
{
    size_t start;
    skip_ws(lx);
    start = lx->i;
    while (is_word_char(lx->s[lx->i]))
        lx->i++;
    if (lx->i == start)
        return NULL;
    return strndup(lx->s + start, lx->i - start);
}

static int check_key(const char *k, struct err *e)
{
    const char *slash = strrchr(k, '/');
    const char *name = slash ? slash + 1 : k;
    size_t n = strlen(name);
    if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]) ||
        !isalnum((unsigned char)name[n - 1]))
        return err_setf(e, ERR_INVALID,
                        "labelSelector: invalid label key \"%s\": name part must consist of "
                        "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                        "alphanumeric character",
                        k);
    return 0;
}

static int check_value(const char *v, struct err *e)
{
    size_t n = strlen(v);
    if (n > 63 || (n > 0 && (!isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))) ||
        strchr(v, '/') != NULL)
        return err_setf(e, ERR_INVALID,
                        "labelSelector: invalid label value \"%s\": must be 63 characters or "
                        "less and must be empty or begin and end with an alphanumeric character",
                        v);
    return 0;
}

static void req_clear(struct api_sel_req *r)
{
    size_t i;
    free(r->key);
    for (i = 0; i < r->n_values; i++)
        free(r->values[i]);
    memset(r, 0, sizeof *r);
}

/* "(a, b, c)" after in/notin. */
static int value_set(struct lexer *lx, struct api_sel_req *r, struct err *e)
{
    skip_ws(lx);
    if (lx->s[lx->i] != '(')
        return err_setf(e, ERR_INVALID, "labelSelector: expected '(' after \"%s\" at %zu",
                        r->op == API_SEL_IN ? "in" : "notin", lx->i);
    lx->i++;
    for (;;) {
        char *v = word(lx);
        if (v == NULL)
            v = strdup(""); /* empty value is legal: "k in (,a)" */
        if (v == NULL)
            return err_setf(e, ERR_NOMEM, "labelSelector: out of memory");
        if (r->n_values == API_SEL_VALUES_MAX) {
            free(v);
            return err_setf(e, ERR_INVALID, "labelSelector: more than %d values for \"%s\"",
                            API_SEL_VALUES_MAX, r->key);
        }
        r->values[r->n_values++] = v;
        if (check_value(v, e) != 0)
            return ERR_INVALID;
        skip_ws(lx);
        if (lx->s[lx->i] == ',') {
            lx->i++;
            continue;
        }
        if (lx->s[lx->i] == ')') {
            lx->i++;
            return 0;
        }
        return err_setf(e, ERR_INVALID, "labelSelector: expected ',' or ')' at %zu", lx->i);
    }
}

static int requirement(struct lexer *lx, struct api_sel_req *r, struct err *e)
{
    char *v;
    skip_ws(lx);
    if (lx->s[lx->i] == '!') {
        lx->i++;
        r->op = API_SEL_ABSENT;
    }
    r->key = word(lx);
    if (r->key == NULL)
        return err_setf(e, ERR_INVALID, "labelSelector: expected a label key at %zu", lx->i);
    if (check_key(r->key, e) != 0)
        return ERR_INVALID;
    skip_ws(lx);
    if (r->op == API_SEL_ABSENT)
        return 0;
    if (lx->s[lx->i] == ',' || lx->s[lx->i] == '\0') {
        r->op = API_SEL_EXISTS;
        return 0;
    }
    if (strncmp(lx->s + lx->i, "!=", 2) == 0) {
        r->op = API_SEL_NE;
        lx->i += 2;
    } else if (strncmp(lx->s + lx->i, "==", 2) == 0) {
        r->op = API_SEL_EQ;
        lx->i += 2;
    } else if (lx->s[lx->i] == '=') {
        r->op = API_SEL_EQ;
        lx->i += 1;
    } else if (strncmp(lx->s + lx->i, "notin", 5) == 0 && !is_word_char(lx->s[lx->i + 5])) {
        r->op = API_SEL_NOTIN;
        lx->i += 5;
        return value_set(lx, r, e);
    } else if (strncmp(lx->s + lx->i, "in", 2) == 0 && !is_word_char(lx->s[lx->i + 2])) {
        r->op = API_SEL_IN;
        lx->i += 2;
        return value_set(lx, r, e);
    } else {
        return err_setf(e, ERR_INVALID,
                        "labelSelector: unexpected \"%c\" after \"%s\" at %zu (want =, ==, !=, "
                        "in, notin, ',' or end)",
                        lx->s[lx->i], r->key, lx->i);
    }
    v = word(lx);
    if (v == NULL)
        v = strdup("");
    if (v == NULL)
        return err_setf(e, ERR_NOMEM, "labelSelector: out of memory");
    r->values[r->n_values++] = v;
    return check_value(v, e);
}

int api__selector_parse(const char *s, struct api_selector *out, struct err *e)
{
    struct lexer lx = {s ? s : "", 0};
    size_t cap = 0;
    int rv;

    memset(out, 0, sizeof *out);
    skip_ws(&lx);
    if (lx.s[lx.i] == '\0')
        return 0;
    for (;;) {
        struct api_sel_req *r;
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct api_sel_req *n = realloc(out->reqs, ncap * sizeof *n);
            if (n == NULL) {
                rv = err_setf(e, ERR_NOMEM, "labelSelector: out of memory");
                goto out_free;
            }
            out->reqs = n;
            cap = ncap;
        }
        r = &out->reqs[out->n++];
        memset(r, 0, sizeof *r);
        rv = requirement(&lx, r, e);
        if (rv != 0)
            goto out_free;
        skip_ws(&lx);
        if (lx.s[lx.i] == '\0')
            return 0;
        if (lx.s[lx.i] != ',') {
            rv = err_setf(e, ERR_INVALID, "labelSelector: unexpected \"%c\" at %zu", lx.s[lx.i],
                          lx.i);
            goto out_free;
        }
        lx.i++;
    }
out_free:
    api__selector_close(out);
    return rv;
}

void api__selector_close(struct api_selector *sel)
{
    size_t i;
    if (sel == NULL)
        return;
    for (i = 0; i < sel->n; i++)
        req_clear(&sel->reqs[i]);
    free(sel->reqs);
    sel->reqs = NULL;
    sel->n = 0;
}

static bool in_values(const struct api_sel_req *r, const char *v)
{
    size_t i;
    for (i = 0; i < r->n_values; i++)
        if (strcmp(r->values[i], v) == 0)
            return true;
    return false;
}

bool api__selector_matches(const struct api_selector *sel, const json_t *labels)
{
    size_t i;
    for (i = 0; i < sel->n; i++) {
        const struct api_sel_req *r = &sel->reqs[i];
        const json_t *jv = json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
        const char *v = json_is_string(jv) ? json_string_value(jv) : NULL;
        bool ok;
        switch (r->op) {
        case API_SEL_EQ:
            ok = v != NULL && strcmp(v, r->values[0]) == 0;
            break;
        case API_SEL_NE: /* as in Kubernetes, an absent label satisfies != */
            ok = v == NULL || strcmp(v, r->values[0]) != 0;
            break;
        case API_SEL_EXISTS:
            ok = v != NULL;
            break;
        case API_SEL_ABSENT:
            ok = v == NULL;
            break;
        case API_SEL_IN:
            ok = v != NULL && in_values(r, v);
            break;
        case API_SEL_NOTIN:
            ok = v == NULL || !in_values(r, v);
            break;
        default:
            ok = false;
        }
        if (!ok)
            return false;
    }
    return true;
}
