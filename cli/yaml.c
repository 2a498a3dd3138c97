/* Manifests: YAML (libyaml's event parser) into jansson, and jansson back
 * out as YAML the way kubectl -o yaml prints it.
 *
 * Reading follows the YAML 1.2 core schema, which is what the apiserver's
 * sigs.k8s.io/yaml accepts for everything a manifest normally holds: plain
 * null/~/empty are null, true/false (three spellings) are bools, decimal, 0x
 * and 0o integers are integers, decimal floats are reals, everything else and
 * every quoted scalar is a string. "yes"/"on" stay strings (YAML 1.1 readers
 * disagree, so the writer quotes them).
 *
 * We use events, not yaml_parser_load(), for three reasons: the document
 * loader forgets whether a scalar was tagged !!str explicitly, it cannot
 * bound alias expansion, and it cannot report duplicate keys with both
 * positions. Non-string keys are converted to strings (1 -> "1", true ->
 * "true", null -> "null"), as the apiserver's YAML-to-JSON step does;
 * mappings or sequences used as keys are an error naming line:col. */
#include "cli/internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEPTH_MAX 256

struct frame {
    json_t *node; /* the container being built (owned) */
    bool is_map;
    char *key;      /* map: key waiting for its value (owned); NULL when a key is next */
    bool key_merge; /* the pending key is a plain "<<" */
    json_t *seen;   /* map: key -> [line, col] of its first occurrence */
    json_t *merges; /* map: mappings named by "<<", merged at the end */
    char *anchor;
    size_t expanded_at_start;
    size_t nodes_at_start;
};

struct loader {
    const char *name;
    struct frame stack[DEPTH_MAX];
    size_t depth;
    json_t *anchors; /* name -> {"v": value, "n": node count} */
    size_t nodes;    /* nodes built in this stream, counting alias copies */
    size_t expanded; /* nodes added by alias expansion */
    json_t *root;    /* the document's root once complete */
    struct err *e;
};

static int fail(struct loader *L, yaml_mark_t m, const char *fmt, const char *arg)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, arg);
    return err_setf(L->e, ERR_INVALID, "%s:%zu:%zu: %s", L->name, m.line + 1, m.column + 1, msg);
}

/* ---- scalar resolution ---- */

static bool is_null_word(const char *s)
{
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* 1 true, 0 false, -1 not a bool */
static int bool_word(const char *s)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return 1;
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return 0;
    return -1;
}

static bool all_in(const char *s, const char *set)
{
    return s[0] != '\0' && strspn(s, set) == strlen(s);
}

/* 1 an integer (in *v), 0 not integer-shaped, -1 integer-shaped but out of range */
static int int_word(const char *s, long long *v)
{
    const char *d = s;
    int base = 10;
    bool neg = false;
    unsigned long long u;
    char *end;
    if (*d == '-' || *d == '+')
        neg = *d++ == '-';
    if (d[0] == '0' && d[1] == 'x') {
        base = 16;
        d += 2;
        if (!all_in(d, "0123456789abcdefABCDEF"))
            return 0;
    } else if (d[0] == '0' && d[1] == 'o') {
        base = 8;
        d += 2;
        if (!all_in(d, "01234567"))
            return 0;
    } else if (!all_in(d, "0123456789")) {
        return 0;
    }
    errno = 0;
    u = strtoull(d, &end, base);
    if (errno == ERANGE || *end != '\0')
        return -1;
    if (neg ? u > (unsigned long long)LLONG_MAX + 1 : u > (unsigned long long)LLONG_MAX)
        return -1;
    *v = neg ? (long long)(0 - u) : (long long)u;
    return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool float_shaped(const char *s)
{
    size_t digits = 0;
    if (*s == '-' || *s == '+')
        s++;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++, digits++;
    }
    if (digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        size_t exp = 0;
        s++;
        if (*s == '-' || *s == '+')
            s++;
        while (*s >= '0' && *s <= '9')
            s++, exp++;
        if (exp == 0)
            return false;
    }
    return *s == '\0';
}

static bool inf_nan_word(const char *s)
{
    static const char *const w[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
    size_t i;
    if (*s == '-' || *s == '+')
        s++;
    for (i = 0; i < sizeof w / sizeof w[0]; i++)
        if (strcmp(s, w[i]) == 0)
            return true;
    return false;
}

#define TAG_PREFIX "tag:yaml.org,2002:"

static int resolve_int(struct loader *L, const char *s, yaml_mark_t m, json_t **out)
{
    long long v;
    int r = int_word(s, &v);
    if (r < 0)
        return fail(L, m, "integer %s out of range (int64)", s);
    if (r == 0)
        return fail(L, m, "cannot read \"%s\" as !!int", s);
    *out = json_integer(v);
    return 0;
}

static int resolve_float(struct loader *L, const char *s, yaml_mark_t m, json_t **out)
{
    double d;
    if (inf_nan_word(s))
        return fail(L, m, "%s cannot be represented in JSON", s);
    if (!float_shaped(s) && int_word(s, &(long long){0}) == 0)
        return fail(L, m, "cannot read \"%s\" as !!float", s);
    errno = 0;
    d = strtod(s, NULL);
    if (errno == ERANGE || !isfinite(d))
        return fail(L, m, "float %s out of range", s);
    *out = json_real(d);
    return 0;
}

/* The JSON value of a scalar event: explicit tags first, then (for plain
 * scalars only) the core schema. */
static int scalar_value(struct loader *L, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    yaml_mark_t m = ev->start_mark;
    long long v;
    int b, r;

    *out = NULL;
    if (tag != NULL && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
        const char *t = tag + strlen(TAG_PREFIX);
        if (strcmp(t, "int") == 0)
            return resolve_int(L, s, m, out);
        if (strcmp(t, "float") == 0)
            return resolve_float(L, s, m, out);
        if (strcmp(t, "bool") == 0) {
            if ((b = bool_word(s)) < 0)
                return fail(L, m, "cannot read \"%s\" as !!bool", s);
            *out = json_boolean(b);
            return 0;
        }
        if (strcmp(t, "null") == 0) {
            if (!is_null_word(s))
                return fail(L, m, "cannot read \"%s\" as !!null", s);
            *out = json_null();
            return 0;
        }
        if (strcmp(t, "map") == 0 || strcmp(t, "seq") == 0)
            return fail(L, m, "a scalar cannot be tagged !!%s", t);
        plain = false; /* !!str, !!binary, !!timestamp: the text as a string */
    } else if (tag != NULL && strcmp(tag, "!") == 0) {
        plain = false; /* the non-specific tag forces a string */
    }
    if (!plain) {
        *out = json_stringn(s, ev->data.scalar.length);
        return 0;
    }
    if (is_null_word(s))
        *out = json_null();
    else if ((b = bool_word(s)) >= 0)
        *out = json_boolean(b);
    else if ((r = int_word(s, &v)) > 0)
        *out = json_integer(v);
    else if (r < 0)
        return fail(L, m, "integer %s out of range (int64)", s);
    else if (inf_nan_word(s) || float_shaped(s))
        return resolve_float(L, s, m, out);
    else
        *out = json_stringn(s, ev->data.scalar.length);
    return 0;
}

/* ---- building ---- */

static void frame_free(struct frame *f)
{
    json_decref(f->node);
    free(f->key);
    json_decref(f->seen);
    json_decref(f->merges);
    free(f->anchor);
    memset(f, 0, sizeof *f);
}

static int remember_anchor(struct loader *L, const char *anchor, json_t *v, size_t n)
{
    if (anchor == NULL)
        return 0;
    if (json_object_set_new(L->anchors, anchor,
                            json_pack("{s:O, s:I}", "v", v, "n", (json_int_t)n)))
        return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    return 0;
}

/* Makes a string key out of a scalar the way the apiserver's YAML-to-JSON
 * conversion does (1 -> "1", true -> "true", ~ -> "null"). */
static int key_text(struct loader *L, const json_t *v, yaml_mark_t m, char **out)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        *out = strndup(json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = strdup(buf);
        break;
    case JSON_REAL:
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        *out = strdup(buf);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = strdup(json_is_true(v) ? "true" : "false");
        break;
    case JSON_NULL:
        *out = strdup("null");
        break;
    default:
        return fail(L, m, "%s", "a mapping key must be a scalar, not a mapping or sequence");
    }
    if (*out == NULL)
        return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    return 0;
}

static int set_key(struct loader *L, struct frame *f, json_t *keyv, bool merge, yaml_mark_t m)
{
    json_t *first;
    char *key;
    int rv = key_text(L, keyv, m, &key);
    if (rv != 0)
        return rv;
    if (merge) {
        f->key = key;
        f->key_merge = true;
        return 0;
    }
    first = json_object_get(f->seen, key);
    if (first != NULL) {
        rv = err_setf(L->e, ERR_INVALID,
                      "%s:%zu:%zu: duplicate key \"%.60s\" (first at %" JSON_INTEGER_FORMAT
                      ":%" JSON_INTEGER_FORMAT ")",
                      L->name, m.line + 1, m.column + 1, key,
                      json_integer_value(json_array_get(first, 0)),
                      json_integer_value(json_array_get(first, 1)));
        free(key);
        return rv;
    }
    if (json_object_set_new(
            f->seen, key, json_pack("[I, I]", (json_int_t)m.line + 1, (json_int_t)m.column + 1)) !=
        0) {
        free(key);
        return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    }
    f->key = key;
    f->key_merge = false;
    return 0;
}

/* Hands a finished value (stolen) to its parent: the document root, the
 * next sequence item, a mapping key or a mapping value. key_merge says the
 * value is the plain scalar "<<" (a merge key when in key position). */
static int add_value(struct loader *L, json_t *v, bool merge_word, yaml_mark_t m)
{
    struct frame *f;
    int rv = 0;
    if (v == NULL)
        return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    if (L->depth == 0) {
        L->root = v;
        return 0;
    }
    f = &L->stack[L->depth - 1];
    if (!f->is_map) {
        if (json_array_append_new(f->node, v) != 0)
            return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
        return 0;
    }
    if (f->key == NULL) {
        rv = set_key(L, f, v, merge_word, m);
        json_decref(v);
        return rv;
    }
    if (f->key_merge) {
        /* "<<: *base" or "<<: [*a, *b]": mappings merged under explicit keys */
        size_t i;
        json_t *it;
        if (json_is_object(v)) {
            json_array_append(f->merges, v);
        } else if (json_is_array(v)) {
            json_array_foreach (v, i, it) {
                if (!json_is_object(it))
                    break;
                json_array_append(f->merges, it);
            }
            if (i < json_array_size(v))
                rv = fail(L, m, "%s", "a merge key (<<) takes a mapping or a list of mappings");
        } else {
            rv = fail(L, m, "%s", "a merge key (<<) takes a mapping or a list of mappings");
        }
        json_decref(v);
    } else if (json_object_set_new(f->node, f->key, v) != 0) {
        rv = err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    }
    free(f->key);
    f->key = NULL;
    f->key_merge = false;
    return rv;
}

static int start_container(struct loader *L, const yaml_event_t *ev, bool is_map)
{
    const char *anchor =
        (const char *)(is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
    struct frame *f;
    if (L->depth > 0 && L->stack[L->depth - 1].is_map && L->stack[L->depth - 1].key == NULL)
        return fail(L, ev->start_mark, "%s",
                    "a mapping key must be a scalar, not a mapping or sequence");
    if (L->depth == DEPTH_MAX)
        return fail(L, ev->start_mark, "nesting deeper than %s levels", "256");
    f = &L->stack[L->depth++];
    memset(f, 0, sizeof *f);
    f->is_map = is_map;
    f->node = is_map ? json_object() : json_array();
    f->seen = is_map ? json_object() : NULL;
    f->merges = is_map ? json_array() : NULL;
    f->anchor = anchor ? strdup(anchor) : NULL;
    f->nodes_at_start = L->nodes++;
    if (f->node == NULL || (is_map && (f->seen == NULL || f->merges == NULL)) ||
        (anchor && f->anchor == NULL))
        return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    return 0;
}

static int end_container(struct loader *L, yaml_mark_t m)
{
    struct frame *f = &L->stack[L->depth - 1];
    json_t *node = f->node, *src;
    size_t i;
    int rv;
    if (f->is_map) {
        json_array_foreach (f->merges, i, src) {
            const char *k;
            json_t *v;
            json_object_foreach (src, k, v) {
                if (json_object_get(node, k) == NULL)
                    json_object_set(node, k, v);
            }
        }
    }
    rv = remember_anchor(L, f->anchor, node, L->nodes - f->nodes_at_start);
    f->node = NULL;
    frame_free(f);
    L->depth--;
    if (rv != 0) {
        json_decref(node);
        return rv;
    }
    return add_value(L, node, false, m);
}

/* Aliases copy their anchor's value. Each copy counts its nodes, so a
 * "billion laughs" document stops at CLI_YAML_ALIAS_NODES_MAX instead of
 * eating memory; plain documents are bounded by their own size. */
static int alias(struct loader *L, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    json_t *a = json_object_get(L->anchors, name), *copy;
    size_t n;
    if (a == NULL)
        return fail(L, ev->start_mark, "unknown anchor *%s", name);
    n = (size_t)json_integer_value(json_object_get(a, "n"));
    L->expanded += n;
    L->nodes += n;
    if (L->expanded > CLI_YAML_ALIAS_NODES_MAX)
        return fail(L, ev->start_mark,
                    "aliases expand to too many nodes (more than %s): refusing the document",
                    "100000");
    copy = json_deep_copy(json_object_get(a, "v"));
    return add_value(L, copy, false, ev->start_mark);
}

static int scalar(struct loader *L, const yaml_event_t *ev)
{
    json_t *v;
    const char *anchor = (const char *)ev->data.scalar.anchor;
    bool merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL &&
                 strcmp((const char *)ev->data.scalar.value, "<<") == 0;
    int rv;
    if (merge)
        v = json_string("<<");
    else if ((rv = scalar_value(L, ev, &v)) != 0)
        return rv;
    L->nodes++;
    if (anchor != NULL && (rv = remember_anchor(L, anchor, v, 1)) != 0) {
        json_decref(v);
        return rv;
    }
    return add_value(L, v, merge, ev->start_mark);
}

static int syntax_error(struct loader *L, yaml_parser_t *p)
{
    return err_setf(L->e, ERR_INVALID, "%s:%zu:%zu: %s%s%s", L->name, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, p->problem ? p->problem : "invalid YAML",
                    p->context ? " " : "", p->context ? p->context : "");
}

static int append_doc(struct loader *L, json_t *docs, json_t *lines, size_t line)
{
    json_t *root = L->root;
    L->root = NULL;
    if (root == NULL || json_is_null(root)) { /* empty documents are skipped */
        json_decref(root);
        return 0;
    }
    if (json_array_append_new(docs, root) != 0 ||
        (lines != NULL && json_array_append_new(lines, json_integer((json_int_t)line)) != 0))
        return err_setf(L->e, ERR_NOMEM, "%s: out of memory", L->name);
    return 0;
}

static int run(struct loader *L, yaml_parser_t *p, json_t *docs, json_t *lines)
{
    yaml_event_t ev;
    size_t doc_line = 0;
    bool first_node = false;
    int rv = 0;
    for (;;) {
        if (!yaml_parser_parse(p, &ev))
            return syntax_error(L, p);
        if (first_node &&
            (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT ||
             ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)) {
            doc_line = ev.start_mark.line + 1;
            first_node = false;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            first_node = true;
            /* anchors are scoped to their document */
            json_object_clear(L->anchors);
            break;
        case YAML_DOCUMENT_END_EVENT:
            rv = append_doc(L, docs, lines, doc_line);
            break;
        case YAML_SCALAR_EVENT:
            rv = scalar(L, &ev);
            break;
        case YAML_ALIAS_EVENT:
            rv = alias(L, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rv = start_container(L, &ev, false);
            break;
        case YAML_MAPPING_START_EVENT:
            rv = start_container(L, &ev, true);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rv = end_container(L, ev.start_mark);
            break;
        default:
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        yaml_event_delete(&ev);
        if (rv != 0)
            return rv;
    }
}

int cli_yaml_load_lines(const char *name, const char *text, size_t len, json_t **docs,
                        json_t **lines, struct err *e)
{
    struct loader *L = calloc(1, sizeof *L);
    yaml_parser_t p;
    json_t *d = json_array(), *l = lines ? json_array() : NULL;
    int rv;

    *docs = NULL;
    if (lines != NULL)
        *lines = NULL;
    if (L == NULL || d == NULL || (lines != NULL && l == NULL) ||
        (L->anchors = json_object()) == NULL || !yaml_parser_initialize(&p)) {
        if (L != NULL)
            json_decref(L->anchors);
        free(L);
        json_decref(d);
        json_decref(l);
        return err_setf(e, ERR_NOMEM, "%s: out of memory", name);
    }
    L->name = name;
    L->e = e;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    rv = run(L, &p, d, l);
    yaml_parser_delete(&p);
    while (L->depth > 0)
        frame_free(&L->stack[--L->depth]);
    json_decref(L->root);
    json_decref(L->anchors);
    free(L);
    if (rv != 0) {
        json_decref(d);
        json_decref(l);
        return rv;
    }
    *docs = d;
    if (lines != NULL)
        *lines = l;
    return 0;
}

int cli_yaml_load(const char *name, const char *text, size_t len, json_t **docs, struct err *e)
{
    return cli_yaml_load_lines(name, text, len, docs, NULL, e);
}

/* ---- writing ---- */

/* YAML 1.1 timestamps (2006-1-2, 2006-01-02T15:04:05Z): go-yaml reads them
 * as times, so kubectl quotes creationTimestamp; so do we. */
static bool timestamp_shaped(const char *s)
{
    size_t n = strspn(s, "0123456789"), m;
    if (n != 4 || s[4] != '-')
        return false;
    s += 5;
    m = strspn(s, "0123456789");
    if (m < 1 || m > 2 || s[m] != '-')
        return false;
    s += m + 1;
    m = strspn(s, "0123456789");
    return m >= 1 && m <= 2 && (s[m] == '\0' || s[m] == 'T' || s[m] == 't' || s[m] == ' ');
}

/* Would a YAML reader (1.2 core, or 1.1 as go-yaml and PyYAML are) take
 * this plain text for something other than a string? Then it gets quotes,
 * as kubectl quotes "true", "123" and "" in -o yaml. */
static bool needs_quotes(const char *s)
{
    static const char *const yaml11[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no", "No",
                                         "NO", "on", "On",  "ON",  "off", "Off", "OFF", "=",  "<<"};
    char stripped[64];
    size_t i, j = 0;
    long long v;
    if (is_null_word(s) || bool_word(s) >= 0 || int_word(s, &v) != 0 || float_shaped(s) ||
        inf_nan_word(s))
        return true;
    for (i = 0; i < sizeof yaml11 / sizeof yaml11[0]; i++)
        if (strcmp(s, yaml11[i]) == 0)
            return true;
    if (timestamp_shaped(s))
        return true;
    /* YAML 1.1 numbers: 1_000, 0b101, 1:30 (sexagesimal) */
    if (strlen(s) >= sizeof stripped ||
        !((s[0] >= '0' && s[0] <= '9') ||
          ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s[1] >= '0' && s[1] <= '9')))
        return false;
    for (i = 0; s[i] != '\0'; i++)
        if (s[i] != '_')
            stripped[j++] = s[i];
    stripped[j] = '\0';
    if (int_word(stripped, &v) != 0 || float_shaped(stripped))
        return true;
    if (stripped[0] == '0' && stripped[1] == 'b' && all_in(stripped + 2, "01"))
        return true;
    return all_in(stripped, "+-0123456789:.") && strchr(stripped, ':') != NULL;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev, int ok)
{
    /* yaml_emitter_emit takes the event, whether it succeeds or not */
    if (!ok)
        return 0;
    return yaml_emitter_emit(em, ev);
}

static int emit_string(yaml_emitter_t *em, const char *s, size_t len)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
    if (memchr(s, '\n', len) != NULL)
        style = YAML_LITERAL_SCALAR_STYLE; /* libyaml falls back to quotes when it must */
    else if (strlen(s) != len || needs_quotes(s))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style) &&
           emit(em, &ev, 1);
}

static void format_real(double d, char *buf, size_t size)
{
    int prec;
    for (prec = 15; prec <= 17; prec++) { /* the shortest text that reads back the same */
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (strpbrk(buf, ".eE") == NULL && strlen(buf) + 3 <= size)
        memcpy(buf + strlen(buf), ".0", 3); /* stays a float when read back */
}

static int emit_node(yaml_emitter_t *em, const json_t *j, size_t depth)
{
    yaml_event_t ev;
    char buf[64];
    const char *k, *text;
    json_t *v;
    size_t i;
    if (depth > DEPTH_MAX)
        return 0;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !emit(em, &ev, 1))
            return 0;
        json_object_foreach ((json_t *)j, k, v) {
            if (!emit_string(em, k, strlen(k)) || !emit_node(em, v, depth + 1))
                return 0;
        }
        return yaml_mapping_end_event_initialize(&ev) && emit(em, &ev, 1);
    case JSON_ARRAY:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !emit(em, &ev, 1))
            return 0;
        json_array_foreach (j, i, v) {
            if (!emit_node(em, v, depth + 1))
                return 0;
        }
        return yaml_sequence_end_event_initialize(&ev) && emit(em, &ev, 1);
    case JSON_STRING:
        return emit_string(em, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        text = buf;
        break;
    case JSON_REAL:
        format_real(json_real_value(j), buf, sizeof buf);
        text = buf;
        break;
    case JSON_TRUE:
        text = "true";
        break;
    case JSON_FALSE:
        text = "false";
        break;
    default:
        text = "null";
        break;
    }
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, -1, 1, 1,
                                        YAML_PLAIN_SCALAR_STYLE) &&
           emit(em, &ev, 1);
}

int cli_yaml_dump(const json_t *j, FILE *out, struct err *e)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    int ok;
    if (!yaml_emitter_initialize(&em))
        return err_setf(e, ERR_NOMEM, "yaml: out of memory");
    yaml_emitter_set_output_file(&em, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold long lines (certificates, base64) */
    yaml_emitter_set_indent(&em, 2);
    ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && emit(&em, &ev, 1);
    ok = ok && yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && emit(&em, &ev, 1);
    ok = ok && emit_node(&em, j, 0);
    ok = ok && yaml_document_end_event_initialize(&ev, 1) && emit(&em, &ev, 1);
    ok = ok && yaml_stream_end_event_initialize(&ev) && emit(&em, &ev, 1);
    if (!ok) {
        int rv = err_setf(e, em.error == YAML_MEMORY_ERROR ? ERR_NOMEM : ERR_IO, "yaml: %s",
                          em.problem ? em.problem : "cannot write (too deep or output failed)");
        yaml_emitter_delete(&em);
        return rv;
    }
    yaml_emitter_delete(&em);
    return 0;
}
